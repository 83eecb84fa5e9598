/* jsonl.c - JSON Lines reader (jansson): one object per non-blank line; the columns are the union
 * of keys in first-seen order; null and absent keys are missing; numbers, booleans and strings
 * become cell text that goes through the same inference as CSV cells (so "2020-01-02" is a
 * date and "12" a number). An array of strings, numbers or booleans is a list of labels: its
 * items joined by ASSAY_LABEL_SEP ("a|b", a multilabel target; [] is missing). Objects, nested
 * arrays, null items and items holding the separator are refused, naming the line and key.
 * Two passes over the lines (keys first, then cells) keep memory to the cells themselves; this
 * reader is not tuned for speed like the CSV one. */
#include <jansson.h>

#include "data_internal.h"

typedef struct line_span {
    size_t off, len;
    int64_t line;
} line_span;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The cell text of a scalar (string, number, boolean): 1, or 0 for null and containers. */
static int scalar_text(const json_t *v, char *tmp, size_t cap, const char **s, size_t *n) {
    switch (json_typeof(v)) {
    case JSON_STRING: *s = json_string_value(v), *n = json_string_length(v); return 1;
    case JSON_INTEGER: *n = (size_t)snprintf(tmp, cap, "%lld", (long long)json_integer_value(v)), *s = tmp; return 1;
    case JSON_REAL: *s = assay__format_number(json_real_value(v), tmp, cap), *n = strlen(*s); return 1;
    case JSON_TRUE: *s = "true", *n = 4; return 1;
    case JSON_FALSE: *s = "false", *n = 5; return 1;
    default: return 0;
    }
}

/* Why array v cannot be a label list (NULL: it can). */
static const char *bad_label_list(const json_t *v) {
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        char tmp[40];
        const char *s;
        size_t n;
        if (!scalar_text(e, tmp, sizeof tmp, &s, &n)) return json_is_null(e) ? "a null item" : "a nested value";
        if (memchr(s, ASSAY_LABEL_SEP, n)) return "an item holding '|', which separates labels";
    }
    return NULL;
}

