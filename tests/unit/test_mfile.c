/* test_mfile.c - the model file (safetensors + assay metadata): round trips, the on-disk layout
 * read back independently, a file written by numpy (tests/parity/gen/gen_mfile.py), every
 * truncation, header byte flips, each specific corruption, atomic saves, and allocation failure
 * at every allocation of load and save. jansson's allocator is pointed at assay's hooks here so
 * that the failure injection reaches the JSON parser too. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/internal.h"
#include "check.h"

static char g_dir[] = "/tmp/assay-test-mfile-XXXXXX";

static void path_in(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", g_dir, name);
}

/* number of entries in dir whose name contains ".tmp." */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static unsigned char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* ---- a writer with every dtype and awkward shapes ---------------------------------------- */

static float g_w[6] = {1.5f, -2.25f, 3.0f, 0.0f, 1e-30f, -7.0f};
static double g_b[3] = {0.1, -1e300, 3.141592653589793};
static int32_t g_idx[8] = {0, -1, INT32_MAX, INT32_MIN, 5, 6, 7, 8};
static int64_t g_n = (int64_t)1 << 40;
static uint8_t g_bytes[5] = {0, 1, 127, 128, 255};
static double g_one = -0.5;
static int64_t g_big[3] = {INT64_MIN, INT64_MAX, -1};
static float g_special[3]; /* NaN, inf, -0.0: set in main */
static const char *g_pipeline = "{\"steps\": [\"impute\", \"scale\"],\n \"note\": \"caf\xc3\xa9 \\\"q\\\"\"}";

static assay_mfile_writer *make_writer(int variant, assay_error *err) {
    assay_mfile_writer *w = assay_mfile_writer_new();
    if (!w) {
        assay_error_set(err, ASSAY_ENOMEM, "writer");
        return NULL;
    }
    int64_t s_w[2] = {2, 3}, s_b[1] = {3}, s_idx[3] = {2, 2, 2}, s_bytes[1] = {5},
            s_empty[2] = {0, 4}, s_one[4] = {1, 1, 1, 1};
    g_w[0] = variant ? 99.0f : 1.5f;
    /* added out of name order on purpose */
    if (assay_mfile_writer_add(w, "w", ASSAY_F32, 2, s_w, g_w, err) ||
        assay_mfile_writer_add(w, "b", ASSAY_F64, 1, s_b, g_b, err) ||
        assay_mfile_writer_add(w, "idx", ASSAY_I32, 3, s_idx, g_idx, err) ||
        assay_mfile_writer_add(w, "n", ASSAY_I64, 0, NULL, &g_n, err) ||
        assay_mfile_writer_add(w, "bytes", ASSAY_U8, 1, s_bytes, g_bytes, err) ||
        assay_mfile_writer_add(w, "empty", ASSAY_F32, 2, s_empty, NULL, err) ||
        assay_mfile_writer_add(w, "one", ASSAY_F64, 4, s_one, &g_one, err) ||
        assay_mfile_writer_add(w, "big", ASSAY_I64, 1, s_b, g_big, err) ||
        assay_mfile_writer_add(w, "special", ASSAY_F32, 1, s_b, g_special, err) ||
        assay_mfile_writer_meta(w, "model.kind", "first", err) ||
        assay_mfile_writer_meta(w, "model.kind", variant ? "logistic-v2" : "logistic", err) ||
        assay_mfile_writer_meta(w, "pipeline", g_pipeline, err) ||
        assay_mfile_writer_meta(w, "empty", "", err)) {
        assay_mfile_writer_free(w);
        return NULL;
    }
    return w;
}

static const struct {
    const char *name;
    assay_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} g_expect[] = {
    {"b", ASSAY_F64, 1, {3}, g_b, sizeof g_b},
    {"big", ASSAY_I64, 1, {3}, g_big, sizeof g_big},
    {"bytes", ASSAY_U8, 1, {5}, g_bytes, sizeof g_bytes},
    {"empty", ASSAY_F32, 2, {0, 4}, NULL, 0},
    {"idx", ASSAY_I32, 3, {2, 2, 2}, g_idx, sizeof g_idx},
    {"n", ASSAY_I64, 0, {0}, &g_n, sizeof g_n},
    {"one", ASSAY_F64, 4, {1, 1, 1, 1}, &g_one, sizeof g_one},
    {"special", ASSAY_F32, 1, {3}, g_special, sizeof g_special},
    {"w", ASSAY_F32, 2, {2, 3}, g_w, sizeof g_w},
};
#define N_EXPECT ((int)(sizeof g_expect / sizeof g_expect[0]))

