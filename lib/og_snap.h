/*
 * og_snap.h - a daemon's configuration as one refcounted, immutable
 * snapshot (config + keyring), and the cell a reload swaps it in.
 *
 * Threads pin the current snapshot for as long as they use it (a request,
 * a connection): og_snap_get() / og_snap_put().  A reload loads a new one
 * with og_snap_load() and publishes it with og_snap_set(); users of the
 * old one keep it until they put it.  The last put frees it.
 */
#ifndef OG_SNAP_H
#define OG_SNAP_H

#include <pthread.h>

#include "og_config.h"
#include "og_token.h"

typedef struct og_snap {
	int refs; /* atomic */
	og_config *cfg;
	og_keyring *kr; /* NULL when no keys file is needed and none loads */
} og_snap;

typedef struct og_snap_cell {
	pthread_mutex_t lock;
	og_snap *cur;
} og_snap_cell;

#define OG_SNAP_CELL_INIT                                                      \
	{                                                                      \
		PTHREAD_MUTEX_INITIALIZER, NULL                                \
	}

/* Keys: always required, or only when a stream makes tokens (list). */
enum { OG_SNAP_KEYS = 1, OG_SNAP_KEYS_IF_LISTS = 2 };

/*
 * og_snap_load - the config at path (NULL: the default) and its keys file
 * per keys.  Errors are logged (each config error with FILE:LINE) and give
 * NULL.
 */
og_snap *og_snap_load(const char *path, int keys);

/*
 * og_snap_keys_log - at a reload from old to s, log what changed in the
 * keys: the key that signs from now on, the keys no longer in the file,
 * and a warning when the key that signed until now is one of them (the
 * links in mail it signed stop verifying).
 */
void og_snap_keys_log(const og_snap *old, const og_snap *s);

/* Pin the current snapshot of c (one must have been set). */
og_snap *og_snap_get(og_snap_cell *c);

/* Drop a pin (or the loader's reference); NULL is fine. */
void og_snap_put(og_snap *s);

/* Publish s (its reference goes to c) and drop c's old one. NULL: empty c. */
void og_snap_set(og_snap_cell *c, og_snap *s);

#endif
