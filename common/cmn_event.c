/* Canonical call event: lifecycle helpers, validation, JSON encode/decode.
 * The decoder is table-driven so that the list of members lives in one place
 * for both directions. */
#include "cmn_event.h"
#include "cmn_utf8.h"
#include "cmn_time.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {NULL,
#define X(id, name) name,
                                         CMN_EVENT_TYPES(X)
#undef X
};
static const char *const outcome_names[] = {NULL,        "answered",  "missed",
                                            "abandoned", "voicemail", "completed"};
#define N_OUTCOMES (sizeof outcome_names / sizeof outcome_names[0])
static const char *const direction_names[] = {NULL, "inbound", "outbound"};
static const char *const providers[] = {"callgear", "twilio", "webex", "tvox", "generic"};

/* Top-level string members, in encoding order. */
typedef struct {
    const char *name;
    size_t offset;
    size_t max_len;
} str_member_t;

#define M(f, max)                                                                                  \
    {                                                                                              \
#f, offsetof(cmn_event_t, f), max                                                          \
    }
static const str_member_t str_members[] = {
    M(event_id, 128),       M(provider, 16),        M(call_id, 128),       M(leg_id, 128),
    M(parent_call_id, 128), M(customer_number, 16), M(customer_name, 128), M(dialled_number, 64),
    M(queue, 128),          M(language, 35),        M(ticket_id, 64),      M(ticket_type, 64),
    M(source, 16),
};
#undef M
#define N_STR_MEMBERS (sizeof str_members / sizeof str_members[0])

static const struct {
    const char *name;
    size_t offset;
} duration_members[] = {
    {"wait_s", offsetof(cmn_event_t, wait_s)},
    {"talk_s", offsetof(cmn_event_t, talk_s)},
    {"hold_s", offsetof(cmn_event_t, hold_s)},
    {"total_s", offsetof(cmn_event_t, total_s)},
};

void cmn_event_init(cmn_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->wait_s = ev->talk_s = ev->hold_s = ev->total_s = CMN_DURATION_UNKNOWN;
    ev->recording_duration_s = CMN_DURATION_UNKNOWN;
    ev->csat_score = -1;
}

static void agent_clear(cmn_agent_t *a)
{
    free(a->provider_id);
    free(a->crm_id);
    free(a->name);
}

void cmn_event_clear(cmn_event_t *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < N_STR_MEMBERS; i++)
        free(*(char **)((char *)ev + str_members[i].offset));
    agent_clear(&ev->agent);
    agent_clear(&ev->previous_agent);
    free(ev->recording_url);
    for (size_t i = 0; i < ev->n_recording_more; i++)
        free(ev->recording_more[i]);
    for (size_t i = 0; i < ev->n_tags; i++)
        free(ev->tags[i]);
    free(ev->tags);
    cmn_event_init(ev);
}

