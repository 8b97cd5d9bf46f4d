#!/usr/bin/python3
"""xview_probe.py MODEL TRAIN_WORLD TEST_WORLD [--bin build/bench/xview_probe] [--work DIR] [--crops K]

docs/detection.md, "The deepest tokens do carry the ships": linear probes on the 32 x 32 px
cells of an xView3 context model's deepest level. For every labelled vessel of a world (folder
made by `xt make-scene`: <scene>/VV_dB.tif, VH_dB.tif, labels.csv) one 256 x 256 crop holds it at a
random offset (32..224 px from the crop's corner, seeded); build/bench/xview_probe dumps the taps
context_model.in (level 4) and context_model.out per crop; each cell is labelled empty, lone
vessel, fleet (fishing) vessel or structure from the labels. A logistic regression (torch, L2
1e-3, class-balanced) is fitted on TRAIN_WORLD's cells and its ROC AUC printed on both worlds for
(a) vessel cell vs empty cell and (b) fishing vs other vessel cell (fleet vs lone on the fleet
rule, lone vs lane on the lanes rule). (c) is (b) with the crop's mean token appended to each
cell's: what a context with uniform attention could read ("how many ships are in view"); (d) a
one-layer attention probe (torch, trained on the frozen tokens of the crop; 2 heads of 32, its
own learned cell positions) for (b). The AUC of a perfect "another vessel in view" reader on
the same crops is printed first: the ceiling of (b)-(d) on these rules. --crops K takes K crops per vessel (seeded offsets).
Before the probes, the spread of each tap on the test crops: the rms of its tokens about their
mean token (over all cells of all crops, and about each crop's own mean token), relative to the
rms of the tokens. A context model whose input is one constant vector plus a spread of 0.1 %
gets almost nothing to relate (docs/detection.md, eleventh attempt); --spread stops there
(a minute, no training crops). Needs numpy and torch (Debian: python3-numpy, python3-torch).
"""
import argparse, csv, os, random, subprocess
import numpy as np, torch

S, CELL = 256, 32
G = S // CELL


def crops(world, seed, k=1):
    rows = list(csv.DictReader(open(os.path.join(world, "labels.csv"))))
    by_scene = {}
    for r in rows:
        by_scene.setdefault(r["scene_id"], []).append(r)
    rnd, out = random.Random(seed), []
    for r in [r for r in rows for _ in range(k)]:
        if r["is_vessel"] != "True":
            continue
        sc = r["scene_id"]
        y, x = int(r["detect_scene_row"]), int(r["detect_scene_column"])
        y0, x0 = y - rnd.randint(32, S - 32), x - rnd.randint(32, S - 32)
        lab = np.zeros((G, G), int)
        out.append([os.path.join(world, sc, "VV_dB.tif"), os.path.join(world, sc, "VH_dB.tif"), y0, x0, lab, by_scene[sc]])
    return out


