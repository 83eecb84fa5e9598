/* test_nn_norm.c - batch norm, layer norm, embedding (src/nn/norm.c) and the losses
 * (src/nn/loss.c): finite-difference checks of every gradient, backward passes that add,
 * NULL gradients skipped, PyTorch parity on committed fixtures
 * (tests/parity/gen/gen_nn_kernels.py), bit-identical results across thread counts, and the
 * edges: one value per channel, constant channels, zero weights, empty batches, huge logits,
 * NaN confined to its row. */
#include <jansson.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "assay/nn.h"
#include "check.h"
#include "fixture.h"
#include "gradcheck.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static float *randn(int64_t n, double scale, double shift, assay_rng *r) {
    float *x = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(assay_rng_normal(r) * scale + shift);
    return x;
}

static float *zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static float *copy(const float *x, int64_t n) {
    float *y = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    memcpy(y, x, sizeof(float) * (size_t)n);
    return y;
}

/* ---- finite-difference gradient checks ----------------------------------------------------
 * Norm layers: loss = sum(out * proj), h = 1e-2 (float32 outputs make the numeric derivative
 * noisy at ~1e-7 * sqrt(n) / h), tolerance 1e-2 relative with floor 1e-3.
 * Losses: the loss itself (computed in double from the float inputs, so the numeric
 * derivative is clean), h = 1e-3, tolerance 1e-4 relative with floor 1e-6. */

#define NORM_H 1e-2
#define NORM_TOL 1e-2
#define NORM_FLOOR 1e-3
#define LOSS_H 1e-3
#define LOSS_TOL 1e-4
#define LOSS_FLOOR 1e-6

typedef struct bn_ctx {
    float *inp, *gamma, *beta, *proj, *out, *mean, *rstd, *rm, *rv;
    int B, C, S;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = p;
    assay_nn_batchnorm_forward(c->out, c->mean, c->rstd, c->rm, c->rv, c->inp, c->gamma, c->beta,
                               c->B, c->C, c->S, 0.1f, 1e-5f, 1);
    return gc_dot(c->out, c->proj, (int64_t)c->B * c->C * c->S);
}

static void gradcheck_batchnorm(int B, int C, int S, const char *tag) {
    assay_rng r;
    assay_rng_seed(&r, 11 + (uint64_t)S);
    int64_t n = (int64_t)B * C * S;
    bn_ctx c = {randn(n, 1.5, 0.3, &r), randn(C, 0.5, 1.0, &r), randn(C, 0.5, 0, &r),
                randn(n, 1, 0, &r), zeros(n), zeros(C), zeros(C), zeros(C), zeros(C),
                B, C, S};
    for (int i = 0; i < C; i++) c.rv[i] = 1;
    float *dinp = zeros(n), *dgamma = zeros(C), *dbeta = zeros(C);
    bn_loss(&c);
    assay_nn_batchnorm_backward(dinp, dgamma, dbeta, c.proj, c.inp, c.mean, c.rstd, c.gamma, B, C,
                                S);
    char name[64];
    snprintf(name, sizeof name, "batchnorm %s dinp", tag);
    gc_check(name, c.inp, dinp, n, bn_loss, &c, NORM_H, NORM_TOL, 200, NORM_FLOOR);
    snprintf(name, sizeof name, "batchnorm %s dgamma", tag);
    gc_check(name, c.gamma, dgamma, C, bn_loss, &c, NORM_H, NORM_TOL, 200, NORM_FLOOR);
    snprintf(name, sizeof name, "batchnorm %s dbeta", tag);
    gc_check(name, c.beta, dbeta, C, bn_loss, &c, NORM_H, NORM_TOL, 200, NORM_FLOOR);
    free(c.inp), free(c.gamma), free(c.beta), free(c.proj), free(c.out), free(c.mean);
    free(c.rstd), free(c.rm), free(c.rv), free(dinp), free(dgamma), free(dbeta);
}

static void test_gradcheck_batchnorm(void) {
    gradcheck_batchnorm(5, 3, 1, "S=1");
    gradcheck_batchnorm(3, 2, 4, "S=4");
}

typedef struct ln_ctx {
    float *inp, *gamma, *beta, *proj, *out, *mean, *rstd;
    int N, D;
} ln_ctx;

static double ln_loss(void *p) {
    ln_ctx *c = p;
    assay_nn_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->gamma, c->beta, c->N, c->D,
                               1e-5f);
    return gc_dot(c->out, c->proj, (int64_t)c->N * c->D);
}

static void test_gradcheck_layernorm(void) {
    assay_rng r;
    assay_rng_seed(&r, 21);
    const int N = 4, D = 7;
    ln_ctx c = {randn(N * D, 1.5, 0.5, &r), randn(D, 0.5, 1, &r), randn(D, 0.5, 0, &r),
                randn(N * D, 1, 0, &r), zeros(N * D), zeros(N), zeros(N), N, D};
    float *dinp = zeros(N * D), *dgamma = zeros(D), *dbeta = zeros(D);
    ln_loss(&c);
    assay_nn_layernorm_backward(dinp, dgamma, dbeta, c.proj, c.inp, c.mean, c.rstd, c.gamma, N, D);
    gc_check("layernorm dinp", c.inp, dinp, N * D, ln_loss, &c, NORM_H, NORM_TOL, 200, NORM_FLOOR);
    gc_check("layernorm dgamma", c.gamma, dgamma, D, ln_loss, &c, NORM_H, NORM_TOL, 200,
             NORM_FLOOR);
    gc_check("layernorm dbeta", c.beta, dbeta, D, ln_loss, &c, NORM_H, NORM_TOL, 200, NORM_FLOOR);
    free(c.inp), free(c.gamma), free(c.beta), free(c.proj), free(c.out), free(c.mean);
    free(c.rstd), free(dinp), free(dgamma), free(dbeta);
}

