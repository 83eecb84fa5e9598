/* test_wordpiece.c - BERT's tokenizer: parity with BertTokenizer's logic on 70 tricky strings
 * in three settings (tests/parity/gen/gen_wordpiece.py: every token and id must match), NUL and
 * invalid UTF-8 in the text, vocabulary refusals (missing specials, invalid UTF-8, duplicates,
 * empty lines) and the save/load round trip, encoding of single texts and pairs with
 * longest_first truncation, padding and masks, decoding, and the trainer (size reached,
 * deterministic, a corpus word in few pieces). */
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "internal.h"

/* ---- parity --------------------------------------------------------------------------------- */

static int case_matches(const assay_wordpiece *wp, const char *text, json_t *want) {
    int32_t *ids = NULL;
    int64_t n = 0;
    assay_error e;
    if (assay_wordpiece_tokenize(wp, text, strlen(text), &ids, &n, &e)) return 0;
    json_t *wids = json_object_get(want, "ids"), *wtok = json_object_get(want, "tokens");
    int ok = (int64_t)json_array_size(wids) == n;
    for (int64_t i = 0; ok && i < n; i++)
        ok = json_integer_value(json_array_get(wids, (size_t)i)) == ids[i] &&
             strcmp(json_string_value(json_array_get(wtok, (size_t)i)), assay_wordpiece_token(wp, ids[i])) == 0;
    if (!ok) {
        fprintf(stderr, "  mismatch on \"%s\": got", text);
        for (int64_t i = 0; i < n; i++) fprintf(stderr, " %s", assay_wordpiece_token(wp, ids[i]));
        fprintf(stderr, "\n");
    }
    assay_free(ids);
    return ok;
}

static void test_parity(void) {
    json_t *doc = fixture("wordpiece.json");
    CHECK(doc != NULL);
    if (!doc) return;
    json_t *vocab = json_object_get(doc, "vocab"), *cases = json_object_get(doc, "cases");
    size_t nv = json_array_size(vocab);
    const char **toks = assay_mallocarray(nv, sizeof *toks);
    for (size_t i = 0; i < nv; i++) toks[i] = json_string_value(json_array_get(vocab, i));
    static const struct { const char *key; int lower, strip; } modes[] = {
        {"lower", 1, -1}, {"cased", 0, -1}, {"lower_keep_accents", 1, 0}};
    int total = 0, matched = 0;
    for (size_t m = 0; m < 3; m++) {
        assay_wordpiece_options o;
        assay_wordpiece_options_init(&o);
        o.do_lower_case = modes[m].lower;
        o.strip_accents = modes[m].strip;
        assay_wordpiece *wp = NULL;
        assay_error e;
        CHECK_OK(assay_wordpiece_from_tokens(toks, (int64_t)nv, &o, &wp, &e), &e);
        if (!wp) continue;
        for (size_t c = 0; c < json_array_size(cases); c++) {
            json_t *cs = json_array_get(cases, c);
            int ok = case_matches(wp, json_string_value(json_object_get(cs, "text")),
                                  json_object_get(cs, modes[m].key));
            CHECK_MSG(ok, "case %zu (%s)", c, modes[m].key);
            total++;
            matched += ok;
        }
        assay_wordpiece_free(wp);
    }
    printf("wordpiece parity: %d of %d cases match exactly\n", matched, total);
    CHECK(total >= 180);
    assay_free(toks);
    json_decref(doc);
}

/* ---- a small vocabulary ---------------------------------------------------------------------- */

static const char *const small_vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "un", "##aff",
    "##able", "do", "##n", "'", "t", ".", ",", "a", "b", "##b", "!", "s", "hello", "world", "x",
};
#define NSMALL ((int64_t)(sizeof small_vocab / sizeof small_vocab[0]))

static assay_wordpiece *small(void) {
    assay_wordpiece *wp = NULL;
    assay_error e;
    CHECK_OK(assay_wordpiece_from_tokens(small_vocab, NSMALL, NULL, &wp, &e), &e);
    return wp;
}

