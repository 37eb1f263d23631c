/*
 * og_config.h - the one INI file every optgate program reads.
 *
 * Default path OG_CONFIG_DEFAULT; every program takes -c FILE.  Each key is
 * declared once, as a row of the table in og_config.c (section, name,
 * type, default, bounds); sections of programs not built yet are still
 * recognised, and an unknown section or key, or a value that does not
 * parse, is an error reported as "FILE:LINE: [section] key: reason".
 *
 * A loaded config is an immutable snapshot with a reference count:
 * daemons pin it to a connection with og_config_ref() and release it with
 * og_config_unref(); a reload builds a new snapshot and swaps the pointer
 * under the daemon's own lock.
 */
#ifndef OG_CONFIG_H
#define OG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "og_addr.h"

#define OG_CONFIG_DEFAULT "/etc/optgate/optgate.conf"
#define OG_STREAM_NAME_MAX 64
#define OG_CAPS_MAX 8
/*
 * The largest count of a cap: the store keeps the last 32 send times of a
 * person and stream (OG_SENDS_MAX), so a larger count could never be
 * reached.  Also soft_bounce's (soft-bounce times, kept the same way).
 */
#define OG_CAP_LIMIT_MAX 32
#define OG_MULTI_MAX 32           /* listen/match/unsubscribe lines per key */
#define OG_CONFIG_WARNINGS_MAX 64 /* warnings kept; more are dropped */

enum og_class { OG_CLASS_MARKETING = 0, OG_CLASS_TRANSACTIONAL = 1 };
enum og_consent { OG_CONSENT_NONE = 0, OG_CONSENT_OPTIN, OG_CONSENT_CONFIRMED };
/* What a refused recipient gets. */
enum og_refuse { OG_REFUSE_REJECT = 0, OG_REFUSE_DROP, OG_REFUSE_DEFER };
/* What a transactional stream does when the store cannot be read. */
enum og_onerr { OG_ONERR_TEMPFAIL = 0, OG_ONERR_ACCEPT };
/* Scopes of an opt-out or suppression, broadest first. */
enum og_scope {
	OG_SCOPE_ALL = 1,
	OG_SCOPE_SENDER = 2,
	OG_SCOPE_PARTNER = 3,
	OG_SCOPE_STREAM = 4
};
enum og_spfmode { OG_SPF_OFF = 0, OG_SPF_WARN, OG_SPF_DEFER, OG_SPF_REJECT };
enum og_existing { OG_EXISTING_REPLACE = 0, OG_EXISTING_KEEP };
/* [feedback] bounce_token: must a bounce carry our token to be acted on?
 * auto: required when a stream has verp. */
enum og_bouncetoken {
	OG_BOUNCETOKEN_AUTO = 0,
	OG_BOUNCETOKEN_REQUIRED,
	OG_BOUNCETOKEN_OPTIONAL
};

/* "N/PERIOD": at most limit sends per period seconds. */
typedef struct og_cap {
	uint32_t limit;
	uint32_t period;
} og_cap;

typedef struct og_segcaps {
	char *segment;
	og_cap caps[OG_CAPS_MAX];
	int ncaps;
} og_segcaps;

enum og_match_kind {
	OG_MATCH_HEADER =
	    1,           /* header:NAME=VALUE (value compared without case) */
	OG_MATCH_SENDER, /* sender:ADDR or sender:@DOMAIN */
	OG_MATCH_SASL,   /* sasl:USER */
	OG_MATCH_CLIENT  /* client:CIDR */
};

typedef struct og_match {
	int kind;
	char *name;  /* header name (HEADER) */
	char *value; /* header value, sender, domain (leading @), sasl user */
	unsigned char net[16]; /* CLIENT: network, v4 mapped into v6 */
	int prefix;            /* CLIENT: prefix length over the 128 bits */
	int line;              /* its line in the file, for messages */
} og_match;

typedef struct og_stream {
	char *name;
	uint16_t id;   /* og_token_stream_id(name) */
	int class;     /* enum og_class */
	int consent;   /* enum og_consent */
	char *partner; /* co-registration partner scope, or NULL */
	char *sender;  /* sender scope name, or NULL: envelope domain */
	og_cap caps[OG_CAPS_MAX];
	int ncaps;
	og_segcaps *segcaps;
	int nsegcaps;
	int refuse;                      /* enum og_refuse */
	char *unsubscribe[OG_MULTI_MAX]; /* URL templates, %t = token */
	int nunsubscribe;
	int unsubscribe_line; /* its first unsubscribe line, for messages */
	og_match match[OG_MULTI_MAX];
	int nmatch;
	int on_store_error; /* enum og_onerr (transactional only) */
	int existing;       /* enum og_existing: sender's List-Unsubscribe */
	char *feedback_id;  /* Feedback-ID value template, or NULL */
	char *verp_address; /* "bounce+%t@example.com"; NULL: no verp */
	int spf;            /* enum og_spfmode */
	char *brand_name, *brand_logo, *brand_color, *description;
	int list; /* one recipient per transaction (has tokens) */
} og_stream;

