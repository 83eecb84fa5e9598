/* test_core.c - unit tests of the core module other than the model file (test_mfile.c):
 * RNG against published reference outputs and tests/parity/fixtures/core_rng.json (written by
 * tests/parity/gen/gen_mfile.py from the published algorithms), allocation hooks, errors, the
 * byte buffer, hashing, tensors, CSR, threads and the progress bar. */
#include <errno.h>
#include <jansson.h>
#include <omp.h>
#include <unistd.h>

#include "../../src/internal.h"
#include "check.h"

static json_t *load_fixture(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/%s", ASSAY_SOURCE_DIR, name);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    CHECK_MSG(j != NULL, "%s: %s", path, jerr.text);
    return j;
}

static uint64_t u64_of(json_t *s) { return strtoull(json_string_value(s), NULL, 10); }

/* ---- RNG --------------------------------------------------------------------------------- */

static void test_rng_reference(void) {
    /* xoshiro256** from state {1, 2, 3, 4}: the reference values published with the algorithm
     * (also used by Rust's rand_xoshiro test suite) */
    static const uint64_t want[10] = {11520ULL,
                                      0ULL,
                                      1509978240ULL,
                                      1215971899390074240ULL,
                                      1216172134540287360ULL,
                                      607988272756665600ULL,
                                      16172922978634559625ULL,
                                      8476171486693032832ULL,
                                      10595114339597558777ULL,
                                      2904607092377533576ULL};
    assay_rng r = {{1, 2, 3, 4}};
    for (int i = 0; i < 10; i++) CHECK(assay_rng_next(&r) == want[i]);

    json_t *fx = load_fixture("core_rng.json");
    if (!fx) return;
    json_t *seeds = json_object_get(fx, "seeds");
    const char *key;
    json_t *v;
    int compared = 0;
    json_object_foreach(seeds, key, v) {
        uint64_t seed = strtoull(key, NULL, 10);
        assay_rng a;
        assay_rng_seed(&a, seed);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(a.s[i] == u64_of(json_array_get(json_object_get(v, "state"), i)),
                      "seed %s state[%d]", key, i);
        json_t *nx = json_object_get(v, "next");
        for (size_t i = 0; i < json_array_size(nx); i++, compared++)
            CHECK(assay_rng_next(&a) == u64_of(json_array_get(nx, i)));
        assay_rng_seed(&a, seed);
        json_t *un = json_object_get(v, "uniform");
        double maxdiff = 0;
        for (size_t i = 0; i < json_array_size(un); i++, compared++) {
            double u = assay_rng_uniform(&a), w = json_real_value(json_array_get(un, i));
            CHECK(u >= 0.0 && u < 1.0);
            maxdiff = fmax(maxdiff, fabs(u - w));
        }
        CHECK_MSG(maxdiff == 0.0, "uniform max diff %g", maxdiff);
        const char *nk;
        json_t *bl;
        json_object_foreach(json_object_get(v, "below"), nk, bl) {
            uint64_t n = strtoull(nk, NULL, 10);
            assay_rng_seed(&a, seed);
            for (size_t i = 0; i < json_array_size(bl); i++, compared++) {
                uint64_t got = assay_rng_below(&a, n);
                CHECK_MSG(got == u64_of(json_array_get(bl, i)), "seed %s below(%s)[%zu]", key, nk,
                          i);
                CHECK(got < n);
            }
        }
    }
    CHECK(compared > 100);
    printf("rng: %d reference values compared, all exact\n", compared);
    json_decref(fx);
}

static void test_rng_determinism(void) {
    assay_rng a, b, c;
    assay_rng_seed(&a, 2024);
    assay_rng_seed(&b, 2024);
    assay_rng_seed(&c, 2025);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = assay_rng_next(&a), y = assay_rng_next(&b), z = assay_rng_next(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same);
    CHECK(differ > 990);
    assay_rng_seed(&a, 7);
    assay_rng_seed(&b, 7);
    int nsame = 1;
    for (int i = 0; i < 100; i++) nsame &= assay_rng_normal(&a) == assay_rng_normal(&b);
    CHECK(nsame);
}

