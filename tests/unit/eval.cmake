# Unit tests of the eval module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_metrics assay_eval tests/unit/test_metrics.c)
