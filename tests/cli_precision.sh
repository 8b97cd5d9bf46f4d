#!/bin/sh
# Reduced precision (issue 11): --precision bf16 and int8 through `xt verify` on the committed
# golden copies, each held to its documented tolerance (docs/performance.md, "Reduced precision"); `xt convert
# --dtype bf16` files (size, outputs within the bf16 tolerance of f32, used by both precisions);
# --precision on classify / embed / detect / eval; and the errors: an unknown precision, a
# gradient file, a bad config value, a corrupt or mismatched BF16 tensor.
set -u
G=${XT_GOLDEN:-tests/golden}
T=$BUILD/cli_precision
rm -rf "$T"; mkdir -p "$T"
bad=0
fail() { echo "FAIL: $*"; bad=1; }
# expect_err NAME PATTERN CMD...: CMD must exit 1..127 and print PATTERN on stderr
expect_err() {
    name=$1 pat=$2; shift 2
    "$@" > "$T/$name.out" 2> "$T/$name.err"; rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then fail "$name: exit $rc"
    elif ! grep -q -- "$pat" "$T/$name.err"; then fail "$name: no '$pat' in: $(cat "$T/$name.err")"
    else echo "ok   $name: $(head -1 "$T/$name.err")"; fi
}

# ---- errors that need no bf16 CPU
expect_err unknown "precision: 'int4' is not a precision (f32, bf16 or int8)" $XT verify --precision int4 $G/swinv2_region_256.safetensors
expect_err unknown_classify "'fp16' is not a precision" $XT classify -m models/synth_xl.safetensors --precision=fp16 x.tif
expect_err grad "training gradients (float32 only)" $XT verify --precision bf16 $G/xt_cls_xl_grad.safetensors
expect_err eval "'f16' is not a precision" $XT eval -m models/synth_xl.safetensors --data synth:2 --precision f16
expect_err cfg_bad "\"precision\" must be a string" sh -c "python3 - $G/swinv2_region_256.safetensors $T/badcfg.safetensors <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); c = json.loads(h['__metadata__']['config']); c['precision'] = 16
h['__metadata__']['config'] = json.dumps(c)
hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8 + n:])
PY
$XT verify $T/badcfg.safetensors"

if ! $XT --version | grep -q "bf16 matmuls (--precision bf16): native"; then
    expect_err nocpu "need a CPU with AVX512-BF16" $XT verify --precision bf16 $G/swinv2_region_256.safetensors
    echo "skip: this CPU has no native bf16 matmuls (xt --version); the accuracy checks need one"
    exit $bad
fi

