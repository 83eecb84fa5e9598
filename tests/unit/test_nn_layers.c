/* test_nn_layers.c - unit tests of the layer kernels in src/nn/layers.c: exact values against
 * naive double-precision references written here, finite-difference gradient checks of every
 * gradient (gradcheck.h), backward passes adding into gradients, NULL gradients, bit-identical
 * results across OpenMP thread counts, pooling ties and edges, activation extremes, dropout
 * statistics and reproducibility, softmax stability.
 *
 * Tolerances, stated once:
 * - values against the references: |got - ref| <= 1e-4 * max(1, |ref|) (REF_TOL);
 * - gradient checks: relative error (gradcheck.h) below 1e-2 with h = 1e-2, floor 1e-3;
 * - "adds": a backward pass run twice on prefilled gradients gives prefill + 2 * grad to
 *   1e-5 * max(1, |expected|).
 * Not here: parity with PyTorch (tests/parity), speed (bench/). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "assay/nn.h"
#include "check.h"
#include "gradcheck.h"

#define REF_TOL 1e-4
#define GC_H 1e-2
#define GC_TOL 1e-2
#define GC_FLOOR 1e-3
#define GC_MAX 400
#define ADD_TOL 1e-5

static assay_rng R;

/* ---- helpers ------------------------------------------------------------------------------ */

static float *fzeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }
static double *dzeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }

static float *frand(int64_t n, float lo, float hi) {
    float *x = fzeros(n);
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)assay_rng_uniform(&R);
    return x;
}

static float *fcopy(const float *x, int64_t n) {
    float *y = fzeros(n);
    memcpy(y, x, (size_t)n * sizeof *y);
    return y;
}

/* Values in (-1, -0.1] or [0.1, 1): away from ReLU's kink at 0 by more than GC_H. */
static float *frand_nokink(int64_t n) {
    float *x = frand(n, 0.1f, 1.0f);
    for (int64_t i = 0; i < n; i++)
        if (assay_rng_uniform(&R) < 0.5) x[i] = -x[i];
    return x;
}

/* n distinct values 0.05 apart, shuffled: every max-pool window has a winner by more than
 * 2 * GC_H, so finite differences never cross a tie. */
static float *fdistinct(int64_t n) {
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    assay_rng_shuffle_i64(&R, perm, n);
    float *x = fzeros(n);
    for (int64_t i = 0; i < n; i++) x[i] = 0.05f * (float)(perm[i] - n / 2);
    free(perm);
    return x;
}

/* Largest |got - ref| / max(1, |ref|); prints it, checks it against tol. */
static double check_ref(const char *name, const float *got, const double *ref, int64_t n,
                        double tol) {
    double worst = 0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        if (d > worst || isnan(d)) worst = d, wi = i;
    }
    printf("  ref %-34s largest error %.3g (element %lld of %lld)\n", name, worst,
           (long long)wi, (long long)n);
    CHECK_MSG(worst <= tol, "%s: error %.3g > %.3g", name, worst, tol);
    return worst;
}

/* Backward passes add: with every gradient prefilled, two calls give prefill + 2 * grad. bwd
 * runs the backward pass of ctx into grads[i] (ns[i] floats each). */
typedef void (*bwd_fn)(void *ctx);
static void check_adds(const char *name, bwd_fn bwd, void *ctx, float **grads, const int64_t *ns,
                       int k) {
    float *g[4], *pre[4];
    if (k > 4) k = 4;
    for (int i = 0; i < k; i++) memset(grads[i], 0, (size_t)ns[i] * sizeof(float));
    bwd(ctx);
    for (int i = 0; i < k; i++) {
        g[i] = fcopy(grads[i], ns[i]);
        pre[i] = frand(ns[i], -2.0f, 2.0f);
        memcpy(grads[i], pre[i], (size_t)ns[i] * sizeof(float));
    }
    bwd(ctx);
    bwd(ctx);
    double worst = 0, gmax = 0;
    for (int i = 0; i < k; i++) {
        for (int64_t j = 0; j < ns[i]; j++) {
            double want = (double)pre[i][j] + 2.0 * g[i][j];
            double d = fabs(grads[i][j] - want) / fmax(1.0, fabs(want));
            if (d > worst || isnan(d)) worst = d;
            gmax = fmax(gmax, fabs(g[i][j]));
        }
        free(g[i]);
        free(pre[i]);
    }
    printf("  adds %-33s largest error %.3g (largest gradient %.3g)\n", name, worst, gmax);
    CHECK_MSG(worst <= ADD_TOL, "%s: backward does not add: error %.3g", name, worst);
    CHECK_MSG(gmax > 0, "%s: all gradients zero, the check proves nothing", name);
}

/* ---- linear ------------------------------------------------------------------------------- */

typedef struct lin_ctx {
    int N, C, OC;
    float *inp, *w, *b, *out, *proj;
    float *dinp, *dw, *db;
} lin_ctx;

