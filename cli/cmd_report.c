/* cmd_report.c - `assay report MODEL --data FILE`: one self-contained HTML page describing a
 * table model on labelled rows (the test set): the model and the data, the leaderboard of
 * `fit --model auto`, the metrics at the model's decision threshold, charts as inline SVG (ROC,
 * precision-recall, calibration, cumulative gain and lift, confusion matrix, permutation and
 * gain importance, training curves, predicted vs actual) and, with a value specification, the
 * profit curve and its baselines.
 *
 * Deliberately not: JavaScript, external fonts, images or links, the date (the same inputs give
 * the same bytes), image models (they have no table columns to profile or permute). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TOP_IMPORTANCE 15
#define PERM_REPEATS 3
#define MAX_SCATTER 1000

typedef struct report {
    assay_buf b;
    int rc;                   /* first failure (ASSAY_ENOMEM or a chart's error) */
    int charts;
    const char *sections[16];
    int nsections;
} report;

static void put(report *r, const char *s) {
    if (!r->rc && assay_buf_append(&r->b, s, strlen(s))) r->rc = ASSAY_ENOMEM;
}

static void putf(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(report *r, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (len < 0) len = 0;
    if ((size_t)len >= sizeof tmp) len = (int)sizeof tmp - 1;
    if (!r->rc && assay_buf_append(&r->b, tmp, (size_t)len)) r->rc = ASSAY_ENOMEM;
}

/* Text escaped for HTML element content and attribute values. */
static void esc(report *r, const char *s) {
    for (; s && *s && !r->rc; s++) {
        switch (*s) {
        case '&': put(r, "&amp;"); break;
        case '<': put(r, "&lt;"); break;
        case '>': put(r, "&gt;"); break;
        case '"': put(r, "&quot;"); break;
        case '\'': put(r, "&#39;"); break;
        default:
            if (assay_buf_append(&r->b, s, 1)) r->rc = ASSAY_ENOMEM;
        }
    }
}

/* A number for a table cell: 4 decimals, or "n/a" when undefined. */
static const char *num(double v, char *buf, size_t cap) {
    if (!isfinite(v)) snprintf(buf, cap, "n/a");
    else snprintf(buf, cap, "%.4f", v);
    return buf;
}

static void section(report *r, const char *id, const char *title) {
    if (r->nsections < 16) r->sections[r->nsections++] = id;
    putf(r, "<section id=\"%s\"><h2>", id);
    esc(r, title);
    put(r, "</h2>\n");
}

/* A chart: <figure>, the SVG written by the caller between fig_begin and fig_end, caption. */
static size_t fig_begin(report *r) {
    put(r, "<figure>");
    return r->b.len;
}
static void fig_end(report *r, size_t start, int rc, const char *caption) {
    if (rc && !r->rc) r->rc = rc;
    /* SVG inline in HTML needs no namespace: drop it, so the page names no URL at all */
    static const char ns[] = " xmlns=\"http://www.w3.org/2000/svg\"";
    const size_t nl = sizeof ns - 1;
    for (size_t i = start; !r->rc && i + nl <= r->b.len; i++)
        if (memcmp(r->b.data + i, ns, nl) == 0) {
            memmove(r->b.data + i, r->b.data + i + nl, r->b.len - i - nl);
            r->b.len -= nl;
            r->b.data[r->b.len] = 0;
        }
    put(r, "<figcaption>");
    esc(r, caption);
    put(r, "</figcaption></figure>\n");
    r->charts++;
}

/* A line chart on the unit square with one reference line, as a figure with its caption. */
static void unit_chart(report *r, const char *title, const char *x_label, const char *y_label,
                       const assay_svg_series *s, int ns, assay_svg_refline ref, const char *caption) {
    assay_svg_line_opts o = {0};
    o.title = title;
    o.x_label = x_label;
    o.y_label = y_label;
    o.x_fixed = o.y_fixed = 1;
    o.x_max = o.y_max = 1;
    o.refs = &ref;
    o.nrefs = 1;
    size_t f0 = fig_begin(r);
    fig_end(r, f0, assay_svg_line_chart(&r->b, &o, s, ns), caption);
}

static void row2(report *r, const char *k, const char *v) {
    put(r, "<tr><th>");
    esc(r, k);
    put(r, "</th><td>");
    esc(r, v);
    put(r, "</td></tr>\n");
}

static const char CSS[] =
    "*{box-sizing:border-box}\n"
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;"
    "background:#fff;margin:0 auto;max-width:1100px;padding:16px}\n"
    "h1{font-size:1.5em;margin:0.3em 0}h2{font-size:1.2em;border-bottom:2px solid #0072b2;"
    "padding-bottom:2px;margin-top:1.6em}\n"
    "table{border-collapse:collapse;margin:0.5em 0;font-variant-numeric:tabular-nums}\n"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "td.n{text-align:right}thead th{background:#eef3f8}\n"
    ".scroll{overflow-x:auto;max-width:100%}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));"
    "gap:16px}\n"
    "figure{margin:0;padding:8px;border:1px solid #ddd;border-radius:4px;break-inside:avoid}\n"
    "figure svg{width:100%;height:auto;display:block}\n"
    "figcaption{font-size:0.9em;color:#444;margin-top:4px}\n"
    ".sel{font-weight:bold;background:#eaf6ea}\n"
    ".note{color:#555;font-size:0.9em}\n"
    "@media (max-width:600px){body{padding:8px;font-size:14px}th,td{padding:2px 4px}}\n"
    "@media print{body{max-width:none;padding:0;font-size:11pt}"
    ".charts{display:block}figure{page-break-inside:avoid;margin-bottom:12px;border:none}"
    "section{page-break-inside:auto}h2{page-break-after:avoid}"
    ".scroll{overflow:visible}}\n";

/* ---- data profile ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void profile_section(report *r, const assay_model *m, const assay_table *t) {
    const assay_pipeline *p = assay_model_pipeline(m);
    const char *target = assay_model_target(m);
    section(r, "data", "Data profile");
    putf(r, "<p>%lld rows, %d columns.</p>\n<div class=\"scroll\"><table><thead><tr><th>column</th>"
            "<th>role</th><th>type</th><th>missing %%</th><th>distinct</th><th>min</th>"
            "<th>mean</th><th>max</th><th>most frequent</th></tr></thead><tbody>\n",
         (long long)t->nrows, t->ncols);
    for (int j = 0; j < t->ncols && !r->rc; j++) {
        const assay_column *c = &t->cols[j];
        const char *role = "unused";
        if (strcmp(c->name, target) == 0) role = "target";
        for (int i = 0; i < assay_pipeline_ninputs(p); i++)
            if (strcmp(assay_pipeline_input_name(p, i), c->name) == 0) role = "input";
        int64_t n = t->nrows;
        put(r, "<tr><th>");
        esc(r, c->name);
        putf(r, "</th><td>%s</td><td>%s</td><td class=\"n\">%.1f</td>", role,
             assay_coltype_name(c->type), n ? 100.0 * (double)c->n_missing / (double)n : 0.0);
        if (c->num) {
            double lo = INFINITY, hi = -INFINITY, sum = 0;
            int64_t cnt = 0;
            for (int64_t i = 0; i < n; i++)
                if (!c->missing[i] && isfinite(c->num[i])) {
                    double v = c->num[i];
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                    sum += v;
                    cnt++;
                }
            /* distinct values: sort a copy */
            int64_t distinct = 0;
            double *v = malloc(sizeof *v * (size_t)(cnt ? cnt : 1));
            if (v) {
                int64_t k = 0;
                for (int64_t i = 0; i < n; i++)
                    if (!c->missing[i] && isfinite(c->num[i])) v[k++] = c->num[i];
                qsort(v, (size_t)k, sizeof *v, cmp_double);
                for (int64_t i = 0; i < k; i++) distinct += i == 0 || v[i] != v[i - 1];
                free(v);
            }
            putf(r, "<td class=\"n\">%lld</td><td class=\"n\">%.6g</td><td class=\"n\">%.6g</td>"
                    "<td class=\"n\">%.6g</td><td></td></tr>\n",
                 (long long)distinct, cnt ? lo : 0.0, cnt ? sum / (double)cnt : 0.0,
                 cnt ? hi : 0.0);
        } else if (c->cat) {
            int64_t *cnt = calloc((size_t)(c->nlevels ? c->nlevels : 1), sizeof *cnt);
            int64_t distinct = 0, best = -1;
            for (int64_t i = 0; cnt && i < n; i++)
                if (c->cat[i] >= 0 && c->cat[i] < c->nlevels) cnt[c->cat[i]]++;
            for (int32_t l = 0; cnt && l < c->nlevels; l++) {
                distinct += cnt[l] > 0;
                if (cnt[l] > 0 && (best < 0 || cnt[l] > cnt[best])) best = l;
            }
            putf(r, "<td class=\"n\">%lld</td><td></td><td></td><td></td><td>", (long long)distinct);
            if (best >= 0) {
                esc(r, c->levels[best]);
                putf(r, " (%.1f%%)", 100.0 * (double)cnt[best] / (double)n);
            }
            put(r, "</td></tr>\n");
            free(cnt);
        } else {
            put(r, "<td></td><td></td><td></td><td></td><td></td></tr>\n");
        }
    }
    put(r, "</tbody></table></div>\n");
    put(r, "</section>\n");
}

