/* test_image.c - image data sets: IDX (raw and gzip) on the committed Fashion-MNIST subset and
 * on tiny fixtures, every corruption the reader must refuse, PNG folders of every colour type,
 * channel statistics, batches with normalization, flips and shifts, allocation failures.
 *
 * Expected values come from the scripts that wrote the data, never from this reader:
 *   examples/fashion-mnist-small/make_subset.py prints the counts, first labels, pixels, pixel
 *   sums, mean and std hard-coded in test_fashion_small;
 *   tests/fixtures/images/gen_images.py defines the tiny fixtures' pixels by small formulas
 *   (idx_pixel, v, rgb below are copies of its functions) and prints a few of their values. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "assay/core.h"
#include "assay/image.h"
#include "check.h"

#define FASHION ASSAY_SOURCE_DIR "/examples/fashion-mnist-small/"
#define FIX ASSAY_SOURCE_DIR "/tests/fixtures/images/"

static char tmpdir[] = "/tmp/assay-test-image-XXXXXX";

/* gen_images.py: idx_pixel, v, rgb */
static int idx_pixel(int i, int y, int x) { return (i * 70 + y * 20 + x * 3 + 1) % 256; }
static int v(int y, int x) { return 16 * (4 * y + x) + 5; }
static int rgb(int y, int x, int ch) {
    int g = v(y, x);
    return ch == 0 ? g : ch == 1 ? 255 - g : (7 * g) % 256;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

/* A failure with a one-line message that names the file and contains `what`. */
static void check_fails(int rc, const assay_error *e, const char *name, const char *what) {
    CHECK_MSG(rc != ASSAY_OK, "expected an error about %s", name);
    CHECK_MSG(strstr(e->msg, name) != NULL, "message \"%s\" does not name %s", e->msg, name);
    CHECK_MSG(what == NULL || strstr(e->msg, what) != NULL, "message \"%s\" lacks \"%s\"", e->msg,
              what);
    CHECK_MSG(strchr(e->msg, '\n') == NULL, "message has a newline: %s", e->msg);
}

static int images_zeroed(const assay_images *im) {
    return im->n == 0 && im->pix == NULL && im->labels == NULL && im->class_names == NULL &&
           im->nclasses == 0;
}

/* ---- IDX --------------------------------------------------------------------------------- */

static void test_fashion_small(void) {
    assay_images im;
    assay_error e;
    CHECK_OK(assay_images_read_idx(FASHION "train-images-idx3-ubyte.gz",
                                   FASHION "train-labels-idx1-ubyte.gz", &im, &e), &e);
    CHECK(im.n == 2000 && im.c == 1 && im.h == 28 && im.w == 28);
    /* make_subset.py: "train: first labels 9 0 0 3 0 2 7 2 5 5" */
    const int first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    for (int i = 0; i < 10 && im.labels; i++) CHECK(im.labels[i] == first[i]);
    /* "train: label counts 194 216 202 195 186 200 194 215 198 200" */
    const int counts[10] = {194, 216, 202, 195, 186, 200, 194, 215, 198, 200};
    int got[10] = {0};
    for (int64_t i = 0; i < im.n && im.labels; i++)
        if (im.labels[i] >= 0 && im.labels[i] < 10) got[im.labels[i]]++;
    for (int k = 0; k < 10; k++) CHECK(got[k] == counts[k]);
    CHECK(im.nclasses == 10);
    if (im.nclasses == 10) {
        CHECK_STR(im.class_names[0], "0");
        CHECK_STR(im.class_names[9], "9");
    }
#define PIX(i, y, x) im.pix[((int64_t)(i) * 28 + (y)) * 28 + (x)]
    if (im.pix) {
        /* "pixel[0][0][0] = 0", "pixel[0][14][14] = 217", "pixel[0][27][27] = 0",
         * "pixel[1][10][5] = 223", "pixel[1999][20][13] = 255" */
        CHECK(PIX(0, 0, 0) == 0);
        CHECK(PIX(0, 14, 14) == 217);
        CHECK(PIX(0, 27, 27) == 0);
        CHECK(PIX(1, 10, 5) == 223);
        CHECK(PIX(1999, 20, 13) == 255);
        /* "pixel sum of image 0 = 76247", "pixel sum of all = 113529887" */
        int64_t s0 = 0, s = 0;
        for (int k = 0; k < 784; k++) s0 += im.pix[k];
        for (int64_t k = 0; k < im.n * 784; k++) s += im.pix[k];
        CHECK(s0 == 76247);
        CHECK(s == 113529887);
    }
    /* "train: mean 0.283938293 std 0.353501856" (float results: 1e-6) */
    float mean, std;
    assay_images_channel_stats(&im, &mean, &std);
    CHECK_NEAR(mean, 0.283938293, 1e-6);
    CHECK_NEAR(std, 0.353501856, 1e-6);
    assay_images_deinit(&im);
    CHECK(images_zeroed(&im));

    /* the test set through the dispatcher */
    CHECK_OK(assay_images_read(FASHION "t10k-images-idx3-ubyte.gz",
                               FASHION "t10k-labels-idx1-ubyte.gz", &im, &e), &e);
    CHECK(im.n == 500 && im.h == 28 && im.w == 28 && im.nclasses == 10);
    /* "t10k: first labels 9 2 1 1 6 1 4 6 5 7", "pixel[0][14][14] = 110",
     * "pixel[1][10][5] = 255", "pixel[499][20][13] = 231", "pixel sum of all = 29494551" */
    const int tfirst[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10 && im.labels; i++) CHECK(im.labels[i] == tfirst[i]);
    if (im.pix) {
        CHECK(PIX(0, 14, 14) == 110);
        CHECK(PIX(1, 10, 5) == 255);
        CHECK(PIX(499, 20, 13) == 231);
        int64_t s = 0;
        for (int64_t k = 0; k < im.n * 784; k++) s += im.pix[k];
        CHECK(s == 29494551);
    }
#undef PIX
    assay_images_deinit(&im);
    assay_images_deinit(&im); /* twice: a no-op */
    assay_images_deinit(NULL);
}

/* The subset's gzip files decompressed here (with zlib, not the reader) read the same. */
static void test_raw_equals_gzip(void) {
    const char *names[2] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
    char raw[2][512];
    for (int f = 0; f < 2; f++) {
        char gzpath[512];
        snprintf(gzpath, sizeof gzpath, FASHION "%s.gz", names[f]);
        snprintf(raw[f], sizeof raw[f], "%s/%s", tmpdir, names[f]);
        gzFile g = gzopen(gzpath, "rb");
        FILE *o = fopen(raw[f], "wb");
        CHECK(g && o);
        if (!g || !o) return;
        char buf[65536];
        int k;
        while ((k = gzread(g, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)k, o);
        gzclose(g);
        fclose(o);
    }
    assay_images a, b;
    assay_error e;
    CHECK_OK(assay_images_read_idx(FASHION "train-images-idx3-ubyte.gz",
                                   FASHION "train-labels-idx1-ubyte.gz", &a, &e), &e);
    CHECK_OK(assay_images_read_idx(raw[0], raw[1], &b, &e), &e);
    CHECK(a.n == b.n && a.h == b.h && a.w == b.w && a.nclasses == b.nclasses);
    if (a.pix && b.pix && a.n == b.n) {
        CHECK(memcmp(a.pix, b.pix, (size_t)a.n * 784) == 0);
        CHECK(memcmp(a.labels, b.labels, (size_t)a.n * sizeof *a.labels) == 0);
    }
    assay_images_deinit(&a);
    assay_images_deinit(&b);

    /* tiny fixtures: raw, gzip, gzip named .idx; labels raw and gzip */
    const char *imgs[3] = {FIX "idx/tiny-images.idx", FIX "idx/tiny-images.idx.gz",
                           FIX "idx/tiny-images-gz.idx"};
    const char *labs[3] = {FIX "idx/tiny-labels.idx", FIX "idx/tiny-labels.idx.gz",
                           FIX "idx/tiny-labels.idx"};
    for (int f = 0; f < 3; f++) {
        CHECK_OK(assay_images_read_idx(imgs[f], labs[f], &a, &e), &e);
        CHECK(a.n == 3 && a.c == 1 && a.h == 4 && a.w == 5);
        int bad = 0;
        for (int i = 0; i < 3 && a.pix; i++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 5; x++) bad += a.pix[(i * 4 + y) * 5 + x] != idx_pixel(i, y, x);
        CHECK_MSG(bad == 0, "%s: %d pixels differ", imgs[f], bad);
        /* gen_images.py: "labels 2 0 4" -> 5 classes named "0".."4" */
        CHECK(a.labels && a.labels[0] == 2 && a.labels[1] == 0 && a.labels[2] == 4);
        CHECK(a.nclasses == 5);
        if (a.nclasses == 5) CHECK_STR(a.class_names[4], "4");
        assay_images_deinit(&a);
    }
    /* without labels */
    CHECK_OK(assay_images_read_idx(FIX "idx/tiny-images.idx", NULL, &a, &e), &e);
    CHECK(a.n == 3 && a.labels == NULL && a.nclasses == 0 && a.class_names == NULL);
    assay_images_deinit(&a);
}

static void test_idx_errors(void) {
    static const struct {
        const char *images, *labels, *what;
    } cases[] = {
        {"bad-magic.idx", NULL, "magic 0x00000801 (an IDX label file), expected 0x00000803"},
        {"bad-type.idx", NULL, "magic 0x00000D03"},
        {"truncated.idx", NULL, "3 images of 4x5 need 76 bytes, file has 69 bytes"},
        {"truncated.idx.gz", NULL, "truncated gzip stream"},
        {"trailing.idx", NULL, "3 unexpected bytes after the data"},
        {"trailing.idx.gz", NULL, "unexpected bytes after the data"},
        {"short-header.idx", NULL, "too short for an IDX image header"},
        {"zero-dims.idx", NULL, "zero size"},
        {"huge-dims.idx", NULL, "absurd"},
        {"overflow-dims.idx", NULL, "absurd"},
        {"tiny-labels.idx", NULL, "an IDX label file"},
        {"no-such-file.idx", NULL, "No such file"},
        {"tiny-images.idx", "labels-2.idx", "2 labels, but"},
        {"tiny-images.idx", "labels-bad-magic.idx", "not an IDX label file"},
        {"tiny-images.idx", "tiny-images.idx.gz", "magic 0x00000803 (an IDX image file)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char ip[512], lp[512];
        snprintf(ip, sizeof ip, FIX "idx/%s", cases[k].images);
        if (cases[k].labels) snprintf(lp, sizeof lp, FIX "idx/%s", cases[k].labels);
        assay_images im;
        assay_error e = {0};
        int rc = assay_images_read_idx(ip, cases[k].labels ? lp : NULL, &im, &e);
        check_fails(rc, &e, cases[k].labels ? cases[k].labels : cases[k].images, cases[k].what);
        CHECK(images_zeroed(&im));
        if (rc == ASSAY_OK) assay_images_deinit(&im);
    }
    /* a count mismatch names both files */
    assay_images im;
    assay_error e;
    int rc = assay_images_read_idx(FIX "idx/tiny-images.idx", FIX "idx/labels-2.idx", &im, &e);
    check_fails(rc, &e, "tiny-images.idx", "has 3 images");
    /* an empty file, a directory */
    char p[512];
    snprintf(p, sizeof p, "%s/empty.idx", tmpdir);
    spit(p, "", 0);
    rc = assay_images_read_idx(p, NULL, &im, &e);
    check_fails(rc, &e, "empty.idx", "empty file");
    rc = assay_images_read_idx(FIX "idx", NULL, &im, &e);
    check_fails(rc, &e, "idx", "is a directory");
    /* the dispatcher: a folder takes no labels file */
    rc = assay_images_read(FIX "png/gray", FIX "idx/tiny-labels.idx", &im, &e);
    check_fails(rc, &e, "png/gray", "tiny-labels.idx");
    CHECK(rc == ASSAY_EINVAL);
    rc = assay_images_read(FIX "nowhere", NULL, &im, &e);
    check_fails(rc, &e, "nowhere", NULL);
}

/* Every prefix of a raw and of a gzip file is refused; every one-byte change to the gzip file is
 * refused or (gzip header fields zlib does not check) reads the same pixels. */
static void test_idx_every_truncation(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/cut.idx", tmpdir);
    const char *srcs[2] = {FIX "idx/tiny-images.idx", FIX "idx/tiny-images.idx.gz"};
    for (int f = 0; f < 2; f++) {
        size_t len;
        uint8_t *b = slurp(srcs[f], &len);
        CHECK(b != NULL);
        if (!b) return;
        int bad = 0;
        for (size_t n = 0; n < len; n++) {
            spit(p, b, n);
            assay_images im;
            assay_error e = {0};
            int rc = assay_images_read_idx(p, NULL, &im, &e);
            if (rc == ASSAY_OK || !strstr(e.msg, "cut.idx") || !images_zeroed(&im)) {
                bad++;
                fprintf(stderr, "%s cut to %zu bytes: rc %d, %s\n", srcs[f], n, rc, e.msg);
                assay_images_deinit(&im);
            }
        }
        CHECK_MSG(bad == 0, "%d of %zu truncations not refused", bad, len);
        free(b);
    }
    size_t len;
    uint8_t *b = slurp(FIX "idx/tiny-images.idx.gz", &len);
    if (!b) return;
    int refused = 0, same = 0, wrong = 0;
    for (size_t at = 0; at < len; at++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b[at] ^= (uint8_t)(1u << bit);
            spit(p, b, len);
            b[at] ^= (uint8_t)(1u << bit);
            assay_images im;
            assay_error e = {0};
            int rc = assay_images_read_idx(p, NULL, &im, &e);
            if (rc != ASSAY_OK) {
                refused += strstr(e.msg, "cut.idx") != NULL;
                continue;
            }
            int ok = im.n == 3 && im.h == 4 && im.w == 5;
            for (int k = 0; ok && k < 60; k++)
                ok = im.pix[k] == idx_pixel(k / 20, k / 5 % 4, k % 5);
            if (ok) same++;
            else wrong++;
            assay_images_deinit(&im);
        }
    }
    printf("gzip one-bit changes: %d refused, %d read the same pixels, %d wrong\n", refused, same,
           wrong);
    CHECK(wrong == 0);
    CHECK(refused + same == 3 * (int)len);
    free(b);
}

/* ---- PNG folders ------------------------------------------------------------------------- */

static void test_png_gray(void) {
    assay_images im;
    assay_error e;
    /* trailing slash, through the dispatcher */
    CHECK_OK(assay_images_read(FIX "png/gray/", NULL, &im, &e), &e);
    /* cat/1.png (8-bit), cat/2.png (16-bit); dog/a.png (gray+alpha), dog/b.png (1-bit),
     * dog/c.png (4-bit gray palette); cat/.hidden.png and README.txt skipped */
    CHECK(im.n == 5 && im.c == 1 && im.h == 3 && im.w == 4);
    CHECK(im.nclasses == 2);
    if (im.nclasses == 2) {
        CHECK_STR(im.class_names[0], "cat");
        CHECK_STR(im.class_names[1], "dog");
    }
    const int32_t labels[5] = {0, 0, 1, 1, 1};
    for (int i = 0; i < 5 && im.labels; i++) CHECK(im.labels[i] == labels[i]);
    if (im.n == 5 && im.pix) {
        int bad[5] = {0};
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++) {
                int k = y * 4 + x;
                bad[0] += im.pix[0 * 12 + k] != v(y, x);
                bad[1] += im.pix[1 * 12 + k] != v(y, x);          /* 16-bit: v * 257 */
                bad[2] += im.pix[2 * 12 + k] != v(y, x);          /* alpha dropped */
                bad[3] += im.pix[3 * 12 + k] != ((x + 2 * y) % 3 == 0 ? 255 : 0);
                bad[4] += im.pix[4 * 12 + k] != 17 * (4 * y + x); /* palette entry i = 17 i */
            }
        for (int i = 0; i < 5; i++) CHECK_MSG(bad[i] == 0, "image %d: %d pixels differ", i, bad[i]);
    }
    float mean, std;
    assay_images_channel_stats(&im, &mean, &std);
    /* against a double computation over the bytes */
    double s = 0, s2 = 0;
    for (int k = 0; k < 60 && im.pix; k++) {
        s += im.pix[k] / 255.0;
        s2 += (im.pix[k] / 255.0) * (im.pix[k] / 255.0);
    }
    CHECK_NEAR(mean, s / 60, 1e-6);
    CHECK_NEAR(std, sqrt(s2 / 60 - (s / 60) * (s / 60)), 1e-6);
    assay_images_deinit(&im);
}

static void test_png_rgb(void) {
    assay_images im;
    assay_error e;
    CHECK_OK(assay_images_read_folder(FIX "png/rgb", &im, &e), &e);
    /* a/1.png RGB, a/2.png RGBA; b/p.png colour palette with tRNS, b/q.png gray, b/r.png 16-bit */
    CHECK(im.n == 5 && im.c == 3 && im.h == 3 && im.w == 4 && im.nclasses == 2);
    if (im.n == 5 && im.c == 3 && im.pix) {
        int bad[5] = {0};
        for (int i = 0; i < 5; i++)
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < 4; x++) {
                        /* CHW: channel planes of 3 x 4 */
                        int got = im.pix[(i * 3 + ch) * 12 + y * 4 + x];
                        int want = i == 3 ? v(y, x) : rgb(y, x, ch);
                        bad[i] += got != want;
                    }
        for (int i = 0; i < 5; i++) CHECK_MSG(bad[i] == 0, "image %d: %d values differ", i, bad[i]);
        /* gen_images.py: "rgb(2,3): (181, 74, 243)" */
        CHECK(im.pix[11] == 181 && im.pix[12 + 11] == 74 && im.pix[24 + 11] == 243);
    }
    float mean[3], std[3];
    assay_images_channel_stats(&im, mean, std);
    for (int ch = 0; ch < 3 && im.pix; ch++) {
        double s = 0;
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 12; k++) s += im.pix[(i * 3 + ch) * 12 + k] / 255.0;
        CHECK_NEAR(mean[ch], s / 60, 1e-6);
    }
    assay_images_deinit(&im);
}

