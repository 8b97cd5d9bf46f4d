#!/usr/bin/python3
"""Exports a region encoder of the benchmark to ONNX for bench/ort_swin.mjs: the network
bench/torch_swin.py times (region_encoder there), random weights seed 0, outputs stage0..3 (NCHW).
  --encoder swin (default): Swin V2-T, torchvision Swin V2 classes, window 16, window clamped like
            timm on small maps
  --encoder hiera / convnext: Hiera-T / ConvNeXt-T, the plain-PyTorch forwards of
            tools/gen_ref_backbones.py (traced; the weights become initializers)

  /usr/bin/python3 tools/export_onnx.py [-o build/bench/swinv2_t_256.onnx] [--encoder swin]
                                        [--batch 4] [--img 256]

Opset 17 (the newest torch 1.13 exports). torch.roll exports as Slice+Concat; the shifted-window
mask, computed from static shapes, is folded into constants. The batch dimension is dynamic.
Checks the exported graph against PyTorch with onnxruntime if the Python package is available
(it is not on Debian; ort_swin.mjs prints the output checksum instead)."""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_swin import ENCODERS, region_encoder  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", default="build/bench/swinv2_t_256.onnx")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--img", type=int, default=256)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--stock", action="store_true")
    ap.add_argument("--encoder", default="swin", choices=ENCODERS)
    a = ap.parse_args()

    # torchvision zeroes the k third of the qkv bias in place every forward (qkv_bias[...].zero_()),
    # and torch 1.13 has no ONNX symbolic for aten::zero: export it as x * 0 (same shape/dtype).
    torch.onnx.register_custom_op_symbolic(
        "aten::zero", lambda g, self: g.op("Mul", self, g.op("Constant", value_t=torch.tensor(0.0))),
        a.opset)

    torch.manual_seed(0)
    model, _ = region_encoder(a.encoder, a.img, a.stock)
    x = torch.randn(a.batch, 3, a.img, a.img)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    names = [f"stage{s}" for s in range(4)]
    with torch.no_grad():
        ref = model(x)
        torch.onnx.export(model, (x,), a.out, opset_version=a.opset, input_names=["image"],
                          output_names=names,
                          dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                          do_constant_folding=True)
    # checksum that ort_swin.mjs prints for the same seeded input is not comparable (JS has its own
    # RNG), so record PyTorch's output on a deterministic ramp input instead.
    ramp = (torch.arange(a.batch * 3 * a.img * a.img, dtype=torch.float32) % 251 / 125.0 - 1.0)
    with torch.no_grad():
        out = model(ramp.view(a.batch, 3, a.img, a.img))
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB), opset {a.opset}; "
          f"ramp-input checksum stage3 sum={out[3].sum().item():.6f} "
          f"absmean={out[3].abs().mean().item():.6f}")


if __name__ == "__main__":
    main()
