/* textclf.c - the fastText-style classifier ("textclf"): averaged token embeddings and a linear
 * output layer trained by SGD, after Joulin et al. 2017, "Bag of Tricks for Efficient Text
 * Classification", and fastText 0.9.2's src/model.cc, src/loss.cc and src/fasttext.cc.
 *
 * The design is a CSR matrix of token counts over V columns; a document's hidden vector is
 *
 *     h = sum_j x_j E[j] / sum_j x_j                       (E: V x D)
 *
 * which is fastText's mean of the embedding rows of its words and n-gram buckets, with
 * multiplicity. Losses (fastText's loss.cc):
 *   softmax  p = softmax(W h) (W: K x D), loss -log p_t
 *   hs       hierarchical softmax on a Huffman tree over class frequencies (fastText's
 *            HierarchicalSoftmaxLoss::buildTree): loss sum over the path to t of
 *            -log sigmoid(+-W[node] h), W: (K-1) x D, one row per inner node
 *   ova      K independent sigmoids, loss sum_k -log sigmoid(+-W[k] h) (multi-label)
 * The step is fastText's: each output row's contribution to dL/dh is taken before that row is
 * updated, and dL/dE[j] = (x_j / sum x) dL/dh, so one step is exactly -lr times the gradient of
 * the loss at the current parameters (assay__textclf_step; the unit tests check it by finite
 * differences). Initialisation: E uniform in [-1/D, 1/D], W = 0 (fastText). The learning rate
 * decays linearly to 0 over each thread's share of epochs x tokens (fastText decays over all
 * threads' tokens; per thread keeps the schedule free of shared counters and deterministic).
 *
 * Threads: Hogwild (Recht et al. 2011) - each thread runs SGD over its own contiguous slice of
 * one seeded permutation of the documents and writes E and W without locks, as fastText does.
 * These races are benign by design. With one thread the model is a pure function of the data
 * and the seed, bit for bit.
 *
 * Not here: tokenisation, n-gram hashing, the dictionary (the design's columns are chosen before
 * the estimator sees them), negative sampling, quantisation, pretrained vectors, autotune. */
#include <float.h>
#include <omp.h>

#include "linalg.h"
#include "textclf.h"

struct assay__textclf {
    assay_estimator base;   /* nclasses = K, nfeatures = V */
    assay_textclf_opts o;
    int K, D;
    int64_t V, nout;        /* nout: W's rows, K or K - 1 */
    float *E;               /* V x D */
    float *W;               /* nout x D */
    int64_t *counts;        /* K class frequencies (the Huffman tree's weights) */
    int32_t *path_ptr;      /* K + 1: the hs path of class k is path[path_ptr[k] .. path_ptr[k+1]) */
    int32_t *path;          /* inner-node rows of W, leaf to root */
    uint8_t *code;          /* the branch taken at each node (the binary target) */
    double train_seconds;
    int64_t train_tokens;   /* tokens seen over all epochs */
    int presence;           /* estimator: every present term weighs 1 (weights=presence) */
};

void assay__textclf_opts_init(assay_textclf_opts *o) {
    o->dim = 100;
    o->lr = 0.1;
    o->epochs = 5;
    o->loss = ASSAY_TEXTCLF_SOFTMAX;
    o->threads = 0;
    o->seed = 0;
}

/* ---- Huffman tree ------------------------------------------------------------------------ */

typedef struct { int64_t count; int32_t parent; uint8_t binary; } hnode;

/* fastText's HierarchicalSoftmaxLoss::buildTree over the classes sorted by decreasing count
 * (ties: lower class first); each class's path (inner-node rows of W, leaf to root) and codes
 * are then stored in class order. */
static int rebuild_tree(assay__textclf *m, assay_error *err) {
    int K = m->K;
    hnode *t = assay_mallocarray((size_t)(2 * K - 1), sizeof *t);
    int32_t *order = assay_mallocarray((size_t)K, sizeof *order);
    int32_t *leaf_of = assay_mallocarray((size_t)K, sizeof *leaf_of);
    int32_t *ptr = assay_mallocarray((size_t)K + 1, sizeof *ptr);
    int32_t *path = NULL;
    uint8_t *code = NULL;
    int rc = ASSAY_OK;
    if (!t || !order || !leaf_of || !ptr) goto nomem;
    for (int k = 0; k < K; k++) order[k] = k;
    for (int a = 1; a < K; a++) { /* insertion sort, stable: the tree must not depend on luck */
        int32_t v = order[a];
        int b = a;
        while (b > 0 && m->counts[order[b - 1]] < m->counts[v]) order[b] = order[b - 1], b--;
        order[b] = v;
    }
    for (int i = 0; i < 2 * K - 1; i++) t[i] = (hnode){INT64_MAX / 4, -1, 0};
    for (int i = 0; i < K; i++) t[i].count = m->counts[order[i]], leaf_of[order[i]] = i;
    int leaf = K - 1, node = K;
    for (int i = K; i < 2 * K - 1; i++) {
        int mini[2];
        for (int j = 0; j < 2; j++)
            mini[j] = (leaf >= 0 && t[leaf].count < t[node].count) ? leaf-- : node++;
        t[i].count = t[mini[0]].count + t[mini[1]].count;
        t[mini[0]].parent = t[mini[1]].parent = i;
        t[mini[1]].binary = 1;
    }
    int64_t total = 0;
    for (int k = 0; k < K; k++) {
        ptr[k] = (int32_t)total;
        for (int j = leaf_of[k]; t[j].parent != -1; j = t[j].parent) total++;
        if (total > INT32_MAX) goto nomem;
    }
    ptr[K] = (int32_t)total;
    path = assay_mallocarray((size_t)total + 1, sizeof *path);
    code = assay_malloc((size_t)total + 1);
    if (!path || !code) goto nomem;
    for (int k = 0; k < K; k++) {
        int32_t p = ptr[k];
        for (int j = leaf_of[k]; t[j].parent != -1; j = t[j].parent) {
            path[p] = t[j].parent - K;
            code[p++] = t[j].binary;
        }
    }
    assay_free(m->path_ptr), assay_free(m->path), assay_free(m->code);
    m->path_ptr = ptr, m->path = path, m->code = code;
    ptr = NULL, path = NULL, code = NULL;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "textclf: out of memory building the tree");
