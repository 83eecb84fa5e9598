/* ensemble.c - a weighted average of several estimators fitted on the same design ("ensemble").
 *
 * Parameters: m1..m9 = "kind:key=value;key=value" (a member, its parameters separated by ';'
 * because ',' separates the ensemble's own) and w1..w9 = the members' weights (> 0, default 1).
 * Classification averages the members' probabilities, regression their values, with the weights
 * normalised to sum 1. `assay fit --model auto` builds one by greedy forward selection over its
 * candidates' out-of-fold predictions (Caruana et al., 2004, "Ensemble selection from libraries
 * of models"), so the ensemble's cross-validation score is computed from the same out-of-fold
 * rows, without fitting anything again.
 *
 * Each member saves its tensors under the prefix "<prefix>eN." and its scalars in the meta
 * object "mN". Members share the design, so they must all take what the pipeline gives: members
 * needing native (unencoded) features, images, or an ensemble, are refused. */
#include "estimator.h"

#define MAX_MEMBERS 9

typedef struct ensemble {
    assay_estimator base;
    int n;
    assay_estimator *m[MAX_MEMBERS];
    double w[MAX_MEMBERS]; /* normalised */
} ensemble;

static void en_free(assay_estimator *e) {
    if (!e) return;
    ensemble *m = (ensemble *)e;
    for (int i = 0; i < m->n; i++)
        if (m->m[i]) m->m[i]->vt->free(m->m[i]);
    assay_free(m);
}

/* "kind:k=v;k=v" -> a created member. */
static int make_member(const char *spec, int idx, assay_task task, int nclasses, int64_t nfeatures,
                       assay_estimator **out, assay_error *err) {
    char kind[64], params[512];
    const char *colon = strchr(spec, ':');
    size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (kl == 0 || kl >= sizeof kind || (colon && strlen(colon + 1) >= sizeof params))
        return assay_error_set(err, ASSAY_EINVAL, "ensemble: member m%d '%s' is not kind:params",
                               idx, spec);
    memcpy(kind, spec, kl);
    kind[kl] = 0;
    snprintf(params, sizeof params, "%s", colon ? colon + 1 : "");
    for (char *c = params; *c; c++)
        if (*c == ';') *c = ',';
    const assay_estimator_vt *vt = assay__estimator_find(kind);
    if (!vt)
        return assay_error_set(err, ASSAY_EINVAL, "ensemble: member m%d: unknown model '%s'", idx,
                               kind);
    if (vt == &assay__ensemble_vt || (vt->flags & ASSAY_EST_NATIVE) || vt == &assay__cnn_vt)
        return assay_error_set(err, ASSAY_EINVAL,
                               "ensemble: member m%d: '%s' cannot share an ensemble's design",
                               idx, kind);
    if (!(vt->tasks & (1u << task)))
        return assay_error_set(err, ASSAY_EINVAL, "ensemble: member m%d: '%s' does not do %s",
                               idx, kind, assay_task_name(task));
    assay_params p;
    int rc = assay_params_parse(params, &p, err);
    if (!rc) rc = vt->create(&p, task, nclasses, nfeatures, out, err);
    assay_params_deinit(&p);
    if (rc) assay_error_prefix(err, "ensemble: member m%d (%s)", idx, kind);
    return rc;
}

static int en_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                     assay_estimator **out, assay_error *err) {
    *out = NULL;
    for (int i = 0; i < p->n; i++) {
        const char *k = p->keys[i];
        if (!((k[0] == 'm' || k[0] == 'w') && k[1] >= '1' && k[1] <= '9' && k[2] == 0))
            return assay_error_set(err, ASSAY_EINVAL,
                                   "model 'ensemble' has no parameter '%s' (m1..m9, w1..w9)", k);
    }
    ensemble *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "ensemble: out of memory");
    m->base.vt = &assay__ensemble_vt;
    m->base.task = task;
    m->base.nclasses = nclasses;
    m->base.nfeatures = nfeatures;
    double sum = 0;
    int rc = ASSAY_OK;
    for (int i = 1; i <= MAX_MEMBERS && !rc; i++) {
        char key[4] = {'m', (char)('0' + i), 0, 0};
        const char *spec = assay_params_get(p, key);
        key[0] = 'w';
        if (!spec) {
            if (assay_params_get(p, key))
                rc = assay_error_set(err, ASSAY_EINVAL, "ensemble: w%d without m%d", i, i);
            continue;
        }
        double w;
        if ((rc = assay_params_double(p, key, 1.0, 1e-12, 1e12, &w, err))) {
            assay_error_prefix(err, "ensemble");
            break;
        }
        if ((rc = make_member(spec, i, task, nclasses, nfeatures, &m->m[m->n], err))) break;
        m->w[m->n++] = w;
        sum += w;
    }
    if (!rc && m->n == 0)
        rc = assay_error_set(err, ASSAY_EINVAL, "ensemble: no members (give m1=kind:params, ...)");
    if (rc) {
        en_free(&m->base);
        return rc;
    }
    for (int i = 0; i < m->n; i++) m->w[i] /= sum;
    *out = &m->base;
    return ASSAY_OK;
}

