#!/bin/sh
# xt verify on the Hiera and ConvNeXt golden files and on our own references (tests/ref/, made by
# tools/gen_ref_backbones.py: 2-channel ConvNeXt/Hiera/Swin V2, batch 2, other Hiera pooling); a config
# that disagrees with the weights must fail with a message naming the tensor.
set -e
G=${XT_GOLDEN:-tests/golden}
for f in $G/convnext_region.safetensors $G/hiera_region.safetensors tests/ref/backbone_*.safetensors; do
    [ -f "$f" ] || continue
    case "$f" in *bad_config*) continue ;; esac
    $XT verify -q "$f" || { echo "verify failed: $f"; exit 1; }
done
# a config asking for a block the file lacks fails, naming the tensor
if $XT verify -q tests/ref/backbone_bad_config.safetensors > $BUILD/cli_backbones.out 2>&1; then
    echo "bad config accepted"; exit 1
fi
grep -q "stages_2.blocks.1.gamma. not found" $BUILD/cli_backbones.out || { cat $BUILD/cli_backbones.out; exit 1; }
echo ok
