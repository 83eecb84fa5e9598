/* test_nn_net.c - sequential networks (src/nn/net.c) and their training loop (src/nn/train.c):
 * PyTorch parity of whole networks (logits, loss, every gradient, ten AdamW steps, on committed
 * fixtures from tests/parity/gen/gen_nn_net.py), finite-difference checks of every parameter of
 * small networks, save/load round trips and refused model files, architecture strings, and
 * training: accuracy, determinism, bit-exact checkpoint resume, early stopping, a diverging
 * learning rate, and checkpoints of another network.
 *
 * Not here: the kernels one by one (test_nn_layers.c, test_nn_norm.c, test_nn_optim.c). */
#include <jansson.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assay/tensor.h"
#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "nn/net.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static float *zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static float *fdup(const float *x, int64_t n) {
    float *y = zeros(n);
    if (n > 0) memcpy(y, x, sizeof(float) * (size_t)n);
    return y;
}

static int contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

/* Compare got (n) with want (n): |got - want| <= rtol |want| + atol, elements with skip[i]
 * set left out. Prints the largest absolute and relative differences; returns the largest
 * absolute one. */
#define DEFINE_CMP(fname, T)                                                                   \
    static double fname(const char *what, const T *got, const double *want, int64_t n,         \
                        double rtol, double atol, const unsigned char *skip) {                 \
        double worst = 0, worst_rel = 0;                                                       \
        int64_t bad = -1, wi = -1;                                                             \
        for (int64_t i = 0; i < n; i++) {                                                      \
            if (skip && skip[i]) continue;                                                     \
            double d = fabs((double)got[i] - want[i]);                                         \
            if (!(d <= worst)) worst = d, wi = i;                                              \
            if (want[i] != 0 && d / fabs(want[i]) > worst_rel) worst_rel = d / fabs(want[i]);  \
            if (!(d <= rtol * fabs(want[i]) + atol) && bad < 0) bad = i;                       \
        }                                                                                      \
        printf("  %-34s max |diff| %.3g (at %lld), max rel %.3g  [rtol %g atol %g]\n", what,  \
               worst, (long long)wi, worst_rel, rtol, atol);                                   \
        CHECK_MSG(bad < 0, "%s[%lld]: got %.9g, want %.9g", what, (long long)bad,              \
                  bad >= 0 ? (double)got[bad] : 0.0, bad >= 0 ? want[bad] : 0.0);              \
        return worst;                                                                          \
    }
DEFINE_CMP(cmp_f, float)
DEFINE_CMP(cmp_d, double)


/* A number array from the fixture, checked to hold n values. */
static double *dvals(const json_t *c, const char *key, int64_t n) {
    const json_t *a = json_object_get(c, key);
    CHECK_MSG(json_is_array(a) && (int64_t)json_array_size(a) == n, "%s: %lld values expected",
              key, (long long)n);
    double *v = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    for (int64_t i = 0; i < n && i < (int64_t)json_array_size(a); i++)
        v[i] = json_number_value(json_array_get(a, (size_t)i));
    return v;
}

static float *fvals(const json_t *c, const char *key, int64_t n) {
    double *d = dvals(c, key, n);
    float *f = zeros(n);
    for (int64_t i = 0; i < n; i++) f[i] = (float)d[i];
    free(d);
    return f;
}

static int get_int(const json_t *c, const char *key) {
    return (int)json_integer_value(json_object_get(c, key));
}

/* train.c's optim_step, reimplemented: per parameter tensor, weights with weight decay,
 * biases and batch-norm parameters without. */
static void net_optim_step(const assay__net *n, const assay_nn_optim *o, const float *g, float *m,
                           float *v, long t, float lr) {
    for (int i = 0; i < n->nl; i++) {
        const nn_layer *l = &n->L[i];
        if (l->wt < 0) continue;
        int64_t nw = l->bias - l->wt, nb = l->kind == NN_BATCHNORM ? l->c : l->oc;
        float wd = l->kind == NN_BATCHNORM ? 0.0f : 1.0f;
        assay_nn_optim_step(o, n->params + l->wt, g + l->wt, m + l->wt, v + l->wt, nw, t, lr, wd);
        assay_nn_optim_step(o, n->params + l->bias, g + l->bias, m + l->bias, v + l->bias, nb, t,
                            lr, 0.0f);
    }
}

/* Mask (nparams) of the biases of dense/conv layers followed by batch norm: their gradient is
 * zero analytically (see gen_nn_net.py's pre_bn_biases). */
static unsigned char *pre_bn_mask(const assay__net *n) {
    unsigned char *mask = calloc((size_t)n->nparams + 1, 1);
    for (int i = 0; i + 1 < n->nl; i++)
        if ((n->L[i].kind == NN_DENSE || n->L[i].kind == NN_CONV) &&
            n->L[i + 1].kind == NN_BATCHNORM)
            memset(mask + n->L[i].bias, 1, (size_t)n->L[i].oc);
    return mask;
}

/* ---- 1. PyTorch parity of whole networks --------------------------------------------------
 * Tolerances (float32 against a float64 reference; PyTorch's own float32 run of the same steps
 * differs from it by ~1e-7, see the generator's output):
 *   logits, running statistics  |d| <= 1e-5 |want| + 1e-6
 *   loss                        |d| <= 1e-6 |want|
 *   gradients                   |d| <= 1e-5 |want| + 1e-6
 *   per-step losses             |d| <= 1e-5 |want|
 *   final parameters and stats  |d| <= 1e-5 |want| + 1e-5 (Adam's steps are ~lr whatever the
 *                               gradient's size, so rounding can move a parameter by more
 *                               than its gradient's error) */
#define LOGIT_RTOL 1e-5
#define LOGIT_ATOL 1e-6
#define LOSS_RTOL 1e-6
#define PGRAD_RTOL 1e-5
#define PGRAD_ATOL 1e-6
#define STEP_RTOL 1e-5
#define FINAL_RTOL 1e-5
#define FINAL_ATOL 1e-5

