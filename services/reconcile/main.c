/* callbus-reconcile (issue 27): each configured provider's call log for a
 * window against what call-events holds; what callbus never received is
 * backfilled. A batch job: run by a CronJob (the default window) or by hand
 * after an outage (--from/--to). Exit status: 0 when nothing failed, 1 when
 * some call or provider failed, 2 on bad configuration or arguments. */
#include "cmn_agentdir.h"
#include "cmn_log.h"
#include "cmn_phone.h"
#include "cmn_service.h"
#include "cmn_time.h"
#include "cmn_topics.h"
#include "rec_callgear_list.h"
#include "rec_config.h"
#include "rec_run.h"
#include "rec_twilio_list.h"
#include "rec_webex_list.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    cmn_common_cfg_t common;
    rec_config_t cfg;
    rec_args_t args;
    const cmn_country_t *country;
    cmn_agentdir_t *directory; /* loaded once (no event loop: no reload) */
    const cmn_agentmap_t *agents;
    rec_seen_t *seen;
    rec_publish_t *publish;
} reconcile_t;

static int load(reconcile_t *r, int argc, char **argv)
{
    cmn_log_level_t level = CMN_LOG_INFO;
    char errstr[256];
    int problems =
        cmn_config_load(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &r->common, stderr) +
        cmn_config_load(rec_config_spec, rec_config_spec_len, &r->cfg, stderr);
    if (problems)
        return -1;
    if (!(r->country = cmn_phone_country(r->common.default_country))) {
        fprintf(stderr, "CALLBUS_DEFAULT_COUNTRY: \"%s\" is not a known country\n",
                r->common.default_country);
        return -1;
    }
    cmn_log_level_parse(r->common.log_level, &level);
    cmn_log_init("reconcile", level);
    cmn_topics_set_prefix(r->common.topic_prefix);
    if (cmn_agentdir_new(NULL, &r->cfg.agents, &r->directory, errstr, sizeof errstr) < 0) {
        fprintf(stderr, "agent directory: %s\n", errstr);
        return -1;
    }
    r->agents = cmn_agentdir_map(r->directory);
    return rec_args_parse(argc, argv, &r->cfg, cmn_time_now_ms(), &r->args);
}

/* A provider's normalising context, as ingest builds it for a request. */
static ing_ctx_t ctx_of(const reconcile_t *r, const char *number_format, const char *time_zone)
{
    ing_ctx_t ctx = {.country = r->country,
                     .received_at_ms = cmn_time_now_ms(),
                     .internal_max_digits = (int)r->cfg.internal_max_digits,
                     .time_zone = time_zone};
    if (cmn_phone_format_parse(number_format, &ctx.number_format) < 0)
        ctx.number_format = CMN_PHONE_FORMAT_AUTO; /* unreachable: an enum setting */
    return ctx;
}

static void twilio(reconcile_t *r, rec_tally_t *t)
{
    char errstr[512];
    json_t *calls = NULL;
    rec_twilio_cfg_t tw = {.api_url = r->cfg.twilio_api_url,
                           .account_sid = r->cfg.twilio_account_sid,
                           .page_size = (int)r->cfg.page_size,
                           .http = {.user = r->cfg.twilio_account_sid,
                                    .password = r->cfg.twilio_auth_token,
                                    .retries = (int)r->cfg.http_retries,
                                    .timeout_ms = (int)r->cfg.http_timeout_ms,
                                    .max_wait_s = 60}};
    ing_ctx_t ctx = ctx_of(r, r->cfg.twilio_number_format, NULL);
    if (rec_twilio_list(&tw, r->args.from_ms, r->args.to_ms, &calls, errstr, sizeof errstr) < 0) {
        LOG_ERROR("twilio: call log not read: %s", errstr);
        t->failed++;
        return;
    }
    rec_run_t run = {.ctx = &ctx, .agents = r->agents, .seen = r->seen, .publish = r->publish};
    rec_run_twilio(&run, calls, t);
    json_decref(calls);
}

