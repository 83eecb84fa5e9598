/* bert_clf.c - the `bert` estimator: fine-tunes a BERT encoder (include/assay/bert.h) with
 * BertForSequenceClassification's head (softmax over K classes on the pooled [CLS] output) on
 * the text columns of a table, and keeps the whole encoder in the model file so that predict
 * and serve need nothing else.
 *
 * Input: the pipeline turns each text column into WordPiece ids of the encoder's vocab.txt
 * (the WORDPIECE vectorizer, set up by bert_prep before the pipeline is fitted), max_len design
 * columns per text column. One text column gives [CLS] a [SEP]; two give the pair
 * [CLS] a [SEP] b [SEP] with segment ids 0 / 1, cut to max_len tokens the longer first
 * (transformers' 'longest_first'). Batches are padded only to their longest row.
 *
 * The head (classifier.* tensors) reads the mean of the last hidden states over the tokens
 * (pooling=mean, the default: an encoder pretrained by masked language modelling alone never
 * trained its pooler, and on fine_foods the mean did better for pretrained and random encoders
 * alike, bench/RESULTS.md), or BertForSequenceClassification's pooled [CLS] output (pooling=cls).
 * The model file records which.
 *
 * Training: AdamW (Hugging Face's grouping: no decay for biases and LayerNorm weights), linear
 * warmup then linear decay to 0, gradient norm clipped at 1, dropout from the encoder's config,
 * examples shuffled per epoch by the seed. init=random keeps the encoder's architecture and
 * vocabulary but starts from fresh weights (a baseline "from scratch").
 *
 * precision=bf16 multiplies the dense layers in bf16 with fp32 accumulation (gemm.c); the
 * weights, the optimizer and everything else stay fp32, so the file is the same either way.
 *
 * Not here: regression, sample weights, tabular columns beside the text (they are left out by
 * the model for this estimator). */
#include <math.h>

#include "assay/bert.h"
#include "assay/wordpiece.h"
#include "estimator.h"
#include "linalg.h"

typedef struct bert_clf {
    assay_estimator base;
    char *encoder;             /* the checkpoint directory (fit only) */
    int init_random;
    int mean_pool;             /* pooling=mean: the head reads the mean-pooled embedding */
    int bf16;                  /* precision=bf16: dense-layer products in bf16 (gemm.c) */
    long epochs, batch, max_len;
    double lr, warmup, weight_decay;
    int32_t cls, sep;          /* special ids of the vocabulary */
    int nblocks;               /* text columns: 1 or 2 */
    assay_bert *m;
    /* training summary */
    int epochs_run;
    double seconds, tokens_per_second;
    double *train_loss;
} bert_clf;

static const char *const known[] = {"encoder", "init", "epochs", "batch_size", "lr", "max_len",
                                    "warmup", "weight_decay", "pooling", "precision", NULL};
static const char *const inits[] = {"pretrained", "random", NULL};
static const char *const poolings[] = {"cls", "mean", NULL};
static const char *const precisions[] = {"fp32", "bf16", NULL};

static void bert_free(assay_estimator *e) {
    if (!e) return;
    bert_clf *b = (bert_clf *)e;
    assay_bert_free(b->m);
    assay_free(b->encoder);
    assay_free(b->train_loss);
    assay_free(b);
}

