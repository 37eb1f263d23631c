/*
 * og_report.h - read what comes back: bounces, complaints, unsubscribe
 * mails.
 *
 * og_report_parse() takes one raw message (RFC 5322, optionally with an
 * mbox "From " line) and says what it is and about whom:
 *   - MIME structure, transfer encodings and charsets come from GMime 3;
 *     so do the field blocks of message/delivery-status (RFC 3464),
 *     message/global-delivery-status (RFC 6533) and
 *     message/feedback-report (RFC 5965);
 *   - bounces that carry no machine-readable part are recognised from
 *     their bodies by the formats of real MTAs (qmail, Exim, Sendmail,
 *     Postfix, Exchange, Lotus Notes, Gmail, Yahoo, Amazon SES
 *     notifications, ...) and, failing those, by the common shape "an
 *     address, then an SMTP reply";
 *   - each failed recipient is classified hard / soft / complaint /
 *     ignore / unknown from its status code and diagnostic text.
 * It also collects candidate tokens (see og_token.h) from the places our
 * own mail carries them: the VERP address the report was sent to, our
 * OG_TOKEN_HEADER and List-Unsubscribe in the returned original, and the
 * Original-Mail-From of a complaint.  Candidates are only strings; the
 * caller verifies them with og_token_open().
 *
 * Ownership: the caller owns the og_report (large: allocate it, do not put
 * it on a thread stack) and frees nothing inside it.
 * Thread-safety: og_report_parse() is reentrant once og_report_init()
 * has run (it is also called on first use, under a pthread_once).
 * Errors: 0, OG_ETOOBIG (over OG_REPORT_INPUT_MAX, or a MIME structure
 * over the part/nesting caps), OG_EINVAL (not a message at all).  A
 * message that parses but is not understood is not an error: its class
 * is OG_RC_UNKNOWN and why is in ->reason.
 *
 * LIMITS: input <= OG_REPORT_INPUT_MAX bytes; at most OG_REPORT_PARTS_MAX
 * MIME parts are looked at and at most OG_REPORT_MULTIPARTS_MAX multipart
 * containers may be declared (a deeper or larger structure is no report
 * and is refused before GMime recurses into it); a message with more than
 * OG_REPORT_DELIMS_MAX lines that may be boundaries or more than
 * OG_REPORT_HEADERS_MAX bytes of header blocks is refused before GMime
 * builds an object for each (memory many times the input); only the first
 * OG_REPORT_TEXT_SCAN bytes of human-readable text are scanned; at most
 * OG_REPORT_RCPT_MAX recipients and OG_REPORT_TOKENS_MAX candidate tokens
 * are kept; every text field is truncated to its buffer.
 */
#ifndef OG_REPORT_H
#define OG_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "og_addr.h"
#include "og_buf.h"
#include "og_token.h"

#define OG_REPORT_INPUT_MAX (64u * 1024 * 1024)
#define OG_REPORT_PARTS_MAX 1000
#define OG_REPORT_MULTIPARTS_MAX 64
#define OG_REPORT_DELIMS_MAX 10000 /* lines that may be MIME boundaries */
#define OG_REPORT_HEADERS_MAX (512u * 1024) /* bytes of header blocks */
#define OG_REPORT_TEXT_SCAN (256u * 1024)
#define OG_REPORT_RCPT_MAX 32
#define OG_REPORT_TOKENS_MAX 16
#define OG_REPORT_TOKEN_MIN 40 /* shortest run taken as a token candidate */
#define OG_REPORT_DIAG_MAX 480
#define OG_REPORT_FIELD_MAX 255

/* Classes, as printed by og_report_class_name(). */
enum og_report_class {
	OG_RC_UNKNOWN = 0,
	OG_RC_HARD = 1,      /* the mailbox does not exist or never will */
	OG_RC_SOFT = 2,      /* full, deferred, temporary, sender-side block */
	OG_RC_COMPLAINT = 3, /* a recipient reported the mail (ARF, ...) */
	OG_RC_IGNORE = 4     /* auto-reply, delivery notice, auth report */
};

/* What kind of message it was. */
enum og_report_kind {
	OG_RK_NONE = 0,      /* not recognised */
	OG_RK_DSN = 1,       /* a delivery report, standard or not */
	OG_RK_ARF = 2,       /* a feedback report, standard or not */
	OG_RK_AUTOREPLY = 3, /* vacation, challenge-response, read receipt */
	OG_RK_UNSUB = 4      /* a person's unsubscribe mail (RFC 8058 mailto) */
};

typedef struct og_report_rcpt {
	char addr[OG_ADDR_MAX + 1];        /* as found, domain lowercased;
	                                    * may be "" */
	char orig[OG_ADDR_MAX + 1];        /* Original-Recipient when it
	                                    * differs from addr, else "" */
	char status[16];                   /* enhanced code "5.1.1", or "" */
	char action[16];                   /* DSN Action, lowercased, or "" */
	char diag[OG_REPORT_DIAG_MAX + 1]; /* diagnostic, one line */
	char remote_mta[OG_REPORT_FIELD_MAX + 1];
	int class;          /* enum og_report_class */
	const char *reason; /* static token: "user-unknown", ... */
} og_report_rcpt;

