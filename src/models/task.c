/* task.c - task names and fit option defaults. */
#include "../internal.h"

const char *assay_task_name(assay_task t) {
    switch (t) {
    case ASSAY_TASK_AUTO: return "auto";
    case ASSAY_TASK_BINARY: return "binary";
    case ASSAY_TASK_MULTICLASS: return "multiclass";
    case ASSAY_TASK_REGRESSION: return "regression";
    case ASSAY_TASK_MULTILABEL: return "multilabel";
    }
    return "unknown";
}

int assay_task_from_name(const char *s, assay_task *out) {
    static const assay_task all[] = {ASSAY_TASK_AUTO, ASSAY_TASK_BINARY, ASSAY_TASK_MULTICLASS,
                                     ASSAY_TASK_REGRESSION, ASSAY_TASK_MULTILABEL};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, assay_task_name(all[i])) == 0) {
            *out = all[i];
            return ASSAY_OK;
        }
    }
    if (strcmp(s, "classification") == 0) {
        *out = ASSAY_TASK_AUTO; /* resolved from the number of classes */
        return ASSAY_OK;
    }
    return ASSAY_EINVAL;
}

void assay_fit_options_init(assay_fit_options *o) {
    memset(o, 0, sizeof *o);
    o->task = ASSAY_TASK_AUTO;
    assay_prep_options_init(&o->prep);
    o->seed = 42;
}

int assay_target_width(assay_task task, int nclasses) {
    return task == ASSAY_TASK_MULTILABEL ? nclasses : 1;
}
