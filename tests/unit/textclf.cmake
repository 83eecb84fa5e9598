# Unit tests of the fastText-style classifier and the fastText format: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_textclf assay_models tests/unit/test_textclf.c)
assay_unit_test(test_fasttext_format assay_data tests/unit/test_fasttext_format.c)
