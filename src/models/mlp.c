/* mlp.c - the neural estimators: `mlp` (dense layers, any numeric features: a table after the
 * pipeline, or flattened images) and `cnn` (convolutions for images). Both are sequential
 * networks of src/nn/net.h trained by assay__nn_train; they differ in their defaults and in
 * what input they accept.
 *
 * Classification trains softmax cross-entropy over K outputs (K = 2 for binary) and predicts
 * probabilities; regression trains the mean squared error of a standardized target (the mean
 * and scale are saved) and predicts values.
 *
 * Not here: reading images (src/data/image.c) and their normalization constants (the model
 * keeps those with its input description). */
#include "../nn/net.h"
#include "estimator.h"
#include "linalg.h"

typedef struct mlp {
    assay_estimator base;
    int cnn;
    char *arch;
    int c, h, w;               /* input shape (from `input=CxHxW`, else nfeatures x 1 x 1) */
    long epochs, batch, patience, warmup;
    double lr, momentum, weight_decay, dropout, min_lr, clip, smoothing, val_fraction, flip;
    long shift;
    int optimizer, schedule, activation, resume;
    int bf16;                  /* precision=bf16: products in bf16 where the CPU has it */
    char *checkpoint;
    double y_mean, y_scale;    /* regression: target standardization */
    assay__net net;
    int built;
    /* training summary, saved in the model's metadata */
    int epochs_run, best_epoch;
    double seconds, examples_per_second;
    double *train_loss, *val_loss, *val_metric;
} mlp;

static const char *const known[] = {
    "arch", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "dropout",
    "activation", "schedule", "warmup", "min_lr", "clip", "early_stopping", "validation_fraction",
    "label_smoothing", "input", "flip", "shift", "checkpoint", "resume", "precision", NULL};
static const char *const optimizers[] = {"sgd", "momentum", "nesterov", "adam", "adamw", NULL};
static const char *const schedules[] = {"constant", "step", "cosine", "linear", NULL};
static const char *const activations[] = {"relu", "gelu", "tanh", "sigmoid", NULL};
static const char *const bools[] = {"false", "true", "0", "1", NULL};
static const char *const precisions[] = {"fp32", "bf16", NULL};

static void mlp_free(assay_estimator *e) {
    if (!e) return;
    mlp *m = (mlp *)e;
    assay__net_deinit(&m->net);
    assay_free(m->arch);
    assay_free(m->checkpoint);
    assay_free(m->train_loss);
    assay_free(m->val_loss);
    assay_free(m->val_metric);
    assay_free(m);
}

/* "CxHxW" */
static int parse_input(const char *s, int *c, int *h, int *w) {
    long v[3];
    for (int i = 0; i < 3; i++) {
        char *end;
        v[i] = strtol(s, &end, 10);
        if (end == s || v[i] <= 0 || v[i] > 65536) return -1;
        s = end;
        if (i < 2 && *s++ != 'x') return -1;
    }
    if (*s) return -1;
    *c = (int)v[0], *h = (int)v[1], *w = (int)v[2];
    return 0;
}

