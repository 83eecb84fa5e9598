/* text_vectorize.c - fitted text vectorizers: counts, binary, TF-IDF and the hashing trick
 * (include/assay/text.h), with scikit-learn's definitions (TfidfVectorizer 1.2):
 *   df filter: min_df <= df <= max_df (a value below 1 -- for max_df, up to 1 -- is a fraction
 *   of the documents), then max_features keeps the terms of largest corpus count (ties: the
 *   earlier term in byte order); the vocabulary is in byte order.
 *   idf = ln((1 + n) / (1 + df)) + 1 (smooth_idf), else ln(n / df) + 1;
 *   tf = count, or 1 + ln(count) (sublinear_tf); binary: 1; rows scaled to unit L2 norm.
 * The vocabulary lives in one string buffer with an open-addressing table (FNV-1a) over it.
 * It does not reproduce scikit-learn's HashingVectorizer hash (murmur3); hashed columns are
 * assay's own. */
#include <jansson.h>

#include "assay/wordpiece.h"
#include "prep_internal.h"

#define VOCAB_MAX ((int64_t)1 << 31)

/* ---- a string -> id table ------------------------------------------------------------------ */

typedef struct strtab {
    assay_buf chars;            /* every term, back to back (no NULs) */
    int64_t n, cap;
    int64_t *off;               /* n: start in chars */
    uint32_t *len;
    uint64_t *hash;
    int64_t *slot;              /* nslot: id + 1, 0 empty */
    int64_t nslot;
} strtab;

static void strtab_deinit(strtab *t) {
    assay_buf_deinit(&t->chars);
    assay_free(t->off);
    assay_free(t->len);
    assay_free(t->hash);
    assay_free(t->slot);
    memset(t, 0, sizeof *t);
}

static int strtab_rehash(strtab *t, int64_t nslot) {
    int64_t *s = assay_calloc((size_t)nslot, sizeof *s);
    if (!s) return ASSAY_ENOMEM;
    for (int64_t i = 0; i < t->n; i++) {
        int64_t j = (int64_t)(t->hash[i] & (uint64_t)(nslot - 1));
        while (s[j]) j = (j + 1) & (nslot - 1);
        s[j] = i + 1;
    }
    assay_free(t->slot);
    t->slot = s;
    t->nslot = nslot;
    return ASSAY_OK;
}

static int64_t strtab_find(const strtab *t, const char *s, size_t n, uint64_t h) {
    if (!t->nslot) return -1;
    for (int64_t j = (int64_t)(h & (uint64_t)(t->nslot - 1));; j = (j + 1) & (t->nslot - 1)) {
        int64_t id = t->slot[j] - 1;
        if (id < 0) return -1;
        if (t->hash[id] == h && t->len[id] == n && memcmp(t->chars.data + t->off[id], s, n) == 0) return id;
    }
}

/* The id of s, added when absent (*added = 1); -1 when out of memory or full. */
static int64_t strtab_intern(strtab *t, const char *s, size_t n, uint64_t h, int *added) {
    *added = 0;
    int64_t id = strtab_find(t, s, n, h);
    if (id >= 0) return id;
    if (t->n >= VOCAB_MAX - 1 || n > UINT32_MAX) return -1;
    if (t->n == t->cap) {
        int64_t nc = t->cap ? 2 * t->cap : 1024;
        int64_t *off = assay_reallocarray(t->off, (size_t)nc, sizeof *off);
        if (off) t->off = off;
        uint32_t *len = assay_reallocarray(t->len, (size_t)nc, sizeof *len);
        if (len) t->len = len;
        uint64_t *hh = assay_reallocarray(t->hash, (size_t)nc, sizeof *hh);
        if (hh) t->hash = hh;
        if (!off || !len || !hh) return -1;
        t->cap = nc;
    }
    if ((t->n + 1) * 2 > t->nslot && strtab_rehash(t, t->nslot ? 2 * t->nslot : 2048)) return -1;
    if (assay_buf_append(&t->chars, s, n)) return -1;
    id = t->n++;
    t->off[id] = (int64_t)t->chars.len - (int64_t)n;
    t->len[id] = (uint32_t)n;
    t->hash[id] = h;
    int64_t j = (int64_t)(h & (uint64_t)(t->nslot - 1));
    while (t->slot[j]) j = (j + 1) & (t->nslot - 1);
    t->slot[j] = id + 1;
    *added = 1;
    return id;
}

