/* model.c - the model: target encoding, pipeline + estimator fitting, prediction on raw rows,
 * and the model file (safetensors with assay metadata).
 *
 * What lives here is what every estimator shares: labels, the task, the preprocessing pipeline,
 * the input schema and free-form info. Estimator-specific state is behind the vtable in
 * estimator.h. Loading validates every metadata field before anything is used. */
#include <errno.h>
#include <float.h>

#include "estimator.h"
#include "assay/curves.h"

#define PREDICT_CHUNK 65536 /* rows transformed at a time: bounds the memory of predict */

struct assay_model {
    char *kind, *params, *target;
    assay_task task;
    int nclasses;
    char **labels;
    int positive;
    double threshold;
    assay_pipeline *pipe;
    assay_estimator *est;
    assay_col_override *overrides; /* pipeline inputs + target, names borrowed from pipe/target */
    int noverrides;
    assay_coltype target_type;
    int ninfo;
    char **info_keys, **info_vals;
    /* image models: no pipeline; the input shape and per-channel normalization */
    int image, img_c, img_h, img_w;
    float img_mean[4], img_std[4];
    assay_calibrator *cal;     /* binary: applied to the positive class's probability, or NULL */
};

#define MAX_IMAGE_CHANNELS 4

/* Binary outputs (n x 2) through the calibrator: p[positive] calibrated, the other 1 - it. */
static void calibrate_rows(const assay_model *m, double *out, int64_t n) {
    if (!m->cal || m->task != ASSAY_TASK_BINARY) return;
    const int pos = m->positive;
    for (int64_t i = 0; i < n; i++) {
        double p;
        assay_calibrator_apply(m->cal, &out[2 * i + pos], 1, &p);
        out[2 * i + pos] = p;
        out[2 * i + 1 - pos] = 1.0 - p;
    }
}

int assay_model_set_calibrator(assay_model *m, assay_calibrator *cal, assay_error *err) {
    if (m->task != ASSAY_TASK_BINARY) {
        assay_calibrator_free(cal);
        return assay_error_set(err, ASSAY_EINVAL, "calibration applies to binary models");
    }
    assay_calibrator_free(m->cal);
    m->cal = cal;
    return ASSAY_OK;
}

const assay_calibrator *assay_model_calibrator(const assay_model *m) { return m->cal; }

static int refuse_images(const assay_model *m, assay_error *err) {
    return assay_error_set(err, ASSAY_EINVAL,
                           "this %s model takes %dx%dx%d images (IDX files or a folder of PNGs), "
                           "not table rows", m->kind, m->img_c, m->img_h, m->img_w);
}

/* ---- target ------------------------------------------------------------------------------ */

static void free_strings(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) assay_free(s[i]);
    assay_free(s);
}

void assay_target_deinit(assay_target *tg) {
    if (!tg) return;
    free_strings(tg->labels, tg->nclasses);
    assay_free(tg->y);
    memset(tg, 0, sizeof *tg);
}

/* The label text of a target cell (classification). */
static const char *target_cell_label(const assay_column *c, int64_t r, char *buf, size_t cap) {
    switch (c->type) {
    case ASSAY_COL_CATEGORICAL: return c->levels[c->cat[r]];
    case ASSAY_COL_TEXT: return c->text[r];
    case ASSAY_COL_BOOLEAN: return c->num[r] != 0.0 ? "true" : "false";
    default: return assay__format_number(c->num[r], buf, cap);
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_num_str(const void *a, const void *b) {
    double x = strtod(*(const char *const *)a, NULL), y = strtod(*(const char *const *)b, NULL);
    return (x > y) - (x < y);
}

static int label_index(char *const *labels, int n, const char *s) {
    for (int k = 0; k < n; k++)
        if (strcmp(labels[k], s) == 0) return k;
    return -1;
}

static const char *source_name(const assay_table *t) { return t->source ? t->source : "data"; }

#define MAX_LABEL 256 /* bytes of one label of a multilabel cell, NUL included */

/* The next label of a multilabel cell ("a|b") copied into lab[MAX_LABEL]: *p moves past it and
 * its separator; spaces around a label are dropped and empty labels skipped. 1: a label; 0: none
 * left; -1: a label of MAX_LABEL bytes or more. */
static int next_label(const char **p, char *lab) {
    const char *s = *p;
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        const char *sep = strchr(s, ASSAY_LABEL_SEP), *end = sep ? sep : s + strlen(s), *q = end;
        while (q > s && (q[-1] == ' ' || q[-1] == '\t')) q--;
        *p = sep ? sep + 1 : end;
        if (q - s >= MAX_LABEL) return -1;
        if (q > s) {
            memcpy(lab, s, (size_t)(q - s));
            lab[q - s] = 0;
            return 1;
        }
        s = *p;
    }
    *p = s;
    return 0;
}

static int overlong_label(const assay_table *t, const assay_column *c, int64_t r, assay_error *err) {
    return assay_error_set(err, ASSAY_ESCHEMA, "%s: row %lld: target '%s' has a label of over %d bytes",
                           source_name(t), (long long)r + 1, c->name, MAX_LABEL - 1);
}

/* Row r's labels as indicators yrow[0..K) (multilabel); a label outside labels, an overlong one
 * or a row without labels is an error naming the row. */
static int encode_label_set(const assay_table *t, const assay_column *c, int64_t r, char *const *labels,
                            int K, double *yrow, const char *unknown, assay_error *err) {
    char num[64], lab[MAX_LABEL];
    const char *p = target_cell_label(c, r, num, sizeof num);
    int any = 0, got;
    for (int k = 0; k < K; k++) yrow[k] = 0;
    while ((got = next_label(&p, lab)) != 0) {
        if (got < 0) return overlong_label(t, c, r, err);
        int k = label_index(labels, K, lab);
        if (k < 0)
            return assay_error_set(err, ASSAY_ESCHEMA, "%s: row %lld: target '%s' has label '%s', %s",
                                   source_name(t), (long long)r + 1, c->name, lab, unknown);
        yrow[k] = 1;
        any = 1;
    }
    if (!any)
        return assay_error_set(err, ASSAY_ESCHEMA, "%s: row %lld: target '%s' lists no label",
                               source_name(t), (long long)r + 1, c->name);
    return ASSAY_OK;
}

/* Add s to labels[0..*nl) unless it is there (at most 1000). */
static int add_label(char ***labels, int *nl, int *cap, const char *s, const assay_column *c, assay_error *err) {
    if (label_index(*labels, *nl, s) >= 0) return ASSAY_OK;
    if (*nl == 1000)
        return assay_error_set(err, ASSAY_EINVAL, "target '%s' has more than 1000 distinct values; use "
                               "--task regression for a numeric target", c->name);
    if (*nl == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        char **p = assay_reallocarray(*labels, (size_t)nc, sizeof **labels);
        if (!p) return assay_error_set(err, ASSAY_ENOMEM, "out of memory collecting target labels");
        *labels = p;
        *cap = nc;
    }
    if (!((*labels)[*nl] = assay_strdup(s))) return assay_error_set(err, ASSAY_ENOMEM, "out of memory collecting target labels");
    (*nl)++;
    return ASSAY_OK;
}

/* Collect the distinct labels of the rows (sorted), or copy the given label set. */
static int collect_labels(const assay_fit_options *o, const assay_table *t, const assay_column *c,
                          const int64_t *rows, int64_t n, char ***out, int *nout, assay_error *err) {
    char **labels = NULL;
    int nl = 0, cap = 0;
    char buf[64];
    if (o->labels) {
        labels = assay_calloc((size_t)(o->nlabels ? o->nlabels : 1), sizeof *labels);
        if (!labels) goto nomem;
        for (int k = 0; k < o->nlabels; k++) {
            if (!(labels[k] = assay_strdup(o->labels[k]))) goto nomem_n;
            nl = k + 1;
        }
        *out = labels;
        *nout = nl;
        return ASSAY_OK;
    }
    char part[MAX_LABEL];
    int rc = ASSAY_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t r = rows ? rows[i] : i;
        const char *cell = target_cell_label(c, r, buf, sizeof buf);
        if (o->task != ASSAY_TASK_MULTILABEL) {
            rc = add_label(&labels, &nl, &cap, cell, c, err);
            continue;
        }
        for (int got; !rc && (got = next_label(&cell, part)) != 0;)
            rc = got > 0 ? add_label(&labels, &nl, &cap, part, c, err) : overlong_label(t, c, r, err);
    }
    if (rc) {
        free_strings(labels, nl);
        return rc;
    }
    if (nl > 1) {
        int numeric = c->type == ASSAY_COL_NUMERIC;
        qsort(labels, (size_t)nl, sizeof *labels, numeric ? cmp_num_str : cmp_str);
    }
    *out = labels;
    *nout = nl;
    return ASSAY_OK;
nomem_n:
    free_strings(labels, nl);
    return assay_error_set(err, ASSAY_ENOMEM, "out of memory collecting target labels");
nomem:
    assay_free(labels);
    return assay_error_set(err, ASSAY_ENOMEM, "out of memory collecting target labels");
}

