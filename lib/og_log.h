/*
 * og_log.h - logging for mail admins.
 *
 * Programs call og_log_open() once: to stderr in the foreground (-f), to
 * syslog (mail facility) otherwise.  The library itself never logs except
 * through og_log_*, and never exits except og_log_fatal/og_panic.
 * One decision gets one line (see og_gate.h for its format).
 *
 * Thread-safe: syslog(3) and single fprintf calls.
 */
#ifndef OG_LOG_H
#define OG_LOG_H

#include <stdarg.h>

#define OG_LOG_STDERR 1 /* log to stderr instead of syslog */
#define OG_LOG_BOTH 2   /* syslog, and a copy on stderr (LOG_PERROR) */

/* ident: program name for syslog and stderr prefixes. */
void og_log_open(const char *ident, int flags);
/* 0 quiet, 1 verbose, 2 debug; og_log_debug prints at >= 1. */
void og_log_set_verbose(int level);
int og_log_verbose(void);

void og_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void og_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void og_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void og_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * An info line for the mail log (syslog, mail facility) whatever sink
 * og_log_open chose: the admin CLI talks to its terminal on stderr, but
 * the changes it makes to the store belong beside the daemons' lines.
 * Never fails: with no syslog daemon (no /dev/log) the line is lost.
 * Under OG_LOG_BOTH the stderr copy is written too.
 */
void og_log_syslog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1). */
void og_log_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/*
 * Log and _exit(1), with no exit handlers: for a thread while others
 * still run (exit(3) would run OpenSSL's cleanup under them).
 */
void og_log_fatal_now(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/*
 * Log a SIGBUS as "fatal: WHAT" before the process dies of it.  A daemon
 * reads the store through a shared map: a data.mdb truncated (or a disk
 * failing) under it is a SIGBUS, and without this the process vanished
 * with no line.  WHAT must live as long as the process (a literal).
 * The line is written with write(2) on stderr, through syslog(3) (best
 * effort in a signal handler) otherwise; then the signal is raised again
 * with its default action, so the exit status still says SIGBUS.
 */
void og_log_sigbus(const char *what);
/* Caller bug: log and abort(). */
void og_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
