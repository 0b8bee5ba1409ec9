/* libevent's HTML 413 replaced by our JSON one (see the header). */
#include "cmn_http_413.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What evhttp_send_error writes for a body over the limit, after
 * "HTTP/1.x": evhttp_send_page_ clears the headers and sets these two
 * first. Our own 413s (dispatch) say application/json and never match. */
static const char libevent_413[] = " 413 Request Entity Too Large\r\nContent-Type: text/html\r\n";
#define VERSION_LEN 8 /* "HTTP/1.x" */

static const char json_413[] = "HTTP/1.1 413 Request Entity Too Large\r\n"
                               "Content-Type: application/json\r\n"
                               "Connection: close\r\n"
                               "Content-Length: 35\r\n"
                               "\r\n"
                               "{\"error\":\"" CMN_HTTP_TOO_LARGE_MSG "\"}\n";

/* The length of the whole response at the start of buf once its head and
 * its Content-Length bytes of body are all there, else 0. */
static size_t whole_response(struct evbuffer *buf)
{
    struct evbuffer_ptr end = evbuffer_search(buf, "\r\n\r\n", 4, NULL);
    struct evbuffer_ptr cl = evbuffer_search_range(buf, "\r\nContent-Length: ", 18, NULL, &end);
    char digits[16] = "";
    if (end.pos < 0 || cl.pos < 0 || evbuffer_ptr_set(buf, &cl, 18, EVBUFFER_PTR_ADD) < 0 ||
        evbuffer_copyout_from(buf, &cl, digits, sizeof digits - 1) <= 0)
        return 0;
    size_t body = strtoul(digits, NULL, 10), len = (size_t)end.pos + 4 + body;
    return evbuffer_get_length(buf) >= len ? len : 0;
}

/* Called on every change to the output buffer; cheap unless the buffer
 * starts with libevent's 413. The rewrite calls it again, harmlessly: the
 * JSON answer does not match. The connection closes after that answer. */
static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    char head[VERSION_LEN + sizeof libevent_413 - 1];
    if (info->n_added == 0 || evbuffer_get_length(buf) < sizeof head ||
        evbuffer_copyout(buf, head, sizeof head) != (ev_ssize_t)sizeof head ||
        memcmp(head, "HTTP/1.", 7) != 0 ||
        memcmp(head + VERSION_LEN, libevent_413, sizeof libevent_413 - 1) != 0)
        return;
    size_t len = whole_response(buf);
    if (!len)
        return; /* its head and body are still being added */
    if (evbuffer_drain(buf, len) == 0)
        evbuffer_add(buf, json_413, sizeof json_413 - 1);
}

int cmn_http_413_watch(struct bufferevent *bev)
{
    return evbuffer_add_cb(bufferevent_get_output(bev), on_output, NULL) ? 0 : -1;
}
