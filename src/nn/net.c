/* net.c - sequential networks: the architecture string, the parameter layout, forward and
 * backward over a batch in a preallocated arena, save/load. Training is in train.c.
 *
 * Not here: graphs with branches (the Transformer composes the kernels itself) and recurrent
 * layers. */
#include "net.h"

#include <cblas.h>
#include <ctype.h>

/* ---- building -------------------------------------------------------------------------- */

static int push(assay__net *n, int *cap, const nn_layer *l) {
    if (n->nl == *cap) {
        int c = *cap ? 2 * *cap : 16;
        nn_layer *p = assay_reallocarray(n->L, (size_t)c, sizeof *p);
        if (!p) return ASSAY_ENOMEM;
        n->L = p;
        *cap = c;
    }
    n->L[n->nl++] = *l;
    return ASSAY_OK;
}

static nn_layer shaped(nn_kind kind, int c, int h, int w) {
    nn_layer l = {.kind = kind, .c = c, .h = h, .w = w, .oc = c, .oh = h, .ow = w, .wt = -1,
                  .bias = -1, .rmean = -1, .rvar = -1};
    return l;
}

static nn_kind act_kind(nn_act a) {
    return a == NN_ACT_GELU ? NN_GELU : a == NN_ACT_TANH ? NN_TANH : a == NN_ACT_SIGMOID ? NN_SIGMOID : NN_RELU;
}

/* Parse an unsigned integer at *s; advances *s. */
static int parse_uint(const char **s, long *out) {
    if (!isdigit((unsigned char)**s)) return -1;
    char *end;
    long v = strtol(*s, &end, 10);
    if (v <= 0 || v > 65536) return -1;
    *s = end;
    *out = v;
    return 0;
}

/* One token of the architecture into layers (and its activation). */
static int add_token(assay__net *n, int *cap, const char *tok, int *c, int *h, int *w,
                     assay_error *err) {
    const char *s = tok;
    nn_layer l;
    int bn = 0;
    if (!strncmp(s, "conv", 4)) {
        s += 4;
        long oc, k = 3;
        if (parse_uint(&s, &oc)) goto bad;
        if (*s == 'x') {
            s++;
            if (parse_uint(&s, &k) || k > 15) goto bad;
            if (k % 2 == 0)
                return assay_error_set(err, ASSAY_EINVAL,
                                       "--arch: '%s': the kernel size must be odd (\"same\" padding)", tok);
        }
        if (!strcmp(s, "bn")) bn = 1, s += 2;
        if (*s) goto bad;
        l = shaped(NN_CONV, *c, *h, *w);
        l.k = (int)k;
        l.stride = 1;
        l.pad = (int)(k / 2);
        l.oc = (int)oc;
        l.oh = (*h + 2 * l.pad - l.k) + 1;
        l.ow = (*w + 2 * l.pad - l.k) + 1;
        l.fan_in = (int64_t)*c * k * k;
        l.fan_out = oc * k * k;
    } else if (!strncmp(s, "fc", 2)) {
        s += 2;
        long units;
        if (parse_uint(&s, &units)) goto bad;
        if (!strcmp(s, "bn")) bn = 1, s += 2;
        if (*s) goto bad;
        if ((int64_t)*c * *h * *w > INT32_MAX)
            return assay_error_set(err, ASSAY_EINVAL, "--arch: '%s' on %dx%dx%d inputs: too many weights",
                                   tok, *c, *h, *w);
        l = shaped(NN_DENSE, *c * *h * *w, 1, 1);
        l.oc = (int)units;
        l.fan_in = l.c;
        l.fan_out = units;
    } else if (!strcmp(s, "pool") || !strcmp(s, "maxpool") || !strcmp(s, "avgpool")) {
        if (*h < 2 || *w < 2)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "--arch: '%s' needs an input of at least 2x2, it gets %dx%d", tok,
                                   *h, *w);
        l = shaped(s[0] == 'a' ? NN_AVGPOOL : NN_MAXPOOL, *c, *h, *w);
        l.k = 2;
        l.oh = *h / 2;
        l.ow = *w / 2;
    } else if (!strncmp(s, "drop", 4)) {
        s += 4;
        double p = n->dropout;
        if (*s) {
            char *end;
            p = strtod(s, &end);
            if (*end || !(p >= 0 && p < 1)) goto bad;
        }
        l = shaped(NN_DROPOUT, *c, *h, *w);
        l.p = (float)p;
    } else {
        goto bad;
    }
    if (push(n, cap, &l)) return ASSAY_ENOMEM;
    *c = l.oc;
    *h = l.oh;
    *w = l.ow;
    if (l.kind == NN_CONV || l.kind == NN_DENSE) {
        if (bn) {
            nn_layer b = shaped(NN_BATCHNORM, *c, *h, *w);
            if (push(n, cap, &b)) return ASSAY_ENOMEM;
        }
        nn_layer a = shaped(act_kind(n->act), *c, *h, *w);
        if (push(n, cap, &a)) return ASSAY_ENOMEM;
        if (l.kind == NN_DENSE && n->dropout > 0) {
            nn_layer d = shaped(NN_DROPOUT, *c, *h, *w);
            d.p = n->dropout;
            if (push(n, cap, &d)) return ASSAY_ENOMEM;
        }
    }
    return ASSAY_OK;
