/* report.c - metrics as text (scikit-learn's classification_report layout plus a confusion
 * matrix, or one regression metric per line) and as a JSON document (built with jansson).
 *
 * Widths count Unicode code points, as Python's str.format does, so reports with UTF-8 label
 * names line up like sklearn's. It computes nothing: metrics.c fills assay_metrics. */
#include <jansson.h>

#include "eval_internal.h"

/* Code points in a UTF-8 string (continuation bytes are not counted). */
static int text_width(const char *s) {
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) w += (*p & 0xC0) != 0x80;
    return w;
}

/* s right-aligned in a field of width code points (Python's "{:>{width}s}"). */
static int put_right(assay_buf *b, const char *s, int width) {
    int pad = width - text_width(s);
    if (pad > 0 && assay_buf_printf(b, "%*s", pad, "")) return ASSAY_ENOMEM;
    return assay_buf_printf(b, "%s", s);
}

/* Label k: the caller's name, or the class index when there is none. */
static const char *label_of(const char *const *labels, int k, char *buf, size_t cap) {
    if (labels && labels[k]) return labels[k];
    snprintf(buf, cap, "%d", k);
    return buf;
}

static int format_classification(const assay_metrics *m, const char *const *labels, assay_buf *b) {
    const int K = m->nclasses;
    char nb[32];
    /* sklearn: width = max(longest name, len("weighted avg"), digits) */
    int width = 12;
    for (int k = 0; k < K; k++) width = ASSAY_MAX(width, text_width(label_of(labels, k, nb, sizeof nb)));
    int rc = put_right(b, "", width);
    rc |= assay_buf_printf(b, "  %9s %9s %9s %9s\n\n", "precision", "recall", "f1-score", "support");
    for (int k = 0; k < K && !rc; k++) {
        const assay_class_stats *s = &m->per_class[k];
        rc |= put_right(b, label_of(labels, k, nb, sizeof nb), width);
        rc |= assay_buf_printf(b, "  %9.2f %9.2f %9.2f %9lld\n", s->precision, s->recall, s->f1,
                               (long long)s->support);
    }
    rc |= assay_buf_printf(b, "\n");
    /* micro average is accuracy for single-label data over all classes: sklearn prints it with
     * the precision and recall cells empty and micro F1 under f1-score */
    /* sklearn prints "micro avg" in full instead when some class is neither true nor
     * predicted anywhere (its labels then differ from those present in the data) */
    const int multi = m->task == ASSAY_TASK_MULTILABEL;
    int64_t support = 0; /* multilabel: sklearn's averages count every true label */
    for (int k = 0; k < K; k++) support += m->per_class[k].support;
    if (!multi) support = m->n;
    int all_present = !multi;
    for (int k = 0; k < K && !multi; k++) {
        int64_t pred_sum = 0;
        for (int t = 0; t < K; t++) pred_sum += m->confusion[(int64_t)t * K + k];
        if (m->per_class[k].support == 0 && pred_sum == 0) all_present = 0;
    }
    if (all_present) {
        rc |= put_right(b, "accuracy", width);
        rc |= assay_buf_printf(b, "  %9s %9s %9.2f %9lld\n", "", "", m->f1_micro, (long long)m->n);
    } else {
        rc |= put_right(b, "micro avg", width);
        rc |= assay_buf_printf(b, "  %9.2f %9.2f %9.2f %9lld\n", m->precision_micro,
                               m->recall_micro, m->f1_micro, (long long)support);
    }
    rc |= put_right(b, "macro avg", width);
    rc |= assay_buf_printf(b, "  %9.2f %9.2f %9.2f %9lld\n", m->precision_macro, m->recall_macro,
                           m->f1_macro, (long long)support);
    rc |= put_right(b, "weighted avg", width);
    rc |= assay_buf_printf(b, "  %9.2f %9.2f %9.2f %9lld\n", m->precision_weighted,
                           m->recall_weighted, m->f1_weighted, (long long)support);
    if (rc) return ASSAY_ENOMEM;
    if (multi) {
        static const char *const ml[] = {"accuracy", "hamming_loss", "precision_at_1", "log_loss",
                                         "roc_auc", "average_precision"};
        rc |= assay_buf_printf(b, "\n(labels predicted at probability >= 0.5; accuracy: every label of the row right)\n");
        for (size_t i = 0; i < sizeof ml / sizeof ml[0]; i++) {
            double v = assay_metrics_get(m, ml[i]);
            if (!isnan(v)) rc |= assay_buf_printf(b, "%-17s %.4f\n", ml[i], v);
        }
        return rc ? ASSAY_ENOMEM : ASSAY_OK;
    }

    /* confusion matrix: each column as wide as its label and the largest count */
    int namew = 4; /* "true" */
    int64_t maxc = 0;
    for (int k = 0; k < K; k++) namew = ASSAY_MAX(namew, text_width(label_of(labels, k, nb, sizeof nb)));
    for (int64_t i = 0; i < (int64_t)K * K; i++) maxc = ASSAY_MAX(maxc, m->confusion[i]);
    int numw = snprintf(nb, sizeof nb, "%lld", (long long)maxc);
    rc |= assay_buf_printf(b, "\nconfusion matrix (rows: true, columns: predicted)\n");
    rc |= put_right(b, "", namew);
    for (int c = 0; c < K && !rc; c++) {
        const char *l = label_of(labels, c, nb, sizeof nb);
        rc |= assay_buf_printf(b, "  ");
        rc |= put_right(b, l, ASSAY_MAX(numw, text_width(l)));
    }
    rc |= assay_buf_printf(b, "\n");
    for (int t = 0; t < K && !rc; t++) {
        rc |= put_right(b, label_of(labels, t, nb, sizeof nb), namew);
        for (int c = 0; c < K && !rc; c++) {
            int w = ASSAY_MAX(numw, text_width(label_of(labels, c, nb, sizeof nb)));
            rc |= assay_buf_printf(b, "  %*lld", w, (long long)m->confusion[(int64_t)t * K + c]);
        }
        rc |= assay_buf_printf(b, "\n");
    }
    if (rc) return ASSAY_ENOMEM;

    /* the probability metrics, where defined */
    static const char *const extra[] = {"log_loss", "roc_auc", "average_precision", "brier"};
    int first = 1;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0] && !rc; i++) {
        double v = assay_metrics_get(m, extra[i]);
        if (isnan(v)) continue;
        if (first) rc |= assay_buf_printf(b, "\n");
        first = 0;
        rc |= assay_buf_printf(b, "%-17s %.4f\n", extra[i], v);
    }
    return rc ? ASSAY_ENOMEM : ASSAY_OK;
}

