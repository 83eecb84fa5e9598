/* coltype.c - names of column types and read options defaults. */
#include "../internal.h"

static const char *const coltype_names[ASSAY_COLTYPE_COUNT] = {
    "numeric", "categorical", "text", "datetime", "boolean"};

const char *assay_coltype_name(assay_coltype t) {
    return (unsigned)t < ASSAY_COLTYPE_COUNT ? coltype_names[t] : "unknown";
}

int assay_coltype_from_name(const char *s, assay_coltype *out) {
    for (int i = 0; i < ASSAY_COLTYPE_COUNT; i++) {
        if (strcmp(s, coltype_names[i]) == 0) {
            *out = (assay_coltype)i;
            return ASSAY_OK;
        }
    }
    /* Common aliases. */
    static const struct { const char *alias; assay_coltype t; } aliases[] = {
        {"number", ASSAY_COL_NUMERIC}, {"float", ASSAY_COL_NUMERIC}, {"int", ASSAY_COL_NUMERIC},
        {"category", ASSAY_COL_CATEGORICAL}, {"string", ASSAY_COL_CATEGORICAL},
        {"date", ASSAY_COL_DATETIME}, {"bool", ASSAY_COL_BOOLEAN}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(s, aliases[i].alias) == 0) {
            *out = aliases[i].t;
            return ASSAY_OK;
        }
    }
    return ASSAY_EINVAL;
}

void assay_read_options_init(assay_read_options *o) {
    memset(o, 0, sizeof *o);
}
