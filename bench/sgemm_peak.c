/* sgemm_peak.c [THREADS] - the machine's measured cblas_sgemm peak: the best of several square
 * single-precision products (512 to 4096) through OpenBLAS with THREADS threads (default 2).
 * Prints "GFLOPS". bench_nn.sh reports the networks' throughput against it. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "assay/assay.h"

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 256) threads = 2;
    openblas_set_num_threads(threads);
    const int sizes[] = {512, 1024, 2048, 4096};
    double best = 0;
    for (int si = 0; si < 4; si++) {
        const int n = sizes[si];
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
              *c = malloc(sizeof(float) * n * n);
        if (!a || !b || !c) return 1;
        for (long i = 0; i < (long)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.2f;
        for (int r = 0; r < (n > 2048 ? 3 : 7); r++) {
            double t = assay_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double g = 2.0 * n * n * (double)n / (assay_now() - t) / 1e9;
            if (g > best) best = g;
        }
        free(a), free(b), free(c);
    }
    printf("%.1f\n", best);
    return 0;
}
