/*
 * og_report.c - parse and classify bounces, complaints and unsubscribe
 * mails (see og_report.h for the contract).
 *
 * Public: og_report_init, og_report_parse, og_report_add_tokens,
 * og_report_classify, og_report_orig_header, og_report_class_name.
 *
 * How a message is read, in order of trust:
 *   1. GMime builds the MIME tree.  message/delivery-status and
 *      message/global-delivery-status give per-recipient blocks;
 *      message/feedback-report gives a complaint.  Their field blocks are
 *      parsed by GMime's header parser (folding, encoded words).
 *   2. Formats that carry their facts elsewhere: Amazon SES / SNS JSON
 *      notifications and event-publishing records, Microsoft's older JMRP
 * (X-HmXmrOriginalRecipient), Apple Mail's unsubscribe mail
 * (X-Apple-Unsubscribe), the Exim family's X-Failed-Recipients header.
 *   3. Human-readable text, line by line: the shapes every classic MTA
 *      uses to name a failed address (an address alone on a line as
 *      qmail, Exim, Gmail, Lotus Notes and Exchange print it; "<addr>:
 *      reason" as Postfix, qmail and Yahoo do; Sendmail's "... 550 5.1.1
 *      <addr>... User unknown" transcript; "RCPT TO:<addr>" followed by
 *      the reply), then any address that is not the sender's.
 *   4. Auto-replies (RFC 3834 Auto-Submitted, vacation headers and
 *      subjects, challenge-response requests), read receipts (RFC 8098
 *      message/disposition-notification) and DMARC/TLS reports
 *      that are not failures are ignored; so is a recipient whose
 *      server answered with a challenge-response or whitelist request.
 * Classification follows the widely used Sisimai taxonomy of reasons:
 * the diagnostic's phrases (full mailbox, size, expiry, disabled account,
 * local mailer failure, unknown user, unknown host, relaying, blocks and
 * policy), weighed with the enhanced status code (RFC 3463) and the SMTP
 * command the failure answered ("user unknown" said to RCPT TO is proof,
 * said after DATA it is a content filter's); then the code's subject;
 * then its class digit.  A temporary (4.x.x) failure is never hard.  A
 * failure with neither code nor explanation is soft: it is counted, not
 * taken as proof that the mailbox is gone.
 *
 * Ownership: everything GMime allocates is released before return; the
 * og_report holds only fixed buffers and static strings.
 * Thread-safety: reentrant after og_report_init().
 * Errors: see og_report.h.
 *
 * LIMITS: see og_report.h.  The body heuristics are English-centric (as
 * the MTAs' own texts are); a bounce in another language without a
 * machine-readable part usually still has an SMTP reply to go by.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "og_addr.h"
#include "og_buf.h"
#include "og_err.h"
#include "og_report.h"

static pthread_once_t report_once = PTHREAD_ONCE_INIT;

static void
report_init_once(void)
{
	g_mime_init();
}

void
og_report_init(void)
{
	pthread_once(&report_once, report_init_once);
}

const char *
og_report_class_name(int class)
{
	switch (class) {
	case OG_RC_HARD:
		return "hard";
	case OG_RC_SOFT:
		return "soft";
	case OG_RC_COMPLAINT:
		return "complaint";
	case OG_RC_IGNORE:
		return "ignore";
	default:
		return "unknown";
	}
}

/* ------------------------------------------------------------------ */
/* Small string helpers                                                */

/*
 * Case-insensitive search for needle in s[0..len).  The candidates are
 * found with memchr, once for each case of the needle's first byte, each
 * scan resumed where it stopped: linear in len, and the bytes between
 * candidates are skipped by libc instead of a loop here (the phrase
 * tables search every report many times).
 */
static const char *
ci_memmem(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), room;
	const char *lo = NULL, *up = NULL, *p, *last;
	int cl, cu;

	if (n == 0 || n > len)
		return NULL;
	last = s + (len - n); /* the last place a match can start */
	cl = tolower((unsigned char)needle[0]);
	cu = toupper((unsigned char)needle[0]);
	for (p = s; p <= last; p++) {
		room = (size_t)(last - p) + 1;
		if (lo != NULL && lo < p)
			lo = NULL;
		if (lo == NULL && (lo = memchr(p, cl, room)) == NULL)
			lo = last + 1; /* none left */
		if (cu != cl) {
			if (up != NULL && up < p)
				up = NULL;
			if (up == NULL && (up = memchr(p, cu, room)) == NULL)
				up = last + 1;
		} else {
			up = lo;
		}
		p = lo < up ? lo : up;
		if (p > last)
			return NULL;
		if (strncasecmp(p, needle, n) == 0)
			return p;
	}
	return NULL;
}

static int
ci_has(const char *s, const char *needle)
{
	return s != NULL && ci_memmem(s, strlen(s), needle) != NULL;
}

static int
ci_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Copy at most n bytes of s into dst (size dsize) as one line: control
 * characters and runs of white space become one space; leading and
 * trailing white space dropped.
 */
static void
copy_line(char *dst, size_t dsize, const char *s, size_t n)
{
	size_t o = 0;
	int space = 0;

	if (dsize == 0)
		return;
	for (size_t i = 0; i < n && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 1 < dsize)
			dst[o++] = ' ';
		space = 0;
		if (o + 1 >= dsize)
			break;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
is_local_char(int c)
{
	return isalnum(c) || (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c));
}

static int
is_domain_char(int c)
{
	return isalnum(c) || c == '.' || c == '-';
}

static int utf8_item_addr(const char *s, size_t n, char *out, size_t outsize);

/*
 * An SMTPUTF8 address between angle brackets around s[i] == '@'
 * ("<ñaca@africa.org>:" in Postfix's notice, "RCPT TO:<...>"): the
 * brackets bound it, not the first non-ASCII byte.  Outside brackets a
 * non-ASCII letter next to an address is the text's ("收件人x@qq.com").
 */
static int
bracketed_utf8_addr(const char *s, size_t len, size_t i, char *out,
    size_t outsize, size_t *start, size_t *end)
{
	size_t p = i, q = i + 1;

	while (p > 0 && i - p < OG_ADDR_MAX && s[p - 1] != '<' &&
	       !isspace((unsigned char)s[p - 1]))
		p--;
	while (q < len && q - i < OG_ADDR_MAX && s[q] != '>' &&
	       !isspace((unsigned char)s[q]))
		q++;
	if (p == 0 || s[p - 1] != '<' || q >= len || s[q] != '>' ||
	    !utf8_item_addr(s + p, q - p, out, outsize))
		return 0;
	if (start != NULL)
		*start = p;
	if (end != NULL)
		*end = q;
	return 1;
}

/*
 * Find the next mail address in s[0..len) at or after *pos.  On success
 * copies it, its domain lowercased, into out and sets start and end to
 * its span.
 * An address needs a local part, an '@' and a dotted domain.
 */
static int
find_addr(const char *s, size_t len, size_t from, char *out, size_t outsize,
    size_t *start, size_t *end)
{
	for (size_t i = from; i < len; i++) {
		size_t a, b;
		int dot = 0;

		if (s[i] != '@')
			continue;
		a = i;
		while (a > 0 && is_local_char((unsigned char)s[a - 1]))
			a--;
		/* "mailto:" and "rfc822;" are not part of the address. */
		b = i + 1;
		while (b < len && is_domain_char((unsigned char)s[b])) {
			if (s[b] == '.')
				dot = 1;
			b++;
		}
		if (((a > 0 && (unsigned char)s[a - 1] >= 0x80) ||
		        (b < len && (unsigned char)s[b] >= 0x80)) &&
		    bracketed_utf8_addr(s, len, i, out, outsize, start, end))
			return 1;
		while (b > i + 1 && (s[b - 1] == '.' || s[b - 1] == '-'))
			b--;
		/* A local part that is an RFC 2047 encoded word
		 * ("=?utf-8?B?...?=@example.org") is no encoded word: RFC
		 * 2047 keeps them out of addresses, so it is what went to
		 * RCPT TO and stays as written. */
		while (a < i && (s[a] == '.' || s[a] == '\'' ||
		                    (s[a] == '=' && s[a + 1] != '?')))
			a++;
		/* X.400-style "SMTP=user@domain" (Exchange, Notes). */
		if (i - a > 5 && strncasecmp(s + a, "smtp=", 5) == 0)
			a += 5;
		else if (i - a > 7 && strncasecmp(s + a, "rfc822=", 7) == 0)
			a += 7;
		if (a == i || b == i + 1 || !dot)
			continue;
		if (s[b - 1] == '.')
			continue;
		{
			/* A dotted domain must not end in a digit-only label
			 * unless it is an IP (rare in bounces): accept. */
			size_t n = b - a;

			if (n >= outsize)
				continue;
			memcpy(out, s + a, n);
			out[n] = '\0';
			/* The local part as found: whether its case matters
			 * is the store's [address] local_part rule. */
			lower(out + (i - a));
		}
		if (start != NULL)
			*start = a;
		if (end != NULL)
			*end = b;
		return 1;
	}
	return 0;
}

/* The first address in a header value, or "". */
static void
first_addr(const char *v, char *out, size_t outsize)
{
	out[0] = '\0';
	if (v != NULL)
		(void)find_addr(v, strlen(v), 0, out, outsize, NULL, NULL);
}

/*
 * s[0..n) is one item of a field that holds only addresses (a DSN's
 * Final-Recipient, an X-Failed-Recipients entry).  An SMTPUTF8 mailbox
 * (RFC 6531) there has UTF-8 in its local part: chasquid's and Exim's
 * "Final-Recipient: utf-8; ñaca@africa.org".  find_addr stops at the
 * first non-ASCII byte and would name another mailbox ("aca@africa.org"),
 * so such an item, when it is one valid address, is taken whole, its
 * domain's ASCII letters lowercased.  Returns 1 when it was.
 */
static int
utf8_item_addr(const char *s, size_t n, char *out, size_t outsize)
{
	og_addr a;
	int high = 0;
	size_t at;

	while (n > 0 && isspace((unsigned char)s[0]))
		s++, n--;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		s++, n -= 2;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			high = 1;
		if (isspace((unsigned char)s[i]) || s[i] == '<' ||
		    s[i] == '>' || s[i] == ',')
			return 0;
	}
	if (!high || n >= outsize || memchr(s, '@', n) == NULL ||
	    og_addr_parse(s, n, NULL, &a) != 0 ||
	    !(a.flags & (OG_ADDR_UTF8 | OG_ADDR_IDN)) ||
	    strchr(a.domain, '.') == NULL)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	at = (size_t)(strrchr(out, '@') - out);
	for (size_t i = at + 1; i < n; i++)
		out[i] = (char)g_ascii_tolower(out[i]);
	return 1;
}

/*
 * An RFC 6533 "utf-8" address in a plain (ASCII) delivery-status gives
 * its non-ASCII characters as \x{HEX}: decode them into UTF-8.
 */
static void
unescape_utf8_xtext(const char *v, char *out, size_t outsize)
{
	size_t o = 0;

	while (*v != '\0' && o + 1 < outsize) {
		if (v[0] == '\\' && v[1] == 'x' && v[2] == '{') {
			char *e;
			unsigned long cp = strtoul(v + 3, &e, 16);
			char u[6];
			int k;

			if (e > v + 3 && *e == '}' && cp > 0 &&
			    cp <= 0x10ffff &&
			    (k = g_unichar_to_utf8((gunichar)cp, u)) > 0 &&
			    o + (size_t)k + 1 < outsize) {
				memcpy(out + o, u, (size_t)k);
				o += (size_t)k;
				v = e + 1;
				continue;
			}
		}
		out[o++] = *v++;
	}
	out[o] = '\0';
}

