/* fasttext.c - reader of fastText's supervised format: one document per line, whitespace-
 * separated tokens, tokens starting with the label prefix ("__label__") are labels wherever
 * they are in the line (fastText's Dictionary::readWord / getLine split on ' ', \t, \v, \f, \r,
 * \n and \0 and test each token for the prefix). Produces the documents (the other tokens joined
 * by single spaces), per-document label lists and the label names, and a two-column table.
 *
 * Invalid UTF-8 is refused naming line:column (strict) or each bad byte is replaced by U+FFFD
 * and counted. Blank lines are skipped; a line with tokens but no label is an error unless
 * allow_unlabeled. Deliberately not here: tokenisation beyond whitespace, normalisation,
 * n-grams, the dictionary and min_count (the text pipeline and the benchmark do those). */
#include "data_internal.h"

#define DEFAULT_PREFIX "__label__"

void assay_fasttext_options_init(assay_fasttext_options *o) {
    o->label_prefix = NULL;
    o->strict_utf8 = 0;
    o->allow_unlabeled = 0;
}

void assay_fasttext_free(assay_fasttext *d) {
    if (!d) return;
    assay_free(d->docs);
    assay_free(d->line);
    assay_free(d->label_ptr);
    assay_free(d->labels);
    assay_free(d->label_names);
    assay_free(d->text_buf);
    assay_free(d->name_buf);
    assay_free(d);
}

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n' || c == 0;
}

typedef struct labelmap {
    int32_t *slot; /* cap entries: label id or -1 */
    size_t cap;
} labelmap;

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = assay_reallocarray(*p, c, size);
    if (!q) return -1;
    *p = q, *cap = c;
    return 0;
}

/* The id of label s[0..n) (added when new): -1 when out of memory. */
static int32_t label_id(assay_fasttext *d, labelmap *lm, size_t *names_cap, char **name_end,
                        const char *s, size_t n) {
    if ((size_t)d->nlabels * 2 >= lm->cap) { /* rehash at half full */
        size_t nc = lm->cap ? lm->cap * 2 : 64;
        int32_t *ns = assay_mallocarray(nc, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < nc; i++) ns[i] = -1;
        for (int32_t l = 0; l < d->nlabels; l++) {
            const char *nm = d->label_names[l];
            size_t h = (size_t)assay__hash_bytes(nm, strlen(nm), 0) & (nc - 1);
            while (ns[h] >= 0) h = (h + 1) & (nc - 1);
            ns[h] = l;
        }
        assay_free(lm->slot);
        lm->slot = ns, lm->cap = nc;
    }
    size_t h = (size_t)assay__hash_bytes(s, n, 0) & (lm->cap - 1);
    for (; lm->slot[h] >= 0; h = (h + 1) & (lm->cap - 1)) {
        const char *nm = d->label_names[lm->slot[h]];
        if (strncmp(nm, s, n) == 0 && nm[n] == '\0') return lm->slot[h];
    }
    if (grow((void **)&d->label_names, names_cap, (size_t)d->nlabels + 1, sizeof(char *)))
        return -1;
    memcpy(*name_end, s, n);
    (*name_end)[n] = '\0';
    d->label_names[d->nlabels] = *name_end;
    *name_end += n + 1;
    lm->slot[h] = d->nlabels;
    return d->nlabels++;
}

