/* test_gbdt.c - gradient-boosted trees: TreeSHAP against the margin and against brute-force
 * Shapley values, categorical set splits, missing-value directions, monotone constraints,
 * determinism across thread counts, early stopping, regression objectives, save/load and the
 * rejection of damaged tree files. Data are synthetic, generated here from a fixed seed. */
#include <omp.h>
#include <unistd.h>

#include "check.h"
#include "models/gbdt.h"

typedef struct synth {
    int64_t n;
    int d;
    float *X;
    double *y;
    int32_t ncat[8];
} synth;

/* d = 5: x0, x1 numeric (x1 10% missing), x2 categorical with 8 codes (5% missing), x3 noise,
 * x4 numeric. Binary target: x0 + [x2 in {1, 3, 5}] * 1.5 - 0.5 * x4^2 + (x1 missing) + noise
 * > 0.3; regression target: the same score. */
static void make_synth(synth *s, int64_t n, int regression, uint64_t seed) {
    assay_rng r;
    assay_rng_seed(&r, seed);
    s->n = n;
    s->d = 5;
    s->X = malloc(sizeof(float) * (size_t)n * 5);
    s->y = malloc(sizeof(double) * (size_t)n);
    memset(s->ncat, 0, sizeof s->ncat);
    s->ncat[2] = 8;
    for (int64_t i = 0; i < n; i++) {
        float *x = s->X + i * 5;
        x[0] = (float)assay_rng_normal(&r);
        x[1] = assay_rng_uniform(&r) < 0.1 ? NAN : (float)assay_rng_normal(&r);
        x[2] = assay_rng_uniform(&r) < 0.05 ? NAN : (float)assay_rng_below(&r, 8);
        x[3] = (float)assay_rng_uniform(&r);
        x[4] = (float)assay_rng_normal(&r);
        int c = isnan(x[2]) ? -1 : (int)x[2];
        double score = x[0] + ((c == 1 || c == 3 || c == 5) ? 1.5 : 0.0) - 0.5 * x[4] * x[4] +
                       (isnan(x[1]) ? 1.0 : 0.3 * x[1]) + 0.3 * assay_rng_normal(&r);
        s->y[i] = regression ? score : score > 0.3;
    }
}

static void free_synth(synth *s) {
    free(s->X);
    free(s->y);
}

static gbdt *fit(const char *params, assay_task task, int K, const synth *s, const int8_t *mono,
                 int *rc, assay_error *err) {
    assay_params p;
    assay_estimator *e = NULL;
    *rc = assay_params_parse(params, &p, err);
    if (*rc) return NULL;
    *rc = assay__gbdt_vt.create(&p, task, K, s->d, &e, err);
    assay_params_deinit(&p);
    if (*rc) return NULL;
    assay_design ds = {.X = {.n = s->n, .d = s->d, .dense = s->X}, .y = s->y, .task = task,
                       .nclasses = K, .seed = 7, .ncat = s->ncat, .monotone = mono};
    *rc = e->vt->fit(e, &ds, err);
    if (*rc) {
        e->vt->free(e);
        return NULL;
    }
    return (gbdt *)e;
}

static void free_model(gbdt *m) {
    if (m) m->base.vt->free(&m->base);
}

/* Ensemble value for output k when only features in the bitmask S are known. */
static double value_of_set(const gbdt *m, const float *x, unsigned S, int k) {
    uint8_t known[8];
    for (int f = 0; f < m->base.nfeatures; f++) known[f] = (S >> f) & 1u;
    double v = m->base_score[k];
    for (int64_t t = k; t < m->ntrees; t += m->K) v += assay__gbdt_tree_expect(m, t, x, known);
    return v;
}

/* Shapley values of feature f by enumerating every coalition. */
static double brute_shapley(const gbdt *m, const float *x, int f, int k) {
    int M = (int)m->base.nfeatures;
    double fact[16] = {1};
    for (int i = 1; i < 16; i++) fact[i] = fact[i - 1] * i;
    double phi = 0;
    for (unsigned S = 0; S < (1u << M); S++) {
        if (S & (1u << f)) continue;
        int sz = __builtin_popcount(S);
        double wgt = fact[sz] * fact[M - sz - 1] / fact[M];
        phi += wgt * (value_of_set(m, x, S | (1u << f), k) - value_of_set(m, x, S, k));
    }
    return phi;
}

