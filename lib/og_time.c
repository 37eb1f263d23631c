/*
 * og_time.c - the clock, durations and RFC 3339 dates.
 *
 * Public: og_time_now, og_mono_ms, og_cond_init_monotonic,
 * og_duration_parse/fmt, og_time_parse_rfc3339, og_time_fmt, og_date_fmt.
 * Pure functions but og_time_now(), which reads OPTGATE_NOW (epoch
 * seconds) when set, so tests control the clock without sleeping, and
 * og_mono_ms(), which reads the monotonic clock.  Thread-safe.
 *
 * LIMITS: years 1970..9999; durations up to the caller's max.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "og_err.h"
#include "og_time.h"

int64_t
og_time_now(void)
{
	const char *s = getenv("OPTGATE_NOW");

	if (s != NULL && *s) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == 0 && v > 0)
			return v;
	}
	return (int64_t)time(NULL);
}

int64_t
og_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
og_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int rc;

	if ((rc = pthread_condattr_init(&ca)) != 0)
		return rc;
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

int
og_duration_parse(const char *s, int64_t max, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return OG_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return OG_EINVAL;
	switch (*end) {
	case 0:
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	case 'w':
		mul = 7 * 86400;
		break;
	default:
		return OG_EINVAL;
	}
	if (*end) {
		end++;
		while (isspace((unsigned char)*end))
			end++;
		if (*end)
			return OG_EINVAL;
	}
	if (v > max / mul)
		return OG_EINVAL;
	*out = v * mul;
	return 0;
}

char *
og_duration_fmt(int64_t secs, char *buf, size_t size)
{
	if (secs % (7 * 86400) == 0 && secs >= 14 * 86400 && secs % 86400)
		snprintf(buf, size, "%lldw", (long long)(secs / (7 * 86400)));
	else if (secs % 86400 == 0 && secs > 0)
		snprintf(buf, size, "%lldd", (long long)(secs / 86400));
	else if (secs % 3600 == 0 && secs > 0)
		snprintf(buf, size, "%lldh", (long long)(secs / 3600));
	else if (secs % 60 == 0 && secs > 0)
		snprintf(buf, size, "%lldm", (long long)(secs / 60));
	else
		snprintf(buf, size, "%llds", (long long)secs);
	return buf;
}

/* Read exactly n digits. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

/* Days since the epoch of a civil date (proleptic Gregorian). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
og_time_parse_rfc3339(const char *s, int64_t *out)
{
	static const int mdays[] = {
	    31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d))
		return OG_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return OG_EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100) || y % 400 == 0))
		return OG_EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return OG_EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &se))
				return OG_EINVAL;
			if (*p == '.') {
				p++;
				if (!isdigit((unsigned char)*p))
					return OG_EINVAL;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return OG_EINVAL;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			p++;
			if (digits(&p, 2, &oh) || *p++ != ':' ||
			    digits(&p, 2, &om) || oh > 23 || om > 59)
				return OG_EINVAL;
		} else {
			return OG_EINVAL; /* RFC 3339 needs an offset */
		}
	}
	if (*p != 0)
		return OG_EINVAL;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	t -= sign * (oh * 3600 + om * 60);
	*out = t;
	return 0;
}

char *
og_time_fmt(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "@%lld", (long long)t);
	return buf;
}

char *
og_date_fmt(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, size, "@%lld", (long long)t);
	return buf;
}
