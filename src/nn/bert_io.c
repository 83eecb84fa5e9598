/* bert_io.c - BERT's files: config.json (parse, check, write) and the model.safetensors
 * checkpoint with Hugging Face's tensor names (load, save), through bert.h's public interface
 * only (the named views of the parameter buffer).
 *
 * Hugging Face checkpoints carry no "assay.format" metadata, which the model file reader
 * requires; assay_bert_checkpoint_read adds it to the header in memory and then lets the reader
 * validate everything as for any model file (bounds, overlaps, dtypes, shapes against byte
 * counts).
 *
 * Not here: the model itself (bert.c), vocab.txt (wordpiece.h), F16/BF16 tensors (the reader
 * refuses them), sharded checkpoints (model.safetensors.index.json), pytorch_model.bin. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"
#include "assay/bert.h"

#define MAX_DIM (1 << 20) /* any one dimension: products of two stay far inside int64 */

/* ---- config ------------------------------------------------------------------------------ */

void assay_bert_config_defaults(assay_bert_config *c) {
    memset(c, 0, sizeof *c);
    c->vocab_size = 30522;
    c->hidden_size = 768;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 12;
    c->intermediate_size = 3072;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->num_labels = 0;
    c->layer_norm_eps = 1e-12f;
    c->hidden_dropout_prob = 0.1f;
    c->attention_probs_dropout_prob = 0.1f;
    c->classifier_dropout = 0.1f;
}

const char *assay_bert_config_check(const assay_bert_config *c) {
    static const char *const msg[] = {
        "vocab_size must be in [1, 2^20]",        "hidden_size must be in [1, 2^20]",
        "num_hidden_layers must be in [0, 1024]", "num_attention_heads must be in [1, 2^20]",
        "intermediate_size must be in [1, 2^20]", "max_position_embeddings must be in [1, 2^20]",
        "type_vocab_size must be in [1, 2^20]",   "num_labels must be in [0, 2^20]",
        "layer_norm_eps must be positive and finite",
        "dropout probabilities must lie in [0, 1)",
        "hidden_size is not a multiple of num_attention_heads",
    };
    if (c->vocab_size < 1 || c->vocab_size > MAX_DIM) return msg[0];
    if (c->hidden_size < 1 || c->hidden_size > MAX_DIM) return msg[1];
    if (c->num_hidden_layers < 0 || c->num_hidden_layers > 1024) return msg[2];
    if (c->num_attention_heads < 1 || c->num_attention_heads > MAX_DIM) return msg[3];
    if (c->intermediate_size < 1 || c->intermediate_size > MAX_DIM) return msg[4];
    if (c->max_position_embeddings < 1 || c->max_position_embeddings > MAX_DIM) return msg[5];
    if (c->type_vocab_size < 1 || c->type_vocab_size > MAX_DIM) return msg[6];
    if (c->num_labels < 0 || c->num_labels > MAX_DIM) return msg[7];
    if (!(c->layer_norm_eps > 0) || !isfinite(c->layer_norm_eps)) return msg[8];
    const float p[3] = {c->hidden_dropout_prob, c->attention_probs_dropout_prob,
                        c->classifier_dropout};
    for (int i = 0; i < 3; i++)
        if (!(p[i] >= 0.0f && p[i] < 1.0f)) return msg[9];
    if (c->hidden_size % c->num_attention_heads) return msg[10];
    return NULL;
}

/* An integer key into *v if present. */
static int cfg_int(json_t *root, const char *key, int *v, const char *name, assay_error *err) {
    json_t *j = json_object_get(root, key);
    if (!j) return ASSAY_OK;
    if (!json_is_integer(j) || json_integer_value(j) < INT_MIN || json_integer_value(j) > INT_MAX)
        return assay_error_set(err, ASSAY_EPARSE, "%s: \"%s\" is not an integer", name, key);
    *v = (int)json_integer_value(j);
    return ASSAY_OK;
}

