/* data.h - the column table, its readers (CSV, JSON Lines), type inference and splits.
 *
 * A table is a set of named, typed columns of equal length. Every cell may be missing
 * (column->missing[i] != 0). Storage by type:
 *   NUMERIC   num[i]  (double; NAN when missing)
 *   BOOLEAN   num[i]  (0.0 / 1.0; NAN when missing)
 *   DATETIME  num[i]  (seconds since 1970-01-01T00:00:00Z; NAN when missing)
 *   CATEGORICAL cat[i] (index into levels[], -1 when missing); levels in first-seen order
 *   TEXT      text[i] (NUL-terminated UTF-8; NULL when missing)
 * Readers never guess silently: errors name file:line:column, and cells of a numeric column that
 * do not parse become missing and are counted in column->n_invalid.
 * Memory: names, missing, num, cat, levels and text are assay_malloc'ed arrays owned by the table.
 * The strings levels[i] and text[i] point into table->strings (one arena, freed at once) when
 * that is set, as the readers do; a table built by hand leaves strings NULL and gives each
 * string its own allocation. assay_table_free handles both. */
#ifndef ASSAY_DATA_H
#define ASSAY_DATA_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum assay_coltype {
    ASSAY_COL_NUMERIC = 0,
    ASSAY_COL_CATEGORICAL,
    ASSAY_COL_TEXT,
    ASSAY_COL_DATETIME,
    ASSAY_COL_BOOLEAN,
    ASSAY_COLTYPE_COUNT
} assay_coltype;

const char *assay_coltype_name(assay_coltype t);        /* "numeric", "categorical", ... */
int assay_coltype_from_name(const char *s, assay_coltype *out); /* ASSAY_OK or ASSAY_EINVAL */

typedef struct assay_column {
    char *name;
    assay_coltype type;
    uint8_t *missing;   /* nrows flags */
    double *num;        /* NUMERIC, BOOLEAN, DATETIME */
    int32_t *cat;       /* CATEGORICAL */
    char **levels;      /* CATEGORICAL: nlevels distinct values */
    int32_t nlevels;
    char **text;        /* TEXT */
    int64_t n_missing;  /* cells missing (including invalid ones) */
    int64_t n_invalid;  /* cells that did not parse as the column's type */
    int64_t first_invalid_line; /* file line of the first invalid cell, 0 if none */
} assay_column;

typedef struct assay_table {
    int64_t nrows;
    int ncols;
    assay_column *cols;
    char *source;       /* file name used in messages, or NULL */
    void *strings;      /* readers' arena holding every level and text string, or NULL */
    int64_t n_utf8_replaced; /* invalid UTF-8 bytes the reader replaced by U+FFFD (replace_utf8) */
} assay_table;

typedef struct assay_col_override {
    const char *name;
    assay_coltype type;
} assay_col_override;

typedef struct assay_read_options {
    char delimiter;                 /* 0: detect among , ; \t | */
    const assay_col_override *overrides; /* --column NAME:TYPE */
    int n_overrides;
    int strict_overrides;           /* 1: an override naming a column not in the file is an error */
    int64_t max_rows;               /* 0: all */
    int replace_utf8;               /* 1: invalid UTF-8 bytes of a file become U+FFFD (counted in
                                       the table); 0 (default): refused, naming line and column */
} assay_read_options;

void assay_read_options_init(assay_read_options *o);

/* Read by extension: .jsonl / .ndjson as JSON Lines, anything else as CSV. */
int assay_table_read(const char *path, const assay_read_options *opt, assay_table **out,
                     assay_error *err);
/* RFC 4180 CSV: header row, quotes, "" escapes, embedded newlines, CRLF, UTF-8 BOM. Missing
 * tokens: empty, NA, N/A, NaN, nan, null, NULL, ?, and a quoted empty string. */
int assay_table_read_csv(const char *path, const assay_read_options *opt, assay_table **out,
                         assay_error *err);
int assay_table_read_csv_buffer(const char *buf, size_t len, const char *name,
                                const assay_read_options *opt, assay_table **out,
                                assay_error *err);
/* One JSON object per line; keys are columns (union of keys, missing where absent). */
int assay_table_read_jsonl(const char *path, const assay_read_options *opt, assay_table **out,
                           assay_error *err);
int assay_table_read_jsonl_buffer(const char *buf, size_t len, const char *name,
                                  const assay_read_options *opt, assay_table **out,
                                  assay_error *err);

void assay_table_free(assay_table *t);
/* A new table holding rows (in that order) of t, with copies of every value and string. */
int assay_table_take(const assay_table *t, const int64_t *rows, int64_t n, assay_table **out,
                     assay_error *err);
