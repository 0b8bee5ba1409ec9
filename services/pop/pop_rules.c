/* Which pop, for whom, saying what. */
#include "pop_rules.h"

#include "cmn_time.h"

#include <stdio.h>
#include <string.h>

static int known(const char *s)
{
    return s && *s;
}

const char *pop_kind_name(pop_kind_t k)
{
    switch (k) {
    case POP_INCOMING:
        return "incoming";
    case POP_TICKET:
        return "ticket";
    case POP_PROFILE:
        return "profile";
    case POP_NEW_CASE:
        return "new_case";
    default:
        return "none";
    }
}

/* R-P3: the call's ticket; with no ticket yet, the customer's profile;
 * with no customer, the new-case form. */
static pop_kind_t what_to_open(const pop_call_view_t *c)
{
    if (known(c->ticket_id) && known(c->ticket_url))
        return POP_TICKET;
    if (known(c->contact_id))
        return POP_PROFILE;
    return POP_NEW_CASE;
}

pop_decision_t pop_rules_decide(pop_input_t in, const char *event_agent, const pop_call_view_t *c)
{
    pop_decision_t none = {POP_NONE, NULL};
    switch (in) {
    case POP_IN_OFFERED: /* R-P2: the ringing agent, whatever is known of the caller */
        /* ... unless the call is over or that agent has it already (a
         * late look-up). */
        if (c->ended || (c->answered && known(c->agent) && known(event_agent) &&
                         strcmp(c->agent, event_agent) == 0))
            return none;
        return known(event_agent) ? (pop_decision_t){POP_INCOMING, event_agent} : none;
    case POP_IN_ANSWERED:
    case POP_IN_TRANSFERRED: /* R-P3 the answering agent; R-P4 the receiving one */
        return known(event_agent) ? (pop_decision_t){what_to_open(c), event_agent} : none;
    case POP_IN_TICKET:
        /* The ticket follows the answer pop, to whoever has the call now;
         * before the answer nobody is on it: the answer will pop it. */
        return c->answered && known(c->agent) ? (pop_decision_t){POP_TICKET, c->agent} : none;
    default:
        return none;
    }
}

/* The refusal ticket-service sent with the call's ticket (issue 24 item
 * 2), or NULL: a new reference to the object, as the codec checked it. */
static json_t *refusal_of(const pop_call_view_t *c)
{
    json_t *r = known(c->refusal) ? json_loads(c->refusal, 0, NULL) : NULL;
    if (json_is_object(r) && json_is_string(json_object_get(r, "action_id")))
        return r;
    json_decref(r);
    return NULL;
}

void pop_rules_pop_id(const pop_decision_t *d, const pop_call_view_t *c, char *out, size_t outsz)
{
    /* Ringing is before any hand-over: no leg; a ringing notice with the
     * contact (learnt after the first, R-P2) is a notice of its own. */
    const char *leg = d->kind == POP_INCOMING ? (known(c->contact_id) ? "known" : "")
                      : known(c->leg)         ? c->leg
                                              : "";
    if (d->kind == POP_TICKET && known(c->action) && strcmp(c->action, "-") != 0)
        /* an agent action's outcome (a move back to a ticket popped before,
         * a refusal) is news on its ticket: a pop of its own (issue 24) */
        snprintf(out, outsz, "%s:ticket:%s:%s%s%s:act:%s", c->call_id, c->ticket_id, d->agent,
                 *leg ? ":" : "", leg, c->action);
    else if (d->kind == POP_TICKET)
        snprintf(out, outsz, "%s:ticket:%s:%s%s%s", c->call_id, c->ticket_id, d->agent,
                 *leg ? ":" : "", leg);
    else
        snprintf(out, outsz, "%s:%s:%s%s%s", c->call_id, pop_kind_name(d->kind), d->agent,
                 *leg ? ":" : "", leg);
}

static void put(json_t *o, const char *name, const char *v)
{
    json_object_set_new(o, name, known(v) ? json_string(v) : json_null());
}

