#!/bin/sh
# A disk error under the store (real faults: tests/fault/og_faultfs.c,
# LD_PRELOADed, fails LMDB's writes or syncs of one data.mdb while a file
# exists).  A failed write of a meta page makes LMDB stop the environment
# in that process (MDB_PANIC on every later transaction): before, the
# daemon kept running and answered 451/503 to everything until someone
# restarted it, even once the disk was back.  Now it logs one fatal line
# and exits 1, so systemd (Restart=) or Postfix's master starts it again,
# and the new process works.  A failed sync (fdatasync) of data pages
# only fails that write: it is reported (exit 4, 503) and nothing dead.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

SHIM=$TOP/$BUILD/tests/og_faultfs.so
if [ ! -f "$SHIM" ]; then
	fail "fault shim built ($SHIM)"
	done_testing
	exit 1
fi
# ASan's runtime in the programs intercepts the same calls first and then
# calls the shim's (RTLD_NEXT), so the shim works under make asan too.
UDP=18093
pd_setup 0
T=$PD_T
PD_TARGET=unix:$T/policy.sock
cat >"$PD_CONF" <<EOF2
[store]
path = $T/store
[keys]
file = $T/keys
[policyd]
listen = unix:$T/policy.sock
[milter]
socket = unix:$T/milter.sock
[unsubd]
listen = 127.0.0.1:$UDP
rate_limit = 0
timeout = 3s
[stream news]
match = sender:news@example.com
class = marketing
consent = optin
sender = example.com
unsubscribe = http://127.0.0.1:$UDP/u/%t
EOF2
MPID=
UPID=
trap 'kill -9 $MPID $UPID 2>/dev/null; pd_cleanup' EXIT
pd_init
(umask 077 && "$BIN/optgate" keygen >"$T/keys")
for p in ana bob cid dan eve; do
	og optin $p@example.org --stream news --single >/dev/null
done
FAULT=$T/fault
# The programs below run with the shim; it acts only while $FAULT exists.
faulty() { # FILE-SUFFIX PROGRAM ARGS...
	_f=$1
	shift
	env LD_PRELOAD="$SHIM" OG_FAULT="$FAULT" OG_FAULT_FILE="$_f" \
	    "$@"
}
# wait_exit PID: WX = its exit status once it exited (10 s), or "running"
wait_exit() {
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		WX=running
	else
		wait "$1"
		WX=$?
	fi
}

# --- the CLI ------------------------------------------------------------------
echo meta >"$FAULT"
faulty /consent/data.mdb "$BIN/optgate" -c "$PD_CONF" optout ana@example.org \
    >/dev/null 2>"$T/err"
is "cli: a failed meta write: optout exits 4" "$?" 4
like "cli: and says input/output error" "$(cat "$T/err")" \
    '*ana@example.org*input/output error*'
echo sync >"$FAULT"
faulty /consent/data.mdb "$BIN/optgate" -c "$PD_CONF" optout bob@example.org \
    >/dev/null 2>"$T/err"
is "cli: a failed fsync: optout exits 4 (the loss is reported)" "$?" 4
rm -f "$FAULT"
og status ana@example.org --stream news >/dev/null 2>&1
is "cli: the failed opt-out is not in the store" "$?" 0
og status bob@example.org --stream news >/dev/null 2>&1
is "cli: nor the unsynced one" "$?" 0
faulty /consent/data.mdb "$BIN/optgate" -c "$PD_CONF" optout ana@example.org \
    >/dev/null 2>&1
is "cli: disk back: the same optout works" "$?" 0

# --- optgate-policyd: counters (written through write(2) here) -----------------
PD_ENV="LD_PRELOAD=$SHIM OG_FAULT=$FAULT OG_FAULT_FILE=/counters/data.mdb"
ok "policyd starts" pd_start
message() { # RECIPIENT INSTANCE: RCPT, then END-OF-MESSAGE (counted then)
	printf '%s\n' "instance=$2 sender=news@example.com recipient=$1" \
	    "instance=$2 sender=news@example.com protocol_state=END-OF-MESSAGE recipient= queue_id=Q$2" |
	    pd_client session | tr '\n' ' '
}
is "policyd: a message passes" "$(message cid@example.org p1)" "DUNNO DUNNO "
echo meta >"$FAULT"
message dan@example.org p2 >/dev/null
# The writer thread commits that send after the answer: the disk comes
# back once the commit failed (said in the log), not after a guessed time.
pd_log_wait 'counting [0-9]+ sends of news: ' 20 ||
    fail "policyd: the send was committed (and failed) within 20 s"
rm -f "$FAULT"
PID=$PD_PID
wait_exit "$PID"
is "policyd: after the failed write, once the disk is back, it exits 1" \
    "$WX" 1
is "policyd: with one fatal line naming the counters" \
    "$(pd_log_count "fatal: $T/store/counters: a write to the disk failed.*MDB_PANIC")" 1
