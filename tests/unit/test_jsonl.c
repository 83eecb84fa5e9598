/* test_jsonl.c - the JSON Lines reader: union of keys in first-seen order, null/absent keys as
 * missing, numbers/booleans/strings (strings inferred like CSV cells, so dates work), errors
 * naming line, column and key, the credit data converted to JSONL by Python (equal to the CSV
 * read), and allocation failure. */
#include <stdlib.h>

#include "assay/data.h"
#include "check.h"

static int rd(const char *s, assay_table **t, assay_error *e) {
    assay_error_clear(e);
    *t = NULL;
    return assay_table_read_jsonl_buffer(s, strlen(s), "t.jsonl", NULL, t, e);
}

static void expect_err(const char *s, int code, const char *msg) {
    assay_table *t;
    assay_error e;
    int rc = rd(s, &t, &e);
    CHECK_MSG(rc == code, "rc %d (want %d): %s", rc, code, e.msg);
    CHECK_STR(e.msg, msg);
    CHECK(t == NULL);
    assay_table_free(t);
}

static void test_basic(void) {
    assay_table *t;
    assay_error e;
    const char *s = "{\"a\": 1, \"b\": \"x\", \"when\": \"2020-01-02\"}\n"
                    "\n"
                    "{\"b\": \"y\", \"c\": true, \"a\": 2.5, \"when\": null}\r\n"
                    "  {\"a\": null, \"c\": false, \"d\": \"NA\"}  \n"
                    "{\"a\": -3e2, \"b\": \"x\", \"c\": true, \"d\": \"12\"}";
    CHECK_OK(rd(s, &t, &e), &e);
    if (!t) return;
    CHECK(t->nrows == 4 && t->ncols == 5);
    const char *names[] = {"a", "b", "when", "c", "d"};
    for (int c = 0; c < 5 && c < t->ncols; c++) CHECK_STR(t->cols[c].name, names[c]);
    CHECK(t->cols[0].type == ASSAY_COL_NUMERIC);
    CHECK(t->cols[0].num[0] == 1.0 && t->cols[0].num[1] == 2.5 && t->cols[0].missing[2] &&
          t->cols[0].num[3] == -300.0);
    CHECK(t->cols[1].type == ASSAY_COL_CATEGORICAL && t->cols[1].nlevels == 2 &&
          t->cols[1].cat[2] == -1 && t->cols[1].cat[3] == 0);
    CHECK(t->cols[2].type == ASSAY_COL_DATETIME && t->cols[2].num[0] == 1577923200.0 &&
          t->cols[2].n_missing == 3);
    CHECK(t->cols[3].type == ASSAY_COL_BOOLEAN && t->cols[3].missing[0] &&
          t->cols[3].num[1] == 1.0 && t->cols[3].num[2] == 0.0);
    /* "NA" is missing, "12" a number */
    CHECK(t->cols[4].type == ASSAY_COL_NUMERIC && t->cols[4].n_missing == 3 &&
          t->cols[4].num[3] == 12.0);
    assay_table_free(t);
    /* a real number keeps its exact value */
    CHECK_OK(rd("{\"v\": 0.1}\n{\"v\": 1e23}\n{\"v\": 123456789012345678}\n", &t, &e), &e);
    if (t) {
        CHECK(t->cols[0].num[0] == 0.1 && t->cols[0].num[1] == 1e23 &&
              t->cols[0].num[2] == 123456789012345678.0);
        assay_table_free(t);
    }
}

static void test_errors(void) {
    expect_err("", ASSAY_EPARSE, "t.jsonl: empty file");
    expect_err("\n  \n", ASSAY_EPARSE, "t.jsonl: empty file");
    expect_err("{\"a\": 1}\n{\"a\": 2,}\n", ASSAY_EPARSE,
               "t.jsonl:2:9: string or '}' expected near '}'");
    expect_err("{\"a\": 1}\n\n[1, 2]\n", ASSAY_EPARSE, "t.jsonl:3: expected a JSON object");
    expect_err("{\"a\": 1}\n{\"a\": {\"b\": 2}}\n", ASSAY_EPARSE,
               "t.jsonl:2: key 'a' holds an object; nested values are not supported");
    expect_err("{\"a\": [1, [2]]}\n", ASSAY_EPARSE,
               "t.jsonl:1: key 'a' holds an array with a nested value; an array is a list of labels "
               "(strings, numbers or booleans)");
    expect_err("{\"a\": [\"x\", null]}\n", ASSAY_EPARSE,
               "t.jsonl:1: key 'a' holds an array with a null item; an array is a list of labels "
               "(strings, numbers or booleans)");
    expect_err("{\"a\": [\"x|y\"]}\n", ASSAY_EPARSE,
               "t.jsonl:1: key 'a' holds an array with an item holding '|', which separates labels; an "
               "array is a list of labels (strings, numbers or booleans)");
    expect_err("{\"a\": 1}\n{\"a\": \"\xC3\x28\"}\n", ASSAY_EUTF8,
               "t.jsonl:2:8: invalid UTF-8 (byte 0xC3)");
    expect_err("{}\n{}\n", ASSAY_EPARSE, "t.jsonl: no columns (every object is empty)");
    expect_err("{\"a\": 1, \"a\": 2}\n", ASSAY_EPARSE,
               "t.jsonl:1:12: duplicate object key near '\"a\"'");
}

