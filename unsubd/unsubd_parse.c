/*
 * unsubd_parse.c - the parsers of peer input in optgate-unsubd.
 *
 * Everything a client sends that the daemon interprets itself passes
 * through here: the request path (MHD has parsed the request line and
 * %-decoded the path), the form body, Accept-Language, a trusted proxy's
 * X-Real-IP and X-Forwarded-For.  Pure functions, no allocation besides
 * the form's copy; fuzzed by tests/fuzz/http_fuzz.c.
 *
 * Error convention: 0 or a negative OG_E* code; "no such field" is NULL.
 * Thread-safe: no state.
 *
 * LIMITS: paths longer than "/u/" + OG_TOKEN_MAX + "/prefs/" are bad
 * tokens; bodies over UNSUBD_BODY_MAX bytes and more than
 * UNSUBD_FIELDS_MAX fields are refused; Accept-Language is read for at
 * most 64 ranges.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "og_buf.h"
#include "og_err.h"
#include "og_token.h"
#include "unsubd.h"

int
unsubd_route(const char *path, size_t len, const char **tok, size_t *toklen)
{
	size_t i, n;

	*tok = NULL;
	*toklen = 0;
	if (len == 8 && memcmp(path, "/healthz", 8) == 0)
		return UNSUBD_R_HEALTH;
	if (len < 3 || memcmp(path, "/u/", 3) != 0)
		return UNSUBD_R_NOTFOUND;
	path += 3;
	len -= 3;
	for (n = 0; n < len && path[n] != '/'; n++)
		;
	if (n == 0 || n > OG_TOKEN_MAX)
		return UNSUBD_R_BADTOKEN;
	for (i = 0; i < n; i++)
		if (!og_token_char((unsigned char)path[i]))
			return UNSUBD_R_BADTOKEN;
	*tok = path;
	*toklen = n;
	if (n == len)
		return UNSUBD_R_TOKEN;
	/*
	 * One trailing slash, as some mail clients add and people type,
	 * names the same page.  The page's links are absolute, so none
	 * resolves differently under it.
	 */
	if (len - n == 1)
		return UNSUBD_R_TOKEN;
	if ((len - n == 6 || (len - n == 7 && path[len - 1] == '/')) &&
	    memcmp(path + n, "/prefs", 6) == 0)
		return UNSUBD_R_PREFS;
	return UNSUBD_R_NOTFOUND;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
unsubd_form_parse(const char *body, size_t len, unsubd_form *f)
{
	size_t i;
	char *o;
	int hi, lo, in_value;

	memset(f, 0, sizeof(*f));
	if (len > UNSUBD_BODY_MAX)
		return OG_ETOOBIG;
	/* Decoding only shrinks: len + 1 bytes hold the result. */
	f->buf = og_xmalloc(len + 1);
	o = f->buf;
	if (len == 0)
		return 0;
	f->name[0] = o;
	f->value[0] = NULL;
	f->n = 1;
	in_value = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == '&') {
			*o++ = '\0';
			if (!in_value)
				f->value[f->n - 1] = o - 1; /* "" */
			if (f->n == UNSUBD_FIELDS_MAX)
				return OG_EINVAL;
			f->name[f->n] = o;
			f->value[f->n] = NULL;
			f->n++;
			in_value = 0;
			continue;
		}
		if (c == '=' && !in_value) {
			*o++ = '\0';
			f->value[f->n - 1] = o;
			in_value = 1;
			continue;
		}
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (len - i < 3)
				return OG_EINVAL;
			hi = hexval((unsigned char)body[i + 1]);
			lo = hexval((unsigned char)body[i + 2]);
			if (hi < 0 || lo < 0)
				return OG_EINVAL;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return OG_EINVAL;
		*o++ = (char)c;
	}
	*o = '\0';
	if (!in_value)
		f->value[f->n - 1] = o;
	/* A trailing '&' leaves an empty last field: drop it. */
	if (f->n > 0 && f->name[f->n - 1][0] == '\0' &&
	    f->value[f->n - 1][0] == '\0')
		f->n--;
	return 0;
}