bad:
    return assay_error_set(err, ASSAY_EINVAL,
                           "--arch: unknown layer '%s' (expected convN[xK][bn], fcN[bn], pool, "
                           "avgpool or drop[P])", tok);
}

int assay__net_build(assay__net *n, const char *arch, int c, int h, int w, int nout, nn_act act,
                     float dropout, assay_error *err) {
    memset(n, 0, sizeof *n);
    if (c <= 0 || h <= 0 || w <= 0 || nout <= 0 || (int64_t)c * h * w > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "nn: bad input shape %dx%dx%d or %d outputs", c,
                               h, w, nout);
    n->c = c, n->h = h, n->w = w, n->nout = nout, n->act = act, n->dropout = dropout;
    if (!(n->arch = assay_strdup(arch ? arch : ""))) return ASSAY_ENOMEM;
    int cap = 0, rc = ASSAY_OK;
    char *copy = assay_strdup(n->arch);
    if (!copy) return ASSAY_ENOMEM;
    size_t len = strlen(copy);
    if (len && (copy[0] == '-' || copy[len - 1] == '-' || strstr(copy, "--"))) {
        assay_free(copy);
        return assay_error_set(err, ASSAY_EINVAL, "--arch: an empty layer in '%s' (a '-' too many)", n->arch);
    }
    for (char *save = NULL, *tok = strtok_r(copy, "-", &save); tok; tok = strtok_r(NULL, "-", &save))
        if ((rc = add_token(n, &cap, tok, &c, &h, &w, err))) break;
    assay_free(copy);
    if (rc) return rc;
    if ((int64_t)c * h * w > INT32_MAX)
        return assay_error_set(err, ASSAY_EINVAL, "nn: the output layer would have too many weights");
    nn_layer out = shaped(NN_DENSE, c * h * w, 1, 1);
    out.oc = nout;
    out.fan_in = out.c;
    out.fan_out = nout;
    if (push(n, &cap, &out)) return ASSAY_ENOMEM;
    /* parameter layout */
    int64_t p = 0, b = 0;
    for (int i = 0; i < n->nl; i++) {
        nn_layer *l = &n->L[i];
        if (l->kind == NN_DENSE || l->kind == NN_CONV) {
            l->wt = p;
            p += (int64_t)l->oc * l->c * (l->kind == NN_CONV ? l->k * l->k : 1);
            l->bias = p;
            p += l->oc;
        } else if (l->kind == NN_BATCHNORM) {
            l->wt = p;
            l->bias = p + l->c;
            p += 2 * l->c;
            l->rmean = b;
            l->rvar = b + l->c;
            b += 2 * l->c;
        }
        if (p > ((int64_t)1 << 31))
            return assay_error_set(err, ASSAY_EINVAL, "nn: more than 2^31 parameters");
    }
    n->nparams = p;
    n->nbuf = b;
    n->params = assay_calloc((size_t)p, sizeof *n->params);
    n->buf = b ? assay_calloc((size_t)b, sizeof *n->buf) : NULL;
    if (!n->params || (b && !n->buf)) return ASSAY_ENOMEM;
    return ASSAY_OK;
}

