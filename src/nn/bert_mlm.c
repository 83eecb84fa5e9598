/* bert_mlm.c - masked-language-model pretraining of the BERT encoder: masking, the masked-LM
 * head of Hugging Face's BertForMaskedLM (modeling_bert.py: BertPredictionHeadTransform = dense
 * -> erf GELU -> LayerNorm; BertLMPredictionHead's decoder = the word embeddings (tied) plus
 * cls.predictions.bias), its loss (CrossEntropyLoss over the selected positions), backward,
 * AdamW steps with clipping over encoder and head, and checkpoints with training state.
 *
 * The head runs only on the M selected rows (gathered from the encoder's last hidden states):
 * the loss ignores every other row (label -100), so their logits would be thrown away; this
 * gives the same loss and gradients as Hugging Face's (B, T, V) logits at about 15% of the
 * decoder's cost. Scratch for those rows is kept by the head and grows to the largest M seen.
 *
 * Only bert.h's public interface is used: the optimizer moments of the encoder live here (one
 * flat buffer in the layout of assay_bert_params, then the head's), so that they can be saved
 * and restored for an exact resume.
 *
 * Not here: the next-sentence head, whole-word masking, corpus handling (cli/cmd_pretrain.c). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"
#include "assay/bert_mlm.h"
#include "net.h"

/* Dimension letters: N rows (B * T), M selected rows, D hidden, V vocabulary. */

enum { H_DENSE_W, H_DENSE_B, H_LN_W, H_LN_B, H_BIAS, H_NT };

struct assay_bert_mlm {
    int D, V;
    float eps;
    float *params, *grads; /* nh floats each, in the order of the views */
    int64_t nh;
    assay_bert_tensor t[H_NT];
    float *m, *v;          /* AdamW moments: nb encoder floats, then nh head floats */
    int64_t nb;
    long steps;
    /* scratch for up to cap selected rows, and dhidden for up to ncap rows */
    int cap;
    int32_t *rows, *lab;
    float *x, *t1, *g, *y, *mean, *rstd, *logits, *dlog, *dy, *dg, *dt1, *dx;
    int64_t ncap;
    float *dhidden;
    int M;                 /* rows of the last loss */
};

/* ---- masking ------------------------------------------------------------------------------ */

int64_t assay_bert_mlm_mask(int32_t *inputs, int32_t *labels, const int32_t *ids, int64_t n,
                            const uint8_t *special, int32_t V, int32_t mask_id, float prob,
                            assay_rng *rng) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        const int32_t id = ids[i];
        inputs[i] = id;
        labels[i] = -100;
        if (id < 0 || id >= V || special[id]) continue;
        if (!(assay_rng_uniform(rng) < (double)prob)) continue;
        labels[i] = id;
        count++;
        const double u = assay_rng_uniform(rng);
        if (u < 0.8) {
            inputs[i] = mask_id;
        } else if (u < 0.9) {
            /* a non-special id (specials are few: rejection ends quickly; a vocabulary of
             * specials only keeps the id) */
            for (int tries = 0; tries < 64; tries++) {
                const int32_t r = (int32_t)assay_rng_below(rng, (uint64_t)V);
                if (!special[r]) {
                    inputs[i] = r;
                    break;
                }
            }
        }
    }
    return count;
}

/* ---- the head ------------------------------------------------------------------------------ */

