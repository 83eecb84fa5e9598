/* image.h - image data sets for the neural models: IDX files (MNIST, Fashion-MNIST; gzip or
 * raw) and folders of PNG images with one sub-folder per class; normalization and random
 * augmentation (flips, shifts).
 *
 * Pixels are kept as bytes (n, C, H, W) in memory: 60,000 Fashion-MNIST images take 47 MB
 * instead of 188 MB as floats; batches are converted to floats when they are drawn. Every
 * image of a set has the same C, H, W. */
#ifndef ASSAY_IMAGE_H
#define ASSAY_IMAGE_H

#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_images {
    int64_t n;                 /* images */
    int c, h, w;               /* channels (1 gray, 3 RGB), height, width */
    uint8_t *pix;              /* n x c x h x w, channel-major per image (CHW) */
    int32_t *labels;           /* n class indices, or NULL (no labels) */
    int nclasses;              /* number of distinct classes (labels in [0, nclasses)) */
    char **class_names;        /* nclasses names: folder names, or "0".."9" for IDX */
} assay_images;

/* Read an IDX image file (magic 0x00000803: n x rows x cols unsigned bytes; gzip-compressed
 * when the file starts with the gzip magic, whatever its name) and, when labels_path is not
 * NULL, its IDX label file (magic 0x00000801: n unsigned bytes). Errors name the file and what
 * is wrong: a wrong magic, dimensions that disagree with the file's size, a truncated gzip
 * stream, label and image counts that differ. */
int assay_images_read_idx(const char *images_path, const char *labels_path, assay_images *out,
                          assay_error *err);
/* Read dir/<class>/<image>.png for every class sub-folder (sorted by name: class i is the i-th
 * folder). Gray, gray+alpha, RGB, RGBA and palette PNGs at any bit depth are converted to the
 * channel count of the first image (alpha dropped; gray stays 1 channel, color 3); an image
 * whose size differs from the first's is refused, naming both files and sizes. */
int assay_images_read_folder(const char *dir, assay_images *out, assay_error *err);
/* A directory -> read_folder (labels_path must be NULL); a file -> read_idx. */
int assay_images_read(const char *path, const char *labels_path, assay_images *out,
                      assay_error *err);
void assay_images_deinit(assay_images *im);

/* Per-channel mean and standard deviation of pixel / 255 over all images (double sums). */
void assay_images_channel_stats(const assay_images *im, float *mean, float *std);

/* Images idx[0..m) as floats into out (m x c x h x w): (pix / 255 - mean[ch]) / std[ch].
 * With rng != NULL, each image is augmented as it is drawn: flipped left-right with
 * probability flip (0 = never) and shifted by up to shift pixels in x and y (vacated pixels
 * take the normalized value of 0), randomness drawn from rng in image order. */
void assay_images_batch(float *out, const assay_images *im, const int64_t *idx, int64_t m,
                        const float *mean, const float *std, assay_rng *rng, float flip,
                        int shift);

#ifdef __cplusplus
}
#endif

#endif