static void test_rng_below_range(void) {
    assay_rng r;
    assay_rng_seed(&r, 1);
    for (int i = 0; i < 1000; i++) CHECK(assay_rng_below(&r, 1) == 0);
    /* 10 buckets, 200000 draws: each count within 5 sigma of 20000 (sigma ~ 134) */
    int64_t counts[10] = {0};
    int inrange = 1;
    for (int i = 0; i < 200000; i++) {
        uint64_t x = assay_rng_below(&r, 10);
        inrange &= x < 10;
        if (x < 10) counts[x]++;
    }
    CHECK(inrange);
    int64_t worst = 0;
    for (int i = 0; i < 10; i++) worst = ASSAY_MAX(worst, llabs(counts[i] - 20000));
    CHECK_MSG(worst < 700, "worst bucket off by %lld", (long long)worst);
    /* a range where a plain modulo would be visibly biased: n = 3 * 2^62. The lower two thirds
     * [0, 2^63) must get about two thirds of the draws (modulo would give three quarters). */
    uint64_t n = 3ULL << 62;
    int low = 0;
    for (int i = 0; i < 30000; i++) {
        uint64_t x = assay_rng_below(&r, n);
        CHECK(x < n);
        low += x < (1ULL << 63);
    }
    CHECK_MSG(fabs(low / 30000.0 - 2.0 / 3.0) < 0.015, "fraction %g", low / 30000.0);
}

static void test_rng_uniform_normal(void) {
    assay_rng r;
    assay_rng_seed(&r, 99);
    double sum = 0, mn = 1, mx = 0;
    int N = 200000;
    for (int i = 0; i < N; i++) {
        double u = assay_rng_uniform(&r);
        sum += u;
        mn = fmin(mn, u);
        mx = fmax(mx, u);
    }
    CHECK(mn >= 0.0 && mx < 1.0);
    CHECK_NEAR(sum / N, 0.5, 0.005);
    double s1 = 0, s2 = 0, s4 = 0;
    int tail = 0;
    for (int i = 0; i < N; i++) {
        double z = assay_rng_normal(&r);
        CHECK(isfinite(z));
        s1 += z;
        s2 += z * z;
        s4 += z * z * z * z;
        tail += fabs(z) > 1.959963984540054;
    }
    double mean = s1 / N, var = s2 / N - mean * mean;
    printf("normal: mean %.4f var %.4f kurtosis %.3f P(|z|>1.96) %.4f\n", mean, var,
           s4 / N / (var * var), (double)tail / N);
    CHECK_NEAR(mean, 0.0, 0.012);
    CHECK_NEAR(var, 1.0, 0.02);
    CHECK_NEAR(s4 / N, 3.0, 0.1);
    CHECK_NEAR((double)tail / N, 0.05, 0.003);
}

static void test_rng_shuffle(void) {
    assay_rng r;
    assay_rng_seed(&r, 5);
    int64_t a[100], b[100];
    for (int i = 0; i < 100; i++) a[i] = b[i] = i;
    assay_rng_shuffle_i64(&r, a, 100);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        CHECK(a[i] >= 0 && a[i] < 100);
        if (a[i] >= 0 && a[i] < 100) seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1);
    CHECK(moved > 80);
    assay_rng_seed(&r, 5);
    assay_rng_shuffle_i64(&r, b, 100);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* edges */
    assay_rng_shuffle_i64(&r, a, 0);
    int64_t one = 42;
    assay_rng_shuffle_i64(&r, &one, 1);
    CHECK(one == 42);
    /* every one of the 6 permutations of 3 items turns up about 1/6 of the time */
    int perm[6] = {0};
    for (int t = 0; t < 60000; t++) {
        int64_t p[3] = {0, 1, 2};
        assay_rng_shuffle_i64(&r, p, 3);
        perm[p[0] * 2 + (p[1] > p[0] ? p[1] - 1 : p[1])]++; /* (p0, p1) fixes it: 0..5 */
    }
    for (int i = 0; i < 6; i++) CHECK_MSG(abs(perm[i] - 10000) < 500, "perm %d: %d", i, perm[i]);
}

