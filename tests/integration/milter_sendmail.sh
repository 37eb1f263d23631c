#!/bin/sh
# optgate-milter in a real Sendmail (8.17, Debian's sendmail-bin) on
# loopback, delivering to smtp-sink: the core scenario of issue 6.
#
# sendmail-bin conflicts with postfix, so it is never installed: its .debs
# are fetched with `apt-get download` (once, kept in $BUILD/sendmail/) and
# unpacked with dpkg -x; sendmail runs from there with a .cf built by m4
# from sendmail-cf.  It runs in a private mount namespace whose
# /etc/hosts and /etc/resolv.conf are bind-mounted test files (sendmail
# resolves its own host name at start; there is no DNS here): nothing in
# /etc changes.  Its milter socket lives below $BUILD, because sendmail
# refuses a socket in a world-writable directory such as /tmp.
# Ports: sendmail 25230 (and [::1]:25232), smtp-sink 25231.
. "$OPTGATE_TOP/tests/lib/tap.sh"
. "$TOP/tests/milter/common.sh"

SMROOT=$TOP/$BUILD/sendmail/root
if [ ! -x "$SMROOT/usr/libexec/sendmail/sendmail" ]; then
	mkdir -p "$TOP/$BUILD/sendmail/debs"
	if ! (cd "$TOP/$BUILD/sendmail/debs" &&
	    apt-get download sendmail-bin sendmail-cf >/dev/null 2>&1); then
		echo "ok 1 # SKIP apt-get download sendmail-bin sendmail-cf failed (no Debian mirror reachable)"
		echo "1..1"
		exit 0
	fi
	for d in "$TOP/$BUILD/sendmail/debs"/*.deb; do
		dpkg -x "$d" "$SMROOT" || exit 1
	done
	# Only the binaries and the m4 files are used; the Makefile reads
	# every *.d below $BUILD as a dependency file (etc/init.d would break
	# make).
	rm -rf "$SMROOT/etc" "$SMROOT/usr/share/doc" "$SMROOT/usr/share/man"
fi
SENDMAIL=$SMROOT/usr/libexec/sendmail/sendmail

mg_init
mg_wait_free 25230 25231 25232 || exit 1
SM=$(mktemp -d "$TOP/$BUILD/sendmail/run.XXXXXX") || exit 1
chmod 755 "$SM"
[ "${MG_KEEP:-0}" = 1 ] || mg_cleanup_add "rm -rf '$SM'"
C=$MG_DIR/optgate.conf
mg_config "$C" "unix:$SM/milter.sock"
# A stream found by the client address (sendmail's {client_addr} for an
# IPv6 client is "IPv6:0:0:0:0:0:0:0:1").
cat >>"$C" <<EOF
[stream v6]
match = client:::1
class = marketing
consent = optin
refuse = reject
EOF
mg_fill_store "$C"
mg_start "$C" || exit 1

# The sink's folder is under /tmp: smtp-sink writes it as postfix, who
# may not reach $BUILD (a clone under /root, 0700 on Debian).
SINK=$MG_DIR/sink
mkdir -p "$SM/q" "$SINK"
chmod 700 "$SM/q"
chown postfix "$SINK"
smtp-sink -u postfix -4 -d "$SINK/%Y%m%d%H%M%S." 127.0.0.1:25231 32 \
    >"$SM/sink.log" 2>&1 &
MG_PIDS="$MG_PIDS $!"

printf '127.0.0.1 localhost %s sm.optgate.test\n::1 localhost\n' \
    "$(hostname)" >"$SM/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$SM/resolv.conf"
printf 'hosts files\naliases files\n' >"$SM/service.switch"
# conf/sendmail-optgate.mc is the snippet an admin adds; the rest makes a
# self-contained test instance.
cat >"$SM/test.mc" <<EOF
divert(-1)
divert(0)dnl
include(\`$SMROOT/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`optgate test')dnl
OSTYPE(\`linux')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDOMAIN_NAME', \`sm.optgate.test')dnl
define(\`QUEUE_DIR', \`$SM/q')dnl
define(\`confPID_FILE', \`$SM/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM/statistics')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confHELP_FILE', \`')dnl
define(\`confDEF_USER_ID', \`nobody:nogroup')dnl
define(\`confDONT_BLAME_SENDMAIL', \`GroupWritableDirPathSafe,AssumeSafeChown,NonRootSafeAddr')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM/service.switch')dnl
define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h 25231')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=25230, Addr=127.0.0.1, Name=MTA')dnl
DAEMON_OPTIONS(\`Port=25232, Addr=::1, Family=inet6, Name=MTA6')dnl
EOF
sed -e "s|unix:/run/optgate/milter.sock|unix:$SM/milter.sock|" \
    "$TOP/conf/sendmail-optgate.mc" >>"$SM/test.mc"
echo "MAILER(\`smtp')dnl" >>"$SM/test.mc"
m4 "$SM/test.mc" >"$SM/sendmail.cf" 2>"$SM/m4.err" || {
	cat "$SM/m4.err"
	exit 1
}
ok "the .mc snippet gives sendmail.cf a milter line" \
    grep -q "^Xoptgate, S=unix:$SM/milter.sock, F=T" "$SM/sendmail.cf"

LD_LIBRARY_PATH=$SMROOT/usr/lib/x86_64-linux-gnu unshare -m sh -c "
    mount --bind '$SM/hosts' /etc/hosts &&
    mount --bind '$SM/resolv.conf' /etc/resolv.conf &&
    exec '$SENDMAIL' -C '$SM/sendmail.cf' -bD -q1s" >"$SM/sendmail.log" 2>&1 &
SMPID=$!
MG_PIDS="$MG_PIDS $SMPID"
i=0
until ss -ltn | grep -q '127.0.0.1:25230 ' || [ $i -ge 100 ]; do
	kill -0 "$SMPID" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if ! ss -ltn | grep -q '127.0.0.1:25230 '; then
	echo "# sendmail did not start:"
	sed 's/^/#   /' "$SM/sendmail.log"
	fail "sendmail started"
	done_testing
	exit 1
fi

send() { python3 "$TOP/tests/lib/smtpclient.py" 127.0.0.1 25230 "$@"; }
# N messages arrived, and sendmail has delivered all it accepted (its
# queue holds no message: it removes one once the sink said 250, and
# smtp-sink closes a file before its 250): not a guessed time.
sink_done() {
	[ "$(ls "$SINK" | wc -l)" -ge "$1" ] &&
	    [ -z "$(ls "$SM/q" | grep '^[dqt]f')" ]
}
sink_wait() { # N
	i=0
	while ! sink_done "$1" && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sink_done "$1" || fail "sendmail delivered $1 message(s) to the sink within 20 s ($(ls "$SINK" | wc -l) there, queue: $(ls "$SM/q" | tr '\n' ' '))"
}
rcpts() { sed -n 's/^X-Rcpt-Args: *<\([^>]*\)>.*/\1/p' "$SINK"/* 2>/dev/null; }

