/* mfile.c - the model file: a safetensors file (https://github.com/huggingface/safetensors).
 *
 *   [8-byte little-endian u64 N][N bytes of UTF-8 JSON, space-padded to a multiple of 8][bytes]
 *
 * The JSON header maps each tensor name to {"dtype","shape","data_offsets":[begin,end]} (offsets
 * relative to the byte buffer) plus an optional "__metadata__" object of string -> string, where
 * assay keeps "assay.format". The writer orders tensors by name with contiguous offsets and saves
 * atomically (temporary file, fsync, rename, fsync of the directory). The loader reads the whole
 * file into memory and validates every field before handing out a view; tensors must tile the
 * byte buffer exactly, as the safetensors library requires.
 *
 * Not here: memory mapping (files are read whole), dtypes beyond F32/F64/I32/I64/U8 (BF16, F16
 * ... are rejected as unknown), big-endian hosts (static assertion below). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "assay model files are little-endian; this host is not");

#define MAX_HEADER (100u * 1000u * 1000u) /* bytes of JSON header we agree to parse */
#define META_KEY "__metadata__"
#define FORMAT_KEY "assay.format"

/* ---- shared helpers ---------------------------------------------------------------------- */

/* "NAME: message" into err; returns code */
__attribute__((format(printf, 4, 5))) static int fail(assay_error *err, int code, const char *name,
                                                      const char *fmt, ...) {
    if (!err) return code;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return assay_error_set(err, code, "%s: %s", name, msg);
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF), the same rule as
 * jansson, so a string that passes here is never refused by json_string(). */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
        else return 0;
        if (n - i < (size_t)len) return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/* for arrays of structs whose first member is the name (char *) */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- writer ------------------------------------------------------------------------------ */

typedef struct wentry {
    char *name; /* first member: entries sort with cmp_str */
    assay_dtype dtype;
    int ndim;
    int64_t shape[ASSAY_TENSOR_MAX_DIMS];
    void *data;
    size_t nbytes;
} wentry;

static int cmp_wentry_ptr(const void *a, const void *b) {
    return strcmp((*(const wentry *const *)a)->name, (*(const wentry *const *)b)->name);
}

typedef struct wmeta {
    char *key;
    char *value;
} wmeta;

struct assay_mfile_writer {
    wentry *t;
    int nt, capt;
    wmeta *m;
    int nm, capm;
};

assay_mfile_writer *assay_mfile_writer_new(void) {
    return assay_calloc(1, sizeof(assay_mfile_writer));
}

void assay_mfile_writer_free(assay_mfile_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->nt; i++) {
        assay_free(w->t[i].name);
        assay_free(w->t[i].data);
    }
    for (int i = 0; i < w->nm; i++) {
        assay_free(w->m[i].key);
        assay_free(w->m[i].value);
    }
    assay_free(w->t);
    assay_free(w->m);
    assay_free(w);
}

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return ASSAY_OK;
    int nc = *cap ? *cap * 2 : 8;
    if (nc < need) nc = need;
    void *q = assay_reallocarray(*p, (size_t)nc, elem);
    if (!q) return ASSAY_ENOMEM;
    *p = q;
    *cap = nc;
    return ASSAY_OK;
}

