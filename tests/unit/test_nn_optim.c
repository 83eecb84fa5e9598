/* test_nn_optim.c - optimizers, schedules, clipping and initializers of src/nn/optim.c.
 *
 * Parity with PyTorch 1.13 on a committed fixture (tests/parity/gen/gen_nn_optim.py): ten steps
 * of SGD (with and without weight decay), momentum, Nesterov, Adam (L2) and AdamW over a flat
 * weight + bias buffer, the bias stepped with wd_scale 0 (PyTorch: a second parameter group with
 * weight_decay 0), each step's lr from assay's schedule compared with PyTorch's scheduler, every
 * step's parameters compared; clip_grad_norm_ clipped and not clipped. Then: the gradient norm is
 * bit-identical on 1 and 2 threads, schedule edges, and the initializers' moments and seeding. */
#include <jansson.h>
#include <stdint.h>

#include "assay/nn.h"
#include "check.h"
#include "fixture.h"

/* Parameters: |assay - torch| <= PARAM_TOL max(1, |torch|). Both compute in float32; they
 * differ by a few ulps because PyTorch's vectorized add(alpha=) is a fused multiply-add and
 * because float hyperparameters round differently (1 - 0.9f is not (float)(1 - 0.9)). */
static const double PARAM_TOL = 1e-6;
static const double LR_TOL = 1e-12;


static double num(const json_t *o, const char *key) {
    return json_number_value(json_object_get(o, key));
}

/* A JSON array of numbers into floats (n of them); returns how many it holds. */
static size_t floats(float *out, size_t n, const json_t *a) {
    size_t k = json_array_size(a);
    for (size_t i = 0; i < k && i < n; i++) out[i] = (float)json_number_value(json_array_get(a, i));
    return k;
}

static assay_nn_optimizer kind_of(const char *s) {
    if (strcmp(s, "momentum") == 0) return ASSAY_NN_MOMENTUM;
    if (strcmp(s, "nesterov") == 0) return ASSAY_NN_NESTEROV;
    if (strcmp(s, "adam") == 0) return ASSAY_NN_ADAM;
    if (strcmp(s, "adamw") == 0) return ASSAY_NN_ADAMW;
    return ASSAY_NN_SGD;
}

static assay_nn_sched_kind sched_of(const char *s) {
    if (strcmp(s, "step") == 0) return ASSAY_NN_SCHED_STEP;
    if (strcmp(s, "cosine") == 0) return ASSAY_NN_SCHED_COSINE;
    if (strcmp(s, "linear") == 0) return ASSAY_NN_SCHED_LINEAR;
    return ASSAY_NN_SCHED_CONSTANT;
}

#define NMAX 64

