/* hash.c - monotonic time, FNV-1a 64-bit hashing and file fingerprints.
 * FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/) is for fingerprints and hash tables, not
 * for security: it is not collision-resistant against an adversary. */
#include <errno.h>
#include <time.h>

#include "../internal.h"

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

double assay_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV64_PRIME;
    }
    return h;
}

/* seed 0 gives the standard FNV-1a 64 value; any other seed perturbs the offset basis */
uint64_t assay_hash64(const void *p, size_t n, uint64_t seed) {
    return fnv1a(FNV64_OFFSET ^ seed, p, n);
}

int assay_fingerprint_file(const char *path, char out[17], assay_error *err) {
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return assay_error_set(err, errno == ENOENT ? ASSAY_ENOTFOUND : ASSAY_EIO, "%s: %s", path,
                               strerror(errno));
    unsigned char chunk[1 << 16];
    uint64_t h = FNV64_OFFSET;
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) h = fnv1a(h, chunk, got);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        return assay_error_set(err, ASSAY_EIO, "%s: read failed: %s", path, strerror(e));
    }
    fclose(f);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return ASSAY_OK;
}
