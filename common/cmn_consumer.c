/* Group consumer with per-partition in-flight tracking. Each assigned
 * partition keeps a FIFO of the offsets handed out (in order, as Kafka
 * delivers a partition in order) with their state; the head is popped while
 * done and the offset after the last popped is stored. A message the
 * service gave up (retry on a leaving partition) is never popped: nothing
 * after it is stored. Topic names are interned for the consumer's lifetime
 * so a position the service holds never points at freed memory. */
#include "cmn_consumer.h"
#include "cmn_kafka_loop.h"
#include "cmn_log.h"
#include "cmn_producer.h" /* cmn_kafka_conf_new */
#include "cmn_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SLOT_IN_FLIGHT, SLOT_DONE, SLOT_GIVEN_UP } slot_state_t;

typedef struct {
    int64_t offset;
    slot_state_t state;
} slot_t;

typedef struct partition_track {
    struct partition_track *next;
    const char *topic; /* interned */
    int32_t partition;
    int revoking;     /* no more messages handed out; waiting for its in-flight ones */
    int in_flight;    /* slots in SLOT_IN_FLIGHT */
    int paused_alone; /* at max_in_flight_per_partition: this partition waits in Kafka */
    slot_t *slots;    /* ring buffer */
    size_t head, count, cap;
} track_t;

struct cmn_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    cmn_kafka_loop_t loop;
    track_t *tracks;
    char **names; /* interned topic names, freed by close */
    size_t n_names;
    int in_flight;
    int max_in_flight;
    int max_per_partition; /* 0: no per-partition bound */
    int co_partitioned;    /* `range`: partition p of every topic here (opts) */
    int paused;
    int held; /* the service asked for a pause (cmn_consumer_hold) */
    int stopped;
    int closing;
    cmn_message_fn on_message;
    cmn_revoke_fn on_revoke;
    void *ctx;
    cmn_consumer_fatal_fn on_fatal;
    void *fatal_ctx;
    int fatal;
    /* The revocation in progress: librdkafka waits for our unassign call. */
    rd_kafka_topic_partition_list_t *revoking;
    int revoking_lost;
    int64_t revoke_deadline_ms;
    int revoke_timeout_ms;
    struct event *revoke_ev;
};

__attribute__((weak)) void *cmn_consumer_alloc(size_t size)
{
    return malloc(size);
}

/* Returns the consumer's copy of `name` (made once), or NULL out of memory. */
static const char *intern(cmn_consumer_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_names; i++)
        if (strcmp(c->names[i], name) == 0)
            return c->names[i];
    size_t len = strlen(name) + 1;
    char **grown = cmn_consumer_alloc((c->n_names + 1) * sizeof *grown);
    char *copy = cmn_consumer_alloc(len);
    if (!grown || !copy) {
        free(grown);
        free(copy);
        return NULL;
    }
    if (c->n_names)
        memcpy(grown, c->names, c->n_names * sizeof *grown);
    memcpy(copy, name, len);
    grown[c->n_names++] = copy;
    free(c->names);
    c->names = grown;
    return copy;
}

static track_t *track_find(const cmn_consumer_t *c, const char *topic, int32_t partition)
{
    for (track_t *t = c->tracks; t; t = t->next)
        if (t->partition == partition && strcmp(t->topic, topic) == 0)
            return t;
    return NULL;
}

static track_t *track_add(cmn_consumer_t *c, const char *topic, int32_t partition)
{
    track_t *t = track_find(c, topic, partition);
    const char *name;
    if (t)
        return t;
    if (!(name = intern(c, topic)) || !(t = cmn_consumer_alloc(sizeof *t)))
        return NULL;
    memset(t, 0, sizeof *t);
    t->topic = name;
    t->partition = partition;
    t->next = c->tracks;
    c->tracks = t;
    return t;
}

static void track_remove(cmn_consumer_t *c, track_t *gone)
{
    for (track_t **pp = &c->tracks; *pp; pp = &(*pp)->next) {
        if (*pp == gone) {
            *pp = gone->next;
            c->in_flight -= gone->in_flight; /* their effects are the next owner's to replay */
            free(gone->slots);
            free(gone);
            return;
        }
    }
}

