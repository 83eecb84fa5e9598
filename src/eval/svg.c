/* svg.c - line charts, bar charts and confusion-matrix heatmaps as inline SVG text (svg.h).
 *
 * Everything is written through one small writer that remembers the first error, so drawing
 * code reads straight through. Numbers never go through printf's %f/%g directly: coordinates
 * are rounded to 1/100 px and printed from integers, tick labels use %.Ng with the decimal
 * separator forced to '.', so the output does not depend on the locale and never holds "nan".
 * Points outside the plot are clipped by a nested <svg> viewport (overflow hidden), which needs
 * no id, so many charts can live in one HTML page.
 *
 * It does not measure text: widths are estimated as 0.6 em per code point. */
#include <stdarg.h>
#include <stdint.h>

#include "../internal.h"
#include "assay/svg.h"

/* Okabe & Ito (2008), "Color universal design": distinguishable with every common color-vision
 * deficiency. Yellow is last: it has poor contrast on white. */
static const char *const palette[8] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                       "#CC79A7", "#56B4E9", "#000000", "#F0E442"};

/* ColorBrewer "Blues" (9 classes, Brewer 2003): a sequential, colorblind-safe scale. */
static const unsigned char blues[9][3] = {
    {0xf7, 0xfb, 0xff}, {0xde, 0xeb, 0xf7}, {0xc6, 0xdb, 0xef}, {0x9e, 0xca, 0xe1}, {0x6b, 0xae, 0xd6},
    {0x42, 0x92, 0xc6}, {0x21, 0x71, 0xb5}, {0x08, 0x51, 0x9c}, {0x08, 0x30, 0x6b}};

#define FONT 12      /* px, the base font size */
#define CHAR_W 7.2   /* estimated width of one character at FONT px (0.6 em) */
#define MAXTICKS 64

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct svgw {
    assay_buf *b;
    int err;
} svgw;

/* Formats contain only %s, %d and literal text: numbers come pre-formatted (see C and N). */
__attribute__((format(printf, 2, 3))) static void wf(svgw *w, const char *fmt, ...) {
    if (w->err) return;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->err = ASSAY_EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        if (assay_buf_append(w->b, small, (size_t)n)) w->err = ASSAY_ENOMEM;
        return;
    }
    if (assay_buf_reserve(w->b, (size_t)n)) {
        w->err = ASSAY_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(w->b->data + w->b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->b->len += (size_t)n;
}

static void wraw(svgw *w, const char *s, size_t n) {
    if (!w->err && assay_buf_append(w->b, s, n)) w->err = ASSAY_ENOMEM;
}

/* Code points in s (continuation bytes not counted). */
static int cp_len(const char *s) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += (*p & 0xC0) != 0x80;
    return n;
}

/* s escaped for XML text and attribute values, cut to maxcp code points (0: no limit) with an
 * ellipsis. Control characters, which XML 1.0 forbids, become '?'. */
static void wesc(svgw *w, const char *s, int maxcp) {
    if (!s) return;
    int cut = maxcp > 0 && cp_len(s) > maxcp;
    int cps = 0;
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c & 0xC0) != 0x80) {
            if (cut && cps == maxcp - 1) {
                wraw(w, run, (size_t)(p - run));
                wraw(w, "\xe2\x80\xa6", 3); /* U+2026 HORIZONTAL ELLIPSIS */
                return;
            }
            cps++;
        }
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (c < 0x20 || c == 0x7f) rep = "?";
        }
        if (rep) {
            wraw(w, run, (size_t)(p - run));
            wraw(w, rep, strlen(rep));
            run = p + 1;
        }
    }
    wraw(w, run, strlen(run));
}

typedef struct numstr {
    char s[40];
} numstr;

/* A coordinate: rounded to 0.01, clamped to +-1e6 (far outside any viewBox, so clipped), printed
 * from integers: locale-free, no "-0", trailing zeros dropped. Non-finite gives 0. */
static numstr C(double v) {
    numstr r;
    if (!isfinite(v)) v = 0;
    if (v > 1e6) v = 1e6;
    if (v < -1e6) v = -1e6;
    long long k = llround(v * 100);
    long long a = k < 0 ? -k : k;
    long long ip = a / 100, fp = a % 100;
    const char *sign = k < 0 ? "-" : "";
    if (fp == 0) snprintf(r.s, sizeof r.s, "%s%lld", sign, ip);
    else if (fp % 10 == 0) snprintf(r.s, sizeof r.s, "%s%lld.%lld", sign, ip, fp / 10);
    else snprintf(r.s, sizeof r.s, "%s%lld.%02lld", sign, ip, fp);
    return r;
}

