# ticket-service's CRM adapters as a library: the async HTTP client
# (libcurl multi on libevent), the rate limiter, the shared adapter layer
# (crm/crm_adapter.c) and the Zendesk adapter.
# Included from services/ticket/CMakeLists.txt; paths are relative to this
# file so the fragment can be included from anywhere.
if(NOT TARGET ticket_crm)
  add_library(ticket_crm STATIC
    ${CMAKE_CURRENT_LIST_DIR}/crm/crm_curl.c
    ${CMAKE_CURRENT_LIST_DIR}/crm/crm_ratelimit.c
    ${CMAKE_CURRENT_LIST_DIR}/crm/crm_adapter.c
    ${CMAKE_CURRENT_LIST_DIR}/crm/crm_zendesk.c)
  target_include_directories(ticket_crm PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_LIST_DIR}/crm)
  # callbus_common brings libcurl, libevent and jansson (PUBLIC).
  target_link_libraries(ticket_crm PUBLIC ticket_model)
endif()