# ---- golden files at their tolerances (max|d| / max(1, max|ref|) on every tensor; measured worst
# in docs/performance.md, about half of each bound). xt_cls_hyper_long: HyperAttention's LSH bucket
# ids are discrete and bf16 moves tokens across bucket borders (ids off by up to 24), so those two
# tensors may fail and the sampled attention after them moves by up to 9 %; its logits still pass 3e-2.
for ft in swinv2_region_256:3e-2 swinv2_region_512:4e-2 hiera_region:2e-2 convnext_region:1e-2 xt_cls_naive:2e-2 xt_cls_xl:5e-2 xt_cls_hyper:5e-2 \
          xt_cls_mamba:3e-2 xt_cls_xl_incontext:2e-2 xview_seg:5e-2 xview_seg_xl:3e-2 xt_cls_hyper_long:1e-1; do
    f=${ft%%:*} tol=${ft#*:}
    $XT verify -t 2 --precision bf16 --tol $tol $G/$f.safetensors > $T/$f.log 2>&1; rc=$?
    if [ $f = xt_cls_hyper_long ]; then
        others=$(grep FAIL $T/$f.log | grep -v "lsh.hash.call" | wc -l)
        lg=$(awk '$1 == "logits" { print ($3 <= 3e-2 * $5) }' $T/$f.log)
        [ "$others" -eq 0 ] && [ "$lg" = 1 ] || fail "$f: $(cat $T/$f.log)"
    elif [ $rc -ne 0 ]; then fail "$f at $tol: $(grep -E 'FAIL|passed' $T/$f.log)"
    fi
    grep "worst" $T/$f.log | grep -q "precision bf16" || fail "$f: no summary line"
    echo "ok   $f bf16 (tolerance $tol): $(grep worst $T/$f.log | sed 's/.*: worst/worst/')"
    # bf16 really ran: the f32 run is 1e-4-exact, bf16 is not
    grep -q "max|d| 0.000e+00" $T/$f.log && [ $f != xt_cls_hyper_long ] && grep -q "^logits.*max|d| 0.000e+00" $T/$f.log && fail "$f: logits identical to f32"
done
# ---- int8 (Swin V2 only: per-channel weight scales, per-token activation scales) at its bounds,
# about twice the measured worst (docs/performance.md); xt_cls_hyper_long: the logits only
expect_err int8_hiera "hiera: precision int8 is not supported by this encoder" $XT verify --precision int8 $G/hiera_region.safetensors
for ft in swinv2_region_256:1.2e-1 swinv2_region_512:1.3e-1 xt_cls_naive:5e-2 xt_cls_xl:2e-1 xt_cls_hyper:1.6e-1 \
          xt_cls_mamba:1e-1 xt_cls_xl_incontext:7e-2 xview_seg:1.5e-1 xview_seg_xl:1.3e-1; do
    f=${ft%%:*} tol=${ft#*:}
    $XT verify -t 2 -q --precision int8 --tol $tol $G/$f.safetensors > $T/$f.i8.log 2>&1 || fail "$f int8 at $tol: $(cat $T/$f.i8.log)"
    echo "ok   $f int8 (tolerance $tol): $(grep worst $T/$f.i8.log | sed 's/.*: worst/worst/')"
done
$XT verify -t 2 --precision int8 --tol 0.5 $G/xt_cls_hyper_long.safetensors > $T/hl.i8.log 2>&1
[ "$(awk '$1 == "logits" { print ($3 <= 1.2e-1 * $5) }' $T/hl.i8.log)" = 1 ] || fail "xt_cls_hyper_long int8 logits: $(grep '^logits' $T/hl.i8.log)"

# ---- xt eval in bf16 / int8 runs the inference model: the shipped model stays at 100 % held out
for p in bf16 int8; do
    $XT eval -m models/synth_xl.safetensors --data synth:100:3 --precision $p -t 2 -q --json > $T/eval.$p.json 2>&1 ||
        fail "eval --precision $p: $(cat $T/eval.$p.json)"
    grep -q '"images": 100, "classes": 2, "img_size": 128, "whole": false, "top1": 1,' $T/eval.$p.json || fail "eval $p: $(cat $T/eval.$p.json)"
done

# ---- xt convert --dtype bf16
$XT convert models/synth_xl.safetensors --dtype bf16 -o $T/s16.safetensors > $T/conv.log 2>&1 || fail "convert: $(cat $T/conv.log)"
grep -q "104 tensors, 25 of them bf16" $T/conv.log || fail "convert summary: $(cat $T/conv.log)"
a=$(wc -c < models/synth_xl.safetensors) b=$(wc -c < $T/s16.safetensors)
# synth_xl is tiny (width 16): its kept-f32 qkv, biases and norms are a large share; Swin V2-T: 0.63
[ $((b * 100 / a)) -le 65 ] || fail "bf16 file is $b bytes of $a"
echo "ok   convert --dtype bf16: $b of $a bytes ($((b * 100 / a)) %)"
python3 - $T/s16.safetensors <<'PY' || fail "BF16 tensors not as documented"
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
bf = [k for k, v in h.items() if k != '__metadata__' and v['dtype'] == 'BF16']
f32 = [k for k, v in h.items() if k != '__metadata__' and v['dtype'] == 'F32']
assert all(k.endswith('.weight') and len(h[k]['shape']) >= 2 for k in bf), bf
assert not any('qkv' in k or 'cpb_mlp' in k or 'patch_embed' in k for k in bf)
assert 'encoder.model.layers_0.blocks.0.mlp.fc1.weight' in bf and 'decoder.input_proj.weight' in bf
# F32 data first: every F32 tensor 4-byte aligned in the file
assert all((8 + n + h[k]['data_offsets'][0]) % 4 == 0 for k in f32)
print('bf16 tensors:', len(bf), 'f32:', len(f32))
PY
$XT make-image $T/s.tif --size 384x320 > /dev/null
for m in models/synth_xl.safetensors:f32 models/synth_xl.safetensors:bf16 $T/s16.safetensors:f32 $T/s16.safetensors:bf16 \
         models/synth_xl.safetensors:int8; do
    $XT classify -q -t 2 -m ${m%:*} --precision ${m#*:} --json $T/s.tif > $T/c.$(basename ${m%:*}).${m#*:}.json || fail "classify $m"
done
python3 - $T/c.synth_xl.safetensors.f32.json $T/c.synth_xl.safetensors.bf16.json $T/c.s16.safetensors.f32.json $T/c.s16.safetensors.bf16.json \
          $T/c.synth_xl.safetensors.int8.json <<'PY' || fail "classify logits outside the bf16 / int8 tolerance"
import json, sys
r = [json.load(open(p))['logits'] for p in sys.argv[1:]]
scale = max(1.0, max(abs(x) for x in r[0]))
for name, o, tol in zip(['bf16 matmuls', 'bf16 file, f32', 'bf16 file, bf16', 'int8 matmuls'], r[1:], [3e-2] * 3 + [1e-1]):
    d = max(abs(a - b) for a, b in zip(o, r[0]))
    print('%-16s max|d logits| %.2e (scale %.2f)' % (name, d, scale))
    assert 0 < d <= tol * scale
    assert max(range(len(o)), key=o.__getitem__) == max(range(len(r[0])), key=r[0].__getitem__)
PY
# a golden file converted: its input/expected stay F32; verify at the bf16 tolerances in both precisions
$XT convert $G/swinv2_region_256.safetensors --dtype bf16 -o $T/g16.safetensors -q || fail "convert golden"
for p in f32 bf16; do
    $XT verify -t 2 -q --precision $p --tol 3e-2 $T/g16.safetensors > $T/g16.$p.log 2>&1 || fail "bf16 golden copy, $p: $(cat $T/g16.$p.log)"
done
$XT embed -q -t 2 -m $T/s16.safetensors --precision bf16 $T/s.tif -o $T/e.tif > /dev/null 2>&1 || fail "embed --precision bf16"
$XT make-image $T/sar.tif --size 200x150 --sar > /dev/null
$XT detect -q -t 2 -m $G/xview_seg_xl.safetensors --precision bf16 $T/sar.tif -o $T/det > $T/det.log 2>&1 && [ -s $T/det/sar.csv ] ||
    fail "detect --precision bf16: $(cat $T/det.log)"
expect_err detect_bad "'fp8' is not a precision" $XT detect -m $G/xview_seg_xl.safetensors --precision fp8 $T/sar.tif -o $T/det

# ---- corrupt and mismatched BF16 tensors
python3 - $T/s16.safetensors $T <<'PY'
import json, struct, sys
src, d = sys.argv[1], sys.argv[2]
b = open(src, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
k = 'encoder.model.layers_1.blocks.0.mlp.fc2.weight'
assert h[k]['dtype'] == 'BF16'
nan = bytearray(b); o = 8 + n + h[k]['data_offsets'][0] + 2 * 5
nan[o:o + 2] = struct.pack('<H', 0x7fc0)
open(d + '/nan.safetensors', 'wb').write(nan)
def rewrite(h2, name):
    hb = json.dumps(h2).encode(); hb += b' ' * (-len(hb) % 8)
    open(d + '/' + name, 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8 + n:])
h2 = json.loads(b[8:8 + n]); h2[k]['dtype'] = 'F32'; rewrite(h2, 'span.safetensors')     # BF16 bytes read as F32
h3 = json.loads(b[8:8 + n]); h3[k]['shape'] = [h3[k]['shape'][1], h3[k]['shape'][0]]; rewrite(h3, 'shape.safetensors')
PY
expect_err bf16_nan_file "nan.safetensors: tensor 'encoder.model.layers_1.blocks.0.mlp.fc2.weight' holds a non-finite value" \
    $XT classify -m $T/nan.safetensors --precision bf16 $T/s.tif
expect_err bf16_span "tensor 'encoder.model.layers_1.blocks.0.mlp.fc2.weight': data_offsets span" \
    $XT classify -m $T/span.safetensors --precision bf16 $T/s.tif
expect_err bf16_shape "tensor 'encoder.model.layers_1.blocks.0.mlp.fc2.weight' has shape (128, 32), the model config needs (32, 128)" \
    $XT classify -m $T/shape.safetensors --precision bf16 $T/s.tif
expect_err bf16_shape_f32 "has shape (128, 32), the model config needs (32, 128)" \
    $XT classify -m $T/shape.safetensors --precision f32 $T/s.tif
[ $bad -eq 0 ] && echo "cli_precision: all passed"
exit $bad