/* A number key into *v if present (null leaves *v, for classifier_dropout). */
static int cfg_num(json_t *root, const char *key, float *v, const char *name, assay_error *err) {
    json_t *j = json_object_get(root, key);
    if (!j || json_is_null(j)) return ASSAY_OK;
    if (!json_is_number(j))
        return assay_error_set(err, ASSAY_EPARSE, "%s: \"%s\" is not a number", name, key);
    *v = (float)json_number_value(j);
    return ASSAY_OK;
}

/* A string key that must equal want when present (required: must be present). */
static int cfg_str(json_t *root, const char *key, const char *want, int required,
                   const char *why, const char *name, assay_error *err) {
    json_t *j = json_object_get(root, key);
    if (!j && !required) return ASSAY_OK;
    if (!j) return assay_error_set(err, ASSAY_EPARSE, "%s: no \"%s\" (%s)", name, key, why);
    if (!json_is_string(j))
        return assay_error_set(err, ASSAY_EPARSE, "%s: \"%s\" is not a string", name, key);
    if (strcmp(json_string_value(j), want) != 0)
        return assay_error_set(err, ASSAY_ENOTSUP, "%s: %s \"%.48s\" is not supported (%s)",
                               name, key, json_string_value(j), why);
    return ASSAY_OK;
}

int assay_bert_config_parse(const char *text, size_t n, const char *name, assay_bert_config *c,
                            assay_error *err) {
    assay_bert_config_defaults(c);
    json_error_t je;
    json_t *root = json_loadb(text, n, 0, &je);
    if (!root)
        return assay_error_set(err, ASSAY_EPARSE, "%s:%d:%d: %s", name, je.line, je.column,
                               je.text);
    int rc = ASSAY_OK;
    if (!json_is_object(root)) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: not a JSON object", name);
        goto done;
    }
    if ((rc = cfg_str(root, "model_type", "bert", 1, "only \"bert\" is", name, err)) ||
        (rc = cfg_str(root, "hidden_act", "gelu", 0, "only \"gelu\", the exact erf GELU, is",
                      name, err)) ||
        (rc = cfg_str(root, "position_embedding_type", "absolute", 0,
                      "only \"absolute\" is", name, err)))
        goto done;
    c->num_labels = 0;
    json_t *id2label = json_object_get(root, "id2label");
    if (json_is_object(id2label)) c->num_labels = (int)json_object_size(id2label);
    float cls_drop = -1.0f;
    if ((rc = cfg_int(root, "vocab_size", &c->vocab_size, name, err)) ||
        (rc = cfg_int(root, "hidden_size", &c->hidden_size, name, err)) ||
        (rc = cfg_int(root, "num_hidden_layers", &c->num_hidden_layers, name, err)) ||
        (rc = cfg_int(root, "num_attention_heads", &c->num_attention_heads, name, err)) ||
        (rc = cfg_int(root, "intermediate_size", &c->intermediate_size, name, err)) ||
        (rc = cfg_int(root, "max_position_embeddings", &c->max_position_embeddings, name, err)) ||
        (rc = cfg_int(root, "type_vocab_size", &c->type_vocab_size, name, err)) ||
        (rc = cfg_int(root, "num_labels", &c->num_labels, name, err)) ||
        (rc = cfg_num(root, "layer_norm_eps", &c->layer_norm_eps, name, err)) ||
        (rc = cfg_num(root, "hidden_dropout_prob", &c->hidden_dropout_prob, name, err)) ||
        (rc = cfg_num(root, "attention_probs_dropout_prob", &c->attention_probs_dropout_prob,
                      name, err)) ||
        (rc = cfg_num(root, "classifier_dropout", &cls_drop, name, err)))
        goto done;
    c->classifier_dropout = cls_drop >= 0.0f ? cls_drop : c->hidden_dropout_prob;
    const char *bad = assay_bert_config_check(c);
    if (bad) {
        if (c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads == 0)
            rc = assay_error_set(err, ASSAY_EINVAL, "%s: %s", name, bad);
        else
            rc = assay_error_set(err, ASSAY_EINVAL, "%s: %s (hidden_size %d, %d heads)", name,
                                 bad, c->hidden_size, c->num_attention_heads);
    }
