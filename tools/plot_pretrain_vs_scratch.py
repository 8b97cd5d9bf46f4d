#!/usr/bin/python3
"""Table and plot of bench/pretrain_vs_scratch.sh: held-out top-1 along the training curves.

    python3 tools/plot_pretrain_vs_scratch.py WORK [--task T] [--seeds "0 1 2"] [-o PNG]

Reads WORK/T_{scratch,pretrained}SEED.metrics.jsonl (xt train's metrics log) and prints, per
variant, top-1 at a few validation steps for each seed and mean ± sd (sample sd, n - 1), then
draws the per-seed curves (thin) and their mean (thick) into PNG with PIL and a DejaVu font.
"""
import argparse
import json
import os
import statistics

from PIL import Image, ImageDraw, ImageFont

VARIANTS = [("scratch", (200, 60, 40)), ("pretrained", (30, 90, 200))]


def curve(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if "val" in r:
            out[r["step"]] = 100.0 * r["val"]["top1"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--task", default="left")
    ap.add_argument("--seeds", default="0 1 2")
    ap.add_argument("-o", default=None)
    a = ap.parse_args()
    seeds = a.seeds.split()
    curves = {v: [curve(os.path.join(a.work, "%s_%s%s.metrics.jsonl" % (a.task, v, s))) for s in seeds] for v, _ in VARIANTS}
    steps = sorted(set.intersection(*[set(c) for v in curves for c in curves[v]]))
    last = steps[-1]
    show = sorted(set(x for x in (steps[0], last // 6, last // 3, last // 2, last) if x in steps))
    print("%s: held-out top-1 (%%) at step %s; seeds %s" % (a.task, ", ".join(map(str, show)), " ".join(seeds)))
    print("| variant | " + " | ".join("step %d" % x for x in show) + " | final, per seed |")
    print("|---|" + "---|" * len(show) + "---|")
    for v, _ in VARIANTS:
        cells = []
        for x in show:
            ys = [c[x] for c in curves[v]]
            cells.append("%.1f ± %.1f" % (statistics.mean(ys), statistics.stdev(ys) if len(ys) > 1 else 0.0))
        print("| %s | %s | %s |" % (v, " | ".join(cells), " / ".join("%.1f" % c[last] for c in curves[v])))
    if not a.o:
        return
    W, H, L, B, T, Rm = 590, 340, 50, 40, 16, 130
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 11)
    px = lambda x: L + (W - L - Rm) * x / last
    lo = 0 if min(min(c.values()) for v in curves for c in curves[v]) < 40 else 40
    py = lambda y: T + (H - T - B) * (100 - y) / (100.0 - lo)
    for y in range(lo, 101, 10):
        d.line([(L, py(y)), (W - Rm, py(y))], fill=(225, 225, 225))
        d.text((L - 6, py(y)), "%d %%" % y, fill="black", font=font, anchor="rm")
    for x in range(0, last + 1, 50):
        d.text((px(x), H - B + 6), str(x), fill="black", font=font, anchor="mt")
    d.text(((L + W - Rm) / 2, H - 14), "step (batch 16)", fill="black", font=font, anchor="mm")
    d.rectangle([L, T, W - Rm, H - B], outline="black")
    for i, (v, col) in enumerate(VARIANTS):
        light = tuple(c + (255 - c) * 3 // 5 for c in col)
        for c in curves[v]:
            d.line([(px(x), py(c[x])) for x in steps], fill=light, width=1)
        d.line([(px(x), py(statistics.mean(c[x] for c in curves[v]))) for x in steps], fill=col, width=3)
        d.line([(W - Rm + 10, T + 14 + 18 * i), (W - Rm + 30, T + 14 + 18 * i)], fill=col, width=3)
        d.text((W - Rm + 34, T + 14 + 18 * i), v, fill="black", font=font, anchor="lm")
    d.text((W - Rm + 10, T + 60), "task %s\nheld-out top-1,\n%d seeds (thin)\nand mean (thick)" % (a.task, len(seeds)), fill="black", font=font)
    img.save(a.o, optimize=True)
    print("wrote %s" % a.o)


if __name__ == "__main__":
    main()