done:
    assay_free(t);
    assay_free(order);
    assay_free(leaf_of);
    assay_free(ptr);
    assay_free(path);
    assay_free(code);
    return rc;
}

/* ---- model ------------------------------------------------------------------------------- */

int assay__textclf_new(const assay_textclf_opts *o, int K, int64_t V, assay__textclf **out,
                       assay_error *err) {
    *out = NULL;
    if (K < 2 || K > 1000000 || V < 1 || V > INT32_MAX || o->dim < 1 || o->dim > 10000 ||
        !(o->lr > 0) || !isfinite(o->lr) || o->epochs < 1 || o->loss < 0 || o->loss > 2)
        return assay_error_set(err, ASSAY_EINVAL,
                               "textclf: bad options (K %d, V %lld, dim %d, lr %g, epochs %d)", K,
                               (long long)V, o->dim, o->lr, o->epochs);
    if ((double)V * o->dim > 4e9)
        return assay_error_set(err, ASSAY_EINVAL,
                               "textclf: %lld columns x dim %d is too large (over 4e9 floats)",
                               (long long)V, o->dim);
    assay__textclf *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "textclf: out of memory");
    m->base.vt = &assay__textclf_vt;
    m->base.nclasses = K;
    m->base.nfeatures = V;
    m->base.task = K == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS;
    m->o = *o;
    m->K = K, m->D = o->dim, m->V = V;
    m->nout = o->loss == ASSAY_TEXTCLF_HS ? K - 1 : K;
    /* zeroed (lazily, by the OS): fit() draws the initial values */
    m->E = assay_calloc((size_t)V * (size_t)m->D, sizeof *m->E);
    m->W = assay_calloc((size_t)m->nout * (size_t)m->D, sizeof *m->W);
    m->counts = assay_mallocarray((size_t)K, sizeof *m->counts);
    if (!m->E || !m->W || !m->counts) {
        assay__textclf_free(m);
        return assay_error_set(err, ASSAY_ENOMEM,
                               "textclf: out of memory (%lld columns x dim %d)", (long long)V,
                               o->dim);
    }
    for (int k = 0; k < K; k++) m->counts[k] = 1;
    int rc = rebuild_tree(m, err);
    if (rc) {
        assay__textclf_free(m);
        return rc;
    }
    *out = m;
    return ASSAY_OK;
}

void assay__textclf_free(assay__textclf *m) {
    if (!m) return;
    assay_free(m->E);
    assay_free(m->W);
    assay_free(m->counts);
    assay_free(m->path_ptr);
    assay_free(m->path);
    assay_free(m->code);
    assay_free(m);
}

/* Blocks of E drawn from their own seeded streams, in parallel: the values depend on the seed
 * only, never on the thread count. Two 24-bit uniforms per 64-bit draw. */
#define INIT_BLOCK ((int64_t)1 << 18)

void assay__textclf_init_params(assay__textclf *m) {
    int64_t n = m->V * m->D, nb = (n + INIT_BLOCK - 1) / INIT_BLOCK;
    float a = 1.0f / (float)m->D, scale = 2.0f / 16777216.0f;
#pragma omp parallel for schedule(static) if (nb > 1)
    for (int64_t b = 0; b < nb; b++) {
        assay_rng r;
        assay_rng_seed(&r, m->o.seed ^ (0x7465787463ULL + 0x9e3779b97f4a7c15ULL * (uint64_t)b));
        int64_t lo = b * INIT_BLOCK, hi = ASSAY_MIN(n, lo + INIT_BLOCK);
        for (int64_t i = lo; i < hi; i += 2) {
            uint64_t u = assay_rng_next(&r);
            m->E[i] = ((float)(u >> 40) * scale - 1.0f) * a; /* uniform in [-1/D, 1/D) */
            if (i + 1 < hi) m->E[i + 1] = ((float)((u >> 16) & 0xFFFFFF) * scale - 1.0f) * a;
        }
    }
    memset(m->W, 0, (size_t)m->nout * (size_t)m->D * sizeof *m->W);
}

