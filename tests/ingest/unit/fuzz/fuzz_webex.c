/* libFuzzer: a Webex flow body. */
#include "fuzz_check.h"
#include "ing_webex.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_ctx_t ctx = {.country = cmn_phone_country("ES"),
                     .received_at_ms = 1773316800000,
                     .internal_max_digits = 5};
    ing_events_t out;
    ing_error_t err = {"", ""};
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    fuzz_check(ing_webex_normalise(&ctx, body, &out, &err), &out, &err);
    json_decref(body);
    return 0;
}
