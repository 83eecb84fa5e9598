/* main.c - the assay command-line tool: dispatch from a table of commands. */
#include <stdio.h>
#include <string.h>

#include "assay/assay.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("assay %s\n", ASSAY_VERSION_STRING);
        return 0;
    }
    fprintf(stderr, "usage: assay <command> [options]\n");
    return 1;
}
