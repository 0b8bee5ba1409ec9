/* Who is a supervisor (pop_supervisor.h). */
#include "pop_supervisor.h"

#include <string.h>

int pop_supervisor_is(const char *list, const char *crm_id)
{
    size_t want = crm_id ? strlen(crm_id) : 0;
    if (!list || want == 0)
        return 0;
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, ",");
        size_t len = n;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == want && memcmp(p, crm_id, want) == 0)
            return 1;
        p += n;
    }
    return 0;
}