static void parity_net(const json_t *c, const json_t *optim) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *arch = json_string_value(json_object_get(c, "arch"));
    const int C = get_int(c, "c"), H = get_int(c, "h"), W = get_int(c, "w");
    const int K = get_int(c, "nout"), B = get_int(c, "B"), D = C * H * W;
    const int steps = get_int(optim, "steps");
    printf(" %s: \"%s\" on %dx%dx%d, %d outputs, batch %d\n", name, arch, C, H, W, K, B);
    assay_error err = {0};
    assay__net n;
    int rc = assay__net_build(&n, arch, C, H, W, K, NN_ACT_RELU, 0.0f, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) {
        assay__net_deinit(&n);
        return;
    }
    const json_t *pa = json_object_get(c, "params");
    CHECK_MSG((int64_t)json_array_size(pa) == n.nparams, "%s: %lld parameters, fixture %lld", name,
              (long long)n.nparams, (long long)json_array_size(pa));
    CHECK((int64_t)json_array_size(json_object_get(c, "buf0")) == n.nbuf);
    if ((int64_t)json_array_size(pa) != n.nparams) {
        assay__net_deinit(&n);
        return;
    }
    const int64_t P = n.nparams;
    float *p0 = fvals(c, "params", P), *buf0 = fvals(c, "buf0", n.nbuf);
    float *x = fvals(c, "x", (int64_t)B * D);
    double *dl = dvals(c, "labels", B);
    int32_t *labels = calloc((size_t)B, sizeof *labels);
    for (int i = 0; i < B; i++) labels[i] = (int32_t)dl[i];
    double *want_logits = dvals(c, "logits", (int64_t)B * K), *want_grads = dvals(c, "grads", P);
    double *want_buf1 = dvals(c, "buf1", n.nbuf), *want_losses = dvals(c, "losses", steps);
    double *want_final = dvals(c, "params_final", P), *want_buf = dvals(c, "buf_final", n.nbuf);
    const double want_loss = json_number_value(json_object_get(c, "loss"));

    memcpy(n.params, p0, sizeof(float) * (size_t)P);
    if (n.nbuf) memcpy(n.buf, buf0, sizeof(float) * (size_t)n.nbuf);
    assay_nn_optim o;
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAMW);
    /* the fixture's hyperparameters are PyTorch's AdamW defaults, as assay's */
    CHECK(o.beta1 == (float)json_number_value(json_object_get(optim, "beta1")));
    CHECK(o.beta2 == (float)json_number_value(json_object_get(optim, "beta2")));
    CHECK(o.eps == (float)json_number_value(json_object_get(optim, "eps")));
    CHECK(o.weight_decay == (float)json_number_value(json_object_get(optim, "weight_decay")));
    const float lr = (float)json_number_value(json_object_get(optim, "lr"));

    nn_work wk;
    CHECK_OK(nn_work_init(&wk, &n, B, &err), &err);
    float *g = zeros(P), *m = zeros(P), *v = zeros(P);
    unsigned char *prebn = pre_bn_mask(&n);
    double *losses = calloc((size_t)steps, sizeof(double));
    char what[96];
    for (int s = 0; s < steps; s++) {
        memcpy(nn_work_input(&wk), x, sizeof(float) * (size_t)B * D);
        const float *out = assay__net_forward(&n, &wk, B, 1, NULL);
        losses[s] = assay_nn_softmax_xent(nn_work_doutput(&wk, &n), out, labels, NULL, B, K, 0.0f);
        memset(g, 0, sizeof(float) * (size_t)P);
        assay__net_backward(&n, &wk, g, B);
        if (s == 0) {
            snprintf(what, sizeof what, "%s logits", name);
            cmp_f(what, out, want_logits, (int64_t)B * K, LOGIT_RTOL, LOGIT_ATOL, NULL);
            snprintf(what, sizeof what, "%s loss", name);
            cmp_d(what, &losses[0], &want_loss, 1, LOSS_RTOL, 0, NULL);
            /* per parameter tensor, so a failure names the layer */
            for (int i = 0; i < n.nl; i++) {
                const nn_layer *l = &n.L[i];
                if (l->wt < 0) continue;
                int64_t nb = l->kind == NN_BATCHNORM ? l->c : l->oc;
                snprintf(what, sizeof what, "%s layer %d %s", name, i + 1,
                         l->kind == NN_BATCHNORM ? "dgamma" : "dweight");
                cmp_f(what, g + l->wt, want_grads + l->wt, l->bias - l->wt, PGRAD_RTOL,
                      PGRAD_ATOL, NULL);
                snprintf(what, sizeof what, "%s layer %d %s", name, i + 1,
                         l->kind == NN_BATCHNORM ? "dbeta" : "dbias");
                cmp_f(what, g + l->bias, want_grads + l->bias, nb, PGRAD_RTOL, PGRAD_ATOL, NULL);
            }
            if (n.nbuf) {
                snprintf(what, sizeof what, "%s running stats, 1 step", name);
                cmp_f(what, n.buf, want_buf1, n.nbuf, LOGIT_RTOL, LOGIT_ATOL, NULL);
            }
        }
        for (int64_t i = 0; i < P; i++)
            if (prebn[i]) g[i] = 0.0f; /* as the generator (zero analytically) */
        net_optim_step(&n, &o, g, m, v, (long)s + 1, lr);
    }
    snprintf(what, sizeof what, "%s %d AdamW step losses", name, steps);
    cmp_d(what, losses, want_losses, steps, STEP_RTOL, 0, NULL);
    snprintf(what, sizeof what, "%s params after %d steps", name, steps);
    cmp_f(what, n.params, want_final, P, FINAL_RTOL, FINAL_ATOL, NULL);
    if (n.nbuf) {
        snprintf(what, sizeof what, "%s running stats after %d", name, steps);
        cmp_f(what, n.buf, want_buf, n.nbuf, FINAL_RTOL, FINAL_ATOL, NULL);
    }

    /* The same ten steps through assay__nn_train: one batch of all B examples per epoch (the
     * shuffle only reorders sums), a constant learning rate, train.c's own optimizer loop.
     * There the gradient of a bias feeding batch norm is not zeroed: its float32 noise
     * (~1e-9) becomes Adam steps of ~lr, which the norm cancels in the outputs and the other
     * gradients but which move that bias and the running mean; those are left out. */
    assay__net t;
    CHECK_OK(assay__net_build(&t, arch, C, H, W, K, NN_ACT_RELU, 0.0f, &err), &err);
    memcpy(t.params, p0, sizeof(float) * (size_t)P);
    if (t.nbuf) memcpy(t.buf, buf0, sizeof(float) * (size_t)t.nbuf);
    nn_data tr = {.n = B, .X = x, .labels = labels};
    nn_train_opts to = {.epochs = steps, .batch = B, .loss = NN_LOSS_XENT, .seed = 5};
    assay_nn_optim_defaults(&to.opt, ASSAY_NN_ADAMW);
    to.sched.kind = ASSAY_NN_SCHED_CONSTANT;
    to.sched.lr = lr;
    nn_history h;
    rc = assay__nn_train(&t, &tr, NULL, &to, &h, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(h.epochs == steps && h.best_epoch == -1);
        snprintf(what, sizeof what, "%s assay__nn_train losses", name);
        cmp_d(what, h.train_loss, want_losses, steps, STEP_RTOL, 0, NULL);
        snprintf(what, sizeof what, "%s assay__nn_train params", name);
        cmp_f(what, t.params, want_final, P, FINAL_RTOL, FINAL_ATOL, prebn);
        if (t.nbuf) { /* running variances only (the second half of each layer's stats) */
            unsigned char *skip = calloc((size_t)t.nbuf, 1);
            for (int i = 0; i < t.nl; i++)
                if (t.L[i].kind == NN_BATCHNORM) memset(skip + t.L[i].rmean, 1, (size_t)t.L[i].c);
            snprintf(what, sizeof what, "%s assay__nn_train running var", name);
            cmp_f(what, t.buf, want_buf, t.nbuf, FINAL_RTOL, FINAL_ATOL, skip);
            free(skip);
        }
    }
    nn_history_deinit(&h);
    assay__net_deinit(&t);

    nn_work_deinit(&wk);
    assay__net_deinit(&n);
    free(p0), free(buf0), free(x), free(dl), free(labels), free(want_logits), free(want_grads);
    free(want_buf1), free(want_losses), free(want_final), free(want_buf), free(g), free(m);
    free(v), free(prebn), free(losses);
}

static void test_parity_torch(void) {
    json_t *doc = fixture("nn_net.json");
    CHECK(doc != NULL);
    if (!doc) return;
    const json_t *optim = json_object_get(doc, "optim");
    const json_t *nets = json_object_get(doc, "nets");
    CHECK(json_array_size(nets) == 3);
    size_t i;
    json_t *c;
    json_array_foreach(nets, i, c) parity_net(c, optim);
    json_decref(doc);
}

/* ---- 2. finite differences over every parameter of small networks -------------------------
 * loss = mean softmax cross-entropy (double, from float32 logits), training mode (batch
 * statistics; dropout with the same mask each call, the rng reseeded). Smooth activations
 * (tanh, GELU, sigmoid) keep away from ReLU's kink; max pooling's windows are untied.
 * h = 3e-3: the float32 forward makes the numeric derivative noisy at ~1e-7 / h, and the
 * curvature of tanh near saturation and of batch norm's 1/std grows the central difference's
 * error as h^2 (measured largest errors: h 1e-2: 0.08, 3e-3: 0.009, 1e-3: 0.018, 3e-4: 0.05).
 * The batch-norm nets sit highest: 0.018 without dropout, 0.024 with the counter-based dropout
 * mask of 2026-12 (under 0.02 with the serial mask before it), on batch norm's parameters.
 * Relative tolerance 3e-2 with floor 1e-3; a wrong gradient is off by O(1). */
