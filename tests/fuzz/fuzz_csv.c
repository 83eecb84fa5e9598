/* fuzz_csv.c - libFuzzer target for the table readers: CSV, or JSON Lines when the first byte
 * is odd (that byte is dropped). Every input must give a table or a clean error, never a crash,
 * a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include "assay/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    assay_table *t = NULL;
    assay_error err;
    if (size > 0 && (data[0] & 1))
        assay_table_read_jsonl_buffer((const char *)data + 1, size - 1, "fuzz.jsonl", NULL, &t, &err);
    else
        assay_table_read_csv_buffer((const char *)data, size, "fuzz.csv", NULL, &t, &err);
    if (t) {
        char buf[64];
        for (int c = 0; c < t->ncols; c++)
            for (int64_t r = 0; r < t->nrows && r < 4; r++) assay_table_cell_str(t, c, r, buf, sizeof buf);
        char fp[17];
        assay_table_fingerprint(t, fp);
    }
    assay_table_free(t);
    return 0;
}
