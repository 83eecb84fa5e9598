/* test_fasttext_format.c - the fastText format reader: multi-label lines, labels mid-line, CRLF,
 * blank lines, a custom prefix, missing labels, bad UTF-8 (strict and replaced), empty files, the
 * two-column table, and every allocation failing in turn. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "assay/assay.h"

static assay_fasttext *rd(const char *s, const assay_fasttext_options *o, int *rc,
                          assay_error *err) {
    assay_fasttext *d = NULL;
    *rc = assay_fasttext_read_buffer(s, strlen(s), "t.txt", o, &d, err);
    return d;
}

static void test_basic(void) {
    const char *s = "__label__pos __label__food great  stuff\r\n"
                    "\n"
                    "   \t\r\n"
                    "bad __label__neg taste\r\n"
                    "__label__pos __label__pos ok";
    assay_error err;
    int rc;
    assay_fasttext *d = rd(s, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (!d) return;
    CHECK(d->ndocs == 3);
    CHECK(d->nlabels == 3);
    CHECK_STR(d->label_names[0], "pos");
    CHECK_STR(d->label_names[1], "food");
    CHECK_STR(d->label_names[2], "neg");
    CHECK_STR(d->docs[0], "great stuff");
    CHECK_STR(d->docs[1], "bad taste");
    CHECK_STR(d->docs[2], "ok");
    CHECK(d->line[0] == 1 && d->line[1] == 4 && d->line[2] == 5);
    CHECK(d->label_ptr[0] == 0 && d->label_ptr[1] == 2 && d->label_ptr[2] == 3 &&
          d->label_ptr[3] == 4); /* the repeated label counts once */
    CHECK(d->labels[0] == 0 && d->labels[1] == 1 && d->labels[2] == 2 && d->labels[3] == 0);
    CHECK(d->ntokens == 5);
    assay_table *t = NULL;
    CHECK_OK(assay_fasttext_to_table(d, "t.txt", &t, &err), &err);
    if (t) { /* a line with two labels: the label column is text, "a|b" (multilabel) */
        CHECK(t->nrows == 3 && t->ncols == 2);
        CHECK(t->cols[0].type == ASSAY_COL_TEXT && t->cols[1].type == ASSAY_COL_TEXT);
        CHECK_STR(t->cols[0].text[1], "bad taste");
        CHECK_STR(t->cols[1].text[0], "pos|food");
        CHECK_STR(t->cols[1].text[1], "neg");
        CHECK_STR(t->cols[1].text[2], "pos");
        CHECK(assay_table_find(t, "label") == 1);
    }
    assay_table_free(t);
    assay_fasttext_free(d);
    /* one label per line: categorical, the labels as levels */
    d = rd("__label__pos great\nbad __label__neg\n__label__pos ok\n", NULL, &rc, &err);
    t = NULL;
    CHECK_OK(rc, &err);
    if (d) CHECK_OK(assay_fasttext_to_table(d, "t.txt", &t, &err), &err);
    if (t) {
        CHECK(t->cols[1].type == ASSAY_COL_CATEGORICAL && t->cols[1].nlevels == 2);
        CHECK_STR(t->cols[1].levels[t->cols[1].cat[1]], "neg");
        CHECK(t->cols[1].cat[0] == t->cols[1].cat[2]);
    }
    assay_table_free(t);
    assay_fasttext_free(d);
    /* a label that holds the separator cannot be told apart from two: refused, naming the line */
    d = rd("__label__a x\n__label__b __label__c|d y\n", NULL, &rc, &err);
    t = NULL;
    if (d) CHECK(assay_fasttext_to_table(d, "t.txt", &t, &err) == ASSAY_EINVAL && t == NULL &&
                 strstr(err.msg, "line 2") && strstr(err.msg, "'c|d'"));
    assay_fasttext_free(d);
}