static int create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                  assay_estimator **out, assay_error *err, int cnn) {
    const char *name = cnn ? "cnn" : "mlp";
    *out = NULL;
    int rc;
    if ((rc = assay_params_check_known(p, known, name, err))) return rc;
    if (task != ASSAY_TASK_REGRESSION && nclasses < 2)
        return assay_error_set(err, ASSAY_EINVAL, "%s: %d classes for a %s task", name, nclasses,
                               assay_task_name(task));
    if (nfeatures < 1 || nfeatures > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "%s: bad feature count %lld", name, (long long)nfeatures);
    mlp *m = assay_calloc(1, sizeof *m);
    if (!m) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
    m->cnn = cnn;
    m->base.task = task;
    m->base.nclasses = nclasses;
    m->base.nfeatures = nfeatures;
    m->y_scale = 1.0;
    const char *arch = assay_params_get(p, "arch");
    if (!arch) arch = cnn ? "conv32-pool-conv64-pool-fc128" : "fc256-fc128";
    const char *input = assay_params_get(p, "input"), *ck = assay_params_get(p, "checkpoint");
    int resume = 0;
    if (!(m->arch = assay_strdup(arch)) || (ck && !(m->checkpoint = assay_strdup(ck)))) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    if ((rc = assay_params_int(p, "epochs", cnn ? 10 : 30, 1, 100000, &m->epochs, err)) ||
        (rc = assay_params_int(p, "batch_size", cnn ? 64 : 128, 1, 65536, &m->batch, err)) ||
        (rc = assay_params_double(p, "lr", 1e-3, 1e-12, 100, &m->lr, err)) ||
        (rc = assay_params_choice(p, "optimizer", optimizers, ASSAY_NN_ADAM, &m->optimizer, err)) ||
        (rc = assay_params_double(p, "momentum", 0.9, 0, 0.9999, &m->momentum, err)) ||
        (rc = assay_params_double(p, "weight_decay", 0, 0, 10, &m->weight_decay, err)) ||
        (rc = assay_params_double(p, "dropout", 0, 0, 0.95, &m->dropout, err)) ||
        (rc = assay_params_choice(p, "activation", activations, NN_ACT_RELU, &m->activation, err)) ||
        (rc = assay_params_choice(p, "schedule", schedules, ASSAY_NN_SCHED_COSINE, &m->schedule, err)) ||
        (rc = assay_params_int(p, "warmup", 0, 0, 100000000, &m->warmup, err)) ||
        (rc = assay_params_double(p, "min_lr", 0, 0, 100, &m->min_lr, err)) ||
        (rc = assay_params_double(p, "clip", 0, 0, 1e9, &m->clip, err)) ||
        (rc = assay_params_int(p, "early_stopping", 0, 0, 100000, &m->patience, err)) ||
        (rc = assay_params_double(p, "validation_fraction", 0.1, 0.01, 0.5, &m->val_fraction, err)) ||
        (rc = assay_params_double(p, "label_smoothing", 0, 0, 0.99, &m->smoothing, err)) ||
        (rc = assay_params_double(p, "flip", 0, 0, 1, &m->flip, err)) ||
        (rc = assay_params_int(p, "shift", 0, 0, 64, &m->shift, err)) ||
        (rc = assay_params_choice(p, "resume", bools, 0, &resume, err)) ||
        (rc = assay_params_choice(p, "precision", precisions, 0, &m->bf16, err)))
        goto fail;
    m->resume = resume % 2;
    if (input) {
        if (parse_input(input, &m->c, &m->h, &m->w) ||
            (int64_t)m->c * m->h * m->w != nfeatures) {
            rc = assay_error_set(err, ASSAY_EINVAL, "input '%s' is not CxHxW with C*H*W = %lld features",
                                 input, (long long)nfeatures);
            goto fail;
        }
    } else {
        m->c = (int)nfeatures, m->h = m->w = 1;
    }
    if (cnn && (m->h < 2 || m->w < 2)) {
        rc = assay_error_set(err, ASSAY_EINVAL,
                             "convolutions need images (IDX files or a folder of PNGs); use "
                             "--model mlp for table rows");
        goto fail;
    }
    /* Build once now, so that a bad architecture is refused before any data is read. */
    if ((rc = assay__net_build(&m->net, m->arch, m->c, m->h, m->w,
                               task == ASSAY_TASK_REGRESSION ? 1 : nclasses, (nn_act)m->activation,
                               (float)m->dropout, err)))
        goto fail;
    m->net.prec = m->bf16 ? ASSAY_NN_BF16 : ASSAY_NN_FP32;
    m->base.vt = cnn ? &assay__cnn_vt : &assay__mlp_vt;
    *out = &m->base;
    return ASSAY_OK;
fail:
    if (rc != ASSAY_ENOMEM) assay_error_prefix(err, "%s", name);
    mlp_free(&m->base);
    return rc;
}

