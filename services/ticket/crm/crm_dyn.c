/* Dynamics 365 (Dataverse Web API) adapter: our operations as Dataverse
 * requests (crm_dyn_request) and its limits; the op machinery is the
 * layer's (crm_adapter.h), the token crm_dyn_token's (the layer's `send`).
 *
 * - Creations carry their own primary key, a v5 GUID of our external id:
 *   recovery is a GET by that key (no search lag), an unclear create is
 *   verified by it, and a create refused as a duplicate key is read back.
 * - Writes to a case (comment = note, owner/status = PATCH, solved/closed =
 *   CloseIncident) go as one $batch change set per case: atomic per case,
 *   one exchange for a whole flush (R-B3), and per-op results at once (no
 *   background job: await_jobs is NULL).
 * - Unassigned = owned by the application user (WhoAmI, read once). */
#include "crm_dyn.h"
#include "cmn_log.h"
#include "cmn_time.h"
#include "crm_adapter.h"
#include "crm_dyn_parse.h"
#include "crm_dyn_request.h"
#include "crm_dyn_token.h"
#include "crm_dyn_fields.h"
#include "crm_dyn_markers.h"
#include "crm_odata.h"
#include "crm_odata_batch.h"
#include "tkt_failure.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYN_URL_MAX 2048
#define DYN_CS_MAX 3 /* per case: note, PATCH, CloseIncident */
#define DYN_DUPLICATE_KEY "0x80040237"
#define DYN_CASE_CLOSED "0x80040203"
/* Our creations' keys: v5 GUIDs of the external id in this namespace. */
#define DYN_DEFAULT_NS "5b0c6f4e-3a8d-5c1e-9f27-ca11b0500001"

typedef struct {
    crm_adapter_t *a;
    crm_dyn_token_t *tok;
    crm_dyn_conf_t conf;
    char *api, *app, *app_id;
    char ns[CRM_GUID_MAX];
    char app_user[CRM_GUID_MAX]; /* WhoAmI's UserId, "" until read */
    char withheld[CRM_GUID_MAX]; /* the case customer of withheld-number calls; "" none */
    crm_dyn_columns_t cols;      /* the incident's columns, read by list_fields (R-T9) */
    char marker_col[TKT_ID_MAX]; /* the call markers' text column (R-M1, R-M3); "" off */
} dyn_t;

/* Pending writes of an op (op->data, one allocation): the ops, kept for a
 * WhoAmI first, and where each sent case's change set sits in the batch. */
typedef struct {
    size_t n;
    crm_batch_op_t parts[TKT_CRM_MAX_BULK * DYN_CS_MAX]; /* changeset only, after sending */
    size_t n_parts;
    unsigned short first[TKT_CRM_MAX_BULK], count[TKT_CRM_MAX_BULK];
    /* per op: the markers its case holds, read before an update adds to
     * them (R-M3); in the same allocation, after ops */
    char (*markers)[CRM_DYN_MARKERS_MAX];
    int markers_read;
    tkt_op_t ops[];
} dyn_writes_t;

static dyn_t *dyn_of(const tkt_crm_t *crm)
{
    return crm_adapter_impl(crm_adapter_of(crm));
}

#define DYN(op) ((dyn_t *)crm_adapter_impl((op)->adapter))

/* ----------------------------------------------------------- errors */

/* The CRM's message may not fit the result's buffer: it is cut, and ends
 * in "..." so a reader of the log or dead letter knows it was. */
static void describe(const crm_curl_resp_t *resp, int exh, char *out, size_t outsz)
{
    const char *prefix = exh ? "gave up after retries: " : "";
    crm_dyn_error_t e;
    int len;
    if (resp->status == 0)
        len = snprintf(out, outsz, "%snetwork: %s", prefix, resp->error);
    else if (crm_dyn_parse_error(resp->body, resp->body_len, &e) == 0)
        len = snprintf(out, outsz, "%sHTTP %d: %s %s", prefix, resp->status, e.code, e.message);
    else
        len = snprintf(out, outsz, "%sHTTP %d", prefix, resp->status);
    if (len >= 0 && (size_t)len >= outsz && outsz > 3)
        memcpy(out + outsz - 4, "...", 4);
}

static int has_code(const char *body, size_t len, const char *code)
{
    crm_dyn_error_t e;
    return body && crm_dyn_parse_error(body, len, &e) == 0 && strcmp(e.code, code) == 0;
}

static void fail_from(crm_op_t *op, const crm_curl_resp_t *resp, int exh)
{
    tkt_crm_result_t *res = op->res;
    res->ok = 0;
    res->http_status = resp->status;
    res->not_found = resp->status == 404;
    res->closed = resp->status == 400 && has_code(resp->body, resp->body_len, DYN_CASE_CLOSED);
    describe(resp, exh, res->error, sizeof res->error);
    if (resp->status == 401 || resp->status == 403)
        LOG_ERROR("dynamics %s: %s (check the tenant, client id and secret, and the "
                  "application user's security role)",
                  op->name, res->error);
    crm_op_finish(op);
}

/* A record as JSON text for the parsers, which read answers as text. */
static int parse_case_json(json_t *j, tkt_crm_ticket_t *out, char *err, size_t errsz)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = txt ? crm_dyn_parse_case(txt, strlen(txt), out, err, errsz) : -1;
    if (!txt)
        snprintf(err, errsz, "answer is not JSON");
    free(txt);
    return rc;
}

static int parse_contact_json(json_t *j, tkt_crm_contact_t *out, char *err, size_t errsz)
{
    json_t *w = j ? json_pack("{s:[O]}", "value", j) : NULL;
    char *txt = w ? json_dumps(w, JSON_COMPACT) : NULL;
    size_t n = 0;
    int rc = txt ? crm_dyn_parse_contacts(txt, strlen(txt), out, 1, &n, NULL, err, errsz) : -1;
    if (!txt)
        snprintf(err, errsz, "answer is not JSON");
    else if (rc == 0 && n != 1)
        rc = -1, snprintf(err, errsz, "no contact in the answer");
    free(txt);
    json_decref(w);
    return rc;
}

/* ----------------------------------------------------- layer hooks */

static int dyn_send(void *impl, const crm_curl_req_t *req, crm_curl_done_fn cb, void *ctx)
{
    dyn_t *d = impl;
    return crm_dyn_token_request(d->tok, req, cb, ctx);
}

/* Dataverse's three service-protection limits are per user: a 429 means
 * our application user's budget is spent, and Dataverse lengthens the wait
 * of a client that keeps sending. Everything pauses. */
static crm_rl_kind_t dyn_classify_429(void *impl, const crm_curl_resp_t *resp)
{
    (void)impl, (void)resp;
    return CRM_RL_PAUSE;
}

