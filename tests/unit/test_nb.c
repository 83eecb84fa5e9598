/* test_nb.c - naive Bayes (multinomial, complement, binarized) and NB-scaled logistic regression
 * against scikit-learn (fixture from tests/parity/gen/gen_nb.py), on dense and CSR input; the
 * ensemble estimator's weighted average; save/load round trips; refusals. */
#include <jansson.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "models/estimator.h"

static int n_, d_;
static float *X_;
static assay_csr csr_;
static json_t *doc_;

static assay_estimator *make(const assay_estimator_vt *vt, const char *params, assay_task task,
                             int K, int *rc, assay_error *err) {
    assay_params p;
    assay_estimator *e = NULL;
    *rc = assay_params_parse(params, &p, err);
    if (!*rc) *rc = vt->create(&p, task, K, d_, &e, err);
    assay_params_deinit(&p);
    return *rc ? NULL : e;
}

static assay_estimator *fit(const assay_estimator_vt *vt, const char *params, int K,
                            const double *y, int sparse, assay_error *err) {
    int rc;
    assay_task task = K == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS;
    assay_estimator *e = make(vt, params, task, K, &rc, err);
    CHECK_OK(rc, err);
    if (!e) return NULL;
    assay_design ds = {.X = {.n = n_, .d = d_, .dense = sparse ? NULL : X_, .csr = sparse ? &csr_ : NULL},
                       .y = y, .task = task, .nclasses = K};
    rc = e->vt->fit(e, &ds, err);
    CHECK_OK(rc, err);
    if (rc) {
        e->vt->free(e);
        return NULL;
    }
    return e;
}

static double *predict(const assay_estimator *e, int sparse) {
    int K = e->nclasses;
    double *out = calloc((size_t)n_ * (size_t)K, sizeof *out);
    assay_matrix X = {.n = n_, .d = d_, .dense = sparse ? NULL : X_, .csr = sparse ? &csr_ : NULL};
    assay_error err = {0};
    CHECK_OK(e->vt->predict(e, &X, out, &err), &err);
    return out;
}

static double maxdiff(const double *a, const json_t *b, int n, int K) {
    double m = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            m = fmax(m, fabs(a[i * K + k] - json_number_value(json_array_get(json_array_get(b, (size_t)i), (size_t)k))));
    return m;
}

static double *labels(const json_t *arr) {
    double *y = calloc(json_array_size(arr), sizeof *y);
    for (size_t i = 0; i < json_array_size(arr); i++) y[i] = (double)json_integer_value(json_array_get(arr, i));
    return y;
}

/* Save e, load the file into a fresh estimator of the same kind and parameters. */
static assay_estimator *round_trip(const assay_estimator *e, const char *params) {
    assay_error err = {0};
    assay_mfile_writer *w = assay_mfile_writer_new();
    json_t *meta = json_object();
    CHECK_OK(e->vt->save(e, w, "t.", meta, &err), &err);
    char path[] = "/tmp/test_nb_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    int rc;
    assay_estimator *g = make(e->vt, params, e->task, e->nclasses, &rc, &err);
    CHECK_OK(rc, &err);
    if (g && f) {
        rc = g->vt->load(g, f, "t.", meta, &err);
        CHECK_OK(rc, &err);
    }
    assay_mfile_free(f);
    assay_mfile_writer_free(w);
    json_decref(meta);
    remove(path);
    return g;
}

static void test_nb_parity(void) {
    const json_t *doc = doc_;
    const json_t *cases = json_object_get(doc, "cases");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        const char *params = json_string_value(json_object_get(cs, "params"));
        int K = (int)json_integer_value(json_object_get(cs, "K"));
        double *y = labels(json_object_get(cs, "y"));
        assay_error err = {0};
        for (int sparse = 0; sparse < 2; sparse++) {
            assay_estimator *e = fit(&assay__nb_vt, params, K, y, sparse, &err);
            if (!e) continue;
            double *p = predict(e, sparse);
            double md = maxdiff(p, json_object_get(cs, "proba"), n_, K);
            printf("  nb %-28s K=%d %s: max |proba - sklearn| %.2e\n", params, K, sparse ? "csr  " : "dense", md);
            CHECK(md < 1e-10);
            assay_estimator *g = round_trip(e, params);
            if (g) {
                double *q = predict(g, sparse);
                CHECK(memcmp(p, q, sizeof *p * (size_t)n_ * (size_t)K) == 0);
                free(q);
                g->vt->free(g);
            }
            free(p);
            e->vt->free(e);
        }
        free(y);
    }
}

static void test_nblr_parity(void) {
    const json_t *doc = doc_;
    const json_t *c = json_object_get(doc, "nblr");
    double *y = labels(json_object_get(c, "y"));
    assay_error err = {0};
    for (int sparse = 0; sparse < 2; sparse++) {
        assay_estimator *e = fit(&assay__nblr_vt, "C=3,tol=1e-10", 2, y, sparse, &err);
        if (!e) continue;
        double *p = predict(e, sparse);
        double md = maxdiff(p, json_object_get(c, "proba"), n_, 2);
        printf("  nblr C=3 %s: max |proba - sklearn LogisticRegression on NB features| %.2e\n",
               sparse ? "csr  " : "dense", md);
        CHECK(md < 1e-5);
        assay_estimator *g = round_trip(e, "C=3,tol=1e-10");
        if (g) {
            double *q = predict(g, sparse);
            CHECK(memcmp(p, q, sizeof *p * (size_t)n_ * 2) == 0);
            free(q);
            g->vt->free(g);
        }
        free(p);
        e->vt->free(e);
    }
    int rc;
    CHECK(make(&assay__nblr_vt, "", ASSAY_TASK_MULTICLASS, 3, &rc, &err) == NULL && rc == ASSAY_EINVAL);
    printf("  nblr on 3 classes -> %s\n", err.msg);
    free(y);
}

