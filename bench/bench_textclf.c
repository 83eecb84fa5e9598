/* bench_textclf.c TRAIN TEST DIM LR EPOCHS NGRAMS BUCKET THREADS [LOSS] - trains textclf on
 * fastText-format files featurized exactly as fastText 0.9.2's supervised mode does, and prints
 * one line of key=value results for bench/bench_text.sh.
 *
 * Featurization (fastText's src/dictionary.cc): tokens split on whitespace, a newline adds the
 * end-of-sentence word "</s>"; words are every non-label token of the training file (minCount 1);
 * each word and word n-gram (n = 2..NGRAMS) is a column: a word its dictionary id, an n-gram
 * nwords + (h % BUCKET) with h = h * 116049371 + hash(next word) over the words' 32-bit FNV-1a
 * hashes (Dictionary::hash, bytes sign-extended as int8_t; addWordNgrams), which fastText keeps
 * as int32_t and so sign-extends to 64 bits before the arithmetic. Out-of-vocabulary
 * test words give no word column but take part in n-grams, as in fastText. "words" counted for
 * words/s are fastText's ntokens: words + labels + "</s>" per line, times epochs.
 *
 * Reported: accuracy (top-1 label in the document's labels, fastText's P@1), read+featurize
 * seconds, train seconds, train words/s, end-to-end seconds. Not a test; no model is saved. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assay/assay.h"
#include "models/textclf.h"

#define EOS "</s>"

/* fastText's Dictionary::hash: FNV-1a 32-bit over bytes sign-extended (int8_t) */
static uint32_t ft_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = h ^ (uint32_t)(int8_t)s[i];
        h = h * 16777619u;
    }
    return h;
}

typedef struct dict {
    int32_t *slot;   /* word id or -1 */
    uint32_t *shash; /* the slot's hash */
    const char **word;
    size_t *len;
    size_t cap;      /* slots, a power of two */
    int32_t n;
} dict;

static int32_t dict_find(const dict *d, const char *s, size_t n, uint32_t h, size_t *at) {
    size_t i = h & (d->cap - 1);
    for (; d->slot[i] >= 0; i = (i + 1) & (d->cap - 1))
        if (d->shash[i] == h && d->len[d->slot[i]] == n && memcmp(d->word[d->slot[i]], s, n) == 0)
            break;
    *at = i;
    return d->slot[i];
}

static void dict_add(dict *d, const char *s, size_t n, uint32_t h) {
    size_t at;
    if (dict_find(d, s, n, h, &at) >= 0) return;
    d->slot[at] = d->n, d->shash[at] = h;
    d->word[d->n] = s, d->len[d->n] = n;
    d->n++;
}

typedef struct feats {
    assay_csr X;
    int64_t ntokens; /* fastText's count: words + labels + EOS */
} feats;

