/* layers.c - layer kernels as forward/backward pairs (llm.c style): dense (linear), 2-D
 * convolution, max and average pooling, element-wise activations (ReLU, GELU, tanh, sigmoid),
 * dropout and softmax. Conventions are nn.h's: float32, row-major, NCHW, backward passes ADD
 * into the gradients they produce and skip NULL ones.
 *
 * Matrix products go through gemm.c (CBLAS in fp32, oneDNN in bf16). The loops around them
 * (im2col, col2im, reorders, element-wise work) are OpenMP loops in which each output element
 * belongs to one iteration and each reduction (bias gradients, softmax sums) runs in a fixed
 * order inside one iteration, so results are bit-identical for any OpenMP thread count.
 *
 * Deliberately not here: allocation (scratch comes from the caller), validation of untrusted
 * input (kernels trust their callers; programmer errors are ASSAY_ASSERTs), dilation, groups
 * or padding modes other than zeros in convolution, padding or overlapping windows in pooling,
 * normalization layers (norm.c) and losses (loss.c).
 *
 * Dimension letters: N rows, C input features or channels, OC output features or channels,
 * B batch, H W input height and width, OH OW output height and width, KH KW kernel height and
 * width, P = OH * OW output positions of one plane, CK = C * KH * KW rows of the im2col matrix,
 * K softmax classes. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>

#include "../internal.h"
#include "assay/nn.h"
#include "net.h"

/* Below this many elements an OpenMP region costs more than it saves. */
#define PAR_MIN 16384

/* ---- matrix products -------------------------------------------------------------------- */

/* Row-major C (M,N) = alpha op(A) (M,K) op(B) (K,N) + beta C, in the thread's precision
 * (gemm.c). */
static void gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                 float *C, int ldc) {
    assay__nn_gemm(ta == CblasTrans, tb == CblasTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                   ldc);
}

/* ---- dense ------------------------------------------------------------------------------- */

/* The dense kernels run OpenMP loops of their own only while OpenBLAS is single-threaded (as
 * the network code sets it): an OpenMP region right before or after a threaded OpenBLAS call
 * makes the two thread pools' spinning workers fight for the cores (measured: linear forward
 * 3x slower with a parallel bias fill under libgomp's default wait policy and pthreads
 * OpenBLAS). */

/* dst (OC) += column sums of src (N,OC): blocks of columns, each summed in row order in double
 * (cache-friendly, and independent of any thread count); the blocks in parallel when there is
 * enough work (measured: serial, this was 3.5% of a BERT fine-tuning step). */
#define COLSUM_BLOCK 64
static void colsum_add(float *dst, const float *src, int N, int OC) {
    const int nblk = (OC + COLSUM_BLOCK - 1) / COLSUM_BLOCK;
#pragma omp parallel for schedule(static) \
    if (nblk > 1 && (int64_t)N * OC >= 4 * PAR_MIN && openblas_get_num_threads() == 1)
    for (int blk = 0; blk < nblk; blk++) {
        const int o0 = blk * COLSUM_BLOCK, o1 = ASSAY_MIN(o0 + COLSUM_BLOCK, OC);
        double acc[COLSUM_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = src + (size_t)n * OC;
            for (int o = o0; o < o1; o++) acc[o - o0] += row[o];
        }
        for (int o = o0; o < o1; o++) dst[o] += (float)acc[o - o0];
    }
}

/* out (N,OC) = inp (N,C) @ weight^T (OC,C) + bias (OC, or NULL) */
void assay_nn_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                             int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (C <= 0) {
        for (int n = 0; n < N; n++)
            if (bias) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof *out);
            else memset(out + (size_t)n * OC, 0, (size_t)OC * sizeof *out);
        return;
    }
    assay__nn_gemm_ex(0, 1, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC, bias, 0);
}

