/* One job per consumed event. */
#include "pop_flow.h"

#include "cmn_event.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_ticket_event.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "pop_rules.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16

typedef struct job {
    struct job *prev, *next;
    pop_flow_t *f;
    pop_flow_done_fn done;
    void *ctx;
    pop_input_t input;
    pop_call_mode_t mode;
    char *call_id, *agent_crm, *agent_provider;
    char *leg; /* the event's id (call events; "" for ticket events) */
    char *fields[2 * MAX_FIELDS];
    size_t n_fields;
    char *pop_id, *pop_agent, *pop_text;
    int delivered; /* in Redis: only screen-pops is left */
    struct event *retry;
    int attempts;
    double taken_ms;   /* when the event was handed to the flow (pop_store_ms) */
    struct look *look; /* the contact look-up this ringing notice waits for */
} job_t;

/* One look-up (R-P2); outlives its job when the answer comes late. */
typedef struct look {
    pop_flow_t *f;
    job_t *j; /* NULL once the job went on without it */
    char call_id[CMN_ID_TEXT_MAX + 1];
    char agent_crm[CMN_CRM_ID_MAX + 1], agent_provider[CMN_ID_TEXT_MAX + 1]; /* who rings */
} look_t;

struct pop_flow {
    struct event_base *base;
    pop_store_t *store;
    cmn_producer_t *producer;
    const char *new_case_url;
    job_t jobs; /* sentinel */
    size_t n;
    pop_lookup_t *lookup;
    long lookup_wait_ms;
    cmn_metric_t *m_pops, *m_retries, *m_latency;
};

static void job_free(job_t *j)
{
    j->prev->next = j->next;
    j->next->prev = j->prev;
    j->f->n--;
    free(j->call_id);
    free(j->agent_crm);
    free(j->agent_provider);
    free(j->leg);
    for (size_t i = 0; i < 2 * j->n_fields; i++)
        free(j->fields[i]);
    free(j->pop_id);
    free(j->pop_agent);
    free(j->pop_text);
    if (j->retry)
        event_free(j->retry);
    if (j->look)
        j->look->j = NULL;
    free(j);
}

static void finish(job_t *j)
{
    pop_flow_done_fn done = j->done;
    void *ctx = j->ctx;
    job_free(j);
    done(ctx);
}

static void step(job_t *j);
static int add_field(job_t *j, const char *name, const char *value);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    step(arg);
}

/* Transient trouble: the same steps again later (each is idempotent). */
static void retry_later(job_t *j, const char *why)
{
    int ms = j->attempts < 5 ? 100 << j->attempts : 2000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    j->attempts++;
    LOG_CALL(CMN_LOG_WARN, j->call_id, "pop step failed (%s); again in %d ms", why, ms);
    cmn_metric_add(j->f->m_retries, 1);
    if (!j->retry && !(j->retry = evtimer_new(j->f->base, on_retry, j))) {
        LOG_ERROR("libevent: no retry timer; the event stays unfinished until restart");
        return;
    }
    evtimer_add(j->retry, &tv);
}

static void on_published(void *opaque, rd_kafka_resp_err_t err, int32_t partition, int64_t offset)
{
    job_t *j = opaque;
    if (err) {
        retry_later(j, rd_kafka_err2str(err));
        return;
    }
    finish(j);
}

static void publish(job_t *j)
{
    rd_kafka_resp_err_t err =
        cmn_producer_send(j->f->producer, cmn_topic(CMN_TOPIC_SCREEN_POPS), j->pop_agent,
                          strlen(j->pop_agent), j->pop_text, strlen(j->pop_text), on_published, j);
    if (err)
        retry_later(j, rd_kafka_err2str(err));
}

