#!/bin/sh
# xt train with a Hiera region encoder (hiera_bwd.c): a tiny xT (3-stage Hiera, mask-unit
# attention with q pooling, xl head) fits a fixed synth batch over 20 steps (every loss finite,
# the last well below the first), the checkpoint is a model file `xt eval` runs with the inference
# encoder, a run interrupted and resumed ends bit-identical; --init from a hiera_region file loads
# the encoder (q_pool 2: last stage unrolled) and leaves the head fresh; wrong encoder files fail.
set -e
D="$BUILD/train_hiera_cli"
rm -rf "$D"; mkdir -p "$D"
fail() { echo "cli_train_hiera: $*" >&2; exit 1; }
cat > "$D/cfg.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "xl", "crop_size": 32, "num_classes": 2, "mlp_ratio": 2,
           "context": {"attention_method": "naive", "hidden_size": 16, "n_layer": 1},
           "hiera": {"embed_dim": 8, "num_heads": 1, "stages": [1, 1, 1], "q_pool": 2, "q_stride": [2, 2],
                     "mask_unit_size": [4, 4], "mask_unit_attn": [true, false, false], "mlp_ratio": 2.0}},
 "train": {"img_size": 64, "batch": 4, "steps": 20, "lr": 3e-3, "warmup": 2, "seed": 3, "augment": false}}
JSON
# 4 images, batch 4: the same batch every step, so the loss must fall
$XT train -c "$D/cfg.json" --data synth:4:1 -t 1 -o "$D/full.safetensors" > "$D/full.out" 2> "$D/full.err" ||
    fail "train: $(cat "$D/full.err")"
grep -q "trained 20 steps" "$D/full.out" || fail "no summary"
awk '/^step /{n++; l[n]=$4; if (l[n] !~ /^[0-9]+\.[0-9]+$/) bad=1}
     END{if (n != 20 || bad) exit 1; if (!(l[20] < 0.6 * l[1])) exit 2; m=l[1];
         for (i = 2; i <= 20; i++) if (l[i] > m * 1.01 && i > 5) exit 3}' "$D/full.err" ||
    fail "losses not finite and falling: $(awk '/^step /{printf "%s ", $4}' "$D/full.err")"
# the checkpoint holds the Hiera encoder under the official names; eval runs it
$XT info "$D/full.safetensors" > "$D/info.out"
grep -q "encoder.model.pos_embed" "$D/info.out" || grep -q '"hiera"' "$D/info.out" || fail "info: no hiera"
$XT eval -m "$D/full.safetensors" --data synth:4:1 -q -t 1 > "$D/eval.out" || fail "eval"
grep -q "4 images, top-1" "$D/eval.out" || fail "eval output"
# interrupted after 3 steps and resumed: the same checkpoint bit for bit (5 steps)
$XT train -c "$D/cfg.json" --data synth:4:1 --steps 5 -t 1 -q -o "$D/a.safetensors" > /dev/null
$XT train -c "$D/cfg.json" --data synth:4:1 --steps 5 -t 1 -q --stop-after 3 -o "$D/b.safetensors" > /dev/null
$XT train --resume "$D/b.safetensors" -t 1 -q -o "$D/c.safetensors" > /dev/null
cmp "$D/a.safetensors" "$D/c.safetensors" || fail "resume differs"
# the "backbone" form with an official preset name (xT's backbone_class), shrunk by overrides,
# builds the same model: same weights after the same steps
sed 's/"hiera": {"embed_dim": 8,/"backbone": {"preset": "hiera_base_plus", "embed_dim": 8,/' \
    "$D/cfg.json" > "$D/bb.json"