static void test_png_errors(void) {
    assay_images im;
    assay_error e;
    int rc = assay_images_read_folder(FIX "png/mixed-size", &im, &e);
    check_fails(rc, &e, "y/2.png", "is 3x4");
    check_fails(rc, &e, "x/1.png", "is 4x3");
    CHECK(images_zeroed(&im));
    rc = assay_images_read_folder(FIX "png/not-png", &im, &e);
    check_fails(rc, &e, "x/notes.txt", "not a PNG file");
    rc = assay_images_read_folder(FIX "png/corrupt", &im, &e);
    check_fails(rc, &e, "x/2.png", "libpng");
    CHECK(images_zeroed(&im));
    rc = assay_images_read_folder(FIX "png/nowhere", &im, &e);
    check_fails(rc, &e, "png/nowhere", NULL);
    /* no class folders: an empty folder, a folder of files */
    char d[512], f[600];
    snprintf(d, sizeof d, "%s/empty", tmpdir);
    mkdir(d, 0700);
    rc = assay_images_read(d, NULL, &im, &e);
    check_fails(rc, &e, "empty", "no class sub-folders");
    snprintf(f, sizeof f, "%s/a.png", d);
    spit(f, "x", 1);
    rc = assay_images_read_folder(d, &im, &e);
    check_fails(rc, &e, "empty", "no class sub-folders");
    /* an empty class folder; a folder inside a class folder */
    snprintf(f, sizeof f, "%s/cls", d);
    mkdir(f, 0700);
    rc = assay_images_read_folder(d, &im, &e);
    check_fails(rc, &e, "empty/cls", "empty class folder");
    snprintf(f, sizeof f, "%s/cls/sub", d);
    mkdir(f, 0700);
    rc = assay_images_read_folder(d, &im, &e);
    check_fails(rc, &e, "cls/sub", "a folder inside a class folder");
    CHECK(images_zeroed(&im));
    rmdir(f);
    snprintf(f, sizeof f, "%s/cls", d);
    rmdir(f);
    snprintf(f, sizeof f, "%s/a.png", d);
    unlink(f);
    rmdir(d);
}

