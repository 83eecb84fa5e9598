/* curves.h - evaluation curves and probability calibration for binary scores: the ROC and
 * precision-recall curves, the calibration (reliability) curve, cumulative gain and lift by
 * group, Platt and isotonic calibrators, and a model-agnostic permutation importance.
 *
 * Conventions as eval.h: y01 holds labels (nonzero = positive), score one number per row,
 * a quantity that is undefined for the data is NAN. Curves and tables are plain structs whose
 * arrays the library allocates with assay_mallocarray; the caller owns them and releases them
 * with the matching _deinit (which also accepts a zeroed or already released struct). Not here:
 * sample weights, multiclass curves, plotting (see svg.c). */
#ifndef ASSAY_CURVES_H
#define ASSAY_CURVES_H

#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ROC and precision-recall (sklearn.metrics, 1.2) ------------------------------------- */

/* roc_curve(drop_intermediate=True): n points; thresholds[0] = max score + 1, then the kept
 * distinct scores in decreasing order. With no negatives every fpr is NAN, with no positives
 * every tpr is NAN (scikit-learn warns and does the same). */
typedef struct assay_roc_curve {
    int64_t n;
    double *fpr, *tpr, *thresholds; /* n each */
} assay_roc_curve;

/* precision_recall_curve: n points ordered by increasing threshold, the last point being
 * (precision 1, recall 0) without a threshold; thresholds has n - 1 entries (every distinct
 * score, increasing). Without positives recall is 1 at every threshold. */
typedef struct assay_pr_curve {
    int64_t n;
    double *precision, *recall; /* n each */
    double *thresholds;         /* n - 1 */
} assay_pr_curve;

/* EINVAL for n < 1 or a NaN score; ENOMEM. On failure *out is zeroed. */
int assay_curve_roc(const uint8_t *y01, const double *score, int64_t n, assay_roc_curve *out,
                    assay_error *err);
void assay_curve_roc_deinit(assay_roc_curve *c);
int assay_curve_pr(const uint8_t *y01, const double *score, int64_t n, assay_pr_curve *out,
                   assay_error *err);
void assay_curve_pr_deinit(assay_pr_curve *c);

/* ---- calibration curve (sklearn.calibration.calibration_curve) ------------------------- */

typedef enum assay_bin_strategy {
    ASSAY_BINS_UNIFORM = 0,  /* edges linspace(0, 1, nbins + 1) */
    ASSAY_BINS_QUANTILE = 1, /* edges numpy.percentile(p, linspace(0, 100, nbins + 1)) */
} assay_bin_strategy;

/* A row goes to bin searchsorted(edges[1:nbins], p, side=left), i.e. bin k holds
 * edges[k] < p <= edges[k+1] (bin 0 also p <= edges[1]). Only nonempty bins are reported, as
 * scikit-learn does: n of them, with their index in 0..nbins-1. */
typedef struct assay_calibration_curve {
    int nbins;            /* as asked */
    double *edges;        /* nbins + 1 */
    int64_t n;            /* nonempty bins */
    int32_t *bin;         /* n: index of each reported bin */
    double *prob_true;    /* n: fraction of positives in the bin */
    double *prob_pred;    /* n: mean predicted probability in the bin */
    int64_t *count;       /* n: rows in the bin */
    double brier;         /* assay_metric_brier over all rows */
} assay_calibration_curve;

/* p: probabilities in [0, 1]. EINVAL for n < 1, nbins < 1, p outside [0, 1] or NaN. */
int assay_curve_calibration(const uint8_t *y01, const double *p, int64_t n, int nbins,
                            assay_bin_strategy strategy, assay_calibration_curve *out,
                            assay_error *err);
void assay_curve_calibration_deinit(assay_calibration_curve *c);

/* ---- cumulative gain and lift ------------------------------------------------------------ */

/* Rows are sorted by score descending with a stable sort (ties keep their row order) and the
 * sorted rows are split into G consecutive groups as numpy.array_split does: the first n % G
 * groups hold n / G + 1 rows, the others n / G (so groups are empty when n < G). Per group g:
 *   gain[g]     = positives in groups 0..g / all positives
 *   cum_lift[g] = (positive rate of groups 0..g) / (overall positive rate)
 *   lift[g]     = (positive rate of group g) / (overall positive rate)
 * NAN without positives, and for lift / cum_lift of groups with no rows so far. */
