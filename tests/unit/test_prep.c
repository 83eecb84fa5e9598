/* test_prep.c - unit tests of the prep module: scikit-learn parity (fixture from
 * tests/parity/gen/gen_prep.py), hand-checked statistics, datetime fields on known dates,
 * unseen-category modes, types that arrive differently at transform time, JSON round trip and
 * corrupt documents, allocation failure at every allocation, deduplication.
 * Tables are built by hand here (no CSV reader needed). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "internal.h"

/* ---- hand-built tables ------------------------------------------------------------------- */

static assay_table *tb_new(int64_t nrows) {
    assay_table *t = calloc(1, sizeof *t);
    t->nrows = nrows;
    t->cols = calloc(32, sizeof *t->cols);
    return t;
}

static assay_column *tb_add(assay_table *t, const char *name, assay_coltype type) {
    assay_column *c = &t->cols[t->ncols++];
    c->name = strdup(name);
    c->type = type;
    c->missing = calloc((size_t)t->nrows + 1, 1);
    return c;
}

/* NUMERIC / BOOLEAN / DATETIME; NaN = missing. */
static void tb_num(assay_table *t, const char *name, assay_coltype type, const double *v) {
    assay_column *c = tb_add(t, name, type);
    c->num = calloc((size_t)t->nrows + 1, sizeof *c->num);
    for (int64_t i = 0; i < t->nrows; i++) {
        c->num[i] = v[i];
        if (isnan(v[i])) c->missing[i] = 1, c->n_missing++;
    }
}

/* CATEGORICAL (levels in first-seen order) or TEXT; NULL = missing. */
static void tb_str(assay_table *t, const char *name, assay_coltype type, const char *const *v) {
    assay_column *c = tb_add(t, name, type);
    if (type == ASSAY_COL_TEXT) {
        c->text = calloc((size_t)t->nrows + 1, sizeof *c->text);
        for (int64_t i = 0; i < t->nrows; i++) {
            c->text[i] = v[i] ? strdup(v[i]) : NULL;
            if (!v[i]) c->missing[i] = 1, c->n_missing++;
        }
        return;
    }
    c->cat = calloc((size_t)t->nrows + 1, sizeof *c->cat);
    c->levels = calloc((size_t)t->nrows + 1, sizeof *c->levels);
    for (int64_t i = 0; i < t->nrows; i++) {
        c->cat[i] = -1;
        if (!v[i]) {
            c->missing[i] = 1, c->n_missing++;
            continue;
        }
        int32_t l = 0;
        while (l < c->nlevels && strcmp(c->levels[l], v[i])) l++;
        if (l == c->nlevels) c->levels[c->nlevels++] = strdup(v[i]);
        c->cat[i] = l;
    }
}

static void tb_free(assay_table *t) {
    if (!t) return;
    for (int k = 0; k < t->ncols; k++) {
        assay_column *c = &t->cols[k];
        free(c->name);
        free(c->missing);
        free(c->num);
        free(c->cat);
        for (int32_t l = 0; c->levels && l < c->nlevels; l++) free(c->levels[l]);
        free(c->levels);
        for (int64_t i = 0; c->text && i < t->nrows; i++) free(c->text[i]);
        free(c->text);
    }
    free(t->cols);
    free(t);
}

static float *transform_all(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                            int64_t n, assay_error *err, int *rc) {
    float *X = calloc((size_t)(n ? n : 1) * (size_t)(assay_pipeline_nfeatures(p) + 1), sizeof *X);
    *rc = assay_pipeline_transform(p, t, rows, n, X, err);
    return X;
}

static int find_feature(const assay_pipeline *p, const char *name) {
    for (int64_t j = 0; j < assay_pipeline_nfeatures(p); j++)
        if (strcmp(assay_pipeline_feature_name(p, j), name) == 0) return (int)j;
    return -1;
}

/* ---- scikit-learn parity ----------------------------------------------------------------- */

static assay_table *fixture_table(json_t *doc) {
    json_t *cols = json_object_get(doc, "columns");
    int64_t n = (int64_t)json_array_size(json_object_get(json_array_get(cols, 0), "values"));
    assay_table *t = tb_new(n);
    for (size_t k = 0; k < json_array_size(cols); k++) {
        json_t *c = json_array_get(cols, k), *vals = json_object_get(c, "values");
        const char *name = json_string_value(json_object_get(c, "name"));
        assay_coltype type;
        assay_coltype_from_name(json_string_value(json_object_get(c, "type")), &type);
        if (type == ASSAY_COL_CATEGORICAL) {
            const char **s = calloc((size_t)n, sizeof *s);
            for (int64_t i = 0; i < n; i++) s[i] = json_string_value(json_array_get(vals, (size_t)i));
            tb_str(t, name, type, s);
            free(s);
        } else {
            double *v = calloc((size_t)n, sizeof *v);
            for (int64_t i = 0; i < n; i++) {
                json_t *x = json_array_get(vals, (size_t)i);
                v[i] = json_is_number(x) ? json_number_value(x) : NAN;
            }
            tb_num(t, name, type, v);
            free(v);
        }
    }
    return t;
}

