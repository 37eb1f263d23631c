#!/bin/sh
# Send counters removed or replaced under running daemons: an admin's
# `rm -rf counters` to reset the caps, or counters put back from a backup
# while mail flows.  The daemons must follow within a flush (counter_sync,
# 1 s): before, optgate-policyd and optgate-milter kept counting in the
# unlinked file until restarted, so `optgate status` showed none of their
# sends, a policyd started by spawn(8) (or a restart) let a 1/1d stream's
# second message through, and the deleted file kept its disk.
# policyd and the milter on unix sockets: no fixed ports.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

pd_setup 0
PD_TARGET=unix:$PD_T/policy.sock
cat >"$PD_CONF" <<EOF
[store]
path = $PD_T/store
[keys]
file = $PD_T/keys
[policyd]
listen = unix:$PD_T/policy.sock
[milter]
socket = unix:$PD_T/milter.sock
[stream news]
match = sender:news@example.com
consent = optin
caps = 1/1d
EOF
pd_init
og optin ana@example.org --stream news --single >/dev/null
og optin bob@example.org --stream news --single >/dev/null
ok "policyd starts" pd_start
"$BIN/optgate-milter" -f -c "$PD_CONF" 2>"$PD_T/milter.log" &
MPID=$!
trap 'kill $MPID 2>/dev/null; pd_cleanup' EXIT
i=0
while [ ! -S "$PD_T/milter.sock" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

# One message to PERSON through the running policyd: RCPT, then
# END-OF-MESSAGE (counted then).  Prints both answers.
message() {
	printf '%s\n' "instance=$2 sender=news@example.com recipient=$1" \
	    "instance=$2 sender=news@example.com protocol_state=END-OF-MESSAGE recipient= queue_id=Q$2" |
	    pd_client session | tr '\n' ' '
}
# The sends optgate status sees for PERSON (waits for the commit).
sends() {
	for _i in $(seq 40); do
		_s=$(og status "$1" --stream news --json |
		    sed -n 's/.*"sends":\[\([^]]*\)\].*/\1/p')
		[ -n "$_s" ] && break
		sleep 0.05
	done
	echo "$_s" | tr ',' '\n' | grep -c .
}
# A policyd process started for one connection, as spawn(8) starts one:
# its answer for PERSON.
spawned() {
	python3 - "$BIN/optgate-policyd" "$PD_CONF" "$1" <<'EOF'
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-s", "-c", sys.argv[2]], stdin=b,
                     stdout=b, stderr=subprocess.DEVNULL)
b.close()
a.settimeout(10)
a.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
           "sender=news@example.com\nrecipient=%s\ninstance=sp1\n\n"
           % sys.argv[3]).encode())
d = b""
while not d.endswith(b"\n\n"):
    c = a.recv(4096)
    if not c:
        break
    d += c
a.close()
p.wait(timeout=10)
print(d.decode().strip().replace("action=", "", 1)[:9])
EOF
}
# The support group of README's "Read-only access" may write the lock
# files: the counters made again after the reset must keep that.
chmod g+rw "$PD_T/store/consent/lock.mdb"
is "first message to ana passes" "$(message ana@example.org m1)" "DUNNO DUNNO "
is "optgate status: one send" "$(sends ana@example.org)" 1

# The admin resets the caps.
rm -rf "$PD_T/store/counters"
ok "policyd says it follows the new counters" pd_log_wait \
    'warning: .*/counters/data.mdb was removed under this process: counting in new empty counters' 5
i=0
while ! grep -q 'was removed under this process' "$PD_T/milter.log" && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
like "the milter says so too" "$(cat "$PD_T/milter.log")" \
    "*optgate-milter\[$MPID\]: warning: $PD_T/store/counters/data.mdb was removed under this process*"
# (made by whichever daemon noticed first: the milter's umask is 077)
is "the counters made again have the consent's modes" \
    "$(cd "$PD_T/store/counters" && stat -c %a . data.mdb lock.mdb | tr '\n' ' ')" \
    "$(cd "$PD_T/store/consent" && stat -c %a . data.mdb lock.mdb | tr '\n' ' ')"
ok "policyd let go of the deleted file (its disk is free)" \
    sh -c "! ls -l /proc/$PD_PID/fd | grep -q 'counters/.*(deleted)'"
