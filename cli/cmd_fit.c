/* cmd_fit.c - `assay fit`: the main job. Read the data, resolve the target, split off a test
 * set, cross-validate on the training rows, fit the final model, evaluate it on the test rows,
 * save the model file and record everything in the store.
 *
 * Cross-validation refits the whole pipeline inside each fold (no leakage from the held-out
 * fold into imputation or scaling). --model auto (the default) cross-validates every registered
 * candidate family over its small grid on the same folds, ranks them by the task's metric (ROC
 * AUC, log loss, RMSE), refits the winner on the training rows and records every candidate. */
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "fit.h"

static void fit_usage(FILE *f) {
    fprintf(f,
            "usage: assay fit DATA --target COL [options]\n\n"
            "Clean, featurize and fit a model on DATA (CSV or JSON Lines), cross-validate it on the\n"
            "training rows, evaluate it on a held-out test set, save it and record the run.\n\n"
            "  --target COL         the column to predict (required for tables)\n"
            "  --positive LABEL     binary: the positive class (default: the minority class)\n"
            "  --task T             binary, multiclass, regression, or multilabel: each target cell\n"
            "                       lists its labels separated by | (default: inferred; a fastText\n"
            "                       file with several labels on a line is multilabel)\n"
            "  --model NAME         auto (default: cross-validate every candidate family over a\n"
            "                       small grid and keep the best), logreg, gbdt, linear, ridge\n"
            "  --params K=V,...     model hyperparameters, e.g. 'C=0.5,penalty=l1' (needs --model)\n"
            "  --time-budget S      --model auto: start no new candidate after S seconds\n"
            "  --early-stopping N   gbdt: stop when N rounds bring no validation improvement\n"
            "  --monotone C:+1,...  gbdt: monotone constraints per numeric column (+1, -1)\n"
            "  --value SPEC         binary: money per decision, e.g. 'tp=1000,fp=-200,fn=0,tn=0'\n"
            "                       (terms may be c + k*amount; 'cost=' per acted-on row): picks\n"
            "                       the profit-maximizing threshold on the CV predictions, saves\n"
            "                       it in the model, reports test profit against acting on\n"
            "                       nobody and on everybody\n"
            "  --value-column COL   the per-row amount for 'amount' in --value\n"
            "  --budget P%%         with --value: the best threshold that acts on at most P%%\n"
            "                       of rows (a capacity: calls a team can make, loans to review)\n"
            "  --report FILE        write the HTML report (assay report) of the model on the test\n"
            "                       rows (--test FILE, or the held-out split)\n"
            "  --calibrate M        binary: platt or isotonic calibration of the probabilities,\n"
            "                       fitted on the CV predictions and saved in the model\n"
            "  --threshold T        binary: the decision threshold on the positive class's\n"
            "                       probability: a number in (0, 1), or cv (default): the one\n"
            "                       with the best accuracy on the CV predictions (0.5 when CV is\n"
            "                       off); --value chooses its own\n"
            "  --autotune-time S    --model textclf: cross-validate random settings of lr, epochs,\n"
            "                       dim and word n-grams (the defaults first) for S seconds, keep\n"
            "                       the best\n"
            "  --no-ensemble        --model auto: keep the best single model (default: a weighted\n"
            "                       average of candidates when it beats it in CV; binary targets)\n"
            "neural networks (--model mlp or cnn):\n"
            "  --hidden N,N,...     mlp: hidden layer sizes (default 256,128)\n"
            "  --arch A             layers, e.g. conv32-pool-conv64-pool-fc128 (cnn default) or\n"
            "                       fc256-fc128; convN[xK][bn], fcN[bn], pool, avgpool, drop[P]\n"
            "  --epochs N --batch-size N --lr X --weight-decay X --dropout P\n"
            "  --optimizer O        adam (default), adamw, sgd, momentum, nesterov\n"
            "  --precision P        fp32 (default) or bf16: matrix products on bf16 operands with\n"
            "                       fp32 sums (CPUs with AVX512_BF16 or AMX); also for bert\n"
            "text transformer (--model bert; --epochs (3), --batch-size (16), --lr (5e-5) apply):\n"
            "  --encoder DIR        the pretrained encoder: config.json, vocab.txt and\n"
            "                       model.safetensors (assay pretrain, or a Hugging Face BERT);\n"
            "                       --params max_len=128,warmup=0.1,pooling=mean|cls (the head on\n"
            "                       the mean embedding or [CLS]),init=random (fresh weights)\n"
            "images: DATA is an IDX image file (gzip or raw) with --labels FILE, or a folder with\n"
            "one sub-folder of PNG images per class; --test FILE (--test-labels FILE) or --test DIR\n"
            "  --labels FILE        the IDX labels of DATA\n"
            "  --test-labels FILE   the IDX labels of --test\n"
            "  --test FILE          a separate test set (default: a holdout of DATA)\n"
            "  --test-size F        fraction of rows held out for testing (default 0.2; 0: none)\n"
            "  --time-column COL    split by time: the latest rows are the test set\n"
            "  --cv K               K-fold cross-validation on the training rows (default 5, bert\n"
            "                       0; 0: off)\n"
            "  --exclude COL        a column not to use as a feature (ids); repeatable\n"
            "  --out FILE           where to save the model (default: DATA's name + .assay)\n"
            "  --name NAME          registry name (default: the model file's base name)\n"
            "  --predictions FILE   write the test rows' predictions and probabilities (CSV)\n"
            "preprocessing (fitted on training rows only, saved in the model):\n"
            "  --impute S           median (default), mean, most_frequent, constant\n"
            "  --impute-value V     the constant for --impute constant (default 0)\n"
            "  --missing-indicator  add an is-missing feature for columns with missing values\n"
            "  --outliers M         none (default), iqr, zscore\n"
            "  --outlier-action A   flag (default: adds a feature) or clip\n"
            "  --outlier-threshold T  IQR factor (default 1.5) or |z| (default 3)\n"
            "  --scale S            standard (default), minmax, robust, none\n"
            "  --encode E           onehot (default) or ordinal\n"
            "  --min-frequency F    group rarer categories (count >= 1, or fraction < 1)\n"
            "  --max-categories N   keep at most N categories per column\n"
            "  --unseen U           ignore (default), infrequent, error\n"
            "text columns (words and word bigrams, TF-IDF; the design becomes sparse: logreg):\n"
            "  --text-vectorizer V  tfidf (default), count, binary, hash\n"
            "  --text-ngrams A,B    word n-grams from A to B words (default 1,2)\n"
            "  --text-min-df X      drop terms in fewer documents (count, or fraction < 1;\n"
            "                       default 2)\n"
            "  --text-max-df X      drop terms in more documents (fraction <= 1, or count)\n"
            "  --text-max-features N  keep the N most frequent terms\n"
            "  --text-char-ngrams A,B  also character n-grams of A to B characters per word\n"
            "  --stop-words english drop English stop words\n"
            "  --strip-accents      remove accents (after NFKC and case folding)\n"
            "  --no-dedup           keep exact duplicate rows\n"
            CLI_COMMON_HELP);
}