done:
    json_decref(root);
    return rc;
}

/* The whole of a file into *buf (assay_malloc'ed, NUL-terminated), its size in *n. */
static int read_file(const char *path, char **buf, size_t *n, assay_error *err) {
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
    int rc = ASSAY_OK;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: cannot determine the size", path);
        goto done;
    }
    *buf = assay_malloc((size_t)len + 1);
    if (!*buf) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory for %ld bytes", path, len);
        goto done;
    }
    if (fread(*buf, 1, (size_t)len, f) != (size_t)len) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: read error", path);
        assay_free(*buf);
        *buf = NULL;
        goto done;
    }
    (*buf)[len] = '\0';
    *n = (size_t)len;
done:
    fclose(f);
    return rc;
}

int assay_bert_config_load(const char *path, assay_bert_config *c, assay_error *err) {
    char *text;
    size_t n;
    int rc = read_file(path, &text, &n, err);
    if (rc) return rc;
    rc = assay_bert_config_parse(text, n, path, c, err);
    assay_free(text);
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

/* Load a safetensors file with the model file reader, giving it the "assay.format" metadata it
 * requires when the file (a Hugging Face checkpoint) has none: the header is re-serialized with
 * the key added, the tensor bytes follow unchanged. */
int assay_bert_checkpoint_read(const char *path, assay_mfile **out, assay_error *err) {
    char *buf;
    size_t len;
    *out = NULL;
    int rc = read_file(path, &buf, &len, err);
    if (rc) return rc;
    uint64_t hlen = 0;
    if (len >= 8) memcpy(&hlen, buf, 8);
    json_t *root = NULL;
    char *head = NULL, *nbuf = NULL;
    if (len < 8 || hlen == 0 || hlen > len - 8) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: not a safetensors file (header length)", path);
        goto done;
    }
    json_error_t je;
    root = json_loadb(buf + 8, (size_t)hlen, 0, &je);
    if (!json_is_object(root)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    json_t *meta = json_object_get(root, "__metadata__");
    if (json_is_object(meta) && json_object_get(meta, "assay.format")) {
        rc = assay_mfile_load_buffer(buf, len, path, out, err);
        goto done;
    }
    if (!meta) {
        meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta)) goto nomem;
    }
    if (!json_is_object(meta)) {
        rc = assay_error_set(err, ASSAY_EFORMAT, "%s: __metadata__ is not an object", path);
        goto done;
    }
    if (json_object_set_new(meta, "assay.format", json_string("1"))) goto nomem;
    head = json_dumps(root, JSON_COMPACT);
    if (!head) goto nomem;
    size_t nh = strlen(head), padded = (nh + 7) / 8 * 8, data = len - 8 - (size_t)hlen;
    nbuf = assay_malloc(8 + padded + data);
    if (!nbuf) goto nomem;
    uint64_t nh64 = padded;
    memcpy(nbuf, &nh64, 8);
    memcpy(nbuf + 8, head, nh);
    memset(nbuf + 8 + nh, ' ', padded - nh);
    memcpy(nbuf + 8 + padded, buf + 8 + hlen, data);
    rc = assay_mfile_load_buffer(nbuf, 8 + padded + data, path, out, err);
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", path);
done:
    free(head); /* jansson's default allocator */
    assay_free(nbuf);
    json_decref(root);
    assay_free(buf);
    return rc;
}

/* Shape as "[a, b]". */
static const char *shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(s + k, cap - k, "]");
    return s;
}

/* The file's tensor for a view: its name, without "bert.", or with gamma/beta for LayerNorm's
 * weight/bias (old TensorFlow conversions). */
static const assay_tensor *find_tensor(const assay_mfile *f, const char *name) {
    const char *bare = strncmp(name, "bert.", 5) == 0 ? name + 5 : name;
    const assay_tensor *t = assay_mfile_tensor(f, name);
    if (!t) t = assay_mfile_tensor(f, bare);
    const char *ln = strstr(name, "LayerNorm.");
    if (!t && ln) {
        char alt[128];
        const int isw = strcmp(ln + 10, "weight") == 0;
        snprintf(alt, sizeof alt, "%.*s%s", (int)(ln + 10 - name), name, isw ? "gamma" : "beta");
        t = assay_mfile_tensor(f, alt);
        if (!t) t = assay_mfile_tensor(f, alt + (bare - name));
    }
    return t;
}

