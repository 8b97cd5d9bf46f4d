#!/bin/sh
# Messages a new user meets (issue 14): an image given as the model says what the file is; a
# missing image says why it cannot be opened; band counts are singular/plural right and the
# --bands hint appears only when there are bands to choose from.
set -e
D=$BUILD/cli_messages; mkdir -p $D
M=models/synth_xl.safetensors
fail() { echo "FAIL: $*"; exit 1; }
$XT make-image $D/rgb.tif --size 128x128
$XT make-image $D/gray.tif --size 128x128 --bands 1
$XT make-image $D/five.tif --size 128x128 --bands 5
$XT make-image $D/a.png --size 128x128
# an image as the model
if $XT classify -m $D/rgb.tif $D/rgb.tif 2> $D/e1; then fail "an image accepted as a model"; fi
grep -q "rgb.tif: a TIFF image, not a model file (.safetensors)" $D/e1 || fail "image as model: $(cat $D/e1)"
if $XT embed -m $D/a.png $D/rgb.tif -o $D/x.tif 2> $D/e1b; then fail "a PNG accepted as a model"; fi
grep -q "a PNG image, not a model file" $D/e1b || fail "PNG as model: $(cat $D/e1b)"
! grep -q "header length" $D/e1 $D/e1b || fail "header length still reported"
# a model as the image
if $XT classify -m $M $M 2> $D/e2; then fail "a model accepted as an image"; fi
grep -q "a model file (safetensors), not an image" $D/e2 || fail "model as image: $(cat $D/e2)"
# a missing image / model: the reason
if $XT classify -m $M $D/nope.tif 2> $D/e3; then fail "missing image accepted"; fi
grep -q "nope.tif: cannot open: No such file or directory" $D/e3 || fail "missing image: $(cat $D/e3)"
if $XT classify -m $D/nope.safetensors $D/rgb.tif 2> $D/e4; then fail "missing model accepted"; fi
grep -q "nope.safetensors: cannot open: No such file or directory" $D/e4 || fail "missing model: $(cat $D/e4)"
# bands: "1 band", no --bands hint when the image has fewer bands than the model
if $XT classify -m $M $D/gray.tif 2> $D/e5; then fail "1-band image accepted by a 3-band model"; fi
grep -q "gray.tif has 1 band, the model expects 3" $D/e5 || fail "1 band: $(cat $D/e5)"
! grep -q -- "--bands" $D/e5 || fail "a 1-band file told to use --bands: $(cat $D/e5)"
if $XT classify -m $M $D/five.tif 2> $D/e6; then fail "5-band image accepted"; fi
grep -q "five.tif has 5 bands, the model expects 3 (choose 3 with --bands, e.g. --bands 1,2,3)" $D/e6 || fail "5 bands: $(cat $D/e6)"
if $XT classify -m $M --bands 1,2,4 $D/rgb.tif 2> $D/e7; then fail "band 4 of 3 accepted"; fi
grep -q "has 3 bands, no band 4" $D/e7 || fail "no band 4: $(cat $D/e7)"
echo ok
