/* cmd_profile.c - `assay profile DATA`: what is in a data set before anything is fitted.
 * Per column: type, missing share, distinct values, min / mean / max (numbers) or the top
 * categories, IQR outliers (1.5 x IQR), unparseable cells; duplicate rows; the target's balance. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's linear-interpolation percentile of sorted v[n]. */
static double percentile(const double *v, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    int64_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (pos - (double)lo);
}

typedef struct level_count {
    int32_t level;
    int64_t count;
} level_count;

static int cmp_count(const void *a, const void *b) {
    const level_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return x->level - y->level;
}

static json_t *profile_column(const assay_table *t, int j) {
    const assay_column *c = &t->cols[j];
    int64_t n = t->nrows;
    json_t *o = json_pack("{s:s,s:s,s:I,s:f,s:I}", "name", c->name, "type", assay_coltype_name(c->type),
                          "missing", (json_int_t)c->n_missing, "missing_pct",
                          n ? 100.0 * (double)c->n_missing / (double)n : 0.0, "invalid",
                          (json_int_t)c->n_invalid);
    if (c->type == ASSAY_COL_NUMERIC || c->type == ASSAY_COL_DATETIME || c->type == ASSAY_COL_BOOLEAN) {
        double *v = malloc(sizeof *v * (size_t)(n ? n : 1));
        int64_t m = 0;
        double sum = 0;
        for (int64_t i = 0; v && i < n; i++)
            if (!c->missing[i]) {
                v[m++] = c->num[i];
                sum += c->num[i];
            }
        if (v && m > 0) {
            qsort(v, (size_t)m, sizeof *v, cmp_double);
            int64_t distinct = 1, outliers = 0;
            for (int64_t i = 1; i < m; i++) distinct += v[i] != v[i - 1];
            double q1 = percentile(v, m, 0.25), q3 = percentile(v, m, 0.75), iqr = q3 - q1;
            for (int64_t i = 0; i < m; i++)
                outliers += v[i] < q1 - 1.5 * iqr || v[i] > q3 + 1.5 * iqr;
            double mean = sum / (double)m, ss = 0;
            for (int64_t i = 0; i < m; i++) ss += (v[i] - mean) * (v[i] - mean);
            json_object_set_new(o, "distinct", json_integer(distinct));
            json_object_set_new(o, "min", cli_json_num(v[0]));
            json_object_set_new(o, "mean", cli_json_num(mean));
            json_object_set_new(o, "sd", cli_json_num(m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0));
            json_object_set_new(o, "median", cli_json_num(percentile(v, m, 0.5)));
            json_object_set_new(o, "max", cli_json_num(v[m - 1]));
            json_object_set_new(o, "outliers", json_integer(outliers));
        } else {
            json_object_set_new(o, "distinct", json_integer(0));
        }
        free(v);
    } else if (c->type == ASSAY_COL_CATEGORICAL) {
        level_count *lc = calloc((size_t)(c->nlevels ? c->nlevels : 1), sizeof *lc);
        for (int32_t l = 0; lc && l < c->nlevels; l++) lc[l].level = l;
        for (int64_t i = 0; lc && i < n; i++)
            if (!c->missing[i] && c->cat[i] >= 0 && c->cat[i] < c->nlevels) lc[c->cat[i]].count++;
        int32_t distinct = 0;
        for (int32_t l = 0; lc && l < c->nlevels; l++) distinct += lc[l].count > 0;
        json_object_set_new(o, "distinct", json_integer(distinct));
        if (lc) {
            qsort(lc, (size_t)c->nlevels, sizeof *lc, cmp_count);
            json_t *top = json_array();
            for (int32_t l = 0; l < c->nlevels && l < 5 && lc[l].count; l++)
                json_array_append_new(top, json_pack("{s:s,s:I}", "value", c->levels[lc[l].level],
                                                     "count", (json_int_t)lc[l].count));
            json_object_set_new(o, "top", top);
        }
        free(lc);
    } else if (c->type == ASSAY_COL_TEXT) {
        double len = 0;
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (!c->missing[i] && c->text[i]) {
                len += (double)strlen(c->text[i]);
                m++;
            }
        json_object_set_new(o, "mean_length", cli_json_num(m ? len / (double)m : 0.0));
    }
    return o;
}

static void print_column(json_t *o) {
    const char *type = json_string_value(json_object_get(o, "type"));
    printf("  %-24.24s %-12s %7.1f%% %9lld  ", json_string_value(json_object_get(o, "name")), type,
           json_number_value(json_object_get(o, "missing_pct")),
           (long long)json_integer_value(json_object_get(o, "distinct")));
    if (json_object_get(o, "min")) {
        printf("min %-10.4g mean %-10.4g max %-10.4g outliers %lld",
               json_number_value(json_object_get(o, "min")), json_number_value(json_object_get(o, "mean")),
               json_number_value(json_object_get(o, "max")),
               (long long)json_integer_value(json_object_get(o, "outliers")));
    } else if (json_object_get(o, "top")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(o, "top"), i, v) {
            printf("%s%s (%lld)", i ? ", " : "top: ", json_string_value(json_object_get(v, "value")),
                   (long long)json_integer_value(json_object_get(v, "count")));
        }
    } else if (json_object_get(o, "mean_length")) {
        printf("mean length %.1f", json_number_value(json_object_get(o, "mean_length")));
    }
    json_int_t inv = json_integer_value(json_object_get(o, "invalid"));
    if (inv) printf("  [%lld unparseable -> missing]", (long long)inv);
    printf("\n");
}

