/* build.c - the column builder both readers feed: type inference over all rows, overrides,
 * conversion into typed columns, and categorical interning (open addressing, first-seen order).
 *
 * Inference (each rule over every non-missing cell): boolean if all are true/false; numeric if
 * all are numbers; datetime if all are ISO 8601 dates; numeric if at least 95% are numbers (the
 * rest become missing, counted as invalid); else text when values look free-form (distinct >
 * 50% and average length > 20 bytes or most contain a space), else categorical. An all-missing
 * column is numeric. Not done here: reading files (csv.c, jsonl.c). */
#include "data_internal.h"

void assay__tb_deinit(tablebuild *tb) {
    if (tb->names) {
        for (int c = 0; c < tb->ncols; c++) assay_free(tb->names[c]);
        assay_free(tb->names);
    }
    if (tb->cols) {
        for (int c = 0; c < tb->ncols; c++) {
            assay_free(tb->cols[c].off);
            assay_free(tb->cols[c].num);
            assay_free(tb->cols[c].flag);
        }
        assay_free(tb->cols);
    }
    assay_free(tb->row_line);
    assay_free(tb->row_off);
    memset(tb, 0, sizeof *tb);
}

int assay__check_names(const char *source, char **names, int ncols, assay_error *err) {
    /* quadratic only for small headers; a hash set for wide ones */
    if (ncols <= 64) {
        for (int i = 0; i < ncols; i++)
            for (int j = i + 1; j < ncols; j++)
                if (strcmp(names[i], names[j]) == 0)
                    return assay_error_set(err, ASSAY_EPARSE,
                                           "%s:1: duplicate column name '%s' (columns %d and %d)",
                                           source, names[i], i + 1, j + 1);
        return ASSAY_OK;
    }
    size_t cap = 1;
    while (cap < (size_t)ncols * 2) cap <<= 1;
    int *slot = assay_mallocarray(cap, sizeof *slot);
    if (!slot) return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", source);
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    int rc = ASSAY_OK;
    for (int i = 0; i < ncols && rc == ASSAY_OK; i++) {
        size_t h = (size_t)assay__hash_bytes(names[i], strlen(names[i]), 0) & (cap - 1);
        while (slot[h] >= 0) {
            if (strcmp(names[slot[h]], names[i]) == 0) {
                rc = assay_error_set(err, ASSAY_EPARSE,
                                     "%s:1: duplicate column name '%s' (columns %d and %d)",
                                     source, names[i], slot[h] + 1, i + 1);
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        slot[h] = i;
    }
    assay_free(slot);
    return rc;
}

int assay__tb_init(tablebuild *tb, const char *source, int ncols, char **names, int64_t cap,
                   const assay_read_options *opt, assay_error *err) {
    memset(tb, 0, sizeof *tb);
    tb->source = source;
    tb->ncols = ncols;
    tb->names = names;
    if (cap < 16) cap = 16;
    tb->cols = assay_calloc((size_t)ncols, sizeof *tb->cols);
    if (!tb->cols) goto nomem;
    for (int c = 0; c < ncols; c++) {
        colbuild *cb = &tb->cols[c];
        cb->force = -1;
        cb->first_notnum = -1;
        cb->off = assay_mallocarray((size_t)cap, sizeof *cb->off);
        cb->num = assay_mallocarray((size_t)cap, sizeof *cb->num);
        cb->flag = assay_malloc((size_t)cap);
        if (!cb->off || !cb->num || !cb->flag) goto nomem;
        assay__advise_huge(cb->off, (size_t)cap * sizeof *cb->off);
        assay__advise_huge(cb->num, (size_t)cap * sizeof *cb->num);
        assay__advise_huge(cb->flag, (size_t)cap);
    }
    tb->row_line = assay_mallocarray((size_t)cap, sizeof *tb->row_line);
    tb->row_off = assay_mallocarray((size_t)cap, sizeof *tb->row_off);
    if (!tb->row_line || !tb->row_off) goto nomem;
    assay__advise_huge(tb->row_line, (size_t)cap * sizeof *tb->row_line);
    assay__advise_huge(tb->row_off, (size_t)cap * sizeof *tb->row_off);
    tb->cap = cap;
    int rc = assay__check_names(source, names, ncols, err);
    if (rc) goto fail_rc;
    for (int i = 0; opt && i < opt->n_overrides; i++) {
        const assay_col_override *o = &opt->overrides[i];
        int found = 0;
        for (int c = 0; c < ncols; c++) {
            if (o->name && strcmp(o->name, names[c]) == 0) {
                if ((unsigned)o->type >= ASSAY_COLTYPE_COUNT) {
                    rc = assay_error_set(err, ASSAY_EINVAL, "--column: invalid type %d for '%s'",
                                         (int)o->type, o->name);
                    goto fail_rc;
                }
                tb->cols[c].force = (int)o->type;
                tb->cols[c].num_dead = o->type != ASSAY_COL_NUMERIC;
                found = 1;
            }
        }
        if (!found && opt->strict_overrides) {
            rc = assay_error_set(err, ASSAY_EINVAL, "--column: no column '%s' in %s",
                                 o->name ? o->name : "(null)", source);
            goto fail_rc;
        }
    }
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", source);
fail_rc:
    assay__tb_deinit(tb);
    return rc;
}

int assay__tb_grow(tablebuild *tb, assay_error *err) {
    if (tb->nrows < tb->cap) return ASSAY_OK;
    int64_t cap = tb->cap * 2;
    for (int c = 0; c < tb->ncols; c++) {
        colbuild *cb = &tb->cols[c];
        uint32_t *off = assay_reallocarray(cb->off, (size_t)cap, sizeof *off);
        if (!off) goto nomem;
        cb->off = off;
        double *num = assay_reallocarray(cb->num, (size_t)cap, sizeof *num);
        if (!num) goto nomem;
        cb->num = num;
        uint8_t *flag = assay_realloc(cb->flag, (size_t)cap);
        if (!flag) goto nomem;
        cb->flag = flag;
    }
    int64_t *rl = assay_reallocarray(tb->row_line, (size_t)cap, sizeof *rl);
    if (!rl) goto nomem;
    tb->row_line = rl;
    int64_t *ro = assay_reallocarray(tb->row_off, (size_t)cap, sizeof *ro);
    if (!ro) goto nomem;
    tb->row_off = ro;
    tb->cap = cap;
    return ASSAY_OK;
nomem:
    return assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", tb->source);
}

/* ---- interning --------------------------------------------------------------------------- */

typedef struct intern {
    int32_t *slot;     /* cap: level index or -1 */
    uint64_t *hash;    /* per level */
    int64_t *loff;     /* per level: offset of its text in base */
    int32_t n, lcap;
    size_t cap;
} intern;

static void intern_deinit(intern *in) {
    assay_free(in->slot);
    assay_free(in->hash);
    assay_free(in->loff);
}

static int intern_rehash(intern *in, size_t cap) {
    int32_t *slot = assay_mallocarray(cap, sizeof *slot);
    if (!slot) return ASSAY_ENOMEM;
    memset(slot, 0xff, cap * sizeof *slot);
    for (int32_t i = 0; i < in->n; i++) {
        size_t h = (size_t)in->hash[i] & (cap - 1);
        while (slot[h] >= 0) h = (h + 1) & (cap - 1);
        slot[h] = i;
    }
    assay_free(in->slot);
    in->slot = slot;
    in->cap = cap;
    return ASSAY_OK;
}

/* Level index of base[off..] (length n), adding it if new; -1 when out of memory. */
static int32_t intern_get(intern *in, const char *base, int64_t off, size_t n) {
    const char *s = base + off;
    uint64_t hv = assay__hash_bytes(s, n, 0);
    size_t h = (size_t)hv & (in->cap - 1);
    for (;;) {
        int32_t i = in->slot[h];
        if (i < 0) break;
        if (in->hash[i] == hv) {
            const char *t = base + in->loff[i];
            if (memcmp(t, s, n) == 0 && t[n] == '\0') return i;
        }
        h = (h + 1) & (in->cap - 1);
    }
    if (in->n == INT32_MAX) return -1;
    if (in->n == in->lcap) {
        int32_t lcap = in->lcap ? (in->lcap > INT32_MAX / 2 ? INT32_MAX : in->lcap * 2) : 16;
        uint64_t *hh = assay_reallocarray(in->hash, (size_t)lcap, sizeof *hh);
        if (!hh) return -1;
        in->hash = hh;
        int64_t *lo = assay_reallocarray(in->loff, (size_t)lcap, sizeof *lo);
        if (!lo) return -1;
        in->loff = lo;
        in->lcap = lcap;
    }
    int32_t i = in->n++;
    in->hash[i] = hv;
    in->loff[i] = off;
    in->slot[h] = i;
    if ((size_t)in->n * 2 > in->cap && intern_rehash(in, in->cap * 2)) return -1;
    return i;
}

/* ---- finishing columns ------------------------------------------------------------------- */

static const char *type_noun(int t) {
    switch (t) {
    case ASSAY_COL_BOOLEAN: return "a boolean";
    case ASSAY_COL_DATETIME: return "a date";
    default: return "a number";
    }
}

/* Numeric, boolean or datetime column from cb. For BOOLEAN/DATETIME values are parsed here
 * (cells that fail become invalid); forced columns fail when most cells do not parse. */
static int finish_scalar(tablebuild *tb, int c, int type, int forced, assay_column *col,
                         assay_error *err) {
    colbuild *cb = &tb->cols[c];
    int64_t n = tb->nrows;
    int64_t n_bad = 0, first_bad = -1;
    if (type == ASSAY_COL_NUMERIC) {
        n_bad = cb->n_notnum;
        first_bad = cb->first_notnum;
        if (cb->num_dead) { /* values were not kept: parse them again */
            for (int64_t r = 0; r < n; r++) {
                const char *s = assay__tb_cell(tb, c, r);
                if (cb->flag[r] != CELL_OK || !assay__parse_number(s, strlen(s), &cb->num[r]))
                    cb->num[r] = NAN;
            }
        }
    } else {
        for (int64_t r = 0; r < n; r++) {
            if (cb->flag[r] == CELL_MISSING) {
                cb->num[r] = NAN;
                continue;
            }
            const char *s = assay__tb_cell(tb, c, r);
            size_t len = strlen(s);
            int ok = type == ASSAY_COL_BOOLEAN ? assay__parse_bool(s, len, &cb->num[r])
                                               : assay__parse_datetime(s, len, &cb->num[r]);
            if (ok) {
                cb->flag[r] = CELL_OK;
            } else {
                cb->flag[r] = CELL_NOTNUM;
                cb->num[r] = NAN;
                if (n_bad++ == 0) first_bad = r;
            }
        }
    }
    if (forced && n_bad * 2 > cb->n_nonmissing) {
        return assay_error_set(err, ASSAY_ESCHEMA,
                               "%s:%lld: column '%s' forced to %s but \"%s\" is not %s",
                               tb->source, (long long)tb->row_line[first_bad], col->name,
                               assay_coltype_name((assay_coltype)type),
                               assay__tb_cell(tb, c, first_bad), type_noun(type));
    }
    int64_t nmiss = 0;
    for (int64_t r = 0; r < n; r++) {
        uint8_t m = cb->flag[r] != CELL_OK;
        cb->flag[r] = m;
        nmiss += m;
    }
    col->type = (assay_coltype)type;
    col->num = cb->num;
    col->missing = cb->flag;
    cb->num = NULL;
    cb->flag = NULL;
    col->n_missing = nmiss;
    col->n_invalid = n_bad;
    col->first_invalid_line = n_bad ? tb->row_line[first_bad] : 0;
    return ASSAY_OK;
}

static int all_parse(tablebuild *tb, int c, int type) {
    colbuild *cb = &tb->cols[c];
    double v;
    for (int64_t r = 0; r < tb->nrows; r++) {
        if (cb->flag[r] == CELL_MISSING) continue;
        const char *s = assay__tb_cell(tb, c, r);
        size_t len = strlen(s);
        if (!(type == ASSAY_COL_BOOLEAN ? assay__parse_bool(s, len, &v)
                                        : assay__parse_datetime(s, len, &v)))
            return 0;
    }
    return 1;
}

/* Categorical or text column (type -1: decide by the free-text rule). */
static int finish_strings(tablebuild *tb, int c, int type, data_arena *arena, assay_column *col,
                          assay_error *err) {
    colbuild *cb = &tb->cols[c];
    int64_t n = tb->nrows;
    intern in = {0};
    int32_t *cat = NULL;
    int rc = ASSAY_OK;
    uint8_t *missing = assay_malloc((size_t)n);
    if (!missing) goto nomem;
    int64_t nmiss = 0;
    for (int64_t r = 0; r < n; r++) {
        missing[r] = cb->flag[r] == CELL_MISSING;
        nmiss += missing[r];
    }
    if (type != ASSAY_COL_TEXT) {
        cat = assay_mallocarray((size_t)n, sizeof *cat);
        if (!cat || intern_rehash(&in, 64)) goto nomem;
        int64_t total_len = 0, with_space = 0;
        for (int64_t r = 0; r < n; r++) {
            if (missing[r]) {
                cat[r] = -1;
                continue;
            }
            const char *s = assay__tb_cell(tb, c, r);
            size_t len = strlen(s);
            total_len += (int64_t)len;
            with_space += memchr(s, ' ', len) != NULL;
            int32_t k = intern_get(&in, tb->base, (int64_t)(s - tb->base), len);
            if (k < 0) goto nomem;
            cat[r] = k;
        }
        int64_t nn = n - nmiss;
        if (type < 0) {
            int free_text = nn > 0 && (int64_t)in.n * 2 > nn &&
                            (total_len > 20 * nn || with_space * 2 > nn);
            type = free_text ? ASSAY_COL_TEXT : ASSAY_COL_CATEGORICAL;
        }
    }
    if (type == ASSAY_COL_CATEGORICAL) {
        col->levels = assay_mallocarray((size_t)(in.n ? in.n : 1), sizeof *col->levels);
        if (!col->levels) goto nomem;
        for (int32_t i = 0; i < in.n; i++) {
            const char *s = tb->base + in.loff[i];
            col->levels[i] = assay__arena_strndup(arena, s, strlen(s));
            if (!col->levels[i]) goto nomem;
        }
        col->nlevels = in.n;
        col->cat = cat;
        cat = NULL;
    } else {
        col->text = assay_calloc((size_t)(n ? n : 1), sizeof *col->text);
        if (!col->text) goto nomem;
        for (int64_t r = 0; r < n; r++) {
            if (missing[r]) continue;
            const char *s = assay__tb_cell(tb, c, r);
            col->text[r] = assay__arena_strndup(arena, s, strlen(s));
            if (!col->text[r]) goto nomem;
        }
    }
    col->type = (assay_coltype)type;
    col->missing = missing;
    missing = NULL;
    col->n_missing = nmiss;
    goto done;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", tb->source);
done:
    intern_deinit(&in);
    assay_free(cat);
    assay_free(missing);
    return rc;
}

int assay__tb_finish(tablebuild *tb, assay_table **out, assay_error *err) {
    int rc = ASSAY_OK;
    data_arena arena = {0};
    *out = NULL;
    assay_table *t = assay_calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->cols = assay_calloc((size_t)tb->ncols, sizeof *t->cols);
    t->source = assay_strdup(tb->source);
    if (!t->cols || !t->source) goto nomem;
    t->ncols = tb->ncols;
    t->nrows = tb->nrows;
    for (int c = 0; c < tb->ncols; c++) {
        colbuild *cb = &tb->cols[c];
        assay_column *col = &t->cols[c];
        col->name = tb->names[c];
        tb->names[c] = NULL;
        int type = cb->force;
        int forced = type >= 0;
        if (!forced) {
            if (cb->n_notnum == 0) type = ASSAY_COL_NUMERIC;
            else if (cb->n_notnum == cb->n_nonmissing && all_parse(tb, c, ASSAY_COL_BOOLEAN))
                type = ASSAY_COL_BOOLEAN;
            else if (cb->n_notnum == cb->n_nonmissing && all_parse(tb, c, ASSAY_COL_DATETIME))
                type = ASSAY_COL_DATETIME;
            else if (cb->n_notnum * 20 <= cb->n_nonmissing) type = ASSAY_COL_NUMERIC;
        }
        if (type == ASSAY_COL_NUMERIC || type == ASSAY_COL_BOOLEAN || type == ASSAY_COL_DATETIME)
            rc = finish_scalar(tb, c, type, forced, col, err);
        else
            rc = finish_strings(tb, c, type, &arena, col, err);
        if (rc) goto fail;
    }
    t->strings = arena.chunk;
    assay__tb_deinit(tb);
    *out = t;
    return ASSAY_OK;
nomem:
    rc = assay_error_set(err, ASSAY_ENOMEM, "%s: out of memory", tb->source);
fail:
    if (t) t->strings = arena.chunk;
    else assay__arena_free_chain(arena.chunk);
    assay_table_free(t);
    assay__tb_deinit(tb);
    return rc;
}
