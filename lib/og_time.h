/*
 * og_time.h - times and durations as mail admins write them.
 *
 * Times are seconds since the epoch (int64).  Durations are "30", "30s",
 * "15m", "12h", "7d", "2w".  Dates are RFC 3339 ("2026-11-02T10:00:00Z",
 * "2026-11-02T10:00:00-03:00", also "2026-11-02").
 * og_time_now() honours OPTGATE_NOW (seconds, for tests that control the
 * clock) and otherwise reads the real clock.
 */
#ifndef OG_TIME_H
#define OG_TIME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

int64_t og_time_now(void);
/*
 * og_mono_ms - milliseconds on the monotonic clock, for timeouts and
 * intervals: a clock set back (an NTP step, date -s) neither stretches
 * nor stops them.  Counts from an arbitrary start (boot), so only
 * differences mean something; OPTGATE_NOW does not move it.
 */
int64_t og_mono_ms(void);
/*
 * og_cond_init_monotonic - init a condition variable whose timed waits
 * (pthread_cond_timedwait, deadlines from clock_gettime(CLOCK_MONOTONIC))
 * run on the monotonic clock: on the wall clock a clock set back an hour
 * (an NTP step, date -s) stalls them for that hour.  0 or an errno value.
 */
int og_cond_init_monotonic(pthread_cond_t *c);
/* 0 or OG_EINVAL; max bounds the result in seconds. */
int og_duration_parse(const char *s, int64_t max, int64_t *out);
/* Format a duration compactly ("7d", "90m"); returns buf. */
char *og_duration_fmt(int64_t secs, char *buf, size_t size);
/* 0 or OG_EINVAL. */
int og_time_parse_rfc3339(const char *s, int64_t *out);
/* "2026-11-02T10:00:00Z" (UTC); returns buf (size >= 21). */
char *og_time_fmt(int64_t t, char *buf, size_t size);
/* "2026-11-02" (UTC); returns buf (size >= 11). */
char *og_date_fmt(int64_t t, char *buf, size_t size);

#endif
