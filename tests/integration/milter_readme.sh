#!/bin/sh
# README "Wiring optgate-milter into Postfix" as a new mail admin follows
# it, on a real Postfix (tests/lib/postfix.sh): step 1's [milter] block and
# socket folder, step 2's main.cf block, the daemon started and reloaded
# by the ExecStart and ExecReload lines of conf/optgate-milter.service,
# and the OpenDKIM block on Debian's own /etc/opendkim.conf, each taken
# from the file with only this test's paths and user put in.  An address
# opted in gets the message with List-Unsubscribe and
# List-Unsubscribe-Post, one unsubscribed with "optgate optout" is refused
# with the reason (at RCPT for a stream found by the envelope sender, at
# end of message for one found by a header, a bounce for sendmail(1));
# postfix check has nothing to say; the signature covers both headers.
# A daemon started again before the old one is gone keeps its socket.
# Ports: Postfix 25350, smtp-sink 25351.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"

pf_init 25350 25351
T=$PF_DIR/og
mkdir -p "$T"
C=$T/optgate.conf
UNIT=$TOP/conf/optgate-milter.service
MPIDS=
pf_cleanup_add 'for p in $MPIDS; do kill $p; done; [ -n "${DKPID:-}" ] && kill $DKPID'

# section: README's "## Wiring optgate-milter into Postfix" up to the
# next "## "; block N: the lines after its Nth fence line (1: the first
# block, 3: the second), unindented.
section() {
	sed -n '/^## Wiring optgate-milter into Postfix/,/^## What comes back/p' \
	    "$TOP/README.md"
}
block() {
	section | awk -v want="$1" '/^ *```/ { n++; next }
	    n == want { sub(/^   /, ""); print }'
}
# What README names on a mail server, as this test has it (postfix is the
# daemon's user here: this test cannot add one to the host).
here() {
	sed -e "s#/var/spool/postfix/#$PF_QUEUE/#g" \
	    -e "s#user = optgate#user = postfix#" \
	    -e "s#-o optgate -g optgate#-o postfix -g postfix#" \
	    -e "s#-o opendkim -g opendkim#-o postfix -g postfix#" \
	    -e "s#/usr/local/sbin/#$BIN/#g" \
	    -e "s#/usr/local/share/optgate/#$TOP/conf/#g" \
	    -e "s#/etc/optgate/optgate.conf#$C#g" \
	    -e "s#/etc/opendkim.conf#$T/opendkim.conf#g" \
	    -e "s#postconf -e#postconf -c $PF_CONF -e#g" \
	    -e "s#postfix check#postfix -c $PF_CONF check#g" \
	    -e "s#postfix reload#postfix -c $PF_CONF reload#g"
}
stop() {
	fail "$1" "$(pf_log | tail -n 20; cat "$T"/milter*.log "$T/opendkim.log" 2>/dev/null)"
	done_testing
	exit 1
}
og() { "$BIN/optgate" -c "$C" "$@"; }
pf_check() { postfix -c "$PF_CONF" check 2>&1; }
sock_wait() {
	_i=0
	until [ -S "$1" ] || [ $_i -ge 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -S "$1" ]
}
# milter_start N: the unit's ExecStart, in the background
milter_start() {
	cmd=$(sed -n 's/^ExecStart=//p' "$UNIT" | here)
	eval "exec $cmd" >"$T/milter$1.log" 2>&1 &
	MPID=$!
	MPIDS="$MPIDS $MPID"
}
sink_msg() { # the delivered message to $1, smtp-sink's own lines left out
	for _f in $(pf_sink_files); do
		grep -q "^X-Rcpt-Args: <$1>" "$_f" && sed -e \
		    '/^X-\(Client-Addr\|Client-Proto\|Helo-Args\|Mail-Args\|Rcpt-Args\):/d' \
		    "$_f"
	done
}