#define FD_H 3e-3
#define FD_TOL 3e-2
#define FD_FLOOR 1e-3

typedef struct net_ctx {
    assay__net *n;
    nn_work *wk;
    const float *x;
    const int32_t *labels;
    int B;
} net_ctx;

static double net_loss(void *p) {
    net_ctx *c = p;
    assay_rng rng;
    assay_rng_seed(&rng, 77);
    memcpy(nn_work_input(c->wk), c->x, sizeof(float) * (size_t)c->B * c->n->c * c->n->h * c->n->w);
    const float *out = assay__net_forward(c->n, c->wk, c->B, 1, &rng);
    return assay_nn_softmax_xent(NULL, out, c->labels, NULL, c->B, c->n->nout, 0.0f);
}

static void gradcheck_net(const char *arch, int C, int H, int W, int K, nn_act act, float drop,
                          int B) {
    assay_error err = {0};
    assay__net n;
    int rc = assay__net_build(&n, arch, C, H, W, K, act, drop, &err);
    CHECK_MSG(rc == 0, "%s: %s", arch, err.msg);
    if (rc) {
        assay__net_deinit(&n);
        return;
    }
    assay__net_init_params(&n, 3);
    assay_rng r;
    assay_rng_seed(&r, 4);
    for (int64_t i = 0; i < n.nparams; i++) /* non-zero biases, gamma away from 1 */
        n.params[i] += (float)(0.1 * assay_rng_normal(&r));
    const int D = C * H * W;
    float *x = zeros((int64_t)B * D);
    for (int64_t i = 0; i < (int64_t)B * D; i++) x[i] = (float)assay_rng_normal(&r);
    int32_t labels[64];
    for (int i = 0; i < B; i++) labels[i] = (int32_t)assay_rng_below(&r, (uint64_t)K);
    nn_work wk;
    CHECK_OK(nn_work_init(&wk, &n, B, &err), &err);
    net_ctx ctx = {&n, &wk, x, labels, B};
    float *g = zeros(n.nparams);
    assay_rng rng;
    assay_rng_seed(&rng, 77);
    memcpy(nn_work_input(&wk), x, sizeof(float) * (size_t)B * D);
    const float *out = assay__net_forward(&n, &wk, B, 1, &rng);
    assay_nn_softmax_xent(nn_work_doutput(&wk, &n), out, labels, NULL, B, K, 0.0f);
    assay__net_backward(&n, &wk, g, B);
    char name[96];
    snprintf(name, sizeof name, "\"%s\" (%lld params)", arch, (long long)n.nparams);
    gc_check(name, n.params, g, n.nparams, net_loss, &ctx, FD_H, FD_TOL, 400, FD_FLOOR);
    /* backward adds: a second pass doubles every gradient */
    float *g2 = fdup(g, n.nparams);
    net_loss(&ctx);
    assay_nn_softmax_xent(nn_work_doutput(&wk, &n), wk.act + wk.off[n.nl], labels, NULL, B, K,
                          0.0f);
    assay__net_backward(&n, &wk, g2, B);
    int doubled = 1;
    for (int64_t i = 0; i < n.nparams; i++) doubled &= g2[i] == 2 * g[i];
    CHECK_MSG(doubled, "%s: backward does not add into grads", arch);
    free(g2);
    free(g);
    free(x);
    nn_work_deinit(&wk);
    assay__net_deinit(&n);
}

static void test_gradcheck_nets(void) {
    gradcheck_net("conv3-pool-fc8", 1, 6, 6, 3, NN_ACT_TANH, 0.0f, 4);
    gradcheck_net("conv3-pool-fc8", 2, 6, 6, 3, NN_ACT_RELU, 0.0f, 3);
    gradcheck_net("fc8bn-fc4", 6, 1, 1, 3, NN_ACT_GELU, 0.0f, 5);
    gradcheck_net("fc8bn-drop0.3-fc4", 6, 1, 1, 3, NN_ACT_GELU, 0.2f, 5);
    gradcheck_net("conv2x5bn-avgpool-fc6", 2, 5, 5, 3, NN_ACT_SIGMOID, 0.0f, 3);
}

/* ---- 3. save / load ---------------------------------------------------------------------- */

static char tmpdir[64];

static const char *tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    return buf;
}

/* A model file holding a network under "net." and its description in meta "assay.net". */
static int save_net_file(const assay__net *n, const char *path, assay_error *err) {
    assay_mfile_writer *w = assay_mfile_writer_new();
    json_t *meta = json_object();
    int rc = assay__net_save(n, w, "net.", meta, err);
    char *js = json_dumps(meta, JSON_COMPACT);
    if (!rc) rc = assay_mfile_writer_meta(w, "assay.net", js, err);
    if (!rc) rc = assay_mfile_writer_save(w, path, err);
    free(js);
    json_decref(meta);
    assay_mfile_writer_free(w);
    return rc;
}

static int load_net_file(assay__net *n, const char *path, const char *meta_key, assay_error *err) {
    assay_mfile *f = NULL;
    memset(n, 0, sizeof *n);
    int rc = assay_mfile_load(path, &f, err);
    if (rc) return rc;
    const char *js = assay_mfile_meta(f, meta_key);
    json_t *meta = js ? json_loads(js, 0, NULL) : NULL;
    rc = meta ? assay__net_load(n, f, "net.", meta, err)
              : assay_error_set(err, ASSAY_EFORMAT, "no meta");
    json_decref(meta);
    assay_mfile_free(f);
    return rc;
}

/* A hand-made file: params (np), buf (nb, or none when NULL), meta edited by key = value. */
static void write_custom(const char *path, const float *params, int64_t np, const float *buf,
                         int64_t nb, json_t *meta) {
    assay_error err = {0};
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (params)
        CHECK_OK(assay_mfile_writer_add(w, "net.params", ASSAY_F32, 1, &np, params, &err), &err);
    if (buf) CHECK_OK(assay_mfile_writer_add(w, "net.buf", ASSAY_F32, 1, &nb, buf, &err), &err);
    char *js = json_dumps(meta, JSON_COMPACT);
    CHECK_OK(assay_mfile_writer_meta(w, "assay.net", js, &err), &err);
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    free(js);
    assay_mfile_writer_free(w);
}

/* Loading path must fail with code and a message holding want. */
static void expect_refused(const char *path, const char *what, const char *want) {
    assay_error err = {0};
    assay__net n;
    int rc = load_net_file(&n, path, "assay.net", &err);
    printf("  refused %-26s -> %s\n", what, err.msg);
    CHECK_MSG(rc == ASSAY_EFORMAT, "%s: rc %d (%s)", what, rc, err.msg);
    CHECK_MSG(contains(err.msg, want), "%s: message \"%s\" lacks \"%s\"", what, err.msg, want);
    assay__net_deinit(&n);
}

