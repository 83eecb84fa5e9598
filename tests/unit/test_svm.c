/* test_svm.c - the linear SVM against scikit-learn's LinearSVC (fixture from
 * tests/parity/gen/gen_svm.py): weights and intercepts of binary and one-vs-rest problems on
 * dense and CSR input; probabilities are Platt sigmoids of the margins that order rows as the
 * margins do; the same seed gives the same bits; save/load; refusals. */
#include <jansson.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "models/estimator.h"

static int n_, d_;
static float *X_;
static assay_csr csr_;

static assay_estimator *fit(const char *params, int K, const double *y, int sparse, uint64_t seed) {
    assay_params p;
    assay_estimator *e = NULL;
    assay_error err = {0};
    assay_task task = K == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS;
    CHECK_OK(assay_params_parse(params, &p, &err), &err);
    int rc = assay__svm_vt.create(&p, task, K, d_, &e, &err);
    assay_params_deinit(&p);
    CHECK_OK(rc, &err);
    if (rc) return NULL;
    assay_design ds = {.X = {.n = n_, .d = d_, .dense = sparse ? NULL : X_, .csr = sparse ? &csr_ : NULL},
                       .y = y, .task = task, .nclasses = K, .seed = seed};
    rc = e->vt->fit(e, &ds, &err);
    CHECK_OK(rc, &err);
    if (rc) {
        e->vt->free(e);
        return NULL;
    }
    return e;
}

/* coef (K1 x d) and intercept (K1) through save(), the public view of the weights */
static void weights(const assay_estimator *e, double *coef, double *icpt, int K1) {
    assay_error err = {0};
    assay_mfile_writer *w = assay_mfile_writer_new();
    CHECK_OK(e->vt->save(e, w, "t.", NULL, &err), &err);
    char path[] = "/tmp/test_svm_XXXXXX";
    close(mkstemp(path));
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    const assay_tensor *tc = f ? assay_mfile_tensor(f, "t.coef") : NULL, *ti = f ? assay_mfile_tensor(f, "t.intercept") : NULL;
    CHECK(tc && ti);
    if (tc && ti) {
        memcpy(coef, tc->data, sizeof(double) * (size_t)K1 * (size_t)d_);
        memcpy(icpt, ti->data, sizeof(double) * (size_t)K1);
    }
    /* and a fresh estimator loaded from the file predicts the same bits */
    assay_params p = {0};
    assay_estimator *g = NULL;
    CHECK_OK(assay__svm_vt.create(&p, e->task, e->nclasses, d_, &g, &err), &err);
    if (g && f) {
        CHECK_OK(g->vt->load(g, f, "t.", NULL, &err), &err);
        int K = e->nclasses;
        double *a = calloc((size_t)n_ * K, sizeof *a), *b = calloc((size_t)n_ * K, sizeof *b);
        assay_matrix X = {.n = n_, .d = d_, .dense = X_};
        CHECK_OK(e->vt->predict(e, &X, a, &err), &err);
        CHECK_OK(g->vt->predict(g, &X, b, &err), &err);
        CHECK(memcmp(a, b, sizeof *a * (size_t)n_ * K) == 0);
        free(a), free(b);
    }
    if (g) g->vt->free(g);
    assay_mfile_free(f);
    assay_mfile_writer_free(w);
    remove(path);
}

static void test_parity(const json_t *doc) {
    const json_t *cases = json_object_get(doc, "cases");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        int K = (int)json_integer_value(json_object_get(cs, "K")), K1 = K == 2 ? 1 : K;
        double C = json_number_value(json_object_get(cs, "C"));
        const json_t *ya = json_object_get(cs, "y");
        double *y = calloc((size_t)n_, sizeof *y);
        for (int i = 0; i < n_; i++) y[i] = (double)json_integer_value(json_array_get(ya, (size_t)i));
        char params[64];
        snprintf(params, sizeof params, "C=%g,tol=1e-10,max_iter=1000000", C);
        for (int sparse = 0; sparse < 2; sparse++) {
            assay_estimator *e = fit(params, K, y, sparse, 7);
            if (!e) continue;
            double coef[64], icpt[8], md = 0;
            weights(e, coef, icpt, K1);
            const json_t *rc = json_object_get(cs, "coef"), *ri = json_object_get(cs, "intercept");
            for (int k = 0; k < K1; k++) {
                for (int j = 0; j < d_; j++)
                    md = fmax(md, fabs(coef[k * d_ + j] - json_number_value(json_array_get(json_array_get(rc, (size_t)k), (size_t)j))));
                md = fmax(md, fabs(icpt[k] - json_number_value(json_array_get(ri, (size_t)k))));
            }
            printf("  svm K=%d C=%-5g %s: max |w - LinearSVC| %.2e\n", K, C, sparse ? "csr  " : "dense", md);
            CHECK(md < 1e-5);
            e->vt->free(e);
        }
        free(y);
    }
}

