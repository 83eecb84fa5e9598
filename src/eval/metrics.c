/* metrics.c - scikit-learn 1.2's metrics: ROC AUC, average precision, Brier, log loss, MAE,
 * RMSE, R2, MAPE, and assay_metrics_compute (accuracy, per-class precision/recall/F1, their
 * macro/micro/weighted averages, the confusion matrix).
 *
 * Definitions follow sklearn/metrics/_ranking.py, _classification.py and _regression.py,
 * including their edge cases (zero division gives 0, R2 with a constant target, average
 * precision without positives). It does not do sample weights, multilabel targets or curves;
 * text and JSON output live in report.c. */
#include <float.h>
#include <stddef.h>

#include "eval_internal.h"


/* ---- ranking metrics ------------------------------------------------------------------------ */

typedef struct scored {
    double s;
    int pos;
} scored;

static int cmp_desc(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* p (n): pairs sorted by score, descending. Walks the distinct thresholds as
 * sklearn's _binary_clf_curve does: at the end of each run of equal scores, (fp, tp) is a
 * point of the curve. */

/* ROC AUC: trapezoid over the points (0,0), (fp_i, tp_i), ... scaled by 1/(P N). Equal scores
 * form one step, which gives ties half credit exactly as sklearn's roc_curve + auc. */
static double roc_auc_sorted(const scored *p, int64_t n) {
    double tp = 0, fp = 0, tp_prev = 0, fp_prev = 0, area2 = 0;
    for (int64_t i = 0; i < n; i++) {
        if (p[i].pos) tp += 1;
        else fp += 1;
        if (i == n - 1 || p[i + 1].s != p[i].s) {
            area2 += (fp - fp_prev) * (tp + tp_prev);
            tp_prev = tp;
            fp_prev = fp;
        }
    }
    if (tp == 0 || fp == 0) return NAN; /* one class only: undefined */
    return area2 / (2.0 * tp * fp);
}

/* Average precision: sum over thresholds of (R_n - R_{n-1}) P_n. Without positives sklearn
 * sets recall to 1 everywhere, which makes the sum P_0 * 1 = 0. */
static double average_precision_sorted(const scored *p, int64_t n) {
    double npos = 0;
    for (int64_t i = 0; i < n; i++) npos += p[i].pos;
    if (npos == 0) return 0.0;
    double tp = 0, fp = 0, tp_prev = 0;
    ksum ap = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        if (p[i].pos) tp += 1;
        else fp += 1;
        if (i == n - 1 || p[i + 1].s != p[i].s) {
            ksum_add(&ap, (tp - tp_prev) / npos * (tp / (tp + fp)));
            tp_prev = tp;
        }
    }
    return ksum_get(&ap);
}

/* Fills p from (y01, score) and sorts it; returns 0, or -1 when a score is NaN. */
static int scored_fill(scored *p, const uint8_t *y01, const double *score, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i])) return -1;
        p[i].s = score[i];
        p[i].pos = y01[i] != 0;
    }
    qsort(p, (size_t)n, sizeof *p, cmp_desc);
    return 0;
}

static double ranking_metric(const uint8_t *y01, const double *score, int64_t n, int which) {
    if (!y01 || !score || n <= 0) return NAN;
    scored *p = assay_mallocarray((size_t)n, sizeof *p);
    if (!p) return NAN;
    double v = NAN;
    if (scored_fill(p, y01, score, n) == 0)
        v = which == 0 ? roc_auc_sorted(p, n) : average_precision_sorted(p, n);
    assay_free(p);
    return v;
}

double assay_metric_roc_auc(const uint8_t *y01, const double *score, int64_t n) {
    return ranking_metric(y01, score, n, 0);
}

double assay_metric_average_precision(const uint8_t *y01, const double *score, int64_t n) {
    return ranking_metric(y01, score, n, 1);
}

/* ---- probability and regression metrics --------------------------------------------------- */

double assay_metric_brier(const uint8_t *y01, const double *p, int64_t n) {
    if (!y01 || !p || n <= 0) return NAN;
    ksum k = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double d = (y01[i] ? 1.0 : 0.0) - p[i];
        ksum_add(&k, d * d);
    }
    return ksum_get(&k) / (double)n;
}

