/*
 * og_report_test.c - table-driven tests of og_report: one message per
 * MTA format the parser recognises (standard DSN and ARF, and the body
 * formats of qmail, Exim, Sendmail, Postfix, Exchange, Gmail, Yahoo,
 * Lotus Notes, Amazon SES), auto-replies, token candidates, bad input;
 * and a table of classification cases.  One cmocka test per named case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "og_err.h"
#include "og_report.h"

struct pcase {
	const char *name;
	const char *msg;
	int rc;             /* og_report_parse result */
	int class;          /* OG_RC_* */
	int kind;           /* OG_RK_* (-1: any) */
	const char *rcpt;   /* first recipient, NULL: do not check */
	const char *status; /* NULL: do not check */
	const char *token;  /* a candidate that must be there, or NULL */
};

#define TOK "AQZ9bcyX1anqftivq12NSL9QFXS2JWUJezEmwZVgoO4QWW18wDaZBwWhERkHN1jSnA"

/* Exim's delay warning, with the last attempt's reply a 5xx. */
#define EXIM_DELAY                                                             \
	"From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"          \
	"To: news@example.com\n"                                               \
	"Subject: Warning: message 1Pb4x2-0003ZK-8S delayed 24 hours\n\n"      \
	"This message was created automatically by mail delivery "             \
	"software.\nA message that you sent has not yet been delivered "       \
	"to one or more of its\nrecipients after more than 24 hours on "       \
	"the queue on mx.example.com.\n\n"                                     \
	"The address to which the message has not yet been delivered "         \
	"is:\n\n  bob@example.org\n"                                           \
	"    Delay reason: SMTP error from remote mail server after RCPT "     \
	"TO:<bob@example.org>:\n    550 5.1.1 <bob@example.org>: "             \
	"Recipient address rejected: User unknown\n\n"                         \
	"No action is required on your part. Delivery attempts will "          \
	"continue for\nsome time.\n"

/* SES event publishing's delay, as SNS mails it. */
#define SES_DELAY                                                              \
	"From: AWS Notifications <no-reply@sns.amazonaws.com>\n"               \
	"Subject: AWS Notification Message\n\n"                                \
	"{\"eventType\":\"DeliveryDelay\",\"mail\":{\"destination\":"          \
	"[\"pat@example.org\"]},\"deliveryDelay\":{\"delayType\":"             \
	"\"TransientCommunicationFailure\",\"delayedRecipients\":"             \
	"[{\"emailAddress\":\"pat@example.org\",\"status\":\"4.4.1\"}]}}\n"

/* OpenSMTPD 6.8's report for three recipients (as it sent it here): the
 * replies are in the notice, "ADDR: REPLY" a line; its delivery-status
 * has Status 5.0.0 for each and no Diagnostic-Code. */
#define OPENSMTPD_THREE                                                        \
	"From: Mailer Daemon <MAILER-DAEMON@mx.example.com>\n"                 \
	"To: news@example.com\n"                                               \
	"Subject: Delivery status notification: failed\n"                      \
	"MIME-Version: 1.0\n"                                                  \
	"Content-Type: multipart/mixed;boundary=\"b\"\n\n"                     \
	"--b\nContent-Description: Notification\n"                             \
	"Content-Type: text/plain; charset=us-ascii\n\n"                       \
	"    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to "    \
	"this email.\n\n    An error has occurred while attempting to "        \
	"deliver a message for\n    the following list of recipients:\n\n"     \
	"ann@example.org: 552 5.2.2 <ann@example.org>: Mailbox full, quota "   \
	"exceeded\n"                                                           \
	"bob@example.org: 550 5.1.1 <bob@example.org>: Recipient address "     \
	"rejected: User unknown\n"                                             \
	"cy@example.org: 554 5.7.1 Service unavailable; Client host "          \
	"[192.0.2.1] blocked using zen.spamhaus.org\n\n"                       \
	"    Below is a copy of the original message:\n\n"                     \
	"--b\nContent-Description: Delivery Report\n"                          \
	"Content-Type: message/delivery-status\n\n"                            \
	"Reporting-MTA: dns; mx.example.com\n\n"                               \
	"Final-Recipient: rfc822; ann@example.org\nAction: failed\n"           \
	"Status: 5.0.0\n\n"                                                    \
	"Final-Recipient: rfc822; bob@example.org\nAction: failed\n"           \
	"Status: 5.0.0\n\n"                                                    \
	"Final-Recipient: rfc822; cy@example.org\nAction: failed\n"            \
	"Status: 5.0.0\n\n--b--\n"

