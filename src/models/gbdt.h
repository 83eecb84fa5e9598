/* gbdt.h - the gradient-boosted tree ensemble shared by gbdt.c (parameters, training) and
 * gbdt_tree.c (prediction, TreeSHAP, the model file). Private to src/models.
 *
 * An ensemble is rounds x K trees (K = 1, or the number of classes for softmax); tree t adds to
 * output t % K. All trees' nodes live in one array, tree t at [tree_off[t], tree_off[t + 1]);
 * child indices are relative to the tree and always greater than the parent's, so every walk
 * ends. Categorical splits keep the set of codes that go left as a bitset in catbits. */
#ifndef ASSAY_GBDT_H
#define ASSAY_GBDT_H

#include "estimator.h"

enum { GB_LEAF = -1 };
enum { GB_DEFAULT_LEFT = 1, GB_CATEGORICAL = 2 };
enum { GB_OBJ_LOGLOSS = 0, GB_OBJ_SOFTMAX, GB_OBJ_SQUARED, GB_OBJ_ABSOLUTE, GB_OBJ_HUBER };
enum { GB_GROW_DEPTHWISE = 0, GB_GROW_LOSSGUIDE };

#define GB_MAX_DEPTH 64 /* deepest tree accepted (bounds the TreeSHAP path) */

typedef struct gb_node {
    int32_t feature;            /* GB_LEAF for a leaf */
    int32_t left, right;        /* children (indices within the tree), -1 for a leaf */
    int32_t flags;              /* GB_DEFAULT_LEFT | GB_CATEGORICAL */
    int32_t cat_off, cat_words; /* categorical: the codes that go left, a bitset in catbits */
    double threshold;           /* numeric: x <= threshold (x a float32) goes left */
    double value;               /* leaf: output, learning rate applied */
    double cover;               /* sum of hessians of the training rows that reached it */
    double gain;                /* split: loss reduction */
} gb_node;

typedef struct gbdt {
    assay_estimator base;
    /* parameters */
    long n_trees, max_depth, max_leaves, max_bins, early_stopping, max_cat_onehot,
        max_cat_threshold;
    double lr, min_child_weight, min_split_gain, lambda, alpha, subsample, colsample,
        huber_delta, validation_fraction, cat_smooth, cat_l2, min_cat_weight;
    int grow, objective, balanced;
    /* the ensemble */
    int K;                      /* outputs: trees per round */
    double *base_score;         /* K initial margins */
    int64_t ntrees;             /* rounds * K */
    int64_t *tree_off;          /* ntrees + 1 */
    gb_node *nodes;
    int64_t nnodes, cap_nodes;
    uint32_t *catbits;
    int64_t ncatbits, cap_catbits;
    int depth;                  /* deepest tree */
    /* what fitting did */
    long rounds, best_round;
    double best_val;            /* validation loss of the best round (early stopping) */
    int stopped_early;
} gbdt;

extern const char *const assay__gbdt_objectives[]; /* names by GB_OBJ_* */

static inline double assay__gb_sigmoid(double z) {
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* gbdt_tree.c */
/* Whether row x goes left at internal node nd. */
static inline int assay__gb_left(const gbdt *m, const gb_node *nd, const float *x) {
    float v = x[nd->feature];
    if (isnan(v)) return nd->flags & GB_DEFAULT_LEFT;
    if (nd->flags & GB_CATEGORICAL) {
        if (!(v >= 0.0f) || v >= (float)(32 * nd->cat_words)) return 0;
        uint32_t c = (uint32_t)v;
        return (m->catbits[nd->cat_off + (c >> 5)] >> (c & 31)) & 1u;
    }
    return v <= nd->threshold;
}
/* Raw margins (K per row) of rows of X: base score plus every tree. */
void assay__gbdt_margins(const gbdt *m, const float *x, double *margin);
/* Depth of tree t (edges on the longest root-leaf path). */
int assay__gbdt_tree_depth(const gbdt *m, int64_t t);
/* The conditional expectation TreeSHAP explains, by brute force: the output of tree t for x when
 * only the features with known[f] != 0 are known (unknown ones average over children by cover).
 * For tests. */
double assay__gbdt_tree_expect(const gbdt *m, int64_t t, const float *x, const uint8_t *known);
/* Check every node, child index, feature id and bitset range (loading). */
int assay__gbdt_validate(gbdt *m, assay_error *err);
int assay__gbdt_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                        assay_error *err);
int assay__gbdt_explain(const assay_estimator *e, const assay_matrix *X, double *phi,
                        assay_error *err);
int assay__gbdt_importance(const assay_estimator *e, double *gain, double *splits);
int assay__gbdt_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                     json_t *meta, assay_error *err);
int assay__gbdt_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                     const json_t *meta, assay_error *err);

#endif
