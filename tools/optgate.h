/*
 * optgate.h - shared pieces of the optgate CLI (tools/optgate*.c).
 *
 * Every command is `int cmd_NAME(og_cli *cli, int argc, char **argv)`:
 * argv[0] is the command name; the common options (-c FILE, --json, -v)
 * have been taken out already.  Commands return an exit code (OG_EXIT_*).
 */
#ifndef OPTGATE_H
#define OPTGATE_H

#include <stdio.h>

#include "og_addr.h"
#include "og_buf.h"
#include "og_config.h"
#include "og_store.h"
#include "og_token.h"

/* Exit codes, in the spirit of sysexits.h (documented in --help). */
#define OG_EXIT_OK 0
#define OG_EXIT_NO 1        /* no / not found / refused */
#define OG_EXIT_USAGE 2     /* usage or configuration error */
#define OG_EXIT_STORE 3     /* store cannot be opened (missing, damaged) */
#define OG_EXIT_WRITE 4     /* store write failed (full, I/O) */
#define OG_EXIT_SYSTEM 5    /* other system error (keys file, files) */
#define OG_EXIT_TEMPFAIL 75 /* EX_TEMPFAIL: Postfix pipe retries */

typedef struct og_cli {
	const char *config_path; /* -c, or NULL for the default */
	const char *command;     /* its name, for messages */
	int json;                /* --json */
	int verbose;
	og_config *cfg;
	og_store *store;
	og_keyring *keys;
	/*
	 * og_cli_store leaves the [address] settings uncompared: export,
	 * backup, verify and stats read records by their stored keys, and
	 * export is the way to a store with other settings.
	 */
	int any_address;
	char err[2048]; /* og_cli_store's last error, for a log line */
} og_cli;

/* Load the config (once); on error print every message, return 2. */
int og_cli_config(og_cli *cli);
/*
 * Open the store (once); flags OG_STORE_*: OG_STORE_READ for a command
 * that only reads it (any user who may read the files), else the user
 * must be able to write it (og_store_writable), or the command is
 * refused with one line and OG_EXIT_STORE before anything is opened.
 * Returns 0 or an exit code (OG_EXIT_USAGE when the config's [address]
 * settings are not the store's, unless any_address).
 */
int og_cli_store(og_cli *cli, unsigned flags);
/* Load the keyring (once).  Returns 0 or an exit code. */
int og_cli_keys(og_cli *cli);
/* Exit code for a library error from a store write/read. */
int og_cli_exit_for(int rc);
/*
 * Parse and normalise an address read as the daemons read RCPT TO
 * (og_addr_envelope: <>, a source route, one trailing dot of the domain),
 * except that a local part needing quotes must be written with them;
 * prints the error, returns 0 or an exit code.
 */
int og_cli_addr(og_cli *cli, const char *s, og_addr *a);
/*
 * The same for lookups (status, audit), which also read Postfix's
 * policy form of a quoted local part (john doe@example.org).
 */
int og_cli_addr_lookup(og_cli *cli, const char *s, og_addr *a);
/*
 * og_cli_addr for commands that record something for the address (optin,
 * optout, suppress, token): also refuses, with OG_EXIT_USAGE and a line
 * naming the code point, an address with an invisible character (a
 * no-break or zero-width space pasted with it), as import does.
 */
int og_cli_addr_record(og_cli *cli, const char *s, og_addr *a);
/* The configured stream, or NULL after telling the admin it is unknown. */
const og_stream *og_cli_stream(og_cli *cli, const char *name);
/*
 * og_cli_segments - check a segment list s[0..n) (import's segment
 * column, optin --segment): at most OG_SEGMENTS_MAX segments separated by
 * ',', ';' or '|', each 1 to OG_SEGMENT_LEN bytes as the store keeps it.
 * out (size bytes; NULL: check only) gets it as the store takes it, ';'
 * and '|' made ','.  0, or -1 for a list the store cannot hold.
 */
