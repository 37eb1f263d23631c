/*
 * og_config.c - the INI configuration: one table row per key.
 *
 * Public: og_config_load, og_config_parse_string, og_config_ref/unref,
 * og_config_stream*, og_config_find_stream, og_config_parse_caps/size,
 * og_scope_parse/name, og_stream_needs_headers, og_stream_one_click.
 * Parsing uses libinih with our own line reader, so every message can name
 * FILE:LINE.  All errors of a file are reported (through the report
 * callback), the first one is returned; a config with any error is never
 * returned to a program.
 * Ownership: a snapshot is immutable after load and freed by the last
 * og_config_unref (atomic reference count: safe across threads).
 *
 * LIMITS: file <= 1 MiB; lines as long as libinih's INI_MAX_LINE (longer
 * lines are an error: use continuation lines, indented); OG_MULTI_MAX
 * values per multi-valued key; OG_CAPS_MAX caps per stream or segment;
 * 256 streams.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "og_buf.h"
#include "og_config.h"
#include "og_err.h"
#include "og_time.h"
#include "og_token.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define STREAMS_MAX 256

enum ktype {
	T_STR,
	T_BOOL,
	T_INT,
	T_SIZE,
	T_DUR,
	T_ENUM,
	T_LIST,
	T_MULTI,
	T_CAPS,
	T_CAP1,
	T_MODE,
	T_MATCH
};

/* Where a key lives: the global struct or the current stream. */
enum kwhere { W_GLOBAL, W_STREAM };

struct key {
	const char *section; /* "stream" for [stream NAME] */
	const char *name;
	enum ktype type;
	const char *def;  /* default, parsed like a value; NULL: none */
	size_t off;       /* offset of the field */
	size_t cnt_off;   /* T_LIST/T_MULTI/T_CAPS: offset of the count */
	int64_t min, max; /* T_INT, T_DUR bounds */
	const char *const *names; /* T_ENUM: names, index = value */
};

static const char *const classes[] = {"marketing", "transactional", NULL};
static const char *const consents[] = {"none", "optin", "confirmed", NULL};
static const char *const refuses[] = {"reject", "drop", "defer", NULL};
static const char *const onerrs[] = {"tempfail", "accept", NULL};
static const char *const scopes[] = {
    "", "all", "sender", "partner", "stream", NULL};
static const char *const spfmodes[] = {"off", "warn", "defer", "reject", NULL};
static const char *const existings[] = {"replace", "keep", NULL};
static const char *const cases[] = {"insensitive", "sensitive", NULL};
static const char *const bouncetokens[] = {
    "auto", "required", "optional", NULL};

#define G(f) offsetof(og_config, f)
#define S(f) offsetof(og_stream, f)
#define DAY 86400LL
#define YEAR (366 * DAY)

static const struct key keys[] = {
    {"store", "path", T_STR, "/var/lib/optgate", G(store_path), 0, 0, 0, NULL},
    {"store", "map_size", T_SIZE, "4G", G(map_size), 0, 0, 0, NULL},
    {"store", "counter_map_size", T_SIZE, "1G", G(counter_map_size), 0, 0, 0,
        NULL},
    {"store", "max_readers", T_INT, "512", G(max_readers), 0, 16, 65536, NULL},
    {"store", "counter_sync", T_DUR, "1s", G(counter_sync), 0, 1, 3600, NULL},
    {"keys", "file", T_STR, "/etc/optgate/keys", G(keys_file), 0, 0, 0, NULL},
    {"keys", "confirm_max_age", T_DUR, "30d", G(confirm_max_age), 0, 0,
        100 * YEAR, NULL},
    {"address", "gmail_dots", T_BOOL, "yes", G(gmail_dots), 0, 0, 0, NULL},
    {"address", "plus_tags", T_LIST,
        "gmail.com, googlemail.com, outlook.com, hotmail.com, live.com, "
        "msn.com, icloud.com, me.com, mac.com, fastmail.com, proton.me, "
        "protonmail.com",
        G(plus_tags), G(nplus_tags), 0, 0, NULL},
    {"address", "local_part", T_ENUM, "insensitive", G(local_case_sensitive), 0,
        0, 0, cases},
    {"feedback", "complaint_scope", T_ENUM, "sender", G(complaint_scope), 0, 0,
        0, scopes},
    {"feedback", "hard_bounce_scope", T_ENUM, "all", G(hard_bounce_scope), 0, 0,
        0, scopes},
    {"feedback", "soft_bounce", T_CAP1, "5/14d", G(soft_bounce), 0, 0, 0, NULL},
    {"feedback", "soft_bounce_suppress", T_DUR, "30d", G(soft_bounce_suppress),
        0, 60, 10 * YEAR, NULL},
    {"feedback", "trusted_reporters", T_MULTI, NULL, G(trusted_reporters),
        G(ntrusted_reporters), 0, 0, NULL},
    {"feedback", "bounce_token", T_ENUM, "auto", G(bounce_token), 0, 0, 0,
        bouncetokens},
    {"feedback", "quarantine", T_STR, "/var/lib/optgate/quarantine",
        G(quarantine), 0, 0, 0, NULL},
    {"log", "verbose", T_INT, "0", G(verbose), 0, 0, 3, NULL},
    {"log", "full_address", T_BOOL, "no", G(log_full_address), 0, 0, 0, NULL},
    {"policyd", "listen", T_MULTI, "inet:127.0.0.1:10040", G(policyd_listen),
        G(npolicyd_listen), 0, 0, NULL},
    {"policyd", "user", T_STR, NULL, G(policyd_user), 0, 0, 0, NULL},
    {"policyd", "socket_owner", T_STR, "postfix", G(policyd_socket_owner), 0, 0,
        0, NULL},
    {"policyd", "socket_group", T_STR, "postfix", G(policyd_socket_group), 0, 0,
        0, NULL},
    {"policyd", "socket_mode", T_MODE, "0660", G(policyd_socket_mode), 0, 0, 0,
        NULL},
    {"policyd", "idle_timeout", T_DUR, "300s", G(policyd_idle_timeout), 0, 1,
        DAY, NULL},
    {"policyd", "instance_timeout", T_DUR, "1h", G(policyd_instance_timeout), 0,
        1, DAY, NULL},
    {"policyd", "max_connections", T_INT, "1000", G(policyd_max_connections), 0,
        1, 100000, NULL},
    {"milter", "socket", T_STR, "inet:10041@127.0.0.1", G(milter_socket), 0, 0,
        0, NULL},
    {"milter", "user", T_STR, NULL, G(milter_user), 0, 0, 0, NULL},
    {"milter", "timeout", T_DUR, "300s", G(milter_timeout), 0, 1, DAY, NULL},
    {"milter", "stream_header", T_STR, "X-Optgate-Stream",
        G(milter_stream_header), 0, 0, 0, NULL},
    {"milter", "feedback_id_sender", T_STR, NULL, G(feedback_id_sender), 0, 0,
        0, NULL},
    {"milter", "policyd", T_BOOL, "no", G(milter_policyd), 0, 0, 0, NULL},
    {"unsubd", "listen", T_MULTI, "127.0.0.1:8080", G(unsubd_listen),
        G(nunsubd_listen), 0, 0, NULL},
    {"unsubd", "user", T_STR, NULL, G(unsubd_user), 0, 0, 0, NULL},
    {"unsubd", "tls_cert", T_STR, NULL, G(unsubd_tls_cert), 0, 0, 0, NULL},
    {"unsubd", "tls_key", T_STR, NULL, G(unsubd_tls_key), 0, 0, 0, NULL},
    {"unsubd", "scope", T_ENUM, "stream", G(unsubd_scope), 0, 0, 0, scopes},
    {"unsubd", "max_connections", T_INT, "2000", G(unsubd_max_connections), 0,
        1, 100000, NULL},
    /* none: half of what one listen address may hold (validate) */
    {"unsubd", "max_connections_per_client", T_INT, NULL,
        G(unsubd_max_connections_per_client), 0, 0, 100000, NULL},
    {"unsubd", "timeout", T_DUR, "10s", G(unsubd_timeout), 0, 1, 3600, NULL},
    {"unsubd", "rate_limit", T_INT, "120", G(unsubd_rate_limit), 0, 0, 1000000,
        NULL},
    {"unsubd", "base_url", T_STR, NULL, G(unsubd_base_url), 0, 0, 0, NULL},
    {"unsubd", "token_max_age", T_DUR, "0", G(unsubd_token_max_age), 0, 0,
        100 * YEAR, NULL},
    {"unsubd", "trusted_proxy", T_MULTI, NULL, G(unsubd_trusted_proxy),
        G(nunsubd_trusted_proxy), 0, 0, NULL},
    {"spf", "egress", T_MULTI, NULL, G(spf_egress), G(nspf_egress), 0, 0, NULL},
    {"spf", "timeout", T_DUR, "5s", G(spf_timeout), 0, 1, 300, NULL},
    {"spf", "cache_ttl", T_DUR, "1h", G(spf_cache_ttl), 0, 0, DAY, NULL},
    /* none: the SPF helper's own name (as Postfix's $myhostname) */
    {"spf", "helo", T_STR, NULL, G(spf_helo), 0, 0, 0, NULL},
    {"stream", "match", T_MATCH, NULL, S(match), S(nmatch), 0, 0, NULL},
    {"stream", "class", T_ENUM, "marketing", S(class), 0, 0, 0, classes},
    {"stream", "consent", T_ENUM, "confirmed", S(consent), 0, 0, 0, consents},
    {"stream", "partner", T_STR, NULL, S(partner), 0, 0, 0, NULL},
    {"stream", "sender", T_STR, NULL, S(sender), 0, 0, 0, NULL},
    {"stream", "caps", T_CAPS, NULL, S(caps), S(ncaps), 0, 0, NULL},
    {"stream", "refuse", T_ENUM, "reject", S(refuse), 0, 0, 0, refuses},
    {"stream", "unsubscribe", T_MULTI, NULL, S(unsubscribe), S(nunsubscribe), 0,
        0, NULL},
    {"stream", "on_store_error", T_ENUM, "tempfail", S(on_store_error), 0, 0, 0,
        onerrs},
    {"stream", "existing", T_ENUM, "replace", S(existing), 0, 0, 0, existings},
    {"stream", "feedback_id", T_STR, NULL, S(feedback_id), 0, 0, 0, NULL},
    {"stream", "verp", T_STR, NULL, S(verp_address), 0, 0, 0, NULL},
    {"stream", "spf", T_ENUM, "off", S(spf), 0, 0, 0, spfmodes},
    {"stream", "brand.name", T_STR, NULL, S(brand_name), 0, 0, 0, NULL},
    {"stream", "brand.logo", T_STR, NULL, S(brand_logo), 0, 0, 0, NULL},
    {"stream", "brand.color", T_STR, NULL, S(brand_color), 0, 0, 0, NULL},
    {"stream", "description", T_STR, NULL, S(description), 0, 0, 0, NULL},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Parser state. */
struct pstate {
	og_config *cfg;
	const char *name; /* file name for messages */
	const char *text;
	size_t pos, len;
	int line;
	int errors;
	char *err;
	size_t errlen;
	void (*report)(const char *, void *);
	void *ctx;
	og_stream *cur; /* current [stream] */
	int cont;       /* the line being parsed is indented (a continuation) */
	int prev_key;   /* a key since the last section line: libinih reads
	                   an indented line as its continuation */
	char prev_name[200]; /* that key, for the message about such a line */
	char last[4096];     /* the value of the last string or caps key */
	char cursect[128];
	int seen[STREAMS_MAX + 1][NKEYS]; /* line of a key's first value, 0 */
	int seg_line[STREAMS_MAX + 1]; /* a stream's first caps.segment line */
	struct {
		char name[128];
		int line;
	} sects[STREAMS_MAX + 16]; /* section lines seen, for repeats */
	int nsects;
};

static void perr(struct pstate *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void located(struct pstate *ps, char *full, size_t size, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

/* "FILE:LINE: msg" (or "FILE: msg" outside a line) into full. */
static void
located(struct pstate *ps, char *full, size_t size, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ps->line > 0)
		snprintf(full, size, "%s:%d: %s", ps->name, ps->line, msg);
	else
		snprintf(full, size, "%s: %s", ps->name, msg);
}

static void
perr(struct pstate *ps, const char *fmt, ...)
{
	char full[700];
	va_list ap;

	va_start(ap, fmt);
	located(ps, full, sizeof(full), fmt, ap);
	va_end(ap);
	if (ps->errors++ == 0 && ps->err)
		snprintf(ps->err, ps->errlen, "%s", full);
	if (ps->report)
		ps->report(full, ps->ctx);
}

static void pwarn(struct pstate *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A warning: what loads (an existing config must keep loading) but is
 * ignored.  Kept in the config, "FILE:LINE: msg" like an error.
 */
static void
pwarn(struct pstate *ps, const char *fmt, ...)
{
	og_config *cfg = ps->cfg;
	char full[700];
	va_list ap;

	if (cfg->nwarnings == OG_CONFIG_WARNINGS_MAX)
		return;
	va_start(ap, fmt);
	located(ps, full, sizeof(full), fmt, ap);
	va_end(ap);
	cfg->warnings[cfg->nwarnings++] = og_xstrdup(full);
}

int
og_config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!isdigit((unsigned char)*s))
		return OG_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return OG_EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		mul = 1ULL << 10;
		break;
	case 'M':
		mul = 1ULL << 20;
		break;
	case 'G':
		mul = 1ULL << 30;
		break;
	case 'T':
		mul = 1ULL << 40;
		break;
	default:
		return OG_EINVAL;
	}
	if (*end && end[1] &&
	    !(toupper((unsigned char)end[1]) == 'B' && end[2] == 0))
		return OG_EINVAL;
	if (v > UINT64_MAX / mul)
		return OG_EINVAL;
	*out = v * mul;
	return 0;
}

