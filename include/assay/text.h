/* text.h - text as features: normalization (utf8proc), Unicode-aware tokenization with CJK
 * characters and bigrams, word n-grams, and fitted vectorizers (counts, binary, TF-IDF with
 * scikit-learn's TfidfVectorizer definitions, the hashing trick) that turn documents into CSR
 * rows. A fitted vectorizer is saved as JSON inside a model's pipeline. */
#ifndef ASSAY_TEXT_H
#define ASSAY_TEXT_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ASSAY_CASE_KEEP = 0, ASSAY_CASE_LOWER, ASSAY_CASE_FOLD } assay_text_case;

typedef struct assay_text_options {
    int nfkc;                  /* NFKC normalization (default 1): full-width, ligatures, ... */
    assay_text_case casing;    /* default FOLD (Unicode case folding: "Straße" ~ "STRASSE");
                                  LOWER is per-character lower case (as Python's str.lower) */
    int strip_accents;         /* drop combining marks after decomposition (default 0) */
    int strip_html;            /* remove tags, decode entities (default 1) */
    int placeholders;          /* URLs, e-mail addresses and numbers become the tokens xxurl,
                                  xxemail, xxnum (default 0) */
    int min_token_len;         /* shortest word token in characters (default 2, as the
                                  default token_pattern of scikit-learn); CJK characters are
                                  always tokens */
    int cjk_bigrams;           /* adjacent Han/Kana/Hangul characters also form bigrams (1) */
    int stop_words;            /* 1: drop scikit-learn's English stop words (default 0) */
    int ngram_min, ngram_max;  /* word n-grams (default 1, 1), joined by one space */
    int strict_utf8;           /* 1: invalid UTF-8 is refused (ASSAY_EUTF8, naming the byte
                                  offset; vectorizers add the 1-based document number) instead
                                  of replaced (default 0) */
    int char_minn, char_maxn;  /* also the character n-grams of each word, fastText style
                                  (assay_text_char_ngrams); 0, 0 (default): none */
} assay_text_options;

void assay_text_options_init(assay_text_options *o);

/* Normalize n bytes of s into out (appended, NUL-terminated). Invalid UTF-8 is replaced by
 * U+FFFD and counted in *invalid (when not NULL), or refused with ASSAY_EUTF8 (strict_utf8). */
int assay_text_normalize(const assay_text_options *o, const char *s, size_t n, assay_buf *out,
                         int64_t *invalid, assay_error *err);

/* The tokens (with n-grams) of one normalized document: fn is called with each token's bytes
 * (not NUL-terminated) in document order. A non-zero return from fn stops and is returned. */
typedef int (*assay_token_fn)(void *ctx, const char *tok, size_t len);
int assay_text_tokens(const assay_text_options *o, const char *s, size_t n, assay_token_fn fn,
                      void *ctx);

/* fastText's subwords of one token (its Dictionary::computeSubwords): the token is wrapped as
 * "<" token ">" and fn gets every run of minn..maxn whole UTF-8 characters of it, by start
 * position then length, except the lone "<" and ">". Nothing is allocated for tokens up to 1 KiB.
 * Returns 0, fn's first non-zero return, or ASSAY_ENOMEM. 1 <= minn <= maxn, else nothing. */
int assay_text_char_ngrams(const char *tok, size_t n, int minn, int maxn, assay_token_fn fn,
                           void *ctx);

/* The 64-bit hash of a token's bytes that the HASH vectorizer buckets with: column =
 * assay_text_hash(tok, n) % hash_features. Stable across runs and machines (FNV-1a 64 with
 * MurmurHash3's final mix, so low bits are usable for any modulus). */
uint64_t assay_text_hash(const char *tok, size_t n);

/* ---- vectorizers -------------------------------------------------------------------------- */

/* WORDPIECE is not a bag of words but a token sequence for a Transformer (bert): BERT's tokenizer
 * (wordpiece.h) with the vocabulary read from `vocab` at fit and kept in the vectorizer; design
 * column j of a document holds, as a float, the id of its j-th WordPiece token (no [CLS] or
 * [SEP]; at most max_len tokens, the tail cut). Its rows have one entry per token, zero ids
 * included, and the text options above do not apply (BERT's own normalization does). */
typedef enum {
    ASSAY_VEC_TFIDF = 0, ASSAY_VEC_COUNT, ASSAY_VEC_BINARY, ASSAY_VEC_HASH, ASSAY_VEC_WORDPIECE
} assay_vec_kind;

typedef struct assay_vectorizer_options {
    assay_text_options text;
    assay_vec_kind kind;       /* default TFIDF */
    double min_df, max_df;     /* >= 1: document counts; < 1: fractions of documents
                                  (defaults 1 and 1.0, as scikit-learn) */
    int64_t max_features;      /* keep the most frequent terms (corpus count; ties by term);
                                  0: all */
    int sublinear_tf;          /* tf = 1 + ln(tf) (default 0) */
    int smooth_idf;            /* idf = ln((1 + n) / (1 + df)) + 1, else ln(n / df) + 1 (1) */
    int norm;                  /* 1: rows scaled to unit L2 norm (default 1 for TFIDF and
                                  HASH, 0 for COUNT and BINARY) */
    int64_t hash_features;     /* HASH: buckets (default 2^20) */
    char vocab[512];           /* WORDPIECE: path of the vocab.txt read at fit */
    int max_len;               /* WORDPIECE: tokens kept per document (default 128) */
    int lowercase;             /* WORDPIECE: BERT's do_lower_case (default 1; accents are
                                  stripped with it, as BertTokenizer) */
} assay_vectorizer_options;

void assay_vectorizer_options_init(assay_vectorizer_options *o, assay_vec_kind kind);

typedef struct assay_vectorizer assay_vectorizer;

/* Fit on n documents (NULL entries are empty documents). */
int assay_vectorizer_fit(const assay_vectorizer_options *o, const char *const *docs, int64_t n,
                         assay_vectorizer **out, assay_error *err);
/* CSR rows (columns sorted) for n documents; terms not in the vocabulary are ignored. */
int assay_vectorizer_transform(const assay_vectorizer *v, const char *const *docs, int64_t n,
                               assay_csr *out, assay_error *err);
int64_t assay_vectorizer_nfeatures(const assay_vectorizer *v);
/* The term of column j (vocabulary in byte order), or NULL for HASH and WORDPIECE. */
const char *assay_vectorizer_term(const assay_vectorizer *v, int64_t j);
/* The fitted idf of column j (1 when the kind has none). */
double assay_vectorizer_idf(const assay_vectorizer *v, int64_t j);
/* Invalid UTF-8 sequences replaced while fitting. */
int64_t assay_vectorizer_invalid_utf8(const assay_vectorizer *v);
void assay_vectorizer_free(assay_vectorizer *v);

/* JSON text (assay_free) and back; from_json validates everything and refuses with
 * ASSAY_EFORMAT. */
char *assay_vectorizer_to_json(const assay_vectorizer *v);
int assay_vectorizer_from_json(const char *json, size_t len, assay_vectorizer **out,
                               assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
