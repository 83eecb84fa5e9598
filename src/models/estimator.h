/* estimator.h - the interface every estimator implements (shared between library files).
 *
 * An estimator sees only the prepared design: features as an assay_matrix (dense or CSR
 * float32), targets as doubles (class index 0..K-1 or value), optional sample weights. The
 * model (model.c) owns the pipeline, the labels and the file; an estimator saves its tensors
 * under a prefix and its scalars into a JSON object.
 *
 * Life cycle: create(params) -> fit(design) -> predict(X)* -> free; or, when loading,
 * create(saved params) -> load(file) -> predict(X)*. predict is const and thread-safe. */
#ifndef ASSAY_ESTIMATOR_H
#define ASSAY_ESTIMATOR_H

#include <jansson.h>

#include "../internal.h"
#include "assay/image.h"

typedef struct assay_design {
    assay_matrix X;            /* n x d */
    const double *y;           /* n: class index or target value */
    const double *w;           /* n sample weights, or NULL */
    assay_task task;
    int nclasses;              /* K >= 2 for classification, 0 for regression */
    uint64_t seed;
    assay_matrix Xval;         /* optional validation rows (Xval.n == 0: none) */
    const double *yval;
    /* Native inputs (estimators with ASSAY_EST_NATIVE): per feature the number of categories
     * of a categorical feature holding codes 0..n-1 (0: numeric), and monotone constraints
     * (-1, 0, +1). Either may be NULL (no categorical features / no constraints). */
    const int32_t *ncat;
    const int8_t *monotone;
    /* Images (neural estimators): when set, the examples are images->pix (X is empty and
     * images->n gives the rows), normalized per channel with img_mean / img_std as batches are
     * drawn. Prediction always gets normalized rows in X. */
    const assay_images *images;
    const float *img_mean, *img_std;
} assay_design;

/* Estimator flags. NATIVE: give it features without imputation, scaling or one-hot encoding
 * (NaN for missing cells, categorical codes; see ASSAY_ENCODE_NATIVE). SPARSE: it trains and
 * predicts on CSR designs (text columns give them). TEXT: made for text features (counts,
 * TF-IDF); --model auto tries it only on tables with text columns. */
enum {
    ASSAY_EST_NATIVE = 1, ASSAY_EST_EARLY_STOPPING = 2, ASSAY_EST_SPARSE = 4, ASSAY_EST_TEXT = 8,
    ASSAY_EST_SEQUENCE = 16 /* reads token sequences of text columns only (bert): the model
                               leaves the other columns out */
};

typedef struct assay_estimator assay_estimator;

typedef struct assay_estimator_vt {
    const char *name;          /* registry name: "logreg" */
    const char *summary;       /* one line for --help */
    unsigned tasks;            /* bit (1u << task) for each supported assay_task */
    /* Parse and check parameters (unknown keys refused); allocate the estimator. */
    int (*create)(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                  assay_estimator **out, assay_error *err);
    int (*fit)(assay_estimator *e, const assay_design *d, assay_error *err);
    /* out: X->n rows x width (K probabilities, or 1 value). */
    int (*predict)(const assay_estimator *e, const assay_matrix *X, double *out,
                   assay_error *err);
    /* Tensors named prefix + "coef" etc.; scalars into meta (a JSON object). */
    int (*save)(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                json_t *meta, assay_error *err);
    /* Fill an estimator made by create() from a file; validate every shape. */
    int (*load)(assay_estimator *e, const assay_mfile *f, const char *prefix, const json_t *meta,
                assay_error *err);
    void (*free)(assay_estimator *e);
    unsigned flags;            /* ASSAY_EST_* (EARLY_STOPPING: takes early_stopping=N) */
    /* Candidate parameter sets for --model auto (NULL-terminated), or NULL: not a candidate. */
    const char *const *grid;
    /* Optional. Additive contributions to the raw margin: phi is X->n x width x (d + 1), width
     * 1 (binary, regression) or K (multiclass); the last of each d + 1 is the bias (expected
     * value). Per row and output they sum to the margin. */
    int (*explain)(const assay_estimator *e, const assay_matrix *X, double *phi,
                   assay_error *err);
    /* Optional. Per feature: total gain and number of splits. */
    int (*importance)(const assay_estimator *e, double *gain, double *splits);
    /* Optional. Linear models: the weights, width x d (width 1 for binary and regression, K for
     * multiclass), in the design's feature order; intercepts left out. */
    int (*coefficients)(const assay_estimator *e, double *coef);
    /* Optional. A JSON object describing the training (history, time), or NULL. */
    json_t *(*training)(const assay_estimator *e);
    /* Optional. Adjust the preprocessing options from the parameters before the pipeline is
     * fitted (bert: text columns become WordPiece ids of its encoder's vocabulary). */
    int (*prep)(const assay_params *p, assay_prep_options *o, assay_error *err);
} assay_estimator_vt;

/* Every estimator struct starts with this. */
struct assay_estimator {
    const assay_estimator_vt *vt;
    assay_task task;
    int nclasses;
    int64_t nfeatures;
};

/* The registry (registry.c): NULL if unknown. */
const assay_estimator_vt *assay__estimator_find(const char *name);

/* 1 if vt fits task: natively, or multilabel through one binary estimator per label (ovr.c). */
int assay__vt_supports(const assay_estimator_vt *vt, assay_task task);
/* vt->create, or for multilabel on a kind without it the one-vs-rest wrapper of vt. */
int assay__estimator_create(const assay_estimator_vt *vt, const assay_params *p, assay_task task,
                            int K, int64_t d, assay_estimator **out, assay_error *err);

/* Estimators (one line each in registry.c). */
extern const assay_estimator_vt assay__logreg_vt;
extern const assay_estimator_vt assay__linear_vt;
extern const assay_estimator_vt assay__ridge_vt;
extern const assay_estimator_vt assay__gbdt_vt;
extern const assay_estimator_vt assay__mlp_vt;
extern const assay_estimator_vt assay__cnn_vt;
extern const assay_estimator_vt assay__textclf_vt;
extern const assay_estimator_vt assay__nb_vt;
extern const assay_estimator_vt assay__nblr_vt;
extern const assay_estimator_vt assay__ensemble_vt;
extern const assay_estimator_vt assay__svm_vt;
extern const assay_estimator_vt assay__bert_vt;

#endif
