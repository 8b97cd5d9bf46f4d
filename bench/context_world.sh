#!/bin/sh
# context_world.sh — docs/detection.md, "Does context help?": the synthetic xView3 world, an xT
# dense model trained with and without its context model (seeds SEEDS), each run through
# xt detect on the test scenes and scored by xt score; plus the fishing-score ROC AUC
# (tools/fishing_auc.py). Everything lands in WORK; the table rows are WORK/results.txt, their
# mean ± sd per variant and the paired margins WORK/summary.md (tools/context_world_summary.py).
#
#   WORK=/tmp/cw SEEDS="1 2 3" STEPS=1000 JOBS=2 sh bench/context_world.sh
#
# Env: XT (binary, ./xt), WORK (required), SEEDS [1 2 3], VARIANTS [ctx noctx], STEPS [1000],
# CROP (data crop = detect tile) [256], BATCH [2], LR [3e-3], FISHING (loss weight; the official
# value is 2) [2], COMBO (the Combo loss's term weights, JSON; official {"bce": 1, "focal": 3, "dice": 1})
# [official], JOBS (runs at once, 1 thread each) [2], NICE [15]; BASE_STEPS [0]: when > 0,
# each seed first trains one no-context model for BASE_STEPS steps on crops of BASE_CROP [128]
# (batch BASE_BATCH [8]), and both variants of that seed start from it (--init; the context
# model starts fresh), so they differ only by the context model added on top of one detector.
# The base trains with FISHING and the official Combo weights; COMBO applies to the variants.
# RULE [fleets]: the world's fishing rule (xt make-scene --rule); TEST_SCENES [2]: scenes in
# world/test; TILE [CROP] and OVERLAP [10]: xt detect's tiles; SCORE_SCENES [all]: detect and
# score only the first N test scenes; ROTATE [1]: 0 drops the 180-degree TTA (--no-rotate);
# FISHING_ON_VESSELS [0]: 1 sets train.loss.fishing_on_vessels for the variants (the fishing
# target ignored outside the vessel discs; not official); TRAIN_SCENES [6], DENSITY [1] and
# PORT_GAP [320]: the worlds' scene count (training), harbour / fleet density and, for the port,
# grounds and lanes rules, xt make-scene --port-gap;
# CONTEXT_LR_RATIO [1]: the variants' lr multiplier for the context model (not official);
# COMBO_FISHING [COMBO]: the fishing mask's own Combo weights (train.loss.combo_fishing, JSON);
# CONTEXT_IDENTITY [1]: 0 starts the context model's out_proj at the fresh init instead of zero
# (train.context_identity false; from scratch only: --init loads the base);
# WEIGHTS [{"fishing": FISHING}]: the variants' loss weights, JSON (e.g. only the fishing term);
# SWIN [embed 16, depths 1-1-1-1, heads 1-1-2-4, window 16]: the region encoder (model.swin, JSON),
# for the base and the variants alike.
# Each context run is scored twice: as trained (ctx) and with its context model left out
# (ctxoff, xt detect --no-context); ctx - ctxoff is what the context computes at inference.
set -eu
XT=${XT:-$(pwd)/xt}
TOOLS=$(cd "$(dirname "$0")/.." && pwd)/tools
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
: "${WORK:?set WORK to a scratch folder}"
SEEDS=${SEEDS:-1 2 3} VARIANTS=${VARIANTS:-ctx noctx} STEPS=${STEPS:-1000} CROP=${CROP:-256}
BATCH=${BATCH:-2} LR=${LR:-3e-3} FISHING=${FISHING:-2} JOBS=${JOBS:-2} NICE=${NICE:-15}
COMBO=${COMBO:-'{"bce": 1, "focal": 3, "dice": 1}'} BASE_STEPS=${BASE_STEPS:-0} BASE_CROP=${BASE_CROP:-128} BASE_BATCH=${BASE_BATCH:-8}
RULE=${RULE:-fleets} TEST_SCENES=${TEST_SCENES:-2} TILE=${TILE:-$CROP} OVERLAP=${OVERLAP:-10}
SCORE_SCENES=${SCORE_SCENES:-$TEST_SCENES} ROTATE=${ROTATE:-1} FISHING_ON_VESSELS=${FISHING_ON_VESSELS:-0}
TRAIN_SCENES=${TRAIN_SCENES:-6} DENSITY=${DENSITY:-1} PORT_GAP=${PORT_GAP:-320} CONTEXT_LR_RATIO=${CONTEXT_LR_RATIO:-1} CONTEXT_IDENTITY=${CONTEXT_IDENTITY:-1} COMBO_FISHING=${COMBO_FISHING:-$COMBO}
WEIGHTS=${WEIGHTS:-"{\"fishing\": $FISHING}"}
SWIN=${SWIN:-'{"embed_dim": 16, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 4], "window_size": 16}'}
export SWIN CONTEXT_LR_RATIO CONTEXT_IDENTITY COMBO_FISHING WEIGHTS XT TOOLS WORK SEEDS VARIANTS JOBS STEPS CROP BATCH LR FISHING COMBO NICE BASE_STEPS BASE_CROP BASE_BATCH RULE TEST_SCENES TILE OVERLAP SCORE_SCENES ROTATE FISHING_ON_VESSELS TRAIN_SCENES DENSITY PORT_GAP
mkdir -p "$WORK"
cd "$WORK"
gap=
case $RULE in ports | grounds | lanes) gap="--port-gap $PORT_GAP" ;; esac
[ -f world/train/labels.csv ] || nice -n "$NICE" "$XT" make-scene world/train --size 2048x2048 --scenes "$TRAIN_SCENES" --seed 101 --rule "$RULE" --density "$DENSITY" $gap
[ -f world/test/labels.csv ] || nice -n "$NICE" "$XT" make-scene world/test --size 2048x2048 --scenes "$TEST_SCENES" --seed 202 --rule "$RULE" --density "$DENSITY" $gap
# the labels of the scenes scored (the first SCORE_SCENES)
ids=$(ls -d world/test/*/ | head -n "$SCORE_SCENES" | xargs -n 1 basename | tr '\n' '|' | sed 's/|$//')
{ head -1 world/test/labels.csv; grep -E "$ids" world/test/labels.csv; } > world/test/labels_scored.csv.$$
mv world/test/labels_scored.csv.$$ world/test/labels_scored.csv # atomic: the --one runs do this at once

config() { # config() DIR VARIANT SEED CROP BATCH STEPS WEIGHTS COMBO [ON_VESSELS [CONTEXT_LR_RATIO [COMBO_FISHING]]]: DIR/config.json
    d=$1 v=$2 s=$3 crop=$4 batch=$5 steps=$6 weights=$7 combo=$8 onv=false clr=${10:-1} cfish=${11:-$8} cid=true
    [ "${9:-0}" = 1 ] && onv=true
    [ "$CONTEXT_IDENTITY" = 0 ] && cid=false
    if [ "$v" = ctx ]; then xl='{"enabled": true, "hidden_size": 128, "n_layer": 2, "mlp_ratio": 2}'; else xl='{"enabled": false}'; fi
    cat > "$d/config.json" <<CFG
{"model": {"kind": "xview", "crop_size": 64, "val_crop_size": $crop, "overlap": 10, "tiling": "chip",
           "swin": $SWIN,
           "decoder_filters": [16, 24, 32, 48], "last_upsample_filters": 8,
           "xl_context": $xl},
 "train": {"img_size": $crop, "batch": $batch, "steps": $steps, "lr": $LR, "warmup": 50, "min_lr_ratio": 0.05, "seed": $s, "context_lr_ratio": $clr, "context_identity": $cid,
           "loss": {"weights": $weights, "combo": $combo, "combo_fishing": $cfish, "fishing_on_vessels": $onv},
           "data": {"xview3": {"scenes": "$WORK/world/train", "labels": "$WORK/world/train/labels.csv", "positive_ratio": 0.85}}}}
CFG
}
base() { # base() SEED: the shared no-context detector of one seed
    d=$WORK/base_s$1
    mkdir -p "$d"
    config "$d" noctx "$1" "$BASE_CROP" "$BASE_BATCH" "$BASE_STEPS" "{\"fishing\": $FISHING}" '{"bce": 1, "focal": 3, "dice": 1}' # official Combo
    [ -f "$d/model.safetensors" ] || nice -n "$NICE" "$XT" train -c "$d/config.json" -t 1 -q -o "$d/model.safetensors" > "$d/train.log" 2>&1
}
one() { # one() VARIANT SEED: train, detect, score
    v=$1 s=$2 d=$WORK/run_${v}_s$2
    mkdir -p "$d"
    config "$d" "$v" "$s" "$CROP" "$BATCH" "$STEPS" "$WEIGHTS" "$COMBO" "$FISHING_ON_VESSELS" "$CONTEXT_LR_RATIO" "$COMBO_FISHING"
    init=
    [ "$BASE_STEPS" -gt 0 ] && init="--init $WORK/base_s$s/model.safetensors"
    [ -f "$d/model.safetensors" ] || nice -n "$NICE" "$XT" train -c "$d/config.json" $init -t 1 -q -o "$d/model.safetensors" > "$d/train.log" 2>&1
    evaluate "$d" "$v" "$s" det pred.csv score.json "" > "$d/result.txt"
    # the context variant also without its context model (xt detect --no-context): what the
    # context computes at inference, apart from the training trajectory it gave the detector
    [ "$v" = ctx ] && evaluate "$d" ctxoff "$s" det_off pred_off.csv score_off.json --no-context >> "$d/result.txt"
    cat "$d/result.txt"
}
evaluate() { # evaluate() DIR NAME SEED DET PRED SCORE [FLAGS]: detect the test scenes, score, a result line
    d=$1 det=$1/$4 pred=$1/$5 score=$1/$6 flags=$7 err=$1/${6%.json}.err
    rm -rf "$det"
    [ "$ROTATE" = 0 ] && flags="$flags --no-rotate"
    for sc in $(ls -d "$WORK"/world/test/*/ | head -n "$SCORE_SCENES"); do
        [ -f "$sc/VV_dB.tif" ] || continue
        nice -n "$NICE" "$XT" detect -m "$d/model.safetensors" "$sc" -o "$det" --tile "$TILE" --overlap "$OVERLAP" $flags -t 1 -q >> "$d/detect.log" 2>&1
    done
    first=1
    for f in "$det"/*.csv; do
        if [ $first = 1 ]; then cat "$f"; first=0; else tail -n +2 "$f"; fi
    done > "$pred"
    "$XT" score --inference "$pred" --labels "$WORK/world/test/labels_scored.csv" --shore-root "$WORK/world/test/shoreline" -o "$score" > /dev/null 2> "$err" ||
        printf '{"error": "%s"}' "$(head -c 200 "$err")" > "$score"
    echo "$2 seed $3: $(cat "$score")  $(python3 "$TOOLS/fishing_auc.py" "$pred" "$WORK/world/test/labels_scored.csv")"
}
if [ "${1:-}" = --one ]; then one "$2" "$3"; exit; fi
if [ "${1:-}" = --base ]; then base "$2"; exit; fi
[ "$BASE_STEPS" -gt 0 ] && for s in $SEEDS; do echo "$s"; done | xargs -P "$JOBS" -L 1 sh "$SELF" --base
for s in $SEEDS; do for v in $VARIANTS; do echo "$v $s"; done; done |
    xargs -P "$JOBS" -L 1 sh "$SELF" --one
cat "$WORK"/run_*/result.txt > "$WORK/results.txt"
python3 "$TOOLS/context_world_summary.py" "$WORK/results.txt" | tee "$WORK/summary.md"