/* proba (n, K). sklearn: clip to [eps, 1 - eps], divide each row by its sum, mean of
 * -log p[true]. A label that is not a class index makes the loss undefined (NAN). */
double assay_metric_log_loss(const double *y, const double *proba, int64_t n, int K) {
    if (!y || !proba || n <= 0 || K < 1) return NAN;
    const double eps = DBL_EPSILON, hi = 1.0 - DBL_EPSILON;
    ksum k = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double yi = y[i];
        if (!(yi >= 0 && yi < K) || yi != floor(yi)) return NAN;
        const double *row = proba + i * (int64_t)K;
        double sum = 0;
        for (int c = 0; c < K; c++) sum += ASSAY_MIN(ASSAY_MAX(row[c], eps), hi);
        double pt = ASSAY_MIN(ASSAY_MAX(row[(int)yi], eps), hi) / sum;
        ksum_add(&k, -log(pt));
    }
    return ksum_get(&k) / (double)n;
}

double assay_metric_mae(const double *y, const double *yhat, int64_t n) {
    if (!y || !yhat || n <= 0) return NAN;
    ksum k = {0, 0};
    for (int64_t i = 0; i < n; i++) ksum_add(&k, fabs(y[i] - yhat[i]));
    return ksum_get(&k) / (double)n;
}

double assay_metric_rmse(const double *y, const double *yhat, int64_t n) {
    if (!y || !yhat || n <= 0) return NAN;
    ksum k = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double d = y[i] - yhat[i];
        ksum_add(&k, d * d);
    }
    return sqrt(ksum_get(&k) / (double)n);
}

/* sklearn's r2_score: NAN below two samples; with a constant target (SS_tot == 0) 1.0 for a
 * perfect fit, else 0.0. */
double assay_metric_r2(const double *y, const double *yhat, int64_t n) {
    if (!y || !yhat || n < 2) return NAN;
    ksum ks = {0, 0};
    for (int64_t i = 0; i < n; i++) ksum_add(&ks, y[i]);
    double mean = ksum_get(&ks) / (double)n;
    ksum res = {0, 0}, tot = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double d = y[i] - yhat[i], e = y[i] - mean;
        ksum_add(&res, d * d);
        ksum_add(&tot, e * e);
    }
    double num = ksum_get(&res), den = ksum_get(&tot);
    if (den != 0) return 1.0 - num / den;
    return num == 0 ? 1.0 : 0.0;
}

double assay_metric_mape(const double *y, const double *yhat, int64_t n) {
    if (!y || !yhat || n <= 0) return NAN;
    ksum k = {0, 0};
    for (int64_t i = 0; i < n; i++) ksum_add(&k, fabs(y[i] - yhat[i]) / ASSAY_MAX(fabs(y[i]), DBL_EPSILON));
    return ksum_get(&k) / (double)n;
}

/* ---- all metrics of a task ------------------------------------------------------------------ */

static void metrics_reset(assay_metrics *m, assay_task task, int64_t n) {
    memset(m, 0, sizeof *m);
    m->task = task;
    m->n = n;
    double *const all[] = {&m->accuracy, &m->precision_macro, &m->recall_macro, &m->f1_macro,
                           &m->precision_micro, &m->recall_micro, &m->f1_micro,
                           &m->precision_weighted, &m->recall_weighted, &m->f1_weighted,
                           &m->log_loss, &m->roc_auc, &m->average_precision, &m->brier,
                           &m->hamming_loss, &m->precision_at_1, &m->mae, &m->rmse, &m->r2, &m->mape};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) *all[i] = NAN;
}

void assay_metrics_deinit(assay_metrics *m) {
    if (!m) return;
    assay_free(m->per_class);
    assay_free(m->confusion);
    m->per_class = NULL;
    m->confusion = NULL;
}

/* sklearn's F-score from precision and recall: 0 when both are 0. */
static double f1_of(double p, double r) { return p + r == 0 ? 0.0 : 2 * p * r / (p + r); }

