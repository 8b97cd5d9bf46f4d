#!/usr/bin/env python3
"""Summarises bench/context_world.sh's WORK/results.txt: per variant (ctx, noctx) the mean and
sample sd over seeds of the xt score fields and the fishing ROC AUC, and the paired per-seed
margins ctx - noctx and ctx - ctxoff (the context runs scored with their context left out). Usage: context_world_summary.py WORK/results.txt"""
import json
import re
import statistics
import sys

FIELDS = ["aggregate", "loc_fscore", "vessel_fscore", "fishing_fscore", "length_acc", "auc"]


def parse(path):
    runs = {}
    for line in open(path):
        m = re.match(r"(\w+) seed (\d+): (\{.*?\})\s+auc ([0-9.]+|nan)", line)
        if not m:
            continue
        d = json.loads(m.group(3))
        if "error" in d:
            continue
        d["auc"] = float(m.group(4))
        runs.setdefault(m.group(1), {})[int(m.group(2))] = d
    return runs


def ms(xs):
    return "%.3f ± %.3f" % (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main():
    runs = parse(sys.argv[1])
    if not runs:
        sys.exit("no results in %s" % sys.argv[1])
    variants = sorted(runs)
    print("| | " + " | ".join("%s (n=%d)" % (v, len(runs[v])) for v in variants) + " |")
    print("|---|" + "---|" * len(variants))
    for f in FIELDS:
        print("| %s | " % f + " | ".join(ms([runs[v][s][f] for s in sorted(runs[v])]) for v in variants) + " |")
    for other in ("noctx", "ctxoff"): # ctxoff: the context runs with their context left out
        if "ctx" not in runs or other not in runs:
            continue
        seeds = sorted(set(runs["ctx"]) & set(runs[other]))
        for f in ("aggregate", "fishing_fscore", "auc"):
            d = [runs["ctx"][s][f] - runs[other][s][f] for s in seeds]
            print("margin ctx - %s, %s, per seed %s: %s" % (other, f, " ".join("%+.3f" % x for x in d), ms(d)))


if __name__ == "__main__":
    main()
