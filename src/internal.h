/* internal.h - shared between library files, never installed. */
#ifndef ASSAY_INTERNAL_H
#define ASSAY_INTERNAL_H

#include <assert.h>
#include <math.h>
#include <string.h>

#include "assay/assay.h"

/* Programmer errors only, never bad input. */
#define ASSAY_ASSERT(x) assert(x)

#define ASSAY_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ASSAY_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
