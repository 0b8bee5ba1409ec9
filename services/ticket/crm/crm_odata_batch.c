/* OData $batch encoder and decoder: see crm_odata_batch.h. The decoder
 * walks the response with explicit lengths (it need not be NUL-terminated)
 * and never reads past `len`. */
#include "crm_odata_batch.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- encoder */

typedef struct {
    char *p;
    size_t len, cap;
    int err;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->err = 1;
    else
        put(b, tmp, (size_t)n);
}

static int method_ok(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};
    for (size_t i = 0; m && i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(m, ok[i]) == 0)
            return 1;
    return 0;
}

/* A URL or body going into a request line or part must not end the line. */
static int no_crlf(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

static int id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return 0;
    return 1;
}

static void put_op(buf_t *b, const char *root, const crm_batch_op_t *op, size_t index)
{
    puts_(b, "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if (op->changeset)
        putf(b, "Content-ID: %zu\r\n", index + 1);
    puts_(b, "\r\n");
    puts_(b, op->method);
    puts_(b, " ");
    if (strncmp(op->url, "http://", 7) != 0 && strncmp(op->url, "https://", 8) != 0 &&
        op->url[0] != '$') {
        puts_(b, root);
        puts_(b, "/");
    }
    puts_(b, op->url);
    puts_(b, " HTTP/1.1\r\n");
    if (op->body) {
        putf(b, "Content-Type: application/json; type=entry\r\n\r\n");
        puts_(b, op->body);
        puts_(b, "\r\n");
    } else {
        puts_(b, "\r\n");
    }
}

char *crm_batch_encode(const char *service_root, const crm_batch_op_t *ops, size_t n,
                       const char *id, char *content_type, size_t ctsz, size_t *out_len,
                       char *errstr, size_t errsz)
{
    buf_t b = {0};
    if (!service_root || !no_crlf(service_root) || !ops || n == 0 || n > CRM_BATCH_MAX_OPS ||
        !id_ok(id)) {
        snprintf(errstr, errsz, "bad batch: %s",
                 n > CRM_BATCH_MAX_OPS ? "more than 1000 operations" : "no operations or bad id");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const crm_batch_op_t *op = &ops[i];
        if (!method_ok(op->method) || !no_crlf(op->url) || !op->url[0]) {
            snprintf(errstr, errsz, "op %zu: bad method or url", i);
            return NULL;
        }
        if (op->changeset && strcmp(op->method, "GET") == 0) {
            snprintf(errstr, errsz, "op %zu: a GET cannot be in a change set", i);
            return NULL;
        }
        /* A change set's ops are consecutive: its id may not reappear later. */
        for (size_t j = 0; op->changeset && i > 0 && j < i - 1; j++)
            if (ops[j].changeset == op->changeset && ops[i - 1].changeset != op->changeset) {
                snprintf(errstr, errsz, "op %zu: change set %u is not consecutive", i,
                         op->changeset);
                return NULL;
            }
        if (op->url[0] == '$' && !op->changeset) {
            snprintf(errstr, errsz, "op %zu: a $n reference outside a change set", i);
            return NULL;
        }
    }
    if ((size_t)snprintf(content_type, ctsz, "multipart/mixed; boundary=batch_%s", id) >= ctsz) {
        snprintf(errstr, errsz, "content type buffer too small");
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        putf(&b, "--batch_%s\r\n", id);
        if (!ops[i].changeset) {
            put_op(&b, service_root, &ops[i], i);
            i++;
            continue;
        }
        unsigned cs = ops[i].changeset;
        putf(&b, "Content-Type: multipart/mixed; boundary=changeset_%s_%u\r\n\r\n", id, cs);
        for (; i < n && ops[i].changeset == cs; i++) {
            putf(&b, "--changeset_%s_%u\r\n", id, cs);
            put_op(&b, service_root, &ops[i], i);
        }
        putf(&b, "--changeset_%s_%u--\r\n", id, cs);
    }
    putf(&b, "--batch_%s--\r\n", id);
    if (b.err) {
        free(b.p);
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    if (out_len)
        *out_len = b.len;
    return b.p;
}

/* ---------------------------------------------------------------- decoder */

typedef struct {
    const char *p;
    size_t len;
} span_t;

static const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0 || hl < nl)
        return NULL;
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
            return h + i;
    return NULL;
}

