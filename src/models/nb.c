/* nb.c - naive Bayes for counts and text ("nb") and logistic regression on naive-Bayes-scaled
 * features ("nblr"), both for the sparse designs of text columns (dense designs work too).
 *
 * nb, variant=multinomial (scikit-learn's MultinomialNB): per class c the feature totals
 * N_cj = sum of x_ij over the rows of c (sample-weighted), theta_cj = (N_cj + alpha) /
 * (sum_j N_cj + alpha d), log P(c | x) = log prior_c + sum_j x_j log theta_cj, normalised.
 * variant=complement (ComplementNB, Rennie et al. 2003, norm=False): the totals of every class
 * but c, w_cj = -log((N~_cj + alpha) / sum_j (N~_cj + alpha)), score_c = sum_j x_j w_cj, no prior
 * (as scikit-learn, which uses the prior only when there is one class). binary=true counts a
 * feature as present (1) or absent, the "binarized" naive Bayes that does better on sentiment
 * (Wang & Manning 2012). Probabilities are the softmax of the scores.
 *
 * nblr (binary tasks; Wang & Manning's NBSVM with a logistic loss): features become presence
 * (x > 0) times the log-count ratio r_j = log((p_j / |p|_1) / (q_j / |q|_1)), p = alpha + the
 * presence counts over positive rows, q the same over negative rows, then logistic regression
 * (logreg.c, its parameters C, tol, max_iter) is fitted on them. r is saved with the model.
 *
 * Both need non-negative features: a negative value (a standardised numeric column beside the
 * text) is refused with ASSAY_ENOTSUP, which --model auto reads as "not a candidate here". */
#include <float.h>

#include "estimator.h"
#include "linalg.h"

/* ---- nb -------------------------------------------------------------------------------- */

enum { NB_MULTINOMIAL = 0, NB_COMPLEMENT = 1 };

typedef struct nb {
    assay_estimator base;
    int variant, binary;
    double alpha;
    double *w;     /* K x d: log theta (multinomial) or complement weights */
    double *prior; /* K: log prior (multinomial) or 0 (complement) */
} nb;

static const char *const nb_known[] = {"variant", "alpha", "binary", NULL};
static const char *const variants[] = {"multinomial", "complement", NULL};
static const char *const bools[] = {"false", "true", "0", "1", NULL};

static int nb_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                     assay_estimator **out, assay_error *err) {
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, nb_known, "nb", err))) return rc;
    if (task != ASSAY_TASK_BINARY && task != ASSAY_TASK_MULTICLASS)
        return assay_error_set(err, ASSAY_EINVAL, "nb: task %s is not supported",
                               assay_task_name(task));
    if (nclasses < 2 || nfeatures < 0 || nfeatures > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "nb: %d classes, %lld features", nclasses,
                               (long long)nfeatures);
    nb *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "nb: out of memory");
    int b = 0;
    if ((rc = assay_params_choice(p, "variant", variants, NB_MULTINOMIAL, &m->variant, err)) ||
        (rc = assay_params_double(p, "alpha", 1.0, 1e-10, 1e10, &m->alpha, err)) ||
        (rc = assay_params_choice(p, "binary", bools, 0, &b, err))) {
        assay_free(m);
        return assay_error_prefix(err, "nb");
    }
    m->binary = b % 2;
    m->base.vt = &assay__nb_vt;
    m->base.task = task;
    m->base.nclasses = nclasses;
    m->base.nfeatures = nfeatures;
    m->w = assay_calloc((size_t)nclasses * (size_t)(nfeatures ? nfeatures : 1), sizeof *m->w);
    m->prior = assay_calloc((size_t)nclasses, sizeof *m->prior);
    if (!m->w || !m->prior) {
        assay_free(m->w), assay_free(m->prior), assay_free(m);
        return assay_error_set(err, ASSAY_ENOMEM, "nb: out of memory (%d classes x %lld features)",
                               nclasses, (long long)nfeatures);
    }
    *out = &m->base;
    return ASSAY_OK;
}