static const struct pcase pcases[] = {
    {"RFC 3464 DSN from Postfix, user unknown",
        "From: MAILER-DAEMON@mx.example.com\n"
        "To: news@example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nThis is the mail system.\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; Bob@Example.ORG\nAction: failed\n"
        "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.org>:"
        " Recipient address rejected: User unknown in local recipient "
        "table\n\n"
        "--b\nContent-Type: text/rfc822-headers\n\n"
        "From: news@example.com\nTo: bob@example.org\n"
        "X-Optgate-Token: " TOK "\n\n--b--\n",
        0, OG_RC_HARD, OG_RK_DSN, "Bob@example.org", "5.1.1", TOK},
    {"SMTPUTF8 recipient in a global DSN (chasquid) is kept whole",
        "From: Mail Delivery System <postmaster-dsn@mx.example.com>\n"
        "To: <news@example.com>\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain; charset=\"utf-8\"\n\n"
        "Delivery of your message to the following recipient(s) failed "
        "permanently:\n\n  - \xc3\xb1"
        "aca@example.org\n\n"
        "--b\nContent-Type: message/global-delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Original-Recipient: utf-8; \xc3\xb1"
        "aca@example.org\n"
        "Final-Recipient: utf-8; \xc3\xb1"
        "aca@example.org\n"
        "Action: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n--b--\n",
        0, OG_RC_HARD, OG_RK_DSN,
        "\xc3\xb1"
        "aca@example.org",
        "5.1.1", NULL},
    {"RFC 6533 utf-8 address escaped in a plain DSN is decoded",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: utf-8; \\x{F1}aca@example.org\n"
        "Action: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n--b--\n",
        0, OG_RC_HARD, OG_RK_DSN,
        "\xc3\xb1"
        "aca@example.org",
        "5.1.1", NULL},
    {"mox's 7-bit form under rfc822; (\\x{F8}, IDNA domain) is decoded",
        "From: postmaster@mx.example.com\n"
        "Subject: mail delivery failed\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822;m\\x{F8}x@xn--remte-zua.example\n"
        "Action: failed\nStatus: 5.1.1\n\n--b--\n",
        0, OG_RC_HARD, OG_RK_DSN, "m\xc3\xb8x@xn--remte-zua.example", "5.1.1",
        NULL},
    {"SMTPUTF8 address in Exim's X-Failed-Recipients is kept whole",
        "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"
        "To: news@example.com\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: \xc3\xb1"
        "aca@example.org\n\n"
        "This message was created automatically by mail delivery "
        "software.\n\nA message that you sent could not be delivered to "
        "one or more of its\nrecipients. This is a permanent error. The "
        "following address(es) failed:\n\n  \xc3\xb1"
        "aca@example.org\n"
        "    SMTP error from remote mail server after RCPT TO:<\xc3\xb1"
        "aca@example.org>:\n    550 5.1.1 User unknown\n",
        0, OG_RC_HARD, -1,
        "\xc3\xb1"
        "aca@example.org",
        NULL, NULL},
    {"SMTPUTF8 address in Postfix's notice is bounded by its brackets",
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
        "To: news@example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "This is the mail system at host mx.example.com.\n\n"
        "                   The mail system\n\n"
        "<\xc3\xb1"
        "aca@example.org>: host mx.example.org[192.0.2.1] "
        "said: 550 5.1.1\n    <\xc3\xb1"
        "aca@example.org>: Recipient "
        "address rejected: User unknown (in reply\n    to RCPT TO "
        "command)\n",
        0, OG_RC_HARD, -1,
        "\xc3\xb1"
        "aca@example.org",
        "5.1.1", NULL},
    {"a non-ASCII word glued to an address outside brackets is the text's",
        "From: MAILER-DAEMON@mx.example.com\n"
        "To: news@example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "\xe6\x94\xb6\xe4\xbb\xb6\xe4\xba\xba"
        "abc@example.org: 550 5.1.1 "
        "User unknown (in reply to RCPT TO command)\n",
        0, OG_RC_HARD, -1, "abc@example.org", "5.1.1", NULL},
    {"Office 365's notice without delivery-status: its Error row is the reply",
        "From: Microsoft Outlook <postmaster@example.org>\n"
        "To: <news@example.com>\n"
        "Subject: Undeliverable: Hello\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "Your message to jane@example.org couldn't be delivered.\n"
        "jane wasn't found at example.org.\n\n"
        "More Info for Email Admins\nStatus code: 550 5.1.10\n\n"
        "Original Message Details\n"
        "Created Date:   11/23/2023 6:57:39 PM\n"
        "Sender Address: news@example.com\n"
        "Recipient Address:      jane@example.org\n"
        "Subject:        Hello\n\n"
        "Error Details\n"
        "Error:  550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient "
        "jane@example.org not found by SMTP address lookup\n"
        "Message rejected by:    EX1.example.prod.exchangelabs.com\n",
        0, OG_RC_HARD, -1, "jane@example.org", "5.1.10", NULL},
    {"RFC 3464 DSN, mailbox full is soft",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; full@example.org\nAction: failed\n"
        "Status: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n\n"
        "--b--\n",
        0, OG_RC_SOFT, OG_RK_DSN, "full@example.org", "5.2.2", NULL},
    {"RFC 3464 delay notice is soft",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Delayed Mail (still being retried)\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; slow@example.org\nAction: delayed\n"
        "Status: 4.4.1\nDiagnostic-Code: X-Postfix; connect to "
        "mx.example.org: Connection timed out\n\n--b--\n",
        0, OG_RC_SOFT, OG_RK_DSN, "slow@example.org", "4.4.1", NULL},
    {"RFC 6533 global DSN, blocked is soft",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; "
        "report-type=global-delivery-status; boundary=\"b\"\n\n"
        "--b\nContent-Type: message/global-delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; blocked@example.org\nAction: failed\n"
        "Status: 5.7.1\nDiagnostic-Code: smtp; 554 5.7.1 Service "
        "unavailable; Client host [192.0.2.1] blocked using "
        "zen.spamhaus.org\n\n--b--\n",
        0, OG_RC_SOFT, OG_RK_DSN, "blocked@example.org", "5.7.1", NULL},
    {"delivered notice is ignored",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Successful Mail Delivery Report\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; ok@example.org\nAction: delivered\n"
        "Status: 2.0.0\n\n--b--\n",
        0, OG_RC_IGNORE, OG_RK_DSN, "ok@example.org", "2.0.0", NULL},
    {"qmail: address line and #5.1.1",
        "From: MAILER-DAEMON@mx4.example.jp\nTo: news@example.com\n"
        "Subject: failure notice\n\n"
        "Hi. This is the qmail-send program at mx4.example.jp.\n"
        "I'm afraid I wasn't able to deliver your message to the following "
        "addresses.\nThis is a permanent error; I've given up. Sorry it "
        "didn't work out.\n\n<kijitora@example.ne.jp>:\n"
        "192.0.2.32 does not like recipient.\nRemote host said: 550 5.1.1 "
        "<kijitora@example.ne.jp>... User Unknown\nGiving up on "
        "192.0.2.32.\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <bounce+" TOK "@example.com>\nFrom: news@example.com\n"
        "To: kijitora@example.ne.jp\nSubject: hi\n\nbody\n",
        0, OG_RC_HARD, OG_RK_DSN, "kijitora@example.ne.jp", "5.1.1", TOK},
    {"Exim: X-Failed-Recipients and RCPT TO",
        "From: Mail Delivery System <Mailer-Daemon@e1.example.org>\n"
        "To: news@example.com\nX-Failed-Recipients: gone@example.ed.jp\n"
        "Auto-Submitted: auto-replied\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "This message was created automatically by mail delivery software.\n"
        "\nA message that you sent could not be delivered to one or more of "
        "its\nrecipients. This is a permanent error. The following "
        "address(es) failed:\n\n  gone@example.ed.jp\n    SMTP error from "
        "remote mail server after RCPT TO:<gone@example.ed.jp>:\n    host "
        "mx.example.ed.jp [192.0.2.20]: 550 5.1.1 <gone@example.ed.jp>: "
        "User unknown\n\n"
        "------ This is a copy of the message, including all the headers. "
        "------\n\nFrom: news@example.com\nTo: gone@example.ed.jp\n"
        "Subject: x\n\nbody\n",
        0, OG_RC_HARD, OG_RK_DSN, "gone@example.ed.jp", "5.1.1", NULL},
    {"Exim: refused after EHLO says nothing about the mailbox",
        "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\n"
        "The following address(es) failed:\n\n  ann@example.org\n"
        "    host mx.example.org [192.0.2.1]\n"
        "    SMTP error from remote mail server after EHLO "
        "mx.example.com:\n    550 Rejected\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Action: failed\nFinal-Recipient: rfc822;ann@example.org\n"
        "Status: 5.0.0\nDiagnostic-Code: smtp; 550 Rejected\n\n--b--\n",
        0, OG_RC_SOFT, OG_RK_DSN, "ann@example.org", "5.0.0", NULL},
    {"expiry notice: \"not delivered within\" N days is soft",
        "From: Postmaster@mail.example.ne.jp\nTo: news@example.com\n"
        "Subject: Mail System Error - Returned Mail\n\n"
        "Your message was not delivered within 2 days and 0 hours.\n"
        "Remote host is not responding.\n\n"
        "The following recipients did not receive this message:\n"
        "<ann@example.ne.jp>\n",
        0, OG_RC_SOFT, OG_RK_DSN, "ann@example.ne.jp", NULL, NULL},
    {"list server: \"may not exist, or ... no permission to post\" is "
     "soft",
        "From: Mail Delivery Subsystem <mailer-daemon@mail.example.com>\n"
        "To: ann@example.org\nX-Failed-Recipients: team@lists.example.com\n"
        "Subject: Delivery Status Notification (Failure)\n\n"
        "We're writing to let you know that the group you tried to contact "
        "(team) may not exist, or you may not have permission to post "
        "messages to the group.\n",
        0, OG_RC_SOFT, OG_RK_DSN, "team@lists.example.com", NULL, NULL},
    {"Sendmail without MIME: transcript",
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
        "To: news@example.com\nSubject: Returned mail: see transcript for "
        "details\n\n"
        "The original message was received at Thu, 1 Jan 2015 from "
        "localhost\n\n   ----- The following addresses had permanent fatal "
        "errors -----\n<nobody@example.net>\n    (reason: 550 5.1.1 "
        "<nobody@example.net>... User unknown)\n\n   ----- Transcript of "
        "session follows -----\n... while talking to mx.example.net.:\n>>> "
        "RCPT To:<nobody@example.net>\n<<< 550 5.1.1 <nobody@example.net>... "
        "User unknown\n550 5.1.1 <nobody@example.net>... User unknown\n",
        0, OG_RC_HARD, OG_RK_DSN, "nobody@example.net", "5.1.1", NULL},
    {"Sendmail transcript: the next host's and recipient's lines are "
     "theirs",
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
        "To: news@example.com\nSubject: Returned mail: Host unknown\n\n"
        "   ----- Transcript of session follows -----\n"
        "554 <ann@example.edu>... Remote protocol error: Connection reset "
        "by peer\n"
        "550 example.org (smtp)... 550 Host unknown\n"
        "554 <bob@example.org>... 550 Host unknown (Authoritative answer "
        "from name server)\n\n"
        "   ----- Unsent message follows -----\n"
        "From: news@example.com\nSubject: x\n\nbody\n",
        0, OG_RC_SOFT, OG_RK_DSN, "ann@example.edu", NULL, NULL},
    {"Gmail: failed permanently, rejected as spam is soft",
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "To: news@example.com\n"
        "Subject: Delivery Status Notification (Failure)\n\n"
        "Delivery to the following recipient failed permanently:\n\n"
        "     spam@example.com\n\nTechnical details of permanent failure:\n"
        "Google tried to deliver your message, but it was rejected by the "
        "recipient domain. The error that the other server returned was: "
        "554 5.7.1 Message rejected as spam\n\n"
        "----- Original message -----\n\nFrom: news@example.com\n"
        "To: spam@example.com\n\nx\n",
        0, OG_RC_SOFT, OG_RK_DSN, "spam@example.com", "5.7.1", NULL},
    {"Exchange: recipient(s) could not be reached",
        "From: System Administrator <postmaster@corp.example>\n"
        "To: news@example.com\nSubject: Undeliverable: News\n\n"
        "Your message did not reach some or all of the intended "
        "recipients.\n\n      Subject:  News\n      Sent:     1/1/2010\n\n"
        "The following recipient(s) could not be reached:\n\n"
        "      gone@corp.example on 1/1/2010 10:00 AM\n"
        "            The e-mail account does not exist at the organization "
        "this message was sent to.\n            <mx.corp.example #5.1.1>\n",
        0, OG_RC_HARD, OG_RK_DSN, "gone@corp.example", "5.1.1", NULL},
    {"Lotus Notes: was not delivered to",
        "From: Postmaster@notes.example\nTo: news@example.com\n"
        "Subject: DELIVERY FAILURE: User gone not listed in Domino "
        "Directory\n\n"
        "Your message\n\n  Subject: News\n\nwas not delivered to:\n\n"
        "  gone@notes.example\n\nbecause:\n\n  User gone "
        "(gone@notes.example) not listed in Domino Directory\n",
        0, OG_RC_HARD, OG_RK_DSN, "gone@notes.example", NULL, NULL},
    {"Yahoo: remote host said, quota",
        "From: MAILER-DAEMON@yahoo.com\nTo: news@example.com\n"
        "Subject: Failure Notice\n\n"
        "Sorry, we were unable to deliver your message to the following "
        "address.\n\n<full@example.jp>:\nRemote host said: 552 mailbox full "
        "[RCPT_TO]\n\n--- Below this line is a copy of the message.\n\n"
        "From: news@example.com\nTo: full@example.jp\n\nx\n",
        0, OG_RC_SOFT, OG_RK_DSN, "full@example.jp", NULL, NULL},
    {"Amazon SES bounce notification (JSON)",
        "From: no-reply@sns.amazonaws.com\nTo: news@example.com\n"
        "Subject: AWS Notification Message\n\n"
        "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":"
        "\"Permanent\",\"bounceSubType\":\"General\",\"bouncedRecipients\":"
        "[{\"emailAddress\":\"bounce@simulator.amazonses.com\",\"status\":"
        "\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}]}}\n",
        0, OG_RC_HARD, OG_RK_DSN, "bounce@simulator.amazonses.com", "5.1.1",
        NULL},
    {"ARF abuse report with redacted recipient and our token",
        "From: feedback@fbl.example.net\nTo: fbl@example.com\n"
        "Subject: complaint\nMessage-Id: <r1@fbl.example.net>\n"
        "Content-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"a\"\n\n"
        "--a\nContent-Type: text/plain\n\nabuse report\n"
        "--a\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: FBL/1.0\nVersion: 1\n"
        "Original-Mail-From: <news@example.com>\n"
        "Original-Rcpt-To: <redacted@example.net>\n"
        "Source-IP: 192.0.2.7\nArrival-Date: Thu, 8 Mar 2026 14:00:00 "
        "EDT\n\n"
        "--a\nContent-Type: message/rfc822\n\nFrom: news@example.com\n"
        "To: redacted@example.net\nList-Unsubscribe: "
        "<https://unsub.example.com/u/" TOK ">, <mailto:unsub+" TOK
        "@example.com>\n\nhi\n--a--\n",
        0, OG_RC_COMPLAINT, OG_RK_ARF, "", NULL, TOK},
    {"ARF auth-failure report is ignored",
        "From: dmarc@fbl.example.net\nSubject: auth failure\n"
        "Content-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"a\"\n\n"
        "--a\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: auth-failure\nUser-Agent: x/1\nVersion: 1\n"
        "Original-Rcpt-To: someone@example.org\nAuth-Failure: dkim\n\n"
        "--a--\n",
        0, OG_RC_IGNORE, OG_RK_ARF, "someone@example.org", NULL, NULL},
    {"ARF not-spam report is no complaint",
        "From: feedback@fbl.example.net\nSubject: not spam\n"
        "Content-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"a\"\n\n"
        "--a\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: not-spam\nUser-Agent: FBL/1.0\nVersion: 1\n"
        "Original-Rcpt-To: fan@example.org\n\n"
        "--a--\n",
        0, OG_RC_IGNORE, OG_RK_ARF, "fan@example.org", NULL, NULL},
    {"Microsoft JMRP before ARF",
        "From: staff@hotmail.com\nTo: fbl@example.com\n"
        "Subject: complaint about message from 192.0.2.1\n"
        "Content-Type: multipart/mixed; boundary=\"m\"\n\n"
        "--m\nContent-Type: message/rfc822\n\n"
        "X-HmXmrOriginalRecipient: who@hotmail.com\nFrom: news@example.com\n"
        "To: who@hotmail.com\n\nhi\n--m--\n",
        0, OG_RC_COMPLAINT, OG_RK_ARF, "who@hotmail.com", NULL, NULL},
    {"vacation auto-reply is ignored",
        "From: Bob <bob@example.org>\nTo: news@example.com\n"
        "Subject: Out of Office: News\nAuto-Submitted: auto-replied\n\n"
        "I am away until Monday.\n",
        0, OG_RC_IGNORE, OG_RK_AUTOREPLY, NULL, NULL, NULL},
    {"challenge-response is ignored",
        "From: someone@example.org\nTo: news@example.com\nSubject: RE: News"
        "\n\nThis account is protected. Please click on the following link "
        "to have your address added to the recipient's allowed list.\n",
        0, OG_RC_IGNORE, OG_RK_AUTOREPLY, NULL, NULL, NULL},
    {"DMARC aggregate report is ignored",
        "From: noreply-dmarc-support@google.com\nTo: bounce@example.com\n"
        "Subject: Report domain: example.com Submitter: google.com "
        "Report-ID: 123\nContent-Type: multipart/mixed; boundary=\"d\"\n\n"
        "--d\nContent-Type: application/zip; "
        "name=\"google.com!example.com!1!2.zip\"\n"
        "Content-Disposition: attachment; "
        "filename=\"google.com!example.com!1!2.zip\"\n"
        "Content-Transfer-Encoding: base64\n\nUEsDBA==\n--d--\n",
        0, OG_RC_IGNORE, -1, NULL, NULL, NULL},
    {"plain mail is not a report",
        "From: Bob <bob@example.org>\nTo: news@example.com\n"
        "Subject: hello\n\nJust saying hi.\n",
        0, OG_RC_UNKNOWN, OG_RK_NONE, NULL, NULL, NULL},
    {"mbox From line is skipped",
        "From MAILER-DAEMON Thu Oct  4 15:25:26 2001\n"
        "From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\n\n"
        "<x@example.org>:\n550 5.1.1 no such user\n",
        0, OG_RC_HARD, OG_RK_DSN, "x@example.org", "5.1.1", NULL},
    {"truncated MIME: DSN cut in the middle",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; cut@example.org\nAction: failed\n"
        "Status: 5.1.1\nDiagnos",
        0, OG_RC_HARD, OG_RK_DSN, "cut@example.org", "5.1.1", NULL},
    {"missing parts: report with no status part",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n--b--\n",
        0, OG_RC_UNKNOWN, OG_RK_DSN, NULL, NULL, NULL},
    {"base64 garbage in the status part",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n"
        "Content-Transfer-Encoding: base64\n\n"
        "!!!!****%%%%\x01\x02\xff\xfe====AAAA@@@@\n--b--\n",
        0, -1, OG_RK_DSN, NULL, NULL, NULL},
    {"unknown charset in the text part",
        "From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\n"
        "Content-Type: text/plain; charset=x-no-such-charset\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "<w@example.org>:\n\xe9\xe8\xff 550 5.1.1 user unknown\n",
        0, OG_RC_HARD, OG_RK_DSN, "w@example.org", "5.1.1", NULL},
    {"challenge-response request at RCPT inside a DSN is ignored",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; pat@example.org\nAction: failed\n"
        "Status: 5.0.0\nDiagnostic-Code: smtp; 550 Sender requires "
        "confirmation: please verify your address at "
        "https://cr.example.net/whitelist\n\n--b--\n",
        0, OG_RC_IGNORE, OG_RK_DSN, "pat@example.org", "5.0.0", NULL},
    {"DSN forwarded as a message/rfc822 attachment is read",
        "From: gateway@example.com\n"
        "Subject: Fwd: Delivery Status Notification (Failure)\n"
        "Content-Type: multipart/mixed; boundary=\"o\"\n\n"
        "--o\nContent-Type: text/plain\n\nForwarded report.\n\n"
        "--o\nContent-Type: message/rfc822\n\n"
        "From: postmaster@mx.example.org\n"
        "To: news@example.com\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"i\"\n\n"
        "--i\nContent-Type: text/plain\n\nDelivery failed.\n\n"
        "--i\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; gone@example.org\nAction: failed\n"
        "Status: 5.1.1\n\n--i--\n\n--o--\n",
        0, OG_RC_HARD, OG_RK_DSN, "gone@example.org", "5.1.1", NULL},
    {"Sendmail: the alias the sender wrote to, not its expansion",
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n"
        "To: news@example.com\nSubject: Returned mail: see transcript\n\n"
        "   ----- The following addresses had permanent fatal errors "
        "-----\n"
        "sam@host.example.net\n"
        "    (reason: 550 5.1.1 User unknown)\n"
        "    (expanded from: <Sam@example.org>)\n\n"
        "   ----- Transcript of session follows -----\n"
        "550 5.1.1 sam@host.example.net... User unknown\n",
        0, OG_RC_HARD, OG_RK_DSN, "Sam@example.org", NULL, NULL},
    {"an Action in the per-message block is no recipient",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\nAction: failed\n\n"
        "Final-Recipient: rfc822; lee@example.org\n"
        "Status: 5.1.1\n\n--b--\n",
        0, OG_RC_HARD, OG_RK_DSN, "lee@example.org", "5.1.1", NULL},
    {"DSN without a recipient block: the returned original's To",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nYour message could not be "
        "delivered.\n\n\t--- Delivery report unavailable ---\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "--b\nContent-Type: message/rfc822\n\n"
        "From: news@example.com\nTo: kim@example.org\nSubject: hi\n\n"
        "hi\n--b--\n",
        0, OG_RC_HARD, OG_RK_DSN, "kim@example.org", NULL, NULL},
    {"Exim: an address-shaped display name is not the recipient",
        "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"
        "To: news@example.com\n"
        "Subject: Mail failure - malformed recipient address\n\n"
        "A message that you sent contained one or more recipient "
        "addresses that were\nincorrectly constructed:\n\n"
        "  ann@example.net <pat@example.org>: malformed address: "
        "<pat@example.org> may not follow ann@example.net\n\n"
        "This address has been ignored.\n",
        0, -1, OG_RK_DSN, "pat@example.org", NULL, NULL},
    {"a recipient written as Name <addr>: reason",
        "From: MAILER-DAEMON@mx.example.com\nTo: news@example.com\n"
        "Subject: failure notice\n\n"
        "The mail server mx.example.org (address "
        "help@example.org) said:\n\n"
        "Pat Doe <pat@example.org>: no such user here\n",
        0, -1, OG_RK_DSN, "pat@example.org", NULL, NULL},
    {"a copy announced without dashes ends the report text",
        "From: MAILER-DAEMON@mx.example.org\nTo: news@example.com\n"
        "Subject: failure notice\n\n"
        "Sorry, unable to deliver your message to pat@example.org for\n"
        "the following reason:\n\n 552 Quota exceeded\n\n"
        "A copy of the original message below this line:\n\n"
        "From: news@example.com\nTo: pat@example.org\nSubject: hi\n\n"
        "Write to the list owner at\nowner@example.com\n",
        0, OG_RC_SOFT, OG_RK_DSN, "pat@example.org", NULL, NULL},
    {"\"unable to deliver your message to addr\" names the recipient",
        "From: MAILER-DAEMON@mx.example.org\nTo: news@example.com\n"
        "Subject: failure notice\n\n"
        "This is the mail system at mx.example.org (help desk: "
        "help@example.org).\n\n"
        "Sorry, unable to deliver your message to pat@example.org for\n"
        "the following reason:\n\n 552 Quota exceeded\n",
        0, OG_RC_SOFT, OG_RK_DSN, "pat@example.org", NULL, NULL},
    {"an encoded-word local part is kept as written",
        "From: MAILER-DAEMON@mx.example.org\nTo: news@example.com\n"
        "Subject: failure notice\n\n"
        "<=?utf-8?B?w6lsw6h2ZQ==?=@example.org>:\n"
        "550 5.1.1 user unknown\n",
        0, OG_RC_HARD, OG_RK_DSN, "=?utf-8?B?w6lsw6h2ZQ==?=@example.org",
        "5.1.1", NULL},
    {"a vacation reply quoting a subject with bounce words is no bounce",
        "From: <ann@example.org>\nTo: <news@example.com>\n"
        "Subject: Automatic reply: Returned items\n"
        "Auto-Submitted: auto-replied (vacation)\n\n"
        "I have permanently left the company; please write to "
        "mary@example.org.\n",
        0, OG_RC_IGNORE, OG_RK_AUTOREPLY, "ann@example.org", NULL, NULL},
    {"a vacation reply that repeats the subject as it was is no bounce",
        "From: <ann@example.org>\nTo: <news@example.com>\n"
        "Subject: Returned items: your refund\n"
        "Auto-Submitted: auto-replied (vacation)\n\n"
        "I have left permanently; write to mary@example.org.\n",
        0, OG_RC_IGNORE, OG_RK_AUTOREPLY, "ann@example.org", NULL, NULL},
    {"words alone are no proof unless a mail system says them",
        "From: Shop Support <help@shop.example>\nTo: news@example.com\n"
        "Subject: Delivery failure of your order\n\n"
        "We could not deliver your parcel to bob@example.org; this is a "
        "permanent problem with the street address.\n",
        0, OG_RC_SOFT, OG_RK_DSN, "bob@example.org", NULL, NULL},
    {"a person's \"address unknown\" without a code is no proof",
        "From: Shop Support <help@shop.example>\nTo: news@example.com\n"
        "Subject: Delivery failure of your order\n\n"
        "bob@example.org: address unknown at this building.\n",
        0, OG_RC_SOFT, OG_RK_DSN, "bob@example.org", NULL, NULL},
    {"a mail system that signs with its name only",
        "From: Mail Delivery System <Mail.Delivery.System@mx.example.com>\n"
        "To: news@example.com\nSubject: Delivery status notification\n\n"
        "bob@example.org: address unknown\n",
        0, OG_RC_HARD, OG_RK_DSN, "bob@example.org", NULL, NULL},
    {"MDaemon's notice is from a mail system",
        "From: MDaemon@mail.example.com\nTo: news@example.com\n"
        "Subject: Permanent Delivery Failure\n\n"
        "The attached message had PERMANENT fatal delivery errors!\n\n"
        "YOUR MESSAGE WAS NOT DELIVERED TO ONE OR MORE RECIPIENTS!\n\n"
        "bob@example.org\n",
        0, OG_RC_HARD, OG_RK_DSN, "bob@example.org", NULL, NULL},
    {"a person's \"Re:\" is no bounce, whatever the subject says",
        "From: <ann@example.org>\nTo: <news@example.com>\n"
        "Subject: Re: Your parcel was returned to sender\n\n"
        "Please call mary@example.org, she knows.\n",
        0, OG_RC_UNKNOWN, OG_RK_NONE, NULL, NULL, NULL},
    {"a \"Re:\" notice whose text says the mail failed is a bounce",
        "From: Mail Administrator <admin@sms.example.net>\n"
        "To: news@example.com\nSubject: Re: hi\n\n"
        "Your message could not be delivered to:\n\n"
        "bob@example.org\n550 5.1.1 user unknown\n",
        0, OG_RC_HARD, OG_RK_DSN, "bob@example.org", NULL, NULL},
    {"ARF with Redacted-Address: the original's To is hidden",
        "From: scomp@aol.net\nTo: fbl@example.com\n"
        "Subject: Email Feedback Report for IP 192.0.2.1\n"
        "Content-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: AOL SComp\nVersion: 0.1\n"
        "Redacted-Address: redacted\n\n"
        "--b\nContent-Type: message/rfc822\n\n"
        "From: news@example.com\nTo: someone@aol.com\nSubject: hi\n\n"
        "hi\n--b--\n",
        0, OG_RC_COMPLAINT, OG_RK_ARF, "", NULL, NULL},
    {"ARF Original-Rcpt-To redacted@ is nobody",
        "From: feedbackloop@fbl.example.net\nTo: fbl@example.com\n"
        "Subject: Abuse Report\n"
        "Content-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: FBL\nVersion: 1\n"
        "Original-Rcpt-To: undisclosed <redacted@example.net>\n\n"
        "--b\nContent-Type: message/rfc822\n\n"
        "From: news@example.com\nTo: <xxxxxx@example.net>\n"
        "Subject: hi\n\nhi\n--b--\n",
        0, OG_RC_COMPLAINT, OG_RK_ARF, "", NULL, NULL},
    {"ARF Original-Rcpt-To a hex digest is nobody: the original's To names "
     "the person",
        "From: feedbackloop@comcast.example\nTo: fbl@example.com\n"
        "Subject: FW: hi\n"
        "Content-Type: multipart/report; report-type=feedback-report; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        "User-Agent: ReturnPathFBL/2.0\nVersion: 1\nFeedback-Type: abuse\n"
        "Original-Rcpt-To: cb4a01a48251d4765f489076aa81e2a4@comcast.net\n\n"
        "--b\nContent-Type: message/rfc822\n\n"
        "From: news@example.com\nTo: someone@comcast.net\n"
        "Subject: hi\n\nhi\n--b--\n",
        0, OG_RC_COMPLAINT, OG_RK_ARF, "someone@comcast.net", NULL, NULL},
    {"Hotmail DSN: the reply only in X-Supplementary-Info",
        "From: postmaster@hotmail.com\nTo: news@example.com\n"
        "Subject: Undeliverable: hi\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nDelivery to the following "
        "recipients failed.\n\n       gone@example.org\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; BAY004-MC6F28.hotmail.com\n\n"
        "Final-recipient: RFC822; gone@example.org\nAction: failed\n"
        "Status: 5.5.0\nX-Supplementary-Info: < #5.5.0 smtp;550 Requested "
        "action not taken: mailbox\n unavailable (495782920:4198)>\n\n"
        "--b--\n",
        0, OG_RC_HARD, OG_RK_DSN, "gone@example.org", "5.5.0", NULL},
    {"Domino: several matches in its directory is no dead address",
        "From: Postmaster@example.org\nTo: news@example.com\n"
        "Subject: DELIVERY FAILURE: Recipient user name info "
        "(info@example.org) not unique.\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nYour message\n\nwas not "
        "delivered to:\n\n  info@example.org\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns;notes.example.org\n\n"
        "Final-Recipient: rfc822;info@example.org\nAction: failed\n"
        "Status: 5.0.0\nDiagnostic-Code: X-Notes; Recipient user name info "
        "(info@example.org\n ) not unique.  Several matches found in Domino "
        "Directory.\n\n--b--\n",
        0, OG_RC_SOFT, OG_RK_DSN, "info@example.org", "5.0.0", NULL},
    {"CommuniGate Pro: its own reason on the line after the address",
        "From: MAILER-DAEMON@example.org\nTo: news@example.com\n"
        "Subject: Undeliverable mail: hi\n"
        "Content-Type: multipart/report; report-type=\"delivery-status\"; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\n"
        "Failed to deliver to '<bob@example.org>'\n"
        "Messages without To: fields are not accepted here\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; example.org\n\n"
        "Original-Recipient: rfc822;<bob@example.org>\n"
        "Final-Recipient: system;<>\nAction: failed\nStatus: 5.0.0\n\n"
        "--b--\n",
        0, OG_RC_SOFT, OG_RK_DSN, "bob@example.org", "5.0.0", NULL},
    {"Exim delay warning in words: soft, whatever the last reply said",
        EXIM_DELAY, 0, OG_RC_SOFT, OG_RK_DSN, "bob@example.org", NULL, NULL},
    {"Exchange's delay notice in words is no failure",
        "From: Microsoft Outlook <postmaster@contoso.example>\n"
        "To: news@example.com\nSubject: Spring offers\n\n"
        "Delivery is delayed to these recipients or groups:\n\n"
        "bob@fabrikam.example\n\nThis message hasn't been delivered yet. "
        "Delivery will continue to be attempted.\n\n"
        "Last remote server error: 550 5.1.1 <bob@fabrikam.example> User "
        "unknown\n",
        0, OG_RC_SOFT, OG_RK_DSN, "bob@fabrikam.example", NULL, NULL},
    {"a failure notice that says it gave up is no delay notice",
        "From: MAILER-DAEMON@mx.example.com\nTo: news@example.com\n"
        "Subject: failure notice\n\n"
        "Hi. This is the qmail-send program at mx.example.com.\n"
        "I'm afraid I wasn't able to deliver your message to the "
        "following addresses.\nThis is a permanent error; I've given "
        "up. Sorry it didn't work out.\n\n"
        "<bob@example.org>:\nSorry, no mailbox here by that name. "
        "(#5.1.1)\n\nThe message has been delayed and will be retried "
        "by nobody.\n",
        0, OG_RC_HARD, OG_RK_DSN, "bob@example.org", "5.1.1", NULL},
    {"a read receipt is no bounce, whatever its subject quotes",
        "From: Joe <joe@example.org>\nTo: news@example.com\n"
        "Subject: Not read: Returned items\n"
        "Content-Type: multipart/report; "
        "report-type=disposition-notification; boundary=\"b\"\n\n"
        "--b\n\nYour message was deleted without being read.\n"
        "--b\nContent-Type: message/disposition-notification\n\n"
        "Reporting-UA: pc.example.org; Foomail 97.1\n"
        "Final-Recipient: rfc822;joe@example.org\n"
        "Disposition: manual-action/MDN-sent-manually; deleted\n\n--b--\n",
        0, OG_RC_IGNORE, OG_RK_AUTOREPLY, "joe@example.org", NULL, NULL},
    {"SES event publishing (\"eventType\"), pretty-printed JSON",
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\n"
        "Subject: AWS Notification Message\n\n"
        "{\n  \"eventType\": \"Bounce\",\n  \"bounce\": {\n"
        "    \"bounceType\": \"Permanent\",\n"
        "    \"bounceSubType\": \"General\",\n"
        "    \"bouncedRecipients\": [\n      {\n"
        "        \"emailAddress\": \"pat@example.org\",\n"
        "        \"status\": \"5.1.1\",\n"
        "        \"diagnosticCode\": \"smtp; 550 5.1.1 user unknown\"\n"
        "      }\n    ]\n  }\n}\n",
        0, OG_RC_HARD, OG_RK_DSN, "pat@example.org", "5.1.1", NULL},
    {"SES DeliveryDelay is soft", SES_DELAY, 0, OG_RC_SOFT, OG_RK_DSN,
        "pat@example.org", "4.4.1", NULL},
    {"empty input", "", OG_EINVAL, OG_RC_UNKNOWN, OG_RK_NONE, NULL, NULL, NULL},
};