int assay_metrics_format(const assay_metrics *m, const char *const *labels, assay_buf *out) {
    if (!m || !out) return ASSAY_EINVAL;
    if (m->task == ASSAY_TASK_REGRESSION) {
        static const char *const names[] = {"rmse", "mae", "r2", "mape"};
        int rc = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            rc |= assay_buf_printf(out, "%-4s  %.6g\n", names[i], assay_metrics_get(m, names[i]));
        return rc ? ASSAY_ENOMEM : ASSAY_OK;
    }
    if (m->task != ASSAY_TASK_BINARY && m->task != ASSAY_TASK_MULTICLASS && m->task != ASSAY_TASK_MULTILABEL)
        return ASSAY_EINVAL;
    if (!m->per_class || (!m->confusion && m->task != ASSAY_TASK_MULTILABEL) || m->nclasses < 1) return ASSAY_EINVAL;
    return format_classification(m, labels, out);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/* A number, or null when it is NaN or infinite (JSON has neither). */
static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Adds v under key; the key is dropped if either failed (reported through *bad). */
static void jset(json_t *obj, const char *key, json_t *v, int *bad) {
    if (!v || json_object_set_new(obj, key, v)) *bad = 1;
}

/* A label as a JSON string: names that are not valid UTF-8 fall back to the class index. */
static const char *json_label(const char *const *labels, int k, char *buf, size_t cap) {
    const char *l = label_of(labels, k, buf, cap);
    json_t *probe = json_string(l);
    if (!probe) {
        snprintf(buf, cap, "%d", k);
        return buf;
    }
    json_decref(probe);
    return l;
}

char *assay_metrics_to_json(const assay_metrics *m, const char *const *labels) {
    if (!m) return NULL;
    int bad = 0;
    json_t *doc = json_object();
    if (!doc) return NULL;
    jset(doc, "task", json_string(assay_task_name(m->task)), &bad);
    jset(doc, "n", json_integer((json_int_t)m->n), &bad);
    const char *name;
    double v;
    if (m->task == ASSAY_TASK_REGRESSION) {
        static const char *const names[] = {"rmse", "mae", "r2", "mape"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            jset(doc, names[i], jnum(assay_metrics_get(m, names[i])), &bad);
    } else {
        /* every classification scalar: the fields before mae in the fixed order */
        const int multi = m->task == ASSAY_TASK_MULTILABEL;
        for (int i = 0; assay__metrics_field(i, &name, &v, m) && strcmp(name, "mae") != 0; i++)
            if (multi || (strcmp(name, "hamming_loss") != 0 && strcmp(name, "precision_at_1") != 0))
                jset(doc, name, jnum(v), &bad);
        const int K = m->nclasses;
        char nb[32];
        if (m->task == ASSAY_TASK_BINARY && K == 2)
            jset(doc, "positive", json_string(json_label(labels, m->positive, nb, sizeof nb)), &bad);
        json_t *per = json_object(), *names = json_array(), *matrix = json_array();
        jset(doc, "per_class", per, &bad);
        json_t *cm = multi ? NULL : json_object();
        if (!multi) jset(doc, "confusion_matrix", cm, &bad);
        if (cm) {
            jset(cm, "labels", names, &bad);
            jset(cm, "matrix", matrix, &bad);
        } else {
            json_decref(names);
            json_decref(matrix);
        }
        for (int k = 0; k < K && !bad && m->per_class && (m->confusion || multi); k++) {
            const char *l = json_label(labels, k, nb, sizeof nb);
            const assay_class_stats *s = &m->per_class[k];
            json_t *o = json_object();
            if (o) {
                jset(o, "precision", jnum(s->precision), &bad);
                jset(o, "recall", jnum(s->recall), &bad);
                jset(o, "f1", jnum(s->f1), &bad);
                jset(o, "support", json_integer((json_int_t)s->support), &bad);
            }
            jset(per, l, o, &bad);
            if (multi) continue;
            if (json_array_append_new(names, json_string(l))) bad = 1;
            json_t *row = json_array();
            for (int c = 0; c < K && row; c++)
                if (json_array_append_new(row, json_integer((json_int_t)m->confusion[(int64_t)k * K + c])))
                    bad = 1;
            if (!row || json_array_append_new(matrix, row)) bad = 1;
        }
    }
    char *text = bad ? NULL : json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (!text) return NULL;
    /* the caller frees with assay_free: copy out of jansson's allocator */
    char *res = assay_strdup(text);
    free(text);
    return res;
}
