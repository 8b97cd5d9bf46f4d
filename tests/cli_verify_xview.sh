#!/bin/sh
# xt verify on the golden xView3 dense-model files (kind "xview"): every expected tensor computed
# and within 1e-4 x max(1, max|ref|) — the encoder's five levels, the context model per tile with
# its cord, the decoder, the four output maps, the official tile loop's pasted scene, the direct
# whole-image call (chipping) and the memfix variant's carried memory; the gradient file's
# training step (every loss term, every parameter's gradient, the image's, grad_norm, within the
# golden README's 1e-3 x max(max|ref|, 1e-4)) at 1 and 2 threads; broken configs and weights
# give clear errors.
set -u
G=${XT_GOLDEN:-tests/golden}
T=$BUILD/cli_verify_xview
rm -rf "$T"; mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
for f in xview_seg xview_seg_xl xview_seg_grad; do
    $XT verify -q -t 2 $G/$f.safetensors > $T/$f.txt 2>&1 || { cat $T/$f.txt; fail "$f"; }
    tail -1 $T/$f.txt
    grep -q " 0 failed, 0 missing; \([0-9]*\) of \1 expected tensors computed" $T/$f.txt || fail "$f: not every expected tensor computed and passed"
done
$XT verify $G/xview_seg_xl.safetensors > $T/xl_all.txt
for n in scene.vessel_mask scene.length_mask out.fishing_mask.call4 context_model.pos_embed.call3 \
         variant_memfix.context_model.layers.1.in.call2 variant_memfix.context_model.out.call3; do
    grep -q "^$n .*pass" $T/xl_all.txt || fail "$n not compared or not passing"
done
# the gradient file at 1 thread too, and its key tensors each compared
$XT verify -t 1 $G/xview_seg_grad.safetensors > $T/grad.txt 2>&1 || { cat $T/grad.txt; fail "xview_seg_grad at 1 thread"; }
grep -q " 0 failed, 0 missing; \([0-9]*\) of \1 expected tensors computed" $T/grad.txt || fail "xview_seg_grad: not every expected tensor computed and passed"
for n in loss loss.center loss.length loss.mask_fishing.dice grad.input.image grad_norm grad.encoder.upsample.weight \
         grad.encoder.model.patch_embed.proj.weight grad.context_model.layers.0.attn.qkv.weight \
         grad.decoder.length_mask.layer.3.bias context_model.layers.0.attn out.center_mask; do
    grep -q "^$n .*pass" $T/grad.txt || fail "$n not compared or not passing"
done
# hostile: a config that breaks the model, a missing tensor (python3 rewrites the header)
python3 - "$G/xview_seg.safetensors" "$T" <<'PY'
import json, struct, sys
src, out = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); body = b[8 + n:]
def save(name, hh):
    t = json.dumps(hh).encode()
    open(out + "/" + name, "wb").write(struct.pack("<Q", len(t)) + t + body)
c = json.loads(h["__metadata__"]["config"])
c["crop_size"] = 100
hh = json.loads(json.dumps(h)); hh["__metadata__"]["config"] = json.dumps(c); save("bad_crop.safetensors", hh)
c = json.loads(h["__metadata__"]["config"]); c["xl_context"]["skip_connection"] = True
hh = json.loads(json.dumps(h)); hh["__metadata__"]["config"] = json.dumps(c); save("bad_skip.safetensors", hh)
hh = json.loads(json.dumps(h)); del hh["decoder.bottlenecks.2.seq.0.weight"]; save("no_tensor.safetensors", hh)
c = json.loads(h["__metadata__"]["config"]); del c["swin"]; c["backbone_class"] = "swinv2_tiny_window16_256_timm_xview"
hh = json.loads(json.dumps(h)); hh["__metadata__"]["config"] = json.dumps(c); save("preset.safetensors", hh)
PY
check() { # file, expected message fragment
    if $XT verify "$T/$1" > "$T/$1.txt" 2>&1; then fail "$1 verified"; fi
    grep -q "$2" "$T/$1.txt" || fail "$1: message '$(cat "$T/$1.txt")' lacks '$2'"
    echo "ok: $1: $(head -1 "$T/$1.txt")"
}
check bad_crop.safetensors "crop_size 100"
check bad_skip.safetensors "skip_connection"
check no_tensor.safetensors "decoder.bottlenecks.2.seq.0.weight"
# backbone_class alone: the official preset (Swin-T: 96 wide) with 2 bands, checked against the 8-wide tensors
check preset.safetensors "patch_embed.proj.weight.*(96, 2, 4, 4)"
# xt convert: an official trainer checkpoint of the xView3 model (tests/ref/xview_seg_xl.ckpt, made
# by tools/gen_ref_xview_ckpt.py from the golden weights: zip, trainer payload, "module." keys)
# -> model file; the official YAML config (tests/ref/xview_config: trimmed official keys,
# base_configs and interpolation); the golden file as a plain state dict
Y=tests/ref/xview_config/config/xview_icml/xview_swin_v2_base_1e-5_xl_512_256.yaml
$XT convert tests/ref/xview_seg_xl.ckpt -o $T/conv.safetensors --config $G/xview_seg_xl.safetensors \
    --with-io $G/xview_seg_xl.safetensors > $T/conv.log 2>&1 || fail "convert the .ckpt: $(cat $T/conv.log)"
grep -q "zip checkpoint (trainer payload)" $T/conv.log || fail "not read as a trainer checkpoint: $(cat $T/conv.log)"
$XT verify -q $T/conv.safetensors > $T/conv.txt || { cat $T/conv.txt; fail "verify of the converted model"; }
grep -q " 0 failed, 0 missing; 96 of 96 expected" $T/conv.txt || fail "converted: $(tail -1 $T/conv.txt)"
# the preset of the YAML (Swin-B, 128 wide) contradicts these tensors (8 wide): named, refused
if $XT convert $G/xview_seg_xl.safetensors -o $T/y.safetensors --config $Y > $T/y.txt 2>&1; then fail "YAML preset vs tensors not cross-checked"; fi
grep -q "swin.embed_dim is 128 but the checkpoint's tensors say 8" $T/y.txt || fail "conflict message: $(cat $T/y.txt)"
$XT convert $G/xview_seg_xl.safetensors -o $T/y.safetensors --config $Y --set swin.embed_dim=8 --set 'swin.depths=[1,1,1,1]' \
    --set 'swin.num_heads=[1,1,2,4]' --set xl_context.hidden_size=128 --set xl_context.n_layer=2 --set crop_size=64 \
    --set case_type=xl --with-io $G/xview_seg_xl.safetensors > $T/y.txt 2>&1 || fail "convert with the YAML: $(cat $T/y.txt)"
for kv in '"kind":"xview"' '"backbone_class":"swinv2_base_window16_256_timm_xview"' '"val_crop_size":512' '"mem_chip":1' \
          '"enabled":true' '"window_size":16' '"in_chans":2'; do
    grep -q "$kv" $T/y.txt || fail "YAML config lacks $kv: $(cat $T/y.txt)"
done
$XT verify -q $T/y.safetensors > $T/yv.txt || { cat $T/yv.txt; fail "verify of the YAML-converted model"; }
grep -q " 0 failed, 0 missing; 76 of 96 expected" $T/yv.txt || fail "YAML-converted: $(tail -1 $T/yv.txt)" # no variants in a model config
echo "cli_verify_xview: ok"
