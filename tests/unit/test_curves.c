/* test_curves.c - the curves module against scikit-learn 1.2 and numpy on the committed fixture
 * (tests/parity/gen/gen_curves.py): ROC and precision-recall curves (ties, collinear points,
 * one class only, one row), calibration curves (uniform and quantile, values on bin edges),
 * gain and lift by group (ties, fewer rows than groups, no positives), Platt scaling (a, b,
 * predictions), isotonic regression (breakpoints, sample ties, clipping), calibrators rebuilt
 * from their parameters, permutation importance (reproducible by seed, ranks the informative
 * feature first), and refusal of bad input. Prints the largest difference per family. Not
 * here: allocation-failure sweeps (every function has a single cleanup path, see curves.c). */
#include <jansson.h>

#include "assay/curves.h"
#include "check.h"
#include "eval/eval_internal.h"
#include "fixture.h"

static double max_diff;

/* NaN matches NaN (JSON null); tol is relative to max(1, |want|). */
static void near(double got, double want, double tol, const char *what, const char *name,
                 int64_t i) {
    if (!isnan(got) && !isnan(want) && fabs(got - want) > max_diff) max_diff = fabs(got - want);
    CHECK_MSG(fabs(got - want) <= tol * ASSAY_MAX(1.0, fabs(want)) || (isnan(got) && isnan(want)),
              "%s %s[%lld]: got %.17g, expected %.17g", name, what, (long long)i, got, want);
}

static double num(const json_t *v) { return json_is_number(v) ? json_number_value(v) : NAN; }

static double *doubles(const json_t *a) {
    size_t n = json_array_size(a);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = num(json_array_get(a, i));
    return v;
}

static uint8_t *labels(const json_t *a) {
    size_t n = json_array_size(a);
    uint8_t *v = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) v[i] = (uint8_t)json_integer_value(json_array_get(a, i));
    return v;
}

/* Compares got (n) with the JSON array want, exact length first. */
static void near_array(const double *got, int64_t n, const json_t *want, double tol,
                       const char *what, const char *name) {
    CHECK_MSG((size_t)n == json_array_size(want), "%s %s: %lld points, expected %zu", name, what,
              (long long)n, json_array_size(want));
    if ((size_t)n != json_array_size(want)) return;
    for (int64_t i = 0; i < n; i++) near(got[i], num(json_array_get(want, (size_t)i)), tol, what, name, i);
}

static const json_t *cases(const json_t *doc, const char *key) { return json_object_get(doc, key); }

static json_t *doc;

