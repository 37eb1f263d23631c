/*
 * optgate_core.c - the foundation commands of the optgate CLI: init,
 * keygen, optin, confirm, optout, suppress, unsuppress, status,
 * check-address, token, config check; and the helpers every command
 * shares (config, store and keys loading, JSON output).
 *
 * Every change goes through og_store_apply(), which returns after the
 * commit is synced: a command that printed success has its change on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "og_addr.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_log.h"
#include "og_time.h"
#include "optgate.h"
#include "optgate_csv.h"

/* ---------- shared helpers ---------- */

static void
print_report(const char *msg, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "%s\n", msg);
}

int
og_cli_config(og_cli *cli)
{
	char err[1024];

	if (cli->cfg)
		return 0;
	if (og_config_load(cli->config_path, &cli->cfg, err, sizeof(err),
	        print_report, NULL) != 0)
		return OG_EXIT_USAGE;
	if (cli->verbose > og_log_verbose())
		og_log_set_verbose(cli->verbose);
	return 0;
}

int
og_cli_exit_for(int rc)
{
	switch (rc) {
	case 0:
		return OG_EXIT_OK;
	case OG_NOTFOUND:
		return OG_EXIT_NO;
	case OG_ENOSTORE:
	case OG_ECORRUPT:
	case OG_EVERSION:
	case OG_EACCES: /* as og_cli_store says it: README, Read-only access */
		return OG_EXIT_STORE;
	case OG_EFULL:
	case OG_EKFULL:
	case OG_ENOSPC:
	case OG_EIO:
	case OG_ESTORE:
	case OG_EBUSY:
	case OG_EREPLACED:
	case OG_EDEAD:
		return OG_EXIT_WRITE;
	case OG_EINVAL:
		return OG_EXIT_USAGE;
	}
	return OG_EXIT_SYSTEM;
}

int
og_cli_store(og_cli *cli, unsigned flags)
{
	og_store_opts o;
	char err[sizeof(cli->err)];
	int rc;

	if (cli->store)
		return 0;
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	og_store_opts_config(&o, cli->cfg, flags);
	if (cli->any_address)
		o.address_keys = NULL;
	/*
	 * A command that changes the store, run by a user who may only
	 * read it (or on a copy made read-only): said before anything is
	 * opened, so nothing is touched, not even a lock file.
	 */
	if (!(flags & OG_STORE_READ) &&
	    og_store_writable(cli->cfg->store_path, err, sizeof(err)) != 0) {
		og_strlcpy(cli->err, err, sizeof(cli->err));
		fprintf(stderr,
		    "optgate: %s changes the store, and %s; nothing was "
		    "changed (status, explain, audit, export, stats, backup "
		    "and verify only read it)\n",
		    cli->command ? cli->command : "this command", err);
		return OG_EXIT_STORE;
	}
	rc = og_store_open(
	    cli->cfg->store_path, &o, &cli->store, err, sizeof(err));
	if (rc != 0) {
		og_strlcpy(
		    cli->err, err[0] ? err : og_strerror(rc), sizeof(cli->err));
		fprintf(stderr, "optgate: %s\n", cli->err);
		/* the config is what changed: a configuration error; a
		 * full disk is a failed write (init, counters made again) */
		return rc == OG_EADDRESS ? OG_EXIT_USAGE
		       : rc == OG_ENOSPC ? OG_EXIT_WRITE
		                         : OG_EXIT_STORE;
	}
	return 0;
}

int
og_cli_keys(og_cli *cli)
{
	char err[1024];
	int rc;

	if (cli->keys)
		return 0;
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	rc = og_keyring_load(cli->cfg->keys_file, &cli->keys, err, sizeof(err));
	if (rc != 0) {
		struct stat st;

		fprintf(
		    stderr, "optgate: %s\n", err[0] ? err : og_strerror(rc));
		/*
		 * Only a missing file is to be made: one the user cannot
		 * read holds the keys of every link already mailed.  init
		 * writes it 0600 from the start and never over a file.
		 */
		if (rc == OG_EIO && lstat(cli->cfg->keys_file, &st) != 0 &&
		    errno == ENOENT)
			fprintf(stderr,
			    "optgate: create it with: optgate%s%s init\n",
			    cli->config_path ? " -c " : "",
			    cli->config_path ? cli->config_path : "");
		return OG_EXIT_SYSTEM;
	}
	return 0;
}

static int
cli_addr(og_cli *cli, const char *s, og_addr *a, int policy_form)
{
	char buf[2 * OG_ADDR_INPUT_MAX + 3];
	const char *e;
	int rc;

	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	/*
	 * As the daemons read RCPT TO, so that an address pasted from a
	 * Postfix log (to=<ana@example.com.>, a source route) names the
	 * person they judged, for every command that takes one.
	 */
	e = og_addr_envelope(s, buf, sizeof(buf));
	if (og_addr_parse(e, strlen(e), &cli->cfg->rules, a) != 0) {
		fprintf(stderr, "optgate: %s: invalid address: %s\n", s,
		    a->error ? a->error : "syntax");
		return OG_EXIT_NO;
	}
	/*
	 * Postfix logs a quoted local part with its quotes: without them,
	 * bad@@example.com is more likely a typo of bad@example.com than
	 * "bad@"@example.com, and a change recorded for that would leave
	 * the person meant untouched.
	 */
	if (!policy_form && (a->flags & OG_ADDR_QUOTED) &&
	    strchr(s, '"') == NULL) {
		fprintf(stderr,
		    "optgate: %s: invalid address: the local part needs "
		    "quotes (%s, if that is meant)\n",
		    s, a->norm);
		return OG_EXIT_NO;
	}
	if (a->typo[0])
		fprintf(stderr,
		    "optgate: warning: %s: did you mean @%s? "
		    "(recorded as given)\n",
		    a->norm, a->typo);
	return 0;
}

int
og_cli_addr(og_cli *cli, const char *s, og_addr *a)
{
	return cli_addr(cli, s, a, 0);
}

int
og_cli_addr_lookup(og_cli *cli, const char *s, og_addr *a)
{
	return cli_addr(cli, s, a, 1);
}

int
og_cli_addr_record(og_cli *cli, const char *s, og_addr *a)
{
	size_t off;
	uint32_t cp;
	int rc, len;

	if ((rc = cli_addr(cli, s, a, 0)) != 0)
		return rc;
	/*
	 * A no-break or zero-width space pasted with the address stays in
	 * its match key: the change would name a mailbox no mail goes to,
	 * and the person herself would still get mail.  The same test as
	 * import's; lookups, erase and unsuppress still take such a key,
	 * to find or lift what an older version recorded.
	 */
	if ((len = og_csv_invisible(a->key, strlen(a->key), &off, &cp)) > 0) {
		/* shown where it is: on a terminal it shows as nothing */
		fprintf(stderr,
		    "optgate: %.*s<U+%04X>%s: invisible character U+%04X "
		    "in the address (a no-break, zero-width or other space, "
		    "or a format mark; pasted from a web page? type it "
		    "again); nothing recorded\n",
		    (int)off, a->key, (unsigned)cp, a->key + off + len,
		    (unsigned)cp);
		return OG_EXIT_USAGE;
	}
	return 0;
}

int
og_cli_usage(const char *line)
{
	fprintf(stderr, "usage: optgate %s\n", line);
	return OG_EXIT_USAGE;
}

const char *
og_noun(unsigned long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int
og_width(int w, const char *s)
{
	size_t n = strlen(s);

	return n > (size_t)w ? (int)n : w;
}

int
og_cli_duration(const char *opt, const char *s, int64_t max, int64_t *out)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	/* a bare number is seconds to og_duration_parse (config keys
	 * have their floors); on a command line it is a missing unit */
	if (n == 0 || (s[n - 1] >= '0' && s[n - 1] <= '9') ||
	    og_duration_parse(s, max, out) != 0 || *out <= 0) {
		fprintf(stderr,
		    "optgate: %s: expected a duration with its unit, such as "
		    "30d (days), 2w, 12h or 15m; got \"%s\"\n",
		    opt, s);
		return OG_EXIT_USAGE;
	}
	return 0;
}

const og_stream *
og_cli_stream(og_cli *cli, const char *name)
{
	const og_stream *st = og_config_stream(cli->cfg, name);

	if (st == NULL)
		fprintf(stderr, "optgate: unknown stream \"%s\" (not in %s)\n",
		    name, cli->cfg->path);
	return st;
}

void
og_cli_log_text(og_buf *b, const char *name, const char *s)
{
	og_buf_printf(b, ", %s=\"", name);
	og_buf_add_escaped(b, s, strlen(s), 256);
	og_buf_addc(b, '"');
}

void
og_cli_log(og_buf *b)
{
	struct passwd *pw = getpwuid(getuid());
	char login[256];

	og_buf_adds(b, ", user=");
	if (pw != NULL)
		og_buf_add_escaped(b, pw->pw_name, strlen(pw->pw_name), 64);
	else
		og_buf_printf(b, "%lu", (unsigned long)getuid());
	/* getlogin_r: the session's login (/proc/self/loginuid, else the
	 * terminal's utmp entry); under sudo that is who ran it */
	if (getlogin_r(login, sizeof(login)) == 0 && login[0] != '\0' &&
	    (pw == NULL || strcmp(login, pw->pw_name) != 0)) {
		og_buf_adds(b, ", login=");
		og_buf_add_escaped(b, login, strlen(login), 64);
	}
	og_log_syslog("%s", b->data != NULL ? b->data : "");
	og_buf_free(b);
}