const char *
og_report_orig_header(
    const og_report *r, const char *name, char *buf, size_t size)
{
	const char *s = r->orig_headers;
	size_t n = strlen(name);

	while (*s != '\0') {
		const char *e = strchr(s, '\n');
		size_t len = e != NULL ? (size_t)(e - s) : strlen(s);

		if (len > n && s[n] == ':' && strncasecmp(s, name, n) == 0) {
			og_buf b;
			const char *p = s + n + 1;

			og_buf_init(&b, size > 0 ? size - 1 : 0);
			for (;;) {
				const char *le = strchr(p, '\n');
				size_t l =
				    le != NULL ? (size_t)(le - p) : strlen(p);

				(void)og_buf_add(&b, p, l);
				if (le == NULL ||
				    (le[1] != ' ' && le[1] != '\t'))
					break;
				p = le + 1;
			}
			copy_line(
			    buf, size, b.data != NULL ? b.data : "", b.len);
			og_buf_free(&b);
			return buf;
		}
		if (e == NULL)
			break;
		s = e + 1;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Tokens                                                              */

void
og_report_add_tokens(og_report *out, const char *s, size_t len)
{
	size_t i = 0;

	if (s == NULL)
		return;
	while (i < len) {
		size_t j;

		if (!og_token_char((unsigned char)s[i])) {
			i++;
			continue;
		}
		j = i;
		while (j < len && og_token_char((unsigned char)s[j]))
			j++;
		if (j - i >= OG_REPORT_TOKEN_MIN && j - i <= OG_TOKEN_MAX &&
		    out->ntokens < OG_REPORT_TOKENS_MAX) {
			int dup = 0;

			for (int k = 0; k < out->ntokens; k++)
				if (strlen(out->tokens[k]) == j - i &&
				    memcmp(out->tokens[k], s + i, j - i) == 0)
					dup = 1;
			if (!dup) {
				memcpy(out->tokens[out->ntokens], s + i, j - i);
				out->tokens[out->ntokens][j - i] = '\0';
				out->ntokens++;
			}
		}
		i = j;
	}
}

static void
add_tokens_str(og_report *out, const char *s)
{
	if (s != NULL)
		og_report_add_tokens(out, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Classification                                                      */

/*
 * Phrases MTAs put in their diagnostics, by reason.  The reasons and the
 * order they are tried in follow the widely used Sisimai taxonomy, so that
 * "hard" means what list managers mean by it: the address is gone.
 */
static const char *const ph_full[] = {"mailbox full", "mailbox is full",
    "mailbox has exceeded", "quota exceeded", "over quota", "overquota",
    "exceeded storage", "exceeds quota", "exceed the quota",
    "exceeded the quota", "exceeded its quota", "is over quota",
    "over its quota", "mailbox size limit", "insufficient storage",
    "not enough storage", "user is over", "mailfolder is full", "disk quota",
    "mail box full", "mailbox quota", "storage limit", "no space left",
    "too much mail", "account is full", "quota full", "mailbox exceeds",
    "inbox is full", "full mailbox", "mailbox is over", "quota violation",
    "exceeded the storage", "is full", "quota", "storage allocation", NULL};
static const char *const ph_toobig[] = {"message too large", "message too big",
    "message is too large", "message is too big", "message size exceeds",
    "size exceeds", "exceeds the maximum size", "exceeds size limit",
    "too large for", "message length exceeds", "message file too big",
    "message size limit", "mail size limit", "max message size",
    "exceeds maximum", "message too long", "is too large", "size limit",
    "maximum message size", "incoming message size", "inbound message size",
    NULL};
static const char *const ph_expired[] = {"failing for a long time",
    "retry time", "retry timeout", "delivery time expired", "too long in queue",
    "could not be delivered within", "not delivered within", "message expired",
    "has expired", "after multiple retries", "were last tried",
    "delivery attempts will continue", "has not yet been delivered",
    "will be retried", "still trying", "not yet been delivered",
    "delivery delayed", "delayed", "queue period", "host not reachable",
    "envelope expired", NULL};
/* The receiving system cannot tell which mailbox is meant: Lotus
 * Domino's "Recipient user name X not unique.  Several matches found in
 * Domino Directory".  The address names someone; its directory is at
 * fault (Sisimai: systemerror). */
static const char *const ph_system[] = {
    "several matches found", "not unique", NULL};
/* The message, not the mailbox, was refused: CommuniGate Pro's
 * "Messages without To: fields are not accepted here" (Sisimai:
 * contenterror). */
static const char *const ph_content[] = {"fields are not accepted", NULL};
/* A local delivery program failed: the mailbox may well exist. */
static const char *const ph_mailer[] = {"mailer error", "pipe to |", "procmail",
    "x-unix;", "local delivery failed", "exit code", "exited with",
    "returned non-zero", "child process", NULL};
static const char *const ph_suspend[] = {"account disabled",
    "account has been disabled", "account is disabled", "mailbox disabled",
    "mailbox is disabled", "mailbox has been disabled", "has been suspended",
    "account suspended", "is suspended", "account is inactive",
    "mailbox is inactive", "inactive account", "account has been deactivated",
    "mailbox is frozen", "account is locked", "account expired",
    "mailbox has been suspended", "deactivated",
    "mailbox unavailable or not active", "is not activated",
    "temporarily disabled", "mailbox is not active", "account is frozen",
    "user suspended", "boite du destinataire archivee", "is disabled",
    "disabled recipient", "account is blocked", "temporary locked",
    "temporarily locked", NULL};
static const char *const ph_moved[] = {
    "has been moved", "has moved", "address has changed", NULL};
static const char *const ph_relay[] = {"relay access denied", "relaying denied",
    "relay denied", "relay not permitted", "relaying not permitted",
    "relaying not allowed", "not permitted to relay", "unable to relay",
    "we do not relay", "no relaying", "relay prohibited",
    "not allowed to relay", "relaying mail to", "cannot relay",
    "relay not allowed", "relaying is prohibited", "not a gateway", "relay to",
    "not configured to relay", "as a relay", NULL};
static const char *const ph_user[] = {"user unknown", "unknown user",
    "no such user", "user not found", "user doesn't exist",
    "user does not exist", "unknown recipient", "recipient unknown",
    "recipient not found", "invalid recipient", "no such recipient",
    "recipient does not exist", "no such mailbox", "mailbox not found",
    "mailbox does not exist", "mailbox doesn't exist", "invalid mailbox",
    "unknown mailbox", "no mailbox", "mailbox not available", "unknown address",
    "address unknown", "addressee unknown", "invalid address",
    "no such address", "address does not exist", "address doesn't exist",
    "account does not exist", "account doesn't exist", "not a valid user",
    "not a valid mailbox", "isn't a valid", "unknown local part",
    "unknown local-part", "not listed in", "no account",
    "bad destination mailbox", "does not exist", "doesn't exist",
    "recipient no longer", "user invalid", "invalid user", "unknown or illegal",
    "doesn't have a", "does not have an account", "not our customer",
    "user not known", "no valid recipients", "addressee not", "no such person",
    "not found in directory", "no longer active", "user missing",
    "mailbox unknown", "name is not recognized", "not a known user",
    "unknown in", "rejected: user", "badrcptto", "no mailbox here",
    "sorry, no mailbox", "not exist", "was not found", "user reject",
    "destination addresses were unknown", "unknown e-mail address",
    "said: 550 5.1.1", "recipient rejected", "invalid final delivery",
    "address couldn't be found", "address not found", NULL};
/* Phrases that name a missing mailbox whatever the status code says:
 * Microsoft's directory-based edge blocking, Exchange's resolver. */
static const char *const ph_user_strong[] = {
    "recipient address rejected: access denied", "recipientnotfound",
    "recipient not found by smtp address lookup", NULL};
/* RFC 5321's stock text for any 550.  Servers send it for refusals of
 * every kind (IIS after DATA), so it proves a missing mailbox only when
 * it answers RCPT TO, or under Outlook.com's and Hotmail's status 5.5.0,
 * which Microsoft documents as a recipient not found by address lookup. */
static const char *const ph_stock550[] = {
    "requested action not taken: mailbox unavailable", NULL};
/* What may override a status that says "unknown user". */
static const char *const ph_blocked[] = {"blocked", "blacklist", "black list",
    "block list", "blocklist", "spamhaus", "listed", "rbl", "dnsbl",
    "reputation", "not allowed", "spf", "too many", NULL};
/* The recipient (or a list server: Google Groups' "may not exist, or you
 * may not have permission to post", Mailman's members-only lists)
 * refuses this sender; the address itself may well be alive. */
static const char *const ph_filtered[] = {"filtered", "content filter",
    "refused due to recipient preferences", "rejected by recipient",
    "not accepting any mail", "only accepting mail from",
    "due to extended inactivity", "has restricted sms e-mail",
    "refuse to receive", "permission to post", NULL};
/* Exim's reply to a failed sender-verify callout opens with "Verification
 * failed for <SENDER>" and ends "Sender verify failed"; a relaying MTA's
 * Diagnostic-Code keeps only that first line. */
static const char *const ph_sender[] = {"sender rejected",
    "sender address rejected", "domain of sender", "sender verify",
    "sender domain", "unroutable sender", "invalid sender", "bad sender",
    "sender not", "rejected: sender", "envelope sender", "sender is rejected",
    "address of sender", "from address", "sender address not",
    "sender verification", "verification failed for <", NULL};
static const char *const ph_host[] = {"host unknown", "unknown host",
    "host not found", "domain not found", "domain does not exist",
    "no such domain", "unrouteable mail domain", "name service error",
    "host or domain name not found", "no mx", "no mail exchanger",
    "couldn't find any host", "could not find any host",
    "domain name not found", "bad destination system", "unknown domain",
    "nxdomain", "unable to route", "no route to domain", "dns error",
    "domain is not", "illegal host", "domain is not reachable",
    "non-existent host", "unrouteable address",
    /* hMailServer: "No mail servers appear to exists for the
     * recipient's address" (its DNS answered: no MX, no A). */
    "no mail servers appear to exist", NULL};
/* A domain that does not resolve, even when the text adds "try again"
 * (Outlook.com's "domain is not reachable ... check the domain and try
 * again"). */
static const char *const ph_host_strong[] = {"domain is not reachable",
    "host or domain name not found", "no such domain", "nxdomain", NULL};
/* The server itself says it may work later. */
static const char *const ph_tempfail[] = {
    "try again", "try later", "please retry", NULL};
static const char *const ph_notaccept[] = {"does not accept mail",
    "not accepting mail", "null mx", "accepts no mail", "no smtp service",
    NULL};
/*
 * Challenge-response and whitelist systems (Boxbe, SpamArrest,
 * Mailblocks, TMDA, Bluebottle, ChoiceMail, Sendio): the mailbox is alive
 * and holds the mail until the sender confirms itself, so the failure is
 * no bounce.  Said at RCPT inside a DSN as much as in an auto-reply.
 */
static const char *const ph_challenge[] = {"boxbe", "spamarrest", "spam arrest",
    "mailblocks", "tmda", "bluebottle", "choicemail", "sendio",
    "challenge-response", "challenge/response", "challenge response",
    "requires confirmation", "not pre-approved", "not been pre-approved",
    "you are human", "you are a human", "you're human", "you are a real person",
    "confirm your message", "confirm your email", "confirm your e-mail",
    "confirm this mail server", NULL};
/* A whitelist named with a request to confirm or verify is one too;
 * named by a spam filter ("add you to our whitelist") it is a block. */
static const char *const ph_whitelist[] = {"whitelist", "white list",
    "white-list", "allowed list", "approved senders", "guest list", "safe list",
    "safelist", NULL};
static const char *const ph_confirm[] = {
    "confirm", "verif", "click", "approv", NULL};
static const char *const ph_spam[] = {"spam", "unsolicited", "blacklist",
    "black list", "blocklist", "block list", "rbl", "reputation", NULL};

/* Everything a sender's reputation, content or the network explains. */
static const char *const ph_block[] = {"blocked", "block list", "blocklist",
    "blacklist", "black list", "spam", "rbl", "dnsbl", "spamhaus", "spamcop",
    "barracuda", "reputation", "listed", "policy", "not allowed", "prohibited",
    "access denied", "denied", "refused", "virus", "malware", "content",
    "dmarc", "spf", "dkim", "authentication", "unauthenticated", "ptr",
    "reverse dns", "rdns", "helo", "too many", "rate limit", "at a rate",
    "throttl", "try again", "temporar", "greylist", "graylist", "timed out",
    "timeout", "connection", "expired", "too long", "retry", "not permitted",
    "security", "syntax", "unsolicited", "abuse", "forbidden", "fraud",
    "suspicious", "poor", "not delivered", "tls", "encrypt", "loop",
    "hop count", "system", "resources", "congestion", "busy", "unavailable",
    "error", "protocol", "not implemented", "transaction failed", NULL};

/* Does s[0..n) hold one of the phrases ph (NULL-ended), without case? */
static int
match_n(const char *s, size_t n, const char *const *ph)
{
	for (; *ph != NULL; ph++)
		if (ci_memmem(s, n, *ph) != NULL)
			return 1;
	return 0;
}

static int
match(const char *diag, const char *const *ph)
{
	return diag != NULL && match_n(diag, strlen(diag), ph);
}

/* "5.0.0", "4.0.0": a class without a subject. */
static int
generic_status(const char *status)
{
	return status[0] != '\0' && strcmp(status + 1, ".0.0") == 0;
}

/* Reason named by an enhanced status code (RFC 3463), or NULL. */
static const char *
status_name(const char *status)
{
	static const struct {
		const char *sub;
		const char *name;
	} tab[] = {
	    {"1.0", "user-unknown"},
	    {"1.1", "user-unknown"},
	    {"1.2", "host-unknown"},
	    {"1.3", "user-unknown"},
	    {"1.4", "filtered"},
	    {"1.5", "user-unknown"},
	    {"1.6", "has-moved"},
	    {"1.7", "sender-rejected"},
	    {"1.8", "sender-rejected"},
	    {"1.9", "system-error"},
	    {"1.10", "not-accepting-mail"},
	    {"2.0", "filtered"},
	    {"2.1", "mailbox-disabled"},
	    {"2.2", "mailbox-full"},
	    {"2.3", "message-too-big"},
	    {"2.4", "filtered"},
	    {"3.0", "system-error"},
	    {"3.1", "system-full"},
	    {"3.2", "not-accepting-mail"},
	    {"3.3", "system-error"},
	    {"3.4", "message-too-big"},
	    {"3.5", "system-error"},
	    {"4.0", "network-error"},
	    {"4.1", "network-error"},
	    {"4.2", "network-error"},
	    {"4.3", "system-error"},
	    {"4.4", "host-unknown"},
	    {"4.5", "too-many-connections"},
	    {"4.6", "network-error"},
	    {"4.7", "expired"},
	    /* Exchange Online's and Outlook.com's "5.4.310 DNS domain X
	     * does not exist [Message=InfoDomainNonexistent]": the
	     * recipient's domain is gone, no network trouble (Microsoft's
	     * NDR reference, "DSN 5.4.310"). */
	    {"4.310", "host-unknown"},
	};

	if (status == NULL || status[0] == '\0' || status[1] != '.')
		return NULL;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(status + 2, tab[i].sub) == 0)
			return tab[i].name;
	/* A detail this table does not know still names the layer that
	 * failed (RFC 3463): the mail system or the network and routing
	 * are not the recipient's mailbox (Exchange's 5.4.312 "DNS query
	 * failed", 5.4.316 "connection refused"). */
	switch (status[2]) {
	case '3':
		return "system-error";
	case '4':
		return "network-error";
	case '5':
		return "syntax-error";
	case '6':
		return "content-error";
	case '7':
		return "security-error";
	}
	return NULL;
}

static int
name_class(const char *name)
{
	static const char *const hard[] = {"user-unknown", "host-unknown",
	    "has-moved", "not-accepting-mail", "mailbox-disabled",
	    "relay-denied", NULL};

	for (const char *const *p = hard; *p != NULL; p++)
		if (strcmp(name, *p) == 0)
			return OG_RC_HARD;
	return OG_RC_SOFT;
}

/*
 * The SMTP command a failure answered, from the diagnostic: "RCPT",
 * "MAIL", "DATA", "CONN" or "".  The last one named wins, as transcripts
 * name the earlier commands before the one that failed.
 */
static const char *
smtp_command(const char *diag)
{
	static const struct {
		const char *pat, *cmd;
	} tab[] = {
	    /* Not a bare "HELO": Received fields in a quoted header
	     * copy say "(HELO host)". */
	    {"after HELO", "HELO"},
	    {"after EHLO", "HELO"},
	    {">>> HELO", "HELO"},
	    {">>> EHLO", "HELO"},
	    {"HELO command", "HELO"},
	    {"EHLO command", "HELO"},
	    {"MAIL F", "MAIL"},
	    {"MAIL FROM", "MAIL"},
	    {"RCPT", "RCPT"},
	    {"rcpt to", "RCPT"},
	    {"DATA", "DATA"},
	    {"end of data", "DATA"},
	    {"after end of data", "DATA"},
	    {"end of message", "DATA"},
	};
	const char *best = "";
	const char *bestp = NULL;

	if (diag == NULL)
		return "";
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		const char *p = islower((unsigned char)tab[i].pat[0])
		                    ? ci_memmem(diag, strlen(diag), tab[i].pat)
		                    : strstr(diag, tab[i].pat);

		if (p != NULL && (bestp == NULL || p >= bestp)) {
			bestp = p;
			best = tab[i].cmd;
		}
	}
	return best;
}

/*
 * strict: the text is a whole report's prose, not one diagnostic, so the
 * broad "something went wrong" words (error, rejected, unavailable ...)
 * say nothing about this recipient and are not used.
 */
static int
classify_x(const char *status, int smtp_code, const char *cmd, const char *diag,
    int strict, const char **reason)
{
	const char *name = status_name(status);
	int klass = 0;
	int cls;

	*reason = "unknown";
	/* Refused before any recipient was named (Exim's "after EHLO" /
	 * "after MAIL FROM", Postfix's "in reply to MAIL FROM command"):
	 * the server refused the sending host or the sender and said
	 * nothing about the mailbox, whatever words the reply uses.  The
	 * reply still names the reason (a block list, DMARC ...). */
	if (strcmp(cmd, "HELO") == 0 || strcmp(cmd, "MAIL") == 0) {
		cls = classify_x(status, smtp_code, "", diag, strict, reason);
		if (cls != OG_RC_HARD)
			return cls;
		*reason = cmd[0] == 'H' ? "blocked" : "sender-rejected";
		return OG_RC_SOFT;
	}
	if (status != NULL &&
	    (status[0] == '2' || status[0] == '4' || status[0] == '5') &&
	    status[1] == '.')
		klass = status[0] - '0';
	else if (smtp_code >= 200 && smtp_code < 600)
		klass = smtp_code / 100;
	if (klass == 2) {
		*reason = "delivered";
		return OG_RC_IGNORE;
	}
	if (name == NULL)
		name = "";
	/* A challenge, not a failure: whatever the code's class, unless the
	 * server also says the mailbox does not exist. */
	if ((match(diag, ph_challenge) ||
	        (match(diag, ph_whitelist) && match(diag, ph_confirm) &&
	            !match(diag, ph_spam))) &&
	    !(strcmp(name, "user-unknown") == 0 && match(diag, ph_user))) {
		*reason = "challenge-response";
		return OG_RC_IGNORE;
	}
	/* A temporary failure is never proof that the mailbox is gone.
	 */
#define RET(r, c)                                                              \
	do {                                                                   \
		*reason = (r);                                                 \
		cls = (c);                                                     \
		return klass == 4 ? OG_RC_SOFT : cls;                          \
	} while (0)

	if (strcmp(name, "mailbox-full") == 0 || match(diag, ph_full))
		RET("mailbox-full", OG_RC_SOFT);
	if (strcmp(name, "message-too-big") == 0 || match(diag, ph_toobig))
		RET("message-too-big", OG_RC_SOFT);
	if (strcmp(name, "expired") == 0 || match(diag, ph_expired))
		RET("expired", OG_RC_SOFT);
	if (match(diag, ph_suspend))
		RET("mailbox-disabled", OG_RC_HARD);
	if (match(diag, ph_mailer))
		RET("mailer-error", OG_RC_SOFT);
	if (match(diag, ph_user_strong))
		RET("user-unknown", OG_RC_HARD);
	/* after the dead-mailbox phrases: a reply naming both is a dead
	 * mailbox */
	if (match(diag, ph_system))
		RET("system-error", OG_RC_SOFT);
	if (match(diag, ph_content))
		RET("content-error", OG_RC_SOFT);
	if (match(diag, ph_stock550) &&
	    (strcmp(cmd, "RCPT") == 0 ||
	        (status != NULL && strcmp(status, "5.5.0") == 0)))
		RET("user-unknown", OG_RC_HARD);
	/* "User unknown" is proof only when the status says so or the
	 * server said it to RCPT TO; said to DATA it is a filter's. */
	if (strcmp(name, "user-unknown") == 0 && !match(diag, ph_relay) &&
	    !match(diag, ph_sender) && !match(diag, ph_moved) &&
	    !match(diag, ph_notaccept) &&
	    !(match(diag, ph_blocked) && !match(diag, ph_user)))
		RET("user-unknown", OG_RC_HARD);
	if (strcmp(name, "user-unknown") != 0 && strcmp(cmd, "RCPT") == 0 &&
	    match(diag, ph_user) && !match(diag, ph_sender))
		RET("user-unknown", OG_RC_HARD);
	if ((strcmp(name, "filtered") == 0 &&
	        (match(diag, ph_user) || match(diag, ph_filtered))) ||
	    (strcmp(cmd, "DATA") == 0 &&
	        (match(diag, ph_filtered) || match(diag, ph_user))) ||
	    match(diag, ph_filtered))
		RET("filtered", OG_RC_SOFT);
	/* No command and no code's subject: words alone.  A domain that
	 * "does not exist" (OpenSMTPD's "Domain does not exist") is no
	 * missing user. */
	if (cmd[0] == '\0' && (name[0] == '\0' || generic_status(status)) &&
	    match(diag, ph_user) && !match(diag, ph_sender) &&
	    !match(diag, ph_host))
		RET("user-unknown", OG_RC_HARD);
	if (strcmp(name, "sender-rejected") == 0 || match(diag, ph_sender))
		RET("sender-rejected", OG_RC_SOFT);
	if (match(diag, ph_host_strong))
		RET("host-unknown", OG_RC_HARD);
	if (match(diag, ph_tempfail))
		RET("temporary", OG_RC_SOFT);
	if (strcmp(name, "host-unknown") == 0 || match(diag, ph_host))
		RET("host-unknown", OG_RC_HARD);
	if (match(diag, ph_relay))
		RET("relay-denied", OG_RC_HARD);
	if (strcmp(name, "has-moved") == 0 || match(diag, ph_moved))
		RET("has-moved", OG_RC_HARD);
	if (strcmp(name, "not-accepting-mail") == 0 ||
	    match(diag, ph_notaccept))
		RET("not-accepting-mail", OG_RC_HARD);
	if (match(diag, strict ? ph_blocked : ph_block))
		RET("blocked", OG_RC_SOFT);
	if (name[0] != '\0')
		RET(name, name_class(name));
#undef RET
	if (klass == 5) {
		*reason = "permanent";
		return OG_RC_HARD;
	}
	if (klass == 4) {
		*reason = "temporary";
		return OG_RC_SOFT;
	}
	return OG_RC_UNKNOWN;
}

static int
classify(const char *status, int smtp_code, const char *cmd, const char *diag,
    const char **reason)
{
	return classify_x(status, smtp_code, cmd, diag, 0, reason);
}

int
og_report_classify(
    const char *status, int smtp_code, const char *diag, const char **reason)
{
	const char *dummy;

	return classify(status != NULL ? status : "", smtp_code,
	    smtp_command(diag), diag, reason != NULL ? reason : &dummy);
}

/* ------------------------------------------------------------------ */
/* Status codes in text                                                */

/*
 * Find an enhanced status code ("5.1.1", "#5.1.1", "(5.7.1)") in s;
 * copies it to out.  Returns 1 when found.
 */
static int
find_status(const char *s, char *out, size_t outsize)
{
	size_t len = strlen(s);

	for (size_t i = 0; i + 5 <= len; i++) {
		size_t j = i, a, b;

		if ((s[i] != '2' && s[i] != '4' && s[i] != '5') ||
		    s[i + 1] != '.')
			continue;
		if (i > 0 && (isalnum((unsigned char)s[i - 1]) ||
		                 s[i - 1] == '.' || s[i - 1] == '-'))
			continue;
		j = i + 2;
		a = j;
		while (j < len && isdigit((unsigned char)s[j]) && j - a < 3)
			j++;
		if (j == a || j >= len || s[j] != '.')
			continue;
		j++;
		b = j;
		while (j < len && isdigit((unsigned char)s[j]) && j - b < 3)
			j++;
		if (j == b)
			continue;
		if (j < len && (isalnum((unsigned char)s[j]) ||
		                   (s[j] == '.' && j + 1 < len &&
		                       isdigit((unsigned char)s[j + 1]))))
			continue;
		if (j - i >= outsize)
			continue;
		memcpy(out, s + i, j - i);
		out[j - i] = '\0';
		return 1;
	}
	return 0;
}

/* First SMTP reply code (a 4xx/5xx number standing alone) in s, or 0. */
static int
find_smtp_code_n(const char *s, size_t len)
{

	for (size_t i = 0; i + 3 <= len; i++) {
		if ((s[i] != '4' && s[i] != '5') ||
		    !isdigit((unsigned char)s[i + 1]) ||
		    !isdigit((unsigned char)s[i + 2]))
			continue;
		if (i > 0 && (isalnum((unsigned char)s[i - 1]) ||
		                 strchr(".:-#/=[", s[i - 1]) != NULL))
			continue;
		if (i + 3 < len && s[i + 3] != ' ' && s[i + 3] != '-' &&
		    s[i + 3] != '\t')
			continue;
		if (s[i + 1] > '5')
			continue;
		return (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 +
		       (s[i + 2] - '0');
	}
	return 0;
}

static int
find_smtp_code(const char *s)
{
	return find_smtp_code_n(s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Parse state                                                         */

typedef struct parse_ctx {
	og_report *r;
	int nparts;
	int truncated;
	og_buf text; /* human-readable text of the report */
	og_buf dsn;  /* delivery-status field blocks */
	og_buf arf;  /* feedback-report field block */
	int have_dsn, have_arf;
	int report_type_dsn, report_type_arf;
	char xfailed[1024];
	char hm_rcpt[OG_ADDR_MAX + 1]; /* X-HmXmrOriginalRecipient */
	char orig_return_path[OG_ADDR_MAX + 1];
	char orig_sender[OG_ADDR_MAX + 1];
	char delivered_to[OG_ADDR_MAX + 1];
	int auto_submitted, autoreply_hdr, apple_unsub, orig_found;
	int auto_submitted_reply; /* vacation-style headers or subject */
	int precedence_bulk;      /* Precedence: bulk / junk */
	int auth_report;          /* DMARC aggregate or TLS report */
	int arf_redacted;         /* ARF Redacted-Address: To is hidden */
	int have_mdn;             /* message/disposition-notification */
	int system_from; /* From names a mail system ("Mail Delivery ...") */
	char mdn_rcpt[OG_ADDR_MAX + 1]; /* its Final-Recipient */
	int prose_diag; /* the recipients and diagnostics are the notice's */
	char excl[8][OG_ADDR_MAX + 1];
	int nexcl;
} parse_ctx;

static void
exclude(parse_ctx *c, const char *addr)
{
	if (addr[0] == '\0' || c->nexcl >= 8)
		return;
	og_strlcpy(c->excl[c->nexcl++], addr, sizeof(c->excl[0]));
}

static int
excluded(const parse_ctx *c, const char *addr)
{
	for (int i = 0; i < c->nexcl; i++)
		if (strcasecmp(c->excl[i], addr) == 0)
			return 1;
	return ci_prefix(addr, "mailer-daemon@") ||
	       ci_prefix(addr, "postmaster@") ||
	       ci_prefix(addr, "mail-daemon@") ||
	       ci_prefix(addr, "mailerdaemon@") || ci_prefix(addr, "mdaemon@");
}

static const char *
hdr(GMimeObject *o, const char *name)
{
	return g_mime_object_get_header(o, name);
}

/*
 * The date and queue id of a Received field (RFC 5322 3.6.7: the date
 * follows the last ';').  The id is the first "id" word outside a
 * comment, as Postfix writes it ("by mx (Postfix) with ESMTP id 4F2A").
 */
static void
received_field(const char *v, og_report *out)
{
	const char *semi, *p;
	GDateTime *dt;
	int depth = 0;

	if (v == NULL || (semi = strrchr(v, ';')) == NULL)
		return;
	if ((dt = g_mime_utils_header_decode_date(semi + 1)) != NULL) {
		int64_t t = g_date_time_to_unix(dt);

		out->received = t > 0 ? t : 0;
		g_date_time_unref(dt);
	}
	for (p = v; p + 3 < semi; p++) {
		size_t n;

		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		if (depth > 0 || (p > v && !isspace((unsigned char)p[-1])) ||
		    g_ascii_strncasecmp(p, "id", 2) != 0 ||
		    !isspace((unsigned char)p[2]))
			continue;
		for (p += 2; p < semi && isspace((unsigned char)*p); p++)
			;
		n = strcspn(p, " \t\r\n;()");
		if (p + n > semi)
			n = (size_t)(semi - p);
		if (n > 0 && n < sizeof(out->received_id)) {
			memcpy(out->received_id, p, n);
			out->received_id[n] = '\0';
		}
		return;
	}
}

/* Decoded content of a leaf part, converted to UTF-8 when it names a
 * charset GMime knows; appended to b (capped by b's max). */
static void
part_text(GMimePart *part, og_buf *b)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem, *filt;
	GMimeContentType *ct;
	const char *cs;
	GByteArray *ba;

	if (w == NULL)
		return;
	mem = g_mime_stream_mem_new();
	filt = g_mime_stream_filter_new(mem);
	ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	cs = ct != NULL ? g_mime_content_type_get_parameter(ct, "charset")
	                : NULL;
	if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0 &&
	    g_ascii_strcasecmp(cs, "us-ascii") != 0) {
		GMimeFilter *f = g_mime_filter_charset_new(cs, "UTF-8");

		if (f != NULL) {
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(filt), f);
			g_object_unref(f);
		}
	}
	(void)g_mime_data_wrapper_write_to_stream(w, filt);
	(void)g_mime_stream_flush(filt);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (ba != NULL && ba->len > 0) {
		size_t room = b->max > b->len ? b->max - b->len : 0;
		size_t n = ba->len < room ? ba->len : room;

		(void)og_buf_add(b, ba->data, n);
		(void)og_buf_addc(b, '\n');
	}
	g_object_unref(filt);
	g_object_unref(mem);
}

/* The text of o and what it holds, for og_report_text. */
static void
object_text(GMimeObject *o, og_buf *b, int depth)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	int i, n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;

	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = h != NULL ? g_mime_header_get_value(h) : NULL;

		if (v != NULL) {
			(void)og_buf_adds(b, v);
			(void)og_buf_addc(b, '\n');
		}
	}
	if (GMIME_IS_MESSAGE(o)) {
		GMimeObject *body =
		    g_mime_message_get_mime_part(GMIME_MESSAGE(o));

		if (body != NULL)
			object_text(body, b, depth);
	} else if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);

		for (i = 0; i < g_mime_multipart_get_count(mp); i++)
			object_text(g_mime_multipart_get_part(mp, i), b, depth);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (m != NULL && depth < 3)
			object_text(GMIME_OBJECT(m), b, depth + 1);
	} else if (GMIME_IS_PART(o)) {
		part_text(GMIME_PART(o), b);
	}
}

