#!/usr/bin/python3
"""A random-weight xView3 model file (config kind "xview") of the official sizes, for timing
`xt detect` (docs/xview3.md, "Speed and memory"). Pure Python (no numpy, no torch): the weights are
N(0, 1/fan_in) for matrices and convs, 1 for norm scales, N(0, 0.02^2) for biases, log(10) for
Swin V2's logit_scale; seeded, so the file is reproducible.

Default: Swin V2-T (embed 96, depths 2,2,6,2, heads 3,6,12,24, window 16) at S = 256, the
official decoder widths [48, 96, 176, 256] and last 48, context hidden 256, 4 layers (2 heads).

Run: python3 tools/gen_xview_model.py OUT.safetensors [--embed 96] [--depths 2,2,6,2]
     [--heads 3,6,12,24] [--hidden 256] [--layers 4] [--no-context] [--tile 1024] [--seed 1]
"""
import argparse
import array
import json
import math
import random
import struct
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--embed", type=int, default=96)
    ap.add_argument("--depths", default="2,2,6,2")
    ap.add_argument("--heads", default="3,6,12,24")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--tile", type=int, default=1024, help="val_crop_size")
    ap.add_argument("--decoder", default="48,96,176,256")
    ap.add_argument("--last", type=int, default=48)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=int, default=4)
    ap.add_argument("--no-context", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    depths = [int(x) for x in a.depths.split(",")]
    heads = [int(x) for x in a.heads.split(",")]
    dec = [int(x) for x in a.decoder.split(",")]
    rng = random.Random(a.seed)
    tensors = []  # (name, shape, kind)

    def add(name, shape, kind=None):
        if kind is None:
            if name.endswith("logit_scale"):
                kind = "logit"
            elif len(shape) >= 2:
                kind = "mat"
            elif name.endswith("bias"):
                kind = "bias"
            else:
                kind = "one"
        tensors.append((name, list(shape), kind))

    E = a.embed
    chans = [E * 2 ** s for s in range(4)]
    p = "encoder.model."
    add(p + "patch_embed.proj.weight", [E, 2, 4, 4])
    add(p + "patch_embed.proj.bias", [E])
    add(p + "patch_embed.norm.weight", [E])
    add(p + "patch_embed.norm.bias", [E])
    for s in range(4):
        C, NH = chans[s], heads[s]
        if s > 0:
            add(p + "layers_%d.downsample.reduction.weight" % s, [C, 2 * C])
            add(p + "layers_%d.downsample.norm.weight" % s, [C])
            add(p + "layers_%d.downsample.norm.bias" % s, [C])
        for b in range(depths[s]):
            q = p + "layers_%d.blocks.%d." % (s, b)
            for n, sh in [("attn.logit_scale", [NH, 1, 1]), ("attn.q_bias", [C]), ("attn.v_bias", [C]),
                          ("attn.cpb_mlp.0.weight", [512, 2]), ("attn.cpb_mlp.0.bias", [512]),
                          ("attn.cpb_mlp.2.weight", [NH, 512]), ("attn.qkv.weight", [3 * C, C]),
                          ("attn.proj.weight", [C, C]), ("attn.proj.bias", [C]), ("norm1.weight", [C]),
                          ("norm1.bias", [C]), ("mlp.fc1.weight", [4 * C, C]), ("mlp.fc1.bias", [4 * C]),
                          ("mlp.fc2.weight", [C, 4 * C]), ("mlp.fc2.bias", [C]), ("norm2.weight", [C]),
                          ("norm2.bias", [C])]:
                add(q + n, sh)
    add("encoder.upsample.weight", [E, E, 2, 2])
    add("encoder.upsample.bias", [E])
    level = [E] + chans  # level 0 (upsampled stem) and the four stages
    x_c = level[4]
    for idx in range(4):
        k = 3 - idx
        add("decoder.decoder_stages.%d.layer.1.weight" % k, [dec[k], x_c, 3, 3])
        add("decoder.decoder_stages.%d.layer.1.bias" % k, [dec[k]])
        add("decoder.bottlenecks.%d.seq.0.weight" % idx, [dec[k], dec[k] + level[3 - idx], 3, 3])
        add("decoder.bottlenecks.%d.seq.0.bias" % idx, [dec[k]])
        x_c = dec[k]
    for h in ["vessel_mask", "fishing_mask", "center_mask", "length_mask"]:
        add("decoder.%s.layer.1.weight" % h, [a.last, dec[0], 3, 3])
        add("decoder.%s.layer.1.bias" % h, [a.last])
        add("decoder.%s.layer.3.weight" % h, [1, a.last, 1, 1])
        add("decoder.%s.layer.3.bias" % h, [1])
    D = a.hidden
    if not a.no_context:
        C4, I = chans[3], D * a.mlp_ratio
        add("context_model.input_proj.weight", [D, C4])
        add("context_model.input_proj.bias", [D])
        add("context_model.out_proj.weight", [C4, D])
        add("context_model.out_proj.bias", [C4])
        for i in range(a.layers):
            q = "context_model.layers.%d." % i
            for n, sh in [("attn.qkv.weight", [3 * D, D]), ("attn.qkv.bias", [3 * D]), ("attn.proj.weight", [D, D]),
                          ("attn.proj.bias", [D]), ("input_layernorm.weight", [D]),
                          ("post_attention_layernorm.weight", [D]), ("mlp.gate_proj.weight", [I, D]),
                          ("mlp.up_proj.weight", [I, D]), ("mlp.down_proj.weight", [D, I])]:
                add(q + n, sh)
    cfg = {"kind": "xview", "crop_size": a.crop, "val_crop_size": a.tile, "overlap": 10, "tiling": "naive",
           "swin": {"embed_dim": E, "depths": depths, "num_heads": heads, "window_size": a.window, "in_chans": 2},
           "decoder_filters": dec, "last_upsample_filters": a.last,
           "xl_context": {"enabled": not a.no_context, "hidden_size": D, "n_layer": a.layers, "mem_chip": 1,
                          "mlp_ratio": a.mlp_ratio, "skip_connection": False}}
    header, off, blobs = {}, 0, []
    for name, shape, kind in tensors:
        n = 1
        for d in shape:
            n *= d
        if kind == "mat":
            fan = n // shape[0]
            std = 1 / math.sqrt(fan)
            v = array.array("f", [rng.gauss(0, std) for _ in range(n)])
        elif kind == "bias":
            v = array.array("f", [rng.gauss(0, 0.02) for _ in range(n)])
        elif kind == "logit":
            v = array.array("f", [math.log(10.0)] * n)
        else:
            v = array.array("f", [1.0] * n)
        if sys.byteorder != "little":
            v.byteswap()
        b = v.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = {"config": json.dumps(cfg), "generator": "tools/gen_xview_model.py seed %d" % a.seed}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(a.out, len(tensors), "tensors,", off // 4, "parameters")


if __name__ == "__main__":
    main()
