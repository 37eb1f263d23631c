/*
 * og_faultfs.c - an LD_PRELOAD shim for tests only: disk errors on the
 * store's files, on demand, with no hook in optgate itself.
 *
 *   OG_FAULT_FILE=/consent/data.mdb   the files it acts on (path suffix)
 *   OG_FAULT=/tmp/x/fault             a file: while it exists, its first
 *                                     word says what fails:
 *     meta   pwrite(2) over the first two pages (LMDB's meta pages): EIO
 *     write  every pwrite/write/writev: EIO
 *     sync   fsync/fdatasync: EIO (and msync of any map)
 *     pause N  lets N meta-page writes (commits) through, then holds
 *            each later one until the file is gone (20 s at most),
 *            after making OG_FAULT.paused to say so
 *     truncate  holds each ftruncate(2) of the files (LMDB's setting of
 *            the file to a writable map: mdb_env_open, mdb_env_set_mapsize)
 *            until the file is gone (20 s at most), after making
 *            OG_FAULT.truncating to say so
 *     header  holds each pread(2) of the meta pages through a
 *            descriptor open for writing (LMDB's mdb_env_open reading
 *            them after it set up lock.mdb; optgate's own checks read
 *            them read-only) until the file is gone (20 s at most),
 *            after making OG_FAULT.header to say so
 *
 * Each call to a shimmed function on another file, or while OG_FAULT does
 * not exist, goes to libc unchanged.  Built by tests/module.mk, never
 * installed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define META_END 8192 /* two 4 KiB pages: LMDB's meta pages */

static void *
next_fn(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* Is fd one of OG_FAULT_FILE's files? */
static int
ours(int fd)
{
	const char *suf = getenv("OG_FAULT_FILE");
	char link[64], path[4096];
	ssize_t n;
	size_t ls;

	if (suf == NULL || *suf == 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return 0;
	path[n] = 0;
	ls = strlen(suf);
	return (size_t)n >= ls && strcmp(path + n - ls, suf) == 0;
}

/* The fault now in force: 0 none, else its first letter; *arg its number. */
static int
fault_arg(int *arg)
{
	const char *f = getenv("OG_FAULT");
	char word[16];
	FILE *fp;
	int e = errno, c = 0;

	*arg = 0;
	if (f == NULL || (fp = fopen(f, "re")) == NULL) {
		errno = e;
		return 0;
	}
	if (fscanf(fp, "%15s %d", word, arg) >= 1)
		c = word[0];
	fclose(fp);
	errno = e;
	return c;
}

static int
fault(void)
{
	int arg;

	return fault_arg(&arg);
}

/* Say "held" in OG_FAULT.what, then wait while fault c lasts (20 s). */
static void
hold(const char *what, int c)
{
	char path[4200];
	int i, arg, e = errno;
	FILE *fp;

	snprintf(path, sizeof(path), "%s.%s", getenv("OG_FAULT"), what);
	if ((fp = fopen(path, "we")) != NULL)
		fclose(fp);
	for (i = 0; i < 2000 && fault_arg(&arg) == c; i++)
		usleep(10000);
	errno = e;
}

/* pause N: the meta-page writes past the Nth wait while the fault lasts. */
static void
pause_meta(int n)
{
	static int seen;

	if (++seen > n)
		hold("paused", 'p');
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	int arg, f = fault_arg(&arg);

	if (real == NULL)
		real = (ssize_t(*)(int, const void *, size_t, off_t))next_fn(
		    "pwrite");
	if ((f == 'w' || (f == 'm' && off < META_END)) && ours(fd)) {
		errno = EIO;
		return -1;
	}
	if (f == 'p' && off < META_END && ours(fd))
		pause_meta(arg);
	return real(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (real == NULL)
		real = (ssize_t(*)(int, const void *, size_t))next_fn("write");
	if (fd > 2 && fault() == 'w' && ours(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (real == NULL)
		real = (ssize_t(*)(int, const struct iovec *, int))next_fn(
		    "writev");
	if (fault() == 'w' && ours(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd, iov, n);
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		real = (int (*)(int))next_fn("fsync");
	if (fault() == 's' && ours(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		real = (int (*)(int))next_fn("fdatasync");
	if (fault() == 's' && ours(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
ftruncate(int fd, off_t len)
{
	static int (*real)(int, off_t);

	if (real == NULL)
		real = (int (*)(int, off_t))next_fn("ftruncate");
	if (fault() == 't' && ours(fd))
		hold("truncating", 't');
	return real(fd, len);
}

int
ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

int
msync(void *addr, size_t len, int flags)
{
	static int (*real)(void *, size_t, int);

	if (real == NULL)
		real = (int (*)(void *, size_t, int))next_fn("msync");
	if (fault() == 's') {
		errno = EIO;
		return -1;
	}
	return real(addr, len, flags);
}

/* header: the meta pages read by LMDB (its descriptor is open O_RDWR). */
ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (real == NULL)
		real = (ssize_t(*)(int, void *, size_t, off_t))next_fn("pread");
	if (off < META_END && fault() == 'h' && ours(fd) &&
	    (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR)
		hold("header", 'h');
	return real(fd, buf, n, off);
}

ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}
