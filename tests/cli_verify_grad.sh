#!/bin/sh
# Gradient parity: `xt verify` on the golden *_grad files computes the loss, grad.<param> for every
# parameter and grad.input.image, and each must be within max|d| <= 1e-3 x max(max|ref|, 1e-4)
# (the golden README's rule); at 1 and 2 threads. The forward intermediates and variant logits
# those files also hold are computed too: every expected tensor ("N of N expected tensors computed").
set -e
G=${XT_GOLDEN:-tests/golden}
for f in "$G/swinv2_region_256_grad.safetensors" "$G/xt_cls_naive_grad.safetensors" "$G/xt_cls_xl_grad.safetensors" \
         "$G/xt_cls_hyper_grad.safetensors" "$G/xt_cls_mamba_grad.safetensors" tests/ref/hiera_grad_small.safetensors \
         tests/ref/convnext_grad_small.safetensors; do
    for t in 1 2; do
        $XT verify -q -t $t "$f" | tee "$BUILD/verify_grad.log"
        grep -q " 0 failed, 0 missing" "$BUILD/verify_grad.log"
        grep -Eq " ([0-9]+) of \1 expected tensors computed" "$BUILD/verify_grad.log"
    done
done
# -o writes the loss and every gradient as output.<name>
$XT verify -q -o "$BUILD/grad_out.safetensors" "$G/xt_cls_naive_grad.safetensors" > /dev/null
grep -aq '"output.loss"' "$BUILD/grad_out.safetensors"
grep -aq '"output.grad.input.image"' "$BUILD/grad_out.safetensors"
grep -aq '"output.grad.decoder.layers.3.weight"' "$BUILD/grad_out.safetensors"
