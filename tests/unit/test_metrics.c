/* test_metrics.c - every metric of the eval module against scikit-learn on committed fixtures
 * (tests/parity/gen/gen_metrics.py): ties, one-class data, zero division, unnormalised
 * probabilities, constant regression targets, multilabel indicator targets; the text report against classification_report's
 * own text; the JSON document; refusal of bad input. */
#include <jansson.h>

#include "check.h"
#include "fixture.h"
#include "eval/eval_internal.h"

static const double TOL = 1e-9;
static double max_diff;


/* An expected number; JSON null stands for NaN (undefined). */
static double expect(const json_t *c, const char *key) {
    const json_t *v = json_object_get(c, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void near(double got, double want, const char *what, const char *name) {
    if (!isnan(got) && !isnan(want) && fabs(got - want) > max_diff) max_diff = fabs(got - want);
    CHECK_MSG(fabs(got - want) <= TOL * ASSAY_MAX(1.0, fabs(want)) || (isnan(got) && isnan(want)),
              "%s %s: got %.17g, scikit-learn %.17g", name, what, got, want);
}

static double *doubles(const json_t *a) {
    size_t n = json_array_size(a);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = json_number_value(json_array_get(a, i));
    return v;
}

static void test_scores(void) {
    json_t *doc = fixture("metrics_scores.json");
    CHECK(doc != NULL);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *y = json_object_get(c, "y");
        int64_t n = (int64_t)json_array_size(y);
        uint8_t *y01 = malloc((size_t)n);
        for (int64_t k = 0; k < n; k++) y01[k] = (uint8_t)json_integer_value(json_array_get(y, (size_t)k));
        double *s = doubles(json_object_get(c, "score"));
        near(assay_metric_roc_auc(y01, s, n), expect(c, "roc_auc"), "roc_auc", name);
        near(assay_metric_average_precision(y01, s, n), expect(c, "average_precision"),
             "average_precision", name);
        free(y01);
        free(s);
    }
    json_decref(doc);
}

/* Runs one classification case through assay_metrics_compute and compares every field. */
static void class_case(const json_t *c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    int K = (int)json_integer_value(json_object_get(c, "nclasses"));
    int positive = (int)json_integer_value(json_object_get(c, "positive"));
    double *y = doubles(json_object_get(c, "y"));
    const json_t *P = json_object_get(c, "proba"), *pred_j = json_object_get(c, "pred");
    int64_t n = (int64_t)json_array_size(P);
    double *proba = malloc(sizeof(double) * (size_t)(n * K));
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            proba[i * K + k] = json_number_value(json_array_get(json_array_get(P, (size_t)i), (size_t)k));
    int32_t *pred = NULL;
    if (json_is_array(pred_j)) {
        pred = malloc(sizeof(int32_t) * (size_t)n);
        for (int64_t i = 0; i < n; i++) pred[i] = (int32_t)json_integer_value(json_array_get(pred_j, (size_t)i));
    }
    assay_task task = K == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS;
    assay_metrics m;
    assay_error err = {0};
    CHECK_OK(assay_metrics_compute(task, K, positive, y, proba, pred, n, &m, &err), &err);
    static const char *const scalars[] = {
        "accuracy", "log_loss", "precision_macro", "recall_macro", "f1_macro",
        "precision_micro", "recall_micro", "f1_micro", "precision_weighted", "recall_weighted",
        "f1_weighted", "roc_auc", "average_precision", "brier"};
    for (size_t s = 0; s < sizeof scalars / sizeof scalars[0]; s++)
        near(assay_metrics_get(&m, scalars[s]), expect(c, scalars[s]), scalars[s], name);
    const json_t *per = json_object_get(c, "per_class"), *cm = json_object_get(c, "confusion");
    for (int k = 0; k < K && m.per_class; k++) {
        const json_t *pk = json_array_get(per, (size_t)k);
        near(m.per_class[k].precision, expect(pk, "precision"), "per-class precision", name);
        near(m.per_class[k].recall, expect(pk, "recall"), "per-class recall", name);
        near(m.per_class[k].f1, expect(pk, "f1"), "per-class f1", name);
        CHECK(m.per_class[k].support == json_integer_value(json_object_get(pk, "support")));
        for (int j = 0; j < K; j++)
            CHECK_MSG(m.confusion[k * K + j] == json_integer_value(json_array_get(json_array_get(cm, (size_t)k), (size_t)j)),
                      "%s confusion[%d][%d]", name, k, j);
    }

    /* the text report: sklearn's classification_report is its first part, verbatim */
    const json_t *lj = json_object_get(c, "labels");
    const char *labels[16] = {0};
    for (int k = 0; k < K && k < 16; k++) labels[k] = json_string_value(json_array_get(lj, (size_t)k));
    assay_buf b = {0};
    CHECK(assay_metrics_format(&m, labels, &b) == 0);
    const char *want = json_string_value(json_object_get(c, "report_text"));
    /* sklearn's text ends with one newline after "weighted avg"; ours goes on with the matrix */
    size_t wl = strlen(want);
    CHECK_MSG(b.data && b.len >= wl && memcmp(b.data, want, wl) == 0,
              "%s report text differs:\n--- assay\n%s\n--- scikit-learn\n%s", name,
              b.data ? b.data : "(none)", want);
    CHECK(b.data && strstr(b.data, "confusion matrix") != NULL);
    assay_buf_deinit(&b);

    /* the JSON document parses and holds the same numbers */
    char *text = assay_metrics_to_json(&m, labels);
    CHECK(text != NULL);
    json_error_t je;
    json_t *doc = text ? json_loads(text, 0, &je) : NULL;
    CHECK_MSG(doc != NULL, "%s: metrics JSON does not parse: %s", name, text ? text : "");
    if (doc) {
        double acc = json_number_value(json_object_get(doc, "accuracy"));
        near(acc, expect(c, "accuracy"), "json accuracy", name);
        const json_t *mat = json_object_get(json_object_get(doc, "confusion_matrix"), "matrix");
        CHECK(json_equal((json_t *)mat, (json_t *)cm));
        const json_t *pc = json_object_get(json_object_get(doc, "per_class"), labels[K - 1]);
        near(json_number_value(json_object_get(pc, "recall")),
             expect(json_array_get(per, (size_t)K - 1), "recall"), "json recall", name);
        json_decref(doc);
    }
    assay_free(text);
    assay_metrics_deinit(&m);
    free(y);
    free(proba);
    free(pred);
}

static void test_classification(void) {
    const char *files[] = {"metrics_binary.json", "metrics_multiclass.json"};
    for (int f = 0; f < 2; f++) {
        json_t *doc = fixture(files[f]);
        CHECK(doc != NULL);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(doc, "cases"), i, c) class_case(c);
        json_decref(doc);
    }
}

