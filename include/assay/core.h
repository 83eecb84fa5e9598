/* core.h - errors, allocation hooks, RNG, threads, progress bars, hashing.
 *
 * Everything here is small and dependency-free; every other module builds on it.
 * The library never prints (except the progress bar, which the application switches on) and
 * keeps no global error state: every fallible call fills a caller-owned assay_error. */
#ifndef ASSAY_CORE_H
#define ASSAY_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASSAY_VERSION_STRING "0.1.0"

/* ---- errors ------------------------------------------------------------------------------ */

/* X(name, value, description): the one table of error codes. */
#define ASSAY_ERROR_TABLE(X)                                          \
    X(ASSAY_OK, 0, "success")                                         \
    X(ASSAY_ENOMEM, -1, "out of memory")                              \
    X(ASSAY_EIO, -2, "input/output error")                            \
    X(ASSAY_EPARSE, -3, "malformed input")                            \
    X(ASSAY_EINVAL, -4, "invalid argument")                           \
    X(ASSAY_ESCHEMA, -5, "data does not match the expected schema")  \
    X(ASSAY_EFORMAT, -6, "invalid or corrupt model file")             \
    X(ASSAY_EVERSION, -7, "unsupported format version")               \
    X(ASSAY_ENOTFOUND, -8, "not found")                               \
    X(ASSAY_ESTORE, -9, "store error")                                \
    X(ASSAY_EUTF8, -10, "invalid UTF-8")                              \
    X(ASSAY_ENOTSUP, -11, "not supported")                            \
    X(ASSAY_ECONVERGE, -12, "did not converge")                       \
    X(ASSAY_EINTERNAL, -13, "internal error")

enum assay_code {
#define ASSAY_X_ENUM(name, value, desc) name = value,
    ASSAY_ERROR_TABLE(ASSAY_X_ENUM)
#undef ASSAY_X_ENUM
};

typedef struct assay_error {
    int code;
    char msg[256];
} assay_error;

/* Description of an error code ("out of memory"); never NULL. */
const char *assay_strerror(int code);

/* Fill err (may be NULL) with code and a printf-style message; returns code. */
int assay_error_set(assay_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing message: "ctx: old message". Returns err->code (or ASSAY_EINTERNAL). */
int assay_error_prefix(assay_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void assay_error_clear(assay_error *err);

/* ---- allocation hooks -------------------------------------------------------------------- */

typedef struct assay_allocator {
    void *(*malloc_fn)(size_t size, void *ud);
    void *(*realloc_fn)(void *ptr, size_t size, void *ud);
    void (*free_fn)(void *ptr, void *ud);
    void *ud;
} assay_allocator;

/* Replace the allocator (NULL restores libc). Not thread-safe: call before other work. */
void assay_set_allocator(const assay_allocator *a);

void *assay_malloc(size_t size);
void *assay_calloc(size_t n, size_t size);         /* overflow-checked, zeroed */
void *assay_realloc(void *ptr, size_t size);
void *assay_mallocarray(size_t n, size_t size);    /* overflow-checked */
void *assay_reallocarray(void *ptr, size_t n, size_t size);
void assay_free(void *ptr);                        /* NULL is a no-op */
char *assay_strdup(const char *s);
char *assay_strndup(const char *s, size_t n);

/* Test hook: make the k-th allocation from now on fail (k >= 1); 0 disables. Returns how many
 * allocations were made since the last call (lets a test count the allocations of a call). */
uint64_t assay_alloc_fail_after(uint64_t k);

/* ---- growable byte buffer ---------------------------------------------------------------- */

typedef struct assay_buf {
    char *data;
    size_t len, cap;
} assay_buf;

int assay_buf_reserve(assay_buf *b, size_t extra);
int assay_buf_append(assay_buf *b, const void *p, size_t n);
int assay_buf_printf(assay_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void assay_buf_deinit(assay_buf *b);

/* ---- random numbers (xoshiro256**, seeded through splitmix64) ---------------------------- */

typedef struct assay_rng {
    uint64_t s[4];
} assay_rng;

void assay_rng_seed(assay_rng *r, uint64_t seed);
uint64_t assay_rng_next(assay_rng *r);
double assay_rng_uniform(assay_rng *r);            /* [0, 1) with 53 random bits */
uint64_t assay_rng_below(assay_rng *r, uint64_t n); /* uniform in [0, n), unbiased; n > 0 */
double assay_rng_normal(assay_rng *r);             /* standard normal */
void assay_rng_shuffle_i64(assay_rng *r, int64_t *a, int64_t n); /* Fisher-Yates */

/* ---- threads ----------------------------------------------------------------------------- */

/* Set the number of OpenMP threads (n <= 0: all cores). */
void assay_threads_set(int n);
int assay_threads_get(void);

/* ---- progress bar ------------------------------------------------------------------------ */

/* The application enables the bar (the CLI does when stderr is a terminal). When disabled,
 * every call below is a cheap no-op, so library code may report progress unconditionally.
 * Only the thread that began a bar may update it. */
void assay_progress_enable(int on);
int assay_progress_enabled(void);

typedef struct assay_progress {
    char label[48];
    uint64_t total, done;
    double t_start, t_last;
    int active;
} assay_progress;

void assay_progress_begin(assay_progress *p, const char *label, uint64_t total);
/* done = items so far; info = short extra text ("loss 0.3412") or NULL. Redraws at most 10x/s. */
void assay_progress_update(assay_progress *p, uint64_t done, const char *info);
void assay_progress_end(assay_progress *p);

/* ---- time and hashing -------------------------------------------------------------------- */

double assay_now(void);                            /* monotonic seconds */
uint64_t assay_hash64(const void *p, size_t n, uint64_t seed); /* FNV-1a 64-bit, seedable */
/* Hex fingerprint (16 chars + NUL) of a file's bytes. */
int assay_fingerprint_file(const char *path, char out[17], assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
