#!/bin/sh
# MPI (docs/distributed.md), run under mpirun -np 2 --oversubscribe (and --allow-run-as-root as
# root, as in CI) whenever xt is built with MPI:
#   (a) data-parallel training: 2 ranks x batch 2 reach the weights of 1 process x batch 4 after
#       3 steps (within 1e-5 of the weights' scale), every rank holds the same weights (checked
#       by xt), an uneven split (batch 3) too, and --resume works with a different rank count;
#   (c) classify --list over 4 images with one corrupt: 3 results, the logits of the
#       single-image run, a clear error naming the file and the rank, a non-zero exit; a rerun
#       skips finished results; --list without mpirun does the same;
#   (d) a rank killed mid-job ends the job with a message and a non-zero status, a rerun finishes.
# Without MPI built in, the stub's refusal to run under a launcher is checked instead.
set -e
D="$BUILD/mpi_cli"
rm -rf "$D"; mkdir -p "$D"
MODEL=models/synth_xl.safetensors
CMP="perl tests/st_compare.pl"
if $XT --version | grep -q "^MPI: built in"; then
    command -v mpirun > /dev/null || { echo "xt has MPI built in, but there is no mpirun"; exit 1; }
    RUN="mpirun --oversubscribe -np 2"
    [ "$(id -u)" -ne 0 ] || RUN="$RUN --allow-run-as-root"
    # under make asan: Open MPI's own leaks at MPI_Finalize are suppressed (tests/lsan_mpi.supp)
    export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(pwd)/tests/lsan_mpi.supp"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
else
    RUN=""
    echo "xt built without MPI: checking the singleton stub only"
fi

# --list alone (single process), with one corrupt image
for i in 0 1 2; do $XT make-image "$D/img$i.tif" --size 200x150 --seed $i > /dev/null; done
head -c 3000 "$D/img0.tif" > "$D/bad.tif"
printf "$D/img0.tif\n$D/bad.tif\n\n# a comment\n$D/img1.tif\n$D/img2.tif\n" > "$D/list.txt"
if $XT classify -m $MODEL --list "$D/list.txt" -o "$D/one" -q -t 1 2> "$D/one.err"; then echo "a corrupt image must fail the job"; exit 1; fi
cat "$D/one.err"
grep -q "bad.tif failed: raster: .*bad.tif: not a readable TIFF" "$D/one.err"
grep -q "4 items on 1 rank: 3 done, 0 finished before, 1 failed; 3 results" "$D/one.err"
[ "$(wc -l < "$D/one/results.jsonl")" -eq 3 ]
for i in 0 1 2; do
    $XT classify -m $MODEL "$D/img$i.tif" --json -q -t 1 | tr -d '\n' | grep -o '"logits": \[[^]]*\]' > "$D/want$i"
    grep -o '"logits": \[[^]]*\]' "$D/one/img$i.json" | cmp - "$D/want$i"
done

if [ -z "$RUN" ]; then
    if OMPI_COMM_WORLD_SIZE=2 $XT classify -m $MODEL "$D/img0.tif" -q 2> "$D/stub.err"; then exit 1; fi
    grep -q "built without MPI" "$D/stub.err"
    exit 0
fi

# (c) the same list on 2 ranks: 3 results with the single-image logits, a clear error, exit 1
if $RUN $XT classify -m $MODEL --list "$D/list.txt" -o "$D/two" -q -t 1 2> "$D/two.err"; then echo "a corrupt image must fail the job"; exit 1; fi
cat "$D/two.err"
grep -q "xt classify: rank [01]: .*bad.tif failed: raster: .*bad.tif: not a readable TIFF" "$D/two.err"
grep -q "4 items on 2 ranks: 3 done, 0 finished before, 1 failed; 3 results" "$D/two.err"
[ "$(wc -l < "$D/two/results.jsonl")" -eq 3 ]
for i in 0 1 2; do grep -o '"logits": \[[^]]*\]' "$D/two/img$i.json" | cmp - "$D/want$i"; done
# a rerun skips what is finished (one result removed: only it is redone)
rm "$D/two/img1.json"
$RUN $XT classify -m $MODEL --list "$D/list.txt" -o "$D/two" -q -t 1 2> "$D/two2.err" || true
grep -q "4 items on 2 ranks: 1 done, 2 finished before, 1 failed; 3 results" "$D/two2.err"
grep -o '"logits": \[[^]]*\]' "$D/two/img1.json" | cmp - "$D/want1"
ls "$D/two" | grep -q tmp && { echo "temporary files left"; exit 1; }