void
unsubd_form_free(unsubd_form *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

const char *
unsubd_form_get(const unsubd_form *f, const char *name)
{
	int i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

int
unsubd_form_has(const unsubd_form *f, const char *name, const char *value)
{
	int i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0 &&
		    strcmp(f->value[i], value) == 0)
			return 1;
	return 0;
}

static const char *const lang_tags[UNSUBD_NLANG] = {"en", "pt-BR", "es"};

const char *
unsubd_lang_tag(int lang)
{
	if (lang < 0 || lang >= UNSUBD_NLANG)
		lang = UNSUBD_EN;
	return lang_tags[lang];
}

/* Language of a range's primary subtag (len bytes); -1 when none. */
static int
lang_of(const char *s, size_t len)
{
	size_t n;

	for (n = 0; n < len && s[n] != '-' && s[n] != '_'; n++)
		;
	if (n != 2)
		return -1;
	if (strncasecmp(s, "en", 2) == 0)
		return UNSUBD_EN;
	if (strncasecmp(s, "pt", 2) == 0)
		return UNSUBD_PT;
	if (strncasecmp(s, "es", 2) == 0)
		return UNSUBD_ES;
	return -1;
}

int
unsubd_lang_code(const char *s)
{
	if (s == NULL)
		return -1;
	if (strlen(s) > 16)
		return -1;
	return lang_of(s, strlen(s));
}

/* q-value "0.5" as thousandths; -1 when malformed. */
static int
qvalue(const char *s, size_t len)
{
	int q = 0, scale = 1000;
	size_t i;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if (len == 1)
		return q;
	if (s[1] != '.' || len > 5)
		return -1;
	for (i = 2; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		scale /= 10;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

int
unsubd_lang_pick(const char *accept)
{
	int best = UNSUBD_EN, bestq = 0, ranges = 0;
	const char *p = accept;

	if (accept == NULL)
		return UNSUBD_EN;
	while (*p != '\0' && ranges++ < 64) {
		const char *start, *end, *semi;
		int lang, q = 1000;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		semi = memchr(start, ';', (size_t)(end - start));
		if (semi != NULL) {
			const char *qs = semi + 1;

			while (qs < end && (*qs == ' ' || *qs == '\t'))
				qs++;
			if (end - qs >= 2 && qs[0] == 'q' && qs[1] == '=') {
				const char *qe = qs + 2;

				while (qe < end && *qe != ' ' && *qe != ';')
					qe++;
				q = qvalue(qs + 2, (size_t)(qe - qs - 2));
				if (q < 0)
					q = 0;
			}
		} else {
			semi = end;
		}
		while (semi > start && (semi[-1] == ' ' || semi[-1] == '\t'))
			semi--;
		lang = lang_of(start, (size_t)(semi - start));
		if (lang >= 0 && q > bestq) {
			best = lang;
			bestq = q;
		}
	}
	return best;
}

/* A UTF-8 continuation byte (10xxxxxx). */
static int
utf8_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

void
unsubd_mask(const char *addr, char *out, size_t size)
{
	const char *at = strrchr(addr, '@');
	og_buf b;
	size_t llen, first = 0, last;

	og_buf_init(&b, size > 0 ? size - 1 : 0);
	if (at == NULL) {
		(void)og_buf_adds(&b, "*****");
		goto out;
	}
	/*
	 * First and last character, not byte: an SMTPUTF8 local part must
	 * not lose half of a character (the page and logs are UTF-8).
	 */
	llen = (size_t)(at - addr);
	if (llen > 0)
		for (first = 1; first < llen && first < 4 &&
		                utf8_cont((unsigned char)addr[first]);
		     first++)
			;
	for (last = llen; last > first && llen - last < 4;) {
		last--;
		if (!utf8_cont((unsigned char)addr[last]))
			break;
	}
	(void)og_buf_add(&b, addr, first);
	(void)og_buf_adds(&b, "*****");
	/* Two characters: show only the first (the length stays hidden). */
	if (last > first && first + (llen - last) < llen)
		(void)og_buf_add(&b, addr + last, llen - last);
	(void)og_buf_adds(&b, at);
out:
	if (size > 0)
		og_strlcpy(out, b.data != NULL ? b.data : "", size);
	og_buf_free(&b);
}

/*
 * Length of the UTF-8 character at s (n bytes left): 1 for ASCII, 2..4
 * for a well-formed sequence (no overlong form, surrogate or code point
 * past U+10FFFF), 0 when malformed.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if (!utf8_cont(s[i]))
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * The character at s[i] of ua as kept (into enc, its length returned;
 * *len: the bytes it takes in ua): as sent when ua is UTF-8, else the
 * byte as ISO-8859-1.
 */
static size_t
ua_char(const unsigned char *s, size_t n, size_t i, int utf8,
    unsigned char *enc, size_t *len)
{
	if (utf8) {
		*len = utf8_len(s + i, n - i);
		memcpy(enc, s + i, *len);
		return *len;
	}
	*len = 1;
	if (s[i] < 0x80) {
		enc[0] = s[i];
		return 1;
	}
	enc[0] = (unsigned char)(0xc0 | s[i] >> 6);
	enc[1] = (unsigned char)(0x80 | (s[i] & 0x3f));
	return 2;
}

void
unsubd_ua(const char *ua, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)ua;
	unsigned char enc[4];
	size_t n = strlen(ua), i, len, k, total = 0, limit, o = 0;
	int utf8 = 1;

	if (size == 0)
		return;
	for (i = 0; i < n && utf8; i += len)
		if ((len = utf8_len(s + i, n - i)) == 0)
			utf8 = 0;
	for (i = 0; i < n; i += len)
		total += ua_char(s, n, i, utf8, enc, &len);
	limit = total <= size - 1 ? size - 1 : size - 1 < 3 ? 0 : size - 4;
	for (i = 0; i < n; i += len) {
		k = ua_char(s, n, i, utf8, enc, &len);
		if (o + k > limit)
			break;
		memcpy(out + o, enc, k);
		o += k;
	}
	out[o] = '\0';
	if (total > size - 1)
		og_strlcpy(out + o, "...", size - o);
}

int
unsubd_html(og_buf *b, const char *s)
{
	const char *p;
	int rc = 0;

	for (p = s; *p != '\0' && rc == 0; p++) {
		switch (*p) {
		case '<':
			rc = og_buf_adds(b, "&lt;");
			break;
		case '>':
			rc = og_buf_adds(b, "&gt;");
			break;
		case '&':
			rc = og_buf_adds(b, "&amp;");
			break;
		case '"':
			rc = og_buf_adds(b, "&quot;");
			break;
		case '\'':
			rc = og_buf_adds(b, "&#39;");
			break;
		default:
			rc = og_buf_addc(b, *p);
		}
	}
	return rc;
}

const og_cap unsubd_caps[UNSUBD_NCAPS] = {
    {0, 0}, {1, 7 * 86400}, {2, 30 * 86400}, {1, 30 * 86400}};
const char *const unsubd_cap_values[UNSUBD_NCAPS] = {
    "0", "1/7d", "2/30d", "1/30d"};

int
unsubd_cap_choice(og_cap cap)
{
	int i;

	if (cap.limit == 0)
		return 0;
	for (i = 1; i < UNSUBD_NCAPS; i++)
		if (unsubd_caps[i].limit == cap.limit &&
		    unsubd_caps[i].period == cap.period)
			return i;
	return -1;
}

int
unsubd_cap_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < UNSUBD_NCAPS; i++)
		if (strcmp(s, unsubd_cap_values[i]) == 0)
			return i;
	return -1;
}