static void nb_free(assay_estimator *e) {
    if (!e) return;
    nb *m = (nb *)e;
    assay_free(m->w), assay_free(m->prior), assay_free(m);
}

/* The first negative entry of X, named; ASSAY_ENOTSUP. */
static int refuse_negative(const assay_matrix *X, const char *who, assay_error *err) {
    for (int64_t i = 0; i < X->n; i++) {
        if (X->dense) {
            for (int64_t j = 0; j < X->d; j++)
                if (X->dense[i * X->d + j] < 0)
                    return assay_error_set(err, ASSAY_ENOTSUP,
                                           "%s: needs non-negative features (counts or TF-IDF "
                                           "of text columns); feature %lld of row %lld is %g",
                                           who, (long long)j + 1, (long long)i + 1,
                                           (double)X->dense[i * X->d + j]);
        } else {
            for (int64_t p = X->csr->indptr[i]; p < X->csr->indptr[i + 1]; p++)
                if (X->csr->values[p] < 0)
                    return assay_error_set(err, ASSAY_ENOTSUP,
                                           "%s: needs non-negative features (counts or TF-IDF "
                                           "of text columns); feature %lld of row %lld is %g",
                                           who, (long long)X->csr->indices[p] + 1,
                                           (long long)i + 1, (double)X->csr->values[p]);
        }
    }
    return ASSAY_OK;
}

/* cnt (K x d) += weight * x_i (or its presence) for every row, by class; cls (K) += weight. */
static void class_totals(const assay_matrix *X, const double *y, const double *w, int binary,
                         int64_t d, double *cnt, double *cls) {
    for (int64_t i = 0; i < X->n; i++) {
        double wi = w ? w[i] : 1.0;
        int c = (int)y[i];
        double *row = cnt + (int64_t)c * d;
        cls[c] += wi;
        if (X->dense) {
            const float *x = X->dense + i * X->d;
            for (int64_t j = 0; j < d; j++)
                if (x[j] != 0) row[j] += wi * (binary ? 1.0 : (double)x[j]);
        } else {
            for (int64_t p = X->csr->indptr[i]; p < X->csr->indptr[i + 1]; p++)
                if (X->csr->values[p] != 0)
                    row[X->csr->indices[p]] += wi * (binary ? 1.0 : (double)X->csr->values[p]);
        }
    }
}

static int check_targets(const assay_design *ds, int K, const char *who, assay_error *err) {
    for (int64_t i = 0; i < ds->X.n; i++) {
        double yi = ds->y[i];
        if (!(yi >= 0 && yi < K && yi == floor(yi)))
            return assay_error_set(err, ASSAY_EINVAL,
                                   "%s: target of row %lld is %g, expected a class index in 0..%d",
                                   who, (long long)i + 1, yi, K - 1);
    }
    return ASSAY_OK;
}

