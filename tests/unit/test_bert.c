/* test_bert.c - the BERT encoder (src/nn/bert.c, bert_io.c) against PyTorch, and its refusals.
 *
 * Parity (tests/parity/fixtures/bert_tiny, written by tests/parity/gen/gen_bert.py, a plain
 * PyTorch transcription of Hugging Face's BertForSequenceClassification computed in float64):
 * the checkpoint directory is loaded with assay_bert_load, the three texts are encoded with the
 * WordPiece tokenizer from the fixture's vocab.txt, and the last hidden states, pooled output,
 * mean-pooled embedding, logits, loss, every parameter gradient, the input-embedding gradient
 * and ten AdamW steps' losses are compared. Tolerances: activations 1e-5 and gradients 1e-4,
 * as max |c - ref| over a tensor / max |ref| of that tensor (for gradients at least 1e-3 of the
 * largest gradient, since the key biases' gradients are zero analytically and rounding noise
 * here), losses 1e-5 absolute. PyTorch's own float32 run lands at 3e-7 and 1.4e-5 (the script
 * prints it).
 *
 * Also: finite differences through dropout (fixed masks from a reseeded rng) and every head
 * (hidden, pooled, mean, logits); save/load round trip; names without "bert." and with
 * gamma/beta; refusals (missing and misshapen tensors, model_type, hidden_act, hidden/heads,
 * vocabulary without a special token, sequences longer than max_position_embeddings, bad ids);
 * every allocation of a load failed in turn. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assay/assay.h"
#include "check.h"
#include "fixture.h"
#include "gradcheck.h"

static char g_dir[] = "/tmp/assay-test-bert-XXXXXX";

static const char *fixture_dir(void) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/tests/parity/fixtures/bert_tiny", ASSAY_SOURCE_DIR);
    return p;
}

/* Floats of a JSON array into a malloc'ed buffer (n set). */
static float *jfloats(const json_t *a, int64_t *n) {
    *n = (int64_t)json_array_size(a);
    float *x = malloc((size_t)(*n ? *n : 1) * sizeof *x);
    for (int64_t i = 0; i < *n; i++) x[i] = (float)json_number_value(json_array_get(a, (size_t)i));
    return x;
}

static void jints(const json_t *a, int32_t *x) {
    for (size_t i = 0; i < json_array_size(a); i++)
        x[i] = (int32_t)json_integer_value(json_array_get(a, i));
}

/* max |c - ref| / max(max |ref|, floor) */
static double relerr(const float *c, const json_t *ref, int64_t n, double floor) {
    int64_t nr;
    float *r = jfloats(ref, &nr);
    double md = 0, mr = floor;
    if (nr != n) {
        free(r);
        return INFINITY;
    }
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)c[i] - r[i]));
        mr = fmax(mr, fabs((double)r[i]));
    }
    free(r);
    return md / mr;
}

/* ---- parity ------------------------------------------------------------------------------ */

