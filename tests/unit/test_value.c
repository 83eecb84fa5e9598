/* test_value.c - the value layer (src/eval/value.c) against independent brute force: the
 * profit curve, its optimum, top-k% and budgeted choices against O(n^2) scans that evaluate
 * every threshold row by row; amount-based specs against per-row formulas written out here;
 * EMP against a fine-grid Simpson integration over gamma of the maximum over all ROC points
 * (no hull), and against the closed form of a perfect classifier; the parser's refusals and
 * messages; degenerate inputs; money text.
 *
 * It does not fail every allocation of every call (only the curve's), and has no fixture from
 * the R package EMP (R is not installed): empChurn's source was read and uses the same gamma
 * breakpoints and incomplete-beta sums; the references here are the paper's definition. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "assay/assay.h"
#include "assay/value.h"
#include "check.h"

/* ---- per-row reference, written out independently of the library ------------------------- */

typedef struct ref_spec {
    double tp_c, tp_k, fp_c, fp_k, fn_c, fn_k, tn_c, tn_k, cost_c, cost_k;
} ref_spec;

/* Value of row i when acted on (1) or not (0). */
static double ref_value(const ref_spec *s, int pos, double a, int acted) {
    if (acted) {
        double gross = pos ? s->tp_c + s->tp_k * a : s->fp_c + s->fp_k * a;
        return gross - (s->cost_c + s->cost_k * a);
    }
    return pos ? s->fn_c + s->fn_k * a : s->tn_c + s->tn_k * a;
}

/* Total profit acting on every row with score >= t (t = INFINITY: nobody). */
static double ref_profit(const ref_spec *s, const uint8_t *y, const double *sc, const double *am,
                         int n, double t, int *n_acted, double *cost) {
    double p = 0, c = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        int acted = sc[i] >= t;
        double a = am ? am[i] : 0;
        p += ref_value(s, y[i] != 0, a, acted);
        if (acted) {
            k++;
            c += s->cost_c + s->cost_k * a;
        }
    }
    if (n_acted) *n_acted = k;
    if (cost) *cost = c;
    return p;
}

static int ndistinct(const double *sc, int n) {
    int d = 0;
    for (int i = 0; i < n; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            if (sc[j] == sc[i]) first = 0;
        d += first;
    }
    return d;
}

/* Builds the spec text from ref values (exercises the parser on every case). */
static void spec_text(const ref_spec *r, char *buf, size_t cap) {
    snprintf(buf, cap, "tp=%.17g*amount%+.17g, fp = %.17g*amount %+.17g,fn=%.17g*amount%+.17g,"
                       "tn=%.17g*amount%+.17g,cost=%.17g*amount%+.17g",
             r->tp_k, r->tp_c, r->fp_k, r->fp_c, r->fn_k, r->fn_c, r->tn_k, r->tn_c, r->cost_k, r->cost_c);
}

static double irand(assay_rng *g, int lo, int hi) { return lo + (double)assay_rng_below(g, (uint64_t)(hi - lo + 1)); }

enum { NMAX = 80 };

/* One random case: integer values (exact sums, so ties in profit are exact and the tie rule
 * can be checked), scores with many ties or none, any class balance. */
static void random_case(assay_rng *g, int seed, int *n, uint8_t *y, double *sc, double *am, ref_spec *r) {
    *n = 1 + (int)assay_rng_below(g, NMAX);
    static const double pos_rate[] = {0, 0.1, 0.5, 0.9, 1};
    double pr = pos_rate[assay_rng_below(g, 5)];
    int kind = seed % 3;
    for (int i = 0; i < *n; i++) {
        y[i] = assay_rng_uniform(g) < pr;
        if (kind == 0) sc[i] = (double)assay_rng_below(g, 9) / 8;   /* heavy ties */
        else if (kind == 1) sc[i] = assay_rng_uniform(g);          /* none */
        else sc[i] = (double)assay_rng_below(g, 3) / 2;             /* three values */
        am[i] = irand(g, 0, 1000);
    }
    int use_amount = assay_rng_below(g, 2) == 0;
    r->tp_c = irand(g, -50, 50), r->fp_c = irand(g, -50, 50);
    r->fn_c = irand(g, -50, 50), r->tn_c = irand(g, -50, 50);
    r->cost_c = irand(g, 0, 5);
    r->tp_k = use_amount ? irand(g, -3, 3) : 0;
    r->fp_k = use_amount ? irand(g, -3, 3) : 0;
    r->fn_k = use_amount ? irand(g, -3, 3) : 0;
    r->tn_k = use_amount ? irand(g, -3, 3) : 0;
    r->cost_k = use_amount ? irand(g, 0, 2) : 0;
}

