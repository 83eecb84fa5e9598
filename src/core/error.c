/* error.c - error codes, messages and the growable byte buffer.
 * Messages are truncated to fit assay_error.msg; nothing here allocates except assay_buf. */
#include <stdarg.h>
#include <stdio.h>

#include "../internal.h"

const char *assay_strerror(int code) {
    switch (code) {
#define ASSAY_X_CASE(name, value, desc) \
    case value:                         \
        return desc;
        ASSAY_ERROR_TABLE(ASSAY_X_CASE)
#undef ASSAY_X_CASE
    default:
        return "unknown error";
    }
}

int assay_error_set(assay_error *err, int code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int assay_error_prefix(assay_error *err, const char *fmt, ...) {
    if (!err) return ASSAY_EINTERNAL;
    char head[256], old[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    snprintf(err->msg, sizeof err->msg, "%s: %s", head, old);
    return err->code ? err->code : ASSAY_EINTERNAL;
}

void assay_error_clear(assay_error *err) {
    if (err) {
        err->code = ASSAY_OK;
        err->msg[0] = '\0';
    }
}

int assay_buf_reserve(assay_buf *b, size_t extra) {
    /* overflow check first: len + extra + 1 must not wrap before it is compared */
    if (extra > SIZE_MAX / 2 - b->len) return ASSAY_ENOMEM;
    if (b->len + extra + 1 <= b->cap) return ASSAY_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = assay_realloc(b->data, cap);
    if (!p) return ASSAY_ENOMEM;
    b->data = p;
    b->cap = cap;
    return ASSAY_OK;
}

int assay_buf_append(assay_buf *b, const void *p, size_t n) {
    if (assay_buf_reserve(b, n)) return ASSAY_ENOMEM;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ASSAY_OK;
}

int assay_buf_printf(assay_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return ASSAY_EINVAL;
    if ((size_t)n < sizeof small) return assay_buf_append(b, small, (size_t)n);
    if (assay_buf_reserve(b, (size_t)n)) return ASSAY_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ASSAY_OK;
}

void assay_buf_deinit(assay_buf *b) {
    assay_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