void
og_json_str(og_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	og_buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			og_buf_addc(b, '\\');
			og_buf_addc(b, c);
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = {
			    '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			og_buf_add(b, e, 6);
		} else {
			og_buf_addc(b, c);
		}
	}
	og_buf_addc(b, '"');
}

void
og_cli_flush(og_buf *b)
{
	fwrite(b->data ? b->data : "", 1, b->len, stdout);
	fputc('\n', stdout);
	og_buf_reset(b);
}

/* ---------- scope options shared by optout/suppress/unsuppress ---------- */

struct scope_opt {
	int scope;
	const char *name;
	int given;
	char nbuf[OG_DOMAIN_MAX + 1]; /* --sender as the gate names it */
};

/* Handle --stream/--partner/--sender/--all; 1 if the option was one. */
static int
scope_option(struct scope_opt *so, int c, const char *arg)
{
	int scope;

	switch (c) {
	case 'S':
		scope = OG_SCOPE_STREAM;
		break;
	case 'P':
		scope = OG_SCOPE_PARTNER;
		break;
	case 'D':
		scope = OG_SCOPE_SENDER;
		break;
	case 'A':
		scope = OG_SCOPE_ALL;
		break;
	default:
		return 0;
	}
	so->given++;
	so->scope = scope;
	so->name = scope == OG_SCOPE_ALL ? NULL : arg;
	return 1;
}

static int
scope_check(og_cli *cli, const struct scope_opt *so)
{
	if (so->given > 1) {
		fprintf(stderr, "optgate: give one of --stream, --partner, "
		                "--sender, --all\n");
		return OG_EXIT_USAGE;
	}
	if (so->scope == OG_SCOPE_STREAM &&
	    og_cli_stream(cli, so->name) == NULL)
		return OG_EXIT_USAGE;
	if (so->name && strlen(so->name) > OG_STREAM_NAME_MAX) {
		fprintf(stderr, "optgate: scope name longer than %d\n",
		    OG_STREAM_NAME_MAX);
		return OG_EXIT_USAGE;
	}
	return 0;
}

static const char *
scope_text(int scope, const char *name, char *buf, size_t size)
{
	if (scope == OG_SCOPE_ALL)
		snprintf(buf, size, "all");
	else
		snprintf(buf, size, "%s %s", og_scope_name(scope), name);
	return buf;
}

static const char *
result_text(int r)
{
	switch (r) {
	case OG_APPLIED:
		return "recorded";
	case OG_UNCHANGED:
		return "unchanged (already so)";
	case OG_SKIPPED_OLDER:
		return "not recorded (a newer entry exists)";
	case OG_SKIPPED_OPTOUT:
		return "not recorded (a newer opt-out or a suppression holds)";
	case OG_SKIPPED_ERASED:
		return "not recorded (the address was erased)";
	}
	return "?";
}

/* The log's word for a change's result (og_store_apply's, or withdrawn). */
static const char *
result_word(int r)
{
	switch (r) {
	case OG_APPLIED:
		return "recorded";
	case OG_UNCHANGED:
		return "unchanged";
	case OG_SKIPPED_OLDER:
		return "skipped(newer-entry)";
	case OG_SKIPPED_OPTOUT:
		return "skipped(optout-holds)";
	case OG_SKIPPED_ERASED:
		return "skipped(erased)";
	}
	return "skipped(withdrawn)";
}

#define RESULT_WITHDRAWN (-1) /* confirm: a broader opt-out came after */

/*
 * The mail log's line for one address an admin command changed (or
 * tried to): cmd: to=<ADDR>, scope=..., [state=, reason=, expires=,]
 * result=..., source=..., [note=,] user=...
 */
static void
log_change(const og_change *ch, const char *cmd, int result)
{
	const char *to = ch->raw ? ch->raw : ch->key;
	og_buf b;

	og_buf_init(&b, 0);
	og_buf_printf(&b, "%s: to=<", cmd);
	og_buf_add_escaped(&b, to, strlen(to), 320);
	og_buf_printf(&b, ">, scope=%s", og_scope_name(ch->scope));
	if (ch->name != NULL && ch->name[0] != '\0') {
		og_buf_addc(&b, ':');
		og_buf_add_escaped(&b, ch->name, strlen(ch->name), 128);
	}
	if (ch->kind == OG_EV_OPTIN)
		og_buf_printf(&b, ", state=%s", og_state_name(ch->state));
	if (ch->kind == OG_EV_SUPPRESS) {
		og_buf_printf(&b, ", reason=%s", og_reason_name(ch->reason));
		if (ch->expires != 0) {
			char when[32];

			og_time_fmt(ch->expires, when, sizeof(when));
			og_buf_printf(&b, ", expires=%s", when);
		}
	}
	og_buf_printf(&b, ", result=%s", result_word(result));
	if (ch->f[OG_EVF_SOURCE] != NULL)
		og_cli_log_text(&b, "source", ch->f[OG_EVF_SOURCE]);
	if (ch->f[OG_EVF_NOTE] != NULL)
		og_cli_log_text(&b, "note", ch->f[OG_EVF_NOTE]);
	og_cli_log(&b);
}

/* Apply one change; log and print the outcome; return the exit code. */
static int
apply_print(og_cli *cli, og_change *ch, const char *cmd, const char *what)
{
	int rc, result = 0;

	rc = og_store_apply(cli->store, ch, 1, &result);
	if (rc != 0) {
		fprintf(stderr, "optgate: %s: %s: %s\n", what, ch->key,
		    og_strerror(rc));
		return og_cli_exit_for(rc);
	}
	log_change(ch, cmd, result);
	if (cli->json) {
		og_buf b;

		og_buf_init(&b, 0);
		og_buf_adds(&b, "{\"address\":");
		og_json_str(&b, ch->raw ? ch->raw : ch->key);
		og_buf_adds(&b, ",\"key\":");
		og_json_str(&b, ch->key);
		og_buf_adds(&b, ",\"action\":");
		og_json_str(&b, what);
		og_buf_adds(&b, ",\"result\":");
		og_json_str(&b, result == OG_APPLIED     ? "recorded"
		                : result == OG_UNCHANGED ? "unchanged"
		                                         : "skipped");
		og_buf_adds(&b, "}");
		og_cli_flush(&b);
		og_buf_free(&b);
	} else {
		printf("%s: %s: %s\n", ch->raw ? ch->raw : ch->key, what,
		    result_text(result));
	}
	return result == OG_APPLIED || result == OG_UNCHANGED ? OG_EXIT_OK
	                                                      : OG_EXIT_NO;
}

/* ---------- init, keygen ---------- */

/*
 * Highest key id in a keys file, 0 if none or no file; -1 (errno set)
 * when the file is there but cannot be read: its ids are unknown, and
 * guessing 1 would append a duplicate that stops the file loading.
 * used[id] is set for each id in the file; *open_line is set when its
 * last line has no newline (a file written by a tool that leaves it
 * off), where a line appended by `keygen >> FILE` would run into it.
 */
static int
max_key_id(const char *path, unsigned char used[256], int *open_line)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	int max = 0;

	memset(used, 0, 256);
	*open_line = 0;
	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), fp)) {
		size_t n = strlen(line);
		char *end;
		long id = strtol(line, &end, 10);

		if (n > 0)
			*open_line = line[n - 1] != '\n';
		if (end != line && id > 0 && id < 256)
			used[id] = 1;
		if (end != line && id > max && id < 256)
			max = (int)id;
	}
	fclose(fp);
	return max;
}

int
cmd_init(og_cli *cli, int argc, char **argv)
{
	og_store_info info;
	char line[128];
	int rc, fd;

	if (argc != 1)
		return og_cli_usage("init");
	if ((rc = og_cli_store(cli, OG_STORE_CREATE)) != 0)
		return rc;
	og_store_info_get(cli->store, &info);
	printf("store %s ready (schema %u, %llu %s)\n", cli->cfg->store_path,
	    info.schema, (unsigned long long)info.records,
	    og_noun(info.records, "address", "addresses"));
	if (access(cli->cfg->keys_file, F_OK) == 0)
		return 0;
	/* A newcomer needs a key to make tokens: create the file. */
	if (og_keygen_line(1, line, sizeof(line)) != 0) {
		fprintf(stderr, "optgate: cannot make a key\n");
		return OG_EXIT_SYSTEM;
	}
	fd = open(
	    cli->cfg->keys_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    fsync(fd) != 0) {
		fprintf(stderr, "optgate: %s: %s\n", cli->cfg->keys_file,
		    strerror(errno));
		/* ours (O_EXCL), and without its key: left, the next init
		 * would keep it and no token could be made */
		if (fd >= 0) {
			close(fd);
			(void)unlink(cli->cfg->keys_file);
		}
		return OG_EXIT_SYSTEM;
	}
	close(fd);
	/* the tokens in sent mail need the key after a power cut too */
	if (og_sync_parent(cli->cfg->keys_file) != 0) {
		fprintf(stderr, "optgate: %s: sync: %s\n", cli->cfg->keys_file,
		    strerror(errno));
		return OG_EXIT_SYSTEM;
	}
	printf("keys file %s created with key 1 (mode 0600)\n",
	    cli->cfg->keys_file);
	return 0;
}

