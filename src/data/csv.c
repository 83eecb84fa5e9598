/* csv.c - RFC 4180 CSV reader: header row; quoted fields with "" escapes, embedded delimiters
 * and newlines; CRLF, LF (and lone CR) line ends; UTF-8 BOM skipped; blank lines skipped;
 * delimiter detection among , ; TAB |; strict UTF-8 validation.
 *
 * How it is fast: the whole file is read into one buffer, validated once (8 bytes at a time for
 * ASCII), and split in place: each cell is unescaped where it lies and NUL-terminated, so no
 * cell is copied or allocated. While splitting, each cell is classified (missing / number) into
 * per-column arrays; type inference and conversion then run over those arrays (build.c).
 * Deliberately not done: other encodings, comment lines, skipping leading rows, a quote char
 * other than '"', trimming of quoted or text values (only numbers may carry blanks). A quote
 * inside an unquoted field is kept literally, as pandas does. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_internal.h"

/* ---- files ------------------------------------------------------------------------------- */

int assay__read_file(const char *path, char **out, size_t *len, assay_error *err) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return assay_error_set(err, ASSAY_EIO, "%s: is a directory", path);
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) cap = (size_t)st.st_size;
    cap += 1; /* room for a final NUL; also detects growth while reading */
    buf = assay_malloc(cap + 1);
    if (!buf) goto nomem;
    assay__advise_huge(buf, cap + 1);
    for (;;) {
        if (n == cap) {
            size_t ncap = cap * 2;
            char *nb = assay_realloc(buf, ncap + 1);
            if (!nb) goto nomem;
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            assay_free(buf);
            close(fd);
            return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(e));
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ASSAY_OK;
nomem:
    assay_free(buf);
    close(fd);
    return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory reading the file", path);
}

int assay__utf8_repair(const assay_read_options *opt, char **buf, size_t *len, int64_t *nrep,
                       const char *name, assay_error *err) {
    *nrep = 0;
    if (!opt || !opt->replace_utf8 || assay__utf8_check((const unsigned char *)*buf, *len) == *len)
        return ASSAY_OK;
    size_t n;
    char *fixed = assay__utf8_replace(*buf, *len, &n, nrep);
    if (!fixed) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    assay_free(*buf);
    *buf = fixed, *len = n;
    return ASSAY_OK;
}

int assay__check_text(const char *buf, size_t len, const char *name, assay_error *err) {
    const char *z = memchr(buf, '\0', len);
    size_t bad = assay__utf8_check((const unsigned char *)buf, len);
    if (z && (size_t)(z - buf) <= bad) {
        int64_t line, col;
        assay__line_col(buf, (size_t)(z - buf), &line, &col);
        return assay_error_set(err, ASSAY_EPARSE, "%s:%lld:%lld: NUL byte in text", name,
                               (long long)line, (long long)col);
    }
    if (bad < len) {
        int64_t line, col;
        assay__line_col(buf, bad, &line, &col);
        return assay_error_set(err, ASSAY_EUTF8, "%s:%lld:%lld: invalid UTF-8 (byte 0x%02X)", name,
                               (long long)line, (long long)col, (unsigned char)buf[bad]);
    }
    return ASSAY_OK;
}

/* ---- splitting --------------------------------------------------------------------------- */

typedef struct csvp {
    char *buf;
    size_t len, pos;
    int64_t line;       /* current physical line (1-based) */
    size_t line_start;  /* offset where the current line starts */
    char delim;
    const char *name;
    uint8_t stop[256];  /* bytes that end an unquoted field */
} csvp;

/* The field ended at q (a delimiter, line end or the end of the buffer): NUL-terminate it at
 * w (<= q) and step past the terminator. Returns 1 when the row ended. */
static inline int field_end(csvp *p, size_t q, size_t w) {
    char c = q < p->len ? p->buf[q] : '\n';
    p->buf[w] = '\0';
    if (q >= p->len) {
        p->pos = p->len;
        return 1;
    }
    if (c == p->delim) {
        p->pos = q + 1;
        return 0;
    }
    p->pos = q + 1;
    if (c == '\r' && p->pos < p->len && p->buf[p->pos] == '\n') p->pos++;
    p->line++;
    p->line_start = p->pos;
    return 1;
}

