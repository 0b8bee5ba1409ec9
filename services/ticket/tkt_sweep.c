/* Calls whose end never came (docs/ticket-service.md, "Calls that never
 * end"): every 30 s (TKT_SWEEP_EVERY_MS, shorter in tests: tkt_config_sweep),
 * calls idle longer than max_call_age_ms are claimed with ZREM (one replica
 * each) and closed with a synthetic end through the same pipeline. See
 * tkt_job.h. */
#include "tkt_job.h"
#include "cmn_log.h"
#include "cmn_time.h"

#include <stdlib.h>
#include <string.h>

/* ---- calls that never end -------------------------------------------------- */

static void on_stale_call(void *ctx, const tkt_loaded_t *l, const char *err)
{
    tkt_pipeline_t *p = ctx;
    cmn_event_t ev;
    char id[CMN_EVENT_ID_MAX];
    if (err || !l->have_call)
        return;
    const char *parts[] = {"timeout", l->call.call_id};
    cmn_event_id_derive(id, sizeof id, "generic", parts, 2);
    cmn_event_init(&ev);
    ev.type = l->call.outbound ? CMN_EV_OUTBOUND_ENDED : CMN_EV_ENDED;
    ev.direction = l->call.outbound ? CMN_DIR_OUTBOUND : CMN_DIR_INBOUND;
    ev.outcome = tkt_call_outcome(&l->call);
    ev.occurred_at_ms = ev.received_at_ms = cmn_time_now_ms();
    if (cmn_event_set(&ev.event_id, id) < 0 || cmn_event_set(&ev.provider, "generic") < 0 ||
        cmn_event_set(&ev.call_id, l->call.call_id) < 0 ||
        (l->call.customer[0] && cmn_event_set(&ev.customer_number, l->call.customer) < 0) ||
        (l->call.queue[0] && cmn_event_set(&ev.queue, l->call.queue) < 0)) {
        cmn_event_clear(&ev);
        return;
    }
    LOG_CALL(CMN_LOG_WARN, ev.call_id, "no end after %lld s: closing the call with what is known",
             (long long)(p->d.max_call_age_ms / 1000));
    cmn_metric_add(p->m_timed_out, 1);
    if (tkt_pipeline_submit(p, &ev, NULL, NULL) < 0) {
        LOG_CALL(CMN_LOG_ERROR, ev.call_id, "out of memory: the stale call is not closed now");
        cmn_event_clear(&ev);
    }
}

typedef struct {
    tkt_pipeline_t *p;
    char call_id[TKT_CALL_ID_MAX];
} claim_t;

static void on_claim(void *ctx, int won, const char *err)
{
    claim_t *c = ctx;
    if (won && !err && tkt_store_load_call(c->p->d.store, c->call_id, on_stale_call, c->p) < 0)
        LOG_CALL(CMN_LOG_WARN, c->call_id, "stale call claimed but not loaded: redis unavailable");
    free(c);
}

static void on_stale_ids(void *ctx, const char *const *ids, size_t n, const char *err)
{
    tkt_pipeline_t *p = ctx;
    for (size_t i = 0; !err && i < n; i++) {
        claim_t *c = malloc(sizeof *c);
        if (!c)
            break;
        c->p = p;
        snprintf(c->call_id, sizeof c->call_id, "%s", ids[i]);
        if (tkt_store_claim_stale(p->d.store, ids[i], on_claim, c) < 0) {
            free(c);
            break;
        }
    }
}

void tkt_pipeline_sweep(tkt_pipeline_t *p)
{
    int64_t before = cmn_time_now_ms() - p->d.max_call_age_ms;
    if (tkt_store_stale_calls(p->d.store, before, 100, on_stale_ids, p) < 0)
        LOG_DEBUG("sweep skipped: redis unavailable");
}
