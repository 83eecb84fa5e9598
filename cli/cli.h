/* cli.h - what the assay commands share: common options, reading data, the store, output.
 * The CLI uses only the public headers of libassay. */
#ifndef ASSAY_CLI_H
#define ASSAY_CLI_H

#include <jansson.h>
#include <getopt.h>
#include <stdio.h>

#include "assay/assay.h"

/* Exit statuses (DESIGN.md: the CLI contract). */
enum { CLI_OK = 0, CLI_BAD_INPUT = 1, CLI_INTERNAL = 2 };

/* Options every data-reading command accepts. */
#define CLI_MAX_ARGS 256

typedef struct cli_common {
    const char *db;            /* --db, else ASSAY_DB, else assay.db; "none" disables */
    int json;                  /* --json */
    int threads;               /* --threads (0: all cores) */
    uint64_t seed;             /* --seed */
    int quiet;                 /* --quiet: no progress bar */
    char delimiter;            /* --delimiter */
    int strict_utf8;           /* --strict-utf8: refuse invalid UTF-8 (default: replace, count) */
    assay_col_override overrides[64]; /* --column NAME:TYPE */
    char *override_names[64];
    int n_overrides;
    int argc;                  /* the command line, recorded in the store */
    char **argv;
    const char *typed[CLI_MAX_ARGS]; /* argv as typed, before getopt reorders it */
    int ntyped;
    double started;            /* wall clock (unix seconds) */
    double t0;                 /* monotonic start */
} cli_common;

/* Long options shared by the commands; command tables append their own and end with this. */
#define CLI_COMMON_LONGOPTS                                   \
    {"db", required_argument, 0, 1001},                       \
    {"json", no_argument, 0, 1002},                           \
    {"threads", required_argument, 0, 1003},                  \
    {"seed", required_argument, 0, 1004},                     \
    {"quiet", no_argument, 0, 1005},                          \
    {"delimiter", required_argument, 0, 1006},                \
    {"column", required_argument, 0, 1007},                   \
    {"strict-utf8", no_argument, 0, 1008},                    \
    {"help", no_argument, 0, 'h'}

#define CLI_COMMON_HELP                                                                     \
    "  --column NAME:TYPE   force a column's type (numeric, categorical, text, datetime,\n" \
    "                       boolean); repeatable\n"                                        \
    "  --delimiter C        field delimiter (default: detected among , ; TAB |)\n"        \
    "  --strict-utf8        refuse invalid UTF-8, naming line and column (default: each bad\n" \
    "                       byte becomes U+FFFD and the count is printed)\n"            \
    "  --db PATH            the store (default $ASSAY_DB or ./assay.db; 'none' to skip)\n" \
    "  --threads N          worker threads (default: all cores)\n"                         \
    "  --seed N             seed for every random choice (default 42)\n"                   \
    "  --json               print one JSON document instead of text\n"                     \
    "  --quiet              no progress bar\n"                                              \
    "  -h, --help           this help\n"

void cli_common_init(cli_common *c, int argc, char **argv);
/* Handle a common option; returns 1 if handled, 0 if not one, -1 on a bad value (printed). */
int cli_common_option(cli_common *c, int opt, const char *arg);
void cli_common_deinit(cli_common *c);
/* Apply threads / progress settings after option parsing. */
void cli_common_apply(const cli_common *c);

/* Print "assay CMD: message" to stderr and return the exit status for the code. */
int cli_fail(const char *cmd, const assay_error *err);
int cli_failf(const char *cmd, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_status(int code); /* ASSAY_E* -> exit status */

/* Read a data file with the common options and extra overrides (from a model; may be NULL). */
int cli_read_table(const cli_common *c, const char *path, const assay_col_override *extra,
                   int nextra, assay_table **out, assay_error *err);

/* The decision for one output row as JSON: the label, or for multilabel the array of labels at
 * or above the threshold. */
json_t *cli_json_decision(const assay_model *m, const double *row);

/* --task auto on a fastText file whose documents have several labels (its label column is then
 * text, "a|b"): the task becomes multilabel. */
void cli_infer_multilabel(const char *path, const assay_table *t, assay_fit_options *fo);

/* Check that PATH's directory exists and is writable, before doing any work. */
int cli_check_output_path(const char *option, const char *path, assay_error *err);

/* The store: NULL (and no error) when --db none. */
int cli_store_open(const cli_common *c, assay_store **out, assay_error *err);
/* The command line as one string (assay_free). */
/* Opens the store and records a successful run of command over the data set at data_path
 * (table t); a store that cannot be opened gives a warning, never a failure. */
void cli_record_data_run(const cli_common *c, const char *command, const char *data_path,
                         const assay_table *t, const char *metrics_json);
char *cli_argv_string(const cli_common *c);
/* Record a run (best effort: a store error is printed as a warning, never fatal). */
int64_t cli_record_run(const cli_common *c, assay_store *st, const char *command,
                       const char *params_json, int64_t dataset_id, const char *fingerprint,
                       const char *metrics_json, int status, const char *message);
/* Record the data set; returns its id or 0. */
int64_t cli_record_dataset(assay_store *st, const char *path, const assay_table *t);

/* Write text to a file atomically (temp + rename), or to stdout when path is NULL or "-". */
int cli_write_output(const char *path, const char *data, size_t len, assay_error *err);

/* Predictions as CSV: kept columns, the decided label (or value), optional probabilities
 * (printed with %.17g, so they read back exactly). rows may be NULL (all of t). */
/* Explanations: per row, the top contributions (by magnitude) of the explained output (the
 * positive class, the predicted class, or the value) from phi (assay_model_explain). */
json_t *cli_explain_json(const assay_model *m, int64_t n, const double *out, const double *phi,
                         int top);
/* Append ",explanation" to the header and "f=+0.123;g=-0.045" to every line of a CSV in b. */
int cli_add_explain_column(const assay_model *m, int64_t n, const double *out, const double *phi,
                           int top, assay_buf *b);
/* Classification: the k most probable classes of each row, highest first (ties: lower class
 * index), in idx (k entries, k clipped to K); returns k. */
int cli_topk(const double *row, int K, int k, int *idx);
/* Append ",top1,proba1,...,topK,probaK" and each row's k most probable labels with their
 * probabilities; a class below min_proba leaves its two cells empty (fastText's predict-prob
 * with k and a threshold). */
int cli_add_topk_columns(const assay_model *m, int64_t n, const double *out, int k, double min_proba,
                         assay_buf *b);
int cli_predictions_csv(const assay_model *m, const assay_table *t, const int64_t *rows, int64_t n,
                        const double *out, int proba, const char *const *keep, const int *keepcol,
                        int nkeep, assay_buf *b);

/* Print a JSON document (compact=0: indented) and free it; jansson's json_t. */
struct json_t;
void cli_print_json(struct json_t *doc);
/* A JSON number, or null when not finite (JSON has no NaN). */
struct json_t *cli_json_num(double v);

typedef int (*cli_command_fn)(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* assay report's argv (--data names the rows in the report) on rows already in memory. */
int cli_report_on_table(int argc, char **argv, const assay_table *t);
int cmd_cv(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_requests(int argc, char **argv);

#endif