int og_cli_segments(const char *s, size_t n, char *out, size_t size);
/* Print a usage line to stderr and return OG_EXIT_USAGE. */
int og_cli_usage(const char *line);
/*
 * A duration option (opt names it in the error): "30d", "2w", "12h",
 * "15m", "30s", above 0 and at most max seconds; a bare number is
 * refused (og_duration_parse would take it as seconds).  Prints the
 * error; returns 0 or OG_EXIT_USAGE.
 */
int og_cli_duration(const char *opt, const char *s, int64_t max, int64_t *out);
/*
 * og_cli_log - the mail log's line for a change a command made to the
 * store, written once the change is committed: b holds "WHAT: FIELDS";
 * ", user=NAME" (the real uid's name) and ", login=NAME" (the login
 * session's user, as under sudo, when it differs) are added, and the line
 * goes to syslog (mail facility, og_log_syslog) beside the daemons'
 * decisions.  b is freed.  A missing syslog never fails the command.
 */
void og_cli_log(og_buf *b);
/*
 * Append ", NAME=\"S\"" to b, S escaped (its quotes as \x22): text an
 * admin or a file gave, which may hold ", " itself.
 */
void og_cli_log_text(og_buf *b, const char *name, const char *s);
/* Append s as a JSON string (with quotes). */
void og_json_str(og_buf *b, const char *s);
/* Print b followed by a newline, then reset it. */
void og_cli_flush(og_buf *b);
/*
 * The noun a count takes in a sentence an admin reads: one for 1, many
 * for any other count ("1 line", "0 lines", "2 lines").
 */
const char *og_noun(unsigned long long n, const char *one, const char *many);
/*
 * The width of a column that has held w so far and must now hold s: the
 * larger (tables fit their longest name, as ls -l aligns its sizes).
 */
int og_width(int w, const char *s);
/*
 * Append ev's text fields from field `from` on (OG_EVF_*; the scope's
 * name is given apart), named as audit names them: ,"report_id":"..."
 * (json) or " report_id=..." (escaped).  Empty ones are left out.
 */
void og_cli_event_fields(og_buf *b, const og_event *ev, int from, int json);

typedef int (*og_cmd_fn)(og_cli *cli, int argc, char **argv);

/* Foundation commands (optgate_core.c). */
int cmd_init(og_cli *, int, char **);
int cmd_keygen(og_cli *, int, char **);
int cmd_optin(og_cli *, int, char **);
int cmd_confirm(og_cli *, int, char **);
int cmd_optout(og_cli *, int, char **);
int cmd_suppress(og_cli *, int, char **);
int cmd_unsuppress(og_cli *, int, char **);
int cmd_status(og_cli *, int, char **);
int cmd_check_address(og_cli *, int, char **);
int cmd_token(og_cli *, int, char **);
int cmd_config(og_cli *, int, char **);

/* Admin commands (optgate_admin.c). */
int cmd_import(og_cli *, int, char **);
int cmd_audit(og_cli *, int, char **);
int cmd_export(og_cli *, int, char **);
int cmd_import_hashed(og_cli *, int, char **);
int cmd_erase(og_cli *, int, char **);
int cmd_stats(og_cli *, int, char **);
int cmd_backup(og_cli *, int, char **);
int cmd_verify(og_cli *, int, char **);
int cmd_expire(og_cli *, int, char **);

/* Feedback processors (optgate_feedback.c). */
int cmd_bounce(og_cli *, int, char **);
int cmd_fbl(og_cli *, int, char **);
int cmd_unsub_mail(og_cli *, int, char **);
int cmd_quarantine(og_cli *, int, char **);

/*
 * optgate erase: remove the quarantined reports that name address a (its
 * reason file, the recipients, sender and tokens the processors read,
 * then the text, raw and decoded); one that also names other people is
 * kept unless drop_shared.  Each decision is logged (syslog, a copy on
 * stderr), never with the address.  Returns 0, or -1 when the folder or
 * an entry could not be read or removed (logged).
 */
typedef struct og_qerase {
	int removed, kept, errors;
} og_qerase;
int og_quarantine_erase(
    og_cli *cli, const og_addr *a, int drop_shared, og_qerase *res);

#endif
