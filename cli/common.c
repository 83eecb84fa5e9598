/* common.c - option handling, data reading, output files and the store for every command. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"

void cli_common_init(cli_common *c, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    c->seed = 42;
    c->argc = argc;
    c->argv = argv;
    /* getopt_long reorders argv while parsing: keep the order as typed */
    c->ntyped = argc < CLI_MAX_ARGS ? argc : CLI_MAX_ARGS;
    for (int i = 0; i < c->ntyped; i++) c->typed[i] = argv[i];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    c->started = (double)tv.tv_sec + tv.tv_usec * 1e-6;
    c->t0 = assay_now();
}

void cli_common_deinit(cli_common *c) {
    for (int i = 0; i < c->n_overrides; i++) free(c->override_names[i]);
    c->n_overrides = 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int cli_common_option(cli_common *c, int opt, const char *arg) {
    uint64_t v;
    switch (opt) {
    case 1001: c->db = arg; return 1;
    case 1002: c->json = 1; return 1;
    case 1003:
        if (parse_u64(arg, &v) || v > 1024) {
            fprintf(stderr, "assay: --threads: expected a number of threads 0..1024, got '%s'\n", arg);
            return -1;
        }
        c->threads = (int)v;
        return 1;
    case 1004:
        if (parse_u64(arg, &v)) {
            fprintf(stderr, "assay: --seed: expected a non-negative integer, got '%s'\n", arg);
            return -1;
        }
        c->seed = v;
        return 1;
    case 1005: c->quiet = 1; return 1;
    case 1008: c->strict_utf8 = 1; return 1;
    case 1006:
        if (strcmp(arg, "\\t") == 0 || strcmp(arg, "tab") == 0 || strcmp(arg, "TAB") == 0) {
            c->delimiter = '\t';
        } else if (strlen(arg) == 1 && arg[0] != '"' && arg[0] != '\n' && arg[0] != '\r') {
            c->delimiter = arg[0];
        } else {
            fprintf(stderr, "assay: --delimiter: expected one character (or 'tab'), got '%s'\n", arg);
            return -1;
        }
        return 1;
    case 1007: {
        const char *colon = strrchr(arg, ':');
        assay_coltype t;
        if (!colon || colon == arg || assay_coltype_from_name(colon + 1, &t)) {
            fprintf(stderr,
                    "assay: --column: expected NAME:TYPE with TYPE one of numeric, categorical, "
                    "text, datetime, boolean; got '%s'\n", arg);
            return -1;
        }
        if (c->n_overrides == 64) {
            fprintf(stderr, "assay: --column: at most 64 overrides\n");
            return -1;
        }
        char *name = strndup(arg, (size_t)(colon - arg));
        if (!name) {
            fprintf(stderr, "assay: out of memory\n");
            return -1;
        }
        c->override_names[c->n_overrides] = name;
        c->overrides[c->n_overrides].name = name;
        c->overrides[c->n_overrides].type = t;
        c->n_overrides++;
        return 1;
    }
    default: return 0;
    }
}

void cli_common_apply(const cli_common *c) {
    assay_threads_set(c->threads);
    assay_progress_enable(!c->quiet && !c->json && isatty(2));
}

int cli_status(int code) {
    switch (code) {
    case ASSAY_OK: return CLI_OK;
    case ASSAY_ENOMEM:
    case ASSAY_EINTERNAL: return CLI_INTERNAL;
    default: return CLI_BAD_INPUT;
    }
}

int cli_fail(const char *cmd, const assay_error *err) {
    fprintf(stderr, "assay %s: %s\n", cmd, err->msg[0] ? err->msg : assay_strerror(err->code));
    return cli_status(err->code);
}

int cli_failf(const char *cmd, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "assay %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

/* 1 if the first non-blank line of path has a token starting with "__label__": fastText's
 * supervised format (a CSV header or JSON line never does). */
static int is_fasttext_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = buf;
    while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t') p++;
    char *eol = strchr(p, '\n');
    if (eol) *eol = 0;
    for (char *tok = p; tok && *tok;) {
        if (strncmp(tok, "__label__", 9) == 0) return 1;
        tok = strpbrk(tok, " \t");
        while (tok && (*tok == ' ' || *tok == '\t')) tok++;
    }
    return 0;
}

void cli_infer_multilabel(const char *path, const assay_table *t, assay_fit_options *fo) {
    int j = fo->target ? assay_table_find(t, fo->target) : -1;
    if (fo->task == ASSAY_TASK_AUTO && j >= 0 && t->cols[j].type == ASSAY_COL_TEXT && is_fasttext_file(path))
        fo->task = ASSAY_TASK_MULTILABEL;
}

int cli_read_table(const cli_common *c, const char *path, const assay_col_override *extra,
                   int nextra, assay_table **out, assay_error *err) {
    if (is_fasttext_file(path)) { /* columns "text" and "label" (a document's labels) */
        assay_fasttext_options fo;
        assay_fasttext_options_init(&fo);
        fo.allow_unlabeled = 1; /* unlabelled lines: the target is missing (fit drops them) */
        fo.strict_utf8 = c->strict_utf8;
        assay_fasttext *d = NULL;
        int rc = assay_fasttext_read(path, &fo, &d, err);
        if (!rc) rc = assay_fasttext_to_table(d, path, out, err);
        if (!rc && d->n_replaced)
            fprintf(stderr, "%s: %lld invalid UTF-8 bytes replaced by U+FFFD\n", path,
                    (long long)d->n_replaced);
        assay_fasttext_free(d);
        return rc;
    }
    assay_read_options ro;
    assay_read_options_init(&ro);
    ro.delimiter = c->delimiter;
    assay_col_override merged[64 + 1024];
    int n = 0;
    /* The model's schema wins over --column for the columns it knows. */
    for (int i = 0; i < nextra && n < 1024; i++) merged[n++] = extra[i];
    for (int i = 0; i < c->n_overrides; i++) {
        int dup = 0;
        for (int j = 0; j < nextra; j++)
            if (strcmp(extra[j].name, c->overrides[i].name) == 0) dup = 1;
        if (!dup) merged[n++] = c->overrides[i];
    }
    ro.overrides = merged;
    ro.n_overrides = n;
    ro.strict_overrides = nextra == 0; /* a model's schema may name the target, absent here */
    ro.replace_utf8 = !c->strict_utf8;
    int rc = assay_table_read(path, &ro, out, err);
    if (!rc && (*out)->n_utf8_replaced)
        fprintf(stderr, "%s: %lld invalid UTF-8 bytes replaced by U+FFFD (--strict-utf8 refuses them)\n",
                path, (long long)(*out)->n_utf8_replaced);
    return rc;
}

int cli_check_output_path(const char *option, const char *path, assay_error *err) {
    if (!path || strcmp(path, "-") == 0) return ASSAY_OK;
    char *copy = strdup(path);
    if (!copy) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    const char *dir = dirname(copy);
    struct stat st;
    int rc = ASSAY_OK;
    if (stat(dir, &st) != 0) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: directory '%s' does not exist", option, dir);
    } else if (!S_ISDIR(st.st_mode)) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: '%s' is not a directory", option, dir);
    } else if (access(dir, W_OK) != 0) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: directory '%s' is not writable", option, dir);
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: '%s' is a directory", option, path);
    }
    free(copy);
    return rc;
}

