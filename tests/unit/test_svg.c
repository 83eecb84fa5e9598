/* test_svg.c - the SVG charts (svg.h): well-formed XML, element counts, coordinate mapping,
 * escaping, NaN handling, nice ticks, determinism, locale independence, allocation failures.
 *
 * A small XML checker (balanced tags, quoted attributes, only known entities, no raw '<' or '&'
 * in text) stands in for a real parser; it does not validate against the SVG schema. Nothing is
 * written to disk unless ASSAY_SVG_OUT names a directory: then one example of each chart is
 * saved there for a human to look at. */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>

#include "assay/core.h"
#include "assay/svg.h"
#include "check.h"

/* ---- a small XML well-formedness checker ------------------------------------------------------ */

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':' || c == '.';
}

/* p points at '&': returns the length of a known entity, or 0. */
static size_t entity_len(const char *p) {
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++)
        if (strncmp(p, ents[i], strlen(ents[i])) == 0) return strlen(ents[i]);
    return 0;
}

/* Returns NULL when s is one well-formed element, else a description of the first problem. */
static const char *xml_check(const char *s, char *why, size_t cap) {
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p == '<') {
            p++;
            int closing = *p == '/';
            if (closing) p++;
            char name[32];
            size_t n = 0;
            while (name_char(*p) && n + 1 < sizeof name) name[n++] = *p++;
            name[n] = '\0';
            if (n == 0) return snprintf(why, cap, "empty tag name at %d", (int)(p - s)), why;
            if (closing) {
                if (*p != '>') return snprintf(why, cap, "bad close tag </%s", name), why;
                p++;
                if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
                    return snprintf(why, cap, "unbalanced </%s> at %d", name, (int)(p - s)), why;
                depth--;
                continue;
            }
            if (depth == 0 && roots++) return snprintf(why, cap, "second root <%s>", name), why;
            for (;;) {
                while (*p == ' ' || *p == '\n') p++;
                if (*p == '>' || (*p == '/' && p[1] == '>')) break;
                size_t an = 0;
                while (name_char(*p)) p++, an++;
                if (an == 0 || *p != '=' || p[1] != '"')
                    return snprintf(why, cap, "bad attribute in <%s> at %d", name, (int)(p - s)), why;
                p += 2;
                while (*p && *p != '"') {
                    if (*p == '<') return snprintf(why, cap, "'<' in attribute of <%s>", name), why;
                    if (*p == '&') {
                        size_t e = entity_len(p);
                        if (!e) return snprintf(why, cap, "raw '&' in attribute of <%s>", name), why;
                        p += e;
                    } else {
                        p++;
                    }
                }
                if (*p != '"') return snprintf(why, cap, "unterminated attribute in <%s>", name), why;
                p++;
                if (*p != ' ' && *p != '>' && *p != '/' && *p != '\n')
                    return snprintf(why, cap, "no space after attribute in <%s>", name), why;
            }
            if (*p == '/') {
                p += 2;
            } else {
                p++;
                if (depth == 64) return "too deep";
                snprintf(stack[depth++], sizeof stack[0], "%s", name);
            }
        } else if (*p == '&') {
            size_t e = entity_len(p);
            if (!e) return snprintf(why, cap, "raw '&' in text at %d", (int)(p - s)), why;
            p += e;
        } else if (*p == '>') {
            return snprintf(why, cap, "raw '>' in text at %d", (int)(p - s)), why;
        } else {
            if (depth == 0 && *p != '\n' && *p != ' ')
                return snprintf(why, cap, "text outside the root at %d", (int)(p - s)), why;
            p++;
        }
    }
    if (depth != 0) return snprintf(why, cap, "%d unclosed elements, last <%s>", depth, stack[depth - 1]), why;
    if (roots != 1) return "no root element";
    return NULL;
}

