# Unit tests of the BERT tokenizer (prep: wordpiece): assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_wordpiece assay_prep tests/unit/test_wordpiece.c)