static int is_contact_op(const crm_op_t *op)
{
    return strcmp(op->name, "create_contact") == 0;
}

/* An unclear create: the record by the key the create carried. */
static char *dyn_verify_url(void *impl, const crm_op_t *op)
{
    dyn_t *d = impl;
    char url[DYN_URL_MAX];
    int rc = is_contact_op(op) ? crm_dyn_contact_get_url(&d->conf, op->ticket_id, url, sizeof url)
                               : crm_dyn_case_get_url(&d->conf, op->ticket_id, url, sizeof url);
    return rc == 0 ? strdup(url) : NULL;
}

static int dyn_verify_found(void *impl, const crm_curl_resp_t *resp, json_t **found)
{
    (void)impl;
    if (resp->status != 200)
        return 0;
    *found = json_loadb(resp->body, resp->body_len, 0, NULL);
    return *found != NULL;
}

/* crm_dyn_json_headers without its Content-Type (the layer adds the body's);
 * continue-on-error: one refused change set does not stop the others. */
static const char *const dyn_headers[] = {
    "OData-MaxVersion: 4.0", "OData-Version: 4.0", "Accept: application/json",
    "Prefer: return=representation,odata.continue-on-error", NULL};

static const crm_desc_t dyn_desc = {
    .name = "dynamics",
    .headers = dyn_headers,
    .send = dyn_send,
    .classify_429 = dyn_classify_429,
    .verify_url = dyn_verify_url,
    .verify_found = dyn_verify_found,
};

/* A GET the op's step reads; the url is copied. */
static void get(crm_op_t *op, const char *metric, const char *url, crm_step_fn step)
{
    crm_http_start(op, metric, "GET", strdup(url), NULL, step);
}

/* ------------------------------------------------------ contacts */

static void step_contacts(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    char err[160];
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    if (crm_dyn_parse_contacts(resp->body, resp->body_len, op->res->contacts, TKT_CRM_MAX_LIST,
                               &op->res->n_contacts, NULL, err, sizeof err) != 0) {
        crm_op_fail(op, "contacts: %s", err);
        return;
    }
    crm_op_succeed(op, resp);
}

static void dyn_find_contacts(tkt_crm_t *crm, const char *phone, tkt_prio_t prio, tkt_crm_cb cb,
                              void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "find_contacts", prio, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    /* R-I2: callers pass the look-up form (or E.164); it is sent as given. */
    if (crm_dyn_contacts_by_phone_url(&d->conf, phone, TKT_CRM_MAX_LIST, url, sizeof url) != 0) {
        crm_op_refuse(op, "\"%s\" is not a phone number to look up", phone ? phone : "");
        return;
    }
    get(op, "find_contacts", url, step_contacts);
}

/* Issue 26 item 3: change tracking on contacts, the contact mirror's feed. */
#define DYN_CHANGES_PREFER "Prefer: odata.track-changes,odata.maxpagesize=500"
_Static_assert(TKT_CRM_MAX_CHANGES >= 500, "a page of changes fits the result");

static void step_changes(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    dyn_t *d = crm_adapter_impl(op->adapter);
    tkt_crm_result_t *res = op->res;
    char err[160];
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    if (crm_dyn_parse_changes(
            resp->body, resp->body_len, (const char(*)[CRM_DYN_PHONE_ATTR_MAX])d->conf.phone_attrs,
            d->conf.n_phone_attrs, res->changes, TKT_CRM_MAX_CHANGES, &res->n_changes, &res->cursor,
            &res->end_of_stream, err, sizeof err) != 0) {
        crm_op_fail(op, "contact changes: %s", err);
        return;
    }
    crm_op_succeed(op, resp);
}

static void dyn_contacts_changed(tkt_crm_t *crm, const char *cursor, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "contacts_changed", TKT_PRIO_CREATE, cb, ctx);
    char url[DYN_URL_MAX];
    size_t bl = strlen(d->conf.api_base);
    if (!op)
        return;
    if (cursor && *cursor) {
        /* a next or delta link: only ever to our own API (the token goes with it) */
        if (strncmp(cursor, d->conf.api_base, bl) != 0 || cursor[bl] != '/' ||
            strlen(cursor) >= sizeof url) {
            crm_op_refuse(op, "change-tracking link outside the API");
            return;
        }
        snprintf(url, sizeof url, "%s", cursor);
    } else if (crm_dyn_contacts_changes_url(&d->conf, url, sizeof url) != 0) {
        crm_op_refuse(op, "change-tracking URL too long");
        return;
    }
    crm_http_start_ct(op, "contacts_changed", "GET", strdup(url), NULL, DYN_CHANGES_PREFER, 0,
                      step_changes);
}

/* Issue 24 item 2: an unknown caller's "find the customer to link". */
static void dyn_search_contacts(tkt_crm_t *crm, const char *query, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "search_contacts", TKT_PRIO_INTERACTIVE, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (crm_dyn_contacts_search_url(&d->conf, query, TKT_CRM_MAX_LIST, url, sizeof url) != 0) {
        crm_op_refuse(op, "nothing to search for, or not text");
        return;
    }
    get(op, "search_contacts", url, step_contacts);
}

/* The PATCH's answer: the contact has the number now. */
static void step_phone_added(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    if (resp->status != 200 && resp->status != 204) {
        fail_from(op, resp, exh);
        return;
    }
    crm_op_succeed(op, resp);
}

/* The contact's phone columns read: the number goes into the first empty
 * one, unless one has it (a replay); all taken is the CRM's refusal. */
static void step_phones(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    char url[DYN_URL_MAX];
    char *body = NULL;
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    int rc = crm_dyn_contact_phone_body(&DYN(op)->conf, j, op->external_id, &body);
    if (rc == 1) {
        crm_op_succeed(op, resp);
        return;
    }
    if (rc < 0 || crm_dyn_contact_record_url(&DYN(op)->conf, op->ticket_id, url, sizeof url) != 0) {
        free(body);
        crm_op_refuse(op, "every phone column of the contact is taken, or the number is unusable");
        return;
    }
    crm_http_start(op, "add_contact_phone", "PATCH", strdup(url), body, step_phone_added);
}

/* Issue 24 item 2: the caller's number added to the contact they are; the
 * contact id rides in op->ticket_id, the number in op->external_id. */
static void dyn_add_contact_phone(tkt_crm_t *crm, const char *contact_id, const char *phone,
                                  tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "add_contact_phone", TKT_PRIO_ENRICH, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (!phone || !*phone ||
        crm_dyn_contact_phones_url(&d->conf, contact_id, url, sizeof url) != 0) {
        crm_op_refuse(op, "contact id is not a GUID, or no phone number");
        return;
    }
    crm_copy_str(op->ticket_id, sizeof op->ticket_id, contact_id);
    crm_copy_str(op->external_id, sizeof op->external_id, phone);
    get(op, "add_contact_phone", url, step_phones);
}