/* One class's precision, recall, F1 and support from its counts (zero division -> 0, sklearn's
 * default "warn"), added to the plain sums sum[3] and the support-weighted sums wsum[3]. */
static void class_stats(assay_class_stats *s, int64_t tp, int64_t npred, int64_t ntrue, double sum[3], double wsum[3]) {
    s->precision = npred ? (double)tp / (double)npred : 0.0;
    s->recall = ntrue ? (double)tp / (double)ntrue : 0.0;
    s->f1 = f1_of(s->precision, s->recall);
    s->support = ntrue;
    const double v[3] = {s->precision, s->recall, s->f1};
    for (int j = 0; j < 3; j++) sum[j] += v[j], wsum[j] += v[j] * (double)ntrue;
}

/* The macro averages (sums over K classes) and the support-weighted ones (over total support). */
static void class_averages(assay_metrics *m, int K, const double sum[3], const double wsum[3], int64_t support) {
    m->precision_macro = sum[0] / K;
    m->recall_macro = sum[1] / K;
    m->f1_macro = sum[2] / K;
    m->precision_weighted = support ? wsum[0] / (double)support : 0.0;
    m->recall_weighted = support ? wsum[1] / (double)support : 0.0;
    m->f1_weighted = support ? wsum[2] / (double)support : 0.0;
}

static int classification(assay_metrics *m, int K, int positive, const double *y,
                          const double *out, const int32_t *pred, int64_t n, assay_error *err) {
    if (K < 2) return assay_error_set(err, ASSAY_EINVAL, "metrics: nclasses %d: need at least 2 classes", K);
    if (m->task == ASSAY_TASK_BINARY && K != 2)
        return assay_error_set(err, ASSAY_EINVAL, "metrics: binary task with nclasses %d (expected 2)", K);
    if (m->task == ASSAY_TASK_BINARY && (positive < 0 || positive > 1))
        return assay_error_set(err, ASSAY_EINVAL, "metrics: positive class %d is not 0 or 1", positive);
    if (!out && !pred)
        return assay_error_set(err, ASSAY_EINVAL, "metrics: neither probabilities nor decided classes given");
    for (int64_t i = 0; i < n; i++) {
        if (!(y[i] >= 0 && y[i] < K) || y[i] != floor(y[i]))
            return assay_error_set(err, ASSAY_EINVAL, "metrics: row %lld: label %g is not a class index in 0..%d",
                                   (long long)i, y[i], K - 1);
        if (pred && (pred[i] < 0 || pred[i] >= K))
            return assay_error_set(err, ASSAY_EINVAL, "metrics: row %lld: predicted class %d is not in 0..%d",
                                   (long long)i, (int)pred[i], K - 1);
    }
    m->nclasses = K;
    m->positive = m->task == ASSAY_TASK_BINARY ? positive : 0;
    m->per_class = assay_calloc((size_t)K, sizeof *m->per_class);
    m->confusion = assay_calloc((size_t)K * (size_t)K, sizeof *m->confusion);
    if (!m->per_class || !m->confusion) return assay_error_set(err, ASSAY_ENOMEM, "metrics: out of memory");

    /* confusion matrix; argmax ties go to the lowest index (numpy's argmax) */
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        int t = (int)y[i], p;
        if (pred) {
            p = pred[i];
        } else {
            const double *row = out + i * (int64_t)K;
            p = 0;
            for (int c = 1; c < K; c++)
                if (row[c] > row[p] || (isnan(row[p]) && !isnan(row[c]))) p = c;
        }
        m->confusion[(int64_t)t * K + p]++;
        correct += t == p;
    }
    m->accuracy = (double)correct / (double)n;

    /* per class from the confusion matrix; the supports sum to n */
    int64_t tp_all = 0;
    double sum[3] = {0, 0, 0}, wsum[3] = {0, 0, 0};
    for (int k = 0; k < K; k++) {
        int64_t tp = m->confusion[(int64_t)k * K + k], true_sum = 0, pred_sum = 0;
        for (int c = 0; c < K; c++) {
            true_sum += m->confusion[(int64_t)k * K + c];
            pred_sum += m->confusion[(int64_t)c * K + k];
        }
        class_stats(&m->per_class[k], tp, pred_sum, true_sum, sum, wsum);
        tp_all += tp;
    }
    class_averages(m, K, sum, wsum, n);
    /* single-label over all classes: summed pred and true counts both equal n */
    m->precision_micro = m->recall_micro = (double)tp_all / (double)n;
    m->f1_micro = f1_of(m->precision_micro, m->recall_micro);

    if (!out) return ASSAY_OK;
    m->log_loss = assay_metric_log_loss(y, out, n, K);
    if (m->task != ASSAY_TASK_BINARY) return ASSAY_OK;
    scored *p = assay_mallocarray((size_t)n, sizeof *p);
    if (!p) return assay_error_set(err, ASSAY_ENOMEM, "metrics: out of memory");
    ksum brier = {0, 0};
    int has_nan = 0;
    for (int64_t i = 0; i < n; i++) {
        p[i].s = out[i * 2 + positive];
        p[i].pos = (int)y[i] == positive;
        has_nan |= isnan(p[i].s);
        double d = (double)p[i].pos - p[i].s;
        ksum_add(&brier, d * d);
    }
    m->brier = ksum_get(&brier) / (double)n;
    if (!has_nan) {
        qsort(p, (size_t)n, sizeof *p, cmp_desc);
        m->roc_auc = roc_auc_sorted(p, n);
        m->average_precision = average_precision_sorted(p, n);
    }
    assay_free(p);
    return ASSAY_OK;
}

