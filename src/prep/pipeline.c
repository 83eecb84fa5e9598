/* pipeline.c - fitting and applying the preprocessing pipeline (prep.h).
 *
 * Fit computes, per input column and on the training rows only: imputation values (numpy's
 * median, mean, most frequent with ties -> smallest, or a constant), missing indicators (only
 * for columns that had missing cells, like sklearn's MissingIndicator features='missing-only'),
 * outlier bounds (IQR with numpy's linear percentiles, or z-score), the scaler (StandardScaler
 * with ddof=0, MinMaxScaler, RobustScaler; zero spread -> 1), calendar features of datetimes,
 * and categorical levels in byte-wise sorted order with sklearn 1.2 OneHotEncoder's infrequent
 * grouping. Transform is const, thread-safe, parallel over rows (OpenMP) and allocation-free
 * per row: per-call lookup tables map each table level to an output slot once.
 *
 * Deliberately not here: text featurization (the text module), deduplication (dedup.c),
 * serialization (pipeline_json.c). Outliers are only looked for in numeric columns (not in
 * 0/1 booleans or bounded calendar fields). Indicator features are not scaled; one-hot and
 * ordinal codes are not scaled. Missing cells never raise the unseen-category error. Infinite
 * numbers count as missing. Unseen levels in ordinal encoding get code -1 (unless grouped). */
#include "prep_internal.h"

#include <ctype.h>
#include <errno.h>

/* ---- calendar ---------------------------------------------------------------------------- */

static const char *const k_field_names[PREP_NFIELDS] = {"year", "month", "day", "dayofweek",
                                                        "hour", "minute", "dayofyear"};

const char *assay__prep_field_name(int field) {
    return field >= 0 && field < PREP_NFIELDS ? k_field_names[field] : "value";
}


static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Seconds since the epoch (UTC) -> all calendar fields. Returns 0 for NaN or absurd values. */
static int calendar(double secs, double out[PREP_NFIELDS]) {
    if (!(fabs(secs) < 1e14)) return 0; /* also false for NaN; ~3 million years */
    double fd = floor(secs / 86400.0);
    int64_t days = (int64_t)fd;
    double sod = secs - fd * 86400.0; /* [0, 86400) */
    if (sod < 0) sod = 0;
    if (sod >= 86400.0) sod = 86399.0;
    int64_t y;
    int m, d;
    assay__civil_from_days(days, &y, &m, &d);
    out[PREP_FIELD_YEAR] = (double)y;
    out[PREP_FIELD_MONTH] = m;
    out[PREP_FIELD_DAY] = d;
    out[PREP_FIELD_DAYOFWEEK] = (double)(((days % 7) + 7 + 3) % 7); /* 1970-01-01: Thursday */
    int isod = (int)sod;
    out[PREP_FIELD_HOUR] = isod / 3600;
    out[PREP_FIELD_MINUTE] = (isod / 60) % 60;
    out[PREP_FIELD_DAYOFYEAR] = (double)(days - days_from_civil(y, 1, 1) + 1);
    return 1;
}

/* ---- parsing cells that arrive as text --------------------------------------------------- */

static int parse_digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* ISO 8601 "YYYY-MM-DD[( |T)HH:MM[:SS[.frac]]][Z|(+|-)HH[:]MM]" -> seconds since epoch. */
static int parse_iso_datetime(const char *s, double *out) {
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    double frac = 0, off = 0;
    if (!parse_digits(&p, 4, &y) || *p++ != '-' || !parse_digits(&p, 2, &mo) || *p++ != '-' ||
        !parse_digits(&p, 2, &d))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return 0;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!parse_digits(&p, 2, &h) || *p++ != ':' || !parse_digits(&p, 2, &mi)) return 0;
        if (*p == ':') {
            p++;
            if (!parse_digits(&p, 2, &sec)) return 0;
            if (*p == '.') {
                double scale = 0.1;
                for (p++; isdigit((unsigned char)*p); p++, scale /= 10) frac += (*p - '0') * scale;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return 0;
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (!parse_digits(&p, 2, &oh)) return 0;
            if (*p == ':') p++;
            if (isdigit((unsigned char)*p) && !parse_digits(&p, 2, &om)) return 0;
            off = sign * (oh * 3600.0 + om * 60.0);
        }
    }
    while (isspace((unsigned char)*p)) p++;
    if (*p) return 0;
    *out = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec + frac - off;
    return 1;
}

/* A cell that arrived as text for a number-backed input: NaN when it does not parse. */
static double parse_cell(assay_coltype type, const char *s) {
    if (!s) return NAN;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return NAN;
    if (type == ASSAY_COL_BOOLEAN) {
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "t") ||
            !strcasecmp(s, "y"))
            return 1.0;
        if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "f") ||
            !strcasecmp(s, "n"))
            return 0.0;
    }
    if (type == ASSAY_COL_DATETIME) {
        double v;
        if (parse_iso_datetime(s, &v)) return v;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s) return NAN;
    while (isspace((unsigned char)*end)) end++;
    if (*end || !isfinite(v)) return NAN;
    return v;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* k-th smallest of a[n] (0-based), leaving a partitioned around it: a[0..k) <= a[k] <=
 * a(k..n). Wirth's selection with Hoare partitioning: O(n) on average and balanced on repeated
 * values; a full sort per column made fitting 1M rows several times slower. */
static double select_k(double *a, int64_t n, int64_t k) {
    int64_t l = 0, m = n - 1;
    while (l < m) {
        double x = a[k];
        int64_t i = l, j = m;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                double tmp = a[i];
                a[i] = a[j];
                a[j] = tmp;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) m = j;
    }
    return a[k];
}

/* Smallest of a[from..n) (after select_k(.., from - 1) this is the next order statistic). */
static double min_from(const double *a, int64_t from, int64_t n) {
    double v = a[from];
    for (int64_t i = from + 1; i < n; i++) v = a[i] < v ? a[i] : v;
    return v;
}

