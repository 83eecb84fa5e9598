# Unit tests of the eval module: assay_unit_test(NAME LIBRARY SOURCES...)
