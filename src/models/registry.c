/* registry.c - the table of estimators and the public registry queries of model.h.
 *
 * Adding an estimator is one line in the table below. It does not create or fit anything. */
#include "estimator.h"

static const assay_estimator_vt *const registry[] = {
    &assay__logreg_vt,
    &assay__linear_vt,
    &assay__ridge_vt,
    &assay__gbdt_vt,
    &assay__mlp_vt,
    &assay__cnn_vt,
    &assay__textclf_vt,
    &assay__nb_vt,
    &assay__nblr_vt,
    &assay__svm_vt,
    &assay__bert_vt,
    &assay__ensemble_vt,
};

#define NKINDS ((int)(sizeof registry / sizeof registry[0]))

const assay_estimator_vt *assay__estimator_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < NKINDS; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

int assay_model_kind_count(void) { return NKINDS; }

const char *assay_model_kind_name(int i) {
    return i >= 0 && i < NKINDS ? registry[i]->name : NULL;
}

const char *assay_model_kind_summary(int i) {
    return i >= 0 && i < NKINDS ? registry[i]->summary : NULL;
}

int assay_model_kind_supports(const char *kind, assay_task task) {
    const assay_estimator_vt *vt = assay__estimator_find(kind);
    if (!vt) return -1;
    if (task == ASSAY_TASK_AUTO) return 1;
    return assay__vt_supports(vt, task);
}

const char *const *assay_model_kind_grid(int i) {
    return i >= 0 && i < NKINDS ? registry[i]->grid : NULL;
}

int assay_model_kind_can(const char *kind, const char *what) {
    const assay_estimator_vt *vt = assay__estimator_find(kind);
    if (!vt || !what) return 0;
    if (strcmp(what, "monotone") == 0 || strcmp(what, "native") == 0) return (vt->flags & ASSAY_EST_NATIVE) != 0;
    if (strcmp(what, "early_stopping") == 0) return (vt->flags & ASSAY_EST_EARLY_STOPPING) != 0;
    if (strcmp(what, "sparse") == 0) return (vt->flags & ASSAY_EST_SPARSE) != 0;
    if (strcmp(what, "text") == 0) return (vt->flags & ASSAY_EST_TEXT) != 0;
    if (strcmp(what, "explain") == 0) return vt->explain != NULL;
    if (strcmp(what, "importance") == 0) return vt->importance != NULL;
    return 0;
}
