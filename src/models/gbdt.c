/* gbdt.c - histogram gradient-boosted decision trees: parameters and training.
 *
 * Training, per the XGBoost/LightGBM recipe:
 *   binning     each numeric feature is cut at up to max_bins - 1 quantiles of (a sample of up to
 *               200,000) training values, or between distinct values when there are few; a
 *               categorical feature's bins are its codes; every feature has one more bin for
 *               missing values. The binned matrix is n x d bytes, row-major.
 *   histograms  per node, gradient and hessian sums per (feature, bin), accumulated over the
 *               node's rows in a fixed number of chunks (by row count, not thread count, so the
 *               sums and the model do not depend on the threads) in parallel and added in order;
 *               of two siblings only the smaller is built, the other is parent minus it.
 *   splits      numeric: every bin boundary, with missing values sent left and right, keeping
 *               the better (the learned default direction); categorical: one category against
 *               the rest for few categories, else categories sorted by G / (H + cat_smooth) and
 *               prefixes of that order from either end (at most max_cat_threshold categories),
 *               with the extra cat_l2 regularization LightGBM uses. Leaf weights minimise
 *               G w + (H + lambda) w^2 / 2 + alpha |w| within the node's monotone bounds; a
 *               split's gain is the parent's objective minus the children's.
 *   monotone    a split on a constrained feature must order its children's weights; the
 *               children then get bounds at the midpoint (XGBoost's method), so every tree and
 *               the ensemble are monotone in that feature.
 *   growth      depth-wise (level by level, max_depth) or loss-guided (best gain first,
 *               max_leaves); both stop at min_split_gain and min_child_weight.
 *   boosting    binary log loss, softmax (K trees a round, hessian K/(K-1) p (1-p) as LightGBM),
 *               squared error, absolute error (leaves renewed to the median residual) and Huber;
 *               class weights; row subsampling and column subsampling per tree; early stopping on
 *               a validation split, keeping the best round. */
#include <float.h>

#include "gbdt.h"

const char *const assay__gbdt_objectives[] = {"logloss", "softmax", "squared", "absolute",
                                              "huber", NULL};

static const char *const known[] = {
    "n_trees",       "learning_rate", "max_depth",         "max_leaves",   "grow",
    "min_child_weight", "min_split_gain", "lambda",        "alpha",        "subsample",
    "colsample",     "max_bins",      "objective",         "huber_delta",  "class_weight",
    "early_stopping", "validation_fraction", "max_cat_onehot", "max_cat_threshold",
    "cat_smooth",    "cat_l2",        "min_cat_weight", NULL};
static const char *const grow_names[] = {"depthwise", "lossguide", NULL};
static const char *const obj_names[] = {"auto", "logloss", "softmax", "squared", "absolute",
                                        "huber", NULL};
static const char *const cw_names[] = {"none", "balanced", NULL};

#define SAMPLE_FOR_BINS 200000
#define HIST_CHUNKS 8
#define ROWS_PER_CHUNK 8192

/* ---- parameters ---------------------------------------------------------------------------- */

static void gb_free(assay_estimator *e) {
    if (!e) return;
    gbdt *m = (gbdt *)e;
    assay_free(m->base_score);
    assay_free(m->tree_off);
    assay_free(m->nodes);
    assay_free(m->catbits);
    assay_free(m);
}

static int gb_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                     assay_estimator **out, assay_error *err) {
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, known, "gbdt", err))) return rc;
    if (nfeatures < 1 || nfeatures > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: bad feature count %lld",
                               (long long)nfeatures);
    if (nclasses > 256)
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: %d classes (at most 256)", nclasses);
    if (task != ASSAY_TASK_REGRESSION && (nclasses < 2 || (task == ASSAY_TASK_BINARY && nclasses != 2)))
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: %d classes for a %s task", nclasses,
                               assay_task_name(task));
    gbdt *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory");
    int obj = 0;
    if ((rc = assay_params_int(p, "n_trees", 100, 1, 1000000, &m->n_trees, err)) ||
        (rc = assay_params_double(p, "learning_rate", 0.1, 1e-6, 10.0, &m->lr, err)) ||
        (rc = assay_params_int(p, "max_depth", -1, 0, GB_MAX_DEPTH, &m->max_depth, err)) ||
        (rc = assay_params_int(p, "max_leaves", -1, 0, 1L << 20, &m->max_leaves, err)) ||
        (rc = assay_params_choice(p, "grow", grow_names, GB_GROW_DEPTHWISE, &m->grow, err)) ||
        (rc = assay_params_double(p, "min_child_weight", 1.0, 0.0, DBL_MAX, &m->min_child_weight, err)) ||
        (rc = assay_params_double(p, "min_split_gain", 0.0, 0.0, DBL_MAX, &m->min_split_gain, err)) ||
        (rc = assay_params_double(p, "lambda", 1.0, 0.0, DBL_MAX, &m->lambda, err)) ||
        (rc = assay_params_double(p, "alpha", 0.0, 0.0, DBL_MAX, &m->alpha, err)) ||
        (rc = assay_params_double(p, "subsample", 1.0, 1e-6, 1.0, &m->subsample, err)) ||
        (rc = assay_params_double(p, "colsample", 1.0, 1e-6, 1.0, &m->colsample, err)) ||
        (rc = assay_params_int(p, "max_bins", 255, 2, 255, &m->max_bins, err)) ||
        (rc = assay_params_choice(p, "objective", obj_names, 0, &obj, err)) ||
        (rc = assay_params_double(p, "huber_delta", 1.0, 1e-12, DBL_MAX, &m->huber_delta, err)) ||
        (rc = assay_params_choice(p, "class_weight", cw_names, 0, &m->balanced, err)) ||
        (rc = assay_params_int(p, "early_stopping", 0, 0, 1000000, &m->early_stopping, err)) ||
        (rc = assay_params_double(p, "validation_fraction", 0.1, 0.01, 0.5, &m->validation_fraction, err)) ||
        (rc = assay_params_int(p, "max_cat_onehot", 4, 1, 255, &m->max_cat_onehot, err)) ||
        (rc = assay_params_int(p, "max_cat_threshold", 32, 1, 255, &m->max_cat_threshold, err)) ||
        (rc = assay_params_double(p, "cat_smooth", 10.0, 0.0, DBL_MAX, &m->cat_smooth, err)) ||
        (rc = assay_params_double(p, "cat_l2", 10.0, 0.0, DBL_MAX, &m->cat_l2, err)) ||
        (rc = assay_params_double(p, "min_cat_weight", 10.0, 0.0, DBL_MAX, &m->min_cat_weight, err)))
        goto fail;
    /* defaults that depend on the growth policy (XGBoost's and LightGBM's) */
    if (m->max_depth < 0) m->max_depth = m->grow == GB_GROW_DEPTHWISE ? 6 : 0;
    if (m->max_leaves < 0) m->max_leaves = m->grow == GB_GROW_DEPTHWISE ? 0 : 31;
    if (m->grow == GB_GROW_DEPTHWISE && m->max_depth == 0) {
        rc = assay_error_set(err, ASSAY_EINVAL, "gbdt: grow=depthwise needs max_depth >= 1");
        goto fail;
    }
    if (m->grow == GB_GROW_LOSSGUIDE && m->max_leaves < 2) {
        rc = assay_error_set(err, ASSAY_EINVAL, "gbdt: grow=lossguide needs max_leaves >= 2");
        goto fail;
    }
    if (obj == 0) {
        obj = task == ASSAY_TASK_BINARY       ? 1 + GB_OBJ_LOGLOSS
              : task == ASSAY_TASK_MULTICLASS ? 1 + GB_OBJ_SOFTMAX
                                              : 1 + GB_OBJ_SQUARED;
    }
    m->objective = obj - 1;
    int want_reg = m->objective >= GB_OBJ_SQUARED;
    if (want_reg != (task == ASSAY_TASK_REGRESSION) ||
        (m->objective == GB_OBJ_LOGLOSS && task != ASSAY_TASK_BINARY) ||
        (m->objective == GB_OBJ_SOFTMAX && task != ASSAY_TASK_MULTICLASS)) {
        rc = assay_error_set(err, ASSAY_EINVAL, "gbdt: objective %s does not fit a %s task",
                             assay__gbdt_objectives[m->objective], assay_task_name(task));
        goto fail;
    }
    if (m->balanced && task == ASSAY_TASK_REGRESSION) {
        rc = assay_error_set(err, ASSAY_EINVAL, "gbdt: class_weight needs a classification task");
        goto fail;
    }
    m->base.vt = &assay__gbdt_vt;
    m->base.task = task;
    m->base.nclasses = nclasses;
    m->base.nfeatures = nfeatures;
    m->K = task == ASSAY_TASK_MULTICLASS ? nclasses : 1;
    if (!(m->base_score = assay_calloc((size_t)m->K, sizeof *m->base_score)) ||
        !(m->tree_off = assay_calloc(1, sizeof *m->tree_off))) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory");
        goto fail;
    }
    *out = &m->base;
    return ASSAY_OK;
