# Cross-module tests: the whole library against scikit-learn.
assay_unit_test(test_pipeline_parity assay tests/unit/test_pipeline_parity.c)
