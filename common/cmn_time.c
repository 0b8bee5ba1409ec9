/* Time helpers. timegm is a GNU/BSD extension, available via _DEFAULT_SOURCE. */
#include "cmn_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t cmn_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cmn_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cmn_time_mono_ms_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void cmn_time_format(int64_t ms, char *out, size_t outsz)
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    struct tm tm;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int parse_fraction_ms(const char **p)
{
    int ms = 0, scale = 100;
    if (**p != '.')
        return 0;
    for ((*p)++; isdigit((unsigned char)**p); (*p)++) {
        ms += (**p - '0') * scale;
        scale /= 10;
    }
    return ms;
}

static int parse_offset_s(const char *p, long *offset)
{
    int hh, mm;
    if (*p == 'Z' || *p == 'z' || *p == '\0') {
        *offset = 0;
        return *p && p[1] ? -1 : 0;
    }
    if ((*p != '+' && *p != '-') || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6)
        return -1;
    *offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    return 0;
}

int cmn_time_parse(const char *text, int64_t *ms)
{
    struct tm tm = {0};
    int consumed = 0;
    char sep;
    long offset;
    if (!text || sscanf(text, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &sep, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 7)
        return -1;
    if ((sep != 'T' && sep != 't' && sep != ' ') || consumed != 19 || tm.tm_mon < 1 ||
        tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    const char *p = text + consumed;
    int frac = parse_fraction_ms(&p);
    if (parse_offset_s(p, &offset) < 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t secs = timegm(&tm);
    *ms = ((int64_t)secs - offset) * 1000 + frac;
    return 0;
}