int assay_table_find(const assay_table *t, const char *name); /* column index or -1 */
/* A cell as text (for messages and output): writes into buf, returns buf; "" when missing. */
const char *assay_table_cell_str(const assay_table *t, int col, int64_t row, char *buf,
                                 size_t cap);
/* Hash of each row's content (all columns): used to find exact duplicates. */
int assay_table_row_hashes(const assay_table *t, uint64_t *out, assay_error *err);
/* Content fingerprint of the whole table (16 hex chars + NUL). */
void assay_table_fingerprint(const assay_table *t, char out[17]);

/* ---- splits ------------------------------------------------------------------------------ */

/* Row index sets. Splits are deterministic functions of (n, strata, seed). rows lists table row
 * ids (NULL: 0..nrows-1); strata, time and missing are indexed by table row id (strata[rows[i]]).
 * train and test hold row ids in increasing order. */
typedef struct assay_split {
    int64_t *train, *test;
    int64_t ntrain, ntest;
} assay_split;

void assay_split_deinit(assay_split *s);

/* Holdout of round(test_frac * n) rows. With strata (class index per row, -1 = unknown) each
 * stratum contributes proportionally. rows/nrows restrict the split to a subset (NULL = all). */
int assay_split_holdout(const int64_t *rows, int64_t nrows, const int32_t *strata,
                        double test_frac, uint64_t seed, assay_split *out, assay_error *err);
/* k folds over rows; folds[f].test is fold f, folds[f].train the rest. Stratified if strata. */
int assay_split_kfold(const int64_t *rows, int64_t nrows, const int32_t *strata, int k,
                      uint64_t seed, assay_split *folds, assay_error *err);
/* k folds in which no group is split (group: a group number >= 0 per table row id), as
 * scikit-learn's GroupKFold: the largest groups first (equal sizes: the later group first),
 * each into the fold with the fewest rows so far.
 * Needs at least k groups. Deterministic (no seed). */
int assay_split_group_kfold(const int64_t *rows, int64_t nrows, const int64_t *group, int k,
                            assay_split *folds, assay_error *err);
/* Time-ordered holdout: the last test_frac of rows by time (ties by row order) are the test set.
 * Rows with missing time are refused. */
int assay_split_time(const int64_t *rows, int64_t nrows, const double *time,
                     const uint8_t *missing, double test_frac, assay_split *out, assay_error *err);
/* Time-ordered k folds (expanding window, like scikit-learn's TimeSeriesSplit). */
int assay_split_time_kfold(const int64_t *rows, int64_t nrows, const double *time,
                           const uint8_t *missing, int k, assay_split *folds, assay_error *err);

/* ---- fastText format (src/data/fasttext.c) ----------------------------------------------- */

/* One document per line: whitespace-separated tokens, those starting with the label prefix
 * ("__label__") being labels, anywhere in the line, several allowed. Blank lines are skipped. */
typedef struct assay_fasttext_options {
    const char *label_prefix; /* NULL: "__label__" */
    int strict_utf8;          /* 1: refuse invalid UTF-8 naming line:column; 0: replace with U+FFFD */
    int allow_unlabeled;      /* 1: lines without a label are kept with no labels (test files) */
} assay_fasttext_options;

typedef struct assay_fasttext {
    int64_t ndocs;
    char **docs;              /* the non-label tokens of each line joined by single spaces */
    int64_t *line;            /* ndocs: 1-based source line */
    int64_t *label_ptr;       /* ndocs + 1: labels of doc i are labels[label_ptr[i] .. [i+1]) */
    int32_t *labels;          /* label ids, in the line's order, duplicates dropped */
    int32_t nlabels;
    char **label_names;       /* nlabels, without the prefix, in first-seen order */
    int64_t n_replaced;       /* invalid UTF-8 bytes replaced with U+FFFD */
    int64_t ntokens;          /* non-label tokens over all documents */
    char *text_buf, *name_buf; /* storage of docs and label_names */
} assay_fasttext;

void assay_fasttext_options_init(assay_fasttext_options *o);
int assay_fasttext_read(const char *path, const assay_fasttext_options *o, assay_fasttext **out,
                        assay_error *err);
int assay_fasttext_read_buffer(const char *buf, size_t len, const char *name,
                               const assay_fasttext_options *o, assay_fasttext **out,
                               assay_error *err);
void assay_fasttext_free(assay_fasttext *d);
/* A table with a "text" column (TEXT) and a "label" column (missing when a document has no
 * label): CATEGORICAL when every document has at most one label, else TEXT holding each
 * document's labels joined by ASSAY_LABEL_SEP ("a|b", a multilabel target; a label that holds
 * the separator is refused). For `assay fit data.txt`. */
int assay_fasttext_to_table(const assay_fasttext *d, const char *source, assay_table **out,
                            assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