int
cmd_keygen(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"id", 1, NULL, 'i'}, {NULL, 0, NULL, 0}};
	unsigned char used[256] = {0};
	char line[128];
	uint64_t id = 0;
	int c, max = 0, open_line = 0;

	while ((c = getopt_long(argc, argv, "i:", lo, NULL)) != -1) {
		if (c != 'i' || og_parse_u64(optarg, 255, &id) != 0 || id == 0)
			return og_cli_usage("keygen [--id 1-255]");
	}
	if (optind != argc)
		return og_cli_usage("keygen [--id 1-255]");
	if (og_cli_config(cli) == 0 &&
	    (max = max_key_id(cli->cfg->keys_file, used, &open_line)) < 0 &&
	    id == 0) {
		fprintf(stderr,
		    "optgate: %s: %s: cannot tell which key ids are "
		    "used; run keygen as the file's owner, or give "
		    "--id\n",
		    cli->cfg->keys_file, strerror(errno));
		return OG_EXIT_SYSTEM;
	}
	/*
	 * An id the file has already: appended, the file has it twice and
	 * no longer loads, so every daemon's reload keeps the old keys and
	 * the next start fails.
	 */
	if (id != 0 && max >= 0 && used[id]) {
		fprintf(stderr,
		    "optgate: key id %u is in %s already: a second line "
		    "with it stops the file loading; give a free id, or no "
		    "--id for the next one\n",
		    (unsigned)id, cli->cfg->keys_file);
		return OG_EXIT_USAGE;
	}
	if (id == 0) {
		if (max >= 255) {
			fprintf(stderr, "optgate: key ids 1-255 are used: "
			                "give --id\n");
			return OG_EXIT_USAGE;
		}
		id = (uint64_t)max + 1;
	}
	if (og_keygen_line((uint8_t)id, line, sizeof(line)) != 0) {
		fprintf(stderr, "optgate: no randomness\n");
		return OG_EXIT_SYSTEM;
	}
	/*
	 * The file's last line has no newline: appended as it is, the new
	 * key would run into it and the file no longer load (every daemon
	 * refusing to start, the pipes deferring mail).  A blank line first
	 * is harmless wherever the output goes.
	 */
	if (open_line)
		putchar('\n');
	fputs(line, stdout);
	{
		og_buf l; /* the key itself is never logged */

		og_buf_init(&l, 0);
		og_buf_printf(
		    &l, "keygen: id=%u, result=printed", (unsigned)id);
		og_cli_log(&l);
	}
	return 0;
}

/* ---------- optin, confirm ---------- */

static void
token_hash(const char *tok, char *out, size_t size)
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	EVP_Digest(tok, strlen(tok), md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 12 && (size_t)(2 * i + 2) < size; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/*
 * One reading of a segment list for import's segment column and optin
 * --segment: "vip;br" (or "vip,br", "vip|br") is two segments.  The store
 * splits on ',' only, so "vip;br" given to it was one segment of that
 * name, which no caps.segment line names, and export wrote it back as
 * two: the caps changed on the way.  Each segment is measured as the
 * store keeps it (blanks at its ends trimmed, blanks inside counted): one
 * over 32 bytes or a ninth was dropped by the store after the command
 * said "recorded".
 */
int
og_cli_segments(const char *s, size_t n, char *out, size_t size)
{
	size_t k, len = 0, blanks = 0; /* len: as the store trims it */
	int cnt = 1;

	if (out != NULL && n >= size)
		return -1;
	for (k = 0; k <= n; k++) {
		char c = k < n ? s[k] : 0;

		if (k == n || c == ',' || c == ';' || c == '|') {
			if (len == 0 || len > OG_SEGMENT_LEN)
				return -1;
			if (out != NULL)
				out[k] = k < n ? ',' : 0;
			if (k == n)
				break;
			cnt++;
			len = blanks = 0;
			continue;
		}
		if (out != NULL)
			out[k] = c;
		if (c == ' ' || c == '\t') {
			blanks += len > 0; /* inside, if more follows */
		} else {
			len += blanks + 1;
			blanks = 0;
		}
	}
	return cnt > OG_SEGMENTS_MAX ? -1 : 0;
}

int
cmd_optin(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"stream", 1, NULL, 'S'},
	    {"single", 0, NULL, '1'}, {"double", 0, NULL, '2'},
	    {"source", 1, NULL, 's'}, {"ip", 1, NULL, 'i'},
	    {"user-agent", 1, NULL, 'u'}, {"segment", 1, NULL, 'g'},
	    {"time", 1, NULL, 't'}, {NULL, 0, NULL, 0}};
	const char *usage =
	    "optin ADDR --stream S [--single | --double] "
	    "[--source T] [--ip IP] [--user-agent UA] [--segment SEG] "
	    "[--time RFC3339]";
	const char *stream = NULL, *source = NULL, *ip = NULL, *ua = NULL;
	const char *seg = NULL;
	char segbuf[OG_SEGMENTS_MAX * (OG_SEGMENT_LEN + 8)];
	int state = OG_ST_CONFIRMED, c, rc, result = 0;
	int64_t t = 0;
	og_change ch;
	og_addr a;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'S':
			stream = optarg;
			break;
		case '1':
			state = OG_ST_OPTIN;
			break;
		case '2':
			state = OG_ST_PENDING;
			break;
		case 's':
			source = optarg;
			break;
		case 'i':
			ip = optarg;
			break;
		case 'u':
			ua = optarg;
			break;
		case 'g':
			if (og_cli_segments(optarg, strlen(optarg), segbuf,
			        sizeof(segbuf)) != 0) {
				fprintf(stderr,
				    "optgate: --segment: at most %d segments "
				    "of 1 to %d bytes, separated by , ; or "
				    "|: %s\n",
				    OG_SEGMENTS_MAX, OG_SEGMENT_LEN, optarg);
				return OG_EXIT_USAGE;
			}
			seg = segbuf;
			break;
		case 't':
			if (og_time_parse_rfc3339(optarg, &t) != 0) {
				fprintf(stderr,
				    "optgate: --time: not an RFC "
				    "3339 time: %s\n",
				    optarg);
				return OG_EXIT_USAGE;
			}
			break;
		default:
			return og_cli_usage(usage);
		}
	}
	if (optind + 1 != argc || stream == NULL)
		return og_cli_usage(usage);
	if ((rc = og_cli_addr_record(cli, argv[optind], &a)) != 0)
		return rc;
	if (og_cli_stream(cli, stream) == NULL)
		return OG_EXIT_USAGE;
	if (state == OG_ST_PENDING && (rc = og_cli_keys(cli)) != 0)
		return rc;
	if ((rc = og_cli_store(cli, 0)) != 0)
		return rc;
	memset(&ch, 0, sizeof(ch));
	ch.key = a.key;
	ch.raw = a.raw;
	ch.kind = OG_EV_OPTIN;
	ch.scope = OG_SCOPE_STREAM;
	ch.name = stream;
	ch.state = (uint8_t)state;
	ch.via = OG_VIA_ADMIN;
	ch.time = t ? t : og_time_now();
	ch.segments = seg;
	ch.f[OG_EVF_SOURCE] = source ? source : "admin";
	ch.f[OG_EVF_IP] = ip;
	ch.f[OG_EVF_UA] = ua;
	if (state == OG_ST_PENDING) {
		char tok[OG_TOKEN_MAX + 1], th[32];

		/* Issued now, whatever --time says of the request: the
		 * link is as old as the token ([keys] confirm_max_age). */
		rc = og_token_make(cli->keys, OG_TOKEN_CONFIRM, a.key, stream,
		    og_time_now(), tok, sizeof(tok));
		if (rc != 0) {
			fprintf(
			    stderr, "optgate: token: %s\n", og_strerror(rc));
			return OG_EXIT_SYSTEM;
		}
		token_hash(tok, th, sizeof(th));
		ch.f[OG_EVF_PROOF] = th;
		rc = og_store_apply(cli->store, &ch, 1, &result);
		if (rc != 0) {
			fprintf(
			    stderr, "optgate: optin: %s\n", og_strerror(rc));
			return og_cli_exit_for(rc);
		}
		log_change(&ch, "optin", result);
		if (result != OG_APPLIED && result != OG_UNCHANGED) {
			printf("%s: optin: %s\n", a.raw, result_text(result));
			return OG_EXIT_NO;
		}
		if (cli->json)
			printf(
			    "{\"address\":\"%s\",\"stream\":\"%s\","
			    "\"state\":\"pending\",\"confirm_token\":\"%s\"}\n",
			    a.key, stream, tok);
		else /* the same -c, or the command would use another file */
			printf("%s: double opt-in for %s pending; confirm "
			       "with: optgate%s%s confirm %s\n",
			    a.raw, stream, cli->config_path ? " -c " : "",
			    cli->config_path ? cli->config_path : "", tok);
		return 0;
	}
	return apply_print(cli, &ch, "optin",
	    state == OG_ST_OPTIN ? "optin (single)" : "optin (confirmed)");
}

/*
 * Whether the double opt-in that token confirms for st was taken back by
 * a broader opt-out given after it was asked (one of the stream itself
 * replaced the request, and the store refuses the confirmation): an
 * opt-out of everything, of the stream's partner or sender, made after
 * the request and still in force.  The old token must not lift it, as it
 * could not lift an opt-out of the stream.  *o gets that opt-out.
 * 1 withdrawn, 0 not (the store decides the rest), or a store error.
 */
