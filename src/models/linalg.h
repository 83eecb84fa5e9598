/* linalg.h - small numeric helpers shared by the linear estimators (shared between library files
 * of the models module only).
 *
 * Row access written once for both layouts of assay_matrix (dense float32 or CSR): a dot product
 * with double weights and an axpy into a double gradient, accumulated in double. LAPACK routines
 * are declared here by hand (Debian's OpenBLAS exports them; there is no lapacke). Nothing here
 * allocates. */
#ifndef ASSAY_MODELS_LINALG_H
#define ASSAY_MODELS_LINALG_H

#include "../internal.h"

/* LAPACK (Fortran calling convention, column-major). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);

/* x_i . w  (w: d) */
static inline double assay__row_dot(const assay_matrix *X, int64_t i, const double *w) {
    if (X->dense) {
        const float *x = X->dense + i * X->d;
        int64_t d = X->d, j = 0;
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0; /* four chains: lets the compiler pipeline */
        for (; j + 4 <= d; j += 4) {
            a0 += (double)x[j] * w[j];
            a1 += (double)x[j + 1] * w[j + 1];
            a2 += (double)x[j + 2] * w[j + 2];
            a3 += (double)x[j + 3] * w[j + 3];
        }
        for (; j < d; j++) a0 += (double)x[j] * w[j];
        return (a0 + a1) + (a2 + a3);
    }
    const assay_csr *m = X->csr;
    double a = 0;
    for (int64_t p = m->indptr[i]; p < m->indptr[i + 1]; p++)
        a += (double)m->values[p] * w[m->indices[p]];
    return a;
}

/* g += a * x_i  (g: d) */
static inline void assay__row_axpy(const assay_matrix *X, int64_t i, double a, double *g) {
    if (X->dense) {
        const float *x = X->dense + i * X->d;
        for (int64_t j = 0; j < X->d; j++) g[j] += a * (double)x[j];
        return;
    }
    const assay_csr *m = X->csr;
    for (int64_t p = m->indptr[i]; p < m->indptr[i + 1]; p++)
        g[m->indices[p]] += a * (double)m->values[p];
}

/* Refuse a matrix whose layout is unusable or that holds NaN/inf, naming the row and column.
 * what: the estimator's name for messages. */
int assay__matrix_check(const assay_matrix *X, int64_t d, const char *what, assay_error *err);

/* The tensor prefix + what of type dt and exactly shape (ndim dimensions) from a model file, its
 * values finite when it is F32 or F64: ASSAY_EFORMAT naming the tensor otherwise. */
int assay__tensor_exact(const assay_mfile *f, const char *prefix, const char *what, assay_dtype dt,
                        int ndim, const int64_t *shape, const assay_tensor **out, assay_error *err);

/* F64 tensors prefix + what: read one of exactly shape into dst (assay__tensor_exact's checks),
 * or add data of that shape to a writer. */
int assay__tensor_read_f64(const assay_mfile *f, const char *prefix, const char *what, int ndim,
                           const int64_t *shape, double *dst, assay_error *err);
int assay__tensor_write_f64(assay_mfile_writer *w, const char *prefix, const char *what, int ndim,
                            const int64_t *shape, const double *data, assay_error *err);

/* p (K) = softmax of the logits z (K), computed in double. */
void assay__softmax_f32(const float *z, int K, double *p);

/* Refuse non-finite or negative sample weights or an all-zero weight vector (w may be NULL).
 * *sumw receives the sum (n when w is NULL). */
int assay__weights_check(const double *w, int64_t n, const char *what, double *sumw,
                         assay_error *err);

#endif
