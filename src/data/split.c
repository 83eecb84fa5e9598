/* split.c - row splits: holdout and k-fold (plain or stratified, shuffled by a seeded
 * xoshiro256** stream) and time-ordered holdout and expanding-window k-fold.
 *
 * Stratified holdout: each stratum is shuffled and contributes round(frac * count) rows, then
 * quotas are nudged by largest remainder so the total is round(frac * n). Stratified k-fold:
 * strata are shuffled and laid end to end, and row j goes to fold j mod k, so fold sizes differ
 * by at most one and every stratum is spread evenly (like scikit-learn's StratifiedKFold, not
 * bit-identical to it). Time k-fold follows scikit-learn's TimeSeriesSplit. Results list row
 * ids in increasing order. Not done here: group splits, repeated k-fold. */
#include "data_internal.h"

void assay_split_deinit(assay_split *s) {
    if (!s) return;
    assay_free(s->train);
    assay_free(s->test);
    memset(s, 0, sizeof *s);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t *row_ids(const int64_t *rows, int64_t n) {
    int64_t *ids = assay_mallocarray((size_t)(n ? n : 1), sizeof *ids);
    if (!ids) return NULL;
    for (int64_t i = 0; i < n; i++) ids[i] = rows ? rows[i] : i;
    return ids;
}

/* Fill s with test = ids[in test] (mask), train = the rest, each sorted. */
static int fill_split(const int64_t *ids, int64_t n, const uint8_t *is_test, int64_t ntest,
                      assay_split *s) {
    memset(s, 0, sizeof *s);
    s->train = assay_mallocarray((size_t)(n - ntest ? n - ntest : 1), sizeof *s->train);
    s->test = assay_mallocarray((size_t)(ntest ? ntest : 1), sizeof *s->test);
    if (!s->train || !s->test) {
        assay_split_deinit(s);
        return ASSAY_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        if (is_test[i]) s->test[s->ntest++] = ids[i];
        else s->train[s->ntrain++] = ids[i];
    }
    qsort(s->train, (size_t)s->ntrain, sizeof *s->train, cmp_i64);
    qsort(s->test, (size_t)s->ntest, sizeof *s->test, cmp_i64);
    return ASSAY_OK;
}

typedef struct strat_item {
    int32_t s;
    int64_t pos;
} strat_item;

static int cmp_strat(const void *a, const void *b) {
    const strat_item *x = a, *y = b;
    if (x->s != y->s) return (x->s > y->s) - (x->s < y->s);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Group positions 0..n-1 by stratum (ascending stratum value, then position), each group
 * shuffled. order[] receives positions; starts[g]..starts[g+1] is group g. */
static int group_strata(const int64_t *ids, int64_t n, const int32_t *strata, assay_rng *rng,
                        int64_t **order_out, int64_t **starts_out, int64_t *ngroups) {
    strat_item *it = assay_mallocarray((size_t)(n ? n : 1), sizeof *it);
    int64_t *order = assay_mallocarray((size_t)(n ? n : 1), sizeof *order);
    int64_t *starts = assay_mallocarray((size_t)n + 1, sizeof *starts);
    if (!it || !order || !starts) {
        assay_free(it);
        assay_free(order);
        assay_free(starts);
        return ASSAY_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) it[i] = (strat_item){strata[ids[i]], i};
    qsort(it, (size_t)n, sizeof *it, cmp_strat);
    int64_t g = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || it[i].s != it[i - 1].s) starts[g++] = i;
        order[i] = it[i].pos;
    }
    starts[g] = n;
    for (int64_t j = 0; j < g; j++)
        assay_rng_shuffle_i64(rng, order + starts[j], starts[j + 1] - starts[j]);
    assay_free(it);
    *order_out = order;
    *starts_out = starts;
    *ngroups = g;
    return ASSAY_OK;
}

