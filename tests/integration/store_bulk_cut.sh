#!/bin/sh
# An import opening the store while an opt-out is being committed.  The
# import maps consent writable (MDB_WRITEMAP), and LMDB then sets
# data.mdb to the size the import saw (ftruncate in mdb_env_open); the
# opt-out (like every daemon's write) writes its pages through write(2),
# past the file's end when its map has grown beyond it, then the meta
# page naming them.  If the import looked at the file before those pages
# and set it after them, they were cut: the opt-out had been acknowledged
# (exit 0) and was then lost, the store called damaged
# ("MDB_CORRUPTED"), the import failed, and every writer after it hung.
#
# The store is a restored backup (compacted: the file ends at its last
# page) of more than 1 MiB under map_size = 4M (maps start at 1 MiB), so
# each process maps exactly the file and the opt-out's commit grows its
# map and writes past the file's end.  The fault shim
# (tests/fault/og_faultfs.c) holds each process at the point in question;
# optgate-policyd keeps the store open throughout (so the import is not
# the first opener, which LMDB's lock.mdb would serialise) and reads it.
# Last, a page damaged under the running daemon, as the cut left it: each
# command says so (exit 3); the first one's failed open used to leave
# LMDB's writer lock taken, and every command after it hung.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

SHIM=$TOP/$BUILD/tests/og_faultfs.so
if [ ! -f "$SHIM" ]; then
	fail "fault shim built ($SHIM)"
	done_testing
	exit 1
fi
pd_setup 0
T=$PD_T
PD_TARGET=unix:$T/policy.sock
cat >"$PD_CONF" <<EOF2
[store]
path = $T/store
map_size = 4M
[keys]
file = $T/keys
[policyd]
listen = unix:$T/policy.sock
[stream news]
match = sender:news@example.com
class = marketing
consent = optin
EOF2
pd_init
# Every CLI call bounded: a store left with LMDB's writer lock taken by
# a process that failed on a damaged page hangs the next writer.
ogt() { timeout 10 "$BIN/optgate" -c "$PD_CONF" "$@"; }
FAULT=$T/fault
faulty() { # PROGRAM ARGS...: with the shim on consent's data.mdb
	env LD_PRELOAD="$SHIM" OG_FAULT="$FAULT" \
	    OG_FAULT_FILE=/consent/data.mdb timeout 20 "$@"
}
size() { stat -c %s "$T/store/consent/data.mdb"; }
# wait_file FILE: until it exists (10 s)
wait_file() {
	_i=0
	while [ ! -e "$1" ] && [ $_i -lt 200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -e "$1" ]
}
# wait_exit PID [TENTHS]: WX = its exit status once it exited (10 s), or
# "running"
wait_exit() {
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt "${2:-100}" ]; do
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

csv() { # FIRST LAST: opt-ins of aN@example.com
	printf 'address,stream,state,time,source\n'
	seq "$1" "$2" |
	    awk '{ printf "a%d@example.com,news,optin,2026-01-02T03:04:05Z,form\n", $1 }'
}
csv 1 8000 >"$T/many.csv"
csv 9001 9001 >"$T/one.csv"
ogt import "$T/many.csv" >/dev/null 2>&1
is "8000 opt-ins imported" "$?" 0
ogt backup "$T/bk" >/dev/null 2>&1
is "backup" "$?" 0
# restore: the store as README's restore gives it, policyd on it
restore() {
	pd_stop
	rm -rf "$T/store" && cp -a "$T/bk" "$T/store" && pd_start
}
ok "restored, policyd serves it" restore
F=$(size)
ok "the consent file ($F bytes) is larger than a first map (1 MiB)" \
    test "$F" -gt 1048576

# --- the opt-out held after its data pages, before its meta page --------
# The import's open comes when the file already holds the new pages: it
# sees them in the file's size, and cuts nothing.
echo "pause 0" >"$FAULT"
faulty "$BIN/optgate" -c "$PD_CONF" optout a7@example.com >/dev/null \
    2>"$T/out.err" &
