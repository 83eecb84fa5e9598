/* nn.h - neural network kernels: layers as forward/backward pairs of plain functions, losses,
 * optimizers, learning-rate schedules and initializers (llm.c style).
 *
 * Conventions, shared by every kernel:
 * - float32, row-major, batch first. Images are NCHW. Dimension letters: N rows (B * T for
 *   sequences), B batch, C input features or channels, OC output features or channels, H W
 *   height and width, K classes, V vocabulary, D width of a normalized or embedded vector.
 * - Outputs first, inputs next, dimensions last; every tensor argument names its shape.
 * - Weights use PyTorch's layouts (linear (OC, C), conv (OC, C, KH, KW)), so checkpoints and
 *   parity fixtures map one to one.
 * - Backward passes ADD into every gradient they produce (dinp and parameter gradients): the
 *   caller zeroes gradients before a step. A NULL gradient pointer means "not needed" (the
 *   input of the first layer, a layer without bias). Adding lets residual connections and
 *   shared weights sum their gradients without copies.
 * - Losses return the mean loss and WRITE (not add) the gradient of that mean with respect to
 *   their input: they start the backward pass.
 * - Kernels never allocate; scratch comes from the caller (sizes from the *_scratch
 *   functions). They parallelize with OpenMP over rows or channels and reduce in a fixed order,
 *   so the same inputs and thread count give bit-identical results. Matrix products go through
 *   CBLAS (OpenBLAS).
 * - Kernels do not validate untrusted input: callers check indices (embedding ids, labels)
 *   before calling. */
#ifndef ASSAY_NN_H
#define ASSAY_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dense ------------------------------------------------------------------------------- */

/* out (N,OC) = inp (N,C) @ weight^T (OC,C) + bias (OC, or NULL) */
void assay_nn_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                             int N, int C, int OC);
/* dinp (N,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += column sums */
void assay_nn_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, int N, int C, int OC);

/* ---- 2-D convolution (cross-correlation, as PyTorch's Conv2d) ----------------------------- */

typedef struct assay_nn_conv {
    int B, C, H, W;            /* input (B,C,H,W) */
    int OC, KH, KW, stride, pad;
    int OH, OW;                /* (H + 2 pad - KH) / stride + 1, likewise OW */
} assay_nn_conv;

/* Fill the shape and compute OH, OW. Returns 0, or -1 if the kernel does not fit the padded
 * input or a dimension is not positive. */
int assay_nn_conv_init(assay_nn_conv *s, int B, int C, int H, int W, int OC, int KH, int KW,
                       int stride, int pad);
/* Floats of scratch the conv kernels need for this shape (forward and backward alike). */
size_t assay_nn_conv_scratch(const assay_nn_conv *s);
/* out (B,OC,OH,OW) = conv(inp (B,C,H,W), weight (OC,C,KH,KW)) + bias (OC, or NULL) */
void assay_nn_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                             const assay_nn_conv *s, float *scratch);
void assay_nn_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const assay_nn_conv *s,
                              float *scratch);

/* ---- pooling: window k x k, stride k, no padding, OH = H / k, OW = W / k (floor) ---------- */

/* out (B,C,OH,OW); argmax (B,C,OH,OW): index into the (H,W) plane of the winning input */
void assay_nn_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B, int C,
                                int H, int W, int k);
void assay_nn_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, int B,
                                 int C, int H, int W, int k);
void assay_nn_avgpool2d_forward(float *out, const float *inp, int B, int C, int H, int W, int k);
void assay_nn_avgpool2d_backward(float *dinp, const float *dout, int B, int C, int H, int W,
                                 int k);

/* ---- element-wise activations over n values ----------------------------------------------
 * backward: dinp += dout * f'(x), given the forward's input inp and output out. */

void assay_nn_relu_forward(float *out, const float *inp, int64_t n);
void assay_nn_relu_backward(float *dinp, const float *dout, const float *inp, const float *out,
                            int64_t n);