/* A label number: "%.{prec}g" with the decimal separator forced to '.' whatever the locale
 * (a multi-byte separator collapses to one '.'); 0 and -0 print as "0"; non-finite as "n/a". */
static numstr N(double v, int prec) {
    numstr r;
    if (!isfinite(v)) {
        snprintf(r.s, sizeof r.s, "n/a");
        return r;
    }
    if (v == 0) {
        snprintf(r.s, sizeof r.s, "0");
        return r;
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    size_t j = 0;
    int in_sep = 0;
    for (size_t i = 0; tmp[i] && j + 1 < sizeof r.s; i++) {
        char c = tmp[i];
        if ((c >= '0' && c <= '9') || c == 'e' || c == 'E' || c == '+' || c == '-') {
            r.s[j++] = c;
            in_sep = 0;
        } else if (!in_sep) {
            r.s[j++] = '.';
            in_sep = 1;
        }
    }
    r.s[j] = '\0';
    return r;
}

/* ---- ticks ----------------------------------------------------------------------------------- */

static double nice_step(double range) {
    double rough = range / 5;
    double mag = pow(10, floor(log10(rough)));
    double norm = rough / mag;
    double f = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    return f * mag;
}

int assay_svg_nice_ticks(double lo, double hi, int fixed, double *ticks, int cap, double *out_lo,
                         double *out_hi) {
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    /* keep the arithmetic finite: ranges near DBL_MAX would overflow hi - lo */
    if (lo < -1e300) lo = -1e300;
    if (hi > 1e300) hi = 1e300;
    if (hi - lo <= fabs(lo) * 1e-12 || hi - lo < 1e-300) {
        double d = fabs(lo) > 1e-300 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    double step = nice_step(hi - lo);
    double klo = ceil(lo / step - 1e-9), khi = floor(hi / step + 1e-9);
    if (!fixed) {
        klo = floor(lo / step + 1e-9);
        khi = ceil(hi / step - 1e-9);
        lo = klo * step;
        hi = khi * step;
    }
    int n = 0;
    for (double k = klo; k <= khi && n < cap; k++) ticks[n++] = k * step;
    if (out_lo) *out_lo = lo;
    if (out_hi) *out_hi = hi;
    return n;
}

/* The smallest precision (4..12) at which neighbouring tick labels differ. */
static int tick_prec(const double *t, int n) {
    for (int prec = 4; prec < 12; prec++) {
        int ok = 1;
        for (int i = 1; i < n && ok; i++) ok = strcmp(N(t[i - 1], prec).s, N(t[i], prec).s) != 0;
        if (ok) return prec;
    }
    return 12;
}

/* ---- axes and frame -------------------------------------------------------------------------- */

typedef struct axis {
    double lo, hi;       /* data range */
    double p0, p1;       /* pixel positions of lo and hi */
    double t[MAXTICKS];
    int nt, prec;
} axis;

static void axis_init(axis *a, double lo, double hi, int fixed) {
    a->nt = assay_svg_nice_ticks(lo, hi, fixed, a->t, MAXTICKS, &a->lo, &a->hi);
    a->prec = tick_prec(a->t, a->nt);
}

static double amap(const axis *a, double v) {
    return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Widest tick label, in characters. */
static int axis_label_chars(const axis *a) {
    int m = 1;
    for (int i = 0; i < a->nt; i++) m = ASSAY_MAX(m, (int)strlen(N(a->t[i], a->prec).s));
    return m;
}

typedef struct box {
    double x, y, w, h;
} box;

static void svg_open(svgw *w, double W, double H, const char *title) {
    wf(w,
       "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %s %s\" width=\"100%%\" "
       "style=\"max-width:%spx;height:auto\" role=\"img\" font-family=\"system-ui, -apple-system, "
       "'Segoe UI', Roboto, sans-serif\" font-size=\"%d\"",
       C(W).s, C(H).s, C(W).s, FONT);
    if (title && *title) {
        wf(w, " aria-label=\"");
        wesc(w, title, 0);
        wf(w, "\"");
    }
    wf(w, ">\n");
    wf(w, "<rect width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n", C(W).s, C(H).s);
    if (title && *title) {
        wf(w, "<text x=\"%s\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"600\" "
              "fill=\"#222222\">",
           C(W / 2).s);
        wesc(w, title, 0);
        wf(w, "</text>\n");
    }
}

/* Grid lines and tick labels for the axes given (either may be NULL), the plot frame, and the
 * axis titles. The frame is the <rect> with class "plot". */
static void draw_axes(svgw *w, box p, const axis *ax, const axis *ay, const char *xl,
                      const char *yl, double W, double H) {
    (void)W;
    wf(w, "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    if (ax)
        for (int i = 0; i < ax->nt; i++) {
            numstr x = C(amap(ax, ax->t[i]));
            wf(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", x.s, C(p.y).s, x.s,
               C(p.y + p.h).s);
        }
    if (ay)
        for (int i = 0; i < ay->nt; i++) {
            numstr y = C(amap(ay, ay->t[i]));
            wf(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", C(p.x).s, y.s,
               C(p.x + p.w).s, y.s);
        }
    wf(w, "</g>\n");
    wf(w, "<rect class=\"plot\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" "
          "stroke=\"#888888\" stroke-width=\"1\"/>\n",
       C(p.x).s, C(p.y).s, C(p.w).s, C(p.h).s);
    wf(w, "<g fill=\"#444444\">\n");
    if (ax)
        for (int i = 0; i < ax->nt; i++)
            wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n",
               C(amap(ax, ax->t[i])).s, C(p.y + p.h + 16).s, N(ax->t[i], ax->prec).s);
    if (ay)
        for (int i = 0; i < ay->nt; i++)
            wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>\n", C(p.x - 6).s,
               C(amap(ay, ay->t[i]) + 4).s, N(ay->t[i], ay->prec).s);
    wf(w, "</g>\n");
    if (xl && *xl) {
        wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#222222\">",
           C(p.x + p.w / 2).s, C(H - 10).s);
        wesc(w, xl, 0);
        wf(w, "</text>\n");
    }
    if (yl && *yl) {
        numstr cy = C(p.y + p.h / 2);
        wf(w, "<text x=\"16\" y=\"%s\" transform=\"rotate(-90 16 %s)\" text-anchor=\"middle\" "
              "fill=\"#222222\">",
           cy.s, cy.s);
        wesc(w, yl, 0);
        wf(w, "</text>\n");
    }
}

/* A nested viewport the size of the plot, with the outer coordinates: clips what is drawn
 * inside it without needing a clipPath id. */
static void clip_open(svgw *w, box p) {
    wf(w, "<svg x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" viewBox=\"%s %s %s %s\" "
          "overflow=\"hidden\">\n",
       C(p.x).s, C(p.y).s, C(p.w).s, C(p.h).s, C(p.x).s, C(p.y).s, C(p.w).s, C(p.h).s);
}

#define LEGEND_CHARS 24

/* Legend width in px for the given names (0 when none is named). */
static double legend_width(const char *const *names, int n, size_t stride) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)names + (size_t)i * stride);
        if (s && *s) m = ASSAY_MAX(m, ASSAY_MIN(cp_len(s), LEGEND_CHARS));
    }
    return m ? 36 + m * CHAR_W : 0;
}

