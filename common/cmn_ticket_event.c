/* ticket-events codec. */
#include "cmn_ticket_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const statuses[] = {"new", "open", "pending", "hold", "solved", "closed", NULL};
static const char *const kinds[] = {"call",      "ivr",      "voicemail", "missed",
                                    "abandoned", "outbound", NULL};

void cmn_ticket_event_clear(cmn_ticket_event_t *te)
{
    char **all[] = {&te->event_id,    &te->cause_event_id, &te->call_id,       &te->customer_number,
                    &te->ticket_id,   &te->ticket_url,     &te->ticket_kind,   &te->subject,
                    &te->status,      &te->assignee_id,    &te->action_id,     &te->contact.id,
                    &te->contact.url, &te->contact.name,   &te->contact.email, &te->contact.company,
                    &te->occurred_at};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
    for (size_t i = 0; i < te->n_tickets; i++) {
        cmn_ticket_choice_t *t = &te->tickets[i];
        char **mine[] = {&t->id, &t->url, &t->subject, &t->status, &t->kind, &t->created_at};
        for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++) {
            free(*mine[k]);
            *mine[k] = NULL;
        }
    }
    te->n_tickets = 0;
    free(te->refused_action_id);
    free(te->refused_reason);
    te->refused_action_id = te->refused_reason = NULL;
    for (size_t i = 0; i < te->n_candidates; i++) {
        cmn_ticket_contact_t *c = &te->candidates[i];
        char **mine[] = {&c->id, &c->url, &c->name, &c->email, &c->company};
        for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++) {
            free(*mine[k]);
            *mine[k] = NULL;
        }
    }
    te->n_candidates = 0;
    te->created = -1;
    te->new_contact = -1;
}

static int in(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return 1;
    return 0;
}

typedef struct {
    const char *name;
    size_t off;
    int required;
    size_t max; /* 0: no bound */
} member_t;

#define M(n, f, req, max)                                                                          \
    {                                                                                              \
        n, offsetof(cmn_ticket_event_t, f), req, max                                               \
    }
static const member_t members[] = {
    M("event_id", event_id, 1, 160),     M("cause_event_id", cause_event_id, 0, 0),
    M("call_id", call_id, 1, 128),       M("customer_number", customer_number, 0, 16),
    M("ticket_id", ticket_id, 1, 48),    M("ticket_url", ticket_url, 1, 0),
    M("ticket_kind", ticket_kind, 0, 0), M("subject", subject, 0, 0),
    M("status", status, 1, 0),           M("assignee_id", assignee_id, 0, 0),
    M("action_id", action_id, 0, 128),   M("occurred_at", occurred_at, 1, 0),
};
#define C(n, f)                                                                                    \
    {                                                                                              \
        n, offsetof(cmn_ticket_contact_t, f), 0, 0                                                 \
    }
static const member_t contact_members[] = {C("id", id), C("url", url), C("name", name),
                                           C("email", email), C("company", company)};
#define T(n, f, req, max)                                                                          \
    {                                                                                              \
        n, offsetof(cmn_ticket_choice_t, f), req, max                                              \
    }
static const member_t choice_members[] = {
    T("id", id, 1, 48),        T("url", url, 0, 0),   T("subject", subject, 0, 0),
    T("status", status, 1, 0), T("kind", kind, 0, 0), T("created_at", created_at, 0, 0),
};
/* `refusal` is an object of its own; its members land in the event. */
static const member_t refusal_members[] = {
    M("action_id", refused_action_id, 1, 128),
    M("reason", refused_reason, 1, 64),
};

static const member_t *find(const member_t *set, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].name, key) == 0)
            return &set[i];
    return NULL;
}

/* Copies the string members of obj named in `set` into base; -1 with
 * field set on anything else. */
static int take_strings(const json_t *obj, const member_t *set, size_t n, void *base,
                        const char **bad)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const member_t *m = find(set, n, key);
        if (!m) {
            *bad = key;
            return -1;
        }
        size_t len = json_string_length(v);
        if (!json_is_string(v) || (m->max && (len == 0 || len > m->max))) {
            *bad = key;
            return -1;
        }
        char **dst = (char **)((char *)base + m->off);
        if (!(*dst = strdup(json_string_value(v)))) {
            *bad = "(out of memory)";
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (set[i].required && !*(char **)((char *)base + set[i].off)) {
            *bad = set[i].name;
            return -1;
        }
    }
    return 0;
}

/* R-P6's choices: each an object with an id and a status of the enum. */
static int take_choices(const json_t *tickets, cmn_ticket_event_t *te, const char **bad)
{
    for (size_t i = 0; tickets && i < json_array_size(tickets); i++) {
        const json_t *t = json_array_get(tickets, i);
        cmn_ticket_choice_t *dst = &te->tickets[te->n_tickets++];
        if (!json_is_object(t) ||
            take_strings(t, choice_members, sizeof choice_members / sizeof choice_members[0], dst,
                         bad) < 0 ||
            !in(dst->status, statuses) || (dst->kind && !in(dst->kind, kinds))) {
            *bad = "tickets";
            return -1;
        }
    }
    return 0;
}