static int
confirm_withdrawn(og_cli *cli, const og_stream *st, const char *key,
    og_record *rec, og_entry *o)
{
	char sscope[OG_DOMAIN_MAX + 1] = "";
	const og_entry *by;
	const char *sender;
	og_event *ev;
	og_entry asked;
	og_rtxn *tx;
	uint64_t seq;
	int rc, unknown, found = 0;

	if ((rc = og_store_rbegin(cli->store, &tx)) != 0)
		return rc;
	if ((rc = og_store_get(tx, key, rec)) != 0) {
		og_store_rend(tx);
		return rc == OG_NOTFOUND ? 0 : rc;
	}
	/* the newest change of the stream's entry: the request? */
	ev = og_xmalloc(sizeof(*ev));
	for (seq = rec->last_event; seq != 0; seq = ev->prev) {
		if ((rc = og_store_event_get(tx, seq, ev)) != 0)
			break;
		if (ev->kind == OG_EV_SEGMENT || ev->kind == OG_EV_PREF ||
		    ev->scope != OG_SCOPE_STREAM ||
		    strcmp(ev->f[OG_EVF_NAME], st->name) != 0)
			continue;
		found = ev->kind == OG_EV_OPTIN &&
		        (ev->new_state == OG_ST_PENDING ||
		            ev->new_state == OG_ST_OPTOUT);
		break;
	}
	og_store_rend(tx);
	if (rc != 0 && rc != OG_NOTFOUND) {
		free(ev);
		return rc;
	}
	if (!found) {
		free(ev);
		return 0;
	}
	memset(&asked, 0, sizeof(asked));
	asked.scope = OG_SCOPE_STREAM;
	asked.state = OG_ST_PENDING;
	og_strlcpy(asked.name, st->name, sizeof(asked.name));
	asked.time = ev->time;
	free(ev);
	/* the sender scope as the gate names it (as status does) */
	if (st->sender)
		og_strlcpy(sscope, st->sender, sizeof(sscope));
	else if ((sender = og_gate_stream_sender(st, &unknown)) != NULL)
		(void)og_addr_sender_scope(sender, sscope, sizeof(sscope));
	by = og_gate_revoked(rec, &asked, st, sscope, og_time_now());
	if (by == NULL || by->scope == OG_SCOPE_STREAM)
		return 0;
	*o = *by;
	return 1;
}

int
cmd_confirm(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"ip", 1, NULL, 'i'},
	    {"user-agent", 1, NULL, 'u'}, {NULL, 0, NULL, 0}};
	const char *ip = NULL, *ua = NULL;
	const og_stream *st;
	og_token_info ti;
	og_change ch;
	og_record *rec;
	og_entry o;
	char th[32];
	int c, rc;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'i')
			ip = optarg;
		else if (c == 'u')
			ua = optarg;
		else
			return og_cli_usage("confirm TOKEN [--ip IP] "
			                    "[--user-agent UA]");
	}
	if (optind + 1 != argc)
		return og_cli_usage(
		    "confirm TOKEN [--ip IP] [--user-agent UA]");
	if ((rc = og_cli_keys(cli)) != 0)
		return rc;
	rc = og_token_open(cli->keys, argv[optind], strlen(argv[optind]), &ti);
	if (rc != 0 || ti.purpose != OG_TOKEN_CONFIRM) {
		fprintf(stderr, "optgate: confirm: invalid confirmation "
		                "token\n");
		return OG_EXIT_NO;
	}
	if ((st = og_config_stream_by_id(cli->cfg, ti.stream_id)) == NULL) {
		fprintf(stderr, "optgate: confirm: the token's stream is no "
		                "longer configured\n");
		return OG_EXIT_NO;
	}
	/*
	 * A confirmation link from long ago (an old mail, a leaked archive)
	 * is no proof the person wants the mail now.  A token may have been
	 * made as late as its issue day's last second.
	 */
	if (cli->cfg->confirm_max_age > 0 &&
	    og_time_now() - (ti.issued + 86399) > cli->cfg->confirm_max_age) {
		char date[16], age[32];

		og_date_fmt(ti.issued, date, sizeof(date));
		og_duration_fmt(cli->cfg->confirm_max_age, age, sizeof(age));
		fprintf(stderr,
		    "optgate: confirm: %s: the confirmation token expired "
		    "(issued %s, [keys] confirm_max_age = %s): not "
		    "recorded; the person asks again for a new one\n",
		    ti.key, date, age);
		return OG_EXIT_NO;
	}
	if ((rc = og_cli_store(cli, 0)) != 0)
		return rc;
	token_hash(argv[optind], th, sizeof(th));
	memset(&ch, 0, sizeof(ch));
	ch.key = ti.key;
	ch.kind = OG_EV_CONFIRM;
	ch.scope = OG_SCOPE_STREAM;
	ch.name = st->name;
	ch.via = OG_VIA_CONFIRM;
	ch.time = og_time_now();
	ch.f[OG_EVF_PROOF] = th;
	ch.f[OG_EVF_IP] = ip;
	ch.f[OG_EVF_UA] = ua;
	ch.f[OG_EVF_SOURCE] = "confirmation";
	rec = og_xmalloc(sizeof(*rec));
	rc = confirm_withdrawn(cli, st, ti.key, rec, &o);
	free(rec);
	if (rc < 0) {
		fprintf(stderr, "optgate: confirm: %s\n", og_strerror(rc));
		return og_cli_exit_for(rc);
	}
	if (rc == 1) {
		char date[16], until[16], sc[96];
		int later;

		og_date_fmt(o.time, date, sizeof(date));
		scope_text(o.scope, o.name, sc, sizeof(sc));
		/*
		 * A pause keeps the request: the same link confirms once it
		 * is over (if the link is still young enough then).  An
		 * opt-out for good needs a new request.
		 */
		later = o.expires != 0 &&
		        (cli->cfg->confirm_max_age <= 0 ||
		            ti.issued + 86399 + cli->cfg->confirm_max_age >=
		                o.expires);
		og_date_fmt(o.expires, until, sizeof(until));
		log_change(&ch, "confirm", RESULT_WITHDRAWN);
		if (cli->json)
			printf(
			    "{\"address\":\"%s\",\"key\":\"%s\","
			    "\"action\":\"confirm\",\"result\":\"skipped\","
			    "\"optout\":\"%s\",\"optout_time\":\"%s\"%s%s%s}\n",
			    ti.key, ti.key, sc, date,
			    later ? ",\"works_from\":\"" : "",
			    later ? until : "", later ? "\"" : "");
		else if (later)
			printf("%s: confirm: not recorded (unsubscribed from "
			       "%s on %s until %s, after the request: the "
			       "request holds, and the same confirmation works "
			       "again from %s)\n",
			    ti.key, sc, date, until, until);
		else
			printf("%s: confirm: not recorded (unsubscribed from "
			       "%s on %s, after the request: the person asks "
			       "again for a new confirmation)\n",
			    ti.key, sc, date);
		return OG_EXIT_NO;
	}
	return apply_print(cli, &ch, "confirm", "confirm");
}

/* ---------- optout, suppress, unsuppress ---------- */

static const struct option scope_lo[] = {{"stream", 1, NULL, 'S'},
    {"partner", 1, NULL, 'P'}, {"sender", 1, NULL, 'D'}, {"all", 0, NULL, 'A'},
    {"reason", 1, NULL, 'r'}, {"expires", 1, NULL, 'e'},
    {"source", 1, NULL, 's'}, {"note", 1, NULL, 'n'}, {NULL, 0, NULL, 0}};

/*
 * What optout, suppress and unsuppress share once their options are
 * read: the one operand ADDR, the scope checked against the config, the
 * store opened, and ch filled for an admin change of kind at that scope
 * (a->key and a->raw must outlive ch).
 */
static int
scoped_change(og_cli *cli, int argc, char **argv, const char *usage,
    struct scope_opt *so, int kind, og_addr *a, og_change *ch)
{
	int rc;

	if (optind + 1 != argc)
		return og_cli_usage(usage);
	/* unsuppress lifts what is there, however it was written */
	rc = kind == OG_EV_UNSUPPRESS
	         ? og_cli_addr(cli, argv[optind], a)
	         : og_cli_addr_record(cli, argv[optind], a);
	if (rc != 0)
		return rc;
	/*
	 * A sender scope as the gate names it ("news@Example.COM." is
	 * example.com): spelt otherwise it would be recorded and stop
	 * nothing.  unsuppress takes the name as given, to lift an entry
	 * whatever its spelling.
	 */
	if (so->scope == OG_SCOPE_SENDER && kind != OG_EV_UNSUPPRESS) {
		if (og_config_sender_name(
		        cli->cfg, so->name, so->nbuf, sizeof(so->nbuf)) != 0) {
			fprintf(stderr,
			    "optgate: --sender %s: expected a domain, an "
			    "address (its domain is the scope) or a stream's "
			    "sender name\n",
			    so->name);
			return OG_EXIT_USAGE;
		}
		so->name = so->nbuf;
	}
	/* A partner no stream has: recorded, it would stop nothing. */
	if (so->scope == OG_SCOPE_PARTNER && kind != OG_EV_UNSUPPRESS &&
	    so->name != NULL &&
	    og_config_partner(cli->cfg, so->name, strlen(so->name)) == NULL) {
		fprintf(stderr,
		    "optgate: --partner %s: no stream has partner = %s, so it "
		    "would stop nothing (a partner is named as a stream's "
		    "partner key, in any case)\n",
		    so->name, so->name);
		return OG_EXIT_USAGE;
	}
	if ((rc = scope_check(cli, so)) != 0 ||
	    (rc = og_cli_store(cli, 0)) != 0)
		return rc;
	memset(ch, 0, sizeof(*ch));
	ch->key = a->key;
	ch->raw = a->raw;
	ch->kind = kind;
	ch->scope = (uint8_t)so->scope;
	ch->name = so->name;
	ch->via = OG_VIA_ADMIN;
	ch->time = og_time_now();
	return 0;
}