int assay_split_holdout(const int64_t *rows, int64_t nrows, const int32_t *strata,
                        double test_frac, uint64_t seed, assay_split *out, assay_error *err) {
    if (!out) return assay_error_set(err, ASSAY_EINVAL, "holdout split: NULL output");
    memset(out, 0, sizeof *out);
    if (!(test_frac > 0.0 && test_frac < 1.0))
        return assay_error_set(err, ASSAY_EINVAL,
                               "holdout split: test fraction %g is not between 0 and 1", test_frac);
    if (nrows < 0) return assay_error_set(err, ASSAY_EINVAL, "holdout split: %lld rows", (long long)nrows);
    int64_t ntest = llround(test_frac * (double)nrows);
    if (ntest <= 0 || ntest >= nrows)
        return assay_error_set(err, ASSAY_EINVAL,
                               "holdout split: a test fraction of %g of %lld rows leaves the %s set "
                               "empty",
                               test_frac, (long long)nrows, ntest <= 0 ? "test" : "training");
    int rc = ASSAY_OK;
    int64_t *ids = row_ids(rows, nrows), *order = NULL, *starts = NULL, *quota = NULL;
    uint8_t *is_test = assay_calloc((size_t)nrows, 1);
    double *rem = NULL;
    if (!ids || !is_test) goto nomem;
    assay_rng rng;
    assay_rng_seed(&rng, seed);
    if (!strata) {
        assay_rng_shuffle_i64(&rng, ids, nrows);
        for (int64_t i = 0; i < ntest; i++) is_test[i] = 1;
    } else {
        int64_t g;
        if (group_strata(ids, nrows, strata, &rng, &order, &starts, &g)) goto nomem;
        quota = assay_mallocarray((size_t)g, sizeof *quota);
        rem = assay_mallocarray((size_t)g, sizeof *rem);
        if (!quota || !rem) goto nomem;
        int64_t sum = 0;
        for (int64_t j = 0; j < g; j++) {
            int64_t cnt = starts[j + 1] - starts[j];
            double want = test_frac * (double)cnt;
            quota[j] = llround(want);
            if (quota[j] > cnt) quota[j] = cnt;
            rem[j] = want - (double)quota[j];
            sum += quota[j];
        }
        while (sum != ntest) { /* largest remainder first; ties to the lower stratum */
            int64_t best = -1;
            for (int64_t j = 0; j < g; j++) {
                int64_t cnt = starts[j + 1] - starts[j];
                if (sum < ntest ? quota[j] >= cnt : quota[j] <= 0) continue;
                if (best < 0 || (sum < ntest ? rem[j] > rem[best] : rem[j] < rem[best])) best = j;
            }
            ASSAY_ASSERT(best >= 0);
            int step = sum < ntest ? 1 : -1;
            quota[best] += step;
            rem[best] -= step;
            sum += step;
        }
        for (int64_t j = 0; j < g; j++)
            for (int64_t i = 0; i < quota[j]; i++) is_test[order[starts[j] + i]] = 1;
    }
    if (fill_split(ids, nrows, is_test, ntest, out)) goto nomem;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "holdout split: out of memory");
done:
    assay_free(ids);
    assay_free(is_test);
    assay_free(order);
    assay_free(starts);
    assay_free(quota);
    assay_free(rem);
    return rc;
}

/* Folds from a fold number per position. */
static int fill_folds(const int64_t *ids, int64_t n, const int32_t *fold_of, int k,
                      assay_split *folds) {
    uint8_t *is_test = assay_malloc((size_t)(n ? n : 1));
    if (!is_test) return ASSAY_ENOMEM;
    for (int f = 0; f < k; f++) {
        int64_t nt = 0;
        for (int64_t i = 0; i < n; i++) {
            is_test[i] = fold_of[i] == f;
            nt += is_test[i];
        }
        if (fill_split(ids, n, is_test, nt, &folds[f])) {
            for (int g = 0; g < f; g++) assay_split_deinit(&folds[g]);
            assay_free(is_test);
            return ASSAY_ENOMEM;
        }
    }
    assay_free(is_test);
    return ASSAY_OK;
}

int assay_split_kfold(const int64_t *rows, int64_t nrows, const int32_t *strata, int k,
                      uint64_t seed, assay_split *folds, assay_error *err) {
    if (!folds) return assay_error_set(err, ASSAY_EINVAL, "k-fold split: NULL output");
    if (k < 2) return assay_error_set(err, ASSAY_EINVAL, "k-fold split: k = %d (need at least 2)", k);
    memset(folds, 0, (size_t)k * sizeof *folds);
    if (k > nrows)
        return assay_error_set(err, ASSAY_EINVAL, "k-fold split: k = %d is more than the %lld rows",
                               k, (long long)nrows);
    int rc = ASSAY_OK;
    int64_t *ids = row_ids(rows, nrows), *order = NULL, *starts = NULL;
    int32_t *fold_of = assay_mallocarray((size_t)nrows, sizeof *fold_of);
    if (!ids || !fold_of) goto nomem;
    assay_rng rng;
    assay_rng_seed(&rng, seed);
    if (!strata) {
        order = row_ids(NULL, nrows);
        if (!order) goto nomem;
        assay_rng_shuffle_i64(&rng, order, nrows);
        int64_t at = 0;
        for (int f = 0; f < k; f++) {
            int64_t size = nrows / k + (f < nrows % k);
            for (int64_t i = 0; i < size; i++) fold_of[order[at++]] = f;
        }
    } else {
        int64_t g;
        if (group_strata(ids, nrows, strata, &rng, &order, &starts, &g)) goto nomem;
        for (int64_t j = 0; j < nrows; j++) fold_of[order[j]] = (int32_t)(j % k);
    }
    if (fill_folds(ids, nrows, fold_of, k, folds)) goto nomem;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "k-fold split: out of memory");
