/* The Dynamics 365 adapter (crm_dyn.c) against the Dynamics emulator
 * (tests/emulators/dynamics, started by with_emulator.py): every op of
 * tkt_crm_ops_t through the layer, creation safety by our own keys
 * (duplicate key read back, recovery by key), a $batch with one case's
 * change set refused and the others applied (R-B3), a 429 with
 * Retry-After pausing requests, a 401 refreshing the token once, and
 * shutdown ending pending ops once. */
#include "test.h"
#include "dyn_emu_ctl.h"
#include "crm_dyn.h"
#include "crm_odata.h"
#include "tkt_model.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static struct {
    const char *url;
    struct event_base *base;
    tkt_crm_t *crm;
    char agent[CRM_GUID_MAX], app_user[CRM_GUID_MAX];
} G;

/* Requests in the log whose path holds `part` (method NULL: any) with `status` (0: any). */
static size_t count_log(const char *method, const char *part, int status)
{
    json_t *log = ctl("requests", NULL);
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(json_object_get(log, "requests"), i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *m = json_string_value(json_object_get(e, "method"));
        if (p && strstr(p, part) && (!method || (m && strcmp(m, method) == 0)) &&
            (!status || json_integer_value(json_object_get(e, "status")) == status))
            n++;
    }
    json_decref(log);
    return n;
}

/* A row of the emulator's table (new ref) by key, or NULL. */
static json_t *row(const char *table, const char *key_name, const char *key)
{
    json_t *st = ctl("state", NULL);
    size_t i;
    json_t *r, *found = NULL;
    json_array_foreach(json_object_get(st, table), i, r)
    {
        const char *k = json_string_value(json_object_get(r, key_name));
        if (k && strcmp(k, key) == 0)
            found = json_incref(r);
    }
    json_decref(st);
    return found;
}

static size_t notes_of(const char *case_id, const char *needle)
{
    json_t *st = ctl("state", NULL);
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(json_object_get(st, "annotation"), i, r)
    {
        const char *o = json_string_value(json_object_get(r, "_objectid_value"));
        const char *t = json_string_value(json_object_get(r, "notetext"));
        if (o && strcmp(o, case_id) == 0 && (!needle || (t && strstr(t, needle))))
            n++;
    }
    json_decref(st);
    return n;
}

/* ----------------------------------------------------------- the loop */

typedef struct {
    int done;
    tkt_crm_result_t res;
    tkt_crm_ticket_t tickets[TKT_CRM_MAX_LIST];
    tkt_crm_item_t items[TKT_CRM_MAX_BULK];
} got_t;

static void on_res(void *ctx, const tkt_crm_result_t *r)
{
    got_t *g = ctx;
    g->done++;
    g->res = *r;
    if (r->n_tickets)
        memcpy(g->tickets, r->tickets, r->n_tickets * sizeof r->tickets[0]);
    if (r->n_items)
        memcpy(g->items, r->items, r->n_items * sizeof r->items[0]);
    g->res.tickets = NULL, g->res.items = NULL, g->res.field_ids = NULL;
}

static void run_until(int *done)
{
    for (int i = 0; i < 5000 && !*done; i++)
        event_base_loop(G.base, EVLOOP_ONCE);
}

/* CALLBUS_DYNAMICS_MARKER_COLUMN of the adapters made next. */
static const char *marker_column = "new_callbusmarkers";

/* withheld: CALLBUS_DYNAMICS_WITHHELD_CONTACT (NULL: not set). */
static tkt_crm_t *new_crm_with(int rate_window_ms, const char *withheld)
{
    crm_dyn_cfg_t cfg = {.url = G.url,
                         .withheld_contact = withheld,
                         .marker_column = marker_column,
                         .authority = G.url,
                         .tenant_id = getenv("DYN_TENANT"),
                         .client_id = getenv("DYN_CLIENT_ID"),
                         .client_secret = getenv("DYN_CLIENT_SECRET"),
                         .lookup_form = CMN_PHONE_LOOKUP_NATIONAL,
                         .country = cmn_phone_country("IT"),
                         .rate_window_ms = rate_window_ms,
                         .backoff_base_ms = 50,
                         .backoff_max_ms = 200,
                         .max_in_flight = 100};
    char err[256];
    tkt_crm_t *crm = crm_dyn_new(G.base, &cfg, err, sizeof err);
    if (!crm)
        fprintf(stderr, "crm_dyn_new: %s\n", err);
    return crm;
}

static tkt_crm_t *new_crm(int rate_window_ms)
{
    return new_crm_with(rate_window_ms, NULL);
}

