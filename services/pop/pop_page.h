/* The pages pop-service serves inside a CRM's workspace (the Zendesk app,
 * the Dynamics widget: issue 22 items 1, 2): a template compiled in
 * (pop_assets) with its {{slots}} filled, sent with the headers every such
 * page needs (no cache: it may hold a session token; its own CSP). And
 * the origin of a configured URL, the part a CSP source names. Loop
 * thread only; nothing here keeps a pointer past the call. */
#ifndef POP_PAGE_H
#define POP_PAGE_H

#include <event2/buffer.h>
#include <event2/http.h>
#include <stddef.h>

typedef struct {
    const char *name;  /* "{{session}}" */
    const char *value; /* written as is: the caller checked it can end no attribute */
} pop_page_slot_t;

/* scheme://host[:port] of an http(s) URL into out; -1 when url is no
 * http(s) URL or holds a character that could end a header value or an
 * HTML attribute (it goes into both). */
int pop_page_origin(const char *url, char *out, size_t outsz);

/* The asset `path` with every {{slot}} replaced, appended to out; -1 when
 * the asset is missing or names a slot not in slots. */
int pop_page_fill(struct evbuffer *out, const char *path, const pop_page_slot_t *slots,
                  size_t n_slots);

/* Content-Type, Cache-Control: no-store, the CSP, nosniff, no referrer
 * (a page's URL may carry an authorization code). */
void pop_page_headers(struct evhttp_request *req, const char *type, const char *csp);

/* The filled template as a 200 with those headers; 500 when it cannot be
 * built. */
void pop_page_send(struct evhttp_request *req, const char *csp, const char *path,
                   const pop_page_slot_t *slots, size_t n_slots);

#endif
