#!/usr/bin/python3
"""Copy the tensors of a safetensors file whose names start with PREFIX (bytes unchanged).

    python3 tools/st_keep.py IN.safetensors OUT.safetensors [PREFIX]   (default "encoder.")

E.g. the region encoder of an xT checkpoint, for `xt train --init` with another head: --init
refuses a file holding weights the configured model does not have (the old head). The metadata
is dropped, so --init matches names as they are.
"""
import json
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else "encoder."
    with open(src, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out, parts, off = {}, [], 0
    for name, t in header.items():
        if name == "__metadata__" or not name.startswith(prefix):
            continue
        b = data[t["data_offsets"][0]:t["data_offsets"][1]]
        out[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [off, off + len(b)]}
        parts.append(b)
        off += len(b)
    if not out:
        sys.exit("st_keep: %s: no tensor named %s*" % (src, prefix))
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(parts))
    print("st_keep: %d tensors %s* of %s -> %s" % (len(out), prefix, src, dst))


if __name__ == "__main__":
    main()
