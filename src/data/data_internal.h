/* data_internal.h - shared between the data module's files: the string arena, cell parsers
 * (numbers, dates, missing tokens, UTF-8) and the column builder both readers feed.
 * Never installed; nothing here is used outside src/data/. */
#ifndef ASSAY_DATA_INTERNAL_H
#define ASSAY_DATA_INTERNAL_H

#include "../internal.h"

/* ---- string arena: chunks linked through their first word; freed in one walk ------------ */

typedef struct data_arena {
    char *chunk;       /* current chunk (its first sizeof(void *) bytes link to the previous) */
    size_t used, cap;  /* bytes used / available in the current chunk */
} data_arena;

/* Copy n bytes plus a NUL into the arena; NULL when out of memory. */
char *assay__arena_strndup(data_arena *a, const char *s, size_t n);
/* Free every chunk of a chain whose newest chunk is head. */
void assay__arena_free_chain(void *head);

/* ---- hashing: a fast 64-bit hash of bytes, stable across runs and platforms of one
 * endianness (words are read little-endian on every machine this builds on) ---------------- */

static inline uint64_t assay__mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t assay__hash_bytes(const void *data, size_t n, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = seed ^ (0x9E3779B97F4A7C15ull * (n + 1));
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9FB21C651E98DF25ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, p, n);
    h = (h ^ w) * 0x9FB21C651E98DF25ull;
    return assay__mix64(h);
}

/* ---- cell parsers ------------------------------------------------------------------------ */

/* A decimal number (optional sign, fraction, exponent; blanks around allowed; no inf/nan/hex).
 * s[n] must not continue the number (a NUL or any terminator). Returns 1 and the correctly
 * rounded value (bit-identical to strtod) or 0. */
int assay__parse_number(const char *s, size_t n, double *out);

static inline int assay__is_blank(char c) { return c == ' ' || c == '\t'; }

/* A missing-value token: empty (or only blanks), NA, N/A, NaN, nan, null, NULL, ?. */
static inline int assay__is_missing_token(const char *s, size_t n) {
    while (n && assay__is_blank(*s)) s++, n--;
    while (n && assay__is_blank(s[n - 1])) n--;
    switch (n) {
    case 0: return 1;
    case 1: return s[0] == '?';
    case 2: return s[0] == 'N' && s[1] == 'A';
    case 3: return memcmp(s, "N/A", 3) == 0 || memcmp(s, "NaN", 3) == 0 ||
                   memcmp(s, "nan", 3) == 0;
    case 4: return memcmp(s, "null", 4) == 0 || memcmp(s, "NULL", 4) == 0;
    default: return 0;
    }
}

extern const double assay__pow10_exact[23];

/* The common case inline: [-]digits[.digits] with at most 15 digits, where one division by an
 * exact power of ten is correctly rounded. Cells that cannot start a number fail at once;
 * anything else goes to assay__parse_number. */
static inline int assay__parse_number_inline(const char *s, size_t n, double *out) {
    const char *p = s, *e = s + n;
    if (!n) return 0;
    char c0 = *p;
    if (!((unsigned)(c0 - '0') < 10u || c0 == '-' || c0 == '+' || c0 == '.' || assay__is_blank(c0)))
        return 0;
    int neg = c0 == '-';
    p += neg;
    uint64_t m = 0;
    int nd = 0;
    const char *dot = NULL;
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d < 10u) {
            m = m * 10 + d;
            nd++;
        } else if (*p == '.' && !dot) {
            dot = p;
        } else {
            return assay__parse_number(s, n, out);
        }
    }
    if (nd == 0 || nd > 15) return assay__parse_number(s, n, out);
    double v = (double)m;
    if (dot && e - dot - 1 > 0) v /= assay__pow10_exact[e - dot - 1];
    *out = neg ? -v : v;
    return 1;
}

/* ISO 8601 date or date-time -> seconds since the epoch (UTC). Returns 1 or 0. */
int assay__parse_datetime(const char *s, size_t n, double *out);
/* true/false in any case -> 1.0 / 0.0. Returns 1 or 0. */
int assay__parse_bool(const char *s, size_t n, double *out);
/* Offset of the first byte of an invalid UTF-8 sequence (overlong, surrogate, > U+10FFFF,
 * truncated), or len when all is valid. */
size_t assay__utf8_check(const unsigned char *p, size_t len);
/* A copy of buf (NUL-terminated, *olen bytes) with each byte that starts an invalid sequence
 * replaced by U+FFFD (EF BF BD); *nrep counts them. NULL when out of memory. */
