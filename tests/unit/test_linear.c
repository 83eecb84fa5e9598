/* test_linear.c - "linear" (OLS) and "ridge": parity with scikit-learn's LinearRegression / Ridge
 * (fixtures from tests/parity/gen/gen_estimators.py, rank-deficient designs included), CSR input,
 * save/load, refusal of bad input and bad files. */
#include <jansson.h>
#include <unistd.h>

#include "check.h"
#include "est_data.h"
#include "models/estimator.h"

static assay_estimator *fit(const assay_estimator_vt *vt, const char *params, const data *D,
                            const assay_csr *csr, int *rc, assay_error *err) {
    assay_params p;
    assay_estimator *e = NULL;
    *rc = assay_params_parse(params, &p, err);
    if (*rc) return NULL;
    *rc = vt->create(&p, ASSAY_TASK_REGRESSION, 0, D->d, &e, err);
    assay_params_deinit(&p);
    if (*rc) return NULL;
    assay_design ds = {.X = {.n = D->n, .d = D->d, .dense = csr ? NULL : D->X, .csr = csr},
                       .y = D->y, .w = D->w, .task = ASSAY_TASK_REGRESSION};
    *rc = e->vt->fit(e, &ds, err);
    if (*rc) {
        e->vt->free(e);
        return NULL;
    }
    return e;
}

/* Save to a file and read the coefficients back. Returns the loaded file (caller frees). */
static assay_mfile *save_load(const assay_estimator *e, const char *path) {
    assay_error err;
    assay_mfile_writer *w = assay_mfile_writer_new();
    json_t *meta = json_object();
    CHECK_OK(e->vt->save(e, w, "est.", meta, &err), &err);
    CHECK(json_is_integer(json_object_get(meta, "rank")));
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile_writer_free(w);
    json_decref(meta);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    return f;
}

static void to_csr(const data *D, assay_csr *m) {
    assay_error err;
    int64_t nnz = 0;
    for (int64_t k = 0; k < D->n * D->d; k++) nnz += D->X[k] != 0;
    CHECK_OK(assay_csr_init(m, D->n, D->d, nnz, &err), &err);
    int64_t p = 0;
    for (int64_t i = 0; i < D->n; i++) {
        m->indptr[i] = p;
        for (int64_t j = 0; j < D->d; j++)
            if (D->X[i * D->d + j] != 0) {
                m->indices[p] = (int32_t)j;
                m->values[p++] = D->X[i * D->d + j];
            }
    }
    m->indptr[D->n] = p;
}

