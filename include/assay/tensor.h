/* tensor.h - dense tensors, CSR sparse matrices and the model file (safetensors + metadata).
 *
 * The model file is a safetensors file: 8-byte little-endian header length N, N bytes of JSON
 * header, then raw little-endian tensor bytes. The header's "__metadata__" object maps string
 * keys to string values; assay keeps "assay.format" (integer, as text) there and stores its own
 * JSON documents as string values. Loading validates everything before use; saving writes a
 * temporary file, fsyncs it and renames it over the destination. */
#ifndef ASSAY_TENSOR_H
#define ASSAY_TENSOR_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dense tensors ----------------------------------------------------------------------- */

typedef enum assay_dtype {
    ASSAY_F32 = 0,
    ASSAY_F64,
    ASSAY_I32,
    ASSAY_I64,
    ASSAY_U8,
    ASSAY_DTYPE_COUNT
} assay_dtype;

#define ASSAY_TENSOR_MAX_DIMS 4

typedef struct assay_tensor {
    assay_dtype dtype;
    int ndim;
    int64_t shape[ASSAY_TENSOR_MAX_DIMS];
    void *data;   /* row-major; owned unless the tensor is a view (owns == 0) */
    int owns;
} assay_tensor;

size_t assay_dtype_size(assay_dtype t);
const char *assay_dtype_name(assay_dtype t);          /* safetensors spelling: "F32", "I64" ... */
int assay_dtype_from_name(const char *s, assay_dtype *out); /* ASSAY_OK or ASSAY_EFORMAT */

/* Number of elements; -1 if it overflows int64 or a dimension is negative. */
int64_t assay_tensor_numel(const assay_tensor *t);
/* Allocate zeroed storage; ndim 0..4. */
int assay_tensor_init(assay_tensor *t, assay_dtype dtype, int ndim, const int64_t *shape,
                      assay_error *err);
void assay_tensor_deinit(assay_tensor *t);

/* ---- CSR sparse matrix (float32 values) -------------------------------------------------- */

typedef struct assay_csr {
    int64_t nrows, ncols, nnz;
    int64_t *indptr;  /* nrows + 1 */
    int32_t *indices; /* nnz, column ids, sorted within a row */
    float *values;    /* nnz */
} assay_csr;

int assay_csr_init(assay_csr *m, int64_t nrows, int64_t ncols, int64_t nnz, assay_error *err);
void assay_csr_deinit(assay_csr *m);
/* Check indptr monotone, indices in range and sorted; ASSAY_OK or ASSAY_EFORMAT. */
int assay_csr_validate(const assay_csr *m, assay_error *err);

/* A read-only matrix view handed to models: exactly one of dense / csr is set. */
typedef struct assay_matrix {
    int64_t n, d;
    const float *dense;     /* n x d row-major */
    const assay_csr *csr;
} assay_matrix;

/* ---- model file -------------------------------------------------------------------------- */

#define ASSAY_FORMAT_VERSION 1

typedef struct assay_mfile_writer assay_mfile_writer;
typedef struct assay_mfile assay_mfile;

assay_mfile_writer *assay_mfile_writer_new(void);
void assay_mfile_writer_free(assay_mfile_writer *w);
/* Copy a tensor into the writer. Names are unique, 1..255 bytes, no control characters. */
int assay_mfile_writer_add(assay_mfile_writer *w, const char *name, assay_dtype dtype, int ndim,
                           const int64_t *shape, const void *data, assay_error *err);
/* Set a metadata string (copied). "assay.format" is written automatically. */
int assay_mfile_writer_meta(assay_mfile_writer *w, const char *key, const char *value,
                            assay_error *err);
/* Write atomically: PATH.tmp.XXXXXX, fsync, rename, fsync directory. On failure the old file
 * (if any) is untouched and no temporary file is left behind. */
int assay_mfile_writer_save(const assay_mfile_writer *w, const char *path, assay_error *err);

/* Read and validate a whole model file into memory. */
int assay_mfile_load(const char *path, assay_mfile **out, assay_error *err);
/* Same, from a memory buffer (used by the fuzzer and by load); name is used in messages. */
int assay_mfile_load_buffer(const void *buf, size_t len, const char *name, assay_mfile **out,
                            assay_error *err);
void assay_mfile_free(assay_mfile *f);

/* A borrowed view of a tensor (owns == 0), or NULL if absent. */
const assay_tensor *assay_mfile_tensor(const assay_mfile *f, const char *name);
/* Look up a tensor and check its dtype and rank (-1 = any rank); fills err naming the tensor. */
int assay_mfile_expect(const assay_mfile *f, const char *name, assay_dtype dtype, int ndim,
                       const assay_tensor **out, assay_error *err);
int assay_mfile_tensor_count(const assay_mfile *f);
const char *assay_mfile_tensor_name(const assay_mfile *f, int i);
/* A metadata string, or NULL if absent. */
const char *assay_mfile_meta(const assay_mfile *f, const char *key);

#ifdef __cplusplus
}
#endif
#endif
