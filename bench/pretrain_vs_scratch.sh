#!/bin/sh
# pretrain_vs_scratch.sh — the substitute for "ImageNet-pretrained vs scratch" (docs/training.md,
# "Pretrained vs scratch"): a Swin V2 region encoder pretrained by `xt train` on single DejaVu
# digits (configs/glyph_pretrain.json, naive head), then two-digit 128 x 128 tasks with the xl
# head trained (a) from scratch and (b) with `--init` from that encoder; same config, steps, lr
# and seeds. Tasks (tools/make_glyphs.py, the same images): `left`, the left digit (10 classes,
# configs/glyph_left.json); `larger`, whether the left digit is larger (configs/glyph_pair.json).
# Run from the repository root after `make xt`:
#
#   WORK=/tmp/pvs sh bench/pretrain_vs_scratch.sh        # TASKS="left larger" SEEDS="0 1 2" THREADS=1
#
# WORK gets the generated images (seed 0), the checkpoints and their OUT.metrics.jsonl; per task
# the table (held-out top-1 along the curve, mean ± sd over SEEDS) is printed and
# WORK/TASK.png drawn (tools/plot_pretrain_vs_scratch.py), then both stacked into
# WORK/pretrain_vs_scratch.png (= docs/pretrain_vs_scratch.png). The two variants of a seed run side
# by side (2 processes of THREADS threads each). Steps already done (their files exist) are kept.
set -eu
WORK=${WORK:?set WORK=DIR}
TASKS=${TASKS:-left larger}
SEEDS=${SEEDS:-0 1 2}
THREADS=${THREADS:-1}
XT=$(cd "$(dirname "${XT:-./xt}")" && pwd)/$(basename "${XT:-./xt}")
PY=${PY:-/usr/bin/python3}
R=$(pwd)
mkdir -p "$WORK"
[ -s "$WORK/val_left.csv" ] || $PY tools/make_glyphs.py "$WORK"
cd "$WORK"
# 1. pretraining: naive head, 10 digit classes, 64 x 64 = one region
if [ ! -s pretrain.safetensors ]; then
    /usr/bin/time -f "pretrain: %U s user CPU" "$XT" train -c "$R/configs/glyph_pretrain.json" --data pretrain.csv \
        --val pval.csv -t "$THREADS" -o pretrain.safetensors -q > pretrain.log 2>&1 || { cat pretrain.log; exit 1; }
    grep -E "^val:|user CPU" pretrain.log
fi
# 2. each task, xl head, from scratch and from the pretrained encoder (--init takes the pretraining
# checkpoint as it is: its naive head, which the xl model does not have, is skipped)
for t in $TASKS; do
    case $t in
    left) cfg=glyph_left.json data=train_left.csv val=val_left.csv ;;
    larger) cfg=glyph_pair.json data=train.csv val=val.csv ;;
    *) echo "unknown task $t (left, larger)" >&2; exit 2 ;;
    esac
    for s in $SEEDS; do
        for v in scratch pretrained; do
            o=${t}_$v$s
            [ -s "$o.metrics.jsonl" ] && continue
            init=""; [ $v = pretrained ] && init="--init pretrain.safetensors"
            # shellcheck disable=SC2086
            ( /usr/bin/time -f "$t $v seed $s: %U s user CPU" "$XT" train -c "$R/configs/$cfg" --data $data \
                --val $val --seed "$s" $init -t "$THREADS" -o "$o.safetensors" -q > "$o.log" 2>&1 \
                || cat "$o.log" ) &
        done
        wait
        for v in scratch pretrained; do grep -E "^init:|user CPU" "${t}_$v$s.log" || true; done
    done
    $PY "$R/tools/plot_pretrain_vs_scratch.py" "$WORK" --task "$t" --seeds "$SEEDS" -o "$t.png"
done
# both plots stacked: docs/pretrain_vs_scratch.png
[ -s left.png ] && [ -s larger.png ] || exit 0 # one task alone: no combined figure
$PY -c "
from PIL import Image
a, b = Image.open('left.png'), Image.open('larger.png')
c = Image.new('RGB', (a.width, a.height + b.height), 'white')
c.paste(a, (0, 0)); c.paste(b, (0, a.height))
c.convert('P', palette=Image.ADAPTIVE, colors=32).save('pretrain_vs_scratch.png', optimize=True)
print('wrote pretrain_vs_scratch.png')"
