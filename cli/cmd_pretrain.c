/* cmd_pretrain.c - `assay pretrain`: pretrain a BERT encoder by masked language modelling on
 * plain text (or a text column of CSV files). Read the corpus (invalid UTF-8 replaced and
 * counted), train a WordPiece vocabulary (or read --vocab), tokenize, pack the token stream into
 * [CLS] ... [SEP] sequences of --seq-len, and train with AdamW (linear warmup and decay,
 * clipping at 1.0, gradient accumulation, dropout 0.1). Checkpoints in --out are a Hugging Face
 * BertForMaskedLM directory (config.json, vocab.txt, model.safetensors) plus
 * training_state.safetensors (optimizer moments, step, RNG state, settings), each file written
 * atomically; --resume continues bit for bit. loss.csv records every step.
 *
 * Sequences are consecutive slices of the whole corpus's token stream (documents follow one
 * another without separators, as RoBERTa's FULL-SENTENCES), visited in a fresh order every
 * epoch; masking is drawn anew for every batch (dynamic masking).
 *
 * Not here: next-sentence prediction, whole-word masking, fine-tuning (assay fit). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assay/bert_mlm.h"
#include "cli.h"

#define CMD "pretrain"
#define STATE_FILE "training_state.safetensors"

typedef struct pt_args {
    cli_common c;
    const char *out, *vocab, *column, *from;
    const char *files[CLI_MAX_ARGS];
    int nfiles;
    int layers, hidden, heads, intermediate, seq_len, vocab_size, batch, accum;
    double epochs, lr, warmup, weight_decay, mask_prob;
    long steps, stop_at, save_every, log_every;
    int resume, steps_given;
    const char *arch_opt; /* the first of --vocab, --vocab-size, --layers, ... given */
    int bf16; /* --precision bf16 */
} pt_args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: assay pretrain CORPUS... --out DIR [options]\n\n"
            "Pretrain a BERT encoder by masked language modelling on CORPUS (UTF-8 text files: one\n"
            "document per line or paragraphs; CSV files with --column NAME). DIR receives a Hugging\n"
            "Face BertForMaskedLM checkpoint (config.json, vocab.txt, model.safetensors), the\n"
            "training state (training_state.safetensors) and loss.csv (step,loss,lr,tokens_per_s).\n\n"
            "  --out DIR            the checkpoint directory (required; created if missing)\n"
            "  --column NAME        the text column of CSV / JSON Lines corpus files\n"
            "  --from DIR           continue pretraining the BERT checkpoint in DIR (assay's or\n"
            "                       Hugging Face's: config.json, vocab.txt, model.safetensors) on\n"
            "                       CORPUS: its architecture and vocabulary, a fresh optimizer\n"
            "  --vocab FILE         a vocab.txt to use (default: train a WordPiece vocabulary)\n"
            "  --vocab-size N       size of the trained vocabulary (default 8000)\n"
            "  --layers N           encoder layers (default 4)\n"
            "  --hidden N           hidden size (default 256)\n"
            "  --heads N            attention heads; must divide --hidden (default 4)\n"
            "  --intermediate N     feed-forward size (default 4 x hidden)\n"
            "  --seq-len N          tokens per sequence, [CLS] and [SEP] included (default 128)\n"
            "  --epochs X           passes over the packed sequences (default 1)\n"
            "  --steps N            optimizer steps instead of --epochs\n"
            "  --batch-size N       sequences per micro-batch (default 32)\n"
            "  --accum N            micro-batches per optimizer step (default 1)\n"
            "  --lr X               peak learning rate (default 5e-4)\n"
            "  --warmup X           warmup: a fraction of the steps (< 1) or a step count (default 0.06)\n"
            "  --weight-decay X     AdamW's decoupled weight decay (default 0.01)\n"
            "  --mask-prob P        fraction of tokens selected for prediction (default 0.15)\n"
            "  --precision P        fp32 (default) or bf16: dense-layer products on bf16 operands\n"
            "                       with fp32 sums (CPUs with AVX512_BF16 or AMX)\n"
            "  --save-every N       checkpoint every N steps (default 500, and at the end)\n"
            "  --log-every N        a loss.csv row every N steps (default 1)\n"
            "  --resume             continue the run saved in DIR with its settings (--steps may\n"
            "                       raise the total); same seed and threads give the same bits\n"
            "  --stop-at N          stop after step N with a checkpoint, as an interruption would\n"
            "  --threads N          worker threads (default: all cores)\n"
            "  --seed N             seed for initialization, order, masks, dropout (default 42)\n"
            "  --db PATH            the store (default $ASSAY_DB or ./assay.db; 'none' to skip)\n"
            "  --strict-utf8        refuse invalid UTF-8 (default: replace by U+FFFD, count)\n"
            "  --json               print one JSON document instead of text\n"
            "  --quiet              no progress bar\n"
            "  -h, --help           this help\n");
}

