# A real syslog receiver for what a command sends to syslog(3) (POSIX sh;
# source after tap.sh).  The command runs in a mount namespace of its
# own whose /dev/log is our socket, so the host's syslog (or its lack:
# Debian 12 has no /dev/log without a syslog daemon) is never touched.
#
#   syslog_start OUT     listen; OUT gets one received message a line
#                        ("<22>Jun  1 00:00:00 optgate[42]: ...");
#                        returns 2 (nothing started) unless root with
#                        unshare and python3
#   syslog_run CMD...    run CMD with /dev/log bound to the socket; its
#                        exit status; once it returns, everything CMD
#                        sent is in OUT
#   syslog_last          the lines the last syslog_run's CMD sent
#   syslog_deaf          stop listening but leave the socket: syslog(3)
#                        then finds /dev/log refusing (no syslog daemon)
#   syslog_lines         every line received so far
#   syslog_stop          stop listening
_sl_pid=
_sl_out=
syslog_start() {
	{ [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	    command -v python3 >/dev/null; } || return 2
	_sl_out=$1
	_sl_sock=$(mktemp -u "${TMPDIR:-/tmp}/og-devlog.XXXXXX")
	_sl_dev=$(mktemp -d "${TMPDIR:-/tmp}/og-dev.XXXXXX")
	: >"$_sl_out"
	echo 0 >"$_sl_out.n" # runs so far; a file: CMD may run in $(...)
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab") as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
        f.flush()
' "$_sl_sock" "$_sl_out" 2>/dev/null &
	_sl_pid=$!
	for _i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		# writable for all, as /dev/log is: Postfix's pipe runs
		# commands as their user= (nobody)
		[ -S "$_sl_sock" ] && chmod 666 "$_sl_sock" && return 0
		sleep 0.1
	done
	syslog_stop
	return 2
}
# In the namespace: bind the socket over /dev/log; with no /dev/log to
# bind over, /dev becomes a tmpfs of links to the real one plus ours.
syslog_run() {
	unshare -m --propagation private sh -c '
sock=$1 dev=$2
shift 2
if [ -e /dev/log ] || [ -L /dev/log ]; then
	mount --bind "$sock" /dev/log || exit 125
else
	mount --rbind /dev "$dev" && mount -t tmpfs -o mode=755 tmpfs /dev ||
	    exit 125
	for f in "$dev"/* "$dev"/.[!.]*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		ln -s "$f" /dev/ || exit 125
	done
	: >/dev/log && mount --bind "$sock" /dev/log || exit 125
fi
exec "$@"' sh "$_sl_sock" "$_sl_dev" "$@"
	_sl_rc=$?
	[ -n "$_sl_pid" ] || return $_sl_rc
	# a datagram of our own after CMD's: once it is in OUT, so are they
	_sl_n=$(($(cat "$_sl_out.n") + 1))
	echo "$_sl_n" >"$_sl_out.n"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[2].encode(), sys.argv[1])
' "$_sl_sock" "syslog-sync-$_sl_n"
	for _i in $(seq 1 100); do
		grep -q "^syslog-sync-$_sl_n\$" "$_sl_out" && break
		sleep 0.05
	done
	return $_sl_rc
}
syslog_last() {
	_sl_n=$(cat "$_sl_out.n")
	awk -v a="syslog-sync-$((_sl_n - 1))" -v b="syslog-sync-$_sl_n" '
$0 == b { exit }
on { print }
$0 == a { on = 1 }
BEGIN { on = a == "syslog-sync-0" }' "$_sl_out"
}
syslog_deaf() {
	[ -n "$_sl_pid" ] && kill "$_sl_pid" 2>/dev/null &&
	    wait "$_sl_pid" 2>/dev/null
	_sl_pid=
	return 0
}
syslog_stop() {
	[ -n "$_sl_pid" ] && kill "$_sl_pid" 2>/dev/null &&
	    wait "$_sl_pid" 2>/dev/null
	_sl_pid=
	[ -n "$_sl_out" ] || return 0
	rm -f "$_sl_sock" "$_sl_out.n"
	rmdir "$_sl_dev" 2>/dev/null
	_sl_out=
	return 0
}
# What the commands sent, the sync markers left out.
syslog_lines() { grep -v '^syslog-sync-[0-9]*$' "$_sl_out"; }