void assay__nn_linear_gelu_forward(float *out, const float *inp, const float *weight,
                                   const float *bias, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (C <= 0) {
        assay_nn_linear_forward(out, inp, weight, bias, N, C, OC);
        assay_nn_gelu_forward(out, out, (int64_t)N * OC);
        return;
    }
    assay__nn_gemm_ex(0, 1, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC, bias, 1);
}

/* dinp (N,C) += dout (N,OC) @ weight (OC,C); dweight (OC,C) += dout^T @ inp (N,C);
 * dbias (OC) += column sums of dout */
void assay_nn_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (dinp && C > 0)
        gemm(CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight,
                    C, 1.0f, dinp, C);
    if (dweight && C > 0)
        gemm(CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                    1.0f, dweight, C);
    if (dbias) colsum_add(dbias, dout, N, OC);
}

/* ---- 2-D convolution ---------------------------------------------------------------------
 * im2col over the whole batch (Chellapilla et al., "High Performance Convolutional Neural
 * Networks for Document Processing", 2006; Caffe's layout), so that each pass is one large
 * sgemm instead of B small ones:
 *   col (CK, B*P): row (c,kh,kw), column (b,oh,ow) = inp[b][c][oh*stride-pad+kh][ow*stride-pad+kw]
 *   forward   tmp (OC, B*P) = weight (OC, CK) @ col, then out[b][oc][p] = tmp[oc][b*P+p] + bias
 *   backward  dtmp (OC, B*P) = dout reordered; dweight += dtmp @ col^T;
 *             dcol = weight^T @ dtmp (written over col); dinp += col2im(dcol)
 * Scratch: col (CK * B*P floats) then tmp / dtmp (OC * B*P floats). */

int assay_nn_conv_init(assay_nn_conv *s, int B, int C, int H, int W, int OC, int KH, int KW,
                       int stride, int pad) {
    if (B <= 0 || C <= 0 || H <= 0 || W <= 0 || OC <= 0 || KH <= 0 || KW <= 0 || stride <= 0 ||
        pad < 0)
        return -1;
    const int64_t PH = (int64_t)H + 2 * (int64_t)pad, PW = (int64_t)W + 2 * (int64_t)pad;
    if (KH > PH || KW > PW) return -1;
    const int64_t OH = (PH - KH) / stride + 1, OW = (PW - KW) / stride + 1;
    /* sgemm dimensions are ints: the columns of col (B*P) and its rows (CK) must fit */
    if (OH > INT_MAX || OW > INT_MAX || (int64_t)B * OH * OW > INT_MAX ||
        (int64_t)C * KH * KW > INT_MAX)
        return -1;
    s->B = B, s->C = C, s->H = H, s->W = W;
    s->OC = OC, s->KH = KH, s->KW = KW, s->stride = stride, s->pad = pad;
    s->OH = (int)OH, s->OW = (int)OW;
    return 0;
}

size_t assay_nn_conv_scratch(const assay_nn_conv *s) {
    const size_t BP = (size_t)s->B * s->OH * s->OW;
    return (size_t)s->C * s->KH * s->KW * BP + (size_t)s->OC * BP;
}

/* The outputs o in [*lo, *hi) of a dimension whose input index o*stride - pad + k lies inside
 * [0, in). Splitting each row into zero / copy / zero spans keeps the inner loops branch-free. */
static void valid_range(int k, int stride, int pad, int in, int out, int *lo, int *hi) {
    const int a = pad - k;      /* need o*stride >= a */
    const int b = in + pad - k; /* need o*stride < b */
    int l = a > 0 ? (a + stride - 1) / stride : 0;
    int h = b > 0 ? (b + stride - 1) / stride : 0;
    l = ASSAY_MIN(l, out);
    h = ASSAY_MIN(h, out);
    if (h < l) h = l;
    *lo = l, *hi = h;
}

