/* wordpiece.c - BERT's tokenizer (include/assay/wordpiece.h).
 *
 * Reproduces Hugging Face's BertTokenizer (BERT's tokenization.py, BasicTokenizer then
 * WordpieceTokenizer) on UTF-8 bytes, with utf8proc for categories, case and NFC/NFD:
 *   1. the five special tokens written in the text are split out first (transformers' trie);
 *   2. clean: drop U+0000, U+FFFD and categories C* except \t \n \r; \t \n \r and Zs -> ' ';
 *   3. spaces around CJK ideographs (_is_chinese_char's ranges); NFC (transformers >= 4.31);
 *   4. split on whitespace (' ', and U+2028/U+2029 that Python's str.split also splits on);
 *   5. per word, unless it is a special token: lower case as Python's str.lower (per character,
 *      plus U+0130 -> "i" U+0307 and the final sigma rule); NFD and drop Mn when stripping
 *      accents; split off every punctuation character (ASCII 33-47, 58-64, 91-96, 123-126, P*);
 *   6. WordPiece: greedy longest match first, "##" continuations, [UNK] for a word with no
 *      match or over max_input_chars_per_word characters.
 * Invalid UTF-8 bytes become U+FFFD, which step 2 drops. The trainer (bottom) learns a vocabulary
 * by merging the most frequent pair of adjacent pieces, as Hugging Face's tokenizers library
 * trains WordPiece (BPE's rule). The likelihood score count(ab) / (count(a) count(b)) that the
 * Hugging Face course describes was measured and dropped: it merges rare pairs first, so an
 * 8,000-piece vocabulary of Austen plus the fine_foods reviews lacked "the" and "and" and cut
 * each word into 3.4 pieces (1.2 with the frequency rule), and a BERT pretrained on those
 * pieces learned little more than their unigram distribution. It does not do: the fast tokenizer's offsets, stride/overflowing
 * windows, added (user) tokens, or strategies other than longest_first. */
#include <utf8proc.h>

#include <errno.h>
#include <unistd.h>

#include "prep_internal.h"

void assay_wordpiece_options_init(assay_wordpiece_options *o) {
    o->do_lower_case = 1;
    o->strip_accents = -1;
    o->tokenize_chinese_chars = 1;
    o->nfc = 1;
    o->max_input_chars_per_word = 100;
}

static const char *const specials[ASSAY_WP_NSPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

/* ---- string -> id map (open addressing; keys NUL-terminated in one buffer) ---------------- */

typedef struct strmap {
    assay_buf keys;  /* key i at keys.data + off[i], NUL-terminated */
    int64_t *off;
    int32_t *slot;   /* -1: empty, else id */
    int64_t n, cap;  /* ids, capacity of off */
    uint64_t nslot;  /* power of two, > 2n */
} strmap;

static void strmap_deinit(strmap *m) {
    assay_buf_deinit(&m->keys);
    assay_free(m->off);
    assay_free(m->slot);
    memset(m, 0, sizeof *m);
}

static const char *strmap_key(const strmap *m, int32_t id) { return m->keys.data + m->off[id]; }

static size_t strmap_keylen(const strmap *m, int32_t id) {
    int64_t end = id + 1 < m->n ? m->off[id + 1] : (int64_t)m->keys.len;
    return (size_t)(end - m->off[id] - 1);
}

static int32_t strmap_find(const strmap *m, const char *s, size_t n) {
    if (!m->nslot) return -1;
    for (uint64_t i = assay_text_hash(s, n) & (m->nslot - 1);; i = (i + 1) & (m->nslot - 1)) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (strmap_keylen(m, id) == n && memcmp(strmap_key(m, id), s, n) == 0) return id;
    }
}

static int strmap_rehash(strmap *m, uint64_t nslot) {
    int32_t *slot = assay_mallocarray(nslot, sizeof *slot);
    if (!slot) return ASSAY_ENOMEM;
    memset(slot, 0xff, nslot * sizeof *slot);
    for (int32_t id = 0; id < m->n; id++) {
        uint64_t i = assay_text_hash(strmap_key(m, id), strmap_keylen(m, id)) & (nslot - 1);
        while (slot[i] >= 0) i = (i + 1) & (nslot - 1);
        slot[i] = id;
    }
    assay_free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return ASSAY_OK;
}

/* Add s (or find it): *id gets its id, *added 1 when new. */
static int strmap_add(strmap *m, const char *s, size_t n, int32_t *id, int *added) {
    *added = 0;
    if ((*id = strmap_find(m, s, n)) >= 0) return ASSAY_OK;
    if (m->n >= INT32_MAX - 1) return ASSAY_ENOMEM;
    if (m->n == m->cap) {
        int64_t cap = m->cap ? m->cap * 2 : 64;
        int64_t *off = assay_reallocarray(m->off, (size_t)cap, sizeof *off);
        if (!off) return ASSAY_ENOMEM;
        m->off = off;
        m->cap = cap;
    }
    if ((uint64_t)(m->n + 1) * 2 > m->nslot && strmap_rehash(m, m->nslot ? m->nslot * 2 : 128))
        return ASSAY_ENOMEM;
    if (assay_buf_reserve(&m->keys, n + 1)) return ASSAY_ENOMEM;
    m->off[m->n] = (int64_t)m->keys.len;
    if (n) memcpy(m->keys.data + m->keys.len, s, n);
    m->keys.data[m->keys.len + n] = '\0';
    m->keys.len += n + 1;
    uint64_t i = assay_text_hash(s, n) & (m->nslot - 1);
    while (m->slot[i] >= 0) i = (i + 1) & (m->nslot - 1);
    m->slot[i] = (int32_t)m->n;
    *id = (int32_t)m->n++;
    *added = 1;
    return ASSAY_OK;
}