/* ---- leaderboard ---------------------------------------------------------------------------- */

static void leaderboard_section(report *r, const char *sel) {
    json_t *doc = json_loads(sel, 0, NULL), *lb = doc ? json_object_get(doc, "leaderboard") : NULL;
    if (!json_is_array(lb) || json_array_size(lb) == 0) {
        json_decref(doc);
        return;
    }
    char b1[64], b2[64];
    section(r, "leaderboard", "Model selection");
    const char *metric = json_string_value(json_object_get(doc, "metric"));
    put(r, "<p>Cross-validated ");
    esc(r, metric ? metric : "score");
    putf(r, " over %lld folds on the training data; the selected model is "
            "in bold.</p>\n<div class=\"scroll\"><table><thead><tr><th>#</th><th>model</th>"
            "<th>params</th><th>CV mean &plusmn; sd</th><th>selected</th></tr></thead><tbody>\n",
         (long long)json_integer_value(json_object_get(doc, "folds")));
    size_t i;
    json_t *e;
    json_array_foreach(lb, i, e) {
        int selected = json_is_true(json_object_get(e, "selected"));
        putf(r, "<tr%s><td class=\"n\">%zu</td><td>", selected ? " class=\"sel\"" : "", i + 1);
        esc(r, json_string_value(json_object_get(e, "model")));
        put(r, "</td><td>");
        esc(r, json_string_value(json_object_get(e, "params")));
        put(r, "</td><td class=\"n\">");
        if (json_is_true(json_object_get(e, "ran")))
            putf(r, "%s &plusmn; %s", num(json_number_value(json_object_get(e, "mean")), b1, sizeof b1),
                 num(json_number_value(json_object_get(e, "sd")), b2, sizeof b2));
        else
            put(r, "not run");
        putf(r, "</td><td>%s</td></tr>\n", selected ? "yes" : "");
    }
    put(r, "</tbody></table></div>\n</section>\n");
    json_decref(doc);
}

/* ---- permutation importance ---------------------------------------------------------------- */

typedef struct scorer {
    const assay_model *m;
    assay_task task;
    int width, pos;
    const double *y;
    const uint8_t *y01;
    double *out, *score; /* scratch: n x width, n */
    int64_t n;
} scorer;

/* The model's score on table t: ROC AUC (binary), accuracy (multiclass), micro F1 (multilabel),
 * -RMSE (regression). */
static int score_table(scorer *s, const assay_table *t, double *res, assay_error *err) {
    int rc = assay_model_predict(s->m, t, NULL, s->n, s->out, err);
    if (rc) return rc;
    if (s->task == ASSAY_TASK_BINARY) {
        for (int64_t i = 0; i < s->n; i++) s->score[i] = s->out[i * s->width + s->pos];
        *res = assay_metric_roc_auc(s->y01, s->score, s->n);
    } else if (s->task == ASSAY_TASK_MULTICLASS) {
        int64_t right = 0;
        for (int64_t i = 0; i < s->n; i++)
            right += assay_model_decide(s->m, s->out + i * s->width) == (int)s->y[i];
        *res = (double)right / (double)s->n;
    } else if (s->task == ASSAY_TASK_MULTILABEL) {
        assay_metrics met;
        if ((rc = assay_metrics_compute(s->task, s->width, 0, s->y, s->out, NULL, s->n, &met, err))) return rc;
        *res = met.f1_micro;
        assay_metrics_deinit(&met);
    } else {
        *res = -assay_metric_rmse(s->y, s->out, s->n);
    }
    return ASSAY_OK;
}

typedef struct imp_entry {
    const char *name;
    double mean, sd;
} imp_entry;

