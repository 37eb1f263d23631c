/*
 * og_addr.c - mail addresses: parse, normalise, match key, typo check.
 *
 * og_addr_parse() turns one address as a sender, a CSV file or a report
 * gave it into the raw, norm and key forms described in og_addr.h;
 * og_addr_typo() names the big mailbox domain a misspelt one was probably
 * meant to be; og_addr_domain_valid() checks a hostname or address literal;
 * og_addr_sender_scope() names a sender scope by a domain.
 *
 * Grammar: RFC 5321 4.1.2 Mailbox (dot-atom or quoted local part, domain
 * or address literal), widened by RFC 6531 to UTF-8 in the local part and
 * the domain.  Non-ASCII domains go through libidn2 (IDNA2008 with UTS#46
 * non-transitional mapping); an all-ASCII domain, the common case, is only
 * lowercased and checked for LDH syntax here, without libidn2, unless one
 * of its labels is an A-label ("xn--"), which libidn2 then verifies.
 *
 * The local part is kept as given, except that quotes around a valid
 * dot-atom are dropped and a quoted string is re-quoted minimally.  The
 * key lowercases ASCII letters only: SMTPUTF8 local parts are not
 * case-folded or NFC-normalised, as no provider documents such matching.
 *
 * Ownership: the caller owns the og_addr; nothing is allocated that
 * outlives a call.  Thread-safety: reentrant; the tables are constant.
 * Errors: OG_EINVAL with out->error pointing to a static reason.
 *
 * LIMITS: input OG_ADDR_INPUT_MAX bytes; local part 64 octets and domain
 * 255 octets as they would be sent (norm form); the mailbox 254 octets so
 * that the path with its <> fits 256 (RFC 5321 4.5.3.1).  Domains must be
 * fully qualified (RFC 5321 2.3.5), with a top-level label that is not
 * all digits.
 */
#include "og_addr.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "og_err.h"

#define LOCAL_MAX 64
#define LABEL_MAX 63
#define MAILBOX_MAX 254 /* path <...> <= 256 */

static const unsigned char atext_tab[256] = {
    ['a'] = 1,
    ['b'] = 1,
    ['c'] = 1,
    ['d'] = 1,
    ['e'] = 1,
    ['f'] = 1,
    ['g'] = 1,
    ['h'] = 1,
    ['i'] = 1,
    ['j'] = 1,
    ['k'] = 1,
    ['l'] = 1,
    ['m'] = 1,
    ['n'] = 1,
    ['o'] = 1,
    ['p'] = 1,
    ['q'] = 1,
    ['r'] = 1,
    ['s'] = 1,
    ['t'] = 1,
    ['u'] = 1,
    ['v'] = 1,
    ['w'] = 1,
    ['x'] = 1,
    ['y'] = 1,
    ['z'] = 1,
    ['A'] = 1,
    ['B'] = 1,
    ['C'] = 1,
    ['D'] = 1,
    ['E'] = 1,
    ['F'] = 1,
    ['G'] = 1,
    ['H'] = 1,
    ['I'] = 1,
    ['J'] = 1,
    ['K'] = 1,
    ['L'] = 1,
    ['M'] = 1,
    ['N'] = 1,
    ['O'] = 1,
    ['P'] = 1,
    ['Q'] = 1,
    ['R'] = 1,
    ['S'] = 1,
    ['T'] = 1,
    ['U'] = 1,
    ['V'] = 1,
    ['W'] = 1,
    ['X'] = 1,
    ['Y'] = 1,
    ['Z'] = 1,
    ['0'] = 1,
    ['1'] = 1,
    ['2'] = 1,
    ['3'] = 1,
    ['4'] = 1,
    ['5'] = 1,
    ['6'] = 1,
    ['7'] = 1,
    ['8'] = 1,
    ['9'] = 1,
    ['!'] = 1,
    ['#'] = 1,
    ['$'] = 1,
    ['%'] = 1,
    ['&'] = 1,
    ['\''] = 1,
    ['*'] = 1,
    ['+'] = 1,
    ['-'] = 1,
    ['/'] = 1,
    ['='] = 1,
    ['?'] = 1,
    ['^'] = 1,
    ['_'] = 1,
    ['`'] = 1,
    ['{'] = 1,
    ['|'] = 1,
    ['}'] = 1,
    ['~'] = 1,
};

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Drop blanks at both ends of p[0..*n). */
static void
trim_ws(const unsigned char **p, size_t *n)
{
	while (*n > 0 && is_ws((*p)[0])) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*p)[*n - 1]))
		(*n)--;
}

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of the well-formed UTF-8 sequence (2..4 bytes) starting at s,
 * or 0: no overlongs, surrogates or code points past U+10FFFF (RFC 3629).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c >= 0xc2 && c <= 0xdf) {
		if (n >= 2 && (s[1] & 0xc0) == 0x80)
			return 2;
		return 0;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;
		if (c == 0xed && s[1] >= 0xa0)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

/*
 * Check a dot-atom (RFC 5321 Dot-string, RFC 6531 UTF-8 atext).  Returns
 * NULL or the reason; *utf8 is set when non-ASCII was seen.
 */
static const char *
dot_atom_check(const unsigned char *s, size_t n, int *utf8)
{
	size_t i = 0, k;

	if (n == 0)
		return "empty local part";
	if (s[0] == '.' || s[n - 1] == '.')
		return "local part starts or ends with a dot";
	while (i < n) {
		if (s[i] < 0x80) {
			if (s[i] == '.') {
				if (s[i + 1] == '.')
					return "local part has consecutive "
					       "dots";
			} else if (!atext_tab[s[i]]) {
				return "invalid character in local part";
			}
			i++;
			continue;
		}
		if ((k = utf8_seq(s + i, n - i)) == 0)
			return "invalid UTF-8 in local part";
		*utf8 = 1;
		i += k;
	}
	return NULL;
}

/* Quiet variant: is the unquoted content a valid dot-atom? */
static int
is_dot_atom(const unsigned char *s, size_t n)
{
	int utf8 = 0;

	return dot_atom_check(s, n, &utf8) == NULL;
}

/*
 * Parse the quoted string s[0..n) (s[0] == '"').  The unescaped content
 * goes to out (capacity cap); *used is set to the bytes consumed up to and
 * including the closing quote.  Returns NULL or the reason.
 */
static const char *
quoted_parse(const unsigned char *s, size_t n, unsigned char *out, size_t cap,
    size_t *olen, size_t *used, int *utf8)
{
	size_t i = 1, o = 0, k;

	for (;;) {
		if (i >= n)
			return "unterminated quoted string";
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			if (i + 1 >= n)
				return "unterminated quoted string";
			if (s[i + 1] < 32 || s[i + 1] > 126)
				return "invalid character in quoted local "
				       "part";
			if (o >= cap)
				return "local part longer than 64 octets";
			out[o++] = s[i + 1];
			i += 2;
			continue;
		}
		if (s[i] >= 0x80) {
			if ((k = utf8_seq(s + i, n - i)) == 0)
				return "invalid UTF-8 in local part";
			if (o + k > cap)
				return "local part longer than 64 octets";
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			*utf8 = 1;
			continue;
		}
		if (s[i] < 32 || s[i] == 127)
			return "invalid character in quoted local part";
		if (o >= cap)
			return "local part longer than 64 octets";
		out[o++] = s[i++];
	}
	*olen = o;
	*used = i + 1;
	return NULL;
}

