/* Process skeleton shared by the services. */
#include "cmn_service.h"
#include "cmn_fdlimit.h"
#include "cmn_log.h"
#include "cmn_metrics.h"
#include "cmn_time.h"
#include "cmn_topics.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Shutdown, step 2: wait for the service's pending work (or the grace),
 * then let it flush and commit, and leave the loop. */
static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    cmn_service_t *s = arg;
    const cmn_service_drain_t *d = &s->drain;
    size_t left = d->pending ? d->pending(d->ctx) : 0;
    if (left && cmn_time_mono_ms() < s->drain_deadline_ms)
        return;
    if (left) {
        LOG_WARN("shutdown grace over with %zu unit(s) of work unfinished; they will be replayed "
                 "or retried by their senders",
                 left);
        s->exit_code = 1;
    }
    int64_t now = cmn_time_mono_ms();
    s->finish_deadline_ms = s->drain_deadline_ms > now + CMN_SERVICE_FINISH_MIN_MS
                                ? s->drain_deadline_ms
                                : now + CMN_SERVICE_FINISH_MIN_MS;
    if (d->finish && d->finish(d->ctx) != 0)
        s->exit_code = 1;
    LOG_INFO("drained; exiting with status %d", s->exit_code);
    cmn_service_stop(s);
}

void cmn_service_shutdown(cmn_service_t *s, int exit_code, const char *why)
{
    if (exit_code && !s->exit_code)
        s->exit_code = exit_code;
    if (s->shutting_down)
        return;
    s->shutting_down = 1;
    LOG_INFO("%s: draining", why);
    /* Intake first: new requests get 503 while the admin probes say why. */
    cmn_http_drain(s->http);
    if (s->drain.stop)
        s->drain.stop(s->drain.ctx);
    int tick_ms = s->drain.tick_ms > 0 ? s->drain.tick_ms : 100;
    struct timeval every = {tick_ms / 1000, (tick_ms % 1000) * 1000};
    s->drain_deadline_ms = cmn_time_mono_ms() + s->cfg.shutdown_grace_ms;
    /* A first tick at once: a service with nothing pending exits without
     * waiting a tick. */
    if (!(s->drain_timer = event_new(s->base, -1, EV_PERSIST, on_drain_tick, s)) ||
        event_add(s->drain_timer, &every) < 0) {
        LOG_ERROR("libevent: no drain timer; exiting without draining");
        s->exit_code = 1;
        cmn_service_stop(s);
        return;
    }
    event_active(s->drain_timer, EV_TIMEOUT, 0);
}

void cmn_service_fatal(void *svc, const char *reason)
{
    LOG_ERROR("fatal: %s; stopping so that the orchestrator restarts the process", reason);
    cmn_service_shutdown(svc, 1, "fatal error");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    cmn_service_t *s = arg;
    char why[32];
    if (s->shutting_down) {
        LOG_WARN("second signal %d: exiting now", (int)sig);
        exit(1);
    }
    snprintf(why, sizeof why, "signal %d", (int)sig);
    cmn_service_shutdown(s, 0, why);
}

/* Written by the start-up signal handler (async-signal-safe: prepared
 * beforehand). */
static char starting_line[160];

/* Until the loop runs nothing is taken yet, and start() may block (the
 * topic check waits up to its timeout for a broker that is gone): a first
 * SIGTERM/SIGINT then ends the process at once instead of waiting for a
 * loop that is not running yet (issue 19 item 6). */
static void on_signal_starting(int sig)
{
    ssize_t rc = write(STDOUT_FILENO, starting_line, strlen(starting_line));
    (void)rc;
    _exit(0);
}

static int catch_signals_while_starting(const char *name)
{
    struct sigaction sa;
    snprintf(starting_line, sizeof starting_line,
             "{\"level\":\"info\",\"service\":\"%s\",\"msg\":\"signal during start-up: "
             "exiting, nothing was taken yet\"}\n",
             name);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_starting;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGINT, &sa, NULL) == 0 ? 0 : -1;
}

static int load_config(cmn_service_t *s, const cmn_cfg_spec_t *own, size_t n_own, void *own_cfg)
{
    int problems = cmn_config_load(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &s->cfg, stderr);
    if (own)
        problems += cmn_config_load(own, n_own, own_cfg, stderr);
    if (!problems && !(s->country = cmn_phone_country(s->cfg.default_country))) {
        fprintf(stderr, "CALLBUS_DEFAULT_COUNTRY: \"%s\" is not a known country\n",
                s->cfg.default_country);
        problems++;
    }
    if (problems)
        fprintf(stderr, "%s: %d configuration problem(s); see docs/configuration.md\n", s->name,
                problems);
    return problems;
}