static void check_contents(const assay_mfile *f, int variant) {
    CHECK(assay_mfile_tensor_count(f) == N_EXPECT);
    g_w[0] = variant ? 99.0f : 1.5f;
    for (int i = 0; i < N_EXPECT; i++) {
        CHECK_STR(assay_mfile_tensor_name(f, i), g_expect[i].name); /* sorted by name */
        const assay_tensor *t = assay_mfile_tensor(f, g_expect[i].name);
        CHECK_MSG(t != NULL, "tensor %s", g_expect[i].name);
        if (!t) continue;
        CHECK(t->dtype == g_expect[i].dtype && t->ndim == g_expect[i].ndim && t->owns == 0);
        for (int d = 0; d < t->ndim; d++) CHECK(t->shape[d] == g_expect[i].shape[d]);
        CHECK(t->data != NULL);
        CHECK_MSG((uintptr_t)t->data % assay_dtype_size(t->dtype) == 0, "%s misaligned",
                  g_expect[i].name);
        size_t nb = (size_t)assay_tensor_numel(t) * assay_dtype_size(t->dtype);
        CHECK(nb == g_expect[i].nbytes);
        if (nb == g_expect[i].nbytes && nb)
            CHECK_MSG(memcmp(t->data, g_expect[i].data, nb) == 0, "%s bytes differ",
                      g_expect[i].name);
    }
    CHECK(assay_mfile_tensor_name(f, N_EXPECT) == NULL);
    CHECK(assay_mfile_tensor_name(f, -1) == NULL);
    CHECK(assay_mfile_tensor(f, "nope") == NULL);
    CHECK_STR(assay_mfile_meta(f, "assay.format"), "1");
    CHECK_STR(assay_mfile_meta(f, "model.kind"), variant ? "logistic-v2" : "logistic");
    CHECK_STR(assay_mfile_meta(f, "pipeline"), g_pipeline);
    CHECK_STR(assay_mfile_meta(f, "empty"), "");
    CHECK(assay_mfile_meta(f, "absent") == NULL);
}

static void test_round_trip(void) {
    assay_error err = {0};
    char path[512];
    path_in(path, sizeof path, "model.st");
    assay_mfile_writer *w = make_writer(0, &err);
    CHECK_MSG(w != NULL, "%s", err.msg);
    if (!w) return;
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile_writer_free(w);
    CHECK(count_tmp_files(g_dir) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);

    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    if (f) check_contents(f, 0);

    /* expect(): the checked lookup */
    const assay_tensor *t = NULL;
    CHECK_OK(assay_mfile_expect(f, "w", ASSAY_F32, 2, &t, &err), &err);
    CHECK(t && t->shape[1] == 3);
    CHECK_OK(assay_mfile_expect(f, "idx", ASSAY_I32, -1, &t, &err), &err);
    CHECK(assay_mfile_expect(f, "w", ASSAY_F64, 2, &t, &err) == ASSAY_EFORMAT && t == NULL);
    CHECK_MSG(strstr(err.msg, path) == err.msg && strstr(err.msg, "'w'") && strstr(err.msg, "F64"),
              "%s", err.msg);
    CHECK(assay_mfile_expect(f, "w", ASSAY_F32, 1, &t, &err) == ASSAY_EFORMAT);
    CHECK(assay_mfile_expect(f, "coef", ASSAY_F32, 1, &t, &err) == ASSAY_EFORMAT);
    CHECK_MSG(strstr(err.msg, "'coef'") && strstr(err.msg, "missing"), "%s", err.msg);
    assay_mfile_free(f);
    assay_mfile_free(NULL);

    /* the same bytes through load_buffer, then freed: the views must not borrow the input */
    size_t len;
    unsigned char *raw = read_whole(path, &len);
    CHECK(raw != NULL);
    if (!raw) return;
    CHECK_OK(assay_mfile_load_buffer(raw, len, "mem", &f, &err), &err);
    memset(raw, 0xAA, len);
    free(raw);
    if (f) check_contents(f, 0);
    assay_mfile_free(f);
}

