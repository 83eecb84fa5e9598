# Unit tests of the core module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_core assay_core tests/unit/test_core.c)
assay_unit_test(test_mfile assay_core tests/unit/test_mfile.c)
