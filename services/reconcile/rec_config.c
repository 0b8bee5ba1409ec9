/* rec_config.h: settings and command line. */
#include "rec_config.h"
#include "cmn_time.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OFF(f) offsetof(rec_config_t, f)

const cmn_cfg_spec_t rec_config_spec[] = {
    CMN_CFG_STR("CALLBUS_RECONCILE_TWILIO_API_URL", "https://api.twilio.com", OFF(twilio_api_url),
                "Twilio's REST API (the Calls resource)"),
    CMN_CFG_STR("CALLBUS_RECONCILE_TWILIO_ACCOUNT_SID", "", OFF(twilio_account_sid),
                "Twilio account whose call log is reconciled; empty: Twilio is not"),
    CMN_CFG_SECRET("CALLBUS_RECONCILE_TWILIO_AUTH_TOKEN", "", OFF(twilio_auth_token),
                   "The account's auth token (basic auth with the Account SID)"),
    CMN_CFG_CHOICE("CALLBUS_INGEST_TWILIO_NUMBER_FORMAT", "auto", "international|national|auto",
                   OFF(twilio_number_format), "ingest's setting: the backfill normalises alike"),
    CMN_CFG_STR("CALLBUS_RECONCILE_CALLGEAR_API_URL", "https://dataapi.callgear.com/v2.0",
                OFF(callgear_api_url), "CallGear's Data API (JSON-RPC: get.calls_report)"),
    CMN_CFG_SECRET("CALLBUS_RECONCILE_CALLGEAR_ACCESS_TOKEN", "", OFF(callgear_access_token),
                   "Data API access token; empty: CallGear is not reconciled"),
    CMN_CFG_CHOICE("CALLBUS_INGEST_CALLGEAR_NUMBER_FORMAT", "international",
                   "international|national|auto", OFF(callgear_number_format),
                   "ingest's setting: the backfill normalises alike"),
    CMN_CFG_STR("CALLBUS_INGEST_CALLGEAR_TIME_ZONE", "UTC", OFF(callgear_time_zone),
                "ingest's setting: CallGear's times (and the report's dates) are in it"),
    CMN_CFG_STR("CALLBUS_RECONCILE_WEBEX_API_URL", "https://api.wxcc-us1.cisco.com",
                OFF(webex_api_url), "Webex Contact Center's API for the region (the /search API)"),
    CMN_CFG_SECRET("CALLBUS_RECONCILE_WEBEX_TOKEN", "", OFF(webex_token),
                   "Bearer token (scope cjp:config_read); empty: Webex is not reconciled"),
    CMN_CFG_CHOICE("CALLBUS_INGEST_WEBEX_NUMBER_FORMAT", "auto", "international|national|auto",
                   OFF(webex_number_format), "ingest's setting: the backfill normalises alike"),
    CMN_CFG_NUM("CALLBUS_INGEST_INTERNAL_MAX_DIGITS", "5", 0, 8, OFF(internal_max_digits),
                "ingest's setting: the backfill normalises alike"),
    CMN_AGENTDIR_CFG_SPEC(OFF(agents)),
    CMN_CFG_NUM("CALLBUS_RECONCILE_WINDOW_MIN", "60", 1, 44640, OFF(window_min),
                "Without --from/--to: reconcile the calls started in the last N minutes..."),
    CMN_CFG_NUM("CALLBUS_RECONCILE_DELAY_MIN", "15", 0, 10080, OFF(delay_min),
                "...ending M minutes ago (calls still going on are left to the next run)"),
    CMN_CFG_NUM("CALLBUS_RECONCILE_PAGE_SIZE", "100", 1, 1000, OFF(page_size),
                "Records per page asked of the providers' APIs"),
    CMN_CFG_NUM("CALLBUS_RECONCILE_HTTP_RETRIES", "5", 0, 20, OFF(http_retries),
                "Retries of a provider request answered 429/5xx or not at all"),
    CMN_CFG_NUM("CALLBUS_RECONCILE_HTTP_TIMEOUT_MS", "30000", 1000, 300000, OFF(http_timeout_ms),
                "Per provider request"),
    CMN_CFG_NUM("CALLBUS_RECONCILE_KAFKA_TIMEOUT_MS", "60000", 1000, 3600000, OFF(kafka_timeout_ms),
                "Reading call-events, and each backfill's delivery"),
    CMN_CFG_STR("CALLBUS_RECONCILE_METRICS_FILE", "", OFF(metrics_file),
                "Prometheus textfile (node_exporter textfile collector) written after each run"),
};
const size_t rec_config_spec_len = sizeof rec_config_spec / sizeof rec_config_spec[0];

static int time_arg(const char *name, const char *v, int64_t *ms)
{
    if (!v || cmn_time_parse(v, ms) < 0) {
        fprintf(stderr, "%s needs an RFC 3339 time (2026-12-07T10:00:00Z)\n", name);
        return -1;
    }
    return 0;
}

int rec_args_parse(int argc, char **argv, const rec_config_t *cfg, int64_t now_ms, rec_args_t *out)
{
    int have_from = 0, have_to = 0;
    memset(out, 0, sizeof *out);
    out->to_ms = now_ms - cfg->delay_min * 60000;
    out->from_ms = out->to_ms - cfg->window_min * 60000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--dry-run") == 0) {
            out->dry_run = 1;
            continue;
        }
        if (strcmp(a, "--from") == 0 && (have_from = 1) && time_arg(a, v, &out->from_ms) < 0)
            return -1;
        else if (strcmp(a, "--to") == 0 && (have_to = 1) && time_arg(a, v, &out->to_ms) < 0)
            return -1;
        else if (strcmp(a, "--provider") == 0)
            out->provider = v;
        else if (strcmp(a, "--from") && strcmp(a, "--to")) {
            fprintf(stderr, "usage: callbus-reconcile [--from ISO --to ISO] "
                            "[--provider twilio|callgear|webex] [--dry-run]\n");
            return -1;
        }
        i++;
    }
    if (have_from != have_to || out->from_ms >= out->to_ms) {
        fprintf(stderr, "--from and --to go together, --from before --to\n");
        return -1;
    }
    if (out->provider && strcmp(out->provider, "twilio") != 0 &&
        strcmp(out->provider, "callgear") != 0 && strcmp(out->provider, "webex") != 0) {
        fprintf(stderr, "--provider: twilio, callgear or webex\n");
        return -1;
    }
    return 0;
}