static void test_regression(void) {
    json_t *doc = fixture("metrics_regression.json");
    CHECK(doc != NULL);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        double *y = doubles(json_object_get(c, "y")), *yh = doubles(json_object_get(c, "yhat"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y"));
        assay_metrics m;
        assay_error err = {0};
        CHECK_OK(assay_metrics_compute(ASSAY_TASK_REGRESSION, 0, 0, y, yh, NULL, n, &m, &err), &err);
        static const char *const names[] = {"mae", "rmse", "r2", "mape"};
        for (int k = 0; k < 4; k++) near(assay_metrics_get(&m, names[k]), expect(c, names[k]), names[k], name);
        assay_buf b = {0};
        CHECK(assay_metrics_format(&m, NULL, &b) == 0 && b.data && strstr(b.data, "rmse") == b.data);
        assay_buf_deinit(&b);
        char *text = assay_metrics_to_json(&m, NULL);
        json_t *d = text ? json_loads(text, 0, NULL) : NULL;
        CHECK(d != NULL);
        if (d && !isnan(expect(c, "r2"))) near(json_number_value(json_object_get(d, "r2")), expect(c, "r2"), "json r2", name);
        json_decref(d);
        assay_free(text);
        assay_metrics_deinit(&m);
        free(y);
        free(yh);
    }
    json_decref(doc);
}

/* Multilabel (label-indicator y, p >= 0.5) against scikit-learn's metrics on indicator arrays. */
static void test_multilabel(void) {
    json_t *doc = fixture("metrics_multilabel.json");
    CHECK(doc != NULL);
    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int K = (int)json_integer_value(json_object_get(c, "K"));
        int64_t n = (int64_t)json_array_size(json_object_get(c, "y")) / K;
        double *y = doubles(json_object_get(c, "y")), *p = doubles(json_object_get(c, "proba"));
        assay_metrics m;
        assay_error err = {0};
        CHECK_OK(assay_metrics_compute(ASSAY_TASK_MULTILABEL, K, 0, y, p, NULL, n, &m, &err), &err);
        static const char *const names[] = {"accuracy", "hamming_loss", "precision_at_1", "log_loss", "roc_auc",
                                            "average_precision", "precision_micro", "recall_micro", "f1_micro",
                                            "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
                                            "recall_weighted", "f1_weighted"};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            near(assay_metrics_get(&m, names[k]), expect(c, names[k]), names[k], name);
        for (int k = 0; k < K && m.per_class; k++) {
            near(m.per_class[k].precision, json_number_value(json_array_get(json_object_get(c, "precision"), (size_t)k)),
                 "label precision", name);
            near(m.per_class[k].f1, json_number_value(json_array_get(json_object_get(c, "f1"), (size_t)k)), "label f1", name);
            CHECK(m.per_class[k].support == json_integer_value(json_array_get(json_object_get(c, "support"), (size_t)k)));
        }
        CHECK(m.confusion == NULL);
        assay_buf b = {0};
        CHECK(assay_metrics_format(&m, NULL, &b) == 0 && b.data && strstr(b.data, "micro avg") && strstr(b.data, "hamming_loss"));
        assay_buf_deinit(&b);
        char *text = assay_metrics_to_json(&m, NULL);
        json_t *d = text ? json_loads(text, 0, NULL) : NULL;
        CHECK(d && strcmp(json_string_value(json_object_get(d, "task")), "multilabel") == 0 &&
              !json_object_get(d, "confusion_matrix") && json_object_size(json_object_get(d, "per_class")) == (size_t)K);
        if (d) near(json_number_value(json_object_get(d, "f1_micro")), expect(c, "f1_micro"), "json f1_micro", name);
        json_decref(d);
        assay_free(text);
        assay_metrics_deinit(&m);
        /* an indicator that is not 0 or 1 is refused */
        y[0] = 2;
        CHECK(assay_metrics_compute(ASSAY_TASK_MULTILABEL, K, 0, y, p, NULL, n, &m, &err) == ASSAY_EINVAL);
        free(y);
        free(p);
    }
    json_decref(doc);
}

