/* The table of click-to-call providers and what they share. */
#include "pop_dial_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pop_dial_provider_t *const providers[] = {&pop_dial_callgear, &pop_dial_twilio};

const pop_dial_provider_t *pop_dial_provider_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

void pop_dial_req_clear(pop_dial_req_t *r)
{
    free(r->url);
    free(r->body);
    free(r->user);
    free(r->password);
    *r = (pop_dial_req_t){0};
}

void pop_dial_refused(pop_dial_result_t *out, int status, const char *code, const char *reason)
{
    out->placed = 0;
    out->status = status;
    snprintf(out->code, sizeof out->code, "%s", code ? code : "");
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
}

int pop_dial_status_for(int provider_status)
{
    if (provider_status == 0)
        return 504;
    if (provider_status == 429)
        return 429;
    if (provider_status == 401 || provider_status == 403 || provider_status >= 500)
        return 502;
    if (provider_status >= 400)
        return 422;
    return 502; /* a 1xx/3xx, or a 2xx we could not read: the provider's answer is not usable */
}