float *assay__textclf_embeddings(assay__textclf *m) { return m->E; }

float *assay__textclf_output(assay__textclf *m, int64_t *rows) {
    *rows = m->nout;
    return m->W;
}

/* ---- kernels ----------------------------------------------------------------------------- */

/* h (D) = sum_j x_j E[j] / sum_j x_j; returns sum_j x_j (h = 0 when it is not > 0). */
static float hidden_of(const assay__textclf *m, const int32_t *idx, const float *val, int64_t nnz,
                       float *h) {
    int D = m->D;
    memset(h, 0, (size_t)D * sizeof *h);
    float s = 0;
    for (int64_t p = 0; p < nnz; p++) {
        const float *e = m->E + (int64_t)idx[p] * D;
        float a = val[p];
        s += a;
#pragma omp simd
        for (int d = 0; d < D; d++) h[d] += a * e[d];
    }
    if (!(s > 0)) {
        memset(h, 0, (size_t)D * sizeof *h);
        return 0;
    }
    float inv = 1.0f / s;
#pragma omp simd
    for (int d = 0; d < D; d++) h[d] *= inv;
    return s;
}

static inline float dot(const float *a, const float *b, int D) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < D; d++) s += a[d] * b[d];
    return s;
}

static inline float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* -log sigmoid(z) for label 1, -log(1 - sigmoid(z)) for label 0, without overflow. */
static inline double logistic_loss(double z, int label) {
    double t = label ? -z : z; /* -log sigmoid(-t) = log(1 + e^t) */
    return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

/* fastText's Loss::binaryLogistic: grad += alpha W[r], W[r] += alpha h, alpha = lr (y - s). */
static inline double binary_step(float *w, const float *h, float *grad, int label, float lr,
                                 int D) {
    float z = dot(w, h, D);
    float alpha = lr * ((float)label - sigmoidf(z));
#pragma omp simd
    for (int d = 0; d < D; d++) {
        grad[d] += alpha * w[d];
        w[d] += alpha * h[d];
    }
    return logistic_loss(z, label);
}

/* Softmax probabilities of W h into out (K), max-shifted for stability. */
static void softmax_of(const float *W, const float *h, int K, int D, float *out) {
    float zmax = -FLT_MAX;
    for (int k = 0; k < K; k++) {
        out[k] = dot(W + (int64_t)k * D, h, D);
        if (out[k] > zmax) zmax = out[k];
    }
    float sum = 0;
    for (int k = 0; k < K; k++) sum += (out[k] = expf(out[k] - zmax));
    for (int k = 0; k < K; k++) out[k] /= sum;
}

/* One step on one document; scratch: 2D + K. target: the softmax/hs class; labels/nl: ova's. */
static double step(assay__textclf *m, const int32_t *idx, const float *val, int64_t nnz,
                   int target, const int32_t *labels, int nl, float lr, float *scratch) {
    int D = m->D, K = m->K;
    float *h = scratch, *grad = scratch + D, *out = scratch + 2 * D;
    float s = hidden_of(m, idx, val, nnz, h);
    memset(grad, 0, (size_t)D * sizeof *grad);
    double loss = 0;
    if (m->o.loss == ASSAY_TEXTCLF_SOFTMAX) {
        softmax_of(m->W, h, K, D, out);
        loss = -log(ASSAY_MAX((double)out[target], 1e-300));
        for (int k = 0; k < K; k++) {
            float *w = m->W + (int64_t)k * D;
            float alpha = lr * ((k == target ? 1.0f : 0.0f) - out[k]);
#pragma omp simd
            for (int d = 0; d < D; d++) {
                grad[d] += alpha * w[d];
                w[d] += alpha * h[d];
            }
        }
    } else if (m->o.loss == ASSAY_TEXTCLF_HS) {
        for (int32_t p = m->path_ptr[target]; p < m->path_ptr[target + 1]; p++)
            loss += binary_step(m->W + (int64_t)m->path[p] * D, h, grad, m->code[p], lr, D);
    } else {
        for (int k = 0; k < K; k++) {
            int y = 0;
            for (int l = 0; l < nl; l++) y |= labels[l] == k;
            loss += binary_step(m->W + (int64_t)k * D, h, grad, y, lr, D);
        }
    }
    if (s > 0) {
        float inv = 1.0f / s;
        for (int64_t p = 0; p < nnz; p++) {
            float *e = m->E + (int64_t)idx[p] * D;
            float a = val[p] * inv;
#pragma omp simd
            for (int d = 0; d < D; d++) e[d] += a * grad[d];
        }
    }
    return loss;
}

double assay__textclf_step(assay__textclf *m, const int32_t *idx, const float *val, int64_t nnz,
                           const int32_t *labels, int nlabels, float lr, float *scratch) {
    return step(m, idx, val, nnz, labels[0], labels, nlabels, lr, scratch);
}

double assay__textclf_loss(const assay__textclf *m, const int32_t *idx, const float *val,
                           int64_t nnz, const int32_t *labels, int nlabels) {
    int D = m->D, K = m->K;
    /* double accumulation of the same float forward pass */
    double *h = assay_calloc((size_t)D, sizeof *h);
    double loss = 0, s = 0;
    if (!h) return NAN;
    for (int64_t p = 0; p < nnz; p++) {
        s += val[p];
        for (int d = 0; d < D; d++) h[d] += (double)val[p] * m->E[(int64_t)idx[p] * D + d];
    }
    if (s > 0)
        for (int d = 0; d < D; d++) h[d] /= s;
    else
        memset(h, 0, (size_t)D * sizeof *h);
    if (m->o.loss == ASSAY_TEXTCLF_SOFTMAX) {
        double zmax = -DBL_MAX, sum = 0, zt = 0;
        for (int k = 0; k < K; k++) {
            double z = 0;
            for (int d = 0; d < D; d++) z += (double)m->W[(int64_t)k * D + d] * h[d];
            if (k == labels[0]) zt = z;
            zmax = z > zmax ? z : zmax;
        }
        for (int k = 0; k < K; k++) {
            double z = 0;
            for (int d = 0; d < D; d++) z += (double)m->W[(int64_t)k * D + d] * h[d];
            sum += exp(z - zmax);
        }
        loss = -(zt - zmax - log(sum));
    } else if (m->o.loss == ASSAY_TEXTCLF_HS) {
        for (int32_t p = m->path_ptr[labels[0]]; p < m->path_ptr[labels[0] + 1]; p++) {
            double z = 0;
            for (int d = 0; d < D; d++) z += (double)m->W[(int64_t)m->path[p] * D + d] * h[d];
            loss += logistic_loss(z, m->code[p]);
        }
    } else {
        for (int k = 0; k < K; k++) {
            int y = 0;
            for (int l = 0; l < nlabels; l++) y |= labels[l] == k;
            double z = 0;
            for (int d = 0; d < D; d++) z += (double)m->W[(int64_t)k * D + d] * h[d];
            loss += logistic_loss(z, y);
        }
    }
    assay_free(h);
    return loss;
}

void assay__textclf_scores(const assay__textclf *m, const int32_t *idx, const float *val,
                           int64_t nnz, float *scores, float *scratch) {
    int D = m->D, K = m->K;
    float *h = scratch, *node = scratch + D; /* node: K - 1 inner-node sigmoids (hs) */
    hidden_of(m, idx, val, nnz, h);
    if (m->o.loss == ASSAY_TEXTCLF_SOFTMAX) {
        softmax_of(m->W, h, K, D, scores);
    } else if (m->o.loss == ASSAY_TEXTCLF_HS) {
        /* P(class) = product over its path of sigmoid(W[node] h) or 1 - that (fastText's
         * HierarchicalSoftmaxLoss::dfs, computed for every leaf). */
        for (int64_t r = 0; r < m->nout; r++) node[r] = sigmoidf(dot(m->W + r * D, h, D));
        for (int k = 0; k < K; k++) {
            float pr = 1;
            for (int32_t p = m->path_ptr[k]; p < m->path_ptr[k + 1]; p++)
                pr *= m->code[p] ? node[m->path[p]] : 1.0f - node[m->path[p]];
            scores[k] = pr;
        }
    } else {
        for (int k = 0; k < K; k++) scores[k] = sigmoidf(dot(m->W + (int64_t)k * D, h, D));
    }
}

int assay__textclf_topk(const assay__textclf *m, const int32_t *idx, const float *val,
                        int64_t nnz, int k, double threshold, int32_t *labels, float *probs,
                        float *scratch) {
    int K = m->K;
    float *sc = scratch + m->D + K;
    assay__textclf_scores(m, idx, val, nnz, sc, scratch);
    int n = 0;
    for (int c = 0; c < K; c++) {
        if (!(sc[c] >= threshold)) continue;
        /* insertion into the sorted top-k list */
        int pos = n < k ? n : k;
        while (pos > 0 && probs[pos - 1] < sc[c]) pos--;
        if (pos >= k) continue;
        int last = n < k ? n : k - 1;
        for (int j = last; j > pos; j--) labels[j] = labels[j - 1], probs[j] = probs[j - 1];
        labels[pos] = c, probs[pos] = sc[c];
        if (n < k) n++;
    }
    return n;
}

/* ---- training ---------------------------------------------------------------------------- */

int assay__textclf_fit(assay__textclf *m, const assay_csr *X, const int64_t *label_ptr,
                       const int32_t *labels, assay_error *err) {
    int64_t n = X->nrows;
    int K = m->K, D = m->D;
    if (X->ncols != m->V)
        return assay_error_set(err, ASSAY_EINVAL, "textclf: design has %lld columns, model %lld",
                               (long long)X->ncols, (long long)m->V);
    for (int64_t p = 0; p < X->nnz; p++)
        if (X->values[p] < 0) /* standardised numeric columns beside the text: not for this model */
            return assay_error_set(err, ASSAY_ENOTSUP,
                                   "textclf: needs non-negative features (counts or TF-IDF of text "
                                   "columns); column %d holds %g", (int)X->indices[p] + 1,
                                   (double)X->values[p]);
    for (int64_t p = 0; p < X->nnz; p++)
        if (!(X->values[p] >= 0) || !isfinite(X->values[p]) || X->indices[p] < 0 ||
            X->indices[p] >= m->V)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "textclf: entry %lld is %g at column %d: needs finite counts "
                                   ">= 0 in columns 0..%lld",
                                   (long long)p, (double)X->values[p], (int)X->indices[p],
                                   (long long)m->V - 1);
    int64_t ntrain = 0;
    for (int k = 0; k < K; k++) m->counts[k] = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label_ptr[i + 1] < label_ptr[i])
            return assay_error_set(err, ASSAY_EINVAL, "textclf: label list of row %lld is bad",
                                   (long long)i);
        for (int64_t l = label_ptr[i]; l < label_ptr[i + 1]; l++) {
            if (labels[l] < 0 || labels[l] >= K)
                return assay_error_set(err, ASSAY_EINVAL,
                                       "textclf: row %lld has label %d outside 0..%d",
                                       (long long)i, (int)labels[l], K - 1);
            m->counts[labels[l]]++;
        }
        ntrain += label_ptr[i + 1] > label_ptr[i] && X->indptr[i + 1] > X->indptr[i];
    }
    if (ntrain == 0)
        return assay_error_set(err, ASSAY_EINVAL, "textclf: no row has both tokens and a label");
    int rc = rebuild_tree(m, err);
    if (rc) return rc;
    assay__textclf_init_params(m);

    int T = m->o.threads > 0 ? m->o.threads : assay_threads_get();
    if (T < 1) T = 1;
    if (T > ntrain) T = (int)ntrain;
    size_t stride = ((size_t)(2 * D + K) + 15) / 16 * 16; /* own cache lines per thread */
    int64_t *perm = assay_mallocarray((size_t)ntrain, sizeof *perm);
    float *scratch = assay_mallocarray((size_t)T * stride, sizeof *scratch);
    if (!perm || !scratch) {
        assay_free(perm), assay_free(scratch);
        return assay_error_set(err, ASSAY_ENOMEM, "textclf: out of memory (%lld rows)",
                               (long long)n);
    }
    int64_t q = 0;
    for (int64_t i = 0; i < n; i++)
        if (label_ptr[i + 1] > label_ptr[i] && X->indptr[i + 1] > X->indptr[i]) perm[q++] = i;
    assay_rng r;
    assay_rng_seed(&r, m->o.seed);
    assay_rng_shuffle_i64(&r, perm, ntrain);

    double t0 = assay_now();
    int64_t seen = 0;
    float lr0 = (float)m->o.lr;
    int epochs = m->o.epochs;