static void hview(assay_bert_mlm *h, int i, const char *name, int64_t off, int64_t d0, int64_t d1,
                  int decay) {
    assay_bert_tensor *t = &h->t[i];
    snprintf(t->name, sizeof t->name, "cls.predictions.%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = d1 ? d0 * d1 : d0;
    t->offset = off;
    t->decay = decay;
}

int assay_bert_mlm_new(const assay_bert *bert, uint64_t seed, assay_bert_mlm **out,
                       assay_error *err) {
    *out = NULL;
    const assay_bert_config *c = assay_bert_get_config(bert);
    assay_bert_mlm *h = assay_calloc(1, sizeof *h);
    if (!h) return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory");
    const int64_t D = c->hidden_size, V = c->vocab_size;
    h->D = c->hidden_size, h->V = c->vocab_size, h->eps = c->layer_norm_eps;
    int64_t o = 0;
    hview(h, H_DENSE_W, "transform.dense.weight", o, D, D, 1), o += D * D;
    hview(h, H_DENSE_B, "transform.dense.bias", o, D, 0, 0), o += D;
    hview(h, H_LN_W, "transform.LayerNorm.weight", o, D, 0, 0), o += D;
    hview(h, H_LN_B, "transform.LayerNorm.bias", o, D, 0, 0), o += D;
    hview(h, H_BIAS, "bias", o, V, 0, 0), o += V;
    h->nh = o;
    assay_bert_params((assay_bert *)(uintptr_t)bert, &h->nb);
    h->params = assay_calloc((size_t)o, sizeof(float));
    h->grads = assay_calloc((size_t)o, sizeof(float));
    if (!h->params || !h->grads) {
        assay_bert_mlm_free(h);
        return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory for the head");
    }
    assay_rng rng;
    assay_rng_seed(&rng, seed ^ 0x6d6c6d68656164ULL); /* "mlmhead": apart from the encoder's */
    assay_nn_init_normal(h->params + h->t[H_DENSE_W].offset, D * D, 0.02f, &rng);
    for (int64_t i = 0; i < D; i++) h->params[h->t[H_LN_W].offset + i] = 1.0f;
    *out = h;
    return ASSAY_OK;
}

static void free_scratch(assay_bert_mlm *h) {
    float **f[] = {&h->x, &h->t1, &h->g, &h->y, &h->mean, &h->rstd, &h->logits, &h->dlog,
                   &h->dy, &h->dg, &h->dt1, &h->dx};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) assay_free(*f[i]), *f[i] = NULL;
    assay_free(h->rows), assay_free(h->lab);
    h->rows = h->lab = NULL;
    h->cap = 0;
}

void assay_bert_mlm_free(assay_bert_mlm *h) {
    if (!h) return;
    free_scratch(h);
    assay_free(h->dhidden);
    assay_free(h->params);
    assay_free(h->grads);
    assay_free(h->m);
    assay_free(h->v);
    assay_free(h);
}

int assay_bert_mlm_tensor_count(const assay_bert_mlm *h) {
    (void)h;
    return H_NT;
}
const assay_bert_tensor *assay_bert_mlm_tensor_at(const assay_bert_mlm *h, int i) {
    return i >= 0 && i < H_NT ? &h->t[i] : NULL;
}
float *assay_bert_mlm_params(assay_bert_mlm *h, int64_t *n) {
    if (n) *n = h->nh;
    return h->params;
}
float *assay_bert_mlm_grads(assay_bert_mlm *h, int64_t *n) {
    if (n) *n = h->nh;
    return h->grads;
}
long assay_bert_mlm_steps(const assay_bert_mlm *h) { return h->steps; }

void assay_bert_mlm_restart(assay_bert_mlm *h) {
    assay_free(h->m), assay_free(h->v);
    h->m = h->v = NULL;
    h->steps = 0;
}
const float *assay_bert_mlm_logits(const assay_bert_mlm *h) { return h->logits; }

int assay_bert_mlm_zero_grad(assay_bert *bert, assay_bert_mlm *h, assay_error *err) {
    int rc = assay_bert_zero_grad(bert, err);
    if (rc) return rc;
    memset(h->grads, 0, (size_t)h->nh * sizeof(float));
    return ASSAY_OK;
}

/* Scratch for M selected rows. */
static int reserve(assay_bert_mlm *h, int M, assay_error *err) {
    if (M <= h->cap) return ASSAY_OK;
    free_scratch(h);
    const size_t MD = (size_t)M * h->D, MV = (size_t)M * h->V;
    h->rows = assay_mallocarray((size_t)M, sizeof *h->rows);
    h->lab = assay_mallocarray((size_t)M, sizeof *h->lab);
    float **f[] = {&h->x, &h->t1, &h->g, &h->y, &h->dy, &h->dg, &h->dt1, &h->dx};
    int ok = h->rows && h->lab;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) ok &= !!(*f[i] = assay_mallocarray(MD, sizeof(float)));
    ok &= !!(h->mean = assay_mallocarray((size_t)M, sizeof(float)));
    ok &= !!(h->rstd = assay_mallocarray((size_t)M, sizeof(float)));
    ok &= !!(h->logits = assay_mallocarray(MV, sizeof(float)));
    ok &= !!(h->dlog = assay_mallocarray(MV, sizeof(float)));
    if (!ok) {
        free_scratch(h);
        return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory for %d x %d logits", M,
                               h->V);
    }
    h->cap = M;
    return ASSAY_OK;
}

