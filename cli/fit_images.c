/* fit_images.c - `assay fit` on images: an IDX image file with --labels, or a folder of PNGs
 * with one sub-folder per class; the test set from --test (and --test-labels) or a stratified
 * holdout. Fits mlp or cnn (the default), prints the training history per epoch and the test
 * metrics, saves the model and records the run, like the table path in cmd_fit.c.
 *
 * Not here: cross-validation of networks (an epoch of Fashion-MNIST is many seconds; early
 * stopping uses a validation split instead) and model selection. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fit.h"

int cli_is_directory(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cli_fit_nn_params(fit_cli *a) {
    struct { const char *key, *val; } opts[] = {
        {"arch", a->arch}, {"epochs", a->epochs}, {"batch_size", a->batch}, {"lr", a->lr},
        {"optimizer", a->optimizer}, {"weight_decay", a->weight_decay}, {"dropout", a->dropout},
        {"encoder", a->encoder}, {"precision", a->precision}};
    int any = a->hidden != NULL;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) any |= opts[i].val != NULL;
    if (!any) return 0;
    const char *model = a->fo.model;
    int is_auto = !strcmp(model, "auto");
    if (!strcmp(model, "bert")) { /* the transformer takes the training options, not a shape */
        if (a->arch || a->hidden || a->optimizer || a->dropout) {
            fprintf(stderr, "assay fit: --model bert takes --encoder, --epochs, --batch-size, --lr, "
                            "--weight-decay and --precision; its shape is the encoder's (--arch, --hidden, --optimizer "
                            "and --dropout are for mlp or cnn)\n");
            return 1;
        }
    } else if (a->encoder) {
        fprintf(stderr, "assay fit: --encoder is for --model bert\n");
        return 1;
    } else if (!(a->images && is_auto) && strcmp(model, "mlp") && strcmp(model, "cnn")) {
        fprintf(stderr, "assay fit: --arch, --hidden, --epochs, --batch-size, --lr, --optimizer, "
                        "--weight-decay, --dropout and --precision are for --model mlp or cnn (--epochs, "
                        "--batch-size, --lr, --weight-decay and --precision also for bert)\n");
        return 1;
    }
    if (a->hidden && a->arch) {
        fprintf(stderr, "assay fit: give --hidden or --arch, not both\n");
        return 1;
    }
    size_t cap = sizeof a->nn_params, len = 0;
    char *p = a->nn_params;
    len += (size_t)snprintf(p, cap, "%s", a->fo.params ? a->fo.params : "");
    if (a->hidden) { /* "256,128" -> arch=fc256-fc128 */
        len += (size_t)snprintf(p + len, len < cap ? cap - len : 0, "%sarch=", len ? "," : "");
        const char *s = a->hidden;
        for (int first = 1; *s; first = 0) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 1 || v > 65536 || (*end && *end != ',')) {
                fprintf(stderr, "assay fit: --hidden: expected layer sizes like 256,128, got '%s'\n", a->hidden);
                return 1;
            }
            len += (size_t)snprintf(p + len, len < cap ? cap - len : 0, "%sfc%ld", first ? "" : "-", v);
            s = *end ? end + 1 : end;
        }
    }
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (!opts[i].val) continue;
        if (strchr(opts[i].val, ',') || strchr(opts[i].val, '=')) {
            fprintf(stderr, "assay fit: --%s: '%s' may not contain ',' or '='\n", opts[i].key, opts[i].val);
            return 1;
        }
        len += (size_t)snprintf(p + len, len < cap ? cap - len : 0, "%s%s=%s", len ? "," : "",
                                opts[i].key, opts[i].val);
    }
    if (len >= cap) {
        fprintf(stderr, "assay fit: the network options are too long\n");
        return 1;
    }
    a->fo.params = a->nn_params;
    return 0;
}

