/* libcurl multi-socket on libevent. The shape follows libcurl's own
 * "multi-event" / hiperfifo examples: libcurl tells us which sockets to
 * watch (on_socket) and when to wake it (on_curl_timer); libevent tells
 * libcurl when a socket is ready (on_socket_event) or the timer fired
 * (on_timer_event); after each curl_multi_socket_action() the finished
 * transfers are collected (collect_done) and called back. */
#include "crm_curl.h"
#include "cmn_log.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CRM_CURL_BODY_MAX (32u * 1024u * 1024u)
#define CRM_CURL_DEFAULT_TIMEOUT_MS 30000L
#define CRM_CURL_CONNECT_TIMEOUT_MS 10000L

typedef struct sock_ctx {
    struct crm_curl *c;
    curl_socket_t fd;
    struct event *ev;
    struct sock_ctx *prev, *next;
} sock_ctx_t;

typedef struct req {
    struct crm_curl *c;
    CURL *easy;
    struct curl_slist *headers;
    crm_curl_done_fn cb;
    void *ctx;
    char *buf;
    size_t len, cap;
    int too_large;
    long retry_after_s;
    long rate_remaining;
    long rate_reset_s;
    char errbuf[CURL_ERROR_SIZE];
    struct req *prev, *next;
} req_t;

struct crm_curl {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    req_t *reqs;
    size_t n_reqs;
    sock_ctx_t *socks;
    int closing;
};

/* curl_global_init is not to be raced; every client lives on the loop
 * thread of its process, so a plain counter is enough. */
static int global_refs;

static int global_acquire(void)
{
    if (global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    global_refs++;
    return 0;
}

static void global_release(void)
{
    if (global_refs > 0 && --global_refs == 0)
        curl_global_cleanup();
}

/* ------------------------------------------------------------ requests */

static void req_unlink(crm_curl_t *c, req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->n_reqs--;
}

static void req_free(req_t *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->buf);
    free(r);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    req_t *r = userp;
    size_t n = size * nmemb;
    if (n > CRM_CURL_BODY_MAX - r->len) {
        r->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *nb = realloc(r->buf, cap);
        if (!nb)
            return 0;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    r->buf[r->len] = '\0';
    return n;
}

/* "Name: value\r\n" -> does the name match (case-insensitively)? Sets
 * *value to the trimmed value (in a caller buffer). */
static int header_is(const char *line, size_t len, const char *name, char *value, size_t valsz)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return 0;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl >= valsz)
        vl = valsz - 1;
    memcpy(value, v, vl);
    value[vl] = '\0';
    return 1;
}

static long parse_long(const char *s)
{
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return v < 0 ? -1 : v;
}

/* Retry-After is delta-seconds or an HTTP date (RFC 9110 10.2.3). */
static long parse_retry_after(const char *s)
{
    long v = parse_long(s);
    if (v >= 0)
        return v;
    time_t when = curl_getdate(s, NULL);
    if (when == (time_t)-1)
        return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    req_t *r = userp;
    size_t n = size * nmemb;
    char value[128];
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's. */
        r->retry_after_s = -1;
        r->rate_remaining = -1;
        r->rate_reset_s = -1;
    } else if (header_is(data, n, "Retry-After", value, sizeof value)) {
        r->retry_after_s = parse_retry_after(value);
    } else if (header_is(data, n, "X-Rate-Limit-Remaining", value, sizeof value)) {
        r->rate_remaining = parse_long(value);
    } else if (r->rate_remaining < 0 &&
               header_is(data, n, "ratelimit-remaining", value, sizeof value)) {
        r->rate_remaining = parse_long(value);
    } else if (header_is(data, n, "ratelimit-reset", value, sizeof value)) {
        r->rate_reset_s = parse_long(value);
    }
    return n;
}