ok "the milter too" sh -c "! ls -l /proc/$MPID/fd | grep -q 'counters/.*(deleted)'"
is "caps restart from zero: a message after the reset passes" \
    "$(message ana@example.org m2)" "DUNNO DUNNO "
is "optgate status sees the running policyd's send" "$(sends ana@example.org)" 1
like "a policyd started now (spawn(8), a restart) holds the 1/1d cap" \
    "$(spawned ana@example.org)" "550 5.7.1"
like "and the running one agrees" "$(pd_q recipient=ana@example.org instance=m3)" \
    "550 5.7.1 <ana@example.org>: frequency cap 1/1d*"

# A backup while the daemons run, and counters put back from it (moved
# aside, copied in) without stopping them.
og backup "$PD_T/bk" >/dev/null 2>&1
is "backup while the daemons run: exit 0" "$?" 0
og verify "$PD_T/bk" >/dev/null 2>&1
is "the backup verifies" "$?" 0
mv "$PD_T/store/counters" "$PD_T/counters.old"
cp -a "$PD_T/bk/counters" "$PD_T/store/counters"
ok "policyd follows the restored counters" pd_log_wait \
    'warning: .*/counters/data.mdb was replaced under this process: counting in the file now there' 5
like "the backup's send still holds ana's cap" \
    "$(pd_q recipient=ana@example.org instance=m4)" "550 5.7.1 *frequency cap*"
is "bob's message after the restore passes" "$(message bob@example.org m5)" "DUNNO DUNNO "
is "optgate status sees it in the restored counters" "$(sends bob@example.org)" 1
like "a policyd started now holds bob's cap" "$(spawned bob@example.org)" "550 5.7.1"
is "one line per switch" \
    "$(pd_log_count 'under this process')" 2

ok "policyd stops cleanly" pd_stop
kill "$MPID"
wait "$MPID"
is "the milter stops cleanly" "$?" 0

# The wall clock set back (an NTP step, an admin's date -s) while policyd
# runs: it follows a reset within a flush all the same.  Its flushes were
# timed on the wall clock, so an hour back stopped them, and the
# following of replaced counters, for an hour.  libfaketime sets the
# daemon's wall clock back, not its monotonic clock (the system's is not
# touched).  Not under make asan: libfaketime preloaded before
# AddressSanitizer's runtime hangs the program at its start (the plain
# build runs it).
case "$BUILD" in
*asan*)
	done_testing
	exit
	;;
esac
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
ok "libfaketime is installed (make deps)" test -n "$FT"
og optin cid@example.org --stream news --single >/dev/null
echo "+0" >"$PD_T/faketime"
PD_ENV="LD_PRELOAD=$FT FAKETIME_TIMESTAMP_FILE=$PD_T/faketime FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1"
ok "policyd starts (its clock faked)" pd_start
PD_ENV=
echo "-3600" >"$PD_T/faketime"
sleep 2
n0=$(pd_log_count 'was removed under this process')
rm -rf "$PD_T/store/counters"
i=0
while [ "$(pd_log_count 'was removed under this process')" -le "$n0" ] &&
    [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
is "its clock set back an hour, policyd still follows a reset within a flush" \
    "$(pd_log_count 'was removed under this process')" $((n0 + 1))
is "... and counts in the new counters" "$(message cid@example.org m6)" "DUNNO DUNNO "
is "optgate status sees that send" "$(sends cid@example.org)" 1
ok "policyd stops cleanly" pd_stop

# The same for the milter, whose flushes were timed on time(NULL).
rm -f "$PD_T/milter.sock"
echo "+0" >"$PD_T/faketime"
env LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$PD_T/faketime" FAKETIME_NO_CACHE=1 \
    FAKETIME_DONT_FAKE_MONOTONIC=1 "$BIN/optgate-milter" -f -c "$PD_CONF" \
    2>"$PD_T/milter2.log" &
MPID=$!
i=0
while [ ! -S "$PD_T/milter.sock" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
ok "the milter starts (its clock faked)" test -S "$PD_T/milter.sock"
echo "-3600" >"$PD_T/faketime"
sleep 2
rm -rf "$PD_T/store/counters"
i=0
while ! grep -q 'was removed under this process' "$PD_T/milter2.log" && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
like "its clock set back an hour, the milter still follows a reset within a flush" \
    "$(cat "$PD_T/milter2.log")" "*counters/data.mdb was removed under this process*"
kill "$MPID"
wait "$MPID"
is "the milter stops cleanly" "$?" 0
done_testing
