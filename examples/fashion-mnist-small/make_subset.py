#!/usr/bin/python3
"""make_subset.py - write the small Fashion-MNIST subset kept in this folder.

Takes the first 2,000 training images and labels and the first 500 test images and labels
from the full data set (Debian's dataset-fashion-mnist package installs it in
/usr/share/datasets/fashion-mnist/) and writes them as gzip-compressed IDX files with the
original names. The gzip header carries no file name and mtime 0, so the output is the same
byte for byte on every run.

    /usr/bin/python3 examples/fashion-mnist-small/make_subset.py [SOURCE_DIR]

It prints a few values (counts, first labels, some pixels, pixel sums) that
tests/unit/test_image.c checks the C reader against.
"""
import gzip
import os
import struct
import sys

import numpy as np

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
DST = os.path.dirname(os.path.abspath(__file__))
SUBSETS = [("train", 2000), ("t10k", 500)]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    assert magic >> 8 == 0x08, f"{path}: not unsigned-byte IDX"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims)), f"{path}: size does not match header"
    return arr.reshape(dims)


def write_idx_gz(path, arr):
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as raw:
        # filename="" and mtime=0: reproducible bytes
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


for prefix, n in SUBSETS:
    images = read_idx(os.path.join(SRC, f"{prefix}-images-idx3-ubyte.gz"))[:n]
    labels = read_idx(os.path.join(SRC, f"{prefix}-labels-idx1-ubyte.gz"))[:n]
    write_idx_gz(os.path.join(DST, f"{prefix}-images-idx3-ubyte.gz"), images)
    write_idx_gz(os.path.join(DST, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    print(f"{prefix}: n={images.shape[0]} rows={images.shape[1]} cols={images.shape[2]}")
    print(f"{prefix}: first labels {' '.join(str(int(v)) for v in labels[:10])}")
    counts = np.bincount(labels, minlength=10)
    print(f"{prefix}: label counts {' '.join(str(int(v)) for v in counts)}")
    for i, y, x in [(0, 0, 0), (0, 14, 14), (0, 27, 27), (1, 10, 5), (n - 1, 20, 13)]:
        print(f"{prefix}: pixel[{i}][{y}][{x}] = {int(images[i, y, x])}")
    print(f"{prefix}: pixel sum of image 0 = {int(images[0].sum(dtype=np.int64))}")
    print(f"{prefix}: pixel sum of all = {int(images.sum(dtype=np.int64))}")
    print(f"{prefix}: mean {images.mean() / 255:.9f} std {(images / 255.0).std():.9f}")
