/* test_bert_mlm.c - masked-LM pretraining (src/nn/bert_mlm.c): BERT's masking proportions and
 * its determinism, finite differences of the masked-LM loss through the head and the whole
 * encoder (dropout on, masks fixed by a reseeded rng), the tied decoder's gradient reaching the
 * word embeddings (rows of tokens that are only predicted, never input), gradient scaling,
 * clipping, checkpoint and training-state round trips, and that resuming from a checkpoint gives
 * the same bits as training straight through. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "assay/assay.h"
#include "assay/bert_mlm.h"
#include "check.h"
#include "gradcheck.h"

/* ---- masking ------------------------------------------------------------------------------ */

static void test_mask(void) {
    enum { V = 1000, n = 200000, MASK = 4 };
    uint8_t special[V] = {0};
    for (int i = 0; i < 5; i++) special[i] = 1;
    int32_t *ids = malloc(n * sizeof *ids), *in = malloc(n * sizeof *in), *lab = malloc(n * sizeof *lab);
    int32_t *in2 = malloc(n * sizeof *in2), *lab2 = malloc(n * sizeof *lab2);
    assay_rng r;
    assay_rng_seed(&r, 1);
    int64_t nspec = 0;
    for (int i = 0; i < n; i++) {
        ids[i] = i % 10 == 0 ? (int32_t)(i / 10 % 5) : 5 + (int32_t)assay_rng_below(&r, V - 5);
        nspec += special[ids[i]];
    }
    assay_rng_seed(&r, 7);
    const int64_t sel = assay_bert_mlm_mask(in, lab, ids, n, special, V, MASK, 0.15f, &r);
    int64_t nsel = 0, nmask = 0, nrand = 0, nkeep = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        if (lab[i] < 0) {
            bad += lab[i] != -100 || in[i] != ids[i];
            continue;
        }
        nsel++;
        bad += special[ids[i]] || lab[i] != ids[i];
        if (in[i] == MASK) nmask++;
        else if (in[i] == ids[i]) nkeep++;
        else nrand++, bad += special[in[i]];
    }
    const double cand = (double)(n - nspec);
    printf("  selected %.4f of %lld candidates; [MASK] %.4f, random %.4f, kept %.4f\n",
           nsel / cand, (long long)(n - nspec), (double)nmask / nsel, (double)nrand / nsel,
           (double)nkeep / nsel);
    CHECK(sel == nsel);
    CHECK(bad == 0); /* specials never selected nor drawn; labels are the original ids */
    /* binomial standard deviations: 0.0008 for the selection, 0.0023 / 0.0017 for the splits */
    CHECK_NEAR(nsel / cand, 0.15, 0.004);
    CHECK_NEAR((double)nmask / nsel, 0.8, 0.01);
    CHECK_NEAR((double)nrand / nsel, 0.1, 0.008);
    CHECK_NEAR((double)nkeep / nsel, 0.1, 0.008);
    /* the same seed, the same masks; another seed, others */
    assay_rng_seed(&r, 7);
    assay_bert_mlm_mask(in2, lab2, ids, n, special, V, MASK, 0.15f, &r);
    CHECK(memcmp(in, in2, n * sizeof *in) == 0 && memcmp(lab, lab2, n * sizeof *lab) == 0);
    assay_rng_seed(&r, 8);
    assay_bert_mlm_mask(in2, lab2, ids, n, special, V, MASK, 0.15f, &r);
    CHECK(memcmp(lab, lab2, n * sizeof *lab) != 0);
    /* prob 1 selects every non-special token; only specials: nothing */
    assay_bert_mlm_mask(in2, lab2, ids, 100, special, V, MASK, 1.0f, &r);
    int all = 1;
    for (int i = 0; i < 100; i++) all &= (lab2[i] >= 0) == !special[ids[i]];
    CHECK(all);
    const int32_t sp[3] = {0, 2, 3};
    CHECK(assay_bert_mlm_mask(in2, lab2, sp, 3, special, V, MASK, 1.0f, &r) == 0);
    free(ids), free(in), free(lab), free(in2), free(lab2);
}

/* ---- gradients ---------------------------------------------------------------------------- */

enum { B = 2, T = 5, N = B * T };

typedef struct ctx {
    assay_bert *m;
    assay_bert_mlm *h;
    assay_bert_work *w;
    int32_t ids[N], mask[N], lab[N];
} ctx;

static double loss_fn(void *p) {
    ctx *g = p;
    assay_rng rng;
    assay_rng_seed(&rng, 99); /* the same dropout masks every time */
    assay_error err;
    double l = NAN;
    if (assay_bert_forward(g->m, g->w, g->ids, NULL, g->mask, 1, &rng, NULL, &err) ||
        assay_bert_mlm_loss(g->m, g->h, g->w, g->lab, N, 0, 1.0f, &l, NULL, &err))
        fprintf(stderr, "loss_fn: %s\n", err.msg);
    return l;
}