static tkt_op_t case_op(const char *contact, const char *ext, const char *subject, const char *body)
{
    tkt_op_t o = {.kind = TKT_OP_CREATE_TICKET, .status = TKT_ST_OPEN};
    snprintf(o.requester_id, sizeof o.requester_id, "%s", contact);
    snprintf(o.external_id, sizeof o.external_id, "%s", ext);
    snprintf(o.subject, sizeof o.subject, "%s", subject);
    snprintf(o.body, sizeof o.body, "%s", body);
    return o;
}

static const char *seed_contact(const char *json, char out[CRM_GUID_MAX])
{
    json_t *c = ctl("seed/contact", json);
    snprintf(out, CRM_GUID_MAX, "%s", json_string_value(json_object_get(c, "contactid")));
    json_decref(c);
    return out;
}

static got_t create_case(const char *contact, const char *ext, const char *body)
{
    got_t g = {0};
    tkt_op_t o = case_op(contact, ext, "Call from 0612345678", body);
    G.crm->ops->create_ticket(G.crm, &o, on_res, &g);
    run_until(&g.done);
    return g;
}

/* -------------------------------------------------------------- tests */

static void test_contacts_by_phone_create_and_recover(void)
{
    char cid[CRM_GUID_MAX];
    seed_contact("{\"firstname\":\"Maria\",\"lastname\":\"Rossi\",\"mobilephone\":\"0611111111\"}",
                 cid);
    got_t g = {0};
    G.crm->ops->find_contacts(G.crm, "+390611111111", TKT_PRIO_INTERACTIVE, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_INT(g.res.n_contacts, 1);
    ASSERT_EQ_STR(g.res.contacts[0].id, cid);
    ASSERT_EQ_STR(g.res.contacts[0].name, "Maria Rossi");

    /* Not yet created: recovery by our key finds none, and that is ok. */
    got_t none = {0};
    G.crm->ops->find_contact_by_external_id(G.crm, "callbus-contact-1", on_res, &none);
    run_until(&none.done);
    ASSERT_TRUE(none.res.ok);
    ASSERT_EQ_INT(none.res.n_contacts, 0);

    got_t c = {0};
    G.crm->ops->create_contact(G.crm, "+390622222222", NULL, "callbus-contact-1", on_res, &c);
    run_until(&c.done);
    ASSERT_TRUE(c.res.ok);
    ASSERT_EQ_INT(c.res.n_contacts, 1);
    char want[CRM_GUID_MAX];
    ASSERT_EQ_INT(
        crm_odata_guid_from_name("5b0c6f4e-3a8d-5c1e-9f27-ca11b0500001", "callbus-contact-1", want),
        0);
    ASSERT_EQ_STR(c.res.contacts[0].id, want); /* our key */
    json_t *r = row("contact", "contactid", want);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "telephone1")), "0622222222");
    json_decref(r);

    /* Sent again (an answer lost): refused as a duplicate key, read back. */
    got_t again = {0};
    G.crm->ops->create_contact(G.crm, "+390622222222", NULL, "callbus-contact-1", on_res, &again);
    run_until(&again.done);
    ASSERT_TRUE(again.res.ok);
    ASSERT_EQ_STR(again.res.contacts[0].id, want);
    ASSERT_EQ_INT(count_log("POST", "/contacts", 412), 1);

    got_t found = {0};
    G.crm->ops->find_contact_by_external_id(G.crm, "callbus-contact-1", on_res, &found);
    run_until(&found.done);
    ASSERT_TRUE(found.res.ok);
    ASSERT_EQ_INT(found.res.n_contacts, 1);
    ASSERT_EQ_STR(found.res.contacts[0].id, want);

    got_t bad = {0};
    G.crm->ops->find_contacts(G.crm, "not a number", TKT_PRIO_INTERACTIVE, on_res, &bad);
    ASSERT_EQ_INT(bad.done, 0);
    run_until(&bad.done);
    ASSERT_TRUE(!bad.res.ok);
}

/* R-I2: the pipeline passes the number in the look-up form; one such as
 * "30777100001" (an Italian national number whose digits also read as a
 * Greek "+30..." one) is searched and stored as it is. Before, the adapter
 * turned the form back into an E.164 number, found none for such digits, and
 * failed the look-up on every retry: the customer's calls were held. */
static void test_lookup_form_taken_as_given(void)
{
    char cid[CRM_GUID_MAX];
    seed_contact("{\"lastname\":\"Greco\",\"telephone1\":\"30777100001\"}", cid);
    got_t g = {0};
    G.crm->ops->find_contacts(G.crm, "30777100001", TKT_PRIO_INTERACTIVE, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_INT(g.res.n_contacts, 1);
    ASSERT_EQ_STR(g.res.contacts[0].id, cid);

    got_t c = {0};
    G.crm->ops->create_contact(G.crm, "30777100002", NULL, "callbus-contact-form", on_res, &c);
    run_until(&c.done);
    ASSERT_TRUE(c.res.ok);
    ASSERT_EQ_INT(c.res.n_contacts, 1);
    json_t *r = row("contact", "contactid", c.res.contacts[0].id);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "telephone1")), "30777100002");
    json_decref(r);
}

