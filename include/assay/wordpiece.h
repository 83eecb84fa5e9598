/* wordpiece.h - BERT's tokenizer: basic tokenization and WordPiece with the semantics of Hugging
 * Face's BertTokenizer (BERT's tokenization.py), a vocab.txt vocabulary, encoding of one text or
 * a pair into [CLS] a [SEP] (b [SEP]) with segment ids, truncation and an attention mask,
 * decoding, and a WordPiece trainer. */
#ifndef ASSAY_WORDPIECE_H
#define ASSAY_WORDPIECE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_wordpiece_options {
    int do_lower_case;            /* lower-case (Python's str.lower) (default 1) */
    int strip_accents;            /* NFD and drop Mn marks: -1 follows do_lower_case (default),
                                     0 never, 1 always */
    int tokenize_chinese_chars;   /* spaces around each CJK ideograph (default 1) */
    int nfc;                      /* NFC after the CJK spacing, as transformers >= 4.31 (default
                                     1); 0 is Google's original tokenization.py */
    int max_input_chars_per_word; /* longer words become [UNK] (default 100, at most 1024) */
} assay_wordpiece_options;

void assay_wordpiece_options_init(assay_wordpiece_options *o);

/* The special tokens; every vocabulary has all five. */
typedef enum {
    ASSAY_WP_PAD = 0, ASSAY_WP_UNK, ASSAY_WP_CLS, ASSAY_WP_SEP, ASSAY_WP_MASK, ASSAY_WP_NSPECIAL
} assay_wp_special;

typedef struct assay_wordpiece assay_wordpiece;

/* A vocabulary from vocab.txt (one token per line, id = 0-based line number; "\n" or "\r\n").
 * Refused with a message naming the file and line: invalid UTF-8, an empty line, a duplicate;
 * and a vocabulary without [CLS], [SEP], [MASK], [UNK] or [PAD] (naming every one missing).
 * o may be NULL (defaults). */
int assay_wordpiece_load(const char *path, const assay_wordpiece_options *o,
                         assay_wordpiece **out, assay_error *err);
/* The same from n bytes of vocab.txt text in memory (name is used in messages). */
int assay_wordpiece_load_buffer(const char *text, size_t n, const char *name,
                                const assay_wordpiece_options *o, assay_wordpiece **out,
                                assay_error *err);
/* The same from an array of n NUL-terminated tokens (id = index). */
int assay_wordpiece_from_tokens(const char *const *tokens, int64_t n,
                                const assay_wordpiece_options *o, assay_wordpiece **out,
                                assay_error *err);
/* vocab.txt, written to a temporary file and renamed. */
int assay_wordpiece_save(const assay_wordpiece *wp, const char *path, assay_error *err);
void assay_wordpiece_free(assay_wordpiece *wp);

int32_t assay_wordpiece_size(const assay_wordpiece *wp);
const char *assay_wordpiece_token(const assay_wordpiece *wp, int32_t id); /* NULL: no such id */
int32_t assay_wordpiece_id(const assay_wordpiece *wp, const char *tok, size_t len); /* -1 */
int32_t assay_wordpiece_special_id(const assay_wordpiece *wp, assay_wp_special s);
const assay_wordpiece_options *assay_wordpiece_get_options(const assay_wordpiece *wp);

/* Basic tokenization of n bytes of s (invalid UTF-8 bytes become U+FFFD, which BERT drops):
 * fn gets each word (not NUL-terminated) in order. A special token written in the text
 * ("[SEP]") is one word, never lower-cased or split. fn's first non-zero return is returned. */
typedef int (*assay_wp_word_fn)(void *ctx, const char *word, size_t len);
int assay_wordpiece_basic(const assay_wordpiece_options *o, const char *s, size_t n,
                          assay_wp_word_fn fn, void *ctx);

/* Token ids of n bytes of text: basic tokenization then WordPiece (greedy longest match first,
 * "##" continuations; a word with no match or over max_input_chars_per_word chars is [UNK]).
 * *ids (assay_malloc'ed, may be NULL when *n_ids is 0) is owned by the caller. */
int assay_wordpiece_tokenize(const assay_wordpiece *wp, const char *s, size_t n, int32_t **ids,
                             int64_t *n_ids, assay_error *err);

typedef struct assay_wp_encoding {
    int32_t *ids;            /* [CLS] a [SEP] (b [SEP]) ([PAD]...) */
    int32_t *type_ids;       /* segment: 0 for [CLS] a [SEP], 1 for b [SEP], 0 for padding */
    int32_t *attention_mask; /* 1 for tokens, 0 for padding */
    int64_t n;               /* length of the three arrays */
    int64_t truncated;       /* tokens of a and b cut to fit max_len */
} assay_wp_encoding;

/* Encode a (and b when not NULL; both NUL-terminated). max_len > 0 truncates to max_len tokens
 * in all (specials included): a alone loses its tail; a pair loses one token at a time from
 * the longer of the two, from b on a tie (transformers' 'longest_first'). max_len <= 0: no
 * limit. pad: pad with [PAD] up to max_len. max_len smaller than the special tokens is
 * ASSAY_EINVAL. out is caller storage; free with assay_wp_encoding_deinit. */
int assay_wordpiece_encode(const assay_wordpiece *wp, const char *a, const char *b,
                           int64_t max_len, int pad, assay_wp_encoding *out, assay_error *err);
void assay_wp_encoding_deinit(assay_wp_encoding *e);

/* Text of n ids (appended to out, NUL-terminated): tokens joined by spaces with " ##" removed
 * (transformers' convert_tokens_to_string). skip_special drops the five specials; clean_up
 * applies transformers' clean_up_tokenization (" ." -> ".", " n't" -> "n't", ...). An id out of
 * range is ASSAY_EINVAL. */
int assay_wordpiece_decode(const assay_wordpiece *wp, const int32_t *ids, int64_t n,
                           int skip_special, int clean_up, assay_buf *out, assay_error *err);

typedef struct assay_wordpiece_train_options {
    assay_wordpiece_options tok; /* basic tokenization of the corpus */
    int32_t vocab_size;          /* target size, specials and alphabet included (default 30522) */
    int64_t min_frequency;       /* pairs seen fewer times are never merged (default 1) */
} assay_wordpiece_train_options;

void assay_wordpiece_train_options_init(assay_wordpiece_train_options *o);

/* Learn a vocabulary from n documents (NULL entries are empty): the five specials, every
 * character seen and its "##" form, then merges of the pair with the highest
 * count(ab) / (count(a) count(b)) until vocab_size tokens (or no pair is left). Deterministic.
 * The vocabulary is larger than vocab_size only when the alphabet alone is. */
int assay_wordpiece_train(const assay_wordpiece_train_options *o, const char *const *docs,
                          int64_t n, assay_wordpiece **out, assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