typedef struct assay_gain_table {
    int groups;
    int64_t *rows, *positives;      /* groups each */
    double *gain, *cum_lift, *lift; /* groups each */
    double base_rate;               /* positives / n */
} assay_gain_table;

/* groups <= 0 means 10 (deciles). EINVAL for n < 1 or a NaN score. */
int assay_curve_gain(const uint8_t *y01, const double *score, int64_t n, int groups,
                     assay_gain_table *out, assay_error *err);
void assay_curve_gain_deinit(assay_gain_table *t);

/* ---- probability calibrators ------------------------------------------------------------- */

typedef enum assay_calibration_method {
    ASSAY_CALIBRATION_PLATT = 1,    /* p = 1 / (1 + exp(a * s + b)) */
    ASSAY_CALIBRATION_ISOTONIC = 2, /* piecewise linear through (x[i], y[i]), clipped */
} assay_calibration_method;

/* The fitted parameters are plain fields, so a model file can store them and rebuild the
 * calibrator with assay_calibrator_new_platt / _new_isotonic. */
typedef struct assay_calibrator {
    assay_calibration_method method;
    double a, b;    /* Platt */
    int64_t n;      /* isotonic: breakpoints, x strictly increasing, y nondecreasing */
    double *x, *y;  /* n each (NULL for Platt) */
} assay_calibrator;

/* Fits on (score, label) pairs.
 * Platt: sklearn.calibration._sigmoid_calibration - targets smoothed to (N+ + 1)/(N+ + 2) and
 * 1/(N- + 2), a and b minimise the log loss (Newton's method with a backtracking line search,
 * started where scikit-learn starts; scikit-learn stops BFGS earlier, at gradient 1e-5).
 * Isotonic: sklearn.isotonic.IsotonicRegression(increasing=True, out_of_bounds="clip"): tied
 * scores (closer than 1e-15) merged to their mean label, pool-adjacent-violators, breakpoints
 * whose y equals both neighbours dropped.
 * EINVAL for n < 1 or a non-finite score; ENOMEM. The caller frees *out. */
int assay_calibrator_fit(assay_calibration_method method, const uint8_t *y01,
                         const double *score, int64_t n, assay_calibrator **out,
                         assay_error *err);
/* From stored parameters (copied). EINVAL for non-finite a or b, n < 1, x not strictly
 * increasing or non-finite values. */
int assay_calibrator_new_platt(double a, double b, assay_calibrator **out, assay_error *err);
int assay_calibrator_new_isotonic(const double *x, const double *y, int64_t n,
                                  assay_calibrator **out, assay_error *err);
/* out (n) = calibrated probabilities of score (n); out may alias score. Isotonic clips scores
 * to [x[0], x[n-1]] and interpolates linearly as scipy's interp1d; a NaN score gives NaN. */
void assay_calibrator_apply(const assay_calibrator *c, const double *score, int64_t n,
                            double *out);
void assay_calibrator_free(assay_calibrator *c);

/* ---- permutation importance -------------------------------------------------------------- */

/* A model's score on a dense design X (n x d, row-major); larger is better (negate a loss). */
typedef double (*assay_score_fn)(void *ctx, const float *X, int64_t n, int64_t d);

/* For each feature j and each of n_repeats repeats, column j of a scratch copy of X is
 * permuted (Fisher-Yates with assay_rng seeded by seed; features in order, repeats in order,
 * one shuffle per repeat) and scored; the column is restored before the next feature.
 * importance = baseline - permuted score.
 * mean_out, std_out (d): mean and population standard deviation (ddof 0, as scikit-learn's
 * permutation_importance) over the repeats. raw_out (d x n_repeats) may be NULL. baseline_out
 * may be NULL. The same seed gives identical results. EINVAL for n < 1, d < 1,
 * n_repeats < 1; ENOMEM. The callback must not keep X. */
int assay_permutation_importance(assay_score_fn score, void *ctx, const float *X, int64_t n,
                                 int64_t d, int n_repeats, uint64_t seed, double *mean_out,
                                 double *std_out, double *raw_out, double *baseline_out,
                                 assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
