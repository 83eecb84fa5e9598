/* train.c - the training loop of sequential networks: shuffled mini-batches, the optimizer and
 * schedule of nn.h, gradient clipping, per-epoch validation with early stopping (the best
 * weights are restored), a checkpoint after every epoch from which training resumes
 * bit-exactly, a stop with the epoch and step when the loss stops being finite, and the
 * progress bar. Batch prediction is here too.
 *
 * Randomness: three streams derived from the seed (shuffling, dropout, augmentation), so a
 * change in one (say, turning augmentation on) leaves the others as they were. */
#include "net.h"

#include <sys/stat.h>

#define PREDICT_BATCH 256

/* Input of m examples idx[0..m) into x. */
static void fill_input(const assay__net *n, const nn_data *d, const int64_t *idx, int m, float *x,
                       assay_rng *aug) {
    const int64_t D = (int64_t)n->c * n->h * n->w;
    if (d->images) {
        assay_images_batch(x, d->images, idx, m, d->mean, d->std, aug, d->flip, d->shift);
        return;
    }
#pragma omp parallel for schedule(static) if (m * D > 65536)
    for (int j = 0; j < m; j++) memcpy(x + j * D, d->X + idx[j] * D, (size_t)D * sizeof *x);
}

int assay__nn_predict(const assay__net *n, const nn_data *d, float *out, assay_error *err) {
    int B = d->n < PREDICT_BATCH ? (int)(d->n > 0 ? d->n : 1) : PREDICT_BATCH;
    nn_work wk;
    int rc = nn_work_init(&wk, n, B, err);
    if (rc) return rc;
    int blas = assay__nn_blas_begin(), prec = assay__nn_precision_begin(n->prec);
    int64_t idx[PREDICT_BATCH];
    for (int64_t s = 0; s < d->n; s += B) {
        int m = d->n - s < B ? (int)(d->n - s) : B;
        for (int j = 0; j < m; j++) idx[j] = s + j;
        fill_input(n, d, idx, m, nn_work_input(&wk), NULL);
        const float *o = assay__net_infer(n, &wk, m);
        memcpy(out + s * n->nout, o, (size_t)m * n->nout * sizeof *out);
    }
    assay__nn_precision_end(prec);
    assay__nn_blas_end(blas);
    nn_work_deinit(&wk);
    return ASSAY_OK;
}

void nn_history_deinit(nn_history *h) {
    if (!h) return;
    assay_free(h->train_loss);
    assay_free(h->val_loss);
    assay_free(h->val_metric);
    memset(h, 0, sizeof *h);
}

/* Loss (and metric: accuracy for XENT, RMSE for MSE) of outputs against d's targets. */
static void score(const assay__net *n, const nn_data *d, const float *out, nn_loss loss,
                  double *lossv, double *metric) {
    double L = 0, W = 0, M = 0;
    for (int64_t i = 0; i < d->n; i++) {
        double w = d->weights ? d->weights[i] : 1.0;
        const float *o = out + i * n->nout;
        if (loss == NN_LOSS_XENT) {
            int K = n->nout, y = d->labels[i], best = 0;
            double mx = o[0];
            for (int k = 1; k < K; k++)
                if (o[k] > mx) mx = o[k], best = k;
            double s = 0;
            for (int k = 0; k < K; k++) s += exp(o[k] - mx);
            L += w * (log(s) + mx - o[y]);
            M += w * (best == y);
        } else {
            double e = o[0] - d->targets[i];
            L += w * e * e;
        }
        W += w;
    }
    *lossv = W > 0 ? L / W : NAN;
    *metric = loss == NN_LOSS_XENT ? (W > 0 ? M / W : NAN) : sqrt(*lossv);
}

/* ---- checkpoints ------------------------------------------------------------------------- */

typedef struct train_state {
    int64_t epoch, step, best_epoch, bad;
    double best_val;
    assay_rng shuffle, drop, aug;
} train_state;

#define STATE_WORDS 19 /* 4 counters, best_val bits, 3 x 4 rng words, the parameter count */

