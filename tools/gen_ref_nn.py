#!/usr/bin/python3
"""gen_ref_nn.py — per-layer references for tests/test_nn_basic.c and tests/test_window_attn.c.

    /usr/bin/python3 tools/gen_ref_nn.py [OUT_DIR]     # writes OUT_DIR/nn_basic.safetensors, nn_swin.safetensors

Odd sizes on purpose (not multiples of the SIMD width). Torch float32 on one thread; the Swin
pieces reuse tools/gen_ref_swin.py, whose model reproduces the official golden files exactly.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_swin import attn_mask, cpb_bias, st_write, window_partition, window_reverse  # noqa: E402


def basic(g):
    t = {}
    # linear: (37, 53) x (29, 53)^T + b
    x = torch.randn(37, 53, generator=g)
    w = torch.randn(29, 53, generator=g) / math.sqrt(53)
    b = torch.randn(29, generator=g)
    t.update({"linear.x": x, "linear.w": w, "linear.b": b, "linear.out": F.linear(x, w, b),
              "linear.out_nobias": F.linear(x, w)})
    # layernorm over 97 channels, rows with large offsets (catches one-pass variance)
    x = torch.randn(13, 97, generator=g) * 3 + torch.arange(13).float().unsqueeze(1) * 50
    w = 1 + 0.1 * torch.randn(97, generator=g)
    b = 0.1 * torch.randn(97, generator=g)
    t.update({"layernorm.x": x, "layernorm.w": w, "layernorm.b": b,
              "layernorm.out": F.layer_norm(x, (97,), w, b, 1e-5)})
    # GELU (erf) over [-10, 10] plus random values
    x = torch.cat([torch.linspace(-10, 10, 2001), torch.randn(1003, generator=g) * 3])
    t.update({"gelu.x": x, "gelu.out": F.gelu(x)})
    # softmax: rows of 301 with a wide range, a row with -100 mask values, a constant row
    x = torch.randn(7, 301, generator=g) * 8
    x[3, ::3] -= 100
    x[5] = 2.5
    t.update({"softmax.x": x, "softmax.out": torch.softmax(x, -1)})
    return t


def swin(g):
    t = {}
    # continuous position bias for a window of 5, 3 heads
    nh, ws = 3, 5
    sd = {"attn.cpb_mlp.0.weight": torch.randn(512, 2, generator=g) / math.sqrt(2),
          "attn.cpb_mlp.0.bias": 0.1 * torch.randn(512, generator=g),
          "attn.cpb_mlp.2.weight": torch.randn(nh, 512, generator=g) / math.sqrt(512)}
    t.update({"cpb." + k: v for k, v in sd.items()})
    t["cpb.out"] = cpb_bias(sd, "", ws, nh)
    # window attention on qkv (B, H, W, 3C): B 2, 10x10 map, window 5, C 12, 3 heads; shift 0 and 2
    B, H, C = 2, 10, 12
    qkv = torch.randn(B, H, H, 3 * C, generator=g)
    scale = torch.exp(torch.clamp(math.log(10) + 0.5 * torch.randn(nh, generator=g), max=math.log(100)))
    scale[1] = 100.0  # the clamp's value
    t.update({"attn.qkv": qkv, "attn.scale": scale})
    bias = t["cpb.out"]
    for shift in (0, 2):
        x = torch.roll(qkv, shifts=(-shift, -shift), dims=(1, 2)) if shift else qkv
        xw = window_partition(x, ws).view(-1, ws * ws, 3 * C)
        q, k, v = xw.reshape(xw.shape[0], ws * ws, 3, nh, -1).permute(2, 0, 3, 1, 4).unbind(0)
        a = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        a = a * scale.view(nh, 1, 1) + bias.unsqueeze(0)
        m = attn_mask(H, H, ws, shift)
        if m is not None:
            nw = m.shape[0]
            a = (a.view(-1, nw, nh, ws * ws, ws * ws) + m.unsqueeze(1).unsqueeze(0)).view(-1, nh, ws * ws, ws * ws)
        o = (a.softmax(-1) @ v).transpose(1, 2).reshape(-1, ws * ws, C).view(-1, ws, ws, C)
        o = window_reverse(o, ws, H, H)
        if shift:
            o = torch.roll(o, shifts=(shift, shift), dims=(1, 2))
        t[f"attn.out_shift{shift}"] = o
    # patch merging gather (B 2, 6x10 map, C 5): timm's reshape/permute/flatten
    x = torch.randn(2, 6, 10, 5, generator=g)
    t["merge.x"] = x
    t["merge.out"] = x.reshape(2, 3, 2, 5, 2, 5).permute(0, 1, 3, 4, 2, 5).flatten(3)
    # patch embedding: Conv2d(3, 7, 4, stride 4) on (2, 3, 12, 20) == im2col + linear
    img = torch.randn(2, 3, 12, 20, generator=g)
    w = torch.randn(7, 3, 4, 4, generator=g) / math.sqrt(48)
    b = torch.randn(7, generator=g)
    t.update({"embed.img": img, "embed.w": w, "embed.b": b,
              "embed.out": F.conv2d(img, w, b, stride=4).permute(0, 2, 3, 1).contiguous()})
    return t


if __name__ == "__main__":
    torch.set_num_threads(1)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref")
    os.makedirs(out, exist_ok=True)
    meta = {"torch": torch.__version__, "generator": "tools/gen_ref_nn.py"}
    g = torch.Generator().manual_seed(20)
    with torch.no_grad():
        st_write(os.path.join(out, "nn_basic.safetensors"), basic(g), meta)
        st_write(os.path.join(out, "nn_swin.safetensors"), swin(g), meta)
    print("wrote", out)
