/* Kafka helpers of the consumer integration tests: topics of their own,
 * plain messages produced and confirmed, and a group's committed offsets
 * read from the broker (what the next owner of a partition starts from). */
#ifndef IT_KAFKA_H
#define IT_KAFKA_H

#include "cmn_producer.h"
#include "cmn_topics.h"
#include "it_env.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

/* Creates a fresh topic `out` (prefix-unique) with `partitions`; 0 or -1. */
static inline int it_topic_new(char *out, size_t sz, const char *prefix, int partitions)
{
    char errstr[512];
    it_unique(out, sz, prefix);
    cmn_topic_spec_t spec = {out, partitions, 1, 0}; /* min.insync.replicas: the broker's */
    if (cmn_topics_ensure(it_brokers(), &spec, 1, 10000, errstr, sizeof errstr) < 0) {
        fprintf(stderr, "topic %s: %s\n", out, errstr);
        return -1;
    }
    return 0;
}

static int it_delivered_, it_failed_;

static void it_on_delivered_(void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                             int64_t offset)
{
    if (err)
        it_failed_++;
    else
        it_delivered_++;
}

static int it_all_delivered_(void *ctx)
{
    return it_delivered_ + it_failed_ >= *(int *)ctx;
}

/* Produces n messages "<first+i>" to partition 0 of each topic (one
 * partition topics) and waits for their delivery reports; 0 or -1. */
static inline int it_produce(struct event_base *base, const char *const *topics, size_t n_topics,
                             int first, int n)
{
    char errstr[512], text[32];
    cmn_producer_opts_t opts = {.brokers = it_brokers(), .linger_ms = 5};
    cmn_producer_t *p = cmn_producer_new(base, &opts, errstr, sizeof errstr);
    int want = (int)n_topics * n, rc = 0;
    if (!p)
        return -1;
    it_delivered_ = it_failed_ = 0;
    for (size_t t = 0; t < n_topics; t++)
        for (int i = 0; i < n; i++) {
            snprintf(text, sizeof text, "%d", first + i);
            if (cmn_producer_send(p, topics[t], "k", 1, text, strlen(text), it_on_delivered_,
                                  NULL) != RD_KAFKA_RESP_ERR_NO_ERROR)
                rc = -1;
        }
    if (rc == 0 && (!it_run_until(base, it_all_delivered_, &want, 30000) || it_failed_))
        rc = -1;
    cmn_producer_flush(p, 1000);
    cmn_producer_free(p);
    return rc;
}

/* The group's committed offset of topic[0], or -1 when there is none (or
 * on error). Uses a client of its own that never joins the group. */
static inline int64_t it_committed(const char *group, const char *topic)
{
    char errstr[512];
    int64_t off = -1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", it_brokers(), errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0);
    if (rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && !l->elems[0].err &&
        l->elems[0].offset >= 0)
        off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return off;
}

#endif
