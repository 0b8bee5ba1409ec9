/* The reconciler's HTTP client for the providers' APIs: blocking (a batch
 * job, one request at a time), libcurl. A 429 is waited out as its
 * Retry-After says (else a doubling pause) and retried, as are 5xx and
 * transport errors, up to `retries` times; anything else is the answer.
 * One thread. */
#ifndef REC_HTTP_H
#define REC_HTTP_H

#include <stddef.h>

typedef struct {
    const char *user, *password; /* basic auth when user is set */
    const char *bearer;          /* "Authorization: Bearer" when set */
    int retries;                 /* further attempts after a 429, 5xx or transport error */
    int timeout_ms;              /* per attempt */
    int max_wait_s;              /* the longest Retry-After honoured */
} rec_http_opts_t;

typedef struct {
    long status; /* 0: no answer (transport error) */
    char *body;  /* heap, NUL-terminated; the caller frees */
    size_t len;
    int throttled; /* how many 429s were waited out */
} rec_http_reply_t;

/* GET (post_json NULL) or POST of a JSON body. 0 with an answer in *reply
 * (any status; check it), or -1 with errstr set (no answer after the
 * retries, or out of memory). */
int rec_http_request(const rec_http_opts_t *o, const char *url, const char *post_json,
                     rec_http_reply_t *reply, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

void rec_http_reply_free(rec_http_reply_t *r);

#endif
