/* Issue 8 item 4: topic durability is configuration. A topic created with
 * replication 0 takes the broker's default.replication.factor (the local
 * broker's is 1), and a configured min.insync.replicas reaches the topic.
 * Against the real broker of the test stack. */
#include "cmn_log.h"
#include "cmn_producer.h"
#include "cmn_topics.h"
#include "it_env.h"
#include "test.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

static char topic[128];

/* The topic's min.insync.replicas as the broker reports it, into out. */
static int describe_min_isr(char *out, size_t outsz)
{
    char errstr[512];
    int rc = -1;
    rd_kafka_conf_t *conf = cmn_kafka_conf_new(it_brokers(), errstr, sizeof errstr);
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr) : NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    if (!rk)
        goto done;
    q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    if (!(ev = rd_kafka_queue_poll(q, 15000)) || rd_kafka_event_error(ev))
        goto done;
    size_t n_res, n_entries;
    const rd_kafka_ConfigResource_t **got = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev), &n_res);
    const rd_kafka_ConfigEntry_t **entries =
        n_res ? rd_kafka_ConfigResource_configs(got[0], &n_entries) : NULL;
    for (size_t i = 0; entries && i < n_entries; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "min.insync.replicas") == 0) {
            snprintf(out, outsz, "%s", rd_kafka_ConfigEntry_value(entries[i]));
            rc = 0;
        }
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    if (q)
        rd_kafka_queue_destroy(q);
    if (rk)
        rd_kafka_destroy(rk);
    else if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}

static int replicas_of_partition0(void)
{
    char errstr[512];
    int n = -1;
    rd_kafka_conf_t *conf = cmn_kafka_conf_new(it_brokers(), errstr, sizeof errstr);
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr) : NULL;
    rd_kafka_topic_t *rkt = rk ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
    const struct rd_kafka_metadata *md = NULL;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 15000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].partition_cnt > 0)
        n = md->topics[0].partitions[0].replica_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk)
        rd_kafka_destroy(rk);
    else if (conf)
        rd_kafka_conf_destroy(conf);
    return n;
}

static void test_broker_default_replication_and_min_isr(void)
{
    char errstr[512], isr[16] = "";
    it_unique(topic, sizeof topic, "it-topics");
    /* 2 in-sync copies of 1: Kafka accepts the setting (producing with
     * acks=all would then fail, which is what the operator asked for). */
    cmn_topic_spec_t spec = {.name = topic, .partitions = 1, .replication = 0, .min_insync = 2};
    int rc = cmn_topics_ensure(it_brokers(), &spec, 1, 10000, errstr, sizeof errstr);
    if (rc)
        fprintf(stderr, "%s\n", errstr);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(describe_min_isr(isr, sizeof isr), 0);
    ASSERT_EQ_STR(isr, "2");
    ASSERT_EQ_INT(replicas_of_partition0(), 1); /* the local broker's default */
}

TEST_MAIN("topics", TEST_CASE(test_broker_default_replication_and_min_isr))
