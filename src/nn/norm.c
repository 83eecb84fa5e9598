/* norm.c - normalization and lookup layers: batch normalization over (B, C, S) per channel,
 * layer normalization over the last dimension, embedding lookup; forward and backward, with
 * PyTorch's semantics (BatchNorm1d/2d, LayerNorm, Embedding).
 *
 * Statistics (means, variances, the sums of the backward passes) accumulate in double (layer
 * norm's row sums in 8 interleaved lanes, so that they vectorize); the per-element maps that use
 * them (normalize, scale, shift, the input gradient) run in float, as PyTorch's do. Every
 * reduction has one fixed order whatever the thread count: batch norm gives each channel to one
 * thread; layer norm's dgamma/dbeta and embedding's dtable split the D columns into fixed blocks
 * owned by one thread each, summing rows in row order. Results are therefore bit-identical for
 * any OMP_NUM_THREADS, and no scratch is needed.
 *
 * Deliberately not here: batch norm's eval-mode backward (frozen statistics make it an affine
 * map the caller can fold into the next layer), momentum=None's cumulative average (pass
 * momentum = 1 / t), padding_idx and max_norm for embeddings, input validation (nn.h: callers
 * check ids). gamma and beta may be NULL for the non-affine variants (gamma 1, beta 0). */
#include "../internal.h"
#include "assay/nn.h"
#include "net.h"

/* Below this many elements a kernel runs on one thread: the fork costs more than it saves. */
#define PAR_MIN 32768
/* Columns per block for the column-parallel reductions (dgamma/dbeta, dtable): small enough to
 * keep double accumulators on the stack, wide enough for whole cache lines per row. */
#define COL_BLOCK 32

/* Layer norm's row sums: net.h's fixed-order lanes (assay__nn_sum_lanes, _lanes_total). */
#define LANES ASSAY__NN_LANES

/* ---- batch normalization ------------------------------------------------------------------
 * Element (b, c, s) of a (B, C, S) tensor lies at (b * C + c) * S + s. n = B * S values per
 * channel. Training: mean and biased variance over the n values (two passes, in double, so a
 * large mean does not cancel the variance), rstd = 1 / sqrt(var + eps); the running variance
 * gets the unbiased var * n / (n - 1) (PyTorch's batch_norm_cpu_update_stats). With n = 1
 * PyTorch refuses to train; here the running variance then takes the biased variance (0)
 * rather than dividing by zero. */

void assay_nn_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                                float *running_var, const float *inp, const float *gamma,
                                const float *beta, int B, int C, int S, float momentum, float eps,
                                int training) {
    const int64_t n = (int64_t)B * S;
#pragma omp parallel for schedule(static) if ((int64_t)B * C * S >= PAR_MIN)
    for (int c = 0; c < C; c++) {
        double m, r;
        if (training) {
            double sum = 0;
            for (int b = 0; b < B; b++) {
                const float *x = inp + ((int64_t)b * C + c) * S;
                for (int s = 0; s < S; s++) sum += x[s];
            }
            m = n > 0 ? sum / (double)n : 0.0;
            double ss = 0;
            for (int b = 0; b < B; b++) {
                const float *x = inp + ((int64_t)b * C + c) * S;
                for (int s = 0; s < S; s++) {
                    double d = x[s] - m;
                    ss += d * d;
                }
            }
            double var = n > 0 ? ss / (double)n : 0.0;
            double unbiased = n > 1 ? ss / (double)(n - 1) : var;
            r = 1.0 / sqrt(var + (double)eps);
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + (double)momentum * m);
            running_var[c] =
                (float)((1.0 - momentum) * running_var[c] + (double)momentum * unbiased);
        } else {
            m = running_mean[c];
            r = 1.0 / sqrt((double)running_var[c] + (double)eps);
        }
        mean[c] = (float)m;
        rstd[c] = (float)r;
        /* out = x * scale + shift, scale = rstd * gamma, shift = beta - mean * scale */
        double scale = r * (gamma ? gamma[c] : 1.0f);
        double shift = (beta ? beta[c] : 0.0f) - m * scale;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((int64_t)b * C + c) * S;
            float *o = out + ((int64_t)b * C + c) * S;
            for (int s = 0; s < S; s++) o[s] = (float)(x[s] * scale + shift);
        }
    }
}

