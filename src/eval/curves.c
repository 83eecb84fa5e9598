/* curves.c - the ROC and precision-recall curves, the calibration curve, cumulative gain and
 * lift by group, Platt and isotonic calibrators, permutation importance (include/assay/curves.h).
 *
 * Definitions follow scikit-learn 1.2 (sklearn/metrics/_ranking.py, sklearn/calibration.py,
 * sklearn/isotonic.py and its _isotonic.pyx) and numpy 1.24 (percentile's linear method,
 * linspace, searchsorted), down to the order of floating-point operations where that decides
 * a bin or the last bit of a prediction. It deliberately does not do sample weights, pos_label
 * or multiclass inputs; the caller maps labels to y01. */
#include <float.h>
#include <stddef.h>

#include "assay/curves.h"
#include "eval_internal.h"

/* ---- sorting --------------------------------------------------------------------------------- */

typedef struct ranked {
    double s;
    int64_t i; /* row */
} ranked;

/* Descending score, ties in row order: a stable descending sort. */
static int cmp_desc_stable(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Fills and sorts r (n); EINVAL on a NaN score. */
static int rank_rows(ranked *r, const double *score, int64_t n, assay_error *err) {
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i])) return assay_error_set(err, ASSAY_EINVAL, "score of row %lld is NaN", (long long)i);
        r[i].s = score[i];
        r[i].i = i;
    }
    qsort(r, (size_t)n, sizeof *r, cmp_desc_stable);
    return ASSAY_OK;
}

static int check_inputs(const uint8_t *y01, const double *score, int64_t n, const void *out,
                        assay_error *err) {
    if (!y01 || !score || !out) return assay_error_set(err, ASSAY_EINVAL, "NULL argument");
    if (n < 1) return assay_error_set(err, ASSAY_EINVAL, "no rows");
    return ASSAY_OK;
}

/* sklearn's _binary_clf_curve: one point per distinct score, in decreasing score order;
 * fps/tps (m) count the rows scoring >= thr (m). Returns m, or a negative code. The arrays are
 * allocated here (n entries each, enough for any m). */
static int64_t binary_clf_curve(const uint8_t *y01, const double *score, int64_t n, double **fps,
                                double **tps, double **thr, assay_error *err) {
    ranked *r = assay_mallocarray((size_t)n, sizeof *r);
    *fps = assay_mallocarray((size_t)n, sizeof **fps);
    *tps = assay_mallocarray((size_t)n, sizeof **tps);
    *thr = assay_mallocarray((size_t)n, sizeof **thr);
    int64_t m = 0;
    int rc;
    if (!r || !*fps || !*tps || !*thr) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory for a curve of %lld rows", (long long)n);
        goto fail;
    }
    if ((rc = rank_rows(r, score, n, err)) != ASSAY_OK) goto fail;
    double tp = 0;
    for (int64_t i = 0; i < n; i++) {
        tp += y01[r[i].i] ? 1.0 : 0.0;
        if (i == n - 1 || r[i + 1].s != r[i].s) {
            (*tps)[m] = tp;
            (*fps)[m] = (double)(i + 1) - tp;
            (*thr)[m] = r[i].s;
            m++;
        }
    }
    assay_free(r);
    return m;
fail:
    assay_free(r);
    assay_free(*fps);
    assay_free(*tps);
    assay_free(*thr);
    *fps = *tps = *thr = NULL;
    return rc;
}

/* ---- ROC ------------------------------------------------------------------------------------- */

