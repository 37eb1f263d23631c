#!/bin/sh
# make demo: optgate on a throwaway Postfix, in under a minute.
#
# Sets up, on loopback only and under /tmp only: a store with a small
# realistic list, a Postfix instance with optgate-milter (and
# optgate-policyd when it is built) wired in, smtp-sink as "the internet";
# sends a campaign of two streams through it; prints what happened to each
# recipient and one delivered message with its headers; tears everything
# down.  Nothing is left running and nothing is written to /etc.
# Ports: Postfix 25500, smtp-sink 25501, optgate-policyd 25510.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
BIN="$TOP/$BUILD/bin"
. "$TOP/tests/lib/postfix.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make demo: run as root (it starts a throwaway Postfix)" >&2
	exit 2
fi
for p in optgate optgate-milter; do
	[ -x "$BIN/$p" ] || { echo "make demo: $BIN/$p missing: run make" >&2
	    exit 2; }
done
POLICYD=
PD=no
if [ -x "$BIN/optgate-policyd" ]; then
	POLICYD=$BIN/optgate-policyd
	PD=yes
fi

say() { printf '\n== %s\n' "$*"; }

DEMO=$(mktemp -d /tmp/optgate-demo.XXXXXX) || exit 1
chmod 755 "$DEMO"
PIDS=
demo_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	[ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$DEMO"
}
trap 'demo_cleanup' EXIT
trap 'exit 130' INT TERM HUP
# postfix.sh takes over the EXIT trap at pf_init; it runs this then.
pf_cleanup_add demo_cleanup

say "A store and two streams ($DEMO)"
(umask 077 && "$BIN/optgate" keygen >"$DEMO/keys")
C=$DEMO/optgate.conf
cat >"$C" <<EOF
[store]
path = $DEMO/store
[keys]
file = $DEMO/keys
[milter]
socket = unix:$DEMO/milter.sock
user = postfix
feedback_id_sender = shop
policyd = $PD
[policyd]
listen = inet:127.0.0.1:25510
user = postfix

; Offers of a co-registration partner, recognised by envelope sender.
[stream partner-offers]
match = sender:offers@shop.example
class = marketing
consent = optin
partner = acme
caps = 2/7d
refuse = reject
unsubscribe = https://unsub.shop.example/u/%t
verp = bounce+%t@shop.example

; The monthly newsletter: the sending app marks it with a header.
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
caps = 1/7d
refuse = reject
unsubscribe = https://unsub.shop.example/u/%t, mailto:unsub+%t@shop.example
feedback_id = %s:nov:marketing
EOF
cat "$C" | sed -n '/^\[stream/,$p' | grep -v '^;' | sed 's/^/   /'

og() { "$BIN/optgate" -c "$C" "$@" >/dev/null 2>&1 || echo "   (optgate $* failed)"; }
og init
og optin ana@mail.example --stream newsletter
og optin ana@mail.example --stream partner-offers --single
og optin bruno@mail.example --stream newsletter --double
og optin carla@mail.example --stream newsletter
og optin carla@mail.example --stream partner-offers --single
og optout carla@mail.example --stream newsletter
og optin diego@mail.example --stream newsletter
og optin diego@mail.example --stream partner-offers --single
og optout diego@mail.example --all
og optin eva@mail.example --stream newsletter
og suppress eva@mail.example --reason hard-bounce
og optin fabio@mail.example --stream newsletter
og optin fabio@mail.example --stream partner-offers --single
og suppress fabio@mail.example --reason complaint
og optin gabi@mail.example --stream newsletter
og optin gabi@mail.example --stream partner-offers --single
og optout gabi@mail.example --partner acme
og optin hugo@mail.example --stream newsletter
og optin hugo@mail.example --stream partner-offers --single
cat <<EOF
   ana     confirmed newsletter, opted in to partner offers
   bruno   double opt-in asked, never confirmed
   carla   unsubscribed from the newsletter only
   diego   unsubscribed from everything
   eva     hard-bounced
   fabio   complained (spam button)
   gabi    opted out of partner acme's mail
   hugo    already got this week's newsletter (cap 1/7d)
EOF
chown -R postfix "$DEMO/store" "$DEMO/keys"

say "Postfix on 127.0.0.1:25500 -> optgate -> smtp-sink on :25501"
"$BIN/optgate-milter" -f -c "$C" >"$DEMO/milter.log" 2>&1 &
PIDS="$PIDS $!"
PF_EXTRA=
if [ -n "$POLICYD" ]; then
	"$POLICYD" -f -c "$C" >"$DEMO/policyd.log" 2>&1 &
	PIDS="$PIDS $!"
	PF_EXTRA="smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:25510, permit_mynetworks, reject"