int assay_mfile_writer_add(assay_mfile_writer *w, const char *name, assay_dtype dtype, int ndim,
                           const int64_t *shape, const void *data, assay_error *err) {
    size_t nlen = name ? strlen(name) : 0;
    if (nlen == 0 || nlen > 255)
        return assay_error_set(err, ASSAY_EINVAL, "model file: tensor name must be 1..255 bytes");
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return assay_error_set(err, ASSAY_EINVAL,
                                   "model file: tensor name has a control character at byte %zu",
                                   i);
    }
    if (!utf8_valid((const unsigned char *)name, nlen))
        return assay_error_set(err, ASSAY_EUTF8, "model file: tensor name is not valid UTF-8");
    if (strcmp(name, META_KEY) == 0)
        return assay_error_set(err, ASSAY_EINVAL, "model file: tensor name '%s' is reserved", name);
    for (int i = 0; i < w->nt; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return assay_error_set(err, ASSAY_EINVAL, "model file: duplicate tensor name '%s'",
                                   name);
    if ((unsigned)dtype >= ASSAY_DTYPE_COUNT)
        return assay_error_set(err, ASSAY_EINVAL, "model file: tensor '%s': unknown dtype %d",
                               name, (int)dtype);
    if (ndim < 0 || ndim > ASSAY_TENSOR_MAX_DIMS)
        return assay_error_set(err, ASSAY_EINVAL,
                               "model file: tensor '%s': %d dimensions (0..%d allowed)", name, ndim,
                               ASSAY_TENSOR_MAX_DIMS);
    assay_tensor t = {.dtype = dtype, .ndim = ndim};
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    int64_t numel = assay_tensor_numel(&t);
    size_t es = assay_dtype_size(dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / es)
        return assay_error_set(err, ASSAY_EINVAL,
                               "model file: tensor '%s': negative or overflowing shape", name);
    size_t nbytes = (size_t)numel * es;
    if (nbytes > 0 && !data)
        return assay_error_set(err, ASSAY_EINVAL, "model file: tensor '%s': no data", name);
    if (grow((void **)&w->t, &w->capt, w->nt + 1, sizeof *w->t)) goto nomem;
    wentry *e = &w->t[w->nt];
    memset(e, 0, sizeof *e);
    e->name = assay_strdup(name);
    e->data = assay_malloc(nbytes);
    if (!e->name || !e->data) {
        assay_free(e->name);
        assay_free(e->data);
        goto nomem;
    }
    if (nbytes) memcpy(e->data, data, nbytes);
    e->dtype = dtype;
    e->ndim = ndim;
    memcpy(e->shape, t.shape, sizeof e->shape);
    e->nbytes = nbytes;
    w->nt++;
    return ASSAY_OK;
nomem:
    return assay_error_set(err, ASSAY_ENOMEM, "model file: tensor '%s': out of memory", name);
}

int assay_mfile_writer_meta(assay_mfile_writer *w, const char *key, const char *value,
                            assay_error *err) {
    if (!key || !key[0])
        return assay_error_set(err, ASSAY_EINVAL, "model file: empty metadata key");
    if (!value) return assay_error_set(err, ASSAY_EINVAL, "model file: metadata '%s': NULL", key);
    if (strcmp(key, FORMAT_KEY) == 0)
        return assay_error_set(err, ASSAY_EINVAL,
                               "model file: metadata '%s' is written automatically", key);
    if (!utf8_valid((const unsigned char *)key, strlen(key)))
        return assay_error_set(err, ASSAY_EUTF8, "model file: metadata key is not valid UTF-8");
    if (!utf8_valid((const unsigned char *)value, strlen(value)))
        return assay_error_set(err, ASSAY_EUTF8,
                               "model file: metadata '%s': value is not valid UTF-8", key);
    char *v = assay_strdup(value);
    if (!v) goto nomem;
    for (int i = 0; i < w->nm; i++) {
        if (strcmp(w->m[i].key, key) == 0) { /* replace */
            assay_free(w->m[i].value);
            w->m[i].value = v;
            return ASSAY_OK;
        }
    }
    char *k = assay_strdup(key);
    if (!k || grow((void **)&w->m, &w->capm, w->nm + 1, sizeof *w->m)) {
        assay_free(k);
        assay_free(v);
        goto nomem;
    }
    w->m[w->nm].key = k;
    w->m[w->nm].value = v;
    w->nm++;
    return ASSAY_OK;
nomem:
    return assay_error_set(err, ASSAY_ENOMEM, "model file: metadata '%s': out of memory", key);
}

