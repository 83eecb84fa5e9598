/* value.c - the business value of a binary classifier: the value-spec parser and formatter,
 * the profit curve over score thresholds (one sort, O(n log n)), top-k% and budgeted choices,
 * EMP for churn (Verbraken, Verbeke, Baesens 2013) through the ROC convex hull and the
 * incomplete beta function, and money text.
 *
 * Everything is a threshold rule on the score; ties in score move together. It does not pick
 * rows by label, does not tune thresholds on one split and apply them on another, does not
 * estimate uncertainty of profits (no bootstrap), and does not handle multiclass values. */
#include <float.h>
#include <stddef.h>

#include "assay/value.h"
#include "eval_internal.h"


/* ---- value specification ------------------------------------------------------------------ */

static const char *const KEYS[] = {"tp", "fp", "fn", "tn", "cost"};
enum { NKEYS = 5 };

static assay_value_term *spec_term(assay_value_spec *s, int i) {
    assay_value_term *const t[NKEYS] = {&s->tp, &s->fp, &s->fn, &s->tn, &s->cost};
    return t[i];
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static const char *skip_ws(const char *p) {
    while (is_ws(*p)) p++;
    return p;
}

/* Length of the number at p per the grammar's `number`, 0 if none. */
static size_t number_len(const char *p) {
    const char *q = p;
    size_t digits = 0;
    while (is_digit(*q)) q++, digits++;
    if (*q == '.') {
        q++;
        while (is_digit(*q)) q++, digits++;
    }
    if (digits == 0) return 0;
    if (*q == 'e' || *q == 'E') {
        const char *e = q + 1;
        if (*e == '+' || *e == '-') e++;
        if (is_digit(*e)) {
            while (is_digit(*e)) e++;
            q = e;
        }
    }
    return (size_t)(q - p);
}

/* The item's value text [v, end of item), trimmed, for messages. */
static int value_text(const char *v, char *buf, size_t cap) {
    v = skip_ws(v);
    size_t len = 0;
    while (v[len] && v[len] != ',') len++;
    while (len > 0 && is_ws(v[len - 1])) len--;
    if (len > 60) len = 60;
    return snprintf(buf, cap, "%.*s", (int)len, v);
}

/* Parses expr at *pp (up to ',' or the end) into t. Returns 0 or an error. */
static int parse_expr(const char **pp, const char *key, assay_value_term *t, assay_error *err) {
    const char *v = *pp, *p = skip_ws(*pp);
    char shown[64];
    int have_c = 0, have_k = 0;
    double sign = 1;
    if (*p == '\0' || *p == ',') return assay_error_set(err, ASSAY_EPARSE, "value spec: '%s': missing value", key);
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p = skip_ws(p + 1);
    }
    for (;;) {
        double num = 1;
        int is_amount = 0;
        size_t len = number_len(p);
        if (len > 0) {
            char tmp[128];
            if (len >= sizeof tmp) goto not_number;
            memcpy(tmp, p, len);
            tmp[len] = '\0';
            num = strtod(tmp, NULL);
            if (!isfinite(num)) {
                value_text(v, shown, sizeof shown);
                return assay_error_set(err, ASSAY_EPARSE, "value spec: '%s': \"%s\" is out of range", key, shown);
            }
            p = skip_ws(p + len);
            if (*p == '*') {
                p = skip_ws(p + 1);
                if (strncmp(p, "amount", 6) != 0 || is_word(p[6])) goto not_number;
                p += 6;
                is_amount = 1;
            }
        } else if (strncmp(p, "amount", 6) == 0 && !is_word(p[6])) {
            p += 6;
            is_amount = 1;
        } else {
            goto not_number;
        }
        value_text(v, shown, sizeof shown);
        if (is_amount) {
            if (have_k) return assay_error_set(err, ASSAY_EPARSE, "value spec: '%s': \"%s\" has two amount terms", key, shown);
            have_k = 1;
            t->k = sign * num;
        } else {
            if (have_c) return assay_error_set(err, ASSAY_EPARSE, "value spec: '%s': \"%s\" has two constant terms", key, shown);
            have_c = 1;
            t->c = sign * num;
        }
        p = skip_ws(p);
        if (*p == '\0' || *p == ',') break;
        if (*p != '+' && *p != '-') goto not_number;
        sign = *p == '-' ? -1 : 1;
        p = skip_ws(p + 1);
    }
    if (t->c == 0) t->c = 0; /* no negative zero */
    if (t->k == 0) t->k = 0;
    *pp = p;
    return ASSAY_OK;
not_number:
    value_text(v, shown, sizeof shown);
    return assay_error_set(err, ASSAY_EPARSE,
                           "value spec: '%s': \"%s\" is not a number or c + k*amount", key, shown);
}

