/* text_normalize.c - text normalization and tokenization (include/assay/text.h).
 *
 * Normalization, in order: HTML tags become spaces and entities are decoded; invalid UTF-8
 * becomes U+FFFD (counted); utf8proc applies NFKC, case folding and accent stripping as asked;
 * then, optionally, URLs, e-mail addresses and numbers become placeholder tokens.
 * Tokens are runs of letters, digits, marks and '_' (Unicode categories L*, N*, M*, as Python's
 * \w, so the default matches scikit-learn's token_pattern (?u)\b\w\w+\b); each Han, Kana or
 * Hangul character is a token of its own and adjacent ones also form bigrams, so Chinese,
 * Japanese and Korean classify without a dictionary. Stop words are removed before word
 * n-grams are formed, as scikit-learn does; character n-grams of each word follow fastText's
 * subwords ("<word>"). It does not stem, lemmatize or segment words of
 * scripts written without spaces other than CJK (Thai, Lao). */
#include <utf8proc.h>

#include <ctype.h>

#include "prep_internal.h"

void assay_text_options_init(assay_text_options *o) {
    memset(o, 0, sizeof *o);
    o->nfkc = 1;
    o->casing = ASSAY_CASE_FOLD;
    o->strip_html = 1;
    o->min_token_len = 2;
    o->cjk_bigrams = 1;
    o->ngram_min = o->ngram_max = 1;
}

/* scikit-learn's ENGLISH_STOP_WORDS (sklearn/feature_extraction/_stop_words.py), sorted. */
static const char *const stop_words[] = {
    "a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost",
    "alone", "along", "already", "also", "although", "always", "am", "among", "amongst",
    "amoungst", "amount", "an", "and", "another", "any", "anyhow", "anyone", "anything", "anyway",
    "anywhere", "are", "around", "as", "at", "back", "be", "became", "because", "become",
    "becomes", "becoming", "been", "before", "beforehand", "behind", "being", "below", "beside",
    "besides", "between", "beyond", "bill", "both", "bottom", "but", "by", "call", "can", "cannot",
    "cant", "co", "con", "could", "couldnt", "cry", "de", "describe", "detail", "do", "done",
    "down", "due", "during", "each", "eg", "eight", "either", "eleven", "else", "elsewhere",
    "empty", "enough", "etc", "even", "ever", "every", "everyone", "everything", "everywhere",
    "except", "few", "fifteen", "fifty", "fill", "find", "fire", "first", "five", "for", "former",
    "formerly", "forty", "found", "four", "from", "front", "full", "further", "get", "give", "go",
    "had", "has", "hasnt", "have", "he", "hence", "her", "here", "hereafter", "hereby", "herein",
    "hereupon", "hers", "herself", "him", "himself", "his", "how", "however", "hundred", "i", "ie",
    "if", "in", "inc", "indeed", "interest", "into", "is", "it", "its", "itself", "keep", "last",
    "latter", "latterly", "least", "less", "ltd", "made", "many", "may", "me", "meanwhile",
    "might", "mill", "mine", "more", "moreover", "most", "mostly", "move", "much", "must", "my",
    "myself", "name", "namely", "neither", "never", "nevertheless", "next", "nine", "no", "nobody",
    "none", "noone", "nor", "not", "nothing", "now", "nowhere", "of", "off", "often", "on", "once",
    "one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours", "ourselves", "out",
    "over", "own", "part", "per", "perhaps", "please", "put", "rather", "re", "same", "see",
    "seem", "seemed", "seeming", "seems", "serious", "several", "she", "should", "show", "side",
    "since", "sincere", "six", "sixty", "so", "some", "somehow", "someone", "something",
    "sometime", "sometimes", "somewhere", "still", "such", "system", "take", "ten", "than", "that",
    "the", "their", "them", "themselves", "then", "thence", "there", "thereafter", "thereby",
    "therefore", "therein", "thereupon", "these", "they", "thick", "thin", "third", "this",
    "those", "though", "three", "through", "throughout", "thru", "thus", "to", "together", "too",
    "top", "toward", "towards", "twelve", "twenty", "two", "un", "under", "until", "up", "upon",
    "us", "very", "via", "was", "we", "well", "were", "what", "whatever", "when", "whence",
    "whenever", "where", "whereafter", "whereas", "whereby", "wherein", "whereupon", "wherever",
    "whether", "which", "while", "whither", "who", "whoever", "whole", "whom", "whose", "why",
    "will", "with", "within", "without", "would", "yet", "you", "your", "yours", "yourself",
    "yourselves",
};
#define NSTOP (sizeof stop_words / sizeof stop_words[0])

