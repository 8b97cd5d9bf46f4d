#!/usr/bin/python3
"""References for the training augmentations (tests/test_augment.c), PIL 9.4 / torch 1.13 /
torchvision 0.14 as Debian ships them (timm is not installed: its op functions, rand_bbox,
mixup_target and SoftTargetCrossEntropy are restated below from timm/data/auto_augment.py,
timm/data/mixup.py and timm/loss/cross_entropy.py, each a few lines of PIL / numpy / torch).

Writes tests/data/augment/:
  cases.txt  "W H" then one line per case: "<kind> <op> <arg...>"; kinds:
             ra   one RandAugment op on in.rgb at a fixed PIL argument (timm's call)
             cj   torchvision F.adjust_{brightness,contrast,saturation,hue} at a factor
             rrc  F.resized_crop(img, i, j, h, w, (S, S), BILINEAR)
             rrcfb  RandomResizedCrop.get_params fallback (scale > 1: no attempt fits) -> i j h w
             box  timm rand_bbox at a fixed centre: H W lam cy cx -> yl yh xl xh lam_corrected
             sce  soft-target CE: B K, then logits, targets, loss, grad (one line each)
  ref.bin    in.rgb then each image case's output, planar (3, H, W) uint8, in order
  in.png, list.csv, path_S16.f32
             the whole training data path with the crop forced to RandomResizedCrop's fallback
             (scale (2, 3)) and the flip forced on: RandomResizedCrop.get_params -> F.resized_crop
             -> F.hflip -> ToTensor -> Normalize(ImageNet), (3, 16, 16) float32
"""
import math
import os
import random

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image, ImageEnhance, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "augment")
W, H = 29, 21
FILL = (124, 116, 104)  # timm img_mean for the ImageNet mean: round(255 * m)
BIL = Image.BILINEAR


