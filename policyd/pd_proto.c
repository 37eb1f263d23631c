/*
 * pd_proto.c - strict parser for Postfix policy delegation requests.
 *
 * Public: pd_proto_parse, pd_proto_reply, pd_attr_name (see pd_proto.h).
 * The parser validates each complete line as soon as it has arrived, so a
 * garbled peer is found before its request ends, and splits the lines in
 * place only once the blank line is there.  It never allocates.
 * Errors: PD_BAD with a static reason; the caller logs it and closes.
 * Thread-safe: no state.
 *
 * LIMITS: see pd_proto.h.  A trailing CR is dropped from each line (for
 * people testing with telnet); Postfix sends bare LF.
 */
#include <string.h>

#include "og_err.h"
#include "pd_proto.h"

#define A(s)                                                                   \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
static const struct {
	const char *name;
	size_t len;
} attrs[PD_A_N] = {
    [PD_A_REQUEST] = A("request"),
    [PD_A_STATE] = A("protocol_state"),
    [PD_A_NAME] = A("protocol_name"),
    [PD_A_SENDER] = A("sender"),
    [PD_A_RECIPIENT] = A("recipient"),
    [PD_A_RCPT_COUNT] = A("recipient_count"),
    [PD_A_CLIENT_ADDR] = A("client_address"),
    [PD_A_CLIENT_NAME] = A("client_name"),
    [PD_A_SASL_USER] = A("sasl_username"),
    [PD_A_INSTANCE] = A("instance"),
    [PD_A_QUEUE_ID] = A("queue_id"),
};
#undef A

const char *
pd_attr_name(int attr)
{
	if (attr < 0 || attr >= PD_A_N)
		return "?";
	return attrs[attr].name;
}

/*
 * One complete line (without its LF): NULL if fine, else the reason.
 * *eq gets the offset of the '='.
 */
static const char *
check_line(const char *s, size_t n, size_t *eq)
{
	size_t i;

	if (n > PD_LINE_MAX)
		return "line too long";
	/* The name, up to '=': [a-z0-9_]+ (so no NUL either). */
	for (i = 0; i < n && s[i] != '='; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '_')) {
			if (c == 0)
				return "NUL byte in request";
			return memchr(s + i, '=', n - i) ? "bad attribute name"
			                                 : "line without '='";
		}
	}
	if (i == n)
		return "line without '='";
	if (i == 0)
		return "empty attribute name";
	*eq = i;
	if (memchr(s + i + 1, 0, n - i - 1) != NULL)
		return "NUL byte in request";
	return NULL;
}

static int
lookup(const char *name, size_t n)
{
	int i;

	for (i = 0; i < PD_A_N; i++)
		if (attrs[i].len == n && memcmp(name, attrs[i].name, n) == 0)
			return i;
	return -1;
}

int
pd_proto_parse(
    char *buf, size_t len, pd_req *req, size_t *used, const char **why)
{
	/* Lines seen so far: start offset, length (no LF), '=' offset. */
	struct {
		size_t at, len, eq;
	} ln[PD_ATTRS_MAX];
	size_t pos = 0, end = 0, ll, eq = 0;
	const char *nl, *r;
	int n = 0, i, found = 0;

	*why = NULL;
	while (pos < len) {
		nl = memchr(buf + pos, '\n', len - pos);
		if (nl == NULL) {
			if (len - pos > PD_LINE_MAX) {
				*why = "line too long";
				return PD_BAD;
			}
			break;
		}
		ll = (size_t)(nl - (buf + pos));
		if (ll == 0 || (ll == 1 && buf[pos] == '\r')) {
			end = pos + ll + 1;
			found = 1;
			break;
		}
		if ((r = check_line(buf + pos, ll, &eq)) != NULL) {
			*why = r;
			return PD_BAD;
		}
		if (n == PD_ATTRS_MAX) {
			*why = "too many attributes";
			return PD_BAD;
		}
		ln[n].at = pos;
		ln[n].len = ll;
		ln[n].eq = eq;
		n++;
		pos += ll + 1;
		if (pos > PD_REQ_MAX) {
			*why = "request too long";
			return PD_BAD;
		}
	}
	if (!found) {
		if (len > PD_REQ_MAX) {
			*why = "request too long";
			return PD_BAD;
		}
		return PD_MORE;
	}

	/* Complete: split in place. */
	memset(req, 0, sizeof(*req));
	req->nattrs = n;
	for (i = 0; i < n; i++) {
		char *line = buf + ln[i].at;
		int a;

		line[ln[i].len] = 0;
		if (ln[i].len > 0 && line[ln[i].len - 1] == '\r')
			line[ln[i].len - 1] = 0;
		line[ln[i].eq] = 0;
		if ((a = lookup(line, ln[i].eq)) < 0)
			continue;
		if (req->a[a] != NULL) {
			*why = "repeated attribute";
			return PD_BAD;
		}
		req->a[a] = line + ln[i].eq + 1;
	}
	*used = end;
	if (req->a[PD_A_REQUEST] == NULL) {
		*why = "no request= attribute";
		return PD_BAD;
	}
	if (strcmp(req->a[PD_A_REQUEST], "smtpd_access_policy") != 0) {
		*why = "unknown request type";
		return PD_BAD;
	}
	return PD_OK;
}

int
pd_proto_reply(og_buf *out, const char *action)
{
	size_t i, n = strlen(action);
	size_t start = out->len;

	if (n > PD_ACTION_MAX)
		n = PD_ACTION_MAX;
	if (og_buf_add(out, "action=", 7) != 0)
		return OG_ETOOBIG;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)action[i];

		if (og_buf_addc(out, c >= 0x20 && c < 0x7f ? c : '?') != 0)
			goto full;
	}
	if (og_buf_add(out, "\n\n", 2) != 0)
		goto full;
	return 0;
full:
	out->len = start;
	out->data[start] = 0;
	return OG_ETOOBIG;
}
