/* path.c - where the store lives when no path is given. */
#include <stdlib.h>

#include "../internal.h"

const char *assay_store_default_path(void) {
    const char *env = getenv("ASSAY_DB");
    return env && *env ? env : "assay.db";
}
