#!/usr/bin/python3
"""gen_ref_backbones.py - reference files for the Hiera and ConvNeXt region encoders.

Plain-PyTorch re-implementations of timm 0.9.7 ConvNeXt (features_only) and hiera v0.1.4 Hiera
(return_intermediates, as xT's HieraWrapper uses it), checked first against the golden files
made with the official code, then used to write small cases the golden files do not cover:

  tests/ref/backbone_convnext_2ch.safetensors  in_chans 2 (xView3 SAR: VV, VH), batch 2
  tests/ref/backbone_hiera_2ch.safetensors     in_chans 2, batch 2
  tests/ref/backbone_hiera_qpool2.safetensors  q_pool 2 (last stage stays unrolled), mask units
                                               4x4, mask_unit_attn (T,F,T,T), 2 heads x 1.5
  tests/ref/backbone_swinv2_2ch.safetensors    Swin V2 with in_chans 2, batch 2 (made with the Swin
                                               re-implementation in tools/gen_ref_swin.py)
  tests/ref/backbone_bad_config.safetensors    convnext_2ch weights with a config that asks for
                                               one block more (xt verify must fail)

Usage: /usr/bin/python3 tools/gen_ref_backbones.py [GOLDEN_DIR] [--hiera-src DIR]
  --hiera-src: a checkout of facebookresearch/hiera (b12b842); the official Hiera class is then
  also run (with a 20-line timm shim) on every Hiera case as a cross-check.
File format and weight randomisation follow ../shared/golden/README.md.
"""
import json
import math
import os
import struct
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)


# ------------------------------------------------------------------------------------------
# safetensors (F32 only)

def st_read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype="<f4").copy().reshape(v["shape"]))
    return out, meta


def st_write(path, tensors, meta):
    header, off, blobs = {}, 0, []
    for k, t in tensors.items():
        a = np.ascontiguousarray(t.detach().numpy().astype("<f4"))
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    header["__metadata__"] = meta
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for x in blobs:
            f.write(x)


# ------------------------------------------------------------------------------------------
# ConvNeXt, timm 0.9.7 (convnext.py: ConvNeXt / ConvNeXtStage / ConvNeXtBlock), features_only

# Channel counts come from the weights (len), not x.shape: under torch.onnx.export's tracing
# x.shape[1] is a traced value that layer_norm / groups refuse (tools/export_onnx.py traces this).
def ln2d(x, w, b):  # LayerNorm2d: over channels of NCHW
    return F.layer_norm(x.permute(0, 2, 3, 1), (len(w),), w, b, 1e-6).permute(0, 3, 1, 2)


def convnext_forward(sd, cfg, x, p=""):
    out = {}
    x = F.conv2d(x, sd[p + "stem_0.weight"], sd[p + "stem_0.bias"], stride=4)
    x = ln2d(x, sd[p + "stem_1.weight"], sd[p + "stem_1.bias"])
    out["stem_1"] = x
    for s, depth in enumerate(cfg["depths"]):
        q = f"{p}stages_{s}."
        if s:
            x = ln2d(x, sd[q + "downsample.0.weight"], sd[q + "downsample.0.bias"])
            x = F.conv2d(x, sd[q + "downsample.1.weight"], sd[q + "downsample.1.bias"], stride=2)
        for d in range(depth):
            k = f"{q}blocks.{d}."
            C = len(sd[k + "gamma"])
            y = F.conv2d(x, sd[k + "conv_dw.weight"], sd[k + "conv_dw.bias"], padding=3, groups=C)
            y = y.permute(0, 2, 3, 1)
            y = F.layer_norm(y, (C,), sd[k + "norm.weight"], sd[k + "norm.bias"], 1e-6)
            y = F.linear(F.gelu(F.linear(y, sd[k + "mlp.fc1.weight"], sd[k + "mlp.fc1.bias"])),
                         sd[k + "mlp.fc2.weight"], sd[k + "mlp.fc2.bias"])
            y = y.permute(0, 3, 1, 2) * sd[k + "gamma"].reshape(1, -1, 1, 1)
            x = y + x
        out[f"stage{s}"] = x
    return out


