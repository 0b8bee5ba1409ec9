/* Click-to-call providers (issue 24 item 1): one file per provider
 * (pop_dial_callgear.c, pop_dial_twilio.c) behind this table, as the CRM
 * adapters are in services/ticket/crm. A provider only writes its API's
 * request and reads its answer: pure functions, no I/O (pop_dial.c sends
 * the request on the loop), unit-tested in tests/pop/unit/test_pop_dial.c. */
#ifndef POP_DIAL_PROVIDER_H
#define POP_DIAL_PROVIDER_H

#include <stddef.h>

/* What pop_dial knows of the account (borrowed from the configuration). */
typedef struct {
    const char *api_url;   /* the provider's API base, no trailing '/' */
    const char *caller_id; /* the number the customer sees (CallGear virtual number, Twilio From) */
    const char *token;   /* CallGear: Call API access token; Twilio: auth token / API key secret */
    const char *account; /* Twilio: Account SID; CallGear: unused */
    const char *key_sid; /* Twilio: API key SID (Basic user instead of the account); "" none */
    const char *status_callback; /* Twilio: ingest's public voice-status URL */
} pop_dial_account_t;

/* One call to place (borrowed). */
typedef struct {
    const char *operator_id; /* the agent at the provider (CALLBUS_AGENT_MAP, R-I3) */
    const char *number;      /* the customer, E.164 */
    const char *ticket_id;   /* the ticket the agent called from (R-O1); NULL: none */
    const char *request_id;  /* unique per request (the JSON-RPC id) */
} pop_dial_call_t;

/* The HTTP request a provider wants sent; every string owned (malloc),
 * released by pop_dial_req_clear. */
typedef struct {
    char *url, *body;
    const char *content_type; /* static */
    char *user, *password;    /* Basic auth; NULL: none */
} pop_dial_req_t;

void pop_dial_req_clear(pop_dial_req_t *r);

/* What the provider answered, for the agent. */
typedef struct {
    int placed;         /* 1: the provider took the call */
    char call_id[96];   /* placed: the provider's id of the call */
    int status;         /* refused: the HTTP status the agent is answered */
    char code[48];      /* refused: the provider's code ("-32602", "21211") */
    char reason[320];   /* refused: the provider's words */
    long retry_after_s; /* refused for its rate: when to try again; -1 unknown */
} pop_dial_result_t;

typedef struct {
    const char *name;        /* CALLBUS_POP_DIAL_PROVIDER, and the agent map's provider */
    const char *default_url; /* the public API, when CALLBUS_POP_DIAL_API_URL is empty */
    /* 0, or -1 with errstr (a setting or the agent's operator id cannot be used). */
    int (*build)(const pop_dial_account_t *acct, const pop_dial_call_t *call, pop_dial_req_t *out,
                 char *errstr, size_t errsz);
    /* http_status 0: no answer (transport error in body). Always fills out. */
    void (*parse)(int http_status, const char *body, pop_dial_result_t *out);
    /* Settings the provider cannot do without: NULL, or the first missing one. */
    const char *(*missing)(const pop_dial_account_t *acct);
} pop_dial_provider_t;

extern const pop_dial_provider_t pop_dial_callgear;
extern const pop_dial_provider_t pop_dial_twilio;

/* The provider called `name`, or NULL. */
const pop_dial_provider_t *pop_dial_provider_find(const char *name);

/* Helpers the providers share. Sets out to a refusal with these words. */
void pop_dial_refused(pop_dial_result_t *out, int status, const char *code, const char *reason);
/* The HTTP status the agent gets for a provider's own HTTP status when the
 * provider said nothing more precise: 429 stays 429, another 4xx is the
 * request (422: the number, the agent's operator...), 401/403 and 5xx are
 * ours or the provider's to fix (502), no answer is 504. */
int pop_dial_status_for(int provider_status);

#endif
