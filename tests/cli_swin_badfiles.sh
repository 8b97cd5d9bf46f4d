#!/bin/sh
# Hostile model files through `xt verify` end to end: each corruption of a valid Swin V2 region
# file must give a clear message naming the problem and a non-zero exit (never a crash).
# Base file: tests/ref/swinv2_odd_b3.safetensors (compact JSON header written by tools/gen_ref_swin.py).
set -u
SRC=tests/ref/swinv2_odd_b3.safetensors
D=$BUILD/swin_bad
mkdir -p "$D"
fail=0
n=$(od -An -tu8 -N8 "$SRC" | tr -d ' ')
size=$(wc -c < "$SRC")
dd if="$SRC" of="$D/header" bs=1 skip=8 count="$n" 2>/dev/null
tail -c +$((n + 9)) "$SRC" > "$D/data"

# u64le N: 8 little-endian bytes
u64le() {
    v=$1; i=0
    while [ $i -lt 8 ]; do printf "\\$(printf %03o $((v % 256)))"; v=$((v / 256)); i=$((i + 1)); done
}
# mk NAME SED_EXPR: the base file with its header edited (length prefix rewritten)
mk() {
    sed "$2" "$D/header" | tr -d '\n' > "$D/h.$1"
    if cmp -s "$D/h.$1" "$D/header"; then echo "test bug: edit '$2' changed nothing"; fail=1; fi
    { u64le $(wc -c < "$D/h.$1"); cat "$D/h.$1" "$D/data"; } > "$D/$1.safetensors"
}
# expect NAME PATTERN: verify must exit non-zero, print PATTERN, and not crash (exit < 128)
expect() {
    $XT verify "$D/$1.safetensors" > "$D/$1.out" 2> "$D/$1.err"
    rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "FAIL $1: exit $rc"; fail=1
    elif ! grep -q -- "$2" "$D/$1.err"; then echo "FAIL $1: no '$2' in: $(cat "$D/$1.err")"; fail=1
    else echo "ok   $1: $(cat "$D/$1.err")"; fi
}

# control: the unmodified file (rebuilt through the same path) passes
{ u64le "$n"; cat "$D/header" "$D/data"; } > "$D/control.safetensors"
$XT verify -q "$D/control.safetensors" > /dev/null || { echo "FAIL control"; fail=1; }

head -c $((size / 2)) "$SRC" > "$D/truncated.safetensors";            expect truncated "outside the data area"
head -c 5 "$SRC" > "$D/tiny.safetensors";                              expect tiny "too short"
{ u64le $((size)); cat "$D/header" "$D/data"; } > "$D/hlen.safetensors"; expect hlen "past the end"
{ u64le "$n"; sed 's/^{/[/' "$D/header"; cat "$D/data"; } > "$D/badjson.safetensors"; expect badjson "safetensors"
mk offsets 's/"data_offsets":\[0,768\]/"data_offsets":[900000000,900000768]/'; expect offsets "outside the data area"
mk span 's/"data_offsets":\[0,768\]/"data_offsets":[0,772]/';                 expect span "needs 768"
mk shape 's/"shape":\[12,1,4,4\]/"shape":[12,1,2,8]/';                         expect shape "patch_embed.proj.weight' has shape (12, 1, 2, 8)"
mk missing 's/model\.layers_1\.blocks\.2\.mlp\.fc1\.bias/model.layers_1.blocks.2.mlp.fc1.bia_/'; expect missing "layers_1.blocks.2.mlp.fc1.bias' not found"
mk dtype 's/"model\.patch_embed\.proj\.bias":{"dtype":"F32"/"model.patch_embed.proj.bias":{"dtype":"I32"/'; expect dtype "unsupported dtype 'I32'"
mk config 's/"embed_dim\\": 12/"embed_dim\\": 24/';                          expect config "has shape (12, 1, 4, 4), the model config needs (24, 1, 4, 4)"
mk heads 's/"num_heads\\": \[3, 6, 12, 12\]/"num_heads\\": [5, 6, 12, 12]/';  expect heads "cannot be split into 5 heads"
mk window 's/"window_size\\": 6/"window_size\\": 5/';                        expect window "not a multiple of window_size 5"
# NaN in the first weight (patch_embed.proj.weight starts the data area)
{ u64le "$n"; cat "$D/header"; printf '\000\000\300\177'; tail -c +5 "$D/data"; } > "$D/nan.safetensors"
expect nan "non-finite"
exit $fail
