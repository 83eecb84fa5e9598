/* cmd_predict.c - `assay predict MODEL DATA`: raw rows in, predictions out (CSV or JSON).
 * The data is read with the model's input schema, so columns are typed as at training; extra
 * columns are ignored and the order of columns does not matter. Output is written atomically. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void predict_usage(FILE *f) {
    fprintf(f,
            "usage: assay predict MODEL DATA [options]\n\n"
            "Predict every row of DATA (CSV or JSON Lines with the columns the model was trained on),\n"
            "or, for an image model, every image of DATA (an IDX file or a folder of PNGs).\n\n"
            "  --out FILE           write the predictions to FILE (default: standard output)\n"
            "  --proba              add one probability column per class\n"
            "  --top-k K            add the K most probable classes and their probabilities\n"
            "                       (columns top1,proba1,...; JSON: \"top\")\n"
            "  --min-proba P        with --top-k: leave out classes below probability P\n"
            "  --keep COL           copy a column of DATA (an id) into the output; repeatable\n"
            "  --threshold T        binary: decision threshold on the positive class's probability;\n"
            "                       multilabel: the probability from which a label is predicted\n"
            "  --explain[=N]        add the N (default 3) largest contributions per row (gbdt:\n"
            "                       exact TreeSHAP, in log-odds for classification)\n"
            CLI_COMMON_HELP);
}

/* A folder, or a file starting with the gzip or an IDX magic. */
static int looks_like_images(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 1;
    unsigned char h[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(h, 1, 4, f);
    fclose(f);
    return got == 4 && ((h[0] == 0x1f && h[1] == 0x8b) || (h[0] == 0 && h[1] == 0 && h[2] == 8));
}

/* An image model over the images of path (IDX file or PNG folder): CSV "index,prediction" (+
 * probabilities), or JSON. */
static int predict_images(const cli_common *c, const assay_model *m, const char *path, int proba,
                          assay_buf *b, assay_error *err) {
    assay_images im = {0};
    int rc = assay_images_read(path, NULL, &im, err);
    if (rc) return rc;
    const int K = assay_model_output_width(m);
    double *out = malloc(sizeof *out * (size_t)(im.n ? im.n : 1) * (size_t)K);
    if (!out) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (!rc) rc = assay_model_predict_images(m, &im, NULL, im.n, out, err);
    if (!rc && c->json) {
        json_t *preds = json_array(), *probs = proba ? json_array() : NULL, *labels = json_array();
        for (int k = 0; k < K; k++) json_array_append_new(labels, json_string(assay_model_label(m, k)));
        for (int64_t i = 0; i < im.n; i++) {
            json_array_append_new(preds, json_string(assay_model_label(m, assay_model_decide(m, out + i * K))));
            if (!probs) continue;
            json_t *p = json_array();
            for (int k = 0; k < K; k++) json_array_append_new(p, cli_json_num(out[i * K + k]));
            json_array_append_new(probs, p);
        }
        json_t *doc = json_pack("{s:s,s:I,s:o,s:o}", "model", "image", "rows", (json_int_t)im.n,
                                "labels", labels, "predictions", preds);
        if (probs) json_object_set_new(doc, "probabilities", probs);
        char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(doc);
        if (!s || assay_buf_printf(b, "%s\n", s)) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        free(s);
    } else if (!rc) {
        rc = assay_buf_printf(b, "index,prediction");
        for (int k = 0; !rc && proba && k < K; k++) rc = assay_buf_printf(b, ",p_%s", assay_model_label(m, k));
        if (!rc) rc = assay_buf_printf(b, "\n");
        for (int64_t i = 0; !rc && i < im.n; i++) {
            rc = assay_buf_printf(b, "%lld,%s", (long long)i, assay_model_label(m, assay_model_decide(m, out + i * K)));
            for (int k = 0; !rc && proba && k < K; k++) rc = assay_buf_printf(b, ",%.6g", out[i * K + k]);
            if (!rc) rc = assay_buf_printf(b, "\n");
        }
        if (rc) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    free(out);
    assay_images_deinit(&im);
    return rc;
}

/* Per row: [{"label", "probability"}, ...] of its k most probable classes at or above min_proba. */
static json_t *topk_json(const assay_model *m, int64_t n, const double *out, int k, double min_proba) {
    const int K = assay_model_output_width(m);
    int *idx = malloc(sizeof *idx * (size_t)K);
    json_t *arr = json_array();
    for (int64_t i = 0; idx && i < n; i++) {
        const double *row = out + i * K;
        int nt = cli_topk(row, K, k, idx);
        json_t *r = json_array();
        for (int j = 0; j < nt && row[idx[j]] >= min_proba; j++)
            json_array_append_new(r, json_pack("{s:s,s:o}", "label", assay_model_label(m, idx[j]), "probability",
                                               cli_json_num(row[idx[j]])));
        json_array_append_new(arr, r);
    }
    free(idx);
    return arr;
}

int cmd_predict(int argc, char **argv) {
    enum { OPT_OUT = 3000, OPT_PROBA, OPT_KEEP, OPT_THRESHOLD, OPT_EXPLAIN, OPT_TOPK, OPT_MINP };
    static const struct option longopts[] = {
        {"out", required_argument, 0, OPT_OUT},
        {"proba", no_argument, 0, OPT_PROBA},
        {"top-k", required_argument, 0, OPT_TOPK},
        {"min-proba", required_argument, 0, OPT_MINP},
        {"keep", required_argument, 0, OPT_KEEP},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"explain", optional_argument, 0, OPT_EXPLAIN},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    cli_common c;
    cli_common_init(&c, argc, argv);
    const char *out_path = NULL, *keep[32];
    int proba = 0, nkeep = 0, opt, status = CLI_OK, rc = 0, explain = 0;
    double *phi = NULL;
    double threshold = -1, min_proba = 0;
    int topk = 0;
    assay_error err = {0};
    assay_model *m = NULL;
    assay_table *t = NULL;
    double *out = NULL;
    assay_buf b = {0};
    int keepcol[32];
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&c, opt, optarg);
        if (h < 0) return CLI_BAD_INPUT;
        if (h > 0) continue;
        switch (opt) {
        case 'h': predict_usage(stdout); return CLI_OK;
        case OPT_OUT: out_path = optarg; break;
        case OPT_PROBA: proba = 1; break;
        case OPT_KEEP:
            if (nkeep == 32) return cli_failf("predict", CLI_BAD_INPUT, "--keep: at most 32 columns");
            keep[nkeep++] = optarg;
            break;
        case OPT_THRESHOLD: {
            char *end;
            threshold = strtod(optarg, &end);
            if (end == optarg || *end || !(threshold >= 0 && threshold <= 1))
                return cli_failf("predict", CLI_BAD_INPUT,
                                 "--threshold: expected a number in [0, 1], got '%s'", optarg);
            break;
        }
        case OPT_TOPK: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 100000)
                return cli_failf("predict", CLI_BAD_INPUT, "--top-k: expected a number of classes >= 1, got '%s'", optarg);
            topk = (int)v;
            break;
        }
        case OPT_MINP: {
            char *end;
            min_proba = strtod(optarg, &end);
            if (end == optarg || *end || !(min_proba >= 0 && min_proba <= 1))
                return cli_failf("predict", CLI_BAD_INPUT, "--min-proba: expected a number in [0, 1], got '%s'", optarg);
            break;
        }
        case OPT_EXPLAIN: {
            char *end;
            long v = optarg ? strtol(optarg, &end, 10) : 3;
            if (optarg && (end == optarg || *end || v < 1 || v > 1000))
                return cli_failf("predict", CLI_BAD_INPUT,
                                 "--explain: expected a number of contributions 1..1000, got '%s'", optarg);
            explain = (int)v;
            break;
        }
        default:
            return cli_failf("predict", CLI_BAD_INPUT,
                             "unknown or incomplete option '%s' (see assay predict --help)",
                             argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_failf("predict", CLI_BAD_INPUT, "expected MODEL and DATA (usage: assay predict MODEL DATA)");
    const char *model_path = argv[optind], *data_path = argv[optind + 1];
    cli_common_apply(&c);
    if ((rc = cli_check_output_path("--out", out_path, &err))) goto fail;
    if ((rc = assay_model_load(model_path, &m, &err))) goto fail;
    if (min_proba > 0 && !topk) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "--min-proba goes with --top-k K");
        goto fail;
    }
    if (topk && (assay_model_task(m) == ASSAY_TASK_REGRESSION || assay_model_image_input(m, NULL, NULL, NULL))) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "--top-k applies to classification models on tables");
        goto fail;
    }
    if (threshold >= 0) {
        if (assay_model_task(m) != ASSAY_TASK_BINARY && assay_model_task(m) != ASSAY_TASK_MULTILABEL) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--threshold applies to binary and multilabel models only");
            goto fail;
        }
        assay_model_set_threshold(m, threshold);
    }
    if (assay_model_image_input(m, NULL, NULL, NULL)) {
        if (nkeep || explain) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--keep and --explain apply to table rows, not images");
            goto fail;
        }
        rc = predict_images(&c, m, data_path, proba, &b, &err);
        if (rc) goto fail;
        if ((rc = cli_write_output(out_path, b.data ? b.data : "", b.len, &err))) goto fail;
        goto done;
    }
    if (looks_like_images(data_path)) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "%s: images (IDX or a folder), but this %s model "
                             "takes table rows (CSV or JSON Lines)", data_path, assay_model_kind(m));
        goto fail;
    }
    int nov;
    const assay_col_override *ov = assay_model_read_overrides(m, &nov);
    if ((rc = cli_read_table(&c, data_path, ov, nov, &t, &err))) goto fail;
    for (int i = 0; i < nkeep; i++) {
        keepcol[i] = assay_table_find(t, keep[i]);
        if (keepcol[i] < 0) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--keep: no column '%s' in %s", keep[i], data_path);
            goto fail;
        }
    }
    int width = assay_model_output_width(m);
    out = malloc(sizeof *out * (size_t)(t->nrows ? t->nrows : 1) * (size_t)width);
    if (!out) {
        rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = assay_model_predict(m, t, NULL, t->nrows, out, &err))) goto fail;
    if (explain) {
        int ew = assay_model_explain_width(m);
        if (!ew) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--explain: model '%s' has no per-prediction "
                                 "explanations (%s)", assay_model_kind(m),
                                 assay_model_task(m) == ASSAY_TASK_MULTILABEL ? "multilabel models have none yet" : "gbdt has");
            goto fail;
        }
        int64_t d1 = assay_model_nfeatures(m) + 1;
        phi = malloc(sizeof *phi * (size_t)(t->nrows ? t->nrows : 1) * (size_t)ew * (size_t)d1);
        if (!phi) {
            rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
            goto fail;
        }
        if ((rc = assay_model_explain(m, t, NULL, t->nrows, phi, &err))) goto fail;
    }

    int regression = assay_model_task(m) == ASSAY_TASK_REGRESSION;
    if (c.json) {
        json_t *preds = json_array(), *probs = proba && !regression ? json_array() : NULL;
        for (int64_t i = 0; i < t->nrows; i++) {
            const double *row = out + i * width;
            if (regression) {
                json_array_append_new(preds, cli_json_num(row[0]));
            } else {
                json_array_append_new(preds, cli_json_decision(m, row));
                if (probs) {
                    json_t *p = json_array();
                    for (int k = 0; k < width; k++) json_array_append_new(p, cli_json_num(row[k]));
                    json_array_append_new(probs, p);
                }
            }
        }
        json_t *doc = json_pack("{s:s,s:I,s:o}", "model", model_path, "rows", (json_int_t)t->nrows,
                                "predictions", preds);
        if (explain) json_object_set_new(doc, "explanations", cli_explain_json(m, t->nrows, out, phi, explain));
        if (topk) json_object_set_new(doc, "top", topk_json(m, t->nrows, out, topk, min_proba));
        if (probs) {
            json_t *labels = json_array();
            for (int k = 0; k < width; k++) json_array_append_new(labels, json_string(assay_model_label(m, k)));
            json_object_set_new(doc, "labels", labels);
            json_object_set_new(doc, "probabilities", probs);
        }
        char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(doc);
        if (!s) {
            rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
            goto fail;
        }
        assay_buf_append(&b, s, strlen(s));
        assay_buf_append(&b, "\n", 1);
        free(s);
    } else {
        if (cli_predictions_csv(m, t, NULL, t->nrows, out, proba, keep, keepcol, nkeep, &b) ||
            (explain && cli_add_explain_column(m, t->nrows, out, phi, explain, &b)) ||
            (topk && cli_add_topk_columns(m, t->nrows, out, topk, min_proba, &b))) {
            rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if ((rc = cli_write_output(out_path, b.data ? b.data : "", b.len, &err))) goto fail;
    cli_record_data_run(&c, "predict", data_path, t, NULL);
    goto done;
fail:
    status = cli_fail("predict", &err);
done:
    assay_buf_deinit(&b);
    free(out);
    free(phi);
    assay_model_free(m);
    assay_table_free(t);
    cli_common_deinit(&c);
    return status;
}
