/* model.h - the model: a fitted preprocessing pipeline, an estimator from the registry, the
 * target's labels and the metadata, saved together in one model file.
 *
 * A model takes raw rows (a table with the columns the user trained on, in any order) and
 * returns class probabilities or values; training/serving skew is impossible by construction.
 * Estimators (logistic regression, linear/ridge, ...) live behind one internal interface
 * (src/models/estimator.h); adding one is one file plus one line in the registry. */
#ifndef ASSAY_MODEL_H
#define ASSAY_MODEL_H

#include "image.h"
#include "prep.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum assay_task {
    ASSAY_TASK_AUTO = -1,
    ASSAY_TASK_BINARY = 0,
    ASSAY_TASK_MULTICLASS = 1,
    ASSAY_TASK_REGRESSION = 2,
    ASSAY_TASK_MULTILABEL = 3 /* any number of labels per row: a target cell lists them separated
                                 by ASSAY_LABEL_SEP ("billing|refund"); one probability per label */
} assay_task;

#define ASSAY_LABEL_SEP '|'

/* "binary", "multiclass", "regression", "multilabel", "auto" */
const char *assay_task_name(assay_task t);
int assay_task_from_name(const char *s, assay_task *out);

/* ---- hyperparameters: "key=value,key=value" ---------------------------------------------- */

typedef struct assay_params {
    int n;
    char **keys, **values;
} assay_params;

int assay_params_parse(const char *spec, assay_params *p, assay_error *err); /* spec may be NULL */
int assay_params_set(assay_params *p, const char *key, const char *value, assay_error *err);
const char *assay_params_get(const assay_params *p, const char *key);       /* NULL if absent */
/* Typed getters: absent -> def; present but malformed or outside [lo, hi] -> ASSAY_EINVAL with
 * a message naming the model and the key. */
int assay_params_double(const assay_params *p, const char *key, double def, double lo, double hi,
                        double *out, assay_error *err);
int assay_params_int(const assay_params *p, const char *key, long def, long lo, long hi,
                     long *out, assay_error *err);
/* One of choices (NULL-terminated); *out is the index. */
int assay_params_choice(const assay_params *p, const char *key, const char *const *choices,
                        int def, int *out, assay_error *err);
/* Refuse keys not in known (NULL-terminated): "model 'logreg' has no parameter 'alpah'". */
int assay_params_check_known(const assay_params *p, const char *const *known, const char *model,
                             assay_error *err);
char *assay_params_to_string(const assay_params *p); /* "k=v,k=v"; assay_free */
void assay_params_deinit(assay_params *p);

/* ---- registry ---------------------------------------------------------------------------- */

int assay_model_kind_count(void);
const char *assay_model_kind_name(int i);
const char *assay_model_kind_summary(int i);
int assay_model_kind_supports(const char *kind, assay_task task); /* 1 / 0; -1 unknown kind */
/* The parameter sets `assay fit --model auto` cross-validates for kind i (NULL-terminated), or
 * NULL when the kind is not a candidate. */
const char *const *assay_model_kind_grid(int i);
/* 1 if kind does what: "monotone" (constraints), "early_stopping", "explain", "importance",
 * "sparse" (trains on the sparse designs of text columns), "text" (made for text features:
 * --model auto tries it only when the table has a text column). */
int assay_model_kind_can(const char *kind, const char *what);

/* ---- fitting ----------------------------------------------------------------------------- */

typedef struct assay_fit_options {
    const char *target;        /* required */
    const char *positive;      /* binary: the positive label; NULL = the minority class */
    assay_task task;           /* AUTO: categorical/boolean target -> binary or multiclass,
                                  numeric with 2 distinct values -> binary, else regression */
    const char *model;         /* registry name; NULL = "logreg" for classification, "linear"
                                  for regression */
    const char *params;        /* "key=value,..." for the estimator; NULL = defaults */
    assay_prep_options prep;
    const char *const *exclude; /* further columns to ignore (ids, the time column) */
    int nexclude;
    const char *monotone;      /* "Income:+1,Debt:-1": monotone constraints (gbdt); NULL none */
    const char *const *labels; /* classification: the full label set (e.g. from all rows, so CV
                                  folds agree); NULL = the labels present in the fitted rows */
    int nlabels;
    uint64_t seed;
} assay_fit_options;

