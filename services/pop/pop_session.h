/* Agent sessions in Redis (R-P1): log in, heartbeat with expiry, log out,
 * the agent's current call. A session is found by its token; Redis keeps
 * only the token's SHA-256, so a copy of Redis does not let anyone read
 * pops. One session per agent: a new login ends the previous one (its
 * token stops working), so a pop stream is always exactly that agent's. */
#ifndef POP_SESSION_H
#define POP_SESSION_H

#include "pop_store.h"

#include <stddef.h>
#include <stdint.h>

#define POP_TOKEN_LEN 64 /* hex of 32 random bytes */

typedef struct {
    const char *crm_id;      /* CRM agent id: whose pops */
    const char *provider_id; /* the telephony's agent id (for unmapped agents, R-I3) */
    const char *extension;   /* device / extension */
    int64_t until_ms;        /* 0, or the session never lives past it (an ID token's exp + grace) */
} pop_login_t;

/* Writes a new random token (POP_TOKEN_LEN hex + NUL) into out: 0, or -1
 * when the system has no randomness to give. */
int pop_session_new_token(char *out, size_t outsz) __attribute__((warn_unused_result));

/* The agent a token belongs to: crm_id "" when the token is unknown or
 * expired. Borrowed for the call. login_ms: when the session started;
 * call: the agent's current call ("" when none). */
typedef struct {
    const char *crm_id, *provider_id, *extension, *call;
    const char *session; /* the session's id: its token's SHA-256 (hex) */
    int64_t login_ms;
    long ttl_s; /* seconds left */
} pop_session_info_t;
typedef void (*pop_session_fn)(void *ctx, const pop_session_info_t *info, const char *err);

int pop_session_login(pop_store_t *s, const char *token, const pop_login_t *who, long ttl_s,
                      int64_t now_ms, pop_session_fn cb, void *ctx)
    __attribute__((warn_unused_result));
/* Resolves the token; with refresh_ttl_s > 0 also extends the session
 * (heartbeat), never past its until_ms. */
int pop_session_get(pop_store_t *s, const char *token, long refresh_ttl_s, pop_session_fn cb,
                    void *ctx) __attribute__((warn_unused_result));
/* What is left of the session whose id is `session` (its token's SHA-256,
 * hex: pop_session_info_t.session): cb gets Redis's TTL reply, an integer,
 * -2 once the session expired or was revoked. */
int pop_session_ttl(pop_store_t *s, const char *session, cmn_redis_reply_fn cb, void *ctx)
    __attribute__((warn_unused_result));
/* Ends the session; info.crm_id says whose it was ("" when unknown). */
int pop_session_logout(pop_store_t *s, const char *token, pop_session_fn cb, void *ctx)
    __attribute__((warn_unused_result));
/* A fresh ID token of the session's agent (OpenID Connect refresh): the
 * session may now live until until_ms, and is extended by ttl_s within
 * it. When the token's session is not crm_id's, nothing changes and
 * info.crm_id is "" (as for an unknown token). */
int pop_session_extend(pop_store_t *s, const char *token, const char *crm_id, int64_t until_ms,
                       long ttl_s, pop_session_fn cb, void *ctx)
    __attribute__((warn_unused_result));
/* Ends the agent's session, whatever its token (an administrator's
 * revocation); info as pop_session_logout's ("" when the agent had none).
 * The caller announces the end (pop_store_announce_end) so the session's
 * streams end on every replica at once. */
int pop_session_revoke(pop_store_t *s, const char *crm_id, pop_session_fn cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
