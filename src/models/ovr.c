/* ovr.c - multilabel through any binary estimator: one-vs-rest, one estimator per label
 * (scikit-learn's OneVsRestClassifier on a label-indicator target).
 *
 * Label k's estimator is the wrapped kind fitted as a binary task on "has label k" (class 1)
 * against the rest, with seed + k; out[i, k] is its probability of class 1. A label that every
 * training row has, or none has, gets no estimator: its probability is that constant (1 or 0),
 * as scikit-learn's _ConstantPredictor does. Tensors of label k go under prefix + "k<k>.", its
 * scalars into meta.labels[k] (null for a constant label, whose value is meta.constant[k]).
 * Estimators that read token sequences (bert) or images are not wrapped. */
#include "estimator.h"

typedef struct ovr {
    assay_estimator base;            /* task MULTILABEL, nclasses = K labels */
    const assay_estimator_vt *inner;
    assay_params params;
    assay_estimator **est;           /* K; NULL: constant label */
    double *constant;                /* K */
} ovr;

static void ovr_free(assay_estimator *e) {
    ovr *m = (ovr *)e;
    for (int k = 0; m->est && k < e->nclasses; k++)
        if (m->est[k]) m->est[k]->vt->free(m->est[k]);
    assay_free(m->est);
    assay_free(m->constant);
    assay_params_deinit(&m->params);
    assay_free(m);
}

static int ovr_fit(assay_estimator *e, const assay_design *d, assay_error *err) {
    ovr *m = (ovr *)e;
    const int K = e->nclasses;
    const int64_t n = d->X.n, nv = d->Xval.n;
    double *y = assay_mallocarray((size_t)n + 1, sizeof *y), *yv = assay_mallocarray((size_t)nv + 1, sizeof *yv);
    int rc = y && yv ? ASSAY_OK : assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    for (int k = 0; k < K && !rc; k++) {
        int64_t pos = 0;
        for (int64_t i = 0; i < n; i++) pos += (y[i] = d->y[i * K + k]) != 0;
        for (int64_t i = 0; i < nv; i++) yv[i] = d->yval[i * K + k];
        if (pos == 0 || pos == n) {
            m->constant[k] = pos ? 1.0 : 0.0;
            continue;
        }
        assay_design b = *d;
        b.y = y;
        b.yval = nv ? yv : NULL;
        b.task = ASSAY_TASK_BINARY;
        b.nclasses = 2;
        b.seed = d->seed + (uint64_t)k;
        if (!(rc = m->inner->create(&m->params, ASSAY_TASK_BINARY, 2, e->nfeatures, &m->est[k], err)))
            rc = m->inner->fit(m->est[k], &b, err);
        if (rc) assay_error_prefix(err, "label %d of %d", k + 1, K);
    }
    assay_free(y);
    assay_free(yv);
    return rc;
}

static int ovr_predict(const assay_estimator *e, const assay_matrix *X, double *out, assay_error *err) {
    const ovr *m = (const ovr *)e;
    const int K = e->nclasses;
    double *p = assay_mallocarray((size_t)X->n * 2 + 1, sizeof *p);
    if (!p) return assay_error_set(err, ASSAY_ENOMEM, "out of memory predicting");
    int rc = ASSAY_OK;
    for (int k = 0; k < K && !rc; k++) {
        if (m->est[k]) rc = m->est[k]->vt->predict(m->est[k], X, p, err);
        for (int64_t i = 0; i < X->n && !rc; i++) out[i * K + k] = m->est[k] ? p[2 * i + 1] : m->constant[k];
    }
    assay_free(p);
    return rc;
}

static int ovr_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix, json_t *meta,
                    assay_error *err) {
    const ovr *m = (const ovr *)e;
    json_t *labels = json_array(), *constant = json_array();
    int rc = labels && constant ? ASSAY_OK : ASSAY_ENOMEM;
    for (int k = 0; k < e->nclasses && !rc; k++) {
        json_t *sub = m->est[k] ? json_object() : json_null();
        char pre[96];
        snprintf(pre, sizeof pre, "%sk%d.", prefix, k);
        if (!sub) rc = ASSAY_ENOMEM;
        else if (m->est[k]) rc = m->est[k]->vt->save(m->est[k], w, pre, sub, err);
        if (sub) json_array_append_new(labels, sub);
        json_array_append_new(constant, json_real(m->constant[k]));
    }
    if (!rc) {
        json_object_set(meta, "labels", labels);
        json_object_set(meta, "constant", constant);
    }
    json_decref(labels);
    json_decref(constant);
    return rc == ASSAY_ENOMEM ? assay_error_set(err, rc, "out of memory saving the model") : rc;
}