/* ---- the vectorizer ------------------------------------------------------------------------ */

struct assay_vectorizer {
    assay_vectorizer_options o;
    int64_t ndocs;
    int64_t nfeat;
    strtab vocab;               /* column j is term j (not for HASH) */
    double *idf;                /* nfeat (TFIDF), else NULL */
    int64_t invalid;
    char *term_tmp;             /* for assay_vectorizer_term: terms are not NUL-terminated */
    char **terms;               /* lazily built NUL-terminated copies */
    assay_wordpiece *wp;        /* WORDPIECE: the vocabulary and BERT's tokenizer */
};

void assay_vectorizer_options_init(assay_vectorizer_options *o, assay_vec_kind kind) {
    memset(o, 0, sizeof *o);
    assay_text_options_init(&o->text);
    o->kind = kind;
    o->min_df = 1;
    o->max_df = 1.0;
    o->smooth_idf = 1;
    o->norm = kind == ASSAY_VEC_TFIDF || kind == ASSAY_VEC_HASH;
    o->hash_features = (int64_t)1 << 20;
    o->max_len = 128;
    o->lowercase = 1;
}

static uint64_t term_hash(const char *s, size_t n) { return assay_hash64(s, n, 0); }

/* Normalize document d; a refusal of invalid UTF-8 (strict_utf8) names the document. */
static int normalize_doc(const assay_text_options *o, const char *s, int64_t d, assay_buf *nb,
                         int64_t *invalid, assay_error *err) {
    assay_error e = {0};
    int rc = assay_text_normalize(o, s, strlen(s), nb, invalid, &e);
    if (rc == ASSAY_EUTF8) return assay_error_set(err, rc, "document %lld: %s", (long long)d + 1, e.msg);
    if (rc) return assay_error_set(err, rc, "%s", e.msg);
    return ASSAY_OK;
}

static const char *check_options(const assay_vectorizer_options *o) {
    if ((int)o->kind < 0 || o->kind > ASSAY_VEC_WORDPIECE) return "unknown vectorizer kind";
    if (o->kind == ASSAY_VEC_WORDPIECE && (o->max_len < 1 || o->max_len > 65536))
        return "the sequence length must be in 1..65536";
    if (!(o->min_df >= 0) || !(o->max_df > 0)) return "min_df and max_df must be positive";
    if (o->max_features < 0) return "max_features must be >= 0";
    if (o->kind == ASSAY_VEC_HASH && (o->hash_features < 1 || o->hash_features > ((int64_t)1 << 30)))
        return "hash_features must be in 1..2^30";
    if (o->text.ngram_min < 1 || o->text.ngram_max < o->text.ngram_min || o->text.ngram_max > 8)
        return "n-grams must satisfy 1 <= min <= max <= 8";
    if (o->text.min_token_len < 1 || o->text.min_token_len > 100) return "min_token_len must be in 1..100";
    if ((o->text.char_minn || o->text.char_maxn) &&
        (o->text.char_minn < 1 || o->text.char_maxn < o->text.char_minn || o->text.char_maxn > 16))
        return "character n-grams must satisfy 1 <= minn <= maxn <= 16 (or both 0)";
    return NULL;
}

typedef struct fit_ctx {
    strtab *t;
    int64_t *df, *tf, *last;
    int64_t cap;
    int64_t doc;
    int oom;
} fit_ctx;

static int fit_token(void *ctx, const char *s, size_t n) {
    fit_ctx *c = ctx;
    int added;
    int64_t id = strtab_intern(c->t, s, n, term_hash(s, n), &added);
    if (id < 0) return c->oom = ASSAY_ENOMEM;
    if (id >= c->cap) {
        int64_t nc = c->t->cap;
        int64_t *df = assay_reallocarray(c->df, (size_t)nc, sizeof *df);
        if (df) c->df = df;
        int64_t *tf = assay_reallocarray(c->tf, (size_t)nc, sizeof *tf);
        if (tf) c->tf = tf;
        int64_t *last = assay_reallocarray(c->last, (size_t)nc, sizeof *last);
        if (last) c->last = last;
        if (!df || !tf || !last) return c->oom = ASSAY_ENOMEM;
        c->cap = nc;
    }
    if (added) c->df[id] = c->tf[id] = 0, c->last[id] = -1;
    c->tf[id]++;
    if (c->last[id] != c->doc) c->df[id]++, c->last[id] = c->doc;
    return 0;
}