fail:
    if (rc != ASSAY_ENOMEM && strncmp(err->msg, "gbdt", 4) != 0) assay_error_prefix(err, "gbdt");
    gb_free(&m->base);
    return rc;
}

/* ---- binning ------------------------------------------------------------------------------- */

typedef struct gb_bins {
    int d;
    int *nbins;      /* value bins per feature; the missing bin is nbins[f] */
    float **cuts;    /* numeric: nbins[f] - 1 increasing cut values, bin b holds x <= cuts[b] */
    int64_t *off;    /* histogram slot of each feature's bin 0 */
    int64_t nslots;  /* sum of nbins[f] + 1 */
} gb_bins;

static void bins_deinit(gb_bins *b) {
    if (b->cuts)
        for (int f = 0; f < b->d; f++) assay_free(b->cuts[f]);
    assay_free(b->cuts);
    assay_free(b->nbins);
    assay_free(b->off);
    memset(b, 0, sizeof *b);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Cut points of one numeric feature from its sorted present values v[m]. */
static int feature_cuts(const float *v, int64_t m, int max_bins, float **cuts, int *ncuts) {
    *cuts = NULL;
    *ncuts = 0;
    if (m == 0) return ASSAY_OK;
    int64_t nu = 1;
    for (int64_t i = 1; i < m; i++) nu += v[i] != v[i - 1];
    if (nu < 2) return ASSAY_OK;
    float *c = assay_mallocarray((size_t)(nu < max_bins ? nu : max_bins), sizeof *c);
    if (!c) return ASSAY_ENOMEM;
    int n = 0;
    if (nu <= max_bins) { /* between distinct values */
        for (int64_t i = 1; i < m; i++) {
            if (v[i] == v[i - 1]) continue;
            float mid = (float)(((double)v[i - 1] + (double)v[i]) / 2.0);
            if (!(mid < v[i])) mid = v[i - 1];
            c[n++] = mid;
        }
    } else { /* equal-frequency quantiles */
        for (int b = 1; b < max_bins; b++) {
            float q = v[(int64_t)((double)b * (double)m / (double)max_bins)];
            if (q >= v[m - 1]) break;
            if (n == 0 || q > c[n - 1]) c[n++] = q;
        }
    }
    *cuts = c;
    *ncuts = n;
    return ASSAY_OK;
}

/* Fit the bins on the rows rows[0..n) of X (row-major, d columns). */
static int bins_fit(const float *X, int d, const int32_t *rows, int64_t n, const int32_t *ncat,
                    int max_bins, uint64_t seed, gb_bins *b, assay_error *err) {
    memset(b, 0, sizeof *b);
    b->d = d;
    b->nbins = assay_calloc((size_t)d, sizeof *b->nbins);
    b->cuts = assay_calloc((size_t)d, sizeof *b->cuts);
    b->off = assay_calloc((size_t)d + 1, sizeof *b->off);
    int64_t ns = n < SAMPLE_FOR_BINS ? n : SAMPLE_FOR_BINS;
    int32_t *sample = assay_mallocarray((size_t)ns + 1, sizeof *sample);
    if (!b->nbins || !b->cuts || !b->off || !sample) goto nomem;
    if (ns == n) {
        for (int64_t i = 0; i < n; i++) sample[i] = rows[i];
    } else { /* a uniform sample without replacement (selection sampling keeps row order) */
        assay_rng rng;
        assay_rng_seed(&rng, seed ^ 0x62696e73ULL);
        int64_t need = ns, k = 0;
        for (int64_t i = 0; i < n && need > 0; i++)
            if ((double)assay_rng_below(&rng, (uint64_t)(n - i)) < (double)need) sample[k++] = rows[i], need--;
    }
    int failed = 0;
#pragma omp parallel
    {
        float *v = assay_mallocarray((size_t)ns + 1, sizeof *v);
        if (!v) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int f = 0; f < d; f++) {
            if (!v) continue;
            if (ncat && ncat[f] > 0) {
                b->nbins[f] = ncat[f];
                continue;
            }
            int64_t m = 0;
            for (int64_t i = 0; i < ns; i++) {
                float x = X[(int64_t)sample[i] * d + f];
                if (!isnan(x)) v[m++] = x;
            }
            qsort(v, (size_t)m, sizeof *v, cmp_float);
            int nc = 0;
            if (feature_cuts(v, m, max_bins, &b->cuts[f], &nc)) {
#pragma omp atomic write
                failed = 1;
            }
            b->nbins[f] = nc + 1;
        }
        assay_free(v);
    }
    assay_free(sample);
    if (failed) goto nomem_b;
    for (int f = 0; f < d; f++) b->off[f + 1] = b->off[f] + b->nbins[f] + 1;
    b->nslots = b->off[d];
    return ASSAY_OK;
nomem:
    assay_free(sample);
nomem_b:
    bins_deinit(b);
    return assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory binning features");
}

static inline uint8_t bin_of(const gb_bins *b, const int32_t *ncat, int f, float x) {
    if (isnan(x)) return (uint8_t)b->nbins[f];
    if (ncat && ncat[f] > 0) {
        if (!(x >= 0.0f) || x >= (float)ncat[f]) return (uint8_t)b->nbins[f];
        return (uint8_t)(int)x;
    }
    const float *c = b->cuts[f];
    int lo = 0, hi = b->nbins[f] - 1; /* first cut >= x, or nbins - 1 */
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (x <= c[mid]) hi = mid;
        else lo = mid + 1;
    }
    return (uint8_t)lo;
}