static lin_ctx lin_new(int N, int C, int OC, int with_bias) {
    lin_ctx c = {N, C, OC, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.inp = frand((int64_t)N * C, -1, 1);
    c.w = frand((int64_t)OC * C, -1, 1);
    c.b = with_bias ? frand(OC, -1, 1) : NULL;
    c.out = fzeros((int64_t)N * OC);
    c.proj = frand((int64_t)N * OC, -1, 1);
    c.dinp = fzeros((int64_t)N * C);
    c.dw = fzeros((int64_t)OC * C);
    c.db = fzeros(OC);
    return c;
}

static void lin_free(lin_ctx *c) {
    free(c->inp), free(c->w), free(c->b), free(c->out), free(c->proj);
    free(c->dinp), free(c->dw), free(c->db);
}

static double lin_loss(void *p) {
    lin_ctx *c = p;
    assay_nn_linear_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
    return gc_dot(c->out, c->proj, (int64_t)c->N * c->OC);
}

static void lin_bwd(void *p) {
    lin_ctx *c = p;
    assay_nn_linear_backward(c->dinp, c->dw, c->b ? c->db : NULL, c->proj, c->inp, c->w, c->N,
                             c->C, c->OC);
}

/* out, and the gradients for dout = proj, by the definitions in double */
static void lin_values(int N, int C, int OC, int with_bias) {
    char name[64];
    lin_ctx c = lin_new(N, C, OC, with_bias);
    double *out = dzeros((int64_t)N * OC), *dinp = dzeros((int64_t)N * C);
    double *dw = dzeros((int64_t)OC * C), *db = dzeros(OC);
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            double acc = c.b ? c.b[o] : 0;
            for (int i = 0; i < C; i++) acc += (double)c.inp[n * C + i] * c.w[o * C + i];
            out[n * OC + o] = acc;
            double g = c.proj[n * OC + o];
            db[o] += g;
            for (int i = 0; i < C; i++) {
                dinp[n * C + i] += g * c.w[o * C + i];
                dw[o * C + i] += g * c.inp[n * C + i];
            }
        }
    }
    lin_loss(&c);
    lin_bwd(&c);
    snprintf(name, sizeof name, "linear %dx%d->%d%s out", N, C, OC, with_bias ? "" : " nobias");
    check_ref(name, c.out, out, (int64_t)N * OC, REF_TOL);
    snprintf(name, sizeof name, "linear %dx%d->%d dinp", N, C, OC);
    check_ref(name, c.dinp, dinp, (int64_t)N * C, REF_TOL);
    snprintf(name, sizeof name, "linear %dx%d->%d dweight", N, C, OC);
    check_ref(name, c.dw, dw, (int64_t)OC * C, REF_TOL);
    if (with_bias) {
        snprintf(name, sizeof name, "linear %dx%d->%d dbias", N, C, OC);
        check_ref(name, c.db, db, OC, REF_TOL);
    }
    free(out), free(dinp), free(dw), free(db);
    lin_free(&c);
}

static void test_linear_values(void) {
    lin_values(7, 13, 5, 1);
    lin_values(7, 13, 5, 0);
    lin_values(1, 3, 1, 1);        /* one row, one output */
    lin_values(64, 784, 256, 1);   /* big enough for OpenBLAS's blocked, threaded paths */
    lin_values(300, 17, 130, 1);   /* dbias over several column blocks */
}

