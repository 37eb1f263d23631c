/*
 * og_addr.h - mail addresses: parse, normalise, match key, typo check.
 *
 * Normalise once, at the edge.  og_addr_parse() takes what a sender, a CSV
 * file or a report gave us and produces three forms:
 *   raw   the address as given, surrounding whitespace, <> and a source
 *         route ("@relay:", with or without <>) removed; kept for
 *         display, audit and export, never rewritten;
 *   norm  the deliverable form: local part as given (quotes removed when
 *         the content is a valid dot-atom), domain lowercased and turned
 *         into IDNA2008 A-labels (libidn2);
 *   key   the match key used to look up consent: norm with the local part
 *         lowercased (unless rules->local_case_sensitive) and the provider
 *         rules applied (gmail dots and googlemail.com, +tag removal for
 *         the plus_tags domains).
 * It rejects what RFC 5321 would not deliver (length limits, syntax, a
 * domain that is not a valid hostname or address literal) and names why.
 * A likely typo of a big mailbox domain is reported in typo[], never
 * applied.
 *
 * LIMITS: local part <= 64 octets, domain <= 255 octets, whole path
 * <= 256 octets (RFC 5321 4.5.3.1); input longer than OG_ADDR_INPUT_MAX
 * bytes is rejected before parsing.
 *
 * Thread-safe: no global state besides constant tables.
 */
#ifndef OG_ADDR_H
#define OG_ADDR_H

#include <stddef.h>

#define OG_ADDR_MAX 320        /* longest norm/key (64 + 1 + 255) */
#define OG_ADDR_INPUT_MAX 1024 /* longest input considered at all */
#define OG_DOMAIN_MAX 255

#define OG_ADDR_UTF8 0x01    /* local part has non-ASCII (SMTPUTF8) */
#define OG_ADDR_QUOTED 0x02  /* local part needs quoting */
#define OG_ADDR_IDN 0x04     /* domain was given in Unicode (U-labels) */
#define OG_ADDR_LITERAL 0x08 /* domain is an address literal [1.2.3.4] */

typedef struct og_addr_rules {
	int gmail_dots;               /* gmail.com: dots do not count */
	int local_case_sensitive;     /* compare local parts exactly */
	const char *const *plus_tags; /* domains whose +tag is dropped */
	size_t nplus_tags;
	int skip_typo; /* leave typo[] empty (hot paths) */
} og_addr_rules;

typedef struct og_addr {
	char raw[OG_ADDR_INPUT_MAX + 1];
	char norm[OG_ADDR_MAX + 1];
	char key[OG_ADDR_MAX + 1];
	const char *domain;           /* points into norm: the A-label domain */
	char typo[OG_DOMAIN_MAX + 1]; /* suggested domain, or "" */
	unsigned flags;               /* OG_ADDR_* */
	const char *error;            /* static reason when parse failed */
} og_addr;

/*
 * og_addr_parse - parse and normalise one address.
 * s/len: the input, need not be NUL-terminated.  rules may be NULL
 * (defaults: gmail_dots on, no plus tags, case-insensitive local part).
 * Returns 0, or OG_EINVAL with out->error set to a short static reason
 * ("missing @", "local part longer than 64 octets", ...).
 */
int og_addr_parse(
    const char *s, size_t len, const og_addr_rules *rules, og_addr *out);

/*
 * og_addr_envelope - a MAIL FROM or RCPT TO address as the MTA passed it,
 * in the external form og_addr_parse and sender: lines read.  Sendmail
 * and Postfix's milter client pass the client's text (<> and blanks,
 * source route, quotes around a plain local part, trailing dot of the
 * domain); Postfix's policy client the internal form ("john doe@x" for
 * <"john doe"@x>).  The MTA delivers to and from the mailbox these name,
 * so: blanks, <> and a source route removed, a local part that is not a
 * dot-atom quoted and quotes around one that is dropped, one trailing
 * dot of the domain dropped.  "" for the null sender.  Returns buf
 * (2 * strlen(s) + 3 bytes always suffice), or s itself when the result
 * does not fit in size bytes or s is malformed (unbalanced <>, a bad
 * route): og_addr_parse then names why.
 */
const char *og_addr_envelope(const char *s, char *buf, size_t size);

/*
 * og_addr_sender_scope - the sender-scope name the domain of s gives (s
 * is a domain, or an address: its domain): lowercase, A-labels, without
 * a trailing dot, so that "News@Bücher.Example." and
 * "xn--bcher-kva.example" name one scope.  out has size bytes
 * (OG_DOMAIN_MAX + 1 always suffice).  Returns 0, or OG_EINVAL when that
 * is not a valid domain (or does not fit): out then gets it lowercased
 * (ASCII letters), as given otherwise.
 */
int og_addr_sender_scope(const char *s, char *out, size_t size);

/*
 * og_addr_typo - the big mailbox domain a misspelt A-label domain was
 * probably meant to be ("yaho.com" -> "yahoo.com"), or NULL.  Never
 * suggests for a domain that is itself in the table.  Static result.
 */
const char *og_addr_typo(const char *domain);

/*
 * og_addr_domain_valid - 0 if s (len bytes, ASCII, already lowercase)
 * is a syntactically valid LDH hostname or address literal, else
 * OG_EINVAL.
 */
int og_addr_domain_valid(const char *s, size_t len);

#endif