static void
run_pcase(void **state)
{
	const struct pcase *c = *state;
	og_report *r = calloc(1, sizeof(*r));
	int rc;

	assert_non_null(r);
	rc = og_report_parse(c->msg, strlen(c->msg), NULL, r);
	assert_int_equal(rc, c->rc);
	if (c->class >= 0)
		assert_string_equal(og_report_class_name(r->class),
		    og_report_class_name(c->class));
	if (c->kind >= 0)
		assert_int_equal(r->kind, c->kind);
	if (c->rcpt != NULL) {
		assert_true(r->nrcpt > 0);
		assert_string_equal(r->rcpt[0].addr, c->rcpt);
	}
	if (c->status != NULL) {
		assert_true(r->nrcpt > 0);
		assert_string_equal(r->rcpt[0].status, c->status);
	}
	if (c->token != NULL) {
		int found = 0;

		for (int i = 0; i < r->ntokens; i++)
			if (strcmp(r->tokens[i], c->token) == 0)
				found = 1;
		assert_true(found);
	}
	free(r);
}

struct ccase {
	const char *name;
	const char *status;
	const char *diag;
	int class;
};

static const struct ccase ccases[] = {
    {"5.1.1 user unknown", "5.1.1", "550 5.1.1 User unknown", OG_RC_HARD},
    {"4.1.1 is only temporary", "4.1.1", "450 4.1.1 User unknown", OG_RC_SOFT},
    {"5.1.2 host unknown", "5.1.2", "Host or domain name not found",
        OG_RC_HARD},
    {"5.2.2 mailbox full", "5.2.2", "552 Mailbox full", OG_RC_SOFT},
    {"an unknown 5.4.x detail is the network, not the mailbox", "5.4.312",
        "550 5.4.312 DNS query failed", OG_RC_SOFT},
    {"Exchange Online's 5.4.310 is a domain that does not exist", "5.4.310",
        "550 5.4.310 DNS domain example.invalid does not exist "
        "[Message=InfoDomainNonexistent] "
        "[LastAttemptedServerName=example.invalid]",
        OG_RC_HARD},
    {"hMailServer: no mail servers for the recipient's domain is an unknown "
     "host",
        "",
        "Error Type: SMTP Error Description: No mail servers appear to "
        "exists for the recipient's address. Additional information: Please "
        "check that you have not misspelled the recipient's email address.",
        OG_RC_HARD},
    {"an unknown 5.3.x detail is the mail system", "5.3.190",
        "550 5.3.190 Mail system configuration error", OG_RC_SOFT},
    {"Exim: MX records pointing nowhere is an unknown host", "",
        "all relevant MX records point to non-existent hosts", OG_RC_HARD},
    {"a sender that failed verification is no unknown recipient", "5.0.0",
        "550 5.0.0 Recipient rejected, sender address not verified",
        OG_RC_SOFT},
    {"Exim's sender-verify callout reply under a 5.1.1 is the sender's",
        "5.1.1",
        "550-Verification failed for <bounces+x@example.com> 550-The mail "
        "server could not deliver mail to bounces+x@example.com. 550 Sender "
        "verify failed",
        OG_RC_SOFT},
    {"the first line of that reply alone is the sender's too", "5.1.1",
        "550-Verification failed for <bounces+x@example.com>", OG_RC_SOFT},
    {"quota text without code", "", "user is over quota", OG_RC_SOFT},
    {"5.3.4 too big", "5.3.4", "552 message size exceeds limit", OG_RC_SOFT},
    {"exceeded maximum incoming message size is too big", "5.0.0",
        "553 Exceeded maximum incoming message size", OG_RC_SOFT},
    {"5.7.1 blocked by a list", "5.7.1",
        "554 5.7.1 blocked using zen.spamhaus.org", OG_RC_SOFT},
    {"5.1.1 overridden by blocklist text", "5.1.1",
        "550 5.1.1 sender blocked by blacklist", OG_RC_SOFT},
    {"disabled account is hard", "5.2.1",
        "550 5.2.1 The email account that you tried to reach is disabled",
        OG_RC_HARD},
    {"5.2.1 alone (a DSN without diagnostic text) is a disabled mailbox: "
     "hard",
        "5.2.1", "", OG_RC_HARD},
    {"relay denied is hard", "5.7.1", "554 5.7.1 Relay access denied",
        OG_RC_HARD},
    {"user unknown said to DATA is a filter", "",
        "550 User unknown (in reply to end of DATA command)", OG_RC_SOFT},
    {"user unknown said to RCPT is hard", "5.0.0",
        "550 User unknown (in reply to RCPT TO command)", OG_RC_HARD},
    {"Exim: \"does not exist\" said after MAIL FROM is the sender's", "5.1.0",
        "SMTP error from remote mail server after MAIL "
        "FROM:<news@example.com> SIZE=1234: 553 5.1.0 example.com does "
        "not exist",
        OG_RC_SOFT},
    {"Office 365 edge block is a missing mailbox", "5.4.1",
        "550 5.4.1 Recipient address rejected: Access denied", OG_RC_HARD},
    {"Outlook.com's 5.5.0 with the stock 550 text is a missing mailbox",
        "5.5.0", "550 Requested action not taken: mailbox unavailable",
        OG_RC_HARD},
    {"the stock 550 text said to RCPT TO is a missing mailbox", "5.0.0",
        "550 Requested action not taken: mailbox unavailable (in reply to "
        "RCPT TO command)",
        OG_RC_HARD},
    {"the stock 550 text with no command nor 5.5.0 proves nothing", "5.0.0",
        "550 Requested action not taken: mailbox unavailable", OG_RC_SOFT},
    {"sender rejected is soft", "5.1.8",
        "553 5.1.8 Domain of sender address does not exist", OG_RC_SOFT},
    {"null MX is hard", "5.1.10", "556 5.1.10 domain has null MX", OG_RC_HARD},
    {"permanent rejection without a reason is hard", "5.0.0", "550 rejected",
        OG_RC_HARD},
    {"host not found, try again is soft", "5.1.2",
        "Name service error for domain x: Host not found, try again",
        OG_RC_SOFT},
    {"unreachable domain, try again: still unknown host", "5.5.0",
        "554 The mail could not be delivered to the recipient because the "
        "domain is not reachable. Please check the domain and try again",
        OG_RC_HARD},
    {"Gmail address not found", "",
        "Address not found: your message wasn't delivered because the "
        "address couldn't be found",
        OG_RC_HARD},
    {"open relay refusal is hard", "5.7.1",
        "553 you are trying to use me as a relay", OG_RC_HARD},
    {"local delivery program failed is soft", "5.3.0", "X-Unix; 255",
        OG_RC_SOFT},
    {"sender rejected by a list is soft", "5.7.1",
        "554 5.7.1 Service unavailable; Client host blocked using "
        "bl.spamcop.net",
        OG_RC_SOFT},
    {"challenge-response vendor notice is ignored", "4.7.0",
        "Sender not pre-approved. Follow the instructions of the notice",
        OG_RC_IGNORE},
    {"whitelist with a request to confirm is a challenge", "5.7.1",
        "550 5.7.1 Click the link to add yourself to my allowed list and "
        "confirm",
        OG_RC_IGNORE},
    {"whitelist named by a spam filter stays a block", "5.0.0",
        "500 Mail appears to be unsolicited; ask the recipient to add you "
        "to the whitelist and confirm",
        OG_RC_SOFT},
    /* Phrase search: either case, at the very end, after many false
     * starts in both cases of its first letter. */
    {"a phrase in capitals at the very end", "",
        "aAaA Aa aa AA a A AAA addres ADDRES: ADDRESS NOT FOUND", OG_RC_HARD},
    {"a phrase in mixed case after false starts", "",
        "Addr addr ADDR aDdReSs nOt fOuNd", OG_RC_HARD},
    {"bare permanent code is hard", "5.0.0", "", OG_RC_HARD},
    {"bare temporary code is soft", "4.0.0", "", OG_RC_SOFT},
    {"2.0.0 delivered is ignored", "2.0.0", "250 ok", OG_RC_IGNORE},
    {"nothing at all is unknown", "", "", OG_RC_UNKNOWN},
};