char *assay__utf8_replace(const char *buf, size_t len, size_t *olen, int64_t *nrep);
/* opt->replace_utf8 and invalid UTF-8 in *buf (owned, assay_malloc'ed): *buf becomes the
 * repaired copy and *nrep the count. Otherwise nothing (the parser refuses it, naming where). */
int assay__utf8_repair(const assay_read_options *opt, char **buf, size_t *len, int64_t *nrep,
                       const char *name, assay_error *err);
/* 1-based line and byte column of offset pos in buf (counting '\n'). */
void assay__line_col(const char *buf, size_t pos, int64_t *line, int64_t *col);

/* madvise(MADV_HUGEPAGE) over the 2 MiB-aligned interior of p[0..n). */
void assay__advise_huge(void *p, size_t n);
/* Read a whole file into *out (assay_malloc'ed, NUL-terminated, *len bytes before the NUL). */
int assay__read_file(const char *path, char **out, size_t *len, assay_error *err);
/* Refuse NUL bytes and invalid UTF-8, naming name:line:column. */
int assay__check_text(const char *buf, size_t len, const char *name, assay_error *err);

/* ---- column builder ---------------------------------------------------------------------- */

/* Cell flags while reading. */
enum { CELL_OK = 0, CELL_MISSING = 1, CELL_NOTNUM = 2 };

/* One column while it is read: every cell's text (an offset into the reader's NUL-terminated
 * cell storage), its tentative numeric value and a flag. */
typedef struct colbuild {
    uint32_t *off;     /* cap: offset of the cell text from its row's start (row_off) */
    double *num;       /* cap: value if the cell is a number, else NAN; not written once the
                          column is plainly not numeric (num_dead): re-parsed if it is needed */
    uint8_t *flag;     /* cap: CELL_* */
    int64_t n_nonmissing, n_notnum;
    int64_t first_notnum; /* row of the first non-missing cell that is not a number, -1 */
    int force;         /* -1: infer; else the assay_coltype forced by an override */
    int num_dead;      /* num[] no longer written */
} colbuild;

typedef struct tablebuild {
    const char *source;    /* name used in messages */
    int ncols;
    char **names;          /* ncols, each assay_malloc'ed (moved into the table) */
    colbuild *cols;        /* ncols */
    int64_t nrows, cap;
    int64_t *row_line;     /* cap: file line where each row starts */
    int64_t *row_off;      /* cap: offset in base where each row's cells start */
    const char *base;      /* cell storage: cell text at base + off */
} tablebuild;

/* Record cell (row r, column c) whose text is base[off .. off+n) followed by a NUL; off is at
 * most UINT32_MAX past row_off[r] (the reader checks). */
static inline void assay__cell_put(colbuild *cb, int64_t r, const char *base, int64_t row_off,
                                   int64_t off, size_t n) {
    const char *s = base + off;
    cb->off[r] = (uint32_t)(off - row_off);
    if (assay__is_missing_token(s, n)) {
        cb->flag[r] = CELL_MISSING;
        if (!cb->num_dead) cb->num[r] = NAN;
        return;
    }
    cb->n_nonmissing++;
    double v;
    if (cb->force <= 0 && assay__parse_number_inline(s, n, &v)) {
        cb->flag[r] = CELL_OK;
        if (!cb->num_dead) cb->num[r] = v;
    } else {
        cb->flag[r] = CELL_NOTNUM;
        if (!cb->num_dead) cb->num[r] = NAN;
        if (cb->n_notnum++ == 0) cb->first_notnum = r;
        /* plainly not numeric so far: stop writing values (they are re-parsed if needed) */
        if (cb->force < 0 && cb->n_notnum > 64 && cb->n_notnum * 2 > r + 1) cb->num_dead = 1;
    }
}

static inline const char *assay__tb_cell(const struct tablebuild *tb, int c, int64_t r);

/* Set up ncols columns (names adopted on success and on failure) with room for cap rows. */
int assay__tb_init(tablebuild *tb, const char *source, int ncols, char **names, int64_t cap,
                   const assay_read_options *opt, assay_error *err);
/* Make room for at least one more row. */
int assay__tb_grow(tablebuild *tb, assay_error *err);
/* Choose each column's type, convert, and hand over a table. tb is deinit'ed either way. */
int assay__tb_finish(tablebuild *tb, assay_table **out, assay_error *err);
void assay__tb_deinit(tablebuild *tb);
/* Check names for duplicates: an error "SOURCE:1: duplicate column name ..." */
int assay__check_names(const char *source, char **names, int ncols, assay_error *err);

static inline const char *assay__tb_cell(const tablebuild *tb, int c, int64_t r) {
    return tb->base + tb->row_off[r] + tb->cols[c].off[r];
}

#endif
