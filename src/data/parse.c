/* parse.c - cell-level parsers shared by the readers: numbers, ISO 8601 dates, booleans, missing
 * tokens, UTF-8 validation, line/column positions, and the string arena.
 *
 * Numbers: hand-written because strtod alone is slow and locale-dependent. Syntax is checked
 * here (decimal only: no inf, nan or hex); values come from Clinger's fast path when it is exact
 * (W. D. Clinger, "How to read floating point numbers accurately", PLDI 1990: an integer
 * mantissa below 2^53 times or divided by an exact power of ten up to 1e22 is one correctly
 * rounded IEEE operation), and from strtod in the "C" locale otherwise, so every value equals
 * strtod's correctly rounded one bit for bit. Not handled here: thousands separators, locales. */
#include <locale.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/mman.h>

#include "data_internal.h"

/* ---- arena ------------------------------------------------------------------------------- */

#define ARENA_CHUNK ((size_t)1 << 16)

char *assay__arena_strndup(data_arena *a, const char *s, size_t n) {
    size_t need = n + 1;
    if (!a->chunk || a->cap - a->used < need) {
        size_t cap = need + sizeof(void *) > ARENA_CHUNK ? need + sizeof(void *) : ARENA_CHUNK;
        char *c = assay_malloc(cap);
        if (!c) return NULL;
        memcpy(c, &a->chunk, sizeof(void *)); /* link to the previous chunk */
        a->chunk = c;
        a->used = sizeof(void *);
        a->cap = cap;
    }
    char *d = a->chunk + a->used;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    a->used += need;
    return d;
}

void assay__arena_free_chain(void *head) {
    char *c = head;
    while (c) {
        char *prev;
        memcpy(&prev, c, sizeof prev);
        assay_free(c);
        c = prev;
    }
}

/* Ask for transparent huge pages over the interior of a large array: page faults dominate a
 * fast read otherwise (measured: ~30% of the time of a 70 MB CSV). Only advice; errors ignored. */
void assay__advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || n < 2 * huge) return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
    if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

/* ---- small helpers ----------------------------------------------------------------------- */

static inline int is_blank(char c) { return c == ' ' || c == '\t'; }
static inline int is_digit(char c) { return (unsigned)(c - '0') < 10u; }

static inline void trim(const char **s, size_t *n) {
    const char *p = *s, *e = *s + *n;
    while (p < e && is_blank(*p)) p++;
    while (e > p && is_blank(e[-1])) e--;
    *s = p;
    *n = (size_t)(e - p);
}

/* ---- numbers ----------------------------------------------------------------------------- */

const double assay__pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static locale_t c_locale(void) {
    static _Atomic(locale_t) loc;
    locale_t l = atomic_load(&loc);
    if (!l) {
        l = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        locale_t expected = (locale_t)0;
        if (l && !atomic_compare_exchange_strong(&loc, &expected, l)) {
            freelocale(l);
            l = expected;
        }
    }
    return l;
}

/* strtod in the C locale; the caller has checked the syntax, so strtod stops exactly at the
 * end of the number. */
static double strtod_c(const char *s) {
    locale_t l = c_locale();
    if (!l) return strtod(s, NULL);
    locale_t old = uselocale(l);
    double v = strtod(s, NULL);
    uselocale(old);
    return v;
}

int assay__parse_number(const char *s, size_t n, double *out) {
    const char *p = s, *end = s + n;
    if (n && (is_blank(*p) || is_blank(end[-1]))) {
        trim(&p, &n);
        end = p + n;
    }
    if (p == end) return 0;
    const char *start = p;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    uint64_t m = 0;
    int nd = 0, exact = 1, any = 0;
    int64_t e10 = 0;
    for (; p < end && is_digit(*p); p++) {
        any = 1;
        unsigned d = (unsigned)(*p - '0');
        if (nd < 19) {
            if (m || d) {
                m = m * 10 + d;
                nd++;
            }
        } else {
            e10++;
            exact = 0;
        }
    }
    if (p < end && *p == '.') {
        p++;
        for (; p < end && is_digit(*p); p++) {
            any = 1;
            unsigned d = (unsigned)(*p - '0');
            if (nd < 19) {
                if (m || d) {
                    m = m * 10 + d;
                    nd++;
                }
                e10--;
            } else {
                exact = 0;
            }
        }
    }
    if (!any) return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end || !is_digit(*p)) return 0;
        int64_t x = 0;
        for (; p < end && is_digit(*p); p++)
            if (x < 100000000) x = x * 10 + (*p - '0');
        e10 += eneg ? -x : x;
    }
    if (p != end) return 0;
    if (exact && m < ((uint64_t)1 << 53)) {
        double v = (double)m;
        if (m == 0) {
            *out = neg ? -0.0 : 0.0;
            return 1;
        }
        if (e10 >= 0 && e10 <= 22) {
            v *= assay__pow10_exact[e10];
            *out = neg ? -v : v;
            return 1;
        }
        if (e10 < 0 && e10 >= -22) {
            v /= assay__pow10_exact[-e10];
            *out = neg ? -v : v;
            return 1;
        }
    }
    *out = strtod_c(start);
    return 1;
}