/* col (CK, B*P) from inp (B,C,H,W); each (row, batch) pair is a contiguous span of P floats. */
static void im2col(float *col, const float *inp, const assay_nn_conv *s) {
    const int B = s->B, H = s->H, W = s->W, KH = s->KH, KW = s->KW;
    const int OH = s->OH, OW = s->OW, st = s->stride, pad = s->pad;
    const int CK = s->C * KH * KW, P = OH * OW;
    const size_t BP = (size_t)B * P;
#pragma omp parallel for collapse(2) schedule(static)
    for (int r = 0; r < CK; r++) {
        for (int b = 0; b < B; b++) {
            const int c = r / (KH * KW), kh = r / KW % KH, kw = r % KW;
            const float *plane = inp + ((size_t)b * s->C + c) * H * W;
            float *dst = col + (size_t)r * BP + (size_t)b * P;
            int hlo, hhi, wlo, whi;
            valid_range(kh, st, pad, H, OH, &hlo, &hhi);
            valid_range(kw, st, pad, W, OW, &wlo, &whi);
            memset(dst, 0, (size_t)hlo * OW * sizeof *dst);
            for (int oh = hlo; oh < hhi; oh++) {
                const float *src = plane + (size_t)(oh * st - pad + kh) * W;
                float *d = dst + (size_t)oh * OW;
                for (int ow = 0; ow < wlo; ow++) d[ow] = 0;
                if (st == 1) {
                    if (whi > wlo)
                        memcpy(d + wlo, src + (wlo - pad + kw), (size_t)(whi - wlo) * sizeof *d);
                } else {
                    for (int ow = wlo; ow < whi; ow++) d[ow] = src[ow * st - pad + kw];
                }
                for (int ow = whi; ow < OW; ow++) d[ow] = 0;
            }
            memset(dst + (size_t)hhi * OW, 0, (size_t)(OH - hhi) * OW * sizeof *dst);
        }
    }
}

/* dinp (B,C,H,W) += col2im(col (CK, B*P)). Each (b,c) plane belongs to one iteration, which
 * adds its contributions in (kh, kw, oh, ow) order: no races, no thread-dependent sums. */
static void col2im_add(float *dinp, const float *col, const assay_nn_conv *s) {
    const int B = s->B, C = s->C, H = s->H, W = s->W, KH = s->KH, KW = s->KW;
    const int OH = s->OH, OW = s->OW, st = s->stride, pad = s->pad;
    const int P = OH * OW;
    const size_t BP = (size_t)B * P;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++) {
            float *plane = dinp + ((size_t)b * C + c) * H * W;
            for (int kh = 0; kh < KH; kh++) {
                int hlo, hhi;
                valid_range(kh, st, pad, H, OH, &hlo, &hhi);
                for (int kw = 0; kw < KW; kw++) {
                    int wlo, whi;
                    valid_range(kw, st, pad, W, OW, &wlo, &whi);
                    const float *src = col + ((size_t)(c * KH + kh) * KW + kw) * BP + (size_t)b * P;
                    for (int oh = hlo; oh < hhi; oh++) {
                        float *d = plane + (size_t)(oh * st - pad + kh) * W;
                        const float *srow = src + (size_t)oh * OW;
                        if (st == 1) {
                            const int off = kw - pad;
#pragma omp simd
                            for (int ow = wlo; ow < whi; ow++) d[ow + off] += srow[ow];
                        } else {
                            for (int ow = wlo; ow < whi; ow++) d[ow * st - pad + kw] += srow[ow];
                        }
                    }
                }
            }
        }
    }
}

/* out (B,OC,OH,OW) = conv(inp (B,C,H,W), weight (OC,C,KH,KW)) + bias (OC, or NULL);
 * scratch (assay_nn_conv_scratch(s) floats) */
