/* dedup.c - exact duplicate rows: keeps the first occurrence of each distinct row, in order.
 *
 * Rows are hashed over every column (categorical cells by their level text, so two level
 * indices with the same text are equal; numbers by value, so -0 == 0; missing cells equal each
 * other) and every hash match is confirmed cell by cell, so a hash collision can never drop a
 * distinct row. Deliberately not here: near-duplicate detection, or ignoring some columns (pass
 * a narrower table for that). The hash is local rather than assay_table_row_hashes so that it
 * agrees with the cell equality used here (level text, not level index). */
#include "prep_internal.h"

static int missing_at(const assay_column *c, int64_t i) {
    if (c->missing && c->missing[i]) return 1;
    switch (c->type) {
    case ASSAY_COL_CATEGORICAL: return !c->cat || c->cat[i] < 0 || c->cat[i] >= c->nlevels || !c->levels[c->cat[i]];
    case ASSAY_COL_TEXT: return !c->text || !c->text[i];
    default: return !c->num || isnan(c->num[i]);
    }
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* lh[c]: hashes of column c's level texts (categorical columns), computed once per call. */
static uint64_t row_hash(const assay_table *t, uint64_t *const *lh, int64_t i) {
    uint64_t h = 0x12345678;
    for (int c = 0; c < t->ncols; c++) {
        const assay_column *col = &t->cols[c];
        uint64_t v;
        if (missing_at(col, i)) {
            v = 0x6d697373ULL; /* "miss" */
        } else if (col->type == ASSAY_COL_CATEGORICAL) {
            v = lh[c][col->cat[i]];
        } else if (col->type == ASSAY_COL_TEXT) {
            v = hash_str(col->text[i]);
        } else {
            double d = col->num[i] == 0 ? 0.0 : col->num[i]; /* -0 == 0 */
            memcpy(&v, &d, sizeof v);
        }
        h = mix(h, v);
    }
    return h;
}

static int rows_equal(const assay_table *t, int64_t a, int64_t b) {
    for (int c = 0; c < t->ncols; c++) {
        const assay_column *col = &t->cols[c];
        int ma = missing_at(col, a), mb = missing_at(col, b);
        if (ma || mb) {
            if (ma != mb) return 0;
            continue;
        }
        if (col->type == ASSAY_COL_CATEGORICAL) {
            if (col->cat[a] != col->cat[b] && strcmp(col->levels[col->cat[a]], col->levels[col->cat[b]]))
                return 0;
        } else if (col->type == ASSAY_COL_TEXT) {
            if (strcmp(col->text[a], col->text[b])) return 0;
        } else if (col->num[a] != col->num[b]) {
            return 0;
        }
    }
    return 1;
}

int assay_prep_dedup(const assay_table *t, const int64_t *rows, int64_t nrows, int64_t **kept,
                     int64_t *nkept, assay_error *err) {
    if (!t || !kept || !nkept) return assay_error_set(err, ASSAY_EINVAL, "dedup: missing argument");
    *kept = NULL;
    *nkept = 0;
    if (!rows) nrows = t->nrows;
    if (nrows < 0) return assay_error_set(err, ASSAY_EINVAL, "dedup: negative row count");
    for (int64_t r = 0; rows && r < nrows; r++)
        if (rows[r] < 0 || rows[r] >= t->nrows)
            return assay_error_set(err, ASSAY_EINVAL, "dedup: row index %lld out of range (table has %lld rows)",
                                   (long long)rows[r], (long long)t->nrows);
    /* Hashes first, in parallel (the costly part); then one ordered pass through an
     * open-addressing table, which keeps the first occurrence whatever the thread count. */
    size_t cap = 16;
    while (cap < (size_t)nrows * 2) cap *= 2;
    typedef struct {
        int64_t row; /* table row, -1 empty */
        uint64_t hash;
    } entry;
    int64_t *out = assay_mallocarray(nrows ? (size_t)nrows : 1, sizeof *out);
    uint64_t *rh = assay_mallocarray(nrows ? (size_t)nrows : 1, sizeof *rh);
    entry *tab = assay_mallocarray(cap, sizeof *tab);
    uint64_t **lh = assay_calloc((size_t)t->ncols + 1, sizeof *lh);
    int ok = out && rh && tab && lh;
    for (int c = 0; ok && c < t->ncols; c++) {
        const assay_column *col = &t->cols[c];
        if (col->type != ASSAY_COL_CATEGORICAL) continue;
        if (!(lh[c] = assay_mallocarray((size_t)col->nlevels + 1, sizeof **lh))) ok = 0;
        for (int32_t k = 0; ok && k < col->nlevels; k++)
            lh[c][k] = col->levels[k] ? hash_str(col->levels[k]) : 0;
    }
    if (ok) {
#pragma omp parallel for schedule(static) if (nrows > 16384)
        for (int64_t r = 0; r < nrows; r++) rh[r] = row_hash(t, lh, rows ? rows[r] : r);
        for (size_t s = 0; s < cap; s++) tab[s].row = -1;
    }
    int64_t n = 0;
    for (int64_t r = 0; ok && r < nrows; r++) {
        int64_t i = rows ? rows[r] : r;
        uint64_t h = rh[r];
        size_t s = (size_t)h & (cap - 1);
        int dup = 0;
        while (tab[s].row >= 0) {
            if (tab[s].hash == h && rows_equal(t, tab[s].row, i)) {
                dup = 1;
                break;
            }
            s = (s + 1) & (cap - 1);
        }
        if (dup) continue;
        tab[s].row = i;
        tab[s].hash = h;
        out[n++] = i;
    }
    for (int c = 0; lh && c < t->ncols; c++) assay_free(lh[c]);
    assay_free(lh);
    assay_free(rh);
    assay_free(tab);
    if (!ok) {
        assay_free(out);
        return assay_error_set(err, ASSAY_ENOMEM, "dedup: out of memory");
    }
    *kept = out;
    *nkept = n;
    return ASSAY_OK;
}