static void test_parity(void) {
    json_t *ex = fixture("bert_tiny/expected.json");
    CHECK(ex != NULL);
    if (!ex) return;
    assay_error err = {0};
    assay_bert *m = NULL;
    CHECK_OK(assay_bert_load(fixture_dir(), 0, 1, &m, &err), &err);
    if (!m) {
        json_decref(ex);
        return;
    }
    const assay_bert_config *c = assay_bert_get_config(m);
    CHECK(c->vocab_size == 120 && c->hidden_size == 32 && c->num_hidden_layers == 2);
    CHECK(c->num_attention_heads == 4 && c->intermediate_size == 64 && c->num_labels == 3);
    CHECK(c->max_position_embeddings == 40 && c->type_vocab_size == 2);
    CHECK_NEAR(c->layer_norm_eps, 1e-12, 1e-18);
    CHECK_NEAR(c->hidden_dropout_prob, 0.1, 1e-7);

    const int B = (int)json_integer_value(json_object_get(ex, "B"));
    const int T = (int)json_integer_value(json_object_get(ex, "T"));
    const int D = c->hidden_size, K = c->num_labels, N = B * T;
    int32_t *ids = malloc(sizeof(int32_t) * N), *tt = malloc(sizeof(int32_t) * N);
    int32_t *mask = malloc(sizeof(int32_t) * N), labels[3];
    jints(json_object_get(ex, "ids"), ids);
    jints(json_object_get(ex, "type_ids"), tt);
    jints(json_object_get(ex, "mask"), mask);
    jints(json_object_get(ex, "labels"), labels);

    /* the tokenizer gives the fixture's ids */
    char vpath[1100];
    snprintf(vpath, sizeof vpath, "%s/vocab.txt", fixture_dir());
    assay_wordpiece *wp = NULL;
    CHECK_OK(assay_wordpiece_load(vpath, NULL, &wp, &err), &err);
    if (wp) {
        CHECK(assay_wordpiece_size(wp) == c->vocab_size);
        const json_t *texts = json_object_get(ex, "texts");
        for (int b = 0; b < B; b++) {
            const json_t *p = json_array_get(texts, (size_t)b);
            const json_t *tb = json_array_get(p, 1);
            assay_wp_encoding e;
            CHECK_OK(assay_wordpiece_encode(wp, json_string_value(json_array_get(p, 0)),
                                            json_is_string(tb) ? json_string_value(tb) : NULL, T,
                                            1, &e, &err),
                     &err);
            int same = e.n == T;
            for (int t = 0; same && t < T; t++)
                same = e.ids[t] == ids[b * T + t] && e.type_ids[t] == tt[b * T + t] &&
                       e.attention_mask[t] == mask[b * T + t];
            CHECK_MSG(same, "sequence %d: tokenizer ids differ from the fixture's", b);
            assay_wp_encoding_deinit(&e);
        }
        assay_wordpiece_free(wp);
    }

    assay_bert_work *w = NULL, *wi = NULL;
    CHECK_OK(assay_bert_work_new(m, B, T, 1, &w, &err), &err);
    CHECK_OK(assay_bert_work_new(m, B, T, 0, &wi, &err), &err);
    assay_bert_out o, oi;
    CHECK_OK(assay_bert_forward(m, w, ids, tt, mask, 0, NULL, &o, &err), &err);
    CHECK_OK(assay_bert_forward(m, wi, ids, tt, mask, 0, NULL, &oi, &err), &err);
    struct {
        const char *key;
        const float *c;
        int64_t n;
    } acts[] = {{"hidden", o.hidden, (int64_t)N * D},
                {"pooled", o.pooled, (int64_t)B * D},
                {"mean", o.mean, (int64_t)B * D},
                {"logits", o.logits, (int64_t)B * K}};
    for (int i = 0; i < 4; i++) {
        double e = relerr(acts[i].c, json_object_get(ex, acts[i].key), acts[i].n, 0);
        printf("  parity %-8s max |diff| / max |ref| = %.3g (tol 1e-5)\n", acts[i].key, e);
        CHECK_MSG(e < 1e-5, "%s: %.3g", acts[i].key, e);
    }
    /* an inference work (one score matrix per thread, layers in place) gives the same bits */
    CHECK(memcmp(o.hidden, oi.hidden, sizeof(float) * N * D) == 0);
    CHECK(memcmp(o.logits, oi.logits, sizeof(float) * B * K) == 0);
    CHECK(memcmp(o.mean, oi.mean, sizeof(float) * B * D) == 0);

    /* loss and gradients */
    double loss = 0;
    CHECK_OK(assay_bert_zero_grad(m, &err), &err);
    CHECK_OK(assay_bert_cls_backward(m, w, labels, &loss, &err), &err);
    const double ref_loss = json_number_value(json_object_get(ex, "loss"));
    printf("  parity loss %.9f vs %.9f\n", loss, ref_loss);
    CHECK_NEAR(loss, ref_loss, 1e-5);
    const json_t *grads = json_object_get(ex, "grads");
    CHECK((int)json_object_size(grads) == assay_bert_tensor_count(m));
    double gmax = 0;
    const char *gname;
    json_t *gval;
    json_object_foreach((json_t *)grads, gname, gval) {
        for (size_t i = 0; i < json_array_size(gval); i++)
            gmax = fmax(gmax, fabs(json_number_value(json_array_get(gval, i))));
    }
    float *G = assay_bert_grads(m, NULL);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < assay_bert_tensor_count(m); i++) {
        const assay_bert_tensor *t = assay_bert_tensor_at(m, i);
        const json_t *ref = json_object_get(grads, t->name);
        CHECK_MSG(ref != NULL, "no reference gradient for %s", t->name);
        if (!ref) continue;
        double e = relerr(G + t->offset, ref, t->numel, 1e-3 * gmax);
        CHECK_MSG(e < 1e-4, "gradient of %s: %.3g", t->name, e);
        if (e > worst) worst = e, worst_name = t->name;
    }
    printf("  parity gradients (%d tensors): worst %.3g in %s (tol 1e-4)\n",
           assay_bert_tensor_count(m), worst, worst_name);
    double ee = relerr(assay_bert_work_dembed(w), json_object_get(ex, "d_inputs_embeds"),
                       (int64_t)N * D, 0);
    printf("  parity d inputs_embeds %.3g (tol 1e-4)\n", ee);
    CHECK(ee < 1e-4);

    /* ten AdamW steps on the same batch */
    const json_t *aw = json_object_get(ex, "adamw");
    const json_t *losses = json_object_get(aw, "losses");
    assay_nn_optim opt;
    assay_nn_optim_defaults(&opt, ASSAY_NN_ADAMW);
    opt.weight_decay = (float)json_number_value(json_object_get(aw, "weight_decay"));
    const float lr = (float)json_number_value(json_object_get(aw, "lr"));
    double wl = 0;
    for (size_t s = 0; s < json_array_size(losses); s++) {
        CHECK_OK(assay_bert_zero_grad(m, &err), &err);
        CHECK_OK(assay_bert_forward(m, w, ids, tt, mask, 0, NULL, NULL, &err), &err);
        CHECK_OK(assay_bert_cls_backward(m, w, labels, &loss, &err), &err);
        wl = fmax(wl, fabs(loss - json_number_value(json_array_get(losses, s))));
        CHECK_OK(assay_bert_step(m, &opt, lr, &err), &err);
    }
    CHECK_OK(assay_bert_forward(m, w, ids, tt, mask, 0, NULL, &o, &err), &err);
    double fl = assay_nn_softmax_xent(NULL, o.logits, labels, NULL, B, K, 0);
    wl = fmax(wl, fabs(fl - json_number_value(json_object_get(aw, "final_loss"))));
    printf("  parity AdamW: 10 steps' losses, largest |diff| %.3g (final %.6f; tol 1e-5)\n", wl, fl);
    CHECK(wl < 1e-5);

    assay_bert_work_free(w);
    assay_bert_work_free(wi);
    assay_bert_free(m);
    free(ids), free(tt), free(mask);
    json_decref(ex);
}

