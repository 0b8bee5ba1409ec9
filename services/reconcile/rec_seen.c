/* The record of calls seen: an open-addressing set of strings (call keys
 * with their state, event ids), filled from call-events (rec_seen.h). */
#include "rec_seen.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key; /* NULL: empty slot */
    int state;
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap, n;
} set_t;

struct rec_seen {
    set_t calls;  /* "<provider>\n<call_id>" -> rec_call_state_t */
    set_t events; /* event ids */
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static slot_t *find(const set_t *t, const char *key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = hash(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
        if (!t->slots[i].key || strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
}

static int grow(set_t *t)
{
    set_t bigger = {.cap = t->cap ? t->cap * 2 : 1024};
    if (!(bigger.slots = calloc(bigger.cap, sizeof *bigger.slots)))
        return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key)
            *find(&bigger, t->slots[i].key) = t->slots[i];
    bigger.n = t->n;
    free(t->slots);
    *t = bigger;
    return 0;
}

/* The slot of `key`, added (state 0) when new; NULL out of memory. */
static slot_t *upsert(set_t *t, const char *key)
{
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return NULL;
    slot_t *s = find(t, key);
    if (!s->key) {
        if (!(s->key = strdup(key)))
            return NULL;
        t->n++;
    }
    return s;
}

static void set_free(set_t *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
}

rec_seen_t *rec_seen_new(void)
{
    return calloc(1, sizeof(rec_seen_t));
}

void rec_seen_free(rec_seen_t *s)
{
    if (!s)
        return;
    set_free(&s->calls);
    set_free(&s->events);
    free(s);
}

static char *call_key(const char *provider, const char *call_id)
{
    size_t a = strlen(provider), b = strlen(call_id);
    char *k = malloc(a + b + 2);
    if (k) {
        memcpy(k, provider, a);
        k[a] = '\n';
        memcpy(k + a + 1, call_id, b + 1);
    }
    return k;
}

int rec_seen_add(rec_seen_t *s, const cmn_event_t *ev)
{
    if (!upsert(&s->events, ev->event_id))
        return -1;
    if (!ev->call_id || !ev->provider)
        return 0; /* agent.* events: no call */
    char *key = call_key(ev->provider, ev->call_id);
    slot_t *slot = key ? upsert(&s->calls, key) : NULL;
    free(key);
    if (!slot)
        return -1;
    int ends = ev->type == CMN_EV_ENDED || ev->type == CMN_EV_OUTBOUND_ENDED;
    if (ends)
        slot->state = REC_CALL_ENDED;
    else if (slot->state == REC_CALL_UNSEEN)
        slot->state = REC_CALL_OPEN;
    return 0;
}

rec_call_state_t rec_seen_call(const rec_seen_t *s, const char *provider, const char *call_id)
{
    char *key = call_key(provider, call_id);
    const slot_t *slot = key ? find(&s->calls, key) : NULL;
    free(key);
    return slot && slot->key ? (rec_call_state_t)slot->state : REC_CALL_UNSEEN;
}

int rec_seen_event(const rec_seen_t *s, const char *event_id)
{
    const slot_t *slot = find(&s->events, event_id);
    return slot && slot->key;
}

size_t rec_seen_count(const rec_seen_t *s)
{
    return s->events.n;
}
