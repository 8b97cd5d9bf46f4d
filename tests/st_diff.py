# st_diff.py A B [PREFIX]: which tensors of two safetensors files hold the same bytes. One line per
# tensor whose name starts with PREFIX (all when absent; never __metadata__ or the optimizer's
# optim.* state): "same NAME", "diff NAME", "onlyA NAME" or "onlyB NAME". The test asserts on the
# counts (grep -c). Standard library only: the suite does not need numpy or torch.
import json, struct, sys


def tensors(path, prefix):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()
            if k != "__metadata__" and not k.startswith("optim") and k.startswith(prefix)}


prefix = sys.argv[3] if len(sys.argv) > 3 else ""
a, b = tensors(sys.argv[1], prefix), tensors(sys.argv[2], prefix)
for k in sorted(a):
    print("%s %s" % ("onlyA" if k not in b else "same" if a[k] == b[k] else "diff", k))
for k in sorted(set(b) - set(a)):
    print("onlyB", k)
