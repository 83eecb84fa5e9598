/* gemm.c - the network code's matrix product, in fp32 or in bf16 (mixed precision).
 *
 * fp32: CBLAS (OpenBLAS), split over OpenMP threads when OpenBLAS runs single-threaded (see
 * fp32_gemm below).
 *
 * bf16 (--precision bf16): the two operands are rounded to bfloat16 (round to nearest even,
 * NaN kept a NaN) and multiplied with fp32 accumulation into the fp32 C, as PyTorch's CPU
 * autocast does for matmul. Parameters, activations, gradients and optimizer state stay fp32:
 * only the products lose precision (8 bits of mantissa in their inputs).
 *
 * Why oneDNN and not a kernel of our own: Debian's OpenBLAS 0.3.21 is built without its bf16
 * GEMM (no cblas_sbgemm), and Debian's oneDNN 2.6 (libdnnl, the library behind PyTorch's CPU
 * convolutions and matmuls) has bf16 matmul kernels for AVX512_BF16 and AMX. Measured on a
 * 2-core Xeon with AMX (2026-12-07, bench/RESULTS.md): its bf16 matmul ran 1.0-1.5 TFLOP/s on
 * BERT's shapes against OpenBLAS sgemm's 0.24-0.28 on the same shapes. oneDNN's public API has
 * no bf16 GEMM function in 2.6, so the product goes through its matmul primitive, whose memory
 * descriptors carry the transposes as strides. Primitives are kept by shape (creating one
 * compiles kernels) in a table shared by all threads under a mutex, for the life of the
 * process; oneDNN lets several threads run one primitive at once.
 *
 * The bf16 path runs only where the CPU does bf16 natively (assay_nn_bf16_supported: oneDNN
 * reports AVX512_BF16 or AMX); callers refuse or fall back to fp32 elsewhere. If oneDNN fails
 * on a call (memory), that one product is computed in fp32 instead: the result is still
 * right, and nothing is left half written.
 *
 * Reproducibility: fp32 results are bit-identical for any OpenMP thread count (equal blocks,
 * below). bf16 results are bit-identical for the same thread count (oneDNN's matmul splits the
 * output, never the sum), not across thread counts. */
#include <cblas.h>
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>

#include "../internal.h"
#include "net.h"

/* ---- fp32 -------------------------------------------------------------------------------- */

/* Two thread pools on the same cores (libgomp's and a pthreads OpenBLAS's) spin against each
 * other between calls: measured, an MLP epoch ran 7 GFLOP/s with 86% of the time in libgomp's
 * wait loop. So the network code sets OpenBLAS to one thread while it trains or predicts, and
 * then this wrapper splits the product itself: the larger of M and N in blocks, one
 * single-threaded sgemm per block, the blocks shared among the OpenMP threads. The blocks
 * depend on the shape only, never on the thread count: OpenBLAS picks its kernel by the shape
 * of each call (its AVX-512 build has separate small-matrix kernels that sum in another order),
 * so equal blocks are what make the bits independent of the thread count (measured on a Zen 5:
 * blocks of len / T gave 1- and 2-thread weights that differed). With a multi-threaded OpenBLAS
 * (kernels called on their own) it is one plain call. */
static void fp32_gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                      float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                      float *C, int ldc) {
    if (openblas_get_num_threads() > 1 || (double)M * N * K < 262144.0 || omp_in_parallel()) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int by_rows = M >= N, len = by_rows ? M : N;
    /* 2 blocks, or one per 512 for wider products (a multiple of 16): on 2 cores this is the
     * split of len / threads that ran before, at its speed (measured: blocks of 64 or 128 made a
     * Fashion-MNIST MLP epoch 5% slower, more packing of the shared operand) */
    int parts = ASSAY_MAX(2, (len + 511) / 512);
    int blk = (len + parts - 1) / parts;
    blk = (blk + 15) / 16 * 16;
    const int nblk = (len + blk - 1) / blk, T = omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(nblk < T ? nblk : T) if (T > 1 && nblk > 1)
    for (int b = 0; b < nblk; b++) {
        const int a0 = b * blk, n = ASSAY_MIN(blk, len - a0);
        if (by_rows) {
            const float *Ab = ta == CblasNoTrans ? A + (size_t)a0 * lda : A + a0;
            cblas_sgemm(CblasRowMajor, ta, tb, n, N, K, alpha, Ab, lda, B, ldb, beta,
                        C + (size_t)a0 * ldc, ldc);
        } else {
            const float *Bb = tb == CblasNoTrans ? B + a0 : B + (size_t)a0 * ldb;
            cblas_sgemm(CblasRowMajor, ta, tb, M, n, K, alpha, A, lda, Bb, ldb, beta, C + a0, ldc);
        }
    }
}

/* ---- bf16 through oneDNN ----------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine; /* NULL when oneDNN has no CPU engine */
static int bf16_native;