int
og_config_parse_caps(const char *s, og_cap *caps, int max)
{
	int n = 0;

	while (*s) {
		char item[64], *slash;
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		uint64_t lim;
		int64_t per;
		char *a, *e;

		if (len >= sizeof(item))
			return OG_EINVAL;
		memcpy(item, s, len);
		item[len] = 0;
		a = item;
		while (isspace((unsigned char)*a))
			a++;
		e = a + strlen(a);
		while (e > a && isspace((unsigned char)e[-1]))
			*--e = 0;
		if ((slash = strchr(a, '/')) == NULL)
			return OG_EINVAL;
		*slash = 0;
		if (og_parse_u64(a, OG_CAP_LIMIT_MAX, &lim) != 0 || lim == 0)
			return OG_EINVAL;
		if (og_duration_parse(slash + 1, 3650 * DAY, &per) != 0 ||
		    per < 60)
			return OG_EINVAL;
		if (n >= max)
			return OG_EINVAL;
		caps[n].limit = (uint32_t)lim;
		caps[n].period = (uint32_t)per;
		n++;
		if (!comma)
			break;
		s = comma + 1;
		if (*s == 0)
			return OG_EINVAL;
	}
	return n > 0 ? n : OG_EINVAL;
}

int
og_scope_parse(const char *s)
{
	int i;

	for (i = 1; scopes[i]; i++)
		if (strcasecmp(s, scopes[i]) == 0)
			return i;
	return -1;
}

const char *
og_scope_name(int scope)
{
	if (scope >= 1 && scope <= 4)
		return scopes[scope];
	return "?";
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
	         !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return OG_EINVAL;
	return 0;
}

static int
parse_cidr(const char *v, og_match *m)
{
	char addr[64], *slash;
	unsigned char b4[4];
	uint64_t pfx;
	int max = 128, v4 = 0;

	if (og_strlcpy(addr, v, sizeof(addr)) >= sizeof(addr))
		return OG_EINVAL;
	if ((slash = strchr(addr, '/')) != NULL)
		*slash++ = 0;
	memset(m->net, 0, sizeof(m->net));
	if (inet_pton(AF_INET, addr, b4) == 1) {
		m->net[10] = m->net[11] = 0xff;
		memcpy(m->net + 12, b4, 4);
		v4 = 1;
	} else if (inet_pton(AF_INET6, addr, m->net) != 1) {
		return OG_EINVAL;
	}
	if (slash) {
		if (og_parse_u64(slash, v4 ? 32 : 128, &pfx) != 0)
			return OG_EINVAL;
		m->prefix = (int)pfx + (v4 ? 96 : 0);
	} else {
		m->prefix = max;
	}
	return 0;
}

static int
parse_match(struct pstate *ps, const char *v, og_match *m)
{
	const char *colon = strchr(v, ':');
	const char *arg;

	memset(m, 0, sizeof(*m));
	if (colon == NULL) {
		perr(ps,
		    "[%s] match: expected TYPE:VALUE (header:NAME=VALUE, "
		    "sender:ADDR, sasl:USER, client:CIDR), got \"%s\"",
		    ps->cursect, v);
		return OG_EINVAL;
	}
	/*
	 * Blanks after "TYPE:" (and around a header's '=') are no part of
	 * the value: kept, "sender: news@example.com" was a line no mail
	 * matched, and the stream's mail went out ungated.
	 */
	arg = colon + 1;
	while (*arg == ' ' || *arg == '\t')
		arg++;
	if (!strncasecmp(v, "header:", 7)) {
		const char *eq = strchr(arg, '='), *val;
		size_t i, nlen;

		if (eq == NULL || eq == arg) {
			perr(ps, "[%s] match: header needs NAME=VALUE",
			    ps->cursect);
			return OG_EINVAL;
		}
		for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
			;
		for (nlen = (size_t)(eq - arg);
		     nlen > 0 &&
		     (arg[nlen - 1] == ' ' || arg[nlen - 1] == '\t');
		     nlen--)
			;
		if (nlen == 0 || *val == 0) {
			perr(ps, "[%s] match: header needs NAME=VALUE",
			    ps->cursect);
			return OG_EINVAL;
		}
		for (i = 0; i < nlen; i++) {
			unsigned char c = (unsigned char)arg[i];

			if (c <= 32 || c >= 127 || c == ':') {
				perr(ps, "[%s] match: bad header name",
				    ps->cursect);
				return OG_EINVAL;
			}
		}
		m->kind = OG_MATCH_HEADER;
		m->name = og_xstrndup(arg, nlen);
		m->value = og_xstrdup(val);
	} else if (!strncasecmp(v, "sender:", 7)) {
		char dom[OG_DOMAIN_MAX + 1], *env = NULL;
		const char *at;
		og_buf b;
		int dom_ok;

		/*
		 * An address is read as the daemons read the envelope
		 * sender (og_addr_envelope): "<news@example.com>" as
		 * Postfix logs it, or "\"news\"@example.com", is the
		 * sender news@example.com, which it never matched.
		 */
		if (*arg != '@') {
			size_t size = 2 * strlen(arg) + 3;

			env = og_xmalloc(size);
			if (og_addr_envelope(arg, env, size) != env) {
				perr(ps,
				    "[%s] match: \"%s\": not an address "
				    "(unbalanced <> or a bad route)",
				    ps->cursect, v);
				free(env);
				return OG_EINVAL;
			}
			arg = env;
		}
		at = strrchr(arg, '@');
		if (*arg == 0 || at == NULL) {
			perr(ps, "[%s] match: sender needs ADDR or @DOMAIN",
			    ps->cursect);
			free(env);
			return OG_EINVAL;
		}
		/*
		 * The domain as sender_matches() compares it (lowercase
		 * A-labels, no trailing dot), or a Unicode domain would
		 * never meet its mail; one that does not normalise (a
		 * single label, a literal) is compared as written.  One no
		 * envelope can have ("news@", "@example..com") would make
		 * a line that never matches, and the stream's mail go out
		 * ungated: refused.
		 */
		dom_ok = og_addr_sender_scope(at + 1, dom, sizeof(dom)) == 0;
		if (!dom_ok && (at[1] == '\0' || at[1] == '.' ||
		                   strstr(at + 1, "..") != NULL ||
		                   strpbrk(at + 1, " \t") != NULL)) {
			perr(ps,
			    "[%s] match: \"%s\": \"%s\" is not a domain, so "
			    "no sender would match",
			    ps->cursect, v, at + 1);
			free(env);
			return OG_EINVAL;
		}
		og_buf_init(&b, 0);
		og_buf_add(&b, arg, (size_t)(at - arg) + 1);
		og_buf_adds(&b, dom);
		m->kind = OG_MATCH_SENDER;
		m->value = og_xstrdup(b.data);
		og_buf_free(&b);
		free(env);
	} else if (!strncasecmp(v, "sasl:", 5)) {
		if (*arg == 0) {
			perr(ps, "[%s] match: sasl needs a user name",
			    ps->cursect);
			return OG_EINVAL;
		}
		m->kind = OG_MATCH_SASL;
		m->value = og_xstrdup(arg);
	} else if (!strncasecmp(v, "client:", 7)) {
		m->kind = OG_MATCH_CLIENT;
		if (parse_cidr(arg, m) != 0) {
			perr(ps,
			    "[%s] match: client needs an address or CIDR, "
			    "got \"%s\"",
			    ps->cursect, arg);
			return OG_EINVAL;
		}
		m->value = og_xstrdup(arg);
	} else {
		perr(ps,
		    "[%s] match: unknown type in \"%s\" (header, sender, "
		    "sasl, client)",
		    ps->cursect, v);
		return OG_EINVAL;
	}
	return 0;
}

/* The section as the admin wrote it, for messages. */
#define SECT(ps, k) ((ps)->cursect[0] ? (ps)->cursect : (k)->section)

static int
multi_has(char *const *arr, int n, const char *item)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(arr[i], item) == 0)
			return 1;
	return 0;
}

/* Split a comma list into a multi array, appending. */
static int
add_multi(
    struct pstate *ps, const struct key *k, char **arr, int *n, const char *v)
{
	char *copy = og_xstrdup(v), *p = copy, *item;
	int rc = 0;

	while (p && rc == 0) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = 0;
		item = trim(p);
		p = comma ? comma + 1 : NULL;
		/*
		 * A comma ending the line before a continuation line, as
		 * conf/optgate.conf writes plus_tags: no empty item.
		 */
		if (*item == 0 && p == NULL && item != copy)
			break;
		if (*item == 0) {
			perr(ps, "[%s] %s: empty item in list", SECT(ps, k),
			    k->name);
			rc = OG_EINVAL;
		} else if (*n >= OG_MULTI_MAX) {
			perr(ps, "[%s] %s: more than %d values", SECT(ps, k),
			    k->name, OG_MULTI_MAX);
			rc = OG_EINVAL;
		} else if (multi_has(arr, *n, item)) {
			/*
			 * A line pasted beside the one already there: a
			 * second bind of one listen address, or every
			 * unsubscribe target twice in List-Unsubscribe.
			 */
			perr(ps, "[%s] %s: \"%s\" given twice", SECT(ps, k),
			    k->name, item);
			rc = OG_EINVAL;
		} else {
			arr[(*n)++] = og_xstrdup(item);
		}
	}
	free(copy);
	return rc;
}