int
cmd_optout(og_cli *cli, int argc, char **argv)
{
	const char *usage = "optout ADDR [--stream S | --partner P | "
	                    "--sender D | --all] [--source T]";
	struct scope_opt so = {OG_SCOPE_ALL, NULL, 0, ""};
	const char *source = NULL;
	char sw[128], scbuf[96];
	og_change ch;
	og_addr a;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", scope_lo, NULL)) != -1) {
		if (scope_option(&so, c, optarg))
			continue;
		if (c == 's')
			source = optarg;
		else
			return og_cli_usage(usage);
	}
	if ((rc = scoped_change(
	         cli, argc, argv, usage, &so, OG_EV_OPTOUT, &a, &ch)) != 0)
		return rc;
	ch.f[OG_EVF_SOURCE] = source ? source : "admin";
	snprintf(sw, sizeof(sw), "optout (%s)",
	    scope_text(so.scope, so.name, scbuf, sizeof(scbuf)));
	return apply_print(cli, &ch, "optout", sw);
}

int
cmd_suppress(og_cli *cli, int argc, char **argv)
{
	const char *usage =
	    "suppress ADDR --reason hard-bounce|complaint|"
	    "manual [--expires 30d] [--stream S | --partner P | --sender D | "
	    "--all] [--source T] [--note TEXT]";
	struct scope_opt so = {OG_SCOPE_ALL, NULL, 0, ""};
	const char *note = NULL, *source = NULL;
	int reason = -1, c, rc;
	int64_t exp = 0;
	char sw[160], scbuf[96];
	og_change ch;
	og_addr a;

	while ((c = getopt_long(argc, argv, "", scope_lo, NULL)) != -1) {
		if (scope_option(&so, c, optarg))
			continue;
		switch (c) {
		case 'r':
			reason = og_reason_parse(optarg);
			if (reason != OG_RS_HARD_BOUNCE &&
			    reason != OG_RS_COMPLAINT &&
			    reason != OG_RS_MANUAL) {
				fprintf(stderr,
				    "optgate: --reason: expected "
				    "hard-bounce, complaint or manual\n");
				return OG_EXIT_USAGE;
			}
			break;
		case 'e':
			if (og_cli_duration("--expires", optarg,
			        100LL * 366 * 86400, &exp) != 0)
				return OG_EXIT_USAGE;
			break;
		case 'n':
			note = optarg;
			break;
		case 's':
			source = optarg;
			break;
		default:
			return og_cli_usage(usage);
		}
	}
	if (reason < 0)
		return og_cli_usage(usage);
	if ((rc = scoped_change(
	         cli, argc, argv, usage, &so, OG_EV_SUPPRESS, &a, &ch)) != 0)
		return rc;
	ch.reason = (uint8_t)reason;
	ch.expires = exp ? ch.time + exp : 0;
	ch.f[OG_EVF_SOURCE] = source ? source : "admin";
	ch.f[OG_EVF_NOTE] = note;
	snprintf(sw, sizeof(sw), "suppress %s (%s)%s", og_reason_name(reason),
	    scope_text(so.scope, so.name, scbuf, sizeof(scbuf)),
	    exp ? " temporary" : "");
	return apply_print(cli, &ch, "suppress", sw);
}

/*
 * After an unsuppress: the suppressions of other scopes that still stop
 * the address, each with the option that lifts it, and its opt-outs (the
 * person's own choice, named, not offered for lifting).  Without this,
 * "unsuppress ADDR" on an address suppressed for one sender or partner
 * said "unchanged (already so)", exit 0, and she stayed refused.
 */
static void
unsuppress_others(og_cli *cli, const og_change *ch)
{
	static const char *opt[] = {
	    "", "--all", "--sender", "--partner", "--stream"};
	const char *addr = ch->raw ? ch->raw : ch->key;
	int64_t now = og_time_now();
	og_record *rec;
	og_rtxn *tx;
	char what[OG_STREAM_NAME_MAX + 32];
	int i;

	if (og_store_rbegin(cli->store, &tx) != 0)
		return;
	fflush(stdout); /* the notes after the result, also in a pipe */
	rec = og_xmalloc(sizeof(*rec));
	if (og_store_get(tx, ch->key, rec) == 0) {
		(void)og_record_settle(rec, now);
		for (i = 0; i < rec->nentries; i++) {
			const og_entry *e = &rec->entries[i];

			if ((e->state != OG_ST_OPTOUT &&
			        e->state != OG_ST_SUPPRESSED) ||
			    (e->expires && e->expires <= now) ||
			    e->scope < OG_SCOPE_ALL ||
			    e->scope > OG_SCOPE_STREAM ||
			    (e->scope == ch->scope &&
			        (e->scope == OG_SCOPE_ALL ||
			            strcmp(e->name, ch->name) == 0)))
				continue;
			if (e->scope == OG_SCOPE_ALL)
				snprintf(what, sizeof(what), "all mail");
			else
				snprintf(what, sizeof(what), "%s %s",
				    og_scope_name(e->scope), e->name);
			if (e->state == OG_ST_OPTOUT)
				fprintf(stderr,
				    "optgate: note: %s is still opted out of "
				    "%s (the person's own choice)\n",
				    addr, what);
			else
				fprintf(stderr,
				    "optgate: note: %s is still suppressed "
				    "(%s) for %s: lift it with optgate "
				    "unsuppress %s %s%s%s\n",
				    addr, og_reason_name(e->reason), what, addr,
				    opt[e->scope],
				    e->scope == OG_SCOPE_ALL ? "" : " ",
				    e->scope == OG_SCOPE_ALL ? "" : e->name);
		}
	}
	og_store_rend(tx);
	free(rec);
}

int
cmd_unsuppress(og_cli *cli, int argc, char **argv)
{
	const char *usage = "unsuppress ADDR [--stream S | --partner P | "
	                    "--sender D | --all] [--note TEXT]";
	struct scope_opt so = {OG_SCOPE_ALL, NULL, 0, ""};
	const char *note = NULL;
	og_change ch;
	og_addr a;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", scope_lo, NULL)) != -1) {
		if (scope_option(&so, c, optarg))
			continue;
		if (c == 'n')
			note = optarg;
		else
			return og_cli_usage(usage);
	}
	if ((rc = scoped_change(
	         cli, argc, argv, usage, &so, OG_EV_UNSUPPRESS, &a, &ch)) != 0)
		return rc;
	ch.f[OG_EVF_SOURCE] = "admin";
	ch.f[OG_EVF_NOTE] = note;
	rc = apply_print(cli, &ch, "unsuppress", "unsuppress");
	if (rc == OG_EXIT_OK)
		unsuppress_others(cli, &ch);
	return rc;
}

/* ---------- status ---------- */

/*
 * The caps that apply to this address on st: a segment's caps replace
 * the stream's (og_gate_caps, as the gate decides), and the person's
 * own cap is added.
 */
static int
status_caps(const og_stream *st, const og_record *rec, og_cap *out, int *nbase)
{
	int n, i;
	const og_cap *caps = og_gate_caps(st, rec, &n);

	memcpy(out, caps, (size_t)n * sizeof(*out));
	*nbase = n;
	for (i = 0; rec && i < rec->nentries; i++)
		if (rec->entries[i].scope == OG_SCOPE_STREAM &&
		    rec->entries[i].pref.limit &&
		    strcmp(rec->entries[i].name, st->name) == 0)
			out[n++] = rec->entries[i].pref;
	return n;
}

/*
 * The envelope sender to judge st with, as the daemons do: --from, else
 * the one domain of the stream's sender: lines (the daemons name the
 * sender scope by the envelope's domain when the stream has no sender
 * key).  NULL when neither says: sender-scope entries are then not
 * judged, and *unknown is set for a stream without a sender key.
 */
static const char *
status_sender(const og_stream *st, const char *from, int *unknown)
{
	*unknown = 0;
	return from ? from : og_gate_stream_sender(st, unknown);
}

/* Does rec hold an opt-out or suppression of a sender scope? */
static int
has_sender_stop(const og_record *rec)
{
	int i;

	for (i = 0; rec && i < rec->nentries; i++)
		if (rec->entries[i].scope == OG_SCOPE_SENDER &&
		    (rec->entries[i].state == OG_ST_OPTOUT ||
		        rec->entries[i].state == OG_ST_SUPPRESSED))
			return 1;
	return 0;
}

/*
 * The proof behind a refusal by an opt-out or suppression: the event
 * that set the entry (a bounce's status and diagnostic, a complaint's
 * report and reporter, an admin's note), as audit shows it.  Returns 0
 * when there is none to show.
 */
