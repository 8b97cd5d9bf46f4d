#!/bin/sh
# xt detect end to end: a procedural SAR scene (xt make-image --sar, UTM 33N) through the golden
# xView3 model; the CSV has the official columns first, the GeoJSON is valid with lon/lat points
# inside the scene, --maps writes four georeferenced GeoTIFFs of the scene's size, the dataset
# folder layout works, and wrong inputs fail with clear messages. (The numbers themselves are
# checked against the official loop in tests/test_xview_detect.c.)
set -u
G=${XT_GOLDEN:-tests/golden}
T=$BUILD/cli_detect
rm -rf "$T"; mkdir -p "$T/scene1"
fail() { echo "FAIL: $*"; exit 1; }
$XT make-image $T/s.tif --size 300x260 --sar --geo 32633,500000,4650000,10 > /dev/null || fail "make-image --sar"
# the golden model with its centre bias raised so that detections exist (random weights find none)
python3 - $G/xview_seg_xl.safetensors $T/m.safetensors <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["decoder.center_mask.layer.3.bias"]
o = 8 + n + t["data_offsets"][0]
b[o:o + 4] = struct.pack("<f", struct.unpack("<f", b[o:o + 4])[0] + 99.6)
open(sys.argv[2], "wb").write(b)
PY
M=$T/m.safetensors
$XT detect -m $M $T/s.tif -o $T/out --maps -t 2 > $T/log 2>&1 || fail "detect: $(cat $T/log)"
cat $T/log
grep -q "^s: 300 x 260, 9 tiles of 128 (overlap 10)" $T/log || fail "summary: $(cat $T/log)"
head -1 $T/out/s.csv | grep -q "^detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m," || fail "CSV header"
python3 - "$T/out/s.geojson" <<'PY' || fail "GeoJSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["type"] == "FeatureCollection"
for f in d["features"]:
    lon, lat = f["geometry"]["coordinates"]
    assert 14.9 < lon < 15.1 and 41.9 < lat < 42.1, (lon, lat)
    assert 0 <= f["properties"]["detect_scene_row"] < 260
assert len(d["features"]) >= 3, len(d["features"])
print("geojson:", len(d["features"]), "features")
PY
for k in vessel fishing center length; do
    $XT info $T/out/s.$k.tif > $T/info.$k || fail "map $k unreadable"
    grep -q "size: *300 x 260" $T/info.$k || fail "map $k size: $(cat $T/info.$k)"
    grep -q "EPSG:32633" $T/info.$k || fail "map $k not georeferenced"
done
$XT info $T/out/s.png | grep -q "size: *300 x 260" || fail "quicklook: $($XT info $T/out/s.png)"
ls $T/out | grep -q part && fail "a .part file was left"
# the dataset layout: a scene folder with VV_dB.tif and VH_dB.tif; scene_id from the folder
cp $T/out/s.vessel.tif $T/scene1/VV_dB.tif; cp $T/out/s.center.tif $T/scene1/VH_dB.tif
$XT detect -m $M $T/scene1 -o $T/out/a/b -q > $T/log2 2>&1 || fail "folder layout: $(cat $T/log2)"
grep -q "^scene1: 300 x 260" $T/log2 || fail "scene id from the folder: $(cat $T/log2)"
test -s $T/out/a/b/scene1.csv || fail "scene1.csv (in -o's missing parents, created)"
# --chip: one model call per tile (the regions chipped inside the model, context over all of
# them) instead of one per region; the maps change, because the context now spans the tile
$XT detect -m $G/xview_seg_xl.safetensors $T/s.tif -o $T/c1 --tile 128 --maps -q > $T/c1.txt || fail "detect"
$XT detect -m $G/xview_seg_xl.safetensors $T/s.tif -o $T/c2 --tile 128 --maps --chip -q > $T/c2.txt || fail "detect --chip"
t1=$(sed -n 's/.* tiles of 128 .*, \([0-9]*\) model calls.*/\1/p' $T/c1.txt); t2=$(sed -n 's/.* tiles of 128 .*, \([0-9]*\) model calls.*/\1/p' $T/c2.txt)
[ -n "$t1" ] && [ "$t1" -eq $((4 * t2)) ] || fail "--chip: $t2 model calls, expected a quarter of $t1"
cmp -s $T/c1/s.center.tif $T/c2/s.center.tif && fail "--chip gave the same center map as per-region calls"
# wrong inputs: clear errors, non-zero
check() { # expected message fragment, args...
    want=$1; shift
    if $XT detect "$@" > $T/err 2>&1; then fail "detect $* succeeded"; fi
    grep -q "$want" $T/err || fail "detect $*: '$(cat $T/err)' lacks '$want'"
    echo "ok: $(cat $T/err)"
}
check "detect needs an xView3 model" -m $G/xt_cls_naive.safetensors $T/s.tif -o $T/o2
check "not a multiple of the model's region" -m $G/xview_seg_xl.safetensors $T/s.tif -o $T/o2 --tile 100
check "No such file\|cannot open" -m $G/xview_seg_xl.safetensors $T/missing.tif -o $T/o2
$XT make-image $T/rgb.tif --size 64x64 > /dev/null
check "has 3 bands" -m $G/xview_seg_xl.safetensors $T/rgb.tif -o $T/o2
check "need -m MODEL" $T/s.tif
check "s.tif: cannot create: Not a directory" -m $M $T/s.tif -o $T/s.tif/out
# an xView3 model without its dense heads (decoder.*_mask removed)
python3 - $G/xview_seg_xl.safetensors $T/nohead.safetensors <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); body = b[8 + n:]
out, blobs, off = {"__metadata__": {"config": h["__metadata__"]["config"]}}, [], 0
for k, t in h.items():
    if k == "__metadata__" or k.startswith(("expected.", "input.")) or "_mask." in k: continue
    a, e = t["data_offsets"]; blobs.append(body[a:e])
    out[k] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [off, off + e - a]}; off += e - a
j = json.dumps(out).encode(); j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b"".join(blobs))
PY
check "no dense head 'vessel_mask'" -m $T/nohead.safetensors $T/s.tif -o $T/o2
# VV and VH that do not share size or georeferencing (one pixel shifted)
$XT make-image $T/vv.tif --size 300x260 --bands 1 --type f32 --geo 32633,500000,4650000,10 > /dev/null
$XT make-image $T/vh_moved.tif --size 300x260 --bands 1 --type f32 --geo 32633,500010,4650000,10 > /dev/null
$XT make-image $T/vh_small.tif --size 300x250 --bands 1 --type f32 --geo 32633,500000,4650000,10 > /dev/null
check "do not share size and georeferencing" -m $M $T/vv.tif $T/vh_moved.tif -o $T/o2
check "vh_small.tif (300 x 250)" -m $M $T/vv.tif $T/vh_small.tif -o $T/o2
# no output (final or partial) from any refused run
[ -z "$(ls -A $T/o2 2>/dev/null)" ] || fail "a refused run left files: $(ls $T/o2)"
# --maps: NoData (both bands -32768: the scene's border strip) is marked in the files (test_xview_detect checks the pixels)
$XT info $T/out/s.vessel.tif | grep -q "^nodata: *255$" || fail "uint8 map without GDAL_NODATA 255"
$XT info $T/out/s.length.tif | grep -q "^nodata: *nan$" || fail "length map without GDAL_NODATA nan"
echo "cli_detect: ok"
