#!/usr/bin/python3
"""torch_mlm.py - the masked-LM pretraining of `assay pretrain`, in PyTorch, on the same corpus
and vocabulary, to compare loss curves (is a plateau assay's or the recipe's?).

    torch_mlm.py VOCAB_TXT STEPS TOTAL LR [bf16|fp32] CORPUS...

CORPUS: a text file (one document per line) or FILE.csv:COLUMN[:COPIES]. Tokenization is BERT's
basic tokenizer (lower-case, accents stripped, punctuation split) and greedy WordPiece against
VOCAB_TXT, packed as assay packs: the token stream of all documents in order, cut into
[CLS] + 126 tokens + [SEP]. The model: 4 layers, hidden 256, 4 heads, FF 1024, post-LN, GELU,
dropout 0.1, N(0, 0.02) init, a tied decoder; 15% masking (80/10/10), AdamW (weight decay 0.01
on matrices, eps 1e-6), linear warmup over 6% of TOTAL then linear decay to 0 at TOTAL,
clipping at 1.0, batch 32, 2 threads. Prints the mean loss of every 250 steps."""
import csv, math, random, sys, time, unicodedata

import torch
import torch.nn as nn
import torch.nn.functional as F

vocab_path, steps_run, total, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
bf16 = sys.argv[5] == "bf16"
torch.manual_seed(0)
random.seed(0)
torch.set_num_threads(2)
vocab = [l.rstrip("\n") for l in open(vocab_path, encoding="utf-8")]
vid = {w: i for i, w in enumerate(vocab)}
PAD, UNK, CLS, SEP, MASK = (vid[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"))


def ispunct(c):
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or \
        unicodedata.category(c).startswith("P")


def basic(t):
    t = "".join(" " if c.isspace() else c for c in t
                if not (unicodedata.category(c) in ("Cc", "Cf") and not c.isspace()) and ord(c) != 0xFFFD)
    t = unicodedata.normalize("NFD", t.lower())
    t = "".join(c for c in t if unicodedata.category(c) != "Mn")
    out = []
    for w in t.split():
        cur = ""
        for c in w:
            if ispunct(c):
                if cur:
                    out.append(cur)
                    cur = ""
                out.append(c)
            else:
                cur += c
        if cur:
            out.append(cur)
    return out


cache = {}


def wordpiece(w):
    if w in cache:
        return cache[w]
    res, s = [], 0
    while s < len(w) and len(w) <= 100:
        e, got = len(w), None
        while e > s:
            sub = w[s:e] if s == 0 else "##" + w[s:e]
            if sub in vid:
                got = vid[sub]
                break
            e -= 1
        if got is None:
            break
        res.append(got)
        s = e
    if s < len(w) or len(w) > 100:
        res = [UNK]
    cache[w] = res
    return res


docs = []
for spec in sys.argv[6:]:
    if ".csv:" in spec:
        path, col, *copies = spec.split(":")
        rows = [r[col] for r in csv.DictReader(open(path, encoding="utf-8"))]
        docs += rows * (int(copies[0]) if copies else 1)
    else:
        docs += [l.rstrip("\r\n") for l in open(spec, encoding="utf-8", errors="replace")]
stream = [i for d in docs if d for w in basic(d) for i in wordpiece(w)]
T, V, D, L, H, B = 128, len(vocab), 256, 4, 4, 32
W = T - 2
seqs = [[CLS] + stream[i:i + W] + [SEP] for i in range(0, len(stream) - W + 1, W)]
print("tokens %d, full sequences %d" % (len(stream), len(seqs)), flush=True)


class MLM(nn.Module):
    def __init__(s):
        super().__init__()
        s.we, s.pe, s.te = nn.Embedding(V, D), nn.Embedding(512, D), nn.Embedding(2, D)
        s.ln, s.dr = nn.LayerNorm(D, eps=1e-12), nn.Dropout(0.1)
        s.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(
            D, H, 4 * D, 0.1, activation="gelu", batch_first=True, layer_norm_eps=1e-12), L)
        s.tr, s.tln = nn.Linear(D, D), nn.LayerNorm(D, eps=1e-12)
        s.bias = nn.Parameter(torch.zeros(V))
        for n, p in s.named_parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
            elif "bias" in n:
                nn.init.zeros_(p)

    def forward(s, x):
        h = s.dr(s.ln(s.we(x) + s.te.weight[0] + s.pe(torch.arange(x.shape[1]))))
        h = s.tln(F.gelu(s.tr(s.enc(h))).float())
        return h @ s.we.weight.T + s.bias


m = MLM()
decay = [p for p in m.parameters() if p.dim() > 1]
rest = [p for p in m.parameters() if p.dim() <= 1]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                        lr=lr, eps=1e-6)
warm = int(0.06 * total)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (total - s) / max(1, total - warm)))
acc, order, t0 = 0.0, [], time.time()
for step in range(steps_run):
    if len(order) < B:
        perm = list(range(len(seqs)))
        random.shuffle(perm)
        order += perm
    x = torch.tensor([seqs[i] for i in order[:B]])
    order = order[B:]
    lab = torch.full_like(x, -100)
    inp = x.clone()
    sel = (torch.rand(x.shape) < 0.15) & (x > MASK)
    lab[sel] = x[sel]
    u = torch.rand(x.shape)
    inp[sel & (u < 0.8)] = MASK
    rnd = sel & (u >= 0.8) & (u < 0.9)
    inp[rnd] = torch.randint(MASK + 1, V, (int(rnd.sum()),))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = m(inp)
    loss = F.cross_entropy(logits.float().reshape(-1, V), lab.reshape(-1), ignore_index=-100)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
    sched.step()
    acc += loss.item()
    if (step + 1) % 250 == 0:
        print("steps %d: mean loss %.3f (%.0f s)" % (step + 1, acc / 250, time.time() - t0), flush=True)
        acc = 0.0