static void fixture_options(json_t *o, assay_prep_options *opt) {
    assay_prep_options_init(opt);
    const char *s;
    if ((s = json_string_value(json_object_get(o, "impute_numeric"))))
        opt->impute_numeric = !strcmp(s, "mean")            ? ASSAY_IMPUTE_MEAN
                              : !strcmp(s, "most_frequent") ? ASSAY_IMPUTE_MOST_FREQUENT
                                                            : ASSAY_IMPUTE_MEDIAN;
    if ((s = json_string_value(json_object_get(o, "impute_categorical"))))
        opt->impute_categorical = !strcmp(s, "constant") ? ASSAY_IMPUTE_CONSTANT : ASSAY_IMPUTE_MOST_FREQUENT;
    if ((s = json_string_value(json_object_get(o, "scale"))))
        opt->scale = !strcmp(s, "robust") ? ASSAY_SCALE_ROBUST
                     : !strcmp(s, "minmax") ? ASSAY_SCALE_MINMAX : ASSAY_SCALE_STANDARD;
    if ((s = json_string_value(json_object_get(o, "unseen"))))
        opt->unseen = !strcmp(s, "infrequent") ? ASSAY_UNSEEN_INFREQUENT : ASSAY_UNSEEN_IGNORE;
    if ((s = json_string_value(json_object_get(o, "outliers"))))
        opt->outliers = !strcmp(s, "iqr") ? ASSAY_OUTLIER_IQR : ASSAY_OUTLIER_ZSCORE;
    if ((s = json_string_value(json_object_get(o, "outlier_action"))))
        opt->outlier_action = !strcmp(s, "clip") ? ASSAY_OUTLIER_CLIP : ASSAY_OUTLIER_FLAG;
    json_t *v;
    if ((v = json_object_get(o, "outlier_threshold"))) opt->outlier_threshold = json_number_value(v);
    if ((v = json_object_get(o, "min_frequency"))) opt->min_frequency = json_number_value(v);
    if ((v = json_object_get(o, "max_categories"))) opt->max_categories = (int)json_integer_value(v);
    if ((v = json_object_get(o, "missing_indicator"))) opt->missing_indicator = (int)json_integer_value(v);
}

/* Largest |X - expected| / max(1, |expected|) over a part (float32 output: relative above 1);
 * -1 on shape mismatch. */
static double compare(const float *X, json_t *expect, int64_t n, int64_t D) {
    if ((int64_t)json_array_size(expect) != n) return -1;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        json_t *row = json_array_get(expect, (size_t)i);
        if ((int64_t)json_array_size(row) != D) return -1;
        for (int64_t j = 0; j < D; j++) {
            double ev = json_number_value(json_array_get(row, (size_t)j));
            double d = fabs((double)X[i * D + j] - ev) / fmax(1.0, fabs(ev));
            if (!(d <= worst)) worst = d; /* NaN propagates as a failure */
        }
    }
    return worst;
}

static void test_parity_sklearn(void) {
    json_error_t je;
    json_t *doc = json_load_file(ASSAY_SOURCE_DIR "/tests/parity/fixtures/prep_parity.json", 0, &je);
    CHECK_MSG(doc != NULL, "fixture: %s", je.text);
    if (!doc) return;
    assay_table *t = fixture_table(doc);
    int64_t ntrain = json_integer_value(json_object_get(doc, "ntrain")), ntest = t->nrows - ntrain;
    int64_t *train = malloc((size_t)ntrain * sizeof *train), *test = malloc((size_t)ntest * sizeof *test);
    for (int64_t i = 0; i < ntrain; i++) train[i] = i;
    for (int64_t i = 0; i < ntest; i++) test[i] = ntrain + i;
    json_t *variants = json_object_get(doc, "variants");
    double overall = 0;
    for (size_t v = 0; v < json_array_size(variants); v++) {
        json_t *var = json_array_get(variants, v);
        const char *vname = json_string_value(json_object_get(var, "name"));
        assay_prep_options opt;
        fixture_options(json_object_get(var, "options"), &opt);
        assay_error err = {0};
        assay_pipeline *p = NULL;
        assay_prep_report rep;
        CHECK_OK(assay_pipeline_fit(&opt, t, train, ntrain, NULL, 0, &p, &rep, &err), &err);
        if (!p) continue;
        json_t *feats = json_object_get(var, "features");
        int64_t D = assay_pipeline_nfeatures(p);
        CHECK_MSG(D == (int64_t)json_array_size(feats), "%s: %lld features, sklearn %zu", vname,
                  (long long)D, json_array_size(feats));
        int names_ok = D == (int64_t)json_array_size(feats);
        for (int64_t j = 0; names_ok && j < D; j++)
            if (strcmp(assay_pipeline_feature_name(p, j), json_string_value(json_array_get(feats, (size_t)j)))) {
                names_ok = 0;
                fprintf(stderr, "  %s: feature %lld is '%s', sklearn '%s'\n", vname, (long long)j,
                        assay_pipeline_feature_name(p, j), json_string_value(json_array_get(feats, (size_t)j)));
            }
        CHECK(names_ok);
        int rc;
        float *Xtr = transform_all(p, t, train, ntrain, &err, &rc);
        CHECK_OK(rc, &err);
        float *Xte = transform_all(p, t, test, ntest, &err, &rc);
        CHECK_OK(rc, &err);
        if (names_ok) {
            double dtr = compare(Xtr, json_object_get(var, "train"), ntrain, D);
            double dte = compare(Xte, json_object_get(var, "test"), ntest, D);
            fprintf(stderr, "  parity %-28s train max rel diff %.3g  test %.3g\n", vname, dtr, dte);
            CHECK(dtr >= 0 && dtr <= 1e-6);
            CHECK(dte >= 0 && dte <= 1e-6);
            overall = fmax(overall, fmax(dtr, dte));
        }
        /* JSON round trip gives bit-identical transforms */
        char *js = assay_pipeline_to_json(p);
        CHECK(js != NULL);
        assay_pipeline *q = NULL;
        CHECK_OK(assay_pipeline_from_json(js, &q, &err), &err);
        if (q) {
            float *Xq = transform_all(q, t, test, ntest, &err, &rc);
            CHECK_OK(rc, &err);
            CHECK(memcmp(Xq, Xte, (size_t)(ntest * D) * sizeof *Xq) == 0);
            char *js2 = assay_pipeline_to_json(q);
            CHECK(js2 && strcmp(js, js2) == 0);
            assay_free(js2);
            free(Xq);
        }
        assay_pipeline_free(q);
        assay_free(js);
        free(Xtr);
        free(Xte);
        assay_prep_report_deinit(&rep);
        assay_pipeline_free(p);
    }
    fprintf(stderr, "  parity: largest difference over all variants %.3g (tolerance 1e-6)\n", overall);
    free(train);
    free(test);
    tb_free(t);
    json_decref(doc);
}