/* One contact: a create's representation, or a read by key. */
static void step_contact(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    char err[160], url[DYN_URL_MAX];
    if (resp->status == 412 && has_code(resp->body, resp->body_len, DYN_DUPLICATE_KEY) &&
        op->pages++ == 0 &&
        crm_dyn_contact_get_url(&DYN(op)->conf, op->ticket_id, url, sizeof url) == 0) {
        get(op, "find_contact_by_external_id", url, step_contact); /* made before: read it */
        return;
    }
    if (resp->status == 404 && strcmp(op->name, "find_contact_by_external_id") == 0) {
        crm_op_succeed(op, resp); /* none made: n_contacts 0 */
        return;
    }
    if (resp->status != 200 && resp->status != 201) {
        fail_from(op, resp, exh);
        return;
    }
    if (parse_contact_json(j, &op->res->contacts[0], err, sizeof err) != 0) {
        crm_op_fail(op, "contact: %s", err);
        return;
    }
    op->res->n_contacts = 1;
    crm_op_succeed(op, resp);
}

/* Our key for the record of `external_id` ("" none: Dataverse picks). */
static int key_of(const dyn_t *d, const char *external_id, char out[CRM_GUID_MAX])
{
    out[0] = '\0';
    if (!external_id || !*external_id)
        return 0;
    return crm_odata_guid_from_name(d->ns, external_id, out);
}

static void dyn_create_contact(tkt_crm_t *crm, const char *phone, const char *name,
                               const char *external_id, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "create_contact", TKT_PRIO_CREATE, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (key_of(d, external_id, op->ticket_id) != 0) {
        crm_op_refuse(op, "external id \"%s\" gives no key", external_id);
        return;
    }
    char *body =
        crm_dyn_contact_create_body(&d->conf, phone, name, op->ticket_id[0] ? op->ticket_id : NULL);
    if (!body || crm_dyn_collection_url(&d->conf, "contacts",
                                        "contactid,fullname,firstname,lastname,emailaddress1,"
                                        "createdon",
                                        url, sizeof url) != 0) {
        free(body);
        if (!body) /* the builder's NULL is memory */
            crm_op_fail_later(op, "out of memory");
        else
            crm_op_refuse(op, "\"%s\" is not a number a contact can be made with",
                          phone ? phone : "");
        return;
    }
    if (op->ticket_id[0])
        crm_op_verify_create(op);
    crm_http_start(op, "create_contact", "POST", strdup(url), body, step_contact);
}

static void dyn_find_contact_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                            void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "find_contact_by_external_id", TKT_PRIO_CREATE, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (!external_id || !*external_id || key_of(d, external_id, op->ticket_id) != 0 ||
        crm_dyn_contact_get_url(&d->conf, op->ticket_id, url, sizeof url) != 0) {
        crm_op_refuse(op, "empty or unusable external_id");
        return;
    }
    get(op, "find_contact_by_external_id", url, step_contact);
}

/* ------------------------------------------------------ case writes */

/* The change set of one op on case `case_id` into parts[*n..]: its note
 * (with_note: the body becomes a note), owner / status / customer PATCH,
 * CloseIncident. Bodies are new strings (*n counts them; free them after
 * encoding); urls are written into urls[]. 0, or -1 with err. */
/* R-T9: the op's custom fields as columns of the PATCH body *b (made
 * when there was none), and its tags added to the case's markers
 * (`markers`: what the case holds; NULL: tags not written here). 0, or -1
 * with err (*b freed). */
static int with_fields(const dyn_t *d, const tkt_op_t *o, const char *markers, char **b, char *err,
                       size_t errsz)
{
    json_t *j = *b ? json_loads(*b, 0, NULL) : json_object();
    free(*b);
    *b = NULL;
    if (j && crm_dyn_columns_put(&d->cols, j, o->fields, o->n_fields, err, errsz) == 0 &&
        (!markers ||
         crm_dyn_markers_put(j, d->marker_col, markers, o->tags, o->n_tags, err, errsz) == 0))
        *b = crm_json_text(j);
    else if (j)
        json_decref(j);
    else
        snprintf(err, errsz, "out of memory");
    return *b ? 0 : -1;
}

static int change_set(const dyn_t *d, const tkt_op_t *o, const char *markers, const char *case_id,
                      int create, unsigned cs, crm_batch_op_t *parts, char (*urls)[160], size_t *n,
                      char *err, size_t errsz)
{
    size_t start = *n;
    if (o->body[0] && (create || o->kind == TKT_OP_COMMENT || o->kind == TKT_OP_UPDATE)) {
        char *b = crm_dyn_note_body(case_id, NULL, o->body);
        if (!b)
            goto bad;
        parts[*n] = (crm_batch_op_t){"POST", "annotations", b, cs};
        (*n)++;
    } else if (o->kind == TKT_OP_COMMENT && !create) {
        snprintf(err, errsz, "comment without a body");
        return -1;
    }
    if (o->kind == TKT_OP_UPDATE || create) {
        const char *owner = o->assignee_id[0]            ? o->assignee_id
                            : o->set_assignee && !create ? d->app_user
                                                         : NULL;
        if (owner && !crm_odata_guid_valid(owner)) {
            snprintf(err, errsz, "assignee id \"%s\" is not a systemuser GUID", owner);
            goto undo;
        }
        tkt_status_t st = o->status;
        if (st == TKT_ST_SOLVED || st == TKT_ST_CLOSED || (create && st == TKT_ST_NEW) ||
            (create && st == TKT_ST_OPEN))
            st = TKT_ST_UNKNOWN; /* solved / closed by CloseIncident; a new case is open */
        char *b = owner || st != TKT_ST_UNKNOWN ? crm_dyn_case_update_body(owner, st) : NULL;
        if ((owner || st != TKT_ST_UNKNOWN) && !b)
            goto bad;
        if (!create && o->requester_id[0]) { /* R-C4: another of the number's contacts */
            if (!crm_odata_guid_valid(o->requester_id)) {
                free(b);
                snprintf(err, errsz, "requester id \"%s\" is not a contact GUID", o->requester_id);
                goto undo;
            }
            json_t *j = b ? json_loads(b, 0, NULL) : json_object();
            free(b);
            char bind[64];
            snprintf(bind, sizeof bind, "/contacts(%s)", o->requester_id);
            b = j && json_object_set_new(j, "customerid_contact@odata.bind", json_string(bind)) == 0
                    ? crm_json_text(j)
                    : (json_decref(j), NULL);
            if (!b)
                goto bad;
        }
        /* a new case got its markers in its create body */
        const char *held =
            !create && d->marker_col[0] && crm_dyn_markers_any(o->tags, o->n_tags) ? markers : NULL;
        if ((o->n_fields || held) && with_fields(d, o, held, &b, err, errsz) != 0)
            goto undo;
        if (b) {
            snprintf(urls[*n], sizeof urls[0], "incidents(%s)", case_id);
            parts[*n] = (crm_batch_op_t){"PATCH", urls[*n], b, cs};
            (*n)++;
        }
        if (o->status == TKT_ST_SOLVED || o->status == TKT_ST_CLOSED) {
            b = crm_dyn_close_case_body(case_id, o->subject[0] ? o->subject : "Resolved");
            if (!b)
                goto bad;
            parts[*n] = (crm_batch_op_t){"POST", "CloseIncident", b, cs};
            (*n)++;
        }
    }
    return 0;
bad:
    snprintf(err, errsz, "case %s: a write that cannot be expressed", case_id);
undo:
    while (*n > start)
        free((char *)parts[--(*n)].body);
    return -1;
}

