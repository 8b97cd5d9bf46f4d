#!/usr/bin/python3
"""Small PyTorch checkpoints for tests/test_ckpt.c and tests/cli_convert.sh: good ones that
exercise every view/dtype/format path, and hostile ones that must each fail with a clear error.

Run: /usr/bin/python3 tools/gen_bad_ckpt.py   (writes tests/ref/ckpt_*; needs torch, numpy)

Good files (tests compare with ckpt_views_expected.safetensors, made here by torch itself):
  ckpt_views.ckpt          zip (torch.save), trainer payload, "module." keys, strided views,
                           shared storages, F16/BF16/F64/int/bool, Parameter, 0-d, _metadata
  ckpt_views_legacy.ckpt   the same state_dict, legacy format (_use_new_zipfile_serialization=False)
  ckpt_views_deflate.ckpt  the zip re-packed with deflate entries and folder "archive/"
  ckpt_views_zip64.ckpt    the zip re-packed with zip64 extra fields and zip64 end records
Hostile files: see HOSTILE below (name -> what is wrong).
"""
import io
import os
import struct
import sys
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref")


def state_dict():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, generator=g)
    conv = torch.randn(4, 3, 2, 2, generator=g).contiguous(memory_format=torch.channels_last)
    big = torch.randn(5, 6, generator=g)
    sd = OrderedDict()
    sd["module.a"] = a
    sd["module.a_t"] = a.t()  # shares a's storage, strides (1, 3)
    sd["module.half"] = torch.randn(3, 4, generator=g).half()
    sd["module.bf16"] = torch.randn(7, generator=g).bfloat16()
    sd["module.f64"] = torch.randn(2, 2, generator=g).double()
    sd["module.int_small"] = torch.tensor([[1, -2, 3], [16777216, 0, -16777216]], dtype=torch.int64)
    sd["module.int_big"] = torch.tensor([1, 1 << 40], dtype=torch.int64)  # not exact in F32: skipped
    sd["module.int32"] = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    sd["module.mask"] = torch.tensor([True, False, True])
    sd["module.conv_cl"] = conv  # channels_last strides
    sd["module.slice"] = big[1:, 2:5]  # storage offset 8, strides (6, 1)
    sd["module.param"] = torch.nn.Parameter(torch.randn(3, generator=g))
    sd["module.scalar"] = torch.tensor(2.5)
    sd["module.empty"] = torch.zeros(0, 3)
    sd["module.expanded"] = torch.randn(1, 3, generator=g).expand(4, 3)  # stride 0
    sd._metadata = OrderedDict([("", {"version": 1})])  # BUILD opcode, as Module.state_dict() has
    return sd


def expected(sd):
    out = OrderedDict()
    for k, v in sd.items():
        if k == "module.int_big":
            continue
        out[k[len("module."):]] = v.detach().to(torch.float32).contiguous().numpy()
    return out