static int bert_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                       assay_estimator **out, assay_error *err) {
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, known, "bert", err))) return rc;
    bert_clf *b = assay_calloc(1, sizeof *b);
    if (!b) return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
    b->base.vt = &assay__bert_vt;
    b->base.task = task;
    b->base.nclasses = nclasses;
    b->base.nfeatures = nfeatures;
    const char *enc = assay_params_get(p, "encoder");
    if ((enc && !(b->encoder = assay_strdup(enc))) ||
        (rc = assay_params_choice(p, "init", inits, 0, &b->init_random, err)) ||
        (rc = assay_params_choice(p, "pooling", poolings, 1, &b->mean_pool, err)) ||
        (rc = assay_params_choice(p, "precision", precisions, 0, &b->bf16, err)) ||
        (rc = assay_params_int(p, "epochs", 3, 1, 1000, &b->epochs, err)) ||
        (rc = assay_params_int(p, "batch_size", 16, 1, 4096, &b->batch, err)) ||
        (rc = assay_params_int(p, "max_len", 128, 3, 65536, &b->max_len, err)) ||
        (rc = assay_params_double(p, "lr", 5e-5, 1e-9, 1, &b->lr, err)) ||
        (rc = assay_params_double(p, "warmup", 0.1, 0, 1, &b->warmup, err)) ||
        (rc = assay_params_double(p, "weight_decay", 0.01, 0, 10, &b->weight_decay, err))) {
        if (!rc) rc = assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
        bert_free(&b->base);
        return rc;
    }
    b->nblocks = (int)(nfeatures / b->max_len);
    if (nfeatures % b->max_len || b->nblocks < 1 || b->nblocks > 2) {
        bert_free(&b->base);
        return assay_error_set(err, ASSAY_EINVAL,
                               "bert: reads one text column, or two as a pair; the design has %lld "
                               "columns for max_len %ld", (long long)nfeatures, b->max_len);
    }
    *out = &b->base;
    return ASSAY_OK;
}

/* DIR/name into buf; ASSAY_EINVAL if it does not fit. */
static int dir_file(char *buf, size_t n, const char *dir, const char *name, assay_error *err) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return assay_error_set(err, ASSAY_EINVAL, "bert: encoder path '%s' is too long", dir);
    return ASSAY_OK;
}

/* do_lower_case of DIR/tokenizer_config.json when the file says (Hugging Face's cased models
 * say false), else 1. */
static int encoder_lowercase(const char *dir) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= sizeof path) return 1;
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    const json_t *v = json_object_get(doc, "do_lower_case");
    int lower = json_is_boolean(v) ? json_is_true(v) : 1;
    json_decref(doc);
    return lower;
}

/* Before the pipeline is fitted: text columns become token ids of the encoder's vocabulary. */
static int bert_prep(const assay_params *p, assay_prep_options *o, assay_error *err) {
    const char *enc = assay_params_get(p, "encoder");
    if (!enc || !*enc)
        return assay_error_set(err, ASSAY_EINVAL, "model 'bert' needs an encoder: --encoder DIR (a "
                               "directory with config.json, vocab.txt and model.safetensors, as "
                               "written by assay pretrain or Hugging Face)");
    long max_len;
    int rc = assay_params_int(p, "max_len", 128, 3, 65536, &max_len, err);
    if (rc) return rc;
    assay_vectorizer_options_init(&o->text, ASSAY_VEC_WORDPIECE);
    if ((rc = dir_file(o->text.vocab, sizeof o->text.vocab, enc, "vocab.txt", err))) return rc;
    o->text.max_len = (int)max_len;
    o->text.lowercase = encoder_lowercase(enc);
    return ASSAY_OK;
}

/* ---- batches -------------------------------------------------------------------------------- */

/* The tokens of design row r, block k: CSR entries in [k T, (k+1) T). */
static void row_block(const assay_csr *X, int64_t r, int k, int64_t T, int64_t *q0, int64_t *n) {
    int64_t lo = X->indptr[r], hi = X->indptr[r + 1], a = lo;
    while (a < hi && X->indices[a] < k * T) a++;
    int64_t b = a;
    while (b < hi && X->indices[b] < (k + 1) * T) b++;
    *q0 = a;
    *n = b - a;
}

/* Lengths of the one or two segments of row r after truncation to max_len tokens with the
 * specials. */
static void row_lengths(const bert_clf *b, const assay_csr *X, int64_t r, int64_t q[2], int64_t len[2]) {
    const int64_t T = b->max_len;
    len[1] = 0, q[1] = 0;
    for (int k = 0; k < b->nblocks; k++) row_block(X, r, k, T, &q[k], &len[k]);
    int64_t room = T - (b->nblocks == 2 ? 3 : 2);
    while (len[0] + len[1] > room) { /* longest_first: one token at a time, b on a tie */
        if (len[1] >= len[0]) len[1]--;
        else len[0]--;
    }
}