/* GELU, exact: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (BERT's and PyTorch's default). */
void assay_nn_gelu_forward(float *out, const float *inp, int64_t n);
void assay_nn_gelu_backward(float *dinp, const float *dout, const float *inp, const float *out,
                            int64_t n);
void assay_nn_tanh_forward(float *out, const float *inp, int64_t n);
void assay_nn_tanh_backward(float *dinp, const float *dout, const float *inp, const float *out,
                            int64_t n);
void assay_nn_sigmoid_forward(float *out, const float *inp, int64_t n);
void assay_nn_sigmoid_backward(float *dinp, const float *dout, const float *inp,
                               const float *out, int64_t n);

/* ---- dropout (inverted: kept values scaled by 1 / (1 - p)) -------------------------------- */

/* mask (n): 0 or 1 / (1 - p); out = inp * mask. p in [0, 1). One value drawn from rng keys a
 * counter-based stream (value i is a hash of the key and i), so the mask is the same for any
 * thread count. */
void assay_nn_dropout_forward(float *out, float *mask, const float *inp, int64_t n, float p,
                              assay_rng *rng);
void assay_nn_dropout_backward(float *dinp, const float *dout, const float *mask, int64_t n);

/* ---- softmax over the last dimension ------------------------------------------------------ */

/* out (N,K) = softmax(inp (N,K)) row by row (max subtracted for stability) */
void assay_nn_softmax_forward(float *out, const float *inp, int N, int K);
/* dinp += out * (dout - sum(dout * out)) per row */
void assay_nn_softmax_backward(float *dinp, const float *dout, const float *out, int N, int K);

/* ---- batch normalization over (B, C, S): per channel C, statistics over B and S ----------
 * S = H * W for images, 1 after a dense layer. training = 1: normalize with the batch's mean
 * and biased variance, save mean and rstd (C), update running_mean/running_var (C) with
 * momentum (running = (1 - momentum) running + momentum batch; the running variance is the
 * unbiased one, as PyTorch). training = 0: normalize with the running statistics (mean and
 * rstd are then filled from them). */
void assay_nn_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                                float *running_var, const float *inp, const float *gamma,
                                const float *beta, int B, int C, int S, float momentum, float eps,
                                int training);
/* Training-mode backward (batch statistics). */
void assay_nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int B, int C, int S);

/* ---- layer normalization over the last dimension D of N rows ------------------------------ */

/* out (N,D) = (inp - mean) * rstd * gamma (D) + beta (D); saves mean (N), rstd (N) */
void assay_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                const float *gamma, const float *beta, int N, int D, float eps);
void assay_nn_layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int N, int D);

/* ---- embedding ---------------------------------------------------------------------------- */

/* out (N,D) = table (V,D)[ids (N)]; ids must lie in [0, V) */
void assay_nn_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int V,
                                int D);
/* dtable (V,D) += dout rows at ids (in row order, so repeated ids sum deterministically) */
void assay_nn_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N,
                                 int V, int D);

/* ---- losses: mean over rows (weighted: sum w_i l_i / sum w_i); gradient written ----------- */

/* Softmax cross-entropy from logits (N,K) and labels (N) in [0, K), with label smoothing eps
 * (target (1 - eps) on the label + eps / K everywhere, PyTorch's CrossEntropyLoss), optional
 * weights (N, or NULL). dlogits (N,K, or NULL). */
double assay_nn_softmax_xent(float *dlogits, const float *logits, const int32_t *labels,
                             const float *weights, int N, int K, float smoothing);
/* Binary cross-entropy from logits (N) and targets (N) in [0, 1] (BCEWithLogitsLoss). */
double assay_nn_bce_logits(float *dlogits, const float *logits, const float *targets,
                           const float *weights, int N);
/* Mean squared error of pred (N) against target (N) (MSELoss). */
double assay_nn_mse(float *dpred, const float *pred, const float *target, const float *weights,
                    int N);

/* ---- precision of matrix products (gemm.c) ------------------------------------------------ */

typedef enum assay_nn_precision {
    ASSAY_NN_FP32 = 0, /* fp32 products (CBLAS) */
    ASSAY_NN_BF16      /* products of bf16-rounded operands accumulated in fp32 (oneDNN) */
} assay_nn_precision;