void assay_fit_options_init(assay_fit_options *o);

/* The target of rows of t, resolved as assay_model_fit resolves it: the task (inferred unless
 * o->task says), the labels (classification: sorted, except that for binary the positive label is
 * index 1) and y (class index or value). Refuses a missing target column (listing the columns),
 * missing target cells (naming the first row), a constant target, non-finite values. */
typedef struct assay_target {
    assay_task task;
    int nclasses;           /* 0 for regression */
    char **labels;          /* nclasses */
    int positive;           /* binary: 1 */
    double *y;              /* nrows x assay_target_width: class index or value; multilabel: per
                               row K indicators (1: the row has label k) */
    int64_t n;
} assay_target;

/* Doubles per row of an encoded target: nclasses for multilabel, else 1. */
int assay_target_width(assay_task task, int nclasses);

int assay_target_encode(const assay_fit_options *o, const assay_table *t, const int64_t *rows,
                        int64_t nrows, assay_target *out, assay_error *err);
void assay_target_deinit(assay_target *tg);

typedef struct assay_model assay_model;

/* Fit the pipeline and the estimator on rows (NULL = all) of t. Rows whose target is missing are
 * refused with a message naming the first one. report (may be NULL) receives the pipeline's
 * report. */
int assay_model_fit(const assay_fit_options *o, const assay_table *t, const int64_t *rows,
                    int64_t nrows, assay_model **out, assay_prep_report *report, assay_error *err);
void assay_model_free(assay_model *m);

assay_task assay_model_task(const assay_model *m);
const char *assay_model_kind(const assay_model *m);
const char *assay_model_params(const assay_model *m);   /* "k=v,..." as given */
const char *assay_model_target(const assay_model *m);
int assay_model_nclasses(const assay_model *m);         /* 0 for regression */
const char *assay_model_label(const assay_model *m, int k);
int assay_model_positive(const assay_model *m);         /* binary: index of the positive class */
const assay_pipeline *assay_model_pipeline(const assay_model *m);
int64_t assay_model_nfeatures(const assay_model *m);

/* Doubles per predicted row: nclasses (probabilities) or 1 (regression value). */
int assay_model_output_width(const assay_model *m);
/* out: nrows x width. Thread-safe. */
int assay_model_predict(const assay_model *m, const assay_table *t, const int64_t *rows,
                        int64_t nrows, double *out, assay_error *err);
/* Same on an already transformed design (used by CV and tests). */
int assay_model_predict_matrix(const assay_model *m, const assay_matrix *X, double *out,
                               assay_error *err);
/* Per-prediction explanations (gbdt: exact TreeSHAP). phi: nrows x width x (nfeatures + 1)
 * contributions to the raw margin (log-odds for classification), width = explain_width (1, or K
 * for multiclass); the last of each nfeatures + 1 is the bias, and each group sums to the margin.
 * explain_width is 0 for models without explanations (explain then fails with ASSAY_EINVAL). */
int assay_model_explain_width(const assay_model *m);
int assay_model_explain(const assay_model *m, const assay_table *t, const int64_t *rows,
                        int64_t nrows, double *phi, assay_error *err);
/* Feature importance (tree models): per design column, total split gain and split count.
 * ASSAY_EINVAL for models without it. */
int assay_model_importance(const assay_model *m, double *gain, double *splits);
/* Linear models: coefficients per design column, width x nfeatures (width 1 for binary -- the
 * positive class's log-odds -- and regression, K for multiclass); width 0 for other models
 * (coefficients then fails with ASSAY_EINVAL). */