static int mlp_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                      assay_estimator **out, assay_error *err) {
    return create(p, task, nclasses, nfeatures, out, err, 0);
}

static int cnn_create(const assay_params *p, assay_task task, int nclasses, int64_t nfeatures,
                      assay_estimator **out, assay_error *err) {
    return create(p, task, nclasses, nfeatures, out, err, 1);
}

/* Targets of rows [0, n) of a design as labels or standardized values. */
static int targets(const mlp *m, const double *y, int64_t n, int32_t **lab, float **val,
                   assay_error *err) {
    if (m->base.task == ASSAY_TASK_REGRESSION) {
        float *v = assay_mallocarray((size_t)n, sizeof *v);
        if (!v) return ASSAY_ENOMEM;
        for (int64_t i = 0; i < n; i++) v[i] = (float)((y[i] - m->y_mean) / m->y_scale);
        *val = v;
        return ASSAY_OK;
    }
    int32_t *l = assay_mallocarray((size_t)n, sizeof *l);
    if (!l) return ASSAY_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        if (!(y[i] >= 0 && y[i] < m->base.nclasses)) {
            assay_free(l);
            return assay_error_set(err, ASSAY_EINVAL, "row %lld: class %g outside [0, %d)",
                                   (long long)i + 1, y[i], m->base.nclasses);
        }
        l[i] = (int32_t)y[i];
    }
    *lab = l;
    return ASSAY_OK;
}