static void test_parity(void) {
    json_error_t jerr;
    json_t *root = json_load_file(ASSAY_SOURCE_DIR "/tests/parity/fixtures/est_linear.json", 0, &jerr);
    CHECK_MSG(root != NULL, "%s", jerr.text);
    if (!root) return;
    char path[] = "/tmp/test_linear_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const char *params = json_string_value(json_object_get(c, "params"));
        const assay_estimator_vt *vt = assay__estimator_find(kind);
        CHECK(vt != NULL);
        if (!vt) continue;
        data D = data_from_json(c);
        assay_error err = {0};
        int rc;
        for (int sparse = 0; sparse < 2; sparse++) {
            assay_csr m = {0};
            if (sparse) to_csr(&D, &m);
            assay_estimator *e = fit(vt, params, &D, sparse ? &m : NULL, &rc, &err);
            CHECK_MSG(e != NULL, "%s: %s", name, err.msg);
            if (!e) {
                assay_csr_deinit(&m);
                continue;
            }
            assay_mfile *f = save_load(e, path);
            const assay_tensor *tc = assay_mfile_tensor(f, "est.coef");
            const assay_tensor *ti = assay_mfile_tensor(f, "est.intercept");
            const double *coef = tc->data;
            double icpt = ((const double *)ti->data)[0];
            const json_t *jc = json_object_get(c, "coef");
            double cmax = 0, cdiff = 0;
            for (int64_t j = 0; j < D.d; j++) {
                double ref = json_number_value(json_array_get(jc, j));
                cmax = fmax(cmax, fabs(ref));
                cdiff = fmax(cdiff, fabs(ref - coef[j]));
            }
            double iref = json_number_value(json_object_get(c, "intercept"));
            double idiff = fabs(icpt - iref);
            double *pred = malloc(sizeof(double) * (size_t)D.n);
            assay_matrix X = {.n = D.n, .d = D.d, .dense = D.X};
            CHECK_OK(e->vt->predict(e, &X, pred, &err), &err);
            double pdiff = 0, ymax = 0;
            for (int64_t i = 0; i < D.n; i++) {
                double ref = json_number_value(json_array_get(json_object_get(c, "pred"), i));
                pdiff = fmax(pdiff, fabs(pred[i] - ref));
                ymax = fmax(ymax, fabs(ref));
            }
            fprintf(stderr, "  %-28s %s coef diff %.2e (rel %.2e)  intercept diff %.2e  pred diff "
                    "%.2e\n", name, sparse ? "csr  " : "dense", cdiff, cdiff / cmax, idiff, pdiff);
            double tol = sparse ? 1e-6 : 1e-8; /* CSR forms the Gram uncentred */
            CHECK_MSG(cdiff <= tol * fmax(1, cmax), "%s: coef diff %g", name, cdiff);
            CHECK_MSG(idiff <= tol * fmax(1, fabs(iref)), "%s: intercept diff %g", name, idiff);
            CHECK_MSG(pdiff <= tol * fmax(1, ymax), "%s: prediction diff %g", name, pdiff);
            /* a fresh estimator loaded from the file predicts the same bytes */
            assay_params p = {0};
            assay_estimator *e2 = NULL;
            CHECK_OK(vt->create(&p, ASSAY_TASK_REGRESSION, 0, D.d, &e2, &err), &err);
            CHECK_OK(e2->vt->load(e2, f, "est.", NULL, &err), &err);
            double *pred2 = malloc(sizeof(double) * (size_t)D.n);
            CHECK_OK(e2->vt->predict(e2, &X, pred2, &err), &err);
            CHECK(memcmp(pred, pred2, sizeof(double) * (size_t)D.n) == 0);
            e2->vt->free(e2);
            /* and one expecting another feature count refuses the file */
            CHECK_OK(vt->create(&p, ASSAY_TASK_REGRESSION, 0, D.d + 1, &e2, &err), &err);
            CHECK(e2->vt->load(e2, f, "est.", NULL, &err) == ASSAY_EFORMAT);
            CHECK_MSG(strstr(err.msg, "est.coef") != NULL, "%s", err.msg);
            e2->vt->free(e2);
            free(pred);
            free(pred2);
            assay_mfile_free(f);
            e->vt->free(e);
            assay_csr_deinit(&m);
        }
        data_free(&D);
    }
    remove(path);
    json_decref(root);
}

static void test_bad_input(void) {
    data D = {.n = 5, .d = 2};
    float X[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11};
    double y[5] = {1, 2, 3, 4, 5};
    D.X = X;
    D.y = y;
    assay_error err;
    int rc;
    assay_estimator *e = fit(&assay__linear_vt, NULL, &D, NULL, &rc, &err);
    CHECK_MSG(e != NULL, "%s", err.msg);
    if (e) e->vt->free(e);
    X[3] = NAN;
    e = fit(&assay__linear_vt, NULL, &D, NULL, &rc, &err);
    CHECK_MSG(e == NULL && rc == ASSAY_EINVAL && strstr(err.msg, "row 1"), "%s", err.msg);
    X[3] = 4;
    y[2] = INFINITY;
    e = fit(&assay__ridge_vt, NULL, &D, NULL, &rc, &err);
    CHECK_MSG(e == NULL && rc == ASSAY_EINVAL && strstr(err.msg, "row 2"), "%s", err.msg);
    y[2] = 3;
    /* one row, with and without an intercept */
    data one = {.n = 1, .d = 2, .X = X, .y = y};
    e = fit(&assay__linear_vt, NULL, &one, NULL, &rc, &err);
    CHECK_MSG(e != NULL, "%s", err.msg);
    if (e) {
        double p;
        assay_matrix M = {.n = 1, .d = 2, .dense = X};
        CHECK_OK(e->vt->predict(e, &M, &p, &err), &err);
        CHECK_NEAR(p, 1.0, 1e-12);
        e->vt->free(e);
    }
    /* parameters */
    const char *bad[] = {"alpha=-1", "alpha=x", "fit_intercept=2", "C=1"};
    for (size_t i = 0; i < 4; i++) {
        assay_params p;
        CHECK_OK(assay_params_parse(bad[i], &p, &err), &err);
        e = NULL;
        CHECK_MSG(assay__ridge_vt.create(&p, ASSAY_TASK_REGRESSION, 0, 2, &e, &err) == ASSAY_EINVAL,
                  "%s accepted", bad[i]);
        CHECK_MSG(strncmp(err.msg, "ridge: ", 7) == 0 || strstr(err.msg, "'ridge'"), "%s", err.msg);
        assay_params_deinit(&p);
    }
    assay_params p;
    CHECK_OK(assay_params_parse("alpha=1", &p, &err), &err);
    CHECK(assay__linear_vt.create(&p, ASSAY_TASK_REGRESSION, 0, 2, &e, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "model 'linear' has no parameter 'alpha'") != NULL, "%s", err.msg);
    assay_params_deinit(&p);
    p = (assay_params){0};
    CHECK(assay__linear_vt.create(&p, ASSAY_TASK_BINARY, 2, 2, &e, &err) == ASSAY_EINVAL);
    /* OLS forms the d x d Gram matrix: wider designs are refused at fit, pointing to ridge */
    enum { WIDE = 10001 };
    float *Xw = calloc(2 * WIDE, sizeof *Xw);
    double yw[2] = {1, 2};
    Xw[0] = 1;
    data wide = {.n = 2, .d = WIDE, .X = Xw, .y = yw};
    e = fit(&assay__linear_vt, NULL, &wide, NULL, &rc, &err);
    CHECK_MSG(e == NULL && rc == ASSAY_EINVAL && strstr(err.msg, "use ridge"), "%s", err.msg);
    free(Xw);
}