/* With xhat = (x - mean) rstd and g = dout gamma, per channel (the usual batch-norm backward,
 * e.g. Ioffe & Szegedy 2015, sec. 3):
 *   dbeta = sum dout, dgamma = sum dout xhat,
 *   dinp  = rstd gamma (dout - dbeta / n - xhat dgamma / n). */
void assay_nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int B, int C, int S) {
    const int64_t n = (int64_t)B * S;
    if (n == 0) return;
#pragma omp parallel for schedule(static) if ((int64_t)B * C * S >= PAR_MIN)
    for (int c = 0; c < C; c++) {
        const double m = mean[c], r = rstd[c];
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((int64_t)b * C + c) * S;
            const float *dy = dout + ((int64_t)b * C + c) * S;
            for (int s = 0; s < S; s++) {
                sum_dy += dy[s];
                sum_dy_xhat += dy[s] * ((x[s] - m) * r);
            }
        }
        if (dbeta) dbeta[c] += (float)sum_dy;
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (!dinp) continue;
        const double k = r * (gamma ? gamma[c] : 1.0f);
        const double mean_dy = sum_dy / (double)n, mean_dy_xhat = sum_dy_xhat / (double)n;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((int64_t)b * C + c) * S;
            const float *dy = dout + ((int64_t)b * C + c) * S;
            float *dx = dinp + ((int64_t)b * C + c) * S;
            for (int s = 0; s < S; s++) {
                double xhat = (x[s] - m) * r;
                dx[s] += (float)(k * (dy[s] - mean_dy - xhat * mean_dy_xhat));
            }
        }
    }
}

/* ---- layer normalization ------------------------------------------------------------------
 * Per row: mean and biased variance over D (two passes, in double), eps inside the square
 * root, as PyTorch's LayerNorm. */

void assay_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                const float *gamma, const float *beta, int N, int D, float eps) {
#pragma omp parallel for schedule(static) if ((int64_t)N * D >= PAR_MIN)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (int64_t)i * D;
        float *o = out + (int64_t)i * D;
        const double m = D > 0 ? assay__nn_sum_lanes(x, D) / D : 0.0;
        double q[LANES] = {0};
        int d = 0;
        for (; d + LANES <= D; d += LANES)
#pragma omp simd
            for (int j = 0; j < LANES; j++) q[j] += (x[d + j] - m) * (x[d + j] - m);
        for (int j = 0; d < D; d++, j++) q[j] += (x[d] - m) * (x[d] - m);
        const double r = 1.0 / sqrt((D > 0 ? assay__nn_lanes_total(q) / D : 0.0) + (double)eps);
        mean[i] = (float)m;
        rstd[i] = (float)r;
        /* the affine map in float (as PyTorch's): statistics in double, the map vectorized */
        const float mf = (float)m, rf = (float)r;
        if (gamma && beta)
#pragma omp simd
            for (d = 0; d < D; d++) o[d] = (x[d] - mf) * rf * gamma[d] + beta[d];
        else
            for (d = 0; d < D; d++)
                o[d] = (x[d] - mf) * rf * (gamma ? gamma[d] : 1.0f) + (beta ? beta[d] : 0.0f);
    }
}

/* One row of layer norm's input gradient (see below). Inlined with affine a constant, so that
 * the loops carry no per-element test of gamma and vectorize. */