/*
 * Check an LDH hostname: labels of 1..63 letters, digits and hyphens, no
 * hyphen at either end, at least two labels, a top-level label that is
 * not all digits.  *alabel is set when a label starts with "xn--".
 */
static const char *
hostname_check(const unsigned char *s, size_t n, int *alabel)
{
	size_t i, start = 0, labels = 0;
	int alldigit = 1;

	if (n == 0)
		return "empty domain";
	if (n > OG_DOMAIN_MAX)
		return "domain longer than 255 octets";
	if (s[n - 1] == '.')
		return "domain ends with a dot";
	for (i = 0; i <= n; i++) {
		unsigned char c = i < n ? s[i] : '.';

		if (c == '.') {
			size_t l = i - start;

			if (l == 0)
				return "empty label in domain";
			if (l > LABEL_MAX)
				return "domain label longer than 63 octets";
			if (s[start] == '-' || s[i - 1] == '-')
				return "domain label starts or ends with a "
				       "hyphen";
			if (l >= 4 && lower(s[start]) == 'x' &&
			    lower(s[start + 1]) == 'n' && s[start + 2] == '-' &&
			    s[start + 3] == '-')
				*alabel = 1;
			labels++;
			if (i < n)
				alldigit = 1;
			start = i + 1;
			continue;
		}
		if (is_digit(c))
			continue;
		alldigit = 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '-')
			continue;
		if (c == '@')
			return "more than one @";
		return "invalid character in domain";
	}
	if (labels < 2)
		return "domain is not fully qualified";
	if (alldigit)
		return "top-level domain is all digits";
	return NULL;
}

/*
 * Check the address literal s[0..n) ("[...]") and write its canonical
 * form to out (at least 64 bytes).  Returns NULL or the reason.
 */
