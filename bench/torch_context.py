#!/usr/bin/python3
"""PyTorch side of the long-sequence context benchmark (bench/bench_context.c is xt's side).

  /usr/bin/python3 bench/torch_context.py attn  --L 16384 [--D 256] [--threads 2]
  /usr/bin/python3 bench/torch_context.py mamba --L 16384 [--D 128] [--threads 2]
  /usr/bin/python3 bench/torch_context.py naive --L 2048 [--D 64] [--threads 2]

attn: the same causal attention layer as bench_context.c (NH = D / 128 heads of 128, q/k/v/out
projections without bias, residual), written the way PyTorch 1.13 code does it (no fused
scaled_dot_product_attention before 2.0): scores = q k^T * scale, causal mask, softmax, @ v.
That materialises an L x L score matrix per head: at L = 200,000 one head's scores alone are
200k^2 x 4 B = 160 GB, so PyTorch cannot run the benchmark's size at all; run it at the largest
L that fits (16k: 1 GiB per score matrix).

mamba: xT's Mamba block (LayerNorm, mamba_ssm v1.1.4 Mamba mixer on its non-fused path with
selective_scan_ref, residual on the normalised stream) in plain PyTorch, as it runs without the
CUDA kernels. selective_scan_ref materialises deltaA and deltaB_u of (B, d_inner, L, d_state) and
loops over L in Python: 1M tokens at D = 128 would need 2 x 16 GB for those two tensors alone.

naive: the official "naive" context attention alone (xT's ViTAttention built with num_heads =
dim: head size 1, scale 1, not causal), written as the official/timm Attention does it:
(q @ k^T) * scale, softmax, @ v over (1, D heads, L, 1) — a (D, L, L) score tensor: 1 GiB at
L = 2048, D = 64 (xt's bench_context naive is the same computation over random q, k, v).

Run with the OpenMP OpenBLAS first on LD_LIBRARY_PATH (see bench/run_bench.sh).
Prints "RESULT torch-<what> L=... D=... threads=T sec=S tokens_per_s=R peak_rss_mb=M".
"""
import argparse
import math
import resource
import time

import torch
import torch.nn.functional as F
from torch import nn


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class CausalAttnLayer(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.D, self.NH, self.HS = D, D // 128, 128
        self.q = nn.Linear(D, D, bias=False)
        self.k = nn.Linear(D, D, bias=False)
        self.v = nn.Linear(D, D, bias=False)
        self.o = nn.Linear(D, D, bias=False)

    def forward(self, x):  # (L, D)
        L = x.shape[0]
        q = self.q(x).view(L, self.NH, self.HS).transpose(0, 1)
        k = self.k(x).view(L, self.NH, self.HS).transpose(0, 1)
        v = self.v(x).view(L, self.NH, self.HS).transpose(0, 1)
        mask = torch.ones(L, L, dtype=torch.bool).triu_(1)
        outs = []
        for h in range(self.NH):  # one head at a time: halves the peak memory
            s = (q[h] @ k[h].transpose(0, 1)) * self.HS ** -0.5
            s.masked_fill_(mask, float("-inf"))
            outs.append(torch.softmax(s, dim=-1) @ v[h])
            del s
        o = torch.stack(outs, 0).transpose(0, 1).reshape(L, self.D)
        return x + self.o(o)


def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias):
    """mamba_ssm v1.1.4 selective_scan_ref (delta_softplus=True, variable B, C of (b, n, l))."""
    delta = F.softplus(delta + delta_bias[..., None])
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = A.new_zeros((batch, dim, dstate))
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = torch.stack(ys, dim=2)
    out = y + u * D[..., None]
    return out * F.silu(z)


class MambaBlock(nn.Module):
    """xT Block(norm, Mamba) with mamba_ssm Mamba's non-fused forward."""

    def __init__(self, D, d_state=16, d_conv=4, expand=2):
        super().__init__()
        DI, R = expand * D, math.ceil(D / 16)
        self.DI, self.R, self.N = DI, R, d_state
        self.norm = nn.LayerNorm(D)
        self.in_proj = nn.Linear(D, 2 * DI, bias=False)
        self.conv1d = nn.Conv1d(DI, DI, d_conv, groups=DI, padding=d_conv - 1)
        self.x_proj = nn.Linear(DI, R + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(R, DI)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(DI, 1))
        self.Dskip = nn.Parameter(torch.ones(DI))
        self.out_proj = nn.Linear(DI, D, bias=False)

    def forward(self, x):  # (B, L, D)
        h = self.norm(x)
        Bn, L, _ = h.shape
        xz = self.in_proj(h).transpose(1, 2)  # (B, 2DI, L)
        xx, z = xz.chunk(2, dim=1)
        xx = F.silu(self.conv1d(xx)[..., :L])
        x_dbl = self.x_proj(xx.transpose(1, 2).reshape(Bn * L, self.DI))
        dt, Bm, Cm = torch.split(x_dbl, [self.R, self.N, self.N], dim=-1)
        dt = (self.dt_proj.weight @ dt.t()).view(self.DI, Bn, L).permute(1, 0, 2)
        Bm = Bm.view(Bn, L, self.N).transpose(1, 2)
        Cm = Cm.view(Bn, L, self.N).transpose(1, 2)
        y = selective_scan_ref(xx, dt, -torch.exp(self.A_log), Bm, Cm, self.Dskip, z, self.dt_proj.bias)
        return h + self.out_proj(y.transpose(1, 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["attn", "mamba", "naive"])
    ap.add_argument("--L", type=int, default=16384)
    ap.add_argument("--D", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.what == "naive":
        D = a.D or 64
        qkv = torch.rand(1, a.L, 3 * D) * 2 - 1
        with torch.inference_mode():
            t0 = time.perf_counter()
            q, k, v = qkv.reshape(1, a.L, 3, D, 1).permute(2, 0, 3, 1, 4).unbind(0)  # (1, D, L, 1)
            attn = (q @ k.transpose(-2, -1)) * 1.0  # head size 1: scale 1
            attn = attn.softmax(dim=-1)
            y = (attn @ v).transpose(1, 2).reshape(1, a.L, D)
            sec = time.perf_counter() - t0
        print(f"# checksum {y.flatten()[::997].sum().item():.6g}; {a.L * a.L * D / sec / 1e9:.2f} G pair evaluations/s")
        print(f"RESULT torch-naive L={a.L} D={D} threads={a.threads} sec={sec:.3f} "
              f"tokens_per_s={a.L / sec:.0f} peak_rss_mb={peak_rss_mb():.0f}", flush=True)
        return
    if a.what == "attn":
        D = a.D or 256
        model, x = CausalAttnLayer(D).eval(), torch.randn(a.L, D)
        flops = 8.0 * a.L * D * D + 2.0 * 2.0 * (a.L * (a.L + 1) / 2) * D
    else:
        D = a.D or 128
        model, x = MambaBlock(D).eval(), torch.randn(1, a.L, D)
        flops = 0
    with torch.inference_mode():
        t0 = time.perf_counter()
        y = model(x)
        sec = time.perf_counter() - t0
    print(f"# checksum {y.flatten()[::997].sum().item():.6g}")
    extra = f" gflops={flops / sec / 1e9:.1f}" if flops else ""
    print(f"RESULT torch-{a.what} L={a.L} D={D} threads={a.threads} sec={sec:.3f} "
          f"tokens_per_s={a.L / sec:.0f}{extra} peak_rss_mb={peak_rss_mb():.0f}", flush=True)


if __name__ == "__main__":
    main()