/* Binned rows: out[i * d + f] for rows[i] of X. */
static void bins_apply(const gb_bins *b, const int32_t *ncat, const float *X, const int32_t *rows,
                       int64_t n, uint8_t *out) {
    const int d = b->d;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + (int64_t)rows[i] * d;
        for (int f = 0; f < d; f++) out[i * d + f] = bin_of(b, ncat, f, x[f]);
    }
}

/* ---- one tree ------------------------------------------------------------------------------ */

typedef struct gb_split {
    double gain;
    int32_t feature;          /* -1: none */
    int32_t bin;              /* numeric: bins <= bin go left */
    int default_left, is_cat;
    uint32_t cats[8];         /* categorical: codes going left */
    double GL, HL, GR, HR, wl, wr;
} gb_split;

typedef struct gb_leaf {
    int32_t node;
    int64_t begin, end;       /* rows idx[begin, end) */
    int depth;
    double G, H, lo, hi;      /* sums; monotone bounds of the weight */
    double *hist;             /* 2 * nslots, or NULL */
    gb_split best;
} gb_leaf;

/* A tree under construction, in training terms (bins), converted to gb_node at the end. */
typedef struct gb_tnode {
    int32_t feature, left, right, bin, default_left, is_cat;
    uint32_t cats[8];
    double value, cover, gain;
} gb_tnode;

typedef struct gb_ctx {
    const gbdt *m;
    const gb_bins *b;
    const int32_t *ncat;
    const int8_t *mono;
    int d;
    const uint8_t *bins;      /* training rows x d */
    const uint8_t *cbins;     /* the same bins by column: d x n (for the row partition) */
    int64_t n;                /* training rows */
    const float *gp;          /* 2 per training row: g, h of the current tree */
    int *feats;               /* active features of the current tree */
    int nfeats;
    int32_t *idx, *tmp;
    double *scratch;          /* HIST_CHUNKS x 2 * nslots */
    double **pool;            /* free histogram buffers */
    int npool, cap_pool;
    gb_tnode *tn;
    int ntn, cap_tn;
    gb_leaf *leaves;
    int nleaves, cap_leaves;
    gb_split *fbest;          /* per active feature */
} gb_ctx;

static double *hist_get(gb_ctx *c) {
    if (c->npool > 0) return c->pool[--c->npool];
    return assay_mallocarray((size_t)c->b->nslots * 2, sizeof(double));
}

static int hist_put(gb_ctx *c, double *h) {
    if (!h) return ASSAY_OK;
    if (c->npool == c->cap_pool) {
        int cap = c->cap_pool ? 2 * c->cap_pool : 16;
        double **p = assay_reallocarray(c->pool, (size_t)cap, sizeof *p);
        if (!p) {
            assay_free(h);
            return ASSAY_OK;
        }
        c->pool = p;
        c->cap_pool = cap;
    }
    c->pool[c->npool++] = h;
    return ASSAY_OK;
}

/* Rows of a deep node are scattered over the bin matrix and the gradient pairs; fetching the
 * row PREFETCH_AHEAD positions ahead hides most of that latency (measured: the two loads were
 * half of the time in this loop at 1M rows). */
#define PREFETCH_AHEAD 16

static void hist_accumulate(const gb_ctx *c, const int32_t *rows, int64_t n, double *h) {
    const int d = c->d, nf = c->nfeats;
    const int *feats = c->feats;
    const int64_t *off = c->b->off;
    const int all = nf == d;
    for (int64_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            int64_t rp = rows[i + PREFETCH_AHEAD];
            const uint8_t *bp = c->bins + rp * d;
            __builtin_prefetch(bp);
            __builtin_prefetch(bp + d - 1);
            __builtin_prefetch(c->gp + 2 * rp);
        }
        int32_t r = rows[i];
        const uint8_t *br = c->bins + (int64_t)r * d;
        double g = c->gp[2 * (int64_t)r], hh = c->gp[2 * (int64_t)r + 1];
        if (all) {
            for (int f = 0; f < d; f++) {
                double *e = h + 2 * (off[f] + br[f]);
                e[0] += g;
                e[1] += hh;
            }
        } else {
            for (int k = 0; k < nf; k++) {
                int f = feats[k];
                double *e = h + 2 * (off[f] + br[f]);
                e[0] += g;
                e[1] += hh;
            }
        }
    }
}

/* Gradient/hessian sums per slot over rows (deterministic in the thread count). */
static void hist_build(gb_ctx *c, const int32_t *rows, int64_t n, double *hist) {
    const int64_t S = 2 * c->b->nslots;
    int nch = (int)(n / ROWS_PER_CHUNK);
    if (nch > HIST_CHUNKS) nch = HIST_CHUNKS;
    if (nch <= 1) {
        memset(hist, 0, (size_t)S * sizeof *hist);
        hist_accumulate(c, rows, n, hist);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        double *h = c->scratch + (int64_t)ch * S;
        memset(h, 0, (size_t)S * sizeof *h);
        int64_t a = n * ch / nch, z = n * (ch + 1) / nch;
        hist_accumulate(c, rows + a, z - a, h);
    }
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < S; s++) {
        double v = 0;
        for (int ch = 0; ch < nch; ch++) v += c->scratch[(int64_t)ch * S + s];
        hist[s] = v;
    }
}

static inline double leaf_weight(double G, double H, double lambda, double alpha, double lo,
                                 double hi) {
    double g = G > alpha ? G - alpha : G < -alpha ? G + alpha : 0.0;
    double w = -g / (H + lambda);
    return w < lo ? lo : w > hi ? hi : w;
}

static inline double leaf_obj(double G, double H, double w, double lambda, double alpha) {
    return G * w + 0.5 * (H + lambda) * w * w + alpha * fabs(w);
}

/* Evaluate one candidate (children sums) and keep it in *best if better. Returns 1 if kept. */
static int consider(const gb_ctx *c, const gb_leaf *L, int mono, double lambda, double objp,
                    double GL, double HL, gb_split *best) {
    const gbdt *m = c->m;
    double GR = L->G - GL, HR = L->H - HL;
    if (!(HL > 0) || !(HR > 0) || HL < m->min_child_weight || HR < m->min_child_weight) return 0;
    double wl = leaf_weight(GL, HL, lambda, m->alpha, L->lo, L->hi);
    double wr = leaf_weight(GR, HR, lambda, m->alpha, L->lo, L->hi);
    if ((mono > 0 && wl > wr) || (mono < 0 && wl < wr)) return 0;
    double gain = objp - leaf_obj(GL, HL, wl, lambda, m->alpha) - leaf_obj(GR, HR, wr, lambda, m->alpha);
    if (!(gain > best->gain)) return 0;
    best->gain = gain;
    best->GL = GL, best->HL = HL, best->GR = GR, best->HR = HR;
    best->wl = wl, best->wr = wr;
    return 1;
}