/* The tokens of text joined by ' '. */
static const char *toks_of(const assay_wordpiece *wp, const char *s, size_t n) {
    static char out[1024];
    int32_t *ids = NULL;
    int64_t k = 0;
    assay_error e;
    out[0] = 0;
    if (assay_wordpiece_tokenize(wp, s, n, &ids, &k, &e) == 0)
        for (int64_t i = 0; i < k; i++)
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "",
                     assay_wordpiece_token(wp, ids[i]));
    assay_free(ids);
    return out;
}

static void test_bytes(void) {
    assay_wordpiece *wp = small();
    if (!wp) return;
    /* NUL, invalid UTF-8 (a stray continuation byte, a truncated sequence) are dropped */
    const char t1[] = "the\0cat s\x80" "at \xE2\x82mat";
    CHECK_STR(toks_of(wp, t1, sizeof t1 - 1), "[UNK] sat mat");
    CHECK_STR(toks_of(wp, "the\0cat", 7), "[UNK]");                /* "thecat": no match */
    CHECK_STR(toks_of(wp, "s\x80" "at", 4), "sat");
    CHECK_STR(toks_of(wp, "\xE2\x82mat", 5), "mat");
    CHECK_STR(toks_of(wp, "unaffable don't.", 16), "un ##aff ##able do ##n ' t .");
    CHECK_STR(toks_of(wp, "", 0), "");
    CHECK_STR(toks_of(wp, NULL, 0), "");
    /* a word of exactly max chars is tokenized, one more is [UNK] */
    assay_wordpiece_options o = *assay_wordpiece_get_options(wp);
    CHECK(o.max_input_chars_per_word == 100 && o.do_lower_case == 1);
    char longw[102];
    memset(longw, 'b', sizeof longw);
    CHECK(strncmp(toks_of(wp, longw, 100), "b ##b ##b", 9) == 0);
    CHECK_STR(toks_of(wp, longw, 101), "[UNK]");
    assay_wordpiece_free(wp);
}

/* ---- vocabulary refusals ------------------------------------------------------------------- */

static void test_vocab(void) {
    assay_wordpiece *wp = NULL;
    assay_error e = {0};
    const char *missing = "[PAD]\n[UNK]\nthe\n[SEP]\n";
    CHECK(assay_wordpiece_load_buffer(missing, strlen(missing), "v.txt", NULL, &wp, &e) == ASSAY_EFORMAT);
    CHECK_MSG(strstr(e.msg, "[CLS]") && strstr(e.msg, "[MASK]") && !strstr(e.msg, "[PAD]"), "%s", e.msg);
    CHECK(wp == NULL);
    const char *bad = "[PAD]\n[UNK]\n[CLS]\nok\nb\xC3(\n[SEP]\n[MASK]\n";
    CHECK(assay_wordpiece_load_buffer(bad, strlen(bad), "v.txt", NULL, &wp, &e) == ASSAY_EUTF8);
    CHECK_MSG(strstr(e.msg, "v.txt:5") != NULL, "%s", e.msg);
    const char *dup = "[PAD]\n[UNK]\n[CLS]\nthe\n[SEP]\nthe\n[MASK]\n";
    CHECK(assay_wordpiece_load_buffer(dup, strlen(dup), "v.txt", NULL, &wp, &e) == ASSAY_EFORMAT);
    CHECK_MSG(strstr(e.msg, "v.txt:6") && strstr(e.msg, "line 4"), "%s", e.msg);
    const char *empty = "[PAD]\n\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    CHECK(assay_wordpiece_load_buffer(empty, strlen(empty), "v.txt", NULL, &wp, &e) == ASSAY_EFORMAT);
    CHECK_MSG(strstr(e.msg, "v.txt:2") != NULL, "%s", e.msg);
    CHECK(assay_wordpiece_load("/nonexistent/vocab.txt", NULL, &wp, &e) == ASSAY_EIO);
    /* CRLF lines, no final newline; ids are line numbers */
    const char *crlf = "[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\n[PAD]\r\nhello";
    CHECK_OK(assay_wordpiece_load_buffer(crlf, strlen(crlf), "v.txt", NULL, &wp, &e), &e);
    if (wp) {
        CHECK(assay_wordpiece_size(wp) == 6);
        CHECK(assay_wordpiece_id(wp, "hello", 5) == 5 && assay_wordpiece_id(wp, "hell", 4) == -1);
        CHECK(assay_wordpiece_special_id(wp, ASSAY_WP_PAD) == 4 && assay_wordpiece_special_id(wp, ASSAY_WP_UNK) == 0);
        CHECK(assay_wordpiece_token(wp, 6) == NULL && assay_wordpiece_token(wp, -1) == NULL);
        assay_wordpiece_free(wp);
    }
    /* save and load back */
    wp = small();
    char path[64];
    snprintf(path, sizeof path, "/tmp/assay_wp_%ld.txt", (long)getpid());
    CHECK_OK(assay_wordpiece_save(wp, path, &e), &e);
    assay_wordpiece *back = NULL;
    CHECK_OK(assay_wordpiece_load(path, NULL, &back, &e), &e);
    CHECK(back && assay_wordpiece_size(back) == NSMALL);
    for (int32_t i = 0; back && i < NSMALL; i++) CHECK_STR(assay_wordpiece_token(back, i), small_vocab[i]);
    remove(path);
    assay_wordpiece_free(back);
    assay_wordpiece_free(wp);
    assay_wordpiece_free(NULL);
}

