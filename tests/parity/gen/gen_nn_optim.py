#!/usr/bin/python3
"""gen_nn_optim.py - PyTorch's optimizer steps, learning-rate schedules and gradient clipping,
for tests/unit/test_nn_optim.c.

Writes tests/parity/fixtures/nn_optim.json. A weight W (3,4) and a bias b (4) - 16 floats, laid
out flat as assay keeps them - take ten steps of each optimizer from the same start with the
same ten gradients. W is one parameter group with the case's weight decay, b a second group with
weight_decay=0 (assay's wd_scale = 0 range). The learning rate of each step comes from a
scheduler: StepLR, or LambdaLR with assay's warmup convention (step s < warmup: (s + 1) / warmup)
followed by cosine or linear decay to min_lr at step `total` (progress (s - warmup) /
(total - warmup), clamped at 1). Stored: the start, the gradients, and per step the lr used and
the 16 parameters after the step. Clipping: torch.nn.utils.clip_grad_norm_ over three gradient
tensors, once clipped and once left alone.

All tensors are float32; every stored number is a float32 value written exactly.
Run with Debian's python: /usr/bin/python3 tests/parity/gen/gen_nn_optim.py
"""
import json
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "nn_optim.json")
rng = np.random.default_rng(20250117)
STEPS = 10
NW, NB = 12, 4


def f32(a):
    """Round to 4 decimals, then to float32: short inputs the C side reads back exactly."""
    return np.round(np.asarray(a, dtype=np.float64), 4).astype(np.float32)


def flat(t):
    return [float(x) for x in t.detach().numpy().astype(np.float32).ravel()]


init = f32(rng.normal(0.0, 0.5, NW + NB))
grads = f32(rng.normal(0.0, 1.0, (STEPS, NW + NB)))
grads[:, 5] = 0.0                 # a weight that never gets a gradient: Adam's m = v = 0
grads[3] *= 1e-3                  # a step with tiny gradients
grads[7, NW:] *= 50.0             # and one with large bias gradients

SCHEDULES = {
    "warm_cos": dict(kind="cosine", warmup=3, total=10, min_frac=0.1, gamma=1.0, step_size=0),
    "step": dict(kind="step", warmup=0, total=0, min_frac=0.0, gamma=0.5, step_size=3),
    "warm_lin": dict(kind="linear", warmup=2, total=8, min_frac=0.0, gamma=1.0, step_size=0),
}


def lambda_for(s, lr):
    """assay's schedule as a LambdaLR factor (warmup, then cosine / linear decay)."""
    min_lr = s["min_frac"] * lr
    W, T = s["warmup"], s["total"]

    def f(step):
        if step < W:
            return (step + 1) / W
        p = min(1.0, (step - W) / (T - W))
        if s["kind"] == "cosine":
            return (min_lr + (lr - min_lr) * (1.0 + math.cos(math.pi * p)) / 2.0) / lr
        return (min_lr + (lr - min_lr) * (1.0 - p)) / lr
    return f


CASES = [
    # name, kind, lr, weight decay, schedule
    ("sgd", "sgd", 0.1, 0.0, "warm_cos"),
    ("sgd_wd", "sgd", 0.1, 0.05, "step"),
    ("momentum", "momentum", 0.05, 0.0, "warm_lin"),
    ("momentum_wd", "momentum", 0.05, 0.01, "step"),
    ("nesterov_wd", "nesterov", 0.05, 0.01, "warm_cos"),
    ("adam", "adam", 0.01, 0.0, "warm_cos"),
    ("adam_wd", "adam", 0.01, 0.1, "step"),
    ("adamw", "adamw", 0.01, 0.1, "warm_lin"),
]


def run_case(name, kind, lr, wd, sched_name):
    s = SCHEDULES[sched_name]
    w = torch.tensor(init[:NW].reshape(3, 4), requires_grad=True)
    b = torch.tensor(init[NW:], requires_grad=True)
    groups = [{"params": [w], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=lr)
    elif kind in ("momentum", "nesterov"):
        opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=kind == "nesterov")
    elif kind == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    if s["kind"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda_for(s, lr))
    lrs, params = [], []
    for k in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        assert opt.param_groups[1]["lr"] == lrs[-1]
        g = torch.tensor(grads[k])
        w.grad = g[:NW].reshape(3, 4).clone()
        b.grad = g[NW:].clone()
        opt.step()
        sched.step()
        params.append(flat(w) + flat(b))
    return {
        "name": name, "kind": kind, "weight_decay": wd,
        "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
        "schedule": {"kind": s["kind"], "lr": lr, "min_lr": s["min_frac"] * lr,
                     "gamma": s["gamma"], "warmup": s["warmup"], "step_size": s["step_size"],
                     "total": s["total"]},
        "lrs": lrs, "params": params,
    }


def clip_case(max_norm):
    sizes = [5, 7, 3]
    ts = [torch.tensor(f32(rng.normal(0.0, 1.0, n))) for n in sizes]
    before = [x for t in ts for x in flat(t)]
    ps = []
    for t in ts:
        p = torch.zeros_like(t, requires_grad=True)
        p.grad = t.clone()
        ps.append(p)
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return {"max_norm": max_norm, "grads": before, "norm": float(norm),
            "clipped": [x for p in ps for x in flat(p.grad)]}


doc = {
    "torch": torch.__version__, "steps": STEPS, "n_weight": NW, "n_bias": NB,
    "init": [float(x) for x in init], "grads": [[float(x) for x in g] for g in grads],
    "cases": [run_case(*c) for c in CASES],
    "clip": [clip_case(1.0), clip_case(100.0)],
}
with open(OUT, "w") as f:
    json.dump(doc, f, allow_nan=False, separators=(",", ":"))
print(OUT, os.path.getsize(OUT), "bytes")