void assay_nn_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                             const assay_nn_conv *s, float *scratch) {
    const int B = s->B, OC = s->OC, CK = s->C * s->KH * s->KW, P = s->OH * s->OW;
    const int BP = B * P; /* fits: checked by assay_nn_conv_init */
    float *col = scratch, *tmp = scratch + (size_t)CK * BP;
    im2col(col, inp, s);
    gemm(CblasNoTrans, CblasNoTrans, OC, BP, CK, 1.0f, weight, CK, col, BP,
                0.0f, tmp, BP);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int oc = 0; oc < OC; oc++) {
            float *dst = out + ((size_t)b * OC + oc) * P;
            const float *src = tmp + (size_t)oc * BP + (size_t)b * P;
            const float bv = bias ? bias[oc] : 0.0f;
#pragma omp simd
            for (int p = 0; p < P; p++) dst[p] = src[p] + bv;
        }
    }
}

/* dinp (B,C,H,W, or NULL) += ...; dweight (OC,C,KH,KW, or NULL) += ...; dbias (OC, or NULL) +=
 * ...; given dout (B,OC,OH,OW), the forward's inp and weight, and scratch as for forward (its
 * contents on entry do not matter: the forward's col is recomputed). */
void assay_nn_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const assay_nn_conv *s,
                              float *scratch) {
    const int B = s->B, OC = s->OC, CK = s->C * s->KH * s->KW, P = s->OH * s->OW;
    const int BP = B * P;
    float *col = scratch, *dtmp = scratch + (size_t)CK * BP;
    const int need_dtmp = dinp || dweight;
    if (!need_dtmp && !dbias) return;
    /* dout -> dtmp (OC, B*P), and dbias: each oc is one iteration, its images summed in order */
#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < OC; oc++) {
        double acc = 0;
        for (int b = 0; b < B; b++) {
            const float *src = dout + ((size_t)b * OC + oc) * P;
            if (need_dtmp)
                memcpy(dtmp + (size_t)oc * BP + (size_t)b * P, src, (size_t)P * sizeof *src);
            if (dbias) acc += assay__nn_sum_lanes(src, P);
        }
        if (dbias) dbias[oc] += (float)acc;
    }
    if (dweight) {
        im2col(col, inp, s);
        gemm(CblasNoTrans, CblasTrans, OC, CK, BP, 1.0f, dtmp, BP, col, BP,
                    1.0f, dweight, CK);
    }
    if (dinp) {
        gemm(CblasTrans, CblasNoTrans, CK, BP, OC, 1.0f, weight, CK, dtmp,
                    BP, 0.0f, col, BP);
        col2im_add(dinp, col, s);
    }
}

/* ---- pooling: k x k windows, stride k, no padding; OH = H / k, OW = W / k ----------------- */

/* out (B,C,OH,OW), argmax (B,C,OH,OW) = index ih * W + iw of the winner in its (H,W) plane.
 * As PyTorch: ties go to the first element in row-major window order, and NaN wins. */
void assay_nn_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B, int C,
                                int H, int W, int k) {
    ASSAY_ASSERT(k > 0);
    const int OH = H / k, OW = W / k;
    const int64_t planes = (int64_t)B * C;
    if (k == 2) { /* the common window, unrolled: the same comparisons in the same order */
#pragma omp parallel for schedule(static) if (planes * H * W >= PAR_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float *x = inp + pl * H * W;
            float *y = out + pl * OH * OW;
            int32_t *am = argmax + pl * OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                const float *r0 = x + (size_t)(2 * oh) * W, *r1 = r0 + W;
                for (int ow = 0; ow < OW; ow++) {
                    int32_t base = (int32_t)(2 * oh * W + 2 * ow), best = base;
                    float m = r0[2 * ow], v = r0[2 * ow + 1];
                    if (v > m || v != v) m = v, best = base + 1;
                    v = r1[2 * ow];
                    if (v > m || v != v) m = v, best = base + W;
                    v = r1[2 * ow + 1];
                    if (v > m || v != v) m = v, best = base + W + 1;
                    y[oh * OW + ow] = m;
                    am[oh * OW + ow] = best;
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) if (planes * H * W >= PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * OH * OW;
        int32_t *am = argmax + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            for (int ow = 0; ow < OW; ow++) {
                int32_t best = (int32_t)(oh * k * W + ow * k);
                float m = x[best];
                for (int i = 0; i < k; i++) {
                    for (int j = 0; j < k; j++) {
                        const int32_t idx = (int32_t)((oh * k + i) * W + ow * k + j);
                        const float v = x[idx];
                        if (v > m || isnan(v)) m = v, best = idx;
                    }
                }
                y[oh * OW + ow] = m;
                am[oh * OW + ow] = best;
            }
        }
    }
}