#pragma omp parallel num_threads(T) reduction(+ : seen)
    {
        int t = omp_get_thread_num();
        int64_t lo = ntrain * t / T, hi = ntrain * (t + 1) / T;
        float *sc = scratch + (size_t)t * stride;
        assay_rng tr;
        assay_rng_seed(&tr, m->o.seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(t + 1));
        double tokens = 0;
        for (int64_t a = lo; a < hi; a++) {
            int64_t i = perm[a];
            for (int64_t p = X->indptr[i]; p < X->indptr[i + 1]; p++) tokens += X->values[p];
        }
        double total = tokens * epochs, done = 0;
        for (int ep = 0; ep < epochs; ep++) {
            for (int64_t a = lo; a < hi; a++) {
                int64_t i = perm[a];
                int64_t b = X->indptr[i], nnz = X->indptr[i + 1] - b;
                const int32_t *lab = labels + label_ptr[i];
                int nl = (int)(label_ptr[i + 1] - label_ptr[i]);
                /* softmax / hs on a multi-label row: one label drawn per visit (fastText) */
                int target = nl == 1 ? lab[0] : lab[assay_rng_below(&tr, (uint64_t)nl)];
                float lr = lr0 * (float)(1.0 - done / total);
                step(m, X->indices + b, X->values + b, nnz, target, lab, nl, lr, sc);
                for (int64_t p = 0; p < nnz; p++) done += X->values[p];
            }
        }
        seen += (int64_t)done;
    }
    m->train_tokens = seen;
    m->train_seconds = assay_now() - t0;
    assay_free(perm);
    assay_free(scratch);
    for (int64_t i = 0; i < m->V * D; i++)
        if (!isfinite(m->E[i]))
            return assay_error_set(err, ASSAY_ECONVERGE,
                                   "textclf: training diverged (lower lr, now %g)", m->o.lr);
    return ASSAY_OK;
}

