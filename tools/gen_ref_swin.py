#!/usr/bin/python3
"""gen_ref_swin.py — plain-PyTorch re-implementation of timm 0.9.7 SwinTransformerV2
(features_only, as xT's SwinWrapper uses it), checked against the official golden files, and
used to make golden-format reference files for configurations the golden set lacks.

    /usr/bin/python3 tools/gen_ref_swin.py check [GOLDEN_DIR]   # reproduce swinv2_region_{256,512}
    /usr/bin/python3 tools/gen_ref_swin.py gen [OUT_DIR [CASE...]]  # write tests/ref/swinv2_*.safetensors

Semantics follow timm/models/swin_transformer_v2.py at v0.9.7 line by line (window_partition,
WindowAttention, SwinTransformerV2Block incl. _calc_window_shift and the attn_mask,
PatchMerging, PatchEmbed). Needs only torch and numpy (Debian python3-torch, python3-numpy).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# safetensors (golden format: F32, C order, header padded with spaces to a multiple of 8)


def st_read(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    data = b[8 + n:]
    out = {}
    for k, v in h.items():
        assert v["dtype"] == "F32"
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[s:e], dtype="<f4").reshape(v["shape"]).copy())
    return out, meta


def st_write(path, tensors, meta):
    header, off, blobs = {"__metadata__": meta}, 0, []
    for k, t in tensors.items():
        a = np.ascontiguousarray(t.detach().numpy().astype("<f4"))
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))


# ---------------------------------------------------------------------------------------------
# the model, functional, from a state_dict with "model." keys


def window_partition(x, ws):
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(windows, ws, H, W):
    C = windows.shape[-1]
    x = windows.view(-1, H // ws, W // ws, ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, C)


def cpb_tables(ws, pws=0):
    """relative_coords_table (1, 2ws-1, 2ws-1, 2) and relative_position_index (N, N)."""
    rh = torch.arange(-(ws - 1), ws, dtype=torch.float32)
    rw = torch.arange(-(ws - 1), ws, dtype=torch.float32)
    table = torch.stack(torch.meshgrid([rh, rw], indexing="ij")).permute(1, 2, 0).contiguous().unsqueeze(0)
    # timm: pretrained_window_size - 1 when pretrained_window_size[0] > 0, else window_size - 1
    d = (pws - 1) if pws > 0 else (ws - 1)
    table[:, :, :, 0] /= d
    table[:, :, :, 1] /= d
    table *= 8
    table = torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / math.log2(8)
    coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))
    cf = torch.flatten(coords, 1)
    rel = (cf[:, :, None] - cf[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    return table, rel.sum(-1)


def attn_mask(H, W, ws, shift):
    if not shift:
        return None
    img_mask = torch.zeros((1, H, W, 1))
    cnt = 0
    for h in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for w in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img_mask[:, h, w, :] = cnt
            cnt += 1
    mw = window_partition(img_mask, ws).view(-1, ws * ws)
    m = mw.unsqueeze(1) - mw.unsqueeze(2)
    return m.masked_fill(m != 0, float(-100.0)).masked_fill(m == 0, float(0.0))


def cpb_bias(sd, p, ws, nh, pws=0):
    """16 * sigmoid(cpb_mlp(table))[index] as (nh, N, N)."""
    table, index = cpb_tables(ws, pws)
    table = table.to(sd[p + "attn.cpb_mlp.0.weight"].dtype)
    h = F.relu(F.linear(table, sd[p + "attn.cpb_mlp.0.weight"], sd[p + "attn.cpb_mlp.0.bias"]))
    t = F.linear(h, sd[p + "attn.cpb_mlp.2.weight"]).view(-1, nh)
    b = t[index.view(-1)].view(ws * ws, ws * ws, -1).permute(2, 0, 1).contiguous()
    return 16 * torch.sigmoid(b)


def window_attention(sd, p, x, nh, ws, mask, pws=0):
    """timm WindowAttention.forward: x (nW*B, N, C)."""
    B_, N, C = x.shape
    qkv_bias = torch.cat((sd[p + "attn.q_bias"], torch.zeros_like(sd[p + "attn.q_bias"]), sd[p + "attn.v_bias"]))
    qkv = F.linear(x, sd[p + "attn.qkv.weight"], qkv_bias)
    qkv = qkv.reshape(B_, N, 3, nh, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    attn = attn * torch.clamp(sd[p + "attn.logit_scale"], max=math.log(1.0 / 0.01)).exp()
    attn = attn + cpb_bias(sd, p, ws, nh, pws).unsqueeze(0)
    if mask is not None:
        nw = mask.shape[0]
        attn = attn.view(-1, nw, nh, N, N) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, nh, N, N)
    attn = attn.softmax(-1)
    x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
    return F.linear(x, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])


def calc_window_shift(res, window, shift):
    ws = res if res <= window else window
    return ws, (0 if res <= ws else shift)


def block(sd, p, x, nh, window, shift, pws=0):
    B, H, W, C = x.shape
    ws, ss = calc_window_shift(H, window, shift)
    sx = torch.roll(x, shifts=(-ss, -ss), dims=(1, 2)) if ss else x
    xw = window_partition(sx, ws).view(-1, ws * ws, C)
    aw = window_attention(sd, p, xw, nh, ws, attn_mask(H, W, ws, ss), pws).view(-1, ws, ws, C)
    sx = window_reverse(aw, ws, H, W)
    a = torch.roll(sx, shifts=(ss, ss), dims=(1, 2)) if ss else sx
    x = x + F.layer_norm(a, (C,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-5)
    x = x.reshape(B, -1, C)
    h = F.linear(x, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])
    h = F.linear(F.gelu(h), sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
    x = x + F.layer_norm(h, (C,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-5)
    return x.reshape(B, H, W, C)


def patch_merging(sd, p, x):
    B, H, W, C = x.shape
    x = x.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3)
    x = F.linear(x, sd[p + "reduction.weight"])
    return F.layer_norm(x, (x.shape[-1],), sd[p + "norm.weight"], sd[p + "norm.bias"], 1e-5)


def swin_forward(sd, cfg, img, pre="model."):
    """Returns (taps: name -> NHWC tensor, stages: list of NCHW tensors)."""
    taps, stages = {}, []
    x = F.conv2d(img, sd[pre + "patch_embed.proj.weight"], sd[pre + "patch_embed.proj.bias"], stride=4)
    x = x.permute(0, 2, 3, 1)
    x = F.layer_norm(x, (x.shape[-1],), sd[pre + "patch_embed.norm.weight"], sd[pre + "patch_embed.norm.bias"], 1e-5)
    taps[pre + "patch_embed"] = x
    window = cfg["window_size"]
    # per stage, passed to every block unchanged (not clamped with the window), as timm does
    pwss = cfg.get("pretrained_window_sizes") or [0] * len(cfg["depths"])
    for s, (depth, nh) in enumerate(zip(cfg["depths"], cfg["num_heads"])):
        if s > 0:
            x = patch_merging(sd, f"{pre}layers_{s}.downsample.", x)
            taps[f"{pre}layers_{s}.downsample"] = x
        for b in range(depth):
            x = block(sd, f"{pre}layers_{s}.blocks.{b}.", x, nh, window, 0 if b % 2 == 0 else window // 2, pwss[s])
            taps[f"{pre}layers_{s}.blocks.{b}"] = x
        stages.append(x.permute(0, 3, 1, 2).contiguous())
    return taps, stages


# ---------------------------------------------------------------------------------------------
# random weights (the golden README's randomisation) in official state_dict order


def random_state_dict(cfg, gen, pre="model."):
    sd = {}
    C0, cin, mlp = cfg["embed_dim"], cfg.get("in_chans", 3), cfg.get("mlp_ratio", 4)

    def w(name, *shape):  # >= 2-D weight: N(0, 1/fan_in)
        fan_in = int(np.prod(shape[1:]))
        sd[pre + name] = torch.randn(*shape, generator=gen) / math.sqrt(fan_in)

    def nw(name, n):
        sd[pre + name] = 1 + 0.1 * torch.randn(n, generator=gen)

    def bias(name, n):
        sd[pre + name] = 0.1 * torch.randn(n, generator=gen)

    w("patch_embed.proj.weight", C0, cin, 4, 4)
    bias("patch_embed.proj.bias", C0)
    nw("patch_embed.norm.weight", C0)
    bias("patch_embed.norm.bias", C0)
    for s, (depth, nh) in enumerate(zip(cfg["depths"], cfg["num_heads"])):
        C = C0 * 2 ** s
        if s > 0:
            w(f"layers_{s}.downsample.reduction.weight", C, 2 * C)
            nw(f"layers_{s}.downsample.norm.weight", C)
            bias(f"layers_{s}.downsample.norm.bias", C)
        for b in range(depth):
            p = f"layers_{s}.blocks.{b}."
            sd[pre + p + "attn.logit_scale"] = math.log(10) + 0.2 * torch.randn(nh, 1, 1, generator=gen)
            bias(p + "attn.q_bias", C)
            bias(p + "attn.v_bias", C)
            w(p + "attn.cpb_mlp.0.weight", 512, 2)
            bias(p + "attn.cpb_mlp.0.bias", 512)
            w(p + "attn.cpb_mlp.2.weight", nh, 512)
            w(p + "attn.qkv.weight", 3 * C, C)
            w(p + "attn.proj.weight", C, C)
            bias(p + "attn.proj.bias", C)
            nw(p + "norm1.weight", C)
            bias(p + "norm1.bias", C)
            F_ = int(C * mlp)
            w(p + "mlp.fc1.weight", F_, C)
            bias(p + "mlp.fc1.bias", F_)
            w(p + "mlp.fc2.weight", C, F_)
            bias(p + "mlp.fc2.bias", C)
            nw(p + "norm2.weight", C)
            bias(p + "norm2.bias", C)
    return sd


def check(golden_dir):
    worst_all = 0.0
    for case in ("swinv2_region_256", "swinv2_region_512"):
        t, meta = st_read(os.path.join(golden_dir, case + ".safetensors"))
        cfg = json.loads(meta["config"])
        with torch.no_grad():
            taps, stages = swin_forward(t, cfg, t["input.image"])
        for s, x in enumerate(stages):
            taps[f"stage{s}"] = x
        n = 0
        for name, x in taps.items():
            ref = t.get("expected." + name)
            if ref is None:
                continue
            d = (x - ref).abs().max().item() / max(1.0, ref.abs().max().item())
            worst_all = max(worst_all, d)
            n += 1
        print(f"{case}: {n} tensors, worst max|d|/max(1,max|ref|) = {worst_all:.2e}")
    assert worst_all < 1e-5, "re-implementation does not match the official golden files"


# cases the golden files lack: window 12 with batch 2 (windows 12/12/12/6, shifts 6/6/0/0), and
# a model with 1 input channel, width 12, heads of size 4 and 8, mlp_ratio 2, odd depths, batch 3
# and a 3x3 last stage (window clamped to 3).
CASES = [
    dict(case="swinv2_w12_b2", embed_dim=8, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=12,
         img_size=192, image_size=192, batch=2, seed=11),
    dict(case="swinv2_odd_b3", embed_dim=12, depths=[1, 3, 1, 1], num_heads=[3, 6, 12, 12], window_size=6, img_size=None,
         image_size=96, batch=3, in_chans=1, mlp_ratio=2, seed=12),
    # Swin-L's window12to16 normalisation (pretrained_window_sizes 12-12-12-6) at toy width: window 16
    # on 128 px gives windows 16/16/8/4 (the last two clamped to the map, their pretrained 12 and 6 kept).
    dict(case="swinv2_pws_b1", embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=16,
         img_size=128, image_size=128, batch=1, pretrained_window_sizes=[12, 12, 12, 6], seed=13),
]


def gen(out_dir, only=()):
    os.makedirs(out_dir, exist_ok=True)
    for c in CASES:
        if only and c["case"] not in only:
            continue
        cfg = dict(c, kind="swin_region")
        g = torch.Generator().manual_seed(c["seed"])
        sd = random_state_dict(cfg, g)
        img = torch.randn(c["batch"], c.get("in_chans", 3), c["image_size"], c["image_size"], generator=g)
        with torch.no_grad():
            taps, stages = swin_forward(sd, cfg, img)
            taps64, stages64 = swin_forward({k: v.double() for k, v in sd.items()}, cfg, img.double())
        out = dict(sd)
        out["input.image"] = img
        for k, v in taps.items():
            out["expected." + k] = v
        for s, x in enumerate(stages):
            out[f"expected.stage{s}"] = x
        worst = max((stages[s] - stages64[s].float()).abs().max().item() / max(1, stages64[s].abs().max().item())
                    for s in range(len(stages)))
        meta = {"case": c["case"], "config": json.dumps(cfg, sort_keys=True), "weight_keys": str(len(sd)),
                "torch": torch.__version__, "generator": "tools/gen_ref_swin.py (plain-torch timm 0.9.7 SwinV2)",
                "float32_vs_float64_stages": f"{worst:.2e}"}
        path = os.path.join(out_dir, c["case"] + ".safetensors")
        st_write(path, out, meta)
        print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB, f32 vs f64 {worst:.2e}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        check(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "..", "shared", "golden"))
    elif len(sys.argv) > 1 and sys.argv[1] == "gen":
        check(os.path.join(here, "..", "..", "shared", "golden"))
        gen(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "tests", "ref"), sys.argv[3:])
    else:
        print(__doc__)
        sys.exit(2)
