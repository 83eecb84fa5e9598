/* prep_internal.h - the fitted pipeline's layout, shared by pipeline.c (fit, transform) and
 * pipeline_json.c (serialization). Private to src/prep; not installed.
 *
 * Every input column becomes one pinput. Number-backed columns (numeric, boolean, datetime) hold
 * one or more numeric sub-features (numeric/boolean: the value; datetime: one per calendar
 * field), each with its fitted imputation value, outlier bounds and scaler. Categorical columns
 * hold their training levels in byte-wise sorted order with a code per level (0..nkept-1 for
 * kept levels, nkept for the infrequent group). */
#ifndef ASSAY_PREP_INTERNAL_H
#define ASSAY_PREP_INTERNAL_H

#include "../internal.h"

/* Calendar fields of a datetime sub-feature; PREP_FIELD_VALUE is the raw value. */
enum { PREP_FIELD_VALUE = -1, PREP_FIELD_YEAR = 0, PREP_FIELD_MONTH, PREP_FIELD_DAY,
       PREP_FIELD_DAYOFWEEK, PREP_FIELD_HOUR, PREP_FIELD_MINUTE, PREP_FIELD_DAYOFYEAR,
       PREP_NFIELDS };

enum { PREP_OUT_NONE = 0, PREP_OUT_FLAG, PREP_OUT_CLIP };

/* Limits that from_json enforces so a hostile file cannot ask for absurd allocations. */
#define PREP_MAX_INPUTS 1000000
#define PREP_MAX_LEVELS 50000000

typedef struct prep_numsub {
    int field;          /* PREP_FIELD_* */
    double fill;        /* value for missing cells */
    int outlier;        /* PREP_OUT_* */
    double lo, hi;      /* outlier bounds (when outlier != NONE) */
    double center, scale; /* scaled = (x - center) / scale; scale > 0 */
} prep_numsub;

typedef struct prep_input {
    char *name;
    assay_coltype type;     /* type at fit time */
    int indicator;          /* 1: a "<col>_missing" feature */
    /* NUMERIC / BOOLEAN / DATETIME */
    int nsub;
    prep_numsub *sub;
    /* CATEGORICAL */
    int encode;             /* assay_encode */
    int unseen;             /* assay_unseen */
    int32_t nlevels;        /* training levels, sorted byte-wise, distinct */
    char **levels;
    int32_t *code;          /* per level: 0..nkept-1 kept, nkept infrequent */
    int32_t nkept;
    int has_infrequent;
    char *fill;             /* level for missing cells (NULL: none; missing -> unseen rules) */
    /* TEXT: the fitted vectorizer (missing cells are empty documents) */
    assay_vectorizer *vec;
    /* layout */
    int64_t feat0;          /* first design column */
    int nfeat;
} prep_input;

struct assay_pipeline {
    int ninputs;
    prep_input *in;
    int64_t nfeat;
    char **feat_names;      /* nfeat */
};

/* Names of the calendar fields ("year", ...); field in [0, PREP_NFIELDS). */
const char *assay__prep_field_name(int field);
/* Free a partly built pipeline (any member may be NULL). */
void assay__prep_pipeline_free(assay_pipeline *p);
/* Compute feat0/nfeat of every input and p->feat_names from the fitted structure. */
int assay__prep_layout(assay_pipeline *p, assay_error *err);
/* Code for a level name (binary search): -1 when the level was not seen in training. */
int32_t assay__prep_level_code(const prep_input *in, const char *s);

#endif
