#!/usr/bin/env python3
"""References for the official evaluation transform (tests/test_resize.c).

xt/datasets/build.py create_imagenet_transforms(is_train=False) on a PIL image:
  test_crop False: transforms.Resize((S, S), interpolation)      -> PIL img.resize((S, S), filter)
  test_crop True:  transforms.Resize(S) + transforms.CenterCrop(S) -> shorter side S, longer
                   int(S * long / short); crop offsets int(round((n - S) / 2.0))
torchvision (0.14, torch 1.13's) F.resize on a PIL image is exactly PIL's Image.resize with the
mapped filter (functional_pil.resize), so PIL alone reproduces it here (torchvision is not
installed on this machine; python3-pil is). Writes small PNGs into tests/data/resize/:
  in_<name>.png and out_<name>_<mode>_<interp>_<S>.png.
"""
import os
import random

from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "resize")
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS, "hamming": Image.HAMMING}


def make(w, h, seed):
    r = random.Random(seed)
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):  # smooth gradients + sharp edges + noise: every filter tap matters
            v = [(x * 7 + y * 3) % 256, (x * x + 5 * y) % 256, 255 if (x // 5 + y // 4) % 2 else 0]
            px[x, y] = tuple(min(255, max(0, c + r.randint(-20, 20))) for c in v)
    return im


def resize_short(im, S, f):
    w, h = im.size
    if w <= h:
        size = (S, int(S * h / w))
    else:
        size = (int(S * w / h), S)
    im = im.resize(size, f)
    w, h = im.size
    top, left = int(round((h - S) / 2.0)), int(round((w - S) / 2.0))
    return im.crop((left, top, left + S, top + S))


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = [("a", 97, 61, 1), ("b", 20, 14, 2), ("c", 45, 80, 3)]
    S = 32
    for name, w, h, seed in cases:
        im = make(w, h, seed)
        im.save(os.path.join(OUT, f"in_{name}.png"))
        for interp in (["bilinear", "bicubic", "lanczos", "hamming"] if name == "a" else ["bilinear", "bicubic"]):
            f = FILTERS[interp]
            im.resize((S, S), f).save(os.path.join(OUT, f"out_{name}_resize_{interp}_{S}.png"))
            resize_short(im, S, f).save(os.path.join(OUT, f"out_{name}_crop_{interp}_{S}.png"))


if __name__ == "__main__":
    main()
