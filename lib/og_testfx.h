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
 */
#ifndef OG_TESTFX_H
#define OG_TESTFX_H

#include <stdio.h>
#include <stdlib.h>

#include "og_store.h"

static inline int
og_testfx_open(char *dir, size_t size, const char *name, og_store **st)
{
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE};
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

#endif
