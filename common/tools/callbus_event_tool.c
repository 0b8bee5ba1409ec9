/* callbus-event-tool: the canonical call event from the command line, for
 * tests/schema (which checks the C encoder/decoder against the JSON Schema)
 * and for people poking at the call-events topic.
 *
 *   callbus-event-tool roundtrip   one JSON document per stdin line; prints
 *                                  the re-encoded event, or
 *                                  "ERROR <field>: <message>" ("$" as field
 *                                  when the line is not a JSON object at all)
 *   callbus-event-tool samples     one valid event of every type, built
 *                                  member by member through cmn_event_t
 *
 * Exit status: 0 all lines decoded, 1 some line was rejected, 2 usage or
 * I/O error. */
#include "cmn_event.h"
#include "cmn_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int roundtrip(FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rejected = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        cmn_event_t ev;
        char err[512] = "", field[128] = "";
        if (cmn_event_decode(line, (size_t)len, &ev, err, sizeof err, field, sizeof field) < 0) {
            fprintf(out, "ERROR %s: %s\n", *field ? field : "$", err);
            rejected = 1;
            continue; /* the decoder leaves ev cleared on failure */
        }
        char *text = cmn_event_encode(&ev);
        cmn_event_clear(&ev);
        if (!text) {
            fprintf(stderr, "callbus-event-tool: out of memory\n");
            free(line);
            return 2;
        }
        fprintf(out, "%s\n", text);
        free(text);
    }
    free(line);
    if (ferror(in)) {
        perror("callbus-event-tool: stdin");
        return 2;
    }
    return rejected;
}

/* ---- samples ------------------------------------------------------------- */

/* Fixed instants so that the output is the same on every run (docs quote it). */
#define T0_MS INT64_C(1795424708000) /* 2026-11-23T09:05:08Z, a Monday */

typedef struct {
    const char *provider_id, *crm_id, *name;
} agent_text_t;

static const agent_text_t giulia = {"1042", "361945", "Giulia Bianchi"};
static const agent_text_t marco = {"1077", "361988", "Marco Rossi"};

static int set_agent(cmn_agent_t *a, const agent_text_t *t)
{
    return cmn_event_set(&a->provider_id, t->provider_id) | cmn_event_set(&a->crm_id, t->crm_id) |
           cmn_event_set(&a->name, t->name);
}

/* Members every sample shares. `subject` is what the event is about (the
 * call id; for agent.* events, which have none, the agent's id): with the
 * type and the time it makes the stable event id, as an ingest normaliser
 * derives it from the provider's notification. */
static int sample_base(cmn_event_t *ev, cmn_event_type_t type, const char *provider,
                       const char *subject, cmn_direction_t dir, int64_t at_ms)
{
    char id[CMN_EVENT_ID_MAX], at[CMN_TIME_TEXT_MAX];
    cmn_time_format(at_ms, at, sizeof at);
    const char *parts[] = {subject, cmn_event_type_name(type), at};
    cmn_event_id_derive(id, sizeof id, provider, parts, 3);
    ev->type = type;
    ev->direction = dir;
    ev->occurred_at_ms = at_ms;
    ev->received_at_ms = at_ms + 412;
    return cmn_event_set(&ev->event_id, id) | cmn_event_set(&ev->provider, provider);
}

static int sample_call(cmn_event_t *ev, cmn_event_type_t type, const char *provider,
                       const char *call_id, cmn_direction_t dir, int64_t at_ms)
{
    return sample_base(ev, type, provider, call_id, dir, at_ms) |
           cmn_event_set(&ev->call_id, call_id);
}

/* Inbound CallGear call 987654321 from a Rome landline (R-I1: the Italian
 * leading 0 stays): offered to Giulia, answered, transferred to Marco,
 * ended, recorded. */
static int inbound_common(cmn_event_t *ev, cmn_event_type_t type, int64_t at_ms)
{
    return sample_call(ev, type, "callgear", "987654321", CMN_DIR_INBOUND, at_ms) |
           cmn_event_set(&ev->customer_number, "+390612345678") |
           cmn_event_set(&ev->dialled_number, "+390294750000") |
           cmn_event_set(&ev->queue, "billing") | cmn_event_set(&ev->language, "it");
}

