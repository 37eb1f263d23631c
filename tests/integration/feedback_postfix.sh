#!/bin/sh
# Round trips through a real Postfix on loopback (ports 25300-25301):
#  1. a message to an address smtp-sink refuses with 550 5.1.1 makes a
#     real Postfix DSN; the bounce pipe transport feeds it to optgate
#     bounce (the VERP token in the envelope sender names the person);
#     the next message to that address is refused;
#  2. an ARF report delivered to the FBL address through optgate fbl;
#  3. an unsubscribe mail to unsub+TOKEN@ through optgate unsub-mail;
#  4. a mistyped option in a pipe's argv defers (exit 75), never bounces.
# Prints the time from arrival at Postfix to the store update, not
# asserted (a loaded machine takes longer): measured in make bench
# (tests/bench/feedback_postfix.sh).
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"
. "$TOP/tests/lib/feedback_pf.sh"
if [ "$(id -u)" != 0 ] || ! command -v smtp-sink >/dev/null 2>&1; then
	echo "ok 1 - # SKIP needs root and Postfix"
	echo "1..1"
	exit 0
fi
T=$(mktemp -d /tmp/optgate-fbpf.XXXXXX)
chmod 755 "$T"
pf_cleanup_add "rm -rf '$T'"
fbpf_init "$T" || { echo "not ok 1 - optgate init"; exit 1; }
for a in gone@example.org angry@example.org leaving@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Wait (at most 30 s: a loaded machine) until ADDR is refused; print the
# ms it took from $1.
wait_refused() {
	_t0=$1
	_i=0
	while og status "$2" --stream news >/dev/null 2>&1; do
		[ $_i -ge 1500 ] && { echo -1; return 1; }
		sleep 0.02
		_i=$((_i + 1))
	done
	echo $(( $(ms) - _t0 ))
}

# smtp-sink plays the internet: every RCPT gets 550 5.1.1.  The reply has
# spaces, so the option list is split on '|' for this one call.
PF_SINK_OPTS='-f|RCPT|-B|550 5.1.1 <rcpt>: Recipient address rejected: User unknown in local recipient table'
oldifs=$IFS
IFS='|'
pf_init 25300 25301
IFS=$oldifs
for t in bounce fbl unsub-mail; do
	fbpf_pipe $t
done
# an admin's typo in master.cf's argv (--queue_id): Postfix must keep
# what comes in, not bounce it (an unsubscribe mail back to its sender)
fbpf_pipe typo "unsub-mail --rcpt \${original_recipient} --queue_id \${queue_id}"
# ... and in the command's name (unsub_mail)
fbpf_pipe cmd "unsub_mail --rcpt \${original_recipient} --queue-id \${queue_id}"
pf_conf "transport_maps=inline:{bounces.optgate.test=fb-bounce:, fbl.optgate.test=fb-fbl:, unsub.optgate.test=fb-unsub-mail:, typo.optgate.test=fb-typo:, cmd.optgate.test=fb-cmd:}" \
    "relay_domains=bounces.optgate.test, fbl.optgate.test, unsub.optgate.test, typo.optgate.test, cmd.optgate.test" \
    fb-bounce_destination_recipient_limit=1 fb-fbl_destination_recipient_limit=1 \
    fb-unsub-mail_destination_recipient_limit=1 fb-typo_destination_recipient_limit=1 \
    fb-cmd_destination_recipient_limit=1
IFS='|'
pf_start 25300 25301
rc=$?
IFS=$oldifs
if [ $rc -ne 0 ]; then
	echo "not ok 1 - postfix started"
	exit 1
fi

