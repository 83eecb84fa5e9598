/* test_nn_gemm.c - unit tests of src/nn/gemm.c, the network code's matrix product:
 * - fp32 against a naive double-precision reference for every transpose, alpha, beta and
 *   leading dimensions wider than the matrices, and bit-identical for 1 and 2 OpenMP threads;
 * - bf16 rounding (nearest even, ties, NaN, infinities, overflow to infinity);
 * - bf16 products where the CPU has native bf16: against the reference on bf16-rounded operands
 *   (which they must match to fp32 summation error), and visibly different from the fp32
 *   product (which proves the bf16 path ran); repeated calls give the same bits; one call
 *   from inside an OpenMP region and one too small for oneDNN stay fp32;
 * - the fused form (bias row, then GELU) in fp32 and, where the CPU has it, bf16;
 * - where the CPU lacks bf16: asking for it leaves the products fp32 (bit for bit), and a BERT
 *   work refuses bf16 with a message naming the CPU's instruction set.
 * Tolerances: fp32 |got - ref| <= 1e-5 * (sum of |a_ik b_kj|) + 1e-6 per element; bf16 against
 * the rounded reference the same; bf16 against the exact product: a relative difference of
 * at least 1e-4 somewhere (bf16 keeps 8 significant bits: errors up to 2^-8 per operand). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "assay/bert.h"
#include "assay/nn.h"
#include "check.h"
#include "nn/net.h"

static assay_rng R;

static float *frand(int64_t n) {
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2.0 * assay_rng_uniform(&R) - 1.0);
    return x;
}

/* element (i,k) of op(A) with A stored row-major with leading dimension ld */
static double at(const float *A, int trans, int ld, int i, int k, int round) {
    const float v = trans ? A[(size_t)k * ld + i] : A[(size_t)i * ld + k];
    return round ? assay_nn_bf16_round(v) : v;
}

/* C_ref = alpha op(A) op(B) + beta C0 in double; mag = alpha * sum |a b| + |beta c0| */
static void reference(double *ref, double *mag, int ta, int tb, int M, int N, int K, float alpha,
                      const float *A, int lda, const float *B, int ldb, float beta,
                      const float *C0, int ldc, int round) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, m = 0;
            for (int k = 0; k < K; k++) {
                const double p = at(A, ta, lda, i, k, round) * at(B, tb, ldb, k, j, round);
                s += p, m += fabs(p);
            }
            const double c = C0[(size_t)i * ldc + j];
            ref[(size_t)i * N + j] = alpha * s + beta * c;
            mag[(size_t)i * N + j] = fabs(alpha) * m + fabs(beta * c);
        }
}

typedef struct shape {
    int ta, tb, M, N, K;
    float alpha, beta;
    int pad; /* extra leading-dimension columns */
} shape;

/* Runs one product in the current precision; returns the worst |got - ref| / tol over C and
 * (through far) the largest relative difference from the exact (unrounded) product. */
static double run_case(const shape *s, int round_ref, double *far, float **out, int *ldc_out) {
    const int M = s->M, N = s->N, K = s->K;
    const int ar = s->ta ? K : M, ac = s->ta ? M : K, br = s->tb ? N : K, bc = s->tb ? K : N;
    const int lda = ac + s->pad, ldb = bc + s->pad, ldc = N + s->pad;
    float *A = frand((int64_t)ar * lda), *B = frand((int64_t)br * ldb);
    float *C = frand((int64_t)M * ldc), *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    memcpy(C0, C, sizeof(float) * (size_t)M * ldc);
    double *ref = malloc(sizeof(double) * (size_t)M * N), *mag = malloc(sizeof(double) * (size_t)M * N);
    double *exact = malloc(sizeof(double) * (size_t)M * N), *emag = malloc(sizeof(double) * (size_t)M * N);
    reference(ref, mag, s->ta, s->tb, M, N, K, s->alpha, A, lda, B, ldb, s->beta, C0, ldc, round_ref);
    reference(exact, emag, s->ta, s->tb, M, N, K, s->alpha, A, lda, B, ldb, s->beta, C0, ldc, 0);
    assay__nn_gemm(s->ta, s->tb, M, N, K, s->alpha, A, lda, B, ldb, s->beta, C, ldc);
    double worst = 0, rel = 0;
    int pad_ok = 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            const double got = C[(size_t)i * ldc + j], r = ref[(size_t)i * N + j];
            const double tol = 1e-5 * mag[(size_t)i * N + j] + 1e-6;
            worst = fmax(worst, fabs(got - r) / tol);
            const double e = exact[(size_t)i * N + j];
            rel = fmax(rel, fabs(got - e) / (emag[(size_t)i * N + j] + 1e-30));
        }
        for (int j = N; j < ldc; j++) pad_ok &= C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
    }
    CHECK_MSG(pad_ok, "the product wrote past N columns (M %d N %d K %d)", M, N, K);
    if (far) *far = rel;
    if (out) *out = C, *ldc_out = ldc;
    else free(C);
    free(A), free(B), free(C0), free(ref), free(mag), free(exact), free(emag);
    return worst;
}

