#!/bin/sh
# The whole loop through a real Postfix (ports 25310-25312): optgate-milter
# rewrites the envelope sender of a list stream to its VERP address,
# smtp-sink refuses the recipient with 550 5.1.1, Postfix returns a real
# DSN to bounce+TOKEN@..., the pipe transport runs optgate bounce, and the
# next message to that person is refused by the milter at RCPT.
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
done_testing