static void finish(crm_curl_t *c, req_t *r, CURLcode code, const char *why)
{
    crm_curl_resp_t resp = {0};
    long status = 0;
    double total_s = 0;
    if (r->easy) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &total_s);
    }
    /* A transfer cut short (timeout mid-body, too large) is no answer. */
    resp.status = code == CURLE_OK ? (int)status : 0;
    resp.retry_after_s = r->retry_after_s;
    resp.rate_remaining = r->rate_remaining;
    resp.rate_reset_s = r->rate_reset_s;
    resp.body = r->buf ? r->buf : "";
    resp.body_len = r->len;
    resp.curl_code = (int)code;
    resp.total_ms = total_s * 1000.0;
    if (why)
        resp.error = why;
    else if (code == CURLE_OK)
        resp.error = "";
    else if (r->too_large)
        resp.error = "response body too large";
    else
        resp.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
    req_unlink(c, r);
    r->cb(r->ctx, &resp);
    req_free(r);
}

static void collect_done(crm_curl_t *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        req_t *r = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(c->multi, easy);
        if (r)
            finish(c, r, code, NULL);
    }
}

/* ------------------------------------------------- libevent <-> libcurl */

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    crm_curl_t *c = arg;
    int running = 0;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(c->multi, (curl_socket_t)fd, flags, &running);
    collect_done(c);
    if (running <= 0 && c->n_reqs == 0)
        evtimer_del(c->timer);
}

static void on_timer_event(evutil_socket_t fd, short what, void *arg)
{
    crm_curl_t *c = arg;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(c);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arm our timer; libcurl must not be
 * re-entered from here. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    crm_curl_t *c = userp;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(c->timer, &tv) == 0 ? 0 : -1;
}

static void sock_free(crm_curl_t *c, sock_ctx_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->ev)
        event_free(s->ev);
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what libcurl asks. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    crm_curl_t *c = userp;
    sock_ctx_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(c, s);
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->c = c;
        s->fd = fd;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    if (s->ev) {
        event_free(s->ev);
        s->ev = NULL;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    s->ev = event_new(c->base, (evutil_socket_t)fd, kind, on_socket_event, c);
    if (!s->ev || event_add(s->ev, NULL) != 0) {
        LOG_ERROR("crm_curl: cannot watch socket %d", (int)fd);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- public */

crm_curl_t *crm_curl_new(struct event_base *base)
{
    if (!base || global_acquire() != 0)
        return NULL;
    crm_curl_t *c = calloc(1, sizeof *c);
    if (!c)
        goto err;
    c->base = base;
    c->multi = curl_multi_init();
    c->timer = evtimer_new(base, on_timer_event, c);
    if (!c->multi || !c->timer)
        goto err;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* Idle keep-alive connections kept for reuse (one host, some parallelism). */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 32L);
    return c;
err:
    if (c) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        if (c->timer)
            event_free(c->timer);
        free(c);
    }
    global_release();
    return NULL;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, nl) == 0 && headers[i][nl] == ':')
            return 1;
    return 0;
}

static int add_header(req_t *r, const char *h)
{
    struct curl_slist *l = curl_slist_append(r->headers, h);
    if (!l)
        return -1;
    r->headers = l;
    return 0;
}

static int set_method(req_t *r, const crm_curl_req_t *q)
{
    const char *m = q->method ? q->method : "GET";
    CURL *e = r->easy;
    int sends_body = q->body != NULL || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0;
    if (strcmp(m, "GET") == 0 && !q->body)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
    if (strcmp(m, "POST") != 0 && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
        return -1;
    if (!sends_body)
        return 0;
    /* POSTFIELDSIZE first, so that COPYPOSTFIELDS copies exactly body_len bytes. */
    if (curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->body_len : 0)) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, q->body ? q->body : "") != CURLE_OK)
        return -1;
    /* No "Expect: 100-continue" round trip; and a bodiless POST gets no
     * made-up form Content-Type. */
    if (add_header(r, "Expect:") != 0)
        return -1;
    if (!q->body && !has_header(q->headers, "Content-Type") && add_header(r, "Content-Type:") != 0)
        return -1;
    return 0;
}

