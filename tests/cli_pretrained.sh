#!/bin/sh
# cli_pretrained.sh — ImageNet backbone weights under timm's / hiera's names: `xt convert --from`
# makes a region-encoder file that reproduces the golden stage outputs (`xt verify`), and
# `xt train --init` starts an xT model from it (encoder loaded, head fresh), or from an xT checkpoint
# with another head (that head skipped). The .pth files are
# made by tools/gen_ref_pretrained.py (torch.save of the golden swinv2_region_512 weights under
# timm 0.9.7's names + head, final norm and stand-in buffers; a small hiera {"model_state": ...}).
set -u
XT=${XT:-./xt}
BUILD=${BUILD:-build}
G=${XT_GOLDEN:-tests/golden}
T=$BUILD/cli_pretrained
R=tests/ref
rm -rf "$T"; mkdir -p "$T"
fail=0
die() { echo "FAIL: $*"; fail=1; }
has() { grep -q -- "$2" "$1" || die "$1 lacks: $2"; }

# 1. window_size is not in the tensors: the command lists it (layout detected without --from)
if $XT convert $R/pretrained_swinv2_timm.pth -o "$T/r.safetensors" > "$T/1.out" 2> "$T/1.err"; then die "no window_size accepted"; fi
has "$T/1.err" "window_size .*swinv2_tiny_window16_256"
[ ! -f "$T/r.safetensors" ] || die "output written on failure"

# 2. converted with the golden inputs/outputs: every stage reproduced; notes for every dropped group
$XT convert $R/pretrained_swinv2_timm.pth -o "$T/r.safetensors" --from timm-swinv2 --set window_size=16 \
    --with-io "$G/swinv2_region_512.safetensors" > "$T/2.out" 2> "$T/2.err" || die "convert failed: $(cat "$T/2.err")"
has "$T/2.out" '149 tensors'
has "$T/2.out" '"kind":"swin_region"'
has "$T/2.out" '"embed_dim":8'
has "$T/2.out" '"depths":\[2,2,2,2\]'
has "$T/2.out" '"num_heads":\[1,1,2,4\]'
has "$T/2.err" "dropped 2 tensors head.\*"
has "$T/2.err" "dropped 2 tensors norm.\*"
has "$T/2.err" "skipped buffer 'layers.0.blocks.0.attn.relative_position_index'"
has "$T/2.err" "skipped buffer 'layers.0.blocks.0.attn.relative_coords_table'"
has "$T/2.err" "skipped buffer 'layers.0.blocks.0.attn_mask'"
$XT verify "$T/r.safetensors" > "$T/2.verify" 2>&1 || die "verify failed: $(tail -5 "$T/2.verify")"
has "$T/2.verify" "8 passed, 0 failed, 0 missing"
$XT info "$T/r.safetensors" > "$T/2.info" || die "info failed"
has "$T/2.info" "149 weights"

# 3. --from auto; the wrong --from; --prefix for an xT model's encoder names
$XT convert $R/pretrained_swinv2_timm.pth -o "$T/a.safetensors" --from auto --set window_size=16 -q || die "--from auto"
if $XT convert $R/pretrained_swinv2_timm.pth -o "$T/x.safetensors" --from hiera --set window_size=16 2> "$T/3.err"; then die "wrong --from accepted"; fi
has "$T/3.err" "145 tensors with no hiera mapping: 'layers.0.blocks.0.attn.logit_scale'"
if $XT convert $R/pretrained_swinv2_timm.pth -o "$T/x.safetensors" --from swin 2> "$T/3b.err"; then die "bad --from accepted"; fi
has "$T/3b.err" "timm-swinv2, timm-convnext, hiera or auto"
$XT convert $R/pretrained_swinv2_timm.pth -o "$T/e.safetensors" --set window_size=16 --prefix encoder.model. -q || die "--prefix"
$XT info "$T/e.safetensors" > "$T/3.info"
has "$T/3.info" '"weight_prefix":"encoder.model."'
# a prefixed region file still verifies: its config names the prefix
$XT convert $R/pretrained_swinv2_timm.pth -o "$T/ev.safetensors" --set window_size=16 --prefix encoder.model. -q \
    --with-io "$G/swinv2_region_512.safetensors" || die "--prefix --with-io"
$XT verify "$T/ev.safetensors" > "$T/3.verify" 2>&1 || die "verify of the prefixed file failed: $(tail -3 "$T/3.verify")"
has "$T/3.verify" "8 passed, 0 failed, 0 missing"

# 4. hiera package payload {"model_state": ...}
$XT convert $R/pretrained_hiera_tiny.pth -o "$T/h.safetensors" --set hiera.num_heads=1 > "$T/4.out" 2> "$T/4.err" || die "hiera: $(cat "$T/4.err")"
has "$T/4.err" "payload's 'model_state' entry"
has "$T/4.err" "hiera layout detected"
has "$T/4.out" '"kind":"hiera_region"'
has "$T/4.out" '"image_size":64'
has "$T/4.out" '"stages":\[1,1,1,1\]'

# 5. xt train --init with the region file: encoder loaded, head fresh; also with xT names
cat > "$T/cfg.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "naive", "crop_size": 64, "num_classes": 2, "mlp_ratio": 2,
           "swin": {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 1, 2, 4], "window_size": 8}},
 "train": {"img_size": 64, "batch": 2, "steps": 3, "lr": 1e-3, "seed": 1, "augment": false}}
