/* fixture.h - read a parity fixture (tests/parity/fixtures/NAME, JSON written by the scripts in
 * tests/parity/gen/) for the unit tests; prints where a malformed file breaks. */
#ifndef ASSAY_TEST_FIXTURE_H
#define ASSAY_TEST_FIXTURE_H

#include <jansson.h>
#include <stdio.h>

static inline json_t *fixture(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/%s", ASSAY_SOURCE_DIR, name);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) fprintf(stderr, "%s:%d: %s\n", path, je.line, je.text);
    return doc;
}

#endif
