#!/bin/sh
# End to end: the List-Unsubscribe URL of a recipient, POSTed as Gmail
# does (RFC 8058), and the next decision for that recipient is a refusal.
# Prints the time from the POST's 200 to the first refusal (target under
# 1 s).  An acknowledged opt-out survives kill -9 of the daemon.
# Here the decision is `optgate status` (the same og_gate_decide() call
# the daemons make); tests/integration/unsubd_postfix.sh does it through
# Postfix and optgate-milter.  SIGTERM under load loses no acknowledged
# opt-out.
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

# SIGTERM in the middle of 150 concurrent one-clicks: a clean, quick exit,
# and every POST that got its 200 is in the store (the rest were told to
# come back: 503, or never answered).
ok "daemon restarts" ud_start
: >"$UD_DIR/paths"
for i in $(seq 1 150); do
	echo "/u/$(ud_token "term-$i@example.com" news)" >>"$UD_DIR/paths"
done
BURST_LOG=$UD_DIR/burst.log python3 "$TOP/tests/lib/unsubd_clients.py" \
    burst $UD_PORT 150 POST "$UD_DIR/paths" >/dev/null &
BP=$!
UD_PIDS="$UD_PIDS $BP"
i=0
while [ $i -lt 200 ] && [ "$(grep -c 'unsubscribe: to=<t' "$UD_DIR/log")" -lt 20 ]; do
	sleep 0.02
	i=$((i + 1))
done
T0=$(date +%s%N)
kill $UD_PID
wait $UD_PID
rc=$?
MS=$((($(date +%s%N) - T0) / 1000000))
is "SIGTERM under load: exit status 0" "$rc" 0
ok "... within 5 s (${MS} ms)" test "$MS" -lt 5000
wait $BP
N200=$(grep -c '^200 ' "$UD_DIR/burst.log")
ok "some POSTs were acknowledged before the stop ($N200)" test "$N200" -gt 0
bad=0
for p in $(sed -n 's|^200 /u/||p' "$UD_DIR/burst.log"); do
	a=$(grep -n "^/u/$p\$" "$UD_DIR/paths" | cut -d: -f1)
	[ "$(ud_status "term-$a@example.com" news)" = 1 ] || bad=$((bad + 1))
done
is "every acknowledged one is in the store" "$bad" 0
is "the others were told to retry (503) or not answered at all" \
    "$(grep -vcE '^(200|503|000) ' "$UD_DIR/burst.log")" 0

# SIGTERM while a burst of one-clicks waits for the store's write lock
# (held here by mdb_load, as a long admin import holds it): they are
# written after the stop began, once the lock is free, and each must get
# its 200 before the daemon exits, not a closed connection.
ok "daemon restarts" ud_start
: >"$UD_DIR/paths"
for i in $(seq 1 60); do
	echo "/u/$(ud_token "held-$i@example.com" news)" >>"$UD_DIR/paths"
done
mkfifo "$UD_DIR/lock.fifo"
mdb_load -f "$UD_DIR/lock.fifo" "$UD_DIR/store/consent" &
LP=$!
UD_PIDS="$UD_PIDS $LP"
exec 7>"$UD_DIR/lock.fifo"
# mdb_load takes the write lock after the header, then waits for data.
printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n' >&7
BURST_LOG=$UD_DIR/burst2.log python3 "$TOP/tests/lib/unsubd_clients.py" \
    burst $UD_PORT 60 POST "$UD_DIR/paths" >/dev/null 7>&- &
BP=$!
UD_PIDS="$UD_PIDS $BP"
# The stop comes once the daemon has read the 60 requests (its ends of
# the connections: 60, none with unread bytes), and the lock is freed
# once it says it is stopping: each waited for, not a guessed time.
waiting() {
	ss -Htn state established "( sport = :$UD_PORT )" |
	    awk '$1 == 0 { n++ } $1 > 0 { u++ } END { exit !(n >= 60 && !u) }'
}
i=0
until waiting || [ $i -ge 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
waiting || fail "the 60 one-clicks read by the daemon within 10 s"
is "the burst waits for the write lock (nothing written yet)" \
    "$(grep -c 'unsubscribe: to=<h' "$UD_DIR/log")" 0
kill $UD_PID
i=0
until grep -q "optgate-unsubd\[$UD_PID\]: stopping: deadline" "$UD_DIR/log" ||
    [ $i -ge 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
grep -q "optgate-unsubd\[$UD_PID\]: stopping: deadline" "$UD_DIR/log" ||
    fail "the daemon stopping within 10 s of SIGTERM"
exec 7>&-
wait $LP
T0=$(date +%s%N)
wait $UD_PID
rc=$?
MS=$((($(date +%s%N) - T0) / 1000000))
is "SIGTERM with opt-outs waiting: exit status 0" "$rc" 0
ok "... within 5 s of the lock's release (${MS} ms)" test "$MS" -lt 5000
wait $BP
N200=$(grep -c '^200 ' "$UD_DIR/burst2.log")
ok "opt-outs were written after the stop began" \
    test "$(grep -c 'unsubscribe: to=<h' "$UD_DIR/log")" -gt 0
bad=0
stored=0
for i in $(seq 1 60); do
	[ "$(ud_status "held-$i@example.com" news)" = 1 ] || continue
	stored=$((stored + 1))
	p=$(sed -n "${i}p" "$UD_DIR/paths")
	grep -qx "200 $p" "$UD_DIR/burst2.log" || bad=$((bad + 1))
done
is "every opt-out written got its 200 ($stored written, $N200 200s)" "$bad" 0
is "no other answer than 200, 503 or none" \
    "$(grep -vcE '^(200|503|000) ' "$UD_DIR/burst2.log")" 0
done_testing