/* ---- profit curve ------------------------------------------------------------------------- */

static void test_curve_brute_force(void) {
    uint8_t y[NMAX];
    double sc[NMAX], am[NMAX];
    int bad = 0, cases = 0;
    for (int seed = 0; seed < 600; seed++) {
        assay_rng g;
        assay_rng_seed(&g, (uint64_t)seed + 1);
        int n;
        ref_spec r;
        random_case(&g, seed, &n, y, sc, am, &r);
        char text[512];
        spec_text(&r, text, sizeof text);
        assay_value_spec spec;
        assay_error err = {0};
        CHECK_OK(assay_value_spec_parse(text, &spec, &err), &err);
        assay_profit_curve c;
        CHECK_OK(assay_profit_curve_compute(&spec, y, sc, am, n, &c, &err), &err);
        cases++;
        int ok = c.n == n && c.npoints == ndistinct(sc, n) + 1;
        /* every point against a direct evaluation of its threshold */
        for (int64_t j = 0; ok && j < c.npoints; j++) {
            int k;
            double cost;
            double p = ref_profit(&r, y, sc, am, n, c.threshold[j], &k, &cost);
            ok = p == c.profit[j] && k == c.n_acted[j] && cost == c.cost[j] &&
                 c.per_row[j] == c.profit[j] / n;
            if (j == 0) ok = ok && isinf(c.threshold[0]) && k == 0;
            if (j > 0) ok = ok && c.threshold[j] < c.threshold[j - 1];
        }
        ok = ok && c.n_acted[c.npoints - 1] == n;
        /* the optimum: scan all scores as thresholds, plus nobody; the highest threshold wins
         * among equal profits */
        double bt = INFINITY, bp = ref_profit(&r, y, sc, am, n, INFINITY, NULL, NULL);
        for (int i = 0; i < n; i++) {
            double p = ref_profit(&r, y, sc, am, n, sc[i], NULL, NULL);
            if (p > bp || (p == bp && sc[i] > bt)) bp = p, bt = sc[i];
        }
        int bk;
        ref_profit(&r, y, sc, am, n, bt, &bk, NULL);
        ok = ok && c.best_profit == bp && c.best_threshold == bt && c.best_n_acted == bk &&
             c.profit[c.best] == bp;
        ok = ok && c.profit_nobody == ref_profit(&r, y, sc, am, n, INFINITY, NULL, NULL) &&
             c.profit_everybody == ref_profit(&r, y, sc, am, n, -INFINITY, NULL, NULL);
        if (!ok && bad++ < 3) fprintf(stderr, "  curve mismatch, seed %d, n %d, spec %s\n", seed, n, text);
        CHECK(ok);
        assay_profit_curve_deinit(&c);
    }
    printf("  curve: %d random cases, %d mismatches (exact comparison, integer values)\n", cases, bad);
}

/* Expected profit of acting on the top m rows, ties taken at random: each row i is acted on
 * with probability clamp((m - #above) / #equal, 0, 1). */
static double ref_top_m(const ref_spec *r, const uint8_t *y, const double *sc, const double *am, int n, int m) {
    double p = 0;
    for (int i = 0; i < n; i++) {
        int above = 0, eq = 0;
        for (int j = 0; j < n; j++) above += sc[j] > sc[i], eq += sc[j] == sc[i];
        double pr = (double)(m - above) / eq;
        pr = pr < 0 ? 0 : pr > 1 ? 1 : pr;
        double v0 = ref_value(r, y[i] != 0, am[i], 0), v1 = ref_value(r, y[i] != 0, am[i], 1);
        p += v0 + pr * (v1 - v0);
    }
    return p;
}