void assay__net_deinit(assay__net *n) {
    if (!n) return;
    assay_free(n->L);
    assay_free(n->params);
    assay_free(n->buf);
    assay_free(n->arch);
    memset(n, 0, sizeof *n);
}

void assay__net_init_params(assay__net *n, uint64_t seed) {
    assay_rng rng;
    assay_rng_seed(&rng, seed);
    for (int i = 0; i < n->nl; i++) {
        const nn_layer *l = &n->L[i];
        if (l->kind == NN_DENSE || l->kind == NN_CONV) {
            int64_t nw = l->bias - l->wt;
            int rectified = i + 1 < n->nl && (n->L[i + 1].kind == NN_RELU || n->L[i + 1].kind == NN_GELU ||
                                              (n->L[i + 1].kind == NN_BATCHNORM && n->act <= NN_ACT_GELU));
            if (rectified) assay_nn_init_he(n->params + l->wt, nw, (int)l->fan_in, &rng);
            else assay_nn_init_xavier(n->params + l->wt, nw, (int)l->fan_in, (int)l->fan_out, &rng);
            memset(n->params + l->bias, 0, (size_t)l->oc * sizeof(float));
        } else if (l->kind == NN_BATCHNORM) {
            for (int j = 0; j < l->c; j++) {
                n->params[l->wt + j] = 1.0f;
                n->params[l->bias + j] = 0.0f;
                n->buf[l->rmean + j] = 0.0f;
                n->buf[l->rvar + j] = 1.0f;
            }
        }
    }
}

double assay__net_flops(const assay__net *n) {
    double f = 0;
    for (int i = 0; i < n->nl; i++) {
        const nn_layer *l = &n->L[i];
        if (l->kind == NN_DENSE) f += (double)l->c * l->oc;
        else if (l->kind == NN_CONV) f += (double)l->c * l->k * l->k * l->oc * l->oh * l->ow;
    }
    return f;
}

/* ---- arena ------------------------------------------------------------------------------- */

static int64_t out_size(const nn_layer *l) { return (int64_t)l->oc * l->oh * l->ow; }

int nn_work_init(nn_work *wk, const assay__net *n, int B, assay_error *err) {
    memset(wk, 0, sizeof *wk);
    wk->B = B;
    wk->off = assay_mallocarray((size_t)n->nl + 1, sizeof *wk->off);
    wk->aoff = assay_mallocarray((size_t)n->nl, sizeof *wk->aoff);
    wk->ioff = assay_mallocarray((size_t)n->nl, sizeof *wk->ioff);
    if (!wk->off || !wk->aoff || !wk->ioff) goto nomem;
    int64_t a = (int64_t)B * n->c * n->h * n->w, x = 0, ia = 0;
    size_t scratch = 0;
    wk->off[0] = 0;
    for (int i = 0; i < n->nl; i++) {
        const nn_layer *l = &n->L[i];
        wk->off[i + 1] = a;
        a += (int64_t)B * out_size(l);
        wk->aoff[i] = x;
        wk->ioff[i] = ia;
        if (l->kind == NN_DROPOUT) x += (int64_t)B * out_size(l);
        else if (l->kind == NN_BATCHNORM) x += 2 * (int64_t)l->c;
        else if (l->kind == NN_MAXPOOL) ia += (int64_t)B * out_size(l);
        else if (l->kind == NN_CONV) {
            assay_nn_conv s;
            if (assay_nn_conv_init(&s, B, l->c, l->h, l->w, l->oc, l->k, l->k, l->stride, l->pad)) {
                nn_work_deinit(wk);
                return assay_error_set(err, ASSAY_EINVAL, "nn: layer %d: kernel does not fit", i + 1);
            }
            size_t need = assay_nn_conv_scratch(&s);
            if (need > scratch) scratch = need;
        }
    }
    wk->act = assay_mallocarray((size_t)a, sizeof(float));
    wk->dact = assay_mallocarray((size_t)a, sizeof(float));
    wk->aux = x ? assay_mallocarray((size_t)x, sizeof(float)) : NULL;
    wk->iaux = ia ? assay_mallocarray((size_t)ia, sizeof(int32_t)) : NULL;
    wk->scratch = scratch ? assay_mallocarray(scratch, sizeof(float)) : NULL;
    if (!wk->act || !wk->dact || (x && !wk->aux) || (ia && !wk->iaux) || (scratch && !wk->scratch))
        goto nomem;
    return ASSAY_OK;
nomem:
    nn_work_deinit(wk);
    return assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory for a batch of %d", B);
}