/* numpy.percentile(a, q*100), method 'linear' (n >= 1); reorders a. */
static double percentile(double *a, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1) return select_k(a, n, n - 1);
    double v0 = select_k(a, n, lo), v1 = min_from(a, lo + 1, n);
    double t = pos - (double)lo, diff = v1 - v0;
    /* numpy's _lerp: exact at both ends */
    return t >= 0.5 ? v1 - diff * (1.0 - t) : v0 + diff * t;
}

/* numpy.median (the two middle values averaged); reorders a. */
static double median(double *a, int64_t n) {
    if (n % 2) return select_k(a, n, n / 2);
    double v0 = select_k(a, n, n / 2 - 1);
    return (v0 + min_from(a, n / 2, n)) / 2.0;
}

static double mean_of(const double *a, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i];
    return s / (double)n;
}

/* Population standard deviation (ddof = 0), two passes. */
static double std_of(const double *a, int64_t n, double mean) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (a[i] - mean) * (a[i] - mean);
    return sqrt(s / (double)n);
}

/* sklearn's _handle_zeros_in_scale: a spread of (almost) zero becomes 1. */
static double nonzero_scale(double s) {
    return (!(s > 10 * 2.220446049250313e-16) || !isfinite(s)) ? 1.0 : s;
}

static int cell_missing(const assay_column *c, int64_t i) {
    if (c->missing && c->missing[i]) return 1;
    switch (c->type) {
    case ASSAY_COL_CATEGORICAL: return !c->cat || c->cat[i] < 0 || c->cat[i] >= c->nlevels;
    case ASSAY_COL_TEXT: return !c->text || !c->text[i];
    default: return !c->num || !isfinite(c->num[i]); /* +-inf counts as missing */
    }
}

static char *name_printf(const char *a, const char *sep, const char *b) {
    size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
    char *s = assay_malloc(la + ls + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, sep, ls);
    memcpy(s + la + ls, b, lb + 1);
    return s;
}

/* ---- pipeline object --------------------------------------------------------------------- */

static void input_deinit(prep_input *in) {
    assay_free(in->name);
    assay_free(in->sub);
    if (in->levels)
        for (int32_t i = 0; i < in->nlevels; i++) assay_free(in->levels[i]);
    assay_free(in->levels);
    assay_free(in->code);
    assay_free(in->fill);
    assay_vectorizer_free(in->vec);
    memset(in, 0, sizeof *in);
}

void assay__prep_pipeline_free(assay_pipeline *p) {
    if (!p) return;
    if (p->in)
        for (int i = 0; i < p->ninputs; i++) input_deinit(&p->in[i]);
    assay_free(p->in);
    if (p->feat_names)
        for (int64_t j = 0; j < p->nfeat; j++) assay_free(p->feat_names[j]);
    assay_free(p->feat_names);
    assay_free(p);
}

void assay_pipeline_free(assay_pipeline *p) { assay__prep_pipeline_free(p); }

int64_t assay_pipeline_nfeatures(const assay_pipeline *p) { return p ? p->nfeat : 0; }

int32_t assay_pipeline_feature_categories(const assay_pipeline *p, int64_t j) {
    if (!p || j < 0 || j >= p->nfeat) return 0;
    for (int i = 0; i < p->ninputs; i++) {
        const prep_input *in = &p->in[i];
        if (j >= in->feat0 && j < in->feat0 + in->nfeat)
            return in->type == ASSAY_COL_CATEGORICAL && in->encode == ASSAY_ENCODE_NATIVE &&
                           j == in->feat0
                       ? in->nkept + in->has_infrequent
                       : 0;
    }
    return 0;
}

const char *assay_pipeline_feature_name(const assay_pipeline *p, int64_t j) {
    if (!p || j < 0 || j >= p->nfeat) return NULL;
    return p->feat_names[j];
}

int assay_pipeline_ninputs(const assay_pipeline *p) { return p ? p->ninputs : 0; }

const char *assay_pipeline_input_name(const assay_pipeline *p, int i) {
    if (!p || i < 0 || i >= p->ninputs) return NULL;
    return p->in[i].name;
}

assay_coltype assay_pipeline_input_type(const assay_pipeline *p, int i) {
    if (!p || i < 0 || i >= p->ninputs) return ASSAY_COLTYPE_COUNT;
    return p->in[i].type;
}