int assay_fasttext_read_buffer(const char *buf, size_t len, const char *name,
                               const assay_fasttext_options *o, assay_fasttext **out,
                               assay_error *err) {
    *out = NULL;
    assay_fasttext_options defo;
    if (!o) assay_fasttext_options_init(&defo), o = &defo;
    const char *prefix = o->label_prefix ? o->label_prefix : DEFAULT_PREFIX;
    size_t plen = strlen(prefix);
    if (plen == 0) return assay_error_set(err, ASSAY_EINVAL, "%s: empty label prefix", name);
    int rc = ASSAY_OK;
    char *clean = NULL;
    labelmap lm = {NULL, 0};
    size_t docs_cap = 0, line_cap = 0, ptr_cap = 0, lab_cap = 0, names_cap = 0;
    int64_t nlab = 0;
    assay_fasttext *d = assay_calloc(1, sizeof *d);
    if (!d) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    size_t bad = assay__utf8_check((const unsigned char *)buf, len);
    if (bad < len) {
        if (o->strict_utf8) {
            int64_t ln, col;
            assay__line_col(buf, bad, &ln, &col);
            rc = assay_error_set(err, ASSAY_EUTF8, "%s:%lld:%lld: invalid UTF-8 (byte 0x%02X)",
                                 name, (long long)ln, (long long)col, (unsigned char)buf[bad]);
            goto fail;
        }
        if (!(clean = assay__utf8_replace(buf, len, &len, &d->n_replaced))) goto nomem;
        buf = clean;
    }
    d->text_buf = assay_malloc(len + 1);
    d->name_buf = assay_malloc(len + 1);
    if (!d->text_buf || !d->name_buf) goto nomem;
    char *tw = d->text_buf, *nw = d->name_buf;
    int64_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        lineno++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        char *doc = tw;
        int64_t first_label = nlab, ntok = 0;
        for (size_t p = pos; p < end;) {
            while (p < end && is_space((unsigned char)buf[p])) p++;
            if (p >= end) break;
            size_t s = p;
            while (p < end && !is_space((unsigned char)buf[p])) p++;
            size_t n = p - s;
            if (n >= plen && memcmp(buf + s, prefix, plen) == 0) {
                if (n == plen) {
                    rc = assay_error_set(err, ASSAY_EPARSE, "%s:%lld: empty label '%s'", name,
                                         (long long)lineno, prefix);
                    goto fail;
                }
                int32_t id = label_id(d, &lm, &names_cap, &nw, buf + s + plen, n - plen);
                if (id < 0) goto nomem;
                int dup = 0;
                for (int64_t l = first_label; l < nlab; l++) dup |= d->labels[l] == id;
                if (dup) continue;
                if (grow((void **)&d->labels, &lab_cap, (size_t)nlab + 1, sizeof *d->labels))
                    goto nomem;
                d->labels[nlab++] = id;
            } else {
                if (ntok++) *tw++ = ' ';
                memcpy(tw, buf + s, n);
                tw += n;
            }
        }
        pos = nl ? end + 1 : len;
        if (ntok == 0 && nlab == first_label) continue; /* blank line */
        if (nlab == first_label && !o->allow_unlabeled) {
            rc = assay_error_set(err, ASSAY_EPARSE, "%s:%lld: no label (no token starts with '%s')",
                                 name, (long long)lineno, prefix);
            goto fail;
        }
        *tw++ = '\0';
        if (grow((void **)&d->docs, &docs_cap, (size_t)d->ndocs + 1, sizeof *d->docs) ||
            grow((void **)&d->line, &line_cap, (size_t)d->ndocs + 1, sizeof *d->line) ||
            grow((void **)&d->label_ptr, &ptr_cap, (size_t)d->ndocs + 2, sizeof *d->label_ptr))
            goto nomem;
        d->docs[d->ndocs] = doc;
        d->line[d->ndocs] = lineno;
        d->label_ptr[d->ndocs] = first_label;
        d->ntokens += ntok;
        d->ndocs++;
    }
    if (d->ndocs == 0) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: no documents (the file is empty or blank)",
                             name);
        goto fail;
    }
    d->label_ptr[d->ndocs] = nlab;
    assay_free(lm.slot);
    assay_free(clean);
    *out = d;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
fail:
    assay_free(lm.slot);
    assay_free(clean);
    assay_fasttext_free(d);
    return rc;
}

int assay_fasttext_read(const char *path, const assay_fasttext_options *o, assay_fasttext **out,
                        assay_error *err) {
    char *buf;
    size_t len;
    *out = NULL;
    int rc = assay__read_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = assay_fasttext_read_buffer(buf, len, path, o, out, err);
    assay_free(buf);
    return rc;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *c = assay_malloc(n + 1);
    if (c) memcpy(c, s, n + 1);
    return c;
}

/* Document i's labels joined by ASSAY_LABEL_SEP into *text (allocated); a label that holds the
 * separator is refused, naming the line. */
