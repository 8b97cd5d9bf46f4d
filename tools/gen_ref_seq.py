#!/usr/bin/python3
"""References for tests/test_hyper.c and tests/test_mamba.c (HyperAttention long path, Mamba).

    /usr/bin/python3 tools/gen_ref_seq.py [OUTDIR=tests/ref]

The maths is copied from tests/golden/spec.py (the plain-PyTorch spec checked against the
official golden files), so the tests need neither the official code nor /work/shared:
  * Hyper: class Hyper (causal recursion, LSH, block attention, sampled residual, block mask).
    Draws not supplied are made with torch.randint and stored as input.hyper_randint.{j}.
  * Mamba: mamba_mixer + the xT Block (flip, LayerNorm, residual on the normalised stream).
Everything float32 on the CPU, as the official float32 path computes.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

FMIN = torch.finfo(torch.float32).min


def write_st(path, tensors, meta):
    header, off, blobs = {"__metadata__": meta}, 0, []
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print(f"wrote {path} ({8 + len(h) + off} bytes)")


# ---------------------------------------------------------------------------------------------
# HyperAttention (copied from golden/spec.py class Hyper; draws recorded when generated)

class Hyper:
    def __init__(self, proj_dir, draws, min_seq_len, block, sample, use_block_mask=False):
        self.proj, self.draws = proj_dir, draws
        self.made = []
        self.min, self.block, self.sample = min_seq_len, block, sample
        self.mask = use_block_mask
        n = proj_dir.shape[-1]
        g = [0, 1]
        for i in range(1, n):
            g = g + [x + 2 ** i for x in reversed(g)]
        self.perm = torch.tensor(g)
        self.nproj = n
        self.hashes = []

    def hash(self, m):
        ids = ((m @ self.proj > 0).long() * (2 ** torch.arange(self.nproj))).sum(-1)
        r = self.perm[ids]
        self.hashes.append(r)
        return r

    @staticmethod
    def exact(q, k, v, scale, causal, bias=None):
        s = q @ k.transpose(-1, -2) * scale
        if bias is not None:
            s = s + bias
        if causal:
            s = s + torch.full(s.shape[-2:], FMIN).triu(1)
        return s.softmax(-1) @ v, torch.logsumexp(s, -1, keepdim=True)

    @staticmethod
    def merge(a1, l1, a2, l2):
        c = 1 / (1 + (l2 - l1).exp())
        return c * a1 + (1 - c) * a2, l1 - (c + torch.finfo(torch.float32).eps).log()

    def noncausal(self, q, k, v, scale):
        nq, nk, d = q.shape[2], k.shape[2], q.shape[3]
        if self.min > nq:
            return self.exact(q, k, v, scale, False)
        qi = torch.sort(self.hash(q), dim=2, stable=True)[1]
        ki = torch.sort(self.hash(k), dim=2, stable=True)[1]
        qinv = torch.argsort(qi, dim=2, stable=True)

        def g(x, i):
            return x.gather(2, i.unsqueeze(-1).expand(-1, -1, -1, x.shape[-1]))

        qs, ks, vs = g(q, qi), g(k, ki), g(v, ki)
        bs = self.block
        npad = math.ceil(nq / bs) * bs
        qp, kp, vp = (F.pad(x, (0, 0, 0, npad - x.shape[2])) for x in (qs, ks, vs))
        B, H = q.shape[:2]
        ab, lb = self.exact(qp.reshape(-1, 1, bs, d), kp.reshape(-1, 1, bs, d), vp.reshape(-1, 1, bs, d), scale, False)
        ab, lb = ab.reshape(B, H, npad, -1)[:, :, :nq], lb.reshape(B, H, npad, -1)[:, :, :nq]
        if nq > bs and nk > bs:
            if self.draws:
                idx = self.draws.pop(0)
            else:
                idx = torch.randint(nk, (B, H, self.sample))
            self.made.append(idx)
            bias = None
            if self.mask:
                bias = ((torch.arange(nq).view(1, 1, nq, 1) // bs) == (idx // bs).unsqueeze(2)).float() * FMIN
            ar, lr = self.exact(qs, g(ks, idx), g(vs, idx), scale, False, bias)
            a, l = self.merge(ab, lb, ar, lr + math.log(nk / self.sample))
        else:
            a, l = ab, lb
        return g(a, qinv), g(l, qinv)

    def causal(self, q, k, v, scale):
        n = q.shape[2]
        if n <= self.min:
            return self.exact(q, k, v, scale, True)
        odd = n % 2
        if odd:
            q, k, v = (F.pad(x, (0, 0, 0, 1)) for x in (q, k, v))
        B, H, m, d = q.shape
        abd, lbd = self.causal(*(x.reshape(B, 2 * H, m // 2, d) for x in (q, k, v)), scale)
        abd, lbd = abd.reshape(B, H, m, d), lbd.reshape(B, H, m, 1)
        au, lu = self.noncausal(q[:, :, m // 2:], k[:, :, :m // 2], v[:, :, :m // 2], scale)
        ad, ld = self.merge(abd[:, :, m // 2:], lbd[:, :, m // 2:], au, lu)
        a, l = torch.cat([abd[:, :, :m // 2], ad], 2), torch.cat([lbd[:, :, :m // 2], ld], 2)
        return (a[:, :, :-1], l[:, :, :-1]) if odd else (a, l)


def hyper_case(out, name, B, NH, L, HS, min_len, bs, S, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, NH, L, HS, generator=g) for _ in range(3))
    proj = torch.randn(HS, 7, generator=g)
    torch.manual_seed(seed + 1)
    hy = Hyper(proj, [], min_len, bs, S, False)
    a, _ = hy.causal(q, k, v, HS ** -0.5)
    draws = hy.made
    hm = Hyper(proj, list(draws), min_len, bs, S, True)
    am, _ = hm.causal(q, k, v, HS ** -0.5)
    assert not hm.draws
    # exact causal attention, for reference
    ex, _ = Hyper.exact(q, k, v, HS ** -0.5, True)
    t = {"input.q": q, "input.k": k, "input.v": v,
         "input.buffer.attn.lsh.proj_dir": proj.view(1, 1, HS, 7),
         "input.params": torch.tensor([min_len, bs, S], dtype=torch.float32)}
    for j, d in enumerate(draws):
        t[f"input.hyper_randint.{j}"] = d.float()
    for j, h in enumerate(hy.hashes):
        t[f"expected.attn.lsh.hash.call{j}"] = h.float()
    t["expected.attn"] = a
    t["expected.blockmask"] = am
    t["expected.exact"] = ex
    write_st(os.path.join(out, f"seq_hyper_{name}.safetensors"), t,
             {"case": name, "generator": "tools/gen_ref_seq.py", "torch": torch.__version__})
    print(f"  {name}: {len(hy.hashes)} hash calls, {len(draws)} draws, "
          f"max|hyper - exact| {(a - ex).abs().max():.3g}, max|mask - nomask| {(am - a).abs().max():.3g}")


# ---------------------------------------------------------------------------------------------
# Mamba (copied from golden/spec.py mamba_mixer / spec_mamba)

def conv1d_causal(x, w, b):  # x (B, L, C) -> (B, L, C)
    k = w.shape[-1]
    return F.conv1d(F.pad(x.transpose(1, 2), (k - 1, 0)), w, b, groups=x.shape[-1]).transpose(1, 2)


def scan(u, delta, A, Bm, Cm, Dp):  # (B, L, DI), (B, L, DI), (DI, N), (B, L, N) x2, (DI)
    s = torch.zeros(u.shape[0], u.shape[2], A.shape[1])
    ys = []
    for l in range(u.shape[1]):
        s = torch.exp(delta[:, l, :, None] * A) * s + delta[:, l, :, None] * Bm[:, l, None, :] * u[:, l, :, None]
        ys.append((s * Cm[:, l, None, :]).sum(-1) + Dp * u[:, l])
    return torch.stack(ys, 1)


def mamba_mixer(t, m, h):
    d_inner = t[m + "D"].shape[0]
    d_state = t[m + "A_log"].shape[1]
    dt_rank = t[m + "dt_proj.weight"].shape[1]
    x, z = (h @ t[m + "in_proj.weight"].T).chunk(2, -1)
    x = F.silu(conv1d_causal(x, t[m + "conv1d.weight"], t[m + "conv1d.bias"]))
    dt, Bm, Cm = (x @ t[m + "x_proj.weight"].T).split([dt_rank, d_state, d_state], -1)
    delta = F.softplus(dt @ t[m + "dt_proj.weight"].T + t[m + "dt_proj.bias"])
    A = -torch.exp(t[m + "A_log"])
    y = scan(x, delta, A, Bm, Cm, t[m + "D"]) * F.silu(z)
    return y @ t[m + "out_proj.weight"].T


def mamba_weights(g, p, D, d_state=16, d_conv=4):
    DI, R = 2 * D, math.ceil(D / 16)
    r = lambda *s: torch.randn(*s, generator=g)
    w = {p + "norm.weight": 1 + 0.1 * r(D), p + "norm.bias": 0.1 * r(D),
         p + "mixer.A_log": torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(DI, 1) + 0.1 * r(DI, d_state),
         p + "mixer.D": 1 + 0.1 * r(DI),
         p + "mixer.in_proj.weight": r(2 * DI, D) / math.sqrt(D),
         p + "mixer.conv1d.weight": r(DI, 1, d_conv) / math.sqrt(d_conv),
         p + "mixer.conv1d.bias": 0.1 * r(DI),
         p + "mixer.x_proj.weight": r(R + 2 * d_state, DI) / math.sqrt(DI),
         p + "mixer.dt_proj.weight": r(DI, R) / math.sqrt(R),
         p + "mixer.dt_proj.bias": torch.log(torch.expm1(torch.rand(DI, generator=g) * 0.09 + 0.001)) + 0.1 * r(DI),
         p + "mixer.out_proj.weight": r(D, DI) / math.sqrt(DI)}
    return w


def block(t, p, x, reverse):
    D = x.shape[-1]
    h = x.flip(1) if reverse else x
    h = F.layer_norm(h, (D,), t[p + "norm.weight"], t[p + "norm.bias"])
    o = mamba_mixer(t, p + "mixer.", h)
    out = h + o
    return h, o, (out.flip(1) if reverse else out)


def mamba_refs(out):
    g = torch.Generator().manual_seed(11)
    t = {}
    # kernels
    T, C = 37, 24
    t["input.conv.x"] = torch.randn(2, T, C, generator=g)
    t["input.conv.w"] = torch.randn(C, 1, 4, generator=g)
    t["input.conv.b"] = torch.randn(C, generator=g)
    t["expected.conv"] = conv1d_causal(t["input.conv.x"], t["input.conv.w"], t["input.conv.b"])
    DI, N = 40, 16
    t["input.scan.u"] = torch.randn(1, T, DI, generator=g)
    t["input.scan.delta"] = F.softplus(torch.randn(1, T, DI, generator=g) - 1)
    t["input.scan.A"] = -torch.exp(torch.randn(DI, N, generator=g) * 0.5 + 0.5)
    t["input.scan.B"] = torch.randn(1, T, N, generator=g)
    t["input.scan.C"] = torch.randn(1, T, N, generator=g)
    t["input.scan.D"] = torch.randn(DI, generator=g)
    t["expected.scan"] = scan(t["input.scan.u"], t["input.scan.delta"], t["input.scan.A"], t["input.scan.B"],
                              t["input.scan.C"], t["input.scan.D"])
    # block, D=32, batch 2, reversed (as layer 0 of xT); and D=16 over 1100 tokens (several chunks)
    t.update(mamba_weights(g, "a.", 32))
    x = torch.randn(2, 50, 32, generator=g)
    t["input.a"] = x
    h, o, y = block(t, "a.", x, True)
    t["expected.a.norm"], t["expected.a.mixer"], t["expected.a"] = h, o, y
    t["expected.a.mixer_only"] = mamba_mixer(t, "a.mixer.", x)
    t.update(mamba_weights(g, "b.", 16))
    x = torch.randn(1, 1100, 16, generator=g)
    t["input.b"] = x
    for rev in (0, 1):
        h, o, y = block(t, "b.", x, rev)
        t[f"expected.b.rev{rev}"] = y
    write_st(os.path.join(out, "seq_mamba.safetensors"), t,
             {"case": "mamba", "generator": "tools/gen_ref_seq.py", "torch": torch.__version__})


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    os.makedirs(out, exist_ok=True)
    with torch.no_grad():
        # one LSH level, a single block padded with zero keys, no sampling (m = 20 <= block 32)
        hyper_case(out, "blocks", 1, 2, 40, 16, 16, 32, 8, 1)
        # odd lengths at every level (77 -> 39 -> 20 -> 10), several blocks, sampling, batch 2
        hyper_case(out, "long", 2, 2, 77, 16, 8, 4, 6, 2)
        # many blocks at the top level: 300 -> 150 -> 75 -> 38
        hyper_case(out, "many", 1, 1, 300, 8, 40, 16, 16, 3)
        mamba_refs(out)


if __name__ == "__main__":
    main()