/* 1 when this CPU multiplies bf16 natively (AVX512_BF16 or AMX, as oneDNN sees it). */
int assay_nn_bf16_supported(void);
/* ASSAY_EINVAL naming who and the CPU's instruction set when p is bf16 and the CPU lacks it. */
int assay_nn_precision_check(assay_nn_precision p, const char *who, assay_error *err);
/* oneDNN's name for the CPU's instruction set ("avx512_core_amx", "avx2", ...). */
const char *assay_nn_cpu_isa(void);
/* f rounded to bfloat16 (nearest even) and back: what a bf16 product sees of an operand. */
float assay_nn_bf16_round(float f);

/* ---- optimizers: one flat loop over n parameters ------------------------------------------ */

typedef enum assay_nn_optimizer {
    ASSAY_NN_SGD = 0,
    ASSAY_NN_MOMENTUM,
    ASSAY_NN_NESTEROV,
    ASSAY_NN_ADAM,
    ASSAY_NN_ADAMW
} assay_nn_optimizer;

typedef struct assay_nn_optim {
    assay_nn_optimizer kind;
    float momentum;            /* MOMENTUM, NESTEROV (PyTorch SGD's momentum, dampening 0) */
    float beta1, beta2, eps;   /* ADAM, ADAMW */
    float weight_decay;        /* ADAMW: decoupled (p -= lr wd p); others: L2 added to the
                                  gradient (PyTorch's weight_decay) */
} assay_nn_optim;

/* PyTorch's defaults: momentum 0.9, betas (0.9, 0.999), eps 1e-8, weight decay 0 (0.01 AdamW). */
void assay_nn_optim_defaults(assay_nn_optim *o, assay_nn_optimizer kind);
/* One step at step number t (1-based, for Adam's bias correction) with learning rate lr over
 * params (n), given grads (n). m and v (n each) are the optimizer state: momentum buffer /
 * first moment, second moment; zero before the first step; v unused by the SGD family (may be
 * NULL). wd_scale (0 or 1) switches weight decay off for this range (biases, norms). */
void assay_nn_optim_step(const assay_nn_optim *o, float *params, const float *grads, float *m,
                         float *v, int64_t n, long t, float lr, float wd_scale);

/* Global L2 norm of grads (n), accumulated in double. */
double assay_nn_grad_norm(const float *grads, int64_t n);
/* Scale grads so that their norm is at most max_norm; returns the norm before clipping. */
double assay_nn_clip_grad_norm(float *grads, int64_t n, double max_norm);

/* ---- learning-rate schedules ------------------------------------------------------------- */

typedef enum assay_nn_sched_kind {
    ASSAY_NN_SCHED_CONSTANT = 0,
    ASSAY_NN_SCHED_STEP,       /* lr * gamma ^ floor(step / step_size) */
    ASSAY_NN_SCHED_COSINE,     /* from lr down to min_lr over total steps (after warmup) */
    ASSAY_NN_SCHED_LINEAR      /* from lr down to min_lr over total steps (after warmup) */
} assay_nn_sched_kind;

typedef struct assay_nn_schedule {
    assay_nn_sched_kind kind;
    double lr, min_lr, gamma;
    long warmup;               /* linear warmup from 0 over the first warmup steps */
    long step_size, total;
} assay_nn_schedule;

/* Learning rate at step (0-based). */
double assay_nn_schedule_lr(const assay_nn_schedule *s, long step);

/* ---- initializers (drawn from rng in index order) ----------------------------------------- */

/* He / Kaiming normal: N(0, 2 / fan_in) (for ReLU layers). */
void assay_nn_init_he(float *w, int64_t n, int fan_in, assay_rng *rng);
/* Xavier / Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void assay_nn_init_xavier(float *w, int64_t n, int fan_in, int fan_out, assay_rng *rng);
/* N(0, std^2) (BERT's 0.02). */
void assay_nn_init_normal(float *w, int64_t n, float std, assay_rng *rng);

#ifdef __cplusplus
}
#endif

#endif