/* ---- allocation, errors, buffers -------------------------------------------------------- */

static void test_alloc_hook(void) {
    assay_alloc_fail_after(0);
    void *p = assay_malloc(16);
    CHECK(p != NULL);
    assay_free(p);
    CHECK(assay_alloc_fail_after(2) >= 1); /* counted the malloc above */
    void *ok = assay_malloc(8);
    void *bad = assay_malloc(8);
    CHECK(ok != NULL);
    CHECK(bad == NULL);
    CHECK(assay_strdup("x") == NULL); /* keeps failing once the k-th is reached */
    CHECK(assay_alloc_fail_after(0) == 3);
    assay_free(ok);
    assay_free(NULL);
    CHECK(assay_mallocarray(SIZE_MAX / 2, 4) == NULL); /* overflow, not a huge allocation */
    CHECK(assay_calloc(SIZE_MAX / 8, 16) == NULL);
    char *z = assay_calloc(10, 3);
    CHECK(z != NULL);
    int zero = 1;
    for (int i = 0; z && i < 30; i++) zero &= z[i] == 0;
    CHECK(zero);
    assay_free(z);
    char *s = assay_strndup("abcdef", 3);
    CHECK_STR(s, "abc");
    assay_free(s);
}

static void test_buf(void) {
    assay_buf b = {0};
    char want[4096] = "";
    size_t wl = 0;
    for (int i = 0; i < 200; i++) {
        CHECK(assay_buf_printf(&b, "%d,", i) == ASSAY_OK);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%d,", i);
    }
    CHECK(b.len == wl);
    CHECK(b.data && strcmp(b.data, want) == 0);
    /* one item longer than the 256-byte fast path */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t before = b.len;
    CHECK(assay_buf_printf(&b, "[%s]", big) == ASSAY_OK);
    CHECK(b.len == before + 1001);
    CHECK(b.data[b.len] == '\0' && b.data[before] == '[' && b.data[b.len - 1] == ']');
    CHECK(b.cap > b.len);
    assay_buf_deinit(&b);
    CHECK(b.data == NULL && b.len == 0);
    /* allocation failure reports ENOMEM and leaves the buffer usable */
    assay_alloc_fail_after(1);
    CHECK(assay_buf_append(&b, "abc", 3) == ASSAY_ENOMEM);
    assay_alloc_fail_after(0);
    CHECK(assay_buf_append(&b, "abc", 3) == ASSAY_OK);
    CHECK_STR(b.data, "abc");
    CHECK(assay_buf_reserve(&b, SIZE_MAX - 1) == ASSAY_ENOMEM); /* no wrap-around */
    CHECK(assay_buf_append(&b, "d", 1) == ASSAY_OK && strcmp(b.data, "abcd") == 0);
    assay_buf_deinit(&b);
}

static void test_errors(void) {
    assay_error err;
    assay_error_clear(&err);
    CHECK(err.code == 0 && err.msg[0] == '\0');
    CHECK(assay_error_set(&err, ASSAY_EPARSE, "row %d: bad", 18) == ASSAY_EPARSE);
    CHECK(assay_error_prefix(&err, "%s:%d", "credit.csv", 18) == ASSAY_EPARSE);
    CHECK_STR(err.msg, "credit.csv:18: row 18: bad");
    CHECK(assay_error_set(NULL, ASSAY_EIO, "x") == ASSAY_EIO);
    CHECK_STR(assay_strerror(ASSAY_ENOMEM), "out of memory");
    CHECK_STR(assay_strerror(ASSAY_EVERSION), "unsupported format version");
    CHECK_STR(assay_strerror(12345), "unknown error");
    /* a long message is truncated, not overflowed */
    char big[600];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assay_error_set(&err, ASSAY_EINVAL, "%s", big);
    CHECK(strlen(err.msg) == sizeof err.msg - 1);
    assay_error_prefix(&err, "p");
    CHECK(strncmp(err.msg, "p: yyy", 6) == 0 && strlen(err.msg) == sizeof err.msg - 1);
}