void
og_report_text(const char *data, size_t len, og_buf *out)
{
	GMimeStream *st;
	GMimeParser *p;
	GMimeMessage *msg;

	og_report_init();
	st = g_mime_stream_mem_new_with_buffer(data, len);
	p = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	if (msg == NULL)
		return;
	object_text(GMIME_OBJECT(msg), out, 0);
	g_object_unref(msg);
}

/* Facts and tokens from the headers of the returned original. */
static void
orig_headers(parse_ctx *c, GMimeObject *o)
{
	og_report *r = c->r;
	const char *v;

	c->orig_found = 1;
	if ((v = hdr(o, "Message-ID")) != NULL && r->orig_message_id[0] == 0)
		copy_line(r->orig_message_id, sizeof(r->orig_message_id), v,
		    strlen(v));
	if ((v = hdr(o, "To")) != NULL && r->orig_to[0] == '\0')
		first_addr(v, r->orig_to, sizeof(r->orig_to));
	if ((v = hdr(o, "From")) != NULL && r->orig_from[0] == '\0') {
		/* The address is in <>, when there is a display name that
		 * may look like an address itself. */
		const char *lt = strrchr(v, '<');

		first_addr(
		    lt != NULL ? lt : v, r->orig_from, sizeof(r->orig_from));
	}
	if ((v = hdr(o, "Return-Path")) != NULL)
		first_addr(v, c->orig_return_path, sizeof(c->orig_return_path));
	if ((v = hdr(o, "Sender")) != NULL)
		first_addr(v, c->orig_sender, sizeof(c->orig_sender));
	if ((v = hdr(o, "X-HmXmrOriginalRecipient")) != NULL)
		first_addr(v, c->hm_rcpt, sizeof(c->hm_rcpt));
	add_tokens_str(r, hdr(o, OG_TOKEN_HEADER));
	add_tokens_str(r, hdr(o, "Return-Path"));
	add_tokens_str(r, hdr(o, "List-Unsubscribe"));
	og_strlcpy(r->orig_return_path, c->orig_return_path,
	    sizeof(r->orig_return_path));
	if (r->orig_headers[0] == '\0') {
		char *h = g_mime_object_get_headers(o, NULL);

		if (h != NULL) {
			og_strlcpy(r->orig_headers, h, sizeof(r->orig_headers));
			g_free(h);
		}
	}
}