/* Read the file back with jansson alone and check the safetensors layout rules. */
static void test_layout(void) {
    char path[512];
    path_in(path, sizeof path, "model.st");
    size_t len;
    unsigned char *raw = read_whole(path, &len);
    CHECK(raw != NULL && len > 8);
    if (!raw) return;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | raw[i]; /* little-endian, byte by byte */
    CHECK(n % 8 == 0 && n <= len - 8);
    CHECK(raw[8] == '{');
    json_error_t jerr;
    json_t *h = json_loadb((const char *)raw + 8, n, 0, &jerr);
    CHECK_MSG(h != NULL, "%s", jerr.text);
    if (!h) {
        free(raw);
        return;
    }
    json_t *meta = json_object_get(h, "__metadata__");
    CHECK_STR(json_string_value(json_object_get(meta, "assay.format")), "1");
    CHECK(json_object_size(h) == (size_t)N_EXPECT + 1);
    uint64_t cursor = 0;
    for (int i = 0; i < N_EXPECT; i++) { /* g_expect is in name order */
        json_t *e = json_object_get(h, g_expect[i].name);
        CHECK_STR(json_string_value(json_object_get(e, "dtype")),
                  assay_dtype_name(g_expect[i].dtype));
        CHECK(json_array_size(json_object_get(e, "shape")) == (size_t)g_expect[i].ndim);
        json_t *off = json_object_get(e, "data_offsets");
        uint64_t b = (uint64_t)json_integer_value(json_array_get(off, 0));
        uint64_t en = (uint64_t)json_integer_value(json_array_get(off, 1));
        CHECK_MSG(b == cursor && en - b == g_expect[i].nbytes, "%s at [%llu, %llu]",
                  g_expect[i].name, (unsigned long long)b, (unsigned long long)en);
        if (en <= len - 8 - n && g_expect[i].nbytes)
            CHECK(memcmp(raw + 8 + n + b, g_expect[i].data, g_expect[i].nbytes) == 0);
        cursor = en;
    }
    CHECK(cursor == len - 8 - n);
    json_decref(h);
    free(raw);
}

/* A file written by numpy + struct + json (not by assay): values must come back exactly. */
static void test_numpy_fixture(void) {
    assay_error err = {0};
    char path[512], jpath[512];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/mfile_numpy.safetensors",
             ASSAY_SOURCE_DIR);
    snprintf(jpath, sizeof jpath, "%s/tests/parity/fixtures/mfile_numpy.json", ASSAY_SOURCE_DIR);
    json_error_t jerr;
    json_t *want = json_load_file(jpath, 0, &jerr);
    CHECK_MSG(want != NULL, "%s: %s", jpath, jerr.text);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    if (!want || !f) {
        json_decref(want);
        assay_mfile_free(f);
        return;
    }
    json_t *tensors = json_object_get(want, "tensors");
    CHECK(assay_mfile_tensor_count(f) == (int)json_object_size(tensors));
    const char *name;
    json_t *e;
    double maxdiff = 0;
    int nvalues = 0;
    json_object_foreach(tensors, name, e) {
        const assay_tensor *t = assay_mfile_tensor(f, name);
        CHECK_MSG(t != NULL, "%s", name);
        if (!t) continue;
        CHECK_STR(assay_dtype_name(t->dtype), json_string_value(json_object_get(e, "dtype")));
        json_t *shape = json_object_get(e, "shape");
        CHECK((size_t)t->ndim == json_array_size(shape));
        for (int d = 0; d < t->ndim; d++)
            CHECK(t->shape[d] == json_integer_value(json_array_get(shape, (size_t)d)));
        CHECK_MSG((uintptr_t)t->data % assay_dtype_size(t->dtype) == 0, "%s misaligned", name);
        json_t *vals = json_object_get(e, "values");
        CHECK(assay_tensor_numel(t) == (int64_t)json_array_size(vals));
        for (size_t i = 0; i < json_array_size(vals); i++, nvalues++) {
            json_t *v = json_array_get(vals, i);
            double got, ref;
            switch (t->dtype) {
            case ASSAY_F32: got = ((const float *)t->data)[i], ref = (float)json_real_value(v); break;
            case ASSAY_F64: got = ((const double *)t->data)[i], ref = json_real_value(v); break;
            case ASSAY_I32: got = ((const int32_t *)t->data)[i], ref = strtod(json_string_value(v), NULL); break;
            case ASSAY_U8: got = ((const uint8_t *)t->data)[i], ref = strtod(json_string_value(v), NULL); break;
            default: {
                int64_t g = ((const int64_t *)t->data)[i];
                int64_t r = strtoll(json_string_value(v), NULL, 10);
                CHECK_MSG(g == r, "%s[%zu]: %lld != %lld", name, i, (long long)g, (long long)r);
                got = ref = 0;
            }
            }
            maxdiff = fmax(maxdiff, fabs(got - ref));
        }
    }
    printf("numpy fixture: %d tensors, %d values, largest difference %g\n",
           assay_mfile_tensor_count(f), nvalues, maxdiff);
    CHECK(maxdiff == 0.0);
    CHECK(nvalues > 20);
    json_t *meta = json_object_get(want, "metadata");
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        const char *got = assay_mfile_meta(f, k);
        CHECK_MSG(got && strcmp(got, json_string_value(v)) == 0, "metadata %s", k);
    }
    json_decref(want);
    assay_mfile_free(f);
}