static slot_t *slot_at(track_t *t, size_t i)
{
    return &t->slots[(t->head + i) % t->cap];
}

static int track_push(track_t *t, int64_t offset)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        slot_t *grown = cmn_consumer_alloc(cap * sizeof *grown);
        if (!grown)
            return -1;
        for (size_t i = 0; i < t->count; i++)
            grown[i] = *slot_at(t, i);
        free(t->slots);
        t->slots = grown;
        t->head = 0;
        t->cap = cap;
    }
    t->count++;
    *slot_at(t, t->count - 1) = (slot_t){offset, SLOT_IN_FLIGHT};
    t->in_flight++;
    return 0;
}

/* The index of offset's slot while it is in flight, or -1. */
static long track_index(track_t *t, int64_t offset)
{
    for (size_t i = 0; i < t->count; i++) {
        slot_t *s = slot_at(t, i);
        if (s->offset == offset)
            return s->state == SLOT_IN_FLIGHT ? (long)i : -1;
    }
    return -1;
}

/* Pops the done head; returns the offset to store (last contiguous done +
 * 1) or -1 when the head is still pending or given up. */
static int64_t track_pop_done(track_t *t)
{
    int64_t store = -1;
    while (t->count && t->slots[t->head].state == SLOT_DONE) {
        store = t->slots[t->head].offset + 1;
        t->head = (t->head + 1) % t->cap;
        t->count--;
    }
    return store;
}

static int paused_alone(const cmn_consumer_t *c, const char *topic, int32_t partition);

static void set_paused(cmn_consumer_t *c, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL, *go;
    if (c->paused == pause || rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (pause) {
        rd_kafka_pause_partitions(c->rk, parts);
    } else if ((go = rd_kafka_topic_partition_list_new(parts->cnt)) != NULL) {
        for (int i = 0; i < parts->cnt; i++) /* a partition at its own bound stays paused */
            if (!paused_alone(c, parts->elems[i].topic, parts->elems[i].partition))
                rd_kafka_topic_partition_list_add(go, parts->elems[i].topic,
                                                  parts->elems[i].partition);
        rd_kafka_resume_partitions(c->rk, go);
        rd_kafka_topic_partition_list_destroy(go);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    c->paused = pause;
}

/* One partition alone (a hot key's backlog): it waits in Kafka while the
 * others flow. */
static void pause_one(cmn_consumer_t *c, track_t *t, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l)
        return;
    rd_kafka_topic_partition_list_add(l, t->topic, t->partition);
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return;
    t->paused_alone = pause;
    LOG_INFO("%s[%d] %s (%d message(s) in flight)", t->topic, t->partition,
             pause ? "paused at its in-flight bound" : "resumed", t->in_flight);
}

static int paused_alone(const cmn_consumer_t *c, const char *topic, int32_t partition)
{
    const track_t *t = track_find(c, topic, partition);
    return t && t->paused_alone;
}

static void maybe_resume(cmn_consumer_t *c)
{
    if (c->paused && c->in_flight <= c->max_in_flight / 2 && !c->stopped && !c->held)
        set_paused(c, 0);
}

/* A leaving partition's last in-flight message is settled: let the
 * revocation complete now rather than at its deadline. */
static void revoke_wake(cmn_consumer_t *c, const track_t *t)
{
    if (t->revoking && t->in_flight == 0 && c->revoke_ev)
        event_active(c->revoke_ev, EV_TIMEOUT, 1);
}

void cmn_consumer_done(cmn_consumer_t *c, const cmn_msg_pos_t *pos)
{
    track_t *t = track_find(c, pos->topic, pos->partition);
    long i;
    if (!t || (i = track_index(t, pos->offset)) < 0)
        return;
    slot_at(t, (size_t)i)->state = SLOT_DONE;
    t->in_flight--;
    c->in_flight--;
    if (t->paused_alone && t->in_flight <= c->max_per_partition / 2 && !c->paused && !c->stopped)
        pause_one(c, t, 0);
    int64_t store = track_pop_done(t);
    if (store >= 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset = store;
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
        if (err)
            LOG_WARN("offset store %s[%d]@%lld: %s", t->topic, t->partition, (long long)store,
                     rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
    }
    revoke_wake(c, t);
    maybe_resume(c);
}

/* Fetches the partition again from `offset`. librdkafka discards what it
 * had prefetched after it (the seek bumps the partition's version), so no
 * later message is handed out before this one comes back. */
static void seek_back(cmn_consumer_t *c, const char *topic, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, l, 0);
    /* Async (timeout 0): a partition that was accepted reports "in progress". */
    if (error || (l->elems[0].err && l->elems[0].err != RD_KAFKA_RESP_ERR__IN_PROGRESS))
        LOG_ERROR("seek %s[%d]@%lld: %s; the partition is stuck until the next rebalance", topic,
                  partition, (long long)offset,
                  error ? rd_kafka_error_string(error) : rd_kafka_err2str(l->elems[0].err));
    rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
}

void cmn_consumer_retry(cmn_consumer_t *c, const cmn_msg_pos_t *pos)
{
    track_t *t = track_find(c, pos->topic, pos->partition);
    long i;
    if (!t || (i = track_index(t, pos->offset)) < 0)
        return;
    if (t->revoking) {
        slot_at(t, (size_t)i)->state = SLOT_GIVEN_UP; /* blocks the stored offset for good */
        t->in_flight--;
        c->in_flight--;
        revoke_wake(c, t);
        return;
    }
    /* Everything from it on is delivered again: forget those slots. */
    for (size_t k = (size_t)i; k < t->count; k++)
        if (slot_at(t, k)->state == SLOT_IN_FLIGHT) {
            t->in_flight--;
            c->in_flight--;
        }
    t->count = (size_t)i;
    seek_back(c, t->topic, t->partition, pos->offset);
    maybe_resume(c);
}

int cmn_consumer_revoking(const cmn_consumer_t *c, const cmn_msg_pos_t *pos)
{
    const track_t *t = track_find(c, pos->topic, pos->partition);
    return t && t->revoking;
}

/* librdkafka's fatal error: once, to the service (it exits). */
static void report_fatal(cmn_consumer_t *c)
{
    char why[512];
    if (c->fatal)
        return;
    c->fatal = 1;
    rd_kafka_fatal_error(c->rk, why, sizeof why);
    LOG_ERROR("kafka consumer fatal error: %s", why);
    if (c->on_fatal)
        c->on_fatal(c->fatal_ctx, why);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cmn_consumer_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        report_fatal(c);
        return;
    }
    LOG_WARN("kafka consumer: %s: %s", rd_kafka_err2name(err), reason);
}