int assay_curve_roc(const uint8_t *y01, const double *score, int64_t n, assay_roc_curve *out,
                    assay_error *err) {
    int rc = check_inputs(y01, score, n, out, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    double *fps, *tps, *thr;
    int64_t m = binary_clf_curve(y01, score, n, &fps, &tps, &thr, err);
    if (m < 0) return (int)m;
    out->fpr = assay_mallocarray((size_t)m + 1, sizeof(double));
    out->tpr = assay_mallocarray((size_t)m + 1, sizeof(double));
    out->thresholds = assay_mallocarray((size_t)m + 1, sizeof(double));
    if (!out->fpr || !out->tpr || !out->thresholds) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory for a ROC curve");
        assay_curve_roc_deinit(out);
        goto done;
    }
    /* drop_intermediate: keep the ends and every point where the second difference of fps
     * or tps is nonzero (a corner); the counts are integers, so the test is exact. */
    int64_t k = 1;
    out->fpr[0] = out->tpr[0] = 0;
    out->thresholds[0] = thr[0] + 1;
    for (int64_t i = 0; i < m; i++) {
        int keep = m <= 2 || i == 0 || i == m - 1 ||
                   fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0 ||
                   tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0;
        if (!keep) continue;
        out->fpr[k] = fps[i];
        out->tpr[k] = tps[i];
        out->thresholds[k] = thr[i];
        k++;
    }
    double fl = fps[m - 1], tl = tps[m - 1];
    for (int64_t i = 0; i < k; i++) {
        out->fpr[i] = fl > 0 ? out->fpr[i] / fl : NAN;
        out->tpr[i] = tl > 0 ? out->tpr[i] / tl : NAN;
    }
    out->n = k;
done:
    assay_free(fps);
    assay_free(tps);
    assay_free(thr);
    return rc;
}

void assay_curve_roc_deinit(assay_roc_curve *c) {
    if (!c) return;
    assay_free(c->fpr);
    assay_free(c->tpr);
    assay_free(c->thresholds);
    memset(c, 0, sizeof *c);
}

/* ---- precision-recall ------------------------------------------------------------------------ */

int assay_curve_pr(const uint8_t *y01, const double *score, int64_t n, assay_pr_curve *out,
                   assay_error *err) {
    int rc = check_inputs(y01, score, n, out, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    double *fps, *tps, *thr;
    int64_t m = binary_clf_curve(y01, score, n, &fps, &tps, &thr, err);
    if (m < 0) return (int)m;
    out->precision = assay_mallocarray((size_t)m + 1, sizeof(double));
    out->recall = assay_mallocarray((size_t)m + 1, sizeof(double));
    out->thresholds = assay_mallocarray((size_t)m, sizeof(double));
    if (!out->precision || !out->recall || !out->thresholds) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory for a precision-recall curve");
        assay_curve_pr_deinit(out);
        goto done;
    }
    /* reversed so that the threshold increases; precision is 0 where nothing is predicted
     * positive (cannot happen without weights: every point holds at least one row). */
    double tl = tps[m - 1];
    for (int64_t i = 0; i < m; i++) {
        int64_t j = m - 1 - i;
        double ps = tps[j] + fps[j];
        out->precision[i] = ps != 0 ? tps[j] / ps : 0.0;
        out->recall[i] = tl == 0 ? 1.0 : tps[j] / tl;
        out->thresholds[i] = thr[j];
    }
    out->precision[m] = 1.0;
    out->recall[m] = 0.0;
    out->n = m + 1;
done:
    assay_free(fps);
    assay_free(tps);
    assay_free(thr);
    return rc;
}

void assay_curve_pr_deinit(assay_pr_curve *c) {
    if (!c) return;
    assay_free(c->precision);
    assay_free(c->recall);
    assay_free(c->thresholds);
    memset(c, 0, sizeof *c);
}

/* ---- calibration curve ----------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile(sorted, 100 * q) with the default linear method (numpy 1.24's _quantile:
 * virtual index (N-1) q, and _lerp, which interpolates from the nearer end). */