/* The JSON header, compact, padded with spaces to a multiple of 8. order[] lists tensors by name. */
static int build_header(const assay_mfile_writer *w, wentry **order, char **out, size_t *out_len) {
    int rc = ASSAY_ENOMEM;
    json_t *root = json_object();
    json_t *meta = json_object();
    if (!root || !meta) {
        json_decref(meta);
        goto done;
    }
    if (json_object_set_new(root, META_KEY, meta)) goto done;
    char ver[32];
    snprintf(ver, sizeof ver, "%d", ASSAY_FORMAT_VERSION);
    if (json_object_set_new(meta, FORMAT_KEY, json_string(ver))) goto done;
    for (int i = 0; i < w->nm; i++)
        if (json_object_set_new(meta, w->m[i].key, json_string(w->m[i].value))) goto done;
    uint64_t off = 0;
    for (int i = 0; i < w->nt; i++) {
        const wentry *e = order[i];
        json_t *shape = json_array();
        json_t *offs = json_array();
        json_t *ent = json_object();
        int bad = !shape || !offs || !ent;
        for (int d = 0; !bad && d < e->ndim; d++)
            bad = json_array_append_new(shape, json_integer(e->shape[d]));
        if (!bad) bad = json_array_append_new(offs, json_integer((json_int_t)off));
        if (!bad) bad = json_array_append_new(offs, json_integer((json_int_t)(off + e->nbytes)));
        if (!bad) bad = json_object_set_new(ent, "dtype", json_string(assay_dtype_name(e->dtype)));
        if (!bad) bad = json_object_set(ent, "shape", shape);
        if (!bad) bad = json_object_set(ent, "data_offsets", offs);
        json_decref(shape);
        json_decref(offs);
        if (bad || json_object_set_new(root, e->name, ent)) {
            if (bad) json_decref(ent);
            goto done;
        }
        off += e->nbytes;
    }
    size_t len = json_dumpb(root, NULL, 0, JSON_COMPACT);
    if (len == 0) goto done;
    size_t padded = (len + 7) & ~(size_t)7;
    char *buf = assay_malloc(8 + padded);
    if (!buf) goto done;
    if (json_dumpb(root, buf + 8, len, JSON_COMPACT) != len) {
        assay_free(buf);
        goto done;
    }
    uint64_t n = padded;
    memcpy(buf, &n, 8); /* little-endian host (static assertion above) */
    memset(buf + 8 + len, ' ', padded - len);
    *out = buf;
    *out_len = 8 + padded;
    rc = ASSAY_OK;
done:
    json_decref(root);
    return rc;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t k = write(fd, c, chunk);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int assay_mfile_writer_save(const assay_mfile_writer *w, const char *path, assay_error *err) {
    int rc, fd = -1, e;
    char *tmp = NULL, *head = NULL, *dir = NULL;
    size_t head_len = 0;
    wentry **order = assay_mallocarray((size_t)w->nt, sizeof *order);
    size_t plen = strlen(path);
    tmp = assay_malloc(plen + 12);
    if (!order || !tmp) {
        rc = fail(err, ASSAY_ENOMEM, path, "out of memory");
        goto fail;
    }
    for (int i = 0; i < w->nt; i++) order[i] = &w->t[i];
    qsort(order, (size_t)w->nt, sizeof *order, cmp_wentry_ptr);
    if (build_header(w, order, &head, &head_len)) {
        rc = fail(err, ASSAY_ENOMEM, path, "out of memory building the header");
        goto fail;
    }

    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        e = errno;
        tmp[0] = '\0'; /* nothing to unlink */
        rc = fail(err, ASSAY_EIO, path, "cannot create a temporary file: %s", strerror(e));
        goto fail;
    }
    /* mkstemp makes 0600; a model file is as readable as any other output, or keeps the mode
     * of the file it replaces */
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    if (fchmod(fd, mode) != 0) {
        e = errno;
        rc = fail(err, ASSAY_EIO, path, "cannot set permissions: %s", strerror(e));
        goto fail;
    }
    if (write_all(fd, head, head_len)) goto write_fail;
    for (int i = 0; i < w->nt; i++)
        if (write_all(fd, order[i]->data, order[i]->nbytes)) goto write_fail;
    if (fsync(fd) != 0) goto write_fail;
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) goto write_fail;
    if (rename(tmp, path) != 0) {
        e = errno;
        rc = fail(err, ASSAY_EIO, path, "cannot rename %s over it: %s", tmp, strerror(e));
        goto fail;
    }
    tmp[0] = '\0'; /* renamed: nothing to unlink any more */

    /* make the rename itself durable */
    const char *slash = strrchr(path, '/');
    dir = slash ? assay_strndup(path, (size_t)(slash - path) + (slash == path)) : assay_strdup(".");
    if (!dir) {
        rc = fail(err, ASSAY_ENOMEM, path, "out of memory");
        goto fail;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        int r = fsync(dfd);
        e = errno;
        close(dfd);
        /* some file systems cannot fsync a directory (EINVAL); the data itself is synced */
        if (r != 0 && e != EINVAL) {
            rc = fail(err, ASSAY_EIO, path, "written, but syncing directory %s failed: %s", dir,
                      strerror(e));
            goto fail;
        }
    }
    rc = ASSAY_OK;
    goto done;