static void check_shap(const gbdt *m, const synth *s, int64_t rows, int brute) {
    assay_error err;
    int W = m->K, d = s->d;
    double *phi = malloc(sizeof(double) * (size_t)(rows * W * (d + 1)));
    assay_matrix X = {.n = rows, .d = d, .dense = s->X};
    CHECK_OK(m->base.vt->explain(&m->base, &X, phi, &err), &err);
    double worst_sum = 0, worst_brute = 0;
    for (int64_t i = 0; i < rows; i++) {
        double margin[16];
        assay__gbdt_margins(m, s->X + i * d, margin);
        for (int k = 0; k < W; k++) {
            const double *ph = phi + (i * W + k) * (d + 1);
            double sum = 0;
            for (int f = 0; f <= d; f++) sum += ph[f];
            double diff = fabs(sum - margin[k]);
            worst_sum = diff > worst_sum ? diff : worst_sum;
            if (brute && i < 40)
                for (int f = 0; f < d; f++) {
                    double b = brute_shapley(m, s->X + i * d, f, k);
                    diff = fabs(b - ph[f]);
                    worst_brute = diff > worst_brute ? diff : worst_brute;
                }
        }
    }
    printf("  TreeSHAP: largest |sum - margin| %.3g over %lld rows", worst_sum, (long long)rows);
    if (brute) printf(", largest |phi - brute force| %.3g", worst_brute);
    printf("\n");
    CHECK(worst_sum < 1e-9);
    CHECK(worst_brute < 1e-6);
    free(phi);
}

static void test_shap_binary(void) {
    synth s;
    make_synth(&s, 3000, 0, 1);
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=6,max_depth=4", ASSAY_TASK_BINARY, 2, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m) {
        CHECK(m->ntrees == 6);
        check_shap(m, &s, s.n, 1);
    }
    free_model(m);
    /* a bigger ensemble, loss-guided, with L1: only the sum (brute force is the same code) */
    m = fit("n_trees=50,grow=lossguide,max_leaves=20,alpha=0.5", ASSAY_TASK_BINARY, 2, &s, NULL,
            &rc, &err);
    CHECK_OK(rc, &err);
    if (m) check_shap(m, &s, s.n, 0);
    free_model(m);
    free_synth(&s);
}

static void test_shap_multiclass(void) {
    synth s;
    make_synth(&s, 2000, 1, 2);
    for (int64_t i = 0; i < s.n; i++) s.y[i] = s.y[i] < -0.5 ? 0 : s.y[i] < 1.0 ? 1 : 2;
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=4,max_depth=3", ASSAY_TASK_MULTICLASS, 3, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m) {
        CHECK(m->ntrees == 12);
        check_shap(m, &s, 500, 1);
        /* probabilities sum to 1 and the fit beats the prior */
        double *out = malloc(sizeof(double) * (size_t)s.n * 3);
        assay_matrix X = {.n = s.n, .d = s.d, .dense = s.X};
        CHECK_OK(m->base.vt->predict(&m->base, &X, out, &err), &err);
        int64_t correct = 0;
        for (int64_t i = 0; i < s.n; i++) {
            CHECK_NEAR(out[3 * i] + out[3 * i + 1] + out[3 * i + 2], 1.0, 1e-12);
            int best = 0;
            for (int k = 1; k < 3; k++) best = out[3 * i + k] > out[3 * i + best] ? k : best;
            correct += best == (int)s.y[i];
        }
        CHECK_MSG(correct > s.n * 0.7, "accuracy %lld / %lld", (long long)correct, (long long)s.n);
        free(out);
    }
    free_model(m);
    free_synth(&s);
}

/* A target that is exactly "code in {1, 3, 5}" is learned by one categorical split. */
static void test_categorical_split(void) {
    synth s;
    make_synth(&s, 2000, 0, 3);
    for (int64_t i = 0; i < s.n; i++) {
        float c = s.X[i * 5 + 2];
        s.y[i] = !isnan(c) && ((int)c == 1 || (int)c == 3 || (int)c == 5);
    }
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=1,max_depth=1,learning_rate=1,min_cat_weight=0,cat_l2=0,cat_smooth=0",
                  ASSAY_TASK_BINARY, 2, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m) {
        const gb_node *root = &m->nodes[0];
        CHECK(root->feature == 2 && (root->flags & GB_CATEGORICAL));
        double *out = malloc(sizeof(double) * (size_t)s.n * 2);
        assay_matrix X = {.n = s.n, .d = s.d, .dense = s.X};
        CHECK_OK(m->base.vt->predict(&m->base, &X, out, &err), &err);
        int64_t wrong = 0;
        for (int64_t i = 0; i < s.n; i++) wrong += (out[2 * i + 1] > 0.5) != (s.y[i] > 0.5);
        CHECK_MSG(wrong == 0, "%lld rows misclassified", (long long)wrong);
        /* an unseen code (8) and a missing value take the learned default side, no crash */
        float x[5] = {0, 0, 8, 0, 0};
        double o[2];
        assay_matrix one = {.n = 1, .d = 5, .dense = x};
        CHECK_OK(m->base.vt->predict(&m->base, &one, o, &err), &err);
        CHECK(o[1] < 0.5);
        free(out);
    }
    free_model(m);
    free_synth(&s);
}

