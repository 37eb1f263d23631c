/*
 * unsubd_commit_test.c - group commit, rate limit and connections per
 * client of optgate-unsubd, against a real LMDB store in a temporary
 * folder.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "og_err.h"
#include "og_store.h"
#include "og_testfx.h"
#include "og_token.h"
#include "unsubd.h"

#define NTHREADS 8
#define PER_THREAD 50

struct fx {
	char dir[96];
	og_store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (og_testfx_open(
	        f->dir, sizeof(f->dir), "unsubd_commit_test", &f->st) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (og_testfx_close(f->dir, f->st) != 0)
		return -1;
	free(f);
	return 0;
}

/* A job that a submitting thread waits for, as a suspended connection. */
struct wjob {
	unsubd_job job;
	og_change ch;
	int result;
	char key[64];
	pthread_mutex_t lk;
	pthread_cond_t cv;
	int done;
};

static void
wjob_done(unsubd_job *job)
{
	struct wjob *w = job->ctx;

	pthread_mutex_lock(&w->lk);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lk);
}

static void
wjob_init(struct wjob *w, const char *key)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->key, sizeof(w->key), "%s", key);
	w->ch.key = w->key;
	w->ch.kind = OG_EV_OPTOUT;
	w->ch.scope = OG_SCOPE_STREAM;
	w->ch.name = "news";
	w->ch.state = OG_ST_OPTOUT;
	w->ch.via = OG_VIA_ONECLICK;
	w->job.ch = &w->ch;
	w->job.n = 1;
	w->job.results = &w->result;
	w->job.done = wjob_done;
	w->job.ctx = w;
	pthread_mutex_init(&w->lk, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static void
wjob_wait(struct wjob *w)
{
	pthread_mutex_lock(&w->lk);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->lk);
	pthread_mutex_unlock(&w->lk);
}

static int failures;