/* ---- encode and decode ------------------------------------------------------------------------ */

static void test_encode(void) {
    assay_wordpiece *wp = small();
    if (!wp) return;
    assay_wp_encoding en;
    assay_error e;
    /* single: [CLS] the cat sat [SEP] */
    CHECK_OK(assay_wordpiece_encode(wp, "The cat sat", NULL, 0, 0, &en, &e), &e);
    int32_t want1[] = {2, 5, 6, 7, 3};
    CHECK(en.n == 5 && memcmp(en.ids, want1, sizeof want1) == 0 && en.truncated == 0);
    for (int64_t i = 0; i < en.n; i++) CHECK(en.type_ids[i] == 0 && en.attention_mask[i] == 1);
    assay_wp_encoding_deinit(&en);
    /* single truncated to 4: one token cut from the tail */
    CHECK_OK(assay_wordpiece_encode(wp, "The cat sat", NULL, 4, 0, &en, &e), &e);
    int32_t want2[] = {2, 5, 6, 3};
    CHECK(en.n == 4 && memcmp(en.ids, want2, sizeof want2) == 0 && en.truncated == 1);
    assay_wp_encoding_deinit(&en);
    /* pair, longest_first: a = 5 tokens, b = 2 tokens, max 8 -> 5 for both: cut 2 from a */
    CHECK_OK(assay_wordpiece_encode(wp, "the cat sat on the", "hello world", 8, 0, &en, &e), &e);
    int32_t want3[] = {2, 5, 6, 7, 3, 24, 25, 3};
    CHECK(en.n == 8 && memcmp(en.ids, want3, sizeof want3) == 0 && en.truncated == 2);
    int32_t types3[] = {0, 0, 0, 0, 0, 1, 1, 1};
    CHECK(memcmp(en.type_ids, types3, sizeof types3) == 0);
    assay_wp_encoding_deinit(&en);
    /* equal lengths: b loses first (3 + 3 in room 3: cut from b, a, b) */
    CHECK_OK(assay_wordpiece_encode(wp, "the cat sat", "on the mat", 6, 0, &en, &e), &e);
    int32_t want4[] = {2, 5, 6, 3, 8, 3};
    CHECK(en.n == 6 && memcmp(en.ids, want4, sizeof want4) == 0 && en.truncated == 3);
    assay_wp_encoding_deinit(&en);
    /* padding: mask 0 and type 0 on [PAD] */
    CHECK_OK(assay_wordpiece_encode(wp, "cat", "mat", 8, 1, &en, &e), &e);
    int32_t want5[] = {2, 6, 3, 9, 3, 0, 0, 0}, mask5[] = {1, 1, 1, 1, 1, 0, 0, 0}, type5[] = {0, 0, 0, 1, 1, 0, 0, 0};
    CHECK(en.n == 8 && memcmp(en.ids, want5, sizeof want5) == 0);
    CHECK(memcmp(en.attention_mask, mask5, sizeof mask5) == 0 && memcmp(en.type_ids, type5, sizeof type5) == 0);
    assay_wp_encoding_deinit(&en);
    /* empty texts, and no room for the specials */
    CHECK_OK(assay_wordpiece_encode(wp, "", "", 0, 0, &en, &e), &e);
    CHECK(en.n == 3);
    assay_wp_encoding_deinit(&en);
    CHECK(assay_wordpiece_encode(wp, "a", "b", 2, 0, &en, &e) == ASSAY_EINVAL);
    CHECK(en.ids == NULL);
    assay_wordpiece_free(wp);
}

