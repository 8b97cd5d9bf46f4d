#!/bin/sh
# xt train with a ConvNeXt region encoder (convnext_bwd.c): a tiny xT (3-stage ConvNeXt, xl head)
# fits a fixed synth batch over 20 steps (every loss finite, the last well below the first), the
# checkpoint is a model file `xt eval` runs with the inference encoder, a run interrupted and
# resumed ends bit-identical, the "backbone" preset form builds the same model; --init from a
# convnext_region file loads the encoder and leaves the head fresh; wrong
# encoder files fail.
set -e
D="$BUILD/train_convnext_cli"
rm -rf "$D"; mkdir -p "$D"
fail() { echo "cli_train_convnext: $*" >&2; exit 1; }
cat > "$D/cfg.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "xl", "crop_size": 32, "num_classes": 2, "mlp_ratio": 2,
           "context": {"attention_method": "naive", "hidden_size": 16, "n_layer": 1},
           "convnext": {"dims": [8, 16, 24], "depths": [1, 1, 1], "mlp_ratio": 2}},
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
# the checkpoint holds the ConvNeXt encoder under timm's features_only names; eval runs it
$XT info "$D/full.safetensors" > "$D/info.out"
grep -q '"convnext"' "$D/info.out" || fail "info: no convnext"
grep -aq '"encoder.model.stages_2.blocks.0.conv_dw.weight"' "$D/full.safetensors" || fail "names"
$XT eval -m "$D/full.safetensors" --data synth:4:1 -q -t 1 > "$D/eval.out" || fail "eval"
grep -q "4 images, top-1" "$D/eval.out" || fail "eval output"
# interrupted after 3 steps and resumed: the same checkpoint bit for bit (5 steps)
$XT train -c "$D/cfg.json" --data synth:4:1 --steps 5 -t 1 -q -o "$D/a.safetensors" > /dev/null
$XT train -c "$D/cfg.json" --data synth:4:1 --steps 5 -t 1 -q --stop-after 3 -o "$D/b.safetensors" > /dev/null
$XT train --resume "$D/b.safetensors" -t 1 -q -o "$D/c.safetensors" > /dev/null
cmp "$D/a.safetensors" "$D/c.safetensors" || fail "resume differs"
# the "backbone" form with an official preset name, shrunk by overrides, builds the same model
sed 's/"convnext": {"dims"/"backbone": {"preset": "convnext_tiny", "dims"/' "$D/cfg.json" > "$D/bb.json"
grep -q '"preset": "convnext_tiny"' "$D/bb.json" || fail "sed"
$XT train -c "$D/bb.json" --data synth:4:1 --steps 5 -t 1 -q -o "$D/bb.safetensors" > /dev/null || fail "backbone preset"
$XT eval -m "$D/bb.safetensors" --data synth:4:1 -q -t 1 > "$D/bb.out" 2>&1 || fail "eval backbone: $(cat "$D/bb.out")"
data() { n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((n + 9)) "$1"; }
data "$D/a.safetensors" > "$D/a.bin"; data "$D/bb.safetensors" > "$D/bb.bin"
test -s "$D/a.bin" && cmp -s "$D/a.bin" "$D/bb.bin" || fail "backbone preset model differs from the convnext one"
# --init from a ConvNeXt region file (the golden convnext_region: dims 16..128, depths 2 x 4)
G=${XT_GOLDEN:-tests/golden}
cat > "$D/init.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "naive", "crop_size": 64, "num_classes": 2, "mlp_ratio": 2,
           "backbone": {"preset": "convnext_tiny", "dims": [16, 32, 64, 128], "depths": [2, 2, 2, 2]}},
 "train": {"img_size": 128, "batch": 2, "steps": 2, "lr": 1e-3, "warmup": 1, "seed": 3}}
JSON
$XT train -c "$D/init.json" --init "$G/convnext_region.safetensors" --data synth:4:1 -t 1 -q \
    -o "$D/init.safetensors" > "$D/init.out" 2>&1 || fail "init: $(cat "$D/init.out")"
grep -q "init: 88 tensors loaded from .*convnext_region.safetensors, 6 freshly initialised (decoder.layers)" \
    "$D/init.out" || fail "init report: $(cat "$D/init.out")"
# wrong files: a ConvNeXt file of another shape, a Hiera file for a ConvNeXt model
if $XT train -c "$D/cfg.json" --init tests/ref/backbone_convnext_2ch.safetensors --data synth:4:1 -q \
    -o "$D/x.safetensors" 2> "$D/e1.err"; then fail "shape mismatch accepted"; fi
grep -q "tensor 'stem_0.weight' is (8, 2, 4, 4) but the model's 'encoder.model.stem_0.weight' is (8, 3, 4, 4)" "$D/e1.err" ||
    fail "e1: $(cat "$D/e1.err")"
if $XT train -c "$D/cfg.json" --init tests/ref/backbone_hiera_qpool2.safetensors --data synth:4:1 -q \
    -o "$D/x.safetensors" 2> "$D/e2.err"; then fail "hiera file accepted"; fi
grep -q "a hiera_region file, but the configured region encoder is ConvNeXt" "$D/e2.err" || fail "e2: $(cat "$D/e2.err")"
test ! -e "$D/x.safetensors"
echo ok
