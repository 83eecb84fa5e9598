#!/usr/bin/python3
"""gen_nn_net.py - PyTorch's values for whole sequential networks (src/nn/net.c, train.c), for
tests/unit/test_nn_net.c.

Writes tests/parity/fixtures/nn_net.json with three networks, each equal to an assay
architecture string (net.c's add_token: convN = KxK conv, "same" padding, then the activation;
fcN[bn] = dense, batch norm, activation; the output dense layer appended; ReLU throughout):
  mlp  "fc32-fc16" on 1x1x20, 5 outputs:
       Linear(20,32)-ReLU-Linear(32,16)-ReLU-Linear(16,5)
  cnn  "conv4-pool-conv8-pool-fc16" on 2x12x12, 3 outputs:
       Conv2d(2,4,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(4,8,3,p=1)-ReLU-MaxPool2d(2)-Flatten-
       Linear(72,16)-ReLU-Linear(16,3)
  bn   "fc16bn" on 1x1x10, 4 outputs: Linear(10,16)-BatchNorm1d(16)-ReLU-Linear(16,4), training
       mode (batch statistics; running statistics updated with momentum 0.1)
For each: a batch of 8 inputs with labels; the parameters in assay's flat layout (per layer in
order: weight then bias, PyTorch's layouts linear (OC,C) and conv (OC,C,KH,KW); batch norm
gamma then beta) and the running statistics buffer (per batch-norm layer: mean then variance);
the logits, the mean cross-entropy and the gradient of every parameter (flat, same layout) of
the first forward; then ten AdamW steps on that same batch (lr 1e-2, betas 0.9/0.999, eps 1e-8,
weight_decay 0.01 on conv/linear weights; biases and batch-norm parameters in a second group
with weight_decay 0, as train.c's optim_step; the gradient of a bias feeding batch norm, zero
analytically, is zeroed before each step, see pre_bn_biases) with the loss of each step
(computed before the step), the final parameters and the final running statistics. It also
prints how far PyTorch's own float32 run of the same steps lands from the float64 reference,
which sizes the C test's tolerances.

Inputs and starting parameters are rounded to 4 decimals and then to float32 (short JSON that
the C test reads back exactly); everything after is computed in float64 from those values, so
the reference carries no float32 rounding of its own, and written with 8 significant digits.
Run with Debian's python3-torch: /usr/bin/python3 tests/parity/gen/gen_nn_net.py
"""
import copy
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "nn_net.json")
torch.manual_seed(20250301)
B = 8
STEPS = 10
LR, BETAS, EPS, WD = 1e-2, (0.9, 0.999), 1e-8, 0.01


def q4(t):
    """Round to 4 decimals, then to float32; returned as float64 holding exactly that value."""
    return torch.from_numpy(np.round(t.detach().double().numpy(), 4).astype(np.float32)).double()


def flat(t, exact=False):
    """exact: values from q4, written with their 4 decimals (the C side's (float) of that
    decimal is the same float32); others: 8 significant digits."""
    vals = t.detach().reshape(-1).tolist()
    return [float("%.4f" % v) if exact else float("%.8g" % v) for v in vals]


def param_list(model):
    """(tensor, is_decayed) in assay's order: per module weight then bias."""
    out = []
    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            out += [(mod.weight, True), (mod.bias, False)]
        elif isinstance(mod, nn.BatchNorm1d):
            out += [(mod.weight, False), (mod.bias, False)]
    return out


def buffers(model):
    bufs = []
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm1d):
            bufs += [mod.running_mean, mod.running_var]
    return torch.cat([b.reshape(-1) for b in bufs]) if bufs else torch.zeros(0).double()


def pre_bn_biases(model):
    """Biases of layers followed by batch norm: their gradient is analytically zero (the norm
    subtracts the batch mean), and float32 noise there (~1e-9) would become Adam steps of ~lr
    in a random direction. Both sides zero these gradients before each optimizer step."""
    mods = list(model.modules())
    return [m.bias for m, nxt in zip(mods, mods[1:])
            if isinstance(m, (nn.Linear, nn.Conv2d)) and isinstance(nxt, nn.BatchNorm1d)]


