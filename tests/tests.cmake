# Test registration. Each module's unit tests are listed in tests/unit/<module>.cmake.
# ctest runs tests side by side (-j nproc) while each test's OpenMP regions also use every core:
# libgomp's default spin-waiting at barriers then burns the time slices the other test's threads
# need (a small MLP ran 3-4x slower beside one busy process). Tests therefore wait passively.
set(ASSAY_TEST_ENV "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=passive")

# assay_unit_test(NAME LIB SOURCES...) builds tests/unit sources against one module library
# (assay_core, assay_data, ..., or assay for everything) and registers the test.
function(assay_unit_test name lib)
  add_executable(${name} ${ARGN})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests/unit)
  target_compile_definitions(${name} PRIVATE ASSAY_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_link_libraries(${name} PRIVATE ${lib})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300
                       ENVIRONMENT "${ASSAY_TEST_ENV}")
endfunction()

# assay_e2e_test(NAME SCRIPT): a shell script run with the assay binary and the source dir.
function(assay_e2e_test name script)
  add_test(NAME ${name}
           COMMAND bash ${CMAKE_SOURCE_DIR}/${script} $<TARGET_FILE:assay_cli> ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS e2e TIMEOUT 600
                       ENVIRONMENT "${ASSAY_TEST_ENV}")
endfunction()

include(tests/unit/core.cmake)
include(tests/unit/data.cmake)
include(tests/unit/prep.cmake)
include(tests/unit/text.cmake)
include(tests/unit/wordpiece.cmake)
include(tests/unit/bert.cmake)
include(tests/unit/bert_mlm.cmake)
include(tests/unit/nn.cmake)
include(tests/unit/models.cmake)
include(tests/unit/textclf.cmake)
include(tests/unit/eval.cmake)
include(tests/unit/store.cmake)
include(tests/unit/serve.cmake)
include(tests/unit/lead.cmake)
include(tests/e2e/e2e.cmake)