/* dinp (B,C,H,W) += dout (B,C,OH,OW) routed to argmax (B,C,OH,OW) */
void assay_nn_maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax, int B,
                                 int C, int H, int W, int k) {
    ASSAY_ASSERT(k > 0);
    if (!dinp) return;
    const int OH = H / k, OW = W / k;
    const int64_t planes = (int64_t)B * C;
#pragma omp parallel for schedule(static) if (planes * H * W >= PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = dinp + pl * H * W;
        const float *dy = dout + pl * OH * OW;
        const int32_t *am = argmax + pl * OH * OW;
        for (int i = 0; i < OH * OW; i++) dx[am[i]] += dy[i];
    }
}

/* out (B,C,OH,OW) = mean of each k x k window of inp (B,C,H,W) */
void assay_nn_avgpool2d_forward(float *out, const float *inp, int B, int C, int H, int W, int k) {
    ASSAY_ASSERT(k > 0);
    const int OH = H / k, OW = W / k;
    const int64_t planes = (int64_t)B * C;
    const float area = (float)(k * k);
#pragma omp parallel for schedule(static) if (planes * H * W >= PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * H * W;
        float *y = out + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            for (int ow = 0; ow < OW; ow++) {
                float sum = 0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) sum += x[(oh * k + i) * W + ow * k + j];
                y[oh * OW + ow] = sum / area;
            }
        }
    }
}

/* dinp (B,C,H,W) += dout (B,C,OH,OW) / (k * k) over each window */
void assay_nn_avgpool2d_backward(float *dinp, const float *dout, int B, int C, int H, int W,
                                 int k) {
    ASSAY_ASSERT(k > 0);
    if (!dinp) return;
    const int OH = H / k, OW = W / k;
    const int64_t planes = (int64_t)B * C;
    const float area = (float)(k * k);
#pragma omp parallel for schedule(static) if (planes * H * W >= PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = dinp + pl * H * W;
        const float *dy = dout + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            for (int ow = 0; ow < OW; ow++) {
                const float g = dy[oh * OW + ow] / area;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) dx[(oh * k + i) * W + ow * k + j] += g;
            }
        }
    }
}

/* ---- element-wise activations ------------------------------------------------------------
 * Backward passes read what they need: ReLU, tanh and sigmoid use out (inp may be NULL, so the
 * forward may run in place), GELU uses inp (out may be NULL). */

/* NaN propagates (x < 0 is false for NaN), as torch.relu. */
void assay_nn_relu_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}

