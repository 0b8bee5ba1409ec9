/* Group consumer with per-partition in-flight tracking. Each assigned
 * partition keeps a FIFO of the offsets handed out (in order, as Kafka
 * delivers a partition in order) with a done flag; the head is popped while
 * done and the offset after the last popped is stored. */
#include "cmn_consumer.h"
#include "cmn_kafka_loop.h"
#include "cmn_log.h"
#include "cmn_producer.h" /* cmn_kafka_conf_new */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t offset;
    int done;
} slot_t;

typedef struct partition_track {
    struct partition_track *next;
    char *topic;
    int32_t partition;
    slot_t *slots; /* ring buffer */
    size_t head, count, cap;
} track_t;

struct cmn_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    cmn_kafka_loop_t loop;
    track_t *tracks;
    int in_flight;
    int max_in_flight;
    int paused;
    int held; /* the service asked for a pause (cmn_consumer_hold) */
    int stopped;
    cmn_message_fn on_message;
    void *ctx;
};

static track_t *track_find(cmn_consumer_t *c, const char *topic, int32_t partition)
{
    for (track_t *t = c->tracks; t; t = t->next)
        if (t->partition == partition && strcmp(t->topic, topic) == 0)
            return t;
    return NULL;
}

static track_t *track_add(cmn_consumer_t *c, const char *topic, int32_t partition)
{
    track_t *t = track_find(c, topic, partition);
    if (t)
        return t;
    if (!(t = calloc(1, sizeof *t)) || !(t->topic = strdup(topic))) {
        free(t);
        return NULL;
    }
    t->partition = partition;
    t->next = c->tracks;
    c->tracks = t;
    return t;
}

static void track_remove(cmn_consumer_t *c, const char *topic, int32_t partition)
{
    for (track_t **pp = &c->tracks; *pp; pp = &(*pp)->next) {
        track_t *t = *pp;
        if (t->partition == partition && strcmp(t->topic, topic) == 0) {
            *pp = t->next;
            c->in_flight -= (int)t->count; /* their effects are the next owner's to replay */
            free(t->slots);
            free(t->topic);
            free(t);
            return;
        }
    }
}

static int track_push(track_t *t, int64_t offset)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        slot_t *grown = malloc(cap * sizeof *grown);
        if (!grown)
            return -1;
        for (size_t i = 0; i < t->count; i++)
            grown[i] = t->slots[(t->head + i) % t->cap];
        free(t->slots);
        t->slots = grown;
        t->head = 0;
        t->cap = cap;
    }
    t->slots[(t->head + t->count) % t->cap] = (slot_t){offset, 0};
    t->count++;
    return 0;
}

/* Marks offset done; returns the offset to store (last contiguous done + 1)
 * or -1 when the head is still pending. */
static int64_t track_complete(track_t *t, int64_t offset, int *found)
{
    int64_t store = -1;
    *found = 0;
    for (size_t i = 0; i < t->count; i++) {
        slot_t *s = &t->slots[(t->head + i) % t->cap];
        if (s->offset == offset && !s->done) {
            s->done = 1;
            *found = 1;
            break;
        }
    }
    while (t->count && t->slots[t->head].done) {
        store = t->slots[t->head].offset + 1;
        t->head = (t->head + 1) % t->cap;
        t->count--;
    }
    return store;
}

