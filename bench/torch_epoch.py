#!/usr/bin/python3
"""torch_epoch.py ARCH [--epochs 1] [--batch 64] [--threads 2] [--data DIR] [--loader KIND]

The PyTorch peer of bench_nn.sh: trains the same network as `assay fit ... --model mlp|cnn`
on Fashion-MNIST (the IDX files in DIR, default /usr/share/datasets/fashion-mnist) with Adam
(lr 1e-3) and cosine decay, the same batch size and thread count, and times each epoch.

ARCH: "mlp" = 784-256-128-10 (ReLU), "cnn" = conv32-pool-conv64-pool-fc128 (3x3 "same"
convolutions, ReLU, 2x2 max pooling, as assay's --arch conv32-pool-conv64-pool-fc128).

Inputs are normalized as assay does ((x / 255 - mean) / std over the training pixels).
--loader dataloader: the idiomatic torch.utils.data.DataLoader over a TensorDataset (shuffled);
--loader slice: the tightest loop (a shuffled index, tensor slicing, no DataLoader).
Prints per epoch "epoch E seconds S examples_per_second X", then the test accuracy, and the
last line `result epoch_seconds=<median> test_accuracy=<x>`.
"""
import argparse
import gzip
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic = int.from_bytes(raw[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build(arch):
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                             nn.ReLU(), nn.Linear(128, 10))
    if arch == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    sys.exit(f"unknown arch {arch}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--loader", choices=["dataloader", "slice"], default="dataloader")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    d = a.data
    xtr = read_idx(f"{d}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    ytr = read_idx(f"{d}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = read_idx(f"{d}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    yte = read_idx(f"{d}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean, std = xtr.mean(), xtr.std()
    xtr = torch.from_numpy((xtr - mean) / std).unsqueeze(1)
    xte = torch.from_numpy((xte - mean) / std).unsqueeze(1)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    model = build(a.arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = (len(ytr) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * a.epochs)
    loss_fn = nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr),
                                         batch_size=a.batch, shuffle=True)
    times = []
    for e in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        if a.loader == "dataloader":
            batches = loader
        else:
            perm = torch.randperm(len(ytr))
            batches = ((xtr[perm[i:i + a.batch]], ytr[perm[i:i + a.batch]])
                       for i in range(0, len(ytr), a.batch))
        for xb, yb in batches:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
        dt = time.perf_counter() - t0
        times.append(dt)
        print(f"epoch {e + 1} seconds {dt:.3f} examples_per_second {len(ytr) / dt:.0f}", flush=True)
    model.eval()
    with torch.no_grad():
        acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                  for i in range(0, len(yte), 1000)) / len(yte)
    print(f"test accuracy {acc:.4f}")
    print(f"result epoch_seconds={statistics.median(times):.4f} test_accuracy={acc:.4f}")


if __name__ == "__main__":
    main()