int assay_bert_mlm_loss(assay_bert *bert, assay_bert_mlm *h, assay_bert_work *w,
                        const int32_t *labels, int64_t n, int backward, float scale,
                        double *loss, int64_t *count, assay_error *err) {
    const int D = h->D, V = h->V;
    const assay_bert_config *c = assay_bert_get_config(bert);
    if (c->hidden_size != D || c->vocab_size != V)
        return assay_error_set(err, ASSAY_EINVAL, "bert mlm: head made for another model");
    if (n <= 0 || n > INT32_MAX / (D > V ? D : V))
        return assay_error_set(err, ASSAY_EINVAL, "bert mlm: %" PRId64 " rows", n);
    int M = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0) continue;
        if (labels[i] >= V)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "bert mlm: row %" PRId64 ": label %d is outside [0, %d)", i,
                                   labels[i], V);
        M++;
    }
    if (loss) *loss = 0;
    if (count) *count = M;
    h->M = M;
    if (M == 0) return ASSAY_OK;
    int rc = reserve(h, M, err);
    if (rc) return rc;
    assay_bert_out o;
    assay_bert_work_out(w, &o);
    for (int64_t i = 0, k = 0; i < n; i++)
        if (labels[i] >= 0) h->rows[k] = (int32_t)i, h->lab[k] = labels[i], k++;
    const float *P = h->params, *word = NULL;
    const assay_bert_tensor *we = assay_bert_tensor_find(bert, "bert.embeddings.word_embeddings.weight");
    float *BP = assay_bert_params(bert, NULL);
    word = BP + we->offset;
    const int64_t MD = (int64_t)M * D;
    const int blas = assay__nn_blas_begin(),
              prec = assay__nn_precision_begin(assay_bert_work_precision(w));
    for (int k = 0; k < M; k++)
        memcpy(h->x + (int64_t)k * D, o.hidden + (int64_t)h->rows[k] * D, (size_t)D * sizeof(float));
    /* transform: dense -> GELU -> LayerNorm; decoder: y @ word^T + bias */
    assay_nn_linear_forward(h->t1, h->x, P + h->t[H_DENSE_W].offset, P + h->t[H_DENSE_B].offset,
                            M, D, D);
    assay_nn_gelu_forward(h->g, h->t1, MD);
    assay_nn_layernorm_forward(h->y, h->mean, h->rstd, h->g, P + h->t[H_LN_W].offset,
                               P + h->t[H_LN_B].offset, M, D, h->eps);
    assay_nn_linear_forward(h->logits, h->y, word, P + h->t[H_BIAS].offset, M, D, V);
    const double l = assay_nn_softmax_xent(h->dlog, h->logits, h->lab, NULL, M, V, 0.0f);
    if (loss) *loss = l;
    if (!backward) {
        assay__nn_precision_end(prec);
        assay__nn_blas_end(blas);
        return ASSAY_OK;
    }
    if (!isfinite(l)) {
        assay__nn_precision_end(prec);
        assay__nn_blas_end(blas);
        return ASSAY_OK; /* the caller sees the loss; gradients would be garbage */
    }
    float *G = h->grads, *BG = assay_bert_grads(bert, NULL);
    if (!BG) {
        assay__nn_precision_end(prec);
        assay__nn_blas_end(blas);
        return assay_error_set(err, ASSAY_EINVAL, "bert mlm: gradients not zeroed");
    }
    if (scale != 1.0f)
        for (int64_t i = 0; i < (int64_t)M * V; i++) h->dlog[i] *= scale;
    memset(h->dy, 0, (size_t)MD * sizeof(float));
    /* the tied decoder: its weight gradient goes into the word embeddings' */
    assay_nn_linear_backward(h->dy, BG + we->offset, G + h->t[H_BIAS].offset, h->dlog, h->y, word,
                             M, D, V);
    memset(h->dg, 0, (size_t)MD * sizeof(float));
    assay_nn_layernorm_backward(h->dg, G + h->t[H_LN_W].offset, G + h->t[H_LN_B].offset, h->dy,
                                h->g, h->mean, h->rstd, P + h->t[H_LN_W].offset, M, D);
    memset(h->dt1, 0, (size_t)MD * sizeof(float));
    assay_nn_gelu_backward(h->dt1, h->dg, h->t1, h->g, MD);
    memset(h->dx, 0, (size_t)MD * sizeof(float));
    assay_nn_linear_backward(h->dx, G + h->t[H_DENSE_W].offset, G + h->t[H_DENSE_B].offset,
                             h->dt1, h->x, P + h->t[H_DENSE_W].offset, M, D, D);
    assay__nn_precision_end(prec);
    assay__nn_blas_end(blas);
    if (n > h->ncap) {
        assay_free(h->dhidden);
        h->ncap = 0;
        h->dhidden = assay_mallocarray((size_t)n * D, sizeof(float));
        if (!h->dhidden) return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory");
        h->ncap = n;
    }
    memset(h->dhidden, 0, (size_t)n * D * sizeof(float));
    for (int k = 0; k < M; k++)
        memcpy(h->dhidden + (int64_t)h->rows[k] * D, h->dx + (int64_t)k * D,
               (size_t)D * sizeof(float));
    return assay_bert_backward(bert, w, h->dhidden, NULL, NULL, NULL, err);
}

