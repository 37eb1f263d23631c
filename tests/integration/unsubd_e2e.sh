#!/bin/sh
# End to end: the List-Unsubscribe URL of a recipient, POSTed as Gmail
# does (RFC 8058), and the next decision for that recipient is a refusal.
# Prints the time from the POST's 200 to the first refusal (target under
# 1 s).  An acknowledged opt-out survives kill -9 of the daemon.
# (With the milter merged, the same is checked through Postfix by the
# milter's own tests; here the decision is `optgate status`, the same
# og_gate_decide() call.)
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
trap ud_cleanup EXIT INT TERM

ud_setup 18086 || { fail "setup"; done_testing; exit 1; }
A=destinatario@example.com
ud_optin $A news
ok "daemon starts" ud_start
is "before: the next message would be accepted" "$(ud_status $A news)" 0
URL=$("$BIN/optgate" -c "$CONF" token $A --stream news |
    sed -n 's/^unsubscribe: \(http[^ ]*\).*/\1/p' | head -1)
like "the stream's List-Unsubscribe URL" "$URL" "$UD_URL/u/*"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -A 'Mozilla/5.0 (compatible; Google-One-Click-Unsubscribe)' \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'List-Unsubscribe=One-Click' "$URL")
T200=$(date +%s%N)
is "POST as Gmail does: 200" "$CODE" 200
i=0
st=0
while [ $i -lt 100 ]; do
	st=$(ud_status $A news)
	[ "$st" = 1 ] && break
	i=$((i + 1))
done
TREF=$(date +%s%N)
is "the next message is refused" "$st" 1
MS=$(((TREF - T200) / 1000000))
echo "# time from the POST's 200 to the first refusal: $MS ms ($((i + 1)) decision(s))"
ok "refused within 1 s of the 200 (${MS} ms)" test "$MS" -lt 1000
is "refused at the first decision after the 200" "$i" 0

# Durability: every acknowledged opt-out survives kill -9 right after.
: >"$UD_DIR/paths"
for i in $(seq 1 40); do
	ud_optin "k9-$i@example.com" news
	echo "/u/$(ud_token "k9-$i@example.com" news)" >>"$UD_DIR/paths"
done
R=$(python3 "$TOP/tests/lib/unsubd_clients.py" burst $UD_PORT 40 POST \
    "$UD_DIR/paths")
kill -9 $UD_PID
wait $UD_PID 2>/dev/null
like "40 concurrent one-clicks acknowledged" "$R" "status 200 40*"
bad=0
for i in $(seq 1 40); do
	[ "$(ud_status "k9-$i@example.com" news)" = 1 ] || bad=$((bad + 1))
done
is "after kill -9: every acknowledged opt-out is in the store" "$bad" 0
done_testing