int cmn_service_init(cmn_service_t *s, const char *name, const cmn_cfg_spec_t *own, size_t n_own,
                     void *own_cfg)
{
    char errstr[256];
    cmn_log_level_t level = CMN_LOG_INFO;
    memset(s, 0, sizeof *s);
    s->name = name;
    if (load_config(s, own, n_own, own_cfg))
        return 2;
    cmn_log_level_parse(s->cfg.log_level, &level); /* validated as an enum already */
    cmn_log_init(name, level);
    cmn_topics_set_prefix(s->cfg.topic_prefix);
    cmn_config_log(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &s->cfg);
    if (own)
        cmn_config_log(own, n_own, own_cfg);
    signal(SIGPIPE, SIG_IGN);
    if (!(s->base = event_base_new())) {
        LOG_ERROR("libevent: no event base");
        return 1;
    }
    int cap = cmn_fdlimit_fit("CALLBUS_HTTP_MAX_CONNECTIONS", (int)s->cfg.http_max_connections);
    if (cap < 0)
        return 1;
    s->cfg.http_max_connections = cap;
    cmn_http_limits_t limits = {.max_body = (size_t)s->cfg.http_max_body,
                                .max_headers = (size_t)s->cfg.http_max_headers,
                                .max_connections = (int)s->cfg.http_max_connections,
                                .deadline_ms = (int)s->cfg.http_deadline_ms};
    s->http = cmn_http_new(s->base, s->cfg.http_bind, (int)s->cfg.http_port, &limits, errstr,
                           sizeof errstr);
    if (!s->http) {
        LOG_ERROR("http: %s", errstr);
        return 1;
    }
    s->admin = cmn_http_admin_new(s->base, s->cfg.admin_bind, (int)s->cfg.admin_port, s->http,
                                  errstr, sizeof errstr);
    if (!s->admin) {
        LOG_ERROR("admin http: %s", errstr);
        return 1;
    }
    s->sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sigint = evsignal_new(s->base, SIGINT, on_signal, s);
    if (!s->sigterm || !s->sigint || catch_signals_while_starting(name) < 0) {
        LOG_ERROR("libevent: cannot watch signals");
        return 1;
    }
    LOG_INFO("%s listening on %s:%d", name, s->cfg.http_bind, cmn_http_port(s->http));
    LOG_INFO("%s admin listening on %s:%d", name, s->cfg.admin_bind, cmn_http_port(s->admin));
    return 0;
}

cmn_redis_t *cmn_service_redis_new(const cmn_service_t *s, char *errstr, size_t errsz)
{
    cmn_redis_opts_t opts = {.url = s->cfg.redis_url,
                             .timeout_ms = (int)s->cfg.redis_timeout_ms,
                             .tls_ca = s->cfg.redis_tls_ca};
    return cmn_redis_new_opts(s->base, &opts, errstr, errsz);
}

int cmn_service_finish_left_ms(const cmn_service_t *s)
{
    int64_t left = s->finish_deadline_ms - cmn_time_mono_ms();
    return left > 0 ? (int)left : 0;
}

void cmn_service_on_drain(cmn_service_t *s, const cmn_service_drain_t *d)
{
    s->drain = *d;
}

int cmn_service_run(cmn_service_t *s)
{
    /* From here a signal drains (libevent takes the signals over). */
    if (event_add(s->sigterm, NULL) < 0 || event_add(s->sigint, NULL) < 0) {
        LOG_ERROR("libevent: cannot watch signals");
        return 1;
    }
    return event_base_dispatch(s->base) < 0 ? 1 : s->exit_code;
}

void cmn_service_stop(cmn_service_t *s)
{
    event_base_loopbreak(s->base);
}

void cmn_service_fini(cmn_service_t *s, const cmn_cfg_spec_t *own, size_t n_own, void *own_cfg)
{
    cmn_http_free(s->admin); /* it borrows s->http */
    cmn_http_free(s->http);
    if (s->drain_timer)
        event_free(s->drain_timer);
    if (s->sigterm)
        event_free(s->sigterm);
    if (s->sigint)
        event_free(s->sigint);
    if (s->base)
        event_base_free(s->base);
    cmn_config_free(cmn_common_cfg_spec, cmn_common_cfg_spec_len, &s->cfg);
    if (own)
        cmn_config_free(own, n_own, own_cfg);
    cmn_metrics_reset();
    memset(s, 0, sizeof *s);
}

int cmn_service_print_config(const cmn_cfg_spec_t *own, size_t n_own)
{
    printf("| setting | default | meaning |\n|---|---|---|\n");
    cmn_config_print_markdown(cmn_common_cfg_spec, cmn_common_cfg_spec_len, stdout);
    if (own)
        cmn_config_print_markdown(own, n_own, stdout);
    return 0;
}