/* ---- optimizer ------------------------------------------------------------------------------ */

int assay_bert_mlm_step(assay_bert *bert, assay_bert_mlm *h, const assay_nn_optim *o, float lr,
                        double max_norm, double *norm, assay_error *err) {
    int64_t nb;
    float *P = assay_bert_params(bert, &nb), *G = assay_bert_grads(bert, NULL);
    if (nb != h->nb) return assay_error_set(err, ASSAY_EINVAL, "bert mlm: head made for another model");
    if (!G) return assay_error_set(err, ASSAY_EINVAL, "bert mlm: step before any gradient");
    if (!h->m) {
        h->m = assay_calloc((size_t)(nb + h->nh), sizeof(float));
        h->v = assay_calloc((size_t)(nb + h->nh), sizeof(float));
        if (!h->m || !h->v) {
            assay_free(h->m), assay_free(h->v);
            h->m = h->v = NULL;
            return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory for optimizer state");
        }
    }
    const double a = assay_nn_grad_norm(G, nb), b = assay_nn_grad_norm(h->grads, h->nh);
    const double total = sqrt(a * a + b * b);
    if (norm) *norm = total;
    if (max_norm > 0 && total > max_norm) {
        /* torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6) */
        const float s = (float)(max_norm / (total + 1e-6));
        for (int64_t i = 0; i < nb; i++) G[i] *= s;
        for (int64_t i = 0; i < h->nh; i++) h->grads[i] *= s;
    }
    h->steps++;
    for (int i = 0; i < assay_bert_tensor_count(bert); i++) {
        const assay_bert_tensor *t = assay_bert_tensor_at(bert, i);
        if (strncmp(t->name, "bert.pooler.", 12) == 0) continue; /* not in BertForMaskedLM */
        assay_nn_optim_step(o, P + t->offset, G + t->offset, h->m + t->offset, h->v + t->offset,
                            t->numel, h->steps, lr, t->decay ? 1.0f : 0.0f);
    }
    for (int i = 0; i < H_NT; i++) {
        const assay_bert_tensor *t = &h->t[i];
        assay_nn_optim_step(o, h->params + t->offset, h->grads + t->offset, h->m + nb + t->offset,
                            h->v + nb + t->offset, t->numel, h->steps, lr, t->decay ? 1.0f : 0.0f);
    }
    return ASSAY_OK;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

int assay_bert_mlm_save(const assay_bert *bert, const assay_bert_mlm *h, const char *dir,
                        assay_error *err) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return assay_error_set(err, ASSAY_EIO, "%s: %s", dir, strerror(errno));
    char path[4096], num[32];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = assay_bert_config_save(assay_bert_get_config(bert),
                                    "{\"architectures\": [\"BertForMaskedLM\"], \"pad_token_id\": 0, "
                                    "\"tie_word_embeddings\": true}", path, err);
    if (rc) return rc;
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (!w) return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory");
    rc = assay_bert_add_tensors(bert, w, err);
    for (int i = 0; i < H_NT && !rc; i++)
        rc = assay_mfile_writer_add(w, h->t[i].name, ASSAY_F32, h->t[i].ndim, h->t[i].shape,
                                    h->params + h->t[i].offset, err);
    snprintf(num, sizeof num, "%ld", h->steps);
    if (!rc) rc = assay_mfile_writer_meta(w, "format", "pt", err);
    if (!rc) rc = assay_mfile_writer_meta(w, "assay.mlm_steps", num, err);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = assay_mfile_writer_save(w, path, err);
    assay_mfile_writer_free(w);
    return rc;
}

