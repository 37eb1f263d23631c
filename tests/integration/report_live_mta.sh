#!/bin/sh
# Bounces that real MTAs write, generated live and read by optgate bounce:
# Exim 4.96, OpenSMTPD 6.8 and nullmailer 2.2 (Debian 12) try to deliver
# to tests/lib/smtp_scripted.py, which refuses by recipient, or to a
# domain that a loopback dnsmasq answers NXDOMAIN for; each bounce comes
# back to the same server and `optgate bounce --dry-run --json` must name
# the recipient and the reason.  The formats: Exim's "Unrouteable
# address", OpenSMTPD's "ADDR: Domain does not exist", its per-recipient
# replies in the notice only, its expired envelope worded as a delay, and
# nullmailer's give-up worded as a delay.
#
# The three conflict with postfix, so they are never installed: their
# .debs are fetched with `apt-get download` (once, kept in
# $BUILD/live-mta/) and unpacked with dpkg -x.  Each runs in a private
# mount namespace (unshare -m) whose passwd/group have its users, whose
# resolv.conf names the test dnsmasq, and where its compiled-in folders
# (spool, chroot, /etc/nullmailer) are bind or overlay mounts of test
# folders: nothing outside changes.
# Ports: 25600-25602 the scripted server (one per MTA), 25603 OpenSMTPD;
# DNS 127.0.0.55:53.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/dns.sh"
if [ "$(id -u)" != 0 ] || ! command -v dnsmasq >/dev/null 2>&1 ||
    ! command -v unshare >/dev/null 2>&1; then
	echo "ok 1 # SKIP needs root, dnsmasq and unshare"
	echo "1..1"
	exit 0
fi

LM=$TOP/$BUILD/live-mta
# One folder per MTA: each package has its own /usr/sbin/sendmail.
# Libraries they need that the test host may lack: $LM/libs.
RL=$LM/libs
RE=$LM/exim
RO=$LM/opensmtpd
RN=$LM/nullmailer
if [ ! -x "$RE/usr/sbin/exim4" ] || [ ! -x "$RO/usr/sbin/smtpd" ] ||
    [ ! -x "$RN/usr/sbin/nullmailer-send" ]; then
	mkdir -p "$LM/debs"
	if ! (cd "$LM/debs" && apt-get download exim4-daemon-light \
	    libidn12 opensmtpd libevent-2.1-7 nullmailer >/dev/null 2>&1); then
		echo "ok 1 # SKIP apt-get download of the MTAs failed (no Debian mirror reachable)"
		echo "1..1"
		exit 0
	fi
	dpkg -x "$LM"/debs/exim4-daemon-light_*.deb "$RE" || exit 1
	for d in "$LM"/debs/lib*.deb; do
		dpkg -x "$d" "$RL" || exit 1
	done
	dpkg -x "$LM"/debs/opensmtpd_*.deb "$RO" || exit 1
	dpkg -x "$LM"/debs/nullmailer_*.deb "$RN" || exit 1
	# Only binaries and libraries are used; the Makefile reads every
	# *.d below $BUILD as a dependency file.
	for r in "$RL" "$RE" "$RO" "$RN"; do
		rm -rf "$r/etc" "$r/usr/share" "$r/usr/lib/tmpfiles.d" "$r/lib"
	done
fi

W=$(mktemp -d /tmp/optgate-livemta.XXXXXX) || exit 1
chmod 755 "$W"
PIDS=
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	dns_cleanup
	rm -rf "$W"
}
trap 'cleanup' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

for p in 25600 25601 25602 25603; do
	if ss -ltn | grep -q "127.0.0.1:$p "; then
		echo "not ok 1 - port $p is free"
		exit 1
	fi
done
dns_init 127.0.0.55 || exit 1
trap 'cleanup' EXIT
dns_start || exit 1

# The namespace: our users (uids in 26101-26103, unused by Debian), DNS,
# a hosts file, the unpacked libraries overlaid on the system's.
mkdir -p "$W/etc"
cp /etc/passwd "$W/etc/passwd"
cp /etc/group "$W/etc/group"
cat >>"$W/etc/passwd" <<EOF
Debian-exim:x:26101:26101::/nonexistent:/usr/sbin/nologin
opensmtpd:x:26102:26102::$W/empty:/usr/sbin/nologin
opensmtpq:x:26103:26103::$W/empty:/usr/sbin/nologin
EOF
printf 'Debian-exim:x:26101:\nopensmtpd:x:26102:\nopensmtpq:x:26103:\n' \
    >>"$W/etc/group"
printf 'nameserver 127.0.0.55\noptions timeout:1 attempts:1\n' \
    >"$W/etc/resolv.conf"
printf '127.0.0.1 mta.optgate.test %s localhost\n' "$(hostname)" \
    >"$W/etc/hosts"