static void set_paused(cmn_consumer_t *c, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (c->paused == pause || rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (pause)
        rd_kafka_pause_partitions(c->rk, parts);
    else
        rd_kafka_resume_partitions(c->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    c->paused = pause;
}

void cmn_consumer_done(cmn_consumer_t *c, const cmn_msg_pos_t *pos)
{
    track_t *t = track_find(c, pos->topic, pos->partition);
    int found;
    if (!t)
        return;
    int64_t store = track_complete(t, pos->offset, &found);
    if (found)
        c->in_flight--;
    if (store >= 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset = store;
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
        if (err)
            LOG_WARN("offset store %s[%d]@%lld: %s", t->topic, t->partition, (long long)store,
                     rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (c->paused && c->in_flight <= c->max_in_flight / 2 && !c->stopped && !c->held)
        set_paused(c, 0);
}

static void handle_message(cmn_consumer_t *c, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            LOG_WARN("kafka consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    track_t *t = track_add(c, topic, m->partition);
    if (!t || track_push(t, m->offset) < 0) {
        /* Without bookkeeping we cannot store its offset safely: leave it
         * undone; the partition stalls rather than skipping the message. */
        LOG_ERROR("out of memory tracking %s[%d]@%lld", topic, m->partition, (long long)m->offset);
        return;
    }
    c->in_flight++;
    cmn_msg_pos_t pos = {t->topic, m->partition, m->offset};
    c->on_message(c->ctx, &pos, m);
}

static void drain(void *ctx)
{
    cmn_consumer_t *c = ctx;
    rd_kafka_message_t *m;
    while (!c->stopped && (m = rd_kafka_consumer_poll(c->rk, 0)) != NULL) {
        handle_message(c, m);
        rd_kafka_message_destroy(m);
        if (c->in_flight >= c->max_in_flight || c->held) {
            set_paused(c, 1);
            break;
        }
    }
    /* Stopped: keep serving the consumer queue (rebalances, commit results)
     * but hand out nothing. A message fetched now is dropped unstored: it
     * is replayed from the committed offset by whoever owns it next.
     * (rd_kafka_poll() must not be used on a redirected consumer queue.) */
    while (c->stopped && (m = rd_kafka_consumer_poll(c->rk, 0)) != NULL)
        rd_kafka_message_destroy(m);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cmn_consumer_t *c = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            track_add(c, parts->elems[i].topic, parts->elems[i].partition);
        LOG_INFO("assigned %d partition(s)", parts->cnt);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        if (c->paused) /* new partitions start paused too while we are saturated */
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    /* Revoked or lost: store nothing more for them. What is done is already
     * stored; commit it now (unless lost) so the next owner starts there. */
    if (!rd_kafka_assignment_lost(rk))
        rd_kafka_commit(rk, NULL, 0);
    for (int i = 0; i < parts->cnt; i++)
        track_remove(c, parts->elems[i].topic, parts->elems[i].partition);
    LOG_INFO("revoked %d partition(s)", parts->cnt);
    if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static int configure(rd_kafka_conf_t *conf, const cmn_consumer_opts_t *o, char *errstr,
                     size_t errsz)
{
    char session[16];
    snprintf(session, sizeof session, "%d",
             o->session_timeout_ms > 0 ? o->session_timeout_ms : 10000);
    const char *kv[][2] = {
        {"auto.commit.interval.ms", "1000"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", session},
        {"enable.partition.eof", "false"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, errsz) != RD_KAFKA_CONF_OK)
            return -1;
    if (o->instance_id && *o->instance_id &&
        rd_kafka_conf_set(conf, "group.instance.id", o->instance_id, errstr, errsz) !=
            RD_KAFKA_CONF_OK)
        return -1;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    /* Offsets follow effects, and the rebalance callback speaks the
     * cooperative protocol: pass-through settings cannot change these. */
    const char *const fixed[][2] = {
        {"group.id", o->group_id},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
    };
    return cmn_kafka_conf_finish(conf, fixed, 4, errstr, errsz);
}

static int subscribe(cmn_consumer_t *c, const cmn_consumer_opts_t *o, char *errstr, size_t errsz)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)o->n_topics);
    for (size_t i = 0; i < o->n_topics; i++)
        rd_kafka_topic_partition_list_add(topics, o->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        snprintf(errstr, errsz, "subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

cmn_consumer_t *cmn_consumer_new(struct event_base *base, const cmn_consumer_opts_t *opts,
                                 char *errstr, size_t errsz)
{
    cmn_consumer_t *c = calloc(1, sizeof *c);
    rd_kafka_conf_t *conf = NULL;
    if (!c) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    c->on_message = opts->on_message;
    c->ctx = opts->ctx;
    c->max_in_flight = opts->max_in_flight > 0 ? opts->max_in_flight : 1000;
    conf = cmn_kafka_conf_new(opts->brokers, errstr, errsz);
    if (!conf || configure(conf, opts, errstr, errsz) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errsz)))
        goto fail;
    conf = NULL;
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    if (subscribe(c, opts, errstr, errsz) < 0 ||
        cmn_kafka_loop_attach(&c->loop, base, c->queue, drain, c, errstr, errsz) < 0)
        goto fail;
    return c;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    cmn_consumer_close(c);
    return NULL;
}

int cmn_consumer_in_flight(const cmn_consumer_t *c)
{
    return c->in_flight;
}

int cmn_consumer_assigned(const cmn_consumer_t *c)
{
    int n = 0;
    for (const track_t *t = c->tracks; t; t = t->next)
        n++;
    return n;
}

void cmn_consumer_hold(cmn_consumer_t *c, int hold)
{
    if (c->held == !!hold)
        return;
    c->held = !!hold;
    if (hold)
        set_paused(c, 1);
    else if (c->in_flight <= c->max_in_flight / 2 && !c->stopped)
        set_paused(c, 0);
}

void cmn_consumer_stop(cmn_consumer_t *c)
{
    c->stopped = 1;
    set_paused(c, 1); /* stop fetching what would only be dropped */
}

void cmn_consumer_close(cmn_consumer_t *c)
{
    if (!c)
        return;
    c->stopped = 1;
    if (c->queue) {
        rd_kafka_queue_io_event_enable(c->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(c->queue);
    }
    cmn_kafka_loop_detach(&c->loop);
    if (c->rk) {
        rd_kafka_commit(c->rk, NULL, 0); /* stored offsets, synchronously */
        rd_kafka_consumer_close(c->rk);  /* serves the final revoke */
        rd_kafka_destroy(c->rk);
    }
    while (c->tracks)
        track_remove(c, c->tracks->topic, c->tracks->partition);
    free(c);
}
