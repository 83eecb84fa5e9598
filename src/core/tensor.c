/* tensor.c - dtypes, dense tensors and CSR matrices: sizes, names, allocation, validation.
 * No arithmetic on tensors lives here (kernels are in nn/ and models/); the model file that
 * stores tensors is mfile.c. */
#include "../internal.h"

static const struct {
    const char *name;
    size_t size;
} g_dtypes[ASSAY_DTYPE_COUNT] = {
    [ASSAY_F32] = {"F32", 4}, [ASSAY_F64] = {"F64", 8}, [ASSAY_I32] = {"I32", 4},
    [ASSAY_I64] = {"I64", 8}, [ASSAY_U8] = {"U8", 1},
};

size_t assay_dtype_size(assay_dtype t) {
    return (unsigned)t < ASSAY_DTYPE_COUNT ? g_dtypes[t].size : 0;
}

const char *assay_dtype_name(assay_dtype t) {
    return (unsigned)t < ASSAY_DTYPE_COUNT ? g_dtypes[t].name : "?";
}

int assay_dtype_from_name(const char *s, assay_dtype *out) {
    for (int i = 0; i < ASSAY_DTYPE_COUNT; i++) {
        if (s && strcmp(s, g_dtypes[i].name) == 0) {
            *out = (assay_dtype)i;
            return ASSAY_OK;
        }
    }
    return ASSAY_EFORMAT;
}

int64_t assay_tensor_numel(const assay_tensor *t) {
    if (t->ndim < 0 || t->ndim > ASSAY_TENSOR_MAX_DIMS) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = t->shape[i];
        if (d < 0) return -1;
        if (d != 0 && n > INT64_MAX / d) return -1;
        n *= d;
    }
    return n;
}

int assay_tensor_init(assay_tensor *t, assay_dtype dtype, int ndim, const int64_t *shape,
                      assay_error *err) {
    memset(t, 0, sizeof *t);
    if ((unsigned)dtype >= ASSAY_DTYPE_COUNT)
        return assay_error_set(err, ASSAY_EINVAL, "tensor: unknown dtype %d", (int)dtype);
    if (ndim < 0 || ndim > ASSAY_TENSOR_MAX_DIMS)
        return assay_error_set(err, ASSAY_EINVAL, "tensor: %d dimensions (0..%d allowed)", ndim,
                               ASSAY_TENSOR_MAX_DIMS);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    int64_t n = assay_tensor_numel(t);
    size_t es = assay_dtype_size(dtype);
    if (n < 0 || (uint64_t)n > SIZE_MAX / es) {
        memset(t, 0, sizeof *t);
        return assay_error_set(err, ASSAY_EINVAL, "tensor: negative or overflowing shape");
    }
    t->data = assay_calloc((size_t)n, es);
    if (!t->data) {
        memset(t, 0, sizeof *t);
        return assay_error_set(err, ASSAY_ENOMEM, "tensor: out of memory for %lld x %zu bytes",
                               (long long)n, es);
    }
    t->owns = 1;
    return ASSAY_OK;
}

void assay_tensor_deinit(assay_tensor *t) {
    if (!t) return;
    if (t->owns) assay_free(t->data);
    memset(t, 0, sizeof *t);
}

int assay_csr_init(assay_csr *m, int64_t nrows, int64_t ncols, int64_t nnz, assay_error *err) {
    memset(m, 0, sizeof *m);
    if (nrows < 0 || ncols < 0 || nnz < 0)
        return assay_error_set(err, ASSAY_EINVAL, "csr: negative size (%lld x %lld, nnz %lld)",
                               (long long)nrows, (long long)ncols, (long long)nnz);
    if (ncols > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "csr: %lld columns exceed the int32 indices",
                               (long long)ncols);
    if ((uint64_t)nrows >= SIZE_MAX / sizeof(int64_t) || (uint64_t)nnz > SIZE_MAX / sizeof(float))
        return assay_error_set(err, ASSAY_ENOMEM, "csr: size overflows memory");
    m->indptr = assay_calloc((size_t)nrows + 1, sizeof *m->indptr);
    m->indices = assay_mallocarray((size_t)nnz, sizeof *m->indices);
    m->values = assay_mallocarray((size_t)nnz, sizeof *m->values);
    if (!m->indptr || !m->indices || !m->values) {
        assay_csr_deinit(m);
        return assay_error_set(err, ASSAY_ENOMEM, "csr: out of memory for %lld rows, %lld nonzeros",
                               (long long)nrows, (long long)nnz);
    }
    m->nrows = nrows;
    m->ncols = ncols;
    m->nnz = nnz;
    return ASSAY_OK;
}

void assay_csr_deinit(assay_csr *m) {
    if (!m) return;
    assay_free(m->indptr);
    assay_free(m->indices);
    assay_free(m->values);
    memset(m, 0, sizeof *m);
}

int assay_csr_validate(const assay_csr *m, assay_error *err) {
    if (m->nrows < 0 || m->ncols < 0 || m->nnz < 0 || m->ncols > INT32_MAX)
        return assay_error_set(err, ASSAY_EFORMAT, "csr: bad dimensions %lld x %lld, nnz %lld",
                               (long long)m->nrows, (long long)m->ncols, (long long)m->nnz);
    if (!m->indptr || (m->nnz > 0 && (!m->indices || !m->values)))
        return assay_error_set(err, ASSAY_EFORMAT, "csr: missing arrays");
    if (m->indptr[0] != 0)
        return assay_error_set(err, ASSAY_EFORMAT, "csr: indptr[0] is %lld, not 0",
                               (long long)m->indptr[0]);
    if (m->indptr[m->nrows] != m->nnz)
        return assay_error_set(err, ASSAY_EFORMAT, "csr: indptr[%lld] is %lld, not nnz %lld",
                               (long long)m->nrows, (long long)m->indptr[m->nrows],
                               (long long)m->nnz);
    for (int64_t r = 0; r < m->nrows; r++) {
        int64_t b = m->indptr[r], e = m->indptr[r + 1];
        if (e < b || e > m->nnz)
            return assay_error_set(err, ASSAY_EFORMAT, "csr: row %lld: indptr goes from %lld to %lld",
                                   (long long)r, (long long)b, (long long)e);
        for (int64_t k = b; k < e; k++) {
            int32_t c = m->indices[k];
            if (c < 0 || c >= m->ncols)
                return assay_error_set(err, ASSAY_EFORMAT,
                                       "csr: row %lld: column %d out of range 0..%lld",
                                       (long long)r, (int)c, (long long)m->ncols - 1);
            if (k > b && c <= m->indices[k - 1])
                return assay_error_set(err, ASSAY_EFORMAT,
                                       "csr: row %lld: column %d after %d (not sorted or repeated)",
                                       (long long)r, (int)c, (int)m->indices[k - 1]);
        }
    }
    return ASSAY_OK;
}
