/* What every callbus process does the same way: load the common and its own
 * configuration (all problems reported, then exit 2), JSON logging, one
 * event_base, the HTTP server (/healthz, /readyz, /metrics and the
 * service's routes), and signals: the first SIGTERM/SIGINT calls the
 * service's shutdown hook (stop taking work, finish, flush, commit), a
 * second one exits at once. */
#ifndef CMN_SERVICE_H
#define CMN_SERVICE_H

#include "cmn_config.h"
#include "cmn_http.h"
#include "cmn_phone.h"

#include <event2/event.h>

typedef struct cmn_service cmn_service_t;
typedef void (*cmn_service_hook_fn)(void *ctx);

struct cmn_service {
    const char *name;
    struct event_base *base;
    cmn_common_cfg_t cfg;
    const cmn_country_t *country; /* CALLBUS_DEFAULT_COUNTRY */
    cmn_http_t *http;
    struct event *sigterm, *sigint;
    cmn_service_hook_fn on_shutdown;
    void *hook_ctx;
    int shutting_down;
};

/* Returns 0, or 2 (config problems, printed to stderr) or 1 (set-up
 * failed, logged). `own` may be NULL/0 for a service without settings. */
int cmn_service_init(cmn_service_t *s, const char *name, const cmn_cfg_spec_t *own, size_t n_own,
                     void *own_cfg) __attribute__((warn_unused_result));
void cmn_service_on_shutdown(cmn_service_t *s, cmn_service_hook_fn fn, void *ctx);
/* Runs the loop until cmn_service_stop (or the loop has nothing left). */
int cmn_service_run(cmn_service_t *s);
void cmn_service_stop(cmn_service_t *s);
void cmn_service_fini(cmn_service_t *s, const cmn_cfg_spec_t *own, size_t n_own, void *own_cfg);

/* `--config-markdown` support: prints the common and own tables. */
int cmn_service_print_config(const cmn_cfg_spec_t *own, size_t n_own);

#endif
