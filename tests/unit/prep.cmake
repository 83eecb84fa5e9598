# Unit tests of the prep module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_prep assay_prep tests/unit/test_prep.c)
# The same module on real data through the CSV reader (needs the data module's reader).
assay_unit_test(test_prep_csv assay_prep tests/unit/test_prep_csv.c)