static void
free_multi(char **arr, int *n)
{
	int i;

	for (i = 0; i < *n; i++)
		free(arr[i]);
	*n = 0;
}

static int
enum_lookup(const struct key *k, const char *v)
{
	int i;

	for (i = 0; k->names[i]; i++)
		if (*k->names[i] && strcasecmp(k->names[i], v) == 0)
			return i;
	return -1;
}

/* Parse one value of key k into base (og_config or og_stream). */
static int
set_value(struct pstate *ps, const struct key *k, char *base, const char *value,
    int first)
{
	void *f = base + k->off;
	char v[4096];
	int64_t d;
	uint64_t u;
	int i;

	og_strlcpy(v, value, sizeof(v));
	value = trim(v);
	switch (k->type) {
	case T_STR:
		if (*value == 0) {
			perr(ps, "[%s] %s: empty value", SECT(ps, k), k->name);
			return OG_EINVAL;
		}
		free(*(char **)f);
		*(char **)f = og_xstrdup(value);
		return 0;
	case T_BOOL:
		if (parse_bool(value, f) != 0) {
			perr(ps, "[%s] %s: expected yes or no, got \"%s\"",
			    SECT(ps, k), k->name, value);
			return OG_EINVAL;
		}
		return 0;
	case T_INT:
		if (og_parse_u64(value, (uint64_t)k->max, &u) != 0 ||
		    (int64_t)u < k->min) {
			perr(ps,
			    "[%s] %s: expected a number from %lld to "
			    "%lld, got \"%s\"",
			    SECT(ps, k), k->name, (long long)k->min,
			    (long long)k->max, value);
			return OG_EINVAL;
		}
		*(int *)f = (int)u;
		return 0;
	case T_MODE:
		/* permission bits only: set-id and sticky mean nothing here */
		if (strlen(value) > 4 ||
		    strspn(value, "01234567") != strlen(value) || *value == 0 ||
		    strtol(value, NULL, 8) > 0777) {
			perr(ps,
			    "[%s] %s: expected an octal mode such as 0660 "
			    "(permission bits, at most 0777)",
			    SECT(ps, k), k->name);
			return OG_EINVAL;
		}
		*(int *)f = (int)strtol(value, NULL, 8);
		return 0;
	case T_SIZE:
		if (og_config_parse_size(value, f) != 0 ||
		    *(uint64_t *)f < (1ULL << 20)) {
			perr(ps,
			    "[%s] %s: expected a size of at least 1M such "
			    "as 512M or 4G, got \"%s\"",
			    SECT(ps, k), k->name, value);
			return OG_EINVAL;
		}
		return 0;
	case T_DUR:
		if (og_duration_parse(value, INT64_MAX / 2, &d) != 0) {
			perr(ps,
			    "[%s] %s: expected a duration such as 30s, 15m, "
			    "12h, 7d, got \"%s\"",
			    SECT(ps, k), k->name, value);
			return OG_EINVAL;
		}
		if (d < k->min || d > k->max) {
			/* a duration, but out of range: say the range */
			char lo[32], hi[32];

			perr(ps, "[%s] %s: %s is out of range (%s to %s)",
			    SECT(ps, k), k->name, value,
			    og_duration_fmt(k->min, lo, sizeof(lo)),
			    og_duration_fmt(k->max, hi, sizeof(hi)));
			return OG_EINVAL;
		}
		*(int64_t *)f = d;
		return 0;
	case T_ENUM:
		if ((i = enum_lookup(k, value)) < 0) {
			char opts[256] = "";

			for (i = 0; k->names[i]; i++)
				if (*k->names[i]) {
					if (*opts)
						og_strlcpy(opts + strlen(opts),
						    " | ",
						    sizeof(opts) -
						        strlen(opts));
					og_strlcpy(opts + strlen(opts),
					    k->names[i],
					    sizeof(opts) - strlen(opts));
				}
			perr(ps, "[%s] %s: expected %s, got \"%s\"",
			    SECT(ps, k), k->name, opts, value);
			return OG_EINVAL;
		}
		*(int *)f = i;
		return 0;
	case T_LIST: {
		char ***arr = f;
		size_t *n = (size_t *)(base + k->cnt_off);
		char *copy, *p;

		if (first) {
			for (size_t j = 0; j < *n; j++)
				free((*arr)[j]);
			free(*arr);
			*arr = NULL;
			*n = 0;
		}
		copy = og_xstrdup(value);
		for (p = copy; p;) {
			char *comma = strchr(p, ','), *item;

			if (comma)
				*comma = 0;
			item = trim(p);
			p = comma ? comma + 1 : NULL;
			if (*item == 0)
				continue;
			if (*n >= 4096) {
				perr(ps, "[%s] %s: too many values",
				    SECT(ps, k), k->name);
				free(copy);
				return OG_EINVAL;
			}
			for (char *c = item; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			if (strcmp(k->name, "plus_tags") == 0) {
				/*
				 * As og_addr compares a domain: in
				 * A-labels, or a Unicode one never
				 * matches and its +tags stay in the key.
				 */
				char dom[OG_DOMAIN_MAX + 1];

				if (og_addr_sender_scope(
				        item, dom, sizeof(dom)) != 0 ||
				    strchr(item, '@') != NULL) {
					perr(ps,
					    "[%s] %s: \"%s\" is not a domain",
					    SECT(ps, k), k->name, item);
					free(copy);
					return OG_EINVAL;
				}
				*arr = og_xrealloc(
				    *arr, (*n + 1) * sizeof(char *));
				(*arr)[(*n)++] = og_xstrdup(dom);
				continue;
			}
			*arr = og_xrealloc(*arr, (*n + 1) * sizeof(char *));
			(*arr)[(*n)++] = og_xstrdup(item);
		}
		free(copy);
		return 0;
	}
	case T_MULTI: {
		int *n = (int *)(base + k->cnt_off);

		if (first)
			free_multi(f, n);
		return add_multi(ps, k, f, n, value);
	}
	case T_CAPS:
	case T_CAP1: {
		og_cap tmp[OG_CAPS_MAX];
		int n = og_config_parse_caps(
		    value, tmp, k->type == T_CAP1 ? 1 : OG_CAPS_MAX);

		if (n < 0) {
			perr(ps,
			    "[%s] %s: expected caps such as \"2/7d, 1/1d\" "
			    "(count/period: count 1 to %d, the sends kept "
			    "per person; period >= 1m), got \"%s\"",
			    SECT(ps, k), k->name, OG_CAP_LIMIT_MAX, value);
			return OG_EINVAL;
		}
		if (k->type == T_CAP1) {
			*(og_cap *)f = tmp[0];
		} else {
			memcpy(f, tmp, sizeof(tmp[0]) * (size_t)n);
			*(int *)(base + k->cnt_off) = n;
		}
		return 0;
	}
	case T_MATCH: {
		int *n = (int *)(base + k->cnt_off);
		og_match *m = f;

		if (*n >= OG_MULTI_MAX) {
			perr(ps, "[%s] match: more than %d lines", ps->cursect,
			    OG_MULTI_MAX);
			return OG_EINVAL;
		}
		if (parse_match(ps, value, &m[*n]) != 0)
			return OG_EINVAL;
		m[*n].line = ps->line;
		(*n)++;
		return 0;
	}
	}
	return OG_EINVAL;
}

static void
apply_defaults(struct pstate *ps, const char *section, char *base)
{
	size_t i;
	int line = ps->line;

	ps->line = 0;
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && keys[i].def)
			(void)set_value(ps, &keys[i], base, keys[i].def, 1);
	ps->line = line;
}

static int
valid_stream_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > OG_STREAM_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return 0;
	return 1;
}

static int
stream_section(struct pstate *ps, const char *section)
{
	og_config *cfg = ps->cfg;
	const char *name = section + 6;
	og_stream *st;
	int i;

	while (*name == ' ' || *name == '\t')
		name++;
	if (!valid_stream_name(name)) {
		perr(ps,
		    "[%s]: stream names are 1-%d letters, digits, '.', "
		    "'_' or '-'",
		    section, OG_STREAM_NAME_MAX);
		return -1;
	}
	for (i = 0; i < cfg->nstreams; i++)
		if (strcmp(cfg->streams[i].name, name) == 0) {
			ps->cur = &cfg->streams[i];
			return 0;
		}
	if (cfg->nstreams >= STREAMS_MAX) {
		perr(ps, "more than %d streams", STREAMS_MAX);
		return -1;
	}
	cfg->streams = og_xrealloc(
	    cfg->streams, (size_t)(cfg->nstreams + 1) * sizeof(og_stream));
	st = &cfg->streams[cfg->nstreams++];
	memset(st, 0, sizeof(*st));
	st->name = og_xstrdup(name);
	st->id = og_token_stream_id(name);
	apply_defaults(ps, "stream", (char *)st);
	ps->cur = st;
	return 0;
}

/*
 * Add a continuation line's value to ps->last, the value given so far: a
 * string's words joined by a space, a list's items by ", " (by a space
 * after a line that ended in its comma).  0, or OG_EINVAL said.
 */
static int
join_last(struct pstate *ps, const char *sect, const char *name, int list,
    const char *value)
{
	size_t n = strlen(ps->last);

	if (n + 2 + strlen(value) >= sizeof(ps->last)) {
		perr(ps, "[%s] %s: value longer than %zu characters", sect,
		    name, sizeof(ps->last) - 1);
		return OG_EINVAL;
	}
	snprintf(ps->last + n, sizeof(ps->last) - n, "%s%s",
	    !list || (n > 0 && ps->last[n - 1] == ',') ? " " : ", ", value);
	return 0;
}

/*
 * An indented line continues a string (joined with a space) or a caps
 * list (more caps) given on the lines before: the value is parsed again
 * with the continuation added.
 */
static int
append_value(
    struct pstate *ps, const struct key *k, char *base, const char *value)
{
	if (join_last(ps, SECT(ps, k), k->name, k->type == T_CAPS, value) != 0)
		return OG_EINVAL;
	return set_value(ps, k, base, ps->last, 0);
}

/*
 * Does the next line continue this one (indented, with more than a
 * comment)?  libinih has read up to this line only.
 */
static int
next_line_continues(const struct pstate *ps)
{
	const char *p = ps->text + ps->pos;

	if (ps->pos >= ps->len || (*p != ' ' && *p != '\t'))
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p != 0 && !strchr("\r\n;#", *p);
}

/*
 * "caps = 2/7d," with the next cap on an indented line, as a list is
 * continued (plus_tags in conf/optgate.conf): the caps are parsed with
 * their continuation, not this line alone ("2/7d," is an error there).
 */
static int
caps_continued(const struct pstate *ps, const char *value)
{
	size_t n = strlen(value);

	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	return n > 0 && value[n - 1] == ',' && next_line_continues(ps);
}

/*
 * A caps.segment.NAME line, or an indented line continuing the one above
 * it (as caps continue): the caps are parsed again with it.
 */