/* ---- characters ----------------------------------------------------------------------------- */

static int put_cp(assay_buf *b, int32_t cp) {
    uint8_t u[4];
    utf8proc_ssize_t k = utf8proc_encode_char(cp, u);
    return assay_buf_append(b, u, k > 0 ? (size_t)k : 0);
}

/* The next code point of s[i..n) (invalid bytes: U+FFFD, one byte); returns its byte length. */
static size_t next_cp(const char *s, size_t i, size_t n, int32_t *cp) {
    utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), cp);
    if (k > 0) return (size_t)k;
    *cp = 0xFFFD;
    return 1;
}

static int cat_is_c(int32_t cp) {
    utf8proc_category_t k = utf8proc_category(cp);
    return k == UTF8PROC_CATEGORY_CN || k >= UTF8PROC_CATEGORY_CC;
}

/* BERT's _is_chinese_char. */
static int is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* BERT's _is_punctuation. */
static int is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return 1;
    if (c < 128) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* Unicode's Cased and Case_Ignorable properties, as Python's final-sigma rule uses them
 * (Case_Ignorable's Word_Break MidLetter/MidNumLet/Single_Quote members listed by hand). */
static int is_cased(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

static int is_case_ignorable(int32_t c) {
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55:
    case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default:
        break;
    }
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

/* ---- basic tokenization --------------------------------------------------------------------- */

typedef struct basic_ctx {
    const assay_wordpiece_options *o;
    assay_wp_word_fn fn;
    void *ctx;
    assay_buf a, lower, strip; /* scratch */
} basic_ctx;

static int special_of(const char *s, size_t n) {
    for (int k = 0; k < ASSAY_WP_NSPECIAL; k++)
        if (strlen(specials[k]) == n && memcmp(specials[k], s, n) == 0) return k;
    return -1;
}

/* Steps 2 and 3 (without NFC): cleaned, CJK-spaced text into out. */
static int clean_text(const basic_ctx *b, const char *s, size_t n, assay_buf *out) {
    int rc = ASSAY_OK;
    for (size_t i = 0; i < n && !rc;) {
        int32_t cp;
        size_t k = next_cp(s, i, n, &cp);
        if (cp < 128 && cp > 32 && cp != 127) { /* fast path: printable ASCII */
            rc = assay_buf_append(out, s + i, 1);
        } else if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
                   utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS) {
            rc = assay_buf_append(out, " ", 1);
        } else if (cp == 0 || cp == 0xFFFD || cat_is_c(cp)) {
            /* dropped */
        } else if (b->o->tokenize_chinese_chars && is_chinese(cp)) {
            if (!(rc = assay_buf_append(out, " ", 1)) && !(rc = assay_buf_append(out, s + i, k)))
                rc = assay_buf_append(out, " ", 1);
        } else {
            rc = assay_buf_append(out, s + i, k);
        }
        i += k;
    }
    return rc;
}

/* Python's str.lower of one whitespace-separated word. */
static int lower_word(const char *s, size_t n, assay_buf *out) {
    int rc = ASSAY_OK;
    for (size_t i = 0; i < n && !rc;) {
        int32_t cp;
        size_t k = next_cp(s, i, n, &cp);
        if (cp < 128) {
            char c = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            rc = assay_buf_append(out, &c, 1);
        } else if (cp == 0x130) {
            if (!(rc = put_cp(out, 'i'))) rc = put_cp(out, 0x307);
        } else if (cp == 0x3A3) { /* final sigma: \p{cased}\p{ignorable}* S !(\p{ignorable}*\p{cased}) */
            int32_t c = 0;
            size_t j = i;
            int before = 0, after = 0;
            while (j > 0) {
                size_t p = j - 1;
                while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
                next_cp(s, p, n, &c);
                j = p;
                if (!is_case_ignorable(c)) {
                    before = is_cased(c);
                    break;
                }
            }
            for (j = i + k; j < n && before;) {
                j += next_cp(s, j, n, &c);
                if (!is_case_ignorable(c)) {
                    after = is_cased(c);
                    break;
                }
            }
            rc = put_cp(out, before && !after ? 0x3C2 : 0x3C3);
        } else {
            rc = put_cp(out, utf8proc_tolower(cp));
        }
        i += k;
    }
    return rc;
}

/* NFD, then every Mn mark dropped (BERT's _run_strip_accents). */
static int strip_word(const char *s, size_t n, assay_buf *out) {
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0xC3) i++; /* below U+00C0 nothing decomposes */
    if (i == n) return assay_buf_append(out, s, n);
    uint8_t *d = NULL;
    utf8proc_ssize_t m = utf8proc_map((const uint8_t *)s, (utf8proc_ssize_t)n, &d,
                                      UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    if (m < 0) return m == UTF8PROC_ERROR_NOMEM ? ASSAY_ENOMEM : ASSAY_EUTF8;
    int rc = ASSAY_OK;
    for (size_t j = 0; j < (size_t)m && !rc;) {
        int32_t cp;
        size_t k = next_cp((const char *)d, j, (size_t)m, &cp);
        if (utf8proc_category(cp) != UTF8PROC_CATEGORY_MN) rc = assay_buf_append(out, d + j, k);
        j += k;
    }
    free(d); /* utf8proc allocates with malloc */
    return rc;
}

/* Step 5's punctuation split: each punctuation character is a word of its own. */
static int split_punct(basic_ctx *b, const char *s, size_t n) {
    int rc = 0;
    size_t start = 0, i = 0;
    while (i < n && !rc) {
        int32_t cp;
        size_t k = next_cp(s, i, n, &cp);
        if (is_punct(cp)) {
            if (i > start) rc = b->fn(b->ctx, s + start, i - start);
            if (!rc) rc = b->fn(b->ctx, s + i, k);
            start = i + k;
        }
        i += k;
    }
    if (!rc && n > start) rc = b->fn(b->ctx, s + start, n - start);
    return rc;
}

static int one_word(basic_ctx *b, const char *s, size_t n) {
    if (special_of(s, n) >= 0) return b->fn(b->ctx, s, n);
    int strip = b->o->strip_accents < 0 ? b->o->do_lower_case : b->o->strip_accents;
    int rc = ASSAY_OK;
    if (b->o->do_lower_case) {
        b->lower.len = 0;
        if ((rc = lower_word(s, n, &b->lower))) return rc;
        s = b->lower.data;
        n = b->lower.len;
    }
    if (strip) {
        b->strip.len = 0;
        if ((rc = strip_word(s, n, &b->strip))) return rc;
        s = b->strip.data;
        n = b->strip.len;
    }
    return split_punct(b, s, n);
}

/* Whitespace split (' ', U+2028, U+2029) of cleaned text; each word through one_word. */
static int split_words(basic_ctx *b, const char *s, size_t n) {
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && !rc;) {
        size_t sep = 0;
        if (i == n || s[i] == ' ') sep = 1;
        else if (i + 2 < n + 0 && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
                 ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
            sep = 3;
        if (!sep) {
            i++;
            continue;
        }
        if (i > start) rc = one_word(b, s + start, i - start);
        i += sep;
        start = i;
    }
    return rc;
}

/* A chunk with no special token in it: steps 2 to 5. */
static int basic_chunk(basic_ctx *b, const char *s, size_t n) {
    b->a.len = 0;
    int rc = clean_text(b, s, n, &b->a);
    if (rc || !b->a.len) return rc;
    s = b->a.data;
    n = b->a.len;
    int need_nfc = 0;
    for (size_t i = 0; i < n && b->o->nfc && !need_nfc; i++) need_nfc = (unsigned char)s[i] >= 0xCC;
    if (!need_nfc) return split_words(b, s, n); /* below U+0300 NFC changes nothing */
    uint8_t *c = NULL;
    utf8proc_ssize_t m = utf8proc_map((const uint8_t *)s, (utf8proc_ssize_t)n, &c,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0) return m == UTF8PROC_ERROR_NOMEM ? ASSAY_ENOMEM : ASSAY_EUTF8;
    rc = split_words(b, (const char *)c, (size_t)m);
    free(c);
    return rc;
}

int assay_wordpiece_basic(const assay_wordpiece_options *o, const char *s, size_t n,
                          assay_wp_word_fn fn, void *ctx) {
    assay_wordpiece_options def;
    if (!o) {
        assay_wordpiece_options_init(&def);
        o = &def;
    }
    basic_ctx b = {o, fn, ctx, {0}, {0}, {0}};
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; s && i < n && !rc; i++) { /* step 1: special tokens */
        if (s[i] != '[') continue;
        for (int k = 0; k < ASSAY_WP_NSPECIAL; k++) {
            size_t len = strlen(specials[k]);
            if (len > n - i || memcmp(s + i, specials[k], len) != 0) continue;
            if (i > start) rc = basic_chunk(&b, s + start, i - start);
            if (!rc) rc = fn(ctx, s + i, len);
            i += len - 1;
            start = i + 1;
            break;
        }
    }
    if (!rc && s && n > start) rc = basic_chunk(&b, s + start, n - start);
    assay_buf_deinit(&b.a);
    assay_buf_deinit(&b.lower);
    assay_buf_deinit(&b.strip);
    return rc;
}

