#!/bin/sh
# tools/make_glyphs.py (docs/training.md, "Pretrained vs scratch"): the same seed writes the same
# files, another seed other ones; sizes and label ranges; the pair labels follow their rules
# (larger: 1 iff the left digit is larger, digits distinct; left: the left digit). Skipped without PIL or the DejaVu fonts.
set -e
PY=${PY:-/usr/bin/python3}
D="$BUILD/glyphs"
if ! $PY -c "import PIL, numpy" 2> /dev/null || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    echo "skip: no PIL / numpy / DejaVu fonts"; exit 0
fi
rm -rf "$D"; mkdir -p "$D"
g() { $PY tools/make_glyphs.py "$D/$1" --seed "$2" --pretrain 12 --pval 4 --train 8 --val 4; }
g a 1; g b 1; g c 2
for f in pretrain.csv pval.csv train.csv val.csv train_left.csv val_left.csv pretrain/00011.png train/00007.png val/00003.png; do
    cmp "$D/a/$f" "$D/b/$f"
done
if cmp -s "$D/a/train/00000.png" "$D/c/train/00000.png"; then echo "seeds 1 and 2 drew the same image"; exit 1; fi
$PY - "$D/a" <<'PY'
import random, sys
from PIL import Image
sys.path.insert(0, "tools")
import make_glyphs as g
d = sys.argv[1]
for name, n, side, labels in (("pretrain", 12, 64, range(10)), ("pval", 4, 64, range(10)),
                              ("train", 8, 128, (0, 1)), ("val", 4, 128, (0, 1)),
                              ("train_left", 8, 128, range(10)), ("val_left", 4, 128, range(10))):
    rows = [l.strip().split(",") for l in open(f"{d}/{name}.csv")]
    assert len(rows) == n, (name, rows)
    for path, label in rows:
        assert int(label) in labels, (name, path, label)
        im = Image.open(f"{d}/{path}")
        assert im.size == (side, side) and im.mode == "RGB", (path, im.size, im.mode)
left = [l.split(",")[0] for l in open(f"{d}/train_left.csv")]
assert left == [l.split(",")[0] for l in open(f"{d}/train.csv")]  # the same images
# the rules: the pair's digits are the first draw of the generator
for seed in range(200):
    img, (larger, left) = g.pair_image(random.Random(seed))
    a, b = random.Random(seed).sample(range(10), 2)
    assert a != b and larger == int(a > b) and left == a, (seed, a, b, larger, left)
print("glyphs: deterministic, sizes and labels ok, 200 pair labels follow the rule")
PY