int cli_write_output(const char *path, const char *data, size_t len, assay_error *err) {
    if (!path || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
            return assay_error_set(err, ASSAY_EIO, "writing to standard output: %s", strerror(errno));
        return ASSAY_OK;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return assay_error_set(err, ASSAY_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto io_fail;
        off += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) goto io_fail;
    if (close(fd) != 0) {
        fd = -1;
        goto io_fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) goto io_fail;
    free(tmp);
    return ASSAY_OK;
io_fail: {
    int e = errno;
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    return assay_error_set(err, ASSAY_EIO, "%s: cannot write: %s", path, strerror(e));
}
}

int cli_store_open(const cli_common *c, assay_store **out, assay_error *err) {
    *out = NULL;
    const char *path = c->db ? c->db : assay_store_default_path();
    if (strcmp(path, "none") == 0) return ASSAY_OK;
    return assay_store_open(path, out, err);
}

char *cli_argv_string(const cli_common *c) {
    assay_buf b = {0};
    assay_buf_printf(&b, "assay");
    for (int i = 0; i < c->ntyped; i++) {
        const char *a = c->typed[i];
        int quote = strpbrk(a, " \t\"'$") != NULL || !*a;
        assay_buf_printf(&b, " %s%s%s", quote ? "'" : "", a, quote ? "'" : "");
    }
    if (c->ntyped < c->argc) assay_buf_printf(&b, " ...");
    return b.data;
}

int64_t cli_record_run(const cli_common *c, assay_store *st, const char *command,
                       const char *params_json, int64_t dataset_id, const char *fingerprint,
                       const char *metrics_json, int status, const char *message) {
    if (!st) return 0;
    char *argv = cli_argv_string(c);
    assay_run_rec r = {
        .command = command,
        .argv = argv ? argv : "",
        .params_json = params_json,
        .dataset_id = dataset_id,
        .fingerprint = fingerprint,
        .metrics_json = metrics_json,
        .status = status == 0 ? "ok" : "error",
        .message = message,
        .started = c->started,
        .duration = assay_now() - c->t0,
    };
    int64_t id = 0;
    assay_error err = {0};
    if (assay_store_run_add(st, &r, &id, &err))
        fprintf(stderr, "assay %s: warning: run not recorded: %s\n", command, err.msg);
    assay_free(argv);
    return id;
}

int64_t cli_record_dataset(assay_store *st, const char *path, const assay_table *t) {
    if (!st) return 0;
    char fp[17];
    assay_table_fingerprint(t, fp);
    json_t *schema = json_array();
    for (int j = 0; j < t->ncols; j++)
        json_array_append_new(schema, json_pack("{s:s,s:s}", "name", t->cols[j].name, "type",
                                                assay_coltype_name(t->cols[j].type)));
    char *schema_s = json_dumps(schema, JSON_COMPACT);
    json_decref(schema);
    char *abs = realpath(path, NULL);
    assay_dataset_rec r = {.path = abs ? abs : path, .fingerprint = fp, .nrows = t->nrows,
                           .ncols = t->ncols, .schema_json = schema_s};
    int64_t id = 0;
    assay_error err = {0};
    if (assay_store_dataset_add(st, &r, &id, &err))
        fprintf(stderr, "assay: warning: data set not recorded: %s\n", err.msg);
    free(abs);
    free(schema_s);
    return id;
}

void cli_print_json(json_t *doc) {
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10) | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(doc);
}

