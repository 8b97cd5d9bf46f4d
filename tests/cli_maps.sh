#!/bin/sh
# Maps and GDAL conventions from the shell (docs/maps.md): xt classify --map/--geojson/--preview,
# xt info --json (parsed), embed's NoData / band descriptions / provenance / padding, a failed or
# killed run leaves no file under the final name, the file's own NoData and --nodata nan.
# (tests/test_class_map.c checks the map's values against each region classified on its own.)
set -e
D=$BUILD/cli_maps; rm -rf $D; mkdir -p $D
M=${XT_GOLDEN:-tests/golden}/xt_cls_naive.safetensors
fail() { echo "FAIL: $*"; exit 1; }
py() { python3 -c "$@"; }
$XT make-image $D/a.tif --size 700x520 --tile 128 --geo 32633,500000,4500000,10
# classify with every map: 3 x 3 regions (256 px), the map has one pixel per region
$XT classify -t 1 -q --json -m $M $D/a.tif --map $D/m.tif --geojson $D/m.geojson --preview $D/m.png > $D/c.json
$XT info --json $D/m.tif > $D/mi.json
[ "$(wc -l < $D/mi.json)" = 1 ] || fail "info --json is not one line"
py "
import json, sys
d = json.load(open('$D/mi.json'))
assert d['width'] == 3 and d['height'] == 3 and d['bands'] == 10 and d['sample'] == 'f32' and d['tiled'], d
assert d['nodata'] == 'nan', d['nodata']
assert d['band_descriptions'] == ['class %d' % i for i in range(10)], d['band_descriptions']
assert d['epsg'] == 32633 and d['geotransform'] == [500000, 2560, 0, 4500000, 0, -2560], d['geotransform']
g = json.load(open('$D/m.geojson'))
assert g['type'] == 'FeatureCollection' and len(g['features']) == 9, len(g['features'])
c = json.load(open('$D/c.json'))
for f in g['features']:
    p = f['properties']
    assert 0 <= p['class'] < 10 and 0 < p['prob'] <= 1, p
    ring = f['geometry']['coordinates'][0]
    assert len(ring) == 5 and ring[0] == ring[-1], ring
    assert 14.9 < ring[0][0] < 15.2 and 40.5 < ring[0][1] < 40.7, ring  # lon/lat (UTM 33N, E 500 km: lon 15)
# the last column is clipped to the image: 700 px, not 768
east = max(x for f in g['features'] for x, y in f['geometry']['coordinates'][0])
west = min(x for f in g['features'] for x, y in f['geometry']['coordinates'][0])
assert abs((east - west) * 111320 * 0.7596 - 7000) < 100, (east - west)
" || fail "map, GeoJSON or info --json"
# preview: a PNG no larger than 1024 px a side (here the image's size)
py "
import struct
b = open('$D/m.png', 'rb').read(24)
assert b[:8] == b'\x89PNG\r\n\x1a\n'
w, h = struct.unpack('>II', b[16:24])
assert (w, h) == (700, 520), (w, h)
" || fail "preview"
$XT make-image $D/wide.tif --size 3000x300 --tile 256
$XT classify -t 1 -q -m $M $D/wide.tif --preview $D/w.png > /dev/null
py "
import struct
w, h = struct.unpack('>II', open('$D/w.png', 'rb').read(24)[16:24])
assert w <= 1024 and h <= 1024 and w == 1000, (w, h)
" || fail "preview of a wide image is at most 1024 px"
# --map-top 1: top class + confidence
$XT classify -t 1 -q -m $M $D/a.tif --map $D/t.tif --map-top 1 > /dev/null
$XT info --json $D/t.tif | py "
import json, sys
d = json.load(sys.stdin)
assert d['bands'] == 2 and d['band_descriptions'] == ['top1 class', 'top1 probability'], d
" || fail "--map-top 1"
# embed: NoData NaN, band descriptions, provenance, georeferencing
$XT embed -t 1 -q -m $M $D/a.tif -o $D/e.tif
$XT info --json $D/e.tif | py "
import json, sys
d = json.load(sys.stdin)
assert d['width'] == 24 and d['height'] == 24 and d['bands'] == 64 and d['nodata'] == 'nan', d
assert d['band_descriptions'][:2] == ['feature 0', 'feature 1'], d['band_descriptions'][:2]
assert d['geotransform'] == [500000, 320, 0, 4500000, 0, -320], d['geotransform']
" || fail "embed tags"
for k in XT_VERSION XT_MODEL XT_REGION_SIZE XT_STRIDE; do
    grep -aq "<Item name=\"$k\">" $D/e.tif || fail "embed provenance $k"