/* Parse text as a header block with GMime; NULL when it is none. */
static GMimeObject *
parse_entity(const char *s, size_t n)
{
	GMimeStream *st;
	GMimeParser *p;
	GMimeObject *o;

	st = g_mime_stream_mem_new_with_buffer(s, n);
	p = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	o = g_mime_parser_construct_part(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	return o;
}

static void walk(parse_ctx *c, GMimeObject *o, int depth);

static void
walk_leaf(parse_ctx *c, GMimePart *part, int depth)
{
	GMimeContentType *ct;
	const char *type, *sub;

	ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	type = ct != NULL ? g_mime_content_type_get_media_type(ct) : "text";
	sub = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : "plain";
	if (type == NULL || sub == NULL)
		return;
	if (g_ascii_strcasecmp(type, "message") == 0 &&
	    (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
	        g_ascii_strcasecmp(sub, "global-delivery-status") == 0)) {
		c->have_dsn = 1;
		part_text(part, &c->dsn);
		(void)og_buf_adds(&c->dsn, "\n\n");
	} else if (g_ascii_strcasecmp(type, "application") == 0 &&
	           (ci_has(sub, "zip") || ci_has(sub, "tlsrpt") ||
	               ci_has(sub, "xml"))) {
		/* DMARC aggregate reports are named receiver!domain!begin!end
		 * (RFC 7489 7.2.1.1); TLS-RPT has its own media types. */
		const char *fn = g_mime_part_get_filename(part);

		if (ci_has(sub, "tlsrpt") || (fn != NULL && strchr(fn, '!')))
			c->auth_report = 1;
	} else if (g_ascii_strcasecmp(type, "message") == 0 &&
	           (g_ascii_strcasecmp(sub, "disposition-notification") == 0 ||
	               g_ascii_strcasecmp(
	                   sub, "global-disposition-notification") == 0)) {
		og_buf t;
		GMimeObject *h;

		c->have_mdn = 1;
		og_buf_init(&t, 64 * 1024);
		part_text(part, &t);
		(void)og_buf_adds(&t, "\n\n");
		h = parse_entity(t.data, t.len);
		if (h != NULL) {
			const char *v =
			    g_mime_object_get_header(h, "Final-Recipient");
			const char *semi = v != NULL ? strchr(v, ';') : NULL;

			first_addr(semi != NULL ? semi + 1 : v, c->mdn_rcpt,
			    sizeof(c->mdn_rcpt));
			g_object_unref(h);
		}
		og_buf_free(&t);
	} else if (g_ascii_strcasecmp(type, "message") == 0 &&
	           g_ascii_strcasecmp(sub, "feedback-report") == 0) {
		c->have_arf = 1;
		part_text(part, &c->arf);
	} else if ((g_ascii_strcasecmp(type, "text") == 0 &&
	               g_ascii_strcasecmp(sub, "rfc822-headers") == 0) ||
	           (g_ascii_strcasecmp(type, "message") == 0 &&
	               (g_ascii_strcasecmp(sub, "rfc822-headers") == 0 ||
	                   g_ascii_strcasecmp(sub, "global-headers") == 0))) {
		og_buf t;
		GMimeObject *h;

		og_buf_init(&t, OG_REPORT_TEXT_SCAN);
		part_text(part, &t);
		(void)og_buf_adds(&t, "\n\n");
		h = parse_entity(t.data, t.len);
		if (h != NULL) {
			orig_headers(c, h);
			g_object_unref(h);
		}
		og_buf_free(&t);
	} else if (g_ascii_strcasecmp(type, "text") == 0 && !c->orig_found &&
	           depth < 4) {
		/* Human-readable text of the report (plain, or HTML as the
		 * last resort when nothing else is there). */
		if (g_ascii_strcasecmp(sub, "html") == 0 && c->text.len > 0)
			return;
		if (c->r->body[0] == '\0') {
			og_buf t;

			og_buf_init(&t, sizeof(c->r->body) - 1);
			part_text(part, &t);
			if (t.data != NULL)
				og_strlcpy(
				    c->r->body, t.data, sizeof(c->r->body));
			og_buf_free(&t);
			part_text(part, &c->text);
		} else {
			part_text(part, &c->text);
		}
	}
}

static void
walk(parse_ctx *c, GMimeObject *o, int depth)
{
	if (o == NULL || depth > 16)
		return;
	if (++c->nparts > OG_REPORT_PARTS_MAX) {
		c->truncated = 1;
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n && !c->truncated; i++)
			walk(c, g_mime_multipart_get_part(mp, i), depth + 1);
		/* A boundary that never occurs (mangled by a relay) leaves
		 * everything in the prologue: read it as text. */
		if (n == 0) {
			const char *pro = g_mime_multipart_get_prologue(mp);

			if (pro != NULL)
				(void)og_buf_adds(&c->text, pro);
		}
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (m == NULL)
			return;
		if (!c->orig_found) {
			orig_headers(c, GMIME_OBJECT(m));
		}
		/* A report forwarded as an attachment (some FBLs wrap the
		 * ARF report in message/rfc822; gateways and mail filters
		 * forward the DSN they received in it): look inside once. */
		if (depth < 3 && !c->have_arf && !c->have_dsn) {
			GMimeObject *body = g_mime_message_get_mime_part(m);

			if (body != NULL && GMIME_IS_MULTIPART(body)) {
				GMimeContentType *ct =
				    g_mime_object_get_content_type(body);
				const char *rt =
				    ct != NULL
				        ? g_mime_content_type_get_parameter(
				              ct, "report-type")
				        : NULL;

				if (rt != NULL &&
				    (ci_has(rt, "feedback-report") ||
				        ci_has(rt, "delivery-status")))
					walk(c, body, depth + 1);
			}
		}
	} else if (GMIME_IS_PART(o)) {
		walk_leaf(c, GMIME_PART(o), depth);
	}
}

/* ------------------------------------------------------------------ */
/* Field blocks (RFC 3464, RFC 5965) through GMime's header parser     */

/* Value of a field in a block parsed by GMime, or NULL. */
static const char *
field(GMimeObject *o, const char *name)
{
	return o != NULL ? g_mime_object_get_header(o, name) : NULL;
}

/*
 * A field's value as written, not decoded: an RFC 2047 encoded word in an
 * address is no encoded word (see find_addr), so GMime's decoded value
 * must not turn it into UTF-8.  NULL when absent.
 */
static const char *
raw_field(GMimeObject *o, const char *name)
{
	GMimeHeader *h;

	if (o == NULL)
		return NULL;
	h = g_mime_header_list_get_header(
	    g_mime_object_get_header_list(o), name);
	return h != NULL ? g_mime_header_get_raw_value(h) : NULL;
}

/* A DSN address field's SMTPUTF8 address (utf8_item_addr), from its raw
 * value: "utf-8; ñaca@africa.org", "utf-8; \x{F1}aca@africa.org",
 * "rfc822; ñaca@africa.org".  Returns 1 when there was one. */
static int
typed_utf8_addr(const char *raw, char *out, size_t outsize)
{
	const char *semi;
	char dec[OG_ADDR_INPUT_MAX + 1];

	if (raw == NULL || (semi = strchr(raw, ';')) == NULL)
		return 0;
	/* The escapes under "rfc822;" too: mox writes its 7-bit form
	 * there ("rfc822;m\x{F8}x@..."), and a backslash is no address
	 * character outside quotes anyway. */
	unescape_utf8_xtext(semi + 1, dec, sizeof(dec));
	return utf8_item_addr(dec, strlen(dec), out, outsize);
}

/* "rfc822; User@Example.com" -> "User@example.com", "" when none. */
static void
typed_addr(GMimeObject *o, const char *name, char *out, size_t outsize)
{
	const char *v = field(o, name), *semi;

	out[0] = '\0';
	if (v == NULL || typed_utf8_addr(raw_field(o, name), out, outsize))
		return;
	semi = strchr(v, ';');
	if (semi != NULL)
		v = semi + 1;
	first_addr(v, out, outsize);
}

/* Diagnostic-Code "smtp; 550 ..." -> "550 ...". */
static void
typed_text(const char *v, char *out, size_t outsize)
{
	const char *semi;

	out[0] = '\0';
	if (v == NULL)
		return;
	semi = strchr(v, ';');
	if (semi != NULL && semi - v < 16)
		v = semi + 1;
	copy_line(out, outsize, v, strlen(v));
}

static void
parse_dsn(parse_ctx *c)
{
	og_report *r = c->r;
	const char *s = c->dsn.data;
	size_t len = c->dsn.len, i = 0;
	int first = 1;

	while (i < len && r->nrcpt < OG_REPORT_RCPT_MAX) {
		/* One block ends at an empty line. */
		size_t j = i;
		GMimeObject *o;
		og_buf blk;
		const char *v;
		char addr[OG_ADDR_MAX + 1];

		while (j < len) {
			const char *nl = memchr(s + j, '\n', len - j);
			size_t e = nl != NULL ? (size_t)(nl - s) : len;
			size_t k = j;

			while (k < e &&
			       (s[k] == '\r' || s[k] == ' ' || s[k] == '\t'))
				k++;
			if (k == e && j > i) {
				break;
			}
			if (k == e) {
				i = e + 1; /* skip leading blank lines */
				j = i;
				continue;
			}
			j = e + 1;
		}
		if (j > len)
			j = len;
		if (j <= i)
			break;
		og_buf_init(&blk, 0);
		(void)og_buf_add(&blk, s + i, j - i);
		(void)og_buf_adds(&blk, "\n\n");
		o = parse_entity(blk.data, blk.len);
		og_buf_free(&blk);
		i = j;
		if (o == NULL)
			continue;
		if (first && (v = field(o, "Reporting-MTA")) != NULL)
			typed_text(
			    v, r->reporting_mta, sizeof(r->reporting_mta));
		first = 0;
		typed_addr(o, "Final-Recipient", addr, sizeof(addr));
		if (addr[0] == '\0')
			typed_addr(o, "Original-Recipient", addr, sizeof(addr));
		/* The per-message block (Reporting-MTA) names no
		 * recipient even when it carries an Action (Boxbe and
		 * others put one there): the later blocks do. */
		if ((addr[0] == '\0' && field(o, "Action") == NULL &&
		        field(o, "Status") == NULL) ||
		    (field(o, "Final-Recipient") == NULL &&
		        field(o, "Original-Recipient") == NULL &&
		        field(o, "Reporting-MTA") != NULL &&
		        ci_memmem(s + i, len - i, "Final-Recipient:") !=
		            NULL)) {
			g_object_unref(o);
			continue;
		}
		{
			og_report_rcpt *rc = &r->rcpt[r->nrcpt++];

			og_strlcpy(rc->addr, addr, sizeof(rc->addr));
			/* The address as the sender gave it (ORCPT), when
			 * the receiver forwarded or rewrote it. */
			typed_addr(o, "Original-Recipient", rc->orig,
			    sizeof(rc->orig));
			if (strcmp(rc->orig, rc->addr) == 0)
				rc->orig[0] = '\0';
			if ((v = field(o, "Action")) != NULL) {
				copy_line(rc->action, sizeof(rc->action), v,
				    strlen(v));
				lower(rc->action);
			}
			if ((v = field(o, "Status")) != NULL &&
			    !find_status(v, rc->status, sizeof(rc->status)))
				rc->status[0] = '\0';
			v = field(o, "Diagnostic-Code");
			/* Exchange (2007 on) and Hotmail's own DSNs may
			 * write no Diagnostic-Code and give the remote
			 * server's reply in X-Supplementary-Info ("<host
			 * #5.5.0 smtp;550 ...>"). */
			if (v == NULL)
				v = field(o, "X-Supplementary-Info");
			if (v != NULL &&
			    g_ascii_strncasecmp(v, "x-unix", 6) == 0)
				copy_line(
				    rc->diag, sizeof(rc->diag), v, strlen(v));
			else
				typed_text(v, rc->diag, sizeof(rc->diag));
			typed_text(field(o, "Remote-MTA"), rc->remote_mta,
			    sizeof(rc->remote_mta));
		}
		g_object_unref(o);
	}
}

/*
 * A feedback loop that hides whom it reports about puts a placeholder
 * where the address was: AOL and Comcast "redacted@aol.com", others a
 * local part of x's or asterisks, or a digest of the address (Comcast's
 * loop through Return Path: 32 hex digits, an MD5; SHA-1 and SHA-256
 * have 40 and 64).  That is nobody; the token, or the returned
 * original's To, may say who it was.
 */
static int
redacted_addr(const char *a)
{
	const char *at = strchr(a, '@');
	size_t n = at != NULL ? (size_t)(at - a) : strlen(a);
	size_t k = 0;

	if (n == 8 && strncasecmp(a, "redacted", 8) == 0)
		return 1;
	while (k < n && (a[k] == 'x' || a[k] == 'X' || a[k] == '*'))
		k++;
	if (n >= 3 && k == n)
		return 1;
	for (k = 0; k < n && isxdigit((unsigned char)a[k]); k++)
		;
	return k == n && (n == 32 || n == 40 || n == 64);
}

static void
parse_arf(parse_ctx *c)
{
	og_report *r = c->r;
	GMimeObject *o;
	const char *v;
	og_buf blk;

	og_buf_init(&blk, 0);
	(void)og_buf_add(&blk, c->arf.data, c->arf.len);
	(void)og_buf_adds(&blk, "\n\n");
	o = parse_entity(blk.data, blk.len);
	og_buf_free(&blk);
	if (o == NULL)
		return;
	if ((v = field(o, "Feedback-Type")) != NULL) {
		copy_line(
		    r->feedback_type, sizeof(r->feedback_type), v, strlen(v));
		lower(r->feedback_type);
	}
	if ((v = field(o, "User-Agent")) != NULL)
		copy_line(r->user_agent, sizeof(r->user_agent), v, strlen(v));
	if ((v = field(o, "Source-IP")) != NULL)
		copy_line(r->source_ip, sizeof(r->source_ip), v, strlen(v));
	if ((v = field(o, "Arrival-Date")) != NULL ||
	    (v = field(o, "Received-Date")) != NULL)
		copy_line(
		    r->arrival_date, sizeof(r->arrival_date), v, strlen(v));
	if ((v = field(o, "Reporting-MTA")) != NULL)
		typed_text(v, r->reporting_mta, sizeof(r->reporting_mta));
	if ((v = field(o, "Reported-Domain")) != NULL)
		copy_line(r->reported_domain, sizeof(r->reported_domain), v,
		    strlen(v));
	/* RFC 6590: the report says it hid the address, so the
	 * returned original's To is hidden as well. */
	if (field(o, "Redacted-Address") != NULL)
		c->arf_redacted = 1;
	if ((v = field(o, "Original-Mail-From")) != NULL) {
		first_addr(v, r->orig_mail_from, sizeof(r->orig_mail_from));
		add_tokens_str(r, v);
	}
	/* Every Original-Rcpt-To (RFC 6650 allows several), then the
	 * Removal-Recipient of the opt-out extension. */
	{
		GMimeHeaderList *hl = g_mime_object_get_header_list(o);
		int n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
		const char *names[] = {"Original-Rcpt-To", "Removal-Recipient"};

		for (size_t k = 0; k < 2; k++)
			for (int i = 0; i < n && r->nrcpt < OG_REPORT_RCPT_MAX;
			     i++) {
				GMimeHeader *h =
				    g_mime_header_list_get_header_at(hl, i);
				const char *nm = g_mime_header_get_name(h);
				char a[OG_ADDR_MAX + 1];

				if (nm == NULL ||
				    g_ascii_strcasecmp(nm, names[k]) != 0)
					continue;
				first_addr(
				    g_mime_header_get_value(h), a, sizeof(a));
				if (a[0] == '\0' || redacted_addr(a))
					continue;
				og_strlcpy(r->rcpt[r->nrcpt++].addr, a,
				    sizeof(r->rcpt[0].addr));
			}
	}
	g_object_unref(o);
}

/*
 * Delivery-status fields in the text itself (a DSN whose MIME structure
 * was lost, or an MTA that writes them inline): from the Reporting-MTA
 * or first Final-Recipient line on, as field blocks.
 */