/* ---- the vocabulary ----------------------------------------------------------------------- */

struct assay_wordpiece {
    assay_wordpiece_options o;
    strmap vocab;
    int32_t special[ASSAY_WP_NSPECIAL];
    size_t max_len; /* longest token in bytes */
};

void assay_wordpiece_free(assay_wordpiece *wp) {
    if (!wp) return;
    strmap_deinit(&wp->vocab);
    assay_free(wp);
}

/* Adopt a filled map: check the specials (naming all that are missing). */
static int wp_from_map(strmap *m, const assay_wordpiece_options *o, const char *name,
                       assay_wordpiece **out, assay_error *err) {
    char missing[128] = "";
    for (int k = 0; k < ASSAY_WP_NSPECIAL; k++)
        if (strmap_find(m, specials[k], strlen(specials[k])) < 0)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     missing[0] ? ", " : "", specials[k]);
    if (missing[0]) {
        strmap_deinit(m);
        return assay_error_set(err, ASSAY_EFORMAT, "%s: vocabulary lacks the special token(s) %s",
                               name, missing);
    }
    assay_wordpiece *wp = assay_calloc(1, sizeof *wp);
    if (!wp) {
        strmap_deinit(m);
        return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    }
    if (o) wp->o = *o;
    else assay_wordpiece_options_init(&wp->o);
    wp->vocab = *m;
    memset(m, 0, sizeof *m);
    for (int k = 0; k < ASSAY_WP_NSPECIAL; k++)
        wp->special[k] = strmap_find(&wp->vocab, specials[k], strlen(specials[k]));
    for (int32_t id = 0; id < wp->vocab.n; id++)
        wp->max_len = ASSAY_MAX(wp->max_len, strmap_keylen(&wp->vocab, id));
    *out = wp;
    return ASSAY_OK;
}