json_t *cli_json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* A CSV field, quoted when needed (RFC 4180). */
static void csv_field(assay_buf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        assay_buf_append(b, s, strlen(s));
        return;
    }
    assay_buf_append(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') assay_buf_append(b, "\"", 1);
        assay_buf_append(b, p, 1);
    }
    assay_buf_append(b, "\"", 1);
}

int cli_predictions_csv(const assay_model *m, const assay_table *t, const int64_t *rows, int64_t n,
                        const double *out, int proba, const char *const *keep, const int *keepcol,
                        int nkeep, assay_buf *b) {
    int regression = assay_model_task(m) == ASSAY_TASK_REGRESSION;
    int width = assay_model_output_width(m);
    char num[64];
    for (int i = 0; i < nkeep; i++) {
        csv_field(b, keep[i]);
        assay_buf_append(b, ",", 1);
    }
    csv_field(b, assay_model_target(m));
    if (proba && !regression)
        for (int k = 0; k < width; k++) {
            assay_buf_append(b, ",proba_", 7);
            csv_field(b, assay_model_label(m, k));
        }
    assay_buf_append(b, "\n", 1);
    assay_buf dec = {0};
    for (int64_t i = 0; i < n; i++) {
        const double *row = out + i * width;
        int64_t r = rows ? rows[i] : i;
        for (int j = 0; j < nkeep; j++) {
            char cellbuf[256];
            csv_field(b, assay_table_cell_str(t, keepcol[j], r, cellbuf, sizeof cellbuf));
            assay_buf_append(b, ",", 1);
        }
        if (regression) {
            snprintf(num, sizeof num, "%.17g", row[0]);
            assay_buf_append(b, num, strlen(num));
        } else {
            csv_field(b, assay_model_decision(m, row, &dec));
            if (proba)
                for (int k = 0; k < width; k++) {
                    snprintf(num, sizeof num, ",%.17g", row[k]);
                    assay_buf_append(b, num, strlen(num));
                }
        }
        if (assay_buf_append(b, "\n", 1)) {
            assay_buf_deinit(&dec);
            return ASSAY_ENOMEM;
        }
    }
    assay_buf_deinit(&dec);
    return ASSAY_OK;
}

