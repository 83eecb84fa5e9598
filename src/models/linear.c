/* linear.c - least-squares regression: "linear" (ordinary least squares, sklearn's
 * LinearRegression) and "ridge" (sklearn's Ridge: + alpha*||beta||^2).
 *
 * With an intercept, X and y are centred by their (weighted) means, so the intercept is not
 * penalised; then the d x d normal equations  (Xc' S Xc + alpha I) beta = Xc' S yc  are formed in
 * double (CBLAS dsyrk/dgemv over blocks of rows, or sparse outer products for CSR) and solved by
 * Cholesky (LAPACK dpotrf/dpotrs). A rank-deficient OLS design (one-hot dummies next to an
 * intercept are collinear) is detected from the Cholesky pivots and solved instead through an
 * eigen-decomposition of the Gram matrix (dsyevd) with a relative cutoff: the minimum-norm
 * solution, which is what sklearn's lstsq returns, so predictions agree.
 *
 * Ridge on a sparse (CSR) design - the TF-IDF of text columns, tens of thousands of columns -
 * never forms the Gram matrix: it solves the same centred system by conjugate gradients with a
 * Jacobi preconditioner, applying Xc' S Xc v = X' S (X v - (xm.v) 1) - xm (1' S (X v - ...))
 * through X and its transpose (built once), so the centring costs nothing and memory is O(nnz).
 * It stops at a relative residual of 1e-10 (scikit-learn's sparse_cg stops at 1e-4; the parity
 * tests compare with its exact Cholesky solution). Every product is a per-row or per-column sum
 * in a fixed order, so the result does not depend on the thread count.
 *
 * Not here: OLS on very wide designs (the Gram matrix is d x d; more than MAX_FEATURES features
 * are refused - ridge takes them when they are sparse), the lasso. */
#include <cblas.h>
#include <float.h>

#include "estimator.h"
#include "linalg.h"

#define MAX_FEATURES 10000
#define RANK_TOL 1e-11   /* Cholesky pivot^2 / diagonal below this: column in span of others */
#define EIG_CUTOFF 1e-12 /* eigenvalues below this times the largest are dropped */

typedef struct linreg {
    assay_estimator base;
    int ridge, fit_intercept;
    double alpha;
    double *coef;     /* d */
    double intercept;
    int64_t rank;     /* effective rank used (d when Cholesky succeeded) */
} linreg;

static const char *const known_linear[] = {"fit_intercept", NULL};
static const char *const known_ridge[] = {"alpha", "fit_intercept", NULL};
static const char *const bools[] = {"false", "true", "0", "1", NULL};

static int create(int ridge, const assay_params *p, assay_task task, int64_t nfeatures,
                  assay_estimator **out, assay_error *err) {
    const char *name = ridge ? "ridge" : "linear";
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, ridge ? known_ridge : known_linear, name, err)))
        return rc;
    if (task != ASSAY_TASK_REGRESSION)
        return assay_error_set(err, ASSAY_EINVAL, "%s: task %s is not supported (regression only)",
                               name, assay_task_name(task));
    if (nfeatures < 0)
        return assay_error_set(err, ASSAY_EINVAL, "%s: %lld features", name, (long long)nfeatures);
    linreg *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    int bi = 1;
    m->ridge = ridge;
    if (ridge && (rc = assay_params_double(p, "alpha", 1.0, 0.0, DBL_MAX, &m->alpha, err)))
        goto fail;
    if ((rc = assay_params_choice(p, "fit_intercept", bools, 1, &bi, err))) goto fail;
    m->fit_intercept = bi % 2;
    m->base.vt = ridge ? &assay__ridge_vt : &assay__linear_vt;
    m->base.task = task;
    m->base.nclasses = 0;
    m->base.nfeatures = nfeatures;
    m->coef = assay_calloc((size_t)(nfeatures ? nfeatures : 1), sizeof *m->coef);
    if (!m->coef) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    *out = &m->base;
    return ASSAY_OK;
