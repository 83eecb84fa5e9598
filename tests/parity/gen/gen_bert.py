#!/usr/bin/python3
"""gen_bert.py - a tiny random BERT checkpoint and PyTorch's values for it, for
tests/unit/test_bert.c (src/nn/bert.c, bert_io.c).

Hugging Face transformers is not available here, so BertModel and BertForSequenceClassification
are transcribed below in plain PyTorch, operation by operation from transformers' modeling_bert.py
(BertEmbeddings, BertSelfAttention, BertSelfOutput, BertIntermediate, BertOutput, BertPooler, the
extended attention mask of ModuleUtilsMixin.get_extended_attention_mask), with Hugging Face's
parameter names. The mean-pooled embedding is sentence-transformers' mean pooling.

Writes tests/parity/fixtures/bert_tiny/:
  config.json        Hugging Face's BertConfig keys (model_type bert, hidden_act gelu, 3 labels)
  vocab.txt          [PAD] [UNK] [CLS] [SEP] [MASK], then whole lower-case words
  model.safetensors  float32 tensors with Hugging Face's names ("bert." prefix, classifier.*),
                     written by hand (8-byte little-endian header length, JSON header, bytes),
                     with {"format": "pt"} metadata as transformers writes it
  expected.json      for a batch of 3 sequences of different lengths (padded to T, one of them
                     a sentence pair): the texts and their ids / type ids / mask, the last hidden
                     states, pooled output, mean-pooled embedding, logits of the 3-class head, the
                     mean cross-entropy against 3 labels, the gradient of that loss for every
                     parameter and for the summed input embeddings (inputs_embeds), all with
                     dropout off; then the loss before each of 10 AdamW steps on that batch (lr
                     1e-3, betas 0.9/0.999, eps 1e-8, weight_decay 0.01 on matrices and
                     embeddings, 0 on biases and LayerNorm weights: transformers' Trainer
                     grouping) and the loss after the last.
Parameters are drawn in float64, rounded to float32 (the checkpoint's values), and everything
after is computed in float64 from those values, so the reference carries no float32 rounding; the
script also prints how far PyTorch's own float32 run lands from it, which sizes the C test's
tolerances. Numbers are written with 9 significant digits.

Run with Debian's python3-torch: /usr/bin/python3 tests/parity/gen/gen_bert.py
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "bert_tiny")

CFG = dict(
    architectures=["BertForSequenceClassification"],
    model_type="bert",
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=40,
    type_vocab_size=2,
    initializer_range=0.02,
    layer_norm_eps=1e-12,
    position_embedding_type="absolute",
    id2label={"0": "neg", "1": "neu", "2": "pos"},
    label2id={"neg": 0, "neu": 1, "pos": 2},
)
V, D, L, H = CFG["vocab_size"], CFG["hidden_size"], CFG["num_hidden_layers"], CFG["num_attention_heads"]
FF, P, TV, K = CFG["intermediate_size"], CFG["max_position_embeddings"], CFG["type_vocab_size"], 3
EPS = CFG["layer_norm_eps"]
T = 12

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_vocab():
    cons, vows = "bdfgklmnprstvz", "aeiou"
    words = []
    for c1 in cons:
        for v1 in vows:
            for c2 in "lnr":
                words.append(c1 + v1 + c2)
    words = sorted(set(words))[: V - len(SPECIALS)]
    return SPECIALS + words


def param_shapes():
    """Hugging Face's names and shapes, in BertForSequenceClassification's order."""
    s = [("bert.embeddings.word_embeddings.weight", (V, D)),
         ("bert.embeddings.position_embeddings.weight", (P, D)),
         ("bert.embeddings.token_type_embeddings.weight", (TV, D)),
         ("bert.embeddings.LayerNorm.weight", (D,)),
         ("bert.embeddings.LayerNorm.bias", (D,))]
    for l in range(L):
        p = "bert.encoder.layer.%d." % l
        for n in ("query", "key", "value"):
            s += [(p + "attention.self.%s.weight" % n, (D, D)), (p + "attention.self.%s.bias" % n, (D,))]
        s += [(p + "attention.output.dense.weight", (D, D)), (p + "attention.output.dense.bias", (D,)),
              (p + "attention.output.LayerNorm.weight", (D,)), (p + "attention.output.LayerNorm.bias", (D,)),
              (p + "intermediate.dense.weight", (FF, D)), (p + "intermediate.dense.bias", (FF,)),
              (p + "output.dense.weight", (D, FF)), (p + "output.dense.bias", (D,)),
              (p + "output.LayerNorm.weight", (D,)), (p + "output.LayerNorm.bias", (D,))]
    s += [("bert.pooler.dense.weight", (D, D)), ("bert.pooler.dense.bias", (D,)),
          ("classifier.weight", (K, D)), ("classifier.bias", (K,))]
    return s


def make_params(gen):
    """Random values (larger than BERT's N(0, 0.02) init so that attention is far from uniform
    and every term matters), rounded to float32."""
    ps = {}
    for name, shape in param_shapes():
        if "LayerNorm.weight" in name:
            t = 1.0 + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif name.endswith("bias"):
            t = 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif "embeddings" in name:
            t = 0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:
            t = (0.6 / math.sqrt(shape[1])) * torch.randn(shape, generator=gen, dtype=torch.float64)
        ps[name] = t.float().double()
    return ps


def bert_forward(ps, ids, tt, mask, dtype):
    """BertForSequenceClassification.forward with dropout off (eval), returning the outputs and
    inputs_embeds (kept for its gradient)."""
    p = {k: v for k, v in ps.items()}
    B_, T_ = ids.shape
    # BertEmbeddings
    inputs_embeds = F.embedding(ids, p["bert.embeddings.word_embeddings.weight"])
    if inputs_embeds.requires_grad:
        inputs_embeds.retain_grad()
    token_type_embeddings = F.embedding(tt, p["bert.embeddings.token_type_embeddings.weight"])
    embeddings = inputs_embeds + token_type_embeddings
    position_ids = torch.arange(T_).unsqueeze(0)
    embeddings = embeddings + F.embedding(position_ids, p["bert.embeddings.position_embeddings.weight"])
    h = F.layer_norm(embeddings, (D,), p["bert.embeddings.LayerNorm.weight"],
                     p["bert.embeddings.LayerNorm.bias"], EPS)
    # get_extended_attention_mask: (1 - mask) * finfo(dtype).min, broadcast over heads and queries
    ext = (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    HD = D // H
    for l in range(L):
        pre = "bert.encoder.layer.%d." % l

        def lin(x, n):
            return F.linear(x, p[pre + n + ".weight"], p[pre + n + ".bias"])

        def heads(x):  # transpose_for_scores
            return x.view(B_, T_, H, HD).permute(0, 2, 1, 3)

        q = heads(lin(h, "attention.self.query"))
        k = heads(lin(h, "attention.self.key"))
        v = heads(lin(h, "attention.self.value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HD)
        scores = scores + ext
        probs = F.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous().view(B_, T_, D)
        attn = F.layer_norm(lin(ctx, "attention.output.dense") + h, (D,),
                            p[pre + "attention.output.LayerNorm.weight"],
                            p[pre + "attention.output.LayerNorm.bias"], EPS)
        inter = F.gelu(lin(attn, "intermediate.dense"))
        h = F.layer_norm(lin(inter, "output.dense") + attn, (D,), p[pre + "output.LayerNorm.weight"],
                         p[pre + "output.LayerNorm.bias"], EPS)
    pooled = torch.tanh(F.linear(h[:, 0], p["bert.pooler.dense.weight"], p["bert.pooler.dense.bias"]))
    m = mask.to(dtype).unsqueeze(-1)
    mean = (h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    logits = F.linear(pooled, p["classifier.weight"], p["classifier.bias"])
    return h, pooled, mean, logits, inputs_embeds


def adamw(ps_init, ids, tt, mask, labels, dtype, steps=10):
    ps = {k: v.clone().to(dtype).requires_grad_(True) for k, v in ps_init.items()}
    decay = [v for k, v in ps.items() if v.dim() == 2]
    no_decay = [v for k, v in ps.items() if v.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        logits = bert_forward(ps, ids, tt, mask, dtype)[3]
        loss = F.cross_entropy(logits, labels)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = F.cross_entropy(bert_forward(ps, ids, tt, mask, dtype)[3], labels).item()
    return losses, final


def encode(vocab, a, b=None):
    """[CLS] a [SEP] (b [SEP]) of whole-word texts, padded to T (what BertTokenizer gives for
    words that are all in the vocabulary)."""
    idx = {w: i for i, w in enumerate(vocab)}
    ta = [idx[w] for w in a.split()]
    ids = [2] + ta + [3]
    tt = [0] * len(ids)
    if b is not None:
        tb = [idx[w] for w in b.split()]
        ids += tb + [3]
        tt += [1] * (len(tb) + 1)
    n = len(ids)
    assert n <= T
    return ids + [0] * (T - n), tt + [0] * (T - n), [1] * n + [0] * (T - n)


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        data = t.detach().float().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def flat(t):
    return [float("%.9g" % x) for x in t.detach().reshape(-1).tolist()]


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240611)
    vocab = make_vocab()
    assert len(vocab) == V
    ps = make_params(gen)
    texts = [("ban ker lon bir fal dun gor mel kin", None),
             ("kel mor dun", "lan bol"),
             ("fin", None)]
    enc = [encode(vocab, a, b) for a, b in texts]
    ids = torch.tensor([e[0] for e in enc])
    tt = torch.tensor([e[1] for e in enc])
    mask = torch.tensor([e[2] for e in enc])
    labels = torch.tensor([2, 0, 1])

    leaves = {k: v.clone().requires_grad_(True) for k, v in ps.items()}
    h, pooled, mean, logits, emb = bert_forward(leaves, ids, tt, mask, torch.float64)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    losses, final = adamw(ps, ids, tt, mask, labels, torch.float64)

    # PyTorch's own float32 run, to size the C test's tolerances
    l32 = {k: v.float().requires_grad_(True) for k, v in ps.items()}
    h32, p32, m32, lg32, e32 = bert_forward(l32, ids, tt, mask, torch.float32)
    F.cross_entropy(lg32, labels).backward()

    def rel(a, b):
        return ((a.double() - b).abs().max() / b.abs().max().clamp(min=1e-30)).item()
    print("float32 torch vs float64 reference (max |diff| / max |ref|):")
    print("  hidden %.2e pooled %.2e mean %.2e logits %.2e" % (
        rel(h32, h), rel(p32, pooled), rel(m32, mean), rel(lg32, logits)))
    # per tensor, relative to its largest value but at least 1e-3 of the largest gradient of all:
    # the key biases' gradients are zero analytically (softmax ignores a constant added to a
    # row of scores), rounding noise in any float32 run
    gmax = max(leaves[k].grad.abs().max().item() for k in ps)

    def grel(a, b):
        return ((a.double() - b).abs().max() / max(b.abs().max().item(), 1e-3 * gmax)).item()
    print("  worst gradient %.2e, inputs_embeds grad %.2e" % (
        max(grel(l32[k].grad, leaves[k].grad) for k in ps), rel(e32.grad, emb.grad)))
    losses32, final32 = adamw(ps, ids, tt, mask, labels, torch.float32)
    print("  AdamW losses: max |diff| %.2e" % max(abs(a - b) for a, b in zip(losses32 + [final32],
                                                                          losses + [final])))

    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    write_safetensors(os.path.join(OUT, "model.safetensors"), [(n, ps[n]) for n, _ in param_shapes()])
    exp = {
        "B": 3, "T": T, "texts": [[a, b] for a, b in texts],
        "ids": ids.reshape(-1).tolist(), "type_ids": tt.reshape(-1).tolist(),
        "mask": mask.reshape(-1).tolist(), "labels": labels.tolist(),
        "hidden": flat(h), "pooled": flat(pooled), "mean": flat(mean), "logits": flat(logits),
        "loss": float("%.12g" % loss.item()),
        "grads": {n: flat(leaves[n].grad) for n, _ in param_shapes()},
        "d_inputs_embeds": flat(emb.grad),
        "adamw": {"lr": 1e-3, "weight_decay": 0.01, "losses": [float("%.12g" % x) for x in losses],
                  "final_loss": float("%.12g" % final)},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(exp, f, separators=(",", ":"))
        f.write("\n")
    print("loss %.6f, AdamW losses %s, final %.6f" % (loss.item(), ["%.4f" % x for x in losses], final))


if __name__ == "__main__":
    main()