int assay_target_encode(const assay_fit_options *o, const assay_table *t, const int64_t *rows,
                        int64_t n, assay_target *out, assay_error *err) {
    memset(out, 0, sizeof *out);
    if (!o->target || !*o->target)
        return assay_error_set(err, ASSAY_EINVAL, "--target: no target column given");
    int ci = assay_table_find(t, o->target);
    if (ci < 0) {
        assay_buf names = {0};
        for (int j = 0; j < t->ncols && names.len < 160; j++)
            assay_buf_printf(&names, "%s%s", j ? ", " : "", t->cols[j].name);
        assay_error_set(err, ASSAY_EINVAL, "--target: no column '%s' in %s (columns: %s%s)",
                        o->target, source_name(t), names.data ? names.data : "",
                        names.len >= 160 ? ", ..." : "");
        assay_buf_deinit(&names);
        return ASSAY_EINVAL;
    }
    const assay_column *c = &t->cols[ci];
    if (n <= 0) return assay_error_set(err, ASSAY_EINVAL, "%s: no rows to fit", source_name(t));
    if (c->type == ASSAY_COL_DATETIME)
        return assay_error_set(err, ASSAY_EINVAL,
                               "--target: column '%s' is a datetime; a target must be a label or "
                               "a number",
                               c->name);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        if (c->missing[r])
            return assay_error_set(err, ASSAY_EINVAL,
                                   "%s: row %lld: target '%s' is missing (drop or fill such rows)",
                                   source_name(t), (long long)r + 1, c->name);
        if ((c->type == ASSAY_COL_NUMERIC) && !isfinite(c->num[r]))
            return assay_error_set(err, ASSAY_EINVAL, "%s: row %lld: target '%s' is not finite",
                                   source_name(t), (long long)r + 1, c->name);
    }

    assay_task task = o->task;
    int is_numeric = c->type == ASSAY_COL_NUMERIC;
    if (task == ASSAY_TASK_REGRESSION && !is_numeric)
        return assay_error_set(err, ASSAY_EINVAL,
                               "--task regression: target '%s' is %s, not numeric", c->name,
                               assay_coltype_name(c->type));
    char **labels = NULL;
    int nl = 0;
    int rc;
    if (is_numeric && task == ASSAY_TASK_AUTO) {
        /* Two distinct values -> binary; otherwise regression. */
        double a = c->num[rows ? rows[0] : 0], b = a;
        int distinct = 1;
        for (int64_t i = 1; i < n && distinct < 3; i++) {
            double v = c->num[rows ? rows[i] : i];
            if (v != a && (distinct == 1 || v != b)) {
                if (distinct == 1) b = v;
                distinct++;
            }
        }
        task = distinct == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_REGRESSION;
        if (distinct == 1)
            return assay_error_set(err, ASSAY_EINVAL, "target '%s' is constant in %s (every value "
                                   "is %g): nothing to learn", c->name, source_name(t), a);
    }
    out->y = assay_mallocarray((size_t)n, sizeof *out->y);
    if (!out->y) return assay_error_set(err, ASSAY_ENOMEM, "out of memory encoding the target");
    out->n = n;
    if (task == ASSAY_TASK_REGRESSION) {
        double first = c->num[rows ? rows[0] : 0];
        int constant = 1;
        for (int64_t i = 0; i < n; i++) {
            out->y[i] = c->num[rows ? rows[i] : i];
            if (out->y[i] != first) constant = 0;
        }
        if (constant) {
            assay_target_deinit(out);
            return assay_error_set(err, ASSAY_EINVAL, "target '%s' is constant in %s (every value "
                                   "is %g): nothing to learn", c->name, source_name(t), first);
        }
        out->task = task;
        return ASSAY_OK;
    }

    if ((rc = collect_labels(o, t, c, rows, n, &labels, &nl, err))) goto fail;
    if (nl < 2) {
        rc = assay_error_set(err, ASSAY_EINVAL,
                             "target '%s' is constant in %s (every row is '%s'): nothing to learn",
                             c->name, source_name(t), nl ? labels[0] : "");
        goto fail;
    }
    if (task == ASSAY_TASK_MULTILABEL) {
        assay_free(out->y);
        if (!(out->y = assay_calloc((size_t)n * (size_t)nl, sizeof *out->y))) {
            rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory encoding the target");
            goto fail;
        }
        for (int64_t i = 0; i < n && !rc; i++)
            rc = encode_label_set(t, c, rows ? rows[i] : i, labels, nl, out->y + i * nl,
                                  "not among the labels", err);
        if (rc) goto fail;
        out->task = task;
        out->labels = labels;
        out->nclasses = nl;
        return ASSAY_OK;
    }
    if (task == ASSAY_TASK_AUTO) task = nl == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS;
    if (task == ASSAY_TASK_BINARY && nl != 2) {
        rc = assay_error_set(err, ASSAY_EINVAL, "--task binary: target '%s' has %d classes",
                             c->name, nl);
        goto fail;
    }
    /* Encode, counting classes (for the default positive label). */
    int64_t *counts = assay_calloc((size_t)nl, sizeof *counts);
    if (!counts) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory encoding the target");
        goto fail;
    }
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        int k = label_index(labels, nl, target_cell_label(c, r, buf, sizeof buf));
        if (k < 0) {
            rc = assay_error_set(err, ASSAY_ESCHEMA,
                                 "%s: row %lld: target '%s' has label '%s', not among the labels",
                                 source_name(t), (long long)r + 1, c->name, buf);
            assay_free(counts);
            goto fail;
        }
        out->y[i] = k;
        counts[k]++;
    }
    if (task == ASSAY_TASK_BINARY) {
        int pos;
        if (o->positive) {
            pos = label_index(labels, nl, o->positive);
            if (pos < 0) {
                rc = assay_error_set(err, ASSAY_EINVAL,
                                     "--positive: '%s' is not a label of '%s' (labels: %s, %s)",
                                     o->positive, c->name, labels[0], labels[1]);
                assay_free(counts);
                goto fail;
            }
        } else {
            pos = counts[0] < counts[1] ? 0 : 1; /* the minority class; tie: the last label */
        }
        if (pos == 0) { /* positive label goes to index 1 */
            char *tmp = labels[0];
            labels[0] = labels[1];
            labels[1] = tmp;
            for (int64_t i = 0; i < n; i++) out->y[i] = 1.0 - out->y[i];
        }
        out->positive = 1;
    }
    assay_free(counts);
    out->task = task;
    out->labels = labels;
    out->nclasses = nl;
    return ASSAY_OK;
