#!/usr/bin/python3
"""torch_bert.py - the PyTorch peer of bench_bert.sh: a BERT-shaped encoder written as a
PyTorch user without Hugging Face transformers would write it (token, position and segment
embeddings + LayerNorm, torch.nn.TransformerEncoder of post-LN layers with GELU, batch first,
a tanh pooler on [CLS] and a linear head), timed on full sequences of random token ids.

  --mode train: AdamW (lr 5e-5, weight decay 0.01), cross-entropy, gradient norm clipped at 1,
                dropout 0.1: tokens per second of whole training steps
  --mode infer: model.eval() under torch.inference_mode(): sequences per second of forward
                passes (PyTorch's fast path for TransformerEncoder applies)
  --mode pretrain: masked-LM steps as `assay pretrain` takes them: 15% of the positions
                predicted through BertForMaskedLM's head (dense, GELU, LayerNorm, decoder tied
                to the word embeddings) evaluated on the masked rows only, AdamW (lr 5e-4),
                clipping at 1: tokens per second of whole steps
  --mode latency: one sequence (batch 1) at a time, as a server answers one request: prints
                the median milliseconds of a forward pass (latency_ms=)

  --bf16: training under torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's mixed
          precision (matmuls in bf16 through oneDNN, weights and optimizer in fp32); inference
          with the whole model cast to bf16 (PyTorch 1.13's TransformerEncoder fast path fails
          under autocast: "expected scalar type BFloat16 but found Float")

Prints `result tokens_per_s=<median over timed steps> seqs_per_s=<...> latency_ms=<...>` as its
last line.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bert(nn.Module):
    def __init__(self, V, D, L, H, FF, P, K):
        super().__init__()
        self.word = nn.Embedding(V, D)
        self.pos = nn.Embedding(P, D)
        self.seg = nn.Embedding(2, D)
        self.ln = nn.LayerNorm(D, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.1, activation="gelu",
                                           layer_norm_eps=1e-12, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        self.pool = nn.Linear(D, D)
        self.head = nn.Linear(D, K)

    def forward(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device).unsqueeze(0)
        h = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.seg(torch.zeros_like(ids))))
        h = self.enc(h)
        return self.head(self.drop(torch.tanh(self.pool(h[:, 0]))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "infer", "pretrain", "latency"], required=True)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    m = Bert(a.vocab, a.hidden, a.layers, a.heads, 4 * a.hidden, 512, 2)
    ids = torch.randint(5, a.vocab, (a.steps + 2, a.batch, a.seq))
    y = torch.randint(0, 2, (a.steps + 2, a.batch))
    times = []
    if a.mode == "latency":
        a.batch = 1
        ids = torch.randint(5, a.vocab, (a.steps + 2, 1, a.seq))
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16 and a.mode in ("train", "pretrain"))
    if a.mode == "pretrain":
        m.train()
        D = a.hidden
        dense, norm = nn.Linear(D, D), nn.LayerNorm(D, eps=1e-12)
        bias = nn.Parameter(torch.zeros(a.vocab))
        params = list(m.parameters()) + list(dense.parameters()) + list(norm.parameters()) + [bias]
        opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01, eps=1e-6)
        for s in range(a.steps + 2):
            t0 = time.perf_counter()
            x = ids[s]
            sel = torch.rand(x.shape) < 0.15
            inp = x.clone()
            inp[sel] = 4  # [MASK]
            opt.zero_grad()
            with cast:
                T = x.shape[1]
                pos = torch.arange(T).unsqueeze(0)
                h = m.drop(m.ln(m.word(inp) + m.pos(pos) + m.seg(torch.zeros_like(inp))))
                h = m.enc(h)[sel]
                # LayerNorm on the float GELU output (1.13's CPU autocast does not cast it)
                logits = norm(F.gelu(dense(h)).float()) @ m.word.weight.T + bias
            loss = F.cross_entropy(logits.float(), x[sel])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if s >= 2:
                times.append(time.perf_counter() - t0)
    elif a.mode == "train":
        m.train()
        opt = torch.optim.AdamW(m.parameters(), lr=5e-5, weight_decay=0.01)
        for s in range(a.steps + 2):
            t0 = time.perf_counter()
            opt.zero_grad()
            with cast:
                loss = F.cross_entropy(m(ids[s]), y[s])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            if s >= 2:  # the first steps allocate
                times.append(time.perf_counter() - t0)
    else:
        m.eval()
        if a.bf16:
            m = m.to(torch.bfloat16)
        with torch.inference_mode():
            for s in range(a.steps + 2):
                t0 = time.perf_counter()
                m(ids[s])
                if s >= 2:
                    times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    print("result tokens_per_s=%.1f seqs_per_s=%.2f latency_ms=%.2f" % (a.batch * a.seq / t, a.batch / t,
                                                                      1000 * t))


if __name__ == "__main__":
    main()
