/* logreg.c - logistic regression ("logreg") with the objective of scikit-learn's
 * LogisticRegression:
 *
 *     minimise  C * sum_i s_i * loss_i(W, b) + penalty(W)          (b, the intercept, is free)
 *
 * with penalty 0.5*||W||^2 (l2), ||W||_1 (l1) or 0 (none), s_i = sample weight times the class
 * weight. Binary: one weight vector and the sigmoid; multiclass: K vectors and the softmax
 * (sklearn's multi_class='multinomial').
 *
 * Solvers: "newton" (binary, dense input, l2 or no penalty, at most NEWTON_MAX_P parameters: the
 * case of a business table after its pipeline) is Newton's method with the exact Hessian
 * X^T diag(s p (1-p)) X + l2 I solved by Cholesky and an Armijo backtracking step, like
 * scikit-learn's "newton-cholesky": a handful of passes over the rows instead of dozens. Where it
 * does not apply, or the Hessian is not positive definite, "lbfgs": L-BFGS (memory M) with a
 * backtracking Armijo line search; for l1 the same loop becomes
 * OWL-QN (Andrew & Gao 2007, "Scalable training of L1-regularized log-linear models": pseudo-
 * gradient, direction constrained to the orthant, steps projected onto it). The objective is
 * divided by C * sum_i s_i so its scale does not depend on n. Convergence: the max-abs
 * (pseudo-)gradient falls below tol times its initial value; reaching max_iter is not an error.
 *
 * Losses and gradients are summed over fixed blocks of rows (the block count depends only on the
 * data's shape, never on the thread count), one buffer per block, and the blocks are added in
 * order: the same data gives the same model, byte for byte, with any number of threads.
 *
 * Not here: other solvers, elastic net, one-vs-rest multiclass, warm starts. */
#include <float.h>

#include "estimator.h"
#include "linalg.h"

#define M 10               /* L-BFGS memory */
#define ARMIJO 1e-4        /* sufficient decrease constant */
#define MAX_BACKTRACK 60
#define MIN_BLOCK_ROWS 2048
#define MAX_BLOCKS 256
#define BLOCK_BYTES (256.0 * 1024 * 1024) /* cap on the per-block gradient buffers */
#define NEWTON_MAX_P 1025  /* Hessians up to 1025 x 1025 (8 MiB per block) */
#define HESS_BLOCKS 16     /* fixed Hessian blocks: deterministic with any thread count */

enum { PEN_L2, PEN_L1, PEN_NONE };
enum { SOLVER_AUTO, SOLVER_LBFGS, SOLVER_NEWTON };

typedef struct logreg {
    assay_estimator base;
    double C, tol;
    long max_iter;
    int penalty, balanced, fit_intercept, solver;
    int K1;            /* weight vectors: 1 (binary) or K */
    double *coef;      /* K1 x d */
    double *intercept; /* K1 */
    long n_iter;
    int converged;
    int newton_used;   /* the solver that produced the fit: Newton (1) or L-BFGS/OWL-QN (0) */
    double objective;  /* sklearn's objective: C * sum s_i loss_i + penalty */
} logreg;

static const char *const known[] = {"C",   "penalty",  "class_weight", "tol",
                                    "max_iter", "fit_intercept", "solver", NULL};
static const char *const solvers[] = {"auto", "lbfgs", "newton", NULL};
static const char *const penalties[] = {"l2", "l1", "none", NULL};
static const char *const cw_choices[] = {"none", "balanced", NULL};
static const char *const bools[] = {"false", "true", "0", "1", NULL};

/* A number > 0 (finite). */
static int positive(const assay_params *p, const char *key, double def, double *out,
                    assay_error *err) {
    int rc = assay_params_double(p, key, def, 0.0, DBL_MAX, out, err);
    if (rc || !(*out > 0))
        return assay_error_set(err, ASSAY_EINVAL, "%s must be a number > 0, got '%s'", key,
                               assay_params_get(p, key));
    return ASSAY_OK;
}

