/* est_data.h - the design of an estimator fixture (tests/parity/gen/gen_estimators.py): X as
 * float32 rows, y, optional sample weights w. Shared by the estimator tests. */
#ifndef ASSAY_TEST_EST_DATA_H
#define ASSAY_TEST_EST_DATA_H

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct data {
    int64_t n, d;
    float *X;
    double *y, *w;
} data;

static inline void data_free(data *D) {
    free(D->X);
    free(D->y);
    free(D->w);
}

static inline data data_from_json(const json_t *c) {
    data D = {0};
    const json_t *X = json_object_get(c, "X"), *y = json_object_get(c, "y"),
                 *w = json_object_get(c, "w");
    D.n = (int64_t)json_array_size(X);
    D.d = (int64_t)json_array_size(json_array_get(X, 0));
    D.X = malloc(sizeof(float) * (size_t)(D.n * D.d));
    D.y = malloc(sizeof(double) * (size_t)D.n);
    for (int64_t i = 0; i < D.n; i++) {
        for (int64_t j = 0; j < D.d; j++)
            D.X[i * D.d + j] = (float)json_number_value(json_array_get(json_array_get(X, i), j));
        D.y[i] = json_number_value(json_array_get(y, i));
    }
    if (json_is_array(w)) {
        D.w = malloc(sizeof(double) * (size_t)D.n);
        for (int64_t i = 0; i < D.n; i++) D.w[i] = json_number_value(json_array_get(w, i));
    }
    return D;
}

#endif