/* Case-insensitive: does s contain "nan" or "inf" anywhere? */
static int has_nonfinite_text(const char *s) {
    for (const char *p = s; *p; p++) {
        char a = (char)(*p | 0x20), b = p[1] ? (char)(p[1] | 0x20) : 0, c = b && p[2] ? (char)(p[2] | 0x20) : 0;
        if ((a == 'n' && b == 'a' && c == 'n') || (a == 'i' && b == 'n' && c == 'f')) return 1;
    }
    return 0;
}

#define CHECK_XML(s)                                                              \
    do {                                                                          \
        char why_[160];                                                           \
        const char *bad_ = xml_check((s), why_, sizeof why_);                     \
        CHECK_MSG(bad_ == NULL, "%s", bad_ ? bad_ : "");                          \
        CHECK_MSG(!has_nonfinite_text(s), "output holds nan/inf");                \
    } while (0)

/* Elements named tag: "<tag" followed by a space, '>' or '/'. */
static int count_tag(const char *s, const char *tag) {
    int n = 0;
    size_t k = strlen(tag);
    for (const char *p = s; (p = strchr(p, '<')) != NULL; p++)
        if (strncmp(p + 1, tag, k) == 0 && (p[k + 1] == ' ' || p[k + 1] == '>' || p[k + 1] == '/')) n++;
    return n;
}