static int
segment_caps(struct pstate *ps, int idx, const char *section, const char *name,
    const char *value)
{
	og_stream *st = ps->cur;
	og_segcaps *sc;
	const char *seg = name + 13;
	int n, j;

	if (*seg == 0 || strlen(seg) > 32) {
		perr(ps, "[%s] %s: bad segment name", section, name);
		return 0;
	}
	for (j = 0; j < st->nsegcaps; j++)
		if (!strcasecmp(st->segcaps[j].segment, seg))
			break;
	if (j < st->nsegcaps && !(ps->cont && j == st->nsegcaps - 1)) {
		perr(ps, "[%s] %s: given twice", section, name);
		return 0;
	}
	if (j < st->nsegcaps) { /* continued */
		if (join_last(ps, section, name, 1, value) != 0)
			return 0;
		sc = &st->segcaps[j];
	} else {
		og_strlcpy(ps->last, value, sizeof(ps->last));
		st->segcaps = og_xrealloc(st->segcaps,
		    (size_t)(st->nsegcaps + 1) * sizeof(og_segcaps));
		sc = &st->segcaps[st->nsegcaps];
		memset(sc, 0, sizeof(*sc));
		sc->segment = og_xstrdup(seg);
		if (st->nsegcaps++ == 0)
			ps->seg_line[idx] = ps->line;
	}
	if (caps_continued(ps, value))
		return 1; /* parsed with the next line */
	n = og_config_parse_caps(ps->last, sc->caps, OG_CAPS_MAX);
	if (n < 0) {
		perr(ps,
		    "[%s] %s: expected caps such as \"4/7d\" (count 1 to %d), "
		    "got \"%s\"",
		    section, name, OG_CAP_LIMIT_MAX, ps->last);
		return 0;
	}
	sc->ncaps = n;
	return 1;
}

static int
handle_value(
    void *user, const char *section, const char *name, const char *value)
{
	struct pstate *ps = user;
	const char *sect = section;
	char *base = (char *)ps->cfg;
	int idx = 0;
	size_t i;

	if (!strncmp(section, "stream", 6) &&
	    (section[6] == ' ' || section[6] == '\t' || section[6] == 0)) {
		if (section[6] == 0) {
			perr(ps, "[stream]: needs a name: [stream NAME]");
			return 0;
		}
		if (strcmp(ps->cursect, section) != 0 || ps->cur == NULL) {
			if (stream_section(ps, section) != 0) {
				ps->cur = NULL;
				og_strlcpy(
				    ps->cursect, section, sizeof(ps->cursect));
				return 0;
			}
		}
		og_strlcpy(ps->cursect, section, sizeof(ps->cursect));
		if (ps->cur == NULL)
			return 0;
		sect = "stream";
		base = (char *)ps->cur;
		idx = (int)(ps->cur - ps->cfg->streams) + 1;
		if (!strncmp(name, "caps.segment.", 13))
			return segment_caps(ps, idx, section, name, value);
	} else {
		og_strlcpy(ps->cursect, section, sizeof(ps->cursect));
		ps->cur = NULL;
		if (*section == 0) {
			perr(ps, "%s: key before any [section]", name);
			return 0;
		}
	}
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		int first;

		if (strcmp(k->section, sect) || strcmp(k->name, name))
			continue;
		first = !ps->seen[idx][i];
		if (!first && ps->cont && k->type == T_CAPS &&
		    caps_continued(ps, value)) {
			/* one more cap line ending in ',': wait for the next */
			return join_last(ps, SECT(ps, k), k->name, 1, value) ==
			       0;
		}
		if (!first && ps->cont &&
		    (k->type == T_STR || k->type == T_CAPS))
			return append_value(ps, k, base, value) == 0;
		/*
		 * plus_tags is a list on one line and its continuations: a
		 * second "plus_tags =" line (pasted below, to replace it)
		 * was added to the first unseen.
		 */
		if (!first && k->type != T_MULTI && k->type != T_MATCH &&
		    !(k->type == T_LIST && ps->cont)) {
			perr(ps, "[%s] %s: given twice%s", section, name,
			    ps->cont ? " (an indented line continues the "
			               "key above it)"
			             : "");
			return 0;
		}
		ps->seen[idx][i] = ps->line > 0 ? ps->line : 1;
		if (k->type == T_STR || k->type == T_CAPS)
			og_strlcpy(ps->last, value, sizeof(ps->last));
		if (k->type == T_CAPS && caps_continued(ps, ps->last)) {
			og_strlcpy(ps->last, trim(ps->last), sizeof(ps->last));
			return 1;
		}
		return set_value(ps, k, base, value, first) == 0;
	}
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, sect) == 0)
			break;
	if (i == NKEYS)
		return 0; /* the reader reported the section itself */
	else
		perr(ps, "[%s] %s: unknown key", section, name);
	return 0;
}

/*
 * libinih strips a comment (";" after a blank) from the first line of a
 * value but, in the version Debian ships, not from a continuation line:
 * strip it here, or "protonmail.com ; domains ..." is a plus_tags domain
 * no address has (conf/optgate.conf) and a trusted reporter never
 * matches.
 */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct pstate *ps = user;
	char *v, *c;
	size_t n;
	int rc;

	ps->prev_key = 1;
	/* a continuation comes with the name of the key it continues */
	snprintf(
	    ps->prev_name, sizeof(ps->prev_name), "[%s] %s", section, name);
	if (!ps->cont)
		return handle_value(user, section, name, value);
	v = og_xstrdup(value);
	for (c = v; (c = strchr(c, ';')) != NULL; c++)
		if (c > v && (c[-1] == ' ' || c[-1] == '\t')) {
			*c = 0;
			break;
		}
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = 0;
	rc = handle_value(user, section, name, v);
	free(v);
	return rc;
}

/*
 * libinih calls the handler only for keys, so an unknown or empty-named
 * section would go unnoticed: look at section lines as they are read.
 */
static const char *const sections[] = {"store", "keys", "address", "feedback",
    "log", "policyd", "milter", "unsubd", "spf", NULL};

/* Is NAME one of our sections ("stream NAME" with a name or none)? */
static int
known_section(const char *name)
{
	int i;

	for (i = 0; sections[i]; i++)
		if (strcmp(name, sections[i]) == 0)
			return 1;
	return strncmp(name, "stream", 6) == 0 &&
	       (name[6] == ' ' || name[6] == '\t' || name[6] == 0);
}

static void
check_section_line(struct pstate *ps, const char *line)
{
	char name[128];
	const char *p = line, *end, *tail;
	size_t n;
	int i;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[' || (end = strchr(p, ']')) == NULL)
		return;
	ps->prev_key = 0;
	n = (size_t)(end - p - 1);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, p + 1, n);
	name[n] = 0;
	if (!known_section(name)) {
		perr(ps, "[%s]: unknown section", name);
		return;
	}
	/*
	 * libinih drops what follows the "]": "[stream a] class =
	 * transactional" loaded as a marketing stream, "[store] path = X"
	 * with the default path.  Only a comment may follow.
	 */
	for (tail = end + 1; *tail == ' ' || *tail == '\t'; tail++)
		;
	if (*tail == '\r') /* the one before LF is gone (reader) */
		perr(ps,
		    "[%s]: a CR after the section name: lines end with CR "
		    "only? convert the file: tr '\\r' '\\n'",
		    name);
	else if (*tail != '\n' && *tail != 0 && *tail != ';' && *tail != '#') {
		char text[64];

		n = strcspn(tail, "\n");
		snprintf(text, sizeof(text), "%.*s%s", (int)(n > 40 ? 40 : n),
		    tail, n > 40 ? "..." : "");
		perr(ps,
		    "[%s]: \"%s\" after the section name: a key goes on a "
		    "line of its own, a comment after ';'",
		    name, text);
	}
	/*
	 * A section opened again would be merged into the first: match
	 * and list lines added to it unseen (a pasted [stream news] after
	 * the shipped one, a second [unsubd] listen).  One per name.
	 */
	if (strncmp(name, "stream", 6) == 0) { /* the name as the handler */
		char *nm = name + 6;

		while (*nm == ' ' || *nm == '\t')
			nm++;
		if (*nm == '\0')
			return; /* the handler says it needs a name */
		memmove(name + 7, nm, strlen(nm) + 1);
		name[6] = ' ';
	}
	for (i = 0; i < ps->nsects; i++)
		if (strcmp(ps->sects[i].name, name) == 0) {
			perr(ps,
			    "[%s]: section given twice (first at line %d): "
			    "write its keys in one",
			    name, ps->sects[i].line);
			return;
		}
	if (ps->nsects < (int)(sizeof(ps->sects) / sizeof(ps->sects[0]))) {
		og_strlcpy(ps->sects[ps->nsects].name, name,
		    sizeof(ps->sects[0].name));
		ps->sects[ps->nsects++].line = ps->line;
	}
}

/*
 * An indented line after a key is libinih's continuation of its value,
 * whatever it says: a README snippet pasted with its indentation
 * ("    [keys]", "   listen = 127.0.0.1:8080") became words of the
 * value above it, and a file indented throughout loaded as "ok (0
 * streams)".  One that reads as a section line or as a key of ours is
 * refused (and not passed on); other text continues the value (a list,
 * an IPv6 "[::1]:8080").  Returns 1 when refused.
 */
static int
check_indented_line(struct pstate *ps, const char *line)
{
	const char *p = line, *e;
	char word[128];
	size_t n;
	int i;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[' && (e = strchr(p, ']')) != NULL) {
		const char *q = e + 1;

		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '\n' && *q != ';' && *q != '#' && *q != 0)
			return 0;
		n = (size_t)(e - p - 1);
		if (n == 0 || n >= sizeof(word))
			return 0;
		memcpy(word, p + 1, n);
		word[n] = 0;
		if (!known_section(word))
			return 0;
		perr(ps,
		    "indented line \"[%s]\" would continue the value of %s "
		    "above it: start a section line at the beginning of the "
		    "line",
		    word, ps->prev_name);
		return 1;
	}
	for (n = 0; p[n] && (isalnum((unsigned char)p[n]) || p[n] == '_' ||
	                        p[n] == '.' || p[n] == '-');
	     n++)
		;
	if (n == 0 || n >= sizeof(word))
		return 0;
	for (e = p + n; *e == ' ' || *e == '\t'; e++)
		;
	if (*e != '=')
		return 0;
	memcpy(word, p, n);
	word[n] = 0;
	for (i = 0; i < (int)NKEYS; i++)
		if (strcmp(keys[i].name, word) == 0)
			break;
	if (i == (int)NKEYS && strncmp(word, "caps.segment.", 13) != 0)
		return 0;
	perr(ps,
	    "indented line \"%s = ...\" would continue the value of %s "
	    "above it: start a key at the beginning of the line",
	    word, ps->prev_name);
	return 1;
}

/* libinih line reader that counts lines and refuses long ones. */
static char *
reader(char *str, int num, void *stream)
{
	struct pstate *ps = stream;
	size_t n = 0, start = ps->pos;

	if (ps->pos >= ps->len)
		return NULL;
	while (ps->pos < ps->len && ps->text[ps->pos] != '\n')
		ps->pos++;
	n = ps->pos - start;
	if (ps->pos < ps->len)
		ps->pos++;
	ps->line++;
	/*
	 * A file written on Windows ends its lines with CR LF: the CR would
	 * hide an indented "[keys]" from check_indented_line.  Only the CR
	 * before the LF goes; one inside a value stays an error.
	 */
	if (n > 0 && ps->text[start + n - 1] == '\r')
		n--;
	if (n + 2 > (size_t)num) {
		perr(ps,
		    "line longer than %d characters: split it with "
		    "indented continuation lines",
		    num - 2);
		n = 0;
	}
	if (memchr(ps->text + start, 0, n) != NULL) {
		perr(ps, "NUL byte in line");
		n = 0;
	}
	memcpy(str, ps->text + start, n);
	str[n] = '\n';
	str[n + 1] = 0;
	ps->cont = n > 0 && (str[0] == ' ' || str[0] == '\t');
	/*
	 * An indented line after a key continues it even when it starts
	 * with '[' (an IPv6 listen address, "[::1]:8080"): not a section.
	 */
	if (!(ps->cont && ps->prev_key))
		check_section_line(ps, str);
	else if (check_indented_line(ps, str)) {
		str[0] = '\n'; /* reported: not a word of the value above */
		str[1] = 0;
	}
	return str;
}

