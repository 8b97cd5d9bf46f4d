#!/usr/bin/python3
"""gen_ref_convnext_grad.py - gradient reference for the trainable ConvNeXt region encoder.

Runs the plain-PyTorch ConvNeXt of tools/gen_ref_backbones.py (timm 0.9.7 semantics, checked there
against the official golden file; checked again here) in float64 under autograd on a tiny random
ConvNeXt and writes tests/ref/convnext_grad_small.safetensors (kind convnext_region: config at the
top level, weights unprefixed, as the golden convnext_region file):

  stem_0.* ... stages_<s>.*  weights (float32; the float64 run starts from exactly these values)
  input.image                (B, 3, 64, 64)
  input.cotangent.stage{s}   a random cotangent per stage output, NCHW (B, C_s, H_s, H_s)
  expected.stem_1            the stem output, NCHW
  expected.stage{s}          the stage outputs, NCHW
  expected.loss              (1,) loss = sum_s sum(stage_s * input.cotangent.stage{s})
  expected.grad.<name>       dloss/d every parameter; expected.grad.input.image dloss/d image
The names follow the golden *_grad files, so `xt verify` checks the file too.

Config: dims [8, 16, 32, 64], depths [1, 1, 2, 1], kernel 7 (pads 3 on 16x16 ... 2x2 maps, so
the border handling of the depthwise conv is exercised everywhere), mlp_ratio 4, 64x64, batch 2.

Usage: /usr/bin/python3 tools/gen_ref_convnext_grad.py [GOLDEN_DIR]
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ref_backbones as gb  # noqa: E402  (its plain-torch ConvNeXt and safetensors helpers)

torch.set_grad_enabled(True)


def main():
    gdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../tests/golden")
    t, meta = gb.st_read(os.path.join(gdir, "convnext_region.safetensors"))
    gcfg = json.loads(meta["config"])
    with torch.no_grad():
        got = gb.convnext_forward(t, gcfg, t["input.image"])
    for k, v in got.items():
        d = gb.maxdiff(v, t["expected." + k])
        print(f"golden convnext {k}: {d:.2e}")
        assert d < 1e-5, k

    gen = torch.Generator().manual_seed(5151)
    S, B = 64, 2
    cfg = {"kind": "convnext_region", "case": "convnext_grad_small", "dims": [8, 16, 32, 64],
           "depths": [1, 1, 2, 1], "image_size": S, "batch": B}
    sd = gb.convnext_weights(cfg, gen)
    img = torch.randn(B, 3, S, S, generator=gen)
    with torch.no_grad():
        ref32 = gb.convnext_forward(sd, cfg, img)
    nst = len(cfg["depths"])
    douts = [torch.randn(*ref32[f"stage{s}"].shape, generator=gen) for s in range(nst)]
    sd64 = {k: v.double().requires_grad_(True) for k, v in sd.items()}
    img64 = img.double().requires_grad_(True)
    out = gb.convnext_forward(sd64, cfg, img64)
    loss = sum((out[f"stage{s}"] * d.double()).sum() for s, d in enumerate(douts))
    loss.backward()
    for s in range(nst):
        d = gb.maxdiff(out[f"stage{s}"].detach().float(), ref32[f"stage{s}"])
        print(f"float32 vs float64 stage{s}: {d:.2e}")
    tens = dict(sd)
    tens["input.image"] = img
    for s in range(nst):
        tens[f"input.cotangent.stage{s}"] = douts[s]
    for k, v in out.items():
        tens["expected." + k] = v.detach().float().contiguous()
    tens["expected.loss"] = loss.detach().float().reshape(1)
    for k, v in sd64.items():
        tens["expected.grad." + k] = v.grad.float()
    tens["expected.grad.input.image"] = img64.grad.float()
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/ref")
    path = os.path.join(outdir, "convnext_grad_small.safetensors")
    meta = gb.meta_for("convnext_grad_small", cfg, "ConvNeXt (timm 0.9.7 semantics) gradients, float64 autograd, "
                       "loss = sum_s sum(stage_s * input.cotangent.stage_s)")
    meta["generator"] = "tools/gen_ref_convnext_grad.py (random weights, float64 autograd)"
    gb.st_write(path, tens, meta)
    print(path, os.path.getsize(path), "bytes, loss", float(loss))


if __name__ == "__main__":
    main()
