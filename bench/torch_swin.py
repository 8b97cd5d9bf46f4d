#!/usr/bin/python3
"""PyTorch side of the region-encoder benchmark (bench/run_bench.sh runs it): --encoder swin
(default), hiera or convnext; the two latter are described at region_encoder() below.

Builds Swin V2-T (embed 96, depths 2-2-6-2, heads 3-6-12-24, window 16) for 256x256 regions from
torchvision's own Swin V2 classes (SwinTransformer + SwinTransformerBlockV2 + PatchMergingV2),
random weights, features only (no final norm / head), and times it in eval + inference_mode at
1 and 2 threads.

Window clamping: timm 0.9.7 (what xT and xt compute) clamps the window to the feature map when the
map is smaller (stage 3 of a 256 region: 8x8 map, window 8, no shift). torchvision instead pads the
8x8 map to 16x16 and attends over the padding, ~0.9 GMAC/region of extra work on padded tokens.
So that all three programs run the same network, the blocks of such stages are rebuilt with the
clamped window (same torchvision classes). --stock keeps torchvision's padding behaviour.

Regions/s come from the median batch time (the minimum is printed too), as in bench_swin.c.
--flops prints the counted GFLOP per region and exits (run_bench.sh's % of GEMM peak).
Prints one machine-readable line per thread count:
  RESULT torch threads=T batch=B regions_per_s=R sec_per_batch=S peak_rss_mb=M
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time
from functools import partial

import torch
from torch import nn
from torchvision.models.swin_transformer import (PatchMergingV2, SwinTransformer,
                                                 SwinTransformerBlockV2)


def swin_flops(img=256, patch=4, embed=96, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), window=16,
               mlp_ratio=4.0, in_chans=3, with_cpb=False):
    """Analytic FLOPs (2 x multiply-adds) per region; mirrors swin_flops() in bench/bench_swin.c.

    Counted: patch-embed conv, every linear (qkv, proj, fc1, fc2, patch-merging reduction), the
    two attention matmuls (q k^T and attn v) per window, with the window clamped to the feature map.
    Not counted: layernorms, softmax, GELU, cosine normalisation, bias adds, roll/partition copies
    and (unless with_cpb) the continuous-position-bias MLP (input-independent; xt computes it once
    at load, torchvision/ORT recompute it every forward)."""
    H = img // patch
    C = embed
    macs = H * H * (in_chans * patch * patch) * C  # patch embed
    for s, d in enumerate(depths):
        N = H * H
        w = min(window, H)
        T = w * w
        hid = int(C * mlp_ratio)
        for _ in range(d):
            macs += N * C * 3 * C + N * C * C + 2 * N * C * hid  # qkv, proj, fc1, fc2
            macs += 2 * N * T * C                                # q k^T and attn v over all heads
            if with_cpb:
                macs += (2 * w - 1) ** 2 * (2 * 512 + 512 * heads[s])
        if s + 1 < len(depths):
            macs += (N // 4) * (4 * C) * (2 * C)                 # patch merging 4C -> 2C
            H //= 2
            C *= 2
    return 2.0 * macs


class SwinFeatures(nn.Module):
    """torchvision SwinTransformer's `features`, returning every stage output as NCHW."""

    def __init__(self, img=256, embed=96, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), window=16,
                 stock=False):
        super().__init__()
        m = SwinTransformer(patch_size=[4, 4], embed_dim=embed, depths=list(depths),
                            num_heads=list(heads), window_size=[window, window],
                            stochastic_depth_prob=0.0, block=SwinTransformerBlockV2,
                            downsample_layer=PatchMergingV2)
        self.features = m.features
        # features: [patch_embed, stage0, merge, stage1, merge, stage2, merge, stage3]
        self.stage_idx = [1 + 2 * s for s in range(len(depths))]
        if not stock:
            feat = img // 4
            for s, d in enumerate(depths):
                if feat < window:  # timm: window clamped to the map, no shift
                    dim = embed * 2 ** s
                    self.features[self.stage_idx[s]] = nn.Sequential(*[
                        SwinTransformerBlockV2(dim, heads[s], window_size=[feat, feat],
                                               shift_size=[0, 0], mlp_ratio=4.0,
                                               stochastic_depth_prob=0.0,
                                               norm_layer=partial(nn.LayerNorm, eps=1e-5))
                        for _ in range(d)])
                feat //= 2

    def forward(self, x):
        outs = []
        for i, f in enumerate(self.features):
            x = f(x)
            if i in self.stage_idx:
                outs.append(x.permute(0, 3, 1, 2))  # (B, H, W, C) -> (B, C, H, W)
        return tuple(outs)


# Hiera and ConvNeXt: the plain-PyTorch forwards of tools/gen_ref_backbones.py (checked there
# against the golden files made with hiera v0.1.4 / timm 0.9.7), so the three programs run the
# network xt runs. Tiny sizes (src/models/presets.c hiera_tiny_224, convnext_tiny) at the
# benchmark's 256 region, so every encoder sees the same regions of the same whole image.
def _grb():
    """tools/gen_ref_backbones.py, imported on first use; its import turns autograd off globally,
    which would break torch_train_step.py (it imports this file), so the grad mode is restored."""
    g = torch.is_grad_enabled()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import gen_ref_backbones
    torch.set_grad_enabled(g)
    return gen_ref_backbones

