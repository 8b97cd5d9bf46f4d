#!/usr/bin/python3
"""torch.optim references for xt's optimisers (src/train/optim.c): SGD (momentum, Nesterov, L2
weight decay), Adam (L2 weight decay) and AdamW (decoupled), over several steps, with the
official xT param groups (xt/optimizer.py make_params: no decay for names containing "bias";
classifier_ratio: parameters whose name lacks "backbone" get lr * ratio), the official
freeze_epochs (the encoder's parameters have requires_grad False, so no .grad, for the first
steps: torch skips them, so their step count and momentum buffers start late), and
CosineAnnealingLR with two groups (eta_min absolute, shared by both groups).

Writes tests/ref/optim_ref.safetensors:
  w.<p>                      initial float32 weights of the three parameters
  <case>.g.<p>.<s>           the gradient of step s (every step; frozen steps ignore it)
  <case>.lr                  the base learning rate of each step
  <case>.w.<p>.<s>           torch's weights after step s
  cos.lr_c, cos.lr_n         CosineAnnealingLR's lr per step of a classifier group (base lr * 10)
                             and a net group (base lr), eta_min = lr * 0.01, T_max 12
Metadata "cases": JSON list of {name, optim, momentum, nesterov, betas, eps, wd, ratio, frozen}.

    /usr/bin/python3 tools/gen_ref_optim.py [OUTDIR]     (default tests/ref)

Needs Debian's python3-torch (1.13); the C test (tests/test_train_optimizers.c) only the output.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_seq import write_st  # noqa: E402 (the one safetensors writer of the tools)

torch.manual_seed(13)
T = {}
NAMES = ["encoder.model.proj.weight", "encoder.model.proj.bias", "decoder.backbone_head.weight", "decoder.cls.weight"]
SHAPES = [(4, 3), (5,), (3, 2), (2, 3)]
STEPS = 6


def put(name, x):
    T[name] = np.array(torch.as_tensor(x).detach().to(torch.float32).numpy(), copy=True)


W0 = [torch.randn(*s) for s in SHAPES]
for n, w in zip(NAMES, W0):
    put(f"w.{n}", w)


def run(case):
    ps = [torch.nn.Parameter(w.clone()) for w in W0]
    named = list(zip(NAMES, ps))
    wd, ratio = case["wd"], case["ratio"]

    def make_params(lst, lr=None):  # xt/optimizer.py make_params (no_decay: "bias", ...)
        g = [{"params": [p for n, p in lst if "bias" not in n], "weight_decay": wd},
             {"params": [p for n, p in lst if "bias" in n], "weight_decay": 0.0}]
        if lr is not None:
            for x in g:
                x["lr"] = lr
        return g

    base = 1e-2
    if ratio != 1.0:  # official: "backbone" in the name -> net (base lr), else classifier (lr * ratio)
        net = [(n, p) for n, p in named if n.find("backbone") != -1]
        cls = [(n, p) for n, p in named if n.find("backbone") == -1]
        groups = make_params(cls, base * ratio) + make_params(net)
        mult = [ratio, ratio, 1.0, 1.0]
    else:
        groups = make_params(named)
        mult = [1.0, 1.0]
    o = case["optim"]
    if o == "sgd":
        opt = torch.optim.SGD(groups, lr=base, momentum=case["momentum"], nesterov=case["nesterov"])
    elif o == "adam":
        opt = torch.optim.Adam(groups, lr=base, betas=tuple(case["betas"]), eps=case["eps"], weight_decay=wd)
    else:
        opt = torch.optim.AdamW(groups, lr=base, betas=tuple(case["betas"]), eps=case["eps"], weight_decay=wd)
    lrs = [base * (0.5 + 0.1 * s) for s in range(STEPS)]  # any per-step schedule
    put(f"{case['name']}.lr", torch.tensor(lrs))
    for s in range(STEPS):
        frozen = s < case["frozen"]
        for gi, g in enumerate(opt.param_groups):
            g["lr"] = lrs[s] * mult[gi]
        opt.zero_grad(set_to_none=True)
        for n, p in named:
            g = torch.randn(p.shape)
            put(f"{case['name']}.g.{n}.{s}", g)
            # official _freeze: encoder parameters get requires_grad False -> no .grad at all
            if not (frozen and n.startswith("encoder.")):
                p.grad = g.clone()
        opt.step()
        for n, p in named:
            put(f"{case['name']}.w.{n}.{s}", p)


CASES = [
    dict(name="sgd_nesterov", optim="sgd", momentum=0.9, nesterov=True, betas=[0.9, 0.999], eps=1e-8, wd=0.05, ratio=1.0, frozen=0),
    dict(name="sgd_momentum", optim="sgd", momentum=0.8, nesterov=False, betas=[0.9, 0.999], eps=1e-8, wd=0.05, ratio=1.0, frozen=0),
    dict(name="sgd_plain", optim="sgd", momentum=0.0, nesterov=False, betas=[0.9, 0.999], eps=1e-8, wd=0.0, ratio=1.0, frozen=0),
    dict(name="adam", optim="adam", momentum=0.9, nesterov=True, betas=[0.8, 0.99], eps=1e-6, wd=0.05, ratio=1.0, frozen=0),
    dict(name="adamw", optim="adamw", momentum=0.9, nesterov=True, betas=[0.85, 0.995], eps=1e-7, wd=0.05, ratio=1.0, frozen=0),
    # classifier ratio + frozen encoder for the first 2 steps (late step counts / momentum buffers)
    dict(name="adamw_ratio_freeze", optim="adamw", momentum=0.9, nesterov=True, betas=[0.9, 0.999], eps=1e-8, wd=0.05, ratio=10.0, frozen=2),
    dict(name="sgd_ratio_freeze", optim="sgd", momentum=0.9, nesterov=True, betas=[0.9, 0.999], eps=1e-8, wd=0.05, ratio=0.1, frozen=2),
    dict(name="adam_freeze", optim="adam", momentum=0.9, nesterov=True, betas=[0.9, 0.999], eps=1e-8, wd=0.05, ratio=1.0, frozen=3),
]
for c in CASES:
    run(c)

# CosineAnnealingLR with a classifier group (lr * 10) and a net group: eta_min is absolute
p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([{"params": [p1], "lr": 1e-3 * 10}, {"params": [p2]}], lr=1e-3)
sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=1e-3 * 0.01)
lc, ln = [], []
for s in range(12):
    lc.append(opt.param_groups[0]["lr"])
    ln.append(opt.param_groups[1]["lr"])
    opt.step()
    sch.step()
put("cos.lr_c", torch.tensor(lc, dtype=torch.float64))
put("cos.lr_n", torch.tensor(ln, dtype=torch.float64))


out = sys.argv[1] if len(sys.argv) > 1 else "tests/ref"
os.makedirs(out, exist_ok=True)
write_st(os.path.join(out, "optim_ref.safetensors"), {k: torch.from_numpy(a).reshape(a.shape or (1,)) for k, a in T.items()},
         {"generator": "tools/gen_ref_optim.py", "torch": torch.__version__, "cases": json.dumps(CASES)})