static int needs_app_user(const tkt_op_t *o)
{
    return o->kind == TKT_OP_UPDATE && o->set_assignee && !o->assignee_id[0];
}

static void bulk_fail_items(crm_op_t *op, const char *error, int retryable, int maybe_applied)
{
    if (!op->res->items)
        return;
    for (size_t k = 0; k < op->n_sent; k++) {
        tkt_crm_item_t *it = &op->res->items[op->slot[k]];
        it->ok = 0;
        it->retryable = retryable;
        it->maybe_applied = maybe_applied;
        crm_copy_str(it->error, sizeof it->error, error);
    }
}

/* The $batch answer: each sent case's result from its parts (R-B3). */
static void step_batch(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    dyn_writes_t *w = op->data;
    tkt_crm_result_t *res = op->res;
    char err[256];
    if (resp->status != 200) {
        describe(resp, exh, err, sizeof err);
        /* No answer or a server error: the changes may have been applied. */
        int unclear = resp->status == 0 || resp->status >= 500;
        bulk_fail_items(op, err, tkt_failure_status_transient(resp->status), unclear);
        res->ok = 0;
        res->http_status = resp->status;
        crm_copy_str(res->error, sizeof res->error, err);
        crm_op_finish(op);
        return;
    }
    static crm_batch_part_t parts[TKT_CRM_MAX_BULK * DYN_CS_MAX];
    int status[TKT_CRM_MAX_BULK * DYN_CS_MAX], part_of[TKT_CRM_MAX_BULK * DYN_CS_MAX];
    size_t np = 0;
    if (crm_batch_decode(NULL, resp->body, resp->body_len, parts, w->n_parts, &np, err,
                         sizeof err) != 0 ||
        crm_batch_outcome(w->parts, w->n_parts, parts, np, status, part_of) != 0) {
        bulk_fail_items(op, "$batch answer unreadable", 1, 1);
        crm_op_fail(op, "$batch answer unreadable: %s", err);
        return;
    }
    tkt_crm_item_t one = {0};
    for (size_t k = 0; k < op->n_sent; k++) {
        tkt_crm_item_t *it = res->items ? &res->items[op->slot[k]] : &one;
        it->ok = 1;
        for (size_t p = w->first[k]; p < (size_t)w->first[k] + w->count[k]; p++) {
            int s = status[p];
            if (s >= 200 && s < 300)
                continue;
            const crm_batch_part_t *bp = part_of[p] >= 0 ? &parts[part_of[p]] : NULL;
            crm_curl_resp_t pr = {
                .status = s, .body = bp ? bp->body : "", .body_len = bp ? bp->body_len : 0};
            it->ok = 0;
            it->retryable = tkt_failure_status_transient(s);
            it->closed = s == 400 && has_code(pr.body, pr.body_len, DYN_CASE_CLOSED);
            if (s == 0)
                crm_copy_str(it->error, sizeof it->error, "not run");
            else
                describe(&pr, 0, it->error, sizeof it->error);
            break;
        }
    }
    res->http_status = resp->status;
    res->ok = 1;
    if (!res->items && !one.ok) { /* update_ticket / create_ticket: the op's own result */
        res->ok = 0;
        res->closed = one.closed;
        crm_copy_str(res->error, sizeof res->error, one.error);
    }
    crm_op_finish(op);
}

/* Sends the op's writes (w->ops on the cases they name) as one $batch. */
static void send_writes(crm_op_t *op)
{
    dyn_t *d = DYN(op);
    dyn_writes_t *w = op->data;
    tkt_crm_result_t *res = op->res;
    static char urls[TKT_CRM_MAX_BULK * DYN_CS_MAX][160];
    crm_batch_op_t parts[TKT_CRM_MAX_BULK * DYN_CS_MAX];
    size_t n = 0;
    int create = strcmp(op->name, "create_ticket") == 0;
    for (size_t i = 0; i < w->n; i++) {
        const tkt_op_t *o = &w->ops[i];
        const char *case_id = create ? res->ticket.id : o->ticket_id;
        char err[160] = "";
        size_t before = n;
        if (!create && o->kind != TKT_OP_COMMENT && o->kind != TKT_OP_UPDATE)
            snprintf(err, sizeof err, "not a COMMENT or UPDATE op");
        else if (!crm_odata_guid_valid(case_id))
            snprintf(err, sizeof err, "case id \"%s\" is not a GUID", case_id);
        else if (change_set(d, o, w->markers[i], case_id, create, (unsigned)op->n_sent + 1, parts,
                            urls, &n, err, sizeof err) == 0 &&
                 n == before && !create)
            snprintf(err, sizeof err, "nothing to write");
        if (err[0] && res->items) {
            crm_copy_str(res->items[i].error, sizeof res->items[i].error, err);
            continue;
        }
        if (err[0]) {
            crm_op_refuse(op, "%s", err); /* an op that cannot be expressed, as asked */
            return;
        }
        if (n == before)
            continue;
        w->first[op->n_sent] = (unsigned short)before;
        w->count[op->n_sent] = (unsigned short)(n - before);
        op->slot[op->n_sent++] = (unsigned short)i;
    }
    if (op->n_sent == 0) {
        res->ok = 1; /* nothing to send (every item says why, or a plain create) */
        crm_op_finish_later(op);
        return;
    }
    char ct[160], err[160], id[48];
    size_t len = 0;
    snprintf(id, sizeof id, "cb%lld", (long long)cmn_time_mono_ms());
    char *body = crm_batch_encode(d->api, parts, n, id, ct, sizeof ct, &len, err, sizeof err);
    for (size_t p = 0; p < n; p++) {
        w->parts[p] = (crm_batch_op_t){parts[p].method, NULL, NULL, parts[p].changeset};
        free((char *)parts[p].body);
    }
    w->n_parts = n;
    char cth[200];
    snprintf(cth, sizeof cth, "Content-Type: %s", ct);
    if (!body) {
        bulk_fail_items(op, err, 0, 0);
        crm_op_fail_later(op, "$batch: %s", err);
        return;
    }
    crm_http_start_ct(op, op->name, "POST", crm_str_printf("%s/$batch", d->api), body, cth, 0,
                      step_batch);
}