static const char *
literal_canon(const unsigned char *s, size_t n, char *out, size_t cap)
{
	char tmp[64];
	size_t in;

	if (n < 2 || s[n - 1] != ']')
		return "unterminated address literal";
	s++;
	n -= 2;
	if (n > 5 && lower(s[0]) == 'i' && lower(s[1]) == 'p' &&
	    lower(s[2]) == 'v' && s[3] == '6' && s[4] == ':') {
		struct in6_addr a6;
		char txt[INET6_ADDRSTRLEN];

		in = n - 5;
		if (in >= sizeof(tmp))
			return "invalid IPv6 address literal";
		memcpy(tmp, s + 5, in);
		tmp[in] = 0;
		if (memchr(tmp, 0, in) != NULL ||
		    inet_pton(AF_INET6, tmp, &a6) != 1 ||
		    inet_ntop(AF_INET6, &a6, txt, sizeof(txt)) == NULL)
			return "invalid IPv6 address literal";
		if ((size_t)snprintf(out, cap, "[IPv6:%s]", txt) >= cap)
			return "invalid IPv6 address literal";
		return NULL;
	}
	for (in = 0; in < n && (is_digit(s[in]) || s[in] == '.'); in++)
		;
	if (n > 0 && in == n) {
		unsigned v[4], parts = 0, digits = 0, cur = 0;
		size_t i;

		for (i = 0; i <= n; i++) {
			if (i < n && is_digit(s[i])) {
				if (++digits > 3)
					return "invalid IPv4 address literal";
				cur = cur * 10 + (unsigned)(s[i] - '0');
				continue;
			}
			if (i < n && s[i] != '.')
				return "invalid IPv4 address literal";
			if (digits == 0 || cur > 255 || parts >= 4)
				return "invalid IPv4 address literal";
			v[parts++] = cur;
			cur = 0;
			digits = 0;
		}
		if (parts != 4)
			return "invalid IPv4 address literal";
		if ((size_t)snprintf(out, cap, "[%u.%u.%u.%u]", v[0], v[1],
		        v[2], v[3]) >= cap)
			return "invalid IPv4 address literal";
		return NULL;
	}
	return "unknown address literal";
}

static const char *domain_norm(
    const unsigned char *d, size_t n, char *out, unsigned *flags);

int
og_addr_sender_scope(const char *s, char *out, size_t size)
{
	const char *at = strrchr(s, '@'), *d = at ? at + 1 : s;
	char buf[OG_DOMAIN_MAX + 1];
	unsigned flags = 0;
	size_t n = strlen(d), i;

	if (size == 0)
		return OG_EINVAL;
	if (n > 1 && d[n - 1] == '.')
		n--;
	if (n <= OG_ADDR_INPUT_MAX &&
	    domain_norm((const unsigned char *)d, n, buf, &flags) == NULL &&
	    strlen(buf) < size) {
		memcpy(out, buf, strlen(buf) + 1);
		return 0;
	}
	for (i = 0; i < n && i + 1 < size; i++)
		out[i] = (char)lower((unsigned char)d[i]);
	out[i] = 0;
	return OG_EINVAL;
}

int
og_addr_domain_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char canon[80];
	int alabel = 0;

	if (s == NULL)
		return OG_EINVAL;
	if (len > 0 && u[0] == '[')
		return literal_canon(u, len, canon, sizeof(canon)) ? OG_EINVAL
		                                                   : 0;
	return hostname_check(u, len, &alabel) ? OG_EINVAL : 0;
}

/*
 * Turn the domain d[0..n) into its lowercase A-label form in out (room for
 * OG_DOMAIN_MAX + 1).  Returns NULL or the reason; sets OG_ADDR_IDN and
 * OG_ADDR_LITERAL in *flags.
 */
static const char *
domain_norm(const unsigned char *d, size_t n, char *out, unsigned *flags)
{
	const char *why;
	size_t i, k;
	int ascii = 1, alabel = 0;

	if (n == 0)
		return "empty domain";
	if (d[0] == '[') {
		*flags |= OG_ADDR_LITERAL;
		return literal_canon(d, n, out, OG_DOMAIN_MAX + 1);
	}
	for (i = 0; i < n; i++) {
		if (d[i] >= 0x80) {
			if ((k = utf8_seq(d + i, n - i)) == 0)
				return "invalid UTF-8 in domain";
			ascii = 0;
			i += k - 1;
		} else if (d[i] == '@') {
			return "more than one @";
		}
	}
	if (ascii) {
		if (n > OG_DOMAIN_MAX)
			return "domain longer than 255 octets";
		for (i = 0; i < n; i++)
			out[i] = (char)lower(d[i]);
		out[n] = 0;
		if ((why = hostname_check(
		         (const unsigned char *)out, n, &alabel)) != NULL)
			return why;
		if (alabel) {
			char *res = NULL;

			/* Punycode that does not decode to a valid U-label. */
			if (idn2_lookup_u8((const uint8_t *)out,
			        (uint8_t **)&res,
			        IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) !=
			    IDN2_OK)
				return "invalid A-label in domain";
			idn2_free(res);
		}
		return NULL;
	} else {
		char in[OG_ADDR_INPUT_MAX + 1];
		char *res = NULL;
		size_t rl;

		if (n > OG_ADDR_INPUT_MAX)
			return "domain longer than 255 octets";
		memcpy(in, d, n);
		in[n] = 0;
		if (idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&res,
		        IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK ||
		    res == NULL) {
			idn2_free(res);
			return "invalid internationalised domain name";
		}
		rl = strlen(res);
		if (rl > OG_DOMAIN_MAX) {
			idn2_free(res);
			return "domain longer than 255 octets";
		}
		for (i = 0; i < rl; i++)
			out[i] = (char)lower((unsigned char)res[i]);
		out[rl] = 0;
		idn2_free(res);
		*flags |= OG_ADDR_IDN;
		return hostname_check((const unsigned char *)out, rl, &alabel);
	}
}

