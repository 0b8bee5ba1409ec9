/* Working hours (R-M4), see mis_hours.h. */
#include "mis_hours.h"
#include "cmn_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int day_parse(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (n == 3 && strncmp(s, days[i], 3) == 0)
            return i;
    return -1;
}

static int hhmm(const char *s, int *min)
{
    int h, m;
    char tail;
    if (sscanf(s, "%2d:%2d%c", &h, &m, &tail) < 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
        (h == 24 && m != 0))
        return -1;
    *min = h * 60 + m;
    return 0;
}

/* One "DAYS HH:MM-HH:MM" item. */
static int parse_item(mis_hours_t *h, const char *item, char *err, size_t errsz)
{
    char daytext[16], from[8], to[8];
    int d0, d1, start, end;
    const char *dash;
    if (sscanf(item, " %15s %5[0-9:]-%5[0-9:]", daytext, from, to) != 3 || hhmm(from, &start) < 0 ||
        hhmm(to, &end) < 0)
        goto bad;
    dash = strchr(daytext, '-');
    d0 = day_parse(daytext, dash ? (size_t)(dash - daytext) : strlen(daytext));
    d1 = dash ? day_parse(dash + 1, strlen(dash + 1)) : d0;
    if (d0 < 0 || d1 < 0)
        goto bad;
    for (int d = d0;; d = (d + 1) % 7) {
        if (h->n_ranges == MIS_HOURS_RANGES) {
            snprintf(err, errsz, "more than %d day ranges", MIS_HOURS_RANGES);
            return -1;
        }
        h->ranges[h->n_ranges].wday = d;
        h->ranges[h->n_ranges].start = start;
        h->ranges[h->n_ranges].end = end;
        h->n_ranges++;
        if (d == d1)
            break;
    }
    return 0;
bad:
    snprintf(err, errsz, "working hours: '%s' is not \"DAYS HH:MM-HH:MM\" (days mon..sun)", item);
    return -1;
}

static int parse_holiday(mis_hours_t *h, const char *item, char *err, size_t errsz)
{
    int y, m, d;
    char tail;
    if (sscanf(item, " %4d-%2d-%2d %c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31) {
        snprintf(err, errsz, "holidays: '%s' is not YYYY-MM-DD", item);
        return -1;
    }
    if (h->n_holidays == MIS_HOURS_HOLIDAYS) {
        snprintf(err, errsz, "more than %d holidays", MIS_HOURS_HOLIDAYS);
        return -1;
    }
    h->holidays[h->n_holidays++] = y * 10000 + m * 100 + d;
    return 0;
}

/* Splits `list` at commas and hands each non-blank item to `fn`. */
static int each_item(mis_hours_t *h, const char *list,
                     int (*fn)(mis_hours_t *, const char *, char *, size_t), char *err,
                     size_t errsz)
{
    char item[128];
    const char *p = list ? list : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n >= sizeof item) {
            snprintf(err, errsz, "'%.*s...' is too long", 20, p);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (strspn(item, " \t") != n && fn(h, item, err, errsz) < 0)
            return -1;
        p += n + (p[n] == ',');
    }
    return 0;
}

int mis_hours_parse(mis_hours_t *h, const char *hours, const char *zone, const char *holidays,
                    char *err, size_t errsz)
{
    memset(h, 0, sizeof *h);
    snprintf(h->zone, sizeof h->zone, "%s", zone && *zone ? zone : "UTC");
    if (!cmn_time_zone_known(h->zone)) {
        snprintf(err, errsz, "time zone '%s' is not in the tz database", h->zone);
        return -1;
    }
    if (each_item(h, hours, parse_item, err, errsz) < 0 ||
        each_item(h, holidays, parse_holiday, err, errsz) < 0)
        return -1;
    h->always = h->n_ranges == 0;
    return 0;
}

static int holiday(const mis_hours_t *h, const struct tm *tm)
{
    int date = (tm->tm_year + 1900) * 10000 + (tm->tm_mon + 1) * 100 + tm->tm_mday;
    for (size_t i = 0; i < h->n_holidays; i++)
        if (h->holidays[i] == date)
            return 1;
    return 0;
}

int mis_hours_open(const mis_hours_t *h, int64_t ms)
{
    struct tm now, yesterday;
    if (h->always)
        return 1;
    /* Local calendar days, not 24 h steps: across a DST change the day
     * before is still the previous date, whatever its length. */
    if (cmn_time_local_in_zone(ms, h->zone, &now) < 0 ||
        cmn_time_local_in_zone(ms - (int64_t)(now.tm_hour * 60 + now.tm_min + 1) * 60000, h->zone,
                               &yesterday) < 0)
        return -1;
    int t = now.tm_hour * 60 + now.tm_min, today_off = holiday(h, &now),
        yday_off = holiday(h, &yesterday);
    for (size_t i = 0; i < h->n_ranges; i++) {
        int s = h->ranges[i].start, e = h->ranges[i].end, overnight = e <= s;
        if (h->ranges[i].wday == now.tm_wday && !today_off && t >= s && (overnight || t < e))
            return 1;
        if (overnight && h->ranges[i].wday == yesterday.tm_wday && !yday_off && t < e)
            return 1;
    }
    return 0;
}
