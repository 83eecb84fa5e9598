# Unit tests of the data module: assay_unit_test(NAME LIBRARY SOURCES...)