/* Label-indicator y and probabilities out, n x K; a label is predicted at p >= 0.5. */
static int multilabel(assay_metrics *m, int K, const double *y, const double *out, int64_t n, assay_error *err) {
    if (K < 2) return assay_error_set(err, ASSAY_EINVAL, "metrics: nclasses %d: need at least 2 labels", K);
    if (!out) return assay_error_set(err, ASSAY_EINVAL, "metrics: multilabel needs probabilities");
    for (int64_t i = 0; i < n * K; i++)
        if (y[i] != 0 && y[i] != 1)
            return assay_error_set(err, ASSAY_EINVAL, "metrics: row %lld: label indicator %g is not 0 or 1",
                                   (long long)(i / K), y[i]);
    m->nclasses = K;
    m->per_class = assay_calloc((size_t)K, sizeof *m->per_class);
    int64_t *cnt = assay_calloc((size_t)K * 3, sizeof *cnt); /* per label: tp, predicted, true */
    scored *p = assay_mallocarray((size_t)n, sizeof *p);
    int rc = m->per_class && cnt && p ? ASSAY_OK : assay_error_set(err, ASSAY_ENOMEM, "metrics: out of memory");
    int64_t exact = 0, wrong = 0, top_right = 0;
    ksum ll = {0, 0};
    for (int64_t i = 0; i < n && !rc; i++) {
        const double *yr = y + i * K, *pr = out + i * K;
        int all = 1, top = 0;
        for (int k = 0; k < K; k++) {
            int t = yr[k] != 0, h = pr[k] >= 0.5;
            cnt[3 * k] += t && h, cnt[3 * k + 1] += h, cnt[3 * k + 2] += t;
            all &= t == h, wrong += t != h;
            if (pr[k] > pr[top]) top = k;
            double q = ASSAY_MIN(ASSAY_MAX(pr[k], DBL_EPSILON), 1 - DBL_EPSILON);
            ksum_add(&ll, -(t ? log(q) : log1p(-q)));
        }
        exact += all;
        top_right += yr[top] != 0;
    }
    int64_t tps = 0, npred = 0, ntrue = 0;
    double sum[3] = {0, 0, 0}, wsum[3] = {0, 0, 0}, auc = 0, ap = 0;
    int nauc = 0;
    for (int k = 0; k < K && !rc; k++) {
        assay_class_stats *s = &m->per_class[k];
        class_stats(s, cnt[3 * k], cnt[3 * k + 1], cnt[3 * k + 2], sum, wsum);
        tps += cnt[3 * k], npred += cnt[3 * k + 1], ntrue += cnt[3 * k + 2];
        int has_nan = 0;
        for (int64_t i = 0; i < n; i++) {
            p[i].s = out[i * K + k];
            p[i].pos = y[i * K + k] != 0;
            has_nan |= isnan(p[i].s);
        }
        if (s->support == 0 || s->support == n || has_nan) continue;
        qsort(p, (size_t)n, sizeof *p, cmp_desc);
        auc += roc_auc_sorted(p, n);
        ap += average_precision_sorted(p, n);
        nauc++;
    }
    if (!rc) {
        m->accuracy = (double)exact / (double)n;
        m->hamming_loss = (double)wrong / ((double)n * K);
        m->precision_at_1 = (double)top_right / (double)n;
        m->log_loss = ksum_get(&ll) / ((double)n * K);
        class_averages(m, K, sum, wsum, ntrue);
        m->precision_micro = npred ? (double)tps / (double)npred : 0.0;
        m->recall_micro = ntrue ? (double)tps / (double)ntrue : 0.0;
        m->f1_micro = f1_of(m->precision_micro, m->recall_micro);
        if (nauc) m->roc_auc = auc / nauc, m->average_precision = ap / nauc;
    }
    assay_free(cnt);
    assay_free(p);
    return rc;
}