int assay_bert_load(const char *dir, int num_labels, uint64_t seed, assay_bert **out,
                    assay_error *err) {
    *out = NULL;
    char path[4096];
    assay_bert_config c;
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = assay_bert_config_load(path, &c, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assay_mfile *f = NULL;
    if ((rc = assay_bert_checkpoint_read(path, &f, err))) return rc;
    assay_bert *m = NULL;
    const assay_tensor *cw = assay_mfile_tensor(f, "classifier.weight");
    if (num_labels < 0) c.num_labels = 0;
    else if (num_labels > 0) c.num_labels = num_labels;
    else if (!cw) c.num_labels = 0;
    else if (c.num_labels == 0 && cw->ndim == 2)
        c.num_labels = (int)ASSAY_MIN(cw->shape[0], MAX_DIM);
    if ((rc = assay_bert_new(&c, seed, &m, err))) goto done;
    float *params = assay_bert_params(m, NULL);
    for (int i = 0; i < assay_bert_tensor_count(m); i++) {
        const assay_bert_tensor *v = assay_bert_tensor_at(m, i);
        const assay_tensor *t = find_tensor(f, v->name);
        const int head = strncmp(v->name, "classifier.", 11) == 0;
        if (!t && head && num_labels > 0) continue; /* a fresh head, initialized from seed */
        char want[64], got[64];
        if (!t) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "%s: missing tensor '%s' (expected %s)",
                                 path, v->name, shape_str(want, sizeof want, v->ndim, v->shape));
            goto done;
        }
        int ok = t->dtype == ASSAY_F32 && t->ndim == v->ndim;
        for (int d = 0; ok && d < v->ndim; d++) ok = t->shape[d] == v->shape[d];
        if (!ok) {
            rc = assay_error_set(err, ASSAY_EFORMAT,
                                 "%s: tensor '%s' is %s %s, expected F32 %s (config.json)", path,
                                 v->name, assay_dtype_name(t->dtype),
                                 shape_str(got, sizeof got, t->ndim, t->shape),
                                 shape_str(want, sizeof want, v->ndim, v->shape));
            goto done;
        }
        memcpy(params + v->offset, t->data, (size_t)v->numel * sizeof(float));
    }
    *out = m;
    m = NULL;
done:
    assay_bert_free(m);
    assay_mfile_free(f);
    return rc;
}

/* A float as JSON, through its shortest decimal form (1e-12, not 9.9999999600419720e-13). */
static json_t *json_float(float v) {
    char s[32];
    snprintf(s, sizeof s, "%.9g", (double)v);
    for (int p = 6; p < 9; p++) {
        char t[32];
        snprintf(t, sizeof t, "%.*g", p, (double)v);
        if ((float)strtod(t, NULL) == v) {
            memcpy(s, t, sizeof s);
            break;
        }
    }
    return json_real(strtod(s, NULL));
}

/* Write text to path atomically: path.tmp, fsync, rename. */
static int write_atomic(const char *path, const char *text, assay_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    int ok = fp && fputs(text, fp) >= 0 && fputc('\n', fp) != EOF && fflush(fp) == 0 &&
             fsync(fileno(fp)) == 0;
    if (fp && fclose(fp)) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        const int e = errno;
        remove(tmp);
        return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(e));
    }
    return ASSAY_OK;
}