static void test_prefix_and_missing(void) {
    assay_fasttext_options o;
    assay_fasttext_options_init(&o);
    o.label_prefix = "#";
    assay_error err;
    int rc;
    assay_fasttext *d = rd("#a x y\n#b z\n", &o, &rc, &err);
    CHECK_OK(rc, &err);
    if (d) CHECK(d->nlabels == 2 && d->ndocs == 2);
    assay_fasttext_free(d);
    d = rd("__label__a x\nno label here\n", NULL, &rc, &err);
    CHECK(rc == ASSAY_EPARSE && d == NULL);
    CHECK(strstr(err.msg, "t.txt:2: no label") != NULL);
    o.label_prefix = NULL;
    o.allow_unlabeled = 1;
    d = rd("__label__a x\nno label here\n", &o, &rc, &err);
    CHECK_OK(rc, &err);
    if (d) {
        CHECK(d->ndocs == 2 && d->label_ptr[2] == d->label_ptr[1]);
        assay_table *t = NULL;
        CHECK_OK(assay_fasttext_to_table(d, NULL, &t, &err), &err);
        if (t) CHECK(t->cols[1].missing[1] && t->cols[1].cat[1] == -1);
        assay_table_free(t);
    }
    assay_fasttext_free(d);
    d = rd("x __label__ y\n", NULL, &rc, &err);
    CHECK(rc == ASSAY_EPARSE && strstr(err.msg, "t.txt:1: empty label") != NULL);
    /* a line of labels only is a document with no text */
    d = rd("__label__a\n", NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (d) CHECK(d->ndocs == 1 && d->docs[0][0] == '\0');
    assay_table *t = NULL;
    if (d) CHECK_OK(assay_fasttext_to_table(d, NULL, &t, &err), &err);
    if (t) CHECK(t->cols[0].missing[0] && t->cols[0].text[0] == NULL);
    assay_table_free(t);
    assay_fasttext_free(d);
}

static void test_empty_and_utf8(void) {
    assay_error err;
    int rc;
    CHECK(rd("", NULL, &rc, &err) == NULL && rc == ASSAY_EPARSE);
    CHECK(strstr(err.msg, "no documents") != NULL);
    CHECK(rd("\n \r\n\t\n", NULL, &rc, &err) == NULL && rc == ASSAY_EPARSE);
    const char *bad = "__label__a ok\n__label__b caf\xC3\xA9 \xFF\xFEx\n";
    assay_fasttext_options o;
    assay_fasttext_options_init(&o);
    o.strict_utf8 = 1;
    CHECK(rd(bad, &o, &rc, &err) == NULL && rc == ASSAY_EUTF8);
    CHECK(strstr(err.msg, "t.txt:2:") != NULL);
    assay_fasttext *d = rd(bad, NULL, &rc, &err);
    CHECK_OK(rc, &err);
    if (d) {
        CHECK(d->n_replaced == 2);
        CHECK_STR(d->docs[1], "caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBDx");
    }
    assay_fasttext_free(d);
    /* a truncated sequence at the end of the file, and a NUL byte (a separator, as fastText) */
    const char nul[] = "__label__a x\0y \xE2\x82";
    d = NULL;
    rc = assay_fasttext_read_buffer(nul, sizeof nul - 1, "t.txt", NULL, &d, &err);
    CHECK_OK(rc, &err);
    if (d) CHECK_STR(d->docs[0], "x y \xEF\xBF\xBD\xEF\xBF\xBD");
    assay_fasttext_free(d);
    CHECK(assay_fasttext_read("/nonexistent/x.txt", NULL, &d, &err) == ASSAY_EIO && d == NULL);
}

static void test_file(void) {
    char path[] = "/tmp/test_ft_XXXXXX";
    int fd = mkstemp(path);
    const char *s = "__label__x one two\n__label__y three\n";
    CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
    close(fd);
    assay_fasttext *d = NULL;
    assay_error err;
    CHECK_OK(assay_fasttext_read(path, NULL, &d, &err), &err);
    if (d) CHECK(d->ndocs == 2 && d->ntokens == 3);
    assay_fasttext_free(d);
    unlink(path);
}

/* Fail the k-th allocation for every k: a clean ENOMEM, no leak (ASan checks). */
static void test_alloc_failures(void) {
    const char *s = "__label__a x y\n__label__b __label__c z\xFF\n__label__a w\n";
    int failed = 0, k;
    for (k = 1; k < 200; k++) {
        assay_alloc_fail_after((uint64_t)k);
        assay_fasttext *d = NULL;
        assay_table *t = NULL;
        assay_error err;
        int rc = assay_fasttext_read_buffer(s, strlen(s), "t", NULL, &d, &err);
        if (rc == ASSAY_OK) rc = assay_fasttext_to_table(d, "t", &t, &err);
        assay_alloc_fail_after(0);
        assay_table_free(t);
        assay_fasttext_free(d);
        if (rc == ASSAY_OK) break;
        CHECK(rc == ASSAY_ENOMEM);
        failed++;
    }
    CHECK(failed > 5 && k < 200);
}

int main(void) {
    RUN(test_basic);
    RUN(test_prefix_and_missing);
    RUN(test_empty_and_utf8);
    RUN(test_file);
    RUN(test_alloc_failures);
    return check_summary();
}