static void test_linear_grad(void) {
    lin_ctx c = lin_new(5, 7, 4, 1);
    lin_bwd(&c);
    gc_check("linear dinp", c.inp, c.dinp, 5 * 7, lin_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    gc_check("linear dweight", c.w, c.dw, 4 * 7, lin_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    gc_check("linear dbias", c.b, c.db, 4, lin_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    float *grads[3] = {c.dinp, c.dw, c.db};
    int64_t ns[3] = {5 * 7, 4 * 7, 4};
    check_adds("linear", lin_bwd, &c, grads, ns, 3);
    lin_free(&c);

    /* NULL gradients are skipped; the others are unchanged by their absence */
    c = lin_new(6, 5, 3, 1);
    lin_bwd(&c);
    float *dinp = fzeros(30), *dw = fzeros(15), *db = fzeros(3);
    assay_nn_linear_backward(dinp, NULL, NULL, c.proj, c.inp, c.w, 6, 5, 3);
    assay_nn_linear_backward(NULL, dw, NULL, c.proj, c.inp, c.w, 6, 5, 3);
    assay_nn_linear_backward(NULL, NULL, db, c.proj, c.inp, c.w, 6, 5, 3);
    CHECK(memcmp(dinp, c.dinp, sizeof(float) * 30) == 0);
    CHECK(memcmp(dw, c.dw, sizeof(float) * 15) == 0);
    CHECK(memcmp(db, c.db, sizeof(float) * 3) == 0);
    free(dinp), free(dw), free(db);
    lin_free(&c);
}

/* ---- conv2d ------------------------------------------------------------------------------- */

typedef struct conv_ctx {
    assay_nn_conv s;
    int64_t nin, nw, nout;
    float *inp, *w, *b, *out, *proj, *scratch;
    float *dinp, *dw, *db;
} conv_ctx;

static int conv_new(conv_ctx *c, int B, int C, int H, int W, int OC, int KH, int KW, int st,
                    int pad, int with_bias) {
    memset(c, 0, sizeof *c);
    if (assay_nn_conv_init(&c->s, B, C, H, W, OC, KH, KW, st, pad) != 0) return -1;
    c->nin = (int64_t)B * C * H * W;
    c->nw = (int64_t)OC * C * KH * KW;
    c->nout = (int64_t)B * OC * c->s.OH * c->s.OW;
    c->inp = frand(c->nin, -1, 1);
    c->w = frand(c->nw, -1, 1);
    c->b = with_bias ? frand(OC, -1, 1) : NULL;
    c->out = fzeros(c->nout);
    c->proj = frand(c->nout, -1, 1);
    /* poisoned scratch: the kernels must not depend on its contents */
    size_t ns = assay_nn_conv_scratch(&c->s);
    c->scratch = malloc(ns * sizeof(float));
    for (size_t i = 0; i < ns; i++) c->scratch[i] = NAN;
    c->dinp = fzeros(c->nin);
    c->dw = fzeros(c->nw);
    c->db = fzeros(OC);
    return 0;
}

static void conv_free(conv_ctx *c) {
    free(c->inp), free(c->w), free(c->b), free(c->out), free(c->proj), free(c->scratch);
    free(c->dinp), free(c->dw), free(c->db);
}

static double conv_loss(void *p) {
    conv_ctx *c = p;
    assay_nn_conv2d_forward(c->out, c->inp, c->w, c->b, &c->s, c->scratch);
    return gc_dot(c->out, c->proj, c->nout);
}

static void conv_bwd(void *p) {
    conv_ctx *c = p;
    assay_nn_conv2d_backward(c->dinp, c->dw, c->b ? c->db : NULL, c->proj, c->inp, c->w, &c->s,
                             c->scratch);
}

/* Direct convolution by the definition, in double: out, and for dout = proj, dinp, dweight and
 * dbias (zeroed by the caller). */
static void ref_conv(double *out, double *dinp, double *dw, double *db, const conv_ctx *c) {
    const assay_nn_conv *s = &c->s;
    for (int b = 0; b < s->B; b++)
        for (int o = 0; o < s->OC; o++)
            for (int oh = 0; oh < s->OH; oh++)
                for (int ow = 0; ow < s->OW; ow++) {
                    int64_t oi = (((int64_t)b * s->OC + o) * s->OH + oh) * s->OW + ow;
                    double acc = c->b ? c->b[o] : 0, g = c->proj[oi];
                    db[o] += g;
                    for (int ci = 0; ci < s->C; ci++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * s->stride - s->pad + kh;
                                int iw = ow * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                int64_t ii = (((int64_t)b * s->C + ci) * s->H + ih) * s->W + iw;
                                int64_t wi = (((int64_t)o * s->C + ci) * s->KH + kh) * s->KW + kw;
                                acc += (double)c->w[wi] * c->inp[ii];
                                dinp[ii] += g * c->w[wi];
                                dw[wi] += g * c->inp[ii];
                            }
                    out[oi] = acc;
                }
}

static void conv_values(int B, int C, int H, int W, int OC, int KH, int KW, int st, int pad,
                        int with_bias) {
    conv_ctx c;
    char name[96], what[80];
    if (conv_new(&c, B, C, H, W, OC, KH, KW, st, pad, with_bias) != 0) {
        CHECK_MSG(0, "conv_init refused a valid shape");
        return;
    }
    snprintf(what, sizeof what, "conv B%d C%d %dx%d OC%d k%dx%d s%d p%d%s", B, C, H, W, OC, KH,
             KW, st, pad, with_bias ? "" : " nb");
    double *out = dzeros(c.nout), *dinp = dzeros(c.nin), *dw = dzeros(c.nw), *db = dzeros(OC);
    ref_conv(out, dinp, dw, db, &c);
    conv_loss(&c);
    conv_bwd(&c);
    snprintf(name, sizeof name, "%s out", what);
    check_ref(name, c.out, out, c.nout, REF_TOL);
    snprintf(name, sizeof name, "%s dinp", what);
    check_ref(name, c.dinp, dinp, c.nin, REF_TOL);
    snprintf(name, sizeof name, "%s dw", what);
    check_ref(name, c.dw, dw, c.nw, REF_TOL);
    if (with_bias) {
        snprintf(name, sizeof name, "%s db", what);
        check_ref(name, c.db, db, OC, REF_TOL);
    }
    free(out), free(dinp), free(dw), free(db);
    conv_free(&c);
}

static void test_conv_values(void) {
    conv_values(2, 3, 5, 7, 4, 3, 3, 1, 1, 1);
    conv_values(2, 3, 7, 9, 4, 3, 2, 2, 0, 1);    /* non-square kernel and input, stride 2 */
    conv_values(3, 2, 6, 6, 5, 5, 5, 1, 2, 0);    /* no bias */
    conv_values(2, 4, 8, 7, 3, 3, 3, 3, 2, 1);    /* stride 3 with more padding than overlap */
    conv_values(2, 3, 6, 5, 4, 1, 1, 2, 0, 1);    /* 1x1, stride 2 */
    conv_values(2, 2, 3, 3, 3, 5, 5, 1, 1, 1);    /* kernel as large as the padded input */
    conv_values(1, 1, 1, 1, 1, 1, 1, 1, 0, 1);    /* everything 1 */
    conv_values(4, 16, 14, 14, 32, 3, 3, 1, 1, 1); /* OpenBLAS's blocked, threaded paths */
}

static void conv_grad(int B, int C, int H, int W, int OC, int KH, int KW, int st, int pad) {
    conv_ctx c;
    char name[64];
    if (conv_new(&c, B, C, H, W, OC, KH, KW, st, pad, 1) != 0) {
        CHECK_MSG(0, "conv_init refused a valid shape");
        return;
    }
    conv_bwd(&c);
    snprintf(name, sizeof name, "conv s%d p%d dinp", st, pad);
    gc_check(name, c.inp, c.dinp, c.nin, conv_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    snprintf(name, sizeof name, "conv s%d p%d dweight", st, pad);
    gc_check(name, c.w, c.dw, c.nw, conv_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    snprintf(name, sizeof name, "conv s%d p%d dbias", st, pad);
    gc_check(name, c.b, c.db, OC, conv_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    float *grads[3] = {c.dinp, c.dw, c.db};
    int64_t ns[3] = {c.nin, c.nw, OC};
    snprintf(name, sizeof name, "conv s%d p%d", st, pad);
    check_adds(name, conv_bwd, &c, grads, ns, 3);
    conv_free(&c);
}

static void test_conv_grad(void) {
    conv_grad(2, 3, 5, 5, 4, 3, 3, 1, 1);
    conv_grad(2, 3, 7, 9, 4, 3, 3, 2, 0);
}

/* Each gradient alone (the others NULL) equals the same gradient from the full call. */
static void test_conv_null_grads(void) {
    conv_ctx c;
    if (conv_new(&c, 2, 3, 6, 5, 4, 3, 3, 2, 1, 1) != 0) {
        CHECK(0);
        return;
    }
    conv_bwd(&c);
    float *dinp = fzeros(c.nin), *dw = fzeros(c.nw), *db = fzeros(4);
    assay_nn_conv2d_backward(dinp, NULL, NULL, c.proj, c.inp, c.w, &c.s, c.scratch);
    assay_nn_conv2d_backward(NULL, dw, NULL, c.proj, c.inp, c.w, &c.s, c.scratch);
    assay_nn_conv2d_backward(NULL, NULL, db, c.proj, c.inp, c.w, &c.s, c.scratch);
    assay_nn_conv2d_backward(NULL, NULL, NULL, c.proj, c.inp, c.w, &c.s, c.scratch);
    CHECK(memcmp(dinp, c.dinp, (size_t)c.nin * sizeof(float)) == 0);
    CHECK(memcmp(dw, c.dw, (size_t)c.nw * sizeof(float)) == 0);
    CHECK(memcmp(db, c.db, 4 * sizeof(float)) == 0);
    free(dinp), free(dw), free(db);
    conv_free(&c);
}

static void test_conv_init(void) {
    assay_nn_conv s;
    CHECK(assay_nn_conv_init(&s, 2, 3, 14, 14, 8, 3, 3, 1, 1) == 0);
    CHECK(s.OH == 14 && s.OW == 14);
    CHECK(assay_nn_conv_init(&s, 2, 3, 7, 9, 8, 3, 2, 2, 0) == 0);
    CHECK(s.OH == 3 && s.OW == 4);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 5, 5, 1, 1) == 0); /* exactly fits: 1x1 */
    CHECK(s.OH == 1 && s.OW == 1);
    CHECK(assay_nn_conv_scratch(&s) == 25 + 1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 6, 5, 1, 1) == -1); /* KH > H + 2 pad */
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 5, 6, 1, 1) == -1); /* KW > W + 2 pad */
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 4, 4, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 0, 1, 3, 3, 1, 1, 1, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 0, 3, 3, 1, 1, 1, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 0, 3, 1, 1, 1, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, -3, 1, 1, 1, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 0, 1, 1, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 0, 1, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 1, 0, 1, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 1, 1, 0, 0) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 1, 1, 1, -1) == -1);
    CHECK(assay_nn_conv_init(&s, 1, 1, 3, 3, 1, 3, 3, 1, 1 << 30) == -1); /* output too large */
}