static int mlp_fit(assay_estimator *e, const assay_design *dsg, assay_error *err) {
    mlp *m = (mlp *)e;
    const char *name = m->cnn ? "cnn" : "mlp";
    const int64_t n_all = dsg->images ? dsg->images->n : dsg->X.n;
    if (!dsg->images && !dsg->X.dense)
        return assay_error_set(err, ASSAY_EINVAL, "%s: needs dense features (sparse input given)", name);
    if (!dsg->images && dsg->X.d != e->nfeatures)
        return assay_error_set(err, ASSAY_EINVAL, "%s: design has %lld columns, expected %lld", name,
                               (long long)dsg->X.d, (long long)e->nfeatures);
    if (n_all < 2) return assay_error_set(err, ASSAY_EINVAL, "%s: need at least 2 examples", name);
    int rc = assay_nn_precision_check(m->bf16 ? ASSAY_NN_BF16 : ASSAY_NN_FP32, name, err);
    if (rc) return rc;
    for (int64_t i = 0; i < n_all; i++)
        if (!isfinite(dsg->y[i]))
            return assay_error_set(err, ASSAY_EINVAL, "%s: row %lld: the target is not a finite number",
                                   name, (long long)i + 1);
    if (!dsg->images)
        for (int64_t i = 0; i < n_all * e->nfeatures; i++)
            if (!isfinite(dsg->X.dense[i]))
                return assay_error_set(err, ASSAY_EINVAL,
                                       "%s: row %lld has a missing or infinite feature (impute first)",
                                       name, (long long)(i / e->nfeatures) + 1);
    rc = ASSAY_ENOMEM;
    int32_t *lab = NULL;
    float *val = NULL, *w = NULL, *X = NULL;
    int64_t *perm = NULL;
    nn_history h = {0};
    if (e->task == ASSAY_TASK_REGRESSION) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < n_all; i++) s += dsg->y[i];
        m->y_mean = s / (double)n_all;
        for (int64_t i = 0; i < n_all; i++) ss += (dsg->y[i] - m->y_mean) * (dsg->y[i] - m->y_mean);
        m->y_scale = sqrt(ss / (double)n_all);
        if (!(m->y_scale > 0)) m->y_scale = 1.0;
    }
    if ((rc = targets(m, dsg->y, n_all, &lab, &val, err))) goto fail;
    if (dsg->w) {
        if (!(w = assay_mallocarray((size_t)n_all, sizeof *w))) goto nomem;
        for (int64_t i = 0; i < n_all; i++) w[i] = (float)dsg->w[i];
    }
    /* Validation examples for early stopping: a seeded random fraction, the rest in their
     * original order. Images stay where they are (indices); table rows are gathered. */
    int64_t nv = m->patience > 0 ? (int64_t)llround(m->val_fraction * (double)n_all) : 0;
    if (m->patience > 0 && nv < 1) nv = 1;
    if (nv >= n_all) nv = 0;
    nn_data tr = {.n = n_all, .X = dsg->X.dense, .images = dsg->images, .mean = dsg->img_mean,
                  .std = dsg->img_std, .flip = (float)m->flip, .shift = (int)m->shift,
                  .labels = lab, .targets = val, .weights = w};
    nn_data va = {0};
    assay_images trim = {0}, vaim = {0};
    if (nv) {
        if (!(perm = assay_mallocarray((size_t)n_all, sizeof *perm))) goto nomem;
        for (int64_t i = 0; i < n_all; i++) perm[i] = i;
        assay_rng r;
        assay_rng_seed(&r, dsg->seed ^ 0x5bd1e995ULL);
        assay_rng_shuffle_i64(&r, perm, n_all);
        uint8_t *isval = assay_calloc((size_t)n_all, 1);
        if (!isval) goto nomem;
        for (int64_t i = 0; i < nv; i++) isval[perm[i]] = 1;
        int64_t a = 0, z = n_all - nv;
        for (int64_t i = 0; i < n_all; i++) perm[isval[i] ? z++ : a++] = i;
        assay_free(isval);
        /* reorder everything into [training | validation] */
        const int64_t D = e->nfeatures;
        int32_t *lab2 = lab ? assay_mallocarray((size_t)n_all, sizeof *lab2) : NULL;
        float *val2 = val ? assay_mallocarray((size_t)n_all, sizeof *val2) : NULL;
        float *w2 = w ? assay_mallocarray((size_t)n_all, sizeof *w2) : NULL;
        if ((lab && !lab2) || (val && !val2) || (w && !w2)) {
            assay_free(lab2), assay_free(val2), assay_free(w2);
            goto nomem;
        }
        for (int64_t i = 0; i < n_all; i++) {
            if (lab) lab2[i] = lab[perm[i]];
            if (val) val2[i] = val[perm[i]];
            if (w) w2[i] = w[perm[i]];
        }
        assay_free(lab), assay_free(val), assay_free(w);
        lab = lab2, val = val2, w = w2;
        if (dsg->images) {
            const assay_images *im = dsg->images;
            const int64_t P = (int64_t)im->c * im->h * im->w;
            uint8_t *pix = assay_mallocarray((size_t)n_all, (size_t)P);
            if (!pix) goto nomem;
            for (int64_t i = 0; i < n_all; i++) memcpy(pix + i * P, im->pix + perm[i] * P, (size_t)P);
            trim = *im;
            trim.pix = pix;
            trim.labels = NULL;
            trim.n = n_all - nv;
            vaim = trim;
            vaim.pix = pix + trim.n * P;
            vaim.n = nv;
            tr.images = &trim;
        } else {
            if (!(X = assay_mallocarray((size_t)n_all * (size_t)D, sizeof *X))) goto nomem;
            for (int64_t i = 0; i < n_all; i++)
                memcpy(X + i * D, dsg->X.dense + perm[i] * D, (size_t)D * sizeof *X);
            tr.X = X;
        }
        tr.n = n_all - nv;
        tr.labels = lab, tr.targets = val, tr.weights = w;
        va = tr;
        va.n = nv;
        va.X = X ? X + tr.n * D : NULL;
        va.images = dsg->images ? &vaim : NULL;
        va.labels = lab ? lab + tr.n : NULL;
        va.targets = val ? val + tr.n : NULL;
        va.weights = w ? w + tr.n : NULL;
    }
    assay__net_init_params(&m->net, dsg->seed);
    nn_train_opts o = {.epochs = (int)m->epochs, .batch = (int)m->batch,
                       .loss = e->task == ASSAY_TASK_REGRESSION ? NN_LOSS_MSE : NN_LOSS_XENT,
                       .smoothing = (float)m->smoothing, .patience = (int)m->patience,
                       .seed = dsg->seed, .checkpoint = m->checkpoint, .resume = m->resume,
                       .clip = m->clip, .label = name};
    assay_nn_optim_defaults(&o.opt, (assay_nn_optimizer)m->optimizer);
    o.opt.momentum = (float)m->momentum;
    o.opt.weight_decay = (float)m->weight_decay;
    o.sched.kind = (assay_nn_sched_kind)m->schedule;
    o.sched.lr = m->lr;
    o.sched.min_lr = m->min_lr;
    o.sched.warmup = m->warmup;
    o.sched.gamma = 0.1;
    o.sched.step_size = m->epochs > 3 ? m->epochs / 3 : 1;
    rc = assay__nn_train(&m->net, &tr, nv ? &va : NULL, &o, &h, err);
    if (trim.pix) assay_free(trim.pix);
    if (rc) goto fail;
    m->epochs_run = h.epochs;
    m->best_epoch = h.best_epoch;
    m->seconds = h.seconds;
    m->examples_per_second = h.examples_per_second;
    assay_free(m->train_loss), assay_free(m->val_loss), assay_free(m->val_metric);
    m->train_loss = h.train_loss, m->val_loss = h.val_loss, m->val_metric = h.val_metric;
    h.train_loss = h.val_loss = h.val_metric = NULL;
    m->built = 1;
    rc = ASSAY_OK;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory training", name);