/* ---- hashing and time -------------------------------------------------------------------- */

static void test_hash(void) {
    /* FNV-1a 64 test vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv) */
    CHECK(assay_hash64("", 0, 0) == 0xcbf29ce484222325ULL);
    CHECK(assay_hash64("a", 1, 0) == 0xaf63dc4c8601ec8cULL);
    CHECK(assay_hash64("foobar", 6, 0) == 0x85944171f73967e8ULL);
    CHECK(assay_hash64("foobar", 6, 1) != assay_hash64("foobar", 6, 0));
    json_t *fx = load_fixture("core_rng.json");
    if (fx) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)assay_hash64("foobar", 6, 12345));
        CHECK_STR(hex, json_string_value(json_object_get(fx, "fnv1a_foobar_seed12345")));
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)assay_hash64("assay model file", 16, 0));
        CHECK_STR(hex, json_string_value(json_object_get(json_object_get(fx, "fnv1a"),
                                                         "assay model file")));
        json_decref(fx);
    }

    char path[] = "/tmp/assay-test-core-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    /* 200000 bytes: spans several read chunks; the fingerprint equals the one-shot hash */
    size_t n = 200000;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 131 + (i >> 9));
    CHECK(write(fd, data, n) == (ssize_t)n);
    close(fd);
    char fp[17], want[17];
    assay_error err = {0};
    CHECK_OK(assay_fingerprint_file(path, fp, &err), &err);
    snprintf(want, sizeof want, "%016llx", (unsigned long long)assay_hash64(data, n, 0));
    CHECK_STR(fp, want);
    CHECK(strlen(fp) == 16);
    free(data);
    unlink(path);
    CHECK(assay_fingerprint_file(path, fp, &err) == ASSAY_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, strerror(ENOENT)), "%s", err.msg);
    CHECK(assay_fingerprint_file("/", fp, &err) == ASSAY_EIO); /* a directory: read fails */
    CHECK_MSG(strncmp(err.msg, "/:", 2) == 0, "%s", err.msg);

    double t0 = assay_now();
    usleep(20000);
    double t1 = assay_now();
    CHECK(t1 - t0 >= 0.019 && t1 - t0 < 1.0);
}

/* ---- tensors and CSR --------------------------------------------------------------------- */

static void test_dtypes(void) {
    static const char *names[] = {"F32", "F64", "I32", "I64", "U8"};
    static const size_t sizes[] = {4, 8, 4, 8, 1};
    for (int i = 0; i < ASSAY_DTYPE_COUNT; i++) {
        CHECK(assay_dtype_size((assay_dtype)i) == sizes[i]);
        CHECK_STR(assay_dtype_name((assay_dtype)i), names[i]);
        assay_dtype d = ASSAY_DTYPE_COUNT;
        CHECK(assay_dtype_from_name(names[i], &d) == ASSAY_OK && d == (assay_dtype)i);
    }
    assay_dtype d;
    CHECK(assay_dtype_from_name("BF16", &d) == ASSAY_EFORMAT);
    CHECK(assay_dtype_from_name("f32", &d) == ASSAY_EFORMAT);
    CHECK(assay_dtype_from_name("", &d) == ASSAY_EFORMAT);
    CHECK(assay_dtype_size(ASSAY_DTYPE_COUNT) == 0);
}

