/* options.c - defaults of the preprocessing options and the report's cleanup. */
#include "../internal.h"

void assay_prep_options_init(assay_prep_options *o) {
    memset(o, 0, sizeof *o);
    o->dedup = 1;
    o->impute_numeric = ASSAY_IMPUTE_MEDIAN;
    o->impute_categorical = ASSAY_IMPUTE_MOST_FREQUENT;
    o->outliers = ASSAY_OUTLIER_NONE;
    o->outlier_action = ASSAY_OUTLIER_FLAG;
    o->scale = ASSAY_SCALE_STANDARD;
    o->encode = ASSAY_ENCODE_ONEHOT;
    o->unseen = ASSAY_UNSEEN_IGNORE;
    o->datetime_features = ASSAY_DT_YEAR | ASSAY_DT_MONTH | ASSAY_DT_DAY | ASSAY_DT_DAYOFWEEK |
                           ASSAY_DT_HOUR | ASSAY_DT_DAYOFYEAR;
    assay_vectorizer_options_init(&o->text, ASSAY_VEC_TFIDF);
    o->text.text.ngram_max = 2;
    o->text.min_df = 2;
    o->text.sublinear_tf = 1;
}

void assay_prep_report_deinit(assay_prep_report *r) {
    if (!r) return;
    assay_free(r->columns);
    r->columns = NULL;
    r->ncolumns = 0;
}