static void tiny(ctx *g, float dropout) {
    assay_bert_config c;
    assay_bert_config_defaults(&c);
    c.vocab_size = 13, c.hidden_size = 8, c.num_hidden_layers = 2, c.num_attention_heads = 2;
    c.intermediate_size = 12, c.max_position_embeddings = 6, c.layer_norm_eps = 1e-5f;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = dropout;
    assay_error err;
    CHECK_OK(assay_bert_new(&c, 3, &g->m, &err), &err);
    CHECK_OK(assay_bert_mlm_new(g->m, 3, &g->h, &err), &err);
    CHECK_OK(assay_bert_work_new(g->m, B, T, 1, &g->w, &err), &err);
    /* larger weights than BERT's 0.02, so every path matters */
    assay_rng rng;
    assay_rng_seed(&rng, 5);
    int64_t np, nh;
    float *P = assay_bert_params(g->m, &np), *H = assay_bert_mlm_params(g->h, &nh);
    for (int64_t i = 0; i < np; i++) P[i] = (float)(0.4 * assay_rng_normal(&rng));
    for (int64_t i = 0; i < nh; i++) H[i] += (float)(0.3 * assay_rng_normal(&rng));
    /* inputs use ids 0..9 only; labels include 11 and 12, which are never an input */
    const int32_t ids[N] = {2, 5, 7, 3, 0, 2, 9, 4, 4, 3};
    const int32_t mask[N] = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    const int32_t lab[N] = {-100, 11, -100, 3, -100, -100, 12, -100, 8, -100};
    memcpy(g->ids, ids, sizeof ids), memcpy(g->mask, mask, sizeof mask), memcpy(g->lab, lab, sizeof lab);
}

static void untiny(ctx *g) {
    assay_bert_work_free(g->w);
    assay_bert_mlm_free(g->h);
    assay_bert_free(g->m);
}

static void test_gradcheck(void) {
    ctx g = {0};
    tiny(&g, 0.1f);
    if (!g.w) return untiny(&g);
    assay_error err;
    CHECK_OK(assay_bert_mlm_zero_grad(g.m, g.h, &err), &err);
    assay_rng rng;
    assay_rng_seed(&rng, 99);
    double l = 0;
    int64_t cnt = 0;
    CHECK_OK(assay_bert_forward(g.m, g.w, g.ids, NULL, g.mask, 1, &rng, NULL, &err), &err);
    CHECK_OK(assay_bert_mlm_loss(g.m, g.h, g.w, g.lab, N, 1, 1.0f, &l, &cnt, &err), &err);
    CHECK(cnt == 4);
    CHECK(isfinite(l) && l > 0);
    int64_t np, nh;
    float *P = assay_bert_params(g.m, &np), *G = assay_bert_grads(g.m, NULL);
    float *H = assay_bert_mlm_params(g.h, &nh), *HG = assay_bert_mlm_grads(g.h, NULL);
    /* float32 forward: h 1e-2, tolerance 2e-2 (gradcheck.h) */
    gc_check("mlm head", H, HG, nh, loss_fn, &g, 1e-2, 2e-2, 400, 1e-3);
    gc_check("encoder through the head", P, G, np, loss_fn, &g, 1e-2, 2e-2, 600, 1e-3);
    /* the tied decoder: rows 11 and 12 of the word embeddings are never an input, so their
     * whole gradient comes from the decoder */
    const assay_bert_tensor *we = assay_bert_tensor_find(g.m, "bert.embeddings.word_embeddings.weight");
    double nrm = 0;
    for (int i = 11 * 8; i < 13 * 8; i++) nrm += fabs(G[we->offset + i]);
    CHECK(nrm > 1e-3);
    gc_check("tied rows 11-12 (decoder only)", P + we->offset + 11 * 8, G + we->offset + 11 * 8,
             16, loss_fn, &g, 1e-2, 2e-2, 16, 1e-3);
    gc_check("word embeddings (input + decoder)", P + we->offset, G + we->offset, 13 * 8, loss_fn,
             &g, 1e-2, 2e-2, 104, 1e-3);
    /* scale multiplies every gradient; backward adds */
    float *G1 = malloc(np * sizeof *G1), *H1 = malloc(nh * sizeof *H1);
    memcpy(G1, G, np * sizeof *G1), memcpy(H1, HG, nh * sizeof *H1);
    CHECK_OK(assay_bert_mlm_zero_grad(g.m, g.h, &err), &err);
    assay_rng_seed(&rng, 99);
    CHECK_OK(assay_bert_forward(g.m, g.w, g.ids, NULL, g.mask, 1, &rng, NULL, &err), &err);
    CHECK_OK(assay_bert_mlm_loss(g.m, g.h, g.w, g.lab, N, 1, 0.5f, &l, NULL, &err), &err);
    double md = 0;
    for (int64_t i = 0; i < np; i++) md = fmax(md, fabs(G[i] - 0.5 * G1[i]));
    for (int64_t i = 0; i < nh; i++) md = fmax(md, fabs(HG[i] - 0.5 * H1[i]));
    CHECK_MSG(md < 1e-6, "scale 0.5: %g", md);
    /* clipping: the norm after a clipped step's scaling is max_norm */
    double norm = 0;
    assay_nn_optim o;
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAMW);
    CHECK_OK(assay_bert_mlm_step(g.m, g.h, &o, 0.0f, 1e-3, &norm, &err), &err);
    CHECK(norm > 1e-3);
    const double after = sqrt(pow(assay_nn_grad_norm(G, np), 2) + pow(assay_nn_grad_norm(HG, nh), 2));
    CHECK_NEAR(after, 1e-3, 1e-6);
    CHECK(assay_bert_mlm_steps(g.h) == 1);
    /* no label selected: loss 0, no gradient; a label outside the vocabulary is refused */
    int32_t none[N], badl[N];
    for (int i = 0; i < N; i++) none[i] = -100, badl[i] = -100;
    badl[3] = 13;
    CHECK_OK(assay_bert_mlm_loss(g.m, g.h, g.w, none, N, 1, 1.0f, &l, &cnt, &err), &err);
    CHECK(cnt == 0 && l == 0);
    CHECK(assay_bert_mlm_loss(g.m, g.h, g.w, badl, N, 1, 1.0f, &l, &cnt, &err) == ASSAY_EINVAL);
    free(G1), free(H1);
    untiny(&g);
}