static void split_numeric(const gb_ctx *c, const gb_leaf *L, int f, gb_split *best) {
    const gbdt *m = c->m;
    const double *h = L->hist + 2 * c->b->off[f];
    int nb = c->b->nbins[f];
    double Gm = h[2 * nb], Hm = h[2 * nb + 1];
    int mono = c->mono ? c->mono[f] : 0;
    double wp = leaf_weight(L->G, L->H, m->lambda, m->alpha, L->lo, L->hi);
    double objp = leaf_obj(L->G, L->H, wp, m->lambda, m->alpha);
    int has_missing = Hm > 0;
    for (int dir = 0; dir < 1 + has_missing; dir++) { /* dir 1: missing values go left */
        double GL = dir ? Gm : 0.0, HL = dir ? Hm : 0.0;
        for (int bb = 0; bb < nb - 1; bb++) {
            GL += h[2 * bb];
            HL += h[2 * bb + 1];
            if (consider(c, L, mono, m->lambda, objp, GL, HL, best)) {
                best->feature = f;
                best->bin = bb;
                best->is_cat = 0;
                best->default_left = has_missing ? dir : -1; /* -1: decided by cover below */
            }
        }
    }
    if (best->feature == f && best->default_left < 0) best->default_left = best->HL >= best->HR;
}

typedef struct catstat {
    double key;
    int code;
} catstat;

static int cmp_catstat(const void *a, const void *b) {
    const catstat *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->code - y->code;
}

static void split_categorical(const gb_ctx *c, const gb_leaf *L, int f, gb_split *best) {
    const gbdt *m = c->m;
    const double *h = L->hist + 2 * c->b->off[f];
    int nb = c->b->nbins[f];
    double Gm = h[2 * nb], Hm = h[2 * nb + 1];
    double lambda = m->lambda + m->cat_l2;
    double wp = leaf_weight(L->G, L->H, lambda, m->alpha, L->lo, L->hi);
    double objp = leaf_obj(L->G, L->H, wp, lambda, m->alpha);
    catstat cs[256];
    int nc = 0;
    for (int k = 0; k < nb; k++)
        if (h[2 * k + 1] > 0 && h[2 * k + 1] >= m->min_cat_weight) cs[nc].code = k, cs[nc].key = h[2 * k] / (h[2 * k + 1] + m->cat_smooth), nc++;
    if (nc < 2 && !(nc == 1 && Hm > 0)) return;
    int has_missing = Hm > 0;
    int onehot = nb <= m->max_cat_onehot;
    if (!onehot) qsort(cs, (size_t)nc, sizeof *cs, cmp_catstat);
    int found = 0, best_from = 0, best_len = 0, best_single = -1, best_dir = 0;
    for (int dir = 0; dir < 1 + has_missing; dir++) {
        if (onehot) {
            for (int j = 0; j < nc; j++) {
                int k = cs[j].code;
                double GL = h[2 * k] + (dir ? Gm : 0), HL = h[2 * k + 1] + (dir ? Hm : 0);
                if (consider(c, L, 0, lambda, objp, GL, HL, best))
                    found = 1, best_single = k, best_dir = dir;
            }
            continue;
        }
        int maxlen = nc - 1 < m->max_cat_threshold ? nc - 1 : (int)m->max_cat_threshold;
        if (has_missing && maxlen < nc && maxlen < m->max_cat_threshold) maxlen = nc < m->max_cat_threshold ? nc : (int)m->max_cat_threshold;
        for (int from = 0; from < 2; from++) { /* prefixes of the order from the low or high end */
            double GL = dir ? Gm : 0, HL = dir ? Hm : 0;
            for (int j = 0; j < maxlen; j++) {
                int k = cs[from ? nc - 1 - j : j].code;
                GL += h[2 * k];
                HL += h[2 * k + 1];
                if (consider(c, L, 0, lambda, objp, GL, HL, best))
                    found = 1, best_single = -1, best_from = from, best_len = j + 1, best_dir = dir;
            }
        }
    }
    if (!found) return;
    best->feature = f;
    best->is_cat = 1;
    best->bin = -1;
    best->default_left = best_dir;
    memset(best->cats, 0, sizeof best->cats);
    if (best_single >= 0) {
        best->cats[best_single >> 5] |= 1u << (best_single & 31);
    } else {
        for (int j = 0; j < best_len; j++) {
            int k = cs[best_from ? nc - 1 - j : j].code;
            best->cats[k >> 5] |= 1u << (k & 31);
        }
    }
}

/* Best split of leaf L (which has a histogram) over the active features. */
static void find_best(gb_ctx *c, gb_leaf *L) {
    L->best.gain = 0;
    L->best.feature = -1;
    const gbdt *m = c->m;
    if (m->max_depth > 0 && L->depth >= m->max_depth) return;
    if (L->H < 2 * m->min_child_weight) return;
#pragma omp parallel for schedule(dynamic, 4) if (c->nfeats > 8 && L->end - L->begin > 2048)
    for (int k = 0; k < c->nfeats; k++) {
        int f = c->feats[k];
        gb_split *s = &c->fbest[k];
        s->gain = 0;
        s->feature = -1;
        if (c->ncat && c->ncat[f] > 0) split_categorical(c, L, f, s);
        else if (c->b->nbins[f] > 1) split_numeric(c, L, f, s);
    }
    for (int k = 0; k < c->nfeats; k++) /* in feature order: ties go to the first feature */
        if (c->fbest[k].feature >= 0 && c->fbest[k].gain > L->best.gain) L->best = c->fbest[k];
    if (L->best.feature >= 0 && !(L->best.gain > m->min_split_gain)) L->best.feature = -1;
}

static inline int bin_left(const gb_ctx *c, const gb_tnode *t, uint8_t bv) {
    if (bv == c->b->nbins[t->feature]) return t->default_left;
    if (t->is_cat) return (t->cats[bv >> 5] >> (bv & 31)) & 1u;
    return bv <= t->bin;
}

static int add_tnode(gb_ctx *c) {
    if (c->ntn == c->cap_tn) {
        int cap = c->cap_tn ? 2 * c->cap_tn : 64;
        gb_tnode *p = assay_reallocarray(c->tn, (size_t)cap, sizeof *p);
        if (!p) return -1;
        c->tn = p;
        c->cap_tn = cap;
    }
    memset(&c->tn[c->ntn], 0, sizeof c->tn[0]);
    c->tn[c->ntn].feature = GB_LEAF;
    c->tn[c->ntn].left = c->tn[c->ntn].right = -1;
    return c->ntn++;
}

static int push_leaf(gb_ctx *c, const gb_leaf *L) {
    if (c->nleaves == c->cap_leaves) {
        int cap = c->cap_leaves ? 2 * c->cap_leaves : 64;
        gb_leaf *p = assay_reallocarray(c->leaves, (size_t)cap, sizeof *p);
        if (!p) return ASSAY_ENOMEM;
        c->leaves = p;
        c->cap_leaves = cap;
    }
    c->leaves[c->nleaves++] = *L;
    return ASSAY_OK;
}

#define PART_CHUNKS 16
#define PART_MIN_ROWS 32768

/* Stable partition of idx[begin, end) by the split in t: rows going left first. The result is
 * unique, so the parallel chunked version equals the sequential one. Returns the left count. */
static int64_t partition_rows(gb_ctx *c, const gb_tnode *t, int64_t begin, int64_t end) {
    const uint8_t *col = c->cbins + (int64_t)t->feature * c->n;
    int32_t *idx = c->idx + begin, *tmp = c->tmp + begin;
    const int64_t n = end - begin;
    int nch = (int)(n / PART_MIN_ROWS);
    if (nch > PART_CHUNKS) nch = PART_CHUNKS;
    if (nch <= 1) {
        int64_t nl = 0, nr = 0;
        for (int64_t i = 0; i < n; i++) {
            int32_t r = idx[i];
            if (bin_left(c, t, col[r])) idx[nl++] = r;
            else tmp[nr++] = r;
        }
        memcpy(idx + nl, tmp, (size_t)nr * sizeof *idx);
        return nl;
    }
    int64_t cnt[PART_CHUNKS + 1];
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int ch = 0; ch < nch; ch++) {
            int64_t a = n * ch / nch, z = n * (ch + 1) / nch, nl = 0;
            for (int64_t i = a; i < z; i++) nl += bin_left(c, t, col[idx[i]]);
            cnt[ch] = nl;
        }