json_t *cli_json_decision(const assay_model *m, const double *row) {
    if (assay_model_task(m) != ASSAY_TASK_MULTILABEL)
        return json_string(assay_model_label(m, assay_model_decide(m, row)));
    json_t *a = json_array();
    for (int k = 0; a && k < assay_model_nclasses(m); k++)
        if (row[k] >= assay_model_threshold(m)) json_array_append_new(a, json_string(assay_model_label(m, k)));
    return a;
}

void cli_record_data_run(const cli_common *c, const char *command, const char *data_path,
                         const assay_table *t, const char *metrics_json) {
    assay_store *st = NULL;
    assay_error err = {0};
    if (cli_store_open(c, &st, &err)) {
        fprintf(stderr, "assay %s: warning: run not recorded: %s\n", command, err.msg);
        return;
    }
    if (!st) return;
    char fp[17];
    assay_table_fingerprint(t, fp);
    cli_record_run(c, st, command, NULL, cli_record_dataset(st, data_path, t), fp, metrics_json, 0, NULL);
    assay_store_close(st);
}

/* ---- explanations ---------------------------------------------------------------------------- */

/* The output group of phi that row i's explanation uses. */
static const double *explain_row(const assay_model *m, int64_t i, const double *out,
                                 const double *phi) {
    int64_t d1 = assay_model_nfeatures(m) + 1;
    int ew = assay_model_explain_width(m), width = assay_model_output_width(m);
    int k = ew > 1 ? assay_model_decide(m, out + i * width) : 0;
    return phi + (i * ew + k) * d1;
}

/* Indices of the top contributions of row (by |phi|, ties by feature order). */
static int top_features(const double *row, int64_t d, int top, int64_t *idx) {
    int n = 0;
    for (int64_t j = 0; j < d; j++) {
        if (row[j] == 0) continue;
        int pos = n < top ? n++ : top;
        if (pos == top && !(fabs(row[j]) > fabs(row[idx[top - 1]]))) continue;
        if (pos == top) pos = top - 1;
        while (pos > 0 && fabs(row[j]) > fabs(row[idx[pos - 1]])) idx[pos] = idx[pos - 1], pos--;
        idx[pos] = j;
    }
    return n;
}

json_t *cli_explain_json(const assay_model *m, int64_t n, const double *out, const double *phi,
                         int top) {
    int64_t d = assay_model_nfeatures(m);
    const assay_pipeline *p = assay_model_pipeline(m);
    int64_t *idx = malloc(sizeof *idx * (size_t)top);
    json_t *arr = json_array();
    for (int64_t i = 0; idx && i < n; i++) {
        const double *row = explain_row(m, i, out, phi);
        json_t *o = json_object();
        json_object_set_new(o, "bias", cli_json_num(row[d]));
        json_t *c = json_array();
        int nt = top_features(row, d, top, idx);
        for (int r = 0; r < nt; r++)
            json_array_append_new(c, json_pack("{s:s,s:o}", "feature", assay_pipeline_feature_name(p, idx[r]),
                                               "contribution", cli_json_num(row[idx[r]])));
        json_object_set_new(o, "top", c);
        json_array_append_new(arr, o);
    }
    free(idx);
    return arr;
}

/* Append header to the first line of the CSV in b and, to data line i < n, what row(ctx, i, nb)
 * appends. */