int cmn_event_set(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int cmn_event_add_tag(cmn_event_t *ev, const char *tag)
{
    char **grown = realloc(ev->tags, (ev->n_tags + 1) * sizeof *grown);
    if (!grown)
        return -1;
    ev->tags = grown;
    if (!(ev->tags[ev->n_tags] = strdup(tag)))
        return -1;
    ev->n_tags++;
    return 0;
}

int cmn_event_add_recording_link(cmn_event_t *ev, const char *url)
{
    if (ev->n_recording_more >= CMN_RECORDING_MORE_MAX ||
        !(ev->recording_more[ev->n_recording_more] = strdup(url)))
        return -1;
    ev->n_recording_more++;
    return 0;
}

const char *cmn_event_type_name(cmn_event_type_t t)
{
    return (t > CMN_EV_NONE && t < CMN_EV__COUNT) ? type_names[t] : "none";
}

cmn_event_type_t cmn_event_type_parse(const char *s)
{
    for (int i = 1; i < CMN_EV__COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            return (cmn_event_type_t)i;
    return CMN_EV_NONE;
}

const char *cmn_outcome_name(cmn_outcome_t o)
{
    return o > CMN_OUT_NONE && (size_t)o < N_OUTCOMES ? outcome_names[o] : "none";
}

const char *cmn_direction_name(cmn_direction_t d)
{
    return d == CMN_DIR_INBOUND || d == CMN_DIR_OUTBOUND ? direction_names[d] : "none";
}

static int index_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* ---- validation ---------------------------------------------------------- */

static int fail(char *err, size_t errsz, char *field, size_t fieldsz, const char *name,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(char *err, size_t errsz, char *field, size_t fieldsz, const char *name,
                const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    if (field && fieldsz)
        snprintf(field, fieldsz, "%s", name);
    return -1;
}
#define FAIL(name, ...) fail(err, errsz, field, fieldsz, name, __VA_ARGS__)

int cmn_e164_form_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 8 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int cmn_id_text_ok(const char *s, size_t max)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; *s; s++, n++)
        if (*s < '!' || *s > '~')
            return 0;
    return n >= 1 && n <= max;
}

static int is_id_text(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.' || *s == ':'))
            return 0;
    return 1;
}

/* jansson refuses strings that are not UTF-8 (cmn_utf8 agrees with it);
 * refusing them here keeps validate and encode in agreement (an event that
 * validates encodes whole). */
static int is_utf8(const char *s)
{
    return cmn_utf8_valid_str(s);
}

static int is_call_type(cmn_event_type_t t)
{
    return t != CMN_EV_AGENT_LOGIN && t != CMN_EV_AGENT_LOGOUT;
}

static int is_outbound_type(cmn_event_type_t t)
{
    return t == CMN_EV_OUTBOUND_STARTED || t == CMN_EV_OUTBOUND_ANSWERED ||
           t == CMN_EV_OUTBOUND_ENDED;
}

static int needs_agent(cmn_event_type_t t)
{
    return t == CMN_EV_OFFERED || t == CMN_EV_ANSWERED || t == CMN_EV_TRANSFERRED ||
           t == CMN_EV_AGENT_LOGIN || t == CMN_EV_AGENT_LOGOUT;
}

/* Characters, as JSON Schema's maxLength counts them: UTF-8 code points. */
static size_t text_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int validate_strings(const cmn_event_t *ev, char *err, size_t errsz, char *field,
                            size_t fieldsz)
{
    for (size_t i = 0; i < N_STR_MEMBERS; i++) {
        const char *v = *(char *const *)((const char *)ev + str_members[i].offset);
        if (v && (!*v || text_length(v) > str_members[i].max_len))
            return FAIL(str_members[i].name, "%s must be 1 to %zu characters", str_members[i].name,
                        str_members[i].max_len);
        if (v && !is_utf8(v))
            return FAIL(str_members[i].name, "%s is not UTF-8", str_members[i].name);
    }
    const struct {
        const char *name, *value;
    } keys[] = {{"call_id", ev->call_id},
                {"leg_id", ev->leg_id},
                {"parent_call_id", ev->parent_call_id},
                {"agent.provider_id", ev->agent.provider_id},
                {"previous_agent.provider_id", ev->previous_agent.provider_id}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].value && !cmn_id_text_ok(keys[i].value, CMN_ID_TEXT_MAX))
            return FAIL(keys[i].name, "%s must be 1 to %d characters of visible ASCII",
                        keys[i].name, CMN_ID_TEXT_MAX);
    if ((ev->agent.crm_id && !cmn_id_text_ok(ev->agent.crm_id, CMN_CRM_ID_MAX)) ||
        (ev->previous_agent.crm_id && !cmn_id_text_ok(ev->previous_agent.crm_id, CMN_CRM_ID_MAX)))
        return FAIL(ev->agent.crm_id && !cmn_id_text_ok(ev->agent.crm_id, CMN_CRM_ID_MAX)
                        ? "agent.crm_id"
                        : "previous_agent.crm_id",
                    "a crm_id must be 1 to %d characters of visible ASCII", CMN_CRM_ID_MAX);
    if (ev->source && strcmp(ev->source, CMN_EVENT_SOURCE_RECONCILIATION) != 0)
        return FAIL("source", "source must be " CMN_EVENT_SOURCE_RECONCILIATION " (or absent)");
    if (!ev->event_id || strlen(ev->event_id) < 8 || !is_id_text(ev->event_id))
        return FAIL("event_id", "event_id is required: 8-128 characters of [A-Za-z0-9._:-]");
    if (!ev->provider || index_of(providers, 5, ev->provider) < 0)
        return FAIL("provider", "provider must be one of callgear, twilio, webex, tvox, generic");
    if (ev->customer_number && !cmn_e164_form_ok(ev->customer_number))
        return FAIL("customer_number", "customer_number must be E.164 (+ and 7-15 digits)");
    if (is_call_type(ev->type) && !ev->call_id)
        return FAIL("call_id", "call_id is required for %s", cmn_event_type_name(ev->type));
    return 0;
}

