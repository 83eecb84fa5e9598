/* bert.c - the BERT encoder: the flat parameter buffer with a named view per Hugging Face
 * tensor, the activation arena, the forward pass over a padded batch, its backward pass, and
 * AdamW steps. Files (config.json, checkpoints) are bert_io.c's.
 *
 * The math is Hugging Face transformers' BertModel / BertForSequenceClassification (modeling_
 * bert.py): embeddings (word + token type, then + position) -> LayerNorm -> dropout; per layer
 * (post-LN) self-attention with scores q k^T / sqrt(HD) plus (1 - mask) * finfo(float32).min,
 * softmax, dropout, context, output dense, dropout, residual, LayerNorm; then dense -> erf GELU
 * -> dense, dropout, residual, LayerNorm. The pooler is tanh(dense(h[:, 0])); the head is
 * classifier(dropout(pooled)). The mean-pooled embedding is sentence-transformers' mean pooling
 * (sum of unmasked rows / max(count, 1e-9)).
 *
 * Matrix work goes through nn.h's linear kernels and, for attention, cblas_sgemm directly on
 * strided views of the (N, 3D) query/key/value product (no permutes), one (b, h) pair per
 * OpenMP iteration with OpenBLAS single-threaded. Activations live in one arena per (B, T).
 * Inference works keep one (T, T) score matrix per thread; training works keep the (B, H, T, T)
 * probabilities of every layer, which the backward pass needs. Every reduction has a fixed
 * order, so results do not depend on the thread count.
 *
 * Not here: tokenization (prep/wordpiece.c), files (bert_io.c), pretraining heads (masked LM, next sentence),
 * gradient checkpointing, key/value caches, bf16 attention (with --precision bf16 only the dense
 * layers' products are bf16: the per-head attention products are too small to gain). */
#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <omp.h>
#include <stdarg.h>

#include "../internal.h"
#include "assay/bert.h"
#include "net.h"

/* Dimension letters: B batch, T tokens, N = B * T, D hidden, H heads, HD = D / H head width,
 * F intermediate, V vocabulary, P positions, TV token types, K classes, L layers. */

/* ---- the model: parameters and their named views ----------------------------------------- */

typedef struct layer_off {
    int64_t qkv_w, qkv_b, ao_w, ao_b, ln1_w, ln1_b, fc_w, fc_b, fo_w, fo_b, ln2_w, ln2_b;
} layer_off;

struct assay_bert {
    assay_bert_config c;
    float *params, *grads, *m, *v; /* n floats each; grads, m, v allocated on demand */
    int64_t n;
    long t;                        /* optimizer steps taken */
    assay_bert_tensor *tensors;
    int ntensors;
    int64_t word, pos, type, eln_w, eln_b, pool_w, pool_b, cls_w, cls_b; /* offsets */
    layer_off *L;
};

