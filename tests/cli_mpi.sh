#!/bin/sh
# MPI (docs/distributed.md), run under mpirun -np 2 --oversubscribe (and --allow-run-as-root as
# root, as in CI) whenever xt is built with MPI:
#   (a) data-parallel training: 2 ranks x batch 2 reach the weights of 1 process x batch 4 after
#       3 steps (within 1e-5 of the weights' scale), every rank holds the same weights (checked
#       by xt), an uneven split (batch 3) too, and --resume works with a different rank count;
#   (b) one image split by region rows across ranks: classify gives the single-process logits
#       (within 1e-6; maps identical), embed an identical file (2 and 3 ranks); a rank failing
#       mid-stream or seeing another image ends the job with its rank and the file named;
#       detect of one scene across 2 and 3 ranks (tiles shared) writes the single run's files;
#   --list for embed and detect, alone and on 2 ranks: a corrupt input fails with its name, the
#       others are done (equal to single runs), a rerun skips finished ones;
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
    MPIRUN="mpirun --oversubscribe"
    [ "$(id -u)" -ne 0 ] || MPIRUN="$MPIRUN --allow-run-as-root"
    RUN="$MPIRUN -np 2"
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

# embed --list and detect --list: the same driver (one corrupt input: a clear error, the others
# done and equal to single runs; a rerun skips what is finished), alone and on 2 ranks
G=tests/golden
NM=$G/xt_cls_naive.safetensors
for i in 0 1; do $XT make-image "$D/e$i.tif" --size 600x300 --seed $i > /dev/null; done
printf "$D/e0.tif\n$D/bad.tif\n$D/e1.tif\n" > "$D/elist.txt"
$XT embed -m $NM "$D/e1.tif" -o "$D/e1_one.tif" -q -t 1
$XT make-image "$D/sar.tif" --size 300x260 --sar --geo 32633,500000,4650000,10 > /dev/null
mkdir -p "$D/scene1" # the dataset's layout: one band per file
$XT make-image "$D/scene1/VV_dB.tif" --size 300x260 --bands 1 --type f32 --seed 1 > /dev/null
$XT make-image "$D/scene1/VH_dB.tif" --size 300x260 --bands 1 --type f32 --seed 2 > /dev/null
printf "$D/sar.tif\n$D/bad.tif\n$D/scene1/\n" > "$D/dlist.txt"
XM=$G/xview_seg_xl.safetensors
$XT detect -m $XM "$D/sar.tif" -o "$D/d_one" -q -t 1 > /dev/null
for r in "" "$RUN"; do
    o="$D/el${r:+2}"; rm -rf "$o"
    if $r $XT embed -m $NM --list "$D/elist.txt" -o "$o" -q -t 1 2> "$D/el.err"; then echo "a corrupt image must fail the job"; exit 1; fi
    cat "$D/el.err"
    grep -q "xt embed: \(rank [01]: \)\?.*bad.tif failed: raster: .*bad.tif: not a readable TIFF" "$D/el.err"
    grep -q "3 items on [12] ranks\?: 2 done, 0 finished before, 1 failed; 2 results" "$D/el.err"
    cmp "$D/e1_one.tif" "$o/e1.tif"
    grep -q '"output": ".*e0.tif", "width": 24, "height": 16, "bands": 64' "$o/results.jsonl"
    rm "$o/e0.json"
    $r $XT embed -m $NM --list "$D/elist.txt" -o "$o" -q -t 1 2> "$D/el2.err" || true
    grep -q "3 items on [12] ranks\?: 1 done, 1 finished before, 1 failed; 2 results" "$D/el2.err"
    o="$D/dl${r:+2}"; rm -rf "$o"
    if $r $XT detect -m $XM --list "$D/dlist.txt" -o "$o" -q -t 1 2> "$D/dl.err"; then echo "a corrupt scene must fail the job"; exit 1; fi
    cat "$D/dl.err"
    grep -q "xt detect: \(rank [01]: \)\?.*bad.tif failed: .*bad.tif: not a readable TIFF" "$D/dl.err"
    grep -q "3 items on [12] ranks\?: 2 done, 0 finished before, 1 failed; 2 results" "$D/dl.err"
    cmp "$D/d_one/sar.csv" "$o/sar.csv"
    [ -s "$o/scene1.csv" ] && [ -s "$o/scene1.geojson" ]
    grep -q '"scene_id": "scene1", "width": 300, "height": 260' "$o/results.jsonl"
    $r $XT detect -m $XM --list "$D/dlist.txt" -o "$o" -q -t 1 2> "$D/dl2.err" || true
    grep -q "3 items on [12] ranks\?: 0 done, 2 finished before, 1 failed; 2 results" "$D/dl2.err"
    [ -n "$RUN" ] || break
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

