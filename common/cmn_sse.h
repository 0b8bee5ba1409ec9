/* Server-Sent Events framing (the text/event-stream format of the HTML
 * standard): one event as `id:`, `event:` and one `data:` line per line of
 * its data, ended by a blank line; comments (`: ...`) keep idle streams
 * alive through proxies. Pure: no I/O, so it is tested alone
 * (tests/common/unit/test_sse.c); cmn_http_stream_* carries the bytes. */
#ifndef CMN_SSE_H
#define CMN_SSE_H

#include <stddef.h>

/* Returns a new heap string (the caller frees it), or NULL out of memory.
 * id and event may be NULL; a CR or LF in them would end the field early,
 * so they are refused (NULL). data's lines (LF, CRLF or CR separated) each
 * become a data: line, so a client reassembles data exactly. */
char *cmn_sse_event(const char *id, const char *event, const char *data);

/* A comment line ": text\n\n" (text without line breaks), as a new heap
 * string. */
char *cmn_sse_comment(const char *text);

#endif
