/* eval_internal.h - shared between the eval module's files, never installed. */
#ifndef ASSAY_EVAL_INTERNAL_H
#define ASSAY_EVAL_INTERNAL_H

#include "../internal.h"

/* The i-th scalar field of assay_metrics (fixed order: accuracy, the precision/recall/F1
 * averages, log_loss, roc_auc, average_precision, brier, mae, rmse, r2, mape). Returns 0 past
 * the end. */
int assay__metrics_field(int i, const char **name, double *value, const assay_metrics *m);

#endif
