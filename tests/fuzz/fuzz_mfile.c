/* fuzz_mfile.c - libFuzzer target for the model file loader (assay_mfile_load_buffer).
 * Any input must either load or fail with a clean error; a loaded file's tensors are read end to
 * end so that ASan sees any view that points outside its storage. It does not fuzz the writer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "assay/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    assay_error err = {0};
    assay_mfile *f = NULL;
    int rc = assay_mfile_load_buffer(data, size, "fuzz", &f, &err);
    if (rc == ASSAY_OK) {
        volatile uint8_t sink = 0;
        for (int i = 0; i < assay_mfile_tensor_count(f); i++) {
            const char *name = assay_mfile_tensor_name(f, i);
            const assay_tensor *t = assay_mfile_tensor(f, name);
            if (!t || assay_tensor_numel(t) < 0) __builtin_trap();
            size_t nb = (size_t)assay_tensor_numel(t) * assay_dtype_size(t->dtype);
            const uint8_t *p = t->data;
            for (size_t k = 0; k < nb; k++) sink ^= p[k];
        }
        (void)assay_mfile_meta(f, "assay.format");
        assay_mfile_free(f);
        (void)sink;
    } else if (f != NULL || strncmp(err.msg, "fuzz: ", 6) != 0) {
        __builtin_trap(); /* a failure must leave no object and name the input */
    }
    return 0;
}