# --- step 1: the config and the socket's folder ---
{
	printf '%s\n' "[store]" "path = $T/store" "[keys]" "file = $T/keys"
	block 1 | here
	printf '%s\n' "[stream newsletter]" "match = sender:news@example.com" \
	    "consent = optin" "unsubscribe = https://unsub.example.com/u/%t" \
	    "[stream promo]" "match = sender:promo@example.com" \
	    "consent = none" "unsubscribe = https://unsub.example.com/u/%t" \
	    "[stream digest]" "match = header:X-Optgate-Stream=digest" \
	    "consent = optin" "unsubscribe = https://unsub.example.com/u/%t"
} >"$C"
like "step 1: README's [milter] block names the socket below the queue" \
    "$(grep '^socket' "$C")" "socket = unix:$PF_QUEUE/optgate/milter.sock*"
mkfolder=$(section | tr '\n' ' ' | grep -o 'install -d -o optgate[^`]*' | here)
like "step 1: README makes the socket's folder" "$mkfolder" "install -d *$PF_QUEUE/optgate"
eval "$mkfolder" || stop "the folder command runs"
og init >/dev/null || stop "optgate init"
chown -R postfix "$T/store" "$T/keys"
is "config check: nothing missing on this host" \
    "$(og config check 2>&1 | grep -c '^note:')" 0
milter_start 1
sock_wait "$PF_QUEUE/optgate/milter.sock" || stop "the unit's ExecStart starts it"

# --- step 2: main.cf ---
block 3 | here >"$T/main.add"
for k in $(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$T/main.add"); do
	postconf -c "$PF_CONF" -X "$k"
done
cat "$T/main.add" >>"$PF_CONF/main.cf"
pf_conf biff=no
like "step 2: README's main.cf block names the socket" \
    "$(postconf -c "$PF_CONF" -xh smtpd_milters non_smtpd_milters milter_default_action | tr '\n' ' ')" \
    "unix:optgate/milter.sock unix:optgate/milter.sock tempfail "
pf_start 25350 25351 || stop "postfix started"
is "postfix check has nothing to say" "$(pf_check)" ""

# --- a stream found by the envelope sender: refused at RCPT ---
og optin ana@example.org --stream newsletter >/dev/null
og optin bob@example.org --stream newsletter >/dev/null
og optout bob@example.org >/dev/null
out=$(pf_send news@example.com "bob@example.org ana@example.org")
like "SMTP, envelope stream: bob (unsubscribed) refused at RCPT with the reason" \
    "$(echo "$out" | grep 'RCPT <bob@')" \
    "RCPT <bob@example.org> 550 5.7.1 <bob@example.org>: unsubscribed from all streams on * via admin"
like "SMTP, envelope stream: ana accepted" "$out" "*RCPT <ana@example.org> 250*DATA 250*"
pf_wait_queue_empty 10
m=$(sink_msg ana@example.org)
like "ana's message has List-Unsubscribe" "$m" "*List-Unsubscribe: <https://unsub.example.com/u/*"
like "ana's message has List-Unsubscribe-Post" "$m" "*List-Unsubscribe-Post: List-Unsubscribe=One-Click*"

# --- a stream found by a header: one recipient per message ---
og optin cid@example.org --stream digest >/dev/null
og optin dot@example.org --stream digest >/dev/null
og optout dot@example.org >/dev/null
for a in dot cid; do
	printf 'From: <app@example.com>\r\nTo: <%s@example.org>\r\nSubject: digest\r\nX-Optgate-Stream: digest\r\n\r\nHi.\r\n' \
	    $a >"$T/m.$a"
done
like "SMTP, header stream: dot (unsubscribed) refused at end of message with the reason" \
    "$(pf_send app@example.com dot@example.org "$T/m.dot" | grep '^DATA')" \
    "DATA 550 5.7.1 <dot@example.org>: unsubscribed from all streams on * via admin"
like "SMTP, header stream: cid accepted" \
    "$(pf_send app@example.com cid@example.org "$T/m.cid" | grep '^DATA')" "DATA 250*"
pf_wait_queue_empty 10
m=$(sink_msg cid@example.org)
like "cid's message has both headers, not X-Optgate-Stream" "$m" \
    "*List-Unsubscribe: <https://*List-Unsubscribe-Post: List-Unsubscribe=One-Click*"
case "$m" in *X-Optgate-Stream*) fail "X-Optgate-Stream removed" ;; *) pass "X-Optgate-Stream removed" ;; esac

