/* fuzz_model.c - libFuzzer target: a whole model file (safetensors header, assay metadata,
 * pipeline JSON, estimator tensors) must load or be refused cleanly, never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "assay/assay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    assay_model *m = NULL;
    assay_error err;
    if (assay_model_load_buffer(data, size, "fuzz", &m, &err) == ASSAY_OK) assay_model_free(m);
    return 0;
}
