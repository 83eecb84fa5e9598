/* test_text.c - text normalization, tokenization and vectorizers: scikit-learn parity of
 * TfidfVectorizer / CountVectorizer on 300 reviews (vocabulary identical, every value within
 * 1e-6; tests/parity/gen/gen_tfidf.py), NFKC and case folding, HTML, broken UTF-8 (replaced
 * and counted), placeholders, CJK characters and bigrams, stop words, n-grams, fastText-style
 * character n-grams, the hashing trick, empty documents, and the JSON round trip with malformed descriptions refused. */
#include <omp.h>

#include "check.h"
#include "fixture.h"
#include "internal.h"

typedef struct toks {
    char buf[4096];
    size_t len;
    int n;
} toks;

static int collect(void *ctx, const char *s, size_t n) {
    toks *t = ctx;
    if (t->len + n + 2 >= sizeof t->buf) return 1;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len++] = '|';
    t->buf[t->len] = 0;
    t->n++;
    return 0;
}

/* normalize then tokenize; the tokens joined by '|' */
static const char *tokens_of(const assay_text_options *o, const char *s) {
    static toks t;
    memset(&t, 0, sizeof t);
    assay_buf b = {0};
    assay_error e;
    if (assay_text_normalize(o, s, strlen(s), &b, NULL, &e) == 0) assay_text_tokens(o, b.data, b.len, collect, &t);
    assay_buf_deinit(&b);
    return t.buf;
}

static const char *norm_of(const assay_text_options *o, const char *s, size_t n, int64_t *bad) {
    static char out[1024];
    assay_buf b = {0};
    assay_error e;
    out[0] = 0;
    if (assay_text_normalize(o, s, n, &b, bad, &e) == 0) snprintf(out, sizeof out, "%s", b.data);
    assay_buf_deinit(&b);
    return out;
}

static void test_normalize(void) {
    assay_text_options o;
    assay_text_options_init(&o);
    /* NFKC: full-width letters and digits, the fi ligature; case folding: ß -> ss, final sigma */
    CHECK(strcmp(norm_of(&o, "ＡＢＣ１２３ ﬁne", strlen("ＡＢＣ１２３ ﬁne"), NULL), "abc123 fine") == 0);
    CHECK(strcmp(norm_of(&o, "Straße ΣΊΣΥΦΟΣ", strlen("Straße ΣΊΣΥΦΟΣ"), NULL), "strasse σίσυφοσ") == 0);
    /* per-character lower case keeps ß */
    assay_text_options lo = o;
    lo.casing = ASSAY_CASE_LOWER;
    lo.nfkc = 0;
    CHECK(strcmp(norm_of(&lo, "Straße", strlen("Straße"), NULL), "straße") == 0);
    /* accents */
    assay_text_options ac = o;
    ac.strip_accents = 1;
    CHECK(strcmp(norm_of(&ac, "Crème Brûlée", strlen("Crème Brûlée"), NULL), "creme brulee") == 0);
    /* HTML: tags to spaces, entities decoded (named, decimal, hex); a lone '<' stays */
    const char *html = "Good<br />taste &amp; &#233;t&#xE9; 3 < 4 &bogus; &#0;";
    CHECK(strcmp(norm_of(&o, html, strlen(html), NULL), "good taste & été 3 < 4 &bogus; &#0;") == 0);
    /* invalid UTF-8: a stray continuation, a truncated sequence, an overlong encoding */
    int64_t bad = 0;
    const char broken[] = "ok\x80 x\xE2\x82 y\xC0\xAF z";
    const char *r = norm_of(&o, broken, sizeof broken - 1, &bad);
    CHECK(bad >= 3);
    CHECK(strstr(r, "ok\xEF\xBF\xBD") != NULL && strstr(r, " z") != NULL);
    /* strict: refused, naming the byte (the truncated sequence at byte 2) */
    assay_text_options st = o;
    st.strict_utf8 = 1;
    assay_buf sb = {0};
    assay_error se = {0};
    CHECK(assay_text_normalize(&st, "x\xE2\x82", 3, &sb, NULL, &se) == ASSAY_EUTF8);
    CHECK_MSG(strstr(se.msg, "byte 2") != NULL, "%s", se.msg);
    CHECK(assay_text_normalize(&st, "\xC0\xAF", 2, &sb, NULL, &se) == ASSAY_EUTF8); /* overlong '/' */
    CHECK_OK(assay_text_normalize(&st, "ok é", strlen("ok é"), &sb, NULL, &se), &se);
    assay_buf_deinit(&sb);
    assay_vectorizer_options vs;
    assay_vectorizer_options_init(&vs, ASSAY_VEC_TFIDF);
    vs.text.strict_utf8 = 1;
    const char *sd[] = {"good tea", "bad \xff tea"};
    assay_vectorizer *sv = NULL;
    CHECK(assay_vectorizer_fit(&vs, sd, 2, &sv, &se) == ASSAY_EUTF8 && !sv);
    CHECK_MSG(strstr(se.msg, "document 2: invalid UTF-8 at byte 5") != NULL, "%s", se.msg);
    /* placeholders */
    assay_text_options ph = o;
    ph.placeholders = 1;
    CHECK(strcmp(tokens_of(&ph, "see https://x.org/a?b=1 or mail me@host.com, pay 1,299.50 now"),
                 "see|xxurl|or|mail|xxemail|pay|xxnum|now|") == 0);
    /* empty and NULL input */
    CHECK(strcmp(norm_of(&o, "", 0, NULL), "") == 0);
}

