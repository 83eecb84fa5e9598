/* threads.c - the OpenMP thread count. Only sets and reads omp's global setting; it does not
 * create threads or pin them. */
#include <omp.h>

#include "../internal.h"

void assay_threads_set(int n) {
    if (n <= 0) n = omp_get_num_procs();
    if (n < 1) n = 1;
    omp_set_num_threads(n);
}

int assay_threads_get(void) { return omp_get_max_threads(); }
