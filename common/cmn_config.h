/* Configuration from environment variables, described by a declarative table
 * (name, type, default, bounds, secret flag, help). Loading validates every
 * entry and reports each missing or malformed setting on its own line, so an
 * operator fixes all of them in one go instead of one per restart. */
#ifndef CMN_CONFIG_H
#define CMN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CMN_CFG_STRING, /* char *, heap-owned by the target struct (cmn_config_free) */
    CMN_CFG_INT,    /* long, within [min, max] */
    CMN_CFG_BOOL,   /* int: true/false/1/0/yes/no/on/off */
    CMN_CFG_ENUM,   /* char *, one of `choices` ("a|b|c") */
} cmn_cfg_type_t;

typedef struct {
    const char *name; /* environment variable, CALLBUS_... */
    cmn_cfg_type_t type;
    const char *def;     /* default as text; NULL = required */
    long min, max;       /* CMN_CFG_INT bounds */
    const char *choices; /* CMN_CFG_ENUM */
    int secret;          /* masked when logged: CMN_CFG_SECRET_WHOLE or CMN_CFG_SECRET_PASSWORD */
    size_t offset;       /* where the value goes in the target struct */
    const char *help;    /* one line for docs/configuration.md */
} cmn_cfg_spec_t;

/* A secret value is logged as "***"; a URL that may carry a password shows
 * everything but the password ("redis://user:***@host:port/db"), so the log
 * still says where the service connects. */
#define CMN_CFG_SECRET_WHOLE 1
#define CMN_CFG_SECRET_PASSWORD 2

#define CMN_CFG_STR(n, def, off, help)                                                             \
    {                                                                                              \
        n, CMN_CFG_STRING, def, 0, 0, NULL, 0, off, help                                           \
    }
#define CMN_CFG_SECRET(n, def, off, help)                                                          \
    {                                                                                              \
        n, CMN_CFG_STRING, def, 0, 0, NULL, CMN_CFG_SECRET_WHOLE, off, help                        \
    }
#define CMN_CFG_SECRET_URL(n, def, off, help)                                                      \
    {                                                                                              \
        n, CMN_CFG_STRING, def, 0, 0, NULL, CMN_CFG_SECRET_PASSWORD, off, help                     \
    }
#define CMN_CFG_NUM(n, def, lo, hi, off, help)                                                     \
    {                                                                                              \
        n, CMN_CFG_INT, def, lo, hi, NULL, 0, off, help                                            \
    }
#define CMN_CFG_FLAG(n, def, off, help)                                                            \
    {                                                                                              \
        n, CMN_CFG_BOOL, def, 0, 0, NULL, 0, off, help                                             \
    }
#define CMN_CFG_CHOICE(n, def, choices, off, help)                                                 \
    {                                                                                              \
        n, CMN_CFG_ENUM, def, 0, 0, choices, 0, off, help                                          \
    }

/* Fills `target` from the environment. Writes one line per problem to
 * `errs` and returns how many there were (0 = all good). Strings are
 * strdup'ed into the target: release them with cmn_config_free. */
int cmn_config_load(const cmn_cfg_spec_t *spec, size_t n, void *target, FILE *errs)
    __attribute__((warn_unused_result));
void cmn_config_free(const cmn_cfg_spec_t *spec, size_t n, void *target);
/* Logs the effective values at info level, secrets masked. */
void cmn_config_log(const cmn_cfg_spec_t *spec, size_t n, const void *target);
/* Writes `url` to out with the password of its user-info replaced by
 * "***" (scheme://user:***@host...; the last '@' before the path ends the
 * user-info, as cmn_redis reads it); a user-info without ':' is masked
 * whole. A URL without user-info is copied as is. Truncates to outsz. */
void cmn_config_mask_url(const char *url, char *out, size_t outsz);
/* Prints the table as Markdown rows (for docs/configuration.md). */
void cmn_config_print_markdown(const cmn_cfg_spec_t *spec, size_t n, FILE *out);

/* Settings every service shares. */
typedef struct {
    char *log_level;
    char *kafka_brokers;
    char *redis_url;
    long redis_timeout_ms;
    char *redis_tls_ca;
    char *http_bind;
    long http_port;
    long http_max_body;
    long http_max_headers;
    long http_max_connections;
    long http_deadline_ms;
    char *admin_bind;
    long admin_port;
    long shutdown_grace_ms;
    char *default_country;
    long topic_partitions;
    long topic_replication;
    long topic_min_insync;
    char *topic_prefix;
    long test_kafka_fatal_after_ms;
} cmn_common_cfg_t;

extern const cmn_cfg_spec_t cmn_common_cfg_spec[];
extern const size_t cmn_common_cfg_spec_len;

/* Copies CALLBUS_KAFKA_X_<NAME>=value pass-through settings into a librdkafka
 * conf ("CALLBUS_KAFKA_X_SECURITY_PROTOCOL" -> "security.protocol").
 * Returns the number of settings librdkafka refused, each reported to errs. */
struct rd_kafka_conf_s;
int cmn_config_kafka_passthrough(struct rd_kafka_conf_s *conf, FILE *errs);

#endif