static void test_top_percent_and_budget(void) {
    uint8_t y[NMAX];
    double sc[NMAX], am[NMAX];
    double worst_top = 0;
    int bad_budget = 0;
    for (int seed = 0; seed < 400; seed++) {
        assay_rng g;
        assay_rng_seed(&g, (uint64_t)seed + 1000);
        int n;
        ref_spec r;
        random_case(&g, seed, &n, y, sc, am, &r);
        char text[512];
        spec_text(&r, text, sizeof text);
        assay_value_spec spec;
        assay_error err = {0};
        CHECK_OK(assay_value_spec_parse(text, &spec, &err), &err);
        assay_profit_curve c;
        CHECK_OK(assay_profit_curve_compute(&spec, y, sc, am, n, &c, &err), &err);
        const double ks[] = {0, 5, 10, 25, 33.3, 50, 90, 99.9, 100, 100 * assay_rng_uniform(&g)};
        for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++) {
            double p;
            int64_t m;
            CHECK_OK(assay_profit_top_percent(&c, ks[q], &p, &m, &err), &err);
            int mref = (int)floor(ks[q] * n / 100 + 0.5);
            CHECK(m == mref);
            double want = ref_top_m(&r, y, sc, am, n, mref);
            double d = fabs(p - want) / (1 + fabs(want));
            if (d > worst_top) worst_top = d;
            CHECK_NEAR(p, want, 1e-9 * (1 + fabs(want)));
        }
        /* budgets: rows, money, both, none */
        double total_cost = c.cost[c.npoints - 1];
        for (int q = 0; q < 6; q++) {
            int64_t rows = q == 0 ? -1 : (int64_t)assay_rng_below(&g, (uint64_t)n + 1);
            double money = q == 1 || q == 5 ? INFINITY : floor(assay_rng_uniform(&g) * (total_cost + 1));
            if (q == 5) rows = -1;
            int64_t idx;
            CHECK_OK(assay_profit_best_within(&c, rows, money, &idx, &err), &err);
            double bt = INFINITY, bp = ref_profit(&r, y, sc, am, n, INFINITY, NULL, NULL);
            for (int i = 0; i < n; i++) {
                int k;
                double cost;
                double p = ref_profit(&r, y, sc, am, n, sc[i], &k, &cost);
                if ((rows >= 0 && k > rows) || cost > money) continue;
                if (p > bp || (p == bp && sc[i] > bt)) bp = p, bt = sc[i];
            }
            int ok = c.profit[idx] == bp && c.threshold[idx] == bt;
            if (rows < 0 && isinf(money)) ok = ok && idx == c.best;
            if (!ok) bad_budget++;
            CHECK(ok);
        }
        assay_profit_curve_deinit(&c);
    }
    printf("  top-k%%: largest relative difference %.3g (tol 1e-9); budgets: %d mismatches\n",
           worst_top, bad_budget);
    /* rounding of m: 2.5 rows rounds up, 2.4 down */
    uint8_t y10[10] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    double s10[10] = {.9, .8, .7, .6, .5, .4, .3, .2, .1, 0};
    assay_value_spec spec;
    assay_error err = {0};
    CHECK_OK(assay_value_spec_parse("tp=10,fp=-1", &spec, &err), &err);
    assay_profit_curve c;
    CHECK_OK(assay_profit_curve_compute(&spec, y10, s10, NULL, 10, &c, &err), &err);
    double p;
    int64_t m;
    CHECK_OK(assay_profit_top_percent(&c, 25, &p, &m, &err), &err);
    CHECK(m == 3 && p == 19);
    CHECK_OK(assay_profit_top_percent(&c, 24, &p, &m, &err), &err);
    CHECK(m == 2 && p == 9);
    CHECK(assay_profit_top_percent(&c, 101, &p, &m, &err) == ASSAY_EINVAL);
    CHECK(assay_profit_top_percent(&c, NAN, &p, &m, &err) == ASSAY_EINVAL);
    CHECK(assay_profit_top_percent(&c, -1, &p, &m, &err) == ASSAY_EINVAL);
    int64_t idx;
    CHECK(assay_profit_best_within(&c, 3, NAN, &idx, &err) == ASSAY_EINVAL);
    CHECK(assay_profit_best_within(&c, 3, -1, &idx, &err) == ASSAY_EINVAL);
    CHECK_OK(assay_profit_best_within(&c, 0, INFINITY, &idx, &err), &err);
    CHECK(idx == 0 && c.n_acted[idx] == 0);
    assay_profit_curve_deinit(&c);
}

