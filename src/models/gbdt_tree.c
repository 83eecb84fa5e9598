/* gbdt_tree.c - using a trained tree ensemble: prediction, TreeSHAP contributions, importance,
 * and the model file (trees as tensors, checked node by node at load).
 *
 * TreeSHAP is the exact path-dependent algorithm of Lundberg, Erion and Lee (2018, "Consistent
 * individualized feature attribution for tree ensembles", Algorithm 2): one walk per tree that
 * tracks, for every feature on the path, the fraction of the cover that flows down with and
 * without knowing it. Contributions are in margin units (log-odds for classification); per row
 * they sum with the bias (the cover-weighted mean leaf, plus the base score) to the margin.
 *
 * File layout (prefix + name): "nodes_i" I32 [N, 6] (feature, left, right, flags, cat_off,
 * cat_words), "nodes_f" F64 [N, 4] (threshold, value, cover, gain), "tree_off" I64 [T + 1],
 * "base_score" F64 [K], "catbits" I32 [W] (bit patterns). */
#include "gbdt.h"

/* ---- prediction ---------------------------------------------------------------------------- */

static inline const gb_node *leaf_for(const gbdt *m, int64_t t, const float *x) {
    const gb_node *nd = m->nodes + m->tree_off[t];
    int32_t i = 0;
    while (nd[i].feature != GB_LEAF) i = assay__gb_left(m, &nd[i], x) ? nd[i].left : nd[i].right;
    return &nd[i];
}

void assay__gbdt_margins(const gbdt *m, const float *x, double *margin) {
    for (int k = 0; k < m->K; k++) margin[k] = m->base_score[k];
    for (int64_t t = 0; t < m->ntrees; t++) margin[t % m->K] += leaf_for(m, t, x)->value;
}

static int check_dense(const gbdt *m, const assay_matrix *X, assay_error *err) {
    if (X->d != m->base.nfeatures)
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: input has %lld features, the model %lld",
                               (long long)X->d, (long long)m->base.nfeatures);
    if (X->n > 0 && !X->dense)
        return assay_error_set(err, ASSAY_EINVAL, "gbdt: needs dense features (sparse input given)");
    return ASSAY_OK;
}

int assay__gbdt_predict(const assay_estimator *e, const assay_matrix *X, double *out,
                        assay_error *err) {
    const gbdt *m = (const gbdt *)e;
    int rc = check_dense(m, X, err);
    if (rc) return rc;
    const int64_t n = X->n, d = X->d;
    const int K = m->K;
    const int width = e->task == ASSAY_TASK_REGRESSION ? 1 : e->nclasses;
#pragma omp parallel for schedule(static) if (n > 256)
    for (int64_t i = 0; i < n; i++) {
        double *o = out + i * width;
        double z[256];
        double *mg = K <= 256 ? z : o; /* softmax K <= 256 (create refuses more) */
        assay__gbdt_margins(m, X->dense + i * d, mg);
        if (m->objective == GB_OBJ_LOGLOSS) {
            double p = assay__gb_sigmoid(mg[0]);
            o[0] = 1.0 - p;
            o[1] = p;
        } else if (m->objective == GB_OBJ_SOFTMAX) {
            double mx = mg[0], s = 0;
            for (int k = 1; k < K; k++) mx = mg[k] > mx ? mg[k] : mx;
            for (int k = 0; k < K; k++) s += (o[k] = exp(mg[k] - mx));
            for (int k = 0; k < K; k++) o[k] /= s;
        } else {
            o[0] = mg[0];
        }
    }
    return ASSAY_OK;
}

int assay__gbdt_tree_depth(const gbdt *m, int64_t t) {
    const gb_node *nd = m->nodes + m->tree_off[t];
    int64_t nn = m->tree_off[t + 1] - m->tree_off[t];
    int dep[1 + 4096], *depth = nn <= 4096 ? dep : assay_calloc((size_t)nn, sizeof *depth);
    if (!depth) return GB_MAX_DEPTH;
    int best = 0;
    depth[0] = 0;
    for (int64_t i = 0; i < nn; i++) { /* parents come before children */
        if (nd[i].feature == GB_LEAF) {
            best = depth[i] > best ? depth[i] : best;
            continue;
        }
        depth[nd[i].left] = depth[nd[i].right] = depth[i] + 1;
    }
    if (depth != dep) assay_free(depth);
    return best;
}

/* ---- TreeSHAP ------------------------------------------------------------------------------ */

typedef struct pelem {
    int32_t feature;
    double zero, one, weight;
} pelem;

