/*
 * og_priv.h - dropping root for a daemon's configured user.
 *
 * The daemons bind their sockets as root, then become [SECTION] user:
 * primary group and the user's supplementary groups (initgroups(3), so a
 * mail admin can give optgate a socket or store folder by group), real
 * and effective ids, and a check that root cannot be regained.
 */
#ifndef OG_PRIV_H
#define OG_PRIV_H

#include <stddef.h>
#include <sys/types.h>

/*
 * og_priv_drop - become user (for section's error texts).  Not root:
 * nothing changes (a warning when the process is not user).  Root and
 * no user: stays root with a warning.  Returns 0, or OG_EINVAL (no such
 * user) / OG_EIO (a set*id call failed) with err filled.
 */
int og_priv_drop(
    const char *section, const char *user, char *err, size_t errlen);

/*
 * og_priv_chown_socket - give the unix socket root just bound at path to
 * uid:gid (-1: unchanged), never through a link: its folder may be the
 * daemon user's, who could have put a link to any file in its place.
 * Returns 0, OG_EINVAL (not a socket of one name: nothing changed),
 * OG_EIO (errno says why).
 */
int og_priv_chown_socket(const char *path, uid_t uid, gid_t gid);

#endif