static void test_optim_parity(void) {
    json_t *doc = fixture("nn_optim.json");
    CHECK(doc != NULL);
    if (!doc) return;
    const int steps = (int)json_integer_value(json_object_get(doc, "steps"));
    const int64_t nw = json_integer_value(json_object_get(doc, "n_weight"));
    const int64_t nb = json_integer_value(json_object_get(doc, "n_bias"));
    const int64_t n = nw + nb;
    CHECK(steps == 10 && n > 0 && n <= NMAX);
    if (n <= 0 || n > NMAX) goto done;
    float init[NMAX], grads[10][NMAX];
    CHECK(floats(init, NMAX, json_object_get(doc, "init")) == (size_t)n);
    for (int k = 0; k < steps; k++)
        CHECK(floats(grads[k], NMAX, json_array_get(json_object_get(doc, "grads"), (size_t)k)) ==
              (size_t)n);

    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        assay_nn_optim o;
        assay_nn_optim_defaults(&o, kind_of(json_string_value(json_object_get(c, "kind"))));
        /* The fixture uses PyTorch's defaults; check ours are the same, then take the case's. */
        CHECK(o.momentum == (float)num(c, "momentum") && o.beta1 == (float)num(c, "beta1") &&
              o.beta2 == (float)num(c, "beta2") && o.eps == (float)num(c, "eps"));
        o.weight_decay = (float)num(c, "weight_decay");
        const json_t *sj = json_object_get(c, "schedule");
        assay_nn_schedule s = {
            .kind = sched_of(json_string_value(json_object_get(sj, "kind"))),
            .lr = num(sj, "lr"), .min_lr = num(sj, "min_lr"), .gamma = num(sj, "gamma"),
            .warmup = (long)json_integer_value(json_object_get(sj, "warmup")),
            .step_size = (long)json_integer_value(json_object_get(sj, "step_size")),
            .total = (long)json_integer_value(json_object_get(sj, "total")),
        };
        float p[NMAX], m[NMAX] = {0}, v[NMAX] = {0}, want[NMAX];
        memcpy(p, init, sizeof(float) * (size_t)n);
        double max_param = 0.0, max_lr = 0.0;
        int bad = 0;
        for (int k = 0; k < steps; k++) {
            double lr = assay_nn_schedule_lr(&s, k);
            double lr_want = json_number_value(json_array_get(json_object_get(c, "lrs"), (size_t)k));
            double dl = fabs(lr - lr_want);
            if (dl > max_lr) max_lr = dl;
            CHECK_MSG(dl <= LR_TOL * fmax(1e-3, fabs(lr_want)), "%s step %d: lr %.17g, torch %.17g",
                      name, k, lr, lr_want);
            /* weight with the case's decay, bias with none: one flat buffer, two ranges */
            assay_nn_optim_step(&o, p, grads[k], m, v, nw, k + 1, (float)lr, 1.0f);
            assay_nn_optim_step(&o, p + nw, grads[k] + nw, m + nw, v + nw, nb, k + 1, (float)lr,
                                0.0f);
            floats(want, NMAX, json_array_get(json_object_get(c, "params"), (size_t)k));
            for (int64_t i = 0; i < n; i++) {
                double d = fabs((double)p[i] - (double)want[i]);
                if (d > max_param) max_param = d;
                if (d > PARAM_TOL * fmax(1.0, fabs((double)want[i])) && bad++ < 5)
                    fprintf(stderr, "%s step %d param %d: %.9g, torch %.9g\n", name, k + 1, (int)i,
                            (double)p[i], (double)want[i]);
            }
        }
        CHECK_MSG(bad == 0, "%s: %d parameters off", name, bad);
        /* The case must actually move the parameters, or it proves nothing. */
        CHECK_MSG(fabs((double)p[0] - (double)init[0]) > 1e-4, "%s: parameters did not move", name);
        fprintf(stderr, "  %-12s largest |param - torch| %.3g, |lr - torch| %.3g\n", name, max_param,
                max_lr);
    }
done:
    json_decref(doc);
}

static void test_clip_parity(void) {
    json_t *doc = fixture("nn_optim.json");
    CHECK(doc != NULL);
    if (!doc) return;
    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(doc, "clip"), ci, c) {
        float g[NMAX], want[NMAX];
        size_t n = floats(g, NMAX, json_object_get(c, "grads"));
        CHECK(n > 0 && n <= NMAX && floats(want, NMAX, json_object_get(c, "clipped")) == n);
        if (n == 0 || n > NMAX) continue;
        double norm = assay_nn_clip_grad_norm(g, (int64_t)n, num(c, "max_norm"));
        double norm_want = num(c, "norm");
        /* torch sums in float32, assay in double */
        CHECK_MSG(fabs(norm - norm_want) <= 1e-6 * norm_want, "norm %.17g, torch %.17g", norm,
                  norm_want);
        double max_d = 0.0;
        for (size_t i = 0; i < n; i++) max_d = fmax(max_d, fabs((double)g[i] - (double)want[i]));
        CHECK_MSG(max_d <= 1e-6, "clipped grads differ by %g", max_d);
        fprintf(stderr, "  clip max_norm %g: norm %.9g (torch %.9g), largest |grad - torch| %.3g\n",
                num(c, "max_norm"), norm, norm_want, max_d);
    }
    json_decref(doc);
}

