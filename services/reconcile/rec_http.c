/* rec_http.h: blocking requests with the providers' rate limits honoured. */
#include "rec_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    rec_http_reply_t *r;
    long retry_after_s; /* -1: none */
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    rec_http_reply_t *r = ((sink_t *)ctx)->r;
    size_t add = size * n;
    char *grown = realloc(r->body, r->len + add + 1);
    if (!grown)
        return 0; /* curl fails the transfer */
    memcpy(grown + r->len, data, add);
    r->len += add;
    grown[r->len] = '\0';
    r->body = grown;
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    sink_t *s = ctx;
    size_t len = size * n;
    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0)
        s->retry_after_s = strtol(data + 12, NULL, 10);
    return len;
}

static void pause_s(long s)
{
    struct timespec ts = {.tv_sec = s, .tv_nsec = 0};
    nanosleep(&ts, NULL);
}

/* One attempt; CURLE_OK with r->status set, or the transport error. */
static CURLcode attempt(const rec_http_opts_t *o, const char *url, const char *post_json,
                        sink_t *sink)
{
    char auth[1024];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (!c)
        return rc;
    h = curl_slist_append(h, "Accept: application/json");
    if (post_json)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (o->bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->bearer);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, sink);
    if (o->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, o->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    if (post_json)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_json);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &sink->r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

int rec_http_request(const rec_http_opts_t *o, const char *url, const char *post_json,
                     rec_http_reply_t *reply, char *errstr, size_t errsz)
{
    long backoff_s = 1;
    memset(reply, 0, sizeof *reply);
    for (int i = 0; i <= o->retries; i++) {
        sink_t sink = {.r = reply, .retry_after_s = -1};
        rec_http_reply_free(reply);
        CURLcode rc = attempt(o, url, post_json, &sink);
        int again = rc != CURLE_OK || reply->status == 429 || reply->status >= 500;
        if (!again)
            return 0;
        if (rc != CURLE_OK)
            snprintf(errstr, errsz, "%s", curl_easy_strerror(rc));
        else
            snprintf(errstr, errsz, "HTTP %ld", reply->status);
        if (i == o->retries)
            break;
        long wait = sink.retry_after_s >= 0 ? sink.retry_after_s : backoff_s;
        reply->throttled += reply->status == 429;
        pause_s(wait > o->max_wait_s ? o->max_wait_s : wait);
        backoff_s *= 2;
    }
    return reply->status ? 0 : -1; /* the last answer (a 429 or 5xx) is the caller's to report */
}

void rec_http_reply_free(rec_http_reply_t *r)
{
    int throttled = r->throttled;
    free(r->body);
    memset(r, 0, sizeof *r);
    r->throttled = throttled;
}