int cmd_profile(int argc, char **argv) {
    enum { OPT_TARGET = 5000 };
    static const struct option longopts[] = {{"target", required_argument, 0, OPT_TARGET},
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    cli_common c;
    cli_common_init(&c, argc, argv);
    const char *target = NULL;
    int opt, status = CLI_OK;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&c, opt, optarg);
        if (h < 0) return CLI_BAD_INPUT;
        if (h > 0) continue;
        if (opt == 'h') {
            printf("usage: assay profile DATA [--target COL] [options]\n\n"
                   "Describe each column of DATA: inferred type, missing values, distinct values,\n"
                   "range or top categories, outliers (1.5 x IQR); duplicate rows; the target's\n"
                   "class balance with --target.\n\n" CLI_COMMON_HELP);
            return CLI_OK;
        }
        if (opt == OPT_TARGET) {
            target = optarg;
            continue;
        }
        return cli_failf("profile", CLI_BAD_INPUT, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1) return cli_failf("profile", CLI_BAD_INPUT, "expected one DATA file");
    const char *path = argv[optind];
    cli_common_apply(&c);
    assay_error err = {0};
    assay_table *t = NULL;
    int64_t *kept = NULL, nkept = 0;
    json_t *doc = NULL;
    int rc = cli_read_table(&c, path, NULL, 0, &t, &err);
    if (!rc) rc = assay_prep_dedup(t, NULL, t->nrows, &kept, &nkept, &err);
    int tcol = -1;
    if (!rc && target && (tcol = assay_table_find(t, target)) < 0)
        rc = assay_error_set(&err, ASSAY_EINVAL, "--target: no column '%s' in %s", target, path);
    if (rc) {
        status = cli_fail("profile", &err);
        goto done;
    }
    char fp[17];
    assay_table_fingerprint(t, fp);
    doc = json_pack("{s:s,s:I,s:i,s:I,s:s}", "path", path, "rows", (json_int_t)t->nrows, "columns",
                    t->ncols, "duplicate_rows", (json_int_t)(t->nrows - nkept), "fingerprint", fp);
    json_t *cols = json_array();
    for (int j = 0; j < t->ncols; j++) json_array_append_new(cols, profile_column(t, j));
    json_object_set_new(doc, "columns_detail", cols);
    if (tcol >= 0) {
        assay_fit_options fo;
        assay_fit_options_init(&fo);
        fo.target = target;
        assay_target tg;
        if (assay_target_encode(&fo, t, NULL, t->nrows, &tg, &err) == 0) {
            json_t *bal = json_object();
            json_object_set_new(bal, "task", json_string(assay_task_name(tg.task)));
            if (tg.nclasses) {
                json_t *classes = json_array();
                for (int k = 0; k < tg.nclasses; k++) {
                    int64_t cnt = 0;
                    for (int64_t i = 0; i < tg.n; i++) cnt += tg.y[i] == k;
                    json_array_append_new(classes, json_pack("{s:s,s:I,s:f}", "label", tg.labels[k], "count",
                                                             (json_int_t)cnt, "pct", 100.0 * (double)cnt / (double)tg.n));
                }
                json_object_set_new(bal, "classes", classes);
            }
            json_object_set_new(doc, "target", bal);
            assay_target_deinit(&tg);
        } else {
            json_object_set_new(doc, "target", json_pack("{s:s}", "error", err.msg));
        }
    }
    if (c.json) {
        cli_print_json(json_incref(doc));
    } else {
        printf("%s: %lld rows, %d columns, %lld exact duplicate rows\n", path, (long long)t->nrows,
               t->ncols, (long long)(t->nrows - nkept));
        printf("  %-24s %-12s %8s %9s  %s\n", "column", "type", "missing", "distinct", "summary");
        size_t i;
        json_t *o;
        json_array_foreach(cols, i, o) print_column(o);
        json_t *tj = json_object_get(doc, "target");
        if (tj && json_object_get(tj, "error")) {
            printf("target '%s': %s\n", target, json_string_value(json_object_get(tj, "error")));
        } else if (tj) {
            printf("target '%s': %s", target, json_string_value(json_object_get(tj, "task")));
            json_t *v;
            json_array_foreach(json_object_get(tj, "classes"), i, v)
                printf("%s%s %lld (%.1f%%)", i ? ", " : ": ", json_string_value(json_object_get(v, "label")),
                       (long long)json_integer_value(json_object_get(v, "count")),
                       json_number_value(json_object_get(v, "pct")));
            printf("\n");
        }
    }
    cli_record_data_run(&c, "profile", path, t, NULL);
done:
    json_decref(doc);
    assay_free(kept);
    assay_table_free(t);
    cli_common_deinit(&c);
    return status;
}