write_fail:
    e = errno;
    rc = fail(err, ASSAY_EIO, path, "write failed: %s", strerror(e));
fail:
    if (fd >= 0) close(fd);
    if (tmp && tmp[0]) unlink(tmp);
done:
    assay_free(order);
    assay_free(tmp);
    assay_free(head);
    assay_free(dir);
    return rc;
}

/* ---- loader ------------------------------------------------------------------------------ */

typedef struct lentry {
    char *name; /* first member: entries sort and search with cmp_str */
    assay_tensor t;
    uint64_t begin, end;
    void *copy; /* aligned copy when the bytes in the file are misaligned for the dtype */
} lentry;

struct assay_mfile {
    char *name;
    lentry *t;
    int nt;
    char **meta; /* key, value, key, value ... sorted by key */
    int nmeta;
    unsigned char *blob; /* owned bytes; tensor views point into it */
};

void assay_mfile_free(assay_mfile *f) {
    if (!f) return;
    for (int i = 0; i < f->nt; i++) {
        assay_free(f->t[i].name);
        assay_free(f->t[i].copy);
    }
    for (int i = 0; i < 2 * f->nmeta; i++) assay_free(f->meta[i]);
    assay_free(f->t);
    assay_free(f->meta);
    assay_free(f->blob);
    assay_free(f->name);
    assay_free(f);
}

/* A non-negative JSON integer, or -1 */
static int64_t json_nonneg(const json_t *v) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (int64_t)x;
}

static int parse_meta(assay_mfile *f, json_t *meta, const char *name, assay_error *err) {
    if (!json_is_object(meta))
        return fail(err, ASSAY_EFORMAT, name, "header: \"%s\" is not an object", META_KEY);
    size_t n = json_object_size(meta);
    if (n > INT32_MAX / 2) return fail(err, ASSAY_EFORMAT, name, "header: too much metadata");
    f->meta = assay_calloc(2 * n + 1, sizeof *f->meta);
    if (!f->meta) return fail(err, ASSAY_ENOMEM, name, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val) {
        if (!json_is_string(val))
            return fail(err, ASSAY_EFORMAT, name, "header: metadata '%.64s' is not a string", key);
        char **kv = &f->meta[2 * f->nmeta];
        kv[0] = assay_strdup(key);
        kv[1] = assay_strdup(json_string_value(val));
        f->nmeta++; /* counted before the check so mfile_free releases a half pair */
        if (!kv[0] || !kv[1]) return fail(err, ASSAY_ENOMEM, name, "out of memory");
    }
    qsort(f->meta, (size_t)f->nmeta, 2 * sizeof *f->meta, cmp_str);
    return ASSAY_OK;
}