static const char *dash_of(int i, int dashed) {
    return dashed || i >= 8 ? " stroke-dasharray=\"6 4\"" : "";
}

/* One legend row at (x, y): a swatch (a line, or a square for bars) and the name. */
static void legend_item(svgw *w, double x, double y, int i, const char *name, int bar, int dashed,
                        int marker) {
    const char *col = palette[i % 8];
    if (bar) {
        wf(w, "<path d=\"M%s %sh12v12h-12z\" fill=\"%s\"/>\n", C(x + 4).s, C(y - 6).s, col);
    } else {
        wf(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
           C(x).s, C(y).s, C(x + 20).s, C(y).s, col, dash_of(i, dashed));
        if (marker)
            wf(w, "<circle cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"/>\n", C(x + 10).s, C(y).s, col);
    }
    wf(w, "<text x=\"%s\" y=\"%s\" fill=\"#222222\">", C(x + 26).s, C(y + 4).s);
    wesc(w, name, LEGEND_CHARS);
    wf(w, "</text>\n");
}

/* Finish: close the root element, report the first error and roll back on failure. */
static int svg_close(svgw *w, size_t len0) {
    wf(w, "</svg>\n");
    if (w->err) {
        w->b->len = len0;
        if (w->b->data) w->b->data[len0] = '\0';
    }
    return w->err;
}

/* ---- line chart ------------------------------------------------------------------------------ */

int assay_svg_line_chart(assay_buf *out, const assay_svg_line_opts *o, const assay_svg_series *s,
                         int nseries) {
    if (!out || !o || nseries < 0 || (nseries > 0 && !s) || o->nrefs < 0 || (o->nrefs && !o->refs))
        return ASSAY_EINVAL;
    for (int i = 0; i < nseries; i++)
        if (s[i].n < 0 || (s[i].n > 0 && (!s[i].x || !s[i].y))) return ASSAY_EINVAL;
    svgw w0 = {out, ASSAY_OK}, *w = &w0;
    size_t len0 = out->len;
    double W = o->width > 0 ? o->width : 640, H = o->height > 0 ? o->height : 400;

    /* data ranges from finite points and reference lines */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < nseries; i++)
        for (int j = 0; j < s[i].n; j++) {
            double x = s[i].x[j], y = s[i].y[j];
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x), ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    for (int r = 0; r < o->nrefs; r++) {
        double v = o->refs[r].value;
        if (!isfinite(v)) continue;
        if (o->refs[r].kind == ASSAY_SVG_REF_HLINE) ylo = fmin(ylo, v), yhi = fmax(yhi, v);
        if (o->refs[r].kind == ASSAY_SVG_REF_VLINE) xlo = fmin(xlo, v), xhi = fmax(xhi, v);
    }
    if (xlo > xhi) xlo = 0, xhi = 1;
    if (ylo > yhi) ylo = 0, yhi = 1;
    axis ax, ay;
    axis_init(&ax, o->x_fixed ? o->x_min : xlo, o->x_fixed ? o->x_max : xhi, o->x_fixed);
    axis_init(&ay, o->y_fixed ? o->y_min : ylo, o->y_fixed ? o->y_max : yhi, o->y_fixed);

    /* layout */
    int has_title = o->title && *o->title, has_yl = o->y_label && *o->y_label;
    int has_xl = o->x_label && *o->x_label;
    double lw = nseries ? legend_width(&s[0].name, nseries, sizeof s[0]) : 0;
    box p;
    p.x = (has_yl ? 28 : 8) + axis_label_chars(&ay) * CHAR_W + 8;
    p.y = has_title ? 38 : 14;
    p.w = W - p.x - 16 - lw;
    p.h = H - p.y - (has_xl ? 46 : 28);
    if (p.w < 20) p.w = 20;
    if (p.h < 20) p.h = 20;
    ax.p0 = p.x, ax.p1 = p.x + p.w;
    ay.p0 = p.y + p.h, ay.p1 = p.y;

    svg_open(w, W, H, o->title);
    draw_axes(w, p, &ax, &ay, o->x_label, o->y_label, W, H);

    clip_open(w, p);
    for (int r = 0; r < o->nrefs; r++) {
        const assay_svg_refline *rf = &o->refs[r];
        double x1, y1, x2, y2;
        if (rf->kind == ASSAY_SVG_REF_DIAGONAL) {
            double a = fmin(ax.lo, ay.lo), b = fmax(ax.hi, ay.hi);
            x1 = amap(&ax, a), y1 = amap(&ay, a), x2 = amap(&ax, b), y2 = amap(&ay, b);
        } else if (rf->kind == ASSAY_SVG_REF_HLINE && isfinite(rf->value)) {
            x1 = p.x, x2 = p.x + p.w, y1 = y2 = amap(&ay, rf->value);
        } else if (rf->kind == ASSAY_SVG_REF_VLINE && isfinite(rf->value)) {
            y1 = p.y, y2 = p.y + p.h, x1 = x2 = amap(&ax, rf->value);
        } else {
            continue;
        }
        wf(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#777777\" stroke-width=\"1.2\" "
              "stroke-dasharray=\"4 3\"/>\n",
           C(x1).s, C(y1).s, C(x2).s, C(y2).s);
    }
    for (int i = 0; i < nseries; i++) {
        const assay_svg_series *si = &s[i];
        const char *col = palette[i % 8];
        int any = 0;
        for (int j = 0; j < si->n && !any; j++) any = isfinite(si->x[j]) && isfinite(si->y[j]);
        if (!any) continue;
        wf(w, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"%s d=\"",
           col, dash_of(i, si->dashed));
        int pen = 0;
        for (int j = 0; j < si->n; j++) {
            double x = si->x[j], y = si->y[j];
            if (!isfinite(x) || !isfinite(y)) {
                pen = 0;
                continue;
            }
            wf(w, "%s%s %s", pen ? " L" : (j ? " M" : "M"), C(amap(&ax, x)).s, C(amap(&ay, y)).s);
            pen = 1;
        }
        wf(w, "\"/>\n");
        /* markers: every point when asked, else the isolated ones a path would not show */
        for (int j = 0; j < si->n; j++) {
            double x = si->x[j], y = si->y[j];
            if (!isfinite(x) || !isfinite(y)) continue;
            int prev = j > 0 && isfinite(si->x[j - 1]) && isfinite(si->y[j - 1]);
            int next = j + 1 < si->n && isfinite(si->x[j + 1]) && isfinite(si->y[j + 1]);
            if (si->markers || (!prev && !next))
                wf(w, "<circle cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\"/>\n", C(amap(&ax, x)).s,
                   C(amap(&ay, y)).s, col);
        }
    }
    wf(w, "</svg>\n");

    /* reference labels, outside the clip so they stay whole */
    for (int r = 0; r < o->nrefs; r++) {
        const assay_svg_refline *rf = &o->refs[r];
        if (!rf->label || !*rf->label) continue;
        double tx, ty;
        const char *anchor = "end";
        if (rf->kind == ASSAY_SVG_REF_HLINE) {
            if (!(rf->value >= ay.lo && rf->value <= ay.hi)) continue;
            tx = p.x + p.w - 4, ty = amap(&ay, rf->value) - 4;
        } else if (rf->kind == ASSAY_SVG_REF_VLINE) {
            if (!(rf->value >= ax.lo && rf->value <= ax.hi)) continue;
            tx = amap(&ax, rf->value) + 4, ty = p.y + 14, anchor = "start";
        } else {
            tx = p.x + p.w - 4, ty = p.y + p.h - 6;
        }
        wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" fill=\"#555555\" font-size=\"11\">",
           C(tx).s, C(ty).s, anchor);
        wesc(w, rf->label, 0);
        wf(w, "</text>\n");
    }

    if (lw > 0) {
        double lx = p.x + p.w + 12, ly = p.y + 8;
        for (int i = 0; i < nseries; i++) {
            if (!s[i].name || !*s[i].name) continue;
            legend_item(w, lx, ly, i, s[i].name, 0, s[i].dashed, s[i].markers);
            ly += 18;
        }
    }
    return svg_close(w, len0);
}

