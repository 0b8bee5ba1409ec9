# Tests of the Zendesk adapter (label `ticket`), included from
# tests/ticket/unit/CMakeLists.txt; needs the ticket_crm library
# (services/ticket/crm/CMakeLists.txt).
#  - test_ratelimit: the limiter on a fake clock (no network).
#  - test_zendesk: every adapter operation against the Zendesk emulator
#    (tests/emulators/zendesk, started as a child process on port 0), then the
#    emulator's request log checked against Zendesk's OpenAPI document
#    (needs python3 with PyYAML and openapi-core, as tests/emulators/zendesk does).
callbus_test(test_ratelimit ticket ${CMAKE_CURRENT_LIST_DIR}/test_ratelimit.c)
target_include_directories(test_ratelimit PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_ratelimit PRIVATE ticket_crm)

# python3 from PATH: the interpreter deps.sh installed the test modules into.
set(_zd_python python3)
callbus_test(test_zendesk ticket ${CMAKE_CURRENT_LIST_DIR}/test_zendesk.c)
target_include_directories(test_zendesk PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_zendesk PRIVATE ticket_crm)
get_filename_component(_zd_emulator_dir ${CMAKE_CURRENT_LIST_DIR}/../../emulators/zendesk ABSOLUTE)
target_compile_definitions(test_zendesk PRIVATE
  ZD_PYTHON="${_zd_python}"
  ZD_EMULATOR_DIR="${_zd_emulator_dir}"
  ZD_OAS_SCRIPT="${CMAKE_CURRENT_LIST_DIR}/oas_validate_log.py")
set_tests_properties(test_zendesk PROPERTIES TIMEOUT 180)