static int check_format(const assay_mfile *f, const char *name, assay_error *err) {
    const char *v = assay_mfile_meta(f, FORMAT_KEY);
    if (!v)
        return fail(err, ASSAY_EFORMAT, name, "not an assay model file (no \"%s\" in %s)",
                    FORMAT_KEY, META_KEY);
    /* a positive decimal integer; a longer run of digits than fits is simply a newer version */
    unsigned long long ver = 0;
    size_t nd = strspn(v, "0123456789");
    if (nd == 0 || v[nd] != '\0')
        return fail(err, ASSAY_EFORMAT, name, "%s \"%.32s\" is not a positive integer", FORMAT_KEY,
                    v);
    for (size_t i = 0; i < nd && ver <= ASSAY_FORMAT_VERSION; i++) ver = ver * 10 + (unsigned)(v[i] - '0');
    if (ver == 0)
        return fail(err, ASSAY_EFORMAT, name, "%s \"%.32s\" is not a positive integer", FORMAT_KEY,
                    v);
    if (ver > ASSAY_FORMAT_VERSION)
        return fail(err, ASSAY_EVERSION, name,
                    "model file format version %.32s is newer than this build reads (version %d "
                    "and older); upgrade assay",
                    v, ASSAY_FORMAT_VERSION);
    return ASSAY_OK;
}

static int parse_tensor(lentry *e, const char *tname, json_t *v, uint64_t data_len,
                        const char *name, assay_error *err) {
    if (!json_is_object(v))
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': entry is not an object", tname);
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!jd || !js || !jo)
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': missing \"%s\"", tname,
                    !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!json_is_string(jd))
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': dtype is not a string", tname);
    if (assay_dtype_from_name(json_string_value(jd), &e->t.dtype))
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': unknown dtype \"%.16s\"", tname,
                    json_string_value(jd));
    if (!json_is_array(js))
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': shape is not an array", tname);
    size_t nd = json_array_size(js);
    if (nd > ASSAY_TENSOR_MAX_DIMS)
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': %zu dimensions (at most %d)", tname,
                    nd, ASSAY_TENSOR_MAX_DIMS);
    e->t.ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        int64_t d = json_nonneg(json_array_get(js, i));
        if (d < 0)
            return fail(err, ASSAY_EFORMAT, name,
                        "tensor '%.64s': shape[%zu] is not a non-negative integer", tname, i);
        e->t.shape[i] = d;
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': data_offsets is not [begin, end]",
                    tname);
    int64_t b = json_nonneg(json_array_get(jo, 0)), en = json_nonneg(json_array_get(jo, 1));
    if (b < 0 || en < 0)
        return fail(err, ASSAY_EFORMAT, name,
                    "tensor '%.64s': data_offsets are not non-negative integers", tname);
    if (b > en)
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': data_offsets [%lld, %lld] run backwards",
                    tname, (long long)b, (long long)en);
    if ((uint64_t)en > data_len)
        return fail(err, ASSAY_EFORMAT, name,
                    "tensor '%.64s': data_offsets end %lld is beyond the %llu-byte buffer", tname,
                    (long long)en, (unsigned long long)data_len);
    int64_t numel = assay_tensor_numel(&e->t);
    uint64_t es = assay_dtype_size(e->t.dtype);
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / es)
        return fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': shape overflows", tname);
    if ((uint64_t)numel * es != (uint64_t)(en - b))
        return fail(err, ASSAY_EFORMAT, name,
                    "tensor '%.64s': shape needs %llu bytes of %s but data_offsets span %lld",
                    tname, (unsigned long long)((uint64_t)numel * es),
                    assay_dtype_name(e->t.dtype), (long long)(en - b));
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    return ASSAY_OK;
}

/* jansson reports some allocation failures as syntax errors (its lexer turns a failed string
 * allocation into "string or '}' expected") or with no message at all. After a failed parse,
 * one small allocation through jansson's allocator tells the two apart: if even that fails,
 * the cause was memory, not the file. */
static int json_out_of_memory(void) {
    json_malloc_t m;
    json_free_t fr;
    json_get_alloc_funcs(&m, &fr);
    void *p = m(256);
    if (!p) return 1;
    fr(p);
    return 0;
}

