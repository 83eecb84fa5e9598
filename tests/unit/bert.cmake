# Unit and parity tests of the BERT encoder (nn: bert): assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_bert assay_models tests/unit/test_bert.c)