static int lr_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                     assay_estimator **out, assay_error *err) {
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, known, "logreg", err))) return rc;
    if (task != ASSAY_TASK_BINARY && task != ASSAY_TASK_MULTICLASS)
        return assay_error_set(err, ASSAY_EINVAL, "logreg: task %s is not supported",
                               assay_task_name(task));
    if (nclasses < 2 || (task == ASSAY_TASK_BINARY && nclasses != 2))
        return assay_error_set(err, ASSAY_EINVAL, "logreg: %d classes for a %s task", nclasses,
                               assay_task_name(task));
    if (nfeatures < 0 || nfeatures > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "logreg: bad feature count %lld",
                               (long long)nfeatures);
    logreg *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "logreg: out of memory");
    long fi = 1;
    int bi = 1;
    if ((rc = positive(p, "C", 1.0, &m->C, err)) ||
        (rc = assay_params_choice(p, "penalty", penalties, PEN_L2, &m->penalty, err)) ||
        (rc = assay_params_choice(p, "class_weight", cw_choices, 0, &m->balanced, err)) ||
        (rc = positive(p, "tol", 1e-6, &m->tol, err)) ||
        (rc = assay_params_int(p, "max_iter", 1000, 1, 100000000L, &m->max_iter, err)) ||
        (rc = assay_params_choice(p, "fit_intercept", bools, 1, &bi, err)) ||
        (rc = assay_params_choice(p, "solver", solvers, SOLVER_AUTO, &m->solver, err)))
        goto fail;
    if (m->solver == SOLVER_NEWTON && (task != ASSAY_TASK_BINARY || m->penalty == PEN_L1)) {
        rc = assay_error_set(err, ASSAY_EINVAL, "solver newton needs a binary task and penalty l2 or none");
        goto fail;
    }
    fi = bi % 2;
    m->fit_intercept = (int)fi;
    m->base.vt = &assay__logreg_vt;
    m->base.task = task;
    m->base.nclasses = nclasses;
    m->base.nfeatures = nfeatures;
    m->K1 = task == ASSAY_TASK_BINARY ? 1 : nclasses;
    m->coef = assay_calloc((size_t)m->K1 * (size_t)(nfeatures ? nfeatures : 1), sizeof *m->coef);
    m->intercept = assay_calloc((size_t)m->K1, sizeof *m->intercept);
    if (!m->coef || !m->intercept) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "logreg: out of memory");
        goto fail;
    }
    *out = &m->base;
    return ASSAY_OK;
fail:
    if (rc != ASSAY_ENOMEM) assay_error_prefix(err, "logreg");
    assay_free(m->coef);
    assay_free(m->intercept);
    assay_free(m);
    return rc;
}

static void lr_free(assay_estimator *e) {
    if (!e) return;
    logreg *m = (logreg *)e;
    assay_free(m->coef);
    assay_free(m->intercept);
    assay_free(m);
}

/* ---- the objective --------------------------------------------------------------------------
 * Parameters are one flat vector x of P = K1*d + K1 doubles: the K1 x d weights, then the K1
 * intercepts (held at 0 when fit_intercept is off). */

typedef struct problem {
    const assay_matrix *X;
    const double *y;
    const double *s;      /* per-row weights (sample x class), or NULL for all ones */
    int K1;
    int64_t n, d, P;
    int64_t stride;       /* per-block buffer stride: P rounded up to whole cache lines + 1 */
    int fit_intercept;
    double scale;         /* 1 / sum s_i */
    double l2, l1;        /* penalty weights after scaling: 1 / (C * sum s_i) */
    int64_t nblocks, brows;
    double *bgrad;        /* nblocks x stride: gradient, then loss, then K1 scratch */
} problem;

/* Binary log loss and its derivative from one exp: with e = exp(-|z|) in (0, 1],
 * softplus(z) = max(z, 0) + log(1 + e) and sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e)
 * otherwise. log(1 + e) instead of log1p(e) costs an absolute error below 1.2e-16 per row
 * (only where e < DBL_EPSILON, when the row's loss is itself that small) and halves the time
 * of the transcendental part, which dominates a dense low-dimensional fit. Where only the
 * probability is needed (Hessian, predict), sigmoid() skips the log. */
