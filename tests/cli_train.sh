#!/bin/sh
# xt train / xt eval end to end on a tiny model: CSV folder data (PNG + JPEG, with a header line)
# and the generated task; a run interrupted after 2 steps and resumed reaches the same checkpoint
# bit for bit as an uninterrupted 4-step run (gradient chipping on, augmentation on, then the
# official augmentations on); the
# checkpoint is a model file `xt eval` reads; bad inputs fail with a message.
set -e
D="$BUILD/train_cli"
rm -rf "$D"; mkdir -p "$D/img"
cat > "$D/cfg.json" <<'JSON'
{"model": {"kind": "xt", "cls_head": "xl", "crop_size": 32, "num_classes": 3, "mlp_ratio": 2,
           "context": {"attention_method": "naive", "hidden_size": 16, "n_layer": 1},
           "swin": {"embed_dim": 8, "depths": [1, 1], "num_heads": [1, 2], "window_size": 4}},
 "train": {"img_size": 64, "batch": 2, "steps": 4, "lr": 1e-3, "warmup": 1, "grad_ratio": 0.5, "seed": 7}}
JSON
echo "path,label" > "$D/img/train.csv"
for i in 0 1 2 3 4; do
    $XT make-image "$D/img/a$i.png" --size 80x70 --seed $i > /dev/null
    echo "a$i.png,$((i % 3))" >> "$D/img/train.csv"
done
$XT make-image "$D/img/b.jpg" --size 64x64 --seed 9 > /dev/null
echo "b.jpg,1" >> "$D/img/train.csv"
# uninterrupted
$XT train -c "$D/cfg.json" --data "$D/img/train.csv" -t 1 -q -o "$D/full.safetensors" | tee "$D/full.log"
grep -q "trained 4 steps" "$D/full.log"
# interrupted after 2, resumed to 4
$XT train -c "$D/cfg.json" --data "$D/img/train.csv" -t 1 -q --stop-after 2 -o "$D/part.safetensors" > /dev/null
$XT train --resume "$D/part.safetensors" -t 1 -q -o "$D/resumed.safetensors" | tee "$D/res.log"
grep -q "trained 4 steps" "$D/res.log"
cmp "$D/full.safetensors" "$D/resumed.safetensors"
# a different seed gives different weights (the comparison above is not vacuous)
$XT train -c "$D/cfg.json" --data "$D/img/train.csv" -t 1 -q --seed 8 -o "$D/other.safetensors" > /dev/null
if cmp -s "$D/full.safetensors" "$D/other.safetensors"; then exit 1; fi
# the official augmentations from xt's JSON: RandomResizedCrop, RandAugment, RandomErasing, Mixup /
# CutMix (then ColorJitter without RandAugment): resumed bit for bit, and not the plain run
sed 's/"seed": 7}/"seed": 7, "rrc": true, "auto_augment": "rand-m9-mstd0.5-inc1", "reprob": 0.5, "recount": 2, "remode": "rand", "mixup": 0.8, "cutmix": 1.0, "mixup_prob": 0.9}/' "$D/cfg.json" > "$D/aug.json"
$XT train -c "$D/aug.json" --data "$D/img/train.csv" -t 1 -q -o "$D/aug.safetensors" > /dev/null
$XT train -c "$D/aug.json" --data "$D/img/train.csv" -t 1 -q --stop-after 2 -o "$D/augpart.safetensors" > /dev/null
$XT train --resume "$D/augpart.safetensors" -t 1 -q -o "$D/augres.safetensors" > /dev/null
cmp "$D/aug.safetensors" "$D/augres.safetensors"
if cmp -s "$D/full.safetensors" "$D/aug.safetensors"; then exit 1; fi
# timm's per-sample and per-pair modes: resumed bit for bit too, and not the batch mode's weights
for mode in elem pair; do
    sed "s/\"mixup_prob\": 0.9}/\"mixup_prob\": 0.9, \"mixup_mode\": \"$mode\"}/" "$D/aug.json" > "$D/$mode.json"
    $XT train -c "$D/$mode.json" --data "$D/img/train.csv" -t 1 -q -o "$D/$mode.safetensors" > /dev/null
    $XT train -c "$D/$mode.json" --data "$D/img/train.csv" -t 1 -q --stop-after 2 -o "$D/${mode}part.safetensors" > /dev/null
    $XT train --resume "$D/${mode}part.safetensors" -t 1 -q -o "$D/${mode}res.safetensors" > /dev/null
    cmp "$D/$mode.safetensors" "$D/${mode}res.safetensors"
    if cmp -s "$D/aug.safetensors" "$D/$mode.safetensors"; then exit 1; fi
