/* A small asynchronous HTTP client: libcurl's multi interface driven by the
 * process' libevent loop (the documented "multi-socket" pattern:
 * CURLMOPT_SOCKETFUNCTION + CURLMOPT_TIMERFUNCTION + curl_multi_socket_action).
 * Nothing here blocks the loop: name resolution, connect, TLS and transfer
 * all progress from socket and timer events.
 *
 * One multi handle per client, so connections to the same host are kept
 * alive and reused. TLS peer and host verification stay on (libcurl's
 * defaults) and there is no way to turn them off from here. */
#ifndef CRM_CURL_H
#define CRM_CURL_H

#include <event2/event.h>
#include <stddef.h>

typedef struct crm_curl crm_curl_t;

/* One request. Everything is copied by crm_curl_request(): the caller may
 * free or reuse it as soon as the call returns. */
typedef struct {
    const char *method;         /* "GET" (default when NULL), "POST", "PUT", "DELETE" */
    const char *url;            /* absolute http:// or https:// URL, already escaped */
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *body;           /* request body or NULL (no body) */
    size_t body_len;
    long timeout_ms;  /* whole exchange; 0 = 30 s */
    const char *user; /* Basic auth: user and password, both or neither */
    const char *password;
} crm_curl_req_t;

/* What came back; borrowed for the duration of the callback. */
typedef struct {
    int status;          /* HTTP status; 0 = no response (see error) */
    long retry_after_s;  /* Retry-After (seconds or HTTP date, as seconds from now); -1 absent */
    long rate_remaining; /* X-Rate-Limit-Remaining (or ratelimit-remaining); -1 absent */
    long rate_reset_s;   /* ratelimit-reset: seconds until the window frees; -1 absent */
    const char *body;    /* NUL-terminated response body ("" when none) */
    size_t body_len;
    int curl_code;     /* CURLcode; 0 = transfer completed */
    const char *error; /* "" on success; libcurl's error text, or "cancelled" */
    double total_ms;   /* time the exchange took */
} crm_curl_resp_t;

/* Called exactly once per accepted request, from the loop (never from
 * inside crm_curl_request()). It may start new requests. */
typedef void (*crm_curl_done_fn)(void *ctx, const crm_curl_resp_t *resp);

/* A CRM base URL we may send credentials to: https://, or plain http://
 * only to this machine (a host of exactly "localhost", an IPv4 address in
 * 127.0.0.0/8 or ::1 — the emulator in tests). Parsed by libcurl's URL
 * parser, so "http://127.0.0.1.example.com" or "http://localhost@evil" are
 * refused; allow_plain_http lifts the http:// restriction (an explicit
 * setting for a demo's emulator container). 0, or -1 with errstr saying why. */
int crm_curl_url_check(const char *url, int allow_plain_http, char *errstr, size_t errsz);

/* Returns a new client on `base` (borrowed: must outlive the client), or
 * NULL when libcurl cannot be set up. */
crm_curl_t *crm_curl_new(struct event_base *base);

/* Starts a request. 0 = accepted (cb will be called once); -1 = refused at
 * once (bad arguments, out of memory; cb is not called). */
int crm_curl_request(crm_curl_t *c, const crm_curl_req_t *req, crm_curl_done_fn cb, void *ctx)
    __attribute__((warn_unused_result));

/* Requests accepted and not yet called back. */
size_t crm_curl_in_flight(const crm_curl_t *c);

/* Cancels every request still in flight -- each callback runs once with
 * status 0 and error "cancelled" -- closes the connections and frees the
 * client. Must not be called from inside one of its callbacks. NULL is fine. */
void crm_curl_free(crm_curl_t *c);

#endif
