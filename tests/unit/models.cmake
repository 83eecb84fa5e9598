# Unit tests of the models module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_params assay_models tests/unit/test_params.c)
assay_unit_test(test_logreg assay_models tests/unit/test_logreg.c)
assay_unit_test(test_linear assay_models tests/unit/test_linear.c)
