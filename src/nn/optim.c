/* optim.c - optimizer steps (SGD, momentum, Nesterov, Adam, AdamW), global gradient norm and
 * clipping, learning-rate schedules and weight initializers.
 *
 * The steps follow PyTorch 1.13's torch.optim single-tensor algorithms operation by operation
 * (torch/optim/sgd.py _single_tensor_sgd, adam.py _single_tensor_adam, adamw.py
 * _single_tensor_adamw): float32 arithmetic on the tensors, double for the scalar bias
 * corrections as Python computes them. Every step is one flat element-wise loop, so any thread
 * count gives the same bits. The gradient norm reduces over a fixed number of chunks in chunk
 * order, so it too is independent of the thread count.
 *
 * Deliberately not here: parameter groups (the caller steps each range with its own wd_scale),
 * dampening, amsgrad, maximize, gradient scaling for mixed precision, and any allocation. */
#include "../internal.h"
#include "assay/nn.h"

/* Loops shorter than this run on one thread: spawning costs more than they do. */
#define PAR_MIN 32768

void assay_nn_optim_defaults(assay_nn_optim *o, assay_nn_optimizer kind) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->momentum = 0.9f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = kind == ASSAY_NN_ADAMW ? 0.01f : 0.0f;
}

/* SGD family, torch/optim/sgd.py:
 *   g = grad + wd p;  buf = momentum buf + g (buf starts at g; m is zero, so momentum * 0 + g
 *   is exactly g);  d = g + momentum buf (Nesterov) or buf (momentum) or g (plain);  p -= lr d */
static void step_sgd(const assay_nn_optim *o, float *params, const float *grads, float *m,
                     int64_t n, float lr, float wd) {
    const float mu = o->momentum;
    const int kind = (int)o->kind;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float g = grads[i];
        if (wd != 0.0f) g = g + wd * params[i];
        float d = g;
        if (kind != ASSAY_NN_SGD) {
            float buf = mu * m[i] + g;
            m[i] = buf;
            d = kind == ASSAY_NN_NESTEROV ? g + mu * buf : buf;
        }
        params[i] = params[i] + (-lr) * d;
    }
}

/* Adam and AdamW, torch/optim/adam.py and adamw.py (amsgrad off, not capturable):
 *   AdamW: p *= 1 - lr wd (decoupled);  Adam: g = grad + wd p (L2)
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (double);  step_size = lr / bc1 (double)
 *   denom = sqrt(v) / sqrt(bc2) + eps;  p += -step_size * m / denom */
static void step_adam(const assay_nn_optim *o, float *params, const float *grads, float *m,
                      float *v, int64_t n, long t, float lr, float wd) {
    const int decoupled = o->kind == ASSAY_NN_ADAMW;
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float a1 = 1.0f - b1, a2 = 1.0f - b2;
    const double bc1 = 1.0 - pow((double)b1, (double)t);
    const double bc2 = 1.0 - pow((double)b2, (double)t);
    const float neg_step = (float)(-((double)lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    /* PyTorch: param.mul_(1 - lr * weight_decay), the factor computed in double. */
    const float shrink = (float)(1.0 - (double)lr * (double)wd);
    /* Three branch-free loops, so that each vectorizes (measured: the branching loop was 27% of
     * an MLP epoch); sqrtf and the divisions are correctly rounded in vector form too, so the
     * results equal the scalar ones bit for bit. */
#define ADAM_UPDATE(P, G)                                        \
    float mi = b1 * m[i] + a1 * (G);                             \
    float vi = b2 * v[i] + a2 * (G) * (G);                       \
    m[i] = mi;                                                   \
    v[i] = vi;                                                   \
    params[i] = (P) + neg_step * mi / (sqrtf(vi) / bc2_sqrt + eps)
    if (decoupled && wd != 0.0f) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            float p = params[i] * shrink, g = grads[i];
            ADAM_UPDATE(p, g);
        }
    } else if (!decoupled && wd != 0.0f) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            float p = params[i], g = grads[i] + wd * params[i];
            ADAM_UPDATE(p, g);
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            float p = params[i], g = grads[i];
            ADAM_UPDATE(p, g);
        }
    }
#undef ADAM_UPDATE
}

void assay_nn_optim_step(const assay_nn_optim *o, float *params, const float *grads, float *m,
                         float *v, int64_t n, long t, float lr, float wd_scale) {
    ASSAY_ASSERT(o != NULL && n >= 0);
    if (n == 0) return;
    const float wd = o->weight_decay * wd_scale;
    switch (o->kind) {
    case ASSAY_NN_SGD:
        step_sgd(o, params, grads, m, n, lr, wd);
        break;
    case ASSAY_NN_MOMENTUM:
    case ASSAY_NN_NESTEROV:
        ASSAY_ASSERT(m != NULL);
        step_sgd(o, params, grads, m, n, lr, wd);
        break;
    case ASSAY_NN_ADAM:
    case ASSAY_NN_ADAMW:
        ASSAY_ASSERT(m != NULL && v != NULL && t >= 1);
        step_adam(o, params, grads, m, v, n, t, lr, wd);
        break;
    default:
        ASSAY_ASSERT(!"unknown optimizer");
    }
}

