/* The public connection cap against the process's file-descriptor limit
 * (RLIMIT_NOFILE), checked once at start-up (issue 19 item 6d): a cap the
 * limit cannot hold would end in accept() failing with EMFILE under load,
 * and in every other socket (Kafka, Redis, the CRM, the admin port) failing
 * with it. Main thread, before the loop runs. */
#ifndef CMN_FDLIMIT_H
#define CMN_FDLIMIT_H

/* Descriptors kept apart from the public connections: the admin listener's
 * cap (64), refused connections still being answered (64), and Kafka,
 * Redis, CRM and log descriptors. */
#define CMN_FDLIMIT_RESERVE 256
/* A cap lower than this is refused rather than run with. */
#define CMN_FDLIMIT_MIN_CAP 16

/* Returns the cap to run with: `cap` when the soft limit holds cap +
 * CMN_FDLIMIT_RESERVE descriptors, after raising the soft limit towards
 * the hard one if needed (logged); else the cap the limit holds, with a
 * warning that says what to raise; or -1 (logged at error) when not even
 * CMN_FDLIMIT_MIN_CAP fits. `setting` names the cap in the log lines. */
int cmn_fdlimit_fit(const char *setting, int cap);

#endif