static int nb_fit(assay_estimator *e, const assay_design *ds, assay_error *err) {
    nb *m = (nb *)e;
    const assay_matrix *X = &ds->X;
    int64_t d = e->nfeatures;
    int K = e->nclasses, rc;
    double sumw;
    if ((rc = assay__matrix_check(X, d, "nb", err)) || (rc = refuse_negative(X, "nb", err)) ||
        (rc = check_targets(ds, K, "nb", err)) ||
        (rc = assay__weights_check(ds->w, X->n, "nb", &sumw, err)))
        return rc;
    if (X->n < 1) return assay_error_set(err, ASSAY_EINVAL, "nb: no rows to fit");
    double *cnt = assay_calloc((size_t)K * (size_t)(d ? d : 1), sizeof *cnt);
    double *cls = assay_calloc((size_t)K, sizeof *cls);
    if (!cnt || !cls) {
        assay_free(cnt), assay_free(cls);
        return assay_error_set(err, ASSAY_ENOMEM, "nb: out of memory");
    }
    class_totals(X, ds->y, ds->w, m->binary, d, cnt, cls);
    const double a = m->alpha;
    if (m->variant == NB_MULTINOMIAL) {
        for (int c = 0; c < K; c++) {
            double *row = cnt + (int64_t)c * d, tot = 0;
            for (int64_t j = 0; j < d; j++) tot += row[j] + a;
            for (int64_t j = 0; j < d; j++) m->w[(int64_t)c * d + j] = log(row[j] + a) - log(tot);
            /* an absent class gets no mass (scikit-learn: log 0 = -inf; here a finite floor) */
            m->prior[c] = cls[c] > 0 ? log(cls[c] / sumw) : -1e300;
        }
    } else {
        double *all = assay_calloc((size_t)(d ? d : 1), sizeof *all);
        if (!all) {
            assay_free(cnt), assay_free(cls);
            return assay_error_set(err, ASSAY_ENOMEM, "nb: out of memory");
        }
        for (int c = 0; c < K; c++)
            for (int64_t j = 0; j < d; j++) all[j] += cnt[(int64_t)c * d + j];
        for (int c = 0; c < K; c++) {
            double tot = 0;
            for (int64_t j = 0; j < d; j++) tot += all[j] - cnt[(int64_t)c * d + j] + a;
            for (int64_t j = 0; j < d; j++)
                m->w[(int64_t)c * d + j] = -(log(all[j] - cnt[(int64_t)c * d + j] + a) - log(tot));
            m->prior[c] = 0;
        }
        assay_free(all);
    }
    assay_free(cnt), assay_free(cls);
    return ASSAY_OK;
}

static int nb_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                      assay_error *err) {
    const nb *m = (const nb *)e;
    int rc;
    if ((rc = assay__matrix_check(X, e->nfeatures, "nb", err)) ||
        (rc = refuse_negative(X, "nb", err)))
        return rc;
    int64_t d = e->nfeatures;
    int K = e->nclasses;
#pragma omp parallel for schedule(static) if (X->n > 2048)
    for (int64_t i = 0; i < X->n; i++) {
        double *o = out + i * K, zmax = -DBL_MAX;
        for (int k = 0; k < K; k++) {
            const double *w = m->w + (int64_t)k * d;
            double s = m->prior[k];
            if (X->dense) {
                const float *x = X->dense + i * X->d;
                for (int64_t j = 0; j < d; j++)
                    if (x[j] != 0) s += (m->binary ? 1.0 : (double)x[j]) * w[j];
            } else {
                for (int64_t p = X->csr->indptr[i]; p < X->csr->indptr[i + 1]; p++)
                    if (X->csr->values[p] != 0)
                        s += (m->binary ? 1.0 : (double)X->csr->values[p]) * w[X->csr->indices[p]];
            }
            o[k] = s;
            if (s > zmax) zmax = s;
        }
        double sum = 0;
        for (int k = 0; k < K; k++) sum += (o[k] = exp(o[k] - zmax));
        for (int k = 0; k < K; k++) o[k] /= sum;
    }
    return ASSAY_OK;
}

static int nb_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                   json_t *meta, assay_error *err) {
    const nb *m = (const nb *)e;
    int64_t shape[2] = {e->nclasses, e->nfeatures};
    int rc;
    (void)meta;
    if ((rc = assay__tensor_write_f64(w, prefix, "weights", 2, shape, m->w, err)) ||
        (rc = assay__tensor_write_f64(w, prefix, "prior", 1, shape, m->prior, err)))
        return rc;
    return ASSAY_OK;
}

static int nb_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                   const json_t *meta, assay_error *err) {
    nb *m = (nb *)e;
    int64_t shape[2] = {e->nclasses, e->nfeatures};
    int rc;
    (void)meta;
    if ((rc = assay__tensor_read_f64(f, prefix, "weights", 2, shape, m->w, err)) ||
        (rc = assay__tensor_read_f64(f, prefix, "prior", 1, shape, m->prior, err)))
        return rc;
    return ASSAY_OK;
}

