/*
 * og_snap_test.c - config snapshots: what a load needs (keys for list
 * streams, always with OG_SNAP_KEYS), and that a snapshot pinned by a
 * user survives a reload until that user puts it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "og_snap.h"
#include "og_token.h"

static char dir[64];

static void
put_file(const char *name, const char *text, mode_t mode)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

/* A config with keys file KEYS (relative to dir) and STREAM's lines. */
static const char *
conf(const char *name, const char *keys, const char *stream)
{
	static char path[128];
	char text[512];

	snprintf(text, sizeof(text),
	    "[store]\npath = %s/store\n[keys]\nfile = %s/%s\n"
	    "[stream s]\nmatch = sender:s@example.com\n%s",
	    dir, dir, keys, stream);
	put_file(name, text, 0644);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int
setup(void **state)
{
	char line[128];

	snprintf(dir, sizeof(dir), "/tmp/og_snap_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (og_keygen_line(1, line, sizeof(line)) != 0)
		return -1;
	put_file("keys", line, 0600);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_keys_needed(void **state)
{
	const char *list = "unsubscribe = https://u.example/%t\n";
	og_snap *s;

	/* A list stream makes tokens: a missing keys file is an error. */
	assert_null(og_snap_load(
	    conf("a.conf", "nokeys", list), OG_SNAP_KEYS_IF_LISTS));
	/* Without list streams the milter runs without keys... */
	s = og_snap_load(conf("b.conf", "nokeys", ""), OG_SNAP_KEYS_IF_LISTS);
	assert_non_null(s);
	assert_null(s->kr);
	og_snap_put(s);
	/* ... but unsubd (OG_SNAP_KEYS) never does. */
	assert_null(og_snap_load(conf("c.conf", "nokeys", ""), OG_SNAP_KEYS));
	/* With the keys file both load, with the keyring. */
	s = og_snap_load(conf("d.conf", "keys", list), OG_SNAP_KEYS);
	assert_non_null(s);
	assert_non_null(s->kr);
	assert_int_equal(og_keyring_signing_id(s->kr), 1);
	og_snap_put(s);
	/* A config that does not parse. */
	{
		char path[128];

		put_file("bad.conf", "[stream\n", 0644);
		snprintf(path, sizeof(path), "%s/bad.conf", dir);
		assert_null(og_snap_load(path, OG_SNAP_KEYS_IF_LISTS));
	}
}

static void
test_pinned_survives_reload(void **state)
{
	og_snap_cell cell = OG_SNAP_CELL_INIT;
	og_snap *a, *b, *pin;

	a = og_snap_load(conf("a1.conf", "keys", ""), OG_SNAP_KEYS);
	b = og_snap_load(
	    conf("b1.conf", "keys", "consent = optin\n"), OG_SNAP_KEYS);
	assert_non_null(a);
	assert_non_null(b);
	og_snap_set(&cell, a);
	pin = og_snap_get(&cell);
	assert_ptr_equal(pin, a);
	og_snap_set(&cell, b); /* the reload */
	/* The pinned one is still whole (ASan would see a use after free). */
	assert_string_equal(pin->cfg->streams[0].name, "s");
	assert_non_null(pin->kr);
	og_snap_put(pin);
	pin = og_snap_get(&cell);
	assert_ptr_equal(pin, b);
	og_snap_put(pin);
	og_snap_set(&cell, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_needed),
	    cmocka_unit_test(test_pinned_survives_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
