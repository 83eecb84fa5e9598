# Unit tests of the core module: assay_unit_test(NAME LIBRARY SOURCES...)
