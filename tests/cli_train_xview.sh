#!/bin/sh
# xt train on xView3 data end to end, tiny dense model (embed 8, depths 1-1-1-1, tiles of 64,
# data crops of 128 = 2 x 2 tiles, context 1 layer of 128): a synthetic SAR scene from
# `xt make-image --sar` and a label CSV in the official columns; the loss falls; a run stopped
# after 3 steps and resumed reaches the uninterrupted run's checkpoint bit for bit; --steps 0
# writes a fresh model; both run through `xt detect`; bad data fails with clear messages.
set -u
T=$BUILD/cli_train_xview
rm -rf "$T"; mkdir -p "$T/scenes" "$T/bad/s1"
fail() { echo "FAIL: $*"; exit 1; }
$XT make-image "$T/scenes/sA.tif" --size 200x180 --sar --seed 3 > /dev/null || fail "make-image --sar"
$XT make-image "$T/scenes/sB.tif" --size 170x190 --sar --seed 4 > /dev/null || fail "make-image --sar"
cat > "$T/labels.csv" <<'CSV'
scene_id,detect_scene_row,detect_scene_column,is_vessel,is_fishing,vessel_length_m,confidence
sA,40,50,True,False,35.5,HIGH
sA,90,120,True,True,20.0,MEDIUM
sA,130,60,,,,LOW
sA,150,160,False,False,,HIGH
sB,60,70,True,,80.25,HIGH
sB,120,100,True,False,15.0,MEDIUM
other_scene,10,10,True,True,10,HIGH
CSV
cat > "$T/cfg.json" <<JSON
{"model": {"kind": "xview", "crop_size": 64,
           "swin": {"embed_dim": 8, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 4], "window_size": 16},
           "decoder_filters": [12, 16, 24, 32], "last_upsample_filters": 8,
           "xl_context": {"enabled": true, "hidden_size": 128, "n_layer": 1, "mlp_ratio": 1}},
 "train": {"img_size": 128, "batch": 1, "steps": 12, "lr": 1e-3, "seed": 5,
           "data": {"xview3": {"scenes": "$T/scenes", "labels": "$T/labels.csv"}}}}
JSON
# uninterrupted, with progress lines
$XT train -c "$T/cfg.json" -t 2 -o "$T/full.safetensors" > "$T/full.log" 2> "$T/full.err" || fail "train: $(cat $T/full.err)"
cat "$T/full.log"
grep -q "trained 12 steps" "$T/full.log" || fail "summary: $(cat $T/full.log)"
grep -q "^step 12/12  loss " "$T/full.err" || fail "progress: $(cat $T/full.err)"
first=$(grep "^step 1/12 " "$T/full.err" | sed 's/.*loss \([0-9.]*\).*/\1/')
last=$(grep "^step 1[0-2]/12 " "$T/full.err" | sed 's/.*loss \([0-9.]*\).*/\1/' | awk '{s += $1} END {print s / NR}')
grep "s/step" "$T/full.err" | head -2
echo "loss: step 1 $first, mean of steps 10-12 $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.8 * a) }' || fail "loss did not fall: $first -> $last"
# the metrics log beside the checkpoint: one line per step, its loss the progress line's, the terms
python3 - "$T/full.metrics.jsonl" "$first" <<'PY' || fail "metrics log"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows] == list(range(1, 13)), rows
for r in rows:
    assert all(k in r for k in ("lr", "loss", "vessel", "fishing", "center", "length", "time")), r
