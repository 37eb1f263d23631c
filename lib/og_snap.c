/*
 * og_snap.c - refcounted config + keyring snapshots (og_snap.h).
 */
#include <stdlib.h>

#include "og_buf.h"
#include "og_err.h"
#include "og_log.h"
#include "og_snap.h"

/* Each config error is logged once, with its FILE:LINE. */
static void
report(const char *msg, void *ctx)
{
	(*(int *)ctx)++;
	og_log_err("%s", msg);
}

og_snap *
og_snap_load(const char *path, int keys)
{
	char err[512] = "";
	og_config *cfg = NULL;
	og_keyring *kr = NULL;
	og_snap *s;
	int i, rc, need = keys == OG_SNAP_KEYS, reported = 0;

	if ((rc = og_config_load(
	         path, &cfg, err, sizeof(err), report, &reported)) != 0) {
		if (reported == 0)
			og_log_err("%s", err[0] ? err : og_strerror(rc));
		return NULL;
	}
	for (i = 0; !need && i < cfg->nstreams; i++)
		if (cfg->streams[i].list)
			need = 1;
	if (cfg->keys_file != NULL && cfg->keys_file[0] != '\0') {
		rc = og_keyring_load(cfg->keys_file, &kr, err, sizeof(err));
		if (rc != 0 && need) {
			if (err[0])
				og_log_err("keys: %s", err);
			else
				og_log_err("keys: %s: %s", cfg->keys_file,
				    og_strerror(rc));
			og_config_unref(cfg);
			return NULL;
		}
		if (rc != 0)
			kr = NULL;
	} else if (need) {
		og_log_err("no [keys] file: needed for tokens");
		og_config_unref(cfg);
		return NULL;
	}
	s = og_xcalloc(1, sizeof(*s));
	s->refs = 1;
	s->cfg = cfg;
	s->kr = kr;
	return s;
}

og_snap *
og_snap_get(og_snap_cell *c)
{
	og_snap *s;

	pthread_mutex_lock(&c->lock);
	s = c->cur;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&c->lock);
	return s;
}

void
og_snap_put(og_snap *s)
{
	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	og_config_unref(s->cfg);
	if (s->kr != NULL)
		og_keyring_free(s->kr);
	free(s);
}

void
og_snap_set(og_snap_cell *c, og_snap *s)
{
	og_snap *old;

	pthread_mutex_lock(&c->lock);
	old = c->cur;
	c->cur = s;
	pthread_mutex_unlock(&c->lock);
	og_snap_put(old);
}