static void
inline_dsn(parse_ctx *c, size_t hlen)
{
	const char *s = c->text.data;
	size_t i = 0, start = (size_t)-1;

	if (s == NULL)
		return;
	while (i < hlen) {
		const char *nl = memchr(s + i, '\n', hlen - i);
		size_t e = nl != NULL ? (size_t)(nl - s) : hlen;

		if (start == (size_t)-1 && e - i > 14 &&
		    strncasecmp(s + i, "Reporting-MTA:", 14) == 0)
			start = i;
		if (e - i > 16 &&
		    strncasecmp(s + i, "Final-Recipient:", 16) == 0) {
			if (start == (size_t)-1)
				start = i;
			break;
		}
		i = e + 1;
	}
	if (i >= hlen || start == (size_t)-1)
		return;
	(void)og_buf_add(&c->dsn, s + start, hlen - start);
	(void)og_buf_adds(&c->dsn, "\n\n");
	c->have_dsn = 1;
}

/* ------------------------------------------------------------------ */
/* Human-readable text                                                 */

/*
 * Separator lines after which classic MTAs append the returned message:
 * qmail "--- Below this line is a copy of the message.", Exim "------
 * This is a copy of the message, including all the headers. ------",
 * Sendmail "----- Original message follows -----" / "Unsent message
 * follows", and the many "Original message" variants.
 */
static int
is_separator(const char *line, size_t n)
{
	static const char *const marks[] = {"copy of the message",
	    "original message", "unsent message", "returned message",
	    "below this line", "message headers follow",
	    "original message headers", "message follows", "rejected message",
	    "undelivered message", "copy of your message",
	    "headers of the original", "original mail", NULL};
	size_t k = 0;

	while (k < n && (line[k] == ' ' || line[k] == '\t'))
		k++;
	if (n - k < 3 || (line[k] != '-' && line[k] != '=' && line[k] != '*'))
		return 0;
	return match_n(line, n, marks);
}

/*
 * The same announcement as a sentence without the dashes ("A copy of
 * the original message below this line:", "Original message follows.").
 * Such words also come in prose, so the caller wants a header block
 * right after it.
 */
static int
is_copy_intro(const char *line, size_t n)
{
	static const char *const marks[] = {"copy of the original message",
	    "copy of the message", "copy of your message", "below this line",
	    "original message follows", "message headers follow",
	    "headers of the original", NULL};

	if (n > 100)
		return 0;
	return match_n(line, n, marks);
}

/* Does the text at s look like the start of a header block? */
static int
looks_like_headers(const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && (s[k] == '\n' || s[k] == '\r' || s[k] == ' '))
		k++;
	for (size_t i = k; i < n && i < k + 80; i++) {
		if (s[i] == ':')
			return i > k;
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	}
	return 0;
}

/*
 * Split the human text at the separator that precedes an inline copy of
 * the original; parse that copy's headers.  Returns the length of the
 * human part.
 */
static size_t
split_inline_original(parse_ctx *c)
{
	const char *s = c->text.data;
	size_t len = c->text.len, i = 0;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - s) : len;

		int sep = is_separator(s + i, e - i);

		if (sep || is_copy_intro(s + i, e - i)) {
			size_t rest = e < len ? e + 1 : len;

			/* The copy may start after blank lines. */
			while (
			    rest < len && (s[rest] == '\n' || s[rest] == '\r'))
				rest++;
			if (!sep && !looks_like_headers(s + rest, len - rest)) {
				i = e + 1;
				continue;
			}
			if (!c->orig_found &&
			    looks_like_headers(s + rest, len - rest)) {
				GMimeObject *h =
				    parse_entity(s + rest, len - rest);

				if (h != NULL) {
					orig_headers(c, h);
					g_object_unref(h);
				}
			}
			return i;
		}
		i = e + 1;
	}
	return len;
}

/*
 * Is the address at line[a..b) the display name of an RFC 5322
 * name-addr, a@x <b@y> or "a@x" <b@y>?  Then <b@y> is the
 * mailbox; Exim quotes such a To: whole when it refuses it.
 */
static int
display_name(const char *line, size_t n, size_t a, size_t b)
{
	char x[OG_ADDR_MAX + 1];
	size_t k = b, xs, xe;

	if (a > 0 && line[a - 1] == '<')
		return 0;
	if (k < n && line[k] == '"')
		k++;
	while (k < n && (line[k] == ' ' || line[k] == '\t'))
		k++;
	if (k == b || k >= n || line[k] != '<')
		return 0;
	return find_addr(line, n, k, x, sizeof(x), &xs, &xe) && xs == k + 1 &&
	       xe < n && line[xe] == '>';
}

/*
 * "Sorry, unable to deliver your message to addr", "could not deliver
 * the message to addr": the sentence names the recipient.
 */
static int
deliver_to(const char *line, size_t n)
{
	static const char *const marks[] = {"deliver your message to",
	    "deliver the message to", "deliver this message to", "deliver to ",
	    NULL};

	return match_n(line, n, marks);
}

/* Is this line where the report names a failed address? */
static int
addr_line_kind(const char *line, size_t n, size_t a, size_t b)
{
	size_t k = 0, e = n;
	size_t pre, post;

	while (k < n && (line[k] == ' ' || line[k] == '\t' || line[k] == '>'))
		k++;
	while (e > k && (line[e - 1] == ' ' || line[e - 1] == '\r' ||
	                    line[e - 1] == '\t'))
		e--;
	pre = a - k;
	post = e - b;
	/* "<addr>" / "addr" / "<addr>:" / "addr:" alone on a line, as
	 * qmail, Exim, Gmail, Yahoo, Lotus Notes print it. */
	if (pre <= 1 && post <= 2) {
		if (pre == 1 && line[k] != '<' && line[k] != '"' &&
		    line[k] != '\'')
			goto next;
		return 1;
	}
	/* "<addr>: reason" (Postfix, qmail, Yahoo), "addr: reason". */
	if (pre <= 1 && post > 2) {
		size_t p = b;

		if (p < e && (line[p] == '>' || line[p] == '"'))
			p++;
		if (p < e && line[p] == ':')
			return 2;
		if (p < e && line[p] == '.' && p + 2 < e &&
		    line[p + 1] == '.' && line[p + 2] == '.')
			return 2; /* sendmail "addr... User unknown" */
		/* Exchange "addr on 12/3/2020 ...", "addr (reason)". */
		if (p + 4 < e && strncmp(line + p, " on ", 4) == 0)
			return 2;
		if (p + 2 < e && line[p] == ' ' && line[p + 1] == '(')
			return 2;
	}
	/* "Name <addr>: reason": Exim names a recipient it could not
	 * parse as it was written, display name and all.  A colon before
	 * the '<' ("RCPT TO:<addr>", "Final-Recipient: <addr>") or a
	 * reply code in front makes it some other line. */
	if (pre > 1 && pre <= 80 && line[a - 1] == '<' && b + 1 < e &&
	    line[b] == '>' && line[b + 1] == ':' &&
	    !isdigit((unsigned char)line[k]) &&
	    memchr(line + k, ':', pre) == NULL)
		return 2;
next:
	/* Sendmail "550 5.1.1 <addr>... User unknown" and the like. */
	if (find_smtp_code_n(line, n) != 0 || ci_memmem(line, n, "rcpt to") ||
	    ci_memmem(line, n, "recipient") || ci_memmem(line, n, "address") ||
	    ci_memmem(line, n, "user ") || ci_memmem(line, n, "mailbox") ||
	    ci_memmem(line, n, "delivered to") || deliver_to(line, n))
		return 3;
	return 0;
}

/*
 * Does this line of a Sendmail transcript start what another recipient
 * was told: "554 <other@example.org>... reason" or the per-host line
 * "550 example.org (smtp)... reason" before that host's recipients?
 */
static int
sendmail_next(const char *p, size_t n, const char *cur)
{
	char a[OG_ADDR_MAX + 1];
	size_t as, ae, i;

	if (n < 10 || !isdigit((unsigned char)p[0]) ||
	    !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) ||
	    p[3] != ' ')
		return 0;
	if (p[4] == '<')
		return find_addr(p, n, 0, a, sizeof(a), &as, &ae) && as == 5 &&
		       n - ae >= 4 && memcmp(p + ae, ">...", 4) == 0 &&
		       strcasecmp(a, cur) != 0;
	for (i = 4; i < n && is_domain_char((unsigned char)p[i]); i++)
		;
	if (i == 4 || i + 2 >= n || p[i] != ' ' || p[i + 1] != '(')
		return 0;
	for (i += 2; i < n && isalnum((unsigned char)p[i]); i++)
		;
	return n - i >= 4 && memcmp(p + i, ")...", 4) == 0;
}

static int notice_reply(const char *s, size_t len, char *out, size_t outsize);
static size_t reply_at(const char *l, size_t n);

/*
 * Whether the reply at a ("550-5.2.1 The email ...") is the one rep
 * joined ("550 5.2.1 The email ..."): same code, same first words after
 * it, so a notice quoting two replies never mixes them.
 */
static int
same_reply(const char *a, const char *rep)
{
	size_t i;

	if (strncmp(a, rep, 3) != 0)
		return 0;
	a += 4;
	rep += 4;
	while (*a == ' ')
		a++;
	for (i = 0; i < 16 && a[i] != '\0' && rep[i] != '\0'; i++)
		if (a[i] != rep[i])
			return 0;
	return 1;
}

/*
 * Lines after the address line that explain it: until a blank line.  A
 * multi-line reply they quote is joined as notice_reply() joins it.
 */
static void
gather_diag(const char *s, size_t len, size_t from, const char *line, size_t n,
    size_t b, const char *cur, char *out, size_t outsize)
{
	og_buf d;
	size_t i = from, lines = 0;

	og_buf_init(&d, outsize * 2);
	/* The rest of the address line, when it says something: past the
	 * address's closing '>' or quote and the colon after it ("<addr>:
	 * reason"), which opened the text with ">: ". */
	if (b < n && (line[b] == '>' || line[b] == '"' || line[b] == '\''))
		b++;
	if (b < n && line[b] == ':')
		b++;
	while (b < n && (line[b] == ' ' || line[b] == '\t' || line[b] == '\r'))
		b++;
	if (b < n)
		(void)og_buf_add(&d, line + b, n - b);
	if (line[0] != '\0' && (size_t)(line - s) < from &&
	    find_smtp_code_n(line, n) != 0) {
		og_buf_reset(&d);
		(void)og_buf_add(&d, line, n);
	}
	while (i < len && lines < 8) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - s) : len;
		size_t k = i;
		char a[OG_ADDR_MAX + 1];
		size_t as, ae;

		while (k < e && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == e) {
			if (d.len > 8 || lines > 0)
				break;
			i = e + 1;
			continue;
		}
		/* The next address line starts the next recipient. */
		if (find_addr(s + k, e - k, 0, a, sizeof(a), &as, &ae) &&
		    as <= 1 && e - k - ae <= 2 && strcasecmp(a, cur) != 0)
			break;
		if (sendmail_next(s + k, e - k, cur))
			break;
		if (is_separator(s + i, e - i))
			break;
		(void)og_buf_addc(&d, ' ');
		(void)og_buf_add(&d, s + k, e - k);
		lines++;
		i = e + 1;
	}
	/*
	 * A multi-line reply ("550-5.2.1 ...") as notice_reply() joins it
	 * (its repeated codes dropped, lines cut at a width put together),
	 * after the MTA's own words before it, kept as they are.
	 */
	if (i > len)
		i = len;
	if (d.data != NULL && line >= s && line < s + i) {
		size_t at = reply_at(d.data, d.len);
		char rep[OG_REPORT_DIAG_MAX + 1];

		if (at + 3 < d.len && d.data[at + 3] == '-' &&
		    notice_reply(
		        line, (size_t)(s + i - line), rep, sizeof(rep)) &&
		    same_reply(d.data + at, rep)) {
			d.len = at;
			(void)og_buf_add(&d, rep, strlen(rep));
		}
	}
	copy_line(out, outsize, d.data != NULL ? d.data : "", d.len);
	og_buf_free(&d);
}

/*
 * Sendmail names the address an alias or .forward expanded to and adds
 * "(expanded from: <addr>)": the sender wrote to that one, and it is the
 * one the sender knows.
 */
static void
expanded_from(og_report_rcpt *rc)
{
	const char *p = ci_memmem(rc->diag, strlen(rc->diag), "expanded from:");
	char a[OG_ADDR_MAX + 1];
	size_t as, ae, n;

	if (p == NULL)
		return;
	p += strlen("expanded from:");
	n = strcspn(p, ")");
	if (find_addr(p, n, 0, a, sizeof(a), &as, &ae))
		og_strlcpy(rc->addr, a, sizeof(rc->addr));
}

/* A line that announces the list of failed recipients. */
static int
is_rcpt_marker(const char *line, size_t n)
{
	static const char *const marks[] = {"following recipient",
	    "following address", "following destination",
	    "did not reach the following",
	    "could not be delivered to:", "wasn't delivered to",
	    "was not delivered to:", "failed recipient", NULL};

	return match_n(line, n, marks);
}

/* Find failed recipients in the human text. */
static void
scan_text(parse_ctx *c, const char *s, size_t len)
{
	og_report *r = c->r;
	size_t i = 0;
	int best_kind = 0;
	char best[OG_ADDR_MAX + 1] = "";
	size_t best_line = 0, best_n = 0, best_b = 0, best_next = 0;
	char any[OG_ADDR_MAX + 1] = "";
	int marker = 0;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - s) : len;
		size_t pos = 0;
		char a[OG_ADDR_MAX + 1];
		size_t as, ae;

		if (is_rcpt_marker(s + i, e - i))
			marker = 6;
		else if (marker > 0 && e > i)
			marker--;
		while (find_addr(s + i, e - i, pos, a, sizeof(a), &as, &ae)) {
			int kind;

			pos = ae;
			if (excluded(c, a))
				continue;
			if (display_name(s + i, e - i, as, ae))
				continue;
			if (any[0] == '\0')
				og_strlcpy(any, a, sizeof(any));
			/* "MAIL FROM:<addr>" names the sender. */
			if (as >= 5 && ci_memmem(s + i, as, "from") != NULL &&
			    ci_memmem(s + i, as, "rcpt") == NULL)
				continue;
			kind = addr_line_kind(s + i, e - i, as, ae);
			/* Right under "... the following recipient(s):" an
			 * address in any shape is one of them. */
			if (marker > 0 && (kind == 0 || kind == 3))
				kind = 1;
			if (kind == 0)
				continue;
			if (best_kind == 0 || kind < best_kind) {
				best_kind = kind;
				og_strlcpy(best, a, sizeof(best));
				best_line = i;
				best_n = e - i;
				best_b = ae;
				best_next = e + 1;
			}
			if (kind == 1 || kind == 2) {
				/* More recipients in the same shape. */
				if (r->nrcpt < OG_REPORT_RCPT_MAX &&
				    best_kind == kind) {
					int dup = 0;

					for (int k = 0; k < r->nrcpt; k++)
						if (strcasecmp(r->rcpt[k].addr,
						        a) == 0)
							dup = 1;
					if (!dup) {
						og_report_rcpt *rc =
						    &r->rcpt[r->nrcpt++];

						og_strlcpy(rc->addr, a,
						    sizeof(rc->addr));
						gather_diag(s, len, e + 1,
						    s + i, e - i, ae, a,
						    rc->diag, sizeof(rc->diag));
						expanded_from(rc);
					}
				}
			}
			break;
		}
		i = e + 1;
	}
	if (r->nrcpt == 0 && best[0] != '\0') {
		og_report_rcpt *rc = &r->rcpt[r->nrcpt++];

		og_strlcpy(rc->addr, best, sizeof(rc->addr));
		gather_diag(s, len, best_next, s + best_line, best_n, best_b,
		    best, rc->diag, sizeof(rc->diag));
		expanded_from(rc);
	}
	if (r->nrcpt == 0 && any[0] != '\0') {
		og_strlcpy(
		    r->rcpt[r->nrcpt++].addr, any, sizeof(r->rcpt[0].addr));
	}
}

