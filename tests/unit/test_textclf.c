/* test_textclf.c - the fastText-style classifier: finite-difference gradients of the three
 * losses through the training step itself, learning separable and multi-label problems,
 * determinism with one thread, Hogwild with two, the estimator interface (params, fit, predict,
 * save/load round trip, corrupt and truncated files). */
#include <jansson.h>
#include <unistd.h>

#include "check.h"
#include "models/textclf.h"

/* ---- synthetic documents ---------------------------------------------------------------- */

typedef struct docs {
    assay_csr X;
    int64_t *lptr;
    int32_t *lab;
} docs;

/* n documents over V columns: class markers 0..K-1 (one per label; multi: 1 or 2 labels), and 6
 * noise tokens from K..V-1 with counts 1..2. */
static void make_docs(docs *D, int64_t n, int K, int64_t V, int multi, uint64_t seed) {
    assay_rng r;
    assay_rng_seed(&r, seed);
    assay_error err;
    assay_csr_init(&D->X, n, V, n * 8, &err);
    D->lptr = assay_mallocarray((size_t)n + 1, sizeof *D->lptr);
    D->lab = assay_mallocarray((size_t)n * 2, sizeof *D->lab);
    int64_t q = 0, ql = 0;
    for (int64_t i = 0; i < n; i++) {
        D->X.indptr[i] = q;
        D->lptr[i] = ql;
        int a = (int)assay_rng_below(&r, (uint64_t)K), b = a;
        if (multi && assay_rng_below(&r, 2)) b = (a + 1 + (int)assay_rng_below(&r, (uint64_t)K - 1)) % K;
        int lo = a < b ? a : b, hi = a < b ? b : a;
        D->lab[ql++] = lo;
        if (hi != lo) D->lab[ql++] = hi;
        /* sorted columns: markers first (they are the lowest ids), then sorted noise */
        D->X.indices[q] = lo, D->X.values[q++] = 1;
        if (hi != lo) D->X.indices[q] = hi, D->X.values[q++] = 1;
        int64_t last = K - 1;
        for (int t = 0; t < 6; t++) {
            int64_t span = (V - 1 - last) - (5 - t);
            if (span < 1) break;
            int64_t c = last + 1 + (int64_t)assay_rng_below(&r, (uint64_t)(span < 8 ? span : 8));
            D->X.indices[q] = (int32_t)c, D->X.values[q++] = (float)(1 + assay_rng_below(&r, 2));
            last = c;
        }
    }
    D->X.indptr[n] = q;
    D->X.nnz = q;
    D->lptr[n] = ql;
}

static void free_docs(docs *D) {
    assay_csr_deinit(&D->X);
    assay_free(D->lptr);
    assay_free(D->lab);
}

static assay__textclf *model(int loss, int dim, double lr, int epochs, int threads, uint64_t seed,
                             int K, int64_t V) {
    assay_textclf_opts o;
    assay__textclf_opts_init(&o);
    o.loss = loss, o.dim = dim, o.lr = lr, o.epochs = epochs, o.threads = threads, o.seed = seed;
    assay__textclf *m = NULL;
    assay_error err;
    CHECK_OK(assay__textclf_new(&o, K, V, &m, &err), &err);
    return m;
}

/* Fraction of documents whose best class is (one of) its labels. */
static double accuracy(const assay__textclf *m, const docs *D, int K, int dim) {
    float scratch[256];
    int32_t lab;
    float pr;
    int64_t ok = 0;
    (void)K, (void)dim;
    for (int64_t i = 0; i < D->X.nrows; i++) {
        int64_t b = D->X.indptr[i];
        int n = assay__textclf_topk(m, D->X.indices + b, D->X.values + b, D->X.indptr[i + 1] - b,
                                    1, 0.0, &lab, &pr, scratch);
        for (int64_t l = D->lptr[i]; n == 1 && l < D->lptr[i + 1]; l++) ok += D->lab[l] == lab;
    }
    return (double)ok / (double)D->X.nrows;
}

/* ---- gradients --------------------------------------------------------------------------- */

