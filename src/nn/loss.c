/* loss.c - the losses that start a backward pass: softmax cross-entropy with label smoothing,
 * binary cross-entropy from logits, mean squared error. Each returns the (weighted) mean loss,
 * accumulated in double, and WRITES the gradient of that mean (nn.h), with PyTorch's
 * semantics (CrossEntropyLoss, BCEWithLogitsLoss, MSELoss, reduction 'mean').
 *
 * Weights are per sample: the mean is sum w_i l_i / sum w_i. (PyTorch's own weight= is per
 * class for CrossEntropyLoss and divides by N for BCEWithLogitsLoss; the parity fixtures emulate
 * per-sample weights with reduction='none'.) When there are no rows or the weights sum to
 * zero there is nothing to learn from: the loss is 0 and the gradient 0 (PyTorch gives NaN).
 *
 * Rows are summed in a fixed number of fixed chunks (their partial sums added in chunk order),
 * so the loss is bit-identical for any thread count. Deliberately not here: ignore_index,
 * per-class weights, probability targets for cross-entropy, pos_weight, input validation
 * (callers check labels, nn.h). */
#include "../internal.h"
#include "assay/nn.h"

/* Below this many elements a loss runs on one thread. */
#define PAR_MIN 32768
/* Fixed number of row chunks for the loss sum, independent of the thread count. */
#define NCHUNK 64

/* sum w_i in order, or N without weights. */
static double weight_sum(const float *weights, int N) {
    if (!weights) return N > 0 ? (double)N : 0.0;
    double s = 0;
    for (int i = 0; i < N; i++) s += weights[i];
    return s;
}

/* Softmax cross-entropy (PyTorch's cross_entropy with label_smoothing): with
 * logp = logits - logsumexp(logits) (max subtracted so exp cannot overflow) and target
 * q = (1 - eps) onehot(label) + eps / K,
 *   l_i = -sum_k q_k logp_k = -(1 - eps) logp_label - eps / K sum_k logp_k,
 *   dl_i / dlogits_k = softmax_k - q_k. */
double assay_nn_softmax_xent(float *dlogits, const float *logits, const int32_t *labels,
                             const float *weights, int N, int K, float smoothing) {
    const double W = weight_sum(weights, N);
    if (N <= 0 || K <= 0 || W == 0) {
        if (dlogits && N > 0 && K > 0) memset(dlogits, 0, sizeof(float) * (size_t)N * K);
        return 0;
    }
    const double eps = smoothing, off = eps / K, on = 1.0 - eps + off;
    double part[NCHUNK];
#pragma omp parallel for schedule(static) if ((int64_t)N * K >= PAR_MIN)
    for (int ch = 0; ch < NCHUNK; ch++) {
        const int i0 = (int)((int64_t)N * ch / NCHUNK), i1 = (int)((int64_t)N * (ch + 1) / NCHUNK);
        double acc = 0;
        for (int i = i0; i < i1; i++) {
            const float *x = logits + (int64_t)i * K;
            const int y = labels[i];
            ASSAY_ASSERT(y >= 0 && y < K);
            float mx = x[0];
            for (int k = 1; k < K; k++) mx = x[k] > mx ? x[k] : mx;
            double se = 0, sum_x = 0;
            for (int k = 0; k < K; k++) {
                se += exp((double)x[k] - mx);
                sum_x += (double)x[k] - mx;
            }
            const double lse = log(se); /* logsumexp - mx */
            const double logp_y = (double)x[y] - mx - lse;
            const double sum_logp = sum_x - K * lse;
            const double w = weights ? weights[i] : 1.0;
            acc += w * (-(1.0 - eps) * logp_y - off * sum_logp);
            if (dlogits) {
                float *g = dlogits + (int64_t)i * K;
                const double scale = w / W;
                for (int k = 0; k < K; k++) {
                    double p = exp((double)x[k] - mx - lse);
                    g[k] = (float)(scale * (p - (k == y ? on : off)));
                }
            }
        }
        part[ch] = acc;
    }
    double total = 0;
    for (int ch = 0; ch < NCHUNK; ch++) total += part[ch];
    return total / W;
}

/* BCEWithLogitsLoss, stable for any x: l = max(x, 0) - x y + log1p(exp(-|x|)) (the softplus
 * identity log(1 + e^x) = max(x, 0) + log1p(e^-|x|)); dl/dx = sigmoid(x) - y, with the
 * sigmoid evaluated on the side where exp cannot overflow. */
double assay_nn_bce_logits(float *dlogits, const float *logits, const float *targets,
                           const float *weights, int N) {
    const double W = weight_sum(weights, N);
    if (N <= 0 || W == 0) {
        if (dlogits && N > 0) memset(dlogits, 0, sizeof(float) * (size_t)N);
        return 0;
    }
    double part[NCHUNK];
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (int ch = 0; ch < NCHUNK; ch++) {
        const int i0 = (int)((int64_t)N * ch / NCHUNK), i1 = (int)((int64_t)N * (ch + 1) / NCHUNK);
        double acc = 0;
        for (int i = i0; i < i1; i++) {
            const double x = logits[i], y = targets[i], w = weights ? weights[i] : 1.0;
            acc += w * (ASSAY_MAX(x, 0.0) - x * y + log1p(exp(-fabs(x))));
            if (dlogits) {
                double sig = x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
                dlogits[i] = (float)(w / W * (sig - y));
            }
        }
        part[ch] = acc;
    }
    double total = 0;
    for (int ch = 0; ch < NCHUNK; ch++) total += part[ch];
    return total / W;
}

/* MSELoss: l = (pred - target)^2, dl/dpred = 2 (pred - target). */
double assay_nn_mse(float *dpred, const float *pred, const float *target, const float *weights,
                    int N) {
    const double W = weight_sum(weights, N);
    if (N <= 0 || W == 0) {
        if (dpred && N > 0) memset(dpred, 0, sizeof(float) * (size_t)N);
        return 0;
    }
    double part[NCHUNK];
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (int ch = 0; ch < NCHUNK; ch++) {
        const int i0 = (int)((int64_t)N * ch / NCHUNK), i1 = (int)((int64_t)N * (ch + 1) / NCHUNK);
        double acc = 0;
        for (int i = i0; i < i1; i++) {
            const double d = (double)pred[i] - target[i], w = weights ? weights[i] : 1.0;
            acc += w * d * d;
            if (dpred) dpred[i] = (float)(w / W * 2.0 * d);
        }
        part[ch] = acc;
    }
    double total = 0;
    for (int ch = 0; ch < NCHUNK; ch++) total += part[ch];
    return total / W;
}