# 1. hard bounce: a real DSN from Postfix, VERP token in the sender
tok=$(og token gone@example.org --stream news | sed -n 's/^token: //p')
printf 'From: news@example.com\nTo: gone@example.org\nSubject: News\nX-Optgate-Stream: news\nMessage-Id: <news-1@example.com>\n\nhello\n' >"$T/m1"
og status gone@example.org --stream news >/dev/null 2>&1
is "before: gone@example.org accepted" "$?" 0
t0=$(ms)
pf_send "bounce+$tok@bounces.optgate.test" gone@example.org "$T/m1" >"$T/send" 2>&1
is "message accepted by Postfix" "$?" 0
dt=$(wait_refused "$t0" gone@example.org)
ok "DSN processed: next message to gone@example.org refused" test "$dt" -ge 0
pf_log_wait 'fb-bounce.*status=sent' 10
like "Postfix delivered the DSN to the bounce transport" "$(pf_log)" "*relay=fb-bounce*status=sent*"
like "the DSN was a real Postfix one (5.1.1 from smtp-sink)" "$(pf_log)" "*said: 550 5.1.1*"
st=$(og status gone@example.org --stream news 2>&1)
like "suppressed as a hard bounce" "$st" "*suppressed*hard-bounce*bounce*"
echo "# hard bounce: send -> store ${dt} ms (includes the delivery attempt and the DSN)"

# 2. ARF complaint to the FBL address
cat >"$T/arf" <<MSG
From: feedback@fbl.example.net
To: fbl@fbl.optgate.test
Subject: complaint
Message-Id: <arf-1@fbl.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A1"

--A1
Content-Type: text/plain

This is an email abuse report.

--A1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <news@example.com>
Original-Rcpt-To: <angry@example.org>
Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT

--A1
Content-Type: message/rfc822

From: news@example.com
To: angry@example.org
Subject: News

hello
--A1--
MSG
t0=$(ms)
pf_send feedback@fbl.example.net fbl@fbl.optgate.test "$T/arf" >/dev/null 2>&1
is "ARF report accepted by Postfix" "$?" 0
dt=$(wait_refused "$t0" angry@example.org)
ok "ARF processed: next message refused" test "$dt" -ge 0
like "complaint recorded" "$(og status angry@example.org --stream news 2>&1)" "*complaint*"
echo "# ARF complaint: arrival -> store ${dt} ms"

# 3. unsubscribe mail to unsub+TOKEN@
tok=$(og token leaving@example.org --stream news | sed -n 's/^token: //p')
printf 'From: Leaving <leaving@example.org>\nTo: unsub+%s@unsub.optgate.test\nSubject: unsubscribe\nMessage-Id: <bye-1@example.org>\n\nplease\n' "$tok" >"$T/u"
t0=$(ms)
pf_send leaving@example.org "unsub+$tok@unsub.optgate.test" "$T/u" >/dev/null 2>&1
is "unsubscribe mail accepted by Postfix" "$?" 0
dt=$(wait_refused "$t0" leaving@example.org)
ok "unsubscribe processed: next message refused" test "$dt" -ge 0
like "opt-out recorded via mail" "$(og status leaving@example.org --stream news 2>&1)" "*optout*via mail*"
echo "# unsubscribe mail: arrival -> store ${dt} ms"

# 4. store unwritable: the pipe exits 75, Postfix keeps the report and
# delivers it once the store is back
og optin later@example.org --stream news >/dev/null 2>&1
chown -R root "$T/store"
chmod -R go-w "$T/store"
sed 's/angry@example.org/later@example.org/; s/arf-1@/arf-2@/' "$T/arf" >"$T/arf2"
pf_send feedback@fbl.example.net fbl@fbl.optgate.test "$T/arf2" >/dev/null 2>&1
is "second ARF accepted by Postfix" "$?" 0
pf_log_wait 'fb-fbl.*status=deferred' 10
like "store unwritable: Postfix deferred it (exit 75)" "$(pf_log)" "*relay=fb-fbl*status=deferred*"
ok "store unwritable: the report is still in the queue" test "$(pf_queue_count)" -ge 1
og status later@example.org --stream news >/dev/null 2>&1
is "store unwritable: nothing changed" "$?" 0
chown -R nobody "$T/store"
t0=$(ms)
pf_flush
dt=$(wait_refused "$t0" later@example.org)
ok "store back: the kept report is applied" test "$dt" -ge 0
pf_wait_queue_empty 10
is "store back: queue empty" "$(pf_queue_count)" 0