static void test_grad_norm_threads(void) {
    const int64_t n = 1000003; /* not a multiple of the chunk count */
    float *g = malloc(sizeof(float) * (size_t)n);
    assay_rng r;
    assay_rng_seed(&r, 7);
    for (int64_t i = 0; i < n; i++) g[i] = (float)(assay_rng_normal(&r) * (i % 3 ? 1.0 : 1e-3));
    int before = assay_threads_get();
    assay_threads_set(1);
    double one = assay_nn_grad_norm(g, n);
    assay_threads_set(2);
    double two = assay_nn_grad_norm(g, n);
    assay_threads_set(before);
    CHECK_MSG(memcmp(&one, &two, sizeof one) == 0, "1 thread %.17g, 2 threads %.17g", one, two);
    long double ref = 0.0L;
    for (int64_t i = 0; i < n; i++) ref += (long double)g[i] * (long double)g[i];
    CHECK_NEAR(one, sqrt((double)ref), 1e-12 * one);
    free(g);

    float small[3] = {3.0f, 4.0f, 0.0f};
    CHECK(assay_nn_grad_norm(small, 3) == 5.0);
    CHECK(assay_nn_grad_norm(small, 0) == 0.0);
    CHECK(assay_nn_grad_norm(small, 1) == 3.0);
}

static void test_clip_edges(void) {
    /* norm 5 below max_norm 10: unchanged bit for bit */
    float g[3] = {3.0f, -4.0f, 0.0f};
    CHECK(assay_nn_clip_grad_norm(g, 3, 10.0) == 5.0);
    CHECK(g[0] == 3.0f && g[1] == -4.0f && g[2] == 0.0f);
    /* norm equal to max_norm: coef just under 1 (the 1e-6), so PyTorch scales too */
    CHECK(assay_nn_clip_grad_norm(g, 3, 5.0) == 5.0);
    CHECK_NEAR(g[0], 3.0 * 5.0 / (5.0 + 1e-6), 1e-6);
    /* clipped to norm 1 */
    float h[2] = {30.0f, 40.0f};
    CHECK(assay_nn_clip_grad_norm(h, 2, 1.0) == 50.0);
    CHECK_NEAR(assay_nn_grad_norm(h, 2), 1.0, 1e-6);
    /* empty */
    CHECK(assay_nn_clip_grad_norm(h, 0, 1.0) == 0.0);
    /* non-finite norm: returned, grads left alone */
    float nanv[2] = {NAN, 1.0f};
    CHECK(isnan(assay_nn_clip_grad_norm(nanv, 2, 1.0)));
    CHECK(nanv[1] == 1.0f);
    float infv[2] = {INFINITY, 1.0f};
    CHECK(isinf(assay_nn_clip_grad_norm(infv, 2, 1.0)));
    CHECK(isinf(infv[0]) && infv[1] == 1.0f);
}

static void test_schedules(void) {
    assay_nn_schedule s = {.kind = ASSAY_NN_SCHED_CONSTANT, .lr = 0.5};
    CHECK(assay_nn_schedule_lr(&s, 0) == 0.5 && assay_nn_schedule_lr(&s, 1000000) == 0.5);
    s.warmup = 4;
    CHECK(assay_nn_schedule_lr(&s, 0) == 0.125);
    CHECK(assay_nn_schedule_lr(&s, 3) == 0.5 && assay_nn_schedule_lr(&s, 4) == 0.5);
    CHECK(assay_nn_schedule_lr(&s, -3) == 0.125); /* negative steps count as 0 */

    assay_nn_schedule c = {.kind = ASSAY_NN_SCHED_COSINE, .lr = 1.0, .min_lr = 0.1, .warmup = 2,
                           .total = 12};
    CHECK(assay_nn_schedule_lr(&c, 2) == 1.0);                 /* decay starts at the peak */
    CHECK_NEAR(assay_nn_schedule_lr(&c, 7), 0.55, 1e-15);      /* halfway */
    CHECK_NEAR(assay_nn_schedule_lr(&c, 12), 0.1, 1e-15);      /* min_lr at total */
    CHECK_NEAR(assay_nn_schedule_lr(&c, 5000), 0.1, 1e-15);    /* and after it */
    for (long k = 3; k <= 12; k++)
        CHECK(assay_nn_schedule_lr(&c, k) <= assay_nn_schedule_lr(&c, k - 1));

    assay_nn_schedule l = {.kind = ASSAY_NN_SCHED_LINEAR, .lr = 1.0, .min_lr = 0.0, .total = 4};
    CHECK(assay_nn_schedule_lr(&l, 0) == 1.0 && assay_nn_schedule_lr(&l, 1) == 0.75);
    CHECK(assay_nn_schedule_lr(&l, 4) == 0.0 && assay_nn_schedule_lr(&l, 9) == 0.0);
    l.warmup = 6; /* total <= warmup: min_lr right after warmup */
    CHECK(assay_nn_schedule_lr(&l, 5) == 1.0 && assay_nn_schedule_lr(&l, 6) == 0.0);

    assay_nn_schedule st = {.kind = ASSAY_NN_SCHED_STEP, .lr = 1.0, .gamma = 0.1, .step_size = 5};
    CHECK(assay_nn_schedule_lr(&st, 4) == 1.0);
    CHECK_NEAR(assay_nn_schedule_lr(&st, 5), 0.1, 1e-16);
    CHECK_NEAR(assay_nn_schedule_lr(&st, 14), 0.01, 1e-17);
    st.step_size = 0; /* no decay rather than a division by zero */
    CHECK(assay_nn_schedule_lr(&st, 100) == 1.0);
}

