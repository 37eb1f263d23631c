/*
 * og_log.c - syslog or stderr logging, and og_strerror().
 *
 * Public: og_log_open, og_log_set_verbose, og_log_{debug,info,warn,err,
 * fatal}, og_log_syslog, og_log_sigbus, og_panic, og_strerror.
 * Thread-safety: the sink is chosen once at start; each line is written
 * with one syslog(3) or one fprintf(3) call.
 *
 * Control bytes in a line are written as \xNN, so one call is one line.
 *
 * LIMITS: a line is cut at 2048 bytes.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "og_err.h"
#include "og_log.h"

static int use_stderr = 1;
static int syslog_opened; /* openlog() done: og_log_open or og_log_syslog */
static int to_journal;    /* stderr is systemd's journal stream */
static int verbose;
static char ident[64] = "optgate";
static long pid; /* for stderr lines: a decision logs one each */
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void
pid_forked(void)
{
	pid = (long)getpid();
}

static void
pid_init(void)
{
	pid_forked();
	pthread_atfork(NULL, NULL, pid_forked);
}

void
og_log_open(const char *name, int flags)
{
	snprintf(ident, sizeof(ident), "%s", name);
	pthread_once(&pid_once, pid_init);
	use_stderr = (flags & OG_LOG_STDERR) != 0;
	/*
	 * Under a systemd unit (-f) stderr is the journal, which records the
	 * name and pid itself and reads a "<N>" prefix as the line's priority
	 * (systemd.exec(5): JOURNAL_STREAM names the stream's device:inode).
	 * Our own "name[pid]: " there doubled them in journalctl and mail.log
	 * and every line, errors too, had priority info.
	 */
	to_journal = 0;
	if (use_stderr) {
		const char *js = getenv("JOURNAL_STREAM");
		unsigned long dev, ino;
		struct stat st;

		if (js != NULL && sscanf(js, "%lu:%lu", &dev, &ino) == 2 &&
		    fstat(STDERR_FILENO, &st) == 0 &&
		    (unsigned long)st.st_dev == dev &&
		    (unsigned long)st.st_ino == ino)
			to_journal = 1;
	}
	if (!use_stderr) {
		openlog(ident,
		    LOG_PID | LOG_NDELAY |
		        (flags & OG_LOG_BOTH ? LOG_PERROR : 0),
		    LOG_MAIL);
		syslog_opened = 1;
	}
}

/* Atomic: a daemon's reload thread sets it while workers read it. */
void
og_log_set_verbose(int level)
{
	__atomic_store_n(&verbose, level, __ATOMIC_RELAXED);
}

int
og_log_verbose(void)
{
	return __atomic_load_n(&verbose, __ATOMIC_RELAXED);
}

static void vlog(int prio, const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Control bytes in place, as \xNN: a line is one line whatever a caller
 * passed through %s (peer text with a newline would otherwise end it and
 * start a forged one; a CR or an escape sequence would overwrite it on a
 * terminal).  Text escaped upstream (og_buf_add_escaped) has none, so it
 * is unchanged; so are UTF-8 bytes.  Cut at size - 1 bytes, never in the
 * middle of an escape.
 */
static void
printable(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/*
 * One line to syslog even when the sink is stderr.  Not thread-safe
 * against og_log_open (the CLI calls both from its main thread).  syslog(3)
 * drops the line when /dev/log is missing and sends with MSG_NOSIGNAL, so
 * a command never fails for want of a syslog daemon.
 */
void
og_log_syslog(const char *fmt, ...)
{
	char raw[2048], line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	printable(raw, line, sizeof(line));
	if (!syslog_opened) {
		openlog(ident, LOG_PID, LOG_MAIL);
		syslog_opened = 1;
	}
	syslog(LOG_INFO, "%s", line);
}

static void
vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	char raw[2048], line[2048];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	printable(raw, line, sizeof(line));
	if (use_stderr && to_journal) {
		fprintf(stderr, "<%d>%s%s\n", prio, tag, line);
	} else if (use_stderr) {
		pthread_once(&pid_once, pid_init);
		fprintf(stderr, "%s[%ld]: %s%s\n", ident, pid, tag, line);
	} else {
		syslog(prio, "%s%s", tag, line);
	}
}

#define LOGFN(fn, prio, tag)                                                   \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(prio, tag, fmt, ap);                                      \
		va_end(ap);                                                    \
	}

