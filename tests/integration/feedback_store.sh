#!/bin/sh
# optgate bounce / fbl / unsub-mail / quarantine against a real store:
# what each class of report changes, tokens first, duplicates once,
# untrusted reporters and bad tokens quarantined, exit codes for a pipe.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/syslog.sh"
T=$(mktemp -d /tmp/optgate-fb.XXXXXX)
trap 'syslog_stop; rm -rf "$T"' EXIT
O="$BIN/optgate"
cat >"$T/optgate.conf" <<CONF
[store]
path = $T/store
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
trusted_reporters = other.example, fbl.example.net
soft_bounce = 3/14d
soft_bounce_suppress = 7d
; most bounces here come without our token (the path for a setup whose
; mail is not VERP'd); the VERP default is tested at the end
bounce_token = optional
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
sender = example.com
unsubscribe = https://unsub.example.com/u/%t, mailto:unsub+%t@example.com
[stream offers]
match = header:X-Optgate-Stream=offers
consent = none
sender = example.com
[stream promo]
match = sender:promo@example.com
consent = none
verp = bounce+%t@bounces.example.com
CONF
og() { "$O" -c "$T/optgate.conf" "$@"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
for a in hard@example.org soft@example.org compl@example.org \
    redacted@example.org unsub@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done

# A Postfix-style DSN: $1 recipient, $2 status, $3 diagnostic, $4 extra
# header lines of the returned original; ORCPT: an Original-Recipient.
dsn() {
	cat <<MSG
Return-Path: <>
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-$(date +%s%N)@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.example.com.

<$1>: host mx.example.org[192.0.2.1] said: $3 (in reply to RCPT TO command)

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

${ORCPT:+Original-Recipient: rfc822; $ORCPT
}Final-Recipient: rfc822; $1
Action: ${ACTION:-failed}
Status: $2
Diagnostic-Code: smtp; $3

--B1
Content-Type: text/rfc822-headers

From: news@example.com
To: $1
Subject: News
Message-Id: <orig-1@example.com>
$4

--B1--
MSG
}

# An ARF report: $1 Original-Rcpt-To (may be empty), $2 report id, $3
# List-Unsubscribe of the original, $4 From of the report.
arf() {
	cat <<MSG
From: ${4:-feedback@fbl.example.net}
To: fbl@example.com
Subject: complaint
Message-Id: <$2>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="A1"

--A1
Content-Type: text/plain

This is an email abuse report.

--A1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <news@example.com>
$( [ -n "$1" ] && echo "Original-Rcpt-To: <$1>" )
Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT
Source-IP: 192.0.2.7

--A1
Content-Type: message/rfc822

From: news@example.com
To: undisclosed-recipients:;
Subject: News
Message-Id: <orig-2@example.com>
List-Unsubscribe: <$3>

hello
--A1--
MSG
}

# hard bounce: refused afterwards, event carries status and diagnostic
dsn hard@example.org 5.1.1 "550 5.1.1 <hard@example.org>: Recipient address rejected: User unknown" >"$T/hard.eml"
og status hard@example.org --stream news >/dev/null 2>&1
is "before: hard@example.org accepted" "$?" 0
og bounce <"$T/hard.eml" 2>"$T/log"
is "hard bounce exits 0" "$?" 0
og status hard@example.org --stream news >"$T/st" 2>&1
is "hard bounce: next message refused" "$?" 1
like "hard bounce: suppression recorded as hard-bounce" "$(cat "$T/st")" "*suppressed*hard-bounce*"
like "hard bounce: status shows the DSN's status and diagnostic" "$(cat "$T/st")" \
    "*hard-bounced on*recorded * via bounce: *status=5.1.1 diagnostic=550 5.1.1 <hard@example.org>: Recipient address rejected: User unknown *"
like "hard bounce: one log line with class and status" "$(cat "$T/log")" "*bounce: to=<hard@example.org> class=hard status=5.1.1 action=suppressed*"

# soft bounces: counted, the third in the period suppresses for a while
# (three reports: one report delivered again counts once, see
# feedback_retry.sh)
dsn soft@example.org 4.2.2 "452 4.2.2 Mailbox full" | og bounce 2>/dev/null
dsn soft@example.org 4.2.2 "452 4.2.2 Mailbox full" | og bounce 2>/dev/null
og status soft@example.org --stream news >/dev/null 2>&1
is "two soft bounces: still accepted" "$?" 0
dsn soft@example.org 4.2.2 "452 4.2.2 Mailbox full" >"$T/soft.eml"
og bounce <"$T/soft.eml" 2>"$T/log"
og status soft@example.org --stream news >"$T/st" 2>&1
is "third soft bounce: refused" "$?" 1
like "soft bounce suppression expires" "$(cat "$T/st")" "*soft-bounce*expires*"
OPTGATE_NOW=$(( $(date +%s) + 8 * 86400 )) og status soft@example.org --stream news >/dev/null 2>&1
is "soft bounce suppression over after 7d" "$?" 0
# soft_bounce = 3/14d counts the soft bounces of the last 14 days only:
# two from three weeks ago and one today are not three in the period
og optin spread@example.org --stream news >/dev/null 2>&1
dsn spread@example.org 4.2.2 "452 4.2.2 Mailbox full" >"$T/spread.eml"
for i in 1 2; do
	OPTGATE_NOW=$(( $(date +%s) - 21 * 86400 )) og bounce <"$T/spread.eml" 2>/dev/null
done
og bounce <"$T/spread.eml" 2>"$T/log"
like "soft bounces older than the period: the new one only counted" \
    "$(cat "$T/log")" "*to=<spread@example.org> class=soft*action=counted soft_bounces=1/3 *"
og status spread@example.org --stream news >/dev/null 2>&1
is "soft bounces older than the period: still accepted" "$?" 0

# soft bounces after a hard bounce: the hard bounce stays for good
og optin gone@example.org --stream news >/dev/null 2>&1
dsn gone@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/gone-hard.eml"
og bounce <"$T/gone-hard.eml" 2>/dev/null
for i in 1 2 3; do
	dsn gone@example.org 4.2.2 "452 4.2.2 Mailbox full" | og bounce 2>"$T/log"
done
OPTGATE_NOW=$(( $(date +%s) + 8 * 86400 )) og status gone@example.org --stream news >"$T/st" 2>&1
is "hard bounce, then soft bounces: still refused after the soft suppression's 7d" "$?" 1
like "hard bounce, then soft bounces: the hard bounce kept" "$(cat "$T/st")" "*suppressed hard-bounce*"

# a delay notice is no failure yet: not counted
og optin late@example.org --stream news >/dev/null 2>&1
ACTION=delayed dsn late@example.org 4.4.1 "connect to mx.example.org: Connection timed out" >"$T/delay.eml"
for i in 1 2 3 4; do og bounce <"$T/delay.eml" 2>"$T/log"; done
like "delay notice: ignored, not counted" "$(cat "$T/log")" "*class=soft*action=ignored detail=delay-notice*"
og status late@example.org --stream news >/dev/null 2>&1
is "four delay notices: still accepted" "$?" 0

# complaint from a trusted reporter, by Original-Rcpt-To
arf compl@example.org report-1@fbl.example.net "https://unsub.example.com/u/x" >"$T/arf1.eml"
og fbl <"$T/arf1.eml" 2>"$T/log"
is "complaint exits 0" "$?" 0
og status compl@example.org --stream news >"$T/st" 2>&1
is "complaint: next message refused" "$?" 1
like "complaint: sender scope" "$(cat "$T/st")" "*sender*example.com*complaint*"
# which feedback loop it came from: what the reporter was trusted by (an
# ARF report seldom has a Reporting-MTA)
like "complaint: status shows the report it came from" "$(cat "$T/st")" \
    "*complained about*recorded * via fbl: *proof=from=feedback@fbl.example.net report_id=<report-1@fbl.example.net> *"
like "complaint: audit names the feedback loop (the report's From)" \
    "$(og audit compl@example.org)" "*suppress *complaint*proof=from=feedback@fbl.example.net *"
n1=$(og -v status compl@example.org 2>/dev/null | wc -l)
og fbl <"$T/arf1.eml" 2>"$T/log"
like "same report again: duplicate" "$(cat "$T/log")" "*action=duplicate*"

# a not-spam report (RFC 5965): the person wants the mail, nothing changes
og optin fan@example.org --stream news >/dev/null 2>&1
arf fan@example.org report-ns@fbl.example.net "https://x/u/y" |
    sed 's/^Feedback-Type: abuse/Feedback-Type: not-spam/' >"$T/notspam.eml"
og fbl <"$T/notspam.eml" 2>"$T/log"
is "not-spam report: exits 0" "$?" 0
like "not-spam report: ignored" "$(cat "$T/log")" "*to=<fan@example.org>*action=ignored*not-spam*"
og status fan@example.org --stream news >/dev/null 2>&1
is "not-spam report: still accepted" "$?" 0

# a report without a Message-ID is still recognised the second time
og optin noid@example.org --stream news >/dev/null 2>&1
arf noid@example.org unused@fbl.example.net "https://x/u/y" | grep -v '^Message-Id:' >"$T/noid.eml"
og fbl <"$T/noid.eml" 2>/dev/null
og fbl <"$T/noid.eml" 2>"$T/log"
like "report without Message-ID: duplicate the second time" "$(cat "$T/log")" "*to=<noid@example.org>*action=duplicate*"

# redacted report: the token in List-Unsubscribe names the person
tok=$(og token redacted@example.org --stream news | sed -n 's/^token: //p')
arf "" report-2@fbl.example.net "https://unsub.example.com/u/$tok" >"$T/arf2.eml"
og fbl <"$T/arf2.eml" 2>"$T/log"
og status redacted@example.org --stream news >/dev/null 2>&1
is "redacted complaint: recipient from the token" "$?" 1
like "redacted complaint: logged by=token" "$(cat "$T/log")" "*to=<redacted@example.org>*by=token*"
# two streams share the sender: only the token says which mail it was
og --json stats >"$T/stats"
like "complaint by token counts for the token's stream" "$(grep '"type":"rate","stream":"news"' "$T/stats")" '*"complaints":1,*'
like "audit names the stream of the mail complained about" "$(og audit redacted@example.org)" "* stream=news*"

# a VERP stream without "sender =": the complaint's Original-Mail-From is
# our bounce address, not the sender the gate judged the mail by
og optin vp@example.org --stream promo >/dev/null 2>&1
tokv=$(og token vp@example.org --stream promo | sed -n 's/^token: //p')
arf "" report-vp@fbl.example.net "https://x/u/y" |
    sed "s/^Original-Mail-From: .*/Original-Mail-From: <bounce+$tokv@bounces.example.com>/;
        s/^From: news@example.com/From: Promo <promo@example.com>/" >"$T/arfvp.eml"
og fbl --client mx3.fbl.example.net <"$T/arfvp.eml" 2>"$T/log"
like "VERP complaint: suppressed for the mail's sender" "$(og status vp@example.org --stream promo 2>&1)" "*sender   example.com *suppressed complaint*"
like "... audit names the reporter and the SMTP client it came from" \
    "$(og audit vp@example.org)" "*proof=from=feedback@fbl.example.net client=mx3.fbl.example.net *"

# the sender scope of a complaint is named as the gate names the envelope
# sender's domain: in capitals and with the root's trailing dot, an
# A-label domain is the scope of mail from its Unicode form
og optin idn@example.org --stream promo >/dev/null 2>&1
toki=$(og token idn@example.org --stream promo | sed -n 's/^token: //p')
arf "" report-idn@fbl.example.net "https://unsub.example.com/u/$toki" |
    sed "s/^Original-Mail-From: .*/Original-Mail-From: <Promo@XN--BCHER-KVA.Example.>/" >"$T/arfidn.eml"
og fbl <"$T/arfidn.eml" 2>"$T/log"
like "IDN sender: the complaint names the A-label scope" "$(og status idn@example.org --stream promo 2>&1)" \
    "*sender   xn--bcher-kva.example *suppressed complaint*"
og status idn@example.org --stream promo --from 'promo@bücher.example' >/dev/null 2>&1
is "... and mail from that domain is refused" "$?" 1

# forged token: not believed, nothing changed, kept for a human
forged=$(printf '%s' "$tok" | tr 'A-Za-z' 'B-ZAb-za')
og optin victim@example.org --stream news >/dev/null 2>&1
arf "" report-3@fbl.example.net "https://unsub.example.com/u/$forged" >"$T/arf3.eml"
og fbl <"$T/arf3.eml" 2>"$T/log"
is "forged token: exits 0" "$?" 0
like "forged token: quarantined" "$(cat "$T/log")" "*quarantined*no token verified*"
og status victim@example.org --stream news >/dev/null 2>&1
is "forged token: nobody suppressed" "$?" 0

# a trusted name in a comment of the From is not the reporter (a DMARC
# check in front reads the mailbox, evil.example)
og optin cm@example.org --stream news >/dev/null 2>&1
arf cm@example.org report-cm@evil.example "https://x/u/y" \
    '"x" <abuse@evil.example> (<feedback@fbl.example.net>)' >"$T/arfcm.eml"
og fbl <"$T/arfcm.eml" 2>"$T/log"
like "From with a trusted name in a comment: quarantined" "$(cat "$T/log")" "*reporter not trusted: from=abuse@evil.example*"
og status cm@example.org --stream news >/dev/null 2>&1
is "From with a trusted name in a comment: no change" "$?" 0
qn=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
rm -f "$T/quarantine/$qn" "$T/quarantine/$qn.reason"

# Nor is a trusted name in the report's Reporting-MTA: the report's author
# writes that field, and no DMARC check reads it.  evil.example, from its
# own (DMARC-aligned) mail server, naming a loop we trust there, made
# complaints about any customer it knew.
og optin rm@example.org --stream news >/dev/null 2>&1
arf rm@example.org report-rm@evil.example "https://x/u/y" abuse@evil.example |
    sed 's/^Version: 1$/&\nReporting-MTA: dns; mx1.fbl.example.net/' >"$T/arfrm.eml"
og fbl --rcpt fbl@example.com --client mail.evil.example --queue-id 4D2E6F7A1 \
    <"$T/arfrm.eml" 2>"$T/log"
is "trusted name in Reporting-MTA only: exits 0" "$?" 0
like "... quarantined as not trusted, naming From and client" "$(cat "$T/log")" \
    "*4D2E6F7A1: fbl: quarantined as *: reporter not trusted: from=abuse@evil.example client=mail.evil.example *"
og status rm@example.org --stream news >/dev/null 2>&1
is "... no change" "$?" 0
qn=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
[ -n "$qn" ] && rm -f "$T/quarantine/$qn" "$T/quarantine/$qn.reason"

# trusted_reporters as admins write "that domain's hosts": *.senderscore.net
# (README: Validity's loops report from ...@*.senderscore.net) and
# .senderscore.net trust the loop's reports; they matched nothing, and
# config check said ok.
sed -i 's/^trusted_reporters = other.*/&\ntrusted_reporters = *.senderscore.net/' "$T/optgate.conf"
og optin wc@example.org --stream news >/dev/null 2>&1
arf wc@example.org report-wc@comcastfbl.senderscore.net "https://x/u/y" \
    feedbackloop@comcastfbl.senderscore.net >"$T/arfwc.eml"
og fbl --rcpt fbl@example.com --client unknown <"$T/arfwc.eml" 2>"$T/log"
like "trusted_reporters = *.senderscore.net: its loop's complaint suppresses" \
    "$(cat "$T/log")" "*fbl: to=<wc@example.org> class=complaint action=suppressed*"
sed -i 's/^trusted_reporters = \*\.senderscore.net$/trusted_reporters = .senderscore.net/' "$T/optgate.conf"
og optin wd@example.org --stream news >/dev/null 2>&1
arf wd@example.org report-wd@comcastfbl.senderscore.net "https://x/u/y" \
    feedbackloop@comcastfbl.senderscore.net >"$T/arfwd.eml"
og fbl --rcpt fbl@example.com --client unknown <"$T/arfwd.eml" 2>"$T/log"
like "trusted_reporters = .senderscore.net: so does .senderscore.net" \
    "$(cat "$T/log")" "*fbl: to=<wd@example.org> class=complaint action=suppressed*"
sed -i '/^trusted_reporters = \.senderscore.net$/d' "$T/optgate.conf"
qn=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
[ -n "$qn" ] && rm -f "$T/quarantine/$qn" "$T/quarantine/$qn.reason"

# untrusted reporter: quarantined, listed, retried once trusted
arf unsub@example.org report-4@evil.example "https://x/u/y" abuse@evil.example >"$T/arf4.eml"
og fbl --queue-id 52B0E1A09 <"$T/arf4.eml" 2>"$T/log"
is "untrusted reporter: exits 0" "$?" 0
og status unsub@example.org --stream news >/dev/null 2>&1
is "untrusted reporter: no change" "$?" 0
like "quarantine list names the reason" "$(og quarantine list)" "*fbl*reporter not trusted*"
sed -i 's/^trusted_reporters = .*/&\ntrusted_reporters = evil.example/' "$T/optgate.conf"
# What the retry decides is logged as the pipe's decisions are: in the
# mail log (syslog), under the queue id the report came with.
if syslog_start "$T/syslog"; then
	src=0
	syslog_run "$O" -c "$T/optgate.conf" quarantine retry >"$T/out" 2>&1
	syslog_stop
else
	src=2
	og quarantine retry >"$T/out" 2>&1
fi
like "quarantine retry processes it, keeps the forged one" "$(cat "$T/out")" "*2 retried, 1 processed, 1 still quarantined*"
like "quarantine retry: the decision names the report's queue id" "$(cat "$T/out")" "*52B0E1A09: fbl: to=<unsub@example.org> class=complaint action=suppressed*"
if [ "$src" = 2 ]; then
	echo "ok - # SKIP quarantine retry to syslog: not root, or no unshare, python3"
else
	like "quarantine retry: the decision is in syslog (mail facility)" "$(cat "$T/syslog")" "<22>*optgate?[0-9]*]: 52B0E1A09: fbl: to=<unsub@example.org> class=complaint action=suppressed*"
fi
og status unsub@example.org --stream news >/dev/null 2>&1
is "after retry: refused" "$?" 1

# unsubscribe mail: token in the address; a bad token changes nothing
og optin u2@example.org --stream news >/dev/null 2>&1
tok2=$(og token u2@example.org --stream news | sed -n 's/^token: //p')
printf 'From: U Two <u2@example.org>\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <u2-1@example.org>\n\nplease\n' "$tok2" >"$T/unsub.eml"
og unsub-mail --rcpt "unsub+$tok2@example.com" <"$T/unsub.eml" 2>"$T/log"
is "unsub-mail exits 0" "$?" 0
og status u2@example.org --stream news >"$T/st" 2>&1
is "unsub-mail: opted out" "$?" 1
like "unsub-mail: via mail" "$(cat "$T/st")" "*optout*via mail*"
like "unsub-mail: one log line, of class unsubscribe" "$(cat "$T/log")" \
    "*unsub-mail: to=<u2@example.org> class=unsubscribe action=unsubscribed scope=stream:news*"
printf 'From: someone@example.org\nTo: unsub@example.com\nSubject: unsubscribe me\n\nplease\n' >"$T/unsub2.eml"
og unsub-mail --rcpt unsub@example.com <"$T/unsub2.eml" 2>"$T/log"
is "unsub-mail without token: exits 0" "$?" 0
like "unsub-mail without token: quarantined" "$(cat "$T/log")" "*quarantined*no token*"

# [unsubd] scope = all: an unsubscribe mail while soft bounces keep the
# person suppressed for a while outlives that suppression
sed 's/^\[feedback\]/[unsubd]\nscope = all\n&/' "$T/optgate.conf" >"$T/all.conf"
og optin sb@example.org --stream news >/dev/null 2>&1
for i in 1 2 3; do
	dsn sb@example.org 4.2.2 "452 4.2.2 Mailbox full" | og bounce 2>/dev/null
done
toksb=$(og token sb@example.org --stream news | sed -n 's/^token: //p')
printf 'From: sb@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <sb-1@example.org>\n\nplease\n' "$toksb" >"$T/unsubsb.eml"
"$O" -c "$T/all.conf" unsub-mail --rcpt "unsub+$toksb@example.com" <"$T/unsubsb.eml" 2>"$T/log"
like "unsubscribe during a soft-bounce suppression: recorded" "$(cat "$T/log")" "*action=unsubscribed scope=all*"
OPTGATE_NOW=$(( $(date +%s) + 8 * 86400 )) og status sb@example.org --stream news >/dev/null 2>&1
is "unsubscribe during a soft-bounce suppression: still refused after it" "$?" 1

# [unsubd] scope = partner, a stream without one: an unsubscribe mail opts
# out of that stream, as a one-click does (not of all mail); config check
# says so
sed 's/^\[feedback\]/[unsubd]\nscope = partner\n&/' "$T/optgate.conf" >"$T/partner.conf"
tokpa=$(og token pa@example.org --stream news | sed -n 's/^token: //p')
printf 'From: pa@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <pa-1@example.org>\n\nplease\n' "$tokpa" >"$T/unsubpa.eml"
"$O" -c "$T/partner.conf" unsub-mail --rcpt "unsub+$tokpa@example.com" <"$T/unsubpa.eml" 2>"$T/log"
like "scope = partner, stream without one: the stream" "$(cat "$T/log")" \
    "*action=unsubscribed scope=stream:news*"
og status pa@example.org --stream offers >/dev/null 2>&1
is "... other streams still mailed" "$?" 0
like "config check notes the stream without a partner" \
    "$("$O" -c "$T/partner.conf" config check)" \
    "*note: stream news has no partner: its unsubscribes*"

# one DSN, two failed recipients: each by its own class
og optin two-a@example.org --stream news >/dev/null 2>&1
og optin two-b@example.org --stream news >/dev/null 2>&1
cat >"$T/two.eml" <<MSG
From: MAILER-DAEMON@mx.example.com
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <two-1@mx.example.com>
Content-Type: multipart/report; report-type=delivery-status; boundary="B2"

--B2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; two-a@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

Final-Recipient: rfc822; two-b@example.org
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

--B2--
MSG
like "two recipients, --dry-run --json: each with its own diagnostic" \
    "$(og bounce --dry-run --json "$T/two.eml" 2>/dev/null)" \
    '*"recipients":?{"recipient":"two-a@example.org","class":"hard","status":"5.1.1","diagnostic":"550 5.1.1 User unknown"},{"recipient":"two-b@example.org","class":"soft","status":"5.2.2","diagnostic":"552 5.2.2 Mailbox full"}?}'
og bounce <"$T/two.eml" 2>"$T/log"
like "two recipients: the unknown one suppressed" "$(cat "$T/log")" "*to=<two-a@example.org> class=hard status=5.1.1 action=suppressed*"
like "two recipients: the full one counted" "$(cat "$T/log")" "*to=<two-b@example.org> class=soft status=5.2.2 action=counted*"
og status two-a@example.org --stream news >/dev/null 2>&1
is "two recipients: first refused" "$?" 1
og status two-b@example.org --stream news >/dev/null 2>&1
is "two recipients: second still accepted" "$?" 0

# one DSN, several recipients with different actions (RFC 3464): the
# first one does not speak for the others
mixed() { # $1 $2 first recipient and its action, $3 $4 the second one
	cat <<MSG
From: MAILER-DAEMON@mx.example.com
To: news@example.com
Subject: Delivery Status Notification
Message-Id: <mixed-$1-$3@mx.example.com>
Content-Type: multipart/report; report-type=delivery-status; boundary="B3"

--B3
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; $1
Action: $2
Status: $( [ "$2" = failed ] && echo 5.1.1 || { [ "$2" = delayed ] && echo 4.4.1 || echo 2.0.0; } )
Diagnostic-Code: smtp; $( [ "$2" = failed ] && echo "550 5.1.1 User unknown" || echo "250 ok" )

Final-Recipient: rfc822; $3
Action: $4
Status: $( [ "$4" = failed ] && echo 5.1.1 || { [ "$4" = delayed ] && echo 4.4.1 || echo 2.0.0; } )
Diagnostic-Code: smtp; $( [ "$4" = failed ] && echo "550 5.1.1 User unknown" || echo "connect to mx.example.org: Connection timed out" )

--B3--
MSG
}
for a in mx-a@example.org mx-b@example.org mx-c@example.org \
    mx-d@example.org mx-e@example.org mx-f@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done
mixed mx-a@example.org delayed mx-b@example.org failed >"$T/mixed1.eml"
og bounce <"$T/mixed1.eml" 2>"$T/log"
og status mx-b@example.org --stream news >/dev/null 2>&1
is "delayed, then failed: the failed one suppressed" "$?" 1
mixed mx-c@example.org relayed mx-d@example.org failed >"$T/mixed2.eml"
og bounce <"$T/mixed2.eml" 2>"$T/log"
og status mx-d@example.org --stream news >/dev/null 2>&1
is "relayed, then failed: the failed one suppressed" "$?" 1
mixed mx-e@example.org failed mx-f@example.org delayed >"$T/mixed3.eml"
for i in 1 2 3; do og bounce <"$T/mixed3.eml" 2>"$T/log"; done
like "failed, then delayed: the delayed one not counted" "$(cat "$T/log")" "*to=<mx-f@example.org>*action=ignored detail=delay-notice*"
og status mx-f@example.org --stream news >/dev/null 2>&1
is "failed, then delayed three times: the delayed one still accepted" "$?" 0

# the token in the subject, as some clients send it
og optin u3@example.org --stream news >/dev/null 2>&1
tok3=$(og token u3@example.org --stream news | sed -n 's/^token: //p')
printf 'From: u3@example.org\nTo: unsub@example.com\nSubject: unsubscribe %s\n\nx\n' "$tok3" >"$T/unsub3.eml"
og unsub-mail --rcpt unsub@example.com <"$T/unsub3.eml" 2>/dev/null
og status u3@example.org --stream news >/dev/null 2>&1
is "unsub-mail: token in the subject works" "$?" 1
# A long domain label of the address is no token: the subject's counts.
og optin u4@example.org --stream news >/dev/null 2>&1
tok4=$(og token u4@example.org --stream news | sed -n 's/^token: //p')
printf 'From: u4@example.org\nTo: unsub@unsubscribe-requests-for-the-newsletter-of-example.com\nSubject: unsubscribe %s\n\nx\n' "$tok4" >"$T/unsub4.eml"
og unsub-mail --rcpt unsub@unsubscribe-requests-for-the-newsletter-of-example.com <"$T/unsub4.eml" 2>/dev/null
og status u4@example.org --stream news >/dev/null 2>&1
is "unsub-mail: a long domain label is not taken for a token" "$?" 1

# A token in the address the mail came to that does not verify (a system
# on the way lowercased it) names nobody: the body, quoting a newsletter
# someone forwarded with that person's link, must not opt them out.
og optin v1@example.org --stream news >/dev/null 2>&1
og optin v2@example.org --stream news >/dev/null 2>&1
tokv1=$(og token v1@example.org --stream news | sed -n 's/^token: //p')
tokv2=$(og token v2@example.org --stream news | sed -n 's/^token: //p')
lowv1=$(printf '%s' "$tokv1" | tr 'A-Z' 'a-z')
printf 'From: v1@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\n\n> ---------- Forwarded message ---------\n> Unsubscribe: https://unsub.example.com/u/%s\n' \
    "$lowv1" "$tokv2" >"$T/unsubq.eml"
og unsub-mail --rcpt "unsub+$lowv1@example.com" <"$T/unsubq.eml" 2>"$T/log"
like "address token that does not verify: quarantined" "$(cat "$T/log")" \
    "*quarantined*bad token in the address*"
og status v2@example.org --stream news >/dev/null 2>&1
is "... the person whose link the body quotes is still mailed" "$?" 0
# A double opt-in's confirmation token is no unsubscribe address: mail to
# unsub+CONFIRMTOKEN@ opts out nothing, and the request still confirms.
ctok=$(og optin v3@example.org --stream news --double | awk '{print $NF}')
printf 'From: v3@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\n\nx\n' \
    "$ctok" >"$T/unsubc.eml"
og unsub-mail --rcpt "unsub+$ctok@example.com" <"$T/unsubc.eml" 2>"$T/log"
like "confirmation token at the unsubscribe address: quarantined" \
    "$(cat "$T/log")" "*quarantined*bad token in the address*"
og confirm "$ctok" >/dev/null 2>&1
is "... and the request still confirms" "$?" 0
# --dry-run names whom the real run would act on: not the quoted person
# here; the token's person for a token in the subject.
is "dry run of it does not name the quoted person" \
    "$(og unsub-mail --dry-run --json --rcpt "unsub+$lowv1@example.com" "$T/unsubq.eml" 2>/dev/null |
        grep -c v2@example.org)" 0
like "dry run names the subject token's person" \
    "$(og unsub-mail --dry-run --json --rcpt unsub@example.com "$T/unsub3.eml" 2>/dev/null)" \
    '*"recipient":"u3@example.org"*'
# What the mailbox providers send to a mailto: List-Unsubscribe: Gmail an
# automatic note from the subscriber's address (here an alias of it),
# Apple Mail one marked X-Apple-Unsubscribe.  Each is an unsubscribe, in
# the log and in --json, for the person the address's token names.
og optin ap@example.org --stream news >/dev/null 2>&1
tokap=$(og token ap@example.org --stream news | sed -n 's/^token: //p')
cat >"$T/gmail-unsub.eml" <<MSG
MIME-Version: 1.0
From: Ap <ap.alias@gmail.example>
Date: Tue, 10 Mar 2026 10:00:00 +0100
Message-ID: <CAF-gmail-1@mail.gmail.example>
Subject: unsubscribe
To: unsub+$tokap@example.com
Content-Type: text/plain; charset="UTF-8"

This message was automatically generated by Gmail.
MSG
cat >"$T/apple-unsub.eml" <<MSG
From: Ap <ap@icloud.example>
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit
Mime-Version: 1.0 (Mac OS X Mail 16.0 \(3731.500.231\))
Subject: unsubscribe
Message-Id: <A1B2C3-apple@icloud.example>
Date: Tue, 10 Mar 2026 10:00:00 +0100
To: unsub+$tokap@example.com
X-Apple-Unsubscribe: true

This message was automatically generated by Mail to unsubscribe you from the mailing list.
MSG
like "dry run of Gmail's unsubscribe mail: an unsubscribe of the token's person" \
    "$(og unsub-mail --dry-run --json --rcpt "unsub+$tokap@example.com" "$T/gmail-unsub.eml" 2>/dev/null)" \
    '*"class":"unsubscribe","recipient":"ap@example.org",*'
# An Apple Mail one whose address token does not verify: the dry run
# names nobody (not its sender) and says it would be kept.
out=$(og unsub-mail --dry-run --json --rcpt "unsub+$lowv1@example.com" "$T/apple-unsub.eml" 2>/dev/null)
like "dry run of Apple Mail's, bad token: names nobody" "$out" \
    '*"class":"unsubscribe","recipient":"",*'
like "... and says it would be quarantined, and why" "$out" \
    '*"quarantine":"bad token in the address it came to*'
og unsub-mail --rcpt "unsub+$tokap@example.com" --queue-id 5C1D2E3F7 \
    <"$T/apple-unsub.eml" 2>"$T/log"
like "Apple Mail's unsubscribe mail: logged as an unsubscribe" "$(cat "$T/log")" \
    "*5C1D2E3F7: unsub-mail: to=<ap@example.org> class=unsubscribe action=unsubscribed scope=stream:news*"
og unsub-mail --rcpt "unsub+$tokap@example.com" <"$T/gmail-unsub.eml" 2>"$T/log"
like "... Gmail's after it: the same opt-out, no second event" "$(cat "$T/log")" \
    "*to=<ap@example.org> class=unsubscribe action=unchanged*"
is "... one opt-out in her history" "$(og audit ap@example.org | grep -c ' optout ')" 1
# Without a token in the address, tokens of two people in the body name
# nobody.
printf 'From: v1@example.org\nTo: unsub@example.com\nSubject: unsubscribe\n\nmine: %s\n> theirs: %s\n' \
    "$tokv1" "$tokv2" >"$T/unsubq2.eml"
og unsub-mail --rcpt unsub@example.com <"$T/unsubq2.eml" 2>"$T/log"
like "tokens of two people: quarantined" "$(cat "$T/log")" \
    "*quarantined*tokens of different people*"
og status v2@example.org --stream news >/dev/null 2>&1
is "... neither opted out (v2)" "$?" 0
og status v1@example.org --stream news >/dev/null 2>&1
is "... neither opted out (v1)" "$?" 0
# Without a token in the address, a token the text quotes counts only
# when it is the sender's own: v1 forwarding v2's newsletter to the bare
# address opts out nobody.
printf 'From: v1@example.org\nTo: unsub@example.com\nSubject: unsubscribe\n\n> Unsubscribe: https://unsub.example.com/u/%s\n' \
    "$tokv2" >"$T/unsubq3.eml"
og unsub-mail --rcpt unsub@example.com <"$T/unsubq3.eml" 2>"$T/log"
like "someone else's token in the text: quarantined" "$(cat "$T/log")" \
    "*quarantined*not the sender's*"
og status v2@example.org --stream news >/dev/null 2>&1
is "... that person still mailed" "$?" 0
# A file without --rcpt: the To it was written to is the address.
og unsub-mail "$T/unsubq.eml" 2>"$T/log"
like "no --rcpt: the To's token that does not verify names nobody" \
    "$(cat "$T/log")" "*quarantined*bad token in the address*"
og status v2@example.org --stream news >/dev/null 2>&1
is "... the quoted person still mailed" "$?" 0

# A mailto: target whose fixed address is long (40 letters, digits, '-'
# and '_': as long as a token) and takes the token in its subject: the
# address is the admin's own, no token, and the subject's token counts.
cp "$T/optgate.conf" "$T/long.conf"
cat >>"$T/long.conf" <<CONF
[stream digest]
match = header:X-Optgate-Stream=digest
consent = none
sender = example.com
unsubscribe = mailto:marketing-newsletter-unsubscribe-requests@example.com?subject=unsubscribe%20%t
CONF
"$O" -c "$T/long.conf" optin w1@example.org --stream digest >/dev/null 2>&1
tokw1=$("$O" -c "$T/long.conf" token w1@example.org --stream digest | sed -n 's/^token: //p')
printf 'From: w1@example.org\nTo: marketing-newsletter-unsubscribe-requests@example.com\nSubject: unsubscribe %s\n\nx\n' \
    "$tokw1" >"$T/unsublong.eml"
"$O" -c "$T/long.conf" unsub-mail \
    --rcpt marketing-newsletter-unsubscribe-requests@example.com \
    <"$T/unsublong.eml" 2>"$T/log"
like "long bare mailto: address, token in the subject: unsubscribed" \
    "$(cat "$T/log")" "*to=<w1@example.org> class=unsubscribe action=unsubscribed*"
"$O" -c "$T/long.conf" status w1@example.org --stream digest >/dev/null 2>&1
is "... opted out" "$?" 1

# [unsubd] token_max_age holds for a mailed token too: an old link (a
# leaked archive) changes nothing; one exactly that old still works.
sed 's/^\[feedback\]/[unsubd]\ntoken_max_age = 30d\n&/' "$T/optgate.conf" >"$T/age.conf"
og optin x1@example.org --stream news >/dev/null 2>&1
og optin x2@example.org --stream news >/dev/null 2>&1
tokx1=$(OPTGATE_NOW=$(($(date +%s) - 31 * 86400)) og token x1@example.org --stream news | sed -n 's/^token: //p')
tokx2=$(OPTGATE_NOW=$(($(date +%s) - 30 * 86400)) og token x2@example.org --stream news | sed -n 's/^token: //p')
printf 'From: x1@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\n\nx\n' "$tokx1" >"$T/unsubx1.eml"
"$O" -c "$T/age.conf" unsub-mail --rcpt "unsub+$tokx1@example.com" <"$T/unsubx1.eml" 2>"$T/log"
like "token older than token_max_age: quarantined" "$(cat "$T/log")" \
    "*quarantined*expired token*"
og status x1@example.org --stream news >/dev/null 2>&1
is "... still mailed" "$?" 0
printf 'From: x2@example.org\nTo: unsub@example.com\nSubject: unsubscribe %s\n\nx\n' "$tokx2" >"$T/unsubx2.eml"
"$O" -c "$T/age.conf" unsub-mail --rcpt unsub@example.com <"$T/unsubx2.eml" 2>"$T/log"
og status x2@example.org --stream news >/dev/null 2>&1
is "token exactly token_max_age old: opted out" "$?" 1

# A delivery report at the unsubscribe address answers spam that forged
# unsub+TOKEN@ as its sender: no person asked, nobody is opted out.
og optin y1@example.org --stream news >/dev/null 2>&1
toky1=$(og token y1@example.org --stream news | sed -n 's/^token: //p')
dsn someone@example.net 5.1.1 "550 5.1.1 User unknown" >"$T/unsubdsn.eml"
og unsub-mail --rcpt "unsub+$toky1@example.com" <"$T/unsubdsn.eml" 2>"$T/log"
like "DSN at the unsubscribe address: quarantined" "$(cat "$T/log")" \
    "*quarantined*a machine's report, not an unsubscribe mail*"
og status y1@example.org --stream news >/dev/null 2>&1
is "... its token's person still mailed" "$?" 0
# So is a bounce in the text formats MTAs still write (qmail's, Exim's
# with X-Failed-Recipients): the spam's failure notice, not a request.
og optin y2@example.org --stream news >/dev/null 2>&1
toky2=$(og token y2@example.org --stream news | sed -n 's/^token: //p')
cat >"$T/unsubqmail.eml" <<MSG
Return-Path: <>
From: MAILER-DAEMON@mx.example.net
To: unsub+$toky2@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<someone@example.net>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <someone@example.net>: User unknown
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

Return-Path: <unsub+$toky2@example.com>
From: "Cheap pills" <unsub+$toky2@example.com>
To: someone@example.net
Subject: cheap pills

buy now
MSG
og unsub-mail --rcpt "unsub+$toky2@example.com" --queue-id 5C1D2E3F6 \
    <"$T/unsubqmail.eml" 2>"$T/log"
like "qmail bounce at the unsubscribe address: quarantined" "$(cat "$T/log")" \
    "*5C1D2E3F6: unsub-mail: quarantined*a machine's report, not an unsubscribe mail*"
og status y2@example.org --stream news >/dev/null 2>&1
is "... its token's person still mailed" "$?" 0
cat >"$T/unsubexim.eml" <<MSG
Return-Path: <>
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: unsub+$toky2@example.com
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: someone@example.net
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  someone@example.net
    host mx.example.net [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<someone@example.net>:
    550 5.1.1 User unknown
MSG
og unsub-mail --rcpt "unsub+$toky2@example.com" <"$T/unsubexim.eml" 2>"$T/log"
like "Exim bounce at the unsubscribe address: quarantined" "$(cat "$T/log")" \
    "*quarantined*a machine's report, not an unsubscribe mail*"
og status y2@example.org --stream news >/dev/null 2>&1
is "... its token's person still mailed" "$?" 0
# A vacation notice or a challenge-response request answers that spam
# too: its header says it is an auto-reply (RFC 3834), and the token's
# person asked nothing.
og optin y3@example.org --stream news >/dev/null 2>&1
toky3=$(og token y3@example.org --stream news | sed -n 's/^token: //p')
cat >"$T/unsubvac.eml" <<MSG
Return-Path: <unsub+$toky3@example.com>
From: Bob <bob@example.net>
To: unsub+$toky3@example.com
Subject: Out of Office: cheap pills
Auto-Submitted: auto-replied
Message-ID: <vac-1@example.net>

I am out of the office until Monday and will read your mail then.
MSG
og unsub-mail --rcpt "unsub+$toky3@example.com" <"$T/unsubvac.eml" 2>"$T/log"
like "vacation reply at the unsubscribe address: quarantined" "$(cat "$T/log")" \
    "*quarantined*an auto-reply (its header says so), not an unsubscribe mail*"
og status y3@example.org --stream news >/dev/null 2>&1
is "... its token's person still mailed" "$?" 0
cat >"$T/unsubcr.eml" <<MSG
From: Spam Guard <guard@example.net>
To: unsub+$toky3@example.com
Subject: Please confirm your message
X-Autoreply: yes
Message-ID: <cr-1@example.net>

Your mail to carol@example.net is held until you confirm that you are
a person: reply to this message.
MSG
og unsub-mail --rcpt "unsub+$toky3@example.com" <"$T/unsubcr.eml" 2>"$T/log"
like "challenge-response request at the unsubscribe address: quarantined" \
    "$(cat "$T/log")" "*quarantined*an auto-reply*"
og status y3@example.org --stream news >/dev/null 2>&1
is "... its token's person still mailed" "$?" 0
# A person's subject that reads like one, without such a header, is
# still a request.
printf 'From: y3@example.org\nTo: unsub+%s@example.com\nSubject: Out of office soon - please confirm I am off this list\n\nstop\n' \
    "$toky3" >"$T/unsubooo.eml"
og unsub-mail --rcpt "unsub+$toky3@example.com" <"$T/unsubooo.eml" 2>"$T/log"
like "a person's unsubscribe mail that says out of office: unsubscribed" \
    "$(cat "$T/log")" "*to=<y3@example.org> class=unsubscribe action=unsubscribed*"
# A person's own words may say "bounce" or "failure": still a request.
printf 'From: y2@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe - your mail keeps bouncing, delivery failure\n\nstop\n' \
    "$toky2" >"$T/unsubwords.eml"
og unsub-mail --rcpt "unsub+$toky2@example.com" <"$T/unsubwords.eml" 2>"$T/log"
like "a person's unsubscribe mail that says bounce and failure: unsubscribed" \
    "$(cat "$T/log")" "*to=<y2@example.org> class=unsubscribe action=unsubscribed*"

# a Maildir of reports: one batch, the same complaint twice counts once
for a in m1@example.org m2@example.org m3@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
dsn m1@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/md/new/1"
dsn m2@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/md/new/2"
arf m3@example.org report-md@fbl.example.net "https://x/u/y" >"$T/md/new/3"
cp "$T/md/new/3" "$T/md/new/4"
og bounce --maildir "$T/md" 2>"$T/log"
is "maildir: exit 0" "$?" 0
is "maildir: processed files moved to .done" "$(ls "$T/md/new" | wc -l):$(ls "$T/md/.done" | wc -l)" "0:4"
like "maildir: the second copy of a report is a duplicate" "$(cat "$T/log")" "*to=<m3@example.org>*action=duplicate*"
n=0
for a in m1@example.org m2@example.org m3@example.org; do
	og status "$a" --stream news >/dev/null 2>&1 || n=$((n + 1))
done
is "maildir: all three refused" "$n" 3

# One report whose change cannot go in (its person's record is full: 64
# partner opt-outs, and a hard bounce needs a 65th entry) must not hold
# back the others of the batch: before, every report of the maildir was
# kept for a retry, on every run, and none went in.
{
	echo 'address,partner,state,time,source'
	i=1
	while [ $i -le 64 ]; do
		echo "fullrec@example.org,p$i,optout,2026-01-02T00:00:00Z,x"
		i=$((i + 1))
	done
} >"$T/fullrec.csv"
og import "$T/fullrec.csv" >/dev/null 2>&1
for a in fullrec@example.org m4@example.org m5@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done
mkdir -p "$T/md2/new" "$T/md2/cur" "$T/md2/tmp"
dsn m4@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/md2/new/1"
dsn fullrec@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/md2/new/2"
dsn m5@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/md2/new/3"
og bounce --maildir "$T/md2" 2>"$T/log"
is "maildir, one change that cannot go in: exit 75 (retry)" "$?" 75
is "... only its report is kept for the retry" "$(ls "$T/md2/new" | tr '\n' ' ')" "2 "
like "... the log names it" "$(cat "$T/log")" "*store write failed: *retry*"
n=0
for a in m4@example.org m5@example.org; do
	og status "$a" --stream news >/dev/null 2>&1 || n=$((n + 1))
done
is "... the other two reports are in: both refused" "$n" 2

# [address] local_part = sensitive: the DSN names the address as it was
# sent, case and all, and that is the record it suppresses (in a store
# made so: one made case-insensitive refuses such a config)
sed -e 's/^\[feedback\]/[address]\nlocal_part = sensitive\n&/' \
    -e "s|^path = $T/store\$|path = $T/store-cs|" "$T/optgate.conf" >"$T/cs.conf"
"$O" -c "$T/cs.conf" init >/dev/null 2>&1
"$O" -c "$T/cs.conf" optin Mixed.Case@example.org --stream news >/dev/null 2>&1
dsn Mixed.Case@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/cs.eml"
"$O" -c "$T/cs.conf" bounce <"$T/cs.eml" 2>"$T/log"
like "case-sensitive local part: suppressed" "$(cat "$T/log")" "*to=<Mixed.Case@example.org> class=hard*action=suppressed*"
"$O" -c "$T/cs.conf" status Mixed.Case@example.org --stream news >/dev/null 2>&1
is "case-sensitive local part: refused afterwards" "$?" 1

# a report about an address never sent to: nothing changes
dsn stranger@example.net 5.1.1 "550 5.1.1 User unknown" >"$T/stranger.eml"
og bounce <"$T/stranger.eml" 2>"$T/log"
is "unknown address: exits 0" "$?" 0
like "unknown address: ignored" "$(cat "$T/log")" "*action=ignored detail=unknown-address*"
og status stranger@example.net >"$T/st" 2>&1
like "unknown address: no record created" "$(cat "$T/st")" "*no record*"

# The receiver forwarded our subscriber's mail and the forward failed:
# the DSN's Final-Recipient is the other mailbox, its Original-Recipient
# (ORCPT) the address we sent to.  That one is suppressed.
og optin fwd@example.org --stream news >/dev/null 2>&1
ORCPT=fwd@example.org dsn fwd.elsewhere@example.net 5.1.1 "550 5.1.1 User unknown" >"$T/fwd.eml"
og bounce <"$T/fwd.eml" 2>"$T/log"
like "forwarded: the original recipient is suppressed" "$(cat "$T/log")" \
    "*to=<fwd@example.org> class=hard*action=suppressed*"
og status fwd@example.org --stream news >/dev/null 2>&1
is "forwarded: refused afterwards" "$?" 1
og status fwd.elsewhere@example.net >"$T/st" 2>&1
like "forwarded: no record for the final mailbox" "$(cat "$T/st")" "*no record*"
# ... but an Original-Recipient the store does not know, beside a final
# one it knows, is not ours: the final one is suppressed
og optin fin@example.org --stream news >/dev/null 2>&1
ORCPT=someone@relay.example dsn fin@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/fin.eml"
og bounce <"$T/fin.eml" 2>"$T/log"
like "unknown original, known final: the final one is suppressed" "$(cat "$T/log")" \
    "*to=<fin@example.org> class=hard*action=suppressed*"

# no record, but the returned original is mail of one of our streams
# (a transactional mail, say): the hard bounce is recorded
dsn txn@example.net 5.1.1 "550 5.1.1 User unknown" "X-Optgate-Stream: news" >"$T/txn.eml"
og bounce <"$T/txn.eml" 2>"$T/log"
like "our stream's mail, no record: suppressed" "$(cat "$T/log")" "*to=<txn@example.net> class=hard*action=suppressed*"
og status txn@example.net --stream news >/dev/null 2>&1
is "our stream's mail, no record: refused afterwards" "$?" 1

# store unwritable (gone): 75 so Postfix keeps the message and retries
mv "$T/store" "$T/store.away"
og bounce <"$T/hard.eml" 2>/dev/null
is "store missing: exit 75" "$?" 75
og bounce "$T/hard.eml" 2>/dev/null
is "store missing, file given: exit 75" "$?" 75
ok "store missing: the message file is still there" test -s "$T/hard.eml"
og bounce --queue-id 7C3D21A0F <"$T/hard.eml" 2>"$T/log"
like "store missing: logged with the report's queue id and why" "$(cat "$T/log")" "*error: 7C3D21A0F: bounce: store cannot be opened: *$T/store*left in the queue for a retry*"
mv "$T/store.away" "$T/store"

# an auto-reply is ignored
printf 'From: bob@example.org\nTo: news@example.com\nSubject: Out of Office\nAuto-Submitted: auto-replied\n\nI am away.\n' >"$T/ooo.eml"
og bounce <"$T/ooo.eml" 2>"$T/log"
like "auto-reply ignored" "$(cat "$T/log")" "*class=ignore*action=ignored*"

# --dry-run --json changes nothing and prints the fields
og optin dry@example.org --stream news >/dev/null 2>&1
dsn dry@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/dry.eml"
if syslog_start "$T/syslog-dry"; then
	out=$(syslog_run "$O" -c "$T/optgate.conf" bounce --dry-run --json "$T/dry.eml" 2>/dev/null)
	is "dry-run: nothing in the mail log" "$(syslog_last)" ""
	syslog_stop
else
	out=$(og bounce --dry-run --json "$T/dry.eml" 2>/dev/null)
	echo "ok - # SKIP dry-run to syslog: not root, or no unshare, python3"
fi
like "dry-run json" "$out" '{"file":"*dry.eml","class":"hard","recipient":"dry@example.org","status":"5.1.1","reason":"user-unknown"*'
og status dry@example.org --stream news >/dev/null 2>&1
is "dry-run changes nothing" "$?" 0
# a reporter trusted by its SMTP client (--client) stays trusted when its
# quarantined report is retried
og optin cl@example.org --stream news >/dev/null 2>&1
tokc=$(og token cl@example.org --stream news | sed -n 's/^token: //p')
arf "" report-cl@reports.example "https://unsub.example.com/u/$tokc" feedback@reports.example >"$T/arfcl.eml"
mv "$T/keys" "$T/keys.away"
og fbl --client mx.other.example <"$T/arfcl.eml" 2>"$T/log"
mv "$T/keys.away" "$T/keys"
qn=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
ok "client-trusted report: quarantined while the keys were away" test -n "$qn"
og quarantine retry "$qn" >"$T/out" 2>&1
like "client-trusted report: processed on retry" "$(cat "$T/out")" "*1 retried, 1 processed, 0 still quarantined*"
og status cl@example.org --stream news >/dev/null 2>&1
is "client-trusted report: refused after the retry" "$?" 1

# a retried entry that is still kept shows the reason it has now
arf "" report-rr@rr.example "https://unsub.example.com/u/$forged" abuse@rr.example >"$T/arfrr.eml"
og fbl <"$T/arfrr.eml" 2>"$T/log"
qn=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
like "untrusted, forged: quarantined as untrusted" "$(og quarantine list | grep "^$qn ")" "*reporter not trusted*"
sed -i 's/^trusted_reporters = other.*/&\ntrusted_reporters = rr.example/' "$T/optgate.conf"
og quarantine retry "$qn" >/dev/null 2>&1
like "trusted now, retried: listed with the new reason" "$(og quarantine list | grep "^$qn ")" "*no recipient found (no token verified)*"

# a keys file the pipe's user= cannot read: 75 (Postfix retries), not a
# genuine opt-out quarantined as a "bad token"
og optin pk@example.org --stream news >/dev/null 2>&1
tokk=$(og token pk@example.org --stream news | sed -n 's/^token: //p')
printf 'From: pk@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <pk-1@example.org>\n\nplease\n' "$tokk" >"$T/unsubk.eml"
if [ "$(id -u)" = 0 ]; then
	# root reads every file: run as the pipe's own user would
	chmod 755 "$T"
	chown -R nobody "$T/store" "$T/quarantine"
	pipe_og() { runuser -u nobody -- "$O" -c "$T/optgate.conf" "$@"; }
else
	chmod 000 "$T/keys"
	pipe_og() { og "$@"; }
fi
q0=$(ls "$T/quarantine" | wc -l)
pipe_og unsub-mail --rcpt "unsub+$tokk@example.com" <"$T/unsubk.eml" 2>"$T/log"
is "unreadable keys file: exit 75" "$?" 75
is "unreadable keys file: nothing quarantined" "$(ls "$T/quarantine" | wc -l)" "$q0"
like "unreadable keys file: logged" "$(cat "$T/log")" "*cannot load the keys file*"
if [ "$(id -u)" = 0 ]; then chown nobody "$T/keys"; else chmod 600 "$T/keys"; fi
pipe_og unsub-mail --rcpt "unsub+$tokk@example.com" <"$T/unsubk.eml" 2>"$T/log"
is "keys readable again: exit 0" "$?" 0
og status pk@example.org --stream news >/dev/null 2>&1
is "keys readable again: opted out" "$?" 1
# quarantine list / retry an admin gets wrong: a folder they cannot read
# is not an empty quarantine; a name that is not there is not a retry
if [ "$(id -u)" = 0 ]; then
	chown root "$T/quarantine"
	chmod 750 "$T/quarantine"
	runuser -u nobody -- "$O" -c "$T/optgate.conf" quarantine list >"$T/out" 2>"$T/log"
	rc=$?
	chown nobody "$T/quarantine"
else
	chmod 000 "$T/quarantine"
	og quarantine list >"$T/out" 2>"$T/log"
	rc=$?
	chmod 750 "$T/quarantine"
fi
is "quarantine list, folder unreadable: exit 5" "$rc" 5
like "quarantine list, folder unreadable: says why" "$(cat "$T/log")" "*quarantine $T/quarantine: Permission denied*"
is "quarantine list, folder unreadable: no \"0 quarantined\"" "$(cat "$T/out")" ""
og quarantine retry 1795000000.000000000.1_0.fbl >"$T/out" 2>"$T/log"
is "quarantine retry of a name not there: exit 1" "$?" 1
like "quarantine retry of a name not there: named" "$(cat "$T/log")" "*1795000000.000000000.1_0.fbl: not in the quarantine*"
og unsub-mail --rcpt unsub@example.com <"$T/unsub2.eml" 2>"$T/log"
qn=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
og quarantine retry "$T/quarantine/$qn.reason" >"$T/out" 2>"$T/log"
is "quarantine retry by the path of NAME.reason: exit 0" "$?" 0
like "quarantine retry by the path of NAME.reason: retried" "$(cat "$T/out")" "1 retried, 0 processed, 1 still quarantined"
# an admin runs a processor by hand, as root, before any report needed the
# quarantine: the folder it makes must stay the pipe user's to write
if [ "$(id -u)" = 0 ]; then
	sed "s|^quarantine = .*|quarantine = $T/q2|" "$T/optgate.conf" >"$T/q2.conf"
	chmod 644 "$T/q2.conf"
	printf 'not a report\n\0\1\2' >"$T/junk"
	"$O" -c "$T/q2.conf" bounce "$T/junk" 2>/dev/null
	is "root's bounce FILE: quarantined, exit 0" "$?" 0
	is "root's bounce FILE: the quarantine it made belongs to the store's owner" \
	    "$(find "$T/q2" ! -user nobody | wc -l)" 0
	runuser -u nobody -- "$O" -c "$T/q2.conf" bounce <"$T/junk" 2>"$T/log"
	is "then the pipe's user quarantines too: exit 0, not 75" "$?" 0
fi
# A quarantined report is answered 0 (Postfix deletes its copy) only once
# its name is on disk: the folder is synced after the rename, and a folder
# the processor made is synced into its parent (power loss: strace).
if command -v strace >/dev/null 2>&1; then
	sed "s|^quarantine = .*|quarantine = $T/q3/new|" "$T/optgate.conf" >"$T/q3.conf"
	mkdir "$T/q3"
	# (LeakSanitizer's exit check cannot run under strace)
	printf 'not a report\n' |
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -y -e trace=rename,fsync,mkdir \
	    -o "$T/strace" "$O" -c "$T/q3.conf" fbl 2>/dev/null
	is "quarantined under strace: exit 0" "$?" 0
	last=$(grep -n "^[0-9]* *rename(.*$T/q3/new/[0-9]" "$T/strace" | tail -1 | cut -d: -f1)
	ok "the quarantine folder is synced after the entry's rename" \
	    test -n "$last" -a -n "$(sed -n "$((${last:-1} + 1)),\$p" "$T/strace" |
	    grep "fsync([0-9]*<$T/q3/new>) = 0")"
	ok "the folder it made is synced into its parent" \
	    grep -q "fsync([0-9]*<$T/q3>) = 0" "$T/strace"
fi

# An erased person (optgate erase) keeps only a keyed hash, which stops all
# her mail.  Reports about mail sent before the erasure still come back:
# none may store her address again (a record, a soft-bounce count).
# (The reports carry the List-Unsubscribe of the mail she was sent.)
og optin cara@example.org --stream news >/dev/null 2>&1
LU=$(og token cara@example.org --stream news |
    sed -n 's/^unsubscribe: \(http[^ ]*\).*/\1/p' | head -1)
og erase cara@example.org >/dev/null 2>&1
arf cara@example.org report-cara@fbl.example.net "$LU" >"$T/arfcara.eml"
og fbl <"$T/arfcara.eml" 2>"$T/log"
is "erased, then a complaint: exits 0" "$?" 0
like "erased, then a complaint: logged as unchanged, address erased" \
    "$(cat "$T/log")" "*fbl: to=<cara@example.org> class=complaint action=unchanged address=erased*"
dsn cara@example.org 5.1.1 "550 5.1.1 User unknown" "List-Unsubscribe: <$LU>" \
    >"$T/cara-hard.eml"
og bounce <"$T/cara-hard.eml" 2>"$T/log"
like "erased, then a hard bounce: unchanged" "$(cat "$T/log")" \
    "*class=hard status=5.1.1 action=unchanged address=erased*"
for i in 1 2 3; do
	dsn cara@example.org 4.2.2 "452 4.2.2 Mailbox full" \
	    "List-Unsubscribe: <$LU>" | og bounce 2>"$T/log"
done
like "erased, then soft bounces: not counted" "$(cat "$T/log")" \
    "*class=soft status=4.2.2 action=unchanged address=erased*"
og optout cara@example.org >"$T/out" 2>&1
like "erased, then an admin opt-out: not recorded" "$(cat "$T/out")" \
    "*not recorded (the address was erased)*"
like "erased, then reports: still no record, still erased" \
    "$(og status cara@example.org --stream news 2>&1)" "*no record*erased at the person's request*"
is "erased, then reports: not in an export" \
    "$(og export 2>/dev/null | grep -c cara@)" 0
is "erased, then reports: no soft-bounce count holds the address" \
    "$(mdb_dump -p -s main "$T/store/counters" 2>/dev/null | grep -c cara@)" 0
# Back by a new opt-in: her reports count again.
og optin cara@example.org --stream news >/dev/null 2>&1
arf cara@example.org report-cara2@fbl.example.net "$LU" >"$T/arfcara2.eml"
og fbl <"$T/arfcara2.eml" 2>"$T/log"
like "back by a new opt-in, then a complaint: suppressed" "$(cat "$T/log")" \
    "*to=<cara@example.org> class=complaint action=suppressed*"

# --- forged bounces where our mail is VERP'd (the default) ---
# The promo stream has verp = bounce+%t@bounces.example.com: every bounce
# of our mail comes back to an address with the recipient's token (the
# pipe's --rcpt).  Anyone can mail a DSN naming a customer to the bounce
# domain; one without a token that verifies must suppress nobody, and is
# kept for a human with the reason.  (The default: no bounce_token line.)
sed "/^bounce_token = /d; s|^quarantine = .*|quarantine = $T/qv|" \
    "$T/optgate.conf" >"$T/verp.conf"
ov() { "$O" -c "$T/verp.conf" "$@"; }
accepted() { # ADDR: accepted for promo and for news?
	og status "$1" --stream promo >/dev/null 2>&1 &&
	    og status "$1" --stream news >/dev/null 2>&1
}
for a in fx@example.org fy@example.org fz@example.org; do
	og optin "$a" --stream promo >/dev/null 2>&1
	og optin "$a" --stream news >/dev/null 2>&1
done
# What the forger writes: a Postfix DSN whose returned original looks like
# our promo mail (its From and Return-Path), about a known customer.
dsn fx@example.org 5.1.1 "550 5.1.1 <fx@example.org>: User unknown" \
    "Return-Path: <promo@example.com>" |
    sed 's/^From: news@example.com$/From: Promo <promo@example.com>/' >"$T/forged.eml"
n0=$(og audit fx@example.org | wc -l)
ov bounce --rcpt bounce@bounces.example.com --queue-id 7F1A2B3C4D \
    <"$T/forged.eml" 2>"$T/log"
is "VERP: forged DSN for a known address, no token: exits 0 (no retry)" "$?" 0
ok "... the customer is still mailed (promo and news)" accepted fx@example.org
is "... nothing written to her history" "$(og audit fx@example.org | wc -l)" "$n0"
like "... quarantined with the reason, under the report's queue id" "$(cat "$T/log")" \
    "*7F1A2B3C4D: bounce: quarantined as *: bounce without our token for <fx@example.org>: forged, or not about our mail (bounce_token = auto, verp configured; it has none)*"
like "... and quarantine list shows it, whole" "$(ov quarantine list)" \
    "*bounce*bounce without our token for <fx@example.org>: forged, or not about our mail (bounce_token = auto, verp configured; it has none)*"
# A token that does not verify (made up, or one of ours altered) is no token.
ftok=$(og token fx@example.org --stream promo | sed -n 's/^token: //p' |
    tr 'A-Za-z' 'B-ZAb-za')
ov bounce --rcpt "bounce+$ftok@bounces.example.com" <"$T/forged.eml" 2>"$T/log"
like "VERP: forged DSN to bounce+FORGEDTOKEN@: quarantined" "$(cat "$T/log")" \
    "*quarantined as *: bounce without our token for <fx@example.org>*none of its tokens verifies*"
ok "... the customer is still mailed" accepted fx@example.org
# Soft bounces are counted toward a suppression: forged ones are not.
for i in 1 2 3 4; do
	dsn fy@example.org 4.2.2 "452 4.2.2 Mailbox full" >"$T/forged-soft.eml"
	ov bounce --rcpt bounce@bounces.example.com <"$T/forged-soft.eml" 2>"$T/log"
done
like "VERP: forged soft bounces: quarantined, not counted" "$(cat "$T/log")" \
    "*quarantined as *: bounce without our token for <fy@example.org>*"
ok "... four of them (soft_bounce = 3): still mailed" accepted fy@example.org
# A real bounce of a real DSN (a Postfix one from the corpus), replayed at
# our bounce address about a customer of ours, is no bounce of our mail.
cdsn="$TOP/../shared/corpus/messages/0289-sisimai-lhost-postfix-14.eml"
if [ -f "$cdsn" ]; then
	og optin kijitora@2jo.example.jp --stream promo >/dev/null 2>&1
	ov bounce --rcpt bounce@bounces.example.com <"$cdsn" 2>"$T/log"
	like "VERP: a real Postfix DSN replayed, no token: quarantined" "$(cat "$T/log")" \
	    "*quarantined as *: bounce without our token for <kijitora@2jo.example.jp>*"
	og status kijitora@2jo.example.jp --stream promo >/dev/null 2>&1
	is "... its recipient still mailed" "$?" 0
	# README's advice for a bounce the admin trusts (mail sent before
	# VERP): retry it with a copy of the config that says optional.
	qk=$(sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$T/log")
	sed 's/^\[feedback\]$/&\nbounce_token = optional/' "$T/verp.conf" >"$T/optional.conf"
	"$O" -c "$T/optional.conf" quarantine retry "$qk" >"$T/out" 2>&1
	like "... retried with bounce_token = optional: applied" "$(cat "$T/out")" \
	    "*1 retried, 1 processed, 0 still quarantined*"
	og status kijitora@2jo.example.jp --stream promo >/dev/null 2>&1
	is "... and then its recipient is suppressed" "$?" 1
else
	for i in 1 2 3 4; do pass "# SKIP no corpus at $TOP/../shared/corpus"; done
fi
# A double opt-in's confirmation token (mailed to the person, anyone may
# hold it) is no bounce address token either.
ctk=$(og optin fz@example.org --stream promo --double | awk '{print $NF}')
og optin fz@example.org --stream promo >/dev/null 2>&1
dsn fz@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/forged-c.eml"
ov bounce --rcpt "bounce+$ctk@bounces.example.com" <"$T/forged-c.eml" 2>"$T/log"
like "VERP: DSN to bounce+CONFIRMATIONTOKEN@: quarantined" "$(cat "$T/log")" \
    "*quarantined as *: bounce without our token for <fz@example.org>*none of its tokens verifies*"
ok "... still mailed" accepted fz@example.org
# Backscatter about an address nobody knows: ignored as before, not kept.
dsn nobody-here@example.net 5.1.1 "550 5.1.1 User unknown" >"$T/bs.eml"
nq=$(ls "$T/qv" | wc -l)
ov bounce --rcpt bounce@bounces.example.com <"$T/bs.eml" 2>"$T/log"
like "VERP: backscatter for an unknown address: ignored" "$(cat "$T/log")" \
    "*to=<nobody-here@example.net> class=hard*action=ignored detail=unknown-address*"
is "... not quarantined" "$(ls "$T/qv" | wc -l)" "$nq"
# The real thing: the bounce comes to bounce+TOKEN@, the token of the
# mail's recipient, and suppresses her.
vtok=$(og token fx@example.org --stream promo | sed -n 's/^token: //p')
ov bounce --rcpt "bounce+$vtok@bounces.example.com" --queue-id 7F1A2B3C4E \
    <"$T/forged.eml" 2>"$T/log"
is "VERP: bounce to bounce+TOKEN@: exits 0" "$?" 0
like "... suppressed, by the token" "$(cat "$T/log")" \
    "*7F1A2B3C4E: bounce: to=<fx@example.org> class=hard status=5.1.1 action=suppressed scope=all by=token*"
og status fx@example.org --stream promo >/dev/null 2>&1
is "... and she is no longer mailed" "$?" 1
# An address lowercased on the way: the X-Optgate-Token of the returned
# original still names her.
dsn fy@example.org 5.1.1 "550 5.1.1 User unknown" \
    "X-Optgate-Token: $(og token fy@example.org --stream promo | sed -n 's/^token: //p')" \
    >"$T/real-hdr.eml"
ov bounce --rcpt "bounce+$(printf %s "$vtok" | tr A-Z a-z)@bounces.example.com" \
    <"$T/real-hdr.eml" 2>"$T/log"
like "VERP: token lowercased, X-Optgate-Token of the original: suppressed" \
    "$(cat "$T/log")" "*to=<fy@example.org> class=hard*action=suppressed*by=token*"
# Complaints come from trusted reporters, not through VERP: unchanged.
og optin cq@example.org --stream news >/dev/null 2>&1
arf cq@example.org report-cq@fbl.example.net "https://x/u/y" >"$T/arfcq.eml"
ov fbl <"$T/arfcq.eml" 2>"$T/log"
like "VERP: a trusted reporter's complaint without a token: suppressed" \
    "$(cat "$T/log")" "*fbl: to=<cq@example.org> class=complaint action=suppressed*"
og optin cr@example.org --stream news >/dev/null 2>&1
arf cr@example.org report-cr@fbl.example.net "https://x/u/y" >"$T/arfcr.eml"
ov bounce --rcpt bounce@bounces.example.com <"$T/arfcr.eml" 2>"$T/log"
like "... also one that arrives at the bounce address" \
    "$(cat "$T/log")" "*bounce: to=<cr@example.org> class=complaint action=suppressed*"
# The admin's choice: required without verp; optional (the old way) acts.
sed '/^verp = /d' "$T/verp.conf" >"$T/noverp.conf"
"$O" -c "$T/noverp.conf" bounce <"$T/forged-soft.eml" 2>"$T/log"
like "no stream with verp (auto): a token-less bounce is acted on" \
    "$(cat "$T/log")" "*to=<fy@example.org> class=soft*action=counted*"
sed 's/^\[feedback\]$/&\nbounce_token = required/' "$T/noverp.conf" >"$T/req.conf"
"$O" -c "$T/req.conf" bounce <"$T/forged-soft.eml" 2>"$T/log"
like "bounce_token = required without verp: quarantined" "$(cat "$T/log")" \
    "*bounce without our token for <fy@example.org>: forged, or not about our mail (bounce_token = required; it has none)*"
sed 's/^\[feedback\]$/&\nbounce_token = sometimes/' "$T/noverp.conf" >"$T/bad.conf"
"$O" -c "$T/bad.conf" config check >"$T/out" 2>&1
is "bounce_token = sometimes: config check fails" "$?" 2
like "... naming the choices" "$(cat "$T/out")" \
    "*bounce_token: expected auto | required | optional, got \"sometimes\"*"
# optional beside verp lets a forged bounce (it has no token) suppress
# anyone the store knows: config check says so, as README's "Forged
# bounces" does (it loads: README retries with such a copy).
"$O" -c "$T/optgate.conf" config check >"$T/out" 2>&1
is "bounce_token = optional with verp: config check exit 0" "$?" 0
like "... warns that a forged bounce can suppress" "$(cat "$T/out")" \
    "*warning: [[]feedback] bounce_token = optional with [[]stream promo] verp: a bounce without our token, as a forged one is, can suppress any address the store knows*"
is "... auto with verp: no such warning" \
    "$("$O" -c "$T/verp.conf" config check 2>&1 | grep -c 'bounce_token')" 0
sed 's/^\[feedback\]$/&\nbounce_token = optional/' "$T/noverp.conf" >"$T/optnv.conf"
is "... optional without verp: no such warning" \
    "$("$O" -c "$T/optnv.conf" config check 2>&1 | grep -c 'bounce_token')" 0

# Key rotation (README [keys]): the mail of before it still maps to its
# person; once its key is retired, its reports are kept with the key they
# need named, and go through once the key is back.
cp -p "$T/keys" "$T/keysr"
sed "s|^file = .*|file = $T/keysr|; s|^quarantine = .*|quarantine = $T/qr|" \
    "$T/verp.conf" >"$T/rot.conf"
orot() { "$O" -c "$T/rot.conf" "$@"; }
for a in ra rb rc rd; do
	og optin $a@example.org --stream promo >/dev/null 2>&1
	og optin $a@example.org --stream news >/dev/null 2>&1
done
tk() { orot token "$1" --stream "$2" | sed -n 's/^token: //p'; }
ta=$(tk ra@example.org promo)
tb=$(tk rb@example.org news)
tc=$(tk rc@example.org promo)
td=$(tk rd@example.org news)
orot keygen >>"$T/keysr"
cp -p "$T/keysr" "$T/keysr.12"
dsn ra@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/ra.eml"
orot bounce --rcpt "bounce+$ta@bounces.example.com" <"$T/ra.eml" 2>"$T/log"
like "rotated: a bounce to the VERP address of before still suppresses her" \
    "$(cat "$T/log")" "*to=<ra@example.org> class=hard*action=suppressed*by=token*"
printf 'From: <rb@example.org>\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <rb-1@example.org>\n\nplease\n' "$tb" >"$T/rb.eml"
orot unsub-mail --rcpt "unsub+$tb@example.com" <"$T/rb.eml" 2>"$T/log"
like "... an unsubscribe mail to the address of before opts her out" \
    "$(cat "$T/log")" "*to=<rb@example.org> class=unsubscribe action=unsubscribed*"
sed -i '/^1 /d' "$T/keysr"
dsn rc@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/rc.eml"
orot bounce --rcpt "bounce+$tc@bounces.example.com" <"$T/rc.eml" 2>"$T/log"
is "old key retired: its bounce exits 0" "$?" 0
like "... quarantined, naming the key it needs" "$(cat "$T/log")" \
    "*quarantined as *: bounce without our token for <rc@example.org>: forged, or not about our mail (bounce_token = auto, verp configured; none of its tokens verifies) (it names key 1, which $T/keysr lacks: a key retired, or not on this host yet; or no token of ours)*"
printf 'From: <rd@example.org>\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <rd-1@example.org>\n\nplease\n' "$td" >"$T/rd.eml"
orot unsub-mail --rcpt "unsub+$td@example.com" <"$T/rd.eml" 2>"$T/log"
like "... so is its unsubscribe mail" "$(cat "$T/log")" \
    "*quarantined as *: bad token in the address it came to (it names key 1, which $T/keysr lacks: a key retired, or not on this host yet; or no token of ours)*"
cp -p "$T/keysr.12" "$T/keysr"
orot quarantine retry >"$T/out" 2>&1
like "key put back: quarantine retry applies both" "$(cat "$T/out")" \
    "*2 retried, 2 processed, 0 still quarantined*"
og status rd@example.org --stream news >/dev/null 2>&1
is "... she is opted out" "$?" 1
# A made-up token names key id 0, which no keys file can have (ids run
# 1..255): forged, and the reason sends nobody looking for "key -1".
orot optin rf@example.org --stream promo >/dev/null 2>&1
dsn rf@example.org 5.1.1 "550 5.1.1 User unknown" >"$T/rf.eml"
orot bounce --rcpt "bounce+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@bounces.example.com" \
    <"$T/rf.eml" 2>"$T/log"
like "made-up token (key id 0): quarantined as none of its tokens verifies" \
    "$(cat "$T/log")" \
    "*quarantined as *: bounce without our token for <rf@example.org>: forged, or not about our mail (bounce_token = auto, verp configured; none of its tokens verifies)"
ok "... and no key is named" sh -c '! grep -q "names key" "$1"' sh "$T/log"
done_testing