static void init_engine(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    bf16_native = engine && (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

int assay_nn_bf16_supported(void) {
    pthread_once(&once, init_engine);
    return bf16_native;
}

int assay_nn_precision_check(assay_nn_precision p, const char *who, assay_error *err) {
    if (p == ASSAY_NN_BF16 && !assay_nn_bf16_supported())
        return assay_error_set(err, ASSAY_EINVAL, "%s: precision=bf16 needs a CPU with AVX512_BF16 "
                               "or AMX; this one has %s (use fp32)", who, assay_nn_cpu_isa());
    return ASSAY_OK;
}

const char *assay_nn_cpu_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    default: return "older than avx2";
    }
}

/* One cached product shape: the operands as stored (bf16, dense), C with its ldc. */
typedef struct mm_key {
    int ta, tb, M, N, K, ldc;
    float alpha, beta;
    int bias, gelu;            /* a bias row is added; GELU (erf) applied last */
} mm_key;

typedef struct mm_entry {
    mm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t ad, bd, cd, biasd;
} mm_entry;

#define MM_CACHE 256
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static mm_entry cache[MM_CACHE];
static int ncache;

static int key_eq(const mm_key *a, const mm_key *b) {
    return a->ta == b->ta && a->tb == b->tb && a->M == b->M && a->N == b->N && a->K == b->K &&
           a->ldc == b->ldc && a->alpha == b->alpha && a->beta == b->beta && a->bias == b->bias &&
           a->gelu == b->gelu;
}

/* A primitive for key (descriptors into e); 0 on success. */
static int mm_create(const mm_key *k, mm_entry *e) {
    const dnnl_dim_t M = k->M, N = k->N, K = k->K;
    /* A as stored: (M,K) rows of K, or (K,M) rows of M read transposed; B likewise */
    dnnl_dims_t adims = {M, K}, bdims = {K, N}, cdims = {M, N};
    dnnl_dims_t ast = {k->ta ? 1 : K, k->ta ? M : 1}, bst = {k->tb ? 1 : N, k->tb ? K : 1};
    dnnl_dims_t cst = {k->ldc, 1}, biasdims = {1, N}, biasst = {N, 1};
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int bad = dnnl_memory_desc_init_by_strides(&e->ad, 2, adims, dnnl_bf16, ast) ||
              dnnl_memory_desc_init_by_strides(&e->bd, 2, bdims, dnnl_bf16, bst) ||
              dnnl_memory_desc_init_by_strides(&e->cd, 2, cdims, dnnl_f32, cst) ||
              dnnl_memory_desc_init_by_strides(&e->biasd, 2, biasdims, dnnl_f32, biasst) ||
              dnnl_matmul_desc_init(&md, &e->ad, &e->bd, k->bias ? &e->biasd : NULL, &e->cd) ||
              dnnl_primitive_attr_create(&attr) || dnnl_post_ops_create(&po);
    if (!bad && k->alpha != 1.0f) bad = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha);
    if (!bad && k->beta != 0.0f) bad = dnnl_post_ops_append_sum(po, k->beta);
    if (!bad && k->gelu) bad = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0, 0);
    if (!bad) bad = dnnl_primitive_attr_set_post_ops(attr, po);
    if (!bad) bad = dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL) != dnnl_success;
    if (!bad) bad = dnnl_primitive_create(&e->prim, pd) != dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return bad;
}

/* The cached primitive for k, created on a miss; NULL when oneDNN cannot make one. When the
 * table is full the primitive is made for this call only (*own = 1: the caller destroys it):
 * an entry is never replaced, since another thread may be running it. Descriptors are copied
 * out under the lock. */
static dnnl_primitive_t mm_get(const mm_key *k, dnnl_memory_desc_t *ad, dnnl_memory_desc_t *bd,
                               dnnl_memory_desc_t *cd, dnnl_memory_desc_t *biasd, int *own) {
    pthread_mutex_lock(&cache_mu);
    mm_entry *e = NULL;
    for (int i = 0; i < ncache && !e; i++)
        if (key_eq(&cache[i].key, k)) e = &cache[i];
    mm_entry fresh = {.key = *k};
    *own = 0;
    if (!e) {
        if (mm_create(k, &fresh)) {
            pthread_mutex_unlock(&cache_mu);
            return NULL;
        }
        if (ncache < MM_CACHE) cache[ncache] = fresh, e = &cache[ncache++];
        else e = &fresh, *own = 1;
    }
    *ad = e->ad, *bd = e->bd, *cd = e->cd, *biasd = e->biasd;
    dnnl_primitive_t p = e->prim;
    pthread_mutex_unlock(&cache_mu);
    return p;
}

/* f32 -> bf16, round to nearest even; a NaN stays a (quiet) NaN */
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float assay_nn_bf16_round(float f) {
    const uint32_t u = (uint32_t)to_bf16(f) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* One row of n floats to bf16: AVX512_BF16's vcvtne2ps2bf16 (nearest even, NaN kept), which
 * every CPU that takes the bf16 path has; the scalar to_bf16 for the tail. Measured: the
 * compiler's loop of to_bf16 (SSE at the release build's x86-64-v2) took 19% of a bf16 BERT
 * fine-tuning step. */
