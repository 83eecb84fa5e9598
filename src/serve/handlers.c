/* handlers.c - the routes of `assay serve`, from a complete request (method, path, body) to a
 * status and a JSON body. It knows nothing of sockets (server.c does) and is called from the
 * request threads concurrently: every handler holds a reference to the model version it uses.
 *
 *   POST /v1/models/{name}[/versions/{v}]:predict   predictions (+ probabilities)
 *   POST /v1/models/{name}[/versions/{v}]:explain   per-feature contributions (gbdt)
 *   POST /v1/models/{name}:reload                   reload from the file or the registry
 *   GET  /v1/models, /v1/models/{name}[/versions/{v}], /v1/models/{name}/drift
 *   GET  /healthz, /readyz, /metrics
 * Numbers are printed with %.17g, so a served probability equals `assay predict --proba`. */
#include <stdarg.h>

#include "serve_internal.h"

/* Append a string literal (its length known at compile time). */
#define LIT(b, s) assay_buf_append((b), (s), sizeof(s) - 1)

int assay__json_string(assay_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    int rc = LIT(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        const unsigned char *q = p;
        while (*q >= 0x20 && *q != '"' && *q != '\\') q++;
        if (q > p) {
            rc = assay_buf_append(b, p, (size_t)(q - p));
            p = q;
            if (!*p) break;
        }
        char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
        if (*p == '"' || *p == '\\') {
            esc[1] = (char)*p;
            rc = assay_buf_append(b, esc, 2);
        } else if (*p == '\n') rc = LIT(b, "\\n");
        else if (*p == '\t') rc = LIT(b, "\\t");
        else if (*p == '\r') rc = LIT(b, "\\r");
        else rc = assay_buf_append(b, esc, 6);
    }
    if (!rc) rc = LIT(b, "\"");
    return rc;
}

void assay__reply_error(serve_reply *r, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = status;
    r->body.len = 0;
    assay_buf_printf(&r->body, "{\"error\":{\"code\":%d,\"message\":", status);
    assay__json_string(&r->body, msg);
    LIT(&r->body, "}}");
}

static void num(assay_buf *b, double v) {
    if (isfinite(v)) assay_buf_printf(b, "%.17g", v);
    else LIT(b, "null");
}

static void model_ref(assay_buf *b, const served *v) {
    LIT(b, "\"model\":{\"name\":");
    assay__json_string(b, v->name);
    assay_buf_printf(b, ",\"version\":%d}", v->version);
}

/* Status for a library error from a request's data: the client's fault unless memory or an
 * internal failure. */
static int status_of(int code) {
    return code == ASSAY_ENOMEM || code == ASSAY_EINTERNAL || code == ASSAY_EIO ? 500 : 400;
}

/* Parse and tabulate a prediction body; 0 or an error already in r. */
static int read_body(assay_server *s, const served *v, const char *body, size_t len, json_t **doc,
                     req_table *rt, serve_reply *r) {
    json_error_t je;
    *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!*doc) {
        assay__reply_error(r, 400, "malformed JSON at line %d, column %d: %s", je.line, je.column,
                           je.text);
        return -1;
    }
    assay_error err = {0};
    int rc = assay__instances_table(v->m, *doc, s->o.max_instances, rt, &err);
    if (rc) {
        assay__reply_error(r, status_of(rc), "%s", err.msg);
        return -1;
    }
    return 0;
}

