/* libFuzzer: a CRM's event post (issue 25 item 1), read by both
 * normalisers (the first byte picks which). Invariants: failure leaves no
 * event and says why; success gives events whose message is JSON with
 * every member the schema requires. */
#include "ing_dynamics.h"
#include "ing_zendesk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, const ing_crm_events_t *out, const ing_error_t *err)
{
    static const char *const required[] = {"schema_version", "event_id",    "crm",        "type",
                                           "ticket_id",      "occurred_at", "received_at"};
    if (rc < 0) {
        if (out->n != 0 || err->msg[0] == '\0')
            abort();
        return;
    }
    for (size_t i = 0; i < out->n; i++) {
        char *text = ing_crm_event_encode(&out->ev[i]);
        json_t *back = text ? json_loads(text, 0, NULL) : NULL;
        if (!back)
            abort();
        for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
            if (!json_object_get(back, required[k]))
                abort();
        if (strlen(out->ev[i].event_id) < 8 || !*ing_crm_event_key(&out->ev[i]))
            abort();
        json_decref(back);
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_crm_events_t out;
    ing_error_t err = {"", ""};
    if (size < 1)
        return 0;
    json_t *body = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!body)
        return 0;
    int rc = data[0] & 1 ? ing_dynamics_normalise(1773316800000, body, &out, &err)
                         : ing_zendesk_normalise(1773316800000, body, &out, &err);
    check(rc, &out, &err);
    json_decref(body);
    return 0;
}