done
grep -aq '<Item name="XT_STRIDE">32</Item>' $D/e.tif || fail "embed stride 32"
# a run that fails half-way (a corrupt tile deep in the file) leaves neither OUT nor OUT.part
$XT make-image $D/big.tif --size 1024x1024 --tile 256 --compress deflate
py "
import os
p = '$D/big.tif'; b = bytearray(open(p, 'rb').read()); n = len(b)
for i in range(int(n * 0.6), int(n * 0.6) + 4000): b[i] = 0x55
open('$D/bad.tif', 'wb').write(b)"
if $XT embed -t 1 -q -m $M $D/bad.tif -o $D/bad_e.tif 2> $D/err.txt; then fail "corrupt input succeeded"; fi
grep -q "cannot decode" $D/err.txt || fail "corrupt input message: $(cat $D/err.txt)"
[ ! -e $D/bad_e.tif ] && [ ! -e $D/bad_e.tif.part ] || fail "a failed embed left a file"
if $XT classify -t 1 -q -m $M $D/bad.tif --map $D/bad_m.tif --geojson $D/bad_m.geojson 2> /dev/null > /dev/null; then fail "corrupt classify"; fi
[ ! -e $D/bad_m.tif ] && [ ! -e $D/bad_m.tif.part ] && [ ! -e $D/bad_m.geojson ] && [ ! -e $D/bad_m.geojson.part ] || fail "a failed map left a file"
# killed: no file under the final name (only OUT.part may remain)
$XT make-image $D/k.tif --size 2048x2048 --tile 256
$XT embed -t 1 -q -m $M $D/k.tif -o $D/k_e.tif & pid=$!
sleep 0.3; kill -9 $pid 2> /dev/null || true
if ! wait $pid; then [ ! -e $D/k_e.tif ] || fail "a killed embed left $D/k_e.tif"; fi
# the file's own NoData (GDAL_NODATA, here from make-image --nodata) is used without --nodata
$XT make-image $D/p.tif --size 600x300 --tile 128
$XT make-image $D/pn.tif --size 600x300 --tile 128 --nodata 128
$XT info --json $D/pn.tif | py "import json, sys; assert json.load(sys.stdin)['nodata'] == 128" || fail "make-image --nodata tag"
P0=$($XT classify -t 1 --json -q -m $M $D/p.tif | grep '"logits"')
P1=$($XT classify -t 1 --json -q -m $M --nodata 128 $D/p.tif | grep '"logits"')
P2=$($XT classify -t 1 --json -q -m $M $D/pn.tif | grep '"logits"')
[ "$P1" = "$P2" ] && [ "$P0" != "$P2" ] || fail "the file's NoData is not used"
# --nodata nan is accepted
$XT make-image $D/n.tif --size 600x300 --tile 128 --type f32
L1=$($XT classify -t 1 --json -q -m $M $D/n.tif | grep '"logits"')
L2=$($XT classify -t 1 --json -q -m $M --nodata nan $D/n.tif | grep '"logits"')
[ "$L1" = "$L2" ] || fail "--nodata nan changed an image without NaN"
$XT classify -t 1 -q -m $M --nodata=NaN $D/n.tif > /dev/null || fail "--nodata=NaN"
# whole-image evaluation: xt eval --whole streams each listed image as xt classify does (its own
# size), so with the labels set to classify's top classes and one label changed, top-1 is 2/3
top() { $XT classify -t 1 --json -q -m $M "$1" | tr -d '\n ' | sed 's/.*"top":\[{"class":\([0-9]*\).*/\1/'; }
for i in 0 1 2; do $XT make-image $D/w$i.tif --size $((300 + 290 * i))x$((260 + 100 * i)) --seed $((i + 7)) > /dev/null; done
t0=$(top $D/w0.tif); t1=$(top $D/w1.tif); t2=$(top $D/w2.tif)
printf "w0.tif,$t0\nw1.tif,$t1\nw2.tif,$(( (t2 + 1) % 10 ))\n" > $D/whole.csv
$XT eval -t 1 -q --json --whole -m $M --data $D/whole.csv > $D/whole.json || fail "eval --whole"
py "
import json; d = json.load(open('$D/whole.json'))
assert d['whole'] and d['images'] == 3 and abs(d['top1'] - 2 / 3) < 1e-9, d
c = d['confusion']; assert c[($t2 + 1) % 10][$t2] == 1 and sum(map(sum, c)) == 3, c" || fail "eval --whole: $(cat $D/whole.json)"
echo "cli_maps: ok"