/* Real-valued amounts: the library against the per-row formulas written out here. */
static void test_amount_spec(void) {
    enum { N = 500 };
    static uint8_t y[N];
    static double sc[N], am[N];
    assay_rng g;
    assay_rng_seed(&g, 7);
    for (int i = 0; i < N; i++) {
        y[i] = assay_rng_uniform(&g) < 0.3;
        sc[i] = floor(assay_rng_uniform(&g) * 200) / 200;
        am[i] = exp(6 + 2 * assay_rng_normal(&g)); /* loan sizes, heavy-tailed */
    }
    assay_value_spec spec;
    assay_error err = {0};
    CHECK_OK(assay_value_spec_parse("tp=0.8*amount-5, fp=-0.1*amount, fn=-amount, tn=2, cost=1+0.01*amount",
                                    &spec, &err), &err);
    CHECK(spec.uses_amount == 1);
    assay_profit_curve c;
    CHECK_OK(assay_profit_curve_compute(&spec, y, sc, am, N, &c, &err), &err);
    double worst = 0;
    int64_t best = 0;
    double bestp = -INFINITY;
    for (int64_t j = 0; j < c.npoints; j++) {
        double p = 0, cost = 0;
        for (int i = 0; i < N; i++) {
            double a = am[i];
            if (sc[i] >= c.threshold[j]) {
                double act = 1 + 0.01 * a;
                p += (y[i] ? 0.8 * a - 5 : -0.1 * a) - act;
                cost += act;
            } else {
                p += y[i] ? -a : 2;
            }
        }
        double d = fabs(p - c.profit[j]) / (1 + fabs(p));
        if (d > worst) worst = d;
        CHECK_NEAR(c.profit[j], p, 1e-10 * (1 + fabs(p)));
        CHECK_NEAR(c.cost[j], cost, 1e-10 * (1 + cost));
        if (p > bestp * (1 + 1e-12)) bestp = p, best = j;
    }
    CHECK(c.best == best);
    CHECK_NEAR(c.best_profit, bestp, 1e-10 * fabs(bestp));
    printf("  amount spec: %lld points, largest relative difference %.3g (tol 1e-10)\n",
           (long long)c.npoints, worst);
    assay_profit_curve_deinit(&c);
}

static void test_curve_degenerate(void) {
    assay_value_spec spec;
    assay_error err = {0};
    CHECK_OK(assay_value_spec_parse("tp=100,fp=-10,fn=-3,tn=1", &spec, &err), &err);
    uint8_t y[4] = {0, 0, 0, 0};
    double s[4] = {0.1, 0.9, 0.5, 0.5};
    assay_profit_curve c;
    /* no positives: acting only loses, best is nobody at +inf */
    CHECK_OK(assay_profit_curve_compute(&spec, y, s, NULL, 4, &c, &err), &err);
    CHECK(c.npoints == 4 && c.best == 0 && isinf(c.best_threshold) && c.best_n_acted == 0);
    CHECK(c.profit_nobody == 4 && c.profit_everybody == -40 && c.best_profit == 4);
    assay_profit_curve_deinit(&c);
    /* all positives: acting on everybody */
    uint8_t y1[4] = {1, 1, 1, 1};
    CHECK_OK(assay_profit_curve_compute(&spec, y1, s, NULL, 4, &c, &err), &err);
    CHECK(c.best == 3 && c.best_threshold == 0.1 && c.best_n_acted == 4 && c.best_profit == 400);
    CHECK(c.profit_nobody == -12 && c.n_acted[2] == 3 && c.profit[2] == 297);
    assay_profit_curve_deinit(&c);
    /* all equal scores: two points */
    double se[3] = {0.5, 0.5, 0.5};
    uint8_t ye[3] = {1, 0, 0};
    CHECK_OK(assay_profit_curve_compute(&spec, ye, se, NULL, 3, &c, &err), &err);
    CHECK(c.npoints == 2 && c.best == 1 && c.best_profit == 80 && c.per_row[1] == 80.0 / 3);
    assay_profit_curve_deinit(&c);
    /* a zero spec: everything ties, nobody wins */
    assay_value_spec zero;
    CHECK_OK(assay_value_spec_parse("tp=0", &zero, &err), &err);
    CHECK_OK(assay_profit_curve_compute(&zero, ye, se, NULL, 3, &c, &err), &err);
    CHECK(c.best == 0 && c.best_profit == 0);
    assay_profit_curve_deinit(&c);
    /* refusals */
    CHECK(assay_profit_curve_compute(&spec, y, s, NULL, 0, &c, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "no rows") != NULL);
    CHECK(c.npoints == 0 && c.profit == NULL);
    double sn[4] = {0.1, NAN, 0.5, 0.5};
    CHECK(assay_profit_curve_compute(&spec, y, sn, NULL, 4, &c, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "row 1") != NULL, "%s", err.msg);
    double si[4] = {0.1, 0.2, INFINITY, 0.5};
    CHECK(assay_profit_curve_compute(&spec, y, si, NULL, 4, &c, &err) == ASSAY_EINVAL);
    assay_value_spec aspec;
    CHECK_OK(assay_value_spec_parse("tp=amount", &aspec, &err), &err);
    CHECK(assay_profit_curve_compute(&aspec, y, s, NULL, 4, &c, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "amount") != NULL, "%s", err.msg);
    double an[4] = {1, 2, NAN, 4};
    CHECK(assay_profit_curve_compute(&aspec, y, s, an, 4, &c, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "row 2") != NULL, "%s", err.msg);
    assay_profit_curve_deinit(&c);
    /* allocation failure: every allocation of the call in turn, clean error, no leak */
    assay_alloc_fail_after(0);
    CHECK_OK(assay_profit_curve_compute(&spec, y, s, NULL, 4, &c, &err), &err);
    assay_profit_curve_deinit(&c);
    uint64_t nalloc = assay_alloc_fail_after(0);
    for (uint64_t k = 1; k <= nalloc; k++) {
        assay_alloc_fail_after(k);
        int rc = assay_profit_curve_compute(&spec, y, s, NULL, 4, &c, &err);
        assay_alloc_fail_after(0);
        CHECK(rc == ASSAY_ENOMEM && c.profit == NULL);
        assay_profit_curve_deinit(&c);
    }
}