fail:
    free_strings(labels, nl);
    assay_free(out->y);
    memset(out, 0, sizeof *out);
    return rc;
}

/* ---- fitting ----------------------------------------------------------------------------- */

void assay_model_free(assay_model *m) {
    if (!m) return;
    assay_free(m->kind);
    assay_free(m->params);
    assay_free(m->target);
    free_strings(m->labels, m->nclasses);
    assay_pipeline_free(m->pipe);
    if (m->est) m->est->vt->free(m->est);
    assay_calibrator_free(m->cal);
    assay_free(m->overrides);
    free_strings(m->info_keys, m->ninfo);
    free_strings(m->info_vals, m->ninfo);
    assay_free(m);
}

static const char *default_kind(assay_task task) {
    return task == ASSAY_TASK_REGRESSION ? "linear" : "logreg";
}

static int build_overrides(assay_model *m) {
    int ni = assay_pipeline_ninputs(m->pipe);
    m->overrides = assay_calloc((size_t)ni + 1, sizeof *m->overrides);
    if (!m->overrides) return ASSAY_ENOMEM;
    for (int i = 0; i < ni; i++) {
        m->overrides[i].name = assay_pipeline_input_name(m->pipe, i);
        m->overrides[i].type = assay_pipeline_input_type(m->pipe, i);
    }
    m->overrides[ni].name = m->target;
    m->overrides[ni].type = m->target_type;
    m->noverrides = ni + 1;
    return ASSAY_OK;
}

/* X for rows of t through the model's pipeline (allocated). */
static int transform_rows(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                          int64_t n, float **X, assay_error *err) {
    int64_t d = assay_pipeline_nfeatures(p);
    *X = assay_mallocarray((size_t)n * (size_t)(d ? d : 1), sizeof **X);
    if (!*X) return assay_error_set(err, ASSAY_ENOMEM, "out of memory for a %lld x %lld design",
                                    (long long)n, (long long)d);
    int rc = assay_pipeline_transform(p, t, rows, n, *X, err);
    if (rc) {
        assay_free(*X);
        *X = NULL;
    }
    return rc;
}

/* "Income:+1,Debt:-1" -> per design column -1/0/+1. A name is an input column that became one
 * numeric feature (native mode keeps numeric columns as they are). */
static int parse_monotone(const char *spec, const assay_pipeline *p, const int32_t *ncat,
                          int8_t *out, assay_error *err) {
    int64_t d = assay_pipeline_nfeatures(p);
    const char *s = spec;
    while (*s) {
        const char *end = strchr(s, ','), *colon;
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[256];
        if (len == 0 || len >= sizeof item)
            return assay_error_set(err, ASSAY_EINVAL, "--monotone: empty or overlong item in '%s'", spec);
        memcpy(item, s, len);
        item[len] = 0;
        colon = strrchr(item, ':');
        int sign = 0;
        if (colon) {
            const char *v = colon + 1;
            sign = strcmp(v, "+1") == 0 || strcmp(v, "1") == 0 || strcmp(v, "+") == 0    ? 1
                   : strcmp(v, "-1") == 0 || strcmp(v, "-") == 0                          ? -1
                   : strcmp(v, "0") == 0                                                  ? 0
                                                                                          : 2;
        }
        if (!colon || colon == item || sign == 2)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "--monotone: '%s' is not COLUMN:+1, COLUMN:-1 or COLUMN:0", item);
        item[colon - item] = 0;
        int64_t j = -1;
        for (int64_t k = 0; k < d; k++)
            if (strcmp(assay_pipeline_feature_name(p, k), item) == 0) j = k;
        if (j < 0)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "--monotone: no numeric feature '%s' (a column that is absent, "
                                   "excluded, constant or all missing)", item);
        if (ncat && ncat[j] > 0)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "--monotone: column '%s' is categorical; constraints need a "
                                   "numeric column", item);
        out[j] = (int8_t)sign;
        s += len;
        if (*s == ',') s++;
    }
    return ASSAY_OK;
}

