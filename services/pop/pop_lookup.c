/* ticket-service's IVR look-up over libevent's HTTP client. */
#include "pop_lookup.h"

#include "cmn_log.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* evhttp runs one request at a time per connection: a look-up that waits
 * for the CRM must not hold the cached ones behind it, so each goes on an
 * idle connection while there are fewer than this many. */
#define CONNS 16

typedef struct ask {
    struct ask *prev, *next;
    pop_lookup_t *l;
    pop_lookup_fn cb;
    pop_search_fn search_cb; /* a contact search (issue 24) rather than a look-up */
    void *ctx;
    struct evhttp_request *req; /* NULL once answered */
    size_t conn;                /* on conns[conn] */
} ask_t;

struct pop_lookup {
    struct event_base *base;
    struct evhttp_connection *conns[CONNS];
    size_t busy[CONNS]; /* requests on each */
    char *host, *path_prefix, *auth;
    int port;
    struct timeval timeout;
    ask_t asks; /* sentinel: questions in flight */
    size_t n;
};

static void ask_unlink(ask_t *a)
{
    a->prev->next = a->next;
    a->next->prev = a->prev;
    a->l->n--;
}

static const char *member(const json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : "";
}

/* ticket-service's answer (docs/ticket-service.md "IVR API"):
 * {"status": "found", "contact": {id, name, url?, email?, company?}, ...},
 * {"status": "none"}, or {"status": "unknown", "reason": ...}. */
static void answer(ask_t *a, int status, const char *body, size_t len)
{
    pop_contact_t c = {0, "", "", "", "", ""};
    json_t *o = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *st = member(o, "status");
    const char *err = NULL;
    if (!o)
        err = status ? "not a JSON answer" : "no answer";
    else if (strcmp(st, "found") == 0) {
        const json_t *ct = json_object_get(o, "contact");
        c = (pop_contact_t){1,
                            member(ct, "id"),
                            member(ct, "url"),
                            member(ct, "name"),
                            member(ct, "email"),
                            member(ct, "company")};
        if (!*c.id)
            err = "a contact without id";
    } else if (strcmp(st, "none") != 0)
        err = "ticket-service could not say";
    a->cb(a->ctx, &c, err);
    json_decref(o);
}

/* {"contacts": [...]} from GET /v1/contacts/search (tkt_search.h). */
static void search_answer(ask_t *a, int status, const char *body, size_t len)
{
    json_t *o = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *contacts = json_object_get(o, "contacts");
    if (json_is_array(contacts))
        a->search_cb(a->ctx, contacts, NULL);
    else
        a->search_cb(a->ctx, NULL, status ? "ticket-service could not search" : "no answer");
    json_decref(o);
}

static void on_response(struct evhttp_request *req, void *arg)
{
    ask_t *a = arg;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    struct evbuffer *in = req ? evhttp_request_get_input_buffer(req) : NULL;
    size_t len = in ? evbuffer_get_length(in) : 0;
    const char *body = in ? (const char *)evbuffer_pullup(in, -1) : NULL;
    a->req = NULL;
    a->l->busy[a->conn]--;
    ask_unlink(a);
    if (status && status != 200)
        LOG_WARN("contact %s: ticket-service answered %d", a->search_cb ? "search" : "look-up",
                 status);
    if (a->search_cb)
        search_answer(a, status, body ? body : "", body ? len : 0);
    else
        answer(a, status, body ? body : "", body ? len : 0);
    free(a);
}

/* The first idle connection (made when needed), else the least busy. */
static struct evhttp_connection *conn(pop_lookup_t *l, size_t *at)
{
    size_t i = 0;
    for (size_t k = 0; k < CONNS; k++) {
        if (!l->conns[k] || !l->busy[k]) {
            i = k;
            break;
        }
        if (l->busy[k] < l->busy[i])
            i = k;
    }
    *at = i;
    if (!l->conns[i]) {
        l->conns[i] = evhttp_connection_base_new(l->base, NULL, l->host, (unsigned short)l->port);
        if (!l->conns[i])
            return NULL;
        evhttp_connection_set_timeout_tv(l->conns[i], &l->timeout);
        /* One retry: a kept-alive connection the server has just closed
         * fails the request sent on it; a look-up is a GET, safe to repeat. */
        evhttp_connection_set_retries(l->conns[i], 1);
    }
    return l->conns[i];
}