/* Missing values carry signal (x1 missing -> +1): the split on x1 learns where they go. */
static void test_missing_direction(void) {
    synth s;
    make_synth(&s, 4000, 0, 4);
    for (int64_t i = 0; i < s.n; i++) s.y[i] = isnan(s.X[i * 5 + 1]) || s.X[i * 5 + 1] > 1.0f;
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=1,max_depth=1,learning_rate=1", ASSAY_TASK_BINARY, 2, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m) {
        const gb_node *root = &m->nodes[0];
        CHECK(root->feature == 1);
        /* missing goes with the x1 > 1 side (right) */
        CHECK(!(root->flags & GB_DEFAULT_LEFT));
        CHECK(root->threshold > 0.9 && root->threshold < 1.1);
    }
    free_model(m);
    free_synth(&s);
}

/* With x4 constrained +1 the ensemble never decreases in x4 (the truth is -x4^2). */
static void test_monotone(void) {
    synth s;
    make_synth(&s, 3000, 1, 5);
    int8_t mono[5] = {0, 0, 0, 0, 1};
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=60,max_depth=5", ASSAY_TASK_REGRESSION, 0, &s, mono, &rc, &err);
    CHECK_OK(rc, &err);
    int violations = 0;
    if (m) {
        for (int64_t i = 0; i < 200; i++) {
            float x[5];
            memcpy(x, s.X + i * 5, sizeof x);
            double prev = -INFINITY;
            for (int g = 0; g <= 60; g++) {
                x[4] = -3.0f + 0.1f * (float)g;
                double v;
                assay__gbdt_margins(m, x, &v);
                violations += v < prev - 1e-12;
                prev = v;
            }
        }
    }
    CHECK_MSG(violations == 0, "%d decreasing steps", violations);
    free_model(m);
    /* unconstrained, the same data gives a decreasing stretch (the test can fail) */
    m = fit("n_trees=60,max_depth=5", ASSAY_TASK_REGRESSION, 0, &s, NULL, &rc, &err);
    violations = 0;
    if (m) {
        float x[5];
        memcpy(x, s.X, sizeof x);
        double prev = -INFINITY;
        for (int g = 0; g <= 60; g++) {
            x[4] = -3.0f + 0.1f * (float)g;
            double v;
            assay__gbdt_margins(m, x, &v);
            violations += v < prev - 1e-12;
            prev = v;
        }
    }
    CHECK(violations > 0);
    free_model(m);
    /* a constraint on a categorical feature is refused */
    int8_t bad[5] = {0, 0, 1, 0, 0};
    m = fit("n_trees=2", ASSAY_TASK_REGRESSION, 0, &s, bad, &rc, &err);
    CHECK(rc == ASSAY_EINVAL && strstr(err.msg, "categorical"));
    free_model(m);
    free_synth(&s);
}

static void predict_all(const gbdt *m, const synth *s, double *out) {
    assay_error err;
    assay_matrix X = {.n = s->n, .d = s->d, .dense = s->X};
    CHECK_OK(m->base.vt->predict(&m->base, &X, out, &err), &err);
}