/* ---- hand-checked statistics ------------------------------------------------------------- */

static void test_numeric_stats(void) {
    /* median of an even count averages the middle two; IQR bounds from numpy percentiles:
       x = 1 2 3 4 100 (present) : q1 = 2, q3 = 4 -> bounds [-1, 7] -> 100 is the one outlier */
    const double x[] = {1, 2, 3, 4, 100, NAN};
    const double y[] = {5, 5, 7, 7, 9, NAN}; /* most frequent: tie 5/7 -> 5 */
    assay_table *t = tb_new(6);
    tb_num(t, "x", ASSAY_COL_NUMERIC, x);
    tb_num(t, "y", ASSAY_COL_NUMERIC, y);
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.scale = ASSAY_SCALE_NONE;
    o.outliers = ASSAY_OUTLIER_IQR;
    o.missing_indicator = 1;
    assay_pipeline *p = NULL;
    assay_prep_report rep;
    assay_error err = {0};
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, &rep, &err), &err);
    if (!p) goto done;
    CHECK(rep.ncolumns == 2 && rep.columns[0].n_outliers == 1 && rep.columns[0].n_missing == 1);
    CHECK(rep.columns[1].n_outliers == 0 && rep.columns[0].n_features == 3);
    CHECK(rep.rows_in == 6);
    int jx = find_feature(p, "x"), jo = find_feature(p, "x_outlier"), jm = find_feature(p, "x_missing");
    CHECK(jx == 0 && jo == 1 && jm == 2);
    int rc;
    float *X = transform_all(p, t, NULL, 6, &err, &rc);
    int64_t D = assay_pipeline_nfeatures(p);
    CHECK_OK(rc, &err);
    CHECK_NEAR(X[5 * D + 0], 3.0, 0);   /* median of 1 2 3 4 100 */
    CHECK_NEAR(X[5 * D + 2], 1.0, 0);   /* missing flag */
    CHECK_NEAR(X[4 * D + 1], 1.0, 0);   /* 100 flagged */
    CHECK_NEAR(X[3 * D + 1], 0.0, 0);
    free(X);
    assay_pipeline_free(p);
    assay_prep_report_deinit(&rep);

    /* rows 0..3 only: median 2.5; clip; most frequent tie -> 5; mean */
    int64_t rows[] = {0, 1, 2, 3, 5};
    o.outlier_action = ASSAY_OUTLIER_CLIP;
    o.impute_numeric = ASSAY_IMPUTE_MOST_FREQUENT;
    CHECK_OK(assay_pipeline_fit(&o, t, rows, 5, NULL, 0, &p, NULL, &err), &err);
    if (!p) goto done;
    D = assay_pipeline_nfeatures(p);
    X = transform_all(p, t, NULL, 6, &err, &rc);
    int jy = find_feature(p, "y");
    CHECK(jy >= 0);
    CHECK_NEAR(X[5 * D + jy], 5.0, 0);
    /* x on rows 1..4: q1 1.75, q3 3.25 -> hi = 5.5: 100 clipped to 5.5 */
    CHECK_NEAR(X[4 * D + 0], 5.5, 0);
    CHECK_NEAR(X[5 * D + 0], 1.0, 0); /* most frequent of 1 2 3 4: tie -> smallest */
    free(X);
    assay_pipeline_free(p);

    o.impute_numeric = ASSAY_IMPUTE_MEDIAN;
    o.outliers = ASSAY_OUTLIER_NONE;
    CHECK_OK(assay_pipeline_fit(&o, t, rows, 4, NULL, 0, &p, NULL, &err), &err);
    if (!p) goto done;
    D = assay_pipeline_nfeatures(p);
    X = transform_all(p, t, NULL, 6, &err, &rc);
    CHECK_NEAR(X[5 * D + 0], 2.5, 0);
    free(X);
    assay_pipeline_free(p);

    /* standard scaling: population std, and z-score outliers */
    o.scale = ASSAY_SCALE_STANDARD;
    o.outliers = ASSAY_OUTLIER_ZSCORE;
    o.outlier_threshold = 1.5;
    o.missing_indicator = 0;
    CHECK_OK(assay_pipeline_fit(&o, t, rows, 4, NULL, 0, &p, &rep, &err), &err);
    if (!p) goto done;
    D = assay_pipeline_nfeatures(p);
    X = transform_all(p, t, rows, 1, &err, &rc);
    /* 1 2 3 4: mean 2.5, std sqrt(1.25); |z| max 1.342 < 1.5 -> no outliers */
    CHECK_NEAR(X[0], (1 - 2.5) / sqrt(1.25), 1e-6);
    CHECK(rep.columns[0].n_outliers == 0);
    free(X);
    assay_prep_report_deinit(&rep);
    assay_pipeline_free(p);