/* The step with lr = 1 moves every parameter by minus its gradient (fastText's update order
 * evaluates every gradient at the old parameters); compare with central differences of the
 * double-precision loss. float32 parameters: h = 1e-2, relative tolerance 2e-2. */
static void gradcheck(int loss) {
    int K = 4, D = 5;
    int64_t V = 7;
    assay__textclf *m = model(loss, D, 0.1, 1, 1, 3, K, V);
    assay_rng r;
    assay_rng_seed(&r, 11);
    int64_t nw;
    float *E = assay__textclf_embeddings(m), *W = assay__textclf_output(m, &nw);
    for (int64_t i = 0; i < V * D; i++) E[i] = (float)assay_rng_normal(&r) * 0.5f;
    for (int64_t i = 0; i < nw * D; i++) W[i] = (float)assay_rng_normal(&r) * 0.5f;
    int32_t idx[3] = {0, 2, 5};
    float val[3] = {1, 2, 1};
    int32_t labels[2] = {2, 0};
    int nl = loss == ASSAY_TEXTCLF_OVA ? 2 : 1;
    int64_t nE = V * D, nW = nw * D;
    float *E0 = assay_mallocarray((size_t)nE, sizeof *E0), *W0 = assay_mallocarray((size_t)nW, sizeof *W0);
    float *gE = assay_mallocarray((size_t)nE, sizeof *gE), *gW = assay_mallocarray((size_t)nW, sizeof *gW);
    memcpy(E0, E, (size_t)nE * sizeof *E);
    memcpy(W0, W, (size_t)nW * sizeof *W);
    float scratch[64];
    double l0 = assay__textclf_step(m, idx, val, 3, labels, nl, 1.0f, scratch);
    for (int64_t i = 0; i < nE; i++) gE[i] = E0[i] - E[i];
    for (int64_t i = 0; i < nW; i++) gW[i] = W0[i] - W[i];
    memcpy(E, E0, (size_t)nE * sizeof *E);
    memcpy(W, W0, (size_t)nW * sizeof *W);
    CHECK_NEAR(l0, assay__textclf_loss(m, idx, val, 3, labels, nl), 1e-4);
    double worst = 0;
    for (int pass = 0; pass < 2; pass++) {
        float *x = pass ? W : E, *g = pass ? gW : gE;
        int64_t n = pass ? nW : nE;
        for (int64_t i = 0; i < n; i++) {
            float keep = x[i];
            double h = 1e-2;
            x[i] = (float)(keep + h);
            double lp = assay__textclf_loss(m, idx, val, 3, labels, nl);
            x[i] = (float)(keep - h);
            double lm = assay__textclf_loss(m, idx, val, 3, labels, nl);
            x[i] = keep;
            double num = (lp - lm) / ((double)(float)(keep + h) - (double)(float)(keep - h));
            double e = fabs(num - g[i]) / fmax(fabs(num) + fabs(g[i]), 1e-3);
            if (e > worst) worst = e;
        }
    }
    fprintf(stderr, "  loss %d: largest relative gradient error %.3g\n", loss, worst);
    CHECK(worst < 2e-2);
    /* a column outside the document gets no gradient */
    CHECK(gE[1 * D] == 0 && gE[6 * D + 4] == 0);
    assay_free(E0), assay_free(W0), assay_free(gE), assay_free(gW);
    assay__textclf_free(m);
}

static void test_gradients(void) {
    gradcheck(ASSAY_TEXTCLF_SOFTMAX);
    gradcheck(ASSAY_TEXTCLF_HS);
    gradcheck(ASSAY_TEXTCLF_OVA);
}

/* ---- learning ---------------------------------------------------------------------------- */

static void test_learns_separable(void) {
    int K = 5;
    int64_t V = 200;
    docs tr, te;
    make_docs(&tr, 1000, K, V, 0, 1);
    make_docs(&te, 500, K, V, 0, 2);
    double acc[2];
    for (int l = 0; l < 2; l++) {
        assay__textclf *m = model(l == 0 ? ASSAY_TEXTCLF_SOFTMAX : ASSAY_TEXTCLF_HS, 16, 0.5, 10,
                                  1, 7, K, V);
        assay_error err;
        CHECK_OK(assay__textclf_fit(m, &tr.X, tr.lptr, tr.lab, &err), &err);
        acc[l] = accuracy(m, &te, K, 16);
        assay__textclf_free(m);
    }
    fprintf(stderr, "  test accuracy: softmax %.4f, hs %.4f\n", acc[0], acc[1]);
    CHECK(acc[0] >= 0.99);
    CHECK(acc[1] >= 0.99);
    CHECK(fabs(acc[0] - acc[1]) <= 0.01);
    free_docs(&tr);
    free_docs(&te);
}

