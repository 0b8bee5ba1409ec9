# Dynamics 365 building blocks (services/ticket/crm, issue 13), label `ticket`:
#  - test_crm_dyn_request / _parse / _fields / test_crm_odata_batch: pure, no I/O.
#  - test_crm_dyn_emulator: the token cache, $batch and the requests against
#    the Dynamics emulator (tests/emulators/dynamics), which with_emulator.py
#    starts on port 0 around the test.
#  - fuzz_odata_batch (CALLBUS_FUZZ with clang): the $batch response decoder.
foreach(t crm_dyn_request crm_dyn_parse crm_odata_batch)
  callbus_test(test_${t} ticket ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE ticket_crm)
endforeach()
# test_crm_dyn_fields: the incident's columns and typed custom-field writes
# (R-T9, issue 23 item 1), with the core's missing-field check: pure.
callbus_test(test_crm_dyn_fields ticket ${CMAKE_CURRENT_LIST_DIR}/test_crm_dyn_fields.c)
target_link_libraries(test_crm_dyn_fields PRIVATE ticket_crm ticket_core)
# test_crm_dyn_markers: the call markers (R-M1, R-M3) as a text column of the
# incident, merged as Zendesk's additional tags (issue 23 item 3): pure.
callbus_test(test_crm_dyn_markers ticket ${CMAKE_CURRENT_LIST_DIR}/test_crm_dyn_markers.c)
target_link_libraries(test_crm_dyn_markers PRIVATE ticket_crm)

get_filename_component(_dyn_emulator_dir ${CMAKE_CURRENT_LIST_DIR}/../../emulators/dynamics ABSOLUTE)
add_executable(test_crm_dyn_emulator ${CMAKE_CURRENT_LIST_DIR}/test_crm_dyn_emulator.c)
target_include_directories(test_crm_dyn_emulator PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_crm_dyn_emulator PRIVATE ticket_crm)
add_test(NAME test_crm_dyn_emulator
  COMMAND python3 ${_dyn_emulator_dir}/with_emulator.py $<TARGET_FILE:test_crm_dyn_emulator>)
set_tests_properties(test_crm_dyn_emulator PROPERTIES LABELS ticket TIMEOUT 120)

if(CALLBUS_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  # The decoder alone, instrumented (the library itself stays uninstrumented).
  set(_corpus ${CMAKE_CURRENT_BINARY_DIR}/corpus_odata_batch)
  file(MAKE_DIRECTORY ${_corpus})
  file(GLOB _seeds ${CMAKE_CURRENT_LIST_DIR}/fixtures/odata_batch_*)
  file(COPY ${_seeds} DESTINATION ${_corpus})
  add_executable(fuzz_odata_batch ${CMAKE_CURRENT_LIST_DIR}/fuzz_odata_batch.c
    ${CMAKE_SOURCE_DIR}/services/ticket/crm/crm_odata_batch.c)
  target_include_directories(fuzz_odata_batch PRIVATE ${CMAKE_SOURCE_DIR}/services/ticket/crm)
  target_compile_options(fuzz_odata_batch PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
  target_link_options(fuzz_odata_batch PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME fuzz_odata_batch COMMAND fuzz_odata_batch -max_total_time=10 -seed=1 ${_corpus})
  set_tests_properties(fuzz_odata_batch PROPERTIES LABELS ticket TIMEOUT 120)
endif()

# The adapter itself (crm_dyn.c) against the emulator: every op through the layer.
add_executable(test_crm_dyn ${CMAKE_CURRENT_LIST_DIR}/test_crm_dyn.c)
target_include_directories(test_crm_dyn PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_crm_dyn PRIVATE ticket_crm)
add_test(NAME test_crm_dyn
  COMMAND python3 ${_dyn_emulator_dir}/with_emulator.py $<TARGET_FILE:test_crm_dyn>)
set_tests_properties(test_crm_dyn PROPERTIES LABELS ticket TIMEOUT 120)