static void state_pack(const train_state *s, int64_t nparams, int64_t *w) {
    w[0] = s->epoch, w[1] = s->step, w[2] = s->best_epoch, w[3] = s->bad;
    memcpy(&w[4], &s->best_val, sizeof(double));
    for (int i = 0; i < 4; i++) {
        w[5 + i] = (int64_t)s->shuffle.s[i];
        w[9 + i] = (int64_t)s->drop.s[i];
        w[13 + i] = (int64_t)s->aug.s[i];
    }
    w[17] = nparams;
    w[18] = 0x6e6e636b; /* "nnck" */
}

static int save_checkpoint(const assay__net *n, const char *path, const train_state *st,
                           const float *m, const float *v, const float *best, const float *bestbuf,
                           const nn_history *h, assay_error *err) {
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (!w) return assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory writing a checkpoint");
    json_t *meta = json_object();
    int64_t words[STATE_WORDS], sh[1];
    state_pack(st, n->nparams, words);
    int rc = meta ? assay__net_save(n, w, "net.", meta, err) : ASSAY_ENOMEM;
    sh[0] = n->nparams;
    if (!rc) rc = assay_mfile_writer_add(w, "opt.m", ASSAY_F32, 1, sh, m, err);
    if (!rc && v) rc = assay_mfile_writer_add(w, "opt.v", ASSAY_F32, 1, sh, v, err);
    if (!rc) rc = assay_mfile_writer_add(w, "best.params", ASSAY_F32, 1, sh, best, err);
    if (!rc && n->nbuf) {
        sh[0] = n->nbuf;
        rc = assay_mfile_writer_add(w, "best.buf", ASSAY_F32, 1, sh, bestbuf, err);
    }
    sh[0] = STATE_WORDS;
    if (!rc) rc = assay_mfile_writer_add(w, "state", ASSAY_I64, 1, sh, words, err);
    sh[0] = st->epoch;
    if (!rc && st->epoch > 0) rc = assay_mfile_writer_add(w, "history.train_loss", ASSAY_F64, 1, sh, h->train_loss, err);
    if (!rc && st->epoch > 0) rc = assay_mfile_writer_add(w, "history.val_loss", ASSAY_F64, 1, sh, h->val_loss, err);
    if (!rc && st->epoch > 0) rc = assay_mfile_writer_add(w, "history.val_metric", ASSAY_F64, 1, sh, h->val_metric, err);
    char *js = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    if (!rc && !js) rc = assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory writing a checkpoint");
    if (!rc) rc = assay_mfile_writer_meta(w, "assay.checkpoint", js, err);
    if (!rc) rc = assay_mfile_writer_save(w, path, err);
    free(js);
    json_decref(meta);
    assay_mfile_writer_free(w);
    return rc;
}

