/* cmn_config: the declarative table read from the environment — types,
 * bounds, enum choices, required settings, one line per problem, secrets
 * masked in the start-up log, and the CALLBUS_KAFKA_X_ pass-through. */
#include "cmn_config.h"
#include "cmn_log.h"
#include "test.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name;
    char *token;
    long port;
    int verbose;
    char *policy;
} tcfg_t;

#define OFF(f) offsetof(tcfg_t, f)
static const cmn_cfg_spec_t spec[] = {
    CMN_CFG_STR("T4_NAME", "callbus", OFF(name), "Display name."),
    CMN_CFG_SECRET("T4_TOKEN", NULL, OFF(token), "CRM API token."),
    CMN_CFG_NUM("T4_PORT", "8080", 1, 65535, OFF(port), "Port."),
    CMN_CFG_FLAG("T4_VERBOSE", "false", OFF(verbose), "Chatty logs."),
    CMN_CFG_CHOICE("T4_POLICY", "reassign", "reassign|split", OFF(policy),
                   "Transfer policy (R-T4)."),
};
#define N_SPEC (sizeof spec / sizeof spec[0])

static void clear_env(void)
{
    for (size_t i = 0; i < N_SPEC; i++)
        unsetenv(spec[i].name);
}

/* Loads the test table with problems written to a memory buffer. */
static int load(tcfg_t *cfg, char **errs)
{
    size_t len = 0;
    FILE *f = open_memstream(errs, &len);
    memset(cfg, 0, sizeof *cfg);
    int problems = cmn_config_load(spec, N_SPEC, cfg, f);
    fclose(f);
    return problems;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_defaults_and_types(void)
{
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    setenv("T4_TOKEN", "tok", 1);
    int problems = load(&cfg, &errs);
    ASSERT_EQ_STR(errs, "");
    ASSERT_EQ_INT(problems, 0);
    ASSERT_EQ_STR(cfg.name, "callbus");
    ASSERT_EQ_STR(cfg.token, "tok");
    ASSERT_EQ_INT(cfg.port, 8080);
    ASSERT_EQ_INT(cfg.verbose, 0);
    ASSERT_EQ_STR(cfg.policy, "reassign");
    cmn_config_free(spec, N_SPEC, &cfg);
    ASSERT_TRUE(cfg.name == NULL && cfg.token == NULL && cfg.policy == NULL);
    free(errs);
}

static void test_values_from_environment(void)
{
    static const char *const yes[] = {"1", "true", "YES", "On"};
    static const char *const no[] = {"0", "False", "no", "OFF"};
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    setenv("T4_NAME", "ingest-1", 1);
    setenv("T4_TOKEN", "tok", 1);
    setenv("T4_PORT", "65535", 1);
    setenv("T4_POLICY", "split", 1);
    for (size_t i = 0; i < 4; i++) {
        setenv("T4_VERBOSE", yes[i], 1);
        ASSERT_EQ_INT(load(&cfg, &errs), 0);
        ASSERT_EQ_INT(cfg.verbose, 1);
        ASSERT_EQ_STR(cfg.name, "ingest-1");
        ASSERT_EQ_INT(cfg.port, 65535);
        ASSERT_EQ_STR(cfg.policy, "split");
        cmn_config_free(spec, N_SPEC, &cfg);
        free(errs);
        setenv("T4_VERBOSE", no[i], 1);
        ASSERT_EQ_INT(load(&cfg, &errs), 0);
        ASSERT_EQ_INT(cfg.verbose, 0);
        cmn_config_free(spec, N_SPEC, &cfg);
        free(errs);
    }
}

/* An empty variable means "use the default" for typed settings; a string
 * setting may legitimately be set to "". */
static void test_empty_values(void)
{
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    setenv("T4_TOKEN", "tok", 1);
    setenv("T4_PORT", "", 1);
    setenv("T4_VERBOSE", "", 1);
    setenv("T4_POLICY", "", 1);
    setenv("T4_NAME", "", 1);
    ASSERT_EQ_INT(load(&cfg, &errs), 0);
    ASSERT_EQ_INT(cfg.port, 8080);
    ASSERT_EQ_INT(cfg.verbose, 0);
    ASSERT_EQ_STR(cfg.policy, "reassign");
    ASSERT_EQ_STR(cfg.name, "");
    cmn_config_free(spec, N_SPEC, &cfg);
    free(errs);
}

static void expect_port_problem(const char *value, const char *message)
{
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    setenv("T4_TOKEN", "tok", 1);
    setenv("T4_PORT", value, 1);
    int problems = load(&cfg, &errs);
    cmn_config_free(spec, N_SPEC, &cfg);
    if (problems != 1 || !strstr(errs, message) || strncmp(errs, "T4_PORT: ", 9) != 0)
        fprintf(stderr, "T4_PORT=\"%s\": %d problem(s): %s", value, problems, errs);
    ASSERT_EQ_INT(problems, 1);
    ASSERT_TRUE(strncmp(errs, "T4_PORT: ", 9) == 0);
    ASSERT_TRUE(strstr(errs, message) != NULL);
    free(errs);
}

static void test_integer_bounds(void)
{
    expect_port_problem("0", "0 is outside 1..65535");
    expect_port_problem("65536", "65536 is outside 1..65535");
    expect_port_problem("-1", "-1 is outside 1..65535");
    expect_port_problem("80x", "is not a whole number");
    expect_port_problem("8.5", "is not a whole number");
    expect_port_problem("abc", "is not a whole number");
    expect_port_problem("99999999999999999999", "is not a whole number"); /* ERANGE */
    tcfg_t cfg;
    char *errs = NULL;
    setenv("T4_PORT", "1", 1);
    ASSERT_EQ_INT(load(&cfg, &errs), 0);
    ASSERT_EQ_INT(cfg.port, 1);
    cmn_config_free(spec, N_SPEC, &cfg);
    free(errs);
}

static void test_enum_choices(void)
{
    static const char *const bad[] = {"Split", "spl", "reassign|split", "merge", "reassign "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tcfg_t cfg;
        char *errs = NULL;
        clear_env();
        setenv("T4_TOKEN", "tok", 1);
        setenv("T4_POLICY", bad[i], 1);
        int problems = load(&cfg, &errs);
        ASSERT_EQ_INT(problems, 1);
        ASSERT_TRUE(strstr(errs, "T4_POLICY: ") == errs);
        ASSERT_TRUE(strstr(errs, "is not one of reassign|split") != NULL);
        ASSERT_TRUE(cfg.policy == NULL); /* nothing stored for a refused value */
        cmn_config_free(spec, N_SPEC, &cfg);
        free(errs);
    }
}

static void test_required_missing(void)
{
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    int problems = load(&cfg, &errs);
    ASSERT_EQ_INT(problems, 1);
    ASSERT_EQ_STR(errs, "T4_TOKEN: required, not set (CRM API token.)\n");
    ASSERT_TRUE(cfg.token == NULL);
    ASSERT_EQ_STR(cfg.name, "callbus"); /* the other settings were still read */
    cmn_config_free(spec, N_SPEC, &cfg);
    free(errs);
}

/* An operator fixes everything in one go: each problem on its own line, and
 * the return value counts them. */
static void test_every_problem_reported_and_counted(void)
{
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    setenv("T4_PORT", "http", 1);
    setenv("T4_VERBOSE", "maybe", 1);
    setenv("T4_POLICY", "merge", 1);
    int problems = load(&cfg, &errs);
    cmn_config_free(spec, N_SPEC, &cfg);
    ASSERT_EQ_INT(problems, 4);
    ASSERT_EQ_INT(count_lines(errs), 4);
    const char *order[] = {"T4_TOKEN: ", "T4_PORT: ", "T4_VERBOSE: ", "T4_POLICY: "};
    const char *line = errs;
    for (size_t i = 0; i < 4; i++) {
        ASSERT_TRUE(strncmp(line, order[i], strlen(order[i])) == 0);
        line = strchr(line, '\n') + 1;
    }
    ASSERT_TRUE(strstr(errs, "T4_VERBOSE: \"maybe\" is not a boolean") != NULL);
    free(errs);
}

/* Runs cmn_config_log with stdout captured; returns the text (caller frees). */
static char *captured_log_of(const cmn_cfg_spec_t *table, size_t n_spec, const void *cfg)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *tmp = tmpfile();
    if (saved < 0 || !tmp)
        return NULL;
    dup2(fileno(tmp), STDOUT_FILENO);
    cmn_config_log(table, n_spec, cfg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    long n = ftell(tmp);
    char *text = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(tmp);
    if (text && n > 0 && fread(text, 1, (size_t)n, tmp) != (size_t)n)
        text[0] = '\0';
    fclose(tmp);
    return text;
}

static char *captured_config_log(const tcfg_t *cfg)
{
    return captured_log_of(spec, N_SPEC, cfg);
}

/* CALLBUS_REDIS_URL as the start-up log shows it for `url`; caller frees. */
static char *logged_redis_url(const char *url)
{
    cmn_common_cfg_t cfg;
    char *errs = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&errs, &len);
    setenv("CALLBUS_REDIS_URL", url, 1);
    memset(&cfg, 0, sizeof cfg);
    int problems = cmn_config_load(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &cfg, f);
    fclose(f);
    free(errs);
    unsetenv("CALLBUS_REDIS_URL");
    char *out =
        problems ? NULL : captured_log_of(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &cfg);
    cmn_config_free(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &cfg);
    return out;
}