/* sRGB channel (0..255) to linear light, times 10000. */
static long
lin(int c)
{
	double v = c / 255.0;

	v = v <= 0.03928 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
	return (long)(v * 10000);
}

int
unsubd_color_dark(const char *s)
{
	int r, g, bl;
	long l;

	if (!og_config_color_ok(s))
		return 1;
	if (strlen(s) == 4) {
		r = hexval((unsigned char)s[1]) * 17;
		g = hexval((unsigned char)s[2]) * 17;
		bl = hexval((unsigned char)s[3]) * 17;
	} else {
		r = hexval((unsigned char)s[1]) * 16 +
		    hexval((unsigned char)s[2]);
		g = hexval((unsigned char)s[3]) * 16 +
		    hexval((unsigned char)s[4]);
		bl = hexval((unsigned char)s[5]) * 16 +
		     hexval((unsigned char)s[6]);
	}
	/* WCAG relative luminance; white wins below ~0.18. */
	l = (2126 * lin(r) + 7152 * lin(g) + 722 * lin(bl)) / 10000;
	return l < 1800;
}

/* ---------------------------------------------------------------- */
/* The client behind trusted proxies (X-Real-IP, X-Forwarded-For) */

/*
 * An IPv6 address as text into buf (INET6_ADDRSTRLEN): one that maps an
 * IPv4 address as that IPv4 address, so that a client is one client
 * however a dual-stack socket or proxy names it.
 */
