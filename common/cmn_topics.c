/* Topic creation through librdkafka's Admin API (kcat cannot create topics,
 * and this way compose and Kubernetes need no extra step). */
#include "cmn_topics.h"
#include "cmn_producer.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

static const char *const all_names[] = {
    CMN_TOPIC_CALL_EVENTS, CMN_TOPIC_CALL_EVENTS_DLQ, CMN_TOPIC_TICKET_EVENTS,
    CMN_TOPIC_TICKET_DLQ,  CMN_TOPIC_MISSED_OPS,      CMN_TOPIC_AGENT_ACTIONS,
    CMN_TOPIC_SCREEN_POPS, CMN_TOPIC_CRM_EVENTS,      CMN_TOPIC_CRM_USAGE};
#define N_TOPICS (sizeof all_names / sizeof all_names[0])
static char prefixed[N_TOPICS][160];

void cmn_topics_set_prefix(const char *prefix)
{
    for (size_t i = 0; i < N_TOPICS; i++)
        snprintf(prefixed[i], sizeof prefixed[i], "%s%s", prefix ? prefix : "", all_names[i]);
}

const char *cmn_topic(const char *name)
{
    for (size_t i = 0; i < N_TOPICS; i++)
        if (strcmp(name, all_names[i]) == 0)
            return prefixed[i][0] ? prefixed[i] : all_names[i];
    return name;
}

static int check_results(rd_kafka_event_t *ev, char *errstr, size_t errsz)
{
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    if (!res) {
        snprintf(errstr, errsz, "create topics: %s", rd_kafka_event_error_string(ev));
        return -1;
    }
    const rd_kafka_topic_result_t **topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(errstr, errsz, "create topic %s: %s", rd_kafka_topic_result_name(topics[i]),
                     rd_kafka_topic_result_error_string(topics[i]));
            return -1;
        }
    }
    return 0;
}

int cmn_topics_ensure(const char *brokers, const cmn_topic_spec_t *topics, size_t n, int timeout_ms,
                      char *errstr, size_t errsz)
{
    int rc = -1;
    rd_kafka_t *rk = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_NewTopic_t *new_topics[16] = {0};
    rd_kafka_conf_t *conf = cmn_kafka_conf_new(brokers, errstr, errsz);
    if (conf && cmn_kafka_conf_finish(conf, NULL, 0, errstr, errsz) < 0) { /* security settings */
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    if (!conf || n > 16) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        goto done;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errsz))) {
        rd_kafka_conf_destroy(conf);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char isr[16];
        /* -1 asks the broker for its default.replication.factor (KIP-464):
         * a real cluster's durability is its operator's setting, not ours. */
        int rf = topics[i].replication > 0 ? topics[i].replication : -1;
        if (!(new_topics[i] =
                  rd_kafka_NewTopic_new(topics[i].name, topics[i].partitions, rf, errstr, errsz)))
            goto done;
        snprintf(isr, sizeof isr, "%d", topics[i].min_insync);
        if (topics[i].min_insync > 0 &&
            rd_kafka_NewTopic_set_config(new_topics[i], "min.insync.replicas", isr)) {
            snprintf(errstr, errsz, "topic %s: cannot set min.insync.replicas", topics[i].name);
            goto done;
        }
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *options =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, errsz);
    rd_kafka_CreateTopics(rk, new_topics, n, options, q);
    rd_kafka_AdminOptions_destroy(options);
    if (!(ev = rd_kafka_queue_poll(q, timeout_ms + 2000))) {
        snprintf(errstr, errsz, "create topics: no answer from %s within %d ms", brokers,
                 timeout_ms + 2000);
        goto done;
    }
    rc = check_results(ev, errstr, errsz);
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n && i < 16; i++)
        if (new_topics[i])
            rd_kafka_NewTopic_destroy(new_topics[i]);
    if (q)
        rd_kafka_queue_destroy(q);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}

int cmn_topics_ensure_all(const char *brokers, int partitions, int replication, int min_insync,
                          int timeout_ms, char *errstr, size_t errsz)
{
    cmn_topic_spec_t all[N_TOPICS];
    for (size_t i = 0; i < N_TOPICS; i++) {
        all[i].name = cmn_topic(all_names[i]);
        /* One count for every keyed topic: ticket-service reads three of them
         * co-partitioned (cmn_consumer.h). The dead-letter topics are low
         * volume; one partition keeps each in order. */
        int dlq = strcmp(all_names[i], CMN_TOPIC_CALL_EVENTS_DLQ) == 0 ||
                  strcmp(all_names[i], CMN_TOPIC_TICKET_DLQ) == 0;
        all[i].partitions = dlq ? 1 : partitions;
        all[i].replication = replication;
        all[i].min_insync = min_insync;
    }
    return cmn_topics_ensure(brokers, all, N_TOPICS, timeout_ms, errstr, errsz);
}