static void test_decode(void) {
    assay_wordpiece *wp = small();
    if (!wp) return;
    assay_error e;
    assay_buf b = {0};
    int32_t ids[] = {2, 10, 11, 12, 13, 14, 15, 16, 18, 5, 6, 17, 3, 0};
    CHECK_OK(assay_wordpiece_decode(wp, ids, 14, 0, 0, &b, &e), &e);
    CHECK_STR(b.data, "[CLS] unaffable don ' t , the cat . [SEP] [PAD]");
    b.len = 0;
    CHECK_OK(assay_wordpiece_decode(wp, ids, 14, 1, 1, &b, &e), &e);
    CHECK_STR(b.data, "unaffable don't, the cat.");
    b.len = 0;
    CHECK_OK(assay_wordpiece_decode(wp, ids, 0, 1, 1, &b, &e), &e);
    CHECK_STR(b.data, "");
    int32_t bad[] = {5, 99};
    CHECK(assay_wordpiece_decode(wp, bad, 2, 0, 0, &b, &e) == ASSAY_EINVAL);
    CHECK_MSG(strstr(e.msg, "99") != NULL, "%s", e.msg);
    assay_buf_deinit(&b);
    assay_wordpiece_free(wp);
}

/* ---- trainer ------------------------------------------------------------------------------- */

static char **corpus(int64_t *n) {
    static const char *const words[] = {
        "the", "tokenizer", "learns", "pieces", "from", "words", "and", "their", "frequencies",
        "Transformers", "encode", "sentences", "into", "tokens", "quickly", "running", "runner",
        "runs", "played", "playing", "player", "naïve", "café", "東京", "übermäßig", "unbelievable",
    };
    const int64_t nd = 400, nw = (int64_t)(sizeof words / sizeof words[0]);
    char **docs = assay_calloc((size_t)nd, sizeof *docs);
    assay_rng r;
    assay_rng_seed(&r, 7);
    for (int64_t d = 0; d < nd; d++) {
        assay_buf b = {0};
        for (int k = 0; k < 30; k++) {
            uint64_t j = assay_rng_below(&r, (uint64_t)nw);
            j = j * (assay_rng_below(&r, (uint64_t)nw) + 1) / (uint64_t)nw; /* skewed to the first */
            assay_buf_printf(&b, "%s%s", words[j], k % 7 == 6 ? ". " : " ");
        }
        docs[d] = b.data;
    }
    *n = nd;
    return docs;
}