static void on_delivered(void *ctx, const char *stream_id, int fresh, const char *err)
{
    job_t *j = ctx;
    if (err) {
        retry_later(j, err);
        return;
    }
    j->delivered = 1;
    if (fresh) {
        cmn_metric_add(j->f->m_pops, 1);
        /* pop-service's own share of a pop's latency (tests/bench/pop-latency) */
        cmn_metric_observe(j->f->m_latency, cmn_time_mono_ms_f() - j->taken_ms);
    }
    LOG_CALL(CMN_LOG_DEBUG, j->call_id, "pop %s for agent %s: %s", j->pop_id, j->pop_agent,
             fresh ? stream_id : "already delivered");
    /* Published again on a replay too: its consumers recognise pop_id. */
    publish(j);
}

static const char *s_or(const char *s)
{
    return s ? s : "";
}

static void on_call_state(void *ctx, const redisReply *agent, const redisReply *fl, const char *err)
{
    job_t *j = ctx;
    if (err) {
        retry_later(j, err);
        return;
    }
    pop_call_view_t v = {
        .call_id = j->call_id,
        .number = pop_store_field(fl, "number"),
        .queue = pop_store_field(fl, "queue"),
        .agent = pop_store_field(fl, "agent"),
        .leg = pop_store_field(fl, "leg"),
        .answered = *pop_store_field(fl, "answered") == '1',
        .ended = *pop_store_field(fl, "ended") == '1',
        .ticket_id = pop_store_field(fl, "ticket_id"),
        .ticket_url = pop_store_field(fl, "ticket_url"),
        .subject = pop_store_field(fl, "subject"),
        .status = pop_store_field(fl, "status"),
        .contact_id = pop_store_field(fl, "contact_id"),
        .contact_url = pop_store_field(fl, "contact_url"),
        .contact_name = pop_store_field(fl, "contact_name"),
        .contact_email = pop_store_field(fl, "contact_email"),
        .contact_company = pop_store_field(fl, "contact_company"),
        .contacts = pop_store_field(fl, "contacts"),
        .tickets = pop_store_field(fl, "tickets"),
        .refusal = pop_store_field(fl, "refusal"),
        .new_contact = pop_store_field(fl, "new_contact"),
        .action = pop_store_field(fl, "action"),
    };
    const char *who = agent && agent->type == REDIS_REPLY_STRING ? agent->str : "";
    pop_decision_t d = pop_rules_decide(j->input, who, &v);
    if (d.kind == POP_NONE) {
        finish(j);
        return;
    }
    char id[512];
    pop_rules_pop_id(&d, &v, id, sizeof id);
    json_t *m = pop_rules_message(&d, &v, j->f->new_case_url, cmn_time_now_ms());
    free(j->pop_text);
    free(j->pop_id);
    free(j->pop_agent);
    j->pop_text = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    j->pop_id = strdup(id);
    j->pop_agent = strdup(d.agent);
    json_decref(m);
    /* What the fallback of an unacknowledged pop needs (pop_ack.h): a
     * ringing notice's ticket is not displayed (Talk itself rings). */
    pop_store_ack_info_t ack = {.kind = pop_kind_name(d.kind),
                                .call_id = j->call_id,
                                .ticket_id = d.kind == POP_INCOMING ? "" : v.ticket_id,
                                .contact_id = d.kind == POP_INCOMING ? "" : v.contact_id};
    if (!j->pop_text || !j->pop_id || !j->pop_agent) {
        retry_later(j, "out of memory");
        return;
    }
    if (pop_store_deliver(j->f->store, j->pop_agent, j->pop_id, j->pop_text, &ack, on_delivered,
                          j) < 0)
        retry_later(j, "redis unavailable");
}

static void no_offset(void *ctx) {}

static job_t *job_new(pop_flow_t *f, pop_flow_done_fn done, void *ctx);

/* The contact, late for the ringing notice: into the call's state (the
 * answer's pop has it) and, while the call still rings, a notice with it
 * (R-P2). A job of its own, tied to no offset: losing it (Redis down,
 * shutdown) loses only that notice; the ticket event brings the contact
 * to the later pops anyway. */