static int parse_long(const char *opt, const char *arg, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi) {
        fprintf(stderr, "assay " CMD ": %s: expected an integer in [%ld, %ld], got '%s'\n", opt, lo,
                hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *arg, long lo, long hi, int *out) {
    long v;
    if (parse_long(opt, arg, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

static int parse_num(const char *opt, const char *arg, double lo, double hi, double *out) {
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "assay " CMD ": %s: expected a number in [%g, %g], got '%s'\n", opt, lo, hi,
                arg);
        return -1;
    }
    *out = v;
    return 0;
}

/* O_VOCAB .. O_INTER: the architecture and vocabulary options that --from refuses (keep them
 * together) */
enum {
    O_OUT = 3000, O_VOCAB, O_VOCAB_SIZE, O_LAYERS, O_HIDDEN, O_HEADS, O_INTER, O_SEQ, O_EPOCHS,
    O_STEPS, O_BATCH, O_ACCUM, O_LR, O_WARMUP, O_WD, O_MASK, O_SAVE, O_LOG, O_RESUME, O_STOP,
    O_COLUMN, O_PRECISION, O_FROM
};

/* 0 to run, 1 after --help, -1 on a bad option (printed). */
static int parse_args(pt_args *a, int argc, char **argv) {
    static const struct option longopts[] = {
        {"out", required_argument, 0, O_OUT},
        {"vocab", required_argument, 0, O_VOCAB},
        {"vocab-size", required_argument, 0, O_VOCAB_SIZE},
        {"layers", required_argument, 0, O_LAYERS},
        {"hidden", required_argument, 0, O_HIDDEN},
        {"heads", required_argument, 0, O_HEADS},
        {"intermediate", required_argument, 0, O_INTER},
        {"seq-len", required_argument, 0, O_SEQ},
        {"epochs", required_argument, 0, O_EPOCHS},
        {"steps", required_argument, 0, O_STEPS},
        {"batch-size", required_argument, 0, O_BATCH},
        {"accum", required_argument, 0, O_ACCUM},
        {"lr", required_argument, 0, O_LR},
        {"warmup", required_argument, 0, O_WARMUP},
        {"weight-decay", required_argument, 0, O_WD},
        {"mask-prob", required_argument, 0, O_MASK},
        {"save-every", required_argument, 0, O_SAVE},
        {"log-every", required_argument, 0, O_LOG},
        {"resume", no_argument, 0, O_RESUME},
        {"stop-at", required_argument, 0, O_STOP},
        {"precision", required_argument, 0, O_PRECISION},
        {"from", required_argument, 0, O_FROM},
        {"column", required_argument, 0, O_COLUMN}, /* before the common NAME:TYPE --column */
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    a->layers = 4, a->hidden = 256, a->heads = 4, a->intermediate = 0, a->seq_len = 128;
    a->vocab_size = 8000, a->batch = 32, a->accum = 1;
    a->epochs = 1, a->lr = 5e-4, a->warmup = 0.06, a->weight_decay = 0.01, a->mask_prob = 0.15;
    a->save_every = 500, a->log_every = 1;
    optind = 1;
    opterr = 0;
    int opt, bad = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&a->c, opt, optarg);
        if (h < 0) return -1;
        if (h > 0) continue;
        if (!a->arch_opt && opt >= O_VOCAB && opt <= O_INTER)
            for (const struct option *o = longopts; o->name; o++)
                if (o->val == opt) a->arch_opt = o->name;
        switch (opt) {
        case 'h': usage(stdout); return 1;
        case O_OUT: a->out = optarg; break;
        case O_VOCAB: a->vocab = optarg; break;
        case O_FROM: a->from = optarg; break;
        case O_COLUMN: a->column = optarg; break;
        case O_PRECISION:
            if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16")) {
                fprintf(stderr, "assay pretrain: --precision: expected fp32 or bf16, got '%s'\n",
                        optarg);
                return -1;
            }
            a->bf16 = !strcmp(optarg, "bf16");
            break;
        case O_VOCAB_SIZE: bad = parse_int("--vocab-size", optarg, 16, 1 << 20, &a->vocab_size); break;
        case O_LAYERS: bad = parse_int("--layers", optarg, 1, 1024, &a->layers); break;
        case O_HIDDEN: bad = parse_int("--hidden", optarg, 1, 1 << 16, &a->hidden); break;
        case O_HEADS: bad = parse_int("--heads", optarg, 1, 1 << 16, &a->heads); break;
        case O_INTER: bad = parse_int("--intermediate", optarg, 1, 1 << 18, &a->intermediate); break;
        case O_SEQ: bad = parse_int("--seq-len", optarg, 3, 1 << 14, &a->seq_len); break;
        case O_EPOCHS: bad = parse_num("--epochs", optarg, 1e-9, 1e6, &a->epochs); break;
        case O_STEPS: bad = parse_long("--steps", optarg, 1, 1L << 40, &a->steps), a->steps_given = 1; break;
        case O_BATCH: bad = parse_int("--batch-size", optarg, 1, 1 << 16, &a->batch); break;
        case O_ACCUM: bad = parse_int("--accum", optarg, 1, 1 << 16, &a->accum); break;
        case O_LR: bad = parse_num("--lr", optarg, 0, 1e9, &a->lr); break;
        case O_WARMUP: bad = parse_num("--warmup", optarg, 0, 1e12, &a->warmup); break;
        case O_WD: bad = parse_num("--weight-decay", optarg, 0, 1e6, &a->weight_decay); break;
        case O_MASK: bad = parse_num("--mask-prob", optarg, 1e-6, 1, &a->mask_prob); break;
        case O_SAVE: bad = parse_long("--save-every", optarg, 1, 1L << 40, &a->save_every); break;
        case O_LOG: bad = parse_long("--log-every", optarg, 1, 1L << 40, &a->log_every); break;
        case O_RESUME: a->resume = 1; break;
        case O_STOP: bad = parse_long("--stop-at", optarg, 1, 1L << 40, &a->stop_at); break;
        default:
            fprintf(stderr, "assay " CMD ": unknown option '%s' (see assay pretrain --help)\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (bad) return -1;
    for (int i = optind; i < argc && a->nfiles < CLI_MAX_ARGS; i++) a->files[a->nfiles++] = argv[i];
    return 0;
}

/* ---- the corpus ---------------------------------------------------------------------------- */

typedef struct corpus {
    char **bufs;        /* cleaned file texts (owned) */
    int nbufs;
    assay_table **tables;
    int ntables;
    const char **docs;  /* NUL-terminated documents, borrowed from bufs / tables */
    int64_t ndocs, cap;
    int64_t bytes, invalid;
} corpus;

static void corpus_deinit(corpus *k) {
    for (int i = 0; i < k->nbufs; i++) free(k->bufs[i]);
    for (int i = 0; i < k->ntables; i++) assay_table_free(k->tables[i]);
    free(k->bufs), free(k->tables), free(k->docs);
}

static int add_doc(corpus *k, const char *s) {
    if (k->ndocs == k->cap) {
        int64_t nc = k->cap ? 2 * k->cap : 4096;
        const char **d = realloc(k->docs, (size_t)nc * sizeof *d);
        if (!d) return -1;
        k->docs = d, k->cap = nc;
    }
    k->docs[k->ndocs++] = s;
    k->bytes += (int64_t)strlen(s);
    return 0;
}

/* The length of a valid UTF-8 sequence at s (n bytes left), or 0 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static int utf8_len(const unsigned char *s, size_t n) {
    const unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if ((size_t)len > n || s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

/* A plain text file: invalid UTF-8 bytes become U+FFFD (counted), NUL bytes spaces; one
 * document per line. */
static int read_text(corpus *k, const char *path, int strict, assay_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
    assay_buf raw = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (assay_buf_append(&raw, chunk, got)) {
            fclose(f);
            assay_buf_deinit(&raw);
            return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", path);
        }
    const int ioerr = ferror(f);
    fclose(f);
    if (ioerr) {
        assay_buf_deinit(&raw);
        return assay_error_set(err, ASSAY_EIO, "%s: read error", path);
    }
    char *out = malloc(raw.len * 3 + 1); /* each bad byte grows to 3 */
    char **nb = realloc(k->bufs, (size_t)(k->nbufs + 1) * sizeof *nb);
    if (nb) k->bufs = nb;
    if (!out || !nb) {
        free(out);
        assay_buf_deinit(&raw);
        return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", path);
    }
    const unsigned char *s = (const unsigned char *)raw.data;
    size_t o = 0;
    int64_t line = 1;
    for (size_t i = 0; i < raw.len;) {
        const int l = utf8_len(s + i, raw.len - i);
        if (l == 0) {
            if (strict) {
                free(out);
                assay_buf_deinit(&raw);
                return assay_error_set(err, ASSAY_EUTF8, "%s:%lld: invalid UTF-8 byte 0x%02X", path,
                                       (long long)line, s[i]);
            }
            memcpy(out + o, "\xEF\xBF\xBD", 3), o += 3, i++, k->invalid++;
            continue;
        }
        if (s[i] == '\n') line++;
        for (int j = 0; j < l; j++) out[o++] = s[i] ? (char)s[i + j] : ' ';
        i += (size_t)l;
    }
    out[o] = 0;
    assay_buf_deinit(&raw);
    k->bufs[k->nbufs++] = out;
    for (char *p = out; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r') p[n - 1] = 0;
        if (*p && add_doc(k, p)) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        if (!e) break;
        p = e + 1;
    }
    return ASSAY_OK;
}

/* mkdir -p: path and every missing folder above it (as save_pretrained's makedirs). */
static int mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int is_table_file(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (!strcmp(dot, ".csv") || !strcmp(dot, ".tsv") || !strcmp(dot, ".jsonl") ||
                   !strcmp(dot, ".CSV"));
}

static int read_column(corpus *k, const pt_args *a, const char *path, assay_error *err) {
    assay_col_override ov = {.name = a->column, .type = ASSAY_COL_TEXT};
    assay_table *t = NULL;
    int rc = cli_read_table(&a->c, path, &ov, 1, &t, err);
    if (rc) return rc;
    assay_table **nt = realloc(k->tables, (size_t)(k->ntables + 1) * sizeof *nt);
    if (!nt) {
        assay_table_free(t);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    k->tables = nt;
    k->tables[k->ntables++] = t;
    const int j = assay_table_find(t, a->column);
    if (j < 0) return assay_error_set(err, ASSAY_ESCHEMA, "%s: no column '%s'", path, a->column);
    const assay_column *col = &t->cols[j];
    if (col->type != ASSAY_COL_TEXT || !col->text)
        return assay_error_set(err, ASSAY_ESCHEMA, "%s: column '%s' is not text", path, a->column);
    k->invalid += t->n_utf8_replaced;
    for (int64_t i = 0; i < t->nrows; i++)
        if (!col->missing[i] && col->text[i] && col->text[i][0] && add_doc(k, col->text[i]))
            return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    return ASSAY_OK;
}

/* ---- tokens and sequences ------------------------------------------------------------------ */

typedef struct packed {
    int32_t *ids;  /* (nseq, T): [CLS] up to T-2 tokens [SEP], then [PAD] */
    int32_t *len;  /* (nseq) tokens before padding */
    int64_t nseq, ntok;
    int64_t nunk; /* tokens that are [UNK]: words the vocabulary cannot spell */
} packed;

static int pack(const assay_wordpiece *wp, const corpus *k, int T, packed *p, assay_error *err) {
    memset(p, 0, sizeof *p);
    const int64_t n = k->ndocs;
    int32_t **ids = calloc((size_t)(n ? n : 1), sizeof *ids);
    int64_t *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
    int rc = ASSAY_OK;
    if (!ids || !cnt) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        goto done;
    }
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(| : failed)
    for (int64_t i = 0; i < n; i++)
        if (assay_wordpiece_tokenize(wp, k->docs[i], strlen(k->docs[i]), &ids[i], &cnt[i], NULL))
            failed = 1;
    if (failed) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory while tokenizing");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) p->ntok += cnt[i];
    const int W = T - 2;
    p->nseq = (p->ntok + W - 1) / W;
    if (p->nseq == 0) goto done;
    p->ids = malloc((size_t)p->nseq * T * sizeof *p->ids);
    p->len = malloc((size_t)p->nseq * sizeof *p->len);
    if (!p->ids || !p->len) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory for %lld sequences",
                             (long long)p->nseq);
        goto done;
    }
    const int32_t cls = assay_wordpiece_special_id(wp, ASSAY_WP_CLS),
                  sep = assay_wordpiece_special_id(wp, ASSAY_WP_SEP),
                  pad = assay_wordpiece_special_id(wp, ASSAY_WP_PAD),
                  unk = assay_wordpiece_special_id(wp, ASSAY_WP_UNK);
    int64_t s = 0, pos = 0; /* sequence, tokens in it */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < cnt[i]; j++) {
            p->nunk += ids[i][j] == unk;
            p->ids[s * T + 1 + pos++] = ids[i][j];
            if (pos == W) p->len[s++] = W + 2, pos = 0;
        }
    if (pos) p->len[s] = (int32_t)pos + 2;
    for (int64_t q = 0; q < p->nseq; q++) {
        int32_t *r = p->ids + q * T;
        r[0] = cls;
        r[p->len[q] - 1] = sep;
        for (int t = p->len[q]; t < T; t++) r[t] = pad;
    }
done:
    if (ids)
        for (int64_t i = 0; i < n; i++) assay_free(ids[i]);
    free(ids), free(cnt);
    return rc;
}