done:
    assay_free(ids);
    assay_free(fold_of);
    assay_free(order);
    assay_free(starts);
    return rc;
}

/* ---- grouped ----------------------------------------------------------------------------- */

int assay_split_group_kfold(const int64_t *rows, int64_t nrows, const int64_t *group, int k,
                            assay_split *folds, assay_error *err) {
    if (!folds || !group) return assay_error_set(err, ASSAY_EINVAL, "group k-fold split: NULL argument");
    if (k < 2) return assay_error_set(err, ASSAY_EINVAL, "group k-fold split: k = %d (need at least 2)", k);
    memset(folds, 0, (size_t)k * sizeof *folds);
    int rc = ASSAY_OK;
    int64_t *ids = row_ids(rows, nrows), *gid = NULL, *size = NULL, *order = NULL, *load = NULL;
    int32_t *fold_of = assay_mallocarray((size_t)(nrows ? nrows : 1), sizeof *fold_of);
    int32_t *gfold = NULL;
    if (!ids || !fold_of) goto nomem;
    /* dense group numbers 0..G-1 in order of first appearance */
    int64_t G = 0, maxg = -1;
    for (int64_t i = 0; i < nrows; i++) {
        if (group[ids[i]] < 0) {
            rc = assay_error_set(err, ASSAY_EINVAL, "group k-fold split: row %lld has no group", (long long)ids[i] + 1);
            goto done;
        }
        if (group[ids[i]] > maxg) maxg = group[ids[i]];
    }
    if (!(gid = assay_mallocarray((size_t)maxg + 1, sizeof *gid))) goto nomem;
    for (int64_t g = 0; g <= maxg; g++) gid[g] = -1;
    for (int64_t i = 0; i < nrows; i++)
        if (gid[group[ids[i]]] < 0) gid[group[ids[i]]] = G++;
    if (G < k) {
        rc = assay_error_set(err, ASSAY_EINVAL, "group k-fold split: %lld groups, fewer than the %d folds",
                             (long long)G, k);
        goto done;
    }
    size = assay_calloc((size_t)G, sizeof *size);
    order = assay_mallocarray((size_t)G, sizeof *order);
    load = assay_calloc((size_t)k, sizeof *load);
    gfold = assay_mallocarray((size_t)G, sizeof *gfold);
    if (!size || !order || !load || !gfold) goto nomem;
    for (int64_t i = 0; i < nrows; i++) size[gid[group[ids[i]]]]++;
    /* scikit-learn's GroupKFold: the largest group first (ties: later group first, as the
     * reversed argsort does) into the fold holding the fewest rows so far (ties: first fold) */
    for (int64_t g = 0; g < G; g++) order[g] = g;
    for (int64_t i = 1; i < G; i++) /* insertion sort by (size desc, index desc): stable enough */
        for (int64_t j = i; j > 0 && (size[order[j - 1]] < size[order[j]] ||
                                      (size[order[j - 1]] == size[order[j]] && order[j - 1] < order[j])); j--) {
            int64_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int64_t r = 0; r < G; r++) {
        int f = 0;
        for (int j = 1; j < k; j++)
            if (load[j] < load[f]) f = j;
        gfold[order[r]] = f;
        load[f] += size[order[r]];
    }
    for (int64_t i = 0; i < nrows; i++) fold_of[i] = gfold[gid[group[ids[i]]]];
    if (fill_folds(ids, nrows, fold_of, k, folds)) goto nomem;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "group k-fold split: out of memory");
done:
    assay_free(ids);
    assay_free(fold_of);
    assay_free(gid);
    assay_free(size);
    assay_free(order);
    assay_free(load);
    assay_free(gfold);
    return rc;
}

/* ---- time-ordered ------------------------------------------------------------------------ */

typedef struct time_item {
    double t;
    int64_t pos;
} time_item;