/* Is domain (NUL-terminated, lowercase) listed in the rules' plus_tags? */
static int
plus_listed(const og_addr_rules *r, const char *domain)
{
	size_t i;

	for (i = 0; i < r->nplus_tags; i++) {
		const char *p = r->plus_tags[i], *q = domain;

		if (p == NULL)
			continue;
		while (*p && lower((unsigned char)*p) == (unsigned char)*q) {
			p++;
			q++;
		}
		if (*p == 0 && *q == 0)
			return 1;
	}
	return 0;
}

static const og_addr_rules default_rules = {1, 0, NULL, 0, 0};

static int
fail(og_addr *out, const char *why)
{
	out->norm[0] = 0;
	out->key[0] = 0;
	out->typo[0] = 0;
	out->domain = out->norm;
	out->error = why;
	return OG_EINVAL;
}

/* Skip an RFC 5321 source route "@a,@b:" at s; returns bytes or 0. */
static size_t
source_route(const unsigned char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t start;
		int alabel = 0;

		if (i >= n || s[i] != '@')
			return 0;
		start = ++i;
		while (i < n && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= n ||
		    hostname_check(s + start, i - start, &alabel) != NULL)
			return 0;
		if (s[i++] == ':')
			return i;
	}
}

int
og_addr_parse(
    const char *s, size_t len, const og_addr_rules *rules, og_addr *out)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char content[OG_ADDR_INPUT_MAX];
	char local[LOCAL_MAX + 1];
	const char *why, *typo;
	size_t llen, clen, used, dstart, i, o, klen, kdom;
	int utf8 = 0;
	const char *kd;

	out->raw[0] = 0;
	out->flags = 0;
	out->error = NULL;
	if (rules == NULL)
		rules = &default_rules;
	if (s == NULL)
		return fail(out, "empty address");
	if (len > OG_ADDR_INPUT_MAX)
		return fail(out, "input longer than 1024 bytes");
	if (memchr(s, 0, len) != NULL)
		return fail(out, "NUL byte in address");

	trim_ws(&p, &len);
	if (len > 0 && p[0] == '<') {
		if (p[len - 1] != '>')
			return fail(out, "unbalanced angle brackets");
		p++;
		len -= 2;
		trim_ws(&p, &len);
		if (len > 0 && p[0] == '@') {
			if ((used = source_route(p, len)) == 0)
				return fail(out, "invalid source route");
			p += used;
			len -= used;
		}
	} else {
		if (len > 0 && p[len - 1] == '>')
			return fail(out, "unbalanced angle brackets");
		/* A route without <> (an export of a store made before
		 * raw dropped it): "@a" alone is an empty local part. */
		if (len > 0 && p[0] == '@' &&
		    (used = source_route(p, len)) != 0) {
			p += used;
			len -= used;
		}
	}
	/* raw is the mailbox: the route is no part of it (RFC 5321 4.1.1.3)
	 * and no form without <> could be read back with it. */
	memcpy(out->raw, p, len);
	out->raw[len] = 0;
	if (len == 0)
		return fail(out, "empty address");

	/* Local part. */
	if (p[0] == '"') {
		why = quoted_parse(
		    p, len, content, sizeof(content), &clen, &used, &utf8);
		if (why != NULL)
			return fail(out, why);
		if (used >= len || p[used] != '@')
			return fail(out, used >= len
			                     ? "missing @"
			                     : "text after quoted local part");
		dstart = used + 1;
		if (clen == 0)
			return fail(out, "empty local part");
		if (is_dot_atom(content, clen)) {
			if (clen > LOCAL_MAX)
				return fail(
				    out, "local part longer than 64 octets");
			memcpy(local, content, clen);
			llen = clen;
		} else {
			/* Re-quote minimally: only " and \ need escaping. */
			o = 0;
			local[o++] = '"';
			for (i = 0; i < clen; i++) {
				int esc =
				    content[i] == '"' || content[i] == '\\';

				/* Room for this byte and the closing quote. */
				if (o + (size_t)esc + 2 > LOCAL_MAX)
					return fail(out, "local part longer "
					                 "than 64 octets");
				if (esc)
					local[o++] = '\\';
				local[o++] = (char)content[i];
			}
			local[o++] = '"';
			llen = o;
			out->flags |= OG_ADDR_QUOTED;
		}
	} else {
		const unsigned char *at = memchr(p, '@', len);

		if (at == NULL)
			return fail(out, "missing @");
		llen = (size_t)(at - p);
		if ((why = dot_atom_check(p, llen, &utf8)) != NULL)
			return fail(out, why);
		if (llen > LOCAL_MAX)
			return fail(out, "local part longer than 64 octets");
		memcpy(local, p, llen);
		dstart = llen + 1;
	}
	if (utf8)
		out->flags |= OG_ADDR_UTF8;

	/* Domain, written straight into place after "local@". */
	memcpy(out->norm, local, llen);
	out->norm[llen] = '@';
	why = domain_norm(
	    p + dstart, len - dstart, out->norm + llen + 1, &out->flags);
	if (why != NULL)
		return fail(out, why);
	out->domain = out->norm + llen + 1;
	if (llen + 1 + strlen(out->domain) > MAILBOX_MAX)
		return fail(out, "address longer than 254 octets");

	/* Match key. */
	kd = out->domain;
	if (rules->gmail_dots && strcmp(kd, "googlemail.com") == 0)
		kd = "gmail.com";
	klen = 0;
	if (!(out->flags & (OG_ADDR_QUOTED | OG_ADDR_LITERAL))) {
		int gmail = rules->gmail_dots && strcmp(kd, "gmail.com") == 0;
		size_t lend = llen;

		if (gmail || plus_listed(rules, out->domain) ||
		    plus_listed(rules, kd)) {
			const char *plus = memchr(local, '+', llen);

			if (plus != NULL && plus != local)
				lend = (size_t)(plus - local);
		}
		for (i = 0; i < lend; i++) {
			if (gmail && local[i] == '.')
				continue;
			out->key[klen++] =
			    rules->local_case_sensitive
			        ? local[i]
			        : (char)lower((unsigned char)local[i]);
		}
	} else {
		for (i = 0; i < llen; i++)
			out->key[klen++] =
			    rules->local_case_sensitive
			        ? local[i]
			        : (char)lower((unsigned char)local[i]);
	}
	out->key[klen++] = '@';
	kdom = strlen(kd);
	memcpy(out->key + klen, kd, kdom + 1);

	typo = (out->flags & OG_ADDR_LITERAL) || rules->skip_typo
	           ? NULL
	           : og_addr_typo(kd);
	if (typo != NULL)
		memcpy(out->typo, typo, strlen(typo) + 1);
	else
		out->typo[0] = 0;
	return 0;
}