static void test_train(void) {
    int64_t nd;
    char **docs = corpus(&nd);
    assay_wordpiece_train_options o;
    assay_wordpiece_train_options_init(&o);
    o.vocab_size = 150;
    assay_wordpiece *w1 = NULL, *w2 = NULL;
    assay_error e;
    CHECK_OK(assay_wordpiece_train(&o, (const char *const *)docs, nd, &w1, &e), &e);
    CHECK_OK(assay_wordpiece_train(&o, (const char *const *)docs, nd, &w2, &e), &e);
    if (w1 && w2) {
        CHECK(assay_wordpiece_size(w1) == 150);
        CHECK(assay_wordpiece_size(w2) == assay_wordpiece_size(w1));
        int same = 1;
        for (int32_t i = 0; i < assay_wordpiece_size(w1); i++)
            same &= strcmp(assay_wordpiece_token(w1, i), assay_wordpiece_token(w2, i)) == 0;
        CHECK(same);
        CHECK_STR(assay_wordpiece_token(w1, 0), "[PAD]");
        CHECK_STR(assay_wordpiece_token(w1, 4), "[MASK]");
        CHECK(assay_wordpiece_id(w1, "##a", 3) > 0 && assay_wordpiece_id(w1, "t", 1) > 0);
        /* corpus words: fewer pieces than characters, never [UNK]; with merges until no pair is
         * left (size 100000 is out of reach), each is one token */
        assay_wordpiece *w3 = NULL;
        o.vocab_size = 100000;
        CHECK_OK(assay_wordpiece_train(&o, (const char *const *)docs, nd, &w3, &e), &e);
        CHECK(w3 && assay_wordpiece_size(w3) < 100000);
        const char *probe[] = {"tokenizer", "frequencies", "Transformers", "naïve", "東京", "quickly"};
        for (size_t i = 0; w3 && i < sizeof probe / sizeof probe[0]; i++) {
            int32_t *ids = NULL;
            int64_t k = 0;
            CHECK_OK(assay_wordpiece_tokenize(w1, probe[i], strlen(probe[i]), &ids, &k, &e), &e);
            CHECK_MSG(k >= 1 && (k < (int64_t)strlen(probe[i]) - 2 || k == 2), "%s: %lld pieces", probe[i], (long long)k);
            for (int64_t j = 0; j < k; j++) CHECK(ids[j] != assay_wordpiece_special_id(w1, ASSAY_WP_UNK));
            assay_free(ids);
            CHECK_OK(assay_wordpiece_tokenize(w3, probe[i], strlen(probe[i]), &ids, &k, &e), &e);
            CHECK_MSG(k == 1 || (i == 4 && k == 2), "%s: %lld pieces", probe[i], (long long)k); /* 東京: two ideographs */
            assay_free(ids);
        }
        assay_wordpiece_free(w3);
        /* a size below the alphabet keeps the alphabet */
        w3 = NULL;
        o.vocab_size = 10;
        CHECK_OK(assay_wordpiece_train(&o, (const char *const *)docs, nd, &w3, &e), &e);
        CHECK(w3 && assay_wordpiece_size(w3) > 10);
        assay_wordpiece_free(w3);
    }
    /* an empty corpus: specials only */
    assay_wordpiece *w4 = NULL;
    o.vocab_size = 100;
    CHECK_OK(assay_wordpiece_train(&o, NULL, 0, &w4, &e), &e);
    CHECK(w4 && assay_wordpiece_size(w4) == 5);
    assay_wordpiece_free(w4);
    o.vocab_size = 3;
    CHECK(assay_wordpiece_train(&o, NULL, 0, &w4, &e) == ASSAY_EINVAL);
    assay_wordpiece_free(w1);
    assay_wordpiece_free(w2);
    for (int64_t d = 0; d < nd; d++) assay_free(docs[d]);
    assay_free(docs);
}