/* Same inputs, 1, 2 and 3 OpenMP threads: bit-identical out, dinp, dweight, dbias. */
static void conv_run(conv_ctx *c, int threads, float *res[4]) {
    omp_set_num_threads(threads);
    memset(c->dinp, 0, (size_t)c->nin * sizeof(float));
    memset(c->dw, 0, (size_t)c->nw * sizeof(float));
    memset(c->db, 0, (size_t)c->s.OC * sizeof(float));
    conv_loss(c);
    conv_bwd(c);
    res[0] = fcopy(c->out, c->nout), res[1] = fcopy(c->dinp, c->nin);
    res[2] = fcopy(c->dw, c->nw), res[3] = fcopy(c->db, c->s.OC);
}

static void conv_determinism(int B, int C, int H, int W, int OC, int k, int st, int pad) {
    conv_ctx c;
    if (conv_new(&c, B, C, H, W, OC, k, k, st, pad, 1) != 0) {
        CHECK(0);
        return;
    }
    int before = omp_get_max_threads();
    float *one[4], *two[4], *three[4];
    conv_run(&c, 1, one);
    conv_run(&c, 2, two);
    conv_run(&c, 3, three);
    omp_set_num_threads(before);
    int64_t ns[4] = {c.nout, c.nin, c.nw, OC};
    for (int i = 0; i < 4; i++) {
        CHECK_MSG(memcmp(one[i], two[i], (size_t)ns[i] * sizeof(float)) == 0,
                  "conv result %d differs between 1 and 2 threads", i);
        CHECK_MSG(memcmp(one[i], three[i], (size_t)ns[i] * sizeof(float)) == 0,
                  "conv result %d differs between 1 and 3 threads", i);
        free(one[i]), free(two[i]), free(three[i]);
    }
    conv_free(&c);
}