int32_t assay__prep_level_code(const prep_input *in, const char *s) {
    int32_t lo = 0, hi = in->nlevels - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(in->levels[mid], s);
        if (c == 0) return in->code[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static int input_nfeat(const prep_input *in) {
    int n;
    if (in->type == ASSAY_COL_TEXT) return (int)assay_vectorizer_nfeatures(in->vec);
    if (in->type == ASSAY_COL_CATEGORICAL)
        n = in->encode != ASSAY_ENCODE_ONEHOT ? 1 : in->nkept + in->has_infrequent;
    else {
        n = in->nsub;
        for (int s = 0; s < in->nsub; s++) n += in->sub[s].outlier == PREP_OUT_FLAG;
    }
    return n + (in->indicator != 0);
}

int assay__prep_layout(assay_pipeline *p, assay_error *err) {
    int64_t nf = 0;
    for (int i = 0; i < p->ninputs; i++) {
        p->in[i].feat0 = nf;
        p->in[i].nfeat = input_nfeat(&p->in[i]);
        nf += p->in[i].nfeat;
    }
    p->feat_names = assay_calloc(nf ? (size_t)nf : 1, sizeof *p->feat_names);
    if (!p->feat_names) return assay_error_set(err, ASSAY_ENOMEM, "pipeline: out of memory");
    p->nfeat = nf;
    int64_t j = 0;
    for (int i = 0; i < p->ninputs; i++) {
        const prep_input *in = &p->in[i];
        if (in->type == ASSAY_COL_TEXT) { /* "review:great", or "review#123" for hashed columns */
            for (int64_t k = 0; k < in->nfeat; k++) {
                const char *term = assay_vectorizer_term(in->vec, k);
                char num[24];
                snprintf(num, sizeof num, "%lld", (long long)k);
                p->feat_names[j++] = term ? name_printf(in->name, ":", term) : name_printf(in->name, "#", num);
            }
            continue;
        }
        if (in->type == ASSAY_COL_CATEGORICAL) {
            if (in->encode != ASSAY_ENCODE_ONEHOT) {
                p->feat_names[j++] = assay_strdup(in->name);
            } else {
                /* levels are sorted, so kept codes come out in level order */
                for (int32_t l = 0; l < in->nlevels; l++)
                    if (in->code[l] < in->nkept)
                        p->feat_names[in->feat0 + in->code[l]] = name_printf(in->name, "=",
                                                                             in->levels[l]);
                j += in->nkept;
                if (in->has_infrequent) p->feat_names[j++] = name_printf(in->name, "_", "infrequent");
            }
        } else {
            for (int s = 0; s < in->nsub; s++) {
                if (in->sub[s].field == PREP_FIELD_VALUE)
                    p->feat_names[j++] = assay_strdup(in->name);
                else
                    p->feat_names[j++] = name_printf(in->name, ".",
                                                     assay__prep_field_name(in->sub[s].field));
            }
            for (int s = 0; s < in->nsub; s++)
                if (in->sub[s].outlier == PREP_OUT_FLAG)
                    p->feat_names[j++] = name_printf(in->name, "_", "outlier");
        }
        if (in->indicator) p->feat_names[j++] = name_printf(in->name, "_", "missing");
    }
    for (int64_t k = 0; k < nf; k++)
        if (!p->feat_names[k]) return assay_error_set(err, ASSAY_ENOMEM, "pipeline: out of memory");
    return ASSAY_OK;
}

/* ---- fitting ----------------------------------------------------------------------------- */

static const char *options_check(const assay_prep_options *o) {
    if ((unsigned)o->impute_numeric > ASSAY_IMPUTE_NONE) return "impute_numeric: unknown value";
    if (o->impute_categorical != ASSAY_IMPUTE_MOST_FREQUENT &&
        o->impute_categorical != ASSAY_IMPUTE_CONSTANT && o->impute_categorical != ASSAY_IMPUTE_NONE)
        return "impute_categorical: must be most_frequent, constant or none";
    if (!isfinite(o->impute_constant)) return "impute_constant: must be finite";
    if ((unsigned)o->outliers > ASSAY_OUTLIER_ZSCORE) return "outliers: unknown value";
    if ((unsigned)o->outlier_action > ASSAY_OUTLIER_CLIP) return "outlier_action: unknown value";
    if (!(o->outlier_threshold >= 0) || !isfinite(o->outlier_threshold))
        return "outlier_threshold: must be a finite number >= 0";
    if ((unsigned)o->scale > ASSAY_SCALE_ROBUST) return "scale: unknown value";
    if ((unsigned)o->encode > ASSAY_ENCODE_NATIVE) return "encode: unknown value";
    if (!(o->min_frequency >= 0) || !isfinite(o->min_frequency))
        return "min_frequency: must be a count >= 1 or a fraction in [0, 1)";
    if (o->max_categories < 0) return "max_categories: must be >= 0";
    if ((unsigned)o->unseen > ASSAY_UNSEEN_ERROR) return "unseen: unknown value";
    if (o->datetime_features & ~127u) return "datetime_features: unknown bits";
    return NULL;
}

enum { SUB_OK = 0, SUB_CONSTANT, SUB_ALL_MISSING };

/* Fit one numeric sub-feature on v[n] (NaN = missing). scratch: 2n doubles. */
static int fit_sub(const assay_prep_options *opt, int outliers, const double *v, int64_t n,
                   double *scratch, prep_numsub *s, int64_t *n_outliers) {
    double *pres = scratch, *x = scratch + n;
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(v[i])) pres[np++] = v[i];
    if (np == 0) return SUB_ALL_MISSING;
    double vmin = pres[0], vmax = pres[0];
    for (int64_t i = 1; i < np; i++) vmin = pres[i] < vmin ? pres[i] : vmin, vmax = pres[i] > vmax ? pres[i] : vmax;
    if (vmin == vmax) return SUB_CONSTANT;

    switch (opt->impute_numeric) {
    case ASSAY_IMPUTE_MEAN: s->fill = mean_of(pres, np); break;
    case ASSAY_IMPUTE_CONSTANT: s->fill = opt->impute_constant; break;
    case ASSAY_IMPUTE_NONE: s->fill = NAN; break;
    case ASSAY_IMPUTE_MOST_FREQUENT: {
        /* ties -> smallest value: the first run of the maximal length in sorted order */
        qsort(pres, (size_t)np, sizeof *pres, cmp_double);
        int64_t best = 0;
        double bv = pres[0];
        for (int64_t i = 0; i < np;) {
            int64_t j = i;
            while (j < np && pres[j] == pres[i]) j++;
            if (j - i > best) best = j - i, bv = pres[i];
            i = j;
        }
        s->fill = bv;
        break;
    }
    default: s->fill = median(pres, np); break;
    }

    s->outlier = PREP_OUT_NONE;
    s->lo = s->hi = 0;
    *n_outliers = 0;
    if (outliers && opt->outliers != ASSAY_OUTLIER_NONE) {
        double k = opt->outlier_threshold;
        if (opt->outliers == ASSAY_OUTLIER_IQR) {
            if (k == 0) k = 1.5;
            double q1 = percentile(pres, np, 0.25), q3 = percentile(pres, np, 0.75);
            s->lo = q1 - k * (q3 - q1);
            s->hi = q3 + k * (q3 - q1);
        } else {
            if (k == 0) k = 3.0;
            double m = mean_of(pres, np), sd = std_of(pres, np, m);
            s->lo = m - k * sd;
            s->hi = m + k * sd;
        }
        s->outlier = opt->outlier_action == ASSAY_OUTLIER_CLIP ? PREP_OUT_CLIP : PREP_OUT_FLAG;
        for (int64_t i = 0; i < np; i++) *n_outliers += pres[i] < s->lo || pres[i] > s->hi;
    }

    /* the values the scaler sees: imputed (or, without imputation, only the present ones),
     * clipped */
    int64_t nx = 0;
    for (int64_t i = 0; i < n; i++) {
        double xi = v[i];
        if (isnan(xi)) xi = s->fill;
        else if (s->outlier == PREP_OUT_CLIP) xi = xi < s->lo ? s->lo : xi > s->hi ? s->hi : xi;
        if (!isnan(xi)) x[nx++] = xi;
    }
    n = nx;
    s->center = 0;
    s->scale = 1;
    switch (opt->scale) {
    case ASSAY_SCALE_STANDARD:
        s->center = mean_of(x, n);
        s->scale = nonzero_scale(std_of(x, n, s->center));
        break;
    case ASSAY_SCALE_MINMAX: {
        double lo = x[0], hi = x[0];
        for (int64_t i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
        s->center = lo;
        s->scale = nonzero_scale(hi - lo);
        break;
    }
    case ASSAY_SCALE_ROBUST:
        s->center = median(x, n);
        s->scale = nonzero_scale(percentile(x, n, 0.75) - percentile(x, n, 0.25));
        break;
    default: break;
    }
    return SUB_OK;
}

typedef struct lvcount {
    const char *name;
    int64_t count;
    int32_t idx; /* position in sorted order (for the stable sort by count) */
} lvcount;

static int cmp_lv_name(const void *a, const void *b) {
    return strcmp(((const lvcount *)a)->name, ((const lvcount *)b)->name);
}

static int cmp_lv_count(const void *a, const void *b) {
    const lvcount *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static const char k_missing_level[] = "missing";

/* Categorical column: sorted levels, imputation, infrequent grouping (sklearn 1.2). */
static int fit_categorical(const assay_prep_options *opt, const assay_column *c, const int64_t *rows,
                           int64_t n, prep_input *in, assay_prep_column_report *rep,
                           const char **skip, assay_error *err) {
    int rc = ASSAY_ENOMEM;
    int64_t *cnt = assay_calloc((size_t)c->nlevels + 1, sizeof *cnt);
    lvcount *lv = assay_calloc((size_t)c->nlevels + 2, sizeof *lv);
    lvcount *byc = NULL;
    if (!cnt || !lv) goto fail;
    int64_t nmiss = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t i = rows ? rows[r] : r;
        if (cell_missing(c, i)) nmiss++;
        else cnt[c->cat[i]]++;
    }
    rep->n_missing = nmiss;
    int32_t nl = 0;
    for (int32_t l = 0; l < c->nlevels; l++)
        if (cnt[l] > 0) lv[nl].name = c->levels[l] ? c->levels[l] : "", lv[nl++].count = cnt[l];
    if (nl == 0) {
        *skip = "all missing";
        rc = ASSAY_OK;
        goto fail;
    }
    qsort(lv, (size_t)nl, sizeof *lv, cmp_lv_name);
    int32_t m = 0; /* merge levels that are equal strings */
    for (int32_t l = 0; l < nl; l++) {
        if (m > 0 && strcmp(lv[m - 1].name, lv[l].name) == 0) lv[m - 1].count += lv[l].count;
        else lv[m++] = lv[l];
    }
    nl = m;
    if (n - nmiss >= 50 && nl == n - nmiss) { /* every value distinct: an id, not a category */
        *skip = "an identifier (every value distinct)";
        rc = ASSAY_OK;
        goto fail;
    }
    const char *fill;
    if (opt->impute_categorical == ASSAY_IMPUTE_CONSTANT) {
        fill = k_missing_level;
        if (nmiss > 0) {
            int32_t pos = 0;
            while (pos < nl && strcmp(lv[pos].name, fill) < 0) pos++;
            if (pos < nl && strcmp(lv[pos].name, fill) == 0) {
                lv[pos].count += nmiss;
            } else {
                memmove(lv + pos + 1, lv + pos, (size_t)(nl - pos) * sizeof *lv);
                lv[pos].name = fill;
                lv[pos].count = nmiss;
                nl++;
            }
        }
    } else if (opt->impute_categorical == ASSAY_IMPUTE_NONE) {
        fill = NULL;
        in->indicator = opt->missing_indicator && nmiss > 0;
    } else {
        int32_t best = 0;
        for (int32_t l = 1; l < nl; l++)
            if (lv[l].count > lv[best].count) best = l;
        fill = lv[best].name;
        lv[best].count += nmiss;
        in->indicator = opt->missing_indicator && nmiss > 0;
    }
    if (nl < 2) {
        *skip = "constant";
        in->indicator = 0;
        rc = ASSAY_OK;
        goto fail;
    }

    /* infrequent grouping, as sklearn 1.2 OneHotEncoder._identify_infrequent */
    uint8_t *infreq = (uint8_t *)cnt; /* reuse: nl <= nlevels + 1 bytes fit */
    memset(infreq, 0, (size_t)nl);
    int32_t ninf = 0;
    for (int32_t l = 0; l < nl; l++) {
        if (opt->min_frequency >= 1) infreq[l] = (double)lv[l].count < opt->min_frequency;
        else if (opt->min_frequency > 0) infreq[l] = (double)lv[l].count < (double)n * opt->min_frequency;
        ninf += infreq[l];
    }
    int32_t ncur = nl - ninf + 1;
    int maxc = opt->max_categories; /* native codes fit in a byte-sized bin */
    if (opt->encode == ASSAY_ENCODE_NATIVE && (maxc == 0 || maxc > ASSAY_NATIVE_MAX_CATEGORIES))
        maxc = ASSAY_NATIVE_MAX_CATEGORIES;
    if (maxc > 0 && maxc < ncur && maxc > 1) {
        byc = assay_mallocarray((size_t)nl, sizeof *byc);
        if (!byc) goto fail;
        for (int32_t l = 0; l < nl; l++) byc[l] = lv[l], byc[l].idx = l;
        qsort(byc, (size_t)nl, sizeof *byc, cmp_lv_count); /* stable: ties by position */
        for (int32_t l = 0; l < nl - maxc + 1; l++) infreq[byc[l].idx] = 1;
    }

    in->levels = assay_calloc((size_t)nl, sizeof *in->levels);
    in->code = assay_calloc((size_t)nl, sizeof *in->code);
    in->fill = fill ? assay_strdup(fill) : NULL;
    if (!in->levels || !in->code || (fill && !in->fill)) goto fail;
    in->nlevels = nl;
    int32_t nkept = 0;
    for (int32_t l = 0; l < nl; l++) nkept += !infreq[l];
    in->nkept = nkept;
    in->has_infrequent = nkept < nl;
    for (int32_t l = 0, k = 0; l < nl; l++) {
        in->levels[l] = assay_strdup(lv[l].name);
        if (!in->levels[l]) goto fail;
        in->code[l] = infreq[l] ? nkept : k++;
    }
    in->encode = opt->encode;
    in->unseen = opt->unseen;
    rc = ASSAY_OK;
fail:
    if (rc != ASSAY_OK) assay_error_set(err, rc, "pipeline: out of memory fitting column '%s'", c->name);
    assay_free(byc);
    assay_free(lv);
    assay_free(cnt);
    return rc;
}

/* Number-backed column. buf: 4n doubles of scratch. */
static int fit_numeric(const assay_prep_options *opt, const assay_column *c, const int64_t *rows,
                       int64_t n, double *buf, prep_input *in, assay_prep_column_report *rep,
                       const char **skip, assay_error *err) {
    double *raw = buf, *vals = buf + n, *scratch = buf + 2 * n;
    int64_t nmiss = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t i = rows ? rows[r] : r;
        if (cell_missing(c, i)) raw[r] = NAN, nmiss++;
        else raw[r] = c->num[i];
    }
    rep->n_missing = nmiss;
    if (nmiss == n) {
        *skip = "all missing";
        return ASSAY_OK;
    }
    int fields[PREP_NFIELDS], nf = 0;
    if (c->type == ASSAY_COL_DATETIME) {
        for (int f = 0; f < PREP_NFIELDS; f++)
            if (opt->datetime_features & (1u << f)) fields[nf++] = f;
        if (nf == 0) {
            *skip = "no datetime features selected";
            return ASSAY_OK;
        }
    } else {
        fields[nf++] = PREP_FIELD_VALUE;
    }
    in->sub = assay_calloc((size_t)nf, sizeof *in->sub);
    if (!in->sub) return assay_error_set(err, ASSAY_ENOMEM, "pipeline: out of memory fitting column '%s'", c->name);
    int any_missing_after = 0;
    for (int k = 0; k < nf; k++) {
        const double *v = raw;
        if (fields[k] != PREP_FIELD_VALUE) {
            double cal[PREP_NFIELDS];
            for (int64_t r = 0; r < n; r++) {
                vals[r] = calendar(raw[r], cal) ? cal[fields[k]] : NAN;
                any_missing_after |= isnan(vals[r]) && !isnan(raw[r]);
            }
            v = vals;
        }
        prep_numsub *s = &in->sub[in->nsub];
        int64_t nout = 0;
        int st = fit_sub(opt, c->type == ASSAY_COL_NUMERIC, v, n, scratch, s, &nout);
        if (st != SUB_OK) continue;
        s->field = fields[k];
        rep->n_outliers += nout;
        in->nsub++;
    }
    if (in->nsub == 0) {
        *skip = "constant";
        return ASSAY_OK;
    }
    in->indicator = opt->missing_indicator && (nmiss > 0 || any_missing_after);
    return ASSAY_OK;
}

int assay_pipeline_fit(const assay_prep_options *opt, const assay_table *t, const int64_t *rows,
                       int64_t nrows, const char *const *exclude, int nexclude,
                       assay_pipeline **out, assay_prep_report *report, assay_error *err) {
    int rc = ASSAY_ENOMEM;
    assay_pipeline *p = NULL;
    double *buf = NULL;
    assay_prep_report rep = {0};
    assay_prep_options defaults;
    if (out) *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    if (!opt) {
        assay_prep_options_init(&defaults);
        opt = &defaults;
    }
    if (!t || !out) return assay_error_set(err, ASSAY_EINVAL, "pipeline: no table or output");
    const char *why = options_check(opt);
    if (why) return assay_error_set(err, ASSAY_EINVAL, "prep options: %s", why);
    if (!rows) nrows = t->nrows;
    if (nrows <= 0) return assay_error_set(err, ASSAY_EINVAL, "pipeline: no training rows");
    if (rows)
        for (int64_t r = 0; r < nrows; r++)
            if (rows[r] < 0 || rows[r] >= t->nrows)
                return assay_error_set(err, ASSAY_EINVAL,
                                       "pipeline: row index %lld out of range (table has %lld rows)",
                                       (long long)rows[r], (long long)t->nrows);

    p = assay_calloc(1, sizeof *p);
    rep.columns = assay_calloc(t->ncols ? (size_t)t->ncols : 1, sizeof *rep.columns);
    if (!p || !rep.columns) goto nomem;
    p->in = assay_calloc((size_t)t->ncols + 1, sizeof *p->in); /* +1: slot being fitted */
    buf = assay_mallocarray((size_t)nrows * 4, sizeof *buf);
    if (!p->in || !buf) goto nomem;
    rep.rows_in = nrows;

    for (int ci = 0; ci < t->ncols; ci++) {
        const assay_column *c = &t->cols[ci];
        const char *cname = c->name ? c->name : "";
        int excluded = 0;
        for (int e = 0; e < nexclude; e++)
            if (exclude && exclude[e] && strcmp(exclude[e], cname) == 0) excluded = 1;
        if (excluded) continue;
        assay_prep_column_report *cr = &rep.columns[rep.ncolumns++];
        snprintf(cr->name, sizeof cr->name, "%s", cname);
        cr->type = c->type;
        prep_input *in = &p->in[p->ninputs];
        memset(in, 0, sizeof *in);
        in->type = c->type;
        const char *skip = NULL;
        if (c->type == ASSAY_COL_TEXT) {
            int64_t nm = 0;
            const char **docs = assay_mallocarray((size_t)nrows, sizeof *docs);
            if (!docs) goto nomem;
            for (int64_t r = 0; r < nrows; r++) {
                int64_t i = rows ? rows[r] : r;
                nm += cell_missing(c, i);
                docs[r] = cell_missing(c, i) ? NULL : c->text[i];
            }
            cr->n_missing = nm;
            assay_error verr = {0};
            int vrc = assay_vectorizer_fit(&opt->text, docs, nrows, &in->vec, &verr);
            assay_free(docs);
            if (vrc == ASSAY_EINVAL && strstr(verr.msg, "no term is left")) {
                skip = "text without enough recurring words";
            } else if (vrc) {
                rc = assay_error_set(err, vrc, "column '%s': %s", cname, verr.msg);
                goto fail;
            }
        } else if (c->type == ASSAY_COL_CATEGORICAL) {
            if ((rc = fit_categorical(opt, c, rows, nrows, in, cr, &skip, err)) != ASSAY_OK) goto fail;
        } else if (c->type == ASSAY_COL_NUMERIC || c->type == ASSAY_COL_BOOLEAN ||
                   c->type == ASSAY_COL_DATETIME) {
            if ((rc = fit_numeric(opt, c, rows, nrows, buf, in, cr, &skip, err)) != ASSAY_OK) goto fail;
        } else {
            skip = "unknown column type";
        }
        if (skip) {
            cr->skipped = 1;
            snprintf(cr->skip_reason, sizeof cr->skip_reason, "%s", skip);
            input_deinit(in);
            continue;
        }
        if (!(in->name = assay_strdup(cname))) goto nomem;
        cr->n_features = input_nfeat(in);
        p->ninputs++;
    }
    if ((rc = assay__prep_layout(p, err)) != ASSAY_OK) goto fail;
    if (p->nfeat == 0) {
        rc = assay_error_set(err, ASSAY_EINVAL, "pipeline: no column produced a feature "
                                                "(all are excluded, constant or missing)");
        goto fail;
    }
    assay_free(buf);
    *out = p;
    if (report) *report = rep;
    else assay_prep_report_deinit(&rep);
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "pipeline: out of memory");
fail:
    assay_free(buf);
    if (p && p->in) input_deinit(&p->in[p->ninputs]); /* the column being fitted */
    assay__prep_pipeline_free(p);
    assay_prep_report_deinit(&rep);
    return rc;
}

