/* Codec of missed-call-ops messages (cmn_missed_op.h). */
#include "cmn_missed_op.h"
#include "cmn_utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {"",
#define X(id, name) name,
                                    CMN_MISSED_OP_KINDS(X)
#undef X
};

const char *cmn_missed_op_name(cmn_missed_op_kind_t k)
{
    return (int)k >= 0 && (size_t)k < sizeof names / sizeof names[0] ? names[k] : "";
}

static cmn_missed_op_kind_t kind_parse(const char *s)
{
    for (size_t i = 1; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return (cmn_missed_op_kind_t)i;
    return CMN_MOP_NONE;
}

static int status_ok(const char *s)
{
    return strcmp(s, "open") == 0 || strcmp(s, "pending") == 0 || strcmp(s, "closed") == 0;
}

/* The schema's rules, for both directions; the offending field or NULL. */
static const char *invalid(const cmn_missed_op_t *op)
{
    int needs_call = op->op == CMN_MOP_OPEN || op->op == CMN_MOP_ADD || op->op == CMN_MOP_REACHED;
    int64_t ms;
    return op->op == CMN_MOP_NONE                                                 ? "op"
           : strlen(op->op_id) < 8 || !cmn_id_text_ok(op->op_id, CMN_ID_TEXT_MAX) ? "op_id"
           : !cmn_id_text_ok(op->group_id, CMN_ID_TEXT_MAX)                       ? "group_id"
           : !cmn_e164_form_ok(op->customer_number) ? "customer_number"
           : (op->call_id[0] || needs_call) && !cmn_id_text_ok(op->call_id, CMN_ID_TEXT_MAX)
               ? "call_id"
           : (op->op == CMN_MOP_OPEN || op->op == CMN_MOP_ADD) && op->count < 1 ? "count"
           : op->count < 0                                                      ? "count"
           : op->assignee_crm_id[0] && !cmn_id_text_ok(op->assignee_crm_id, CMN_CRM_ID_MAX)
               ? "assignee_crm_id"
           : (op->status[0] || op->op == CMN_MOP_STATUS) && !status_ok(op->status) ? "status"
           : cmn_time_parse_rfc3339(op->occurred_at, &ms) < 0                      ? "occurred_at"
           : !cmn_utf8_valid_str(op->customer_name)                                ? "customer_name"
                                                                                   : NULL;
}

static int put_str(json_t *o, const char *name, const char *v)
{
    return !v[0] ? 0 : json_object_set_new(o, name, json_string(v));
}

char *cmn_missed_op_encode(const cmn_missed_op_t *op)
{
    json_t *o = NULL;
    char *text = NULL;
    if (!op || invalid(op))
        return NULL;
    if (!(o = json_object()))
        goto cleanup;
    if (json_object_set_new(o, "schema_version", json_integer(1)) < 0 ||
        put_str(o, "op_id", op->op_id) < 0 || put_str(o, "op", cmn_missed_op_name(op->op)) < 0 ||
        put_str(o, "group_id", op->group_id) < 0 ||
        put_str(o, "customer_number", op->customer_number) < 0 ||
        put_str(o, "call_id", op->call_id) < 0 ||
        (op->count && json_object_set_new(o, "count", json_integer(op->count)) < 0) ||
        put_str(o, "assignee_crm_id", op->assignee_crm_id) < 0 ||
        put_str(o, "status", op->status) < 0 ||
        (op->called_back && json_object_set_new(o, "called_back", json_true()) < 0) ||
        put_str(o, "occurred_at", op->occurred_at) < 0 ||
        put_str(o, "customer_name", op->customer_name) < 0)
        goto cleanup;
    text = json_dumps(o, JSON_COMPACT);
cleanup:
    json_decref(o);
    return text;
}

/* Copies a string member whole, or fails: a cut id would name another
 * group, call or ticket. Absent is "" (the rules above decide). */
static int get_str(const json_t *o, const char *name, char *out, size_t outsz)
{
    const json_t *v = json_object_get(o, name);
    const char *s = json_string_value(v);
    out[0] = '\0';
    if (!v)
        return 0;
    if (!s || strlen(s) >= outsz)
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int cmn_missed_op_decode(const char *text, size_t len, cmn_missed_op_t *op, char *err, size_t errsz)
{
    static const char *const known[] = {"schema_version", "op_id",           "op",
                                        "group_id",       "customer_number", "call_id",
                                        "count",          "assignee_crm_id", "status",
                                        "called_back",    "occurred_at",     "customer_name"};
    json_t *o = json_loadb(text, len, 0, NULL);
    const char *bad = NULL, *key;
    json_t *v;
    char opname[24];
    memset(op, 0, sizeof *op);
    if (!json_is_object(o)) {
        bad = "not a JSON object";
        goto cleanup;
    }
    json_object_foreach(o, key, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(known[i], key) != 0)
            i++;
        if (i == sizeof known / sizeof known[0]) {
            bad = "unknown member";
            goto cleanup;
        }
    }
    v = json_object_get(o, "schema_version");
    if (v && !(json_is_integer(v) && json_integer_value(v) == 1)) {
        bad = "schema_version";
        goto cleanup;
    }
    v = json_object_get(o, "count");
    if (v && !json_is_integer(v)) {
        bad = "count";
        goto cleanup;
    }
    op->count = v ? (long)json_integer_value(v) : 0;
    v = json_object_get(o, "called_back");
    if (v && !json_is_boolean(v)) {
        bad = "called_back";
        goto cleanup;
    }
    op->called_back = json_is_true(v);
    bad = get_str(o, "op", opname, sizeof opname) < 0                     ? "op"
          : get_str(o, "op_id", op->op_id, sizeof op->op_id) < 0          ? "op_id"
          : get_str(o, "group_id", op->group_id, sizeof op->group_id) < 0 ? "group_id"
          : get_str(o, "customer_number", op->customer_number, sizeof op->customer_number) < 0
              ? "customer_number"
          : get_str(o, "call_id", op->call_id, sizeof op->call_id) < 0 ? "call_id"
          : get_str(o, "assignee_crm_id", op->assignee_crm_id, sizeof op->assignee_crm_id) < 0
              ? "assignee_crm_id"
          : get_str(o, "status", op->status, sizeof op->status) < 0                ? "status"
          : get_str(o, "occurred_at", op->occurred_at, sizeof op->occurred_at) < 0 ? "occurred_at"
          : get_str(o, "customer_name", op->customer_name, sizeof op->customer_name) < 0
              ? "customer_name"
              : NULL;
    if (!bad) {
        op->op = kind_parse(opname);
        bad = invalid(op);
    }
cleanup:
    json_decref(o);
    if (bad)
        snprintf(err, errsz, "missed-call op: %s missing or invalid", bad);
    return bad ? -1 : 0;
}
