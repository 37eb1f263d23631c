/*
 * og_testfx.h - the temporary store the C tests share (header only, for
 * tests: never linked into a program).
 *
 *   og_testfx_open(dir, sizeof(dir), "name", &st)   mkdtemp /tmp/name.XXXXXX
 *                                                   and create a store there
 *   og_testfx_close(dir, st)                        close it (st may be NULL),
 *                                                   remove the folder
 *
 * Both return 0, or -1 after saying why on stderr (cmocka setup/teardown
 * results).
 *
 *   og_testfx_change(key, kind, scope, name, state, t)   an admin change
 *   og_testfx_apply(st, ch)     apply one change (asserting the call
 *                               worked), its per-change result
 *   og_testfx_refuses_links(give, path, target)
 *                               a symbolic, then a hard link at path to
 *                               target (a file root owns) is refused by
 *                               give(path, uid, gid) with OG_EINVAL, and
 *                               target keeps its owner (root only)
 *
 * Include after <cmocka.h>.
 */
#ifndef OG_TESTFX_H
#define OG_TESTFX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "og_err.h"
#include "og_store.h"

static inline int
og_testfx_open(char *dir, size_t size, const char *name, og_store **st)
{
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	char err[512];

	snprintf(dir, size, "/tmp/%s.XXXXXX", name);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	if (og_store_open(dir, &o, st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", dir, err);
		return -1;
	}
	return 0;
}

static inline int
og_testfx_close(const char *dir, og_store *st)
{
	char cmd[160];

	if (st != NULL)
		og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline og_change
og_testfx_change(const char *key, int kind, int scope, const char *name,
    int state, int64_t t)
{
	og_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.key = key;
	ch.kind = (uint8_t)kind;
	ch.scope = (uint8_t)scope;
	ch.name = name;
	ch.state = (uint8_t)state;
	ch.time = t;
	ch.via = OG_VIA_ADMIN;
	return ch;
}

static inline int
og_testfx_apply(og_store *st, og_change ch)
{
	int res = -1;

	assert_int_equal(og_store_apply(st, &ch, 1, &res), 0);
	return res;
}

static inline void
og_testfx_refuses_links(int (*give)(const char *, uid_t, gid_t),
    const char *path, const char *target)
{
	struct stat sb;

	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(give(path, 65534, 65534), OG_EINVAL);
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(link(target, path), 0);
	assert_int_equal(give(path, 65534, 65534), OG_EINVAL);
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(unlink(path), 0);
}

#endif
