/* State <-> JSON. Strings are copied into fixed buffers with truncation
 * (they were written from the same buffers, so they fit). */
#include "tkt_codec.h"

#include <stdio.h>
#include <string.h>

#define PUT_STR(obj, s, field) json_object_set_new(obj, #field, json_string((s)->field))
#define PUT_INT(obj, s, field)                                                                     \
    json_object_set_new(obj, #field, json_integer((json_int_t)(s)->field))
#define GET_STR(j, s, field) get_str(j, #field, (s)->field, sizeof(s)->field)
#define GET_INT(j, s, field) ((s)->field = (__typeof__((s)->field))get_int(j, #field))

static void get_str(const json_t *j, const char *name, char *dst, size_t dstsz)
{
    const char *v = json_string_value(json_object_get(j, name));
    snprintf(dst, dstsz, "%s", v ? v : "");
}

static json_int_t get_int(const json_t *j, const char *name)
{
    return json_integer_value(json_object_get(j, name));
}

static json_t *ticket_ref_to_json(const tkt_ticket_ref_t *t)
{
    json_t *o = json_object();
    PUT_STR(o, t, id);
    PUT_INT(o, t, kind);
    PUT_INT(o, t, status);
    PUT_STR(o, t, queue);
    PUT_STR(o, t, channel);
    PUT_STR(o, t, merged_into);
    PUT_INT(o, t, created_at_ms);
    PUT_STR(o, t, subject);
    PUT_INT(o, t, crm_at_ms);
    return o; /* `fresh` is per event, never stored */
}

static void ticket_ref_from_json(const json_t *o, tkt_ticket_ref_t *t)
{
    GET_STR(o, t, id);
    GET_INT(o, t, kind);
    GET_INT(o, t, status);
    GET_STR(o, t, queue);
    GET_STR(o, t, channel);
    GET_STR(o, t, merged_into);
    GET_INT(o, t, created_at_ms);
    GET_STR(o, t, subject);   /* absent in state stored before issue 24: "" */
    GET_INT(o, t, crm_at_ms); /* absent before issue 25: 0, never told */
}

json_t *tkt_codec_call_to_json(const tkt_call_t *c)
{
    json_t *o = json_object(), *legs = json_array();
    PUT_STR(o, c, call_id);
    PUT_STR(o, c, customer);
    PUT_STR(o, c, ticket_id);
    PUT_INT(o, c, ticket_kind);
    PUT_STR(o, c, contact_id);
    PUT_STR(o, c, picked_contact_id);
    PUT_STR(o, c, agent_crm_id);
    PUT_STR(o, c, last_offered_crm_id);
    PUT_STR(o, c, queue);
    PUT_STR(o, c, language);
    PUT_STR(o, c, dialled_number);
    PUT_INT(o, c, outbound);
    PUT_INT(o, c, answered);
    PUT_INT(o, c, offered);
    PUT_INT(o, c, ended);
    PUT_INT(o, c, started_at_ms);
    PUT_INT(o, c, last_event_at_ms);
    for (size_t i = 0; i < c->n_legs && i < TKT_MAX_LEGS; i++)
        json_array_append_new(legs, json_pack("{s:s, s:s}", "agent_crm_id", c->legs[i].agent_crm_id,
                                              "ticket_id", c->legs[i].ticket_id));
    json_object_set_new(o, "legs", legs);
    return o;
}

int tkt_codec_call_from_json(const json_t *o, tkt_call_t *c)
{
    size_t i;
    json_t *leg;
    memset(c, 0, sizeof *c);
    if (!json_is_object(o))
        return -1;
    GET_STR(o, c, call_id);
    GET_STR(o, c, customer);
    GET_STR(o, c, ticket_id);
    GET_INT(o, c, ticket_kind);
    GET_STR(o, c, contact_id);
    GET_STR(o, c, picked_contact_id);
    GET_STR(o, c, agent_crm_id);
    GET_STR(o, c, last_offered_crm_id);
    GET_STR(o, c, queue);
    GET_STR(o, c, language);
    GET_STR(o, c, dialled_number);
    GET_INT(o, c, outbound);
    GET_INT(o, c, answered);
    GET_INT(o, c, offered);
    GET_INT(o, c, ended);
    GET_INT(o, c, started_at_ms);
    GET_INT(o, c, last_event_at_ms);
    json_array_foreach(json_object_get(o, "legs"), i, leg)
    {
        if (i >= TKT_MAX_LEGS)
            break;
        GET_STR(leg, &c->legs[i], agent_crm_id);
        GET_STR(leg, &c->legs[i], ticket_id);
        c->n_legs = i + 1;
    }
    return 0;
}

json_t *tkt_codec_customer_to_json(const tkt_customer_t *cu)
{
    json_t *o = json_object(), *tickets = json_array();
    const tkt_last_call_t *lc = &cu->last_call;
    PUT_STR(o, cu, number);
    PUT_STR(o, cu, contact_id);
    PUT_STR(o, cu, missed_group_id);
    PUT_STR(o, cu, missed_ticket_id);
    PUT_STR(o, cu, missed_reached_call_id);
    for (size_t i = 0; i < cu->n_tickets && i < TKT_MAX_TICKETS; i++)
        json_array_append_new(tickets, ticket_ref_to_json(&cu->tickets[i]));
    json_object_set_new(o, "tickets", tickets);
    json_object_set_new(o, "last_call",
                        json_pack("{s:s, s:s, s:s, s:I, s:I}", "call_id", lc->call_id, "ticket_id",
                                  lc->ticket_id, "agent_crm_id", lc->agent_crm_id, "ended_at_ms",
                                  (json_int_t)lc->ended_at_ms, "total_s", (json_int_t)lc->total_s));
    return o;
}

int tkt_codec_customer_from_json(const json_t *o, tkt_customer_t *cu)
{
    size_t i;
    json_t *t;
    memset(cu, 0, sizeof *cu);
    if (!json_is_object(o))
        return -1;
    GET_STR(o, cu, number);
    GET_STR(o, cu, contact_id);
    GET_STR(o, cu, missed_group_id);
    GET_STR(o, cu, missed_ticket_id);
    GET_STR(o, cu, missed_reached_call_id);
    json_array_foreach(json_object_get(o, "tickets"), i, t)
    {
        if (i >= TKT_MAX_TICKETS)
            break;
        ticket_ref_from_json(t, &cu->tickets[i]);
        cu->n_tickets = i + 1;
    }
    const json_t *lc = json_object_get(o, "last_call");
    GET_STR(lc, &cu->last_call, call_id);
    GET_STR(lc, &cu->last_call, ticket_id);
    GET_STR(lc, &cu->last_call, agent_crm_id);
    GET_INT(lc, &cu->last_call, ended_at_ms);
    GET_INT(lc, &cu->last_call, total_s);
    return 0;
}

json_t *tkt_codec_op_to_json(const tkt_op_t *op)
{
    json_t *o = json_object(), *tags = json_array(), *fields = json_array();
    PUT_INT(o, op, kind);
    PUT_STR(o, op, ticket_id);
    PUT_STR(o, op, phone);
    PUT_STR(o, op, name);
    PUT_STR(o, op, subject);
    PUT_STR(o, op, requester_id);
    PUT_STR(o, op, external_id);
    PUT_INT(o, op, ticket_kind);
    PUT_INT(o, op, status);
    PUT_STR(o, op, assignee_id);
    PUT_INT(o, op, set_assignee);
    PUT_STR(o, op, body);
    PUT_INT(o, op, public_comment);
    PUT_INT(o, op, moot_if_closed);
    for (size_t i = 0; i < op->n_tags && i < TKT_MAX_TAGS; i++)
        json_array_append_new(tags, json_string(op->tags[i]));
    for (size_t i = 0; i < op->n_fields && i < TKT_MAX_FIELDS; i++)
        json_array_append_new(fields, json_pack("{s:s, s:s}", "id", op->fields[i].field_id, "value",
                                                op->fields[i].value));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "fields", fields);
    return o;
}