# (d) a rank killed (SIGKILL) once the first result exists: the job ends with mpirun's message
# and a non-zero status, what was written is valid, a rerun finishes the rest
for i in 0 1 2 3; do $XT make-image "$D/k$i.tif" --size 2048x2048 --seed $i > /dev/null; echo "$D/k$i.tif"; done > "$D/k.txt"
if $RUN sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then "$0" "$@" & p=$!; n=0
        while [ -z "$(ls '"$D/k"'/*.json 2> /dev/null)" ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n+1)); done
        kill -9 $p; wait $p; else exec "$0" "$@"; fi' \
        $XT classify -m $MODEL --list "$D/k.txt" -o "$D/k" -q -t 1 2> "$D/k.err"; then
    echo "a killed rank must fail the job"; exit 1
fi
grep -q "exited on signal 9\|Exit code: *137\|exit code\|Killed" "$D/k.err"
done_before=$(ls "$D/k"/k*.json | wc -l)
$RUN $XT classify -m $MODEL --list "$D/k.txt" -o "$D/k" -q -t 1 2> "$D/k2.err"
cat "$D/k2.err"
grep -q "4 items on 2 ranks: $((4 - done_before)) done, $done_before finished before, 0 failed; 4 results" "$D/k2.err"
[ "$(wc -l < "$D/k/results.jsonl")" -eq 4 ]

# (a) data-parallel training
cat > "$D/cfg.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "xl", "crop_size": 32, "num_classes": 3, "mlp_ratio": 2,
           "context": {"attention_method": "naive", "hidden_size": 16, "n_layer": 1},
           "swin": {"embed_dim": 8, "depths": [1, 1], "num_heads": [1, 2], "window_size": 4}},
 "train": {"img_size": 64, "batch": 4, "steps": 3, "lr": 1e-3, "warmup": 1, "grad_ratio": 0.5, "seed": 7}}
JSON
T="$XT train -c $D/cfg.json --data synth:12:3 -t 1 -q"
$T -o "$D/one.safetensors" --export "$D/one_w.safetensors" > /dev/null
$RUN $T -o "$D/two.safetensors" --export "$D/two_w.safetensors" | tee "$D/two.log"
grep -q "^trained 3 steps" "$D/two.log"
grep -q "^ranks: 2, weights identical on every rank (fnv1a64 [0-9a-f]*); allreduce" "$D/two.log"
[ "$(grep -c "^trained" "$D/two.log")" -eq 1 ] # rank 0 alone reports
$CMP "$D/one_w.safetensors" "$D/two_w.safetensors" 1e-5
# not vacuous: one step fewer is far off
$T --steps 2 --export "$D/two_steps.safetensors" -o "$D/x.safetensors" > /dev/null
if $CMP "$D/one_w.safetensors" "$D/two_steps.safetensors" 1e-5; then exit 1; fi
# an uneven split: batch 3 as 1 + 2 samples
$T --batch 3 -o "$D/x.safetensors" --export "$D/one3.safetensors" > /dev/null
$RUN $T --batch 3 -o "$D/x.safetensors" --export "$D/two3.safetensors" > /dev/null
$CMP "$D/one3.safetensors" "$D/two3.safetensors" 1e-5
# --resume with another rank count: 2 ranks stop after step 1, one process finishes; and back
$RUN $T --stop-after 1 -o "$D/p2.safetensors" > /dev/null
$XT train --resume "$D/p2.safetensors" -t 1 -q -o "$D/r1.safetensors" --export "$D/r1_w.safetensors" > /dev/null
$CMP "$D/one_w.safetensors" "$D/r1_w.safetensors" 1e-5
$T --stop-after 2 -o "$D/p1.safetensors" > /dev/null
$RUN $XT train --resume "$D/p1.safetensors" -t 1 -q -o "$D/r2.safetensors" --export "$D/r2_w.safetensors" > /dev/null
$CMP "$D/one_w.safetensors" "$D/r2_w.safetensors" 1e-5
echo "mpi: ok"