def write_safetensors(path, tensors):
    import json
    header, off, blobs = {}, 0, []
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def zip_entries(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(entries, deflate=False, zip64=False, bad_crc=None, fake_usize=None):
    """A plain zip writer so every field can be controlled (zip64 forced, CRC corrupted)."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        if bad_crc == name:
            crc ^= 0x1
        if deflate:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()
            method = 8
        else:
            comp, method = data, 0
        usize = fake_usize[1] if fake_usize and fake_usize[0] == name else len(data)
        off = len(out)
        if zip64:
            lextra = struct.pack("<HHQQ", 1, 16, len(data), len(comp))
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(lextra))
            out += nb + lextra + comp
            cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(comp), off)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF)
            central += nb + cextra
        else:
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(comp), len(data), len(nb), 0)
            out += nb + comp
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(comp), usize,
                                   len(nb), 0, 0, 0, 0, 0, off)
            central += nb
    cd_off = len(out)
    out += central
    n = len(entries)
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_off)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_off, 0)
    return bytes(out)


def pickle_ckpt(pkl, storages=(), folder="evil", deflate=False):
    """A zip checkpoint around a hand-written data.pkl."""
    entries = [(f"{folder}/data.pkl", pkl)] + [(f"{folder}/data/{k}", v) for k, v in storages]
    entries.append((f"{folder}/version", b"3\n"))
    return write_zip(entries, deflate=deflate)


def tensor_pickle(offset=0, numel=4, shape=(2, 2), stride=(2, 1), key="0", unicode_len=None):
    """{'w': _rebuild_tensor_v2(storage(key, numel), offset, shape, stride, False, OrderedDict())} by hand."""
    def uni(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b) if unicode_len is None or s != "w" else unicode_len) + b

    def tup(xs):
        return b"(" + b"".join(b"J" + struct.pack("<i", x) if x < 2**31 else b"\x8a\x08" + struct.pack("<q", x) for x in xs) + b"t"

    def num(x):
        return b"J" + struct.pack("<i", x) if x < 2**31 else b"\x8a\x08" + struct.pack("<q", x)

    p = b"\x80\x02}("
    p += uni("w")
    p += b"ctorch._utils\n_rebuild_tensor_v2\n("
    p += b"(" + uni("storage") + b"ctorch\nFloatStorage\n" + uni(key) + uni("cpu") + num(numel) + b"tQ"
    p += num(offset) + tup(shape) + tup(stride) + b"\x89" + b"ccollections\nOrderedDict\n)R" + b"tR"
    p += b"u."
    return p


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    payload = {"epoch": 3, "state_dict": sd, "optimizer_state_dict": {"state": {}, "param_groups": []}, "metrics": {"acc": 0.5}}
    buf = io.BytesIO()
    torch.save(payload, buf)
    good = buf.getvalue()
    open(os.path.join(OUT, "ckpt_views.ckpt"), "wb").write(good)
    buf = io.BytesIO()
    torch.save(sd, buf, _use_new_zipfile_serialization=False)
    legacy = buf.getvalue()
    open(os.path.join(OUT, "ckpt_views_legacy.ckpt"), "wb").write(legacy)
    entries = zip_entries(good)
    renamed = [("archive/" + n.split("/", 1)[1], d) for n, d in entries]
    open(os.path.join(OUT, "ckpt_views_deflate.ckpt"), "wb").write(write_zip(renamed, deflate=True))
    open(os.path.join(OUT, "ckpt_views_zip64.ckpt"), "wb").write(write_zip(entries, zip64=True))
    write_safetensors(os.path.join(OUT, "ckpt_views_expected.safetensors"), expected(sd))
    # torch itself must read the re-packed files
    for f in ["ckpt_views_deflate.ckpt", "ckpt_views_zip64.ckpt", "ckpt_views_legacy.ckpt"]:
        torch.load(os.path.join(OUT, f))

    storage4 = [("0", np.arange(4, dtype="<f4").tobytes())]
    data_entry = [n for n, _ in entries if "/data/" in n][0]
    HOSTILE = {
        # name: bytes                                                   # what the loader must say
        "truncated": good[: len(good) // 2],                            # no end of central directory
        "truncated_legacy": legacy[: len(legacy) - 100],                # storage runs past the end
        "bad_crc": write_zip(entries, bad_crc=data_entry),              # CRC-32 mismatch
        "os_system": pickle_ckpt(b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R."),
        "posix_system": pickle_ckpt(b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R."),
        "builtins_eval": pickle_ckpt(b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x8c\x04eval\x93X\x01\x00\x00\x001\x85R."),
        "huge_numel": pickle_ckpt(tensor_pickle(numel=1 << 60), storage4),   # storage declares 2^60 elements
        "huge_shape": pickle_ckpt(tensor_pickle(shape=(1 << 40, 1 << 40), stride=(1, 1)), storage4),
        "huge_string": pickle_ckpt(tensor_pickle(unicode_len=0x7FFFFFF0), storage4),  # BINUNICODE length past the end
        "offset_past_end": pickle_ckpt(tensor_pickle(offset=3), storage4),   # 2x2 view at offset 3 of 4 elements
        "stride_past_end": pickle_ckpt(tensor_pickle(stride=(4, 1)), storage4),
        "short_storage": pickle_ckpt(tensor_pickle(numel=8), storage4),      # entry holds 16 bytes, 32 declared
        "missing_storage": pickle_ckpt(tensor_pickle(key="7"), storage4),
        "no_data_pkl": write_zip([(n, d) for n, d in entries if not n.endswith("data.pkl")]),
        "unbalanced": pickle_ckpt(b"\x80\x02}(X\x01\x00\x00\x00aK\x01."),          # open MARK at STOP
        "stack_underflow": pickle_ckpt(b"\x80\x02K\x01u."),                        # SETITEMS without MARK
        "memo_undefined": pickle_ckpt(b"\x80\x02}q\x00h\x05."),                    # BINGET 5, never PUT
        "memo_huge": pickle_ckpt(b"\x80\x02}r\xff\xff\xff\x7f."),                  # LONG_BINPUT 2^31-1
        "deep_marks": pickle_ckpt(b"\x80\x02" + b"(" * 200000 + b".", deflate=True),  # more marks than allowed
        "deep_stack": pickle_ckpt(b"\x80\x02" + b"N" * 1100000 + b".", deflate=True),  # stack deeper than allowed
        "self_list": pickle_ckpt(b"\x80\x02]q\x00h\x00a."),                        # list containing itself: no tensors
        "not_ckpt": b"hello, this is not a checkpoint at all\n",
        "big_endian": write_zip(entries + [(entries[0][0].split("/")[0] + "/byteorder", b"big")]),
        "deflate_bomb": write_zip(entries, deflate=True, fake_usize=(data_entry, 0xFFFFFFF0)),  # declares 4 GB
        "deflate_size": write_zip(entries, deflate=True, fake_usize=(data_entry, 4)),  # declares less than it holds
    }
    for k, v in HOSTILE.items():
        open(os.path.join(OUT, f"ckpt_bad_{k}.ckpt"), "wb").write(v)
    # fuzz seeds
    seeds = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")
    os.makedirs(seeds, exist_ok=True)
    for name in ["ckpt_views.ckpt", "ckpt_views_legacy.ckpt", "ckpt_views_deflate.ckpt", "ckpt_views_zip64.ckpt"]:
        open(os.path.join(seeds, name), "wb").write(open(os.path.join(OUT, name), "rb").read())
    for k in ["os_system", "huge_numel", "offset_past_end", "unbalanced", "memo_undefined"]:
        open(os.path.join(seeds, f"bad_{k}.ckpt"), "wb").write(HOSTILE[k])
    print("wrote", len(HOSTILE) + 5, "files to", os.path.normpath(OUT))


if __name__ == "__main__":
    sys.exit(main())