int assay_value_spec_parse(const char *text, assay_value_spec *out, assay_error *err) {
    ASSAY_ASSERT(out);
    memset(out, 0, sizeof *out);
    if (!text) return assay_error_set(err, ASSAY_EINVAL, "value spec: no text");
    const char *p = skip_ws(text);
    if (*p == '\0') return assay_error_set(err, ASSAY_EPARSE, "value spec is empty");
    int seen[NKEYS] = {0};
    int rc;
    for (;;) {
        p = skip_ws(p);
        const char *k = p;
        while (is_word(*p)) p++;
        size_t klen = (size_t)(p - k);
        if (klen == 0) {
            rc = *p == ',' || *p == '\0'
                     ? assay_error_set(err, ASSAY_EPARSE, "value spec: empty item (stray ',')")
                     : assay_error_set(err, ASSAY_EPARSE, "value spec: expected a key, found '%c'", *p);
            goto fail;
        }
        int ki = -1;
        for (int i = 0; i < NKEYS; i++)
            if (strlen(KEYS[i]) == klen && memcmp(KEYS[i], k, klen) == 0) ki = i;
        if (ki < 0) {
            rc = assay_error_set(err, ASSAY_EPARSE,
                                 "value spec: unknown key '%.*s' (expected tp, fp, fn, tn or cost)",
                                 (int)ASSAY_MIN(klen, 40), k);
            goto fail;
        }
        if (seen[ki]) {
            rc = assay_error_set(err, ASSAY_EPARSE, "value spec: '%s' given twice", KEYS[ki]);
            goto fail;
        }
        seen[ki] = 1;
        p = skip_ws(p);
        if (*p != '=') {
            rc = assay_error_set(err, ASSAY_EPARSE, "value spec: '%s': expected '=' after the key", KEYS[ki]);
            goto fail;
        }
        p++;
        rc = parse_expr(&p, KEYS[ki], spec_term(out, ki), err);
        if (rc) goto fail;
        if (*p == '\0') break;
        p++; /* ',' */
    }
    for (int i = 0; i < NKEYS; i++)
        if (spec_term(out, i)->k != 0) out->uses_amount = 1;
    return ASSAY_OK;
fail:
    memset(out, 0, sizeof *out);
    return rc;
}

int assay_value_spec_format(const assay_value_spec *spec, assay_buf *out) {
    ASSAY_ASSERT(spec && out);
    char num[40];
    for (int i = 0; i < NKEYS; i++) {
        const assay_value_term *const terms[NKEYS] = {&spec->tp, &spec->fp, &spec->fn, &spec->tn,
                                                      &spec->cost};
        assay_value_term t = *terms[i];
        int rc = assay_buf_printf(out, "%s%s=", i ? "," : "", KEYS[i]);
        if (rc) return rc;
        if (t.k == 0) {
            rc = assay_buf_printf(out, "%s", assay__format_number(t.c, num, sizeof num));
        } else {
            if (t.k == 1) rc = assay_buf_printf(out, "amount");
            else if (t.k == -1) rc = assay_buf_printf(out, "-amount");
            else rc = assay_buf_printf(out, "%s*amount", assay__format_number(t.k, num, sizeof num));
            if (!rc && t.c != 0)
                rc = assay_buf_printf(out, "%s%s", t.c < 0 ? "-" : "+",
                                      assay__format_number(fabs(t.c), num, sizeof num));
        }
        if (rc) return rc;
    }
    return ASSAY_OK;
}

/* ---- profit curve ------------------------------------------------------------------------- */

/* One row: its score, the profit change from acting on it, its action cost. */
typedef struct vrow {
    double s, delta, cost;
} vrow;

static int vrow_desc(const void *a, const void *b) {
    double x = ((const vrow *)a)->s, y = ((const vrow *)b)->s;
    return (x < y) - (x > y);
}

void assay_profit_curve_deinit(assay_profit_curve *c) {
    if (!c) return;
    assay_free(c->threshold);
    assay_free(c->n_acted);
    assay_free(c->profit);
    assay_free(c->per_row);
    assay_free(c->cost);
    memset(c, 0, sizeof *c);
}