__attribute__((target("avx512f,avx512bf16"))) static void row_bf16(uint16_t *d, const float *s,
                                                                   int n) {
    int c = 0;
    for (; c + 32 <= n; c += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + c + 16), _mm512_loadu_ps(s + c));
        _mm512_storeu_si512((void *)(d + c), (__m512i)v);
    }
    for (; c < n; c++) d[c] = to_bf16(s[c]);
}

/* dst (rows, cols) dense = bf16 of src (rows, cols) with row stride ld */
static void pack_bf16(uint16_t *dst, const float *src, int rows, int cols, int ld) {
#pragma omp parallel for schedule(static) if ((int64_t)rows * cols >= 65536)
    for (int r = 0; r < rows; r++) row_bf16(dst + (size_t)r * cols, src + (size_t)r * ld, cols);
}

/* The calling thread's bf16 operand buffer, at least n values; NULL when out of memory. Kept
 * for the thread's life (freed at its exit): measured, a malloc and free per product of a few
 * MB cost 6% of a BERT step in page faults and TLB-shootdown interrupts from munmap. */
static pthread_key_t scratch_key;
static int scratch_key_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local uint16_t *tl_buf;
static _Thread_local size_t tl_cap;

static void scratch_free(void *p) { assay_free(p); }
static void scratch_init(void) {
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

static uint16_t *scratch(size_t n) {
    if (n <= tl_cap) return tl_buf;
    pthread_once(&scratch_once, scratch_init);
    uint16_t *p = assay_mallocarray(n, sizeof *p);
    if (!p) return NULL;
    assay_free(tl_buf);
    tl_buf = p, tl_cap = n;
    if (scratch_key_ok) pthread_setspecific(scratch_key, p);
    return p;
}

/* C = act(alpha op(A) op(B) + bias + beta C) with bf16 operands; 0 on success, nonzero when
 * oneDNN could not run it (C untouched then). */
static int bf16_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                     int gelu) {
    const mm_key k = {ta, tb, M, N, K, ldc, alpha, beta, bias != NULL, gelu};
    dnnl_memory_desc_t ad, bd, cd, biasd;
    int own;
    dnnl_primitive_t p = mm_get(&k, &ad, &bd, &cd, &biasd, &own);
    if (!p) return 1;
    uint16_t *a = scratch((size_t)M * K + (size_t)K * N), *b = a ? a + (size_t)M * K : NULL;
    dnnl_memory_t am = NULL, bm = NULL, cm = NULL, biasm = NULL;
    dnnl_stream_t st = NULL;
    int bad = !a || !b;
    if (!bad) {
        /* as stored: op(A) = A (M rows of K) or A^T (A is K rows of M) */
        pack_bf16(a, A, ta ? K : M, ta ? M : K, lda);
        pack_bf16(b, B, tb ? N : K, tb ? K : N, ldb);
        bad = dnnl_memory_create(&am, &ad, engine, a) || dnnl_memory_create(&bm, &bd, engine, b) ||
              dnnl_memory_create(&cm, &cd, engine, C) ||
              (bias && dnnl_memory_create(&biasm, &biasd, engine, (void *)bias)) ||
              dnnl_stream_create(&st, engine, dnnl_stream_default_flags);
    }
    if (!bad) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm},
                                   {DNNL_ARG_BIAS, biasm}};
        bad = dnnl_primitive_execute(p, st, bias ? 4 : 3, args) || dnnl_stream_wait(st);
    }
    if (own) dnnl_primitive_destroy(p);
    if (st) dnnl_stream_destroy(st);
    if (biasm) dnnl_memory_destroy(biasm);
    if (cm) dnnl_memory_destroy(cm);
    if (bm) dnnl_memory_destroy(bm);
    if (am) dnnl_memory_destroy(am);
    return bad;
}

/* ---- the entry point --------------------------------------------------------------------- */

/* The precision of this thread's products: set by the network code around a pass. */
static _Thread_local int tl_bf16;

int assay__nn_precision_begin(assay_nn_precision p) {
    const int prev = tl_bf16;
    tl_bf16 = p == ASSAY_NN_BF16 && assay_nn_bf16_supported();
    return prev;
}

void assay__nn_precision_end(int prev) { tl_bf16 = prev; }

void assay__nn_gemm_ex(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                       int gelu) {
    if (M <= 0 || N <= 0) return;
    ASSAY_ASSERT(!bias || beta == 0.0f);
    /* K == 0: C = beta C, which sgemm does; bf16 only pays on real products */
    if (tl_bf16 && K > 0 && !omp_in_parallel() && (double)M * N * K >= 262144.0 &&
        !bf16_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, gelu))
        return;
    if (bias) { /* broadcast into C first, then the product with beta = 1 adds to it */
        for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, (size_t)N * sizeof *C);
        beta = 1.0f;
    }
    fp32_gemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
              lda, B, ldb, beta, C, ldc);
    if (gelu) {
        if (ldc == N) assay_nn_gelu_forward(C, C, (int64_t)M * N);
        else for (int i = 0; i < M; i++) assay_nn_gelu_forward(C + (size_t)i * ldc, C + (size_t)i * ldc, N);
    }
}

void assay__nn_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc) {
    assay__nn_gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, 0);
}
