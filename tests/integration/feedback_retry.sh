#!/bin/sh
# The same report delivered twice gives the same store: Postfix retries a
# pipe command's message after exit 75 (EX_TEMPFAIL), and may deliver one
# twice after a crash.  A soft bounce counts once per report (a retry
# after its count was written, a duplicate), a complaint and an
# unsubscribe mail once; the suppressing soft bounce's line says the count
# and the end of the suppression.  The failures are real: the store's
# disk is full (a tmpfs of its own: root only), then space is freed.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
# As root, in a mount namespace of its own for the tmpfs.
if [ -z "${OG_FR_NS:-}" ] && [ "$(id -u)" = 0 ] &&
    command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
	OG_FR_NS=1 exec unshare -m sh "$0" "$@"
fi
T=$(mktemp -d /tmp/optgate-fr.XXXXXX)
trap 'umount "$T/disk" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
O="$BIN/optgate"
R="$TOP/tests/fixtures/reports/messages"
mkdir "$T/disk"
disk=0
# 200M: room for the store, then filled up below
if [ -n "${OG_FR_NS:-}" ] && mount -t tmpfs -o size=200M tmpfs "$T/disk"; then
	disk=1
fi
cat >"$T/optgate.conf" <<CONF
[store]
path = $T/disk/store
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
trusted_reporters = fbl.example.net
soft_bounce = 3/14d
soft_bounce_suppress = 7d
bounce_token = optional
[stream news]
match = header:X-Optgate-Stream=news
consent = none
sender = example.com
unsubscribe = https://unsub.example.com/u/%t, mailto:unsub+%t@example.com
CONF
og() { "$O" -c "$T/optgate.conf" "$@"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
for a in user@aol.com full8@dest.test unknown8@dest.test policy8@dest.test \
    tempfail3@dest.test compl@example.org u2@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done
accepted() { og status "$1" --stream news >/dev/null 2>&1; }
# events in the address's history
nevents() {
	og audit "$1" 2>/dev/null | sed -n '1s/.*: \([0-9][0-9]*\) events*, .*/\1/p'
}

# A Postfix DSN of its own (a new Message-ID each): $1 recipient.
n=0
dsn() {
	n=$((n + 1))
	cat <<MSG
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-$n-$$@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1"

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; $1
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full ($n)

--B1--
MSG
}

# 1. the same DSN delivered twice, exit 0 both times (a duplicate after a
# crash): counted once, the second line says so
og bounce --queue-id 1A <"$R/flanker-aol-mailbox-full.eml" 2>"$T/log"
like "first delivery: counted" "$(cat "$T/log")" \
    "*1A: bounce: to=<user@aol.com> class=soft status=5.2.2 action=counted soft_bounces=1/3 *"
og bounce --queue-id 1A <"$R/flanker-aol-mailbox-full.eml" 2>"$T/log"
is "the same DSN again: exits 0" "$?" 0
like "the same DSN again: not counted, logged as such" "$(cat "$T/log")" \
    "*1A: bounce: to=<user@aol.com> class=soft status=5.2.2 action=duplicate soft_bounces=1/3 detail=already-counted reason=mailbox-full *"
# the same report sent again by its MTA (another queue file here: other
# Received and Delivered-To lines): still the same report
{ printf 'Delivered-To: bounces@example.com\nReceived: from mx2.example.com by mx.example.com id 9F9F9F9F9F\n'
  cat "$R/flanker-aol-mailbox-full.eml"; } >"$T/aol-again.eml"
og bounce --queue-id 9F9F9F9F9F <"$T/aol-again.eml" 2>"$T/log"
like "the same report through another queue file: not counted" \
    "$(cat "$T/log")" "*to=<user@aol.com> class=soft*action=duplicate soft_bounces=1/3 *"
dsn user@aol.com >"$T/aol2.eml"
og bounce <"$T/aol2.eml" 2>"$T/log"
like "another report: the second soft bounce" "$(cat "$T/log")" \
    "*to=<user@aol.com> class=soft*action=counted soft_bounces=2/3 *"
ok "two soft bounces (one delivered twice): still mailed (soft_bounce = 3)" \
    accepted user@aol.com
# two bare reports without a Message-ID, the same text, other dates: two
og optin bare@example.org --stream news >/dev/null 2>&1
for d in "Mon, 2 Nov 2026 10:00:00 +0000" "Tue, 10 Nov 2026 10:00:00 +0000"; do
	printf 'From: MAILER-DAEMON@mx.example.net\nTo: news@example.com\nDate: %s\nSubject: Undeliverable\n\n<bare@example.org>: 452 4.2.2 Mailbox full\n' \
	    "$d" | og bounce 2>"$T/log"
done
like "bare reports, other dates: each counted" "$(cat "$T/log")" \
    "*to=<bare@example.org> class=soft*action=counted soft_bounces=2/3 *"

# 2. two soft bounces of tempfail3 before the store fills
dsn tempfail3@dest.test >"$T/t1.eml"
dsn tempfail3@dest.test >"$T/t2.eml"
og bounce <"$T/t1.eml" 2>/dev/null
og bounce <"$T/t2.eml" 2>/dev/null
tok=$(og token u2@example.org --stream news | sed -n 's/^token: //p')
printf 'From: U Two <u2@example.org>\nTo: unsub+%s@example.com\nSubject: unsubscribe\nMessage-Id: <u2-1@example.org>\n\nplease\n' \
    "$tok" >"$T/unsub.eml"
cat >"$T/arf.eml" <<MSG
From: feedback@fbl.example.net
To: fbl@example.com
Subject: complaint
Message-Id: <report-1@fbl.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="A1"

--A1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <news@example.com>
Original-Rcpt-To: <compl@example.org>
Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT

--A1
Content-Type: message/rfc822

From: news@example.com
To: compl@example.org
Subject: News
Message-Id: <orig-2@example.com>

hello
--A1--
MSG

if [ "$disk" = 0 ]; then
	echo "ok - # SKIP retries after exit 75: not root, or no unshare or tmpfs"
	done_testing
	exit
fi
# The disk fills up.  The consent data is a compacted copy (as a restored
# backup is), so its next write needs new space on the disk.
og backup "$T/bk" >/dev/null 2>&1 &&
    cp "$T/bk/consent/data.mdb" "$T/disk/store/consent/data.mdb"
og verify >/dev/null 2>&1
is "store restored from a backup" "$?" 0
dd if=/dev/zero of="$T/disk/fill" bs=64k >/dev/null 2>&1
og optin last@example.org --stream news >/dev/null 2>&1
is "the disk is full (optin: exit 4)" "$?" 4
e_compl=$(nevents compl@example.org)
e_u2=$(nevents u2@example.org)

# 3. one DSN, three recipients (soft, hard, soft): the soft ones are
# counted, the hard bounce's suppression cannot be written: exit 75
og bounce --queue-id 3B <"$R/live-opensmtpd-three-recipients.eml" 2>"$T/log"
is "three recipients, disk full: exit 75 (Postfix retries)" "$?" 75
like "... the store write failure is logged" "$(cat "$T/log")" \
    "*3B: bounce: store write failed: *"
# 4. the third soft bounce of tempfail3 (a real Postfix DSN): counted,
# the suppression it calls for cannot be written: exit 75
og bounce --queue-id 4C <"$R/live-postfix-expired-after-451.eml" 2>"$T/log"
is "third soft bounce, disk full: exit 75" "$?" 75
ok "... not suppressed yet" accepted tempfail3@dest.test
# 5. a complaint and an unsubscribe mail: exit 75, nothing written
og fbl --queue-id 5D <"$T/arf.eml" 2>/dev/null
is "complaint, disk full: exit 75" "$?" 75
og unsub-mail --queue-id 6E --rcpt "unsub+$tok@example.com" <"$T/unsub.eml" \
    2>/dev/null
is "unsubscribe mail, disk full: exit 75" "$?" 75

# The admin frees space; Postfix delivers each message again.
rm -f "$T/disk/fill"
og bounce --queue-id 3B <"$R/live-opensmtpd-three-recipients.eml" 2>"$T/log"
is "three recipients, retried: exit 0" "$?" 0
like "... the hard bounce suppresses now" "$(cat "$T/log")" \
    "*3B: bounce: to=<unknown8@dest.test> class=hard status=5.1.1 action=suppressed *"
like "... a soft one is not counted again" "$(cat "$T/log")" \
    "*3B: bounce: to=<full8@dest.test> class=soft status=5.2.2 action=duplicate soft_bounces=1/3 detail=already-counted *"
like "... nor the other" "$(cat "$T/log")" \
    "*3B: bounce: to=<policy8@dest.test> class=soft status=5.7.1 action=duplicate soft_bounces=1/3 detail=already-counted *"
dsn full8@dest.test >"$T/f2.eml"
og bounce <"$T/f2.eml" 2>"$T/log"
like "... full8's next soft bounce is her second" "$(cat "$T/log")" \
    "*to=<full8@dest.test> class=soft*action=counted soft_bounces=2/3 *"
ok "... and she is still mailed" accepted full8@dest.test

now=$(date +%s)
og bounce --queue-id 4C <"$R/live-postfix-expired-after-451.eml" 2>"$T/log"
is "third soft bounce, retried: exit 0" "$?" 0
# the line that suppresses says how many, in what period, until when
u1=$(date -u -d "@$((now + 7 * 86400))" +%Y-%m-%dT%H:%M)
u2=$(date -u -d "@$((now + 7 * 86400 + 60))" +%Y-%m-%dT%H:%M)
like "... suppressed, counted once: 3 of 3 in 14d, until 7d from now" \
    "$(cat "$T/log")" \
    "*4C: bounce: to=<tempfail3@dest.test> class=soft status=4.2.0 action=suppressed scope=all soft_bounces=3/3 within=14d until=[0-9-]*T*Z reason=*"
case "$(cat "$T/log")" in
*"until=$u1"* | *"until=$u2"*) pass "... until is the end of soft_bounce_suppress" ;;
*) fail "... until is the end of soft_bounce_suppress" "$(cat "$T/log") (want until=$u1)" ;;
esac
accepted tempfail3@dest.test
is "... refused now" "$?" 1
e_t=$(nevents tempfail3@dest.test)
og bounce --queue-id 4C <"$R/live-postfix-expired-after-451.eml" 2>"$T/log"
like "the same DSN once more: already counted, suppression not renewed" \
    "$(cat "$T/log")" \
    "*4C: bounce: to=<tempfail3@dest.test> class=soft status=4.2.0 action=duplicate soft_bounces=3/3 detail=already-counted *"
