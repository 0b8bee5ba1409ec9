/* text/event-stream framing. */
#include "cmn_sse.h"

#include <stdlib.h>
#include <string.h>

static int has_break(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

/* Appends n bytes to out at *at (out is sized by the caller). */
static void put(char *out, size_t *at, const char *s, size_t n)
{
    memcpy(out + *at, s, n);
    *at += n;
}

char *cmn_sse_event(const char *id, const char *event, const char *data)
{
    if (has_break(id) || has_break(event) || !data)
        return NULL;
    size_t lines = 1;
    for (const char *p = data; *p; p++)
        lines += *p == '\n' || (*p == '\r' && p[1] != '\n');
    /* "id: " + "\n", "event: " + "\n", per line "data: " + "\n", final "\n". */
    size_t cap =
        (id ? strlen(id) + 5 : 0) + (event ? strlen(event) + 8 : 0) + strlen(data) + lines * 7 + 2;
    char *out = malloc(cap);
    size_t at = 0;
    if (!out)
        return NULL;
    if (id) {
        put(out, &at, "id: ", 4);
        put(out, &at, id, strlen(id));
        put(out, &at, "\n", 1);
    }
    if (event) {
        put(out, &at, "event: ", 7);
        put(out, &at, event, strlen(event));
        put(out, &at, "\n", 1);
    }
    const char *p = data;
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        put(out, &at, "data: ", 6);
        put(out, &at, p, n);
        put(out, &at, "\n", 1);
        p += n;
        if (!*p)
            break;
        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
    }
    put(out, &at, "\n", 1);
    out[at] = '\0';
    return out;
}

char *cmn_sse_comment(const char *text)
{
    if (!text || has_break(text))
        return NULL;
    size_t n = strlen(text);
    char *out = malloc(n + 5);
    if (!out)
        return NULL;
    memcpy(out, ": ", 2);
    memcpy(out + 2, text, n);
    memcpy(out + 2 + n, "\n\n", 3);
    return out;
}