static inline double sigmoid_e(double z, double e) { return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e); }

static inline double sigmoid(double z) { return sigmoid_e(z, exp(-fabs(z))); }

static inline double logistic(double z, int y, double *p) {
    double e = exp(-fabs(z));
    *p = sigmoid_e(z, e);
    double t = y ? -z : z; /* loss = softplus(t) */
    return (t > 0 ? t : 0) + log(1.0 + e);
}

/* Loss and gradient of rows [r0, r1) added into g (P) and returned. */
static double block_eval(const problem *pb, const double *x, int64_t r0, int64_t r1, double *g,
                         double *z) {
    const assay_matrix *X = pb->X;
    int K1 = pb->K1;
    int64_t d = pb->d;
    const double *b = x + (int64_t)K1 * d;
    double *gb = g + (int64_t)K1 * d;
    double loss = 0;
    if (K1 == 1) {
        for (int64_t i = r0; i < r1; i++) {
            double si = pb->s ? pb->s[i] : 1.0;
            if (si == 0) continue;
            double zi = b[0] + assay__row_dot(X, i, x);
            int yi = pb->y[i] != 0;
            double p;
            loss += si * logistic(zi, yi, &p);
            double r = si * (p - yi);
            assay__row_axpy(X, i, r, g);
            gb[0] += r;
        }
        return loss;
    }
    for (int64_t i = r0; i < r1; i++) {
        double si = pb->s ? pb->s[i] : 1.0;
        if (si == 0) continue;
        double zmax = -INFINITY;
        for (int k = 0; k < K1; k++) {
            z[k] = b[k] + assay__row_dot(X, i, x + k * d);
            if (z[k] > zmax) zmax = z[k];
        }
        double sum = 0;
        for (int k = 0; k < K1; k++) sum += exp(z[k] - zmax);
        double lse = zmax + log(sum); /* log-sum-exp shifted by the max: no overflow */
        int yi = (int)pb->y[i];
        loss += si * (lse - z[yi]);
        for (int k = 0; k < K1; k++) {
            double r = si * (exp(z[k] - lse) - (k == yi));
            assay__row_axpy(X, i, r, g + k * d);
            gb[k] += r;
        }
    }
    return loss;
}

/* Smooth part: f = scale * sum s_i loss_i + 0.5 * l2 * ||W||^2, g its gradient (P). */
static double eval(problem *pb, const double *x, double *g) {
    int64_t P = pb->P, nb = pb->nblocks;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bi = 0; bi < nb; bi++) {
        /* Each block's buffer sits on its own cache lines: no false sharing between threads. */
        double *gbk = pb->bgrad + bi * pb->stride;
        memset(gbk, 0, (size_t)P * sizeof *gbk);
        int64_t r0 = bi * pb->brows, r1 = ASSAY_MIN(pb->n, r0 + pb->brows);
        gbk[P] = block_eval(pb, x, r0, r1, gbk, gbk + P + 1);
    }
    /* Add the blocks in order: deterministic whatever the thread count. */
#pragma omp parallel for schedule(static) if (P > 4096)
    for (int64_t p = 0; p < P; p++) {
        double a = 0;
        for (int64_t bi = 0; bi < nb; bi++) a += pb->bgrad[bi * pb->stride + p];
        g[p] = a * pb->scale;
    }
    double f = 0;
    for (int64_t bi = 0; bi < nb; bi++) f += pb->bgrad[bi * pb->stride + P];
    f *= pb->scale;
    int64_t nw = (int64_t)pb->K1 * pb->d;
    if (pb->l2 > 0) {
        double q = 0;
        for (int64_t p = 0; p < nw; p++) {
            q += x[p] * x[p];
            g[p] += pb->l2 * x[p];
        }
        f += 0.5 * pb->l2 * q;
    }
    if (!pb->fit_intercept)
        for (int64_t p = nw; p < P; p++) g[p] = 0;
    return f;
}

static double l1norm(const problem *pb, const double *x) {
    double a = 0;
    int64_t nw = (int64_t)pb->K1 * pb->d;
    for (int64_t p = 0; p < nw; p++) a += fabs(x[p]);
    return a;
}