void
unsubd_in6_text(const struct in6_addr *a, char *buf)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		inet_ntop(AF_INET, &a->s6_addr[12], buf, INET6_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

/*
 * A proxy's client address t without the port some proxies add (Azure
 * Application Gateway: "203.0.113.7:51234", "[2001:db8::7]:51234"):
 * else it does not parse and every client counts as the proxy.
 */
static void
fwd_strip_port(char *t)
{
	char *end;

	if (t[0] == '[') {
		if ((end = strchr(t, ']')) != NULL) {
			size_t n = (size_t)(end - t - 1);

			memmove(t, t + 1, n);
			t[n] = '\0';
		}
	} else if ((end = strchr(t, ':')) != NULL &&
	           strchr(end + 1, ':') == NULL) {
		*end = '\0'; /* one colon: IPv4:port (IPv6 has more) */
	}
}

/*
 * One forwarded address, the n bytes at s (an X-Real-IP value or one
 * X-Forwarded-For entry), as the peer's own address is written, into out
 * (INET6_ADDRSTRLEN): 0; 1 for an empty entry; -1 for no address.
 */
int
unsubd_fwd_addr(const char *s, size_t n, char *out)
{
	struct in6_addr a6;            /* room for either */
	char t[INET6_ADDRSTRLEN + 16]; /* "[V6]:PORT" */

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n == 0)
		return 1;
	if (n > sizeof(t) - 1)
		n = sizeof(t) - 1; /* no strlen of the rest of the line */
	memcpy(t, s, n);
	t[n] = '\0';
	t[strcspn(t, " \t")] = '\0';
	fwd_strip_port(t);
	/*
	 * As the peer's own address is written: a mapped IPv4 address (a
	 * proxy on a dual-stack socket, nginx's ipv6only=off, HAProxy's
	 * v4v6, says ::ffff:203.0.113.7) is the IPv4 address, or the rate
	 * limit would count every IPv4 client in one IPv6 /64.
	 */
	if (inet_pton(AF_INET, t, &a6) == 1)
		og_strlcpy(out, t, INET6_ADDRSTRLEN);
	else if (inet_pton(AF_INET6, t, &a6) == 1)
		unsubd_in6_text(&a6, out);
	else
		return -1;
	return 0;
}

int
unsubd_listed(const char *const *list, int n, const char *addr)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], addr) == 0)
			return 1;
	return 0;
}

/*
 * The client that trusted proxies name in X-Forwarded-For, into out
 * (INET6_ADDRSTRLEN): the right-most entry, of the last line first, that
 * is not itself a trusted proxy.  Each proxy appends the address it took
 * the request from (nginx's $proxy_add_x_forwarded_for, HAProxy's own
 * line), so behind a load balancer that is trusted too the last entry
 * is the balancer, and what is left of the client's entry is the
 * client's to forge.  With only trusted proxies, the left-most.  0, or
 * -1 when there is no entry or that entry is no address (the peer
 * stays: an entry further left is not to be believed).
 */
int
unsubd_fwd_client(const char *const *xff, int nxff, const char *const *trusted,
    int ntrusted, char *out)
{
	char a[INET6_ADDRSTRLEN];
	size_t start, end;
	int i, rc, found = -1;

	for (i = nxff - 1; i >= 0; i--) {
		const char *line = xff[i];

		for (end = strlen(line);; end = start - 1) {
			start = end;
			while (start > 0 && line[start - 1] != ',')
				start--;
			rc = unsubd_fwd_addr(line + start, end - start, a);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				og_strlcpy(out, a, INET6_ADDRSTRLEN);
				if (!unsubd_listed(trusted, ntrusted, a))
					return 0;
				found = 0;
			}
			if (start == 0)
				break;
		}
	}
	return found;
}
