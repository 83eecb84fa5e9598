/* cmd_eval.c - `assay eval MODEL DATA`: the model's metrics on labelled data. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_eval(int argc, char **argv) {
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
    cli_common c;
    cli_common_init(&c, argc, argv);
    int opt, status = CLI_OK, rc;
    assay_error err = {0};
    assay_model *m = NULL;
    assay_table *t = NULL;
    assay_metrics met = {0};
    double *out = NULL, *y = NULL;
    int32_t *pred = NULL;
    char *mj = NULL;
    const char **labels = NULL;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&c, opt, optarg);
        if (h < 0) return CLI_BAD_INPUT;
        if (h > 0) continue;
        if (opt == 'h') {
            printf("usage: assay eval MODEL DATA [options]\n\n"
                   "Evaluate a saved model on DATA, which holds the model's input columns and its\n"
                   "target column.\n\n" CLI_COMMON_HELP);
            return CLI_OK;
        }
        return cli_failf("eval", CLI_BAD_INPUT, "unknown or incomplete option '%s' (see assay eval --help)",
                         argv[optind - 1]);
    }
    if (argc - optind != 2)
        return cli_failf("eval", CLI_BAD_INPUT, "expected MODEL and DATA (usage: assay eval MODEL DATA)");
    const char *model_path = argv[optind], *data_path = argv[optind + 1];
    cli_common_apply(&c);
    if ((rc = assay_model_load(model_path, &m, &err))) goto fail;
    int nov;
    const assay_col_override *ov = assay_model_read_overrides(m, &nov);
    if ((rc = cli_read_table(&c, data_path, ov, nov, &t, &err))) goto fail;
    int width = assay_model_output_width(m), K = assay_model_nclasses(m);
    int64_t n = t->nrows;
    out = malloc(sizeof *out * (size_t)n * (size_t)width + 1);
    y = malloc(sizeof *y * (size_t)n * (size_t)assay_model_target_width(m) + 1);
    pred = malloc(sizeof *pred * (size_t)n + 1);
    labels = calloc((size_t)K + 1, sizeof *labels);
    if (!out || !y || !pred || !labels) {
        rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
        goto fail;
    }
    for (int k = 0; k < K; k++) labels[k] = assay_model_label(m, k);
    if ((rc = assay_model_encode_target(m, t, NULL, n, y, &err))) goto fail;
    if ((rc = assay_model_predict(m, t, NULL, n, out, &err))) goto fail;
    for (int64_t i = 0; i < n; i++) pred[i] = assay_model_decide(m, out + i * width);
    assay_task task = assay_model_task(m);
    if ((rc = assay_metrics_compute(task, K, assay_model_positive(m), y, out,
                                    task == ASSAY_TASK_REGRESSION ? NULL : pred, n, &met, &err)))
        goto fail;
    mj = assay_metrics_to_json(&met, K ? labels : NULL);
    if (c.json) {
        json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:I}", "model_path", model_path, "data", data_path,
                                "task", assay_task_name(task), "model", assay_model_kind(m), "rows",
                                (json_int_t)n);
        json_object_set_new(doc, "metrics", mj ? json_loads(mj, 0, NULL) : json_null());
        cli_print_json(doc);
    } else {
        printf("assay eval: %s on %s (%lld rows, %s)\n", model_path, data_path, (long long)n,
               assay_task_name(task));
        assay_buf b = {0};
        assay_metrics_format(&met, K ? labels : NULL, &b);
        if (b.data) fputs(b.data, stdout);
        assay_buf_deinit(&b);
    }
    cli_record_data_run(&c, "eval", data_path, t, mj);
    goto done;
fail:
    status = cli_fail("eval", &err);
done:
    assay_free(mj);
    free(out);
    free(y);
    free(pred);
    free(labels);
    assay_metrics_deinit(&met);
    assay_model_free(m);
    assay_table_free(t);
    cli_common_deinit(&c);
    return status;
}