static void test_tokens(void) {
    assay_text_options o;
    assay_text_options_init(&o);
    /* sklearn's (?u)\b\w\w+\b: single characters dropped, '_' and digits are word characters */
    CHECK(strcmp(tokens_of(&o, "A cat's snake_case 42 x-ray!"), "cat|snake_case|42|ray|") == 0);
    /* CJK: every character, plus adjacent bigrams; Latin words around them as usual */
    CHECK(strcmp(tokens_of(&o, "好吃的 tea"), "好吃|吃的|好|吃|的|tea|") == 0);
    CHECK(strcmp(tokens_of(&o, "おいしい"), "おい|いし|しい|お|い|し|い|") == 0);
    CHECK(strcmp(tokens_of(&o, "맛있어요"), "맛있|있어|어요|맛|있|어|요|") == 0);
    /* stop words, then word bigrams over what is left */
    assay_text_options sw = o;
    sw.stop_words = 1;
    sw.ngram_max = 2;
    CHECK(strcmp(tokens_of(&sw, "this is the best tea I have had"), "best|tea|best tea|") == 0);
    /* n-grams only */
    assay_text_options bi = o;
    bi.ngram_min = bi.ngram_max = 2;
    CHECK(strcmp(tokens_of(&bi, "one two three"), "one two|two three|") == 0);
}