static void late_contact(const look_t *lk, const pop_contact_t *c)
{
    job_t *j = job_new(lk->f, no_offset, NULL);
    int bad = !j;
    if (j) {
        j->input = POP_IN_OFFERED;
        j->call_id = strdup(lk->call_id);
        j->agent_crm = strdup(lk->agent_crm);
        j->agent_provider = strdup(lk->agent_provider);
        j->leg = strdup("");
        bad = !j->call_id || !j->agent_crm || !j->agent_provider || !j->leg ||
              add_field(j, "contact_id", c->id) < 0 || add_field(j, "contact_url", c->url) < 0 ||
              add_field(j, "contact_name", c->name) < 0 ||
              add_field(j, "contact_email", c->email) < 0 ||
              add_field(j, "contact_company", c->company) < 0;
    }
    if (bad) {
        LOG_CALL(CMN_LOG_WARN, lk->call_id, "late contact dropped: out of memory");
        if (j)
            job_free(j);
        return;
    }
    step(j);
}

static void on_contact(void *ctx, const pop_contact_t *c, const char *err)
{
    look_t *lk = ctx;
    job_t *j = lk->j;
    int found = !err && c && c->found;
    if (err && c)
        LOG_CALL(CMN_LOG_INFO, lk->call_id, "contact look-up: %s", err);
    if (j) { /* in time: the ringing notice carries it */
        j->look = NULL;
        if (j->retry)
            evtimer_del(j->retry);
        if (found &&
            (add_field(j, "contact_id", c->id) < 0 || add_field(j, "contact_url", c->url) < 0 ||
             add_field(j, "contact_name", c->name) < 0 ||
             add_field(j, "contact_email", c->email) < 0 ||
             add_field(j, "contact_company", c->company) < 0))
            LOG_CALL(CMN_LOG_WARN, lk->call_id, "contact fields not kept: out of memory");
        step(j);
    } else if (found)
        late_contact(lk, c);
    free(lk);
}

/* Waited long enough: the ringing notice goes without the contact. */
static void on_lookup_wait(evutil_socket_t fd, short what, void *arg)
{
    job_t *j = arg;
    if (j->look) {
        j->look->j = NULL;
        j->look = NULL;
        step(j);
    } else
        step(j); /* a retry timer (the same event) */
}

/* Starts the look-up and its wait; -1: go on without it. */
static int look_up(job_t *j, const char *number)
{
    pop_flow_t *f = j->f;
    look_t *lk = calloc(1, sizeof *lk);
    struct timeval tv = {f->lookup_wait_ms / 1000, (f->lookup_wait_ms % 1000) * 1000};
    if (!lk || (!j->retry && !(j->retry = evtimer_new(f->base, on_lookup_wait, j)))) {
        free(lk);
        return -1;
    }
    *lk = (look_t){.f = f, .j = j};
    snprintf(lk->call_id, sizeof lk->call_id, "%s", j->call_id);
    snprintf(lk->agent_crm, sizeof lk->agent_crm, "%s", j->agent_crm);
    snprintf(lk->agent_provider, sizeof lk->agent_provider, "%s", j->agent_provider);
    if (pop_lookup_ask(f->lookup, number, on_contact, lk) < 0) {
        free(lk);
        return -1;
    }
    j->look = lk;
    evtimer_add(j->retry, &tv);
    return 0;
}

static void step(job_t *j)
{
    if (j->delivered) {
        publish(j);
        return;
    }
    if (pop_store_call_update(j->f->store, j->call_id, j->agent_crm, j->agent_provider, j->mode,
                              j->leg, (const char *const *)j->fields, j->n_fields, on_call_state,
                              j) < 0)
        retry_later(j, "redis unavailable");
}

