#!/bin/sh
# A command killed while it opens the store must not cost the next one
# its opt-out.  The first process to open an environment nobody has open
# sets up LMDB's lock.mdb: mutexes, then the last transaction's number,
# which LMDB 0.9.24 writes only at the end of mdb_env_open.  Killed in
# between, a process already waiting in its own mdb_env_open got the
# table with that number 0: its commit was based on the older meta page
# and written over the newest, so its own opt-out (it said "recorded",
# exit 0) and the one before were gone (tests/bench/crash.py found it:
# one round in about 80).  The fault shim holds the first command right
# there (LMDB reading the meta pages); the second starts meanwhile; the
# first is killed.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"

BIN=$TOP/$BUILD/bin
SHIM=$TOP/$BUILD/tests/og_faultfs.so
if [ ! -f "$SHIM" ]; then
	fail "fault shim built ($SHIM)"
	done_testing
	exit 1
fi
T=$(mktemp -d /tmp/optgate-openkill.XXXXXX)
A=
B=
cleanup() {
	for p in $A $B; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
cat >"$T/og.conf" <<EOF2
[store]
path = $T/store
[keys]
file = $T/keys
[stream news]
match = sender:news@example.com
consent = optin
EOF2
og() { timeout 20 "$BIN/optgate" -c "$T/og.conf" "$@"; }
FAULT=$T/fault

# held - wait (5 s at most) for the shim's word that it holds a process
held() {
	i=0
	while [ ! -f "$FAULT.header" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -f "$FAULT.header" ]
}

# round N: a recorded opt-out, then one command killed in the open while
# a second one waits to open; both earlier and later opt-outs must hold.
# Two rounds: the last transaction's number odd, then even (which meta
# page is the older one decides what a wrong number overwrites).
round() {
	n=$1
	rm -f "$FAULT" "$FAULT.header"
	ok "round $n: opt-out before" og optout "before$n@example.org" --all
	echo header >"$FAULT"
	env LD_PRELOAD="$SHIM" OG_FAULT="$FAULT" \
	    OG_FAULT_FILE=/consent/data.mdb \
	    "$BIN/optgate" -c "$T/og.conf" optout "killed$n@example.org" --all \
	    >"$T/killed.out" 2>&1 &
	A=$!
	ok "round $n: the first command is held in LMDB's open" held
	og optout "waiter$n@example.org" --all >"$T/waiter.out" 2>&1 &
	B=$!
	sleep 0.5
	kill -9 "$A"
	wait "$A" 2>/dev/null
	A=
	rm -f "$FAULT"
	wait "$B"
	is "round $n: the waiting command records its opt-out" "$?" 0
	B=
	ok "round $n: store verifies" og verify
	for a in before waiter; do
		like "round $n: $a$n's recorded opt-out is in the store" \
		    "$(og status "$a$n@example.org")" \
		    "*news*reject*unsubscribed from all*"
	done
}

ok "store made" og init
round 1
ok "one more commit: the other meta page newest" \
    og optout parity@example.org --all
round 2
done_testing
