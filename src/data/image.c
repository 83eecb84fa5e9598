/* image.c - image data sets: IDX files (raw or gzip), folders of PNG images with one
 * sub-folder per class, per-channel statistics, and float batches with random flips and shifts.
 *
 * IDX: the header is checked before any pixel is allocated: against the file's size for a raw
 * file; for a gzip file the buffer grows only as decompressed bytes arrive, so a header that
 * lies cannot make it allocate gigabytes. A short file, a truncated or corrupt gzip stream,
 * bytes after the last image and label/image counts that differ are errors.
 * PNG: libpng's simplified API (png_image) decodes every colour type and bit depth; images are
 * read with an alpha channel that is then dropped (not composited), and 16-bit files without
 * gAMA/sRGB are taken as sRGB-encoded (scaled to 8 bits, not gamma-converted).
 * Deliberately not done: IDX element types other than unsigned bytes; resizing (every image
 * must have the first one's size); formats other than PNG; data after a complete gzip member
 * that is not itself gzip (zlib ignores it); routing libpng's and zlib's own allocations through
 * assay's hooks (they use malloc). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../internal.h"
#include "assay/image.h"

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u
#define IMG_MAX_BYTES ((uint64_t)1 << 34) /* 16 GiB of pixels: larger sets are refused */
#define IMG_MAX_SIDE 65536u               /* rows and columns; keeps h * w far from overflow */

void assay_images_deinit(assay_images *im) {
    if (!im) return;
    assay_free(im->pix);
    assay_free(im->labels);
    if (im->class_names)
        for (int k = 0; k < im->nclasses; k++) assay_free(im->class_names[k]);
    assay_free(im->class_names);
    memset(im, 0, sizeof *im);
}

/* ---- IDX --------------------------------------------------------------------------------- */

typedef struct idx_src {
    const char *path;
    int fd;         /* the open file; -1 once gz owns it */
    gzFile gz;      /* gzip stream, or NULL for a raw file */
} idx_src;

static void src_close(idx_src *s) {
    if (s->gz) gzclose(s->gz);
    else if (s->fd >= 0) close(s->fd);
    s->gz = NULL;
    s->fd = -1;
}

/* Read up to n bytes; fewer (*got < n) only at the end of the data. A read error, a corrupt
 * gzip stream or one that ends before its trailer is an error naming the file. */
static int src_read(idx_src *s, void *buf, size_t n, size_t *got, assay_error *err) {
    size_t have = 0;
    *got = 0;
    while (have < n) {
        size_t want = ASSAY_MIN(n - have, (size_t)1 << 30);
        if (s->gz) {
            int k = gzread(s->gz, (char *)buf + have, (unsigned)want);
            int zerr = Z_OK;
            const char *zmsg = gzerror(s->gz, &zerr);
            if (zerr == Z_BUF_ERROR)
                return assay_error_set(err, ASSAY_EPARSE,
                                       "%s: truncated gzip stream (the file ends before the "
                                       "stream does)",
                                       s->path);
            if (zerr == Z_MEM_ERROR)
                return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory decompressing",
                                       s->path);
            if (zerr != Z_OK || k < 0) {
                /* zlib's message is "<fd:N>: reason": keep the reason */
                const char *why = zmsg ? strstr(zmsg, ": ") : NULL;
                return assay_error_set(err, zerr == Z_ERRNO ? ASSAY_EIO : ASSAY_EPARSE,
                                       "%s: corrupt gzip stream (%s)", s->path,
                                       zerr == Z_ERRNO ? strerror(errno)
                                       : why           ? why + 2
                                                       : "read error");
            }
            if (k == 0) break;
            have += (size_t)k;
        } else {
            ssize_t k = read(s->fd, (char *)buf + have, want);
            if (k < 0) {
                if (errno == EINTR) continue;
                return assay_error_set(err, ASSAY_EIO, "%s: %s", s->path, strerror(errno));
            }
            if (k == 0) break;
            have += (size_t)k;
        }
    }
    *got = have;
    return ASSAY_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read the IDX file path whose magic must be `magic` (ndim = its low byte, 1 or 3): dims and
 * the payload (dims[0] x ... bytes, allocated with assay_malloc) into *data. */