int assay_profit_curve_compute(const assay_value_spec *spec, const uint8_t *y01,
                               const double *score, const double *amount, int64_t n,
                               assay_profit_curve *out, assay_error *err) {
    ASSAY_ASSERT(out);
    memset(out, 0, sizeof *out);
    if (!spec || !y01 || !score) return assay_error_set(err, ASSAY_EINVAL, "profit curve: missing input");
    if (n <= 0) return assay_error_set(err, ASSAY_EINVAL, "profit curve: no rows");
    if (spec->uses_amount && !amount)
        return assay_error_set(err, ASSAY_EINVAL, "profit curve: the value spec uses amounts but none were given");
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(score[i]))
            return assay_error_set(err, ASSAY_EINVAL, "profit curve: row %lld: score %g is not finite",
                                   (long long)i, score[i]);
        if (spec->uses_amount && !isfinite(amount[i]))
            return assay_error_set(err, ASSAY_EINVAL, "profit curve: row %lld: amount %g is not finite",
                                   (long long)i, amount[i]);
    }
    int rc = ASSAY_ENOMEM;
    vrow *r = assay_mallocarray((size_t)n, sizeof *r);
    if (!r) goto fail;
    /* profit(act on set S) = sum_all(fn|tn) + sum_{i in S} delta_i, with
     * delta_i = (tp|fp)_i - (fn|tn)_i - cost_i. */
    ksum base = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double a = spec->uses_amount ? amount[i] : 0;
        int pos = y01[i] != 0;
        double left = assay_value_term_eval(pos ? &spec->fn : &spec->tn, a);
        double acted = assay_value_term_eval(pos ? &spec->tp : &spec->fp, a);
        double cost = assay_value_term_eval(&spec->cost, a);
        ksum_add(&base, left);
        r[i].s = score[i];
        r[i].cost = cost;
        r[i].delta = (acted - cost) - left;
    }
    qsort(r, (size_t)n, sizeof *r, vrow_desc);
    int64_t D = 1;
    for (int64_t i = 1; i < n; i++) D += r[i].s != r[i - 1].s;
    int64_t P = D + 1;
    out->threshold = assay_mallocarray((size_t)P, sizeof(double));
    out->n_acted = assay_mallocarray((size_t)P, sizeof(int64_t));
    out->profit = assay_mallocarray((size_t)P, sizeof(double));
    out->per_row = assay_mallocarray((size_t)P, sizeof(double));
    out->cost = assay_mallocarray((size_t)P, sizeof(double));
    if (!out->threshold || !out->n_acted || !out->profit || !out->per_row || !out->cost) goto fail;
    out->n = n;
    out->npoints = P;
    ksum prof = base, cost = {0, 0};
    out->threshold[0] = INFINITY;
    out->n_acted[0] = 0;
    out->profit[0] = ksum_get(&prof);
    out->cost[0] = 0;
    int64_t j = 1;
    for (int64_t i = 0; i < n; i++) {
        ksum_add(&prof, r[i].delta);
        ksum_add(&cost, r[i].cost);
        if (i == n - 1 || r[i + 1].s != r[i].s) {
            out->threshold[j] = r[i].s;
            out->n_acted[j] = i + 1;
            out->profit[j] = ksum_get(&prof);
            out->cost[j] = ksum_get(&cost);
            j++;
        }
    }
    ASSAY_ASSERT(j == P);
    int64_t best = 0;
    for (int64_t k = 0; k < P; k++) {
        out->per_row[k] = out->profit[k] / (double)n;
        if (out->profit[k] > out->profit[best]) best = k; /* strict: the first maximum wins */
    }
    out->best = best;
    out->best_threshold = out->threshold[best];
    out->best_profit = out->profit[best];
    out->best_n_acted = out->n_acted[best];
    out->profit_nobody = out->profit[0];
    out->profit_everybody = out->profit[P - 1];
    assay_free(r);
    return ASSAY_OK;
fail:
    assay_free(r);
    assay_profit_curve_deinit(out);
    return assay_error_set(err, rc, "profit curve: out of memory");
}