int assay_model_fit(const assay_fit_options *o, const assay_table *t, const int64_t *rows,
                    int64_t nrows, assay_model **out, assay_prep_report *report,
                    assay_error *err) {
    *out = NULL;
    int rc;
    int64_t *kept = NULL, nkept = 0;
    float *X = NULL;
    assay_csr Xs = {0};
    const char **exclude = NULL;
    int32_t *ncat = NULL;
    int8_t *monotone = NULL;
    assay_target tg = {0};
    assay_model *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (!rows) nrows = t->nrows;

    /* Deduplicate first (exact rows, target included), then resolve the target. */
    if (o->prep.dedup) {
        if ((rc = assay_prep_dedup(t, rows, nrows, &kept, &nkept, err))) goto fail;
    } else {
        kept = assay_mallocarray((size_t)(nrows ? nrows : 1), sizeof *kept);
        if (!kept) goto nomem;
        for (int64_t i = 0; i < nrows; i++) kept[i] = rows ? rows[i] : i;
        nkept = nrows;
    }
    if ((rc = assay_target_encode(o, t, kept, nkept, &tg, err))) goto fail;

    const char *kind = o->model ? o->model : default_kind(tg.task);
    const assay_estimator_vt *vt = assay__estimator_find(kind);
    if (!vt) {
        assay_buf names = {0};
        for (int i = 0; i < assay_model_kind_count(); i++)
            assay_buf_printf(&names, "%s%s", i ? ", " : "", assay_model_kind_name(i));
        rc = assay_error_set(err, ASSAY_EINVAL, "--model: unknown model '%s' (models: %s)", kind,
                             names.data ? names.data : "");
        assay_buf_deinit(&names);
        goto fail;
    }
    if (!assay__vt_supports(vt, tg.task)) {
        rc = assay_error_set(err, ASSAY_EINVAL, "--model: '%s' does not do %s", kind,
                             assay_task_name(tg.task));
        goto fail;
    }
    if (!(m->kind = assay_strdup(kind)) || !(m->params = assay_strdup(o->params ? o->params : "")) ||
        !(m->target = assay_strdup(o->target)))
        goto nomem;
    m->target_type = t->cols[assay_table_find(t, o->target)].type;
    m->task = tg.task;
    m->nclasses = tg.nclasses;
    m->labels = tg.labels;
    m->positive = tg.positive;
    tg.labels = NULL;
    tg.nclasses = 0;
    m->threshold = 0.5;

    exclude = assay_calloc((size_t)o->nexclude + (size_t)t->ncols + 1, sizeof *exclude);
    if (!exclude) goto nomem;
    int nex = 0;
    exclude[nex++] = o->target;
    for (int i = 0; i < o->nexclude; i++) exclude[nex++] = o->exclude[i];
    if (vt->flags & ASSAY_EST_SEQUENCE) { /* it reads text columns only */
        int ntext = 0;
        for (int c = 0; c < t->ncols; c++) {
            if (t->cols[c].type != ASSAY_COL_TEXT) exclude[nex++] = t->cols[c].name;
            else if (strcmp(t->cols[c].name, o->target) != 0) ntext++;
        }
        if (ntext == 0) {
            rc = assay_error_set(err, ASSAY_EINVAL, "model '%s' reads text columns and %s has none "
                                 "(mark one with --column NAME:text)", kind, source_name(t));
            goto fail;
        }
    }
    assay_prep_options prep = o->prep;
    if (vt->prep) {
        assay_params pp = {0};
        if (!(rc = assay_params_parse(o->params, &pp, err))) rc = vt->prep(&pp, &prep, err);
        assay_params_deinit(&pp);
        if (rc) goto fail;
    }
    if (vt->flags & ASSAY_EST_NATIVE) { /* the estimator handles missing values and categories */
        prep.impute_numeric = ASSAY_IMPUTE_NONE;
        prep.impute_categorical = ASSAY_IMPUTE_NONE;
        prep.missing_indicator = 0;
        prep.scale = ASSAY_SCALE_NONE;
        prep.encode = ASSAY_ENCODE_NATIVE;
        prep.unseen = ASSAY_UNSEEN_IGNORE;
    }
    if ((rc = assay_pipeline_fit(&prep, t, kept, nkept, exclude, nex, &m->pipe,
                                 report, err)))
        goto fail;
    if (report) {
        report->rows_in = nrows;
        report->duplicates_removed = nrows - nkept;
    }
    int64_t d = assay_pipeline_nfeatures(m->pipe);
    if (d == 0) {
        rc = assay_error_set(err, ASSAY_EINVAL,
                             "%s: no usable feature columns besides the target '%s'",
                             source_name(t), o->target);
        goto fail;
    }
    if ((rc = build_overrides(m))) goto nomem;
    int sparse = assay_pipeline_sparse(m->pipe);
    if (sparse && !(vt->flags & ASSAY_EST_SPARSE)) {
        rc = assay_error_set(err, ASSAY_EINVAL, "model '%s' needs dense features, and text columns give "
                             "sparse ones: use --model logreg, nb, nblr or textclf (or drop the text columns)", kind);
        goto fail;
    }
    if (sparse) rc = assay_pipeline_transform_csr(m->pipe, t, kept, nkept, &Xs, err);
    else rc = transform_rows(m->pipe, t, kept, nkept, &X, err);
    if (rc) goto fail;

    if (vt->flags & ASSAY_EST_NATIVE) {
        if (!(ncat = assay_calloc((size_t)d, sizeof *ncat))) goto nomem;
        for (int64_t j = 0; j < d; j++) ncat[j] = assay_pipeline_feature_categories(m->pipe, j);
    }
    if (o->monotone && *o->monotone) {
        if (!(vt->flags & ASSAY_EST_NATIVE)) {
            rc = assay_error_set(err, ASSAY_EINVAL, "--monotone: model '%s' does not take monotone "
                                 "constraints (gbdt does)", kind);
            goto fail;
        }
        if (!(monotone = assay_calloc((size_t)d, sizeof *monotone))) goto nomem;
        if ((rc = parse_monotone(o->monotone, m->pipe, ncat, monotone, err))) goto fail;
    }
    assay_params params = {0};
    if ((rc = assay_params_parse(o->params, &params, err))) goto fail;
    rc = assay__estimator_create(vt, &params, m->task, m->nclasses, d, &m->est, err);
    assay_params_deinit(&params);
    if (rc) goto fail;
    assay_design design = {
        .X = {.n = nkept, .d = d, .dense = sparse ? NULL : X, .csr = sparse ? &Xs : NULL},
        .y = tg.y,
        .task = m->task,
        .nclasses = m->nclasses,
        .seed = o->seed,
        .ncat = ncat,
        .monotone = monotone,
    };
    if ((rc = m->est->vt->fit(m->est, &design, err))) goto fail;

    assay_free(ncat);
    assay_free(monotone);
    assay_free(X);
    assay_csr_deinit(&Xs);
    assay_free(kept);
    assay_free(exclude);
    assay_target_deinit(&tg);
    *out = m;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory fitting the model");
fail:
    assay_free(ncat);
    assay_free(monotone);
    assay_free(X);
    assay_csr_deinit(&Xs);
    assay_free(kept);
    assay_free(exclude);
    assay_target_deinit(&tg);
    assay_model_free(m);
    return rc;
}

/* ---- image models ------------------------------------------------------------------------ */

int assay_model_fit_images(const assay_fit_options *o, const assay_images *im,
                           const int64_t *rows, int64_t nrows, assay_model **out,
                           assay_error *err) {
    *out = NULL;
    if (!rows) nrows = im->n;
    if (!im->labels || im->nclasses < 2)
        return assay_error_set(err, ASSAY_EINVAL, "images: %s", !im->labels ? "no labels (give --labels)"
                                                                            : "fewer than 2 classes");
    if (im->c < 1 || im->c > MAX_IMAGE_CHANNELS)
        return assay_error_set(err, ASSAY_EINVAL, "images: %d channels (1 to %d supported)", im->c,
                               MAX_IMAGE_CHANNELS);
    const char *kind = o->model && strcmp(o->model, "auto") ? o->model : "cnn";
    const assay_estimator_vt *vt = assay__estimator_find(kind);
    if (!vt || (vt != &assay__cnn_vt && vt != &assay__mlp_vt))
        return assay_error_set(err, ASSAY_EINVAL, "--model: '%s' does not take images (cnn and mlp do)", kind);
    int rc = ASSAY_ENOMEM;
    assay_images sub = *im;
    uint8_t *pix = NULL;
    int32_t *lab = NULL;
    double *y = NULL;
    const int64_t P = (int64_t)im->c * im->h * im->w;
    assay_model *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (rows) { /* the chosen images, copied in order */
        pix = assay_mallocarray((size_t)(nrows ? nrows : 1), (size_t)P);
        lab = assay_mallocarray((size_t)(nrows ? nrows : 1), sizeof *lab);
        if (!pix || !lab) goto nomem;
        for (int64_t i = 0; i < nrows; i++) {
            if (rows[i] < 0 || rows[i] >= im->n) {
                rc = assay_error_set(err, ASSAY_EINVAL, "images: row %lld out of range", (long long)rows[i]);
                goto fail;
            }
            memcpy(pix + i * P, im->pix + rows[i] * P, (size_t)P);
            lab[i] = im->labels[rows[i]];
        }
        sub.pix = pix, sub.labels = lab, sub.n = nrows;
    }
    if (!(y = assay_mallocarray((size_t)(nrows ? nrows : 1), sizeof *y))) goto nomem;
    for (int64_t i = 0; i < nrows; i++) y[i] = sub.labels[i];
    m->image = 1;
    m->img_c = im->c, m->img_h = im->h, m->img_w = im->w;
    assay_images_channel_stats(&sub, m->img_mean, m->img_std);
    for (int c = 0; c < im->c; c++)
        if (!(m->img_std[c] > 1e-6f)) m->img_std[c] = 1.0f; /* a constant channel */
    m->task = im->nclasses == 2 ? ASSAY_TASK_BINARY : ASSAY_TASK_MULTICLASS;
    m->nclasses = im->nclasses;
    m->positive = m->task == ASSAY_TASK_BINARY ? 1 : 0;
    m->threshold = 0.5;
    m->target_type = ASSAY_COL_CATEGORICAL;
    if (!(m->labels = assay_calloc((size_t)im->nclasses, sizeof *m->labels))) goto nomem;
    for (int k = 0; k < im->nclasses; k++)
        if (!(m->labels[k] = assay_strdup(im->class_names[k]))) goto nomem;
    /* the input shape is part of the parameters, so the model file says it */
    assay_buf pb = {0};
    const char *given = o->params ? o->params : "";
    assay_buf_printf(&pb, "%s%s", given, *given ? "," : "");
    if (!strstr(given, "input=")) assay_buf_printf(&pb, "input=%dx%dx%d", im->c, im->h, im->w);
    else if (pb.len) pb.data[--pb.len] = 0;
    m->params = pb.data ? pb.data : assay_strdup("");
    if (!m->params || !(m->kind = assay_strdup(kind)) || !(m->target = assay_strdup("label"))) goto nomem;
    assay_params params = {0};
    if ((rc = assay_params_parse(m->params, &params, err))) goto fail;
    rc = vt->create(&params, m->task, m->nclasses, P, &m->est, err);
    assay_params_deinit(&params);
    if (rc) goto fail;
    assay_design design = {.X = {.n = 0, .d = P}, .y = y, .task = m->task, .nclasses = m->nclasses,
                           .seed = o->seed, .images = &sub, .img_mean = m->img_mean,
                           .img_std = m->img_std};
    if ((rc = m->est->vt->fit(m->est, &design, err))) goto fail;
    assay_free(pix);
    assay_free(lab);
    assay_free(y);
    *out = m;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory fitting the model");
fail:
    assay_free(pix);
    assay_free(lab);
    assay_free(y);
    assay_model_free(m);
    return rc;
}

