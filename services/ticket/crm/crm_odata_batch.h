/* OData v4 $batch (multipart/mixed, OData 4.0 part 1 section 11.7) as
 * Dataverse takes it: an encoder for a batch of operations, some grouped
 * into change sets (atomic: all applied or none), and a decoder of the
 * answer with one result per part, so a flush can tell exactly which
 * operations were applied (R-B3: retry only the failed ones).
 *
 * Pure, no I/O. The encoder returns a new string (free()); the decoder
 * fills caller storage and borrows the response (a part's body points into
 * it). Neither trusts its input: the decoder bounds every count and string
 * and is fuzzed (tests/ticket/unit/fuzz_odata_batch.c). */
#ifndef CRM_ODATA_BATCH_H
#define CRM_ODATA_BATCH_H

#include <stddef.h>

#define CRM_BATCH_MAX_OPS 1000    /* Dataverse: at most 1,000 requests in a batch */
#define CRM_BATCH_BOUNDARY_MAX 72 /* RFC 2046: a boundary is at most 70 characters */

typedef struct {
    const char *method; /* GET, POST, PATCH, PUT, DELETE */
    /* Relative to the service root ("incidents", "incidents(<guid>)") or
     * absolute; in a change set "$<n>" names the record the op with
     * Content-ID n created earlier in the same change set. */
    const char *url;
    const char *body; /* JSON, or NULL */
    /* 0: a request of its own. n > 0: member of change set n; the ops of one
     * change set must be consecutive, and a change set holds no GET. */
    unsigned changeset;
} crm_batch_op_t;

/* Encodes ops[0..n) against `service_root` (the Web API root used in the
 * parts' request lines, "https://org.api.crm.dynamics.com/api/data/v9.2").
 * `id` makes the boundaries (batch_<id>, changeset_<id>_<n>): letters,
 * digits, '-' and '_', at most 40. Every op of a change set gets Content-ID
 * = its index + 1 (unique in the batch). Writes the request's Content-Type
 * value into content_type. Returns a new string, or NULL when the ops
 * break a rule above (errstr says which) or out of memory. */
char *crm_batch_encode(const char *service_root, const crm_batch_op_t *ops, size_t n,
                       const char *id, char *content_type, size_t ctsz, size_t *out_len,
                       char *errstr, size_t errsz) __attribute__((warn_unused_result));

typedef struct {
    int status;          /* HTTP status of the part's response */
    unsigned changeset;  /* 0, or the ordinal (1, 2, ...) of the change set it answered in */
    int content_id;      /* Content-ID, -1 when none or not a number */
    char entity_id[512]; /* OData-EntityId header, "" when none (or too long) */
    long retry_after_s;  /* Retry-After (delta seconds), -1 when none */
    const char *body;    /* borrowed from the response; body_len bytes */
    size_t body_len;
} crm_batch_part_t;

/* Decodes a $batch response. `content_type` is the response's Content-Type
 * (its boundary is used); NULL: the boundary is read from the body's first
 * line. Parts in order, nested change-set responses flattened (their
 * `changeset` set). 0, or -1 with errstr (not multipart, a part without a
 * status line, more than `max` parts ...). */
int crm_batch_decode(const char *content_type, const char *body, size_t len,
                     crm_batch_part_t *parts, size_t max, size_t *n, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

/* What became of each op, given the request and the decoded answer:
 * status[i] = the HTTP status for ops[i]; a change set that failed is
 * answered by one part, and every op of it gets that part's status (rolled
 * back, nothing applied); an op no part answers (the batch stopped at an
 * earlier failure) gets 0 = not run, safe to send again. part_of[i] (NULL
 * allowed) = index of the part that answered ops[i], or -1. 0, or -1 when
 * the answer cannot belong to the request (more parts than ops, a change
 * set's parts out of place). */
int crm_batch_outcome(const crm_batch_op_t *ops, size_t n, const crm_batch_part_t *parts,
                      size_t n_parts, int *status, int *part_of)
    __attribute__((warn_unused_result));

#endif