static int count_str(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* The value of attribute attr in the first element that starts at or after `from` and holds
 * `marker` inside its tag; NAN when absent. */
static double attr_num(const char *s, const char *marker, const char *attr) {
    const char *m = strstr(s, marker);
    if (!m) return NAN;
    const char *start = m;
    while (start > s && *start != '<') start--;
    const char *end = strchr(m, '>');
    char key[40];
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *a = strstr(start, key);
    if (!a || a > end) return NAN;
    return strtod(a + strlen(key), NULL);
}

static void save_example(const char *name, const assay_buf *b) {
    const char *dir = getenv("ASSAY_SVG_OUT");
    if (!dir || !*dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b->data, 1, b->len, f);
    fclose(f);
}

/* ---- ticks ------------------------------------------------------------------------------------ */

static void test_nice_ticks(void) {
    double t[64], lo, hi;
    int n = assay_svg_nice_ticks(0, 1, 1, t, 64, &lo, &hi);
    CHECK(n == 6);
    for (int i = 0; i < n && n == 6; i++) CHECK_NEAR(t[i], 0.2 * i, 1e-12);
    CHECK(lo == 0 && hi == 1);

    n = assay_svg_nice_ticks(0, 0.37, 1, t, 64, &lo, &hi);
    CHECK(n == 4);
    for (int i = 0; i < n && n == 4; i++) CHECK_NEAR(t[i], 0.1 * i, 1e-12);
    CHECK(hi == 0.37);

    /* automatic: the range grows to whole steps */
    n = assay_svg_nice_ticks(0, 0.37, 0, t, 64, &lo, &hi);
    CHECK(n == 5);
    CHECK_NEAR(hi, 0.4, 1e-12);
    CHECK(lo == 0);

    n = assay_svg_nice_ticks(-3, 7, 0, t, 64, &lo, &hi);
    CHECK(n == 7 && t[0] == -4 && t[1] == -2 && t[6] == 8 && lo == -4 && hi == 8);

    n = assay_svg_nice_ticks(0, 100, 0, t, 64, &lo, &hi);
    CHECK(n == 6 && t[1] == 20 && hi == 100);

    /* constant data, zero, non-finite and huge ranges still give a usable axis */
    n = assay_svg_nice_ticks(5, 5, 0, t, 64, &lo, &hi);
    CHECK(n >= 2 && lo < 5 && hi > 5);
    n = assay_svg_nice_ticks(0, 0, 0, t, 64, &lo, &hi);
    CHECK(n >= 2 && lo < 0 && hi > 0);
    n = assay_svg_nice_ticks(NAN, 1, 0, t, 64, &lo, &hi);
    CHECK(n == 6 && lo == 0 && hi == 1);
    n = assay_svg_nice_ticks(-1e308, 1e308, 0, t, 64, &lo, &hi);
    CHECK(n >= 2 && isfinite(lo) && isfinite(hi));
    n = assay_svg_nice_ticks(1, 0, 1, t, 64, &lo, &hi); /* inverted */
    CHECK(n == 6 && lo == 0 && hi == 1);
    n = assay_svg_nice_ticks(1e6, 1e6 + 1, 0, t, 64, NULL, NULL);
    CHECK(n >= 5 && n <= 11);
    CHECK(assay_svg_nice_ticks(0, 1, 1, t, 3, NULL, NULL) == 3); /* cap respected */
}

/* ---- line chart ------------------------------------------------------------------------------- */

static const double roc_x[] = {0, 0.1, 0.2, 0.4, 0.7, 1};
static const double roc_y[] = {0, 0.5, 0.7, 0.85, 0.95, 1};
static const double roc2_y[] = {0, 0.3, 0.5, 0.7, 0.9, 1};

static void test_line_basic(void) {
    assay_svg_series s[2] = {{"model A (AUC 0.87)", roc_x, roc_y, 6, 0, 0},
                             {"model B", roc_x, roc2_y, 6, 1, 0}};
    assay_svg_refline diag = {ASSAY_SVG_REF_DIAGONAL, 0, "chance"};
    assay_svg_line_opts o = {0};
    o.title = "ROC curve";
    o.x_label = "false positive rate";
    o.y_label = "true positive rate";
    o.x_fixed = o.y_fixed = 1;
    o.x_max = o.y_max = 1;
    o.refs = &diag;
    o.nrefs = 1;
    assay_buf b = {0};
    CHECK(assay_svg_line_chart(&b, &o, s, 2) == ASSAY_OK);
    CHECK_XML(b.data);
    const char *head = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 400\"";
    CHECK(strncmp(b.data, head, strlen(head)) == 0);
    CHECK(strstr(b.data, "width=\"100%\"") != NULL);
    CHECK(count_tag(b.data, "rect") == 2);
    CHECK(count_tag(b.data, "path") == 2);
    CHECK(count_tag(b.data, "circle") == 6 + 1); /* B's markers + its legend marker */
    /* texts: title, 6 + 6 tick labels, 2 axis titles, 1 reference label, 2 legend names */
    CHECK_MSG(count_tag(b.data, "text") == 18, "%d texts", count_tag(b.data, "text"));
    CHECK(strstr(b.data, ">model A (AUC 0.87)</text>") != NULL);
    CHECK(strstr(b.data, ">0.2</text>") != NULL && strstr(b.data, ">0.8</text>") != NULL);
    CHECK(strstr(b.data, "script") == NULL && strstr(b.data, "href") == NULL);
    save_example("line_roc.svg", &b);
    assay_buf_deinit(&b);
}

/* Parse "M x y L x y ..." of the first series path into xs/ys; returns the number of points. */
static int path_points(const char *s, double *xs, double *ys, int cap, int *moves) {
    const char *d = strstr(s, "<path fill=\"none\"");
    if (!d) return 0;
    d = strstr(d, " d=\"");
    if (!d) return 0;
    d += 4;
    int n = 0;
    *moves = 0;
    while (*d && *d != '"' && n < cap) {
        while (*d == ' ') d++;
        if (*d == 'M') (*moves)++;
        if (*d == 'M' || *d == 'L') d++;
        char *e;
        xs[n] = strtod(d, &e);
        ys[n] = strtod(e, &e);
        d = e;
        n++;
    }
    return n;
}

static void test_line_mapping(void) {
    /* fixed ranges: (0, 0) is the plot's lower-left corner, (1, 1) the upper right */
    const double x[] = {0, 0.5, 1}, y[] = {0, 0.25, 1};
    assay_svg_series s = {"s", x, y, 3, 0, 0};
    assay_svg_line_opts o = {0};
    o.width = 500;
    o.height = 300;
    o.x_fixed = o.y_fixed = 1;
    o.x_max = o.y_max = 1;
    assay_buf b = {0};
    CHECK(assay_svg_line_chart(&b, &o, &s, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    double px = attr_num(b.data, "class=\"plot\"", "x"), py = attr_num(b.data, "class=\"plot\"", "y");
    double pw = attr_num(b.data, "class=\"plot\"", "width"), ph = attr_num(b.data, "class=\"plot\"", "height");
    CHECK(pw > 100 && ph > 100 && px + pw <= 500 && py + ph <= 300);
    double xs[8], ys[8];
    int moves = 0;
    int n = path_points(b.data, xs, ys, 8, &moves);
    CHECK(n == 3 && moves == 1);
    CHECK_NEAR(xs[0], px, 0.011);
    CHECK_NEAR(ys[0], py + ph, 0.011);
    CHECK_NEAR(xs[1], px + pw / 2, 0.011);
    CHECK_NEAR(ys[1], py + ph * 0.75, 0.011);
    CHECK_NEAR(xs[2], px + pw, 0.011); /* the axis maximum lands on the right edge */
    CHECK_NEAR(ys[2], py, 0.011);
    assay_buf_deinit(&b);

    /* automatic ranges round out to whole ticks: x in [0, 0.37] gives an axis to 0.4 */
    const double x2[] = {0, 0.37}, y2[] = {1, 2};
    assay_svg_series s2 = {NULL, x2, y2, 2, 0, 0};
    assay_svg_line_opts o2 = {0};
    CHECK(assay_svg_line_chart(&b, &o2, &s2, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    px = attr_num(b.data, "class=\"plot\"", "x");
    pw = attr_num(b.data, "class=\"plot\"", "width");
    n = path_points(b.data, xs, ys, 8, &moves);
    CHECK(n == 2);
    CHECK_NEAR(xs[1], px + pw * 0.37 / 0.4, 0.011);
    CHECK(strstr(b.data, ">0.4</text>") != NULL && strstr(b.data, ">0.3</text>") != NULL);
    CHECK(count_tag(b.data, "line") > 0);
    CHECK(strstr(b.data, "stroke-width=\"2\" x1") == NULL); /* no legend: unnamed series */
    assay_buf_deinit(&b);
}

static void test_line_nan(void) {
    const double x[] = {0, 1, 2, 3, 4}, y[] = {0, 1, NAN, 3, 4};
    const double xi[] = {0, 1, 2}, yi[] = {NAN, 1, INFINITY};
    const double xn[] = {NAN, NAN}, yn[] = {1, 2};
    assay_svg_series s[3] = {{"broken", x, y, 5, 0, 0}, {"isolated", xi, yi, 3, 0, 0},
                             {"all missing", xn, yn, 2, 0, 0}};
    assay_svg_line_opts o = {0};
    assay_buf b = {0};
    CHECK(assay_svg_line_chart(&b, &o, s, 3) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "path") == 2); /* the all-NaN series draws nothing */
    double xs[8], ys[8];
    int moves = 0;
    CHECK(path_points(b.data, xs, ys, 8, &moves) == 4);
    CHECK(moves == 2); /* the NaN splits the line in two */
    CHECK(count_tag(b.data, "circle") == 1); /* the isolated point is visible */
    /* the y axis came from finite points only: 0..4 */
    CHECK(strstr(b.data, ">4</text>") != NULL);
    assay_buf_deinit(&b);
}

static void test_line_edges(void) {
    assay_svg_line_opts o = {0};
    assay_buf b = {0};
    /* no series at all */
    CHECK(assay_svg_line_chart(&b, &o, NULL, 0) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "path") == 0);
    assay_buf_deinit(&b);
    /* an empty series, a single point, a constant series */
    const double one_x[] = {3}, one_y[] = {7};
    const double cx[] = {1, 2, 3}, cy[] = {5, 5, 5};
    assay_svg_series s[3] = {{"empty", NULL, NULL, 0, 0, 0}, {"one", one_x, one_y, 1, 0, 0},
                             {"flat", cx, cy, 3, 0, 0}};
    CHECK(assay_svg_line_chart(&b, &o, s, 3) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "path") == 2);
    CHECK(count_tag(b.data, "circle") == 1);
    assay_buf_deinit(&b);
    /* a constant series alone: the y axis is widened around 5 */
    CHECK(assay_svg_line_chart(&b, &o, &s[2], 1) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, ">5</text>") != NULL);
    assay_buf_deinit(&b);
    /* huge and tiny values */
    const double hx[] = {-1e308, 0, 1e308}, hy[] = {1e-308, -1e308, 1e308};
    assay_svg_series h = {"huge", hx, hy, 3, 1, 0};
    CHECK(assay_svg_line_chart(&b, &o, &h, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    assay_buf_deinit(&b);
    /* points outside a fixed range are clipped by the nested viewport, not dropped */
    o.x_fixed = o.y_fixed = 1;
    o.x_max = o.y_max = 1;
    const double ox[] = {-5, 0.5, 5}, oy[] = {0.5, 0.5, 0.5};
    assay_svg_series out = {"out", ox, oy, 3, 0, 0};
    CHECK(assay_svg_line_chart(&b, &o, &out, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, "overflow=\"hidden\"") != NULL);
    assay_buf_deinit(&b);
    /* bad arguments */
    assay_svg_series bad = {"bad", NULL, one_y, 1, 0, 0};
    CHECK(assay_svg_line_chart(&b, &o, &bad, 1) == ASSAY_EINVAL);
    CHECK(assay_svg_line_chart(&b, &o, NULL, 1) == ASSAY_EINVAL);
    CHECK(assay_svg_line_chart(NULL, &o, s, 1) == ASSAY_EINVAL);
    CHECK(b.len == 0);
    assay_buf_deinit(&b);
}

static void test_line_refs_profit(void) {
    /* profit vs threshold with the chosen threshold marked, and a horizontal baseline */
    double th[21], pr[21];
    for (int i = 0; i <= 20; i++) th[i] = i / 20.0, pr[i] = 100 * th[i] * (1 - th[i]) - 10;
    const double cx[] = {0.5}, cy[] = {15};
    assay_svg_series s[2] = {{"profit", th, pr, 21, 0, 0}, {"chosen threshold", cx, cy, 1, 1, 0}};
    assay_svg_refline r[2] = {{ASSAY_SVG_REF_VLINE, 0.5, "t = 0.5"}, {ASSAY_SVG_REF_HLINE, 0, "break-even"}};
    assay_svg_line_opts o = {0};
    o.title = "Profit by threshold";
    o.x_label = "threshold";
    o.y_label = "profit";
    o.refs = r;
    o.nrefs = 2;
    assay_buf b = {0};
    CHECK(assay_svg_line_chart(&b, &o, s, 2) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, ">t = 0.5</text>") != NULL && strstr(b.data, ">break-even</text>") != NULL);
    CHECK(strstr(b.data, ">-10</text>") != NULL); /* y axis reaches down to -10 */
    /* the vertical reference line sits at x = 0.5, mid-plot */
    double px = attr_num(b.data, "class=\"plot\"", "x"), pw = attr_num(b.data, "class=\"plot\"", "width");
    double vx = attr_num(b.data, "stroke=\"#777777\"", "x1");
    CHECK_NEAR(vx, px + pw / 2, 0.011);
    save_example("line_profit.svg", &b);
    assay_buf_deinit(&b);
}

/* ---- escaping and determinism ------------------------------------------------------------------ */

#define HOSTILE "<script>&\"'"
#define HOSTILE_ESC "&lt;script&gt;&amp;&quot;&#39;"

static void test_escaping(void) {
    const double x[] = {0, 1}, y[] = {0, 1};
    assay_svg_series s = {HOSTILE, x, y, 2, 0, 0};
    assay_svg_refline r = {ASSAY_SVG_REF_HLINE, 0.5, HOSTILE};
    assay_svg_line_opts o = {0};
    o.title = o.x_label = o.y_label = HOSTILE;
    o.refs = &r;
    o.nrefs = 1;
    assay_buf b = {0};
    CHECK(assay_svg_line_chart(&b, &o, &s, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, "<script") == NULL);
    CHECK(count_str(b.data, HOSTILE_ESC) == 6); /* aria-label, title, 2 axis titles, ref, legend */
    assay_buf_deinit(&b);

    const char *labels[] = {HOSTILE, "a\tb\x01", "ok"};
    const double v[] = {1, -2, 3};
    assay_svg_bar_opts bo = {0};
    bo.title = HOSTILE;
    CHECK(assay_svg_hbar_chart(&b, &bo, labels, v, NULL, 3) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, "<script") == NULL);
    CHECK(strstr(b.data, "a?b?") != NULL); /* control characters are not valid XML */
    assay_buf_deinit(&b);

    const int64_t cm[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assay_svg_heatmap_opts ho = {0};
    CHECK(assay_svg_confusion(&b, &ho, cm, labels, 3) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, "<script") == NULL);
    CHECK(count_str(b.data, HOSTILE_ESC) >= 2);
    assay_buf_deinit(&b);

    /* long labels are cut on a code point with an ellipsis, never inside a UTF-8 sequence */
    const char *lon[] = {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
    CHECK(assay_svg_hbar_chart(&b, &bo, lon, v, NULL, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, "\xc3\xa9\xe2\x80\xa6<title>") != NULL);
    CHECK(strstr(b.data, "<title>") != NULL); /* the full text is kept as a tooltip */
    assay_buf_deinit(&b);
}

static void test_determinism_and_locale(void) {
    double x[50], y[50];
    for (int i = 0; i < 50; i++) x[i] = i * 0.0213, y[i] = sin(i * 0.3) * 1.5;
    assay_svg_series s = {"sine", x, y, 50, 1, 0};
    assay_svg_line_opts o = {0};
    o.title = "determinism";
    assay_buf a = {0}, b = {0};
    CHECK(assay_svg_line_chart(&a, &o, &s, 1) == ASSAY_OK);
    CHECK(assay_svg_line_chart(&b, &o, &s, 1) == ASSAY_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* appending keeps what the buffer already holds */
    assay_buf c = {0};
    assay_buf_append(&c, "<p>", 3);
    CHECK(assay_svg_line_chart(&c, &o, &s, 1) == ASSAY_OK);
    CHECK(c.len == a.len + 3 && memcmp(c.data + 3, a.data, a.len) == 0);
    assay_buf_deinit(&c);
    /* a locale with a decimal comma changes nothing */
    const char *locs[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    int tried = 0;
    for (size_t i = 0; i < sizeof locs / sizeof locs[0] && !tried; i++)
        if (setlocale(LC_NUMERIC, locs[i])) tried = strcmp(localeconv()->decimal_point, ".") != 0;
    assay_buf_deinit(&b);
    CHECK(assay_svg_line_chart(&b, &o, &s, 1) == ASSAY_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    setlocale(LC_NUMERIC, "C");
    if (!tried) fprintf(stderr, "  (no decimal-comma locale installed; locale check is weak)\n");
    assay_buf_deinit(&a);
    assay_buf_deinit(&b);
}

/* ---- bar charts -------------------------------------------------------------------------------- */

static void test_hbar(void) {
    const char *names[] = {"income", "age", "debt_ratio", "n_loans", "region=north"};
    const double coef[] = {1.8, -0.9, -2.4, 0.3, NAN};
    const double sd[] = {0.2, 0.1, NAN, 0.05, 0.1};
    assay_svg_bar_opts o = {0};
    o.title = "Coefficients";
    o.x_label = "coefficient";
    assay_buf b = {0};
    CHECK(assay_svg_hbar_chart(&b, &o, names, coef, sd, 5) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "rect") == 2 + 4);     /* the NaN value draws no bar */
    CHECK(count_tag(b.data, "path") == 3);         /* error bars where both are finite */
    CHECK(count_str(b.data, "fill=\"#D55E00\"") == 2); /* negatives in the second color */
    CHECK(strstr(b.data, ">region=north</text>") != NULL);
    /* a negative bar ends at the zero line, a positive one starts there */
    double zx = attr_num(b.data, "stroke=\"#333333\"", "x1");
    double rx = attr_num(b.data, "fill=\"#D55E00\"", "x"), rw = attr_num(b.data, "fill=\"#D55E00\"", "width");
    CHECK_NEAR(rx + rw, zx, 0.02);
    double px = attr_num(b.data, "fill=\"#0072B2\"><title>income", "x");
    CHECK_NEAR(px, zx, 0.011);
    save_example("hbar_coef.svg", &b);
    assay_buf_deinit(&b);

    /* importance, no labels given, no errors; and the empty chart */
    const double imp[] = {0.5, 0.25, 0.125};
    CHECK(assay_svg_hbar_chart(&b, &o, NULL, imp, NULL, 3) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(strstr(b.data, ">2</text>") != NULL);
    assay_buf_deinit(&b);
    CHECK(assay_svg_hbar_chart(&b, &o, NULL, NULL, NULL, 0) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "rect") == 2);
    assay_buf_deinit(&b);
    CHECK(assay_svg_hbar_chart(&b, &o, names, NULL, NULL, 2) == ASSAY_EINVAL);
}

static void test_vbar(void) {
    const char *dec[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
    const char *groups[] = {"model", "baseline"};
    double v[20];
    for (int c = 0; c < 10; c++) v[c] = 3.2 - 0.3 * c, v[10 + c] = 1;
    assay_svg_bar_opts o = {0};
    o.title = "Lift by decile";
    o.x_label = "decile";
    o.y_label = "lift";
    assay_buf b = {0};
    CHECK(assay_svg_vbar_chart(&b, &o, dec, 10, groups, v, 2) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "rect") == 2 + 20);
    CHECK(strstr(b.data, ">baseline</text>") != NULL && strstr(b.data, ">10</text>") != NULL);
    /* bars stand on the x axis: bottom = plot bottom when the range starts at 0 */
    double py = attr_num(b.data, "class=\"plot\"", "y"), ph = attr_num(b.data, "class=\"plot\"", "height");
    double ry = attr_num(b.data, "fill=\"#E69F00\"", "y"), rh = attr_num(b.data, "fill=\"#E69F00\"", "height");
    CHECK_NEAR(ry + rh, py + ph, 0.02);
    save_example("vbar_lift.svg", &b);
    assay_buf_deinit(&b);
    /* negatives and a zero line; one group without a name */
    v[3] = -1.5;
    CHECK(assay_svg_vbar_chart(&b, &o, dec, 10, NULL, v, 1) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "rect") == 2 + 10);
    CHECK(strstr(b.data, "stroke=\"#333333\"") != NULL);
    assay_buf_deinit(&b);
}

/* ---- heatmap ----------------------------------------------------------------------------------- */

static void test_confusion(void) {
    const char *names[] = {"cat", "dog", "bird"};
    const int64_t cm[9] = {50, 3, 2, 5, 40, 0, 1, 12345, 7};
    assay_svg_heatmap_opts o = {0};
    o.title = "Confusion matrix";
    assay_buf b = {0};
    CHECK(assay_svg_confusion(&b, &o, cm, names, 3) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "rect") == 1 + 9 + 9);
    CHECK_MSG(count_tag(b.data, "text") == 9 + 6 + 4 + 1, "%d", count_tag(b.data, "text"));
    CHECK(strstr(b.data, ">predicted</text>") != NULL && strstr(b.data, ">true</text>") != NULL);
    CHECK(strstr(b.data, ">12.3k</text>") != NULL);
    CHECK(strstr(b.data, "true dog, predicted cat: 5 (11.1% of row)") != NULL);
    /* color by row share: the diagonal cell of row "cat" (50/55) is darker than its 3 */
    save_example("confusion.svg", &b);
    assay_buf_deinit(&b);

    /* K = 20 with no labels, colored by count; K = 0 */
    int64_t big[400];
    for (int i = 0; i < 400; i++) big[i] = (i % 21 == 0) ? 1000 + i : i % 7;
    o.color_by_count = 1;
    o.title = NULL;
    CHECK(assay_svg_confusion(&b, &o, big, NULL, 20) == ASSAY_OK);
    CHECK_XML(b.data);
    CHECK(count_tag(b.data, "rect") == 1 + 400 + 9);
    CHECK(count_tag(b.data, "text") == 400 + 40 + 4);
    CHECK(strstr(b.data, ">19</text>") != NULL);
    save_example("confusion20.svg", &b);
    assay_buf_deinit(&b);
    CHECK(assay_svg_confusion(&b, &o, NULL, NULL, 0) == ASSAY_OK);
    CHECK_XML(b.data);
    assay_buf_deinit(&b);
    CHECK(assay_svg_confusion(&b, &o, NULL, NULL, 2) == ASSAY_EINVAL);
}

/* ---- allocation failures ------------------------------------------------------------------------ */

static void test_alloc_failures(void) {
    const double x[] = {0, 1, 2}, y[] = {1, 0, 1};
    assay_svg_series s = {"s", x, y, 3, 1, 0};
    assay_svg_line_opts o = {0};
    o.title = "t";
    const int64_t cm[4] = {1, 2, 3, 4};
    assay_svg_heatmap_opts ho = {0};
    const double v[] = {1, -1};
    assay_svg_bar_opts bo = {0};
    for (int which = 0; which < 4; which++) {
        int ok = 0;
        for (uint64_t k = 1; k < 100 && !ok; k++) {
            assay_buf b = {0};
            assay_buf_append(&b, "x", 1);
            assay_alloc_fail_after(k);
            int rc = which == 0   ? assay_svg_line_chart(&b, &o, &s, 1)
                     : which == 1 ? assay_svg_hbar_chart(&b, &bo, NULL, v, v, 2)
                     : which == 2 ? assay_svg_vbar_chart(&b, &bo, NULL, 2, NULL, v, 1)
                                  : assay_svg_confusion(&b, &ho, cm, NULL, 2);
            assay_alloc_fail_after(0);
            if (rc == ASSAY_OK) {
                ok = 1;
                CHECK_XML(b.data + 1);
            } else {
                CHECK(rc == ASSAY_ENOMEM);
                CHECK(b.len == 1 && b.data[1] == '\0'); /* rolled back */
            }
            assay_buf_deinit(&b);
        }
        CHECK(ok);
    }
}

/* ---- the checker itself must reject what it is meant to reject ------------------------------ */

static void test_checker(void) {
    char why[160];
    CHECK(xml_check("<svg><g></g></svg>", why, sizeof why) == NULL);
    CHECK(xml_check("<svg><g></svg>", why, sizeof why) != NULL);
    CHECK(xml_check("<svg a=b></svg>", why, sizeof why) != NULL);
    CHECK(xml_check("<svg>a & b</svg>", why, sizeof why) != NULL);
    CHECK(xml_check("<svg>a < b</svg>", why, sizeof why) != NULL);
    CHECK(xml_check("<svg a=\"x&y\"/>", why, sizeof why) != NULL);
    CHECK(xml_check("<svg/><svg/>", why, sizeof why) != NULL);
    CHECK(has_nonfinite_text("M1 NaN") && has_nonfinite_text("-inf") && !has_nonfinite_text("M1 2"));
}

int main(void) {
    RUN(test_checker);
    RUN(test_nice_ticks);
    RUN(test_line_basic);
    RUN(test_line_mapping);
    RUN(test_line_nan);
    RUN(test_line_edges);
    RUN(test_line_refs_profit);
    RUN(test_escaping);
    RUN(test_determinism_and_locale);
    RUN(test_hbar);
    RUN(test_vbar);
    RUN(test_confusion);
    RUN(test_alloc_failures);
    return check_summary();
}