int assay_model_image_input(const assay_model *m, int *c, int *h, int *w) {
    if (c) *c = m->img_c;
    if (h) *h = m->img_h;
    if (w) *w = m->img_w;
    return m->image;
}

int assay_model_predict_images(const assay_model *m, const assay_images *im, const int64_t *rows,
                               int64_t nrows, double *out, assay_error *err) {
    if (!m->image)
        return assay_error_set(err, ASSAY_EINVAL, "this %s model takes table rows, not images", m->kind);
    if (im->c != m->img_c || im->h != m->img_h || im->w != m->img_w)
        return assay_error_set(err, ASSAY_ESCHEMA, "the images are %dx%dx%d; the model takes %dx%dx%d",
                               im->c, im->h, im->w, m->img_c, m->img_h, m->img_w);
    if (!rows) nrows = im->n;
    const int64_t P = (int64_t)im->c * im->h * im->w, chunk = 1024;
    const int width = assay_model_output_width(m);
    float *X = assay_mallocarray((size_t)chunk, (size_t)P * sizeof(float));
    int64_t *idx = assay_mallocarray((size_t)chunk, sizeof *idx);
    int rc = X && idx ? ASSAY_OK : assay_error_set(err, ASSAY_ENOMEM, "out of memory predicting");
    for (int64_t s = 0; s < nrows && !rc; s += chunk) {
        int64_t n = nrows - s < chunk ? nrows - s : chunk;
        for (int64_t i = 0; i < n; i++) {
            idx[i] = rows ? rows[s + i] : s + i;
            if (idx[i] < 0 || idx[i] >= im->n) {
                rc = assay_error_set(err, ASSAY_EINVAL, "images: row %lld out of range", (long long)idx[i]);
                break;
            }
        }
        if (rc) break;
        assay_images_batch(X, im, idx, n, m->img_mean, m->img_std, NULL, 0, 0);
        assay_matrix mx = {.n = n, .d = P, .dense = X};
        rc = m->est->vt->predict(m->est, &mx, out + s * width, err);
        if (!rc) calibrate_rows(m, out + s * width, n);
    }
    assay_free(X);
    assay_free(idx);
    return rc;
}

char *assay_model_training_json(const assay_model *m) {
    if (!m->est->vt->training) return NULL;
    json_t *j = m->est->vt->training(m->est);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(j);
    char *r = s ? assay_strdup(s) : NULL;
    free(s);
    return r;
}

/* ---- accessors --------------------------------------------------------------------------- */

assay_task assay_model_task(const assay_model *m) { return m->task; }
const char *assay_model_kind(const assay_model *m) { return m->kind; }
const char *assay_model_params(const assay_model *m) { return m->params; }
const char *assay_model_target(const assay_model *m) { return m->target; }
int assay_model_nclasses(const assay_model *m) { return m->nclasses; }
const char *assay_model_label(const assay_model *m, int k) {
    return k >= 0 && k < m->nclasses ? m->labels[k] : NULL;
}
int assay_model_positive(const assay_model *m) { return m->positive; }
const assay_pipeline *assay_model_pipeline(const assay_model *m) { return m->pipe; }
int64_t assay_model_nfeatures(const assay_model *m) { return m->est->nfeatures; }
int assay_model_output_width(const assay_model *m) {
    return m->task == ASSAY_TASK_REGRESSION ? 1 : m->nclasses;
}
double assay_model_threshold(const assay_model *m) { return m->threshold; }
void assay_model_set_threshold(assay_model *m, double t) { m->threshold = t; }

const assay_col_override *assay_model_read_overrides(const assay_model *m, int *n) {
    *n = m->noverrides;
    return m->overrides;
}

int assay_model_target_width(const assay_model *m) { return assay_target_width(m->task, m->nclasses); }

const char *assay_model_decision(const assay_model *m, const double *row, assay_buf *buf) {
    buf->len = 0;
    if (m->task == ASSAY_TASK_MULTILABEL) {
        for (int k = 0; k < m->nclasses; k++) {
            if (!(row[k] >= m->threshold)) continue;
            if ((buf->len && assay_buf_printf(buf, "%c", ASSAY_LABEL_SEP)) || assay_buf_printf(buf, "%s", m->labels[k]))
                return "";
        }
    } else if (m->task != ASSAY_TASK_REGRESSION) {
        return m->labels[assay_model_decide(m, row)];
    }
    return buf->len ? buf->data : "";
}

int assay_model_decide(const assay_model *m, const double *row) {
    if (m->task == ASSAY_TASK_BINARY) return row[m->positive] >= m->threshold ? m->positive : 1 - m->positive;
    int best = 0;
    for (int k = 1; k < m->nclasses; k++)
        if (row[k] > row[best]) best = k;
    return best;
}

/* ---- prediction -------------------------------------------------------------------------- */

int assay_model_predict_matrix(const assay_model *m, const assay_matrix *X, double *out,
                               assay_error *err) {
    if (X->d != m->est->nfeatures)
        return assay_error_set(err, ASSAY_ESCHEMA, "design has %lld features, the model %lld",
                               (long long)X->d, (long long)m->est->nfeatures);
    int rc = m->est->vt->predict(m->est, X, out, err);
    if (!rc) calibrate_rows(m, out, X->n);
    return rc;
}

int assay_model_predict(const assay_model *m, const assay_table *t, const int64_t *rows,
                        int64_t nrows, double *out, assay_error *err) {
    if (m->image) return refuse_images(m, err);
    if (!rows) nrows = t->nrows;
    int64_t d = m->est->nfeatures;
    int width = assay_model_output_width(m);
    int64_t chunk = nrows < PREDICT_CHUNK ? nrows : PREDICT_CHUNK;
    int sparse = assay_pipeline_sparse(m->pipe);
    float *X = assay_mallocarray(sparse ? 1 : (size_t)(chunk ? chunk : 1) * (size_t)d, sizeof *X);
    int64_t *idx = rows ? NULL : assay_mallocarray((size_t)(chunk ? chunk : 1), sizeof *idx);
    if (!X || (!rows && !idx)) {
        assay_free(X);
        assay_free(idx);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory predicting");
    }
    int rc = ASSAY_OK;
    for (int64_t start = 0; start < nrows && !rc; start += chunk) {
        int64_t n = nrows - start < chunk ? nrows - start : chunk;
        const int64_t *r = rows ? rows + start : idx;
        if (!rows)
            for (int64_t i = 0; i < n; i++) idx[i] = start + i;
        assay_csr xs = {0};
        rc = sparse ? assay_pipeline_transform_csr(m->pipe, t, r, n, &xs, err)
                    : assay_pipeline_transform(m->pipe, t, r, n, X, err);
        if (!rc) {
            assay_matrix mx = {.n = n, .d = d, .dense = sparse ? NULL : X, .csr = sparse ? &xs : NULL};
            rc = m->est->vt->predict(m->est, &mx, out + start * width, err);
            if (!rc) calibrate_rows(m, out + start * width, n);
        }
        assay_csr_deinit(&xs);
    }
    assay_free(X);
    assay_free(idx);
    return rc;
}