assert abs(rows[0]["loss"] - float(sys.argv[2])) <= 1e-3 * abs(rows[0]["loss"]), (rows[0], sys.argv[2])
assert rows[0]["vessel"] > 0 and rows[0]["fishing"] > 0, rows[0]
print("metrics log:", len(rows), "lines; step 1:", rows[0])
PY
[ -s "$T/full.curves.png" ] || fail "no curves PNG beside the metrics log"
# train.loss.fishing_on_vessels (not official): the fishing target is ignored off the vessel discs,
# so the first step's loss (same weights, same crops) differs; the checkpoint keeps the choice
sed 's|"seed": 5,|"seed": 5, "loss": {"fishing_on_vessels": true},|' "$T/cfg.json" > "$T/onv.json"
$XT train -c "$T/onv.json" -t 2 --steps 1 -o "$T/onv.safetensors" > /dev/null 2> "$T/onv.err" || fail "fishing_on_vessels: $(cat $T/onv.err)"
onv=$(grep "^step 1/1 " "$T/onv.err" | sed 's/.*loss \([0-9.]*\).*/\1/')
echo "step 1 loss: official targets $first, fishing on vessels only $onv"
[ -n "$onv" ] && [ "$onv" != "$first" ] || fail "fishing_on_vessels left the loss at $first"
grep -aEq 'fishing_on_vessels.{0,2}: true' "$T/onv.safetensors" || fail "the checkpoint does not keep fishing_on_vessels"
# train.loss.combo_fishing: the fishing mask's own Combo weights (here without Dice); kept in the
# checkpoint, so a resume trains with them; a negative weight is refused
sed 's|"seed": 5,|"seed": 5, "loss": {"combo_fishing": {"dice": 0}},|' "$T/cfg.json" > "$T/cf.json"
$XT train -c "$T/cf.json" -t 2 --steps 1 -o "$T/cf.safetensors" > /dev/null 2> "$T/cf.err" || fail "combo_fishing: $(cat $T/cf.err)"
cf=$(grep "^step 1/1 " "$T/cf.err" | sed 's/.*loss \([0-9.]*\).*/\1/')
echo "step 1 loss: official $first, no Dice on the fishing mask $cf"
[ -n "$cf" ] && [ "$cf" != "$first" ] || fail "combo_fishing left the loss at $first"
grep -aEq 'combo_fishing.{0,4}: [{].{0,4}bce.{0,4}: 1, .{0,4}focal.{0,4}: 3, .{0,4}dice.{0,4}: 0[}]' "$T/cf.safetensors" ||
    fail "the checkpoint does not keep combo_fishing"
sed 's|"seed": 5,|"seed": 5, "loss": {"combo_fishing": {"dice": -1}},|' "$T/cfg.json" > "$T/cfn.json"
$XT train -c "$T/cfn.json" -t 2 --steps 1 -o "$T/x.safetensors" > /dev/null 2> "$T/cfn.err" && fail "a negative Combo weight was accepted"
grep -q "combo_fishing: dice -1 must be in \[0, 1e6\]" "$T/cfn.err" || fail "combo_fishing error: $(cat "$T/cfn.err")"
# --context-lr-ratio (not official): 0 leaves every context_model tensor at its initial value while
# the rest trains; 1 is the default run (the same bytes as without the flag); kept for a resume
$XT train -c "$T/cfg.json" -t 2 -q --steps 0 -o "$T/init.safetensors" > /dev/null || fail "steps 0 (init)"
$XT train -c "$T/cfg.json" -t 2 -q --steps 2 --context-lr-ratio 0 -o "$T/cr0.safetensors" > /dev/null 2> "$T/cr0.err" ||
    fail "--context-lr-ratio 0: $(cat "$T/cr0.err")"
python3 tests/st_diff.py "$T/init.safetensors" "$T/cr0.safetensors" > "$T/cr0.diff" || fail "st_diff"
ctx_same=$(grep -c '^same context_model\.' "$T/cr0.diff") ctx_all=$(grep -c ' context_model\.' "$T/cr0.diff")
rest=$(grep -vc ' context_model\.' "$T/cr0.diff") moved=$(grep -v ' context_model\.' "$T/cr0.diff" | grep -c '^diff ')
[ "$ctx_all" -ge 10 ] && [ "$rest" -ge 20 ] && [ "$ctx_same" -eq "$ctx_all" ] && [ "$moved" -ge $((rest / 2)) ] ||
    fail "context_lr_ratio 0: $ctx_same of $ctx_all context tensors unchanged (want all), $moved of $rest others trained (want half)"