/* An array is a list of labels: its items joined by '|' (a multilabel target); [] is missing. */
static void test_label_lists(void) {
    assay_table *t = NULL;
    assay_error e;
    CHECK_OK(rd("{\"x\": 1, \"tags\": [\"billing\", \"refund\"]}\n{\"x\": 2, \"tags\": []}\n"
                "{\"x\": 3, \"tags\": [\"late\", 2, true]}\n{\"x\": 4, \"tags\": [\"refund\"]}\n", &t, &e), &e);
    if (!t) return;
    int c = assay_table_find(t, "tags");
    char buf[64];
    CHECK(c == 1 && t->cols[c].missing[1] && !t->cols[c].missing[0]);
    CHECK_STR(assay_table_cell_str(t, c, 0, buf, sizeof buf), "billing|refund");
    CHECK_STR(assay_table_cell_str(t, c, 2, buf, sizeof buf), "late|2|true");
    CHECK_STR(assay_table_cell_str(t, c, 3, buf, sizeof buf), "refund");
    assay_table_free(t);
}

static void test_credit_equivalent(void) {
    /* examples/credit_data.csv written as JSON Lines by Python's json module (numbers as
     * numbers, NaN as null): the table must equal the CSV's cell by cell */
    const char *tmp = "/tmp/assay_test_credit.jsonl";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import csv,json,sys\n"
             "r=csv.DictReader(open('%s/examples/credit_data.csv'))\n"
             "f=open('%s','w')\n"
             "for row in r:\n"
             "  o={}\n"
             "  for k,v in row.items():\n"
             "    if v=='': o[k]=None\n"
             "    else:\n"
             "      try: o[k]=int(v)\n"
             "      except ValueError: o[k]=v\n"
             "  f.write(json.dumps(o)+'\\\\n')\n\" 2>/dev/null",
             ASSAY_SOURCE_DIR, tmp);
    if (system(cmd) != 0) {
        printf("python3 not available: skipped\n");
        return;
    }
    assay_table *a, *b;
    assay_error e;
    CHECK_OK(assay_table_read(ASSAY_SOURCE_DIR "/examples/credit_data.csv", NULL, &a, &e), &e);
    CHECK_OK(assay_table_read(tmp, NULL, &b, &e), &e);
    remove(tmp);
    if (a && b) {
        CHECK(a->nrows == b->nrows && a->ncols == b->ncols);
        char fa[17], fb[17];
        assay_table_fingerprint(a, fa);
        assay_table_fingerprint(b, fb);
        CHECK_STR(fa, fb);
        int64_t diff = 0;
        for (int c = 0; c < a->ncols && c < b->ncols; c++)
            for (int64_t r = 0; r < a->nrows && r < b->nrows; r++) {
                char x[256], y[256];
                if (strcmp(assay_table_cell_str(a, c, r, x, sizeof x),
                           assay_table_cell_str(b, c, r, y, sizeof y)))
                    diff++;
            }
        printf("credit JSONL vs CSV: %lld cells differ\n", (long long)diff);
        CHECK(diff == 0);
    }
    assay_table_free(a);
    assay_table_free(b);
}

static void test_alloc_failure(void) {
    const char *s = "{\"a\": 1, \"b\": \"x\", \"t\": \"a long text value with spaces in it\"}\n"
                    "{\"a\": 2, \"b\": \"y\", \"t\": \"another long text value with spaces\"}\n";
    assay_table *t;
    assay_error e;
    assay_alloc_fail_after(0);
    CHECK_OK(rd(s, &t, &e), &e);
    uint64_t n = assay_alloc_fail_after(0);
    assay_table_free(t);
    int clean = 1;
    for (uint64_t k = 1; k <= n; k++) {
        assay_alloc_fail_after(k);
        int rc = rd(s, &t, &e);
        assay_alloc_fail_after(0);
        if (rc != ASSAY_ENOMEM || t) {
            clean = 0;
            fprintf(stderr, "allocation %llu: rc %d %s\n", (unsigned long long)k, rc, e.msg);
        }
        assay_table_free(t);
    }
    CHECK(clean);
}

int main(void) {
    RUN(test_basic);
    RUN(test_errors);
    RUN(test_label_lists);
    RUN(test_credit_equivalent);
    RUN(test_alloc_failure);
    return check_summary();
}