/* A named view at off; name is printf'ed. */
__attribute__((format(printf, 6, 7))) static void view(assay_bert *m, int64_t off, int decay,
                                                        int64_t d0, int64_t d1, const char *fmt,
                                                        ...) {
    assay_bert_tensor *t = &m->tensors[m->ntensors++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = d1 > 0 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1 > 0 ? d1 : 0;
    t->numel = d1 > 0 ? d0 * d1 : d0;
    t->offset = off;
    t->decay = decay;
}

/* Offsets of every tensor (buffer order: embeddings, layers, pooler, head) and the views in
 * Hugging Face's order; sets m->n. */
static void layout(assay_bert *m) {
    const assay_bert_config *c = &m->c;
    const int64_t V = c->vocab_size, D = c->hidden_size, F = c->intermediate_size;
    const int64_t P = c->max_position_embeddings, TV = c->type_vocab_size, K = c->num_labels;
    int64_t o = 0;
#define TAKE(field, size) (field = o, o += (size))
    TAKE(m->word, V * D);
    TAKE(m->pos, P * D);
    TAKE(m->type, TV * D);
    TAKE(m->eln_w, D);
    TAKE(m->eln_b, D);
    view(m, m->word, 1, V, D, "bert.embeddings.word_embeddings.weight");
    view(m, m->pos, 1, P, D, "bert.embeddings.position_embeddings.weight");
    view(m, m->type, 1, TV, D, "bert.embeddings.token_type_embeddings.weight");
    view(m, m->eln_w, 0, D, 0, "bert.embeddings.LayerNorm.weight");
    view(m, m->eln_b, 0, D, 0, "bert.embeddings.LayerNorm.bias");
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int l = 0; l < c->num_hidden_layers; l++) {
        layer_off *L = &m->L[l];
        TAKE(L->qkv_w, 3 * D * D);
        TAKE(L->qkv_b, 3 * D);
        TAKE(L->ao_w, D * D);
        TAKE(L->ao_b, D);
        TAKE(L->ln1_w, D);
        TAKE(L->ln1_b, D);
        TAKE(L->fc_w, F * D);
        TAKE(L->fc_b, F);
        TAKE(L->fo_w, D * F);
        TAKE(L->fo_b, D);
        TAKE(L->ln2_w, D);
        TAKE(L->ln2_b, D);
        const char *p = "bert.encoder.layer";
        for (int j = 0; j < 3; j++) {
            view(m, L->qkv_w + j * D * D, 1, D, D, "%s.%d.attention.self.%s.weight", p, l, qkv[j]);
            view(m, L->qkv_b + j * D, 0, D, 0, "%s.%d.attention.self.%s.bias", p, l, qkv[j]);
        }
        view(m, L->ao_w, 1, D, D, "%s.%d.attention.output.dense.weight", p, l);
        view(m, L->ao_b, 0, D, 0, "%s.%d.attention.output.dense.bias", p, l);
        view(m, L->ln1_w, 0, D, 0, "%s.%d.attention.output.LayerNorm.weight", p, l);
        view(m, L->ln1_b, 0, D, 0, "%s.%d.attention.output.LayerNorm.bias", p, l);
        view(m, L->fc_w, 1, F, D, "%s.%d.intermediate.dense.weight", p, l);
        view(m, L->fc_b, 0, F, 0, "%s.%d.intermediate.dense.bias", p, l);
        view(m, L->fo_w, 1, D, F, "%s.%d.output.dense.weight", p, l);
        view(m, L->fo_b, 0, D, 0, "%s.%d.output.dense.bias", p, l);
        view(m, L->ln2_w, 0, D, 0, "%s.%d.output.LayerNorm.weight", p, l);
        view(m, L->ln2_b, 0, D, 0, "%s.%d.output.LayerNorm.bias", p, l);
    }
    TAKE(m->pool_w, D * D);
    TAKE(m->pool_b, D);
    view(m, m->pool_w, 1, D, D, "bert.pooler.dense.weight");
    view(m, m->pool_b, 0, D, 0, "bert.pooler.dense.bias");
    m->cls_w = m->cls_b = o;
    if (K > 0) {
        TAKE(m->cls_w, K * D);
        TAKE(m->cls_b, K);
        view(m, m->cls_w, 1, K, D, "classifier.weight");
        view(m, m->cls_b, 0, K, 0, "classifier.bias");
    }
#undef TAKE
    m->n = o;
}

void assay_bert_free(assay_bert *m) {
    if (!m) return;
    assay_free(m->params);
    assay_free(m->grads);
    assay_free(m->m);
    assay_free(m->v);
    assay_free(m->tensors);
    assay_free(m->L);
    assay_free(m);
}

int assay_bert_new(const assay_bert_config *c, uint64_t seed, assay_bert **out,
                   assay_error *err) {
    *out = NULL;
    const char *bad = assay_bert_config_check(c);
    if (bad) return assay_error_set(err, ASSAY_EINVAL, "bert: %s", bad);
    assay_bert *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
    m->c = *c;
    m->tensors = assay_calloc((size_t)c->num_hidden_layers * 16 + 9, sizeof *m->tensors);
    m->L = assay_calloc((size_t)c->num_hidden_layers + 1, sizeof *m->L);
    if (!m->tensors || !m->L) goto nomem;
    layout(m);
    m->params = assay_mallocarray((size_t)m->n, sizeof *m->params);
    if (!m->params) goto nomem;
    /* BertPreTrainedModel._init_weights: Linear and Embedding N(0, 0.02), biases 0, LayerNorm
     * weight 1 and bias 0 (in buffer order, one draw sequence from seed) */
    assay_rng rng;
    assay_rng_seed(&rng, seed);
    for (int i = 0; i < m->ntensors; i++) {
        const assay_bert_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        if (t->ndim == 2) assay_nn_init_normal(p, t->numel, 0.02f, &rng);
        else {
            const float v = strstr(t->name, "LayerNorm.weight") ? 1.0f : 0.0f;
            for (int64_t j = 0; j < t->numel; j++) p[j] = v;
        }
    }
    *out = m;
    return ASSAY_OK;
nomem:
    assay_bert_free(m);
    return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory for the parameters");
}

const assay_bert_config *assay_bert_get_config(const assay_bert *m) { return &m->c; }
int assay_bert_tensor_count(const assay_bert *m) { return m->ntensors; }

const assay_bert_tensor *assay_bert_tensor_at(const assay_bert *m, int i) {
    return i >= 0 && i < m->ntensors ? &m->tensors[i] : NULL;
}

const assay_bert_tensor *assay_bert_tensor_find(const assay_bert *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++) {
        const char *t = m->tensors[i].name;
        if (strcmp(t, name) == 0 || (strncmp(t, "bert.", 5) == 0 && strcmp(t + 5, name) == 0))
            return &m->tensors[i];
    }
    return NULL;
}

