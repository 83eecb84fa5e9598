# Unit tests of the store module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_store assay_store tests/unit/test_store.c)