def make():
    r = random.Random(7)
    im = Image.new("RGB", (W, H))
    px = im.load()
    for y in range(H):
        for x in range(W):  # gradients, an edge and noise; values kept off 0 / 255 so autocontrast acts
            v = [40 + (x * 5 + y * 2) % 150, 30 + (x * x + 3 * y) % 170, 60 if (x // 4 + y // 3) % 2 else 200]
            px[x, y] = tuple(min(235, max(20, c + r.randint(-15, 15))) for c in v)
    return im


# timm auto_augment.py op functions (kwargs: fillcolor = img_mean, resample = the configured interpolation)
def affine(img, m):
    return img.transform(img.size, Image.AFFINE, m, resample=BIL, fillcolor=FILL)


def solarize_add(img, add, thresh=128):
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * 3)


RA = {
    "AutoContrast": lambda im, a: ImageOps.autocontrast(im),
    "Equalize": lambda im, a: ImageOps.equalize(im),
    "Invert": lambda im, a: ImageOps.invert(im),
    "Rotate": lambda im, a: im.rotate(a, resample=BIL, fillcolor=FILL),
    "Posterize": lambda im, a: im if int(a) >= 8 else ImageOps.posterize(im, int(a)),
    "Solarize": lambda im, a: ImageOps.solarize(im, a),
    "SolarizeAdd": lambda im, a: solarize_add(im, int(a)),
    "Color": lambda im, a: ImageEnhance.Color(im).enhance(a),
    "Contrast": lambda im, a: ImageEnhance.Contrast(im).enhance(a),
    "Brightness": lambda im, a: ImageEnhance.Brightness(im).enhance(a),
    "Sharpness": lambda im, a: ImageEnhance.Sharpness(im).enhance(a),
    "ShearX": lambda im, a: affine(im, (1, a, 0, 0, 1, 0)),
    "ShearY": lambda im, a: affine(im, (1, 0, 0, a, 1, 0)),
    "TranslateXRel": lambda im, a: affine(im, (1, 0, a * im.size[0], 0, 1, 0)),
    "TranslateYRel": lambda im, a: affine(im, (1, 0, 0, 0, 1, a * im.size[1])),
}
RA_CASES = [("AutoContrast", 0), ("Equalize", 0), ("Invert", 0), ("Rotate", 17.3), ("Rotate", -27.0), ("Rotate", 8.1),
            ("Posterize", 0), ("Posterize", 2), ("Posterize", 4), ("Solarize", 128), ("Solarize", 26), ("SolarizeAdd", 99),
            ("Color", 0.37), ("Color", 1.81), ("Contrast", 0.19), ("Contrast", 1.64), ("Brightness", 0.55),
            ("Brightness", 1.9), ("Sharpness", 0.1), ("Sharpness", 1.73), ("ShearX", 0.27), ("ShearX", -0.15),
            ("ShearY", 0.21), ("ShearY", -0.3), ("TranslateXRel", 0.31), ("TranslateXRel", -0.405),
            ("TranslateYRel", 0.2), ("TranslateYRel", -0.45)]
CJ = {"brightness": F.adjust_brightness, "contrast": F.adjust_contrast, "saturation": F.adjust_saturation, "hue": F.adjust_hue}
CJ_CASES = [("brightness", 0.6), ("brightness", 1.4), ("contrast", 0.63), ("contrast", 1.37), ("saturation", 0.6), ("saturation", 1.4),
            ("hue", 0.13), ("hue", -0.27), ("hue", 0.5), ("hue", -0.5), ("hue", 0.004)]
RRC_CASES = [(3, 5, 11, 17, 16), (0, 0, 21, 29, 12), (7, 2, 9, 6, 14)]  # i j h w S


def rand_bbox_at(h, w, lam, cy, cx):  # timm rand_bbox with the centre given
    ratio = np.sqrt(1 - lam)
    cut_h, cut_w = int(h * ratio), int(w * ratio)
    yl, yh = np.clip(cy - cut_h // 2, 0, h), np.clip(cy + cut_h // 2, 0, h)
    xl, xh = np.clip(cx - cut_w // 2, 0, w), np.clip(cx + cut_w // 2, 0, w)
    lam = 1.0 - (yh - yl) * (xh - xl) / float(h * w)  # correct_lam
    return int(yl), int(yh), int(xl), int(xh), lam


def planar(im):
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    im = make()
    lines, blobs = [f"{W} {H}"], [planar(im)]
    for op, a in RA_CASES:
        lines.append(f"ra {op} {a!r}")
        blobs.append(planar(RA[op](im, a)))
    for op, a in CJ_CASES:
        lines.append(f"cj {op} {a!r}")
        blobs.append(planar(CJ[op](im, a)))
    for i, j, h, w, s in RRC_CASES:
        lines.append(f"rrc {i} {j} {h} {w} {s}")
        blobs.append(planar(F.resized_crop(im, i, j, h, w, [s, s], T.InterpolationMode.BILINEAR)))
    for size, ratio in [((29, 21), (0.75, 4 / 3)), ((10, 40), (0.75, 4 / 3)), ((50, 12), (0.75, 4 / 3)), ((50, 12), (0.5, 2.0))]:
        box = T.RandomResizedCrop.get_params(Image.new("RGB", size), scale=(2.0, 3.0), ratio=ratio)
        lines.append(f"rrcfb {size[1]} {size[0]} {ratio[0]!r} {ratio[1]!r} " + " ".join(map(str, box)))
    for h, w, lam, cy, cx in [(16, 16, 0.3, 8, 8), (16, 16, 0.3, 1, 14), (21, 29, 0.71, 20, 0), (21, 29, 0.05, 3, 27), (8, 12, 0.999, 4, 6)]:
        yl, yh, xl, xh, lc = rand_bbox_at(h, w, lam, cy, cx)
        lines.append(f"box {h} {w} {lam!r} {cy} {cx} {yl} {yh} {xl} {xh} {lc!r}")
    # soft-target CE on mixup targets (lam 0.7, smoothing 0.1), vs autograd
    g = torch.Generator().manual_seed(3)
    B, K = 4, 7
    x = (torch.randn(B, K, generator=g, dtype=torch.float64) * 3).requires_grad_()
    y = torch.tensor([2, 0, 6, 2])
    off, on, lam = 0.1 / K, 1 - 0.1 + 0.1 / K, 0.7
    oh = lambda t: torch.full((B, K), off, dtype=torch.float64).scatter_(1, t.view(-1, 1), on)
    tgt = oh(y) * lam + oh(y.flip(0)) * (1 - lam)
    loss = torch.sum(-tgt * torch.log_softmax(x, dim=-1), dim=-1).mean()
    loss.backward()
    f = lambda t: " ".join(repr(float(v)) for v in t.reshape(-1))
    lines += [f"sce {B} {K}", f(x.detach()), " ".join(map(str, y.tolist())), f(tgt), repr(float(loss)), f(x.grad)]
    im.save(os.path.join(OUT, "in.png"))
    with open(os.path.join(OUT, "list.csv"), "w") as fh:
        fh.write("in.png,0\n")
    i, j, h, w = T.RandomResizedCrop.get_params(im, scale=(2.0, 3.0), ratio=(3 / 4, 4 / 3))
    t = F.to_tensor(F.hflip(F.resized_crop(im, i, j, h, w, [16, 16], T.InterpolationMode.BILINEAR)))
    t = F.normalize(t, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    t.numpy().astype("<f4").tofile(os.path.join(OUT, "path_S16.f32"))
    with open(os.path.join(OUT, "cases.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(OUT, "ref.bin"), "wb") as fh:
        fh.write(b"".join(blobs))


if __name__ == "__main__":
    main()
