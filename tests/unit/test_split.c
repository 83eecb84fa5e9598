/* test_split.c - holdout, k-fold (plain and stratified), time holdout and time k-fold: sizes,
 * disjointness, coverage, stratum proportions, determinism, seeds, row subsets, errors. */
#include <stdlib.h>

#include "assay/data.h"
#include "check.h"
#include "fixture.h"

/* every id of rows[0..n) appears exactly once across train and test; both sorted */
static int partition_ok(const assay_split *s, const int64_t *rows, int64_t n, int64_t maxid) {
    if (s->ntrain + s->ntest != n) return 0;
    int *seen = calloc((size_t)maxid + 1, sizeof *seen);
    int ok = 1;
    for (int64_t i = 0; i < s->ntrain; i++) {
        if (i && s->train[i] <= s->train[i - 1]) ok = 0;
        seen[s->train[i]]++;
    }
    for (int64_t i = 0; i < s->ntest; i++) {
        if (i && s->test[i] <= s->test[i - 1]) ok = 0;
        seen[s->test[i]]++;
    }
    for (int64_t i = 0; i < n; i++)
        if (seen[rows ? rows[i] : i] != 1) ok = 0;
    free(seen);
    return ok;
}

static int same_split(const assay_split *a, const assay_split *b) {
    return a->ntest == b->ntest && a->ntrain == b->ntrain &&
           memcmp(a->test, b->test, (size_t)a->ntest * sizeof *a->test) == 0;
}

static void test_holdout(void) {
    assay_split s, s2, s3;
    assay_error e;
    CHECK_OK(assay_split_holdout(NULL, 1000, NULL, 0.25, 42, &s, &e), &e);
    CHECK(s.ntest == 250 && s.ntrain == 750);
    CHECK(partition_ok(&s, NULL, 1000, 1000));
    CHECK_OK(assay_split_holdout(NULL, 1000, NULL, 0.25, 42, &s2, &e), &e);
    CHECK(same_split(&s, &s2)); /* deterministic */
    CHECK_OK(assay_split_holdout(NULL, 1000, NULL, 0.25, 43, &s3, &e), &e);
    CHECK(!same_split(&s, &s3)); /* another seed, another split */
    /* the test set is not simply the first or last rows */
    CHECK(s.test[0] < 50 && s.test[s.ntest - 1] > 950);
    assay_split_deinit(&s);
    assay_split_deinit(&s2);
    assay_split_deinit(&s3);
    /* round(0.3 * 7) = 2 */
    CHECK_OK(assay_split_holdout(NULL, 7, NULL, 0.3, 1, &s, &e), &e);
    CHECK(s.ntest == 2);
    assay_split_deinit(&s);
    /* a subset of rows: only those ids */
    int64_t rows[6] = {3, 8, 9, 20, 21, 40};
    CHECK_OK(assay_split_holdout(rows, 6, NULL, 0.5, 5, &s, &e), &e);
    CHECK(s.ntest == 3 && partition_ok(&s, rows, 6, 40));
    assay_split_deinit(&s);
}