typedef struct og_config {
	int refs; /* og_config_ref/unref; atomic */
	char *path;

	/* [store] */
	char *store_path;
	uint64_t map_size; /* consent environment ceiling, bytes */
	uint64_t counter_map_size;
	int max_readers;
	int64_t counter_sync; /* seconds between counter syncs */

	/* [keys] */
	char *keys_file;
	int64_t confirm_max_age; /* a confirmation token confirms this long;
	                          * 0: for ever */

	/* [address] */
	int gmail_dots;
	int local_case_sensitive;
	char **plus_tags;
	size_t nplus_tags;
	og_addr_rules rules; /* view over the three above */
	/*
	 * The three as they make match keys, in the text the store keeps
	 * ("gmail_dots = yes\nlocal_part = insensitive\nplus_tags = a, b\n",
	 * plus_tags sorted): og_store_open compares it with the store's.
	 */
	char *address_keys;

	/* [feedback] */
	int complaint_scope; /* enum og_scope */
	int hard_bounce_scope;
	og_cap soft_bounce;           /* N soft bounces per period ... */
	int64_t soft_bounce_suppress; /* ... give a suppression this long */
	char *trusted_reporters[OG_MULTI_MAX];
	int ntrusted_reporters;
	char *quarantine; /* folder for reports we could not use */
	int bounce_token; /* enum og_bouncetoken */

	/* [log] */
	int verbose;
	int log_full_address;

	/* [policyd] */
	char *policyd_listen[OG_MULTI_MAX];
	int npolicyd_listen;
	char *policyd_user;
	char *policyd_socket_owner, *policyd_socket_group;
	int policyd_socket_mode;
	int64_t policyd_idle_timeout;
	int64_t policyd_instance_timeout;
	int policyd_max_connections;

	/* [milter] */
	char *milter_socket;
	char *milter_user;
	int64_t milter_timeout;
	char *milter_stream_header; /* internal header removed on delivery */
	char *feedback_id_sender;
	int milter_policyd; /* optgate-policyd decides and counts
	                     * streams found without headers */

	/* [unsubd] */
	char *unsubd_listen[OG_MULTI_MAX];
	int nunsubd_listen;
	char *unsubd_user;
	char *unsubd_tls_cert, *unsubd_tls_key;
	int unsubd_scope; /* enum og_scope of a one-click opt-out */
	int unsubd_max_connections;
	/* open connections per client address (IPv6: /64); 0: no limit;
	 * -1: not set, half of one listen address's share of
	 * max_connections */
	int unsubd_max_connections_per_client;
	int64_t unsubd_timeout;
	int unsubd_rate_limit; /* requests per IP per minute */
	char *unsubd_base_url;
	char *unsubd_trusted_proxy[OG_MULTI_MAX]; /* may set X-Real-IP */
	int nunsubd_trusted_proxy;
	int64_t unsubd_token_max_age;

	/* [spf] */
	char *spf_egress[OG_MULTI_MAX];
	int nspf_egress;
	int64_t spf_timeout;
	int64_t spf_cache_ttl;
	char *spf_helo; /* %{h} of records; NULL: this machine's FQDN */

	/* [stream NAME] */
	og_stream *streams;
	int nstreams;

	/*
	 * What loads but does not do what it seems to say ("FILE:LINE:
	 * [stream S] caps: ..."): optgate config check prints each as a
	 * warning, the daemons log each when they load the config.
	 */
	char *warnings[OG_CONFIG_WARNINGS_MAX];
	int nwarnings;
} og_config;

/*
 * og_config_load - read and validate path (NULL: OG_CONFIG_DEFAULT).
 * A missing file at the default path loads the embedded defaults (so a
 * newcomer's tools run); a missing file named with -c is an error.
 * Returns 0 and *out with one reference, or OG_ECONFIG/OG_EIO with err
 * holding "FILE:LINE: reason" (the first error; all errors are also
 * passed to report() when it is not NULL).
 */
int og_config_load(const char *path, og_config **out, char *err, size_t errlen,
    void (*report)(const char *msg, void *ctx), void *ctx);
/*
 * og_config_abspath - path made absolute against the current folder, for
 * a daemon to call before daemon() moves to "/", so that SIGHUP finds the
 * file again; path itself when it is NULL, absolute or cannot be
 * resolved.  One path per process: the result may be a static buffer.
 */
const char *og_config_abspath(const char *path);
/* The same from a string; name is used in messages. */
int og_config_parse_string(const char *text, const char *name, og_config **out,
    char *err, size_t errlen, void (*report)(const char *msg, void *ctx),
    void *ctx);

og_config *og_config_ref(og_config *cfg);
void og_config_unref(og_config *cfg);