/* The ensemble's output is the weighted average of its members fitted alone. */
static void test_ensemble(void) {
    const json_t *doc = doc_;
    const json_t *cs = json_array_get(json_object_get(doc, "cases"), 0);
    double *y = labels(json_object_get(cs, "y"));
    assay_error err = {0};
    const char *spec = "m1=nb:alpha=0.5;binary=true,w1=3,m2=logreg:C=0.5;tol=1e-8,w2=1";
    assay_estimator *en = fit(&assay__ensemble_vt, spec, 3, y, 1, &err);
    assay_estimator *a = fit(&assay__nb_vt, "alpha=0.5,binary=true", 3, y, 1, &err);
    assay_estimator *b = fit(&assay__logreg_vt, "C=0.5,tol=1e-8", 3, y, 1, &err);
    if (en && a && b) {
        double *pe = predict(en, 1), *pa = predict(a, 1), *pb = predict(b, 1), md = 0;
        for (int i = 0; i < n_ * 3; i++) md = fmax(md, fabs(pe[i] - (0.75 * pa[i] + 0.25 * pb[i])));
        printf("  ensemble 3:1 of nb and logreg: max |p - (0.75 p_nb + 0.25 p_lr)| %.2e\n", md);
        CHECK(md < 1e-12);
        assay_estimator *g = round_trip(en, spec);
        if (g) {
            double *q = predict(g, 1);
            CHECK(memcmp(pe, q, sizeof *pe * (size_t)n_ * 3) == 0);
            free(q);
            g->vt->free(g);
        }
        free(pe), free(pa), free(pb);
    }
    if (en) en->vt->free(en);
    if (a) a->vt->free(a);
    if (b) b->vt->free(b);
    static const char *const bad[][2] = {
        {"", "no members"},
        {"x=1", "has no parameter 'x'"},
        {"m1=nosuch", "unknown model 'nosuch'"},
        {"m1=gbdt", "cannot share an ensemble's design"},
        {"m1=ensemble:m1=nb", "cannot share"},
        {"m1=nb,w2=1", "w2 without m2"},
        {"m1=nb,w1=-1", "w1"},
        {"m1=nb:alpah=1", "no parameter 'alpah'"},
        {"m1=linear", "does not do multiclass"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        memset(&err, 0, sizeof err);
        assay_estimator *e = make(&assay__ensemble_vt, bad[i][0], ASSAY_TASK_MULTICLASS, 3, &rc, &err);
        CHECK_MSG(!e && rc != ASSAY_OK && strstr(err.msg, bad[i][1]), "'%s' -> %s", bad[i][0], err.msg);
        printf("  ensemble '%s' -> %s\n", bad[i][0], err.msg);
        if (e) e->vt->free(e);
    }
    free(y);
}

/* Negative features (standardised numbers) are refused as not supported, naming the cell. */
static void test_refusals(void) {
    float X[4] = {1, -0.5f, 2, 0};
    double y[2] = {0, 1};
    assay_error err = {0};
    int rc;
    int saved = d_;
    d_ = 2;
    assay_estimator *e = make(&assay__nb_vt, "", ASSAY_TASK_BINARY, 2, &rc, &err);
    if (e) {
        assay_design ds = {.X = {.n = 2, .d = 2, .dense = X}, .y = y, .task = ASSAY_TASK_BINARY, .nclasses = 2};
        rc = e->vt->fit(e, &ds, &err);
        CHECK(rc == ASSAY_ENOTSUP && strstr(err.msg, "feature 2 of row 1 is -0.5"));
        printf("  nb on a negative feature -> %s\n", err.msg);
        e->vt->free(e);
    }
    CHECK(make(&assay__nb_vt, "alpha=0", ASSAY_TASK_BINARY, 2, &rc, &err) == NULL);
    CHECK(make(&assay__nb_vt, "variant=bernoulli", ASSAY_TASK_BINARY, 2, &rc, &err) == NULL);
    printf("  nb variant=bernoulli -> %s\n", err.msg);
    CHECK(make(&assay__nb_vt, "", ASSAY_TASK_REGRESSION, 0, &rc, &err) == NULL);
    d_ = saved;
}

int main(void) {
    json_t *doc = doc_ = fixture("est_nb.json");
    CHECK(doc != NULL);
    if (!doc) return check_summary();
    n_ = (int)json_integer_value(json_object_get(doc, "n"));
    d_ = (int)json_integer_value(json_object_get(doc, "d"));
    const json_t *X = json_object_get(doc, "X");
    X_ = calloc((size_t)n_ * (size_t)d_, sizeof *X_);
    int64_t nnz = 0;
    for (int i = 0; i < n_; i++)
        for (int j = 0; j < d_; j++) {
            X_[i * d_ + j] = (float)json_number_value(json_array_get(json_array_get(X, (size_t)i), (size_t)j));
            nnz += X_[i * d_ + j] != 0;
        }
    assay_error err = {0};
    CHECK_OK(assay_csr_init(&csr_, n_, d_, nnz, &err), &err);
    int64_t q = 0;
    for (int i = 0; i < n_; i++) {
        csr_.indptr[i] = q;
        for (int j = 0; j < d_; j++)
            if (X_[i * d_ + j] != 0) csr_.indices[q] = j, csr_.values[q++] = X_[i * d_ + j];
    }
    csr_.indptr[n_] = q;
    RUN(test_nb_parity);
    RUN(test_nblr_parity);
    RUN(test_ensemble);
    RUN(test_refusals);
    assay_csr_deinit(&csr_);
    free(X_);
    json_decref(doc);
    return check_summary();
}