#pragma omp single
        {
            int64_t s = 0;
            for (int ch = 0; ch < nch; ch++) {
                int64_t v = cnt[ch];
                cnt[ch] = s;
                s += v;
            }
            cnt[nch] = s;
        }
#pragma omp for schedule(static)
        for (int ch = 0; ch < nch; ch++) {
            int64_t a = n * ch / nch, z = n * (ch + 1) / nch;
            int64_t l = cnt[ch], r = cnt[nch] + (a - cnt[ch]);
            for (int64_t i = a; i < z; i++) {
                int32_t row = idx[i];
                if (bin_left(c, t, col[row])) tmp[l++] = row;
                else tmp[r++] = row;
            }
        }
#pragma omp for schedule(static)
        for (int ch = 0; ch < nch; ch++) {
            int64_t a = n * ch / nch, z = n * (ch + 1) / nch;
            memcpy(idx + a, tmp + a, (size_t)(z - a) * sizeof *idx);
        }
    }
    return cnt[nch];
}

/* Grow one tree on the rows idx[0..n) with gradient sums G, H. Leaves end up in c->leaves with
 * their row ranges; nodes in c->tn (values without the learning rate). */
static int grow_tree(gb_ctx *c, int64_t n, double G, double H) {
    const gbdt *m = c->m;
    c->ntn = 0;
    c->nleaves = 0;
    gb_leaf root = {.node = add_tnode(c), .begin = 0, .end = n, .depth = 0, .G = G, .H = H,
                    .lo = -INFINITY, .hi = INFINITY};
    if (root.node < 0 || !(root.hist = hist_get(c))) return ASSAY_ENOMEM;
    hist_build(c, c->idx, n, root.hist);
    find_best(c, &root);
    if (push_leaf(c, &root)) return ASSAY_ENOMEM;
    int64_t limit = m->max_leaves > 0 ? m->max_leaves : INT64_MAX;
    while (c->nleaves < limit) {
        int pick = -1;
        for (int j = 0; j < c->nleaves; j++) {
            const gb_leaf *L = &c->leaves[j];
            if (L->best.feature < 0) continue;
            if (pick < 0) { pick = j; continue; }
            const gb_leaf *P = &c->leaves[pick];
            if (m->grow == GB_GROW_DEPTHWISE ? L->node < P->node
                                             : L->best.gain > P->best.gain ||
                                                   (L->best.gain == P->best.gain && L->node < P->node))
                pick = j;
        }
        if (pick < 0) break;
        gb_leaf L = c->leaves[pick];
        const gb_split *s = &L.best;
        int li = add_tnode(c), ri = add_tnode(c);
        if (li < 0 || ri < 0) return ASSAY_ENOMEM;
        gb_tnode *t = &c->tn[L.node];
        t->feature = s->feature;
        t->left = li;
        t->right = ri;
        t->bin = s->bin;
        t->default_left = s->default_left;
        t->is_cat = s->is_cat;
        memcpy(t->cats, s->cats, sizeof t->cats);
        t->gain = s->gain;
        int64_t nl = partition_rows(c, t, L.begin, L.end), nr = L.end - L.begin - nl;
        gb_leaf A = {.node = li, .begin = L.begin, .end = L.begin + nl, .depth = L.depth + 1,
                     .G = s->GL, .H = s->HL, .lo = L.lo, .hi = L.hi};
        gb_leaf B = {.node = ri, .begin = L.begin + nl, .end = L.end, .depth = L.depth + 1,
                     .G = s->GR, .H = s->HR, .lo = L.lo, .hi = L.hi};
        int mono = c->mono ? c->mono[s->feature] : 0;
        if (mono) {
            double mid = (s->wl + s->wr) / 2;
            if (mono > 0) A.hi = mid, B.lo = mid;
            else A.lo = mid, B.hi = mid;
        }
        int deeper = m->max_depth == 0 || A.depth < m->max_depth;
        if (deeper) {
            gb_leaf *small = nl <= nr ? &A : &B, *large = nl <= nr ? &B : &A;
            if (!(small->hist = hist_get(c))) return ASSAY_ENOMEM;
            hist_build(c, c->idx + small->begin, small->end - small->begin, small->hist);
            large->hist = L.hist; /* parent minus the smaller sibling */
            L.hist = NULL;
            const int64_t S = 2 * c->b->nslots;
            for (int64_t q = 0; q < S; q++) large->hist[q] -= small->hist[q];
            find_best(c, &A);
            find_best(c, &B);
        } else {
            A.best.feature = B.best.feature = -1;
        }
        hist_put(c, L.hist);
        if (A.best.feature < 0) hist_put(c, A.hist), A.hist = NULL;
        if (B.best.feature < 0) hist_put(c, B.hist), B.hist = NULL;
        c->leaves[pick] = A;
        if (push_leaf(c, &B)) return ASSAY_ENOMEM;
    }
    for (int j = 0; j < c->nleaves; j++) {
        gb_leaf *L = &c->leaves[j];
        hist_put(c, L->hist);
        L->hist = NULL;
        c->tn[L->node].value = leaf_weight(L->G, L->H, m->lambda, m->alpha, L->lo, L->hi);
        c->tn[L->node].cover = L->H;
    }
    return ASSAY_OK;
}

/* Covers of internal nodes: the sum of their children's (children come after parents). */
static void fill_covers(gb_tnode *tn, int n) {
    for (int i = n - 1; i >= 0; i--)
        if (tn[i].feature != GB_LEAF) tn[i].cover = tn[tn[i].left].cover + tn[tn[i].right].cover;
}

/* Leaf of a binned row. */
static int32_t walk_bins(const gb_ctx *c, const uint8_t *br) {
    int32_t i = 0;
    while (c->tn[i].feature != GB_LEAF) {
        const gb_tnode *t = &c->tn[i];
        i = bin_left(c, t, br[t->feature]) ? t->left : t->right;
    }
    return i;
}

