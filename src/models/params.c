/* params.c - estimator hyperparameters: "key=value,key=value" parsing, typed getters with range
 * checks, choices, unknown-key checks and printing back.
 *
 * It does not know any estimator's parameters: each estimator's create() asks for its keys and
 * calls assay_params_check_known(); messages from the getters name the key, and the estimator
 * prefixes its own name ("logreg: C must be ..."). Values are not unescaped (no ',' inside). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>

#include "../internal.h"

static void trim(const char **s, const char **e) {
    while (*s < *e && isspace((unsigned char)**s)) (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

static int find_key(const assay_params *p, const char *key) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0) return i;
    return -1;
}

/* Append one pair, refusing a duplicate key. Takes ownership of k and v on success only. */
static int add_pair(assay_params *p, char *k, char *v, assay_error *err) {
    if (find_key(p, k) >= 0)
        return assay_error_set(err, ASSAY_EINVAL, "parameter '%s' given twice", k);
    char **nk = assay_reallocarray(p->keys, (size_t)p->n + 1, sizeof *nk);
    if (!nk) return assay_error_set(err, ASSAY_ENOMEM, "out of memory parsing parameters");
    p->keys = nk;
    char **nv = assay_reallocarray(p->values, (size_t)p->n + 1, sizeof *nv);
    if (!nv) return assay_error_set(err, ASSAY_ENOMEM, "out of memory parsing parameters");
    p->values = nv;
    p->keys[p->n] = k;
    p->values[p->n] = v;
    p->n++;
    return ASSAY_OK;
}

int assay_params_parse(const char *spec, assay_params *p, assay_error *err) {
    memset(p, 0, sizeof *p);
    if (!spec) return ASSAY_OK;
    const char *s = spec, *end = spec + strlen(spec);
    {
        const char *a = s, *b = end;
        trim(&a, &b);
        if (a == b) return ASSAY_OK; /* blank: no parameters */
    }
    int rc = ASSAY_OK;
    while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *ie = comma ? comma : end;
        const char *eq = memchr(s, '=', (size_t)(ie - s));
        const char *ks = s, *ke = eq ? eq : ie;
        trim(&ks, &ke);
        if (!eq) {
            if (ks == ke)
                rc = assay_error_set(err, ASSAY_EINVAL,
                                     "parameters '%s': empty item at offset %d (expected key=value)",
                                     spec, (int)(s - spec));
            else
                rc = assay_error_set(err, ASSAY_EINVAL, "parameter '%.*s' has no '=' (expected key=value)",
                                     (int)(ke - ks), ks);
            goto fail;
        }
        if (ks == ke) {
            rc = assay_error_set(err, ASSAY_EINVAL, "parameters '%s': empty key at offset %d", spec,
                                 (int)(eq - spec));
            goto fail;
        }
        const char *vs = eq + 1, *ve = ie;
        trim(&vs, &ve);
        char *k = assay_strndup(ks, (size_t)(ke - ks));
        char *v = assay_strndup(vs, (size_t)(ve - vs));
        if (!k || !v) {
            assay_free(k);
            assay_free(v);
            rc = assay_error_set(err, ASSAY_ENOMEM, "out of memory parsing parameters");
            goto fail;
        }
        if ((rc = add_pair(p, k, v, err))) {
            assay_free(k);
            assay_free(v);
            goto fail;
        }
        if (!comma) break;
        s = comma + 1;
    }
    return ASSAY_OK;
fail:
    assay_params_deinit(p);
    return rc;
}

int assay_params_set(assay_params *p, const char *key, const char *value, assay_error *err) {
    if (!key || !*key) return assay_error_set(err, ASSAY_EINVAL, "empty parameter name");
    int i = find_key(p, key);
    char *v = assay_strdup(value ? value : "");
    if (!v) return assay_error_set(err, ASSAY_ENOMEM, "out of memory setting parameter '%s'", key);
    if (i >= 0) {
        assay_free(p->values[i]);
        p->values[i] = v;
        return ASSAY_OK;
    }
    char *k = assay_strdup(key);
    if (!k) {
        assay_free(v);
        return assay_error_set(err, ASSAY_ENOMEM, "out of memory setting parameter '%s'", key);
    }
    int rc = add_pair(p, k, v, err);
    if (rc) {
        assay_free(k);
        assay_free(v);
    }
    return rc;
}

