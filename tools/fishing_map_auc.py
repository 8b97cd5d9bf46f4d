#!/usr/bin/env python3
"""fishing_map_auc.py MAPDIR LABELS.csv

When a model makes no detections: read the fishing and vessel maps that `xt detect --maps` wrote
(MAPDIR/<scene_id>.{fishing,vessel}.tif) at each labelled vessel's pixel (gdallocationinfo) and
print the ROC AUC of the fishing map, fishing vs other vessels, and the mean map values.
"""
import csv, subprocess, sys

d, lab = sys.argv[1], sys.argv[2]
rows = [r for r in csv.DictReader(open(lab)) if r["is_vessel"] == "True" and r["is_fishing"] in ("True", "False")]
pos, neg, ves = [], [], []
for sc in sorted(set(r["scene_id"] for r in rows)):
    rs = [r for r in rows if r["scene_id"] == sc]
    inp = "".join("%s %s\n" % (r["detect_scene_column"], r["detect_scene_row"]) for r in rs)
    vals = {}
    for m in ("fishing", "vessel"):
        try:
            out = subprocess.run(["gdallocationinfo", "-valonly", "%s/%s.%s.tif" % (d, sc, m)], input=inp, capture_output=True, text=True, check=True).stdout.split()
        except Exception:
            break
        vals[m] = [float(v) for v in out]
    if len(vals) < 2: continue
    for r, f, v in zip(rs, vals["fishing"], vals["vessel"]):
        (pos if r["is_fishing"] == "True" else neg).append(f); ves.append(v)
auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
print("map fishing AUC %.3f  n fishing %d other %d  mean fishing-map fishing %.1f other %.1f  mean vessel-map %.1f" % (auc, len(pos), len(neg), sum(pos)/len(pos), sum(neg)/len(neg), sum(ves)/len(ves)))
