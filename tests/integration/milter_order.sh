#!/bin/sh
# optgate-milter beside a milter that refuses recipients at RCPT
# (greylisting, recipient checks), on a real Postfix: README's order,
# that milter first and optgate after it.  A milter is never told that a
# later one refused a recipient it accepted, so with optgate first it
# keeps that recipient: a list stream's message to the one recipient
# left is refused "550 5.5.3 ... this one has 2", and a send is counted
# for a recipient that got nothing.  The other milter here is a second
# optgate-milter with its own store (a milter that refuses at RCPT).
# Ports: Postfix 25290, smtp-sink 25291.
. "$OPTGATE_TOP/tests/lib/tap.sh"
. "$TOP/tests/milter/common.sh"
. "$TOP/tests/lib/postfix.sh"

mg_init
pf_cleanup_add mg_cleanup
mg_wait_free 25290 25291 || exit 1
C=$MG_DIR/optgate.conf
mg_config "$C" "unix:$MG_DIR/milter.sock" "user = postfix"
mg_fill_store "$C"
# stream late: a list stream found at end of header (a header rule
# comes before it), so optgate decides its recipients at end of message.
for a in ok@example.com ok2@example.com; do
	"$BIN/optgate" -c "$C" optin "$a" --stream late >/dev/null
done
# The refusing milter: knows ok@ only.
mkdir "$MG_DIR/rcpt"
R=$MG_DIR/rcpt.conf
cat >"$R" <<CONF
[store]
path = $MG_DIR/rcpt/store
[keys]
file = $MG_DIR/keys
[milter]
socket = unix:$MG_DIR/rcpt.sock
user = postfix
[stream late]
match = sender:late@example.com
class = marketing
consent = optin
CONF
"$BIN/optgate" -c "$R" init >/dev/null
"$BIN/optgate" -c "$R" optin ok@example.com --stream late >/dev/null
chown -R postfix "$MG_DIR/store" "$MG_DIR/rcpt" "$MG_DIR/keys"
mg_start "$C" || exit 1
mg_start "$R" rcpt || exit 1

OG=unix:$MG_DIR/milter.sock
RC=unix:$MG_DIR/rcpt.sock
pf_init 25290 25291 "smtpd_milters=$RC, $OG" \
    milter_default_action=tempfail milter_protocol=6 || exit 1
pf_start 25290 25291 || exit 1

MG_SMTP_MSG=$MG_DIR/msg.eml
export MG_SMTP_MSG
printf 'From: <late@example.com>\r\nTo: <ok@example.com>\r\nSubject: t\r\n\r\nhi\r\n' \
    >"$MG_SMTP_MSG"
send() {
	mg_smtp 25290 'MAIL FROM:<late@example.com>' 'RCPT TO:<ok@example.com>' \
	    'RCPT TO:<ok2@example.com>' DATA
}

# README's order: the refusing milter first.
out=$(send)
like "refusing milter first: it refuses ok2@ at RCPT" "$out" \
    "*RCPT TO:<ok2@example.com> -> 550 5.7.1 *"
like "refusing milter first: the message to ok@ is accepted" "$out" \
    "*DATA -> 250 *"
pf_sink_wait 1 20
pf_wait_queue_empty 20
is "sink: ok@ got it" "$(pf_sink_rcpts)" "ok@example.com"
ok "sink: with its List-Unsubscribe" pf_sink_grep '^List-Unsubscribe: <https:'
ok "optgate logged ok@ accepted" mg_log_wait \
    'to=<ok@example.com>.*stream=late, action=accept'
if mg_log | grep -q 'to=<ok2@example.com>'; then
	fail "optgate never saw ok2@" "$(mg_log | grep 'ok2@')"
else
	pass "optgate never saw ok2@"
fi

# The other order: optgate keeps ok2@, which Postfix never took.
pf_conf "smtpd_milters=$OG, $RC"
pf_reload
pf_sink_clear
out=$(send)
like "optgate first: the one-recipient message is refused as having 2" \
    "$out" "*DATA -> 550 5.5.3 *this one has 2*"
mg_stop_all_check
done_testing