done:
    tb_free(t);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Larger column with many repeated values: median / IQR by selection vs. a full sort here. */
static void test_robust_large(void) {
    const int64_t N = 10001;
    double *v = malloc((size_t)N * sizeof *v), *s = malloc((size_t)N * sizeof *s);
    uint64_t r = 12345;
    for (int64_t i = 0; i < N; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = (double)((r >> 33) % 37) * 0.5;
        s[i] = v[i];
    }
    qsort(s, (size_t)N, sizeof *s, cmp_d);
    /* numpy linear percentiles on N = 10001 values: positions 2500, 5000, 7500 are exact */
    double med = s[5000], iqr = s[7500] - s[2500];
    assay_table *t = tb_new(N);
    tb_num(t, "v", ASSAY_COL_NUMERIC, v);
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.scale = ASSAY_SCALE_ROBUST;
    assay_pipeline *p = NULL;
    assay_error err = {0};
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        float *X = calloc((size_t)N, sizeof *X);
        CHECK_OK(assay_pipeline_transform(p, t, NULL, N, X, &err), &err);
        double worst = 0;
        for (int64_t i = 0; i < N; i++) worst = fmax(worst, fabs(X[i] - (v[i] - med) / iqr));
        CHECK_MSG(worst < 1e-6, "largest difference %g", worst);
        free(X);
        assay_pipeline_free(p);
    }
    tb_free(t);
    free(v);
    free(s);
}

/* ---- datetime ---------------------------------------------------------------------------- */

static void test_datetime_known_dates(void) {
    /* 1970-01-01T00:00Z, 2000-02-29T00:00Z, 2024-12-31T23:59:00Z, 1969-12-31T23:59:59Z */
    const double when[] = {0, 951782400, 1735689540, -1};
    const double expect[4][7] = {{1970, 1, 1, 3, 0, 0, 1},
                                 {2000, 2, 29, 1, 0, 0, 60},
                                 {2024, 12, 31, 1, 23, 59, 366},
                                 {1969, 12, 31, 2, 23, 59, 365}};
    assay_table *t = tb_new(4);
    tb_num(t, "when", ASSAY_COL_DATETIME, when);
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.scale = ASSAY_SCALE_NONE;
    o.datetime_features = 127;
    assay_pipeline *p = NULL;
    assay_error err = {0};
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (!p) goto done;
    CHECK(assay_pipeline_nfeatures(p) == 7);
    CHECK_STR(assay_pipeline_feature_name(p, 0), "when.year");
    CHECK_STR(assay_pipeline_feature_name(p, 3), "when.dayofweek");
    CHECK_STR(assay_pipeline_feature_name(p, 6), "when.dayofyear");
    int rc;
    float *X = transform_all(p, t, NULL, 4, &err, &rc);
    CHECK_OK(rc, &err);
    for (int i = 0; i < 4; i++)
        for (int f = 0; f < 7; f++) CHECK_NEAR(X[i * 7 + f], expect[i][f], 0);
    free(X);

    /* the same dates arriving as ISO text, and one unparseable cell (imputed with medians) */
    const char *iso[] = {"1970-01-01T00:00:00Z", "2000-02-29", "2024-12-31 23:59", "1969-12-31T23:59:59+00:00", "soon"};
    assay_table *t2 = tb_new(5);
    tb_str(t2, "when", ASSAY_COL_TEXT, iso);
    X = transform_all(p, t2, NULL, 5, &err, &rc);
    CHECK_OK(rc, &err);
    for (int i = 0; i < 4; i++)
        for (int f = 0; f < 7; f++) CHECK_NEAR(X[i * 7 + f], expect[i][f], 0);
    CHECK_NEAR(X[4 * 7 + 0], (1970 + 2000) / 2.0, 0);
    free(X);
    tb_free(t2);
    assay_pipeline_free(p);
done:
    tb_free(t);
}

/* ---- categorical ------------------------------------------------------------------------- */

