/* test_pipeline_parity.c - assay's whole path (CSV reader, pipeline, logistic regression, ROC
 * AUC) against scikit-learn's equivalent pipeline on the same rows (fixture from
 * tests/parity/gen/gen_pipeline.py): holdout and 5-fold ROC AUC within 0.005. Also checks that
 * a saved and reloaded model predicts exactly what the fitted one did. */
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "assay/assay.h"

static int64_t *rows_of(json_t *arr, int64_t *n) {
    *n = (int64_t)json_array_size(arr);
    int64_t *r = malloc(sizeof *r * (size_t)(*n ? *n : 1));
    for (int64_t i = 0; i < *n; i++) r[i] = json_integer_value(json_array_get(arr, (size_t)i));
    return r;
}

/* Fit on train rows, score test rows, return the ROC AUC of the positive class. */
static double fit_auc(const assay_table *t, const char *target, const char *positive, json_t *train_j,
                      json_t *test_j, assay_model **keep) {
    assay_fit_options fo;
    assay_fit_options_init(&fo);
    fo.target = target;
    fo.positive = positive;
    fo.model = "logreg";
    fo.prep.dedup = 0; /* scikit-learn's pipeline keeps duplicates */
    int64_t ntrain, ntest;
    int64_t *train = rows_of(train_j, &ntrain), *test = rows_of(test_j, &ntest);
    assay_model *m = NULL;
    assay_error err = {0};
    double auc = NAN;
    CHECK_OK(assay_model_fit(&fo, t, train, ntrain, &m, NULL, &err), &err);
    if (m) {
        double *out = malloc(sizeof *out * (size_t)ntest * 2);
        double *y = malloc(sizeof *y * (size_t)ntest);
        uint8_t *y01 = malloc((size_t)ntest);
        double *score = malloc(sizeof *score * (size_t)ntest);
        CHECK_OK(assay_model_predict(m, t, test, ntest, out, &err), &err);
        CHECK_OK(assay_model_encode_target(m, t, test, ntest, y, &err), &err);
        for (int64_t i = 0; i < ntest; i++) {
            y01[i] = y[i] == assay_model_positive(m);
            score[i] = out[i * 2 + assay_model_positive(m)];
        }
        auc = assay_metric_roc_auc(y01, score, ntest);
        free(out);
        free(y);
        free(y01);
        free(score);
    }
    if (keep) *keep = m;
    else assay_model_free(m);
    free(train);
    free(test);
    return auc;
}

static void check_reload(const assay_table *t, assay_model *m) {
    char path[] = "/tmp/assay_parity_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    assay_error err = {0};
    CHECK_OK(assay_model_save(m, path, &err), &err);
    assay_model *m2 = NULL;
    CHECK_OK(assay_model_load(path, &m2, &err), &err);
    unlink(path);
    if (!m2) return;
    int64_t n = t->nrows;
    double *a = malloc(sizeof *a * (size_t)n * 2), *b = malloc(sizeof *b * (size_t)n * 2);
    CHECK_OK(assay_model_predict(m, t, NULL, n, a, &err), &err);
    CHECK_OK(assay_model_predict(m2, t, NULL, n, b, &err), &err);
    CHECK_MSG(memcmp(a, b, sizeof *a * (size_t)n * 2) == 0, "reloaded model predicts differently");
    free(a);
    free(b);
    assay_model_free(m2);
}

static void test_parity(void) {
    json_error_t je;
    json_t *fx = json_load_file(ASSAY_SOURCE_DIR "/tests/parity/fixtures/pipeline_logreg.json", 0, &je);
    CHECK_MSG(fx != NULL, "fixture: %s", je.text);
    if (!fx) return;
    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), ci, c) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", ASSAY_SOURCE_DIR, json_string_value(json_object_get(c, "file")));
        const char *target = json_string_value(json_object_get(c, "target"));
        const char *positive = json_string_value(json_object_get(c, "positive"));
        assay_table *t = NULL;
        assay_error err = {0};
        CHECK_OK(assay_table_read_csv(path, NULL, &t, &err), &err);
        if (!t) continue;
        CHECK(t->nrows == json_integer_value(json_object_get(c, "rows")));
        json_t *h = json_object_get(c, "holdout");
        assay_model *m = NULL;
        double auc = fit_auc(t, target, positive, json_object_get(h, "train"), json_object_get(h, "test"), &m);
        double ref = json_real_value(json_object_get(h, "auc"));
        printf("%s holdout: assay AUC %.6f, scikit-learn %.6f, difference %.2e\n", path, auc, ref, fabs(auc - ref));
        CHECK_NEAR(auc, ref, 0.005);
        if (m) check_reload(t, m);
        assay_model_free(m);
        size_t fi;
        json_t *f;
        double worst = 0;
        json_array_foreach(json_object_get(c, "folds"), fi, f) {
            double a = fit_auc(t, target, positive, json_object_get(f, "train"), json_object_get(f, "test"), NULL);
            double r = json_real_value(json_object_get(f, "auc"));
            CHECK_NEAR(a, r, 0.005);
            if (fabs(a - r) > worst) worst = fabs(a - r);
        }
        printf("%s 5 folds: largest AUC difference %.2e\n", path, worst);
        assay_table_free(t);
    }
    json_decref(fx);
}

int main(void) {
    RUN(test_parity);
    return check_summary();
}