static void step_whoami(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    const char *uid = json_string_value(json_object_get(j, "UserId"));
    if (resp->status != 200 || !uid || crm_odata_guid_norm(uid, DYN(op)->app_user) != 0) {
        if (resp->status == 200)
            crm_op_fail(op, "WhoAmI answered without a UserId");
        else
            fail_from(op, resp, exh);
        return;
    }
    send_writes(op);
}

static void start_writes(crm_op_t *op);

/* R-M3: the markers the cases hold, into w->markers by case id. */
static void step_markers(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    dyn_t *d = DYN(op);
    dyn_writes_t *w = op->data;
    size_t k;
    json_t *row;
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    json_array_foreach(json_object_get(j, "value"), k, row)
    {
        char id[CRM_GUID_MAX];
        const char *held = json_string_value(json_object_get(row, d->marker_col));
        if (!held ||
            crm_odata_guid_norm(json_string_value(json_object_get(row, "incidentid")), id) != 0)
            continue;
        for (size_t i = 0; i < w->n; i++) {
            char oid[CRM_GUID_MAX];
            if (crm_odata_guid_norm(w->ops[i].ticket_id, oid) == 0 && strcmp(oid, id) == 0)
                crm_copy_str(w->markers[i], sizeof w->markers[0], held);
        }
    }
    w->markers_read = 1;
    start_writes(op);
}

/* The URL reading the markers of the cases whose updates add some, or
 * NULL when none does (a create's case has none yet). */
static char *markers_url(const dyn_t *d, const dyn_writes_t *w, int create)
{
    const char *ids[TKT_CRM_MAX_BULK];
    char url[DYN_URL_MAX * 8]; /* 100 ids fit */
    size_t n = 0;
    if (create || !d->marker_col[0] || w->markers_read)
        return NULL;
    for (size_t i = 0; i < w->n && n < TKT_CRM_MAX_BULK; i++)
        if (crm_dyn_markers_any(w->ops[i].tags, w->ops[i].n_tags) &&
            crm_odata_guid_valid(w->ops[i].ticket_id))
            ids[n++] = w->ops[i].ticket_id;
    return n && crm_dyn_markers_url(&d->conf, d->marker_col, ids, n, url, sizeof url) == 0
               ? strdup(url)
               : NULL;
}

/* Writes with the cases' markers read first when an update adds some, and
 * the application user known first when one unassigns. */
static void start_writes(crm_op_t *op)
{
    dyn_t *d = DYN(op);
    dyn_writes_t *w = op->data;
    int need = 0;
    char *url = markers_url(d, w, strcmp(op->name, "create_ticket") == 0);
    if (url) {
        crm_http_start(op, "read_markers", "GET", url, NULL, step_markers);
        return;
    }
    for (size_t i = 0; i < w->n; i++)
        need |= needs_app_user(&w->ops[i]);
    if (need && !d->app_user[0]) {
        crm_http_start(op, "whoami", "GET", crm_str_printf("%s/WhoAmI", d->api), NULL, step_whoami);
        return;
    }
    send_writes(op);
}

static dyn_writes_t *writes_new(crm_op_t *op, const tkt_op_t *ops, size_t n)
{
    dyn_writes_t *w = calloc(1, sizeof *w + n * (sizeof ops[0] + CRM_DYN_MARKERS_MAX));
    if (!w)
        return NULL;
    w->n = n;
    w->markers = (char(*)[CRM_DYN_MARKERS_MAX])((char *)w->ops + n * sizeof ops[0]);
    memcpy(w->ops, ops, n * sizeof ops[0]);
    op->data = w;
    return w;
}

/* ------------------------------------------------------ create_ticket */

/* Our marker "[callbus ...]" in a comment's text into out ("" none). */
static void marker_of(const char *body, char *out, size_t outsz)
{
    const char *m = strstr(body, "[callbus ");
    const char *e = m ? strchr(m, ']') : NULL;
    out[0] = '\0';
    if (e && (size_t)(e - m + 1) < outsz)
        snprintf(out, outsz, "%.*s", (int)(e - m + 1), m);
}

static void step_note_checked(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    if (json_array_size(json_object_get(j, "value")) > 0) {
        op->res->ok = 1; /* the earlier attempt's change set was applied */
        crm_op_finish(op);
        return;
    }
    start_writes(op);
}

static void step_case_created(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    char err[160], url[DYN_URL_MAX];
    if (resp->status == 412 && has_code(resp->body, resp->body_len, DYN_DUPLICATE_KEY) &&
        op->pages == 0 &&
        crm_dyn_case_get_url(&DYN(op)->conf, op->ticket_id, url, sizeof url) == 0) {
        op->pages = 1; /* made before: read it */
        get(op, "find_by_external_id", url, step_case_created);
        return;
    }
    if (resp->status != 200 && resp->status != 201) {
        fail_from(op, resp, exh);
        return;
    }
    if (parse_case_json(j, &op->res->ticket, err, sizeof err) != 0) {
        crm_op_fail(op, "case: %s", err);
        return;
    }
    op->res->http_status = resp->status;
    /* Its first comment (a note) and owner / status: one change set. A
     * write of its own with an unclear answer is never sent blind again. */
    op->n_sent = 0;
    dyn_writes_t *w = op->data;
    char marker[96];
    marker_of(w->ops[0].body, marker, sizeof marker);
    if (op->pages == 1 && marker[0] &&
        crm_dyn_note_marker_url(&DYN(op)->conf, op->res->ticket.id, marker, url, sizeof url) == 0) {
        op->pages = 2; /* read back after a duplicate: was its note written too? */
        get(op, "has_marker", url, step_note_checked);
        return;
    }
    start_writes(op);
}

/* R-M1: a new case's markers (its tags) in its create body *b. 0, or -1
 * (*b freed). */
static int with_markers(const dyn_t *d, const tkt_op_t *o, char **b)
{
    char err[160];
    json_t *j = json_loads(*b, 0, NULL);
    free(*b);
    *b = NULL;
    if (j && crm_dyn_markers_put(j, d->marker_col, "", o->tags, o->n_tags, err, sizeof err) == 0)
        *b = crm_json_text(j); /* takes j */
    else
        json_decref(j);
    return *b ? 0 : -1;
}

