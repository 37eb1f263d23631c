/*
 * og_store_threads_test.c - read handles of threads that end.
 *
 * Daemons like optgate-milter (libmilter) run callbacks on threads that
 * come and go.  Each thread's cached read handle holds an LMDB reader
 * slot (MDB_NOTLS, reset transactions keep their slot); a thread that
 * ends must give it back, or after max_readers threads every read fails
 * with MDB_READERS_FULL.  Slots a killed process left behind are
 * cleared when a read finds the table full.  Counters removed under
 * threads that count and read are followed (og_store_counters_check),
 * and consent restored under threads that read, and under a writer
 * (og_store_consent_check, og_store_apply).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "og_err.h"
#include "og_log.h"
#include "og_store.h"

static void *
reader(void *arg)
{
	og_store *st = arg;
	og_rtxn *tx;
	og_record rec;
	intptr_t rc;

	rc = og_store_rbegin(st, &tx);
	if (rc == 0) {
		rc = og_store_get(tx, "nobody@example.com", &rec);
		og_store_rend(tx);
		if (rc == OG_NOTFOUND)
			rc = 0;
	}
	return (void *)rc;
}

static void
test_ended_threads_give_back_reader_slots(void **state)
{
	char dir[] = "/tmp/og-store-threads.XXXXXX", err[512], cmd[600];
	og_store_opts o = {0, 0, 16, OG_STORE_CREATE, NULL};
	og_store *st;
	pthread_t th;
	void *ret;
	int i;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	/* Four times the reader table, one thread after the other. */
	for (i = 0; i < 64; i++) {
		assert_int_equal(pthread_create(&th, NULL, reader, st), 0);
		assert_int_equal(pthread_join(th, &ret), 0);
		if ((intptr_t)ret != 0)
			fail_msg("thread %d: %s", i,
			    og_strerror((int)(intptr_t)ret));
	}
	assert_null(reader(st));
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static int holder_pipe = -1, holder_full, holder_done;