/* One vocabulary line (1-based lineno): valid UTF-8, not empty, not seen before. */
static int add_line(strmap *m, const char *s, size_t n, int64_t lineno, const char *name,
                    assay_error *err) {
    if (n == 0) return assay_error_set(err, ASSAY_EFORMAT, "%s:%lld: empty token", name, (long long)lineno);
    if (memchr(s, '\0', n))
        return assay_error_set(err, ASSAY_EFORMAT, "%s:%lld: NUL byte in token", name, (long long)lineno);
    for (size_t i = 0; i < n;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k < 0)
            return assay_error_set(err, ASSAY_EUTF8, "%s:%lld: invalid UTF-8 at byte %zu", name,
                                   (long long)lineno, i + 1);
        i += (size_t)k;
    }
    int32_t id;
    int added;
    if (strmap_add(m, s, n, &id, &added)) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    if (!added)
        return assay_error_set(err, ASSAY_EFORMAT, "%s:%lld: duplicate token \"%.*s\" (first on line %d)",
                               name, (long long)lineno, (int)ASSAY_MIN(n, 64), s, id + 1);
    return ASSAY_OK;
}

int assay_wordpiece_load_buffer(const char *text, size_t n, const char *name,
                                const assay_wordpiece_options *o, assay_wordpiece **out,
                                assay_error *err) {
    strmap m = {0};
    int64_t lineno = 0;
    *out = NULL;
    name = name ? name : "vocab";
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - text) : n, len = end - i;
        if (len && text[i + len - 1] == '\r') len--;
        int rc = add_line(&m, text + i, len, ++lineno, name, err);
        if (rc) {
            strmap_deinit(&m);
            return rc;
        }
        i = end + 1;
    }
    return wp_from_map(&m, o, name, out, err);
}

int assay_wordpiece_load(const char *path, const assay_wordpiece_options *o,
                         assay_wordpiece **out, assay_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
    assay_buf b = {0};
    char chunk[65536];
    size_t k;
    int rc = ASSAY_OK;
    while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) rc = assay_buf_append(&b, chunk, k);
    int bad = ferror(f);
    fclose(f);
    if (rc) rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", path);
    else if (bad) rc = assay_error_set(err, ASSAY_EIO, "%s: read error", path);
    else rc = assay_wordpiece_load_buffer(b.data, b.len, path, o, out, err);
    assay_buf_deinit(&b);
    return rc;
}

int assay_wordpiece_from_tokens(const char *const *tokens, int64_t n,
                                const assay_wordpiece_options *o, assay_wordpiece **out,
                                assay_error *err) {
    strmap m = {0};
    *out = NULL;
    for (int64_t i = 0; i < n; i++) {
        const char *t = tokens[i] ? tokens[i] : "";
        int rc = add_line(&m, t, strlen(t), i + 1, "tokens", err);
        if (rc) {
            strmap_deinit(&m);
            return rc;
        }
    }
    return wp_from_map(&m, o, "tokens", out, err);
}

int assay_wordpiece_save(const assay_wordpiece *wp, const char *path, assay_error *err) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return assay_error_set(err, ASSAY_EIO, "%s: %s", tmp, strerror(errno));
    int ok = 1;
    for (int32_t id = 0; id < wp->vocab.n && ok; id++)
        ok = fwrite(strmap_key(&wp->vocab, id), 1, strmap_keylen(&wp->vocab, id), f) ==
                 strmap_keylen(&wp->vocab, id) && fputc('\n', f) != EOF;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(e));
    }
    return ASSAY_OK;
}

int32_t assay_wordpiece_size(const assay_wordpiece *wp) { return (int32_t)wp->vocab.n; }

const char *assay_wordpiece_token(const assay_wordpiece *wp, int32_t id) {
    return id >= 0 && id < wp->vocab.n ? strmap_key(&wp->vocab, id) : NULL;
}

int32_t assay_wordpiece_id(const assay_wordpiece *wp, const char *tok, size_t len) {
    return strmap_find(&wp->vocab, tok, len);
}

int32_t assay_wordpiece_special_id(const assay_wordpiece *wp, assay_wp_special s) {
    return s >= 0 && s < ASSAY_WP_NSPECIAL ? wp->special[s] : -1;
}

const assay_wordpiece_options *assay_wordpiece_get_options(const assay_wordpiece *wp) { return &wp->o; }

/* ---- WordPiece ------------------------------------------------------------------------------ */

/* The longest max_input_chars_per_word honoured. */
#define WP_MAX_CHARS 1024

typedef struct ids_vec {
    int32_t *v;
    int64_t n, cap;
} ids_vec;