/* ---- batches ----------------------------------------------------------------------------- */

static float norm(int p, float mean, float std) { return ((float)p / 255.0f - mean) / std; }

static void test_batch_normalize(void) {
    assay_images im;
    assay_error e;
    CHECK_OK(assay_images_read_idx(FIX "idx/tiny-images.idx", NULL, &im, &e), &e);
    if (!im.pix) return;
    const float mean = 0.5f, std = 0.25f;
    int64_t idx[4] = {2, 0, 1, 2};
    float out[4 * 20];
    assay_images_batch(out, &im, idx, 4, &mean, &std, NULL, 1.0f, 3); /* no rng: no augmentation */
    int bad = 0;
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < 20; k++)
            bad += out[j * 20 + k] != norm(idx_pixel((int)idx[j], k / 5, k % 5), mean, std);
    CHECK_MSG(bad == 0, "%d values differ", bad);
    /* (1/255 - 0.5) / 0.25 = -1.98431..., (213/255 - 0.5) / 0.25 = 1.34117... */
    CHECK_NEAR(out[20], (1.0 / 255 - 0.5) / 0.25, 1e-6);
    CHECK_NEAR(out[19], (213.0 / 255 - 0.5) / 0.25, 1e-6);
    /* a zero std (constant channel) divides by 1, never by 0 */
    const float zero = 0.0f;
    assay_images_batch(out, &im, idx, 1, &mean, &zero, NULL, 0.0f, 0);
    CHECK_NEAR(out[0], idx_pixel(2, 0, 0) / 255.0 - 0.5, 1e-6);
    /* m = 0 touches nothing */
    out[0] = 42.0f;
    assay_images_batch(out, &im, idx, 0, &mean, &std, NULL, 0.0f, 0);
    CHECK(out[0] == 42.0f);
    assay_images_deinit(&im);
}