/* ---- the estimator ----------------------------------------------------------------------- */

static const char *const known[] = {"dim", "lr", "epochs", "loss", "threads", "weights", "ngrams", NULL};

/* ngrams=N: the text columns' word n-grams from 1 to N (fastText's -wordNgrams), a pipeline
 * setting made a parameter so that --autotune-time can search it with the others. Absent: the
 * pipeline's own setting (--text-ngrams). */
static int tc_prep(const assay_params *p, assay_prep_options *o, assay_error *err) {
    if (!assay_params_get(p, "ngrams")) return ASSAY_OK;
    long n;
    int rc = assay_params_int(p, "ngrams", 1, 1, 5, &n, err);
    if (rc) return rc;
    o->text.text.ngram_min = 1;
    o->text.text.ngram_max = (int)n;
    return ASSAY_OK;
}
static const char *const weightings[] = {"presence", "values", NULL};
static const char *const losses[] = {"softmax", "hs", "ova", NULL};

static int tc_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                     assay_estimator **out, assay_error *err) {
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, known, "textclf", err))) return rc;
    if (task != ASSAY_TASK_BINARY && task != ASSAY_TASK_MULTICLASS && task != ASSAY_TASK_MULTILABEL)
        return assay_error_set(err, ASSAY_EINVAL, "textclf: task %s is not supported",
                               assay_task_name(task));
    assay_textclf_opts o;
    assay__textclf_opts_init(&o);
    long dim, epochs, threads, ngrams;
    int presence = 0;
    /* multilabel: K sigmoids that start at 0.5 (W = 0) need more and larger steps than one
     * softmax; at fastText's lr 0.1 and 5 epochs none crossed 0.5 on the e2e ticket set (micro
     * F1 0), at lr 0.5 and 25 epochs micro F1 was 0.90 */
    const int multi = task == ASSAY_TASK_MULTILABEL;
    /* threads=1 (default through the estimator): one SGD thread, so the same seed and data give
     * the same model; threads=N > 1 or 0 (all cores): lock-free Hogwild as fastText, faster and
     * not bit-reproducible. */
    if ((rc = assay_params_int(p, "threads", 1, 0, 1024, &threads, err)) ||
        (rc = assay_params_int(p, "dim", o.dim, 1, 10000, &dim, err)) ||
        (rc = assay_params_double(p, "lr", multi ? 0.5 : o.lr, 1e-12, 1e6, &o.lr, err)) ||
        (rc = assay_params_int(p, "epochs", multi ? 25 : o.epochs, 1, 100000, &epochs, err)) ||
        (rc = assay_params_choice(p, "loss", losses, multi ? ASSAY_TEXTCLF_OVA : ASSAY_TEXTCLF_SOFTMAX, &o.loss, err)) ||
        (rc = assay_params_choice(p, "weights", weightings, 0, &presence, err)) ||
        (rc = assay_params_int(p, "ngrams", 1, 1, 5, &ngrams, err))) /* checked here, used by tc_prep */
        return rc;
    o.dim = (int)dim, o.epochs = (int)epochs, o.threads = (int)threads;
    if (multi && o.loss != ASSAY_TEXTCLF_OVA)
        return assay_error_set(err, ASSAY_EINVAL, "textclf: a multilabel target needs loss=ova (one sigmoid "
                               "per label), not loss=%s", losses[o.loss]);
    assay__textclf *m;
    if ((rc = assay__textclf_new(&o, nclasses, nfeatures < 1 ? 1 : nfeatures, &m, err)))
        return rc;
    m->base.task = task;
    m->base.nfeatures = nfeatures;
    /* weights=presence (default): a document is the set of its terms, each weighing 1, as in
     * fastText's average over tokens. With weights=values a TF-IDF design's rare terms dominate
     * the average and SGD at fastText's learning rates was measured to swing between seeds
     * (fine_foods holdouts, seeds 1-6: test accuracy 0.35 to 0.82); presence: 0.78 to 0.83. */
    m->presence = presence == 0;
    *out = &m->base;
    return ASSAY_OK;
}

