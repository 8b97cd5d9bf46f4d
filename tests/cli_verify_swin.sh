#!/bin/sh
# Swin V2 region encoder end to end: `xt verify` must pass every tensor at 1e-4 x max(1, max|ref|),
# at 1 and 2 threads, on the official golden region files (timm 0.9.7 outputs) and on our own
# references for other configurations (tools/gen_ref_swin.py, a plain-torch timm re-implementation
# that reproduces the golden files bit for bit): window 12 / 192 px / batch 2, and 1 input channel /
# width 12 / mlp_ratio 2 / depths 1-3-1-1 / batch 3 / 3x3 last stage, and Swin-L's
# pretrained_window_sizes 12-12-12-6 with window 16 on 128 px (windows 16/16/8/4).
set -e
G=${XT_GOLDEN:-tests/golden}
for f in "$G/swinv2_region_256.safetensors" "$G/swinv2_region_512.safetensors" \
         tests/ref/swinv2_w12_b2.safetensors tests/ref/swinv2_odd_b3.safetensors \
         tests/ref/swinv2_pws_b1.safetensors; do
    for t in 1 2; do
        $XT verify -q -t $t "$f"
    done
done
# -o writes every computed tensor as output.NAME
$XT verify -q -o "$BUILD/swin_out.safetensors" "$G/swinv2_region_256.safetensors" > /dev/null
test -s "$BUILD/swin_out.safetensors"
