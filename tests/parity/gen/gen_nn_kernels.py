#!/usr/bin/python3
"""gen_nn_kernels.py - PyTorch's values for assay's normalization, embedding and loss kernels
(src/nn/norm.c, src/nn/loss.c).

Writes tests/parity/fixtures/nn_kernels.json: small float32 inputs drawn with a fixed torch seed
and, computed by PyTorch in float64 from those exact float32 values (so the reference carries no
float32 rounding of its own), the forward outputs and every gradient of sum(out * dout):
  batchnorm  BatchNorm1d on (B,C) and (B,C,L), BatchNorm2d on (B,C,H,W): out, batch mean and
             rstd (native_batch_norm's save_mean/save_invstd), running stats after one training
             step, eval-mode output with those stats, dinp, dgamma, dbeta
  layernorm  LayerNorm: out, mean, rstd (native_layer_norm), dinp, dgamma, dbeta
  embedding  Embedding with repeated ids: out, dtable
  xent, bce, mse  CrossEntropyLoss (label_smoothing), BCEWithLogitsLoss, MSELoss, each with and
             without per-sample weights (reduction='none', then sum w_i l_i / sum w_i): loss and
             the gradient of the mean.
Run with Debian's python3-torch: /usr/bin/python3 tests/parity/gen/gen_nn_kernels.py
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "nn_kernels.json")
torch.manual_seed(20240611)


def f32(*shape, scale=1.0, shift=0.0):
    """Random float32 values, returned as float64 holding exactly those values."""
    return (torch.randn(*shape, dtype=torch.float32) * scale + shift).double()


def r32(v):
    """v rounded to float32, as the C test will read it (scalars: momentum, eps, smoothing)."""
    return float(torch.tensor(v, dtype=torch.float32))


def weights(N):
    """Positive per-sample weights, float32 values."""
    return (torch.randn(N, dtype=torch.float32).abs() + 0.1).double()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def batchnorm_case(name, shape, momentum=0.1, eps=1e-5):
    momentum, eps = r32(momentum), r32(eps)
    B, C = shape[0], shape[1]
    S = 1
    for d in shape[2:]:
        S *= d
    x = f32(*shape, scale=2.0, shift=0.5).requires_grad_()
    gamma = f32(C, scale=0.5, shift=1.0)
    beta = f32(C, scale=0.5)
    rm0 = f32(C, scale=0.3)
    rv0 = f32(C, scale=0.2, shift=1.0).abs()
    dout = f32(*shape)
    mod = (torch.nn.BatchNorm1d if len(shape) <= 3 else torch.nn.BatchNorm2d)(
        C, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        mod.weight.copy_(gamma)
        mod.bias.copy_(beta)
        mod.running_mean.copy_(rm0)
        mod.running_var.copy_(rv0)
    mod.train()
    out = mod(x)
    (out * dout).sum().backward()
    _, save_mean, save_invstd = torch.native_batch_norm(
        x.detach(), gamma, beta, rm0.clone(), rv0.clone(), True, momentum, eps)
    mod.eval()
    with torch.no_grad():
        out_eval = mod(x.detach())
    return {
        "name": name, "B": B, "C": C, "S": S, "momentum": momentum, "eps": eps,
        "inp": flat(x), "gamma": flat(gamma), "beta": flat(beta),
        "running_mean0": flat(rm0), "running_var0": flat(rv0), "dout": flat(dout),
        "out": flat(out), "mean": flat(save_mean), "rstd": flat(save_invstd),
        "running_mean": flat(mod.running_mean), "running_var": flat(mod.running_var),
        "out_eval": flat(out_eval),
        "dinp": flat(x.grad), "dgamma": flat(mod.weight.grad), "dbeta": flat(mod.bias.grad),
    }


def layernorm_case(name, N, D, eps=1e-5, shift=0.0):
    eps = r32(eps)
    x = f32(N, D, scale=1.5, shift=shift).requires_grad_()
    gamma = f32(D, scale=0.5, shift=1.0).requires_grad_()
    beta = f32(D, scale=0.5).requires_grad_()
    dout = f32(N, D)
    out = F.layer_norm(x, (D,), gamma, beta, eps)
    (out * dout).sum().backward()
    _, mean, rstd = torch.native_layer_norm(x.detach(), (D,), gamma.detach(), beta.detach(), eps)
    return {
        "name": name, "N": N, "D": D, "eps": eps,
        "inp": flat(x), "gamma": flat(gamma), "beta": flat(beta), "dout": flat(dout),
        "out": flat(out), "mean": flat(mean), "rstd": flat(rstd),
        "dinp": flat(x.grad), "dgamma": flat(gamma.grad), "dbeta": flat(beta.grad),
    }


def embedding_case(name, ids, V, D):
    table = f32(V, D).requires_grad_()
    ids_t = torch.tensor(ids, dtype=torch.long)
    dout = f32(len(ids), D)
    out = F.embedding(ids_t, table)
    (out * dout).sum().backward()
    return {
        "name": name, "N": len(ids), "V": V, "D": D, "ids": ids,
        "table": flat(table), "dout": flat(dout), "out": flat(out), "dtable": flat(table.grad),
    }


def weighted_mean(per, w):
    return per.mean() if w is None else (per * w).sum() / w.sum()


def xent_case(name, N, K, smoothing=0.0, weighted=False, scale=2.0):
    smoothing = r32(smoothing)
    logits = f32(N, K, scale=scale).requires_grad_()
    labels = torch.randint(0, K, (N,))
    w = weights(N) if weighted else None
    loss = weighted_mean(F.cross_entropy(logits, labels, reduction="none",
                                         label_smoothing=smoothing), w)
    loss.backward()
    return {
        "name": name, "N": N, "K": K, "smoothing": smoothing, "logits": flat(logits),
        "labels": labels.tolist(), "weights": None if w is None else flat(w),
        "loss": float(loss), "dlogits": flat(logits.grad),
    }


def bce_case(name, N, weighted=False, soft=False, scale=2.0):
    logits = f32(N, scale=scale).requires_grad_()
    targets = torch.rand(N).double() if soft else torch.randint(0, 2, (N,)).double()
    targets = targets.float().double()
    w = weights(N) if weighted else None
    loss = weighted_mean(F.binary_cross_entropy_with_logits(logits, targets, reduction="none"), w)
    loss.backward()
    return {
        "name": name, "N": N, "logits": flat(logits), "targets": flat(targets),
        "weights": None if w is None else flat(w), "loss": float(loss),
        "dlogits": flat(logits.grad),
    }


def mse_case(name, N, weighted=False):
    pred = f32(N, scale=2.0).requires_grad_()
    target = f32(N, scale=2.0)
    w = weights(N) if weighted else None
    loss = weighted_mean(F.mse_loss(pred, target, reduction="none"), w)
    loss.backward()
    return {
        "name": name, "N": N, "pred": flat(pred), "target": flat(target),
        "weights": None if w is None else flat(w), "loss": float(loss), "dpred": flat(pred.grad),
    }


doc = {
    "torch": torch.__version__,
    "batchnorm": [
        batchnorm_case("bn1d_dense", (6, 4)),
        batchnorm_case("bn1d_seq", (3, 4, 5), momentum=0.3, eps=1e-3),
        batchnorm_case("bn2d", (4, 3, 3, 3)),
        batchnorm_case("bn1d_two_rows", (2, 3)),
    ],
    "layernorm": [
        layernorm_case("ln", 5, 8),
        layernorm_case("ln_offset", 3, 33, eps=1e-6, shift=20.0),
    ],
    "embedding": [
        embedding_case("emb_repeated", [3, 0, 3, 5, 1, 3, 0, 6], 7, 5),
    ],
    "xent": [
        xent_case("xent", 8, 5),
        xent_case("xent_smooth", 8, 5, smoothing=0.1),
        xent_case("xent_weighted", 8, 5, weighted=True),
        xent_case("xent_smooth_weighted", 8, 5, smoothing=0.2, weighted=True),
        xent_case("xent_large_logits", 6, 4, smoothing=0.1, scale=60.0),
    ],
    "bce": [
        bce_case("bce", 10),
        bce_case("bce_weighted_soft", 10, weighted=True, soft=True),
        bce_case("bce_large_logits", 8, scale=50.0),
    ],
    "mse": [
        mse_case("mse", 10),
        mse_case("mse_weighted", 10, weighted=True),
    ],
}

with open(OUT, "w") as f:
    json.dump(doc, f, allow_nan=False, separators=(",", ":"))
    f.write("\n")
print(OUT, os.path.getsize(OUT), "bytes")