int assay_bert_mlm_load(const char *dir, uint64_t seed, assay_bert **bert, assay_bert_mlm **h,
                        long *steps, assay_error *err) {
    *bert = NULL;
    *h = NULL;
    if (steps) *steps = -1;
    assay_bert *b = NULL;
    assay_bert_mlm *hh = NULL;
    assay_mfile *f = NULL;
    int rc = assay_bert_load(dir, -1, seed, &b, err);
    if (rc) return rc;
    if ((rc = assay_bert_mlm_new(b, seed, &hh, err))) goto done;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    /* assay_bert_load has read and validated the file; the head's tensors that it lacks (a
     * Hugging Face BertModel) start from seed */
    if ((rc = assay_bert_checkpoint_read(path, &f, err))) goto done;
    for (int i = 0; i < H_NT; i++) {
        const assay_bert_tensor *v = &hh->t[i];
        const assay_tensor *t = assay_mfile_tensor(f, v->name);
        if (!t) continue;
        int ok = t->dtype == ASSAY_F32 && t->ndim == v->ndim;
        for (int d = 0; ok && d < v->ndim; d++) ok = t->shape[d] == v->shape[d];
        if (!ok) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "%s: tensor '%s' has the wrong dtype or "
                                 "shape for config.json", path, v->name);
            goto done;
        }
        memcpy(hh->params + v->offset, t->data, (size_t)v->numel * sizeof(float));
    }
    const char *s = assay_mfile_meta(f, "assay.mlm_steps");
    if (s && steps) *steps = strtol(s, NULL, 10);
    if (s) hh->steps = strtol(s, NULL, 10);
    *bert = b, *h = hh;
    b = NULL, hh = NULL;
done:
    assay_mfile_free(f);
    assay_bert_mlm_free(hh);
    assay_bert_free(b);
    return rc;
}

int assay_bert_mlm_state_save(const assay_bert_mlm *h, const assay_rng *rng,
                              const char *train_json, const char *path, assay_error *err) {
    if (!h->m) return assay_error_set(err, ASSAY_EINVAL, "bert mlm: no optimizer state before the first step");
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (!w) return assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory");
    const int64_t shape[1] = {h->nb + h->nh};
    char num[32], rs[80];
    snprintf(num, sizeof num, "%ld", h->steps);
    snprintf(rs, sizeof rs, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, rng->s[0],
             rng->s[1], rng->s[2], rng->s[3]);
    int rc = assay_mfile_writer_add(w, "exp_avg", ASSAY_F32, 1, shape, h->m, err);
    if (!rc) rc = assay_mfile_writer_add(w, "exp_avg_sq", ASSAY_F32, 1, shape, h->v, err);
    if (!rc) rc = assay_mfile_writer_meta(w, "assay.mlm_steps", num, err);
    if (!rc) rc = assay_mfile_writer_meta(w, "assay.rng", rs, err);
    if (!rc && train_json) rc = assay_mfile_writer_meta(w, "assay.train", train_json, err);
    if (!rc) rc = assay_mfile_writer_save(w, path, err);
    assay_mfile_writer_free(w);
    return rc;
}

int assay_bert_mlm_state_load(assay_bert_mlm *h, assay_rng *rng, char **train_json,
                              const char *path, assay_error *err) {
    if (train_json) *train_json = NULL;
    assay_mfile *f = NULL;
    int rc = assay_mfile_load(path, &f, err);
    if (rc) return rc;
    const assay_tensor *m = NULL, *v = NULL;
    if ((rc = assay_mfile_expect(f, "exp_avg", ASSAY_F32, 1, &m, err)) ||
        (rc = assay_mfile_expect(f, "exp_avg_sq", ASSAY_F32, 1, &v, err)))
        goto done;
    const int64_t n = h->nb + h->nh;
    if (m->shape[0] != n || v->shape[0] != n) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: optimizer state of %" PRId64
                             " parameters, the model has %" PRId64, path, m->shape[0], n);
        goto done;
    }
    const char *st = assay_mfile_meta(f, "assay.mlm_steps"), *rs = assay_mfile_meta(f, "assay.rng");
    char *end = NULL;
    long steps = st ? strtol(st, &end, 10) : -1;
    if (!st || *end || steps < 0 || !rs || strlen(rs) != 64) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: no step count or RNG state", path);
        goto done;
    }
    uint64_t s[4];
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, rs + 16 * i, 16);
        part[16] = 0;
        s[i] = strtoull(part, &end, 16);
        if (*end) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "%s: bad RNG state", path);
            goto done;
        }
    }
    if (!h->m) {
        h->m = assay_calloc((size_t)n, sizeof(float));
        h->v = assay_calloc((size_t)n, sizeof(float));
        if (!h->m || !h->v) {
            rc = assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory for optimizer state");
            goto done;
        }
    }
    if (train_json) {
        const char *tj = assay_mfile_meta(f, "assay.train");
        *train_json = assay_strdup(tj ? tj : "");
        if (!*train_json) {
            rc = assay_error_set(err, ASSAY_ENOMEM, "bert mlm: out of memory");
            goto done;
        }
    }
    memcpy(h->m, m->data, (size_t)n * sizeof(float));
    memcpy(h->v, v->data, (size_t)n * sizeof(float));
    h->steps = steps;
    memcpy(rng->s, s, sizeof s);
done:
    assay_mfile_free(f);
    return rc;
}
