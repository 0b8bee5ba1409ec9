/* The statistics for supervisors (issue 25 item 3; docs/pop.md
 * "Statistics"): GET /v1/stats and the supervisor page (/supervisor).
 *
 * GET /v1/stats?from=YYYY-MM-DD&to=YYYY-MM-DD&by=agent|queue|day
 * [&format=json|csv]: the stats service's day figures (its Redis day
 * hashes, cmn_stats_query) for the inclusive UTC days, by agent, queue or
 * day. Answers: 200 JSON or CSV; 400 (JSON error naming the field) on a
 * bad or missing parameter or a range longer than CALLBUS_STATS_MAX_DAYS;
 * 401 without a session; 403 when the session's agent is no supervisor
 * (pop_supervisor.h); 503 when Redis could not answer.
 *
 * The page (/supervisor/: www/supervisor.html, supervisor.js) signs in as
 * the agent page does and reads the API with the session cookie. Loop
 * thread. */
#ifndef POP_API_STATS_H
#define POP_API_STATS_H

#include "cmn_http.h"
#include "pop_api.h"
#include "pop_config.h"
#include "pop_store.h"

#include <stddef.h>

typedef struct pop_api_stats pop_api_stats_t;

/* Borrows everything (the session checked through api, the day hashes
 * read through store's Redis under its namespace). NULL when out of
 * memory or a route could not be added. */
pop_api_stats_t *pop_api_stats_new(cmn_http_t *http, const pop_config_t *cfg, pop_api_t *api,
                                   pop_store_t *store);
/* Requests still reading Redis (shutdown waits for them). */
size_t pop_api_stats_in_flight(const pop_api_stats_t *s);
/* After Redis is closed (its pending reads answered 503). NULL-safe. */
void pop_api_stats_free(pop_api_stats_t *s);

#endif
