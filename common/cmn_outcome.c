/* Unanswered calls told apart from their own history (cmn_outcome.h). */
#include "cmn_outcome.h"

int cmn_outcome_offers(const cmn_event_t *ev)
{
    const cmn_agent_t *a = &ev->agent;
    return ev->type == CMN_EV_OFFERED ||
           (ev->outcome == CMN_OUT_MISSED && (a->provider_id || a->crm_id));
}

int cmn_outcome_answers(const cmn_event_t *ev)
{
    return ev->type == CMN_EV_ANSWERED || ev->type == CMN_EV_TRANSFERRED ||
           ev->type == CMN_EV_OUTBOUND_ANSWERED;
}

cmn_outcome_t cmn_outcome_of_call(int answered, int outbound, int offered)
{
    return answered   ? CMN_OUT_ANSWERED
           : outbound ? CMN_OUT_MISSED
           : offered  ? CMN_OUT_MISSED
                      : CMN_OUT_ABANDONED;
}

cmn_outcome_t cmn_outcome_of_end(const cmn_event_t *ev, int answered, int outbound, int offered)
{
    return ev->outcome == CMN_OUT_COMPLETED ? cmn_outcome_of_call(answered, outbound, offered)
                                            : ev->outcome;
}

const char *cmn_outcome_missed_agent(const cmn_event_t *end, const char *last_offered)
{
    const cmn_agent_t *a = &end->agent;
    const char *who = a->provider_id || a->crm_id ? a->crm_id : last_offered;
    return who ? who : "";
}