grep -aEq 'context_lr_ratio.{0,2}: 0,' "$T/cr0.safetensors" || fail "the checkpoint does not keep context_lr_ratio"
sed 's|"seed": 5,|"seed": 5, "context_lr_ratio": 0,|' "$T/cfg.json" > "$T/cr0.json"
$XT train -c "$T/cr0.json" -t 2 -q --steps 2 -o "$T/cr0c.safetensors" > /dev/null 2> "$T/cr0c.err" || fail "train.context_lr_ratio: $(cat "$T/cr0c.err")"
cmp -s "$T/cr0.safetensors" "$T/cr0c.safetensors" || fail "train.context_lr_ratio 0 differs from --context-lr-ratio 0"
$XT train -c "$T/cfg.json" -t 2 -q --steps 2 --context-lr-ratio 1 -o "$T/cr1.safetensors" > /dev/null || fail "--context-lr-ratio 1"
$XT train -c "$T/cfg.json" -t 2 -q --steps 2 -o "$T/cr.safetensors" > /dev/null || fail "2 steps"
cmp -s "$T/cr1.safetensors" "$T/cr.safetensors" || fail "--context-lr-ratio 1 differs from the default"
$XT train -c "$T/cfg.json" -t 2 -q --steps 2 --context-lr-ratio -1 -o "$T/x.safetensors" > /dev/null 2> "$T/crn.err" && fail "a negative context_lr_ratio was accepted"
grep -q "context_lr_ratio -1 out of range" "$T/crn.err" || fail "context_lr_ratio error: $(cat "$T/crn.err")"
# stopped after 3 steps, resumed to 12: the same bytes
$XT train -c "$T/cfg.json" -t 2 -q --stop-after 3 -o "$T/part.safetensors" > /dev/null || fail "partial run"
$XT train --resume "$T/part.safetensors" -t 2 -q -o "$T/resumed.safetensors" > "$T/res.log" || fail "resume"
grep -q "trained 12 steps" "$T/res.log" || fail "resume summary: $(cat $T/res.log)"
# a finished checkpoint resumed to a new name trains nothing and writes no log or plot
$XT train --resume "$T/full.safetensors" -t 2 -q -o "$T/again.safetensors" > "$T/again.log" 2> "$T/again.err" || fail "resume of a finished run: $(cat "$T/again.err")"
[ -e "$T/again.metrics.jsonl" ] && fail "a resume that trained nothing wrote a metrics log"
cmp "$T/full.safetensors" "$T/resumed.safetensors" || fail "resumed run differs from the uninterrupted one"
# the two logs (steps 1-3, then 4-12) are the uninterrupted one, times apart
python3 - "$T/full.metrics.jsonl" "$T/part.metrics.jsonl" "$T/resumed.metrics.jsonl" <<'PY' || fail "resumed metrics log"
import json, sys
a, b, c = ([(r["step"], r["loss"], r["fishing"]) for r in map(json.loads, open(f))] for f in sys.argv[1:])
assert a == b + c, (a, b, c)
PY
# another seed: other weights (the comparison above is not vacuous)
$XT train -c "$T/cfg.json" -t 2 -q --steps 2 --seed 6 -o "$T/other.safetensors" > /dev/null || fail "seed 6"
$XT train -c "$T/cfg.json" -t 2 -q --steps 2 -o "$T/two.safetensors" > /dev/null || fail "seed 5"
if cmp -s "$T/two.safetensors" "$T/other.safetensors"; then fail "seed has no effect"; fi
# --steps 0: a freshly initialised model file; it and the trained one run through xt detect
$XT train -c "$T/cfg.json" -q --steps 0 -o "$T/fresh.safetensors" > "$T/fresh.log" || fail "steps 0"
grep -q "trained 0 steps" "$T/fresh.log" || fail "steps 0 summary"
for mdl in fresh full; do
    $XT detect -m "$T/$mdl.safetensors" "$T/scenes/sA.tif" -o "$T/det_$mdl" --tile 128 -t 2 > "$T/det_$mdl.log" 2>&1 \
        || fail "detect with the $mdl model: $(cat $T/det_$mdl.log)"
    head -1 "$T/det_$mdl/sA.csv" | grep -q "^detect_scene_row,detect_scene_column,scene_id," || fail "detect CSV ($mdl)"