static void test_parity(void) {
    json_t *fx = fixture("tfidf.json");
    CHECK(fx != NULL);
    if (!fx) return;
    const json_t *jd = json_object_get(fx, "docs");
    int64_t n = (int64_t)json_array_size(jd);
    const char **docs = calloc((size_t)n, sizeof *docs);
    for (int64_t i = 0; i < n; i++) docs[i] = json_string_value(json_array_get(jd, (size_t)i));
    size_t ci;
    const json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), ci, c) {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        assay_vectorizer_options o;
        assay_vectorizer_options_init(&o, strcmp(kind, "tfidf") == 0    ? ASSAY_VEC_TFIDF
                                          : strcmp(kind, "binary") == 0 ? ASSAY_VEC_BINARY
                                                                        : ASSAY_VEC_COUNT);
        /* scikit-learn's analyzer: str.lower, no other normalization */
        o.text.nfkc = 0;
        o.text.casing = ASSAY_CASE_LOWER;
        o.text.strip_html = 0;
        o.text.cjk_bigrams = 0;
        o.text.stop_words = json_is_true(json_object_get(c, "stop_words"));
        o.text.ngram_min = (int)json_integer_value(json_array_get(json_object_get(c, "ngram_range"), 0));
        o.text.ngram_max = (int)json_integer_value(json_array_get(json_object_get(c, "ngram_range"), 1));
        o.min_df = json_number_value(json_object_get(c, "min_df"));
        o.max_df = json_number_value(json_object_get(c, "max_df"));
        o.max_features = (int64_t)json_integer_value(json_object_get(c, "max_features"));
        o.sublinear_tf = json_is_true(json_object_get(c, "sublinear_tf"));
        o.smooth_idf = json_is_true(json_object_get(c, "smooth_idf"));
        assay_vectorizer *v = NULL;
        assay_error err = {0};
        CHECK_OK(assay_vectorizer_fit(&o, docs, n, &v, &err), &err);
        if (!v) continue;
        const json_t *vocab = json_object_get(c, "vocabulary");
        int64_t V = (int64_t)json_array_size(vocab);
        CHECK_MSG(assay_vectorizer_nfeatures(v) == V, "case %zu: %lld terms, scikit-learn %lld", ci,
                  (long long)assay_vectorizer_nfeatures(v), (long long)V);
        int64_t vocab_diff = 0;
        for (int64_t j = 0; j < V && j < assay_vectorizer_nfeatures(v); j++) {
            const char *t = assay_vectorizer_term(v, j);
            if (!t || strcmp(t, json_string_value(json_array_get(vocab, (size_t)j))) != 0) {
                if (vocab_diff++ < 3)
                    fprintf(stderr, "case %zu term %lld: assay '%s', scikit-learn '%s'\n", ci, (long long)j,
                            t ? t : "(null)", json_string_value(json_array_get(vocab, (size_t)j)));
            }
        }
        CHECK(vocab_diff == 0);
        const json_t *idf = json_object_get(c, "idf");
        double maxd = 0;
        for (int64_t j = 0; idf && j < V; j++)
            maxd = fmax(maxd, fabs(assay_vectorizer_idf(v, j) - json_number_value(json_array_get(idf, (size_t)j))));
        assay_csr X = {0};
        CHECK_OK(assay_vectorizer_transform(v, docs, n, &X, &err), &err);
        const json_t *ip = json_object_get(c, "indptr"), *ix = json_object_get(c, "indices"),
                     *dx = json_object_get(c, "data");
        int same = X.nnz == (int64_t)json_array_size(ix);
        for (int64_t i = 0; same && i <= n; i++) same = X.indptr[i] == json_integer_value(json_array_get(ip, (size_t)i));
        for (int64_t k = 0; same && k < X.nnz; k++) {
            same = X.indices[k] == json_integer_value(json_array_get(ix, (size_t)k));
            maxd = fmax(maxd, fabs(X.values[k] - json_number_value(json_array_get(dx, (size_t)k))));
        }
        CHECK_MSG(same, "case %zu: the sparsity pattern differs (nnz %lld vs %zu)", ci, (long long)X.nnz,
                  json_array_size(ix));
        CHECK_MSG(maxd < 1e-6, "case %zu: largest difference %.3g", ci, maxd);
        printf("tfidf parity case %zu (%s): %lld terms, nnz %lld, largest difference %.3g\n", ci, kind,
               (long long)V, (long long)X.nnz, maxd);
        CHECK(assay_csr_validate(&X, &err) == ASSAY_OK);
        /* the JSON round trip transforms identically */
        char *js = assay_vectorizer_to_json(v);
        assay_vectorizer *w = NULL;
        CHECK(js != NULL);
        if (js) CHECK_OK(assay_vectorizer_from_json(js, strlen(js), &w, &err), &err);
        if (w) {
            assay_csr Y = {0};
            CHECK_OK(assay_vectorizer_transform(w, docs, n, &Y, &err), &err);
            int eq = Y.nnz == X.nnz;
            for (int64_t k = 0; eq && k < X.nnz; k++) eq = Y.indices[k] == X.indices[k] && Y.values[k] == X.values[k];
            CHECK(eq);
            assay_csr_deinit(&Y);
        }
        assay_free(js);
        assay_vectorizer_free(w);
        assay_csr_deinit(&X);
        assay_vectorizer_free(v);
    }
    free(docs);
    json_decref(fx);
}

