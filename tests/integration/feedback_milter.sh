#!/bin/sh
# The whole loop through a real Postfix (ports 25310-25312): optgate-milter
# rewrites the envelope sender of a list stream to its VERP address,
# smtp-sink refuses the recipient with 550 5.1.1, Postfix returns a real
# DSN to bounce+TOKEN@..., the pipe transport runs optgate bounce, and the
# next message to that person is refused by the milter at RCPT.  A forged
# DSN sent to the bounce domain (no token) suppresses nobody: quarantined.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"
if [ "$(id -u)" != 0 ] || ! command -v smtp-sink >/dev/null 2>&1 ||
    [ ! -x "$BIN/optgate-milter" ]; then
	echo "ok 1 - # SKIP needs root, Postfix and optgate-milter"
	echo "1..1"
	exit 0
fi
T=$(mktemp -d /tmp/optgate-fbmi.XXXXXX)
chmod 755 "$T"
O="$BIN/optgate"
cat >"$T/optgate.conf" <<CONF
[store]
path = $T/store
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
[milter]
socket = inet:25312@127.0.0.1
user = nobody
[stream promo]
match = sender:promo@example.com
class = marketing
consent = none
refuse = reject
unsubscribe = https://unsub.example.com/u/%t
verp = bounce+%t@bounces.optgate.test
CONF
og() { "$O" -c "$T/optgate.conf" "$@"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
og optin chain@example.org --stream promo >/dev/null 2>&1
mkdir -p "$T/quarantine"
chown -R nobody "$T/store" "$T/quarantine" "$T/keys"

"$BIN/optgate-milter" -f -c "$T/optgate.conf" >"$T/milter.log" 2>&1 &
mpid=$!
# libmilter takes seconds to stop on SIGTERM; this is a throwaway instance.
pf_cleanup_add "kill -9 $mpid; wait $mpid; rm -rf '$T'"
i=0
until ss -ltn 2>/dev/null | grep -q '127.0.0.1:25312 '; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $mpid 2>/dev/null; then
		echo "not ok 1 - optgate-milter started"
		sed 's/^/# /' "$T/milter.log"
		kill -9 $mpid 2>/dev/null
		rm -rf "$T"
		exit 1
	fi
	sleep 0.05
done

PF_SINK_OPTS='-f|RCPT|-B|550 5.1.1 <rcpt>: Recipient address rejected: User unknown in local recipient table'
oldifs=$IFS
IFS='|'
pf_init 25310 25311
IFS=$oldifs
pf_master "fb-bounce unix - n n - - pipe flags=R user=nobody argv=$O -c $T/optgate.conf bounce --rcpt \${original_recipient} --queue-id \${queue_id}"
pf_conf "transport_maps=inline:{bounces.optgate.test=fb-bounce:}" \
    "relay_domains=bounces.optgate.test" fb-bounce_destination_recipient_limit=1 \
    smtpd_milters=inet:127.0.0.1:25312 milter_default_action=tempfail \
    milter_protocol=6
IFS='|'
pf_start 25310 25311
rc=$?
IFS=$oldifs
[ $rc -eq 0 ] || { echo "not ok 1 - postfix started"; exit 1; }

printf 'From: Promo <promo@example.com>\nTo: chain@example.org\nSubject: Offers\nMessage-Id: <promo-1@example.com>\n\nhello\n' >"$T/m"
t0=$(date +%s%N)
out=$(pf_send promo@example.com chain@example.org "$T/m" 2>&1)
like "first message accepted (milter passes it)" "$out" "*DATA 250*"
pf_log_wait 'fb-bounce.*status=sent' 15
like "the milter's VERP sender got the DSN" "$(pf_log)" "*to=<bounce+*@bounces.optgate.test>*relay=fb-bounce*status=sent*"
i=0
while og status chain@example.org --stream promo >/dev/null 2>&1; do
	[ $i -ge 250 ] && break
	sleep 0.02
	i=$((i + 1))
done
t1=$(date +%s%N)
like "bounce recorded for the person the VERP address names" \
    "$(og status chain@example.org --stream promo 2>&1)" "*suppressed*hard-bounce*"
echo "# send -> DSN -> store: $(( (t1 - t0) / 1000000 )) ms"
out=$(pf_send promo@example.com chain@example.org "$T/m" 2>&1)
like "next message: refused by the milter at RCPT" "$out" "*RCPT <chain@example.org> 5[0-9][0-9]*"

# A forged DSN: anyone can mail the bounce domain a report that names a
# customer of ours, with a returned original that looks like our promo
# mail.  Our real bounces come to bounce+TOKEN@ (above); this one, to the
# bare address or with a made-up token, suppresses nobody and is kept in
# the quarantine with the reason (the default, as verp is configured).
og optin victim@example.org --stream promo >/dev/null 2>&1
forge() {
	cat <<MSG
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: $1
Subject: Undelivered Mail Returned to Sender
Message-Id: <forged-$2@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="F1"

--F1
Content-Type: text/plain

<victim@example.org>: host mx.example.org said: 550 5.1.1 User unknown

--F1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; victim@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <victim@example.org>: User unknown

--F1
Content-Type: text/rfc822-headers

Return-Path: <promo@example.com>
From: Promo <promo@example.com>
To: victim@example.org
Subject: Offers
Message-Id: <promo-2@example.com>

--F1--
MSG
}
fake=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
forge bounce@bounces.optgate.test 1 >"$T/f1"
forge "bounce+$fake@bounces.optgate.test" 2 >"$T/f2"
out1=$(pf_send "" bounce@bounces.optgate.test "$T/f1" 2>&1)
out2=$(pf_send "" "bounce+$fake@bounces.optgate.test" "$T/f2" 2>&1)
like "forged DSNs accepted by Postfix (null sender)" "$out1 $out2" "*DATA 250*DATA 250*"
pf_log_wait "to=<bounce\\+$fake@bounces.optgate.test>.*relay=fb-bounce.*status=sent" 15
pf_log_wait "to=<bounce@bounces.optgate.test>.*relay=fb-bounce.*status=sent" 15
like "... delivered to the pipe, which exits 0 (no retry, no bounce)" "$(pf_log)" \
    "*to=<bounce@bounces.optgate.test>*relay=fb-bounce*status=sent*"
og status victim@example.org --stream promo >/dev/null 2>&1
is "... the customer they name is still mailed" "$?" 0
out=$(og quarantine list 2>&1)
is "... both quarantined" \
    "$(printf '%s\n' "$out" | grep -c 'bounce without our token for <victim@example.org>')" 2
like "... with the reason" "$out" \
    "*bounce without our token for <victim@example.org>: forged, or not about our mail (bounce_token = auto, verp configured; *"
out=$(pf_send promo@example.com victim@example.org "$T/m" 2>&1)
like "... and her next message is accepted by the milter" "$out" "*RCPT <victim@example.org> 250*"
done_testing