# (b) one image across ranks: rows r, r+N, ... on rank r, rank 0 runs the context and writes
$XT make-image "$D/s.tif" --size 1100x1100 --tile 256 --compress deflate --seed 5 > /dev/null # 5 x 5 regions of 256
logits() { tr -d '\n' < "$1" | grep -o '"logits": \[[^]]*\]' | sed 's/.*\[//; s/\]//' | tr ',' '\n'; }
for m in naive xl; do
    $XT classify -m $G/xt_cls_$m.safetensors "$D/s.tif" --json -q -t 1 --map "$D/s1_$m.tif" > "$D/s1_$m.json"
    $RUN $XT classify -m $G/xt_cls_$m.safetensors "$D/s.tif" --json -q -t 1 --map "$D/s2_$m.tif" > "$D/s2_$m.json"
    logits "$D/s1_$m.json" > "$D/s1_$m.l"; logits "$D/s2_$m.json" > "$D/s2_$m.l"
    [ "$(wc -l < "$D/s1_$m.l")" -ge 2 ] && [ "$(grep -c '"logits"' "$D/s2_$m.json")" -eq 1 ] # rank 0 alone prints
    paste "$D/s1_$m.l" "$D/s2_$m.l" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6) { print "logit " NR ": " $1 " vs " $2; bad = 1 } }
        END { exit bad }'
    cmp "$D/s1_$m.tif" "$D/s2_$m.tif"
done
$XT embed -m $G/xt_cls_naive.safetensors "$D/s.tif" -o "$D/e1.tif" -q -t 1
$RUN $XT embed -m $G/xt_cls_naive.safetensors "$D/s.tif" -o "$D/e2.tif" -q -t 1
cmp "$D/e1.tif" "$D/e2.tif"
$MPIRUN -np 3 $XT embed -m $G/xt_cls_naive.safetensors "$D/s.tif" -o "$D/e3.tif" -q -t 1 # 5 rows: 2 + 2 + 1
cmp "$D/e1.tif" "$D/e3.tif"
# tiles of 512 hold 2 region rows: rows go out in pairs (0-1, 2-3 and 4 on ranks 0, 1, 2), so
# together the ranks decode each tile once, as one process does
$XT make-image "$D/s512.tif" --size 1100x1100 --tile 512 --seed 6 > /dev/null
XT_STREAM_STATS=1 $XT embed -m $G/xt_cls_naive.safetensors "$D/s512.tif" -o "$D/f1.tif" -q -t 1 2> "$D/f1.err"
XT_STREAM_STATS=1 $MPIRUN -np 3 $XT embed -m $G/xt_cls_naive.safetensors "$D/s512.tif" -o "$D/f3.tif" -q -t 1 2> "$D/f3.err"
cmp "$D/f1.tif" "$D/f3.tif"
cat "$D/f1.err" "$D/f3.err"
[ "$(grep -c "^xt: stream: rank [012]: 25 regions" "$D/f3.err")" -eq 3 ]
grep -q "rank 0: 25 regions (10 encoded here)" "$D/f3.err" && grep -q "rank 2: 25 regions (5 encoded here)" "$D/f3.err"
[ "$(sed -n 's/.* \([0-9]*\) blocks decoded.*/\1/p' "$D/f3.err" | awk '{ s += $1 } END { print s }')" -eq \
  "$(sed -n 's/.* \([0-9]*\) blocks decoded.*/\1/p' "$D/f1.err")" ]
# a corrupt tile in region row 1 (rank 1's): the job ends with rank 1's error, no output file
sz=$(wc -c < "$D/s.tif"); cp "$D/s.tif" "$D/sbad.tif"
dd if=/dev/zero of="$D/sbad.tif" bs=1000 count=200 seek=$((sz * 3 / 10000)) conv=notrunc 2> /dev/null
if $RUN $XT embed -m $G/xt_cls_naive.safetensors "$D/sbad.tif" -o "$D/ebad.tif" -q -t 1 2> "$D/sbad.err"; then echo "a failing rank must fail the job"; exit 1; fi
cat "$D/sbad.err"
grep -q "xt: rank 1: raster: .*sbad.tif: cannot decode tile" "$D/sbad.err"
[ ! -e "$D/ebad.tif" ]
# a rank that sees another image (a node with another file) is refused, naming both grids
$XT make-image "$D/small.tif" --size 600x300 > /dev/null
if $RUN sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$0" "$@" '"$D/small.tif"'; fi; exec "$0" "$@" "'"$D/s.tif"'"' \
        $XT classify -m $G/xt_cls_naive.safetensors -q -t 1 2> "$D/smis.err"; then echo "a mismatch must fail the job"; exit 1; fi
