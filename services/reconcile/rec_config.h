/* callbus-reconcile's settings (environment, docs/configuration.md) and its
 * command line: the window to reconcile, the providers, --dry-run. */
#ifndef REC_CONFIG_H
#define REC_CONFIG_H

#include "cmn_agentdir.h"
#include "cmn_config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *twilio_api_url;
    char *twilio_account_sid; /* empty: Twilio not reconciled */
    char *twilio_auth_token;
    char *twilio_number_format; /* ingest's CALLBUS_INGEST_TWILIO_NUMBER_FORMAT */
    char *callgear_api_url;
    char *callgear_access_token;  /* empty: CallGear not reconciled */
    char *callgear_number_format; /* ingest's CALLBUS_INGEST_CALLGEAR_NUMBER_FORMAT */
    char *callgear_time_zone;     /* ingest's CALLBUS_INGEST_CALLGEAR_TIME_ZONE */
    char *webex_api_url;
    char *webex_token;         /* empty: Webex not reconciled */
    char *webex_number_format; /* ingest's CALLBUS_INGEST_WEBEX_NUMBER_FORMAT */
    long internal_max_digits;  /* ingest's CALLBUS_INGEST_INTERNAL_MAX_DIGITS */
    cmn_agentdir_cfg_t agents; /* R-I3's sources, as ingest has them (cmn_agentdir.h) */
    long window_min;           /* schedule runs: the last window_min minutes... */
    long delay_min;            /* ...ending delay_min minutes ago */
    long page_size;
    long http_retries;
    long http_timeout_ms;
    long kafka_timeout_ms;
    char *metrics_file; /* Prometheus textfile written at the end; empty: none */
} rec_config_t;

extern const cmn_cfg_spec_t rec_config_spec[];
extern const size_t rec_config_spec_len;

typedef struct {
    int64_t from_ms, to_ms;
    const char *provider; /* NULL: every configured provider */
    int dry_run;
} rec_args_t;

/* Parses argv (--from ISO --to ISO, --provider P, --dry-run); without
 * --from/--to the window is the schedule's, from `cfg` and now_ms. 0, or -1
 * with the problem printed to stderr. */
int rec_args_parse(int argc, char **argv, const rec_config_t *cfg, int64_t now_ms, rec_args_t *out);

#endif