static void
run_ccase(void **state)
{
	const struct ccase *c = *state;
	const char *why = NULL;
	int cls = og_report_classify(c->status, 0, c->diag, &why);

	assert_non_null(why);
	assert_string_equal(
	    og_report_class_name(cls), og_report_class_name(c->class));
}

/* Tokens: runs of base64url of the right length, each once. */
static void
test_tokens(void **state)
{
	og_report *r = calloc(1, sizeof(*r));
	const char *s = "<https://u.example/u/" TOK "?x=1>, <mailto:unsub+" TOK
	                "@example.com>, short-run, " TOK "X";

	(void)state;
	assert_non_null(r);
	og_report_add_tokens(r, s, strlen(s));
	assert_int_equal(r->ntokens, 2);
	assert_string_equal(r->tokens[0], TOK);
	assert_string_equal(r->tokens[1], TOK "X");
	free(r);
}

/* The envelope recipient's VERP token comes first. */
static void
test_envelope_first(void **state)
{
	og_report *r = calloc(1, sizeof(*r));
	const char *m = "From: MAILER-DAEMON@x.example\nSubject: failure "
	                "notice\n\n<a@example.org>:\n550 5.1.1 unknown\n";

	(void)state;
	assert_non_null(r);
	assert_int_equal(
	    og_report_parse(m, strlen(m), "bounce+" TOK "@example.com", r), 0);
	assert_true(r->ntokens >= 1);
	assert_string_equal(r->tokens[0], TOK);
	free(r);
}