const assay_estimator_vt assay__nb_vt = {
    .name = "nb",
    .summary = "naive Bayes for counts and text: multinomial or complement, binarized or not",
    .tasks = (1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS),
    .create = nb_create,
    .fit = nb_fit,
    .predict = nb_predict,
    .save = nb_save,
    .load = nb_load,
    .free = nb_free,
    .grid = (const char *const[]){"alpha=0.5,binary=true", "alpha=0.1",
                                  "variant=complement,alpha=0.3", NULL},
    .flags = ASSAY_EST_SPARSE | ASSAY_EST_TEXT,
};

/* ---- nblr ------------------------------------------------------------------------------ */

typedef struct nblr {
    assay_estimator base;
    double alpha;
    double *r;             /* d: log-count ratios */
    assay_estimator *lr;   /* logistic regression on presence * r */
} nblr;

static const char *const nblr_known[] = {"alpha", "C", "tol", "max_iter", NULL};

static int nblr_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                       assay_estimator **out, assay_error *err) {
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, nblr_known, "nblr", err))) return rc;
    if (task != ASSAY_TASK_BINARY || nclasses != 2)
        return assay_error_set(err, ASSAY_EINVAL, "nblr: only binary classification (task %s)",
                               assay_task_name(task));
    if (nfeatures < 0 || nfeatures > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "nblr: bad feature count %lld", (long long)nfeatures);
    nblr *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "nblr: out of memory");
    if ((rc = assay_params_double(p, "alpha", 1.0, 1e-10, 1e10, &m->alpha, err))) {
        assay_free(m);
        return assay_error_prefix(err, "nblr");
    }
    /* the logistic regression takes the remaining parameters; C defaults to 1 */
    assay_params lp = {0};
    static const char *const pass[] = {"C", "tol", "max_iter"};
    for (int i = 0; i < 3 && !rc; i++) {
        const char *v = assay_params_get(p, pass[i]);
        if (v) rc = assay_params_set(&lp, pass[i], v, err);
    }
    if (!rc) rc = assay__logreg_vt.create(&lp, task, nclasses, nfeatures, &m->lr, err);
    assay_params_deinit(&lp);
    m->r = assay_calloc((size_t)(nfeatures ? nfeatures : 1), sizeof *m->r);
    if (rc || !m->r) {
        if (!rc) rc = assay_error_set(err, ASSAY_ENOMEM, "nblr: out of memory");
        if (m->lr) m->lr->vt->free(m->lr);
        assay_free(m->r), assay_free(m);
        return rc == ASSAY_ENOMEM ? rc : assay_error_prefix(err, "nblr");
    }
    m->base.vt = &assay__nblr_vt;
    m->base.task = task;
    m->base.nclasses = nclasses;
    m->base.nfeatures = nfeatures;
    *out = &m->base;
    return ASSAY_OK;
}

static void nblr_free(assay_estimator *e) {
    if (!e) return;
    nblr *m = (nblr *)e;
    if (m->lr) m->lr->vt->free(m->lr);
    assay_free(m->r), assay_free(m);
}

/* The CSR of presence(x) * r for the rows of X (dense or sparse). */
static int scaled(const nblr *m, const assay_matrix *X, assay_csr *S, assay_error *err) {
    int64_t nnz = 0, d = m->base.nfeatures;
    for (int64_t i = 0; i < X->n; i++) {
        if (X->dense) {
            for (int64_t j = 0; j < d; j++) nnz += X->dense[i * X->d + j] != 0;
        } else {
            for (int64_t p = X->csr->indptr[i]; p < X->csr->indptr[i + 1]; p++)
                nnz += X->csr->values[p] != 0;
        }
    }
    int rc = assay_csr_init(S, X->n, d, nnz, err);
    if (rc) return rc;
    int64_t q = 0;
    for (int64_t i = 0; i < X->n; i++) {
        S->indptr[i] = q;
        if (X->dense) {
            for (int64_t j = 0; j < d; j++)
                if (X->dense[i * X->d + j] != 0)
                    S->indices[q] = (int32_t)j, S->values[q++] = (float)m->r[j];
        } else {
            for (int64_t p = X->csr->indptr[i]; p < X->csr->indptr[i + 1]; p++)
                if (X->csr->values[p] != 0) {
                    int32_t j = X->csr->indices[p];
                    S->indices[q] = j, S->values[q++] = (float)m->r[j];
                }
        }
    }
    S->indptr[X->n] = q;
    return ASSAY_OK;
}