static job_t *job_new(pop_flow_t *f, pop_flow_done_fn done, void *ctx)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->f = f;
    j->done = done;
    j->ctx = ctx;
    j->taken_ms = cmn_time_mono_ms_f();
    j->next = f->jobs.next;
    j->prev = &f->jobs;
    f->jobs.next->prev = j;
    f->jobs.next = j;
    f->n++;
    return j;
}

/* Returns 0, or -1 out of memory. Only non-empty values are stored: an
 * event that does not know a fact does not erase it. */
static int add_field(job_t *j, const char *name, const char *value)
{
    if (!value || !*value)
        return 0;
    if (j->n_fields == MAX_FIELDS)
        return -1;
    char *n = strdup(name), *v = strdup(value);
    j->fields[2 * j->n_fields] = n;
    j->fields[2 * j->n_fields + 1] = v;
    j->n_fields++;
    return n && v ? 0 : -1;
}

static pop_input_t input_of(cmn_event_type_t t, pop_call_mode_t *mode)
{
    *mode = POP_CALL_KEEP;
    switch (t) {
    case CMN_EV_OFFERED:
        return POP_IN_OFFERED;
    case CMN_EV_ANSWERED:
    case CMN_EV_OUTBOUND_ANSWERED:
        *mode = POP_CALL_ON;
        return POP_IN_ANSWERED;
    case CMN_EV_TRANSFERRED:
        *mode = POP_CALL_ON;
        return POP_IN_TRANSFERRED;
    case CMN_EV_ENDED:
    case CMN_EV_OUTBOUND_ENDED:
        *mode = POP_CALL_OFF;
        return POP_IN_ENDED;
    default:
        return POP_IN_OTHER;
    }
}