static int ids_push(ids_vec *x, int32_t id) {
    if (x->n == x->cap) {
        int64_t cap = x->cap ? x->cap * 2 : 64;
        int32_t *v = assay_reallocarray(x->v, (size_t)cap, sizeof *v);
        if (!v) return ASSAY_ENOMEM;
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = id;
    return ASSAY_OK;
}

typedef struct wp_ctx {
    const assay_wordpiece *wp;
    ids_vec out;
    assay_buf scratch; /* "##" + word */
} wp_ctx;

/* Greedy longest match first over one word (BERT's WordpieceTokenizer.tokenize). The word sits
 * after "##" in the scratch buffer; for a continuation the two bytes before its start (already
 * consumed) are overwritten with "##", so every candidate is one contiguous key. */
static int wordpiece_word(void *vctx, const char *s, size_t n) {
    wp_ctx *c = vctx;
    const assay_wordpiece *wp = c->wp;
    size_t bound[WP_MAX_CHARS + 1]; /* byte offset of each character, then n */
    int nch = 0, maxc = ASSAY_MAX(0, ASSAY_MIN(wp->o.max_input_chars_per_word, WP_MAX_CHARS));
    for (size_t i = 0; i < n; nch++) {
        if (nch == maxc) return ids_push(&c->out, wp->special[ASSAY_WP_UNK]);
        int32_t cp;
        bound[nch] = i;
        i += next_cp(s, i, n, &cp);
    }
    bound[nch] = n;
    c->scratch.len = 0;
    if (assay_buf_append(&c->scratch, "##", 2) || assay_buf_append(&c->scratch, s, n)) return ASSAY_ENOMEM;
    char *w = c->scratch.data + 2;
    int64_t mark = c->out.n;
    for (int start = 0; start < nch;) {
        size_t pre = start ? 2 : 0;
        const char *key = w + bound[start] - pre;
        if (start) memcpy(w + bound[start] - 2, "##", 2);
        int32_t found = -1;
        int end = nch;
        for (; end > start; end--) {
            size_t len = bound[end] - bound[start] + pre;
            if (len <= wp->max_len && (found = strmap_find(&wp->vocab, key, len)) >= 0) break;
        }
        if (found < 0) {
            c->out.n = mark;
            return ids_push(&c->out, wp->special[ASSAY_WP_UNK]);
        }
        if (ids_push(&c->out, found)) return ASSAY_ENOMEM;
        start = end;
    }
    return ASSAY_OK;
}

/* The ids of one text appended to c->out. */
static int tokenize_into(wp_ctx *c, const char *s, size_t n, assay_error *err) {
    int rc = assay_wordpiece_basic(&c->wp->o, s, n, wordpiece_word, c);
    if (rc == ASSAY_ENOMEM) return assay_error_set(err, rc, "wordpiece: out of memory");
    if (rc) return assay_error_set(err, rc, "wordpiece: %s", assay_strerror(rc));
    return ASSAY_OK;
}

int assay_wordpiece_tokenize(const assay_wordpiece *wp, const char *s, size_t n, int32_t **ids,
                             int64_t *n_ids, assay_error *err) {
    wp_ctx c = {wp, {0}, {0}};
    int rc = tokenize_into(&c, s, n, err);
    assay_buf_deinit(&c.scratch);
    if (rc) {
        assay_free(c.out.v);
        c.out.v = NULL;
        c.out.n = 0;
    }
    *ids = c.out.v;
    *n_ids = c.out.n;
    return rc;
}

/* ---- encoding and decoding ----------------------------------------------------------------- */

void assay_wp_encoding_deinit(assay_wp_encoding *e) {
    if (!e) return;
    assay_free(e->ids);
    assay_free(e->type_ids);
    assay_free(e->attention_mask);
    memset(e, 0, sizeof *e);
}

/* transformers' truncate_sequences with 'longest_first': lengths *na, *nb cut to fit room. */
static int64_t truncate_pair(int64_t *na, int64_t *nb, int has_b, int64_t room) {
    int64_t cut = 0;
    while (*na + *nb > room) {
        if (!has_b || *na > *nb) (*na)--;
        else (*nb)--;
        cut++;
    }
    return cut;
}

static int fill_encoding(const assay_wordpiece *wp, const ids_vec *a, int64_t na, const ids_vec *b,
                         int64_t nb, int64_t total, assay_wp_encoding *e) {
    e->ids = assay_mallocarray((size_t)total, sizeof *e->ids);
    e->type_ids = assay_calloc((size_t)total, sizeof *e->type_ids);
    e->attention_mask = assay_calloc((size_t)total, sizeof *e->attention_mask);
    if (!e->ids || !e->type_ids || !e->attention_mask) return ASSAY_ENOMEM;
    int64_t k = 0;
    e->ids[k++] = wp->special[ASSAY_WP_CLS];
    for (int64_t i = 0; i < na; i++) e->ids[k++] = a->v[i];
    e->ids[k++] = wp->special[ASSAY_WP_SEP];
    int64_t first = k;
    if (b) {
        for (int64_t i = 0; i < nb; i++) e->ids[k++] = b->v[i];
        e->ids[k++] = wp->special[ASSAY_WP_SEP];
    }
    for (int64_t i = 0; i < k; i++) {
        e->attention_mask[i] = 1;
        e->type_ids[i] = i >= first;
    }
    for (; k < total; k++) e->ids[k] = wp->special[ASSAY_WP_PAD];
    e->n = total;
    return ASSAY_OK;
}

int assay_wordpiece_encode(const assay_wordpiece *wp, const char *a, const char *b,
                           int64_t max_len, int pad, assay_wp_encoding *out, assay_error *err) {
    memset(out, 0, sizeof *out);
    int64_t nspec = b ? 3 : 2;
    if (max_len > 0 && max_len < nspec)
        return assay_error_set(err, ASSAY_EINVAL, "wordpiece: max_len %lld leaves no room for the %lld special tokens",
                               (long long)max_len, (long long)nspec);
    wp_ctx ca = {wp, {0}, {0}}, cb = {wp, {0}, {0}};
    int rc = tokenize_into(&ca, a ? a : "", a ? strlen(a) : 0, err);
    if (!rc && b) rc = tokenize_into(&cb, b, strlen(b), err);
    if (!rc) {
        int64_t na = ca.out.n, nb = cb.out.n;
        if (max_len > 0) out->truncated = truncate_pair(&na, &nb, b != NULL, max_len - nspec);
        int64_t total = na + nb + nspec;
        if (pad && max_len > total) total = max_len;
        if (fill_encoding(wp, &ca.out, na, b ? &cb.out : NULL, nb, total, out))
            rc = assay_error_set(err, ASSAY_ENOMEM, "wordpiece: out of memory");
    }
    if (rc) assay_wp_encoding_deinit(out);
    assay_free(ca.out.v);
    assay_free(cb.out.v);
    assay_buf_deinit(&ca.scratch);
    assay_buf_deinit(&cb.scratch);
    return rc;
}

/* Replace every from (left to right, not overlapping) by the shorter to, in place. */
static void replace_all(assay_buf *b, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to), w = 0;
    for (size_t r = 0; r < b->len;) {
        if (r + nf <= b->len && memcmp(b->data + r, from, nf) == 0) {
            memmove(b->data + w, to, nt);
            w += nt;
            r += nf;
        } else {
            b->data[w++] = b->data[r++];
        }
    }
    b->len = w;
}

