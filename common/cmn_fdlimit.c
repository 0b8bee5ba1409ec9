/* Connection cap vs RLIMIT_NOFILE (see the header). */
#include "cmn_fdlimit.h"
#include "cmn_log.h"

#include <stdio.h>
#include <sys/resource.h>

static void limit_text(rlim_t v, char *out, size_t outsz)
{
    if (v == RLIM_INFINITY)
        snprintf(out, outsz, "unlimited");
    else
        snprintf(out, outsz, "%llu", (unsigned long long)v);
}

int cmn_fdlimit_fit(const char *setting, int cap)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)cap + CMN_FDLIMIT_RESERVE;
    char hard[32];
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        LOG_WARN("%s=%d: cannot read RLIMIT_NOFILE; the cap is not checked", setting, cap);
        return cap;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return cap;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) == 0) {
        LOG_INFO("RLIMIT_NOFILE soft limit raised from %llu to %llu for %s=%d",
                 (unsigned long long)was, (unsigned long long)rl.rlim_cur, setting, cap);
        if (rl.rlim_cur >= need)
            return cap;
    } else {
        rl.rlim_cur = was;
    }
    limit_text(rl.rlim_max, hard, sizeof hard);
    long fits = (long)rl.rlim_cur - CMN_FDLIMIT_RESERVE;
    if (fits < CMN_FDLIMIT_MIN_CAP) {
        LOG_ERROR("%s=%d needs about %llu file descriptors, RLIMIT_NOFILE allows %llu (hard "
                  "limit %s): not even %d connections fit; raise the limit (ulimit -n, systemd "
                  "LimitNOFILE=, the container's nofile ulimit)",
                  setting, cap, (unsigned long long)need, (unsigned long long)rl.rlim_cur, hard,
                  CMN_FDLIMIT_MIN_CAP);
        return -1;
    }
    LOG_WARN("%s=%d needs about %llu file descriptors, RLIMIT_NOFILE allows %llu (hard limit "
             "%s): the cap is lowered to %ld; raise the limit (ulimit -n, systemd LimitNOFILE=, "
             "the container's nofile ulimit) to keep %d",
             setting, cap, (unsigned long long)need, (unsigned long long)rl.rlim_cur, hard, fits,
             cap);
    return (int)fits;
}