typedef struct emb_ctx {
    float *table, *proj, *out;
    const int32_t *ids;
    int N, V, D;
} emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *c = p;
    assay_nn_embedding_forward(c->out, c->ids, c->table, c->N, c->V, c->D);
    return gc_dot(c->out, c->proj, (int64_t)c->N * c->D);
}

static void test_gradcheck_embedding(void) {
    assay_rng r;
    assay_rng_seed(&r, 31);
    static const int32_t ids[] = {2, 0, 2, 4, 2, 0}; /* 2 three times, 0 twice, 1 and 3 never */
    const int N = 6, V = 5, D = 3;
    emb_ctx c = {randn(V * D, 1, 0, &r), randn(N * D, 1, 0, &r), zeros(N * D), ids, N, V, D};
    float *dtable = zeros(V * D);
    assay_nn_embedding_backward(dtable, c.proj, ids, N, V, D);
    gc_check("embedding dtable", c.table, dtable, V * D, emb_loss, &c, NORM_H, NORM_TOL, 200,
             NORM_FLOOR);
    for (int d = 0; d < D; d++) { /* rows never looked up get nothing */
        CHECK(dtable[1 * D + d] == 0 && dtable[3 * D + d] == 0);
    }
    free(c.table), free(c.proj), free(c.out), free(dtable);
}

typedef struct loss_ctx {
    int kind; /* 0 xent, 1 bce, 2 mse */
    float *x, *y, *w, *grad;
    int32_t *labels;
    int N, K;
    float smoothing;
} loss_ctx;

static double loss_call(loss_ctx *c, float *grad) {
    switch (c->kind) {
    case 0: return assay_nn_softmax_xent(grad, c->x, c->labels, c->w, c->N, c->K, c->smoothing);
    case 1: return assay_nn_bce_logits(grad, c->x, c->y, c->w, c->N);
    default: return assay_nn_mse(grad, c->x, c->y, c->w, c->N);
    }
}

static double loss_fn(void *p) { return loss_call(p, NULL); }

static void gradcheck_loss(int kind, int weighted, float smoothing, const char *name) {
    assay_rng r;
    assay_rng_seed(&r, 41 + (uint64_t)kind * 7 + (uint64_t)weighted);
    loss_ctx c = {kind, NULL, NULL, NULL, NULL, NULL, 6, kind == 0 ? 4 : 1, smoothing};
    int64_t n = (int64_t)c.N * c.K;
    c.x = randn(n, 2, 0, &r);
    c.y = zeros(c.N);
    c.labels = malloc(sizeof(int32_t) * (size_t)c.N);
    for (int i = 0; i < c.N; i++) {
        c.labels[i] = (int32_t)assay_rng_below(&r, (uint64_t)c.K);
        c.y[i] = kind == 1 ? (float)assay_rng_uniform(&r) : (float)assay_rng_normal(&r);
    }
    if (weighted) {
        c.w = zeros(c.N);
        for (int i = 0; i < c.N; i++) c.w[i] = (float)(0.1 + 2 * assay_rng_uniform(&r));
    }
    c.grad = zeros(n);
    double l = loss_call(&c, c.grad);
    CHECK_MSG(loss_fn(&c) == l, "%s: loss differs without the gradient", name);
    gc_check(name, c.x, c.grad, n, loss_fn, &c, LOSS_H, LOSS_TOL, 200, LOSS_FLOOR);
    free(c.x), free(c.y), free(c.w), free(c.grad), free(c.labels);
}

static void test_gradcheck_losses(void) {
    gradcheck_loss(0, 0, 0.0f, "xent dlogits");
    gradcheck_loss(0, 0, 0.1f, "xent smoothed dlogits");
    gradcheck_loss(0, 1, 0.0f, "xent weighted dlogits");
    gradcheck_loss(0, 1, 0.25f, "xent smoothed weighted dlogits");
    gradcheck_loss(1, 0, 0.0f, "bce dlogits");
    gradcheck_loss(1, 1, 0.0f, "bce weighted dlogits");
    gradcheck_loss(2, 0, 0.0f, "mse dpred");
    gradcheck_loss(2, 1, 0.0f, "mse weighted dpred");
}

/* ---- backward passes add; NULL gradients are skipped ------------------------------------- */

/* got == prefill + 2 g, up to float rounding of the two additions. */
static void check_added(const char *name, const float *got, const float *prefill, const float *g,
                        int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = (double)prefill[i] + 2.0 * g[i];
        double e = fabs(got[i] - want) / (1e-6 + fabs(prefill[i]) + 2 * fabs(g[i]));
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 1e-6, "%s: backward does not add (relative error %.3g)", name, worst);
}