static int
status_why(og_rtxn *tx, const og_record *rec, const og_verdict *v, og_event *ev)
{
	int i;

	if (tx == NULL || v->action == OG_ACCEPT || v->event == 0)
		return 0;
	/* (the entry's, as export reads it: also from an older store) */
	for (i = 0; rec && i < rec->nentries; i++)
		if (rec->entries[i].event == v->event)
			return og_store_entry_event(
			           tx, rec, &rec->entries[i], ev) == 0;
	return og_store_event_get(tx, v->event, ev) == 0;
}

/*
 * The width of the stream column: the longest name shown, at least 16
 * (the width status always had), so that every verdict and the lines
 * under it start in the same column, as ls -l aligns its sizes.
 */
static int
status_width(const og_config *cfg, const og_stream *one)
{
	int i, w = 16;

	for (i = 0; i < cfg->nstreams; i++)
		if (one == NULL || &cfg->streams[i] == one)
			w = og_width(w, cfg->streams[i].name);
	return w;
}

static void
status_stream(og_cli *cli, og_rtxn *tx, const og_stream *st,
    const og_record *rec, const char *addr, const char *from, int64_t now,
    int w, og_buf *b, int *accepted)
{
	og_verdict v;
	og_cap caps[OG_CAPS_MAX + 1];
	int64_t times[OG_SENDS_MAX], next;
	int n = 0, i, j, ncaps = 0, nbase = 0, unknown;
	char ts[32], per[16];
	const char *sender = status_sender(st, from, &unknown);
	og_event *ev = og_xmalloc(sizeof(*ev));
	int why;

	og_gate_decide(cli->cfg, tx, st, sender, addr, now, &v);
	if (v.action == OG_ACCEPT)
		(*accepted)++;
	why = status_why(tx, rec, &v, ev);
	if (tx && v.key[0])
		og_store_get_sends(
		    tx, v.key, st->name, times, OG_SENDS_MAX, &n);
	if (st->class != OG_CLASS_TRANSACTIONAL)
		ncaps = status_caps(st, rec, caps, &nbase);
	/* when the caps let the next message through */
	next = v.next_allowed          ? v.next_allowed
	       : v.action == OG_ACCEPT ? now
	                               : 0;
	if (cli->json) {
		og_buf_adds(b, "{\"address\":");
		og_json_str(b, addr);
		og_buf_adds(b, ",\"stream\":");
		og_json_str(b, st->name);
		og_buf_adds(b, ",\"verdict\":");
		og_json_str(b,
		    v.action == OG_ACCEPT ? "accept" : og_gate_action_name(&v));
		og_buf_adds(b, ",\"rule\":");
		og_json_str(b, v.rule);
		og_buf_adds(b, ",\"reason\":");
		og_json_str(b, v.reason);
		og_buf_adds(b, ",\"reply\":");
		og_buf_printf(b, "\"%d %s\"", v.code, v.dsn);
		og_buf_adds(b, ",\"text\":");
		og_json_str(b, v.text);
		if (why) {
			og_buf_printf(b,
			    ",\"why\":{\"event\":%llu,\"time\":\"%s\","
			    "\"via\":\"%s\"",
			    (unsigned long long)ev->seq,
			    og_time_fmt(ev->time, ts, sizeof(ts)),
			    og_via_name(ev->via));
			og_cli_event_fields(b, ev, OG_EVF_SOURCE, 1);
			/* a temporary one: its end, and a pause's consent */
			if (ev->expires)
				og_buf_printf(b, ",\"until\":\"%s\"",
				    og_time_fmt(ev->expires, ts, sizeof(ts)));
			for (i = 0; rec && i < rec->nentries; i++)
				if (rec->entries[i].event == v.event &&
				    rec->entries[i].resume)
					og_buf_printf(b,
					    ",\"then\":{\"state\":\"%s\","
					    "\"given\":\"%s\"}",
					    og_state_name(
					        rec->entries[i].resume),
					    og_time_fmt(
					        rec->entries[i].resume_time, ts,
					        sizeof(ts)));
			og_buf_adds(b, "}");
		}
		og_buf_adds(b, ",\"sends\":[");
		for (i = 0; i < n; i++)
			og_buf_printf(b, "%s\"%s\"", i ? "," : "",
			    og_time_fmt(times[i], ts, sizeof(ts)));
		og_buf_adds(b, "],\"caps\":[");
		for (i = 0; i < ncaps; i++) {
			int cnt = 0;

			for (j = 0; j < n; j++)
				if (times[j] > now - (int64_t)caps[i].period)
					cnt++;
			og_buf_printf(b, "%s{\"cap\":\"%u/%s\",\"sent\":%d",
			    i ? "," : "", caps[i].limit,
			    og_duration_fmt(caps[i].period, per, sizeof(per)),
			    cnt);
			og_buf_adds(b, i >= nbase ? ",\"chosen\":true}" : "}");
		}
		og_buf_adds(b, "]");
		if (next)
			og_buf_printf(b, ",\"next_allowed\":\"%s\"",
			    og_time_fmt(next, ts, sizeof(ts)));
		if (unknown && has_sender_stop(rec))
			og_buf_adds(b, ",\"sender_scope_judged\":false");
		og_buf_adds(b, "}");
		og_cli_flush(b);
		free(ev);
		return;
	}
	printf("  %-*s %-8s %s\n", w, st->name,
	    v.action == OG_ACCEPT ? "accept" : og_gate_action_name(&v),
	    v.action == OG_ACCEPT
	        ? (st->class == OG_CLASS_TRANSACTIONAL ? "transactional"
	                                               : "consent ok")
	        : v.text);
	if (why) {
		og_cli_event_fields(b, ev, OG_EVF_SOURCE, 0);
		printf("  %-*s          recorded %s (event #%llu) via %s:%s\n",
		    w, "", og_time_fmt(ev->time, ts, sizeof(ts)),
		    (unsigned long long)ev->seq, og_via_name(ev->via),
		    b->len ? b->data : "");
		og_buf_reset(b);
	}
	for (i = 0; i < ncaps; i++) {
		int cnt = 0;

		for (j = 0; j < n; j++)
			if (times[j] > now - (int64_t)caps[i].period)
				cnt++;
		printf("  %-*s          cap %u/%s%s: %d sent in window\n", w,
		    "", caps[i].limit,
		    og_duration_fmt(caps[i].period, per, sizeof(per)),
		    i >= nbase ? " (recipient's choice)" : "", cnt);
	}
	if (next)
		printf("  %-*s          next send allowed %s%s\n", w, "",
		    next <= now ? "now" : "from ",
		    next <= now ? "" : og_time_fmt(next, ts, sizeof(ts)));
	if (unknown && has_sender_stop(rec))
		printf("  %-*s          note: sender-scope entries not "
		       "judged: the envelope sender's domain decides (give "
		       "--from ADDR)\n",
		    w, "");
	free(ev);
}

/*
 * The end of an entry's line: its cap the person chose, if any; w > 0:
 * the entry has nothing else to show, its scope and state come first.
 */
static void
print_pref(const og_entry *e, int w, const char *lead)
{
	char per[16];

	if (w > 0)
		printf("  %-8s %-*s %-10s", og_scope_name(e->scope), w,
		    e->name[0] ? e->name : "-", og_state_name(e->state));
	if (e->pref.limit)
		printf("%s %u/%s", lead, e->pref.limit,
		    og_duration_fmt(e->pref.period, per, sizeof(per)));
	printf("\n");
}

static void
print_record(const og_record *rec, int64_t now)
{
	char t[32], x[32];
	int i, w = 14;

	/* the name column fits the longest stream, partner or sender */
	for (i = 0; i < rec->nentries; i++)
		w = og_width(w, rec->entries[i].name);
	printf("address %s (match key %s), since %s\n", rec->raw, rec->key,
	    og_time_fmt(rec->created, t, sizeof(t)));
	if (rec->nsegments) {
		printf("  segments:");
		for (i = 0; i < rec->nsegments; i++)
			printf(" %s", rec->segments[i]);
		printf("\n");
	}
	for (i = 0; i < rec->nentries; i++) {
		const og_entry *e = &rec->entries[i];

		/*
		 * An entry that holds only the cap a person chose (the
		 * preference page, an import's cap column) has no time or
		 * channel of its own: not "1970-01-01 via admin".
		 */
		if (e->state == OG_ST_NONE && e->time == 0) {
			print_pref(e, w, e->pref.limit ? " chose" : "");
			continue;
		}
		printf("  %-8s %-*s %-10s %s%s%s via %s",
		    og_scope_name(e->scope), w, e->name[0] ? e->name : "-",
		    og_state_name(e->state),
		    e->reason ? og_reason_name(e->reason) : "",
		    e->reason ? " " : "", og_time_fmt(e->time, t, sizeof(t)),
		    og_via_name(e->via));
		/* an ended one stays until optgate expire drops it */
		if (e->expires)
			printf(", %s %s",
			    e->expires <= now ? "ended (expired)" : "expires",
			    og_time_fmt(e->expires, x, sizeof(x)));
		/* a pause: the consent that holds again at its end */
		if (e->resume)
			printf(", then %s again (given %s via %s)",
			    og_state_name(e->resume),
			    og_time_fmt(e->resume_time, x, sizeof(x)),
			    og_via_name(e->resume_via));
		print_pref(e, 0, ", chose");
	}
}