static void test_holdout_stratified(void) {
    /* 3 strata of 600, 300, 100 rows (interleaved), plus 7 rows with unknown stratum */
    enum { N = 1007 };
    int32_t strata[N];
    for (int i = 0; i < N; i++) strata[i] = i >= 1000 ? -1 : (i % 10 < 6 ? 0 : (i % 10 < 9 ? 1 : 2));
    assay_split s;
    assay_error e;
    CHECK_OK(assay_split_holdout(NULL, N, strata, 0.2, 7, &s, &e), &e);
    CHECK(s.ntest == 201); /* round(0.2 * 1007) */
    CHECK(partition_ok(&s, NULL, N, N));
    int cnt[4] = {0};
    for (int64_t i = 0; i < s.ntest; i++) cnt[strata[s.test[i]] + 1]++;
    /* each stratum contributes round(0.2 * count), adjusted by at most one */
    CHECK(abs(cnt[1] - 120) <= 1 && abs(cnt[2] - 60) <= 1 && abs(cnt[3] - 20) <= 1);
    CHECK(abs(cnt[0] - 1) <= 1);
    CHECK(cnt[0] + cnt[1] + cnt[2] + cnt[3] == 201);
    printf("stratified holdout: test per stratum %d %d %d (+%d unknown)\n", cnt[1], cnt[2], cnt[3],
           cnt[0]);
    assay_split_deinit(&s);
    /* proportions hold on a small unbalanced set too: 9 vs 3, test 1/3 -> 3 + 1 */
    int32_t st2[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK_OK(assay_split_holdout(NULL, 12, st2, 1.0 / 3, 3, &s, &e), &e);
    int c1 = 0;
    for (int64_t i = 0; i < s.ntest; i++) c1 += st2[s.test[i]];
    CHECK(s.ntest == 4 && c1 == 1);
    assay_split_deinit(&s);
}

static void test_kfold(void) {
    enum { N = 103, K = 5 };
    assay_split f[K], g[K];
    assay_error e;
    CHECK_OK(assay_split_kfold(NULL, N, NULL, K, 9, f, &e), &e);
    int *seen = calloc(N, sizeof *seen);
    for (int k = 0; k < K; k++) {
        CHECK(partition_ok(&f[k], NULL, N, N));
        CHECK(f[k].ntest == 20 || f[k].ntest == 21);
        for (int64_t i = 0; i < f[k].ntest; i++) seen[f[k].test[i]]++;
    }
    int cover = 1;
    for (int i = 0; i < N; i++) cover &= seen[i] == 1; /* each row tested exactly once */
    CHECK(cover);
    free(seen);
    CHECK_OK(assay_split_kfold(NULL, N, NULL, K, 9, g, &e), &e);
    for (int k = 0; k < K; k++) CHECK(same_split(&f[k], &g[k]));
    for (int k = 0; k < K; k++) assay_split_deinit(&g[k]);
    CHECK_OK(assay_split_kfold(NULL, N, NULL, K, 10, g, &e), &e);
    CHECK(!same_split(&f[0], &g[0]));
    for (int k = 0; k < K; k++) {
        assay_split_deinit(&f[k]);
        assay_split_deinit(&g[k]);
    }
    /* stratified: 70 / 25 / 8 rows */
    int32_t strata[N];
    for (int i = 0; i < N; i++) strata[i] = i < 70 ? 0 : (i < 95 ? 1 : 2);
    CHECK_OK(assay_split_kfold(NULL, N, strata, K, 9, f, &e), &e);
    int ok = 1;
    for (int k = 0; k < K; k++) {
        int c[3] = {0};
        for (int64_t i = 0; i < f[k].ntest; i++) c[strata[f[k].test[i]]]++;
        ok &= f[k].ntest >= 20 && f[k].ntest <= 21;
        ok &= c[0] >= 14 && c[0] <= 14 && c[1] == 5 && (c[2] == 1 || c[2] == 2);
        ok &= partition_ok(&f[k], NULL, N, N);
    }
    CHECK(ok);
    for (int k = 0; k < K; k++) assay_split_deinit(&f[k]);
}

static void test_errors(void) {
    assay_split s, f[3];
    assay_error e;
    CHECK(assay_split_holdout(NULL, 10, NULL, 0.0, 1, &s, &e) == ASSAY_EINVAL);
    CHECK(assay_split_holdout(NULL, 10, NULL, 1.0, 1, &s, &e) == ASSAY_EINVAL);
    CHECK(assay_split_holdout(NULL, 10, NULL, NAN, 1, &s, &e) == ASSAY_EINVAL);
    CHECK(assay_split_holdout(NULL, 10, NULL, 0.01, 1, &s, &e) == ASSAY_EINVAL);
    CHECK_STR(e.msg, "holdout split: a test fraction of 0.01 of 10 rows leaves the test set empty");
    CHECK(assay_split_holdout(NULL, 10, NULL, 0.99, 1, &s, &e) == ASSAY_EINVAL);
    CHECK(strstr(e.msg, "training set empty") != NULL);
    CHECK(assay_split_kfold(NULL, 10, NULL, 1, 1, f, &e) == ASSAY_EINVAL);
    CHECK(assay_split_kfold(NULL, 2, NULL, 3, 1, f, &e) == ASSAY_EINVAL);
    CHECK_STR(e.msg, "k-fold split: k = 3 is more than the 2 rows");
    double t[4] = {1, 2, 3, 4};
    uint8_t miss[4] = {0, 0, 1, 0};
    CHECK(assay_split_time(NULL, 4, t, miss, 0.5, &s, &e) == ASSAY_EINVAL);
    CHECK_STR(e.msg, "time split: row 3 has a missing time");
    CHECK(assay_split_time_kfold(NULL, 4, t, NULL, 3, f, &e) == ASSAY_OK);
    for (int k = 0; k < 3; k++) assay_split_deinit(&f[k]);
    CHECK(assay_split_time_kfold(NULL, 3, t, NULL, 3, f, &e) == ASSAY_EINVAL);
}

static void test_time(void) {
    /* times out of row order, with ties */
    enum { N = 10 };
    double t[N] = {5, 1, 9, 3, 3, 8, 0, 7, 2, 6};
    assay_split s;
    assay_error e;
    CHECK_OK(assay_split_time(NULL, N, t, NULL, 0.3, &s, &e), &e);
    /* the 3 latest: t = 9 (row 2), 8 (row 5), 7 (row 7) */
    CHECK(s.ntest == 3 && s.test[0] == 2 && s.test[1] == 5 && s.test[2] == 7);
    CHECK(partition_ok(&s, NULL, N, N));
    assay_split_deinit(&s);
    /* TimeSeriesSplit(n_splits=3) on 10 time-ordered rows: test size 2, train 4, 6, 8 */
    assay_split f[3];
    CHECK_OK(assay_split_time_kfold(NULL, N, t, NULL, 3, f, &e), &e);
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        ok &= f[k].ntrain == 4 + 2 * k && f[k].ntest == 2;
        double maxtrain = -1, mintest = 1e9;
        for (int64_t i = 0; i < f[k].ntrain; i++) maxtrain = fmax(maxtrain, t[f[k].train[i]]);
        for (int64_t i = 0; i < f[k].ntest; i++) mintest = fmin(mintest, t[f[k].test[i]]);
        ok &= maxtrain <= mintest; /* never train on the future */
    }
    CHECK(ok);
    /* fold 0: ordered by (time, row): 6,8,1,3,4 | test 9(t=6), 0(t=5)? order: t0 r6, t1 r1,
     * t2 r8, t3 r3, t3 r4, t5 r0, t6 r9, t7 r7, t8 r5, t9 r2 -> train r6 r1 r8 r3, test r4 r0 */
    CHECK(f[0].test[0] == 0 && f[0].test[1] == 4);
    for (int k = 0; k < 3; k++) assay_split_deinit(&f[k]);
}

