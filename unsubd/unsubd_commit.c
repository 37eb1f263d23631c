/*
 * unsubd_commit.c - group commit of opt-outs and preference changes.
 *
 * Every change a person makes must be on disk before the answer (DESIGN:
 * "acknowledge after the sync"), and a sync costs a disk flush.  HTTP
 * threads therefore never write: they queue a job and suspend their
 * connection; one committer thread takes everything queued, applies it
 * in one og_store_apply() call (one transaction, one fsync), and calls
 * each job's done().  While one flush runs, the next batch gathers, so
 * the batch size follows the load and the flush rate stays at the disk's.
 *
 * If a batch fails (say one change is malformed), its jobs are retried
 * one by one, so one bad job never fails the others.  A failed write
 * after which LMDB stopped the store in this process (og_store_dead) is
 * kept (unsubd_commit_dead) and the process is sent SIGTERM: it stops as
 * on a stop, answering what is queued (503), and exits 1 to be started
 * again.
 *
 * Public: unsubd_commit_start/submit/stop/stats_get.  Thread-safe: the
 * queue and statistics are under one mutex.
 *
 * LIMITS: at most COMMIT_BATCH_MAX changes per transaction; a job larger
 * than that is applied alone.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "og_buf.h"
#include "og_err.h"
#include "og_log.h"
#include "unsubd.h"

#define COMMIT_BATCH_MAX 1024

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static unsubd_job *q_head, *q_tail;
static int q_stop;
static int q_running;
static pthread_t q_thread;
static char q_dead[512]; /* why the store is dead; under q_lock */
static og_store *q_store;
static unsubd_commit_stats q_stats;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Apply jobs (a list of total changes) in one transaction. */
static int
apply_batch(unsubd_job *jobs, size_t total)
{
	og_change *ch;
	int *res;
	size_t off = 0;
	unsubd_job *j;
	uint64_t t0, dt;
	int rc;

	ch = og_xcalloc(total > 0 ? total : 1, sizeof(*ch));
	res = og_xcalloc(total > 0 ? total : 1, sizeof(*res));
	for (j = jobs; j != NULL; j = j->next) {
		memcpy(ch + off, j->ch, j->n * sizeof(*ch));
		off += j->n;
	}
	t0 = now_ns();
	rc = total > 0 ? og_store_apply(q_store, ch, total, res) : 0;
	dt = now_ns() - t0;
	pthread_mutex_lock(&q_lock);
	q_stats.batches++;
	q_stats.changes += total;
	q_stats.apply_ns += dt;
	if (dt > q_stats.apply_max_ns)
		q_stats.apply_max_ns = dt;
	pthread_mutex_unlock(&q_lock);
	if (rc == 0) {
		off = 0;
		for (j = jobs; j != NULL; j = j->next) {
			memcpy(j->results, res + off, j->n * sizeof(*res));
			off += j->n;
			j->rc = 0;
		}
	}
	free(ch);
	free(res);
	return rc;
}

static void
finish(unsubd_job *jobs)
{
	unsubd_job *j, *next;
	uint64_t n = 0;

	/* Count first: done() wakes the waiter, who may read the stats. */
	for (j = jobs; j != NULL; j = j->next)
		n++;
	pthread_mutex_lock(&q_lock);
	q_stats.jobs += n;
	pthread_mutex_unlock(&q_lock);
	for (j = jobs; j != NULL; j = next) {
		next = j->next; /* done() may free the job */
		j->next = NULL;
		j->done(j);
	}
}

/*
 * After a failed write: has LMDB stopped the store?  Then every later
 * write fails too, until a restart: keep why, and stop (SIGTERM to the
 * main loop, which exits 1).  Once.
 */
static void
check_dead(void)
{
	char why[sizeof(q_dead)];
	int first;

	if (og_store_dead(q_store, why, sizeof(why)) == 0)
		return;
	pthread_mutex_lock(&q_lock);
	first = q_dead[0] == 0;
	if (first)
		memcpy(q_dead, why, sizeof(q_dead));
	pthread_mutex_unlock(&q_lock);
	if (first)
		kill(getpid(), SIGTERM);
}

