/* The messages on missed-call-ops (schemas/missed-call-op.schema.json): the
 * grouper encodes them, ticket-service decodes them; this is their one
 * codec, so both sides hold the same rules.
 *   group.open     a missed call opens the customer's group (R-M1);
 *   group.add      a further missed call joins it (R-M2, `count` so far);
 *   group.status   set the group's ticket to a status (R-M3, explicit);
 *   group.reached  the customer was reached by call `call_id` (an answered
 *                  conversation, R-M2/R-M3): ticket-service, which knows
 *                  which ticket that call ended on, applies R-M3 (a)..(e).
 * Key on the topic: customer_number. Memory: plain struct, no heap. */
#ifndef CMN_MISSED_OP_H
#define CMN_MISSED_OP_H

#include "cmn_event.h"
#include "cmn_time.h"

#include <stddef.h>

#define CMN_MISSED_OP_KINDS(X)                                                                     \
    X(CMN_MOP_OPEN, "group.open")                                                                  \
    X(CMN_MOP_ADD, "group.add")                                                                    \
    X(CMN_MOP_STATUS, "group.status")                                                              \
    X(CMN_MOP_REACHED, "group.reached")

typedef enum {
    CMN_MOP_NONE = 0,
#define X(id, name) id,
    CMN_MISSED_OP_KINDS(X)
#undef X
} cmn_missed_op_kind_t;

#define CMN_E164_MAX 16 /* "+" and at most 15 digits */

typedef struct {
    cmn_missed_op_kind_t op;
    char op_id[CMN_ID_TEXT_MAX + 1];    /* derived from the causing event: replays repeat it */
    char group_id[CMN_ID_TEXT_MAX + 1]; /* the ticket's external id derives from it */
    char customer_number[CMN_E164_MAX + 1];
    char call_id[CMN_ID_TEXT_MAX + 1];        /* "" = absent */
    long count;                               /* 0 = absent */
    char assignee_crm_id[CMN_CRM_ID_MAX + 1]; /* "" = default user or no one (R-T11) */
    char status[8];                           /* "" = absent; open|pending|closed */
    int called_back;                          /* group.status: R-M3 (c) */
    char occurred_at[CMN_TIME_TEXT_MAX];      /* RFC 3339 */
    /* group.open: the provider's name of the customer (the call event's
     * customer_name, 1-128 characters), for the contact ticket-service
     * creates when the number has none (R-C2, issue 24 item 3). "" = absent */
    char customer_name[4 * 128 + 1];
} cmn_missed_op_t;

const char *cmn_missed_op_name(cmn_missed_op_kind_t k); /* "" for NONE */

/* Returns a new heap string (free()), NULL out of memory or when `op`
 * breaks the schema (a bug of the caller: nothing invalid goes out). */
char *cmn_missed_op_encode(const cmn_missed_op_t *op) __attribute__((warn_unused_result));

/* Strict decode: ids whole and visible ASCII (cmn_id_text_ok), the number
 * E.164, the fields each op requires present. Returns 0, or -1 with the
 * offending field named in err. */
int cmn_missed_op_decode(const char *text, size_t len, cmn_missed_op_t *op, char *err, size_t errsz)
    __attribute__((warn_unused_result));

#endif