static void test_batch_flip(void) {
    assay_images im;
    assay_error e;
    CHECK_OK(assay_images_read_folder(FIX "png/rgb", &im, &e), &e);
    if (!im.pix) return;
    const float mean[3] = {0.1f, 0.2f, 0.3f}, std[3] = {0.5f, 0.6f, 0.7f};
    int64_t idx[5] = {0, 1, 2, 3, 4};
    float out[5 * 36];
    assay_rng r;
    assay_rng_seed(&r, 7);
    assay_images_batch(out, &im, idx, 5, mean, std, &r, 1.0f, 0); /* always flipped */
    int bad = 0;
    for (int i = 0; i < 5; i++)
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++) {
                    int src = im.pix[(i * 3 + ch) * 12 + y * 4 + (3 - x)];
                    bad += out[(i * 3 + ch) * 12 + y * 4 + x] != norm(src, mean[ch], std[ch]);
                }
    CHECK_MSG(bad == 0, "%d flipped values differ", bad);
    /* flip 0 with an rng: unchanged */
    assay_images_batch(out, &im, idx, 5, mean, std, &r, 0.0f, 0);
    bad = 0;
    for (int k = 0; k < 5 * 36; k++)
        bad += out[k] != norm(im.pix[k], mean[k / 12 % 3], std[k / 12 % 3]);
    CHECK(bad == 0);
    /* flip 0.5: over many draws some images are flipped and some not */
    int64_t many[200];
    for (int j = 0; j < 200; j++) many[j] = 0;
    float *big = malloc(200 * 36 * sizeof *big);
    assay_images_batch(big, &im, many, 200, mean, std, &r, 0.5f, 0);
    int flipped = 0;
    for (int j = 0; j < 200; j++)
        flipped += big[j * 36] == norm(im.pix[3], mean[0], std[0]); /* pixel (0,0) <- (0,3) */
    printf("flip 0.5: %d of 200 flipped\n", flipped);
    CHECK(flipped > 60 && flipped < 140);
    free(big);
    assay_images_deinit(&im);
}

