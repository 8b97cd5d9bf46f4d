#!/usr/bin/python3
"""Float64 autograd references for training the long-context heads (tests/test_train_context.c).

    /usr/bin/python3 tools/gen_ref_xt_context_grad.py [GOLDEN_DIR=tests/golden] [OUT=tests/ref/xt_context_grad.safetensors]

Starts from the official region features of two golden files (`expected.stitched.3`, the Swin
V2 output the C training forward reproduces within ~1e-6) and runs the xl head in float64 with
autograd: tokens, input_proj, 2-D sin-cos position, cls, the context layers, LayerNorm + Linear,
timm's LabelSmoothingCrossEntropy(0.3) on label 3. Cases (the C test runs the whole model on
the file's image and compares every decoder gradient):
  hyper_long  xt_cls_hyper_long: HyperAttention's LSH path (65 tokens, min_seq_len 16, block 8,
              sample 8) with the file's proj_dir and draws (tools/gen_ref_seq.py's class Hyper);
              buckets and draws are constants, as in the official autograd
  window      xt_cls_xl_incontext: in_context_patches 16 (8 windows, stride 8), the official
              independent windows (bug 3), naive attention
  memfix      the same with the Transformer-XL memory: layer i sees [its memory, the window], the
              memory is its previous input minus the last row, *detached* (official new_mem)
Also stores the float64 logits, loss and d loss / d stitched (expected.<case>.grad.stitched).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_seq import Hyper, write_st  # noqa: E402
from gen_ref_xt import channel_attention, gated_mlp, pos_embed, rmsnorm  # noqa: E402
from gen_ref_swin import st_read  # noqa: E402

FMIN = torch.finfo(torch.float32).min
LABEL, SMOOTH = 3, 0.3


def attention_exact(q, k, v, scale):
    s = q @ k.transpose(-1, -2) * scale + torch.full((q.shape[2], q.shape[2]), FMIN, dtype=q.dtype).triu(1)
    return s.softmax(-1) @ v


def llm_layer(t, p, x, attn):
    D = x.shape[-1]
    h = rmsnorm(x, t[p + "input_layernorm.weight"])
    qkv = h @ t[p + "attn.qkv.weight"].T
    if p + "attn.qkv.bias" in t:
        qkv = qkv + t[p + "attn.qkv.bias"]
    if attn is None:
        o = channel_attention(qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:])
    else:
        B, L, _ = x.shape
        q, k, v = qkv.reshape(B, L, 3, D // 128, -1).permute(2, 0, 3, 1, 4)
        o = attn(q, k, v, q.shape[-1] ** -0.5).permute(0, 2, 1, 3).reshape(B, L, D)
    x = x + o @ t[p + "attn.proj.weight"].T + t[p + "attn.proj.bias"]
    return x + gated_mlp(rmsnorm(x, t[p + "post_attention_layernorm.weight"]), t[p + "mlp.gate_proj.weight"],
                         t[p + "mlp.up_proj.weight"], t[p + "mlp.down_proj.weight"])


def head(t, stitched, nl, attn, icp, memfix):
    D = t["decoder.cls_token"].shape[-1]
    N, C, h, w = stitched.shape
    x = stitched.flatten(2).transpose(1, 2) @ t["decoder.input_proj.weight"].T + t["decoder.input_proj.bias"]
    cls = t["decoder.cls_token"].expand(N, 1, D)
    x = torch.cat([x + pos_embed(D, h, w).double(), cls], 1)
    if icp <= 0 or icp >= x.shape[1]:
        for i in range(nl):
            x = llm_layer(t, f"decoder.layers.{i}.", x, attn)
        v = x[:, -1]
    else:  # ref: decoder.py forward / forward_context, with the memfix patches when asked
        off, start, mem, all_cls = icp // 2, 0, None, []
        while start < x.shape[1] - 1:
            xx = torch.cat([x[:, start:start + icp], cls], 1)
            base = xx.shape[1]
            new_mem = []
            for i in range(nl):
                xi = xx if not mem else torch.cat([mem[i][:, :mem[i].shape[1] - off], xx], 1)[:, -2 * base:]
                new_mem.append(xi[:, :-1].detach())  # official: the memory is a constant
                xx = llm_layer(t, f"decoder.layers.{i}.", xi, attn)[:, -base:]
            if memfix:
                mem = new_mem
            all_cls.append(xx[:, -1:])
            start += off
        v = torch.cat(all_cls, 1).mean(1)
    y = F.layer_norm(v, (D,), t["decoder.cls.0.weight"], t["decoder.cls.0.bias"])
    return y @ t["decoder.cls.1.weight"].T + t["decoder.cls.1.bias"]


def case(golden, fname, name, memfix, out):
    t32, meta = st_read(os.path.join(golden, fname + ".safetensors"))
    import json
    cfg = json.loads(meta["config"])
    t = {k: v.double().requires_grad_(k.startswith("decoder.")) for k, v in t32.items()}
    stitched = t["expected.stitched.3"].detach().requires_grad_()
    nl = cfg["context"]["n_layer"]
    attn = None
    if cfg["context"]["attention_method"] == "hyper":
        hov = cfg["hyper_override"]
        draws = [t32[f"input.hyper_randint.{j}"].long() for j in range(100) if f"input.hyper_randint.{j}" in t32]
        hy = Hyper(t["input.buffer.decoder.layers.0.attn.attn.lsh.proj_dir"][0, 0].detach(), list(draws),
                   hov["min_seq_len"], hov["block_size"], hov["sample_size"], False)
        attn = lambda q, k, v, s: hy.causal(q, k, v, s)[0]  # noqa: E731
        assert nl == 1  # one layer consumes all the draws
    else:
        attn = None
    logits = head(t, stitched, nl, attn, cfg["context"]["in_context_patches"], memfix)
    logp = logits.log_softmax(-1)
    loss = ((1 - SMOOTH) * -logp[:, LABEL] + SMOOTH * -logp.mean(-1)).mean()
    loss.backward()
    res = {f"expected.{name}.logits": logits.detach(), f"expected.{name}.loss": loss.detach().view(1),
           f"expected.{name}.grad.stitched": stitched.grad}
    for k, v in t.items():
        if v.requires_grad and v.grad is not None:
            res[f"expected.{name}.grad.{k}"] = v.grad
    ref = t32["expected.variant_memfix.logits" if memfix else "expected.logits"].double()
    print(f"  {name}: loss {loss.item():.6f}, |logits - official float32| {(logits.detach() - ref).abs().max():.2e}, "
          f"{len(res) - 3} parameter gradients")
    out.update(res)


def main():
    golden = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    path = sys.argv[2] if len(sys.argv) > 2 else "tests/ref/xt_context_grad.safetensors"
    out = {"input.label": torch.tensor([float(LABEL)])}
    case(golden, "xt_cls_hyper_long", "hyper_long", False, out)
    case(golden, "xt_cls_xl_incontext", "window", False, out)
    case(golden, "xt_cls_xl_incontext", "memfix", True, out)
    write_st(path, out, {"generator": "tools/gen_ref_xt_context_grad.py", "torch": torch.__version__,
                         "smoothing": str(SMOOTH)})


if __name__ == "__main__":
    main()