/* ---- parser ------------------------------------------------------------------------------- */

static void test_spec_parse(void) {
    assay_value_spec s;
    assay_error err = {0};
    CHECK_OK(assay_value_spec_parse("tp=120,fp=-20,fn=0,tn=0", &s, &err), &err);
    CHECK(s.tp.c == 120 && s.fp.c == -20 && s.fn.c == 0 && s.tn.c == 0 && s.cost.c == 0 && !s.uses_amount);
    CHECK_OK(assay_value_spec_parse("  fp = -0.1 * amount , tp=amount ", &s, &err), &err);
    CHECK(s.tp.k == 1 && s.tp.c == 0 && s.fp.k == -0.1 && s.fp.c == 0 && s.uses_amount);
    CHECK_OK(assay_value_spec_parse("tp=0.8*amount-5", &s, &err), &err);
    CHECK(s.tp.k == 0.8 && s.tp.c == -5);
    CHECK_OK(assay_value_spec_parse("tp=-5+0.8*amount,fn=-amount,cost=1e1,tn=+.5,fp=-2.5e-1", &s, &err), &err);
    CHECK(s.tp.k == 0.8 && s.tp.c == -5 && s.fn.k == -1 && s.cost.c == 10 && s.tn.c == 0.5 && s.fp.c == -0.25);
    CHECK_OK(assay_value_spec_parse("tp=-0", &s, &err), &err);
    CHECK(s.tp.c == 0 && !signbit(s.tp.c));
    /* refusals, each with a message naming the key */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "empty"},
        {"   ", "empty"},
        {"tq=1", "unknown key 'tq'"},
        {"TP=1", "unknown key 'TP'"},
        {"tp=1,tp=2", "'tp' given twice"},
        {"tp=1,fp=2,fp=3", "'fp' given twice"},
        {"tp=12k", "'tp': \"12k\" is not a number"},
        {"fp=abc", "'fp': \"abc\" is not a number"},
        {"tp=nan", "'tp': \"nan\" is not a number"},
        {"tp=inf", "'tp': \"inf\" is not a number"},
        {"tp=0x10", "'tp': \"0x10\" is not a number"},
        {"tp=1e400", "'tp': \"1e400\" is out of range"},
        {"tp=", "'tp': missing value"},
        {"tp=1,fn=", "'fn': missing value"},
        {"tp", "'tp': expected '='"},
        {"tp 5", "'tp': expected '='"},
        {"tp=1,", "empty item"},
        {",tp=1", "empty item"},
        {"tp=1,,fp=2", "empty item"},
        {"tp=5+3", "'tp': \"5+3\" has two constant terms"},
        {"tp=amount+2*amount", "'tp': \"amount+2*amount\" has two amount terms"},
        {"tp=2*amountx", "'tp': \"2*amountx\" is not a number"},
        {"tp=amount*2", "'tp': \"amount*2\" is not a number"},
        {"tp=2 3", "'tp': \"2 3\" is not a number"},
        {"tp=5-", "'tp': \"5-\" is not a number"},
        {"tp=--5", "'tp': \"--5\" is not a number"},
        {"tp=1e", "'tp': \"1e\" is not a number"},
        {"tp=.", "'tp': \".\" is not a number"},
        {"=5", "expected a key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s.tp.c = 99;
        int rc = assay_value_spec_parse(bad[i].text, &s, &err);
        CHECK_MSG(rc == ASSAY_EPARSE, "\"%s\" gave %d", bad[i].text, rc);
        CHECK_MSG(strstr(err.msg, bad[i].msg) != NULL, "\"%s\": message \"%s\", wanted \"%s\"",
                  bad[i].text, err.msg, bad[i].msg);
        CHECK(strchr(err.msg, '\n') == NULL);
        CHECK(s.tp.c == 0 && !s.uses_amount);
    }
    CHECK(assay_value_spec_parse(NULL, &s, &err) == ASSAY_EINVAL);
    /* format round trip */
    static const char *const texts[] = {"tp=120,fp=-20", "tp=0.8*amount-5,fp=-0.1*amount,fn=-amount,cost=1+0.01*amount",
                                        "tn=0.1,fp=amount+3.25", "tp=1e-7*amount-1e20"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assay_value_spec a, b;
        CHECK_OK(assay_value_spec_parse(texts[i], &a, &err), &err);
        assay_buf buf = {0};
        CHECK(assay_value_spec_format(&a, &buf) == 0);
        CHECK_OK(assay_value_spec_parse(buf.data, &b, &err), &err);
        CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "%s -> %s", texts[i], buf.data);
        if (i == 1)
            CHECK_STR(buf.data, "tp=0.8*amount-5,fp=-0.1*amount,fn=-amount,tn=0,cost=0.01*amount+1");
        assay_buf_deinit(&buf);
    }
}