fail:
    if (rc != ASSAY_ENOMEM) assay_error_prefix(err, "%s", name);
    assay_free(m);
    return rc;
}

static int linear_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                         assay_estimator **out, assay_error *err) {
    return create(0, p, task, nfeatures, out, err);
}

static int ridge_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                        assay_estimator **out, assay_error *err) {
    return create(1, p, task, nfeatures, out, err);
}

static void lin_free(assay_estimator *e) {
    if (!e) return;
    linreg *m = (linreg *)e;
    assay_free(m->coef);
    assay_free(m);
}

/* Minimum-norm solution of A beta = b through A = V diag(lam) V' (A: d x d symmetric, destroyed).
 * Returns the rank used, or -1 when LAPACK fails / memory runs out. */
static int64_t solve_eig(double *A, const double *b, int64_t d, double *beta) {
    int n = (int)d, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0;
    dsyevd_("V", "U", &n, A, &n, NULL, &wq, &lwork, &iwq, &liwork, &info);
    if (info) return -1;
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    double *lam = assay_mallocarray((size_t)d, sizeof *lam);
    double *work = assay_mallocarray((size_t)lwork, sizeof *work);
    int *iwork = assay_mallocarray((size_t)liwork, sizeof *iwork);
    int64_t rank = -1;
    if (!lam || !work || !iwork) goto done;
    dsyevd_("V", "U", &n, A, &n, lam, work, &lwork, iwork, &liwork, &info);
    if (info) goto done;
    double top = d ? fabs(lam[d - 1]) : 0;
    memset(beta, 0, (size_t)d * sizeof *beta);
    rank = 0;
    for (int64_t k = 0; k < d; k++) {
        if (!(lam[k] > EIG_CUTOFF * top)) continue;
        const double *v = A + k * d; /* column k (column-major) */
        double c = 0;
        for (int64_t j = 0; j < d; j++) c += v[j] * b[j];
        c /= lam[k];
        for (int64_t j = 0; j < d; j++) beta[j] += c * v[j];
        rank++;
    }
done:
    assay_free(lam);
    assay_free(work);
    assay_free(iwork);
    return rank;
}

/* ---- sparse ridge: preconditioned conjugate gradients ------------------------------------ */

#define CG_TOL 1e-10
#define CG_MAX_ITER 5000

typedef struct cg_op {
    const assay_csr *X, *Xt; /* n x d and its transpose d x n */
    const double *w, *xm;    /* row weights (NULL: 1), weighted column means (0: no intercept) */
    double alpha;
    double *t;               /* n scratch */
} cg_op;

/* out = (Xc' S Xc + alpha I) v. */
static void cg_apply(const cg_op *op, const double *v, double *out) {
    const assay_csr *X = op->X, *Xt = op->Xt;
    int64_t n = X->nrows, d = X->ncols;
    double mv = 0, su = 0;
    for (int64_t j = 0; j < d; j++) mv += op->xm[j] * v[j];
#pragma omp parallel for schedule(static) if (n > 4096)
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t p = X->indptr[i]; p < X->indptr[i + 1]; p++) s += (double)X->values[p] * v[X->indices[p]];
        op->t[i] = (s - mv) * (op->w ? op->w[i] : 1.0);
    }
    for (int64_t i = 0; i < n; i++) su += op->t[i];
#pragma omp parallel for schedule(static) if (d > 4096)
    for (int64_t j = 0; j < d; j++) {
        double s = 0;
        for (int64_t p = Xt->indptr[j]; p < Xt->indptr[j + 1]; p++) s += (double)Xt->values[p] * op->t[Xt->indices[p]];
        out[j] = s - op->xm[j] * su + op->alpha * v[j];
    }
}

static double dot(const double *a, const double *b, int64_t d) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += a[j] * b[j];
    return s;
}

/* Solve (Xc' S Xc + alpha I) beta = rhs; diag is the matrix's diagonal. 0, or the iterations
 * spent without reaching CG_TOL (-1: out of memory). */