static int count_tok(void *ctx, const char *s, size_t n) {
    (void)s;
    (void)n;
    ++*(int *)ctx;
    return 0;
}

static void test_char_ngrams(void) {
    toks t = {0};
    /* fastText's subwords of "où" (2..3 characters; ù is two bytes): whole characters only */
    CHECK(assay_text_char_ngrams("où", strlen("où"), 2, 3, collect, &t) == 0);
    CHECK_MSG(strcmp(t.buf, "<o|<où|où|où>|ù>|") == 0, "got %s", t.buf);
    /* single characters: never the lone boundary markers */
    memset(&t, 0, sizeof t);
    assay_text_char_ngrams("ab", 2, 1, 1, collect, &t);
    CHECK(strcmp(t.buf, "a|b|") == 0);
    /* a bad range gives nothing; a long token (heap path) gives one n-gram per start */
    int n = 0;
    CHECK(assay_text_char_ngrams("ab", 2, 3, 2, count_tok, &n) == 0 && n == 0);
    char big[3000];
    memset(big, 'a', sizeof big);
    CHECK(assay_text_char_ngrams(big, sizeof big, 3, 3, count_tok, &n) == 0 && n == (int)sizeof big);
    /* in the tokenizer: after the words, each word's n-grams */
    assay_text_options o;
    assay_text_options_init(&o);
    o.char_minn = o.char_maxn = 3;
    CHECK(strcmp(tokens_of(&o, "Tea, ok"), "tea|ok|<te|tea|ea>|<ok|ok>|") == 0);
    /* the bucket hash: stable, and the one the hashing vectorizer uses */
    CHECK(assay_text_hash("tea", 3) == assay_text_hash("tea", 3) && assay_text_hash("tea", 3) != assay_text_hash("tee", 3));
    assay_error err = {0};
    assay_vectorizer_options h;
    assay_vectorizer_options_init(&h, ASSAY_VEC_HASH);
    h.hash_features = 1000;
    const char *one[] = {"tea"};
    assay_vectorizer *v = NULL;
    assay_csr X = {0};
    CHECK_OK(assay_vectorizer_fit(&h, one, 1, &v, &err), &err);
    if (v) CHECK_OK(assay_vectorizer_transform(v, one, 1, &X, &err), &err);
    CHECK(X.nnz == 1 && X.indices[0] == (int32_t)(assay_text_hash("tea", 3) % 1000));
    assay_csr_deinit(&X);
    assay_vectorizer_free(v);
    /* a vectorizer with character n-grams survives the JSON round trip */
    assay_vectorizer_options c;
    assay_vectorizer_options_init(&c, ASSAY_VEC_TFIDF);
    c.text.char_minn = 2;
    c.text.char_maxn = 4;
    const char *d[] = {"green tea", "black tea", "oolong"};
    v = NULL;
    CHECK_OK(assay_vectorizer_fit(&c, d, 3, &v, &err), &err);
    char *js = v ? assay_vectorizer_to_json(v) : NULL;
    assay_vectorizer *w = NULL;
    CHECK(js && strstr(js, "\"char_ngrams\":[2,4]") != NULL);
    if (js) CHECK_OK(assay_vectorizer_from_json(js, strlen(js), &w, &err), &err);
    assay_csr A = {0}, B = {0};
    if (v && w) {
        CHECK(assay_vectorizer_nfeatures(v) == assay_vectorizer_nfeatures(w) && assay_vectorizer_nfeatures(v) > 20);
        CHECK_OK(assay_vectorizer_transform(v, d, 3, &A, &err), &err);
        CHECK_OK(assay_vectorizer_transform(w, d, 3, &B, &err), &err);
        CHECK(A.nnz == B.nnz);
        for (int64_t k = 0; k < A.nnz && k < B.nnz; k++) CHECK(A.indices[k] == B.indices[k] && A.values[k] == B.values[k]);
    }
    assay_csr_deinit(&A);
    assay_csr_deinit(&B);
    assay_free(js);
    assay_vectorizer_free(v);
    assay_vectorizer_free(w);
    /* a bad range is refused */
    c.text.char_minn = 4;
    c.text.char_maxn = 2;
    v = NULL;
    CHECK(assay_vectorizer_fit(&c, d, 3, &v, &err) == ASSAY_EINVAL && !v);
}