/* OWL-QN pseudo-gradient of f + l1*||W||_1 (plain gradient when l1 == 0). */
static void pseudo_grad(const problem *pb, const double *x, const double *g, double *pg) {
    int64_t nw = (int64_t)pb->K1 * pb->d;
    double lam = pb->l1;
    for (int64_t p = 0; p < pb->P; p++) {
        if (lam == 0 || p >= nw) {
            pg[p] = g[p];
        } else if (x[p] > 0) {
            pg[p] = g[p] + lam;
        } else if (x[p] < 0) {
            pg[p] = g[p] - lam;
        } else if (g[p] + lam < 0) {
            pg[p] = g[p] + lam;
        } else if (g[p] - lam > 0) {
            pg[p] = g[p] - lam;
        } else {
            pg[p] = 0;
        }
    }
}

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double maxabs(const double *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* Minimise from x = 0. Returns ASSAY_OK (converged or not: see *converged) or ASSAY_ENOMEM. */
static int minimise(problem *pb, double tol, long max_iter, double *x, long *n_iter,
                    int *converged, double *fout) {
    int64_t P = pb->P, nw = (int64_t)pb->K1 * pb->d;
    double *work = assay_calloc((size_t)P * (2 * M + 6), sizeof *work);
    if (!work) return ASSAY_ENOMEM;
    double *S = work, *Y = S + M * P, *g = Y + M * P, *pg = g + P, *dir = pg + P, *xn = dir + P,
           *gn = xn + P, *orth = gn + P;
    double rho[M], alpha[M];
    int mlen = 0, mhead = 0; /* ring buffer of the last mlen pairs; next slot mhead */
    memset(x, 0, (size_t)P * sizeof *x);
    double f = eval(pb, x, g);
    double F = f + pb->l1 * l1norm(pb, x);
    pseudo_grad(pb, x, g, pg);
    double g0 = maxabs(pg, P);
    *converged = 0;
    long it = 0;
    if (!(g0 > 0)) {
        *converged = 1;
        goto done;
    }
    for (it = 1; it <= max_iter; it++) {
        /* Two-loop recursion: dir = -H pg. */
        for (int64_t p = 0; p < P; p++) dir[p] = -pg[p];
        for (int j = 0; j < mlen; j++) {
            int k = (mhead - 1 - j + M) % M;
            alpha[k] = rho[k] * dot(S + k * P, dir, P);
            for (int64_t p = 0; p < P; p++) dir[p] -= alpha[k] * Y[k * P + p];
        }
        if (mlen > 0) {
            int k = (mhead - 1 + M) % M;
            double gamma = dot(S + k * P, Y + k * P, P) / dot(Y + k * P, Y + k * P, P);
            for (int64_t p = 0; p < P; p++) dir[p] *= gamma;
        }
        for (int j = mlen - 1; j >= 0; j--) {
            int k = (mhead - 1 - j + M) % M;
            double beta = rho[k] * dot(Y + k * P, dir, P);
            for (int64_t p = 0; p < P; p++) dir[p] += (alpha[k] - beta) * S[k * P + p];
        }
        if (pb->l1 > 0) {
            /* Keep only components that descend along the pseudo-gradient; fix the orthant. */
            for (int64_t p = 0; p < P; p++) {
                if (p < nw && dir[p] * pg[p] >= 0) dir[p] = 0;
                orth[p] = x[p] != 0 ? (x[p] > 0 ? 1 : -1) : (pg[p] < 0 ? 1 : -1);
            }
        }
        double dd = dot(pg, dir, P);
        if (!(dd < 0)) { /* not a descent direction: restart from steepest descent */
            mlen = 0;
            for (int64_t p = 0; p < P; p++) dir[p] = -pg[p];
            dd = -dot(pg, pg, P);
        }
        double t = mlen == 0 ? fmin(1.0, 1.0 / sqrt(-dd)) : 1.0;
        double fn = 0, Fn = 0;
        int ok = 0;
        for (int bt = 0; bt < MAX_BACKTRACK; bt++) {
            for (int64_t p = 0; p < P; p++) {
                xn[p] = x[p] + t * dir[p];
                if (pb->l1 > 0 && p < nw && xn[p] * orth[p] <= 0) xn[p] = 0; /* projection */
            }
            fn = eval(pb, xn, gn);
            Fn = fn + pb->l1 * l1norm(pb, xn);
            double decr = 0;
            for (int64_t p = 0; p < P; p++) decr += pg[p] * (xn[p] - x[p]);
            if (isfinite(Fn) && Fn <= F + ARMIJO * decr) {
                ok = 1;
                break;
            }
            /* Quadratic interpolation of F along the step, kept within [0.1t, 0.5t]. */
            double tq = -dd * t * t / (2 * (Fn - F - dd * t));
            t = isfinite(tq) ? fmin(fmax(tq, 0.1 * t), 0.5 * t) : 0.5 * t;
        }
        if (!ok) { /* no decrease possible at machine precision */
            *converged = maxabs(pg, P) <= fmax(tol, 1e-7) * g0;
            break;
        }
        double *s = S + mhead * P, *yv = Y + mhead * P;
        for (int64_t p = 0; p < P; p++) {
            s[p] = xn[p] - x[p];
            yv[p] = gn[p] - g[p];
        }
        double sy = dot(s, yv, P), yy = dot(yv, yv, P);
        if (sy > 1e-12 * yy && yy > 0) {
            rho[mhead] = 1.0 / sy;
            mhead = (mhead + 1) % M;
            if (mlen < M) mlen++;
        }
        double Fold = F;
        memcpy(x, xn, (size_t)P * sizeof *x);
        memcpy(g, gn, (size_t)P * sizeof *g);
        f = fn;
        F = Fn;
        pseudo_grad(pb, x, g, pg);
        if (maxabs(pg, P) <= tol * g0) {
            *converged = 1;
            break;
        }
        if (Fold - F <= 4 * DBL_EPSILON * fabs(F) && maxabs(pg, P) <= 1e-7 * g0) {
            *converged = 1; /* stalled at machine precision with a tiny gradient */
            break;
        }
    }
done:
    *n_iter = it > max_iter ? max_iter : it;
    *fout = F;
    (void)f;
    assay_free(work);
    return ASSAY_OK;
}

/* H (P x P, row-major, upper triangle filled) = the Hessian of the smooth objective at x, for the
 * binary loss: scale * sum_i s_i p_i (1 - p_i) [x_i 1][x_i 1]^T + l2 on the weights' diagonal.
 * hb: HESS_BLOCKS x P*P scratch, one per fixed block of rows, added in order. */
static void hessian(const problem *pb, const double *x, double *H, double *hb) {
    const assay_matrix *X = pb->X;
    int64_t d = pb->d, P = pb->P, n = pb->n;
    int64_t brows = (n + HESS_BLOCKS - 1) / HESS_BLOCKS;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < HESS_BLOCKS; b++) {
        double *h = hb + (int64_t)b * P * P;
        memset(h, 0, (size_t)(P * P) * sizeof *h);
        int64_t r0 = b * brows, r1 = ASSAY_MIN(n, r0 + brows);
        /* Rank-1 updates over the row's nonzeros only: one-hot columns make most of a
         * business table's design zeros, which cuts the work about threefold. */
        double val[NEWTON_MAX_P];
        int idx[NEWTON_MAX_P];
        for (int64_t i = r0; i < r1; i++) {
            double si = pb->s ? pb->s[i] : 1.0;
            if (si == 0) continue;
            double p = sigmoid(x[d] + assay__row_dot(X, i, x));
            double w = si * p * (1.0 - p);
            const float *xi = X->dense + i * d;
            int nz = 0;
            for (int j = 0; j < (int)d; j++)
                if (xi[j] != 0) {
                    idx[nz] = j;
                    val[nz++] = xi[j];
                }
            idx[nz] = (int)d;
            val[nz++] = 1.0;
            for (int a = 0; a < nz; a++) {
                double wa = w * val[a];
                double *hj = h + (int64_t)idx[a] * P;
                for (int c = a; c < nz; c++) hj[idx[c]] += wa * val[c];
            }
        }
    }
    for (int64_t j = 0; j < P; j++)
        for (int64_t k = j; k < P; k++) {
            double a = 0;
            for (int b = 0; b < HESS_BLOCKS; b++) a += hb[(int64_t)b * P * P + j * P + k];
            H[j * P + k] = a * pb->scale;
        }
    for (int64_t j = 0; j < d; j++) H[j * P + j] += pb->l2;
    if (!pb->fit_intercept) { /* the intercept stays 0: decouple it */
        for (int64_t j = 0; j < d; j++) H[j * P + d] = 0;
        H[d * P + d] = 1.0;
    }
}