mkdir -p "$W/empty"
cat >"$W/ns" <<EOF
#!/bin/sh
E=$W/etc
mount --bind \$E/passwd /etc/passwd &&
mount --bind \$E/group /etc/group &&
mount --bind \$E/resolv.conf /etc/resolv.conf &&
mount --bind \$E/hosts /etc/hosts || exit 1
# libidn12 for Exim, libevent for OpenSMTPD (the system's come first).
mount -t overlay overlay -o lowerdir=/usr/lib/x86_64-linux-gnu:$RL/usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu || exit 1
exec "\$@"
EOF
chmod 755 "$W/ns"
# Run CMD without the descriptors this script inherited (tests/run's
# flock on the shared test lock): an MTA process left behind must not
# keep the other tests waiting.  bg: in the background, pid in PIDS.
nofd() {
	(exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- && exec "$@")
}
bg() {
	(exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- && exec "$@") &
	PIDS="$PIDS $!"
}

# One scripted server per MTA, so each MTA's bounces land in its folder.
for i in 0 1 2; do
	mkdir -p "$W/in$i"
	bg python3 "$TOP/tests/lib/smtp_scripted.py" "$W/in$i" "2560$i" \
	    >"$W/sink$i.log" 2>&1
done
i=0
until [ "$(ss -ltn | grep -c '127.0.0.1:2560[012] ')" -eq 3 ] ||
    [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done

msg() { # Message-ID tag
	printf 'From: Sender <sender@src.test>\nTo: x@dest.test\n'
	printf 'Subject: live bounce test\nMessage-ID: <%s@src.test>\n\n' "$1"
	printf 'Hello, this is a test message.\n'
}
# Wait (at most SECS) until folder DIR holds N bounces.
wait_in() { # DIR N SECS
	_i=0
	while [ "$(ls "$1" | grep -c '\.eml$')" -lt "$2" ] &&
	    [ $_i -lt $(($3 * 10)) ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}
# The bounce in DIR whose returned message has the Message-ID tag.
bounce_of() { # DIR TAG
	grep -l "<$2@src.test>" "$1"/*.eml 2>/dev/null | head -1
}
# optgate's answer for FILE: "class recipient status reason" (the
# report's first failed recipient); with --all one "recipient class
# status" line per recipient, sorted.
answer() {
	_all=0
	[ "$1" = --all ] && _all=1 && shift
	"$BIN/optgate" bounce --dry-run --json "$1" 2>&1 | python3 -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
except ValueError:
    print("no JSON")
    sys.exit(0)
if sys.argv[1] == "0":
    print(d.get("class"), d.get("recipient"), d.get("status"),
          d.get("reason"))
    sys.exit(0)
for r in sorted(d.get("recipients", []), key=lambda r: r.get("recipient")):
    print(r.get("recipient"), r.get("class"), r.get("status"))
' "$_all"
}

# --- Exim 4.96 ----------------------------------------------------------
mkdir -p "$W/exim/spool" "$W/exim/log"
chown 26101:26101 "$W/exim/spool" "$W/exim/log"
# Exim re-executes itself as Debian-exim, who may not reach $BUILD (a
# clone under /root, 0700 on Debian): it runs from a copy in $W.
EXIM=$W/exim/exim4
cp -p "$RE/usr/sbin/exim4" "$EXIM" || exit 1
cat >"$W/exim/exim.conf" <<EOF
primary_hostname = exim.optgate.test
qualify_domain = src.test
keep_environment =
exim_path = $EXIM
spool_directory = $W/exim/spool
log_file_path = $W/exim/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
host_lookup =
begin routers
nx:
  driver = dnslookup
  domains = nxdomain.test
  transport = smtp_sink
  no_more
sink:
  driver = manualroute
  route_list = * 127.0.0.1
  transport = smtp_sink
  self = send
begin transports
smtp_sink:
  driver = smtp
  port = 25600
  hosts_try_fastopen = :
  user = Debian-exim
begin retry
* * F,1h,10m
EOF
exim() { nofd unshare -m "$W/ns" "$EXIM" -C "$W/exim/exim.conf" "$@"; }
msg exim-nx | exim -f sender@src.test -odi user@nxdomain.test \
    >>"$W/exim/run.log" 2>&1
msg exim-unknown | exim -f sender@src.test -odi unknown1@dest.test \
    >>"$W/exim/run.log" 2>&1
wait_in "$W/in0" 2 10
f=$(bounce_of "$W/in0" exim-nx)
if [ -z "$f" ]; then
	echo "# Exim wrote no bounce; its log:"
	sed 's/^/#   /' "$W/exim/log/mainlog" "$W/exim/run.log" 2>/dev/null |
	    tail -20
fi
is "Exim, NXDOMAIN: \"Unrouteable address\" is an unknown host" \
    "$(answer "$f")" "hard user@nxdomain.test 5.0.0 host-unknown"
is "Exim, 550 5.1.1 at RCPT: unknown user" \
    "$(answer "$(bounce_of "$W/in0" exim-unknown)")" \
    "hard unknown1@dest.test 5.1.1 user-unknown"

# --- OpenSMTPD 6.8 ------------------------------------------------------
# Compiled-in folders: /var/spool/smtpd, /var/lib/opensmtpd/empty (the
# chroot), /var/run/smtpd.sock.
mkdir -p "$W/osmtpd/spool" "$W/osmtpd/run"
cat >"$W/osmtpd/smtpd.conf" <<EOF
queue ttl 3s
listen on 127.0.0.1 port 25603 hostname osmtpd.optgate.test
action "sink" relay host smtp://127.0.0.1:25601
action "nx" relay
match from any for domain "nxdomain.test" action "nx"
match from any for domain "dest.test" action "sink"
match from any for domain "src.test" action "sink"
EOF
cat >"$W/osmtpd/run.sh" <<EOF
#!/bin/sh
mount --bind $W/osmtpd/spool /var/spool &&
mount --bind $W/osmtpd/run /run &&
mount -t tmpfs tmpfs /var/lib &&
mkdir -p /var/lib/opensmtpd/empty || exit 1
exec timeout 60 $RO/usr/sbin/smtpd -d -f $W/osmtpd/smtpd.conf
EOF
chmod 755 "$W/osmtpd/run.sh"
bg unshare -m "$W/ns" "$W/osmtpd/run.sh" >"$W/osmtpd/smtpd.log" 2>&1
i=0
until ss -ltn | grep -q '127.0.0.1:25603 ' || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
osend() { # TAG 'RCPT...'
	msg "$1" >"$W/osmtpd/m"
	python3 "$TOP/tests/lib/smtpclient.py" 127.0.0.1 25603 \
	    sender@src.test "$2" "$W/osmtpd/m" >>"$W/osmtpd/send.log" 2>&1
}
osend os-nx user@nxdomain.test
osend os-three "full2@dest.test unknown2@dest.test policy2@dest.test"
osend os-ttl tempfail2@dest.test
wait_in "$W/in1" 3 20
f=$(bounce_of "$W/in1" os-nx)
if [ -z "$f" ]; then
	echo "# OpenSMTPD wrote no bounce; its log:"
	sed 's/^/#   /' "$W/osmtpd/smtpd.log" "$W/osmtpd/send.log" | tail -20
fi
is "OpenSMTPD, NXDOMAIN: \"Domain does not exist\" is an unknown host" \
    "$(answer "$f")" "hard user@nxdomain.test 5.0.0 host-unknown"
is "OpenSMTPD, three recipients: each by its own line of the notice" \
    "$(answer --all "$(bounce_of "$W/in1" os-three)")" \
    "full2@dest.test soft 5.2.2
policy2@dest.test soft 5.7.1
unknown2@dest.test hard 5.1.1"
is "OpenSMTPD, queue ttl after 451: its \"delayed\" report is an expiry" \
    "$(answer "$(bounce_of "$W/in1" os-ttl)")" \
    "soft tempfail2@dest.test 4.4.7 expired"

# --- nullmailer 2.2 -----------------------------------------------------
# Compiled-in folders: /etc/nullmailer, /var/spool/nullmailer, and its
# programs in /usr/sbin, /usr/bin and /usr/lib/nullmailer.
N=$W/nm
mkdir -p "$N/etc/nullmailer" "$N/spool/nullmailer/queue" \
    "$N/spool/nullmailer/tmp" "$N/spool/nullmailer/failed"
mkfifo "$N/spool/nullmailer/trigger"
chown -R mail:mail "$N/spool/nullmailer"
echo '127.0.0.1 smtp --port=25602' >"$N/etc/nullmailer/remotes"
echo 1 >"$N/etc/nullmailer/queuelifetime"
echo 1 >"$N/etc/nullmailer/pausetime"
echo nm.optgate.test >"$N/etc/mailname"
cat >"$N/run.sh" <<EOF
#!/bin/sh
for d in /usr/bin /usr/sbin /usr/lib; do
	mount -t overlay overlay -o lowerdir=$RN\$d:\$d \$d || exit 1
done
mount --bind $N/spool /var/spool &&
mount -t overlay overlay -o lowerdir=$N/etc:/etc /etc || exit 1
msg() {
	printf 'From: Sender <sender@src.test>\nTo: x@dest.test\n'
	printf 'Subject: live bounce test\nMessage-ID: <nm-ttl@src.test>\n\n'
	printf 'Hello, this is a test message.\n'
}
msg | /usr/sbin/sendmail -f sender@src.test tempfail3@dest.test || exit 1
cd /var/spool/nullmailer && exec timeout 15 /usr/sbin/nullmailer-send
EOF
chmod 755 "$N/run.sh"
bg unshare -m "$W/ns" "$N/run.sh" >"$N/send.log" 2>&1
NMPID=$!
wait_in "$W/in2" 1 15
kill "$NMPID" 2>/dev/null
f=$(bounce_of "$W/in2" nm-ttl)
if [ -z "$f" ]; then
	echo "# nullmailer wrote no bounce; its log:"
	sed 's/^/#   /' "$N/send.log" | tail -20
fi
is "nullmailer, queuelifetime after 451: its \"delayed\" report is an expiry" \
    "$(answer "$f")" "soft tempfail3@dest.test 4.2.0 expired"

done_testing