/* A dot-atom as far as ASCII goes (UTF-8 is og_addr_parse's to check). */
static int
dot_atom_ascii(const unsigned char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '.' ? s[i + 1] == '.'
		                : s[i] < 0x80 && !atext_tab[s[i]])
			return 0;
	return 1;
}

const char *
og_addr_envelope(const char *s, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s, *at = NULL;
	size_t n, i, ll, dl, o = 0, route;
	int quote = 0, unquote = 0;

	n = strlen(s);
	trim_ws(&p, &n);
	if (n > 0 && (p[0] == '<') != (p[n - 1] == '>'))
		return s; /* og_addr_parse names it */
	if (n >= 2 && p[0] == '<') {
		p++;
		n -= 2;
		trim_ws(&p, &n);
	}
	if (n > 0 && p[0] == '@') {
		if ((route = source_route(p, n)) == 0)
			return s;
		p += route;
		n -= route;
	}
	for (i = 0; i < n; i++)
		if (p[i] == '@')
			at = p + i;
	ll = at ? (size_t)(at - p) : n;
	dl = at ? n - ll - 1 : 0;
	if (ll >= 2 && p[0] == '"' && p[ll - 1] == '"')
		unquote = dot_atom_ascii(p + 1, ll - 2);
	else if (at && ll > 0)
		quote = !dot_atom_ascii(p, ll);
	/* One trailing dot of the domain, as the MTA drops it. */
	if (dl > 1 && p[n - 1] == '.' && p[n - 2] != '.')
		n--;
	if (2 * ll + (n - ll) + 3 > size)
		return s;
	if (quote)
		buf[o++] = '"';
	for (i = (size_t)unquote; i < ll - (size_t)unquote; i++) {
		if (quote && (p[i] == '"' || p[i] == '\\'))
			buf[o++] = '\\';
		buf[o++] = (char)p[i];
	}
	if (quote)
		buf[o++] = '"';
	memcpy(buf + o, p + ll, n - ll);
	buf[o + n - ll] = 0;
	return buf;
}

/*
 * Typo table.  Known mailbox domains, most used first: the first match
 * wins when a misspelling is one edit from several.  F: a target of the
 * edit-distance check (names of 5+ letters; shorter names are one edit
 * from too many real domains, so they rely on the explicit list and the
 * TLD fixes).  K: known only, so its users are never flagged, but never
 * suggested either (national variants that are one edit from others).
 */