/* Ridge on a wide sparse design (more columns than rows, as TF-IDF gives) goes through
 * conjugate gradients: it agrees with the dense Cholesky solution of the same problem, weights
 * included, and gives the same bytes at 1 and 2 threads. */
static void test_sparse_wide(void) {
    enum { N = 80, D = 600 };
    float *X = calloc((size_t)N * D, sizeof *X);
    double y[N], w[N];
    assay_rng r;
    assay_rng_seed(&r, 11);
    for (int64_t i = 0; i < N; i++) {
        for (int k = 0; k < 12; k++) X[i * D + (int64_t)assay_rng_below(&r, D)] = (float)(0.1 + assay_rng_uniform(&r));
        y[i] = X[i * D + 3] * 2 - X[i * D + 7] + assay_rng_uniform(&r);
        w[i] = 0.5 + assay_rng_uniform(&r);
    }
    data D1 = {.n = N, .d = D, .X = X, .y = y};
    assay_csr m = {0};
    to_csr(&D1, &m);
    for (int weighted = 0; weighted < 2; weighted++) {
        D1.w = weighted ? w : NULL;
        assay_error err;
        int rc;
        assay_estimator *ed = fit(&assay__ridge_vt, "alpha=0.3", &D1, NULL, &rc, &err);
        assay_threads_set(1);
        assay_estimator *e1 = fit(&assay__ridge_vt, "alpha=0.3", &D1, &m, &rc, &err);
        assay_threads_set(2);
        assay_estimator *e2 = fit(&assay__ridge_vt, "alpha=0.3", &D1, &m, &rc, &err);
        CHECK(ed && e1 && e2);
        if (ed && e1 && e2) {
            double c1[D], c2[D], cd[D], diff = 0;
            CHECK(ed->vt->coefficients(ed, cd) == 0);
            e1->vt->coefficients(e1, c1);
            e2->vt->coefficients(e2, c2);
            for (int j = 0; j < D; j++) diff = fmax(diff, fabs(c1[j] - cd[j]));
            fprintf(stderr, "  wide sparse ridge (%s): CG vs Cholesky coef diff %.2e\n", weighted ? "weighted" : "unweighted", diff);
            CHECK_MSG(diff < 1e-8, "CG vs Cholesky %g", diff);
            CHECK(memcmp(c1, c2, sizeof c1) == 0);
        }
        if (ed) ed->vt->free(ed);
        if (e1) e1->vt->free(e1);
        if (e2) e2->vt->free(e2);
    }
    assay_csr_deinit(&m);
    free(X);
}

int main(void) {
    RUN(test_parity);
    RUN(test_bad_input);
    RUN(test_sparse_wide);
    return check_summary();
}