/* Split one field at p->pos. Its text is left at buf[*off .. *off + *n), NUL-terminated. */
static inline int field(csvp *p, int64_t *off, size_t *n, int *row_end, assay_error *err) {
    char *b = p->buf;
    size_t len = p->len, q = p->pos;
    if (q >= len || b[q] != '"') {
        const uint8_t *stop = p->stop;
        while (q < len && !stop[(unsigned char)b[q]]) q++;
        *off = (int64_t)p->pos;
        *n = q - p->pos;
        *row_end = field_end(p, q, q);
        return ASSAY_OK;
    }
    /* quoted: unescape "" in place, counting embedded newlines */
    size_t open = q, start = q + 1, w = start, r = start;
    int64_t open_line = p->line;
    size_t open_col = open - p->line_start + 1;
    for (;;) {
        size_t qpos = r;
        while (qpos < len && b[qpos] != '"') {
            if (b[qpos] == '\n') {
                p->line++;
                p->line_start = qpos + 1;
            }
            qpos++;
        }
        if (qpos >= len) {
            return assay_error_set(err, ASSAY_EPARSE,
                                   "%s:%lld:%zu: unterminated quoted field starting here", p->name,
                                   (long long)open_line, open_col);
        }
        if (w != r) memmove(b + w, b + r, qpos - r);
        w += qpos - r;
        if (qpos + 1 < len && b[qpos + 1] == '"') {
            b[w++] = '"';
            r = qpos + 2;
            continue;
        }
        r = qpos + 1;
        break;
    }
    /* after the closing quote: normally a terminator; anything else is kept literally */
    while (r < len && !p->stop[(unsigned char)b[r]]) b[w++] = b[r++];
    *off = (int64_t)start;
    *n = w - start;
    *row_end = field_end(p, r, w);
    return ASSAY_OK;
}

/* Skip blank lines (only CR/LF) at p->pos. */
static void skip_blank_lines(csvp *p) {
    while (p->pos < p->len) {
        char c = p->buf[p->pos];
        if (c == '\n') {
            p->pos++;
        } else if (c == '\r') {
            p->pos++;
            if (p->pos < p->len && p->buf[p->pos] == '\n') p->pos++;
        } else {
            break;
        }
        p->line++;
        p->line_start = p->pos;
    }
}

/* Field counts per line for delimiter d over the first lines of buf (quotes respected). */
static int consistent_count(const char *buf, size_t len, char d, int *header_count) {
    int count = -1, lines = 0, nf = 1, inq = 0, blank = 1;
    size_t i = 0, limit = len < (1u << 16) ? len : (1u << 16);
    *header_count = 0;
    for (; i < limit && lines < 20; i++) {
        char c = buf[i];
        if (c == '"') {
            inq = !inq;
            blank = 0;
        } else if (inq) {
            continue;
        } else if (c == d) {
            nf++;
            blank = 0;
        } else if (c == '\n' || c == '\r') {
            if (!blank) {
                if (lines == 0) *header_count = nf;
                if (count >= 0 && nf != count) return 0;
                count = nf;
                lines++;
            }
            nf = 1;
            blank = 1;
        } else {
            blank = 0;
        }
    }
    if (i == len && !blank && !inq) { /* a last line without a newline */
        if (lines == 0) *header_count = nf;
        if (count >= 0 && nf != count) return 0;
        count = nf;
    }
    return count > 1 ? count : 0;
}

static char detect_delimiter(const char *buf, size_t len) {
    static const char cands[4] = {',', ';', '\t', '|'};
    int best = -1, best_header = 1;
    for (int i = 0; i < 4; i++) {
        int hc;
        if (consistent_count(buf, len, cands[i], &hc)) return cands[i];
        if (hc > best_header) {
            best_header = hc;
            best = i;
        }
    }
    return best >= 0 ? cands[best] : ',';
}

