/* test_prep_csv.c - the prep module on real data read by the CSV reader: examples/credit_data.csv
 * deduplicated, fitted with the default options (Status excluded) and compared with
 * scikit-learn (fixture prep_credit.json from tests/parity/gen/gen_prep.py); then a JSON round
 * trip and a transform of the whole file. Kept apart from test_prep.c so that the prep tests
 * proper need no reader. */
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "internal.h"

static void test_credit_data(void) {
    assay_error err = {0};
    assay_table *t = NULL;
    json_error_t je;
    json_t *fx = json_load_file(ASSAY_SOURCE_DIR "/tests/parity/fixtures/prep_credit.json", 0, &je);
    CHECK_MSG(fx != NULL, "fixture: %s", je.text);
    CHECK_OK(assay_table_read_csv(ASSAY_SOURCE_DIR "/examples/credit_data.csv", NULL, &t, &err), &err);
    if (!fx || !t) goto done;
    CHECK(t->nrows == json_integer_value(json_object_get(fx, "rows_in")));

    int64_t *kept = NULL, nk = 0;
    CHECK_OK(assay_prep_dedup(t, NULL, 0, &kept, &nk, &err), &err);
    CHECK_MSG(nk == json_integer_value(json_object_get(fx, "nkept")), "kept %lld rows", (long long)nk);
    json_t *first = json_object_get(fx, "kept_first");
    int same = nk >= (int64_t)json_array_size(first);
    for (size_t i = 0; same && i < json_array_size(first); i++)
        same = kept[i] == json_integer_value(json_array_get(first, i));
    CHECK(same);

    const char *excl[] = {"Status"};
    assay_prep_options o;
    assay_prep_options_init(&o);
    assay_pipeline *p = NULL;
    assay_prep_report rep;
    CHECK_OK(assay_pipeline_fit(&o, t, kept, nk, excl, 1, &p, &rep, &err), &err);
    if (!p) {
        assay_free(kept);
        goto done;
    }
    CHECK(rep.ncolumns == 13);
    int inc = -1;
    for (int c = 0; c < rep.ncolumns; c++)
        if (!strcmp(rep.columns[c].name, "Income")) inc = c;
    CHECK(inc >= 0 && rep.columns[inc].n_missing > 0 && rep.columns[inc].n_features == 1);
    int64_t D = assay_pipeline_nfeatures(p), R = (int64_t)json_array_size(first);
    float *X = malloc((size_t)(nk * D) * sizeof *X);
    CHECK_OK(assay_pipeline_transform(p, t, kept, nk, X, &err), &err);
    json_t *feats = json_object_get(fx, "features");
    double worst = 0;
    int all_named = 1;
    for (int64_t j = 0; j < D; j++) {
        json_t *col = json_object_get(feats, assay_pipeline_feature_name(p, j));
        if (!col) {
            all_named = 0;
            fprintf(stderr, "  feature '%s' is not in the sklearn fixture\n", assay_pipeline_feature_name(p, j));
            continue;
        }
        for (int64_t i = 0; i < R; i++) {
            double e = json_number_value(json_array_get(col, (size_t)i));
            worst = fmax(worst, fabs(X[i * D + j] - e) / fmax(1.0, fabs(e)));
        }
    }
    CHECK(all_named && D >= 20);
    fprintf(stderr, "  credit_data: %lld rows kept, %lld features, max rel diff vs sklearn %.3g\n",
            (long long)nk, (long long)D, worst);
    CHECK(worst <= 1e-6);
    int finite = 1;
    for (int64_t i = 0; i < nk * D; i++) finite &= isfinite(X[i]);
    CHECK(finite);

    char *js = assay_pipeline_to_json(p);
    assay_pipeline *q = NULL;
    CHECK_OK(assay_pipeline_from_json(js, &q, &err), &err);
    if (q) {
        float *Y = malloc((size_t)(nk * D) * sizeof *Y);
        CHECK_OK(assay_pipeline_transform(q, t, kept, nk, Y, &err), &err);
        CHECK(memcmp(X, Y, (size_t)(nk * D) * sizeof *X) == 0);
        free(Y);
    }
    assay_pipeline_free(q);
    assay_free(js);
    free(X);
    assay_prep_report_deinit(&rep);
    assay_pipeline_free(p);
    assay_free(kept);
done:
    json_decref(fx);
    assay_table_free(t);
}

int main(void) {
    RUN(test_credit_data);
    return check_summary();
}