static void dyn_create_ticket(tkt_crm_t *crm, const tkt_op_t *o, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "create_ticket", TKT_PRIO_CREATE, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (!o || o->kind != TKT_OP_CREATE_TICKET) {
        crm_op_refuse(op, "not a CREATE_TICKET op");
        return;
    }
    /* A case needs a customer: a withheld number has no contact, so its
     * case goes to the configured placeholder contact (as Zendesk makes
     * the API user the requester); without one it can never be made. */
    const char *customer = o->requester_id[0] ? o->requester_id : d->withheld;
    if (!customer[0]) {
        crm_op_refuse(op, "a withheld-number call has no contact for its case "
                          "(CALLBUS_DYNAMICS_WITHHELD_CONTACT is not set)");
        return;
    }
    if (!crm_odata_guid_valid(customer)) {
        crm_op_refuse(op, "requester id \"%s\" is not a contact GUID", customer);
        return;
    }
    if (o->assignee_id[0] && !crm_odata_guid_valid(o->assignee_id)) {
        crm_op_refuse(op, "assignee id \"%s\" is not a systemuser GUID", o->assignee_id);
        return;
    }
    if (key_of(d, o->external_id, op->ticket_id) != 0) {
        crm_op_refuse(op, "external id \"%s\" gives no key", o->external_id);
        return;
    }
    if (!writes_new(op, o, 1)) {
        crm_op_fail_later(op, "out of memory");
        return;
    }
    char *body = crm_dyn_case_create_body(customer, o->subject[0] ? o->subject : "Call", NULL,
                                          op->ticket_id[0] ? op->ticket_id : NULL);
    if (body && d->marker_col[0] && crm_dyn_markers_any(o->tags, o->n_tags) &&
        with_markers(d, o, &body) != 0) {
        crm_op_fail_later(op, "out of memory");
        return;
    }
    if (!body ||
        crm_dyn_collection_url(&d->conf, "incidents", crm_dyn_case_select, url, sizeof url) != 0) {
        free(body);
        if (!body)
            crm_op_fail_later(op, "out of memory");
        else
            crm_op_refuse(op, "a case that cannot be expressed");
        return;
    }
    crm_copy_str(op->external_id, sizeof op->external_id, o->external_id);
    if (op->ticket_id[0])
        crm_op_verify_create(op);
    crm_http_start(op, "create_ticket", "POST", strdup(url), body, step_case_created);
}

/* ------------------------------------------------- find / show a case */

static void step_case(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    char err[160];
    int by_ext = strcmp(op->name, "find_by_external_id") == 0;
    if (resp->status == 404 && by_ext) {
        crm_op_succeed(op, resp); /* none made: n_tickets 0 */
        return;
    }
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    tkt_crm_ticket_t *t = by_ext ? &op->res->tickets[0] : &op->res->ticket;
    if (parse_case_json(j, t, err, sizeof err) != 0) {
        crm_op_fail(op, "case: %s", err);
        return;
    }
    if (by_ext)
        op->res->n_tickets = 1;
    crm_op_succeed(op, resp);
}

static void get_case(tkt_crm_t *crm, const char *name, tkt_prio_t prio, const char *case_id,
                     const char *external_id, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, name, prio, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (external_id && (!*external_id || key_of(d, external_id, op->ticket_id) != 0))
        op->ticket_id[0] = '\0';
    else if (!external_id)
        crm_copy_str(op->ticket_id, sizeof op->ticket_id, case_id ? case_id : "");
    if (crm_dyn_case_get_url(&d->conf, op->ticket_id, url, sizeof url) != 0) {
        crm_op_refuse(op, "case id \"%s\" is not a GUID", op->ticket_id);
        return;
    }
    get(op, name, url, step_case);
}

static void dyn_find_by_external_id(tkt_crm_t *crm, const char *external_id, tkt_crm_cb cb,
                                    void *ctx)
{
    get_case(crm, "find_by_external_id", TKT_PRIO_CREATE, NULL, external_id ? external_id : "", cb,
             ctx);
}

static void dyn_show_ticket(tkt_crm_t *crm, const char *ticket_id, tkt_prio_t prio, tkt_crm_cb cb,
                            void *ctx)
{
    get_case(crm, "show_ticket", prio, ticket_id, NULL, cb, ctx);
}

/* ------------------------------------------------- update / bulk_update */

static void updates(tkt_crm_t *crm, const char *name, const tkt_op_t *ops, size_t n,
                    tkt_crm_job_fn on_job, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, name, TKT_PRIO_ENRICH, cb, ctx);
    if (!op)
        return;
    op->on_job = on_job; /* never called: $batch is synchronous */
    if (n == 0 || n > TKT_CRM_MAX_BULK || !ops) {
        crm_op_fail_later(op, "%s takes 1 to %d ops, not %zu", name, TKT_CRM_MAX_BULK, n);
        return;
    }
    if (!writes_new(op, ops, n)) {
        crm_op_fail_later(op, "out of memory");
        return;
    }
    for (size_t i = 0; op->res->items && i < n; i++)
        crm_copy_str(op->res->items[i].ticket_id, sizeof op->res->items[i].ticket_id,
                     ops[i].ticket_id);
    if (op->res->items)
        op->res->n_items = n;
    start_writes(op);
}

static void dyn_update_ticket(tkt_crm_t *crm, const tkt_op_t *o, tkt_crm_cb cb, void *ctx)
{
    updates(crm, "update_ticket", o, o ? 1 : 0, NULL, cb, ctx);
}

/* R-B3: one $batch, one change set per case; per-item results at once. */
static void dyn_bulk_update(tkt_crm_t *crm, const tkt_op_t *ops, size_t n, tkt_crm_job_fn on_job,
                            tkt_crm_cb cb, void *ctx)
{
    updates(crm, "bulk_update", ops, n, on_job, cb, ctx);
}

/* ------------------------------------------------- ticket_statuses */

static void step_statuses(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    tkt_crm_result_t *res = op->res;
    static tkt_crm_ticket_t cases[CRM_DYN_STATUSES_MAX];
    size_t n = 0;
    char err[160];
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    if (crm_dyn_parse_cases(resp->body, resp->body_len, cases, CRM_DYN_STATUSES_MAX, &n, err,
                            sizeof err) != 0) {
        crm_op_fail(op, "cases: %s", err);
        return;
    }
    for (size_t k = 0; k < res->n_items; k++) {
        tkt_crm_item_t *it = &res->items[k];
        char want[CRM_GUID_MAX];
        if (crm_odata_guid_norm(it->ticket_id, want) != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(cases[i].id, want) == 0) {
                it->ok = 1;
                it->status = cases[i].status;
                it->closed = it->status == TKT_ST_SOLVED || it->status == TKT_ST_CLOSED;
            }
        if (!it->ok)
            it->closed = 1; /* not returned: deleted, never to be written */
    }
    crm_op_succeed(op, resp);
}