# --- sendmail(1): non_smtpd_milters, refusals as bounces ---
og optin eve@example.org --stream newsletter >/dev/null
printf 'From: <news@example.com>\nSubject: by sendmail\n\nHi.\n' |
    pf_sendmail news@example.com eve@example.org
printf 'From: <news@example.com>\nSubject: by sendmail\n\nHi.\n' |
    pf_sendmail news@example.com bob@example.org
pf_wait_queue_empty 10
like "sendmail(1): eve's message has List-Unsubscribe-Post" \
    "$(sink_msg eve@example.org)" "*List-Unsubscribe-Post: List-Unsubscribe=One-Click*"
like "sendmail(1): bob's bounced with the reason" \
    "$(pf_log | grep 'to=<bob@example.org>, relay=none')" \
    "*status=bounced (<bob@example.org>: unsubscribed from all streams on * via admin)*"
like "README: a list stream takes one recipient per sendmail(1) message" \
    "$(section | tr '\n' ' ')" "*run sendmail once per recipient*"
og optin fay@example.org --stream newsletter >/dev/null
printf 'From: <news@example.com>\nSubject: by sendmail\n\nHi.\n' |
    pf_sendmail news@example.com fay@example.org ana@example.org
pf_wait_queue_empty 10
like "sendmail(1) to two of a list stream: bounced whole, 5.5.3" \
    "$(pf_log | grep 'to=<fay@example.org>, relay=none')" \
    "*dsn=5.5.3, status=bounced (Stream newsletter takes one recipient per message*"

# --- systemctl reload: the unit's ExecReload ---
rcpt() { PF_SEND_ABORT=1 pf_send "$1" "$2" | grep '^RCPT'; }
like "promo needs no consent yet" "$(rcpt promo@example.com gus@example.org)" \
    "RCPT <gus@example.org> 250*"
sed -i '/^match = sender:promo@example.com/{n;s/consent = none/consent = optin/}' "$C"
reload=$(sed -n 's/^ExecReload=//p' "$UNIT" | sed "s/\$MAINPID/$MPID/")
eval "$reload"
i=0
until grep -q 'configuration reloaded' "$T/milter1.log" || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
like "after the unit's ExecReload the config change holds" \
    "$(rcpt promo@example.com gus@example.org)" \
    "RCPT <gus@example.org> 550 5.7.1 <gus@example.org>: no opt-in on record for promo"

