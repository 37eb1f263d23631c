#!/bin/sh
# A store whose lock.mdb files are missing (a restored backup has none)
# on a full disk.  LMDB sizes a new lock file without blocks and writes it
# through its map, and that first write was a SIGBUS: the daemons died
# with the words for a store cut under them ("restore a backup"), the CLI
# said only "disk full?".  Now each says the disk is full, in one line
# naming the file, and changes nothing: the CLI exits 4, optgate-policyd
# and optgate-milter keep running (marketing mail tempfailed, as for any
# store they cannot open) and open the store once there is room.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

pd_setup 0
PD_TARGET=unix:$PD_T/policy.sock
MNT=$PD_T/small
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
	fail "cannot mount a tmpfs (run as root)"
	done_testing
	exit 1
fi
MPID=
cleanup_all() {
	[ -n "$MPID" ] && kill -9 "$MPID" 2>/dev/null
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	pd_cleanup
}
trap cleanup_all EXIT
cat >"$PD_CONF" <<EOF
[store]
path = $MNT/store
counter_map_size = 1M
[keys]
file = $PD_T/keys
[feedback]
quarantine = $PD_T/quarantine
[policyd]
listen = unix:$PD_T/policy.sock
[milter]
socket = unix:$PD_T/milter.sock
[stream news]
match = sender:news@example.com
consent = none
EOF
pd_init
og optout bob@example.org >/dev/null
rm -f "$MNT/store/consent/lock.mdb" "$MNT/store/counters/lock.mdb"
dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
is "the disk is full" "$(df --output=avail "$MNT" | tail -1 | tr -d ' ')" 0

# every lock file, stray or whole, in the store
locks() {
	find "$MNT/store" -name '*lock.mdb*' | sort | tr '\n' ' '
}

out=$(og status bob@example.org 2>&1)
rc=$?
is "status: exit 4 (store write failed: disk full)" "$rc" 4
is "status: one line, naming the lock file and the full disk" "$out" \
    "optgate: $MNT/store/consent: lock.mdb: disk full: no space left on the store's disk; free some space, then try again"
out=$(og optout carol@example.org 2>&1)
is "optout: exit 4 too" "$?" 4
like "optout: says the disk is full" "$out" "*lock.mdb: disk full*"
is "no lock file left behind, whole or part" "$(locks)" ""

ok "optgate-policyd starts on it" pd_start
ok "and says the lock file found no room" \
    pd_log_wait "error: store $MNT/store: .*lock.mdb: disk full: no space left on the store's disk.*marketing mail is tempfailed" 5
is "a marketing recipient is tempfailed meanwhile" \
    "$(pd_q sender=news@example.com recipient=ann@example.org)" \
    "451 4.3.0 consent store unavailable, try again later"
sleep 1
ok "the daemon is still running" kill -0 "$PD_PID"
is "no SIGBUS in its log" "$(pd_log_count 'SIGBUS')" 0

"$BIN/optgate-milter" -f -c "$PD_CONF" 2>"$PD_T/milter.log" &
MPID=$!
i=0
until grep -q 'disk full' "$PD_T/milter.log" || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
like "optgate-milter says the disk is full too" "$(cat "$PD_T/milter.log")" \
    "*error: store $MNT/store: *lock.mdb: disk full: no space left on the store's disk*marketing mail is tempfailed until it opens*"
sleep 0.5
ok "and keeps running" kill -0 "$MPID"
ok "its socket is there" [ -S "$PD_T/milter.sock" ]
kill "$MPID"
wait "$MPID" 2>/dev/null
MPID=

rm -f "$MNT/fill"
ok "with room, optgate-policyd opens the store (retried every 5 s)" \
    pd_log_wait "store $MNT/store open" 12
like "and answers from it: an opted-out recipient is refused" \
    "$(pd_q sender=news@example.com recipient=bob@example.org)" \
    "550 5.7.1 <bob@example.org>: unsubscribed from all streams on *"
is "a recipient with no record passes (consent = none)" \
    "$(pd_q sender=news@example.com recipient=ann@example.org)" DUNNO
pd_stop
is "the CLI works again: bob may not be mailed news (exit 1)" \
    "$(og status bob@example.org --stream news >/dev/null 2>&1; echo $?)" 1
og verify >/dev/null 2>&1
is "the store verifies" "$?" 0
done_testing