int
unsubd_commit_dead(char *why, size_t n)
{
	int dead;

	pthread_mutex_lock(&q_lock);
	dead = q_dead[0] != 0;
	if (dead && n > 0)
		snprintf(why, n, "%s", q_dead);
	pthread_mutex_unlock(&q_lock);
	return dead;
}

static void
run_batch(unsubd_job *jobs)
{
	unsubd_job *j, *next, *one;
	size_t total = 0;
	int rc;

	for (j = jobs; j != NULL; j = j->next)
		total += j->n;
	rc = apply_batch(jobs, total);
	if (rc == 0) {
		finish(jobs);
		return;
	}
	check_dead();
	if (jobs->next == NULL) {
		og_log_warn("store write failed: %s", og_strerror(rc));
		jobs->rc = rc;
		finish(jobs);
		return;
	}
	/* Find the job that broke the batch: each alone. */
	for (j = jobs; j != NULL; j = next) {
		next = j->next;
		one = j;
		one->next = NULL;
		rc = apply_batch(one, one->n);
		if (rc != 0) {
			og_log_warn("store write failed: %s", og_strerror(rc));
			one->rc = rc;
		}
		finish(one);
	}
}

static void *
committer(void *arg)
{
	(void)arg;
	for (;;) {
		unsubd_job *batch, *last;
		size_t total;

		pthread_mutex_lock(&q_lock);
		while (q_head == NULL && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		if (q_head == NULL && q_stop) {
			pthread_mutex_unlock(&q_lock);
			break;
		}
		/* Take up to COMMIT_BATCH_MAX changes (at least one job). */
		batch = last = q_head;
		total = batch->n;
		while (last->next != NULL &&
		       total + last->next->n <= COMMIT_BATCH_MAX) {
			last = last->next;
			total += last->n;
		}
		q_head = last->next;
		if (q_head == NULL)
			q_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&q_lock);
		run_batch(batch);
	}
	return NULL;
}

int
unsubd_commit_start(og_store *st)
{
	q_store = st;
	q_stop = 0;
	if (pthread_create(&q_thread, NULL, committer, NULL) != 0)
		return OG_EIO;
	q_running = 1;
	return 0;
}

void
unsubd_commit_submit(unsubd_job *job)
{
	job->next = NULL;
	job->rc = 0;
	pthread_mutex_lock(&q_lock);
	if (q_stop || !q_running) {
		/* Shutting down: refuse rather than leave it waiting. */
		pthread_mutex_unlock(&q_lock);
		job->rc = OG_EBUSY;
		job->done(job);
		return;
	}
	if (q_tail != NULL)
		q_tail->next = job;
	else
		q_head = job;
	q_tail = job;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

void
unsubd_commit_stop(void)
{
	unsubd_commit_stats s;

	if (!q_running)
		return;
	pthread_mutex_lock(&q_lock);
	q_stop = 1;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(q_thread, NULL);
	q_running = 0;
	unsubd_commit_stats_get(&s);
	og_log_info("commit statistics: batches=%llu jobs=%llu changes=%llu "
	            "mean_batch=%.1f mean_commit_ms=%.2f max_commit_ms=%.2f",
	    (unsigned long long)s.batches, (unsigned long long)s.jobs,
	    (unsigned long long)s.changes,
	    s.batches ? (double)s.jobs / (double)s.batches : 0.0,
	    s.batches ? (double)s.apply_ns / (double)s.batches / 1e6 : 0.0,
	    (double)s.apply_max_ns / 1e6);
}

void
unsubd_commit_stats_get(unsubd_commit_stats *s)
{
	pthread_mutex_lock(&q_lock);
	*s = q_stats;
	pthread_mutex_unlock(&q_lock);
}
