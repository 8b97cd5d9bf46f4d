#!/usr/bin/python3
"""Autograd references for xt's training code (layers, loss, optimiser, schedule).

Writes small safetensors files under tests/ref/ that the C tests read:
  grad_layers.safetensors  inputs, weights, upstream gradient `<case>.dout` and torch autograd
                           gradients `<case>.grad.<x>` (computed in float64 from the float32
                           inputs) for every layer xt differentiates.
  grad_optim.safetensors   label-smoothed cross-entropy, AdamW steps, cosine schedule with warm-up,
                           global-norm clipping, all with torch's own implementations.

    /usr/bin/python3 tools/gen_ref_grad.py [OUTDIR]     (default tests/ref)

Needs Debian's python3-torch (1.13) and python3-numpy; the C test suite only needs the output.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
T = {}


def put(name, x):
    T[name] = np.array(x.detach().to(torch.float32).numpy(), copy=True)


def write(path, meta):
    header, off, blobs = {}, 0, []
    for k, a in T.items():
        b = a.astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def r(*shape, s=1.0):
    return (torch.randn(*shape) * s).to(torch.float32)


def case(name, fn, inputs, extra=None):
    """inputs: dict name -> float32 tensor. Stores them, a random dout, out and the gradients."""
    for k, v in inputs.items():
        put(f"{name}.{k}", v)
    xs = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**xs)
    dout = r(*out.shape)
    put(f"{name}.dout", dout)
    put(f"{name}.out", out)
    out.backward(dout.double())
    for k, v in xs.items():
        put(f"{name}.grad.{k}", v.grad)


def layers():
    N, C = 5, 12
    case("linear", lambda x, w, b: x @ w.T + b, {"x": r(N, C), "w": r(7, C, s=0.3), "b": r(7)})
    case("layernorm", lambda x, w, b: F.layer_norm(x, (C,), w, b, 1e-5),
         {"x": r(N, C, s=2) + 0.5, "w": 1 + r(C, s=0.1), "b": r(C, s=0.1)})
    case("gelu", lambda x: F.gelu(x), {"x": r(N, C, s=2)})
    case("softmax", lambda x: torch.softmax(x, -1), {"x": r(N, C, s=2)})
    case("rmsnorm", lambda x, w: w * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5),
         {"x": r(N, C, s=2), "w": 1 + r(C, s=0.1)})
    case("silu", lambda x: F.silu(x), {"x": r(N, C, s=3)})
    x = r(N, C, s=3)
    x[0, 0], x[0, 1] = 25.0, -30.0  # both sides of softplus' threshold
    case("softplus", lambda x: F.softplus(x), {"x": x})
    Fh = 16
    case("gated_mlp", lambda h, wg, wu, wd: (F.gelu(h @ wg.T) * (h @ wu.T)) @ wd.T,
         {"h": r(N, C), "wg": r(Fh, C, s=0.3), "wu": r(Fh, C, s=0.3), "wd": r(C, Fh, s=0.25)})

    # causal softmax attention, 2 heads of 4 over 6 tokens, q/k/v packed (L, 3, NH, HS)
    L, NH, HS = 6, 2, 4

    def attn(qkv, causal):
        q, k, v = qkv.view(L, 3, NH, HS).permute(1, 2, 0, 3)
        s = q @ k.transpose(-1, -2) * HS ** -0.5
        if causal:
            s = s + torch.full((L, L), torch.finfo(torch.float32).min, dtype=s.dtype).triu(1)
        return (s.softmax(-1) @ v).permute(1, 0, 2).reshape(L, NH * HS)

    case("attn_causal", lambda qkv: attn(qkv, True), {"qkv": r(L, 3 * NH * HS)})
    case("attn_full", lambda qkv: attn(qkv, False), {"qkv": r(L, 3 * NH * HS)})

    # official naive attention (bug 1): head size 1, scale 1, not causal
    D = 8

    def chan(qkv):
        q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
        a = torch.softmax(q.unsqueeze(1) * k.unsqueeze(0), dim=1)  # n, m, D
        return (a * v.unsqueeze(0)).sum(1)

    case("chanattn", chan, {"qkv": r(L, 3 * D)})

    # Swin V2 cosine attention: 4 windows of 9 tokens, 2 heads of 4; bias, a 2-window mask,
    # head 1's logit_scale above log(100) (clamped: zero gradient)
    nw, n, NH, HS = 4, 9, 2, 4
    Cc = NH * HS
    mask = torch.zeros(2, n, n)
    mask[1, :4, 4:] = -100.0
    mask[1, 4:, :4] = -100.0
    put("cosattn.mask", mask)

    def cos(qkv, bias, logit_scale):
        q, k, v = qkv.view(nw, n, 3, NH, HS).permute(2, 0, 3, 1, 4)
        a = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        a = a * torch.clamp(logit_scale, max=math.log(100.0)).exp()
        a = a + bias.unsqueeze(0)
        a = (a.view(-1, 2, NH, n, n) + mask.double().unsqueeze(1).unsqueeze(0)).view(-1, NH, n, n)
        return (a.softmax(-1) @ v).transpose(1, 2).reshape(nw, n, Cc)

    ls = torch.tensor([math.log(10.0) + 0.1, math.log(100.0) + 0.3]).view(NH, 1, 1)
    case("cosattn", cos, {"qkv": r(nw, n, 3 * Cc), "bias": r(NH, n, n), "logit_scale": ls})

    # cpb: 16 * sigmoid(mlp(table))[index] with a 3x3 window (table 5x5)
    ws = 3
    ch = torch.arange(-(ws - 1), ws, dtype=torch.float32)
    tab = torch.stack(torch.meshgrid([ch, ch], indexing="ij")).permute(1, 2, 0).contiguous()
    tab = tab / (ws - 1) * 8
    tab = torch.sign(tab) * torch.log2(tab.abs() + 1.0) / math.log2(8)
    put("cpb.table", tab.reshape(-1, 2))
    co = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij")).flatten(1)
    rc = (co[:, :, None] - co[:, None, :]).permute(1, 2, 0)
    idx = (rc[:, :, 0] + ws - 1) * (2 * ws - 1) + rc[:, :, 1] + ws - 1
    put("cpb.index", idx.float())

    def cpb(w0, b0, w2):
        t = F.relu(tab.double().reshape(-1, 2) @ w0.T + b0) @ w2.T  # (25, NH)
        return 16 * torch.sigmoid(t[idx.view(-1)].view(ws * ws, ws * ws, -1).permute(2, 0, 1))

    case("cpb", cpb, {"w0": r(32, 2), "b0": r(32, s=0.1), "w2": r(2, 32, s=0.2)})

    # conv patch embed 4x4/4 (NHWC out), patch merging, window partition with shift
    case("patch_embed", lambda img, w, b: F.conv2d(img, w, b, stride=4).permute(0, 2, 3, 1),
         {"img": r(2, 3, 8, 12), "w": r(5, 3, 4, 4, s=0.2), "b": r(5, s=0.1)})

    def merge(x, w):
        B, H, W, Cm = x.shape
        y = x.reshape(B, H // 2, 2, W // 2, 2, Cm).permute(0, 1, 3, 4, 2, 5).flatten(3)
        return y @ w.T

    case("patch_merge", merge, {"x": r(2, 4, 6, 3), "w": r(5, 12, s=0.3)})

    def part(x):
        B, H, W, Cm = x.shape
        s = torch.roll(x, shifts=(-2, -2), dims=(1, 2))
        return s.view(B, H // 4, 4, W // 4, 4, Cm).permute(0, 1, 3, 2, 4, 5).reshape(-1, 16, Cm)

    case("window_partition", part, {"x": r(2, 8, 12, 3)})


def optim():
    # label-smoothed cross-entropy (timm LabelSmoothingCrossEntropy, smoothing 0.3)
    logits = r(3, 10, s=2)
    label = torch.tensor([2, 0, 9])
    put("lsce.logits", logits)
    put("lsce.label", label.float())
    x = logits.double().requires_grad_(True)
    lp = F.log_softmax(x, -1)
    loss = (0.7 * -lp.gather(1, label[:, None])[:, 0] + 0.3 * -lp.mean(-1)).mean()
    loss.backward()
    put("lsce.loss", loss.view(1))
    put("lsce.grad.logits", x.grad)

    # AdamW: 2 params, 5 steps with given gradients; lr from the schedule each step
    w0, w1 = r(4, 3), r(5)
    put("adamw.w0", w0)
    put("adamw.w1", w1)
    p0, p1 = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w1.clone())
    # p1 is a "bias": the official optimizer puts names containing "bias" in a group without decay
    opt = torch.optim.AdamW([{"params": [p0]}, {"params": [p1], "weight_decay": 0.0}], lr=1e-2,
                            betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
    lrs = [1e-2, 7e-3, 3e-3, 1e-3, 5e-4]
    for s in range(5):
        g0, g1 = r(4, 3), r(5, s=0.1)
        put(f"adamw.g0.{s}", g0)
        put(f"adamw.g1.{s}", g1)
        for gr in opt.param_groups:
            gr["lr"] = lrs[s]
        p0.grad, p1.grad = g0.clone(), g1.clone()
        opt.step()
        put(f"adamw.w0.{s}", p0.data)
        put(f"adamw.w1.{s}", p1.data)
    put("adamw.lrs", torch.tensor(lrs))

    # global-norm clipping (torch.nn.utils.clip_grad_norm_)
    g0, g1 = r(4, 3, s=3), r(5, s=3)
    put("clip.g0", g0)
    put("clip.g1", g1)
    q0, q1 = torch.nn.Parameter(torch.zeros(4, 3)), torch.nn.Parameter(torch.zeros(5))
    q0.grad, q1.grad = g0.clone(), g1.clone()
    n = torch.nn.utils.clip_grad_norm_([q0, q1], max_norm=1.0)
    put("clip.norm", n.view(1))
    put("clip.out0", q0.grad)
    put("clip.out1", q1.grad)

    # official: GradualWarmupScheduler(multiplier=1, total_epoch=W) wrapping
    # CosineAnnealingLR(T_max=total, eta_min=lr*min_lr_ratio), stepped once per step. xt uses
    # lr(s) = base*s/W for s < W, then the cosine at t = s - W (torch's recursive form here).
    base, ratio, warm, total = 1e-3, 0.01, 5, 20
    p = torch.nn.Parameter(torch.zeros(1))
    o = torch.optim.SGD([p], lr=base)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total, eta_min=base * ratio)
    sched = []
    for s in range(total):
        if s < warm:
            sched.append(base * s / warm)
        else:
            sched.append(o.param_groups[0]["lr"])
            o.step()
            cos.step()
    put("sched.lr", torch.tensor(sched, dtype=torch.float64))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "ref")
    os.makedirs(out, exist_ok=True)
    meta = {"generator": "tools/gen_ref_grad.py", "torch": torch.__version__}
    layers()
    write(os.path.join(out, "grad_layers.safetensors"), meta)
    T.clear()
    optim()
    write(os.path.join(out, "grad_optim.safetensors"), meta)


if __name__ == "__main__":
    main()