/* Parse buf (owned, len bytes plus a writable byte at buf[len]) into a table. */
static int parse_csv(char *buf, size_t len, const char *name, const assay_read_options *opt,
                     assay_table **out, assay_error *err) {
    int rc;
    tablebuild tb = {0};
    int64_t *hoff = NULL;
    char **names = NULL;
    int ncols = 0;
    csvp p = {.buf = buf, .len = len, .line = 1, .name = name};
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) p.pos = p.line_start = 3;
    rc = assay__check_text(buf, len, name, err);
    if (rc) goto fail;
    skip_blank_lines(&p);
    if (p.pos >= len) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: empty file", name);
        goto fail;
    }
    p.delim = opt && opt->delimiter ? opt->delimiter : detect_delimiter(buf + p.pos, len - p.pos);
    if (p.delim == '"' || p.delim == '\n' || p.delim == '\r') {
        rc = assay_error_set(err, ASSAY_EINVAL, "--delimiter: '%c' cannot be a delimiter", p.delim);
        goto fail;
    }
    p.stop[(unsigned char)p.delim] = p.stop['\n'] = p.stop['\r'] = 1;

    /* header */
    size_t hcap = 16;
    hoff = assay_mallocarray(hcap, sizeof *hoff);
    if (!hoff) goto nomem;
    for (int row_end = 0; !row_end;) {
        int64_t off = 0;
        size_t n = 0;
        rc = field(&p, &off, &n, &row_end, err);
        if (rc) goto fail;
        if ((size_t)ncols == hcap) {
            if (hcap > (size_t)INT32_MAX / 2) {
                rc = assay_error_set(err, ASSAY_EPARSE, "%s:1: too many columns", name);
                goto fail;
            }
            hcap *= 2;
            int64_t *nh = assay_reallocarray(hoff, hcap, sizeof *hoff);
            if (!nh) goto nomem;
            hoff = nh;
        }
        hoff[ncols++] = off;
    }
    names = assay_calloc((size_t)ncols, sizeof *names);
    if (!names) goto nomem;
    for (int c = 0; c < ncols; c++) {
        const char *s = buf + hoff[c];
        if (*s) {
            names[c] = assay_strdup(s);
        } else {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "column_%d", c + 1);
            names[c] = assay_strdup(tmp);
        }
        if (!names[c]) goto nomem;
    }
    assay_free(hoff);
    hoff = NULL;

    /* capacity from the length of the first lines; at least ncols bytes per row */
    int64_t cap;
    {
        size_t sample = len - p.pos < (1u << 16) ? len - p.pos : (1u << 16), nl = 0;
        for (const char *q = memchr(buf + p.pos, '\n', sample); q;
             q = memchr(q + 1, '\n', sample - (size_t)(q + 1 - (buf + p.pos))))
            nl++;
        double per_row = nl ? (double)sample / (double)nl : (double)sample + 1;
        double est = (double)(len - p.pos) / per_row * 1.05 + 16;
        double bound = (double)(len - p.pos) / (double)ncols + 16;
        cap = (int64_t)(est < bound ? est : bound);
        if (opt && opt->max_rows > 0 && cap > opt->max_rows) cap = opt->max_rows;
    }
    rc = assay__tb_init(&tb, name, ncols, names, cap, opt, err);
    names = NULL; /* adopted */
    if (rc) goto fail;
    tb.base = buf;

    /* rows */
    int64_t max_rows = opt && opt->max_rows > 0 ? opt->max_rows : INT64_MAX;
    for (;;) {
        skip_blank_lines(&p);
        if (p.pos >= len || tb.nrows >= max_rows) break;
        if (tb.nrows == tb.cap && (rc = assay__tb_grow(&tb, err))) goto fail;
        int64_t r = tb.nrows, line = p.line, row_off = (int64_t)p.pos;
        tb.row_line[r] = line;
        tb.row_off[r] = row_off;
        int nf = 0;
        for (int row_end = 0; !row_end;) {
            int64_t off = 0;
            size_t n = 0;
            rc = field(&p, &off, &n, &row_end, err);
            if (rc) goto fail;
            if (off - row_off > (int64_t)UINT32_MAX) {
                rc = assay_error_set(err, ASSAY_EPARSE, "%s:%lld: row longer than 4 GiB", name,
                                     (long long)line);
                goto fail;
            }
            if (nf < ncols) assay__cell_put(&tb.cols[nf], r, buf, row_off, off, n);
            if (nf < INT32_MAX) nf++;
        }
        if (nf != ncols) {
            rc = assay_error_set(err, ASSAY_EPARSE, "%s:%lld: expected %d fields, found %d", name,
                                 (long long)line, ncols, nf);
            goto fail;
        }
        tb.nrows++;
    }
    if (tb.nrows == 0) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: no data rows after the header", name);
        goto fail;
    }
    return assay__tb_finish(&tb, out, err);
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
fail:
    assay_free(hoff);
    if (names) {
        for (int c = 0; c < ncols; c++) assay_free(names[c]);
        assay_free(names);
    }
    assay__tb_deinit(&tb);
    return rc;
}

int assay_table_read_csv_buffer(const char *buf, size_t len, const char *name,
                                const assay_read_options *opt, assay_table **out,
                                assay_error *err) {
    if (!out || (!buf && len))
        return assay_error_set(err, ASSAY_EINVAL, "assay_table_read_csv_buffer: NULL argument");
    *out = NULL;
    if (!name) name = "<buffer>";
    char *copy = assay_malloc(len + 1);
    if (!copy) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    if (len) memcpy(copy, buf, len);
    copy[len] = '\0';
    int64_t nrep;
    int rc = assay__utf8_repair(opt, &copy, &len, &nrep, name, err);
    if (!rc) rc = parse_csv(copy, len, name, opt, out, err);
    if (!rc) (*out)->n_utf8_replaced = nrep;
    assay_free(copy);
    return rc;
}

int assay_table_read_csv(const char *path, const assay_read_options *opt, assay_table **out,
                         assay_error *err) {
    if (!path || !out) return assay_error_set(err, ASSAY_EINVAL, "assay_table_read_csv: NULL argument");
    *out = NULL;
    char *buf;
    size_t len;
    int64_t nrep;
    int rc = assay__read_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = assay__utf8_repair(opt, &buf, &len, &nrep, path, err);
    if (!rc) rc = parse_csv(buf, len, path, opt, out, err);
    if (!rc) (*out)->n_utf8_replaced = nrep;
    assay_free(buf);
    return rc;
}