/* Columns of every document of f (dictionary d; unknown words skipped). */
static int featurize(const assay_fasttext *f, const dict *d, int ngrams, int64_t bucket,
                     feats *out, assay_error *err) {
    int64_t cap = 0;
    for (int64_t i = 0; i < f->ndocs; i++) {
        size_t n = strlen(f->docs[i]);
        cap += (int64_t)(n / 2 + 2) * ngrams; /* >= tokens x ngrams */
    }
    int rc = assay_csr_init(&out->X, f->ndocs, d->n + bucket, cap, err);
    if (rc) return rc;
    int32_t *hs = malloc(sizeof *hs * 1000000); /* fastText's word_hashes: int32_t */
    if (!hs) return assay_error_set(err, ASSAY_ENOMEM, "bench_textclf: out of memory");
    int64_t q = 0;
    out->ntokens = 0;
    for (int64_t i = 0; i < f->ndocs; i++) {
        out->X.indptr[i] = q;
        const char *p = f->docs[i];
        int nh = 0;
        for (;;) {
            while (*p == ' ') p++;
            const char *s = p;
            while (*p && *p != ' ') p++;
            size_t n = (size_t)(p - s);
            int eos = n == 0;
            if (eos) s = EOS, n = 4;
            uint32_t h = ft_hash(s, n);
            size_t at;
            int32_t id = dict_find(d, s, n, h, &at);
            if (id >= 0) out->X.indices[q] = id, out->X.values[q++] = 1;
            if (nh < 1000000) hs[nh++] = (int32_t)h;
            if (eos) break;
        }
        for (int a = 0; a < nh; a++) {
            uint64_t h = (uint64_t)(int64_t)hs[a]; /* sign-extended, as fastText's int32 -> uint64 */
            for (int b = a + 1; b < nh && b < a + ngrams; b++) {
                h = h * 116049371u + (uint64_t)(int64_t)hs[b];
                out->X.indices[q] = (int32_t)(d->n + (int64_t)(h % (uint64_t)bucket));
                out->X.values[q++] = 1;
            }
        }
        out->ntokens += nh + (f->label_ptr[i + 1] - f->label_ptr[i]);
    }
    out->X.indptr[f->ndocs] = q;
    out->X.nnz = q;
    free(hs);
    return ASSAY_OK;
}

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: bench_textclf TRAIN TEST DIM LR EPOCHS NGRAMS BUCKET THREADS "
                        "[softmax|hs|ova]\n");
        return 2;
    }
    double t0 = assay_now();
    assay_textclf_opts o;
    assay__textclf_opts_init(&o);
    o.dim = atoi(argv[3]);
    o.lr = atof(argv[4]);
    o.epochs = atoi(argv[5]);
    int ngrams = atoi(argv[6]);
    int64_t bucket = atoll(argv[7]);
    o.threads = atoi(argv[8]);
    o.seed = 1;
    if (argc > 9) o.loss = strcmp(argv[9], "hs") == 0 ? ASSAY_TEXTCLF_HS
                         : strcmp(argv[9], "ova") == 0 ? ASSAY_TEXTCLF_OVA
                                                       : ASSAY_TEXTCLF_SOFTMAX;
    assay_error err;
    assay_fasttext *tr = NULL, *te = NULL;
    assay_fasttext_options fo;
    assay_fasttext_options_init(&fo);
    if (assay_fasttext_read(argv[1], &fo, &tr, &err)) goto fail;
    fo.allow_unlabeled = 1;
    if (assay_fasttext_read(argv[2], &fo, &te, &err)) goto fail;
    /* the dictionary: every word of the training file and "</s>" */
    dict d = {0};
    d.cap = 1024;
    while (d.cap < (size_t)tr->ntokens * 2 + 16) d.cap *= 2;
    d.slot = malloc(d.cap * sizeof *d.slot);
    d.shash = malloc(d.cap * sizeof *d.shash);
    d.word = malloc(d.cap / 2 * sizeof *d.word);
    d.len = malloc(d.cap / 2 * sizeof *d.len);
    for (size_t i = 0; i < d.cap; i++) d.slot[i] = -1;
    for (int64_t i = 0; i < tr->ndocs; i++) {
        const char *p = tr->docs[i];
        while (*p) {
            while (*p == ' ') p++;
            const char *s = p;
            while (*p && *p != ' ') p++;
            if (p > s) dict_add(&d, s, (size_t)(p - s), ft_hash(s, (size_t)(p - s)));
        }
    }
    dict_add(&d, EOS, 4, ft_hash(EOS, 4));
    feats ftr, fte;
    if (featurize(tr, &d, ngrams, bucket, &ftr, &err) ||
        featurize(te, &d, ngrams, bucket, &fte, &err))
        goto fail;
    double t1 = assay_now();
    assay__textclf *m = NULL;
    if (assay__textclf_new(&o, tr->nlabels, d.n + bucket, &m, &err)) goto fail;
    if (assay__textclf_fit(m, &ftr.X, tr->label_ptr, tr->labels, &err)) goto fail;
    double t2 = assay_now();
    /* the SGD loop alone (fastText's words/sec/thread also excludes its initialisation) */
    json_t *info = assay__textclf_vt.training((const assay_estimator *)m);
    double sgd_s = json_real_value(json_object_get(info, "seconds"));
    json_decref(info);
    /* test labels by name: ids of the training file */
    int64_t ok = 0, n = 0;
    float *scratch = malloc(sizeof *scratch * (size_t)(o.dim + 2 * tr->nlabels));
    for (int64_t i = 0; i < te->ndocs; i++) {
        if (te->label_ptr[i + 1] == te->label_ptr[i]) continue;
        int64_t b = fte.X.indptr[i];
        int32_t lab;
        float pr;
        int k = assay__textclf_topk(m, fte.X.indices + b, fte.X.values + b,
                                    fte.X.indptr[i + 1] - b, 1, 0.0, &lab, &pr, scratch);
        n++;
        for (int64_t l = te->label_ptr[i]; k == 1 && l < te->label_ptr[i + 1]; l++)
            ok += strcmp(te->label_names[te->labels[l]], tr->label_names[lab]) == 0;
    }
    double t3 = assay_now();
    printf("accuracy=%.4f train_docs=%lld test_docs=%lld nwords=%d words=%lld prep_s=%.3f "
           "fit_s=%.3f sgd_s=%.3f words_per_s=%.0f total_s=%.3f\n",
           n ? (double)ok / (double)n : 0.0, (long long)tr->ndocs, (long long)n, (int)d.n,
           (long long)ftr.ntokens, t1 - t0, t2 - t1, sgd_s,
           (double)ftr.ntokens * o.epochs / sgd_s, t3 - t0);
    free(scratch);
    assay__textclf_free(m);
    assay_csr_deinit(&ftr.X);
    assay_csr_deinit(&fte.X);
    free(d.slot), free(d.shash), free(d.word), free(d.len);
    assay_fasttext_free(tr);
    assay_fasttext_free(te);
    return 0;
fail:
    fprintf(stderr, "bench_textclf: %s\n", err.msg);
    return 1;
}