#define F 1
#define K 2

struct known {
	const char *name;
	unsigned char len;
	unsigned char flags;
};

#define KD(s, f)                                                               \
	{                                                                      \
		s, sizeof(s) - 1, f                                            \
	}

static const struct known known_tab[] = {
    KD("gmail.com", F),
    KD("hotmail.com", F),
    KD("yahoo.com", F),
    KD("outlook.com", F),
    KD("yahoo.com.br", F),
    KD("hotmail.com.br", F),
    KD("uol.com.br", 0),
    KD("bol.com.br", 0),
    KD("icloud.com", F),
    KD("live.com", 0),
    KD("aol.com", 0),
    KD("terra.com.br", F),
    KD("ig.com.br", 0),
    KD("globo.com", F),
    KD("r7.com", 0),
    KD("msn.com", 0),
    KD("outlook.com.br", F),
    KD("googlemail.com", F),
    KD("yahoo.es", F),
    KD("hotmail.es", F),
    KD("outlook.es", F),
    KD("yahoo.com.mx", F),
    KD("hotmail.com.mx", K),
    KD("live.com.mx", 0),
    KD("prodigy.net.mx", F),
    KD("yahoo.com.ar", F),
    KD("hotmail.com.ar", F),
    KD("live.com.ar", 0),
    KD("fibertel.com.ar", F),
    KD("speedy.com.ar", F),
    KD("arnet.com.ar", F),
    KD("telefonica.net", F),
    KD("movistar.es", F),
    KD("terra.es", F),
    KD("ono.com", 0),
    KD("yahoo.com.co", K),
    KD("yahoo.com.pe", K),
    KD("yahoo.com.ve", K),
    KD("yahoo.cl", K),
    KD("yahoo.com.au", K),
    KD("yahoo.com.my", K),
    KD("hotmail.com.au", K),
    KD("hotmail.com.tr", K),
    KD("outlook.com.ar", K),
    KD("outlook.com.tr", K),
    KD("hotmail.cl", K),
    KD("gmx.de", 0),
    KD("gmx.net", 0),
    KD("gmx.com", 0),
    KD("web.de", 0),
    KD("t-online.de", F),
    KD("orange.fr", F),
    KD("wanadoo.fr", F),
    KD("free.fr", 0),
    KD("laposte.net", F),
    KD("sfr.fr", 0),
    KD("comcast.net", F),
    KD("verizon.net", F),
    KD("att.net", 0),
    KD("sbcglobal.net", F),
    KD("bellsouth.net", F),
    KD("charter.net", F),
    KD("cox.net", 0),
    KD("me.com", 0),
    KD("mac.com", 0),
    KD("ymail.com", F),
    KD("rocketmail.com", F),
    KD("protonmail.com", F),
    KD("proton.me", 0),
    KD("mail.com", K),
    KD("email.com", K),
    KD("zoho.com", 0),
    KD("yandex.ru", F),
    KD("mail.ru", K),
    KD("libero.it", F),
    KD("virgilio.it", F),
    KD("btinternet.com", F),
    KD("zipmail.com.br", F),
    KD("oi.com.br", 0),
    KD("globomail.com", F),
    KD("yahoo.co.uk", K),
    KD("yahoo.fr", K),
    KD("yahoo.de", K),
    KD("yahoo.it", K),
    KD("yahoo.ca", K),
    KD("yahoo.in", K),
    KD("hotmail.co.uk", K),
    KD("hotmail.fr", K),
    KD("hotmail.de", K),
    KD("hotmail.it", K),
    KD("hotmail.se", K),
    KD("hotmail.be", K),
    KD("hotmail.nl", K),
    KD("hotmail.ca", K),
    KD("live.co.uk", K),
    KD("live.fr", K),
    KD("live.nl", K),
    KD("live.it", K),
    KD("outlook.fr", K),
    KD("outlook.de", K),
    KD("outlook.it", K),
    KD("outlook.pt", K),
    KD("outlook.cl", K),
    KD("gmx.at", K),
    KD("gmx.ch", K),
    KD("gmx.es", K),
    KD("gmx.fr", K),
    KD("qq.com", K),
    KD("163.com", K),
    KD("126.com", K),
    KD("naver.com", K),
    /* The providers' own national domains one edit from an F name
     * above (Yahoo's regional list, Microsoft's Outlook.com domain
     * list, Terra Argentina), flagged as its typo until known here. */
    KD("yahoo.se", K),
    KD("yahoo.ee", K),
    KD("yahoo.rs", K),
    KD("yahoo.com.tr", K),
    KD("yahoo.com.hr", K),
    KD("hotmail.rs", K),
    KD("hotmail.ee", K),
    KD("hotmail.as", K),
    KD("hotmail.bs", K),
    KD("hotmail.com.bo", K),
    KD("outlook.com.gr", K),
    KD("outlook.com.hr", K),
    KD("outlook.ec", K),
    KD("terra.com.ar", K),
};