int pop_flow_call_event(pop_flow_t *f, const char *payload, size_t len, pop_flow_done_fn done,
                        void *ctx, char *err, size_t errsz)
{
    cmn_event_t ev;
    char field[64];
    if (cmn_event_decode(payload, len, &ev, err, errsz, field, sizeof field) < 0)
        return -1;
    pop_call_mode_t mode;
    pop_input_t in = input_of(ev.type, &mode);
    /* A backfill (issue 27) tells of a call long over: nobody to pop, and
     * its state would only make the call's ticket pop later. */
    int backfilled = ev.source && strcmp(ev.source, CMN_EVENT_SOURCE_RECONCILIATION) == 0;
    if (in == POP_IN_OTHER || !ev.call_id || backfilled) { /* nothing to pop: done at once */
        cmn_event_clear(&ev);
        done(ctx);
        return 0;
    }
    job_t *j = job_new(f, done, ctx);
    int bad = !j;
    if (j) {
        j->input = in;
        j->mode = mode;
        j->call_id = strdup(ev.call_id);
        j->agent_crm = strdup(s_or(ev.agent.crm_id));
        j->agent_provider = strdup(s_or(ev.agent.provider_id));
        j->leg = strdup(s_or(ev.event_id));
        bad = !j->call_id || !j->agent_crm || !j->agent_provider || !j->leg ||
              add_field(j, "number", ev.customer_number) < 0 || add_field(j, "queue", ev.queue) < 0;
    }
    /* R-P2: the ringing notice waits a moment for the caller's contact. */
    int asked = !bad && in == POP_IN_OFFERED && f->lookup && ev.customer_number &&
                look_up(j, ev.customer_number) == 0;
    cmn_event_clear(&ev);
    if (bad) {
        if (j)
            job_free(j);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (!asked)
        step(j);
    return 0;
}

/* R-P6 (issue 24 item 2): the customer's tickets and the refusal of the
 * agent's last action, kept as the codec writes them; each ticket event
 * replaces both ("[]", "null": none any more). new_contact only when the
 * event says something of it. */
static int ticket_choices(job_t *j, const cmn_ticket_event_t *te)
{
    json_t *o = cmn_ticket_event_to_json(te);
    json_t *tickets = json_object_get(o, "tickets"), *refusal = json_object_get(o, "refusal");
    char *t = tickets ? json_dumps(tickets, JSON_COMPACT) : NULL;
    char *r = refusal ? json_dumps(refusal, JSON_COMPACT) : NULL;
    int rc = o && (!tickets || t) && (!refusal || r) &&
                     add_field(j, "tickets", t ? t : "[]") == 0 &&
                     add_field(j, "refusal", r ? r : "null") == 0 &&
                     add_field(j, "action", te->action_id ? te->action_id : "-") == 0 &&
                     (te->new_contact < 0 ||
                      add_field(j, "new_contact", te->new_contact ? "1" : "0") == 0)
                 ? 0
                 : -1;
    free(t);
    free(r);
    json_decref(o);
    return rc;
}

int pop_flow_ticket_event(pop_flow_t *f, const char *payload, size_t len, pop_flow_done_fn done,
                          void *ctx, char *err, size_t errsz)
{
    cmn_ticket_event_t te;
    char field[64];
    if (cmn_ticket_event_decode(payload, len, &te, err, errsz, field, sizeof field) < 0)
        return -1;
    job_t *j = job_new(f, done, ctx);
    int bad = !j;
    if (j) {
        j->input = POP_IN_TICKET;
        j->call_id = strdup(te.call_id);
        j->agent_crm = strdup("");
        j->agent_provider = strdup("");
        j->leg = strdup("");
        bad = !j->call_id || !j->agent_crm || !j->agent_provider || !j->leg ||
              add_field(j, "number", te.customer_number) < 0 ||
              add_field(j, "ticket_id", te.ticket_id) < 0 ||
              add_field(j, "ticket_url", te.ticket_url) < 0 ||
              add_field(j, "subject", te.subject) < 0 || add_field(j, "status", te.status) < 0 ||
              add_field(j, "contact_id", te.contact.id) < 0 ||
              add_field(j, "contact_url", te.contact.url) < 0 ||
              add_field(j, "contact_name", te.contact.name) < 0 ||
              add_field(j, "contact_email", te.contact.email) < 0 ||
              add_field(j, "contact_company", te.contact.company) < 0;
    }
    if (!bad && te.n_candidates) {
        /* R-C4: kept as the codec writes them, for the pop to offer */
        json_t *o = cmn_ticket_event_to_json(&te);
        char *text = o ? json_dumps(json_object_get(o, "contacts"), JSON_COMPACT) : NULL;
        bad = !text || add_field(j, "contacts", text) < 0;
        free(text);
        json_decref(o);
    }
    if (!bad)
        bad = ticket_choices(j, &te) < 0;
    cmn_ticket_event_clear(&te);
    if (bad) {
        if (j)
            job_free(j);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    step(j);
    return 0;
}

pop_flow_t *pop_flow_new(struct event_base *base, pop_store_t *store, cmn_producer_t *producer,
                         const char *new_case_url, pop_lookup_t *lookup, long lookup_wait_ms)
{
    pop_flow_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base = base;
    f->store = store;
    f->producer = producer;
    f->new_case_url = new_case_url;
    f->lookup = lookup;
    f->lookup_wait_ms = lookup_wait_ms;
    f->jobs.next = f->jobs.prev = &f->jobs;
    f->m_pops = cmn_metrics_counter("pop_pops_total", "Pops decided and stored for an agent", NULL);
    f->m_retries = cmn_metrics_counter("pop_step_retries_total",
                                       "Pop steps retried after Redis or Kafka "
                                       "trouble",
                                       NULL);
    f->m_latency = cmn_metrics_histogram(
        "pop_store_ms", "From an event taken off Kafka to its new pop stored for the agent", NULL);
    return f;
}

size_t pop_flow_in_flight(const pop_flow_t *f)
{
    return f->n;
}

void pop_flow_free(pop_flow_t *f)
{
    if (!f)
        return;
    while (f->jobs.next != &f->jobs)
        job_free(f->jobs.next);
    free(f);
}
