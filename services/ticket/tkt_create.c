/* Mark, then create or find; see tkt_create.h. */
#include "tkt_create.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    tkt_crm_t *crm;
    tkt_bulkcreate_t *bulk; /* NULL: created at once */
    int maybe_bulked;       /* an earlier attempt may have been a bulk creation */
    tkt_op_t op;
    tkt_create_done_fn cb;
    void *ctx;
} create_t;

static int is_contact(const create_t *c)
{
    return c->op.kind == TKT_OP_CREATE_CONTACT;
}

static void finish(create_t *c, const tkt_crm_result_t *res, const char *id, int existed)
{
    c->cb(c->ctx, res, id && *id ? id : NULL, existed);
    free(c);
}

static void on_created(void *ctx, const tkt_crm_result_t *res)
{
    create_t *c = ctx;
    const char *id = !res->ok        ? NULL
                     : is_contact(c) ? (res->n_contacts ? res->contacts[0].id : NULL)
                                     : res->ticket.id;
    finish(c, res, id, 0);
}

/* A bulk creation's outcome as the result a single creation would give:
 * a refusal the CRM meant (not retryable, surely not applied) reads as a
 * 422, so callers treat it as refused for good; the rest as no answer. */
static void on_bulk_created(void *ctx, const tkt_crm_item_t *item)
{
    create_t *c = ctx;
    static tkt_crm_result_t res; /* loop thread only; read-only for the callee */
    memset(&res, 0, sizeof res);
    res.ok = item->ok;
    res.http_status = item->ok ? 201 : item->retryable || item->maybe_applied ? 0 : 422;
    snprintf(res.error, sizeof res.error, "%s", item->error);
    finish(c, &res, item->ok ? item->ticket_id : NULL, 0);
}

static void create(create_t *c)
{
    tkt_crm_t *crm = c->crm;
    if (c->bulk && tkt_bulkcreate_add(c->bulk, &c->op, on_bulk_created, c) == 0)
        return;
    if (is_contact(c))
        crm->ops->create_contact(crm, c->op.phone, c->op.name, c->op.external_id, on_created, c);
    else
        crm->ops->create_ticket(crm, &c->op, on_created, c);
}

static void on_found(void *ctx, const tkt_crm_result_t *res)
{
    create_t *c = ctx;
    const char *id = NULL;
    if (!res->ok) {
        finish(c, res, NULL, 0);
        return;
    }
    if (is_contact(c) && res->n_contacts)
        id = res->contacts[0].id;
    else if (!is_contact(c) && res->n_tickets)
        id = res->tickets[0].id;
    if (id && *id) { /* an earlier attempt created it: not twice */
        finish(c, res, id, 1);
        return;
    }
    create(c);
}

static void find(create_t *c)
{
    tkt_crm_t *crm = c->crm;
    if (is_contact(c))
        crm->ops->find_contact_by_external_id(crm, c->op.external_id, on_found, c);
    else
        crm->ops->find_by_external_id(crm, c->op.external_id, on_found, c);
}

static void on_jobs_awaited(void *ctx, const tkt_crm_result_t *res)
{
    create_t *c = ctx;
    if (!res->ok) { /* still running, or unreadable: not created blind */
        finish(c, res, NULL, 0);
        return;
    }
    find(c);
}

static void on_intent(void *ctx, int fresh, const char *err)
{
    create_t *c = ctx;
    tkt_crm_t *crm = c->crm;
    if (err) {
        static tkt_crm_result_t failed; /* loop thread only; read-only for the callee */
        memset(&failed, 0, sizeof failed);
        snprintf(failed.error, sizeof failed.error, "%s", err);
        finish(c, &failed, NULL, 0);
        return;
    }
    if (fresh) {
        create(c);
        return;
    }
    /* An earlier bulk attempt's job may still be queued: its record is not
     * there to be found yet. The jobs listed as queued or working now. */
    if ((c->bulk || c->maybe_bulked) && crm->ops->await_jobs) {
        crm->ops->await_jobs(crm, NULL, 0, on_jobs_awaited, c);
        return;
    }
    find(c);
}

int tkt_create_once(tkt_crm_t *crm, tkt_store_t *store, const tkt_op_t *op, tkt_create_done_fn cb,
                    void *ctx)
{
    return tkt_create_once_bulk(crm, store, NULL, 0, op, cb, ctx);
}

int tkt_create_once_bulk(tkt_crm_t *crm, tkt_store_t *store, tkt_bulkcreate_t *bulk,
                         int maybe_bulked, const tkt_op_t *op, tkt_create_done_fn cb, void *ctx)
{
    if (op->kind != TKT_OP_CREATE_CONTACT && op->kind != TKT_OP_CREATE_TICKET)
        return -1;
    create_t *c = malloc(sizeof *c);
    if (!c)
        return -1;
    c->crm = crm;
    c->bulk = bulk;
    c->maybe_bulked = maybe_bulked;
    c->op = *op;
    c->cb = cb;
    c->ctx = ctx;
    if (!op->external_id[0]) {
        create(c);
        return 0;
    }
    if (tkt_store_intent(store, op->external_id, on_intent, c) < 0) {
        free(c);
        return -1;
    }
    return 0;
}