grep -q '"preset": "hiera_base_plus"' "$D/bb.json" || fail "sed"
$XT train -c "$D/bb.json" --data synth:4:1 --steps 5 -t 1 -q -o "$D/bb.safetensors" > /dev/null || fail "backbone preset"
$XT eval -m "$D/bb.safetensors" --data synth:4:1 -q -t 1 > "$D/bb.out" 2>&1 || fail "eval backbone: $(cat "$D/bb.out")"
# tensor bytes (after the safetensors header, whose metadata differs) equal the "hiera" run's
data() { n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((n + 9)) "$1"; }
data "$D/a.safetensors" > "$D/a.bin"; data "$D/bb.safetensors" > "$D/bb.bin"
test -s "$D/a.bin" && cmp -s "$D/a.bin" "$D/bb.bin" || fail "backbone preset model differs from the hiera one"
# --init from a Hiera region file (tests/ref, made by tools/gen_ref_backbones.py): encoder loaded
cat > "$D/init.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "naive", "crop_size": 64, "num_classes": 2, "mlp_ratio": 2,
           "hiera": {"embed_dim": 12, "num_heads": 2, "stages": [1, 1, 2, 1], "q_pool": 2, "q_stride": [2, 2],
                     "mask_unit_size": [4, 4], "mask_unit_attn": [true, false, true, true], "head_mul": 1.5,
                     "mlp_ratio": 2.0}},
 "train": {"img_size": 128, "batch": 2, "steps": 2, "lr": 1e-3, "warmup": 1, "seed": 3}}
JSON
$XT train -c "$D/init.json" --init tests/ref/backbone_hiera_qpool2.safetensors --data synth:4:1 -t 1 -q \
    -o "$D/init.safetensors" > "$D/init.out" 2>&1 || fail "init: $(cat "$D/init.out")"
grep -q "init: 69 tensors loaded from .*backbone_hiera_qpool2.safetensors, 6 freshly initialised (decoder.layers)" \
    "$D/init.out" || fail "init report: $(cat "$D/init.out")"
# --init from an ImageNet-style hiera package checkpoint converted by `xt convert` (hiera_region)
$XT convert tests/ref/pretrained_hiera_tiny.pth -o "$D/h.safetensors" --set hiera.num_heads=1 -q > /dev/null 2>&1 ||
    fail "convert hiera"
cat > "$D/pre.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "naive", "crop_size": 64, "num_classes": 2, "mlp_ratio": 2,
           "hiera": {"num_heads": 1, "embed_dim": 4, "stages": [1, 1, 1, 1]}},
 "train": {"img_size": 128, "batch": 2, "steps": 2, "lr": 1e-3, "warmup": 1, "seed": 3}}
JSON
$XT train -c "$D/pre.json" --init "$D/h.safetensors" --data synth:4:1 -t 1 -q -o "$D/pre.safetensors" > "$D/pre.out" 2>&1 ||
    fail "init pretrained: $(cat "$D/pre.out")"
grep -q "init: 57 tensors loaded from .*h.safetensors, 6 freshly initialised (decoder.layers)" "$D/pre.out" ||
    fail "pretrained init report: $(cat "$D/pre.out")"
# wrong files: a Hiera file of another width, a Swin V2 file for a Hiera model, a ConvNeXt file
if $XT train -c "$D/cfg.json" --init tests/ref/backbone_hiera_qpool2.safetensors --data synth:4:1 -q \
    -o "$D/x.safetensors" 2> "$D/e1.err"; then fail "shape mismatch accepted"; fi
grep -q "tensor 'model.pos_embed' is (1, 256, 12) but the model's 'encoder.model.pos_embed' is (1, 64, 8)" "$D/e1.err" ||
    fail "e1: $(cat "$D/e1.err")"
if $XT train -c "$D/cfg.json" --init tests/ref/backbone_swinv2_2ch.safetensors --data synth:4:1 -q \
    -o "$D/x.safetensors" 2> "$D/e2.err"; then fail "swin file accepted"; fi
grep -q "a swin_region file, but the configured region encoder is Hiera" "$D/e2.err" || fail "e2: $(cat "$D/e2.err")"
if $XT train -c "$D/cfg.json" --init tests/ref/backbone_convnext_2ch.safetensors --data synth:4:1 -q \
    -o "$D/x.safetensors" 2> "$D/e3.err"; then fail "convnext file accepted"; fi
grep -q "a convnext_region file, but the configured region encoder is Hiera" "$D/e3.err" || fail "e3: $(cat "$D/e3.err")"
test ! -e "$D/x.safetensors"
echo ok