/* Stream by name or by token id; NULL when none. */
const og_stream *og_config_stream(const og_config *cfg, const char *name);
const og_stream *og_config_stream_by_id(const og_config *cfg, uint16_t id);
/*
 * The configuration's spelling of partner p (n bytes), matched without
 * regard to case as the gate matches it, or NULL when no stream has it.
 */
const char *og_config_partner(const og_config *cfg, const char *p, size_t n);

/*
 * og_config_sender_name - the sender scope an admin's --sender or an
 * import's sender column names: a stream's `sender` key as the config
 * spells it (given in any case), else the scope of a domain or of an
 * address's domain (og_addr_sender_scope: lowercase, A-labels, no
 * trailing dot), as the gate names the envelope sender's.  out has size
 * bytes.  Returns 0, or OG_EINVAL when in is neither.
 */
int og_config_sender_name(
    const og_config *cfg, const char *in, char *out, size_t size);

/*
 * What optgate-unsubd puts into its pages from the config, checked the
 * same way when the config loads (so a value it would drop is an error
 * there, not a silent omission on the page):
 * og_config_color_ok - s is "#rgb" or "#rrggbb" (the only brand colours
 * put into a page, so config text never reaches CSS raw);
 * og_config_url_ok - a logo URL may be put into a page: https:// or a
 * /path, no space, quote, '<', '>', '\\' or non-ASCII;
 * og_config_base_path - the path part of [unsubd] base_url, which
 * prefixes the pages' links when a proxy serves them under a path
 * ("https://www.example.com/optout/" -> "/optout"; "" without a path).
 * Returns 0, or -1 with out "" when base_url is NULL or not
 * http(s)://HOST with a plain path shorter than size.
 */
/*
 * og_config_tls_pair - do [unsubd] tls_cert and tls_key load as a pair
 * (a PEM certificate, a PEM private key without a passphrase, the key
 * of that certificate)?  The files are read, or their contents taken
 * from pem[0] and pem[1] when pem is not NULL (read as root before a
 * daemon dropped it).  Returns 0; OG_NOTFOUND when a file is missing,
 * OG_EIO when one cannot be read, OG_EINVAL when they do not load or
 * match; why says which, as "[unsubd] tls_key FILE: ...".
 */
int og_config_tls_pair(const char *cert, const char *key,
    const char *const *pem, char *why, size_t size);
int og_config_color_ok(const char *s);
int og_config_url_ok(const char *s);
int og_config_base_path(const char *base_url, char *out, size_t size);
#define OG_BASE_PATH_MAX 256

/*
 * og_config_parse_caps - "2/7d, 1/1d" into caps (at most OG_CAPS_MAX; each
 * count 1 to OG_CAP_LIMIT_MAX, each period 1m to 3650d).
 * Returns the number of caps or OG_EINVAL.
 */
int og_config_parse_caps(const char *s, og_cap *caps, int max);
/* "4G", "512M", "65536": bytes. 0 or OG_EINVAL. */
int og_config_parse_size(const char *s, uint64_t *out);
/* Scope names: "all", "sender", "partner", "stream"; -1 if unknown. */
int og_scope_parse(const char *s);
const char *og_scope_name(int scope);

/*
 * Finding a message's stream.  The caller fills what it knows (NULL for
 * unknown); header() returns the first value of a header or NULL.
 * Streams are tried in config order; the first whose any match line
 * matches wins.  Returns the stream or NULL.
 */
typedef struct og_msginfo {
	const char *sender; /* envelope sender, no brackets */
	const char *sasl_user;
	const char *client_addr; /* textual IPv4/IPv6 */
	const char *(*header)(void *ctx, const char *name);
	void *header_ctx;
} og_msginfo;
const og_stream *og_config_find_stream(
    const og_config *cfg, const og_msginfo *mi);
/*
 * Whether the stream could be found without headers (sender, SASL or
 * client rules only matched): daemons decide at RCPT time then.
 */
int og_stream_needs_headers(const og_stream *st);
/*
 * og_stream_rcpt_shadow - 1 when stream st, which the envelope could
 * name, comes after a stream with a header: line: that one could claim
 * the message once its headers are known, so optgate-policyd answers
 * DUNNO for st and leaves its mail to optgate-milter (without the
 * milter it goes out unjudged).  buf (size) then says so, for config
 * check and policyd's log; else 0.
 */
int og_stream_rcpt_shadow(
    const og_config *cfg, const og_stream *st, char *buf, size_t size);
/*
 * og_stream_one_click - whether the stream's List-Unsubscribe may come
 * with List-Unsubscribe-Post (RFC 8058 3.1: the header holds exactly one
 * HTTPS URI and no other HTTP(S) one; mailto: is allowed).  Returns 1,
 * or 0 with *why (when why is not NULL) set to a static reason, or to
 * NULL when the stream has no http(s) target at all (mailto: only, or
 * no unsubscribe line: no one-click, and nothing to warn about).
 */
int og_stream_one_click(const og_stream *st, const char **why);

#endif
