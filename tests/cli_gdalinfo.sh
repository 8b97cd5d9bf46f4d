#!/bin/sh
# Every georeferenced raster xt writes, as GDAL itself (gdalinfo -json) sees it: NoData, band
# descriptions and the input's georeferencing — a geotransform + CRS, or the input's GCPs — for
# embed (from a geotransform and from a GCP-referenced VRT), classify --map, detect --maps (the
# four maps), make-image and make-scene (docs/maps.md, docs/inputs.md). The PNG quicklooks are
# pictures, not rasters, and carry none of this.
# Needs gdalinfo / gdal_translate (gdal-bin, which CI installs); skipped, saying so, without them.
set -e
D=$BUILD/cli_gdalinfo; rm -rf $D; mkdir -p $D
fail() { echo "FAIL: $*"; exit 1; }
for tool in gdalinfo gdal_translate; do
    command -v $tool > /dev/null || { echo "skip: $tool not installed (gdal-bin)"; exit 0; }
done
G=${XT_GOLDEN:-tests/golden}
# check FILE BANDS DESC_PREFIX NODATA GEO: GEO is "epsg" (geotransform + EPSG:32633) or "gcp"
check() {
    gdalinfo -json "$1" > $D/info.json 2> $D/info.err || fail "gdalinfo $1: $(cat $D/info.err)"
    python3 - "$@" << 'EOF' || fail "gdalinfo view of $1"
import json, math, sys
f, nb, desc, nodata, geo = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
d = json.load(open(sys.argv[0] if False else __import__('os').environ['D'] + '/info.json'))
b = d['bands']
assert len(b) == nb, (f, len(b))
for i, x in enumerate(b):
    assert x.get('description', '').startswith(desc), (f, i, x.get('description'))
    nd = x.get('noDataValue')
    assert nd is not None, (f, i, 'no NoData')
    ok = (isinstance(nd, str) and nd.lower() == 'nan') or (isinstance(nd, float) and math.isnan(nd)) if nodata == 'nan' else float(nd) == float(nodata)
    assert ok, (f, i, nd, nodata)
if geo == 'epsg':
    wkt = d['coordinateSystem']['wkt']
    assert 'ID["EPSG",32633]' in wkt, (f, wkt[-80:])
    gt = d['geoTransform']
    assert gt[0] == 500000 and gt[3] == 4500000 and gt[1] > 0 and gt[5] < 0, (f, gt)
else:
    g = d['gcps']
    assert 'ID["EPSG",32633]' in g['coordinateSystem']['wkt'], f
    assert len(g['gcpList']) == 3, (f, g['gcpList'])
    assert 'geoTransform' not in d, (f, 'a GCP-referenced file must not gain a geotransform')
print('ok:', f)
EOF
}
export D

# make-image with a geotransform and NoData; embed and classify --map of it
$XT make-image $D/a.tif --size 600x520 --geo 32633,500000,4500000,10 --nodata 0 > /dev/null
gdalinfo -json $D/a.tif > $D/info.json
python3 -c "
import json; d = json.load(open('$D/info.json'))
assert all(b.get('noDataValue') == 0 for b in d['bands']) and 'EPSG\",32633' in d['coordinateSystem']['wkt'], d['bands']
print('ok: make-image')" || fail "make-image"
$XT embed -t 1 -q -m $G/xt_cls_naive.safetensors $D/a.tif -o $D/a.e.tif
check $D/a.e.tif 64 "feature " nan epsg
$XT classify -t 1 -q -m $G/xt_cls_naive.safetensors $D/a.tif --map $D/a.m.tif > /dev/null
check $D/a.m.tif 10 "class " nan epsg

# a GCP-referenced input (a VRT, read through GDAL when xt has it, else the same GCPs in a TIFF)
gdal_translate -q -of GTiff -co TILED=YES -gcp 0 0 500000 4500000 -gcp 600 0 506000 4500000 \
    -gcp 0 520 500000 4494800 -a_srs EPSG:32633 $D/a.tif $D/gcp.tif
$XT embed -t 1 -q -m $G/xt_cls_naive.safetensors $D/gcp.tif -o $D/gcp.e.tif
check $D/gcp.e.tif 64 "feature " nan gcp
if $XT --version | grep -q "gdal: yes"; then
    gdal_translate -q -of VRT $D/gcp.tif $D/gcp.vrt
    $XT embed -t 1 -q -m $G/xt_cls_naive.safetensors $D/gcp.vrt -o $D/gcpv.e.tif
    check $D/gcpv.e.tif 64 "feature " nan gcp
fi

# detect --maps: the four maps of a procedural SAR scene (UTM 33N)
$XT make-image $D/s.tif --sar --size 300x260 --geo 32633,500000,4500000,10 > /dev/null
$XT detect -q -t 1 -m $G/xview_seg_xl.safetensors $D/s.tif -o $D/det --tile 128 --maps > /dev/null
gdalinfo $D/s.tif | grep -q "NoData Value=-32768" || fail "make-image --sar: no NoData"
check $D/det/s.vessel.tif 1 "vessel" 255 epsg
check $D/det/s.fishing.tif 1 "fishing" 255 epsg
check $D/det/s.center.tif 1 "center" 255 epsg
check $D/det/s.length.tif 1 "length" nan epsg

# make-scene: VV_dB.tif and VH_dB.tif with the dataset's NoData
$XT make-scene $D/w --size 512x512 --scenes 1 --seed 3 --geo 32633,500000,4500000,10 > $D/ids
sd=$(head -1 $D/ids | cut -d" " -f1)
check $sd/VV_dB.tif 1 "VV" -32768 epsg
check $sd/VH_dB.tif 1 "VH" -32768 epsg
echo "cli_gdalinfo: ok"