static void test_backward_adds(void) {
    assay_rng r;
    assay_rng_seed(&r, 51);
    enum { B = 4, C = 3, S = 5, NB = B * C * S, N = 6, D = 9, V = 4 };
    float *inp = randn(NB, 1, 0, &r), *gamma = randn(C, 0.5, 1, &r), *beta = randn(C, 1, 0, &r);
    float *dout = randn(NB, 1, 0, &r), out[NB], mean[C], rstd[C], rm[C] = {0}, rv[C] = {1, 1, 1};
    assay_nn_batchnorm_forward(out, mean, rstd, rm, rv, inp, gamma, beta, B, C, S, 0.1f, 1e-5f, 1);
    float g_inp[NB] = {0}, g_gamma[C] = {0}, g_beta[C] = {0};
    assay_nn_batchnorm_backward(g_inp, g_gamma, g_beta, dout, inp, mean, rstd, gamma, B, C, S);
    float *p_inp = randn(NB, 1, 0, &r), *p_gamma = randn(C, 1, 0, &r), *p_beta = randn(C, 1, 0, &r);
    float *a_inp = copy(p_inp, NB), *a_gamma = copy(p_gamma, C), *a_beta = copy(p_beta, C);
    for (int k = 0; k < 2; k++) {
        assay_nn_batchnorm_backward(a_inp, a_gamma, a_beta, dout, inp, mean, rstd, gamma, B, C, S);
    }
    check_added("batchnorm dinp", a_inp, p_inp, g_inp, NB);
    check_added("batchnorm dgamma", a_gamma, p_gamma, g_gamma, C);
    check_added("batchnorm dbeta", a_beta, p_beta, g_beta, C);
    /* NULL gradients: the others come out the same, bit for bit */
    float n_inp[NB] = {0}, n_gamma[C] = {0}, n_beta[C] = {0};
    assay_nn_batchnorm_backward(n_inp, NULL, NULL, dout, inp, mean, rstd, gamma, B, C, S);
    assay_nn_batchnorm_backward(NULL, n_gamma, NULL, dout, inp, mean, rstd, gamma, B, C, S);
    assay_nn_batchnorm_backward(NULL, NULL, n_beta, dout, inp, mean, rstd, gamma, B, C, S);
    assay_nn_batchnorm_backward(NULL, NULL, NULL, dout, inp, mean, rstd, gamma, B, C, S);
    CHECK(memcmp(n_inp, g_inp, sizeof n_inp) == 0);
    CHECK(memcmp(n_gamma, g_gamma, sizeof n_gamma) == 0);
    CHECK(memcmp(n_beta, g_beta, sizeof n_beta) == 0);
    free(inp), free(gamma), free(beta), free(dout), free(p_inp), free(p_gamma), free(p_beta);
    free(a_inp), free(a_gamma), free(a_beta);

    float *x = randn(N * D, 1, 0, &r), *lg = randn(D, 0.5, 1, &r), *lb = randn(D, 1, 0, &r);
    float *ldout = randn(N * D, 1, 0, &r), lout[N * D], lmean[N], lrstd[N];
    assay_nn_layernorm_forward(lout, lmean, lrstd, x, lg, lb, N, D, 1e-5f);
    float gx[N * D] = {0}, gg[D] = {0}, gb[D] = {0};
    assay_nn_layernorm_backward(gx, gg, gb, ldout, x, lmean, lrstd, lg, N, D);
    float *px = randn(N * D, 1, 0, &r), *pg = randn(D, 1, 0, &r), *pb = randn(D, 1, 0, &r);
    float *ax = copy(px, N * D), *ag = copy(pg, D), *ab = copy(pb, D);
    for (int k = 0; k < 2; k++) {
        assay_nn_layernorm_backward(ax, ag, ab, ldout, x, lmean, lrstd, lg, N, D);
    }
    check_added("layernorm dinp", ax, px, gx, N * D);
    check_added("layernorm dgamma", ag, pg, gg, D);
    check_added("layernorm dbeta", ab, pb, gb, D);
    float nx[N * D] = {0}, ng[D] = {0}, nb[D] = {0};
    assay_nn_layernorm_backward(nx, NULL, NULL, ldout, x, lmean, lrstd, lg, N, D);
    assay_nn_layernorm_backward(NULL, ng, NULL, ldout, x, lmean, lrstd, lg, N, D);
    assay_nn_layernorm_backward(NULL, NULL, nb, ldout, x, lmean, lrstd, lg, N, D);
    assay_nn_layernorm_backward(NULL, NULL, NULL, ldout, x, lmean, lrstd, lg, N, D);
    CHECK(memcmp(nx, gx, sizeof nx) == 0);
    CHECK(memcmp(ng, gg, sizeof ng) == 0);
    CHECK(memcmp(nb, gb, sizeof nb) == 0);
    free(x), free(lg), free(lb), free(ldout), free(px), free(pg), free(pb), free(ax), free(ag);
    free(ab);

    static const int32_t ids[N] = {1, 1, 0, 3, 1, 0};
    float *edout = randn(N * D, 1, 0, &r), et[V * D] = {0};
    assay_nn_embedding_backward(et, edout, ids, N, V, D);
    float *pt = randn(V * D, 1, 0, &r), *at = copy(pt, V * D);
    for (int k = 0; k < 2; k++) assay_nn_embedding_backward(at, edout, ids, N, V, D);
    check_added("embedding dtable", at, pt, et, V * D);
    assay_nn_embedding_backward(NULL, edout, ids, N, V, D);
    free(edout), free(pt), free(at);
}