static int pick(const char *opt, const char *arg, const char *const *names, int *out) {
    for (int i = 0; names[i]; i++) {
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    fprintf(stderr, "assay fit: %s: unknown value '%s' (choose from", opt, arg);
    for (int i = 0; names[i]; i++) fprintf(stderr, "%s %s", i ? "," : "", names[i]);
    fprintf(stderr, ")\n");
    return -1;
}

static int parse_double(const char *opt, const char *arg, double lo, double hi, double *out) {
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "assay fit: %s: expected a number in [%g, %g], got '%s'\n", opt, lo, hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    OPT_TARGET = 2000, OPT_POSITIVE, OPT_TASK, OPT_MODEL, OPT_PARAMS, OPT_TEST, OPT_TEST_SIZE,
    OPT_TIME, OPT_CV, OPT_EXCLUDE, OPT_OUT, OPT_NAME, OPT_IMPUTE, OPT_IMPUTE_VALUE, OPT_MISSIND,
    OPT_OUTLIERS, OPT_OUTLIER_ACTION, OPT_OUTLIER_T, OPT_SCALE, OPT_ENCODE, OPT_MINFREQ,
    OPT_MAXCAT, OPT_UNSEEN, OPT_NODEDUP, OPT_PREDICTIONS, OPT_BUDGET, OPT_EARLY, OPT_MONOTONE,
    OPT_LABELS, OPT_TEST_LABELS, OPT_ARCH, OPT_HIDDEN, OPT_EPOCHS, OPT_BATCH, OPT_LR,
    OPT_OPTIMIZER, OPT_WD, OPT_DROPOUT, OPT_VALUE, OPT_VALUE_COLUMN, OPT_VALUE_BUDGET, OPT_TEXT_VEC, OPT_TEXT_NGRAMS, OPT_TEXT_MINDF, OPT_TEXT_MAXDF, OPT_TEXT_MAXF, OPT_TEXT_CHARS, OPT_STOP, OPT_ACCENTS, OPT_CALIBRATE, OPT_GROUP, OPT_GRID, OPT_RANDOM, OPT_REPORT, OPT_THRESHOLD, OPT_NOENS, OPT_ENCODER, OPT_AUTOTUNE, OPT_PRECISION
};

static int parse_args(fit_cli *a, int argc, char **argv) {
    static const struct option longopts[] = {
        {"target", required_argument, 0, OPT_TARGET},
        {"positive", required_argument, 0, OPT_POSITIVE},
        {"task", required_argument, 0, OPT_TASK},
        {"model", required_argument, 0, OPT_MODEL},
        {"params", required_argument, 0, OPT_PARAMS},
        {"test", required_argument, 0, OPT_TEST},
        {"test-size", required_argument, 0, OPT_TEST_SIZE},
        {"time-column", required_argument, 0, OPT_TIME},
        {"cv", required_argument, 0, OPT_CV},
        {"exclude", required_argument, 0, OPT_EXCLUDE},
        {"out", required_argument, 0, OPT_OUT},
        {"name", required_argument, 0, OPT_NAME},
        {"impute", required_argument, 0, OPT_IMPUTE},
        {"impute-value", required_argument, 0, OPT_IMPUTE_VALUE},
        {"missing-indicator", no_argument, 0, OPT_MISSIND},
        {"outliers", required_argument, 0, OPT_OUTLIERS},
        {"outlier-action", required_argument, 0, OPT_OUTLIER_ACTION},
        {"outlier-threshold", required_argument, 0, OPT_OUTLIER_T},
        {"scale", required_argument, 0, OPT_SCALE},
        {"encode", required_argument, 0, OPT_ENCODE},
        {"min-frequency", required_argument, 0, OPT_MINFREQ},
        {"max-categories", required_argument, 0, OPT_MAXCAT},
        {"unseen", required_argument, 0, OPT_UNSEEN},
        {"no-dedup", no_argument, 0, OPT_NODEDUP},
        {"predictions", required_argument, 0, OPT_PREDICTIONS},
        {"time-budget", required_argument, 0, OPT_BUDGET},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"no-ensemble", no_argument, 0, OPT_NOENS},
        {"early-stopping", required_argument, 0, OPT_EARLY},
        {"monotone", required_argument, 0, OPT_MONOTONE},
        {"labels", required_argument, 0, OPT_LABELS},
        {"test-labels", required_argument, 0, OPT_TEST_LABELS},
        {"arch", required_argument, 0, OPT_ARCH},
        {"hidden", required_argument, 0, OPT_HIDDEN},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"batch-size", required_argument, 0, OPT_BATCH},
        {"lr", required_argument, 0, OPT_LR},
        {"optimizer", required_argument, 0, OPT_OPTIMIZER},
        {"weight-decay", required_argument, 0, OPT_WD},
        {"dropout", required_argument, 0, OPT_DROPOUT},
        {"encoder", required_argument, 0, OPT_ENCODER},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"autotune-time", required_argument, 0, OPT_AUTOTUNE},
        {"value", required_argument, 0, OPT_VALUE},
        {"value-column", required_argument, 0, OPT_VALUE_COLUMN},
        {"budget", required_argument, 0, OPT_VALUE_BUDGET},
        {"text-vectorizer", required_argument, 0, OPT_TEXT_VEC},
        {"text-ngrams", required_argument, 0, OPT_TEXT_NGRAMS},
        {"text-min-df", required_argument, 0, OPT_TEXT_MINDF},
        {"text-max-df", required_argument, 0, OPT_TEXT_MAXDF},
        {"text-max-features", required_argument, 0, OPT_TEXT_MAXF},
        {"text-char-ngrams", required_argument, 0, OPT_TEXT_CHARS},
        {"stop-words", required_argument, 0, OPT_STOP},
        {"strip-accents", no_argument, 0, OPT_ACCENTS},
        {"calibrate", required_argument, 0, OPT_CALIBRATE},
        {"group", required_argument, 0, OPT_GROUP},
        {"folds", required_argument, 0, OPT_CV},
        {"grid", required_argument, 0, OPT_GRID},
        {"random", required_argument, 0, OPT_RANDOM},
        {"report", required_argument, 0, OPT_REPORT},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    static const char *const impute_names[] = {"median", "mean", "most_frequent", "constant", NULL};
    static const char *const outlier_names[] = {"none", "iqr", "zscore", NULL};
    static const char *const action_names[] = {"flag", "clip", NULL};
    static const char *const scale_names[] = {"none", "standard", "minmax", "robust", NULL};
    static const char *const encode_names[] = {"onehot", "ordinal", NULL};
    static const char *const unseen_names[] = {"ignore", "infrequent", "error", NULL};
    int opt, v;
    double d;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int h = cli_common_option(&a->c, opt, optarg);
        if (h < 0) return CLI_BAD_INPUT;
        if (h > 0) continue;
        switch (opt) {
        case 'h': fit_usage(stdout); return -1;
        case OPT_TARGET: a->fo.target = optarg; break;
        case OPT_POSITIVE: a->fo.positive = optarg; break;
        case OPT_TASK:
            if (assay_task_from_name(optarg, &a->fo.task)) {
                fprintf(stderr, "assay %s: --task: expected binary, multiclass, regression or multilabel, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            break;
        case OPT_MODEL: a->fo.model = optarg; break;
        case OPT_PARAMS: a->fo.params = optarg; break;
        case OPT_TEST: a->test_path = optarg; break;
        case OPT_TEST_SIZE:
            if (parse_double("--test-size", optarg, 0.0, 0.9, &a->test_size)) return CLI_BAD_INPUT;
            break;
        case OPT_TIME: a->time_column = optarg; break;
        case OPT_CV:
            if (parse_double("--cv", optarg, 0, 100, &d) || (d != floor(d)) || d == 1) {
                fprintf(stderr, "assay %s: --cv: expected 0 (off) or a number of folds 2..100, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            a->cv = (int)d;
            a->cv_set = 1;
            break;
        case OPT_EXCLUDE:
            if (a->nexclude == MAX_EXCLUDE - 1) {
                fprintf(stderr, "assay %s: --exclude: at most %d columns\n", a->cmd, MAX_EXCLUDE - 1);
                return CLI_BAD_INPUT;
            }
            a->exclude[a->nexclude++] = optarg;
            break;
        case OPT_OUT: a->out = optarg; break;
        case OPT_NAME: a->name = optarg; break;
        case OPT_IMPUTE:
            if (pick("--impute", optarg, impute_names, &v)) return CLI_BAD_INPUT;
            a->fo.prep.impute_numeric = (assay_impute)v;
            break;
        case OPT_IMPUTE_VALUE:
            if (parse_double("--impute-value", optarg, -HUGE_VAL, HUGE_VAL, &a->fo.prep.impute_constant))
                return CLI_BAD_INPUT;
            break;
        case OPT_MISSIND: a->fo.prep.missing_indicator = 1; break;
        case OPT_OUTLIERS:
            if (pick("--outliers", optarg, outlier_names, &v)) return CLI_BAD_INPUT;
            a->fo.prep.outliers = (assay_outlier)v;
            break;
        case OPT_OUTLIER_ACTION:
            if (pick("--outlier-action", optarg, action_names, &v)) return CLI_BAD_INPUT;
            a->fo.prep.outlier_action = (assay_outlier_action)v;
            break;
        case OPT_OUTLIER_T:
            if (parse_double("--outlier-threshold", optarg, 1e-9, 1e9, &a->fo.prep.outlier_threshold))
                return CLI_BAD_INPUT;
            break;
        case OPT_SCALE:
            if (pick("--scale", optarg, scale_names, &v)) return CLI_BAD_INPUT;
            a->fo.prep.scale = (assay_scale)v;
            break;
        case OPT_ENCODE:
            if (pick("--encode", optarg, encode_names, &v)) return CLI_BAD_INPUT;
            a->fo.prep.encode = (assay_encode)v;
            break;
        case OPT_MINFREQ:
            if (parse_double("--min-frequency", optarg, 0, 1e12, &a->fo.prep.min_frequency))
                return CLI_BAD_INPUT;
            break;
        case OPT_MAXCAT:
            if (parse_double("--max-categories", optarg, 0, 1e9, &d) || d != floor(d)) {
                fprintf(stderr, "assay %s: --max-categories: expected a whole number, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            a->fo.prep.max_categories = (int)d;
            break;
        case OPT_UNSEEN:
            if (pick("--unseen", optarg, unseen_names, &v)) return CLI_BAD_INPUT;
            a->fo.prep.unseen = (assay_unseen)v;
            break;
        case OPT_TEXT_VEC: {
            static const char *const vec_names[] = {"tfidf", "count", "binary", "hash", NULL};
            if (pick("--text-vectorizer", optarg, vec_names, &v)) return CLI_BAD_INPUT;
            assay_text_options keep = a->fo.prep.text.text;
            double mindf = a->fo.prep.text.min_df;
            int sub = a->fo.prep.text.sublinear_tf;
            assay_vectorizer_options_init(&a->fo.prep.text, (assay_vec_kind)v);
            a->fo.prep.text.text = keep;
            a->fo.prep.text.min_df = mindf;
            a->fo.prep.text.sublinear_tf = v == ASSAY_VEC_TFIDF || v == ASSAY_VEC_HASH ? sub : 0;
            break;
        }
        case OPT_TEXT_NGRAMS:
        case OPT_TEXT_CHARS: {
            int lo = 0, hi = 0, top = opt == OPT_TEXT_NGRAMS ? 8 : 16;
            const char *name = opt == OPT_TEXT_NGRAMS ? "--text-ngrams" : "--text-char-ngrams";
            char tail = 0;
            int k = sscanf(optarg, "%d,%d%c", &lo, &hi, &tail);
            if (k == 1) hi = lo;
            if ((k != 1 && k != 2) || lo < 1 || hi < lo || hi > top) {
                fprintf(stderr, "assay %s: %s: expected A,B with 1 <= A <= B <= %d, got '%s'\n", a->cmd, name, top, optarg);
                return CLI_BAD_INPUT;
            }
            if (opt == OPT_TEXT_NGRAMS) {
                a->fo.prep.text.text.ngram_min = lo;
                a->fo.prep.text.text.ngram_max = hi;
            } else {
                a->fo.prep.text.text.char_minn = lo;
                a->fo.prep.text.text.char_maxn = hi;
            }
            break;
        }
        case OPT_TEXT_MINDF:
            if (parse_double("--text-min-df", optarg, 0, 1e12, &a->fo.prep.text.min_df)) return CLI_BAD_INPUT;
            break;
        case OPT_TEXT_MAXDF:
            if (parse_double("--text-max-df", optarg, 1e-9, 1e12, &a->fo.prep.text.max_df)) return CLI_BAD_INPUT;
            break;
        case OPT_TEXT_MAXF:
            if (parse_double("--text-max-features", optarg, 1, 1e9, &d) || d != floor(d)) {
                fprintf(stderr, "assay %s: --text-max-features: expected a whole number, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            a->fo.prep.text.max_features = (int64_t)d;
            break;
        case OPT_STOP:
            if (strcmp(optarg, "english") != 0) {
                fprintf(stderr, "assay %s: --stop-words: only 'english' is built in, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            a->fo.prep.text.text.stop_words = 1;
            break;
        case OPT_ACCENTS: a->fo.prep.text.text.strip_accents = 1; break;
        case OPT_NODEDUP: a->fo.prep.dedup = 0; break;
        case OPT_PREDICTIONS: a->predictions = optarg; break;
        case OPT_THRESHOLD:
            if (strcmp(optarg, "cv") == 0) a->threshold = NAN;
            else if (parse_double("--threshold", optarg, 1e-9, 1 - 1e-9, &a->threshold)) return CLI_BAD_INPUT;
            break;
        case OPT_NOENS: a->no_ensemble = 1; break;
        case OPT_BUDGET:
            if (parse_double("--time-budget", optarg, 0.001, 1e9, &a->time_budget)) return CLI_BAD_INPUT;
            break;
        case OPT_EARLY:
            if (parse_double("--early-stopping", optarg, 1, 1e6, &d) || d != floor(d)) {
                fprintf(stderr, "assay %s: --early-stopping: expected a number of rounds >= 1, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            a->early_stopping = (long)d;
            break;
        case OPT_MONOTONE: a->fo.monotone = optarg; break;
        case OPT_LABELS: a->labels = optarg; break;
        case OPT_TEST_LABELS: a->test_labels = optarg; break;
        case OPT_ARCH: a->arch = optarg; break;
        case OPT_HIDDEN: a->hidden = optarg; break;
        case OPT_EPOCHS: a->epochs = optarg; break;
        case OPT_ENCODER: a->encoder = optarg; break;
        case OPT_PRECISION: a->precision = optarg; break;
        case OPT_AUTOTUNE:
            if (parse_double("--autotune-time", optarg, 0.001, 1e9, &a->autotune)) return CLI_BAD_INPUT;
            break;
        case OPT_BATCH: a->batch = optarg; break;
        case OPT_LR: a->lr = optarg; break;
        case OPT_OPTIMIZER: a->optimizer = optarg; break;
        case OPT_WD: a->weight_decay = optarg; break;
        case OPT_DROPOUT: a->dropout = optarg; break;
        case OPT_VALUE: {
            assay_error e = {0};
            if (assay_value_spec_parse(optarg, &a->spec, &e)) {
                fprintf(stderr, "assay %s: --value: %s\n", a->cmd, e.msg);
                return CLI_BAD_INPUT;
            }
            a->value = optarg;
            break;
        }
        case OPT_VALUE_COLUMN: a->value_column = optarg; break;
        case OPT_VALUE_BUDGET: {
            char *end;
            a->budget = strtod(optarg, &end);
            if (*end == '%') end++;
            if (end == optarg || *end || !(a->budget > 0 && a->budget <= 100)) {
                fprintf(stderr, "assay %s: --budget: expected a percent of rows in (0, 100], got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            break;
        }
        case OPT_GROUP: a->group_column = optarg; break;
        case OPT_REPORT: a->report = optarg; break;
        case OPT_GRID: a->grid = optarg; break;
        case OPT_RANDOM:
            if (parse_double("--random", optarg, 1, 10000, &d) || d != floor(d)) {
                fprintf(stderr, "assay %s: --random: expected a number of settings 1..10000, got '%s'\n", a->cmd, optarg);
                return CLI_BAD_INPUT;
            }
            a->random_n = (long)d;
            break;
        case OPT_CALIBRATE: {
            static const char *const cal_names[] = {"none", "platt", "isotonic", NULL};
            if (pick("--calibrate", optarg, cal_names, &v)) return CLI_BAD_INPUT;
            a->calibrate = v; /* 1 = ASSAY_CALIBRATION_PLATT, 2 = ISOTONIC */
            break;
        }
        case '?':
        default:
            fprintf(stderr, "assay %s: unknown or incomplete option '%s' (see assay fit --help)\n", a->cmd,
                    argv[optind - 1]);
            return CLI_BAD_INPUT;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "assay %s: no data file given (usage: assay fit DATA --target COL)\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "assay %s: unexpected argument '%s'\n", a->cmd, argv[optind + 1]);
        return CLI_BAD_INPUT;
    }
    a->data = argv[optind];
    a->images = a->labels || cli_is_directory(a->data);
    if (a->images) a->fo.target = "label";
    if (a->test_labels && !a->images) {
        fprintf(stderr, "assay %s: --test-labels goes with image data (DATA with --labels)\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (cli_fit_nn_params(a)) return CLI_BAD_INPUT;
    /* fine-tuning a transformer is the cost of the whole run: no CV unless asked */
    if (!a->cv_set && !strcmp(a->cmd, "fit") && a->fo.model && !strcmp(a->fo.model, "bert")) a->cv = 0;
    if (a->report && (a->images || strcmp(a->cmd, "fit"))) {
        fprintf(stderr, "assay %s: --report writes the HTML report of a table fit on its test rows; "
                        "otherwise run assay report MODEL --data FILE\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->images) return 0;
    if (!a->fo.target) {
        fprintf(stderr, "assay %s: --target is required (the column to predict)\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    int is_auto = strcmp(a->fo.model, "auto") == 0;
    if (is_auto && a->fo.params) {
        fprintf(stderr, "assay %s: --params needs a named --model (auto tries its own grid)\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->autotune > 0 && (strcmp(a->cmd, "fit") || strcmp(a->fo.model, "textclf") || a->cv < 2 || a->grid)) {
        fprintf(stderr, "assay %s: --autotune-time searches textclf's settings by cross-validation: it goes "
                        "with assay fit --model textclf (and --cv 2 or more)\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (is_auto && a->cv < 2) {
        fprintf(stderr, "assay %s: --model auto selects by cross-validation; give --cv 2 or more, "
                        "or name a --model\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (!is_auto && assay_model_kind_supports(a->fo.model, ASSAY_TASK_AUTO) < 0) {
        fprintf(stderr, "assay %s: --model: unknown model '%s' (models: auto", a->cmd, a->fo.model);
        for (int i = 0; i < assay_model_kind_count(); i++) fprintf(stderr, ", %s", assay_model_kind_name(i));
        fprintf(stderr, ")\n");
        return CLI_BAD_INPUT;
    }
    if (!is_auto && a->early_stopping && !assay_model_kind_can(a->fo.model, "early_stopping")) {
        fprintf(stderr, "assay %s: --early-stopping: model '%s' does not stop early (gbdt does)\n", a->cmd, a->fo.model);
        return CLI_BAD_INPUT;
    }
    if (!is_auto && a->fo.monotone && !assay_model_kind_can(a->fo.model, "monotone")) {
        fprintf(stderr, "assay %s: --monotone: model '%s' takes no monotone constraints (gbdt does)\n", a->cmd, a->fo.model);
        return CLI_BAD_INPUT;
    }
    if (a->value && a->cv < 2) {
        fprintf(stderr, "assay %s: --value chooses the decision threshold on cross-validation "
                        "predictions: give --cv 2 or more\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->calibrate && a->cv < 2) {
        fprintf(stderr, "assay %s: --calibrate fits on cross-validation predictions: give --cv 2 or more\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (!isnan(a->threshold) && a->value) {
        fprintf(stderr, "assay %s: --threshold and --value both set the decision threshold: give one\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->budget > 0 && !a->value) {
        fprintf(stderr, "assay %s: --budget goes with --value (the money each decision makes)\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->value_column && !a->value) {
        fprintf(stderr, "assay %s: --value-column goes with --value (e.g. \"tp=amount,fp=-0.1*amount\")\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->value && a->spec.uses_amount && !a->value_column) {
        fprintf(stderr, "assay %s: --value uses 'amount': give --value-column COL\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->group_column && a->time_column) {
        fprintf(stderr, "assay %s: --group and --time-column exclude each other\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if ((a->grid || a->random_n) && strcmp(a->cmd, "tune") != 0) {
        fprintf(stderr, "assay %s: --grid and --random are options of assay tune\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    if (a->test_path && a->time_column) {
        fprintf(stderr, "assay %s: --test and --time-column exclude each other\n", a->cmd);
        return CLI_BAD_INPUT;
    }
    return 0;
}

/* "credit_data" from "examples/credit_data.csv". */
char *cli_stem_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) return NULL;
    char *b = strdup(basename(copy));
    free(copy);
    if (!b) return NULL;
    char *dot = strrchr(b, '.');
    if (dot && dot != b) *dot = '\0';
    return b;
}

/* Mean and population sd (ddof = 0, as numpy's std) of each metric over folds. */
typedef struct cv_result {
    int folds;
    const char *const *names;
    double mean[16], sd[16];
    /* binary: out-of-fold probability of the positive class, its label and table row */
    double *oof_p;
    uint8_t *oof_y;
    int64_t *oof_row, noof;
    int64_t fold_end[100]; /* oof rows of fold f: [fold_end[f-1], fold_end[f]) */
} cv_result;

static void cv_result_deinit(cv_result *r) {
    free(r->oof_p);
    free(r->oof_y);
    free(r->oof_row);
    r->oof_p = NULL, r->oof_y = NULL, r->oof_row = NULL, r->noof = 0;
}

/* Rows of t whose target cell is present (all rows when the target column does not exist: the
 * target encoder then names the problem). Rows without a label cannot be learned from or
 * scored; they are dropped and counted, as the report says. */
static int64_t *labeled_rows(const assay_table *t, const char *target, int64_t *n) {
    int tc = assay_table_find(t, target);
    int64_t *rows = malloc(sizeof *rows * (size_t)t->nrows + 1);
    if (!rows) return NULL;
    *n = 0;
    for (int64_t i = 0; i < t->nrows; i++)
        if (tc < 0 || !t->cols[tc].missing[i]) rows[(*n)++] = i;
    return rows;
}

static int cmp_double_asc(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* A group number per table row from a column (-1 where missing): categorical codes, or the
 * rank of each distinct numeric value. */
static int group_ids(const assay_table *t, const char *col, int64_t **out, assay_error *err) {
    int c = assay_table_find(t, col);
    if (c < 0) return assay_error_set(err, ASSAY_EINVAL, "--group: no column '%s'", col);
    const assay_column *cl = &t->cols[c];
    if (cl->type == ASSAY_COL_TEXT)
        return assay_error_set(err, ASSAY_EINVAL, "--group: column '%s' is text; give it as "
                               "--column %s:categorical", col, col);
    int64_t n = t->nrows, *g = malloc(sizeof *g * (size_t)n + 1);
    if (!g) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (cl->type == ASSAY_COL_CATEGORICAL) {
        for (int64_t i = 0; i < n; i++) g[i] = cl->missing[i] ? -1 : cl->cat[i];
    } else {
        double *v = malloc(sizeof *v * (size_t)n + 1);
        if (!v) {
            free(g);
            return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        }
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (!cl->missing[i]) v[m++] = cl->num[i];
        qsort(v, (size_t)m, sizeof *v, cmp_double_asc);
        int64_t u = 0;
        for (int64_t i = 0; i < m; i++)
            if (i == 0 || v[i] != v[u - 1]) v[u++] = v[i];
        for (int64_t i = 0; i < n; i++) {
            if (cl->missing[i]) {
                g[i] = -1;
                continue;
            }
            int64_t lo = 0, hi = u - 1;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (v[mid] < cl->num[i]) lo = mid + 1;
                else hi = mid;
            }
            g[i] = lo;
        }
        free(v);
    }
    *out = g;
    return ASSAY_OK;
}

/* The stratum of encoded row i: its class, or for multilabel its first label. */
static int32_t stratum(const assay_target *tg, int64_t i) {
    if (tg->task != ASSAY_TASK_MULTILABEL) return (int32_t)tg->y[i];
    for (int k = 0; k < tg->nclasses; k++)
        if (tg->y[i * tg->nclasses + k] != 0) return k;
    return 0;
}

static int run_cv(const fit_cli *a, const assay_fit_options *fo, const char *what,
                  const assay_table *t, const assay_split *holdout, const assay_target *tg,
                  const int32_t *strata, cv_result *res, assay_error *err) {
    int k = a->cv;
    res->folds = k;
    res->names = assay_metrics_names(tg->task);
    int nm = 0;
    while (res->names[nm]) nm++;
    double vals[100][16];
    assay_split folds[100];
    memset(folds, 0, sizeof folds);
    int rc;
    const int64_t *train = holdout->train;
    int64_t ntrain = holdout->ntrain;
    int32_t *sub_strata = NULL;
    if (a->time_column) {
        int tc = assay_table_find(t, a->time_column);
        rc = assay_split_time_kfold(train, ntrain, t->cols[tc].num, t->cols[tc].missing, k, folds, err);
    } else if (a->group_column) {
        int64_t *gid = NULL;
        rc = group_ids(t, a->group_column, &gid, err);
        if (!rc) rc = assay_split_group_kfold(train, ntrain, gid, k, folds, err);
        free(gid);
    } else {
        rc = assay_split_kfold(train, ntrain, strata, k, a->c.seed + 1, folds, err);
    }
    (void)sub_strata;
    if (rc) return assay_error_prefix(err, "--cv %d", k);
    assay_progress bar;
    assay_progress_begin(&bar, what, (uint64_t)k);
    int width = tg->task == ASSAY_TASK_REGRESSION ? 1 : tg->nclasses;
    res->oof_p = NULL, res->oof_y = NULL, res->oof_row = NULL, res->noof = 0;
    if (tg->task == ASSAY_TASK_BINARY) {
        res->oof_p = malloc(sizeof *res->oof_p * (size_t)ntrain + 1);
        res->oof_y = malloc((size_t)ntrain + 1);
        res->oof_row = malloc(sizeof *res->oof_row * (size_t)ntrain + 1);
        if (!res->oof_p || !res->oof_y || !res->oof_row) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    for (int f = 0; f < k && !rc; f++) {
        assay_model *m = NULL;
        double *out = NULL, *y = NULL;
        assay_metrics met = {0};
        rc = assay_model_fit(fo, t, folds[f].train, folds[f].ntrain, &m, NULL, err);
        if (!rc) {
            out = malloc(sizeof *out * (size_t)folds[f].ntest * (size_t)width + 1);
            y = malloc(sizeof *y * (size_t)folds[f].ntest * (size_t)assay_target_width(tg->task, tg->nclasses) + 1);
            if (!out || !y) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
        }
        if (!rc) rc = assay_model_predict(m, t, folds[f].test, folds[f].ntest, out, err);
        if (!rc) rc = assay_model_encode_target(m, t, folds[f].test, folds[f].ntest, y, err);
        if (!rc) {
            int32_t *pred = NULL;
            if (tg->task == ASSAY_TASK_BINARY) {
                pred = malloc(sizeof *pred * (size_t)folds[f].ntest + 1);
                for (int64_t i = 0; pred && i < folds[f].ntest; i++)
                    pred[i] = assay_model_decide(m, out + i * width);
                for (int64_t i = 0; res->oof_p && i < folds[f].ntest; i++) {
                    res->oof_p[res->noof] = out[i * width + tg->positive];
                    res->oof_y[res->noof] = y[i] == tg->positive;
                    res->oof_row[res->noof++] = folds[f].test[i];
                }
                res->fold_end[f] = res->noof;
            }
            rc = assay_metrics_compute(tg->task, tg->nclasses, tg->positive, y, out, pred,
                                       folds[f].ntest, &met, err);
            free(pred);
        }
        if (!rc)
            for (int j = 0; j < nm; j++) vals[f][j] = assay_metrics_get(&met, res->names[j]);
        if (rc) assay_error_prefix(err, "cross-validation fold %d of %d", f + 1, k);
        assay_metrics_deinit(&met);
        free(out);
        free(y);
        assay_model_free(m);
        assay_progress_update(&bar, (uint64_t)f + 1, NULL);
    }
    assay_progress_end(&bar);
    for (int f = 0; f < k; f++) assay_split_deinit(&folds[f]);
    if (rc) {
        cv_result_deinit(res);
        return rc;
    }
    for (int j = 0; j < nm; j++) {
        double s = 0, ss = 0;
        for (int f = 0; f < k; f++) s += vals[f][j];
        double mean = s / k;
        for (int f = 0; f < k; f++) ss += (vals[f][j] - mean) * (vals[f][j] - mean);
        res->mean[j] = mean;
        res->sd[j] = sqrt(ss / k);
    }
    return ASSAY_OK;
}

/* ---- --model auto ------------------------------------------------------------------------- */

typedef struct candidate {
    const char *kind;
    char params[1024];
    cv_result cv;
    double mean, sd, seconds;
    int ran;            /* 0: skipped by the time budget, or not applicable (why) */
    char why[160];      /* why a candidate does not apply to these data ("" for the budget) */
} candidate;

#define MAX_CANDIDATES 64

static const char *selection_metric(assay_task task) {
    return task == ASSAY_TASK_BINARY ? "roc_auc" : task == ASSAY_TASK_REGRESSION ? "rmse" : "log_loss";
}

static int metric_index(const cv_result *cv, const char *name) {
    for (int j = 0; cv->names[j]; j++)
        if (strcmp(cv->names[j], name) == 0) return j;
    return 0;
}

static int evaluate_candidates(const fit_cli *a, const assay_table *t, const assay_split *hold,
                               const assay_target *tg, const int32_t *strata, candidate *cands,
                               int n, int *best, const char *who, assay_error *err);
static int tune_candidates(const fit_cli *a, candidate *cands, int *n, assay_error *err);

/* Cross-validate every candidate on the same folds; *best is the winner's index. */
static int select_model(const fit_cli *a, const assay_table *t, const assay_split *hold,
                        const assay_target *tg, const int32_t *strata, candidate *cands,
                        int *ncands, int *best, assay_error *err) {
    int n = 0, text = 0;
    for (int c = 0; c < t->ncols; c++) { /* a text feature makes the design sparse */
        int used = t->cols[c].type == ASSAY_COL_TEXT && strcmp(t->cols[c].name, a->fo.target) != 0;
        for (int e = 0; used && e < a->fo.nexclude; e++) used = strcmp(t->cols[c].name, a->fo.exclude[e]) != 0;
        text |= used;
    }
    for (int i = 0; i < assay_model_kind_count(); i++) {
        const char *kind = assay_model_kind_name(i);
        const char *const *grid = assay_model_kind_grid(i);
        if (!grid || assay_model_kind_supports(kind, tg->task) != 1) continue;
        if (a->fo.monotone && !assay_model_kind_can(kind, "monotone")) continue;
        if (text && !assay_model_kind_can(kind, "sparse")) continue;
        if (!text && assay_model_kind_can(kind, "text")) continue;
        for (int g = 0; grid[g] && n < MAX_CANDIDATES; g++) {
            candidate *c = &cands[n++];
            memset(c, 0, sizeof *c);
            c->kind = kind;
            if (a->early_stopping && assay_model_kind_can(kind, "early_stopping"))
                snprintf(c->params, sizeof c->params, "%s,early_stopping=%ld", grid[g], a->early_stopping);
            else
                snprintf(c->params, sizeof c->params, "%s", grid[g]);
        }
    }
    *ncands = n;
    if (n == 0)
        return assay_error_set(err, ASSAY_EINVAL, "--model auto: no candidate model does %s%s",
                               assay_task_name(tg->task), a->fo.monotone ? " with --monotone" : "");
    return evaluate_candidates(a, t, hold, tg, strata, cands, n, best, "--model auto", err);
}

/* Cross-validate cands[0..n) on the same folds (honouring --time-budget); *best is the
 * winner's index by the task's selection metric. */
static int evaluate_candidates(const fit_cli *a, const assay_table *t, const assay_split *hold,
                               const assay_target *tg, const int32_t *strata, candidate *cands,
                               int n, int *best, const char *who, assay_error *err) {
    const char *metric = selection_metric(tg->task);
    int higher = assay_metric_higher_is_better(metric);
    double t0 = assay_now();
    *best = -1;
    for (int i = 0; i < n; i++) {
        candidate *c = &cands[i];
        if (i > 0 && a->time_budget > 0 && assay_now() - t0 >= a->time_budget) continue;
        assay_fit_options fo = a->fo;
        fo.model = c->kind;
        fo.params = c->params;
        char what[96];
        snprintf(what, sizeof what, "cv %d/%d %s", i + 1, n, c->kind);
        double s0 = assay_now();
        int rc = run_cv(a, &fo, what, t, hold, tg, strata, &c->cv, err);
        if (rc == ASSAY_ENOTSUP) { /* e.g. naive Bayes beside standardised numeric columns */
            const char *m = strstr(err->msg, ": needs ");
            snprintf(c->why, sizeof c->why, "%s", m ? m + 2 : err->msg);
            memset(err, 0, sizeof *err);
            continue;
        }
        if (rc) return assay_error_prefix(err, "%s: candidate %s (%s)", who, c->kind, c->params);
        c->seconds = assay_now() - s0;
        c->ran = 1;
        int j = metric_index(&c->cv, metric);
        c->mean = c->cv.mean[j];
        c->sd = c->cv.sd[j];
        if (*best < 0 || (higher ? c->mean > cands[*best].mean : c->mean < cands[*best].mean))
            *best = i;
    }
    if (*best < 0)
        return assay_error_set(err, ASSAY_EINVAL, "%s: no candidate applies to these data (%s: %s)",
                               who, cands[0].kind, cands[0].why);
    return ASSAY_OK;
}

/* ---- ensembles and the decision threshold ------------------------------------------------ */

/* Per-fold metrics of binary out-of-fold probabilities p (of the positive class) into res, as
 * run_cv computes them for a model (threshold 0.5). */
static int oof_metrics(const assay_target *tg, const cv_result *like, const double *p,
                       cv_result *res, assay_error *err) {
    int64_t n = like->noof;
    double *out = malloc(sizeof *out * (size_t)n * 2 + 1), *y = malloc(sizeof *y * (size_t)n + 1);
    int32_t *pred = malloc(sizeof *pred * (size_t)n + 1);
    int rc = out && y && pred ? ASSAY_OK : assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    int pos = tg->positive, nm = 0, k = like->folds;
    double vals[100][16];
    res->folds = k;
    res->names = like->names;
    while (res->names[nm]) nm++;
    for (int64_t i = 0; !rc && i < n; i++) {
        out[2 * i + pos] = p[i];
        out[2 * i + 1 - pos] = 1 - p[i];
        y[i] = like->oof_y[i] ? pos : 1 - pos;
        pred[i] = p[i] >= 0.5 ? pos : 1 - pos;
    }
    for (int f = 0; f < k && !rc; f++) {
        int64_t a = f ? like->fold_end[f - 1] : 0, b = like->fold_end[f];
        assay_metrics met = {0};
        rc = assay_metrics_compute(ASSAY_TASK_BINARY, 2, pos, y + a, out + 2 * a, pred + a, b - a,
                                   &met, err);
        for (int j = 0; !rc && j < nm; j++) vals[f][j] = assay_metrics_get(&met, res->names[j]);
        assay_metrics_deinit(&met);
    }
    for (int j = 0; !rc && j < nm; j++) {
        double sm = 0, ss = 0;
        for (int f = 0; f < k; f++) sm += vals[f][j];
        res->mean[j] = sm / k;
        for (int f = 0; f < k; f++) ss += (vals[f][j] - res->mean[j]) * (vals[f][j] - res->mean[j]);
        res->sd[j] = sqrt(ss / k);
    }
    free(out), free(y), free(pred);
    return rc;
}

/* Mean over folds of the ROC AUC of p. */
static double fold_auc(const cv_result *like, const double *p) {
    double s = 0;
    for (int f = 0; f < like->folds; f++) {
        int64_t a = f ? like->fold_end[f - 1] : 0;
        s += assay_metric_roc_auc(like->oof_y + a, p + a, like->fold_end[f] - a);
    }
    return s / like->folds;
}

#define ENSEMBLE_STEPS 20

/* --model auto on a binary target: greedy forward selection with replacement (Caruana et al.,
 * 2004) over the candidates' out-of-fold probabilities, by mean fold ROC AUC: each step adds the
 * candidate that helps the average most, and stops when none helps. Candidates share the CV
 * folds, so the average's out-of-fold predictions are exactly those of an ensemble fitted per
 * fold. Returns 1 and fills *ens (kind "ensemble") when 2 or more distinct members beat
 * cands[best]; 0 when not (or not applicable); < 0 on error. */
static int build_ensemble(const assay_target *tg, const candidate *cands, int n, int best,
                          candidate *ens, assay_error *err) {
    const cv_result *ref = &cands[best].cv;
    int64_t N = ref->noof;
    int ok[MAX_CANDIDATES] = {0}, cnt[MAX_CANDIDATES] = {0}, nok = 0;
    if (tg->task != ASSAY_TASK_BINARY || !N || ref->folds < 2) return 0;
    for (int c = 0; c < n; c++) {
        const cv_result *r = &cands[c].cv;
        ok[c] = cands[c].ran && r->noof == N && r->oof_p &&
                !assay_model_kind_can(cands[c].kind, "native") &&
                !strchr(cands[c].params, ';') && strlen(cands[c].params) < 100 &&
                memcmp(r->oof_row, ref->oof_row, sizeof *r->oof_row * (size_t)N) == 0;
        nok += ok[c];
    }
    if (nok < 2) return 0;
    double *sum = calloc((size_t)N + 1, sizeof *sum), *try = malloc(sizeof *try * (size_t)N + 1);
    if (!sum || !try) {
        free(sum), free(try);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    }
    double cur = -1;
    int steps = 0, distinct = 0;
    for (; steps < ENSEMBLE_STEPS; steps++) {
        int pick = -1;
        double pick_auc = cur;
        for (int c = 0; c < n; c++) {
            if (!ok[c] || (!cnt[c] && distinct == 9)) continue;
            for (int64_t i = 0; i < N; i++) try[i] = (sum[i] + cands[c].cv.oof_p[i]) / (steps + 1);
            double auc = fold_auc(ref, try);
            if (auc > pick_auc + 1e-9) pick = c, pick_auc = auc;
        }
        if (pick < 0) break;
        distinct += !cnt[pick];
        cnt[pick]++;
        for (int64_t i = 0; i < N; i++) sum[i] += cands[pick].cv.oof_p[i];
        cur = pick_auc;
    }
    free(try);
    if (distinct < 2 || !(cur > cands[best].mean)) {
        free(sum);
        return 0;
    }
    memset(ens, 0, sizeof *ens);
    ens->kind = "ensemble";
    size_t len = 0;
    int m = 0;
    for (int c = 0; c < n; c++) {
        if (!cnt[c]) continue;
        m++;
        char spec[160];
        snprintf(spec, sizeof spec, "%s", cands[c].params);
        for (char *q = spec; *q; q++)
            if (*q == ',') *q = ';';
        len += (size_t)snprintf(ens->params + len, sizeof ens->params - len, "%sm%d=%s%s%s,w%d=%d",
                                m > 1 ? "," : "", m, cands[c].kind, *spec ? ":" : "", spec, m, cnt[c]);
    }
    int rc = len < sizeof ens->params ? ASSAY_OK
                                      : assay_error_set(err, ASSAY_EINVAL, "ensemble parameters too long");
    cv_result *r = &ens->cv;
    r->oof_p = malloc(sizeof *r->oof_p * (size_t)N + 1);
    r->oof_y = malloc((size_t)N + 1);
    r->oof_row = malloc(sizeof *r->oof_row * (size_t)N + 1);
    if (!rc && (!r->oof_p || !r->oof_y || !r->oof_row)) rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (!rc) {
        for (int64_t i = 0; i < N; i++) r->oof_p[i] = sum[i] / steps;
        memcpy(r->oof_y, ref->oof_y, (size_t)N);
        memcpy(r->oof_row, ref->oof_row, sizeof *r->oof_row * (size_t)N);
        memcpy(r->fold_end, ref->fold_end, sizeof r->fold_end);
        r->noof = N;
        rc = oof_metrics(tg, ref, r->oof_p, r, err);
    }
    free(sum);
    if (rc) {
        cv_result_deinit(r);
        return rc;
    }
    int j = metric_index(r, selection_metric(tg->task));
    ens->mean = r->mean[j];
    ens->sd = r->sd[j];
    ens->ran = 1;
    for (int c = 0; c < n; c++) ens->seconds += cnt[c] ? cands[c].seconds : 0;
    return 1;
}

/* The threshold in 0.05 .. 0.95 (steps of 0.01) with the best accuracy of p against y (ties: the
 * one nearest 0.5); 0.5 unless it gains at least 0.25% of the rows. *acc05 and *acc receive the
 * accuracies at 0.5 and at the result. */
static double accuracy_threshold(const uint8_t *y, const double *p, int64_t n, double *acc05,
                                 double *acc) {
    double best_t = 0.5;
    int64_t best = -1, at05 = 0;
    for (int s = 5; s <= 95; s++) {
        double t = s / 100.0;
        int64_t right = 0;
        for (int64_t i = 0; i < n; i++) right += (p[i] >= t) == (y[i] != 0);
        if (s == 50) at05 = right;
        if (right > best || (right == best && fabs(t - 0.5) < fabs(best_t - 0.5))) best = right, best_t = t;
    }
    if ((double)(best - at05) < 0.0025 * (double)n) best_t = 0.5, best = at05;
    *acc05 = n ? (double)at05 / (double)n : NAN;
    *acc = n ? (double)best / (double)n : NAN;
    return best_t;
}

static int cmp_rank(const void *x, const void *y, void *ctx) {
    const candidate *a = x, *b = y;
    int higher = *(const int *)ctx;
    if (a->ran != b->ran) return b->ran - a->ran;
    if (a->mean == b->mean) return 0;
    return (higher ? a->mean > b->mean : a->mean < b->mean) ? -1 : 1;
}

/* Candidate order by rank (ran first, best first); stable so ties keep registry order. */
static void rank_order(const candidate *c, int n, int higher, int *order) {
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && cmp_rank(&c[order[j]], &c[order[j - 1]], &higher) < 0; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
}

static void print_leaderboard(const candidate *c, int n, int best, const char *metric, int folds) {
    int order[MAX_CANDIDATES];
    rank_order(c, n, assay_metric_higher_is_better(metric), order);
    printf("\nmodel selection: %d-fold CV on the training rows, by %s\n", folds, metric);
    printf("  %-4s %-7s %-70s %-19s %8s\n", "rank", "model", "parameters", metric, "seconds");
    int skipped = 0;
    for (int r = 0; r < n; r++) skipped += !c[r].ran && !c[r].why[0];
    for (int r = 0; r < n; r++) {
        const candidate *x = &c[order[r]];
        if (!x->ran && !x->why[0] && skipped > 3) continue; /* many: one line below */
        if (!x->ran) {
            printf("  %-4s %-7s %-70.70s %s\n", "-", x->kind, x->params,
                   x->why[0] ? x->why : "skipped (budget)");
            continue;
        }
        char score[48];
        snprintf(score, sizeof score, "%.4f +/- %.4f", x->mean, x->sd);
        printf("  %-4d %-7s %-70.70s %-19s %8.2f%s\n", r + 1, x->kind, x->params, score, x->seconds,
               order[r] == best ? "  <- selected" : "");
    }
    if (skipped > 3) printf("  (%d more settings not tried: the time budget ran out)\n", skipped);
}

/* timed = 0 leaves out the seconds (the model file's copy: same seed and data, same bytes). */
static json_t *leaderboard_json(const candidate *c, int n, int best, const char *metric, int timed) {
    int order[MAX_CANDIDATES];
    rank_order(c, n, assay_metric_higher_is_better(metric), order);
    json_t *arr = json_array();
    for (int r = 0; r < n; r++) {
        const candidate *x = &c[order[r]];
        json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:b}", "model", x->kind, "params", x->params,
                              "metric", metric, "ran", x->ran, "selected", order[r] == best);
        if (x->ran) {
            json_object_set_new(o, "mean", cli_json_num(x->mean));
            json_object_set_new(o, "sd", cli_json_num(x->sd));
            if (timed) json_object_set_new(o, "seconds", json_real(x->seconds));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *cv_json(const cv_result *cv) {
    json_t *mean = json_object(), *sd = json_object();
    for (int j = 0; cv->names[j]; j++) {
        json_object_set_new(mean, cv->names[j], cli_json_num(cv->mean[j]));
        json_object_set_new(sd, cv->names[j], cli_json_num(cv->sd[j]));
    }
    return json_pack("{s:i,s:o,s:o}", "folds", cv->folds, "mean", mean, "sd", sd);
}

static void print_prep_report(const assay_prep_report *rep, int64_t nfeatures) {
    printf("features: %lld from %d input columns", (long long)nfeatures, rep->ncolumns);
    printf(" (%lld duplicate rows removed)\n", (long long)rep->duplicates_removed);
    printf("  %-24s %-12s %8s %8s %8s\n", "column", "type", "missing", "outliers", "features");
    for (int i = 0; i < rep->ncolumns; i++) {
        const assay_prep_column_report *c = &rep->columns[i];
        printf("  %-24.24s %-12s %8lld %8lld %8d%s%s\n", c->name, assay_coltype_name(c->type),
               (long long)c->n_missing, (long long)c->n_outliers, c->n_features,
               c->skipped ? "  skipped: " : "", c->skipped ? c->skip_reason : "");
    }
}

static json_t *prep_json(const assay_prep_report *rep) {
    json_t *cols = json_array();
    for (int i = 0; i < rep->ncolumns; i++) {
        const assay_prep_column_report *c = &rep->columns[i];
        json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:i,s:b}", "name", c->name, "type",
                              assay_coltype_name(c->type), "missing", (json_int_t)c->n_missing,
                              "outliers", (json_int_t)c->n_outliers, "features", c->n_features,
                              "skipped", c->skipped);
        if (c->skipped) json_object_set_new(o, "skip_reason", json_string(c->skip_reason));
        json_array_append_new(cols, o);
    }
    return json_pack("{s:I,s:I,s:o}", "rows_in", (json_int_t)rep->rows_in, "duplicates_removed",
                     (json_int_t)rep->duplicates_removed, "columns", cols);
}

typedef struct impo {
    int64_t j;
    double gain, splits;
} impo;

static int cmp_impo(const void *x, const void *y) {
    const impo *a = x, *b = y;
    if (a->gain != b->gain) return a->gain > b->gain ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}

/* Feature importance (tree models) by total gain, largest first; NULL for other models. With
 * print, the top 10 are printed as a bar chart. */
static json_t *importance_json(const assay_model *m, int print) {
    int64_t d = assay_model_nfeatures(m);
    double *g = malloc(sizeof *g * (size_t)d), *sp = malloc(sizeof *sp * (size_t)d);
    impo *v = malloc(sizeof *v * (size_t)d);
    json_t *arr = NULL;
    if (g && sp && v && assay_model_importance(m, g, sp) == 0) {
        double tot = 0;
        for (int64_t j = 0; j < d; j++) v[j] = (impo){j, g[j], sp[j]}, tot += g[j];
        qsort(v, (size_t)d, sizeof *v, cmp_impo);
        arr = json_array();
        const assay_pipeline *p = assay_model_pipeline(m);
        if (print) printf("feature importance (share of total split gain):\n");
        for (int64_t r = 0; r < d; r++) {
            const char *name = assay_pipeline_feature_name(p, v[r].j);
            json_array_append_new(arr, json_pack("{s:s,s:f,s:I}", "feature", name, "gain", v[r].gain,
                                                 "splits", (json_int_t)v[r].splits));
            if (print && r < 10 && v[r].gain > 0) {
                double share = tot > 0 ? v[r].gain / tot : 0;
                char bar[41];
                int nb = (int)(share * 40 + 0.5);
                memset(bar, '#', (size_t)nb);
                bar[nb] = 0;
                printf("  %-24.24s %5.1f%% %-40s %6.0f splits\n", name, 100 * share, bar, v[r].splits);
            }
        }
    }
    free(g);
    free(sp);
    free(v);
    return arr;
}

/* Columns with cells that did not parse as their type: reported, not fatal. */
static json_t *invalid_cells_json(const assay_table *t, int print) {
    json_t *o = json_object();
    for (int j = 0; j < t->ncols; j++) {
        const assay_column *c = &t->cols[j];
        if (!c->n_invalid) continue;
        json_object_set_new(o, c->name, json_integer(c->n_invalid));
        if (print)
            printf("warning: column '%s': %lld cells are not valid %s values (first on line %lld); "
                   "treated as missing\n",
                   c->name, (long long)c->n_invalid, assay_coltype_name(c->type),
                   (long long)c->first_invalid_line);
    }
    return o;
}

/* ---- --value ------------------------------------------------------------------------------ */

/* The --value-column amounts of rows (numeric, present). */
static int value_amounts(const assay_table *t, const char *col, const int64_t *rows, int64_t n,
                         double **out, assay_error *err) {
    int c = assay_table_find(t, col);
    if (c < 0) return assay_error_set(err, ASSAY_EINVAL, "--value-column: no column '%s'", col);
    if (t->cols[c].type != ASSAY_COL_NUMERIC)
        return assay_error_set(err, ASSAY_EINVAL, "--value-column: column '%s' is %s, not numeric", col,
                               assay_coltype_name(t->cols[c].type));
    double *a = malloc(sizeof *a * (size_t)n + 1);
    if (!a) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (t->cols[c].missing[rows[i]]) {
            free(a);
            return assay_error_set(err, ASSAY_EINVAL, "--value-column: '%s' is missing in row %lld", col,
                                   (long long)rows[i] + 1);
        }
        a[i] = t->cols[c].num[rows[i]];
    }
    *out = a;
    return ASSAY_OK;
}

/* Profit on the test rows at the chosen threshold, acting on nobody and on everybody, and the
 * best any threshold could have done on them (hindsight, for reference). */
static int value_report(const fit_cli *a, const assay_table *tt, const int64_t *rows, int64_t n,
                        const double *out, const double *y, int width, const assay_target *tg,
                        const assay_profit_curve *cvc, double thr, json_t **doc, assay_error *err) {
    assay_buf sb = {0};
    assay_value_spec_format(&a->spec, &sb);
    *doc = json_pack("{s:s,s:s,s:f,s:I,s:f}", "spec", sb.data ? sb.data : a->value, "chosen_on",
                     "cross-validation out-of-fold predictions", "threshold", thr, "cv_acted",
                     (json_int_t)cvc->best_n_acted, "cv_profit", cvc->best_profit);
    assay_buf_deinit(&sb);
    if (!*doc) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (a->value_column) json_object_set_new(*doc, "amount_column", json_string(a->value_column));
    if (n <= 0) return ASSAY_OK;
    double *p = malloc(sizeof *p * (size_t)n + 1), *amt = NULL;
    uint8_t *y01 = malloc((size_t)n + 1);
    int rc = p && y01 ? ASSAY_OK : assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    if (!rc && a->value_column) rc = value_amounts(tt, a->value_column, rows, n, &amt, err);
    assay_profit_curve tc = {0};
    if (!rc) {
        for (int64_t i = 0; i < n; i++) p[i] = out[i * width + tg->positive], y01[i] = y[i] == tg->positive;
        rc = assay_profit_curve_compute(&a->spec, y01, p, amt, n, &tc, err);
    }
    if (!rc) {
        double profit = 0;
        int64_t acted = 0;
        for (int64_t i = 0; i < n; i++) {
            double am = amt ? amt[i] : 0;
            const assay_value_spec *s = &a->spec;
            if (p[i] >= thr) {
                acted++;
                profit += assay_value_term_eval(y01[i] ? &s->tp : &s->fp, am) - assay_value_term_eval(&s->cost, am);
            } else {
                profit += assay_value_term_eval(y01[i] ? &s->fn : &s->tn, am);
            }
        }
        json_object_set_new(*doc, "test", json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:f}", "rows", (json_int_t)n,
                                                     "acted", (json_int_t)acted, "profit", profit,
                                                     "nobody", tc.profit_nobody, "everybody", tc.profit_everybody,
                                                     "hindsight_best", tc.best_profit, "hindsight_threshold",
                                                     tc.best_threshold > 1 ? 1.0 : tc.best_threshold));
    }
    assay_profit_curve_deinit(&tc);
    free(p), free(y01), free(amt);
    return rc;
}

static void print_value(const json_t *v) {
    char a[64], b[64], c[64], d[64];
    printf("\nvalue (%s%s%s): threshold %.4f, chosen on the cross-validation predictions\n",
           json_string_value(json_object_get(v, "spec")), json_object_get(v, "amount_column") ? ", amount " : "",
           json_object_get(v, "amount_column") ? json_string_value(json_object_get(v, "amount_column")) : "",
           json_number_value(json_object_get(v, "threshold")));
    const json_t *bp = json_object_get(v, "budget_percent");
    if (bp) {
        assay_value_format_money(json_number_value(json_object_get(v, "cv_profit")), a, sizeof a);
        assay_value_format_money(json_number_value(json_object_get(v, "cv_unconstrained_profit")), b, sizeof b);
        printf("  budget: act on at most %g%% of rows; on the CV rows that earns %s (without the budget: %s)\n",
               json_number_value(bp), a, b);
    }
    const json_t *t = json_object_get(v, "test");
    if (!t) return;
    assay_value_format_money(json_number_value(json_object_get(t, "profit")), a, sizeof a);
    assay_value_format_money(json_number_value(json_object_get(t, "nobody")), b, sizeof b);
    assay_value_format_money(json_number_value(json_object_get(t, "everybody")), c, sizeof c);
    assay_value_format_money(json_number_value(json_object_get(t, "hindsight_best")), d, sizeof d);
    printf("  test set (%lld rows): acting on %lld rows earns %s\n", (long long)json_integer_value(json_object_get(t, "rows")),
           (long long)json_integer_value(json_object_get(t, "acted")), a);
    printf("  acting on nobody: %s   acting on everybody: %s   (best threshold in hindsight: %s)\n", b, c, d);
}

int cmd_fit(int argc, char **argv) {
    fit_cli a;
    memset(&a, 0, sizeof a);
    a.cmd = "fit";
    cli_common_init(&a.c, argc, argv);
    assay_fit_options_init(&a.fo);
    a.test_size = 0.2;
    a.threshold = NAN;
    a.cv = 5;
    int status = CLI_OK, rc;
    assay_error err = {0};
    assay_table *t = NULL, *test_t = NULL;
    assay_target tg = {0};
    assay_split hold = {0};
    int32_t *strata = NULL;
    assay_model *model = NULL;
    assay_prep_report rep = {0};
    assay_metrics met = {0};
    assay_store *st = NULL;
    double *out = NULL, *ytest = NULL;
    int32_t *pred = NULL;
    int64_t *labeled = NULL, *test_labeled = NULL, nlabeled = 0, ntest_labeled = 0;
    char *stem = NULL, *out_default = NULL, *metrics_s = NULL, *abs_out = NULL;
    json_t *doc = NULL, *test_metrics = NULL;
    cv_result cv = {0};
    assay_profit_curve pc = {0};
    json_t *value_doc = NULL, *cal_doc = NULL, *thr_doc = NULL;
    candidate *cands = NULL;
    int ncands = 0, best = -1;
    a.fo.model = "auto";

    int pa = parse_args(&a, argc, argv);
    if (pa) {
        cli_common_deinit(&a.c);
        return pa < 0 ? CLI_OK : pa;
    }
    if (a.images) {
        cli_common_apply(&a.c);
        a.fo.seed = a.c.seed;
        status = cli_fit_images(&a);
        cli_common_deinit(&a.c);
        return status;
    }
    cli_common_apply(&a.c);
    a.fo.seed = a.c.seed;
    if (a.time_column) a.exclude[a.nexclude++] = a.time_column;
    char es_params[1200];
    if (a.early_stopping && strcmp(a.fo.model, "auto") != 0) {
        snprintf(es_params, sizeof es_params, "%s%searly_stopping=%ld", a.fo.params ? a.fo.params : "",
                 a.fo.params && *a.fo.params ? "," : "", a.early_stopping);
        a.fo.params = es_params;
    }
    a.fo.exclude = a.exclude;
    a.fo.nexclude = a.nexclude;

    stem = cli_stem_of(a.data);
    if (!a.out) {
        size_t n = strlen(stem) + 8;
        out_default = malloc(n);
        snprintf(out_default, n, "%s.assay", stem);
        a.out = out_default;
    }
    if ((rc = cli_check_output_path("--out", a.out, &err)) ||
        (rc = cli_check_output_path("--predictions", a.predictions, &err)))
        goto fail;

    if ((rc = cli_read_table(&a.c, a.data, NULL, 0, &t, &err))) goto fail;
    if (!(labeled = labeled_rows(t, a.fo.target, &nlabeled))) goto nomem;
    if (nlabeled == 0 && t->nrows > 0) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "%s: target '%s' is missing in every row", a.data,
                             a.fo.target);
        goto fail;
    }
    cli_infer_multilabel(a.data, t, &a.fo);
    if ((rc = assay_target_encode(&a.fo, t, labeled, nlabeled, &tg, &err))) goto fail;
    a.fo.task = tg.task;
    if (tg.nclasses) {
        a.fo.labels = (const char *const *)tg.labels;
        a.fo.nlabels = tg.nclasses;
        if (tg.task == ASSAY_TASK_BINARY) a.fo.positive = tg.labels[tg.positive];
        /* strata are indexed by table row; unlabeled rows are in no split */
        strata = malloc(sizeof *strata * (size_t)t->nrows + 1);
        if (!strata) goto nomem;
        for (int64_t i = 0; i < t->nrows; i++) strata[i] = -1;
        for (int64_t i = 0; i < nlabeled; i++) strata[labeled[i]] = stratum(&tg, i);
    }

    /* The test set: a file, the latest rows by time, or a stratified holdout. */
    const char *split_desc;
    char split_buf[160];
    if (a.test_path) {
        assay_col_override ov[1024];
        int nov = t->ncols < 1024 ? t->ncols : 1024;
        for (int j = 0; j < nov; j++) {
            ov[j].name = t->cols[j].name;
            ov[j].type = t->cols[j].type;
        }
        if ((rc = cli_read_table(&a.c, a.test_path, ov, nov, &test_t, &err))) goto fail;
        if (!(test_labeled = labeled_rows(test_t, a.fo.target, &ntest_labeled))) goto nomem;
        hold.ntrain = nlabeled;
        hold.train = assay_mallocarray((size_t)nlabeled + 1, sizeof *hold.train);
        if (!hold.train) goto nomem;
        memcpy(hold.train, labeled, sizeof *labeled * (size_t)nlabeled);
        snprintf(split_buf, sizeof split_buf, "test set %s", a.test_path);
        split_desc = split_buf;
    } else if (a.time_column) {
        int tc = assay_table_find(t, a.time_column);
        if (tc < 0) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--time-column: no column '%s' in %s",
                                 a.time_column, a.data);
            goto fail;
        }
        if (t->cols[tc].type != ASSAY_COL_DATETIME && t->cols[tc].type != ASSAY_COL_NUMERIC) {
            rc = assay_error_set(&err, ASSAY_EINVAL,
                                 "--time-column: column '%s' is %s, not a datetime or number",
                                 a.time_column, assay_coltype_name(t->cols[tc].type));
            goto fail;
        }
        if ((rc = assay_split_time(labeled, nlabeled, t->cols[tc].num, t->cols[tc].missing,
                                   a.test_size > 0 ? a.test_size : 0.2, &hold, &err)))
            goto fail;
        snprintf(split_buf, sizeof split_buf, "latest %.0f%% by '%s'",
                 (a.test_size > 0 ? a.test_size : 0.2) * 100, a.time_column);
        split_desc = split_buf;
    } else if (a.test_size > 0) {
        if ((rc = assay_split_holdout(labeled, nlabeled, strata, a.test_size, a.c.seed, &hold, &err)))
            goto fail;
        snprintf(split_buf, sizeof split_buf, "holdout %.0f%%%s, seed %llu", a.test_size * 100,
                 strata ? ", stratified" : "", (unsigned long long)a.c.seed);
        split_desc = split_buf;
    } else {
        hold.ntrain = nlabeled;
        hold.train = assay_mallocarray((size_t)nlabeled + 1, sizeof *hold.train);
        if (!hold.train) goto nomem;
        memcpy(hold.train, labeled, sizeof *labeled * (size_t)nlabeled);
        split_desc = "no test set";
    }
    const assay_table *tt = test_t ? test_t : t;
    const int64_t *test_rows = test_t ? test_labeled : hold.test;
    int64_t ntest = test_t ? ntest_labeled : hold.ntest;

    if (!a.c.json) {
        printf("assay fit: %s: %lld rows, %d columns\n", a.data, (long long)t->nrows, t->ncols);
        json_decref(invalid_cells_json(t, 1));
        if (nlabeled < t->nrows)
            printf("target '%s' is missing in %lld rows: dropped\n", a.fo.target,
                   (long long)(t->nrows - nlabeled));
        if (test_t && ntest_labeled < test_t->nrows)
            printf("target '%s' is missing in %lld rows of %s: dropped\n", a.fo.target,
                   (long long)(test_t->nrows - ntest_labeled), a.test_path);
        if (tg.task == ASSAY_TASK_REGRESSION) {
            printf("target '%s': regression\n", a.fo.target);
        } else {
            int64_t npos = 0;
            for (int64_t i = 0; i < nlabeled; i++) npos += tg.y[i] == tg.positive;
            if (tg.task == ASSAY_TASK_BINARY)
                printf("target '%s': binary, positive class '%s' (%lld rows, %.1f%%)\n",
                       a.fo.target, tg.labels[tg.positive], (long long)npos,
                       100.0 * (double)npos / (double)nlabeled);
            else
                printf("target '%s': %s, %d %s\n", a.fo.target, assay_task_name(tg.task), tg.nclasses,
                       tg.task == ASSAY_TASK_MULTILABEL ? "labels" : "classes");
        }
        printf("split: %lld training rows, %lld test rows (%s)\n", (long long)hold.ntrain,
               (long long)ntest, split_desc);
        fflush(stdout);
    }

    if (strcmp(a.fo.model, "auto") == 0 || a.autotune > 0) { /* candidates, cross-validated */
        if (!(cands = calloc(MAX_CANDIDATES, sizeof *cands))) goto nomem;
        if (a.autotune > 0) { /* fastText's autotune: textclf's defaults, then random settings */
            a.grid = "lr=log:0.05:1;epochs=5:50;dim=16:128;ngrams=1:3";
            a.random_n = MAX_CANDIDATES - 1;
            a.time_budget = a.autotune;
            cands[0].kind = a.fo.model;
            snprintf(cands[0].params, sizeof cands[0].params, "%s", a.fo.params ? a.fo.params : "");
            if ((rc = tune_candidates(&a, cands + 1, &ncands, &err)) ||
                (rc = evaluate_candidates(&a, t, &hold, &tg, strata, cands, ++ncands, &best, "--autotune-time", &err)))
                goto fail;
        } else {
            if ((rc = select_model(&a, t, &hold, &tg, strata, cands, &ncands, &best, &err))) goto fail;
            if (!a.no_ensemble && ncands < MAX_CANDIDATES) {
                int e = build_ensemble(&tg, cands, ncands, best, &cands[ncands], &err);
                if (e < 0) {
                    rc = e;
                    goto fail;
                }
                if (e > 0) best = ncands++;
            }
        }
        a.fo.model = cands[best].kind;
        a.fo.params = cands[best].params;
        cv = cands[best].cv;
        cands[best].cv.oof_p = NULL, cands[best].cv.oof_y = NULL, cands[best].cv.oof_row = NULL;
        if (!a.c.json) print_leaderboard(cands, ncands, best, selection_metric(tg.task), a.cv);
    } else if (a.cv >= 2 && (rc = run_cv(&a, &a.fo, "cross-validation", t, &hold, &tg, strata, &cv, &err))) {
        goto fail;
    }

    if ((rc = assay_model_fit(&a.fo, t, hold.train, hold.ntrain, &model, &rep, &err))) goto fail;

    /* --value: the profit-maximizing threshold on the out-of-fold predictions (not on the test
     * rows, which then tell honestly what it earns), saved in the model. */
    double value_thr = NAN, budget_profit = NAN;
    int64_t budget_acted = -1;
    if (a.calibrate) {
        if (tg.task != ASSAY_TASK_BINARY || !cv.noof) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--calibrate applies to binary targets (this one is %s)",
                                 assay_task_name(tg.task));
            goto fail;
        }
        assay_calibrator *cal = NULL;
        if ((rc = assay_calibrator_fit((assay_calibration_method)a.calibrate, cv.oof_y, cv.oof_p, cv.noof,
                                       &cal, &err)) ||
            (rc = assay_model_set_calibrator(model, cal, &err)))
            goto fail;
        /* the value threshold below is chosen on calibrated probabilities, as predict gives them */
        double before = assay_metric_brier(cv.oof_y, cv.oof_p, cv.noof);
        assay_calibrator_apply(cal, cv.oof_p, cv.noof, cv.oof_p);
        double after = assay_metric_brier(cv.oof_y, cv.oof_p, cv.noof);
        cal_doc = json_pack("{s:s,s:I,s:f,s:f}", "method", a.calibrate == 1 ? "platt" : "isotonic",
                            "rows", (json_int_t)cv.noof, "cv_brier_before", before, "cv_brier_after", after);
    }
    /* The decision threshold: given, or the best accuracy on the out-of-fold predictions (as
     * predict will see them, after calibration). --value below chooses its own. */
    if (tg.task != ASSAY_TASK_BINARY && !isnan(a.threshold)) {
        rc = assay_error_set(&err, ASSAY_EINVAL, "--threshold applies to binary targets (this one is %s)",
                             assay_task_name(tg.task));
        goto fail;
    }
    if (tg.task == ASSAY_TASK_BINARY && !a.value) {
        double thr = a.threshold, acc05 = NAN, acc = NAN;
        if (isnan(thr) && cv.noof) thr = accuracy_threshold(cv.oof_y, cv.oof_p, cv.noof, &acc05, &acc);
        if (!isnan(thr)) {
            assay_model_set_threshold(model, thr);
            thr_doc = json_pack("{s:f,s:s}", "threshold", thr, "chosen", isnan(a.threshold) ? "cv" : "given");
            if (thr_doc && !isnan(acc)) {
                json_object_set_new(thr_doc, "cv_accuracy", json_real(acc));
                json_object_set_new(thr_doc, "cv_accuracy_at_0.5", json_real(acc05));
            }
        }
    }
    if (a.value) {
        if (tg.task != ASSAY_TASK_BINARY || !cv.noof) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--value applies to binary targets (this one is %s)",
                                 assay_task_name(tg.task));
            goto fail;
        }
        double *amt = NULL;
        if (a.value_column && (rc = value_amounts(t, a.value_column, cv.oof_row, cv.noof, &amt, &err))) goto fail;
        rc = assay_profit_curve_compute(&a.spec, cv.oof_y, cv.oof_p, amt, cv.noof, &pc, &err);
        free(amt);
        if (rc) goto fail;
        value_thr = pc.best_threshold;
        if (a.budget > 0) { /* the best rule acting on at most budget% of the CV rows */
            int64_t at = 0;
            if ((rc = assay_profit_best_within(&pc, (int64_t)floor(a.budget / 100.0 * (double)cv.noof),
                                               INFINITY, &at, &err)))
                goto fail;
            value_thr = pc.threshold[at];
            budget_acted = pc.n_acted[at];
            budget_profit = pc.profit[at];
        }
        if (value_thr > 1.0) value_thr = 1.0;
        assay_model_set_threshold(model, value_thr);
    }

    int width = assay_model_output_width(model);
    if (ntest > 0) {
        out = malloc(sizeof *out * (size_t)ntest * (size_t)width);
        ytest = malloc(sizeof *ytest * (size_t)ntest * (size_t)assay_model_target_width(model));
        pred = malloc(sizeof *pred * (size_t)ntest);
        if (!out || !ytest || !pred) goto nomem;
        if ((rc = assay_model_predict(model, tt, test_rows, ntest, out, &err))) goto fail;
        if ((rc = assay_model_encode_target(model, tt, test_rows, ntest, ytest, &err))) goto fail;
        for (int64_t i = 0; i < ntest; i++) pred[i] = assay_model_decide(model, out + i * width);
        if ((rc = assay_metrics_compute(tg.task, tg.nclasses, tg.positive, ytest, out,
                                        tg.task == ASSAY_TASK_REGRESSION ? NULL : pred, ntest,
                                        &met, &err)))
            goto fail;
        if (a.predictions) {
            assay_buf pb = {0};
            rc = cli_predictions_csv(model, tt, test_rows, ntest, out, 1, NULL, NULL, 0, &pb);
            if (!rc) rc = cli_write_output(a.predictions, pb.data ? pb.data : "", pb.len, &err);
            else assay_error_set(&err, rc, "out of memory");
            assay_buf_deinit(&pb);
            if (rc) goto fail;
        }
        char *mj = assay_metrics_to_json(&met, (const char *const *)tg.labels);
        test_metrics = mj ? json_loads(mj, 0, NULL) : NULL;
        assay_free(mj);
    }
    if (a.value && (rc = value_report(&a, tt, test_rows, ntest, out, ytest, width, &tg, &pc, value_thr,
                                      &value_doc, &err)))
        goto fail;
    if (value_doc && a.budget > 0) { /* the CV point is the budget's, not the unconstrained best */
        json_object_set_new(value_doc, "budget_percent", json_real(a.budget));
        json_object_set_new(value_doc, "cv_acted", json_integer(budget_acted));
        json_object_set_new(value_doc, "cv_profit", json_real(budget_profit));
        json_object_set_new(value_doc, "cv_unconstrained_profit", json_real(pc.best_profit));
    }

    /* Metrics and provenance go into the model file. */
    json_t *metrics = json_object();
    json_object_set_new(metrics, "test", test_metrics ? json_incref(test_metrics) : json_null());
    json_object_set_new(metrics, "cv", a.cv >= 2 ? cv_json(&cv) : json_null());
    metrics_s = json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(metrics);
    /* Only what the data and options determine goes into the file, so that the same seed,
     * data and options give the same bytes; when and how it ran is in the store. */
    char fp[17], fpq[24];
    assay_table_fingerprint(t, fp);
    snprintf(fpq, sizeof fpq, "\"%s\"", fp);
    if ((rc = assay_model_set_info(model, "metrics", metrics_s, &err)) ||
        (rc = assay_model_set_info(model, "fingerprint", fpq, &err)))
        goto fail;
    { /* the training distribution of each input, for drift monitoring by assay serve */
        char *ds = NULL;
        if ((rc = assay_drift_profile_json(model, t, hold.train, hold.ntrain, &ds, &err)) ||
            (rc = assay_model_set_info(model, "drift", ds, &err))) {
            assay_free(ds);
            goto fail;
        }
        assay_free(ds);
    }
    { /* a network's per-epoch history travels with the model (for reports); not its timings */
        char *tr = assay_model_training_json(model);
        json_t *tj = tr ? json_loads(tr, 0, NULL) : NULL;
        assay_free(tr);
        if (tj) {
            json_object_del(tj, "seconds");
            json_object_del(tj, "examples_per_second");
            json_object_del(tj, "tokens_per_second");
            json_object_del(tj, "gflops");
            char *hs = json_dumps(tj, JSON_COMPACT | JSON_REAL_PRECISION(10));
            json_decref(tj);
            rc = hs ? assay_model_set_info(model, "training", hs, &err) : assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
            free(hs);
            if (rc) goto fail;
        }
    }
    if (ncands) { /* the leaderboard travels with the model (for reports) */
        json_t *sel = json_pack("{s:s,s:i,s:o}", "metric", selection_metric(tg.task), "folds", a.cv,
                                "leaderboard", leaderboard_json(cands, ncands, best, selection_metric(tg.task), 0));
        char *ss = sel ? json_dumps(sel, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(sel);
        rc = ss ? assay_model_set_info(model, "selection", ss, &err) : assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
        free(ss);
        if (rc) goto fail;
    }
    if (value_doc) {
        char *vs = json_dumps(value_doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
        rc = vs ? assay_model_set_info(model, "value", vs, &err) : assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
        free(vs);
        if (rc) goto fail;
    }
    if ((rc = assay_model_save(model, a.out, &err))) goto fail;
    abs_out = realpath(a.out, NULL);

    /* The store: data set, run, model version. Best effort: the model is saved already. */
    int version = 0;
    int64_t run_id = 0;
    const char *reg_name = a.name ? a.name : NULL;
    char *out_stem = NULL;
    if (!reg_name) reg_name = out_stem = cli_stem_of(a.out);
    if ((rc = cli_store_open(&a.c, &st, &err))) {
        fprintf(stderr, "assay fit: warning: store not available: %s\n", err.msg);
        rc = 0;
    } else if (st) {
        int64_t ds = cli_record_dataset(st, a.data, t);
        json_t *params = json_pack("{s:s,s:s,s:s,s:s,s:i,s:f,s:I}", "target", a.fo.target,
                                   "task", assay_task_name(tg.task), "model",
                                   assay_model_kind(model), "params", assay_model_params(model),
                                   "cv", a.cv, "test_size", a.test_path ? 0.0 : a.test_size,
                                   "seed", (json_int_t)a.c.seed);
        char *params_s = json_dumps(params, JSON_COMPACT);
        json_decref(params);
        run_id = cli_record_run(&a.c, st, "fit", params_s, ds, fp, metrics_s, 0, NULL);
        free(params_s);
        for (int i = 0; i < ncands; i++) { /* every candidate of the selection, as its own run */
            json_t *cp = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:I}", "target", a.fo.target, "model",
                                   cands[i].kind, "params", cands[i].params, "metric",
                                   selection_metric(tg.task), "ran", cands[i].ran, "selected",
                                   i == best, "selected_run", (json_int_t)run_id);
            json_t *cm = json_pack("{s:o}", "cv", cands[i].ran ? cv_json(&cands[i].cv) : json_null());
            if (cands[i].ran) json_object_set_new(cm, "seconds", json_real(cands[i].seconds));
            char *cps = json_dumps(cp, JSON_COMPACT), *cms = json_dumps(cm, JSON_COMPACT | JSON_REAL_PRECISION(17));
            cli_record_run(&a.c, st, "fit-candidate", cps, ds, fp, cms, 0, NULL);
            free(cps);
            free(cms);
            json_decref(cp);
            json_decref(cm);
        }
        assay_model_rec mr = {.name = reg_name, .path = abs_out ? abs_out : a.out,
                              .kind = assay_model_kind(model), .task = assay_task_name(tg.task),
                              .metrics_json = metrics_s, .run_id = run_id};
        if (assay_store_model_add(st, &mr, &version, &err)) {
            fprintf(stderr, "assay fit: warning: model not registered: %s\n", err.msg);
            version = 0;
        }
    }

    if (a.report) { /* the report of the saved model on the test rows, as assay report makes it */
        char seed[32], label[512];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)a.c.seed);
        if (a.test_path) snprintf(label, sizeof label, "%s", a.test_path);
        else snprintf(label, sizeof label, "%s (the %lld held-out test rows)", a.data, (long long)ntest);
        char *rargv[] = {"report", (char *)a.out, "--data", label, "--out", (char *)a.report,
                         "--seed", seed, "--db", "none", "--quiet", NULL};
        assay_table *held = NULL;
        if ((rc = assay_table_take(tt, test_rows, ntest, &held, &err))) goto fail;
        int rst = cli_report_on_table(11, rargv, held);
        assay_table_free(held);
        if (rst != 0) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--report: the report was not written (see above)");
            goto fail;
        }
    }
    double elapsed = assay_now() - a.c.t0;
    if (a.c.json) {
        doc = json_object();
        json_object_set_new(doc, "task", json_string(assay_task_name(tg.task)));
        json_object_set_new(doc, "model", json_string(assay_model_kind(model)));
        json_object_set_new(doc, "params", json_string(assay_model_params(model)));
        json_object_set_new(doc, "target", json_string(a.fo.target));
        if (tg.nclasses) {
            json_t *labels = json_array();
            for (int k = 0; k < tg.nclasses; k++) json_array_append_new(labels, json_string(tg.labels[k]));
            json_object_set_new(doc, "labels", labels);
            if (tg.task == ASSAY_TASK_BINARY)
                json_object_set_new(doc, "positive", json_string(tg.labels[tg.positive]));
        }
        json_object_set_new(doc, "model_path", json_string(abs_out ? abs_out : a.out));
        json_object_set_new(doc, "data", json_pack("{s:s,s:I,s:I,s:i,s:s,s:I,s:I,s:s,s:o}", "path", a.data, "rows",
                                                   (json_int_t)t->nrows, "unlabeled_rows",
                                                   (json_int_t)(t->nrows - nlabeled), "columns", t->ncols,
                                                   "fingerprint", fp, "train_rows",
                                                   (json_int_t)hold.ntrain, "test_rows",
                                                   (json_int_t)ntest, "split", split_desc,
                                                   "invalid_cells", invalid_cells_json(t, 0)));
        json_object_set_new(doc, "prep", prep_json(&rep));
        json_object_set_new(doc, "features", json_integer(assay_model_nfeatures(model)));
        { /* a network's training: epochs, losses, speed */
            char *tr = assay_model_training_json(model);
            json_t *tj = tr ? json_loads(tr, 0, NULL) : NULL;
            assay_free(tr);
            if (tj) json_object_set_new(doc, "training", tj);
        }
        json_t *m = json_object();
        json_object_set_new(m, "test", test_metrics ? json_incref(test_metrics) : json_null());
        json_object_set_new(m, "cv", a.cv >= 2 ? cv_json(&cv) : json_null());
        json_object_set_new(doc, "metrics", m);
        if (version)
            json_object_set_new(doc, "registry", json_pack("{s:s,s:i}", "name", reg_name, "version", version));
        if (run_id) json_object_set_new(doc, "run_id", json_integer(run_id));
        if (ncands)
            json_object_set_new(doc, "selection",
                                json_pack("{s:s,s:i,s:o}", "metric", selection_metric(tg.task),
                                          "folds", a.cv,
                                          "leaderboard", leaderboard_json(cands, ncands, best, selection_metric(tg.task), 1)));
        json_t *imp = importance_json(model, 0);
        if (imp) json_object_set_new(doc, "importance", imp);
        if (value_doc) json_object_set_new(doc, "value", json_incref(value_doc));
        if (cal_doc) json_object_set_new(doc, "calibration", json_incref(cal_doc));
        if (thr_doc) json_object_set_new(doc, "decision_threshold", json_incref(thr_doc));
        if (a.report) json_object_set_new(doc, "report", json_string(a.report));
        json_object_set_new(doc, "seconds", json_real(elapsed));
        cli_print_json(doc);
        doc = NULL;
    } else {
        print_prep_report(&rep, assay_model_nfeatures(model));
        printf("model: %s%s%s%s\n", assay_model_kind(model), *assay_model_params(model) ? " (" : "",
               assay_model_params(model), *assay_model_params(model) ? ")" : "");
        json_decref(importance_json(model, 1));
        if (a.cv >= 2) {
            printf("\ncross-validation (%d folds on the training rows), mean +/- sd:\n", cv.folds);
            for (int j = 0; cv.names[j]; j++)
                printf("  %-18s %.4f +/- %.4f\n", cv.names[j], cv.mean[j], cv.sd[j]);
        }
        if (ntest > 0) {
            printf("\ntest set (%lld rows):\n", (long long)ntest);
            assay_buf b = {0};
            assay_metrics_format(&met, (const char *const *)tg.labels, &b);
            if (b.data) fputs(b.data, stdout);
            assay_buf_deinit(&b);
        }
        if (cal_doc)
            printf("\ncalibration: %s on %lld cross-validation predictions, Brier %.4f -> %.4f\n",
                   json_string_value(json_object_get(cal_doc, "method")),
                   (long long)json_integer_value(json_object_get(cal_doc, "rows")),
                   json_number_value(json_object_get(cal_doc, "cv_brier_before")),
                   json_number_value(json_object_get(cal_doc, "cv_brier_after")));
        if (value_doc) print_value(value_doc);
        if (thr_doc && json_real_value(json_object_get(thr_doc, "threshold")) != 0.5) {
            if (json_object_get(thr_doc, "cv_accuracy"))
                printf("\ndecision threshold %.2f on P(%s): the best accuracy on the cross-validation "
                       "predictions (%.4f; %.4f at 0.5)\n",
                       json_real_value(json_object_get(thr_doc, "threshold")), tg.labels[tg.positive],
                       json_real_value(json_object_get(thr_doc, "cv_accuracy")),
                       json_real_value(json_object_get(thr_doc, "cv_accuracy_at_0.5")));
            else
                printf("\ndecision threshold %.4g on P(%s) (--threshold)\n",
                       json_real_value(json_object_get(thr_doc, "threshold")), tg.labels[tg.positive]);
        }
        if (a.report) printf("\nreport written: %s\n", a.report);
        printf("\nmodel saved: %s\n", abs_out ? abs_out : a.out);
        if (version) printf("registered: %s version %d (run %lld in %s)\n", reg_name, version,
                            (long long)run_id, a.c.db ? a.c.db : assay_store_default_path());
        printf("done in %.2f s\n", elapsed);
    }
    free(out_stem);
    goto done;
nomem:
    rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
fail:
    status = cli_fail("fit", &err);
    if (!st && cli_store_open(&a.c, &st, &(assay_error){0}) == 0 && st)
        cli_record_run(&a.c, st, "fit", NULL, 0, NULL, NULL, 1, err.msg);
done:
    for (int i = 0; cands && i < ncands; i++) cv_result_deinit(&cands[i].cv);
    cv_result_deinit(&cv);
    assay_profit_curve_deinit(&pc);
    json_decref(value_doc);
    json_decref(cal_doc);
    json_decref(thr_doc);
    free(cands);
    json_decref(doc);
    json_decref(test_metrics);
    free(metrics_s);
    free(abs_out);
    free(out);
    free(ytest);
    free(pred);
    free(strata);
    free(labeled);
    free(test_labeled);
    free(stem);
    free(out_default);
    assay_metrics_deinit(&met);
    assay_prep_report_deinit(&rep);
    assay_model_free(model);
    assay_split_deinit(&hold);
    assay_target_deinit(&tg);
    assay_table_free(t);
    assay_table_free(test_t);
    assay_store_close(st);
    cli_common_deinit(&a.c);
    return status;
}

/* ---- assay cv, assay tune -------------------------------------------------------------------- */

#define MAX_GRID_KEYS 16
#define MAX_GRID_VALUES 32

typedef struct grid_key {
    char key[64];
    char values[MAX_GRID_VALUES][64];
    int nvalues;
    int range, log_scale, integer; /* "lo:hi" (--random), "log:lo:hi" */
    double lo, hi;
} grid_key;

/* "k=v1,v2;k2=v3" (a value list per key) or, for --random, "k=lo:hi" / "k=log:lo:hi" ranges. */
static int parse_grid(const char *spec, grid_key *keys, int *nkeys, int random, assay_error *err) {
    *nkeys = 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy) return assay_error_set(err, ASSAY_ENOMEM, "out of memory");
    int rc = ASSAY_OK;
    for (char *item = strtok_r(copy, ";", &save); item && !rc; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1] || *nkeys == MAX_GRID_KEYS) {
            rc = assay_error_set(err, ASSAY_EINVAL, "--grid: expected key=v1,v2;key=... , got '%s'", item);
            break;
        }
        grid_key *g = &keys[(*nkeys)++];
        memset(g, 0, sizeof *g);
        snprintf(g->key, sizeof g->key, "%.*s", (int)(eq - item), item);
        const char *v = eq + 1;
        if (strchr(v, ':')) {
            if (!random) {
                rc = assay_error_set(err, ASSAY_EINVAL, "--grid: '%s' is a range; ranges go with --random N", item);
                break;
            }
            g->range = 1;
            if (!strncmp(v, "log:", 4)) g->log_scale = 1, v += 4;
            char *end, *end2;
            g->lo = strtod(v, &end);
            if (end == v || *end != ':') goto bad;
            g->hi = strtod(end + 1, &end2);
            if (end2 == end + 1 || *end2 || !(g->hi >= g->lo) || !isfinite(g->lo) || !isfinite(g->hi) ||
                (g->log_scale && !(g->lo > 0)))
                goto bad;
            g->integer = !strpbrk(v, ".eE") && !g->log_scale;
            continue;
        bad:
            rc = assay_error_set(err, ASSAY_EINVAL, "--grid: bad range '%s' (lo:hi or log:lo:hi, lo <= hi)", item);
            break;
        }
        char *vals = strdup(v), *s2 = NULL;
        for (char *x = strtok_r(vals, ",", &s2); x; x = strtok_r(NULL, ",", &s2)) {
            if (g->nvalues == MAX_GRID_VALUES) {
                rc = assay_error_set(err, ASSAY_EINVAL, "--grid: at most %d values per key", MAX_GRID_VALUES);
                break;
            }
            snprintf(g->values[g->nvalues++], 64, "%s", x);
        }
        free(vals);
        if (!rc && !g->nvalues) rc = assay_error_set(err, ASSAY_EINVAL, "--grid: no values for '%s'", g->key);
    }
    free(copy);
    if (!rc && !*nkeys) rc = assay_error_set(err, ASSAY_EINVAL, "--grid: no parameters");
    return rc;
}

/* The settings to cross-validate: the Cartesian product of the value lists, or random_n draws
 * (ranges uniform, log-uniform or integer; lists a uniform choice) from the seed. */
static int tune_candidates(const fit_cli *a, candidate *cands, int *n, assay_error *err) {
    grid_key keys[MAX_GRID_KEYS];
    int nk, rc = parse_grid(a->grid, keys, &nk, a->random_n > 0, err);
    if (rc) return rc;
    *n = 0;
    if (a->random_n > 0) {
        if (a->random_n > MAX_CANDIDATES)
            return assay_error_set(err, ASSAY_EINVAL, "--random: at most %d settings", MAX_CANDIDATES);
        assay_rng rng;
        assay_rng_seed(&rng, a->c.seed ^ 0x7475ULL);
        for (long r = 0; r < a->random_n; r++) {
            candidate *c = &cands[(*n)++];
            memset(c, 0, sizeof *c);
            c->kind = a->fo.model;
            size_t len = 0;
            for (int k = 0; k < nk; k++) {
                const grid_key *g = &keys[k];
                char val[64];
                if (!g->range) {
                    snprintf(val, sizeof val, "%s", g->values[assay_rng_below(&rng, (uint64_t)g->nvalues)]);
                } else if (g->integer) {
                    long lo = (long)g->lo, hi = (long)g->hi;
                    snprintf(val, sizeof val, "%ld", lo + (long)assay_rng_below(&rng, (uint64_t)(hi - lo + 1)));
                } else {
                    double u = assay_rng_uniform(&rng);
                    double x = g->log_scale ? exp(log(g->lo) + u * (log(g->hi) - log(g->lo)))
                                            : g->lo + u * (g->hi - g->lo);
                    snprintf(val, sizeof val, "%.4g", x);
                }
                len += (size_t)snprintf(c->params + len, len < sizeof c->params ? sizeof c->params - len : 0,
                                        "%s%s=%s", k ? "," : "", g->key, val);
            }
        }
    } else {
        for (int k = 0; k < nk; k++)
            if (keys[k].range)
                return assay_error_set(err, ASSAY_EINVAL, "--grid: ranges need --random N");
        long total = 1;
        for (int k = 0; k < nk; k++) total *= keys[k].nvalues;
        if (total > MAX_CANDIDATES)
            return assay_error_set(err, ASSAY_EINVAL, "--grid: %ld settings, at most %d (use --random N)", total,
                                   MAX_CANDIDATES);
        for (long i = 0; i < total; i++) {
            candidate *c = &cands[(*n)++];
            memset(c, 0, sizeof *c);
            c->kind = a->fo.model;
            size_t len = 0;
            long rest = i, div = total; /* the last key varies fastest */
            for (int k = 0; k < nk; k++) {
                div /= keys[k].nvalues;
                int vi = (int)(rest / div);
                rest %= div;
                len += (size_t)snprintf(c->params + len, len < sizeof c->params ? sizeof c->params - len : 0,
                                        "%s%s=%s", k ? "," : "", keys[k].key, keys[k].values[vi]);
            }
        }
    }
    for (int i = 0; i < *n; i++) {
        if (a->fo.params && *a->fo.params) { /* fixed --params first */
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s,%s", a->fo.params, cands[i].params);
            snprintf(cands[i].params, sizeof cands[i].params, "%s", tmp);
        }
        if (strlen(cands[i].params) >= sizeof cands[i].params - 1)
            return assay_error_set(err, ASSAY_EINVAL, "--grid: a setting is too long");
    }
    return ASSAY_OK;
}

/* assay cv (mode "cv") and assay tune (mode "tune"): cross-validation on all labelled rows of
 * DATA, the table printed and every setting recorded in the store; nothing is saved. */
static int cv_main(int argc, char **argv, const char *cmd) {
    fit_cli a;
    memset(&a, 0, sizeof a);
    a.cmd = cmd;
    cli_common_init(&a.c, argc, argv);
    assay_fit_options_init(&a.fo);
    a.test_size = 0;
    a.threshold = NAN;
    a.cv = 5;
    int tune = !strcmp(cmd, "tune");
    a.fo.model = tune ? "" : "auto";
    int status = CLI_OK, rc;
    assay_error err = {0};
    assay_table *t = NULL;
    assay_target tg = {0};
    assay_split hold = {0};
    int32_t *strata = NULL;
    int64_t *labeled = NULL, nlabeled = 0;
    candidate *cands = NULL;
    int ncands = 0, best = -1;
    cv_result cv = {0};
    assay_store *st = NULL;
    int pa = parse_args(&a, argc, argv);
    if (pa) {
        cli_common_deinit(&a.c);
        return pa < 0 ? CLI_OK : pa;
    }
    if (tune && (!a.grid || !*a.fo.model || !strcmp(a.fo.model, "auto"))) {
        cli_common_deinit(&a.c);
        return cli_failf("tune", CLI_BAD_INPUT, "give --model NAME and --grid \"key=v1,v2;key=...\" "
                         "(or ranges with --random N)");
    }
    if (a.cv < 2) {
        cli_common_deinit(&a.c);
        return cli_failf(cmd, CLI_BAD_INPUT, "--folds: give 2 or more");
    }
    if (a.images || a.test_path || a.value || a.calibrate || a.predictions) {
        cli_common_deinit(&a.c);
        return cli_failf(cmd, CLI_BAD_INPUT, "images, --test, --value, --calibrate and --predictions "
                         "are options of assay fit");
    }
    cli_common_apply(&a.c);
    a.fo.seed = a.c.seed;
    if (a.time_column) a.exclude[a.nexclude++] = a.time_column;
    if (a.group_column) a.exclude[a.nexclude++] = a.group_column;
    a.fo.exclude = a.exclude;
    a.fo.nexclude = a.nexclude;
    if ((rc = cli_read_table(&a.c, a.data, NULL, 0, &t, &err))) goto fail;
    if (!(labeled = labeled_rows(t, a.fo.target, &nlabeled))) goto nomem;
    cli_infer_multilabel(a.data, t, &a.fo);
    if ((rc = assay_target_encode(&a.fo, t, labeled, nlabeled, &tg, &err))) goto fail;
    a.fo.task = tg.task;
    if (tg.nclasses) {
        a.fo.labels = (const char *const *)tg.labels;
        a.fo.nlabels = tg.nclasses;
        if (tg.task == ASSAY_TASK_BINARY) a.fo.positive = tg.labels[tg.positive];
        if (!a.group_column) {
            strata = malloc(sizeof *strata * (size_t)t->nrows + 1);
            if (!strata) goto nomem;
            for (int64_t i = 0; i < t->nrows; i++) strata[i] = -1;
            for (int64_t i = 0; i < nlabeled; i++) strata[labeled[i]] = stratum(&tg, i);
        }
    }
    if (a.time_column) {
        int tc = assay_table_find(t, a.time_column);
        if (tc < 0 || (t->cols[tc].type != ASSAY_COL_DATETIME && t->cols[tc].type != ASSAY_COL_NUMERIC)) {
            rc = assay_error_set(&err, ASSAY_EINVAL, "--time-column: no datetime or numeric column '%s' in %s",
                                 a.time_column, a.data);
            goto fail;
        }
    }
    hold.ntrain = nlabeled;
    hold.train = labeled;
    labeled = NULL;
    const char *folds_desc = a.time_column ? "time-ordered" : a.group_column ? "grouped" : strata ? "stratified" : "shuffled";
    if (!a.c.json)
        printf("assay %s: %s: %lld rows, target '%s' (%s), %d %s folds%s%s\n", cmd, a.data,
               (long long)hold.ntrain, a.fo.target, assay_task_name(tg.task), a.cv, folds_desc,
               a.group_column ? " by " : "", a.group_column ? a.group_column : "");
    int many = tune || !strcmp(a.fo.model, "auto");
    if (many) {
        if (!(cands = calloc(MAX_CANDIDATES, sizeof *cands))) goto nomem;
        if (tune) {
            if ((rc = tune_candidates(&a, cands, &ncands, &err)) ||
                (rc = evaluate_candidates(&a, t, &hold, &tg, strata, cands, ncands, &best, "tune", &err)))
                goto fail;
        } else if ((rc = select_model(&a, t, &hold, &tg, strata, cands, &ncands, &best, &err))) {
            goto fail;
        }
        cv = cands[best].cv;
        cands[best].cv.oof_p = NULL, cands[best].cv.oof_y = NULL, cands[best].cv.oof_row = NULL;
        if (!a.c.json) print_leaderboard(cands, ncands, best, selection_metric(tg.task), a.cv);
    } else if ((rc = run_cv(&a, &a.fo, "cross-validation", t, &hold, &tg, strata, &cv, &err))) {
        goto fail;
    }
    json_t *metrics = json_pack("{s:o}", "cv", cv_json(&cv));
    char *metrics_s = json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(metrics);
    char fp[17];
    assay_table_fingerprint(t, fp);
    int64_t run_id = 0;
    if (cli_store_open(&a.c, &st, &err)) {
        fprintf(stderr, "assay %s: warning: store not available: %s\n", cmd, err.msg);
    } else if (st) {
        int64_t ds = cli_record_dataset(st, a.data, t);
        json_t *params = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:I}", "target", a.fo.target, "task",
                                   assay_task_name(tg.task), "model", many ? cands[best].kind : a.fo.model,
                                   "params", many ? cands[best].params : (a.fo.params ? a.fo.params : ""),
                                   "folds", a.cv, "split", folds_desc, "seed", (json_int_t)a.c.seed);
        char *ps = json_dumps(params, JSON_COMPACT);
        json_decref(params);
        run_id = cli_record_run(&a.c, st, cmd, ps, ds, fp, metrics_s, 0, NULL);
        free(ps);
        for (int i = 0; i < ncands; i++) {
            json_t *cp = json_pack("{s:s,s:s,s:s,s:b,s:b,s:I}", "target", a.fo.target, "model", cands[i].kind,
                                   "params", cands[i].params, "ran", cands[i].ran, "selected", i == best,
                                   "selected_run", (json_int_t)run_id);
            json_t *cm = json_pack("{s:o}", "cv", cands[i].ran ? cv_json(i == best ? &cv : &cands[i].cv) : json_null());
            char *cps = json_dumps(cp, JSON_COMPACT), *cms = json_dumps(cm, JSON_COMPACT | JSON_REAL_PRECISION(17));
            char sub[32];
            snprintf(sub, sizeof sub, "%s-candidate", cmd);
            cli_record_run(&a.c, st, sub, cps, ds, fp, cms, 0, NULL);
            free(cps), free(cms);
            json_decref(cp), json_decref(cm);
        }
    }
    if (a.c.json) {
        json_t *doc = json_pack("{s:s,s:s,s:s,s:i,s:s,s:o}", "command", cmd, "target", a.fo.target, "task",
                                assay_task_name(tg.task), "folds", a.cv, "split", folds_desc, "cv", cv_json(&cv));
        json_object_set_new(doc, "model", json_string(many ? cands[best].kind : a.fo.model));
        json_object_set_new(doc, "params", json_string(many ? cands[best].params : (a.fo.params ? a.fo.params : "")));
        if (many)
            json_object_set_new(doc, "leaderboard", leaderboard_json(cands, ncands, best, selection_metric(tg.task), 1));
        if (run_id) json_object_set_new(doc, "run_id", json_integer(run_id));
        cli_print_json(doc);
    } else {
        if (many) printf("best: %s (%s)\n", cands[best].kind, cands[best].params);
        printf("\ncross-validation (%d folds), mean +/- sd:\n", cv.folds);
        for (int j = 0; cv.names[j]; j++) printf("  %-18s %.4f +/- %.4f\n", cv.names[j], cv.mean[j], cv.sd[j]);
        if (run_id) printf("recorded: run %lld in %s\n", (long long)run_id, a.c.db ? a.c.db : assay_store_default_path());
    }
    free(metrics_s);
    goto done;
nomem:
    rc = assay_error_set(&err, ASSAY_ENOMEM, "out of memory");
fail:
    status = cli_fail(cmd, &err);
done:
    for (int i = 0; cands && i < ncands; i++) cv_result_deinit(&cands[i].cv);
    cv_result_deinit(&cv);
    free(cands);
    free(strata);
    free(labeled);
    assay_split_deinit(&hold);
    assay_target_deinit(&tg);
    assay_table_free(t);
    assay_store_close(st);
    cli_common_deinit(&a.c);
    return status;
}

int cmd_cv(int argc, char **argv) { return cv_main(argc, argv, "cv"); }
int cmd_tune(int argc, char **argv) { return cv_main(argc, argv, "tune"); }