int assay_model_explain_width(const assay_model *m) {
    return m->est->vt->explain ? (m->task == ASSAY_TASK_MULTICLASS ? m->nclasses : 1) : 0;
}

int assay_model_explain(const assay_model *m, const assay_table *t, const int64_t *rows,
                        int64_t nrows, double *phi, assay_error *err) {
    if (!m->est->vt->explain)
        return assay_error_set(err, ASSAY_EINVAL, "model '%s' has no per-prediction explanations "
                               "(%s)", m->kind, m->task == ASSAY_TASK_MULTILABEL ? "multilabel models have none yet" : "gbdt has");
    if (m->image) return refuse_images(m, err);
    if (assay_pipeline_sparse(m->pipe))
        return assay_error_set(err, ASSAY_EINVAL, "model '%s': explanations of text features are not "
                               "supported", m->kind);
    if (!rows) nrows = t->nrows;
    int64_t d = m->est->nfeatures;
    int64_t stride = (int64_t)assay_model_explain_width(m) * (d + 1);
    int64_t chunk = nrows < PREDICT_CHUNK ? nrows : PREDICT_CHUNK;
    float *X = assay_mallocarray((size_t)(chunk ? chunk : 1) * (size_t)d, sizeof *X);
    int64_t *idx = assay_mallocarray((size_t)(chunk ? chunk : 1), sizeof *idx);
    int rc = X && idx ? ASSAY_OK : assay_error_set(err, ASSAY_ENOMEM, "out of memory explaining");
    for (int64_t start = 0; start < nrows && !rc; start += chunk) {
        int64_t n = nrows - start < chunk ? nrows - start : chunk;
        for (int64_t i = 0; i < n; i++) idx[i] = rows ? rows[start + i] : start + i;
        rc = assay_pipeline_transform(m->pipe, t, idx, n, X, err);
        if (!rc) {
            assay_matrix mx = {.n = n, .d = d, .dense = X};
            rc = m->est->vt->explain(m->est, &mx, phi + start * stride, err);
        }
    }
    assay_free(X);
    assay_free(idx);
    return rc;
}

int assay_model_coefficients_width(const assay_model *m) {
    if (!m->est->vt->coefficients) return 0;
    return m->task == ASSAY_TASK_MULTICLASS ? m->nclasses : 1;
}

int assay_model_coefficients(const assay_model *m, double *coef) {
    if (!m->est->vt->coefficients) return ASSAY_EINVAL;
    return m->est->vt->coefficients(m->est, coef);
}

int assay_model_importance(const assay_model *m, double *gain, double *splits) {
    if (!m->est->vt->importance) return ASSAY_EINVAL;
    return m->est->vt->importance(m->est, gain, splits);
}

int assay_model_encode_target(const assay_model *m, const assay_table *t, const int64_t *rows,
                              int64_t nrows, double *y, assay_error *err) {
    if (!rows) nrows = t->nrows;
    int ci = assay_table_find(t, m->target);
    if (ci < 0)
        return assay_error_set(err, ASSAY_ESCHEMA, "%s: no target column '%s'", source_name(t),
                               m->target);
    const assay_column *c = &t->cols[ci];
    char buf[64];
    for (int64_t i = 0; i < nrows; i++) {
        int64_t r = rows ? rows[i] : i;
        if (c->missing[r])
            return assay_error_set(err, ASSAY_ESCHEMA, "%s: row %lld: target '%s' is missing",
                                   source_name(t), (long long)r + 1, m->target);
        if (m->task == ASSAY_TASK_MULTILABEL) {
            int rc = encode_label_set(t, c, r, m->labels, m->nclasses, y + i * m->nclasses,
                                      "unknown to the model", err);
            if (rc) return rc;
            continue;
        }
        if (m->task == ASSAY_TASK_REGRESSION) {
            if (c->type != ASSAY_COL_NUMERIC || !isfinite(c->num[r]))
                return assay_error_set(err, ASSAY_ESCHEMA,
                                       "%s: row %lld: target '%s' is not a finite number",
                                       source_name(t), (long long)r + 1, m->target);
            y[i] = c->num[r];
            continue;
        }
        const char *s = target_cell_label(c, r, buf, sizeof buf);
        int k = label_index(m->labels, m->nclasses, s);
        if (k < 0)
            return assay_error_set(err, ASSAY_ESCHEMA,
                                   "%s: row %lld: target '%s' has label '%s', unknown to the model",
                                   source_name(t), (long long)r + 1, m->target, s);
        y[i] = k;
    }
    return ASSAY_OK;
}

/* ---- info -------------------------------------------------------------------------------- */

int assay_model_set_info(assay_model *m, const char *key, const char *json_value,
                         assay_error *err) {
    json_error_t je;
    json_t *probe = json_loads(json_value, JSON_DECODE_ANY, &je);
    if (!probe)
        return assay_error_set(err, ASSAY_EINVAL, "model info '%s': not JSON: %s", key, je.text);
    json_decref(probe);
    for (int i = 0; i < m->ninfo; i++) {
        if (strcmp(m->info_keys[i], key) == 0) {
            char *v = assay_strdup(json_value);
            if (!v) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
            assay_free(m->info_vals[i]);
            m->info_vals[i] = v;
            return ASSAY_OK;
        }
    }
    char **k = assay_reallocarray(m->info_keys, (size_t)m->ninfo + 1, sizeof *k);
    if (!k) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    m->info_keys = k;
    char **v = assay_reallocarray(m->info_vals, (size_t)m->ninfo + 1, sizeof *v);
    if (!v) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    m->info_vals = v;
    k[m->ninfo] = assay_strdup(key);
    v[m->ninfo] = assay_strdup(json_value);
    if (!k[m->ninfo] || !v[m->ninfo]) {
        assay_free(k[m->ninfo]);
        assay_free(v[m->ninfo]);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    m->ninfo++;
    return ASSAY_OK;
}

const char *assay_model_info(const assay_model *m, const char *key) {
    for (int i = 0; i < m->ninfo; i++)
        if (strcmp(m->info_keys[i], key) == 0) return m->info_vals[i];
    return NULL;
}

/* ---- save / load ------------------------------------------------------------------------- */

static char *dump(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s) return NULL;
    char *c = assay_strdup(s);
    free(s); /* jansson allocates with libc */
    return c;
}

static int meta_json(assay_mfile_writer *w, const char *key, json_t *value, assay_error *err) {
    if (!value) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    char *s = dump(value);
    if (!s) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    int rc = assay_mfile_writer_meta(w, key, s, err);
    assay_free(s);
    return rc;
}