static inline __attribute__((always_inline)) void
ln_row_backward(float *dx, const float *x, const float *dy, const float *gamma, double m, double r,
                int D, const int affine) {
    double lg[LANES] = {0}, lgx[LANES] = {0};
    int d = 0;
    for (; d + LANES <= D; d += LANES)
#pragma omp simd
        for (int j = 0; j < LANES; j++) {
            const double g = (double)dy[d + j] * (affine ? gamma[d + j] : 1.0f);
            lg[j] += g;
            lgx[j] += g * ((x[d + j] - m) * r);
        }
    for (int j = 0; d < D; d++, j++) {
        const double g = (double)dy[d] * (affine ? gamma[d] : 1.0f);
        lg[j] += g;
        lgx[j] += g * ((x[d] - m) * r);
    }
    const float mf = (float)m, rf = (float)r;
    const float a = (float)(assay__nn_lanes_total(lg) / D);
    const float b = (float)(assay__nn_lanes_total(lgx) / D);
#pragma omp simd
    for (d = 0; d < D; d++)
        dx[d] += rf * (dy[d] * (affine ? gamma[d] : 1.0f) - a - (x[d] - mf) * rf * b);
}

/* With xhat = (x - mean) rstd and g = dout * gamma, per row (llm.c's layernorm_backward):
 *   dinp = rstd (g - mean(g) - xhat mean(g xhat));
 * and per column, over rows: dbeta = sum dout, dgamma = sum dout xhat. */
void assay_nn_layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int N, int D) {
    if (N <= 0 || D <= 0) return;
    const int par = (int64_t)N * D >= PAR_MIN;
    if (dinp) {
#pragma omp parallel for schedule(static) if (par)
        for (int i = 0; i < N; i++) {
            const float *x = inp + (int64_t)i * D, *dy = dout + (int64_t)i * D;
            float *dx = dinp + (int64_t)i * D;
            if (gamma) ln_row_backward(dx, x, dy, gamma, mean[i], rstd[i], D, 1);
            else ln_row_backward(dx, x, dy, NULL, mean[i], rstd[i], D, 0);
        }
    }
    if (!dgamma && !dbeta) return;
    /* Column blocks: each block's sums run over rows in order on one thread. */
    const int nblocks = (D + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (par && nblocks > 1)
    for (int blk = 0; blk < nblocks; blk++) {
        const int d0 = blk * COL_BLOCK, d1 = ASSAY_MIN(D, d0 + COL_BLOCK);
        double acc_g[COL_BLOCK] = {0}, acc_b[COL_BLOCK] = {0};
        for (int i = 0; i < N; i++) {
            const float *x = inp + (int64_t)i * D, *dy = dout + (int64_t)i * D;
            const double m = mean[i], r = rstd[i];
#pragma omp simd
            for (int d = d0; d < d1; d++) {
                acc_b[d - d0] += dy[d];
                acc_g[d - d0] += dy[d] * ((x[d] - m) * r);
            }
        }
        for (int d = d0; d < d1; d++) {
            if (dbeta) dbeta[d] += (float)acc_b[d - d0];
            if (dgamma) dgamma[d] += (float)acc_g[d - d0];
        }
    }
}

/* ---- embedding ---------------------------------------------------------------------------- */

void assay_nn_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int V,
                                int D) {
    (void)V;
#pragma omp parallel for schedule(static) if ((int64_t)N * D >= PAR_MIN)
    for (int i = 0; i < N; i++) {
        ASSAY_ASSERT(ids[i] >= 0 && ids[i] < V);
        memcpy(out + (int64_t)i * D, table + (int64_t)ids[i] * D, sizeof(float) * (size_t)D);
    }
}

/* Threads own blocks of columns, each summing rows in row order: repeated ids add up the same
 * way whatever the thread count, with no atomics. */
void assay_nn_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N,
                                 int V, int D) {
    (void)V;
    if (!dtable || N <= 0 || D <= 0) return;
    const int nblocks = (D + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((int64_t)N * D >= PAR_MIN && nblocks > 1)
    for (int blk = 0; blk < nblocks; blk++) {
        const int d0 = blk * COL_BLOCK, d1 = ASSAY_MIN(D, d0 + COL_BLOCK);
        for (int i = 0; i < N; i++) {
            ASSAY_ASSERT(ids[i] >= 0 && ids[i] < V);
            float *t = dtable + (int64_t)ids[i] * D;
            const float *dy = dout + (int64_t)i * D;
            for (int d = d0; d < d1; d++) t[d] += dy[d];
        }
    }
}