/* The same binary fit with 1 and with 4 threads. */
static void fit_1_and_4_threads(const char *params, const synth *s, gbdt **m1, gbdt **m2) {
    int rc;
    assay_error err;
    omp_set_num_threads(1);
    *m1 = fit(params, ASSAY_TASK_BINARY, 2, s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    omp_set_num_threads(4);
    *m2 = fit(params, ASSAY_TASK_BINARY, 2, s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
}

/* Same seed and data: the same trees whatever the thread count (histograms sum in fixed
 * chunks); subsampling included. 20,000 rows so that histograms use several chunks. */
static void test_determinism(void) {
    synth s;
    make_synth(&s, 20000, 0, 6);
    double *a = malloc(sizeof(double) * (size_t)s.n * 2), *b = malloc(sizeof(double) * (size_t)s.n * 2);
    gbdt *m1, *m2;
    fit_1_and_4_threads("n_trees=20,subsample=0.8,colsample=0.8", &s, &m1, &m2);
    if (m1 && m2) {
        predict_all(m1, &s, a);
        predict_all(m2, &s, b);
        CHECK(memcmp(a, b, sizeof(double) * (size_t)s.n * 2) == 0);
        CHECK(m1->nnodes == m2->nnodes);
    }
    free_model(m1);
    free_model(m2);
    free(a);
    free(b);
    free_synth(&s);
}

/* 150,000 rows: the row partition runs in parallel chunks and the training margins are
 * updated from the leaves' row ranges. Each added tree must lower the training log loss (a tree
 * fitted to the wrong rows' gradients would not), and 1 and 4 threads give the same trees. */
static void test_large_partition(void) {
    synth s;
    make_synth(&s, 150000, 0, 13);
    gbdt *m1, *m2;
    fit_1_and_4_threads("n_trees=8,learning_rate=0.3,max_depth=5", &s, &m1, &m2);
    double *p = malloc(sizeof(double) * (size_t)s.n * 2), *q = malloc(sizeof(double) * (size_t)s.n * 2);
    if (m1 && m2) {
        predict_all(m1, &s, p);
        predict_all(m2, &s, q);
        CHECK(memcmp(p, q, sizeof(double) * (size_t)s.n * 2) == 0);
        const int64_t trees = m2->ntrees, nodes = m2->nnodes;
        double prev = INFINITY;
        printf("  training log loss by trees:");
        for (int64_t t = 1; t <= trees; t++) {
            m2->ntrees = t;
            m2->nnodes = m2->tree_off[t];
            predict_all(m2, &s, p);
            double ll = 0;
            for (int64_t i = 0; i < s.n; i++) {
                double pi = p[2 * i + 1];
                ll -= s.y[i] > 0.5 ? log(pi) : log(1 - pi);
            }
            ll /= (double)s.n;
            printf(" %.4f", ll);
            CHECK(ll < prev - 1e-4);
            prev = ll;
        }
        printf("\n");
        m2->ntrees = trees;
        m2->nnodes = nodes;
    }
    free(p);
    free(q);
    free_model(m1);
    free_model(m2);
    free_synth(&s);
}

/* Early stopping on a noisy target stops before n_trees and keeps the best round. */
static void test_early_stopping(void) {
    synth s;
    make_synth(&s, 3000, 0, 8);
    assay_rng r;
    assay_rng_seed(&r, 9);
    for (int64_t i = 0; i < s.n; i++)
        if (assay_rng_uniform(&r) < 0.3) s.y[i] = 1 - s.y[i];
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=500,learning_rate=0.3,early_stopping=10", ASSAY_TASK_BINARY, 2, &s,
                  NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m) {
        CHECK(m->stopped_early);
        CHECK(m->rounds == m->best_round + 1 && m->ntrees == m->rounds);
        CHECK_MSG(m->rounds < 100, "%ld rounds kept", m->rounds);
    }
    free_model(m);
    free_synth(&s);
}

static void test_regression_objectives(void) {
    synth s;
    make_synth(&s, 3000, 1, 10);
    const char *objs[] = {"squared", "absolute", "huber"};
    for (int o = 0; o < 3; o++) {
        char params[128];
        snprintf(params, sizeof params, "n_trees=100,objective=%s", objs[o]);
        int rc;
        assay_error err;
        gbdt *m = fit(params, ASSAY_TASK_REGRESSION, 0, &s, NULL, &rc, &err);
        CHECK_OK(rc, &err);
        if (!m) continue;
        double *out = malloc(sizeof(double) * (size_t)s.n);
        predict_all(m, &s, out);
        double mean = 0, sse = 0, sst = 0;
        for (int64_t i = 0; i < s.n; i++) mean += s.y[i] / (double)s.n;
        for (int64_t i = 0; i < s.n; i++)
            sse += (out[i] - s.y[i]) * (out[i] - s.y[i]), sst += (s.y[i] - mean) * (s.y[i] - mean);
        printf("  %s: training R^2 %.3f\n", objs[o], 1 - sse / sst);
        CHECK(1 - sse / sst > 0.8);
        free(out);
        free_model(m);
    }
    /* an objective that does not fit the task is refused by name */
    assay_params p;
    assay_error err;
    assay_estimator *e = NULL;
    CHECK_OK(assay_params_parse("objective=squared", &p, &err), &err);
    CHECK(assay__gbdt_vt.create(&p, ASSAY_TASK_BINARY, 2, 5, &e, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "squared") != NULL);
    assay_params_deinit(&p);
    free_synth(&s);
}

/* save -> load gives the same predictions; damaged node tensors are refused at load. */
static void test_save_load(void) {
    synth s;
    make_synth(&s, 2000, 0, 11);
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=10", ASSAY_TASK_BINARY, 2, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (!m) return;
    char path[] = "/tmp/test_gbdt_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assay_mfile_writer *w = assay_mfile_writer_new();
    CHECK_OK(m->base.vt->save(&m->base, w, "g.", NULL, &err), &err);
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile_writer_free(w);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    assay_params p = {0};
    assay_estimator *e2 = NULL;
    CHECK_OK(assay__gbdt_vt.create(&p, ASSAY_TASK_BINARY, 2, s.d, &e2, &err), &err);
    CHECK_OK(e2->vt->load(e2, f, "g.", NULL, &err), &err);
    double *a = malloc(sizeof(double) * (size_t)s.n * 2), *b = malloc(sizeof(double) * (size_t)s.n * 2);
    predict_all(m, &s, a);
    predict_all((gbdt *)e2, &s, b);
    CHECK(memcmp(a, b, sizeof(double) * (size_t)s.n * 2) == 0);
    e2->vt->free(e2);

    /* damage: a child index out of range, a feature id out of range, a cycle back to the root */
    const assay_tensor *ti = assay_mfile_tensor(f, "g.nodes_i");
    int32_t *nodes = ti->data;
    struct { int col; int32_t value; const char *msg; } cases[] = {
        {1, 100000, "child indices"}, {0, 99, "feature id 99 out of range"}, {2, 0, "child indices"}};
    for (int c = 0; c < 3; c++) {
        int32_t saved = nodes[cases[c].col];
        nodes[cases[c].col] = cases[c].value; /* node 0 of tree 0 is a split */
        CHECK_OK(assay__gbdt_vt.create(&p, ASSAY_TASK_BINARY, 2, s.d, &e2, &err), &err);
        rc = e2->vt->load(e2, f, "g.", NULL, &err);
        CHECK_MSG(rc == ASSAY_EFORMAT && strstr(err.msg, cases[c].msg), "case %d: %s", c, err.msg);
        e2->vt->free(e2);
        nodes[cases[c].col] = saved;
    }
    assay_mfile_free(f);
    remove(path);
    free(a);
    free(b);
    free_model(m);
    free_synth(&s);
}

/* Constant and all-missing features are never split on; a single-class training set fits. */
static void test_degenerate(void) {
    synth s;
    make_synth(&s, 500, 0, 12);
    for (int64_t i = 0; i < s.n; i++) s.X[i * 5 + 0] = 3.0f, s.X[i * 5 + 3] = NAN;
    int rc;
    assay_error err;
    gbdt *m = fit("n_trees=5", ASSAY_TASK_BINARY, 2, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m)
        for (int64_t i = 0; i < m->nnodes; i++) CHECK(m->nodes[i].feature != 0 && m->nodes[i].feature != 3);
    free_model(m);
    for (int64_t i = 0; i < s.n; i++) s.y[i] = 0;
    m = fit("n_trees=5", ASSAY_TASK_BINARY, 2, &s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (m) {
        double o[2];
        assay_matrix X = {.n = 1, .d = 5, .dense = s.X};
        CHECK_OK(m->base.vt->predict(&m->base, &X, o, &err), &err);
        CHECK(o[1] < 0.01 && isfinite(o[1]));
    }
    free_model(m);
    s.y[0] = NAN;
    m = fit("n_trees=5", ASSAY_TASK_REGRESSION, 0, &s, NULL, &rc, &err);
    CHECK(rc == ASSAY_EINVAL && strstr(err.msg, "row 1"));
    free_model(m);
    free_synth(&s);
}

int main(void) {
    RUN(test_shap_binary);
    RUN(test_shap_multiclass);
    RUN(test_categorical_split);
    RUN(test_missing_direction);
    RUN(test_monotone);
    RUN(test_determinism);
    RUN(test_large_partition);
    RUN(test_early_stopping);
    RUN(test_regression_objectives);
    RUN(test_save_load);
    RUN(test_degenerate);
    return check_summary();
}