static int idx_load(const char *path, uint32_t magic, uint32_t dims[3], uint8_t **data,
                    assay_error *err) {
    const int ndim = (int)(magic & 0xFF);
    const char *kind = magic == IDX_IMAGES ? "image" : "label";
    idx_src s = {path, -1, NULL};
    uint8_t *buf = NULL;
    unsigned char head[16];
    size_t got;
    int rc;
    *data = NULL;

    s.fd = open(path, O_RDONLY);
    if (s.fd < 0) return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(s.fd, &st) != 0) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: %s", path,
                             S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        goto fail;
    }
    const uint64_t fsize = (uint64_t)st.st_size;
    if (fsize == 0) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: empty file (expected an IDX %s file)",
                             path, kind);
        goto fail;
    }
    ssize_t k = pread(s.fd, head, 2, 0);
    if (k < 0) {
        rc = assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    const int gzip = k == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (gzip) {
        s.gz = gzdopen(s.fd, "rb");
        if (!s.gz) {
            rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory opening gzip stream",
                                 path);
            goto fail;
        }
        s.fd = -1; /* gzclose closes it */
    }

    /* header: magic, then ndim big-endian 32-bit sizes */
    const size_t hsize = 4 + 4 * (size_t)ndim;
    if ((rc = src_read(&s, head, hsize, &got, err)) != ASSAY_OK) goto fail;
    if (got < 4 || (be32(head) == magic && got < hsize)) {
        rc = assay_error_set(err, ASSAY_EPARSE,
                             "%s: %zu bytes%s is too short for an IDX %s header (%zu bytes)",
                             path, got, gzip ? " decompressed" : "", kind, hsize);
        goto fail;
    }
    uint32_t m = be32(head);
    if (m != magic) {
        const char *hint = m == IDX_IMAGES ? " (an IDX image file)"
                           : m == IDX_LABELS ? " (an IDX label file)"
                           : (m >> 16) != 0   ? " (not an IDX file)"
                           : (m >> 8) != 0x08 ? " (IDX, but not of unsigned bytes)"
                                              : "";
        rc = assay_error_set(err, ASSAY_EPARSE,
                             "%s: not an IDX %s file: magic 0x%08X%s, expected 0x%08X", path,
                             kind, m, hint, magic);
        goto fail;
    }
    uint64_t need = 1;
    for (int d = 0; d < ndim; d++) dims[d] = be32(head + 4 + 4 * d);
    char desc[96];
    if (ndim == 3)
        snprintf(desc, sizeof desc, "%u images of %ux%u", dims[0], dims[1], dims[2]);
    else
        snprintf(desc, sizeof desc, "%u labels", dims[0]);
    for (int d = 0; d < ndim; d++) {
        if (dims[d] == 0) {
            rc = assay_error_set(err, ASSAY_EPARSE, "%s: the header has a zero size (%s)", path,
                                 desc);
            goto fail;
        }
        if (d > 0 && dims[d] > IMG_MAX_SIDE) {
            rc = assay_error_set(err, ASSAY_EPARSE,
                                 "%s: the header's sizes are absurd (%s; the limit is %u pixels "
                                 "a side)",
                                 path, desc, IMG_MAX_SIDE);
            goto fail;
        }
        if (dims[d] > IMG_MAX_BYTES / need) {
            rc = assay_error_set(err, ASSAY_EPARSE,
                                 "%s: the header's sizes are absurd (%s would take over 16 GiB)",
                                 path, desc);
            goto fail;
        }
        need *= dims[d];
    }

    if (!gzip) {
        /* raw: the size is known up front, so a short file costs no allocation */
        if (fsize < hsize + need) {
            rc = assay_error_set(err, ASSAY_EPARSE, "%s: %s need %llu bytes, file has %llu bytes",
                                 path, desc, (unsigned long long)(hsize + need),
                                 (unsigned long long)fsize);
            goto fail;
        }
        if (fsize > hsize + need) {
            rc = assay_error_set(err, ASSAY_EPARSE,
                                 "%s: %llu unexpected bytes after the data (%s need %llu bytes, "
                                 "file has %llu bytes)",
                                 path, (unsigned long long)(fsize - hsize - need), desc,
                                 (unsigned long long)(hsize + need), (unsigned long long)fsize);
            goto fail;
        }
        buf = assay_malloc((size_t)need);
        if (!buf) goto nomem;
        if ((rc = src_read(&s, buf, (size_t)need, &got, err)) != ASSAY_OK) goto fail;
        if (got < need) {
            rc = assay_error_set(err, ASSAY_EPARSE, "%s: %s need %llu bytes, file has %llu bytes",
                                 path, desc, (unsigned long long)(hsize + need),
                                 (unsigned long long)(hsize + got));
            goto fail;
        }
    } else {
        /* gzip: grow the buffer as data arrives (doubling from 1 MiB) */
        size_t cap = (size_t)ASSAY_MIN(need, (uint64_t)1 << 20), have = 0;
        buf = assay_malloc(cap);
        if (!buf) goto nomem;
        while (have < need) {
            if (have == cap) {
                size_t ncap = (size_t)ASSAY_MIN(need, (uint64_t)cap * 2);
                uint8_t *nb = assay_realloc(buf, ncap);
                if (!nb) goto nomem;
                buf = nb;
                cap = ncap;
            }
            if ((rc = src_read(&s, buf + have, cap - have, &got, err)) != ASSAY_OK) goto fail;
            have += got;
            if (have < cap) break; /* end of the data */
        }
        if (have < need) {
            rc = assay_error_set(err, ASSAY_EPARSE,
                                 "%s: %s need %llu bytes, file has %llu bytes (decompressed)",
                                 path, desc, (unsigned long long)(hsize + need),
                                 (unsigned long long)(hsize + have));
            goto fail;
        }
        /* one more byte: there must be none, and the stream must end cleanly (its CRC) */
        unsigned char extra;
        if ((rc = src_read(&s, &extra, 1, &got, err)) != ASSAY_OK) goto fail;
        if (got) {
            rc = assay_error_set(err, ASSAY_EPARSE,
                                 "%s: unexpected bytes after the data (%s need %llu bytes, the "
                                 "decompressed file has more)",
                                 path, desc, (unsigned long long)(hsize + need));
            goto fail;
        }
    }
    src_close(&s);
    *data = buf;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", path);