done
# a context model started from a no-context one (--init) is that model at step 0: the context
# out_proj starts at zero, so the maps are the same bytes; after a step they are not (--chip: both
# models run each tile in one call; the official loop runs a context model region by region)
sed 's|"enabled": true|"enabled": false|' "$T/cfg.json" > "$T/noctx.json"
$XT train -c "$T/noctx.json" -q --steps 2 -t 2 -o "$T/noctx.safetensors" > /dev/null || fail "no-context model"
$XT train -c "$T/cfg.json" -q --steps 0 --init "$T/noctx.safetensors" -o "$T/ctx0.safetensors" > /dev/null || fail "context from no-context"
$XT train -c "$T/cfg.json" -q --steps 1 --init "$T/noctx.safetensors" -t 2 -o "$T/ctx1.safetensors" > /dev/null || fail "context step 1"
for mdl in noctx ctx0 ctx1; do
    $XT detect -m "$T/$mdl.safetensors" "$T/scenes/sA.tif" -o "$T/id_$mdl" --tile 128 --chip --maps -t 2 -q > "$T/id_$mdl.log" 2>&1 \
        || fail "detect with $mdl: $(cat $T/id_$mdl.log)"
done
cmp "$T/id_noctx/sA.fishing.tif" "$T/id_ctx0/sA.fishing.tif" || fail "the fresh context model is not the identity"
cmp "$T/id_noctx/sA.vessel.tif" "$T/id_ctx0/sA.vessel.tif" || fail "the fresh context model is not the identity (vessel)"
if cmp -s "$T/id_noctx/sA.length.tif" "$T/id_ctx1/sA.length.tif"; then fail "one step left the context model the identity"; fi
# train.context_identity false: out_proj keeps the fresh init (as the official nn.Linear's is
# random), the only tensor that differs from the default fresh model; started from the no-context
# model it is no longer that model
sed 's|"seed": 5,|"seed": 5, "context_identity": false,|' "$T/cfg.json" > "$T/cid.json"
$XT train -c "$T/cid.json" -q --steps 0 -o "$T/cid0.safetensors" > /dev/null || fail "context_identity false"
python3 tests/st_diff.py "$T/fresh.safetensors" "$T/cid0.safetensors" | grep -v '^same ' > "$T/cid.diff"
[ "$(cat "$T/cid.diff")" = "diff context_model.out_proj.weight" ] || fail "context_identity false changed: $(cat "$T/cid.diff")"
grep -aEq 'context_identity.{0,2}: false' "$T/cid0.safetensors" || fail "the checkpoint does not keep context_identity"
$XT train -c "$T/cid.json" -q --steps 0 --init "$T/noctx.safetensors" -o "$T/cidn.safetensors" > /dev/null || fail "context_identity false, --init"
$XT detect -m "$T/cidn.safetensors" "$T/scenes/sA.tif" -o "$T/id_cidn" --tile 128 --chip --maps -t 2 -q > "$T/id_cidn.log" 2>&1 ||
    fail "detect with cidn: $(cat $T/id_cidn.log)"
if cmp -s "$T/id_noctx/sA.fishing.tif" "$T/id_cidn/sA.fishing.tif"; then fail "context_identity false started as the identity"; fi
# detect --no-context leaves the context model out: the maps of ctx1 with its out_proj zeroed (the
# context's add is 0), and not those of ctx1; a model without context is refused, nothing written
python3 - "$T/ctx1.safetensors" "$T/ctx1z.safetensors" <<'PY' || fail "zeroing out_proj"
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for k in ("context_model.out_proj.weight", "context_model.out_proj.bias"):
    o0, o1 = h[k]["data_offsets"]
    b[8 + n + o0:8 + n + o1] = bytes(o1 - o0)
open(sys.argv[2], "wb").write(b)
PY
$XT detect -m "$T/ctx1z.safetensors" "$T/scenes/sA.tif" -o "$T/id_ctx1z" --tile 128 --chip --maps -t 2 -q > /dev/null 2>&1 || fail "detect ctx1z"
$XT detect -m "$T/ctx1.safetensors" --no-context "$T/scenes/sA.tif" -o "$T/id_ctx1n" --tile 128 --chip --maps -t 2 -q > "$T/nc.log" 2>&1 ||
    fail "detect --no-context: $(cat "$T/nc.log")"