/* ---- EMP ---------------------------------------------------------------------------------- */

/* I_x(a, b) for integers: P(Binomial(a + b - 1, x) >= a). */
static double betainc_binomial(double x, int a, int b) {
    int m = a + b - 1;
    double sum = 0;
    for (int j = a; j <= m; j++) {
        double lc = lgamma(m + 1.0) - lgamma(j + 1.0) - lgamma(m - j + 1.0);
        sum += exp(lc + j * log(x) + (m - j) * log1p(-x));
    }
    return sum;
}

static void test_betainc(void) {
    double worst = 0;
    const int ab[][2] = {{6, 14}, {7, 14}, {1, 1}, {2, 5}, {30, 3}};
    for (size_t q = 0; q < sizeof ab / sizeof ab[0]; q++)
        for (int i = 1; i < 200; i++) {
            double x = i / 200.0;
            double got = assay_value_betainc(x, ab[q][0], ab[q][1]);
            double want = betainc_binomial(x, ab[q][0], ab[q][1]);
            double d = fabs(got - want);
            if (d > worst) worst = d;
            CHECK_NEAR(got, want, 1e-13);
        }
    CHECK(assay_value_betainc(0, 6, 14) == 0 && assay_value_betainc(1, 6, 14) == 1);
    CHECK(isnan(assay_value_betainc(-0.1, 6, 14)) && isnan(assay_value_betainc(0.5, 0, 14)));
    CHECK_NEAR(assay_value_betainc(0.3, 0.5, 0.5), 2 / acos(-1.0) * asin(sqrt(0.3)), 1e-13); /* arcsine */
    printf("  betainc vs binomial sums: largest difference %.3g (tol 1e-13)\n", worst);
}

