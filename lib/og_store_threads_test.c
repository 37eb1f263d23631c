/*
 * og_store_threads_test.c - read handles of threads that end.
 *
 * Daemons like optgate-milter (libmilter) run callbacks on threads that
 * come and go.  Each thread's cached read handle holds an LMDB reader
 * slot (MDB_NOTLS, reset transactions keep their slot); a thread that
 * ends must give it back, or after max_readers threads every read fails
 * with MDB_READERS_FULL.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	og_store_opts o = {0, 0, 16, OG_STORE_CREATE};
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ended_threads_give_back_reader_slots),
	};

	og_log_open("og_store_threads_test", OG_LOG_STDERR);
	return cmocka_run_group_tests_name(
	    "og_store_threads", tests, NULL, NULL);
}