def convnext_weights(cfg, gen):
    dims, depths, cin = cfg["dims"], cfg["depths"], cfg.get("in_chans", 3)
    sd = {}
    w = lambda *shape: torch.randn(*shape, generator=gen) / math.sqrt(np.prod(shape[1:]))
    nw = lambda n: 1 + 0.1 * torch.randn(n, generator=gen)
    nb = lambda n: 0.1 * torch.randn(n, generator=gen)
    sd["stem_0.weight"], sd["stem_0.bias"] = w(dims[0], cin, 4, 4), nb(dims[0])
    sd["stem_1.weight"], sd["stem_1.bias"] = nw(dims[0]), nb(dims[0])
    for s, depth in enumerate(depths):
        q = f"stages_{s}."
        if s:
            sd[q + "downsample.0.weight"], sd[q + "downsample.0.bias"] = nw(dims[s - 1]), nb(dims[s - 1])
            sd[q + "downsample.1.weight"], sd[q + "downsample.1.bias"] = w(dims[s], dims[s - 1], 2, 2), nb(dims[s])
        C = dims[s]
        for d in range(depth):
            k = f"{q}blocks.{d}."
            sd[k + "gamma"] = 0.2 + 0.6 * torch.rand(C, generator=gen)
            sd[k + "conv_dw.weight"], sd[k + "conv_dw.bias"] = w(C, 1, 7, 7), nb(C)
            sd[k + "norm.weight"], sd[k + "norm.bias"] = nw(C), nb(C)
            sd[k + "mlp.fc1.weight"], sd[k + "mlp.fc1.bias"] = w(4 * C, C), nb(4 * C)
            sd[k + "mlp.fc2.weight"], sd[k + "mlp.fc2.bias"] = w(C, 4 * C), nb(C)
    return sd


# ------------------------------------------------------------------------------------------
# Hiera, hiera v0.1.4 (hiera.py: Hiera, HieraBlock, MaskUnitAttention; hiera_utils.py: Unroll,
# Reroll, do_pool, undo_windowing), 2-D only, no masking

def hiera_plan(cfg, S):
    """Per-block (dim, dim_out, heads, q_stride, window_size, use_mask_unit_attn) as Hiera.__init__."""
    stages, qp = cfg["stages"], cfg["q_pool"]
    Q = math.prod(cfg["q_stride"])
    flat_mu = math.prod(cfg["mask_unit_size"])
    stage_ends = [sum(stages[:i]) - 1 for i in range(1, len(stages) + 1)]
    q_pool_blocks = [x + 1 for x in stage_ends[:qp]]
    dim, heads, cur, plan = cfg["embed_dim"], cfg["num_heads"], 0, []
    for i in range(sum(stages)):
        dim_out = dim
        use_mu = cfg["mask_unit_attn"][cur]
        if i - 1 in stage_ends:
            dim_out = int(dim * cfg["dim_mul"])
            heads = int(heads * cfg["head_mul"])
            cur += 1
            if i in q_pool_blocks:
                flat_mu //= Q
        plan.append((dim, dim_out, heads, Q if i in q_pool_blocks else 1, flat_mu, use_mu))
        dim = dim_out
    return plan, stage_ends