static void test_unseen_modes(void) {
    const char *train[] = {"b", "a", "b", "c", "a", "b", "rare", NULL};
    const char *test[] = {"a", "zzz", "rare", NULL};
    assay_table *t = tb_new(8), *u = tb_new(4);
    tb_str(t, "Home", ASSAY_COL_CATEGORICAL, train);
    tb_str(u, "Home", ASSAY_COL_CATEGORICAL, test);
    assay_prep_options o;
    assay_prep_options_init(&o);
    assay_pipeline *p = NULL;
    assay_error err = {0};
    int rc;
    /* ignore: levels sorted a b c rare; missing -> most frequent b */
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        CHECK(assay_pipeline_nfeatures(p) == 4);
        CHECK_STR(assay_pipeline_feature_name(p, 0), "Home=a");
        CHECK_STR(assay_pipeline_feature_name(p, 3), "Home=rare");
        float *X = transform_all(p, u, NULL, 4, &err, &rc);
        const float e[4][4] = {{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 1}, {0, 1, 0, 0}};
        CHECK(rc == 0 && memcmp(X, e, sizeof e) == 0);
        free(X);
        assay_pipeline_free(p);
    }
    /* infrequent: min_frequency 2 groups c and rare; unseen zzz -> infrequent */
    o.min_frequency = 2;
    o.unseen = ASSAY_UNSEEN_INFREQUENT;
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        CHECK(assay_pipeline_nfeatures(p) == 3);
        CHECK_STR(assay_pipeline_feature_name(p, 2), "Home_infrequent");
        float *X = transform_all(p, u, NULL, 4, &err, &rc);
        const float e[4][3] = {{1, 0, 0}, {0, 0, 1}, {0, 0, 1}, {0, 1, 0}};
        CHECK(rc == 0 && memcmp(X, e, sizeof e) == 0);
        free(X);
        assay_pipeline_free(p);
    }
    /* max_categories 2: keeps the single most frequent level (b) + infrequent */
    o.min_frequency = 0;
    o.max_categories = 2;
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        CHECK(assay_pipeline_nfeatures(p) == 2);
        CHECK_STR(assay_pipeline_feature_name(p, 0), "Home=b");
        assay_pipeline_free(p);
    }
    /* error: names the column, the value and the row */
    o.max_categories = 0;
    o.unseen = ASSAY_UNSEEN_ERROR;
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        float *X = transform_all(p, u, NULL, 4, &err, &rc);
        CHECK(rc == ASSAY_ESCHEMA);
        CHECK_MSG(strstr(err.msg, "'Home'") && strstr(err.msg, "'zzz'") && strstr(err.msg, "row 2"),
                  "%s", err.msg);
        free(X);
        int64_t ok_rows[] = {0, 2, 3};
        X = transform_all(p, u, ok_rows, 3, &err, &rc);
        CHECK_OK(rc, &err);
        free(X);
        /* ordinal codes */
        assay_pipeline_free(p);
    }
    o.unseen = ASSAY_UNSEEN_IGNORE;
    o.encode = ASSAY_ENCODE_ORDINAL;
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        CHECK(assay_pipeline_nfeatures(p) == 1);
        float *X = transform_all(p, u, NULL, 4, &err, &rc);
        CHECK(rc == 0 && X[0] == 0 && X[1] == -1 && X[2] == 3 && X[3] == 1);
        free(X);
        assay_pipeline_free(p);
    }
    /* constant imputation: a "missing" level */
    o.encode = ASSAY_ENCODE_ONEHOT;
    o.impute_categorical = ASSAY_IMPUTE_CONSTANT;
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (p) {
        CHECK(find_feature(p, "Home=missing") == 3);
        float *X = transform_all(p, u, NULL, 4, &err, &rc);
        CHECK(rc == 0 && X[3 * 5 + 3] == 1 && X[3 * 5 + 1] == 0);
        free(X);
        assay_pipeline_free(p);
    }
    tb_free(t);
    tb_free(u);
}

/* Types decided differently at predict time, missing input columns, extra columns. */
static void test_forgiving_types(void) {
    const double inc[] = {10, 20, 30, 40};
    const double own[] = {1, 0, 1, 1};
    assay_table *t = tb_new(4);
    tb_num(t, "Income", ASSAY_COL_NUMERIC, inc);
    const char *codes_s[] = {"1", "2", "3.5", "2"};
    tb_str(t, "Code", ASSAY_COL_CATEGORICAL, codes_s);
    const char *flags[] = {"true", "false", "true", "true"};
    tb_str(t, "Flag", ASSAY_COL_CATEGORICAL, flags);
    tb_num(t, "Owner", ASSAY_COL_BOOLEAN, own);
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.scale = ASSAY_SCALE_NONE;
    assay_pipeline *p = NULL;
    assay_error err = {0};
    int rc;
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (!p) goto done;
    CHECK(assay_pipeline_ninputs(p) == 4);
    CHECK_STR(assay_pipeline_input_name(p, 1), "Code");
    CHECK(assay_pipeline_input_type(p, 3) == ASSAY_COL_BOOLEAN);
    CHECK(assay_pipeline_nfeatures(p) == 1 + 3 + 2 + 1);

    /* predict-time table: other order, extra column, Income as text, Code as numbers, Flag as
       booleans, Owner as categorical text */
    assay_table *u = tb_new(3);
    const char *owner_s[] = {"false", "true", NULL};
    tb_str(u, "Owner", ASSAY_COL_CATEGORICAL, owner_s);
    const double extra[] = {7, 8, 9};
    tb_num(u, "Extra", ASSAY_COL_NUMERIC, extra);
    const double ucode[] = {3.5, 2, 9};
    tb_num(u, "Code", ASSAY_COL_NUMERIC, ucode);
    const char *uinc[] = {"15", "12k", NULL};
    tb_str(u, "Income", ASSAY_COL_TEXT, uinc);
    const double uflag[] = {0, 1, NAN};
    tb_num(u, "Flag", ASSAY_COL_BOOLEAN, uflag);
    float *X = transform_all(p, u, NULL, 3, &err, &rc);
    CHECK_OK(rc, &err);
    const float e[3][7] = {{15, 0, 0, 1, 1, 0, 0}, {25, 0, 1, 0, 0, 1, 1}, {25, 0, 0, 0, 0, 1, 1}};
    CHECK(memcmp(X, e, sizeof e) == 0);
    for (int i = 0; i < 21; i++)
        if (X[i] != ((const float *)e)[i]) fprintf(stderr, "  X[%d] = %g, expected %g\n", i, X[i], ((const float *)e)[i]);
    free(X);
    tb_free(u);

    /* a missing input column */
    assay_table *w = tb_new(1);
    const double one[] = {1};
    tb_num(w, "Code", ASSAY_COL_NUMERIC, one);
    X = transform_all(p, w, NULL, 1, &err, &rc);
    CHECK(rc == ASSAY_ESCHEMA);
    CHECK_STR(err.msg, "input column 'Income' is missing");
    free(X);
    tb_free(w);
    assay_pipeline_free(p);
done:
    tb_free(t);
}

