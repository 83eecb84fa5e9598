#!/usr/bin/python3
"""gen_mfile.py - reference fixtures for the core module, written without any assay code.

  core_rng.json              xoshiro256** / splitmix64 outputs from the published algorithms
                             (https://prng.di.unimi.it/xoshiro256starstar.c, splitmix64.c),
                             Lemire's bounded integers, 53-bit uniforms, FNV-1a 64 test vectors
  mfile_numpy.safetensors    a safetensors file written with struct + json + numpy, the way the
                             safetensors library lays it out (tensors deliberately NOT in name
                             order, a U8 tensor first so the F64 after it is misaligned)
  mfile_numpy.json           the values the C loader must read back exactly

Usage: gen_mfile.py            write the fixtures into tests/parity/fixtures/
       gen_mfile.py --check F  read model file F (written by assay) as safetensors and print it
"""
import json
import os
import struct
import sys

import numpy as np

M64 = (1 << 64) - 1
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro:
    def __init__(self, s):
        self.s = list(s)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def splitmix_state(seed):
    x = seed
    out = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & M64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        out.append(z ^ (z >> 31))
    return out


def lemire_below(rng, n):
    m = rng.next() * n
    lo = m & M64
    if lo < n:
        threshold = (1 << 64) % n
        while lo < threshold:
            m = rng.next() * n
            lo = m & M64
    return m >> 64


def fnv1a(data, seed=0):
    h = 0xCBF29CE484222325 ^ seed
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def rng_fixture():
    r = Xoshiro([1, 2, 3, 4])
    state1234 = [str(r.next()) for _ in range(10)]
    seeds = {}
    for seed in (0, 42, 2**64 - 1):
        st = splitmix_state(seed)
        r = Xoshiro(st)
        nxt = [r.next() for _ in range(8)]
        r = Xoshiro(st)
        uni = [(r.next() >> 11) * 2.0**-53 for _ in range(8)]
        below = {}
        for n in (1, 2, 3, 10, 1000003, 2**63 + 1, 2**64 - 1):
            r = Xoshiro(st)
            below[str(n)] = [str(lemire_below(r, n)) for _ in range(8)]
        seeds[str(seed)] = {"state": [str(v) for v in st], "next": [str(v) for v in nxt],
                            "uniform": uni, "below": below}
    fnv = {s: "%016x" % fnv1a(s.encode()) for s in ("", "a", "foobar", "assay model file")}
    fnv_seeded = "%016x" % fnv1a(b"foobar", 12345)
    # 53-bit uniforms are exact in decimal with repr(); uint64s go as strings (no JSON precision loss)
    return {"state1234_next": state1234, "seeds": seeds, "fnv1a": fnv,
            "fnv1a_foobar_seed12345": fnv_seeded}


def safetensors_bytes(tensors, metadata):
    """tensors: list of (name, array) in the byte order wanted."""
    names = {"float32": "F32", "float64": "F64", "int32": "I32", "int64": "I64", "uint8": "U8"}
    header = {"__metadata__": metadata}
    off = 0
    blobs = []
    for name, a in tensors:
        b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def mfile_fixture():
    rs = np.random.RandomState(7)
    tensors = [
        ("z.bytes", rs.randint(0, 256, size=5).astype(np.uint8)),
        ("coef", rs.randn(4).astype(np.float64)),          # misaligned: starts at byte 5
        ("a.weight", rs.randn(2, 3).astype(np.float32)),
        ("m.index", rs.randint(-2**31, 2**31 - 1, size=(2, 2, 2)).astype(np.int32)),
        ("n_iter", np.array(2**40 + 3, dtype=np.int64)),  # 0-d
        ("empty", np.zeros((0, 3), dtype=np.float32)),
        ("big", np.array([-(2**63), 2**63 - 1, -1], dtype=np.int64)),
    ]
    meta = {"assay.format": "1", "model.kind": "numpy-fixture", "note": "caf\u00e9 \u2713"}
    expect = {"metadata": meta, "tensors": {}}
    for name, a in tensors:
        if a.dtype.kind == "f":
            vals = [float(v) for v in a.ravel()]
        else:
            vals = [str(int(v)) for v in a.ravel()]
        expect["tensors"][name] = {"dtype": {"float32": "F32", "float64": "F64", "int32": "I32",
                                             "int64": "I64", "uint8": "U8"}[a.dtype.name],
                                   "shape": list(a.shape), "values": vals}
    return safetensors_bytes(tensors, meta), expect


def check(path):
    """An independent reader: parse an assay-written file and verify the safetensors rules."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header length not a multiple of 8"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    print("metadata:", meta)
    dt = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}
    spans = []
    for name in sorted(header):
        e = header[name]
        b, en = e["data_offsets"]
        a = np.frombuffer(buf[b:en], dtype=dt[e["dtype"]]).reshape(e["shape"])
        spans.append((b, en))
        print(name, e["dtype"], e["shape"], a.ravel()[:6].tolist())
    cur = 0
    for b, en in spans:  # in name order and contiguous
        assert b == cur, "not contiguous in name order"
        cur = en
    assert cur == len(buf), "buffer not covered exactly"
    print("OK: valid safetensors layout, %d tensors" % len(spans))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "core_rng.json"), "w") as f:
        json.dump(rng_fixture(), f, indent=1)
    blob, expect = mfile_fixture()
    with open(os.path.join(OUT, "mfile_numpy.safetensors"), "wb") as f:
        f.write(blob)
    with open(os.path.join(OUT, "mfile_numpy.json"), "w") as f:
        json.dump(expect, f, indent=1)


if __name__ == "__main__":
    main()