int assay_model_save(const assay_model *m, const char *path, assay_error *err) {
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (!w) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    int rc;
    char *pipe = NULL;
    json_t *labels = json_array(), *schema = json_array(), *estmeta = json_object();
    if (!labels || !schema || !estmeta) goto nomem;
    for (int k = 0; k < m->nclasses; k++) json_array_append_new(labels, json_string(m->labels[k]));
    for (int i = 0; i < m->noverrides; i++)
        json_array_append_new(schema, json_pack("{s:s,s:s}", "name", m->overrides[i].name, "type",
                                                assay_coltype_name(m->overrides[i].type)));
    if (m->image)
        json_array_append_new(schema, json_pack("{s:s,s:s}", "name", m->target, "type",
                                                assay_coltype_name(m->target_type)));
    if ((rc = m->est->vt->save(m->est, w, "est.", estmeta, err))) goto fail;
    char num[64];
    if ((rc = assay_mfile_writer_meta(w, "assay.kind", m->kind, err)) ||
        (rc = assay_mfile_writer_meta(w, "assay.params", m->params, err)) ||
        (rc = assay_mfile_writer_meta(w, "assay.task", assay_task_name(m->task), err)) ||
        (rc = assay_mfile_writer_meta(w, "assay.target", m->target, err)) ||
        (rc = assay_mfile_writer_meta(w, "assay.positive",
                                      (snprintf(num, sizeof num, "%d", m->positive), num), err)) ||
        (rc = assay_mfile_writer_meta(w, "assay.threshold",
                                      (snprintf(num, sizeof num, "%.17g", m->threshold), num), err)) ||
        (rc = assay_mfile_writer_meta(w, "assay.nfeatures",
                                      (snprintf(num, sizeof num, "%lld",
                                                (long long)m->est->nfeatures), num), err)))
        goto fail;
    rc = meta_json(w, "assay.labels", labels, err);
    labels = NULL;
    if (rc) goto fail;
    rc = meta_json(w, "assay.schema", schema, err);
    schema = NULL;
    if (rc) goto fail;
    rc = meta_json(w, "assay.estimator", estmeta, err);
    estmeta = NULL;
    if (rc) goto fail;
    if (m->image) {
        json_t *in = json_pack("{s:s,s:[iii]}", "kind", "image", "shape", m->img_c, m->img_h, m->img_w);
        json_t *mean = json_array(), *sd = json_array();
        for (int c = 0; in && mean && sd && c < m->img_c; c++) {
            json_array_append_new(mean, json_real(m->img_mean[c]));
            json_array_append_new(sd, json_real(m->img_std[c]));
        }
        if (!in || !mean || !sd || json_object_set_new(in, "mean", mean) || json_object_set_new(in, "std", sd)) {
            json_decref(in);
            goto nomem;
        }
        if ((rc = meta_json(w, "assay.input", in, err))) goto fail;
    } else {
        if (!(pipe = assay_pipeline_to_json(m->pipe))) goto nomem;
        if ((rc = assay_mfile_writer_meta(w, "assay.pipeline", pipe, err))) goto fail;
    }
    if (m->cal) {
        json_t *c = m->cal->method == ASSAY_CALIBRATION_PLATT
                        ? json_pack("{s:s,s:f,s:f}", "method", "platt", "a", m->cal->a, "b", m->cal->b)
                        : json_pack("{s:s,s:[],s:[]}", "method", "isotonic", "x", "y");
        for (int64_t i = 0; c && m->cal->method == ASSAY_CALIBRATION_ISOTONIC && i < m->cal->n; i++) {
            json_array_append_new(json_object_get(c, "x"), json_real(m->cal->x[i]));
            json_array_append_new(json_object_get(c, "y"), json_real(m->cal->y[i]));
        }
        if (!c) goto nomem;
        if ((rc = meta_json(w, "assay.calibration", c, err))) goto fail;
    }
    if (m->ninfo) {
        json_t *info = json_object();
        for (int i = 0; info && i < m->ninfo; i++)
            json_object_set_new(info, m->info_keys[i], json_loads(m->info_vals[i], JSON_DECODE_ANY, NULL));
        rc = meta_json(w, "assay.info", info, err);
        if (rc) goto fail;
    }
    rc = assay_mfile_writer_save(w, path, err);
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory saving the model");
fail:
done:
    json_decref(labels);
    json_decref(schema);
    json_decref(estmeta);
    assay_free(pipe);
    assay_mfile_writer_free(w);
    return rc;
}

static int need_meta(const assay_mfile *f, const char *name, const char *key, const char **out,
                     assay_error *err) {
    *out = assay_mfile_meta(f, key);
    if (!*out)
        return assay_error_set(err, ASSAY_EFORMAT, "%s: metadata '%s' is missing", name, key);
    return ASSAY_OK;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* {"method": "platt", "a", "b"} or {"method": "isotonic", "x": [...], "y": [...]} */
static int calibration_from_json(assay_model *m, const char *s, const char *name, assay_error *err) {
    json_t *c = json_loads(s, 0, NULL);
    const char *method = json_string_value(json_object_get(c, "method"));
    int rc = ASSAY_EFORMAT;
    if (m->task != ASSAY_TASK_BINARY || !method) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.calibration", name);
    } else if (!strcmp(method, "platt")) {
        const json_t *a = json_object_get(c, "a"), *b = json_object_get(c, "b");
        rc = json_is_number(a) && json_is_number(b)
                 ? assay_calibrator_new_platt(json_number_value(a), json_number_value(b), &m->cal, err)
                 : assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.calibration", name);
    } else if (!strcmp(method, "isotonic")) {
        const json_t *x = json_object_get(c, "x"), *y = json_object_get(c, "y");
        size_t n = json_array_size(x);
        double *xs = n ? assay_mallocarray(n, sizeof *xs) : NULL, *ys = n ? assay_mallocarray(n, sizeof *ys) : NULL;
        int ok = n > 0 && n == json_array_size(y) && xs && ys;
        for (size_t i = 0; ok && i < n; i++) {
            ok = json_is_number(json_array_get(x, i)) && json_is_number(json_array_get(y, i));
            xs[i] = json_number_value(json_array_get(x, i));
            ys[i] = json_number_value(json_array_get(y, i));
        }
        rc = ok ? assay_calibrator_new_isotonic(xs, ys, (int64_t)n, &m->cal, err)
                : assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.calibration", name);
        assay_free(xs);
        assay_free(ys);
    } else {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: unknown calibration method '%.32s'", name, method);
    }
    json_decref(c);
    if (rc && rc != ASSAY_EFORMAT && rc != ASSAY_ENOMEM) {
        assay_error_prefix(err, "%s: assay.calibration", name);
        rc = err ? (err->code = ASSAY_EFORMAT) : ASSAY_EFORMAT;
    }
    return rc;
}

/* {"kind": "image", "shape": [c, h, w], "mean": [c], "std": [c]} */
static int image_input_from_json(assay_model *m, const char *s, const char *name,
                                 assay_error *err) {
    json_t *in = json_loads(s, 0, NULL);
    const json_t *shape = json_object_get(in, "shape"), *mean = json_object_get(in, "mean"),
                 *sd = json_object_get(in, "std");
    const char *kind = json_string_value(json_object_get(in, "kind"));
    int ok = in && kind && !strcmp(kind, "image") && json_array_size(shape) == 3;
    long dims[3] = {0, 0, 0};
    for (int i = 0; ok && i < 3; i++) {
        const json_t *v = json_array_get(shape, (size_t)i);
        dims[i] = json_is_integer(v) ? (long)json_integer_value(v) : 0;
        ok = dims[i] >= 1 && dims[i] <= (i ? 65536 : MAX_IMAGE_CHANNELS);
    }
    ok = ok && dims[1] * dims[2] <= (1L << 26) && json_array_size(mean) == (size_t)dims[0] &&
         json_array_size(sd) == (size_t)dims[0];
    for (int c = 0; ok && c < dims[0]; c++) {
        double mu = json_number_value(json_array_get(mean, (size_t)c));
        double sg = json_number_value(json_array_get(sd, (size_t)c));
        ok = json_is_number(json_array_get(mean, (size_t)c)) && isfinite(mu) && sg > 0 && isfinite(sg);
        m->img_mean[c] = (float)mu;
        m->img_std[c] = (float)sg;
    }
    json_decref(in);
    if (!ok) return assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.input", name);
    m->image = 1;
    m->img_c = (int)dims[0], m->img_h = (int)dims[1], m->img_w = (int)dims[2];
    return ASSAY_OK;
}