/* Losses WRITE their gradient: stale values in the buffer do not leak in. */
static void test_losses_write(void) {
    const float logits[6] = {0.5f, -1, 2, 0, 1, -0.5f}, t[6] = {1, 0, 1, 0, 0.5f, 1};
    const int32_t labels[2] = {2, 0};
    float g1[6] = {0}, g2[6] = {7, 7, 7, 7, 7, 7};
    double a = assay_nn_softmax_xent(g1, logits, labels, NULL, 2, 3, 0.1f);
    double b = assay_nn_softmax_xent(g2, logits, labels, NULL, 2, 3, 0.1f);
    CHECK(a == b && memcmp(g1, g2, sizeof g1) == 0);
    for (int i = 0; i < 6; i++) g2[i] = 7;
    a = assay_nn_bce_logits(g1, logits, t, NULL, 6);
    b = assay_nn_bce_logits(g2, logits, t, NULL, 6);
    CHECK(a == b && memcmp(g1, g2, sizeof g1) == 0);
    for (int i = 0; i < 6; i++) g2[i] = 7;
    a = assay_nn_mse(g1, logits, t, NULL, 6);
    b = assay_nn_mse(g2, logits, t, NULL, 6);
    CHECK(a == b && memcmp(g1, g2, sizeof g1) == 0);
}

/* ---- PyTorch parity -----------------------------------------------------------------------
 * References are computed by PyTorch in float64 from the same float32 inputs. Norm layers and
 * embedding: |got - want| <= 1e-5 |want| + 1e-6 (float32 outputs of O(1) values). Losses:
 * the loss (double) within 1e-10 relative, the gradient within 1e-6 |want| + 1e-9 (float32
 * rounding of a double computation). Each case prints its largest difference per quantity. */

#define NORM_RTOL 1e-5
#define NORM_ATOL 1e-6
#define LOSS_RTOL 1e-10
#define GRAD_RTOL 1e-6
#define GRAD_ATOL 1e-9


/* A float array from the fixture (NULL for JSON null), checked to hold n values. */
static float *floats(const json_t *c, const char *key, int64_t n) {
    const json_t *a = json_object_get(c, key);
    if (json_is_null(a)) return NULL;
    CHECK_MSG(json_is_array(a) && (int64_t)json_array_size(a) == n, "%s: %lld values expected",
              key, (long long)n);
    float *v = zeros(n);
    for (int64_t i = 0; i < n && i < (int64_t)json_array_size(a); i++) {
        v[i] = (float)json_number_value(json_array_get(a, (size_t)i));
    }
    return v;
}

static int32_t *ints(const json_t *c, const char *key, int64_t n) {
    const json_t *a = json_object_get(c, key);
    CHECK(json_is_array(a) && (int64_t)json_array_size(a) == n);
    int32_t *v = calloc((size_t)(n > 0 ? n : 1), sizeof(int32_t));
    for (int64_t i = 0; i < n && i < (int64_t)json_array_size(a); i++) {
        v[i] = (int32_t)json_integer_value(json_array_get(a, (size_t)i));
    }
    return v;
}

static int get_int(const json_t *c, const char *key) {
    return (int)json_integer_value(json_object_get(c, key));
}

static double get_num(const json_t *c, const char *key) {
    return json_number_value(json_object_get(c, key));
}

/* Compare got (n) with the fixture's key; append "key maxdiff" to line. */
static void near_all(char *line, size_t cap, const char *name, const char *key, const float *got,
                     const json_t *c, int64_t n, double rtol, double atol) {
    const json_t *a = json_object_get(c, key);
    CHECK_MSG(json_is_array(a) && (int64_t)json_array_size(a) == n, "%s %s: size", name, key);
    double worst = 0;
    int64_t bad = -1;
    double bad_got = 0, bad_want = 0;
    for (int64_t i = 0; i < n && i < (int64_t)json_array_size(a); i++) {
        double want = json_number_value(json_array_get(a, (size_t)i));
        double d = fabs(got[i] - want);
        if (d > worst) worst = d;
        if (!(d <= rtol * fabs(want) + atol) && bad < 0) bad = i, bad_got = got[i], bad_want = want;
    }
    CHECK_MSG(bad < 0, "%s %s[%lld]: got %.9g, PyTorch %.9g", name, key, (long long)bad, bad_got,
              bad_want);
    size_t len = strlen(line);
    snprintf(line + len, cap - len, " %s %.2g", key, worst);
}