int assay_model_coefficients_width(const assay_model *m);
int assay_model_coefficients(const assay_model *m, double *coef);

/* The decision for one output row: argmax, or for binary proba[positive] >= threshold
 * (multilabel: the most probable label). */
int assay_model_decide(const assay_model *m, const double *out_row);
/* The decision as text: the label, or for multilabel every label whose probability is at least
 * the threshold, joined by ASSAY_LABEL_SEP ("" when none is). The text is in buf (reset). */
const char *assay_model_decision(const assay_model *m, const double *out_row, assay_buf *buf);
double assay_model_threshold(const assay_model *m);     /* binary / multilabel threshold, 0.5 */
void assay_model_set_threshold(assay_model *m, double t);

/* The target column of rows of t encoded as the model encodes it: class index or value, or for
 * multilabel K indicators per row (y: nrows x assay_model_target_width). A label the model does
 * not know, or a missing target, is an ASSAY_ESCHEMA error naming the row. */
int assay_model_target_width(const assay_model *m);
int assay_model_encode_target(const assay_model *m, const assay_table *t, const int64_t *rows,
                              int64_t nrows, double *y, assay_error *err);

/* Read options that make a CSV/JSONL reader type the model's input columns as at training. The
 * array is owned by the model. */
const assay_col_override *assay_model_read_overrides(const assay_model *m, int *n);

/* ---- probability calibration (binary) ------------------------------------------------------
 * A calibrator (include/assay/curves.h: Platt or isotonic, fitted on held-out predictions) maps
 * the positive class's probability; every predict function applies it, and the model file keeps
 * it (assay.calibration). set takes ownership (also on failure). */
typedef struct assay_calibrator assay_calibrator;
int assay_model_set_calibrator(assay_model *m, assay_calibrator *cal, assay_error *err);
const assay_calibrator *assay_model_calibrator(const assay_model *m); /* NULL if none */

/* ---- image models ------------------------------------------------------------------------
 * A model fitted on images (mlp, cnn) has no table pipeline: it keeps the image shape and the
 * per-channel mean and standard deviation of its training pixels, and its labels are the class
 * names. The table functions above refuse such a model with a message, and the functions below
 * refuse a table model. */

/* Fit o->model (NULL: "cnn"; mlp and cnn take images) on images rows (NULL = all) of im, which
 * must have labels. The task is binary for 2 classes, else multiclass; the labels are the class
 * names. */
int assay_model_fit_images(const assay_fit_options *o, const assay_images *im,
                           const int64_t *rows, int64_t nrows, assay_model **out,
                           assay_error *err);
/* 1 if the model takes images (c, h, w filled where not NULL), else 0. */
int assay_model_image_input(const assay_model *m, int *c, int *h, int *w);
/* out: nrows x width probabilities for rows (NULL = all) of im, which must have the model's
 * image shape. */
int assay_model_predict_images(const assay_model *m, const assay_images *im, const int64_t *rows,
                               int64_t nrows, double *out, assay_error *err);
/* What the estimator reports about its training (neural models: epochs run, best epoch, loss
 * and validation metric per epoch, seconds, examples per second) as JSON text (assay_free), or
 * NULL when it reports nothing. */
char *assay_model_training_json(const assay_model *m);

/* Free-form JSON metadata saved with the model under "assay.info.<key>" (metrics, data
 * fingerprint, training command). value must be valid JSON text. */
int assay_model_set_info(assay_model *m, const char *key, const char *json_value,
                         assay_error *err);
const char *assay_model_info(const assay_model *m, const char *key); /* NULL if absent */

int assay_model_save(const assay_model *m, const char *path, assay_error *err);
int assay_model_load(const char *path, assay_model **out, assay_error *err);
int assay_model_load_buffer(const void *buf, size_t len, const char *name, assay_model **out,
                            assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