fail:
    assay_free(buf);
    src_close(&s);
    return rc;
}

int assay_images_read_idx(const char *images_path, const char *labels_path, assay_images *out,
                          assay_error *err) {
    memset(out, 0, sizeof *out);
    uint32_t dims[3], ldims[3];
    uint8_t *pix = NULL, *lab = NULL;
    int rc = idx_load(images_path, IDX_IMAGES, dims, &pix, err);
    if (rc != ASSAY_OK) return rc;
    out->n = dims[0];
    out->c = 1;
    out->h = (int)dims[1];
    out->w = (int)dims[2];
    out->pix = pix;
    if (!labels_path) return ASSAY_OK;

    if ((rc = idx_load(labels_path, IDX_LABELS, ldims, &lab, err)) != ASSAY_OK) goto fail;
    if (ldims[0] != dims[0]) {
        rc = assay_error_set(err, ASSAY_ESCHEMA, "%s: %u labels, but %s has %u images",
                             labels_path, ldims[0], images_path, dims[0]);
        goto fail;
    }
    const int64_t N = out->n;
    out->labels = assay_mallocarray((size_t)N, sizeof *out->labels);
    if (!out->labels) goto nomem;
    int maxl = 0;
    for (int64_t i = 0; i < N; i++) {
        out->labels[i] = lab[i];
        maxl = ASSAY_MAX(maxl, (int)lab[i]);
    }
    assay_free(lab);
    lab = NULL;
    /* labels are bytes, so at most 256 classes; names are the numbers */
    out->class_names = assay_calloc((size_t)maxl + 1, sizeof *out->class_names);
    if (!out->class_names) goto nomem;
    out->nclasses = maxl + 1;
    for (int k = 0; k <= maxl; k++) {
        char name[8];
        snprintf(name, sizeof name, "%d", k);
        if (!(out->class_names[k] = assay_strdup(name))) goto nomem;
    }
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", labels_path);
fail:
    assay_free(lab);
    assay_images_deinit(out);
    return rc;
}

/* ---- PNG folders ------------------------------------------------------------------------- */

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void list_free(name_list *l) {
    for (size_t i = 0; i < l->n; i++) assay_free(l->v[i]);
    assay_free(l->v);
    memset(l, 0, sizeof *l);
}

static int list_push(name_list *l, const char *s) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **nv = assay_reallocarray(l->v, ncap, sizeof *nv);
        if (!nv) return ASSAY_ENOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    if (!(l->v[l->n] = assay_strdup(s))) return ASSAY_ENOMEM;
    l->n++;
    return ASSAY_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir whose names do not start with '.', sorted by strcmp. */
