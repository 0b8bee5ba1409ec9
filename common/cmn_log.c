/* JSON-lines logger. Lines are built in one buffer and written with a single
 * fwrite so lines from librdkafka's threads (error callbacks) never interleave. */
#include "cmn_log.h"
#include "cmn_time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *log_service = "callbus";
static cmn_log_level_t log_min_level = CMN_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cmn_log_init(const char *service, cmn_log_level_t level)
{
    log_service = service;
    log_min_level = level;
}

int cmn_log_level_parse(const char *s, cmn_log_level_t *out)
{
    for (int i = 0; i <= CMN_LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (cmn_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int cmn_log_enabled(cmn_log_level_t level)
{
    return level >= log_min_level;
}

void cmn_log_write(cmn_log_level_t level, const char *call_id, const char *fmt, ...)
{
    char msg[2048];
    char ts[CMN_TIME_TEXT_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cmn_time_format(cmn_time_now_ms(), ts, sizeof ts);

    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "level", level_names[level],
                             "service", log_service, "msg", msg);
    if (!line)
        return;
    if (call_id)
        json_object_set_new(line, "call_id", json_string(call_id));
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text)
        return;
    size_t len = strlen(text);
    text[len] = '\n'; /* overwrite NUL: write line and newline at once */
    fwrite(text, 1, len + 1, stdout);
    fflush(stdout);
    free(text);
}