/* Newton's method from x = 0 (binary, dense, no l1). Returns ASSAY_OK, ASSAY_ENOMEM, or 1 when
 * the Hessian is not positive definite (the caller then runs L-BFGS). */
static int newton(problem *pb, double tol, long max_iter, double *x, long *n_iter,
                  int *converged, double *fout) {
    int64_t P = pb->P;
    double *work = assay_mallocarray((size_t)(P * P * (HESS_BLOCKS + 1) + 4 * P), sizeof *work);
    if (!work) return ASSAY_ENOMEM;
    double *H = work, *hb = H + P * P, *g = hb + HESS_BLOCKS * P * P, *dir = g + P, *xn = dir + P,
           *gn = xn + P;
    memset(x, 0, (size_t)P * sizeof *x);
    double f = eval(pb, x, g), g0 = maxabs(g, P);
    int rc = ASSAY_OK;
    long it = 0;
    *converged = !(g0 > 0);
    for (it = 1; it <= max_iter && !*converged; it++) {
        hessian(pb, x, H, hb);
        for (int64_t p = 0; p < P; p++) dir[p] = -g[p];
        /* row-major upper = column-major lower */
        int np = (int)P, info = 0, one = 1;
        dpotrf_("L", &np, H, &np, &info);
        if (info == 0) dpotrs_("L", &np, &one, H, &np, dir, &np, &info);
        if (info != 0) {
            rc = 1;
            break;
        }
        double dd = dot(g, dir, P), t = 1.0, fn = 0;
        int ok = 0;
        for (int bt = 0; bt < MAX_BACKTRACK && dd < 0; bt++) {
            for (int64_t p = 0; p < P; p++) xn[p] = x[p] + t * dir[p];
            fn = eval(pb, xn, gn);
            if (isfinite(fn) && fn <= f + ARMIJO * t * dd) {
                ok = 1;
                break;
            }
            t *= 0.5;
        }
        if (!ok) { /* no decrease at machine precision: as good as it gets */
            *converged = maxabs(g, P) <= fmax(tol, 1e-7) * g0;
            break;
        }
        memcpy(x, xn, (size_t)P * sizeof *x);
        memcpy(g, gn, (size_t)P * sizeof *g);
        f = fn;
        *converged = maxabs(g, P) <= tol * g0;
    }
    *n_iter = it > max_iter ? max_iter : it;
    *fout = f;
    assay_free(work);
    return rc;
}

