#!/usr/bin/python3
"""Float64 autograd references for the HyperAttention backward (tests/test_hyper_train.c).

    /usr/bin/python3 tools/gen_ref_hyper_grad.py [OUTDIR=tests/ref]

The forward is tools/gen_ref_seq.py's class Hyper (copied from the golden spec.py): the
official float32 computation, here run in float64 with autograd. The LSH buckets (checked equal
to float32's), sort permutations and sampled indices are integer constants, so the gradient is
that of the block, sampled and exact softmaxes and of every add_self_attentions merge, as the
official code's autograd computes it. Writes seq_hyper_grad_<case>.safetensors: input.{q,k,v,
dout} (float32 values), input.buffer.attn.lsh.proj_dir, input.hyper_randint.*, input.params
(min_seq_len, block, sample, block_mask), expected.attn, expected.grad.{q,k,v} of
sum(attn * dout).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_seq import Hyper, write_st  # noqa: E402


def case(out, name, B, NH, L, HS, min_len, bs, S, mask, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v, dout = (torch.randn(B, NH, L, HS, generator=g) for _ in range(4))
    proj = torch.randn(HS, 7, generator=g)
    torch.manual_seed(seed + 1)
    h32 = Hyper(proj, [], min_len, bs, S, mask)
    with torch.no_grad():
        h32.causal(q, k, v, HS ** -0.5)
    draws = h32.made
    x = [t.double().requires_grad_() for t in (q, k, v)]
    h64 = Hyper(proj.double(), list(draws), min_len, bs, S, mask)
    a, _ = h64.causal(*x, HS ** -0.5)
    assert not h64.draws
    for h1, h2 in zip(h32.hashes, h64.hashes):  # the buckets must not depend on the precision
        assert torch.equal(h1, h2), name
    (a * dout.double()).sum().backward()
    t = {"input.q": q, "input.k": k, "input.v": v, "input.dout": dout,
         "input.buffer.attn.lsh.proj_dir": proj.view(1, 1, HS, 7),
         "input.params": torch.tensor([min_len, bs, S, int(mask)], dtype=torch.float32)}
    for j, d in enumerate(draws):
        t[f"input.hyper_randint.{j}"] = d.float()
    t["expected.attn"] = a.detach()
    for n, xx in zip("qkv", x):
        t[f"expected.grad.{n}"] = xx.grad
    write_st(os.path.join(out, f"seq_hyper_grad_{name}.safetensors"), t,
             {"case": name, "generator": "tools/gen_ref_hyper_grad.py", "torch": torch.__version__})
    print(f"  {name}: {len(h64.hashes)} hash calls, {len(draws)} draws, max|grad q| {x[0].grad.abs().max():.3g}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
    # odd lengths at every level (77 -> 39 -> 20 -> 10), several blocks, sampling, batch 2
    case(out, "long", 2, 2, 77, 16, 8, 4, 6, False, 2)
    # the same with the block mask (the GPU path's semantics)
    case(out, "mask", 2, 2, 77, 16, 8, 4, 6, True, 2)
    # many blocks per head at the top level: 300 -> 150 -> 75 -> 38
    case(out, "many", 1, 1, 300, 8, 40, 16, 16, False, 3)
    # an exact (m < min_seq_len) off-diagonal level: 50 -> 25
    case(out, "exactoff", 1, 2, 50, 8, 30, 8, 8, False, 4)


if __name__ == "__main__":
    main()