/* ---- training, checkpoints, resume -------------------------------------------------------- */

static char g_dir[] = "/tmp/assay-test-bert-mlm-XXXXXX";

/* steps AdamW steps on masks drawn from rng */
static void train(ctx *g, assay_rng *rng, int steps, double *first, double *last) {
    assay_error err;
    assay_nn_optim o;
    assay_nn_optim_defaults(&o, ASSAY_NN_ADAMW);
    uint8_t special[13] = {1, 1, 1, 1, 1};
    int32_t ids[N], in[N], lab[N];
    for (int i = 0; i < N; i++) ids[i] = 5 + i % 8; /* a fixed pattern to learn */
    for (int s = 0; s < steps; s++) {
        CHECK_OK(assay_bert_mlm_zero_grad(g->m, g->h, &err), &err);
        assay_bert_mlm_mask(in, lab, ids, N, special, 13, 4, 0.3f, rng);
        double l = 0;
        CHECK_OK(assay_bert_forward(g->m, g->w, in, NULL, NULL, 1, rng, NULL, &err), &err);
        CHECK_OK(assay_bert_mlm_loss(g->m, g->h, g->w, lab, N, 1, 1.0f, &l, NULL, &err), &err);
        CHECK_OK(assay_bert_mlm_step(g->m, g->h, &o, 1e-2f, 1.0, NULL, &err), &err);
        if (s == 0 && first) *first = l;
        if (last) *last = l;
    }
}