static void
free_stream(og_stream *st)
{
	int i;

	free(st->name);
	free(st->partner);
	free(st->sender);
	for (i = 0; i < st->nsegcaps; i++)
		free(st->segcaps[i].segment);
	free(st->segcaps);
	free_multi(st->unsubscribe, &st->nunsubscribe);
	for (i = 0; i < st->nmatch; i++) {
		free(st->match[i].name);
		free(st->match[i].value);
	}
	free(st->feedback_id);
	free(st->verp_address);
	free(st->brand_name);
	free(st->brand_logo);
	free(st->brand_color);
	free(st->description);
}

static void
config_free(og_config *cfg)
{
	size_t i;
	int j;

	if (cfg == NULL)
		return;
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		char *f = (char *)cfg + k->off;

		if (strcmp(k->section, "stream") == 0)
			continue;
		if (k->type == T_STR) {
			free(*(char **)f);
		} else if (k->type == T_MULTI) {
			free_multi(
			    (char **)f, (int *)((char *)cfg + k->cnt_off));
		} else if (k->type == T_LIST) {
			char **arr = *(char ***)f;
			size_t n = *(size_t *)((char *)cfg + k->cnt_off);

			for (size_t m = 0; m < n; m++)
				free(arr[m]);
			free(arr);
		}
	}
	for (j = 0; j < cfg->nstreams; j++)
		free_stream(&cfg->streams[j]);
	free(cfg->streams);
	for (j = 0; j < cfg->nwarnings; j++)
		free(cfg->warnings[j]);
	free(cfg->path);
	free(cfg->address_keys);
	free(cfg);
}

/* The value of the %XX escape at s (a URL's), or -1. */
static int
pct_escape(const char *s)
{
	char h[3];

	/* in this order: never a byte past the string's end */
	if (s[0] != '%' || !isxdigit((unsigned char)s[1]) ||
	    !isxdigit((unsigned char)s[2]))
		return -1;
	h[0] = s[1];
	h[1] = s[2];
	h[2] = '\0';
	return (int)strtol(h, NULL, 16);
}

/*
 * Does every %t in a template stand apart from the text around it?  The
 * feedback processors find a token in an address as a run of token
 * characters (og_token_char), so "unsub-%t@" would read as one run
 * "unsub-TOKEN" and never verify.  url: a mailto: URL, whose %XX escapes
 * the mail client decodes.
 */
static int
token_apart(const char *tpl, int url)
{
	for (const char *p = strstr(tpl, "%t"); p != NULL;
	     p = strstr(p + 2, "%t")) {
		int b = p > tpl ? (unsigned char)p[-1] : ' ';
		int a = (unsigned char)p[2];

		if (url && p - tpl >= 3 && pct_escape(p - 3) >= 0)
			b = pct_escape(p - 3);
		if (url && pct_escape(p + 2) >= 0)
			a = pct_escape(p + 2);
		/* %s, the stream name, is letters and digits. */
		if (p - tpl >= 2 && p[-2] == '%' && p[-1] == 's')
			b = 's';
		if (a == '%' && p[3] == 's')
			a = 's';
		if (og_token_char(b) || og_token_char(a))
			return 0;
	}
	return 1;
}

/*
 * Whether optgate-unsubd would take the http(s) unsubscribe URL u: where
 * its path has the token under a "u" segment (unsubd's /u/TOKEN, also
 * behind a proxy under a prefix), unsubd serves only /u/TOKEN and
 * /u/TOKEN/, so the token must fill the rest of the path.  Anything next
 * to it in its segment ("/u/%tx", "/u/x%t": unsubd reads it as part of
 * the token) or after it ("/u/%t/x") gets 400 or 404 for every
 * one-click.  A token not under /u/ ("/u-%t", "?t=%t") is for another
 * web server: 1.
 */
static int
unsubd_path_ok(const char *u)
{
	const char *path, *end, *t, *seg;

	if ((path = strstr(u, "://")) == NULL)
		return 1;
	path += 3 + strcspn(path + 3, "/?#");
	end = path + strcspn(path, "?#");
	if ((t = strstr(path, "%t")) == NULL || t >= end)
		return 1;
	/* The last "/u/" before the token. */
	for (seg = NULL; path < t; path++)
		if (strncmp(path, "/u/", 3) == 0 && path + 3 <= t)
			seg = path + 3;
	if (seg == NULL)
		return 1;
	return seg == t && (t + 2 == end || (t[2] == '/' && t + 3 == end));
}

/*
 * Refuse a value the milter would put into a header it writes
 * (List-Unsubscribe, Feedback-ID) or into the envelope sender (verp)
 * that would break out of it: a control character (a bare CR ends the
 * header for many readers and starts one of the sender's choosing), a
 * non-ASCII byte (a header is ASCII), and with uri also a space, '<',
 * '>' or '"', which end the <URI> or <address> and start another URI or
 * ESMTP parameters.  what: "[stream NAME] KEY" or "[milter] KEY";
 * where: what the value goes into, for the error.
 */
static void
header_value(struct pstate *ps, const char *what, const char *v, int uri,
    const char *where)
{
	char why[96] = "";
	og_buf b;

	if (v == NULL)
		return;
	for (const unsigned char *p = (const unsigned char *)v;
	     *p != '\0' && why[0] == '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			snprintf(why, sizeof(why),
			    "a control character (\\x%02x)", *p);
		else if (*p >= 0x80)
			snprintf(why, sizeof(why),
			    "a non-ASCII byte (write it %%-encoded, or a "
			    "domain in its xn-- form)");
		else if (uri && *p == ' ')
			snprintf(why, sizeof(why), "a space");
		else if (uri && (*p == '<' || *p == '>' || *p == '"'))
			snprintf(why, sizeof(why), "'%c'", *p);
	}
	if (why[0] == '\0')
		return;
	og_buf_init(&b, 1024);
	(void)og_buf_add_escaped(&b, v, strlen(v), 300);
	perr(ps, "%s: \"%s\" has %s, which cannot be in %s", what,
	    b.data != NULL ? b.data : "", why, where);
	og_buf_free(&b);
}

/*
 * A key whose values are IP addresses (what: "[unsubd] trusted_proxy").
 * Names and ranges would silently match nothing (a trusted proxy) or
 * make every SPF check a permerror (an egress address): refused.  canon:
 * rewrite the value the way inet_ntop writes a peer (IPv4 for a mapped
 * IPv6), for keys compared with the peer's address as text.
 */
static void
ip_value(struct pstate *ps, const char *what, char **p, int canon)
{
	unsigned char a[16];
	char buf[INET6_ADDRSTRLEN];
	const char *ok = NULL;

	if (inet_pton(AF_INET, *p, a) == 1)
		ok = inet_ntop(AF_INET, a, buf, sizeof(buf));
	else if (inet_pton(AF_INET6, *p, a) == 1)
		ok = IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)a)
		         ? inet_ntop(AF_INET, a + 12, buf, sizeof(buf))
		         : inet_ntop(AF_INET6, a, buf, sizeof(buf));
	if (ok == NULL) {
		perr(ps,
		    "%s: \"%s\" is not an IP address "
		    "(names and ranges are not supported)",
		    what, *p);
		return;
	}
	if (canon) {
		free(*p);
		*p = og_xstrdup(buf);
	}
}

/* Whether address a (16 bytes, IPv4 mapped) is in m's network. */
static int
net_has(const og_match *m, const unsigned char *a)
{
	int bits = m->prefix, i;

	for (i = 0; bits > 0; i++, bits -= 8) {
		unsigned char mask =
		    bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));

		if ((a[i] & mask) != (m->net[i] & mask))
			return 0;
	}
	return 1;
}

/*
 * Does every message that match b meets meet a as well?  Only between
 * lines of one kind, as parse_match keeps them (sender domains in
 * lowercase A-labels, CIDRs as bits).
 */
static int
match_covers(const og_match *a, const og_match *b)
{
	const char *at;

	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case OG_MATCH_HEADER:
		return strcasecmp(a->name, b->name) == 0 &&
		       strcasecmp(a->value, b->value) == 0;
	case OG_MATCH_SENDER:
		if (a->value[0] == '@')
			return (at = strrchr(b->value, '@')) != NULL &&
			       strcmp(at, a->value) == 0;
		return strcasecmp(a->value, b->value) == 0;
	case OG_MATCH_SASL:
		return strcasecmp(a->value, b->value) == 0;
	case OG_MATCH_CLIENT:
		return a->prefix <= b->prefix && net_has(a, b->net);
	}
	return 0;
}

/* A match line as the admin wrote it, for messages. */
static void
match_text(const og_match *m, char *buf, size_t size)
{
	static const char *const kinds[] = {
	    "?", "header", "sender", "sasl", "client"};

	if (m->kind == OG_MATCH_HEADER)
		snprintf(buf, size, "header:%s=%s", m->name, m->value);
	else
		snprintf(buf, size, "%s:%s",
		    kinds[m->kind >= 1 && m->kind <= 4 ? m->kind : 0],
		    m->value);
}

/*
 * Streams are tried in file order and the first that matches wins: a
 * line an earlier stream's line covers never selects its stream (the
 * mail is gated as the earlier one), which is never what was meant.
 */
static void
shadowed_matches(struct pstate *ps)
{
	og_config *cfg = ps->cfg;
	char t1[300], t2[300];

	for (int i = 1; i < cfg->nstreams; i++) {
		const og_stream *st = &cfg->streams[i];

		for (int j = 0; j < st->nmatch; j++)
			for (int k = 0; k < i; k++) {
				const og_stream *e = &cfg->streams[k];
				int l;

				for (l = 0; l < e->nmatch; l++)
					if (match_covers(
					        &e->match[l], &st->match[j]))
						break;
				if (l == e->nmatch)
					continue;
				ps->line = st->match[j].line;
				match_text(&st->match[j], t1, sizeof(t1));
				match_text(&e->match[l], t2, sizeof(t2));
				perr(ps,
				    "[stream %s] match: \"%s\" can never "
				    "match: [stream %s], earlier in the file, "
				    "has \"%s\" and wins (put the narrower "
				    "stream first)",
				    st->name, t1, e->name, t2);
				break;
			}
	}
}

/* No passphrase prompt on a terminal: an encrypted key does not load. */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

int
og_config_tls_pair(const char *cert, const char *key, const char *const *pem,
    char *why, size_t size)
{
	const char *f[2] = {cert, key}, *name[2] = {"tls_cert", "tls_key"};
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	BIO *b;
	int i, rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		b = pem != NULL ? BIO_new_mem_buf(pem[i], -1)
		                : BIO_new_file(f[i], "r");
		if (b == NULL) {
			int e = errno;

			snprintf(why, size, "[unsubd] %s %s: %s", name[i], f[i],
			    strerror(e));
			rc = e == ENOENT ? OG_NOTFOUND : OG_EIO;
			break;
		}
		if (i == 0)
			x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
		else
			pk = PEM_read_bio_PrivateKey(
			    b, NULL, no_passphrase, NULL);
		BIO_free(b);
		if (i == 0 && x == NULL) {
			snprintf(why, size,
			    "[unsubd] tls_cert %s: no PEM certificate in it",
			    cert);
			rc = OG_EINVAL;
		} else if (i == 1 && pk == NULL) {
			snprintf(why, size,
			    "[unsubd] tls_key %s: no PEM private key in it "
			    "(or one with a passphrase)",
			    key);
			rc = OG_EINVAL;
		}
	}
	if (rc == 0 && X509_check_private_key(x, pk) != 1) {
		snprintf(why, size,
		    "[unsubd] tls_key %s is not the key of tls_cert %s", key,
		    cert);
		rc = OG_EINVAL;
	}
	X509_free(x);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