static int is_stop(const char *s, size_t n) {
    size_t lo = 0, hi = NSTOP;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(stop_words[mid], s, n);
        if (c == 0 && stop_words[mid][n] != '\0') c = 1;
        if (c < 0) lo = mid + 1;
        else if (c > 0) hi = mid;
        else return 1;
    }
    return 0;
}

/* ---- HTML ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int32_t cp;
} entities[] = {
    {"amp", '&'},       {"apos", '\''},     {"gt", '>'},        {"hellip", 0x2026}, {"laquo", 0xAB},
    {"ldquo", 0x201C},  {"lsquo", 0x2018},  {"lt", '<'},        {"mdash", 0x2014},  {"nbsp", 0xA0},
    {"ndash", 0x2013},  {"quot", '"'},      {"raquo", 0xBB},    {"rdquo", 0x201D},  {"rsquo", 0x2019},
};

static int put_cp(assay_buf *b, int32_t cp) {
    uint8_t u[4];
    utf8proc_ssize_t k = utf8proc_encode_char(cp, u);
    return assay_buf_append(b, u, k > 0 ? (size_t)k : 0);
}

/* Tags become a space, entities are decoded; everything else is copied. */
static int strip_html(const char *s, size_t n, assay_buf *out) {
    int rc = ASSAY_OK;
    for (size_t i = 0; i < n && !rc;) {
        char c = s[i];
        if (c == '<' && i + 1 < n &&
            (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '!')) {
            const char *gt = memchr(s + i, '>', n - i);
            if (gt) {
                rc = assay_buf_append(out, " ", 1);
                i = (size_t)(gt - s) + 1;
                continue;
            }
        }
        if (c == '&') {
            const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
            if (semi) {
                size_t len = (size_t)(semi - s) - i - 1;
                const char *e = s + i + 1;
                int32_t cp = -1;
                if (len >= 2 && e[0] == '#') {
                    char num[16] = {0}, *end;
                    memcpy(num, e + 1, len - 1 < 15 ? len - 1 : 15);
                    long v = (num[0] == 'x' || num[0] == 'X') ? strtol(num + 1, &end, 16) : strtol(num, &end, 10);
                    if (*end == '\0' && end != num && v > 0 && v <= 0x10FFFF && utf8proc_codepoint_valid((int32_t)v))
                        cp = (int32_t)v;
                } else {
                    for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++)
                        if (strlen(entities[k].name) == len && memcmp(entities[k].name, e, len) == 0)
                            cp = entities[k].cp;
                }
                if (cp > 0) {
                    rc = put_cp(out, cp);
                    i = (size_t)(semi - s) + 1;
                    continue;
                }
            }
        }
        rc = assay_buf_append(out, &c, 1);
        i++;
    }
    return rc;
}

/* ---- placeholders ---------------------------------------------------------------------- */

