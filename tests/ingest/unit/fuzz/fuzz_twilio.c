/* libFuzzer: a form body through the parser, the signature check and the
 * status-callback mapping. */
#include "fuzz_check.h"
#include "ing_twilio.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_ctx_t ctx = {.country = cmn_phone_country("IT"),
                     .received_at_ms = 1773316800000,
                     .internal_max_digits = 5};
    ing_form_t form;
    ing_events_t out;
    ing_error_t err = {"", ""};
    if (ing_form_parse((const char *)data, size, &form, &err) < 0) {
        if (form.n != 0 || err.msg[0] == '\0')
            abort();
        return 0;
    }
    const char *url = ing_form_get(&form, "Url");
    if (ing_twilio_signature_ok("12345", url ? url : "https://example.com:8443/t?x=1", &form,
                                "0/KCTR6DLpKmkAf8muzZqo1nDgQ=") < 0)
        abort();
    fuzz_check(ing_twilio_normalise(&ctx, &form, &out, &err), &out, &err);
    ing_form_free(&form);
    return 0;
}
