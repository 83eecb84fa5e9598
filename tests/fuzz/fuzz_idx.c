/* fuzz_idx.c - libFuzzer target for the IDX reader (assay_images_read_idx), raw and gzip.
 *
 * Input: byte 0 is a flag. Even: the rest is an image file, read without labels. Odd: bytes 1-2
 * are a big-endian length L, the next L bytes are a label file and the rest the image file.
 * The reader takes paths, so the bytes go to two memfd files read through /proc/self/fd.
 * Any input must give images or a clean error naming one of the files, with *out left empty,
 * never a crash, a leak or undefined behaviour; a set that loads is also run through the
 * channel statistics and a small augmented batch so ASan sees every pixel touched. It does not
 * fuzz the PNG folder reader (libpng is fuzzed upstream). Seeds: tests/fuzz/corpus/idx, written
 * by tests/fixtures/images/gen_images.py. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "assay/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fds[2] = {-1, -1};
static char paths[2][64];

/* Make file k hold exactly n bytes of p. */
static void put(int k, const uint8_t *p, size_t n) {
    if (fds[k] < 0) {
        fds[k] = memfd_create(k ? "fuzz-labels.idx" : "fuzz-images.idx", 0);
        if (fds[k] < 0) abort();
        snprintf(paths[k], sizeof paths[k], "/proc/self/fd/%d", fds[k]);
    }
    if (ftruncate(fds[k], 0) != 0) abort();
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fds[k], p + done, n - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
}

/* Does msg start with "path:" or "path "? */
static int names(const char *msg, const char *path) {
    size_t n = strlen(path);
    return strncmp(msg, path, n) == 0 && (msg[n] == ':' || msg[n] == ' ');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int with_labels = data[0] & 1;
    const uint8_t *img = data + 1, *lab = NULL;
    size_t nimg = size - 1, nlab = 0;
    if (with_labels) {
        if (size < 3) return 0;
        nlab = (size_t)data[1] << 8 | data[2];
        if (nlab > size - 3) nlab = size - 3;
        lab = data + 3;
        img = lab + nlab;
        nimg = size - 3 - nlab;
        put(1, lab, nlab);
    }
    put(0, img, nimg);

    assay_images im;
    assay_error err = {0};
    int rc = assay_images_read_idx(paths[0], with_labels ? paths[1] : NULL, &im, &err);
    if (rc != ASSAY_OK) {
        int named = names(err.msg, paths[0]) || (with_labels && names(err.msg, paths[1]));
        if (!named || err.code != rc || im.pix || im.labels || im.class_names || im.n)
            __builtin_trap(); /* a failure must name its file and leave nothing behind */
        return 0;
    }
    if (im.n <= 0 || im.c != 1 || im.h <= 0 || im.w <= 0 || !im.pix) __builtin_trap();
    if (with_labels) {
        if (!im.labels || im.nclasses < 1 || im.nclasses > 256) __builtin_trap();
        for (int64_t i = 0; i < im.n; i++)
            if (im.labels[i] < 0 || im.labels[i] >= im.nclasses) __builtin_trap();
        for (int k = 0; k < im.nclasses; k++)
            if (!im.class_names[k]) __builtin_trap();
    }
    float mean, std;
    assay_images_channel_stats(&im, &mean, &std);
    const int64_t chw = (int64_t)im.c * im.h * im.w;
    if (chw <= (1 << 20)) {
        int64_t idx[4];
        int64_t m = im.n < 4 ? im.n : 4;
        for (int64_t j = 0; j < m; j++) idx[j] = im.n - 1 - j;
        float *out = malloc((size_t)(m * chw) * sizeof *out);
        if (out) {
            assay_rng r;
            assay_rng_seed(&r, (uint64_t)size);
            assay_images_batch(out, &im, idx, m, &mean, &std, &r, 0.5f, 2);
            free(out);
        }
    }
    assay_images_deinit(&im);
    return 0;
}
