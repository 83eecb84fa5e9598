/* svg.h - small charts written as inline SVG text: line charts, horizontal and grouped vertical
 * bar charts, and a confusion-matrix heatmap, for a self-contained HTML report.
 *
 * Output is one <svg> element with a viewBox, width="100%" and a max-width, so a chart scales
 * on a phone and prints well. It uses no scripts, no external fonts or images, no ids (many
 * charts can share one HTML page), a colorblind-safe palette (Okabe-Ito) and a sequential blue
 * scale for heatmaps. Every caller string is escaped for XML; numbers are formatted without
 * the C locale's help, so output never contains "nan", "inf" or a locale's decimal comma, and
 * the same input always gives the same bytes.
 *
 * It deliberately does not: draw log axes, dates, pie charts, interactivity or animation, or
 * measure text exactly (widths are estimated from code-point counts; long labels are cut with
 * an ellipsis and the full text is kept in a <title> tooltip where there is one).
 *
 * Every function appends to out and returns ASSAY_OK, ASSAY_EINVAL (a NULL pointer where data
 * is needed, a negative count) or ASSAY_ENOMEM; on failure out is restored to its old length. */
#ifndef ASSAY_SVG_H
#define ASSAY_SVG_H

#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ticks ------------------------------------------------------------------------------- */

/* Tick values with a 1-2-5 step (about 5 ticks) for the range [lo, hi]. fixed: the range is
 * kept and only ticks inside it are returned; otherwise the range grows to whole steps. A
 * zero-width or inverted range is widened first. Writes at most cap ticks and the final range
 * to *out_lo, *out_hi (either may be NULL); returns the number of ticks. Non-finite lo or hi
 * count as the range [0, 1]. */
int assay_svg_nice_ticks(double lo, double hi, int fixed, double *ticks, int cap, double *out_lo,
                         double *out_hi);

/* ---- line chart -------------------------------------------------------------------------- */

typedef struct assay_svg_series {
    const char *name;    /* legend text; NULL or "" leaves the series out of the legend */
    const double *x, *y; /* n points each; a non-finite x or y breaks the line there */
    int n;
    int markers;         /* 1: a circle at every point (isolated points always get one) */
    int dashed;          /* 1: dashed line */
} assay_svg_series;

enum assay_svg_ref_kind {
    ASSAY_SVG_REF_DIAGONAL = 0, /* y = x (value unused) */
    ASSAY_SVG_REF_HLINE = 1,    /* y = value */
    ASSAY_SVG_REF_VLINE = 2     /* x = value */
};

typedef struct assay_svg_refline {
    int kind;          /* enum assay_svg_ref_kind */
    double value;
    const char *label; /* drawn beside the line; may be NULL */
} assay_svg_refline;

typedef struct assay_svg_line_opts {
    int width, height;                 /* viewBox size; 0 means 640 x 400 */
    const char *title, *x_label, *y_label; /* each may be NULL */
    int x_fixed, y_fixed;              /* 1: use [x_min, x_max] / [y_min, y_max] as given */
    double x_min, x_max, y_min, y_max; /* otherwise ranges come from the data, rounded out */
    const assay_svg_refline *refs;     /* nrefs reference lines, drawn under the series */
    int nrefs;
} assay_svg_line_opts;

/* Series i gets palette color i (mod 8; dashed past the 8th). Elements: 2 <rect> (background,
 * plot frame), one <path> per series with at least one finite point, a <circle> per marker. */
int assay_svg_line_chart(assay_buf *out, const assay_svg_line_opts *o, const assay_svg_series *s,
                         int nseries);

/* ---- bar charts -------------------------------------------------------------------------- */

typedef struct assay_svg_bar_opts {
    int width, height;   /* viewBox size; 0 means 640 wide and, for horizontal bars, a height
                          * from the number of bars (else 400) */
    const char *title, *x_label, *y_label; /* each may be NULL */
    int fixed;           /* 1: the value axis is [min, max] as given */
    double min, max;
} assay_svg_bar_opts;

/* Horizontal bars, one per label, top to bottom in the given order (sort first for a "top 20").
 * Negative values extend left of a zero line and use a second color. errors (may be NULL): a
 * half-width per bar (e.g. a standard deviation) drawn as an error bar; non-finite = none.
 * A non-finite value draws no bar. Elements: 2 + (finite bars) <rect>. */
int assay_svg_hbar_chart(assay_buf *out, const assay_svg_bar_opts *o, const char *const *labels,
                         const double *values, const double *errors, int n);

/* Vertical grouped bars: ncat categories along x, ngroups bars in each, group g in palette
 * color g. values (ngroups, ncat) row-major: values[g * ncat + c]. group_names (may be NULL)
 * make a legend. Elements: 2 + (finite values) <rect>. */
int assay_svg_vbar_chart(assay_buf *out, const assay_svg_bar_opts *o,
                         const char *const *categories, int ncat, const char *const *group_names,
                         const double *values, int ngroups);

/* ---- confusion-matrix heatmap ------------------------------------------------------------ */

typedef struct assay_svg_heatmap_opts {
    int cell;                    /* cell size in px; 0 picks one from K */
    const char *title;           /* may be NULL */
    const char *x_label, *y_label; /* NULL means "predicted" and "true" */
    int color_by_count;          /* 0: color is the share of the row (recall view, readable for
                                  * imbalanced classes); 1: count / largest count */
} assay_svg_heatmap_opts;

/* counts (K, K) row-major, row = true class, column = predicted. labels (may be NULL: class
 * indices) name the classes. Each cell shows its count and has a tooltip; a 9-step color key
 * sits on the right. Elements: 1 + K*K + 9 <rect>, K*K + 2K + 4 (+1 with a title) <text>. */
int assay_svg_confusion(assay_buf *out, const assay_svg_heatmap_opts *o, const int64_t *counts,
                        const char *const *labels, int K);

#ifdef __cplusplus
}
#endif
#endif
