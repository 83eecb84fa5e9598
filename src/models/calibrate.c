/* calibrate.c - probability calibrators for binary scores: Platt scaling and isotonic
 * regression, with scikit-learn's definitions (declared in include/assay/curves.h). They live
 * with the models because a model applies its saved calibrator when it predicts; the fitting
 * inputs are out-of-fold predictions chosen by the caller.
 *
 * Not here: choosing which rows to calibrate on (cmd_fit uses the cross-validation folds). */
#include <float.h>
#include <stddef.h>

#include "../internal.h"
#include "assay/curves.h"

static int check_inputs(const uint8_t *y01, const double *score, int64_t n, const void *out,
                        assay_error *err) {
    if (!y01 || !score || !out) return assay_error_set(err, ASSAY_EINVAL, "NULL argument");
    if (n < 1) return assay_error_set(err, ASSAY_EINVAL, "no rows");
    return ASSAY_OK;
}

/* ---- calibrators ----------------------------------------------------------------------------- */

/* log(1 + exp(z)) without overflow */
static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* Platt's objective: sum of T softplus(z) + (1 - T) softplus(-z), z = a F + b, which is
 * -(T log P + (1 - T) log(1 - P)) with P = expit(-z) written without cancellation. */
static double platt_loss(const double *F, const double *T, int64_t n, double a, double b) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double z = a * F[i] + b;
        s += T[i] * softplus(z) + (1 - T[i]) * softplus(-z);
    }
    return s;
}

/* Newton's method with backtracking (Lin, Lin & Weng 2007, "A note on Platt's probabilistic
 * outputs"), from scikit-learn's starting point. The tiny ridge keeps the Hessian invertible
 * when every score is equal. */
static void platt_fit(const double *F, const uint8_t *y01, int64_t n, double *T, double *a_out,
                      double *b_out) {
    double prior1 = 0;
    for (int64_t i = 0; i < n; i++) prior1 += y01[i] != 0;
    double prior0 = (double)n - prior1;
    double hi = (prior1 + 1.0) / (prior1 + 2.0), lo = 1.0 / (prior0 + 2.0);
    for (int64_t i = 0; i < n; i++) T[i] = y01[i] ? hi : lo;
    double a = 0.0, b = log((prior0 + 1.0) / (prior1 + 1.0));
    double f = platt_loss(F, T, n, a, b);
    for (int it = 0; it < 100; it++) {
        double ga = 0, gb = 0, haa = 1e-12, hab = 0, hbb = 1e-12;
        for (int64_t i = 0; i < n; i++) {
            double P = 1.0 / (1.0 + exp(a * F[i] + b));
            double d = T[i] - P, w = P * (1 - P);
            ga += d * F[i];
            gb += d;
            haa += w * F[i] * F[i];
            hab += w * F[i];
            hbb += w;
        }
        double det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        double da = -(hbb * ga - hab * gb) / det, db = -(haa * gb - hab * ga) / det;
        double gd = ga * da + gb * db;
        if (!(gd < 0)) break; /* at the optimum to rounding */
        double t = 1.0, fn = f;
        while (t >= 1e-10) {
            fn = platt_loss(F, T, n, a + t * da, b + t * db);
            if (fn <= f + 1e-4 * t * gd) break;
            t *= 0.5;
        }
        if (t < 1e-10) break;
        a += t * da;
        b += t * db;
        f = fn;
        if (fabs(t * da) <= 1e-15 * (1 + fabs(a)) && fabs(t * db) <= 1e-15 * (1 + fabs(b))) break;
    }
    *a_out = a;
    *b_out = b;
}

typedef struct xy {
    double x, y;
} xy;

