# Unit tests of the models module: assay_unit_test(NAME LIBRARY SOURCES...)