/* Probabilities: binary P(class 1) increases with the margin; rows sum to 1; the same seed gives
 * the same bits, another seed the same optimum within tolerance. */
static void test_probabilities(const json_t *doc) {
    const json_t *cs = json_array_get(json_object_get(doc, "cases"), 1);
    double *y = calloc((size_t)n_, sizeof *y);
    for (int i = 0; i < n_; i++) y[i] = (double)json_integer_value(json_array_get(json_object_get(cs, "y"), (size_t)i));
    assay_estimator *a = fit("C=1", 2, y, 0, 1), *b = fit("C=1", 2, y, 0, 1), *c = fit("C=1", 2, y, 0, 2);
    if (a && b && c) {
        double *pa = calloc((size_t)n_ * 2, sizeof *pa), *pb = calloc((size_t)n_ * 2, sizeof *pb), *pc = calloc((size_t)n_ * 2, sizeof *pc);
        assay_matrix X = {.n = n_, .d = d_, .dense = X_};
        assay_error err = {0};
        CHECK_OK(a->vt->predict(a, &X, pa, &err), &err);
        CHECK_OK(b->vt->predict(b, &X, pb, &err), &err);
        CHECK_OK(c->vt->predict(c, &X, pc, &err), &err);
        CHECK(memcmp(pa, pb, sizeof *pa * (size_t)n_ * 2) == 0);
        const json_t *dec = json_object_get(cs, "decision");
        int ordered = 1, right = 0;
        double mdiff = 0;
        for (int i = 0; i < n_; i++) {
            CHECK_NEAR(pa[2 * i] + pa[2 * i + 1], 1.0, 1e-12);
            mdiff = fmax(mdiff, fabs(pa[2 * i + 1] - pc[2 * i + 1]));
            right += (pa[2 * i + 1] > 0.5) == (y[i] == 1);
            for (int j = 0; j < n_; j++)
                if (json_number_value(json_array_get(dec, (size_t)i)) < json_number_value(json_array_get(dec, (size_t)j)) - 1e-6 &&
                    !(pa[2 * i + 1] <= pa[2 * j + 1]))
                    ordered = 0;
        }
        printf("  probabilities follow LinearSVC's margins: %s; training accuracy %d/%d; seeds 1 vs 2 differ by %.1e\n",
               ordered ? "yes" : "NO", right, n_, mdiff);
        CHECK(ordered);
        CHECK(right > n_ * 0.8);
        CHECK(mdiff < 1e-3);
        free(pa), free(pb), free(pc);
    }
    if (a) a->vt->free(a);
    if (b) b->vt->free(b);
    if (c) c->vt->free(c);
    free(y);
    assay_params p;
    assay_error err = {0};
    assay_estimator *e = NULL;
    assay_params_parse("C=0", &p, &err);
    CHECK(assay__svm_vt.create(&p, ASSAY_TASK_BINARY, 2, d_, &e, &err) != ASSAY_OK && !e);
    printf("  svm C=0 -> %s\n", err.msg);
    assay_params_deinit(&p);
    assay_params_parse("gamma=1", &p, &err);
    CHECK(assay__svm_vt.create(&p, ASSAY_TASK_BINARY, 2, d_, &e, &err) != ASSAY_OK && strstr(err.msg, "gamma"));
    assay_params_deinit(&p);
    assay_params_parse("", &p, &err);
    CHECK(assay__svm_vt.create(&p, ASSAY_TASK_REGRESSION, 0, d_, &e, &err) != ASSAY_OK);
    assay_params_deinit(&p);
}

static json_t *doc_;
static void run_parity(void) { test_parity(doc_); }
static void run_probabilities(void) { test_probabilities(doc_); }

int main(void) {
    doc_ = fixture("est_svm.json");
    CHECK(doc_ != NULL);
    if (!doc_) return check_summary();
    n_ = (int)json_integer_value(json_object_get(doc_, "n"));
    d_ = (int)json_integer_value(json_object_get(doc_, "d"));
    X_ = calloc((size_t)n_ * (size_t)d_, sizeof *X_);
    const json_t *X = json_object_get(doc_, "X");
    for (int i = 0; i < n_; i++)
        for (int j = 0; j < d_; j++)
            X_[i * d_ + j] = (float)json_number_value(json_array_get(json_array_get(X, (size_t)i), (size_t)j));
    assay_error err = {0};
    CHECK_OK(assay_csr_init(&csr_, n_, d_, (int64_t)n_ * d_, &err), &err);
    for (int i = 0; i <= n_; i++) csr_.indptr[i] = (int64_t)i * d_;
    for (int k = 0; k < n_ * d_; k++) csr_.indices[k] = k % d_, csr_.values[k] = X_[k];
    RUN(run_parity);
    RUN(run_probabilities);
    assay_csr_deinit(&csr_);
    free(X_);
    json_decref(doc_);
    return check_summary();
}