is "... no new event" "$(nevents tempfail3@dest.test)" "$e_t"

og fbl --queue-id 5D <"$T/arf.eml" 2>"$T/log"
is "complaint, retried: exit 0" "$?" 0
like "... suppressed" "$(cat "$T/log")" "*5D: fbl: to=<compl@example.org> class=complaint action=suppressed *"
og fbl --queue-id 5D <"$T/arf.eml" 2>"$T/log"
like "... and once more: duplicate" "$(cat "$T/log")" "*action=duplicate*"
is "... one event more than before the failure" "$(nevents compl@example.org)" \
    "$((e_compl + 1))"
og unsub-mail --queue-id 6E --rcpt "unsub+$tok@example.com" <"$T/unsub.eml" \
    2>"$T/log"
is "unsubscribe mail, retried: exit 0" "$?" 0
like "... unsubscribed" "$(cat "$T/log")" "*6E: unsub-mail: to=<u2@example.org> class=unsubscribe action=unsubscribed *"
og unsub-mail --queue-id 6E --rcpt "unsub+$tok@example.com" <"$T/unsub.eml" \
    2>"$T/log"
like "... and once more: unchanged" "$(cat "$T/log")" "*action=unchanged*"
is "... one event more than before the failure" "$(nevents u2@example.org)" \
    "$((e_u2 + 1))"

# The soft-bounce records with their reports: verify and backup read them,
# erase takes them.
og verify >"$T/v" 2>&1
is "verify: no problems" "$?" 0
og backup "$T/bk2" >/dev/null 2>&1 && og verify "$T/bk2" >"$T/v" 2>&1
is "backup: verifies" "$?" 0
og erase full8@dest.test >/dev/null 2>&1
og optin full8@dest.test --stream news >/dev/null 2>&1
dsn full8@dest.test >"$T/f3.eml"
og bounce <"$T/f3.eml" 2>"$T/log"
like "erased, opted in again: her soft bounces went with the erasure" \
    "$(cat "$T/log")" "*to=<full8@dest.test>*action=counted soft_bounces=1/3 *"
done_testing