static int is_space_byte(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Whitespace-separated chunks that are URLs or e-mail addresses become xxurl / xxemail; runs
 * of digits (with inner '.' or ',') become xxnum. */
static int placeholders(const char *s, size_t n, assay_buf *out) {
    int rc = ASSAY_OK;
    size_t i = 0;
    while (i < n && !rc) {
        if (is_space_byte(s[i])) {
            rc = assay_buf_append(out, s + i, 1);
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_space_byte(s[j])) j++;
        size_t len = j - i;
        const char *w = s + i;
        const char *at = memchr(w, '@', len);
        if ((len > 7 && strncmp(w, "http://", 7) == 0) || (len > 8 && strncmp(w, "https://", 8) == 0) ||
            (len > 4 && strncmp(w, "www.", 4) == 0)) {
            rc = assay_buf_append(out, " xxurl ", 7);
        } else if (at && at > w && at + 1 < w + len && at[1] != '.' &&
                   memchr(at, '.', len - (size_t)(at - w))) {
            rc = assay_buf_append(out, " xxemail ", 9);
        } else {
            for (size_t k = i; k < j && !rc;) {
                if (isdigit((unsigned char)s[k])) {
                    size_t m = k;
                    while (m < j && (isdigit((unsigned char)s[m]) ||
                                     ((s[m] == '.' || s[m] == ',') && m + 1 < j && isdigit((unsigned char)s[m + 1]))))
                        m++;
                    rc = assay_buf_append(out, " xxnum ", 7);
                    k = m;
                } else {
                    rc = assay_buf_append(out, s + k, 1);
                    k++;
                }
            }
        }
        i = j;
    }
    return rc;
}

int assay_text_normalize(const assay_text_options *o, const char *s, size_t n, assay_buf *out,
                         int64_t *invalid, assay_error *err) {
    assay_buf a = {0}, b = {0}, c = {0};
    uint8_t *mapped = NULL;
    int rc = ASSAY_OK;
    if (!s) n = 0;
    if (o->strict_utf8) /* before HTML removal, so the offset is the input's */
        for (size_t i = 0; i < n;) {
            int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
            if (k < 0) return assay_error_set(err, ASSAY_EUTF8, "invalid UTF-8 at byte %zu", i + 1);
            i += (size_t)k;
        }
    /* 1. HTML */
    if (o->strip_html && n && (memchr(s, '<', n) || memchr(s, '&', n))) {
        if ((rc = strip_html(s, n, &a))) goto done;
        s = a.data ? a.data : "";
        n = a.len;
    }
    /* 2. UTF-8: invalid sequences become U+FFFD */
    for (size_t i = 0; i < n;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        for (i = 0; i < n && !rc;) { /* rare: copy again, replacing */
            k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
            if (k < 0) {
                rc = put_cp(&b, 0xFFFD);
                if (invalid) (*invalid)++;
                i++;
            } else {
                rc = assay_buf_append(&b, s + i, (size_t)k);
                i += (size_t)k;
            }
        }
        if (rc) goto done;
        s = b.data ? b.data : "";
        n = b.len;
        break;
    }
    /* 3. utf8proc: NFKC, case folding, accents */
    utf8proc_option_t opt = UTF8PROC_STABLE;
    if (o->nfkc) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (o->casing == ASSAY_CASE_FOLD) opt |= UTF8PROC_CASEFOLD | (o->nfkc ? 0 : UTF8PROC_COMPOSE);
    if (o->strip_accents) opt |= UTF8PROC_STRIPMARK | (o->nfkc ? 0 : UTF8PROC_COMPOSE);
    if (n && opt != UTF8PROC_STABLE) {
        utf8proc_ssize_t k = utf8proc_map((const uint8_t *)s, (utf8proc_ssize_t)n, &mapped, opt);
        if (k < 0) {
            assay_buf_deinit(&a);
            assay_buf_deinit(&b);
            return assay_error_set(err, k == UTF8PROC_ERROR_NOMEM ? ASSAY_ENOMEM : ASSAY_EUTF8,
                                   "text normalization: %s", utf8proc_errmsg(k));
        }
        s = (const char *)mapped;
        n = (size_t)k;
    }
    /* 4. lower case per character (Python's str.lower for the usual scripts) */
    if (o->casing == ASSAY_CASE_LOWER && n) {
        for (size_t i = 0; i < n && !rc;) {
            int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
            if (k <= 0) break; /* cannot happen: valid UTF-8 by now */
            rc = put_cp(&c, utf8proc_tolower(cp));
            i += (size_t)k;
        }
        s = c.data ? c.data : "";
        n = c.len;
    }
    /* 5. placeholders, then the result */
    if (!rc) rc = o->placeholders ? placeholders(s, n, out) : assay_buf_append(out, s, n);
    if (!rc) rc = assay_buf_reserve(out, 1);
    if (!rc) out->data[out->len] = '\0';
done:
    free(mapped); /* utf8proc allocates with malloc */
    assay_buf_deinit(&a);
    assay_buf_deinit(&b);
    assay_buf_deinit(&c);
    return rc ? assay_error_set(err, ASSAY_ENOMEM, "text normalization: out of memory") : ASSAY_OK;
}

/* ---- tokens ---------------------------------------------------------------------------- */

/* FNV-1a's low bits are weak for a modulus; a final mix (MurmurHash3's fmix64) spreads them. */
uint64_t assay_text_hash(const char *tok, size_t n) {
    uint64_t h = assay_hash64(tok, n, 0);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* fastText's Dictionary::computeSubwords over "<" tok ">": n-grams are substrings of the
 * wrapped token, so they are passed as pointers into one buffer. */
int assay_text_char_ngrams(const char *tok, size_t n, int minn, int maxn, assay_token_fn fn,
                           void *ctx) {
    if (minn < 1 || maxn < minn || (!tok && n)) return 0;
    char local[1024 + 2], *w = n + 2 <= sizeof local ? local : assay_malloc(n + 2);
    if (!w) return ASSAY_ENOMEM;
    size_t len = n + 2;
    w[0] = '<';
    if (n) memcpy(w + 1, tok, n);
    w[n + 1] = '>';
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        if (((unsigned char)w[i] & 0xC0) == 0x80) continue; /* not the start of a character */
        size_t j = i;
        for (int m = 1; j < len && m <= maxn && !rc; m++) {
            j++;
            while (j < len && ((unsigned char)w[j] & 0xC0) == 0x80) j++;
            if (m >= minn && !(m == 1 && (i == 0 || j == len))) rc = fn(ctx, w + i, j - i);
        }
    }
    if (w != local) assay_free(w);
    return rc;
}

static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
           (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F);
}

