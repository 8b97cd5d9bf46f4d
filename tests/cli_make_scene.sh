#!/bin/sh
# xt make-scene: the synthetic xView3-SAR world (run/xview_world.c). The layout of the dataset
# (VV_dB.tif + VH_dB.tif per scene, labels.csv with the official columns, shoreline .npy that the
# official np.load reads — checked at development time with numpy, here with xt's own reader via
# xt score); the rule that makes context necessary (every fishing vessel has another vessel
# 96-112 px away, every other vessel none within 200 px); determinism; clear errors.
set -u
T=$BUILD/cli_make_scene
rm -rf "$T"; mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
$XT make-scene "$T/w" --size 1024x768 --scenes 2 --seed 5 > "$T/ids" 2> "$T/err" || fail "make-scene: $(cat "$T/err")"
[ "$(wc -l < "$T/ids")" -eq 2 ] || fail "expected 2 scene folders printed: $(cat "$T/ids")"
for d in $(cat "$T/ids"); do
    for b in VV VH; do
        $XT info "$d/${b}_dB.tif" > "$T/info" 2>&1 || fail "$d/${b}_dB.tif: $(cat "$T/info")"
        grep -q "1024 x 768" "$T/info" || fail "$b size: $(cat "$T/info")"
        grep -q "EPSG:32633" "$T/info" || fail "$b georeference: $(cat "$T/info")"
    done
    id=$(basename "$d")
    [ -s "$T/w/shoreline/${id}_shoreline.npy" ] || fail "no shoreline for $id"
done
ls "$T/w" | grep -q part && fail "a temporary file was left behind"
python3 - "$T/w/labels.csv" <<'PY' || fail "labels"
import csv, math, sys
cols = "detect_lat,detect_lon,vessel_length_m,source,detect_scene_row,detect_scene_column,is_vessel,is_fishing,distance_from_shore_km,scene_id,confidence,top,left,bottom,right,detect_id".split(",")
rows = list(csv.DictReader(open(sys.argv[1])))
assert list(rows[0].keys()) == cols, rows[0].keys()
by = {}
for r in rows:
    by.setdefault(r["scene_id"], []).append(r)
assert len(by) == 2
kinds = {"fishing": 0, "other": 0, "infra": 0}
for sid, rs in by.items():
    pts = [(int(r["detect_scene_row"]), int(r["detect_scene_column"])) for r in rs]
    for r, p in zip(rs, pts):
        d = min(math.dist(p, q) for q in pts if q != p)
        assert -90 < float(r["detect_lat"]) < 90 and r["confidence"] in ("HIGH", "MEDIUM")
        if r["is_vessel"] == "False":
            assert r["is_fishing"] == "" and r["vessel_length_m"] == ""; kinds["infra"] += 1
        elif r["is_fishing"] == "True":
            assert 96 <= d <= 113, ("fishing vessel without a fleet neighbour", r, d); kinds["fishing"] += 1
        else:
            assert r["is_fishing"] == "False" and d >= 199, ("lone vessel with a neighbour", r, d); kinds["other"] += 1
        if r["is_vessel"] == "True":
            assert 20 <= float(r["vessel_length_m"]) <= 120
assert kinds["fishing"] >= 2 and kinds["other"] >= 2 and kinds["infra"] >= 1, kinds
print("make-scene labels:", kinds)
PY
# the labels as predictions score perfectly on vessel / fishing / length (and the shoreline files load)
$XT score --inference "$T/w/labels.csv" --labels "$T/w/labels.csv" --shore-root "$T/w/shoreline" > "$T/score" 2>&1 || fail "score: $(cat "$T/score")"
grep -q '"loc_fscore": 1.0, .*"vessel_fscore": 1.0, "fishing_fscore": 1.0, "length_acc": 1.0' "$T/score" || fail "score: $(cat "$T/score")"
# determinism: the same seed gives the same bytes; another seed other scenes
$XT make-scene "$T/w2" --size 1024x768 --scenes 2 --seed 5 > /dev/null || fail "second run"
cmp -s "$T/w/labels.csv" "$T/w2/labels.csv" || fail "labels differ between two runs with one seed"
d=$(head -1 "$T/ids"); id=$(basename "$d")
cmp -s "$d/VV_dB.tif" "$T/w2/$id/VV_dB.tif" || fail "VV differs between two runs with one seed"
$XT make-scene "$T/w3" --size 1024x768 --seed 6 > "$T/ids3" || fail "seed 6"
[ "$(basename "$(cat "$T/ids3")")" != "$id" ] || fail "another seed gave the same scene id"
# the port rule: harbours listed in ports.csv, every fishing vessel 150-190 px from one, every
# other vessel >= 320 px (--port-gap) from all; the fleet world above has no ports.csv
[ -e "$T/w/ports.csv" ] && fail "the fleet world wrote ports.csv"
$XT make-scene "$T/p" --size 1536x1024 --scenes 2 --seed 9 --rule ports > /dev/null 2> "$T/err" || fail "make-scene --rule ports: $(cat "$T/err")"
ls "$T/p" | grep -q part && fail "a temporary file was left behind (ports)"
# --port-gap 750: other vessels >= 750 px from every harbour (no 512 window holds both)
$XT make-scene "$T/g" --size 2048x2048 --scenes 2 --seed 9 --rule ports --density 0.5 --port-gap 750 > /dev/null 2> "$T/err" ||
    fail "make-scene --port-gap 750: $(cat "$T/err")"