int assay_profit_top_percent(const assay_profit_curve *c, double k_percent, double *profit,
                             int64_t *n_acted, assay_error *err) {
    ASSAY_ASSERT(c && profit);
    if (!(k_percent >= 0 && k_percent <= 100))
        return assay_error_set(err, ASSAY_EINVAL, "top k%%: k = %g is not in [0, 100]", k_percent);
    if (c->npoints < 1) return assay_error_set(err, ASSAY_EINVAL, "top k%%: empty profit curve");
    int64_t m = (int64_t)floor(k_percent * (double)c->n / 100.0 + 0.5);
    if (m > c->n) m = c->n;
    /* the last point with n_acted <= m (binary search: n_acted increases) */
    int64_t lo = 0, hi = c->npoints - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (c->n_acted[mid] <= m) lo = mid;
        else hi = mid - 1;
    }
    double v = c->profit[lo];
    if (c->n_acted[lo] < m) {
        /* m cuts the tie group of point lo + 1: its rows are taken at random, each with
         * probability (m - n_acted[lo]) / group size, so the expectation interpolates. */
        double w = (double)(m - c->n_acted[lo]) / (double)(c->n_acted[lo + 1] - c->n_acted[lo]);
        v = c->profit[lo] + w * (c->profit[lo + 1] - c->profit[lo]);
    }
    *profit = v;
    if (n_acted) *n_acted = m;
    return ASSAY_OK;
}

int assay_profit_best_within(const assay_profit_curve *c, int64_t max_rows, double max_cost,
                             int64_t *index, assay_error *err) {
    ASSAY_ASSERT(c && index);
    if (isnan(max_cost) || max_cost < 0)
        return assay_error_set(err, ASSAY_EINVAL, "profit budget: cost budget %g must be >= 0", max_cost);
    if (c->npoints < 1) return assay_error_set(err, ASSAY_EINVAL, "profit budget: empty profit curve");
    int64_t best = 0; /* act on nobody: always within budget */
    for (int64_t k = 1; k < c->npoints; k++) {
        if (max_rows >= 0 && c->n_acted[k] > max_rows) continue;
        if (c->cost[k] > max_cost) continue;
        if (c->profit[k] > c->profit[best]) best = k;
    }
    *index = best;
    return ASSAY_OK;
}

/* ---- EMP ---------------------------------------------------------------------------------- */

/* Continued fraction of the incomplete beta function, modified Lentz's method
 * (Numerical Recipes, 3rd ed., 6.4, betacf). Converges quickly for x < (a+1)/(a+b+2). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

double assay_value_betainc(double x, double a, double b) {
    if (!(a > 0 && b > 0 && x >= 0 && x <= 1) || !isfinite(a) || !isfinite(b)) return NAN;
    if (x == 0) return 0;
    if (x == 1) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

void assay_emp_params_default(assay_emp_params *p) {
    ASSAY_ASSERT(p);
    p->clv = 200;
    p->d = 10;
    p->f = 1;
    p->alpha = 6;
    p->beta = 14;
}

const char *assay_emp_params_check(const assay_emp_params *p) {
    if (!p) return "EMP: no parameters";
    if (!isfinite(p->clv) || !isfinite(p->d) || !isfinite(p->f) || !isfinite(p->alpha) || !isfinite(p->beta))
        return "EMP: parameters must be finite";
    if (!(p->d >= 0)) return "EMP: incentive cost d must be >= 0";
    if (!(p->f >= 0)) return "EMP: contact cost f must be >= 0";
    if (!(p->clv > p->d)) return "EMP: CLV must exceed the incentive cost d";
    if (!(p->alpha > 0 && p->beta > 0)) return "EMP: alpha and beta must be > 0";
    return NULL;
}

typedef struct epoint {
    double fp, tp; /* counts of targeted non-churners / churners (integers, exact) */
} epoint;

typedef struct escored {
    double s;
    int pos;
} escored;

static int escored_desc(const void *a, const void *b) {
    double x = ((const escored *)a)->s, y = ((const escored *)b)->s;
    return (x < y) - (x > y);
}