static int validate_lifecycle(const cmn_event_t *ev, char *err, size_t errsz, char *field,
                              size_t fieldsz)
{
    cmn_event_type_t t = ev->type;
    if (is_call_type(t) && ev->direction == CMN_DIR_NONE)
        return FAIL("direction", "direction is required for %s", cmn_event_type_name(t));
    if (is_outbound_type(t) && ev->direction != CMN_DIR_OUTBOUND)
        return FAIL("direction", "%s must have direction outbound", cmn_event_type_name(t));
    if (needs_agent(t) && (!ev->agent.provider_id || !*ev->agent.provider_id))
        return FAIL("agent.provider_id", "agent.provider_id is required for %s",
                    cmn_event_type_name(t));
    if ((t == CMN_EV_ENDED || t == CMN_EV_OUTBOUND_ENDED) && ev->outcome == CMN_OUT_NONE)
        return FAIL("outcome", "outcome is required for %s", cmn_event_type_name(t));
    if (ev->internal && ev->customer_number)
        return FAIL("customer_number", "an internal call has no customer_number");
    if (t == CMN_EV_OUTBOUND_ENDED && ev->outcome != CMN_OUT_ANSWERED &&
        ev->outcome != CMN_OUT_MISSED)
        return FAIL("outcome", "outbound.ended outcome must be answered or missed");
    if ((t == CMN_EV_RECORDING_READY || ev->recording_url) &&
        (!ev->recording_url || (strncmp(ev->recording_url, "https://", 8) != 0 &&
                                strncmp(ev->recording_url, "http://", 7) != 0)))
        return FAIL("recording.url", "recording.url must be an http or https link%s",
                    t == CMN_EV_RECORDING_READY ? " (required for call.recording_ready)" : "");
    if (ev->n_recording_more > CMN_RECORDING_MORE_MAX ||
        (ev->n_recording_more && !ev->recording_url))
        return FAIL("recording.more_urls", "recording.more_urls: at most %d, beside recording.url",
                    CMN_RECORDING_MORE_MAX);
    for (size_t i = 0; i < ev->n_recording_more; i++)
        if (!ev->recording_more[i] ||
            (strncmp(ev->recording_more[i], "https://", 8) != 0 &&
             strncmp(ev->recording_more[i], "http://", 7) != 0) ||
            !is_utf8(ev->recording_more[i]))
            return FAIL("recording.more_urls", "recording.more_urls must be http or https links");
    if ((t == CMN_EV_CSAT || ev->csat_score != -1) &&
        (ev->csat_scale < 1 || ev->csat_scale > 100 || ev->csat_score < 0 ||
         ev->csat_score > ev->csat_scale))
        return FAIL("csat.score", "call.csat needs csat.scale 1-100 and csat.score 0..scale");
    return 0;
}

