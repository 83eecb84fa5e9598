# Unit tests of the prep module: assay_unit_test(NAME LIBRARY SOURCES...)
