/* Wall-clock and monotonic time in milliseconds, and RFC 3339 text. */
#ifndef CMN_TIME_H
#define CMN_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t cmn_time_now_ms(void);   /* wall clock, ms since the epoch */
int64_t cmn_time_mono_ms(void);  /* monotonic, for durations and deadlines */
double cmn_time_mono_ms_f(void); /* monotonic, fractional ms (latency histograms) */

#define CMN_TIME_TEXT_MAX 32
/* "2026-11-21T11:05:08.123Z" into out (>= CMN_TIME_TEXT_MAX). */
void cmn_time_format(int64_t ms, char *out, size_t outsz);
/* Parses RFC 3339 ("...Z", "...+03:00", optional fraction) and the
 * looser forms providers send: "YYYY-MM-DD HH:MM:SS", lower-case t/z, no
 * offset (taken as UTC). Every digit is checked at its place and the day
 * against its month. Returns 0 or -1. */
int cmn_time_parse(const char *text, int64_t *ms);
/* cmn_time_parse, but a text without offset is wall time in the IANA time
 * zone `zone` ("Europe/Istanbul"; NULL or "UTC": UTC), daylight saving
 * included. Reads the zone through TZ and mktime(): call it from one thread
 * (ingest's event loop) only. Returns 0 or -1. */
int cmn_time_parse_in_zone(const char *text, const char *zone, int64_t *ms);
/* 1 when `zone` names a zone in the system's tz database (tzdata), else 0:
 * glibc would silently read an unknown name as UTC, so settings check it. */
int cmn_time_zone_known(const char *zone);
/* The wall time in `zone` (IANA; NULL or "UTC": UTC) at `ms`, daylight
 * saving included: localtime_r() under TZ=zone, TZ put back after. Same
 * one-thread rule as cmn_time_parse_in_zone. Returns 0 or -1. */
struct tm;
int cmn_time_local_in_zone(int64_t ms, const char *zone, struct tm *out);
/* RFC 3339 date-time only, as JSON Schema's date-time format: canonical
 * events are held to it. */
int cmn_time_parse_rfc3339(const char *text, int64_t *ms);

#endif