/* Issue 19 item 6a: the Redis URL may carry a password; the start-up log
 * shows the URL (where Redis is, which database) with the password masked. */
static void test_log_masks_redis_url_password(void)
{
    static const struct {
        const char *url, *logged, *secret;
    } cases[] = {
        {"redis://app:s3cr3t-pw@redis.internal:6380/2", "redis://app:***@redis.internal:6380/2",
         "s3cr3t-pw"},
        {"rediss://:p%40ss@cache.example:6390", "rediss://:***@cache.example:6390", "p%40ss"},
        /* a raw '@' in the password: the last '@' ends it, as the client reads it */
        {"redis://u:a@b@c@10.0.0.5/1", "redis://u:***@10.0.0.5/1", "a@b@c"},
        {"redis://127.0.0.1:16379", "redis://127.0.0.1:16379", NULL},
    };
    cmn_log_init("test_config", CMN_LOG_INFO);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        char *out = logged_redis_url(cases[i].url);
        ASSERT_TRUE(out != NULL);
        snprintf(want, sizeof want, "\"msg\":\"config CALLBUS_REDIS_URL=%s\"", cases[i].logged);
        if (!strstr(out, want))
            fprintf(stderr, "want %s in:\n%s\n", want, out);
        ASSERT_TRUE(strstr(out, want) != NULL);
        ASSERT_TRUE(!cases[i].secret || strstr(out, cases[i].secret) == NULL);
        free(out);
    }
}