def unroll(x, size, schedule):
    B, _, C = x.shape
    cur = list(size)
    x = x.view(*([B] + cur + [C]))
    for strides in schedule:
        cur = [i // s for i, s in zip(cur, strides)]
        new_shape = [B] + sum([[i, s] for i, s in zip(cur, strides)], []) + [C]
        x = x.view(new_shape)
        L = len(new_shape)
        x = x.permute([0] + list(range(2, L - 1, 2)) + list(range(1, L - 1, 2)) + [L - 1])
        x = x.flatten(0, len(strides))
        B *= math.prod(strides)
    return x.reshape(-1, math.prod(size), C)


def reroll(x, schedule, size):
    B, N, C = x.shape
    D = len(size)
    mu = [1] * D
    for strides in schedule:
        x = x.view(B, *strides, N // math.prod(strides), *mu, C)
        L = len(x.shape)
        x = x.permute([0, 1 + D] + sum([list(p) for p in zip(range(1, 1 + D), range(1 + D + 1, L - 1))], []) + [L - 1])
        for i in range(D):
            mu[i] *= strides[i]
        x = x.reshape(B, -1, *mu, C)
        N = x.shape[1]
    x = x.view(B, N, *mu, C)
    nmu = [s // m for s, m in zip(size, mu)]
    x = x.view(B, *nmu, *mu, C)
    perm = [0] + sum([list(p) for p in zip(range(1, 1 + D), range(1 + D, 1 + 2 * D))], []) + [len(x.shape) - 1]
    return x.permute(perm).reshape(B, *size, C)


def hiera_forward(sd, cfg, img, p="model."):
    S = img.shape[-1]
    ps = cfg["patch_stride"]
    size = [S // ps[0], S // ps[1]]
    qs = tuple(cfg["q_stride"])
    plan, stage_ends = hiera_plan(cfg, S)
    L = len(cfg["stages"]) - 1
    # Reroll schedule per stage end (Reroll.__init__)
    sched, sz, resched = [qs] * L, size, {}
    for i in range(stage_ends[-1] + 1):
        resched[i] = (sched, sz)
        if i in stage_ends[:cfg["q_pool"]]:
            if sched:
                sz = [n // s for n, s in zip(sz, sched[0])]
            sched = sched[1:]
    out = {}
    x = F.conv2d(img, sd[p + "patch_embed.proj.weight"], sd[p + "patch_embed.proj.bias"],
                 stride=ps, padding=cfg["patch_padding"])
    x = x.reshape(x.shape[0], x.shape[1], -1).transpose(2, 1)
    out["model.patch_embed"] = x
    x = unroll(x + sd[p + "pos_embed"], size, [qs] * L)
    inter = []
    for i, (dim, dim_out, heads, q, window, use_mu) in enumerate(plan):
        k = f"{p}blocks.{i}."
        B, N, _ = x.shape
        xn = F.layer_norm(x, (dim,), sd[k + "norm1.weight"], sd[k + "norm1.bias"], 1e-6)
        if dim != dim_out:
            r = F.linear(xn, sd[k + "proj.weight"], sd[k + "proj.bias"])
            x = r.view(B, q, -1, dim_out).max(dim=1).values
        nw = N // (q * window) if use_mu else 1
        hd = dim_out // heads
        qkv = F.linear(xn, sd[k + "attn.qkv.weight"], sd[k + "attn.qkv.bias"])
        qkv = qkv.reshape(B, -1, nw, 3, heads, hd).permute(3, 0, 4, 2, 1, 5)
        qq, kk, vv = qkv[0], qkv[1], qkv[2]
        if q > 1:
            qq = qq.view(B, heads, nw, q, -1, hd).max(dim=3).values
        a = ((qq * hd ** -0.5) @ kk.transpose(-1, -2)).softmax(dim=-1)
        y = (a @ vv).transpose(1, 3).reshape(B, -1, dim_out)
        x = x + F.linear(y, sd[k + "attn.proj.weight"], sd[k + "attn.proj.bias"])
        h = F.layer_norm(x, (dim_out,), sd[k + "norm2.weight"], sd[k + "norm2.bias"], 1e-6)
        h = F.linear(F.gelu(F.linear(h, sd[k + "mlp.fc1.weight"], sd[k + "mlp.fc1.bias"])),
                     sd[k + "mlp.fc2.weight"], sd[k + "mlp.fc2.bias"])
        x = x + h
        if i in stage_ends:
            inter.append(reroll(x, *resched[i]))
    for s, t in enumerate(inter):
        out[f"intermediates{s}"] = t
    out["out"] = inter[-1].permute(0, 3, 1, 2)
    return out


def hiera_weights(cfg, S, gen):
    plan, _ = hiera_plan(cfg, S)
    C0, cin = cfg["embed_dim"], cfg.get("in_chans", 3)
    ks = cfg["patch_kernel"]
    w = lambda *shape: torch.randn(*shape, generator=gen) / math.sqrt(np.prod(shape[1:]))
    nw = lambda n: 1 + 0.1 * torch.randn(n, generator=gen)
    nb = lambda n: 0.1 * torch.randn(n, generator=gen)
    ntok = (S // cfg["patch_stride"][0]) * (S // cfg["patch_stride"][1])
    sd = {"model.pos_embed": 0.5 * torch.randn(1, ntok, C0, generator=gen),
          "model.patch_embed.proj.weight": w(C0, cin, *ks), "model.patch_embed.proj.bias": nb(C0)}
    for i, (dim, D, heads, q, window, use_mu) in enumerate(plan):
        k = f"model.blocks.{i}."
        H = int(D * cfg["mlp_ratio"])
        sd[k + "norm1.weight"], sd[k + "norm1.bias"] = nw(dim), nb(dim)
        sd[k + "attn.qkv.weight"], sd[k + "attn.qkv.bias"] = w(3 * D, dim), nb(3 * D)
        sd[k + "attn.proj.weight"], sd[k + "attn.proj.bias"] = w(D, D), nb(D)
        sd[k + "norm2.weight"], sd[k + "norm2.bias"] = nw(D), nb(D)
        sd[k + "mlp.fc1.weight"], sd[k + "mlp.fc1.bias"] = w(H, D), nb(H)
        sd[k + "mlp.fc2.weight"], sd[k + "mlp.fc2.bias"] = w(D, H), nb(D)
        if dim != D:
            sd[k + "proj.weight"], sd[k + "proj.bias"] = w(D, dim), nb(D)
    return sd


def official_hiera(src, cfg, S, sd):
    """The official Hiera class from a hiera checkout, with a minimal timm shim (Mlp, DropPath)."""
    import importlib.util
    timm = types.ModuleType("timm"); tm = types.ModuleType("timm.models"); tl = types.ModuleType("timm.models.layers")

    class Mlp(torch.nn.Module):
        def __init__(self, i, h, act_layer=torch.nn.GELU, **kw):
            super().__init__()
            self.fc1, self.act, self.fc2 = torch.nn.Linear(i, h), act_layer(), torch.nn.Linear(h, i)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))
    tl.Mlp, tl.DropPath = Mlp, torch.nn.Identity
    timm.models, tm.layers = tm, tl
    sys.modules.update({"timm": timm, "timm.models": tm, "timm.models.layers": tl})
    pkg = types.ModuleType("hiera"); pkg.__path__ = [os.path.join(src, "hiera")]
    sys.modules["hiera"] = pkg
    hf = types.ModuleType("hiera.hfhub")  # no huggingface_hub here
    hf.has_config = lambda f: f
    hf.PyTorchModelHubMixin = object
    sys.modules["hiera.hfhub"] = hf
    for name in ("hiera_utils", "hiera"):
        spec = importlib.util.spec_from_file_location("hiera." + name, os.path.join(src, "hiera", name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["hiera." + name] = mod
        spec.loader.exec_module(mod)
    H = sys.modules["hiera.hiera"]
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2: keep the paper's path, as torch 1.13 runs
        del F.scaled_dot_product_attention
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg.items()}
    m = H.Hiera(input_size=(S, S), **kw).eval()
    m.head, m.norm = torch.nn.Identity(), torch.nn.Identity()
    m.load_state_dict({k[len("model."):]: v for k, v in sd.items()})
    return m


# ------------------------------------------------------------------------------------------

def maxdiff(a, b):
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


def meta_for(case, cfg, desc):
    return {"case": case, "config": json.dumps(cfg), "description": desc, "torch": torch.__version__,
            "generator": "tools/gen_ref_backbones.py (random weights, see ../shared/golden/README.md)",
            "dtype": "float32, little endian"}


def main():
    args = sys.argv[1:]
    hsrc = None
    if "--hiera-src" in args:
        i = args.index("--hiera-src")
        hsrc = args[i + 1]
        del args[i:i + 2]
    gdir = args[0] if args else os.path.join(os.path.dirname(__file__), "../tests/golden")
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/ref")
    os.makedirs(outdir, exist_ok=True)

    # 1. the re-implementations reproduce the official golden files
    t, meta = st_read(os.path.join(gdir, "convnext_region.safetensors"))
    cfg = json.loads(meta["config"])
    got = convnext_forward(t, cfg, t["input.image"])
    for k, v in got.items():
        d = maxdiff(v, t["expected." + k])
        print(f"golden convnext {k}: {d:.2e}")
        assert d < 1e-5, k
    t, meta = st_read(os.path.join(gdir, "hiera_region.safetensors"))
    cfg = json.loads(meta["config"])
    got = hiera_forward(t, cfg["hiera"], t["input.image"])
    for k, v in got.items():
        d = maxdiff(v, t["expected." + k])
        print(f"golden hiera {k}: {d:.2e}")
        assert d < 1e-5, k

    # 2. new cases
    gen = torch.Generator().manual_seed(2024)
    S, B = 64, 2
    ccfg = {"kind": "convnext_region", "case": "backbone_convnext_2ch", "dims": [8, 16, 24, 32],
            "depths": [1, 2, 1, 1], "in_chans": 2, "image_size": S, "batch": B}
    sd = convnext_weights(ccfg, gen)
    img = torch.randn(B, 2, S, S, generator=gen)
    out = convnext_forward(sd, ccfg, img)
    tens = dict(sd)
    tens["input.image"] = img
    tens.update({"expected." + k: v for k, v in out.items()})
    st_write(os.path.join(outdir, "backbone_convnext_2ch.safetensors"), tens,
             meta_for("backbone_convnext_2ch", ccfg, "ConvNeXt (timm 0.9.7 semantics) with 2 input channels, batch 2"))
    bad = dict(ccfg, depths=[1, 2, 2, 1], case="backbone_bad_config")
    st_write(os.path.join(outdir, "backbone_bad_config.safetensors"), tens,
             meta_for("backbone_bad_config", bad, "convnext_2ch weights; config asks for a block the file lacks"))

    hiera_cases = [
        ("backbone_hiera_2ch", {"embed_dim": 8, "num_heads": 1, "stages": [1, 1, 2, 1], "q_pool": 3,
                                "q_stride": [2, 2], "mask_unit_size": [8, 8], "mask_unit_attn": [True, True, False, False],
                                "dim_mul": 2.0, "head_mul": 2.0, "patch_kernel": [7, 7], "patch_stride": [4, 4],
                                "patch_padding": [3, 3], "mlp_ratio": 4.0, "in_chans": 2},
         "Hiera (v0.1.4 semantics) with 2 input channels, batch 2"),
        ("backbone_hiera_qpool2", {"embed_dim": 12, "num_heads": 2, "stages": [1, 1, 2, 1], "q_pool": 2,
                                   "q_stride": [2, 2], "mask_unit_size": [4, 4], "mask_unit_attn": [True, False, True, True],
                                   "dim_mul": 2.0, "head_mul": 1.5, "patch_kernel": [7, 7], "patch_stride": [4, 4],
                                   "patch_padding": [3, 3], "mlp_ratio": 2.0, "in_chans": 3},
         "Hiera with q_pool 2 (last stage unrolled), 4x4 mask units, mask_unit_attn (T,F,T,T), heads x1.5"),
    ]
    for case, hc, desc in hiera_cases:
        sd = hiera_weights(hc, S, gen)
        img = torch.randn(B, hc["in_chans"], S, S, generator=gen)
        out = hiera_forward(sd, hc, img)
        if hsrc:
            m = official_hiera(hsrc, hc, S, sd)
            _, inter = m(img, return_intermediates=True)
            for s, v in enumerate(inter):
                d = maxdiff(out[f"intermediates{s}"], v)
                print(f"{case} vs official intermediates{s}: {d:.2e}")
                assert d < 1e-5
        tens = dict(sd)
        tens["input.image"] = img
        tens.update({"expected." + k: v for k, v in out.items()})
        cfg = {"kind": "hiera_region", "case": case, "hiera": hc, "image_size": S, "batch": B}
        st_write(os.path.join(outdir, case + ".safetensors"), tens, meta_for(case, cfg, desc))
    # Swin V2, 2 channels: tools/gen_ref_swin.py's re-implementation (checked there against the
    # golden Swin files)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gen_ref_swin as gs
    gs.check(gdir)
    scfg = {"kind": "swin_region", "case": "backbone_swinv2_2ch", "embed_dim": 8, "depths": [1, 1, 1, 1],
            "num_heads": [1, 1, 2, 2], "window_size": 8, "img_size": None, "image_size": S, "batch": B,
            "in_chans": 2}
    sd = gs.random_state_dict(scfg, gen)
    img = torch.randn(B, 2, S, S, generator=gen)
    taps, stages = gs.swin_forward(sd, scfg, img)
    tens = dict(sd)
    tens["input.image"] = img
    tens.update({f"expected.stage{s}": x for s, x in enumerate(stages)})
    st_write(os.path.join(outdir, "backbone_swinv2_2ch.safetensors"), tens,
             meta_for("backbone_swinv2_2ch", scfg, "Swin V2 (timm 0.9.7 semantics) with 2 input channels, batch 2"))
    for f in sorted(os.listdir(outdir)):
        if f.startswith("backbone_"):
            print(f, os.path.getsize(os.path.join(outdir, f)))


if __name__ == "__main__":
    main()
