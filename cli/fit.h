/* fit.h - what `assay fit`'s two paths share: the parsed command line (cmd_fit.c parses it;
 * tables continue there, images in fit_images.c). */
#ifndef ASSAY_CLI_FIT_H
#define ASSAY_CLI_FIT_H

#include "cli.h"

#define MAX_EXCLUDE 64

typedef struct fit_cli {
    cli_common c;
    const char *cmd;           /* "fit", "cv" or "tune": messages and what runs */
    const char *group_column;  /* --group: grouped folds */
    const char *grid;          /* tune: "key=v1,v2;key=v3,v4" or ranges "key=lo:hi" with --random */
    long random_n;             /* tune: draw this many settings from the ranges of --grid */
    const char *data, *test_path, *out, *name, *time_column, *predictions;
    double test_size, time_budget;
    int cv;
    int cv_set;                /* --cv was given */
    double autotune;           /* --autotune-time S: textclf's random search, seconds */
    long early_stopping;
    assay_fit_options fo;
    const char *exclude[MAX_EXCLUDE];
    int nexclude;
    /* images and neural networks */
    int images;                /* DATA is images (--labels given, or a folder) */
    const char *labels, *test_labels;
    const char *arch, *hidden, *epochs, *batch, *lr, *optimizer, *weight_decay, *dropout;
    const char *encoder;       /* --encoder DIR: bert's pretrained encoder */
    const char *precision;     /* --precision fp32|bf16 (bert, mlp, cnn) */
    char nn_params[1024];      /* --params plus the network options, as key=value */
    /* business value (binary): the gain or cost of each decision, per-row amounts */
    const char *value, *value_column;
    double budget;             /* --budget: act on at most this percent of rows (0: no limit) */
    int calibrate;             /* 0 none, else an assay_calibration_method */
    double threshold;          /* --threshold: binary decision threshold; NAN: "cv" (default),
                                  chosen for accuracy on the CV predictions */
    int no_ensemble;           /* --no-ensemble: --model auto keeps the best single model */
    const char *report;        /* --report FILE: the HTML report on the --test file */
    assay_value_spec spec;
} fit_cli;

/* "credit_data" from "examples/credit_data.csv" (malloc'd). */
char *cli_stem_of(const char *path);
int cli_is_directory(const char *path);
/* Fold --arch, --hidden, --epochs, --batch-size, --lr, --optimizer, --weight-decay, --dropout
 * and --encoder into a->fo.params. Prints a message and returns non-zero when they are given to
 * a model that does not take them, or are malformed. */
int cli_fit_nn_params(fit_cli *a);
/* `assay fit` on images: returns the exit status. */
int cli_fit_images(fit_cli *a);

#endif