static void handle_message(cmn_consumer_t *c, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        report_fatal(c);
        return;
    }
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            LOG_WARN("kafka consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    track_t *t = track_add(c, topic, m->partition);
    if (t && t->revoking)
        return; /* prefetched before the revoke: the next owner replays it */
    if (!t || track_push(t, m->offset) < 0) {
        /* Without bookkeeping we cannot hold its offset: fetch it again
         * rather than hand out later messages whose offsets would pass it. */
        LOG_ERROR("out of memory tracking %s[%d]@%lld; fetched again", topic, m->partition,
                  (long long)m->offset);
        seek_back(c, topic, m->partition, m->offset);
        return;
    }
    c->in_flight++;
    cmn_msg_pos_t pos = {t->topic, m->partition, m->offset};
    if (c->max_per_partition && t->in_flight >= c->max_per_partition && !t->paused_alone)
        pause_one(c, t, 1); /* before handing it out: the service may finish it at once */
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

/* Ends the revocation in progress: commits what is done (unless lost),
 * forgets the partitions and gives them back to the group. */
static void revoke_finish(cmn_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *parts = c->revoking;
    int unfinished = 0;
    if (!parts)
        return;
    c->revoking = NULL;
    if (c->revoke_ev)
        event_del(c->revoke_ev);
    /* The next owner starts after what we finished. Closing: async, as a
     * synchronous commit to a hung coordinator would hold the shutdown past
     * its grace (the close waits for it within its own deadline). */
    if (!c->revoking_lost)
        rd_kafka_commit(c->rk, NULL, c->closing);
    for (int i = 0; i < parts->cnt; i++) {
        track_t *t = track_find(c, parts->elems[i].topic, parts->elems[i].partition);
        if (t) {
            unfinished += t->in_flight;
            track_remove(c, t);
        }
    }
    if (unfinished)
        LOG_WARN("revoked %d partition(s) with %d message(s) unfinished: the next owner replays "
                 "them",
                 parts->cnt, unfinished);
    else
        LOG_INFO("revoked %d partition(s)", parts->cnt);
    if (strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE") == 0)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(c->rk, parts));
    else
        rd_kafka_assign(c->rk, NULL);
    rd_kafka_topic_partition_list_destroy(parts);
    maybe_resume(c);
}

static int revoke_settled(const cmn_consumer_t *c)
{
    for (const track_t *t = c->tracks; t; t = t->next)
        if (t->revoking && t->in_flight)
            return 0;
    return 1;
}

static void on_revoke_check(evutil_socket_t fd, short what, void *arg)
{
    cmn_consumer_t *c = arg;
    int64_t left = c->revoke_deadline_ms - cmn_time_mono_ms();
    if (!c->revoking)
        return;
    if (revoke_settled(c) || left <= 0 || c->closing) {
        revoke_finish(c);
        return;
    }
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    if (event_add(c->revoke_ev, &tv) < 0)
        revoke_finish(c); /* cannot wait: give the partitions up now */
}

/* Starts a revocation: the partitions' messages stop being handed out and
 * the service is told; librdkafka waits for revoke_finish's unassign. */
static void revoke_begin(cmn_consumer_t *c, rd_kafka_topic_partition_list_t *parts, int lost)
{
    revoke_finish(c); /* librdkafka serves one rebalance at a time; be safe anyway */
    c->revoking = rd_kafka_topic_partition_list_copy(parts);
    c->revoking_lost = lost;
    c->revoke_deadline_ms = cmn_time_mono_ms() + c->revoke_timeout_ms;
    for (int i = 0; i < parts->cnt; i++) {
        track_t *t = track_find(c, parts->elems[i].topic, parts->elems[i].partition);
        if (t)
            t->revoking = 1;
    }
    LOG_INFO("revoking %d partition(s)%s", parts->cnt, lost ? " (lost)" : "");
    if (c->on_revoke && !c->closing)
        c->on_revoke(c->ctx, lost);
    /* Lost: someone else may own them already; closing: nothing runs any more. */
    if (lost || c->closing || !c->revoke_ev)
        revoke_finish(c);
    else
        on_revoke_check(-1, EV_TIMEOUT, c);
}

/* Whether partition p of one subscribed topic is ours while partition p of
 * another is not (co-partitioned consumers only): the topics' partition
 * counts differ, and one customer's messages now go to two members. */
static void check_co_partitioned(cmn_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (!c->co_partitioned || rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (int i = 0; i < parts->cnt; i++)
        for (size_t k = 0; k < c->n_names; k++)
            if (!rd_kafka_topic_partition_list_find(parts, c->names[k],
                                                    parts->elems[i].partition)) {
                LOG_ERROR("assignment not co-partitioned: %s[%d] is ours, %s[%d] is not (do "
                          "the topics have the same partition count?)",
                          parts->elems[i].topic, parts->elems[i].partition, c->names[k],
                          parts->elems[i].partition);
                rd_kafka_topic_partition_list_destroy(parts);
                return;
            }
    rd_kafka_topic_partition_list_destroy(parts);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cmn_consumer_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            if (!track_add(c, parts->elems[i].topic, parts->elems[i].partition))
                LOG_WARN("out of memory tracking %s[%d]: tracked on its first message",
                         parts->elems[i].topic, parts->elems[i].partition);
        LOG_INFO("assigned %d partition(s)", parts->cnt);
        if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        if (c->paused) /* new partitions start paused too while we are saturated */
            rd_kafka_pause_partitions(rk, parts);
        check_co_partitioned(c);
        return;
    }
    revoke_begin(c, parts,
                 err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk));
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
        /* librdkafka's default prefetch (64 MiB) is more than a service's
         * whole memory budget; 8 MiB still keeps thousands of events ahead */
        {"queued.max.messages.kbytes", "8192"},
        /* A subscribed topic the first metadata answer lacked (created by
         * another replica a moment before, not yet known to that broker) is
         * looked for again at this interval: librdkafka's 5 minutes left a
         * fresh replica idle that long (issue 21's soak) */
        {"topic.metadata.refresh.interval.ms", "10000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, errsz) != RD_KAFKA_CONF_OK)
            return -1;
    if (o->instance_id && *o->instance_id &&
        rd_kafka_conf_set(conf, "group.instance.id", o->instance_id, errstr, errsz) !=
            RD_KAFKA_CONF_OK)
        return -1;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_error);
    /* Offsets follow effects, and the rebalance callback is written for
     * these assignors: pass-through settings cannot change these. `range`
     * (eager) puts partition p of every topic on one member when the
     * topics have the same partition count; cooperative-sticky moves fewer
     * partitions but balances each topic on its own. */
    const char *const fixed[][2] = {
        {"group.id", o->group_id},
        {"partition.assignment.strategy", o->co_partitioned ? "range" : "cooperative-sticky"},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
    };
    return cmn_kafka_conf_finish(conf, fixed, 4, errstr, errsz);
}

/* Co-partitioned topics must have one partition count (the broker's word,
 * at start). A broker that does not answer is not a reason to refuse: the
 * assignment is checked again at each rebalance. */
static int check_partition_counts(cmn_consumer_t *c, const cmn_consumer_opts_t *o, char *errstr,
                                  size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    int want = -1, rc = 0;
    if (!o->co_partitioned || o->n_topics < 2)
        return 0;
    rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 1, NULL, &md, 10000);
    if (err) {
        LOG_WARN("partition counts of the co-partitioned topics not checked: %s",
                 rd_kafka_err2str(err));
        return 0;
    }
    for (size_t i = 0; i < o->n_topics && rc == 0; i++)
        for (int t = 0; t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, o->topics[i]) != 0 || md->topics[t].err)
                continue;
            if (want < 0) {
                want = md->topics[t].partition_cnt;
            } else if (md->topics[t].partition_cnt != want) {
                snprintf(errstr, errsz,
                         "topics %s and %s have %d and %d partitions: a customer's messages "
                         "would go to two replicas (docs/topics.md)",
                         o->topics[0], o->topics[i], want, md->topics[t].partition_cnt);
                rc = -1;
            }
        }
    rd_kafka_metadata_destroy(md);
    return rc;
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
    c->on_fatal = opts->on_fatal;
    c->fatal_ctx = opts->fatal_ctx;
    c->on_revoke = opts->on_revoke;
    c->ctx = opts->ctx;
    c->max_in_flight = opts->max_in_flight > 0 ? opts->max_in_flight : 1000;
    c->max_per_partition =
        opts->max_in_flight_per_partition > 0 ? opts->max_in_flight_per_partition : 0;
    c->revoke_timeout_ms = opts->revoke_timeout_ms > 0 ? opts->revoke_timeout_ms : 10000;
    c->co_partitioned = opts->co_partitioned;
    for (size_t i = 0; i < opts->n_topics; i++)
        if (!intern(c, opts->topics[i])) {
            snprintf(errstr, errsz, "out of memory");
            goto fail;
        }
    if (!(c->revoke_ev = event_new(base, -1, 0, on_revoke_check, c))) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    conf = cmn_kafka_conf_new(opts->brokers, errstr, errsz);
    if (!conf || configure(conf, opts, errstr, errsz) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errsz)))
        goto fail;
    conf = NULL;
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    if (check_partition_counts(c, opts, errstr, errsz) < 0 ||
        subscribe(c, opts, errstr, errsz) < 0 ||
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
        n += !t->revoking;
    return n;
}

