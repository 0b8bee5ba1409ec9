/* libFuzzer: a CallGear body, run through all six notifications. */
#include "fuzz_check.h"
#include "ing_callgear.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const kinds[] = {"handset",   "endleg", "end",
                                        "recording", "legout", "callout"};
    ing_ctx_t ctx = {.country = cmn_phone_country("TR"),
                     .received_at_ms = 1773316800000,
                     .internal_max_digits = 5};
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    for (size_t i = 0; i < 6; i++) {
        ing_events_t out;
        ing_error_t err = {"", ""};
        fuzz_check(ing_callgear_normalise(&ctx, kinds[i], body, &out, &err), &out, &err);
    }
    json_decref(body);
    return 0;
}