/* ---- text columns: a fitted vectorizer, a sparse design, the JSON round trip ------------------ */

static void test_text_column(void) {
    const double x[] = {1, 2, 3, 4};
    const char *txt[] = {"Great tea, great taste", "bad tea", NULL, "great &amp; cheap"};
    const char *ids[] = {"a", "b", "c", "d"};
    assay_table *t = tb_new(4);
    tb_num(t, "x", ASSAY_COL_NUMERIC, x);
    tb_str(t, "review", ASSAY_COL_TEXT, txt);
    tb_str(t, "id", ASSAY_COL_CATEGORICAL, ids);
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.text.text.ngram_max = 1;
    o.text.min_df = 1;
    o.text.kind = ASSAY_VEC_COUNT;
    o.text.norm = 0;
    o.text.sublinear_tf = 0;
    assay_pipeline *p = NULL;
    assay_prep_report rep;
    assay_error err = {0};
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, &rep, &err), &err);
    if (!p) return;
    CHECK(assay_pipeline_sparse(p));
    /* x, then the terms in byte order (HTML entity decoded, case folded), then id one-hot */
    CHECK(assay_pipeline_nfeatures(p) == 1 + 5 + 4);
    CHECK_STR(assay_pipeline_feature_name(p, 1), "review:bad");
    CHECK_STR(assay_pipeline_feature_name(p, 3), "review:great");
    float X[4];
    CHECK(assay_pipeline_transform(p, t, NULL, 0, X, &err) == ASSAY_EINVAL); /* dense refused */
    assay_csr A = {0};
    CHECK_OK(assay_pipeline_transform_csr(p, t, NULL, 4, &A, &err), &err);
    CHECK(assay_csr_validate(&A, &err) == ASSAY_OK);
    /* row 0: x (scaled, non-zero), great x2, taste, tea, id=a */
    int found_great = 0;
    for (int64_t k = A.indptr[0]; k < A.indptr[1]; k++)
        if (A.indices[k] == 3) found_great = A.values[k] == 2.0f;
    CHECK(found_great);
    /* row 2 (missing text): x and id only */
    CHECK(A.indptr[3] - A.indptr[2] == 2);
    char *js = assay_pipeline_to_json(p);
    assay_pipeline *q = NULL;
    CHECK(js != NULL);
    if (js) CHECK_OK(assay_pipeline_from_json(js, &q, &err), &err);
    if (q) {
        assay_csr B = {0};
        CHECK_OK(assay_pipeline_transform_csr(q, t, NULL, 4, &B, &err), &err);
        int same = A.nnz == B.nnz;
        for (int64_t k = 0; same && k < A.nnz; k++) same = A.indices[k] == B.indices[k] && A.values[k] == B.values[k];
        CHECK(same);
        assay_csr_deinit(&B);
    }
    assay_free(js);
    assay_pipeline_free(q);
    assay_csr_deinit(&A);
    assay_pipeline_free(p);
    assay_prep_report_deinit(&rep);
    tb_free(t);
}

/* ---- skipped columns, one row, excluded columns ----------------------------------------- */

static void test_skips(void) {
    const double x[] = {1, 2, 3}, c[] = {5, 5, 5}, m[] = {NAN, NAN, NAN};
    const char *txt[] = {"hello", "world", NULL}, *y[] = {"no", "yes", "no"};
    assay_table *t = tb_new(3);
    tb_num(t, "x", ASSAY_COL_NUMERIC, x);
    tb_num(t, "const", ASSAY_COL_NUMERIC, c);
    tb_num(t, "empty", ASSAY_COL_NUMERIC, m);
    tb_str(t, "note", ASSAY_COL_TEXT, txt);
    tb_str(t, "target", ASSAY_COL_CATEGORICAL, y);
    const char *excl[] = {"target"};
    assay_prep_report rep;
    assay_pipeline *p = NULL;
    assay_error err = {0};
    CHECK_OK(assay_pipeline_fit(NULL, t, NULL, 0, excl, 1, &p, &rep, &err), &err);
    if (p) {
        CHECK(rep.ncolumns == 4);
        CHECK(assay_pipeline_ninputs(p) == 1 && assay_pipeline_nfeatures(p) == 1);
        CHECK(!rep.columns[0].skipped && rep.columns[0].n_features == 1);
        CHECK(rep.columns[1].skipped);
        CHECK_STR(rep.columns[1].skip_reason, "constant");
        CHECK(rep.columns[2].skipped && rep.columns[2].n_missing == 3);
        CHECK_STR(rep.columns[2].skip_reason, "all missing");
        /* every word occurs once, below the default min_df of 2 */
        CHECK_STR(rep.columns[3].skip_reason, "text without enough recurring words");
        CHECK(rep.columns[3].type == ASSAY_COL_TEXT && rep.columns[3].n_missing == 1);
        /* skipped columns are not inputs: a table without them transforms */
        assay_table *u = tb_new(1);
        const double v[] = {2};
        tb_num(u, "x", ASSAY_COL_NUMERIC, v);
        float X[1];
        CHECK_OK(assay_pipeline_transform(p, u, NULL, 1, X, &err), &err);
        CHECK_NEAR(X[0], 0.0, 1e-7);
        tb_free(u);
        assay_prep_report_deinit(&rep);
        assay_pipeline_free(p);
    }
    /* one training row: everything is constant -> a clear error */
    int64_t one[] = {1};
    int rc = assay_pipeline_fit(NULL, t, one, 1, excl, 1, &p, &rep, &err);
    CHECK(rc == ASSAY_EINVAL && p == NULL && strstr(err.msg, "no column produced"));
    /* bad options and bad rows */
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.min_frequency = -1;
    CHECK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "min_frequency") != NULL);
    int64_t bad[] = {0, 3};
    CHECK(assay_pipeline_fit(NULL, t, bad, 2, NULL, 0, &p, NULL, &err) == ASSAY_EINVAL);
    CHECK(assay_pipeline_fit(NULL, t, one, 0, NULL, 0, &p, NULL, &err) == ASSAY_EINVAL);
    tb_free(t);
}