/* ---- transform --------------------------------------------------------------------------- */

enum { SRC_NUM = 0,  /* number-backed input from num[] */
       SRC_LEVEL,    /* from a categorical column through a per-level table */
       SRC_TEXTNUM,  /* number-backed input parsed from text per row */
       SRC_CAT_NUM,  /* categorical input from num[], formatted per row */
       SRC_CAT_TEXT  /* categorical input looked up from text per row */
};

/* Unseen-category marker in the per-level tables. */
#define CODE_UNSEEN_ERROR (-2)

typedef struct tplan {
    const assay_column *col;
    int src;
    double *lvnum;   /* SRC_LEVEL, number-backed: value per table level */
    int32_t *lvcode; /* SRC_LEVEL, categorical: code per table level (-1 none, -2 error) */
    int32_t fill_code; /* categorical: code for missing cells (-1: all zeros) */
} tplan;

/* Code for a level seen or not, with the unseen policy applied. */
static int32_t resolve_code(const prep_input *in, int32_t code) {
    if (code >= 0) return code;
    if (in->unseen == ASSAY_UNSEEN_ERROR) return CODE_UNSEEN_ERROR;
    if (in->unseen == ASSAY_UNSEEN_INFREQUENT && in->has_infrequent) return in->nkept;
    return -1;
}