/* A multipart bomb is refused before GMime recurses into it. */
static void
test_multipart_bomb(void **state)
{
	og_report *r = calloc(1, sizeof(*r));
	size_t n = 5000, cap = n * 80 + 256, len = 0;
	char *m = malloc(cap);

	(void)state;
	assert_non_null(r);
	assert_non_null(m);
	len += (size_t)snprintf(m + len, cap - len, "From: x@example.org\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(m + len, cap - len,
		    "Content-Type: multipart/mixed; boundary=\"b%zu\"\n\n"
		    "--b%zu\n",
		    i, i);
	assert_int_equal(og_report_parse(m, len, NULL, r), OG_ETOOBIG);
	free(m);
	free(r);
}

/* Thousands of sibling parts: parsed, capped, no recipient invented. */
static void
test_many_parts(void **state)
{
	og_report *r = calloc(1, sizeof(*r));
	size_t n = 5000, cap = n * 64 + 512, len = 0;
	char *m = malloc(cap);

	(void)state;
	assert_non_null(r);
	assert_non_null(m);
	len += (size_t)snprintf(m + len, cap - len,
	    "From: MAILER-DAEMON@"
	    "x.example\nSubject: failure notice\nContent-Type: "
	    "multipart/mixed; boundary=\"q\"\n\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(m + len, cap - len,
		    "--q\nContent-Type: application/x-a\n\n%zu\n", i);
	len += (size_t)snprintf(m + len, cap - len, "--q--\n");
	assert_int_equal(og_report_parse(m, len, NULL, r), 0);
	assert_int_equal(r->nrcpt, 0);
	free(m);
	free(r);
}