/* Load a checkpoint written for this very network; fails clearly on any mismatch. */
static int load_checkpoint(assay__net *n, const char *path, train_state *st, float *m, float *v,
                           float *best, float *bestbuf, nn_history *h, int epochs,
                           assay_error *err) {
    assay_mfile *f = NULL;
    int rc = assay_mfile_load(path, &f, err);
    if (rc) return rc;
    json_t *meta = NULL;
    assay__net saved = {0};
    const char *js = assay_mfile_meta(f, "assay.checkpoint");
    if (!js || !(meta = json_loads(js, 0, NULL))) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: not an assay training checkpoint", path);
        goto done;
    }
    if ((rc = assay__net_load(&saved, f, "net.", meta, err))) goto done;
    if (strcmp(saved.arch, n->arch) || saved.c != n->c || saved.h != n->h || saved.w != n->w ||
        saved.nout != n->nout || saved.act != n->act || saved.dropout != n->dropout) {
        rc = assay_error_set(err, ASSAY_EINVAL,
                             "%s: the checkpoint is of another network (%s, %dx%dx%d -> %d); this "
                             "run trains %s, %dx%dx%d -> %d", path, saved.arch, saved.c, saved.h,
                             saved.w, saved.nout, n->arch, n->c, n->h, n->w, n->nout);
        goto done;
    }
    const assay_tensor *t;
    if ((rc = assay_mfile_expect(f, "state", ASSAY_I64, 1, &t, err))) goto done;
    const int64_t *wd = t->data;
    if (t->shape[0] != STATE_WORDS || wd[17] != n->nparams || wd[18] != 0x6e6e636b || wd[0] < 0 ||
        wd[0] > epochs || wd[1] < 0 || wd[2] < -1 || wd[2] >= (wd[0] > 0 ? wd[0] : 1) || wd[3] < 0) {
        rc = assay_error_set(err, ASSAY_EFORMAT,
                             "%s: bad training state (or it ran more than the %d epochs asked)", path, epochs);
        goto done;
    }
    st->epoch = wd[0], st->step = wd[1], st->best_epoch = wd[2], st->bad = wd[3];
    memcpy(&st->best_val, &wd[4], sizeof(double));
    for (int i = 0; i < 4; i++) {
        st->shuffle.s[i] = (uint64_t)wd[5 + i];
        st->drop.s[i] = (uint64_t)wd[9 + i];
        st->aug.s[i] = (uint64_t)wd[13 + i];
    }
    struct { const char *name; float *dst; int64_t len; } parts[] = {
        {"opt.m", m, n->nparams}, {"opt.v", v, v ? n->nparams : 0},
        {"best.params", best, n->nparams}, {"best.buf", bestbuf, n->nbuf}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i].len) continue;
        if ((rc = assay_mfile_expect(f, parts[i].name, ASSAY_F32, 1, &t, err))) goto done;
        if (t->shape[0] != parts[i].len) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "%s: tensor '%s' has the wrong size", path, parts[i].name);
            goto done;
        }
        memcpy(parts[i].dst, t->data, (size_t)parts[i].len * sizeof(float));
    }
    const char *hist[] = {"history.train_loss", "history.val_loss", "history.val_metric"};
    double *hd[] = {h->train_loss, h->val_loss, h->val_metric};
    for (int i = 0; i < 3 && st->epoch > 0; i++) {
        if ((rc = assay_mfile_expect(f, hist[i], ASSAY_F64, 1, &t, err))) goto done;
        if (t->shape[0] != st->epoch) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "%s: tensor '%s' has the wrong size", path, hist[i]);
            goto done;
        }
        memcpy(hd[i], t->data, (size_t)st->epoch * sizeof(double));
    }
    memcpy(n->params, saved.params, (size_t)n->nparams * sizeof(float));
    if (n->nbuf) memcpy(n->buf, saved.buf, (size_t)n->nbuf * sizeof(float));
done:
    json_decref(meta);
    assay__net_deinit(&saved);
    assay_mfile_free(f);
    return rc;
}

/* ---- the loop ---------------------------------------------------------------------------- */

/* 1 if every value is finite: x * 0 is 0 for finite x and NaN otherwise, so one sum tells. */
static int all_finite(const float *x, int64_t n) {
    float acc = 0.0f;
#pragma omp parallel for reduction(+ : acc) schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) acc += x[i] * 0.0f;
    return acc == 0.0f;
}

static int diverged(assay_error *err, const char *what, int64_t epoch, int64_t step, double lr,
                    const char *checkpoint) {
    return assay_error_set(err, ASSAY_EINVAL,
                           "nn: the training %s became non-finite at epoch %lld, step %lld "
                           "(learning rate %g too high?)%s%s", what, (long long)epoch + 1,
                           (long long)step + 1, lr,
                           checkpoint ? "; the last good checkpoint is " : "",
                           checkpoint ? checkpoint : "");
}

/* One optimizer step over every parameter tensor: weights decay, biases and norms do not. */
static void optim_step(const assay__net *n, const assay_nn_optim *o, float *g, float *m, float *v,
                       long t, float lr) {
    for (int i = 0; i < n->nl; i++) {
        const nn_layer *l = &n->L[i];
        if (l->wt < 0) continue;
        int64_t nw = l->bias - l->wt, nb = l->kind == NN_BATCHNORM ? l->c : l->oc;
        float wd = l->kind == NN_BATCHNORM ? 0.0f : 1.0f;
        assay_nn_optim_step(o, n->params + l->wt, g + l->wt, m + l->wt, v ? v + l->wt : NULL, nw, t, lr, wd);
        assay_nn_optim_step(o, n->params + l->bias, g + l->bias, m + l->bias, v ? v + l->bias : NULL, nb, t, lr, 0.0f);
    }
}

