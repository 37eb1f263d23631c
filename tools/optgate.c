/*
 * optgate.c - the admin CLI: option parsing and command dispatch.
 *
 * Usage: optgate [-c FILE] [--json] [-v] COMMAND [ARGS]
 * (optgate --help lists the commands, optgate COMMAND --help shows one)
 * The commands live in optgate_*.c; this file only finds them.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "og_log.h"
#include "optgate.h"

/*
 * One row per command: its arguments as `optgate COMMAND --help` and
 * `optgate --help` show them (every option the command takes: an admin
 * reads them here, not in the source), and what it does.
 */
static const struct cmd {
	const char *name;
	og_cmd_fn fn;
	const char *args;
	const char *what;
} cmds[] = {
    {"init", cmd_init, "", "create the store (and a keys file if none)"},
    {"keygen", cmd_keygen, "[--id 1-255]",
        "print a new token key line for the keys file"},
    {"optin", cmd_optin,
        "ADDR --stream S [--single | --double] [--source T] [--ip IP] "
        "[--user-agent UA] [--segment SEG] [--time RFC3339]",
        "record an opt-in (default: confirmed, vouched for by you)"},
    {"confirm", cmd_confirm, "TOKEN [--ip IP] [--user-agent UA]",
        "confirm a double opt-in"},
    {"optout", cmd_optout,
        "ADDR [--stream S | --partner P | --sender D | --all] [--source T]",
        "record an opt-out (default: --all)"},
    {"suppress", cmd_suppress,
        "ADDR --reason hard-bounce|complaint|manual [--expires 30d] "
        "[--stream S | --partner P | --sender D | --all] [--source T] "
        "[--note TEXT]",
        "suppress an address (hard-bounce and manual also stop "
        "transactional mail)"},
    {"unsuppress", cmd_unsuppress,
        "ADDR [--stream S | --partner P | --sender D | --all] [--note TEXT]",
        "lift a suppression"},
    {"status", cmd_status, "ADDR [--stream S] [--from ADDR]",
        "verdict and reason per stream (with --stream: exit 0 accepted, "
        "1 refused)"},
    {"explain", cmd_status, "ADDR [--stream S] [--from ADDR]",
        "why each stream takes or refuses the address (status under "
        "another name)"},
    {"check-address", cmd_check_address, "ADDR",
        "normalised form, match key, typo check"},
    {"token", cmd_token, "ADDR --stream S", "the unsubscribe token and URLs"},
    {"config", cmd_config, "check", "validate the configuration (text only)"},
    {"import", cmd_import,
        "FILE|- [--rejects FILE] [--warnings FILE] [--source TEXT] "
        "[--batch LINES]",
        "CSV of consent (exit 130: interrupted, run it again)"},
    {"audit", cmd_audit, "ADDR",
        "the address's whole history, in the order recorded"},
    {"export", cmd_export,
        "[--stream S] [--state optin,confirmed,pending,optout,suppressed] "
        "[--hashed KEYFILE]",
        "CSV (or JSON) of addresses and their state"},
    {"import-hashed", cmd_import_hashed,
        "FILE|- --partner P --key KEYFILE [--replace] [--rejects FILE]",
        "a partner's hashed suppression list"},
    {"erase", cmd_erase, "ADDR [--note REFERENCE] [--drop-shared]",
        "right to erasure (keyed hash kept; quarantined reports naming it "
        "removed)"},
    {"stats", cmd_stats, "",
        "counts, store use, events per day, complaint rates"},
    {"backup", cmd_backup, "DEST",
        "consistent compacted copy into DEST, a folder that does not exist "
        "yet (daemons may run)"},
    {"verify", cmd_verify, "[PATH]",
        "check the store or a backup (exit 1: problems)"},
    {"expire", cmd_expire, "[--keep DURATION]",
        "drop expired suppressions and old counters (cron)"},
    {"bounce", cmd_bounce,
        "[--dry-run] [--rcpt ADDR] [--client HOST] [--queue-id ID] "
        "[--maildir DIR | FILE...]",
        "bounces (pipe: stdin)"},
    {"fbl", cmd_fbl,
        "[--dry-run] [--rcpt ADDR] [--client HOST] [--queue-id ID] "
        "[--maildir DIR | FILE...]",
        "ARF complaints (pipe: stdin)"},
    {"unsub-mail", cmd_unsub_mail,
        "[--dry-run] [--rcpt ADDR] [--client HOST] [--queue-id ID] "
        "[--maildir DIR | FILE...]",
        "mails to the unsubscribe address (pipe: stdin)"},
    {"quarantine", cmd_quarantine, "list | retry [NAME...]",
        "reports kept for a human"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
help(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: optgate [-c FILE] [--json] [-v] COMMAND [ARGS]\n"
	            "\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %s%s%s\n      %s\n", cmds[i].name,
		    *cmds[i].args ? " " : "", cmds[i].args, cmds[i].what);
	fprintf(fp,
	    "\noptions (before or after the command):\n"
	    "  -c FILE   configuration (default %s)\n"
	    "  --json    one JSON object per line (init, keygen and config\n"
	    "            check print text only)\n"
	    "  -v        more detail\n"
	    "  --help    this text; after a command, that command's usage\n"
	    "\nexit codes:\n"
	    "  0   success (status --stream S: would be accepted)\n"
	    "  1   no, not found, refused, invalid address\n"
	    "  2   usage or configuration error\n"
	    "  3   store cannot be opened (missing, damaged, newer schema)\n"
	    "  4   store write failed (map full, disk full, I/O error)\n"
	    "  5   other system error (keys file, files)\n"
	    "  75  temporary failure (pipe commands: Postfix retries)\n"
	    "  130 import interrupted (run the same import again)\n",
	    OG_CONFIG_DEFAULT);
}

/* optgate COMMAND --help: that command's usage and what it does. */
static void
cmd_help(const struct cmd *c)
{
	printf("usage: optgate [-c FILE] [--json] [-v] %s%s%s\n%s\n", c->name,
	    *c->args ? " " : "", c->args, c->what);
}

/*
 * The store's files are written through a shared map (MDB_WRITEMAP): when
 * the disk is full, the kernel answers a write to a new page with
 * SIGBUS.  Nothing after the last commit is referenced by the store, so
 * it stays consistent; say so instead of dying silently.
 */
static void
on_sigbus(int sig)
{
	static const char msg[] =
	    "optgate: fatal: the store's file could "
	    "not grow (disk full?); stopped. Everything committed before is "
	    "intact (check with optgate verify); free space and run the "
	    "command again\n";
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(OG_EXIT_WRITE);
}

/*
 * A usage error's exit.  Run by Postfix's pipe(8) (which passes
 * MAIL_CONFIG, in its default export_environment), a mistyped command or
 * -c in master.cf's argv must defer the mail, not bounce it (an
 * unsubscribe mail back to its sender, the opt-out lost): 75, as the
 * feedback commands answer their own usage errors.
 */
static int
usage_exit(void)
{
	return getenv("MAIL_CONFIG") != NULL ? OG_EXIT_TEMPFAIL : OG_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	og_cli cli;
	char **rest;
	int i, n = 0, rc, want_help = 0;
	size_t c;

	memset(&cli, 0, sizeof(cli));
	og_log_open("optgate", OG_LOG_STDERR);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigbus;
		sigaction(SIGBUS, &sa, NULL);
	}
	/* Take the common options out wherever they stand. */
	rest = calloc((size_t)argc + 1, sizeof(char *));
	if (rest == NULL)
		return OG_EXIT_SYSTEM;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				free(rest);
				(void)og_cli_usage("-c FILE");
				return usage_exit();
			}
			cli.config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			cli.config_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--json") == 0) {
			cli.json = 1;
		} else if (strcmp(argv[i], "-v") == 0) {
			cli.verbose++;
		} else if (strcmp(argv[i], "-h") == 0 ||
		           strcmp(argv[i], "--help") == 0) {
			want_help = 1;
		} else if (strcmp(argv[i], "-V") == 0 ||
		           strcmp(argv[i], "--version") == 0) {
			printf("optgate %s\n", OG_VERSION);
			free(rest);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				rest[n++] = argv[i];
		} else {
			rest[n++] = argv[i];
		}
	}
	og_log_set_verbose(cli.verbose);
	/*
	 * --help anywhere: the command's own usage when one is named (an
	 * admin types `optgate import --help`), else the list of them.
	 */
	if (want_help) {
		for (c = 0; n > 0 && c < NCMDS; c++)
			if (strcmp(rest[0], cmds[c].name) == 0)
				break;
		if (n > 0 && c < NCMDS)
			cmd_help(&cmds[c]);
		else
			help(stdout);
		free(rest);
		return 0;
	}
	if (n == 0) {
		help(stderr);
		free(rest);
		return usage_exit();
	}
	for (c = 0; c < NCMDS; c++)
		if (strcmp(rest[0], cmds[c].name) == 0)
			break;
	if (c == NCMDS) {
		fprintf(stderr,
		    "optgate: unknown command \"%s\" (optgate "
		    "--help lists them)\n",
		    rest[0]);
		free(rest);
		return usage_exit();
	}
	optind = 1;
	cli.command = cmds[c].name;
	rc = cmds[c].fn(&cli, n, rest);
	if (cli.store) {
		char err[1024];

		/* read without lock.mdb while a writer came: not an answer */
		if (og_store_read_check(cli.store, err, sizeof(err)) != 0) {
			fprintf(stderr, "optgate: %s\n", err);
			rc = OG_EXIT_STORE;
		}
		og_store_close(cli.store);
	}
	if (cli.keys)
		og_keyring_free(cli.keys);
	if (cli.cfg)
		og_config_unref(cli.cfg);
	free(rest);
	return rc;
}