static void test_log_masks_secrets(void)
{
    tcfg_t cfg;
    char *errs = NULL;
    clear_env();
    setenv("T4_TOKEN", "s3cr3t-zendesk-token", 1);
    setenv("T4_VERBOSE", "on", 1);
    ASSERT_EQ_INT(load(&cfg, &errs), 0);
    cmn_log_init("test_config", CMN_LOG_INFO);
    char *out = captured_config_log(&cfg);
    cmn_config_free(spec, N_SPEC, &cfg);
    free(errs);
    ASSERT_TRUE(out != NULL);
    ASSERT_EQ_INT(count_lines(out), (int)N_SPEC); /* one JSON line per setting */
    ASSERT_TRUE(strstr(out, "s3cr3t") == NULL);
    ASSERT_TRUE(strstr(out, "\"msg\":\"config T4_TOKEN=***\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"msg\":\"config T4_NAME=callbus\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"msg\":\"config T4_PORT=8080\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"msg\":\"config T4_VERBOSE=true\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"msg\":\"config T4_POLICY=reassign\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"service\":\"test_config\"") != NULL);
    free(out);

    /* an empty secret shows as empty, so "not configured" is visible */
    setenv("T4_TOKEN", "", 1);
    ASSERT_EQ_INT(load(&cfg, &errs), 0);
    out = captured_config_log(&cfg);
    cmn_config_free(spec, N_SPEC, &cfg);
    free(errs);
    ASSERT_TRUE(out != NULL && strstr(out, "\"msg\":\"config T4_TOKEN=\"") != NULL);
    free(out);
}

static void test_markdown_rows(void)
{
    char *md = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&md, &len);
    cmn_config_print_markdown(spec, N_SPEC, f);
    fclose(f);
    ASSERT_EQ_INT(count_lines(md), (int)N_SPEC);
    ASSERT_TRUE(strstr(md, "| `T4_TOKEN` | **required** | CRM API token. |\n") != NULL);
    ASSERT_TRUE(strstr(md, "| `T4_PORT` | 8080 | Port. |\n") != NULL);
    free(md);
}