static const char *format_value(const assay_column *c, double v, char *buf, size_t cap) {
    if (c->type == ASSAY_COL_BOOLEAN) return v != 0 ? "true" : "false";
    return assay__format_number(v, buf, cap);
}

/* Writes one input's features for table row i into x (in->nfeat floats). Returns 0, or 1 when
 * a present value is an unseen category under ASSAY_UNSEEN_ERROR. */
static int transform_cell(const prep_input *in, const tplan *pl, int64_t i, float *x) {
    const assay_column *c = pl->col;
    int miss = cell_missing(c, i);
    if (in->type == ASSAY_COL_CATEGORICAL) {
        int32_t code;
        if (miss) {
            code = pl->fill_code;
        } else {
            char nb[64];
            switch (pl->src) {
            case SRC_LEVEL: code = pl->lvcode[c->cat[i]]; break;
            case SRC_CAT_NUM:
                code = resolve_code(in, assay__prep_level_code(in, format_value(c, c->num[i], nb, sizeof nb)));
                break;
            default: code = resolve_code(in, assay__prep_level_code(in, c->text[i])); break;
            }
            if (code == CODE_UNSEEN_ERROR) return 1;
        }
        int k = 0;
        if (in->encode == ASSAY_ENCODE_ORDINAL) {
            x[k++] = (float)code;
        } else if (in->encode == ASSAY_ENCODE_NATIVE) {
            x[k++] = code >= 0 ? (float)code : NAN;
        } else {
            int nk = in->nkept + in->has_infrequent;
            for (int j = 0; j < nk; j++) x[j] = 0.0f;
            if (code >= 0) x[code] = 1.0f;
            k = nk;
        }
        if (in->indicator) x[k] = miss ? 1.0f : 0.0f;
        return 0;
    }
    double v;
    if (miss) v = NAN;
    else if (pl->src == SRC_NUM) v = c->num[i];
    else if (pl->src == SRC_LEVEL) v = pl->lvnum[c->cat[i]];
    else v = parse_cell(in->type, c->text[i]);
    double cal[PREP_NFIELDS];
    int calok = in->type == ASSAY_COL_DATETIME ? calendar(v, cal) : 0;
    int anymiss = isnan(v);
    int k = in->nsub;
    for (int s = 0; s < in->nsub; s++) {
        const prep_numsub *sb = &in->sub[s];
        double xv = sb->field == PREP_FIELD_VALUE ? v : calok ? cal[sb->field] : NAN;
        int flag = 0;
        if (isnan(xv)) {
            xv = sb->fill;
            anymiss = 1;
        } else if (sb->outlier != PREP_OUT_NONE && (xv < sb->lo || xv > sb->hi)) {
            if (sb->outlier == PREP_OUT_CLIP) xv = xv < sb->lo ? sb->lo : sb->hi;
            else flag = 1;
        }
        x[s] = (float)((xv - sb->center) / sb->scale);
        if (sb->outlier == PREP_OUT_FLAG) x[k++] = flag ? 1.0f : 0.0f;
    }
    if (in->indicator) x[k] = anymiss ? 1.0f : 0.0f;
    return 0;
}