char *assay_bert_config_to_json(const assay_bert_config *c, const char *extra_json) {
    json_t *j = json_object(), *arch = json_array(), *id2 = json_object(), *l2i = json_object();
    int bad = !j || !arch || !id2 || !l2i;
    if (!bad) {
        bad |= json_array_append_new(arch, json_string(c->num_labels ? "BertForSequenceClassification"
                                                                     : "BertModel"));
        bad |= json_object_set_new(j, "architectures", arch);
        arch = NULL;
        bad |= json_object_set_new(j, "model_type", json_string("bert"));
        bad |= json_object_set_new(j, "vocab_size", json_integer(c->vocab_size));
        bad |= json_object_set_new(j, "hidden_size", json_integer(c->hidden_size));
        bad |= json_object_set_new(j, "num_hidden_layers", json_integer(c->num_hidden_layers));
        bad |= json_object_set_new(j, "num_attention_heads", json_integer(c->num_attention_heads));
        bad |= json_object_set_new(j, "intermediate_size", json_integer(c->intermediate_size));
        bad |= json_object_set_new(j, "hidden_act", json_string("gelu"));
        bad |= json_object_set_new(j, "max_position_embeddings",
                                   json_integer(c->max_position_embeddings));
        bad |= json_object_set_new(j, "type_vocab_size", json_integer(c->type_vocab_size));
        bad |= json_object_set_new(j, "layer_norm_eps", json_float(c->layer_norm_eps));
        bad |= json_object_set_new(j, "hidden_dropout_prob", json_float(c->hidden_dropout_prob));
        bad |= json_object_set_new(j, "attention_probs_dropout_prob",
                                   json_float(c->attention_probs_dropout_prob));
        bad |= json_object_set_new(j, "classifier_dropout", json_float(c->classifier_dropout));
        bad |= json_object_set_new(j, "position_embedding_type", json_string("absolute"));
        bad |= json_object_set_new(j, "initializer_range", json_real(0.02));
        for (int k = 0; k < c->num_labels && !bad; k++) {
            char key[16], lab[32];
            snprintf(key, sizeof key, "%d", k);
            snprintf(lab, sizeof lab, "LABEL_%d", k);
            bad |= json_object_set_new(id2, key, json_string(lab));
            bad |= json_object_set_new(l2i, lab, json_integer(k));
        }
        if (c->num_labels) {
            bad |= json_object_set_new(j, "id2label", id2);
            bad |= json_object_set_new(j, "label2id", l2i);
            id2 = l2i = NULL;
        }
    }
    if (!bad && extra_json) { /* keys added or replaced by the caller */
        json_t *x = json_loads(extra_json, 0, NULL);
        bad |= !json_is_object(x) || json_object_update(j, x);
        json_decref(x);
    }
    char *text = bad ? NULL : json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *copy = text ? assay_strdup(text) : NULL;
    free(text);
    json_decref(j);
    json_decref(arch);
    json_decref(id2);
    json_decref(l2i);
    return copy;
}

int assay_bert_config_save(const assay_bert_config *c, const char *extra_json, const char *path,
                           assay_error *err) {
    char *text = assay_bert_config_to_json(c, extra_json);
    if (!text) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", path);
    int rc = write_atomic(path, text, err);
    assay_free(text);
    return rc;
}

int assay_bert_add_tensors(const assay_bert *m, assay_mfile_writer *w, assay_error *err) {
    /* the buffer is only read; assay_bert_params hands out a writable pointer */
    const float *params = assay_bert_params((assay_bert *)(uintptr_t)m, NULL);
    int rc = ASSAY_OK;
    for (int i = 0; i < assay_bert_tensor_count(m) && !rc; i++) {
        const assay_bert_tensor *t = assay_bert_tensor_at(m, i);
        rc = assay_mfile_writer_add(w, t->name, ASSAY_F32, t->ndim, t->shape, params + t->offset,
                                    err);
    }
    return rc;
}

int assay_bert_save(const assay_bert *m, const char *dir, assay_error *err) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return assay_error_set(err, ASSAY_EIO, "%s: %s", dir, strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = assay_bert_config_save(assay_bert_get_config(m), NULL, path, err);
    if (rc) return rc;
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (!w) return assay_error_set(err, ASSAY_ENOMEM, "bert: out of memory");
    rc = assay_bert_add_tensors(m, w, err);
    if (!rc) rc = assay_mfile_writer_meta(w, "format", "pt", err);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = assay_mfile_writer_save(w, path, err);
    assay_mfile_writer_free(w);
    return rc;
}