#undef KD

/* Misspellings the edit-distance check and TLD fixes do not reach. */
static const char *const typo_tab[][2] = {
    {"gmail.com.br", "gmail.com"},
    {"gmal.com.br", "gmail.com"},
    {"gmil.com", "gmail.com"},
    {"gmaill.com", "gmail.com"},
    {"gamil.com", "gmail.com"},
    {"gmial.com", "gmail.com"},
    {"gmsil.com", "gmail.com"},
    {"gmaiil.com", "gmail.com"},
    {"gemail.com", "gmail.com"},
    {"gmail.co", "gmail.com"},
    {"g.mail.com", "gmail.com"},
    {"gmai.com.br", "gmail.com"},
    {"gnail.com.br", "gmail.com"},
    {"hotmail.con.br", "hotmail.com.br"},
    {"hotmai.com.br", "hotmail.com.br"},
    {"hotmial.com.br", "hotmail.com.br"},
    {"hotmail.br", "hotmail.com.br"},
    {"hotmail.co.br", "hotmail.com.br"},
    {"hormail.com", "hotmail.com"},
    {"homtail.com", "hotmail.com"},
    {"hotmal.com", "hotmail.com"},
    {"hotmil.com", "hotmail.com"},
    {"htmail.com", "hotmail.com"},
    {"hotamail.com", "hotmail.com"},
    {"hotmsil.com", "hotmail.com"},
    {"hoymail.com", "hotmail.com"},
    {"yahho.com", "yahoo.com"},
    {"yaho.com.br", "yahoo.com.br"},
    {"yahoo.br", "yahoo.com.br"},
    {"yahoo.co.br", "yahoo.com.br"},
    {"yahoo.com.be", "yahoo.com.br"},
    {"yhaoo.com.br", "yahoo.com.br"},
    {"yahooo.com.br", "yahoo.com.br"},
    {"yhoo.com", "yahoo.com"},
    {"yahoo.co", "yahoo.com"},
    {"outlok.com.br", "outlook.com.br"},
    {"uol.com", "uol.com.br"},
    {"uol.br", "uol.com.br"},
    {"uol.co.br", "uol.com.br"},
    {"uol.combr", "uol.com.br"},
    {"uoll.com.br", "uol.com.br"},
    {"uou.com.br", "uol.com.br"},
    {"ul.com.br", "uol.com.br"},
    {"bol.br", "bol.com.br"},
    {"bol.co.br", "bol.com.br"},
    {"bol.combr", "bol.com.br"},
    {"boll.com.br", "bol.com.br"},
    {"bool.com.br", "bol.com.br"},
    {"terra.br", "terra.com.br"},
    {"terra.co.br", "terra.com.br"},
    {"tera.com.br", "terra.com.br"},
    {"ig.br", "ig.com.br"},
    {"ig.co.br", "ig.com.br"},
    {"ig.combr", "ig.com.br"},
    {"igi.com.br", "ig.com.br"},
    {"globo.com.br", "globo.com"},
    {"glob.com", "globo.com"},
    {"r7.com.br", "r7.com"},
    {"r7.co", "r7.com"},
    {"r7.cm", "r7.com"},
    {"icloud.com.br", "icloud.com"},
    {"icluod.com", "icloud.com"},
    {"iclould.com", "icloud.com"},
    {"icoud.com", "icloud.com"},
    {"iclod.com", "icloud.com"},
    {"icloud.co", "icloud.com"},
    {"outllok.com", "outlook.com"},
    {"outlool.com", "outlook.com"},
    {"otlook.com", "outlook.com"},
    {"outloock.com", "outlook.com"},
    {"outlook.co", "outlook.com"},
    {"hotmail.co", "hotmail.com"},
    {"aol.co", "aol.com"},
    {"aoll.com", "aol.com"},
    {"aol.com.br", "aol.com"},
    {"aool.com", "aol.com"},
    {"live.co", "live.com"},
    {"liv.com", "live.com"},
    {"live.com.br", "live.com"},
    {"msn.com.br", "msn.com"},
    {"msm.com", "msn.com"},
    {"hotmial.es", "hotmail.es"},
    {"hotmai.es", "hotmail.es"},
    {"hotmail.com.es", "hotmail.es"},
    {"yahoo.com.es", "yahoo.es"},
    {"yaho.es", "yahoo.es"},
    {"yahoo.mx", "yahoo.com.mx"},
    {"yahoo.com.mex", "yahoo.com.mx"},
    {"prodigy.com.mx", "prodigy.net.mx"},
    {"prodigy.net", "prodigy.net.mx"},
    {"prodigi.net.mx", "prodigy.net.mx"},
    {"yahoo.ar", "yahoo.com.ar"},
    {"hotmail.ar", "hotmail.com.ar"},
    {"telefonica.es", "telefonica.net"},
    {"gmx.d", "gmx.de"},
    {"web.d", "web.de"},
    {"wed.de", "web.de"},
    {"orange.com", "orange.fr"},
    {"comcast.com", "comcast.net"},
    {"comcat.net", "comcast.net"},
    {"verizon.com", "verizon.net"},
    {"att.com", "att.net"},
    {"sbcglobal.com", "sbcglobal.net"},
    {"bellsouth.com", "bellsouth.net"},
    {"icould.com", "icloud.com"},
    {"me.co", "me.com"},
};

