/*
 * og_bench.c - store benchmarks for `make bench`.
 *
 *   og_bench load DIR N       load N addresses through og_store_apply
 *                             (batches, one opt-in event each)
 *   og_bench gate DIR N T S   gate decisions over random addresses of the
 *                             N loaded, T threads, S seconds measured
 *                             after S seconds of warm-up
 *   og_bench raw DIR N T S    the LMDB floor: mdb_get of the same keys in
 *                             the same kind of per-lookup read transaction
 *   og_bench sends DIR N      count a send for every tenth address
 *   og_bench open DIR N       time one og_store_open + close (the first
 *                             open walks the counters: see store.sh)
 *
 * Each prints one line "key=value ..." that tests/bench/store.sh turns into
 * the table.  Loops are bounded in count and time.
 */
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_addr.h"

#include "og_buf.h"
#include "og_config.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_log.h"
#include "og_store.h"

static long
rss_anon_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "RssAnon: %ld", &v) == 1)
			break;
	fclose(fp);
	return v;
}

static uint64_t
disk_bytes(const char *dir)
{
	char p[4200];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/consent/data.mdb", dir);
	if (stat(p, &sb) != 0)
		return 0;
	return (uint64_t)sb.st_blocks * 512;
}

static int
load(const char *dir, uint64_t n)
{
	og_store_opts o = {
	    64ULL << 30, 0, 0, OG_STORE_CREATE | OG_STORE_BULK, NULL};
	enum { B = 20000 };
	og_change *ch = og_xcalloc(B, sizeof(*ch));
	char(*keys)[96] = og_xcalloc(B, 96);
	og_store *st;
	char err[512];
	uint64_t i = 0, j;
	long rss, maxrss = 0, rss_first = -1;
	double t0, t;

	if (og_store_open(dir, &o, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now_s();
	while (i < n) {
		size_t m = 0;

		for (j = 0; j < B && i < n; j++, i++, m++) {
			/* insert in a scattered order, as real lists come */
			uint64_t k = mix(i) % n;

			(void)k;
			addr(i, keys[m], sizeof(keys[m]));
			memset(&ch[m], 0, sizeof(ch[m]));
			ch[m].key = keys[m];
			ch[m].kind = OG_EV_OPTIN;
			ch[m].scope = OG_SCOPE_STREAM;
			ch[m].name = "news";
			ch[m].state = OG_ST_CONFIRMED;
			ch[m].via = OG_VIA_IMPORT;
			ch[m].time = 1790000000 + (int64_t)(i % 86400);
			ch[m].f[OG_EVF_SOURCE] = "signup";
			ch[m].f[OG_EVF_IP] = "198.51.100.23";
			ch[m].flags = OG_CH_IF_NEWER;
		}
		if (og_store_apply(st, ch, m, NULL) != 0) {
			fprintf(stderr, "apply failed at %llu\n",
			    (unsigned long long)i);
			return 1;
		}
		rss = rss_anon_kb();
		if (rss_first < 0)
			rss_first = rss;
		if (rss > maxrss)
			maxrss = rss;
	}
	t = now_s() - t0;
	og_store_close(st);
	printf("load n=%llu seconds=%.2f rate=%.0f bytes_per_addr=%.1f "
	       "rss_anon_first_kb=%ld rss_anon_max_kb=%ld\n",
	    (unsigned long long)n, t, n / t, (double)disk_bytes(dir) / n,
	    rss_first, maxrss);
	free(ch);
	free(keys);
	return 0;
}

struct targ {
	int raw;
	uint64_t n, done;
	double secs, warm, took;
	unsigned seed;
	og_store *st;
	og_config *cfg;
	MDB_env *env;
	MDB_dbi dbi;
	uint64_t accepted;
};

static void *
worker(void *p)
{
	struct targ *a = p;
	const og_stream *s = a->cfg ? og_config_stream(a->cfg, "news") : NULL;
	uint64_t x = a->seed, it, start = 0;
	double t0 = now_s(), tm = 0;
	int warming = a->warm > 0;
	MDB_txn *txn = NULL;
	char key[128];

	/*
	 * A warm-up first: a fresh process maps the store anew, and the
	 * first touch of each page is a fault that a running daemon has
	 * long paid.  Both sides of the comparison get the same warm-up.
	 */
	for (it = 0; it < 400000000ULL; it++) {
		uint64_t i;

		if ((it & 1023) == 0) {
			double t = now_s();

			if (warming && t - t0 > a->warm) {
				warming = 0;
				start = it;
				tm = t;
				a->accepted = 0;
			} else if (!warming && t - (tm ? tm : t0) > a->secs) {
				break;
			}
		}
		x = mix(x);
		i = x % a->n;
		if (a->raw) {
			unsigned char kb[130];
			MDB_val k, v;
			size_t l;

			addr(i, key, sizeof(key));
			l = strlen(key);
			kb[0] = 'A';
			memcpy(kb + 1, key, l);
			k.mv_size = l + 1;
			k.mv_data = kb;
			if (txn == NULL)
				mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
			else
				mdb_txn_renew(txn);
			if (mdb_get(txn, a->dbi, &k, &v) == 0 && v.mv_size > 0)
				a->accepted++;
			mdb_txn_reset(txn);
		} else {
			og_rtxn *tx;
			og_verdict v;

			addr(i, key, sizeof(key));
			if (og_store_rbegin(a->st, &tx) != 0)
				break;
			og_gate_decide(a->cfg, tx, s, "news@example.com", key,
			    1790100000, &v);
			og_store_rend(tx);
			if (v.action == OG_ACCEPT)
				a->accepted++;
		}
	}
	if (txn)
		mdb_txn_abort(txn);
	a->done = it - start;
	a->took = now_s() - (tm ? tm : t0);
	return NULL;
}

static int
run(int raw, const char *dir, uint64_t n, int threads, double secs)
{
	struct targ a[16];
	pthread_t th[16];
	og_store *st = NULL;
	og_config *cfg = NULL;
	MDB_env *env = NULL;
	MDB_dbi dbi = 0;
	char err[512];
	uint64_t total = 0, acc = 0;
	double rate = 0, t = 0;
	int i;

	if (threads < 1 || threads > 16)
		return 2;
	if (raw) {
		MDB_txn *txn;
		char p[4200];

		snprintf(p, sizeof(p), "%s/consent", dir);
		mdb_env_create(&env);
		mdb_env_set_maxdbs(env, 4);
		mdb_env_set_maxreaders(env, 256);
		if (mdb_env_open(env, p, MDB_RDONLY | MDB_NOTLS, 0640) != 0)
			return 1;
		mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
		mdb_dbi_open(txn, "main", 0, &dbi);
		mdb_txn_commit(txn);
	} else {
		og_store_opts o = {64ULL << 30, 0, 0, 0, NULL};
		const char *conf =
		    "[stream news]\nconsent = confirmed\n"
		    "caps = 2/7d, 1/1d\ncaps.segment.vip = 4/7d\n";

		if (og_store_open(dir, &o, &st, err, sizeof(err)) != 0 ||
		    og_config_parse_string(conf, "bench", &cfg, err,
		        sizeof(err), NULL, NULL) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
	}
	for (i = 0; i < threads; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].raw = raw;
		a[i].n = n;
		a[i].secs = secs;
		a[i].warm = secs;
		a[i].seed = 12345u + (unsigned)i * 7919u;
		a[i].st = st;
		a[i].cfg = cfg;
		a[i].env = env;
		a[i].dbi = dbi;
		pthread_create(&th[i], NULL, worker, &a[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += a[i].done;
		acc += a[i].accepted;
		rate += a[i].done / a[i].took;
		if (a[i].took > t)
			t = a[i].took;
	}
	printf("%s threads=%d ops=%llu seconds=%.2f rate=%.0f found=%llu\n",
	    raw ? "raw" : "gate", threads, (unsigned long long)total, t, rate,
	    (unsigned long long)acc);
	if (env)
		mdb_env_close(env);
	if (st)
		og_store_close(st);
	if (cfg)
		og_config_unref(cfg);
	return 0;
}

/* Count one send for every tenth address, so the caps have data. */
static int
sends(const char *dir, uint64_t n)
{
	og_store_opts o = {64ULL << 30, 0, 0, 0, NULL};
	og_store *st;
	char err[512], key[128];
	const char *k = key;
	uint64_t i;

	if (og_store_open(dir, &o, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (i = 0; i < n; i += 10) {
		addr(i, key, sizeof(key));
		og_store_count_sends(st, &k, 1, "news", 1790000000);
	}
	og_store_close(st);
	return 0;
}

/*
 * One send three days ago for each of the n addresses: the counters of a
 * list mailed weekly (with caps 2/7d, 1/1d the next send passes).  In
 * commits of 50, as optgate-policyd's writer makes them: big commits
 * write long runs, which ext4 caches in large folios, and each later
 * 4 KiB write into one of those costs the daemon's writer several times
 * as much (ext4_block_write_begin walks the folio's blocks).
 */
static int
counted(const char *dir, uint64_t n)
{
	og_store_opts o = {64ULL << 30, 64ULL << 30, 0, 0, NULL};
	static char keys[50][128];
	const char *k[50];
	int64_t when = (int64_t)time(NULL) - 3 * 86400;
	og_store *st;
	char err[512];
	uint64_t i;
	size_t j;
	int rc = 0;

	if (og_store_open(dir, &o, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (i = 0; i < n && rc == 0; i += j) {
		for (j = 0; j < 50 && i + j < n; j++) {
			addr(i + j, keys[j], sizeof(keys[j]));
			k[j] = keys[j];
		}
		rc = og_store_count_sends(st, k, j, "news", when);
	}
	if (rc != 0)
		fprintf(stderr, "counting: %s\n", og_strerror(rc));
	og_store_close(st);
	return rc != 0;
}

/* One open and close; prints the seconds it took. */
static int
open_once(const char *dir)
{
	og_store_opts o = {64ULL << 30, 0, 0, 0, NULL};
	og_store *st;
	struct timespec a, b;
	char err[512];

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (og_store_open(dir, &o, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	og_store_close(st);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf(
	    "open seconds=%.3f\n", (double)(b.tv_sec - a.tv_sec) +
	                               (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t n;

	og_log_open("og_bench", OG_LOG_STDERR);
	if (argc < 4 || og_parse_u64(argv[3], 1ULL << 34, &n) != 0 || n == 0) {
		fprintf(stderr,
		    "usage: og_bench load|sends|counted|open|gate|raw DIR N "
		    "[THREADS SECONDS]\n");
		return 2;
	}
	if (strcmp(argv[1], "load") == 0)
		return load(argv[2], n);
	if (strcmp(argv[1], "sends") == 0)
		return sends(argv[2], n);
	if (strcmp(argv[1], "counted") == 0)
		return counted(argv[2], n);
	if (strcmp(argv[1], "open") == 0)
		return open_once(argv[2]);
	if (argc != 6)
		return 2;
	return run(strcmp(argv[1], "raw") == 0, argv[2], n, atoi(argv[4]),
	    atof(argv[5]));
}