fail:
done:
    nn_history_deinit(&h);
    assay_free(lab);
    assay_free(val);
    assay_free(w);
    assay_free(X);
    assay_free(perm);
    return rc;
}

static int mlp_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                       assay_error *err) {
    const mlp *m = (const mlp *)e;
    if (!X->dense)
        return assay_error_set(err, ASSAY_EINVAL, "%s: needs dense features", m->cnn ? "cnn" : "mlp");
    const int K = m->net.nout;
    float *o = assay_mallocarray((size_t)(X->n ? X->n : 1) * (size_t)K, sizeof *o);
    if (!o) return assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory predicting");
    nn_data d = {.n = X->n, .X = X->dense};
    int rc = assay__nn_predict(&m->net, &d, o, err);
    if (!rc) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < X->n; i++) {
            const float *z = o + i * K;
            double *p = out + i * K;
            if (e->task == ASSAY_TASK_REGRESSION) {
                p[0] = z[0] * m->y_scale + m->y_mean;
                continue;
            }
            assay__softmax_f32(z, K, p);
        }
    }
    assay_free(o);
    return rc;
}

static json_t *series(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null());
    return a;
}

/* The history goes into the file; the seconds do not (same seed and data, same bytes). */
static int mlp_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                    json_t *meta, assay_error *err) {
    const mlp *m = (const mlp *)e;
    if (!meta) return assay_error_set(err, ASSAY_EINVAL, "nn: saving needs a metadata object");
    int rc = assay__net_save(&m->net, w, prefix, meta, err);
    if (rc) return rc;
    if (json_object_set_new(meta, "y_mean", json_real(m->y_mean)) ||
        json_object_set_new(meta, "y_scale", json_real(m->y_scale)) ||
        json_object_set_new(meta, "epochs_run", json_integer(m->epochs_run)) ||
        json_object_set_new(meta, "best_epoch", json_integer(m->best_epoch)) ||
        (m->train_loss && (json_object_set_new(meta, "train_loss", series(m->train_loss, m->epochs_run)) ||
                           json_object_set_new(meta, "val_loss", series(m->val_loss, m->epochs_run)) ||
                           json_object_set_new(meta, "val_metric", series(m->val_metric, m->epochs_run)))))
        return assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory saving");
    return ASSAY_OK;
}