int cmn_event_validate(const cmn_event_t *ev, char *err, size_t errsz, char *field, size_t fieldsz)
{
    if (ev->type <= CMN_EV_NONE || ev->type >= CMN_EV__COUNT)
        return FAIL("type", "type is required and must be a known event type");
    if (validate_strings(ev, err, errsz, field, fieldsz) < 0 ||
        validate_lifecycle(ev, err, errsz, field, fieldsz) < 0)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        int64_t v = *(const int64_t *)((const char *)ev + duration_members[i].offset);
        char path[32];
        snprintf(path, sizeof path, "durations.%s", duration_members[i].name);
        if (v < -1 || v > CMN_DURATION_MAX)
            return FAIL(path, "durations must be whole seconds 0..%d", CMN_DURATION_MAX);
    }
    if (ev->recording_duration_s < -1 || ev->recording_duration_s > CMN_DURATION_MAX)
        return FAIL("recording.duration_s", "durations must be whole seconds 0..%d",
                    CMN_DURATION_MAX);
    if (ev->n_tags > 32)
        return FAIL("tags", "at most 32 tags");
    for (size_t i = 0; i < ev->n_tags; i++)
        if (!*ev->tags[i] || text_length(ev->tags[i]) > 64 || !is_utf8(ev->tags[i]))
            return FAIL("tags", "each tag must be 1 to 64 characters of UTF-8");
    const char *more[] = {ev->agent.provider_id,
                          ev->agent.crm_id,
                          ev->agent.name,
                          ev->previous_agent.provider_id,
                          ev->previous_agent.crm_id,
                          ev->previous_agent.name,
                          ev->recording_url};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (more[i] && !is_utf8(more[i]))
            return FAIL(i < 3   ? "agent"
                        : i < 6 ? "previous_agent"
                                : "recording.url",
                        "text that is not UTF-8");
    if (ev->occurred_at_ms <= 0)
        return FAIL("occurred_at", "occurred_at is required (RFC 3339 date-time)");
    if (ev->received_at_ms <= 0)
        return FAIL("received_at", "received_at is required (RFC 3339 date-time)");
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

static void set_opt_str(json_t *obj, const char *name, const char *value)
{
    if (value)
        json_object_set_new(obj, name, json_string(value));
}

static json_t *agent_to_json(const cmn_agent_t *a)
{
    json_t *o = json_object();
    set_opt_str(o, "provider_id", a->provider_id);
    set_opt_str(o, "crm_id", a->crm_id);
    set_opt_str(o, "name", a->name);
    return o;
}

static void put_time(json_t *obj, const char *name, int64_t ms)
{
    char text[CMN_TIME_TEXT_MAX];
    cmn_time_format(ms, text, sizeof text);
    json_object_set_new(obj, name, json_string(text));
}

static void put_nested(json_t *obj, const cmn_event_t *ev)
{
    if (ev->agent.provider_id || ev->agent.crm_id || ev->agent.name)
        json_object_set_new(obj, "agent", agent_to_json(&ev->agent));
    if (ev->previous_agent.provider_id || ev->previous_agent.crm_id || ev->previous_agent.name)
        json_object_set_new(obj, "previous_agent", agent_to_json(&ev->previous_agent));
    json_t *durations = json_object();
    for (size_t i = 0; i < 4; i++) {
        int64_t v = *(const int64_t *)((const char *)ev + duration_members[i].offset);
        if (v >= 0)
            json_object_set_new(durations, duration_members[i].name, json_integer(v));
    }
    if (json_object_size(durations))
        json_object_set_new(obj, "durations", durations);
    else
        json_decref(durations);
    if (ev->recording_url) {
        json_t *rec = json_pack("{s:s}", "url", ev->recording_url);
        if (ev->recording_duration_s >= 0)
            json_object_set_new(rec, "duration_s", json_integer(ev->recording_duration_s));
        if (ev->n_recording_more) {
            json_t *more = json_array();
            for (size_t i = 0; i < ev->n_recording_more; i++)
                json_array_append_new(more, json_string(ev->recording_more[i]));
            json_object_set_new(rec, "more_urls", more);
        }
        json_object_set_new(obj, "recording", rec);
    }
    if (ev->csat_score >= 0)
        json_object_set_new(
            obj, "csat", json_pack("{s:i, s:i}", "score", ev->csat_score, "scale", ev->csat_scale));
}

json_t *cmn_event_to_json(const cmn_event_t *ev)
{
    json_t *obj = json_pack("{s:i, s:s}", "schema_version", CMN_EVENT_SCHEMA_VERSION, "type",
                            cmn_event_type_name(ev->type));
    if (!obj)
        return NULL;
    for (size_t i = 0; i < N_STR_MEMBERS; i++)
        set_opt_str(obj, str_members[i].name,
                    *(char *const *)((const char *)ev + str_members[i].offset));
    if (ev->direction != CMN_DIR_NONE)
        json_object_set_new(obj, "direction", json_string(cmn_direction_name(ev->direction)));
    if (ev->outcome != CMN_OUT_NONE)
        json_object_set_new(obj, "outcome", json_string(cmn_outcome_name(ev->outcome)));
    if (ev->internal)
        json_object_set_new(obj, "internal", json_true());
    put_nested(obj, ev);
    if (ev->n_tags) {
        json_t *tags = json_array();
        for (size_t i = 0; i < ev->n_tags; i++)
            json_array_append_new(tags, json_string(ev->tags[i]));
        json_object_set_new(obj, "tags", tags);
    }
    put_time(obj, "occurred_at", ev->occurred_at_ms);
    put_time(obj, "received_at", ev->received_at_ms);
    return obj;
}

