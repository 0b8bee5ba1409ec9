/* Intent from other services, carried out by ticket-service (the only CRM
 * writer) through the same pipeline as call events, so it is ordered with
 * the customer's calls, replay-safe and batched alike:
 *   agent-actions     (pop-service): contact picked (R-C4), call re-targeted
 *                     to another ticket or to a new one (R-P6); each first
 *                     checked against the call (a candidate contact, the
 *                     customer's writable ticket): a refusal is a rejected
 *                     decision, counted in ticket_agent_actions_refused_total;
 *   missed-call-ops   (the grouper): open a missed-call ticket (R-M1), add a
 *                     missed call to it (R-M2), change its status (R-M3).
 * Schemas: schemas/agent-action.schema.json, schemas/missed-call-op.schema.json.
 * This module decodes and submits; what each one does is the rules'
 * (tkt_decide_action in tkt_rules.h), with the message's occurred_at as the
 * decision's clock; refusals are counted here. */
#ifndef TKT_ACTIONS_H
#define TKT_ACTIONS_H

#include "tkt_pipeline.h"

typedef enum { TKT_ACTIONS_AGENT, TKT_ACTIONS_MISSED } tkt_actions_kind_t;

/* Decodes one message and submits its job; cb is called when its effects
 * are durable. Returns -1 (err set, cb not called) for a message that does
 * not follow its schema, TKT_ACTIONS_NOT_NOW when there is no memory to
 * take it now (hold its offset and offer it again). */
#define TKT_ACTIONS_NOT_NOW (-2)
int tkt_actions_submit(tkt_pipeline_t *p, const tkt_policy_t *pol, tkt_actions_kind_t kind,
                       const char *payload, size_t len, tkt_pipeline_done_fn cb, void *ctx,
                       char *err, size_t errsz) __attribute__((warn_unused_result));

/* The decision alone, for tests: decodes `payload` and decides on the
 * given state like the pipeline would. -1 with err for a bad message. */
int tkt_actions_decide_message(const tkt_policy_t *pol, tkt_actions_kind_t kind,
                               const char *payload, size_t len, const tkt_call_t *call,
                               const tkt_customer_t *customer, const tkt_facts_t *facts,
                               tkt_plan_t *out, char *err, size_t errsz);

#endif
