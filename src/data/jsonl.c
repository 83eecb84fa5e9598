/* jsonl.c - JSON Lines reader (jansson): one object per non-blank line; the columns are the union
 * of keys in first-seen order; null and absent keys are missing; numbers, booleans and strings
 * become cell text that goes through the same inference as CSV cells (so "2020-01-02" is a
 * date and "12" a number). Nested objects and arrays are refused, naming the line and key.
 * Two passes over the lines (keys first, then cells) keep memory to the cells themselves; this
 * reader is not tuned for speed like the CSV one. */
#include <jansson.h>

#include "data_internal.h"

typedef struct line_span {
    size_t off, len;
    int64_t line;
} line_span;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }

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
            if (json_is_object(v) || json_is_array(v)) {
                rc = assay_error_set(err, ASSAY_EPARSE,
                                     "%s:%lld: key '%s' holds %s; nested values are not supported",
                                     name, (long long)lines[i].line, k,
                                     json_is_object(v) ? "an object" : "an array");
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
            switch (json_typeof(v)) {
            case JSON_STRING:
                s = json_string_value(v);
                n = json_string_length(v);
                break;
            case JSON_INTEGER:
                n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
                s = tmp;
                break;
            case JSON_REAL:
                s = assay__format_number(json_real_value(v), tmp, sizeof tmp);
                n = strlen(tmp);
                break;
            case JSON_TRUE: s = "true", n = 4; break;
            case JSON_FALSE: s = "false", n = 5; break;
            default: break; /* null: missing */
            }
            if (!s) continue;
            int64_t off = (int64_t)cells.len;
            if (assay_buf_append(&cells, s, n) || assay_buf_append(&cells, "", 1)) goto nomem;
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
