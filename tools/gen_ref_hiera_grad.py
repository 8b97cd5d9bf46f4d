#!/usr/bin/python3
"""gen_ref_hiera_grad.py - gradient reference for the trainable Hiera region encoder.

Runs the plain-PyTorch Hiera of tools/gen_ref_backbones.py (hiera v0.1.4 semantics, checked there
against the official golden file; checked again here) in float64 under autograd on a tiny random
Hiera and writes tests/ref/hiera_grad_small.safetensors:

  model.*                   weights (float32; the float64 run starts from exactly these values)
  input.image               (B, 3, 64, 64)
  input.cotangent.stage{s}  a random cotangent per stage output, NCHW (B, C_s, H_s, H_s)
  expected.intermediates{s} the stage outputs, NHWC (Hiera's return_intermediates)
  expected.out              the last stage, NCHW (HieraWrapper's output)
  expected.loss             (1,) loss = sum_s sum(stage_s * input.cotangent.stage{s})
  expected.grad.<name>      dloss/d every parameter; expected.grad.input.image dloss/d image
The names follow the golden *_grad files, so `xt verify` checks the file too.

Config: embed 8, 2 heads, stages (1, 2, 1, 1), mask units 8x8 at 64x64 (16x16 tokens: 4 mask
units in stage 0, q-pooled mask-unit attention entering stage 1, the lagged mask-unit block
entering stage 2, global attention after), mlp_ratio 2, batch 2. Size ~0.6 MB.

Usage: /usr/bin/python3 tools/gen_ref_hiera_grad.py [GOLDEN_DIR]
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ref_backbones as gb  # noqa: E402  (its plain-torch Hiera and safetensors helpers)

torch.set_grad_enabled(True)


def main():
    gdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../tests/golden")
    # the re-implementation reproduces the official golden file
    t, meta = gb.st_read(os.path.join(gdir, "hiera_region.safetensors"))
    gcfg = json.loads(meta["config"])
    with torch.no_grad():
        got = gb.hiera_forward(t, gcfg["hiera"], t["input.image"])
    for k, v in got.items():
        d = gb.maxdiff(v, t["expected." + k])
        print(f"golden hiera {k}: {d:.2e}")
        assert d < 1e-5, k

    gen = torch.Generator().manual_seed(4242)
    S, B = 64, 2
    hc = {"embed_dim": 8, "num_heads": 2, "stages": [1, 2, 1, 1], "q_pool": 3, "q_stride": [2, 2],
          "mask_unit_size": [8, 8], "mask_unit_attn": [True, True, False, False], "dim_mul": 2.0,
          "head_mul": 2.0, "patch_kernel": [7, 7], "patch_stride": [4, 4], "patch_padding": [3, 3],
          "mlp_ratio": 2.0, "in_chans": 3}
    sd = gb.hiera_weights(hc, S, gen)
    img = torch.randn(B, 3, S, S, generator=gen)
    with torch.no_grad():
        ref32 = gb.hiera_forward(sd, hc, img)
    nst = len(hc["stages"])
    douts = [torch.randn(ref32["out"].shape[0], *ref32[f"intermediates{s}"].permute(0, 3, 1, 2).shape[1:],
                         generator=gen) for s in range(nst)]
    # float64 autograd run from the float32 values
    sd64 = {k: v.double().requires_grad_(True) for k, v in sd.items()}
    img64 = img.double().requires_grad_(True)
    out = gb.hiera_forward(sd64, hc, img64)
    outs = [out[f"intermediates{s}"].permute(0, 3, 1, 2) for s in range(nst)]
    loss = sum((o * d.double()).sum() for o, d in zip(outs, douts))
    loss.backward()
    for s in range(nst):
        d = gb.maxdiff(outs[s].detach().float(), ref32[f"intermediates{s}"].permute(0, 3, 1, 2))
        print(f"float32 vs float64 out{s}: {d:.2e}")
    tens = dict(sd)
    tens["input.image"] = img
    for s in range(nst):
        tens[f"input.cotangent.stage{s}"] = douts[s]
        tens[f"expected.intermediates{s}"] = out[f"intermediates{s}"].detach().float().contiguous()
    tens["expected.out"] = outs[-1].detach().float().contiguous()
    tens["expected.loss"] = loss.detach().float().reshape(1)
    for k, v in sd64.items():
        tens["expected.grad." + k] = v.grad.float()
    tens["expected.grad.input.image"] = img64.grad.float()
    cfg = {"kind": "hiera_region", "case": "hiera_grad_small", "hiera": hc, "image_size": S, "batch": B}
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/ref")
    path = os.path.join(outdir, "hiera_grad_small.safetensors")
    meta = gb.meta_for("hiera_grad_small", cfg, "Hiera (v0.1.4 semantics) gradients, float64 autograd, "
                       "loss = sum_s sum(stage_s * input.cotangent.stage_s)")
    meta["generator"] = "tools/gen_ref_hiera_grad.py (random weights, float64 autograd)"
    gb.st_write(path, tens, meta)
    print(path, os.path.getsize(path), "bytes, loss", float(loss))


if __name__ == "__main__":
    main()