static void test_tensor(void) {
    assay_tensor t = {.ndim = 0};
    CHECK(assay_tensor_numel(&t) == 1);
    t.ndim = 3;
    t.shape[0] = 2, t.shape[1] = 0, t.shape[2] = 5;
    CHECK(assay_tensor_numel(&t) == 0);
    t.shape[1] = -1;
    CHECK(assay_tensor_numel(&t) == -1);
    t.ndim = 4;
    t.shape[0] = t.shape[1] = t.shape[2] = t.shape[3] = 1 << 16; /* 2^64: overflows */
    CHECK(assay_tensor_numel(&t) == -1);
    t.shape[3] = 1 << 14; /* 2^62 fits */
    CHECK(assay_tensor_numel(&t) == (int64_t)1 << 62);
    t.ndim = 5;
    CHECK(assay_tensor_numel(&t) == -1);

    assay_error err = {0};
    int64_t shape[2] = {3, 4};
    CHECK_OK(assay_tensor_init(&t, ASSAY_F64, 2, shape, &err), &err);
    CHECK(t.owns == 1 && t.ndim == 2 && t.shape[1] == 4 && t.dtype == ASSAY_F64);
    double *x = t.data;
    int zero = 1;
    for (int i = 0; i < 12; i++) zero &= x[i] == 0.0;
    CHECK(zero);
    assay_tensor_deinit(&t);
    CHECK(t.data == NULL);
    CHECK_OK(assay_tensor_init(&t, ASSAY_U8, 0, NULL, &err), &err); /* scalar */
    CHECK(t.data != NULL && assay_tensor_numel(&t) == 1);
    assay_tensor_deinit(&t);
    CHECK(assay_tensor_init(&t, ASSAY_F32, 5, shape, &err) == ASSAY_EINVAL);
    int64_t neg[1] = {-3};
    CHECK(assay_tensor_init(&t, ASSAY_F32, 1, neg, &err) == ASSAY_EINVAL);
    int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(assay_tensor_init(&t, ASSAY_F32, 2, huge, &err) == ASSAY_EINVAL);
    CHECK(assay_tensor_init(&t, (assay_dtype)99, 1, shape, &err) == ASSAY_EINVAL);
    assay_alloc_fail_after(1);
    CHECK(assay_tensor_init(&t, ASSAY_F32, 2, shape, &err) == ASSAY_ENOMEM);
    assay_alloc_fail_after(0);
    CHECK(t.data == NULL);
    assay_tensor_deinit(&t); /* safe after a failed init */
}

static void test_csr(void) {
    assay_error err = {0};
    assay_csr m;
    /* [[1 0 2] [0 0 0] [0 3 0]] */
    CHECK_OK(assay_csr_init(&m, 3, 3, 3, &err), &err);
    int64_t ip[4] = {0, 2, 2, 3};
    int32_t ix[3] = {0, 2, 1};
    float v[3] = {1, 2, 3};
    memcpy(m.indptr, ip, sizeof ip);
    memcpy(m.indices, ix, sizeof ix);
    memcpy(m.values, v, sizeof v);
    CHECK_OK(assay_csr_validate(&m, &err), &err);
    m.indices[1] = 0; /* repeated column in row 0 */
    CHECK(assay_csr_validate(&m, &err) == ASSAY_EFORMAT);
    CHECK_MSG(strstr(err.msg, "row 0"), "%s", err.msg);
    m.indices[1] = 3; /* out of range */
    CHECK(assay_csr_validate(&m, &err) == ASSAY_EFORMAT);
    m.indices[1] = 2;
    m.indptr[2] = 1; /* indptr goes backwards */
    CHECK(assay_csr_validate(&m, &err) == ASSAY_EFORMAT);
    m.indptr[2] = 2;
    m.indptr[3] = 2; /* does not end at nnz */
    CHECK(assay_csr_validate(&m, &err) == ASSAY_EFORMAT);
    m.indptr[3] = 3;
    m.indptr[0] = 1;
    CHECK(assay_csr_validate(&m, &err) == ASSAY_EFORMAT);
    m.indptr[0] = 0;
    CHECK_OK(assay_csr_validate(&m, &err), &err);
    assay_csr_deinit(&m);
    CHECK(m.indptr == NULL && m.nnz == 0);
    assay_csr_deinit(&m);

    CHECK_OK(assay_csr_init(&m, 0, 0, 0, &err), &err); /* empty matrix */
    CHECK_OK(assay_csr_validate(&m, &err), &err);
    assay_csr_deinit(&m);
    CHECK(assay_csr_init(&m, -1, 3, 0, &err) == ASSAY_EINVAL);
    CHECK(assay_csr_init(&m, 1, (int64_t)INT32_MAX + 1, 0, &err) == ASSAY_EINVAL);
    for (uint64_t k = 1; k <= 3; k++) {
        assay_alloc_fail_after(k);
        CHECK(assay_csr_init(&m, 10, 10, 5, &err) == ASSAY_ENOMEM);
        assay_alloc_fail_after(0);
        CHECK(m.indptr == NULL && m.indices == NULL && m.values == NULL);
    }
}