static int list_dir(const char *dir, name_list *out, assay_error *err) {
    DIR *d = opendir(dir);
    if (!d) return assay_error_set(err, ASSAY_EIO, "%s: %s", dir, strerror(errno));
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) break;
        if (e->d_name[0] == '.') continue;
        if (list_push(out, e->d_name) != ASSAY_OK) {
            closedir(d);
            return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", dir);
        }
    }
    int e = errno;
    closedir(d);
    if (e) return assay_error_set(err, ASSAY_EIO, "%s: %s", dir, strerror(e));
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_name);
    return ASSAY_OK;
}

/* path = a/b; an error when it does not fit. */
static int join(char *path, size_t cap, const char *a, const char *b, assay_error *err) {
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/') la--; /* "dir/" -> "dir/cat", not "dir//cat" */
    if ((size_t)snprintf(path, cap, "%.*s/%s", (int)la, a, b) >= cap)
        return assay_error_set(err, ASSAY_EIO, "%.*s/%s: path too long", (int)la, a, b);
    return ASSAY_OK;
}

static int has_png_ext(const char *name) {
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* Decode path into dst (C x H x W, CHW); scratch holds H x W x (C + 1) bytes. The image must
 * be W x H (first names the image that set the size). */
static int png_read_one(const char *path, const char *first, int C, int H, int W, uint8_t *dst,
                        uint8_t *scratch, assay_error *err) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return assay_error_set(err, ASSAY_EPARSE, "%s: not a readable PNG image (libpng: %s)",
                               path, img.message);
    if (img.width != (png_uint_32)W || img.height != (png_uint_32)H) {
        int rc = assay_error_set(err, ASSAY_ESCHEMA,
                                 "%s is %ux%u (width x height) but %s is %dx%d; every image "
                                 "must have the same size",
                                 path, (unsigned)img.width, (unsigned)img.height, first, W, H);
        png_image_free(&img);
        return rc;
    }
    /* 16-bit data without colour information is sRGB-encoded in practice, not linear */
    img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    /* with an alpha channel, libpng keeps the colour values as they are (nothing composited);
     * the alpha is dropped below */
    img.format = C == 1 ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;
    if (!png_image_finish_read(&img, NULL, scratch, 0, NULL)) /* frees img on failure */
        return assay_error_set(err, ASSAY_EPARSE, "%s: corrupt PNG image (libpng: %s)", path,
                               img.message);
    const int64_t HW = (int64_t)H * W;
    for (int ch = 0; ch < C; ch++) {
        uint8_t *o = dst + ch * HW;
        const uint8_t *s = scratch + ch;
        for (int64_t p = 0; p < HW; p++) o[p] = s[p * (C + 1)];
    }
    return ASSAY_OK;
}

