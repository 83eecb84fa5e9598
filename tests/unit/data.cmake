# Unit tests of the data module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_csv assay_data tests/unit/test_csv.c)
assay_unit_test(test_jsonl assay_data tests/unit/test_jsonl.c)
assay_unit_test(test_split assay_data tests/unit/test_split.c)