typedef int (*row_fn)(void *ctx, int64_t i, assay_buf *nb);
static int add_columns(assay_buf *b, const char *header, int64_t n, row_fn row, void *ctx) {
    assay_buf nb = {0};
    size_t pos = 0;
    int64_t line = -1; /* -1: the header */
    while (pos < b->len) {
        char *nl = memchr(b->data + pos, '\n', b->len - pos);
        size_t end = nl ? (size_t)(nl - b->data) : b->len;
        int rc = assay_buf_append(&nb, b->data + pos, end - pos);
        if (!rc && line < 0) rc = assay_buf_append(&nb, header, strlen(header));
        else if (!rc && line < n) rc = row(ctx, line, &nb);
        if (rc || assay_buf_append(&nb, "\n", 1)) {
            assay_buf_deinit(&nb);
            return ASSAY_ENOMEM;
        }
        line++;
        pos = end + 1;
    }
    assay_buf_deinit(b);
    *b = nb;
    return ASSAY_OK;
}

typedef struct explain_ctx {
    const assay_model *m;
    const double *out, *phi;
    int top;
    int64_t *idx;
} explain_ctx;

static int explain_cells(void *ctx, int64_t i, assay_buf *nb) {
    const explain_ctx *e = ctx;
    const assay_pipeline *p = assay_model_pipeline(e->m);
    const double *row = explain_row(e->m, i, e->out, e->phi);
    int nt = top_features(row, assay_model_nfeatures(e->m), e->top, e->idx);
    assay_buf_append(nb, ",\"", 2);
    for (int r = 0; r < nt; r++) {
        const char *name = assay_pipeline_feature_name(p, e->idx[r]);
        for (const char *c = name; *c; c++) assay_buf_append(nb, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
        assay_buf_printf(nb, "=%+.4f%s", row[e->idx[r]], r + 1 < nt ? ";" : "");
    }
    return assay_buf_append(nb, "\"", 1);
}

int cli_add_explain_column(const assay_model *m, int64_t n, const double *out, const double *phi,
                           int top, assay_buf *b) {
    explain_ctx e = {m, out, phi, top, malloc(sizeof(int64_t) * (size_t)top)};
    int rc = e.idx ? add_columns(b, ",explanation", n, explain_cells, &e) : ASSAY_ENOMEM;
    free(e.idx);
    return rc;
}

/* The classes of one output row by probability, highest first (ties: lower index first). */
int cli_topk(const double *row, int K, int k, int *idx) {
    if (k > K) k = K;
    for (int c = 0, n = 0; c < K; c++) {
        int pos = n < k ? n++ : k;
        if (pos == k && !(row[c] > row[idx[k - 1]])) continue;
        if (pos == k) pos = k - 1;
        while (pos > 0 && row[c] > row[idx[pos - 1]]) idx[pos] = idx[pos - 1], pos--;
        idx[pos] = c;
    }
    return k;
}

typedef struct topk_ctx {
    const assay_model *m;
    const double *out;
    int k;
    double min_proba;
    int *idx;
} topk_ctx;

static int topk_cells(void *ctx, int64_t i, assay_buf *nb) {
    const topk_ctx *t = ctx;
    const int K = assay_model_output_width(t->m);
    const double *row = t->out + i * K;
    int n = cli_topk(row, K, t->k, t->idx), rc = 0;
    for (int r = 0; r < t->k && !rc; r++) {
        if (r >= n || row[t->idx[r]] < t->min_proba) { /* below the threshold: empty cells */
            rc = assay_buf_append(nb, ",,", 2);
            continue;
        }
        assay_buf_append(nb, ",", 1);
        csv_field(nb, assay_model_label(t->m, t->idx[r]));
        rc = assay_buf_printf(nb, ",%.17g", row[t->idx[r]]);
    }
    return rc;
}

int cli_add_topk_columns(const assay_model *m, int64_t n, const double *out, int k, double min_proba,
                         assay_buf *b) {
    const int K = assay_model_output_width(m);
    if (k > K) k = K;
    assay_buf h = {0};
    for (int r = 1; r <= k; r++) assay_buf_printf(&h, ",top%d,proba%d", r, r);
    topk_ctx t = {m, out, k, min_proba, malloc(sizeof(int) * (size_t)K)};
    int rc = t.idx && h.data ? add_columns(b, h.data, n, topk_cells, &t) : ASSAY_ENOMEM;
    free(t.idx);
    assay_buf_deinit(&h);
    return rc;
}