int cmn_ticket_event_decode(const char *text, size_t len, cmn_ticket_event_t *te, char *err,
                            size_t errsz, char *field, size_t fieldsz)
{
    const char *bad = NULL;
    json_error_t jerr;
    memset(te, 0, sizeof *te);
    te->created = -1;
    te->new_contact = -1;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *copy = NULL;
    if (!json_is_object(o)) {
        snprintf(err, errsz, "not a JSON object%s%s", o ? "" : ": ", o ? "" : jerr.text);
        snprintf(field, fieldsz, "%s", "");
        json_decref(o);
        return -1;
    }
    json_t *version = json_object_get(o, "schema_version");
    json_t *created = json_object_get(o, "created");
    json_t *new_contact = json_object_get(o, "new_contact");
    json_t *contact = json_object_get(o, "contact");
    json_t *contacts = json_object_get(o, "contacts");
    json_t *tickets = json_object_get(o, "tickets");
    json_t *refusal = json_object_get(o, "refusal");
    if (!json_is_integer(version) || json_integer_value(version) != 1)
        bad = "schema_version";
    else if (tickets && (!json_is_array(tickets) || json_array_size(tickets) == 0 ||
                         json_array_size(tickets) > CMN_TICKET_MAX_CHOICES))
        bad = "tickets";
    else if (refusal && !json_is_object(refusal))
        bad = "refusal";
    else if (contacts && (!json_is_array(contacts) || json_array_size(contacts) == 0 ||
                          json_array_size(contacts) > CMN_TICKET_MAX_CANDIDATES))
        bad = "contacts";
    else if (created && !json_is_boolean(created))
        bad = "created";
    else if (new_contact && !json_is_boolean(new_contact))
        bad = "new_contact";
    else if (contact && !json_is_object(contact))
        bad = "contact";
    if (!bad && !(copy = json_copy(o)))
        bad = "(out of memory)";
    if (!bad) {
        json_object_del(copy, "schema_version");
        json_object_del(copy, "created");
        json_object_del(copy, "new_contact");
        json_object_del(copy, "contact");
        json_object_del(copy, "contacts");
        json_object_del(copy, "tickets");
        json_object_del(copy, "refusal");
        if (take_strings(copy, members, sizeof members / sizeof members[0], te, &bad) == 0 &&
            contact &&
            take_strings(contact, contact_members,
                         sizeof contact_members / sizeof contact_members[0], &te->contact,
                         &bad) == 0 &&
            !te->contact.id)
            bad = "contact.id";
    }
    for (size_t i = 0; !bad && contacts && i < json_array_size(contacts); i++) {
        const json_t *c = json_array_get(contacts, i);
        cmn_ticket_contact_t *dst = &te->candidates[te->n_candidates++];
        if (!json_is_object(c) ||
            take_strings(c, contact_members, sizeof contact_members / sizeof contact_members[0],
                         dst, &bad) < 0 ||
            !dst->id)
            bad = "contacts";
    }
    if (!bad && take_choices(tickets, te, &bad) == 0 && refusal &&
        take_strings(refusal, refusal_members, 2, te, &bad) < 0)
        bad = "refusal";
    if (!bad && !in(te->status, statuses))
        bad = "status";
    else if (!bad && te->ticket_kind && !in(te->ticket_kind, kinds))
        bad = "ticket_kind";
    else if (!bad && strncmp(te->ticket_url, "http://", 7) != 0 &&
             strncmp(te->ticket_url, "https://", 8) != 0)
        bad = "ticket_url";
    if (!bad && created)
        te->created = json_is_true(created);
    if (!bad && new_contact)
        te->new_contact = json_is_true(new_contact);
    json_decref(copy);
    json_decref(o);
    if (!bad)
        return 0;
    snprintf(err, errsz, "ticket event: %s missing or invalid", bad);
    snprintf(field, fieldsz, "%s", bad);
    cmn_ticket_event_clear(te);
    return -1;
}

static void put(json_t *o, const char *name, const char *v)
{
    if (v)
        json_object_set_new(o, name, json_string(v));
}

static json_t *contact_json(const cmn_ticket_contact_t *ct)
{
    json_t *c = json_object();
    for (size_t i = 0; c && i < sizeof contact_members / sizeof contact_members[0]; i++)
        put(c, contact_members[i].name,
            *(char *const *)((const char *)ct + contact_members[i].off));
    return c;
}

json_t *cmn_ticket_event_to_json(const cmn_ticket_event_t *te)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "schema_version", json_integer(1)) < 0) {
        json_decref(o);
        return NULL;
    }
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        put(o, members[i].name, *(char *const *)((const char *)te + members[i].off));
    if (te->created >= 0)
        json_object_set_new(o, "created", json_boolean(te->created));
    if (te->new_contact >= 0)
        json_object_set_new(o, "new_contact", json_boolean(te->new_contact));
    if (te->contact.id)
        json_object_set_new(o, "contact", contact_json(&te->contact));
    if (te->n_candidates) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < te->n_candidates && i < CMN_TICKET_MAX_CANDIDATES; i++)
            if (te->candidates[i].id)
                json_array_append_new(a, contact_json(&te->candidates[i]));
        json_object_set_new(o, "contacts", a);
    }
    if (te->n_tickets) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < te->n_tickets && i < CMN_TICKET_MAX_CHOICES; i++) {
            json_t *t = json_object();
            for (size_t k = 0; t && k < sizeof choice_members / sizeof choice_members[0]; k++)
                put(t, choice_members[k].name,
                    *(char *const *)((const char *)&te->tickets[i] + choice_members[k].off));
            json_array_append_new(a, t);
        }
        json_object_set_new(o, "tickets", a);
    }
    if (te->refused_action_id && te->refused_reason)
        json_object_set_new(o, "refusal",
                            json_pack("{s:s, s:s}", "action_id", te->refused_action_id, "reason",
                                      te->refused_reason));
    return o;
}
