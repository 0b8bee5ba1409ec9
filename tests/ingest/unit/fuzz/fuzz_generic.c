/* libFuzzer: a generic/TVox body through the signature check (with headers
 * taken from the input's first line) and the canonical decoder. */
#include "fuzz_check.h"
#include "ing_generic.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_ctx_t ctx = {.country = cmn_phone_country("IT"),
                     .received_at_ms = 1773316800000,
                     .internal_max_digits = 5};
    ing_events_t out;
    ing_error_t err = {"", ""};
    char header[128] = "";
    const char *nl = memchr(data, '\n', size < sizeof header ? size : sizeof header - 1);
    if (nl)
        memcpy(header, data, (size_t)(nl - (const char *)data));
    int ok = ing_generic_signature_ok("secret", header, (const char *)data, size, header,
                                      1773316800000, 300000, &err);
    if (ok != 0 && ok != 1)
        abort();
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    err.msg[0] = '\0';
    fuzz_check(ing_generic_normalise(&ctx, body, &out, &err), &out, &err);
    json_decref(body);
    return 0;
}