/* Which (dx, dy) in [-S, S]^2 turns src into out (pad = normalized 0)? -99 if none. */
static int find_shift(const float *out, const uint8_t *src, int C, int H, int W, int S,
                      float mean, float std, int *dx, int *dy) {
    int found = 0;
    for (int sy = -S; sy <= S; sy++)
        for (int sx = -S; sx <= S; sx++) {
            int ok = 1;
            for (int ch = 0; ch < C && ok; ch++)
                for (int y = 0; y < H && ok; y++)
                    for (int x = 0; x < W && ok; x++) {
                        int yy = y - sy, xx = x - sx;
                        int p = yy < 0 || yy >= H || xx < 0 || xx >= W ? 0
                                : src[(ch * H + yy) * W + xx];
                        ok = out[(ch * H + y) * W + x] == norm(p, mean, std);
                    }
            if (ok) {
                *dx = sx;
                *dy = sy;
                found++;
            }
        }
    return found;
}

static void test_batch_shift(void) {
    assay_images im;
    assay_error e;
    CHECK_OK(assay_images_read_idx(FIX "idx/tiny-images.idx", NULL, &im, &e), &e);
    if (!im.pix) return;
    const float mean = 0.25f, std = 0.5f;
    enum { M = 300 };
    int64_t idx[M];
    for (int j = 0; j < M; j++) idx[j] = j % 3;
    float *out = malloc(M * 20 * sizeof *out);
    assay_rng r;
    assay_rng_seed(&r, 11);
    assay_images_batch(out, &im, idx, M, &mean, &std, &r, 0.0f, 2);
    int seen[5][5] = {{0}}, unmatched = 0;
    for (int j = 0; j < M; j++) {
        int dx = 0, dy = 0;
        /* pixels are never 0 in these images, so the shift is identified uniquely */
        if (find_shift(out + j * 20, im.pix + idx[j] * 20, 1, 4, 5, 2, mean, std, &dx, &dy) != 1)
            unmatched++;
        else
            seen[dy + 2][dx + 2]++;
    }
    CHECK_MSG(unmatched == 0, "%d images are not a shift of their source", unmatched);
    int combos = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) combos += seen[a][b] > 0;
    printf("shift 2: %d of 25 (dx, dy) pairs seen in %d images\n", combos, M);
    CHECK(combos == 25);
    /* a shift larger than the image leaves only padding or a shifted image */
    assay_images_batch(out, &im, idx, 3, &mean, &std, &r, 0.0f, 50);
    for (int j = 0; j < 3; j++) {
        int dx, dy;
        (void)dx;
        (void)dy;
        int all_pad = 1;
        for (int k = 0; k < 20; k++) all_pad &= out[j * 20 + k] == norm(0, mean, std);
        CHECK(all_pad || find_shift(out + j * 20, im.pix + idx[j] * 20, 1, 4, 5, 4, mean, std,
                                    &dx, &dy) == 1);
    }
    free(out);
    assay_images_deinit(&im);
}