static int64_t ridge_cg(const cg_op *op, const double *rhs, const double *diag, double *beta, double *resid) {
    int64_t d = op->X->ncols;
    double *r = assay_mallocarray((size_t)d * 4 + 1, sizeof *r);
    if (!r) return -1;
    double *z = r + d, *p = z + d, *q = p + d;
    memset(beta, 0, (size_t)d * sizeof *beta);
    memcpy(r, rhs, (size_t)d * sizeof *r);
    double bnorm = sqrt(dot(rhs, rhs, d));
    for (int64_t j = 0; j < d; j++) z[j] = r[j] / diag[j];
    memcpy(p, z, (size_t)d * sizeof *p);
    double rz = dot(r, z, d);
    int64_t it = 0;
    *resid = 0;
    while (bnorm > 0 && it < CG_MAX_ITER) {
        double rn = sqrt(dot(r, r, d));
        *resid = rn / bnorm;
        if (*resid <= CG_TOL) break;
        cg_apply(op, p, q);
        double pq = dot(p, q, d);
        if (!(pq > 0)) break;
        double a = rz / pq;
        for (int64_t j = 0; j < d; j++) beta[j] += a * p[j], r[j] -= a * q[j];
        for (int64_t j = 0; j < d; j++) z[j] = r[j] / diag[j];
        double rz2 = dot(r, z, d);
        for (int64_t j = 0; j < d; j++) p[j] = z[j] + rz2 / rz * p[j];
        rz = rz2;
        it++;
    }
    assay_free(r);
    return *resid <= CG_TOL ? 0 : it;
}

/* The transpose of a CSR matrix (a counting sort of its entries by column). */
static int csr_transpose(const assay_csr *X, assay_csr *T, assay_error *err) {
    int rc = assay_csr_init(T, X->ncols, X->nrows, X->nnz, err);
    if (rc) return rc;
    memset(T->indptr, 0, sizeof *T->indptr * (size_t)(X->ncols + 1));
    for (int64_t p = 0; p < X->nnz; p++) T->indptr[X->indices[p] + 1]++;
    for (int64_t j = 0; j < X->ncols; j++) T->indptr[j + 1] += T->indptr[j];
    int64_t *next = assay_mallocarray((size_t)X->ncols + 1, sizeof *next);
    if (!next) {
        assay_csr_deinit(T);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    memcpy(next, T->indptr, sizeof *next * (size_t)X->ncols);
    for (int64_t i = 0; i < X->nrows; i++)
        for (int64_t p = X->indptr[i]; p < X->indptr[i + 1]; p++) {
            int64_t q = next[X->indices[p]]++;
            T->indices[q] = (int32_t)i;
            T->values[q] = X->values[p];
        }
    assay_free(next);
    return ASSAY_OK;
}

/* Ridge on CSR X: the centred normal equations by conjugate gradients (rhs and means given). */
static int fit_sparse_ridge(linreg *m, const assay_design *ds, const double *xm, double sumw, const double *rhs,
                            assay_error *err) {
    const assay_csr *X = ds->X.csr;
    int64_t n = X->nrows, d = X->ncols;
    assay_csr Xt = {0};
    double *diag = assay_calloc((size_t)d + 1, sizeof *diag), *t = assay_mallocarray((size_t)n + 1, sizeof *t);
    int rc = diag && t ? csr_transpose(X, &Xt, err) : assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (!rc) {
        /* diagonal of Xc' S Xc + alpha I: sum w x^2 - sumw xm^2 + alpha */
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = X->indptr[i]; p < X->indptr[i + 1]; p++)
                diag[X->indices[p]] += (ds->w ? ds->w[i] : 1.0) * (double)X->values[p] * X->values[p];
        for (int64_t j = 0; j < d; j++) diag[j] = fmax(diag[j] - sumw * xm[j] * xm[j], 0) + m->alpha;
        cg_op op = {.X = X, .Xt = &Xt, .w = ds->w, .xm = xm, .alpha = m->alpha, .t = t};
        double resid = 0;
        int64_t left = ridge_cg(&op, rhs, diag, m->coef, &resid);
        if (left < 0) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        else if (left > 0)
            rc = assay_error_set(err, ASSAY_ECONVERGE, "ridge: conjugate gradients reached a relative residual of "
                                 "%.2g after %lld iterations (%.0e wanted); raise alpha", resid, (long long)left, CG_TOL);
        m->rank = d;
    }
    assay_csr_deinit(&Xt);
    assay_free(diag);
    assay_free(t);
    return rc;
}

