/*
 * og_snap.c - refcounted config + keyring snapshots (og_snap.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	/* Loads, but something in it is ignored: say so at each load. */
	for (i = 0; i < cfg->nwarnings; i++)
		og_log_warn("%s", cfg->warnings[i]);
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

void
og_snap_keys_log(const og_snap *old, const og_snap *s)
{
	char gone[256 * 5] = "";
	size_t n = 0;
	uint8_t was, now;
	int id;

	if (old == NULL || s == NULL || old->kr == NULL || s->kr == NULL)
		return;
	for (id = 1; id < 256; id++)
		if (og_keyring_has(old->kr, (uint8_t)id) &&
		    !og_keyring_has(s->kr, (uint8_t)id))
			n += (size_t)snprintf(gone + n, sizeof(gone) - n,
			    "%s%d", n ? ", " : "", id);
	was = og_keyring_signing_id(old->kr);
	now = og_keyring_signing_id(s->kr);
	if (!og_keyring_has(s->kr, was))
		og_log_warn("keys: key %u, which signed until this reload, "
		            "is not in %s: the unsubscribe links and "
		            "addresses of the mail it signed no longer "
		            "verify (reason=unknown-key); key %u signs",
		    (unsigned)was, s->cfg->keys_file, (unsigned)now);
	else if (was != now)
		og_log_info("keys: key %u signs (was key %u)", (unsigned)now,
		    (unsigned)was);
	if (n > 0 && og_keyring_has(s->kr, was))
		og_log_info("keys: key%s %s no longer in %s: links signed "
		            "with %s fail (reason=unknown-key)",
		    strchr(gone, ',') != NULL ? "s" : "", gone,
		    s->cfg->keys_file,
		    strchr(gone, ',') != NULL ? "them" : "it");
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