static void dyn_ticket_statuses(tkt_crm_t *crm, const char *const *ids, size_t n, tkt_crm_cb cb,
                                void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "ticket_statuses", TKT_PRIO_ENRICH, cb, ctx);
    static char url[CRM_DYN_STATUSES_MAX * 64 + DYN_URL_MAX];
    if (!op)
        return;
    if (n == 0 || n > TKT_CRM_MAX_BULK ||
        crm_dyn_case_statuses_url(&d->conf, ids, n, url, sizeof url) != 0) {
        crm_op_fail_later(op, "ticket_statuses takes 1 to %d case GUIDs", TKT_CRM_MAX_BULK);
        return;
    }
    for (size_t i = 0; i < n; i++)
        crm_copy_str(op->res->items[i].ticket_id, sizeof op->res->items[i].ticket_id, ids[i]);
    op->res->n_items = n;
    get(op, "ticket_statuses", url, step_statuses);
}

/* ------------------------------------------------------ has_marker */

static void step_marker(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    op->res->marker_found = json_array_size(json_object_get(j, "value")) > 0;
    crm_op_succeed(op, resp);
}

static void dyn_has_marker(tkt_crm_t *crm, const char *ticket_id, const char *marker, tkt_crm_cb cb,
                           void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "has_marker", TKT_PRIO_ENRICH, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (!ticket_id || !marker || !*marker ||
        crm_dyn_note_marker_url(&d->conf, ticket_id, marker, url, sizeof url) != 0) {
        crm_op_refuse(op, "case id \"%s\" / marker unusable", ticket_id ? ticket_id : "");
        return;
    }
    get(op, "has_marker", url, step_marker);
}

/* ----------------------------------------------------- contact_tickets */

static void step_cases(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    char err[160];
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    if (crm_dyn_parse_cases(resp->body, resp->body_len, op->res->tickets, TKT_CRM_MAX_LIST,
                            &op->res->n_tickets, err, sizeof err) != 0) {
        crm_op_fail(op, "cases: %s", err);
        return;
    }
    crm_op_succeed(op, resp);
}

/* R-V1: the contact's newest cases, any state (Dataverse sorts: newest
 * first); which one the IVR hears is the rules' choice (tkt_lookup_case_pick). */
static void dyn_contact_tickets(tkt_crm_t *crm, const char *contact_id, tkt_prio_t prio,
                                tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "contact_tickets", prio, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (!contact_id ||
        crm_dyn_latest_case_url(&d->conf, contact_id, TKT_CRM_MAX_LIST, url, sizeof url) != 0) {
        crm_op_refuse(op, "contact id \"%s\" is not a GUID", contact_id ? contact_id : "");
        return;
    }
    get(op, "contact_tickets", url, step_cases);
}

/* ------------------------------------------------------ no such API */

/* No display_ticket / display_user: Dynamics 365 has no API that pushes a
 * record into an agent's browser (pops go through pop-service). NULL says
 * so to every caller: CALLBUS_TICKET_CRM_DISPLAY is refused at start-up,
 * and an unacknowledged pop's fallback counts "no_channel" (issue 22 item
 * 4) instead of failing once per pop. */

/* R-T9: the incident's columns from its metadata, kept for their types
 * (writes) and returned as the field ids the core checks the mapping
 * against (tkt_fields.c). */
static void step_columns(crm_op_t *op, const crm_curl_resp_t *resp, json_t *j, int exh)
{
    (void)j;
    char err[160];
    dyn_t *d = DYN(op);
    if (resp->status != 200) {
        fail_from(op, resp, exh);
        return;
    }
    if (crm_dyn_columns_parse(resp->body, resp->body_len, &d->cols, err, sizeof err) != 0) {
        crm_op_fail(op, "incident attributes: %s", err);
        return;
    }
    /* R-M1: a marker column the incident lacks would fail every write:
     * markers are off until it is created (docs/dynamics.md). */
    if (crm_dyn_markers_check(&d->cols, d->marker_col, err, sizeof err) != 0) {
        LOG_WARN("dynamics: %s; call markers are not written", err);
        d->marker_col[0] = '\0';
    }
    for (size_t i = 0; i < d->cols.n && op->res->n_field_ids < TKT_CRM_MAX_FIELDS; i++)
        crm_copy_str(op->res->field_ids[op->res->n_field_ids++], sizeof op->res->field_ids[0],
                     d->cols.cols[i].name);
    crm_op_succeed(op, resp);
}

static void dyn_list_fields(tkt_crm_t *crm, tkt_crm_cb cb, void *ctx)
{
    dyn_t *d = dyn_of(crm);
    crm_op_t *op = crm_op_new(d->a, "list_fields", TKT_PRIO_ENRICH, cb, ctx);
    char url[DYN_URL_MAX];
    if (!op)
        return;
    if (crm_dyn_columns_url(&d->conf, url, sizeof url) != 0) {
        crm_op_refuse(op, "the attributes URL does not fit");
        return;
    }
    get(op, "list_fields", url, step_columns);
}

/* --------------------------------------------------------- urls, misc */

static int dyn_valid_ticket_id(const tkt_crm_t *crm, const char *id)
{
    (void)crm;
    return id && crm_odata_guid_valid(id);
}

static void dyn_ticket_url(const tkt_crm_t *crm, const char *ticket_id, char *out, size_t outsz)
{
    if (crm_dyn_case_form_url(&dyn_of(crm)->conf, ticket_id, out, outsz) != 0 && outsz)
        out[0] = '\0';
}

static void dyn_contact_url(const tkt_crm_t *crm, const char *contact_id, char *out, size_t outsz)
{
    if (crm_dyn_contact_form_url(&dyn_of(crm)->conf, contact_id, out, outsz) != 0 && outsz)
        out[0] = '\0';
}

static void dyn_destroy(dyn_t *d)
{
    if (!d)
        return;
    /* The layer first (every op ends; its crm_curl goes, cancelling a token
     * fetch in flight), then the token cache its callbacks need. */
    crm_adapter_free(d->a);
    crm_dyn_token_free(d->tok);
    crm_dyn_columns_free(&d->cols);
    free(d->api);
    free(d->app);
    free(d->app_id);
    free(d);
}

static void dyn_free(tkt_crm_t *crm)
{
    if (crm)
        dyn_destroy(dyn_of(crm));
}