fi
i=0
until [ -S "$DEMO/milter.sock" ] || [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
if [ ! -S "$DEMO/milter.sock" ]; then
	echo "make demo: optgate-milter did not start:" >&2
	cat "$DEMO/milter.log" >&2
	exit 1
fi
if [ -n "$POLICYD" ]; then
	i=0
	until ss -ltn | grep -q '127.0.0.1:25510 ' || [ $i -ge 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
fi
pf_init 25500 25501 "smtpd_milters=unix:$DEMO/milter.sock" \
    "non_smtpd_milters=unix:$DEMO/milter.sock" \
    milter_default_action=tempfail milter_protocol=6 || exit 1
if [ -n "$POLICYD" ]; then
	pf_conf "$PF_EXTRA" \
	    "smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:25510"
fi
pf_start 25500 25501 || { cat "$DEMO/milter.log"; exit 1; }
if [ -n "$POLICYD" ]; then
	echo "   optgate-policyd at RCPT: envelope streams (partner-offers);"
	echo "   optgate-milter: header streams (newsletter) and every header"
else
	echo "   optgate-milter decides everything (optgate-policyd is not built)"
fi

newsletter() { # RCPT
	cat >"$DEMO/msg" <<EOF
From: Shop <news@shop.example>
To: <$1>
Subject: November at the shop
Message-ID: <nov-$(echo "$1" | cut -d@ -f1)@shop.example>
X-Optgate-Stream: newsletter
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello! This month: warm socks.
EOF
	pf_send news@shop.example "$1" "$DEMO/msg"
}
offer() {
	cat >"$DEMO/msg" <<EOF
From: Shop partners <offers@shop.example>
To: <$1>
Subject: Acme: 20% off boots
Message-ID: <acme-$(echo "$1" | cut -d@ -f1)@shop.example>

Boots!
EOF
	pf_send offers@shop.example "$1" "$DEMO/msg"
}

say "Earlier this week: one newsletter to hugo"
newsletter hugo@mail.example | sed -n 's/^DATA /   DATA /p'

say "The campaign: both streams to everyone (one recipient per message)"
: >"$DEMO/results"
for p in ana bruno carla diego eva fabio gabi hugo; do
	for s in newsletter offer; do
		out=$($s "$p@mail.example")
		st=$s
		[ "$s" = offer ] && st=partner-offers
		reply=$(echo "$out" | grep -E '^(RCPT|DATA|MAIL|ERROR)' |
		    grep -v ' 250 \| 25[01] ' | head -1)
		if echo "$out" | grep -q '^DATA 250'; then
			verdict=delivered
		else
			verdict="refused $(echo "$reply" |
			    sed 's/^RCPT <[^>]*> //; s/^DATA //' | cut -d' ' -f1)"
		fi
		echo "$p@mail.example|$st|$verdict" >>"$DEMO/results"
	done
done
pf_wait_queue_empty 20

# Reasons: the decision's log line; where: which daemon, at which stage.
decision() { # RCPT STREAM -> "where|reason"
	l=$(grep -h "to=<$1>.*stream=$2," "$DEMO/policyd.log" 2>/dev/null |
	    tail -1)
	if [ -n "$l" ]; then
		w="RCPT, policyd"
	else
		l=$(grep -h "to=<$1>.*stream=$2," "$DEMO/milter.log" | tail -1)
		# partner-offers is found by envelope sender before any header
		# rule: the milter decides it at RCPT (its accept is logged
		# with the queue id, known only later), newsletter at the end.
		case "$l:$2" in
		:*) w="-" ;;
		*:partner-offers) w="RCPT, milter" ;;
		*) w="end of data, milter" ;;
		esac
	fi
	printf '%s|%s' "$w" "$(echo "$l" | sed -n 's/.*reason=//p')"
}
{
	printf 'RECIPIENT|STREAM|VERDICT|DECIDED AT|REASON\n'
	while IFS='|' read -r r s v; do
		printf '%s|%s|%s|%s\n' "$r" "$s" "$v" "$(decision "$r" "$s")"
	done <"$DEMO/results"
} | column -t -s '|' | sed 's/^/   /'

n=$(pf_sink_count)
say "smtp-sink (the internet) received $n messages; recipients:"
pf_sink_rcpts | sort | uniq -c | sed 's/^/  /'

say "One delivered message, as the receiver sees it (ana, newsletter)"
f=$(for x in $(pf_sink_files); do
	grep -l 'X-Rcpt-Args: <ana@mail.example>' "$x"; done |
    xargs grep -l '^Subject: November' | head -1)
sed -e '/^X-\(Client-Addr\|Client-Proto\|Helo-Args\|Mail-Args\|Rcpt-Args\):/d' \
    -e '/^$/q' "$f" | tr -d '\r' | sed 's/^/   /'
tok=$(sed -n 's/^X-Optgate-Token: *//p' "$f" | tr -d '\r')
echo
echo "   The token names the recipient and stream, unreadably and unforgeably;"
echo "   optgate-unsubd decodes it when the receiver's one-click POST arrives."
f=$(for x in $(pf_sink_files); do
	grep -l 'X-Rcpt-Args: <ana@mail.example>' "$x"; done |
    xargs grep -l '^Subject: Acme' | head -1)
echo "   VERP return path of ana's partner offer: $(sed -n 's/^X-Mail-Args: *//p' "$f" | tr -d '\r' | cut -c1-100)"

say "Done: tearing down (Postfix, smtp-sink, optgate); nothing left behind."
exit 0