static int parse_line(const char *buf, const line_span *ls, const char *name, json_t **obj,
                      assay_error *err) {
    json_error_t je;
    *obj = json_loadb(buf + ls->off, ls->len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
    if (!*obj) {
        int col = je.column > 0 ? je.column : je.position + 1;
        if (strstr(je.text, "out of memory"))
            return assay_error_set(err, ASSAY_ENOMEM, "%s:%lld: out of memory", name,
                                   (long long)ls->line);
        return assay_error_set(err, ASSAY_EPARSE, "%s:%lld:%d: %s", name, (long long)ls->line,
                               col, je.text);
    }
    if (!json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        return assay_error_set(err, ASSAY_EPARSE, "%s:%lld: expected a JSON object", name,
                               (long long)ls->line);
    }
    return ASSAY_OK;
}

static int parse_jsonl(const char *buf, size_t len, const char *name, const assay_read_options *opt,
                       assay_table **out, assay_error *err) {
    int rc;
    line_span *lines = NULL;
    size_t nlines = 0, lcap = 0;
    json_t *keys = NULL, *obj = NULL;
    char **names = NULL;
    int ncols = 0;
    tablebuild tb = {0};
    assay_buf cells = {0};
    *out = NULL;

    rc = assay__check_text(buf, len, name, err);
    if (rc) return rc;
    size_t start = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    int64_t max_rows = opt && opt->max_rows > 0 ? opt->max_rows : INT64_MAX;
    int64_t line = 1;
    for (size_t pos = start; pos < len && (int64_t)nlines < max_rows; line++) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, b = pos, e = end;
        while (b < e && is_ws(buf[b])) b++;
        while (e > b && is_ws(buf[e - 1])) e--;
        if (e > b) {
            if (nlines == lcap) {
                lcap = lcap ? lcap * 2 : 64;
                line_span *nlp = assay_reallocarray(lines, lcap, sizeof *lines);
                if (!nlp) goto nomem;
                lines = nlp;
            }
            lines[nlines++] = (line_span){b, e - b, line};
        }
        pos = end + 1;
    }
    if (nlines == 0) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: empty file", name);
        goto fail;
    }

    /* pass 1: validate every line and collect the keys in first-seen order */
    keys = json_object();
    if (!keys) goto nomem;
    for (size_t i = 0; i < nlines; i++) {
        rc = parse_line(buf, &lines[i], name, &obj, err);
        if (rc) goto fail;
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
            const char *why = json_is_array(v) ? bad_label_list(v) : NULL;
            if (json_is_object(v) || why) {
                rc = why ? assay_error_set(err, ASSAY_EPARSE, "%s:%lld: key '%s' holds an array with %s; an array "
                                           "is a list of labels (strings, numbers or booleans)",
                                           name, (long long)lines[i].line, k, why)
                         : assay_error_set(err, ASSAY_EPARSE, "%s:%lld: key '%s' holds an object; nested values "
                                           "are not supported", name, (long long)lines[i].line, k);
                goto fail;
            }
            if (!json_object_get(keys, k)) {
                if (ncols == INT32_MAX) {
                    rc = assay_error_set(err, ASSAY_EPARSE, "%s: too many keys", name);
                    goto fail;
                }
                json_t *idx = json_integer(ncols);
                if (!idx || json_object_set_new(keys, k, idx)) goto nomem;
                ncols++;
            }
        }
        json_decref(obj);
        obj = NULL;
    }
    if (ncols == 0) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: no columns (every object is empty)", name);
        goto fail;
    }
    names = assay_calloc((size_t)ncols, sizeof *names);
    if (!names) goto nomem;
    {
        const char *k;
        json_t *v;
        json_object_foreach(keys, k, v) {
            int c = (int)json_integer_value(v);
            if (*k) {
                names[c] = assay_strdup(k);
            } else {
                char tmp[32];
                snprintf(tmp, sizeof tmp, "column_%d", c + 1);
                names[c] = assay_strdup(tmp);
            }
            if (!names[c]) goto nomem;
        }
    }
    rc = assay__tb_init(&tb, name, ncols, names, (int64_t)nlines, opt, err);
    names = NULL; /* adopted */
    if (rc) goto fail;

    /* pass 2: cells. Each row's cell text starts with an empty string: missing. */
    for (size_t i = 0; i < nlines; i++) {
        rc = parse_line(buf, &lines[i], name, &obj, err);
        if (rc) goto fail;
        int64_t r = tb.nrows, row_off = (int64_t)cells.len;
        tb.row_line[r] = lines[i].line;
        tb.row_off[r] = row_off;
        if (assay_buf_append(&cells, "", 1)) goto nomem;
        for (int c = 0; c < ncols; c++) assay__cell_put(&tb.cols[c], r, cells.data, row_off, row_off, 0);
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
            int c = (int)json_integer_value(json_object_get(keys, k));
            char tmp[40];
            const char *s = NULL;
            size_t n = 0;
            int64_t off = (int64_t)cells.len;
            if (json_is_array(v)) { /* labels joined by the separator; [] is missing */
                size_t j;
                json_t *e;
                json_array_foreach(v, j, e) {
                    scalar_text(e, tmp, sizeof tmp, &s, &n); /* pass 1 checked the items */
                    if ((j && assay_buf_append(&cells, (char[]){ASSAY_LABEL_SEP}, 1)) || assay_buf_append(&cells, s, n))
                        goto nomem;
                }
                if (!json_array_size(v)) continue;
                n = cells.len - (size_t)off;
            } else if (!scalar_text(v, tmp, sizeof tmp, &s, &n)) {
                continue; /* null: missing */
            } else if (assay_buf_append(&cells, s, n)) {
                goto nomem;
            }
            if (assay_buf_append(&cells, "", 1)) goto nomem;
            assay__cell_put(&tb.cols[c], r, cells.data, row_off, off, n);
        }
        json_decref(obj);
        obj = NULL;
        tb.nrows++;
    }
    tb.base = cells.data;
    rc = assay__tb_finish(&tb, out, err);
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
fail:
    if (names) {
        for (int c = 0; c < ncols; c++) assay_free(names[c]);
        assay_free(names);
    }
    assay__tb_deinit(&tb);
done:
    json_decref(obj);
    json_decref(keys);
    assay_free(lines);
    assay_buf_deinit(&cells);
    return rc;
}

int assay_table_read_jsonl_buffer(const char *buf, size_t len, const char *name,
                                  const assay_read_options *opt, assay_table **out,
                                  assay_error *err) {
    if (!out || (!buf && len))
        return assay_error_set(err, ASSAY_EINVAL, "assay_table_read_jsonl_buffer: NULL argument");
    return parse_jsonl(buf ? buf : "", len, name ? name : "<buffer>", opt, out, err);
}

int assay_table_read_jsonl(const char *path, const assay_read_options *opt, assay_table **out,
                           assay_error *err) {
    if (!path || !out)
        return assay_error_set(err, ASSAY_EINVAL, "assay_table_read_jsonl: NULL argument");
    *out = NULL;
    char *buf;
    size_t len;
    int64_t nrep;
    int rc = assay__read_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = assay__utf8_repair(opt, &buf, &len, &nrep, path, err);
    if (!rc) rc = parse_jsonl(buf, len, path, opt, out, err);
    if (!rc) (*out)->n_utf8_replaced = nrep;
    assay_free(buf);
    return rc;
}
