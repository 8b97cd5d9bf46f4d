#!/bin/sh
# GNU option forms in every command but detect/score (src/cli/args.c): --opt=VALUE, -kVALUE,
# options after operands, "--" before operands; a flag given a value and unknown options fail.
set -e
D=$BUILD/cli_args; mkdir -p $D
M=models/synth_xl.safetensors
fail() { echo "FAIL: $*"; exit 1; }
$XT make-image --size=128x128 --bands=3 $D/a.tif
$XT info $D/a.tif | grep -q "size: *128 x 128" || fail "make-image --size=128x128"
# the same result in the classic, the GNU and the options-last forms
$XT classify -m $M -k 1 -t 1 --json -q $D/a.tif > $D/c1.json
$XT classify --model=$M -k1 -t1 --json -q $D/a.tif > $D/c2.json
$XT classify $D/a.tif --json -q --model $M --top=1 --threads=1 > $D/c3.json
$XT classify -t1 -q --json -k1 -m$M -- $D/a.tif > $D/c4.json
for f in c2 c3 c4; do
    [ "$(grep '"logits"' $D/c1.json)" = "$(grep '"logits"' $D/$f.json)" ] || fail "$f logits differ"
    [ "$(grep -o '"class":' $D/$f.json | wc -l)" = 1 ] || fail "$f: -k1 / --top=1"
done
# embed: -o=, --output=, options last
$XT embed $D/a.tif --output=$D/e.tif -t1 -q --model=$M
$XT info $D/e.tif | grep -q "size: *4 x 4" || fail "embed --output="
# info: options after the file; --json is one line; unknown options are refused, not ignored
[ "$($XT info $D/a.tif --json | wc -l)" = 1 ] || fail "info FILE --json"
$XT info $D/a.tif --json | grep -q '"width": 128, "height": 128, "bands": 3' || fail "info --json fields"
$XT info --json $M | grep -q '"kind": "model"' || fail "info --json of a model"
if $XT info $D/a.tif --nope 2> $D/e1; then fail "info ignored an unknown option"; fi
grep -q "unknown option --nope" $D/e1 || fail "info: $(cat $D/e1)"
# a flag given a value is an error
if $XT classify --json=1 -m $M $D/a.tif 2> $D/e2; then fail "--json=1 accepted"; fi
grep -q "option --json takes no value" $D/e2 || fail "--json=1: $(cat $D/e2)"
# verify, eval, train take the forms too
$XT verify tests/golden/xt_cls_naive.safetensors -q -t1 > $D/v.txt || fail "verify FILE -q -t1: $(tail -3 $D/v.txt)"
printf '{"model": {"kind": "xt", "cls_head": "naive", "crop_size": 32, "num_classes": 2, "swin": {"embed_dim": 8, "depths": [1, 1], "num_heads": [1, 2], "window_size": 4}}, "train": {"img_size": 32, "batch": 2, "steps": 2}}' > $D/cfg.json
$XT train -c$D/cfg.json --data=synth:4:1 --threads=1 --quiet -o$D/t.safetensors > $D/t.txt || fail "train GNU forms: $(cat $D/t.txt)"
grep -q "trained 2 steps" $D/t.txt || fail "train summary"
$XT eval --model=$D/t.safetensors --data=synth:4:1 -t1 -q > $D/ev.txt || fail "eval GNU forms"
grep -q "4 images, top-1" $D/ev.txt || fail "eval summary: $(cat $D/ev.txt)"
echo ok
