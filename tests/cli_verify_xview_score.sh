#!/bin/sh
# xt verify on the golden xView3 scoring cases (tests/golden/xview_score, README sections A-B):
# postproc pp_edges / pp_random (maps -> detections) and tiling tile_xt / tile_selim (scene ->
# tiles -> the README's fake models -> stitched maps -> detections). The files carry no model
# config: their __metadata__ kind, case, scene_id and params are the config. Every expected
# tensor must be computed and pass, and the CSVs beside the files must be byte-identical; a
# corrupted params JSON, a bad coefficient and a changed CSV fail with a clear message.
set -u
G=${XT_GOLDEN:-tests/golden}/xview_score
T=$BUILD/cli_verify_xview_score
rm -rf "$T"; mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
for f in postproc/pp_edges postproc/pp_random tiling/tile_xt tiling/tile_selim; do
    b=$(basename $f)
    $XT verify -t 2 $G/$f.safetensors > $T/$b.txt 2>&1 || { cat $T/$b.txt; fail "$f"; }
    tail -1 $T/$b.txt
    grep -q " 0 failed, 0 missing; \([0-9]*\) of \1 expected tensors computed" $T/$b.txt ||
        fail "$f: not every expected tensor computed and passed"
    grep -q "^$G/$f.csv  *identical, byte for byte" $T/$b.txt || fail "$f: CSV not compared"
done
grep -q "^det.length .*pass" $T/pp_edges.txt || fail "pp_edges: det.length (with inf) not passing"
grep -q "^calls .*pass" $T/tile_xt.txt || fail "tile_xt: the model-call log not compared"
grep -q "pp_edges.selim.csv  *identical" $T/pp_edges.txt || fail "pp_edges: selimsef's CSV not compared"

# corrupted variants (python3 rewrites the header; the CSVs are copied beside them)
python3 - "$G" "$T" <<'PY'
import json, shutil, struct, sys
g, out = sys.argv[1], sys.argv[2]
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]
def save(name, h, body):
    t = json.dumps(h).encode()
    open(out + "/" + name + ".safetensors", "wb").write(struct.pack("<Q", len(t)) + t + body)
h, body = load(g + "/tiling/tile_xt.safetensors")
hh = json.loads(json.dumps(h)); hh["__metadata__"]["params"] = hh["__metadata__"]["params"][:-5]
save("bad_json", hh, body)
p = json.loads(h["__metadata__"]["params"]); p["coefs"][0]["kv"] = "four"
hh = json.loads(json.dumps(h)); hh["__metadata__"]["params"] = json.dumps(p); save("bad_coef", hh, body)
p = json.loads(h["__metadata__"]["params"]); p["tiling"] = "spiral"
hh = json.loads(json.dumps(h)); hh["__metadata__"]["params"] = json.dumps(p); save("bad_tiling", hh, body)
p = json.loads(h["__metadata__"]["params"]); p["coefs"][0]["kc"] = 63.0   # runs, but computes other maps
hh = json.loads(json.dumps(h)); hh["__metadata__"]["params"] = json.dumps(p); hh["__metadata__"]["case"] = "wrong_coef"
save("wrong_coef", hh, body)
h, body = load(g + "/postproc/pp_edges.safetensors")
hh = json.loads(json.dumps(h)); hh["__metadata__"]["case"] = "csv_changed"; save("csv_changed", hh, body)
shutil.copy(g + "/postproc/pp_edges.selim.csv", out + "/csv_changed.selim.csv")
csv = open(g + "/postproc/pp_edges.csv").read().replace("True", "False", 1)
open(out + "/csv_changed.csv", "w").write(csv)
hh = json.loads(json.dumps(h)); hh["__metadata__"]["kind"] = "scoring"; save("bad_kind", hh, body)
PY
check() { # file, expected message fragment
    if $XT verify "$T/$1.safetensors" > "$T/$1.txt" 2>&1; then fail "$1 verified"; fi
    grep -q "$2" "$T/$1.txt" || fail "$1: message '$(cat "$T/$1.txt")' lacks '$2'"
    echo "ok: $1: $(grep -v "pass$" "$T/$1.txt" | head -1)"
}
check bad_json "params"
check bad_coef "coefs\[0\].kv missing or not a finite number"
check bad_tiling "unknown 'tiling' 'spiral'"
check wrong_coef "center_u8 .*FAIL"
check csv_changed "csv_changed.csv: the computed CSV differs from the file at line 2"
check bad_kind "unknown model kind 'scoring'"
echo "cli_verify_xview_score: ok"
