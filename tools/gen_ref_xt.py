#!/usr/bin/python3
"""gen_ref_xt.py — references for the xT model tests (tests/test_xt_layers.c, tests/cli_verify_xt.sh).

    /usr/bin/python3 tools/gen_ref_xt.py check [GOLDEN_DIR]  # reproduce the golden xt_cls_xl/hyper/incontext heads
    /usr/bin/python3 tools/gen_ref_xt.py gen [OUT_DIR]       # write tests/ref/xt_*.safetensors

Plain PyTorch written from the golden README's semantics (and xT's decoder.py read for the
window loop), float32 on the CPU; the Swin V2 region encoder is tools/gen_ref_swin.py's.
`check` reproduces the stored official tensors of the golden files from their own
`expected.stitched.3`, so the generated references rest on the same semantics.

Generated:
  xt_layers.safetensors   unit references: RMSNorm, gated MLP, streamed causal / non-causal
                          attention, the official per-channel "naive" attention, sin-cos embedding
  xt_hyper3x3.safetensors a golden-format xT file: 3 x 3 regions of 64 px, hidden 256 (2 heads),
                          exact causal "hyper" attention, 1 layer
  xt_naive_pad.safetensors golden-format: batch 2 of 100 x 170 images (zero-padded to 2 x 3
                          regions, non-square token grid 4 x 6), "naive" attention at hidden 64
                          (no qkv bias: bug 2), 3 layers, in_context_patches 8 (+ variant memfix)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_swin import random_state_dict, st_read, st_write, swin_forward  # noqa: E402


def st_write_bf16(path, tensors, meta, bf16):
    """safetensors with the tensors named in bf16 stored as BF16 (they must be bf16-exact)."""
    import struct
    header, off, blobs = {"__metadata__": meta}, 0, []
    for k, t in tensors.items():
        if k in bf16:
            b = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
            dt = "BF16"
        else:
            b = np.ascontiguousarray(t.numpy().astype("<f4")).tobytes()
            dt = "F32"
        header[k] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))

FMIN = torch.finfo(torch.float32).min


def rmsnorm(x, w, eps=1e-5):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def gated_mlp(h, wg, wu, wd):
    return (F.gelu(h @ wg.T) * (h @ wu.T)) @ wd.T


def pos_embed(D, h, w):
    """xT get_2d_sincos_pos_embed (numpy float32 steps), generalised to an h x w grid:
    first D/2 channels the column, last D/2 the row (square: identical to the official)."""
    def one(d, pos):
        omega = np.arange(d // 2, dtype=np.float32)
        omega /= d / 2.0
        omega = 1.0 / 10000 ** omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    gw, gh = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return torch.from_numpy(np.concatenate([one(D // 2, gw), one(D // 2, gh)], 1).astype(np.float32))


def attention(q, k, v, scale, causal):  # (B, H, L, d)
    s = q @ k.transpose(-1, -2) * scale
    if causal:
        s = s + torch.full(s.shape[-2:], FMIN).triu(1)
    return s.softmax(-1) @ v


def channel_attention(q, k, v):  # official "naive" (bug 1): per channel, scale 1, not causal
    a = torch.softmax(q.unsqueeze(2) * k.unsqueeze(1), dim=2)  # B, n, m, D
    return (a * v.unsqueeze(1)).sum(2)


def llm_layer(t, p, x, method, taps, tp):
    D = x.shape[-1]
    h = rmsnorm(x, t[p + "input_layernorm.weight"])
    qkv = h @ t[p + "attn.qkv.weight"].T
    if p + "attn.qkv.bias" in t:
        qkv = qkv + t[p + "attn.qkv.bias"]
    if method == "naive":
        o = channel_attention(qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:])
    else:
        B, L, _ = x.shape
        NH = D // 128
        q, k, v = qkv.reshape(B, L, 3, NH, -1).permute(2, 0, 3, 1, 4)
        o = attention(q, k, v, q.shape[-1] ** -0.5, True).permute(0, 2, 1, 3).reshape(B, L, D)
    o = o @ t[p + "attn.proj.weight"].T + t[p + "attn.proj.bias"]
    if taps is not None:
        taps[tp + ".attn"] = o
    x = x + o
    return x + gated_mlp(rmsnorm(x, t[p + "post_attention_layernorm.weight"]), t[p + "mlp.gate_proj.weight"],
                         t[p + "mlp.up_proj.weight"], t[p + "mlp.down_proj.weight"])


def n_layers(t):
    i = 0
    while f"decoder.layers.{i}.input_layernorm.weight" in t:
        i += 1
    return i


def xl_head(t, stitched, cfg, taps, prefix="", icp=None, memfix=False):
    """LLMClassificationDecoder.forward on the stitched last stage (N, C, h, w)."""
    D = t["decoder.cls_token"].shape[-1]
    method = cfg["context"]["attention_method"]
    icp = cfg["context"]["in_context_patches"] if icp is None else icp
    N, C, h, w = stitched.shape
    x = stitched.flatten(2).transpose(1, 2) @ t["decoder.input_proj.weight"].T + t["decoder.input_proj.bias"]
    pe = pos_embed(D, h, w)
    if not prefix:
        taps["decoder.input_proj"] = x
        taps["pos_embed"] = pe
    cls = t["decoder.cls_token"].expand(N, 1, D)
    x = torch.cat([x + pe, cls], 1)
    nl = n_layers(t)
    if icp <= 0 or icp >= x.shape[1]:
        taps[prefix + "decoder.layers.0.in"] = x
        for i in range(nl):
            x = llm_layer(t, f"decoder.layers.{i}.", x, method, taps, f"{prefix}decoder.layers.{i}")
            taps[f"{prefix}decoder.layers.{i}"] = x
        v = x[:, -1]
    else:  # windows of icp, stride icp // 2 (bug 3: memory dead unless memfix)
        off, start, k, mem, all_cls = icp // 2, 0, 0, None, []
        while start < x.shape[1] - 1:
            xx = torch.cat([x[:, start:start + icp], cls], 1)
            base = xx.shape[1]
            new_mem = []
            for i in range(nl):
                if not mem:
                    xi = xx
                else:
                    xi = torch.cat([mem[i][:, :mem[i].shape[1] - off], xx], 1)[:, -2 * base:]
                new_mem.append(xi[:, :-1])
                y = llm_layer(t, f"decoder.layers.{i}.", xi, method, None, "")
                taps[f"{prefix}decoder.layers.{i}.call{k}"] = y
                xx = y[:, -base:]
            if memfix:
                mem = new_mem
            all_cls.append(xx[:, -1:])
            start += off
            k += 1
        v = torch.cat(all_cls, 1).mean(1)
    y = F.layer_norm(v, (D,), t["decoder.cls.0.weight"], t["decoder.cls.0.bias"])
    taps[prefix + "decoder.cls.norm"] = y
    logits = y @ t["decoder.cls.1.weight"].T + t["decoder.cls.1.bias"]
    taps[prefix + "logits"] = logits
    return logits


def check(gd):
    worst = 0
    for name in ("xt_cls_xl", "xt_cls_hyper", "xt_cls_xl_incontext"):
        t, meta = st_read(os.path.join(gd, name + ".safetensors"))
        cfg = json.loads(meta["config"])
        for variant in (None, "memfix"):
            if variant and not any(v["name"] == variant for v in cfg.get("variants", [])):
                continue
            taps = {}
            pre = f"variant_{variant}." if variant else ""
            xl_head(t, t["expected.stitched.3"], cfg, taps, pre, memfix=variant == "memfix")
            for k, v in taps.items():
                if "expected." + k in t:
                    d = (v - t["expected." + k]).abs().max().item()
                    worst = max(worst, d)
                    print(f"  {name:20s} {k:48s} {d:.3g}")
    print(f"worst {worst:.3g}")
    return worst < 1e-4


def rand_w(g, *shape):
    return torch.randn(*shape, generator=g) / math.sqrt(int(np.prod(shape[1:])))


def xt_file(path, name, seed, cfg, image_hw, batch, crop):
    """A golden-format xT file: weights, input.image, expected.* (encoder.3, stitched.3, head)."""
    g = torch.Generator().manual_seed(seed)
    t = random_state_dict(cfg["swin"], g, pre="encoder.model.")
    C = cfg["swin"]["embed_dim"] * 8
    D, K, r = cfg["context"]["hidden_size"], cfg["num_classes"], cfg["mlp_ratio"]
    t["decoder.cls_token"] = 0.5 * torch.randn(1, 1, D, generator=g)
    t["decoder.input_proj.weight"] = rand_w(g, D, C)
    t["decoder.input_proj.bias"] = 0.1 * torch.randn(D, generator=g)
    for i in range(cfg["context"]["n_layer"]):
        p = f"decoder.layers.{i}."
        t[p + "attn.qkv.weight"] = rand_w(g, 3 * D, D)
        if cfg["context"]["attention_method"] == "hyper" or D >= 128:  # bug 1/2: qkv_bias = dim // 128
            t[p + "attn.qkv.bias"] = 0.1 * torch.randn(3 * D, generator=g)
        t[p + "attn.proj.weight"] = rand_w(g, D, D)
        t[p + "attn.proj.bias"] = 0.1 * torch.randn(D, generator=g)
        t[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(D, generator=g)
        t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D, generator=g)
        t[p + "mlp.gate_proj.weight"] = rand_w(g, D * r, D)
        t[p + "mlp.up_proj.weight"] = rand_w(g, D * r, D)
        t[p + "mlp.down_proj.weight"] = rand_w(g, D, D * r)
    t["decoder.cls.0.weight"] = 1 + 0.1 * torch.randn(D, generator=g)
    t["decoder.cls.0.bias"] = 0.1 * torch.randn(D, generator=g)
    t["decoder.cls.1.weight"] = rand_w(g, K, D)
    t["decoder.cls.1.bias"] = 0.1 * torch.randn(K, generator=g)
    nweights = len(t)
    # matrices stored as BF16 to keep the file small (values rounded first, so exact)
    bf16 = {k for k, v in t.items() if v.dim() >= 2 and v.numel() >= 4096}
    for k in bf16:
        t[k] = t[k].to(torch.bfloat16).to(torch.float32)
    H, W = image_hw
    img = torch.randn(batch, 3, H, W, generator=g)
    t["input.image"] = img
    # zero padding (after normalisation) to whole regions, regions row-major (N HP WP)
    HP, WP = -(-H // crop), -(-W // crop)
    pad = F.pad(img, (0, WP * crop - W, 0, HP * crop - H))
    regions = pad.reshape(batch, 3, HP, crop, WP, crop).permute(0, 2, 4, 1, 3, 5).reshape(-1, 3, crop, crop)
    _, stages = swin_forward(t, cfg["swin"], regions, pre="encoder.model.")
    e3 = stages[-1]
    _, c, hc, wc = e3.shape
    stitched = e3.reshape(batch, HP, WP, c, hc, wc).permute(0, 3, 1, 4, 2, 5).reshape(batch, c, HP * hc, WP * wc)
    taps = {"encoder.3": e3, "stitched.3": stitched}
    xl_head(t, stitched, cfg, taps)
    for v in cfg.get("variants", []):
        xl_head(t, stitched, cfg, taps, f"variant_{v['name']}.", memfix=v["name"] == "memfix")
    for k, v in taps.items():
        t["expected." + k] = v
    meta = {"case": name, "config": json.dumps(cfg, sort_keys=True), "weight_keys": str(nweights),
            "generator": "tools/gen_ref_xt.py (plain torch, README semantics; not the official code)",
            "description": f"xT {name}: padded/nested tokenization, Swin V2 regions, xl head"}
    st_write_bf16(path, t, meta, bf16)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def layers_file(path):
    g = torch.Generator().manual_seed(11)
    t = {}
    x = torch.randn(5, 48, generator=g) * 2
    w = 1 + 0.1 * torch.randn(48, generator=g)
    t.update({"rmsnorm.x": x, "rmsnorm.w": w, "rmsnorm.out": rmsnorm(x, w)})
    h = torch.randn(7, 32, generator=g)
    wg, wu, wd = rand_w(g, 64, 32), rand_w(g, 64, 32), rand_w(g, 32, 64)
    t.update({"mlp.h": h, "mlp.wg": wg, "mlp.wu": wu, "mlp.wd": wd, "mlp.out": gated_mlp(h, wg, wu, wd)})
    L, HS = 300, 32
    q, k, v = (torch.randn(L, HS, generator=g) for _ in range(3))
    t.update({"attn.q": q, "attn.k": k, "attn.v": v,
              "attn.causal": attention(q[None, None], k[None, None], v[None, None], HS ** -0.5, True)[0, 0],
              "attn.full": attention(q[None, None], k[None, None], v[None, None], HS ** -0.5, False)[0, 0]})
    Lc, Cc = 40, 24
    qc, kc, vc = (torch.randn(1, Lc, Cc, generator=g) for _ in range(3))
    t.update({"chan.q": qc[0], "chan.k": kc[0], "chan.v": vc[0], "chan.out": channel_attention(qc, kc, vc)[0]})
    t["pos.64x3x5"] = pos_embed(64, 3, 5)
    t["pos.256x6x10"] = pos_embed(256, 6, 10)
    st_write(path, t, {"generator": "tools/gen_ref_xt.py"})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


SWIN_TINY = {"depths": [1, 1, 1, 1], "embed_dim": 8, "img_size": 64, "num_heads": [1, 1, 2, 4], "window_size": 16}


def gen(out):
    torch.set_num_threads(1)
    layers_file(os.path.join(out, "xt_layers.safetensors"))
    xt_file(os.path.join(out, "xt_hyper3x3.safetensors"), "xt_hyper3x3", 21,
            {"kind": "xt", "cls_head": "xl", "crop_size": 64, "image_size": 192, "num_classes": 7, "mlp_ratio": 1,
             "batch": 1, "context": {"attention_method": "hyper", "hidden_size": 256, "in_context_patches": -1,
                                     "n_layer": 1}, "swin": SWIN_TINY}, (192, 192), 1, 64)
    xt_file(os.path.join(out, "xt_naive_pad.safetensors"), "xt_naive_pad", 22,
            {"kind": "xt", "cls_head": "xl", "crop_size": 64, "image_size": 170, "num_classes": 5, "mlp_ratio": 2,
             "batch": 2, "context": {"attention_method": "naive", "hidden_size": 64, "in_context_patches": 8,
                                     "n_layer": 3}, "swin": SWIN_TINY,
             "variants": [{"name": "memfix"}]}, (100, 170), 2, 64)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "gen"
    if cmd == "check":
        sys.exit(0 if check(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "../tests/golden")) else 1)
    with torch.no_grad():
        gen(sys.argv[2] if len(sys.argv) > 2 else "tests/ref")