void nn_work_deinit(nn_work *wk) {
    if (!wk) return;
    assay_free(wk->off);
    assay_free(wk->aoff);
    assay_free(wk->ioff);
    assay_free(wk->act);
    assay_free(wk->dact);
    assay_free(wk->aux);
    assay_free(wk->iaux);
    assay_free(wk->scratch);
    memset(wk, 0, sizeof *wk);
}

/* ---- forward / backward ------------------------------------------------------------------ */

static void conv_shape(assay_nn_conv *s, const nn_layer *l, int B) {
    (void)assay_nn_conv_init(s, B, l->c, l->h, l->w, l->oc, l->k, l->k, l->stride, l->pad);
}

/* training: 1 train mode (n may be updated: running stats), 0 inference. */
static const float *forward(const assay__net *n, float *buf, nn_work *wk, int B, int training,
                            assay_rng *rng) {
    const float *P = n->params;
    for (int i = 0; i < n->nl; i++) {
        const nn_layer *l = &n->L[i];
        const float *in = wk->act + wk->off[i];
        float *out = wk->act + wk->off[i + 1];
        int64_t cnt = (int64_t)B * out_size(l);
        switch (l->kind) {
        case NN_DENSE:
            assay_nn_linear_forward(out, in, P + l->wt, P + l->bias, B, l->c, l->oc);
            break;
        case NN_CONV: {
            assay_nn_conv s;
            conv_shape(&s, l, B);
            assay_nn_conv2d_forward(out, in, P + l->wt, P + l->bias, &s, wk->scratch);
            break;
        }
        case NN_MAXPOOL:
            assay_nn_maxpool2d_forward(out, wk->iaux + wk->ioff[i], in, B, l->c, l->h, l->w, l->k);
            break;
        case NN_AVGPOOL: assay_nn_avgpool2d_forward(out, in, B, l->c, l->h, l->w, l->k); break;
        case NN_RELU: assay_nn_relu_forward(out, in, cnt); break;
        case NN_GELU: assay_nn_gelu_forward(out, in, cnt); break;
        case NN_TANH: assay_nn_tanh_forward(out, in, cnt); break;
        case NN_SIGMOID: assay_nn_sigmoid_forward(out, in, cnt); break;
        case NN_DROPOUT:
            if (training && l->p > 0) assay_nn_dropout_forward(out, wk->aux + wk->aoff[i], in, cnt, l->p, rng);
            else memcpy(out, in, (size_t)cnt * sizeof *out);
            break;
        case NN_BATCHNORM: {
            float *mean = wk->aux + wk->aoff[i], *rstd = mean + l->c;
            /* inference reads the running statistics only (nn.h), so the const net is kept */
            float *rm = (float *)(uintptr_t)(n->buf + l->rmean), *rv = (float *)(uintptr_t)(n->buf + l->rvar);
            if (training) rm = buf + l->rmean, rv = buf + l->rvar;
            assay_nn_batchnorm_forward(out, mean, rstd, rm, rv, in, P + l->wt, P + l->bias, B, l->c,
                                       l->h * l->w, 0.1f, 1e-5f, training);
            break;
        }
        }
    }
    return wk->act + wk->off[n->nl];
}