/* transformers' clean_up_tokenization, in its order. */
static void clean_up(assay_buf *b) {
    static const char *const pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) replace_all(b, pairs[k][0], pairs[k][1]);
}

static int is_special_id(const assay_wordpiece *wp, int32_t id) {
    for (int k = 0; k < ASSAY_WP_NSPECIAL; k++)
        if (wp->special[k] == id) return 1;
    return 0;
}

int assay_wordpiece_decode(const assay_wordpiece *wp, const int32_t *ids, int64_t n,
                           int skip_special, int clean, assay_buf *out, assay_error *err) {
    assay_buf t = {0};
    int rc = ASSAY_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (ids[i] < 0 || ids[i] >= wp->vocab.n) {
            assay_buf_deinit(&t);
            return assay_error_set(err, ASSAY_EINVAL, "wordpiece: id %d at position %lld is not in the vocabulary (size %lld)",
                                   ids[i], (long long)i, (long long)wp->vocab.n);
        }
        if (skip_special && is_special_id(wp, ids[i])) continue;
        if (t.len) rc = assay_buf_append(&t, " ", 1);
        if (!rc) rc = assay_buf_append(&t, strmap_key(&wp->vocab, ids[i]), strmap_keylen(&wp->vocab, ids[i]));
    }
    if (!rc) {
        replace_all(&t, " ##", "");
        if (clean) clean_up(&t);
        rc = assay_buf_append(out, t.data ? t.data : "", t.len);
    }
    if (!rc) rc = assay_buf_reserve(out, 1);
    if (!rc) out->data[out->len] = '\0';
    assay_buf_deinit(&t);
    return rc ? assay_error_set(err, ASSAY_ENOMEM, "wordpiece: out of memory") : ASSAY_OK;
}

/* ---- the trainer ---------------------------------------------------------------------------- */
/* Words are symbol sequences (token ids, in one flat array); pairs of adjacent symbols have a
 * count (summed word frequencies) and a list of the words they occur in (nodes, a pool of
 * singly linked lists; stale and repeated entries are skipped). A merge rewrites only the words
 * on the pair's list. The best pair (the highest count) is found by a scan over all pairs; pairs
 * that died are compacted away when they are half. */

void assay_wordpiece_train_options_init(assay_wordpiece_train_options *o) {
    assay_wordpiece_options_init(&o->tok);
    o->vocab_size = 30522;
    o->min_frequency = 1;
}

typedef struct trainer {
    strmap vocab;
    strmap words;    /* unique words of the corpus */
    int64_t *wfreq, wcap;
    int64_t *woff, *wstamp; /* symbols of word w: sym[woff[w] .. + wlen[w]) */
    int32_t *wlen, *sym;
    int32_t *pa, *pb, *phead; /* pairs */
    int64_t *pc, np, pcap;
    int32_t *pslot;
    uint64_t npslot;
    int32_t *nword, *nnext; /* nodes */
    int64_t nn, ncap;
    int max_chars;
} trainer;

static void trainer_deinit(trainer *t) {
    strmap_deinit(&t->vocab);
    strmap_deinit(&t->words);
    void *p[] = {t->wfreq, t->woff, t->wstamp, t->wlen, t->sym, t->pa, t->pb,
                 t->phead, t->pc, t->pslot, t->nword, t->nnext};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) assay_free(p[i]);
}

/* Grow *p (elements of size sz) to hold at least need; *cap updated by the caller's rule. */
static int grow(void *pp, int64_t need, int64_t *cap, size_t sz) {
    if (need <= *cap) return ASSAY_OK;
    int64_t c = ASSAY_MAX(need, *cap * 2);
    void *q = assay_realloc(*(void **)pp, (size_t)c * sz);
    if (!q) return ASSAY_ENOMEM;
    *(void **)pp = q;
    *cap = c;
    return ASSAY_OK;
}

static int tok_add(trainer *t, const char *s, size_t n, int32_t *id) {
    int added;
    return strmap_add(&t->vocab, s, n, id, &added) ? ASSAY_ENOMEM : ASSAY_OK;
}