int
cmd_status(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"stream", 1, NULL, 'S'},
	    {"from", 1, NULL, 'F'}, {NULL, 0, NULL, 0}};
	/* explain is this command under the question's name */
	const char *usage = strcmp(argv[0], "explain") == 0
	                        ? "explain ADDR [--stream S] [--from ADDR]"
	                        : "status ADDR [--stream S] [--from ADDR]";
	const char *stream = NULL, *from = NULL;
	char fbuf[OG_ADDR_INPUT_MAX + 1], abuf[2 * OG_ADDR_INPUT_MAX + 3];
	const char *addr;
	const og_stream *one = NULL;
	og_record *rec;
	og_rtxn *tx = NULL;
	og_addr a;
	og_buf b;
	int c, rc, accepted = 0, i, found, w;
	int64_t now;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'S')
			stream = optarg;
		else if (c == 'F')
			from = optarg;
		else
			return og_cli_usage(usage);
	}
	if (optind + 1 != argc)
		return og_cli_usage(usage);
	if (from) {
		/* as the daemons read MAIL FROM: <>, a route, quotes */
		og_addr fa;

		from = og_addr_envelope(from, fbuf, sizeof(fbuf));
		if (*from &&
		    og_addr_parse(from, strlen(from), NULL, &fa) != 0) {
			fprintf(stderr, "optgate: --from: %s\n",
			    fa.error ? fa.error : "invalid address");
			return OG_EXIT_USAGE;
		}
	}
	/*
	 * As the daemons read RCPT TO, so that the address as the client
	 * wrote it (Postfix logs to=<ana@example.com.>) is judged as they
	 * judged it.
	 */
	addr = og_addr_envelope(argv[optind], abuf, sizeof(abuf));
	if ((rc = og_cli_addr_lookup(cli, argv[optind], &a)) != 0)
		return rc;
	if (stream && (one = og_cli_stream(cli, stream)) == NULL)
		return OG_EXIT_USAGE;
	if ((rc = og_cli_store(cli, OG_STORE_READ)) != 0)
		return rc;
	if ((rc = og_store_rbegin(cli->store, &tx)) != 0) {
		fprintf(stderr, "optgate: store: %s\n", og_strerror(rc));
		return og_cli_exit_for(rc);
	}
	now = og_time_now();
	rec = og_xmalloc(sizeof(*rec));
	found = og_store_get(tx, a.key, rec) == 0;
	if (found)
		(void)og_record_settle(rec, now);
	og_buf_init(&b, 0);
	if (!cli->json) {
		if (found)
			print_record(rec, now);
		else
			printf("address %s (match key %s): no record\n", a.norm,
			    a.key);
		if (a.typo[0])
			printf("  warning: domain looks like a typo of %s\n",
			    a.typo);
		if (cli->cfg->nstreams == 0)
			printf("  (no streams configured)\n");
	}
	w = status_width(cli->cfg, one);
	if (one) {
		status_stream(cli, tx, one, found ? rec : NULL, addr, from, now,
		    w, &b, &accepted);
	} else {
		for (i = 0; i < cli->cfg->nstreams; i++)
			status_stream(cli, tx, &cli->cfg->streams[i],
			    found ? rec : NULL, addr, from, now, w, &b,
			    &accepted);
	}
	og_store_rend(tx);
	og_buf_free(&b);
	free(rec);
	if (one)
		return accepted ? OG_EXIT_OK : OG_EXIT_NO;
	return found || accepted ? OG_EXIT_OK : OG_EXIT_NO;
}

/* ---------- check-address, token, config ---------- */

int
cmd_check_address(og_cli *cli, int argc, char **argv)
{
	char buf[2 * OG_ADDR_INPUT_MAX + 3];
	const char *e;
	og_addr a;
	og_buf b;
	int rc;

	if (argc != 2)
		return og_cli_usage("check-address ADDR");
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	/* the match key the daemons judge that RCPT TO by */
	e = og_addr_envelope(argv[1], buf, sizeof(buf));
	rc = og_addr_parse(e, strlen(e), &cli->cfg->rules, &a);
	og_buf_init(&b, 0);
	if (cli->json) {
		og_buf_adds(&b, "{\"input\":");
		og_json_str(&b, argv[1]);
		og_buf_printf(&b, ",\"valid\":%s", rc == 0 ? "true" : "false");
		if (rc == 0) {
			og_buf_adds(&b, ",\"normalised\":");
			og_json_str(&b, a.norm);
			og_buf_adds(&b, ",\"key\":");
			og_json_str(&b, a.key);
			og_buf_adds(&b, ",\"typo\":");
			if (a.typo[0])
				og_json_str(&b, a.typo);
			else
				og_buf_adds(&b, "null");
		} else {
			og_buf_adds(&b, ",\"error\":");
			og_json_str(&b, a.error ? a.error : "syntax");
		}
		og_buf_adds(&b, "}");
		og_cli_flush(&b);
	} else if (rc == 0) {
		printf("address:    %s\nnormalised: %s\nmatch key:  %s\n",
		    a.raw, a.norm, a.key);
		if (a.typo[0])
			printf("warning:    the domain looks like a typo of %s "
			       "(not changed)\n",
			    a.typo);
	} else {
		printf("invalid: %s\n", a.error ? a.error : "syntax");
	}
	og_buf_free(&b);
	return rc == 0 ? OG_EXIT_OK : OG_EXIT_NO;
}

/* Replace %t in a template with the token. */
static void
expand(og_buf *b, const char *tmpl, const char *tok)
{
	const char *p;

	for (p = tmpl; *p; p++) {
		if (p[0] == '%' && p[1] == 't') {
			og_buf_adds(b, tok);
			p++;
		} else {
			og_buf_addc(b, *p);
		}
	}
}

int
cmd_token(og_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"stream", 1, NULL, 'S'}, {NULL, 0, NULL, 0}};
	const char *stream = NULL;
	const og_stream *st;
	char tok[OG_TOKEN_MAX + 1];
	og_addr a;
	og_buf b;
	int c, rc, i;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'S')
			stream = optarg;
		else
			return og_cli_usage("token ADDR --stream S");
	}
	if (optind + 1 != argc || stream == NULL)
		return og_cli_usage("token ADDR --stream S");
	if ((rc = og_cli_addr_record(cli, argv[optind], &a)) != 0)
		return rc;
	if ((st = og_cli_stream(cli, stream)) == NULL)
		return OG_EXIT_USAGE;
	if ((rc = og_cli_keys(cli)) != 0)
		return rc;
	rc = og_token_make(cli->keys, OG_TOKEN_UNSUB, a.key, st->name,
	    og_time_now(), tok, sizeof(tok));
	if (rc != 0) {
		fprintf(stderr, "optgate: token: %s\n", og_strerror(rc));
		return OG_EXIT_SYSTEM;
	}
	og_buf_init(&b, 0);
	if (cli->json) {
		og_buf_adds(&b, "{\"address\":");
		og_json_str(&b, a.norm);
		og_buf_adds(&b, ",\"stream\":");
		og_json_str(&b, st->name);
		og_buf_adds(&b, ",\"token\":");
		og_json_str(&b, tok);
		og_buf_adds(&b, ",\"unsubscribe\":[");
		for (i = 0; i < st->nunsubscribe; i++) {
			og_buf e;

			og_buf_init(&e, 0);
			expand(&e, st->unsubscribe[i], tok);
			if (i)
				og_buf_addc(&b, ',');
			og_json_str(&b, e.data);
			og_buf_free(&e);
		}
		og_buf_adds(&b, "]}");
		og_cli_flush(&b);
	} else {
		printf("token: %s\n", tok);
		for (i = 0; i < st->nunsubscribe; i++) {
			expand(&b, st->unsubscribe[i], tok);
			printf("unsubscribe: %s\n", b.data);
			og_buf_reset(&b);
		}
		if (st->nunsubscribe == 0)
			printf("(stream %s has no unsubscribe targets)\n",
			    st->name);
	}
	og_buf_free(&b);
	return 0;
}

/* A unix socket (unix:PATH, local:PATH) whose folder is missing here. */
static void
socket_note(const char *l)
{
	const char *path = NULL, *slash;
	char dir[4096];
	struct stat sb;

	if (l == NULL)
		return;
	if (strncmp(l, "unix:", 5) == 0)
		path = l + 5;
	else if (strncmp(l, "local:", 6) == 0)
		path = l + 6;
	if (path == NULL || (slash = strrchr(path, '/')) == NULL ||
	    slash == path || (size_t)(slash - path) >= sizeof(dir))
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	if (stat(dir, &sb) != 0)
		printf("note: %s: folder %s: %s on this host (the daemon "
		       "does not create it)\n",
		    l, dir, strerror(errno));
}

/*
 * The keys file that is there: one that does not load (a duplicate id,
 * a cut line, group or other access) and one a daemon's user cannot read
 * let the daemons run on the keys they hold, and fail them at the next
 * reload (the new key is not taken) or start.  Root reads any file, so
 * the user's access is told by the owner and mode (0600: the owner only).
 */