static int is_word(int32_t c) {
    if (c < 128) return c == '_' || isalnum(c);
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_NO;
}

typedef struct span {
    uint32_t off, len;
} span;

/* A document longer than this many tokens is cut (a hostile input cannot exhaust memory). */
#define MAX_DOC_TOKENS (1 << 22)

int assay_text_tokens(const assay_text_options *o, const char *s, size_t n, assay_token_fn fn,
                      void *ctx) {
    span local[256], *tok = local;
    size_t ntok = 0, cap = 256;
    int rc = 0;
    int nmin = o->ngram_min > 0 ? o->ngram_min : 1;
    int nmax = o->ngram_max >= nmin ? o->ngram_max : nmin;
    int64_t prev_cjk = -1; /* offset of the previous character when it was CJK */
    size_t prev_len = 0;
    for (size_t i = 0; i < n && !rc;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { /* not expected after normalization: skip the byte */
            i++;
            prev_cjk = -1;
            continue;
        }
        span sp = {(uint32_t)i, 0};
        if (is_cjk(cp)) {
            sp.len = (uint32_t)k;
            if (o->cjk_bigrams && prev_cjk >= 0) rc = fn(ctx, s + prev_cjk, prev_len + (size_t)k);
            prev_cjk = (int64_t)i;
            prev_len = (size_t)k;
            i += (size_t)k;
        } else if (is_word(cp)) {
            int chars = 0;
            size_t j = i;
            while (j < n) {
                int32_t c2;
                utf8proc_ssize_t k2 = utf8proc_iterate((const uint8_t *)s + j, (utf8proc_ssize_t)(n - j), &c2);
                if (k2 <= 0 || !is_word(c2) || is_cjk(c2)) break;
                j += (size_t)k2;
                chars++;
            }
            sp.len = (uint32_t)(j - i);
            i = j;
            prev_cjk = -1;
            if (chars < o->min_token_len) continue;
            if (o->stop_words && is_stop(s + sp.off, sp.len)) continue;
        } else {
            i += (size_t)k;
            prev_cjk = -1;
            continue;
        }
        if (rc) break;
        if (ntok == cap) {
            if (cap >= MAX_DOC_TOKENS) break;
            span *nt = assay_mallocarray(cap * 2, sizeof *nt);
            if (!nt) {
                rc = ASSAY_ENOMEM;
                break;
            }
            memcpy(nt, tok, ntok * sizeof *tok);
            if (tok != local) assay_free(tok);
            tok = nt;
            cap *= 2;
        }
        tok[ntok++] = sp;
    }
    /* unigrams, then word n-grams of each size (scikit-learn's order) */
    assay_buf g = {0};
    for (int m = nmin; m <= nmax && !rc; m++) {
        for (size_t a = 0; a + (size_t)m <= ntok && !rc; a++) {
            if (m == 1) {
                rc = fn(ctx, s + tok[a].off, tok[a].len);
                continue;
            }
            g.len = 0;
            for (int q = 0; q < m && !rc; q++) {
                if (q) rc = assay_buf_append(&g, " ", 1);
                if (!rc) rc = assay_buf_append(&g, s + tok[a + (size_t)q].off, tok[a + (size_t)q].len);
            }
            if (!rc) rc = fn(ctx, g.data, g.len);
        }
    }
    /* then the character n-grams of each word */
    for (size_t a = 0; a < ntok && !rc && o->char_maxn > 0; a++)
        rc = assay_text_char_ngrams(s + tok[a].off, tok[a].len, o->char_minn, o->char_maxn, fn, ctx);
    assay_buf_deinit(&g);
    if (tok != local) assay_free(tok);
    return rc;
}