static void predict(assay_server *s, served *v, const char *body, size_t len, serve_reply *r) {
    json_t *doc = NULL;
    req_table rt = {0};
    double *out = NULL;
    if (read_body(s, v, body, len, &doc, &rt, r)) goto done;
    int64_t n = rt.t.nrows;
    int width = assay_model_output_width(v->m), K = assay_model_nclasses(v->m);
    const int multi = assay_model_task(v->m) == ASSAY_TASK_MULTILABEL;
    /* "threshold": a per-request decision threshold for a binary or multilabel model (else the
     * saved one); a multilabel prediction is the array of labels at or above it */
    const json_t *tj = json_object_get(doc, "threshold");
    double thr = -1;
    if (tj) {
        thr = json_number_value(tj);
        if (K != 2 && !multi) {
            assay__reply_error(r, 400, "\"threshold\" applies to binary and multilabel models; '%s' is %s", v->name,
                               assay_task_name(assay_model_task(v->m)));
            goto done;
        }
        if (!json_is_number(tj) || !(thr >= 0 && thr <= 1)) {
            assay__reply_error(r, 400, "\"threshold\" must be a number in [0, 1]");
            goto done;
        }
    }
    out = assay_malloc(sizeof *out * (size_t)n * (size_t)width);
    assay_error err = {0};
    int rc = out ? assay_model_predict(v->m, &rt.t, NULL, n, out, &err)
                 : assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
    if (rc) {
        assay__reply_error(r, status_of(rc), "%s", err.msg);
        goto done;
    }
    assay_buf *b = &r->body;
    LIT(b, "{\"predictions\":[");
    for (int64_t i = 0; i < n; i++) {
        if (i) LIT(b, ",");
        if (multi) {
            double t = thr < 0 ? assay_model_threshold(v->m) : thr;
            int any = 0;
            LIT(b, "[");
            for (int k = 0; k < K; k++) {
                if (!(out[i * width + k] >= t)) continue;
                if (any++) LIT(b, ",");
                assay_buf_append(b, v->label_json[k], strlen(v->label_json[k]));
                atomic_fetch_add_explicit(&v->predicted[k], 1, memory_order_relaxed);
            }
            LIT(b, "]");
        } else if (K) {
            int pos = assay_model_positive(v->m);
            int k = thr < 0 ? assay_model_decide(v->m, out + i * width)
                            : out[i * width + pos] >= thr ? pos : 1 - pos;
            assay_buf_append(b, v->label_json[k], strlen(v->label_json[k]));
            atomic_fetch_add_explicit(&v->predicted[k], 1, memory_order_relaxed);
        } else {
            num(b, out[i]);
        }
    }
    LIT(b, "]");
    if (K) {
        LIT(b, ",\"probabilities\":[");
        for (int64_t i = 0; i < n; i++) {
            (i ? LIT(b, ",[") : LIT(b, "["));
            for (int k = 0; k < K; k++) {
                if (k) LIT(b, ",");
                num(b, out[i * width + k]);
            }
            LIT(b, "]");
        }
        LIT(b, "],\"labels\":[");
        for (int k = 0; k < K; k++) {
            if (k) LIT(b, ",");
            assay_buf_append(b, v->label_json[k], strlen(v->label_json[k]));
        }
        LIT(b, "]");
    }
    LIT(b, ",");
    model_ref(b, v);
    LIT(b, "}");
    r->status = b->data ? 200 : 500;
    r->instances = n;
    assay__drift_add(v->drift, &rt.t);
done:
    assay_free(out);
    assay__req_table_deinit(&rt);
    json_decref(doc);
}

