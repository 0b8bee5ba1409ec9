/* Messages a service has handed to its work and not yet finished (their
 * done callbacks' context): listed, so that what a shutdown leaves
 * unfinished (grace over) is freed at the end; their offsets never passed
 * them, the next owner replays them from Kafka. ticket-service's intake
 * and pop-service keep one list each.
 *
 * A service embeds cmn_held_t as the first member of its own record and
 * takes records with cmn_held_take. The list owns its records: releasing
 * one frees it (what the record owns besides, through the list's clear
 * callback first). Loop thread only. */
#ifndef CMN_HELD_H
#define CMN_HELD_H

#include "cmn_consumer.h"

#include <stddef.h>

typedef struct cmn_held cmn_held_t;
typedef struct cmn_held_list cmn_held_list_t;

struct cmn_held {
    cmn_held_t *prev, *next;
    cmn_held_list_t *list;
    cmn_msg_pos_t pos; /* the message's, for cmn_consumer_done/retry */
};

struct cmn_held_list {
    cmn_held_t *head;
    /* Frees what a record owns besides itself (not the record); NULL: nothing. */
    void (*clear)(cmn_held_t *h);
};

/* A new record of `size` bytes (at least sizeof(cmn_held_t), the
 * cmn_held_t first), zeroed but for its cmn_held_t, at `pos`, listed in l.
 * NULL out of memory (nothing listed). */
void *cmn_held_take(cmn_held_list_t *l, const cmn_msg_pos_t *pos, size_t size)
    __attribute__((warn_unused_result));
/* Unlinks and frees h. NULL-safe. */
void cmn_held_release(cmn_held_t *h);
/* The message's effect is durable (or it has none): its offset may move
 * (c NULL: the consumer is closed already, at shutdown), and h is
 * released. */
void cmn_held_done(cmn_held_t *h, cmn_consumer_t *c);
/* Releases every record of l (at exit). */
void cmn_held_release_all(cmn_held_list_t *l);

#endif