/* The word callback of basic tokenization: count words of at most max_chars characters. */
static int count_word(void *ctx, const char *s, size_t n) {
    trainer *t = ctx;
    int nch = 0;
    for (size_t i = 0; i < n; i++) nch += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (nch > t->max_chars) return 0;
    int32_t id;
    int added;
    if (strmap_add(&t->words, s, n, &id, &added)) return ASSAY_ENOMEM;
    if (added) {
        if (grow(&t->wfreq, t->words.n, &t->wcap, sizeof *t->wfreq)) return ASSAY_ENOMEM;
        t->wfreq[id] = 0;
    }
    t->wfreq[id]++;
    return 0;
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The specials, then every character seen, sorted by bytes, then their "##" forms. */
static int build_alphabet(trainer *t) {
    strmap chars = {0};
    const char **sorted = NULL;
    int rc = ASSAY_OK, added;
    int32_t id;
    for (int32_t w = 0; w < t->words.n && !rc; w++) {
        const char *s = strmap_key(&t->words, w);
        size_t n = strmap_keylen(&t->words, w);
        for (size_t i = 0, k; i < n && !rc; i += k) {
            int32_t cp;
            k = next_cp(s, i, n, &cp);
            rc = strmap_add(&chars, s + i, k, &id, &added);
        }
    }
    if (!rc && !(sorted = assay_mallocarray((size_t)chars.n + 1, sizeof *sorted))) rc = ASSAY_ENOMEM;
    for (int k = 0; k < ASSAY_WP_NSPECIAL && !rc; k++) rc = tok_add(t, specials[k], strlen(specials[k]), &id);
    if (!rc) {
        for (int32_t c = 0; c < chars.n; c++) sorted[c] = strmap_key(&chars, c);
        qsort(sorted, (size_t)chars.n, sizeof *sorted, cmp_str);
    }
    for (int32_t c = 0; c < chars.n && !rc; c++) rc = tok_add(t, sorted[c], strlen(sorted[c]), &id);
    for (int32_t c = 0; c < chars.n && !rc; c++) {
        char buf[8] = "##";
        size_t n = strlen(sorted[c]);
        memcpy(buf + 2, sorted[c], n);
        rc = tok_add(t, buf, n + 2, &id);
    }
    assay_free(sorted);
    strmap_deinit(&chars);
    return rc;
}

/* Each word as symbols: its first character, then "##" forms. */
static int build_symbols(trainer *t) {
    int64_t total = (int64_t)t->words.keys.len;
    t->woff = assay_mallocarray((size_t)t->words.n + 1, sizeof *t->woff);
    t->wstamp = assay_calloc((size_t)t->words.n + 1, sizeof *t->wstamp);
    t->wlen = assay_mallocarray((size_t)t->words.n + 1, sizeof *t->wlen);
    t->sym = assay_mallocarray((size_t)total + 1, sizeof *t->sym);
    if (!t->woff || !t->wstamp || !t->wlen || !t->sym) return ASSAY_ENOMEM;
    int64_t k = 0;
    for (int32_t w = 0; w < t->words.n; w++) {
        const char *s = strmap_key(&t->words, w);
        size_t n = strmap_keylen(&t->words, w);
        t->woff[w] = k;
        for (size_t i = 0, len; i < n; i += len) {
            int32_t cp;
            char buf[8] = "##";
            len = next_cp(s, i, n, &cp);
            memcpy(buf + 2, s + i, len);
            t->sym[k++] = i ? strmap_find(&t->vocab, buf, len + 2) : strmap_find(&t->vocab, s, len);
        }
        t->wlen[w] = (int32_t)(k - t->woff[w]);
    }
    return ASSAY_OK;
}

static uint64_t pair_hash(int32_t a, int32_t b) {
    uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static int pairs_rehash(trainer *t, uint64_t nslot) {
    int32_t *slot = assay_mallocarray(nslot, sizeof *slot);
    if (!slot) return ASSAY_ENOMEM;
    memset(slot, 0xff, nslot * sizeof *slot);
    for (int64_t p = 0; p < t->np; p++) {
        uint64_t i = pair_hash(t->pa[p], t->pb[p]) & (nslot - 1);
        while (slot[i] >= 0) i = (i + 1) & (nslot - 1);
        slot[i] = (int32_t)p;
    }
    assay_free(t->pslot);
    t->pslot = slot;
    t->npslot = nslot;
    return ASSAY_OK;
}

/* The index of pair (a, b), created (count 0) when new; -1 when out of memory. */
static int64_t pair_get(trainer *t, int32_t a, int32_t b) {
    uint64_t i = t->npslot ? pair_hash(a, b) & (t->npslot - 1) : 0;
    for (; t->npslot && t->pslot[i] >= 0; i = (i + 1) & (t->npslot - 1))
        if (t->pa[t->pslot[i]] == a && t->pb[t->pslot[i]] == b) return t->pslot[i];
    if (t->np >= INT32_MAX - 1) return -1;
    if (t->np == t->pcap) {
        int64_t c = t->pcap ? t->pcap * 2 : 1024, c1 = t->pcap, c2 = t->pcap, c3 = t->pcap, c4 = t->pcap;
        if (grow(&t->pa, c, &c1, sizeof *t->pa) || grow(&t->pb, c, &c2, sizeof *t->pb) ||
            grow(&t->pc, c, &c3, sizeof *t->pc) || grow(&t->phead, c, &c4, sizeof *t->phead))
            return -1;
        t->pcap = c;
    }
    int64_t p = t->np++;
    t->pa[p] = a;
    t->pb[p] = b;
    t->pc[p] = 0;
    t->phead[p] = -1;
    if ((uint64_t)t->np * 2 > t->npslot) return pairs_rehash(t, t->npslot ? t->npslot * 2 : 4096) ? -1 : p;
    for (i = pair_hash(a, b) & (t->npslot - 1); t->pslot[i] >= 0;) i = (i + 1) & (t->npslot - 1);
    t->pslot[i] = (int32_t)p;
    return p;
}

static int node_add(trainer *t, int64_t p, int32_t w) {
    if (t->nn == t->ncap) {
        int64_t c = t->ncap ? t->ncap * 2 : 4096, c1 = t->ncap, c2 = t->ncap;
        if (t->nn >= INT32_MAX - 1 || grow(&t->nword, c, &c1, sizeof *t->nword) ||
            grow(&t->nnext, c, &c2, sizeof *t->nnext))
            return ASSAY_ENOMEM;
        t->ncap = c;
    }
    t->nword[t->nn] = w;
    t->nnext[t->nn] = t->phead[p];
    t->phead[p] = (int32_t)t->nn++;
    return ASSAY_OK;
}

/* Add (sign 1) or remove (-1) word w's pairs and symbols from the counts; on adding, pairs
 * with symbol node_tok (or all pairs when node_tok < 0) list the word. */
static int word_counts(trainer *t, int32_t w, int sign, int32_t node_tok) {
    const int32_t *s = t->sym + t->woff[w];
    int64_t f = sign * t->wfreq[w];
    for (int32_t i = 0; i < t->wlen[w]; i++) {
        if (i + 1 == t->wlen[w]) break;
        int64_t p = pair_get(t, s[i], s[i + 1]);
        if (p < 0) return ASSAY_ENOMEM;
        t->pc[p] += f;
        if (sign > 0 && (node_tok < 0 || s[i] == node_tok || s[i + 1] == node_tok) && node_add(t, p, w))
            return ASSAY_ENOMEM;
    }
    return ASSAY_OK;
}

/* Replace every (a, b) in word w by tok, left to right; returns how many. */
static int merge_word(trainer *t, int32_t w, int32_t a, int32_t b, int32_t tok) {
    int32_t *s = t->sym + t->woff[w], n = t->wlen[w], k = 0, m = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[k++] = tok;
            i++;
            m++;
        } else {
            s[k++] = s[i];
        }
    }
    t->wlen[w] = k;
    return m;
}