typedef struct batch {
    int B, T;
    int32_t *ids, *types, *mask, *labels;
} batch;

static void batch_free(batch *bt) {
    assay_free(bt->ids), assay_free(bt->types), assay_free(bt->mask), assay_free(bt->labels);
    memset(bt, 0, sizeof *bt);
}

/* Rows rows[0..B) of X as a padded batch (T = its longest row, rounded up in bf16), labels
 * from y (may be NULL). */
static int batch_fill(const bert_clf *b, const assay_csr *X, const int64_t *rows, int B,
                      const double *y, batch *bt, assay_error *err) {
    int64_t T = 2;
    for (int i = 0; i < B; i++) {
        int64_t q[2], len[2];
        row_lengths(b, X, rows[i], q, len);
        int64_t t = len[0] + len[1] + (b->nblocks == 2 ? 3 : 2);
        if (t > T) T = t;
    }
    /* bf16: T up to a multiple of 16 (at most max_len), so that a corpus of varied lengths
     * gives a few product shapes, each compiled once by oneDNN, rather than one per length */
    if (b->bf16 && assay_nn_bf16_supported()) T = ASSAY_MIN((int64_t)b->max_len, (T + 15) / 16 * 16);
    size_t n = (size_t)B * (size_t)T;
    if (n > (size_t)bt->B * (size_t)bt->T || !bt->ids) {
        batch_free(bt);
        bt->ids = assay_mallocarray(n, sizeof(int32_t));
        bt->types = assay_mallocarray(n, sizeof(int32_t));
        bt->mask = assay_mallocarray(n, sizeof(int32_t));
        bt->labels = assay_mallocarray((size_t)B, sizeof(int32_t));
        if (!bt->ids || !bt->types || !bt->mask || !bt->labels) {
            batch_free(bt);
            return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory for a batch");
        }
    }
    bt->B = B, bt->T = (int)T;
    for (int i = 0; i < B; i++) {
        int64_t q[2], len[2], t = 0;
        int32_t *ids = bt->ids + (size_t)i * T, *ty = bt->types + (size_t)i * T, *mk = bt->mask + (size_t)i * T;
        row_lengths(b, X, rows[i], q, len);
        ids[t] = b->cls, ty[t++] = 0;
        for (int k = 0; k < b->nblocks; k++) {
            for (int64_t j = 0; j < len[k]; j++) ids[t] = (int32_t)X->values[q[k] + j], ty[t++] = k;
            ids[t] = b->sep, ty[t++] = k;
        }
        for (int64_t j = 0; j < T; j++) mk[j] = j < t;
        for (; t < T; t++) ids[t] = 0, ty[t] = 0; /* padding: masked out */
        if (y) bt->labels[i] = (int32_t)y[rows[i]];
    }
    return ASSAY_OK;
}

/* A work for (B, T), reused while the shape stays. A model fitted in bf16 predicts in bf16
 * where the CPU has it and in fp32 elsewhere (its weights are fp32 either way). */
static int work_for(const bert_clf *b, int B, int T, int grad, assay_bert_work **w, int *wB,
                    int *wT, assay_error *err) {
    if (*w && *wB == B && *wT == T) return ASSAY_OK;
    assay_bert_work_free(*w);
    *w = NULL;
    const int bf16 = b->bf16 && assay_nn_bf16_supported();
    int rc = assay_bert_work_new(b->m, B, T, grad, w, err);
    if (!rc && bf16) rc = assay_bert_work_set_precision(*w, ASSAY_NN_BF16, err);
    *wB = rc ? 0 : B, *wT = rc ? 0 : T;
    return rc;
}

/* ---- the head on the mean-pooled embedding ------------------------------------------------------ */

typedef struct mean_head {
    const float *w, *bias;     /* classifier.weight (K,D), classifier.bias (K) */
    float *dw, *dbias;         /* their gradients */
} mean_head;