done
sed 's/"seed": 7}/"seed": 7, "rrc": true, "rrc_scale": [0.5, 1], "color_jitter": [0.4, 0.3, 0.2, 0.1], "hflip": 0.3}/' "$D/cfg.json" > "$D/cj.json"
$XT train -c "$D/cj.json" --data "$D/img/train.csv" -t 1 -q --steps 2 -o "$D/cj.safetensors" | grep -q "trained 2 steps"
sed 's/"seed": 7}/"seed": 7, "color_jitter": 0.4}/' "$D/cfg.json" > "$D/cjc.json"
! $XT train -c "$D/cjc.json" --data "$D/img/train.csv" -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "work on the whole image: set rrc true" "$D/err.log"
sed 's/"seed": 7}/"seed": 7, "color_jitter": [0.4, 0.4, 0.4, 0.7]}/' "$D/cfg.json" > "$D/hue.json"
! $XT train -c "$D/hue.json" --data "$D/img/train.csv" -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "'color_jitter' hue 0.7 must lie in \[0, 0.5\]" "$D/err.log"
# eval reads the checkpoint (img_size from its train_state)
$XT eval -m "$D/full.safetensors" --data "$D/img/train.csv" -q | tee "$D/eval.log"
grep -q "6 images, top-1 [0-9.]*% (3 classes: no top-5)" "$D/eval.log"
# --json: one line; its counts agree with the text and with themselves (top-5 null with 3 classes)
$XT eval -m "$D/full.safetensors" --data "$D/img/train.csv" -q --json > "$D/eval.json"
[ "$(wc -l < "$D/eval.json")" -eq 1 ]
python3 - "$D/eval.json" "$D/eval.log" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1]))
assert j["images"] == 6 and j["classes"] == 3 and j["top5"] is None, j
c = j["confusion"]
assert sum(map(sum, c)) == 6 and len(c) == 3 and all(len(r) == 3 for r in c)
assert abs(j["top1"] - sum(c[k][k] for k in range(3)) / 6) < 1e-9
assert [(p["correct"], p["total"]) for p in j["per_class"]] == [(c[p["class"]][p["class"]], sum(c[p["class"]])) for p in j["per_class"]]
text = float(re.search(r"top-1 ([0-9.]+)%", open(sys.argv[2]).read()).group(1))
assert abs(100 * j["top1"] - text) < 0.006, (j["top1"], text)
PY
# progress into a log: plain lines, no carriage returns, the job's time last
$XT eval -m "$D/full.safetensors" --data "$D/img/train.csv" > /dev/null 2> "$D/eval.err"
! grep -q "$(printf '\r')" "$D/eval.err"
grep -q "^xt eval: evaluate: 6 images" "$D/eval.err" && grep -q "^xt eval: done in" "$D/eval.err"
$XT train -c "$D/cfg.json" --data "$D/img/train.csv" -t 1 -o "$D/log.safetensors" > /dev/null 2> "$D/train.err"
grep -q "^xt train: train: 4 steps" "$D/train.err" && grep -q "^step 2/4  loss [0-9.]*  lr .*ETA 00:00:" "$D/train.err"
grep -q "^xt train: done in" "$D/train.err"
# iNaturalist 2018 layout: images / annotations (not in image order) / categories
cat > "$D/img/inat.json" <<'JSON'
{"images": [{"id": 10, "file_name": "a0.png", "width": 80, "height": 70}, {"id": 11, "file_name": "a1.png"},
            {"id": 12, "file_name": "b.jpg"}],
 "annotations": [{"id": 1, "image_id": 12, "category_id": 2}, {"id": 2, "image_id": 10, "category_id": 0},
                 {"id": 3, "image_id": 11, "category_id": 1}],
 "categories": [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}, {"id": 2, "name": "c"}]}
JSON
$XT eval -m "$D/full.safetensors" --data "$D/img/inat.json" -q | tee "$D/inat.log"
grep -q "3 images, top-1" "$D/inat.log"
grep -q "per class (label: correct/total): 0: ./1 1: ./1 2: ./1" "$D/inat.log"
$XT train -c "$D/cfg.json" --data "$D/img/inat.json" --steps 1 -t 1 -q -o "$D/inat.safetensors" | grep -q "trained 1 steps"
echo '{"images": [{"id": 1, "file_name": "a0.png"}], "annotations": []}' > "$D/img/noann.json"
if $XT eval -m "$D/full.safetensors" --data "$D/img/noann.json" -q 2> "$D/err.log"; then exit 1; fi
grep -q "noann.json: no images" "$D/err.log" # samples are annotations (the official COCO loop)
# generated task: naive head trains too
sed 's/"cls_head": "xl"/"cls_head": "naive"/; s/"num_classes": 3/"num_classes": 2/' "$D/cfg.json" > "$D/naive.json"
$XT train -c "$D/naive.json" --data synth:8:1 --val synth:4:2 -t 1 -q -o "$D/naive.safetensors" | grep -q "val: top-1"
# bad inputs: clear messages, non-zero exit
echo "a0.png,x" > "$D/img/bad.csv"; echo "a0.png,1" >> "$D/img/bad.csv"; echo "a0.png,zz" >> "$D/img/bad.csv"
! $XT train -c "$D/cfg.json" --data "$D/img/bad.csv" -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "bad.csv:3: label 'zz' is not an integer" "$D/err.log"
echo "nope.png,1" > "$D/img/missing.csv"
! $XT train -c "$D/cfg.json" --data "$D/img/missing.csv" -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "nope.png" "$D/err.log"
echo "a0.png,5" > "$D/img/big.csv"
! $XT train -c "$D/cfg.json" --data "$D/img/big.csv" -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "the model has 3 classes" "$D/err.log"
! $XT train -c "$D/cfg.json" --data "$D/img/train.csv" --img-size 50 -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "multiple of crop_size" "$D/err.log"
if $XT train --resume "$D/img/a0.png" -q 2> "$D/err.log"; then exit 1; fi
grep -q "xt:" "$D/err.log"
test ! -e "$D/x.safetensors"

# the shipped model (models/synth_xl.safetensors, docs/training.md) still solves the generated
# context task on images it never saw
$XT eval -m models/synth_xl.safetensors --data synth:200:5 -q -t 1 | tee "$D/ship.log"
grep -Eq "top-1 (9[5-9]|100)\." "$D/ship.log"
echo ok