static double percentile_linear(const double *sorted, int64_t N, double q100) {
    double q = q100 / 100.0;
    double v = (double)(N - 1) * q;
    if (v >= (double)(N - 1)) return sorted[N - 1];
    if (v < 0) return sorted[0];
    double lo = floor(v), g = v - lo;
    double a = sorted[(int64_t)lo], b = sorted[(int64_t)lo + 1], d = b - a;
    return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

int assay_curve_calibration(const uint8_t *y01, const double *p, int64_t n, int nbins,
                            assay_bin_strategy strategy, assay_calibration_curve *out,
                            assay_error *err) {
    int rc = check_inputs(y01, p, n, out, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if (nbins < 1) return assay_error_set(err, ASSAY_EINVAL, "n_bins must be >= 1, got %d", nbins);
    if (strategy != ASSAY_BINS_UNIFORM && strategy != ASSAY_BINS_QUANTILE)
        return assay_error_set(err, ASSAY_EINVAL, "unknown binning strategy %d", (int)strategy);
    for (int64_t i = 0; i < n; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return assay_error_set(err, ASSAY_EINVAL, "probability of row %lld is %g, not in [0, 1]",
                                   (long long)i, p[i]);
    double *sorted = NULL, *sum_p = NULL, *sum_y = NULL;
    int64_t *cnt = NULL;
    out->nbins = nbins;
    out->edges = assay_mallocarray((size_t)nbins + 1, sizeof(double));
    sum_p = assay_calloc((size_t)nbins, sizeof(double));
    sum_y = assay_calloc((size_t)nbins, sizeof(double));
    cnt = assay_calloc((size_t)nbins, sizeof(int64_t));
    if (!out->edges || !sum_p || !sum_y || !cnt) goto nomem;
    /* numpy.linspace(0, 1, nbins + 1): i * (1 / nbins), the last exactly 1 */
    double step = 1.0 / nbins;
    if (strategy == ASSAY_BINS_UNIFORM) {
        for (int i = 0; i <= nbins; i++) out->edges[i] = i == nbins ? 1.0 : (double)i * step;
    } else {
        if (!(sorted = assay_mallocarray((size_t)n, sizeof(double)))) goto nomem;
        memcpy(sorted, p, sizeof(double) * (size_t)n);
        qsort(sorted, (size_t)n, sizeof(double), cmp_double);
        for (int i = 0; i <= nbins; i++) {
            double q = i == nbins ? 1.0 : (double)i * step;
            out->edges[i] = percentile_linear(sorted, n, q * 100);
        }
    }
    /* bin = searchsorted(edges[1:nbins], p, side="left"): the number of inner edges < p.
     * Sums in row order, as numpy.bincount accumulates. */
    for (int64_t i = 0; i < n; i++) {
        int lo = 0, hi = nbins - 1; /* inner edges are edges[1..nbins-1] */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (out->edges[mid + 1] < p[i]) lo = mid + 1;
            else hi = mid;
        }
        sum_p[lo] += p[i];
        sum_y[lo] += y01[i] ? 1.0 : 0.0;
        cnt[lo]++;
    }
    int64_t k = 0;
    for (int b = 0; b < nbins; b++) k += cnt[b] > 0;
    out->bin = assay_mallocarray((size_t)k, sizeof(int32_t));
    out->prob_true = assay_mallocarray((size_t)k, sizeof(double));
    out->prob_pred = assay_mallocarray((size_t)k, sizeof(double));
    out->count = assay_mallocarray((size_t)k, sizeof(int64_t));
    if (!out->bin || !out->prob_true || !out->prob_pred || !out->count) goto nomem;
    k = 0;
    for (int b = 0; b < nbins; b++) {
        if (!cnt[b]) continue;
        out->bin[k] = b;
        out->prob_true[k] = sum_y[b] / (double)cnt[b];
        out->prob_pred[k] = sum_p[b] / (double)cnt[b];
        out->count[k] = cnt[b];
        k++;
    }
    out->n = k;
    out->brier = assay_metric_brier(y01, p, n);
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory for a calibration curve");
    assay_curve_calibration_deinit(out);
done:
    assay_free(sorted);
    assay_free(sum_p);
    assay_free(sum_y);
    assay_free(cnt);
    return rc;
}

void assay_curve_calibration_deinit(assay_calibration_curve *c) {
    if (!c) return;
    assay_free(c->edges);
    assay_free(c->bin);
    assay_free(c->prob_true);
    assay_free(c->prob_pred);
    assay_free(c->count);
    memset(c, 0, sizeof *c);
}

/* ---- cumulative gain and lift ---------------------------------------------------------------- */

int assay_curve_gain(const uint8_t *y01, const double *score, int64_t n, int groups,
                     assay_gain_table *out, assay_error *err) {
    int rc = check_inputs(y01, score, n, out, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    int G = groups > 0 ? groups : 10;
    size_t g = (size_t)G;
    ranked *r = assay_mallocarray((size_t)n, sizeof *r);
    out->groups = G;
    out->rows = assay_mallocarray(g, sizeof(int64_t));
    out->positives = assay_mallocarray(g, sizeof(int64_t));
    out->gain = assay_mallocarray(g, sizeof(double));
    out->cum_lift = assay_mallocarray(g, sizeof(double));
    out->lift = assay_mallocarray(g, sizeof(double));
    if (!r || !out->rows || !out->positives || !out->gain || !out->cum_lift || !out->lift) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory for a gain table");
        goto fail;
    }
    if ((rc = rank_rows(r, score, n, err)) != ASSAY_OK) goto fail;
    int64_t P = 0;
    for (int64_t i = 0; i < n; i++) P += y01[i] != 0;
    double rate = (double)P / (double)n;
    out->base_rate = rate;
    /* numpy.array_split: the first n % G groups get one extra row */
    int64_t base = n / G, extra = n % G, at = 0, crows = 0, cpos = 0;
    for (int k = 0; k < G; k++) {
        int64_t rows = base + (k < extra ? 1 : 0), pos = 0;
        for (int64_t i = at; i < at + rows; i++) pos += y01[r[i].i] != 0;
        at += rows;
        crows += rows;
        cpos += pos;
        out->rows[k] = rows;
        out->positives[k] = pos;
        out->gain[k] = P > 0 ? (double)cpos / (double)P : NAN;
        out->lift[k] = P > 0 && rows > 0 ? ((double)pos / (double)rows) / rate : NAN;
        out->cum_lift[k] = P > 0 && crows > 0 ? ((double)cpos / (double)crows) / rate : NAN;
    }
    assay_free(r);
    return ASSAY_OK;
fail:
    assay_free(r);
    assay_curve_gain_deinit(out);
    return rc;
}

void assay_curve_gain_deinit(assay_gain_table *t) {
    if (!t) return;
    assay_free(t->rows);
    assay_free(t->positives);
    assay_free(t->gain);
    assay_free(t->cum_lift);
    assay_free(t->lift);
    memset(t, 0, sizeof *t);
}

/* ---- permutation importance ------------------------------------------------------------------ */

int assay_permutation_importance(assay_score_fn score, void *ctx, const float *X, int64_t n,
                                 int64_t d, int n_repeats, uint64_t seed, double *mean_out,
                                 double *std_out, double *raw_out, double *baseline_out,
                                 assay_error *err) {
    if (!score || !X || !mean_out || !std_out) return assay_error_set(err, ASSAY_EINVAL, "NULL argument");
    if (n < 1 || d < 1) return assay_error_set(err, ASSAY_EINVAL, "empty design (%lld x %lld)",
                                               (long long)n, (long long)d);
    if (n_repeats < 1) return assay_error_set(err, ASSAY_EINVAL, "n_repeats must be >= 1, got %d", n_repeats);
    if ((uint64_t)n > SIZE_MAX / (uint64_t)d) return assay_error_set(err, ASSAY_EINVAL, "design too large");
    float *S = assay_mallocarray((size_t)n * (size_t)d, sizeof(float));
    int64_t *perm = assay_mallocarray((size_t)n, sizeof(int64_t));
    double *imp = assay_mallocarray((size_t)n_repeats, sizeof(double));
    if (!S || !perm || !imp) {
        assay_free(S);
        assay_free(perm);
        assay_free(imp);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory for permutation importance");
    }
    memcpy(S, X, sizeof(float) * (size_t)n * (size_t)d);
    double base = score(ctx, S, n, d);
    if (baseline_out) *baseline_out = base;
    assay_rng rng;
    assay_rng_seed(&rng, seed);
    for (int64_t j = 0; j < d; j++) {
        for (int r = 0; r < n_repeats; r++) {
            for (int64_t i = 0; i < n; i++) perm[i] = i;
            assay_rng_shuffle_i64(&rng, perm, n);
            for (int64_t i = 0; i < n; i++) S[i * d + j] = X[perm[i] * d + j];
            imp[r] = base - score(ctx, S, n, d);
            if (raw_out) raw_out[j * n_repeats + r] = imp[r];
        }
        for (int64_t i = 0; i < n; i++) S[i * d + j] = X[i * d + j];
        double m = 0, v = 0;
        for (int r = 0; r < n_repeats; r++) m += imp[r];
        m /= n_repeats;
        for (int r = 0; r < n_repeats; r++) v += (imp[r] - m) * (imp[r] - m);
        mean_out[j] = m;
        std_out[j] = sqrt(v / n_repeats);
    }
    assay_free(S);
    assay_free(perm);
    assay_free(imp);
    return ASSAY_OK;
}