/* every transpose pair, alpha 1 / 0.5, beta 0 / 1 / -0.25, padded leading dimensions; sizes
 * above and below the 262,144 multiply-adds where products are split or handed to oneDNN */
static const shape shapes[] = {
    {0, 0, 96, 80, 64, 1.0f, 0.0f, 0},   {0, 1, 128, 96, 72, 1.0f, 1.0f, 3},
    {1, 0, 80, 128, 96, 0.5f, 0.0f, 5},  {1, 1, 64, 72, 128, 1.0f, -0.25f, 1},
    {0, 1, 7, 5, 3, 1.0f, 1.0f, 2},      {1, 0, 300, 33, 129, 0.5f, 1.0f, 0},
    {0, 0, 33, 300, 65, 1.0f, 0.0f, 4},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static void test_fp32(void) {
    double worst = 0;
    for (int c = 0; c < NSHAPES; c++) worst = fmax(worst, run_case(&shapes[c], 0, NULL, NULL, NULL));
    printf("  fp32: worst error / tolerance %.3g over %d shapes\n", worst, NSHAPES);
    CHECK(worst <= 1.0);
    /* bit-identical for 1 and 2 threads */
    const int saved = omp_get_max_threads();
    float *c1, *c2;
    int ld;
    for (int c = 0; c < NSHAPES; c++) {
        assay_rng keep = R;
        omp_set_num_threads(1);
        run_case(&shapes[c], 0, NULL, &c1, &ld);
        R = keep;
        omp_set_num_threads(2);
        run_case(&shapes[c], 0, NULL, &c2, &ld);
        CHECK_MSG(!memcmp(c1, c2, sizeof(float) * (size_t)shapes[c].M * ld), "shape %d", c);
        free(c1), free(c2);
    }
    omp_set_num_threads(saved);
}

static float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void test_round(void) {
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1) */
    CHECK(assay_nn_bf16_round(1.0f + 0x1p-8f) == 1.0f);
    /* 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even) */
    CHECK(assay_nn_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
    CHECK(assay_nn_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f); /* above the tie */
    CHECK(assay_nn_bf16_round(-1.0f - 0x1p-8f - 0x1p-20f) == -1.0f - 0x1p-7f);
    CHECK(assay_nn_bf16_round(0.0f) == 0.0f);
    CHECK(float_bits(assay_nn_bf16_round(-0.0f)) == 0x80000000u);
    CHECK(isinf(assay_nn_bf16_round(INFINITY)) && assay_nn_bf16_round(-INFINITY) < 0);
    CHECK(isnan(assay_nn_bf16_round(NAN)));
    /* a NaN whose payload sits only in the low 16 bits must not round to infinity */
    CHECK(isnan(assay_nn_bf16_round(bits_float(0x7f800001u))));
    /* the largest float rounds up to infinity, as in PyTorch's conversion */
    CHECK(isinf(assay_nn_bf16_round(bits_float(0x7f7fffffu))));
    /* every value keeps 8 significant bits: relative error at most half a unit in the last
     * place, 2^-8 of the value's power of two */
    double worst = 0;
    for (int i = 0; i < 100000; i++) {
        const float x = (float)((assay_rng_uniform(&R) - 0.5) * 1e6);
        if (x != 0) worst = fmax(worst, fabs((double)assay_nn_bf16_round(x) - x) / fabs(x));
    }
    printf("  bf16 rounding: worst relative error %.3g (bound 2^-8 = %.3g)\n", worst, 0x1p-8);
    CHECK(worst <= 0x1p-8 && worst > 0x1p-10);
}

static void test_bf16(void) {
    const int have = assay_nn_bf16_supported();
    printf("  CPU: %s, native bf16: %s\n", assay_nn_cpu_isa(), have ? "yes" : "no");
    const int prev = assay__nn_precision_begin(ASSAY_NN_BF16);
    if (have) {
        double worst = 0, far_min = 1;
        for (int c = 0; c < NSHAPES; c++) {
            const shape *s = &shapes[c];
            const int big = (double)s->M * s->N * s->K >= 262144.0;
            double far;
            /* products too small for oneDNN stay fp32: the exact reference applies */
            worst = fmax(worst, run_case(s, big, &far, NULL, NULL));
            if (big) far_min = fmin(far_min, far);
            else CHECK_MSG(far < 1e-5, "shape %d: a small product is not fp32 (%g)", c, far);
        }
        printf("  bf16: worst error / tolerance against rounded operands %.3g; smallest largest "
               "relative difference from the exact product %.3g\n", worst, far_min);
        CHECK(worst <= 1.0);
        CHECK(far_min >= 1e-4);
        /* the same call twice: the same bits */
        float *c1, *c2;
        int ld;
        assay_rng keep = R;
        run_case(&shapes[1], 1, NULL, &c1, &ld);
        R = keep;
        run_case(&shapes[1], 1, NULL, &c2, &ld);
        CHECK(!memcmp(c1, c2, sizeof(float) * (size_t)shapes[1].M * ld));
        free(c1), free(c2);
        /* from inside an (active) OpenMP region the product stays fp32 */
        double inner = 2, far_in = 1;
#pragma omp parallel num_threads(2)
#pragma omp master
        inner = run_case(&shapes[0], 0, &far_in, NULL, NULL);
        CHECK(inner <= 1.0 && far_in < 1e-5);
    } else {
        /* asked for bf16 without it: fp32 products, bit for bit */
        for (int c = 0; c < NSHAPES; c++) {
            float *c1, *c2;
            int ld;
            assay_rng keep = R;
            run_case(&shapes[c], 0, NULL, &c1, &ld);
            R = keep;
            assay__nn_precision_end(prev);
            run_case(&shapes[c], 0, NULL, &c2, &ld);
            assay__nn_precision_begin(ASSAY_NN_BF16);
            CHECK_MSG(!memcmp(c1, c2, sizeof(float) * (size_t)shapes[c].M * ld), "shape %d", c);
            free(c1), free(c2);
        }
    }
    assay__nn_precision_end(prev);

    /* a BERT work takes bf16 only where the CPU has it, and says why not */
    assay_bert_config cfg;
    assay_bert_config_defaults(&cfg);
    cfg.vocab_size = 32, cfg.hidden_size = 8, cfg.num_hidden_layers = 1;
    cfg.num_attention_heads = 2, cfg.intermediate_size = 16, cfg.max_position_embeddings = 8;
    assay_bert *m = NULL;
    assay_bert_work *w = NULL;
    assay_error err = {0};
    CHECK_OK(assay_bert_new(&cfg, 1, &m, &err), &err);
    CHECK_OK(assay_bert_work_new(m, 2, 4, 0, &w, &err), &err);
    CHECK(assay_bert_work_precision(w) == ASSAY_NN_FP32);
    const int rc = assay_bert_work_set_precision(w, ASSAY_NN_BF16, &err);
    if (have) {
        CHECK(rc == ASSAY_OK && assay_bert_work_precision(w) == ASSAY_NN_BF16);
    } else {
        printf("  refused: %s\n", err.msg);
        CHECK(rc == ASSAY_EINVAL && assay_bert_work_precision(w) == ASSAY_NN_FP32);
        CHECK(strstr(err.msg, "AVX512_BF16") && strstr(err.msg, assay_nn_cpu_isa()));
    }
    assay_bert_work_free(w);
    assay_bert_free(m);
}

/* gemm_ex: bias added to every row, then GELU; ref in double on (rounded when bf16) operands */
static double ex_case(int M, int N, int K, int gelu, int round, double *far) {
    float *A = frand((int64_t)M * K), *B = frand((int64_t)N * K), *bias = frand(N);
    float *C = malloc(sizeof(float) * (size_t)M * N);
    assay__nn_gemm_ex(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N, bias, gelu);
    double worst = 0, rel = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bias[j], m = fabs(bias[j]), e = bias[j];
            for (int k = 0; k < K; k++) {
                const float a = A[(size_t)i * K + k], b = B[(size_t)j * K + k];
                const double p = round ? (double)assay_nn_bf16_round(a) * assay_nn_bf16_round(b)
                                       : (double)a * b;
                s += p, m += fabs(p), e += (double)a * b;
            }
            if (gelu) s = 0.5 * s * (1 + erf(s / sqrt(2.0))), e = 0.5 * e * (1 + erf(e / sqrt(2.0)));
            const double got = C[(size_t)i * N + j];
            worst = fmax(worst, fabs(got - s) / (1e-5 * m + 1e-5));
            rel = fmax(rel, fabs(got - e) / (m + 1e-30));
        }
    *far = rel;
    free(A), free(B), free(bias), free(C);
    return worst;
}

static void test_bias_gelu(void) {
    double far, worst = 0;
    for (int gelu = 0; gelu < 2; gelu++) worst = fmax(worst, ex_case(128, 96, 64, gelu, 0, &far));
    printf("  fp32 bias (+ GELU): worst error / tolerance %.3g\n", worst);
    CHECK(worst <= 1.0);
    if (!assay_nn_bf16_supported()) return;
    const int prev = assay__nn_precision_begin(ASSAY_NN_BF16);
    double wb = 0, fb = 1;
    for (int gelu = 0; gelu < 2; gelu++) {
        wb = fmax(wb, ex_case(128, 96, 64, gelu, 1, &far));
        fb = fmin(fb, far);
    }
    assay__nn_precision_end(prev);
    printf("  bf16 bias (+ GELU) fused by oneDNN: worst error / tolerance %.3g, smallest largest "
           "relative difference from the exact result %.3g\n", wb, fb);
    CHECK(wb <= 1.0);
    CHECK(fb >= 1e-4);
}

int main(void) {
    assay_rng_seed(&R, 20261207);
    RUN(test_fp32);
    RUN(test_round);
    RUN(test_bf16);
    RUN(test_bias_gelu);
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}