/* The order of epoch e: a permutation of the sequences drawn from seed and e. */
static void epoch_order(int64_t *perm, int64_t n, uint64_t seed, int64_t e) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    assay_rng r;
    assay_rng_seed(&r, seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(e + 1)));
    assay_rng_shuffle_i64(&r, perm, n);
}

/* ---- resume records ------------------------------------------------------------------------ */

static char *train_record(const pt_args *a, long total, long warm, const packed *p, int threads) {
    json_t *j = json_pack("{s:I,s:f,s:I,s:I,s:i,s:i,s:f,s:f,s:i,s:I,s:I,s:i,s:s}", "seed",
                          (json_int_t)a->c.seed, "lr", a->lr, "warmup_steps", (json_int_t)warm,
                          "total_steps", (json_int_t)total, "batch_size", a->batch, "accum",
                          a->accum, "mask_prob", a->mask_prob, "weight_decay", a->weight_decay,
                          "seq_len", a->seq_len, "sequences", (json_int_t)p->nseq, "tokens",
                          (json_int_t)p->ntok, "threads", threads, "precision",
                          a->bf16 ? "bf16" : "fp32");
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return s;
}

/* The settings of a saved run into a (everything that decides the bits). */
static int read_record(pt_args *a, const char *text, long *total, long *warm, int64_t *nseq,
                       int64_t *ntok, int *threads, const char *path, assay_error *err) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    json_int_t seed, tot, wu, ns, nt;
    int rc = ASSAY_OK;
    if (!j || json_unpack(j, "{s:I,s:F,s:I,s:I,s:i,s:i,s:F,s:F,s:i,s:I,s:I,s:i}", "seed", &seed,
                          "lr", &a->lr, "warmup_steps", &wu, "total_steps", &tot, "batch_size",
                          &a->batch, "accum", &a->accum, "mask_prob", &a->mask_prob,
                          "weight_decay", &a->weight_decay, "seq_len", &a->seq_len, "sequences",
                          &ns, "tokens", &nt, "threads", threads))
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: the training settings are missing or damaged",
                             path);
    else
        a->c.seed = (uint64_t)seed, *total = (long)tot, *warm = (long)wu, *nseq = ns, *ntok = nt;
    /* records from before --precision existed are fp32 runs */
    const char *prec = json_string_value(json_object_get(j, "precision"));
    if (!rc && prec && strcmp(prec, "fp32") && strcmp(prec, "bf16"))
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: unknown precision '%s'", path, prec);
    if (!rc) a->bf16 = prec && !strcmp(prec, "bf16");
    json_decref(j);
    return rc;
}