static int join_labels(const assay_fasttext *d, int64_t i, const char *source, char **text, assay_error *err) {
    assay_buf b = {0};
    int rc = 0;
    for (int64_t q = d->label_ptr[i]; q < d->label_ptr[i + 1] && !rc; q++) {
        const char *name = d->label_names[d->labels[q]];
        if (strchr(name, ASSAY_LABEL_SEP)) {
            assay_buf_deinit(&b);
            return assay_error_set(err, ASSAY_EINVAL, "%s: line %lld: label '%s' holds '%c', which separates the "
                                   "labels of a document", source ? source : "fastText data", (long long)d->line[i],
                                   name, ASSAY_LABEL_SEP);
        }
        rc = (q > d->label_ptr[i] && assay_buf_printf(&b, "%c", ASSAY_LABEL_SEP)) || assay_buf_printf(&b, "%s", name);
    }
    if (rc) {
        assay_buf_deinit(&b);
        return assay_error_set(err, ASSAY_ENOMEM, "fastText table: out of memory");
    }
    *text = b.data;
    return ASSAY_OK;
}

int assay_fasttext_to_table(const assay_fasttext *d, const char *source, assay_table **out,
                            assay_error *err) {
    *out = NULL;
    int64_t n = d->ndocs;
    assay_table *t = assay_calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->nrows = n;
    t->cols = assay_calloc(2, sizeof *t->cols);
    if (!t->cols) goto nomem;
    t->ncols = 2;
    if (source && !(t->source = dup_str(source))) goto nomem;
    assay_column *tc = &t->cols[0], *lc = &t->cols[1];
    tc->type = ASSAY_COL_TEXT;
    int multi = 0; /* some document has several labels: the column is text, "a|b" */
    for (int64_t i = 0; i < n && !multi; i++) multi = d->label_ptr[i + 1] - d->label_ptr[i] > 1;
    lc->type = multi ? ASSAY_COL_TEXT : ASSAY_COL_CATEGORICAL;
    if (!(tc->name = dup_str("text")) || !(lc->name = dup_str("label"))) goto nomem;
    tc->missing = assay_calloc((size_t)n, 1);
    lc->missing = assay_calloc((size_t)n, 1);
    tc->text = assay_calloc((size_t)n, sizeof *tc->text);
    if (multi) lc->text = assay_calloc((size_t)n, sizeof *lc->text);
    else lc->cat = assay_mallocarray((size_t)n, sizeof *lc->cat);
    /* levels: the first labels in first-seen order */
    int32_t *remap = assay_mallocarray((size_t)d->nlabels + 1, sizeof *remap);
    lc->levels = assay_calloc((size_t)d->nlabels + 1, sizeof *lc->levels);
    if (!tc->missing || !lc->missing || !tc->text || !(lc->cat || lc->text) || !remap || !lc->levels) {
        assay_free(remap);
        goto nomem;
    }
    for (int32_t l = 0; l < d->nlabels; l++) remap[l] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (d->docs[i][0] == '\0') {
            tc->missing[i] = 1, tc->n_missing++;
        } else if (!(tc->text[i] = dup_str(d->docs[i]))) {
            assay_free(remap);
            goto nomem;
        }
        if (d->label_ptr[i + 1] == d->label_ptr[i]) {
            if (!multi) lc->cat[i] = -1;
            lc->missing[i] = 1, lc->n_missing++;
            continue;
        }
        if (multi) {
            int rc = join_labels(d, i, source, &lc->text[i], err);
            if (rc) {
                assay_free(remap);
                assay_table_free(t);
                return rc;
            }
            continue;
        }
        int32_t l = d->labels[d->label_ptr[i]];
        if (remap[l] < 0) {
            if (!(lc->levels[lc->nlevels] = dup_str(d->label_names[l]))) {
                assay_free(remap);
                goto nomem;
            }
            remap[l] = lc->nlevels++;
        }
        lc->cat[i] = remap[l];
    }
    assay_free(remap);
    *out = t;
    return ASSAY_OK;
nomem:
    assay_table_free(t);
    return assay_error_set(err, ASSAY_ENOMEM, "fastText table: out of memory");
}
