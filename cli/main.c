/* main.c - the assay command-line tool: a table of commands (as Redis keeps one), dispatch,
 * and the top-level help. Each command lives in cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cli_command {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"profile", cmd_profile, "describe a data set: types, missing values, distributions"},
    {"fit", cmd_fit, "clean, featurize, fit, cross-validate and evaluate a model; save it"},
    {"pretrain", cmd_pretrain, "pretrain a BERT encoder on text by masked language modelling"},
    {"embed", cmd_embed, "sentence embeddings of texts from a BERT encoder directory"},
    {"cv", cmd_cv, "cross-validate a model (stratified, grouped or time-ordered folds); record it"},
    {"tune", cmd_tune, "cross-validate a grid or random draws of hyperparameters; record them"},
    {"predict", cmd_predict, "predict rows of a data file with a saved model"},
    {"eval", cmd_eval, "evaluate a saved model on labelled data"},
    {"report", cmd_report, "write a self-contained HTML report of a model on labelled data"},
    {"runs", cmd_runs, "list the runs recorded in the store"},
    {"models", cmd_models, "list the registered models; promote a version to a stage"},
    {"serve", cmd_serve, "serve models over HTTP: predictions, explanations, metrics, drift"},
    {"keys", cmd_keys, "create, list and revoke API keys for assay serve"},
    {"requests", cmd_requests, "list the predictions assay serve logged in the store"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: assay <command> [options]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'assay <command> --help' describes a command. 'assay --version' prints the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_BAD_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("assay %s\n", ASSAY_VERSION_STRING);
        return CLI_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "assay: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_BAD_INPUT;
}