/* ---- finite differences with dropout and every head -------------------------------------- */

typedef struct gc_ctx {
    assay_bert *m;
    assay_bert_work *w;
    int32_t ids[10], tt[10], mask[10], labels[2];
    float *rh, *rp, *rm; /* projections of hidden, pooled, mean */
    float dlogits[6];
    int B, T, D, K;
} gc_ctx;

static double gc_loss(void *p) {
    gc_ctx *g = p;
    assay_rng rng;
    assay_rng_seed(&rng, 99); /* the same dropout masks every time */
    assay_bert_out o;
    assay_error err;
    if (assay_bert_forward(g->m, g->w, g->ids, g->tt, g->mask, 1, &rng, &o, &err)) return NAN;
    const int N = g->B * g->T;
    double l = assay_nn_softmax_xent(g->dlogits, o.logits, g->labels, NULL, g->B, g->K, 0);
    return l + gc_dot(o.hidden, g->rh, (int64_t)N * g->D) + gc_dot(o.pooled, g->rp, g->B * g->D) +
           gc_dot(o.mean, g->rm, g->B * g->D);
}

static void test_gradcheck(void) {
    assay_bert_config c;
    assay_bert_config_defaults(&c);
    c.vocab_size = 11, c.hidden_size = 8, c.num_hidden_layers = 2, c.num_attention_heads = 2;
    c.intermediate_size = 12, c.max_position_embeddings = 6, c.type_vocab_size = 2;
    c.num_labels = 3, c.layer_norm_eps = 1e-5f;
    c.hidden_dropout_prob = 0.2f, c.attention_probs_dropout_prob = 0.2f, c.classifier_dropout = 0.3f;
    gc_ctx g = {.B = 2, .T = 5, .D = 8, .K = 3};
    assay_error err;
    CHECK_OK(assay_bert_new(&c, 7, &g.m, &err), &err);
    if (!g.m) return;
    assay_rng rng;
    assay_rng_seed(&rng, 5);
    int64_t np;
    float *P = assay_bert_params(g.m, &np);
    for (int64_t i = 0; i < np; i++) P[i] = (float)(0.4 * assay_rng_normal(&rng)); /* larger */
    const int32_t ids[10] = {2, 5, 7, 3, 0, 2, 9, 10, 4, 3};
    const int32_t tt[10] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    const int32_t mask[10] = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    memcpy(g.ids, ids, sizeof ids), memcpy(g.tt, tt, sizeof tt), memcpy(g.mask, mask, sizeof mask);
    g.labels[0] = 2, g.labels[1] = 0;
    const int N = g.B * g.T;
    g.rh = malloc(sizeof(float) * N * g.D);
    g.rp = malloc(sizeof(float) * g.B * g.D);
    g.rm = malloc(sizeof(float) * g.B * g.D);
    for (int i = 0; i < N * g.D; i++) g.rh[i] = (float)(0.1 * assay_rng_normal(&rng));
    for (int i = 0; i < g.B * g.D; i++) g.rp[i] = (float)(0.3 * assay_rng_normal(&rng));
    for (int i = 0; i < g.B * g.D; i++) g.rm[i] = (float)(0.3 * assay_rng_normal(&rng));
    CHECK_OK(assay_bert_work_new(g.m, g.B, g.T, 1, &g.w, &err), &err);
    if (g.w) {
        gc_loss(&g);
        CHECK_OK(assay_bert_zero_grad(g.m, &err), &err);
        CHECK_OK(assay_bert_backward(g.m, g.w, g.rh, g.rp, g.rm, g.dlogits, &err), &err);
        float *G = assay_bert_grads(g.m, NULL);
        /* float32 forward: h 1e-2, tolerance 2e-2 (gradcheck.h) */
        gc_check("bert params (dropout on)", P, G, np, gc_loss, &g, 1e-2, 2e-2, 600, 1e-3);
        assay_bert_work_free(g.w);
    }
    /* training forward refuses an inference work and a missing rng */
    assay_bert_work *wi = NULL;
    CHECK_OK(assay_bert_work_new(g.m, g.B, g.T, 0, &wi, &err), &err);
    CHECK(assay_bert_forward(g.m, wi, ids, tt, mask, 1, &rng, NULL, &err) == ASSAY_EINVAL);
    assay_bert_work_free(wi);
    free(g.rh), free(g.rp), free(g.rm);
    assay_bert_free(g.m);
}