static int find_column(const assay_table *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (t->cols[c].name && strcmp(t->cols[c].name, name) == 0) return c;
    return -1;
}

static void free_plans(const assay_pipeline *p, tplan *plan) {
    for (int k = 0; plan && k < p->ninputs; k++) {
        assay_free(plan[k].lvnum);
        assay_free(plan[k].lvcode);
    }
    assay_free(plan);
}

/* Checks the arguments and builds one plan per input (text inputs: only the column). */
static int make_plans(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                      int64_t nrows, tplan **out, assay_error *err) {
    *out = NULL;
    if (nrows < 0) return assay_error_set(err, ASSAY_EINVAL, "pipeline transform: negative row count");
    if (rows)
        for (int64_t r = 0; r < nrows; r++)
            if (rows[r] < 0 || rows[r] >= t->nrows)
                return assay_error_set(err, ASSAY_EINVAL,
                                       "pipeline transform: row index %lld out of range (table has %lld rows)",
                                       (long long)rows[r], (long long)t->nrows);
    int rc = ASSAY_OK;
    tplan *plan = assay_calloc(p->ninputs ? (size_t)p->ninputs : 1, sizeof *plan);
    if (!plan) return assay_error_set(err, ASSAY_ENOMEM, "pipeline transform: out of memory");
    for (int k = 0; k < p->ninputs; k++) {
        const prep_input *in = &p->in[k];
        tplan *pl = &plan[k];
        int ci = find_column(t, in->name);
        if (ci < 0) {
            rc = assay_error_set(err, ASSAY_ESCHEMA, "input column '%s' is missing", in->name);
            goto fail;
        }
        const assay_column *c = pl->col = &t->cols[ci];
        int from_num = c->type == ASSAY_COL_NUMERIC || c->type == ASSAY_COL_BOOLEAN ||
                       c->type == ASSAY_COL_DATETIME;
        if ((from_num && !c->num) || (c->type == ASSAY_COL_CATEGORICAL && !c->cat && c->nlevels) ||
            (c->type == ASSAY_COL_TEXT && !c->text) || c->type >= ASSAY_COLTYPE_COUNT) {
            rc = assay_error_set(err, ASSAY_ESCHEMA, "input column '%s': %s column has no data",
                                 in->name, assay_coltype_name(c->type));
            goto fail;
        }
        if (in->type == ASSAY_COL_TEXT) {
            if (from_num) {
                rc = assay_error_set(err, ASSAY_ESCHEMA, "input column '%s': text was expected, the "
                                     "data has a %s column", in->name, assay_coltype_name(c->type));
                goto fail;
            }
            continue;
        }
        if (in->type == ASSAY_COL_CATEGORICAL) {
            pl->fill_code = in->fill ? assay__prep_level_code(in, in->fill) : -1;
            if (pl->fill_code < 0 && in->unseen == ASSAY_UNSEEN_INFREQUENT && in->has_infrequent)
                pl->fill_code = in->nkept;
            if (c->type == ASSAY_COL_CATEGORICAL) {
                pl->src = SRC_LEVEL;
                pl->lvcode = assay_mallocarray(c->nlevels ? (size_t)c->nlevels : 1, sizeof *pl->lvcode);
                if (!pl->lvcode) goto nomem;
                for (int32_t l = 0; l < c->nlevels; l++)
                    pl->lvcode[l] = resolve_code(in, c->levels[l] ? assay__prep_level_code(in, c->levels[l]) : -1);
            } else {
                pl->src = from_num ? SRC_CAT_NUM : SRC_CAT_TEXT;
            }
        } else {
            if (from_num) {
                pl->src = SRC_NUM;
            } else if (c->type == ASSAY_COL_CATEGORICAL) {
                pl->src = SRC_LEVEL;
                pl->lvnum = assay_mallocarray(c->nlevels ? (size_t)c->nlevels : 1, sizeof *pl->lvnum);
                if (!pl->lvnum) goto nomem;
                for (int32_t l = 0; l < c->nlevels; l++) pl->lvnum[l] = parse_cell(in->type, c->levels[l]);
            } else {
                pl->src = SRC_TEXTNUM;
            }
        }
    }
    *out = plan;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "pipeline transform: out of memory");