static void test_hogwild(void) {
    int K = 3;
    int64_t V = 100;
    docs tr;
    make_docs(&tr, 2000, K, V, 0, 5);
    assay__textclf *m = model(ASSAY_TEXTCLF_SOFTMAX, 16, 0.5, 5, 2, 1, K, V);
    assay_error err;
    CHECK_OK(assay__textclf_fit(m, &tr.X, tr.lptr, tr.lab, &err), &err);
    double acc = accuracy(m, &tr, K, 16);
    fprintf(stderr, "  two threads: train accuracy %.4f\n", acc);
    CHECK(acc >= 0.99);
    assay__textclf_free(m);
    free_docs(&tr);
}

static void test_multilabel_ova(void) {
    int K = 4;
    int64_t V = 120;
    docs tr, te;
    make_docs(&tr, 2000, K, V, 1, 3);
    make_docs(&te, 500, K, V, 1, 4);
    assay__textclf *m = model(ASSAY_TEXTCLF_OVA, 16, 0.5, 10, 1, 9, K, V);
    assay_error err;
    CHECK_OK(assay__textclf_fit(m, &tr.X, tr.lptr, tr.lab, &err), &err);
    int64_t exact = 0, two = 0;
    float scratch[256], pr[4];
    int32_t lab[4];
    for (int64_t i = 0; i < te.X.nrows; i++) {
        int64_t b = te.X.indptr[i];
        int n = assay__textclf_topk(m, te.X.indices + b, te.X.values + b, te.X.indptr[i + 1] - b,
                                    K, 0.5, lab, pr, scratch);
        int want = (int)(te.lptr[i + 1] - te.lptr[i]);
        two += want == 2;
        int ok = n == want;
        for (int j = 0; ok && j < n; j++) {
            int hit = 0;
            for (int64_t l = te.lptr[i]; l < te.lptr[i + 1]; l++) hit |= te.lab[l] == lab[j];
            ok = hit && (j == 0 || pr[j] <= pr[j - 1]);
        }
        exact += ok;
    }
    fprintf(stderr, "  ova: exact label sets %lld / %lld (%lld with two labels)\n",
            (long long)exact, (long long)te.X.nrows, (long long)two);
    CHECK(two > 100);
    CHECK(exact >= te.X.nrows * 95 / 100);
    assay__textclf_free(m);
    free_docs(&tr);
    free_docs(&te);
}

static void test_deterministic(void) {
    int K = 3;
    int64_t V = 80;
    docs tr;
    make_docs(&tr, 300, K, V, 1, 8);
    float *keep = NULL;
    for (int run = 0; run < 3; run++) {
        assay__textclf *m = model(ASSAY_TEXTCLF_SOFTMAX, 8, 0.3, 3, 1, run < 2 ? 42 : 43, K, V);
        assay_error err;
        CHECK_OK(assay__textclf_fit(m, &tr.X, tr.lptr, tr.lab, &err), &err);
        int64_t nw;
        float *E = assay__textclf_embeddings(m), *W = assay__textclf_output(m, &nw);
        size_t bytes = (size_t)(V * 8 + nw * 8) * sizeof(float);
        if (run == 0) {
            keep = assay_malloc(bytes);
            memcpy(keep, E, (size_t)V * 8 * sizeof *E);
            memcpy(keep + V * 8, W, (size_t)nw * 8 * sizeof *W);
        } else {
            int same = memcmp(keep, E, (size_t)V * 8 * sizeof *E) == 0 &&
                       memcmp(keep + V * 8, W, (size_t)nw * 8 * sizeof *W) == 0;
            CHECK(run == 1 ? same : !same);
        }
        assay__textclf_free(m);
    }
    assay_free(keep);
    free_docs(&tr);
}