static int cmp_imp(const void *a, const void *b) {
    const imp_entry *x = a, *y = b;
    if (x->mean != y->mean) return x->mean < y->mean ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void importance_chart(report *r, imp_entry *e, int n, const char *title, const char *xlabel,
                             const char *caption) {
    qsort(e, (size_t)n, sizeof *e, cmp_imp);
    int k = n < TOP_IMPORTANCE ? n : TOP_IMPORTANCE;
    const char *labels[TOP_IMPORTANCE];
    double v[TOP_IMPORTANCE], sd[TOP_IMPORTANCE];
    for (int i = 0; i < k; i++) {
        labels[i] = e[i].name;
        v[i] = e[i].mean;
        sd[i] = e[i].sd;
    }
    assay_svg_bar_opts o = {0};
    o.title = title;
    o.x_label = xlabel;
    size_t f0 = fig_begin(r);
    fig_end(r, f0, assay_svg_hbar_chart(&r->b, &o, labels, v, sd, k), caption);
}

/* Permute one raw input column at a time (a permuted copy of just that column's arrays in a
 * shallow copy of the table), n_repeats times; importance = baseline - permuted score. */
static int permutation_chart(report *r, scorer *s, const assay_table *t, uint64_t seed,
                             assay_error *err) {
    const assay_pipeline *p = assay_model_pipeline(s->m);
    int D = assay_pipeline_ninputs(p), rc = ASSAY_OK;
    int64_t n = t->nrows;
    imp_entry *e = calloc((size_t)(D ? D : 1), sizeof *e);
    assay_column *cols = malloc(sizeof *cols * (size_t)(t->ncols ? t->ncols : 1));
    int64_t *perm = malloc(sizeof *perm * (size_t)n);
    uint8_t *miss = malloc((size_t)n);
    double *numv = malloc(sizeof *numv * (size_t)n);
    int32_t *catv = malloc(sizeof *catv * (size_t)n);
    char **textv = malloc(sizeof *textv * (size_t)n);
    if (!e || !cols || !perm || !miss || !numv || !catv || !textv) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        goto done;
    }
    double base;
    if ((rc = score_table(s, t, &base, err))) goto done;
    assay_rng rng;
    assay_rng_seed(&rng, seed);
    assay_table tc = *t;
    tc.cols = cols;
    int ne = 0;
    for (int d = 0; d < D; d++) {
        int j = assay_table_find(t, assay_pipeline_input_name(p, d));
        if (j < 0) continue;
        memcpy(cols, t->cols, sizeof *cols * (size_t)t->ncols);
        const assay_column *c = &t->cols[j];
        assay_column pc = *c;
        pc.missing = miss;
        pc.num = c->num ? numv : NULL;
        pc.cat = c->cat ? catv : NULL;
        pc.text = c->text ? textv : NULL;
        cols[j] = pc;
        double sum = 0, ss = 0, imp[PERM_REPEATS];
        for (int k = 0; k < PERM_REPEATS; k++) {
            for (int64_t i = 0; i < n; i++) perm[i] = i;
            assay_rng_shuffle_i64(&rng, perm, n);
            for (int64_t i = 0; i < n; i++) {
                miss[i] = c->missing[perm[i]];
                if (c->num) numv[i] = c->num[perm[i]];
                if (c->cat) catv[i] = c->cat[perm[i]];
                if (c->text) textv[i] = c->text[perm[i]];
            }
            double sc;
            if ((rc = score_table(s, &tc, &sc, err))) goto done;
            imp[k] = base - sc;
            sum += imp[k];
        }
        double mean = sum / PERM_REPEATS;
        for (int k = 0; k < PERM_REPEATS; k++) ss += (imp[k] - mean) * (imp[k] - mean);
        e[ne].name = c->name;
        e[ne].mean = mean;
        e[ne].sd = sqrt(ss / PERM_REPEATS);
        ne++;
    }
    const char *what = s->task == ASSAY_TASK_BINARY       ? "ROC AUC"
                       : s->task == ASSAY_TASK_MULTICLASS ? "accuracy"
                       : s->task == ASSAY_TASK_MULTILABEL ? "micro F1"
                                                          : "-RMSE";
    char xl[64], cap[256];
    snprintf(xl, sizeof xl, "decrease in %s", what);
    snprintf(cap, sizeof cap, "Permutation importance of the raw input columns on these rows: the "
             "drop in %s when one column is shuffled (mean of %d shuffles, seed %llu; error bars "
             "one standard deviation). Top %d.", what, PERM_REPEATS, (unsigned long long)seed,
             TOP_IMPORTANCE);
    importance_chart(r, e, ne, "Permutation importance", xl, cap);
done:
    free(e);
    free(cols);
    free(perm);
    free(miss);
    free(numv);
    free(catv);
    free(textv);
    return rc;
}

static void gain_importance_chart(report *r, const assay_model *m) {
    if (assay_model_kind_can(assay_model_kind(m), "importance") != 1) return;
    int64_t d = assay_model_nfeatures(m);
    double *gain = calloc((size_t)(d ? d : 1), sizeof *gain), *splits = calloc((size_t)(d ? d : 1), sizeof *splits);
    imp_entry *e = calloc((size_t)(d ? d : 1), sizeof *e);
    if (gain && splits && e && assay_model_importance(m, gain, splits) == ASSAY_OK) {
        double tot = 0;
        for (int64_t j = 0; j < d; j++) tot += gain[j];
        for (int64_t j = 0; j < d; j++) {
            e[j].name = assay_pipeline_feature_name(assay_model_pipeline(m), j);
            e[j].mean = tot > 0 ? gain[j] / tot : 0;
            e[j].sd = NAN;
        }
        importance_chart(r, e, (int)d, "Split gain importance", "share of total gain",
                         "Gain importance of the model's features (total split gain of each design "
                         "column, as a share of all gain; from training, not from these rows). Top 15.");
    }
    free(gain);
    free(splits);
    free(e);
}