static int lin_fit(assay_estimator *e, const assay_design *ds, assay_error *err) {
    linreg *m = (linreg *)e;
    const char *name = e->vt->name;
    const assay_matrix *X = &ds->X;
    int64_t n = X->n, d = e->nfeatures;
    int rc;
    if ((rc = assay__matrix_check(X, d, name, err))) return rc;
    if (n < 1) return assay_error_set(err, ASSAY_EINVAL, "%s: no rows to fit", name);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(ds->y[i]))
            return assay_error_set(err, ASSAY_EINVAL, "%s: target of row %lld is %g", name,
                                   (long long)i, ds->y[i]);
    double sumw;
    if ((rc = assay__weights_check(ds->w, n, name, &sumw, err))) return rc;
    const double *w = ds->w;
    const int cg = X->csr && m->ridge && m->alpha > 0;
    if (!cg && d > MAX_FEATURES)
        return assay_error_set(err, ASSAY_EINVAL,
                               "%s: %lld features; at most %d are supported (the normal equations "
                               "are d x d): use ridge, which takes sparse text features of any width, "
                               "or fewer features", name, (long long)d, MAX_FEATURES);

    int64_t ch = d ? ASSAY_MAX(1, ASSAY_MIN(512, (4 << 20) / d)) : 512;
    double *xm = assay_calloc((size_t)d + 1, sizeof *xm);
    double *A = cg ? NULL : assay_calloc((size_t)d * (size_t)d + 1, sizeof *A);
    double *L = cg ? NULL : assay_mallocarray((size_t)d * (size_t)d + 1, sizeof *L);
    double *rhs = assay_calloc((size_t)d + 1, sizeof *rhs);
    /* dense rows are centred ch at a time */
    double *Xc = X->dense ? assay_mallocarray((size_t)ch * (size_t)(d ? d : 1), sizeof *Xc) : NULL;
    double *yc = X->dense ? assay_mallocarray((size_t)ch, sizeof *yc) : NULL;
    if (!xm || (!cg && (!A || !L)) || !rhs || (X->dense && (!Xc || !yc))) goto nomem;

    /* Weighted means (zero without an intercept). */
    double ym = 0;
    if (m->fit_intercept) {
        for (int64_t i = 0; i < n; i++) {
            double wi = w ? w[i] : 1.0;
            if (wi == 0) continue;
            ym += wi * ds->y[i];
            if (X->dense) {
                const float *x = X->dense + i * d;
                for (int64_t j = 0; j < d; j++) xm[j] += wi * x[j];
            } else {
                assay__row_axpy(X, i, wi, xm);
            }
        }
        ym /= sumw;
        for (int64_t j = 0; j < d; j++) xm[j] /= sumw;
    }

    if (cg) { /* right-hand side X' S (y - ym), then conjugate gradients */
        for (int64_t i = 0; i < n; i++) assay__row_axpy(X, i, (w ? w[i] : 1.0) * (ds->y[i] - ym), rhs);
        if ((rc = fit_sparse_ridge(m, ds, xm, sumw, rhs, err))) goto fail;
        goto solved;
    }
    /* Gram matrix (upper triangle) and right-hand side. */
    if (X->dense) {
        for (int64_t r0 = 0; r0 < n && d > 0; r0 += ch) {
            int64_t r1 = ASSAY_MIN(n, r0 + ch), nr = r1 - r0;
            for (int64_t i = r0; i < r1; i++) {
                double sw = sqrt(w ? w[i] : 1.0);
                const float *x = X->dense + i * d;
                double *xc = Xc + (i - r0) * d;
                for (int64_t j = 0; j < d; j++) xc[j] = sw * ((double)x[j] - xm[j]);
                yc[i - r0] = sw * (ds->y[i] - ym);
            }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nr, 1.0, Xc, (int)d,
                        1.0, A, (int)d);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)nr, (int)d, 1.0, Xc, (int)d, yc, 1, 1.0,
                        rhs, 1);
        }
    } else {
        /* Sparse: sum w x x' - sumw xm xm' (centring would destroy the sparsity). */
        const assay_csr *c = X->csr;
        for (int64_t i = 0; i < n; i++) {
            double wi = w ? w[i] : 1.0;
            if (wi == 0) continue;
            double yi = wi * (ds->y[i] - ym);
            for (int64_t p = c->indptr[i]; p < c->indptr[i + 1]; p++) {
                int64_t j = c->indices[p];
                double vj = wi * c->values[p];
                rhs[j] += yi * c->values[p];
                for (int64_t q = p; q < c->indptr[i + 1]; q++)
                    A[j * d + c->indices[q]] += vj * c->values[q]; /* indices sorted: j <= k */
            }
        }
        for (int64_t j = 0; j < d; j++)
            for (int64_t k = j; k < d; k++) A[j * d + k] -= sumw * xm[j] * xm[k];
    }
    for (int64_t j = 0; j < d; j++) {
        for (int64_t k = 0; k < j; k++) A[j * d + k] = A[k * d + j]; /* symmetric */
        A[j * d + j] += m->alpha;
    }

    /* Cholesky first; fall back to the minimum-norm eigen solution if a pivot collapses. */
    int chol_ok = d > 0;
    if (d > 0) {
        memcpy(L, A, (size_t)d * (size_t)d * sizeof *L);
        int nn = (int)d, info = 0, one = 1;
        dpotrf_("U", &nn, L, &nn, &info);
        if (info != 0) chol_ok = 0;
        for (int64_t j = 0; j < d && chol_ok; j++) {
            double piv = L[j * d + j]; /* diagonal: same index in either major order */
            if (!(piv * piv > RANK_TOL * A[j * d + j])) chol_ok = 0;
        }
        if (chol_ok) {
            memcpy(m->coef, rhs, (size_t)d * sizeof *rhs);
            dpotrs_("U", &nn, &one, L, &nn, m->coef, &nn, &info);
            if (info != 0) chol_ok = 0;
            m->rank = d;
        }
        if (!chol_ok) {
            memcpy(L, A, (size_t)d * (size_t)d * sizeof *L);
            m->rank = solve_eig(L, rhs, d, m->coef);
            if (m->rank < 0) {
                rc = assay_error_set(err, ASSAY_EINTERNAL,
                                     "%s: the eigen-decomposition of the %lld x %lld Gram matrix "
                                     "failed",
                                     name, (long long)d, (long long)d);
                goto fail;
            }
        }
    }