fail:
    free_plans(p, plan);
    return rc;
}

/* The error for the first (row, input) holding a category unseen in training. */
static int unseen_error(const assay_pipeline *p, const tplan *plan, const int64_t *rows,
                        int64_t first_bad, assay_error *err) {
    const int64_t nin = p->ninputs;
    int64_t r = first_bad / nin, i = rows ? rows[r] : r;
    const prep_input *in = &p->in[first_bad % nin];
    const assay_column *c = plan[first_bad % nin].col;
    char vb[64];
    const char *val = c->type == ASSAY_COL_CATEGORICAL ? c->levels[c->cat[i]]
                      : c->type == ASSAY_COL_TEXT      ? c->text[i]
                                                       : format_value(c, c->num[i], vb, sizeof vb);
    return assay_error_set(err, ASSAY_ESCHEMA, "column '%s': value '%s' in row %lld was not seen in training",
                           in->name, val ? val : "", (long long)i + 1);
}

int assay_pipeline_sparse(const assay_pipeline *p) {
    for (int k = 0; p && k < p->ninputs; k++)
        if (p->in[k].type == ASSAY_COL_TEXT) return 1;
    return 0;
}

int assay_pipeline_transform(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                             int64_t nrows, float *X, assay_error *err) {
    if (!p || !t || (!X && nrows > 0 && p->nfeat > 0))
        return assay_error_set(err, ASSAY_EINVAL, "pipeline transform: missing argument");
    if (assay_pipeline_sparse(p))
        return assay_error_set(err, ASSAY_EINVAL, "pipeline transform: text inputs give a sparse "
                               "design (use the CSR transform)");
    if (!rows) nrows = t->nrows;
    tplan *plan;
    int rc = make_plans(p, t, rows, nrows, &plan, err);
    if (rc) return rc;
    /* first failing (row, input) in row-major order; INT64_MAX: none */
    int64_t first_bad = INT64_MAX;
    const int64_t nin = p->ninputs, D = p->nfeat;
#pragma omp parallel for schedule(static) reduction(min : first_bad) if (nrows > 64)
    for (int64_t r = 0; r < nrows; r++) {
        int64_t i = rows ? rows[r] : r;
        float *xr = X + r * D;
        for (int64_t k = 0; k < nin; k++) {
            const prep_input *in = &p->in[k];
            if (transform_cell(in, &plan[k], i, xr + in->feat0) && r * nin + k < first_bad)
                first_bad = r * nin + k;
        }
    }
    if (first_bad != INT64_MAX) rc = unseen_error(p, plan, rows, first_bad, err);
    free_plans(p, plan);
    return rc;
}