/* Top-level typos: bad suffix -> meant suffix. */
static const char *const tld_tab[][2] = {
    {".com.bt", ".com.br"},
    {".com.vr", ".com.br"},
    {".com.brr", ".com.br"},
    {".con.br", ".com.br"},
    {".cmo.br", ".com.br"},
    {".cm.br", ".com.br"},
    {".com.b", ".com.br"},
    {".com.r", ".com.br"},
    {".comm", ".com"},
    {".coom", ".com"},
    {".comn", ".com"},
    {".con", ".com"},
    {".cmo", ".com"},
    {".ocm", ".com"},
    {".vom", ".com"},
    {".xom", ".com"},
    {".cpm", ".com"},
    {".c0m", ".com"},
    {".cim", ".com"},
    {".om", ".com"},
    {".cm", ".com"},
    {".nte", ".net"},
    {".ner", ".net"},
    {".nett", ".net"},
    {".met", ".net"},
    {".bet", ".net"},
};

/* Exactly one insertion, deletion, substitution or adjacent swap apart. */
static int
one_edit(const char *a, size_t la, const char *b, size_t lb)
{
	size_t i = 0;

	if (la == lb) {
		while (i < la && a[i] == b[i])
			i++;
		if (i == la)
			return 0;
		if (memcmp(a + i + 1, b + i + 1, la - i - 1) == 0)
			return 1;
		return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
		       memcmp(a + i + 2, b + i + 2, la - i - 2) == 0;
	}
	if (la + 1 == lb) {
		const char *t = a;
		size_t tl = la;

		a = b;
		la = lb;
		b = t;
		lb = tl;
	}
	if (la != lb + 1)
		return 0;
	while (i < lb && a[i] == b[i])
		i++;
	return memcmp(a + i + 1, b + i, lb - i) == 0;
}

static int
known_find(const char *d, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(known_tab) / sizeof(known_tab[0]); i++)
		if (known_tab[i].len == n && known_tab[i].name[0] == d[0] &&
		    memcmp(known_tab[i].name, d, n) == 0)
			return (int)i;
	return -1;
}

static const char *
typo_lookup(const char *d, size_t n)
{
	size_t i;
	int k;

	if ((k = known_find(d, n)) >= 0)
		return (known_tab[k].flags & K) ? NULL : known_tab[k].name;
	for (i = 0; i < sizeof(typo_tab) / sizeof(typo_tab[0]); i++)
		if (typo_tab[i][0][0] == d[0] && strcmp(typo_tab[i][0], d) == 0)
			return typo_tab[i][1];
	if (n < 6)
		return NULL;
	for (i = 0; i < sizeof(known_tab) / sizeof(known_tab[0]); i++) {
		size_t kl = known_tab[i].len;

		if (!(known_tab[i].flags & F) || kl + 1 < n || kl > n + 1)
			continue;
		if (one_edit(d, n, known_tab[i].name, kl))
			return known_tab[i].name;
	}
	return NULL;
}

const char *
og_addr_typo(const char *domain)
{
	char d[OG_DOMAIN_MAX + 1], fixed[OG_DOMAIN_MAX + 8];
	const char *hit;
	size_t n, i;

	if (domain == NULL)
		return NULL;
	for (n = 0; domain[n] != 0; n++) {
		if (n >= OG_DOMAIN_MAX)
			return NULL;
		d[n] = (char)lower((unsigned char)domain[n]);
	}
	d[n] = 0;
	if (n == 0 || d[0] == '[')
		return NULL;
	if (known_find(d, n) >= 0)
		return NULL;
	if ((hit = typo_lookup(d, n)) != NULL)
		return hit;
	for (i = 0; i < sizeof(tld_tab) / sizeof(tld_tab[0]); i++) {
		size_t bl = strlen(tld_tab[i][0]), gl;

		if (bl >= n || memcmp(d + n - bl, tld_tab[i][0], bl) != 0)
			continue;
		gl = strlen(tld_tab[i][1]);
		memcpy(fixed, d, n - bl);
		memcpy(fixed + n - bl, tld_tab[i][1], gl + 1);
		return typo_lookup(fixed, n - bl + gl);
	}
	return NULL;
}
