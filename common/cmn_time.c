/* Time helpers. timegm is a GNU/BSD extension, available via _DEFAULT_SOURCE. */
#include "cmn_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, outsz, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* Reads exactly n digits at p; -1 when any is not a digit. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* Fraction after the seconds: '.' and at least one digit; ms precision. */
static int parse_fraction(const char **p, int *ms)
{
    int scale = 100;
    *ms = 0;
    if (**p != '.')
        return 0;
    if (!isdigit((unsigned char)(*p)[1]))
        return -1;
    for ((*p)++; isdigit((unsigned char)**p); (*p)++) {
        *ms += (**p - '0') * scale;
        scale /= 10;
    }
    return 0;
}

static int parse_offset(const char *p, int strict, long *offset)
{
    if (*p == 'Z' || (!strict && *p == 'z'))
        return *offset = 0, p[1] ? -1 : 0;
    if (*p == '\0' && !strict)
        return *offset = 0, 0; /* providers' local form, taken as UTC */
    if ((*p != '+' && *p != '-') || p[3] != ':' || p[6] != '\0')
        return -1;
    int hh = digits(p + 1, 2), mm = digits(p + 4, 2);
    if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
        return -1;
    *offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    return 0;
}

/* YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm), every digit at its place; the
 * lenient form also takes ' ' or 't' as separator, 'z', and no offset. */
/* Seconds east of UTC that `zone` is at wall time `wall`: mktime() under
 * TZ=zone, TZ put back as it was. -1 when the wall time cannot be placed. */
static int zone_offset(const char *zone, const struct tm *wall, long *offset)
{
    const char *was = getenv("TZ");
    char *saved = was ? strdup(was) : NULL;
    struct tm local = *wall, utc_fields = *wall;
    int rc = -1;
    if (was && !saved)
        return -1;
    local.tm_isdst = -1; /* let the zone's rules say whether DST applies */
    if (setenv("TZ", zone, 1) == 0) {
        tzset();
        time_t t = mktime(&local);
        if (t != (time_t)-1) {
            *offset = (long)(timegm(&utc_fields) - t);
            rc = 0;
        }
    }
    if (saved ? setenv("TZ", saved, 1) : unsetenv("TZ"))
        rc = -1;
    tzset();
    free(saved);
    return rc;
}

int cmn_time_zone_known(const char *zone)
{
    char path[256];
    if (!zone || !*zone || zone[0] == '/' || strstr(zone, "..") ||
        snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone) >= (int)sizeof path)
        return 0;
    return strcmp(zone, "UTC") == 0 || access(path, R_OK) == 0;
}

static int parse(const char *text, int strict, const char *zone, int64_t *ms)
{
    struct tm tm = {0};
    long offset;
    int frac;
    if (!text || strlen(text) < 19 || text[4] != '-' || text[7] != '-' || text[13] != ':' ||
        text[16] != ':')
        return -1;
    char sep = text[10];
    if (sep != 'T' && (strict || (sep != 't' && sep != ' ')))
        return -1;
    int year = digits(text, 4), mon = digits(text + 5, 2), day = digits(text + 8, 2);
    int hour = digits(text + 11, 2), min = digits(text + 14, 2), sec = digits(text + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 59 || day > days_in_month(year, mon))
        return -1;
    const char *p = text + 19;
    if (parse_fraction(&p, &frac) < 0 || parse_offset(p, strict, &offset) < 0)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    if (*p == '\0' && zone && strcmp(zone, "UTC") != 0 && zone_offset(zone, &tm, &offset) < 0)
        return -1;
    *ms = ((int64_t)timegm(&tm) - offset) * 1000 + frac;
    return 0;
}

int cmn_time_parse(const char *text, int64_t *ms)
{
    return parse(text, 0, NULL, ms);
}

int cmn_time_parse_in_zone(const char *text, const char *zone, int64_t *ms)
{
    return parse(text, 0, zone, ms);
}

int cmn_time_parse_rfc3339(const char *text, int64_t *ms)
{
    return parse(text, 1, NULL, ms);
}

int cmn_time_local_in_zone(int64_t ms, const char *zone, struct tm *out)
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    const char *was;
    char *saved;
    int rc = -1;
    if (!zone || strcmp(zone, "UTC") == 0)
        return gmtime_r(&t, out) ? 0 : -1;
    was = getenv("TZ");
    saved = was ? strdup(was) : NULL;
    if (was && !saved)
        return -1;
    if (setenv("TZ", zone, 1) == 0) {
        tzset();
        rc = localtime_r(&t, out) ? 0 : -1;
    }
    if (saved ? setenv("TZ", saved, 1) : unsetenv("TZ"))
        rc = -1;
    tzset();
    free(saved);
    return rc;
}