static int ovr_load(assay_estimator *e, const assay_mfile *f, const char *prefix, const json_t *meta,
                    assay_error *err) {
    ovr *m = (ovr *)e;
    const int K = e->nclasses;
    json_t *labels = json_object_get(meta, "labels"), *constant = json_object_get(meta, "constant");
    if (!json_is_array(labels) || !json_is_array(constant) || json_array_size(labels) != (size_t)K ||
        json_array_size(constant) != (size_t)K)
        return assay_error_set(err, ASSAY_EFORMAT, "one-vs-rest: the estimator lists do not have %d labels", K);
    int rc = ASSAY_OK;
    for (int k = 0; k < K && !rc; k++) {
        json_t *sub = json_array_get(labels, (size_t)k), *c = json_array_get(constant, (size_t)k);
        m->constant[k] = json_number_value(c);
        if (json_is_null(sub)) {
            if (!json_is_number(c) || (m->constant[k] != 0 && m->constant[k] != 1))
                rc = assay_error_set(err, ASSAY_EFORMAT, "one-vs-rest: label %d has neither an estimator nor a constant", k + 1);
            continue;
        }
        char pre[96];
        snprintf(pre, sizeof pre, "%sk%d.", prefix, k);
        if (!json_is_object(sub)) rc = assay_error_set(err, ASSAY_EFORMAT, "one-vs-rest: label %d is malformed", k + 1);
        else if (!(rc = m->inner->create(&m->params, ASSAY_TASK_BINARY, 2, e->nfeatures, &m->est[k], err)))
            rc = m->inner->load(m->est[k], f, pre, sub, err);
    }
    return rc;
}

static const assay_estimator_vt ovr_vt = {
    .name = "ovr",
    .summary = "one-vs-rest multilabel wrapper",
    .tasks = 1u << ASSAY_TASK_MULTILABEL,
    .fit = ovr_fit,
    .predict = ovr_predict,
    .save = ovr_save,
    .load = ovr_load,
    .free = ovr_free,
};

int assay__vt_supports(const assay_estimator_vt *vt, assay_task task) {
    if ((int)task < 0 || (int)task > 30) return 0;
    if (vt->tasks & (1u << task)) return 1;
    return task == ASSAY_TASK_MULTILABEL && (vt->tasks & (1u << ASSAY_TASK_BINARY)) &&
           !(vt->flags & ASSAY_EST_SEQUENCE) && strcmp(vt->name, "cnn") != 0;
}

int assay__estimator_create(const assay_estimator_vt *vt, const assay_params *p, assay_task task, int K,
                            int64_t d, assay_estimator **out, assay_error *err) {
    *out = NULL;
    if (task != ASSAY_TASK_MULTILABEL || (vt->tasks & (1u << task))) return vt->create(p, task, K, d, out, err);
    /* Check the parameters once, as the wrapped kind would. */
    assay_estimator *probe = NULL;
    int rc = vt->create(p, ASSAY_TASK_BINARY, 2, d, &probe, err);
    if (rc) return rc;
    probe->vt->free(probe);
    ovr *m = assay_calloc(1, sizeof *m);
    if (!m || !(m->est = assay_calloc((size_t)K, sizeof *m->est)) ||
        !(m->constant = assay_calloc((size_t)K, sizeof *m->constant))) {
        if (m) ovr_free(&m->base);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    m->base.vt = &ovr_vt;
    m->base.task = task;
    m->base.nclasses = K;
    m->base.nfeatures = d;
    m->inner = vt;
    for (int i = 0; i < p->n && !rc; i++) rc = assay_params_set(&m->params, p->keys[i], p->values[i], err);
    if (rc) {
        ovr_free(&m->base);
        return rc;
    }
    *out = &m->base;
    return ASSAY_OK;
}