cat "$D/smis.err"
grep -q "xt: rank 1: stream: .*small.tif is 2 x 3 regions, .*rank 0 has 5 x 5" "$D/smis.err"
# detect: tiles i on rank i % N, rank 0 stitches and writes: every file identical to one
# process's (the golden model with its centre bias raised, as in cli_detect.sh, so that
# detections exist); 30 tiles of 128 on 3 ranks, --maps, and the chipped mode on 2
python3 - $XM "$D/xm.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["decoder.center_mask.layer.3.bias"]
o = 8 + n + t["data_offsets"][0]
b[o:o + 4] = struct.pack("<f", struct.unpack("<f", b[o:o + 4])[0] + 99.6)
open(sys.argv[2], "wb").write(b)
PY
$XT make-image "$D/sar2.tif" --size 700x520 --sar --compress deflate --geo 32633,500000,4650000,10 > /dev/null
$XT detect -m "$D/xm.safetensors" "$D/sar2.tif" -o "$D/dt1" --maps -q -t 1 > "$D/dt1.log"
$MPIRUN -np 3 $XT detect -m "$D/xm.safetensors" "$D/sar2.tif" -o "$D/dt3" --maps -q -t 1 > "$D/dt3.log"
cat "$D/dt3.log"
[ "$(wc -l < "$D/dt1/sar2.csv")" -gt 100 ]
for f in csv geojson vessel.tif fishing.tif center.tif length.tif png; do cmp "$D/dt1/sar2.$f" "$D/dt3/sar2.$f"; done
[ "$(grep -c "detections" "$D/dt3.log")" -eq 1 ] # rank 0 alone reports, every rank's calls counted:
sed 's/ -> .*//' "$D/dt1.log" > "$D/dt1.sum"; sed 's/ -> .*//' "$D/dt3.log" > "$D/dt3.sum"; cmp "$D/dt1.sum" "$D/dt3.sum"
$XT detect -m "$D/xm.safetensors" "$D/sar2.tif" -o "$D/dc1" --chip -q -t 1 > /dev/null
$RUN $XT detect -m "$D/xm.safetensors" "$D/sar2.tif" -o "$D/dc2" --chip -q -t 1 > /dev/null
cmp "$D/dc1/sar2.csv" "$D/dc2/sar2.csv"
# a corrupt block of the scene: the job ends with the error of the rank that read it, no CSV
sz=$(wc -c < "$D/sar2.tif"); cp "$D/sar2.tif" "$D/sarbad.tif"
dd if=/dev/zero of="$D/sarbad.tif" bs=1000 count=100 seek=$((sz * 5 / 10000)) conv=notrunc 2> /dev/null
if $RUN $XT detect -m "$D/xm.safetensors" "$D/sarbad.tif" -o "$D/dbad" -q -t 1 2> "$D/dbad.err"; then echo "a failing rank must fail the job"; exit 1; fi
cat "$D/dbad.err"
grep -q "xt: rank [01]: raster: .*sarbad.tif: cannot decode" "$D/dbad.err"
[ ! -e "$D/dbad/sarbad.csv" ]

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
# SGD with a frozen encoder and validation every step: 2 ranks reach the single process's
# weights; rank 0 alone validates and writes the log (3 steps + 3 validations) and best checkpoints
V="--optimizer sgd --lr 0.05 --freeze-epochs 0.4 --classifier-ratio 2 --val synth:6:4 --val-every 1"
$T $V -o "$D/v1.safetensors" --export "$D/v1_w.safetensors" > /dev/null
$RUN $T $V -o "$D/v2.safetensors" --export "$D/v2_w.safetensors" > "$D/v2.log"
grep -q "^validations: 3" "$D/v2.log"
$CMP "$D/v1_w.safetensors" "$D/v2_w.safetensors" 1e-5
[ "$(wc -l < "$D/v2.metrics.jsonl")" -eq 6 ] && [ "$(grep -c '"val"' "$D/v2.metrics.jsonl")" -eq 3 ]
[ -f "$D/v2.best_top5.safetensors" ] && [ -f "$D/v2.curves.png" ]
# Mixup / CutMix across ranks: sample b mixes with N-1-b of the global batch, which a rank loads
# itself, so 2 ranks mix as one process does
sed 's/"seed": 7}/"seed": 7, "mixup": 0.8, "cutmix": 1.0}/' "$D/cfg.json" > "$D/mix.json"
TM="$XT train -c $D/mix.json --data synth:12:3 -t 1 -q"
$TM -o "$D/x.safetensors" --export "$D/mix1.safetensors" > /dev/null
$RUN $TM -o "$D/x.safetensors" --export "$D/mix2.safetensors" > /dev/null
$CMP "$D/mix1.safetensors" "$D/mix2.safetensors" 1e-5
if $CMP "$D/one_w.safetensors" "$D/mix1.safetensors" 1e-5; then exit 1; fi
# ... and per sample (mode elem: each sample's own lam, keyed by its global index)
sed 's/"seed": 7}/"seed": 7, "mixup": 0.8, "cutmix": 1.0, "mixup_mode": "elem"}/' "$D/cfg.json" > "$D/elem.json"
TE="$XT train -c $D/elem.json --data synth:12:3 -t 1 -q"
$TE -o "$D/x.safetensors" --export "$D/elem1.safetensors" > /dev/null
$RUN $TE -o "$D/x.safetensors" --export "$D/elem2.safetensors" > /dev/null
$CMP "$D/elem1.safetensors" "$D/elem2.safetensors" 1e-5
echo "mpi: ok"