char *cmn_event_encode(const cmn_event_t *ev)
{
    json_t *obj = cmn_event_to_json(ev);
    if (!obj)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    return text;
}

const char *cmn_event_key(const cmn_event_t *ev)
{
    if (ev->customer_number)
        return ev->customer_number;
    /* agent.* events have no call; validation guarantees their agent id */
    return ev->call_id ? ev->call_id : ev->agent.provider_id;
}

static size_t heap_cost(const char *s)
{
    return s ? (strlen(s) + 1 + 8 + 15) / 16 * 16 : 0; /* glibc: 8-byte header, 16-byte units */
}

size_t cmn_event_footprint(const cmn_event_t *ev)
{
    size_t n = 0;
    for (size_t i = 0; i < N_STR_MEMBERS; i++)
        n += heap_cost(*(char *const *)((const char *)ev + str_members[i].offset));
    const cmn_agent_t *agents[] = {&ev->agent, &ev->previous_agent};
    for (size_t i = 0; i < 2; i++)
        n += heap_cost(agents[i]->provider_id) + heap_cost(agents[i]->crm_id) +
             heap_cost(agents[i]->name);
    n += heap_cost(ev->recording_url);
    for (size_t i = 0; i < ev->n_recording_more; i++)
        n += heap_cost(ev->recording_more[i]);
    for (size_t i = 0; i < ev->n_tags; i++)
        n += heap_cost(ev->tags[i]) + sizeof ev->tags[i];
    return n;
}

void cmn_event_id_derive(char *out, size_t outsz, const char *provider, const char *const *parts,
                         size_t n_parts)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char hex[33];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort(); /* OpenSSL without SHA-256 or memory: nothing sensible to do */
    for (size_t i = 0; i < n_parts; i++) {
        const char *p = parts[i] ? parts[i] : "";
        EVP_DigestUpdate(md, p, strlen(p) + 1); /* include NUL as separator */
    }
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) { /* hot path of ingest: no snprintf per byte */
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[32] = '\0';
    snprintf(out, outsz, "%s-%s", provider, hex);
}

/* ---- decoding ------------------------------------------------------------ */

static int take_string(const json_t *v, char **dst, const char *name, char *err, size_t errsz,
                       char *field, size_t fieldsz)
{
    if (!json_is_string(v))
        return FAIL(name, "%s must be a string", name);
    if (cmn_event_set(dst, json_string_value(v)) < 0)
        return FAIL(name, "out of memory");
    return 0;
}

static int take_enum(const json_t *v, const char *const *names, size_t n, int *dst,
                     const char *name, char *err, size_t errsz, char *field, size_t fieldsz)
{
    int idx = json_is_string(v) ? index_of(names, n, json_string_value(v)) : -1;
    if (idx <= 0)
        return FAIL(name, "%s has an unknown value", name);
    *dst = idx;
    return 0;
}

static int take_agent(const json_t *v, cmn_agent_t *a, const char *name, char *err, size_t errsz,
                      char *field, size_t fieldsz)
{
    const char *key;
    json_t *member;
    char path[64];
    if (!json_is_object(v))
        return FAIL(name, "%s must be an object", name);
    json_object_foreach((json_t *)v, key, member)
    {
        snprintf(path, sizeof path, "%s.%s", name, key);
        char **dst = strcmp(key, "provider_id") == 0 ? &a->provider_id
                     : strcmp(key, "crm_id") == 0    ? &a->crm_id
                     : strcmp(key, "name") == 0      ? &a->name
                                                     : NULL;
        if (!dst)
            return FAIL(path, "%s is not a known member", path);
        if (take_string(member, dst, path, err, errsz, field, fieldsz) < 0)
            return -1;
    }
    return 0;
}

