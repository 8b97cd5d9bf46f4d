#!/bin/sh
# xt classify / xt embed from the shell: text and JSON output, -k, ordinary images (PNG, JPEG),
# band selection, nodata, an ungeoreferenced embed, the progress line (only on a terminal), --help.
set -e
D=$BUILD/cli_stream; mkdir -p $D
G=${XT_GOLDEN:-tests/golden}
M=$G/xt_cls_naive.safetensors
fail() { echo "FAIL: $*"; exit 1; }
for c in classify embed make-image info; do $XT $c --help | grep -q "usage: xt $c" || fail "$c --help"; done
$XT classify --help | grep -q -- "--nodata" || fail "classify --help lists shared options"
$XT make-image $D/a.tif --size 600x300 --tile 128
# text: 5 ranked lines by default; -k 2: two
$XT classify -t 1 -m $M $D/a.tif > $D/t.txt
[ "$(grep -c '^ *[0-9]\. class' $D/t.txt)" = 5 ] || fail "text top-5"
grep -q "2 rows x 3 columns of 256 px regions" $D/t.txt || fail "region grid (ceil(600/256) = 3 columns, 2 rows)"
# json: one object with logits/probs/top, top has k entries, probs sum to 1
$XT classify -t 1 --json -k 2 -m $M $D/a.tif > $D/j.json
grep -q '"logits": \[' $D/j.json && grep -q '"probs": \[' $D/j.json && grep -q '"top": \[' $D/j.json || fail "json keys"
[ "$(grep -o '"class":' $D/j.json | wc -l)" = 2 ] || fail "-k 2"
awk -F'[][]' '/"probs"/ { n = split($2, p, ","); s = 0; for (i = 1; i <= n; i++) s += p[i];
    if (s < 0.9999 || s > 1.0001) exit 1 }' $D/j.json || fail "probs sum"
# the same pixels as PNG and as a planar striped TIFF give the same logits (lossless formats)
$XT make-image $D/a.png --size 600x300
$XT make-image $D/b.tif --size 600x300 --striped --planar --compress lzw
L1=$(grep '"logits"' $D/j.json)
L2=$($XT classify -t 1 --json -m $M $D/a.png | grep '"logits"')
L3=$($XT classify -t 1 --json -m $M $D/b.tif | grep '"logits"')
[ "$L1" = "$L2" ] || fail "PNG logits differ: $L1 / $L2"
[ "$L1" = "$L3" ] || fail "striped planar logits differ"
# JPEG runs; nodata and band selection change the result
$XT make-image $D/a.jpg --size 600x300 && $XT classify -t 1 --quiet -m $M $D/a.jpg > /dev/null || fail jpeg
L4=$($XT classify -t 1 --json --nodata 128 -m $M $D/a.tif | grep '"logits"')
[ "$L1" != "$L4" ] || fail "--nodata had no effect"
L5=$($XT classify -t 1 --json --bands 3,2,1 -m $M $D/a.tif | grep '"logits"')
[ "$L1" != "$L5" ] || fail "--bands 3,2,1 had no effect"
L6=$($XT classify -t 1 --json --bands 1,2,3 -m $M $D/a.tif | grep '"logits"')
[ "$L1" = "$L6" ] || fail "--bands 1,2,3 must equal the default"
# embed without georeferencing: 3 x 2 regions of 8 x 8 tokens, 64 float bands, no georef
$XT embed -t 1 --quiet -m $M $D/a.tif -o $D/e.tif
$XT info $D/e.tif > $D/e.txt
grep -q "size: *24 x 16" $D/e.txt && grep -q "bands: *64" $D/e.txt && grep -q "f32" $D/e.txt || fail "embed shape"
grep -q "georef: *none" $D/e.txt || fail "embed georef should be none"
# progress: on a file a few plain lines (phase start, ~every 10 %, end, the job's time), no
# carriage returns; a self-overwriting line with regions/s on a terminal; nothing with --quiet
$XT classify -t 1 -m $M $D/a.tif 2> $D/p.txt > /dev/null
! grep -q "$(printf '\r')" $D/p.txt || fail "carriage returns in a log"
grep -q "^xt classify: read+encode: 6 regions" $D/p.txt && grep -q "^xt classify: done in" $D/p.txt || fail "log lines: $(cat $D/p.txt)"
[ "$(wc -l < $D/p.txt)" -le 14 ] || fail "too many progress lines in a log"
$XT classify -t 1 -q -m $M $D/a.tif 2> $D/p.txt > /dev/null
[ ! -s $D/p.txt ] || fail "-q still writes progress"
# timing covers the whole job (the README's xl model: its global context encoder runs after the
# last region): "seconds" is the job's wall time, per-phase seconds beside it
$XT make-image $D/big.tif --size 1536x1536
T0=$(date +%s.%N)
$XT classify -t 1 --json -q -m models/synth_xl.safetensors $D/big.tif > $D/xl.json
T1=$(date +%s.%N)
grep -q '"phase_seconds": {"load": [0-9.]*, "read": [0-9.]*, "encode": [0-9.]*, "context": [0-9.]*}' $D/xl.json || fail "phase seconds"
# "seconds" holds every phase (their sum, within rounding) and no more than the process's wall
# time; no ratio to the wall time: on a loaded machine process start-up alone can take 0.3 s
tr -d '\n ' < $D/xl.json | awk -v t0=$T0 -v t1=$T1 '{
    s = $0; sub(/.*"seconds":/, "", s); s += 0; ph = $0; sub(/.*"phase_seconds":\{/, "", ph); sub(/\}.*/, "", ph)
    n = split(ph, kv, ","); sum = 0; for (i = 1; i <= n; i++) { split(kv[i], a, ":"); sum += a[2] }
    if (n != 4 || sum > s + 0.01 || s > t1 - t0) { print "seconds " s ", phases " sum ", wall " t1 - t0; exit 1 } }' ||
    fail "seconds is not the whole job"
$XT classify -t 1 -m models/synth_xl.safetensors $D/big.tif 2> $D/pxl.txt > /dev/null
grep -q "^xt classify: context: 2 layers" $D/pxl.txt && grep -q "^xt classify: context: done" $D/pxl.txt || fail "no context phase: $(cat $D/pxl.txt)"
if command -v script > /dev/null; then
    script -qec "$XT classify -t 1 -m $M $D/a.tif" /dev/null > $D/tty.txt 2>&1 || true
    grep -q "regions/s" $D/tty.txt || fail "no progress line on a terminal"
    script -qec "$XT classify -t 1 --quiet -m $M $D/a.tif" /dev/null > $D/tty2.txt 2>&1 || true
    ! grep -q "regions/s" $D/tty2.txt || fail "--quiet still shows progress"
fi
# threads: passive OpenMP waiting unless the user chose (xt re-executes itself with it set)
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT $XT --version | grep -q "OMP_WAIT_POLICY=passive" || fail "default wait policy is not passive"
OMP_WAIT_POLICY=active $XT --version | grep -q "OMP_WAIT_POLICY=active GOMP_SPINCOUNT=(unset)" || fail "the user's OMP_WAIT_POLICY overridden"
env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 $XT --version | grep -q "OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=1000" || fail "the user's GOMP_SPINCOUNT overridden"
# bad options
if $XT classify -m $M --std 1,0,1 $D/a.tif 2> /dev/null; then fail "std 0 accepted"; fi
if $XT classify -m $M --batch 0 $D/a.tif 2> /dev/null; then fail "batch 0 accepted"; fi
if $XT embed -m $M $D/a.tif 2> /dev/null; then fail "embed without -o accepted"; fi
echo ok