int
og_config_color_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || s[0] != '#')
		return 0;
	n = strlen(s + 1);
	if (n != 3 && n != 6)
		return 0;
	for (i = 1; i <= n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int
og_config_url_ok(const char *s)
{
	const char *p;

	if (s == NULL || s[0] == '\0')
		return 0;
	if (strncmp(s, "https://", 8) != 0 && !(s[0] == '/' && s[1] != '/'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\'' ||
		    *p == '<' || *p == '>' || *p == '\\' ||
		    (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

int
og_config_base_path(const char *base_url, char *out, size_t size)
{
	const char *p, *slash;
	size_t n;

	if (size > 0)
		out[0] = '\0';
	if (base_url == NULL)
		return -1;
	if (strncmp(base_url, "https://", 8) == 0)
		p = base_url + 8;
	else if (strncmp(base_url, "http://", 7) == 0)
		p = base_url + 7;
	else
		return -1;
	if (*p == '\0' || *p == '/')
		return -1; /* no host */
	if ((slash = strchr(p, '/')) == NULL)
		return 0;
	/*
	 * One leading slash: "//optout/u/TOKEN" in an href is the site
	 * "optout" (a typo in base_url sent the token to another host).
	 */
	while (slash[1] == '/')
		slash++;
	n = strlen(slash);
	while (n > 0 && slash[n - 1] == '/')
		n--;
	if (n == 0)
		return 0;
	if (n >= size)
		return -1;
	/* Only plain path characters: it goes into attributes as is. */
	if (strspn(slash, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                  "0123456789-._~/") < n)
		return -1;
	memcpy(out, slash, n);
	out[n] = '\0';
	return 0;
}

/*
 * Listen addresses, as each daemon binds them: a line it would refuse
 * (or bind elsewhere than written) is refused here, so that config check
 * says it before a start or reload.  Each returns NULL, or why not.
 */

/* A port the daemons bind: a number from 1 to 65535 (0: any port). */
static int
port_ok(const char *p, size_t n)
{
	char buf[8];
	uint64_t v;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return og_parse_u64(buf, 65535, &v) == 0 && v > 0;
}

/* A host to bind: an IP address or a host name ("" is every address). */
static int
host_ok(const char *h, size_t n)
{
	char buf[256];
	unsigned char a[16];

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1)
		return 1;
	return strspn(buf,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	           "0123456789-.") == n &&
	       buf[0] != '-' && buf[0] != '.';
}

/*
 * [spf] helo: the name this server greets with (Postfix's smtp_helo_name),
 * which SPF records see as %{h}: a host name or an address literal.  It
 * goes to the SPF helper as one word of a line, so no blanks either.
 */
static int
helo_ok(const char *h)
{
	char buf[OG_DOMAIN_MAX + 1];
	size_t i, n = strlen(h);

	if (n == 0 || n > OG_DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)h[i]);
	return og_addr_domain_valid(buf, n) == 0;
}

/* A unix socket path: sockaddr_un holds max characters. */
static const char *
unix_path_why(const char *path, size_t max)
{
	if (*path == '\0')
		return "no path";
	/*
	 * The daemons run in "/" (systemd, daemon()): "unix:optgate/m.sock"
	 * copied from main.cf, which names sockets from Postfix's queue
	 * folder, was made in the folder the daemon was started from.
	 */
	if (*path != '/')
		return "expected a full path (main.cf's unix:NAME is "
		       "relative to Postfix's queue folder: here "
		       "unix:/var/spool/postfix/NAME)";
	if (strlen(path) > max)
		return "path too long for a unix socket (at most 106 "
		       "characters)";
	return NULL;
}

/*
 * "[ADDR]...": ADDR into a (size), and what follows the ']'; NULL when s
 * is no bracketed address or ADDR does not fit.
 */
static const char *
bracketed(const char *s, char *a, size_t size)
{
	const char *e = strchr(s, ']');

	if (*s != '[' || e == NULL || (size_t)(e - s - 1) >= size)
		return NULL;
	memcpy(a, s + 1, (size_t)(e - s - 1));
	a[e - s - 1] = '\0';
	return e + 1;
}

/*
 * HOST:PORT, [ADDR]:PORT, or (any_ok, optgate-unsubd) PORT alone and
 * *:PORT: the host part ends at the last ':', as the daemons split it.
 */
static int
hostport_ok(const char *s, int any_ok)
{
	const char *c;

	if (*s == '[') {
		char a[64];
		unsigned char b[16];
		const char *e = bracketed(s, a, sizeof(a));

		if (e == NULL || *e != ':')
			return 0;
		return (inet_pton(AF_INET6, a, b) == 1 ||
		           inet_pton(AF_INET, a, b) == 1) &&
		       port_ok(e + 1, strlen(e + 1));
	}
	if ((c = strrchr(s, ':')) == NULL)
		return any_ok && port_ok(s, strlen(s));
	if (any_ok && c - s == 1 && s[0] == '*')
		return port_ok(c + 1, strlen(c + 1));
	return host_ok(s, (size_t)(c - s)) && port_ok(c + 1, strlen(c + 1));
}

/* [policyd] listen: unix:PATH or inet:HOST:PORT (optgate-policyd). */
static const char *
policyd_listen_why(const char *l)
{
	if (strncmp(l, "unix:", 5) == 0)
		return unix_path_why(l + 5, 107);
	if (strncmp(l, "inet:", 5) != 0)
		return "expected unix:PATH or inet:HOST:PORT";
	if (strchr(l, '@') != NULL)
		return "expected inet:HOST:PORT (PORT@HOST is [milter] "
		       "socket's libmilter syntax)";
	if (!hostport_ok(l + 5, 0))
		return "expected inet:HOST:PORT or inet:[ADDR]:PORT, PORT "
		       "from 1 to 65535";
	return NULL;
}

/* [unsubd] listen: HOST:PORT, [ADDR]:PORT, *:PORT or PORT. */
static const char *
unsubd_listen_why(const char *l)
{
	if (strncmp(l, "inet:", 5) == 0 || strncmp(l, "unix:", 5) == 0 ||
	    strstr(l, "://") != NULL)
		return "expected HOST:PORT, [ADDR]:PORT or PORT (no "
		       "inet:, unix: or http://)";
	if (!hostport_ok(l, 1))
		return "expected HOST:PORT, [ADDR]:PORT or PORT, PORT from 1 "
		       "to 65535";
	return NULL;
}

/*
 * [milter] socket, as libmilter's smfi_setconn reads it: PATH,
 * unix:PATH, local:PATH, or inet:PORT[@HOST], inet6:PORT[@HOST].  Its
 * port is atoi()'s: "inet:127.0.0.1:10041" (Postfix's order) bound port
 * 127 on every address, and a port past 65535 another one.
 */
static const char *
milter_socket_why(const char *s)
{
	const char *colon = strchr(s, ':'), *rest, *at;
	size_t plen;

	if (colon == NULL)
		return unix_path_why(s, 106);
	plen = (size_t)(colon - s);
	rest = colon + 1;
	if (plen == 0 || (plen == 4 && strncasecmp(s, "unix", 4) == 0) ||
	    (plen == 5 && strncasecmp(s, "local", 5) == 0))
		return unix_path_why(rest, 106);
	if (!(plen == 4 && strncasecmp(s, "inet", 4) == 0) &&
	    !(plen == 5 && strncasecmp(s, "inet6", 5) == 0))
		return "expected unix:PATH or inet:PORT@HOST";
	at = strchr(rest, '@');
	if (!port_ok(rest, at != NULL ? (size_t)(at - rest) : strlen(rest))) {
		if (strpbrk(rest, ".:") != NULL &&
		    (at == NULL || strpbrk(rest, ".:") < at))
			return "expected inet:PORT@HOST (libmilter's order; "
			       "inet:HOST:PORT is Postfix's)";
		return "expected inet:PORT@HOST, PORT from 1 to 65535";
	}
	if (at == NULL)
		return NULL; /* every address */
	at++;
	if (*at == '[') {
		char a[64];
		unsigned char b[16];
		const char *e = bracketed(at, a, sizeof(a));

		/* inet: an IPv4 address, inet6: an IPv6 one */
		if (e == NULL || *e != '\0')
			return "expected inet:PORT@[ADDR]";
		if (inet_pton(plen == 4 ? AF_INET : AF_INET6, a, b) != 1)
			return plen == 4 ? "expected inet:PORT@[IPv4 address]"
			                 : "expected inet6:PORT@[IPv6 address]";
		return NULL;
	}
	if (*at == '\0' || !host_ok(at, strlen(at)))
		return "expected inet:PORT@HOST";
	return NULL;
}

/*
 * Point messages at the line of key name in section sect ("stream" for
 * stream st, else NULL): the line of its first value, or none for a
 * default.
 */
static void
at(struct pstate *ps, const char *sect, const og_stream *st, const char *name)
{
	int idx = st ? (int)(st - ps->cfg->streams) + 1 : 0;
	size_t i;

	ps->line = 0;
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, sect) == 0 &&
		    strcmp(keys[i].name, name) == 0) {
			ps->line = ps->seen[idx][i];
			return;
		}
}

/* Checks that need the whole file. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * cfg->address_keys: the [address] settings as og_addr_parse makes keys
 * with them, one "name = value" line each, plus_tags sorted and without
 * duplicates.  Two configs with the same text make the same key of every
 * address; the store keeps the text it was made with (og_store_open).
 * With gmail_dots, gmail.com and googlemail.com in plus_tags change
 * nothing (their +tags go anyway), so they are left out.
 */
static void
address_keys_text(og_config *cfg)
{
	char **tags = NULL;
	size_t i, n = 0;
	og_buf b;

	if (cfg->nplus_tags > 0)
		tags = og_xcalloc(cfg->nplus_tags, sizeof(*tags));
	for (i = 0; i < cfg->nplus_tags; i++)
		if (!cfg->gmail_dots ||
		    (strcmp(cfg->plus_tags[i], "gmail.com") != 0 &&
		        strcmp(cfg->plus_tags[i], "googlemail.com") != 0))
			tags[n++] = cfg->plus_tags[i];
	if (n > 1)
		qsort(tags, n, sizeof(*tags), str_cmp);
	og_buf_init(&b, 0);
	og_buf_printf(&b, "gmail_dots = %s\nlocal_part = %s\nplus_tags =",
	    cfg->gmail_dots ? "yes" : "no",
	    cfg->local_case_sensitive ? "sensitive" : "insensitive");
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(tags[i], tags[i - 1]) != 0)
			og_buf_printf(&b, "%s %s", i ? "," : "", tags[i]);
	og_buf_addc(&b, '\n');
	free(tags);
	free(cfg->address_keys);
	cfg->address_keys = og_xstrdup(b.data);
	og_buf_free(&b);
}

/*
 * Files and folders are full paths: the daemons run in "/" (systemd,
 * daemon()), while `optgate config check` and `optgate init` read a
 * relative one from the folder they are run in: "file = keys" checked
 * ok in /etc/optgate and the daemons looked for /keys.
 */