static void test_names(void) {
    const char *const *b = assay_metrics_names(ASSAY_TASK_BINARY);
    CHECK_STR(b[0], "roc_auc");
    CHECK_STR(assay_metrics_names(ASSAY_TASK_REGRESSION)[0], "rmse");
    CHECK(assay_metric_higher_is_better("roc_auc") == 1);
    CHECK(assay_metric_higher_is_better("log_loss") == 0);
    CHECK(assay_metric_higher_is_better("rmse") == 0);
    assay_metrics m;
    memset(&m, 0, sizeof m);
    CHECK(isnan(assay_metrics_get(&m, "no_such_metric")));
}

static void test_bad_input(void) {
    assay_metrics m;
    assay_error err = {0};
    double y[3] = {0, 1, 2}, p[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    CHECK(assay_metrics_compute(ASSAY_TASK_BINARY, 2, 1, y, p, NULL, 3, &m, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "row 2") != NULL, "%s", err.msg);
    CHECK(assay_metrics_compute(ASSAY_TASK_BINARY, 2, 1, y, p, NULL, 0, &m, &err) == ASSAY_EINVAL);
    CHECK(assay_metrics_compute(ASSAY_TASK_BINARY, 3, 1, y, p, NULL, 2, &m, &err) == ASSAY_EINVAL);
    CHECK(assay_metrics_compute(ASSAY_TASK_BINARY, 2, 1, y, NULL, NULL, 2, &m, &err) == ASSAY_EINVAL);
    int32_t pred[2] = {0, 5};
    CHECK(assay_metrics_compute(ASSAY_TASK_BINARY, 2, 1, y, p, pred, 2, &m, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "predicted class 5") != NULL, "%s", err.msg);
    /* NaN scores: ranking undefined, not a crash */
    uint8_t y01[3] = {0, 1, 1};
    double s[3] = {0.1, NAN, 0.3};
    CHECK(isnan(assay_metric_roc_auc(y01, s, 3)));
    double yb[2] = {0, 1}, pn[4] = {NAN, NAN, 0.2, 0.8};
    CHECK_OK(assay_metrics_compute(ASSAY_TASK_BINARY, 2, 1, yb, pn, NULL, 2, &m, &err), &err);
    CHECK(isnan(m.roc_auc));
    assay_metrics_deinit(&m);
    CHECK(isnan(assay_metric_log_loss(y, p, 3, 2)));
}

int main(void) {
    RUN(test_scores);
    RUN(test_classification);
    RUN(test_regression);
    RUN(test_multilabel);
    RUN(test_names);
    RUN(test_bad_input);
    printf("largest difference from scikit-learn: %.3g\n", max_diff);
    return check_summary();
}