/* ---- hostile input ----------------------------------------------------------------------- */

/* 8-byte length + header (padded with spaces to a multiple of 8 when pad) + data */
static unsigned char *make_file(const char *header, int pad, const void *data, size_t dlen,
                                size_t *len) {
    size_t h = strlen(header), hp = pad ? (h + 7) / 8 * 8 : h;
    unsigned char *b = malloc(8 + hp + dlen + 1);
    uint64_t n = hp;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
    memcpy(b + 8, header, h);
    memset(b + 8 + h, ' ', hp - h);
    if (dlen) memcpy(b + 8 + hp, data, dlen);
    *len = 8 + hp + dlen;
    return b;
}

static int expect_fail(const unsigned char *buf, size_t len, int code, const char *substr,
                       int line) {
    assay_error err = {0};
    assay_mfile *f = (assay_mfile *)1;
    int rc = assay_mfile_load_buffer(buf, len, "bad.st", &f, &err);
    int ok = rc == code && f == NULL && err.code == code && strncmp(err.msg, "bad.st: ", 8) == 0 &&
             (!substr || strstr(err.msg, substr));
    CHECK_MSG(ok, "line %d: got %d \"%s\", wanted %d containing \"%s\"", line, rc, err.msg, code,
              substr ? substr : "");
    if (rc == ASSAY_OK) assay_mfile_free(f);
    return ok;
}

#define META "\"__metadata__\":{\"assay.format\":\"1\"}"
#define FAILS(header, dlen, code, substr)                                                  \
    do {                                                                                   \
        size_t len_;                                                                       \
        unsigned char *b_ = make_file(header, 1, zeros, dlen, &len_);                      \
        expect_fail(b_, len_, code, substr, __LINE__);                                     \
        free(b_);                                                                          \
    } while (0)

