/* value.h - the business value of a binary classifier: a value specification (what each
 * decision outcome gains or costs), the profit curve over score thresholds with its optimum,
 * top-k% and budgeted choices, the expected maximum profit measure for churn (EMP), and money
 * formatting for reports.
 *
 * Inputs: y01 (n) labels, nonzero = positive; score (n) the predicted probability (or any
 * score, larger = more likely positive); amount (n) an optional per-row value such as a loan's
 * size. "Acting on" a row means predicting it positive (calling the customer, refusing the
 * loan). Every policy here is a threshold rule on the score — act on every row with
 * score >= t — so rows with equal scores are always treated alike; labels are never used to
 * choose rows, only to evaluate a choice. This module does not fit thresholds on one set and
 * evaluate on another, does not do cost-sensitive training, and does not do multiclass value. */
#ifndef ASSAY_VALUE_H
#define ASSAY_VALUE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- value specification ------------------------------------------------------------------ */

/* One outcome's value per row: c + k * amount (k = 0 when the spec does not use amounts). */
typedef struct assay_value_term {
    double c, k;
} assay_value_term;

/* tp: act on a positive; fp: act on a negative; fn: a positive left alone; tn: a negative
 * left alone. cost: the cost of acting on a row, paid for every row acted on, on top of the
 * tp/fp value (so tp/fp are gross outcomes): acting on a positive is worth tp - cost. The
 * money budget of assay_profit_best_within counts this cost. Missing keys are 0. */
typedef struct assay_value_spec {
    assay_value_term tp, fp, fn, tn, cost;
    int uses_amount; /* 1 when some k != 0: assay_profit_curve_compute then needs amounts */
} assay_value_spec;

/* Parses text of the grammar (whitespace allowed between tokens):
 *
 *   spec   := item ( ',' item )*
 *   item   := key '=' expr                    key := tp | fp | fn | tn | cost  (lowercase)
 *   expr   := [sign] term [ sign term ]        at most one constant and one amount term
 *   term   := number | [ number '*' ] 'amount'
 *   sign   := '+' | '-'
 *   number := digits [ '.' digits ] [ ('e'|'E') [sign] digits ]   (or '.' digits ...)
 *
 * Examples: "tp=120,fp=-20", "tp=amount,fp=-0.1*amount", "tp=0.8*amount-5,cost=2",
 * "fn=-5 + 0.25*amount". Refused with ASSAY_EPARSE and a one-line message naming the key:
 * unknown keys, duplicate keys, a missing '=' or value, anything that is not a number
 * (nan, inf, hex, "12k"), numbers that overflow, two constants or two amount terms in one
 * value, empty items and an empty spec. On failure *out is zeroed. */
int assay_value_spec_parse(const char *text, assay_value_spec *out, assay_error *err);

/* The canonical text of a spec (every key, "c", "k*amount" or "k*amount+c"); parses back to
 * the same spec. Appends to out. */
int assay_value_spec_format(const assay_value_spec *spec, assay_buf *out);

/* Value of one outcome term for a row: t->c + t->k * amount. */
static inline double assay_value_term_eval(const assay_value_term *t, double amount) {
    return t->k != 0 ? t->c + t->k * amount : t->c;
}

/* ---- profit curve ------------------------------------------------------------------------- */

/* Total profit for every threshold rule, in order of decreasing threshold (= increasing rows
 * acted on). Point 0 is "act on nobody" (threshold = +INFINITY as a marker, n_acted = 0);
 * point j >= 1 acts on every row with score >= threshold[j], threshold[1] > threshold[2] > ...
 * being the distinct scores; the last point is "act on everybody" (n_acted = n).
 * profit[j] = sum over rows acted on of (tp or fp value - cost) + sum over the others of
 * (fn or tn value); per_row[j] = profit[j] / n; cost[j] = total action cost at point j.
 *
 * best: the point of largest profit; among equal profits the first one, i.e. the highest
 * threshold / fewest rows acted on (acting on nobody wins a tie with acting on somebody).
 * Computed by one sort, O(n log n), with compensated sums. */
typedef struct assay_profit_curve {
    int64_t n;              /* rows */
    int64_t npoints;        /* distinct scores + 1 */
    double *threshold;      /* npoints */
    int64_t *n_acted;       /* npoints */
    double *profit;         /* npoints, total */
    double *per_row;        /* npoints, profit / n */
    double *cost;           /* npoints, total action cost */
    int64_t best;           /* index of the best point */
    double best_threshold;  /* threshold[best] (+INFINITY: act on nobody) */
    double best_profit;     /* profit[best] */
    int64_t best_n_acted;   /* n_acted[best] */
    double profit_nobody;   /* profit[0] */
    double profit_everybody; /* profit[npoints - 1] */
} assay_profit_curve;