static int nblr_fit(assay_estimator *e, const assay_design *ds, assay_error *err) {
    nblr *m = (nblr *)e;
    const assay_matrix *X = &ds->X;
    int64_t d = e->nfeatures;
    int rc;
    double sumw;
    if ((rc = assay__matrix_check(X, d, "nblr", err)) || (rc = refuse_negative(X, "nblr", err)) ||
        (rc = check_targets(ds, 2, "nblr", err)) ||
        (rc = assay__weights_check(ds->w, X->n, "nblr", &sumw, err)))
        return rc;
    double *cnt = assay_calloc(2 * (size_t)(d ? d : 1), sizeof *cnt), cls[2] = {0, 0};
    if (!cnt) return assay_error_set(err, ASSAY_ENOMEM, "nblr: out of memory");
    class_totals(X, ds->y, ds->w, 1, d, cnt, cls);
    double sp = 0, sq = 0;
    for (int64_t j = 0; j < d; j++) sq += cnt[j] + m->alpha, sp += cnt[d + j] + m->alpha;
    for (int64_t j = 0; j < d; j++)
        m->r[j] = log((cnt[d + j] + m->alpha) / sp) - log((cnt[j] + m->alpha) / sq);
    assay_free(cnt);
    assay_csr S = {0};
    if ((rc = scaled(m, X, &S, err))) return rc;
    assay_design sd = *ds;
    sd.X = (assay_matrix){.n = X->n, .d = d, .csr = &S};
    sd.Xval = (assay_matrix){0};
    sd.yval = NULL;
    rc = m->lr->vt->fit(m->lr, &sd, err);
    assay_csr_deinit(&S);
    return rc;
}

static int nblr_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                        assay_error *err) {
    const nblr *m = (const nblr *)e;
    int rc;
    if ((rc = assay__matrix_check(X, e->nfeatures, "nblr", err))) return rc;
    assay_csr S = {0};
    if ((rc = scaled(m, X, &S, err))) return rc;
    assay_matrix V = {.n = X->n, .d = e->nfeatures, .csr = &S};
    rc = m->lr->vt->predict(m->lr, &V, out, err);
    assay_csr_deinit(&S);
    return rc;
}

static int nblr_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                     json_t *meta, assay_error *err) {
    const nblr *m = (const nblr *)e;
    int64_t shape[1] = {e->nfeatures};
    char sub[256];
    int rc = assay__tensor_write_f64(w, prefix, "nb_ratio", 1, shape, m->r, err);
    if (rc) return rc;
    snprintf(sub, sizeof sub, "%slr.", prefix);
    return m->lr->vt->save(m->lr, w, sub, meta, err);
}

static int nblr_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                     const json_t *meta, assay_error *err) {
    nblr *m = (nblr *)e;
    int64_t shape[1] = {e->nfeatures};
    char sub[256];
    int rc = assay__tensor_read_f64(f, prefix, "nb_ratio", 1, shape, m->r, err);
    if (rc) return rc;
    snprintf(sub, sizeof sub, "%slr.", prefix);
    return m->lr->vt->load(m->lr, f, sub, meta, err);
}

const assay_estimator_vt assay__nblr_vt = {
    .name = "nblr",
    .summary = "logistic regression on naive-Bayes log-count-ratio features (NBSVM), binary",
    .tasks = 1u << ASSAY_TASK_BINARY,
    .create = nblr_create,
    .fit = nblr_fit,
    .predict = nblr_predict,
    .save = nblr_save,
    .load = nblr_load,
    .free = nblr_free,
    .grid = (const char *const[]){"C=1", "C=3", NULL},
    .flags = ASSAY_EST_SPARSE | ASSAY_EST_TEXT,
};
