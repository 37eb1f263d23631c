#!/bin/sh
# End to end through a real Postfix with optgate-milter: a newsletter is
# delivered with a List-Unsubscribe URL; the URL from the delivered copy
# is POSTed as Gmail does (RFC 8058); the next message to that person is
# refused.  Prints the time from the POST's 200 to the first refusal
# (target under 1 s).  Ports: Postfix 25400/25401, milter 18095,
# optgate-unsubd 18096.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
. "$TOP/tests/lib/postfix.sh"

if [ ! -x "$BIN/optgate-milter" ]; then
	fail "optgate-milter built"
	done_testing
	exit 1
fi
trap ud_cleanup EXIT INT TERM
ud_setup 18096 || { fail "setup"; done_testing; exit 1; }
printf '[milter]\nsocket = inet:18095@127.0.0.1\n' >>"$CONF"
A=assinante@example.com.br
ud_optin $A news
ok "optgate-unsubd starts" ud_start
"$BIN/optgate-milter" -f -c "$CONF" >>"$UD_DIR/milter.log" 2>&1 &
UD_PIDS="$UD_PIDS $!"
i=0
while [ $i -lt 100 ] && ! ss -ltn | grep -q '127.0.0.1:18095 '; do
	sleep 0.05
	i=$((i + 1))
done
ok "optgate-milter listens" sh -c "ss -ltn | grep -q '127.0.0.1:18095 '"
pf_start 25400 25401 smtpd_milters=inet:127.0.0.1:18095 \
    milter_default_action=tempfail milter_protocol=6 || {
	fail "postfix starts"
	done_testing
	exit 1
}
# postfix.sh owns the EXIT trap now.
pf_cleanup_add ud_cleanup

msg() {
	{
		printf 'From: Loja <news@example.com>\r\nTo: <%s>\r\n' $A
		printf 'Subject: Ofertas %s\r\nMessage-ID: <%s.%s@example.com>\r\n' \
		    "$1" "$1" "$$"
		printf 'X-Optgate-Stream: news\r\n\r\nOla.\r\n'
	} >"$UD_DIR/msg$1"
}
msg 1
like "first newsletter accepted" "$(pf_send news@example.com $A "$UD_DIR/msg1")" \
    "*DATA 250*"
pf_sink_wait 1 20
F=$(pf_sink_files | head -1)
URL=$(sed -n '/^List-Unsubscribe:/,/^[^ \t]/p' "$F" | tr -d '\r\n\t ' |
    sed -n 's/.*<\(http[^>]*\)>.*/\1/p')
like "delivered copy has a List-Unsubscribe URL of optgate-unsubd" "$URL" \
    "$UD_URL/u/*"
ok "... and List-Unsubscribe-Post" \
    grep -q '^List-Unsubscribe-Post: List-Unsubscribe=One-Click' "$F"
like "the URL opens the page for the recipient" "$(curl -s "$URL")" \
    "*a\*\*\*\*\*e@example.com.br*"

CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -A 'Mozilla/5.0 (compatible; Google-One-Click-Unsubscribe)' \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'List-Unsubscribe=One-Click' "$URL")
T200=$(date +%s%N)
is "POST as Gmail does: 200" "$CODE" 200
n=0
out=
while [ $n -lt 20 ]; do
	n=$((n + 1))
	msg $((n + 1))
	out=$(pf_send news@example.com $A "$UD_DIR/msg$((n + 1))")
	case "$out" in *"DATA 5"*) break ;; esac
done
TREF=$(date +%s%N)
like "the next newsletter is refused" "$out" "*DATA 550 5.7.1*"
MS=$(((TREF - T200) / 1000000))
echo "# time from the POST's 200 to the first refusal by Postfix: $MS ms ($n message(s))"
ok "refused within 1 s of the 200 ($MS ms)" test "$MS" -lt 1000
is "refused at the very next message" "$n" 1
like "Postfix logged the refusal" "$(pf_log)" "*milter-reject*"
done_testing