static void test_conv_determinism(void) {
    conv_determinism(4, 8, 10, 10, 16, 3, 1, 1);
    conv_determinism(3, 5, 11, 9, 7, 3, 2, 0);
}

/* ---- pooling ------------------------------------------------------------------------------ */

static void test_maxpool_values(void) {
    /* one 4x5 plane, k = 2: OH = 2, OW = 2; the last column is outside every window */
    const float x[20] = {1, 3, 0, 0, 9,
                         3, 2, 5, 5, 9,
                         7, 7, -1, -2, 9,
                         7, 7, -3, -1, 9};
    float out[4], dinp[20] = {0};
    int32_t am[4];
    assay_nn_maxpool2d_forward(out, am, x, 1, 1, 4, 5, 2);
    CHECK(out[0] == 3 && am[0] == 1);   /* tie 3 at (0,1) and (1,0): first in row-major order */
    CHECK(out[1] == 5 && am[1] == 7);   /* tie 5 at (1,2) and (1,3) */
    CHECK(out[2] == 7 && am[2] == 10);  /* four-way tie */
    CHECK(out[3] == -1 && am[3] == 12); /* all negative */
    const float dout[4] = {1, 2, 3, 4};
    assay_nn_maxpool2d_backward(dinp, dout, am, 1, 1, 4, 5, 2);
    const float want[20] = {0, 1, 0, 0, 0,
                            0, 0, 2, 0, 0,
                            3, 0, 4, 0, 0,
                            0, 0, 0, 0, 0};
    CHECK(memcmp(dinp, want, sizeof want) == 0);

    /* NaN wins its window, as in PyTorch */
    const float y[4] = {1, NAN, 5, 2};
    assay_nn_maxpool2d_forward(out, am, y, 1, 1, 2, 2, 2);
    CHECK(isnan(out[0]) && am[0] == 1);

    /* avg pool: means of windows, floor of the output size, backward spreads dout / k^2 */
    assay_nn_avgpool2d_forward(out, x, 1, 1, 4, 5, 2);
    CHECK(out[0] == 2.25f && out[1] == 2.5f && out[2] == 7.0f && out[3] == -1.75f);
    memset(dinp, 0, sizeof dinp);
    assay_nn_avgpool2d_backward(dinp, dout, 1, 1, 4, 5, 2);
    CHECK(dinp[0] == 0.25f && dinp[6] == 0.25f && dinp[2] == 0.5f && dinp[18] == 1.0f);
    CHECK(dinp[4] == 0 && dinp[19] == 0);
}

typedef struct pool_ctx {
    int B, C, H, W, k, OH, OW, max;
    int64_t nin, nout;
    float *inp, *out, *proj, *dinp;
    int32_t *am;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    if (c->max)
        assay_nn_maxpool2d_forward(c->out, c->am, c->inp, c->B, c->C, c->H, c->W, c->k);
    else
        assay_nn_avgpool2d_forward(c->out, c->inp, c->B, c->C, c->H, c->W, c->k);
    return gc_dot(c->out, c->proj, c->nout);
}

static void pool_bwd(void *p) {
    pool_ctx *c = p;
    if (c->max)
        assay_nn_maxpool2d_backward(c->dinp, c->proj, c->am, c->B, c->C, c->H, c->W, c->k);
    else
        assay_nn_avgpool2d_backward(c->dinp, c->proj, c->B, c->C, c->H, c->W, c->k);
}