OPID=$!
ok "optout held before its meta page" wait_file "$FAULT.paused"
G=$(size)
ok "its commit wrote past the file's end ($F -> $G bytes)" test "$G" -gt "$F"
ogt import "$T/one.csv" >"$T/imp.out" 2>&1 &
IPID=$!
sleep 1
rm -f "$FAULT" "$FAULT.paused"
wait_exit "$OPID"
is "optout exits 0 (err: $(cat "$T/out.err"))" "$WX" 0
wait_exit "$IPID"
is "the import exits 0 ($(tail -1 "$T/imp.out"))" "$WX" 0
ogt status a7@example.com --stream news >/dev/null 2>&1
is "the opt-out is in the store" "$?" 1
ogt verify >"$T/verify.out" 2>&1
is "the store verifies ($(tail -1 "$T/verify.out"))" "$?" 0

# --- the import held between its look at the file and LMDB's setting ----
# (ftruncate in mdb_env_open): the opt-out commits meanwhile, past the
# file's end the import saw.
ok "restored again, policyd serves it" restore
like "policyd passes a7 (opted in)" \
    "$(pd_q recipient=a7@example.com instance=b1)" DUNNO
echo truncate >"$FAULT"
faulty "$BIN/optgate" -c "$PD_CONF" import "$T/one.csv" >"$T/imp.out" 2>&1 &
IPID=$!
ok "import held at its setting of the file" wait_file "$FAULT.truncating"
ogt optout a7@example.com >/dev/null 2>"$T/out.err" &
OPID=$!
# the opt-out goes through (unfixed) or waits for the import's setting
wait_exit "$OPID" 20
echo "# optout while the import was held: $WX"
rm -f "$FAULT" "$FAULT.truncating"
[ "$WX" = running ] && wait_exit "$OPID"
ORC=$WX
wait_exit "$IPID"
is "the import exits 0 ($(tail -1 "$T/imp.out"))" "$WX" 0
is "optout exits 0 (err: $(cat "$T/out.err"))" "$ORC" 0
ogt status a7@example.com --stream news >"$T/st.out" 2>&1
is "the acknowledged opt-out is in the store ($(tail -1 "$T/st.out"))" \
    "$?" 1
ogt status a9001@example.com --stream news >/dev/null 2>&1
is "and the import's opt-in" "$?" 0
ogt verify >"$T/verify.out" 2>&1
is "the store verifies ($(tail -1 "$T/verify.out"))" "$?" 0
like "policyd refuses a7 (opted out)" \
    "$(pd_q recipient=a7@example.com instance=b2)" \
    "550 5.7.1 <a7@example.com>: unsubscribed*"
ok "policyd is still running" kill -0 "$PD_PID"
optout_a8() { ogt optout a8@example.com >/dev/null; }
ok "another opt-out commits" optout_a8

# --- a damaged page under a running daemon (what a cut left) -----------
# The first command to open the store failed on it and left LMDB's writer
# lock taken: every command after it hung (each open takes that lock).
python3 - "$T/store/consent/data.mdb" <<'EOF2'
import struct, sys
f = open(sys.argv[1], "r+b")
metas = []
for off in (0, 4096):  # newest meta page: its main database's root page
    f.seek(off)
    m = f.read(160)
    # (txnid, root of the main database)
    metas.append((struct.unpack_from("<Q", m, 144)[0],
                  struct.unpack_from("<Q", m, 128)[0]))
root = max(metas)[1]
f.seek(root * 4096)
f.write(bytes(4096))
EOF2
ogt status a7@example.com --stream news >/dev/null 2>"$T/err"
is "damaged: status exits 3" "$?" 3
like "and says so" "$(cat "$T/err")" "*MDB_CORRUPTED*"
ogt status a7@example.com --stream news >/dev/null 2>&1
is "damaged: the next status exits 3 too (124: hung)" "$?" 3
ogt optout a9@example.com >/dev/null 2>&1
is "damaged: an opt-out exits 3 (124: hung)" "$?" 3
ok "policyd is still running" kill -0 "$PD_PID"
pd_stop
is "no sanitizer report in policyd's log" \
    "$(grep -c 'Sanitizer\|runtime error' "$PD_LOG")" 0
done_testing