static void *
submitter(void *arg)
{
	int t = (int)(intptr_t)arg, i;

	for (i = 0; i < PER_THREAD; i++) {
		struct wjob w;
		char key[64];

		snprintf(key, sizeof(key), "u%d-%d@example.com", t, i);
		wjob_init(&w, key);
		unsubd_commit_submit(&w.job);
		wjob_wait(&w);
		if (w.job.rc != 0 || w.result != OG_APPLIED)
			__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* Many threads at once: every change applied and synced, in fewer
 * commits than changes. */
static void
test_group_commit(void **state)
{
	struct fx *f = *state;
	pthread_t th[NTHREADS];
	unsubd_commit_stats s;
	og_rtxn *tx;
	og_record *rec = calloc(1, sizeof(*rec));
	int i;

	assert_int_equal(unsubd_commit_start(f->st), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, submitter, (void *)(intptr_t)i);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(failures, 0);
	unsubd_commit_stats_get(&s);
	assert_int_equal(s.jobs, NTHREADS * PER_THREAD);
	assert_int_equal(s.changes, NTHREADS * PER_THREAD);
	assert_true(s.batches <= s.jobs);
	unsubd_commit_stop();
	assert_int_equal(og_store_rbegin(f->st, &tx), 0);
	assert_int_equal(og_store_get(tx, "u7-49@example.com", rec), 0);
	assert_int_equal(rec->entries[0].state, OG_ST_OPTOUT);
	assert_int_equal(rec->entries[0].via, OG_VIA_ONECLICK);
	og_store_rend(tx);
	free(rec);
}

/* A bad job queued with good ones fails alone. */
static void
test_bad_job_isolated(void **state)
{
	struct fx *f = *state;
	struct wjob good1, bad, good2;

	/* Queue before the committer starts: one batch of three. */
	wjob_init(&good1, "a@example.com");
	wjob_init(&bad, "");
	wjob_init(&good2, "b@example.com");
	assert_int_equal(unsubd_commit_start(f->st), 0);
	unsubd_commit_submit(&good1.job);
	unsubd_commit_submit(&bad.job);
	unsubd_commit_submit(&good2.job);
	wjob_wait(&good1);
	wjob_wait(&bad);
	wjob_wait(&good2);
	assert_int_equal(good1.job.rc, 0);
	assert_int_equal(good2.job.rc, 0);
	assert_int_not_equal(bad.job.rc, 0);
	unsubd_commit_stop();
	/* After stop, a job is refused at once, never left waiting. */
	wjob_init(&good1, "c@example.com");
	unsubd_commit_submit(&good1.job);
	wjob_wait(&good1);
	assert_int_equal(good1.job.rc, OG_EBUSY);
}

/*
 * A change that cannot be written, alone in its batch, is reported
 * failed: the person is told to try again (503), never that it worked.
 */
static void
test_lone_bad_job_fails(void **state)
{
	struct fx *f = *state;
	struct wjob bad;

	wjob_init(&bad, "");
	assert_int_equal(unsubd_commit_start(f->st), 0);
	unsubd_commit_submit(&bad.job);
	wjob_wait(&bad);
	assert_int_not_equal(bad.job.rc, 0);
	unsubd_commit_stop();
}

static void
test_rate(void **state)
{
	int i;

	(void)state;
	unsubd_rate_reset();
	for (i = 0; i < 5; i++)
		assert_int_equal(unsubd_rate_hit("192.0.2.1", 5, 1000), 0);
	assert_int_equal(unsubd_rate_hit("192.0.2.1", 5, 1030), OG_EBUSY);
	/* Another address has its own count. */
	assert_int_equal(unsubd_rate_hit("192.0.2.2", 5, 1030), 0);
	/* The window ends after a minute. */
	assert_int_equal(unsubd_rate_hit("192.0.2.1", 5, 1060), 0);
	/* IPv6: one count per /64, whatever the interface id. */
	for (i = 0; i < 5; i++)
		assert_int_equal(
		    unsubd_rate_hit("2001:db8:1:2::1", 5, 1000), 0);
	assert_int_equal(
	    unsubd_rate_hit("2001:db8:1:2:ffff::9", 5, 1001), OG_EBUSY);
	assert_int_equal(unsubd_rate_hit("2001:db8:1:3::1", 5, 1001), 0);
	/* No limit configured. */
	for (i = 0; i < 100; i++)
		assert_int_equal(unsubd_rate_hit("192.0.2.3", 0, 1000), 0);
	unsubd_rate_reset();
}

/* og_keyring_derive (added to og_token for the form protection). */
/* Connections per client: a socket pair per connection, to see the cut. */
static unsubd_conn *
conn_of(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	return unsubd_conn_add(sv[0]);
}

static void
test_client_connections(void **state)
{
	int sv[6][2], i, first;
	unsubd_conn *c[6];
	char b;

	(void)state;
	/* IPv6: one count per /64, whatever the interface id. */
	for (i = 0; i < 3; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "2001:db8:1:2::%d", i + 1);
		c[i] = conn_of(sv[i]);
		assert_int_equal(unsubd_conn_client(c[i], ip, 3, &first), 0);
		assert_int_equal(first, 0);
	}
	c[3] = conn_of(sv[3]);
	assert_int_equal(
	    unsubd_conn_client(c[3], "2001:db8:1:2:ffff::9", 3, &first),
	    OG_EBUSY);
	assert_int_equal(first, 1);
	/* refused: shut down, its peer sees end-of-file */
	assert_int_equal(read(sv[3][1], &b, 1), 0);
	/* logged once: the next refusals within the minute are not */
	assert_int_equal(
	    unsubd_client_full("2001:db8:1:2::7", 3, &first), OG_EBUSY);
	assert_int_equal(first, 0);
	/* another /64 and an IPv4 address have their own counts */
	c[4] = conn_of(sv[4]);
	assert_int_equal(
	    unsubd_conn_client(c[4], "2001:db8:1:3::1", 3, &first), 0);
	assert_int_equal(unsubd_client_full("192.0.2.1", 3, &first), 0);
	/* one closes: room for one more (the refused one was not counted) */
	unsubd_conn_del(c[3]);
	assert_int_equal(
	    unsubd_client_full("2001:db8:1:2::7", 3, &first), OG_EBUSY);
	unsubd_conn_del(c[0]);
	assert_int_equal(unsubd_client_full("2001:db8:1:2::7", 3, &first), 0);
	c[5] = conn_of(sv[5]);
	assert_int_equal(
	    unsubd_conn_client(c[5], "2001:db8:1:2::7", 3, &first), 0);
	/* no limit */
	assert_int_equal(unsubd_client_full("2001:db8:1:2::7", 0, &first), 0);
	for (i = 1; i < 6; i++)
		if (i != 3)
			unsubd_conn_del(c[i]);
	for (i = 0; i < 6; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

static void
test_keyring_derive(void **state)
{
	og_keyring *kr1, *kr2;
	char err[256];
	unsigned char a[32], b[32], c[32], d[32];

	(void)state;
	assert_int_equal(
	    og_keyring_parse("1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	                     "2 BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA\n",
	        &kr1, err, sizeof(err)),
	    0);
	assert_int_equal(
	    og_keyring_parse("2 BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA\n",
	        &kr2, err, sizeof(err)),
	    0);
	assert_int_equal(og_keyring_derive(kr1, 0, "x", a), 0);
	assert_int_equal(og_keyring_derive(kr1, 2, "x", b), 0);
	/* 0 means the signing (last) key; another host with it agrees. */
	assert_memory_equal(a, b, 32);
	assert_int_equal(og_keyring_derive(kr2, 2, "x", c), 0);
	assert_memory_equal(a, c, 32);
	assert_int_equal(og_keyring_derive(kr1, 1, "x", d), 0);
	assert_memory_not_equal(a, d, 32);
	assert_int_equal(og_keyring_derive(kr1, 2, "y", d), 0);
	assert_memory_not_equal(a, d, 32);
	assert_int_equal(og_keyring_derive(kr2, 1, "x", d), OG_ENOKEY);
	og_keyring_free(kr1);
	og_keyring_free(kr2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_job_isolated, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lone_bad_job_fails, setup, teardown),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_client_connections),
	    cmocka_unit_test(test_keyring_derive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