/* ---- bar charts ------------------------------------------------------------------------------ */

static const char *label_or_index(const char *const *labels, int i, char *buf, size_t cap) {
    if (labels && labels[i]) return labels[i];
    snprintf(buf, cap, "%d", i);
    return buf;
}

#define BAR_LABEL_CHARS 32

int assay_svg_hbar_chart(assay_buf *out, const assay_svg_bar_opts *o, const char *const *labels,
                         const double *values, const double *errors, int n) {
    if (!out || !o || n < 0 || (n > 0 && !values)) return ASSAY_EINVAL;
    svgw w0 = {out, ASSAY_OK}, *w = &w0;
    size_t len0 = out->len;
    const double row = 22;
    int has_title = o->title && *o->title, has_xl = o->x_label && *o->x_label;
    int has_yl = o->y_label && *o->y_label;
    double top = has_title ? 38 : 14, bottom = has_xl ? 46 : 28;
    double W = o->width > 0 ? o->width : 640;
    double H = o->height > 0 ? o->height : top + bottom + row * (n > 0 ? n : 1) + 8;

    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++) {
        double v = values[i], e = errors && isfinite(errors[i]) ? fabs(errors[i]) : 0;
        if (!isfinite(v)) continue;
        lo = fmin(lo, v - e), hi = fmax(hi, v + e);
    }
    if (lo == hi) hi = 1;
    axis ax;
    axis_init(&ax, o->fixed ? o->min : lo, o->fixed ? o->max : hi, o->fixed);

    int lchars = 1;
    char nb[24];
    for (int i = 0; i < n; i++)
        lchars = ASSAY_MAX(lchars, ASSAY_MIN(BAR_LABEL_CHARS, cp_len(label_or_index(labels, i, nb, sizeof nb))));
    box p;
    p.x = (has_yl ? 28 : 8) + lchars * CHAR_W + 8;
    p.y = top;
    p.w = W - p.x - 20;
    p.h = H - top - bottom;
    if (p.w < 20) p.w = 20;
    if (p.h < 20) p.h = 20;
    ax.p0 = p.x, ax.p1 = p.x + p.w;
    double band = n > 0 ? p.h / n : p.h, bh = band * 0.7;

    svg_open(w, W, H, o->title);
    draw_axes(w, p, &ax, NULL, o->x_label, o->y_label, W, H);
    /* category labels */
    wf(w, "<g fill=\"#222222\" text-anchor=\"end\">\n");
    for (int i = 0; i < n; i++) {
        const char *lab = label_or_index(labels, i, nb, sizeof nb);
        wf(w, "<text x=\"%s\" y=\"%s\">", C(p.x - 6).s, C(p.y + band * (i + 0.5) + 4).s);
        wesc(w, lab, BAR_LABEL_CHARS);
        if (cp_len(lab) > BAR_LABEL_CHARS) {
            wf(w, "<title>");
            wesc(w, lab, 0);
            wf(w, "</title>");
        }
        wf(w, "</text>\n");
    }
    wf(w, "</g>\n");

    clip_open(w, p);
    for (int i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v)) continue;
        double x0 = amap(&ax, fmin(0, v)), x1 = amap(&ax, fmax(0, v));
        double y = p.y + band * i + (band - bh) / 2;
        wf(w, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"><title>",
           C(x0).s, C(y).s, C(x1 - x0).s, C(bh).s, v < 0 ? palette[3] : palette[0]);
        wesc(w, label_or_index(labels, i, nb, sizeof nb), 0);
        wf(w, ": %s", N(v, 4).s);
        if (errors && isfinite(errors[i])) wf(w, " \xc2\xb1 %s", N(fabs(errors[i]), 3).s);
        wf(w, "</title></rect>\n");
    }
    if (ax.lo <= 0 && ax.hi >= 0) {
        numstr z = C(amap(&ax, 0));
        wf(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
           z.s, C(p.y).s, z.s, C(p.y + p.h).s);
    }
    if (errors)
        for (int i = 0; i < n; i++) {
            double v = values[i], e = fabs(errors[i]);
            if (!isfinite(v) || !isfinite(errors[i])) continue;
            double xa = amap(&ax, v - e), xb = amap(&ax, v + e), yc = p.y + band * (i + 0.5);
            double c = fmin(bh * 0.35, 5);
            wf(w, "<path d=\"M%s %sH%sM%s %sV%sM%s %sV%s\" stroke=\"#222222\" stroke-width=\"1.2\" "
                  "fill=\"none\"/>\n",
               C(xa).s, C(yc).s, C(xb).s, C(xa).s, C(yc - c).s, C(yc + c).s, C(xb).s, C(yc - c).s,
               C(yc + c).s);
        }
    wf(w, "</svg>\n");
    return svg_close(w, len0);
}