static void test_parity_batchnorm(json_t *doc) {
    json_t *cases = json_object_get(doc, "batchnorm");
    CHECK(json_array_size(cases) > 0);
    size_t k;
    json_t *c;
    json_array_foreach(cases, k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int B = get_int(c, "B"), C = get_int(c, "C"), S = get_int(c, "S");
        int64_t n = (int64_t)B * C * S;
        float *inp = floats(c, "inp", n), *gamma = floats(c, "gamma", C);
        float *beta = floats(c, "beta", C), *rm = floats(c, "running_mean0", C);
        float *rv = floats(c, "running_var0", C), *dout = floats(c, "dout", n);
        float *out = zeros(n), *mean = zeros(C), *rstd = zeros(C);
        float *dinp = zeros(n), *dgamma = zeros(C), *dbeta = zeros(C);
        assay_nn_batchnorm_forward(out, mean, rstd, rm, rv, inp, gamma, beta, B, C, S,
                                   (float)get_num(c, "momentum"), (float)get_num(c, "eps"), 1);
        assay_nn_batchnorm_backward(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, B, C, S);
        char line[512] = "";
        near_all(line, sizeof line, name, "out", out, c, n, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "mean", mean, c, C, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "rstd", rstd, c, C, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "running_mean", rm, c, C, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "running_var", rv, c, C, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dinp", dinp, c, n, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dgamma", dgamma, c, C, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dbeta", dbeta, c, C, NORM_RTOL, NORM_ATOL);
        /* eval mode with the updated running statistics: they stay as they are */
        float *rm1 = copy(rm, C), *rv1 = copy(rv, C);
        assay_nn_batchnorm_forward(out, mean, rstd, rm, rv, inp, gamma, beta, B, C, S,
                                   (float)get_num(c, "momentum"), (float)get_num(c, "eps"), 0);
        near_all(line, sizeof line, name, "out_eval", out, c, n, NORM_RTOL, NORM_ATOL);
        CHECK(memcmp(rm1, rm, sizeof(float) * (size_t)C) == 0);
        CHECK(memcmp(rv1, rv, sizeof(float) * (size_t)C) == 0);
        CHECK(memcmp(rm1, mean, sizeof(float) * (size_t)C) == 0);
        printf("  parity %-14s largest |diff|:%s\n", name, line);
        free(inp), free(gamma), free(beta), free(rm), free(rv), free(dout), free(out), free(mean);
        free(rstd), free(dinp), free(dgamma), free(dbeta), free(rm1), free(rv1);
    }
}

static void test_parity_layernorm(json_t *doc) {
    json_t *cases = json_object_get(doc, "layernorm");
    CHECK(json_array_size(cases) > 0);
    size_t k;
    json_t *c;
    json_array_foreach(cases, k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int N = get_int(c, "N"), D = get_int(c, "D");
        int64_t n = (int64_t)N * D;
        float *inp = floats(c, "inp", n), *gamma = floats(c, "gamma", D);
        float *beta = floats(c, "beta", D), *dout = floats(c, "dout", n);
        float *out = zeros(n), *mean = zeros(N), *rstd = zeros(N);
        float *dinp = zeros(n), *dgamma = zeros(D), *dbeta = zeros(D);
        assay_nn_layernorm_forward(out, mean, rstd, inp, gamma, beta, N, D,
                                   (float)get_num(c, "eps"));
        assay_nn_layernorm_backward(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, N, D);
        char line[512] = "";
        near_all(line, sizeof line, name, "out", out, c, n, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "mean", mean, c, N, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "rstd", rstd, c, N, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dinp", dinp, c, n, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dgamma", dgamma, c, D, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dbeta", dbeta, c, D, NORM_RTOL, NORM_ATOL);
        printf("  parity %-14s largest |diff|:%s\n", name, line);
        free(inp), free(gamma), free(beta), free(dout), free(out), free(mean), free(rstd);
        free(dinp), free(dgamma), free(dbeta);
    }
}

static void test_parity_embedding(json_t *doc) {
    json_t *cases = json_object_get(doc, "embedding");
    CHECK(json_array_size(cases) > 0);
    size_t k;
    json_t *c;
    json_array_foreach(cases, k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int N = get_int(c, "N"), V = get_int(c, "V"), D = get_int(c, "D");
        int32_t *ids = ints(c, "ids", N);
        float *table = floats(c, "table", (int64_t)V * D), *dout = floats(c, "dout", (int64_t)N * D);
        float *out = zeros((int64_t)N * D), *dtable = zeros((int64_t)V * D);
        assay_nn_embedding_forward(out, ids, table, N, V, D);
        assay_nn_embedding_backward(dtable, dout, ids, N, V, D);
        char line[512] = "";
        near_all(line, sizeof line, name, "out", out, c, (int64_t)N * D, NORM_RTOL, NORM_ATOL);
        near_all(line, sizeof line, name, "dtable", dtable, c, (int64_t)V * D, NORM_RTOL,
                 NORM_ATOL);
        printf("  parity %-14s largest |diff|:%s\n", name, line);
        free(ids), free(table), free(dout), free(out), free(dtable);
    }
}

static void test_parity_losses(json_t *doc) {
    static const char *kinds[3] = {"xent", "bce", "mse"};
    for (int kind = 0; kind < 3; kind++) {
        json_t *cases = json_object_get(doc, kinds[kind]);
        CHECK(json_array_size(cases) > 0);
        size_t k;
        json_t *c;
        json_array_foreach(cases, k, c) {
            const char *name = json_string_value(json_object_get(c, "name"));
            int N = get_int(c, "N"), K = kind == 0 ? get_int(c, "K") : 1;
            int64_t n = (int64_t)N * K;
            loss_ctx lc = {kind, NULL, NULL, NULL, NULL, NULL, N, K, 0};
            lc.x = floats(c, kind == 2 ? "pred" : "logits", n);
            lc.w = floats(c, "weights", N);
            if (kind == 0) {
                lc.labels = ints(c, "labels", N);
                lc.smoothing = (float)get_num(c, "smoothing");
            } else {
                lc.y = floats(c, kind == 1 ? "targets" : "target", N);
            }
            float *grad = zeros(n);
            double loss = loss_call(&lc, grad), want = get_num(c, "loss");
            double d = fabs(loss - want);
            CHECK_MSG(d <= LOSS_RTOL * fabs(want), "%s loss: got %.17g, PyTorch %.17g", name, loss,
                      want);
            char line[512];
            snprintf(line, sizeof line, " loss %.2g (%.17g)", d, loss);
            near_all(line, sizeof line, name, kind == 2 ? "dpred" : "dlogits", grad, c, n,
                     GRAD_RTOL, GRAD_ATOL);
            printf("  parity %-22s largest |diff|:%s\n", name, line);
            free(lc.x), free(lc.y), free(lc.w), free(lc.labels), free(grad);
        }
    }
}

static void test_parity(void) {
    json_t *doc = fixture("nn_kernels.json");
    CHECK(doc != NULL);
    if (!doc) return;
    test_parity_batchnorm(doc);
    test_parity_layernorm(doc);
    test_parity_embedding(doc);
    test_parity_losses(doc);
    json_decref(doc);
}

/* ---- bit-identical across thread counts ---------------------------------------------------
 * Sizes above the kernels' parallel threshold; 1 thread is the reference for 2 and 3. */

typedef struct det_run {
    float *bn_out, *bn_mean, *bn_rstd, *bn_rm, *bn_rv, *bn_dinp, *bn_dgamma, *bn_dbeta;
    float *ln_out, *ln_mean, *ln_rstd, *ln_dinp, *ln_dgamma, *ln_dbeta;
    float *emb_out, *emb_dtable, *xent_g, *bce_g, *mse_g;
    double xent, bce, mse;
} det_run;

enum { DB = 8, DC = 16, DS = 300, DN = 400, DD = 100, EN = 1000, EV = 37, ED = 64,
       XN = 5000, XK = 10, BN = 40000 };

static void det_compute(det_run *o, const float *x, const float *dy, const float *g,
                        const float *b, const int32_t *ids, const int32_t *labels,
                        const float *w, const float *t) {
    const int64_t nb = (int64_t)DB * DC * DS;
    *o = (det_run){zeros(nb), zeros(DC), zeros(DC), zeros(DC), zeros(DC), zeros(nb), zeros(DC),
                   zeros(DC), zeros(DN * DD), zeros(DN), zeros(DN), zeros(DN * DD), zeros(DD),
                   zeros(DD), zeros(EN * ED), zeros(EV * ED), zeros(XN * XK), zeros(BN),
                   zeros(BN), 0, 0, 0};
    for (int c = 0; c < DC; c++) o->bn_rv[c] = 1;
    assay_nn_batchnorm_forward(o->bn_out, o->bn_mean, o->bn_rstd, o->bn_rm, o->bn_rv, x, g, b, DB,
                               DC, DS, 0.1f, 1e-5f, 1);
    assay_nn_batchnorm_backward(o->bn_dinp, o->bn_dgamma, o->bn_dbeta, dy, x, o->bn_mean,
                                o->bn_rstd, g, DB, DC, DS);
    assay_nn_layernorm_forward(o->ln_out, o->ln_mean, o->ln_rstd, x, g, b, DN, DD, 1e-5f);
    assay_nn_layernorm_backward(o->ln_dinp, o->ln_dgamma, o->ln_dbeta, dy, x, o->ln_mean,
                                o->ln_rstd, g, DN, DD);
    assay_nn_embedding_forward(o->emb_out, ids, x, EN, EV, ED);
    assay_nn_embedding_backward(o->emb_dtable, dy, ids, EN, EV, ED);
    o->xent = assay_nn_softmax_xent(o->xent_g, x, labels, w, XN, XK, 0.1f);
    o->bce = assay_nn_bce_logits(o->bce_g, x, t, w, BN);
    o->mse = assay_nn_mse(o->mse_g, x, t, w, BN);
}

static void det_free(det_run *o) {
    float **f[] = {&o->bn_out, &o->bn_mean, &o->bn_rstd, &o->bn_rm, &o->bn_rv, &o->bn_dinp,
                   &o->bn_dgamma, &o->bn_dbeta, &o->ln_out, &o->ln_mean, &o->ln_rstd,
                   &o->ln_dinp, &o->ln_dgamma, &o->ln_dbeta, &o->emb_out, &o->emb_dtable,
                   &o->xent_g, &o->bce_g, &o->mse_g};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) free(*f[i]);
}

#define SAME(a, b, n, what) \
    CHECK_MSG(memcmp((a), (b), sizeof(float) * (size_t)(n)) == 0, "%s differs, %d threads", what, \
              threads)

static void test_determinism(void) {
    assay_rng r;
    assay_rng_seed(&r, 61);
    const int64_t nx = (int64_t)EN * ED; /* the largest input (embedding's dout) */
    float *x = randn(nx, 2, 0.5, &r), *dy = randn(nx, 1, 0, &r), *g = randn(DD, 0.5, 1, &r);
    float *b = randn(DD, 1, 0, &r), *w = zeros(BN), *t = zeros(BN);
    int32_t *ids = malloc(sizeof(int32_t) * EN), *labels = malloc(sizeof(int32_t) * XN);
    for (int i = 0; i < EN; i++) ids[i] = (int32_t)assay_rng_below(&r, 5); /* many repeats */
    for (int i = 0; i < XN; i++) labels[i] = (int32_t)assay_rng_below(&r, XK);
    for (int i = 0; i < BN; i++) {
        w[i] = (float)assay_rng_uniform(&r);
        t[i] = (float)assay_rng_uniform(&r);
    }
    int saved = omp_get_max_threads();
    det_run ref, run;
    omp_set_num_threads(1);
    det_compute(&ref, x, dy, g, b, ids, labels, w, t);
    for (int threads = 2; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        det_compute(&run, x, dy, g, b, ids, labels, w, t);
        const int64_t nb = (int64_t)DB * DC * DS;
        SAME(ref.bn_out, run.bn_out, nb, "batchnorm out");
        SAME(ref.bn_mean, run.bn_mean, DC, "batchnorm mean");
        SAME(ref.bn_rstd, run.bn_rstd, DC, "batchnorm rstd");
        SAME(ref.bn_rm, run.bn_rm, DC, "batchnorm running_mean");
        SAME(ref.bn_rv, run.bn_rv, DC, "batchnorm running_var");
        SAME(ref.bn_dinp, run.bn_dinp, nb, "batchnorm dinp");
        SAME(ref.bn_dgamma, run.bn_dgamma, DC, "batchnorm dgamma");
        SAME(ref.bn_dbeta, run.bn_dbeta, DC, "batchnorm dbeta");
        SAME(ref.ln_out, run.ln_out, DN * DD, "layernorm out");
        SAME(ref.ln_mean, run.ln_mean, DN, "layernorm mean");
        SAME(ref.ln_rstd, run.ln_rstd, DN, "layernorm rstd");
        SAME(ref.ln_dinp, run.ln_dinp, DN * DD, "layernorm dinp");
        SAME(ref.ln_dgamma, run.ln_dgamma, DD, "layernorm dgamma");
        SAME(ref.ln_dbeta, run.ln_dbeta, DD, "layernorm dbeta");
        SAME(ref.emb_out, run.emb_out, EN * ED, "embedding out");
        SAME(ref.emb_dtable, run.emb_dtable, EV * ED, "embedding dtable");
        SAME(ref.xent_g, run.xent_g, XN * XK, "xent dlogits");
        SAME(ref.bce_g, run.bce_g, BN, "bce dlogits");
        SAME(ref.mse_g, run.mse_g, BN, "mse dpred");
        CHECK_MSG(ref.xent == run.xent && ref.bce == run.bce && ref.mse == run.mse,
                  "loss differs, %d threads", threads);
        det_free(&run);
    }
    omp_set_num_threads(saved);
    det_free(&ref);
    free(x), free(dy), free(g), free(b), free(w), free(t), free(ids), free(labels);
}

/* ---- edges -------------------------------------------------------------------------------- */

static void test_batchnorm_edges(void) {
    /* one value per channel (B = 1, S = 1): PyTorch refuses; here out = beta, finite stats */
    float x[2] = {3, -1}, g[2] = {2, 0.5f}, b[2] = {0.25f, -1}, out[2], mean[2], rstd[2];
    float rm[2] = {0, 0}, rv[2] = {1, 1};
    assay_nn_batchnorm_forward(out, mean, rstd, rm, rv, x, g, b, 1, 2, 1, 0.1f, 1e-5f, 1);
    CHECK(out[0] == b[0] && out[1] == b[1]);
    CHECK(isfinite(rv[0]) && isfinite(rv[1]));
    CHECK_NEAR(rm[0], 0.3, 1e-7);
    float dx[2] = {0}, dg[2] = {0}, db[2] = {0}, dy[2] = {1, 1};
    assay_nn_batchnorm_backward(dx, dg, db, dy, x, mean, rstd, g, 1, 2, 1);
    CHECK(dx[0] == 0 && dx[1] == 0 && dg[0] == 0 && db[0] == 1);
    /* a constant channel: variance 0, rstd = 1 / sqrt(eps), out = beta, no NaN */
    float xc[6] = {5, 5, 5, 5, 5, 5}, oc[6], mc[2], rc[2], rmc[2] = {0}, rvc[2] = {1, 1};
    assay_nn_batchnorm_forward(oc, mc, rc, rmc, rvc, xc, g, b, 3, 2, 1, 0.1f, 1e-5f, 1);
    for (int i = 0; i < 6; i++) CHECK(oc[i] == b[i % 2]);
    CHECK_NEAR(rc[0], 1 / sqrt(1e-5), 1e-3);
    CHECK_NEAR(rvc[0], 0.9, 1e-7);
    /* NULL gamma/beta: the non-affine variant */
    float on[6], xn[6] = {1, 2, 3, 4, 5, 7};
    assay_nn_batchnorm_forward(on, mc, rc, rmc, rvc, xn, NULL, NULL, 3, 2, 1, 0.1f, 0, 1);
    CHECK_NEAR(on[0] + on[2] + on[4], 0, 1e-6);
    CHECK_NEAR(on[0] * on[0] + on[2] * on[2] + on[4] * on[4], 3, 1e-5);
}

static void test_layernorm_edges(void) {
    /* D = 1: every value is its own mean, out = beta */
    float x[3] = {1, -2, 1e30f}, g = 3, b = 0.5f, out[3], mean[3], rstd[3];
    assay_nn_layernorm_forward(out, mean, rstd, x, &g, &b, 3, 1, 1e-5f);
    for (int i = 0; i < 3; i++) CHECK(out[i] == b);
    /* a NaN stays in its row */
    float y[6] = {1, 2, NAN, 4, 5, 6}, o[6], m[2], r[2];
    assay_nn_layernorm_forward(o, m, r, y, NULL, NULL, 2, 3, 0);
    CHECK(isnan(o[0]) && isnan(o[2]) && isfinite(o[3]) && isfinite(o[5]));
    CHECK_NEAR(o[3], -sqrt(1.5), 1e-5);
    /* a large offset does not cancel the variance (two passes in double) */
    float z[4] = {10000.5f, 10001.5f, 10000.5f, 10001.5f}, oz[4], mz, rz;
    assay_nn_layernorm_forward(oz, &mz, &rz, z, NULL, NULL, 1, 4, 0);
    CHECK_NEAR(oz[0], -1, 1e-6);
    CHECK_NEAR(oz[1], 1, 1e-6);
}

static void test_loss_edges(void) {
    float g[4] = {9, 9, 9, 9};
    /* no rows */
    CHECK(assay_nn_softmax_xent(g, NULL, NULL, NULL, 0, 3, 0.1f) == 0);
    CHECK(assay_nn_bce_logits(g, NULL, NULL, NULL, 0) == 0);
    CHECK(assay_nn_mse(g, NULL, NULL, NULL, 0) == 0);
    CHECK(g[0] == 9);
    /* weights summing to zero: loss 0, gradient 0 */
    const float x[4] = {1, 2, 3, 4}, t[4] = {0, 1, 0, 1}, w0[4] = {0, 0, 0, 0};
    const int32_t lab[2] = {0, 1};
    CHECK(assay_nn_softmax_xent(g, x, lab, w0, 2, 2, 0) == 0);
    CHECK(g[0] == 0 && g[3] == 0);
    CHECK(assay_nn_bce_logits(g, x, t, w0, 4) == 0);
    CHECK(assay_nn_mse(g, x, t, w0, 4) == 0);
    CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0);
    /* a zero weight drops its row */
    const float w1[2] = {1, 0}, x2[2] = {3, 100}, t2[2] = {1, 0};
    float g2[2];
    CHECK_NEAR(assay_nn_mse(g2, x2, t2, w1, 2), 4, 1e-12);
    CHECK(g2[1] == 0);
    /* huge logits: finite losses and gradients */
    const float big[6] = {1e30f, -1e30f, 0, 3e38f, -3e38f, 1};
    const int32_t lb[2] = {1, 0};
    float gb[6];
    double l = assay_nn_softmax_xent(gb, big, lb, NULL, 2, 3, 0.1f);
    CHECK(isfinite(l) && l > 1e29);
    for (int i = 0; i < 6; i++) CHECK(isfinite(gb[i]));
    CHECK_NEAR(gb[0], 0.5 * (1 - (0.1 / 3)), 1e-6); /* p = 1 on the wrong class */
    const float tb[6] = {1, 1, 0, 0, 0.5f, 1};
    l = assay_nn_bce_logits(gb, big, tb, NULL, 6);
    CHECK(isfinite(l));
    for (int i = 0; i < 6; i++) CHECK(isfinite(gb[i]));
    CHECK_NEAR(gb[0], 0, 1e-12);
    CHECK_NEAR(gb[1], -1.0 / 6, 1e-7);
    /* the smoothed loss of a perfect prediction is the smoothing's entropy cost, not 0 */
    const float sure[3] = {100, 0, 0};
    const int32_t l0[1] = {0};
    CHECK_NEAR(assay_nn_softmax_xent(NULL, sure, l0, NULL, 1, 3, 0.25f), 0.25 / 3 * 200, 1e-9);
}

int main(void) {
    RUN(test_gradcheck_batchnorm);
    RUN(test_gradcheck_layernorm);
    RUN(test_gradcheck_embedding);
    RUN(test_gradcheck_losses);
    RUN(test_backward_adds);
    RUN(test_losses_write);
    RUN(test_parity);
    RUN(test_determinism);
    RUN(test_batchnorm_edges);
    RUN(test_layernorm_edges);
    RUN(test_loss_edges);
    return check_summary();
}