static int take_nonneg(const json_t *v, int64_t *dst, const char *name, char *err, size_t errsz,
                       char *field, size_t fieldsz)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return FAIL(name, "%s must be a whole number >= 0", name);
    *dst = json_integer_value(v);
    return 0;
}

static int take_durations(const json_t *v, cmn_event_t *ev, char *err, size_t errsz, char *field,
                          size_t fieldsz)
{
    const char *key;
    json_t *member;
    char path[64];
    if (!json_is_object(v))
        return FAIL("durations", "durations must be an object");
    json_object_foreach((json_t *)v, key, member)
    {
        snprintf(path, sizeof path, "durations.%s", key);
        size_t i;
        for (i = 0; i < 4 && strcmp(key, duration_members[i].name) != 0; i++)
            ;
        if (i == 4)
            return FAIL(path, "%s is not a known member", path);
        if (take_nonneg(member, (int64_t *)((char *)ev + duration_members[i].offset), path, err,
                        errsz, field, fieldsz) < 0)
            return -1;
    }
    return 0;
}

static int take_more_urls(const json_t *v, cmn_event_t *ev, char *err, size_t errsz, char *field,
                          size_t fieldsz)
{
    size_t i;
    json_t *url;
    if (!json_is_array(v) || json_array_size(v) > CMN_RECORDING_MORE_MAX)
        return FAIL("recording.more_urls",
                    "recording.more_urls must be an array of at most %d URLs",
                    CMN_RECORDING_MORE_MAX);
    json_array_foreach(v, i, url)
    {
        if (!json_is_string(url))
            return FAIL("recording.more_urls", "recording.more_urls must be an array of URLs");
        if (cmn_event_add_recording_link(ev, json_string_value(url)) < 0)
            return FAIL("recording.more_urls", "out of memory");
    }
    return 0;
}

static int take_recording(const json_t *v, cmn_event_t *ev, char *err, size_t errsz, char *field,
                          size_t fieldsz)
{
    const char *key;
    json_t *member;
    char path[64];
    if (!json_is_object(v))
        return FAIL("recording", "recording must be an object");
    json_object_foreach((json_t *)v, key, member)
    {
        int rc = strcmp(key, "url") == 0 ? take_string(member, &ev->recording_url, "recording.url",
                                                       err, errsz, field, fieldsz)
                 : strcmp(key, "more_urls") == 0
                     ? take_more_urls(member, ev, err, errsz, field, fieldsz)
                 : strcmp(key, "duration_s") == 0
                     ? take_nonneg(member, &ev->recording_duration_s, "recording.duration_s", err,
                                   errsz, field, fieldsz)
                     : (snprintf(path, sizeof path, "recording.%s", key),
                        FAIL(path, "%s is not a known member", path));
        if (rc < 0)
            return -1;
    }
    if (!ev->recording_url)
        return FAIL("recording.url", "recording.url is required in recording");
    return 0;
}

static int take_csat(const json_t *v, cmn_event_t *ev, char *err, size_t errsz, char *field,
                     size_t fieldsz)
{
    json_t *score = json_object_get(v, "score"), *scale = json_object_get(v, "scale");
    if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_integer(score) ||
        !json_is_integer(scale))
        return FAIL("csat", "csat must be {\"score\": int, \"scale\": int}");
    /* range-check before narrowing to int: 2^32+3 must not become 3 */
    if (json_integer_value(scale) < 1 || json_integer_value(scale) > 100 ||
        json_integer_value(score) < 0 || json_integer_value(score) > json_integer_value(scale))
        return FAIL("csat.score", "call.csat needs csat.scale 1-100 and csat.score 0..scale");
    ev->csat_score = (int)json_integer_value(score);
    ev->csat_scale = (int)json_integer_value(scale);
    return 0;
}

static int take_tags(const json_t *v, cmn_event_t *ev, char *err, size_t errsz, char *field,
                     size_t fieldsz)
{
    size_t i;
    json_t *tag;
    if (!json_is_array(v))
        return FAIL("tags", "tags must be an array of strings");
    json_array_foreach(v, i, tag)
    {
        if (!json_is_string(tag))
            return FAIL("tags", "tags must be an array of strings");
        if (cmn_event_add_tag(ev, json_string_value(tag)) < 0)
            return FAIL("tags", "out of memory");
    }
    return 0;
}