float *assay_bert_params(assay_bert *m, int64_t *n) {
    if (n) *n = m->n;
    return m->params;
}

float *assay_bert_grads(assay_bert *m, int64_t *n) {
    if (n) *n = m->n;
    return m->grads;
}

int assay_bert_zero_grad(assay_bert *m, assay_error *err) {
    if (!m->grads) {
        m->grads = assay_calloc((size_t)m->n, sizeof *m->grads);
        if (!m->grads) return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory for gradients");
        return ASSAY_OK;
    }
    memset(m->grads, 0, (size_t)m->n * sizeof *m->grads);
    return ASSAY_OK;
}

int assay_bert_step(assay_bert *m, const assay_nn_optim *o, float lr, assay_error *err) {
    if (!m->grads) return assay_error_set(err, ASSAY_EINVAL, "bert: step before any gradient");
    if (!m->m) {
        m->m = assay_calloc((size_t)m->n, sizeof *m->m);
        m->v = assay_calloc((size_t)m->n, sizeof *m->v);
        if (!m->m || !m->v) {
            assay_free(m->m), assay_free(m->v);
            m->m = m->v = NULL;
            return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory for optimizer state");
        }
    }
    m->t++;
    for (int i = 0; i < m->ntensors; i++) {
        const assay_bert_tensor *t = &m->tensors[i];
        const int64_t off = t->offset;
        assay_nn_optim_step(o, m->params + off, m->grads + off, m->m + off, m->v + off, t->numel,
                            m->t, lr, t->decay ? 1.0f : 0.0f);
    }
    return ASSAY_OK;
}

/* ---- activations ------------------------------------------------------------------------- */

/* One layer's activations (N rows). att: (B,H,T,T) probabilities; attd: after dropout (== att
 * without attention dropout); amask: the dropout mask. */
typedef struct layer_act {
    float *qkv, *att, *attd, *amask, *ctx, *res1, *mask1, *ln1, *mean1, *rstd1, *fc, *gl, *res2,
        *mask2, *mean2, *rstd2;
} layer_act;

struct assay_bert_work {
    int B, T, grad, nthr, K, trained; /* trained: the last forward ran with dropout */
    assay_nn_precision prec;     /* of the dense layers' products */
    float *mem;
    int32_t *ids, *tt, *pos;     /* (N) each */
    float *maskadd, *maskf;      /* (B,T): 0 or -FLT_MAX; 1 or 0 */
    float *emb, *emean, *erstd, *emask; /* (N,D), (N), (N), (N,D) */
    float **hs;                  /* L + 1 pointers (N,D): hs[0] embeddings out, hs[L] hidden */
    float *hidden;               /* hs[L] */
    layer_act *A;                /* L (grad) or 1 (inference) */
    float *scr;                  /* (nthr,T,T) scores or their gradient */
    float *cls, *pooled, *cmask, *pd, *logits, *dlogits, *mean; /* (B,D) .. (B,K) */
    /* gradients (grad works only) */
    float *dh, *dx, *dres, *dln1, *dctx, *dI1, *dI2, *dqkv, *demb, *dpd, *dpt, *dpre, *dcls;
};

void assay_bert_work_free(assay_bert_work *w) {
    if (!w) return;
    assay_free(w->mem);
    assay_free(w->ids);
    assay_free(w->hs);
    assay_free(w->A);
    assay_free(w);
}

