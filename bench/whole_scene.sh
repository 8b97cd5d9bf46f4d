#!/bin/sh
# whole_scene.sh — the whole-scene figure of docs/performance.md: `xt classify` of a 2-band
# (VV, VH) float32 Sentinel-1-like scene of xView3 size with a Swin V2-T xT model (256² regions,
# xl head), once per context encoder and precision; prints wall time, regions/s and peak RSS.
# Run from the repository root after `make`:
#
#   sh bench/whole_scene.sh                          # 29400x24400, hyper + mamba, f32 + bf16, 2 threads
#   SIZE=4096x4096 CONTEXTS=hyper PRECISIONS=f32 sh bench/whole_scene.sh   # a quick look
#
# The scene (5.7 GB at full size) and the models (random weights: one `xt train` step from a fresh
# initialisation, so the numbers exercise every layer but mean nothing) are made once under
# $DIR and reused. Needs GNU time (/usr/bin/time, Debian package `time`). The goal (issue 11):
# <= 8 min f32, <= 4 min bf16, peak RSS <= 2 GiB on 2 cores.
set -eu
SIZE=${SIZE:-29400x24400}
THREADS=${THREADS:-2}
CONTEXTS=${CONTEXTS:-hyper mamba}
PRECISIONS=${PRECISIONS:-f32 bf16}
XT=${XT:-./xt}
DIR=${DIR:-build/bench/scene}
mkdir -p "$DIR"
[ -x /usr/bin/time ] || { echo "whole_scene.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

SCENE="$DIR/scene_$SIZE.tif"
if [ ! -s "$SCENE" ]; then
    echo "making $SCENE ..."
    $XT make-image "$SCENE" --size "$SIZE" --sar > /dev/null
fi
# the models: 2 bands (VV, VH), xl head, each context encoder (bench/lib_swint_model.sh)
. "$(dirname "$0")/lib_swint_model.sh"
for ctx in $CONTEXTS; do
    [ -s "$DIR/swint_$ctx.safetensors" ] || swint_model "$XT" "$DIR/swint_$ctx.safetensors" xl 2 \
        "{\"attention_method\": \"$ctx\", \"hidden_size\": 256, \"n_layer\": 2, \"in_context_patches\": -1}"
done

W=${SIZE%x*}; H=${SIZE#*x}
REGIONS=$(( ((W + 255) / 256) * ((H + 255) / 256) ))
# cpu_s (user + system) beside the wall time: on a shared machine the wall time includes other
# jobs' turns; cpu_s / threads is what the run would take alone with perfect scaling
printf "%-8s %-6s %8s %8s %10s %10s %12s  load\n" context prec wall_s cpu_s regions/s peak_MiB "xt seconds"
for ctx in $CONTEXTS; do
    for p in $PRECISIONS; do
        PFLAG=""
        [ "$p" = f32 ] || PFLAG="--precision $p"
        XT_STREAM_STATS=1 /usr/bin/time -f "%e %M %U %S" -o "$DIR/time" $XT classify -m "$DIR/swint_$ctx.safetensors" "$SCENE" \
            -t "$THREADS" --json -q $PFLAG > "$DIR/out_${ctx}_$p.json" 2> "$DIR/stats_${ctx}_$p.txt"
        read wall kb us ss < "$DIR/time"
        xs=$(tr -d '\n ' < "$DIR/out_${ctx}_$p.json" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
        printf "%-8s %-6s %8.1f %8.1f %10.1f %10.0f %12s  %s\n" "$ctx" "$p" "$wall" "$(echo "$us + $ss" | bc -l)" \
            "$(echo "$REGIONS / $wall" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$xs" "$(cut -d' ' -f1-3 /proc/loadavg)"
        grep 'stream:' "$DIR/stats_${ctx}_$p.txt" | sed 's/^/    /' # phases: read, encode, context
    done
done