for w in p:319 g:749; do
python3 - "$T/${w%%:*}/labels.csv" "$T/${w%%:*}/ports.csv" "${w#*:}" <<'PY' || fail "port rule ($w)"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ports = {}
for r in csv.DictReader(open(sys.argv[2])):
    ports.setdefault(r["scene_id"], []).append((int(r["row"]), int(r["col"])))
assert len(ports) == 2, ports
n = {"fishing": 0, "other": 0}
for r in rows:
    if r["is_vessel"] != "True":
        continue
    p = (int(r["detect_scene_row"]), int(r["detect_scene_column"]))
    d = min(math.dist(p, q) for q in ports[r["scene_id"]])
    if r["is_fishing"] == "True":
        assert 149 <= d <= 191, ("fishing vessel not 150-190 px from a harbour", r, d); n["fishing"] += 1
    else:
        assert d >= float(sys.argv[3]), ("other vessel near a harbour", r, d); n["other"] += 1
assert n["fishing"] >= 3 and n["other"] >= 3, n
print("make-scene --rule ports, other vessels >=", sys.argv[3], "px from a harbour:", n)
PY
done
# the grounds rule: fishing vessels >= 150 px from every other vessel, several of them within a
# 512 window of each; other vessels >= 600 px (--port-gap) from every fishing vessel, >= 350 from any
$XT make-scene "$T/gr" --size 2048x2048 --scenes 2 --seed 9 --rule grounds --density 0.5 > /dev/null 2> "$T/err" ||
    fail "make-scene --rule grounds: $(cat "$T/err")"
[ -e "$T/gr/ports.csv" ] && fail "the grounds world wrote ports.csv"
python3 - "$T/gr/labels.csv" <<'PY' || fail "grounds rule"
import math, sys
sys.path.insert(0, "tests")
from world_labels import vessels
v = vessels(sys.argv[1])
n = {"fishing": 0, "other": 0}
seen = 0
for ships in v.values():
    for p, f in ships:
        others = [(q, g) for q, g in ships if q != p]
        near = min(math.dist(p, q) for q, _ in others)
        if f:
            assert near >= 149, ("fishing vessels closer than 150 px", p, near); n["fishing"] += 1
            seen += sum(g and abs(q[0] - p[0]) <= 224 and abs(q[1] - p[1]) <= 224 for q, g in others)
        else:
            assert near >= 349, ("other vessel near a vessel", p, near)
            assert min([math.dist(p, q) for q, g in others if g] or [1e9]) >= 599, ("other vessel near a fishing one", p); n["other"] += 1
assert n["fishing"] >= 16 and n["other"] >= 8, n
assert seen / n["fishing"] >= 2, ("fishing vessels see too few others", seen / n["fishing"])
print("make-scene --rule grounds:", n, "fishing vessels in a 448 window of one: %.2f" % (seen / n["fishing"]))
PY
# the lanes rule: other vessels in lanes (the nearest vessel another lane vessel, 150-180 px away),
# as many fishing vessels alone (>= 400 px from every vessel)
$XT make-scene "$T/ln" --size 2048x2048 --scenes 2 --seed 9 --rule lanes --density 1 > /dev/null 2> "$T/err" ||
    fail "make-scene --rule lanes: $(cat "$T/err")"
python3 - "$T/ln/labels.csv" <<'PY' || fail "lanes rule"
import math, sys
sys.path.insert(0, "tests")
from world_labels import vessels
v = vessels(sys.argv[1])
n = {"fishing": 0, "other": 0}
for ships in v.values():
    for p, f in ships:
        d, g = min((math.dist(p, q), g) for q, g in ships if q != p)
        if f:
            assert d >= 399, ("fishing vessel near a vessel", p, d); n["fishing"] += 1
        else:
            assert 149 <= d <= 181 and not g, ("lane vessel without its neighbour at 150-180 px", p, d, g); n["other"] += 1
assert n["other"] >= 12 and n["fishing"] == n["other"], n
print("make-scene --rule lanes:", n)
PY
# errors
$XT make-scene "$T/w5" --rule harbours > "$T/out" 2>&1 && fail "an unknown rule was accepted"
grep -q "fleets, ports, grounds or lanes" "$T/out" || fail "rule error: $(cat "$T/out")"
$XT make-scene "$T/w5" --rule ports --port-gap 50 > "$T/out" 2>&1 && fail "--port-gap 50 was accepted"
grep -q "port-gap" "$T/out" || fail "port-gap error: $(cat "$T/out")"
$XT make-scene "$T/w4" --size 100x100 > "$T/out" 2>&1 && fail "a tiny scene was accepted"
grep -q "512" "$T/out" || fail "size error: $(cat "$T/out")"
$XT make-scene "$T/w4" --density 0 > "$T/out" 2>&1 && fail "density 0 accepted"
$XT make-scene /proc/nope > "$T/out" 2>&1 && fail "an impossible folder was accepted"
grep -q "cannot create" "$T/out" || fail "folder error: $(cat "$T/out")"
echo "ok: make-scene"