int assay_bert_work_new(const assay_bert *m, int B, int T, int grad, assay_bert_work **out,
                        assay_error *err) {
    const assay_bert_config *c = &m->c;
    *out = NULL;
    if (B < 1 || T < 1)
        return assay_error_set(err, ASSAY_EINVAL, "bert: batch %d x %d tokens is empty", B, T);
    if (T > c->max_position_embeddings)
        return assay_error_set(err, ASSAY_EINVAL,
                               "bert: %d tokens exceed max_position_embeddings %d (truncate when "
                               "encoding)", T, c->max_position_embeddings);
    const int64_t N = (int64_t)B * T, D = c->hidden_size, F = c->intermediate_size;
    const int64_t H = c->num_attention_heads, L = c->num_hidden_layers, K = c->num_labels;
    if (N > INT_MAX / 4 || N * F > INT64_MAX / 64 || (int64_t)B * H * T * T > INT64_MAX / 64)
        return assay_error_set(err, ASSAY_EINVAL, "bert: batch %d x %d tokens is too large", B, T);
    assay_bert_work *w = assay_calloc(1, sizeof *w);
    if (!w) return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
    w->B = B, w->T = T, w->grad = grad ? 1 : 0, w->K = (int)K;
    w->nthr = ASSAY_MAX(1, omp_get_max_threads());
    const int drop_h = grad && c->hidden_dropout_prob > 0;
    const int drop_a = grad && c->attention_probs_dropout_prob > 0;
    const int drop_c = grad && c->classifier_dropout > 0;
    const int nact = grad ? (int)L : 1;
    const int64_t BHTT = (int64_t)B * H * T * T;
    w->ids = assay_mallocarray(3 * (size_t)N, sizeof *w->ids);
    w->hs = assay_calloc((size_t)L + 1, sizeof *w->hs);
    w->A = assay_calloc((size_t)nact + 1, sizeof *w->A);
    if (!w->ids || !w->hs || !w->A) goto nomem;
    w->tt = w->ids + N, w->pos = w->ids + 2 * N;
    /* two passes over the same carving: the first counts, the second hands out pointers */
    for (int pass = 0; pass < 2; pass++) {
        int64_t o = 0;
        float *base = w->mem;
#define CARVE(ptr, size) ((ptr) = pass ? base + o : NULL, o += (size))
        CARVE(w->maskadd, N);
        CARVE(w->maskf, N);
        CARVE(w->emb, N * D);
        CARVE(w->emean, N);
        CARVE(w->erstd, N);
        if (drop_h) CARVE(w->emask, N * D);
        for (int l = 0; l <= L; l++) {
            if (l == 0 || grad) CARVE(w->hs[l], N * D);
            else if (pass) w->hs[l] = w->hs[0]; /* inference: layers update in place */
        }
        for (int l = 0; l < nact; l++) {
            layer_act *a = &w->A[l];
            CARVE(a->qkv, N * 3 * D);
            if (grad) CARVE(a->att, BHTT);
            if (drop_a) CARVE(a->attd, BHTT), CARVE(a->amask, BHTT);
            else if (pass) a->attd = a->att;
            CARVE(a->ctx, N * D);
            CARVE(a->res1, N * D);
            if (drop_h) CARVE(a->mask1, N * D), CARVE(a->mask2, N * D);
            CARVE(a->ln1, N * D);
            CARVE(a->mean1, N);
            CARVE(a->rstd1, N);
            CARVE(a->fc, N * F);
            CARVE(a->gl, N * F);
            CARVE(a->res2, N * D);
            CARVE(a->mean2, N);
            CARVE(a->rstd2, N);
        }
        CARVE(w->scr, (int64_t)w->nthr * T * T);
        CARVE(w->cls, B * D);
        CARVE(w->pooled, B * D);
        if (drop_c && K) CARVE(w->cmask, B * D);
        if (K) CARVE(w->pd, B * D), CARVE(w->logits, B * K), CARVE(w->dlogits, B * K);
        CARVE(w->mean, B * D);
        if (grad) {
            CARVE(w->dh, N * D);
            CARVE(w->dx, N * D);
            CARVE(w->dres, N * D);
            CARVE(w->dln1, N * D);
            CARVE(w->dctx, N * D);
            CARVE(w->dI1, N * F);
            CARVE(w->dI2, N * F);
            CARVE(w->dqkv, N * 3 * D);
            CARVE(w->demb, N * D);
            CARVE(w->dpd, B * D);
            CARVE(w->dpt, B * D);
            CARVE(w->dpre, B * D);
            CARVE(w->dcls, B * D);
        }
#undef CARVE
        if (!pass) {
            if ((uint64_t)o > SIZE_MAX / sizeof(float)) goto nomem;
            w->mem = assay_calloc((size_t)o, sizeof(float));
            if (!w->mem) goto nomem;
        }
    }
    if (!grad) w->A[0].attd = w->A[0].att = NULL;
    w->hidden = w->hs[L];
    *out = w;
    return ASSAY_OK;
nomem:
    assay_bert_work_free(w);
    return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory for a %d x %d activation arena",
                           B, T);
}

void assay_bert_work_out(const assay_bert_work *w, assay_bert_out *out) {
    out->hidden = w->hidden;
    out->pooled = w->pooled;
    out->mean = w->mean;
    out->logits = w->K ? w->logits : NULL;
}

/* ---- attention ----------------------------------------------------------------------------
 * qkv (N, 3D): row (b, t) holds q | k | v, head h at columns h*HD of each third, so Q_bh is the
 * (T, HD) view at qkv + b*T*3D + h*HD with leading dimension 3D (K_bh at + D, V_bh at + 2D).
 *   S = Q K^T / sqrt(HD) + maskadd;  A = softmax(S);  A' = dropout(A);  ctx_bh = A' V
 * with ctx (N, D) row (b, t), columns h*HD. Backward (dctx given):
 *   dA' = dctx V^T;  dV += A'^T dctx;  dA = dA' * amask;  dS = A * (dA - rowsum(dA * A));
 *   dQ += dS K / sqrt(HD);  dK += dS^T Q / sqrt(HD). */