static void tc_free(assay_estimator *e) { assay__textclf_free((assay__textclf *)e); }

/* A CSR view of X: X->csr itself, or a copy of its nonzeros into tmp (a dense design, or
 * presence: every stored value 1). */
static int as_csr(const assay_matrix *X, int presence, assay_csr *tmp, const assay_csr **out,
                  assay_error *err) {
    if (X->csr && !presence) {
        *out = X->csr;
        return ASSAY_OK;
    }
    if (X->csr) {
        const assay_csr *c = X->csr;
        int rc = assay_csr_init(tmp, c->nrows, c->ncols, c->nnz, err);
        if (rc) return rc;
        memcpy(tmp->indptr, c->indptr, sizeof *c->indptr * (size_t)(c->nrows + 1));
        if (c->nnz) memcpy(tmp->indices, c->indices, sizeof *c->indices * (size_t)c->nnz);
        for (int64_t p = 0; p < c->nnz; p++) tmp->values[p] = c->values[p] != 0 ? 1.0f : 0.0f;
        *out = tmp;
        return ASSAY_OK;
    }
    int64_t nnz = 0;
    for (int64_t i = 0; i < X->n * X->d; i++) nnz += X->dense[i] != 0;
    int rc = assay_csr_init(tmp, X->n, X->d, nnz, err);
    if (rc) return rc;
    int64_t q = 0;
    for (int64_t i = 0; i < X->n; i++) {
        tmp->indptr[i] = q;
        for (int64_t j = 0; j < X->d; j++) {
            float v = X->dense[i * X->d + j];
            if (v != 0) tmp->indices[q] = (int32_t)j, tmp->values[q++] = presence ? 1.0f : v;
        }
    }
    tmp->indptr[X->n] = q;
    *out = tmp;
    return ASSAY_OK;
}