/* The transform runs documents in chunks over the OpenMP threads: 1 and 2 threads give the same
 * matrix, and a refusal (strict UTF-8) names the first bad document in document order. */
static void test_threads(void) {
    enum { N = 2000 };
    static char buf[N][64];
    const char *docs[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "word%d common term%d and w%d %s", i % 97, i % 13, i % 7,
                 i % 5 ? "great tea" : "stale");
        docs[i] = buf[i];
    }
    assay_error err = {0};
    assay_vectorizer_options o;
    assay_vectorizer_options_init(&o, ASSAY_VEC_TFIDF);
    assay_vectorizer *v = NULL;
    CHECK_OK(assay_vectorizer_fit(&o, docs, N, &v, &err), &err);
    if (!v) return;
    assay_csr a = {0}, b = {0};
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(assay_vectorizer_transform(v, docs, N, &a, &err), &err);
    omp_set_num_threads(2);
    CHECK_OK(assay_vectorizer_transform(v, docs, N, &b, &err), &err);
    CHECK(a.nnz == b.nnz && a.nnz > 0);
    if (a.nnz == b.nnz) {
        CHECK(memcmp(a.indptr, b.indptr, sizeof *a.indptr * (N + 1)) == 0);
        CHECK(memcmp(a.indices, b.indices, sizeof *a.indices * (size_t)a.nnz) == 0);
        CHECK(memcmp(a.values, b.values, sizeof *a.values * (size_t)a.nnz) == 0);
    }
    assay_csr_deinit(&a);
    assay_csr_deinit(&b);
    assay_vectorizer_free(v);
    /* strict UTF-8: documents 1500 and 700 are bad; the error names 701 (1-based) */
    o.text.strict_utf8 = 1;
    v = NULL;
    CHECK_OK(assay_vectorizer_fit(&o, docs, N, &v, &err), &err);
    buf[1500][0] = (char)0xff;
    buf[700][1] = (char)0xfe;
    if (v) {
        CHECK(assay_vectorizer_transform(v, docs, N, &a, &err) == ASSAY_EUTF8 && strstr(err.msg, "document 701"));
        printf("  strict transform over 2 threads -> %s\n", err.msg);
        assay_vectorizer_free(v);
    }
    omp_set_num_threads(saved);
}

