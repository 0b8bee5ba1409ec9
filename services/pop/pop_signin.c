/* pop_signin_total (pop_signin.h). */
#include "pop_signin.h"

#include "cmn_metrics.h"

#include <stdio.h>

void pop_signin_count(const char *method, const char *result)
{
    char labels[128];
    snprintf(labels, sizeof labels, "method=\"%s\",result=\"%s\"", method, result);
    cmn_metric_add(cmn_metrics_counter("pop_signin_total",
                                       "Agent sign-ins and session refreshes, by how and outcome",
                                       labels),
                   1);
}
