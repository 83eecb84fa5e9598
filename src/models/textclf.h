/* textclf.h - the fastText-style classifier's direct API (shared between library files, the
 * benchmark harness and the fastText-format path; never installed).
 *
 * A document is a CSR row of token counts over V columns (words, hashed word n-grams, hashed
 * character n-grams: all just columns). The model holds an embedding matrix E (V x D) and an
 * output layer W: K x D (softmax, ova) or (K-1) x D (hierarchical softmax, one row per inner
 * node of a Huffman tree over class frequencies). hidden = sum_j x_j E[j] / sum_j x_j.
 *
 * Labels per document come as a CSR-like list (label_ptr n+1, labels): multi-label documents
 * train every class of OVA; softmax and hs draw one of the document's labels per visit, as
 * fastText does. The estimator registered as "textclf" (estimator.h) is this same struct. */
#ifndef ASSAY_MODELS_TEXTCLF_H
#define ASSAY_MODELS_TEXTCLF_H

#include "estimator.h"

enum { ASSAY_TEXTCLF_SOFTMAX = 0, ASSAY_TEXTCLF_HS = 1, ASSAY_TEXTCLF_OVA = 2 };

typedef struct assay_textclf_opts {
    int dim;        /* D, default 100 */
    double lr;      /* initial learning rate, default 0.1; decays linearly to 0 */
    int epochs;     /* default 5 */
    int loss;       /* ASSAY_TEXTCLF_* */
    int threads;    /* Hogwild threads; 1: bit-deterministic; <= 0: assay_threads_get() */
    uint64_t seed;
} assay_textclf_opts;

void assay__textclf_opts_init(assay_textclf_opts *o); /* fastText's supervised defaults */

typedef struct assay__textclf assay__textclf;

/* A model for K >= 2 classes over V >= 1 columns; E and W are 0 until fit() draws E. */
int assay__textclf_new(const assay_textclf_opts *o, int K, int64_t V, assay__textclf **out,
                       assay_error *err);
void assay__textclf_free(assay__textclf *m);

/* Train from scratch. X: n x V counts (values >= 0, finite); label_ptr: n + 1, labels[label_ptr[i]
 * .. label_ptr[i+1]) in 0..K-1. Rows with no tokens or no label are skipped. */
int assay__textclf_fit(assay__textclf *m, const assay_csr *X, const int64_t *label_ptr,
                       const int32_t *labels, assay_error *err);

/* Class scores of one document (K): probabilities for softmax and hs, independent sigmoids for
 * ova. scratch: D + K floats. An empty document gives the scores of hidden = 0. */
void assay__textclf_scores(const assay__textclf *m, const int32_t *idx, const float *val,
                           int64_t nnz, float *scores, float *scratch);

/* The k best classes with score >= threshold, best first (ties: lower class first). Returns the
 * count (<= k); labels and probs hold k entries. scratch: D + 2K floats. */
int assay__textclf_topk(const assay__textclf *m, const int32_t *idx, const float *val,
                        int64_t nnz, int k, double threshold, int32_t *labels, float *probs,
                        float *scratch);

/* For tests. The loss of one document for the given targets (softmax, hs: label[0] only; ova:
 * all) at the current parameters, in double. */
double assay__textclf_loss(const assay__textclf *m, const int32_t *idx, const float *val,
                           int64_t nnz, const int32_t *labels, int nlabels);
/* One SGD step exactly as training does it (target: labels[0] for softmax/hs, all for ova):
 * parameters -= lr * gradient of assay__textclf_loss. Returns the loss before the step.
 * scratch: 2D + K floats. */
double assay__textclf_step(assay__textclf *m, const int32_t *idx, const float *val, int64_t nnz,
                           const int32_t *labels, int nlabels, float lr, float *scratch);
/* Views of the parameters: E (V x D) and W (rows x D); *rows receives W's row count. */
float *assay__textclf_embeddings(assay__textclf *m);
float *assay__textclf_output(assay__textclf *m, int64_t *rows);
/* Set E uniform in [-1/D, 1/D] from the seed and W to 0 (as fastText). fit() does this. */
void assay__textclf_init_params(assay__textclf *m);

#endif