static int lr_fit(assay_estimator *e, const assay_design *ds, assay_error *err) {
    logreg *m = (logreg *)e;
    const assay_matrix *X = &ds->X;
    int64_t n = X->n, d = e->nfeatures;
    int K = e->nclasses;
    int rc;
    if ((rc = assay__matrix_check(X, d, "logreg", err))) return rc;
    if (n < 1) return assay_error_set(err, ASSAY_EINVAL, "logreg: no rows to fit");
    for (int64_t i = 0; i < n; i++) {
        double yi = ds->y[i];
        if (!(yi >= 0 && yi < K && yi == floor(yi)))
            return assay_error_set(err, ASSAY_EINVAL,
                                   "logreg: target of row %lld is %g, expected a class index in "
                                   "0..%d",
                                   (long long)i, yi, K - 1);
    }
    double sumw;
    if ((rc = assay__weights_check(ds->w, n, "logreg", &sumw, err))) return rc;

    problem pb = {0};
    double *s = NULL, *x = NULL;
    if (m->balanced || ds->w) {
        s = assay_mallocarray((size_t)n, sizeof *s);
        if (!s) goto nomem;
        double cw[256], *cwp = K <= 256 ? cw : assay_calloc((size_t)K, sizeof *cwp);
        if (!cwp) goto nomem;
        for (int k = 0; k < K; k++) cwp[k] = 1.0;
        if (m->balanced) {
            /* sklearn's compute_class_weight('balanced'): n / (K * n_c), unweighted counts, K the
             * classes present. */
            int64_t *cnt = assay_calloc((size_t)K, sizeof *cnt);
            if (!cnt) {
                if (cwp != cw) assay_free(cwp);
                goto nomem;
            }
            for (int64_t i = 0; i < n; i++) cnt[(int)ds->y[i]]++;
            int present = 0;
            for (int k = 0; k < K; k++) present += cnt[k] > 0;
            for (int k = 0; k < K; k++)
                cwp[k] = cnt[k] ? (double)n / ((double)present * (double)cnt[k]) : 1.0;
            assay_free(cnt);
        }
        sumw = 0;
        for (int64_t i = 0; i < n; i++) {
            s[i] = (ds->w ? ds->w[i] : 1.0) * cwp[(int)ds->y[i]];
            sumw += s[i];
        }
        if (cwp != cw) assay_free(cwp);
    }
    pb.X = X;
    pb.y = ds->y;
    pb.s = s;
    pb.K1 = m->K1;
    pb.n = n;
    pb.d = d;
    pb.P = (int64_t)m->K1 * d + m->K1;
    pb.fit_intercept = m->fit_intercept;
    pb.scale = 1.0 / sumw;
    double lam = 1.0 / (m->C * sumw);
    pb.l2 = m->penalty == PEN_L2 ? lam : 0;
    pb.l1 = m->penalty == PEN_L1 ? lam : 0;
    /* Fixed blocks: a function of n and P only. */
    int64_t nb = (n + MIN_BLOCK_ROWS - 1) / MIN_BLOCK_ROWS;
    if (nb > MAX_BLOCKS) nb = MAX_BLOCKS;
    int64_t cap = (int64_t)(BLOCK_BYTES / (8.0 * (double)(pb.P + m->K1 + 16)));
    if (nb > cap) nb = cap;
    if (nb < 1) nb = 1;
    pb.brows = (n + nb - 1) / nb;
    pb.nblocks = (n + pb.brows - 1) / pb.brows;
    pb.stride = (pb.P + 1 + m->K1 + 7) / 8 * 8 + 8;
    pb.bgrad = assay_mallocarray((size_t)pb.nblocks * (size_t)pb.stride, sizeof *pb.bgrad);
    x = assay_mallocarray((size_t)pb.P, sizeof *x);
    if (!pb.bgrad || !x) goto nomem;

    double F;
    int use_newton = m->K1 == 1 && X->dense && m->penalty != PEN_L1 && pb.P <= NEWTON_MAX_P &&
                     m->solver != SOLVER_LBFGS;
    rc = use_newton ? newton(&pb, m->tol, m->max_iter, x, &m->n_iter, &m->converged, &F) : 1;
    if (rc == ASSAY_ENOMEM) goto nomem;
    m->newton_used = rc == ASSAY_OK;
    if (rc == 1 && (rc = minimise(&pb, m->tol, m->max_iter, x, &m->n_iter, &m->converged, &F)))
        goto nomem;
    for (int64_t p = 0; p < pb.P; p++)
        if (!isfinite(x[p])) {
            rc = assay_error_set(err, ASSAY_ECONVERGE, "logreg: the solver diverged");
            goto fail;
        }
    memcpy(m->coef, x, (size_t)m->K1 * (size_t)d * sizeof *x);
    memcpy(m->intercept, x + (int64_t)m->K1 * d, (size_t)m->K1 * sizeof *x);
    m->objective = F * m->C * sumw; /* back to sklearn's scale */
    rc = ASSAY_OK;
    goto fail;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "logreg: out of memory (%lld rows x %lld features)",
                         (long long)n, (long long)d);