static const tkt_crm_ops_t dyn_ops = {
    .find_contacts = dyn_find_contacts,
    .contacts_changed = dyn_contacts_changed,
    .search_contacts = dyn_search_contacts,
    .add_contact_phone = dyn_add_contact_phone,
    .create_contact = dyn_create_contact,
    .find_contact_by_external_id = dyn_find_contact_by_external_id,
    .create_ticket = dyn_create_ticket,
    .find_by_external_id = dyn_find_by_external_id,
    .show_ticket = dyn_show_ticket,
    .update_ticket = dyn_update_ticket,
    .bulk_update = dyn_bulk_update,
    .bulk_create = NULL,
    .await_jobs = NULL, /* $batch answers synchronously */
    .has_marker = dyn_has_marker,
    .ticket_statuses = dyn_ticket_statuses,
    .contact_tickets = dyn_contact_tickets,
    .display_ticket = NULL,
    .list_fields = dyn_list_fields,
    .valid_ticket_id = dyn_valid_ticket_id,
    .ticket_url = dyn_ticket_url,
    .contact_url = dyn_contact_url,
    .pending = crm_pending,
    .auth_failing = crm_auth_failing,
    .free = dyn_free,
};

tkt_crm_t *crm_dyn_new(struct event_base *base, const crm_dyn_cfg_t *cfg, char *errstr,
                       size_t errsz)
{
    char why[256], token_url[512], scope[512];
    if (errsz)
        errstr[0] = '\0';
    if (!base || !cfg || !cfg->url || !*cfg->url || !cfg->tenant_id || !cfg->client_id ||
        !*cfg->client_id || !cfg->client_secret || !*cfg->client_secret) {
        snprintf(errstr, errsz, "dynamics: url, tenant, client id and secret are required");
        return NULL;
    }
    if (crm_curl_url_check(cfg->url, cfg->allow_plain_http, why, sizeof why) < 0) {
        snprintf(errstr, errsz, "dynamics: url: %s", why);
        return NULL;
    }
    const char *authority =
        cfg->authority && *cfg->authority ? cfg->authority : "https://login.microsoftonline.com";
    if (crm_curl_url_check(authority, cfg->allow_plain_http, why, sizeof why) < 0 ||
        crm_dyn_token_url(authority, cfg->tenant_id, token_url, sizeof token_url) != 0) {
        snprintf(errstr, errsz, "dynamics: authority / tenant id unusable");
        return NULL;
    }
    dyn_t *d = calloc(1, sizeof *d);
    if (!d || !(d->app = strdup(cfg->url)))
        goto oom;
    size_t bl = strlen(d->app);
    while (bl > 0 && d->app[bl - 1] == '/')
        d->app[--bl] = '\0';
    if (!(d->api = crm_str_printf("%s/api/data/v9.2", d->app)) ||
        (cfg->app_id && *cfg->app_id && !(d->app_id = strdup(cfg->app_id))))
        goto oom;
    snprintf(scope, sizeof scope, "%s/.default", d->app);
    d->conf = (crm_dyn_conf_t){.api_base = d->api,
                               .app_base = d->app,
                               .app_id = d->app_id,
                               .lookup_form = cfg->lookup_form,
                               .country = cfg->country};
    if (crm_dyn_phone_attrs_parse(&d->conf,
                                  cfg->phone_attrs && *cfg->phone_attrs ? cfg->phone_attrs
                                                                        : "telephone1,mobilephone",
                                  why, sizeof why) != 0) {
        snprintf(errstr, errsz, "dynamics: phone attributes: %s", why);
        goto err;
    }
    if (cfg->withheld_contact && *cfg->withheld_contact &&
        crm_odata_guid_norm(cfg->withheld_contact, d->withheld) != 0) {
        snprintf(errstr, errsz, "dynamics: withheld contact \"%s\" is not a contact GUID",
                 cfg->withheld_contact);
        goto err;
    }
    if (cfg->marker_column && *cfg->marker_column &&
        (!crm_odata_name_valid(cfg->marker_column) ||
         strlen(cfg->marker_column) >= sizeof d->marker_col)) {
        snprintf(errstr, errsz, "dynamics: marker column \"%s\" is not a column logical name",
                 cfg->marker_column);
        goto err;
    }
    if (cfg->marker_column)
        crm_copy_str(d->marker_col, sizeof d->marker_col, cfg->marker_column);
    if (crm_odata_guid_norm(cfg->id_namespace ? cfg->id_namespace : DYN_DEFAULT_NS, d->ns) != 0) {
        snprintf(errstr, errsz, "dynamics: id namespace is not a GUID");
        goto err;
    }
    /* Dataverse's service protection, per user: 6,000 requests per 5
     * minutes, 52 concurrent requests (docs/dynamics.md). */
    int in_flight = cfg->max_in_flight > 0 ? cfg->max_in_flight : 8;
    crm_limits_t limits = {
        .requests_per_window = cfg->rate_limit > 0 ? cfg->rate_limit : CRM_DYN_RATE_LIMIT,
        .window_ms = cfg->rate_window_ms > 0 ? cfg->rate_window_ms : CRM_DYN_RATE_WINDOW_MS,
        .safety = cfg->rate_safety,
        .max_in_flight = in_flight > CRM_DYN_MAX_IN_FLIGHT ? CRM_DYN_MAX_IN_FLIGHT : in_flight,
        .timeout_ms = cfg->timeout_ms,
        .max_tries = cfg->max_tries,
        .backoff_base_ms = cfg->backoff_base_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
        .interactive_ttl_ms = cfg->interactive_ttl_ms,
        .interactive_max_queued = cfg->interactive_max_queued,
    };
    if (!(d->a = crm_adapter_new(base, &dyn_desc, d, &dyn_ops, &limits, errstr, errsz)))
        goto err;
    crm_dyn_token_conf_t tc = {.token_url = token_url,
                               .client_id = cfg->client_id,
                               .client_secret = cfg->client_secret,
                               .scope = scope,
                               .timeout_ms = cfg->timeout_ms};
    if (!(d->tok = crm_dyn_token_new(base, crm_adapter_curl(d->a), &tc)))
        goto oom;
    LOG_INFO("dynamics adapter for %s: %zu requests per window", d->app, crm_adapter_budget(d->a));
    return crm_adapter_crm(d->a);
oom:
    snprintf(errstr, errsz, "dynamics: out of memory");
err:
    dyn_destroy(d);
    return NULL;
}

size_t crm_dyn_requests_sent(const tkt_crm_t *crm)
{
    return crm ? crm_adapter_requests_sent(crm_adapter_of(crm)) : 0;
}

size_t crm_dyn_token_fetch_count(const tkt_crm_t *crm)
{
    return crm ? crm_dyn_token_fetches(dyn_of(crm)->tok) : 0;
}