/*
 * Shapes GMime turns into an object per few bytes (hundreds of bytes
 * each): header lines, address groups, empty parts, and the headers of a
 * digest's part, which GMime reads as a message.  Each is refused before
 * GMime builds them.
 */
static void
test_object_bombs(void **state)
{
	static const struct {
		const char *head, *unit, *tail, *why;
	} b[] = {
	    {"From: x@example.org\n", "X: y\n", "\nbody\n",
	        "too many header lines"},
	    {"From: x@example.org\nTo: ", "g:;", "\n\nbody\n",
	        "too many header lines"},
	    {"From: x@example.org\nContent-Type: multipart/mixed; "
	     "boundary=q\n\n",
	        "--q\n\n", "--q--\n", "too many MIME parts"},
	    {"From: x@example.org\nContent-Type: multipart/digest; "
	     "boundary=q\n\n--q\n\n",
	        "X: y\n", "\nbody\n--q--\n", "too many header lines"},
	};
	og_report *r = calloc(1, sizeof(*r));
	size_t cap = (size_t)OG_REPORT_HEADERS_MAX + 4096;
	char *m = malloc(cap);

	(void)state;
	assert_non_null(r);
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		size_t len = 0, ul = strlen(b[i].unit);

		len += (size_t)snprintf(m, cap, "%s", b[i].head);
		while (len + ul + 64 < cap) {
			memcpy(m + len, b[i].unit, ul);
			len += ul;
		}
		len += (size_t)snprintf(m + len, cap - len, "%s", b[i].tail);
		assert_int_equal(og_report_parse(m, len, NULL, r), OG_ETOOBIG);
		assert_string_equal(r->reason, b[i].why);
	}
	free(m);
	free(r);
}

/* A returned original of one big HTML body without blank lines is no
 * header bomb: its Message-ID says "message", its type is text/html. */
static void
test_big_original(void **state)
{
	og_report *r = calloc(1, sizeof(*r));
	size_t cap = (size_t)OG_REPORT_HEADERS_MAX * 2, len = 0;
	char *m = malloc(cap);

	(void)state;
	assert_non_null(r);
	assert_non_null(m);
	len += (size_t)snprintf(m, cap,
	    "From: MAILER-DAEMON@mx.example.com\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"b\"\n\n"
	    "--b\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.com\n\n"
	    "Final-Recipient: rfc822; big@example.org\nAction: failed\n"
	    "Status: 5.1.1\n\n"
	    "--b\nContent-Type: message/rfc822\n\n"
	    "Message-ID: <n-1@example.com>\nFrom: news@example.com\n"
	    "To: big@example.org\nContent-Type: text/html\n\n");
	while (len + 64 < cap)
		len += (size_t)snprintf(
		    m + len, cap - len, "<p>News: a, b; c</p>\n");
	len += (size_t)snprintf(m + len, cap - len, "--b--\n");
	assert_int_equal(og_report_parse(m, len, NULL, r), 0);
	assert_string_equal(og_report_class_name(r->class), "hard");
	assert_string_equal(r->rcpt[0].addr, "big@example.org");
	free(m);
	free(r);
}

