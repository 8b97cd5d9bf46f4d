#!/bin/sh
# xt train -c OFFICIAL.yaml: the official Swin-T hyper recipe (tests/data/official, verbatim) with
# its base_configs, trained on an iNat-2018-format set made here (train2018.json / val2018.json /
# categories.json + a label map): the Reptilia filter drops the Aves annotations, labels come
# from the label map, the loss falls, a resumed run matches an uninterrupted one bit for bit,
# xt eval reads the model with the training transform; typos fail naming the key and the file.
set -e
D="$BUILD/train_yaml"
rm -rf "$D"; mkdir -p "$D/inat/train_val2018/Reptilia" "$D/inat/train_val2018/Aves"
CFG=tests/data/official/config/swin-t/swin_v2_tiny_1e-4_hyper_512_256.yaml
# images of several sizes (the resize transform makes them 64 x 64)
i=0
for s in 80x70 50x90 120x64 64x64 70x110 96x40 81x77 66x99; do
    $XT make-image "$D/inat/train_val2018/Reptilia/r$i.png" --size $s --seed $i > /dev/null
    i=$((i + 1))
done
$XT make-image "$D/inat/train_val2018/Aves/a0.png" --size 60x60 --seed 20 > /dev/null
cat > "$D/inat/categories.json" <<'JSON'
[{"id": 4264, "name": "x", "supercategory": "Reptilia"}, {"id": 4344, "name": "y", "supercategory": "Reptilia"},
 {"id": 4347, "name": "z", "supercategory": "Reptilia"}, {"id": 3000, "name": "b", "supercategory": "Aves"}]
JSON
# label map as meta/category_label_reptilia_map.json: category id -> label
echo '{"4264": 2, "4344": 0, "4347": 1}' > "$D/map.json"
R=train_val2018/Reptilia
cat > "$D/inat/train2018.json" <<JSON
{"images": [{"id": 1, "file_name": "$R/r0.png"}, {"id": 2, "file_name": "$R/r1.png"}, {"id": 3, "file_name": "$R/r2.png"},
            {"id": 4, "file_name": "$R/r3.png"}, {"id": 5, "file_name": "$R/r4.png"}, {"id": 6, "file_name": "$R/r5.png"},
            {"id": 7, "file_name": "train_val2018/Aves/a0.png"}],
 "annotations": [{"id": 6, "image_id": 6, "category_id": 4347}, {"id": 1, "image_id": 1, "category_id": 4264},
                 {"id": 2, "image_id": 2, "category_id": 4344}, {"id": 3, "image_id": 3, "category_id": 4347},
                 {"id": 7, "image_id": 7, "category_id": 3000},
                 {"id": 4, "image_id": 4, "category_id": 4264}, {"id": 5, "image_id": 5, "category_id": 4344}],
 "categories": [{"id": 4264, "name": "x"}, {"id": 4344, "name": "y"}, {"id": 4347, "name": "z"}, {"id": 3000, "name": "b"}]}
JSON
cat > "$D/inat/val2018.json" <<JSON
{"images": [{"id": 11, "file_name": "$R/r6.png"}, {"id": 12, "file_name": "$R/r7.png"}, {"id": 13, "file_name": "train_val2018/Aves/a0.png"}],
 "annotations": [{"id": 11, "image_id": 11, "category_id": 4264}, {"id": 12, "image_id": 12, "category_id": 4264},
                 {"id": 13, "image_id": 13, "category_id": 3000}],
 "categories": []}
JSON
# the paths changed and the sizes shrunk so it runs in seconds: regions of 32, images of 64, a tiny Swin
SETS="data.dir=$D/inat data.category_label_path=$D/map.json data.num_classes=3 data.crop_size=64 data.val_crop_size=64
 model.backbone.input_size=32 model.context.hidden_size=128 model.context.n_layer=1 train.batch_size=2 optimizer.lr=3e-3
 xt.model.swin.embed_dim=8 xt.model.swin.depths=[1,1] xt.model.swin.num_heads=[1,2] xt.model.swin.window_size=4 xt.model.swin.pretrained_window_sizes=[0,0] xt.model.swin.img_size=32
 xt.train.steps=12 xt.train.seed=3"