/* ---- files ------------------------------------------------------------------------------- */

/* A copy of the fixture directory at DIR with model.safetensors rewritten: tensor `drop` left
 * out, tensor `bad` given a wrong shape, names stripped of "bert." and LayerNorm weight/bias
 * called gamma/beta (rename). */
static void write_variant(const char *dir, const char *drop, const char *bad, int rename) {
    assay_error err;
    assay_bert *m = NULL;
    CHECK_OK(assay_bert_load(fixture_dir(), 0, 1, &m, &err), &err);
    if (!m) return;
    CHECK_OK(assay_bert_save(m, dir, &err), &err);
    assay_mfile_writer *wr = assay_mfile_writer_new();
    const float *P = assay_bert_params(m, NULL);
    for (int i = 0; i < assay_bert_tensor_count(m); i++) {
        const assay_bert_tensor *t = assay_bert_tensor_at(m, i);
        if (drop && strcmp(t->name, drop) == 0) continue;
        char name[128];
        snprintf(name, sizeof name, "%s", rename && !strncmp(t->name, "bert.", 5) ? t->name + 5 : t->name);
        char *ln = strstr(name, "LayerNorm.");
        if (rename && ln) strcpy(ln + 10, strcmp(ln + 10, "weight") == 0 ? "gamma" : "beta");
        int64_t shape[2] = {t->shape[0], t->shape[1]};
        if (bad && strcmp(t->name, bad) == 0) shape[1] /= 2;
        CHECK_OK(assay_mfile_writer_add(wr, name, ASSAY_F32, t->ndim, shape, P + t->offset, &err),
                 &err);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(assay_mfile_writer_save(wr, path, &err), &err);
    assay_mfile_writer_free(wr);
    assay_bert_free(m);
}

static void test_files(void) {
    assay_error err;
    assay_bert *a = NULL, *b = NULL;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/saved", g_dir);
    CHECK_OK(assay_bert_load(fixture_dir(), 0, 1, &a, &err), &err);
    if (!a) return;
    CHECK_OK(assay_bert_save(a, dir, &err), &err);
    CHECK_OK(assay_bert_load(dir, 0, 1, &b, &err), &err);
    if (b) {
        int64_t na, nb;
        const float *pa = assay_bert_params(a, &na), *pb = assay_bert_params(b, &nb);
        CHECK(na == nb && memcmp(pa, pb, sizeof(float) * na) == 0);
        CHECK(assay_bert_get_config(b)->num_labels == 3);
        CHECK_NEAR(assay_bert_get_config(b)->layer_norm_eps, 1e-12, 1e-18);
        CHECK(assay_bert_tensor_find(b, "encoder.layer.1.attention.self.key.bias") != NULL);
        CHECK(assay_bert_tensor_find(b, "classifier.weight")->shape[0] == 3);
        assay_bert_free(b);
        b = NULL;
    }
    /* no head, a fresh head of another size (refused: the checkpoint's head is 3 wide) */
    CHECK_OK(assay_bert_load(fixture_dir(), -1, 1, &b, &err), &err);
    if (b) CHECK(assay_bert_get_config(b)->num_labels == 0 && !assay_bert_tensor_find(b, "classifier.bias"));
    assay_bert_free(b);
    b = NULL;
    CHECK(assay_bert_load(fixture_dir(), 5, 1, &b, &err) == ASSAY_EFORMAT);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "classifier.weight") && strstr(err.msg, "[3, 32]") && strstr(err.msg, "[5, 32]"));

    /* names without "bert." and with gamma/beta */
    snprintf(dir, sizeof dir, "%s/renamed", g_dir);
    write_variant(dir, NULL, NULL, 1);
    CHECK_OK(assay_bert_load(dir, 0, 1, &b, &err), &err);
    if (b) {
        int64_t na;
        const float *pa = assay_bert_params(a, &na);
        CHECK(memcmp(pa, assay_bert_params(b, NULL), sizeof(float) * na) == 0);
        assay_bert_free(b);
        b = NULL;
    }
    /* a checkpoint without a head: none by default, a fresh one (from seed) when asked */
    snprintf(dir, sizeof dir, "%s/headless", g_dir);
    write_variant(dir, "classifier.weight", NULL, 0);
    CHECK_OK(assay_bert_load(dir, 0, 1, &b, &err), &err);
    if (b) CHECK(assay_bert_get_config(b)->num_labels == 0);
    assay_bert_free(b);
    b = NULL;
    CHECK_OK(assay_bert_load(dir, 3, 1, &b, &err), &err); /* the bias is the file's */
    if (b) {
        const assay_bert_tensor *t = assay_bert_tensor_find(b, "classifier.weight");
        CHECK(t && t->shape[0] == 3 && assay_bert_params(b, NULL)[t->offset] != 0);
    }
    assay_bert_free(b);
    b = NULL;

    snprintf(dir, sizeof dir, "%s/missing", g_dir);
    write_variant(dir, "bert.encoder.layer.1.output.dense.bias", NULL, 0);
    CHECK(assay_bert_load(dir, 0, 1, &b, &err) == ASSAY_EFORMAT && !b);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "missing tensor 'bert.encoder.layer.1.output.dense.bias'") != NULL);

    snprintf(dir, sizeof dir, "%s/misshapen", g_dir);
    write_variant(dir, NULL, "bert.encoder.layer.0.attention.self.query.weight", 0);
    CHECK(assay_bert_load(dir, 0, 1, &b, &err) == ASSAY_EFORMAT && !b);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "layer.0.attention.self.query.weight") && strstr(err.msg, "[32, 16]") &&
          strstr(err.msg, "[32, 32]"));

    /* every allocation of a load failed in turn: a clean error, no leak */
    int k;
    for (k = 1; k < 100000; k++) {
        assay_alloc_fail_after((uint64_t)k);
        int rc = assay_bert_load(fixture_dir(), 0, 1, &b, &err);
        assay_alloc_fail_after(0);
        if (rc == ASSAY_OK) break;
        CHECK_MSG(rc == ASSAY_ENOMEM && !b, "allocation %d: rc %d: %s", k, rc, err.msg);
    }
    CHECK(b != NULL);
    printf("  load survives each of its %d allocations failing\n", k - 1);
    assay_bert_free(b);
    assay_bert_free(a);
}

