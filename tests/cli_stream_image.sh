#!/bin/sh
# xt make-image / xt info on images: procedural rasters, georeferencing, formats, bad input.
set -e
D=$BUILD/cli_stream_image; mkdir -p $D
fail() { echo "FAIL: $*"; exit 1; }
$XT make-image --help | grep -q -- "--size" || fail "make-image --help"
$XT make-image $D/a.tif --size 700x500 --bands 4 --type u16 --tile 128 --compress deflate --planar \
    --geo 32633,500000,4500000,10 --seed 3
$XT info $D/a.tif > $D/a.txt
grep -q "size: *700 x 500" $D/a.txt || fail "info size"; grep -q "bands: *4" $D/a.txt || fail "info bands"
grep -q "u16" $D/a.txt || fail "info sample"; grep -q "tiled 128 x 128, planar" $D/a.txt || fail "info tiling"
grep -qi "deflate" $D/a.txt || fail "info compression"
grep -q "EPSG:32633.*origin (500000, 4500000), pixel 10 x -10" $D/a.txt || fail "info georef"
$XT make-image $D/b.tif --size 300x200 --type f32 --striped --bigtiff
$XT info $D/b.tif | grep -q "BigTIFF" || fail "bigtiff"
$XT info $D/b.tif | grep -q "strips of 16 rows" || fail "strips"
$XT make-image $D/c.png --size 64x32 && $XT info $D/c.png | grep -q "format: *PNG" || fail png
$XT make-image $D/c.jpg --size 64x32 && $XT info $D/c.jpg | grep -q "format: *JPEG" || fail jpeg
# the golden tensor dump used by the consistency tests
G=${XT_GOLDEN:-tests/golden}
$XT make-image $D/g.tif --from-tensor $G/xt_cls_xl.safetensors:input.image:1
$XT info $D/g.tif | grep -q "size: *256 x 256" || fail "from-tensor size"
$XT info $D/g.tif | grep -q "f32" || fail "from-tensor type"
# bad input: clear message, non-zero exit
printf 'not an image' > $D/bad.tif
if $XT info $D/bad.tif 2> $D/err.txt; then fail "info on garbage succeeded"; fi
grep -q "xt: " $D/err.txt || fail "no message"
if $XT make-image $D/x.tif --size 0x5 2> $D/err.txt; then fail "zero size accepted"; fi
if $XT make-image $D/x.tif --type c64 2> $D/err.txt; then fail "bad type accepted"; fi
grep -q "unknown sample type" $D/err.txt || fail "bad type message"
if $XT make-image $D/x.tif --from-tensor $G/xt_cls_xl.safetensors:nope 2> $D/err.txt; then fail "missing tensor"; fi
echo ok
