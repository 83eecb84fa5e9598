/* bench_csv.c FILE [REPS] - median seconds for assay_table_read_csv on FILE (type inference
 * included). Prints "SECONDS ROWS COLUMNS". Used by bench_fit.sh for CSV read throughput. */
#include <stdio.h>
#include <stdlib.h>

#include "assay/assay.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_csv FILE [REPS]\n");
        return 1;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    if (reps < 1 || reps > 100) reps = 3;
    double t[100];
    int64_t rows = 0;
    int cols = 0;
    for (int r = 0; r < reps; r++) {
        assay_table *tab = NULL;
        assay_error err = {0};
        double t0 = assay_now();
        if (assay_table_read_csv(argv[1], NULL, &tab, &err)) {
            fprintf(stderr, "bench_csv: %s\n", err.msg);
            return 1;
        }
        t[r] = assay_now() - t0;
        rows = tab->nrows;
        cols = tab->ncols;
        assay_table_free(tab);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("%.4f %lld %d\n", t[reps / 2], (long long)rows, cols);
    return 0;
}