static void pool_check(int max, int B, int C, int H, int W, int k) {
    pool_ctx c = {B, C, H, W, k, H / k, W / k, max, (int64_t)B * C * H * W,
                  (int64_t)B * C * (H / k) * (W / k), NULL, NULL, NULL, NULL, NULL};
    c.inp = fdistinct(c.nin);
    c.out = fzeros(c.nout);
    c.proj = frand(c.nout, -1, 1);
    c.dinp = fzeros(c.nin);
    c.am = calloc((size_t)c.nout, sizeof *c.am);

    /* values against a direct reference */
    double *ref = dzeros(c.nout), *dref = dzeros(c.nin);
    for (int64_t pl = 0; pl < (int64_t)B * C; pl++)
        for (int oh = 0; oh < c.OH; oh++)
            for (int ow = 0; ow < c.OW; ow++) {
                double m = -INFINITY, s = 0;
                int64_t mi = 0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int64_t ii = (pl * H + oh * k + i) * W + ow * k + j;
                        s += c.inp[ii];
                        if (c.inp[ii] > m) m = c.inp[ii], mi = ii;
                    }
                int64_t oi = (pl * c.OH + oh) * c.OW + ow;
                ref[oi] = max ? m : s / (k * k);
                if (max) {
                    dref[mi] += c.proj[oi];
                } else {
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                            dref[(pl * H + oh * k + i) * W + ow * k + j] += c.proj[oi] / (k * k);
                }
            }
    pool_loss(&c);
    pool_bwd(&c);
    char name[64];
    snprintf(name, sizeof name, "%spool %dx%d k%d out", max ? "max" : "avg", H, W, k);
    check_ref(name, c.out, ref, c.nout, REF_TOL);
    snprintf(name, sizeof name, "%spool %dx%d k%d dinp", max ? "max" : "avg", H, W, k);
    check_ref(name, c.dinp, dref, c.nin, REF_TOL);
    free(ref), free(dref);

    snprintf(name, sizeof name, "%spool k%d dinp", max ? "max" : "avg", k);
    gc_check(name, c.inp, c.dinp, c.nin, pool_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    float *grads[1] = {c.dinp};
    int64_t ns[1] = {c.nin};
    check_adds(name, pool_bwd, &c, grads, ns, 1);
    free(c.inp), free(c.out), free(c.proj), free(c.dinp), free(c.am);
}

static void test_pool(void) {
    pool_check(1, 2, 3, 6, 7, 2);
    pool_check(0, 2, 3, 6, 7, 2);
    pool_check(1, 3, 2, 9, 9, 3);
    pool_check(0, 3, 2, 9, 10, 3);
    pool_check(1, 64, 16, 14, 14, 2); /* large enough for the parallel path */
}

/* ---- activations -------------------------------------------------------------------------- */

enum { ACT_RELU, ACT_GELU, ACT_TANH, ACT_SIGMOID };
static const char *const act_names[] = {"relu", "gelu", "tanh", "sigmoid"};

typedef struct act_ctx {
    int kind;
    int64_t n;
    float *inp, *out, *proj, *dinp;
} act_ctx;

static void act_forward(int kind, float *out, const float *inp, int64_t n) {
    switch (kind) {
    case ACT_RELU: assay_nn_relu_forward(out, inp, n); break;
    case ACT_GELU: assay_nn_gelu_forward(out, inp, n); break;
    case ACT_TANH: assay_nn_tanh_forward(out, inp, n); break;
    default: assay_nn_sigmoid_forward(out, inp, n); break;
    }
}

static void act_backward(int kind, float *dinp, const float *dout, const float *inp,
                         const float *out, int64_t n) {
    switch (kind) {
    case ACT_RELU: assay_nn_relu_backward(dinp, dout, inp, out, n); break;
    case ACT_GELU: assay_nn_gelu_backward(dinp, dout, inp, out, n); break;
    case ACT_TANH: assay_nn_tanh_backward(dinp, dout, inp, out, n); break;
    default: assay_nn_sigmoid_backward(dinp, dout, inp, out, n); break;
    }
}

/* f and f' in double */
static double act_ref(int kind, double x, double *d) {
    switch (kind) {
    case ACT_RELU: *d = x > 0; return x > 0 ? x : 0;
    case ACT_GELU: {
        double cdf = 0.5 * erfc(-x / sqrt(2.0)), pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);
        *d = cdf + x * pdf;
        return x * cdf;
    }
    case ACT_TANH: {
        double t = tanh(x);
        *d = 1 - t * t;
        return t;
    }
    default: {
        double s = 1 / (1 + exp(-x));
        *d = s * (1 - s);
        return s;
    }
    }
}

static double act_loss(void *p) {
    act_ctx *c = p;
    act_forward(c->kind, c->out, c->inp, c->n);
    return gc_dot(c->out, c->proj, c->n);
}

static void act_bwd(void *p) {
    act_ctx *c = p;
    act_backward(c->kind, c->dinp, c->proj, c->inp, c->out, c->n);
}