static void test_optim_basics(void) {
    assay_nn_optim o;
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAMW);
    CHECK(o.kind == ASSAY_NN_ADAMW && o.weight_decay == 0.01f && o.eps == 1e-8f);
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAM);
    CHECK(o.weight_decay == 0.0f && o.beta1 == 0.9f && o.beta2 == 0.999f);

    /* SGD needs no state: m and v may be NULL. p -= lr (g + wd p) */
    assay_nn_optim_defaults(&o, ASSAY_NN_SGD);
    o.weight_decay = 0.5f;
    float p[2] = {1.0f, 2.0f}, g[2] = {0.5f, -1.0f};
    assay_nn_optim_step(&o, p, g, NULL, NULL, 2, 1, 0.25f, 1.0f);
    CHECK(p[0] == 1.0f - 0.25f * (0.5f + 0.5f) && p[1] == 2.0f - 0.25f * (-1.0f + 1.0f));
    assay_nn_optim_step(&o, p, g, NULL, NULL, 2, 2, 0.25f, 0.0f); /* wd_scale 0: plain SGD */
    CHECK(p[0] == 0.75f - 0.125f && p[1] == 2.25f);

    /* Adam's first step: mhat = g, sqrt(vhat) = |g|, so each parameter moves by
     * lr g / (|g| + eps): about lr against the gradient's sign whatever its size, 0 for g = 0. */
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAM);
    float q[3] = {0.0f, 0.0f, 0.0f}, dq[3] = {1e-3f, -50.0f, 0.0f}, m[3] = {0}, v[3] = {0};
    assay_nn_optim_step(&o, q, dq, m, v, 3, 1, 0.01f, 1.0f);
    CHECK_NEAR(q[0], -0.01 * 1e-3 / (1e-3 + 1e-8), 1e-9);
    CHECK_NEAR(q[1], 0.01 * 50.0 / (50.0 + 1e-8), 1e-9);
    CHECK(q[2] == 0.0f);

    /* A large flat buffer (the parallel path) gives the same bits as steps on short pieces
     * (the serial path). */
    const int64_t n = 100000;
    float *a = malloc(sizeof(float) * (size_t)n * 7), *ga = a + n, *ma = ga + n, *va = ma + n;
    float *b = va + n, *mb = b + n, *vb = mb + n;
    assay_rng r;
    assay_rng_seed(&r, 11);
    for (int64_t i = 0; i < n; i++) {
        a[i] = (float)assay_rng_normal(&r);
        ga[i] = (float)assay_rng_normal(&r);
    }
    memcpy(b, a, sizeof(float) * (size_t)n);
    memset(ma, 0, sizeof(float) * (size_t)n * 2);
    memset(mb, 0, sizeof(float) * (size_t)n * 2);
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAMW);
    for (long t = 1; t <= 3; t++) {
        assay_nn_optim_step(&o, a, ga, ma, va, n, t, 1e-3f, 1.0f);
        for (int64_t i = 0; i < n; i += 1000)
            assay_nn_optim_step(&o, b + i, ga + i, mb + i, vb + i, 1000, t, 1e-3f, 1.0f);
    }
    CHECK(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
    CHECK(memcmp(va, vb, sizeof(float) * (size_t)n) == 0);
    free(a);
}

