#!/bin/sh
# cli_convert.sh — `xt convert`: the golden checkpoints convert into model files that reproduce the
# golden outputs through `xt verify`, missing settings are listed, hostile checkpoints fail cleanly.
set -u
XT=${XT:-./xt}
BUILD=${BUILD:-build}
G=${XT_GOLDEN:-tests/golden}
T=$BUILD/cli_convert
mkdir -p "$T"
fail=0
die() { echo "FAIL: $*"; fail=1; }

$XT convert --help > /dev/null || die "--help"

# 1. missing settings are listed, exit non-zero, no output written
rm -f "$T/x.safetensors"
if $XT convert "$G/xt_cls_xl.ckpt" -o "$T/x.safetensors" 2> "$T/err"; then die "convert without crop/window/attention succeeded"; fi
for k in crop_size swin.window_size context.attention_method; do
    grep -q "$k" "$T/err" || die "missing setting $k not reported: $(cat "$T/err")"
done
[ -e "$T/x.safetensors" ] && die "output written despite the error"

# 2. the golden checkpoints, with the golden file's config and its inputs/expected outputs
for case in "xt_cls_xl.ckpt xt_cls_xl" "xt_cls_naive_legacy.ckpt xt_cls_naive"; do
    set -- $case
    out="$T/$2.safetensors"
    $XT convert "$G/$1" -o "$out" --config "$G/$2.safetensors" --with-io "$G/$2.safetensors" > "$T/$2.log" 2>&1 ||
        die "convert $1: $(cat "$T/$2.log")"
    $XT info "$out" | grep -q '"kind":"xt"' || die "$out: no xt config"
    $XT verify -q "$out" > "$T/$2.verify" 2>&1 || die "verify of converted $1: $(cat "$T/$2.verify")"
    echo "ok: $1 converted reproduces the golden outputs: $(tail -1 "$T/$2.verify")"
done

# 3. settings given on the command line, inferred rest; a contradiction fails
$XT convert "$G/xt_cls_xl.ckpt" -o "$T/set.safetensors" --set crop_size=128 --set swin.window_size=16 \
    --set context.attention_method=naive --keep-optimizer > "$T/set.log" 2>&1 || die "convert with --set: $(cat "$T/set.log")"
grep -q '"hidden_size":128' "$T/set.log" || die "hidden_size not inferred: $(cat "$T/set.log")"
# the inferred config (no golden config given) runs the golden inputs to the golden outputs
$XT convert "$G/xt_cls_naive_legacy.ckpt" -o "$T/inf.safetensors" --set crop_size=256 --set swin.window_size=16 \
    --with-io "$G/xt_cls_naive.safetensors" -q || die "convert naive with inferred config"
$XT verify -q "$T/inf.safetensors" > "$T/inf.verify" 2>&1 || die "verify with the inferred config: $(cat "$T/inf.verify")"
echo "ok: inferred config: $(tail -1 "$T/inf.verify")"
$XT info "$T/set.safetensors" | grep -q "tensors:    696 (174 weights" || die "optimizer state not kept: $($XT info "$T/set.safetensors")"
if $XT convert "$G/xt_cls_xl.ckpt" -o "$T/bad.safetensors" --set crop_size=128 --set swin.window_size=16 \
    --set context.attention_method=naive --set context.n_layer=3 2> "$T/err"; then die "contradicting n_layer accepted"; fi
grep -q "context.n_layer is 3 but the checkpoint's tensors say 2" "$T/err" || die "contradiction message: $(cat "$T/err")"

# 4. hostile checkpoints: clear message, exit 1, never a crash
for f in os_system builtins_eval bad_crc truncated offset_past_end memo_undefined; do
    $XT convert "tests/ref/ckpt_bad_$f.ckpt" -o "$T/h.safetensors" --set crop_size=1 2> "$T/err"
    rc=$?
    [ $rc -eq 1 ] || die "$f: exit $rc"
    grep -q "^xt: .*ckpt_bad_$f.ckpt" "$T/err" || die "$f: message does not name the file: $(cat "$T/err")"
done
exit $fail