solved:;
    double b0 = ym;
    for (int64_t j = 0; j < d; j++) b0 -= xm[j] * m->coef[j];
    m->intercept = m->fit_intercept ? b0 : 0.0;
    for (int64_t j = 0; j < d; j++)
        if (!isfinite(m->coef[j])) {
            rc = assay_error_set(err, ASSAY_ECONVERGE, "%s: the solution is not finite", name);
            goto fail;
        }
    rc = ASSAY_OK;
    goto fail;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory (%lld features)", name,
                         (long long)d);
fail:
    assay_free(xm);
    assay_free(A);
    assay_free(L);
    assay_free(rhs);
    assay_free(Xc);
    assay_free(yc);
    return rc;
}

static int lin_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                       assay_error *err) {
    const linreg *m = (const linreg *)e;
    int rc;
    if ((rc = assay__matrix_check(X, e->nfeatures, e->vt->name, err))) return rc;
    int64_t n = X->n;
#pragma omp parallel for schedule(static) if (n > 4096)
    for (int64_t i = 0; i < n; i++) out[i] = m->intercept + assay__row_dot(X, i, m->coef);
    return ASSAY_OK;
}

static int lin_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                    json_t *meta, assay_error *err) {
    const linreg *m = (const linreg *)e;
    char name[256];
    int64_t shape[2] = {1, e->nfeatures};
    int rc;
    snprintf(name, sizeof name, "%scoef", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_F64, 2, shape, m->coef, err))) return rc;
    snprintf(name, sizeof name, "%sintercept", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_F64, 1, shape, &m->intercept, err))) return rc;
    if (meta && json_object_set_new(meta, "rank", json_integer(m->rank)))
        return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory saving", e->vt->name);
    return ASSAY_OK;
}

