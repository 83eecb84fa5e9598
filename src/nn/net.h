/* net.h - sequential networks built on the nn kernels (shared between library files).
 *
 * An architecture string names the hidden layers; the output layer (dense, nout) is appended:
 *
 *   conv32-pool-conv64-pool-fc128     fc256-fc128     conv32bn-conv32bn-pool-drop0.25-fc128
 *
 *   convN[xK][bn]  K x K convolution (default 3, stride 1, "same" padding) with N channels,
 *                  optional batch normalization, then the activation
 *   fcN[bn]        dense layer of N units, optional batch normalization, then the activation
 *   pool, avgpool  2 x 2 max / average pooling
 *   drop[P]        dropout with probability P (default: the net's dropout option)
 *
 * Parameters live in one buffer (per layer: weight, then bias; batch-norm gamma, beta) in
 * layer order, so gradients and optimizer state share the layout and a step is one loop.
 * Batch-norm running statistics are a separate, untrained buffer. A forward/backward pass
 * works in an nn_work arena sized once for a batch size; the net itself is read-only during
 * a pass, so several threads may predict with their own arenas.
 *
 * Training (assay__nn_train): mini-batches shuffled by the seed, an optimizer from nn.h,
 * a learning-rate schedule, gradient clipping, per-epoch validation with early stopping that
 * restores the best weights, checkpoints after every epoch that resume bit-exactly, and a
 * progress bar (epoch, loss, metric, examples per second). */
#ifndef ASSAY_NN_NET_H
#define ASSAY_NN_NET_H

#include <jansson.h>

#include "../internal.h"
#include "assay/image.h"
#include "assay/nn.h"

typedef enum nn_kind {
    NN_DENSE = 0, NN_CONV, NN_MAXPOOL, NN_AVGPOOL, NN_RELU, NN_GELU, NN_TANH, NN_SIGMOID,
    NN_DROPOUT, NN_BATCHNORM
} nn_kind;

typedef enum nn_act { NN_ACT_RELU = 0, NN_ACT_GELU, NN_ACT_TANH, NN_ACT_SIGMOID } nn_act;

typedef struct nn_layer {
    nn_kind kind;
    int c, h, w;               /* input shape of one example (dense: c features, h = w = 1) */
    int oc, oh, ow;            /* output shape of one example */
    int k, stride, pad;        /* conv kernel; pool window */
    float p;                   /* dropout probability */
    int64_t wt, bias;          /* offsets into params, or -1 */
    int64_t rmean, rvar;       /* batch norm: offsets into buf */
    int64_t fan_in, fan_out;
} nn_layer;

typedef struct assay__net {
    int nl;
    nn_layer *L;
    int c, h, w, nout;         /* input shape and outputs */
    int64_t nparams, nbuf;
    float *params;             /* nparams */
    float *buf;                /* nbuf: batch-norm running statistics */
    char *arch;                /* the architecture string it was built from */
    nn_act act;
    float dropout;
    assay_nn_precision prec;   /* of the matrix products in training and prediction (gemm.c);
                                  not saved: the estimator sets it */
} assay__net;

/* A forward/backward arena for batches of up to B examples. */
typedef struct nn_work {
    int B;
    int64_t *off;              /* nl + 1 offsets into act/dact (per batch): input, outputs */
    int64_t *aoff;             /* nl offsets into aux (dropout masks, batch-norm mean/rstd) */
    int64_t *ioff;             /* nl offsets into iaux (max-pool argmax) */
    float *act, *dact, *aux, *scratch;
    int32_t *iaux;
} nn_work;

int assay__net_build(assay__net *n, const char *arch, int c, int h, int w, int nout, nn_act act,
                     float dropout, assay_error *err);
void assay__net_deinit(assay__net *n);
/* He normal weights before ReLU/GELU, Xavier uniform elsewhere; zero biases; gamma 1, beta 0;
 * running variance 1. Drawn from seed. */
void assay__net_init_params(assay__net *n, uint64_t seed);
/* Multiply-adds of one example's forward pass (for GFLOP/s: x 2 x 3 for a training step). */
double assay__net_flops(const assay__net *n);

int nn_work_init(nn_work *wk, const assay__net *n, int B, assay_error *err);
void nn_work_deinit(nn_work *wk);
/* The input buffer of the arena: B x c*h*w floats. */
static inline float *nn_work_input(nn_work *wk) { return wk->act; }
/* Forward over the B examples in the input buffer; returns the outputs (B x nout). training:
 * dropout active (masks from rng) and batch norm on batch statistics (updating the running
 * statistics in n->buf, hence non-const). */
const float *assay__net_forward(assay__net *n, nn_work *wk, int B, int training, assay_rng *rng);
/* Inference only (const net: running statistics, no dropout). */
const float *assay__net_infer(const assay__net *n, nn_work *wk, int B);
/* The gradient of the loss with respect to the outputs (B x nout), to be written before
 * backward. */
static inline float *nn_work_doutput(nn_work *wk, const assay__net *n) {
    return wk->dact + wk->off[n->nl];
}
/* Backward over the last training forward; ADDS parameter gradients into grads (nparams). */
void assay__net_backward(const assay__net *n, nn_work *wk, float *grads, int B);

