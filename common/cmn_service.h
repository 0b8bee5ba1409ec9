/* What every callbus process does the same way: load the common and its own
 * configuration (all problems reported, then exit 2), JSON logging, one
 * event_base, the public HTTP server (the service's routes), the admin
 * listener (/healthz, /readyz with the checks registered on `http`,
 * /metrics) on its own address and port, and the one shutdown path every service goes through:
 * the first SIGTERM/SIGINT, or a fatal error (cmn_service_fatal), stops the
 * HTTP intake and calls the service's stop hook, then polls its pending
 * count until nothing is left or CALLBUS_SHUTDOWN_GRACE_MS is spent, then
 * calls its finish hook (flush, commit, close) and leaves the loop. A second
 * signal exits at once. The exit status is non-zero after a fatal error, an
 * expired grace or a finish that left work behind. */
#ifndef CMN_SERVICE_H
#define CMN_SERVICE_H

#include "cmn_config.h"
#include "cmn_http.h"
#include "cmn_phone.h"
#include "cmn_redis.h"

#include <event2/event.h>

typedef struct cmn_service cmn_service_t;
typedef void (*cmn_service_hook_fn)(void *ctx);

/* A service's part of the shutdown. Every hook may be NULL.
 *  stop:    stop taking work beyond HTTP (consumers stop fetching) and push
 *           what is held out now (a batch window flushed at once);
 *  pending: called every tick_ms: how much work is still unfinished; it may
 *           push work along again; 0 ends the wait;
 *  finish:  after the wait: flush the producer, commit, close; returns how
 *           many things were left undone (messages unsent...), 0 when none. */
typedef struct {
    cmn_service_hook_fn stop;
    size_t (*pending)(void *ctx);
    int (*finish)(void *ctx);
    void *ctx;
    int tick_ms; /* 0: 100 */
} cmn_service_drain_t;

struct cmn_service {
    const char *name;
    struct event_base *base;
    cmn_common_cfg_t cfg;
    const cmn_country_t *country; /* CALLBUS_DEFAULT_COUNTRY */
    cmn_http_t *http;             /* public: routes and readiness checks go here */
    cmn_http_t *admin;            /* probes and metrics, CALLBUS_ADMIN_BIND:CALLBUS_ADMIN_PORT */
    struct event *sigterm, *sigint, *drain_timer;
    cmn_service_drain_t drain;
    int64_t drain_deadline_ms;
    int64_t finish_deadline_ms;
    int shutting_down;
    int exit_code;
};

/* Returns 0, or 2 (config problems, printed to stderr) or 1 (set-up
 * failed, logged). `own` may be NULL/0 for a service without settings. */
int cmn_service_init(cmn_service_t *s, const char *name, const cmn_cfg_spec_t *own, size_t n_own,
                     void *own_cfg) __attribute__((warn_unused_result));
/* A Redis client as CALLBUS_REDIS_URL, CALLBUS_REDIS_TIMEOUT_MS and
 * CALLBUS_REDIS_TLS_CA say; the caller frees it. NULL with errstr set. */
cmn_redis_t *cmn_service_redis_new(const cmn_service_t *s, char *errstr, size_t errsz);
/* Copies `d`. Without it a shutdown just leaves the loop. */
void cmn_service_on_drain(cmn_service_t *s, const cmn_service_drain_t *d);
/* Starts the shutdown (as the first SIGTERM does); `exit_code` non-zero
 * makes the process exit with a failure status. Idempotent: a second call
 * only raises the exit code. */
void cmn_service_shutdown(cmn_service_t *s, int exit_code, const char *why);
/* A cmn_producer_fatal_fn (and any other client's fatal callback): ctx is
 * the cmn_service_t. Logs, then shuts down with exit status 1. */
void cmn_service_fatal(void *svc, const char *reason);
/* Until cmn_service_run, a SIGTERM/SIGINT ends the process at once with
 * status 0 (nothing is taken before the loop runs; start-up may block on a
 * broker that is gone). */
/* Runs the loop until the shutdown finished (or cmn_service_stop). Returns
 * the process's exit status: 1 when the loop failed, else the shutdown's. */
int cmn_service_run(cmn_service_t *s);
/* The finish hook's budget: it starts when the grace is over or nothing is
 * pending, whichever is first, and lasts the rest of the grace, at least
 * CMN_SERVICE_FINISH_MIN_MS (a commit to a healthy broker takes
 * milliseconds; one gone or hung must not hold the exit). */
#define CMN_SERVICE_FINISH_MIN_MS 1000
/* From the finish hook: how long it may still block (0 when spent). The
 * producer's flush and the consumer's close share it, so a service whose
 * broker is gone still exits within the grace plus that minimum. */
int cmn_service_finish_left_ms(const cmn_service_t *s);
/* Leaves the loop at once, without draining. */
void cmn_service_stop(cmn_service_t *s);
void cmn_service_fini(cmn_service_t *s, const cmn_cfg_spec_t *own, size_t n_own, void *own_cfg);

/* `--config-markdown` support: prints the common and own tables. */
int cmn_service_print_config(const cmn_cfg_spec_t *own, size_t n_own);

#endif
