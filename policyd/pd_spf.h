/*
 * pd_spf.h - SPF checks for optgate-policyd, evaluated out of process.
 *
 * Does the SPF record of a sender domain authorize every egress address
 * of this server?  libspf2 (Debian 1.2.10) has known memory-safety bugs
 * on hostile records, so it never runs in the daemon: a pool of helper
 * processes (this binary re-executed with PD_SPF_HELPER_ARG, under the
 * daemon's user, with address space, core and file limits) evaluates one
 * domain at a time.  A query not answered within the timeout of its
 * arrival (the wait for a free helper included) is a temporary error, and
 * its helper is killed; a helper that crashes answers a permanent
 * error, one killed from outside (SIGKILL) a temporary one.  Either way
 * the daemon goes on serving.  Results other than temporary errors are
 * cached for the shortest TTL of the SPF records read (includes and
 * redirects too), at most cache_ttl: for the domain, or for
 * the sender when a record uses the local part (%{l}).
 *
 * The daemon integrates the helpers into its event loop: pd_spf_check
 * either answers from the cache or queues the domain and later calls
 * the callback from pd_spf_event or pd_spf_tick.
 *
 * Not thread-safe: one event loop.
 */
#ifndef PD_SPF_H
#define PD_SPF_H

#include <stdint.h>

#define PD_SPF_HELPER_ARG "--spf-helper"
#define PD_SPF_HELPERS 4 /* at most this many concurrent evaluations */
#define PD_SPF_CACHE_MAX 10000
#define OG_SPF_EGRESS_TEXT 1024 /* "IP,IP,..." as sent to a helper */

enum pd_spf_result {
	PD_SPF_PASS = 0,
	PD_SPF_FAIL,
	PD_SPF_SOFTFAIL,
	PD_SPF_NEUTRAL,
	PD_SPF_NONE,
	PD_SPF_PERMERROR,
	PD_SPF_TEMPERROR
};

typedef struct pd_spf_res {
	int result;       /* enum pd_spf_result */
	char ip[48];      /* the egress address the result is about */
	char detail[160]; /* short explanation for logs and replies */
} pd_spf_res;

typedef struct pd_spf pd_spf;

/* The event-loop side.  exe: the path to re-execute for helpers. */
pd_spf *pd_spf_new(int epfd, const char *exe);
void pd_spf_free(pd_spf *s);
/*
 * Egress addresses (copied), the HELO name records see as %{h} (copied;
 * NULL: the helper's host name), evaluation timeout and cache lifetime.
 */
void pd_spf_configure(pd_spf *s, char *const *egress, int n, const char *helo,
    int64_t timeout, int64_t cache_ttl);

/*
 * pd_spf_check - result for domain (an A-label domain) and local, the
 * sender's local part (NULL or "": "postmaster"), which records can name
 * (%{l}).  Returns 1 with *out filled from the cache, or 0 when queued:
 * done(ctx, res) is called later, exactly once, unless
 * pd_spf_cancel(s, ctx) is called first.
 */
int pd_spf_check(pd_spf *s, const char *domain, const char *local,
    pd_spf_res *out, void (*done)(void *ctx, const pd_spf_res *r), void *ctx);
void pd_spf_cancel(pd_spf *s, void *ctx);

/* Events on a helper fd (epoll data.ptr was tag); timers, every second. */
void pd_spf_event(pd_spf *s, void *tag, uint32_t events);
void pd_spf_tick(pd_spf *s);
/* Whether tag (an epoll data.ptr) belongs to s. */
int pd_spf_owns(const pd_spf *s, const void *tag);

/* Name of a result: pass, fail, softfail, neutral, none, ... */
const char *pd_spf_name(int result);

/* The helper process: reads queries on stdin, answers on stdout. */
int pd_spf_helper_main(void);

#endif
