#!/bin/sh
# pretrain_vs_scratch.sh — the substitute for "ImageNet-pretrained vs scratch" (docs/training.md,
# "Pretrained vs scratch"): a Swin V2 region encoder pretrained by `xt train` on single DejaVu
# digits, then the xl-head pair task ("is the left digit larger than the right one?") trained
# (a) from scratch and (b) with `--init` from that encoder; same config, steps, lr and seeds.
# Run from the repository root after `make xt`:
#
#   WORK=/tmp/pvs sh bench/pretrain_vs_scratch.sh          # SEEDS="0 1 2" THREADS=1
#
# WORK gets the generated images (tools/make_glyphs.py, seed 0), the checkpoints and their
# OUT.metrics.jsonl; the table (held-out top-1 along the curve, mean ± sd over SEEDS) is printed
# and WORK/pretrain_vs_scratch.png is drawn (tools/plot_pretrain_vs_scratch.py). The two variants
# of a seed run side by side (2 processes of THREADS threads each).
set -eu
WORK=${WORK:?set WORK=DIR}
SEEDS=${SEEDS:-0 1 2}
THREADS=${THREADS:-1}
XT=$(cd "$(dirname "${XT:-./xt}")" && pwd)/$(basename "${XT:-./xt}")
PY=${PY:-/usr/bin/python3}
R=$(pwd)
mkdir -p "$WORK"
[ -s "$WORK/val.csv" ] || $PY tools/make_glyphs.py "$WORK"
cd "$WORK"
# 1. pretraining: naive head, 10 digit classes, 64 x 64 = one region
if [ ! -s enc.safetensors ]; then
    /usr/bin/time -f "pretrain: %U s user CPU" "$XT" train -c "$R/configs/glyph_pretrain.json" --data pretrain.csv \
        --val pval.csv -t "$THREADS" -o pretrain.safetensors -q > pretrain.log 2>&1 || { cat pretrain.log; exit 1; }
    grep -E "^val:|user CPU" pretrain.log
    $PY "$R/tools/st_keep.py" pretrain.safetensors enc.safetensors encoder.
fi
# 2. the pair task, xl head, from scratch and from the pretrained encoder
for s in $SEEDS; do
    for v in scratch pretrained; do
        [ -s "$v$s.metrics.jsonl" ] && continue
        init=""; [ $v = pretrained ] && init="--init enc.safetensors"
        # shellcheck disable=SC2086
        ( /usr/bin/time -f "$v seed $s: %U s user CPU" "$XT" train -c "$R/configs/glyph_pair.json" --data train.csv \
            --val val.csv --seed "$s" $init -t "$THREADS" -o "$v$s.safetensors" -q > "$v$s.log" 2>&1 \
            || { cat "$v$s.log"; exit 1; } ) &
    done
    wait
    for v in scratch pretrained; do grep -E "^init:|user CPU" "$v$s.log" || true; done
done
$PY "$R/tools/plot_pretrain_vs_scratch.py" "$WORK" --seeds "$SEEDS" -o pretrain_vs_scratch.png