static int lin_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                    const json_t *meta, assay_error *err) {
    linreg *m = (linreg *)e;
    char name[256];
    const assay_tensor *t;
    int rc;
    snprintf(name, sizeof name, "%scoef", prefix);
    if ((rc = assay_mfile_expect(f, name, ASSAY_F64, 2, &t, err))) return rc;
    if (t->shape[0] != 1 || t->shape[1] != e->nfeatures)
        return assay_error_set(err, ASSAY_EFORMAT, "tensor '%s' has shape [%lld, %lld], expected "
                               "[1, %lld]", name, (long long)t->shape[0], (long long)t->shape[1],
                               (long long)e->nfeatures);
    const double *c = t->data;
    for (int64_t j = 0; j < e->nfeatures; j++)
        if (!isfinite(c[j]))
            return assay_error_set(err, ASSAY_EFORMAT, "tensor '%s' holds a non-finite value", name);
    if (e->nfeatures) memcpy(m->coef, c, (size_t)e->nfeatures * sizeof *c);
    snprintf(name, sizeof name, "%sintercept", prefix);
    if ((rc = assay_mfile_expect(f, name, ASSAY_F64, 1, &t, err))) return rc;
    if (t->shape[0] != 1)
        return assay_error_set(err, ASSAY_EFORMAT, "tensor '%s' has shape [%lld], expected [1]",
                               name, (long long)t->shape[0]);
    m->intercept = ((const double *)t->data)[0];
    if (!isfinite(m->intercept))
        return assay_error_set(err, ASSAY_EFORMAT, "tensor '%s' holds a non-finite value", name);
    json_t *v;
    m->rank = e->nfeatures;
    if (meta && (v = json_object_get(meta, "rank")) && json_is_integer(v))
        m->rank = json_integer_value(v);
    return ASSAY_OK;
}

static int lin_coefficients(const assay_estimator *e, double *coef) {
    const linreg *m = (const linreg *)e;
    memcpy(coef, m->coef, sizeof *coef * (size_t)e->nfeatures);
    return ASSAY_OK;
}

const assay_estimator_vt assay__linear_vt = {
    .name = "linear",
    .summary = "ordinary least squares regression (minimum-norm when rank-deficient)",
    .tasks = 1u << ASSAY_TASK_REGRESSION,
    .flags = ASSAY_EST_SPARSE,
    .create = linear_create,
    .fit = lin_fit,
    .predict = lin_predict,
    .save = lin_save,
    .load = lin_load,
    .free = lin_free,
    .coefficients = lin_coefficients,
};

const assay_estimator_vt assay__ridge_vt = {
    .name = "ridge",
    .summary = "ridge regression: least squares + alpha*||coef||^2 (alpha=1)",
    .tasks = 1u << ASSAY_TASK_REGRESSION,
    .create = ridge_create,
    .fit = lin_fit,
    .predict = lin_predict,
    .save = lin_save,
    .load = lin_load,
    .free = lin_free,
    .coefficients = lin_coefficients,
    .grid = (const char *const[]){"alpha=0.1", "alpha=1", "alpha=10", NULL},
    .flags = ASSAY_EST_SPARSE,
};