out=$(send promo@example.com "out@example.com ok@example.com ok2@example.com")
like "sendmail RCPT: unsubscribed recipient refused with the reason" \
    "$out" "*RCPT <out@example.com> 550 5.7.1*"
like "sendmail RCPT: second recipient of a list stream gets 452 4.5.3" \
    "$out" "*RCPT <ok2@example.com> 452 4.5.3*"
like "sendmail: message accepted" "$out" "*DATA 250*"
sink_wait 1
is "sendmail: only the accepted recipient arrived" "$(rcpts)" ok@example.com
f=$(ls "$SINK"/* | head -1)
tok=$(sed -n 's/^X-Optgate-Token: *//p' "$f" | tr -d '\r')
like "sendmail: List-Unsubscribe with the token" \
    "$(grep '^List-Unsubscribe:' "$f")" "*<https://unsub.example.com/u/$tok>*"
like "sendmail: token decodes to the recipient" \
    "$("$TOP/$BUILD/test/milter/mg-tokdecode" "$MG_DIR/keys" "$tok" 2>&1)" \
    "ok@example.com *"
like "sendmail: VERP envelope sender" "$(grep '^X-Mail-Args:' "$f")" \
    "*bounce+$tok@bounces.example.com*"
rm -f "$SINK"/*

# Sendmail passes MAIL FROM as the client wrote it.
like "sendmail: MAIL FROM:<promo@example.com.> finds the stream" \
    "$(mg_smtp 25230 'MAIL FROM:<promo@example.com.>' \
    'RCPT TO:<out@example.com>')" "*<out@example.com> -> 550 5.7.1 *"
like "sendmail: RCPT TO:<out@example.com.> refused as unsubscribed" \
    "$(mg_smtp 25230 'MAIL FROM:<promo@example.com>' \
    'RCPT TO:<out@example.com.>')" "*-> 550 5.7.1 *<out@example.com>: unsub*"

printf 'From: n@example.com\r\nTo: ok@example.com\r\nSubject: x\r\nX-Optgate-Stream: alerts\r\n\r\nhi\r\n' >"$SM/m"
out=$(send alerts@example.com "ok@example.com bounced@example.com" "$SM/m")
like "sendmail header stream: accepted" "$out" "*DATA 250*"
sink_wait 1
is "sendmail: refused recipient removed at end of message" "$(rcpts)" \
    ok@example.com
ok "sendmail: internal stream header removed" \
    sh -c "! grep -qi '^X-Optgate-Stream' $SINK/*"

# An IPv6 client: the client: rule finds its stream (decided at end of
# message: header rules come before it), so the unsubscribed recipient
# is refused.
out=$(python3 "$TOP/tests/lib/smtpclient.py" ::1 25232 v6@example.com \
    out@example.com)
like "sendmail, IPv6 client: client: rule matches, unsubscribed refused" \
    "$out" "*DATA 550 5.7.1 <out@example.com>: unsubscribed*"

done_testing