static int tc_fit(assay_estimator *e, const assay_design *d, assay_error *err) {
    assay__textclf *m = (assay__textclf *)e;
    int rc;
    if (d->images)
        return assay_error_set(err, ASSAY_EINVAL, "textclf: image designs are not supported");
    if ((rc = assay__matrix_check(&d->X, e->nfeatures, "textclf", err))) return rc;
    if (d->X.d != m->V)
        return assay_error_set(err, ASSAY_EINVAL, "textclf: the design has %lld columns, not %lld",
                               (long long)d->X.d, (long long)m->V);
    int64_t n = d->X.n;
    /* negative values (standardised numeric columns beside the text) are checked on the design
     * itself: weights=presence would turn them into terms */
    const float *v = d->X.csr ? d->X.csr->values : d->X.dense;
    int64_t nv = d->X.csr ? d->X.csr->nnz : d->X.n * d->X.d;
    for (int64_t p = 0; p < nv; p++)
        if (v[p] < 0)
            return assay_error_set(err, ASSAY_ENOTSUP,
                                   "textclf: needs non-negative features (counts or TF-IDF of text "
                                   "columns); the design holds %g", (double)v[p]);
    assay_csr tmp = {0};
    const assay_csr *X;
    if ((rc = as_csr(&d->X, m->presence, &tmp, &X, err))) return rc;
    const int multi = e->task == ASSAY_TASK_MULTILABEL, K = m->K;
    int64_t *ptr = assay_mallocarray((size_t)n + 1, sizeof *ptr);
    int32_t *lab = assay_mallocarray((size_t)n * (size_t)(multi ? K : 1) + 1, sizeof *lab);
    if (!ptr || !lab) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "textclf: out of memory");
        goto done;
    }
    int64_t q = 0;
    for (int64_t i = 0; i < n; i++) {
        ptr[i] = q;
        /* zero-weight rows are left out; other sample weights are not used by SGD here */
        if (d->w && !(d->w[i] > 0)) continue;
        if (!multi) lab[q++] = (int32_t)d->y[i];
        for (int k = 0; multi && k < K; k++)
            if (d->y[i * K + k] != 0) lab[q++] = k;
    }
    ptr[n] = q;
    m->o.seed = d->seed;
    rc = assay__textclf_fit(m, X, ptr, lab, err);
done:
    assay_free(ptr);
    assay_free(lab);
    if (X == &tmp) assay_csr_deinit(&tmp);
    return rc;
}

static int tc_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                      assay_error *err) {
    const assay__textclf *m = (const assay__textclf *)e;
    int rc;
    if ((rc = assay__matrix_check(X, e->nfeatures, "textclf", err))) return rc;
    assay_csr tmp = {0};
    const assay_csr *C = NULL;
    assay_matrix Xp;
    if (m->presence) { /* the rows as training saw them */
        if ((rc = as_csr(X, 1, &tmp, &C, err))) return rc;
        Xp = (assay_matrix){.n = X->n, .d = X->d, .csr = C};
        X = &Xp;
    }
    int K = m->K, D = m->D;
    int64_t n = X->n, d = X->d;
    int T = assay_threads_get();
    if (T < 1) T = 1;
    /* per thread: D + K + K floats, and for dense rows d indices and values */
    size_t stride = (size_t)(D + 2 * K) + (X->dense ? 2 * (size_t)d : 0);
    float *scratch = assay_mallocarray((size_t)T * stride, sizeof *scratch);
    if (!scratch) {
        assay_csr_deinit(&tmp);
        return assay_error_set(err, ASSAY_ENOMEM, "textclf: out of memory");
    }
#pragma omp parallel for schedule(static) num_threads(T) if (n > 256)
    for (int64_t i = 0; i < n; i++) {
        float *sc = scratch + (size_t)omp_get_thread_num() * stride, *prob = sc + D + K;
        const int32_t *idx;
        const float *val;
        int64_t nnz = 0;
        if (X->csr) {
            idx = X->csr->indices + X->csr->indptr[i];
            val = X->csr->values + X->csr->indptr[i];
            nnz = X->csr->indptr[i + 1] - X->csr->indptr[i];
        } else {
            int32_t *ii = (int32_t *)(void *)(prob + K);
            float *vv = prob + K + d;
            for (int64_t j = 0; j < d; j++)
                if (X->dense[i * d + j] != 0) ii[nnz] = (int32_t)j, vv[nnz++] = X->dense[i * d + j];
            idx = ii, val = vv;
        }
        assay__textclf_scores(m, idx, val, nnz, prob, sc);
        if (e->task == ASSAY_TASK_MULTILABEL) { /* ova: each label's own sigmoid */
            for (int k = 0; k < K; k++) out[i * K + k] = prob[k];
            continue;
        }
        double sum = 0;
        for (int k = 0; k < K; k++) sum += prob[k];
        /* ova: the sigmoids normalised so the estimator's output is a distribution */
        for (int k = 0; k < K; k++) out[i * K + k] = sum > 0 ? prob[k] / sum : 1.0 / K;
    }
    assay_free(scratch);
    assay_csr_deinit(&tmp);
    return ASSAY_OK;
}