static void mean_head_of(assay_bert *m, mean_head *h) {
    const assay_bert_tensor *w = assay_bert_tensor_find(m, "classifier.weight");
    const assay_bert_tensor *bi = assay_bert_tensor_find(m, "classifier.bias");
    const float *P = assay_bert_params(m, NULL);
    float *G = assay_bert_grads(m, NULL);
    h->w = P + w->offset, h->bias = P + bi->offset;
    h->dw = G ? G + w->offset : NULL, h->dbias = G ? G + bi->offset : NULL;
}

/* Mean cross-entropy of the head on o->mean against labels, and its backward through the
 * encoder; logits (B,K), dlogits (B,K), dmean (B,D) are scratch. */
static int mean_head_backward(assay_bert *m, assay_bert_work *w, int B, const int32_t *labels,
                              float *logits, float *dlogits, float *dmean, double *loss,
                              assay_error *err) {
    const assay_bert_config *c = assay_bert_get_config(m);
    const int K = c->num_labels, D = c->hidden_size;
    assay_bert_out o;
    assay_bert_work_out(w, &o);
    mean_head h;
    mean_head_of(m, &h);
    assay_nn_linear_forward(logits, o.mean, h.w, h.bias, B, D, K);
    *loss = assay_nn_softmax_xent(dlogits, logits, labels, NULL, B, K, 0.0f);
    memset(dmean, 0, (size_t)B * (size_t)D * sizeof *dmean);
    assay_nn_linear_backward(dmean, h.dw, h.dbias, dlogits, o.mean, h.w, B, D, K);
    return assay_bert_backward(m, w, NULL, NULL, dmean, NULL, err);
}

/* ---- fit -------------------------------------------------------------------------------------- */

static int load_encoder(bert_clf *b, uint64_t seed, assay_error *err) {
    char path[4096];
    int rc;
    const int K = b->base.nclasses;
    assay_wordpiece *wp = NULL;
    if ((rc = dir_file(path, sizeof path, b->encoder, "vocab.txt", err)) ||
        (rc = assay_wordpiece_load(path, NULL, &wp, err)))
        return rc;
    b->cls = assay_wordpiece_special_id(wp, ASSAY_WP_CLS);
    b->sep = assay_wordpiece_special_id(wp, ASSAY_WP_SEP);
    int32_t vsize = assay_wordpiece_size(wp);
    assay_wordpiece_free(wp);
    if (b->init_random) {
        assay_bert_config c;
        if ((rc = dir_file(path, sizeof path, b->encoder, "config.json", err)) ||
            (rc = assay_bert_config_load(path, &c, err)))
            return rc;
        c.num_labels = K;
        rc = assay_bert_new(&c, seed, &b->m, err);
    } else {
        rc = assay_bert_load(b->encoder, K, seed, &b->m, err);
    }
    if (rc) return rc;
    const assay_bert_config *c = assay_bert_get_config(b->m);
    if (c->vocab_size < vsize)
        return assay_error_set(err, ASSAY_EINVAL, "bert: %s/vocab.txt has %d tokens, more than the "
                               "encoder's vocab_size %d", b->encoder, vsize, c->vocab_size);
    if (c->num_labels != K)
        return assay_error_set(err, ASSAY_EINVAL, "bert: the encoder's head has %d labels, the "
                               "target %d classes", c->num_labels, K);
    if (b->max_len > c->max_position_embeddings)
        return assay_error_set(err, ASSAY_EINVAL, "bert: max_len %ld is longer than the encoder's "
                               "%d positions", b->max_len, c->max_position_embeddings);
    if (b->nblocks == 2 && c->type_vocab_size < 2)
        return assay_error_set(err, ASSAY_EINVAL, "bert: two text columns need an encoder with 2 "
                               "segment types (type_vocab_size is %d)", c->type_vocab_size);
    return ASSAY_OK;
}