/* Group k-fold: every row in scikit-learn's GroupKFold fold (fixture from
 * tests/parity/gen/gen_group_kfold.py), no group in two folds, every row tested once; too few
 * groups and a row without a group are refused. */
static void test_group_kfold(void) {
    json_t *doc = fixture("group_kfold.json");
    CHECK(doc != NULL);
    const json_t *cases = json_object_get(doc, "cases");
    int64_t off = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        int k = (int)json_integer_value(json_object_get(cs, "k"));
        const json_t *g = json_object_get(cs, "group"), *fo = json_object_get(cs, "fold");
        int64_t n = (int64_t)json_array_size(g);
        int64_t *group = malloc(sizeof *group * (size_t)n);
        for (int64_t i = 0; i < n; i++) group[i] = json_integer_value(json_array_get(g, (size_t)i));
        assay_split folds[8];
        assay_error err;
        CHECK_OK(assay_split_group_kfold(NULL, n, group, k, folds, &err), &err);
        int64_t *fold_of = malloc(sizeof *fold_of * (size_t)n);
        for (int64_t i = 0; i < n; i++) fold_of[i] = -1;
        for (int f = 0; f < k; f++) {
            CHECK(folds[f].ntrain + folds[f].ntest == n);
            for (int64_t i = 0; i < folds[f].ntest; i++) {
                CHECK(fold_of[folds[f].test[i]] == -1);
                fold_of[folds[f].test[i]] = f;
            }
        }
        int64_t mismatch = 0;
        for (int64_t i = 0; i < n; i++) mismatch += fold_of[i] != json_integer_value(json_array_get(fo, (size_t)i));
        printf("  group k-fold case %zu (%lld rows, k %d): %lld rows in another fold than scikit-learn's\n", c,
               (long long)n, k, (long long)mismatch);
        CHECK(mismatch == 0);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                if (group[i] == group[j] && fold_of[i] != fold_of[j]) off++;
        for (int f = 0; f < k; f++) assay_split_deinit(&folds[f]);
        free(fold_of);
        free(group);
    }
    CHECK(off == 0);
    int64_t few[6] = {0, 0, 1, 1, 0, 1};
    assay_split folds[3];
    assay_error err;
    CHECK(assay_split_group_kfold(NULL, 6, few, 3, folds, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "2 groups") != NULL);
    few[3] = -1;
    CHECK(assay_split_group_kfold(NULL, 6, few, 2, folds, &err) == ASSAY_EINVAL);
    json_decref(doc);
}

int main(void) {
    RUN(test_holdout);
    RUN(test_holdout_stratified);
    RUN(test_kfold);
    RUN(test_errors);
    RUN(test_time);
    RUN(test_group_kfold);
    return check_summary();
}