int assay_images_read_folder(const char *dir, assay_images *out, assay_error *err) {
    memset(out, 0, sizeof *out);
    name_list classes = {0}, files = {0}, names = {0};
    int32_t *labels = NULL;
    size_t nlabels = 0;
    uint8_t *scratch = NULL;
    char path[4096];
    struct stat st;
    int rc;

    if ((rc = list_dir(dir, &names, err)) != ASSAY_OK) goto fail;
    for (size_t i = 0; i < names.n; i++) {
        if ((rc = join(path, sizeof path, dir, names.v[i], err)) != ASSAY_OK) goto fail;
        if (stat(path, &st) != 0) {
            rc = assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
            goto fail;
        }
        /* files next to the class folders (a README, a licence) are not images: skipped */
        if (S_ISDIR(st.st_mode) && list_push(&classes, names.v[i]) != ASSAY_OK) goto nomem;
    }
    list_free(&names);
    if (classes.n == 0) {
        rc = assay_error_set(err, ASSAY_EPARSE,
                             "%s: no class sub-folders (expected %s/<class>/<image>.png)", dir,
                             dir);
        goto fail;
    }
    if (classes.n > INT32_MAX) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: too many class sub-folders", dir);
        goto fail;
    }

    /* every file of every class, in order; names.v reused per class */
    for (size_t c = 0; c < classes.n; c++) {
        char cdir[4096];
        if ((rc = join(cdir, sizeof cdir, dir, classes.v[c], err)) != ASSAY_OK) goto fail;
        if ((rc = list_dir(cdir, &names, err)) != ASSAY_OK) goto fail;
        if (names.n == 0) {
            rc = assay_error_set(err, ASSAY_EPARSE, "%s: empty class folder (no PNG images)",
                                 cdir);
            goto fail;
        }
        int32_t *nl = assay_reallocarray(labels, nlabels + names.n, sizeof *labels);
        if (!nl) goto nomem;
        labels = nl;
        for (size_t i = 0; i < names.n; i++) {
            if ((rc = join(path, sizeof path, cdir, names.v[i], err)) != ASSAY_OK) goto fail;
            if (stat(path, &st) != 0) {
                rc = assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
                goto fail;
            }
            if (S_ISDIR(st.st_mode)) {
                rc = assay_error_set(err, ASSAY_EPARSE,
                                     "%s: a folder inside a class folder (expected only .png "
                                     "images there)",
                                     path);
                goto fail;
            }
            if (!has_png_ext(names.v[i])) {
                rc = assay_error_set(err, ASSAY_EPARSE,
                                     "%s: not a PNG file (class folders may hold only .png "
                                     "images)",
                                     path);
                goto fail;
            }
            if (list_push(&files, path) != ASSAY_OK) goto nomem;
            labels[nlabels++] = (int32_t)c;
        }
        list_free(&names);
    }

    /* the first image sets the size and the channels */
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, files.v[0])) {
        rc = assay_error_set(err, ASSAY_EPARSE, "%s: not a readable PNG image (libpng: %s)",
                             files.v[0], img.message);
        goto fail;
    }
    const uint32_t W = img.width, H = img.height;
    const int C = (img.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    png_image_free(&img);
    const uint64_t N = files.n;
    if (W > IMG_MAX_SIDE || H > IMG_MAX_SIDE ||
        (uint64_t)W * H * (uint64_t)C > IMG_MAX_BYTES / N) {
        rc = assay_error_set(err, ASSAY_EPARSE,
                             "%s: %llu images of %ux%u are too large (over %u pixels a side or "
                             "over 16 GiB)",
                             dir, (unsigned long long)N, W, H, IMG_MAX_SIDE);
        goto fail;
    }
    const size_t CHW = (size_t)C * H * W;
    out->pix = assay_mallocarray((size_t)N, CHW);
    scratch = assay_mallocarray((size_t)H * W, (size_t)C + 1);
    if (!out->pix || !scratch) goto nomem;
    out->n = (int64_t)N;
    out->c = C;
    out->h = (int)H;
    out->w = (int)W;
    for (size_t i = 0; i < files.n; i++)
        if ((rc = png_read_one(files.v[i], files.v[0], C, (int)H, (int)W, out->pix + i * CHW,
                               scratch, err)) != ASSAY_OK)
            goto fail;

    out->labels = labels;
    labels = NULL;
    out->nclasses = (int)classes.n;
    out->class_names = classes.v; /* adopted: exactly n names */
    classes.v = NULL;
    classes.n = classes.cap = 0;
    assay_free(scratch);
    list_free(&files);
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", dir);
fail:
    assay_free(scratch);
    assay_free(labels);
    list_free(&names);
    list_free(&files);
    list_free(&classes);
    assay_images_deinit(out);
    return rc;
}

int assay_images_read(const char *path, const char *labels_path, assay_images *out,
                      assay_error *err) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0)
        return assay_error_set(err, ASSAY_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return assay_images_read_idx(path, labels_path, out, err);
    if (labels_path)
        return assay_error_set(err, ASSAY_EINVAL,
                               "%s: a folder of class sub-folders names its own labels; a labels "
                               "file (%s) goes only with an IDX image file",
                               path, labels_path);
    return assay_images_read_folder(path, out, err);
}

/* ---- statistics and batches -------------------------------------------------------------- */