int crm_curl_request(crm_curl_t *c, const crm_curl_req_t *q, crm_curl_done_fn cb, void *ctx)
{
    if (!c || c->closing || !q || !q->url || !cb ||
        (strncmp(q->url, "http://", 7) != 0 && strncmp(q->url, "https://", 8) != 0) ||
        (!q->user != !q->password))
        return -1;
    req_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->c = c;
    r->cb = cb;
    r->ctx = ctx;
    r->retry_after_s = -1;
    r->rate_remaining = -1;
    r->rate_reset_s = -1;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto err;
    CURL *e = r->easy;
    long timeout = q->timeout_ms > 0 ? q->timeout_ms : CRM_CURL_DEFAULT_TIMEOUT_MS;
    long connect_timeout =
        timeout < CRM_CURL_CONNECT_TIMEOUT_MS ? timeout : CRM_CURL_CONNECT_TIMEOUT_MS;
    for (size_t i = 0; q->headers && q->headers[i]; i++)
        if (add_header(r, q->headers[i]) != 0)
            goto err;
    if (set_method(r, q) != 0)
        goto err;
    if (curl_easy_setopt(e, CURLOPT_URL, q->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, r) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "callbus-ticket/0.1") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK)
        goto err;
        /* Only web protocols, also on redirects (which are not followed anyway:
         * credentials must never travel to another host). */
#if LIBCURL_VERSION_NUM >= 0x075500
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        goto err;
#else
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
        CURLE_OK)
        goto err;
#endif
    if (q->user && (curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
                    curl_easy_setopt(e, CURLOPT_USERNAME, q->user) != CURLE_OK ||
                    curl_easy_setopt(e, CURLOPT_PASSWORD, q->password) != CURLE_OK))
        goto err;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->n_reqs++;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        req_unlink(c, r);
        goto err;
    }
    return 0;
err:
    req_free(r);
    return -1;
}

size_t crm_curl_in_flight(const crm_curl_t *c)
{
    return c ? c->n_reqs : 0;
}

void crm_curl_free(crm_curl_t *c)
{
    if (!c)
        return;
    c->closing = 1;
    while (c->reqs) {
        req_t *r = c->reqs;
        curl_multi_remove_handle(c->multi, r->easy);
        finish(c, r, CURLE_ABORTED_BY_CALLBACK, "cancelled");
    }
    curl_multi_cleanup(c->multi); /* closes the kept-alive connections */
    while (c->socks)
        sock_free(c, c->socks);
    event_free(c->timer);
    free(c);
    global_release();
}

static int is_loopback_host(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6, loop6 = IN6ADDR_LOOPBACK_INIT;
    char bare[64];
    size_t n = strlen(host);
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (n >= 2 && n < sizeof bare && host[0] == '[' && host[n - 1] == ']') {
        memcpy(bare, host + 1, n - 2); /* libcurl keeps the brackets of an IPv6 host */
        bare[n - 2] = '\0';
        host = bare;
    }
    return inet_pton(AF_INET6, host, &v6) == 1 && memcmp(&v6, &loop6, sizeof v6) == 0;
}

int crm_curl_url_check(const char *url, int allow_plain_http, char *errstr, size_t errsz)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1;
    if (!u) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(errstr, errsz, "\"%s\" is not a URL", url ? url : "");
        goto cleanup;
    }
    if (strcmp(scheme, "https") == 0 ||
        (strcmp(scheme, "http") == 0 && (allow_plain_http || is_loopback_host(host))))
        rc = 0;
    else if (strcmp(scheme, "http") == 0)
        snprintf(errstr, errsz,
                 "plain http:// to %s would send the credentials unencrypted: use "
                 "https:// (http:// is for this machine only)",
                 host);
    else
        snprintf(errstr, errsz, "%s:// is not a CRM URL: use https://", scheme);
cleanup:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
