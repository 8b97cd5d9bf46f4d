#!/bin/sh
# Swin V2 region encoder end to end: `xt verify` must pass every tensor of the golden region
# files (official timm 0.9.7 outputs) at 1e-4 x max(1, max|ref|), at 1 and 2 threads.
set -e
G=${XT_GOLDEN:-../shared/golden}
for f in swinv2_region_256 swinv2_region_512; do
    for t in 1 2; do
        $XT verify -q -t $t "$G/$f.safetensors"
    done
done