static void test_corruptions(void) {
    static const unsigned char zeros[64];
    size_t len;
    /* sanity: the baseline loads, unpadded headers too */
    unsigned char *b = make_file("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                                 0, zeros, 4, &len);
    assay_error err = {0};
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load_buffer(b, len, "ok.st", &f, &err), &err);
    assay_mfile_free(f);
    free(b);
    /* no tensors at all is fine */
    b = make_file("{" META "}", 1, zeros, 0, &len);
    CHECK_OK(assay_mfile_load_buffer(b, len, "ok.st", &f, &err), &err);
    CHECK(f && assay_mfile_tensor_count(f) == 0);
    assay_mfile_free(f);
    free(b);

    /* sizes */
    expect_fail(zeros, 7, ASSAY_EFORMAT, "too short", __LINE__);
    expect_fail(NULL, 0, ASSAY_EFORMAT, "too short", __LINE__);
    unsigned char raw[32] = {0};
    expect_fail(raw, sizeof raw, ASSAY_EFORMAT, "header length is 0", __LINE__);
    uint64_t big = 200000000;
    memcpy(raw, &big, 8);
    expect_fail(raw, sizeof raw, ASSAY_EFORMAT, "limit", __LINE__);
    big = 25; /* 24 bytes follow */
    memcpy(raw, &big, 8);
    expect_fail(raw, sizeof raw, ASSAY_EFORMAT, "runs past the end", __LINE__);
    big = UINT64_MAX;
    memcpy(raw, &big, 8);
    expect_fail(raw, sizeof raw, ASSAY_EFORMAT, "limit", __LINE__);

    /* JSON */
    FAILS("{\"a\":", 0, ASSAY_EFORMAT, "line 1 column");
    FAILS("[1,2]", 0, ASSAY_EFORMAT, "not a JSON object");
    FAILS("\"str\"", 0, ASSAY_EFORMAT, "header JSON"); /* jansson: '[' or '{' expected */
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\xff", 4,
          ASSAY_EFORMAT, "header JSON");
    FAILS("{" META ",\"w\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "header JSON"); /* overlong UTF-8 */
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,4]}}",
          4, ASSAY_EFORMAT, "header JSON");

    /* entries */
    FAILS("{" META ",\"w\":5}", 0, ASSAY_EFORMAT, "not an object");
    FAILS("{" META ",\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ASSAY_EFORMAT,
          "missing \"dtype\"");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, ASSAY_EFORMAT,
          "missing \"shape\"");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, ASSAY_EFORMAT,
          "missing \"data_offsets\"");
    FAILS("{" META ",\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ASSAY_EFORMAT,
          "dtype is not a string");
    FAILS("{" META ",\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "unknown dtype \"BF16\"");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "shape is not an array");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "shape[0]");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "shape[0]");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "shape[1]");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "5 dimensions");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
          4, ASSAY_EFORMAT, "overflows");
    FAILS("{" META ",\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}",
          4, ASSAY_EFORMAT, "overflows"); /* numel fits int64, bytes do not fit u64 */
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "needs 8 bytes");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,4]}}", 4,
          ASSAY_EFORMAT, "needs 0 bytes");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
          ASSAY_EFORMAT, "backwards");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
          ASSAY_EFORMAT, "[begin, end]");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
          ASSAY_EFORMAT, "[begin, end]");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4,
          ASSAY_EFORMAT, "non-negative integers");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
          ASSAY_EFORMAT, "non-negative integers");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
          ASSAY_EFORMAT, "beyond the 4-byte buffer");
    FAILS("{" META ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775800,9223372036854775804]}}",
          4, ASSAY_EFORMAT, "beyond");

    /* tiling */
    FAILS("{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
          12, ASSAY_EFORMAT, "overlaps");
    FAILS("{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
          8, ASSAY_EFORMAT, "overlaps");
    FAILS("{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
          12, ASSAY_EFORMAT, "gap");
    FAILS("{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
          ASSAY_EFORMAT, "gap");
    FAILS("{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
          ASSAY_EFORMAT, "cover 4 of the 8");
    FAILS("{" META "}", 8, ASSAY_EFORMAT, "cover 0 of the 8");
    FAILS("{" META ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
          8, ASSAY_EFORMAT, "duplicate");

    /* metadata and version */
    FAILS("{\"__metadata__\":[1]}", 0, ASSAY_EFORMAT, "\"__metadata__\" is not an object");
    FAILS("{\"__metadata__\":{\"assay.format\":\"1\",\"k\":5}}", 0, ASSAY_EFORMAT,
          "metadata 'k' is not a string");
    FAILS("{\"__metadata__\":{\"assay.format\":1}}", 0, ASSAY_EFORMAT, "not a string");
    FAILS("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ASSAY_EFORMAT,
          "not an assay model file");
    FAILS("{\"__metadata__\":{\"format\":\"pt\"}}", 0, ASSAY_EFORMAT, "not an assay model file");
    FAILS("{\"__metadata__\":{\"assay.format\":\"abc\"}}", 0, ASSAY_EFORMAT, "positive integer");
    FAILS("{\"__metadata__\":{\"assay.format\":\"0\"}}", 0, ASSAY_EFORMAT, "positive integer");
    FAILS("{\"__metadata__\":{\"assay.format\":\"\"}}", 0, ASSAY_EFORMAT, "positive integer");
    FAILS("{\"__metadata__\":{\"assay.format\":\"-1\"}}", 0, ASSAY_EFORMAT, "positive integer");
    FAILS("{\"__metadata__\":{\"assay.format\":\"2\"}}", 0, ASSAY_EVERSION,
          "version 2 is newer than this build reads (version 1");
    FAILS("{\"__metadata__\":{\"assay.format\":\"99999999999999999999999\"},\"w\":{}}", 0,
          ASSAY_EVERSION, "version 99999999999999999999999 is newer");
    FAILS("{\"__metadata__\":{\"assay.format\":\"1x\"}}", 0, ASSAY_EFORMAT, "positive integer");
    FAILS("{\"__metadata__\":{\"assay.format\":\"00\"}}", 0, ASSAY_EFORMAT, "positive integer");
    /* the version is checked before the tensors: a newer file says so even if it looks odd */
    FAILS("{\"__metadata__\":{\"assay.format\":\"3\"},\"w\":{\"dtype\":\"Q4\"}}", 0,
          ASSAY_EVERSION, "version 3");
}