void cmn_consumer_hold(cmn_consumer_t *c, int hold)
{
    if (c->held == !!hold)
        return;
    c->held = !!hold;
    if (hold)
        set_paused(c, 1);
    else
        maybe_resume(c);
}

void cmn_consumer_stop(cmn_consumer_t *c)
{
    c->stopped = 1;
    set_paused(c, 1); /* stop fetching what would only be dropped */
}

/* Clients that did not close in time. rd_kafka_destroy would wait for
 * their threads, which wait on the broker for a request timeout or longer,
 * so they are left to the process's exit (the caller is shutting down);
 * kept reachable here so a leak checker does not count them. */
static rd_kafka_t *abandoned[8];

static void abandon(rd_kafka_t *rk)
{
    for (size_t i = 0; i < sizeof abandoned / sizeof abandoned[0]; i++) {
        if (!abandoned[i]) {
            abandoned[i] = rk;
            return;
        }
    }
    /* More than a process ever has: still not destroyed (that would block). */
}

/* One event of the closing client's queue. The queue is served as events,
 * not callbacks: besides the final revoke and the commit result it may
 * carry messages fetched late, which are dropped unstored (the next owner
 * replays them). */
static void serve_event(cmn_consumer_t *c, rd_kafka_event_t *ev, int *committed)
{
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_REBALANCE:
        on_rebalance(c->rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), c);
        break;
    case RD_KAFKA_EVENT_OFFSET_COMMIT:
        *committed = 1;
        if (rd_kafka_event_error(ev) && rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR__NO_OFFSET)
            LOG_WARN("kafka consumer: final commit failed: %s", rd_kafka_event_error_string(ev));
        break;
    default:
        break;
    }
    rd_kafka_event_destroy(ev);
}