static void explain(assay_server *s, served *v, const char *body, size_t len, serve_reply *r) {
    int ew = assay_model_explain_width(v->m);
    if (!ew) {
        assay__reply_error(r, 400, "model '%s' (%s) has no per-feature explanations (gbdt models have them)",
                           v->name, assay_model_kind(v->m));
        return;
    }
    json_t *doc = NULL;
    req_table rt = {0};
    double *out = NULL, *phi = NULL;
    if (read_body(s, v, body, len, &doc, &rt, r)) goto done;
    int64_t n = rt.t.nrows, d = assay_model_nfeatures(v->m);
    int width = assay_model_output_width(v->m), K = assay_model_nclasses(v->m);
    out = assay_malloc(sizeof *out * (size_t)n * (size_t)width);
    phi = assay_malloc(sizeof *phi * (size_t)n * (size_t)ew * (size_t)(d + 1));
    assay_error err = {0};
    int rc = !out || !phi ? assay_error_set(&err, ASSAY_ENOMEM, "out of memory")
                          : assay_model_predict(v->m, &rt.t, NULL, n, out, &err);
    if (!rc) rc = assay_model_explain(v->m, &rt.t, NULL, n, phi, &err);
    if (rc) {
        assay__reply_error(r, status_of(rc), "%s", err.msg);
        goto done;
    }
    const assay_pipeline *p = assay_model_pipeline(v->m);
    assay_buf *b = &r->body;
    LIT(b, "{\"explanations\":[");
    for (int64_t i = 0; i < n; i++) {
        /* The explained output: the only one, or the decided class of a multiclass model. */
        int o = ew == 1 ? 0 : assay_model_decide(v->m, out + i * width);
        const double *ph = phi + ((size_t)i * (size_t)ew + (size_t)o) * (size_t)(d + 1);
        (i ? LIT(b, ",{\"output\":") : LIT(b, "{\"output\":"));
        if (!K) LIT(b, "\"value\"");
        else {
            int k = ew == 1 ? assay_model_positive(v->m) : o;
            assay_buf_append(b, v->label_json[k], strlen(v->label_json[k]));
        }
        LIT(b, ",\"bias\":");
        num(b, ph[d]);
        LIT(b, ",\"contributions\":{");
        int first = 1;
        for (int64_t j = 0; j < d; j++) {
            if (ph[j] == 0.0) continue;
            if (!first) LIT(b, ",");
            first = 0;
            assay__json_string(b, assay_pipeline_feature_name(p, j));
            LIT(b, ":");
            num(b, ph[j]);
        }
        LIT(b, "}}");
    }
    LIT(b, "],");
    model_ref(b, v);
    LIT(b, "}");
    r->status = b->data ? 200 : 500;
    r->instances = n;
done:
    assay_free(out);
    assay_free(phi);
    assay__req_table_deinit(&rt);
    json_decref(doc);
}

/* One served version's description, for the listings. */
static void describe(assay_buf *b, const served *v, int full) {
    const assay_model *m = v->m;
    LIT(b, "{\"name\":");
    assay__json_string(b, v->name);
    assay_buf_printf(b, ",\"version\":%d,\"kind\":", v->version);
    assay__json_string(b, assay_model_kind(m));
    assay_buf_printf(b, ",\"task\":\"%s\",\"source\":", assay_task_name(assay_model_task(m)));
    assay__json_string(b, v->source);
    if (full) {
        const assay_pipeline *p = assay_model_pipeline(m);
        LIT(b, ",\"target\":");
        assay__json_string(b, assay_model_target(m));
        LIT(b, ",\"inputs\":[");
        for (int i = 0; i < assay_pipeline_ninputs(p); i++) {
            (i ? LIT(b, ",{\"name\":") : LIT(b, "{\"name\":"));
            assay__json_string(b, assay_pipeline_input_name(p, i));
            assay_buf_printf(b, ",\"type\":\"%s\"}", assay_coltype_name(assay_pipeline_input_type(p, i)));
        }
        LIT(b, "]");
        int K = assay_model_nclasses(m);
        if (K) {
            LIT(b, ",\"labels\":[");
            for (int k = 0; k < K; k++) {
                if (k) LIT(b, ",");
                assay_buf_append(b, v->label_json[k], strlen(v->label_json[k]));
            }
            LIT(b, "]");
            if (K == 2) {
                LIT(b, ",\"positive\":");
                assay_buf_append(b, v->label_json[assay_model_positive(m)],
                                 strlen(v->label_json[assay_model_positive(m)]));
                LIT(b, ",\"threshold\":");
                num(b, assay_model_threshold(m));
            }
        }
        const char *metrics = assay_model_info(m, "metrics");
        LIT(b, ",\"metrics\":");
        if (metrics) assay_buf_append(b, metrics, strlen(metrics));
        else LIT(b, "null");
        assay_buf_printf(b, ",\"explain\":%s,\"drift\":%s,\"load_seconds\":%.6f",
                         assay_model_explain_width(m) ? "true" : "false", v->drift ? "true" : "false",
                         v->load_seconds);
    }
    LIT(b, "}");
}