/* The norm's sum of squares is split into NORM_CHUNKS contiguous chunks whatever the thread
 * count; each chunk sums in index order into a double, and the chunk sums are added in chunk
 * order. Threads only decide who computes which chunk, never the order of any addition. */
#define NORM_CHUNKS 64

double assay_nn_grad_norm(const float *grads, int64_t n) {
    ASSAY_ASSERT(n >= 0);
    double part[NORM_CHUNKS];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int c = 0; c < NORM_CHUNKS; c++) {
        int64_t lo = n * c / NORM_CHUNKS, hi = n * (c + 1) / NORM_CHUNKS;
        double s = 0.0;
        for (int64_t i = lo; i < hi; i++) s += (double)grads[i] * (double)grads[i];
        part[c] = s;
    }
    double sum = 0.0;
    for (int c = 0; c < NORM_CHUNKS; c++) sum += part[c];
    return sqrt(sum);
}

/* torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied when below 1.
 * A non-finite norm leaves grads as they are (PyTorch would multiply them by NaN or 0); the
 * returned norm tells the caller to skip the step. */
double assay_nn_clip_grad_norm(float *grads, int64_t n, double max_norm) {
    double norm = assay_nn_grad_norm(grads, n);
    if (!isfinite(norm)) return norm;
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) grads[i] *= c;
    }
    return norm;
}

/* Schedules. Warmup: step s < warmup gets lr (s + 1) / warmup, so step 0 already moves and
 * step warmup - 1 reaches the full lr. Afterwards:
 *   CONSTANT  lr
 *   STEP      lr gamma^floor(s / step_size), s counted from 0 (warmup included)
 *   COSINE    min_lr + (lr - min_lr) (1 + cos(pi p)) / 2
 *   LINEAR    min_lr + (lr - min_lr) (1 - p)
 * with progress p = (s - warmup) / (total - warmup) clamped to [0, 1]: total counts all steps,
 * warmup included (Hugging Face's get_cosine_schedule_with_warmup), min_lr is reached at step
 * total and kept after it. total <= warmup means min_lr right after warmup. */
double assay_nn_schedule_lr(const assay_nn_schedule *s, long step) {
    ASSAY_ASSERT(s != NULL);
    if (step < 0) step = 0;
    if (s->warmup > 0 && step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
    long warm = s->warmup > 0 ? s->warmup : 0;
    double p = 1.0;
    if (s->total > warm) {
        p = (double)(step - warm) / (double)(s->total - warm);
        if (p > 1.0) p = 1.0;
    }
    switch (s->kind) {
    case ASSAY_NN_SCHED_STEP:
        if (s->step_size <= 0) return s->lr;
        return s->lr * pow(s->gamma, (double)(step / s->step_size));
    case ASSAY_NN_SCHED_COSINE:
        return s->min_lr + (s->lr - s->min_lr) * (1.0 + cos(M_PI * p)) / 2.0;
    case ASSAY_NN_SCHED_LINEAR:
        return s->min_lr + (s->lr - s->min_lr) * (1.0 - p);
    case ASSAY_NN_SCHED_CONSTANT:
    default:
        return s->lr;
    }
}

/* Initializers draw one value per element in index order, on the calling thread, so a seed
 * fixes the weights whatever the thread count. */
void assay_nn_init_normal(float *w, int64_t n, float std, assay_rng *rng) {
    for (int64_t i = 0; i < n; i++) w[i] = (float)((double)std * assay_rng_normal(rng));
}

void assay_nn_init_he(float *w, int64_t n, int fan_in, assay_rng *rng) {
    ASSAY_ASSERT(fan_in > 0);
    double std = sqrt(2.0 / (double)fan_in);
    for (int64_t i = 0; i < n; i++) w[i] = (float)(std * assay_rng_normal(rng));
}

void assay_nn_init_xavier(float *w, int64_t n, int fan_in, int fan_out, assay_rng *rng) {
    ASSAY_ASSERT(fan_in + fan_out > 0);
    double a = sqrt(6.0 / ((double)fan_in + (double)fan_out));
    for (int64_t i = 0; i < n; i++) w[i] = (float)(a * (2.0 * assay_rng_uniform(rng) - 1.0));
}