static int en_fit(assay_estimator *e, const assay_design *d, assay_error *err) {
    ensemble *m = (ensemble *)e;
    if (d->images) return assay_error_set(err, ASSAY_EINVAL, "ensemble: image designs are not supported");
    for (int i = 0; i < m->n; i++) {
        if (d->X.csr && !(m->m[i]->vt->flags & ASSAY_EST_SPARSE))
            return assay_error_set(err, ASSAY_EINVAL,
                                   "ensemble member %d (%s) needs dense features, and text "
                                   "columns give sparse ones", i + 1, m->m[i]->vt->name);
        int rc = m->m[i]->vt->fit(m->m[i], d, err);
        if (rc) return assay_error_prefix(err, "ensemble member %d (%s)", i + 1, m->m[i]->vt->name);
    }
    return ASSAY_OK;
}

static int en_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                      assay_error *err) {
    const ensemble *m = (const ensemble *)e;
    size_t width = e->task == ASSAY_TASK_REGRESSION ? 1 : (size_t)e->nclasses;
    size_t cnt = (size_t)X->n * width;
    double *tmp = assay_mallocarray(cnt + 1, sizeof *tmp);
    if (!tmp) return assay_error_set(err, ASSAY_ENOMEM, "ensemble: out of memory");
    memset(out, 0, cnt * sizeof *out);
    int rc = ASSAY_OK;
    for (int i = 0; i < m->n && !rc; i++) {
        if ((rc = m->m[i]->vt->predict(m->m[i], X, tmp, err))) break;
        for (size_t j = 0; j < cnt; j++) out[j] += m->w[i] * tmp[j];
    }
    assay_free(tmp);
    return rc;
}

static int en_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                   json_t *meta, assay_error *err) {
    const ensemble *m = (const ensemble *)e;
    for (int i = 0; i < m->n; i++) {
        char sub[256], key[8];
        snprintf(sub, sizeof sub, "%se%d.", prefix, i + 1);
        snprintf(key, sizeof key, "m%d", i + 1);
        json_t *mm = meta ? json_object() : NULL;
        if (meta && (!mm || json_object_set_new(meta, key, mm)))
            return assay_error_set(err, ASSAY_ENOMEM, "ensemble: out of memory saving");
        int rc = m->m[i]->vt->save(m->m[i], w, sub, mm, err);
        if (rc) return rc;
    }
    return ASSAY_OK;
}

static int en_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                   const json_t *meta, assay_error *err) {
    ensemble *m = (ensemble *)e;
    for (int i = 0; i < m->n; i++) {
        char sub[256], key[8];
        snprintf(sub, sizeof sub, "%se%d.", prefix, i + 1);
        snprintf(key, sizeof key, "m%d", i + 1);
        const json_t *mm = meta ? json_object_get(meta, key) : NULL;
        if (meta && !json_is_object(mm))
            return assay_error_set(err, ASSAY_EFORMAT, "ensemble: the file has no metadata of member %d",
                                   i + 1);
        int rc = m->m[i]->vt->load(m->m[i], f, sub, mm, err);
        if (rc) return rc;
    }
    return ASSAY_OK;
}

const assay_estimator_vt assay__ensemble_vt = {
    .name = "ensemble",
    .summary = "weighted average of models on one design (m1=kind:k=v;k=v, w1=weight, ...)",
    .tasks = (1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS) | (1u << ASSAY_TASK_REGRESSION),
    .create = en_create,
    .fit = en_fit,
    .predict = en_predict,
    .save = en_save,
    .load = en_load,
    .free = en_free,
    .grid = NULL,
    .flags = ASSAY_EST_SPARSE,
};