static void callgear(reconcile_t *r, rec_tally_t *t)
{
    char errstr[512];
    json_t *calls = NULL, *last_legs = NULL;
    rec_callgear_cfg_t cg = {.api_url = r->cfg.callgear_api_url,
                             .access_token = r->cfg.callgear_access_token,
                             .time_zone = r->cfg.callgear_time_zone,
                             .page_size = (int)r->cfg.page_size,
                             .http = {.retries = (int)r->cfg.http_retries,
                                      .timeout_ms = (int)r->cfg.http_timeout_ms,
                                      .max_wait_s = 60}};
    ing_ctx_t ctx = ctx_of(r, r->cfg.callgear_number_format, r->cfg.callgear_time_zone);
    if (rec_callgear_list(&cg, r->args.from_ms, r->args.to_ms, &calls, &last_legs, errstr,
                          sizeof errstr) < 0) {
        LOG_ERROR("callgear: call log not read: %s", errstr);
        t->failed++;
        return;
    }
    rec_run_t run = {
        .callgear_ctx = &ctx, .agents = r->agents, .seen = r->seen, .publish = r->publish};
    rec_run_callgear(&run, calls, last_legs, t);
    json_decref(calls);
    json_decref(last_legs);
}

static void webex(reconcile_t *r, rec_tally_t *t)
{
    char errstr[512];
    json_t *tasks = NULL;
    rec_webex_cfg_t wx = {.api_url = r->cfg.webex_api_url,
                          .http = {.bearer = r->cfg.webex_token,
                                   .retries = (int)r->cfg.http_retries,
                                   .timeout_ms = (int)r->cfg.http_timeout_ms,
                                   .max_wait_s = 60}};
    ing_ctx_t ctx = ctx_of(r, r->cfg.webex_number_format, NULL);
    if (rec_webex_list(&wx, r->args.from_ms, r->args.to_ms, &tasks, errstr, sizeof errstr) < 0) {
        LOG_ERROR("webex: task history not read: %s", errstr);
        t->failed++;
        return;
    }
    rec_run_t run = {
        .webex_ctx = &ctx, .agents = r->agents, .seen = r->seen, .publish = r->publish};
    rec_run_webex(&run, tasks, t);
    json_decref(tasks);
}

/* Runs the provider when configured and asked for; its RESULT line. 1 when
 * something failed. */
static int provider(reconcile_t *r, const char *name, const char *credential,
                    void (*fn)(reconcile_t *, rec_tally_t *))
{
    rec_tally_t t = {0};
    if (!*credential || (r->args.provider && strcmp(r->args.provider, name) != 0))
        return 0;
    fn(r, &t);
    rec_report(stdout, name, &t, r->args.dry_run);
    return t.failed > 0;
}

static int run(reconcile_t *r)
{
    char errstr[512], from[40], to[40];
    int failed = 0;
    cmn_time_format(r->args.from_ms, from, sizeof from);
    cmn_time_format(r->args.to_ms, to, sizeof to);
    LOG_INFO("reconciling calls started %s .. %s%s", from, to, r->args.dry_run ? " (dry run)" : "");
    if (!(r->seen = rec_seen_new()) ||
        rec_seen_load(r->seen, r->common.kafka_brokers, cmn_topic(CMN_TOPIC_CALL_EVENTS),
                      r->args.from_ms, (int)r->cfg.kafka_timeout_ms, errstr, sizeof errstr) < 0) {
        LOG_ERROR("call-events not read: %s", r->seen ? errstr : "out of memory");
        return 1;
    }
    LOG_INFO("call-events: %zu event(s) since the window's start", rec_seen_count(r->seen));
    if (!r->args.dry_run &&
        !(r->publish = rec_publish_new(r->common.kafka_brokers, (int)r->cfg.kafka_timeout_ms,
                                       errstr, sizeof errstr))) {
        LOG_ERROR("kafka producer: %s", errstr);
        return 1;
    }
    failed += provider(r, "twilio", r->cfg.twilio_account_sid, twilio);
    failed += provider(r, "callgear", r->cfg.callgear_access_token, callgear);
    failed += provider(r, "webex", r->cfg.webex_token, webex);
    if (*r->cfg.metrics_file &&
        rec_report_write_metrics(r->cfg.metrics_file, cmn_time_now_ms() / 1000.0) < 0) {
        LOG_ERROR("metrics file %s not written", r->cfg.metrics_file);
        failed++;
    }
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    static reconcile_t r;
    int rc;
    if (argc > 1 && strcmp(argv[1], "--config-markdown") == 0)
        return cmn_service_print_config(rec_config_spec, rec_config_spec_len);
    if (load(&r, argc, argv) < 0)
        rc = 2;
    else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        rc = 1;
    else {
        rc = run(&r);
        curl_global_cleanup();
    }
    rec_publish_free(r.publish);
    rec_seen_free(r.seen);
    cmn_agentdir_free(r.directory);
    cmn_config_free(rec_config_spec, rec_config_spec_len, &r.cfg);
    cmn_config_free(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &r.common);
    return rc;
}
