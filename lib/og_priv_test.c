/*
 * og_priv_test.c - og_priv_drop in a child process each: after it the
 * process is the user, with the user's groups only, and cannot get root
 * back; a user that does not exist is an error that changes nothing.
 * Needs root (make check runs as root); skipped otherwise.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "og_err.h"
#include "og_priv.h"
#include "og_testfx.h"

/* Run fn in a child; returns its exit status (0: all its checks held). */
static int
in_child(int (*fn)(void))
{
	pid_t p = fork();
	int st;

	assert_true(p >= 0);
	if (p == 0)
		_exit(fn());
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int
child_drop_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");
	gid_t groups[64];
	char err[256] = "";
	int n, i;

	if (pw == NULL)
		return 10;
	/* Root's extra groups must not survive the drop. */
	if (setgroups(1, &(gid_t){0}) != 0)
		return 11;
	if (og_priv_drop("test", "nobody", err, sizeof(err)) != 0)
		return 12;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return 13;
	n = getgroups(64, groups);
	for (i = 0; i < n; i++)
		if (groups[i] == 0)
			return 14;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 15;
	return 0;
}

static int
child_no_such_user(void)
{
	char err[256] = "";

	if (og_priv_drop("test", "no-such-user-optgate", err, sizeof(err)) !=
	    OG_EINVAL)
		return 20;
	if (strstr(err, "[test] user: no such user: no-such-user-optgate") ==
	    NULL)
		return 21;
	if (geteuid() != 0) /* nothing changed */
		return 22;
	return 0;
}

static int
child_no_user_stays(void)
{
	char err[256] = "";

	if (og_priv_drop("test", "", err, sizeof(err)) != 0 || geteuid() != 0)
		return 30;
	return 0;
}

/* user = root: refused with the reason, not "could get root back" */
static int
child_root_refused(void)
{
	char err[256] = "";

	if (og_priv_drop("test", "root", err, sizeof(err)) != OG_EINVAL)
		return 40;
	if (strstr(err, "[test] user: root has user id 0 (root)") == NULL)
		return 41;
	return 0;
}

static void
test_drop(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(child_drop_nobody), 0);
	assert_int_equal(in_child(child_no_such_user), 0);
	assert_int_equal(in_child(child_no_user_stays), 0);
	assert_int_equal(in_child(child_root_refused), 0);
}

/*
 * A daemon's unix socket is made by root in a folder its user may own
 * (/var/spool/postfix/optgate): that user may swap the socket for a link
 * before root gives it away, and must not get the file the link names.
 */
static void
test_chown_socket(void **state)
{
	char dir[] = "/tmp/og-sock.XXXXXX", sp[64], q[64];
	struct sockaddr_un sun;
	struct stat sb;
	int fd, s;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(q, sizeof(q), "%s/precious", dir);
	fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(sp, sizeof(sp), "%s/milter.sock", dir);

	og_testfx_refuses_links(og_priv_chown_socket, sp, q);

	/* the socket itself is given */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sp);
	assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(og_priv_chown_socket(sp, 65534, 65534), 0);
	assert_int_equal(lstat(sp, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(sb.st_gid, 65534);
	close(s);
	assert_int_equal(unlink(sp), 0);
	assert_int_equal(unlink(q), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drop),
	    cmocka_unit_test(test_chown_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
