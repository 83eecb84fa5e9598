/* pipeline_json.c - the fitted pipeline as a JSON document (kept in the model file's metadata).
 *
 * Doubles are written with 17 significant digits, so a round trip is exact. Reading validates
 * every field (types, enum names, finite numbers, positive scales, strictly sorted distinct
 * levels, code tables, counts, and the feature names against the ones the structure implies),
 * so a corrupt or hostile document gives ASSAY_EFORMAT and never a crash or a huge allocation.
 * Deliberately not here: the model file container itself (core), fitting (pipeline.c).
 *
 * Layout:
 *   {"format": 1, "nfeatures": N, "features": [names],
 *    "inputs": [{"name", "type", "indicator",
 *                numeric/boolean/datetime: "subs": [{"field", "fill", "outlier", "lo", "hi",
 *                                                    "center", "scale"}],
 *                categorical: "encode", "unseen", "levels": [...], "codes": [...], "nkept",
 *                             "fill": string or null}]} */
#include <jansson.h>

#include "prep_internal.h"

#define PREP_JSON_FORMAT 1

static const char *const k_outlier_names[] = {"none", "flag", "clip"};
static const char *const k_encode_names[] = {"onehot", "ordinal", "native"};
static const char *const k_unseen_names[] = {"ignore", "infrequent", "error"};

