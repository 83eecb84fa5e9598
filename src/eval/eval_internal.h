/* eval_internal.h - shared between the eval module's files, never installed. */
#ifndef ASSAY_EVAL_INTERNAL_H
#define ASSAY_EVAL_INTERNAL_H

#include "../internal.h"

/* The i-th scalar field of assay_metrics (fixed order: accuracy, the precision/recall/F1
 * averages, log_loss, roc_auc, average_precision, brier, mae, rmse, r2, mape). Returns 0 past
 * the end. */
int assay__metrics_field(int i, const char **name, double *value, const assay_metrics *m);

/* Neumaier's compensated sum: sums of many terms (squared errors, a profit curve's per-row
 * values) stay within a few ulps of the exactly rounded value, as numpy's pairwise sum does and
 * a naive loop does not. */
typedef struct ksum {
    double s, c;
} ksum;

static inline void ksum_add(ksum *k, double x) {
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x)) k->c += (k->s - t) + x;
    else k->c += (x - t) + k->s;
    k->s = t;
}

static inline double ksum_get(const ksum *k) { return k->s + k->c; }

#endif
