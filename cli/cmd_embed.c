/* cmd_embed.c - `assay embed DIR TEXTS`: sentence embeddings from a BERT encoder directory
 * (config.json, vocab.txt, model.safetensors: what `assay pretrain` writes, or a Hugging Face
 * BERT checkpoint). Each text (a line of a plain text file, or a cell of --column NAME of a CSV
 * or JSON Lines file) is tokenized with the directory's vocabulary, truncated to --max-len
 * tokens (the count of texts cut is reported), run through the encoder in batches, and pooled:
 * the mean of the last hidden states over its tokens (--pooling mean, sentence-transformers'
 * mean pooling) or the pooler's [CLS] output (--pooling cls). Output: CSV (one row per text,
 * columns e1..eD) or --json.
 *
 * Not here: fine-tuned `assay fit` model files (no bert estimator yet), similarity search. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "assay/bert.h"
#include "assay/wordpiece.h"
#include "cli.h"

typedef struct embed_args {
    cli_common c;
    const char *dir, *texts, *column, *out;
    int max_len, batch, cls;
} embed_args;

static void usage(FILE *f) {
    fprintf(f, "usage: assay embed DIR TEXTS [options]\n"
               "Sentence embeddings from a BERT encoder directory (config.json, vocab.txt,\n"
               "model.safetensors), one row per text: a line of TEXTS, or --column of a table.\n"
               "  --column NAME        the text column of a CSV / JSON Lines file\n"
               "  --max-len N          tokens per text, [CLS] and [SEP] included (default: the\n"
               "                       model's positions, at most 128); longer texts are cut\n"
               "  --pooling mean|cls   mean of the last hidden states (default) or the pooler output\n"
               "  --batch-size N       texts per forward pass (default 32)\n"
               "  --out FILE           CSV output (default: stdout)\n" CLI_COMMON_HELP);
}

static int parse_pos(const char *opt, const char *s, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > hi) {
        fprintf(stderr, "assay embed: %s: expected an integer in 1..%d, got '%s'\n", opt, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* The texts: lines of a plain file (empty lines kept as empty texts), or a table column. */
static int read_texts(const embed_args *a, assay_table **t, char **buf, const char ***texts,
                      int64_t *n, assay_error *err) {
    *t = NULL, *buf = NULL, *texts = NULL, *n = 0;
    if (a->column) {
        assay_col_override ov = {.name = a->column, .type = ASSAY_COL_TEXT};
        int rc = cli_read_table(&a->c, a->texts, &ov, 1, t, err);
        if (rc) return rc;
        int j = assay_table_find(*t, a->column);
        if (j < 0) return assay_error_set(err, ASSAY_ESCHEMA, "%s: no column '%s'", a->texts, a->column);
        *texts = calloc((size_t)(*t)->nrows + 1, sizeof **texts);
        if (!*texts) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        for (int64_t i = 0; i < (*t)->nrows; i++)
            (*texts)[i] = (*t)->cols[j].missing[i] || !(*t)->cols[j].text ? "" : (*t)->cols[j].text[i];
        *n = (*t)->nrows;
        return ASSAY_OK;
    }
    FILE *f = fopen(a->texts, "rb");
    if (!f) return assay_error_set(err, ASSAY_EIO, "%s: cannot open", a->texts);
    assay_buf b = {0};
    char chunk[65536];
    size_t got;
    int rc = ASSAY_OK;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (assay_buf_append(&b, chunk, got)) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    fclose(f);
    if (!rc && assay_buf_append(&b, "", 1)) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (rc) {
        assay_buf_deinit(&b);
        return rc;
    }
    *buf = b.data;
    int64_t lines = 1;
    for (size_t i = 0; i + 1 < b.len; i++) lines += b.data[i] == '\n';
    *texts = calloc((size_t)lines + 1, sizeof **texts);
    if (!*texts) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    for (char *p = *buf; p && *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[len - 1] = 0;
        (*texts)[(*n)++] = p;
        p = e ? e + 1 : NULL;
    }
    if (*n == 0) return assay_error_set(err, ASSAY_EINVAL, "%s: no texts (the file is empty)", a->texts);
    return ASSAY_OK;
}