void assay_images_channel_stats(const assay_images *im, float *mean, float *std) {
    const int64_t N = im->n, HW = (int64_t)im->h * im->w;
    const int C = im->c;
    for (int ch = 0; ch < C; ch++) {
        /* the sums are of integers, kept exactly in 64 bits (at most 2^34 pixels x 255^2), so
         * they do not depend on the order of the threads' additions */
        uint64_t s1 = 0, s2 = 0;
#pragma omp parallel for schedule(static) reduction(+ : s1, s2) if (N * HW > (1 << 18))
        for (int64_t i = 0; i < N; i++) {
            const uint8_t *p = im->pix + (i * C + ch) * HW;
            uint64_t a = 0, b = 0;
            for (int64_t k = 0; k < HW; k++) {
                a += p[k];
                b += (uint32_t)p[k] * p[k];
            }
            s1 += a;
            s2 += b;
        }
        double cnt = (double)N * (double)HW;
        if (cnt == 0) {
            mean[ch] = 0.0f;
            std[ch] = 1.0f;
            continue;
        }
        double m = (double)s1 / cnt / 255.0;
        double var = (double)s2 / cnt / (255.0 * 255.0) - m * m;
        mean[ch] = (float)m;
        std[ch] = (float)sqrt(var > 0 ? var : 0);
    }
}

/* Images per round of random draws: the draws are made in image order first, then the round
 * is converted in parallel, so the result does not depend on the number of threads. */
#define BATCH_ROUND 256

/* One image: out (C,H,W) from src (C,H,W) through lut; flipped left-right when flip, then
 * moved by (dx, dy) (content moves right and down for positive values); vacated pixels take
 * lut[ch][0], the normalized value of a 0 pixel. */
static void batch_one(float *out, const uint8_t *src, const float (*lut)[256], int C, int H,
                      int W, int flip, int64_t dx, int64_t dy) {
    for (int ch = 0; ch < C; ch++) {
        const float *l = lut[ch];
        const float pad = l[0];
        const uint8_t *s = src + (int64_t)ch * H * W;
        float *o = out + (int64_t)ch * H * W;
        for (int y = 0; y < H; y++) {
            float *orow = o + (int64_t)y * W;
            int64_t sy = y - dy;
            if (sy < 0 || sy >= H) {
                for (int x = 0; x < W; x++) orow[x] = pad;
                continue;
            }
            const uint8_t *srow = s + sy * W;
            if (!flip && dx == 0) {
                for (int x = 0; x < W; x++) orow[x] = l[srow[x]];
                continue;
            }
            for (int x = 0; x < W; x++) {
                int64_t sx = x - dx;
                orow[x] = sx < 0 || sx >= W ? pad : l[srow[flip ? W - 1 - sx : sx]];
            }
        }
    }
}

void assay_images_batch(float *out, const assay_images *im, const int64_t *idx, int64_t m,
                        const float *mean, const float *std, assay_rng *rng, float flip,
                        int shift) {
    const int C = im->c, H = im->h, W = im->w;
    const int64_t CHW = (int64_t)C * H * W;
    ASSAY_ASSERT(C >= 1 && C <= 4 && shift >= 0);
    /* (v / 255 - mean) / std for every byte value; a zero std (a constant channel) divides by
     * 1 instead */
    float lut[4][256];
    for (int ch = 0; ch < C; ch++) {
        float sd = std[ch] > 0.0f ? std[ch] : 1.0f;
        for (int v = 0; v < 256; v++) lut[ch][v] = ((float)v / 255.0f - mean[ch]) / sd;
    }
    const int do_flip = rng && flip > 0.0f, do_shift = rng && shift > 0;
    for (int64_t b0 = 0; b0 < m; b0 += BATCH_ROUND) {
        const int nb = (int)ASSAY_MIN((int64_t)BATCH_ROUND, m - b0);
        unsigned char flips[BATCH_ROUND];
        int64_t dxs[BATCH_ROUND], dys[BATCH_ROUND];
        for (int j = 0; j < nb; j++) {
            /* per image, in this order: the flip draw, then x, then y */
            flips[j] = do_flip && assay_rng_uniform(rng) < (double)flip;
            dxs[j] = do_shift ? (int64_t)assay_rng_below(rng, 2 * (uint64_t)shift + 1) - shift : 0;
            dys[j] = do_shift ? (int64_t)assay_rng_below(rng, 2 * (uint64_t)shift + 1) - shift : 0;
        }
#pragma omp parallel for schedule(static) if ((int64_t)nb * CHW > (1 << 16))
        for (int j = 0; j < nb; j++) {
            int64_t i = idx[b0 + j];
            ASSAY_ASSERT(i >= 0 && i < im->n);
            batch_one(out + (b0 + j) * CHW, im->pix + i * CHW, (const float(*)[256])lut, C, H, W,
                      flips[j], dxs[j], dys[j]);
        }
    }
}