static void extend_path(pelem *p, int depth, double zero, double one, int32_t feature) {
    p[depth].feature = feature;
    p[depth].zero = zero;
    p[depth].one = one;
    p[depth].weight = depth == 0 ? 1.0 : 0.0;
    for (int i = depth - 1; i >= 0; i--) {
        p[i + 1].weight += one * p[i].weight * (i + 1) / (double)(depth + 1);
        p[i].weight = zero * p[i].weight * (depth - i) / (double)(depth + 1);
    }
}

static void unwind_path(pelem *p, int depth, int idx) {
    double one = p[idx].one, zero = p[idx].zero, next = p[depth].weight;
    for (int i = depth - 1; i >= 0; i--) {
        if (one != 0) {
            double tmp = p[i].weight;
            p[i].weight = next * (depth + 1) / ((i + 1) * one);
            next = tmp - p[i].weight * zero * (depth - i) / (double)(depth + 1);
        } else {
            p[i].weight = p[i].weight * (depth + 1) / (zero * (depth - i));
        }
    }
    for (int i = idx; i < depth; i++) {
        p[i].feature = p[i + 1].feature;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

static double unwound_sum(const pelem *p, int depth, int idx) {
    double one = p[idx].one, zero = p[idx].zero, next = p[depth].weight, total = 0;
    for (int i = depth - 1; i >= 0; i--) {
        if (one != 0) {
            double tmp = next * (depth + 1) / ((i + 1) * one);
            total += tmp;
            next = p[i].weight - tmp * zero * ((depth - i) / (double)(depth + 1));
        } else if (zero != 0) {
            total += (p[i].weight / zero) / ((depth - i) / (double)(depth + 1));
        }
    }
    return total;
}

static void shap_walk(const gbdt *m, const gb_node *nd, const float *x, double *phi, int32_t node,
                      int depth, pelem *parent, double pzero, double pone, int32_t pfeature) {
    pelem *p = parent + depth + 1;
    memcpy(p, parent, (size_t)(depth + 1) * sizeof *p);
    extend_path(p, depth, pzero, pone, pfeature);
    const gb_node *n = &nd[node];
    if (n->feature == GB_LEAF) {
        for (int i = 1; i <= depth; i++) {
            double w = unwound_sum(p, depth, i);
            phi[p[i].feature] += w * (p[i].one - p[i].zero) * n->value;
        }
        return;
    }
    int32_t hot = assay__gb_left(m, n, x) ? n->left : n->right;
    int32_t cold = hot == n->left ? n->right : n->left;
    double cover = n->cover > 0 ? n->cover : 1.0;
    double hz = nd[hot].cover / cover, cz = nd[cold].cover / cover;
    if (!(n->cover > 0)) hz = cz = 0.5;
    double iz = 1, io = 1;
    int k;
    for (k = 1; k <= depth; k++)
        if (p[k].feature == n->feature) break;
    if (k <= depth) { /* the feature is on the path already: undo it, then redo it here */
        iz = p[k].zero;
        io = p[k].one;
        unwind_path(p, depth, k);
        depth--;
    }
    shap_walk(m, nd, x, phi, hot, depth + 1, p, hz * iz, io, n->feature);
    shap_walk(m, nd, x, phi, cold, depth + 1, p, cz * iz, 0.0, n->feature);
}

/* Cover-weighted mean leaf of tree t. */
static double tree_mean(const gbdt *m, int64_t t) {
    const gb_node *nd = m->nodes + m->tree_off[t];
    int64_t nn = m->tree_off[t + 1] - m->tree_off[t];
    double s = 0, root = nd[0].cover;
    if (nd[0].feature == GB_LEAF) return nd[0].value;
    for (int64_t i = 0; i < nn; i++)
        if (nd[i].feature == GB_LEAF) s += nd[i].value * nd[i].cover;
    return root > 0 ? s / root : 0.0;
}

int assay__gbdt_explain(const assay_estimator *e, const assay_matrix *X, double *phi,
                        assay_error *err) {
    const gbdt *m = (const gbdt *)e;
    int rc = check_dense(m, X, err);
    if (rc) return rc;
    const int64_t n = X->n, d = X->d, W = m->K, stride = d + 1;
    double *bias = assay_calloc((size_t)W, sizeof *bias);
    /* path storage: (depth + 2)(depth + 3)/2 elements per walk */
    size_t plen = (size_t)(m->depth + 2) * (size_t)(m->depth + 3) / 2;
    if (!bias) return assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory explaining");
    for (int k = 0; k < W; k++) bias[k] = m->base_score[k];
    for (int64_t t = 0; t < m->ntrees; t++) bias[t % W] += tree_mean(m, t);
    int failed = 0;
#pragma omp parallel
    {
        pelem *path = assay_mallocarray(plen, sizeof *path);
        if (!path) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            if (!path) continue;
            double *ph = phi + i * W * stride;
            memset(ph, 0, (size_t)(W * stride) * sizeof *ph);
            const float *x = X->dense + i * d;
            for (int64_t t = 0; t < m->ntrees; t++) {
                const gb_node *nd = m->nodes + m->tree_off[t];
                if (nd[0].feature == GB_LEAF) continue;
                shap_walk(m, nd, x, ph + (t % W) * stride, 0, 0, path, 1.0, 1.0, -1);
            }
            for (int k = 0; k < W; k++) ph[k * stride + d] = bias[k];
        }
        assay_free(path);
    }
    assay_free(bias);
    if (failed) return assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory explaining");
    return ASSAY_OK;
}

static double expect_walk(const gbdt *m, const gb_node *nd, int32_t i, const float *x,
                          const uint8_t *known) {
    const gb_node *n = &nd[i];
    if (n->feature == GB_LEAF) return n->value;
    if (known[n->feature])
        return expect_walk(m, nd, assay__gb_left(m, n, x) ? n->left : n->right, x, known);
    double cl = nd[n->left].cover, cr = nd[n->right].cover;
    double fl = n->cover > 0 ? cl / n->cover : 0.5, fr = n->cover > 0 ? cr / n->cover : 0.5;
    return fl * expect_walk(m, nd, n->left, x, known) + fr * expect_walk(m, nd, n->right, x, known);
}

double assay__gbdt_tree_expect(const gbdt *m, int64_t t, const float *x, const uint8_t *known) {
    return expect_walk(m, m->nodes + m->tree_off[t], 0, x, known);
}

int assay__gbdt_importance(const assay_estimator *e, double *gain, double *splits) {
    const gbdt *m = (const gbdt *)e;
    for (int64_t f = 0; f < e->nfeatures; f++) gain[f] = splits[f] = 0;
    for (int64_t i = 0; i < m->nnodes; i++) {
        const gb_node *nd = &m->nodes[i];
        if (nd->feature == GB_LEAF) continue;
        gain[nd->feature] += nd->gain;
        splits[nd->feature] += 1;
    }
    return ASSAY_OK;
}

/* ---- the file ------------------------------------------------------------------------------ */

int assay__gbdt_save(const assay_estimator *e, assay_mfile_writer *w, const char *prefix,
                     json_t *meta, assay_error *err) {
    const gbdt *m = (const gbdt *)e;
    int64_t N = m->nnodes;
    int32_t *ni = assay_mallocarray((size_t)(N ? N : 1) * 6, sizeof *ni);
    double *nf = assay_mallocarray((size_t)(N ? N : 1) * 4, sizeof *nf);
    int rc = ASSAY_OK;
    if (!ni || !nf) {
        rc = assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory saving");
        goto done;
    }
    for (int64_t i = 0; i < N; i++) {
        const gb_node *nd = &m->nodes[i];
        int32_t *a = ni + 6 * i;
        double *b = nf + 4 * i;
        a[0] = nd->feature, a[1] = nd->left, a[2] = nd->right, a[3] = nd->flags;
        a[4] = nd->cat_off, a[5] = nd->cat_words;
        b[0] = nd->threshold, b[1] = nd->value, b[2] = nd->cover, b[3] = nd->gain;
    }
    char name[256];
    int64_t sh[2];
#define ADD(what, dt, nd_, ...)                                                                   \
    do {                                                                                          \
        int64_t s_[] = {__VA_ARGS__};                                                             \
        memcpy(sh, s_, sizeof s_);                                                                \
        snprintf(name, sizeof name, "%s" what, prefix);                                           \
        if ((rc = assay_mfile_writer_add(w, name, dt, nd_, sh, data_, err))) goto done;           \
    } while (0)
    const void *data_ = ni;
    ADD("nodes_i", ASSAY_I32, 2, N, 6);
    data_ = nf;
    ADD("nodes_f", ASSAY_F64, 2, N, 4);
    data_ = m->tree_off;
    ADD("tree_off", ASSAY_I64, 1, m->ntrees + 1);
    data_ = m->base_score;
    ADD("base_score", ASSAY_F64, 1, m->K);
    data_ = m->catbits;
    ADD("catbits", ASSAY_I32, 1, m->ncatbits);
#undef ADD
    if (meta &&
        (json_object_set_new(meta, "objective", json_string(assay__gbdt_objectives[m->objective])) ||
         json_object_set_new(meta, "rounds", json_integer(m->rounds)) ||
         json_object_set_new(meta, "best_round", json_integer(m->best_round + 1)) ||
         json_object_set_new(meta, "stopped_early", json_boolean(m->stopped_early)) ||
         json_object_set_new(meta, "trees", json_integer(m->ntrees)) ||
         json_object_set_new(meta, "nodes", json_integer(m->nnodes))))
        rc = assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory saving");
done:
    assay_free(ni);
    assay_free(nf);
    return rc;
}

int assay__gbdt_validate(gbdt *m, assay_error *err) {
    const int64_t d = m->base.nfeatures;
    if (m->ntrees < 0 || m->ntrees % m->K != 0)
        return assay_error_set(err, ASSAY_EFORMAT, "gbdt: %lld trees is not a multiple of %d outputs",
                               (long long)m->ntrees, m->K);
    if (m->tree_off[0] != 0 || m->tree_off[m->ntrees] != m->nnodes)
        return assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree offsets do not cover the %lld nodes",
                               (long long)m->nnodes);
    uint8_t *seen = assay_calloc((size_t)(m->nnodes ? m->nnodes : 1), 1);
    if (!seen) return assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory loading");
    int rc = ASSAY_OK;
    m->depth = 0;
    for (int64_t t = 0; t < m->ntrees && !rc; t++) {
        int64_t a = m->tree_off[t], z = m->tree_off[t + 1], nn = z - a;
        if (nn < 1 || nn > INT32_MAX) {
            rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree %lld has %lld nodes", (long long)t,
                                 (long long)nn);
            break;
        }
        for (int64_t i = 0; i < nn && !rc; i++) {
            const gb_node *nd = &m->nodes[a + i];
            if (!isfinite(nd->value) || !isfinite(nd->cover) || !isfinite(nd->gain) ||
                isnan(nd->threshold)) {
                rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree %lld node %lld holds a non-finite number",
                                     (long long)t, (long long)i);
            } else if (nd->feature == GB_LEAF) {
                if (nd->left != -1 || nd->right != -1)
                    rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree %lld leaf %lld has children",
                                         (long long)t, (long long)i);
            } else if (nd->feature < 0 || nd->feature >= d) {
                rc = assay_error_set(err, ASSAY_EFORMAT,
                                     "gbdt: tree %lld node %lld: feature id %d out of range (model has %lld features)",
                                     (long long)t, (long long)i, nd->feature, (long long)d);
            } else if (nd->left <= i || nd->left >= nn || nd->right <= i || nd->right >= nn ||
                       nd->left == nd->right || seen[a + nd->left] || seen[a + nd->right]) {
                rc = assay_error_set(err, ASSAY_EFORMAT,
                                     "gbdt: tree %lld node %lld: child indices %d, %d out of range or shared (tree has %lld nodes)",
                                     (long long)t, (long long)i, nd->left, nd->right, (long long)nn);
            } else if (nd->flags & ~(GB_DEFAULT_LEFT | GB_CATEGORICAL)) {
                rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree %lld node %lld: unknown flags %d",
                                     (long long)t, (long long)i, nd->flags);
            } else if ((nd->flags & GB_CATEGORICAL) &&
                       (nd->cat_off < 0 || nd->cat_words < 1 || nd->cat_words > 8 ||
                        (int64_t)nd->cat_off + nd->cat_words > m->ncatbits)) {
                rc = assay_error_set(err, ASSAY_EFORMAT,
                                     "gbdt: tree %lld node %lld: category set [%d, +%d) outside the %lld words",
                                     (long long)t, (long long)i, nd->cat_off, nd->cat_words,
                                     (long long)m->ncatbits);
            } else {
                seen[a + nd->left] = seen[a + nd->right] = 1;
            }
        }
        if (!rc) {
            for (int64_t i = 1; i < nn && !rc; i++)
                if (!seen[a + i])
                    rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree %lld node %lld is unreachable",
                                         (long long)t, (long long)i);
            int dep = rc ? 0 : assay__gbdt_tree_depth(m, t);
            if (dep > GB_MAX_DEPTH)
                rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree %lld is %d deep (at most %d)",
                                     (long long)t, dep, GB_MAX_DEPTH);
            if (dep > m->depth) m->depth = dep;
        }
    }
    assay_free(seen);
    for (int k = 0; k < m->K && !rc; k++)
        if (!isfinite(m->base_score[k]))
            rc = assay_error_set(err, ASSAY_EFORMAT, "gbdt: base score %d is not finite", k);
    return rc;
}