static void test_edges(void) {
    assay_error err = {0};
    assay_vectorizer_options o;
    assay_vectorizer_options_init(&o, ASSAY_VEC_TFIDF);
    const char *docs[] = {"Tea is good", "", NULL, "good good tea", "\xff\xfe broken"};
    assay_vectorizer *v = NULL;
    CHECK_OK(assay_vectorizer_fit(&o, docs, 5, &v, &err), &err);
    CHECK(assay_vectorizer_invalid_utf8(v) == 2);
    assay_csr X = {0};
    if (v) CHECK_OK(assay_vectorizer_transform(v, docs, 5, &X, &err), &err);
    CHECK(X.nrows == 5 && X.indptr[2] == X.indptr[1] && X.indptr[3] == X.indptr[2]); /* empty rows */
    double ss = 0;
    for (int64_t k = X.indptr[3]; k < X.indptr[4]; k++) ss += X.values[k] * X.values[k];
    CHECK_NEAR(ss, 1.0, 1e-6); /* unit L2 norm */
    assay_csr_deinit(&X);
    assay_vectorizer_free(v);
    /* nothing left: a clear refusal */
    const char *empty[] = {"", "a", "?"};
    v = NULL;
    CHECK(assay_vectorizer_fit(&o, empty, 3, &v, &err) == ASSAY_EINVAL && v == NULL);
    CHECK(strstr(err.msg, "no term is left") != NULL);
    /* df limits as fractions and counts */
    const char *d3[] = {"apple pear", "apple fig", "apple kiwi", "pear fig"};
    o.min_df = 2;
    o.max_df = 0.6; /* apple is in 3 of 4 documents: dropped */
    CHECK_OK(assay_vectorizer_fit(&o, d3, 4, &v, &err), &err);
    CHECK(v && assay_vectorizer_nfeatures(v) == 2 && strcmp(assay_vectorizer_term(v, 0), "fig") == 0 &&
          strcmp(assay_vectorizer_term(v, 1), "pear") == 0);
    assay_vectorizer_free(v);
    /* hashing: deterministic, bounded columns, no vocabulary */
    assay_vectorizer_options h;
    assay_vectorizer_options_init(&h, ASSAY_VEC_HASH);
    h.hash_features = 64;
    CHECK_OK(assay_vectorizer_fit(&h, d3, 4, &v, &err), &err);
    assay_csr A = {0}, B = {0};
    if (v) {
        CHECK_OK(assay_vectorizer_transform(v, d3, 4, &A, &err), &err);
        CHECK_OK(assay_vectorizer_transform(v, d3, 4, &B, &err), &err);
        CHECK(A.ncols == 64 && A.nnz == B.nnz && A.nnz >= 4);
        for (int64_t k = 0; k < A.nnz; k++) CHECK(A.indices[k] == B.indices[k] && A.indices[k] < 64);
        CHECK(assay_vectorizer_term(v, 0) == NULL);
    }
    assay_csr_deinit(&A);
    assay_csr_deinit(&B);
    assay_vectorizer_free(v);
    /* bad options and malformed JSON */
    o.text.ngram_min = 3;
    o.text.ngram_max = 2;
    CHECK(assay_vectorizer_fit(&o, d3, 4, &v, &err) == ASSAY_EINVAL);
    const char *bad[] = {"", "{}", "[1]", "{\"kind\":\"tfidf\"}",
                         "{\"kind\":\"tfidf\",\"text\":{\"case\":\"fold\",\"ngrams\":[1,1],\"min_token_len\":2},"
                         "\"min_df\":1,\"max_df\":1,\"n_docs\":3,\"terms\":[\"a\",\"a\"],\"idf\":[1,1]}",
                         "{\"kind\":\"tfidf\",\"text\":{\"case\":\"fold\",\"ngrams\":[1,1],\"min_token_len\":2},"
                         "\"min_df\":1,\"max_df\":1,\"n_docs\":3,\"terms\":[\"a\"],\"idf\":[0.5]}",
                         "{\"kind\":\"zip\",\"text\":{\"case\":\"fold\",\"ngrams\":[1,1],\"min_token_len\":2},"
                         "\"min_df\":1,\"max_df\":1,\"n_docs\":3}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = NULL;
        CHECK_MSG(assay_vectorizer_from_json(bad[i], strlen(bad[i]), &v, &err) == ASSAY_EFORMAT && !v,
                  "bad description %zu accepted", i);
    }
}

int main(void) {
    RUN(test_normalize);
    RUN(test_tokens);
    RUN(test_char_ngrams);
    RUN(test_parity);
    RUN(test_edges);
    RUN(test_threads);
    return check_summary();
}
