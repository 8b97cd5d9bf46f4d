#!/usr/bin/python3
"""ImageNet-style backbone state dicts under the libraries' own names, for tests/cli_pretrained.sh.

Run: /usr/bin/python3 tools/gen_ref_pretrained.py   (needs torch; reads tests/golden or $XT_GOLDEN)

  pretrained_swinv2_timm.pth   torch.save(state_dict) (zip) of a timm 0.9.7 SwinTransformerV2
      classifier: the weights of golden swinv2_region_512 (SWIN8, embed 8, depths 2,2,2,2) under
      timm's names (model.layers_{s}.* -> layers.{s}.*), plus what a full classifier has and the
      features_only encoder does not: norm.{weight,bias} (64), head.fc.{weight,bias} (10 classes),
      and, as older checkpoints do, the recomputed buffers relative_position_index /
      relative_coords_table / attn_mask of block layers.0.blocks.0 (small stand-ins: the converter
      drops them by name).
  pretrained_hiera_tiny.pth    the hiera package's payload {"model_state": state_dict} of a small
      random Hiera (embed 4, stages (1,1,1,1), 64x64 input: pos_embed (1, 256, 4)) with norm.* and
      head.projection.* — exercises the payload and the mapping (its numerics are covered with the
      golden hiera_region weights by tests/test_pretrained.c).
  ../tests/fuzz/corpus/pretrained_swin_seed.pth   a tiny timm-named Swin V2 (embed 2, depths 1,1) +
      head / norm / a buffer: a seed for the fuzz target's pretrained-backbone path.
"""
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "ref")
GOLDEN = os.environ.get("XT_GOLDEN", os.path.join(HERE, "..", "tests", "golden"))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    out = OrderedDict()
    for k, v in sorted(((k, v) for k, v in h.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = v["data_offsets"]
        assert v["dtype"] == "F32"
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy())
    return out


def swin():
    g = read_safetensors(os.path.join(GOLDEN, "swinv2_region_512.safetensors"))
    gen = torch.Generator().manual_seed(5)
    sd = OrderedDict()
    for k, v in g.items():
        if not k.startswith("model."):
            continue
        name = k[len("model."):]
        if name.startswith("layers_"):
            s, rest = name[len("layers_"):].split(".", 1)
            name = "layers.%s.%s" % (s, rest)
        sd[name] = v
        if name == "layers.0.blocks.0.attn.cpb_mlp.2.weight":  # timm registers the buffers here
            sd["layers.0.blocks.0.attn.relative_coords_table"] = torch.randn(1, 3, 3, 2, generator=gen)
            sd["layers.0.blocks.0.attn.relative_position_index"] = torch.arange(16, dtype=torch.int64).reshape(4, 4)
        if name == "layers.0.blocks.0.mlp.fc2.bias":
            sd["layers.0.blocks.0.attn_mask"] = torch.zeros(2, 4, 4)
    sd["norm.weight"] = 1 + 0.1 * torch.randn(64, generator=gen)
    sd["norm.bias"] = 0.1 * torch.randn(64, generator=gen)
    sd["head.fc.weight"] = torch.randn(10, 64, generator=gen) / 8
    sd["head.fc.bias"] = 0.1 * torch.randn(10, generator=gen)
    torch.save(sd, os.path.join(OUT, "pretrained_swinv2_timm.pth"))


def hiera():
    gen = torch.Generator().manual_seed(6)
    sd = OrderedDict()
    sd["pos_embed"] = 0.5 * torch.randn(1, 256, 4, generator=gen)
    sd["patch_embed.proj.weight"] = torch.randn(4, 3, 7, 7, generator=gen) / 12
    sd["patch_embed.proj.bias"] = 0.1 * torch.randn(4, generator=gen)
    dim = 4
    for i in range(4):
        out = dim * 2 if i > 0 else dim
        p = "blocks.%d." % i
        sd[p + "norm1.weight"] = 1 + 0.1 * torch.randn(dim, generator=gen)
        sd[p + "norm1.bias"] = 0.1 * torch.randn(dim, generator=gen)
        if out != dim:
            sd[p + "proj.weight"] = torch.randn(out, dim, generator=gen) / dim ** 0.5
            sd[p + "proj.bias"] = 0.1 * torch.randn(out, generator=gen)
        sd[p + "attn.qkv.weight"] = torch.randn(3 * out, dim, generator=gen) / dim ** 0.5
        sd[p + "attn.qkv.bias"] = 0.1 * torch.randn(3 * out, generator=gen)
        sd[p + "attn.proj.weight"] = torch.randn(out, out, generator=gen) / out ** 0.5
        sd[p + "attn.proj.bias"] = 0.1 * torch.randn(out, generator=gen)
        sd[p + "norm2.weight"] = 1 + 0.1 * torch.randn(out, generator=gen)
        sd[p + "norm2.bias"] = 0.1 * torch.randn(out, generator=gen)
        sd[p + "mlp.fc1.weight"] = torch.randn(4 * out, out, generator=gen) / out ** 0.5
        sd[p + "mlp.fc1.bias"] = 0.1 * torch.randn(4 * out, generator=gen)
        sd[p + "mlp.fc2.weight"] = torch.randn(out, 4 * out, generator=gen) / (4 * out) ** 0.5
        sd[p + "mlp.fc2.bias"] = 0.1 * torch.randn(out, generator=gen)
        dim = out
    sd["norm.weight"] = 1 + 0.1 * torch.randn(dim, generator=gen)
    sd["norm.bias"] = 0.1 * torch.randn(dim, generator=gen)
    sd["head.projection.weight"] = torch.randn(10, dim, generator=gen) / dim ** 0.5
    sd["head.projection.bias"] = 0.1 * torch.randn(10, generator=gen)
    torch.save({"model_state": sd}, os.path.join(OUT, "pretrained_hiera_tiny.pth"))


def fuzz_seed():
    gen = torch.Generator().manual_seed(7)
    sd = OrderedDict()
    sd["patch_embed.proj.weight"] = torch.randn(2, 3, 4, 4, generator=gen)
    sd["patch_embed.norm.weight"] = torch.ones(2)
    for s, c in ((0, 2), (1, 4)):
        p = "layers.%d." % s
        if s:
            sd[p + "downsample.reduction.weight"] = torch.randn(c, 2 * c, generator=gen)
            sd[p + "downsample.norm.weight"] = torch.ones(c)
        p += "blocks.0."
        sd[p + "attn.logit_scale"] = torch.full((s + 1, 1, 1), 2.3)
        sd[p + "attn.cpb_mlp.0.weight"] = torch.randn(512, 2, generator=gen)[:4]
        sd[p + "attn.qkv.weight"] = torch.randn(3 * c, c, generator=gen)
        sd[p + "attn.relative_position_index"] = torch.arange(4, dtype=torch.int64)
    sd["norm.weight"] = torch.ones(4)
    sd["head.fc.weight"] = torch.randn(3, 4, generator=gen)
    torch.save(sd, os.path.join(HERE, "..", "tests", "fuzz", "corpus", "pretrained_swin_seed.pth"))


if __name__ == "__main__":
    swin()
    hiera()
    fuzz_seed()