const char *assay_params_get(const assay_params *p, const char *key) {
    if (!p) return NULL;
    int i = find_key(p, key);
    return i < 0 ? NULL : p->values[i];
}

/* "a number in [lo, hi]", "a number >= lo", ... */
static void range_text(char *buf, size_t cap, const char *what, double lo, double hi, int isint) {
    const char *fmt = isint ? "%.0f" : "%g";
    char a[64], b[64];
    snprintf(a, sizeof a, fmt, lo);
    snprintf(b, sizeof b, fmt, hi);
    int haslo = isint ? lo > (double)LONG_MIN : lo > -DBL_MAX;
    int hashi = isint ? hi < (double)LONG_MAX : hi < DBL_MAX;
    if (haslo && hashi)
        snprintf(buf, cap, "%s in [%s, %s]", what, a, b);
    else if (haslo)
        snprintf(buf, cap, "%s >= %s", what, a);
    else if (hashi)
        snprintf(buf, cap, "%s <= %s", what, b);
    else
        snprintf(buf, cap, "%s", what);
}

int assay_params_double(const assay_params *p, const char *key, double def, double lo, double hi,
                        double *out, assay_error *err) {
    const char *v = assay_params_get(p, key);
    if (!v) {
        *out = def;
        return ASSAY_OK;
    }
    char *endp;
    errno = 0;
    double x = strtod(v, &endp);
    int ok = *v && *endp == '\0' && errno != ERANGE && isfinite(x) && x >= lo && x <= hi;
    if (!ok) {
        char want[128];
        range_text(want, sizeof want, "a number", lo, hi, 0);
        return assay_error_set(err, ASSAY_EINVAL, "%s must be %s, got '%s'", key, want, v);
    }
    *out = x;
    return ASSAY_OK;
}

int assay_params_int(const assay_params *p, const char *key, long def, long lo, long hi,
                     long *out, assay_error *err) {
    const char *v = assay_params_get(p, key);
    if (!v) {
        *out = def;
        return ASSAY_OK;
    }
    char *endp;
    errno = 0;
    long x = strtol(v, &endp, 10);
    int ok = *v && *endp == '\0' && errno != ERANGE && x >= lo && x <= hi;
    if (!ok) {
        char want[128];
        range_text(want, sizeof want, "an integer", (double)lo, (double)hi, 1);
        return assay_error_set(err, ASSAY_EINVAL, "%s must be %s, got '%s'", key, want, v);
    }
    *out = x;
    return ASSAY_OK;
}

int assay_params_choice(const assay_params *p, const char *key, const char *const *choices,
                        int def, int *out, assay_error *err) {
    const char *v = assay_params_get(p, key);
    if (!v) {
        *out = def;
        return ASSAY_OK;
    }
    for (int i = 0; choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return ASSAY_OK;
        }
    }
    char list[160] = "";
    size_t len = 0;
    for (int i = 0; choices[i] && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "|" : "", choices[i]);
    return assay_error_set(err, ASSAY_EINVAL, "%s must be one of %s, got '%s'", key, list, v);
}

int assay_params_check_known(const assay_params *p, const char *const *known, const char *model,
                             assay_error *err) {
    for (int i = 0; i < p->n; i++) {
        int found = 0;
        for (int j = 0; known[j] && !found; j++) found = strcmp(p->keys[i], known[j]) == 0;
        if (!found) {
            char list[160] = "";
            size_t len = 0;
            for (int j = 0; known[j] && len < sizeof list; j++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", known[j]);
            return assay_error_set(err, ASSAY_EINVAL,
                                   "model '%s' has no parameter '%s' (known: %s)", model,
                                   p->keys[i], list[0] ? list : "none");
        }
    }
    return ASSAY_OK;
}

char *assay_params_to_string(const assay_params *p) {
    assay_buf b = {0};
    for (int i = 0; p && i < p->n; i++) {
        if (assay_buf_printf(&b, "%s%s=%s", i ? "," : "", p->keys[i], p->values[i])) {
            assay_buf_deinit(&b);
            return NULL;
        }
    }
    if (!b.data) return assay_strdup("");
    return b.data;
}

void assay_params_deinit(assay_params *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        assay_free(p->keys[i]);
        assay_free(p->values[i]);
    }
    assay_free(p->keys);
    assay_free(p->values);
    memset(p, 0, sizeof *p);
}