/* ---- JSON: corrupt documents ------------------------------------------------------------- */

static assay_table *mixed_table(void) {
    const double a[] = {1, 2, NAN, 4, 5, 100}, d[] = {0, 86400 * 40.5, 1e9, NAN, 1.7e9, 3e8};
    const char *c[] = {"x", "y", "x", NULL, "z", "x"};
    assay_table *t = tb_new(6);
    tb_num(t, "a", ASSAY_COL_NUMERIC, a);
    tb_num(t, "d", ASSAY_COL_DATETIME, d);
    tb_str(t, "c", ASSAY_COL_CATEGORICAL, c);
    return t;
}

static int from_json_str(const char *s, assay_error *err) {
    assay_pipeline *q = NULL;
    int rc = assay_pipeline_from_json(s, &q, err);
    CHECK((rc == 0) == (q != NULL));
    assay_pipeline_free(q);
    return rc;
}

/* Replace the first occurrence of from with to in s (malloc'd result). */
static char *replace(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    if (!at) return NULL;
    size_t n = strlen(s) + strlen(to) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return r;
}

static void test_json_corrupt(void) {
    assay_table *t = mixed_table();
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.missing_indicator = 1;
    o.outliers = ASSAY_OUTLIER_IQR;
    o.min_frequency = 2;
    assay_pipeline *p = NULL;
    assay_error err = {0};
    CHECK_OK(assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, NULL, &err), &err);
    if (!p) {
        tb_free(t);
        return;
    }
    char *js = assay_pipeline_to_json(p);
    CHECK(from_json_str(js, &err) == 0);
    /* every truncation is rejected */
    size_t n = strlen(js);
    char *buf = malloc(n + 1);
    int all_rejected = 1;
    for (size_t k = 0; k < n; k++) {
        memcpy(buf, js, k);
        buf[k] = '\0';
        if (from_json_str(buf, &err) == 0) all_rejected = 0;
    }
    CHECK(all_rejected);
    /* every single-byte change gives OK or a clean format error (ASan watches for the rest) */
    int clean = 1;
    for (size_t k = 0; k < n; k++) {
        const char subst[] = {'0', '"', '-', ']', 'x', '9'};
        for (size_t s = 0; s < sizeof subst; s++) {
            memcpy(buf, js, n + 1);
            buf[k] = subst[s];
            int rc = from_json_str(buf, &err);
            if (rc != 0 && rc != ASSAY_EFORMAT && rc != ASSAY_EVERSION) clean = 0;
        }
    }
    CHECK(clean);
    free(buf);
    /* targeted corruptions */
    struct { const char *from, *to; int code; } cases[] = {
        {"\"format\":1", "\"format\":2", ASSAY_EVERSION},
        {"\"format\":1", "\"format\":\"1\"", ASSAY_EFORMAT},
        {"\"scale\":", "\"scale\":-", ASSAY_EFORMAT},
        {"\"levels\":[\"x\"", "\"levels\":[\"zz\"", ASSAY_EFORMAT},   /* unsorted */
        {"\"codes\":[0", "\"codes\":[7", ASSAY_EFORMAT},
        {"\"nkept\":", "\"nkept\":9", ASSAY_EFORMAT},
        {"\"type\":\"numeric\"", "\"type\":\"text\"", ASSAY_EFORMAT},
        {"\"field\":\"year\"", "\"field\":\"century\"", ASSAY_EFORMAT},
        {"\"indicator\":true", "\"indicator\":1", ASSAY_EFORMAT},
        {"\"a_missing\"", "\"b_missing\"", ASSAY_EFORMAT},
        {"\"nfeatures\":", "\"nfeatures\":1", ASSAY_EFORMAT},
        {"\"outlier\":\"flag\"", "\"outlier\":\"maybe\"", ASSAY_EFORMAT},
        {"\"fill\":", "\"fill\":{},\"x\":", ASSAY_EFORMAT},
        {"{\"format\"", "[{\"format\"", ASSAY_EFORMAT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *bad = replace(js, cases[k].from, cases[k].to);
        CHECK_MSG(bad != NULL, "case %zu: '%s' not in the document", k, cases[k].from);
        if (!bad) continue;
        int rc = from_json_str(bad, &err);
        CHECK_MSG(rc == cases[k].code, "case %zu (%s): rc %d: %s", k, cases[k].to, rc, err.msg);
        free(bad);
    }
    CHECK(from_json_str("", &err) == ASSAY_EFORMAT);
    CHECK(from_json_str("null", &err) == ASSAY_EFORMAT);
    CHECK(from_json_str("{\"format\":1,\"inputs\":[],\"features\":[],\"nfeatures\":0}", &err) == ASSAY_EFORMAT);
    assay_free(js);
    assay_pipeline_free(p);
    tb_free(t);
}

/* ---- allocation failure ------------------------------------------------------------------ */