LOGFN(og_log_info, LOG_INFO, "")
LOGFN(og_log_warn, LOG_WARNING, "warning: ")
LOGFN(og_log_err, LOG_ERR, "error: ")

void
og_log_debug(const char *fmt, ...)
{
	va_list ap;

	if (og_log_verbose() < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void
og_log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void
og_log_fatal_now(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	fflush(stderr); /* policyd buffers it */
	_exit(1);
}

static const char *sigbus_what;

/* Appends S to B (size N) at *o; async-signal-safe. */
static void
add_str(char *b, size_t n, size_t *o, const char *s)
{
	while (*s != '\0' && *o + 1 < n)
		b[(*o)++] = *s++;
}

static void
on_sigbus(int sig)
{
	char line[512], num[24];
	size_t o = 0, k = sizeof(num);
	long p = pid;
	ssize_t w;

	if (use_stderr) {
		if (to_journal) {
			add_str(line, sizeof(line), &o, "<2>");
		} else {
			num[--k] = '\0';
			do
				num[--k] = (char)('0' + p % 10);
			while ((p /= 10) > 0 && k > 0);
			add_str(line, sizeof(line), &o, ident);
			add_str(line, sizeof(line), &o, "[");
			add_str(line, sizeof(line), &o, num + k);
			add_str(line, sizeof(line), &o, "]: ");
		}
		add_str(line, sizeof(line), &o, "fatal: ");
		add_str(line, sizeof(line), &o, sigbus_what);
		line[o++] = '\n';
		w = write(STDERR_FILENO, line, o);
		(void)w;
	} else {
		syslog(LOG_CRIT, "fatal: %s", sigbus_what);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void
og_log_sigbus(const char *what)
{
	struct sigaction sa;

	pthread_once(&pid_once, pid_init);
	sigbus_what = what;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
}

void
og_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}

const char *
og_strerror(int code)
{
	switch (code) {
	case OG_OK:
		return "success";
	case OG_NOTFOUND:
		return "not found";
	case OG_EINVAL:
		return "invalid input";
	case OG_ENOMEM:
		return "out of memory";
	case OG_EIO:
		return "input/output error";
	case OG_ESTORE:
		return "store error";
	case OG_EFULL:
		return "store is full (map_size reached): raise [store] "
		       "map_size";
	case OG_ECORRUPT:
		return "store is damaged: restore a backup (optgate backup)";
	case OG_EVERSION:
		return "store was made by a newer optgate";
	case OG_EBUSY:
		return "store busy (reader slots full)";
	case OG_EBADTOKEN:
		return "invalid token";
	case OG_ENOKEY:
		return "no such key";
	case OG_ECONFIG:
		return "configuration error";
	case OG_ETOOBIG:
		return "input too large";
	case OG_EEXPIRED:
		return "expired";
	case OG_ENOSTORE:
		return "no store here: run optgate init";
	case OG_ENOSPC:
		return "disk full: no space left on the store's disk; free "
		       "some space, then try again";
	case OG_EKFULL:
		return "send counters are full (counter_map_size reached): "
		       "raise [store] counter_map_size";
	case OG_EREPLACED:
		return "the store's consent files were replaced under this "
		       "process and it cannot follow them: nothing written; "
		       "restart it";
	case OG_EDEAD:
		return "a write to the store's disk failed and LMDB stopped "
		       "the store in this process (MDB_PANIC): it can read and "
		       "write nothing more; check the disk (dmesg), then start "
		       "it again";
	case OG_EADDRESS:
		return "the [address] settings differ from those the store "
		       "was made with: its records would not be found";
	case OG_EACCES:
		return "this user may not write the store's files (or may "
		       "not read them)";
	}
	if (code > 0)
		return strerror(code);
	return "unknown error";
}
