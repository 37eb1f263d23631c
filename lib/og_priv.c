/*
 * og_priv.c - dropping root for a daemon's configured user, and giving
 * it the sockets root made (og_priv.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "og_err.h"
#include "og_log.h"
#include "og_priv.h"

int
og_priv_drop(const char *section, const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL || *user == '\0') {
		if (geteuid() == 0)
			og_log_warn("running as root: set [%s] user", section);
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(
		    err, errlen, "[%s] user: no such user: %s", section, user);
		return OG_EINVAL;
	}
	/* Dropping "to" root drops nothing: say so, not "could get root
	 * back" below. */
	if (pw->pw_uid == 0) {
		snprintf(err, errlen,
		    "[%s] user: %s has user id 0 (root): name an unprivileged "
		    "user, or leave user out to run as root",
		    section, user);
		return OG_EINVAL;
	}
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			og_log_warn("not root: running as uid %ld, not as %s",
			    (long)geteuid(), user);
		return 0;
	}
	if (setgroups(0, NULL) != 0 || initgroups(user, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(
		    err, errlen, "cannot become %s: %s", user, strerror(errno));
		return OG_EIO;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(
		    err, errlen, "could get root back after becoming %s", user);
		return OG_EIO;
	}
	og_log_info("running as %s", user);
	return 0;
}

/*
 * A socket cannot be opened for fchown(2): lchown then, which changes a
 * link put there later, never the file it names.  A hard link to
 * another file is refused (one name); one made between the lstat and
 * the lchown needs protected_hardlinks off and that window.
 */
int
og_priv_chown_socket(const char *path, uid_t uid, gid_t gid)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return OG_EIO;
	if (!S_ISSOCK(sb.st_mode) || sb.st_nlink != 1)
		return OG_EINVAL;
	if (lchown(path, uid, gid) != 0)
		return OG_EIO;
	return 0;
}