/* The same seed gives the same batch whatever the number of threads; another seed differs. */
static void test_batch_deterministic(void) {
    assay_images im;
    assay_error e;
    CHECK_OK(assay_images_read_idx(FASHION "train-images-idx3-ubyte.gz", NULL, &im, &e), &e);
    if (!im.pix) return;
    float mean, std;
    assay_images_channel_stats(&im, &mean, &std);
    enum { M = 600 };
    int64_t idx[M];
    assay_rng r;
    assay_rng_seed(&r, 3);
    for (int j = 0; j < M; j++) idx[j] = (int64_t)assay_rng_below(&r, (uint64_t)im.n);
    size_t bytes = (size_t)M * 784 * sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    int threads = assay_threads_get();
    assay_threads_set(1);
    assay_rng_seed(&r, 42);
    assay_images_batch(a, &im, idx, M, &mean, &std, &r, 0.5f, 2);
    assay_threads_set(4);
    assay_rng_seed(&r, 42);
    assay_images_batch(b, &im, idx, M, &mean, &std, &r, 0.5f, 2);
    assay_rng_seed(&r, 43);
    assay_images_batch(c, &im, idx, M, &mean, &std, &r, 0.5f, 2);
    assay_threads_set(threads);
    CHECK(memcmp(a, b, bytes) == 0);
    CHECK(memcmp(a, c, bytes) != 0);
    /* channel stats are exact sums: the same with 1 thread */
    float mean1, std1;
    assay_threads_set(1);
    assay_images_channel_stats(&im, &mean1, &std1);
    assay_threads_set(threads);
    CHECK(mean1 == mean && std1 == std);
    free(a);
    free(b);
    free(c);
    assay_images_deinit(&im);
}