/* The From a DMARC check reads: a comment or an encoded display name
 * that looks like an address is not the reporter. */
static void
test_from_is_the_mailbox(void **state)
{
	static const char *const froms[] = {
	    "\"x\" <a@evil.example> (<feedback@fbl.example.net>)",
	    "<a@evil.example> =?utf-8?q?=3Cfeedback=40fbl=2Eexample=2Enet=3E?=",
	    "a@evil.example, <feedback@fbl.example.net>",
	};
	og_report *r = calloc(1, sizeof(*r));
	char m[512];

	(void)state;
	assert_non_null(r);
	for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
		int n = snprintf(m, sizeof(m),
		    "From: %s\nSubject: complaint\n\nhi\n", froms[i]);

		assert_int_equal(og_report_parse(m, (size_t)n, NULL, r), 0);
		assert_null(strstr(r->from, "fbl.example.net"));
	}
	snprintf(m, sizeof(m), "From: FBL <Feedback@FBL.Example.NET>\n\nhi\n");
	assert_int_equal(og_report_parse(m, strlen(m), NULL, r), 0);
	assert_string_equal(r->from, "Feedback@fbl.example.net");
	free(r);
}

static void
test_too_big(void **state)
{
	og_report *r = calloc(1, sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(
	    og_report_parse("x", (size_t)OG_REPORT_INPUT_MAX + 1, NULL, r),
	    OG_ETOOBIG);
	free(r);
}

/*
 * An empty quarantine entry is read as no bytes at no address (NULL, 0):
 * refused as empty, with no pointer arithmetic on NULL (UBSan aborted
 * optgate erase on one, under make asan).
 */
static void
test_null_empty(void **state)
{
	og_report *r = calloc(1, sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(og_report_parse(NULL, 0, NULL, r), OG_EINVAL);
	free(r);
}

/* Its recipient is "delayed": the processors ignore it, not count it. */
static void
test_delay_reason(void **state)
{
	og_report *r = calloc(1, sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(
	    og_report_parse(EXIM_DELAY, strlen(EXIM_DELAY), NULL, r), 0);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].reason, "delayed");
	memset(r, 0, sizeof(*r));
	assert_int_equal(
	    og_report_parse(SES_DELAY, strlen(SES_DELAY), NULL, r), 0);
	assert_string_equal(r->rcpt[0].reason, "delayed");
	free(r);
}

/* Each recipient of a report without Diagnostic-Codes is judged by its
 * own line of the notice, not the first recipient's. */
static void
test_per_recipient_lines(void **state)
{
	og_report *r = calloc(1, sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(
	    og_report_parse(OPENSMTPD_THREE, strlen(OPENSMTPD_THREE), NULL, r),
	    0);
	assert_int_equal(r->nrcpt, 3);
	assert_string_equal(r->rcpt[0].addr, "ann@example.org");
	assert_int_equal(r->rcpt[0].class, OG_RC_SOFT);
	assert_string_equal(r->rcpt[0].status, "5.2.2");
	assert_string_equal(r->rcpt[1].addr, "bob@example.org");
	assert_int_equal(r->rcpt[1].class, OG_RC_HARD);
	assert_string_equal(r->rcpt[1].status, "5.1.1");
	assert_string_equal(r->rcpt[1].reason, "user-unknown");
	assert_string_equal(r->rcpt[2].addr, "cy@example.org");
	assert_int_equal(r->rcpt[2].class, OG_RC_SOFT);
	assert_string_equal(r->rcpt[2].reason, "blocked");
	free(r);
}

/*
 * The topmost Received field is the one the last MTA (ours) prepended:
 * its date and queue id, not those of a Received the sender wrote below.
 */
static void
test_received(void **state)
{
	og_report *r = calloc(1, sizeof(*r));
	const char *m =
	    "Received: from mx.example.org (mx.example.org [192.0.2.1])\n"
	    "\tby mail.example.com (Postfix (id 9)) with ESMTP id 4F2A11C3D\n"
	    "\tfor <unsub+x@example.com>; Sat, 29 Nov 2025 21:28:00 -0300 "
	    "(-03)\n"
	    "Received: by forged.example id FORGED; Mon, 1 Jan 2001 00:00:00 "
	    "+0000\n"
	    "From: ana@example.org\nSubject: unsubscribe\n\nplease\n";
	const char *none = "From: ana@example.org\nSubject: x\n\nplease\n";
	const char *bad = "Received: by mx id Q1; not a date\nFrom: "
	                  "ana@example.org\n\nplease\n";

	(void)state;
	assert_non_null(r);
	assert_int_equal(og_report_parse(m, strlen(m), NULL, r), 0);
	assert_int_equal(r->received, 1764462480); /* 2025-11-30T00:28:00Z */
	assert_string_equal(r->received_id, "4F2A11C3D");
	assert_int_equal(og_report_parse(none, strlen(none), NULL, r), 0);
	assert_int_equal(r->received, 0);
	assert_string_equal(r->received_id, "");
	assert_int_equal(og_report_parse(bad, strlen(bad), NULL, r), 0);
	assert_int_equal(r->received, 0);
	assert_string_equal(r->received_id, "Q1");
	free(r);
}

/*
 * auto_reply: a header that says the mail answers another (unsub-mail
 * quarantines those), not one a mail client's own mail may carry.
 */
static void
test_auto_reply(void **state)
{
	static const struct {
		const char *hdr;
		int want;
	} c[] = {{"Auto-Submitted: auto-replied\n", 1},
	    {"Auto-Submitted: auto-replied (vacation)\n", 1},
	    {"X-Autoreply: yes\n", 1}, {"Precedence: auto_reply\n", 1},
	    {"Auto-Submitted: auto-generated\n", 0},
	    {"Auto-Submitted: no\n", 0},
	    {"X-Auto-Response-Suppress: OOF, AutoReply\n", 0}, {"", 0}};
	og_report *r = calloc(1, sizeof(*r));
	char m[512];

	(void)state;
	assert_non_null(r);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(m, sizeof(m),
		    "From: bob@example.net\nTo: unsub@example.com\n%s"
		    "Subject: Out of office\n\naway\n",
		    c[i].hdr);
		assert_int_equal(og_report_parse(m, strlen(m), NULL, r), 0);
		assert_int_equal(r->auto_reply, c[i].want);
	}
	free(r);
}

/*
 * What a bounce records as its diagnostic when the report has no
 * Diagnostic-Code: the remote server's reply its notice quotes, not a
 * sentence of the notice around it.
 */
struct dcase {
	const char *name;
	const char *msg;
	const char *diag;   /* rcpt[0]'s diagnostic */
	const char *status; /* rcpt[0]'s status, NULL: do not check */
};

#define TEXT_BOUNCE                                                            \
	"From: Mail Delivery Subsystem <mailer-daemon@mx.example.com>\n"       \
	"To: news@example.com\n"                                               \
	"Subject: Delivery Status Notification (Failure)\n"                    \
	"X-Failed-Recipients: bob@example.org\n\n"

/* IONOS: a multi-line reply with its lines cut at a width (74). */
#define IONOS_CUT                                                              \
	"From: Mail Delivery System <mailer-daemon@mx.example.net>\n"          \
	"To: news@example.com\n"                                               \
	"Subject: Mail delivery failed: returning message to sender\n"         \
	"MIME-Version: 1.0\n"                                                  \
	"Content-Type: multipart/report; report-type=delivery-status; "        \
	"boundary=\"b\"\n\n"                                                   \
	"--b\nContent-Type: text/plain\n\n"                                    \
	"The following address failed:\n\n"                                    \
	"    bob@example.org:\n"                                               \
	"        SMTP error from remote server for TEXT command, host: "       \
	"mx.example.org (192.0.2.1) reason: 550-5.7.1 Our system has "         \
	"detected that this message\n is\n"                                    \
	"550-5.7.1 likely unsolicited mail. To reduce the amount of spam "     \
	"sent to Gm\nail,\n"
#define IONOS_END                                                              \
	"--b\nContent-Type: message/delivery-status\n\n"                       \
	"Reporting-MTA: dns; mx.example.net\n\n"                               \
	"Final-Recipient: rfc822; bob@example.org\nAction: failed\n"           \
	"Status: 5.0.0\n\n--b--\n"

static const struct dcase dcases[] = {
    {"diagnostic: Gmail's reply under \"The response was:\", not its "
     "sentence",
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "To: news@example.com\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\n"
        "** Address not found **\n\n"
        "Your message wasn't delivered to bob@example.org because the "
        "address couldn't be found or is unable to receive email.\n\n"
        "The response was:\n\n"
        "550 5.1.1 The email account that you tried to reach does not "
        "exist. - gsmtp\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "--b--\n",
        "550 5.1.1 The email account that you tried to reach does not "
        "exist. - gsmtp",
        "5.1.1"},
    {"diagnostic: a multi-line 550-5.1.1 reply joined in one",
        TEXT_BOUNCE "Delivery to the following recipient failed "
                    "permanently:\n\n     bob@example.org\n\n"
                    "Technical details of permanent failure:\n"
                    "Google tried to deliver your message, but it was "
                    "rejected by the server for the recipient domain "
                    "example.org by mx.example.org. [192.0.2.1].\n\n"
                    "The error that the other server returned was:\n"
                    "550-5.2.1 The email account that you tried to reach "
                    "is disabled.\n"
                    "550-5.2.1 Learn more at\n"
                    "550 5.2.1  https://support.google.com/mail/?p=Disabled"
                    " x1si - gsmtp\n",
        "550 5.2.1 The email account that you tried to reach is disabled. "
        "Learn more at https://support.google.com/mail/?p=Disabled x1si - "
        "gsmtp",
        "5.2.1"},
    {"diagnostic: \"The error that the other server returned was: 550 "
     "...\"",
        TEXT_BOUNCE "Delivery to the following recipient failed "
                    "permanently:\n\n     bob@example.org\n\n"
                    "Technical details of permanent failure:\n"
                    "Google tried to deliver your message, but it was "
                    "rejected by the server for the recipient domain "
                    "example.org by mx.example.org. [192.0.2.1].\n\n"
                    "The error that the other server returned was: 552 "
                    "5.2.2 <bob@example.org>... Mailbox Full\n",
        "552 5.2.2 <bob@example.org>... Mailbox Full", "5.2.2"},
    {"diagnostic: \"host X said: 550 ...\" and its indented lines",
        TEXT_BOUNCE "Your message to bob@example.org could not be "
                    "delivered.\n\n"
                    "The mail server for example.org refused it:\n\n"
                    "host mx.example.org[192.0.2.1] said: 550 5.1.1 "
                    "Recipient address\n"
                    "    rejected: User unknown (in reply to RCPT TO "
                    "command)\n",
        "550 5.1.1 Recipient address rejected: User unknown (in reply to "
        "RCPT TO command)",
        "5.1.1"},
    {"diagnostic: a multi-line reply the notice cut at a width",
        IONOS_CUT "550 5.7.1 this message has been blocked.\n\n" IONOS_END,
        "550 5.7.1 Our system has detected that this message is likely "
        "unsolicited mail. To reduce the amount of spam sent to Gmail, this "
        "message has been blocked.",
        "5.7.1"},
    {"diagnostic: Exim's lines under \"addr:\", not opened by its colon",
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
        "To: news@example.com\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "This message was created automatically by mail delivery "
        "software.\n\n"
        "A message that you sent could not be delivered to one or more of "
        "its\nrecipients. This is a permanent error. The following "
        "address(es) failed:\n\n"
        "  bob@example.org:\n"
        "    SMTP error from remote mail server after RCPT "
        "TO:<bob@example.org>:\n"
        "    550 5.1.1 User unknown\n",
        "SMTP error from remote mail server after RCPT TO:<bob@example.org>: "
        "550 5.1.1 User unknown",
        "5.1.1"},
    {"diagnostic: a text bounce's multi-line reply joined, its MTA's words "
     "kept",
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
        "To: news@example.com\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "A message that you sent could not be delivered to one or more of "
        "its\nrecipients. This is a permanent error. The following "
        "address(es) failed:\n\n"
        "  bob@example.org\n"
        "    SMTP error from remote mail server after RCPT "
        "TO:<bob@example.org>:\n"
        "    host mx.example.org [192.0.2.1]: 550-5.1.1 The email account "
        "that you tried to reach does not exist. Please try\n"
        "    550-5.1.1 double-checking the recipient's email address for "
        "typos\n"
        "    550 5.1.1 https://support.google.com/mail/?p=NoSuchUser x1si - "
        "gsmtp\n",
        "SMTP error from remote mail server after RCPT TO:<bob@example.org>: "
        "host mx.example.org [192.0.2.1]: 550 5.1.1 The email account that "
        "you tried to reach does not exist. Please try double-checking the "
        "recipient's email address for typos "
        "https://support.google.com/mail/?p=NoSuchUser x1si - gsmtp",
        "5.1.1"},
    {"diagnostic: two replies quoted, neither mixed into the other",
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
        "To: news@example.com\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "The following address(es) failed:\n\n"
        "  bob@example.org\n"
        "    first attempt: reason: 550 5.1.1 mailbox unknown\n"
        "    then the backup host said: 550-5.2.2 mailbox full\n"
        "    550 5.2.2 try later\n",
        "first attempt: reason: 550 5.1.1 mailbox unknown then the backup "
        "host said: 550-5.2.2 mailbox full 550 5.2.2 try later",
        NULL},
    {"diagnostic: Postfix's \"<addr>: reason\" without its \">: \"",
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
        "To: news@example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        "<bob@example.org>: Name service error for domain example.org: "
        "Host not\n    found, try again\n",
        "Name service error for domain example.org: Host not found, try "
        "again",
        NULL},
    {"diagnostic: the cut reply's last line's tail joined too",
        IONOS_CUT "550 5.7.1 this message has been blocked. Please visit "
                  "https://support.goog\n"
                  "le.com/mail - gsmtp\n\n" IONOS_END,
        "550 5.7.1 Our system has detected that this message is likely "
        "unsolicited mail. To reduce the amount of spam sent to Gmail, this "
        "message has been blocked. Please visit "
        "https://support.google.com/mail - gsmtp",
        "5.7.1"},
    {"diagnostic: the notice's words when it quotes no reply",
        TEXT_BOUNCE "Your message wasn't delivered to bob@example.org "
                    "because the address couldn't be found.\n",
        "because the address couldn't be found.", NULL},
    {"diagnostic: Diagnostic-Code kept over a reply in the notice",
        "From: MAILER-DAEMON@mx.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\n"
        "<bob@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 "
        "User unknown (in reply to RCPT TO command)\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; bob@example.org\nAction: failed\n"
        "Status: 5.2.2\n"
        "Diagnostic-Code: x-unix; maildrop: maildir over quota.\n\n"
        "--b--\n",
        "x-unix; maildrop: maildir over quota.", "5.2.2"},
};

static void
run_dcase(void **state)
{
	const struct dcase *c = *state;
	og_report *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(og_report_parse(c->msg, strlen(c->msg), NULL, r), 0);
	assert_true(r->nrcpt > 0);
	assert_string_equal(r->rcpt[0].addr, "bob@example.org");
	assert_string_equal(r->rcpt[0].diag, c->diag);
	if (c->status != NULL)
		assert_string_equal(r->rcpt[0].status, c->status);
	free(r);
}

int
main(void)
{
	size_t np = sizeof(pcases) / sizeof(pcases[0]);
	size_t nc = sizeof(ccases) / sizeof(ccases[0]);
	size_t nd = sizeof(dcases) / sizeof(dcases[0]);
	size_t n = np + nc + nd + 13, k = 0;
	struct CMUnitTest *t = calloc(n, sizeof(*t));
	int rc;

	if (t == NULL)
		return 1;
	for (size_t i = 0; i < np; i++, k++) {
		t[k].name = pcases[i].name;
		t[k].test_func = run_pcase;
		t[k].initial_state = (void *)&pcases[i];
	}
	for (size_t i = 0; i < nc; i++, k++) {
		t[k].name = ccases[i].name;
		t[k].test_func = run_ccase;
		t[k].initial_state = (void *)&ccases[i];
	}
	for (size_t i = 0; i < nd; i++, k++) {
		t[k].name = dcases[i].name;
		t[k].test_func = run_dcase;
		t[k].initial_state = (void *)&dcases[i];
	}
	t[k].name = "token candidates";
	t[k++].test_func = test_tokens;
	t[k].name = "envelope recipient token first";
	t[k++].test_func = test_envelope_first;
	t[k].name = "multipart bomb refused";
	t[k++].test_func = test_multipart_bomb;
	t[k].name = "thousands of parts";
	t[k++].test_func = test_many_parts;
	t[k].name = "header and part bombs refused";
	t[k++].test_func = test_object_bombs;
	t[k].name = "big returned original is no bomb";
	t[k++].test_func = test_big_original;
	t[k].name = "From is the mailbox, not a comment";
	t[k++].test_func = test_from_is_the_mailbox;
	t[k].name = "input over the cap refused";
	t[k++].test_func = test_too_big;
	t[k].name = "no bytes at no address: empty";
	t[k++].test_func = test_null_empty;
	t[k].name = "a delay warning in words is a delay";
	t[k++].test_func = test_delay_reason;
	t[k].name = "each recipient by its own line of the notice";
	t[k++].test_func = test_per_recipient_lines;
	t[k].name = "the topmost Received field: date and queue id";
	t[k++].test_func = test_received;
	t[k].name = "an auto-reply by its header";
	t[k++].test_func = test_auto_reply;
	rc = _cmocka_run_group_tests("og_report", t, k, NULL, NULL);
	free(t);
	return rc;
}