/* loss.csv rows of steps <= upto kept (a resumed run rewrites what followed its checkpoint). */
static FILE *open_loss_csv(const char *path, long upto, int resume) {
    assay_buf keep = {0};
    if (resume) {
        FILE *f = fopen(path, "r");
        char line[512];
        if (f) {
            while (fgets(line, sizeof line, f)) {
                long s = strtol(line, NULL, 10);
                if (line[0] >= '0' && line[0] <= '9' && s <= upto)
                    assay_buf_append(&keep, line, strlen(line));
            }
            fclose(f);
        }
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("step,loss,lr,tokens_per_s\n", f);
        if (keep.len) fwrite(keep.data, 1, keep.len, f);
        fflush(f);
    }
    assay_buf_deinit(&keep);
    return f;
}

/* Checkpoint: training state, then model (config.json, model.safetensors). */
static int checkpoint(const char *dir, const assay_bert *m, const assay_bert_mlm *h,
                      const assay_rng *rng, const char *record, assay_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" STATE_FILE, dir);
    int rc = assay_bert_mlm_state_save(h, rng, record, path, err);
    if (!rc) rc = assay_bert_mlm_save(m, h, dir, err);
    return rc;
}

static int file_exists(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* ---- the command --------------------------------------------------------------------------- */

int cmd_pretrain(int argc, char **argv) {
    pt_args a;
    memset(&a, 0, sizeof a);
    cli_common_init(&a.c, argc, argv);
    corpus k = {0};
    packed p = {0};
    assay_wordpiece *wp = NULL;
    assay_bert *m = NULL;
    assay_bert_mlm *h = NULL;
    assay_bert_work *w = NULL;
    int32_t *inp = NULL, *lab = NULL, *bids = NULL, *bmask = NULL;
    int64_t *perm = NULL;
    uint8_t *special = NULL;
    char *record = NULL, *saved = NULL;
    FILE *lf = NULL;
    assay_error err = {0};
    int status = CLI_OK, pr = parse_args(&a, argc, argv);
    if (pr) {
        cli_common_deinit(&a.c);
        return pr > 0 ? CLI_OK : CLI_BAD_INPUT;
    }
    cli_common_apply(&a.c);
#define FAIL(...) do { status = cli_failf(CMD, CLI_BAD_INPUT, __VA_ARGS__); goto done; } while (0)
#define FAIL_ERR() do { status = cli_fail(CMD, &err); goto done; } while (0)
    if (!a.out) FAIL("--out DIR is required (where the checkpoint goes)");
    if (a.nfiles == 0) FAIL("no corpus file given (usage: assay pretrain CORPUS... --out DIR)");
    if (a.from && a.resume)
        FAIL("--from starts a new run from a checkpoint, --resume continues the run in --out "
             "(give one of them)");
    if (a.from && a.arch_opt)
        FAIL("--from %s takes the architecture and vocabulary from its checkpoint (drop --%s)",
             a.from, a.arch_opt);
    if (!a.resume && !a.from && a.hidden % a.heads)
        FAIL("--hidden %d is not a multiple of --heads %d", a.hidden, a.heads);
    if (a.intermediate == 0) a.intermediate = 4 * a.hidden;
    for (int i = 0; i < a.nfiles; i++) {
        struct stat st;
        if (stat(a.files[i], &st) != 0) FAIL("%s: %s", a.files[i], strerror(errno));
        if (S_ISDIR(st.st_mode)) FAIL("%s: is a directory (give text files)", a.files[i]);
        if (is_table_file(a.files[i]) && !a.column)
            FAIL("%s: a table file needs --column NAME (the text column)", a.files[i]);
    }
    if (mkdir_p(a.out) != 0) FAIL("--out %s: %s", a.out, strerror(errno));
    if (!a.resume && file_exists(a.out, STATE_FILE))
        FAIL("--out %s already holds a pretraining run (--resume continues it; or choose another "
             "directory)", a.out);
    if (a.resume && !file_exists(a.out, STATE_FILE))
        FAIL("--resume: %s/" STATE_FILE ": no checkpoint to resume", a.out);
    if (a.from) {
        struct stat sf, so;
        if (stat(a.from, &sf) != 0) FAIL("--from %s: %s", a.from, strerror(errno));
        if (!S_ISDIR(sf.st_mode))
            FAIL("--from %s: not a directory (give a checkpoint directory with config.json, "
                 "vocab.txt and model.safetensors)", a.from);
        if (stat(a.out, &so) == 0 && so.st_dev == sf.st_dev && so.st_ino == sf.st_ino)
            FAIL("--from %s is the --out directory: the run would overwrite the checkpoint it "
                 "starts from (give another --out)", a.from);
        if (assay_bert_mlm_load(a.from, a.c.seed, &m, &h, NULL, &err)) FAIL_ERR();
        assay_bert_mlm_restart(h);
    }
    /* the checkpoint the model comes from, whose vocab.txt goes with it */
    const char *ckpt = a.from ? a.from : a.resume ? a.out : NULL;

    /* the settings of the run being resumed decide everything that changes the bits */
    long total = 0, warm = 0, start = 0;
    assay_rng rng;
    assay_rng_seed(&rng, a.c.seed ^ 0x707265747261696EULL); /* "pretrain" */
    int64_t rec_seq = -1, rec_tok = -1;
    int rec_threads = 0;
    if (a.resume) {
        long msteps;
        const long want_steps = a.steps_given ? a.steps : 0;
        if (assay_bert_mlm_load(a.out, a.c.seed, &m, &h, &msteps, &err)) FAIL_ERR();
        char path[4096];
        snprintf(path, sizeof path, "%s/" STATE_FILE, a.out);
        if (assay_bert_mlm_state_load(h, &rng, &saved, path, &err)) FAIL_ERR();
        if (read_record(&a, saved, &total, &warm, &rec_seq, &rec_tok, &rec_threads, path, &err))
            FAIL_ERR();
        if (msteps != assay_bert_mlm_steps(h))
            FAIL("--resume: %s/model.safetensors is at step %ld but " STATE_FILE " at step %ld "
                 "(interrupted while saving?)", a.out, msteps, assay_bert_mlm_steps(h));
        if (want_steps) total = want_steps;
        start = assay_bert_mlm_steps(h);
        if (rec_threads != assay_threads_get())
            fprintf(stderr, "assay " CMD ": note: the run used %d threads, this one %d: results "
                    "will not be bit-identical\n", rec_threads, assay_threads_get());
    }

    /* corpus */
    double t0 = assay_now();
    for (int i = 0; i < a.nfiles; i++) {
        const int rc = a.column && is_table_file(a.files[i])
                           ? read_column(&k, &a, a.files[i], &err)
                           : read_text(&k, a.files[i], a.c.strict_utf8, &err);
        if (rc) FAIL_ERR();
    }
    int blank = 1;
    for (int64_t i = 0; i < k.ndocs && blank; i++)
        for (const char *s = k.docs[i]; *s && blank; s++)
            if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\f' && *s != '\v') blank = 0;
    if (blank) FAIL("%s%s: no text to pretrain on (empty corpus)", a.files[0],
                    a.nfiles > 1 ? " and the other corpus files" : "");
    if (k.invalid)
        fprintf(stderr, "assay " CMD ": %lld invalid UTF-8 bytes replaced by U+FFFD\n",
                (long long)k.invalid);

    /* vocabulary */
    double t_vocab = assay_now();
    if (ckpt) {
        char path[4096];
        snprintf(path, sizeof path, "%s/vocab.txt", ckpt);
        if (assay_wordpiece_load(path, NULL, &wp, &err)) FAIL_ERR();
    } else if (a.vocab) {
        if (assay_wordpiece_load(a.vocab, NULL, &wp, &err)) FAIL_ERR();
    } else {
        assay_wordpiece_train_options to;
        assay_wordpiece_train_options_init(&to);
        to.vocab_size = a.vocab_size;
        if (assay_wordpiece_train(&to, k.docs, k.ndocs, &wp, &err)) FAIL_ERR();
    }
    t_vocab = assay_now() - t_vocab;
    const int32_t V = assay_wordpiece_size(wp);
    if (pack(wp, &k, a.seq_len, &p, &err)) FAIL_ERR();
    if (p.ntok == 0) FAIL("%s: no tokens in the corpus (empty corpus)", a.files[0]);
    if (p.nunk * 10 > p.ntok) /* [UNK] is never a target: such a run learns little */
        fprintf(stderr, "assay " CMD ": note: %.0f%% of the corpus's %lld tokens are [UNK] (the "
                "vocabulary%s%s does not spell this text's words)\n", 100.0 * (double)p.nunk /
                (double)p.ntok, (long long)p.ntok, ckpt || a.vocab ? " of " : "",
                ckpt ? ckpt : a.vocab ? a.vocab : "");
    if (a.resume && (p.nseq != rec_seq || p.ntok != rec_tok))
        FAIL("--resume: the corpus gives %lld tokens in %lld sequences, the run in %s was trained "
             "on %lld in %lld (give the same files)", (long long)p.ntok, (long long)p.nseq, a.out,
             (long long)rec_tok, (long long)rec_seq);
    const double t_data = assay_now() - t0;

    /* model */
    if (ckpt && assay_bert_get_config(m)->vocab_size != V)
        FAIL("%s: %s/vocab.txt has %d tokens, config.json %d", a.from ? "--from" : "--resume",
             ckpt, V, assay_bert_get_config(m)->vocab_size);
    if (!a.resume && !a.from) {
        assay_bert_config c;
        assay_bert_config_defaults(&c);
        c.vocab_size = V, c.hidden_size = a.hidden, c.num_hidden_layers = a.layers;
        c.num_attention_heads = a.heads, c.intermediate_size = a.intermediate;
        c.max_position_embeddings = a.seq_len > 512 ? a.seq_len : 512;
        c.num_labels = 0;
        const char *bad = assay_bert_config_check(&c);
        if (bad) FAIL("%s", bad);
        if (assay_bert_new(&c, a.c.seed, &m, &err)) FAIL_ERR();
        if (assay_bert_mlm_new(m, a.c.seed, &h, &err)) FAIL_ERR();
    }
    if (!a.resume) {
        char path[4096];
        snprintf(path, sizeof path, "%s/vocab.txt", a.out);
        if (assay_wordpiece_save(wp, path, &err)) FAIL_ERR();
        const long per = (long)a.batch * a.accum;
        total = a.steps_given ? a.steps : (long)ceil(a.epochs * (double)p.nseq / (double)per);
        if (total < 1) total = 1;
        warm = a.warmup < 1 ? (long)llround(a.warmup * (double)total) : (long)a.warmup;
    }
    const assay_bert_config *cfg = assay_bert_get_config(m);
    if (a.seq_len > cfg->max_position_embeddings)
        FAIL("--seq-len %d exceeds the model's %d positions", a.seq_len,
             cfg->max_position_embeddings);
    record = train_record(&a, total, warm, &p, a.resume ? rec_threads : assay_threads_get());
    if (!record) FAIL("out of memory");

    const int B = a.batch, T = a.seq_len, N = B * T;
    if (assay_bert_work_new(m, B, T, 1, &w, &err) ||
        (a.bf16 && assay_bert_work_set_precision(w, ASSAY_NN_BF16, &err)))
        FAIL_ERR();
    inp = malloc(sizeof *inp * N), lab = malloc(sizeof *lab * N);
    bids = malloc(sizeof *bids * N), bmask = malloc(sizeof *bmask * N);
    perm = malloc(sizeof *perm * (size_t)p.nseq);
    special = calloc((size_t)V, 1);
    if (!inp || !lab || !bids || !bmask || !perm || !special) FAIL("out of memory");
    for (int s = 0; s < ASSAY_WP_NSPECIAL; s++) special[assay_wordpiece_special_id(wp, s)] = 1;
    const int32_t mask_id = assay_wordpiece_special_id(wp, ASSAY_WP_MASK);

    assay_nn_optim opt;
    assay_nn_optim_defaults(&opt, ASSAY_NN_ADAMW);
    opt.weight_decay = (float)a.weight_decay;
    opt.eps = 1e-6f; /* Hugging Face's Trainer: adam_epsilon 1e-8; BERT's original 1e-6 */
    assay_nn_schedule sched = {.kind = ASSAY_NN_SCHED_LINEAR, .lr = a.lr, .min_lr = 0,
                               .warmup = warm, .total = total};
    char path[4096];
    snprintf(path, sizeof path, "%s/loss.csv", a.out);
    lf = open_loss_csv(path, start, a.resume);
    if (!lf) FAIL("%s: %s", path, strerror(errno));

    int64_t nparams;
    assay_bert_params(m, &nparams);
    int64_t nhead;
    assay_bert_mlm_params(h, &nhead);
    if (!a.c.json)
        printf("corpus: %lld documents, %lld tokens, %lld sequences of %d; vocabulary %d%s; "
               "model %.2fM parameters (%d layers, hidden %d, %d heads)\n",
               (long long)k.ndocs, (long long)p.ntok, (long long)p.nseq, T, V,
               ckpt || a.vocab ? "" : " (trained)", (double)(nparams + nhead) / 1e6,
               cfg->num_hidden_layers, cfg->hidden_size, cfg->num_attention_heads);
    if (a.resume && !a.c.json) printf("resuming at step %ld of %ld\n", start, total);

    const long stop = a.stop_at && a.stop_at < total ? a.stop_at : total;
    assay_progress bar;
    assay_progress_begin(&bar, "pretrain", (uint64_t)total);
    assay_progress_update(&bar, (uint64_t)start, NULL);
    double first_loss = NAN, last_loss = NAN, tr0 = assay_now(), train_tokens = 0;
    double head_sum = 0, tail_sum = 0;
    long head_n = 0, tail_n = 0, saved_step = start;
    int64_t cur_epoch = -1;
    long s;
    for (s = start; s < stop; s++) {
        const double ts = assay_now();
        if (assay_bert_mlm_zero_grad(m, h, &err)) FAIL_ERR();
        double loss = 0, step_tokens = 0;
        for (int q = 0; q < a.accum; q++) {
            for (int b = 0; b < B; b++) {
                const int64_t g = ((int64_t)s * a.accum + q) * B + b, e = g / p.nseq;
                if (e != cur_epoch) epoch_order(perm, p.nseq, a.c.seed, e), cur_epoch = e;
                const int64_t sq = perm[g % p.nseq];
                memcpy(bids + (int64_t)b * T, p.ids + sq * T, sizeof *bids * T);
                for (int t = 0; t < T; t++) bmask[b * T + t] = t < p.len[sq];
                step_tokens += p.len[sq];
            }
            assay_bert_mlm_mask(inp, lab, bids, N, special, V, mask_id, (float)a.mask_prob, &rng);
            double l;
            if (assay_bert_forward(m, w, inp, NULL, bmask, 1, &rng, NULL, &err) ||
                assay_bert_mlm_loss(m, h, w, lab, N, 1, 1.0f / (float)a.accum, &l, NULL, &err))
                FAIL_ERR();
            loss += l / a.accum;
        }
        if (!isfinite(loss)) {
            assay_progress_end(&bar);
            if (saved_step > 0)
                FAIL("step %ld: the loss is %s; stopped (the last good checkpoint in %s is from "
                     "step %ld; try a lower --lr)", s + 1, isnan(loss) ? "NaN" : "infinite", a.out,
                     saved_step);
            FAIL("step %ld: the loss is %s; stopped before any checkpoint (try a lower --lr)",
                 s + 1, isnan(loss) ? "NaN" : "infinite");
        }
        const float lr = (float)assay_nn_schedule_lr(&sched, s);
        if (assay_bert_mlm_step(m, h, &opt, lr, 1.0, NULL, &err)) FAIL_ERR();
        const double dt = assay_now() - ts;
        train_tokens += step_tokens;
        if (isnan(first_loss)) first_loss = loss;
        last_loss = loss;
        if (s < start + (stop - start) / 4 + 1) head_sum += loss, head_n++;
        if (s >= stop - (stop - start) / 4 - 1) tail_sum += loss, tail_n++;
        if ((s + 1) % a.log_every == 0 || s + 1 == stop) {
            fprintf(lf, "%ld,%.7g,%.7g,%.1f\n", s + 1, loss, (double)lr, step_tokens / dt);
            fflush(lf); /* readable while training runs */
        }
        if ((s + 1) % a.save_every == 0 || s + 1 == stop) {
            if (checkpoint(a.out, m, h, &rng, record, &err)) FAIL_ERR();
            saved_step = s + 1;
        }
        char info[96];
        const double el = assay_now() - tr0;
        snprintf(info, sizeof info, "loss %.4f  %.0f tok/s", loss, el > 0 ? train_tokens / el : 0);
        assay_progress_update(&bar, (uint64_t)(s + 1), info);
    }
    assay_progress_end(&bar);
    const double seconds = assay_now() - tr0;
    const double tps = seconds > 0 ? train_tokens / seconds : 0;
    if (fclose(lf) != 0) {
        lf = NULL;
        FAIL("%s/loss.csv: %s", a.out, strerror(errno));
    }
    lf = NULL;

    json_t *metrics = json_pack("{s:I,s:I,s:o,s:o,s:f,s:f}", "steps", (json_int_t)s, "tokens",
                                (json_int_t)p.ntok, "loss_first", cli_json_num(first_loss),
                                "loss_last", cli_json_num(last_loss), "tokens_per_s", tps,
                                "seconds", seconds);
    char *ms = metrics ? json_dumps(metrics, JSON_COMPACT) : NULL;
    json_decref(metrics);
    assay_store *st = NULL;
    if (cli_store_open(&a.c, &st, &err))
        fprintf(stderr, "assay " CMD ": warning: run not recorded: %s\n", err.msg);
    cli_record_run(&a.c, st, CMD, record, 0, NULL, ms, 0, NULL);
    if (st) assay_store_close(st);
    free(ms);

    if (a.c.json) {
        json_t *doc = json_pack(
            "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I,s:o,s:o,s:o,s:o,s:f,s:f,s:f,s:I}",
            "command", CMD, "out", a.out, "documents", (json_int_t)k.ndocs, "tokens",
            (json_int_t)p.ntok, "sequences", (json_int_t)p.nseq, "start_step", (json_int_t)start,
            "steps", (json_int_t)s, "total_steps", (json_int_t)total, "vocab_size", V,
            "parameters", (json_int_t)(nparams + nhead), "loss_first", cli_json_num(first_loss),
            "loss_last", cli_json_num(last_loss), "loss_first_quarter",
            cli_json_num(head_n ? head_sum / head_n : NAN), "loss_last_quarter",
            cli_json_num(tail_n ? tail_sum / tail_n : NAN), "tokens_per_s", tps, "seconds",
            seconds, "data_seconds", t_data, "invalid_utf8", (json_int_t)k.invalid);
        if (doc) cli_print_json(doc);
        (void)t_vocab;
    } else {
        printf("steps %ld to %ld of %ld: loss %.4f -> %.4f, %.0f tokens/s, %.1f s (data and "
               "vocabulary %.1f s)\n",
               start, s, total, first_loss, last_loss, tps, seconds, t_data);
        printf("checkpoint: %s (config.json, vocab.txt, model.safetensors, " STATE_FILE
               ", loss.csv)\n", a.out);
    }
done:
    if (lf) fclose(lf);
    free(inp), free(lab), free(bids), free(bmask), free(perm), free(special);
    free(record);
    assay_free(saved);
    free(p.ids), free(p.len);
    assay_bert_work_free(w);
    assay_bert_mlm_free(h);
    assay_bert_free(m);
    assay_wordpiece_free(wp);
    corpus_deinit(&k);
    cli_common_deinit(&a.c);
    return status;
#undef FAIL
#undef FAIL_ERR
}