/* Tensors prefix+"params", prefix+"buf"; scalars (arch, shape, activation) into meta. */
int assay__net_save(const assay__net *n, assay_mfile_writer *w, const char *prefix, json_t *meta,
                    assay_error *err);
int assay__net_load(assay__net *n, const assay_mfile *f, const char *prefix, const json_t *meta,
                    assay_error *err);

/* Sums in ASSAY__NN_LANES interleaved double accumulators combined in one fixed order: the
 * same result every time, without one chain of n dependent additions (4 cycles each), and the
 * lanes vectorize. lanes_total combines them; sum_lanes is the plain sum of x (n). */
#define ASSAY__NN_LANES 8
static inline double assay__nn_lanes_total(const double l[ASSAY__NN_LANES]) {
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}
static inline double assay__nn_sum_lanes(const float *x, int n) {
    double l[ASSAY__NN_LANES] = {0};
    int i = 0;
    for (; i + ASSAY__NN_LANES <= n; i += ASSAY__NN_LANES)
#pragma omp simd
        for (int j = 0; j < ASSAY__NN_LANES; j++) l[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) l[j] += x[i];
    return assay__nn_lanes_total(l);
}

/* OpenBLAS to one thread while networks train or predict (the kernels split products over
 * OpenMP threads themselves); returns the previous count for assay__nn_blas_end. */
int assay__nn_blas_begin(void);
void assay__nn_blas_end(int prev);

/* Row-major C (M,N) = alpha op(A) (M,K) op(B) (K,N) + beta C (ta, tb: 1 = transposed), in the
 * calling thread's precision: fp32, or bf16 between assay__nn_precision_begin(ASSAY_NN_BF16)
 * and _end on a CPU that has it. In bf16, products under 262,144 multiply-adds and calls from
 * inside an OpenMP region stay fp32 (oneDNN's call overhead would exceed their work). */
void assay__nn_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc);
/* The same, then bias (N, or NULL; only with beta = 0) added to every row and GELU (erf)
 * applied when gelu: in bf16, one oneDNN call (bias and GELU fused into the product's
 * output); in fp32, bias broadcast, sgemm, assay_nn_gelu_forward. */
void assay__nn_gemm_ex(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                       int gelu);
/* out (N,OC) = GELU(inp (N,C) @ weight^T + bias): the inference form of dense -> GELU (no
 * pre-activation kept for a backward pass). */
void assay__nn_linear_gelu_forward(float *out, const float *inp, const float *weight,
                                   const float *bias, int N, int C, int OC);
/* y (n) = expf(x) through glibc's vector math library where the CPU has AVX2 (within 4 ulp of
 * libm's expf), libm elsewhere; the same result for a value wherever it sits in x. y may be x. */
void assay__nn_expf(float *y, const float *x, int64_t n);
/* Sets this thread's precision (bf16 only where supported); returns the previous setting for
 * assay__nn_precision_end. */
int assay__nn_precision_begin(assay_nn_precision p);
void assay__nn_precision_end(int prev);

/* ---- training ---------------------------------------------------------------------------- */

typedef enum nn_loss { NN_LOSS_XENT = 0, NN_LOSS_MSE } nn_loss;

/* Examples: rows of X (n x d floats), or images (normalized with mean/std per channel, and
 * augmented with flip / shift when training). Targets: labels (XENT) or targets (MSE). */
typedef struct nn_data {
    int64_t n;
    const float *X;
    const assay_images *images;
    const float *mean, *std;
    float flip;
    int shift;
    const int32_t *labels;
    const float *targets;
    const float *weights;      /* per example, or NULL */
} nn_data;

typedef struct nn_train_opts {
    int epochs, batch;
    assay_nn_optim opt;
    assay_nn_schedule sched;   /* lr, kind, warmup, min_lr, gamma, step_size (in epochs for
                                  STEP); total is set from epochs x steps */
    double clip;               /* max gradient norm, 0 = none */
    nn_loss loss;
    float smoothing;
    int patience;              /* epochs without validation improvement; 0 = no early stop */
    uint64_t seed;
    const char *checkpoint;    /* path written after every epoch, or NULL */
    int resume;                /* continue from checkpoint if it exists */
    const char *label;         /* progress bar label */
} nn_train_opts;

typedef struct nn_history {
    int epochs;                /* epochs run */
    int best_epoch;            /* 0-based; -1 without validation */
    double *train_loss, *val_loss, *val_metric; /* per epoch (val_*: NAN without validation) */
    double seconds, examples_per_second;
    int stopped_early;
} nn_history;

int assay__nn_train(assay__net *n, const nn_data *tr, const nn_data *va, const nn_train_opts *o,
                    nn_history *h, assay_error *err);
void nn_history_deinit(nn_history *h);

/* Outputs (n x nout) for the examples of d (no augmentation), batch by batch. */
int assay__nn_predict(const assay__net *n, const nn_data *d, float *out, assay_error *err);

#endif