static void test_save_load(void) {
    assay_error err = {0};
    assay__net n;
    const char *arch = "conv4bn-pool-fc8bn-drop";
    const int C = 2, H = 6, W = 6, K = 3, D = C * H * W, B = 5;
    CHECK_OK(assay__net_build(&n, arch, C, H, W, K, NN_ACT_GELU, 0.25f, &err), &err);
    assay__net_init_params(&n, 11);
    /* move the running statistics and the parameters away from their initial values */
    assay_rng r;
    assay_rng_seed(&r, 12);
    nn_work wk;
    CHECK_OK(nn_work_init(&wk, &n, B, &err), &err);
    for (int it = 0; it < 3; it++) {
        for (int i = 0; i < B * D; i++) nn_work_input(&wk)[i] = (float)(assay_rng_normal(&r) + 0.5);
        assay__net_forward(&n, &wk, B, 1, &r);
    }
    for (int64_t i = 0; i < n.nparams; i++) n.params[i] += (float)(0.05 * assay_rng_normal(&r));
    float *x = zeros(B * D);
    for (int i = 0; i < B * D; i++) x[i] = (float)assay_rng_normal(&r);
    memcpy(nn_work_input(&wk), x, sizeof(float) * B * D);
    float *want = fdup(assay__net_infer(&n, &wk, B), B * K);

    char path[128], bad[128];
    tmp_path(path, sizeof path, "net.model");
    CHECK_OK(save_net_file(&n, path, &err), &err);
    assay__net l;
    int rc = load_net_file(&l, path, "assay.net", &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK_STR(l.arch, arch);
        CHECK(l.c == C && l.h == H && l.w == W && l.nout == K && l.act == NN_ACT_GELU);
        CHECK(l.dropout == 0.25f && l.nl == n.nl && l.nparams == n.nparams && l.nbuf == n.nbuf);
        CHECK(memcmp(l.params, n.params, sizeof(float) * (size_t)n.nparams) == 0);
        CHECK(memcmp(l.buf, n.buf, sizeof(float) * (size_t)n.nbuf) == 0);
        nn_work wl;
        CHECK_OK(nn_work_init(&wl, &l, B, &err), &err);
        memcpy(nn_work_input(&wl), x, sizeof(float) * B * D);
        const float *got = assay__net_infer(&l, &wl, B);
        double worst = 0;
        for (int i = 0; i < B * K; i++) worst = fmax(worst, fabs(got[i] - want[i]));
        printf("  save/load \"%s\": inference max |diff| %.3g (must be 0)\n", arch, worst);
        CHECK(memcmp(got, want, sizeof(float) * B * K) == 0);
        nn_work_deinit(&wl);
    }
    assay__net_deinit(&l);

    /* the description the good file holds, edited below */
    json_t *meta = json_object();
    {
        assay_mfile_writer *w = assay_mfile_writer_new();
        CHECK_OK(assay__net_save(&n, w, "net.", meta, &err), &err);
        assay_mfile_writer_free(w);
    }
    tmp_path(bad, sizeof bad, "bad.model");
    float *p = fdup(n.params, n.nparams), *b = fdup(n.buf, n.nbuf);

    write_custom(bad, p, n.nparams - 1, b, n.nbuf, meta);
    expect_refused(bad, "params one short", "values, the architecture needs");
    write_custom(bad, NULL, 0, b, n.nbuf, meta);
    expect_refused(bad, "no params tensor", "net.params");
    p[7] = NAN;
    write_custom(bad, p, n.nparams, b, n.nbuf, meta);
    expect_refused(bad, "a NaN parameter", "non-finite");
    p[7] = INFINITY;
    write_custom(bad, p, n.nparams, b, n.nbuf, meta);
    expect_refused(bad, "an infinite parameter", "non-finite");
    p[7] = n.params[7];
    write_custom(bad, p, n.nparams, b, n.nbuf - 2, meta);
    expect_refused(bad, "buf two short", "wrong size");
    write_custom(bad, p, n.nparams, NULL, 0, meta);
    expect_refused(bad, "no buf tensor", "net.buf");
    b[n.L[1].rvar] = -1.0f; /* layer 1 is the first batch norm */
    write_custom(bad, p, n.nparams, b, n.nbuf, meta);
    expect_refused(bad, "a negative running var", "batch-norm statistics");
    b[n.L[1].rvar] = NAN;
    write_custom(bad, p, n.nparams, b, n.nbuf, meta);
    expect_refused(bad, "a NaN running var", "batch-norm statistics");
    b[n.L[1].rvar] = n.buf[n.L[1].rvar];

    struct { const char *key; json_t *val; const char *what, *want; } edits[] = {
        {"activation", json_string("swish"), "activation \"swish\"", "activation"},
        {"activation", json_integer(1), "activation 1", "incomplete"},
        {"arch", json_string("conv4bn-pool-fc8bn-bogus"), "arch with 'bogus'", "'bogus'"},
        {"arch", json_string("conv4x4-fc8"), "even kernel size", "must be odd"},
        {"arch", json_string("fc8"), "arch of another size", "architecture needs"},
        {"outputs", json_integer(0), "0 outputs", "outputs"},
        {"outputs", json_string("3"), "outputs as a string", "incomplete"},
        {"dropout", json_real(1.0), "dropout 1", "dropout"},
        {"input", json_pack("[iii]", 2, 0, 6), "input 2x0x6", "input shape"},
        {"input", json_pack("[ii]", 2, 6), "input of rank 2", "incomplete"},
        {"input", json_pack("[iii]", 2, 70000, 6), "input 2x70000x6", "input shape"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        json_t *mm = json_deep_copy(meta);
        json_object_set_new(mm, edits[i].key, edits[i].val);
        write_custom(bad, p, n.nparams, b, n.nbuf, mm);
        expect_refused(bad, edits[i].what, edits[i].want);
        json_decref(mm);
    }
    json_t *mm = json_deep_copy(meta);
    json_object_del(mm, "arch");
    write_custom(bad, p, n.nparams, b, n.nbuf, mm);
    expect_refused(bad, "no arch", "incomplete");
    json_decref(mm);
    unlink(bad);
    unlink(path);
    json_decref(meta);
    free(p), free(b), free(x), free(want);
    nn_work_deinit(&wk);
    assay__net_deinit(&n);
}

/* ---- 4. architecture strings --------------------------------------------------------------- */

typedef struct arch_case {
    const char *arch;
    int c, h, w, nout;
    float dropout;
    int layers;
    int64_t nparams, nbuf;
    const char *kinds; /* one letter per layer: D dense, C conv, M max, A avg, R relu, X drop,
                          N batch norm */
} arch_case;

static char kind_letter(nn_kind k) {
    switch (k) {
    case NN_DENSE: return 'D';
    case NN_CONV: return 'C';
    case NN_MAXPOOL: return 'M';
    case NN_AVGPOOL: return 'A';
    case NN_RELU: return 'R';
    case NN_DROPOUT: return 'X';
    case NN_BATCHNORM: return 'N';
    default: return '?';
    }
}

static void test_arch_valid(void) {
    /* parameter counts by hand:
     *   fc32-fc16 on 20 -> 5: 20*32+32 + 32*16+16 + 16*5+5 = 672 + 528 + 85 = 1285
     *   conv4-pool-conv8-pool-fc16 on 1x12x12 -> 3: conv 1*4*9+4 = 40, conv 4*8*9+8 = 296,
     *     fc (8*3*3)*16+16 = 1168, out 16*3+3 = 51: 1555
     *   conv8x5bn-avgpool-drop0.25-fc10bn on 3x8x8 -> 2: conv 3*8*25+8 = 608, bn 16,
     *     avgpool 8x8 -> 4x4, fc 128*10+10 = 1290, bn 20, out 10*2+2 = 22: 1956; buf 16 + 20
     *   "" on 3x4x5 -> 7: 60*7+7 = 427
     *   conv2-pool-pool-pool on 1x9x9: 9 -> 4 -> 2 -> 1: conv 2*9+2 = 20, out 2*4+4 = 12 */
    static const arch_case cases[] = {
        {"fc32-fc16", 20, 1, 1, 5, 0, 5, 1285, 0, "DRDRD"},
        {"fc32-fc16", 1, 1, 20, 5, 0.5f, 7, 1285, 0, "DRXDRXD"},
        {"conv4-pool-conv8-pool-fc16", 1, 12, 12, 3, 0, 9, 1555, 0, "CRMCRMDRD"},
        {"conv8x5bn-avgpool-drop0.25-fc10bn", 3, 8, 8, 2, 0, 9, 1956, 36, "CNRAXDNRD"},
        {"", 3, 4, 5, 7, 0, 1, 427, 0, "D"},
        {"conv2-pool-pool-pool", 1, 9, 9, 4, 0, 6, 32, 0, "CRMMMD"},
        {"drop-fc4", 5, 1, 1, 2, 0, 4, 5 * 4 + 4 + 4 * 2 + 2, 0, "XDRD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const arch_case *a = &cases[i];
        assay_error err = {0};
        assay__net n;
        int rc = assay__net_build(&n, a->arch, a->c, a->h, a->w, a->nout, NN_ACT_RELU, a->dropout,
                                  &err);
        CHECK_MSG(rc == 0, "\"%s\": %s", a->arch, err.msg);
        if (rc == 0) {
            char kinds[64] = "";
            for (int j = 0; j < n.nl && j < 63; j++) kinds[j] = kind_letter(n.L[j].kind);
            printf("  \"%s\" on %dx%dx%d: %d layers %s, %lld params, %lld stats\n", a->arch, a->c,
                   a->h, a->w, n.nl, kinds, (long long)n.nparams, (long long)n.nbuf);
            CHECK_MSG(n.nl == a->layers, "\"%s\": %d layers, want %d", a->arch, n.nl, a->layers);
            CHECK_STR(kinds, a->kinds);
            CHECK_MSG(n.nparams == a->nparams, "\"%s\": %lld params, want %lld", a->arch,
                      (long long)n.nparams, (long long)a->nparams);
            CHECK(n.nbuf == a->nbuf);
            CHECK_STR(n.arch, a->arch);
            /* layer shapes chain, dense layers flatten, the output layer gives nout */
            for (int j = 0; j + 1 < n.nl; j++) {
                const nn_layer *l = &n.L[j], *nx = &n.L[j + 1];
                CHECK((int64_t)l->oc * l->oh * l->ow == (int64_t)nx->c * nx->h * nx->w);
                if (l->kind == NN_CONV) CHECK(l->oh == l->h && l->ow == l->w); /* odd K: same */
                if (l->kind == NN_DROPOUT)
                    CHECK(l->p == (strstr(a->arch, "drop0.25") ? 0.25f : a->dropout));
            }
            CHECK(n.L[n.nl - 1].kind == NN_DENSE && n.L[n.nl - 1].oc == a->nout);
            /* the parameter layout tiles the buffer */
            int64_t p = 0;
            for (int j = 0; j < n.nl; j++)
                if (n.L[j].wt >= 0) {
                    CHECK(n.L[j].wt == p);
                    p = n.L[j].bias + (n.L[j].kind == NN_BATCHNORM ? n.L[j].c : n.L[j].oc);
                }
            CHECK(p == n.nparams);
        }
        assay__net_deinit(&n);
    }
}

static void test_arch_invalid(void) {
    static const struct { const char *arch; int c, h, w; const char *want; } bad[] = {
        {"conv", 1, 8, 8, "'conv'"},
        {"fc0", 4, 1, 1, "'fc0'"},
        {"foo", 4, 1, 1, "'foo'"},
        {"fc8-foo-fc4", 4, 1, 1, "'foo'"},
        {"conv8x99", 1, 5, 5, "'conv8x99'"},
        {"conv8x4", 1, 5, 5, "'conv8x4': the kernel size must be odd"},
        {"pool", 3, 1, 1, "'pool' needs an input of at least 2x2"},
        {"conv2-pool-pool-pool", 1, 4, 4, "'pool' needs"},
        {"avgpool", 1, 1, 5, "'avgpool' needs"},
        {"drop1.5", 4, 1, 1, "'drop1.5'"},
        {"drop-0.1", 4, 1, 1, "'0.1'"},
        {"dropnan", 4, 1, 1, "'dropnan'"},
        {"fc8bnx", 4, 1, 1, "'fc8bnx'"},
        {"fc-8", 4, 1, 1, "'fc'"},
        {"FC8", 4, 1, 1, "'FC8'"},
        {"fc1e3", 4, 1, 1, "'fc1e3'"},
        {"fc65537", 4, 1, 1, "'fc65537'"},
        {"conv8x0", 1, 5, 5, "'conv8x0'"},
        {"conv8x3x3", 1, 5, 5, "'conv8x3x3'"},
        {"fc8 ", 4, 1, 1, "'fc8 '"},
        {"fc65536-fc65536", 1, 1, 1, "2^31"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assay_error err = {0};
        assay__net n;
        int rc = assay__net_build(&n, bad[i].arch, bad[i].c, bad[i].h, bad[i].w, 3, NN_ACT_RELU,
                                  0.0f, &err);
        printf("  refused \"%s\" on %dx%dx%d -> %s\n", bad[i].arch, bad[i].c, bad[i].h, bad[i].w,
               err.msg);
        CHECK_MSG(rc == ASSAY_EINVAL, "\"%s\": rc %d", bad[i].arch, rc);
        CHECK_MSG(contains(err.msg, bad[i].want), "\"%s\": message \"%s\" lacks \"%s\"",
                  bad[i].arch, err.msg, bad[i].want);
        assay__net_deinit(&n); /* frees what a failed build had allocated */
    }
    /* bad shapes */
    assay_error err = {0};
    assay__net n;
    CHECK(assay__net_build(&n, "fc4", 0, 1, 1, 3, NN_ACT_RELU, 0, &err) == ASSAY_EINVAL);
    assay__net_deinit(&n);
    CHECK(assay__net_build(&n, "fc4", 4, 1, 1, 0, NN_ACT_RELU, 0, &err) == ASSAY_EINVAL);
    assay__net_deinit(&n);
}

/* An input whose c*h*w overflows int (each dimension is within the 65536 that
 * assay__net_load accepts from a model file) must be refused, not built from a wrapped size.
 * Run in a child: under UBSan the overflow aborts the process. */
static void build_in_child(const char *arch, int c, int h, int w) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        assay_error err = {0};
        assay__net n;
        int rc = assay__net_build(&n, arch, c, h, w, 3, NN_ACT_RELU, 0.0f, &err);
        if (rc == 0)
            fprintf(stderr, "  child: \"%s\" on %dx%dx%d built: %d layers, output layer of %d "
                    "inputs, %lld params\n", arch, c, h, w, n.nl, n.L[n.nl - 1].c,
                    (long long)n.nparams);
        _exit(rc == 0 ? 1 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    printf("  \"%s\" on %dx%dx%d: child %s %d\n", arch, c, h, w,
           WIFEXITED(status) ? "exited" : "killed by signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "\"%s\" on %dx%dx%d (c*h*w > INT_MAX) was not refused cleanly: %s", arch, c, h, w,
              WIFEXITED(status) ? "built" : "crashed (signed overflow in net.c)");
}

static void test_arch_overflow(void) {
    build_in_child("fc4", 2, 65536, 65536); /* add_token's *c * *h * *w */
    build_in_child("", 2048, 2048, 2048);   /* assay__net_build's c * h * w */
}

/* ---- 5. training --------------------------------------------------------------------------- */

/* n rows of d features around K random centers (spread sep), labels 0..K-1. */
static void blobs(int64_t n, int d, int K, double sep, uint64_t seed, float **X, int32_t **y) {
    assay_rng r;
    assay_rng_seed(&r, seed);
    double *centers = malloc(sizeof(double) * (size_t)K * d);
    for (int i = 0; i < K * d; i++) centers[i] = assay_rng_normal(&r) * sep;
    *X = zeros(n * d);
    *y = calloc((size_t)n, sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        int k = (int)assay_rng_below(&r, (uint64_t)K);
        (*y)[i] = k;
        for (int j = 0; j < d; j++)
            (*X)[i * d + j] = (float)(centers[k * d + j] + assay_rng_normal(&r));
    }
    free(centers);
}

static nn_train_opts train_opts(int epochs, int batch, assay_nn_optimizer kind, double lr,
                                uint64_t seed) {
    nn_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = epochs;
    o.batch = batch;
    assay_nn_optim_defaults(&o.opt, kind);
    o.sched.kind = ASSAY_NN_SCHED_CONSTANT;
    o.sched.lr = lr;
    o.loss = NN_LOSS_XENT;
    o.seed = seed;
    return o;
}

static int build(assay__net *n, const char *arch, int d, int K, float drop, uint64_t seed) {
    assay_error err = {0};
    int rc = assay__net_build(n, arch, d, 1, 1, K, NN_ACT_RELU, drop, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) assay__net_init_params(n, seed);
    return rc;
}

static double accuracy(const assay__net *n, const nn_data *d) {
    assay_error err = {0};
    float *out = zeros(d->n * n->nout);
    CHECK_OK(assay__nn_predict(n, d, out, &err), &err);
    int64_t hit = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int best = 0;
        for (int k = 1; k < n->nout; k++)
            if (out[i * n->nout + k] > out[i * n->nout + best]) best = k;
        hit += best == d->labels[i];
    }
    free(out);
    return (double)hit / (double)d->n;
}

/* train.c's score() for cross-entropy, the same operations in the same order. */
static double val_loss(const assay__net *n, const nn_data *d) {
    assay_error err = {0};
    float *out = zeros(d->n * n->nout);
    CHECK_OK(assay__nn_predict(n, d, out, &err), &err);
    double L = 0, W = 0;
    for (int64_t i = 0; i < d->n; i++) {
        const float *o = out + i * n->nout;
        int K = n->nout, y = d->labels[i];
        double mx = o[0];
        for (int k = 1; k < K; k++)
            if (o[k] > mx) mx = o[k];
        double s = 0;
        for (int k = 0; k < K; k++) s += exp(o[k] - mx);
        L += 1.0 * (log(s) + mx - o[y]);
        W += 1.0;
    }
    free(out);
    return L / W;
}

/* A float tensor of a checkpoint (NULL if absent or the file does not load). */
static float *ckpt_tensor(const char *path, const char *name, int64_t n) {
    assay_error err = {0};
    assay_mfile *f = NULL;
    if (assay_mfile_load(path, &f, &err)) return NULL;
    const assay_tensor *t = assay_mfile_tensor(f, name);
    float *v = t && t->dtype == ASSAY_F32 && t->shape[0] == n ? fdup(t->data, n) : NULL;
    assay_mfile_free(f);
    return v;
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

#define NROWS 600
#define NFEAT 10
#define NCLASS 3

static void test_train_accuracy(void) {
    float *X;
    int32_t *y;
    blobs(NROWS, NFEAT, NCLASS, 1.5, 101, &X, &y);
    nn_data tr = {.n = NROWS, .X = X, .labels = y};
    assay__net n;
    if (build(&n, "fc16", NFEAT, NCLASS, 0, 1)) return;
    double before = accuracy(&n, &tr);
    nn_train_opts o = train_opts(8, 32, ASSAY_NN_ADAM, 1e-2, 2);
    nn_history h;
    assay_error err = {0};
    CHECK_OK(assay__nn_train(&n, &tr, NULL, &o, &h, &err), &err);
    if (!h.train_loss) return;
    double after = accuracy(&n, &tr);
    printf("  \"fc16\" on %d x %d blobs: training accuracy %.3f -> %.3f, loss %.4f -> %.4f\n",
           NROWS, NFEAT, before, after, h.train_loss[0], h.train_loss[h.epochs - 1]);
    CHECK(after >= 0.95);
    CHECK(h.epochs == 8 && h.best_epoch == -1 && !h.stopped_early);
    CHECK(h.train_loss[7] < h.train_loss[0]);
    CHECK(isnan(h.val_loss[0]) && isnan(h.val_metric[7]));
    nn_history_deinit(&h);
    /* argument errors */
    nn_train_opts z = o;
    z.epochs = 0;
    CHECK(assay__nn_train(&n, &tr, NULL, &z, &h, &err) == ASSAY_EINVAL);
    z = o;
    z.batch = 0;
    CHECK(assay__nn_train(&n, &tr, NULL, &z, &h, &err) == ASSAY_EINVAL);
    nn_data empty = {.n = 0, .X = X, .labels = y};
    CHECK(assay__nn_train(&n, &empty, NULL, &o, &h, &err) == ASSAY_EINVAL);
    assay__net_deinit(&n);
    free(X), free(y);
}

/* Train a net with dropout and batch norm, wide enough (batch 128 x 256 units) that the
 * kernels take their OpenMP paths and the products split over threads; returns its parameters
 * and first-epoch loss. */
#define DET_ARCH "fc256bn-drop-fc128"
#define DET_PARAMS (10 * 256 + 256 + 2 * 256 + 256 * 128 + 128 + 128 * 3 + 3)

static float *train_once(const nn_data *tr, int threads, uint64_t seed, double *loss0) {
    omp_set_num_threads(threads);
    assay__net n;
    if (build(&n, DET_ARCH, NFEAT, NCLASS, 0.2f, 1)) return NULL;
    nn_train_opts o = train_opts(2, 128, ASSAY_NN_ADAM, 1e-3, seed);
    nn_history h;
    assay_error err = {0};
    CHECK_OK(assay__nn_train(&n, tr, NULL, &o, &h, &err), &err);
    *loss0 = h.train_loss ? h.train_loss[0] : NAN;
    nn_history_deinit(&h);
    float *p = fdup(n.params, n.nparams);
    CHECK(n.nparams == DET_PARAMS);
    assay__net_deinit(&n);
    return p;
}

static void test_train_deterministic(void) {
    float *X;
    int32_t *y;
    blobs(NROWS, NFEAT, NCLASS, 1.0, 102, &X, &y);
    nn_data tr = {.n = NROWS, .X = X, .labels = y};
    const int saved = omp_get_max_threads();
    const size_t bytes = sizeof(float) * DET_PARAMS;
    double l[6];
    float *a1 = train_once(&tr, 1, 9, &l[0]), *b1 = train_once(&tr, 1, 9, &l[1]);
    float *a2 = train_once(&tr, 2, 9, &l[2]), *b2 = train_once(&tr, 2, 9, &l[3]);
    float *other = train_once(&tr, 2, 10, &l[4]);
    omp_set_num_threads(saved);
    if (!a1 || !b1 || !a2 || !b2 || !other) return;
    printf("  \"" DET_ARCH "\": 1 thread twice %s, 2 threads twice %s, 1 vs 2 threads %s, "
           "another seed %s\n",
           memcmp(a1, b1, bytes) ? "DIFFER" : "identical",
           memcmp(a2, b2, bytes) ? "DIFFER" : "identical",
           memcmp(a1, a2, bytes) ? "differ" : "identical",
           memcmp(a2, other, bytes) ? "differs" : "SAME");
    CHECK(memcmp(a1, b1, bytes) == 0 && l[0] == l[1]);
    CHECK(memcmp(a2, b2, bytes) == 0 && l[2] == l[3]);
    /* layers.c and norm.c promise the same bits for any OpenMP thread count */
    CHECK(memcmp(a1, a2, bytes) == 0);
    CHECK(memcmp(a2, other, bytes) != 0);
    free(a1), free(b1), free(a2), free(b2), free(other), free(X), free(y);
}

/* (c) 6 epochs straight against 3 + a resumed call to 6, with batch norm, dropout, Adam's
 * state and validation (restoring the best epoch) in play. */
static void test_train_resume(void) {
    float *X;
    int32_t *y;
    blobs(NROWS, NFEAT, NCLASS, 0.6, 103, &X, &y);
    nn_data tr = {.n = 500, .X = X, .labels = y};
    nn_data va = {.n = 100, .X = X + 500 * NFEAT, .labels = y + 500};
    char pa[128], pb[128];
    tmp_path(pa, sizeof pa, "straight.ckpt");
    tmp_path(pb, sizeof pb, "resumed.ckpt");
    const char *arch = "fc16bn-drop-fc8";
    assay_error err = {0};
    nn_history ha, hb, hc;

    assay__net a, b;
    if (build(&a, arch, NFEAT, NCLASS, 0.2f, 1) || build(&b, arch, NFEAT, NCLASS, 0.2f, 999))
        return;
    nn_train_opts o = train_opts(6, 32, ASSAY_NN_ADAMW, 3e-2, 21);
    o.checkpoint = pa;
    CHECK_OK(assay__nn_train(&a, &tr, &va, &o, &ha, &err), &err);

    /* b starts from other weights: the checkpoint's must replace them */
    assay__net b0;
    if (build(&b0, arch, NFEAT, NCLASS, 0.2f, 1)) return;
    o.checkpoint = pb;
    o.epochs = 3;
    CHECK_OK(assay__nn_train(&b0, &tr, &va, &o, &hb, &err), &err);
    CHECK(hb.epochs == 3);
    nn_history_deinit(&hb);
    o.epochs = 6;
    o.resume = 1;
    CHECK_OK(assay__nn_train(&b, &tr, &va, &o, &hb, &err), &err);
    int same_p = memcmp(a.params, b.params, sizeof(float) * (size_t)a.nparams) == 0;
    int same_b = memcmp(a.buf, b.buf, sizeof(float) * (size_t)a.nbuf) == 0;
    int same_h = ha.train_loss && hb.train_loss && ha.epochs == 6 && hb.epochs == 6 &&
                 memcmp(ha.train_loss, hb.train_loss, 6 * sizeof(double)) == 0 &&
                 memcmp(ha.val_loss, hb.val_loss, 6 * sizeof(double)) == 0 &&
                 memcmp(ha.val_metric, hb.val_metric, 6 * sizeof(double)) == 0;
    double worst = 0;
    for (int64_t i = 0; i < a.nparams; i++) worst = fmax(worst, fabs(a.params[i] - b.params[i]));
    printf("  resume 3 + 3 vs 6 straight: params %s (max |diff| %.3g), stats %s, history %s, "
           "best epoch %d / %d, checkpoints %s\n",
           same_p ? "identical" : "DIFFER", worst, same_b ? "identical" : "DIFFER",
           same_h ? "identical" : "DIFFERS", ha.best_epoch, hb.best_epoch,
           files_equal(pa, pb) ? "identical" : "DIFFER");
    CHECK(same_p && same_b && same_h);
    CHECK(ha.best_epoch == hb.best_epoch && ha.best_epoch >= 0);
    CHECK(files_equal(pa, pb));

    /* resuming a finished run trains nothing and gives the same result */
    assay__net c;
    if (build(&c, arch, NFEAT, NCLASS, 0.2f, 5)) return;
    CHECK_OK(assay__nn_train(&c, &tr, &va, &o, &hc, &err), &err);
    CHECK(hc.epochs == 6 && hc.best_epoch == ha.best_epoch);
    CHECK(memcmp(a.params, c.params, sizeof(float) * (size_t)a.nparams) == 0);
    CHECK(hc.train_loss && memcmp(ha.val_loss, hc.val_loss, 6 * sizeof(double)) == 0);
    nn_history_deinit(&hc);
    /* a checkpoint that ran more epochs than asked is refused */
    o.epochs = 4;
    int rc = assay__nn_train(&c, &tr, &va, &o, &hc, &err);
    printf("  resume of 6 epochs with epochs = 4 -> %s\n", err.msg);
    CHECK(rc != 0 && contains(err.msg, "4 epochs"));

    nn_history_deinit(&ha), nn_history_deinit(&hb), nn_history_deinit(&hc);
    assay__net_deinit(&a), assay__net_deinit(&b), assay__net_deinit(&b0), assay__net_deinit(&c);
    unlink(pa), unlink(pb);
    free(X), free(y);
}

/* (d) 60 training rows with a weak signal: the validation loss falls for a few epochs (to
 * epoch 3 with these seeds), then rises as the net memorizes. */
static void test_train_early_stop(void) {
    float *X;
    int32_t *y;
    blobs(260, NFEAT, NCLASS, 0.4, 104, &X, &y);
    nn_data tr = {.n = 60, .X = X, .labels = y};
    nn_data va = {.n = 200, .X = X + 60 * NFEAT, .labels = y + 60};
    char pc[128];
    tmp_path(pc, sizeof pc, "early.ckpt");
    assay__net n;
    if (build(&n, "fc64", NFEAT, NCLASS, 0, 3)) return;
    nn_train_opts o = train_opts(60, 16, ASSAY_NN_ADAM, 1e-2, 8);
    o.patience = 3;
    o.checkpoint = pc;
    nn_history h;
    assay_error err = {0};
    CHECK_OK(assay__nn_train(&n, &tr, &va, &o, &h, &err), &err);
    if (!h.val_loss) return;
    double recomputed = val_loss(&n, &va);
    printf("  early stop: %d epochs, best %d (val loss %.5f, recomputed %.5f, last %.5f)\n",
           h.epochs, h.best_epoch, h.val_loss[h.best_epoch], recomputed, h.val_loss[h.epochs - 1]);
    CHECK(h.stopped_early && h.epochs < 60);
    CHECK(h.best_epoch > 0 && h.epochs == h.best_epoch + o.patience + 1);
    for (int e = 0; e < h.epochs; e++) CHECK(h.val_metric[e] >= 0 && h.val_metric[e] <= 1);
    for (int e = 0; e < h.epochs; e++) CHECK(h.val_loss[e] >= h.val_loss[h.best_epoch]);
    for (int e = h.best_epoch + 1; e < h.epochs; e++)
        CHECK(h.val_loss[e] > h.val_loss[h.best_epoch]);
    /* the parameters are the best epoch's: same validation loss to the bit, same as the
     * checkpoint's best.params, not the last epoch's */
    CHECK(recomputed == h.val_loss[h.best_epoch]);
    float *best = ckpt_tensor(pc, "best.params", n.nparams);
    float *last = ckpt_tensor(pc, "net.params", n.nparams);
    CHECK(best && memcmp(best, n.params, sizeof(float) * (size_t)n.nparams) == 0);
    CHECK(last && memcmp(last, n.params, sizeof(float) * (size_t)n.nparams) != 0);
    free(best), free(last);
    /* resuming the stopped run with the same options: it had stopped, so nothing more is
     * trained (as for a run that finished its epochs) */
    float *stopped = fdup(n.params, n.nparams);
    const int epochs = h.epochs;
    nn_history_deinit(&h);
    o.resume = 1;
    CHECK_OK(assay__nn_train(&n, &tr, &va, &o, &h, &err), &err);
    printf("  resuming the stopped run: %d epochs (stopped at %d)\n", h.epochs, epochs);
    CHECK_MSG(h.epochs == epochs, "resuming an early-stopped run trained on to epoch %d", h.epochs);
    CHECK(memcmp(stopped, n.params, sizeof(float) * (size_t)n.nparams) == 0);
    free(stopped);
    nn_history_deinit(&h);
    assay__net_deinit(&n);
    unlink(pc);
    free(X), free(y);
}

/* (e) a learning rate that makes the loss non-finite. */
static void test_train_diverge(void) {
    float *X;
    int32_t *y;
    blobs(NROWS, NFEAT, NCLASS, 1.0, 105, &X, &y);
    nn_data tr = {.n = NROWS, .X = X, .labels = y};
    char pd[128], pe[128], pf[128];
    tmp_path(pd, sizeof pd, "diverge.ckpt");
    tmp_path(pe, sizeof pe, "never.ckpt");
    tmp_path(pf, sizeof pf, "onestep.ckpt");
    assay_error err = {0};
    nn_history h;
    assay__net n;
    if (build(&n, "fc16", NFEAT, NCLASS, 0, 1)) return;

    /* two good epochs, then resumed with lr 1e30: stops in epoch 3, the checkpoint of
     * epoch 2 stays and resumes */
    nn_train_opts o = train_opts(2, 32, ASSAY_NN_SGD, 0.1, 3);
    o.checkpoint = pd;
    CHECK_OK(assay__nn_train(&n, &tr, NULL, &o, &h, &err), &err);
    nn_history_deinit(&h);
    float *good = fdup(n.params, n.nparams);
    o.epochs = 4;
    o.resume = 1;
    o.sched.lr = 1e30;
    int rc = assay__nn_train(&n, &tr, NULL, &o, &h, &err);
    printf("  lr 1e30 after 2 epochs -> %s\n", err.msg);
    CHECK(rc == ASSAY_EINVAL);
    CHECK(contains(err.msg, "epoch 3") && contains(err.msg, "step"));
    CHECK(h.train_loss == NULL && h.epochs == 0);
    float *kept = ckpt_tensor(pd, "net.params", n.nparams);
    CHECK(kept && memcmp(kept, good, sizeof(float) * (size_t)n.nparams) == 0);
    free(kept);
    assay__net l;
    CHECK_OK(load_net_file(&l, pd, "assay.checkpoint", &err), &err);
    assay__net_deinit(&l);
    o.sched.lr = 0.1;
    o.epochs = 3;
    CHECK_OK(assay__nn_train(&n, &tr, NULL, &o, &h, &err), &err);
    CHECK(h.epochs == 3);
    nn_history_deinit(&h);

    /* from the start with lr 1e30: stops in epoch 1, before any checkpoint was written; the
     * message must not point at a checkpoint that does not exist */
    assay__net_deinit(&n);
    if (build(&n, "fc16", NFEAT, NCLASS, 0, 1)) return;
    o = train_opts(2, 32, ASSAY_NN_SGD, 1e30, 3);
    o.checkpoint = pe;
    rc = assay__nn_train(&n, &tr, NULL, &o, &h, &err);
    struct stat sb;
    int exists = stat(pe, &sb) == 0;
    printf("  lr 1e30 from the start -> %s (checkpoint file %s)\n", err.msg,
           exists ? "exists" : "absent");
    CHECK(rc == ASSAY_EINVAL && contains(err.msg, "epoch 1") && contains(err.msg, "step"));
    CHECK_MSG(exists || !contains(err.msg, "checkpoint"),
              "the message names a checkpoint that was never written: %s", err.msg);

    /* one step per epoch, inputs of size ~100, lr 1e38: the step of epoch 1 (finite loss)
     * overflows weights to inf, and epoch 2's loss is NaN. Whatever stops the run, a
     * checkpoint left on disk (the message calls it the last good one) must load and
     * resume: a checkpoint of non-finite weights is of no use. */
    assay__net_deinit(&n);
    if (build(&n, "fc16", NFEAT, NCLASS, 0, 1)) return;
    float *big = fdup(X, 64 * NFEAT);
    for (int i = 0; i < 64 * NFEAT; i++) big[i] *= 100.0f;
    nn_data tb = {.n = 64, .X = big, .labels = y};
    o = train_opts(3, 64, ASSAY_NN_SGD, 1e38, 3);
    o.checkpoint = pf;
    rc = assay__nn_train(&n, &tb, NULL, &o, &h, &err);
    exists = stat(pf, &sb) == 0;
    printf("  lr 1e38, one step per epoch -> %s (checkpoint file %s)\n", err.msg,
           exists ? "exists" : "absent");
    CHECK(rc == ASSAY_EINVAL && contains(err.msg, "epoch") && contains(err.msg, "step"));
    CHECK_MSG(exists || !contains(err.msg, "checkpoint"),
              "the message names a checkpoint that was never written: %s", err.msg);
    if (exists) {
        float *w = ckpt_tensor(pf, "net.params", n.nparams);
        int finite = w != NULL;
        for (int64_t i = 0; w && i < n.nparams; i++) finite &= isfinite(w[i]) != 0;
        free(w);
        CHECK_MSG(finite, "the checkpoint left after epoch 1 holds non-finite weights");
        rc = load_net_file(&l, pf, "assay.checkpoint", &err);
        printf("  loading that checkpoint -> %s\n", rc ? err.msg : "ok");
        CHECK_MSG(rc == 0, "the 'last good checkpoint' does not load: %s", err.msg);
        assay__net_deinit(&l);
        o.sched.lr = 0.1;
        o.resume = 1;
        rc = assay__nn_train(&n, &tb, NULL, &o, &h, &err);
        CHECK_MSG(rc == 0, "resuming from the 'last good checkpoint' fails: %s", err.msg);
        nn_history_deinit(&h);
    }

    assay__net_deinit(&n);
    unlink(pd), unlink(pe), unlink(pf);
    free(good), free(big), free(X), free(y);
}

/* (f) resuming from the checkpoint of another network, or from a file that is none. */
static void test_train_resume_mismatch(void) {
    float *X;
    int32_t *y;
    blobs(200, NFEAT, NCLASS, 1.0, 106, &X, &y);
    nn_data tr = {.n = 200, .X = X, .labels = y};
    char pg[128], pm[128];
    tmp_path(pg, sizeof pg, "fc16.ckpt");
    tmp_path(pm, sizeof pm, "plain.model");
    assay_error err = {0};
    nn_history h;
    assay__net n;
    if (build(&n, "fc16", NFEAT, NCLASS, 0, 1)) return;
    nn_train_opts o = train_opts(1, 32, ASSAY_NN_ADAM, 1e-2, 3);
    o.checkpoint = pg;
    CHECK_OK(assay__nn_train(&n, &tr, NULL, &o, &h, &err), &err);
    nn_history_deinit(&h);
    CHECK_OK(save_net_file(&n, pm, &err), &err);
    o.epochs = 2;
    o.resume = 1;

    struct { const char *arch; int K; float drop; const char *ckpt, *want; } cases[] = {
        {"fc8", NCLASS, 0, pg, "another network"},
        {"fc16-fc16", NCLASS, 0, pg, "another network"},
        {"fc16", NCLASS + 1, 0, pg, "another network"},
        {"fc16", NCLASS, 0.1f, pg, "another network"},
        {"fc16", NCLASS, 0, pm, "not an assay training checkpoint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assay__net m;
        if (build(&m, cases[i].arch, NFEAT, cases[i].K, cases[i].drop, 2)) continue;
        float *before = fdup(m.params, m.nparams);
        nn_data d = tr;
        int32_t *yk = NULL;
        if (cases[i].K != NCLASS) d.labels = yk = calloc(200, sizeof *yk);
        o.checkpoint = cases[i].ckpt;
        int rc = assay__nn_train(&m, &d, NULL, &o, &h, &err);
        printf("  resume \"%s\" -> %d from %s -> %s\n", cases[i].arch, cases[i].K,
               strrchr(cases[i].ckpt, '/') + 1, err.msg);
        CHECK(rc != 0 && contains(err.msg, cases[i].want));
        CHECK(memcmp(before, m.params, sizeof(float) * (size_t)m.nparams) == 0);
        nn_history_deinit(&h);
        free(before), free(yk);
        assay__net_deinit(&m);
    }
    /* the same network with a different input width */
    o.checkpoint = pg;
    float *X2 = zeros(200 * 12);
    nn_data d2 = {.n = 200, .X = X2, .labels = y};
    assay__net m;
    if (build(&m, "fc16", 12, NCLASS, 0, 2) == 0) {
        int rc = assay__nn_train(&m, &d2, NULL, &o, &h, &err);
        CHECK(rc != 0 && contains(err.msg, "another network"));
        nn_history_deinit(&h);
        assay__net_deinit(&m);
    }
    free(X2);
    assay__net_deinit(&n);
    unlink(pg), unlink(pm);
    free(X), free(y);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* interleave with the failures on stderr */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/assay_test_nn_net_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_parity_torch);
    RUN(test_gradcheck_nets);
    RUN(test_save_load);
    RUN(test_arch_valid);
    RUN(test_arch_invalid);
    RUN(test_arch_overflow);
    RUN(test_train_accuracy);
    RUN(test_train_deterministic);
    RUN(test_train_resume);
    RUN(test_train_early_stop);
    RUN(test_train_diverge);
    RUN(test_train_resume_mismatch);
    rmdir(tmpdir);
    return check_summary();
}