/* Issue 19 item 4: a withheld-number call has no contact, and a case needs
 * a customer. Without CALLBUS_DYNAMICS_WITHHELD_CONTACT its case is refused
 * before any request, as a refusal (res.refused: permanent, dead-lettered,
 * never retried); with it, the case is made for that contact. A look-up
 * form the adapter cannot send is refused the same way. */
static void test_withheld_number_case_goes_to_the_placeholder_contact(void)
{
    size_t sent = crm_dyn_requests_sent(G.crm);
    got_t no = create_case("", "callbus-withheld-1", "Inbound call [callbus w1/1]");
    ASSERT_TRUE(!no.res.ok);
    ASSERT_TRUE(no.res.refused);
    ASSERT_TRUE(strstr(no.res.error, "CALLBUS_DYNAMICS_WITHHELD_CONTACT") != NULL);
    got_t bad = {0};
    G.crm->ops->find_contacts(G.crm, "not a number", TKT_PRIO_CREATE, on_res, &bad);
    run_until(&bad.done);
    ASSERT_TRUE(!bad.res.ok);
    ASSERT_TRUE(bad.res.refused);
    ASSERT_EQ_INT(crm_dyn_requests_sent(G.crm), sent); /* refused before any request */

    char placeholder[CRM_GUID_MAX];
    seed_contact("{\"lastname\":\"Withheld number\"}", placeholder);
    ASSERT_TRUE(new_crm_with(0, "not-a-guid") == NULL); /* a typo stops the start */
    tkt_crm_t *own = G.crm;
    G.crm = new_crm_with(0, placeholder);
    ASSERT_TRUE(G.crm != NULL);
    got_t g = create_case("", "callbus-withheld-2", "Inbound call [callbus w2/1]");
    tkt_crm_t *with = G.crm;
    G.crm = own;
    with->ops->free(with);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_STR(g.res.ticket.requester_id, placeholder);
    json_t *r = row("incident", "incidentid", g.res.ticket.id);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "_customerid_value")), placeholder);
    json_decref(r);
}

static void test_case_create_show_latest_and_recover(void)
{
    char cid[CRM_GUID_MAX];
    seed_contact("{\"lastname\":\"Bianchi\",\"telephone1\":\"0633333333\"}", cid);
    got_t none = {0};
    G.crm->ops->find_by_external_id(G.crm, "callbus-case-1", on_res, &none);
    run_until(&none.done);
    ASSERT_TRUE(none.res.ok);
    ASSERT_EQ_INT(none.res.n_tickets, 0);

    got_t g = create_case(cid, "callbus-case-1", "Inbound call [callbus e1/1]");
    ASSERT_TRUE(g.res.ok);
    ASSERT_TRUE(crm_odata_guid_valid(g.res.ticket.id));
    ASSERT_EQ_INT(g.res.ticket.status, TKT_ST_OPEN);
    ASSERT_EQ_STR(g.res.ticket.requester_id, cid);
    /* The first comment is a note keeping our marker. */
    ASSERT_EQ_INT(notes_of(g.res.ticket.id, "[callbus e1/1]"), 1);
    json_t *r = row("incident", "incidentid", g.res.ticket.id);
    ASSERT_EQ_INT(json_integer_value(json_object_get(r, "caseorigincode")), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "_ownerid_value")), G.app_user);
    json_decref(r);

    got_t dup = create_case(cid, "callbus-case-1", "Inbound call [callbus e1/1]");
    ASSERT_TRUE(dup.res.ok);
    ASSERT_EQ_STR(dup.res.ticket.id, g.res.ticket.id); /* no second case */

    got_t f = {0};
    G.crm->ops->find_by_external_id(G.crm, "callbus-case-1", on_res, &f);
    run_until(&f.done);
    ASSERT_TRUE(f.res.ok);
    ASSERT_EQ_INT(f.res.n_tickets, 1);
    ASSERT_EQ_STR(f.tickets[0].id, g.res.ticket.id);

    got_t s = {0};
    G.crm->ops->show_ticket(G.crm, g.res.ticket.id, TKT_PRIO_ENRICH, on_res, &s);
    run_until(&s.done);
    ASSERT_TRUE(s.res.ok);
    ASSERT_EQ_STR(s.res.ticket.subject, "Call from 0612345678");

    got_t l = {0};
    G.crm->ops->contact_tickets(G.crm, cid, TKT_PRIO_INTERACTIVE, on_res, &l);
    run_until(&l.done);
    ASSERT_TRUE(l.res.ok);
    ASSERT_EQ_INT(l.res.n_tickets, 1);
    ASSERT_EQ_STR(l.tickets[0].id, g.res.ticket.id);

    char url[512];
    G.crm->ops->ticket_url(G.crm, g.res.ticket.id, url, sizeof url);
    char want[512];
    snprintf(want, sizeof want, "%s/main.aspx?pagetype=entityrecord&etn=incident&id=%s", G.url,
             g.res.ticket.id);
    ASSERT_EQ_STR(url, want);
    G.crm->ops->contact_url(G.crm, cid, url, sizeof url);
    snprintf(want, sizeof want, "%s/main.aspx?pagetype=entityrecord&etn=contact&id=%s", G.url, cid);
    ASSERT_EQ_STR(url, want);
    ASSERT_TRUE(G.crm->ops->valid_ticket_id(G.crm, g.res.ticket.id));
    ASSERT_TRUE(!G.crm->ops->valid_ticket_id(G.crm, "12345"));
}