static int cmp_abs_imp(const void *a, const void *b) {
    const imp_entry *x = a, *y = b;
    if (fabs(x->mean) != fabs(y->mean)) return fabs(x->mean) < fabs(y->mean) ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Linear models (binary or regression): the coefficients, largest magnitude first, signed. */
static void coefficient_chart(report *r, const assay_model *m) {
    if (assay_model_coefficients_width(m) != 1) return;
    int64_t d = assay_model_nfeatures(m);
    double *coef = calloc((size_t)(d ? d : 1), sizeof *coef);
    imp_entry *e = calloc((size_t)(d ? d : 1), sizeof *e);
    if (coef && e && assay_model_coefficients(m, coef) == ASSAY_OK) {
        for (int64_t j = 0; j < d; j++) {
            e[j].name = assay_pipeline_feature_name(assay_model_pipeline(m), j);
            e[j].mean = coef[j];
            e[j].sd = NAN;
        }
        qsort(e, (size_t)d, sizeof *e, cmp_abs_imp);
        int k = d < TOP_IMPORTANCE ? (int)d : TOP_IMPORTANCE;
        const char *labels[TOP_IMPORTANCE];
        double v[TOP_IMPORTANCE];
        for (int i = 0; i < k; i++) labels[i] = e[i].name, v[i] = e[i].mean;
        assay_svg_bar_opts o = {0};
        o.title = "Coefficients";
        o.x_label = assay_model_task(m) == ASSAY_TASK_REGRESSION ? "change of the prediction per unit"
                                                                 : "change of the log-odds per unit";
        size_t f0 = fig_begin(r);
        fig_end(r, f0, assay_svg_hbar_chart(&r->b, &o, labels, v, NULL, k),
                "The model's coefficients on its features as the pipeline gives them (standardized "
                "numbers and one-hot categories unless scaling was turned off); the 15 largest in "
                "magnitude, negative to the left.");
    }
    free(coef);
    free(e);
}

/* Training curves when the model saved per-epoch losses. */
static void training_chart(report *r, const assay_model *m) {
    const char *info = assay_model_info(m, "training");
    char *own = info ? NULL : assay_model_training_json(m);
    json_t *doc = json_loads(info ? info : own ? own : "null", 0, NULL);
    assay_free(own);
    json_t *tl = json_object_get(doc, "train_loss"), *vl = json_object_get(doc, "val_loss");
    size_t n = json_array_size(tl);
    if (n >= 1) {
        double *x = malloc(sizeof *x * n), *a = malloc(sizeof *a * n), *v = malloc(sizeof *v * n);
        if (x && a && v) {
            for (size_t i = 0; i < n; i++) {
                x[i] = (double)(i + 1);
                json_t *ai = json_array_get(tl, i), *vi = json_array_get(vl, i);
                a[i] = json_is_number(ai) ? json_number_value(ai) : NAN;
                v[i] = json_is_number(vi) ? json_number_value(vi) : NAN;
            }
            assay_svg_series s[2] = {{"training loss", x, a, (int)n, n < 30, 0},
                                     {"validation loss", x, v, (int)n, n < 30, 1}};
            assay_svg_line_opts o = {0};
            o.title = "Training curves";
            o.x_label = "epoch";
            o.y_label = "loss";
            size_t f0 = fig_begin(r);
            fig_end(r, f0, assay_svg_line_chart(&r->b, &o, s, json_array_size(vl) == n ? 2 : 1),
                    "Loss per epoch on the training rows and on the validation rows held out "
                    "during training.");
        }
        free(x);
        free(a);
        free(v);
    }
    json_decref(doc);
}

/* ---- binary charts ---------------------------------------------------------------------------- */

/* 1 if row i belongs to class k: y holds class indices, or (multi) n x K label indicators. */
static int in_class(const double *y, int64_t i, int k, int K, int multi) {
    return multi ? y[i * K + k] != 0 : (int)y[i] == k;
}

/* Multiclass: one ROC curve per class against the rest; multilabel (multi: y is n x K
 * indicators): one per label. Classes with both kinds of rows here, at most 10 (the largest
 * classes) so the chart stays readable. y01 and score are n scratch. */
static int multiclass_roc_chart(report *r, const double *y, const double *out, int64_t n, int K,
                                int multi, const char *const *labels, uint8_t *y01, double *score,
                                assay_error *err) {
    enum { MAXC = 10 };
    assay_roc_curve roc[MAXC] = {{0}};
    assay_svg_series s[MAXC];
    char names[MAXC][96];
    int64_t *count = calloc((size_t)K, sizeof *count);
    int *order = calloc((size_t)K, sizeof *order), ns = 0, rc = ASSAY_OK;
    if (!count || !order) {
        free(count), free(order);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) count[k] += in_class(y, i, k, K, multi);
    for (int k = 0; k < K; k++) order[k] = k;
    for (int a = 0; a < K; a++) /* largest classes first (K is small) */
        for (int b = a + 1; b < K; b++)
            if (count[order[b]] > count[order[a]]) {
                int t = order[a];
                order[a] = order[b], order[b] = t;
            }
    double auc_sum = 0;
    for (int j = 0; j < K && ns < MAXC && !rc; j++) {
        int k = order[j];
        if (count[k] == 0 || count[k] == n) continue;
        for (int64_t i = 0; i < n; i++) y01[i] = (uint8_t)in_class(y, i, k, K, multi), score[i] = out[i * K + k];
        if ((rc = assay_curve_roc(y01, score, n, &roc[ns], err))) break;
        double auc = assay_metric_roc_auc(y01, score, n);
        auc_sum += auc;
        snprintf(names[ns], sizeof names[ns], "%.60s (AUC %.3f)", labels[k], auc);
        s[ns] = (assay_svg_series){names[ns], roc[ns].fpr, roc[ns].tpr, (int)roc[ns].n, 0, 0};
        ns++;
    }
    if (!rc && ns > 0) {
        char cap[256];
        snprintf(cap, sizeof cap, "%s ROC curve of each %s%s on these rows; the mean of their areas is "
                 "%.4f. The diagonal is a random ranking.", multi ? "The" : "One-vs-rest", multi ? "label" : "class",
                 ns < K ? " present (largest first, at most 10)" : "", auc_sum / ns);
        unit_chart(r, multi ? "ROC curves, one per label" : "ROC curves, each class against the rest",
                   "false positive rate", "true positive rate", s,
                   ns, (assay_svg_refline){ASSAY_SVG_REF_DIAGONAL, 0, "random"}, cap);
    }
    for (int i = 0; i < ns; i++) assay_curve_roc_deinit(&roc[i]);
    memset(y01, 0, (size_t)n); /* as the caller had it for a multiclass target */
    free(count), free(order);
    return rc;
}

static int binary_charts(report *r, const uint8_t *y01, const double *score, int64_t n,
                         const assay_metrics *met, assay_error *err) {
    assay_roc_curve roc = {0};
    assay_pr_curve pr = {0};
    assay_calibration_curve cal = {0};
    assay_gain_table g = {0};
    int rc;
    char title[128], cap[256];
    if ((rc = assay_curve_roc(y01, score, n, &roc, err)) || (rc = assay_curve_pr(y01, score, n, &pr, err)) ||
        (rc = assay_curve_calibration(y01, score, n, 10, ASSAY_BINS_UNIFORM, &cal, err)) ||
        (rc = assay_curve_gain(y01, score, n, 10, &g, err)))
        goto done;
    {
        char name[64];
        snprintf(name, sizeof name, "model (AUC %.3f)", met->roc_auc);
        assay_svg_series s = {name, roc.fpr, roc.tpr, (int)roc.n, 0, 0};
        snprintf(cap, sizeof cap, "ROC curve on these rows; area under the curve %.4f. The "
                 "diagonal is a random ranking.", met->roc_auc);
        unit_chart(r, "ROC curve", "false positive rate", "true positive rate", &s, 1,
                   (assay_svg_refline){ASSAY_SVG_REF_DIAGONAL, 0, "random"}, cap);
    }
    {
        char name[64];
        snprintf(name, sizeof name, "model (AP %.3f)", met->average_precision);
        assay_svg_series s = {name, pr.recall, pr.precision, (int)pr.n, 0, 0};
        snprintf(cap, sizeof cap, "Precision against recall as the threshold falls; average "
                 "precision %.4f. The horizontal line is the share of positives (%.4f).",
                 met->average_precision, g.base_rate);
        unit_chart(r, "Precision-recall curve", "recall", "precision", &s, 1,
                   (assay_svg_refline){ASSAY_SVG_REF_HLINE, g.base_rate, "positive rate"}, cap);
    }
    {
        assay_svg_series s = {"model", cal.prob_pred, cal.prob_true, (int)cal.n, 1, 0};
        snprintf(title, sizeof title, "Calibration (Brier %.4f)", cal.brier);
        unit_chart(r, title, "mean predicted probability", "fraction of positives", &s, 1,
                   (assay_svg_refline){ASSAY_SVG_REF_DIAGONAL, 0, "perfectly calibrated"},
                   "Reliability diagram: 10 uniform probability bins (empty bins left out); points on "
                   "the diagonal are well calibrated.");
    }
    {
        double x[11], y[11];
        x[0] = y[0] = 0;
        for (int k = 0; k < 10; k++) {
            x[k + 1] = (double)(k + 1) / 10.0;
            y[k + 1] = g.gain[k];
        }
        assay_svg_series s = {"model", x, y, 11, 1, 0};
        unit_chart(r, "Cumulative gain", "share of rows, highest scores first", "share of positives found", &s, 1,
                   (assay_svg_refline){ASSAY_SVG_REF_DIAGONAL, 0, "random"},
                   "Cumulative gain by decile of the score: the share of all positives among the top "
                   "rows. The diagonal is a random order.");
    }
    {
        const char *cats[10] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
        const char *groups[2] = {"lift", "cumulative lift"};
        double v[20];
        for (int k = 0; k < 10; k++) {
            v[k] = g.lift[k];
            v[10 + k] = g.cum_lift[k];
        }
        assay_svg_bar_opts o = {0};
        o.title = "Lift by decile";
        o.x_label = "decile (highest scores first)";
        o.y_label = "lift";
        size_t f0 = fig_begin(r);
        fig_end(r, f0, assay_svg_vbar_chart(&r->b, &o, cats, 10, groups, v, 2),
                "Lift of each decile and cumulative lift: its positive rate over the overall "
                "positive rate (1 = random).");
    }
done:
    assay_curve_roc_deinit(&roc);
    assay_curve_pr_deinit(&pr);
    assay_curve_calibration_deinit(&cal);
    assay_curve_gain_deinit(&g);
    return rc;
}

/* ---- value analysis ------------------------------------------------------------------------- */

static int value_section(report *r, const char *spec_text, const assay_table *t,
                         const char *value_column, const uint8_t *y01, const double *score,
                         int64_t n, double threshold, assay_error *err) {
    assay_value_spec spec;
    assay_profit_curve pc = {0};
    assay_buf canon = {0};
    double *amount = NULL, *x = NULL, *y = NULL;
    int rc;
    if ((rc = assay_value_spec_parse(spec_text, &spec, err))) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", err->msg);
        rc = assay_error_set(err, rc, "--value: %s", msg);
        goto done;
    }
    if (spec.uses_amount) {
        if (!value_column) {
            rc = assay_error_set(err, ASSAY_EINVAL, "the value specification uses 'amount': give "
                                 "--value-column COL");
            goto done;
        }
        int j = assay_table_find(t, value_column);
        if (j < 0 || !t->cols[j].num || t->cols[j].type != ASSAY_COL_NUMERIC) {
            rc = assay_error_set(err, ASSAY_EINVAL, "--value-column: no numeric column '%s' in the data",
                                 value_column);
            goto done;
        }
        amount = malloc(sizeof *amount * (size_t)n);
        if (!amount) {
            rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
            goto done;
        }
        for (int64_t i = 0; i < n; i++) amount[i] = t->cols[j].missing[i] ? 0 : t->cols[j].num[i];
    }
    if ((rc = assay_profit_curve_compute(&spec, y01, score, amount, n, &pc, err))) goto done;
    if (assay_value_spec_format(&spec, &canon)) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        goto done;
    }
    /* the point of the model's threshold: every row with score >= threshold */
    int64_t at = 0;
    while (at + 1 < pc.npoints && pc.threshold[at + 1] >= threshold) at++;
    int64_t np = pc.npoints - 1;
    x = malloc(sizeof *x * (size_t)(np ? np : 1));
    y = malloc(sizeof *y * (size_t)(np ? np : 1));
    if (!x || !y) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t j = 0; j < np; j++) {
        x[j] = pc.threshold[j + 1];
        y[j] = pc.profit[j + 1];
    }
    section(r, "value", "Value analysis");
    put(r, "<p>Value of each outcome: <code>");
    esc(r, canon.data ? canon.data : "");
    put(r, "</code>");
    if (spec.uses_amount) {
        put(r, " (amount: column <code>");
        esc(r, value_column);
        put(r, "</code>)");
    }
    put(r, ". Acting on a row means predicting it positive.</p>\n");
    char m1[32], cap[256];
    put(r, "<div class=\"charts\">\n");
    {
        assay_svg_series s = {"total profit", x, y, (int)np, 0, 0};
        assay_svg_refline ref[2] = {{ASSAY_SVG_REF_VLINE, threshold, "model threshold"},
                                    {ASSAY_SVG_REF_HLINE, 0, NULL}};
        assay_svg_line_opts o = {0};
        o.title = "Profit by threshold";
        o.x_label = "threshold on the positive probability";
        o.y_label = "total profit";
        o.x_fixed = 1;
        o.x_max = 1;
        o.refs = ref;
        o.nrefs = 2;
        size_t f0 = fig_begin(r);
        snprintf(cap, sizeof cap, "Total profit on these rows when acting on every row whose score "
                 "is at least the threshold; the vertical line is the model's threshold (%.4f).",
                 threshold);
        fig_end(r, f0, assay_svg_line_chart(&r->b, &o, &s, 1), cap);
    }
    put(r, "</div>\n<div class=\"scroll\"><table><thead><tr><th>policy</th><th>rows acted on</th>"
           "<th>total profit</th><th>per row</th></tr></thead><tbody>\n");
    struct { const char *what; int64_t acted; double profit; } rows[6];
    int nr = 0;
    char lbl[6][96];
    snprintf(lbl[nr], sizeof lbl[nr], "model threshold %.4f", threshold);
    rows[nr].what = lbl[nr], rows[nr].acted = pc.n_acted[at], rows[nr].profit = pc.profit[at], nr++;
    rows[nr].what = "act on nobody", rows[nr].acted = 0, rows[nr].profit = pc.profit_nobody, nr++;
    rows[nr].what = "act on everybody", rows[nr].acted = n, rows[nr].profit = pc.profit_everybody, nr++;
    if (isfinite(pc.best_threshold))
        snprintf(lbl[nr], sizeof lbl[nr], "best threshold in hindsight (%.4f)", pc.best_threshold);
    else
        snprintf(lbl[nr], sizeof lbl[nr], "best threshold in hindsight (act on nobody)");
    rows[nr].what = lbl[nr], rows[nr].acted = pc.best_n_acted, rows[nr].profit = pc.best_profit, nr++;
    for (int k = 10; k <= 20; k += 10) {
        double pf;
        int64_t acted;
        if ((rc = assay_profit_top_percent(&pc, (double)k, &pf, &acted, err))) goto done;
        snprintf(lbl[nr], sizeof lbl[nr], "top %d%% of scores", k);
        rows[nr].what = lbl[nr], rows[nr].acted = acted, rows[nr].profit = pf, nr++;
    }
    for (int k = 0; k < nr; k++) {
        put(r, "<tr><td>");
        esc(r, rows[k].what);
        putf(r, "</td><td class=\"n\">%lld</td><td class=\"n\">", (long long)rows[k].acted);
        esc(r, assay_value_format_money(rows[k].profit, m1, sizeof m1));
        put(r, "</td><td class=\"n\">");
        esc(r, assay_value_format_money(rows[k].profit / (double)n, m1, sizeof m1));
        put(r, "</td></tr>\n");
    }
    put(r, "</tbody></table></div>\n");
    assay_emp_result emp;
    assay_emp_params ep;
    assay_emp_params_default(&ep);
    if (assay_emp_churn(y01, score, n, &ep, &emp, err) == ASSAY_OK)
        putf(r, "<p>Expected maximum profit for churn (EMP, Verbraken et al. 2013) with its default "
                "parameters CLV %g, incentive d %g, contact cost f %g, acceptance rate "
                "Beta(%g, %g): %.4f per customer, targeting %.1f%% of customers. It applies when "
                "the positive class is churners.</p>\n",
             ep.clv, ep.d, ep.f, ep.alpha, ep.beta, emp.emp, 100.0 * emp.frac);
    put(r, "</section>\n");