static int cmp_xy(const void *a, const void *b) {
    const xy *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

/* IsotonicRegression(increasing=True).fit as sklearn/isotonic.py and _isotonic.pyx do it:
 * lexsort by (x, y); _make_unique merges rows whose x is within eps = 1e-15 (numpy's
 * finfo(float64).resolution) of the first x of the run into their mean y with weight = count;
 * _inplace_contiguous_isotonic_regression (pool adjacent violators, with backtracking);
 * then every point whose y equals both neighbours' is dropped. Returns the breakpoint count;
 * x, y (n) are overwritten with the breakpoints. */
static int64_t isotonic_fit(xy *p, int64_t n, double *x, double *y, double *w, int64_t *target) {
    qsort(p, (size_t)n, sizeof *p, cmp_xy);
    const double eps = 1e-15;
    int64_t m = 0;
    double cx = p[0].x, cy = 0, cw = 0;
    for (int64_t j = 0; j < n; j++) {
        if (p[j].x - cx >= eps) {
            x[m] = cx;
            w[m] = cw;
            y[m] = cy / cw;
            m++;
            cx = p[j].x;
            cw = 1;
            cy = p[j].y;
        } else {
            cw += 1;
            cy += p[j].y;
        }
    }
    x[m] = cx;
    w[m] = cw;
    y[m] = cy / cw;
    m++;
    /* pool adjacent violators; target[i] marks the end of the block starting at i and back */
    for (int64_t i = 0; i < m; i++) target[i] = i;
    int64_t i = 0;
    while (i < m) {
        int64_t k = target[i] + 1;
        if (k == m) break;
        if (y[i] < y[k]) {
            i = k;
            continue;
        }
        double sum_wy = w[i] * y[i], sum_w = w[i];
        for (;;) {
            double prev_y = y[k];
            sum_wy += w[k] * y[k];
            sum_w += w[k];
            k = target[k] + 1;
            if (k == m || prev_y < y[k]) {
                y[i] = sum_wy / sum_w;
                w[i] = sum_w;
                target[i] = k - 1;
                target[k - 1] = i;
                if (i > 0) i = target[i - 1];
                break;
            }
        }
    }
    for (i = 0; i < m;) {
        int64_t k = target[i] + 1;
        for (int64_t j = i + 1; j < k; j++) y[j] = y[i];
        i = k;
    }
    /* trim_duplicates */
    int64_t out = 0;
    for (int64_t j = 0; j < m; j++) {
        int keep = j == 0 || j == m - 1 || y[j] != y[j - 1] || y[j] != y[j + 1];
        if (!keep) continue;
        w[out] = x[j]; /* w is free now: it holds the kept x until the copy below */
        target[out] = j;
        out++;
    }
    for (int64_t j = 0; j < out; j++) {
        x[j] = w[j];
        y[j] = y[target[j]]; /* target[j] >= j, so y[target[j]] is not yet overwritten */
    }
    return out;
}

static assay_calibrator *calibrator_alloc(assay_calibration_method method, int64_t n) {
    assay_calibrator *c = assay_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->method = method;
    if (n > 0) {
        c->x = assay_mallocarray((size_t)n, sizeof(double));
        c->y = assay_mallocarray((size_t)n, sizeof(double));
        if (!c->x || !c->y) {
            assay_calibrator_free(c);
            return NULL;
        }
    }
    return c;
}

int assay_calibrator_fit(assay_calibration_method method, const uint8_t *y01,
                         const double *score, int64_t n, assay_calibrator **out,
                         assay_error *err) {
    if (out) *out = NULL;
    int rc = check_inputs(y01, score, n, out, err);
    if (rc) return rc;
    if (method != ASSAY_CALIBRATION_PLATT && method != ASSAY_CALIBRATION_ISOTONIC)
        return assay_error_set(err, ASSAY_EINVAL, "unknown calibration method %d", (int)method);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(score[i]))
            return assay_error_set(err, ASSAY_EINVAL, "score of row %lld is %g", (long long)i, score[i]);
    double *T = NULL, *w = NULL;
    int64_t *target = NULL;
    xy *p = NULL;
    assay_calibrator *c = NULL;
    if (method == ASSAY_CALIBRATION_PLATT) {
        if (!(T = assay_mallocarray((size_t)n, sizeof(double)))) goto nomem;
        if (!(c = calibrator_alloc(method, 0))) goto nomem;
        platt_fit(score, y01, n, T, &c->a, &c->b);
    } else {
        p = assay_mallocarray((size_t)n, sizeof *p);
        w = assay_mallocarray((size_t)n, sizeof *w);
        target = assay_mallocarray((size_t)n, sizeof *target);
        if (!p || !w || !target || !(c = calibrator_alloc(method, n))) goto nomem;
        for (int64_t i = 0; i < n; i++) {
            p[i].x = score[i];
            p[i].y = y01[i] ? 1.0 : 0.0;
        }
        c->n = isotonic_fit(p, n, c->x, c->y, w, target);
    }
    *out = c;
    goto done;
nomem:
    assay_calibrator_free(c);
    rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory fitting a calibrator on %lld rows",
                         (long long)n);