void assay_nn_relu_backward(float *dinp, const float *dout, const float *inp, const float *out,
                            int64_t n) {
    if (!dinp) return;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

#define GELU_SQRT1_2 0.70710678118654752440f /* 1 / sqrt(2) */
#define GELU_INV_SQRT_2PI 0.39894228040143267794f /* 1 / sqrt(2 pi) */

/* erff and expf over blocks of GELU_BLOCK values. glibc's vector math library (libmvec, whose
 * 8-lane AVX2 erff and expf are within 4 ulp of libm's) where the CPU has AVX2, libm's scalar
 * functions elsewhere. Measured: scalar erff / expf were 12% of a BERT fine-tuning step. Every
 * value goes through the same function whatever its position (a partial last group of 8 is
 * padded), and the blocks are fixed by the index, so results do not depend on the thread
 * count. */
#define GELU_BLOCK 256
typedef float v8sf __attribute__((vector_size(32)));
/* libmvec's AVX2 variants; declared with their target so that the vector argument is passed
 * in a ymm register as they expect (clang refuses the call otherwise: -Wpsabi) */
__attribute__((target("avx2"))) v8sf _ZGVdN8v_erff(v8sf x);
__attribute__((target("avx2"))) v8sf _ZGVdN8v_expf(v8sf x);

static int have_avx2(void) { /* reads what libgcc's constructor found, no state of ours */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

typedef float v8sf_u __attribute__((vector_size(32), aligned(4))); /* unaligned loads */

__attribute__((target("avx2,fma"))) static void vec8(float *y, const float *x, int n, int erf) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const v8sf v = *(const v8sf_u *)(x + i);
        *(v8sf_u *)(y + i) = erf ? _ZGVdN8v_erff(v) : _ZGVdN8v_expf(v);
    }
    if (i < n) { /* the last group padded with zeros */
        v8sf v = {0};
        memcpy(&v, x + i, (size_t)(n - i) * sizeof *x);
        const v8sf r = erf ? _ZGVdN8v_erff(v) : _ZGVdN8v_expf(v);
        memcpy(y + i, &r, (size_t)(n - i) * sizeof *y);
    }
}

/* y (n <= GELU_BLOCK) = erff(x) (erf = 1) or expf(x) (erf = 0) */
static void math_block(float *y, const float *x, int n, int erf) {
    if (have_avx2()) vec8(y, x, n, erf);
    else if (erf) for (int i = 0; i < n; i++) y[i] = erff(x[i]);
    else for (int i = 0; i < n; i++) y[i] = expf(x[i]);
}

void assay__nn_expf(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += GELU_BLOCK)
        math_block(y + i, x + i, (int)ASSAY_MIN((int64_t)GELU_BLOCK, n - i), 0);
}

/* x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), PyTorch's exact formula (Hendrycks & Gimpel 2016). */
void assay_nn_gelu_forward(float *out, const float *inp, int64_t n) {
    const int64_t nb = (n + GELU_BLOCK - 1) / GELU_BLOCK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t i0 = b * GELU_BLOCK;
        const int m = (int)ASSAY_MIN((int64_t)GELU_BLOCK, n - i0);
        float t[GELU_BLOCK];
        for (int i = 0; i < m; i++) t[i] = inp[i0 + i] * GELU_SQRT1_2;
        math_block(t, t, m, 1);
        for (int i = 0; i < m; i++) out[i0 + i] = 0.5f * inp[i0 + i] * (1.0f + t[i]);
    }
}

/* d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); for large |x| expf
 * underflows to 0 and erff saturates, so no special cases are needed. */
void assay_nn_gelu_backward(float *dinp, const float *dout, const float *inp, const float *out,
                            int64_t n) {
    if (!dinp) return;
    const int64_t nb = (n + GELU_BLOCK - 1) / GELU_BLOCK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t i0 = b * GELU_BLOCK;
        const int m = (int)ASSAY_MIN((int64_t)GELU_BLOCK, n - i0);
        float e[GELU_BLOCK], g[GELU_BLOCK];
        for (int i = 0; i < m; i++) {
            const float x = inp[i0 + i];
            e[i] = x * GELU_SQRT1_2;
            g[i] = -0.5f * x * x;
        }
        math_block(e, e, m, 1);
        math_block(g, g, m, 0);
        for (int i = 0; i < m; i++) {
            const float x = inp[i0 + i];
            dinp[i0 + i] += dout[i0 + i] * (0.5f * (1.0f + e[i]) + x * g[i] * GELU_INV_SQRT_2PI);
        }
    }
}

/* tanhf saturates to +-1 without overflow. */
void assay_nn_tanh_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