done:
    assay_profit_curve_deinit(&pc);
    assay_buf_deinit(&canon);
    free(amount);
    free(x);
    free(y);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------ */

static void report_usage(FILE *f) {
    fprintf(f,
            "usage: assay report MODEL --data FILE [options]\n\n"
            "Write one self-contained HTML page (no scripts, no external resources) describing a\n"
            "table model on the labelled rows of FILE (a test set): the data, the model selection,\n"
            "the metrics, ROC / precision-recall / calibration / gain charts, the confusion matrix,\n"
            "feature importance and, with a value specification, the profit curve.\n\n"
            "  --data FILE          labelled rows with the model's input and target columns\n"
            "  --out FILE           the HTML file (default report.html)\n"
            "  --value SPEC         value of the outcomes, e.g. \"tp=1000,fp=-200\" (default: the\n"
            "                       specification saved by fit --value, if any)\n"
            "  --value-column COL   the column giving 'amount' in SPEC\n"
            "  --title T            the page title\n" CLI_COMMON_HELP);
}

/* given: the rows to report on, already in memory (fit --report on a holdout); NULL: read
 * --data. The table stays the caller's. */
static int report_main(int argc, char **argv, const assay_table *given) {
    enum { OPT_DATA = 3100, OPT_OUT, OPT_VALUE, OPT_VALUE_COLUMN, OPT_TITLE };
    static const struct option longopts[] = {{"data", required_argument, 0, OPT_DATA},
                                             {"out", required_argument, 0, OPT_OUT},
                                             {"value", required_argument, 0, OPT_VALUE},
                                             {"value-column", required_argument, 0, OPT_VALUE_COLUMN},
                                             {"title", required_argument, 0, OPT_TITLE},
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    cli_common c;
    cli_common_init(&c, argc, argv);
    const char *data_path = NULL, *out_path = "report.html", *value = NULL, *value_column = NULL,
               *title = NULL;
    int opt, status = CLI_OK, rc = 0;
    assay_error err = {0};
    assay_model *m = NULL;
    assay_table *owned = NULL;
    const assay_table *t = given;
    assay_metrics met = {0};
    double *out = NULL, *y = NULL, *score = NULL, *scratch = NULL, *scratch2 = NULL;
    int32_t *pred = NULL;
    uint8_t *y01 = NULL;
    const char **labels = NULL;
    json_t *vinfo = NULL;
    report r = {0};
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&c, opt, optarg);
        if (h < 0) return CLI_BAD_INPUT;
        if (h > 0) continue;
        switch (opt) {
        case 'h': report_usage(stdout); cli_common_deinit(&c); return CLI_OK;
        case OPT_DATA: data_path = optarg; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_VALUE: value = optarg; break;
        case OPT_VALUE_COLUMN: value_column = optarg; break;
        case OPT_TITLE: title = optarg; break;
        default:
            cli_common_deinit(&c);
            return cli_failf("report", CLI_BAD_INPUT,
                             "unknown or incomplete option '%s' (see assay report --help)", argv[optind - 1]);
        }
    }
    if (argc - optind == 2 && !data_path) data_path = argv[optind + 1];
    else if (argc - optind != 1 || !data_path) {
        cli_common_deinit(&c);
        return cli_failf("report", CLI_BAD_INPUT, "expected MODEL and --data FILE (usage: assay report "
                         "MODEL --data FILE [--out report.html])");
    }
    const char *model_path = argv[optind];
    cli_common_apply(&c);
    if ((rc = cli_check_output_path("--out", out_path, &err))) goto fail;
    if ((rc = assay_model_load(model_path, &m, &err))) goto fail;
    if (assay_model_image_input(m, NULL, NULL, NULL)) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "%s: an image model (%s); assay report describes "
                             "table models only (use assay eval for images)", model_path,
                             assay_model_kind(m));
        goto fail;
    }
    int nov;
    const assay_col_override *ov = assay_model_read_overrides(m, &nov);
    if (!t) {
        if ((rc = cli_read_table(&c, data_path, ov, nov, &owned, &err))) goto fail;
        t = owned;
    }
    const char *target = assay_model_target(m);
    if (assay_table_find(t, target) < 0) {
        rc = assay_error_set(&err, ASSAY_ESCHEMA, "%s: no target column '%s'; assay report needs "
                             "labelled rows", data_path, target);
        goto fail;
    }
    if (t->nrows < 1) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "%s: no rows", data_path);
        goto fail;
    }
    assay_task task = assay_model_task(m);
    int width = assay_model_output_width(m), K = assay_model_nclasses(m), pos = assay_model_positive(m);
    int64_t n = t->nrows;
    if ((value || value_column) && task != ASSAY_TASK_BINARY) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "--value applies to binary models only");
        goto fail;
    }
    out = malloc(sizeof *out * (size_t)n * (size_t)width);
    scratch = malloc(sizeof *scratch * (size_t)n * (size_t)width);
    y = malloc(sizeof *y * (size_t)n * (size_t)assay_model_target_width(m));
    score = malloc(sizeof *score * (size_t)n * 2);    /* twice: the scatter's x and y, */
    scratch2 = malloc(sizeof *scratch2 * (size_t)n * 2); /* with NaN between points */
    pred = malloc(sizeof *pred * (size_t)n);
    y01 = malloc((size_t)n);
    labels = calloc((size_t)K + 1, sizeof *labels);
    if (!out || !scratch || !y || !score || !scratch2 || !pred || !y01 || !labels) {
        rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
        goto fail;
    }
    for (int k = 0; k < K; k++) labels[k] = assay_model_label(m, k);
    if ((rc = assay_model_encode_target(m, t, NULL, n, y, &err))) goto fail;
    if ((rc = assay_model_predict(m, t, NULL, n, out, &err))) goto fail;
    for (int64_t i = 0; i < n; i++) {
        pred[i] = assay_model_decide(m, out + i * width);
        y01[i] = task == ASSAY_TASK_BINARY && (int)y[i] == pos;
        score[i] = task == ASSAY_TASK_BINARY ? out[i * width + pos] : out[i * width];
    }
    if ((rc = assay_metrics_compute(task, K, pos, y, out, task == ASSAY_TASK_REGRESSION ? NULL : pred, n,
                                    &met, &err)))
        goto fail;
    const char *spec_text = value;
    if (!spec_text && task == ASSAY_TASK_BINARY && assay_model_info(m, "value")) {
        vinfo = json_loads(assay_model_info(m, "value"), 0, NULL);
        spec_text = json_string_value(json_object_get(vinfo, "spec"));
        if (!value_column) value_column = json_string_value(json_object_get(vinfo, "amount_column"));
    }

    /* ---- header ---- */
    char b1[64], b2[64];
    char deftitle[256];
    snprintf(deftitle, sizeof deftitle, "Model report: %s predicting %s", assay_model_kind(m), target);
    put(&r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    esc(&r, title ? title : deftitle);
    put(&r, "</title>\n<style>\n");
    put(&r, CSS);
    put(&r, "</style></head><body>\n<header><h1>");
    esc(&r, title ? title : deftitle);
    put(&r, "</h1>\n");
    r.sections[r.nsections++] = "model";
    put(&r, "<div class=\"scroll\"><table id=\"model\"><tbody>\n");
    row2(&r, "model file", model_path);
    row2(&r, "model", assay_model_kind(m));
    row2(&r, "parameters", assay_model_params(m) && *assay_model_params(m) ? assay_model_params(m) : "defaults");
    row2(&r, "task", assay_task_name(task));
    row2(&r, "target", target);
    if (task == ASSAY_TASK_BINARY) {
        row2(&r, "positive class", labels[pos]);
        snprintf(b1, sizeof b1, "%.4f", assay_model_threshold(m));
        row2(&r, "decision threshold", b1);
    } else if (K) {
        snprintf(b1, sizeof b1, "%d", K);
        row2(&r, task == ASSAY_TASK_MULTILABEL ? "labels" : "classes", b1);
    }
    snprintf(b1, sizeof b1, "%d raw columns, %lld features", assay_pipeline_ninputs(assay_model_pipeline(m)),
             (long long)assay_model_nfeatures(m));
    row2(&r, "inputs", b1);
    row2(&r, "data", data_path);
    snprintf(b1, sizeof b1, "%lld", (long long)n);
    row2(&r, "rows", b1);
    const char *fp = assay_model_info(m, "fingerprint");
    if (fp) {
        json_t *f = json_loads(fp, JSON_DECODE_ANY, NULL);
        if (json_is_string(f)) row2(&r, "training data fingerprint", json_string_value(f));
        json_decref(f);
    }
    put(&r, "</tbody></table></div>\n</header>\n");

    profile_section(&r, m, t);
    const char *sel = assay_model_info(m, "selection");
    if (sel) leaderboard_section(&r, sel);

    /* ---- metrics ---- */
    section(&r, "metrics", "Metrics on these rows");
    if (task == ASSAY_TASK_BINARY)
        putf(&r, "<p>Decisions at the model's threshold %.4f on the probability of '", assay_model_threshold(m));
    else if (task == ASSAY_TASK_MULTILABEL)
        put(&r, "<p>A label is predicted at probability 0.5 or above; accuracy counts the rows with every label "
                "right, hamming_loss the wrong (row, label) cells, precision_at_1 the rows whose most probable "
                "label is theirs.");
    else
        put(&r, "<p>");
    if (task == ASSAY_TASK_BINARY) {
        esc(&r, labels[pos]);
        put(&r, "'.</p>\n");
    } else {
        put(&r, "</p>\n");
    }
    put(&r, "<div class=\"scroll\"><table><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>\n");
    for (const char *const *nm = assay_metrics_names(task); *nm; nm++)
        putf(&r, "<tr><th>%s</th><td class=\"n\">%s</td></tr>\n", *nm, num(assay_metrics_get(&met, *nm), b1, sizeof b1));
    if (task == ASSAY_TASK_BINARY) {
        putf(&r, "<tr><th>precision (positive)</th><td class=\"n\">%s</td></tr>\n",
             num(met.per_class[pos].precision, b1, sizeof b1));
        putf(&r, "<tr><th>recall (positive)</th><td class=\"n\">%s</td></tr>\n",
             num(met.per_class[pos].recall, b1, sizeof b1));
        putf(&r, "<tr><th>F1 (positive)</th><td class=\"n\">%s</td></tr>\n", num(met.per_class[pos].f1, b1, sizeof b1));
    }
    put(&r, "</tbody></table></div>\n");
    if (K) {
        putf(&r, "<div class=\"scroll\"><table><thead><tr><th>%s</th><th>precision</th><th>recall</th>"
                 "<th>F1</th><th>support</th></tr></thead><tbody>\n", task == ASSAY_TASK_MULTILABEL ? "label" : "class");
        for (int k = 0; k < K; k++) {
            put(&r, "<tr><th>");
            esc(&r, labels[k]);
            putf(&r, "</th><td class=\"n\">%s</td><td class=\"n\">%s</td>", num(met.per_class[k].precision, b1, sizeof b1),
                 num(met.per_class[k].recall, b2, sizeof b2));
            putf(&r, "<td class=\"n\">%s</td><td class=\"n\">%lld</td></tr>\n", num(met.per_class[k].f1, b1, sizeof b1),
                 (long long)met.per_class[k].support);
        }
        put(&r, "</tbody></table></div>\n");
    }
    put(&r, "</section>\n");

    /* ---- charts ---- */
    section(&r, "charts", "Charts");
    put(&r, "<div class=\"charts\">\n");
    if (task == ASSAY_TASK_BINARY && (rc = binary_charts(&r, y01, score, n, &met, &err))) goto fail;
    if ((task == ASSAY_TASK_MULTICLASS || task == ASSAY_TASK_MULTILABEL) &&
        (rc = multiclass_roc_chart(&r, y, out, n, K, task == ASSAY_TASK_MULTILABEL, labels, y01, scratch2, &err)))
        goto fail;
    if (task == ASSAY_TASK_MULTILABEL) {
        /* the F1 of each label (at most 30) */
        enum { MAXL = 30 };
        int nl = K < MAXL ? K : MAXL;
        double f1v[MAXL];
        const char *ln[MAXL];
        for (int k = 0; k < nl; k++) f1v[k] = met.per_class[k].f1, ln[k] = labels[k];
        assay_svg_bar_opts o = {0};
        o.title = "F1 per label";
        o.x_label = "F1 at probability 0.5";
        size_t f0 = fig_begin(&r);
        fig_end(&r, f0, assay_svg_hbar_chart(&r.b, &o, ln, f1v, NULL, nl),
                nl < K ? "F1 of the first 30 labels at the 0.5 cut." : "F1 of each label at the 0.5 cut.");
    } else if (K) {
        assay_svg_heatmap_opts o = {0};
        o.title = "Confusion matrix";
        size_t f0 = fig_begin(&r);
        fig_end(&r, f0, assay_svg_confusion(&r.b, &o, met.confusion, labels, K),
                "Confusion matrix at the model's decisions: rows are the true class, columns the "
                "predicted class; the color is the share of the row.");
    } else {
        /* predicted vs actual: isolated points (a NaN between points breaks the line) */
        int64_t step = n > MAX_SCATTER ? (n + MAX_SCATTER - 1) / MAX_SCATTER : 1, np = 0;
        double *px = score, *py = scratch2;
        for (int64_t i = 0; i < n; i += step) {
            px[np] = y[i];
            py[np] = out[i];
            px[np + 1] = py[np + 1] = NAN;
            np += 2;
        }
        assay_svg_series s = {"rows", px, py, (int)np, 1, 0};
        assay_svg_refline ref = {ASSAY_SVG_REF_DIAGONAL, 0, "predicted = actual"};
        assay_svg_line_opts o = {0};
        o.title = "Predicted vs actual";
        o.x_label = "actual";
        o.y_label = "predicted";
        o.refs = &ref;
        o.nrefs = 1;
        size_t f0 = fig_begin(&r);
        fig_end(&r, f0, assay_svg_line_chart(&r.b, &o, &s, 1),
                "Predicted against actual values (one point per row, at most 1000 rows shown); "
                "the diagonal is a perfect prediction.");
    }
    {
        /* scratch2 is the scorer's score buffer: score (the positive probability) stays intact
         * for the value section */
        scorer s = {m, task, width, pos, y, y01, scratch, scratch2, n};
        if ((rc = permutation_chart(&r, &s, t, c.seed, &err))) goto fail;
    }
    gain_importance_chart(&r, m);
    coefficient_chart(&r, m);
    training_chart(&r, m);
    put(&r, "</div>\n</section>\n");

    if (spec_text && task == ASSAY_TASK_BINARY &&
        (rc = value_section(&r, spec_text, t, value_column, y01, score, n, assay_model_threshold(m), &err)))
        goto fail;

    put(&r, "<footer><p class=\"note\">Written by assay ");
    esc(&r, ASSAY_VERSION_STRING);
    put(&r, ". Every chart is computed from the rows of the data file above.</p></footer>\n</body></html>\n");
    if (r.rc) {
        rc = assay_error_set(&err, r.rc, "writing the report: %s", assay_strerror(r.rc));
        goto fail;
    }
    if ((rc = cli_write_output(out_path, r.b.data, r.b.len, &err))) goto fail;
    if (c.json) {
        json_t *secs = json_array();
        for (int i = 0; i < r.nsections; i++) json_array_append_new(secs, json_string(r.sections[i]));
        cli_print_json(json_pack("{s:s,s:i,s:o}", "out", out_path, "charts", r.charts, "sections", secs));
    } else if (!c.quiet) {
        printf("assay report: %s (%d charts, %lld rows of %s)\n", out_path, r.charts, (long long)n, data_path);
    }
    char *mj = assay_metrics_to_json(&met, K ? labels : NULL);
    cli_record_data_run(&c, "report", data_path, t, mj);
    assay_free(mj);
    goto done;
fail:
    status = cli_fail("report", &err);
done:
    json_decref(vinfo);
    assay_buf_deinit(&r.b);
    free(out);
    free(scratch);
    free(y);
    free(score);
    free(scratch2);
    free(pred);
    free(y01);
    free(labels);
    assay_metrics_deinit(&met);
    assay_model_free(m);
    assay_table_free(owned);
    cli_common_deinit(&c);
    return status;
}

int cmd_report(int argc, char **argv) { return report_main(argc, argv, NULL); }

int cli_report_on_table(int argc, char **argv, const assay_table *t) {
    return report_main(argc, argv, t);
}
