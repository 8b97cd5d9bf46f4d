#!/bin/sh
# Hostile model files through `xt verify` end to end: each corruption of a valid Swin V2 region
# file, and of an xT classifier with a Swin V2 encoder, must give a clear message naming the
# problem and a non-zero exit (never a crash), and name the file exactly once (docs/design.md,
# "Errors": each level adds its own context once).
# Base files: tests/ref/swinv2_odd_b3.safetensors and tests/ref/xt_naive_pad.safetensors (compact
# JSON headers written by tools/gen_ref_swin.py / gen_ref_xt.py).
set -u
D=$BUILD/swin_bad
mkdir -p "$D"
fail=0

# u64le N: 8 little-endian bytes
u64le() {
    v=$1; i=0
    while [ $i -lt 8 ]; do printf "\\$(printf %03o $((v % 256)))"; v=$((v / 256)); i=$((i + 1)); done
}
# base FILE: split FILE into $D/header and $D/data (n: header length, size: file size)
base() {
    SRC=$1
    n=$(od -An -tu8 -N8 "$SRC" | tr -d ' ')
    size=$(wc -c < "$SRC")
    dd if="$SRC" of="$D/header" bs=1 skip=8 count="$n" 2>/dev/null
    tail -c +$((n + 9)) "$SRC" > "$D/data"
}
# mk NAME SED_EXPR: the base file with its header edited (length prefix rewritten)
mk() {
    sed "$2" "$D/header" | tr -d '\n' > "$D/h.$1"
    if cmp -s "$D/h.$1" "$D/header"; then echo "test bug: edit '$2' changed nothing"; fail=1; fi
    { u64le $(wc -c < "$D/h.$1"); cat "$D/h.$1" "$D/data"; } > "$D/$1.safetensors"
}
# expect NAME PATTERN: verify must exit non-zero, print PATTERN, name the file exactly once, and
# not crash (exit < 128)
expect() {
    $XT verify "$D/$1.safetensors" > "$D/$1.out" 2> "$D/$1.err"
    rc=$?
    names=$(grep -o -F "$D/$1.safetensors" "$D/$1.err" | wc -l)
    if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "FAIL $1: exit $rc"; fail=1
    elif ! grep -q -- "$2" "$D/$1.err"; then echo "FAIL $1: no '$2' in: $(cat "$D/$1.err")"; fail=1
    elif [ "$names" -ne 1 ]; then echo "FAIL $1: the file is named $names times in: $(cat "$D/$1.err")"; fail=1
    else echo "ok   $1: $(cat "$D/$1.err")"; fi
}

base tests/ref/swinv2_odd_b3.safetensors
# control: the unmodified file (rebuilt through the same path) passes
{ u64le "$n"; cat "$D/header" "$D/data"; } > "$D/control.safetensors"
$XT verify -q "$D/control.safetensors" > /dev/null || { echo "FAIL control"; fail=1; }

head -c $((size / 2)) "$SRC" > "$D/truncated.safetensors";            expect truncated "^xt: safetensors: $D/truncated.safetensors: tensor 'model\..*': data_offsets \[.*\] outside the data area"
head -c 5 "$SRC" > "$D/tiny.safetensors";                              expect tiny "^xt: safetensors: $D/tiny.safetensors: file too short (5 bytes)"
{ u64le $((size)); cat "$D/header" "$D/data"; } > "$D/hlen.safetensors"; expect hlen "^xt: safetensors: $D/hlen.safetensors: header length $size runs past the end"
{ u64le "$n"; sed 's/^{/[/' "$D/header"; cat "$D/data"; } > "$D/badjson.safetensors"; expect badjson "^xt: safetensors: $D/badjson.safetensors: json: header: expected ',' or ']' at byte 15$"
mk offsets 's/"data_offsets":\[0,768\]/"data_offsets":[900000000,900000768]/'; expect offsets "outside the data area"
mk span 's/"data_offsets":\[0,768\]/"data_offsets":[0,772]/';                 expect span "needs 768"
mk shape 's/"shape":\[12,1,4,4\]/"shape":[12,1,2,8]/';                         expect shape "patch_embed.proj.weight' has shape (12, 1, 2, 8)"
mk missing 's/model\.layers_1\.blocks\.2\.mlp\.fc1\.bias/model.layers_1.blocks.2.mlp.fc1.bia_/'; expect missing "^xt: swinv2: safetensors: $D/missing.safetensors: tensor 'model.layers_1.blocks.2.mlp.fc1.bias' not found$"
mk dtype 's/"model\.patch_embed\.proj\.bias":{"dtype":"F32"/"model.patch_embed.proj.bias":{"dtype":"I32"/'; expect dtype "unsupported dtype 'I32'"
mk config 's/"embed_dim\\": 12/"embed_dim\\": 24/';                          expect config "has shape (12, 1, 4, 4), the model config needs (24, 1, 4, 4)"
mk heads 's/"num_heads\\": \[3, 6, 12, 12\]/"num_heads\\": [5, 6, 12, 12]/';  expect heads "^xt: $D/heads.safetensors: swinv2: config: stage 0: 12 channels cannot be split into 5 heads$"
mk window 's/"window_size\\": 6/"window_size\\": 5/';                        expect window "^xt: $D/window.safetensors: swinv2: image size 96: stage 0 side 24 is not a multiple of window_size 5$"
# NaN in the first weight (patch_embed.proj.weight starts the data area)
{ u64le "$n"; cat "$D/header"; printf '\000\000\300\177'; tail -c +5 "$D/data"; } > "$D/nan.safetensors"
expect nan "non-finite"
mk wintype 's/"window_size\\": 6/"window_size\\": \\"x\\"/'; expect wintype "^xt: $D/wintype.safetensors: swinv2: config: 'window_size' must be a number$"

# an xT classifier: its own config, its encoder's config, a truncated file
base tests/ref/xt_naive_pad.safetensors
mk xtcrop 's/"crop_size\\": 64/"crop_size\\": \\"x\\"/';       expect xtcrop "^xt: $D/xtcrop.safetensors: config: 'crop_size' must be a number$"
mk xtwindow 's/"window_size\\": 16/"window_size\\": \\"x\\"/'; expect xtwindow "^xt: $D/xtwindow.safetensors: swinv2: config: 'window_size' must be a number$"
mk xtheads 's/"num_heads\\": \[1, 1, 2, 4\]/"num_heads\\": [3, 1, 2, 4]/'; expect xtheads "^xt: $D/xtheads.safetensors: swinv2: config: stage 0: 8 channels cannot be split into 3 heads$"
mk xtmissing 's/"encoder\.model\.layers_1\.downsample\.reduction\.weight"/"encoder.model.layers_1.downsample.reduction.weigh_"/'
expect xtmissing "^xt: swinv2: safetensors: $D/xtmissing.safetensors: tensor 'encoder.model.layers_1.downsample.reduction.weight' not found$"
head -c $((size / 2)) "$SRC" > "$D/xttruncated.safetensors"; expect xttruncated "^xt: safetensors: $D/xttruncated.safetensors: tensor '.*': data_offsets \[.*\] outside the data area"
exit $fail