static int mlp_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                    const json_t *meta, assay_error *err) {
    mlp *m = (mlp *)e;
    if (!meta) return assay_error_set(err, ASSAY_EFORMAT, "nn: the model has no network metadata");
    assay__net_deinit(&m->net);
    int rc = assay__net_load(&m->net, f, prefix, meta, err);
    if (rc) return rc;
    int64_t in = (int64_t)m->net.c * m->net.h * m->net.w;
    int want = e->task == ASSAY_TASK_REGRESSION ? 1 : e->nclasses;
    if (in != e->nfeatures || m->net.nout != want)
        return assay_error_set(err, ASSAY_EFORMAT,
                               "nn: the network takes %lld inputs and gives %d outputs; the model "
                               "has %lld features and needs %d", (long long)in, m->net.nout,
                               (long long)e->nfeatures, want);
    const json_t *ym = json_object_get(meta, "y_mean"), *ys = json_object_get(meta, "y_scale");
    if (!json_is_number(ym) || !json_is_number(ys) || !isfinite(json_number_value(ym)) ||
        !(json_number_value(ys) > 0) || !isfinite(json_number_value(ys)))
        return assay_error_set(err, ASSAY_EFORMAT, "nn: bad target scale in the model");
    m->y_mean = json_number_value(ym);
    m->y_scale = json_number_value(ys);
    /* fitted in bf16: predicts in bf16 where the CPU has it (assay__nn_precision_begin falls
     * back to fp32 elsewhere) */
    m->net.prec = m->bf16 ? ASSAY_NN_BF16 : ASSAY_NN_FP32;
    m->built = 1;
    return ASSAY_OK;
}

static json_t *mlp_training(const assay_estimator *e) {
    const mlp *m = (const mlp *)e;
    if (!m->train_loss) return NULL;
    /* a training step costs about 3 forward passes (forward, and two products per layer
     * backward), 2 flops per multiply-add */
    double flops = 6.0 * assay__net_flops(&m->net);
    return json_pack("{s:i,s:i,s:f,s:f,s:f,s:f,s:I,s:o,s:o,s:o,s:s,s:s}", "epochs", m->epochs_run, "best_epoch",
                     m->best_epoch + 1, "seconds", m->seconds, "examples_per_second",
                     m->examples_per_second, "flops_per_example", flops, "gflops",
                     flops * m->examples_per_second / 1e9, "parameters", (json_int_t)m->net.nparams, "train_loss",
                     series(m->train_loss, m->epochs_run), "val_loss",
                     series(m->val_loss, m->epochs_run), "val_metric",
                     series(m->val_metric, m->epochs_run), "val_metric_name",
                     e->task == ASSAY_TASK_REGRESSION ? "rmse" : "accuracy", "precision",
                     precisions[m->bf16]);
}

#define NN_TASKS ((1u << ASSAY_TASK_BINARY) | (1u << ASSAY_TASK_MULTICLASS) | (1u << ASSAY_TASK_REGRESSION))

const assay_estimator_vt assay__mlp_vt = {
    .name = "mlp",
    .summary = "multilayer perceptron (dense layers, Adam/AdamW/SGD, dropout, batch norm, early "
               "stopping)",
    .tasks = NN_TASKS,
    .create = mlp_create,
    .fit = mlp_fit,
    .predict = mlp_predict,
    .save = mlp_save,
    .load = mlp_load,
    .free = mlp_free,
    .flags = ASSAY_EST_EARLY_STOPPING,
    .training = mlp_training,
    .grid = (const char *const[]){"arch=fc64,epochs=40,dropout=0.1,early_stopping=5",
                                  "arch=fc256-fc128,epochs=40,dropout=0.2,weight_decay=0.0001,"
                                  "optimizer=adamw,early_stopping=5",
                                  NULL},
};

const assay_estimator_vt assay__cnn_vt = {
    .name = "cnn",
    .summary = "convolutional network for images (--arch conv32-pool-conv64-pool-fc128)",
    .tasks = NN_TASKS,
    .create = cnn_create,
    .fit = mlp_fit,
    .predict = mlp_predict,
    .save = mlp_save,
    .load = mlp_load,
    .free = mlp_free,
    .flags = ASSAY_EST_EARLY_STOPPING,
    .training = mlp_training,
};
