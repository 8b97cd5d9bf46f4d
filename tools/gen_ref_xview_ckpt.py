#!/usr/bin/python3
"""An xView3 checkpoint as the official trainer writes it, for tests/cli_verify_xview.sh:
tests/ref/xview_seg_xl.ckpt = torch.save({"epoch", "state_dict" (DDP "module." keys), "metrics"})
of the weights of tests/golden/xview_seg_xl.safetensors (bit for bit; no optimizer state, to stay
small). `xt convert` of it must reproduce the golden outputs.

Run: /usr/bin/python3 tools/gen_ref_xview_ckpt.py   (needs torch)
"""
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "tests", "golden", "xview_seg_xl.safetensors")
OUT = os.path.join(HERE, "..", "tests", "ref", "xview_seg_xl.ckpt")

raw = open(SRC, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
body = raw[8 + n:]
sd = OrderedDict()
for name, t in header.items():
    if name == "__metadata__" or name.startswith(("input.", "expected.")):
        continue
    assert t["dtype"] == "F32"
    a, b = t["data_offsets"]
    arr = np.frombuffer(body[a:b], dtype="<f4").reshape(t["shape"]).copy()
    sd["module." + name] = torch.from_numpy(arr)
torch.save({"epoch": 3, "state_dict": sd, "metrics": {"F1": 0.5}}, OUT)
print(OUT, len(sd), "tensors", os.path.getsize(OUT), "bytes")
