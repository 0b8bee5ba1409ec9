/* Pages inside a CRM's workspace: templates, headers, origins (pop_page.h). */
#include "pop_page.h"

#include "cmn_http.h"
#include "pop_assets.h"

#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>

int pop_page_origin(const char *url, char *out, size_t outsz)
{
    const char *host = strstr(url, "://");
    if (!host || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return -1;
    size_t n = (size_t)(host + 3 - url) + strcspn(host + 3, "/?#");
    /* A setting goes into a header and an HTML attribute: nothing that
     * could end either. */
    if (n >= outsz || url[strcspn(url, "\"'<>&; \t\r\n")] != '\0')
        return -1;
    snprintf(out, outsz, "%.*s", (int)n, url);
    return 0;
}

static const char *slot_value(const char *at, const pop_page_slot_t *slots, size_t n_slots,
                              size_t *name_len)
{
    for (size_t i = 0; i < n_slots; i++) {
        *name_len = strlen(slots[i].name);
        if (strncmp(at, slots[i].name, *name_len) == 0)
            return slots[i].value;
    }
    return NULL;
}

int pop_page_fill(struct evbuffer *out, const char *path, const pop_page_slot_t *slots,
                  size_t n_slots)
{
    const pop_asset_t *t = pop_asset_find(path);
    if (!t)
        return -1;
    const char *p = (const char *)t->data, *end = p + t->len;
    for (const char *slot; (slot = strstr(p, "{{"));) {
        size_t len = 0;
        const char *value = slot_value(slot, slots, n_slots, &len);
        if (!value || evbuffer_add(out, p, (size_t)(slot - p)) < 0 ||
            evbuffer_add(out, value, strlen(value)) < 0)
            return -1;
        p = slot + len;
    }
    return evbuffer_add(out, p, (size_t)(end - p));
}

void pop_page_headers(struct evhttp_request *req, const char *type, const char *csp)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    /* The page may hold a session token: never kept by a cache or the history. */
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

void pop_page_send(struct evhttp_request *req, const char *csp, const char *path,
                   const pop_page_slot_t *slots, size_t n_slots)
{
    struct evbuffer *out = evbuffer_new();
    if (!out || pop_page_fill(out, path, slots, n_slots) < 0) {
        cmn_http_reply_error(req, 500, "the page is not built in", NULL);
    } else {
        pop_page_headers(req, "text/html; charset=utf-8", csp);
        evhttp_send_reply(req, 200, NULL, out);
    }
    if (out)
        evbuffer_free(out);
}
