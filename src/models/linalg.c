/* linalg.c - input checks shared by the estimators: matrix layout, finite features, sample
 * weights, the exact shape of a saved tensor. It does not convert or copy data. */
#include "linalg.h"

int assay__matrix_check(const assay_matrix *X, int64_t d, const char *what, assay_error *err) {
    if (!X || (!X->dense && !X->csr) || (X->dense && X->csr))
        return assay_error_set(err, ASSAY_EINVAL, "%s: the design must be dense or CSR", what);
    if (X->d != d)
        return assay_error_set(err, ASSAY_ESCHEMA, "%s: design has %lld features, expected %lld",
                               what, (long long)X->d, (long long)d);
    if (X->n < 0) return assay_error_set(err, ASSAY_EINVAL, "%s: negative row count", what);
    if (X->dense) {
        int64_t bad = -1;
        int64_t total = X->n * X->d;
        /* A cheap parallel scan; the first bad index is found again serially for the message. */
        int any = 0;
#pragma omp parallel for reduction(| : any) schedule(static)
        for (int64_t k = 0; k < total; k++) any |= !isfinite(X->dense[k]);
        if (any)
            for (int64_t k = 0; k < total; k++)
                if (!isfinite(X->dense[k])) {
                    bad = k;
                    break;
                }
        if (bad >= 0)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "%s: feature %lld of row %lld is %s (impute or drop it first)",
                                   what, (long long)(bad % X->d), (long long)(bad / X->d),
                                   isnan(X->dense[bad]) ? "NaN" : "infinite");
        return ASSAY_OK;
    }
    const assay_csr *m = X->csr;
    if (m->nrows != X->n || m->ncols != X->d)
        return assay_error_set(err, ASSAY_EINVAL, "%s: CSR is %lld x %lld, view says %lld x %lld",
                               what, (long long)m->nrows, (long long)m->ncols, (long long)X->n,
                               (long long)X->d);
    int rc = assay_csr_validate(m, err);
    if (rc) return assay_error_prefix(err, "%s", what);
    for (int64_t i = 0; i < m->nrows; i++)
        for (int64_t p = m->indptr[i]; p < m->indptr[i + 1]; p++)
            if (!isfinite(m->values[p]))
                return assay_error_set(err, ASSAY_EINVAL,
                                       "%s: feature %d of row %lld is %s (impute or drop it first)",
                                       what, m->indices[p], (long long)i,
                                       isnan(m->values[p]) ? "NaN" : "infinite");
    return ASSAY_OK;
}

int assay__weights_check(const double *w, int64_t n, const char *what, double *sumw,
                         assay_error *err) {
    if (!w) {
        *sumw = (double)n;
        return ASSAY_OK;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(w[i]) || w[i] < 0)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "%s: sample weight of row %lld is %g (must be finite and >= 0)",
                                   what, (long long)i, w[i]);
        s += w[i];
    }
    if (!(s > 0))
        return assay_error_set(err, ASSAY_EINVAL, "%s: all sample weights are zero", what);
    *sumw = s;
    return ASSAY_OK;
}

int assay__tensor_exact(const assay_mfile *f, const char *prefix, const char *what, assay_dtype dt,
                        int ndim, const int64_t *shape, const assay_tensor **out, assay_error *err) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", prefix, what);
    int rc = assay_mfile_expect(f, name, dt, ndim, out, err);
    if (rc) return rc;
    int64_t cnt = 1;
    for (int i = 0; i < ndim; i++) {
        if ((*out)->shape[i] != shape[i])
            return assay_error_set(err, ASSAY_EFORMAT,
                                   "tensor '%s' has %lld in dimension %d, expected %lld", name,
                                   (long long)(*out)->shape[i], i, (long long)shape[i]);
        cnt *= shape[i];
    }
    for (int64_t i = 0; i < cnt; i++) {
        double v = dt == ASSAY_F32 ? (double)((const float *)(*out)->data)[i]
                 : dt == ASSAY_F64 ? ((const double *)(*out)->data)[i] : 0.0;
        if (!isfinite(v))
            return assay_error_set(err, ASSAY_EFORMAT, "tensor '%s' holds a non-finite value", name);
    }
    return ASSAY_OK;
}

int assay__tensor_read_f64(const assay_mfile *f, const char *prefix, const char *what, int ndim,
                           const int64_t *shape, double *dst, assay_error *err) {
    const assay_tensor *t;
    int rc = assay__tensor_exact(f, prefix, what, ASSAY_F64, ndim, shape, &t, err);
    if (rc) return rc;
    size_t cnt = 1;
    for (int i = 0; i < ndim; i++) cnt *= (size_t)shape[i];
    if (cnt) memcpy(dst, t->data, cnt * sizeof *dst);
    return ASSAY_OK;
}

int assay__tensor_write_f64(assay_mfile_writer *w, const char *prefix, const char *what, int ndim,
                            const int64_t *shape, const double *data, assay_error *err) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", prefix, what);
    return assay_mfile_writer_add(w, name, ASSAY_F64, ndim, shape, data, err);
}

void assay__softmax_f32(const float *z, int K, double *p) {
    double mx = z[0], s = 0;
    for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < K; k++) s += p[k] = exp(z[k] - mx);
    for (int k = 0; k < K; k++) p[k] /= s;
}