static void test_update_comment_owner_status_close(void)
{
    char cid[CRM_GUID_MAX];
    seed_contact("{\"lastname\":\"Verdi\",\"telephone1\":\"0644444444\"}", cid);
    got_t c = create_case(cid, "callbus-case-2", "");
    ASSERT_TRUE(c.res.ok);
    const char *id = c.res.ticket.id;

    tkt_op_t o = {.kind = TKT_OP_COMMENT};
    snprintf(o.ticket_id, sizeof o.ticket_id, "%s", id);
    snprintf(o.body, sizeof o.body, "Call ended [callbus e2/1]");
    got_t g = {0};
    G.crm->ops->update_ticket(G.crm, &o, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_INT(notes_of(id, "[callbus e2/1]"), 1);

    got_t m = {0};
    G.crm->ops->has_marker(G.crm, id, "[callbus e2/1]", on_res, &m);
    run_until(&m.done);
    ASSERT_TRUE(m.res.ok && m.res.marker_found);
    got_t m2 = {0};
    G.crm->ops->has_marker(G.crm, id, "[callbus e9/9]", on_res, &m2);
    run_until(&m2.done);
    ASSERT_TRUE(m2.res.ok && !m2.res.marker_found);

    tkt_op_t u = {.kind = TKT_OP_UPDATE, .status = TKT_ST_HOLD, .set_assignee = 1};
    snprintf(u.ticket_id, sizeof u.ticket_id, "%s", id);
    snprintf(u.assignee_id, sizeof u.assignee_id, "%s", G.agent);
    got_t ug = {0};
    G.crm->ops->update_ticket(G.crm, &u, on_res, &ug);
    run_until(&ug.done);
    ASSERT_TRUE(ug.res.ok);
    json_t *r = row("incident", "incidentid", id);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "_ownerid_value")), G.agent);
    ASSERT_EQ_INT(json_integer_value(json_object_get(r, "statuscode")), 2);
    json_decref(r);

    /* Unassigned = owned by the application user. */
    u.assignee_id[0] = '\0';
    u.status = TKT_ST_UNKNOWN;
    got_t un = {0};
    G.crm->ops->update_ticket(G.crm, &u, on_res, &un);
    run_until(&un.done);
    ASSERT_TRUE(un.res.ok);
    r = row("incident", "incidentid", id);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "_ownerid_value")), G.app_user);
    json_decref(r);

    tkt_op_t s = {.kind = TKT_OP_UPDATE, .status = TKT_ST_SOLVED};
    snprintf(s.ticket_id, sizeof s.ticket_id, "%s", id);
    snprintf(s.body, sizeof s.body, "Solved [callbus e2/2]");
    got_t sg = {0};
    G.crm->ops->update_ticket(G.crm, &s, on_res, &sg);
    run_until(&sg.done);
    ASSERT_TRUE(sg.res.ok);
    const char *ids[] = {id, "00000000-0000-4000-8000-000000000001"};
    got_t st = {0};
    G.crm->ops->ticket_statuses(G.crm, ids, 2, on_res, &st);
    run_until(&st.done);
    ASSERT_TRUE(st.res.ok);
    ASSERT_EQ_INT(st.res.n_items, 2);
    ASSERT_EQ_INT(st.items[0].status, TKT_ST_SOLVED);
    ASSERT_TRUE(st.items[0].closed);
    ASSERT_TRUE(st.items[1].closed); /* gone: never written to */

    /* A resolved case refuses changes: the closed path. */
    got_t late = {0};
    u.status = TKT_ST_HOLD;
    G.crm->ops->update_ticket(G.crm, &u, on_res, &late);
    run_until(&late.done);
    ASSERT_TRUE(!late.res.ok);
    ASSERT_TRUE(late.res.closed);
}