static int cmp_offsets(const void *a, const void *b) {
    const lentry *x = *(const lentry *const *)a, *y = *(const lentry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Validate and take in buf[0..len). If owned, buf becomes the mfile's (on success or failure). */
static int load_impl(unsigned char *buf, size_t len, int owned, const char *name,
                     assay_mfile **out, assay_error *err) {
    int rc;
    json_t *root = NULL;
    lentry **by_off = NULL;
    *out = NULL;
    assay_mfile *f = assay_calloc(1, sizeof *f);
    if (!f) {
        if (owned) assay_free(buf);
        return fail(err, ASSAY_ENOMEM, name, "out of memory");
    }
    if (owned) f->blob = buf;
    f->name = assay_strdup(name);
    if (!f->name) {
        rc = fail(err, ASSAY_ENOMEM, name, "out of memory");
        goto fail;
    }
    if (len < 8) {
        rc = fail(err, ASSAY_EFORMAT, name, "%zu bytes is too short for a model file", len);
        goto fail;
    }
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    if (hlen == 0) {
        rc = fail(err, ASSAY_EFORMAT, name, "header length is 0");
        goto fail;
    }
    if (hlen > MAX_HEADER) {
        rc = fail(err, ASSAY_EFORMAT, name, "header length %llu exceeds the %u-byte limit",
                  (unsigned long long)hlen, MAX_HEADER);
        goto fail;
    }
    if (hlen > len - 8) {
        rc = fail(err, ASSAY_EFORMAT, name,
                  "header length %llu runs past the end of the %zu-byte file (truncated?)",
                  (unsigned long long)hlen, len);
        goto fail;
    }
    uint64_t data_len = len - 8 - hlen;

    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0' ||
            json_out_of_memory())
            rc = fail(err, ASSAY_ENOMEM, name, "out of memory parsing the header");
        else
            rc = fail(err, ASSAY_EFORMAT, name, "header JSON line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        rc = fail(err, ASSAY_EFORMAT, name, "header is not a JSON object");
        goto fail;
    }
    json_t *meta = json_object_get(root, META_KEY);
    if (meta) {
        if ((rc = parse_meta(f, meta, name, err))) goto fail;
    }
    if ((rc = check_format(f, name, err))) goto fail;

    size_t n = json_object_size(root) - (meta ? 1 : 0);
    f->t = assay_calloc(n + 1, sizeof *f->t);
    by_off = assay_calloc(n + 1, sizeof *by_off);
    if (!f->t || !by_off) {
        rc = fail(err, ASSAY_ENOMEM, name, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (val == meta) continue;
        lentry *e = &f->t[f->nt];
        if ((rc = parse_tensor(e, key, val, data_len, name, err))) goto fail;
        e->name = assay_strdup(key);
        if (!e->name) {
            rc = fail(err, ASSAY_ENOMEM, name, "out of memory");
            goto fail;
        }
        by_off[f->nt++] = e;
    }

    /* the tensors must tile [0, data_len) exactly: no overlap, no gap, nothing left over */
    qsort(by_off, (size_t)f->nt, sizeof *by_off, cmp_offsets);
    uint64_t cursor = 0;
    for (int i = 0; i < f->nt; i++) {
        const lentry *e = by_off[i];
        if (e->begin != cursor) {
            rc = fail(err, ASSAY_EFORMAT, name, "tensor '%.64s': data at %llu %s at byte %llu",
                      e->name, (unsigned long long)e->begin,
                      e->begin < cursor ? "overlaps the previous tensor ending" : "leaves a gap after the previous tensor ending",
                      (unsigned long long)cursor);
            goto fail;
        }
        cursor = e->end;
    }
    if (cursor != data_len) {
        rc = fail(err, ASSAY_EFORMAT, name,
                  "tensors cover %llu of the %llu data bytes (trailing bytes or truncated file)",
                  (unsigned long long)cursor, (unsigned long long)data_len);
        goto fail;
    }

    /* everything checked: point the views at the bytes */
    const unsigned char *src = buf + 8 + hlen;
    if (!owned) {
        f->blob = assay_malloc((size_t)data_len);
        if (!f->blob) {
            rc = fail(err, ASSAY_ENOMEM, name, "out of memory for %llu data bytes",
                      (unsigned long long)data_len);
            goto fail;
        }
        if (data_len) memcpy(f->blob, src, (size_t)data_len);
        src = f->blob;
    }
    for (int i = 0; i < f->nt; i++) {
        lentry *e = &f->t[i];
        size_t nb = (size_t)(e->end - e->begin);
        void *p = (void *)(src + e->begin);
        if ((uintptr_t)p % assay_dtype_size(e->t.dtype) != 0) {
            e->copy = assay_malloc(nb); /* malloc memory is aligned for every dtype */
            if (!e->copy) {
                rc = fail(err, ASSAY_ENOMEM, name, "out of memory");
                goto fail;
            }
            memcpy(e->copy, p, nb);
            p = e->copy;
        }
        e->t.data = p;
        e->t.owns = 0;
    }
    qsort(f->t, (size_t)f->nt, sizeof *f->t, cmp_str);
    json_decref(root);
    assay_free(by_off);
    *out = f;
    return ASSAY_OK;
fail:
    json_decref(root);
    assay_free(by_off);
    assay_mfile_free(f);
    return rc;
}

int assay_mfile_load_buffer(const void *buf, size_t len, const char *name, assay_mfile **out,
                            assay_error *err) {
    return load_impl((unsigned char *)(uintptr_t)buf, len, 0, name ? name : "<buffer>", out, err);
}

int assay_mfile_load(const char *path, assay_mfile **out, assay_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        return fail(err, e == ENOENT ? ASSAY_ENOTFOUND : ASSAY_EIO, path, "cannot open: %s",
                    strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        if (e == 0 || S_ISDIR(st.st_mode)) return fail(err, ASSAY_EIO, path, "not a regular file");
        return fail(err, ASSAY_EIO, path, "cannot stat: %s", strerror(e));
    }
    if ((uint64_t)st.st_size > SIZE_MAX - 1) {
        close(fd);
        return fail(err, ASSAY_ENOMEM, path, "file too large for memory");
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = assay_malloc(size);
    if (!buf) {
        close(fd);
        return fail(err, ASSAY_ENOMEM, path, "out of memory for %zu bytes", size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            assay_free(buf);
            return fail(err, ASSAY_EIO, path, "read failed: %s", strerror(e));
        }
        if (k == 0) break; /* shrank while we read: validate what we have */
        got += (size_t)k;
    }
    close(fd);
    return load_impl(buf, got, 1, path, out, err);
}

/* ---- access ------------------------------------------------------------------------------ */

static const lentry *find(const assay_mfile *f, const char *name) {
    if (!f || !name || f->nt == 0) return NULL;
    return bsearch(&name, f->t, (size_t)f->nt, sizeof *f->t, cmp_str);
}

const assay_tensor *assay_mfile_tensor(const assay_mfile *f, const char *name) {
    const lentry *e = find(f, name);
    return e ? &e->t : NULL;
}

int assay_mfile_expect(const assay_mfile *f, const char *name, assay_dtype dtype, int ndim,
                       const assay_tensor **out, assay_error *err) {
    if (out) *out = NULL;
    const char *fname = f && f->name ? f->name : "model file";
    const lentry *e = find(f, name);
    if (!e) return fail(err, ASSAY_EFORMAT, fname, "tensor '%.64s' is missing", name);
    if (e->t.dtype != dtype || (ndim >= 0 && e->t.ndim != ndim)) {
        char want[32];
        if (ndim >= 0) snprintf(want, sizeof want, "%d", ndim);
        else snprintf(want, sizeof want, "any number of");
        return fail(err, ASSAY_EFORMAT, fname,
                    "tensor '%.64s' is %s with %d dimensions; expected %s with %s dimensions",
                    name, assay_dtype_name(e->t.dtype), e->t.ndim, assay_dtype_name(dtype), want);
    }
    if (out) *out = &e->t;
    return ASSAY_OK;
}

int assay_mfile_tensor_count(const assay_mfile *f) { return f ? f->nt : 0; }

const char *assay_mfile_tensor_name(const assay_mfile *f, int i) {
    return f && i >= 0 && i < f->nt ? f->t[i].name : NULL;
}

const char *assay_mfile_meta(const assay_mfile *f, const char *key) {
    if (!f || !key || f->nmeta == 0) return NULL;
    char **kv = bsearch(&key, f->meta, (size_t)f->nmeta, 2 * sizeof *f->meta, cmp_str);
    return kv ? kv[1] : NULL;
}