/* ---- booleans and dates ------------------------------------------------------------------ */

int assay__parse_bool(const char *s, size_t n, double *out) {
    trim(&s, &n);
    if (n == 4 && strncasecmp(s, "true", 4) == 0) {
        *out = 1.0;
        return 1;
    }
    if (n == 5 && strncasecmp(s, "false", 5) == 0) {
        *out = 0.0;
        return 1;
    }
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms", days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *p, const char *end, int k, int *v) {
    if (end - p < k) return 0;
    int x = 0;
    for (int i = 0; i < k; i++) {
        if (!is_digit(p[i])) return 0;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return 1;
}

int assay__parse_datetime(const char *s, size_t n, double *out) {
    trim(&s, &n);
    const char *p = s, *end = s + n;
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    if (n < 10 || !digits(p, end, 4, &y) || p[4] != '-' || !digits(p + 5, end, 2, &mo) ||
        p[7] != '-' || !digits(p + 8, end, 2, &d))
        return 0;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return 0;
    p += 10;
    double frac = 0.0;
    int64_t tz = 0;
    if (p < end) {
        if (*p != 'T' && *p != ' ') return 0;
        p++;
        if (!digits(p, end, 2, &hh) || p + 2 >= end || p[2] != ':' || !digits(p + 3, end, 2, &mi))
            return 0;
        p += 5;
        if (p < end && *p == ':') {
            if (!digits(p + 1, end, 2, &ss)) return 0;
            p += 3;
            if (p < end && *p == '.') {
                p++;
                const char *f = p;
                double scale = 0.1;
                while (p < end && is_digit(*p)) {
                    frac += (*p - '0') * scale;
                    scale *= 0.1;
                    p++;
                }
                if (p == f || p - f > 9) return 0;
            }
        }
        if (hh > 23 || mi > 59 || ss > 59) return 0;
        if (p < end) {
            if (*p == 'Z') {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, th, tm = 0;
                p++;
                if (!digits(p, end, 2, &th)) return 0;
                p += 2;
                if (p < end && *p == ':') p++;
                if (p < end) {
                    if (!digits(p, end, 2, &tm)) return 0;
                    p += 2;
                }
                if (th > 23 || tm > 59) return 0;
                tz = sign * (th * 3600 + tm * 60);
            }
            if (p != end) return 0;
        }
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - tz;
    *out = (double)secs + frac;
    return 1;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

size_t assay__utf8_check(const unsigned char *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* ASCII runs eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0xC2) return i; /* stray continuation byte or overlong 2-byte form */
        else if (c < 0xE0) k = 1;
        else if (c < 0xF0) {
            k = 2;
            if (c == 0xE0) lo = 0xA0;      /* overlong */
            else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
        } else if (c < 0xF5) {
            k = 3;
            if (c == 0xF0) lo = 0x90;      /* overlong */
            else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else {
            return i;
        }
        if (len - i <= k) return i;
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++)
            if ((p[i + j] & 0xC0) != 0x80) return i;
        i += k + 1;
    }
    return len;
}

void assay__line_col(const char *buf, size_t pos, int64_t *line, int64_t *col) {
    int64_t ln = 1;
    size_t ls = 0;
    const char *p = buf, *end = buf + pos;
    while (p < end) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        if (!q) break;
        ln++;
        ls = (size_t)(q - buf) + 1;
        p = q + 1;
    }
    *line = ln;
    *col = (int64_t)(pos - ls) + 1;
}

char *assay__utf8_replace(const char *buf, size_t len, size_t *olen, int64_t *nrep) {
    char *o = assay_mallocarray(len + 1, 3);
    if (!o) return NULL;
    size_t q = 0, pos = 0;
    *nrep = 0;
    while (pos < len) {
        size_t ok = assay__utf8_check((const unsigned char *)buf + pos, len - pos);
        memcpy(o + q, buf + pos, ok);
        q += ok, pos += ok;
        if (pos < len) {
            memcpy(o + q, "\xEF\xBF\xBD", 3);
            q += 3, pos++, (*nrep)++;
        }
    }
    o[q] = '\0';
    *olen = q;
    return o;
}
