#!/usr/bin/python3
"""Generate the glyph datasets of docs/training.md, "Pretrained vs scratch".

    python3 tools/make_glyphs.py OUTDIR [--seed S] [--pretrain N] [--pval N] [--train N] [--val N]

Digits 0-9 rendered with Debian's DejaVu fonts (package fonts-dejavu-core) by PIL, each in a
64 x 64 tile: a random face of FACES, size, rotation, offset and colour on a noisy background.

  OUTDIR/pretrain.csv  N single-digit 64 x 64 images, label = the digit (10 classes)
  OUTDIR/pval.csv      the same, held out
  OUTDIR/train.csv     N 128 x 128 images = 2 x 2 tiles (crop_size 64): one digit in the left
  OUTDIR/val.csv       column, another in the right column (each in a random row), the other two
                       tiles noise; label = 1 if the left digit is larger than the right one,
                       else 0 (the two digits always differ; both labels equally likely)
  OUTDIR/train_left.csv, val_left.csv   the same images, label = the left digit (10 classes)

The target labels need fine detail (which digit a tile holds: 6 vs 8 vs 9 in small italic
glyphs) and context (the comparison across two regions the encoder sees separately; for
_left, which of the two digits is the left one: a head that pools the regions without their
positions sees the same two digits either way).
Everything is drawn from random.Random(seed) per set, so the files are the same on every run.
"""
import argparse
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FACES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
         "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf",
         "DejaVuSerifCondensed-Bold.ttf"]
TILE = 64


def noise_tile(r):
    """A 64 x 64 RGB tile of per-pixel noise around a random dark grey."""
    base = r.randrange(0, 90)
    noise = np.random.default_rng(r.getrandbits(64)).integers(0, 60, (TILE, TILE, 3))
    return Image.fromarray((base + noise).astype(np.uint8), "RGB")


def digit_tile(r, d):
    """Digit d in a random face, size 22-40 px, rotation +-20 degrees, offset, bright colour."""
    font = ImageFont.truetype(os.path.join(FONT_DIR, r.choice(FACES)), r.randrange(22, 41))
    glyph = Image.new("L", (TILE, TILE), 0)
    ImageDraw.Draw(glyph).text((TILE // 2, TILE // 2), str(d), fill=255, font=font, anchor="mm")
    glyph = glyph.rotate(r.uniform(-20, 20), resample=Image.BILINEAR)
    glyph = glyph.transform((TILE, TILE), Image.AFFINE, (1, 0, r.randrange(-8, 9), 0, 1, r.randrange(-8, 9)))
    tile = noise_tile(r)
    colour = tuple(r.randrange(150, 256) for _ in range(3))
    tile.paste(Image.new("RGB", (TILE, TILE), colour), (0, 0), glyph)
    return tile


def pair_image(r):
    """(128 x 128 image, (a > b, a)): digits a != b in the left / right column."""
    a, b = r.sample(range(10), 2)
    img = Image.new("RGB", (2 * TILE, 2 * TILE))
    rows = (r.randrange(2), r.randrange(2))
    for row in range(2):
        for col in range(2):
            t = digit_tile(r, (a, b)[col]) if rows[col] == row else noise_tile(r)
            img.paste(t, (col * TILE, row * TILE))
    return img, (int(a > b), a)


def write_set(out, name, n, seed, make, csvs):
    """n images of make(r) under OUTDIR/name/, label k of each into OUTDIR/csvs[k]."""
    r = random.Random(seed)
    os.makedirs(os.path.join(out, name), exist_ok=True)
    fs = [open(os.path.join(out, c), "w") for c in csvs]
    for i in range(n):
        img, labels = make(r)
        path = "%s/%05d.png" % (name, i)
        img.save(os.path.join(out, path))
        for f, label in zip(fs, labels):
            f.write("%s,%d\n" % (path, label))
    for f in fs:
        f.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pretrain", type=int, default=6000)
    ap.add_argument("--pval", type=int, default=500)
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--val", type=int, default=500)
    a = ap.parse_args()

    def single(r):
        d = r.randrange(10)
        return digit_tile(r, d), (d,)
    # distinct seeds per set: the sets share no image
    write_set(a.out, "pretrain", a.pretrain, a.seed * 4 + 0, single, ["pretrain.csv"])
    write_set(a.out, "pval", a.pval, a.seed * 4 + 3, single, ["pval.csv"])
    write_set(a.out, "train", a.train, a.seed * 4 + 1, pair_image, ["train.csv", "train_left.csv"])
    write_set(a.out, "val", a.val, a.seed * 4 + 2, pair_image, ["val.csv", "val_left.csv"])


if __name__ == "__main__":
    main()
