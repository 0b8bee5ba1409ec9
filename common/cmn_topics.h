/* The topics of callbus and their creation. Names are fixed here (one place);
 * partition counts come from configuration. See docs/topics.md. */
#ifndef CMN_TOPICS_H
#define CMN_TOPICS_H

#include <stddef.h>

#define CMN_TOPIC_CALL_EVENTS "call-events" /* key: customer E.164 (call id if withheld) */
#define CMN_TOPIC_CALL_EVENTS_DLQ                                                                  \
    "call-events.dlq"                           /* key: provider; authenticated but unparseable */
#define CMN_TOPIC_TICKET_EVENTS "ticket-events" /* key: customer E.164 */
#define CMN_TOPIC_TICKET_DLQ                                                                       \
    "ticket-service.dlq" /* key: the source message's; events ticket-service gave up on */
#define CMN_TOPIC_MISSED_OPS "missed-call-ops"  /* key: customer E.164 */
#define CMN_TOPIC_AGENT_ACTIONS "agent-actions" /* key: customer E.164 */
#define CMN_TOPIC_SCREEN_POPS "screen-pops"     /* key: CRM agent id */
#define CMN_TOPIC_CRM_EVENTS "crm-events" /* key: the ticket's requester, else the ticket id */
#define CMN_TOPIC_CRM_USAGE "crm-usage"   /* key: the ticket-service instance (R-S1) */

/* Every topic name goes through cmn_topic(): a deployment may prefix them
 * all (CALLBUS_TOPIC_PREFIX, e.g. one cluster shared by several contact
 * centers, or one test run). Set once at start, before any use. */
void cmn_topics_set_prefix(const char *prefix);
/* The prefixed name of one of the topics above (borrowed, static). */
const char *cmn_topic(const char *name);

typedef struct {
    const char *name;
    int partitions;
    int replication; /* copies of each partition; 0: the broker's default.replication.factor */
    int min_insync;  /* min.insync.replicas; 0: the broker's own */
} cmn_topic_spec_t;

/* Creates the topics that do not exist yet; an existing topic is success
 * (its partition count is left as it is). Blocking, bounded by timeout_ms:
 * call it at start, before the loop runs. Returns 0 or -1 with errstr. */
int cmn_topics_ensure(const char *brokers, const cmn_topic_spec_t *topics, size_t n, int timeout_ms,
                      char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* Every callbus topic (prefixed) with the given partition count,
 * replication and min.insync.replicas (0: the broker's own; from
 * CALLBUS_TOPIC_REPLICATION / CALLBUS_TOPIC_MIN_INSYNC_REPLICAS). */
int cmn_topics_ensure_all(const char *brokers, int partitions, int replication, int min_insync,
                          int timeout_ms, char *errstr, size_t errsz)
    __attribute__((warn_unused_result));

#endif