/* tanh' = 1 - tanh^2 */
void assay_nn_tanh_backward(float *dinp, const float *dout, const float *inp, const float *out,
                            int64_t n) {
    if (!dinp) return;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

/* expf is only ever called on -|x|, so it cannot overflow: 1 / (1 + e^-x) for x >= 0 and
 * e^x / (1 + e^x) for x < 0 (which also keeps tiny results accurate instead of 1 - 1). */
void assay_nn_sigmoid_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t i = 0; i < n; i++) {
        const float x = inp[i];
        const float e = expf(-fabsf(x));
        out[i] = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

/* sigmoid' = s (1 - s) */
void assay_nn_sigmoid_backward(float *dinp, const float *dout, const float *inp,
                               const float *out, int64_t n) {
    if (!dinp) return;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* mask (n) = 0 with probability p, else 1 / (1 - p), one assay_rng_uniform draw per element in
 * index order (sequential on purpose: the mask depends on the seed only, never on threads).
 * p == 0 draws nothing: mask all 1, out = inp. */
void assay_nn_dropout_forward(float *out, float *mask, const float *inp, int64_t n, float p,
                              assay_rng *rng) {
    ASSAY_ASSERT(p >= 0.0f && p < 1.0f);
    if (p == 0.0f) {
        for (int64_t i = 0; i < n; i++) mask[i] = 1.0f, out[i] = inp[i];
        return;
    }
    /* one draw from rng keys the call; value i is dropped when the top 32 bits of
     * splitmix64(key + i * golden) fall below p * 2^32. A counter-based stream: every value is
     * its own function of (key, i), so the loop runs in parallel and the mask does not depend
     * on the thread count. (Measured: the serial draw was 5% of a BERT fine-tuning step.) */
    const uint64_t key = assay_rng_next(rng);
    const uint64_t cut = (uint64_t)((double)p * 4294967296.0);
    const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = key + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        mask[i] = (z >> 32) < cut ? 0.0f : scale;
        out[i] = inp[i] * mask[i];
    }
}

/* dinp (n) += dout * mask */
void assay_nn_dropout_backward(float *dinp, const float *dout, const float *mask, int64_t n) {
    if (!dinp) return;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}

/* ---- softmax ------------------------------------------------------------------------------ */

/* out (N,K) = exp(x - max) / sum exp(x - max) row by row: subtracting the row max keeps expf
 * from overflowing and leaves the result unchanged. Each row is one iteration; its sum runs in
 * column order, in double. */
void assay_nn_softmax_forward(float *out, const float *inp, int N, int K) {
    if (K <= 0) return;
#pragma omp parallel for schedule(static) if ((int64_t)N * K >= PAR_MIN / 8)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * K;
        float *y = out + (size_t)n * K;
        float m = x[0];
        for (int k = 1; k < K; k++)
            if (x[k] > m) m = x[k];
        double sum = 0;
        for (int k = 0; k < K; k++) {
            y[k] = expf(x[k] - m);
            sum += y[k];
        }
        const float inv = (float)(1.0 / sum);
        for (int k = 0; k < K; k++) y[k] *= inv;
    }
}

/* dinp (N,K) += out * (dout - sum(dout * out)) per row (the softmax Jacobian diag(y) - y y^T
 * applied to dout) */
void assay_nn_softmax_backward(float *dinp, const float *dout, const float *out, int N, int K) {
    if (!dinp || K <= 0) return;
#pragma omp parallel for schedule(static) if ((int64_t)N * K >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *dy = dout + (size_t)n * K, *y = out + (size_t)n * K;
        float *dx = dinp + (size_t)n * K;
        double dot = 0;
        for (int k = 0; k < K; k++) dot += (double)dy[k] * y[k];
        const float d = (float)dot;
        for (int k = 0; k < K; k++) dx[k] += y[k] * (dy[k] - d);
    }
}
