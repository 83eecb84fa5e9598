/* prep.h - fitted preprocessing: deduplication, imputation, outliers, scaling, categorical
 * encoding and datetime features, chained in a pipeline that is saved inside the model.
 *
 * A pipeline is fitted on training rows only and then turns any table with the same raw input
 * columns (by name, in any order, extra columns ignored) into a dense float32 design matrix.
 * Per input column, in order: datetime -> calendar features; impute; outliers (flag or clip);
 * scale (numeric features); categorical -> one-hot (with infrequent grouping) or ordinal;
 * boolean -> 0/1; text -> a fitted vectorizer (TF-IDF by default, include/assay/text.h).
 * A pipeline with text inputs gives a sparse (CSR) design: assay_pipeline_transform_csr. */
#ifndef ASSAY_PREP_H
#define ASSAY_PREP_H

#include "data.h"
#include "text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NONE keeps missing cells as NaN (for estimators that handle missing values themselves). */
typedef enum { ASSAY_IMPUTE_MEDIAN = 0, ASSAY_IMPUTE_MEAN, ASSAY_IMPUTE_MOST_FREQUENT,
               ASSAY_IMPUTE_CONSTANT, ASSAY_IMPUTE_NONE } assay_impute;
typedef enum { ASSAY_OUTLIER_NONE = 0, ASSAY_OUTLIER_IQR, ASSAY_OUTLIER_ZSCORE } assay_outlier;
typedef enum { ASSAY_OUTLIER_FLAG = 0, ASSAY_OUTLIER_CLIP } assay_outlier_action;
typedef enum { ASSAY_SCALE_NONE = 0, ASSAY_SCALE_STANDARD, ASSAY_SCALE_MINMAX,
               ASSAY_SCALE_ROBUST } assay_scale;
/* NATIVE: one feature per categorical column holding the category code 0..n-1 (n <= 255, rarer
 * levels grouped as infrequent), NaN for a missing or unseen level; for estimators that split on
 * category sets (assay_pipeline_feature_categories tells them n). */
typedef enum { ASSAY_ENCODE_ONEHOT = 0, ASSAY_ENCODE_ORDINAL, ASSAY_ENCODE_NATIVE } assay_encode;
#define ASSAY_NATIVE_MAX_CATEGORIES 255
typedef enum { ASSAY_UNSEEN_IGNORE = 0, ASSAY_UNSEEN_INFREQUENT, ASSAY_UNSEEN_ERROR } assay_unseen;

/* Datetime feature bits. */
enum { ASSAY_DT_YEAR = 1, ASSAY_DT_MONTH = 2, ASSAY_DT_DAY = 4, ASSAY_DT_DAYOFWEEK = 8,
       ASSAY_DT_HOUR = 16, ASSAY_DT_MINUTE = 32, ASSAY_DT_DAYOFYEAR = 64 };

typedef struct assay_prep_options {
    int dedup;                       /* drop exact duplicate training rows (default 1) */
    assay_impute impute_numeric;     /* default MEDIAN */
    double impute_constant;          /* for ASSAY_IMPUTE_CONSTANT on numeric columns */
    assay_impute impute_categorical; /* MOST_FREQUENT (default), CONSTANT (a "missing" level) or
                                        NONE (missing stays missing: NaN under NATIVE) */
    int missing_indicator;           /* add an is-missing 0/1 feature for columns with missing */
    assay_outlier outliers;          /* default NONE */
    assay_outlier_action outlier_action;
    double outlier_threshold;        /* IQR factor (default 1.5) or |z| (default 3.0); 0 = default */
    assay_scale scale;               /* default STANDARD */
    assay_encode encode;             /* default ONEHOT */
    double min_frequency;            /* categories rarer than this are grouped as infrequent:
                                        >= 1 a count, < 1 a fraction of rows; 0 = off */
    int max_categories;              /* keep at most this many levels (most frequent); 0 = all */
    assay_unseen unseen;             /* default IGNORE (all-zero one-hot row) */
    unsigned datetime_features;      /* ASSAY_DT_* bits; default year|month|day|dayofweek|hour|
                                        dayofyear (day of year: holidays, seasons) */
    assay_vectorizer_options text;   /* text columns: default TF-IDF of words and word bigrams,
                                        min_df 2, sublinear tf, NFKC + case folding + HTML
                                        removal */
} assay_prep_options;

void assay_prep_options_init(assay_prep_options *o);

/* What fitting found, for the user (one entry per input column). */
typedef struct assay_prep_column_report {
    char name[128];
    assay_coltype type;
    int skipped;              /* 1: not used (text, or all missing, or constant-empty) */
    char skip_reason[64];
    int64_t n_missing;        /* in the training rows */
    int64_t n_outliers;       /* in the training rows (flagged or clipped) */
    int n_features;           /* design columns produced */
} assay_prep_column_report;

typedef struct assay_prep_report {
    int64_t rows_in, duplicates_removed;
    int ncolumns;
    assay_prep_column_report *columns; /* ncolumns; owned, free with assay_prep_report_deinit */
} assay_prep_report;

void assay_prep_report_deinit(assay_prep_report *r);

/* Exact-duplicate removal among rows (first occurrence kept, order kept). Writes the kept rows to
 * *kept (allocated with assay_malloc) and their count to *nkept. */
int assay_prep_dedup(const assay_table *t, const int64_t *rows, int64_t nrows, int64_t **kept,
                     int64_t *nkept, assay_error *err);

typedef struct assay_pipeline assay_pipeline;

/* Fit on rows (NULL = all) of t, using every column except those named in exclude (the target,
 * an id or time column). report may be NULL. */
int assay_pipeline_fit(const assay_prep_options *opt, const assay_table *t, const int64_t *rows,
                       int64_t nrows, const char *const *exclude, int nexclude,
                       assay_pipeline **out, assay_prep_report *report, assay_error *err);
void assay_pipeline_free(assay_pipeline *p);

int64_t assay_pipeline_nfeatures(const assay_pipeline *p);
/* Number of categories of design column j when it is a natively encoded categorical feature
 * (codes 0..n-1), else 0. */
int32_t assay_pipeline_feature_categories(const assay_pipeline *p, int64_t j);
const char *assay_pipeline_feature_name(const assay_pipeline *p, int64_t j);
/* The raw input columns the pipeline reads. */
int assay_pipeline_ninputs(const assay_pipeline *p);
const char *assay_pipeline_input_name(const assay_pipeline *p, int i);
assay_coltype assay_pipeline_input_type(const assay_pipeline *p, int i);

/* X (nrows x nfeatures, row-major) for rows (NULL = all) of t. Columns are found by name; a
 * missing input column or a type that cannot be converted is an ASSAY_ESCHEMA error naming it.
 * Thread-safe (const). A pipeline with text inputs refuses (ASSAY_EINVAL): use the CSR form. */
int assay_pipeline_transform(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                             int64_t nrows, float *X, assay_error *err);
/* 1 when the pipeline has text inputs, whose designs are sparse. */
int assay_pipeline_sparse(const assay_pipeline *p);
/* The same design as CSR (any pipeline): zeros of the tabular features are left out. */
int assay_pipeline_transform_csr(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                                 int64_t nrows, assay_csr *out, assay_error *err);

/* Serialize to / from a JSON document (stored in the model file's metadata). */
char *assay_pipeline_to_json(const assay_pipeline *p);   /* assay_free the result */
int assay_pipeline_from_json(const char *json, assay_pipeline **out, assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