$XT train -c $CFG $SETS -t 1 -o "$D/full.safetensors" > "$D/full.log" 2> "$D/full.err"
cat "$D/full.log"
grep -q "trained 12 steps" "$D/full.log"
grep -q "val: top-1 .* (2 images)" "$D/full.log" # the Aves annotation is filtered out of val2018 too
# the official keys xt does not use: reported once, as ignored
[ "$(grep -c '^ignored: ' "$D/full.err")" -eq 1 ]
grep -q "ignored: .*fp16 (CPU float32 training).*data.num_workers" "$D/full.err"
# loss falls: mean of the first three steps > mean of the last three
awk '/^step /{l[n++]=$4} END{a=(l[0]+l[1]+l[2])/3; b=(l[n-1]+l[n-2]+l[n-3])/3; print "loss", a, "->", b; exit !(n == 12 && b < a)}' "$D/full.err"
# the checkpoint carries the data keys: normalisation, transform, the filter and the label map
python3 - "$D/full.safetensors" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n))["__metadata__"]
ts, cfg = json.loads(meta["train_state"]), json.loads(meta["config"])
assert ts["transform"] == "resize" and ts["interpolation"] == "bilinear", ts  # test_crop False, bilinear
assert ts["mean"] == [0.485, 0.456, 0.406] and ts["std"] == [0.229, 0.224, 0.225], ts
assert ts["supercategories"] == ["Reptilia"] and ts["label_map"].endswith("map.json"), ts
assert ts["img_size"] == 64 and ts["batch"] == 2 and ts["clip"] == 5 and ts["lr"] == 3e-3, ts
# the official training transform: RandomResizedCrop + flip + RandAugment (the jitter unused with it, as timm)
assert ts["rrc"] is True and ts["auto_augment"] == "rand-m9-mstd0.5-inc1" and ts["rrc_scale"] == [0.08, 1], ts
assert ts["color_jitter"] == [0.4, 0.4, 0.4, 0] and ts["reprob"] == 0 and ts["mixup"] == 0 and ts["mixup_prob"] == 0, ts
assert cfg["cls_head"] == "xl" and cfg["num_classes"] == 3 and cfg["crop_size"] == 32, cfg
assert cfg["context"]["attention_method"] == "hyper" and cfg["loss"]["smoothing"] == 0.3, cfg
assert cfg["swin"]["embed_dim"] == 8 and cfg["swin"]["depths"] == [1, 1], cfg
PY
# exact resume: 5 steps, then the rest from the checkpoint
$XT train -c $CFG $SETS -t 1 -q --stop-after 5 -o "$D/part.safetensors" > /dev/null 2>&1
$XT train --resume "$D/part.safetensors" -t 1 -q -o "$D/resumed.safetensors" > /dev/null
cmp "$D/full.safetensors" "$D/resumed.safetensors"
# xt eval: the training transform and label map from the checkpoint; the training set has 6
# Reptilia annotations (labels 2, 0, 1, 2, 0, 1 through the map), no Aves
$XT eval -m "$D/full.safetensors" --data "$D/inat/train2018.json" -q --json > "$D/eval.json"
python3 - "$D/eval.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
assert e["images"] == 6 and e["img_size"] == 64, e
assert sorted((c["class"], c["total"]) for c in e["per_class"]) == [(0, 2), (1, 2), (2, 2)], e
PY
# xt eval -c: the config's val set (2 Reptilia images, both category 4264 -> label 2)
$XT eval -m "$D/full.safetensors" -c $CFG $SETS -q --json > "$D/val.json" 2> /dev/null
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); assert e['images']==2 and [(c['class'],c['total']) for c in e['per_class']]==[(2,2)], e" "$D/val.json"
# a typo on the command line and in a file: an error naming the key (and the file), exit != 0
! $XT train -c $CFG $SETS data.crop_szie=64 -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "command line: unknown key 'data.crop_szie'" "$D/err.log"
mkdir -p "$D/cfg/config"
cp tests/data/official/config/base.yaml tests/data/official/config/paths.yaml "$D/cfg/config/"
sed 's/^  clip_grad: 5.0/  clip_grd: 5.0/' $CFG > "$D/cfg/typo.yaml"
! $XT train -c "$D/cfg/typo.yaml" $SETS -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "typo.yaml: unknown key 'train.clip_grd'" "$D/err.log"
# xt's JSON configs: the same rule
echo '{"model": {"kind": "xt"}, "train": {"stpes": 3}}' > "$D/typo.json"
! $XT train -c "$D/typo.json" -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "typo.json: unknown key 'train.stpes'" "$D/err.log"
# bad label maps and categories: the file and the entry named
echo '[4264, 4344]' > "$D/list_map.json"
! $XT train -c $CFG $SETS data.category_label_path=$D/list_map.json -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "list_map.json: a label map is a JSON object" "$D/err.log"
echo '{"4264": 2, "x": 0}' > "$D/bad_map.json"
! $XT train -c $CFG $SETS data.category_label_path=$D/bad_map.json -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "bad_map.json: entry 'x': expected \"category_id\": label" "$D/err.log"
cp "$D/inat/categories.json" "$D/categories.keep"
echo '[{"id": 4264, "name": "x"}]' > "$D/inat/categories.json"
! $XT train -c $CFG $SETS -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "categories.json: categories\[0\] needs an integer id and a supercategory" "$D/err.log"
mv "$D/categories.keep" "$D/inat/categories.json"
# every official augmentation on (Mixup / CutMix switching, RandomErasing with 2 boxes per image):
# trains, and resumes bit for bit (the draws are per sample and per step, not per process)
AUG="data.aug.mixup=0.8 data.aug.cutmix=1.0 data.aug.mixup_prob=1.0 data.aug.mixup_switch_prob=0.5 data.aug.reprob=0.25 data.aug.recount=2 xt.train.steps=6"
$XT train -c $CFG $SETS $AUG -t 1 -q -o "$D/mix.safetensors" > /dev/null 2>&1
$XT train -c $CFG $SETS $AUG -t 1 -q --stop-after 3 -o "$D/mixpart.safetensors" > /dev/null 2>&1
$XT train --resume "$D/mixpart.safetensors" -t 1 -q -o "$D/mixresumed.safetensors" > /dev/null
cmp "$D/mix.safetensors" "$D/mixresumed.safetensors"
# ... and Mixup / CutMix did act: mixup_prob 0 trains other weights
$XT train -c $CFG $SETS $AUG data.aug.mixup_prob=0 -t 1 -q -o "$D/nomix.safetensors" > /dev/null 2>&1
if cmp -s "$D/mix.safetensors" "$D/nomix.safetensors"; then exit 1; fi
# bad augmentation values: a clear error each
for bad in "data.aug.mixup_prob=1.5:must lie in \[0, 1\]" "data.aug.mixup=-1:must be >= 0" "data.aug.reprob=2:'reprob' 2 must lie in" \
           "data.aug.auto_augment=original-mstd0.5:RandAugment ('rand-m9-mstd0.5-inc1' style) only" \
           "data.aug.mixup_mode=pairs:mixup_mode 'pairs': expected batch, pair or elem" "data.aug.cutmix_minmax=[0.8,0.2]:cutmix_minmax \[0.8, 0.2\]" \
           "data.aug.remode=bogus:remode 'bogus'" "train.batch_size=3 data.aug.mixup=0.8:need an even batch" \
           "data.crop_size=32 data.val_crop_size=32:RandomCrop with padding 4"; do
    ! $XT train -c $CFG $SETS ${bad%%:*} -q -o "$D/x.safetensors" 2> "$D/err.log"
    grep -q "${bad#*:}" "$D/err.log" || { echo "no '${bad#*:}' for ${bad%%:*}:"; cat "$D/err.log"; exit 1; }
