#!/bin/sh
# A data.mdb truncated under running daemons (a restore copied over the
# live store, a full-disk cleanup, a bad disk): their next read of the
# store's map is a SIGBUS.  Each must say so in its log before it dies,
# never answer an accept, and a restart must refuse the file and name the
# cure.  policyd on a unix socket, optgate-unsubd on 127.0.0.1:18091.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
T=$(mktemp -d /tmp/og-trunc.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM
cat >"$T/og.conf" <<EOF
[store]
path = $T/store
[keys]
file = $T/keys
[policyd]
listen = unix:$T/policy.sock
[unsubd]
listen = 127.0.0.1:18091
[stream news]
match = sender:news@example.com
consent = none
unsubscribe = https://unsub.example.com/u/%t
EOF
OG="$BIN/optgate -c $T/og.conf"
PC="python3 $TOP/tests/lib/policyclient.py"
$OG init >/dev/null 2>&1
$OG optout gone@example.org >/dev/null 2>&1
tok=$($OG token ana@example.org --stream news | sed -n 's/^token: //p')

"$BIN/optgate-policyd" -f -c "$T/og.conf" 2>"$T/pd.log" &
pd=$!
"$BIN/optgate-unsubd" -f -c "$T/og.conf" 2>"$T/us.log" &
us=$!
PIDS="$pd $us"
i=0
while [ $i -lt 50 ] && { [ ! -S "$T/policy.sock" ] ||
    ! curl -s --max-time 1 http://127.0.0.1:18091/healthz >/dev/null; }; do
	sleep 0.1
	i=$((i + 1))
done
is "policyd answers before" \
    "$($PC query "unix:$T/policy.sock" sender=news@example.com recipient=bob@example.org)" DUNNO

truncate -s 8192 "$T/store/consent/data.mdb"
r=$($PC query "unix:$T/policy.sock" sender=news@example.com recipient=bob@example.org instance=t2)
is "policyd: no answer from a truncated store (Postfix's default action: 451)" "$r" CLOSED
wait $pd
is "policyd died of the SIGBUS" "$?" 135
like "policyd said why before it died" "$(cat "$T/pd.log")" \
    "*fatal: SIGBUS reading the store's map: a data.mdb under \[store\] path was truncated*restore a backup*"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    -d List-Unsubscribe=One-Click "http://127.0.0.1:18091/u/$tok")
ok "unsubd: no 200 for an opt-out it could not record ($code)" test "$code" != 200
wait $us
is "unsubd died of the SIGBUS" "$?" 135
like "unsubd said why before it died" "$(cat "$T/us.log")" \
    "*optgate-unsubd\[$us\]: fatal: SIGBUS reading the store's map*"
PIDS=""

# Restarted (systemd's Restart=), policyd refuses the file and tempfails.
"$BIN/optgate-policyd" -f -c "$T/og.conf" 2>"$T/pd2.log" &
PIDS=$!
i=0
while [ $i -lt 50 ] && [ ! -S "$T/policy.sock" ]; do
	sleep 0.1
	i=$((i + 1))
done
like "restarted policyd tempfails marketing mail" \
    "$($PC query "unix:$T/policy.sock" sender=news@example.com recipient=bob@example.org instance=t3)" '451 *'
like "restarted policyd names the cure" "$(cat "$T/pd2.log")" '*truncated*restore a backup*'
$OG verify >"$T/v" 2>&1
is "verify of the truncated live store: exit 3" "$?" 3
like "verify says truncated" "$(cat "$T/v")" '*data.mdb: truncated*'
done_testing