int assay_metrics_compute(assay_task task, int nclasses, int positive, const double *y,
                          const double *out, const int32_t *pred, int64_t n, assay_metrics *m,
                          assay_error *err) {
    if (!m) return assay_error_set(err, ASSAY_EINVAL, "metrics: no result structure given");
    metrics_reset(m, task, n);
    if (n <= 0) return assay_error_set(err, ASSAY_EINVAL, "metrics: no rows to evaluate (n = %lld)", (long long)n);
    if (!y) return assay_error_set(err, ASSAY_EINVAL, "metrics: no true values given");
    int rc = ASSAY_OK;
    switch (task) {
    case ASSAY_TASK_REGRESSION:
        if (!out) return assay_error_set(err, ASSAY_EINVAL, "metrics: no predicted values given");
        m->mae = assay_metric_mae(y, out, n);
        m->rmse = assay_metric_rmse(y, out, n);
        m->r2 = assay_metric_r2(y, out, n);
        m->mape = assay_metric_mape(y, out, n);
        return ASSAY_OK;
    case ASSAY_TASK_BINARY:
    case ASSAY_TASK_MULTICLASS:
        rc = classification(m, nclasses, positive, y, out, pred, n, err);
        break;
    case ASSAY_TASK_MULTILABEL:
        rc = multilabel(m, nclasses, y, out, n, err);
        break;
    default:
        return assay_error_set(err, ASSAY_EINVAL, "metrics: task %d is not binary, multiclass or regression", (int)task);
    }
    if (rc) assay_metrics_deinit(m);
    return rc;
}

/* ---- by name ------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t off;
} metric_fields[] = {
#define F(x) {#x, offsetof(assay_metrics, x)}
    F(accuracy), F(precision_macro), F(recall_macro), F(f1_macro), F(precision_micro),
    F(recall_micro), F(f1_micro), F(precision_weighted), F(recall_weighted), F(f1_weighted),
    F(log_loss), F(roc_auc), F(average_precision), F(brier), F(hamming_loss), F(precision_at_1), F(mae), F(rmse), F(r2), F(mape),
#undef F
};

double assay_metrics_get(const assay_metrics *m, const char *name) {
    if (!m || !name) return NAN;
    for (size_t i = 0; i < sizeof metric_fields / sizeof metric_fields[0]; i++)
        if (strcmp(name, metric_fields[i].name) == 0)
            return *(const double *)((const char *)m + metric_fields[i].off);
    return NAN;
}

/* Used by report.c: the scalar fields in a fixed order. */
int assay__metrics_field(int i, const char **name, double *value, const assay_metrics *m) {
    if (i < 0 || (size_t)i >= sizeof metric_fields / sizeof metric_fields[0]) return 0;
    *name = metric_fields[i].name;
    *value = *(const double *)((const char *)m + metric_fields[i].off);
    return 1;
}
