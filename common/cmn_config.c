/* Environment-driven configuration table loader. */
#include "cmn_config.h"
#include "cmn_log.h"

#include <ctype.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

#define OFF(field) offsetof(cmn_common_cfg_t, field)
const cmn_cfg_spec_t cmn_common_cfg_spec[] = {
    CMN_CFG_CHOICE("CALLBUS_LOG_LEVEL", "info", "debug|info|warn|error", OFF(log_level),
                   "Lowest log level written to stdout."),
    CMN_CFG_STR("CALLBUS_KAFKA_BROKERS", "127.0.0.1:19092", OFF(kafka_brokers),
                "Kafka bootstrap servers, comma separated."),
    CMN_CFG_SECRET_URL(
        "CALLBUS_REDIS_URL", "redis://127.0.0.1:16379", OFF(redis_url),
        "Redis server as redis[s]://[[user]:password@]host[:port][/db] (rediss: TLS; "
        "%-encode / ? # % in the user or password)."),
    CMN_CFG_NUM("CALLBUS_REDIS_TIMEOUT_MS", "2000", 100, 60000, OFF(redis_timeout_ms),
                "A Redis command's deadline (and a connect's): past it the command fails, the "
                "connection is re-made and /readyz fails until Redis answers again."),
    CMN_CFG_STR("CALLBUS_REDIS_TLS_CA", "", OFF(redis_tls_ca),
                "rediss://: CA certificate file (PEM) the server's certificate must chain to; "
                "empty: the system's CAs. The certificate must name the URL's host."),
    CMN_CFG_STR("CALLBUS_HTTP_BIND", "0.0.0.0", OFF(http_bind),
                "Address the public HTTP server (webhooks, API) binds."),
    CMN_CFG_NUM("CALLBUS_HTTP_PORT", "8080", 0, 65535, OFF(http_port),
                "HTTP port; 0 picks a free one (logged at start)."),
    CMN_CFG_NUM("CALLBUS_HTTP_MAX_BODY", "262144", 1024, 16777216, OFF(http_max_body),
                "Largest request body accepted, in bytes (larger: 413, refused before it is "
                "read)."),
    CMN_CFG_NUM("CALLBUS_HTTP_MAX_HEADERS", "16384", 8192, 16384, OFF(http_max_headers),
                "Largest request line plus headers, in bytes (larger: 431)."),
    CMN_CFG_NUM("CALLBUS_HTTP_MAX_CONNECTIONS", "1024", 1, 65536, OFF(http_max_connections),
                "Open connections on the public port; more are answered 503 and closed. Checked "
                "at start against RLIMIT_NOFILE (less 256 for other sockets): the soft limit is "
                "raised, else the cap lowered (logged)."),
    CMN_CFG_NUM("CALLBUS_HTTP_DEADLINE_MS", "30000", 100, 600000, OFF(http_deadline_ms),
                "Time a request has to arrive whole (from the connection's opening or its "
                "previous reply); a connection that overruns it is closed (slowloris)."),
    CMN_CFG_STR("CALLBUS_ADMIN_BIND", "0.0.0.0", OFF(admin_bind),
                "Address the admin listener (/healthz, /readyz, /metrics) binds; keep it off "
                "the internet (a private network, or 127.0.0.1 behind a sidecar)."),
    CMN_CFG_NUM("CALLBUS_ADMIN_PORT", "9090", 0, 65535, OFF(admin_port),
                "Admin listener port, apart from CALLBUS_HTTP_PORT; 0 picks a free one "
                "(logged at start)."),
    CMN_CFG_NUM("CALLBUS_SHUTDOWN_GRACE_MS", "10000", 0, 600000, OFF(shutdown_grace_ms),
                "On SIGTERM, how long in-flight work may take before the process exits; the flush "
                "and final commit get what is left, at least 1 s."),
    CMN_CFG_STR("CALLBUS_DEFAULT_COUNTRY", "IT", OFF(default_country),
                "Country (ISO code or calling code) of numbers that arrive without one (R-I1)."),
    CMN_CFG_NUM("CALLBUS_TOPIC_PARTITIONS", "6", 1, 1000, OFF(topic_partitions),
                "Partitions of each topic a service creates when it is missing; the most "
                "consumer replicas that can share the work."),
    CMN_CFG_NUM("CALLBUS_TOPIC_REPLICATION", "0", 0, 32, OFF(topic_replication),
                "Copies of each partition of a topic a service creates; 0: the broker's "
                "default.replication.factor. On a real cluster: 3."),
    CMN_CFG_NUM("CALLBUS_TOPIC_MIN_INSYNC_REPLICAS", "0", 0, 32, OFF(topic_min_insync),
                "min.insync.replicas of a topic a service creates (acks=all waits for this many "
                "copies); 0: the broker's own. On a real cluster: 2 (with replication 3)."),
    CMN_CFG_STR("CALLBUS_TOPIC_PREFIX", "", OFF(topic_prefix),
                "Prefix of every topic name (a cluster shared by several installations)."),
    CMN_CFG_NUM("CALLBUS_TEST_KAFKA_FATAL_AFTER_MS", "0", 0, 3600000,
                OFF(test_kafka_fatal_after_ms),
                "Tests only: raise a librdkafka fatal error in the producer this long after "
                "start, to exercise the fatal shutdown; 0 (always in production): never."),
};
const size_t cmn_common_cfg_spec_len = sizeof cmn_common_cfg_spec / sizeof cmn_common_cfg_spec[0];

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int choice_ok(const char *choices, const char *s)
{
    size_t len = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, s, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Stores one value; returns 0 or writes the reason to errs and returns -1. */
static int store_value(const cmn_cfg_spec_t *e, const char *text, char *base, FILE *errs)
{
    switch (e->type) {
    case CMN_CFG_INT: {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno || end == text || *end) {
            fprintf(errs, "%s: \"%s\" is not a whole number\n", e->name, e->secret ? "***" : text);
            return -1;
        }
        if (v < e->min || v > e->max) {
            fprintf(errs, "%s: %ld is outside %ld..%ld\n", e->name, v, e->min, e->max);
            return -1;
        }
        *(long *)(base + e->offset) = v;
        return 0;
    }
    case CMN_CFG_BOOL:
        if (parse_bool(text, (int *)(base + e->offset)) < 0) {
            fprintf(errs, "%s: \"%s\" is not a boolean (true/false)\n", e->name, text);
            return -1;
        }
        return 0;
    case CMN_CFG_ENUM:
        if (!choice_ok(e->choices, text)) {
            fprintf(errs, "%s: \"%s\" is not one of %s\n", e->name, text, e->choices);
            return -1;
        }
        /* fallthrough */
    case CMN_CFG_STRING: {
        char *copy = strdup(text);
        if (!copy) {
            fprintf(errs, "%s: out of memory\n", e->name);
            return -1;
        }
        *(char **)(base + e->offset) = copy;
        return 0;
    }
    }
    return -1;
}