/* Mean and standard deviation of n floats, in double. */
static void moments(const float *w, int64_t n, double *mean, double *sd) {
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++) s += w[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += ((double)w[i] - *mean) * ((double)w[i] - *mean);
    *sd = sqrt(ss / (double)n);
}

static void test_init(void) {
    const int64_t n = 1000000;
    float *w = malloc(sizeof(float) * (size_t)n), *w2 = malloc(sizeof(float) * (size_t)n);
    assay_rng r;
    double mean, sd;
    /* Within 5 standard errors: se(mean) = sd / sqrt(n); se(sd) = sd / sqrt(2 n) for a normal,
     * sd sqrt(0.2 / n) for a uniform (from its fourth moment a^4 / 5). */
    const double z = 5.0 / sqrt((double)n);

    assay_rng_seed(&r, 1);
    assay_nn_init_he(w, n, 50, &r);
    moments(w, n, &mean, &sd);
    CHECK_NEAR(mean, 0.0, z * 0.2);
    CHECK_NEAR(sd, 0.2, z * 0.2 / sqrt(2.0));
    fprintf(stderr, "  he(50):        mean %+.2e sd %.6f (want 0.2)\n", mean, sd);

    assay_rng_seed(&r, 2);
    assay_nn_init_xavier(w, n, 100, 50, &r);
    double a = sqrt(6.0 / 150.0), amax = 0.0;
    for (int64_t i = 0; i < n; i++) amax = fmax(amax, fabs((double)w[i]));
    moments(w, n, &mean, &sd);
    CHECK_NEAR(mean, 0.0, z * a / sqrt(3.0));
    CHECK_NEAR(sd, a / sqrt(3.0), z * a / sqrt(3.0) * sqrt(0.2));
    CHECK(amax <= (double)(float)a && amax > 0.99 * a);
    fprintf(stderr, "  xavier(100,50): mean %+.2e sd %.6f (want %.6f), max |w| %.6f (a %.6f)\n",
            mean, sd, a / sqrt(3.0), amax, a);

    assay_rng_seed(&r, 3);
    assay_nn_init_normal(w, n, 0.02f, &r);
    moments(w, n, &mean, &sd);
    CHECK_NEAR(mean, 0.0, z * 0.02);
    CHECK_NEAR(sd, 0.02, z * 0.02 / sqrt(2.0));
    fprintf(stderr, "  normal(0.02):  mean %+.2e sd %.6f\n", mean, sd);

    /* Same seed, same values; a different seed, different values. Drawing in two pieces
     * continues the same sequence (index order). */
    assay_rng_seed(&r, 3);
    assay_nn_init_normal(w2, n / 2, 0.02f, &r);
    assay_nn_init_normal(w2 + n / 2, n - n / 2, 0.02f, &r);
    CHECK(memcmp(w, w2, sizeof(float) * (size_t)n) == 0);
    assay_rng_seed(&r, 4);
    assay_nn_init_normal(w2, n, 0.02f, &r);
    CHECK(memcmp(w, w2, sizeof(float) * (size_t)n) != 0);
    assay_rng_seed(&r, 1);
    assay_nn_init_he(w2, 1000, 50, &r);
    assay_rng_seed(&r, 1);
    assay_nn_init_he(w, 1000, 50, &r);
    CHECK(memcmp(w, w2, sizeof(float) * 1000) == 0);
    assay_rng_seed(&r, 2);
    assay_nn_init_xavier(w2, 1000, 100, 50, &r);
    assay_rng_seed(&r, 2);
    assay_nn_init_xavier(w, 1000, 100, 50, &r);
    CHECK(memcmp(w, w2, sizeof(float) * 1000) == 0);
    free(w);
    free(w2);
}

int main(void) {
    RUN(test_optim_parity);
    RUN(test_clip_parity);
    RUN(test_grad_norm_threads);
    RUN(test_clip_edges);
    RUN(test_schedules);
    RUN(test_optim_basics);
    RUN(test_init);
    return check_summary();
}