# A complaint from anyone's own server that names a trusted loop in its
# Reporting-MTA (a field its writer fills in): delivered (exit 0), kept in
# the quarantine, nobody suppressed
og optin framed@example.org --stream news >/dev/null 2>&1
sed 's/^From: feedback@fbl.example.net/From: abuse@evil.example/
    s/angry@example.org/framed@example.org/; s/arf-1@fbl.example.net/arf-3@evil.example/
    s/^Version: 1$/&\nReporting-MTA: dns; mx1.fbl.example.net/' "$T/arf" >"$T/arf3"
pf_send abuse@evil.example fbl@fbl.optgate.test "$T/arf3" >/dev/null 2>&1
is "ARF naming a trusted Reporting-MTA: accepted by Postfix" "$?" 0
pf_wait_queue_empty 10
like "... delivered to the FBL pipe" "$(grep 'relay=fb-fbl' "$PF_LOG" | tail -1)" "*status=sent*"
like "... quarantined: reporter not trusted" "$(og quarantine list 2>&1)" \
    "*fbl*reporter not trusted: from=abuse@evil.example*"
og status framed@example.org --stream news >/dev/null 2>&1
is "... framed@example.org still mailed" "$?" 0

# A bad token: Postfix still delivers (exit 0), the mail is quarantined
pf_send someone@example.org "unsub+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@unsub.optgate.test" >/dev/null 2>&1
pf_wait_queue_empty 10
ok "bad token: queue empty (no bounce of a bounce, no retry loop)" test "$(pf_queue_count)" -eq 0
like "bad token: quarantined" "$(og quarantine list 2>&1)" "*unsub-mail*bad token*"
# its log line starts with the queue id Postfix gave it, like every other
# line about a report (Postfix's pipe shows what the command printed)
bq=$(sed -n 's/.*postfix\/pipe\[[0-9]*\]: \([0-9A-F]*\): to=<unsub+AAAA.*/\1/p' "$PF_LOG" | tail -1)
like "bad token: the quarantine line starts with the report's queue id" \
    "$(grep "relay=fb-unsub-mail" "$PF_LOG" | tail -1)" "*(optgate\[[0-9]*\]: warning: $bq: unsub-mail: quarantined as *"
# a mistyped option in the pipe's argv: deferred and kept, never bounced
og optin typo@example.org --stream news >/dev/null 2>&1
tokt=$(og token typo@example.org --stream news | sed -n 's/^token: //p')
printf 'From: typo@example.org\nTo: unsub+%s@typo.optgate.test\nSubject: unsubscribe\nMessage-Id: <typo-1@example.org>\n\nplease\n' "$tokt" >"$T/ut"
pf_send typo@example.org "unsub+$tokt@typo.optgate.test" "$T/ut" >/dev/null 2>&1
is "mistyped argv: the unsubscribe mail accepted by Postfix" "$?" 0
pf_log_wait 'fb-typo.*status=' 10
like "mistyped argv: deferred with the usage error (exit 75), not bounced" \
    "$(grep 'relay=fb-typo' "$PF_LOG" | tail -1)" "*status=deferred*unrecognized option*--queue_id*"
ok "mistyped argv: the unsubscribe mail is still in the queue" test "$(pf_queue_count)" -ge 1
printf 'From: typo@example.org\nTo: unsub+%s@cmd.optgate.test\nSubject: unsubscribe\nMessage-Id: <typo-2@example.org>\n\nplease\n' "$tokt" >"$T/uc"
pf_send typo@example.org "unsub+$tokt@cmd.optgate.test" "$T/uc" >/dev/null 2>&1
pf_log_wait 'fb-cmd.*status=' 10
like "mistyped command name: deferred (exit 75), not bounced" \
    "$(grep 'relay=fb-cmd' "$PF_LOG" | tail -1)" "*status=deferred*unknown command*unsub_mail*"
# no DSN went back to anyone for the reports we processed
ok "no bounce generated for the processed reports" \
    sh -c "! grep -q 'fb-.*status=bounced' '$PF_LOG'"
done_testing