int cmn_config_load(const cmn_cfg_spec_t *spec, size_t n, void *target, FILE *errs)
{
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        const char *text = getenv(spec[i].name);
        if (!text || (!*text && spec[i].type != CMN_CFG_STRING))
            text = spec[i].def;
        if (!text) {
            fprintf(errs, "%s: required, not set (%s)\n", spec[i].name, spec[i].help);
            problems++;
            continue;
        }
        if (store_value(&spec[i], text, target, errs) < 0)
            problems++;
    }
    return problems;
}

void cmn_config_free(const cmn_cfg_spec_t *spec, size_t n, void *target)
{
    for (size_t i = 0; i < n; i++) {
        if (spec[i].type == CMN_CFG_STRING || spec[i].type == CMN_CFG_ENUM) {
            char **p = (char **)((char *)target + spec[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

void cmn_config_mask_url(const char *url, char *out, size_t outsz)
{
    const char *sep = strstr(url, "://");
    const char *info = sep ? sep + 3 : url;
    const char *end = info + strcspn(info, "/?#");
    const char *at = NULL;
    for (const char *q = info; q < end; q++)
        if (*q == '@')
            at = q; /* the last one: a raw '@' in a password is common */
    if (!at) {
        snprintf(out, outsz, "%s", url);
        return;
    }
    const char *colon = memchr(info, ':', (size_t)(at - info));
    const char *keep = colon ? colon + 1 : info; /* the user name stays readable */
    snprintf(out, outsz, "%.*s***%s", (int)(keep - url), url, at);
}

/* The text a string setting is logged as. */
static const char *shown_value(const cmn_cfg_spec_t *e, const char *v, char *buf, size_t bufsz)
{
    if (!v || !*v)
        return ""; /* an empty secret shows as empty: "not configured" stays visible */
    if (e->secret == CMN_CFG_SECRET_PASSWORD) {
        cmn_config_mask_url(v, buf, bufsz);
        return buf;
    }
    return e->secret ? "***" : v;
}

void cmn_config_log(const cmn_cfg_spec_t *spec, size_t n, const void *target)
{
    const char *base = target;
    for (size_t i = 0; i < n; i++) {
        const cmn_cfg_spec_t *e = &spec[i];
        switch (e->type) {
        case CMN_CFG_INT:
            LOG_INFO("config %s=%ld", e->name, *(const long *)(base + e->offset));
            break;
        case CMN_CFG_BOOL:
            LOG_INFO("config %s=%s", e->name, *(const int *)(base + e->offset) ? "true" : "false");
            break;
        default: {
            char masked[1024];
            const char *v = *(char *const *)(base + e->offset);
            LOG_INFO("config %s=%s", e->name, shown_value(e, v, masked, sizeof masked));
        }
        }
    }
}

void cmn_config_print_markdown(const cmn_cfg_spec_t *spec, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        const cmn_cfg_spec_t *e = &spec[i];
        fprintf(out, "| `%s` | %s | %s |\n", e->name,
                e->def ? (*e->def ? e->def : "(empty)") : "**required**", e->help);
    }
}

int cmn_config_kafka_passthrough(rd_kafka_conf_t *conf, FILE *errs)
{
    static const char prefix[] = "CALLBUS_KAFKA_X_";
    int problems = 0;
    for (char **env = environ; *env; env++) {
        if (strncmp(*env, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *eq = strchr(*env, '=');
        if (!eq)
            continue;
        char name[256];
        size_t len = (size_t)(eq - *env) - (sizeof prefix - 1);
        if (len == 0 || len >= sizeof name)
            continue;
        for (size_t i = 0; i < len; i++) {
            char c = (*env)[sizeof prefix - 1 + i];
            name[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
        }
        name[len] = '\0';
        char errstr[512];
        if (rd_kafka_conf_set(conf, name, eq + 1, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            fprintf(errs, "%.*s: %s\n", (int)(eq - *env), *env, errstr);
            problems++;
        }
    }
    return problems;
}