/*
 * Exim and others list the failed addresses in X-Failed-Recipients: that
 * list is the recipients, in its order; the text scan gives each its
 * diagnostic when it found the same address.
 */
static void
xfailed_rcpts(parse_ctx *c)
{
	og_report *r = c->r;
	og_report_rcpt *found = og_xmalloc(sizeof(r->rcpt));
	int nfound = r->nrcpt;
	size_t pos = 0, a, b, len = strlen(c->xfailed);
	char ad[OG_ADDR_MAX + 1];

	memcpy(found, r->rcpt, sizeof(r->rcpt));
	memset(r->rcpt, 0, sizeof(r->rcpt));
	r->nrcpt = 0;
	while (pos < len && r->nrcpt < OG_REPORT_RCPT_MAX) {
		/* One comma-separated item: an SMTPUTF8 address whole,
		 * else the addresses find_addr sees in it. */
		const char *comma = memchr(c->xfailed + pos, ',', len - pos);
		size_t end = comma != NULL ? (size_t)(comma - c->xfailed) : len;
		int whole =
		    utf8_item_addr(c->xfailed + pos, end - pos, ad, sizeof(ad));

		while (r->nrcpt < OG_REPORT_RCPT_MAX &&
		       (whole || find_addr(c->xfailed, end, pos, ad, sizeof(ad),
		                     &a, &b))) {
			og_report_rcpt *rc = &r->rcpt[r->nrcpt++];

			og_strlcpy(rc->addr, ad, sizeof(rc->addr));
			for (int i = 0; i < nfound; i++)
				if (strcasecmp(found[i].addr, ad) == 0)
					og_strlcpy(rc->diag, found[i].diag,
					    sizeof(rc->diag));
			if (whole)
				break;
			pos = b;
		}
		pos = end + 1;
	}
	if (r->nrcpt > 0) {
		r->format = "exim";
	} else {
		memcpy(r->rcpt, found, sizeof(r->rcpt));
		r->nrcpt = nfound;
	}
	free(found);
}

/* A line of the text that carries an SMTP reply, for the diagnostic. */
static void
text_diag(const char *s, size_t len, char *out, size_t outsize)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - s) : len;
		char line[OG_REPORT_DIAG_MAX + 1];
		char st[16];

		copy_line(line, sizeof(line), s + i, e - i);
		if (find_smtp_code(line) != 0 ||
		    (find_status(line, st, sizeof(st)) && st[0] != '2')) {
			og_strlcpy(out, line, outsize);
			return;
		}
		i = e + 1;
	}
	out[0] = '\0';
}

/*
 * Does an SMTP reply start at l[k]: a 4xx/5xx code, then a space or the
 * '-' of a multi-line reply, then text?  A bare number is no reply.
 */
static int
reply_code_at(const char *l, size_t n, size_t k)
{
	if (k + 4 >= n || (l[k] != '4' && l[k] != '5') || l[k + 1] > '5' ||
	    !isdigit((unsigned char)l[k + 1]) ||
	    !isdigit((unsigned char)l[k + 2]) ||
	    (l[k + 3] != ' ' && l[k + 3] != '-'))
		return 0;
	if (k > 0 && (isalnum((unsigned char)l[k - 1]) || l[k - 1] == '.'))
		return 0;
	for (size_t j = k + 4; j < n; j++)
		if (!isspace((unsigned char)l[j]))
			return 1;
	return 0;
}

/*
 * Where MTAs quote the remote server's reply after words of their own on
 * the same line: Postfix and qmail "host X said: 550 ...", Gmail "The
 * error that the other server returned was: 550 ...", Exim "host X
 * [192.0.2.1]: 550 ...", IONOS "SMTP error from remote server for TEXT
 * command, host: X (192.0.2.1) reason: 550-5.7.1 ...".
 */
static const char *const reply_intros[] = {
    "said:", "was:", "replied:", "reason:", "]:",
    /* Office 365's notice when it has no delivery-status (its HTML
     * table as text): "Error:  550 5.1.10 RESOLVER...", "Reported
     * error:  550 ...", "Remote Server returned '550 ...'". */
    "error:", "returned '", NULL};

/* Leading white space of l[0..n). */
static size_t
indent_of(const char *l, size_t n)
{
	size_t k = 0;

	while (k < n && (l[k] == ' ' || l[k] == '\t'))
		k++;
	return k;
}

/*
 * Where in the line l[0..n) the remote server's reply starts: the line
 * itself, past indentation, quoting '>' and a transcript's "<<< ", or
 * after one of reply_intros.  Returns n when the line quotes no reply.
 */
static size_t
reply_at(const char *l, size_t n)
{
	size_t k = 0;

	while (k < n && (l[k] == ' ' || l[k] == '\t' || l[k] == '>'))
		k++;
	if (k + 3 < n && strncmp(l + k, "<<<", 3) == 0)
		for (k += 3; k < n && l[k] == ' ';)
			k++;
	if (reply_code_at(l, n, k))
		return k;
	for (int i = 0; reply_intros[i] != NULL; i++) {
		const char *p = ci_memmem(l, n, reply_intros[i]);

		if (p == NULL)
			continue;
		k = (size_t)(p - l) + strlen(reply_intros[i]);
		k += indent_of(l + k, n - k);
		if (reply_code_at(l, n, k))
			return k;
	}
	return n;
}

/* Does l[0..n) continue a multi-line reply: "550-..." or "550 ..."? */
static int
reply_next(const char *l, size_t n, const char *code)
{
	size_t k = indent_of(l, n);

	return k + 4 <= n && strncmp(l + k, code, 3) == 0 &&
	       (l[k + 3] == '-' || l[k + 3] == ' ');
}

/*
 * The remote server's reply as the notice quotes it, one line: the first
 * line that is or quotes an SMTP reply (reply_at), with the lines that
 * continue it: a multi-line reply's "550-5.1.1 ..." lines up to its last
 * "550 5.1.1 ...", their code and repeated status dropped (Gmail), or
 * lines indented deeper than it (Postfix wraps "said:" lines at 4
 * spaces).  A notice that cut a multi-line reply's lines at a fixed
 * width (IONOS) has pieces between them, joined as they were cut.
 * Returns 0, out untouched, when the notice quotes none.
 */
static int
notice_reply(const char *s, size_t len, char *out, size_t outsize)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - s) : len;
		size_t at = reply_at(s + i, e - i), ind, lines = 0;
		size_t prevn = 0, cutw = 0; /* width the notice cut lines at */
		char code[4], st[16] = "";
		int more;
		og_buf d;

		if (at == e - i) {
			i = e + 1;
			continue;
		}
		memcpy(code, s + i + at, 3);
		code[3] = '\0';
		more = s[i + at + 3] == '-';
		ind = indent_of(s + i, e - i);
		/* IONOS counts its width from the reply, not the line */
		prevn = e - i - at - (e > i && s[e - 1] == '\r');
		og_buf_init(&d, outsize * 2);
		(void)og_buf_add(&d, code, 3);
		(void)og_buf_addc(&d, ' ');
		(void)og_buf_add(&d, s + i + at + 4, e - i - at - 4);
		/* The status a multi-line reply repeats on each line. */
		if (more && find_status(d.data + 4, st, sizeof(st)) &&
		    strncmp(d.data + 4, st, strlen(st)) != 0)
			st[0] = '\0';
		for (i = e + 1; i < len && lines < 8; i = e + 1, lines++) {
			const char *l = s + i;
			size_t n, k, w;

			nl = memchr(l, '\n', len - i);
			e = nl != NULL ? (size_t)(nl - s) : len;
			n = e - i;
			k = indent_of(l, n);
			if (k == n || (k + 1 == n && l[k] == '\r'))
				break;
			w = n - (l[n - 1] == '\r'); /* without its CR */
			if (more && !reply_next(l, n, code)) {
				const char *nx = nl != NULL ? nl + 1 : s + len;
				const char *ne =
				    nx < s + len ? memchr(nx, '\n',
				                       (size_t)(s + len - nx))
				                 : NULL;

				if (nx >= s + len ||
				    !reply_next(nx,
				        (size_t)((ne != NULL ? ne : s + len) -
				                 nx),
				        code))
					break;
				/* A piece cut off the line before. */
				(void)og_buf_add(&d, l, w);
				cutw = prevn;
				prevn = w;
				continue;
			}
			if (more) {
				/* "550-5.1.1 text" and the last "550 5.1.1". */
				more = l[k + 3] == '-';
				k += 4;
				while (k < n && l[k] == ' ')
					k++;
				if (st[0] != '\0' && k + strlen(st) <= n &&
				    strncmp(l + k, st, strlen(st)) == 0)
					k += strlen(st);
			} else if (k <= ind || reply_at(l, n) != n) {
				/*
				 * The last line's tail, when the notice cut
				 * it too: that line as wide as the ones cut
				 * before it, this one shorter, unindented.
				 */
				if (cutw > 0 && prevn == cutw && k == 0 &&
				    w < cutw && reply_at(l, n) == n)
					(void)og_buf_add(&d, l, w);
				break;
			}
			(void)og_buf_addc(&d, ' ');
			(void)og_buf_add(&d, l + k, n - k);
			prevn = w;
		}
		copy_line(out, outsize, d.data, d.len);
		og_buf_free(&d);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Amazon SES notifications (JSON in a text part)                      */

/*
 * Where the string value of "key" starts, after from in s, or NULL.  JSON
 * allows white space around the colon (SES's documentation and
 * pretty-printed SNS deliveries have it).
 */