typedef struct term_ref {
    const strtab *t;
    int64_t id;
    int64_t tf;
} term_ref;

static int cmp_bytes(const strtab *t, int64_t a, int64_t b) {
    uint32_t la = t->len[a], lb = t->len[b];
    int c = memcmp(t->chars.data + t->off[a], t->chars.data + t->off[b], la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int cmp_term(const void *x, const void *y) {
    const term_ref *a = x, *b = y;
    return cmp_bytes(a->t, a->id, b->id);
}

static int cmp_freq(const void *x, const void *y) {
    const term_ref *a = x, *b = y;
    if (a->tf != b->tf) return a->tf > b->tf ? -1 : 1;
    return cmp_bytes(a->t, a->id, b->id);
}

static assay_vectorizer *vec_new(const assay_vectorizer_options *o) {
    assay_vectorizer *v = assay_calloc(1, sizeof *v);
    if (v) v->o = *o;
    return v;
}

int assay_vectorizer_fit(const assay_vectorizer_options *o, const char *const *docs, int64_t n,
                         assay_vectorizer **out, assay_error *err) {
    *out = NULL;
    const char *bad = check_options(o);
    if (bad) return assay_error_set(err, ASSAY_EINVAL, "text vectorizer: %s", bad);
    if (n < 1) return assay_error_set(err, ASSAY_EINVAL, "text vectorizer: no documents to fit");
    assay_vectorizer *v = vec_new(o);
    if (!v) return assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory");
    v->ndocs = n;
    if (o->kind == ASSAY_VEC_WORDPIECE) { /* nothing to learn: the vocabulary is given */
        assay_wordpiece_options wo;
        assay_wordpiece_options_init(&wo);
        wo.do_lower_case = o->lowercase;
        int rc = o->vocab[0] ? assay_wordpiece_load(o->vocab, &wo, &v->wp, err)
                             : assay_error_set(err, ASSAY_EINVAL, "text vectorizer: wordpiece needs a vocab.txt");
        if (rc) {
            assay_vectorizer_free(v);
            return rc;
        }
        v->o.vocab[0] = '\0'; /* the vocabulary now lives in the vectorizer (and its JSON) */
        v->nfeat = o->max_len;
        *out = v;
        return ASSAY_OK;
    }
    if (o->kind == ASSAY_VEC_HASH) { /* nothing to learn but the invalid UTF-8 count */
        v->nfeat = o->hash_features;
        assay_buf nb = {0};
        int rc = ASSAY_OK;
        for (int64_t d = 0; d < n && !rc; d++) {
            nb.len = 0;
            const char *s = docs[d] ? docs[d] : "";
            rc = normalize_doc(&o->text, s, d, &nb, &v->invalid, err);
        }
        assay_buf_deinit(&nb);
        if (rc) {
            assay_vectorizer_free(v);
            return rc;
        }
        *out = v;
        return ASSAY_OK;
    }
    strtab all = {0};
    fit_ctx c = {&all, NULL, NULL, NULL, 0, 0, 0};
    assay_buf nb = {0};
    term_ref *refs = NULL;
    int rc = ASSAY_OK;
    for (int64_t d = 0; d < n && !rc; d++) {
        nb.len = 0;
        const char *s = docs[d] ? docs[d] : "";
        if ((rc = normalize_doc(&o->text, s, d, &nb, &v->invalid, err))) break;
        c.doc = d;
        if (assay_text_tokens(&o->text, nb.data, nb.len, fit_token, &c) || c.oom)
            rc = assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory (%lld terms)",
                                 (long long)all.n);
    }
    assay_buf_deinit(&nb);
    /* the df window, then max_features, then byte order */
    double lo = o->min_df >= 1 ? o->min_df : ceil(o->min_df * (double)n - 1e-9);
    double hi = o->max_df > 1 ? o->max_df : floor(o->max_df * (double)n + 1e-9);
    int64_t keep = 0;
    if (!rc && !(refs = assay_mallocarray(all.n ? (size_t)all.n : 1, sizeof *refs)))
        rc = assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory");
    for (int64_t i = 0; !rc && i < all.n; i++)
        if ((double)c.df[i] >= lo && (double)c.df[i] <= hi) refs[keep++] = (term_ref){&all, i, c.tf[i]};
    if (!rc && o->max_features > 0 && keep > o->max_features) {
        qsort(refs, (size_t)keep, sizeof *refs, cmp_freq);
        keep = o->max_features;
    }
    if (!rc) qsort(refs, (size_t)keep, sizeof *refs, cmp_term);
    if (!rc && keep == 0)
        rc = assay_error_set(err, ASSAY_EINVAL,
                             "text vectorizer: no term is left (%lld documents; min_df %g, max_df %g): "
                             "the documents are empty or the limits too tight",
                             (long long)n, o->min_df, o->max_df);
    if (!rc && o->kind == ASSAY_VEC_TFIDF &&
        !(v->idf = assay_mallocarray((size_t)keep, sizeof *v->idf)))
        rc = assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory");
    for (int64_t j = 0; !rc && j < keep; j++) {
        int64_t id = refs[j].id;
        int added;
        if (strtab_intern(&v->vocab, all.chars.data + all.off[id], all.len[id], all.hash[id], &added) != j)
            rc = assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory");
        else if (v->idf) {
            double df = (double)c.df[id], N = (double)n;
            v->idf[j] = o->smooth_idf ? log((1 + N) / (1 + df)) + 1 : log(N / df) + 1;
        }
    }
    v->nfeat = keep;
    assay_free(refs);
    assay_free(c.df);
    assay_free(c.tf);
    assay_free(c.last);
    strtab_deinit(&all);
    if (rc) {
        assay_vectorizer_free(v);
        return rc;
    }
    *out = v;
    return ASSAY_OK;
}

/* ---- transform ----------------------------------------------------------------------------- */

typedef struct row_ctx {
    const assay_vectorizer *v;
    double *count;              /* nfeat (vocabulary) scratch, zero between documents */
    int64_t *touched;           /* columns counted in this document */
    int64_t ntouched, cap;
    int oom;
} row_ctx;

static int row_token(void *ctx, const char *s, size_t n) {
    row_ctx *c = ctx;
    const assay_vectorizer *v = c->v;
    int64_t j;
    uint64_t h = term_hash(s, n);
    if (v->o.kind == ASSAY_VEC_HASH) {
        j = (int64_t)(assay_text_hash(s, n) % (uint64_t)v->nfeat);
    } else {
        j = strtab_find(&v->vocab, s, n, h);
        if (j < 0) return 0;
    }
    if (c->count[j] == 0) {
        if (c->ntouched == c->cap) {
            int64_t nc = c->cap ? 2 * c->cap : 256;
            int64_t *t = assay_reallocarray(c->touched, (size_t)nc, sizeof *t);
            if (!t) return c->oom = ASSAY_ENOMEM;
            c->touched = t;
            c->cap = nc;
        }
        c->touched[c->ntouched++] = j;
    }
    c->count[j] += 1;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* One document's row into idx / val (appended); its term count in *nnz. */
static int transform_doc(const assay_vectorizer *v, row_ctx *c, const char *s, int64_t d,
                         assay_buf *nb, assay_buf *idx, assay_buf *val, int64_t *nnz,
                         assay_error *err) {
    int rc;
    if (v->wp) { /* token ids by position */
        int32_t *ids = NULL;
        int64_t nid = 0;
        (void)d;
        (void)nb;
        if ((rc = assay_wordpiece_tokenize(v->wp, s ? s : "", s ? strlen(s) : 0, &ids, &nid, err))) return rc;
        if (nid > v->nfeat) nid = v->nfeat;
        for (int64_t k = 0; k < nid && !rc; k++) {
            int32_t j32 = (int32_t)k;
            float x = (float)ids[k];
            if (assay_buf_append(idx, &j32, sizeof j32) || assay_buf_append(val, &x, sizeof x)) rc = ASSAY_ENOMEM;
        }
        assay_free(ids);
        *nnz = nid;
        return rc;
    }
    nb->len = 0;
    if ((rc = normalize_doc(&v->o.text, s ? s : "", d, nb, NULL, err))) return rc;
    c->ntouched = 0;
    if (assay_text_tokens(&v->o.text, nb->data, nb->len, row_token, c) || c->oom) return ASSAY_ENOMEM;
    qsort(c->touched, (size_t)c->ntouched, sizeof *c->touched, cmp_i64);
    double ss = 0;
    for (int64_t k = 0; k < c->ntouched; k++) {
        int64_t j = c->touched[k];
        double x = c->count[j];
        if (v->o.kind == ASSAY_VEC_BINARY) x = 1;
        else if (v->o.sublinear_tf) x = 1 + log(x);
        if (v->idf) x *= v->idf[j];
        c->count[j] = x;
        ss += x * x;
    }
    double scale = v->o.norm && ss > 0 ? 1 / sqrt(ss) : 1;
    rc = ASSAY_OK;
    for (int64_t k = 0; k < c->ntouched; k++) {
        int64_t j = c->touched[k];
        int32_t j32 = (int32_t)j;
        float x = (float)(c->count[j] * scale);
        c->count[j] = 0;
        if (!rc && (assay_buf_append(idx, &j32, sizeof j32) || assay_buf_append(val, &x, sizeof x)))
            rc = ASSAY_ENOMEM;
    }
    *nnz = c->ntouched;
    return rc;
}

#define TRANSFORM_CHUNK 256 /* documents per task: rows are concatenated in document order */

/* Documents are vectorized in fixed chunks spread over the OpenMP threads (each with its own
 * scratch row), then the chunks' rows are concatenated in order: the matrix does not depend on
 * the thread count. */
int assay_vectorizer_transform(const assay_vectorizer *v, const char *const *docs, int64_t n,
                               assay_csr *out, assay_error *err) {
    memset(out, 0, sizeof *out);
    if (v->nfeat > INT32_MAX) return assay_error_set(err, ASSAY_EINVAL, "text vectorizer: too many columns");
    int64_t nch = (n + TRANSFORM_CHUNK - 1) / TRANSFORM_CHUNK;
    int64_t *indptr = assay_calloc((size_t)n + 1, sizeof *indptr);
    assay_buf *cidx = assay_calloc((size_t)nch + 1, sizeof *cidx), *cval = assay_calloc((size_t)nch + 1, sizeof *cval);
    int *crc = assay_calloc((size_t)nch + 1, sizeof *crc);
    assay_error *cerr = assay_calloc((size_t)nch + 1, sizeof *cerr);
    int rc = indptr && cidx && cval && crc && cerr ? ASSAY_OK : ASSAY_ENOMEM;
#pragma omp parallel if (nch > 1 && !rc)
    {
        row_ctx c = {v, assay_calloc(v->wp ? 1 : (size_t)v->nfeat + 1, sizeof(double)), NULL, 0, 0, 0};
        assay_buf nb = {0};
#pragma omp for schedule(dynamic, 1)
        for (int64_t ch = 0; ch < nch; ch++) {
            if (rc) continue;
            if (!c.count) {
                crc[ch] = ASSAY_ENOMEM;
                continue;
            }
            int64_t lo = ch * TRANSFORM_CHUNK, hi = ASSAY_MIN(n, lo + TRANSFORM_CHUNK);
            for (int64_t d = lo; d < hi && !crc[ch]; d++)
                crc[ch] = transform_doc(v, &c, docs[d], d, &nb, &cidx[ch], &cval[ch], &indptr[d + 1], &cerr[ch]);
        }
        assay_buf_deinit(&nb);
        assay_free(c.count);
        assay_free(c.touched);
    }
    for (int64_t ch = 0; ch < nch && !rc; ch++) /* the first failure in document order */
        if (crc[ch]) {
            rc = crc[ch];
            if (rc != ASSAY_ENOMEM) *err = cerr[ch];
        }
    if (!rc) {
        for (int64_t d = 0; d < n; d++) indptr[d + 1] += indptr[d];
        int64_t nnz = indptr[n];
        out->indices = assay_mallocarray((size_t)nnz + 1, sizeof *out->indices);
        out->values = assay_mallocarray((size_t)nnz + 1, sizeof *out->values);
        if (!out->indices || !out->values) rc = ASSAY_ENOMEM;
        for (int64_t ch = 0, q = 0; ch < nch && !rc; ch++) {
            if (cidx[ch].len) memcpy(out->indices + q, cidx[ch].data, cidx[ch].len);
            if (cval[ch].len) memcpy(out->values + q, cval[ch].data, cval[ch].len);
            q += (int64_t)(cidx[ch].len / sizeof(int32_t));
        }
    }
    for (int64_t ch = 0; cidx && cval && ch < nch; ch++) assay_buf_deinit(&cidx[ch]), assay_buf_deinit(&cval[ch]);
    assay_free(cidx), assay_free(cval), assay_free(crc), assay_free(cerr);
    if (rc) {
        assay_free(indptr);
        assay_free(out->indices), assay_free(out->values);
        memset(out, 0, sizeof *out);
        return rc == ASSAY_ENOMEM ? assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory") : rc;
    }
    out->nrows = n;
    out->ncols = v->nfeat;
    out->nnz = indptr[n];
    out->indptr = indptr;
    return ASSAY_OK;
}

int64_t assay_vectorizer_nfeatures(const assay_vectorizer *v) { return v ? v->nfeat : 0; }

const char *assay_vectorizer_term(const assay_vectorizer *v, int64_t j) {
    if (!v || v->o.kind == ASSAY_VEC_HASH || v->wp || j < 0 || j >= v->nfeat) return NULL;
    assay_vectorizer *m = (assay_vectorizer *)v; /* the copies are a cache */
    if (!m->terms) {
        m->terms = assay_calloc((size_t)v->nfeat, sizeof *m->terms);
        m->term_tmp = assay_malloc(v->vocab.chars.len + (size_t)v->nfeat + 1);
        if (!m->terms || !m->term_tmp) {
            assay_free(m->terms);
            assay_free(m->term_tmp);
            m->terms = NULL;
            m->term_tmp = NULL;
            return NULL;
        }
        char *p = m->term_tmp;
        for (int64_t i = 0; i < v->nfeat; i++) {
            memcpy(p, v->vocab.chars.data + v->vocab.off[i], v->vocab.len[i]);
            p[v->vocab.len[i]] = '\0';
            m->terms[i] = p;
            p += v->vocab.len[i] + 1;
        }
    }
    return m->terms[j];
}

double assay_vectorizer_idf(const assay_vectorizer *v, int64_t j) {
    return v && v->idf && j >= 0 && j < v->nfeat ? v->idf[j] : 1.0;
}

int64_t assay_vectorizer_invalid_utf8(const assay_vectorizer *v) { return v ? v->invalid : 0; }

void assay_vectorizer_free(assay_vectorizer *v) {
    if (!v) return;
    strtab_deinit(&v->vocab);
    assay_free(v->idf);
    assay_free(v->terms);
    assay_free(v->term_tmp);
    assay_wordpiece_free(v->wp);
    assay_free(v);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static const char *const kind_names[] = {"tfidf", "count", "binary", "hash", "wordpiece"};
static const char *const case_names[] = {"keep", "lower", "fold"};

char *assay_vectorizer_to_json(const assay_vectorizer *v) {
    const assay_vectorizer_options *o = &v->o;
    const assay_text_options *t = &o->text;
    json_t *text = json_pack("{s:b,s:s,s:b,s:b,s:b,s:i,s:b,s:b,s:[i,i],s:[i,i],s:b}", "nfkc", t->nfkc, "case",
                             case_names[t->casing], "strip_accents", t->strip_accents, "strip_html",
                             t->strip_html, "placeholders", t->placeholders, "min_token_len",
                             t->min_token_len, "cjk_bigrams", t->cjk_bigrams, "stop_words",
                             t->stop_words, "ngrams", t->ngram_min, t->ngram_max, "char_ngrams",
                             t->char_minn, t->char_maxn, "strict_utf8", t->strict_utf8);
    json_t *doc = json_pack("{s:s,s:o,s:f,s:f,s:I,s:b,s:b,s:b,s:I,s:I}", "kind", kind_names[o->kind], "text",
                            text, "min_df", o->min_df, "max_df", o->max_df, "max_features",
                            (json_int_t)o->max_features, "sublinear_tf", o->sublinear_tf, "smooth_idf",
                            o->smooth_idf, "norm", o->norm, "hash_features", (json_int_t)o->hash_features,
                            "n_docs", (json_int_t)v->ndocs);
    if (!doc) return NULL;
    if (v->wp) { /* the vocabulary in id order, and the tokenizer's settings */
        json_t *terms = json_array();
        for (int32_t j = 0; terms && j < assay_wordpiece_size(v->wp); j++)
            json_array_append_new(terms, json_string(assay_wordpiece_token(v->wp, j)));
        json_object_set_new(doc, "vocab", terms);
        json_object_set_new(doc, "max_len", json_integer(o->max_len));
        json_object_set_new(doc, "lowercase", json_boolean(o->lowercase));
    } else if (o->kind != ASSAY_VEC_HASH) {
        json_t *terms = json_array(), *idf = v->idf ? json_array() : NULL;
        for (int64_t j = 0; terms && j < v->nfeat; j++) {
            json_array_append_new(terms, json_stringn(v->vocab.chars.data + v->vocab.off[j], v->vocab.len[j]));
            if (idf) json_array_append_new(idf, json_real(v->idf[j]));
        }
        json_object_set_new(doc, "terms", terms);
        if (idf) json_object_set_new(doc, "idf", idf);
    }
    char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    char *copy = s ? assay_strdup(s) : NULL;
    free(s);
    return copy;
}

/* A WORDPIECE vectorizer's vocabulary (a JSON array of tokens in id order). */
static int vocab_from_json(const json_t *a, const assay_vectorizer_options *o, assay_wordpiece **out,
                           assay_error *err) {
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0) return ASSAY_EFORMAT;
    const char **tok = assay_mallocarray(n, sizeof *tok);
    if (!tok) return ASSAY_ENOMEM;
    int rc = ASSAY_OK;
    for (size_t j = 0; j < n && !rc; j++)
        if (!(tok[j] = json_string_value(json_array_get(a, j)))) rc = ASSAY_EFORMAT;
    assay_wordpiece_options wo;
    assay_wordpiece_options_init(&wo);
    wo.do_lower_case = o->lowercase;
    assay_error e = {0};
    if (!rc && (rc = assay_wordpiece_from_tokens(tok, (int64_t)n, &wo, out, &e)) && rc != ASSAY_ENOMEM)
        assay_error_set(err, ASSAY_EFORMAT, "text vectorizer: vocabulary: %s", e.msg), rc = ASSAY_EFORMAT;
    assay_free(tok);
    return rc;
}

static int choice(const char *s, const char *const *names, int n) {
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int assay_vectorizer_from_json(const char *json, size_t len, assay_vectorizer **out,
                               assay_error *err) {
    *out = NULL;
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je);
    assay_vectorizer_options o;
    assay_vectorizer_options_init(&o, ASSAY_VEC_TFIDF);
    const json_t *text = json_object_get(doc, "text"), *ng = json_object_get(text, "ngrams");
    const json_t *cng = json_object_get(text, "char_ngrams"); /* absent in older models: none */
    int kind = choice(json_string_value(json_object_get(doc, "kind")), kind_names, 5);
    int casing = choice(json_string_value(json_object_get(text, "case")), case_names, 3);
    json_int_t n_docs = json_integer_value(json_object_get(doc, "n_docs"));
    int ok = doc && json_is_object(text) && kind >= 0 && casing >= 0 && json_is_array(ng) &&
             json_array_size(ng) == 2 && n_docs >= 1 && (!cng || (json_is_array(cng) && json_array_size(cng) == 2));
    if (ok) {
        o.kind = (assay_vec_kind)kind;
        o.text.casing = (assay_text_case)casing;
        o.text.nfkc = json_is_true(json_object_get(text, "nfkc"));
        o.text.strip_accents = json_is_true(json_object_get(text, "strip_accents"));
        o.text.strip_html = json_is_true(json_object_get(text, "strip_html"));
        o.text.placeholders = json_is_true(json_object_get(text, "placeholders"));
        o.text.cjk_bigrams = json_is_true(json_object_get(text, "cjk_bigrams"));
        o.text.stop_words = json_is_true(json_object_get(text, "stop_words"));
        o.text.strict_utf8 = json_is_true(json_object_get(text, "strict_utf8"));
        o.text.min_token_len = (int)json_integer_value(json_object_get(text, "min_token_len"));
        o.text.ngram_min = (int)json_integer_value(json_array_get(ng, 0));
        o.text.ngram_max = (int)json_integer_value(json_array_get(ng, 1));
        o.text.char_minn = (int)json_integer_value(json_array_get(cng, 0));
        o.text.char_maxn = (int)json_integer_value(json_array_get(cng, 1));
        o.min_df = json_number_value(json_object_get(doc, "min_df"));
        o.max_df = json_number_value(json_object_get(doc, "max_df"));
        o.max_features = (int64_t)json_integer_value(json_object_get(doc, "max_features"));
        o.sublinear_tf = json_is_true(json_object_get(doc, "sublinear_tf"));
        o.smooth_idf = json_is_true(json_object_get(doc, "smooth_idf"));
        o.norm = json_is_true(json_object_get(doc, "norm"));
        o.hash_features = (int64_t)json_integer_value(json_object_get(doc, "hash_features"));
        if (o.kind == ASSAY_VEC_WORDPIECE) {
            o.max_len = (int)json_integer_value(json_object_get(doc, "max_len"));
            o.lowercase = json_is_true(json_object_get(doc, "lowercase"));
        }
        ok = check_options(&o) == NULL;
    }
    assay_vectorizer *v = ok ? vec_new(&o) : NULL;
    int rc = ok ? (v ? ASSAY_OK : ASSAY_ENOMEM) : ASSAY_EFORMAT;
    if (v) {
        v->ndocs = n_docs;
        if (o.kind == ASSAY_VEC_HASH) {
            v->nfeat = o.hash_features;
        } else if (o.kind == ASSAY_VEC_WORDPIECE) {
            rc = vocab_from_json(json_object_get(doc, "vocab"), &o, &v->wp, err);
            v->nfeat = o.max_len;
        } else {
            const json_t *terms = json_object_get(doc, "terms"), *idf = json_object_get(doc, "idf");
            size_t nt = json_array_size(terms);
            if (!json_is_array(terms) || nt == 0 || (o.kind == ASSAY_VEC_TFIDF) != json_is_array(idf) ||
                (idf && json_array_size(idf) != nt))
                rc = ASSAY_EFORMAT;
            if (!rc && idf && !(v->idf = assay_mallocarray(nt, sizeof *v->idf))) rc = ASSAY_ENOMEM;
            for (size_t j = 0; !rc && j < nt; j++) {
                const json_t *s = json_array_get(terms, j);
                int added;
                if (!json_is_string(s) || json_string_length(s) == 0) rc = ASSAY_EFORMAT;
                else if (strtab_intern(&v->vocab, json_string_value(s), json_string_length(s),
                                       term_hash(json_string_value(s), json_string_length(s)), &added) !=
                         (int64_t)j)
                    rc = added ? ASSAY_ENOMEM : ASSAY_EFORMAT; /* a duplicate term */
                if (!rc && v->idf) {
                    v->idf[j] = json_number_value(json_array_get(idf, j));
                    if (!json_is_number(json_array_get(idf, j)) || !(v->idf[j] >= 1)) rc = ASSAY_EFORMAT;
                }
            }
            v->nfeat = (int64_t)nt;
        }
    }
    json_decref(doc);
    if (rc) {
        assay_vectorizer_free(v);
        return rc == ASSAY_ENOMEM ? assay_error_set(err, ASSAY_ENOMEM, "text vectorizer: out of memory")
                                  : assay_error_set(err, ASSAY_EFORMAT, "text vectorizer: malformed description");
    }
    *out = v;
    return ASSAY_OK;
}