def clamp_and_label(L, size):
    for c in L:
        H, W = size[c[0]]
        c[2], c[3] = min(max(c[2], 0), H - S), min(max(c[3], 0), W - S)
        for o in c[5]:
            oy, ox = int(o["detect_scene_row"]) - c[2], int(o["detect_scene_column"]) - c[3]
            if 0 <= oy < S and 0 <= ox < S:
                c[4][oy // CELL, ox // CELL] = 3 if o["is_vessel"] != "True" else 2 if o["is_fishing"] == "True" else 1


def raster_size(path):
    from osgeo import gdal  # python3-gdal; only for the scene sizes
    d = gdal.Open(path)
    return d.RasterYSize, d.RasterXSize


def feats(args, L, tag):
    lst, binf = os.path.join(args.work, tag + ".txt"), os.path.join(args.work, tag + ".bin")
    with open(lst, "w") as f:
        f.writelines("%s %s %d %d\n" % tuple(c[:4]) for c in L)
    subprocess.run([args.bin, args.model, lst, binf], check=True)
    a = np.fromfile(binf, np.float32).reshape(len(L), 2, -1, G, G).transpose(0, 1, 3, 4, 2)  # crop, tap, cell y, x, C
    return a, np.stack([c[4] for c in L])


def auc(p, y):
    pos, neg = p[y], p[~y]
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def ceiling(L):
    """AUC of a perfect "another vessel in view" reader for (b) on the crops L: a vessel cell
    scores 1 when no vessel outside it lies in the crop (the grounds, fleets and lanes rules
    mark one class by such neighbours)."""
    score, fish = [], []
    for c in L:
        ves = [(int(o["detect_scene_row"]) - c[2], int(o["detect_scene_column"]) - c[3]) for o in c[5] if o["is_vessel"] == "True"]
        ves = [(y // CELL, x // CELL) for y, x in ves if 0 <= y < S and 0 <= x < S]
        for gy, gx in zip(*np.nonzero((c[4] == 1) | (c[4] == 2))):
            score.append(0.0 if any(v != (gy, gx) for v in ves) else 1.0)
            fish.append(c[4][gy, gx] == 2)
    a = auc(np.array(score), np.array(fish))
    return max(a, 1 - a)  # the rule may mark either class


def probe(Xa, ya, Xb, yb):
    m, s = Xa.mean(0), Xa.std(0) + 1e-6
    A, B = torch.tensor((Xa - m) / s), torch.tensor((Xb - m) / s)
    torch.manual_seed(0)
    w, b = torch.zeros(A.shape[1], requires_grad=True), torch.zeros(1, requires_grad=True)
    t = torch.tensor(ya, dtype=torch.float32)
    pw = (1 - t.mean()) / t.mean()
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(500):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(A @ w + b, t, pos_weight=pw) + 1e-3 * (w * w).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return auc((A @ w + b).numpy(), ya), auc((B @ w + b).numpy(), yb)


def attention_probe(Fa, la, Fb, lb, steps=1500):
    """(d): per crop, tokens (G*G, C) -> linear 32 + learned position -> 2-head self-attention
    (residual) -> per-cell logit; BCE on the vessel cells (fishing = 1), class-balanced; returns
    the train and test AUC over the vessel cells."""
    m, s = Fa.reshape(-1, Fa.shape[-1]).mean(0), Fa.reshape(-1, Fa.shape[-1]).std(0) + 1e-6
    A, B = [torch.tensor(((F - m) / s).reshape(len(F), G * G, -1), dtype=torch.float32) for F in (Fa, Fb)]
    ya, yb = [torch.tensor(l.reshape(len(l), G * G)) for l in (la, lb)]
    torch.manual_seed(0)
    inp, pos = torch.nn.Linear(A.shape[-1], 32), torch.nn.Parameter(torch.zeros(G * G, 32))
    att, out = torch.nn.MultiheadAttention(32, 2, batch_first=True), torch.nn.Linear(32, 1)
    ps = list(inp.parameters()) + [pos] + list(att.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(ps, lr=3e-3, weight_decay=1e-4)

    def run(X):
        h = inp(X) + pos
        return out(h + att(h, h, h, need_weights=False)[0]).squeeze(-1)

    va = (ya == 1) | (ya == 2)
    t = (ya == 2).float()
    pw = (1 - t[va].mean()) / t[va].mean()
    for _ in range(steps):
        opt.zero_grad()
        lo = run(A)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(lo[va], t[va], pos_weight=pw)
        loss.backward()
        opt.step()
    with torch.no_grad():
        vb = (yb == 1) | (yb == 2)
        return auc(run(A)[va].numpy(), (ya == 2)[va].numpy()), auc(run(B)[vb].numpy(), (yb == 2)[vb].numpy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"), ap.add_argument("train_world"), ap.add_argument("test_world")
    ap.add_argument("--bin", default="build/bench/xview_probe")
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--crops", type=int, default=1)
    ap.add_argument("--spread", action="store_true", help="print the taps' spread on the test crops and stop")
    args = ap.parse_args()
    Ls = [crops(args.train_world, 1, args.crops), crops(args.test_world, 2, args.crops)]
    size = {}
    for L in Ls:
        for c in L:
            if c[0] not in size:
                size[c[0]] = raster_size(c[0])
        clamp_and_label(L, size)
    print("a perfect 'another vessel in view' reader, fishing vs other vessel cell: AUC %.3f (train crops %.3f)" % (ceiling(Ls[1]), ceiling(Ls[0])))
    fb, lb = feats(args, Ls[1], "probe_test")
    for k, name in ((0, "level 4 (context input)"), (1, "context output")):
        t = fb[:, k].astype(np.float64)  # crop, y, x, C
        rms = np.sqrt((t ** 2).mean())
        over_all = np.sqrt(((t - t.mean((0, 1, 2))) ** 2).mean())
        in_crop = np.sqrt(((t - t.mean((1, 2), keepdims=True)) ** 2).mean())
        print("%-24s token rms %.3f; spread about the mean token %.4f (%.2f %%), within a crop %.4f (%.2f %%)"
              % (name, rms, over_all, 100 * over_all / rms, in_crop, 100 * in_crop / rms))
    if args.spread:
        return
    fa, la = feats(args, Ls[0], "probe_train")
    for k, name in ((0, "level 4 (context input)"), (1, "context output")):
        Xa, Xb = fa[:, k].reshape(-1, fa.shape[-1]), fb[:, k].reshape(-1, fb.shape[-1])
        ya, yb = la.reshape(-1), lb.reshape(-1)
        va, vb = (ya == 1) | (ya == 2), (yb == 1) | (yb == 2)
        tr, te = probe(Xa, va, Xb, vb)
        print("%-24s vessel vs empty cell:      test AUC %.3f (train %.3f)" % (name, te, tr))
        tr, te = probe(Xa[va], ya[va] == 2, Xb[vb], yb[vb] == 2)
        print("%-24s fishing vs other vessel cell: test AUC %.3f (train %.3f; %d / %d cells)" % (name, te, tr, va.sum(), vb.sum()))
        # (c) each cell with its crop's mean token: what uniform attention could read
        Ma = np.repeat(fa[:, k].mean((1, 2)), G * G, 0)
        Mb = np.repeat(fb[:, k].mean((1, 2)), G * G, 0)
        Xa2, Xb2 = np.concatenate([Xa, Ma], 1), np.concatenate([Xb, Mb], 1)
        tr, te = probe(Xa2[va], ya[va] == 2, Xb2[vb], yb[vb] == 2)
        print("%-24s ... with the crop's mean token: test AUC %.3f (train %.3f)" % (name, te, tr))
        tr, te = attention_probe(fa[:, k], la, fb[:, k], lb)
        print("%-24s ... one-layer attention probe:  test AUC %.3f (train %.3f)" % (name, te, tr))


if __name__ == "__main__":
    main()