const float *assay__net_forward(assay__net *n, nn_work *wk, int B, int training, assay_rng *rng) {
    return forward(n, n->buf, wk, B, training, rng);
}

const float *assay__net_infer(const assay__net *n, nn_work *wk, int B) {
    return forward(n, NULL, wk, B, 0, NULL);
}

void assay__net_backward(const assay__net *n, nn_work *wk, float *grads, int B) {
    const float *P = n->params;
    /* gradients of the activations are added into: zero all but the output's */
    memset(wk->dact, 0, (size_t)wk->off[n->nl] * sizeof(float));
    for (int i = n->nl - 1; i >= 0; i--) {
        const nn_layer *l = &n->L[i];
        const float *in = wk->act + wk->off[i], *out = wk->act + wk->off[i + 1];
        const float *dout = wk->dact + wk->off[i + 1];
        float *din = i > 0 ? wk->dact + wk->off[i] : NULL;
        int64_t cnt = (int64_t)B * out_size(l);
        switch (l->kind) {
        case NN_DENSE:
            assay_nn_linear_backward(din, grads + l->wt, grads + l->bias, dout, in, P + l->wt, B,
                                     l->c, l->oc);
            break;
        case NN_CONV: {
            assay_nn_conv s;
            conv_shape(&s, l, B);
            assay_nn_conv2d_backward(din, grads + l->wt, grads + l->bias, dout, in, P + l->wt, &s,
                                     wk->scratch);
            break;
        }
        case NN_MAXPOOL:
            if (din) assay_nn_maxpool2d_backward(din, dout, wk->iaux + wk->ioff[i], B, l->c, l->h, l->w, l->k);
            break;
        case NN_AVGPOOL:
            if (din) assay_nn_avgpool2d_backward(din, dout, B, l->c, l->h, l->w, l->k);
            break;
        case NN_RELU: if (din) assay_nn_relu_backward(din, dout, in, out, cnt); break;
        case NN_GELU: if (din) assay_nn_gelu_backward(din, dout, in, out, cnt); break;
        case NN_TANH: if (din) assay_nn_tanh_backward(din, dout, in, out, cnt); break;
        case NN_SIGMOID: if (din) assay_nn_sigmoid_backward(din, dout, in, out, cnt); break;
        case NN_DROPOUT:
            if (!din) break;
            if (l->p > 0) assay_nn_dropout_backward(din, dout, wk->aux + wk->aoff[i], cnt);
            else
                for (int64_t j = 0; j < cnt; j++) din[j] += dout[j];
            break;
        case NN_BATCHNORM: {
            const float *mean = wk->aux + wk->aoff[i], *rstd = mean + l->c;
            float *dx = din;
            /* batch norm's backward needs dinp even for the first layer's input: skip then */
            if (dx)
                assay_nn_batchnorm_backward(dx, grads + l->wt, grads + l->bias, dout, in, mean, rstd,
                                            P + l->wt, B, l->c, l->h * l->w);
            break;
        }
        }
    }
}

int assay__nn_blas_begin(void) {
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    return prev;
}

void assay__nn_blas_end(int prev) {
    if (prev != 1) openblas_set_num_threads(prev);
}

/* ---- save / load ------------------------------------------------------------------------- */

static const char *const act_names[] = {"relu", "gelu", "tanh", "sigmoid", NULL};

int assay__net_save(const assay__net *n, assay_mfile_writer *w, const char *prefix, json_t *meta,
                    assay_error *err) {
    char name[256];
    int64_t shape[1] = {n->nparams};
    snprintf(name, sizeof name, "%sparams", prefix);
    int rc = assay_mfile_writer_add(w, name, ASSAY_F32, 1, shape, n->params, err);
    if (rc) return rc;
    if (n->nbuf) {
        shape[0] = n->nbuf;
        snprintf(name, sizeof name, "%sbuf", prefix);
        if ((rc = assay_mfile_writer_add(w, name, ASSAY_F32, 1, shape, n->buf, err))) return rc;
    }
    json_t *input = json_pack("[iii]", n->c, n->h, n->w);
    if (!input || json_object_set_new(meta, "input", input) ||
        json_object_set_new(meta, "arch", json_string(n->arch)) ||
        json_object_set_new(meta, "outputs", json_integer(n->nout)) ||
        json_object_set_new(meta, "activation", json_string(act_names[n->act])) ||
        json_object_set_new(meta, "dropout", json_real(n->dropout)))
        return assay_error_set(err, ASSAY_ENOMEM, "nn: out of memory saving");
    return ASSAY_OK;
}

