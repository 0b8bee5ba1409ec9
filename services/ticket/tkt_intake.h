/* ticket-service's Kafka intake: the consumer of call-events,
 * agent-actions, missed-call-ops and (CALLBUS_TICKET_CRM_EVENTS on)
 * crm-events, and what ties its messages to the
 * pipeline's jobs. Each message taken is held (cmn_held.h) until the
 * pipeline says it is done, then its offset may move; one the pipeline
 * cannot take now (no memory) is given back and fetched again; one that is
 * not a canonical event or action is skipped, logged and counted. Fetching
 * follows the pipeline's saturation. On a rebalance the events of a
 * leaving partition that have not started are handed to its next owner and
 * the batch windows go at once (issue 7 item 4); at shutdown those not
 * started are left to the next run.
 *
 * Loop thread only. The intake owns its consumer and the held messages;
 * the deps are borrowed and must outlive it. */
#ifndef TKT_INTAKE_H
#define TKT_INTAKE_H

#include "cmn_consumer.h"
#include "tkt_pipeline.h"

#include <event2/event.h>
#include <stddef.h>

typedef struct tkt_intake tkt_intake_t;

typedef struct {
    tkt_pipeline_t *pipeline;
    const tkt_policy_t *policy;
    tkt_batch_t *batch;
    tkt_bulkcreate_t *bulk_create; /* NULL: off */
    tkt_reads_t *status_reads;     /* NULL: off */
    tkt_crm_t *crm;                /* pop.unacknowledged's display (tkt_popfallback.h) */
    int pop_fallback;              /* CALLBUS_TICKET_POP_FALLBACK */
} tkt_intake_deps_t;

/* Registers its metrics. NULL out of memory. */
tkt_intake_t *tkt_intake_new(const tkt_intake_deps_t *deps) __attribute__((warn_unused_result));
/* Creates the consumer on base from opts (borrowed; its on_message,
 * on_revoke and ctx are the intake's, set here). -1 with errstr set. */
int tkt_intake_consume(tkt_intake_t *in, struct event_base *base, cmn_consumer_opts_t *opts,
                       char *errstr, size_t errsz) __attribute__((warn_unused_result));

/* Shutdown (a cmn_service_drain_t's stop): fetch no more, hand back what
 * has not started (a hot customer's backlog can be long), and send the
 * pending batch windows now (R-B2) instead of at their end. */
void tkt_intake_stop(tkt_intake_t *in);
/* Events whose effects are not yet durable (a drain's pending); anything a
 * late event put in a batch window goes at once too. */
size_t tkt_intake_pending(tkt_intake_t *in);
/* Commits the offsets stored for finished events and closes the consumer,
 * within timeout_ms (cmn_consumer_close_within): unfinished events are
 * replayed by the next owner. Later done messages only leave the list.
 * NULL-safe; idempotent. */
void tkt_intake_close(tkt_intake_t *in, int timeout_ms);
/* Frees the messages still held (unfinished at exit: replayed from Kafka
 * by the next owner) and the intake; after the pipeline, whose jobs point
 * at them. Closes the consumer first if still open. NULL-safe. */
void tkt_intake_free(tkt_intake_t *in);

/* A tkt_dead_letter_fn (tkt_pipeline_deps_t.dead_letter) for the events
 * the intake submitted: ctx is the cmn_producer_t the letter goes through
 * (borrowed), done_ctx the intake's held message (its source, key and
 * payload). */
void tkt_intake_dead_letter(void *ctx, void *done_ctx, const cmn_event_t *ev,
                            const tkt_dead_letter_t *dl, tkt_dead_letter_stored_fn stored,
                            void *job);

#endif
