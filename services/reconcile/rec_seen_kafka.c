/* rec_seen_load: call-events read for the window, every partition from the
 * first message at or after the window's start (offsets_for_times) to its
 * high watermark as it was when the read began. A plain assigned consumer
 * that commits nothing: the services' consumer groups are not touched. */
#include "cmn_producer.h"
#include "cmn_time.h"
#include "rec_seen.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t low, high; /* watermarks at the start */
    int64_t start;     /* first offset to read; -1: nothing */
    int done;
} part_t;

static rd_kafka_t *consumer_new(const char *brokers, char *errstr, size_t errsz)
{
    const char *const fixed[][2] = {
        {"group.id", "callbus-reconcile"}, /* required by librdkafka; never committed */
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
    };
    rd_kafka_conf_t *conf = cmn_kafka_conf_new(brokers, errstr, errsz);
    if (!conf)
        return NULL;
    if (cmn_kafka_conf_finish(conf, fixed, 3, errstr, errsz) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errsz);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                           size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err =
        t ? rd_kafka_metadata(rk, 0, t, &md, timeout_ms) : RD_KAFKA_RESP_ERR__FAIL;
    int n = -1;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else
        snprintf(errstr, errsz, "%s: no metadata (%s)", topic,
                 err ? rd_kafka_err2str(err) : rd_kafka_err2str(md->topics[0].err));
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

/* Watermarks, and where the window starts, of every partition. */
static int plan(rd_kafka_t *rk, const char *topic, part_t *parts, int n, int64_t from_ms,
                int timeout_ms, char *errstr, size_t errsz)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int rc = -1;
    for (int p = 0; p < n; p++) {
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, p, &parts[p].low,
                                                                   &parts[p].high, timeout_ms);
        if (err) {
            snprintf(errstr, errsz, "%s[%d]: watermarks: %s", topic, p, rd_kafka_err2str(err));
            goto cleanup;
        }
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = from_ms;
    }
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, timeout_ms);
    if (err) {
        snprintf(errstr, errsz, "%s: offsets for the window's start: %s", topic,
                 rd_kafka_err2str(err));
        goto cleanup;
    }
    for (int p = 0; p < n; p++) {
        int64_t off = l->elems[p].offset;
        /* -1: no message at or after from_ms */
        parts[p].start = off >= 0 && off < parts[p].high ? off : -1;
        parts[p].done = parts[p].start < 0;
    }
    rc = 0;
cleanup:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* The first message read on a partition is its oldest kept while a window
 * started before it: retention deleted the window's start (the horizon). */
static int before_horizon(const part_t *pt, const rd_kafka_message_t *m, int64_t from_ms)
{
    rd_kafka_timestamp_type_t type;
    return m->offset == pt->low && pt->low > 0 && rd_kafka_message_timestamp(m, &type) > from_ms;
}

/* One message; -1 with errstr set when the read must stop. */
static int take(rec_seen_t *s, part_t *parts, int n, const rd_kafka_message_t *m, int *first,
                int64_t from_ms, char *errstr, size_t errsz)
{
    char err[256], field[64];
    cmn_event_t ev;
    int p = m->partition;
    if (p < 0 || p >= n)
        return 0;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        parts[p].done = 1;
        return 0;
    }
    if (m->err) {
        snprintf(errstr, errsz, "reading call-events: %s", rd_kafka_message_errstr(m));
        return -1;
    }
    if (first[p] && before_horizon(&parts[p], m, from_ms)) {
        snprintf(errstr, errsz,
                 "call-events[%d] no longer holds the window's start (retention): the window is "
                 "beyond the reconciliation horizon",
                 p);
        return -1;
    }
    first[p] = 0;
    if (m->offset + 1 >= parts[p].high)
        parts[p].done = 1;
    if (cmn_event_decode(m->payload, m->len, &ev, err, sizeof err, field, sizeof field) < 0)
        return 0; /* consumers skip it too */
    int rc = rec_seen_add(s, &ev);
    cmn_event_clear(&ev);
    if (rc < 0)
        snprintf(errstr, errsz, "out of memory");
    return rc;
}

static int all_done(const part_t *parts, int n)
{
    for (int p = 0; p < n; p++)
        if (!parts[p].done)
            return 0;
    return 1;
}

static int read_all(rd_kafka_t *rk, rec_seen_t *s, const char *topic, part_t *parts, int n,
                    int64_t from_ms, int timeout_ms, char *errstr, size_t errsz)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int *first = calloc((size_t)n, sizeof *first);
    int rc = -1;
    int64_t deadline = cmn_time_mono_ms() + timeout_ms;
    if (!first)
        goto cleanup;
    for (int p = 0; p < n; p++)
        if (!parts[p].done) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = parts[p].start;
            first[p] = 1;
        }
    if (l->cnt && rd_kafka_assign(rk, l)) {
        snprintf(errstr, errsz, "%s: cannot assign partitions", topic);
        goto cleanup;
    }
    while (!all_done(parts, n)) {
        if (cmn_time_mono_ms() > deadline) {
            snprintf(errstr, errsz, "%s: not read to its end within %d ms", topic, timeout_ms);
            goto cleanup;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        int r = take(s, parts, n, m, first, from_ms, errstr, errsz);
        rd_kafka_message_destroy(m);
        if (r < 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    if (l->cnt)
        rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(l);
    free(first);
    return rc;
}

int rec_seen_load(rec_seen_t *s, const char *brokers, const char *topic, int64_t from_ms,
                  int timeout_ms, char *errstr, size_t errsz)
{
    part_t *parts = NULL;
    int rc = -1, n;
    rd_kafka_t *rk = consumer_new(brokers, errstr, errsz);
    if (!rk)
        return -1;
    if ((n = partition_count(rk, topic, timeout_ms, errstr, errsz)) <= 0)
        goto cleanup;
    if (!(parts = calloc((size_t)n, sizeof *parts))) {
        snprintf(errstr, errsz, "out of memory");
        goto cleanup;
    }
    if (plan(rk, topic, parts, n, from_ms, timeout_ms, errstr, errsz) < 0)
        goto cleanup;
    rc = read_all(rk, s, topic, parts, n, from_ms, timeout_ms, errstr, errsz);
cleanup:
    free(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