static const char *
json_value(const char *s, const char *from, const char *key)
{
	char pat[64];
	const char *p = from != NULL ? from : s;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	while ((p = strstr(p, pat)) != NULL) {
		p += strlen(pat);
		p += strspn(p, " \t\r\n");
		if (*p != ':')
			continue;
		p++;
		p += strspn(p, " \t\r\n");
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* The string value starting at p (see json_value) into out. */
static void
json_copy(const char *p, char *out, size_t outsize)
{
	size_t o = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	while (*p != '\0' && *p != '"' && o + 1 < outsize) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		out[o++] = *p++;
	}
	out[o] = '\0';
}

/* Value of "key":"value" after from in s; "" when absent. */
static void
json_str(
    const char *s, const char *from, const char *key, char *out, size_t outsize)
{
	json_copy(json_value(s, from, key), out, outsize);
}

/* The first recipient of an SES list ("bouncedRecipients"...): its
 * address, status and diagnostic. */
static void
ses_rcpt(const char *s, const char *list, og_report_rcpt *rc)
{
	const char *q = strstr(s, list);
	char v[OG_REPORT_DIAG_MAX + 1];

	json_str(s, q, "emailAddress", v, sizeof(v));
	first_addr(v, rc->addr, sizeof(rc->addr));
	json_str(s, q, "status", v, sizeof(v));
	(void)find_status(v, rc->status, sizeof(rc->status));
	json_str(s, q, "diagnosticCode", rc->diag, sizeof(rc->diag));
}

static int
parse_ses_json(parse_ctx *c)
{
	og_report *r = c->r;
	const char *s = c->text.data, *p;
	char type[32], sub[64], v[OG_REPORT_DIAG_MAX + 1];
	og_report_rcpt *rc;

	if (s == NULL)
		return 0;
	/* An SNS envelope carries the notification as an escaped JSON
	 * string: read it unescaped. */
	if (strstr(s, "\\\"notificationType\\\"") != NULL ||
	    strstr(s, "\\\"eventType\\\"") != NULL) {
		size_t o = 0;

		for (size_t i = 0; i < c->text.len; i++)
			if (!(s[i] == '\\' && s[i + 1] == '"'))
				c->text.data[o++] = s[i];
		c->text.data[o] = '\0';
		c->text.len = o;
	}
	/* SES notifications name their kind "notificationType", SES
	 * event publishing "eventType"; the objects inside are alike. */
	if ((p = json_value(s, NULL, "notificationType")) == NULL &&
	    (p = json_value(s, NULL, "eventType")) == NULL)
		return 0;
	json_copy(p, type, sizeof(type));
	r->format = "amazon-ses";
	rc = &r->rcpt[r->nrcpt++];
	if (strcmp(type, "Complaint") == 0) {
		const char *q = strstr(s, "\"complainedRecipients\"");

		r->kind = OG_RK_ARF;
		json_str(s, q, "emailAddress", v, sizeof(v));
		first_addr(v, rc->addr, sizeof(rc->addr));
		json_str(s, NULL, "complaintFeedbackType", r->feedback_type,
		    sizeof(r->feedback_type));
		json_str(
		    s, NULL, "userAgent", r->user_agent, sizeof(r->user_agent));
		rc->class = OG_RC_COMPLAINT;
		rc->reason = "complaint";
		return 1;
	}
	r->kind = OG_RK_DSN;
	if (strcmp(type, "Bounce") == 0) {
		ses_rcpt(s, "\"bouncedRecipients\"", rc);
		json_str(s, NULL, "reportingMTA", r->reporting_mta,
		    sizeof(r->reporting_mta));
		json_str(s, NULL, "bounceType", type, sizeof(type));
		json_str(s, NULL, "bounceSubType", sub, sizeof(sub));
		rc->class = og_report_classify(rc->status,
		    find_smtp_code(rc->diag), rc->diag, &rc->reason);
		if (strcmp(type, "Transient") == 0 && rc->class == OG_RC_HARD)
			rc->class = OG_RC_SOFT;
		if (strcmp(type, "Permanent") == 0 &&
		    strcmp(sub, "General") != 0 && rc->class == OG_RC_UNKNOWN)
			rc->class = OG_RC_HARD;
		if (rc->class == OG_RC_UNKNOWN)
			rc->class = strcmp(type, "Permanent") == 0 ? OG_RC_HARD
			                                           : OG_RC_SOFT;
		return 1;
	}
	/* A delay (event publishing's "DeliveryDelay"): SES still tries. */
	if (strcmp(type, "DeliveryDelay") == 0) {
		ses_rcpt(s, "\"delayedRecipients\"", rc);
		rc->class = OG_RC_SOFT;
		rc->reason = "delayed";
		return 1;
	}
	/* Delivery and anything else: not a failure. */
	json_str(s, strstr(s, "\"delivery\""), "recipients", v, sizeof(v));
	p = strstr(s, "\"destination\"");
	if (p != NULL)
		first_addr(p, rc->addr, sizeof(rc->addr));
	json_str(s, strstr(s, "\"delivery\""), "smtpResponse", rc->diag,
	    sizeof(rc->diag));
	(void)find_status(rc->diag, rc->status, sizeof(rc->status));
	rc->class = OG_RC_IGNORE;
	rc->reason = "delivered";
	return 1;
}

/* ------------------------------------------------------------------ */
/* Whole-message judgement                                             */

/*
 * "Re: ...", "Automatic reply: ...", "Out of Office: ...": a person's
 * answer (or their vacation program's).  What follows is the subject of
 * the mail answered, so its words ("returned", "failure") say nothing
 * about a failed delivery; no MTA starts a failure notice so.  Returns 2
 * for an auto-reply's prefix (its text is no notice either), 1 for a
 * reply's, 0 for neither.
 */
static int
reply_subject(const char *subj)
{
	static const char *const autopre[] = {"auto:", "autoreply",
	    "auto-reply", "auto reply", "automatic reply", "out of office",
	    "out of the office", "abwesenheit", "automatische antwort",
	    "automatisch antwoord", "autosvar", "risposta automatica",
	    "réponse automatique", "respuesta automática", "vacation", NULL};
	static const char *const pre[] = {
	    "re:", "aw:", "sv:", "antw:", "odp:", "res:", "vs:", NULL};

	while (*subj == ' ' || *subj == '\t')
		subj++;
	for (const char *const *p = autopre; *p != NULL; p++)
		if (ci_prefix(subj, *p))
			return 2;
	for (const char *const *p = pre; *p != NULL; p++)
		if (ci_prefix(subj, *p))
			return 1;
	return 0;
}

/*
 * Is the report from a mail system (a mailer daemon or postmaster, or
 * one that speaks RFC 3464 or names X-Failed-Recipients), not a person?
 */
static int
from_mail_system(const og_report *r, const parse_ctx *c)
{
	return c->system_from || ci_prefix(r->from, "mailer-daemon@") ||
	       ci_prefix(r->from, "postmaster@") ||
	       ci_prefix(r->from, "post_master@") ||
	       ci_prefix(r->from, "mail-daemon@") ||
	       ci_prefix(r->from, "mailerdaemon@") ||
	       ci_prefix(r->from, "mdaemon@") || c->xfailed[0] != '\0' ||
	       c->have_dsn || c->report_type_dsn;
}

/* Subjects and senders of failure notices (not of auto-replies). */
static int
looks_like_bounce(const og_report *r, const parse_ctx *c)
{
	static const char *const subj[] = {"undeliver", "undelivered",
	    "delivery status", "delivery failure", "delivery failed",
	    "failure notice", "returned mail", "returned to sender",
	    "non-delivery", "nondeliver", "not delivered",
	    "could not be delivered", "delivery problem", "mail delivery",
	    "delivery notification", "rejected", "error sending",
	    "failed delivery", "delivery report", "mail system error",
	    "warning: could not", "delayed mail", "delivery delayed",
	    "delivery has failed", "message status", "nicht zustellbar",
	    "unzustellbar", "returned", "bounce", "failure", NULL};

	/* What the failure notices of mobile carriers and appliances
	 * say in their first lines when their subject does not. */
	static const char *const body[] = {"could not be delivered",
	    "was not delivered", "delivery has failed", "delivery failed",
	    "undeliverable", "permanent error", "permanent failure",
	    "invalid user address", "unable to deliver",
	    "delivery to the following recipient", "could not deliver",
	    "message could not be sent", NULL};
	int reply;

	if (from_mail_system(r, c))
		return 1;
	/* A mail that says it is a vacation or auto-reply, and is not
	 * from a mailer daemon, quotes the subject it answers. */
	if (c->autoreply_hdr)
		return 0;
	reply = reply_subject(r->subject);
	if (reply == 0 && match(r->subject, subj))
		return 1;
	if (c->text.data != NULL && !c->auto_submitted_reply && reply != 2) {
		size_t n = c->text.len < 2048 ? c->text.len : 2048;

		if (match_n(c->text.data, n, body))
			return 1;
	}
	return 0;
}

static int
looks_like_autoreply(const og_report *r, const parse_ctx *c)
{
	static const char *const subj[] = {"auto:", "automatic reply",
	    "autoreply", "auto-reply", "auto reply", "out of office",
	    "out of the office", "vacation", "away from", "abwesenheit",
	    "autosvar", "respuesta automática", "réponse automatique",
	    "risposta automatica", "automatische antwort", "please confirm",
	    "verify your", "confirm your", "challenge", "odpowied", "nieobecno",
	    NULL};

	/* Challenge-response systems ask the sender to prove itself. */
	static const char *const body[] = {"allowed list",
	    "to ensure delivery of your", "verify that you are",
	    "confirm that you are", "click on the following link to have",
	    "approved senders", "i will be out of", "i am out of the office",
	    "i am currently out", NULL};

	if (c->autoreply_hdr)
		return 1;
	if (match(r->subject, subj))
		return 1;
	if (c->text.data != NULL) {
		size_t n = c->text.len < 2048 ? c->text.len : 2048;

		if (match_n(c->text.data, n, body))
			return 1;
	}
	return c->auto_submitted || c->precedence_bulk;
}

/*
 * A warning that delivery is late, in words only (Exim's "Warning:
 * message ... delayed 24 hours ... has not yet been delivered", Gmail's
 * and Sendmail's "THIS IS A WARNING MESSAGE ONLY", Postfix's "THIS IS A
 * WARNING ONLY", Domino's "Delivery attempts will continue", Exchange's
 * "Delivery is delayed to these recipients ... hasn't been delivered
 * yet").  The MTA is
 * still trying: whatever reply it quotes from the last attempt, its
 * final answer comes as a report of its own.  A report that also says it
 * gave up is not one.
 */
static int
delay_notice(const og_report *r, const char *human, size_t hlen)
{
	static const char *const subj[] = {"(delay)", "delayed mail",
	    "delivery delayed", "delivery delay", "message delayed",
	    "delayed 24 hours", "delayed 4 hours", "has not yet been delivered",
	    "could not send message for past", NULL};
	static const char *const body[] = {"warning message only",
	    "has not yet been delivered", "has been delayed",
	    "have been delayed", "delivery attempts will continue",
	    "will be retried", "still being retried", "will continue to try",
	    "do not need to resend", "do not resend your original",
	    "warning only", "is delayed to", "hasn't been delivered yet",
	    "has not been delivered yet", "will keep trying",
	    "will continue to be attempted", NULL};
	static const char *const final[] = {"permanent error",
	    "permanent fatal", "permanent failure", "given up", "gave up",
	    "not going to try again", "will not be retried", NULL};
	size_t n = hlen < 4096 ? hlen : 4096;

	if (human == NULL || match_n(human, n, final))
		return 0;
	return match(r->subject, subj) || match_n(human, n, body);
}

/*
 * The next line of the prose, from *pos on, that names addr: its start,
 * its length in *n, and *pos moved past it; NULL when none is left.
 * The shape OpenSMTPD lists its recipients in: "ADDR: REASON", one a line.
 */
static const char *
rcpt_line(
    const char *human, size_t hlen, size_t *pos, const char *addr, size_t *n)
{
	size_t alen = strlen(addr);
	const char *p, *b, *e;

	if (human == NULL || alen == 0 || *pos >= hlen)
		return NULL;
	p = ci_memmem(human + *pos, hlen - *pos, addr);
	if (p == NULL)
		return NULL;
	b = p;
	while (b > human && b[-1] != '\n')
		b--;
	e = memchr(p, '\n', hlen - (size_t)(p - human));
	if (e == NULL)
		e = human + hlen;
	*n = (size_t)(e - b);
	*pos = (size_t)(e - human);
	return b;
}

/* Does a line of the prose that names addr also say phrase? */
static int
rcpt_line_has(
    const char *human, size_t hlen, const char *addr, const char *phrase)
{
	size_t pos = 0, n;
	const char *l;

	while ((l = rcpt_line(human, hlen, &pos, addr, &n)) != NULL)
		if (ci_memmem(l, n, phrase) != NULL)
			return 1;
	return 0;
}

/* CommuniGate Pro's line before its own reason (rcpt_text_diag) */
#define CGP_FAILED "failed to deliver to '"

/*
 * The diagnostic for addr from the prose: the first line that names it
 * and carries an SMTP reply or a failure status (OpenSMTPD's "ADDR: 550
 * 5.1.1 ..." per recipient, where its delivery-status has no
 * Diagnostic-Code).  out is "" when there is none.
 */
static void
rcpt_text_diag(
    const char *human, size_t hlen, const char *addr, char *out, size_t outsize)
{
	size_t pos = 0, n;
	const char *l;

	out[0] = '\0';
	while ((l = rcpt_line(human, hlen, &pos, addr, &n)) != NULL) {
		char line[OG_REPORT_DIAG_MAX + 1];
		char st[16];

		copy_line(line, sizeof(line), l, n);
		if (find_smtp_code(line) != 0 ||
		    (find_status(line, st, sizeof(st)) && st[0] != '2')) {
			og_strlcpy(out, line, outsize);
			return;
		}
		/* CommuniGate Pro: "Failed to deliver to 'ADDR'", then its
		 * own reason on the next line ("Messages without To: fields
		 * are not accepted here"), or "SMTP module(...) reports:"
		 * and the remote reply, which the lines with a code give. */
		if (out[0] == '\0' && n > sizeof(CGP_FAILED) - 1 &&
		    ci_memmem(l, n, CGP_FAILED) == l) {
			const char *nx = l + n + 1;
			const char *end = human + hlen;
			const char *e;

			if (nx < end && *nx != '\n' && *nx != '\r' &&
			    *nx != ' ') {
				e = memchr(nx, '\n', (size_t)(end - nx));
				copy_line(line, sizeof(line), nx,
				    (size_t)((e != NULL ? e : end) - nx));
				if (strstr(line, " reports:") == NULL)
					og_strlcpy(out, line, outsize);
			}
		}
	}
}

static void
finish(parse_ctx *c, const char *human, size_t hlen)
{
	og_report *r = c->r;
	int delay = !c->have_dsn && r->kind == OG_RK_DSN &&
	            delay_notice(r, human, hlen);

	for (int i = 0; i < r->nrcpt; i++) {
		og_report_rcpt *rc = &r->rcpt[i];
		int code, dsn_diag;
		const char *why = NULL, *cmd;

		if (rc->class != OG_RC_UNKNOWN)
			continue;
		if (r->kind == OG_RK_ARF) {
			rc->class = OG_RC_COMPLAINT;
			rc->reason = "complaint";
			continue;
		}
		/* What a Diagnostic-Code says is the reply, code or not. */
		dsn_diag = !c->prose_diag && rc->diag[0] != '\0';
		if (rc->diag[0] == '\0')
			rcpt_text_diag(
			    human, hlen, rc->addr, rc->diag, sizeof(rc->diag));
		/* A sentence of the notice ("because the address couldn't
		 * be found") says less than the remote server's reply it
		 * quotes, which Diagnostic-Code would have carried; with one
		 * recipient, the reply is that recipient's. */
		if (!dsn_diag && r->nrcpt == 1 && find_smtp_code(rc->diag) == 0)
			(void)notice_reply(
			    human, hlen, rc->diag, sizeof(rc->diag));
		if (rc->diag[0] == '\0' && i == 0)
			text_diag(human, hlen, rc->diag, sizeof(rc->diag));
		if (rc->status[0] == '\0' || generic_status(rc->status)) {
			char st[16];

			if (find_status(rc->diag, st, sizeof(st)) &&
			    st[0] != '2' &&
			    (rc->status[0] == '\0' || st[0] == rc->status[0]))
				og_strlcpy(rc->status, st, sizeof(rc->status));
		}
		code = find_smtp_code(rc->diag);
		if (strcmp(rc->action, "delayed") == 0 ||
		    (delay && rc->action[0] == '\0')) {
			rc->class = OG_RC_SOFT;
			rc->reason = "delayed";
			/* OpenSMTPD (6.8) reports an envelope it deleted at
			 * its queue ttl as delayed, "ADDR: Envelope expired":
			 * the message is gone, a failure to count. */
			if (rcpt_line_has(
			        human, hlen, rc->addr, "envelope expired"))
				rc->reason = "expired";
			/* nullmailer-send reports only a message it gave up
			 * on (queuelifetime passed, moved to failed/), and
			 * nullmailer-dsn words a 4.x.x status as a delay
			 * notice; one that still retries would say until
			 * when. */
			if (human != NULL &&
			    ci_memmem(human, hlen,
			        "this is the nullmailer delivery system") !=
			        NULL &&
			    ci_memmem(human, hlen,
			        "continue to be attempted until") == NULL)
				rc->reason = "expired";
			continue;
		}
		if (strcmp(rc->action, "delivered") == 0 ||
		    strcmp(rc->action, "relayed") == 0 ||
		    strcmp(rc->action, "expanded") == 0) {
			rc->class = OG_RC_IGNORE;
			rc->reason = "delivered";
			continue;
		}
		cmd = smtp_command(rc->diag);
		if (cmd[0] == '\0') {
			/* The explanation may name the command apart from
			 * the reply ("in reply to RCPT TO command"). */
			char buf[4096];

			copy_line(buf, sizeof(buf), human,
			    hlen < sizeof(buf) ? hlen : sizeof(buf));
			cmd = smtp_command(buf);
		}
		rc->class =
		    classify(rc->status, code, cmd, rc->diag, &rc->reason);
		if (rc->class == OG_RC_HARD && rc->diag[0] == '\0' &&
		    hlen > 0 && strcmp(rc->reason, "permanent") == 0) {
			/* A bare permanent code: the prose may say why. */
			char buf[4096];
			int k;

			copy_line(buf, sizeof(buf), human,
			    hlen < sizeof(buf) ? hlen : sizeof(buf));
			k = classify_x(
			    rc->status, 0, smtp_command(buf), buf, 1, &why);
			if (k != OG_RC_UNKNOWN &&
			    strcmp(why, "permanent") != 0) {
				rc->class = k;
				rc->reason = why;
			}
		}
		if (rc->class == OG_RC_UNKNOWN && hlen > 0) {
			/* No code at all: the prose says how final it is. */
			char buf[4096];

			copy_line(buf, sizeof(buf), human,
			    hlen < sizeof(buf) ? hlen : sizeof(buf));
			rc->class =
			    classify_x("", 0, smtp_command(buf), buf, 1, &why);
			if (rc->class != OG_RC_UNKNOWN)
				rc->reason = why;
			/* Words alone are proof only from a mail system: a
			 * person's text that says "permanent" is no bounce. */
			if (rc->class == OG_RC_UNKNOWN &&
			    from_mail_system(r, c) &&
			    (ci_has(buf, "permanent") ||
			        ci_has(buf, "fatal error") ||
			        ci_has(buf, "unable to deliver") ||
			        ci_has(buf, "could not be delivered") ||
			        ci_has(buf, "recipients failed") ||
			        ci_has(buf, "undeliverable to") ||
			        ci_has(buf, "was not delivered") ||
			        ci_has(buf, "failure reasons"))) {
				rc->class = OG_RC_HARD;
				rc->reason = "permanent";
			} else if (rc->class == OG_RC_UNKNOWN &&
			           (ci_has(buf, "temporar") ||
			               ci_has(buf, "will retry") ||
			               ci_has(buf, "still trying") ||
			               ci_has(buf, "delayed") ||
			               ci_has(buf, "will be retried"))) {
				rc->class = OG_RC_SOFT;
				rc->reason = "temporary";
			}
		}
		/* Neither a code nor a mail system behind the words: a
		 * person's note ("address unknown") is not proof. */
		if (rc->class == OG_RC_HARD && rc->status[0] == '\0' &&
		    code == 0 && !from_mail_system(r, c)) {
			rc->class = OG_RC_SOFT;
			rc->reason = "unexplained";
		}
		/* A failure nobody explained proves nothing about the
		 * mailbox: count it, do not suppress for good. */
		if (rc->class == OG_RC_UNKNOWN && r->kind == OG_RK_DSN) {
			rc->class = OG_RC_SOFT;
			rc->reason = "unexplained";
		}
		if (rc->status[0] == '\0' && rc->class == OG_RC_HARD &&
		    rc->reason != NULL) {
			if (strcmp(rc->reason, "user-unknown") == 0)
				og_strlcpy(
				    rc->status, "5.1.1", sizeof(rc->status));
			else if (strcmp(rc->reason, "host-unknown") == 0)
				og_strlcpy(
				    rc->status, "5.1.2", sizeof(rc->status));
		}
	}
	if (r->nrcpt > 0) {
		r->class = r->rcpt[0].class;
		r->reason = r->rcpt[0].reason;
	}
}

/*
 * The address of the report's From, as RFC 5322 (and a DMARC check in
 * front of us) reads it: GMime's address parser, one mailbox or none.
 * Text in a comment or an encoded display name ("<x@evil> (<fbl@isp>)")
 * is no address: the domain decides whether a reporter is trusted.
 */
static void
report_from(GMimeMessage *msg, char *out, size_t size)
{
	InternetAddressList *l = g_mime_message_get_from(msg);
	InternetAddress *ia;

	out[0] = '\0';
	if (l == NULL || internet_address_list_length(l) != 1)
		return;
	ia = internet_address_list_get_address(l, 0);
	if (ia != NULL && INTERNET_ADDRESS_IS_MAILBOX(ia))
		first_addr(internet_address_mailbox_get_addr(
		               INTERNET_ADDRESS_MAILBOX(ia)),
		    out, size);
}

/*
 * Count what GMime would build before it does: each line that may be a
 * MIME boundary becomes a part object, and each few bytes of a header
 * block may become a header, parameter or address object of its own
 * (hundreds of bytes each), so 10 MB of empty parts or of address lists
 * take gigabytes.  Header blocks are where GMime reads headers: the top
 * of the message, after a boundary, and the body of a message/ part or
 * of a part without a Content-Type (a digest's parts are messages).
 * Returns why the message is refused, or NULL.
 */
static const char *
too_complex(const char *data, size_t len)
{
	size_t i = 0, delims = 0, hbytes = 0;
	int inhdr = 1, part = 0, msg = 0, ct = 0, inct = 0;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - data) : len;
		size_t n = e - i;

		if (n >= 2 && data[i] == '-' && data[i + 1] == '-') {
			if (++delims > OG_REPORT_DELIMS_MAX)
				return "too many MIME parts";
			inhdr = part = 1;
			msg = ct = inct = 0;
		} else if (inhdr && (n == 0 || (n == 1 && data[i] == '\r'))) {
			inhdr = msg || (part && !ct);
			part = msg = ct = inct = 0;
		} else if (inhdr) {
			size_t k = 12;

			hbytes += n + 1;
			if (hbytes > OG_REPORT_HEADERS_MAX)
				return "too many header lines";
			if (data[i] != ' ' && data[i] != '\t') {
				while (k < n && (data[i + k] == ' ' ||
				                    data[i + k] == '\t'))
					k++;
				inct = k < n && data[i + k] == ':' &&
				       strncasecmp(
				           data + i, "content-type", 12) == 0;
				ct |= inct;
			}
			/* Any "message" in the type (a comment may split
			 * "message / rfc822"): too much is the safe side. */
			if (inct && ci_memmem(data + i, n, "message") != NULL)
				msg = 1;
		}
		i = e + 1;
	}
	return NULL;
}