/* Take a reader slot and keep it: report, then wait to be killed. */
static void *
holder(void *arg)
{
	og_rtxn *tx;
	char c;

	c = og_store_rbegin(arg, &tx) == 0 ? 'y' : 'n';
	if (write(holder_pipe, &c, 1) != 1)
		_exit(3);
	if (c == 'n')
		__atomic_store_n(&holder_full, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&holder_done, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

/*
 * A process killed -9 while its threads held every reader slot: a
 * running process's next read clears them and succeeds, rather than
 * failing (marketing mail deferred) until its periodic reader check.
 */
static void
test_slots_of_killed_process_cleared(void **state)
{
	char dir[] = "/tmp/og-store-killed.XXXXXX", err[512], cmd[600];
	og_store_opts o = {0, 0, 8, OG_STORE_CREATE, NULL};
	og_store *st;
	og_rtxn *tx;
	pthread_t th;
	int p[2], status, n = 0;
	pid_t pid;
	char c = 'y';

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	og_store_close(st);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		holder_pipe = p[1];
		o.flags = 0;
		if (og_store_open(dir, &o, &st, err, sizeof(err)) != 0)
			_exit(2);
		/* one thread at a time, until one finds the table full */
		while (!__atomic_load_n(&holder_full, __ATOMIC_ACQUIRE)) {
			if (pthread_create(&th, NULL, holder, st) != 0)
				_exit(4);
			while (!__atomic_load_n(&holder_done, __ATOMIC_ACQUIRE))
				usleep(1000);
			__atomic_store_n(&holder_done, 0, __ATOMIC_RELEASE);
		}
		for (;;)
			pause();
	}
	close(p[1]);
	/* until the table is full (a thread could not get a slot) */
	while (c == 'y' && n < 1000 && read(p[0], &c, 1) == 1)
		n++;
	assert_int_equal(c, 'n');
	o.flags = 0;
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(p[0]);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	og_store_rend(tx);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static int counting_stop;

/* What a daemon's threads do: count sends, read them, flush. */
static void *
counter(void *arg)
{
	og_store *st = arg;
	const char *keys[1] = {"ana@example.com"};
	int64_t times[32];
	og_rtxn *tx;
	intptr_t rc = 0;
	int n;

	while (rc == 0 && !__atomic_load_n(&counting_stop, __ATOMIC_ACQUIRE)) {
		rc = og_store_count_sends(st, keys, 1, "news", 1700000000);
		if (rc == 0 && (rc = og_store_rbegin(st, &tx)) == 0) {
			rc = og_store_get_sends(
			    tx, keys[0], "news", times, 32, &n);
			og_store_rend(tx);
		}
		if (rc == 0)
			rc = og_store_sync_counters(st);
	}
	return (void *)rc;
}

/*
 * rm -rf of the counters under threads that count, read and flush: each
 * check switches them to new counters between their transactions, and
 * a process that opens the store afterwards sees what they count.
 */
static void
test_counters_removed_under_threads(void **state)
{
	char dir[] = "/tmp/og-store-krm.XXXXXX", err[512], cmd[600];
	og_store_opts o = {0, 0, 64, OG_STORE_CREATE, NULL};
	const char *keys[1] = {"bob@example.com"};
	int64_t times[32];
	og_store *st, *st2;
	og_rtxn *tx;
	pthread_t th[3];
	void *ret;
	int i, round, n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(og_store_counters_check(st), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, counter, st), 0);
	for (round = 0; round < 20; round++) {
		usleep(5000);
		snprintf(cmd, sizeof(cmd), "rm -rf %s/counters", dir);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(og_store_counters_check(st), 1);
		assert_int_equal(og_store_counters_check(st), 0);
	}
	__atomic_store_n(&counting_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		if ((intptr_t)ret != 0)
			fail_msg("thread %d: %s", i,
			    og_strerror((int)(intptr_t)ret));
	}
	assert_int_equal(
	    og_store_count_sends(st, keys, 1, "news", 1700000000), 0);
	o.flags = 0;
	assert_int_equal(og_store_open(dir, &o, &st2, err, sizeof(err)), 0);
	assert_int_equal(og_store_rbegin(st2, &tx), 0);
	assert_int_equal(
	    og_store_get_sends(tx, keys[0], "news", times, 32, &n), 0);
	og_store_rend(tx);
	assert_int_equal(n, 1);
	og_store_close(st2);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static int reading_stop;

/* What policyd's and unsubd's threads do: read an address, again. */
static void *
consent_reader(void *arg)
{
	og_store *st = arg;
	og_record *rec = malloc(sizeof(*rec));
	og_rtxn *tx;
	intptr_t rc = 0;

	while (rc == 0 && !__atomic_load_n(&reading_stop, __ATOMIC_ACQUIRE)) {
		if ((rc = og_store_rbegin(st, &tx)) == 0) {
			rc = og_store_get(tx, "ana@example.com", rec);
			og_store_rend(tx);
		}
	}
	free(rec);
	return (void *)rc;
}

/* KEY's state for stream news in the store st has open (0: none). */
static int
news_state(og_store *st, const char *key)
{
	og_record *rec = malloc(sizeof(*rec));
	og_rtxn *tx;
	int i, s = 0;

	assert_int_equal(og_store_rbegin(st, &tx), 0);
	if (og_store_get(tx, key, rec) == 0)
		for (i = 0; i < rec->nentries; i++)
			if (rec->entries[i].scope == OG_SCOPE_STREAM &&
			    strcmp(rec->entries[i].name, "news") == 0)
				s = rec->entries[i].state;
	og_store_rend(tx);
	free(rec);
	return s;
}

static int
change(og_store *st, const char *key, int kind, int state, int64_t t)
{
	og_change ch;
	int res = 0, rc;

	memset(&ch, 0, sizeof(ch));
	ch.key = key;
	ch.kind = (uint8_t)kind;
	ch.scope = OG_SCOPE_STREAM;
	ch.name = "news";
	ch.state = (uint8_t)state;
	ch.time = t;
	ch.via = OG_VIA_ADMIN;
	rc = og_store_apply(st, &ch, 1, &res);
	return rc != 0 ? rc : res;
}

/*
 * Consent restored (a backup moved in) under threads that read: each
 * check, or the next write, switches them to it between transactions;
 * what is written after lands where a process opening the store now
 * looks.  Another store put there (its secret differs) is not followed:
 * writes are refused, reads go on in the old one.
 */
static void
test_consent_replaced_under_threads(void **state)
{
	char dir[] = "/tmp/og-store-crp.XXXXXX", err[512], cmd[600];
	char bk[128], from[256], to[256], key[64];
	og_store_opts o = {0, 0, 64, OG_STORE_CREATE, NULL};
	og_store *st, *st2, *other;
	pthread_t th[3];
	void *ret;
	int i, round;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(change(st, "ana@example.com", OG_EV_OPTIN,
	                     OG_ST_CONFIRMED, 1700000000),
	    OG_APPLIED);
	assert_int_equal(og_store_consent_check(st), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, consent_reader, st), 0);
	for (round = 0; round < 10; round++) {
		usleep(5000);
		snprintf(bk, sizeof(bk), "%s/bk%d", dir, round);
		assert_int_equal(
		    og_store_copy(st, bk, NULL, err, sizeof(err)), 0);
		snprintf(from, sizeof(from), "%s/consent", dir);
		snprintf(to, sizeof(to), "%s/old%d", dir, round);
		assert_int_equal(rename(from, to), 0);
		snprintf(to, sizeof(to), "%s/bk%d/consent", dir, round);
		assert_int_equal(rename(to, from), 0);
		snprintf(key, sizeof(key), "r%d@example.com", round);
		if (round % 2 == 0) {
			/* a daemon's timer */
			assert_int_equal(og_store_consent_check(st), 1);
		} else {
			/* unsubd's committer: the write follows first */
			assert_int_equal(change(st, key, OG_EV_OPTOUT,
			                     OG_ST_OPTOUT, 1700000000 + round),
			    OG_APPLIED);
		}
		assert_int_equal(og_store_consent_check(st), 0);
	}
	__atomic_store_n(&reading_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		if ((intptr_t)ret != 0)
			fail_msg("thread %d: %s", i,
			    og_strerror((int)(intptr_t)ret));
	}
	/* what the writes after each restore wrote is where others look */
	o.flags = 0;
	assert_int_equal(og_store_open(dir, &o, &st2, err, sizeof(err)), 0);
	for (round = 1; round < 10; round += 2) {
		snprintf(key, sizeof(key), "r%d@example.com", round);
		assert_int_equal(news_state(st2, key), OG_ST_OPTOUT);
	}
	og_store_close(st2);

	/* another store moved in: not followed, writes refused */
	snprintf(bk, sizeof(bk), "%s-other", dir);
	o.flags = OG_STORE_CREATE;
	assert_int_equal(og_store_open(bk, &o, &other, err, sizeof(err)), 0);
	og_store_close(other);
	snprintf(from, sizeof(from), "%s/consent", dir);
	snprintf(to, sizeof(to), "%s/old-last", dir);
	assert_int_equal(rename(from, to), 0);
	snprintf(to, sizeof(to), "%s/consent", bk);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(og_store_consent_check(st), OG_EREPLACED);
	assert_int_equal(change(st, "bob@example.com", OG_EV_OPTOUT,
	                     OG_ST_OPTOUT, 1700000100),
	    OG_EREPLACED);
	assert_int_equal(news_state(st, "ana@example.com"), OG_ST_CONFIRMED);
	/* the store put back: followed again */
	assert_int_equal(rename(from, to), 0);
	snprintf(to, sizeof(to), "%s/old-last", dir);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(change(st, "bob@example.com", OG_EV_OPTOUT,
	                     OG_ST_OPTOUT, 1700000100),
	    OG_APPLIED);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, bk);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ended_threads_give_back_reader_slots),
	    cmocka_unit_test(test_slots_of_killed_process_cleared),
	    cmocka_unit_test(test_counters_removed_under_threads),
	    cmocka_unit_test(test_consent_replaced_under_threads),
	};

	og_log_open("og_store_threads_test", OG_LOG_STDERR);
	return cmocka_run_group_tests_name(
	    "og_store_threads", tests, NULL, NULL);
}
