/* JSON-lines logging to stdout: one object per line with time, level,
 * service, message and, when known, the call id. Secrets never reach it:
 * configuration values flagged secret are masked before they are logged. */
#ifndef CMN_LOG_H
#define CMN_LOG_H

#include <stdarg.h>

typedef enum { CMN_LOG_DEBUG = 0, CMN_LOG_INFO, CMN_LOG_WARN, CMN_LOG_ERROR } cmn_log_level_t;

/* service: borrowed, must outlive logging (a string literal in main). */
void cmn_log_init(const char *service, cmn_log_level_t level);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int cmn_log_level_parse(const char *s, cmn_log_level_t *out);
int cmn_log_enabled(cmn_log_level_t level);

void cmn_log_write(cmn_log_level_t level, const char *call_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The level test comes first so that disabled levels do not evaluate their
 * arguments (which may be costly formatting on a hot path). */
#define CMN_LOG(level, call_id, ...)                                                               \
    do {                                                                                           \
        if (cmn_log_enabled(level))                                                                \
            cmn_log_write(level, call_id, __VA_ARGS__);                                            \
    } while (0)
#define LOG_DEBUG(...) CMN_LOG(CMN_LOG_DEBUG, NULL, __VA_ARGS__)
#define LOG_INFO(...) CMN_LOG(CMN_LOG_INFO, NULL, __VA_ARGS__)
#define LOG_WARN(...) CMN_LOG(CMN_LOG_WARN, NULL, __VA_ARGS__)
#define LOG_ERROR(...) CMN_LOG(CMN_LOG_ERROR, NULL, __VA_ARGS__)
#define LOG_CALL(level, call_id, ...) CMN_LOG(level, call_id, __VA_ARGS__)

#endif