/* amount (n) may be NULL when !spec->uses_amount (it is then ignored either way). Refused with
 * ASSAY_EINVAL: n <= 0, NULL inputs, a score that is NaN or infinite, a non-finite amount when
 * amounts are used. On failure *out is zeroed (deinit is still safe). */
int assay_profit_curve_compute(const assay_value_spec *spec, const uint8_t *y01,
                               const double *score, const double *amount, int64_t n,
                               assay_profit_curve *out, assay_error *err);
void assay_profit_curve_deinit(assay_profit_curve *c);

/* Expected profit of acting on the top k% of rows by score: m = round(k/100 * n) rows (halves
 * round up). When m cuts through a group of tied scores, the rows of that group are taken at
 * random, so the expected profit is the linear interpolation between the curve's points around
 * m. *n_acted = m. Refused: k outside [0, 100] or NaN. */
int assay_profit_top_percent(const assay_profit_curve *c, double k_percent, double *profit,
                             int64_t *n_acted, assay_error *err);

/* The best threshold rule within a budget: the point of largest profit among those with
 * n_acted <= max_rows (max_rows < 0: no row limit) and cost <= max_cost (INFINITY: no cost
 * limit); ties as for best (highest threshold). Act-on-nobody always fits, so there is always
 * an answer. *index is the point (threshold, n_acted, profit, cost are read from c).
 * Refused: max_cost NaN or negative. Rules only: this never picks rows inside a tie group or
 * by label (that would be an oracle knapsack, not a policy). */
int assay_profit_best_within(const assay_profit_curve *c, int64_t max_rows, double max_cost,
                             int64_t *index, assay_error *err);

/* ---- EMP: expected maximum profit for churn ----------------------------------------------- */

/* Verbraken, Verbeke, Baesens (2013), "A novel profit maximizing metric for measuring
 * classification performance of customer churn prediction models", IEEE TKDE 25(5).
 * Positives (y01 = 1) are churners; a larger score = more likely to churn; the targeted
 * customers are those with score >= t. A targeted churner accepts the incentive with
 * probability gamma ~ Beta(alpha, beta) and stays (worth clv - d - f), else leaves (-f); a
 * targeted non-churner takes the incentive (-d - f). Per customer, with pi0/pi1 the churner /
 * non-churner fractions and F0/F1 the fraction of each class targeted:
 *     P(t; gamma) = (gamma (clv - d) - f) pi0 F0(t) - (d + f) pi1 F1(t)
 *     EMP = integral over gamma of max_t P(t; gamma) h(gamma) dgamma
 * The maximum lies on the ROC convex hull; between consecutive hull points the optimum
 * switches at gamma_i = ((d + f) pi1 dF1 / (pi0 dF0) + f) / (clv - d), so EMP is a sum of
 * incomplete beta integrals (exact, no numerical quadrature), as the R package EMP's
 * empChurn computes. frac = the expected fraction of customers targeted at the optimum,
 * integral of (pi0 F0 + pi1 F1)(T(gamma)) h(gamma) dgamma.
 * Degenerate data stays defined: no churners gives EMP = frac = 0; no non-churners targets
 * everybody when gamma > f / (clv - d). */
typedef struct assay_emp_params {
    double clv;   /* customer lifetime value, default 200 */
    double d;     /* incentive cost, default 10 */
    double f;     /* contact cost, default 1 */
    double alpha; /* Beta(alpha, beta) of the acceptance probability, default 6 */
    double beta;  /* default 14 */
} assay_emp_params;

typedef struct assay_emp_result {
    double emp;  /* expected maximum profit per customer */
    double frac; /* expected fraction of customers targeted */
} assay_emp_result;

void assay_emp_params_default(assay_emp_params *p);
/* NULL, or why the parameters are unusable: all finite, clv > d >= 0, f >= 0, alpha > 0,
 * beta > 0. */
const char *assay_emp_params_check(const assay_emp_params *p);
/* p NULL = defaults. Refused (ASSAY_EINVAL): bad parameters, n <= 0, NaN scores. */
int assay_emp_churn(const uint8_t *y01, const double *score, int64_t n, const assay_emp_params *p,
                    assay_emp_result *out, assay_error *err);

/* Regularised incomplete beta function I_x(a, b) (a, b > 0, x in [0, 1]); NAN otherwise.
 * Continued fraction (Lentz), relative error ~1e-14. Exposed for tests and reports. */
double assay_value_betainc(double x, double a, double b);

/* ---- report helpers ----------------------------------------------------------------------- */

/* Money text with thousands separators: 12340 -> "12,340", -1200.5 -> "-1,200.50",
 * 0.004 -> "0". Rounded to cents; cents are shown only when not zero. NaN -> "nan",
 * infinities -> "inf" / "-inf". Always NUL-terminated (truncated to cap; 32 is enough for
 * any double below 1e20). Returns buf. */
const char *assay_value_format_money(double v, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