for k in vessel fishing center length; do
    cmp -s "$T/id_ctx1z/sA.$k.tif" "$T/id_ctx1n/sA.$k.tif" || fail "--no-context is not the zeroed context ($k map)"
done
if cmp -s "$T/id_ctx1/sA.fishing.tif" "$T/id_ctx1n/sA.fishing.tif"; then fail "--no-context changed nothing"; fi
if $XT detect -m "$T/noctx.safetensors" --no-context "$T/scenes/sA.tif" -o "$T/id_ncx" -q > /dev/null 2> "$T/ncx.err"; then
    fail "--no-context accepted for a model without context"; fi
grep -q "no context model" "$T/ncx.err" || fail "--no-context error: $(cat "$T/ncx.err")"
[ -z "$(ls "$T/id_ncx")" ] || fail "--no-context refused but wrote $(ls "$T/id_ncx")"
# the VV_dB.tif / VH_dB.tif folder layout
mkdir -p "$T/folders/sA"
$XT make-image "$T/folders/sA/VV_dB.tif" --size 200x180 --bands 1 --type f32 --seed 3 > /dev/null
$XT make-image "$T/folders/sA/VH_dB.tif" --size 200x180 --bands 1 --type f32 --seed 4 > /dev/null
sed "s|\"scenes\": \"$T/scenes\"|\"scenes\": [\"$T/folders/sA\"]|" "$T/cfg.json" > "$T/folders.json"
$XT train -c "$T/folders.json" -q --steps 1 -t 2 -o "$T/folders.safetensors" > /dev/null || fail "scene folders"
# bad data: clear errors, non-zero exit
bad() { # config-sed expected-message
    sed "$1" "$T/cfg.json" > "$T/bad.json"
    if $XT train -c "$T/bad.json" -q --steps 1 -o "$T/bad.safetensors" > /dev/null 2> "$T/bad.err"; then fail "accepted: $1"; fi
    grep -q "$2" "$T/bad.err" || fail "message for $1: $(cat $T/bad.err)"
    cat "$T/bad.err"
}
grep -v "^sB,120" "$T/labels.csv" | sed 's/,confidence$//; s/,[A-Z]*$//' > "$T/nocol.csv"
bad "s|$T/labels.csv|$T/nocol.csv|" "nocol.csv: the label file has no column 'confidence'"
sed 's/^sB,120,100,True,False,15.0,/sB,120,100,True,False,15x,/' "$T/labels.csv" > "$T/badnum.csv"
bad "s|$T/labels.csv|$T/badnum.csv|" "badnum.csv.*line 7.*vessel_length_m"
sed 's/^sA,90,120,True,True,/sA,90,120,Yes,True,/' "$T/labels.csv" > "$T/badbool.csv"
bad "s|$T/labels.csv|$T/badbool.csv|" "badbool.csv: line 3: column 'is_vessel'"
$XT make-image "$T/bad/s1/VV_dB.tif" --size 200x180 --bands 1 --type f32 > /dev/null
bad "s|\"scenes\": \"$T/scenes\"|\"scenes\": [\"$T/bad/s1\"]|" "scene folder .*s1: VH_dB.tif is missing"
bad 's|"labels": "[^"]*"|"labels": "/nonexistent/l.csv"|' "/nonexistent/l.csv"
bad 's|"seed": 5,|"seed": 5, "loss": {"fishing_on_vessels": 1},|' "train.loss.fishing_on_vessels: must be true or false"
bad 's|"img_size": 128|"img_size": 96|' "img_size 96 (the data crop) must be a positive multiple of crop_size 64"
bad 's|"data": {"xview3": {[^}]*}}|"data": "x.csv"|' 'data.: {.xview3.'
if $XT train -c "$T/cfg.json" -q --data x.csv -o "$T/bad.safetensors" > /dev/null 2> "$T/bad.err"; then fail "--data accepted"; fi
grep -q "data / --val are for classifier data" "$T/bad.err" || fail "--data message: $(cat $T/bad.err)"
echo "cli_train_xview: ok"