typedef struct og_report {
	int kind;           /* enum og_report_kind */
	int mail_system;    /* 1: a mail system wrote it (From a mailer daemon
	                     * or postmaster, RFC 3464 form,
	                     * X-Failed-Recipients), not a person */
	int auto_reply;     /* 1: its header says it answers another mail
	                     * (RFC 3834 Auto-Submitted: auto-replied, a
	                     * vacation program's X-Autoreply, Precedence:
	                     * auto_reply), whatever kind it was read as */
	int class;          /* of the first recipient, or of the message */
	const char *reason; /* static token naming why */
	const char *format; /* static name of the recognised format */

	og_report_rcpt rcpt[OG_REPORT_RCPT_MAX];
	int nrcpt;

	/* The report itself. */
	char message_id[OG_REPORT_FIELD_MAX + 1]; /* a complaint without one
	                                           * gets a digest of its
	                                           * report fields */
	char from[OG_REPORT_FIELD_MAX + 1];       /* address only */
	char to[OG_REPORT_FIELD_MAX + 1];         /* address only */
	char subject[OG_REPORT_FIELD_MAX + 1];    /* decoded, UTF-8 */
	char reporting_mta[OG_REPORT_FIELD_MAX + 1];
	/*
	 * The topmost Received field, which the MTA that delivered the
	 * message to us prepended above anything its sender wrote: its date
	 * (seconds since the epoch; 0 when absent or unreadable) and the
	 * queue id of its "id" clause ("" when none).
	 */
	int64_t received;
	char received_id[64];

	/* The returned original, when the report carries it. */
	char orig_message_id[OG_REPORT_FIELD_MAX + 1];
	char orig_to[OG_REPORT_FIELD_MAX + 1];   /* first address of To: */
	char orig_from[OG_REPORT_FIELD_MAX + 1]; /* address only */
	char orig_return_path[OG_REPORT_FIELD_MAX + 1]; /* address only */
	char orig_headers[8192]; /* its header block, truncated */

	/* Feedback report fields (RFC 5965) when kind is OG_RK_ARF. */
	char feedback_type[64];
	char user_agent[OG_REPORT_FIELD_MAX + 1];
	char source_ip[64];
	char arrival_date[OG_REPORT_FIELD_MAX + 1];
	char orig_mail_from[OG_REPORT_FIELD_MAX + 1];
	char reported_domain[OG_REPORT_FIELD_MAX + 1];

	/* Candidate tokens, most trusted first. */
	char tokens[OG_REPORT_TOKENS_MAX][OG_TOKEN_MAX + 1];
	int ntokens;

	/* The first text/plain part of the report, decoded (unsub-mail). */
	char body[1024];
} og_report;

/* Initialise GMime (idempotent, thread-safe). */
void og_report_init(void);

/*
 * og_report_text - all the text of a message as GMime reads it, appended
 * to out (capped by out's max): every header's value (unfolded, RFC 2047
 * decoded), every leaf part's content (transfer encoding undone, its
 * charset converted to UTF-8), and the same of attached messages (three
 * levels deep).  For finding an address wherever a message holds it.
 */
void og_report_text(const char *data, size_t len, og_buf *out);

/*
 * og_report_parse - parse and classify one message.
 * data/len: the raw message.  envelope_rcpt: the address the report was
 * delivered to (Postfix pipe ${original_recipient}), or NULL; a VERP
 * token in it is the first candidate.  out is cleared first.
 * Returns 0, OG_ETOOBIG or OG_EINVAL (then out->reason says why).
 */
int og_report_parse(
    const char *data, size_t len, const char *envelope_rcpt, og_report *out);

/*
 * og_report_add_tokens - add every run of base64url characters of at
 * least OG_REPORT_TOKEN_MIN and at most OG_TOKEN_MAX bytes found in
 * s/len to out's candidates (duplicates and overflow are dropped).
 */
void og_report_add_tokens(og_report *out, const char *s, size_t len);

/*
 * og_report_classify - class of one failure from its status code ("5.1.1"
 * or "", an SMTP reply code may be 0) and diagnostic text (may be NULL).
 * *reason (may be NULL) gets a static token.  Exposed for tests.
 */
int og_report_classify(
    const char *status, int smtp_code, const char *diag, const char **reason);

/*
 * og_report_orig_header - first value of header name in the returned
 * original (unfolded, at most size - 1 bytes into buf), or NULL.
 */
const char *og_report_orig_header(
    const og_report *r, const char *name, char *buf, size_t size);

/* "hard", "soft", "complaint", "ignore", "unknown". */
const char *og_report_class_name(int class);

#endif