/* Append the tree in c->tn to the ensemble; thresholds from the bins' cut values. */
static int commit_tree(gbdt *m, const gb_ctx *c) {
    if (m->nnodes + c->ntn > m->cap_nodes) {
        int64_t cap = m->cap_nodes ? m->cap_nodes : 1024;
        while (cap < m->nnodes + c->ntn) cap *= 2;
        gb_node *p = assay_reallocarray(m->nodes, (size_t)cap, sizeof *p);
        if (!p) return ASSAY_ENOMEM;
        m->nodes = p;
        m->cap_nodes = cap;
    }
    int64_t *to = assay_reallocarray(m->tree_off, (size_t)m->ntrees + 2, sizeof *to);
    if (!to) return ASSAY_ENOMEM;
    m->tree_off = to;
    for (int i = 0; i < c->ntn; i++) {
        const gb_tnode *t = &c->tn[i];
        gb_node *nd = &m->nodes[m->nnodes + i];
        memset(nd, 0, sizeof *nd);
        nd->feature = t->feature;
        nd->left = t->left;
        nd->right = t->right;
        nd->value = t->feature == GB_LEAF ? t->value * m->lr : 0.0;
        nd->cover = t->cover;
        nd->gain = t->gain;
        if (t->feature == GB_LEAF) continue;
        nd->flags = t->default_left ? GB_DEFAULT_LEFT : 0;
        if (t->is_cat) {
            int words = (c->b->nbins[t->feature] + 31) / 32;
            if (m->ncatbits + words > m->cap_catbits) {
                int64_t cap = m->cap_catbits ? m->cap_catbits * 2 : 256;
                while (cap < m->ncatbits + words) cap *= 2;
                uint32_t *p = assay_reallocarray(m->catbits, (size_t)cap, sizeof *p);
                if (!p) return ASSAY_ENOMEM;
                m->catbits = p;
                m->cap_catbits = cap;
            }
            nd->flags |= GB_CATEGORICAL;
            nd->cat_off = (int32_t)m->ncatbits;
            nd->cat_words = words;
            memcpy(m->catbits + m->ncatbits, t->cats, (size_t)words * sizeof *t->cats);
            m->ncatbits += words;
        } else {
            nd->threshold = c->b->cuts[t->feature][t->bin];
        }
    }
    m->nnodes += c->ntn;
    m->ntrees++;
    m->tree_off[m->ntrees] = m->nnodes;
    return ASSAY_OK;
}

/* ---- boosting ------------------------------------------------------------------------------ */

static void softmax(const double *z, int K, double *p) {
    double mx = z[0], s = 0;
    for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < K; k++) s += (p[k] = exp(z[k] - mx));
    for (int k = 0; k < K; k++) p[k] /= s;
}

typedef struct wv {
    double v, w;
} wv;

static int cmp_wv(const void *a, const void *b) {
    double x = ((const wv *)a)->v, y = ((const wv *)b)->v;
    return (x > y) - (x < y);
}

/* Weighted median (the lower one) of a[n]; sorts a. */
static double weighted_median(wv *a, int64_t n) {
    if (n == 0) return 0;
    qsort(a, (size_t)n, sizeof *a, cmp_wv);
    double tot = 0, acc = 0;
    for (int64_t i = 0; i < n; i++) tot += a[i].w;
    for (int64_t i = 0; i < n; i++)
        if ((acc += a[i].w) >= tot / 2) return a[i].v;
    return a[n - 1].v;
}

/* Mean validation loss of the margins F (n x K) against y. */
static double val_loss(const gbdt *m, const double *F, const double *y, int64_t n) {
    double s = 0;
    int K = m->K;
    double p[256];
    for (int64_t i = 0; i < n; i++) {
        const double *f = F + i * K;
        switch (m->objective) {
        case GB_OBJ_LOGLOSS: {
            double q = assay__gb_sigmoid(f[0]);
            q = y[i] > 0.5 ? q : 1 - q;
            s -= log(q > 1e-15 ? q : 1e-15);
            break;
        }
        case GB_OBJ_SOFTMAX: {
            double q;
            if (K <= 256) softmax(f, K, p), q = p[(int)y[i]];
            else q = 1.0 / K;
            s -= log(q > 1e-15 ? q : 1e-15);
            break;
        }
        case GB_OBJ_SQUARED: s += (f[0] - y[i]) * (f[0] - y[i]); break;
        case GB_OBJ_ABSOLUTE: s += fabs(f[0] - y[i]); break;
        default: {
            double r = fabs(f[0] - y[i]), dl = m->huber_delta;
            s += r <= dl ? 0.5 * r * r : dl * (r - 0.5 * dl);
        }
        }
    }
    s /= n > 0 ? (double)n : 1.0;
    return m->objective == GB_OBJ_SQUARED ? sqrt(s) : s;
}

/* Gradients and hessians (times the row weight) of every row and output: gh[(i*K+k)*2]. */
static void gradients(const gbdt *m, const double *F, const double *y, const double *w,
                      int64_t n, float *gh) {
    const int K = m->K;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const double *f = F + i * K;
        float *o = gh + 2 * i * K;
        double wi = w[i];
        switch (m->objective) {
        case GB_OBJ_LOGLOSS: {
            double p = assay__gb_sigmoid(f[0]);
            double h = p * (1 - p);
            o[0] = (float)((p - y[i]) * wi);
            o[1] = (float)((h > 1e-16 ? h : 1e-16) * wi);
            break;
        }
        case GB_OBJ_SOFTMAX: {
            double mx = f[0], s = 0;
            for (int k = 1; k < K; k++) mx = f[k] > mx ? f[k] : mx;
            for (int k = 0; k < K; k++) s += exp(f[k] - mx);
            double scale = (double)K / (K - 1);
            for (int k = 0; k < K; k++) {
                double p = exp(f[k] - mx) / s;
                double h = scale * p * (1 - p);
                o[2 * k] = (float)((p - (y[i] == k)) * wi);
                o[2 * k + 1] = (float)((h > 1e-16 ? h : 1e-16) * wi);
            }
            break;
        }
        case GB_OBJ_SQUARED:
            o[0] = (float)((f[0] - y[i]) * wi);
            o[1] = (float)wi;
            break;
        case GB_OBJ_ABSOLUTE:
            o[0] = (float)((f[0] > y[i] ? 1.0 : f[0] < y[i] ? -1.0 : 0.0) * wi);
            o[1] = (float)wi;
            break;
        default: {
            double r = f[0] - y[i], dl = m->huber_delta;
            o[0] = (float)((r > dl ? dl : r < -dl ? -dl : r) * wi);
            o[1] = (float)wi;
        }
        }
    }
}