/* Hex fingerprint of pixels and labels. */
static void images_fingerprint(const assay_images *im, char out[17]) {
    uint64_t h = assay_hash64(im->pix, (size_t)im->n * (size_t)im->c * im->h * im->w, 0x1234);
    if (im->labels) h = assay_hash64(im->labels, (size_t)im->n * sizeof *im->labels, h);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static json_t *history_json_print(const char *training, int print) {
    json_t *t = training ? json_loads(training, 0, NULL) : NULL;
    if (!t || !print) return t;
    const json_t *tl = json_object_get(t, "train_loss"), *vl = json_object_get(t, "val_loss"),
                 *vm = json_object_get(t, "val_metric");
    const char *mn = json_string_value(json_object_get(t, "val_metric_name"));
    printf("\nepoch  train loss  val loss  val %s\n", mn ? mn : "metric");
    for (size_t e = 0; e < json_array_size(tl); e++) {
        printf("%5zu  %10.4f", e + 1, json_number_value(json_array_get(tl, e)));
        if (json_is_number(json_array_get(vl, e)))
            printf("  %8.4f  %8.4f", json_number_value(json_array_get(vl, e)),
                   json_number_value(json_array_get(vm, e)));
        printf("\n");
    }
    printf("%lld parameters, %.1f s, %.0f examples/s\n",
           (long long)json_integer_value(json_object_get(t, "parameters")),
           json_number_value(json_object_get(t, "seconds")),
           json_number_value(json_object_get(t, "examples_per_second")));
    return t;
}

/* Test predictions as CSV: index, label, prediction, one probability per class. */
static int predictions_csv(const assay_model *m, const assay_images *te, const int64_t *rows,
                           int64_t n, const double *out, assay_buf *b) {
    int K = assay_model_nclasses(m), rc = assay_buf_printf(b, "index,label,prediction");
    for (int k = 0; !rc && k < K; k++) rc = assay_buf_printf(b, ",p_%s", assay_model_label(m, k));
    if (!rc) rc = assay_buf_printf(b, "\n");
    for (int64_t i = 0; !rc && i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        rc = assay_buf_printf(b, "%lld,%s,%s", (long long)r, assay_model_label(m, te->labels[r]),
                              assay_model_label(m, assay_model_decide(m, out + i * K)));
        for (int k = 0; !rc && k < K; k++) rc = assay_buf_printf(b, ",%.6g", out[i * K + k]);
        if (!rc) rc = assay_buf_printf(b, "\n");
    }
    return rc;
}

int cli_fit_images(fit_cli *a) {
    assay_error err = {0};
    int rc, status = CLI_OK;
    assay_images tr = {0}, te = {0};
    assay_split hold = {0};
    assay_model *model = NULL;
    assay_metrics met = {0};
    assay_store *st = NULL;
    double *out = NULL, *ytest = NULL;
    int32_t *pred = NULL, *strata = NULL;
    int64_t *all = NULL;
    char *stem = NULL, *out_default = NULL, *metrics_s = NULL, *abs_out = NULL, *training = NULL;
    char *out_stem = NULL, *history = NULL;
    json_t *test_metrics = NULL, *hist = NULL;
    char es_params[1200];

    if (a->early_stopping) {
        snprintf(es_params, sizeof es_params, "%s%searly_stopping=%ld", a->fo.params ? a->fo.params : "",
                 a->fo.params && *a->fo.params ? "," : "", a->early_stopping);
        a->fo.params = es_params;
    }
    stem = cli_stem_of(a->data);
    if (!a->out) {
        size_t n = strlen(stem) + 8;
        out_default = malloc(n);
        snprintf(out_default, n, "%s.assay", stem);
        a->out = out_default;
    }
    if ((rc = cli_check_output_path("--out", a->out, &err)) ||
        (rc = cli_check_output_path("--predictions", a->predictions, &err)))
        goto fail;
    if (a->labels && cli_is_directory(a->data)) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "--labels: %s is a folder of class sub-folders; "
                             "its labels are the folder names", a->data);
        goto fail;
    }
    if ((rc = assay_images_read(a->data, a->labels, &tr, &err))) goto fail;
    if (!tr.labels) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "%s: images without labels: give --labels FILE", a->data);
        goto fail;
    }
    const char *split_desc;
    char split_buf[160];
    const assay_images *tt = &tr;
    if (a->test_path) {
        if ((rc = assay_images_read(a->test_path, a->test_labels, &te, &err))) goto fail;
        if (!te.labels) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "%s: test images without labels: give --test-labels FILE",
                                 a->test_path);
            goto fail;
        }
        if (te.c != tr.c || te.h != tr.h || te.w != tr.w) {
            rc = assay_error_set(&err, ASSAY_ESCHEMA, "%s: test images are %dx%dx%d, training images %dx%dx%d",
                                 a->test_path, te.c, te.h, te.w, tr.c, tr.h, tr.w);
            goto fail;
        }
        if (te.nclasses > tr.nclasses) {
            rc = assay_error_set(&err, ASSAY_ESCHEMA, "%s: a test label (class %d) the training images do not have",
                                 a->test_path, te.nclasses - 1);
            goto fail;
        }
        tt = &te;
        hold.ntest = te.n;
        snprintf(split_buf, sizeof split_buf, "test set %s", a->test_path);
        split_desc = split_buf;
    } else if (a->test_size > 0) {
        all = malloc(sizeof *all * (size_t)(tr.n + 1));
        strata = malloc(sizeof *strata * (size_t)(tr.n + 1));
        if (!all || !strata) goto nomem;
        for (int64_t i = 0; i < tr.n; i++) all[i] = i, strata[i] = tr.labels[i];
        if ((rc = assay_split_holdout(all, tr.n, strata, a->test_size, a->c.seed, &hold, &err))) goto fail;
        snprintf(split_buf, sizeof split_buf, "holdout %.0f%%, stratified, seed %llu", a->test_size * 100,
                 (unsigned long long)a->c.seed);
        split_desc = split_buf;
    } else {
        split_desc = "no test set";
    }
    const int64_t ntrain = hold.train ? hold.ntrain : tr.n, ntest = hold.ntest;
    if (!a->c.json) {
        printf("assay fit: %s: %lld images of %dx%d, %d channel%s, %d classes\n", a->data,
               (long long)tr.n, tr.h, tr.w, tr.c, tr.c == 1 ? "" : "s", tr.nclasses);
        printf("split: %lld training images, %lld test images (%s)\n", (long long)ntrain,
               (long long)ntest, split_desc);
        fflush(stdout);
    }
    if ((rc = assay_model_fit_images(&a->fo, &tr, hold.train, ntrain, &model, &err))) goto fail;
    training = assay_model_training_json(model);

    const int K = assay_model_output_width(model);
    const int64_t *test_rows = a->test_path ? NULL : hold.test;
    if (ntest > 0) {
        out = malloc(sizeof *out * (size_t)ntest * (size_t)K);
        ytest = malloc(sizeof *ytest * (size_t)ntest);
        pred = malloc(sizeof *pred * (size_t)ntest);
        if (!out || !ytest || !pred) goto nomem;
        if ((rc = assay_model_predict_images(model, tt, test_rows, ntest, out, &err))) goto fail;
        for (int64_t i = 0; i < ntest; i++) {
            ytest[i] = tt->labels[test_rows ? test_rows[i] : i];
            pred[i] = assay_model_decide(model, out + i * K);
        }
        if ((rc = assay_metrics_compute(assay_model_task(model), K, assay_model_positive(model), ytest,
                                        out, pred, ntest, &met, &err)))
            goto fail;
        const char **names = malloc(sizeof *names * (size_t)K);
        if (!names) goto nomem;
        for (int k = 0; k < K; k++) names[k] = assay_model_label(model, k);
        char *mj = assay_metrics_to_json(&met, names);
        test_metrics = mj ? json_loads(mj, 0, NULL) : NULL;
        assay_free(mj);
        free(names);
        if (a->predictions) {
            assay_buf pb = {0};
            rc = predictions_csv(model, tt, test_rows, ntest, out, &pb);
            if (!rc) rc = cli_write_output(a->predictions, pb.data ? pb.data : "", pb.len, &err);
            else assay_error_set(&err, rc, "out of memory");
            assay_buf_deinit(&pb);
            if (rc) goto fail;
        }
    }

    json_t *metrics = json_object();
    json_object_set_new(metrics, "test", test_metrics ? json_incref(test_metrics) : json_null());
    json_object_set_new(metrics, "cv", json_null());
    metrics_s = json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(metrics);
    char fp[17], fpq[24];
    images_fingerprint(&tr, fp);
    /* the model file keeps the history, not the timings (same seed and data, same bytes) */
    json_t *tj = training ? json_loads(training, 0, NULL) : NULL;
    if (tj) {
        json_object_del(tj, "seconds");
        json_object_del(tj, "examples_per_second");
        json_object_del(tj, "gflops");
        history = json_dumps(tj, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(tj);
    }
    snprintf(fpq, sizeof fpq, "\"%s\"", fp);
    if ((rc = assay_model_set_info(model, "metrics", metrics_s, &err)) ||
        (rc = assay_model_set_info(model, "fingerprint", fpq, &err)) ||
        (history && (rc = assay_model_set_info(model, "training", history, &err))))
        goto fail;
    if ((rc = assay_model_save(model, a->out, &err))) goto fail;
    abs_out = realpath(a->out, NULL);

    int version = 0;
    int64_t run_id = 0;
    const char *reg_name = a->name ? a->name : NULL;
    if (!reg_name) reg_name = out_stem = cli_stem_of(a->out);
    if ((rc = cli_store_open(&a->c, &st, &err))) {
        fprintf(stderr, "assay fit: warning: store not available: %s\n", err.msg);
        rc = 0;
    } else if (st) {
        char *abs_data = realpath(a->data, NULL);
        assay_dataset_rec dr = {.path = abs_data ? abs_data : a->data, .fingerprint = fp,
                                .nrows = tr.n, .ncols = tr.c * tr.h * tr.w};
        int64_t ds = 0;
        if (assay_store_dataset_add(st, &dr, &ds, &err))
            fprintf(stderr, "assay: warning: data set not recorded: %s\n", err.msg);
        free(abs_data);
        json_t *params = json_pack("{s:s,s:s,s:s,s:s,s:f,s:I}", "target", "label", "task",
                                   assay_task_name(assay_model_task(model)), "model",
                                   assay_model_kind(model), "params", assay_model_params(model),
                                   "test_size", a->test_path ? 0.0 : a->test_size, "seed",
                                   (json_int_t)a->c.seed);
        char *params_s = json_dumps(params, JSON_COMPACT);
        json_decref(params);
        run_id = cli_record_run(&a->c, st, "fit", params_s, ds, fp, metrics_s, 0, NULL);
        free(params_s);
        assay_model_rec mr = {.name = reg_name, .path = abs_out ? abs_out : a->out,
                              .kind = assay_model_kind(model),
                              .task = assay_task_name(assay_model_task(model)),
                              .metrics_json = metrics_s, .run_id = run_id};
        if (assay_store_model_add(st, &mr, &version, &err)) {
            fprintf(stderr, "assay fit: warning: model not registered: %s\n", err.msg);
            version = 0;
        }
    }

    double elapsed = assay_now() - a->c.t0;
    hist = history_json_print(training, !a->c.json);
    if (a->c.json) {
        json_t *doc = json_object(), *labels = json_array();
        for (int k = 0; k < K; k++) json_array_append_new(labels, json_string(assay_model_label(model, k)));
        json_object_set_new(doc, "task", json_string(assay_task_name(assay_model_task(model))));
        json_object_set_new(doc, "model", json_string(assay_model_kind(model)));
        json_object_set_new(doc, "params", json_string(assay_model_params(model)));
        json_object_set_new(doc, "target", json_string("label"));
        json_object_set_new(doc, "labels", labels);
        json_object_set_new(doc, "model_path", json_string(abs_out ? abs_out : a->out));
        json_object_set_new(doc, "data", json_pack("{s:s,s:I,s:[iii],s:s,s:I,s:I,s:s}", "path", a->data,
                                                   "images", (json_int_t)tr.n, "shape", tr.c, tr.h, tr.w,
                                                   "fingerprint", fp, "train_rows", (json_int_t)ntrain,
                                                   "test_rows", (json_int_t)ntest, "split", split_desc));
        json_t *m = json_object();
        json_object_set_new(m, "test", test_metrics ? json_incref(test_metrics) : json_null());
        json_object_set_new(m, "cv", json_null());
        json_object_set_new(doc, "metrics", m);
        if (hist) json_object_set_new(doc, "training", json_incref(hist));
        if (version)
            json_object_set_new(doc, "registry", json_pack("{s:s,s:i}", "name", reg_name, "version", version));
        if (run_id) json_object_set_new(doc, "run_id", json_integer(run_id));
        json_object_set_new(doc, "seconds", json_real(elapsed));
        cli_print_json(doc);
    } else {
        printf("model: %s (%s)\n", assay_model_kind(model), assay_model_params(model));
        if (ntest > 0) {
            printf("\ntest set (%lld images):\n", (long long)ntest);
            assay_buf b = {0};
            const char **names = malloc(sizeof *names * (size_t)K);
            for (int k = 0; names && k < K; k++) names[k] = assay_model_label(model, k);
            if (names) assay_metrics_format(&met, names, &b);
            free(names);
            if (b.data) fputs(b.data, stdout);
            assay_buf_deinit(&b);
        }
        printf("\nmodel saved: %s\n", abs_out ? abs_out : a->out);
        if (version) printf("registered: %s version %d (run %lld in %s)\n", reg_name, version,
                            (long long)run_id, a->c.db ? a->c.db : assay_store_default_path());
        printf("done in %.2f s\n", elapsed);
    }
    goto done;
nomem:
    rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
fail:
    status = cli_fail("fit", &err);
    if (!st && cli_store_open(&a->c, &st, &(assay_error){0}) == 0 && st)
        cli_record_run(&a->c, st, "fit", NULL, 0, NULL, NULL, 1, err.msg);
done:
    json_decref(test_metrics);
    json_decref(hist);
    free(metrics_s);
    free(abs_out);
    free(out);
    free(ytest);
    free(pred);
    free(strata);
    free(all);
    free(stem);
    free(out_stem);
    free(out_default);
    assay_free(training);
    free(history);
    assay_metrics_deinit(&met);
    assay_model_free(model);
    assay_split_deinit(&hold);
    assay_images_deinit(&tr);
    assay_images_deinit(&te);
    assay_store_close(st);
    return status;
}
