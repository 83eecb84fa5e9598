/* names.c - which scalar metrics each task reports, and their direction. */
#include "../internal.h"

const char *const *assay_metrics_names(assay_task task) {
    static const char *const binary[] = {"roc_auc", "accuracy", "f1_macro", "log_loss",
                                         "average_precision", "brier", NULL};
    static const char *const multiclass[] = {"accuracy", "f1_macro", "log_loss", NULL};
    static const char *const regression[] = {"rmse", "mae", "r2", "mape", NULL};
    static const char *const multilabel[] = {"f1_micro", "f1_macro", "accuracy", "hamming_loss",
                                             "precision_at_1", "roc_auc", "log_loss", NULL};
    switch (task) {
    case ASSAY_TASK_BINARY: return binary;
    case ASSAY_TASK_MULTICLASS: return multiclass;
    case ASSAY_TASK_REGRESSION: return regression;
    case ASSAY_TASK_MULTILABEL: return multilabel;
    default: return regression + 4; /* empty list */
    }
}

int assay_metric_higher_is_better(const char *name) {
    static const char *const lower[] = {"log_loss", "brier", "rmse", "mae", "mape", "hamming_loss"};
    for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++)
        if (strcmp(name, lower[i]) == 0) return 0;
    return 1;
}