static void
full_paths(struct pstate *ps)
{
	static const struct {
		const char *sect, *name;
		size_t off;
	} paths[] = {
	    {"store", "path", G(store_path)},
	    {"keys", "file", G(keys_file)},
	    {"feedback", "quarantine", G(quarantine)},
	    {"unsubd", "tls_cert", G(unsubd_tls_cert)},
	    {"unsubd", "tls_key", G(unsubd_tls_key)},
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *v = *(char **)((char *)ps->cfg + paths[i].off);

		if (v == NULL || *v == '/')
			continue;
		at(ps, paths[i].sect, NULL, paths[i].name);
		if (ps->line == 0)
			continue; /* the quarantine of a store reported */
		perr(ps,
		    "[%s] %s: \"%s\" is not a full path (from /): the "
		    "daemons run in /, not in the folder this is checked from",
		    paths[i].sect, paths[i].name, v);
	}
}

static void
validate(struct pstate *ps)
{
	og_config *cfg = ps->cfg;
	char what[OG_STREAM_NAME_MAX + 32], path[OG_BASE_PATH_MAX];
	const char *why;
	int i, j;

	/*
	 * Not set: the quarantine is a folder of the store's (the default
	 * store's is /var/lib/optgate/quarantine), so a store moved by
	 * [store] path takes it along, not a folder on another disk.
	 */
	at(ps, "feedback", NULL, "quarantine");
	if (ps->line == 0) {
		size_t n = strlen(cfg->store_path);

		while (n > 1 && cfg->store_path[n - 1] == '/')
			n--;
		free(cfg->quarantine);
		cfg->quarantine = og_xmalloc(n + sizeof("/quarantine"));
		memcpy(cfg->quarantine, cfg->store_path, n);
		memcpy(
		    cfg->quarantine + n, "/quarantine", sizeof("/quarantine"));
	}
	full_paths(ps);
	at(ps, "policyd", NULL, "listen");
	for (i = 0; i < cfg->npolicyd_listen; i++)
		if ((why = policyd_listen_why(cfg->policyd_listen[i])) != NULL)
			perr(ps, "[policyd] listen: \"%s\": %s",
			    cfg->policyd_listen[i], why);
	at(ps, "unsubd", NULL, "listen");
	for (i = 0; i < cfg->nunsubd_listen; i++)
		if ((why = unsubd_listen_why(cfg->unsubd_listen[i])) != NULL)
			perr(ps, "[unsubd] listen: \"%s\": %s",
			    cfg->unsubd_listen[i], why);
	at(ps, "milter", NULL, "socket");
	if ((why = milter_socket_why(cfg->milter_socket)) != NULL)
		perr(
		    ps, "[milter] socket: \"%s\": %s", cfg->milter_socket, why);
	/* not set: optgate-unsubd takes a share of max_connections */
	at(ps, "unsubd", NULL, "max_connections_per_client");
	if (ps->line == 0)
		cfg->unsubd_max_connections_per_client = -1;
	at(ps, "unsubd", NULL, "trusted_proxy");
	for (i = 0; i < cfg->nunsubd_trusted_proxy; i++)
		ip_value(ps, "[unsubd] trusted_proxy",
		    &cfg->unsubd_trusted_proxy[i], 1);
	at(ps, "spf", NULL, "egress");
	for (i = 0; i < cfg->nspf_egress; i++)
		ip_value(ps, "[spf] egress", &cfg->spf_egress[i], 0);
	at(ps, "spf", NULL, "helo");
	if (cfg->spf_helo && !helo_ok(cfg->spf_helo))
		perr(
		    ps, "[spf] helo: \"%s\" is not a host name", cfg->spf_helo);
	/*
	 * optgate-unsubd speaks TLS only with both: one alone (a typo in
	 * the other's name, a line left commented) served plain HTTP.
	 */
	at(ps, "unsubd", NULL, cfg->unsubd_tls_cert ? "tls_cert" : "tls_key");
	if ((cfg->unsubd_tls_cert == NULL) != (cfg->unsubd_tls_key == NULL))
		perr(ps,
		    "[unsubd] %s: set without %s: TLS needs both (without "
		    "either, plain HTTP behind a proxy)",
		    cfg->unsubd_tls_cert ? "tls_cert" : "tls_key",
		    cfg->unsubd_tls_cert ? "tls_key" : "tls_cert");
	/*
	 * A name no header can have (RFC 5322 2.2: printable ASCII, no
	 * ':') never names a stream, and the milter never removes the
	 * internal header the application set under the name it meant.
	 */
	at(ps, "milter", NULL, "stream_header");
	if (cfg->milter_stream_header != NULL) {
		const unsigned char *h =
		    (const unsigned char *)cfg->milter_stream_header;

		for (; *h > 32 && *h < 127 && *h != ':'; h++)
			;
		if (*h != '\0')
			perr(ps,
			    "[milter] stream_header: \"%s\" is not a header "
			    "name (printable ASCII, no space or ':')",
			    cfg->milter_stream_header);
	}
	at(ps, "unsubd", NULL, "base_url");
	if (cfg->unsubd_base_url &&
	    og_config_base_path(cfg->unsubd_base_url, path, sizeof(path)) != 0)
		perr(ps,
		    "[unsubd] base_url: \"%s\" is not http(s)://HOST/PATH "
		    "with a plain path (letters, digits, '-', '.', '_', "
		    "'~', '/')",
		    cfg->unsubd_base_url);
	at(ps, "milter", NULL, "feedback_id_sender");
	header_value(ps, "[milter] feedback_id_sender", cfg->feedback_id_sender,
	    0, "a header");
	for (i = 0; i < cfg->nstreams; i++) {
		og_stream *st = &cfg->streams[i];

		at(ps, "stream", st, "unsubscribe");
		snprintf(
		    what, sizeof(what), "[stream %s] unsubscribe", st->name);
		for (j = 0; j < st->nunsubscribe; j++)
			header_value(
			    ps, what, st->unsubscribe[j], 1, "a header's URI");
		at(ps, "stream", st, "verp");
		snprintf(what, sizeof(what), "[stream %s] verp", st->name);
		header_value(
		    ps, what, st->verp_address, 1, "the envelope sender");
		at(ps, "stream", st, "feedback_id");
		snprintf(
		    what, sizeof(what), "[stream %s] feedback_id", st->name);
		header_value(ps, what, st->feedback_id, 0, "a header");
		at(ps, "stream", st, "unsubscribe");
		/* config check's one-click warning names it, as pwarn would */
		st->unsubscribe_line = ps->line;
		for (j = 0; j < st->nunsubscribe; j++) {
			const char *u = st->unsubscribe[j];

			if (strstr(u, "%t") == NULL)
				perr(ps,
				    "[stream %s] unsubscribe: \"%s\" has "
				    "no %%t (the token)",
				    st->name, u);
			if (strncmp(u, "https://", 8) &&
			    strncmp(u, "http://", 7) &&
			    strncmp(u, "mailto:", 7))
				perr(ps,
				    "[stream %s] unsubscribe: \"%s\" is "
				    "neither https:, http: nor mailto:",
				    st->name, u);
			else if (strncmp(u, "mailto:", 7) == 0 &&
			         !token_apart(u, 1))
				perr(ps,
				    "[stream %s] unsubscribe: \"%s\": a "
				    "letter, digit, '-' or '_' next to %%t "
				    "reads as part of the token (use "
				    "unsub+%%t@DOMAIN)",
				    st->name, u);
			/*
			 * A warning: the URL may be another web server's
			 * that has /u/ paths of its own.
			 */
			else if (strncmp(u, "mailto:", 7) != 0 &&
			         !unsubd_path_ok(u))
				pwarn(ps,
				    "[stream %s] unsubscribe: \"%s\": "
				    "optgate-unsubd serves /u/TOKEN only, with "
				    "nothing next to the token in its path "
				    "(it answers every one-click to this URL "
				    "with 400 or 404): use .../u/%%t, unless "
				    "another web server answers it",
				    st->name, u);
		}
		/*
		 * The gate lets transactional mail past opt-outs: a link
		 * there would answer "unsubscribed" and change nothing.
		 */
		if (st->class == OG_CLASS_TRANSACTIONAL && st->nunsubscribe > 0)
			perr(ps,
			    "[stream %s] unsubscribe: class = transactional "
			    "mail ignores opt-outs, so the link would not "
			    "stop it: remove the line, or make the stream "
			    "class = marketing (consent = none mails "
			    "everyone who has not opted out)",
			    st->name);
		at(ps, "stream", st, "verp");
		if (st->verp_address &&
		    (strstr(st->verp_address, "%t") == NULL ||
		        strchr(st->verp_address, '@') == NULL ||
		        !token_apart(st->verp_address, 0)))
			perr(ps,
			    "[stream %s] verp: needs LOCAL+%%t@DOMAIN (a "
			    "letter, digit, '-' or '_' next to %%t reads as "
			    "part of the token)",
			    st->name);
		/*
		 * optgate-unsubd puts only these into its pages (config
		 * text never reaches CSS or an attribute raw) and drops
		 * anything else without a word: say so here.
		 */
		at(ps, "stream", st, "brand.color");
		if (st->brand_color && !og_config_color_ok(st->brand_color))
			perr(ps,
			    "[stream %s] brand.color: \"%s\" is not #rgb or "
			    "#rrggbb",
			    st->name, st->brand_color);
		at(ps, "stream", st, "brand.logo");
		if (st->brand_logo && !og_config_url_ok(st->brand_logo))
			perr(ps,
			    "[stream %s] brand.logo: \"%s\" is not an "
			    "https:// URL or a /path (without spaces, quotes, "
			    "'<', '>', '\\' or non-ASCII)",
			    st->name, st->brand_logo);
		/*
		 * The store keeps an opt-out's scope name in 64 bytes:
		 * a longer partner tempfailed every recipient of the
		 * stream (the partner list lookup failed), and an opt-out
		 * of it or of the sender (one-click, a complaint) failed
		 * to be written.
		 */
		at(ps, "stream", st, "partner");
		if (st->partner && strlen(st->partner) > OG_STREAM_NAME_MAX)
			perr(ps,
			    "[stream %s] partner: longer than %d characters",
			    st->name, OG_STREAM_NAME_MAX);
		at(ps, "stream", st, "sender");
		if (st->sender && strlen(st->sender) > OG_STREAM_NAME_MAX)
			perr(ps,
			    "[stream %s] sender: longer than %d characters",
			    st->name, OG_STREAM_NAME_MAX);
		/*
		 * The gate never counts nor caps transactional mail (a
		 * password reset is not held back).  A warning, not an
		 * error: such a config loaded before, and must still.
		 */
		if (st->class == OG_CLASS_TRANSACTIONAL && st->ncaps > 0) {
			at(ps, "stream", st, "caps");
			pwarn(ps,
			    "[stream %s] caps: class = transactional streams "
			    "skip caps: the line is ignored (remove it, or "
			    "make the stream class = marketing)",
			    st->name);
		}
		if (st->class == OG_CLASS_TRANSACTIONAL && st->nsegcaps > 0) {
			ps->line = ps->seg_line[i + 1];
			pwarn(ps,
			    "[stream %s] caps.segment.%s: class = "
			    "transactional streams skip caps: %s ignored "
			    "(remove %s, or make the stream class = "
			    "marketing)",
			    st->name, st->segcaps[0].segment,
			    st->nsegcaps == 1 ? "the line is"
			                      : "these lines are",
			    st->nsegcaps == 1 ? "it" : "them");
		}
		/* The gate follows it for transactional mail only. */
		at(ps, "stream", st, "on_store_error");
		if (st->on_store_error == OG_ONERR_ACCEPT &&
		    st->class != OG_CLASS_TRANSACTIONAL)
			perr(ps,
			    "[stream %s] on_store_error = accept: applies to "
			    "class = transactional only (marketing mail "
			    "always tempfails while the store cannot be read)",
			    st->name);
		/*
		 * Without egress addresses there is nothing to check the
		 * record against: optgate-policyd refused such a config,
		 * which config check passed.
		 */
		at(ps, "stream", st, "spf");
		if (st->spf != OG_SPF_OFF && cfg->nspf_egress == 0)
			perr(ps,
			    "[stream %s] spf = %s needs [spf] egress (this "
			    "server's sending addresses)",
			    st->name, spfmodes[st->spf]);
		ps->line = 0;
		st->list = st->nunsubscribe > 0 || st->verp_address != NULL;
		for (j = 0; j < i; j++)
			if (cfg->streams[j].id == st->id)
				perr(ps,
				    "streams \"%s\" and \"%s\" share a "
				    "token id: rename one",
				    cfg->streams[j].name, st->name);
	}
	shadowed_matches(ps);
	ps->line = 0;
	cfg->local_case_sensitive = cfg->local_case_sensitive == 1;
	cfg->rules.gmail_dots = cfg->gmail_dots;
	cfg->rules.local_case_sensitive = cfg->local_case_sensitive;
	cfg->rules.plus_tags = (const char *const *)cfg->plus_tags;
	cfg->rules.nplus_tags = cfg->nplus_tags;
	address_keys_text(cfg);
}

