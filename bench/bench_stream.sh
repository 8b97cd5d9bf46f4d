#!/bin/sh
# bench_stream.sh — streaming inference over synthetic 3-band images of growing size: wall time,
# regions/s and peak RSS per size, as a markdown table (docs/streaming.md). Not a test.
#
#   sh bench/bench_stream.sh [MODEL] [SIZES]
#     MODEL  an xT model file            [tests/golden/xt_cls_naive.safetensors]
#     SIZES  space-separated WxH list    ["4096x4096 8192x8192 16384x16384 30000x25000"]
#   env: XT (binary, ./xt), DIR (scratch images, build/bench_stream), THREADS (1),
#        EXTRA (more classify options)
# Images are made once with `xt make-image` (tiled 256, u8, deflate-free) and reused.
set -e
XT=${XT:-./xt}
MODEL=${1:-${XT_GOLDEN:-tests/golden}/xt_cls_naive.safetensors}
SIZES=${2:-"4096x4096 8192x8192 16384x16384 30000x25000"}
DIR=${DIR:-build/bench_stream}
THREADS=${THREADS:-1}
mkdir -p "$DIR"
echo "model: $MODEL, threads: $THREADS, host: $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| image | regions | wall s | regions/s | read s | encode s | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for S in $SIZES; do
    IMG="$DIR/synth_$S.tif"
    [ -f "$IMG" ] || "$XT" make-image "$IMG" --size "$S" --bands 3 --type u8 --tile 256 --seed 1
    OUT=$(XT_STREAM_STATS=1 /usr/bin/time -f "time %e %M" "$XT" classify --quiet -t "$THREADS" $EXTRA -m "$MODEL" "$IMG" 2>&1 >/dev/null)
    # "xt: stream: N regions, read R s, encode E s, ..."   "time WALL MAXRSS_KB"
    echo "$OUT" | awk -v img="$S" '
        /xt: stream:/ { n = $3; r = $6; e = $9 }
        /^time / { w = $2; rss = $3 / 1024 }
        END { printf "| %s | %d | %.1f | %.2f | %.1f | %.1f | %.1f |\n", img, n, w, n / w, r, e, rss }'
done