static void test_emp_brute_force(void) {
#ifndef EMP_GRID
#define EMP_GRID 100000
#endif
    enum { G = EMP_GRID }; /* Simpson intervals over gamma in [0, 1] */
    double worst_emp = 0, worst_frac = 0;
    for (int seed = 0; seed < 24; seed++) {
        assay_rng g;
        assay_rng_seed(&g, (uint64_t)seed + 77);
        int n = 5 + (int)assay_rng_below(&g, 40);
        uint8_t y[64];
        double sc[64];
        double pr = 0.05 + 0.9 * assay_rng_uniform(&g);
        for (int i = 0; i < n; i++) {
            y[i] = assay_rng_uniform(&g) < pr;
            double z = assay_rng_normal(&g) + (y[i] ? 1.0 : 0.0);
            sc[i] = seed % 2 ? floor(z * 4) / 4 : z; /* ties in half the cases */
        }
        assay_emp_params p;
        assay_emp_params_default(&p);
        if (seed % 3 == 1) p.clv = 50, p.d = 20, p.f = 3, p.alpha = 2.5, p.beta = 1.5;
        if (seed % 3 == 2) p.clv = 1000, p.d = 5, p.f = 40, p.alpha = 1, p.beta = 1;
        /* precompute the distinct thresholds' (tp, fp) to keep the grid loop cheap */
        double tps[64], fps[64];
        int m = 0;
        for (int i = 0; i < n; i++) {
            double fp = 0, tp = 0;
            for (int j = 0; j < n; j++)
                if (sc[j] >= sc[i]) *(y[j] ? &tp : &fp) += 1;
            tps[m] = tp, fps[m] = fp, m++;
        }
        double lB = lgamma(p.alpha) + lgamma(p.beta) - lgamma(p.alpha + p.beta);
        double emp = 0, frac = 0;
        for (int k = 0; k <= G; k++) {
            double gm = (double)k / G;
            double dens = (gm == 0 || gm == 1)
                              ? ((gm == 0 ? p.alpha : p.beta) == 1 ? exp(-lB) : 0)
                              : exp((p.alpha - 1) * log(gm) + (p.beta - 1) * log1p(-gm) - lB);
            double best = 0, bf = 0;
            for (int i = 0; i < m; i++) {
                double v = ((gm * (p.clv - p.d) - p.f) * tps[i] - (p.d + p.f) * fps[i]) / n;
                if (v > best) best = v, bf = (tps[i] + fps[i]) / n;
            }
            double w = (k == 0 || k == G) ? 1 : (k % 2 ? 4 : 2);
            emp += w * best * dens;
            frac += w * bf * dens;
        }
        emp /= 3.0 * G;
        frac /= 3.0 * G;
        assay_emp_result r;
        assay_error err = {0};
        CHECK_OK(assay_emp_churn(y, sc, n, &p, &r, &err), &err);
        double de = fabs(r.emp - emp), df = fabs(r.frac - frac);
        if (de > worst_emp) worst_emp = de;
        if (df > worst_frac) worst_frac = df;
        CHECK_NEAR(r.emp, emp, 1e-6 * (1 + fabs(emp)));
        CHECK_NEAR(r.frac, frac, 1e-4);
    }
    printf("  EMP vs Simpson over gamma (%d intervals, max over all ROC points): largest difference "
           "emp %.3g (tol 1e-6 relative), frac %.3g (tol 1e-4)\n", G, worst_emp, worst_frac);
}