/* Every prefix of a valid file is rejected cleanly; every header byte flip loads or fails. */
static void test_truncate_and_flip(void) {
    char path[512];
    path_in(path, sizeof path, "model.st");
    size_t len;
    unsigned char *raw = read_whole(path, &len);
    CHECK(raw != NULL);
    if (!raw) return;
    int bad = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned char *copy = malloc(k ? k : 1); /* exact size: ASan catches any overread */
        memcpy(copy, raw, k);
        bad += !expect_fail(copy, k, ASSAY_EFORMAT, NULL, __LINE__);
        free(copy);
        if (bad > 5) break;
    }
    CHECK(bad == 0);
    printf("truncation: %zu prefixes rejected\n", len);

    uint64_t hlen;
    memcpy(&hlen, raw, 8);
    static const unsigned char xors[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    int loaded = 0, failed = 0, odd = 0;
    unsigned char *copy = malloc(len);
    for (size_t i = 0; i < 8 + hlen; i++) {
        for (size_t x = 0; x < sizeof xors; x++) {
            memcpy(copy, raw, len);
            copy[i] ^= xors[x];
            assay_error err = {0};
            assay_mfile *f = NULL;
            int rc = assay_mfile_load_buffer(copy, len, "flip.st", &f, &err);
            if (rc == ASSAY_OK) {
                loaded++;
                /* whatever loaded is internally consistent */
                for (int t = 0; t < assay_mfile_tensor_count(f); t++) {
                    const assay_tensor *tt = assay_mfile_tensor(f, assay_mfile_tensor_name(f, t));
                    odd += tt == NULL || assay_tensor_numel(tt) < 0;
                }
                assay_mfile_free(f);
            } else {
                failed++;
                odd += rc >= 0 || f != NULL || strncmp(err.msg, "flip.st: ", 9) != 0 ||
                       (rc != ASSAY_EFORMAT && rc != ASSAY_EVERSION);
                if (odd == 1 && rc != ASSAY_EFORMAT && rc != ASSAY_EVERSION)
                    fprintf(stderr, "byte %zu ^ %02x: %d %s\n", i, xors[x], rc, err.msg);
            }
        }
    }
    free(copy);
    CHECK(odd == 0);
    CHECK(failed > 0);
    printf("header flips: %d loaded, %d rejected\n", loaded, failed);
    free(raw);
}

/* ---- writer arguments, atomic saves ------------------------------------------------------ */