int assay_svg_vbar_chart(assay_buf *out, const assay_svg_bar_opts *o,
                         const char *const *categories, int ncat, const char *const *group_names,
                         const double *values, int ngroups) {
    if (!out || !o || ncat < 0 || ngroups < 0 || (ncat > 0 && ngroups > 0 && !values))
        return ASSAY_EINVAL;
    svgw w0 = {out, ASSAY_OK}, *w = &w0;
    size_t len0 = out->len;
    int has_title = o->title && *o->title, has_xl = o->x_label && *o->x_label;
    int has_yl = o->y_label && *o->y_label;
    double W = o->width > 0 ? o->width : 640, H = o->height > 0 ? o->height : 400;

    double lo = 0, hi = 0;
    for (int i = 0; i < ncat * ngroups; i++)
        if (isfinite(values[i])) lo = fmin(lo, values[i]), hi = fmax(hi, values[i]);
    if (lo == hi) hi = 1;
    axis ay;
    axis_init(&ay, o->fixed ? o->min : lo, o->fixed ? o->max : hi, o->fixed);
    double lw = group_names && ngroups > 0 ? legend_width(group_names, ngroups, sizeof *group_names) : 0;

    box p;
    p.x = (has_yl ? 28 : 8) + axis_label_chars(&ay) * CHAR_W + 8;
    p.y = has_title ? 38 : 14;
    p.w = W - p.x - 16 - lw;
    p.h = H - p.y - (has_xl ? 46 : 28);
    if (p.w < 20) p.w = 20;
    if (p.h < 20) p.h = 20;
    ay.p0 = p.y + p.h, ay.p1 = p.y;
    double band = ncat > 0 ? p.w / ncat : p.w;
    double bw = ngroups > 0 ? band * 0.8 / ngroups : 0;

    svg_open(w, W, H, o->title);
    draw_axes(w, p, NULL, &ay, o->x_label, o->y_label, W, H);
    int maxc = ASSAY_MAX(2, (int)(band / CHAR_W));
    char nb[24];
    wf(w, "<g fill=\"#444444\" text-anchor=\"middle\">\n");
    for (int c = 0; c < ncat; c++) {
        wf(w, "<text x=\"%s\" y=\"%s\">", C(p.x + band * (c + 0.5)).s, C(p.y + p.h + 16).s);
        wesc(w, label_or_index(categories, c, nb, sizeof nb), maxc);
        wf(w, "</text>\n");
    }
    wf(w, "</g>\n");

    clip_open(w, p);
    for (int g = 0; g < ngroups; g++)
        for (int c = 0; c < ncat; c++) {
            double v = values[(size_t)g * (size_t)ncat + (size_t)c];
            if (!isfinite(v)) continue;
            double y0 = amap(&ay, fmax(0, v)), y1 = amap(&ay, fmin(0, v));
            double x = p.x + band * c + band * 0.1 + bw * g;
            wf(w, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"><title>",
               C(x).s, C(y0).s, C(bw * 0.92).s, C(y1 - y0).s, palette[g % 8]);
            wesc(w, label_or_index(categories, c, nb, sizeof nb), 0);
            if (group_names && group_names[g]) {
                wf(w, ", ");
                wesc(w, group_names[g], 0);
            }
            wf(w, ": %s</title></rect>\n", N(v, 4).s);
        }
    if (ay.lo < 0 && ay.hi > 0) {
        numstr z = C(amap(&ay, 0));
        wf(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
           C(p.x).s, z.s, C(p.x + p.w).s, z.s);
    }
    wf(w, "</svg>\n");
    if (lw > 0) {
        double lx = p.x + p.w + 12, ly = p.y + 8;
        for (int g = 0; g < ngroups; g++) {
            if (!group_names[g] || !*group_names[g]) continue;
            legend_item(w, lx, ly, g, group_names[g], 1, 0, 0);
            ly += 18;
        }
    }
    return svg_close(w, len0);
}