static void test_emp_closed_forms(void) {
    assay_emp_result r;
    assay_error err = {0};
    /* perfect classifier, pi0 = 0.3: for gamma > g0 = f / (clv - d) target exactly the
     * churners: EMP = pi0 ((clv - d) E[gamma; gamma > g0] - f P(gamma > g0))
     *              ~= pi0 (190 * 6/20 - 1) = 0.3 * 56 = 16.8 (the tail below g0 = 1/190 has
     * probability ~6e-10). */
    uint8_t y[10] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    double s[10] = {0.9, 0.95, 0.8, 0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6};
    CHECK_OK(assay_emp_churn(y, s, 10, NULL, &r, &err), &err);
    double g0 = 1.0 / 190;
    double exact = 0.3 * (190 * 0.3 * (1 - assay_value_betainc(g0, 7, 14)) - (1 - assay_value_betainc(g0, 6, 14)));
    CHECK_NEAR(r.emp, exact, 1e-12);
    CHECK_NEAR(r.emp, 16.8, 1e-8);
    CHECK_NEAR(r.frac, 0.3, 1e-8);
    printf("  EMP perfect classifier: %.12f (hand value 16.8), frac %.12f\n", r.emp, r.frac);
    /* all churners: target everybody for gamma > g0: EMP = 56 */
    uint8_t y1[3] = {1, 1, 1};
    CHECK_OK(assay_emp_churn(y1, s, 3, NULL, &r, &err), &err);
    CHECK_NEAR(r.emp, 56, 1e-8);
    CHECK_NEAR(r.frac, 1, 1e-8);
    /* no churners: nobody is worth contacting */
    uint8_t y0[4] = {0, 0, 0, 0};
    CHECK_OK(assay_emp_churn(y0, s, 4, NULL, &r, &err), &err);
    CHECK(r.emp == 0 && r.frac == 0);
    /* a useless (constant) score: target all when pi0 (gamma 190 - 1) > 11 pi1 */
    double c[10] = {0};
    CHECK_OK(assay_emp_churn(y, c, 10, NULL, &r, &err), &err);
    double gstar = (11 * 0.7 / 0.3 + 1) / 190; /* = 0.14035 */
    double want = 0.3 * 190 * 0.3 * (1 - assay_value_betainc(gstar, 7, 14)) -
                  (0.3 + 11 * 0.7) * (1 - assay_value_betainc(gstar, 6, 14));
    CHECK_NEAR(r.emp, want, 1e-12);
    CHECK_NEAR(r.frac, 1 - assay_value_betainc(gstar, 6, 14), 1e-12);
    /* worst-first ranking cannot beat the constant score: EMP only counts hull points */
    double rev[10];
    for (int i = 0; i < 10; i++) rev[i] = -s[i];
    assay_emp_result rr;
    CHECK_OK(assay_emp_churn(y, rev, 10, NULL, &rr, &err), &err);
    CHECK_NEAR(rr.emp, r.emp, 1e-12);
    /* refusals */
    CHECK(assay_emp_churn(y, s, 0, NULL, &r, &err) == ASSAY_EINVAL);
    double sn[3] = {0.1, NAN, 0.2};
    CHECK(assay_emp_churn(y, sn, 3, NULL, &r, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "row 1") != NULL, "%s", err.msg);
    assay_emp_params p;
    assay_emp_params_default(&p);
    CHECK(p.clv == 200 && p.d == 10 && p.f == 1 && p.alpha == 6 && p.beta == 14);
    CHECK(assay_emp_params_check(&p) == NULL);
    p.d = 200;
    CHECK(assay_emp_params_check(&p) != NULL);
    CHECK(assay_emp_churn(y, s, 10, &p, &r, &err) == ASSAY_EINVAL && isnan(r.emp));
    assay_emp_params_default(&p);
    p.alpha = 0;
    CHECK(assay_emp_params_check(&p) != NULL);
    p.alpha = NAN;
    CHECK(assay_emp_params_check(&p) != NULL);
}

/* ---- money -------------------------------------------------------------------------------- */

static void test_money(void) {
    char b[64];
    CHECK_STR(assay_value_format_money(12340, b, sizeof b), "12,340");
    CHECK_STR(assay_value_format_money(-1200.5, b, sizeof b), "-1,200.50");
    CHECK_STR(assay_value_format_money(0, b, sizeof b), "0");
    CHECK_STR(assay_value_format_money(-0.004, b, sizeof b), "0");
    CHECK_STR(assay_value_format_money(0.5, b, sizeof b), "0.50");
    CHECK_STR(assay_value_format_money(-5, b, sizeof b), "-5");
    CHECK_STR(assay_value_format_money(999, b, sizeof b), "999");
    CHECK_STR(assay_value_format_money(1000, b, sizeof b), "1,000");
    CHECK_STR(assay_value_format_money(100000, b, sizeof b), "100,000");
    CHECK_STR(assay_value_format_money(1234567.891, b, sizeof b), "1,234,567.89");
    CHECK_STR(assay_value_format_money(-1234567.999, b, sizeof b), "-1,234,568");
    CHECK_STR(assay_value_format_money(1e18, b, sizeof b), "1,000,000,000,000,000,000");
    CHECK_STR(assay_value_format_money(NAN, b, sizeof b), "nan");
    CHECK_STR(assay_value_format_money(-INFINITY, b, sizeof b), "-inf");
    CHECK_STR(assay_value_format_money(12340, b, 4), "12,");
    char big[512];
    assay_value_format_money(-DBL_MAX, big, sizeof big);
    CHECK(big[0] == '-' && strlen(big) == 1 + 309 + 102);
}

int main(void) {
    RUN(test_spec_parse);
    RUN(test_curve_brute_force);
    RUN(test_top_percent_and_budget);
    RUN(test_amount_spec);
    RUN(test_curve_degenerate);
    RUN(test_betainc);
    RUN(test_emp_brute_force);
    RUN(test_emp_closed_forms);
    RUN(test_money);
    return check_summary();
}
