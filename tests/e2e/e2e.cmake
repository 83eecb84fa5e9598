# End-to-end tests: assay_e2e_test(NAME SCRIPT)