def make_opt(params):
    decay = [p for p, d in params if d]
    nodecay = [p for p, d in params if not d]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                              {"params": nodecay, "weight_decay": 0.0}],
                             lr=LR, betas=BETAS, eps=EPS)


def float32_run(model, x_in, y):
    model = model.float()
    params = param_list(model)
    opt = make_opt(params)
    model.train()
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x_in.float()), y)
        loss.backward()
        losses.append(float(loss))
        for b in pre_bn_biases(model):
            b.grad.zero_()
        opt.step()
    return losses, torch.cat([p.detach().double().reshape(-1) for p, _ in params])


def case(name, arch, shape, nout, model):
    c, h, w = shape
    model = model.double()
    with torch.no_grad():
        for p, _ in param_list(model):
            p.copy_(q4(p))
        for mod in model.modules():  # non-trivial batch-norm affine parameters
            if isinstance(mod, nn.BatchNorm1d):
                mod.weight.copy_(q4(1.0 + 0.3 * torch.randn(mod.weight.shape)))
                mod.bias.copy_(q4(0.2 * torch.randn(mod.bias.shape)))
    x = q4(torch.randn(B, c, h, w) * 1.5)
    if c == 1 and h == 1:
        x_in = x.reshape(B, w)
    else:
        x_in = x
    y = torch.randint(0, nout, (B,))
    ref32 = float32_run(copy.deepcopy(model), x_in, y)
    params = param_list(model)
    p0 = torch.cat([p.detach().reshape(-1) for p, _ in params])
    buf0 = buffers(model).clone()
    opt = make_opt(params)
    model.train()
    losses = []
    first = None
    for step in range(STEPS):
        opt.zero_grad()
        logits = model(x_in)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            first = {
                "logits": flat(logits), "loss": float(loss),
                "grads": flat(torch.cat([p.grad.reshape(-1) for p, _ in params])),
                "buf1": flat(buffers(model)),
            }
        losses.append(float(loss))
        for b in pre_bn_biases(model):
            b.grad.zero_()
        opt.step()
    pf = torch.cat([p.detach().reshape(-1) for p, _ in params])
    # float32 rounding noise of the same run, to size the C test's tolerances (not stored)
    d = (ref32[1] - pf).abs()
    print("     float32 run: step-loss max rel diff %.2g, final params max abs diff %.2g at %d"
          % (max(abs(a - b) / abs(b) for a, b in zip(ref32[0], losses)), float(d.max()),
             int(d.argmax())))
    print("%-4s %-28s params %5d  loss %.5f -> %.5f" % (name, arch, p0.numel(), losses[0],
                                                         losses[-1]))
    doc = {
        "name": name, "arch": arch, "c": c, "h": h, "w": w, "nout": nout, "B": B,
        "x": flat(x, exact=True), "labels": y.tolist(),
        "params": flat(p0, exact=True), "buf0": flat(buf0, exact=True),
    }
    doc.update(first)
    doc.update({"losses": losses, "params_final": flat(pf), "buf_final": flat(buffers(model))})
    return doc


mlp = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 5))
cnn = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(8 * 3 * 3, 16), nn.ReLU(), nn.Linear(16, 3))
bnn = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))

doc = {
    "torch": torch.__version__,
    "optim": {"lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weight_decay": WD,
              "steps": STEPS},
    "nets": [
        case("mlp", "fc32-fc16", (1, 1, 20), 5, mlp),
        case("cnn", "conv4-pool-conv8-pool-fc16", (2, 12, 12), 3, cnn),
        case("bn", "fc16bn", (1, 1, 10), 4, bnn),
    ],
}

with open(OUT, "w") as f:
    json.dump(doc, f, allow_nan=False, separators=(",", ":"))
    f.write("\n")
print(OUT, os.path.getsize(OUT), "bytes")
