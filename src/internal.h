/* internal.h - shared between library files, never installed. */
#ifndef ASSAY_INTERNAL_H
#define ASSAY_INTERNAL_H

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assay/assay.h"

/* Programmer errors only, never bad input. */
#define ASSAY_ASSERT(x) assert(x)

#define ASSAY_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ASSAY_MAX(a, b) ((a) > (b) ? (a) : (b))

/* A number as a label or category: integers without a fraction ("3", not "3.0"), others in
 * the shortest of %.15g..%.17g that reads back exactly. Returns buf. */
static inline const char *assay__format_number(double v, char *buf, size_t cap) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
    }
    return buf;
}

/* Days since 1970-01-01 -> year, month (1-12), day (1-31); data/table.c. */
void assay__civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