static int bert_fit(assay_estimator *e, const assay_design *d, assay_error *err) {
    bert_clf *b = (bert_clf *)e;
    if (e->task == ASSAY_TASK_REGRESSION)
        return assay_error_set(err, ASSAY_EINVAL, "bert: classification only");
    if (!d->X.csr) return assay_error_set(err, ASSAY_EINVAL, "bert: needs the token design of text columns");
    if (d->w) return assay_error_set(err, ASSAY_ENOTSUP, "bert: sample weights are not supported");
    if (!b->encoder) return assay_error_set(err, ASSAY_EINVAL, "bert: no encoder directory");
    int rc = assay_nn_precision_check(b->bf16 ? ASSAY_NN_BF16 : ASSAY_NN_FP32, "bert", err);
    if (rc) return rc;
    rc = load_encoder(b, d->seed, err);
    if (rc) return rc;
    const int64_t N = d->X.n;
    const int B = (int)ASSAY_MIN((int64_t)b->batch, N);
    const int64_t per_epoch = (N + B - 1) / B, total = per_epoch * b->epochs;
    assay_nn_optim opt;
    assay_nn_optim_defaults(&opt, ASSAY_NN_ADAMW);
    opt.weight_decay = (float)b->weight_decay;
    assay_nn_schedule sch = {.kind = ASSAY_NN_SCHED_LINEAR, .lr = b->lr, .min_lr = 0,
                             .warmup = (long)ceil(b->warmup * (double)total), .total = total};
    const int K = e->nclasses, D = assay_bert_get_config(b->m)->hidden_size;
    int64_t *perm = assay_mallocarray((size_t)N, sizeof *perm);
    float *hs = b->mean_pool ? assay_mallocarray((size_t)B * (size_t)(2 * K + D), sizeof *hs) : NULL;
    b->train_loss = assay_calloc((size_t)b->epochs, sizeof *b->train_loss);
    if (!perm || !b->train_loss || (b->mean_pool && !hs)) {
        assay_free(perm);
        assay_free(hs);
        return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
    }
    for (int64_t i = 0; i < N; i++) perm[i] = i;
    assay_rng order, drop;
    assay_rng_seed(&order, d->seed);
    assay_rng_seed(&drop, d->seed ^ 0x9e3779b97f4a7c15ULL);
    batch bt = {0};
    assay_bert_work *w = NULL;
    int wB = 0, wT = 0;
    assay_progress pr;
    assay_progress_begin(&pr, "bert fine-tune", (uint64_t)total);
    const double t0 = assay_now();
    double tokens = 0;
    long step = 0;
    int64_t np;
    float *G = NULL;
    for (long ep = 0; ep < b->epochs && !rc; ep++) {
        assay_rng_shuffle_i64(&order, perm, N);
        double sum = 0;
        for (int64_t s = 0; s < per_epoch && !rc; s++, step++) {
            const int64_t lo = s * B;
            const int nb = (int)ASSAY_MIN((int64_t)B, N - lo);
            double loss = 0;
            if ((rc = batch_fill(b, d->X.csr, perm + lo, nb, d->y, &bt, err)) ||
                (rc = work_for(b, nb, bt.T, 1, &w, &wB, &wT, err)) ||
                (rc = assay_bert_zero_grad(b->m, err)) ||
                (rc = assay_bert_forward(b->m, w, bt.ids, bt.types, bt.mask, 1, &drop, NULL, err)) ||
                (rc = b->mean_pool ? mean_head_backward(b->m, w, nb, bt.labels, hs, hs + (size_t)B * K,
                                                        hs + (size_t)2 * B * K, &loss, err)
                                   : assay_bert_cls_backward(b->m, w, bt.labels, &loss, err)))
                break;
            if (!isfinite(loss)) {
                rc = assay_error_set(err, ASSAY_EINVAL, "bert: the loss is %g at step %ld (epoch %ld): "
                                     "lower lr (now %g)", loss, step + 1, ep + 1, b->lr);
                break;
            }
            G = assay_bert_grads(b->m, &np);
            assay_nn_clip_grad_norm(G, np, 1.0);
            if ((rc = assay_bert_step(b->m, &opt, (float)assay_nn_schedule_lr(&sch, step), err))) break;
            sum += loss * nb;
            for (int64_t i = 0; i < (int64_t)nb * bt.T; i++) tokens += bt.mask[i];
            char info[96];
            snprintf(info, sizeof info, "epoch %ld/%ld loss %.4f %.0f tok/s", ep + 1, b->epochs, loss,
                     tokens / (assay_now() - t0 + 1e-9));
            assay_progress_update(&pr, (uint64_t)step + 1, info);
        }
        if (!rc) b->train_loss[ep] = sum / (double)N, b->epochs_run = (int)ep + 1;
    }
    assay_progress_end(&pr);
    b->seconds = assay_now() - t0;
    b->tokens_per_second = tokens / (b->seconds + 1e-9);
    assay_bert_work_free(w);
    batch_free(&bt);
    assay_free(perm);
    assay_free(hs);
    return rc;
}