static int build_sample(cmn_event_type_t type, cmn_event_t *ev)
{
    int rc = 0;
    switch (type) {
    case CMN_EV_OFFERED:
        rc = inbound_common(ev, type, T0_MS) | set_agent(&ev->agent, &giulia);
        ev->wait_s = 14;
        break;
    case CMN_EV_ANSWERED:
        rc = inbound_common(ev, type, T0_MS + 6000) | set_agent(&ev->agent, &giulia) |
             cmn_event_set(&ev->leg_id, "987654321-1");
        ev->wait_s = 20;
        break;
    case CMN_EV_TRANSFERRED:
        rc = inbound_common(ev, type, T0_MS + 95000) | set_agent(&ev->agent, &marco) |
             set_agent(&ev->previous_agent, &giulia) | cmn_event_set(&ev->leg_id, "987654321-2");
        break;
    case CMN_EV_LEG_ENDED:
        rc = inbound_common(ev, type, T0_MS + 96000) | set_agent(&ev->agent, &giulia) |
             cmn_event_set(&ev->leg_id, "987654321-1");
        ev->talk_s = 75;
        ev->hold_s = 0;
        break;
    case CMN_EV_ENDED:
        rc = inbound_common(ev, type, T0_MS + 301000) | set_agent(&ev->agent, &marco) |
             cmn_event_add_tag(ev, "billing") | cmn_event_add_tag(ev, "vip");
        ev->outcome = CMN_OUT_ANSWERED;
        ev->wait_s = 20;
        ev->talk_s = 250;
        ev->hold_s = 31;
        ev->total_s = 301;
        break;
    case CMN_EV_RECORDING_READY:
        rc = inbound_common(ev, type, T0_MS + 330000) |
             cmn_event_set(&ev->recording_url, "https://recordings.callgear.example/987654321.mp3");
        ev->recording_duration_s = 281;
        break;
    case CMN_EV_CSAT:
        /* The post-call survey ran in a Webex flow. */
        rc = sample_call(ev, type, "webex", "b3c1e2d4-5f60-4a7b-8c9d-0e1f2a3b4c5d", CMN_DIR_INBOUND,
                         T0_MS + 360000) |
             cmn_event_set(&ev->customer_number, "+905321234567") |
             cmn_event_set(&ev->language, "tr-TR");
        ev->csat_score = 4;
        ev->csat_scale = 5;
        break;
    case CMN_EV_OUTBOUND_STARTED:
    case CMN_EV_OUTBOUND_ANSWERED:
    case CMN_EV_OUTBOUND_ENDED:
        /* Marco calls a customer back from ticket 48213 through Twilio (R-O1). */
        rc = sample_call(ev, type, "twilio", "CA5f0e6a0c7d2b4e9f8a1b3c5d7e9f0a1b", CMN_DIR_OUTBOUND,
                         T0_MS + 3600000 +
                             (type == CMN_EV_OUTBOUND_STARTED    ? 0
                              : type == CMN_EV_OUTBOUND_ANSWERED ? 9000
                                                                 : 190000)) |
             cmn_event_set(&ev->customer_number, "+34911234567") |
             cmn_event_set(&ev->dialled_number, "+390294750000") |
             cmn_event_set(&ev->ticket_id, "48213") | set_agent(&ev->agent, &marco);
        if (type == CMN_EV_OUTBOUND_ENDED) {
            ev->outcome = CMN_OUT_ANSWERED;
            ev->talk_s = 181;
            ev->total_s = 190;
        }
        break;
    case CMN_EV_AGENT_LOGIN:
    case CMN_EV_AGENT_LOGOUT:
        rc = sample_base(ev, type, "tvox", giulia.provider_id, CMN_DIR_NONE,
                         type == CMN_EV_AGENT_LOGIN ? T0_MS - 3600000 : T0_MS + 28800000) |
             set_agent(&ev->agent, &giulia);
        break;
    default:
        return -1;
    }
    return rc ? -1 : 0;
}

static int samples(FILE *out)
{
    for (int t = CMN_EV_NONE + 1; t < CMN_EV__COUNT; t++) {
        cmn_event_t ev;
        char err[256], field[64];
        char *text = NULL;
        cmn_event_init(&ev);
        if (build_sample((cmn_event_type_t)t, &ev) < 0) {
            fprintf(stderr, "callbus-event-tool: out of memory\n");
            cmn_event_clear(&ev);
            return 2;
        }
        /* A sample the validator refuses is a bug in this file, not data. */
        if (cmn_event_validate(&ev, err, sizeof err, field, sizeof field) < 0) {
            fprintf(stderr, "callbus-event-tool: sample %s invalid: %s: %s\n",
                    cmn_event_type_name((cmn_event_type_t)t), field, err);
            cmn_event_clear(&ev);
            return 2;
        }
        text = cmn_event_encode(&ev);
        cmn_event_clear(&ev);
        if (!text) {
            fprintf(stderr, "callbus-event-tool: out of memory\n");
            return 2;
        }
        fprintf(out, "%s\n", text);
        free(text);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: callbus-event-tool roundtrip < events.jsonl\n"
               "       callbus-event-tool samples\n");
}

int main(int argc, char **argv)
{
    int rc;
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "roundtrip") == 0)
        rc = roundtrip(stdin, stdout);
    else if (strcmp(argv[1], "samples") == 0)
        rc = samples(stdout);
    else if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    } else {
        usage(stderr);
        return 2;
    }
    if (fflush(stdout) != 0) {
        perror("callbus-event-tool: stdout");
        return 2;
    }
    return rc;
}