static void test_activations(void) {
    for (int kind = 0; kind < 4; kind++) {
        /* gradient check on a small vector */
        act_ctx c = {kind, 300, NULL, NULL, NULL, NULL};
        c.inp = frand_nokink(c.n);
        for (int64_t i = 0; i < c.n; i++) c.inp[i] *= 4; /* [-4, -0.4] and [0.4, 4] */
        c.out = fzeros(c.n), c.proj = frand(c.n, -1, 1), c.dinp = fzeros(c.n);
        act_loss(&c);
        act_bwd(&c);
        char name[64];
        snprintf(name, sizeof name, "%s dinp", act_names[kind]);
        gc_check(name, c.inp, c.dinp, c.n, act_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
        float *grads[1] = {c.dinp};
        int64_t ns[1] = {c.n};
        check_adds(act_names[kind], act_bwd, &c, grads, ns, 1);
        free(c.inp), free(c.out), free(c.proj), free(c.dinp);

        /* values and derivatives against double over a wide range, on the parallel path, with
         * extremes that would overflow a naive formula */
        const int64_t n = 100000;
        float *x = frand(n, -12, 12), *y = fzeros(n), *dy = frand(n, -1, 1), *dx = fzeros(n);
        const float ext[] = {-100, 100, -1e30f, 1e30f, -20, 20, 0};
        for (int i = 0; i < 7; i++) x[i] = ext[i];
        double *yr = dzeros(n), *dxr = dzeros(n);
        for (int64_t i = 0; i < n; i++) {
            double d;
            yr[i] = act_ref(kind, x[i], &d);
            dxr[i] = d * dy[i];
        }
        act_forward(kind, y, x, n);
        act_backward(kind, dx, dy, x, y, n);
        snprintf(name, sizeof name, "%s out", act_names[kind]);
        check_ref(name, y, yr, n, REF_TOL);
        snprintf(name, sizeof name, "%s dinp", act_names[kind]);
        check_ref(name, dx, dxr, n, REF_TOL);
        int finite = 1;
        for (int64_t i = 0; i < n; i++) finite &= isfinite(y[i]) && isfinite(dx[i]);
        CHECK_MSG(finite, "%s: non-finite value", act_names[kind]);
        free(x), free(y), free(dy), free(dx), free(yr), free(dxr);
    }

    /* known values and tails */
    float x[6] = {1, -1, 0, -100, 100, -20}, y[6];
    assay_nn_gelu_forward(y, x, 3);
    CHECK_NEAR(y[0], 0.8413447460685429, 1e-6);
    CHECK_NEAR(y[1], -0.15865525393145707, 1e-6);
    CHECK(y[2] == 0);
    assay_nn_sigmoid_forward(y, x, 6);
    CHECK(y[3] > 0 && y[3] < 1e-40); /* e^-100, a subnormal, not 0 or NaN */
    CHECK(y[4] == 1.0f);
    CHECK_NEAR(y[5] / exp(-20.0), 1.0, 1e-5); /* relative accuracy in the tail */
    assay_nn_tanh_forward(y, x, 6);
    CHECK(y[3] == -1.0f && y[4] == 1.0f);
    float nan_in = NAN, nan_out = 0;
    assay_nn_relu_forward(&nan_out, &nan_in, 1);
    CHECK(isnan(nan_out)); /* NaN propagates, as torch.relu */
}

/* ---- dropout ------------------------------------------------------------------------------ */

typedef struct drop_ctx {
    int64_t n;
    float p;
    uint64_t seed;
    float *inp, *out, *mask, *proj, *dinp;
} drop_ctx;

/* reseeds every call: the same mask each time */
static double drop_loss(void *p) {
    drop_ctx *c = p;
    assay_rng r;
    assay_rng_seed(&r, c->seed);
    assay_nn_dropout_forward(c->out, c->mask, c->inp, c->n, c->p, &r);
    return gc_dot(c->out, c->proj, c->n);
}

static void drop_bwd(void *p) {
    drop_ctx *c = p;
    assay_nn_dropout_backward(c->dinp, c->proj, c->mask, c->n);
}

static void test_dropout(void) {
    const int64_t n = 100000;
    const float p = 0.3f;
    float *x = frand(n, -1, 1), *y1 = fzeros(n), *m1 = fzeros(n), *y2 = fzeros(n), *m2 = fzeros(n);
    assay_rng r;
    assay_rng_seed(&r, 42);
    assay_nn_dropout_forward(y1, m1, x, n, p, &r);
    int64_t zeros = 0, bad = 0;
    const float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        if (m1[i] == 0) {
            zeros++;
            bad += y1[i] != 0;
        } else {
            bad += m1[i] != scale || y1[i] != x[i] * scale;
        }
    }
    double frac = (double)zeros / n;
    printf("  dropout p=%.2f: zero fraction %.4f over %lld values\n", p, frac, (long long)n);
    /* binomial sd sqrt(p (1 - p) / n) = 0.00145: 0.006 is about 4 sd */
    CHECK_NEAR(frac, p, 0.006);
    CHECK(bad == 0);

    assay_rng_seed(&r, 42);
    assay_nn_dropout_forward(y2, m2, x, n, p, &r);
    CHECK(memcmp(m1, m2, (size_t)n * sizeof(float)) == 0);
    CHECK(memcmp(y1, y2, (size_t)n * sizeof(float)) == 0);
    assay_rng_seed(&r, 43);
    assay_nn_dropout_forward(y2, m2, x, n, p, &r);
    CHECK(memcmp(m1, m2, (size_t)n * sizeof(float)) != 0);

    /* p = 0: identity, mask all 1, no draws */
    assay_rng_seed(&r, 7);
    assay_rng before = r;
    assay_nn_dropout_forward(y2, m2, x, n, 0.0f, &r);
    int ident = 1;
    for (int64_t i = 0; i < n; i++) ident &= m2[i] == 1.0f && y2[i] == x[i];
    CHECK(ident);
    CHECK(memcmp(&before, &r, sizeof r) == 0);
    free(x), free(y1), free(m1), free(y2), free(m2);

    /* gradient with a fixed mask */
    drop_ctx c = {200, 0.5f, 9, NULL, NULL, NULL, NULL, NULL};
    c.inp = frand(c.n, -1, 1), c.out = fzeros(c.n), c.mask = fzeros(c.n);
    c.proj = frand(c.n, -1, 1), c.dinp = fzeros(c.n);
    drop_loss(&c);
    drop_bwd(&c);
    gc_check("dropout dinp", c.inp, c.dinp, c.n, drop_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    float *grads[1] = {c.dinp};
    int64_t ns[1] = {c.n};
    check_adds("dropout", drop_bwd, &c, grads, ns, 1);
    free(c.inp), free(c.out), free(c.mask), free(c.proj), free(c.dinp);
}

/* ---- softmax ------------------------------------------------------------------------------ */

typedef struct sm_ctx {
    int N, K;
    float *inp, *out, *proj, *dinp;
} sm_ctx;

static double sm_loss(void *p) {
    sm_ctx *c = p;
    assay_nn_softmax_forward(c->out, c->inp, c->N, c->K);
    return gc_dot(c->out, c->proj, (int64_t)c->N * c->K);
}

static void sm_bwd(void *p) {
    sm_ctx *c = p;
    assay_nn_softmax_backward(c->dinp, c->proj, c->out, c->N, c->K);
}

static void sm_values(int N, int K, float lo, float hi) {
    const int64_t n = (int64_t)N * K;
    float *x = frand(n, lo, hi), *y = fzeros(n), *dy = frand(n, -1, 1), *dx = fzeros(n);
    double *yr = dzeros(n), *dxr = dzeros(n);
    for (int r = 0; r < N; r++) {
        double m = -INFINITY, s = 0, dot = 0;
        for (int k = 0; k < K; k++) m = fmax(m, x[r * K + k]);
        for (int k = 0; k < K; k++) s += exp(x[r * K + k] - m);
        for (int k = 0; k < K; k++) yr[r * K + k] = exp(x[r * K + k] - m) / s;
        for (int k = 0; k < K; k++) dot += yr[r * K + k] * dy[r * K + k];
        for (int k = 0; k < K; k++) dxr[r * K + k] = yr[r * K + k] * (dy[r * K + k] - dot);
    }
    assay_nn_softmax_forward(y, x, N, K);
    assay_nn_softmax_backward(dx, dy, y, N, K);
    char name[64];
    snprintf(name, sizeof name, "softmax %dx%d [%g,%g] out", N, K, lo, hi);
    check_ref(name, y, yr, n, REF_TOL);
    snprintf(name, sizeof name, "softmax %dx%d [%g,%g] dinp", N, K, lo, hi);
    check_ref(name, dx, dxr, n, REF_TOL);
    double worst = 0;
    for (int r = 0; r < N; r++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += y[r * K + k];
        worst = fmax(worst, fabs(s - 1));
    }
    CHECK_MSG(worst < 1e-5, "softmax rows sum to 1 +- %.3g", worst);
    free(x), free(y), free(dy), free(dx), free(yr), free(dxr);
}

static void test_softmax(void) {
    sm_values(7, 10, -5, 5);
    sm_values(3, 1, -5, 5);          /* one class: all 1, gradient 0 */
    sm_values(5, 50, 1000, 1010);    /* exp would overflow without the max subtracted */
    sm_values(5, 50, -1010, -1000);  /* and underflow to 0 / 0 */
    sm_values(512, 100, -10, 10);    /* parallel path */

    sm_ctx c = {4, 6, NULL, NULL, NULL, NULL};
    c.inp = frand(24, -2, 2), c.out = fzeros(24), c.proj = frand(24, -1, 1), c.dinp = fzeros(24);
    sm_loss(&c);
    sm_bwd(&c);
    gc_check("softmax dinp", c.inp, c.dinp, 24, sm_loss, &c, GC_H, GC_TOL, GC_MAX, GC_FLOOR);
    float *grads[1] = {c.dinp};
    int64_t ns[1] = {24};
    check_adds("softmax", sm_bwd, &c, grads, ns, 1);
    free(c.inp), free(c.out), free(c.proj), free(c.dinp);
}

int main(void) {
    assay_rng_seed(&R, 20240601);
    RUN(test_linear_values);
    RUN(test_linear_grad);
    RUN(test_conv_init);
    RUN(test_conv_values);
    RUN(test_conv_grad);
    RUN(test_conv_null_grads);
    RUN(test_conv_determinism);
    RUN(test_maxpool_values);
    RUN(test_pool);
    RUN(test_activations);
    RUN(test_dropout);
    RUN(test_softmax);
    return check_summary();
}
