# Unit tests of the store module: assay_unit_test(NAME LIBRARY SOURCES...)
