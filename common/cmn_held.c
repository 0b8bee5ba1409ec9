/* The list of messages handed to a service's work (cmn_held.h): doubly
 * linked, so that a finished message leaves it in O(1) whatever order the
 * work finishes in. */
#include "cmn_held.h"

#include <stdlib.h>

void *cmn_held_take(cmn_held_list_t *l, const cmn_msg_pos_t *pos, size_t size)
{
    cmn_held_t *h = calloc(1, size);
    if (!h)
        return NULL;
    h->list = l;
    h->pos = *pos;
    h->next = l->head;
    if (l->head)
        l->head->prev = h;
    l->head = h;
    return h;
}

void cmn_held_release(cmn_held_t *h)
{
    if (!h)
        return;
    if (h->prev)
        h->prev->next = h->next;
    else
        h->list->head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    if (h->list->clear)
        h->list->clear(h);
    free(h);
}

void cmn_held_done(cmn_held_t *h, cmn_consumer_t *c)
{
    if (c)
        cmn_consumer_done(c, &h->pos);
    cmn_held_release(h);
}

void cmn_held_release_all(cmn_held_list_t *l)
{
    while (l->head)
        cmn_held_release(l->head);
}