static void test_common_settings_defaults(void)
{
    cmn_common_cfg_t cfg;
    char *errs = NULL;
    size_t len = 0;
    for (size_t i = 0; i < cmn_common_cfg_spec_len; i++)
        unsetenv(cmn_common_cfg_spec[i].name);
    memset(&cfg, 0, sizeof cfg);
    FILE *f = open_memstream(&errs, &len);
    int problems = cmn_config_load(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &cfg, f);
    fclose(f);
    ASSERT_EQ_INT(problems, 0);
    ASSERT_EQ_STR(cfg.log_level, "info");
    ASSERT_EQ_STR(cfg.http_bind, "0.0.0.0");
    ASSERT_EQ_INT(cfg.http_port, 8080);
    ASSERT_EQ_INT(cfg.http_max_body, 262144);
    ASSERT_EQ_INT(cfg.shutdown_grace_ms, 10000);
    ASSERT_EQ_STR(cfg.default_country, "IT"); /* R-I1 */
    ASSERT_EQ_INT(cfg.topic_partitions, 6);
    ASSERT_EQ_STR(cfg.topic_prefix, "");
    for (size_t i = 0; i < cmn_common_cfg_spec_len; i++) /* every row documents itself */
        ASSERT_TRUE(cmn_common_cfg_spec[i].help && *cmn_common_cfg_spec[i].help &&
                    strncmp(cmn_common_cfg_spec[i].name, "CALLBUS_", 8) == 0);
    cmn_config_free(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &cfg);
    free(errs);
}

static int conf_is(rd_kafka_conf_t *conf, const char *name, const char *want)
{
    char value[256];
    size_t size = sizeof value;
    if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK)
        return 0;
    return strcmp(value, want) == 0;
}

/* CALLBUS_KAFKA_X_<NAME> -> <name> with '_' -> '.', lower case, handed to
 * librdkafka as is; what librdkafka refuses is reported with the variable. */
static void test_kafka_passthrough(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char *errs = NULL;
    size_t len = 0;
    setenv("CALLBUS_KAFKA_X_CLIENT_ID", "callbus-t4", 1);
    setenv("CALLBUS_KAFKA_X_QUEUE_BUFFERING_MAX_MS", "7", 1);
    setenv("CALLBUS_KAFKA_X_SECURITY_PROTOCOL", "plaintext", 1);
    setenv("CALLBUS_KAFKA_X_NO_SUCH_PROPERTY", "1", 1);
    setenv("CALLBUS_KAFKA_X_ACKS", "several", 1);
    FILE *f = open_memstream(&errs, &len);
    int problems = cmn_config_kafka_passthrough(conf, f);
    fclose(f);
    unsetenv("CALLBUS_KAFKA_X_NO_SUCH_PROPERTY");
    unsetenv("CALLBUS_KAFKA_X_ACKS");
    int ok = conf_is(conf, "client.id", "callbus-t4") &&
             conf_is(conf, "queue.buffering.max.ms", "7") &&
             conf_is(conf, "security.protocol", "plaintext");
    rd_kafka_conf_destroy(conf);
    ASSERT_EQ_INT(problems, 2);
    ASSERT_EQ_INT(count_lines(errs), 2);
    ASSERT_TRUE(strstr(errs, "CALLBUS_KAFKA_X_NO_SUCH_PROPERTY: ") != NULL);
    ASSERT_TRUE(strstr(errs, "CALLBUS_KAFKA_X_ACKS: ") != NULL);
    ASSERT_TRUE(ok);
    free(errs);

    conf = rd_kafka_conf_new();
    f = open_memstream(&errs, &len);
    problems = cmn_config_kafka_passthrough(conf, f);
    fclose(f);
    rd_kafka_conf_destroy(conf);
    unsetenv("CALLBUS_KAFKA_X_CLIENT_ID");
    unsetenv("CALLBUS_KAFKA_X_QUEUE_BUFFERING_MAX_MS");
    unsetenv("CALLBUS_KAFKA_X_SECURITY_PROTOCOL");
    ASSERT_EQ_INT(problems, 0);
    ASSERT_EQ_STR(errs, "");
    free(errs);
}

TEST_MAIN("config", TEST_CASE(test_defaults_and_types), TEST_CASE(test_values_from_environment),
          TEST_CASE(test_empty_values), TEST_CASE(test_integer_bounds),
          TEST_CASE(test_enum_choices), TEST_CASE(test_required_missing),
          TEST_CASE(test_every_problem_reported_and_counted), TEST_CASE(test_log_masks_secrets),
          TEST_CASE(test_log_masks_redis_url_password), TEST_CASE(test_markdown_rows),
          TEST_CASE(test_common_settings_defaults), TEST_CASE(test_kafka_passthrough))