/* Snapshot of the served versions (each referenced); release with release_all. */
static served **snapshot(assay_server *s, int *n) {
    pthread_mutex_lock(&s->mu);
    *n = s->nslots;
    served **v = assay_calloc((size_t)*n + 1, sizeof *v);
    for (int i = 0; v && i < *n; i++) {
        v[i] = s->slots[i].cur;
        atomic_fetch_add(&v[i]->refs, 1);
    }
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void release_all(served **v, int n) {
    for (int i = 0; v && i < n; i++) assay__serve_release(v[i]);
    assay_free(v);
}

static void list_models(assay_server *s, serve_reply *r) {
    int n;
    served **v = snapshot(s, &n);
    if (!v) return assay__reply_error(r, 500, "out of memory");
    LIT(&r->body, "{\"models\":[");
    for (int i = 0; i < n; i++) {
        if (i) LIT(&r->body, ",");
        describe(&r->body, v[i], 0);
    }
    LIT(&r->body, "]}");
    release_all(v, n);
    r->status = r->body.data ? 200 : 500;
}

static void model_info(assay_server *s, const char *name, int version, serve_reply *r) {
    int n, found = 0;
    served **v = snapshot(s, &n);
    if (!v) return assay__reply_error(r, 500, "out of memory");
    LIT(&r->body, "{\"name\":");
    assay__json_string(&r->body, name);
    LIT(&r->body, ",\"versions\":[");
    for (int i = 0; i < n; i++) {
        if (strcmp(v[i]->name, name) != 0 || (version && v[i]->version != version)) continue;
        if (found++) LIT(&r->body, ",");
        describe(&r->body, v[i], 1);
    }
    LIT(&r->body, "]}");
    release_all(v, n);
    if (!found) {
        if (version) assay__reply_error(r, 404, "model '%s' version %d is not served", name, version);
        else assay__reply_error(r, 404, "model '%s' is not served (GET /v1/models lists them)", name);
        return;
    }
    r->status = r->body.data ? 200 : 500;
}

static void drift(served *v, serve_reply *r) {
    drift_state *d = v->drift;
    if (!d) {
        assay__reply_error(r, 404, "model '%s' version %d has no training distributions (fit it with this assay to get them)",
                           v->name, v->version);
        return;
    }
    double *psi = assay_calloc((size_t)d->nf + 1, sizeof *psi);
    if (!psi) return assay__reply_error(r, 500, "out of memory");
    int64_t n = assay__drift_psi(d, psi);
    assay_buf *b = &r->body;
    LIT(b, "{");
    model_ref(b, v);
    assay_buf_printf(b, ",\"window\":%lld,\"window_size\":%d,\"features\":[", (long long)n, d->window);
    for (int f = 0; f < d->nf; f++) {
        (f ? LIT(b, ",{\"name\":") : LIT(b, "{\"name\":"));
        assay__json_string(b, d->f[f].name);
        LIT(b, ",\"psi\":");
        num(b, psi[f]);
        assay_buf_printf(b, ",\"status\":\"%s\"}", assay__drift_status(psi[f], n));
    }
    LIT(b, "]}");
    assay_free(psi);
    r->status = b->data ? 200 : 500;
}

static void reload(assay_server *s, const char *name, serve_reply *r) {
    assay_error err = {0};
    int rc = assay_server_reload(s, name, &err);
    if (rc) {
        assay__reply_error(r, rc == ASSAY_ENOTFOUND ? 404 : 500, "reload failed: %s", err.msg);
        return;
    }
    served *v = assay__serve_acquire(s, name, 0);
    LIT(&r->body, "{\"reloaded\":true,");
    if (v) model_ref(&r->body, v);
    else LIT(&r->body, "\"model\":null");
    LIT(&r->body, "}");
    assay__serve_release(v);
    r->status = r->body.data ? 200 : 500;
}

static int method_is(const char *m, const char *want, serve_reply *r) {
    if (strcmp(m, want) == 0) return 1;
    r->allow = want;
    assay__reply_error(r, 405, "method %s is not allowed here; use %s", m, want);
    return 0;
}

#define V1 "/v1/models"

void assay__serve_handle(assay_server *s, const char *method, const char *url, const char *body,
                         size_t len, serve_reply *r) {
    r->status = 500;
    r->route = R_OTHER;
    if (strcmp(url, "/healthz") == 0) {
        r->route = R_HEALTHZ;
        if (!method_is(method, "GET", r)) return;
        assay_buf_printf(&r->body, "{\"status\":\"ok\"}");
        r->status = 200;
        return;
    }
    if (strcmp(url, "/readyz") == 0) {
        r->route = R_READYZ;
        if (!method_is(method, "GET", r)) return;
        if (atomic_load(&s->draining)) return assay__reply_error(r, 503, "draining: not taking new requests");
        assay_buf_printf(&r->body, "{\"status\":\"ready\",\"models\":%d}", s->nslots);
        r->status = 200;
        return;
    }
    if (strcmp(url, "/metrics") == 0) {
        r->route = R_METRICS;
        if (!method_is(method, "GET", r)) return;
        r->status = assay__metrics_text(s, &r->body) ? 500 : 200;
        return;
    }
    if (strcmp(url, V1) == 0 || strcmp(url, V1 "/") == 0) {
        r->route = R_MODELS;
        if (method_is(method, "GET", r)) list_models(s, r);
        return;
    }
    if (strncmp(url, V1 "/", sizeof V1) != 0)
        return assay__reply_error(r, 404, "no route %s (see GET /v1/models)", url);

    /* /v1/models/{name}[/versions/{v}][/drift][:verb] */
    char path[512];
    snprintf(path, sizeof path, "%s", url + sizeof V1);
    char *verb = strrchr(path, ':');
    if (verb) *verb++ = '\0';
    int version = 0, is_drift = 0;
    char *slash = strchr(path, '/');
    if (slash) {
        *slash++ = '\0';
        if (strcmp(slash, "drift") == 0 && !verb) {
            is_drift = 1;
        } else if (strncmp(slash, "versions/", 9) == 0) {
            char *end;
            long vv = strtol(slash + 9, &end, 10);
            if (end == slash + 9 || *end || vv < 1 || vv > 1000000000)
                return assay__reply_error(r, 404, "no route %s: a version is a positive number", url);
            version = (int)vv;
        } else {
            return assay__reply_error(r, 404, "no route %s (see GET /v1/models)", url);
        }
    }
    const char *name = path;
    if (!*name) return assay__reply_error(r, 404, "no route %s: no model name", url);
    if (verb) {
        if (strcmp(verb, "predict") == 0) r->route = R_PREDICT;
        else if (strcmp(verb, "explain") == 0) r->route = R_EXPLAIN;
        else if (strcmp(verb, "reload") == 0 && !version) r->route = R_RELOAD;
        else return assay__reply_error(r, 404, "no route %s: the verbs are :predict, :explain and :reload", url);
        if (!method_is(method, "POST", r)) return;
        if (r->route == R_RELOAD) return reload(s, name, r);
    } else {
        r->route = is_drift ? R_DRIFT : R_MODEL;
        if (!method_is(method, "GET", r)) return;
        if (!is_drift) return model_info(s, name, version, r);
    }
    served *v = assay__serve_acquire(s, name, version);
    if (!v) {
        if (version && (v = assay__serve_acquire(s, name, 0))) {
            assay__serve_release(v);
            return assay__reply_error(r, 404, "model '%s' has no version %d served", name, version);
        }
        return assay__reply_error(r, 404, "model '%s' is not served (GET /v1/models lists them)", name);
    }
    if (r->route == R_PREDICT) predict(s, v, body, len, r);
    else if (r->route == R_EXPLAIN) explain(s, v, body, len, r);
    else drift(v, r);
    r->model = v->name;
    r->version = v->version;
    r->held = v; /* r->model points into v: the caller logs, then releases it */
}