static int gb_fit(assay_estimator *e, const assay_design *dsg, assay_error *err) {
    gbdt *m = (gbdt *)e;
    const int64_t n_all = dsg->X.n;
    const int d = (int)e->nfeatures, K = m->K;
    if (!dsg->X.dense)
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: needs dense features (sparse input given)");
    if (dsg->X.d != d)
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: design has %lld columns, expected %d",
                               (long long)dsg->X.d, d);
    if (n_all < 2) return assay_error_set(err, ASSAY_EINVAL, "gbdt: need at least 2 rows, got %lld", (long long)n_all);
    if (n_all > INT32_MAX) return assay_error_set(err, ASSAY_EINVAL, "gbdt: more than %d rows", INT32_MAX);
    if (dsg->monotone && dsg->ncat)
        for (int f = 0; f < d; f++)
            if (dsg->monotone[f] && dsg->ncat[f] > 0)
                return assay_error_set(err, ASSAY_EINVAL,
                                       "gbdt: feature %d is categorical; a monotone constraint "
                                       "needs a numeric feature", f);
    for (int64_t i = 0; i < n_all; i++)
        if (!isfinite(dsg->y[i]) || (dsg->w && !(dsg->w[i] >= 0 && isfinite(dsg->w[i]))))
            return assay_error_set(err, ASSAY_EINVAL, "gbdt: row %lld: target or weight is not a finite number",
                                   (long long)i + 1);
    const float *X = dsg->X.dense;
    int rc = ASSAY_ENOMEM;
    gb_bins b = {0};
    gb_ctx c = {.m = m, .b = &b, .ncat = dsg->ncat, .mono = dsg->monotone, .d = d};
    int32_t *tr = NULL, *va = NULL;
    uint8_t *vbins = NULL, *tbins = NULL, *cbins = NULL;
    double *F = NULL, *Fv = NULL, *y = NULL, *yv = NULL, *w = NULL;
    float *gh = NULL, *gp = NULL;
    wv *med = NULL;
    assay_rng rng;
    assay_rng_seed(&rng, dsg->seed);

    /* Validation rows for early stopping: a seeded random fraction. */
    int64_t nv = m->early_stopping > 0 ? (int64_t)llround(m->validation_fraction * (double)n_all) : 0;
    if (m->early_stopping > 0 && nv < 1) nv = 1;
    if (nv >= n_all - 1) nv = 0;
    int64_t n = n_all - nv;
    tr = assay_mallocarray((size_t)n_all, sizeof *tr);
    if (!tr) goto nomem;
    {
        int64_t *perm = assay_mallocarray((size_t)n_all, sizeof *perm);
        if (!perm) goto nomem;
        for (int64_t i = 0; i < n_all; i++) perm[i] = i;
        if (nv > 0) assay_rng_shuffle_i64(&rng, perm, n_all);
        /* training rows in their original order (so row order alone decides sums) */
        uint8_t *isval = assay_calloc((size_t)n_all, 1);
        if (!isval) { assay_free(perm); goto nomem; }
        for (int64_t i = 0; i < nv; i++) isval[perm[i]] = 1;
        va = nv ? assay_mallocarray((size_t)nv, sizeof *va) : NULL;
        if (nv && !va) { assay_free(perm); assay_free(isval); goto nomem; }
        int64_t a = 0, z = 0;
        for (int64_t i = 0; i < n_all; i++) {
            if (isval[i]) va[z++] = (int32_t)i;
            else tr[a++] = (int32_t)i;
        }
        assay_free(perm);
        assay_free(isval);
    }
    if ((rc = bins_fit(X, d, tr, n, dsg->ncat, (int)m->max_bins, dsg->seed, &b, err))) goto fail;
    tbins = assay_mallocarray((size_t)n * (size_t)d, 1);
    cbins = assay_mallocarray((size_t)n * (size_t)d, 1);
    vbins = nv ? assay_mallocarray((size_t)nv * (size_t)d, 1) : NULL;
    F = assay_mallocarray((size_t)n * (size_t)K, sizeof *F);
    y = assay_mallocarray((size_t)n, sizeof *y);
    w = assay_mallocarray((size_t)n, sizeof *w);
    gh = assay_mallocarray((size_t)n * (size_t)K * 2, sizeof *gh);
    gp = K > 1 ? assay_mallocarray((size_t)n * 2, sizeof *gp) : NULL;
    c.idx = assay_mallocarray((size_t)n, sizeof *c.idx);
    c.tmp = assay_mallocarray((size_t)n, sizeof *c.tmp);
    c.feats = assay_mallocarray((size_t)d, sizeof *c.feats);
    c.fbest = assay_mallocarray((size_t)d, sizeof *c.fbest);
    c.scratch = assay_mallocarray((size_t)HIST_CHUNKS * 2 * (size_t)b.nslots, sizeof *c.scratch);
    if (!tbins || !cbins || (nv && !vbins) || !F || !y || !w || !gh || (K > 1 && !gp) || !c.idx || !c.tmp ||
        !c.feats || !c.fbest || !c.scratch)
        goto nomem;
    if (nv) {
        Fv = assay_mallocarray((size_t)nv * (size_t)K, sizeof *Fv);
        yv = assay_mallocarray((size_t)nv, sizeof *yv);
        if (!Fv || !yv) goto nomem;
        bins_apply(&b, dsg->ncat, X, va, nv, vbins);
        for (int64_t i = 0; i < nv; i++) yv[i] = dsg->y[va[i]];
    }
    bins_apply(&b, dsg->ncat, X, tr, n, tbins);
    c.bins = tbins;
    c.cbins = cbins;
    c.n = n;
