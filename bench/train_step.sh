#!/bin/sh
# train_step.sh — one training step (forward + backward + AdamW) of a Swin V2-T xT classifier
# (naive head, 256² regions, batch 4), xt beside PyTorch, ROUNDS interleaved rounds; prints each
# round's seconds per step and the median ratio PyTorch / xt (docs/performance.md, "Training").
# Run from the repository root after `make`:
#
#   sh bench/train_step.sh                       # THREADS=1,2 ROUNDS=3 STEPS=3 BATCH=4
#
# xt: `xt train` on a 4-image CSV (random weights, lr 1e-4), the median of its per-step times
# without the first step. PyTorch: bench/torch_train_step.py (the same network from torchvision's
# Swin V2 classes, AdamW), with the OpenMP OpenBLAS as in run_bench.sh.
set -eu
THREADS=${THREADS:-1,2}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-3}
BATCH=${BATCH:-4}
XT=${XT:-./xt}
PY=${PY:-/usr/bin/python3}
D=${DIR:-build/bench/train}
mkdir -p "$D"
TORCH_ENV="LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -s "$D/r.tif" ] || $XT make-image "$D/r.tif" --size 256x256 --bands 3 > /dev/null
: > "$D/list.csv"
i=0
while [ $i -lt "$BATCH" ]; do echo "r.tif,$i" >> "$D/list.csv"; i=$((i + 1)); done
. "$(dirname "$0")/lib_swint_model.sh" # the Swin V2-T xT model of the other benchmarks
swint_config "$D/swint.json" naive 3 \
    "{\"img_size\": 256, \"batch\": $BATCH, \"steps\": $((STEPS + 1)), \"lr\": 1e-4, \"weight_decay\": 0.05}"
RES=$D/results.txt
: > "$RES"
for r in $(seq "$ROUNDS"); do
    echo "== round $r of $ROUNDS, $(date -u '+%H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    for t in $(echo "$THREADS" | tr ',' ' '); do
        $XT train -c "$D/swint.json" --data "$D/list.csv" -o "$D/ck.safetensors" -t "$t" 2>&1 |
            awk -v r="$r" -v t="$t" -v b="$BATCH" '/^step [0-9]+\// { split($2, s, "/"); if (s[1] > 1) x[++n] = $7 }
                END { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { y = x[i]; x[i] = x[j]; x[j] = y }
                      printf "R%s xt-train threads=%s batch=%s sec_per_step=%s\n", r, t, b, n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }' |
            tee -a "$RES"
        rm -f "$D/ck.safetensors"
        env $TORCH_ENV "$PY" bench/torch_train_step.py --threads "$t" --batch "$BATCH" --steps "$STEPS" | grep '^RESULT' |
            sed "s/^RESULT/R$r/" | tee -a "$RES"
    done
done
echo "== seconds per step, median over rounds; PyTorch / xt per round and median"
awk '{ split($3, a, "="); t = a[2]; split($5, b, "="); v[$2, t, substr($1, 2)] = b[2]; th[t] = 1; ro[substr($1, 2)] = 1 }
     END { for (t in th) { n = 0; s = ""
             for (r in ro) if (v["xt-train", t, r] > 0 && v["torch-train", t, r] > 0) { q[++n] = v["torch-train", t, r] / v["xt-train", t, r]
                 s = s sprintf(" round %s: xt %.2f s, PyTorch %.2f s (%.2fx);", r, v["xt-train", t, r], v["torch-train", t, r], q[n]) }
             for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (q[j] < q[i]) { y = q[i]; q[i] = q[j]; q[j] = y }
             if (n) printf "threads %s:%s median %.2fx\n", t, s, n % 2 ? q[(n + 1) / 2] : (q[n / 2] + q[n / 2 + 1]) / 2 } }' "$RES"