static void test_bad_input(void) {
    docs tr;
    make_docs(&tr, 10, 2, 20, 0, 1);
    assay__textclf *m = model(ASSAY_TEXTCLF_SOFTMAX, 4, 0.1, 1, 1, 1, 2, 20);
    assay_error err;
    tr.X.values[3] = -1;
    CHECK(assay__textclf_fit(m, &tr.X, tr.lptr, tr.lab, &err) == ASSAY_ENOTSUP && strstr(err.msg, "non-negative"));
    tr.X.values[3] = 1;
    tr.lab[2] = 5;
    CHECK(assay__textclf_fit(m, &tr.X, tr.lptr, tr.lab, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "label 5") != NULL);
    assay__textclf_free(m);
    assay_textclf_opts o;
    assay__textclf_opts_init(&o);
    o.dim = 0;
    CHECK(assay__textclf_new(&o, 2, 10, &m, &err) == ASSAY_EINVAL && m == NULL);
    free_docs(&tr);
}

/* ---- the estimator ----------------------------------------------------------------------- */

static assay_estimator *est(const char *spec, int K, int64_t V, int *rc, assay_error *err) {
    assay_params p = {0};
    assay_params_parse(spec, &p, err);
    assay_estimator *e = NULL;
    *rc = assay__textclf_vt.create(&p, K == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS, K, V,
                                   &e, err);
    assay_params_deinit(&p);
    return e;
}

static void roundtrip(const char *spec) {
    int K = 3;
    int64_t V = 60;
    docs tr;
    make_docs(&tr, 400, K, V, 0, 6);
    double *y = assay_mallocarray((size_t)tr.X.nrows, sizeof *y);
    for (int64_t i = 0; i < tr.X.nrows; i++) y[i] = tr.lab[tr.lptr[i]];
    assay_error err;
    int rc;
    assay_estimator *e = est(spec, K, V, &rc, &err);
    CHECK_OK(rc, &err);
    assay_design ds = {.X = {.n = tr.X.nrows, .d = V, .csr = &tr.X}, .y = y,
                       .task = ASSAY_TASK_MULTICLASS, .nclasses = K, .seed = 5};
    CHECK_OK(e->vt->fit(e, &ds, &err), &err);
    double *p1 = assay_mallocarray((size_t)tr.X.nrows * K, sizeof *p1);
    double *p2 = assay_mallocarray((size_t)tr.X.nrows * K, sizeof *p2);
    CHECK_OK(e->vt->predict(e, &ds.X, p1, &err), &err);
    int64_t ok = 0;
    for (int64_t i = 0; i < tr.X.nrows; i++) {
        int best = 0;
        double s = 0;
        for (int k = 0; k < K; k++) {
            s += p1[i * K + k];
            if (p1[i * K + k] > p1[i * K + best]) best = k;
        }
        CHECK_NEAR(s, 1.0, 1e-5);
        ok += best == (int)y[i];
    }
    CHECK(ok >= tr.X.nrows * 98 / 100);
    char path[] = "/tmp/test_textclf_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assay_mfile_writer *w = assay_mfile_writer_new();
    json_t *meta = json_object();
    CHECK_OK(e->vt->save(e, w, "t.", meta, &err), &err);
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    assay_estimator *e2 = est(spec, K, V, &rc, &err);
    CHECK_OK(e2->vt->load(e2, f, "t.", meta, &err), &err);
    CHECK_OK(e2->vt->predict(e2, &ds.X, p2, &err), &err);
    CHECK(memcmp(p1, p2, (size_t)tr.X.nrows * K * sizeof *p1) == 0);
    /* the wrong shape (another dim, other V) is refused */
    assay_estimator *e3 = est("dim=7", K, V, &rc, &err);
    CHECK(e3->vt->load(e3, f, "t.", meta, &err) == ASSAY_EFORMAT);
    e3->vt->free(e3);
    e3 = est(spec, K, V + 1, &rc, &err);
    CHECK(e3->vt->load(e3, f, "t.", meta, &err) == ASSAY_EFORMAT);
    e3->vt->free(e3);
    assay_mfile_free(f);
    /* truncated and corrupted files give clean errors */
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = assay_malloc((size_t)len);
    CHECK(fread(buf, 1, (size_t)len, fp) == (size_t)len);
    fclose(fp);
    for (long cut = 0; cut < len; cut += len / 37 + 1) {
        f = NULL;
        int lrc = assay_mfile_load_buffer(buf, (size_t)cut, "cut", &f, &err);
        if (lrc == ASSAY_OK) {
            e3 = est(spec, K, V, &rc, &err);
            CHECK(e3->vt->load(e3, f, "t.", meta, &err) != ASSAY_OK);
            e3->vt->free(e3);
            assay_mfile_free(f);
        }
    }
    /* a NaN written into the embeddings is refused */
    assay_mfile_writer *w2 = assay_mfile_writer_new();
    float *bad = assay_calloc((size_t)V * 100, sizeof *bad);
    int64_t shape[2] = {V, 100};
    bad[17] = NAN;
    assay_mfile_writer_add(w2, "t.embeddings", ASSAY_F32, 2, shape, bad, &err);
    assay_mfile_writer_save(w2, path, &err);
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    e3 = est("", K, V, &rc, &err);
    CHECK(e3->vt->load(e3, f, "t.", meta, &err) == ASSAY_EFORMAT);
    e3->vt->free(e3);
    assay_mfile_free(f);
    assay_mfile_writer_free(w2);
    assay_free(bad);
    assay_free(buf);
    unlink(path);
    json_decref(meta);
    assay_mfile_writer_free(w);
    e->vt->free(e);
    e2->vt->free(e2);
    assay_free(p1);
    assay_free(p2);
    assay_free(y);
    free_docs(&tr);
}