done
# what xt cannot do is refused, not ignored: another optimizer, bad optimiser values, a label missing from the map
! $XT train -c $CFG $SETS optimizer.name=lamb -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "optimizer.name: optimizer: unknown optimizer 'lamb' (sgd, adam or adamw)" "$D/err.log"
! $XT train -c $CFG $SETS optimizer.betas=[0.9] -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "optimizer.betas must be two numbers" "$D/err.log"
! $XT train -c $CFG $SETS optimizer.name=sgd optimizer.momentum=-0.5 -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "momentum -0.5 must be in \[0, 1)" "$D/err.log"
# the official optimiser keys are honoured: SGD (Nesterov), classifier_ratio, freeze_epochs,
# test_every (validation every N epochs: 3 steps here)
$XT train -c $CFG $SETS optimizer.name=SGD optimizer.momentum=0.8 optimizer.nesterov=false optimizer.classifier_ratio=2 \
    train.freeze_epochs=1 train.test_every=2 xt.train.steps=6 -t 1 -q -o "$D/sgd.safetensors" > "$D/sgd.log" 2> /dev/null
grep -q "val: top-1 .* (2 images)" "$D/sgd.log"
python3 - "$D/sgd.safetensors" "$D/sgd.metrics.jsonl" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n))["__metadata__"]
ts = json.loads(meta["train_state"])
assert ts["optimizer"] == "sgd" and ts["momentum"] == 0.8 and ts["nesterov"] is False, ts
assert ts["classifier_ratio"] == 2 and ts["freeze_epochs"] == 1 and ts["val_every_epochs"] == 2, ts
assert [l["step"] for l in map(json.loads, open(sys.argv[2])) if "val" in l] == [6], "val at epoch 2 (= the end)"
PY
echo '{"4264": 2, "4344": 0}' > "$D/short_map.json"
! $XT train -c $CFG $SETS data.category_label_path=$D/short_map.json -q -o "$D/x.safetensors" 2> "$D/err.log"
grep -q "category_id 4347 (annotation 3) is not in the label map" "$D/err.log"
# without a label map, the filter numbers the kept categories by id: 4264 -> 0, 4344 -> 1, 4347 -> 2
$XT train -c $CFG $SETS "data.category_label_path=" xt.train.steps=1 -q -o "$D/nomap.safetensors" > /dev/null 2>&1
$XT eval -m "$D/nomap.safetensors" --data "$D/inat/val2018.json" -q --json > "$D/nomap.json"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); assert [(c['class'],c['total']) for c in e['per_class']]==[(0,2)], e" "$D/nomap.json"
echo ok