/* Optional: WP_BENCH=path trains a vocabulary of 8000 on that file and prints the time. */
static void bench_train(void) {
    const char *path = getenv("WP_BENCH");
    if (!path) return;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    assay_buf b = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) assay_buf_append(&b, chunk, k);
    fclose(f);
    assay_buf_append(&b, "", 1);
    const char *docs[1] = {b.data};
    assay_wordpiece_train_options o;
    assay_wordpiece_train_options_init(&o);
    o.vocab_size = 8000;
    assay_wordpiece *wp = NULL;
    assay_error e;
    double t0 = assay_now();
    CHECK_OK(assay_wordpiece_train(&o, docs, 1, &wp, &e), &e);
    double t1 = assay_now();
    printf("trainer: %zu bytes, vocab %d in %.2f s\n", b.len - 1, wp ? assay_wordpiece_size(wp) : 0, t1 - t0);
    assay_wordpiece_free(wp);
    assay_buf_deinit(&b);
}

/* ---- the WORDPIECE text vectorizer: ids by position, as tokenize gives them -------------------- */

static void test_vectorizer(void) {
    assay_wordpiece *wp = small();
    if (!wp) return;
    assay_error e;
    assay_vectorizer_options o;
    assay_vectorizer_options_init(&o, ASSAY_VEC_WORDPIECE);
    snprintf(o.vocab, sizeof o.vocab, "/tmp/assay_wpv_%ld.txt", (long)getpid());
    CHECK_OK(assay_wordpiece_save(wp, o.vocab, &e), &e);
    o.max_len = 4;
    const char *docs[] = {"The cat sat on the mat", "", NULL, "cat"};
    assay_vectorizer *v = NULL, *back = NULL;
    CHECK_OK(assay_vectorizer_fit(&o, docs, 4, &v, &e), &e);
    remove(o.vocab);
    if (!v) goto done;
    CHECK(assay_vectorizer_nfeatures(v) == 4 && assay_vectorizer_term(v, 0) == NULL);
    assay_csr X = {0}, Y = {0};
    CHECK_OK(assay_vectorizer_transform(v, docs, 4, &X, &e), &e);
    for (int d = 0; d < 4; d++) { /* row d: the first max_len ids of tokenize, column = position */
        int32_t *ids = NULL;
        int64_t n = 0;
        CHECK_OK(assay_wordpiece_tokenize(wp, docs[d] ? docs[d] : "", docs[d] ? strlen(docs[d]) : 0, &ids, &n, &e), &e);
        int64_t k = n < 4 ? n : 4;
        CHECK_MSG(X.indptr[d + 1] - X.indptr[d] == k, "doc %d: %lld entries, want %lld", d,
                  (long long)(X.indptr[d + 1] - X.indptr[d]), (long long)k);
        for (int64_t j = 0; j < k && X.indptr[d] + j < X.indptr[d + 1]; j++)
            CHECK(X.indices[X.indptr[d] + j] == j && X.values[X.indptr[d] + j] == (float)ids[j]);
        assay_free(ids);
    }
    /* the vocabulary travels in the JSON: the same rows after a round trip */
    char *js = assay_vectorizer_to_json(v);
    CHECK(js != NULL);
    if (js) CHECK_OK(assay_vectorizer_from_json(js, strlen(js), &back, &e), &e);
    if (back) CHECK_OK(assay_vectorizer_transform(back, docs, 4, &Y, &e), &e);
    CHECK(back && Y.nnz == X.nnz && Y.ncols == 4 && memcmp(Y.indptr, X.indptr, 5 * sizeof *X.indptr) == 0 &&
          memcmp(Y.values, X.values, (size_t)X.nnz * sizeof *X.values) == 0);
    assay_free(js);
    assay_csr_deinit(&X);
    assay_csr_deinit(&Y);
    /* a missing vocabulary names the file */
    assay_vectorizer *none = NULL;
    CHECK(assay_vectorizer_fit(&o, docs, 4, &none, &e) != ASSAY_OK && strstr(e.msg, "assay_wpv_") && !none);
done:
    assay_vectorizer_free(v);
    assay_vectorizer_free(back);
    assay_wordpiece_free(wp);
}

int main(void) {
    RUN(test_parity);
    RUN(test_bytes);
    RUN(test_vocab);
    RUN(test_encode);
    RUN(test_decode);
    RUN(test_train);
    RUN(test_vectorizer);
    RUN(bench_train);
    return check_summary();
}
