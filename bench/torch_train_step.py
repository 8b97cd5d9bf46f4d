#!/usr/bin/python3
"""PyTorch side of the training-step benchmark (bench/train_step.sh runs it).

One training step of a Swin V2-T xT classifier with the "naive" head, as `xt train` runs it:
the region encoder of bench/torch_swin.py (torchvision's Swin V2 classes, window clamped as timm
does), global average pool of the last stage, Linear(768, 4*768) -> GELU -> LayerNorm -> Linear
(src/models/heads.c), cross-entropy, backward, AdamW (lr 1e-4, weight decay 0.05). Random
weights and inputs; the step time does not depend on them. Prints per thread count:
  RESULT torch-train threads=T batch=B sec_per_step=S min_sec_per_step=M peak_rss_mb=R
"""
import argparse
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_swin import SwinFeatures, peak_rss_mb  # noqa: E402


class NaiveXT(nn.Module):
    def __init__(self, classes=10, ratio=4):
        super().__init__()
        self.enc = SwinFeatures()
        C = 768
        self.head = nn.Sequential(nn.Linear(C, ratio * C), nn.GELU(), nn.LayerNorm(ratio * C),
                                  nn.Linear(ratio * C, classes))

    def forward(self, x):
        return self.head(self.enc(x)[-1].mean(dim=(2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = NaiveXT().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    x = torch.randn(a.batch, 3, 256, 256)
    y = torch.randint(0, 10, (a.batch,))
    for t in [int(s) for s in a.threads.split(",")]:
        torch.set_num_threads(t)
        times = []
        for i in range(a.steps + 1):  # the first step (allocations, AdamW state) is not timed
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            if i:
                times.append(time.perf_counter() - t0)
        print(f"RESULT torch-train threads={t} batch={a.batch} sec_per_step={statistics.median(times):.4f} "
              f"min_sec_per_step={min(times):.4f} peak_rss_mb={peak_rss_mb():.0f}", flush=True)


if __name__ == "__main__":
    main()