static void test_alloc_failures(void) {
    assay_table *t = mixed_table();
    assay_prep_options o;
    assay_prep_options_init(&o);
    o.missing_indicator = 1;
    o.outliers = ASSAY_OUTLIER_ZSCORE;
    o.max_categories = 2;
    assay_error err = {0};
    assay_pipeline *p = NULL;
    assay_prep_report rep;
    assay_alloc_fail_after(0);
    int rc = assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &p, &rep, &err);
    uint64_t nalloc = assay_alloc_fail_after(0);
    CHECK_OK(rc, &err);
    CHECK(nalloc > 10);
    assay_prep_report_deinit(&rep);
    int all_enomem = 1;
    for (uint64_t k = 1; k <= nalloc; k++) {
        assay_pipeline *q = NULL;
        assay_alloc_fail_after(k);
        rc = assay_pipeline_fit(&o, t, NULL, 0, NULL, 0, &q, &rep, &err);
        assay_alloc_fail_after(0);
        if (rc != ASSAY_ENOMEM || q != NULL || rep.columns != NULL) {
            all_enomem = 0;
            fprintf(stderr, "  fit with allocation %llu failing: rc %d\n", (unsigned long long)k, rc);
        }
        assay_pipeline_free(q);
    }
    CHECK(all_enomem);

    /* from_json and transform fail cleanly too */
    char *js = assay_pipeline_to_json(p);
    assay_alloc_fail_after(0);
    assay_pipeline *q = NULL;
    CHECK_OK(assay_pipeline_from_json(js, &q, &err), &err);
    nalloc = assay_alloc_fail_after(0);
    assay_pipeline_free(q);
    all_enomem = 1;
    for (uint64_t k = 1; k <= nalloc; k++) {
        assay_alloc_fail_after(k);
        rc = assay_pipeline_from_json(js, &q, &err);
        assay_alloc_fail_after(0);
        if (rc != ASSAY_ENOMEM || q) all_enomem = 0;
        assay_pipeline_free(q);
    }
    CHECK(all_enomem);
    float X[64];
    assay_alloc_fail_after(1);
    rc = assay_pipeline_transform(p, t, NULL, 6, X, &err);
    assay_alloc_fail_after(0);
    CHECK(rc == ASSAY_ENOMEM);
    assay_free(js);

    /* dedup */
    int64_t *kept = NULL, nk = 0;
    assay_alloc_fail_after(2);
    rc = assay_prep_dedup(t, NULL, 0, &kept, &nk, &err);
    assay_alloc_fail_after(0);
    CHECK(rc == ASSAY_ENOMEM && kept == NULL);
    assay_pipeline_free(p);
    tb_free(t);
}

/* ---- deduplication ----------------------------------------------------------------------- */

static void test_dedup(void) {
    const double a[] = {1, 1, 2, 1, NAN, NAN, -0.0, 0.0};
    const char *c[] = {"x", "x", "x", "y", NULL, NULL, "x", "x"};
    const char *s[] = {"t", "t", "t", "t", "u", "u", "t", "t"};
    assay_table *t = tb_new(8);
    tb_num(t, "a", ASSAY_COL_NUMERIC, a);
    tb_str(t, "c", ASSAY_COL_CATEGORICAL, c);
    tb_str(t, "s", ASSAY_COL_TEXT, s);
    /* the same text under two level indices must still be a duplicate */
    assay_column *cc = &t->cols[1];
    cc->levels[cc->nlevels] = strdup("x");
    cc->cat[1] = cc->nlevels++;
    int64_t *kept = NULL, nk = 0;
    assay_error err = {0};
    CHECK_OK(assay_prep_dedup(t, NULL, 0, &kept, &nk, &err), &err);
    const int64_t e[] = {0, 2, 3, 4, 6};
    CHECK(nk == 5 && kept && memcmp(kept, e, sizeof e) == 0);
    assay_free(kept);
    int64_t rows[] = {7, 6, 5, 1, 0};
    CHECK_OK(assay_prep_dedup(t, rows, 5, &kept, &nk, &err), &err);
    const int64_t e2[] = {7, 5, 1};
    CHECK(nk == 3 && memcmp(kept, e2, sizeof e2) == 0);
    assay_free(kept);
    CHECK_OK(assay_prep_dedup(t, rows, 0, &kept, &nk, &err), &err);
    CHECK(nk == 0);
    assay_free(kept);

    /* many rows with few distinct values (hash table growth and probing) */
    int64_t N = 20000;
    double *v = malloc((size_t)N * sizeof *v);
    for (int64_t i = 0; i < N; i++) v[i] = (double)((i * 7919) % 1000);
    assay_table *big = tb_new(N);
    tb_num(big, "v", ASSAY_COL_NUMERIC, v);
    CHECK_OK(assay_prep_dedup(big, NULL, 0, &kept, &nk, &err), &err);
    CHECK(nk == 1000);
    int first_ok = 1;
    for (int64_t i = 0; i < nk; i++) first_ok &= kept[i] == i;
    CHECK(first_ok);
    assay_free(kept);
    free(v);
    tb_free(big);
    tb_free(t);
}

int main(void) {
    RUN(test_parity_sklearn);
    RUN(test_numeric_stats);
    RUN(test_robust_large);
    RUN(test_datetime_known_dates);
    RUN(test_unseen_modes);
    RUN(test_forgiving_types);
    RUN(test_text_column);
    RUN(test_skips);
    RUN(test_json_corrupt);
    RUN(test_alloc_failures);
    RUN(test_dedup);
    return check_summary();
}