static void test_estimator(void) {
    roundtrip("dim=12,lr=0.5,epochs=10");
    roundtrip("dim=12,lr=0.5,epochs=10,loss=hs");
    roundtrip("dim=12,lr=0.5,epochs=10,loss=ova");
    assay_error err;
    int rc;
    CHECK(est("dimm=3", 3, 10, &rc, &err) == NULL && rc == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "dimm") != NULL);
    CHECK(est("loss=nce", 3, 10, &rc, &err) == NULL && rc == ASSAY_EINVAL);
    CHECK(est("lr=0", 3, 10, &rc, &err) == NULL && rc == ASSAY_EINVAL);
    CHECK(assay__estimator_find("textclf") == &assay__textclf_vt);
}

/* Fail the k-th allocation for every k in create + fit + predict: ENOMEM and no leak. */
static void test_alloc_failures(void) {
    docs tr;
    make_docs(&tr, 50, 3, 30, 1, 2);
    double y[50];
    for (int i = 0; i < 50; i++) y[i] = tr.lab[tr.lptr[i]];
    assay_design ds = {.X = {.n = 50, .d = 30, .csr = &tr.X}, .y = y,
                       .task = ASSAY_TASK_MULTICLASS, .nclasses = 3, .seed = 1};
    double out[150];
    int k, failed = 0;
    for (k = 1; k < 100; k++) {
        assay_error err;
        int rc;
        assay_alloc_fail_after((uint64_t)k);
        assay_estimator *e = est("dim=4,epochs=1,loss=hs", 3, 30, &rc, &err);
        if (rc == ASSAY_OK) rc = e->vt->fit(e, &ds, &err);
        if (rc == ASSAY_OK) rc = e->vt->predict(e, &ds.X, out, &err);
        assay_alloc_fail_after(0);
        if (e) e->vt->free(e);
        if (rc == ASSAY_OK) break;
        CHECK_MSG(rc == ASSAY_ENOMEM, "allocation %d: %s", k, err.msg);
        failed++;
    }
    CHECK(failed >= 5 && k < 100);
    free_docs(&tr);
}

int main(void) {
    assay_threads_set(2);
    RUN(test_gradients);
    RUN(test_learns_separable);
    RUN(test_hogwild);
    RUN(test_multilabel_ova);
    RUN(test_deterministic);
    RUN(test_bad_input);
    RUN(test_estimator);
    RUN(test_alloc_failures);
    return check_summary();
}