static int name_index(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* json_object_set_new that tolerates a NULL value (and then reports failure). */
static int set_new(json_t *o, const char *key, json_t *v) {
    if (!v) return -1;
    return json_object_set_new(o, key, v);
}

static json_t *input_to_json(const prep_input *in) {
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = set_new(o, "name", json_string(in->name)) |
              set_new(o, "type", json_string(assay_coltype_name(in->type))) |
              set_new(o, "indicator", json_boolean(in->indicator));
    if (in->type == ASSAY_COL_TEXT) {
        char *vj = assay_vectorizer_to_json(in->vec);
        json_t *v = vj ? json_loads(vj, 0, NULL) : NULL;
        assay_free(vj);
        bad |= set_new(o, "vectorizer", v);
    } else if (in->type == ASSAY_COL_CATEGORICAL) {
        json_t *lv = json_array(), *cd = json_array();
        bad |= set_new(o, "levels", lv) | set_new(o, "codes", cd);
        for (int32_t l = 0; !bad && l < in->nlevels; l++)
            bad |= json_array_append_new(lv, json_string(in->levels[l])) |
                   json_array_append_new(cd, json_integer(in->code[l]));
        bad |= set_new(o, "encode", json_string(k_encode_names[in->encode])) |
               set_new(o, "unseen", json_string(k_unseen_names[in->unseen])) |
               set_new(o, "nkept", json_integer(in->nkept)) |
               set_new(o, "fill", in->fill ? json_string(in->fill) : json_null());
    } else {
        json_t *subs = json_array();
        bad |= set_new(o, "subs", subs);
        for (int s = 0; !bad && s < in->nsub; s++) {
            const prep_numsub *sb = &in->sub[s];
            json_t *so = json_object();
            bad |= json_array_append_new(subs, so);
            if (bad) break;
            bad |= set_new(so, "field", json_string(assay__prep_field_name(sb->field))) |
                   set_new(so, "fill", isnan(sb->fill) ? json_null() : json_real(sb->fill)) |
                   set_new(so, "outlier", json_string(k_outlier_names[sb->outlier])) |
                   set_new(so, "lo", json_real(sb->lo)) | set_new(so, "hi", json_real(sb->hi)) |
                   set_new(so, "center", json_real(sb->center)) |
                   set_new(so, "scale", json_real(sb->scale));
        }
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *assay_pipeline_to_json(const assay_pipeline *p) {
    if (!p) return NULL;
    char *out = NULL, *txt = NULL;
    json_t *root = json_object(), *inputs = json_array(), *feats = json_array();
    if (!root || !inputs || !feats) {
        json_decref(inputs);
        json_decref(feats);
        goto done;
    }
    int bad = set_new(root, "format", json_integer(PREP_JSON_FORMAT)) |
              set_new(root, "nfeatures", json_integer(p->nfeat)) | set_new(root, "inputs", inputs) |
              set_new(root, "features", feats);
    for (int i = 0; !bad && i < p->ninputs; i++) bad |= json_array_append_new(inputs, input_to_json(&p->in[i]));
    for (int64_t j = 0; !bad && j < p->nfeat; j++)
        bad |= json_array_append_new(feats, json_string(p->feat_names[j]));
    if (bad) goto done;
    txt = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (txt) out = assay_strdup(txt);
done:
    free(txt); /* jansson allocates with libc */
    json_decref(root);
    return out;
}

/* ---- reading ----------------------------------------------------------------------------- */

#define BAD(...) (rc = assay_error_set(err, ASSAY_EFORMAT, __VA_ARGS__))

/* A string without embedded NULs, non-empty unless allow_empty. */
static const char *get_string(json_t *v, int allow_empty) {
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n || (!allow_empty && n == 0)) return NULL;
    return s;
}

static int get_finite(json_t *o, const char *key, double *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return 0;
    *out = json_number_value(v);
    return isfinite(*out);
}

static int sub_from_json(json_t *so, const prep_input *in, int s, prep_numsub *sb,
                         assay_error *err) {
    int rc = ASSAY_OK;
    const char *field = get_string(json_object_get(so, "field"), 0);
    const char *outl = get_string(json_object_get(so, "outlier"), 0);
    if (!json_is_object(so) || !field || !outl)
        return BAD("pipeline JSON: input '%s': sub-feature %d needs \"field\" and \"outlier\"",
                   in->name, s);
    sb->field = PREP_FIELD_VALUE;
    if (strcmp(field, "value") != 0) {
        sb->field = -2;
        for (int f = 0; f < PREP_NFIELDS; f++)
            if (strcmp(field, assay__prep_field_name(f)) == 0) sb->field = f;
    }
    if ((in->type == ASSAY_COL_DATETIME) != (sb->field >= 0) || sb->field == -2)
        return BAD("pipeline JSON: input '%s': field '%s' does not fit a %s column", in->name,
                   field, assay_coltype_name(in->type));
    if ((sb->outlier = name_index(k_outlier_names, 3, outl)) < 0)
        return BAD("pipeline JSON: input '%s': unknown outlier mode '%s'", in->name, outl);
    json_t *fill = json_object_get(so, "fill");
    if (json_is_null(fill)) sb->fill = NAN; /* no imputation: missing stays NaN */
    if ((!json_is_null(fill) && !get_finite(so, "fill", &sb->fill)) || !get_finite(so, "lo", &sb->lo) ||
        !get_finite(so, "hi", &sb->hi) || !get_finite(so, "center", &sb->center) ||
        !get_finite(so, "scale", &sb->scale))
        return BAD("pipeline JSON: input '%s': sub-feature %d: fill, lo, hi, center and scale "
                   "must be finite numbers", in->name, s);
    if (!(sb->scale > 0))
        return BAD("pipeline JSON: input '%s': scale %.17g must be > 0", in->name, sb->scale);
    if (sb->outlier != PREP_OUT_NONE && !(sb->lo <= sb->hi))
        return BAD("pipeline JSON: input '%s': outlier bounds [%.17g, %.17g] are reversed",
                   in->name, sb->lo, sb->hi);
    return rc;
}

static int numeric_from_json(json_t *io, prep_input *in, assay_error *err) {
    int rc = ASSAY_OK;
    json_t *subs = json_object_get(io, "subs");
    size_t n = json_array_size(subs);
    size_t maxn = in->type == ASSAY_COL_DATETIME ? PREP_NFIELDS : 1;
    if (!json_is_array(subs) || n < 1 || n > maxn)
        return BAD("pipeline JSON: input '%s': \"subs\" must be an array of 1 to %zu entries",
                   in->name, maxn);
    in->sub = assay_calloc(n, sizeof *in->sub);
    if (!in->sub) return assay_error_set(err, ASSAY_ENOMEM, "pipeline JSON: out of memory");
    for (size_t s = 0; s < n; s++) {
        if ((rc = sub_from_json(json_array_get(subs, s), in, (int)s, &in->sub[s], err)) != ASSAY_OK)
            return rc;
        if (s > 0 && in->sub[s].field <= in->sub[s - 1].field)
            return BAD("pipeline JSON: input '%s': calendar fields repeated or out of order",
                       in->name);
        in->nsub = (int)s + 1;
    }
    return rc;
}

static int categorical_from_json(json_t *io, prep_input *in, assay_error *err) {
    int rc = ASSAY_OK;
    json_t *lv = json_object_get(io, "levels"), *cd = json_object_get(io, "codes");
    json_t *nk = json_object_get(io, "nkept"), *fill = json_object_get(io, "fill");
    const char *enc = get_string(json_object_get(io, "encode"), 0);
    const char *uns = get_string(json_object_get(io, "unseen"), 0);
    if (!enc || (in->encode = name_index(k_encode_names, 3, enc)) < 0)
        return BAD("pipeline JSON: input '%s': \"encode\" must be onehot, ordinal or native", in->name);
    if (!uns || (in->unseen = name_index(k_unseen_names, 3, uns)) < 0)
        return BAD("pipeline JSON: input '%s': \"unseen\" must be ignore, infrequent or error",
                   in->name);
    size_t n = json_array_size(lv);
    if (!json_is_array(lv) || !json_is_array(cd) || n < 1 || n > PREP_MAX_LEVELS ||
        json_array_size(cd) != n)
        return BAD("pipeline JSON: input '%s': \"levels\" and \"codes\" must be arrays of the "
                   "same non-zero length", in->name);
    if (!json_is_integer(nk) || json_integer_value(nk) < 0 || json_integer_value(nk) > (json_int_t)n)
        return BAD("pipeline JSON: input '%s': \"nkept\" must be an integer in [0, %zu]", in->name, n);
    in->nkept = (int32_t)json_integer_value(nk);
    if (!json_is_null(fill)) {
        const char *f = get_string(fill, 1);
        if (!f) return BAD("pipeline JSON: input '%s': \"fill\" must be a string or null", in->name);
        if (!(in->fill = assay_strdup(f)))
            return assay_error_set(err, ASSAY_ENOMEM, "pipeline JSON: out of memory");
    }
    in->levels = assay_calloc(n, sizeof *in->levels);
    in->code = assay_calloc(n, sizeof *in->code);
    if (!in->levels || !in->code) return assay_error_set(err, ASSAY_ENOMEM, "pipeline JSON: out of memory");
    int32_t next_kept = 0;
    for (size_t l = 0; l < n; l++) {
        const char *s = get_string(json_array_get(lv, l), 1);
        json_t *c = json_array_get(cd, l);
        if (!s) return BAD("pipeline JSON: input '%s': level %zu is not a string", in->name, l);
        if (l > 0 && strcmp(in->levels[l - 1], s) >= 0)
            return BAD("pipeline JSON: input '%s': levels are not sorted and distinct at '%s'",
                       in->name, s);
        if (!(in->levels[l] = assay_strdup(s)))
            return assay_error_set(err, ASSAY_ENOMEM, "pipeline JSON: out of memory");
        in->nlevels = (int32_t)l + 1;
        json_int_t code = json_is_integer(c) ? json_integer_value(c) : -1;
        if (code == in->nkept) {
            in->has_infrequent = 1;
        } else if (code != next_kept) {
            return BAD("pipeline JSON: input '%s': code of level '%s' must be %d or %d", in->name,
                       s, next_kept, in->nkept);
        } else {
            next_kept++;
        }
        in->code[l] = (int32_t)code;
    }
    if (next_kept != in->nkept)
        return BAD("pipeline JSON: input '%s': %d kept levels, \"nkept\" says %d", in->name,
                   next_kept, in->nkept);
    if (in->nkept + in->has_infrequent < 1)
        return BAD("pipeline JSON: input '%s': no levels to encode", in->name);
    if (in->encode == ASSAY_ENCODE_NATIVE &&
        in->nkept + in->has_infrequent > ASSAY_NATIVE_MAX_CATEGORIES)
        return BAD("pipeline JSON: input '%s': %d native categories (at most %d)", in->name,
                   in->nkept + in->has_infrequent, ASSAY_NATIVE_MAX_CATEGORIES);
    return rc;
}

int assay_pipeline_from_json(const char *json, assay_pipeline **out, assay_error *err) {
    int rc = ASSAY_OK;
    assay_pipeline *p = NULL;
    json_error_t je;
    json_t *root = NULL;
    if (out) *out = NULL;
    if (!json || !out) return assay_error_set(err, ASSAY_EINVAL, "pipeline JSON: no input");
    root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        return assay_error_set(err, ASSAY_EFORMAT, "pipeline JSON: line %d column %d: %s",
                               je.line, je.column, je.text);
    }
    json_t *fmt = json_object_get(root, "format"), *inputs = json_object_get(root, "inputs");
    json_t *feats = json_object_get(root, "features"), *nf = json_object_get(root, "nfeatures");
    if (!json_is_object(root) || !json_is_integer(fmt)) {
        BAD("pipeline JSON: not an object with an integer \"format\"");
        goto fail;
    }
    if (json_integer_value(fmt) != PREP_JSON_FORMAT) {
        rc = assay_error_set(err, ASSAY_EVERSION, "pipeline JSON: format %lld (this build reads %d)",
                             (long long)json_integer_value(fmt), PREP_JSON_FORMAT);
        goto fail;
    }
    size_t nin = json_array_size(inputs);
    if (!json_is_array(inputs) || nin < 1 || nin > PREP_MAX_INPUTS || !json_is_array(feats) ||
        !json_is_integer(nf)) {
        BAD("pipeline JSON: \"inputs\" (1 to %d), \"features\" and \"nfeatures\" are required",
            PREP_MAX_INPUTS);
        goto fail;
    }
    p = assay_calloc(1, sizeof *p);
    if (!p || !(p->in = assay_calloc(nin, sizeof *p->in))) goto nomem;
    for (size_t i = 0; i < nin; i++) {
        json_t *io = json_array_get(inputs, i);
        prep_input *in = &p->in[i];
        p->ninputs = (int)i + 1;
        const char *name = get_string(json_object_get(io, "name"), 0);
        const char *type = get_string(json_object_get(io, "type"), 0);
        json_t *ind = json_object_get(io, "indicator");
        if (!json_is_object(io) || !name || !type || !json_is_boolean(ind)) {
            BAD("pipeline JSON: input %zu needs \"name\", \"type\" and \"indicator\"", i);
            goto fail;
        }
        if (!(in->name = assay_strdup(name))) goto nomem;
        for (size_t k = 0; k < i; k++)
            if (strcmp(p->in[k].name, name) == 0) {
                BAD("pipeline JSON: input '%s' appears twice", name);
                goto fail;
            }
        in->indicator = json_is_true(ind);
        if (assay_coltype_from_name(type, &in->type) != ASSAY_OK ||
            strcmp(type, assay_coltype_name(in->type)) != 0) {
            BAD("pipeline JSON: input '%s': type '%s' is not numeric, boolean, datetime, "
                "categorical or text", name, type);
            goto fail;
        }
        if (in->type == ASSAY_COL_TEXT) {
            json_t *vo = json_object_get(io, "vectorizer");
            char *vj = json_is_object(vo) ? json_dumps(vo, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
            assay_error verr = {0};
            int had = vj != NULL;
            rc = vj ? assay_vectorizer_from_json(vj, strlen(vj), &in->vec, &verr) : ASSAY_EFORMAT;
            free(vj);
            if (rc) {
                BAD("pipeline JSON: input '%s': %s", name, had ? verr.msg : "no \"vectorizer\" object");
                goto fail;
            }
        } else {
            rc = in->type == ASSAY_COL_CATEGORICAL ? categorical_from_json(io, in, err)
                                                   : numeric_from_json(io, in, err);
        }
        if (rc != ASSAY_OK) goto fail;
    }
    if ((rc = assay__prep_layout(p, err)) != ASSAY_OK) goto fail;
    if (json_integer_value(nf) != p->nfeat || (int64_t)json_array_size(feats) != p->nfeat) {
        BAD("pipeline JSON: %lld features expected from the inputs, the document lists %lld",
            (long long)p->nfeat, (long long)json_array_size(feats));
        goto fail;
    }
    for (int64_t j = 0; j < p->nfeat; j++) {
        const char *s = get_string(json_array_get(feats, (size_t)j), 1);
        if (!s || strcmp(s, p->feat_names[j]) != 0) {
            BAD("pipeline JSON: feature %lld should be named '%s'", (long long)j, p->feat_names[j]);
            goto fail;
        }
    }
    json_decref(root);
    *out = p;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "pipeline JSON: out of memory");
fail:
    json_decref(root);
    assay__prep_pipeline_free(p);
    return rc;
}