/* ---- allocation failures ----------------------------------------------------------------- */

typedef int (*reader)(assay_images *, assay_error *);
static int rd_raw(assay_images *im, assay_error *e) {
    return assay_images_read_idx(FIX "idx/tiny-images.idx", FIX "idx/tiny-labels.idx", im, e);
}
static int rd_gz(assay_images *im, assay_error *e) {
    return assay_images_read(FASHION "t10k-images-idx3-ubyte.gz",
                             FASHION "t10k-labels-idx1-ubyte.gz", im, e);
}
static int rd_png(assay_images *im, assay_error *e) {
    return assay_images_read(FIX "png/rgb", NULL, im, e);
}

static void test_alloc_failures(void) {
    const reader readers[3] = {rd_raw, rd_gz, rd_png};
    const char *names[3] = {"raw IDX", "gzip IDX", "PNG folder"};
    for (int f = 0; f < 3; f++) {
        assay_images im;
        assay_error e;
        assay_alloc_fail_after(0);
        CHECK_OK(readers[f](&im, &e), &e);
        uint64_t n = assay_alloc_fail_after(0);
        assay_images_deinit(&im);
        int clean = 1;
        for (uint64_t k = 1; k <= n; k++) {
            assay_alloc_fail_after(k);
            int rc = readers[f](&im, &e);
            assay_alloc_fail_after(0);
            if (rc != ASSAY_ENOMEM || !images_zeroed(&im) || !strstr(e.msg, "out of memory")) {
                clean = 0;
                fprintf(stderr, "%s, allocation %llu: rc %d %s\n", names[f], (unsigned long long)k,
                        rc, e.msg);
            }
            assay_images_deinit(&im);
        }
        printf("%s: %llu allocations, each failed in turn\n", names[f], (unsigned long long)n);
        CHECK(n > 0);
        CHECK(clean);
    }
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_fashion_small);
    RUN(test_raw_equals_gzip);
    RUN(test_idx_errors);
    RUN(test_idx_every_truncation);
    RUN(test_png_gray);
    RUN(test_png_rgb);
    RUN(test_png_errors);
    RUN(test_batch_normalize);
    RUN(test_batch_flip);
    RUN(test_batch_shift);
    RUN(test_batch_deterministic);
    RUN(test_alloc_failures);
    /* clean up the temporary folder (only files this test wrote) */
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *ent;
        char p[600];
        while ((ent = readdir(d)))
            if (ent->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", tmpdir, ent->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(tmpdir);
    return check_summary();
}
