/* Working hours (R-M4): weekly ranges in a time zone, with holidays.
 * Outside them a missed call makes no ticket.
 *
 * Text form (CALLBUS_MISSED_HOURS): comma-separated "DAYS HH:MM-HH:MM",
 * DAYS one day or a range of mon..sun ("mon-fri 09:00-18:00, sat
 * 09:00-13:00"). A range whose end is not after its start runs past
 * midnight into the next day and belongs to the day it starts on
 * ("fri 22:00-06:00" is Friday night until Saturday 06:00). Holidays
 * (CALLBUS_MISSED_HOLIDAYS): comma-separated local dates YYYY-MM-DD; a
 * holiday's own ranges do not open (the night range of the day before
 * still runs into it). Empty hours: always open.
 * Memory: a plain struct, no heap; the zone name is copied. */
#ifndef MIS_HOURS_H
#define MIS_HOURS_H

#include <stddef.h>
#include <stdint.h>

#define MIS_HOURS_RANGES 32
#define MIS_HOURS_HOLIDAYS 64

typedef struct {
    int always; /* no hours configured */
    char zone[64];
    struct {
        int wday;       /* 0 = Sunday, as struct tm */
        int start, end; /* minutes after local midnight; end <= start: past midnight */
    } ranges[MIS_HOURS_RANGES];
    size_t n_ranges;
    int holidays[MIS_HOURS_HOLIDAYS]; /* YYYYMMDD */
    size_t n_holidays;
} mis_hours_t;

/* Parses the settings. Returns 0, or -1 with the reason in err. */
int mis_hours_parse(mis_hours_t *h, const char *hours, const char *zone, const char *holidays,
                    char *err, size_t errsz) __attribute__((warn_unused_result));

/* 1 when `ms` (UTC) falls in working hours, 0 when not, -1 when the time
 * cannot be placed in the zone (the caller then counts it as open: a
 * missed call is never dropped for want of a clock). */
int mis_hours_open(const mis_hours_t *h, int64_t ms);

#endif
