#!/bin/sh
# xt verify on every golden xT classifier file (the non-gradient ones), variants included:
# all expected tensors must be computed and pass, and the variant logits must be among them.
set -e
G=${XT_GOLDEN:-../shared/golden}
fail() { echo "FAIL: $*"; exit 1; }
for f in xt_cls_naive xt_cls_xl xt_cls_xl_incontext xt_cls_hyper xt_cls_hyper_long xt_cls_mamba; do
    $XT verify -q -t 2 $G/$f.safetensors > $BUILD/verify_$f.txt || { cat $BUILD/verify_$f.txt; fail "$f"; }
    tail -1 $BUILD/verify_$f.txt
    grep -q " 0 failed, 0 missing" $BUILD/verify_$f.txt || fail "$f: failures"
done
# the variant logits were compared (verify -o writes every computed tensor)
$XT verify -q $G/xt_cls_xl_incontext.safetensors -o $BUILD/vx.safetensors > /dev/null
$XT verify $G/xt_cls_xl_incontext.safetensors | grep -q "^variant_memfix.logits .*pass" || fail "memfix logits"
$XT verify $G/xt_cls_hyper_long.safetensors | grep -q "^variant_blockmask.logits .*pass" || fail "blockmask logits"
$XT verify $G/xt_cls_mamba.safetensors | grep -q "^variant_incontext16_tuplefix.logits .*pass" || fail "tuplefix logits"
echo "cli_verify_xt: ok"