static int expect2(const assay_mfile *f, const char *prefix, const char *what, assay_dtype dt,
                   int ndim, int64_t cols, const assay_tensor **t, assay_error *err) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", prefix, what);
    int rc = assay_mfile_expect(f, name, dt, ndim, t, err);
    if (rc) return rc;
    if (ndim == 2 && (*t)->shape[1] != cols)
        return assay_error_set(err, ASSAY_EFORMAT, "tensor '%s' has %lld columns, expected %lld",
                               name, (long long)(*t)->shape[1], (long long)cols);
    return ASSAY_OK;
}

int assay__gbdt_load(assay_estimator *e, const assay_mfile *f, const char *prefix,
                     const json_t *meta, assay_error *err) {
    gbdt *m = (gbdt *)e;
    const assay_tensor *ti, *tf, *to, *tb, *tc;
    int rc;
    if ((rc = expect2(f, prefix, "nodes_i", ASSAY_I32, 2, 6, &ti, err)) ||
        (rc = expect2(f, prefix, "nodes_f", ASSAY_F64, 2, 4, &tf, err)) ||
        (rc = expect2(f, prefix, "tree_off", ASSAY_I64, 1, 0, &to, err)) ||
        (rc = expect2(f, prefix, "base_score", ASSAY_F64, 1, 0, &tb, err)) ||
        (rc = expect2(f, prefix, "catbits", ASSAY_I32, 1, 0, &tc, err)))
        return rc;
    int64_t N = ti->shape[0], T = to->shape[0] - 1;
    if (tf->shape[0] != N || T < 0 || tb->shape[0] != m->K)
        return assay_error_set(err, ASSAY_EFORMAT,
                               "gbdt: inconsistent tensors (%lld and %lld nodes, %lld trees, %lld base scores for %d outputs)",
                               (long long)N, (long long)tf->shape[0], (long long)T,
                               (long long)tb->shape[0], m->K);
    const int64_t *off = to->data;
    for (int64_t t = 0; t < T; t++)
        if (off[t + 1] <= off[t] || off[t + 1] > N)
            return assay_error_set(err, ASSAY_EFORMAT, "gbdt: tree offsets are not increasing within the %lld nodes",
                                   (long long)N);
    assay_free(m->tree_off);
    m->tree_off = assay_mallocarray((size_t)T + 1, sizeof *m->tree_off);
    m->nodes = assay_mallocarray((size_t)(N ? N : 1), sizeof *m->nodes);
    m->catbits = assay_mallocarray((size_t)(tc->shape[0] ? tc->shape[0] : 1), sizeof *m->catbits);
    if (!m->tree_off || !m->nodes || !m->catbits)
        return assay_error_set(err, ASSAY_ENOMEM, "gbdt: out of memory loading");
    memcpy(m->tree_off, off, (size_t)(T + 1) * sizeof *off);
    const int32_t *a = ti->data;
    const double *b = tf->data;
    for (int64_t i = 0; i < N; i++) {
        gb_node *nd = &m->nodes[i];
        nd->feature = a[6 * i], nd->left = a[6 * i + 1], nd->right = a[6 * i + 2];
        nd->flags = a[6 * i + 3], nd->cat_off = a[6 * i + 4], nd->cat_words = a[6 * i + 5];
        nd->threshold = b[4 * i], nd->value = b[4 * i + 1], nd->cover = b[4 * i + 2];
        nd->gain = b[4 * i + 3];
    }
    if (tc->shape[0]) memcpy(m->catbits, tc->data, (size_t)tc->shape[0] * sizeof *m->catbits);
    memcpy(m->base_score, tb->data, (size_t)m->K * sizeof *m->base_score);
    m->nnodes = m->cap_nodes = N;
    m->ntrees = T;
    m->ncatbits = m->cap_catbits = tc->shape[0];
    if (meta) {
        json_t *v;
        if ((v = json_object_get(meta, "rounds")) && json_is_integer(v)) m->rounds = (long)json_integer_value(v);
        if ((v = json_object_get(meta, "best_round")) && json_is_integer(v))
            m->best_round = (long)json_integer_value(v) - 1;
        if ((v = json_object_get(meta, "stopped_early"))) m->stopped_early = json_is_true(v);
    }
    return assay__gbdt_validate(m, err);
}