static int tc_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                   json_t *meta, assay_error *err) {
    const assay__textclf *m = (const assay__textclf *)e;
    char name[256];
    int rc;
    int64_t es[2] = {m->V, m->D}, ws[2] = {m->nout, m->D}, cs[1] = {m->K};
    snprintf(name, sizeof name, "%sembeddings", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_F32, 2, es, m->E, err))) return rc;
    snprintf(name, sizeof name, "%soutput", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_F32, 2, ws, m->W, err))) return rc;
    snprintf(name, sizeof name, "%sclass_counts", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_I64, 1, cs, m->counts, err))) return rc;
    if (meta &&
        (json_object_set_new(meta, "loss", json_string(losses[m->o.loss])) ||
         json_object_set_new(meta, "dim", json_integer(m->D)) ||
         json_object_set_new(meta, "train_tokens", json_integer(m->train_tokens)) ||
         json_object_set_new(meta, "train_seconds", json_real(m->train_seconds))))
        return assay_error_set(err, ASSAY_ENOMEM, "textclf: out of memory saving");
    return ASSAY_OK;
}

static int tc_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                   const json_t *meta, assay_error *err) {
    assay__textclf *m = (assay__textclf *)e;
    const assay_tensor *te, *tw, *tcnt;
    int64_t es[2] = {m->V, m->D}, ws[2] = {m->nout, m->D}, cs[1] = {m->K};
    int rc;
    if ((rc = assay__tensor_exact(f, prefix, "embeddings", ASSAY_F32, 2, es, &te, err)) ||
        (rc = assay__tensor_exact(f, prefix, "output", ASSAY_F32, 2, ws, &tw, err)) ||
        (rc = assay__tensor_exact(f, prefix, "class_counts", ASSAY_I64, 1, cs, &tcnt, err)))
        return rc;
    const int64_t *c = tcnt->data;
    for (int k = 0; k < m->K; k++)
        if (c[k] < 0 || c[k] > INT64_MAX / 4 / m->K)
            return assay_error_set(err, ASSAY_EFORMAT, "textclf: class count %lld is invalid",
                                   (long long)c[k]);
    if (meta) {
        json_t *v = json_object_get(meta, "loss");
        if (v && (!json_is_string(v) || strcmp(json_string_value(v), losses[m->o.loss]) != 0))
            return assay_error_set(err, ASSAY_EFORMAT,
                                   "textclf: the file's loss does not match its parameters");
        if ((v = json_object_get(meta, "train_tokens")) && json_is_integer(v))
            m->train_tokens = json_integer_value(v);
        if ((v = json_object_get(meta, "train_seconds")) && json_is_number(v))
            m->train_seconds = json_number_value(v);
    }
    memcpy(m->counts, c, (size_t)m->K * sizeof *c);
    if ((rc = rebuild_tree(m, err))) return rc;
    memcpy(m->E, te->data, (size_t)m->V * (size_t)m->D * sizeof *m->E);
    memcpy(m->W, tw->data, (size_t)m->nout * (size_t)m->D * sizeof *m->W);
    return ASSAY_OK;
}

static json_t *tc_training(const assay_estimator *e) {
    const assay__textclf *m = (const assay__textclf *)e;
    return json_pack("{s:I, s:f, s:f}", "tokens", (json_int_t)m->train_tokens, "seconds",
                     m->train_seconds, "tokens_per_second",
                     m->train_seconds > 0 ? (double)m->train_tokens / m->train_seconds : 0.0);
}

const assay_estimator_vt assay__textclf_vt = {
    .name = "textclf",
    .summary = "fastText-style classifier: averaged token embeddings, softmax/hs/ova, Hogwild SGD",
    .tasks = (1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS) | (1u << ASSAY_TASK_MULTILABEL),
    .create = tc_create,
    .fit = tc_fit,
    .predict = tc_predict,
    .save = tc_save,
    .load = tc_load,
    .free = tc_free,
    /* tried by --model auto on tables with text columns (ASSAY_EST_TEXT) */
    .grid = (const char *const[]){"lr=0.2,epochs=10", "lr=0.5,epochs=25", NULL},
    .training = tc_training,
    .prep = tc_prep,
    .flags = ASSAY_EST_SPARSE | ASSAY_EST_TEXT,
};