/* S (T,T) for pair (b,h) into s, masked and softmaxed in place. */
static void att_probs(float *s, const float *qkv, const float *maskadd, int b, int h, int T,
                      int D, int HD) {
    const float scale = 1.0f / sqrtf((float)HD);
    const int64_t D3 = 3 * (int64_t)D;
    const float *q = qkv + (int64_t)b * T * D3 + (int64_t)h * HD;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, scale, q, (int)D3, q + D,
                (int)D3, 0.0f, s, T);
    const float *ma = maskadd + (int64_t)b * T;
    for (int i = 0; i < T; i++) {
        float *r = s + (int64_t)i * T;
        /* Hugging Face adds (1 - mask) * finfo(float32).min: the same sums, so even a row with
         * every key masked gives the same (uniform) probabilities */
        float mx = -INFINITY;
        for (int j = 0; j < T; j++) {
            r[j] += ma[j];
            mx = r[j] > mx ? r[j] : mx;
        }
        for (int j = 0; j < T; j++) r[j] -= mx;
        assay__nn_expf(r, r, T);
        double sum = 0;
        for (int j = 0; j < T; j++) sum += r[j];
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j < T; j++) r[j] *= inv;
    }
}

/* ctx_bh = a (T,T) @ V_bh */
static void att_context(float *ctx, const float *a, const float *qkv, int b, int h, int T, int D,
                        int HD) {
    const int64_t D3 = 3 * (int64_t)D;
    const float *v = qkv + (int64_t)b * T * D3 + 2 * (int64_t)D + (int64_t)h * HD;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, 1.0f, a, T, v, (int)D3, 0.0f,
                ctx + (int64_t)b * T * D + (int64_t)h * HD, D);
}

static void attention_forward(assay_bert_work *w, layer_act *a, const assay_bert_config *c,
                              int training, assay_rng *rng) {
    const int B = w->B, T = w->T, D = c->hidden_size, H = c->num_attention_heads, HD = D / H;
    const int64_t TT = (int64_t)T * T;
    const int split = training && c->attention_probs_dropout_prob > 0;
    if (!split) {
        /* fused: scores, softmax and context per pair; a work without grad keeps one (T,T)
         * matrix per thread */
#pragma omp parallel for collapse(2) schedule(static) num_threads(w->nthr) if (B * H > 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                float *s = a->att ? a->att + ((int64_t)b * H + h) * TT
                                  : w->scr + (int64_t)omp_get_thread_num() * TT;
                att_probs(s, a->qkv, w->maskadd, b, h, T, D, HD);
                att_context(a->ctx, s, a->qkv, b, h, T, D, HD);
            }
        return;
    }
    /* dropout draws from rng in index order, between two parallel loops */
#pragma omp parallel for collapse(2) schedule(static) num_threads(w->nthr) if (B * H > 1)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            att_probs(a->att + ((int64_t)b * H + h) * TT, a->qkv, w->maskadd, b, h, T, D, HD);
    assay_nn_dropout_forward(a->attd, a->amask, a->att, (int64_t)B * H * TT,
                             c->attention_probs_dropout_prob, rng);
#pragma omp parallel for collapse(2) schedule(static) num_threads(w->nthr) if (B * H > 1)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            att_context(a->ctx, a->attd + ((int64_t)b * H + h) * TT, a->qkv, b, h, T, D, HD);
}

/* dqkv (N,3D) += the gradient of the attention given dctx (N,D); dqkv's (b,h) blocks are
 * disjoint, so the pairs run in parallel. */
static void attention_backward(float *dqkv, const float *dctx, const layer_act *a,
                               const assay_bert_work *w, const assay_bert_config *c) {
    const int B = w->B, T = w->T, D = c->hidden_size, H = c->num_attention_heads, HD = D / H;
    const int64_t TT = (int64_t)T * T, D3 = 3 * (int64_t)D;
    const float scale = 1.0f / sqrtf((float)HD);
    /* dropout masks only when the last forward drew them */
    const float *amask = w->trained && c->attention_probs_dropout_prob > 0 ? a->amask : NULL;
#pragma omp parallel for collapse(2) schedule(static) num_threads(w->nthr) if (B * H > 1)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            float *ds = w->scr + (int64_t)omp_get_thread_num() * TT;
            const int64_t bh = ((int64_t)b * H + h) * TT;
            const float *p = a->att + bh, *pd = (amask ? a->attd : a->att) + bh;
            const int64_t qo = (int64_t)b * T * D3 + (int64_t)h * HD;
            const float *q = a->qkv + qo, *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + qo, *dk = dq + D, *dv = dq + 2 * D;
            const float *dc = dctx + (int64_t)b * T * D + (int64_t)h * HD;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, 1.0f, dc, D, v,
                        (int)D3, 0.0f, ds, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, pd, T, dc, D,
                        1.0f, dv, (int)D3);
            if (amask)
                for (int64_t i = 0; i < TT; i++) ds[i] *= amask[bh + i];
            for (int i = 0; i < T; i++) {
                float *r = ds + (int64_t)i * T;
                const float *pr = p + (int64_t)i * T;
                double dot = 0;
                for (int j = 0; j < T; j++) dot += (double)r[j] * pr[j];
                const float d = (float)dot;
                for (int j = 0; j < T; j++) r[j] = pr[j] * (r[j] - d);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, scale, ds, T, k,
                        (int)D3, 1.0f, dq, (int)D3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, scale, ds, T, q,
                        (int)D3, 1.0f, dk, (int)D3);
        }
}