static int cmp_time(const void *a, const void *b) {
    const time_item *x = a, *y = b;
    if (x->t != y->t) return (x->t > y->t) - (x->t < y->t);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Positions sorted by (time, position); refuses missing times. */
static int time_order(const char *what, const int64_t *ids, int64_t n, const double *time,
                      const uint8_t *missing, int64_t **out, assay_error *err) {
    *out = NULL;
    if (!time) return assay_error_set(err, ASSAY_EINVAL, "%s: no time column", what);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = ids[i];
        if ((missing && missing[id]) || isnan(time[id]))
            return assay_error_set(err, ASSAY_EINVAL, "%s: row %lld has a missing time", what,
                                   (long long)id + 1);
    }
    time_item *it = assay_mallocarray((size_t)(n ? n : 1), sizeof *it);
    int64_t *order = assay_mallocarray((size_t)(n ? n : 1), sizeof *order);
    if (!it || !order) {
        assay_free(it);
        assay_free(order);
        return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", what);
    }
    for (int64_t i = 0; i < n; i++) it[i] = (time_item){time[ids[i]], i};
    qsort(it, (size_t)n, sizeof *it, cmp_time);
    for (int64_t i = 0; i < n; i++) order[i] = it[i].pos;
    assay_free(it);
    *out = order;
    return ASSAY_OK;
}

int assay_split_time(const int64_t *rows, int64_t nrows, const double *time,
                     const uint8_t *missing, double test_frac, assay_split *out, assay_error *err) {
    if (!out) return assay_error_set(err, ASSAY_EINVAL, "time split: NULL output");
    memset(out, 0, sizeof *out);
    if (!(test_frac > 0.0 && test_frac < 1.0))
        return assay_error_set(err, ASSAY_EINVAL,
                               "time split: test fraction %g is not between 0 and 1", test_frac);
    int64_t ntest = nrows > 0 ? llround(test_frac * (double)nrows) : 0;
    if (ntest <= 0 || ntest >= nrows)
        return assay_error_set(err, ASSAY_EINVAL,
                               "time split: a test fraction of %g of %lld rows leaves the %s set "
                               "empty",
                               test_frac, (long long)nrows, ntest <= 0 ? "test" : "training");
    int rc;
    int64_t *ids = row_ids(rows, nrows), *order = NULL;
    uint8_t *is_test = assay_calloc((size_t)nrows, 1);
    if (!ids || !is_test) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "time split: out of memory");
        goto done;
    }
    rc = time_order("time split", ids, nrows, time, missing, &order, err);
    if (rc) goto done;
    for (int64_t i = nrows - ntest; i < nrows; i++) is_test[order[i]] = 1;
    if (fill_split(ids, nrows, is_test, ntest, out))
        rc = assay_error_set(err, ASSAY_ENOMEM, "time split: out of memory");
done:
    assay_free(ids);
    assay_free(order);
    assay_free(is_test);
    return rc;
}

int assay_split_time_kfold(const int64_t *rows, int64_t nrows, const double *time,
                           const uint8_t *missing, int k, assay_split *folds, assay_error *err) {
    if (!folds) return assay_error_set(err, ASSAY_EINVAL, "time k-fold split: NULL output");
    if (k < 2)
        return assay_error_set(err, ASSAY_EINVAL, "time k-fold split: k = %d (need at least 2)", k);
    memset(folds, 0, (size_t)k * sizeof *folds);
    if (nrows < (int64_t)k + 1)
        return assay_error_set(err, ASSAY_EINVAL,
                               "time k-fold split: k = %d needs at least %d rows, have %lld", k,
                               k + 1, (long long)nrows);
    int rc;
    int64_t *ids = row_ids(rows, nrows), *order = NULL;
    if (!ids) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "time k-fold split: out of memory");
        goto done;
    }
    rc = time_order("time k-fold split", ids, nrows, time, missing, &order, err);
    if (rc) goto done;
    int64_t test_size = nrows / (k + 1);
    for (int f = 0; f < k; f++) {
        int64_t test_start = nrows - (int64_t)(k - f) * test_size;
        /* train: order[0 .. test_start), test: order[test_start .. + test_size) */
        assay_split *s = &folds[f];
        s->train = assay_mallocarray((size_t)test_start, sizeof *s->train);
        s->test = assay_mallocarray((size_t)test_size, sizeof *s->test);
        if (!s->train || !s->test) {
            for (int g = 0; g <= f; g++) assay_split_deinit(&folds[g]);
            rc = assay_error_set(err, ASSAY_ENOMEM, "time k-fold split: out of memory");
            goto done;
        }
        for (int64_t i = 0; i < test_start; i++) s->train[i] = ids[order[i]];
        for (int64_t i = 0; i < test_size; i++) s->test[i] = ids[order[test_start + i]];
        s->ntrain = test_start;
        s->ntest = test_size;
        qsort(s->train, (size_t)s->ntrain, sizeof *s->train, cmp_i64);
        qsort(s->test, (size_t)s->ntest, sizeof *s->test, cmp_i64);
    }
done:
    assay_free(ids);
    assay_free(order);
    return rc;
}
