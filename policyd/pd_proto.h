/*
 * pd_proto.h - the Postfix SMTP access policy delegation protocol, server
 * side (Postfix SMTPD_POLICY_README).
 *
 * A request is a block of "name=value" lines ending at an empty line;
 * the reply is "action=..." and an empty line.  The parser is strict:
 * a line without '=', a name that is not [a-z0-9_]+, a NUL byte, a
 * line, request or attribute count over its cap, or a repeated known
 * attribute makes the request bad, and the daemon closes the connection
 * without a reply (the protocol's rule: Postfix logs and retries).
 * Unknown attributes are allowed (Postfix adds some in new releases).
 *
 * LIMITS: PD_LINE_MAX bytes per line, PD_REQ_MAX bytes and
 * PD_ATTRS_MAX attributes per request.  Postfix's own requests are about
 * 1 KB and 30 attributes.
 */
#ifndef PD_PROTO_H
#define PD_PROTO_H

#include <stddef.h>

#include "og_buf.h"

#define PD_LINE_MAX 4096
#define PD_REQ_MAX 16384
#define PD_ATTRS_MAX 128
#define PD_ACTION_MAX 512 /* action text kept by pd_proto_reply */
#define PD_REPLY_MAX (PD_ACTION_MAX + 9) /* "action=" ACTION "\n\n" */

/* The attributes optgate uses; each points into the parsed buffer. */
enum pd_attr {
	PD_A_REQUEST = 0,
	PD_A_STATE, /* protocol_state */
	PD_A_NAME,  /* protocol_name */
	PD_A_SENDER,
	PD_A_RECIPIENT,
	PD_A_RCPT_COUNT,  /* recipient_count */
	PD_A_CLIENT_ADDR, /* client_address */
	PD_A_CLIENT_NAME, /* client_name */
	PD_A_SASL_USER,   /* sasl_username */
	PD_A_INSTANCE,
	PD_A_QUEUE_ID,
	PD_A_N
};

typedef struct pd_req {
	const char *a[PD_A_N]; /* NULL when absent */
	int nattrs;            /* every attribute line, known or not */
} pd_req;

#define PD_OK 0
#define PD_MORE 1 /* no complete request yet */
#define PD_BAD (-1)

/*
 * pd_proto_parse - find one request at the start of buf (len bytes).
 * PD_OK: the request is complete; its lines were split in place (buf is
 * modified up to *used) and req points into buf, valid until the caller
 * discards those bytes.  *used: bytes of the request, blank line included.
 * PD_MORE: incomplete, and still within the caps; buf untouched.
 * PD_BAD: malformed or over a cap; *why is a static reason.
 * A request without request=smtpd_access_policy is PD_BAD.
 */
int pd_proto_parse(
    char *buf, size_t len, pd_req *req, size_t *used, const char **why);

/* Attribute name for logs. */
const char *pd_attr_name(int attr);

/*
 * pd_proto_reply - append "action=ACTION\n\n" to out, ACTION made safe
 * (printable ASCII, no newline, at most 512 bytes).  0 or OG_ETOOBIG.
 */
int pd_proto_reply(og_buf *out, const char *action);

#endif