/* ---- forward ----------------------------------------------------------------------------- */

/* out (n) = inp + res (element-wise) */
static void add_into(float *out, const float *res, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) out[i] += res[i];
}

int assay_bert_forward(const assay_bert *m, assay_bert_work *w, const int32_t *ids,
                       const int32_t *type_ids, const int32_t *mask, int training,
                       assay_rng *rng, assay_bert_out *out, assay_error *err) {
    const assay_bert_config *c = &m->c;
    const int B = w->B, T = w->T, D = c->hidden_size, F = c->intermediate_size, K = c->num_labels;
    const int N = B * T;
    if (K != w->K) return assay_error_set(err, ASSAY_EINVAL, "bert: work made for another model");
    if (training && (!w->grad || !rng))
        return assay_error_set(err, ASSAY_EINVAL,
                               "bert: training forward needs a work made with grad and an rng");
    for (int i = 0; i < N; i++) {
        const int32_t id = ids[i], tt = type_ids ? type_ids[i] : 0, mk = mask ? mask[i] : 1;
        if (id < 0 || id >= c->vocab_size)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "bert: sequence %d token %d: id %d is outside the vocabulary "
                                   "[0, %d)", i / T, i % T, id, c->vocab_size);
        if (tt < 0 || tt >= c->type_vocab_size)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "bert: sequence %d token %d: token type %d is outside [0, %d)",
                                   i / T, i % T, tt, c->type_vocab_size);
        if (mk != 0 && mk != 1)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "bert: sequence %d token %d: attention mask %d is not 0 or 1",
                                   i / T, i % T, mk);
        w->ids[i] = id, w->tt[i] = tt, w->pos[i] = i % T;
        w->maskf[i] = (float)mk;
        w->maskadd[i] = mk ? 0.0f : -FLT_MAX;
    }
    const float *P = m->params;
    const int drop_h = training && c->hidden_dropout_prob > 0;
    w->trained = training;
    const int blas = assay__nn_blas_begin(), prec = assay__nn_precision_begin(w->prec);

    /* embeddings: (word + token type) + position, as BertEmbeddings sums them */
#pragma omp parallel for schedule(static) if ((int64_t)N * D >= 65536)
    for (int i = 0; i < N; i++) {
        const float *we = P + m->word + (int64_t)w->ids[i] * D;
        const float *te = P + m->type + (int64_t)w->tt[i] * D;
        const float *pe = P + m->pos + (int64_t)w->pos[i] * D;
        float *e = w->emb + (int64_t)i * D;
        for (int d = 0; d < D; d++) e[d] = (we[d] + te[d]) + pe[d];
    }
    float *h0 = w->hs[0];
    assay_nn_layernorm_forward(h0, w->emean, w->erstd, w->emb, P + m->eln_w, P + m->eln_b, N, D,
                               c->layer_norm_eps);
    if (drop_h) assay_nn_dropout_forward(h0, w->emask, h0, (int64_t)N * D, c->hidden_dropout_prob, rng);

    for (int l = 0; l < c->num_hidden_layers; l++) {
        const layer_off *L = &m->L[l];
        layer_act *a = &w->A[w->grad ? l : 0];
        const float *x = w->hs[l];
        float *y = w->hs[l + 1];
        const int64_t ND = (int64_t)N * D;
        assay_nn_linear_forward(a->qkv, x, P + L->qkv_w, P + L->qkv_b, N, D, 3 * D);
        attention_forward(w, a, c, training, rng);
        assay_nn_linear_forward(a->res1, a->ctx, P + L->ao_w, P + L->ao_b, N, D, D);
        if (drop_h) assay_nn_dropout_forward(a->res1, a->mask1, a->res1, ND, c->hidden_dropout_prob, rng);
        add_into(a->res1, x, ND);
        assay_nn_layernorm_forward(a->ln1, a->mean1, a->rstd1, a->res1, P + L->ln1_w, P + L->ln1_b,
                                   N, D, c->layer_norm_eps);
        if (w->grad) { /* the backward pass needs the pre-activation */
            assay_nn_linear_forward(a->fc, a->ln1, P + L->fc_w, P + L->fc_b, N, D, F);
            assay_nn_gelu_forward(a->gl, a->fc, (int64_t)N * F);
        } else {
            assay__nn_linear_gelu_forward(a->gl, a->ln1, P + L->fc_w, P + L->fc_b, N, D, F);
        }
        assay_nn_linear_forward(a->res2, a->gl, P + L->fo_w, P + L->fo_b, N, F, D);
        if (drop_h) assay_nn_dropout_forward(a->res2, a->mask2, a->res2, ND, c->hidden_dropout_prob, rng);
        add_into(a->res2, a->ln1, ND);
        assay_nn_layernorm_forward(y, a->mean2, a->rstd2, a->res2, P + L->ln2_w, P + L->ln2_b, N,
                                   D, c->layer_norm_eps);
    }

    /* pooler on [CLS], mean pooling over unmasked tokens, head */
    const float *hid = w->hidden;
    for (int b = 0; b < B; b++)
        memcpy(w->cls + (int64_t)b * D, hid + (int64_t)b * T * D, (size_t)D * sizeof(float));
    assay_nn_linear_forward(w->pooled, w->cls, P + m->pool_w, P + m->pool_b, B, D, D);
    assay_nn_tanh_forward(w->pooled, w->pooled, (int64_t)B * D);
    for (int b = 0; b < B; b++) {
        double cnt = 0;
        for (int t = 0; t < T; t++) cnt += w->maskf[b * T + t];
        float *mo = w->mean + (int64_t)b * D;
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                if (w->maskf[b * T + t] != 0) s += hid[((int64_t)b * T + t) * D + d];
            mo[d] = (float)(s / ASSAY_MAX(cnt, 1e-9));
        }
    }
    if (K) {
        if (training && c->classifier_dropout > 0)
            assay_nn_dropout_forward(w->pd, w->cmask, w->pooled, (int64_t)B * D,
                                     c->classifier_dropout, rng);
        else
            memcpy(w->pd, w->pooled, (size_t)B * D * sizeof(float));
        assay_nn_linear_forward(w->logits, w->pd, P + m->cls_w, P + m->cls_b, B, D, K);
    }
    assay__nn_precision_end(prec);
    assay__nn_blas_end(blas);
    if (out) assay_bert_work_out(w, out);
    return ASSAY_OK;
}

