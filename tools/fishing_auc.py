#!/usr/bin/env python3
"""fishing_auc.py PRED.csv LABELS.csv [--px 20]

How well an xt detect CSV's per-detection mean fishing score (column mean_fishing, 0-255)
separates fishing vessels from other vessels: each labelled vessel whose is_fishing is known is
matched to the nearest detection of its scene within --px pixels (20 px = the scorer's 200 m at
10 m pixels); prints the ROC AUC over the matched vessels (Mann-Whitney, ties count 1/2), the
counts, and the mean score of each class. Plain Python, no numpy.
"""
import csv, math, sys


def main(argv):
    px = 20.0
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--px":
            px = float(argv[i + 1]); i += 2
        else:
            args.append(argv[i]); i += 1
    if len(args) != 2:
        sys.exit(__doc__)
    dets = {}
    for r in csv.DictReader(open(args[0])):
        dets.setdefault(r["scene_id"], []).append(
            (float(r["detect_scene_row"]), float(r["detect_scene_column"]), float(r["mean_fishing"])))
    pos, neg, missed = [], [], 0
    for r in csv.DictReader(open(args[1])):
        if r["is_vessel"] != "True" or r["is_fishing"] not in ("True", "False"):
            continue
        y, x = float(r["detect_scene_row"]), float(r["detect_scene_column"])
        best = None
        for (dy, dx, s) in dets.get(r["scene_id"], []):
            d = math.hypot(dy - y, dx - x)
            if d <= px and (best is None or d < best[0]):
                best = (d, s)
        if best is None:
            missed += 1
            continue
        (pos if r["is_fishing"] == "True" else neg).append(best[1])
    if not pos or not neg:
        print("auc nan  matched fishing %d other %d missed %d" % (len(pos), len(neg), missed))
        return
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    auc = wins / (len(pos) * len(neg))
    print("auc %.3f  matched fishing %d other %d missed %d  mean score fishing %.1f other %.1f"
          % (auc, len(pos), len(neg), missed, sum(pos) / len(pos), sum(neg) / len(neg)))


if __name__ == "__main__":
    main(sys.argv[1:])