static void
keys_notes(const og_config *cfg, const struct stat *sb)
{
	const struct {
		const char *key, *name, *daemon;
	} who[] = {
	    {"[milter] user", cfg->milter_user, "optgate-milter"},
	    {"[unsubd] user", cfg->unsubd_user, "optgate-unsubd"},
	};
	og_keyring *kr = NULL;
	struct passwd *pw, *owner;
	char err[512], uid[24];
	size_t i;

	if (geteuid() != 0 && access(cfg->keys_file, R_OK) != 0) {
		printf("note: [keys] file %s: %s: not checked (run config "
		       "check as root or as its owner)\n",
		    cfg->keys_file, strerror(errno));
		return;
	}
	if (og_keyring_load(cfg->keys_file, &kr, err, sizeof(err)) != 0) {
		printf("warning: [keys] file %s (optgate-milter and "
		       "optgate-unsubd would not start with it; their reload "
		       "keeps the keys they hold)\n",
		    err);
		return;
	}
	og_keyring_free(kr);
	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		if (who[i].name == NULL || *who[i].name == 0 ||
		    (pw = getpwnam(who[i].name)) == NULL || pw->pw_uid == 0 ||
		    pw->pw_uid == sb->st_uid)
			continue;
		owner = getpwuid(sb->st_uid);
		snprintf(uid, sizeof(uid), "%lu", (unsigned long)sb->st_uid);
		printf("warning: [keys] file %s: owned by %s, mode %04o: "
		       "%s reads it as root at start, but as %s (%s) at a "
		       "reload, which then fails and keeps the old keys "
		       "(chown %s %s)\n",
		    cfg->keys_file, owner != NULL ? owner->pw_name : uid,
		    (unsigned)(sb->st_mode & 07777), who[i].daemon, who[i].name,
		    who[i].key, who[i].name, cfg->keys_file);
	}
}

/* Whether optgate-policyd listens on a unix socket. */
static int
policyd_unix(const og_config *cfg)
{
	int i;

	for (i = 0; i < cfg->npolicyd_listen; i++)
		if (strncmp(cfg->policyd_listen[i], "unix:", 5) == 0)
			return 1;
	return 0;
}

/*
 * What this host lacks for the config (the file itself is fine, and may
 * be meant for another host): said as notes, so that `config check`
 * before the first start names what the daemons would die of: users and
 * groups, the folders of unix sockets, the store, the keys file.
 */
static void
host_notes(const og_config *cfg)
{
	/* optgate-policyd gives its owner and group to unix: sockets only */
	int un = policyd_unix(cfg);
	const struct {
		const char *key, *name;
		int group, drop; /* drop: the user a daemon becomes */
	} who[] = {
	    {"[policyd] user", cfg->policyd_user, 0, 1},
	    {"[policyd] socket_owner", un ? cfg->policyd_socket_owner : NULL, 0,
	        0},
	    {"[policyd] socket_group", un ? cfg->policyd_socket_group : NULL, 1,
	        0},
	    {"[milter] user", cfg->milter_user, 0, 1},
	    {"[unsubd] user", cfg->unsubd_user, 0, 1},
	};
	struct stat sb;
	char why[600];
	size_t i;
	int list = 0, rc;

	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		struct passwd *pw = NULL;

		if (who[i].name == NULL || *who[i].name == 0)
			continue;
		if (who[i].group ? getgrnam(who[i].name) == NULL
		                 : (pw = getpwnam(who[i].name)) == NULL)
			printf("note: %s: no %s \"%s\" on this host: the "
			       "daemon will not start (%s %s)\n",
			    who[i].key, who[i].group ? "group" : "user",
			    who[i].name,
			    who[i].group ? "addgroup --system"
			                 : "adduser --system --group",
			    who[i].name);
		else if (who[i].drop && pw->pw_uid == 0)
			printf("warning: %s: \"%s\" has user id 0 (root): "
			       "the daemon will not start; name an "
			       "unprivileged user (adduser --system --group "
			       "optgate), or leave user out to run as root\n",
			    who[i].key, who[i].name);
	}
	for (i = 0; i < (size_t)cfg->npolicyd_listen; i++)
		socket_note(cfg->policyd_listen[i]);
	socket_note(cfg->milter_socket);
	/* optgate-unsubd reads them as root, before it drops to its user */
	if (cfg->unsubd_tls_cert != NULL && cfg->unsubd_tls_key != NULL &&
	    (rc = og_config_tls_pair(cfg->unsubd_tls_cert, cfg->unsubd_tls_key,
	         NULL, why, sizeof(why))) != 0)
		printf("%s: %s%s: optgate-unsubd will not start\n",
		    rc == OG_NOTFOUND ? "note" : "warning", why,
		    rc == OG_NOTFOUND ? " on this host" : "");
	if (cfg->store_path && stat(cfg->store_path, &sb) != 0)
		printf("note: [store] path %s: %s on this host (run "
		       "optgate init)\n",
		    cfg->store_path, strerror(errno));
	for (i = 0; i < (size_t)cfg->nstreams; i++)
		list |= cfg->streams[i].list;
	if (list && cfg->keys_file && *cfg->keys_file &&
	    stat(cfg->keys_file, &sb) != 0)
		printf("note: [keys] file %s: %s on this host (optgate init "
		       "makes one): optgate-milter and optgate-unsubd will "
		       "not start without it\n",
		    cfg->keys_file, strerror(errno));
	else if (cfg->keys_file && *cfg->keys_file &&
	         stat(cfg->keys_file, &sb) == 0)
		keys_notes(cfg, &sb);
}

/*
 * The store's [address] settings against the config's, when the store
 * opens here: a mismatch is an error (the daemons would not start), a
 * store that does not open is host_notes' or the daemons' to say.
 */
static int
address_check(const og_config *cfg)
{
	og_store_opts o;
	og_store *st = NULL;
	char err[2048];
	int rc;

	if (cfg->store_path == NULL || access(cfg->store_path, R_OK) != 0)
		return 0;
	og_store_opts_config(&o, cfg, OG_STORE_READ);
	rc = og_store_open(cfg->store_path, &o, &st, err, sizeof(err));
	og_store_close(st);
	if (rc == OG_EADDRESS) {
		printf("error: %s\n", err);
		return OG_EXIT_USAGE;
	}
	if (rc != 0)
		printf("note: [store] path %s: %s: [address] settings not "
		       "compared\n",
		    cfg->store_path, err[0] ? err : og_strerror(rc));
	return 0;
}

/*
 * bounce_token = optional beside verp: every real bounce of that mail
 * carries our token, so one without it is forged (or not ours), and
 * optional lets it suppress any address the store knows.  It loads: a
 * copy of the config that says optional is README's way to retry
 * quarantined bounces the admin trusts.
 */
static void
bounce_token_warning(const og_config *cfg)
{
	int i;

	if (cfg->bounce_token != OG_BOUNCETOKEN_OPTIONAL)
		return;
	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].verp_address != NULL)
			break;
	if (i == cfg->nstreams)
		return;
	printf("warning: [feedback] bounce_token = optional with [stream "
	       "%s] verp: a bounce without our token, as a forged one is, "
	       "can suppress any address the store knows (remove the line: "
	       "auto requires the token once a stream has verp; see "
	       "\"Forged bounces\" in the README)\n",
	    cfg->streams[i].name);
}

int
cmd_config(og_cli *cli, int argc, char **argv)
{
	int i, rc;

	if (argc != 2 || strcmp(argv[1], "check") != 0)
		return og_cli_usage("config check");
	if ((rc = og_cli_config(cli)) != 0)
		return rc;
	printf("%s: ok (%d stream%s", cli->cfg->path, cli->cfg->nstreams,
	    cli->cfg->nstreams == 1 ? "" : "s");
	for (i = 0; i < cli->cfg->nstreams; i++)
		printf("%s%s", i ? ", " : ": ", cli->cfg->streams[i].name);
	printf(")\n");
	/* It loads (the daemons run with it), but ignores these lines. */
	for (i = 0; i < cli->cfg->nwarnings; i++)
		printf("warning: %s\n", cli->cfg->warnings[i]);
	for (i = 0; i < cli->cfg->nstreams; i++) {
		const og_stream *st = &cli->cfg->streams[i];
		int sc = cli->cfg->unsubd_scope;
		const char *why;
		char shadow[512];

		if (og_stream_rcpt_shadow(cli->cfg, st, shadow, sizeof(shadow)))
			printf("warning: %s\n", shadow);

		/*
		 * The daemons run with it (a warning, not an error): the
		 * links still work, but receivers offer no one-click.
		 */
		if (!og_stream_one_click(st, &why) && why != NULL)
			printf("warning: %s:%d: [stream %s] unsubscribe: %s: "
			       "optgate-milter adds no List-Unsubscribe-Post, "
			       "so Gmail and Yahoo offer no one-click "
			       "unsubscribe (keep one https: target, and "
			       "mailto: if wanted)\n",
			    cli->cfg->path, st->unsubscribe_line, st->name,
			    why);

		if (st->list && ((sc == OG_SCOPE_PARTNER && !st->partner) ||
		                    (sc == OG_SCOPE_SENDER && !st->sender)))
			printf("note: stream %s has no %s: its unsubscribes "
			       "(one-click, mail) opt out of the stream only "
			       "([unsubd] scope = %s)\n",
			    st->name, og_scope_name(sc), og_scope_name(sc));
	}
	bounce_token_warning(cli->cfg);
	host_notes(cli->cfg);
	return address_check(cli->cfg);
}