/* ---- predict --------------------------------------------------------------------------------- */

#define PREDICT_BATCH 32

static int bert_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                        assay_error *err) {
    const bert_clf *b = (const bert_clf *)e;
    if (!b->m) return assay_error_set(err, ASSAY_EINVAL, "bert: not fitted");
    if (!X->csr || X->d != e->nfeatures)
        return assay_error_set(err, ASSAY_EINVAL, "bert: needs the token design of its text columns");
    const int K = e->nclasses;
    batch bt = {0};
    assay_bert_work *w = NULL;
    int wB = 0, wT = 0, rc = ASSAY_OK;
    int64_t rows[PREDICT_BATCH];
    float *logits = b->mean_pool ? assay_mallocarray((size_t)PREDICT_BATCH * (size_t)K, sizeof *logits) : NULL;
    if (b->mean_pool && !logits) return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
    for (int64_t lo = 0; lo < X->n && !rc; lo += PREDICT_BATCH) {
        const int nb = (int)ASSAY_MIN((int64_t)PREDICT_BATCH, X->n - lo);
        for (int i = 0; i < nb; i++) rows[i] = lo + i;
        assay_bert_out o;
        if ((rc = batch_fill(b, X->csr, rows, nb, NULL, &bt, err)) ||
            (rc = work_for(b, nb, bt.T, 0, &w, &wB, &wT, err)) ||
            (rc = assay_bert_forward(b->m, w, bt.ids, bt.types, bt.mask, 0, NULL, &o, err)))
            break;
        const float *z = o.logits;
        if (b->mean_pool) {
            mean_head h;
            mean_head_of(b->m, &h);
            assay_nn_linear_forward(logits, o.mean, h.w, h.bias, nb, assay_bert_get_config(b->m)->hidden_size, K);
            z = logits;
        }
        for (int i = 0; i < nb; i++) assay__softmax_f32(z + (int64_t)i * K, K, out + (lo + i) * K);
    }
    assay_bert_work_free(w);
    batch_free(&bt);
    assay_free(logits);
    return rc;
}

/* ---- save / load: the config and specials in meta, tensors under prefix + HF names ----------- */

/* The training loss per epoch run. */
static json_t *loss_json(const bert_clf *b) {
    json_t *loss = json_array();
    for (int i = 0; loss && i < b->epochs_run; i++) json_array_append_new(loss, json_real(b->train_loss[i]));
    return loss;
}

static int bert_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                     json_t *meta, assay_error *err) {
    const bert_clf *b = (const bert_clf *)e;
    if (!b->m || !meta) return assay_error_set(err, ASSAY_EINVAL, "bert: nothing to save");
    char *ct = assay_bert_config_to_json(assay_bert_get_config(b->m), NULL);
    json_t *cfg = ct ? json_loads(ct, 0, NULL) : NULL, *loss = loss_json(b);
    assay_free(ct);
    if (!cfg || !loss || json_object_set_new(meta, "config", cfg) ||
        json_object_set_new(meta, "cls_id", json_integer(b->cls)) ||
        json_object_set_new(meta, "sep_id", json_integer(b->sep)) ||
        json_object_set_new(meta, "pooling", json_string(poolings[b->mean_pool])) ||
        json_object_set_new(meta, "epochs_run", json_integer(b->epochs_run)) ||
        json_object_set_new(meta, "train_loss", loss))
        return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory saving");
    const float *P = assay_bert_params(b->m, NULL);
    char name[512];
    int rc = ASSAY_OK;
    for (int i = 0; i < assay_bert_tensor_count(b->m) && !rc; i++) {
        const assay_bert_tensor *t = assay_bert_tensor_at(b->m, i);
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        rc = assay_mfile_writer_add(w, name, ASSAY_F32, t->ndim, t->shape, P + t->offset, err);
    }
    return rc;
}