int tkt_codec_op_from_json(const json_t *o, tkt_op_t *op)
{
    size_t i;
    json_t *v;
    memset(op, 0, sizeof *op);
    if (!json_is_object(o))
        return -1;
    GET_INT(o, op, kind);
    GET_STR(o, op, ticket_id);
    GET_STR(o, op, phone);
    GET_STR(o, op, name);
    GET_STR(o, op, subject);
    GET_STR(o, op, requester_id);
    GET_STR(o, op, external_id);
    GET_INT(o, op, ticket_kind);
    GET_INT(o, op, status);
    GET_STR(o, op, assignee_id);
    GET_INT(o, op, set_assignee);
    GET_STR(o, op, body);
    GET_INT(o, op, public_comment);
    GET_INT(o, op, moot_if_closed);
    json_array_foreach(json_object_get(o, "tags"), i, v)
    {
        if (i >= TKT_MAX_TAGS)
            break;
        snprintf(op->tags[i], sizeof op->tags[i], "%s",
                 json_string_value(v) ? json_string_value(v) : "");
        op->n_tags = i + 1;
    }
    json_array_foreach(json_object_get(o, "fields"), i, v)
    {
        if (i >= TKT_MAX_FIELDS)
            break;
        get_str(v, "id", op->fields[i].field_id, sizeof op->fields[i].field_id);
        get_str(v, "value", op->fields[i].value, sizeof op->fields[i].value);
        op->n_fields = i + 1;
    }
    return 0;
}