static void test_writer_args(void) {
    assay_error err = {0};
    assay_mfile_writer *w = assay_mfile_writer_new();
    float x[2] = {1, 2};
    int64_t s1[1] = {2}, neg[1] = {-2};
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = '\0';
    CHECK(assay_mfile_writer_add(w, "", ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, NULL, ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, longname, ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    longname[255] = '\0';
    CHECK_OK(assay_mfile_writer_add(w, longname, ASSAY_F32, 1, s1, x, &err), &err);
    CHECK(assay_mfile_writer_add(w, "a\nb", ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, "a\x7f", ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, "a\xff", ASSAY_F32, 1, s1, x, &err) == ASSAY_EUTF8);
    CHECK(assay_mfile_writer_add(w, "__metadata__", ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK_OK(assay_mfile_writer_add(w, "x", ASSAY_F32, 1, s1, x, &err), &err);
    CHECK(assay_mfile_writer_add(w, "x", ASSAY_F32, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK_MSG(strstr(err.msg, "duplicate") && strstr(err.msg, "'x'"), "%s", err.msg);
    CHECK(assay_mfile_writer_add(w, "y", ASSAY_F32, 5, s1, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, "y", ASSAY_F32, 1, neg, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, "y", (assay_dtype)7, 1, s1, x, &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_add(w, "y", ASSAY_F32, 1, s1, NULL, &err) == ASSAY_EINVAL);
    CHECK_OK(assay_mfile_writer_add(w, "caf\xc3\xa9", ASSAY_F32, 1, s1, x, &err), &err);
    CHECK(assay_mfile_writer_meta(w, "assay.format", "7", &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_meta(w, "", "v", &err) == ASSAY_EINVAL);
    CHECK(assay_mfile_writer_meta(w, "k", "\xc3", &err) == ASSAY_EUTF8);
    CHECK(assay_mfile_writer_meta(w, "k", "\xed\xa0\x80", &err) == ASSAY_EUTF8); /* surrogate */
    CHECK_OK(assay_mfile_writer_meta(w, "k", "\xf0\x9f\x98\x80", &err), &err);
    char path[512];
    path_in(path, sizeof path, "args.st");
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile_writer_free(w);
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    CHECK(assay_mfile_tensor_count(f) == 3);
    CHECK(assay_mfile_tensor(f, "caf\xc3\xa9") != NULL && assay_mfile_tensor(f, longname) != NULL);
    CHECK_STR(assay_mfile_meta(f, "k"), "\xf0\x9f\x98\x80");
    assay_mfile_free(f);
    unlink(path);
    assay_mfile_writer_free(NULL);
}

static void test_atomic_save(void) {
    assay_error err = {0};
    char path[512], missing[512], sub[512];
    path_in(path, sizeof path, "model.st");
    path_in(missing, sizeof missing, "no/such/dir/model.st");
    assay_mfile_writer *w = make_writer(1, &err);
    if (!w) return;

    /* a directory that does not exist: error names the path, nothing left behind */
    CHECK(assay_mfile_writer_save(w, missing, &err) == ASSAY_EIO);
    CHECK_MSG(strstr(err.msg, missing) == err.msg && strstr(err.msg, strerror(ENOENT)), "%s",
              err.msg);
    CHECK(count_tmp_files(g_dir) == 0);

    /* the rename fails (PATH is a directory): the temporary file is removed, PATH untouched */
    path_in(sub, sizeof sub, "adir");
    CHECK(mkdir(sub, 0755) == 0);
    CHECK(assay_mfile_writer_save(w, sub, &err) == ASSAY_EIO);
    CHECK_MSG(strstr(err.msg, sub) == err.msg, "%s", err.msg);
    CHECK(count_tmp_files(g_dir) == 0);
    struct stat st;
    CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
    rmdir(sub);

    /* a read-only directory */
    if (geteuid() != 0) {
        path_in(sub, sizeof sub, "ro");
        mkdir(sub, 0555);
        char p2[600];
        snprintf(p2, sizeof p2, "%s/m.st", sub);
        CHECK(assay_mfile_writer_save(w, p2, &err) == ASSAY_EIO);
        CHECK(count_tmp_files(sub) == 0);
        rmdir(sub);
    }

    /* saving over an existing file replaces it */
    assay_mfile *f = NULL;
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    CHECK(f && strcmp(assay_mfile_meta(f, "model.kind"), "logistic") == 0);
    assay_mfile_free(f);
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    CHECK_OK(assay_mfile_load(path, &f, &err), &err);
    if (f) check_contents(f, 1);
    assay_mfile_free(f);
    CHECK(count_tmp_files(g_dir) == 0);
    assay_mfile_writer_free(w);

    /* a relative path (directory ".") works too */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(g_dir) == 0);
    w = make_writer(0, &err);
    CHECK_OK(assay_mfile_writer_save(w, "rel.st", &err), &err);
    assay_mfile_writer_free(w);
    CHECK_OK(assay_mfile_load("rel.st", &f, &err), &err);
    assay_mfile_free(f);
    unlink("rel.st");
    CHECK(chdir(cwd) == 0);

    /* loading what is not there */
    CHECK(assay_mfile_load(missing, &f, &err) == ASSAY_ENOTFOUND && f == NULL);
    CHECK_MSG(strstr(err.msg, missing) == err.msg, "%s", err.msg);
    CHECK(assay_mfile_load(g_dir, &f, &err) == ASSAY_EIO && f == NULL);
    CHECK_MSG(strstr(err.msg, g_dir) == err.msg, "%s", err.msg);

    /* restore variant 0 for the tests that follow */
    w = make_writer(0, &err);
    CHECK_OK(assay_mfile_writer_save(w, path, &err), &err);
    assay_mfile_writer_free(w);
}

/* Fail every allocation of load, load_buffer and build+save in turn. */
static void test_alloc_failures(void) {
    char path[512];
    path_in(path, sizeof path, "model.st");
    size_t len;
    unsigned char *raw = read_whole(path, &len);
    if (!raw) return;
    int nonmem = 0, steps_load = 0, steps_buf = 0, steps_save = 0;
    for (uint64_t k = 1; k < 10000; k++) {
        assay_error err = {0};
        assay_mfile *f = NULL;
        assay_alloc_fail_after(k);
        int rc = assay_mfile_load(path, &f, &err);
        assay_alloc_fail_after(0);
        if (rc == ASSAY_OK) {
            check_contents(f, 0);
            assay_mfile_free(f);
            steps_load = (int)k;
            break;
        }
        if (rc != ASSAY_ENOMEM || f != NULL || strncmp(err.msg, path, strlen(path)) != 0) {
            if (!nonmem++) fprintf(stderr, "load, allocation %llu: %d %s\n", (unsigned long long)k, rc, err.msg);
        }
    }
    for (uint64_t k = 1; k < 10000; k++) {
        assay_error err = {0};
        assay_mfile *f = NULL;
        assay_alloc_fail_after(k);
        int rc = assay_mfile_load_buffer(raw, len, "mem", &f, &err);
        assay_alloc_fail_after(0);
        if (rc == ASSAY_OK) {
            assay_mfile_free(f);
            steps_buf = (int)k;
            break;
        }
        if (rc != ASSAY_ENOMEM || f != NULL) {
            if (!nonmem++) fprintf(stderr, "load_buffer, allocation %llu: %d %s\n", (unsigned long long)k, rc, err.msg);
        }
    }
    for (uint64_t k = 1; k < 10000; k++) {
        assay_error err = {0};
        assay_alloc_fail_after(k);
        assay_mfile_writer *w = make_writer(1, &err);
        int rc = w ? assay_mfile_writer_save(w, path, &err) : err.code;
        assay_mfile_writer_free(w);
        assay_alloc_fail_after(0);
        if (rc == ASSAY_OK) {
            steps_save = (int)k;
            break;
        }
        if (rc != ASSAY_ENOMEM) {
            if (!nonmem++) fprintf(stderr, "save, allocation %llu: %d %s\n", (unsigned long long)k, rc, err.msg);
        }
        /* the old file is intact and no temporary file is left */
        assay_mfile *f = NULL;
        int lrc = assay_mfile_load(path, &f, &err);
        CHECK_MSG(lrc == ASSAY_OK, "after failed save %llu: %s", (unsigned long long)k, err.msg);
        if (f && k < 3) check_contents(f, 0);
        assay_mfile_free(f);
        nonmem += count_tmp_files(g_dir) != 0;
    }
    CHECK(nonmem == 0);
    CHECK(steps_load > 5 && steps_buf > 5 && steps_save > 5);
    printf("allocation failures: load %d, load_buffer %d, save %d steps, all ENOMEM\n",
           steps_load - 1, steps_buf - 1, steps_save - 1);
    free(raw);
}

static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

int main(void) {
    /* jansson allocates through assay's hooks, so the failure tests reach the JSON parser */
    json_set_alloc_funcs(assay_malloc, assay_free);
    g_special[0] = NAN;
    g_special[1] = -INFINITY;
    g_special[2] = -0.0f;
    if (!mkdtemp(g_dir)) {
        perror(g_dir);
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_layout);
    RUN(test_numpy_fixture);
    RUN(test_corruptions);
    RUN(test_truncate_and_flip);
    RUN(test_writer_args);
    RUN(test_atomic_save);
    RUN(test_alloc_failures);
    rm_tree(g_dir);
    return check_summary();
}
