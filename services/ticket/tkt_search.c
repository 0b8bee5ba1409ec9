/* The agent's contact search (tkt_search.h). */
#include "tkt_search.h"

#include "cmn_auth.h"
#include "cmn_log.h"
#include "cmn_utf8.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_MAX 100

struct tkt_search {
    tkt_search_deps_t d;
};

/* One request: answered once (by the CRM or the deadline), freed once the
 * CRM's callback came too. */
typedef struct {
    tkt_search_t *s;
    struct evhttp_request *req;
    struct event *deadline;
    int replied;
    int crm_busy;
} search_req_t;

static void maybe_free(search_req_t *r)
{
    if (!r->replied || r->crm_busy)
        return;
    if (r->deadline)
        event_free(r->deadline);
    free(r);
}

static void reply(search_req_t *r, int status, json_t *body)
{
    if (r->replied) {
        json_decref(body);
        return;
    }
    r->replied = 1;
    cmn_http_reply_json(r->req, status, body);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    search_req_t *r = arg;
    reply(r, 504, json_pack("{s:s}", "error", "the CRM did not answer in time"));
    maybe_free(r);
}

static json_t *contacts_json(const tkt_crm_t *crm, const tkt_crm_result_t *res)
{
    char url[512];
    json_t *a = json_array();
    for (size_t i = 0; a && i < res->n_contacts; i++) {
        const tkt_crm_contact_t *c = &res->contacts[i];
        crm->ops->contact_url(crm, c->id, url, sizeof url);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "id", c->id, "name", c->name,
                                           "email", c->email, "url", url));
    }
    return json_pack("{s:o*}", "contacts", a);
}

static void on_found(void *ctx, const tkt_crm_result_t *res)
{
    search_req_t *r = ctx;
    r->crm_busy = 0;
    if (res->ok)
        reply(r, 200, contacts_json(r->s->d.crm, res));
    else {
        LOG_WARN("contact search: the CRM failed: %s", res->error);
        reply(r, 502, json_pack("{s:s}", "error", "the CRM could not search"));
    }
    maybe_free(r);
}

/* Characters of valid UTF-8: the bytes that start one. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* q, 1..QUERY_MAX characters of UTF-8, into out (QUERY_MAX * 4 + 1). */
static int query_text(struct evhttp_request *req, char *out, size_t outsz)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    int rc = -1;
    if (!query || evhttp_parse_query_str(query, &q) < 0)
        return -1;
    const char *v = evhttp_find_header(&q, "q");
    if (v && *v && strlen(v) < outsz && cmn_utf8_valid_str(v) && chars(v) <= QUERY_MAX) {
        snprintf(out, outsz, "%s", v);
        rc = 0;
    }
    evhttp_clear_headers(&q);
    return rc;
}

static search_req_t *req_new(tkt_search_t *s, struct evhttp_request *req)
{
    struct timeval tv = {s->d.deadline_ms / 1000, (s->d.deadline_ms % 1000) * 1000};
    search_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    r->req = req;
    r->deadline = evtimer_new(s->d.base, on_deadline, r);
    if (!r->deadline || evtimer_add(r->deadline, &tv) < 0) {
        if (r->deadline)
            event_free(r->deadline);
        free(r);
        return NULL;
    }
    return r;
}

static void on_search(struct evhttp_request *req, const char *path, void *arg)
{
    tkt_search_t *s = arg;
    char text[QUERY_MAX * 4 + 1];
    if (cmn_auth_bearer_match(s->d.token, s->d.token_previous,
                              cmn_http_header(req, "Authorization")) == CMN_AUTH_NONE) {
        cmn_http_reply_error(req, 401, "missing or wrong bearer token", "Authorization");
        return;
    }
    if (query_text(req, text, sizeof text) < 0) {
        cmn_http_reply_error(req, 400, "q: 1 to 100 characters of text", "q");
        return;
    }
    if (!s->d.crm->ops->search_contacts) {
        cmn_http_reply_error(req, 501, "this CRM adapter cannot search contacts", NULL);
        return;
    }
    search_req_t *r = req_new(s, req);
    if (!r) {
        cmn_http_reply_unavailable(req, 1, "out of memory");
        return;
    }
    r->crm_busy = 1;
    s->d.crm->ops->search_contacts(s->d.crm, text, on_found, r);
}

tkt_search_t *tkt_search_new(const tkt_search_deps_t *deps, cmn_http_t *http)
{
    tkt_search_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->d = *deps;
    if (cmn_http_route(http, "contact_search", "/v1/contacts/search", CMN_HTTP_GET, on_search, s) <
        0) {
        free(s);
        return NULL;
    }
    return s;
}

void tkt_search_free(tkt_search_t *s)
{
    free(s);
}