static int take_time(const json_t *v, int64_t *dst, const char *name, char *err, size_t errsz,
                     char *field, size_t fieldsz)
{
    if (!json_is_string(v) || cmn_time_parse_rfc3339(json_string_value(v), dst) < 0)
        return FAIL(name, "%s must be an RFC 3339 date-time", name);
    return 0;
}

/* One member of the top-level object; -1 with err/field set when bad. */
static int take_member(const char *key, const json_t *v, cmn_event_t *ev, char *err, size_t errsz,
                       char *field, size_t fieldsz)
{
    for (size_t i = 0; i < N_STR_MEMBERS; i++)
        if (strcmp(key, str_members[i].name) == 0)
            return take_string(v, (char **)((char *)ev + str_members[i].offset), key, err, errsz,
                               field, fieldsz);
    if (strcmp(key, "schema_version") == 0)
        return json_is_integer(v) && json_integer_value(v) == CMN_EVENT_SCHEMA_VERSION
                   ? 0
                   : FAIL(key, "schema_version must be %d", CMN_EVENT_SCHEMA_VERSION);
    if (strcmp(key, "type") == 0) {
        ev->type = json_is_string(v) ? cmn_event_type_parse(json_string_value(v)) : CMN_EV_NONE;
        return ev->type == CMN_EV_NONE ? FAIL(key, "type is not a known event type") : 0;
    }
    if (strcmp(key, "direction") == 0)
        return take_enum(v, direction_names, 3, (int *)&ev->direction, key, err, errsz, field,
                         fieldsz);
    if (strcmp(key, "outcome") == 0)
        return take_enum(v, outcome_names, N_OUTCOMES, (int *)&ev->outcome, key, err, errsz, field,
                         fieldsz);
    if (strcmp(key, "internal") == 0) {
        if (!json_is_boolean(v))
            return FAIL(key, "internal must be a boolean");
        ev->internal = json_is_true(v);
        return 0;
    }
    if (strcmp(key, "agent") == 0)
        return take_agent(v, &ev->agent, key, err, errsz, field, fieldsz);
    if (strcmp(key, "previous_agent") == 0)
        return take_agent(v, &ev->previous_agent, key, err, errsz, field, fieldsz);
    if (strcmp(key, "durations") == 0)
        return take_durations(v, ev, err, errsz, field, fieldsz);
    if (strcmp(key, "recording") == 0)
        return take_recording(v, ev, err, errsz, field, fieldsz);
    if (strcmp(key, "csat") == 0)
        return take_csat(v, ev, err, errsz, field, fieldsz);
    if (strcmp(key, "tags") == 0)
        return take_tags(v, ev, err, errsz, field, fieldsz);
    if (strcmp(key, "occurred_at") == 0)
        return take_time(v, &ev->occurred_at_ms, key, err, errsz, field, fieldsz);
    if (strcmp(key, "received_at") == 0)
        return take_time(v, &ev->received_at_ms, key, err, errsz, field, fieldsz);
    return FAIL(key, "%s is not a member of the canonical event", key);
}

int cmn_event_from_json(const json_t *obj, cmn_event_t *ev, char *err, size_t errsz, char *field,
                        size_t fieldsz)
{
    const char *key;
    json_t *v;
    cmn_event_init(ev);
    if (!json_is_object(obj))
        return FAIL("", "the event must be a JSON object");
    if (!json_object_get(obj, "schema_version"))
        return FAIL("schema_version", "schema_version is required");
    json_object_foreach((json_t *)obj, key, v)
    {
        if (take_member(key, v, ev, err, errsz, field, fieldsz) < 0)
            goto invalid;
    }
    if (cmn_event_validate(ev, err, errsz, field, fieldsz) < 0)
        goto invalid;
    return 0;
invalid:
    cmn_event_clear(ev);
    return -1;
}

int cmn_event_decode(const char *text, size_t len, cmn_event_t *ev, char *err, size_t errsz,
                     char *field, size_t fieldsz)
{
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        cmn_event_init(ev);
        return FAIL("", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    }
    int rc = cmn_event_from_json(obj, ev, err, errsz, field, fieldsz);
    json_decref(obj);
    return rc;
}