int
og_report_parse(
    const char *data, size_t len, const char *envelope_rcpt, og_report *out)
{
	parse_ctx c;
	GMimeStream *st;
	GMimeParser *parser;
	GMimeMessage *msg;
	GMimeObject *top;
	const char *v, *prec, *asub;
	size_t hlen, mp = 0;

	memset(out, 0, sizeof(*out));
	out->reason = "unknown";
	out->format = "none";
	if (data == NULL) /* an empty quarantine entry: no bytes, no buffer */
		data = "";
	if (len > OG_REPORT_INPUT_MAX) {
		out->reason = "message too big";
		return OG_ETOOBIG;
	}
	/* GMime recurses once per nested multipart: refuse structures no
	 * report has before it does (a multipart bomb). */
	for (const char *p = data, *end = data + len;
	     (p = memchr(p, '/', (size_t)(end - p))) != NULL; p++) {
		if (p - data >= 9 && strncasecmp(p - 9, "multipart", 9) == 0 &&
		    ++mp > OG_REPORT_MULTIPARTS_MAX) {
			out->reason = "too many nested MIME parts";
			return OG_ETOOBIG;
		}
	}
	if ((v = too_complex(data, len)) != NULL) {
		out->reason = v;
		return OG_ETOOBIG;
	}
	og_report_init();
	/* An mbox "From " line is no header. */
	if (len > 5 && memcmp(data, "From ", 5) == 0) {
		const char *nl = memchr(data, '\n', len);

		if (nl != NULL) {
			len -= (size_t)(nl + 1 - data);
			data = nl + 1;
		}
	}
	memset(&c, 0, sizeof(c));
	c.r = out;
	og_buf_init(&c.text, OG_REPORT_TEXT_SCAN);
	og_buf_init(&c.dsn, OG_REPORT_TEXT_SCAN);
	og_buf_init(&c.arf, 64 * 1024);

	st = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(st);
	if (msg == NULL) {
		out->reason = "not a mail message";
		og_buf_free(&c.text);
		og_buf_free(&c.dsn);
		og_buf_free(&c.arf);
		return OG_EINVAL;
	}
	top = GMIME_OBJECT(msg);

	if ((v = hdr(top, "Message-ID")) != NULL)
		copy_line(
		    out->message_id, sizeof(out->message_id), v, strlen(v));
	report_from(msg, out->from, sizeof(out->from));
	/* Mail systems sign with a name when their address says little:
	 * "Mail Delivery System <Mail.Delivery.System@...>", "MMSC NDR
	 * Administrator", a bare "MAILER-DAEMON". */
	if ((v = hdr(top, "From")) != NULL) {
		static const char *const sys[] = {"mailer-daemon",
		    "mailer_daemon", "mail delivery", "mail.delivery",
		    "postmaster", "mdaemon", "ndr administrator", NULL};

		c.system_from = match(v, sys);
	}
	if ((v = hdr(top, "To")) != NULL)
		first_addr(v, out->to, sizeof(out->to));
	if ((v = hdr(top, "Subject")) != NULL)
		copy_line(out->subject, sizeof(out->subject), v, strlen(v));
	/* As written: an SMTPUTF8 address stays whole, an encoded word
	 * stays one (see raw_field). */
	if ((v = raw_field(top, "X-Failed-Recipients")) != NULL)
		og_strlcpy(c.xfailed, v, sizeof(c.xfailed));
	if ((v = hdr(top, "Subject")) != NULL &&
	    (g_ascii_strncasecmp(v, "Report domain:", 14) == 0 ||
	        g_ascii_strncasecmp(v, "Report-ID:", 10) == 0))
		c.auth_report = 1;
	prec = hdr(top, "Precedence");
	asub = hdr(top, "Auto-Submitted");
	if (prec != NULL && (ci_has(prec, "bulk") || ci_has(prec, "junk")))
		c.precedence_bulk = 1;
	if (asub != NULL && g_ascii_strncasecmp(asub, "no", 2) != 0)
		c.auto_submitted = 1;
	/*
	 * auto_reply: what says "I answer a mail" (a vacation program's
	 * headers, RFC 3834 auto-replied), not "do not answer me"
	 * (X-Auto-Response-Suppress) nor "a program wrote me" (auto-generated:
	 * a mail client's own unsubscribe mail may say so).
	 */
	out->auto_reply = hdr(top, "X-Autoreply") != NULL ||
	                  hdr(top, "X-Autorespond") != NULL ||
	                  hdr(top, "X-Autoresponder") != NULL ||
	                  (prec != NULL && ci_has(prec, "auto_reply"));
	if (out->auto_reply || (asub != NULL && ci_has(asub, "vacation")) ||
	    ((v = hdr(top, "X-Auto-Response-Suppress")) != NULL &&
	        ci_has(v, "oof")))
		c.autoreply_hdr = c.auto_submitted_reply = 1;
	if (asub != NULL && ci_has(asub, "auto-replied"))
		out->auto_reply = 1;
	if ((v = hdr(top, "X-Apple-Unsubscribe")) != NULL && ci_has(v, "true"))
		c.apple_unsub = 1;
	if ((v = hdr(top, "Delivered-To")) != NULL)
		first_addr(v, c.delivered_to, sizeof(c.delivered_to));
	received_field(hdr(top, "Received"), out);

	/* Where the report came to: a VERP address carries our token. */
	if (envelope_rcpt != NULL)
		add_tokens_str(out, envelope_rcpt);
	add_tokens_str(out, hdr(top, "X-Original-To"));
	add_tokens_str(out, hdr(top, "Delivered-To"));
	add_tokens_str(out, hdr(top, "To"));

	{
		GMimeContentType *ct = g_mime_object_get_content_type(top);
		const char *rt = ct != NULL ? g_mime_content_type_get_parameter(
		                                  ct, "report-type")
		                            : NULL;

		if (rt != NULL && ci_has(rt, "feedback-report"))
			c.report_type_arf = 1;
		if (rt != NULL && ci_has(rt, "delivery-status"))
			c.report_type_dsn = 1;
		if (rt != NULL && ci_has(rt, "tlsrpt"))
			c.auth_report = 1;
	}
	walk(&c, g_mime_message_get_mime_part(msg), 0);
	hlen = c.orig_found ? c.text.len : split_inline_original(&c);
	if (c.text.data == NULL)
		(void)og_buf_adds(&c.text, "");
	if (hlen > OG_REPORT_TEXT_SCAN)
		hlen = OG_REPORT_TEXT_SCAN;

	/* The sender's own addresses are never the failed recipient. */
	exclude(&c, out->to);
	exclude(&c, c.delivered_to);
	exclude(&c, out->from);
	exclude(&c, out->orig_from);
	exclude(&c, c.orig_return_path);
	exclude(&c, c.orig_sender);

	if (!c.have_arf && !c.have_dsn)
		inline_dsn(&c, hlen);
	if (c.have_arf) {
		out->kind = OG_RK_ARF;
		out->format = "arf";
		parse_arf(&c);
		/* Duplicates are found by report id: a report without a
		 * Message-ID gets one from what it reports. */
		if (out->message_id[0] == '\0') {
			uint64_t h = 1469598103934665603ULL;
			const char *parts[] = {
			    c.arf.data, out->orig_message_id};

			for (size_t k = 0; k < 2; k++)
				for (const char *p = parts[k]; p && *p; p++)
					h = (h ^ (unsigned char)*p) *
					    1099511628211ULL;
			snprintf(out->message_id, sizeof(out->message_id),
			    "<arf-%016llx@optgate.invalid>",
			    (unsigned long long)h);
		}
		if (out->nrcpt == 0 && c.hm_rcpt[0] != '\0')
			og_strlcpy(out->rcpt[out->nrcpt++].addr, c.hm_rcpt,
			    sizeof(out->rcpt[0].addr));
		if (out->nrcpt == 0 && out->orig_to[0] != '\0' &&
		    !c.arf_redacted && !redacted_addr(out->orig_to))
			og_strlcpy(out->rcpt[out->nrcpt++].addr, out->orig_to,
			    sizeof(out->rcpt[0].addr));
		if (out->nrcpt == 0)
			out->nrcpt = 1; /* redacted: the token may say who */
		/* Authentication-failure reports (RFC 6591) are about
		 * the sender's DNS, not a person's complaint; a not-spam
		 * report (RFC 5965) says the person wants the mail. */
		if (strcmp(out->feedback_type, "auth-failure") == 0 ||
		    strcmp(out->feedback_type, "dmarc") == 0 ||
		    strcmp(out->feedback_type, "not-spam") == 0) {
			for (int i = 0; i < out->nrcpt; i++) {
				out->rcpt[i].class = OG_RC_IGNORE;
				out->rcpt[i].reason =
				    out->feedback_type[0] == 'n'
				        ? "not-spam"
				        : "auth-failure";
			}
		}
	} else if (c.auth_report && !c.have_dsn) {
		out->format = "dmarc-or-tls-report";
		out->class = OG_RC_IGNORE;
		out->reason = "auth-report";
	} else if (c.have_dsn) {
		out->kind = OG_RK_DSN;
		out->format = "rfc3464";
		parse_dsn(&c);
		if (out->nrcpt == 0) {
			c.prose_diag = 1;
			scan_text(&c, c.text.data, hlen);
			/* No recipient block and none in the text (Postfix's
			 * "Delivery report unavailable"): the returned
			 * original's To, as for a text report. */
			if (out->nrcpt == 0 && out->orig_to[0] != '\0')
				og_strlcpy(out->rcpt[out->nrcpt++].addr,
				    out->orig_to, sizeof(out->rcpt[0].addr));
		} else if (out->rcpt[0].addr[0] == '\0') {
			/* A Final-Recipient without a mailbox: the text
			 * usually names it. */
			og_report_rcpt *saved = og_xmalloc(sizeof(out->rcpt));
			int n = out->nrcpt;

			memcpy(saved, out->rcpt, sizeof(out->rcpt));
			out->nrcpt = 0;
			scan_text(&c, c.text.data, hlen);
			if (out->nrcpt > 0)
				og_strlcpy(saved[0].addr, out->rcpt[0].addr,
				    sizeof(saved[0].addr));
			memcpy(out->rcpt, saved, sizeof(out->rcpt));
			out->nrcpt = n;
			free(saved);
		}
	} else if (c.have_mdn) {
		/* A read receipt (RFC 8098), whatever its subject quotes:
		 * the mail reached a mailbox that is alive. */
		out->kind = OG_RK_AUTOREPLY;
		out->format = "mdn";
		og_strlcpy(out->rcpt[0].addr,
		    c.mdn_rcpt[0] != '\0' ? c.mdn_rcpt : out->from,
		    sizeof(out->rcpt[0].addr));
		out->rcpt[0].class = OG_RC_IGNORE;
		out->rcpt[0].reason = "auto-reply";
		out->nrcpt = 1;
	} else if (parse_ses_json(&c)) {
		/* done */
	} else if (c.hm_rcpt[0] != '\0' && !looks_like_bounce(out, &c)) {
		/* Microsoft's JMRP before it spoke ARF: the complained
		 * message attached, the recipient in its own header. */
		out->kind = OG_RK_ARF;
		out->format = "jmrp";
		og_strlcpy(out->rcpt[out->nrcpt++].addr, c.hm_rcpt,
		    sizeof(out->rcpt[0].addr));
	} else if (c.apple_unsub) {
		out->kind = OG_RK_UNSUB;
		out->format = "apple-unsubscribe";
		og_strlcpy(
		    out->rcpt[0].addr, out->from, sizeof(out->rcpt[0].addr));
		out->rcpt[0].class = OG_RC_COMPLAINT;
		out->rcpt[0].reason = "unsubscribe";
		out->nrcpt = 1;
	} else if (looks_like_bounce(out, &c) || c.report_type_dsn) {
		out->kind = OG_RK_DSN;
		out->format = "text";
		c.prose_diag = 1;
		scan_text(&c, c.text.data, hlen);
		if (c.xfailed[0] != '\0')
			xfailed_rcpts(&c);
		if (out->nrcpt == 0 && out->orig_to[0] != '\0')
			og_strlcpy(out->rcpt[out->nrcpt++].addr, out->orig_to,
			    sizeof(out->rcpt[0].addr));
	} else if (looks_like_autoreply(out, &c)) {
		out->kind = OG_RK_AUTOREPLY;
		out->format = "auto-reply";
		out->class = OG_RC_IGNORE;
		out->reason = "auto-reply";
		if (out->from[0] != '\0') {
			og_strlcpy(out->rcpt[0].addr, out->from,
			    sizeof(out->rcpt[0].addr));
			out->rcpt[0].class = OG_RC_IGNORE;
			out->rcpt[0].reason = "auto-reply";
			out->nrcpt = 1;
		}
	} else {
		out->reason = "not a report";
	}
	finish(&c, c.text.data, hlen);
	out->mail_system = from_mail_system(out, &c);
	if (out->kind == OG_RK_AUTOREPLY) {
		out->class = OG_RC_IGNORE;
		out->reason = "auto-reply";
	}

	og_buf_free(&c.text);
	og_buf_free(&c.dsn);
	og_buf_free(&c.arf);
	g_object_unref(msg);
	return 0;
}
