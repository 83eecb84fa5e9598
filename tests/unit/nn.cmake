# Unit tests of the nn module: assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_nn_layers assay_nn tests/unit/test_nn_layers.c)
assay_unit_test(test_nn_norm assay_nn tests/unit/test_nn_norm.c)
assay_unit_test(test_nn_optim assay_nn tests/unit/test_nn_optim.c)
assay_unit_test(test_nn_net assay_nn tests/unit/test_nn_net.c)
assay_unit_test(test_nn_gemm assay_nn tests/unit/test_nn_gemm.c)
# the same tests with oneDNN held to AVX2: the branch for CPUs without native bf16 runs on
# every machine
add_test(NAME test_nn_gemm_no_bf16 COMMAND test_nn_gemm)
set_tests_properties(test_nn_gemm_no_bf16 PROPERTIES LABELS unit TIMEOUT 300
                     ENVIRONMENT "${ASSAY_TEST_ENV};ONEDNN_MAX_CPU_ISA=AVX2")