fail:
    assay_free(s);
    assay_free(x);
    assay_free(pb.bgrad);
    return rc;
}

static int lr_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                      assay_error *err) {
    const logreg *m = (const logreg *)e;
    int rc;
    if ((rc = assay__matrix_check(X, e->nfeatures, "logreg", err))) return rc;
    int64_t n = X->n, d = e->nfeatures;
    int K = e->nclasses, K1 = m->K1;
#pragma omp parallel for schedule(static) if (n > 2048)
    for (int64_t i = 0; i < n; i++) {
        double *o = out + i * K;
        if (K1 == 1) {
            double p = sigmoid(m->intercept[0] + assay__row_dot(X, i, m->coef));
            o[0] = 1.0 - p;
            o[1] = p;
            continue;
        }
        double zmax = -INFINITY;
        for (int k = 0; k < K; k++) {
            o[k] = m->intercept[k] + assay__row_dot(X, i, m->coef + k * d);
            if (o[k] > zmax) zmax = o[k];
        }
        double sum = 0;
        for (int k = 0; k < K; k++) sum += (o[k] = exp(o[k] - zmax));
        for (int k = 0; k < K; k++) o[k] /= sum;
    }
    return ASSAY_OK;
}

static int lr_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                   json_t *meta, assay_error *err) {
    const logreg *m = (const logreg *)e;
    char name[256];
    int64_t shape[2] = {m->K1, e->nfeatures};
    int rc;
    snprintf(name, sizeof name, "%scoef", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_F64, 2, shape, m->coef, err))) return rc;
    snprintf(name, sizeof name, "%sintercept", prefix);
    if ((rc = assay_mfile_writer_add(w, name, ASSAY_F64, 1, shape, m->intercept, err))) return rc;
    if (meta) {
        if (json_object_set_new(meta, "n_iter", json_integer(m->n_iter)) ||
            json_object_set_new(meta, "converged", json_boolean(m->converged)) ||
            json_object_set_new(meta, "solver", json_string(m->newton_used ? "newton"
                                                            : m->penalty == PEN_L1 ? "owlqn"
                                                                                   : "lbfgs")) ||
            json_object_set_new(meta, "objective", json_real(m->objective)))
            return assay_error_set(err, ASSAY_ENOMEM, "logreg: out of memory saving");
    }
    return ASSAY_OK;
}