static void test_resume(void) {
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        CHECK(0);
        return;
    }
    assay_error err;
    ctx a = {0}, b = {0};
    tiny(&a, 0.1f);
    if (!a.w) return untiny(&a);
    /* a straight run of 60 steps learns the pattern */
    assay_rng ra;
    assay_rng_seed(&ra, 11);
    double first = 0, last = 0;
    train(&a, &ra, 60, &first, &last);
    printf("  loss %.4f -> %.4f over 60 steps\n", first, last);
    CHECK(last < 0.7 * first);
    /* the same from scratch, interrupted after 25 steps, saved, loaded, continued */
    assay_bert_work_free(a.w), assay_bert_mlm_free(a.h), assay_bert_free(a.m);
    ctx s = {0};
    tiny(&s, 0.1f);
    assay_rng rs;
    assay_rng_seed(&rs, 11);
    train(&s, &rs, 25, NULL, NULL);
    char state[600];
    snprintf(state, sizeof state, "%s/state.safetensors", g_dir);
    CHECK_OK(assay_bert_mlm_save(s.m, s.h, g_dir, &err), &err);
    CHECK_OK(assay_bert_mlm_state_save(s.h, &rs, "{\"x\":1}", state, &err), &err);
    char cmd[700];
    long steps = 0;
    CHECK_OK(assay_bert_mlm_load(g_dir, 0, &b.m, &b.h, &steps, &err), &err);
    CHECK(steps == 25);
    assay_rng rb;
    char *tj = NULL;
    if (b.h) CHECK_OK(assay_bert_mlm_state_load(b.h, &rb, &tj, state, &err), &err);
    CHECK(tj && strcmp(tj, "{\"x\":1}") == 0);
    assay_free(tj);
    CHECK(memcmp(&rb, &rs, sizeof rb) == 0);
    if (b.m && b.h) {
        int64_t np, nh;
        assay_bert_params(b.m, &np);
        assay_bert_mlm_params(b.h, &nh);
        CHECK(memcmp(assay_bert_params(b.m, NULL), assay_bert_params(s.m, NULL), np * 4) == 0);
        CHECK(memcmp(assay_bert_mlm_params(b.h, NULL), assay_bert_mlm_params(s.h, NULL), nh * 4) == 0);
        CHECK_OK(assay_bert_work_new(b.m, B, T, 1, &b.w, &err), &err);
        train(&b, &rb, 35, NULL, NULL);
        /* rerun the straight 60 to compare with */
        ctx c = {0};
        tiny(&c, 0.1f);
        assay_rng rc;
        assay_rng_seed(&rc, 11);
        train(&c, &rc, 60, NULL, NULL);
        CHECK(memcmp(assay_bert_params(b.m, NULL), assay_bert_params(c.m, NULL), np * 4) == 0);
        CHECK(memcmp(assay_bert_mlm_params(b.h, NULL), assay_bert_mlm_params(c.h, NULL), nh * 4) == 0);
        CHECK(assay_bert_mlm_steps(b.h) == 60);
        untiny(&c);
    }
    /* the same checkpoint as Hugging Face writes it (no assay metadata): the head is loaded,
     * not started afresh, and the step count is unknown; restart forgets the optimizer */
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/model.safetensors", g_dir);
    snprintf(dst, sizeof dst, "%s/hf", g_dir);
    CHECK(mkdir(dst, 0777) == 0);
    FILE *f = fopen(src, "rb");
    static char buf[1 << 20];
    const size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    uint64_t hl = 0;
    memcpy(&hl, buf, 8);
    CHECK(n > 8 && n < sizeof buf && hl < n - 8);
    json_t *hj = json_loadb(buf + 8, (size_t)hl, 0, NULL);
    CHECK(hj && json_object_del(hj, "__metadata__") == 0);
    char *hs = hj ? json_dumps(hj, JSON_COMPACT) : NULL;
    json_decref(hj);
    snprintf(dst, sizeof dst, "%s/hf/model.safetensors", g_dir);
    f = hs ? fopen(dst, "wb") : NULL;
    if (f) {
        const uint64_t nl = strlen(hs), padded = (nl + 7) / 8 * 8; /* spaces, as safetensors pads */
        fwrite(&padded, 8, 1, f), fwrite(hs, 1, nl, f);
        for (uint64_t i = nl; i < padded; i++) fputc(' ', f);
        fwrite(buf + 8 + hl, 1, n - 8 - hl, f);
        fclose(f);
    }
    free(hs);
    snprintf(cmd, sizeof cmd, "cp '%s/config.json' '%s/hf/'", g_dir, g_dir);
    CHECK(system(cmd) == 0);
    snprintf(dst, sizeof dst, "%s/hf", g_dir);
    ctx hf = {0};
    CHECK_OK(assay_bert_mlm_load(dst, 99, &hf.m, &hf.h, &steps, &err), &err);
    CHECK(steps == -1);
    if (hf.h && s.h) {
        int64_t nh;
        assay_bert_mlm_params(s.h, &nh);
        CHECK(memcmp(assay_bert_mlm_params(hf.h, NULL), assay_bert_mlm_params(s.h, NULL), nh * 4) == 0);
        assay_bert_mlm_restart(s.h);
        CHECK(assay_bert_mlm_steps(s.h) == 0);
    }
    untiny(&hf);
    /* a state file for another model is refused */
    ctx o = {0};
    assay_bert_config cfg;
    assay_bert_config_defaults(&cfg);
    cfg.vocab_size = 20, cfg.hidden_size = 8, cfg.num_hidden_layers = 1, cfg.num_attention_heads = 2;
    cfg.intermediate_size = 8, cfg.max_position_embeddings = 6;
    CHECK_OK(assay_bert_new(&cfg, 1, &o.m, &err), &err);
    CHECK_OK(assay_bert_mlm_new(o.m, 1, &o.h, &err), &err);
    if (o.h) CHECK(assay_bert_mlm_state_load(o.h, &rb, NULL, state, &err) == ASSAY_EFORMAT);
    untiny(&o);
    untiny(&b);
    untiny(&s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(test_mask);
    RUN(test_gradcheck);
    RUN(test_resume);
    return check_summary();
}