#pragma omp parallel for schedule(static)
    for (int f = 0; f < d; f++)
        for (int64_t i = 0; i < n; i++) cbins[(int64_t)f * n + i] = tbins[i * d + f];
    c.gp = K == 1 ? gh : gp; /* one class: the gradient pairs are already in row order */

    /* Weights (sample x class weight) and the base score. */
    double cw[256];
    int nclass = e->nclasses;
    for (int k = 0; k < 256; k++) cw[k] = 1.0;
    for (int64_t i = 0; i < n; i++) y[i] = dsg->y[tr[i]];
    if (m->balanced && nclass <= 256) {
        int64_t cnt[256] = {0};
        for (int64_t i = 0; i < n; i++) cnt[(int)y[i]]++;
        for (int k = 0; k < nclass; k++) cw[k] = cnt[k] ? (double)n / ((double)nclass * (double)cnt[k]) : 1.0;
    }
    double wsum = 0;
    for (int64_t i = 0; i < n; i++) {
        w[i] = (dsg->w ? dsg->w[tr[i]] : 1.0) * (nclass ? cw[(int)y[i] & 255] : 1.0);
        wsum += w[i];
    }
    if (!(wsum > 0)) {
        rc = assay_error_set(err, ASSAY_EINVAL, "gbdt: the training weights sum to zero");
        goto fail;
    }
    if (m->objective == GB_OBJ_LOGLOSS || m->objective == GB_OBJ_SOFTMAX) {
        double pk[256] = {0};
        for (int64_t i = 0; i < n; i++) pk[(int)y[i] & 255] += w[i] / wsum;
        if (m->objective == GB_OBJ_LOGLOSS) {
            double p = pk[1] < 1e-6 ? 1e-6 : pk[1] > 1 - 1e-6 ? 1 - 1e-6 : pk[1];
            m->base_score[0] = log(p / (1 - p));
        } else {
            for (int k = 0; k < K; k++) m->base_score[k] = log(pk[k] > 1e-6 ? pk[k] : 1e-6);
        }
    } else if (m->objective == GB_OBJ_SQUARED) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += w[i] * y[i];
        m->base_score[0] = s / wsum;
    } else {
        if (!(med = assay_mallocarray((size_t)n, sizeof *med))) goto nomem;
        for (int64_t i = 0; i < n; i++) med[i].v = y[i], med[i].w = w[i];
        m->base_score[0] = weighted_median(med, n);
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) F[i * K + k] = m->base_score[k];
    for (int64_t i = 0; i < nv; i++)
        for (int k = 0; k < K; k++) Fv[i * K + k] = m->base_score[k];

    m->best_round = -1;
    m->best_val = INFINITY;
    m->stopped_early = 0;
    assay_progress bar;
    assay_progress_begin(&bar, "boosting", (uint64_t)m->n_trees);
    long round;
    for (round = 0; round < m->n_trees; round++) {
        /* row and column samples of this round */
        int64_t ns = 0;
        if (m->subsample < 1.0) {
            for (int64_t i = 0; i < n; i++)
                if (assay_rng_uniform(&rng) < m->subsample) c.idx[ns++] = (int32_t)i;
            if (ns == 0) c.idx[ns++] = (int32_t)assay_rng_below(&rng, (uint64_t)n);
        } else {
            for (int64_t i = 0; i < n; i++) c.idx[i] = (int32_t)i;
            ns = n;
        }
        for (int f = 0; f < d; f++) c.feats[f] = f;
        c.nfeats = d;
        if (m->colsample < 1.0) {
            int keep = (int)llround(m->colsample * d);
            if (keep < 1) keep = 1;
            for (int j = 0; j < keep; j++) { /* partial Fisher-Yates, then back to feature order */
                int r = j + (int)assay_rng_below(&rng, (uint64_t)(d - j));
                int tmp = c.feats[j];
                c.feats[j] = c.feats[r];
                c.feats[r] = tmp;
            }
            c.nfeats = keep;
            for (int i = 1; i < keep; i++) /* insertion sort: deterministic feature order */
                for (int j = i; j > 0 && c.feats[j - 1] > c.feats[j]; j--) {
                    int tmp = c.feats[j];
                    c.feats[j] = c.feats[j - 1];
                    c.feats[j - 1] = tmp;
                }
        }
        gradients(m, F, y, w, n, gh);
        int64_t sample_n = ns;
        int32_t *sample_copy = NULL;
        if (K > 1 && m->subsample < 1.0) { /* every class tree of a round sees the same rows */
            if (!(sample_copy = assay_mallocarray((size_t)ns, sizeof *sample_copy))) goto nomem;
            memcpy(sample_copy, c.idx, (size_t)ns * sizeof *c.idx);
        }
        for (int k = 0; k < K; k++) {
            if (k > 0) {
                if (sample_copy) memcpy(c.idx, sample_copy, (size_t)sample_n * sizeof *c.idx);
                else for (int64_t i = 0; i < n; i++) c.idx[i] = (int32_t)i;
            }
            double G = 0, H = 0;
            if (K > 1) {
#pragma omp parallel for schedule(static)
                for (int64_t i = 0; i < n; i++) {
                    gp[2 * i] = gh[2 * (i * K + k)];
                    gp[2 * i + 1] = gh[2 * (i * K + k) + 1];
                }
            }
            for (int64_t i = 0; i < sample_n; i++) G += c.gp[2 * c.idx[i]], H += c.gp[2 * c.idx[i] + 1];
            if ((rc = grow_tree(&c, sample_n, G, H))) {
                assay_free(sample_copy);
                goto nomem;
            }
            if (m->objective == GB_OBJ_ABSOLUTE) { /* leaves: median residual of their rows */
                if (!med && !(med = assay_mallocarray((size_t)n, sizeof *med))) {
                    assay_free(sample_copy);
                    goto nomem;
                }
                for (int j = 0; j < c.nleaves; j++) {
                    const gb_leaf *L = &c.leaves[j];
                    int64_t q = 0;
                    for (int64_t i = L->begin; i < L->end; i++) {
                        int32_t r = c.idx[i];
                        med[q].v = y[r] - F[r], med[q].w = w[r];
                        q++;
                    }
                    c.tn[L->node].value = weighted_median(med, q);
                }
            }
            fill_covers(c.tn, c.ntn);
            if ((rc = commit_tree(m, &c))) {
                assay_free(sample_copy);
                goto nomem;
            }
            int dep = assay__gbdt_tree_depth(m, m->ntrees - 1);
            if (dep > m->depth) m->depth = dep;
            const gb_node *nodes = m->nodes + m->tree_off[m->ntrees - 1];
            if (sample_n == n) { /* every row sits in one leaf's range of idx */
#pragma omp parallel for schedule(dynamic, 1)
                for (int j = 0; j < c.nleaves; j++) {
                    const gb_leaf *L = &c.leaves[j];
                    double v = nodes[L->node].value;
                    for (int64_t i = L->begin; i < L->end; i++) F[(int64_t)c.idx[i] * K + k] += v;
                }
            } else {
#pragma omp parallel for schedule(static)
                for (int64_t i = 0; i < n; i++) F[i * K + k] += nodes[walk_bins(&c, tbins + i * d)].value;
            }
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < nv; i++) Fv[i * K + k] += nodes[walk_bins(&c, vbins + i * d)].value;
        }
        assay_free(sample_copy);
        m->rounds = round + 1;
        if (nv) {
            double vl = val_loss(m, Fv, yv, nv);
            if (vl < m->best_val) m->best_val = vl, m->best_round = round;
            char msg[64];
            snprintf(msg, sizeof msg, "validation %s %.5f", m->objective == GB_OBJ_SQUARED ? "rmse" : "loss", vl);
            assay_progress_update(&bar, (uint64_t)round + 1, msg);
            if (round - m->best_round >= m->early_stopping) {
                m->stopped_early = 1;
                break;
            }
        } else {
            assay_progress_update(&bar, (uint64_t)round + 1, NULL);
        }
    }
    assay_progress_end(&bar);
    if (nv && m->best_round >= 0 && m->best_round + 1 < m->rounds) { /* keep the best round */
        m->ntrees = (m->best_round + 1) * K;
        m->nnodes = m->tree_off[m->ntrees];
        m->rounds = m->best_round + 1;
        int64_t maxw = 0;
        for (int64_t i = 0; i < m->nnodes; i++)
            if (m->nodes[i].feature != GB_LEAF && (m->nodes[i].flags & GB_CATEGORICAL) &&
                m->nodes[i].cat_off + m->nodes[i].cat_words > maxw)
                maxw = m->nodes[i].cat_off + m->nodes[i].cat_words;
        m->ncatbits = maxw;
        m->depth = 0;
        for (int64_t t = 0; t < m->ntrees; t++) {
            int dep = assay__gbdt_tree_depth(m, t);
            if (dep > m->depth) m->depth = dep;
        }
    }
    if (!nv) m->best_round = m->rounds - 1;
    rc = ASSAY_OK;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory training");
fail:
done:
    for (int j = 0; j < c.npool; j++) assay_free(c.pool[j]);
    assay_free(c.pool);
    for (int j = 0; j < c.nleaves; j++) assay_free(c.leaves[j].hist);
    assay_free(c.leaves);
    assay_free(c.tn);
    assay_free(c.idx);
    assay_free(c.tmp);
    assay_free(c.feats);
    assay_free(c.fbest);
    assay_free(c.scratch);
    bins_deinit(&b);
    assay_free(tr);
    assay_free(va);
    assay_free(tbins);
    assay_free(cbins);
    assay_free(vbins);
    assay_free(F);
    assay_free(Fv);
    assay_free(y);
    assay_free(yv);
    assay_free(w);
    assay_free(gh);
    assay_free(gp);
    assay_free(med);
    return rc;
}

const assay_estimator_vt assay__gbdt_vt = {
    .name = "gbdt",
    .summary = "histogram gradient-boosted trees: native missing values and categories, "
               "monotone constraints, TreeSHAP",
    .tasks = (1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS) |
             (1u << ASSAY_TASK_REGRESSION),
    .create = gb_create,
    .fit = gb_fit,
    .predict = assay__gbdt_predict,
    .save = assay__gbdt_save,
    .load = assay__gbdt_load,
    .free = gb_free,
    .flags = ASSAY_EST_NATIVE | ASSAY_EST_EARLY_STOPPING,
    .grid = (const char *const[]){"n_trees=100,learning_rate=0.1,max_depth=6",
                                  "n_trees=300,learning_rate=0.05,max_depth=4",
                                  "n_trees=300,learning_rate=0.05,max_depth=6,subsample=0.8,colsample=0.8",
                                  NULL},
    .explain = assay__gbdt_explain,
    .importance = assay__gbdt_importance,
};