/* ---- backward ---------------------------------------------------------------------------- */

/* dst (n) = src * mask (mask NULL: a copy) */
static void mul_mask(float *dst, const float *src, const float *mask, int64_t n) {
    if (!mask) {
        if (dst != src) memcpy(dst, src, (size_t)n * sizeof *dst);
        return;
    }
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) dst[i] = src[i] * mask[i];
}

int assay_bert_backward(assay_bert *m, assay_bert_work *w, const float *dhidden,
                        const float *dpooled, const float *dmean, const float *dlogits,
                        assay_error *err) {
    const assay_bert_config *c = &m->c;
    const int B = w->B, T = w->T, D = c->hidden_size, F = c->intermediate_size, K = c->num_labels;
    const int N = B * T;
    const int64_t ND = (int64_t)N * D, BD = (int64_t)B * D;
    if (!w->grad)
        return assay_error_set(err, ASSAY_EINVAL, "bert: backward needs a work made with grad");
    if (!m->grads) return assay_error_set(err, ASSAY_EINVAL, "bert: gradients not zeroed");
    if (dlogits && !K) return assay_error_set(err, ASSAY_EINVAL, "bert: no classification head");
    const float *P = m->params;
    float *G = m->grads;
    const int drop_h = w->trained && c->hidden_dropout_prob > 0;
    const int blas = assay__nn_blas_begin(), prec = assay__nn_precision_begin(w->prec);

    /* heads down to dh = dL/dhidden */
    float *dh = w->dh, *dx = w->dx;
    if (dhidden) memcpy(dh, dhidden, (size_t)ND * sizeof *dh);
    else memset(dh, 0, (size_t)ND * sizeof *dh);
    memset(w->dpt, 0, (size_t)BD * sizeof(float));
    if (dlogits) {
        memset(w->dpd, 0, (size_t)BD * sizeof(float));
        assay_nn_linear_backward(w->dpd, G + m->cls_w, G + m->cls_b, dlogits, w->pd, P + m->cls_w,
                                 B, D, K);
        mul_mask(w->dpt, w->dpd, w->trained ? w->cmask : NULL, BD);
    }
    if (dpooled) add_into(w->dpt, dpooled, BD);
    if (dlogits || dpooled) {
        memset(w->dpre, 0, (size_t)BD * sizeof(float));
        assay_nn_tanh_backward(w->dpre, w->dpt, NULL, w->pooled, BD);
        memset(w->dcls, 0, (size_t)BD * sizeof(float));
        assay_nn_linear_backward(w->dcls, G + m->pool_w, G + m->pool_b, w->dpre, w->cls,
                                 P + m->pool_w, B, D, D);
        for (int b = 0; b < B; b++) add_into(dh + (int64_t)b * T * D, w->dcls + (int64_t)b * D, D);
    }
    if (dmean)
        for (int b = 0; b < B; b++) {
            double cnt = 0;
            for (int t = 0; t < T; t++) cnt += w->maskf[b * T + t];
            const float inv = (float)(1.0 / ASSAY_MAX(cnt, 1e-9));
            for (int t = 0; t < T; t++) {
                if (w->maskf[b * T + t] == 0) continue;
                float *r = dh + ((int64_t)b * T + t) * D;
                for (int d = 0; d < D; d++) r[d] += dmean[(int64_t)b * D + d] * inv;
            }
        }

    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        const layer_off *L = &m->L[l];
        const layer_act *a = &w->A[l];
        const float *x = w->hs[l];
        /* output LayerNorm, residual, FFN */
        memset(w->dres, 0, (size_t)ND * sizeof(float));
        assay_nn_layernorm_backward(w->dres, G + L->ln2_w, G + L->ln2_b, dh, a->res2, a->mean2,
                                    a->rstd2, P + L->ln2_w, N, D);
        memcpy(w->dln1, w->dres, (size_t)ND * sizeof(float));
        mul_mask(w->dres, w->dres, drop_h ? a->mask2 : NULL, ND);
        memset(w->dI1, 0, (size_t)N * F * sizeof(float));
        assay_nn_linear_backward(w->dI1, G + L->fo_w, G + L->fo_b, w->dres, a->gl, P + L->fo_w, N,
                                 F, D);
        memset(w->dI2, 0, (size_t)N * F * sizeof(float));
        assay_nn_gelu_backward(w->dI2, w->dI1, a->fc, NULL, (int64_t)N * F);
        assay_nn_linear_backward(w->dln1, G + L->fc_w, G + L->fc_b, w->dI2, a->ln1, P + L->fc_w,
                                 N, D, F);
        /* attention LayerNorm, residual, output dense, attention, query/key/value */
        memset(w->dres, 0, (size_t)ND * sizeof(float));
        assay_nn_layernorm_backward(w->dres, G + L->ln1_w, G + L->ln1_b, w->dln1, a->res1,
                                    a->mean1, a->rstd1, P + L->ln1_w, N, D);
        memcpy(dx, w->dres, (size_t)ND * sizeof(float));
        mul_mask(w->dres, w->dres, drop_h ? a->mask1 : NULL, ND);
        memset(w->dctx, 0, (size_t)ND * sizeof(float));
        assay_nn_linear_backward(w->dctx, G + L->ao_w, G + L->ao_b, w->dres, a->ctx, P + L->ao_w,
                                 N, D, D);
        memset(w->dqkv, 0, (size_t)ND * 3 * sizeof(float));
        attention_backward(w->dqkv, w->dctx, a, w, c);
        assay_nn_linear_backward(dx, G + L->qkv_w, G + L->qkv_b, w->dqkv, x, P + L->qkv_w, N, D,
                                 3 * D);
        float *t = dh;
        dh = dx, dx = t;
    }

    /* embeddings */
    mul_mask(dh, dh, drop_h ? w->emask : NULL, ND);
    memset(w->demb, 0, (size_t)ND * sizeof(float));
    assay_nn_layernorm_backward(w->demb, G + m->eln_w, G + m->eln_b, dh, w->emb, w->emean,
                                w->erstd, P + m->eln_w, N, D);
    assay_nn_embedding_backward(G + m->word, w->demb, w->ids, N, c->vocab_size, D);
    assay_nn_embedding_backward(G + m->type, w->demb, w->tt, N, c->type_vocab_size, D);
    assay_nn_embedding_backward(G + m->pos, w->demb, w->pos, N, c->max_position_embeddings, D);
    assay__nn_precision_end(prec);
    assay__nn_blas_end(blas);
    return ASSAY_OK;
}

int assay_bert_work_set_precision(assay_bert_work *w, assay_nn_precision p, assay_error *err) {
    const int rc = assay_nn_precision_check(p, "bert", err);
    if (rc) return rc;
    w->prec = p;
    return ASSAY_OK;
}

assay_nn_precision assay_bert_work_precision(const assay_bert_work *w) { return w->prec; }

const float *assay_bert_work_dembed(const assay_bert_work *w) { return w->demb; }

int assay_bert_cls_backward(assay_bert *m, assay_bert_work *w, const int32_t *labels,
                            double *loss, assay_error *err) {
    const int K = m->c.num_labels;
    if (!K) return assay_error_set(err, ASSAY_EINVAL, "bert: no classification head");
    for (int b = 0; b < w->B; b++)
        if (labels[b] < 0 || labels[b] >= K)
            return assay_error_set(err, ASSAY_EINVAL, "bert: sequence %d: label %d is outside "
                                   "[0, %d)", b, labels[b], K);
    const double l = assay_nn_softmax_xent(w->dlogits, w->logits, labels, NULL, w->B, K, 0.0f);
    if (loss) *loss = l;
    return assay_bert_backward(m, w, NULL, NULL, NULL, w->dlogits, err);
}