int cmd_embed(int argc, char **argv) {
    enum { O_COLUMN = 3000, O_MAXLEN, O_POOL, O_BATCH, O_OUT };
    static const struct option longopts[] = {
        {"column", required_argument, 0, O_COLUMN}, /* before the common NAME:TYPE --column */
        {"max-len", required_argument, 0, O_MAXLEN},
        {"pooling", required_argument, 0, O_POOL},
        {"batch-size", required_argument, 0, O_BATCH},
        {"out", required_argument, 0, O_OUT},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    embed_args a;
    memset(&a, 0, sizeof a);
    cli_common_init(&a.c, argc, argv);
    a.batch = 32;
    int opt, bad = 0;
    optind = 1;
    opterr = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&a.c, opt, optarg);
        if (h < 0) bad = 1;
        if (h) continue;
        switch (opt) {
        case 'h': usage(stdout); cli_common_deinit(&a.c); return CLI_OK;
        case O_COLUMN: a.column = optarg; break;
        case O_MAXLEN: bad = parse_pos("--max-len", optarg, 1 << 16, &a.max_len); break;
        case O_BATCH: bad = parse_pos("--batch-size", optarg, 1 << 16, &a.batch); break;
        case O_OUT: a.out = optarg; break;
        case O_POOL:
            if (strcmp(optarg, "mean") && strcmp(optarg, "cls")) {
                fprintf(stderr, "assay embed: --pooling: mean or cls, got '%s'\n", optarg);
                bad = 1;
            }
            a.cls = !strcmp(optarg, "cls");
            break;
        default:
            fprintf(stderr, "assay embed: unknown or incomplete option '%s' (see assay embed --help)\n",
                    argv[optind - 1]);
            bad = 1;
        }
    }
    if (!bad && optind + 2 != argc) {
        fprintf(stderr, "assay embed: expected DIR and TEXTS (see assay embed --help)\n");
        bad = 1;
    }
    if (bad) {
        cli_common_deinit(&a.c);
        return CLI_BAD_INPUT;
    }
    a.dir = argv[optind], a.texts = argv[optind + 1];
    cli_common_apply(&a.c);
    assay_error err = {0};
    assay_bert *m = NULL;
    assay_wordpiece *wp = NULL;
    assay_bert_work *w = NULL;
    assay_table *t = NULL;
    char *buf = NULL, vpath[4096];
    const char **texts = NULL;
    int32_t *ids = NULL, *mask = NULL;
    float *emb = NULL;
    int64_t n = 0, cut = 0;
    FILE *out = stdout;
    assay_wordpiece_options wo;
    assay_wordpiece_options_init(&wo);
    snprintf(vpath, sizeof vpath, "%s/vocab.txt", a.dir);
    int rc = assay_bert_load(a.dir, -1, a.c.seed, &m, &err);
    if (!rc) rc = assay_wordpiece_load(vpath, &wo, &wp, &err);
    if (!rc) rc = read_texts(&a, &t, &buf, &texts, &n, &err);
    const assay_bert_config *cfg = m ? assay_bert_get_config(m) : NULL;
    int D = cfg ? cfg->hidden_size : 0;
    int T = a.max_len ? a.max_len : (cfg && cfg->max_position_embeddings < 128 ? cfg->max_position_embeddings : 128);
    if (!rc && cfg && T > cfg->max_position_embeddings)
        rc = assay_error_set(&err, ASSAY_EINVAL, "--max-len %d: the model has %d positions", T,
                             cfg->max_position_embeddings);
    if (!rc && T < 3) rc = assay_error_set(&err, ASSAY_EINVAL, "--max-len %d: at least 3", T);
    int B = a.batch < n ? a.batch : (int)n;
    if (!rc) rc = assay_bert_work_new(m, B, T, 0, &w, &err);
    if (!rc) {
        ids = calloc((size_t)B * T, sizeof *ids);
        mask = calloc((size_t)B * T, sizeof *mask);
        emb = calloc((size_t)n * D + 1, sizeof *emb);
        if (!ids || !mask || !emb) rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
    }
    assay_progress bar;
    assay_progress_begin(&bar, "embed", (uint64_t)n);
    for (int64_t b0 = 0; !rc && b0 < n; b0 += B) {
        int nb = (int)(n - b0 < B ? n - b0 : B);
        memset(ids, 0, sizeof *ids * (size_t)B * T);
        memset(mask, 0, sizeof *mask * (size_t)B * T);
        for (int r = 0; r < B && !rc; r++) {
            assay_wp_encoding e = {0};
            /* rows past the end repeat the last text (their output is not used) */
            rc = assay_wordpiece_encode(wp, texts[b0 + (r < nb ? r : nb - 1)], NULL, T, 1, &e, &err);
            if (!rc) {
                memcpy(ids + (size_t)r * T, e.ids, sizeof *ids * (size_t)T);
                memcpy(mask + (size_t)r * T, e.attention_mask, sizeof *mask * (size_t)T);
                cut += r < nb && e.truncated > 0;
            }
            assay_wp_encoding_deinit(&e);
        }
        assay_bert_out o;
        if (!rc) rc = assay_bert_forward(m, w, ids, NULL, mask, 0, NULL, &o, &err);
        if (!rc) memcpy(emb + (size_t)b0 * D, a.cls ? o.pooled : o.mean, sizeof *emb * (size_t)nb * D);
        assay_progress_update(&bar, (uint64_t)(b0 + nb), NULL);
    }
    assay_progress_end(&bar);
    if (!rc && a.out && !(out = fopen(a.out, "w")))
        rc = assay_error_set(&err, ASSAY_EIO, "--out: cannot write '%s'", a.out);
    if (!rc && a.c.json) {
        fprintf(out, "{\"command\":\"embed\",\"texts\":%lld,\"dimension\":%d,\"truncated\":%lld,"
                     "\"pooling\":\"%s\",\"embeddings\":[", (long long)n, D, (long long)cut,
                a.cls ? "cls" : "mean");
        for (int64_t i = 0; i < n; i++) {
            fputs(i ? ",[" : "[", out);
            for (int d = 0; d < D; d++) fprintf(out, d ? ",%.9g" : "%.9g", (double)emb[i * D + d]);
            fputc(']', out);
        }
        fputs("]}\n", out);
    } else if (!rc) {
        for (int d = 0; d < D; d++) fprintf(out, d ? ",e%d" : "e%d", d + 1);
        fputc('\n', out);
        for (int64_t i = 0; i < n; i++) {
            for (int d = 0; d < D; d++) fprintf(out, d ? ",%.9g" : "%.9g", (double)emb[i * D + d]);
            fputc('\n', out);
        }
    }
    if (out != stdout && out && fclose(out) && !rc) rc = assay_error_set(&err, ASSAY_EIO, "--out: write failed");
    if (!rc && cut) fprintf(stderr, "assay embed: %lld texts were longer than %d tokens and were cut\n",
                            (long long)cut, T);
    if (rc) fprintf(stderr, "assay embed: %s\n", err.msg);
    free(ids), free(mask), free(emb), free(texts), assay_free(buf);
    assay_table_free(t);
    assay_bert_work_free(w);
    assay_wordpiece_free(wp);
    assay_bert_free(m);
    cli_common_deinit(&a.c);
    return rc ? CLI_BAD_INPUT : CLI_OK;
}
