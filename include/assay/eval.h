/* eval.h - metrics with scikit-learn's definitions, the classification report and the
 * confusion matrix.
 *
 * Classification inputs: y holds class indices 0..K-1 as doubles; proba is n x K (rows sum to 1).
 * Multilabel: y is n x K indicators and out n x K independent probabilities; a label is predicted
 * when its probability is at least 0.5 (scikit-learn's metrics on label-indicator arrays).
 * Binary metrics (ROC AUC, average precision, Brier) score the positive class. Regression: y
 * and yhat are values. A metric that is undefined for the data (ROC AUC with one class present)
 * is NAN, never a crash. */
#ifndef ASSAY_EVAL_H
#define ASSAY_EVAL_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- single metrics ---------------------------------------------------------------------- */

/* y01: 1 = positive. Ties in score handled as scikit-learn does (trapezoid over distinct
 * thresholds). NAN when only one class is present. */
double assay_metric_roc_auc(const uint8_t *y01, const double *score, int64_t n);
/* scikit-learn's average_precision_score (step-wise, no interpolation). */
double assay_metric_average_precision(const uint8_t *y01, const double *score, int64_t n);
double assay_metric_brier(const uint8_t *y01, const double *p, int64_t n);
/* Multiclass log loss; probabilities clipped to [eps, 1-eps] with eps = DBL_EPSILON and rows
 * renormalised, as scikit-learn does. */
double assay_metric_log_loss(const double *y, const double *proba, int64_t n, int K);
double assay_metric_mae(const double *y, const double *yhat, int64_t n);
double assay_metric_rmse(const double *y, const double *yhat, int64_t n);
double assay_metric_r2(const double *y, const double *yhat, int64_t n);
/* scikit-learn's mean_absolute_percentage_error: |y - yhat| / max(|y|, DBL_EPSILON). */
double assay_metric_mape(const double *y, const double *yhat, int64_t n);

/* ---- all metrics of a task --------------------------------------------------------------- */

typedef struct assay_class_stats {
    double precision, recall, f1;
    int64_t support;
} assay_class_stats;

typedef struct assay_metrics {
    assay_task task;
    int nclasses;               /* K; 0 for regression */
    int positive;               /* binary */
    int64_t n;
    /* classification */
    double accuracy;
    double precision_macro, recall_macro, f1_macro;
    double precision_micro, recall_micro, f1_micro;
    double precision_weighted, recall_weighted, f1_weighted;
    double log_loss, roc_auc, average_precision, brier; /* last three: binary only, else NAN */
    /* multilabel (else NAN): accuracy is the subset accuracy (every label right); hamming_loss the
     * share of wrong (row, label) cells; precision_at_1 the share of rows whose most probable label
     * is one of theirs (fastText's P@1); log_loss the mean binary cross-entropy per label;
     * roc_auc and average_precision the mean over labels that have both classes; confusion NULL */
    double hamming_loss, precision_at_1;
    assay_class_stats *per_class; /* K entries */
    int64_t *confusion;           /* K x K, rows = true class, columns = predicted */
    /* regression */
    double mae, rmse, r2, mape;
} assay_metrics;

/* pred: decided classes (NULL = argmax of out; unused for multilabel). out: n x K probabilities,
 * or n values. */
int assay_metrics_compute(assay_task task, int nclasses, int positive, const double *y,
                          const double *out, const int32_t *pred, int64_t n, assay_metrics *m,
                          assay_error *err);
void assay_metrics_deinit(assay_metrics *m);

/* The scalar metrics reported for a task, NULL-terminated: for classification "accuracy",
 * "f1_macro", "log_loss" (+ "roc_auc", "average_precision", "brier" for binary); for
 * regression "rmse", "mae", "r2", "mape". */
const char *const *assay_metrics_names(assay_task task);
/* A scalar metric by name; NAN if unknown or undefined. */
double assay_metrics_get(const assay_metrics *m, const char *name);
/* 1 if larger is better for this metric name. */
int assay_metric_higher_is_better(const char *name);

/* Text: scikit-learn's classification_report layout plus the confusion matrix (classification),
 * or the regression metrics. labels: K names (NULL for regression). */
int assay_metrics_format(const assay_metrics *m, const char *const *labels, assay_buf *out);
/* JSON object text: scalar metrics, per-class stats and confusion matrix. assay_free it. */
char *assay_metrics_to_json(const assay_metrics *m, const char *const *labels);

#ifdef __cplusplus
}
#endif
#endif