int assay_emp_churn(const uint8_t *y01, const double *score, int64_t n, const assay_emp_params *p,
                    assay_emp_result *out, assay_error *err) {
    ASSAY_ASSERT(out);
    out->emp = out->frac = NAN;
    assay_emp_params def;
    if (!p) {
        assay_emp_params_default(&def);
        p = &def;
    }
    const char *why = assay_emp_params_check(p);
    if (why) return assay_error_set(err, ASSAY_EINVAL, "%s", why);
    if (!y01 || !score) return assay_error_set(err, ASSAY_EINVAL, "EMP: missing input");
    if (n <= 0) return assay_error_set(err, ASSAY_EINVAL, "EMP: no rows");
    for (int64_t i = 0; i < n; i++)
        if (isnan(score[i]))
            return assay_error_set(err, ASSAY_EINVAL, "EMP: row %lld: score is NaN", (long long)i);
    escored *s = assay_mallocarray((size_t)n, sizeof *s);
    epoint *h = assay_mallocarray((size_t)n + 1, sizeof *h);
    if (!s || !h) {
        assay_free(s);
        assay_free(h);
        return assay_error_set(err, ASSAY_ENOMEM, "EMP: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        s[i].s = score[i];
        s[i].pos = y01[i] != 0;
    }
    qsort(s, (size_t)n, sizeof *s, escored_desc);
    /* Upper convex hull of the ROC points in counts, (0,0) to (N,P), by Andrew's monotone
     * chain: the points come in order of nondecreasing fp and tp. Collinear middle points are
     * dropped; they are optimal only at single values of gamma (measure zero). */
    int64_t H = 0;
    h[H++] = (epoint){0, 0};
    double fp = 0, tp = 0;
    for (int64_t i = 0; i < n; i++) {
        if (s[i].pos) tp += 1;
        else fp += 1;
        if (i < n - 1 && s[i + 1].s == s[i].s) continue;
        epoint c = {fp, tp};
        while (H >= 2) {
            epoint a = h[H - 2], b = h[H - 1];
            double cross = (b.fp - a.fp) * (c.tp - a.tp) - (b.tp - a.tp) * (c.fp - a.fp);
            if (cross >= 0) H--; /* b is not strictly above the chord a-c */
            else break;
        }
        h[H++] = c;
    }
    /* Point k of the hull is optimal for gamma in [g_{k-1}, g_k]: moving from k to k+1 pays
     * iff (gamma (clv - d) - f) dtp > (d + f) dfp, i.e. gamma > g_k below (the paper's
     * ((delta + phi) pi1 dF1 / (pi0 dF0) + phi) / (1 - delta), multiplied out by clv). Slopes
     * fall along the hull, so the g_k rise. Over an interval the profit is linear in gamma:
     *   int (gamma (clv-d) - f) y - (d+f) x) h = (clv-d) y E[gamma; I] - (f y + (d+f) x) P[I]
     * with E[gamma; I] = a/(a+b) * (I_hi(a+1,b) - I_lo(a+1,b)). */
    const double a = p->alpha, b = p->beta, N = (double)n;
    ksum emp = {0, 0}, frac = {0, 0};
    double lo = 0, I0_lo = 0, I1_lo = 0;
    for (int64_t k = 0; k < H && lo < 1; k++) {
        double hi = 1;
        if (k + 1 < H) {
            double dfp = h[k + 1].fp - h[k].fp, dtp = h[k + 1].tp - h[k].tp;
            double g = dtp > 0 ? (p->f * dtp + (p->d + p->f) * dfp) / ((p->clv - p->d) * dtp) : INFINITY;
            hi = ASSAY_MIN(ASSAY_MAX(g, lo), 1.0);
        }
        double I0_hi = assay_value_betainc(hi, a, b), I1_hi = assay_value_betainc(hi, a + 1, b);
        double M0 = I0_hi - I0_lo, M1 = a / (a + b) * (I1_hi - I1_lo);
        double x = h[k].fp / N, y = h[k].tp / N;
        ksum_add(&emp, (p->clv - p->d) * y * M1 - (p->f * y + (p->d + p->f) * x) * M0);
        ksum_add(&frac, (x + y) * M0);
        lo = hi;
        I0_lo = I0_hi;
        I1_lo = I1_hi;
    }
    out->emp = ksum_get(&emp);
    out->frac = ksum_get(&frac);
    assay_free(s);
    assay_free(h);
    return ASSAY_OK;
}

/* ---- report helpers ----------------------------------------------------------------------- */

const char *assay_value_format_money(double v, char *buf, size_t cap) {
    ASSAY_ASSERT(buf && cap > 0);
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, cap, "%s", v < 0 ? "-inf" : "inf");
        return buf;
    }
    /* Cents as an exact integer in a double below 9e13 (< 2^53 / 100); beyond, whole units. */
    double a = fabs(v), whole;
    int cents = 0;
    if (a < 9e13) {
        double ca = round(a * 100);
        whole = floor(ca / 100);
        cents = (int)(ca - whole * 100);
    } else {
        whole = round(a);
    }
    char digits[400];
    snprintf(digits, sizeof digits, "%.0f", whole);
    size_t nd = strlen(digits);
    char tmp[512];
    size_t o = 0;
    if (v < 0 && (whole > 0 || cents > 0)) tmp[o++] = '-';
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0) tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    if (cents) o += (size_t)snprintf(tmp + o, sizeof tmp - o, ".%02d", cents);
    tmp[o] = '\0';
    snprintf(buf, cap, "%s", tmp);
    return buf;
}