static int meta_int(const json_t *o, const char *key, int lo, int hi, int *out) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

static int bert_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                     const json_t *meta, assay_error *err) {
    bert_clf *b = (bert_clf *)e;
    /* the encoder's config.json, as bert_io.c writes and checks it */
    const json_t *cj = json_object_get(meta, "config");
    char *ct = json_is_object(cj) ? json_dumps(cj, JSON_COMPACT) : NULL;
    assay_bert_config c;
    assay_error cerr = {0};
    int ok = ct && assay_bert_config_parse(ct, strlen(ct), "model", &c, &cerr) == ASSAY_OK &&
             !meta_int(meta, "cls_id", 0, INT32_MAX, &b->cls) && !meta_int(meta, "sep_id", 0, INT32_MAX, &b->sep);
    free(ct);
    if (ok)
        ok = c.num_labels == e->nclasses && b->cls < c.vocab_size && b->sep < c.vocab_size &&
             b->max_len <= c.max_position_embeddings && (b->nblocks == 1 || c.type_vocab_size >= 2);
    const json_t *pool = json_object_get(meta, "pooling");
    if (ok && pool) { /* the file says which head input it was trained with */
        const char *pv = json_string_value(pool);
        ok = pv && (!strcmp(pv, "cls") || !strcmp(pv, "mean"));
        if (ok) b->mean_pool = !strcmp(pv, "mean");
    }
    if (!ok) return assay_error_set(err, ASSAY_EFORMAT, "bert: the model's encoder description is malformed");
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = c.classifier_dropout = 0; /* inference */
    assay_bert_free(b->m);
    b->m = NULL;
    int rc = assay_bert_new(&c, 0, &b->m, err);
    if (rc) return rc;
    float *P = assay_bert_params(b->m, NULL);
    char name[512];
    for (int i = 0; i < assay_bert_tensor_count(b->m) && !rc; i++) {
        const assay_bert_tensor *t = assay_bert_tensor_at(b->m, i);
        const assay_tensor *x;
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        if ((rc = assay_mfile_expect(f, name, ASSAY_F32, t->ndim, &x, err))) break;
        for (int k = 0; k < t->ndim; k++)
            if (x->shape[k] != t->shape[k])
                return assay_error_set(err, ASSAY_EFORMAT, "bert: tensor '%s' has the wrong shape", name);
        memcpy(P + t->offset, x->data, (size_t)t->numel * sizeof(float));
    }
    return rc;
}

static json_t *bert_training(const assay_estimator *e) {
    const bert_clf *b = (const bert_clf *)e;
    if (!b->train_loss) return NULL;
    json_t *loss = loss_json(b);
    int64_t np = 0;
    assay_bert_params(b->m, &np);
    return json_pack("{s:i,s:f,s:f,s:I,s:s,s:o}", "epochs", b->epochs_run, "seconds", b->seconds,
                     "tokens_per_second", b->tokens_per_second, "parameters", (json_int_t)np,
                     "precision", precisions[b->bf16], "train_loss", loss);
}

const assay_estimator_vt assay__bert_vt = {
    .name = "bert",
    .summary = "BERT encoder fine-tuned for text classification (--encoder DIR: assay pretrain "
               "or a Hugging Face checkpoint)",
    .tasks = (1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS),
    .create = bert_create,
    .fit = bert_fit,
    .predict = bert_predict,
    .save = bert_save,
    .load = bert_load,
    .free = bert_free,
    .flags = ASSAY_EST_SPARSE | ASSAY_EST_SEQUENCE,
    .training = bert_training,
    .prep = bert_prep,
};
