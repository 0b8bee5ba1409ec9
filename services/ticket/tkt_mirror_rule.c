/* The contact mirror's vouching rule; see tkt_mirror_rule.h. */
#include "tkt_mirror_rule.h"

tkt_mirror_verdict_t tkt_mirror_vouch(const tkt_mirror_rule_t *rule, const tkt_mirror_view_t *v,
                                      tkt_mirror_purpose_t purpose, int64_t now_ms,
                                      int64_t asked_ms)
{
    /* An export never finished, or one too old: the mirror may lack any
     * contact at all (a first pass under way, a CRM that stopped answering). */
    if (!v->complete || v->watermark_ms <= 0 || now_ms - v->watermark_ms > rule->fresh_ms)
        return TKT_MIRROR_SEARCH;
    /* The contact existed at the watermark; a contact a person added to
     * the number since is a second one, R-C4's business, not R-C2's. */
    if (v->n_contacts > 0)
        return TKT_MIRROR_HIT;
    if (purpose == TKT_MIRROR_FOR_DISPLAY)
        return TKT_MIRROR_NONE;
    /* R-C2, exactly once: a contact a person created after the watermark
     * may be missing. A miss decides a creation only when the watermark is
     * at or after the moment the look-up was asked, which is what a search
     * at that moment would have seen (and better: the search index lags). */
    if (v->watermark_ms >= asked_ms)
        return TKT_MIRROR_NONE;
    if (purpose == TKT_MIRROR_FOR_CREATE && now_ms - asked_ms < rule->create_wait_ms)
        return TKT_MIRROR_WAIT;
    return TKT_MIRROR_SEARCH;
}
