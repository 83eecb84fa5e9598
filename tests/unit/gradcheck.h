/* gradcheck.h - finite-difference gradient checks for float32 kernels.
 *
 * The layer under test is wrapped in a loss function of the caller's state: it runs the
 * forward pass and returns a scalar, usually sum(out * proj) for a fixed random proj (so every
 * output element matters with a different weight), computed in double. The analytic gradient
 * comes from the backward pass with dout = proj. gc_check perturbs each checked element x[i]
 * by +-h, takes the central difference, and compares:
 *
 *   err_i = |analytic - numeric| / max(|analytic| + |numeric|, floor)
 *
 * float32 forward passes make the numeric derivative noisy at about 1e-7 * |loss| / h, hence
 * h around 1e-2 to 1e-3 and tolerances around 1e-2 (state them in the test). Inputs of kinked
 * functions (ReLU, max pooling) must stay away from the kinks. */
#ifndef ASSAY_GRADCHECK_H
#define ASSAY_GRADCHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"

typedef double (*gc_loss_fn)(void *ctx);

/* Check up to max_checks elements of x (n) spread evenly (all when n <= max_checks) against the
 * analytic gradient g (n). Prints the largest relative error; returns it. */
static inline double gc_check(const char *name, float *x, const float *g, int64_t n,
                              gc_loss_fn loss, void *ctx, double h, double tol, int64_t max_checks,
                              double floor) {
    double worst = 0;
    int64_t worst_i = -1;
    int64_t step = n <= max_checks ? 1 : n / max_checks;
    for (int64_t i = 0; i < n; i += step) {
        float keep = x[i];
        x[i] = (float)(keep + h);
        double lp = loss(ctx);
        x[i] = (float)(keep - h);
        double lm = loss(ctx);
        x[i] = keep;
        /* the perturbation actually applied, after rounding to float */
        double hh = ((double)(float)(keep + h) - (double)(float)(keep - h)) / 2;
        double num = (lp - lm) / (2 * hh);
        double den = fabs(g[i]) + fabs(num);
        if (den < floor) den = floor;
        double e = fabs(g[i] - num) / den;
        if (e > worst) worst = e, worst_i = i;
    }
    printf("  gradcheck %-28s largest relative error %.3g (element %lld of %lld)\n", name, worst,
           (long long)worst_i, (long long)n);
    CHECK_MSG(worst < tol, "%s: relative error %.3g >= %.3g", name, worst, tol);
    return worst;
}

/* sum(out (n) * proj (n)) in double. */
static inline double gc_dot(const float *out, const float *proj, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)out[i] * proj[i];
    return s;
}

#endif