/* Serves `q` until *done (or, done NULL, the consumer closed) or the
 * deadline. Returns 1 when done. */
static int serve_until(cmn_consumer_t *c, rd_kafka_queue_t *q, int *done, int64_t deadline_ms)
{
    int committed = 0;
    for (;;) {
        if (done ? *done : rd_kafka_consumer_closed(c->rk))
            return 1;
        int64_t left = deadline_ms - cmn_time_mono_ms();
        if (left <= 0)
            return 0;
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, left > 100 ? 100 : (int)left);
        if (ev)
            serve_event(c, ev, done ? done : &committed);
    }
}

/* Commits the stored offsets and leaves the group, each step served on a
 * private queue with a deadline: a broker that is gone or hung would
 * otherwise hold rd_kafka_commit/rd_kafka_consumer_close for a request
 * timeout or more, and the process past its shutdown grace (issue 19 item
 * 6). Past the deadline the client is destroyed without closing: the group
 * notices at its session timeout, and the next owner replays from the last
 * commit. Returns 1 when the consumer closed in time. */
static int close_client(cmn_consumer_t *c, int timeout_ms)
{
    int64_t deadline_ms = cmn_time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int committed = 0, closed = 0;
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    if (!q)
        return 0;
    revoke_finish(c); /* one still waiting: give it back first */
    if (rd_kafka_commit_queue(c->rk, NULL, q, NULL, NULL) != 0)
        committed = 1; /* nothing stored, or refused at once: nothing to wait for */
    if (serve_until(c, q, &committed, deadline_ms)) {
        rd_kafka_error_t *err = rd_kafka_consumer_close_queue(c->rk, q);
        if (err) {
            LOG_WARN("kafka consumer: close: %s", rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        } else {
            closed = serve_until(c, q, NULL, deadline_ms);
        }
    }
    rd_kafka_queue_destroy(q);
    return closed;
}

void cmn_consumer_close(cmn_consumer_t *c)
{
    cmn_consumer_close_within(c, CMN_CONSUMER_CLOSE_MS);
}

void cmn_consumer_close_within(cmn_consumer_t *c, int timeout_ms)
{
    if (!c)
        return;
    c->stopped = 1;
    c->closing = 1; /* a revoke from now on completes at once */
    if (c->queue) {
        rd_kafka_queue_io_event_enable(c->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(c->queue);
    }
    cmn_kafka_loop_detach(&c->loop);
    if (c->rk && close_client(c, timeout_ms)) {
        rd_kafka_destroy(c->rk);
    } else if (c->rk) {
        LOG_WARN("kafka consumer: not closed within %d ms (broker gone or hung?); left to the "
                 "process's exit: the partitions' next owner replays from the last commit",
                 timeout_ms);
        abandon(c->rk);
    }
    if (c->revoke_ev)
        event_free(c->revoke_ev);
    while (c->tracks)
        track_remove(c, c->tracks);
    for (size_t i = 0; i < c->n_names; i++)
        free(c->names[i]);
    free(c->names);
    free(c);
}
