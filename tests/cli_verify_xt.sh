#!/bin/sh
# xt verify on every golden xT classifier file (the non-gradient ones), variants included:
# all expected tensors must be computed and pass, and the variant logits must be among them.
set -e
G=${XT_GOLDEN:-tests/golden}
fail() { echo "FAIL: $*"; exit 1; }
for f in xt_cls_naive xt_cls_xl xt_cls_xl_incontext xt_cls_hyper xt_cls_hyper_long xt_cls_mamba; do
    $XT verify -q -t 2 $G/$f.safetensors > $BUILD/verify_$f.txt || { cat $BUILD/verify_$f.txt; fail "$f"; }
    tail -1 $BUILD/verify_$f.txt
    grep -q " 0 failed, 0 missing" $BUILD/verify_$f.txt || fail "$f: failures"
done
# our own golden-format references (tools/gen_ref_xt.py, plain torch from the README semantics):
# 3 x 3 regions with hidden 256 (2 heads, exact causal hyper); batch 2 of 100 x 170 images
# zero-padded to 2 x 3 regions (non-square token grid), naive attention without qkv bias,
# 3 layers, windows of 8 and the memfix variant; weights stored as BF16
for f in tests/ref/xt_hyper3x3.safetensors tests/ref/xt_naive_pad.safetensors; do
    $XT verify -q $f > $BUILD/verify_ref.txt || { cat $BUILD/verify_ref.txt; fail "$f"; }
    tail -1 $BUILD/verify_ref.txt
done
$XT verify tests/ref/xt_naive_pad.safetensors | grep -q "^variant_memfix.logits .*pass" || fail "pad memfix"
# -o writes every computed tensor; the variant logits were compared
$XT verify -q $G/xt_cls_xl_incontext.safetensors -o $BUILD/vx.safetensors > /dev/null
test -s $BUILD/vx.safetensors
$XT verify $G/xt_cls_xl_incontext.safetensors | grep -q "^variant_memfix.logits .*pass" || fail "memfix logits"
$XT verify $G/xt_cls_hyper_long.safetensors | grep -q "^variant_blockmask.logits .*pass" || fail "blockmask logits"
$XT verify $G/xt_cls_mamba.safetensors | grep -q "^variant_incontext16_tuplefix.logits .*pass" || fail "tuplefix logits"
echo "cli_verify_xt: ok"