/* The documents of a text input for rows (NULL: missing). */
static const char **text_docs(const assay_column *c, const int64_t *rows, int64_t n) {
    const char **d = assay_mallocarray(n ? (size_t)n : 1, sizeof *d);
    for (int64_t r = 0; d && r < n; r++) {
        int64_t i = rows ? rows[r] : r;
        if (cell_missing(c, i)) d[r] = NULL;
        else if (c->type == ASSAY_COL_TEXT) d[r] = c->text[i];
        else d[r] = c->cat && c->levels && c->cat[i] >= 0 && c->cat[i] < c->nlevels ? c->levels[c->cat[i]] : NULL;
    }
    return d;
}

int assay_pipeline_transform_csr(const assay_pipeline *p, const assay_table *t, const int64_t *rows,
                                 int64_t nrows, assay_csr *out, assay_error *err) {
    memset(out, 0, sizeof *out);
    if (!p || !t) return assay_error_set(err, ASSAY_EINVAL, "pipeline transform: missing argument");
    if (p->nfeat > INT32_MAX) return assay_error_set(err, ASSAY_EINVAL, "pipeline transform: too many features");
    if (!rows) nrows = t->nrows;
    tplan *plan;
    int rc = make_plans(p, t, rows, nrows, &plan, err);
    if (rc) return rc;
    assay_csr *tx = assay_calloc((size_t)p->ninputs + 1, sizeof *tx);
    int maxw = 1;
    for (int k = 0; k < p->ninputs; k++)
        if (p->in[k].type != ASSAY_COL_TEXT && p->in[k].nfeat > maxw) maxw = p->in[k].nfeat;
    float *cell = assay_mallocarray((size_t)maxw, sizeof *cell);
    int64_t *indptr = assay_calloc((size_t)nrows + 1, sizeof *indptr);
    assay_buf idx = {0}, val = {0};
    if (!tx || !cell || !indptr) rc = assay_error_set(err, ASSAY_ENOMEM, "pipeline transform: out of memory");
    /* text inputs: all rows at once (the vectorizer's scratch is per call) */
    for (int k = 0; !rc && k < p->ninputs; k++) {
        if (p->in[k].type != ASSAY_COL_TEXT) continue;
        const char **docs = text_docs(plan[k].col, rows, nrows);
        if (!docs) rc = assay_error_set(err, ASSAY_ENOMEM, "pipeline transform: out of memory");
        else rc = assay_vectorizer_transform(p->in[k].vec, docs, nrows, &tx[k], err);
        assay_free((void *)docs);
    }
    int64_t first_bad = INT64_MAX;
    for (int64_t r = 0; !rc && r < nrows; r++) {
        int64_t i = rows ? rows[r] : r;
        for (int k = 0; !rc && k < p->ninputs; k++) {
            const prep_input *in = &p->in[k];
            if (in->type == ASSAY_COL_TEXT) {
                for (int64_t q = tx[k].indptr[r]; q < tx[k].indptr[r + 1] && !rc; q++) {
                    int32_t j = (int32_t)(in->feat0 + tx[k].indices[q]);
                    if (assay_buf_append(&idx, &j, sizeof j) || assay_buf_append(&val, &tx[k].values[q], sizeof(float)))
                        rc = ASSAY_ENOMEM;
                }
                continue;
            }
            if (transform_cell(in, &plan[k], i, cell) && first_bad == INT64_MAX) first_bad = r * p->ninputs + k;
            for (int f = 0; f < in->nfeat && !rc; f++) {
                if (cell[f] == 0.0f) continue;
                int32_t j = (int32_t)(in->feat0 + f);
                if (assay_buf_append(&idx, &j, sizeof j) || assay_buf_append(&val, &cell[f], sizeof(float)))
                    rc = ASSAY_ENOMEM;
            }
        }
        indptr[r + 1] = (int64_t)(idx.len / sizeof(int32_t));
    }
    if (rc == ASSAY_ENOMEM) assay_error_set(err, ASSAY_ENOMEM, "pipeline transform: out of memory");
    if (!rc && first_bad != INT64_MAX) rc = unseen_error(p, plan, rows, first_bad, err);
    for (int k = 0; tx && k < p->ninputs; k++) assay_csr_deinit(&tx[k]);
    assay_free(tx);
    assay_free(cell);
    free_plans(p, plan);
    if (!rc) {
        out->nrows = nrows;
        out->ncols = p->nfeat;
        out->nnz = indptr[nrows];
        out->indptr = indptr;
        out->indices = idx.data ? (int32_t *)(void *)idx.data : assay_calloc(1, sizeof(int32_t));
        out->values = val.data ? (float *)(void *)val.data : assay_calloc(1, sizeof(float));
        if (!out->indices || !out->values) {
            assay_csr_deinit(out);
            return assay_error_set(err, ASSAY_ENOMEM, "pipeline transform: out of memory");
        }
        return ASSAY_OK;
    }
    assay_free(indptr);
    assay_buf_deinit(&idx);
    assay_buf_deinit(&val);
    return rc;
}
