#!/bin/sh
# Feedback latency benchmark: the time from a report's arrival at a real
# Postfix (loopback, ports 25360-25361) to the store change that makes the
# gate refuse the address, through the pipe transports the README shows:
#   bounce       a message smtp-sink refuses with 550 5.1.1: Postfix's own
#                DSN to the VERP address, fed to optgate bounce (includes
#                the delivery attempt and the DSN)
#   fbl          an ARF complaint delivered to the FBL address (optgate fbl)
#   unsub-mail   a mail to unsub+TOKEN@ (optgate unsub-mail)
# K reports of each kind (default 10, FEEDBACK_K), one after the other,
# each for a new address; median and largest in ms of two figures:
#   queue -> store   Postfix's own delay= of the pipe delivery, from the
#                    report's arrival in the queue until the pipe command
#                    (which commits before it exits) is done
#   send -> refused  wall clock from the start of the SMTP session (a
#                    python client) until `optgate status` sees the
#                    refusal, polled every 10 ms, 20 s at most
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/postfix.sh"
BIN="$TOP/${BUILD:-build}/bin"
. "$TOP/tests/lib/feedback_pf.sh"
K=${FEEDBACK_K:-10}
if [ "$(id -u)" != 0 ] || ! command -v smtp-sink >/dev/null 2>&1; then
	echo "feedback latency: needs root and Postfix"
	exit 0
fi
T=$(mktemp -d /tmp/og-fbpfbench.XXXXXX)
chmod 755 "$T"
pf_cleanup_add "rm -rf '$T'"
fbpf_init "$T" || { echo "optgate init failed"; exit 1; }

ms() { echo $(($(date +%s%N) / 1000000)); }
# ms from $1 until ADDR ($2) is refused, or -1 after 20 s
wait_refused() {
	_i=0
	while og status "$2" --stream news >/dev/null 2>&1; do
		[ $_i -ge 2000 ] && { echo -1; return 1; }
		sleep 0.01
		_i=$((_i + 1))
	done
	echo $(($(ms) - $1))
}

PF_SINK_OPTS='-f|RCPT|-B|550 5.1.1 <rcpt>: Recipient address rejected: User unknown in local recipient table'
oldifs=$IFS
IFS='|'
pf_init 25360 25361
IFS=$oldifs
for t in bounce fbl unsub-mail; do
	fbpf_pipe $t
done
pf_conf "transport_maps=inline:{bounces.optgate.test=fb-bounce:, fbl.optgate.test=fb-fbl:, unsub.optgate.test=fb-unsub-mail:}" \
    "relay_domains=bounces.optgate.test, fbl.optgate.test, unsub.optgate.test" \
    fb-bounce_destination_recipient_limit=1 fb-fbl_destination_recipient_limit=1 \
    fb-unsub-mail_destination_recipient_limit=1
IFS='|'
pf_start 25360 25361
rc=$?
IFS=$oldifs
[ $rc -eq 0 ] || { echo "postfix did not start"; exit 1; }

arf() { # ADDR
	printf 'From: feedback@fbl.example.net\nTo: fbl@fbl.optgate.test\nSubject: complaint\nMessage-Id: <arf-%s>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary="A1"\n\n--A1\nContent-Type: text/plain\n\nThis is an email abuse report.\n\n--A1\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: ExampleFBL/1.0\nVersion: 1\nOriginal-Mail-From: <news@example.com>\nOriginal-Rcpt-To: <%s>\nArrival-Date: Thu, 8 Mar 2026 14:00:00 EDT\n\n--A1\nContent-Type: message/rfc822\n\nFrom: news@example.com\nTo: %s\nSubject: News\n\nhello\n--A1--\n' \
	    "$1" "$1" "$1"
}
# one report of kind $1 for a new address $2; prints the ms
one() {
	og optin "$2" --stream news >/dev/null 2>&1
	tok=$(og token "$2" --stream news | sed -n 's/^token: //p')
	case $1 in
	bounce)
		printf 'From: news@example.com\nTo: %s\nSubject: News\nX-Optgate-Stream: news\n\nhello\n' "$2" >"$T/m"
		t0=$(ms)
		pf_send "bounce+$tok@bounces.optgate.test" "$2" "$T/m" >/dev/null 2>&1 ;;
	fbl)
		arf "$2" >"$T/m"
		t0=$(ms)
		pf_send feedback@fbl.example.net fbl@fbl.optgate.test "$T/m" >/dev/null 2>&1 ;;
	unsub-mail)
		printf 'From: <%s>\nTo: unsub+%s@unsub.optgate.test\nSubject: unsubscribe\n\nplease\n' "$2" "$tok" >"$T/m"
		t0=$(ms)
		pf_send "$2" "unsub+$tok@unsub.optgate.test" "$T/m" >/dev/null 2>&1 ;;
	esac
	wait_refused "$t0" "$2"
}
stats() { # values on stdin: median and largest
	sort -n | awk '{a[NR] = $1} END {if (NR) printf "%s %s", a[int((NR + 1) / 2)], a[NR]; else print "- -"}'
}

echo "feedback latency through Postfix, $K reports each, ms (median / largest)"
printf '%-12s %18s %18s %6s\n' kind "queue -> store" "send -> refused" lost
for kind in bounce fbl unsub-mail; do
	: >"$T/r"
	lost=0
	i=0
	while [ $i -lt "$K" ]; do
		v=$(one $kind "$kind$i@example.org")
		if [ "$v" -ge 0 ]; then echo "$v" >>"$T/r"; else lost=$((lost + 1)); fi
		i=$((i + 1))
	done
	set -- $(stats <"$T/r")
	w="$1 / $2"
	set -- $(pf_log | grep "relay=fb-$kind," | grep 'status=sent' |
	    sed -n 's/.* delay=\([0-9.]*\),.*/\1/p' |
	    awk '{printf "%.0f\n", $1 * 1000}' | stats)
	printf '%-12s %18s %18s %6s\n' "$kind" "$1 / $2" "$w" "$lost"
done
echo "(bounce: queue -> store is the DSN's; send -> refused includes the"
echo "delivery attempt to smtp-sink and the DSN.  Target: under 1000 ms.)"