JSON
for f in r e; do
    $XT train -c "$T/cfg.json" --init "$T/$f.safetensors" --data synth:8:1 -t 1 -q -o "$T/t$f.safetensors" > "$T/5$f.out" 2>&1 ||
        die "train --init $f: $(cat "$T/5$f.out")"
    has "$T/5$f.out" "init: 149 tensors loaded from $T/$f.safetensors, 6 freshly initialised (decoder.layers)"
    has "$T/5$f.out" "trained 3 steps"
done
cmp -s "$T/tr.safetensors" "$T/te.safetensors" || die "the two prefixes trained differently"
# xl head: the whole context encoder is fresh
sed 's/"cls_head": "naive"/"cls_head": "xl", "context": {"attention_method": "naive", "hidden_size": 16, "n_layer": 1}/' \
    "$T/cfg.json" > "$T/xl.json"
$XT train -c "$T/xl.json" --init "$T/r.safetensors" --data synth:8:1 -t 1 -q --steps 1 -o "$T/txl.safetensors" > "$T/5x.out" 2>&1 ||
    die "train xl: $(cat "$T/5x.out")"
has "$T/5x.out" "149 tensors loaded.*freshly initialised (decoder.cls_token, decoder.input_proj, decoder.layers, decoder.cls)"

# 6. --init errors: wrong shapes, a region file without a model config, a Hiera encoder
sed 's/"embed_dim": 8/"embed_dim": 16/' "$T/cfg.json" > "$T/bad.json"
if $XT train -c "$T/bad.json" --init "$T/r.safetensors" --data synth:8:1 -q -o "$T/x.safetensors" 2> "$T/6.err"; then die "shape mismatch accepted"; fi
has "$T/6.err" "tensor 'model.patch_embed.proj.weight' is (8, 3, 4, 4) but the model's 'encoder.model.patch_embed.proj.weight' is (16, 3, 4, 4)"
sed 's/"depths": \[2, 2, 2, 2\]/"depths": [2, 1, 2, 2]/' "$T/cfg.json" > "$T/bad2.json"
if $XT train -c "$T/bad2.json" --init "$T/r.safetensors" --data synth:8:1 -q -o "$T/x.safetensors" 2> "$T/6b.err"; then die "extra block accepted"; fi
has "$T/6b.err" "17 tensors are not part of the configured model: 'model.layers_1.blocks.1."
if $XT train --init "$T/r.safetensors" --data synth:8:1 -q -o "$T/x.safetensors" 2> "$T/6c.err"; then die "no config accepted"; fi
has "$T/6c.err" "swin_region file (weights for the region encoder only): give -c CONFIG"
if $XT train -c "$T/cfg.json" --init "$T/h.safetensors" --data synth:8:1 -q -o "$T/x.safetensors" 2> "$T/6d.err"; then die "hiera accepted"; fi
has "$T/6d.err" "a hiera_region file, but the configured region encoder is Swin V2"

# 7. --init from an xT checkpoint with another head (naive -> xl): the file's head is skipped with a
# note on stderr, the encoder is taken as it is (one step at lr 0 keeps it bit for bit), the xl
# head is fresh; refused: a tensor of another shape (2 -> 3 classes), a file sharing no tensor
$XT train -c "$T/xl.json" --init "$T/tr.safetensors" --data synth:8:1 -t 1 -q --steps 1 --lr 0 \
    -o "$T/tn.safetensors" > "$T/7.out" 2> "$T/7.err" || die "naive -> xl: $(cat "$T/7.err")"
has "$T/7.err" "init: skipped 6 tensors of $T/tr.safetensors that the configured model does not have: 'decoder.layers.0.bias', 'decoder.layers.0.weight', 'decoder.layers.2.bias' ... 3 more"
has "$T/7.out" "init: 149 tensors loaded from $T/tr.safetensors, 15 freshly initialised (decoder.cls_token, decoder.input_proj, decoder.layers, decoder.cls), 6 of the file's skipped"
has "$T/7.out" "trained 1 steps"
python3 tests/st_diff.py "$T/tr.safetensors" "$T/tn.safetensors" encoder.model. > "$T/7.cmp" || die "st_diff"
[ "$(grep -c '^same ' "$T/7.cmp")" -eq 149 ] && [ "$(wc -l < "$T/7.cmp")" -eq 149 ] ||
    die "encoder not taken: $(grep -vc '^same ' "$T/7.cmp") of the encoder tensors differ or are missing (of $(wc -l < "$T/7.cmp"), 149 wanted)"
sed 's/"num_classes": 2/"num_classes": 3/' "$T/xl.json" > "$T/xl3.json"
if $XT train -c "$T/xl3.json" --init "$T/tn.safetensors" --data synth:8:1 -q -o "$T/x.safetensors" 2> "$T/7b.err"; then die "3 classes from 2 accepted"; fi
has "$T/7b.err" "tensor 'decoder.cls.1.weight' is (2, 16) but the model's 'decoder.cls.1.weight' is (3, 16): .*(num_classes"
if $XT train -c "$T/xl.json" --init $R/nn_swin.safetensors --data synth:8:1 -q -o "$T/x.safetensors" 2> "$T/7c.err"; then die "a foreign file accepted"; fi
has "$T/7c.err" "nn_swin.safetensors shares no tensor with the configured model (its 14 weights, e.g. '.*', are all foreign to it): the wrong file"

[ $fail -eq 0 ] && echo "cli_pretrained: ok"
exit $fail