HIERA_T = {"embed_dim": 96, "num_heads": 1, "stages": [1, 2, 7, 2], "q_pool": 3, "q_stride": [2, 2],
           "mask_unit_size": [8, 8], "mask_unit_attn": [True, True, False, False], "dim_mul": 2.0,
           "head_mul": 2.0, "patch_kernel": [7, 7], "patch_stride": [4, 4], "patch_padding": [3, 3],
           "mlp_ratio": 4.0, "in_chans": 3}
CONVNEXT_T = {"dims": [96, 192, 384, 768], "depths": [3, 3, 9, 3], "in_chans": 3}


def hiera_flops(cfg=HIERA_T, img=256):
    """FLOPs (2 x multiply-adds) per region, counted like swin_flops: the patch-embed conv, every
    linear (qkv, proj, fc1, fc2, the stage-transition proj) and the two attention matmuls per mask
    unit (q k^T, attn v; a query attends to the keys of its own unit, all keys when global), block
    by block from hiera_plan. Not counted: layernorms, softmax, GELU, max pooling, pos_embed add."""
    plan, _ = _grb().hiera_plan(cfg, img)
    N = (img // cfg["patch_stride"][0]) * (img // cfg["patch_stride"][1])
    macs = N * cfg["in_chans"] * math.prod(cfg["patch_kernel"]) * cfg["embed_dim"]
    for dim, D, heads, q, window, use_mu in plan:
        nw = N // (q * window) if use_mu else 1
        Nq = N // q
        macs += N * dim * 3 * D + (N * dim * D if dim != D else 0)  # qkv (and proj) on all tokens
        macs += 2 * Nq * (N // nw) * D                             # q k^T and attn v
        macs += Nq * D * D + 2 * Nq * D * int(D * cfg["mlp_ratio"])  # attn proj, fc1, fc2
        N = Nq
    return 2.0 * macs


def convnext_flops(cfg=CONVNEXT_T, img=256):
    """FLOPs (2 x multiply-adds) per region: the stem conv, the downsampling convs, the depthwise
    7x7 convs and the two MLP linears of every block. Not counted: layernorms, GELU, gamma, biases."""
    H, cin, macs = img // 4, cfg["in_chans"], 0
    macs += H * H * cin * 16 * cfg["dims"][0]
    for s, (C, d) in enumerate(zip(cfg["dims"], cfg["depths"])):
        if s:
            H //= 2
            macs += H * H * 4 * cfg["dims"][s - 1] * C
        macs += d * (H * H * C * 49 + 2 * H * H * C * 4 * C)
    return 2.0 * macs


class FunctionalEncoder(nn.Module):
    """A gen_ref_backbones forward on a random state dict (seeded), returning the four stage
    outputs as NCHW like xt's encoders (Hiera's intermediates are NHWC: transposed here too)."""

    def __init__(self, encoder, img=256):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.encoder, self.grb = encoder, _grb()
        grb = self.grb
        if encoder == "hiera":
            self.cfg, self.sd = HIERA_T, grb.hiera_weights(HIERA_T, img, gen)
        else:
            self.cfg, self.sd = CONVNEXT_T, grb.convnext_weights(CONVNEXT_T, gen)

    def forward(self, x):
        grb = self.grb
        if self.encoder == "hiera":
            out = grb.hiera_forward(self.sd, self.cfg, x)
            return tuple(out[f"intermediates{s}"].permute(0, 3, 1, 2) for s in range(4))
        out = grb.convnext_forward(self.sd, self.cfg, x, p="")
        return tuple(out[f"stage{s}"] for s in range(4))


ENCODERS = ("swin", "hiera", "convnext")


def region_encoder(encoder="swin", img=256, stock=False):
    """(module in eval mode, counted FLOPs per region) for --encoder."""
    if encoder == "swin":
        return SwinFeatures(img=img, stock=stock).eval(), swin_flops(img=img)
    if encoder == "hiera":
        return FunctionalEncoder("hiera", img).eval(), hiera_flops(img=img)
    if encoder == "convnext":
        return FunctionalEncoder("convnext", img).eval(), convnext_flops(img=img)
    raise ValueError(f"encoder {encoder!r}: one of {', '.join(ENCODERS)}")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--img", type=int, default=256)
    ap.add_argument("--stock", action="store_true", help="torchvision padding of small maps")
    ap.add_argument("--encoder", default="swin", choices=ENCODERS)
    ap.add_argument("--flops", action="store_true", help="print GFLOP/region counted and exit")
    a = ap.parse_args()

    torch.manual_seed(0)
    model, fl = region_encoder(a.encoder, a.img, a.stock)
    if a.flops:
        print(f"{fl / 1e9:.3f}")
        return
    x = torch.randn(a.batch, 3, a.img, a.img)
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and ".so" in l})
    print(f"# torch {torch.__version__}, BLAS mapped: {', '.join(blas)}; "
          f"{a.encoder}: {fl / 1e9:.3f} GFLOP/region counted", flush=True)
    for t in [int(s) for s in a.threads.split(",")]:
        torch.set_num_threads(t)
        with torch.inference_mode():
            for _ in range(a.warmup):
                model(x)
            times = []
            for _ in range(a.iters):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
        dt = statistics.median(times)
        rps = a.batch / dt
        print(f"RESULT torch threads={t} batch={a.batch} regions_per_s={rps:.3f} "
              f"sec_per_batch={dt:.4f} min_sec_per_batch={min(times):.4f} gflops={rps * fl / 1e9:.1f} "
              f"peak_rss_mb={peak_rss_mb():.0f}", flush=True)


if __name__ == "__main__":
    main()