/* ---- confusion-matrix heatmap ---------------------------------------------------------------- */

/* t in [0, 1] -> "#rrggbb" on the Blues scale, linearly between its 9 steps. */
static void blues_at(double t, char out[8]) {
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double f = t * 8;
    int i = (int)f;
    if (i > 7) i = 7;
    double u = f - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(blues[i][k] + (blues[i + 1][k] - blues[i][k]) * u);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* A count in at most 4-5 characters: 987, 9876, 12k, 1.2M. */
static numstr compact_count(int64_t v) {
    numstr r;
    int64_t a = v < 0 ? -v : v;
    if (a < 10000) snprintf(r.s, sizeof r.s, "%lld", (long long)v);
    else if (a < 1000000) snprintf(r.s, sizeof r.s, "%sk", N((double)v / 1e3, 3).s);
    else if (a < 1000000000) snprintf(r.s, sizeof r.s, "%sM", N((double)v / 1e6, 3).s);
    else snprintf(r.s, sizeof r.s, "%sG", N((double)v / 1e9, 3).s);
    return r;
}

/* A share in [0, 1] as a percentage with one decimal, from integers. */
static numstr pct(double f) {
    numstr r;
    long long k = isfinite(f) ? llround(f * 1000) : 0;
    snprintf(r.s, sizeof r.s, "%lld.%lld%%", k / 10, k % 10);
    return r;
}

#define HEAT_LABEL_CHARS 16

int assay_svg_confusion(assay_buf *out, const assay_svg_heatmap_opts *o, const int64_t *counts,
                        const char *const *labels, int K) {
    if (!out || !o || K < 0 || (K > 0 && !counts)) return ASSAY_EINVAL;
    svgw w0 = {out, ASSAY_OK}, *w = &w0;
    size_t len0 = out->len;
    double cell = o->cell > 0 ? o->cell : K <= 4 ? 72 : K <= 8 ? 52 : K <= 14 ? 38 : 30;
    int fs = (int)ASSAY_MAX(8, ASSAY_MIN(14, cell * 0.3));
    const char *xl = o->x_label ? o->x_label : "predicted";
    const char *yl = o->y_label ? o->y_label : "true";
    int has_title = o->title && *o->title;
    char nb[24];

    int lchars = 1;
    for (int k = 0; k < K; k++)
        lchars = ASSAY_MAX(lchars, ASSAY_MIN(HEAT_LABEL_CHARS, cp_len(label_or_index(labels, k, nb, sizeof nb))));
    double lab_w = lchars * CHAR_W;
    /* column labels are rotated -45 degrees so long names fit over narrow cells */
    double col_h = lab_w * 0.72 + 14;
    box p;
    p.x = 28 + lab_w + 8;
    p.y = (has_title ? 38 : 12) + 18 + col_h;
    p.w = p.h = cell * K;
    double key_w = 96;
    double W = p.x + p.w + key_w, H = p.y + p.h + 16;
    if (H < p.y + 9 * 14 + 16) H = p.y + 9 * 14 + 16;

    int64_t maxc = 0;
    for (int i = 0; i < K * K; i++) maxc = ASSAY_MAX(maxc, counts[i]);

    svg_open(w, W, H, o->title);
    /* axis titles: "predicted" above the columns, "true" left of the rows */
    wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#222222\" font-weight=\"600\">",
       C(p.x + p.w / 2).s, C((has_title ? 38 : 12) + 12).s);
    wesc(w, xl, 0);
    wf(w, "</text>\n");
    numstr cy = C(p.y + p.h / 2);
    wf(w, "<text x=\"16\" y=\"%s\" transform=\"rotate(-90 16 %s)\" text-anchor=\"middle\" "
          "fill=\"#222222\" font-weight=\"600\">",
       cy.s, cy.s);
    wesc(w, yl, 0);
    wf(w, "</text>\n");
    /* class labels */
    wf(w, "<g fill=\"#222222\">\n");
    for (int k = 0; k < K; k++) {
        const char *lab = label_or_index(labels, k, nb, sizeof nb);
        wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">", C(p.x - 6).s,
           C(p.y + cell * (k + 0.5) + 4).s);
        wesc(w, lab, HEAT_LABEL_CHARS);
        wf(w, "</text>\n");
        numstr tx = C(p.x + cell * (k + 0.5) + 4), ty = C(p.y - 6);
        wf(w, "<text x=\"%s\" y=\"%s\" transform=\"rotate(-45 %s %s)\" text-anchor=\"start\">",
           tx.s, ty.s, tx.s, ty.s);
        wesc(w, lab, HEAT_LABEL_CHARS);
        wf(w, "</text>\n");
    }
    wf(w, "</g>\n");
    /* cells */
    for (int i = 0; i < K; i++) {
        int64_t rs = 0;
        for (int j = 0; j < K; j++) rs += counts[(size_t)i * (size_t)K + (size_t)j];
        for (int j = 0; j < K; j++) {
            int64_t c = counts[(size_t)i * (size_t)K + (size_t)j];
            double share = rs > 0 ? (double)c / (double)rs : 0;
            double t = o->color_by_count ? (maxc > 0 ? (double)c / (double)maxc : 0) : share;
            char col[8];
            blues_at(t, col);
            double x = p.x + cell * j, y = p.y + cell * i;
            wf(w, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" stroke=\"#ffffff\" "
                  "stroke-width=\"1\"><title>true ",
               C(x).s, C(y).s, C(cell).s, C(cell).s, col);
            wesc(w, label_or_index(labels, i, nb, sizeof nb), 0);
            wf(w, ", predicted ");
            wesc(w, label_or_index(labels, j, nb, sizeof nb), 0);
            wf(w, ": %lld (%s of row)</title></rect>\n", (long long)c, pct(share).s);
            wf(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%d\" fill=\"%s\">%s</text>\n",
               C(x + cell / 2).s, C(y + cell / 2 + fs * 0.35).s, fs, t > 0.55 ? "#ffffff" : "#1a1a1a",
               compact_count(c).s);
        }
    }
    /* color key: 9 steps, top = 1 */
    double kx = p.x + p.w + 16, kh = 14;
    for (int s = 0; s < 9; s++) {
        char col[8];
        blues_at((8 - s) / 8.0, col);
        wf(w, "<rect x=\"%s\" y=\"%s\" width=\"14\" height=\"%s\" fill=\"%s\"/>\n", C(kx).s,
           C(p.y + kh * s).s, C(kh).s, col);
    }
    wf(w, "<text x=\"%s\" y=\"%s\" font-size=\"10\" fill=\"#444444\">%s</text>\n", C(kx + 18).s,
       C(p.y + 10).s, o->color_by_count ? compact_count(maxc).s : "100%");
    wf(w, "<text x=\"%s\" y=\"%s\" font-size=\"10\" fill=\"#444444\">%s</text>\n", C(kx + 18).s,
       C(p.y + kh * 9).s, o->color_by_count ? "0" : "0% of row");
    return svg_close(w, len0);
}