static int model_from_mfile(const assay_mfile *f, const char *name, assay_model **out,
                            assay_error *err) {
    int rc;
    const char *s;
    json_t *labels = NULL, *estmeta = NULL, *schema = NULL, *info = NULL;
    json_error_t je;
    assay_params params = {0};
    assay_model *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");

    if ((rc = need_meta(f, name, "assay.kind", &s, err))) goto fail;
    const assay_estimator_vt *vt = assay__estimator_find(s);
    if (!vt) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: unknown model kind '%.64s'", name, s);
        goto fail;
    }
    if (!(m->kind = assay_strdup(s))) goto nomem;
    if ((rc = need_meta(f, name, "assay.task", &s, err))) goto fail;
    if (assay_task_from_name(s, &m->task) || m->task == ASSAY_TASK_AUTO ||
        !assay__vt_supports(vt, m->task)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: invalid task '%.32s' for model '%s'", name,
                             s, m->kind);
        goto fail;
    }
    if ((rc = need_meta(f, name, "assay.target", &s, err))) goto fail;
    if (!(m->target = assay_strdup(s))) goto nomem;
    if ((rc = need_meta(f, name, "assay.params", &s, err))) goto fail;
    if (!(m->params = assay_strdup(s))) goto nomem;
    if ((rc = assay_params_parse(m->params, &params, err))) {
        rc = assay_error_prefix(err, "%s: assay.params", name);
        rc = ASSAY_EFORMAT;
        err->code = rc;
        goto fail;
    }

    /* Labels. */
    if ((rc = need_meta(f, name, "assay.labels", &s, err))) goto fail;
    labels = json_loads(s, 0, &je);
    if (!labels || !json_is_array(labels)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: assay.labels is not a JSON array", name);
        goto fail;
    }
    size_t nl = json_array_size(labels);
    if (m->task == ASSAY_TASK_REGRESSION ? nl != 0
                                          : (nl < 2 || nl > 1000 ||
                                             (m->task == ASSAY_TASK_BINARY && nl != 2))) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: %zu labels for a %s model", name, nl,
                             assay_task_name(m->task));
        goto fail;
    }
    if (nl) {
        m->labels = assay_calloc(nl, sizeof *m->labels);
        if (!m->labels) goto nomem;
        m->nclasses = (int)nl;
        for (size_t k = 0; k < nl; k++) {
            const char *l = json_string_value(json_array_get(labels, k));
            if (!l) {
                rc = assay_error_set(err, ASSAY_EFORMAT, "%s: label %zu is not a string", name, k);
                goto fail;
            }
            if (!(m->labels[k] = assay_strdup(l))) goto nomem;
        }
    }
    long v;
    if ((rc = need_meta(f, name, "assay.positive", &s, err))) goto fail;
    if (parse_long(s, 0, m->nclasses ? m->nclasses - 1 : 0, &v)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.positive '%.32s'", name, s);
        goto fail;
    }
    m->positive = (int)v;
    if ((rc = need_meta(f, name, "assay.threshold", &s, err))) goto fail;
    char *end;
    m->threshold = strtod(s, &end);
    if (end == s || *end || !(m->threshold >= 0.0 && m->threshold <= 1.0)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.threshold '%.32s'", name, s);
        goto fail;
    }

    /* Pipeline (or image input) and schema. */
    int64_t d;
    if ((s = assay_mfile_meta(f, "assay.input"))) {
        if ((rc = image_input_from_json(m, s, name, err))) goto fail;
        d = (int64_t)m->img_c * m->img_h * m->img_w;
    } else {
        if ((rc = need_meta(f, name, "assay.pipeline", &s, err))) goto fail;
        if ((rc = assay_pipeline_from_json(s, &m->pipe, err))) {
            assay_error_prefix(err, "%s: assay.pipeline", name);
            goto fail;
        }
        d = assay_pipeline_nfeatures(m->pipe);
    }
    if ((rc = need_meta(f, name, "assay.nfeatures", &s, err))) goto fail;
    if (parse_long(s, 1, 100000000, &v) || v != d) {
        rc = assay_error_set(err, ASSAY_EFORMAT,
                             "%s: assay.nfeatures '%.32s' does not match the input's %lld",
                             name, s, (long long)d);
        goto fail;
    }
    if ((rc = need_meta(f, name, "assay.schema", &s, err))) goto fail;
    schema = json_loads(s, 0, &je);
    const char *tt = NULL;
    if (schema && json_is_array(schema) && json_array_size(schema) > 0)
        tt = json_string_value(json_object_get(
            json_array_get(schema, json_array_size(schema) - 1), "type"));
    if (!tt || assay_coltype_from_name(tt, &m->target_type)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: invalid assay.schema", name);
        goto fail;
    }
    if (!m->image && build_overrides(m)) goto nomem;

    /* Estimator. */
    if ((rc = need_meta(f, name, "assay.estimator", &s, err))) goto fail;
    estmeta = json_loads(s, 0, &je);
    if (!estmeta || !json_is_object(estmeta)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: assay.estimator is not a JSON object", name);
        goto fail;
    }
    if ((rc = assay__estimator_create(vt, &params, m->task, m->nclasses, d, &m->est, err))) {
        assay_error_prefix(err, "%s", name);
        err->code = rc = ASSAY_EFORMAT;
        goto fail;
    }
    if ((rc = m->est->vt->load(m->est, f, "est.", estmeta, err))) {
        assay_error_prefix(err, "%s", name);
        goto fail;
    }

    /* Calibration (binary). */
    if ((s = assay_mfile_meta(f, "assay.calibration")) && (rc = calibration_from_json(m, s, name, err)))
        goto fail;

    /* Info: one JSON object of key -> JSON value. */
    if ((s = assay_mfile_meta(f, "assay.info"))) {
        info = json_loads(s, 0, &je);
        if (!info || !json_is_object(info)) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "%s: assay.info is not a JSON object", name);
            goto fail;
        }
        const char *key;
        json_t *val;
        json_object_foreach(info, key, val) {
            char *text = dump(json_incref(val));
            if (!text) goto nomem;
            rc = assay_model_set_info(m, key, text, err);
            assay_free(text);
            if (rc) goto fail;
        }
    }
    json_decref(labels);
    json_decref(schema);
    json_decref(estmeta);
    json_decref(info);
    assay_params_deinit(&params);
    *out = m;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory loading the model");
fail:
    json_decref(labels);
    json_decref(schema);
    json_decref(estmeta);
    json_decref(info);
    assay_params_deinit(&params);
    assay_model_free(m);
    return rc;
}

int assay_model_load(const char *path, assay_model **out, assay_error *err) {
    *out = NULL;
    assay_mfile *f = NULL;
    int rc = assay_mfile_load(path, &f, err);
    if (rc) return rc;
    rc = model_from_mfile(f, path, out, err);
    assay_mfile_free(f);
    return rc;
}

int assay_model_load_buffer(const void *buf, size_t len, const char *name, assay_model **out,
                            assay_error *err) {
    *out = NULL;
    assay_mfile *f = NULL;
    int rc = assay_mfile_load_buffer(buf, len, name, &f, err);
    if (rc) return rc;
    rc = model_from_mfile(f, name, out, err);
    assay_mfile_free(f);
    return rc;
}