/* ---- threads and progress ---------------------------------------------------------------- */

static void test_threads(void) {
    int before = assay_threads_get();
    assay_threads_set(3);
    CHECK(assay_threads_get() == 3);
    int seen = 0;
#pragma omp parallel reduction(+ : seen)
    seen += 1;
    CHECK(seen == 3);
    assay_threads_set(0);
    CHECK(assay_threads_get() == omp_get_num_procs());
    assay_threads_set(-5);
    CHECK(assay_threads_get() == omp_get_num_procs());
    assay_threads_set(before);
}

/* Run fn with stderr sent to a temporary file; return what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void)) {
    char path[] = "/tmp/assay-test-progress-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)n + 1);
    if (pread(fd, out, (size_t)n, 0) != n) out[0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static void run_bar(void) {
    assay_progress p;
    assay_progress_begin(&p, "fitting", 1000);
    for (uint64_t i = 1; i <= 1000; i++) assay_progress_update(&p, i, "loss 0.25");
    usleep(120000); /* past the 0.1 s redraw interval */
    assay_progress_update(&p, 1000, "loss 0.125");
    assay_progress_end(&p);
}

static void run_unknown_total(void) {
    assay_progress p;
    assay_progress_begin(&p, "reading", 0);
    assay_progress_update(&p, 5, NULL);
    assay_progress_end(&p);
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static void test_progress(void) {
    assay_progress_enable(0);
    CHECK(assay_progress_enabled() == 0);
    char *out = capture_stderr(run_bar);
    CHECK_MSG(out && out[0] == '\0', "disabled bar wrote \"%s\"", out ? out : "?");
    free(out);

    assay_progress_enable(1);
    CHECK(assay_progress_enabled() == 1);
    out = capture_stderr(run_bar);
    assay_progress_enable(0);
    CHECK(out != NULL);
    if (!out) return;
    /* begin + one rate-limited redraw (+ maybe one more on a slow machine) + end: not 1000 */
    int redraws = count_char(out, '\r');
    CHECK_MSG(redraws >= 3 && redraws <= 5, "%d redraws", redraws);
    CHECK(count_char(out, '\n') == 1 && out[strlen(out) - 1] == '\n');
    CHECK(strstr(out, "fitting") != NULL);
    CHECK(strstr(out, "loss 0.125") != NULL); /* the info text of the late update */
    const char *last = strrchr(out, '\r');
    CHECK_MSG(strstr(last, "100%") && strstr(last, "1000/1000") && strstr(last, "/s"), "%s",
              last + 1);
    CHECK(strstr(last, "########################") != NULL); /* a full bar */
    free(out);

    assay_progress_enable(1);
    out = capture_stderr(run_unknown_total);
    assay_progress_enable(0);
    CHECK(out && strstr(out, "reading") && out[strlen(out) - 1] == '\n' && !strstr(out, "%"));
    free(out);
}

int main(void) {
    RUN(test_rng_reference);
    RUN(test_rng_determinism);
    RUN(test_rng_below_range);
    RUN(test_rng_uniform_normal);
    RUN(test_rng_shuffle);
    RUN(test_alloc_hook);
    RUN(test_buf);
    RUN(test_errors);
    RUN(test_hash);
    RUN(test_dtypes);
    RUN(test_tensor);
    RUN(test_csr);
    RUN(test_threads);
    RUN(test_progress);
    return check_summary();
}