static void test_refusals(void) {
    assay_error err;
    assay_bert_config c;
    const char *roberta = "{\"model_type\": \"roberta\", \"hidden_size\": 32}";
    CHECK(assay_bert_config_parse(roberta, strlen(roberta), "config.json", &c, &err) == ASSAY_ENOTSUP);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "roberta") != NULL);
    const char *none = "{\"hidden_size\": 32}";
    CHECK(assay_bert_config_parse(none, strlen(none), "config.json", &c, &err) == ASSAY_EPARSE);
    CHECK(strstr(err.msg, "model_type") != NULL);
    const char *act = "{\"model_type\": \"bert\", \"hidden_act\": \"gelu_new\"}";
    CHECK(assay_bert_config_parse(act, strlen(act), "config.json", &c, &err) == ASSAY_ENOTSUP);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "gelu_new") != NULL);
    const char *heads = "{\"model_type\": \"bert\", \"hidden_size\": 30, \"num_attention_heads\": 4}";
    CHECK(assay_bert_config_parse(heads, strlen(heads), "config.json", &c, &err) == ASSAY_EINVAL);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "multiple") && strstr(err.msg, "30"));
    const char *type = "{\"model_type\": \"bert\", \"hidden_size\": \"32\"}";
    CHECK(assay_bert_config_parse(type, strlen(type), "config.json", &c, &err) == ASSAY_EPARSE);
    CHECK(strstr(err.msg, "hidden_size") != NULL);
    const char *ok = "{\"model_type\": \"bert\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
                     "\"classifier_dropout\": null, \"hidden_dropout_prob\": 0.2}";
    CHECK_OK(assay_bert_config_parse(ok, strlen(ok), "config.json", &c, &err), &err);
    CHECK(c.hidden_size == 64 && c.num_labels == 0 && c.vocab_size == 30522);
    CHECK_NEAR(c.classifier_dropout, 0.2, 1e-7);

    /* a vocabulary without [MASK] (the tokenizer refuses it) */
    const char *vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n";
    assay_wordpiece *wp = NULL;
    CHECK(assay_wordpiece_load_buffer(vocab, strlen(vocab), "vocab.txt", NULL, &wp, &err) != ASSAY_OK);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "[MASK]") != NULL && !wp);

    /* sequences longer than max_position_embeddings: refused by the work, truncated (and
     * counted) by the encoder */
    assay_bert *m = NULL;
    CHECK_OK(assay_bert_load(fixture_dir(), 0, 1, &m, &err), &err);
    if (!m) return;
    assay_bert_work *w = NULL;
    CHECK(assay_bert_work_new(m, 1, 41, 0, &w, &err) == ASSAY_EINVAL && !w);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "max_position_embeddings 40") != NULL);
    char path[1100];
    snprintf(path, sizeof path, "%s/vocab.txt", fixture_dir());
    CHECK_OK(assay_wordpiece_load(path, NULL, &wp, &err), &err);
    if (wp) {
        char text[4096] = "";
        for (int i = 0; i < 50; i++) strcat(text, "ban ker ");
        assay_wp_encoding e;
        CHECK_OK(assay_wordpiece_encode(wp, text, NULL, 40, 0, &e, &err), &err);
        CHECK(e.n == 40 && e.truncated == 62);
        assay_wp_encoding_deinit(&e);
        assay_wordpiece_free(wp);
    }
    /* ids, token types and mask values outside their ranges */
    CHECK_OK(assay_bert_work_new(m, 1, 4, 0, &w, &err), &err);
    int32_t ids[4] = {2, 7, 120, 3}, tt[4] = {0, 0, 2, 0}, mask[4] = {1, 1, 2, 1};
    CHECK(assay_bert_forward(m, w, ids, NULL, NULL, 0, NULL, NULL, &err) == ASSAY_EINVAL);
    printf("  refusal: %s\n", err.msg);
    CHECK(strstr(err.msg, "token 2") && strstr(err.msg, "120"));
    ids[2] = 9;
    CHECK(assay_bert_forward(m, w, ids, tt, NULL, 0, NULL, NULL, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "token type 2") != NULL);
    CHECK(assay_bert_forward(m, w, ids, NULL, mask, 0, NULL, NULL, &err) == ASSAY_EINVAL);
    CHECK(strstr(err.msg, "mask 2") != NULL);
    assay_bert_out o;
    CHECK_OK(assay_bert_forward(m, w, ids, NULL, NULL, 0, NULL, &o, &err), &err);
    CHECK(o.logits != NULL && isfinite(o.logits[0]));
    assay_bert_work_free(w);
    assay_bert_free(m);
}

int main(void) {
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_parity);
    RUN(test_gradcheck);
    RUN(test_files);
    RUN(test_refusals);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_summary();
}