# --- started again before the old one is gone (it stops up to 5 s after
# SIGTERM, then removes its socket): the new daemon keeps its socket ---
old=$MPID
ino=$(stat -c %i "$PF_QUEUE/optgate/milter.sock")
kill -TERM "$old"
milter_start 2
i=0
until [ "$(stat -c %i "$PF_QUEUE/optgate/milter.sock" 2>/dev/null)" != "$ino" ] ||
    [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
i=0
while kill -0 "$old" 2>/dev/null && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
ok "the old daemon has stopped" sh -c "! kill -0 $old 2>/dev/null"
ok "the new daemon's socket is still there" test -S "$PF_QUEUE/optgate/milter.sock"
like "mail still passes the new daemon" \
    "$(rcpt promo@example.com gus@example.org)" "RCPT <gus@example.org> 550 5.7.1 *"

# --- OpenDKIM: README's block on Debian's /etc/opendkim.conf ---
if ! command -v opendkim >/dev/null 2>&1 || [ ! -f /etc/opendkim.conf ]; then
	echo "ok - # SKIP opendkim (Debian's package) not installed"
	done_testing
	exit $?
fi
dk=$(section | sed -n '/^### OpenDKIM/,/^### /p' |
    awk '/^```/ { n++; next } n == 1')
like "README's OpenDKIM block moves OpenDKIM's socket below the queue" "$dk" \
    "*Socket local:/var/spool/postfix/opendkim/opendkim.sock*"
D=$T/dkim
mkdir -p "$D"
opendkim-genkey -D "$D" -d example.com -s sel || stop "opendkim-genkey"
chown -R postfix "$D"
# Debian's file, signing set up as README assumes; this test's user,
# pid file, no syslog, a key under /tmp and its public half from a file
# (no DNS).
printf 'sel._domainkey.example.com %s\n' \
    "$(tr -d '\n\t"' <"$D/sel.txt" | sed 's/.*( *//; s/ *).*//')" >"$D/keys"
sed -e 's/^UserID.*/UserID postfix/' -e "s#^PidFile.*#PidFile $D/pid#" \
    -e 's/^Syslog[[:space:]].*/Syslog no/' /etc/opendkim.conf >"$T/opendkim.conf"
printf 'Domain example.com\nSelector sel\nKeyFile %s/sel.private\n%s\n' "$D" \
    'RequireSafeKeys false' >>"$T/opendkim.conf"
echo "TestPublicKeys $D/keys" >>"$T/opendkim.conf"
echo "$dk" | grep -v -e '^usermod' -e '^systemctl' | here >"$T/dk.sh"
(. "$T/dk.sh") >"$T/dk.out" 2>&1
is "README's OpenDKIM block runs ($(tr '\n' ' ' <"$T/dk.out"))" "$?" 0
opendkim -f -x "$T/opendkim.conf" >"$T/opendkim.log" 2>&1 &
DKPID=$!
sock_wait "$PF_QUEUE/opendkim/opendkim.sock" || stop "opendkim listens where README says"
pf_reload
og optin hal@example.org --stream newsletter >/dev/null
printf 'From: News <news@example.com>\r\nTo: <hal@example.org>\r\nSubject: November\r\n\r\nHello.\r\n' \
    >"$T/m.hal"
like "optgate + OpenDKIM: hal's message accepted" \
    "$(pf_send news@example.com hal@example.org "$T/m.hal" | grep '^DATA')" "DATA 250*"
pf_wait_queue_empty 10
sink_msg hal@example.org >"$T/hal.eml"
h=$(sed -n '/^DKIM-Signature:/,/^[^ \t]/p' "$T/hal.eml" | sed '$d' |
    tr -d ' \t\r\n' | sed 's/.*;h=\([^;]*\);.*/\1/' | tr 'A-Z' 'a-z')
is "h= has List-Unsubscribe and List-Unsubscribe-Post, oversigned" \
    "$(echo "$h" | tr ':' '\n' | grep -c -x -e list-unsubscribe -e list-unsubscribe-post)" 4
printf 'Mode v\nTestPublicKeys %s\nRequireSafeKeys false\nSyslog no\n' \
    "$D/keys" >"$D/verify.conf"
like "the signature verifies" "$(opendkim -x "$D/verify.conf" -t "$T/hal.eml" 2>&1)" \
    "*verification*succeeded*"
# Incoming mail is still verified: optgate's lines, appended, leave
# Debian's Mode (sv) alone.  A client outside InternalHosts (127.0.0.1)
# but in mynetworks, by XCLIENT; a sender no stream matches.
pf_conf smtpd_authorized_xclient_hosts=127.0.0.1
pf_reload
python3 - "$PF_PORT" "$T/hal.eml" <<'PY' >"$T/in.out" 2>&1
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), "client.optgate.test")
s.ehlo()
s.docmd("XCLIENT", "ADDR=127.0.0.2 NAME=in.example.net")
s.ehlo()
s.sendmail("someone@example.net", ["lee@example.org"], open(sys.argv[2], "rb").read())
s.quit()
PY
pf_wait_queue_empty 10
like "incoming mail is still DKIM-verified (Authentication-Results added)" \
    "$(sink_msg lee@example.org)" "*Authentication-Results: mta.optgate.test*dkim=pass*"
# README: the other way round every such signature fails.
pf_conf 'smtpd_milters=unix:opendkim/opendkim.sock, unix:optgate/milter.sock'
pf_reload
og optin ivy@example.org --stream newsletter >/dev/null
sed 's/hal@/ivy@/' "$T/m.hal" >"$T/m.ivy"
pf_send news@example.com ivy@example.org "$T/m.ivy" >/dev/null
pf_wait_queue_empty 10
sink_msg ivy@example.org >"$T/ivy.eml"
like "OpenDKIM before optgate: the signature fails, as README says" \
    "$(opendkim -x "$D/verify.conf" -t "$T/ivy.eml" 2>&1)" "*verification*failed*"
done_testing