static int lr_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                   const json_t *meta, assay_error *err) {
    logreg *m = (logreg *)e;
    int64_t shape[2] = {m->K1, e->nfeatures};
    int rc;
    if ((rc = assay__tensor_read_f64(f, prefix, "coef", 2, shape, m->coef, err)) ||
        (rc = assay__tensor_read_f64(f, prefix, "intercept", 1, shape, m->intercept, err)))
        return rc;
    if (meta) {
        json_t *v;
        if ((v = json_object_get(meta, "n_iter")) && json_is_integer(v))
            m->n_iter = (long)json_integer_value(v);
        if ((v = json_object_get(meta, "converged"))) m->converged = json_is_true(v);
        if ((v = json_object_get(meta, "solver"))) m->newton_used = json_is_string(v) && strcmp(json_string_value(v), "newton") == 0;
        if ((v = json_object_get(meta, "objective")) && json_is_number(v))
            m->objective = json_number_value(v);
    }
    return ASSAY_OK;
}

static int lr_coefficients(const assay_estimator *e, double *coef) {
    const logreg *m = (const logreg *)e;
    memcpy(coef, m->coef, sizeof *coef * (size_t)m->K1 * (size_t)e->nfeatures);
    return ASSAY_OK;
}

const assay_estimator_vt assay__logreg_vt = {
    .name = "logreg",
    .summary = "logistic regression (binary or multinomial), l2/l1/none penalty, L-BFGS/OWL-QN",
    .tasks = (1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS),
    .create = lr_create,
    .fit = lr_fit,
    .predict = lr_predict,
    .save = lr_save,
    .load = lr_load,
    .free = lr_free,
    .grid = (const char *const[]){"C=0.1", "C=1", "C=10", NULL},
    .coefficients = lr_coefficients,
    .flags = ASSAY_EST_SPARSE,
};