done:
    assay_free(T);
    assay_free(p);
    assay_free(w);
    assay_free(target);
    return rc;
}

int assay_calibrator_new_platt(double a, double b, assay_calibrator **out, assay_error *err) {
    if (!out) return assay_error_set(err, ASSAY_EINVAL, "NULL argument");
    *out = NULL;
    if (!isfinite(a) || !isfinite(b))
        return assay_error_set(err, ASSAY_EINVAL, "Platt parameters must be finite (a %g, b %g)", a, b);
    assay_calibrator *c = calibrator_alloc(ASSAY_CALIBRATION_PLATT, 0);
    if (!c) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    c->a = a;
    c->b = b;
    *out = c;
    return ASSAY_OK;
}

int assay_calibrator_new_isotonic(const double *x, const double *y, int64_t n,
                                  assay_calibrator **out, assay_error *err) {
    if (!out || !x || !y) return assay_error_set(err, ASSAY_EINVAL, "NULL argument");
    *out = NULL;
    if (n < 1) return assay_error_set(err, ASSAY_EINVAL, "isotonic calibrator without breakpoints");
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return assay_error_set(err, ASSAY_EINVAL, "isotonic breakpoint %lld is not finite", (long long)i);
        if (i > 0 && !(x[i] > x[i - 1]))
            return assay_error_set(err, ASSAY_EINVAL,
                                   "isotonic breakpoints must be strictly increasing in x (at %lld)",
                                   (long long)i);
    }
    assay_calibrator *c = calibrator_alloc(ASSAY_CALIBRATION_ISOTONIC, n);
    if (!c) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    memcpy(c->x, x, sizeof(double) * (size_t)n);
    memcpy(c->y, y, sizeof(double) * (size_t)n);
    c->n = n;
    *out = c;
    return ASSAY_OK;
}

void assay_calibrator_apply(const assay_calibrator *c, const double *score, int64_t n,
                            double *out) {
    ASSAY_ASSERT(c && (n == 0 || (score && out)));
    if (c->method == ASSAY_CALIBRATION_PLATT) {
        for (int64_t i = 0; i < n; i++) out[i] = 1.0 / (1.0 + exp(c->a * score[i] + c->b));
        return;
    }
    const double *x = c->x, *y = c->y;
    int64_t m = c->n;
    for (int64_t i = 0; i < n; i++) {
        double t = score[i];
        if (isnan(t)) {
            out[i] = NAN;
            continue;
        }
        if (m == 1) {
            out[i] = y[0];
            continue;
        }
        t = t < x[0] ? x[0] : t > x[m - 1] ? x[m - 1] : t;
        /* scipy's interp1d: hi = searchsorted(x, t, left) clipped to [1, m-1] */
        int64_t lo = 0, hi = m;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (x[mid] < t) lo = mid + 1;
            else hi = mid;
        }
        hi = lo < 1 ? 1 : lo > m - 1 ? m - 1 : lo;
        lo = hi - 1;
        double slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
        out[i] = slope * (t - x[lo]) + y[lo];
    }
}

void assay_calibrator_free(assay_calibrator *c) {
    if (!c) return;
    assay_free(c->x);
    assay_free(c->y);
    assay_free(c);
}