int assay__nn_train(assay__net *n, const nn_data *tr, const nn_data *va, const nn_train_opts *o,
                    nn_history *h, assay_error *err) {
    memset(h, 0, sizeof *h);
    if (tr->n < 1) return assay_error_set(err, ASSAY_EINVAL, "nn: no training examples");
    if (o->epochs < 1 || o->batch < 1)
        return assay_error_set(err, ASSAY_EINVAL, "nn: epochs and batch size must be at least 1");
    const int B = tr->n < o->batch ? (int)tr->n : o->batch, K = n->nout;
    const int64_t steps = (tr->n + B - 1) / B, N = tr->n;
    const int adam = o->opt.kind == ASSAY_NN_ADAM || o->opt.kind == ASSAY_NN_ADAMW;
    int rc = ASSAY_ENOMEM, blas = 1, prec = -1; /* prec: the precision before, once set */
    nn_work wk = {0};
    float *g = assay_calloc((size_t)n->nparams, sizeof *g);
    float *m = assay_calloc((size_t)n->nparams, sizeof *m);
    float *v = adam ? assay_calloc((size_t)n->nparams, sizeof *v) : NULL;
    float *best = assay_mallocarray((size_t)n->nparams, sizeof *best);
    float *bestbuf = n->nbuf ? assay_mallocarray((size_t)n->nbuf, sizeof *bestbuf) : NULL;
    int64_t *perm = assay_mallocarray((size_t)N, sizeof *perm);
    int32_t *yb = assay_mallocarray((size_t)B, sizeof *yb);
    float *tb = assay_mallocarray((size_t)B, sizeof *tb), *wb = assay_mallocarray((size_t)B, sizeof *wb);
    float *vout = va && va->n ? assay_mallocarray((size_t)va->n * (size_t)K, sizeof *vout) : NULL;
    h->train_loss = assay_mallocarray((size_t)o->epochs, sizeof(double));
    h->val_loss = assay_mallocarray((size_t)o->epochs, sizeof(double));
    h->val_metric = assay_mallocarray((size_t)o->epochs, sizeof(double));
    if (!g || !m || (adam && !v) || !best || (n->nbuf && !bestbuf) || !perm || !yb || !tb || !wb ||
        (va && va->n && !vout) || !h->train_loss || !h->val_loss || !h->val_metric)
        goto nomem;
    if ((rc = nn_work_init(&wk, n, B, err))) goto fail;
    blas = assay__nn_blas_begin();
    prec = assay__nn_precision_begin(n->prec);

    train_state st = {.best_epoch = -1, .best_val = INFINITY};
    assay_rng_seed(&st.shuffle, o->seed);
    assay_rng_seed(&st.drop, o->seed ^ 0x9e3779b97f4a7c15ULL);
    assay_rng_seed(&st.aug, o->seed ^ 0xd1b54a32d192ed03ULL);
    memcpy(best, n->params, (size_t)n->nparams * sizeof *best);
    if (n->nbuf) memcpy(bestbuf, n->buf, (size_t)n->nbuf * sizeof *bestbuf);
    struct stat sb;
    int have_ckpt = 0; /* a checkpoint of this run exists (loaded or written) */
    if (o->checkpoint && o->resume && stat(o->checkpoint, &sb) == 0) {
        if ((rc = load_checkpoint(n, o->checkpoint, &st, m, v, best, bestbuf, h, o->epochs, err)))
            goto fail;
        have_ckpt = 1;
    }
    assay_nn_schedule sched = o->sched;
    sched.total = (long)(steps * o->epochs);
    if (sched.kind == ASSAY_NN_SCHED_STEP) sched.step_size *= (long)steps; /* epochs -> steps */

    assay_progress bar;
    assay_progress_begin(&bar, o->label ? o->label : "training", (uint64_t)(steps * o->epochs));
    double t0 = assay_now(), seen = 0;
    /* a resumed run that had already stopped early stays stopped */
    int stop = o->patience > 0 && va && va->n && st.bad >= o->patience;
    h->stopped_early = stop;
    for (; st.epoch < o->epochs && !stop; st.epoch++) {
        for (int64_t i = 0; i < N; i++) perm[i] = i;
        assay_rng_shuffle_i64(&st.shuffle, perm, N);
        double eloss = 0, ew = 0;
        for (int64_t s = 0; s < steps; s++) {
            const int64_t *idx = perm + s * B;
            int mb = N - s * B < B ? (int)(N - s * B) : B;
            fill_input(n, tr, idx, mb, nn_work_input(&wk), &st.aug);
            float wsum = 0;
            for (int j = 0; j < mb; j++) {
                if (tr->labels) yb[j] = tr->labels[idx[j]];
                if (tr->targets) tb[j] = tr->targets[idx[j]];
                wb[j] = tr->weights ? tr->weights[idx[j]] : 1.0f;
                wsum += wb[j];
            }
            const float *out = assay__net_forward(n, &wk, mb, 1, &st.drop);
            float *dout = nn_work_doutput(&wk, n);
            const float *wp = tr->weights ? wb : NULL;
            double loss = o->loss == NN_LOSS_XENT
                              ? assay_nn_softmax_xent(dout, out, yb, wp, mb, K, o->smoothing)
                              : assay_nn_mse(dout, out, tb, wp, mb);
            if (!isfinite(loss)) {
                rc = diverged(err, "loss", st.epoch, s, assay_nn_schedule_lr(&sched, (long)st.step),
                              have_ckpt ? o->checkpoint : NULL);
                assay_progress_end(&bar);
                goto fail;
            }
            eloss += loss * wsum;
            ew += wsum;
            memset(g, 0, (size_t)n->nparams * sizeof *g);
            assay__net_backward(n, &wk, g, mb);
            if (o->clip > 0) assay_nn_clip_grad_norm(g, n->nparams, o->clip);
            float lr = (float)assay_nn_schedule_lr(&sched, (long)st.step);
            st.step++;
            optim_step(n, &o->opt, g, m, v, (long)st.step, lr);
            if (!all_finite(n->params, n->nparams)) { /* the step itself overflowed */
                rc = diverged(err, "weights", st.epoch, s, lr, have_ckpt ? o->checkpoint : NULL);
                assay_progress_end(&bar);
                goto fail;
            }
            seen += mb;
            char info[96];
            double el = assay_now() - t0;
            snprintf(info, sizeof info, "epoch %lld/%d loss %.4f %.0f ex/s", (long long)st.epoch + 1,
                     o->epochs, eloss / ew, el > 0 ? seen / el : 0.0);
            assay_progress_update(&bar, (uint64_t)(st.epoch * steps + s + 1), info);
        }
        h->train_loss[st.epoch] = eloss / ew;
        h->val_loss[st.epoch] = h->val_metric[st.epoch] = NAN;
        if (vout) {
            if ((rc = assay__nn_predict(n, va, vout, err))) {
                assay_progress_end(&bar);
                goto fail;
            }
            score(n, va, vout, o->loss, &h->val_loss[st.epoch], &h->val_metric[st.epoch]);
            if (h->val_loss[st.epoch] < st.best_val) {
                st.best_val = h->val_loss[st.epoch];
                st.best_epoch = st.epoch;
                st.bad = 0;
                memcpy(best, n->params, (size_t)n->nparams * sizeof *best);
                if (n->nbuf) memcpy(bestbuf, n->buf, (size_t)n->nbuf * sizeof *bestbuf);
            } else if (o->patience > 0 && ++st.bad >= o->patience) {
                stop = 1;
                h->stopped_early = 1;
            }
        }
        if (o->checkpoint) {
            train_state next = st;
            next.epoch = st.epoch + 1;
            if ((rc = save_checkpoint(n, o->checkpoint, &next, m, v, best, bestbuf, h, err))) {
                assay_progress_end(&bar);
                goto fail;
            }
            have_ckpt = 1;
        }
    }
    assay_progress_end(&bar);
    h->epochs = (int)st.epoch;
    h->best_epoch = (int)st.best_epoch;
    h->seconds = assay_now() - t0;
    h->examples_per_second = h->seconds > 0 ? seen / h->seconds : 0;
    if (vout && st.best_epoch >= 0) { /* restore the best epoch's weights */
        memcpy(n->params, best, (size_t)n->nparams * sizeof *best);
        if (n->nbuf) memcpy(n->buf, bestbuf, (size_t)n->nbuf * sizeof *bestbuf);
    }
    rc = ASSAY_OK;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory training");
fail:
    nn_history_deinit(h);
done:
    if (prec >= 0) assay__nn_precision_end(prec);
    assay__nn_blas_end(blas);
    nn_work_deinit(&wk);
    assay_free(g);
    assay_free(m);
    assay_free(v);
    assay_free(best);
    assay_free(bestbuf);
    assay_free(perm);
    assay_free(yb);
    assay_free(tb);
    assay_free(wb);
    assay_free(vout);
    return rc;
}
