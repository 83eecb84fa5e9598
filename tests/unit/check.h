/* check.h - the unit-test harness: CHECK macros that count and report, one main per file.
 *
 *   static void test_x(void) { CHECK(1 + 1 == 2); CHECK_NEAR(a, b, 1e-9); }
 *   int main(void) { RUN(test_x); return check_summary(); }
 *
 * A failed check prints file:line and the expression and the run goes on; check_summary()
 * prints "N passed, N failed" and returns non-zero if anything failed. */
#ifndef ASSAY_CHECK_H
#define ASSAY_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            check_pass_++;                                                           \
        } else {                                                                     \
            check_fail_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (cond) {                                                                  \
            check_pass_++;                                                           \
        } else {                                                                     \
            check_fail_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                 \
    do {                                                                                      \
        double check_a_ = (double)(a), check_b_ = (double)(b);                                \
        if (fabs(check_a_ - check_b_) <= (tol) || (isnan(check_a_) && isnan(check_b_))) {   \
            check_pass_++;                                                                    \
        } else {                                                                              \
            check_fail_++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g, tol %g\n",    \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol));           \
        }                                                                                     \
    } while (0)

#define CHECK_STR(a, b) CHECK_MSG(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))
/* An assay call that must succeed: prints the error message otherwise. */
#define CHECK_OK(call, errp) CHECK_MSG((call) == 0, "%s", (errp)->msg)

#define RUN(fn)                                   \
    do {                                          \
        int check_before_ = check_fail_;          \
        fn();                                     \
        fprintf(stderr, "%s %s\n", check_fail_ == check_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

static inline int check_summary(void) {
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