int
og_config_parse_string(const char *text, const char *name, og_config **out,
    char *err, size_t errlen, void (*report)(const char *, void *), void *ctx)
{
	struct pstate *ps = og_xcalloc(1, sizeof(*ps));
	int rc;

	if (err && errlen)
		*err = 0;
	ps->cfg = og_xcalloc(1, sizeof(og_config));
	ps->cfg->refs = 1;
	ps->cfg->path = og_xstrdup(name);
	ps->name = name;
	/*
	 * A UTF-8 BOM (Notepad's "UTF-8"): libinih skips it, but the
	 * section checks would not see "[" at the start of line 1.
	 */
	if (strncmp(text, "\xef\xbb\xbf", 3) == 0)
		text += 3;
	ps->text = text;
	ps->len = strlen(text);
	ps->err = err;
	ps->errlen = errlen;
	ps->report = report;
	ps->ctx = ctx;
	apply_defaults(ps, "store", (char *)ps->cfg);
	apply_defaults(ps, "keys", (char *)ps->cfg);
	apply_defaults(ps, "address", (char *)ps->cfg);
	apply_defaults(ps, "feedback", (char *)ps->cfg);
	apply_defaults(ps, "log", (char *)ps->cfg);
	apply_defaults(ps, "policyd", (char *)ps->cfg);
	apply_defaults(ps, "milter", (char *)ps->cfg);
	apply_defaults(ps, "unsubd", (char *)ps->cfg);
	apply_defaults(ps, "spf", (char *)ps->cfg);
	rc = ini_parse_stream(reader, ps, handler, ps);
	if (rc < 0) {
		ps->line = 0;
		perr(ps, "cannot parse (error %d)", rc);
	} else if (rc > 0 && ps->errors == 0) {
		ps->line = rc;
		perr(ps, "syntax error: expected [section] or key = value");
	}
	if (ps->errors == 0)
		validate(ps);
	rc = ps->errors ? OG_ECONFIG : 0;
	if (rc == 0)
		*out = ps->cfg;
	else
		config_free(ps->cfg);
	free(ps);
	return rc;
}

const char *
og_config_abspath(const char *path)
{
	static char abs[PATH_MAX];

	if (path == NULL || path[0] == '/' || realpath(path, abs) == NULL)
		return path;
	return abs;
}

int
og_config_load(const char *path, og_config **out, char *err, size_t errlen,
    void (*report)(const char *, void *), void *ctx)
{
	const char *p = path ? path : OG_CONFIG_DEFAULT;
	og_buf b;
	FILE *fp;
	char chunk[8192];
	size_t n;
	int rc;

	if ((fp = fopen(p, "r")) == NULL) {
		if (path == NULL && errno == ENOENT)
			return og_config_parse_string(
			    "", "(defaults)", out, err, errlen, report, ctx);
		snprintf(
		    err, errlen, "%s: cannot open: %s", p, strerror(errno));
		if (report)
			report(err, ctx);
		return errno == ENOENT ? OG_ECONFIG : OG_EIO;
	}
	og_buf_init(&b, CONFIG_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (og_buf_add(&b, chunk, n) != 0) {
			snprintf(err, errlen, "%s: larger than %d bytes", p,
			    CONFIG_FILE_MAX);
			if (report)
				report(err, ctx);
			fclose(fp);
			og_buf_free(&b);
			return OG_ECONFIG;
		}
	fclose(fp);
	if (b.len && memchr(b.data, 0, b.len)) {
		snprintf(err, errlen, "%s: contains a NUL byte", p);
		if (report)
			report(err, ctx);
		og_buf_free(&b);
		return OG_ECONFIG;
	}
	rc = og_config_parse_string(
	    b.data ? b.data : "", p, out, err, errlen, report, ctx);
	og_buf_free(&b);
	return rc;
}

og_config *
og_config_ref(og_config *cfg)
{
	__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL);
	return cfg;
}

void
og_config_unref(og_config *cfg)
{
	if (cfg && __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

const og_stream *
og_config_stream(const og_config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->nstreams; i++)
		if (strcmp(cfg->streams[i].name, name) == 0)
			return &cfg->streams[i];
	return NULL;
}

const char *
og_config_partner(const og_config *cfg, const char *p, size_t n)
{
	int i;

	for (i = 0; i < cfg->nstreams; i++) {
		const char *q = cfg->streams[i].partner;

		if (q && strlen(q) == n && strncasecmp(q, p, n) == 0)
			return q;
	}
	return NULL;
}

const og_stream *
og_config_stream_by_id(const og_config *cfg, uint16_t id)
{
	int i;

	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].id == id)
			return &cfg->streams[i];
	return NULL;
}

int
og_config_sender_name(
    const og_config *cfg, const char *in, char *out, size_t size)
{
	int i;

	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].sender &&
		    strcasecmp(cfg->streams[i].sender, in) == 0 &&
		    strlen(cfg->streams[i].sender) < size) {
			memcpy(out, cfg->streams[i].sender,
			    strlen(cfg->streams[i].sender) + 1);
			return 0;
		}
	return og_addr_sender_scope(in, out, size);
}

/* Header value matches: equal without case, or the <...> part of List-Id. */
static int
header_matches(const char *have, const char *want)
{
	const char *lt, *gt;
	size_t wl = strlen(want), hl;

	while (isspace((unsigned char)*have))
		have++;
	hl = strlen(have);
	while (hl && isspace((unsigned char)have[hl - 1]))
		hl--;
	if (hl == wl && strncasecmp(have, want, wl) == 0)
		return 1;
	if ((lt = strrchr(have, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL && (size_t)(gt - lt - 1) == wl &&
	    strncasecmp(lt + 1, want, wl) == 0)
		return 1;
	if (want[0] == '<' && (lt = strrchr(have, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL && (size_t)(gt - lt + 1) == wl &&
	    strncasecmp(lt, want, wl) == 0)
		return 1;
	return 0;
}

static int
client_matches(const og_match *m, const char *addr)
{
	unsigned char a[16], b4[4];

	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, addr, b4) == 1) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, b4, 4);
	} else if (inet_pton(AF_INET6, addr, a) != 1) {
		return 0;
	}
	return net_has(m, a);
}

/*
 * want: "local@domain" or "@domain", its domain in lowercase A-labels
 * (parse_match); the envelope's domain is taken the same way.
 */
static int
sender_matches(const char *want, const char *sender)
{
	const char *at = strrchr(sender, '@'), *wat = strrchr(want, '@');
	char dom[OG_DOMAIN_MAX + 1];

	if (at == NULL || wat == NULL)
		return 0;
	(void)og_addr_sender_scope(at + 1, dom, sizeof(dom));
	if (strcmp(wat + 1, dom) != 0)
		return 0;
	return want[0] == '@' ||
	       (at - sender == wat - want &&
	           strncasecmp(want, sender, (size_t)(at - sender)) == 0);
}

const og_stream *
og_config_find_stream(const og_config *cfg, const og_msginfo *mi)
{
	int i, j;

	for (i = 0; i < cfg->nstreams; i++) {
		const og_stream *st = &cfg->streams[i];

		for (j = 0; j < st->nmatch; j++) {
			const og_match *m = &st->match[j];
			const char *h;

			switch (m->kind) {
			case OG_MATCH_HEADER:
				if (mi->header &&
				    (h = mi->header(mi->header_ctx, m->name)) !=
				        NULL &&
				    header_matches(h, m->value))
					return st;
				break;
			case OG_MATCH_SENDER:
				if (mi->sender &&
				    sender_matches(m->value, mi->sender))
					return st;
				break;
			case OG_MATCH_SASL:
				/* Without case, like sender: lines: a login
				 * typed in other case must not skip the gate.
				 */
				if (mi->sasl_user && *mi->sasl_user &&
				    strcasecmp(m->value, mi->sasl_user) == 0)
					return st;
				break;
			case OG_MATCH_CLIENT:
				if (mi->client_addr &&
				    client_matches(m, mi->client_addr))
					return st;
				break;
			}
		}
	}
	return NULL;
}

int
og_stream_needs_headers(const og_stream *st)
{
	int j;

	for (j = 0; j < st->nmatch; j++)
		if (st->match[j].kind != OG_MATCH_HEADER)
			return 0;
	return 1;
}

int
og_stream_rcpt_shadow(
    const og_config *cfg, const og_stream *st, char *buf, size_t size)
{
	int k, j;

	if (og_stream_needs_headers(st))
		return 0;
	for (k = 0; k < cfg->nstreams && &cfg->streams[k] != st; k++)
		for (j = 0; j < cfg->streams[k].nmatch; j++)
			if (cfg->streams[k].match[j].kind == OG_MATCH_HEADER) {
				snprintf(buf, size,
				    "%s:%d: [stream %s] comes after [stream "
				    "%s], which matches a header: "
				    "optgate-policyd does not judge it at "
				    "RCPT (it answers DUNNO and leaves it to "
				    "optgate-milter, at end of data); put "
				    "header-matched streams last",
				    cfg->path,
				    st->nmatch ? st->match[0].line : 0,
				    st->name, cfg->streams[k].name);
				return 1;
			}
	return 0;
}

int
og_stream_one_click(const og_stream *st, const char **why)
{
	int i, https = 0, http = 0;

	for (i = 0; i < st->nunsubscribe; i++) {
		if (strncasecmp(st->unsubscribe[i], "https:", 6) == 0)
			https++;
		else if (strncasecmp(st->unsubscribe[i], "http:", 5) == 0)
			http++;
	}
	if (why != NULL)
		*why = NULL;
	if (https == 1 && http == 0)
		return 1;
	if (why == NULL || https + http == 0)
		return 0;
	if (https == 0)
		*why = "only plain http: targets (RFC 8058 one-click is a "
		       "POST to an https: URI)";
	else if (http > 0)
		*why = "an http: target beside the https: one (RFC 8058 "
		       "allows exactly one HTTPS URI and no other HTTP(S) "
		       "one)";
	else
		*why = "more than one https: target (RFC 8058 allows exactly "
		       "one HTTPS URI)";
	return 0;
}