/* The boundary parameter of a multipart Content-Type (quoted or not). */
static int boundary_of(const char *ctype, size_t ctlen, char out[CRM_BATCH_BOUNDARY_MAX])
{
    const char *p = NULL;
    for (size_t i = 0; i + 9 <= ctlen; i++)
        if (strncasecmp(ctype + i, "boundary=", 9) == 0) {
            p = ctype + i + 9;
            break;
        }
    if (!p)
        return -1;
    const char *end = ctype + ctlen;
    int quoted = p < end && *p == '"';
    p += quoted;
    size_t n = 0;
    while (p + n < end && p[n] != (quoted ? '"' : ';') && p[n] != '\r' && p[n] != '\n' &&
           (quoted || (p[n] != ' ' && p[n] != '\t')))
        n++;
    if (n == 0 || n >= CRM_BATCH_BOUNDARY_MAX)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Splits a header block ("A: b\r\nC: d") and finds `name`'s value. */
static int header(span_t block, const char *name, span_t *value)
{
    size_t nl = strlen(name);
    const char *p = block.p, *end = block.p + block.len;
    while (p < end) {
        const char *eol = find(p, (size_t)(end - p), "\r\n", 2);
        const char *line_end = eol ? eol : end;
        size_t ll = (size_t)(line_end - p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = line_end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            value->p = v;
            value->len = (size_t)(ve - v);
            return 1;
        }
        p = eol ? eol + 2 : end;
    }
    return 0;
}

static long span_long(span_t s, long max)
{
    long v = 0;
    if (s.len == 0 || s.len > 9)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (!isdigit((unsigned char)s.p[i]))
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    return v <= max ? v : -1;
}

/* Headers then body: split at the first blank line. */
static void split_head(span_t part, span_t *head, span_t *rest)
{
    if (part.len >= 2 && part.p[0] == '\r' && part.p[1] == '\n') {
        head->p = part.p;
        head->len = 0;
        rest->p = part.p + 2;
        rest->len = part.len - 2;
        return;
    }
    const char *sep = find(part.p, part.len, "\r\n\r\n", 4);
    if (!sep) {
        *head = part;
        rest->p = part.p + part.len;
        rest->len = 0;
        return;
    }
    head->p = part.p;
    head->len = (size_t)(sep - part.p);
    rest->p = sep + 4;
    rest->len = part.len - head->len - 4;
}

typedef struct {
    crm_batch_part_t *parts;
    size_t max, n;
    char *errstr;
    size_t errsz;
} sink_t;

static int fail(sink_t *s, const char *why)
{
    snprintf(s->errstr, s->errsz, "bad $batch response: %s", why);
    return -1;
}

/* One application/http part: MIME headers, then "HTTP/1.1 NNN ...", its
 * headers, its body. */
static int http_part(sink_t *s, span_t mime, span_t content, unsigned changeset)
{
    if (s->n == s->max)
        return fail(s, "more parts than expected");
    crm_batch_part_t *out = &s->parts[s->n];
    memset(out, 0, sizeof *out);
    out->changeset = changeset;
    out->content_id = -1;
    out->retry_after_s = -1;
    span_t v;
    if (header(mime, "Content-ID", &v))
        out->content_id = (int)span_long(v, 100000);
    if (content.len < 12 || memcmp(content.p, "HTTP/1.1 ", 9) != 0)
        return fail(s, "a part without an HTTP status line");
    span_t code = {content.p + 9, 3};
    long status = span_long(code, 599);
    if (status < 100 || (content.len > 12 && content.p[12] != ' ' && content.p[12] != '\r'))
        return fail(s, "a part with a bad status");
    out->status = (int)status;
    const char *eol = find(content.p, content.len, "\r\n", 2);
    span_t after = {content.p + content.len, 0};
    if (eol) {
        after.p = eol + 2;
        after.len = content.len - (size_t)(after.p - content.p);
    }
    span_t head, body;
    split_head(after, &head, &body);
    if (header(head, "OData-EntityId", &v) && v.len < sizeof out->entity_id) {
        memcpy(out->entity_id, v.p, v.len);
        out->entity_id[v.len] = '\0';
    }
    if (header(head, "Retry-After", &v))
        out->retry_after_s = span_long(v, 86400);
    /* The part's body ends where its delimiter's CRLF begins (already cut). */
    out->body = body.p;
    out->body_len = body.len;
    s->n++;
    return 0;
}

static int parts_of(sink_t *s, span_t all, const char *boundary, unsigned changeset, int depth,
                    unsigned *cs_seq);

static int one_part(sink_t *s, span_t part, unsigned changeset, int depth, unsigned *cs_seq)
{
    span_t mime, content;
    split_head(part, &mime, &content);
    span_t ctype;
    if (!header(mime, "Content-Type", &ctype))
        return fail(s, "a part without Content-Type");
    if (ctype.len >= 15 && strncasecmp(ctype.p, "multipart/mixed", 15) == 0) {
        char inner[CRM_BATCH_BOUNDARY_MAX];
        if (depth > 0)
            return fail(s, "a change set inside a change set");
        if (boundary_of(ctype.p, ctype.len, inner) != 0)
            return fail(s, "a change set without a boundary");
        return parts_of(s, content, inner, ++*cs_seq, depth + 1, cs_seq);
    }
    if (ctype.len < 16 || strncasecmp(ctype.p, "application/http", 16) != 0)
        return fail(s, "a part that is not application/http");
    return http_part(s, mime, content, changeset);
}

/* The parts between "--boundary" delimiter lines, up to "--boundary--". */
static int parts_of(sink_t *s, span_t all, const char *boundary, unsigned changeset, int depth,
                    unsigned *cs_seq)
{
    char delim[CRM_BATCH_BOUNDARY_MAX + 4];
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    const char *p = all.p, *end = all.p + all.len;
    /* The first delimiter may open the body or follow a preamble's CRLF. */
    const char *d = find(p, all.len, delim, (size_t)dl);
    if (!d || (d != p && (d - p < 2 || d[-2] != '\r' || d[-1] != '\n')))
        return fail(s, "no opening boundary");
    for (;;) {
        const char *after = d + dl;
        if (end - after >= 2 && after[0] == '-' && after[1] == '-')
            return 0; /* the close delimiter */
        if (end - after < 2 || after[0] != '\r' || after[1] != '\n')
            return fail(s, "a boundary not followed by a line end");
        const char *start = after + 2;
        /* The next delimiter is always at a line start: "\r\n--boundary". */
        char next[CRM_BATCH_BOUNDARY_MAX + 6];
        int nl = snprintf(next, sizeof next, "\r\n%s", delim);
        const char *nd = find(start, (size_t)(end - start), next, (size_t)nl);
        if (!nd)
            return fail(s, "no closing boundary");
        span_t part = {start, (size_t)(nd - start)};
        if (one_part(s, part, changeset, depth, cs_seq) != 0)
            return -1;
        d = nd + 2;
    }
}

int crm_batch_decode(const char *content_type, const char *body, size_t len,
                     crm_batch_part_t *parts, size_t max, size_t *n, char *errstr, size_t errsz)
{
    char boundary[CRM_BATCH_BOUNDARY_MAX];
    sink_t s = {parts, max, 0, errstr, errsz};
    unsigned cs_seq = 0;
    *n = 0;
    if (!body)
        return fail(&s, "no body");
    if (content_type) {
        if (boundary_of(content_type, strlen(content_type), boundary) != 0)
            return fail(&s, "Content-Type has no boundary");
    } else {
        /* "--<boundary>\r\n" on the first line. */
        const char *eol = find(body, len, "\r\n", 2);
        size_t bl = eol ? (size_t)(eol - body) : 0;
        if (bl < 3 || body[0] != '-' || body[1] != '-' || bl - 2 >= sizeof boundary)
            return fail(&s, "no boundary on the first line");
        memcpy(boundary, body + 2, bl - 2);
        boundary[bl - 2] = '\0';
    }
    span_t all = {body, len};
    if (parts_of(&s, all, boundary, 0, 0, &cs_seq) != 0)
        return -1;
    *n = s.n;
    return 0;
}

/* ---------------------------------------------------------------- outcome */

int crm_batch_outcome(const crm_batch_op_t *ops, size_t n, const crm_batch_part_t *parts,
                      size_t n_parts, int *status, int *part_of)
{
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        status[i] = 0;
        if (part_of)
            part_of[i] = -1;
    }
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        if (ops[i].changeset)
            while (i + k < n && ops[i + k].changeset == ops[i].changeset)
                k++;
        if (p == n_parts)
            return 0; /* the batch stopped: the rest did not run */
        if (!ops[i].changeset) {
            if (parts[p].changeset)
                return -1;
            status[i] = parts[p].status;
            if (part_of)
                part_of[i] = (int)p;
            p++;
        } else if (!parts[p].changeset) {
            /* A failed change set: one response for all of it, nothing applied. */
            if (parts[p].status < 400)
                return -1;
            for (size_t j = i; j < i + k; j++) {
                status[j] = parts[p].status;
                if (part_of)
                    part_of[j] = (int)p;
            }
            p++;
        } else {
            unsigned cs = parts[p].changeset;
            size_t q = p;
            while (q < n_parts && parts[q].changeset == cs)
                q++;
            if (q - p != k)
                return -1;
            /* Content-ID says which op a response is for; it is op index + 1. */
            for (size_t r = p; r < q; r++) {
                size_t op = parts[r].content_id > 0 ? (size_t)parts[r].content_id - 1 : i + (r - p);
                /* Out of this change set, or a second answer for one op (which
                 * would leave another op looking unrun, and resent though applied). */
                if (op < i || op >= i + k || status[op] != 0)
                    return -1;
                status[op] = parts[r].status;
                if (part_of)
                    part_of[op] = (int)r;
            }
            p = q;
        }
        i += k;
    }
    return p == n_parts ? 0 : -1;
}