kill -9 "$PID" 2>/dev/null
PD_PID=
ok "policyd: started again (as systemd does)" pd_start
is "policyd: the new process decides" "$(message eve@example.org p3)" \
    "DUNNO DUNNO "
ok "policyd: and counts" sh -c "for i in \$(seq 40); do
	$BIN/optgate -c $PD_CONF status eve@example.org --stream news --json |
	    grep -q '\"sends\":\[\"2' && exit 0; sleep 0.05; done; exit 1"
pd_stop

# --- optgate-milter: counters ----------------------------------------------------
mstart() {
	# not through faulty: $! must be the daemon's pid
	env LD_PRELOAD="$SHIM" OG_FAULT="$FAULT" \
	    OG_FAULT_FILE=/counters/data.mdb \
	    "$BIN/optgate-milter" -f -c "$PD_CONF" 2>>"$T/milter.log" &
	MPID=$!
	_i=0
	while [ ! -S "$T/milter.sock" ] && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -S "$T/milter.sock" ]
}
mlua() { # RECIPIENT: 0 when the message passes
	miltertest -s "$TOP/tests/milter/disk_error.lua" -D "TOP=$TOP" \
	    -D "SOCK=unix:$T/milter.sock" -D "RCPT=$1" >"$T/mt.out" 2>&1
}
: >"$T/milter.log"
ok "milter starts" mstart
ok "milter: a message passes" mlua cid@example.org
echo meta >"$FAULT"
mlua dan@example.org
# the disk comes back once the milter's count failed (said in the log)
i=0
until grep -q 'counting sends: ' "$T/milter.log" || [ $i -ge 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q 'counting sends: ' "$T/milter.log" ||
    fail "milter: the send was counted (and failed) within 20 s"
rm -f "$FAULT"
wait_exit "$MPID"
is "milter: after the failed write, once the disk is back, it exits 1" \
    "$WX" 1
is "milter: with one fatal line naming the counters" \
    "$(grep -c "fatal: $T/store/counters: a write to the disk failed.*MDB_PANIC" "$T/milter.log")" 1
kill -9 "$MPID" 2>/dev/null
rm -f "$T/milter.sock"
ok "milter: started again" mstart
ok "milter: the new process passes a message" mlua eve@example.org
# a failed flush of the counters (written without sync) loses counts at
# a power cut: said, not silent
echo sync >"$FAULT"
ok "milter: a failed counters flush is logged" sh -c "
	i=0; while [ \$i -lt 50 ]; do
		grep -q 'syncing counters: input/output error' '$T/milter.log' && exit 0
		sleep 0.1; i=\$((i + 1)); done; exit 1"
rm -f "$FAULT"
kill "$MPID"
wait "$MPID"

# --- optgate-unsubd: consent -------------------------------------------------------
ustart() {
	env LD_PRELOAD="$SHIM" OG_FAULT="$FAULT" \
	    OG_FAULT_FILE=/consent/data.mdb \
	    "$BIN/optgate-unsubd" -c "$PD_CONF" -f 2>>"$T/unsubd.log" &
	UPID=$!
	_i=0
	while [ $_i -lt 100 ]; do
		curl -s -o /dev/null --max-time 1 \
		    "http://127.0.0.1:$UDP/healthz" && return 0
		kill -0 "$UPID" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
oneclick() { # ADDRESS
	_tok=$(og token "$1" --stream news | sed -n 's/^token: //p')
	curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 10 \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    --data 'List-Unsubscribe=One-Click' \
	    "http://127.0.0.1:$UDP/u/$_tok"
}
: >"$T/unsubd.log"
ok "unsubd starts" ustart
echo sync >"$FAULT"
is "unsubd: a failed fsync: the click is not acknowledged (503)" \
    "$(oneclick cid@example.org)" 503
rm -f "$FAULT"
is "unsubd: disk back: acknowledged with no restart" \
    "$(oneclick cid@example.org)" 200
echo meta >"$FAULT"
is "unsubd: a failed meta write: 503" "$(oneclick dan@example.org)" 503
rm -f "$FAULT"
wait_exit "$UPID"
is "unsubd: then it exits 1" "$WX" 1
is "unsubd: with one fatal line naming the consent" \
    "$(grep -c "fatal: $T/store/consent: a write to the disk failed.*MDB_PANIC" "$T/unsubd.log")" 1
kill -9 "$UPID" 2>/dev/null
ok "unsubd: started again" ustart
is "unsubd: the new process acknowledges the click" \
    "$(oneclick dan@example.org)" 200
og status dan@example.org --stream news >/dev/null 2>&1
is "unsubd: and the opt-out is in the store" "$?" 1
kill "$UPID"
wait "$UPID"
og verify >/dev/null 2>&1
is "the store verifies" "$?" 0
# make asan: the exits left no sanitizer report
is "no sanitizer report in the daemons' logs" \
    "$(cat "$PD_LOG" "$T/milter.log" "$T/unsubd.log" |
        grep -c 'Sanitizer\|runtime error')" 0
done_testing