static void test_roc_pr(void) {
    max_diff = 0;
    size_t k;
    json_t *c;
    json_array_foreach(cases(doc, "rank"), k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        uint8_t *y = labels(json_object_get(c, "y"));
        double *s = doubles(json_object_get(c, "score"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y"));
        const json_t *roc = json_object_get(c, "roc"), *pr = json_object_get(c, "pr");
        assay_error err = {0};
        assay_roc_curve rc;
        CHECK_OK(assay_curve_roc(y, s, n, &rc, &err), &err);
        near_array(rc.fpr, rc.n, json_object_get(roc, "fpr"), 1e-15, "fpr", name);
        near_array(rc.tpr, rc.n, json_object_get(roc, "tpr"), 1e-15, "tpr", name);
        near_array(rc.thresholds, rc.n, json_object_get(roc, "thresholds"), 0, "roc thresholds", name);
        assay_curve_roc_deinit(&rc);
        assay_pr_curve pc;
        CHECK_OK(assay_curve_pr(y, s, n, &pc, &err), &err);
        near_array(pc.precision, pc.n, json_object_get(pr, "precision"), 1e-15, "precision", name);
        near_array(pc.recall, pc.n, json_object_get(pr, "recall"), 1e-15, "recall", name);
        near_array(pc.thresholds, pc.n - 1, json_object_get(pr, "thresholds"), 0, "pr thresholds", name);
        assay_curve_pr_deinit(&pc);
        free(y);
        free(s);
    }
    printf("roc/pr: largest difference %.3g\n", max_diff);
}

static void test_calibration_curve(void) {
    max_diff = 0;
    size_t k;
    json_t *c;
    json_array_foreach(cases(doc, "calibration"), k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        uint8_t *y = labels(json_object_get(c, "y"));
        double *p = doubles(json_object_get(c, "p"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y"));
        int nbins = (int)json_integer_value(json_object_get(c, "n_bins"));
        const char *strat = json_string_value(json_object_get(c, "strategy"));
        assay_bin_strategy st = strcmp(strat, "quantile") == 0 ? ASSAY_BINS_QUANTILE : ASSAY_BINS_UNIFORM;
        assay_error err = {0};
        assay_calibration_curve cc;
        CHECK_OK(assay_curve_calibration(y, p, n, nbins, st, &cc, &err), &err);
        near_array(cc.edges, nbins + 1, json_object_get(c, "edges"), 0, "edges", name);
        near_array(cc.prob_true, cc.n, json_object_get(c, "prob_true"), 1e-15, "prob_true", name);
        near_array(cc.prob_pred, cc.n, json_object_get(c, "prob_pred"), 1e-15, "prob_pred", name);
        const json_t *cnt = json_object_get(c, "count"), *bin = json_object_get(c, "bin");
        if ((size_t)cc.n == json_array_size(cnt))
            for (int64_t i = 0; i < cc.n; i++) {
                CHECK_MSG(cc.count[i] == json_integer_value(json_array_get(cnt, (size_t)i)),
                          "%s count[%lld] %lld", name, (long long)i, (long long)cc.count[i]);
                CHECK(cc.bin[i] == json_integer_value(json_array_get(bin, (size_t)i)));
            }
        near(cc.brier, num(json_object_get(c, "brier")), 1e-14, "brier", name, 0);
        assay_curve_calibration_deinit(&cc);
        free(y);
        free(p);
    }
    printf("calibration curve: largest difference %.3g\n", max_diff);
}

static void test_gain(void) {
    max_diff = 0;
    size_t k;
    json_t *c;
    json_array_foreach(cases(doc, "gain"), k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        uint8_t *y = labels(json_object_get(c, "y"));
        double *s = doubles(json_object_get(c, "score"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y"));
        int G = (int)json_integer_value(json_object_get(c, "groups"));
        assay_error err = {0};
        assay_gain_table t;
        CHECK_OK(assay_curve_gain(y, s, n, G, &t, &err), &err);
        CHECK(t.groups == G);
        const json_t *rows = json_object_get(c, "rows"), *pos = json_object_get(c, "positives");
        for (int g = 0; g < G; g++) {
            CHECK_MSG(t.rows[g] == json_integer_value(json_array_get(rows, (size_t)g)), "%s rows[%d]", name, g);
            CHECK_MSG(t.positives[g] == json_integer_value(json_array_get(pos, (size_t)g)),
                      "%s positives[%d] = %lld", name, g, (long long)t.positives[g]);
        }
        near_array(t.gain, G, json_object_get(c, "gain"), 1e-15, "gain", name);
        near_array(t.lift, G, json_object_get(c, "lift"), 1e-15, "lift", name);
        near_array(t.cum_lift, G, json_object_get(c, "cum_lift"), 1e-15, "cum_lift", name);
        assay_curve_gain_deinit(&t);
        free(y);
        free(s);
    }
    printf("gain/lift: largest difference %.3g\n", max_diff);
    /* groups <= 0 means deciles */
    uint8_t y[3] = {1, 0, 0};
    double s[3] = {0.3, 0.2, 0.1};
    assay_gain_table t;
    assay_error err = {0};
    CHECK_OK(assay_curve_gain(y, s, 3, 0, &t, &err), &err);
    CHECK(t.groups == 10 && t.rows[0] == 1 && t.rows[3] == 0);
    assay_curve_gain_deinit(&t);
}

static void test_platt(void) {
    double worst_ab = 0, worst_exact = 0, worst_pred = 0;
    size_t k;
    json_t *c;
    json_array_foreach(cases(doc, "platt"), k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        uint8_t *y = labels(json_object_get(c, "y"));
        double *s = doubles(json_object_get(c, "score"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y"));
        double a = num(json_object_get(c, "a")), b = num(json_object_get(c, "b"));
        double ea = num(json_object_get(c, "a_exact")), eb = num(json_object_get(c, "b_exact"));
        assay_error err = {0};
        assay_calibrator *cal = NULL;
        CHECK_OK(assay_calibrator_fit(ASSAY_CALIBRATION_PLATT, y, s, n, &cal, &err), &err);
        if (!cal) goto next;
        double ra = fabs(cal->a - a) / fabs(a), rb = fabs(cal->b - b) / fabs(b);
        worst_ab = ASSAY_MAX(worst_ab, ASSAY_MAX(ra, rb));
        CHECK_MSG(ra <= 1e-6 && rb <= 1e-6, "%s: a %.17g b %.17g, scikit-learn %.17g %.17g", name,
                  cal->a, cal->b, a, b);
        /* scikit-learn's BFGS stops at gradient 1e-5; the exact optimum is matched closely */
        double xa = fabs(cal->a - ea) / fabs(ea), xb = fabs(cal->b - eb) / fabs(eb);
        worst_exact = ASSAY_MAX(worst_exact, ASSAY_MAX(xa, xb));
        CHECK_MSG(xa <= 1e-10 && xb <= 1e-10, "%s: a %.17g b %.17g, optimum %.17g %.17g", name,
                  cal->a, cal->b, ea, eb);
        /* predictions: ours against scikit-learn's with its own a, b rebuilt from parameters */
        const json_t *nw = json_object_get(c, "new"), *pred = json_object_get(c, "pred");
        int64_t m = (int64_t)json_array_size(nw);
        double *x = doubles(nw), *out = malloc(sizeof(double) * (size_t)m);
        assay_calibrator *sk = NULL;
        CHECK_OK(assay_calibrator_new_platt(a, b, &sk, &err), &err);
        assay_calibrator_apply(sk, x, m, out);
        max_diff = 0;
        near_array(out, m, pred, 1e-15, "pred (sklearn a, b)", name);
        assay_calibrator_apply(cal, x, m, out);
        for (int64_t i = 0; i < m; i++) {
            double d = fabs(out[i] - num(json_array_get(pred, (size_t)i)));
            worst_pred = ASSAY_MAX(worst_pred, d);
            CHECK_MSG(d <= 1e-6, "%s pred[%lld]: %.17g", name, (long long)i, out[i]);
        }
        assay_calibrator_free(sk);
        free(x);
        free(out);
    next:
        assay_calibrator_free(cal);
        free(y);
        free(s);
    }
    printf("platt: a, b vs scikit-learn largest relative difference %.3g; vs exact optimum %.3g; "
           "predictions %.3g\n", worst_ab, worst_exact, worst_pred);
}

static void test_isotonic(void) {
    max_diff = 0;
    size_t k;
    json_t *c;
    json_array_foreach(cases(doc, "isotonic"), k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        uint8_t *y = labels(json_object_get(c, "y"));
        double *s = doubles(json_object_get(c, "score"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y"));
        assay_error err = {0};
        assay_calibrator *cal = NULL;
        CHECK_OK(assay_calibrator_fit(ASSAY_CALIBRATION_ISOTONIC, y, s, n, &cal, &err), &err);
        if (cal) {
            near_array(cal->x, cal->n, json_object_get(c, "x"), 0, "breakpoint x", name);
            near_array(cal->y, cal->n, json_object_get(c, "yb"), 1e-12, "breakpoint y", name);
            const json_t *nw = json_object_get(c, "new");
            int64_t m = (int64_t)json_array_size(nw);
            double *x = doubles(nw), *out = malloc(sizeof(double) * (size_t)m);
            assay_calibrator_apply(cal, x, m, out);
            near_array(out, m, json_object_get(c, "pred"), 1e-12, "pred", name);
            double *fo = malloc(sizeof(double) * (size_t)n);
            assay_calibrator_apply(cal, s, n, fo);
            near_array(fo, n, json_object_get(c, "fit_pred"), 1e-12, "fit pred", name);
            /* rebuilt from its parameters, it predicts the same bits */
            assay_calibrator *re = NULL;
            CHECK_OK(assay_calibrator_new_isotonic(cal->x, cal->y, cal->n, &re, &err), &err);
            if (re) {
                double *o2 = malloc(sizeof(double) * (size_t)m);
                assay_calibrator_apply(re, x, m, o2);
                CHECK(memcmp(o2, out, sizeof(double) * (size_t)m) == 0);
                free(o2);
            }
            assay_calibrator_free(re);
            free(x);
            free(out);
            free(fo);
        }
        assay_calibrator_free(cal);
        free(y);
        free(s);
    }
    printf("isotonic: largest difference %.3g\n", max_diff);
}

/* ---- permutation importance ------------------------------------------------------------------ */

/* Negative mean squared error of the model 3 x0 + 0.5 x2 against targets made from it: feature 0
 * matters most, feature 2 a little, features 1 and 3 not at all. */
typedef struct toy {
    const double *target;
} toy;

static double toy_score(void *ctx, const float *X, int64_t n, int64_t d) {
    const toy *t = ctx;
    double se = 0;
    for (int64_t i = 0; i < n; i++) {
        double pred = 3.0 * X[i * d + 0] + 0.5 * X[i * d + 2];
        se += (pred - t->target[i]) * (pred - t->target[i]);
    }
    return -se / (double)n;
}

static void test_permutation_importance(void) {
    enum { N = 300, D = 4, R = 5 };
    float *X = malloc(sizeof(float) * N * D);
    double target[N];
    assay_rng rng;
    assay_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++) X[i * D + j] = (float)assay_rng_normal(&rng);
        target[i] = 3.0 * X[i * D] + 0.5 * X[i * D + 2];
    }
    toy t = {target};
    double m1[D], s1[D], m2[D], s2[D], m3[D], s3[D], raw[D * R], base;
    assay_error err = {0};
    CHECK_OK(assay_permutation_importance(toy_score, &t, X, N, D, R, 42, m1, s1, raw, &base, &err), &err);
    CHECK_OK(assay_permutation_importance(toy_score, &t, X, N, D, R, 42, m2, s2, NULL, NULL, &err), &err);
    CHECK_OK(assay_permutation_importance(toy_score, &t, X, N, D, R, 43, m3, s3, NULL, NULL, &err), &err);
    CHECK(base == 0.0);
    CHECK(memcmp(m1, m2, sizeof m1) == 0 && memcmp(s1, s2, sizeof s1) == 0);
    CHECK(memcmp(m1, m3, sizeof m1) != 0);
    /* permuting an independent N(0,1) column costs about 2 c^2 in MSE */
    CHECK_MSG(m1[0] > m1[2] && m1[2] > m1[1] && m1[2] > m1[3], "%g %g %g %g", m1[0], m1[1], m1[2], m1[3]);
    CHECK(fabs(m1[0] - 18.0) < 4.0 && fabs(m1[2] - 0.5) < 0.2);
    CHECK(m1[1] == 0.0 && m1[3] == 0.0 && s1[1] == 0.0);
    CHECK(s1[0] > 0);
    double mean0 = 0;
    for (int r = 0; r < R; r++) mean0 += raw[r];
    CHECK_NEAR(mean0 / R, m1[0], 1e-12);
    printf("permutation importance (seed 42): %.4g±%.2g %.4g %.4g±%.2g %.4g\n", m1[0], s1[0], m1[1],
           m1[2], s1[2], m1[3]);
    CHECK(assay_permutation_importance(toy_score, &t, X, N, D, 0, 1, m1, s1, NULL, NULL, &err) == ASSAY_EINVAL);
    CHECK(assay_permutation_importance(toy_score, &t, X, 0, D, 1, 1, m1, s1, NULL, NULL, &err) == ASSAY_EINVAL);
    free(X);
}

/* ---- bad input and edges --------------------------------------------------------------------- */

static void test_bad_input(void) {
    uint8_t y[3] = {0, 1, 1};
    double s[3] = {0.2, NAN, 0.4}, p[3] = {0.1, 1.5, 0.3};
    assay_error err = {0};
    assay_roc_curve rc;
    assay_pr_curve pc;
    assay_calibration_curve cc;
    assay_gain_table gt;
    assay_calibrator *cal = NULL;
    CHECK(assay_curve_roc(y, s, 3, &rc, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "row 1") != NULL);
    CHECK(rc.fpr == NULL && rc.n == 0);
    CHECK(assay_curve_pr(y, s, 0, &pc, &err) == ASSAY_EINVAL);
    CHECK(assay_curve_pr(y, s, 3, &pc, &err) == ASSAY_EINVAL);
    CHECK(assay_curve_gain(y, s, 3, 10, &gt, &err) == ASSAY_EINVAL);
    CHECK(gt.rows == NULL);
    CHECK(assay_curve_calibration(y, p, 3, 5, ASSAY_BINS_UNIFORM, &cc, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "not in [0, 1]") != NULL);
    p[1] = 0.5;
    CHECK(assay_curve_calibration(y, p, 3, 0, ASSAY_BINS_UNIFORM, &cc, &err) == ASSAY_EINVAL);
    CHECK(assay_calibrator_fit(ASSAY_CALIBRATION_PLATT, y, s, 3, &cal, &err) == ASSAY_EINVAL);
    CHECK(cal == NULL);
    double bx[3] = {0, 1, 1}, by[3] = {0, 0.5, 1};
    CHECK(assay_calibrator_new_isotonic(bx, by, 3, &cal, &err) == ASSAY_EINVAL);
    CHECK(assay_calibrator_new_platt(NAN, 0, &cal, &err) == ASSAY_EINVAL);
    assay_curve_roc_deinit(&rc); /* zeroed by the failed call: harmless */
    assay_calibrator_free(NULL);

    /* Platt on constant scores stays finite (the ridge keeps Newton defined) */
    double cs[4] = {1, 1, 1, 1};
    uint8_t cy[4] = {0, 1, 1, 0};
    CHECK_OK(assay_calibrator_fit(ASSAY_CALIBRATION_PLATT, cy, cs, 4, &cal, &err), &err);
    if (cal) {
        double o;
        assay_calibrator_apply(cal, cs, 1, &o);
        CHECK_NEAR(o, 0.5, 1e-9);
        CHECK(isfinite(cal->a) && isfinite(cal->b));
    }
    assay_calibrator_free(cal);
    cal = NULL;
    /* isotonic: NaN score to apply gives NaN */
    CHECK_OK(assay_calibrator_fit(ASSAY_CALIBRATION_ISOTONIC, cy, (double[]){1, 2, 3, 4}, 4, &cal, &err), &err);
    if (cal) {
        double q = NAN, o;
        assay_calibrator_apply(cal, &q, 1, &o);
        CHECK(isnan(o));
    }
    assay_calibrator_free(cal);
}

int main(void) {
    doc = fixture("curves.json");
    CHECK(doc != NULL);
    if (doc) {
        RUN(test_roc_pr);
        RUN(test_calibration_curve);
        RUN(test_gain);
        RUN(test_platt);
        RUN(test_isotonic);
    }
    RUN(test_permutation_importance);
    RUN(test_bad_input);
    json_decref(doc);
    return check_summary();
}