/* {phone} in the new-case URL becomes the caller's number. */
static json_t *new_case_url(const char *tmpl, const char *phone)
{
    char out[1024];
    const char *at = strstr(tmpl, "{phone}");
    if (!known(tmpl))
        return json_null();
    if (!at)
        return json_string(tmpl);
    /* '+' in a query string would read as a space. */
    const char *digits = known(phone) ? phone + (phone[0] == '+') : "";
    snprintf(out, sizeof out, "%.*s%s%s%s", (int)(at - tmpl), tmpl,
             known(phone) && phone[0] == '+' ? "%2B" : "", digits, at + 7);
    return json_string(out);
}

json_t *pop_rules_message(const pop_decision_t *d, const pop_call_view_t *c,
                          const char *new_case_tmpl, int64_t now_ms)
{
    char id[512], when[CMN_TIME_TEXT_MAX];
    pop_rules_pop_id(d, c, id, sizeof id);
    cmn_time_format(now_ms, when, sizeof when);
    json_t *o = json_object(), *caller = json_object();
    if (!o || !caller) {
        json_decref(o);
        json_decref(caller);
        return NULL;
    }
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "pop_id", json_string(id));
    json_object_set_new(o, "kind", json_string(pop_kind_name(d->kind)));
    json_object_set_new(o, "agent_crm_id", json_string(d->agent));
    json_object_set_new(o, "call_id", json_string(c->call_id));
    /* R-P3 context: caller, queue, ticket subject and status. */
    put(caller, "number", c->number);
    put(caller, "name", c->contact_name);
    put(caller, "email", c->contact_email);
    put(caller, "company", c->contact_company);
    json_object_set_new(caller, "known", json_boolean(known(c->contact_id)));
    json_object_set_new(o, "caller", caller);
    put(o, "queue", c->queue);
    if (known(c->contact_id))
        json_object_set_new(
            o, "contact",
            json_pack("{s:s, s:o}", "id", c->contact_id, "url",
                      known(c->contact_url) ? json_string(c->contact_url) : json_null()));
    else
        json_object_set_new(o, "contact", json_null());
    /* R-C4: ticket-service's candidates (cmn_ticket_event, checked there),
     * stored as their JSON text; unreadable or fewer than two: no choice. */
    json_t *cands = known(c->contacts) ? json_loads(c->contacts, 0, NULL) : NULL;
    if (json_is_array(cands) && json_array_size(cands) >= 2)
        json_object_set(o, "contacts", cands);
    json_decref(cands);
    /* R-P6: the customer's tickets the call may move to (ticket-service's
     * view, checked again when the agent picks one) and the refusal of
     * the agent's last action, both as ticket-service sent them. */
    json_t *choices = known(c->tickets) ? json_loads(c->tickets, 0, NULL) : NULL;
    if (json_is_array(choices) && json_array_size(choices) > 0)
        json_object_set(o, "tickets", choices);
    json_decref(choices);
    json_t *refusal = refusal_of(c);
    if (refusal)
        json_object_set_new(o, "refusal", refusal);
    if (known(c->new_contact) && strcmp(c->new_contact, "1") == 0)
        json_object_set_new(o, "new_contact", json_true());
    if (known(c->ticket_id))
        json_object_set_new(
            o, "ticket",
            json_pack("{s:s, s:o, s:o, s:o}", "id", c->ticket_id, "url",
                      known(c->ticket_url) ? json_string(c->ticket_url) : json_null(), "subject",
                      known(c->subject) ? json_string(c->subject) : json_null(), "status",
                      known(c->status) ? json_string(c->status) : json_null()));
    else
        json_object_set_new(o, "ticket", json_null());
    /* What the page opens: the ticket, the profile, the new-case form;
     * ringing: the profile when known. */
    json_t *url = json_null();
    if (d->kind == POP_TICKET)
        url = json_string(c->ticket_url);
    else if ((d->kind == POP_PROFILE || d->kind == POP_INCOMING) && known(c->contact_url))
        url = json_string(c->contact_url);
    else if (d->kind == POP_NEW_CASE)
        url = new_case_url(new_case_tmpl, c->number);
    json_object_set_new(o, "crm_url", url);
    json_object_set_new(o, "created_at", json_string(when));
    return o;
}