static int has_pair(const trainer *t, int32_t w, int32_t a, int32_t b) {
    const int32_t *s = t->sym + t->woff[w];
    for (int32_t i = 0; i + 1 < t->wlen[w]; i++)
        if (s[i] == a && s[i + 1] == b) return 1;
    return 0;
}

/* Pair i ranks above pair j: a higher count, then smaller a, then smaller b (bytes). */
static int better(const trainer *t, int64_t i, int64_t j) {
    if (t->pc[i] != t->pc[j]) return t->pc[i] > t->pc[j];
    int c = strcmp(strmap_key(&t->vocab, t->pa[i]), strmap_key(&t->vocab, t->pa[j]));
    if (c) return c < 0;
    return strcmp(strmap_key(&t->vocab, t->pb[i]), strmap_key(&t->vocab, t->pb[j])) < 0;
}

/* The best pair with count >= min_count (-1: none); *dead gets how many pairs have count 0. */
static int64_t best_pair(const trainer *t, int64_t min_count, int64_t *dead) {
    int64_t best = -1, nd = 0;
    for (int64_t i = 0; i < t->np; i++) {
        int64_t c = t->pc[i];
        nd += c == 0;
        if (c < min_count || c == 0) continue;
        if (best < 0 || c > t->pc[best] || (c == t->pc[best] && better(t, i, best))) best = i;
    }
    *dead = nd;
    return best;
}

/* Drop pairs with count 0 (no word holds them) and rebuild the map. */
static int compact_pairs(trainer *t) {
    int64_t k = 0;
    for (int64_t p = 0; p < t->np; p++) {
        if (t->pc[p] == 0) continue;
        t->pa[k] = t->pa[p];
        t->pb[k] = t->pb[p];
        t->pc[k] = t->pc[p];
        t->phead[k++] = t->phead[p];
    }
    t->np = k;
    return pairs_rehash(t, t->npslot);
}

/* One merge of pair p: the new token, then every word on the pair's list rewritten. */
static int merge_pair(trainer *t, int64_t p, int64_t stamp) {
    int32_t a = t->pa[p], b = t->pb[p], tok;
    assay_buf name = {0};
    int rc = assay_buf_append(&name, strmap_key(&t->vocab, a), strmap_keylen(&t->vocab, a));
    if (!rc) rc = assay_buf_append(&name, strmap_key(&t->vocab, b) + 2, strmap_keylen(&t->vocab, b) - 2);
    if (!rc) rc = tok_add(t, name.data, name.len, &tok);
    assay_buf_deinit(&name);
    for (int32_t nd = t->phead[p]; nd >= 0 && !rc; nd = t->nnext[nd]) {
        int32_t w = t->nword[nd];
        if (t->wstamp[w] == stamp || !has_pair(t, w, a, b)) continue;
        t->wstamp[w] = stamp;
        if (!(rc = word_counts(t, w, -1, 0))) {
            merge_word(t, w, a, b, tok);
            rc = word_counts(t, w, 1, tok);
        }
    }
    return rc;
}

static int train_merges(trainer *t, const assay_wordpiece_train_options *o) {
    int rc = ASSAY_OK;
    for (int32_t w = 0; w < t->words.n && !rc; w++) rc = word_counts(t, w, 1, -1);
    for (int64_t stamp = 1; !rc && t->vocab.n < o->vocab_size; stamp++) {
        int64_t dead, p = best_pair(t, ASSAY_MAX(o->min_frequency, 1), &dead);
        if (p < 0) break;
        rc = merge_pair(t, p, stamp);
        if (!rc && dead > 4096 && dead * 2 > t->np) rc = compact_pairs(t);
    }
    return rc;
}

int assay_wordpiece_train(const assay_wordpiece_train_options *o, const char *const *docs,
                          int64_t n, assay_wordpiece **out, assay_error *err) {
    trainer t;
    memset(&t, 0, sizeof t);
    *out = NULL;
    if (o->vocab_size < ASSAY_WP_NSPECIAL)
        return assay_error_set(err, ASSAY_EINVAL, "wordpiece trainer: vocab_size %d is below the %d special tokens",
                               o->vocab_size, ASSAY_WP_NSPECIAL);
    t.max_chars = ASSAY_MAX(1, ASSAY_MIN(o->tok.max_input_chars_per_word, WP_MAX_CHARS));
    int rc = ASSAY_OK;
    for (int64_t d = 0; d < n && !rc; d++)
        if (docs[d]) rc = assay_wordpiece_basic(&o->tok, docs[d], strlen(docs[d]), count_word, &t);
    if (!rc) rc = build_alphabet(&t);
    if (!rc) rc = build_symbols(&t);
    if (!rc) rc = train_merges(&t, o);
    if (!rc) rc = wp_from_map(&t.vocab, &o->tok, "wordpiece trainer", out, err);
    else rc = assay_error_set(err, rc, "wordpiece trainer: %s", assay_strerror(rc));
    trainer_deinit(&t);
    return rc;
}
