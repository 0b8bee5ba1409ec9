/* The agent's contact search (pop_api_search.h). */
#include "pop_api_search.h"

#include "cmn_log.h"

#include <stdlib.h>
#include <string.h>

#define QUERY_MAX 400 /* bytes: ticket-service takes 100 characters */

struct pop_api_search {
    pop_api_t *api;
    pop_lookup_t *lookup;
};

typedef struct {
    pop_api_search_t *s;
    struct evhttp_request *req;
    char query[QUERY_MAX + 1];
} ask_t;

static void on_found(void *ctx, const json_t *contacts, const char *err)
{
    ask_t *a = ctx;
    if (err)
        cmn_http_reply_unavailable(a->req, 1, "the CRM search is unavailable");
    else
        cmn_http_reply_json(a->req, 200, json_pack("{s:O}", "contacts", (json_t *)contacts));
    free(a);
}

/* Only a signed-in agent searches the CRM (its contacts are personal data):
 * who is NULL when pop_api_with_agent answered already (401, 503). */
static void on_agent(void *ctx, const pop_session_info_t *who)
{
    ask_t *a = ctx;
    if (!who) {
        free(a);
        return;
    }
    if (pop_lookup_search(a->s->lookup, a->query, on_found, a) < 0) {
        cmn_http_reply_unavailable(a->req, 1, "ticket-service unreachable");
        free(a);
    }
}

static void on_search(struct evhttp_request *req, const char *path, void *arg)
{
    pop_api_search_t *s = arg;
    ask_t *a = calloc(1, sizeof *a);
    if (!a) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    a->s = s;
    a->req = req;
    if (cmn_http_query_param(req, "q", a->query, sizeof a->query) < 0) {
        cmn_http_reply_error(req, 400, "q: what to search for", "q");
        free(a);
        return;
    }
    if (!s->lookup) {
        cmn_http_reply_unavailable(req, 5, "no CRM search configured (CALLBUS_POP_LOOKUP_URL)");
        free(a);
        return;
    }
    if (pop_api_with_agent(s->api, req, on_agent, a) < 0)
        free(a);
}

pop_api_search_t *pop_api_search_new(cmn_http_t *http, pop_api_t *api, pop_lookup_t *lookup)
{
    pop_api_search_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->api = api;
    s->lookup = lookup;
    if (cmn_http_route(http, "contact_search", "/v1/contacts/search", CMN_HTTP_GET, on_search, s) <
        0) {
        free(s);
        return NULL;
    }
    return s;
}

void pop_api_search_free(pop_api_search_t *s)
{
    free(s);
}