static void test_batch_partial_failure(void)
{
    char cid[CRM_GUID_MAX];
    seed_contact("{\"lastname\":\"Neri\",\"telephone1\":\"0655555555\"}", cid);
    got_t a = create_case(cid, "callbus-case-3a", ""), b = create_case(cid, "callbus-case-3b", ""),
          c = create_case(cid, "callbus-case-3c", "");
    ASSERT_TRUE(a.res.ok && b.res.ok && c.res.ok);
    tkt_op_t ops[4] = {{.kind = TKT_OP_COMMENT},
                       {.kind = TKT_OP_UPDATE, .status = TKT_ST_PENDING},
                       {.kind = TKT_OP_COMMENT},
                       {.kind = TKT_OP_COMMENT}};
    snprintf(ops[0].ticket_id, sizeof ops[0].ticket_id, "%s", a.res.ticket.id);
    snprintf(ops[0].body, sizeof ops[0].body, "A [callbus e3/1]");
    snprintf(ops[1].ticket_id, sizeof ops[1].ticket_id, "%s", b.res.ticket.id);
    snprintf(ops[1].body, sizeof ops[1].body, "B [callbus e3/2]");
    snprintf(ops[2].ticket_id, sizeof ops[2].ticket_id, "%s", c.res.ticket.id);
    snprintf(ops[2].body, sizeof ops[2].body, "C [callbus e3/3]");
    snprintf(ops[3].ticket_id, sizeof ops[3].ticket_id, "not-a-guid");
    snprintf(ops[3].body, sizeof ops[3].body, "D");
    /* b's PATCH fails inside the batch: its change set (note too) rolls back. */
    char rule[256];
    snprintf(rule, sizeof rule,
             "{\"inject\":[{\"method\":\"PATCH\",\"path_regex\":\"incidents\\\\(%s\\\\)\","
             "\"status\":503,\"count\":1}]}",
             b.res.ticket.id);
    ctl_ok("config", rule);
    size_t batches = count_log("POST", "/$batch", 0);
    got_t g = {0};
    G.crm->ops->bulk_update(G.crm, ops, 4, NULL, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_INT(g.res.n_items, 4);
    ASSERT_TRUE(g.items[0].ok && g.items[2].ok);
    ASSERT_TRUE(!g.items[1].ok && g.items[1].retryable && !g.items[1].maybe_applied);
    ASSERT_TRUE(!g.items[3].ok && !g.items[3].retryable);
    ASSERT_EQ_INT(count_log("POST", "/$batch", 0) - batches, 1); /* one exchange */
    ASSERT_EQ_INT(notes_of(a.res.ticket.id, "[callbus e3/1]"), 1);
    ASSERT_EQ_INT(notes_of(b.res.ticket.id, "[callbus e3/2]"), 0);
    ASSERT_EQ_INT(notes_of(c.res.ticket.id, "[callbus e3/3]"), 1);

    /* No answer at all: every sent item maybe applied, never re-sent blind. */
    ctl_ok("config", "{\"inject\":[{\"path_regex\":\"\\\\$batch$\",\"status\":503,\"count\":1}]}");
    batches = count_log("POST", "/$batch", 0);
    got_t lost = {0};
    G.crm->ops->bulk_update(G.crm, ops, 3, NULL, on_res, &lost);
    run_until(&lost.done);
    ASSERT_TRUE(!lost.res.ok);
    ASSERT_TRUE(lost.items[0].maybe_applied && lost.items[1].maybe_applied);
    ASSERT_EQ_INT(count_log("POST", "/$batch", 0) - batches, 1);
}

static void test_429_pauses_then_goes_on(void)
{
    ctl_ok("config", "{\"inject\":[{\"path_regex\":\"/contacts$\",\"status\":429,"
                     "\"retry_after\":1,\"count\":1}]}");
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    got_t g = {0};
    G.crm->ops->find_contacts(G.crm, "+390611111111", TKT_PRIO_INTERACTIVE, on_res, &g);
    run_until(&g.done);
    gettimeofday(&t1, NULL);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_INT(g.res.n_contacts, 1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    ASSERT_TRUE(ms >= 900); /* waited its Retry-After */
}

static void test_401_refreshes_token_once(void)
{
    size_t before = crm_dyn_token_fetch_count(G.crm);
    ctl_ok("config", "{\"expire_tokens\":true}");
    got_t g = {0};
    G.crm->ops->find_contacts(G.crm, "+390611111111", TKT_PRIO_INTERACTIVE, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_INT(crm_dyn_token_fetch_count(G.crm) - before, 1);
    ASSERT_TRUE(!G.crm->ops->auth_failing(G.crm));
}

/* No display API (NULL ops: callers count "no channel", issue 22 item 4). */
/* What list_fields gave (its ids are the result's, gone after the callback). */
typedef struct {
    int done, ok, title, custom, lookup_value;
    size_t n;
} fields_got_t;

static void on_fields(void *ctx, const tkt_crm_result_t *r)
{
    fields_got_t *g = ctx;
    g->done++;
    g->ok = r->ok;
    g->n = r->n_field_ids;
    for (size_t i = 0; i < r->n_field_ids; i++) {
        g->title |= strcmp(r->field_ids[i], "title") == 0;
        g->custom |= strcmp(r->field_ids[i], "new_callduration") == 0;
        g->lookup_value |= strcmp(r->field_ids[i], "_customerid_value") == 0;
    }
}

static void field(tkt_op_t *o, const char *column, const char *value)
{
    snprintf(o->fields[o->n_fields].field_id, sizeof o->fields[0].field_id, "%s", column);
    snprintf(o->fields[o->n_fields++].value, sizeof o->fields[0].value, "%s", value);
}

/* No CRM display; R-T9 / R-T8 / R-T12 (issue 23 item 1): the incident's
 * columns from its metadata, then custom fields written as their columns'
 * types on a case's create and on an update. */
static void test_no_display_and_custom_fields_as_columns(void)
{
    ASSERT_TRUE(G.crm->ops->display_ticket == NULL && G.crm->ops->display_user == NULL);
    ASSERT_TRUE(G.crm->ops->await_jobs == NULL);
    fields_got_t f = {0};
    G.crm->ops->list_fields(G.crm, on_fields, &f);
    run_until(&f.done);
    ASSERT_TRUE(f.ok && f.title && f.custom && !f.lookup_value);
    ASSERT_EQ_INT(count_log("GET", "EntityDefinitions(LogicalName='incident')/Attributes", 200), 1);

    char cid[CRM_GUID_MAX];
    seed_contact("{\"lastname\":\"Neri\",\"telephone1\":\"0655555555\"}", cid);
    tkt_op_t o = case_op(cid, "callbus-case-fields", "Call from 0655555555", "");
    field(&o, "new_sessiontype", "call");
    field(&o, "new_tickettype", "billing_dispute");
    got_t c = {0};
    G.crm->ops->create_ticket(G.crm, &o, on_res, &c);
    run_until(&c.done);
    ASSERT_TRUE(c.res.ok);
    tkt_op_t u = {.kind = TKT_OP_UPDATE};
    snprintf(u.ticket_id, sizeof u.ticket_id, "%s", c.res.ticket.id);
    field(&u, "new_callduration", "301");
    field(&u, "new_queuename", "support");
    field(&u, "new_csat", "4");
    got_t g = {0};
    G.crm->ops->update_ticket(G.crm, &u, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    json_t *r = row("incident", "incidentid", c.res.ticket.id);
    ASSERT_TRUE(r != NULL);
    int ok = !strcmp(json_string_value(json_object_get(r, "new_sessiontype")), "call") &&
             !strcmp(json_string_value(json_object_get(r, "new_tickettype")), "billing_dispute") &&
             json_integer_value(json_object_get(r, "new_callduration")) == 301 &&
             json_is_integer(json_object_get(r, "new_csat")) &&
             json_integer_value(json_object_get(r, "new_csat")) == 4 &&
             !strcmp(json_string_value(json_object_get(r, "new_queuename")), "support");
    json_decref(r);
    ASSERT_TRUE(ok);

    /* a value its column cannot take: refused, not sent as something else */
    tkt_op_t bad = {.kind = TKT_OP_UPDATE};
    snprintf(bad.ticket_id, sizeof bad.ticket_id, "%s", c.res.ticket.id);
    field(&bad, "new_callduration", "long");
    got_t b = {0};
    G.crm->ops->update_ticket(G.crm, &bad, on_res, &b);
    run_until(&b.done);
    ASSERT_TRUE(!b.res.ok && strstr(b.res.error, "new_callduration") != NULL);
    ASSERT_EQ_INT(count_log("PATCH", "incidents", 400), 0);
}

static void tag(tkt_op_t *o, const char *t)
{
    snprintf(o->tags[o->n_tags++], sizeof o->tags[0], "%s", t);
}

static char *markers_of(const char *case_id, char *out, size_t outsz)
{
    json_t *r = row("incident", "incidentid", case_id);
    const char *m = json_string_value(json_object_get(r, "new_callbusmarkers"));
    snprintf(out, outsz, "%s", m ? m : "(none)");
    json_decref(r);
    return out;
}

/* R-M1 / R-M3 (issue 23 item 3): a case's tags written to the marker
 * column on create, and an update's (one or a bulk) added to what the
 * column holds, as Zendesk's additional_tags: none lost. */
static void test_markers_written_on_create_and_added_on_update(void)
{
    char cid[CRM_GUID_MAX], m[512];
    seed_contact("{\"lastname\":\"Gialli\",\"telephone1\":\"0656565656\"}", cid);
    tkt_op_t o = case_op(cid, "callbus-case-markers", "Missed call", "");
    tag(&o, "callbus_call");
    tag(&o, "callbus_missed");
    got_t c = {0}, c2 = {0};
    G.crm->ops->create_ticket(G.crm, &o, on_res, &c);
    run_until(&c.done);
    ASSERT_TRUE(c.res.ok);
    ASSERT_EQ_STR(markers_of(c.res.ticket.id, m, sizeof m), "callbus_call callbus_missed");
    tkt_op_t o2 = case_op(cid, "callbus-case-markers-2", "Voicemail", "");
    tag(&o2, "callbus_voicemail");
    G.crm->ops->create_ticket(G.crm, &o2, on_res, &c2);
    run_until(&c2.done);
    ASSERT_TRUE(c2.res.ok);

    tkt_op_t u[2] = {{.kind = TKT_OP_UPDATE}, {.kind = TKT_OP_UPDATE}};
    snprintf(u[0].ticket_id, sizeof u[0].ticket_id, "%s", c.res.ticket.id);
    snprintf(u[1].ticket_id, sizeof u[1].ticket_id, "%s", c2.res.ticket.id);
    tag(&u[0], "callbus_called_back");
    tag(&u[0], "callbus_missed");
    tag(&u[1], "callbus_idle_leg");
    got_t g = {0};
    size_t reads = count_log("GET", "incidents", 200);
    G.crm->ops->bulk_update(G.crm, u, 2, NULL, on_res, &g);
    run_until(&g.done);
    ASSERT_TRUE(g.res.ok);
    ASSERT_EQ_STR(markers_of(c.res.ticket.id, m, sizeof m),
                  "callbus_call callbus_missed callbus_called_back");
    ASSERT_EQ_STR(markers_of(c2.res.ticket.id, m, sizeof m), "callbus_voicemail callbus_idle_leg");
    ASSERT_EQ_INT(count_log("GET", "incidents", 200), reads + 1); /* one read for the bulk */

    tkt_op_t again = {.kind = TKT_OP_UPDATE};
    snprintf(again.ticket_id, sizeof again.ticket_id, "%s", c2.res.ticket.id);
    tag(&again, "callbus_outbound");
    got_t a = {0};
    G.crm->ops->update_ticket(G.crm, &again, on_res, &a);
    run_until(&a.done);
    ASSERT_TRUE(a.res.ok);
    ASSERT_EQ_STR(markers_of(c2.res.ticket.id, m, sizeof m),
                  "callbus_voicemail callbus_idle_leg callbus_outbound");
}

/* R-M1: a marker column the incident lacks (the setup step not done) is
 * found by the start-up metadata read: markers off, writes still made;
 * a name that is no logical name stops the start. */
static void test_marker_column_the_incident_lacks_turns_markers_off(void)
{
    char cid[CRM_GUID_MAX], m[512];
    marker_column = "new_x y";
    ASSERT_TRUE(new_crm_with(0, NULL) == NULL);
    marker_column = "new_nosuch";
    tkt_crm_t *crm = new_crm_with(0, NULL), *own = G.crm;
    marker_column = "new_callbusmarkers";
    ASSERT_TRUE(crm != NULL);
    G.crm = crm;
    fields_got_t f = {0};
    crm->ops->list_fields(crm, on_fields, &f);
    run_until(&f.done);
    ASSERT_TRUE(f.ok);
    seed_contact("{\"lastname\":\"Viola\",\"telephone1\":\"0657575757\"}", cid);
    tkt_op_t o = case_op(cid, "callbus-case-nomarkers", "Missed call", "");
    tag(&o, "callbus_missed");
    got_t c = {0}, g = {0};
    crm->ops->create_ticket(crm, &o, on_res, &c);
    run_until(&c.done);
    tkt_op_t u = {.kind = TKT_OP_UPDATE, .status = TKT_ST_PENDING};
    snprintf(u.ticket_id, sizeof u.ticket_id, "%s", c.res.ticket.id);
    tag(&u, "callbus_called_back");
    crm->ops->update_ticket(crm, &u, on_res, &g);
    run_until(&g.done);
    G.crm = own;
    crm->ops->free(crm);
    ASSERT_TRUE(c.res.ok && g.res.ok);
    ASSERT_EQ_STR(markers_of(c.res.ticket.id, m, sizeof m), "(none)");
}

static void test_shutdown_ends_pending_once(void)
{
    tkt_crm_t *crm = new_crm(0);
    ASSERT_TRUE(crm != NULL);
    ctl_ok("config", "{\"latency_ms\":500}");
    got_t a = {0}, b = {0};
    crm->ops->find_contacts(crm, "+390611111111", TKT_PRIO_INTERACTIVE, on_res, &a);
    crm->ops->contact_tickets(crm, "00000000-0000-4000-8000-000000000001", TKT_PRIO_ENRICH, on_res,
                              &b);
    for (int i = 0; i < 20; i++)
        event_base_loop(G.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ASSERT_TRUE(crm->ops->pending(crm) > 0);
    crm->ops->free(crm);
    ctl_ok("config", "{\"latency_ms\":0}");
    ASSERT_EQ_INT(a.done, 1);
    ASSERT_EQ_INT(b.done, 1);
    ASSERT_EQ_STR(a.res.error, "shut down");
    ASSERT_TRUE(!b.res.ok);
}

/* R-T7, issue 23 item 2: a case an agent merged (Dataverse's Merge) refuses
 * writes like any closed case; its read names the master as merged_into,
 * which is what the core's R-T7 code follows (on Zendesk: the merge audit),
 * so no new case is made for it. */
static void test_merged_case_read_names_its_master(void)
{
    char cid[CRM_GUID_MAX], json[256];
    seed_contact("{\"lastname\":\"Neri\",\"telephone1\":\"0655555555\"}", cid);
    got_t sub = create_case(cid, "callbus-merge-sub", "");
    got_t master = create_case(cid, "callbus-merge-master", "");
    ASSERT_TRUE(sub.res.ok && master.res.ok);
    snprintf(json, sizeof json,
             "{\"Target\":{\"incidentid\":\"%s\"},\"Subordinate\":{\"incidentid\":\"%s\"}}",
             master.res.ticket.id, sub.res.ticket.id);
    ctl_ok("merge", json);

    tkt_op_t u = {.kind = TKT_OP_UPDATE, .status = TKT_ST_HOLD};
    snprintf(u.ticket_id, sizeof u.ticket_id, "%s", sub.res.ticket.id);
    got_t w = {0};
    G.crm->ops->update_ticket(G.crm, &u, on_res, &w);
    run_until(&w.done);
    ASSERT_TRUE(!w.res.ok && w.res.closed);

    got_t s = {0};
    G.crm->ops->show_ticket(G.crm, sub.res.ticket.id, TKT_PRIO_ENRICH, on_res, &s);
    run_until(&s.done);
    ASSERT_TRUE(s.res.ok);
    ASSERT_EQ_INT(s.res.ticket.status, TKT_ST_CLOSED);
    ASSERT_EQ_STR(s.res.ticket.merged_into, master.res.ticket.id);
    got_t m = {0};
    G.crm->ops->show_ticket(G.crm, master.res.ticket.id, TKT_PRIO_ENRICH, on_res, &m);
    run_until(&m.done);
    ASSERT_TRUE(m.res.ok);
    ASSERT_EQ_STR(m.res.ticket.merged_into, ""); /* the master is still open */
}

static int setup(void)
{
    G.url = dyn_ctl_url = getenv("DYN_EMULATOR_URL");
    if (!G.url || !getenv("DYN_TENANT") || !getenv("DYN_CLIENT_ID") ||
        !getenv("DYN_CLIENT_SECRET")) {
        fprintf(stderr, "run through tests/emulators/dynamics/with_emulator.py\n");
        return -1;
    }
    G.base = event_base_new();
    G.crm = G.base ? new_crm(0) : NULL;
    json_t *st = ctl("state", NULL);
    json_t *users = json_object_get(st, "systemuser");
    snprintf(G.agent, sizeof G.agent, "%s",
             json_string_value(json_object_get(json_array_get(users, 2), "systemuserid")));
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        if (json_is_string(json_object_get(u, "applicationid")))
            snprintf(G.app_user, sizeof G.app_user, "%s",
                     json_string_value(json_object_get(u, "systemuserid")));
    }
    json_decref(st);
    return G.crm ? 0 : -1;
}

int main(void)
{
    if (setup() != 0)
        return 1;
    static const test_case_t cases[] = {
        TEST_CASE(test_contacts_by_phone_create_and_recover),
        TEST_CASE(test_lookup_form_taken_as_given),
        TEST_CASE(test_withheld_number_case_goes_to_the_placeholder_contact),
        TEST_CASE(test_case_create_show_latest_and_recover),
        TEST_CASE(test_update_comment_owner_status_close),
        TEST_CASE(test_batch_partial_failure),
        TEST_CASE(test_429_pauses_then_goes_on),
        TEST_CASE(test_401_refreshes_token_once),
        TEST_CASE(test_no_display_and_custom_fields_as_columns),
        TEST_CASE(test_markers_written_on_create_and_added_on_update),
        TEST_CASE(test_marker_column_the_incident_lacks_turns_markers_off),
        TEST_CASE(test_shutdown_ends_pending_once),
        TEST_CASE(test_merged_case_read_names_its_master),
    };
    int rc = test_run_all("crm_dyn", cases, sizeof cases / sizeof cases[0]);
    G.crm->ops->free(G.crm);
    event_base_free(G.base);
    return rc;
}
