#!/usr/bin/env python3
"""context_ceiling.py TRAIN_LABELS.csv TEST_LABELS.csv [--crop 256] [--tile 256] [--overlap 128]

What a perfect context model could gain in fishing F1 on a synthetic world (docs/detection.md),
when the only cue it can use is "another vessel in view", under xt detect's post-processing.

1. Training crops of side --crop around each labelled vessel (the trainer's positive rule: the
   vessel >= 32 px inside the crop; 200 random placements each) give the fishing rate among
   crops that hold no other vessel (p_single) and among those that do (p_multi). A calibrated
   model outputs these rates as its fishing probability; xt detect calls a vessel fishing when
   its map is above the vote threshold (u8 > 100, p > 100/255).
2. Each test vessel is seen through the detect tile whose central part holds it (tiles of
   --tile, --overlap; the official stitching) and is called fishing by the rate of its case.

Prints both rates, the ideal fishing F1, the F1 of calling every vessel fishing, and the
aggregate margin the difference is worth (aggregate = loc F1 x the mean of five terms, loc F1 1).
Plain Python, no numpy; deterministic (seed 1).
"""
import csv
import random
import sys

VOTE = 100 / 255  # fishing_u8 > 100 is a vote (src/run/xview.h, XT_XVIEW_VOTE_THR)


def vessels(path):
    sc = {}
    for r in csv.DictReader(open(path)):
        if r["is_vessel"] == "True" and r["is_fishing"] in ("True", "False"):
            sc.setdefault(r["scene_id"], []).append(
                (int(r["detect_scene_row"]), int(r["detect_scene_column"]), r["is_fishing"] == "True"))
    return sc


def others_in(pts, y, x, y0, x0, side):
    return sum(1 for (yy, xx, _) in pts if (yy, xx) != (y, x) and y0 <= yy < y0 + side and x0 <= xx < x0 + side)


def main(argv):
    opt = {"--crop": 256, "--tile": 256, "--overlap": 128}
    args = []
    i = 0
    while i < len(argv):
        if argv[i] in opt and i + 1 < len(argv):
            opt[argv[i]] = int(argv[i + 1]); i += 2
        else:
            args.append(argv[i]); i += 1
    if len(args) != 2 or opt["--crop"] <= 64 or not 0 <= opt["--overlap"] < opt["--tile"]:
        sys.exit(__doc__)
    D, T, O = opt["--crop"], opt["--tile"], opt["--overlap"]
    rnd = random.Random(1)
    n = {False: [0, 0], True: [0, 0]}  # crops with another vessel in view?: [fishing, all]
    for pts in vessels(args[0]).values():
        for (y, x, f) in pts:
            for _ in range(200):
                y0, x0 = rnd.randint(y - D + 32, y - 32), rnd.randint(x - D + 32, x - 32)
                multi = others_in(pts, y, x, y0, x0, D) > 0
                n[multi][0] += f
                n[multi][1] += 1
    rate = {k: (v[0] / v[1] if v[1] else float("nan")) for k, v in n.items()}
    S, h = T - O, O // 2
    tp = fp = fn = nf = no = 0
    for pts in vessels(args[1]).values():
        for (y, x, f) in pts:
            r, c = max(0, (y - h) // S), max(0, (x - h) // S)  # the tile whose central part holds it
            multi = others_in(pts, y, x, r * S, c * S, T) > 0
            call = rate[multi] > VOTE
            tp += call and f
            fp += call and not f
            fn += (not call) and f
            nf += f
            no += not f
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    allf = 2 * nf / (2 * nf + no) if nf else 0.0
    print("training crops of %d: fishing rate %.3f with no other vessel in view (%d crops), %.3f with one (%d)"
          % (D, rate[False], n[False][1], rate[True], n[True][1]))
    print("test (%d fishing, %d other; tiles %d, overlap %d): ideal fishing F1 %.3f, all fishing %.3f, "
          "aggregate margin %+.3f" % (nf, no, T, O, f1, allf, (f1 - allf) / 5))


if __name__ == "__main__":
    main(sys.argv[1:])
