/* The contact mirror (issue 26 item 3): a phone-number index of the CRM's
 * contacts in Redis, shared by every replica, kept by the one replica that
 * holds its lease from the CRM's change feed (tkt_crm_ops_t.contacts_changed:
 * Zendesk's cursor-based incremental user export), paced within the CRM's
 * export limit. A caller's look-up by phone is answered from it when
 * tkt_mirror_rule.h says it can vouch, else by the CRM's search as before.
 * Contacts ticket-service creates are added at once. docs/contact-mirror.md.
 *
 * Redis, under "<CALLBUS_TOPIC_PREFIX>tkt:mirror:":
 *   n:<E.164>  hash  contact id -> {"id","name","email","created_at_ms"}
 *   u          hash  contact id -> its numbers (E.164, space-separated)
 *   state      hash  cursor, complete (0/1), watermark_ms
 *   lease      string the holder's instance id (PX), who reads the feed
 *   want       string set (PX 1 s) while a creation waits for a pass
 *
 * Loop thread only. The mirror borrows base, crm, redis and country; they
 * outlive it (tkt_mirror_close before the CRM is freed). */
#ifndef TKT_MIRROR_H
#define TKT_MIRROR_H

#include "cmn_phone.h"
#include "cmn_redis.h"
#include "tkt_crm.h"
#include "tkt_mirror_rule.h"

#include <event2/event.h>

typedef struct {
    struct event_base *base;
    tkt_crm_t *crm;
    cmn_redis_t *redis;
    const cmn_country_t *country;
    /* How the CRM's numbers without '+' read (its look-up form, R-I2: a
     * Dynamics "3123456789" is national, not a country code + number). */
    cmn_phone_format_t stored_format;
    const char *topic_prefix; /* copied */
    const char *instance_id;  /* the lease's holder name (copied) */
    tkt_mirror_rule_t rule;
    long interval_ms; /* a pass this often while no creation waits */
    long min_gap_ms;  /* between two export requests (the CRM's export limit) */
    long lease_ms;
} tkt_mirror_cfg_t;

typedef struct tkt_mirror tkt_mirror_t;

/* Starts the lease / refresh timer. NULL on no memory. */
tkt_mirror_t *tkt_mirror_new(const tkt_mirror_cfg_t *cfg);

/* A look-up by phone, answered exactly once through cb, from the loop,
 * never from inside this call: from the mirror (ok, contacts[]) when it
 * vouches, else crm->ops->find_contacts(lookup_phone, prio) as without it.
 * number: the caller's E.164 (the index key); lookup_phone: the search's
 * form (R-I2). m NULL: the search, always. The result is borrowed. */
void tkt_mirror_find(tkt_mirror_t *m, tkt_crm_t *crm, const char *number, const char *lookup_phone,
                     tkt_prio_t prio, tkt_mirror_purpose_t purpose, tkt_crm_cb cb, void *ctx);

/* A contact ticket-service has just created for number (E.164): in the
 * index at once, so the next look-up finds it without a search. NULL-safe;
 * best effort (a lost write is repaired by the feed). */
void tkt_mirror_note_created(tkt_mirror_t *m, const char *number, const char *contact_id,
                             const char *name);

/* Shutdown, step 1 (before the CRM is freed): look-ups still waiting for a
 * pass are answered with ok = 0, "shut down"; nothing new starts. */
void tkt_mirror_close(tkt_mirror_t *m);
/* After the CRM is freed (its cancelled export has called back). NULL-safe. */
void tkt_mirror_free(tkt_mirror_t *m);

#endif