/* GET prefix + path_fmt % (value URI-encoded), answered to a. */
static int send_get(pop_lookup_t *l, ask_t *a, const char *path_fmt, const char *value);

int pop_lookup_ask(pop_lookup_t *l, const char *number, pop_lookup_fn cb, void *ctx)
{
    ask_t *a = calloc(1, sizeof *a);
    if (a)
        *a = (ask_t){.cb = cb, .ctx = ctx};
    return a ? send_get(l, a, "%s/v1/ivr/lookup?number=%s", number) : -1;
}

int pop_lookup_search(pop_lookup_t *l, const char *query, pop_search_fn cb, void *ctx)
{
    ask_t *a = calloc(1, sizeof *a);
    if (a)
        *a = (ask_t){.search_cb = cb, .ctx = ctx};
    return a ? send_get(l, a, "%s/v1/contacts/search?q=%s", query) : -1;
}

static int send_get(pop_lookup_t *l, ask_t *a, const char *path_fmt, const char *value)
{
    char path[1024];
    char *q = evhttp_encode_uri(value); /* '+' must not read as a space */
    size_t at = 0;
    struct evhttp_connection *c = q ? conn(l, &at) : NULL;
    struct evhttp_request *req = c ? evhttp_request_new(on_response, a) : NULL;
    if (!req || strlen(q) + strlen(l->path_prefix) + 32 > sizeof path) {
        if (req)
            evhttp_request_free(req);
        free(q);
        free(a);
        return -1;
    }
    snprintf(path, sizeof path, path_fmt, l->path_prefix, q);
    free(q);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", l->host);
    evhttp_add_header(h, "Authorization", l->auth);
    evhttp_add_header(h, "Accept", "application/json");
    a->prev = &l->asks;
    a->next = l->asks.next;
    a->l = l;
    a->req = req;
    a->conn = at;
    l->busy[at]++;
    l->asks.next->prev = a;
    l->asks.next = a;
    l->n++;
    /* evhttp calls back from the loop, also for a failed connect. On an
     * immediate failure it has freed req (event2/http.h) and does not
     * call back. */
    if (evhttp_make_request(c, req, EVHTTP_REQ_GET, path) < 0) {
        l->busy[at]--;
        ask_unlink(a);
        free(a);
        return -1;
    }
    return 0;
}

size_t pop_lookup_pending(const pop_lookup_t *l)
{
    return l->n;
}

pop_lookup_t *pop_lookup_new(struct event_base *base, const char *base_url, const char *token,
                             long timeout_ms, char *errstr, size_t errsz)
{
    struct evhttp_uri *u = evhttp_uri_parse(base_url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    pop_lookup_t *l = NULL;
    if (!scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
        snprintf(errstr, errsz, "not an http://host[:port] URL (in-cluster plain HTTP)");
        goto cleanup;
    }
    size_t authsz = strlen(token) + sizeof "Bearer ";
    if (!(l = calloc(1, sizeof *l)) || !(l->host = strdup(host)) ||
        !(l->path_prefix = strdup(path ? path : "")) || !(l->auth = malloc(authsz))) {
        pop_lookup_free(l);
        l = NULL;
        snprintf(errstr, errsz, "out of memory");
        goto cleanup;
    }
    /* "http://h:1/" and "http://h:1" name the same place */
    size_t pl = strlen(l->path_prefix);
    if (pl && l->path_prefix[pl - 1] == '/')
        l->path_prefix[pl - 1] = '\0';
    snprintf(l->auth, authsz, "Bearer %s", token);
    l->base = base;
    l->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    l->timeout = (struct timeval){timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    l->asks.next = l->asks.prev = &l->asks;
cleanup:
    if (u)
        evhttp_uri_free(u);
    return l;
}

void pop_lookup_free(pop_lookup_t *l)
{
    if (!l)
        return;
    /* Freeing a connection cancels its requests without calling back. */
    for (size_t i = 0; i < CONNS; i++)
        if (l->conns[i])
            evhttp_connection_free(l->conns[i]);
    while (l->asks.next != &l->asks) {
        ask_t *a = l->asks.next;
        ask_unlink(a);
        if (a->search_cb)
            a->search_cb(a->ctx, NULL, "shutting down");
        else
            a->cb(a->ctx, NULL, "shutting down");
        free(a);
    }
    free(l->host);
    free(l->path_prefix);
    free(l->auth);
    free(l);
}
