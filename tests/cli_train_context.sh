#!/bin/sh
# xt train with the long-context heads (docs/training.md, "Long context"): HyperAttention on its
# LSH path (257 tokens > min_seq_len 64: two LSH levels, sampled keys), the windowed context
# (in_context_patches 32: 16 windows) and the Transformer-XL memory (variant memfix) each fit a
# fixed synth batch (every loss finite, the last below 0.7 x the first); `xt eval` runs each
# checkpoint through the inference path; the hyper run interrupted and resumed ends bit-identical
# (its sampled keys come from (seed, step)).
set -e
D="$BUILD/train_context_cli"
rm -rf "$D"; mkdir -p "$D"
fail() { echo "cli_train_context: $*" >&2; exit 1; }
SWIN='"swin": {"embed_dim": 8, "depths": [1, 1], "num_heads": [1, 2], "window_size": 4}'
TRAIN='"train": {"img_size": 128, "batch": 4, "steps": 12, "lr": 2e-3, "warmup": 1, "seed": 3, "augment": false}'
cat > "$D/hyper.json" <<JSON
{"model": {"kind": "xt", "cls_head": "xl", "crop_size": 64, "num_classes": 2, "mlp_ratio": 1,
           "context": {"attention_method": "hyper", "hidden_size": 128, "n_layer": 1},
           "hyper_override": {"min_seq_len": 64, "block_size": 16, "sample_size": 16}, $SWIN}, $TRAIN}
JSON
cat > "$D/window.json" <<JSON
{"model": {"kind": "xt", "cls_head": "xl", "crop_size": 64, "num_classes": 2, "mlp_ratio": 2,
           "context": {"attention_method": "naive", "hidden_size": 32, "n_layer": 2, "in_context_patches": 32}, $SWIN},
 $TRAIN}
JSON
sed 's/"kind": "xt",/"kind": "xt", "variant": "memfix",/' "$D/window.json" > "$D/memfix.json"
for c in hyper window memfix; do
    # 4 images, batch 4: the same batch every step, so the loss must fall
    $XT train -c "$D/$c.json" --data synth:4:1 -t 1 -o "$D/$c.safetensors" > "$D/$c.out" 2> "$D/$c.err" ||
        fail "$c: train: $(cat "$D/$c.err")"
    awk '/^step /{n++; l[n]=$4; if (l[n] !~ /^[0-9]+\.[0-9]+$/) bad=1}
         END{if (n != 12 || bad) exit 1; if (!(l[12] < 0.7 * l[1])) exit 2}' "$D/$c.err" ||
        fail "$c: losses not finite and falling: $(awk '/^step /{printf "%s ", $4}' "$D/$c.err")"
    echo "$c: $(awk '/^step /{printf "%s ", $4}' "$D/$c.err")"
    $XT eval -m "$D/$c.safetensors" --data synth:4:1 -q -t 1 > "$D/$c.eval" || fail "$c: eval"
    grep -q "4 images, top-1" "$D/$c.eval" || fail "$c: eval output"
done
# hyper: 6 + 6 steps with --stop-after / --resume = 12 steps in one go, bit for bit
$XT train -c "$D/hyper.json" --data synth:4:1 -t 1 -q --stop-after 6 -o "$D/part.safetensors" > /dev/null
$XT train --resume "$D/part.safetensors" --data synth:4:1 -t 1 -q -o "$D/resumed.safetensors" > /dev/null
cmp "$D/hyper.safetensors" "$D/resumed.safetensors" || fail "hyper: resume differs"
echo "cli_train_context: ok"
