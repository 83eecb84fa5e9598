/* alloc.c - replaceable allocation hooks and the fail-the-k-th-allocation test hook.
 * Every allocation in libassay goes through here. The counters are atomic so the hooks stay
 * correct under OpenMP; the allocator itself must be set before any threads start. */
#include <stdlib.h>

#include "../internal.h"

static assay_allocator g_alloc;   /* all NULL: libc */
static _Atomic uint64_t g_count;  /* allocations since the last assay_alloc_fail_after */
static _Atomic uint64_t g_fail_at; /* 0: never fail */

void assay_set_allocator(const assay_allocator *a) {
    if (a) g_alloc = *a;
    else memset(&g_alloc, 0, sizeof g_alloc);
}

uint64_t assay_alloc_fail_after(uint64_t k) {
    uint64_t n = g_count;
    g_count = 0;
    g_fail_at = k;
    return n;
}

static int should_fail(void) {
    uint64_t n = ++g_count;
    uint64_t k = g_fail_at;
    return k != 0 && n >= k;
}

void *assay_malloc(size_t size) {
    if (should_fail()) return NULL;
    if (size == 0) size = 1;
    return g_alloc.malloc_fn ? g_alloc.malloc_fn(size, g_alloc.ud) : malloc(size);
}

void *assay_realloc(void *ptr, size_t size) {
    if (should_fail()) return NULL;
    if (size == 0) size = 1;
    return g_alloc.realloc_fn ? g_alloc.realloc_fn(ptr, size, g_alloc.ud) : realloc(ptr, size);
}

void assay_free(void *ptr) {
    if (!ptr) return;
    if (g_alloc.free_fn) g_alloc.free_fn(ptr, g_alloc.ud);
    else free(ptr);
}

void *assay_mallocarray(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    return assay_malloc(n * size);
}

void *assay_reallocarray(void *ptr, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    return assay_realloc(ptr, n * size);
}

/* libc's calloc when no allocator is set: large blocks come zeroed from the OS, lazily, instead of
 * being written once here (measured: 20% of a text classifier's run zeroing an 800 MB table that
 * its initialisation overwrote). */
void *assay_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    if (!g_alloc.malloc_fn) {
        if (should_fail()) return NULL;
        return calloc(n ? n : 1, size ? size : 1);
    }
    void *p = assay_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

char *assay_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *p = assay_malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *assay_strdup(const char *s) { return assay_strndup(s, SIZE_MAX); }