int assay__net_load(assay__net *n, const assay_mfile *f, const char *prefix, const json_t *meta,
                    assay_error *err) {
    const json_t *input = json_object_get(meta, "input");
    const char *arch = json_string_value(json_object_get(meta, "arch"));
    const char *act = json_string_value(json_object_get(meta, "activation"));
    const json_t *nout = json_object_get(meta, "outputs"), *drop = json_object_get(meta, "dropout");
    if (!json_is_array(input) || json_array_size(input) != 3 || !arch || !act ||
        !json_is_integer(nout) || !json_is_number(drop))
        return assay_error_set(err, ASSAY_EFORMAT, "nn: the model's network description is incomplete");
    long dims[3];
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_array_get(input, (size_t)i);
        dims[i] = json_is_integer(v) ? (long)json_integer_value(v) : -1;
        if (dims[i] <= 0 || dims[i] > 65536)
            return assay_error_set(err, ASSAY_EFORMAT, "nn: bad input shape in the model");
    }
    int ai = -1;
    for (int i = 0; act_names[i]; i++)
        if (!strcmp(act, act_names[i])) ai = i;
    json_int_t no = json_integer_value(nout);
    double p = json_number_value(drop);
    if (ai < 0 || no <= 0 || no > 1 << 20 || !(p >= 0 && p < 1))
        return assay_error_set(err, ASSAY_EFORMAT, "nn: bad activation, outputs or dropout in the model");
    int rc = assay__net_build(n, arch, (int)dims[0], (int)dims[1], (int)dims[2], (int)no,
                              (nn_act)ai, (float)p, err);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", err ? err->msg : "invalid");
        return rc == ASSAY_ENOMEM ? rc
                                  : assay_error_set(err, ASSAY_EFORMAT, "nn: the model's architecture: %s", why);
    }
    char name[256];
    const assay_tensor *t;
    snprintf(name, sizeof name, "%sparams", prefix);
    if ((rc = assay_mfile_expect(f, name, ASSAY_F32, 1, &t, err))) return rc;
    if (t->shape[0] != n->nparams)
        return assay_error_set(err, ASSAY_EFORMAT, "nn: tensor '%s' has %lld values, the architecture needs %lld",
                               name, (long long)t->shape[0], (long long)n->nparams);
    memcpy(n->params, t->data, (size_t)n->nparams * sizeof(float));
    for (int64_t i = 0; i < n->nparams; i++)
        if (!isfinite(n->params[i]))
            return assay_error_set(err, ASSAY_EFORMAT, "nn: tensor '%s' holds a non-finite value", name);
    if (n->nbuf) {
        snprintf(name, sizeof name, "%sbuf", prefix);
        if ((rc = assay_mfile_expect(f, name, ASSAY_F32, 1, &t, err))) return rc;
        if (t->shape[0] != n->nbuf)
            return assay_error_set(err, ASSAY_EFORMAT, "nn: tensor '%s' has the wrong size", name);
        memcpy(n->buf, t->data, (size_t)n->nbuf * sizeof(float));
        for (int i = 0; i < n->nl; i++) {
            const nn_layer *l = &n->L[i];
            if (l->kind != NN_BATCHNORM) continue;
            for (int j = 0; j < l->c; j++)
                if (!isfinite(n->buf[l->rmean + j]) || !(n->buf[l->rvar + j] >= 0))
                    return assay_error_set(err, ASSAY_EFORMAT, "nn: bad batch-norm statistics in '%s'", name);
        }
    }
    return ASSAY_OK;
}
