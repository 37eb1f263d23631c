#!/bin/sh
# optgate-milter against miltertest (the MTA side of the milter protocol,
# Lua scripts in tests/milter/): every path of the milter, the bad input
# of issue 6, store errors, SIGHUP reload and the policyd mode.
. "$OPTGATE_TOP/tests/lib/tap.sh"
. "$TOP/tests/milter/common.sh"

mg_init
mg_wait_free 10061 || exit 1
C=$MG_DIR/optgate.conf
mg_config "$C" "unix:$MG_DIR/milter.sock"
cat >>"$C" <<EOF
[stream mailonly]
match = header:X-Optgate-Stream=mailonly
class = marketing
consent = none
unsubscribe = mailto:unsub+%t@example.com
[stream plainhttp]
match = header:X-Optgate-Stream=plainhttp
class = marketing
consent = none
unsubscribe = mailto:unsub+%t@example.com, http://unsub.example.com/u/%t
[stream mixedhttp]
match = header:X-Optgate-Stream=mixedhttp
class = marketing
consent = none
unsubscribe = https://unsub.example.com/u/%t, http://unsub.example.com/u/%t,
    mailto:unsub+%t@example.com
[stream twohttps]
match = header:X-Optgate-Stream=twohttps
class = marketing
consent = none
unsubscribe = mailto:unsub+%t@example.com, https://unsub.example.com/u/%t,
    https://unsub.example.net/u/%t
[stream receipts]
match = header:X-Optgate-Stream=receipts
class = transactional
feedback_id = %s:tx
[stream weekly]
match = sender:weekly@example.com
class = marketing
consent = optin
caps = 2/7d
EOF
mg_fill_store "$C"
_mg_og optin dup@example.com --stream weekly
_mg_og optin par@example.com --stream promo
_mg_og optin par2@example.com --stream promo
_mg_og optin qid@example.com --stream promo
_mg_og optin qid2@example.com --stream promo
_mg_og optin twice@example.com --stream promo
_mg_og optin race@example.com --stream promo
# Store unreadable: a config whose store does not exist.
C2=$MG_DIR/nostore.conf
mg_config "$C2" "unix:$MG_DIR/nostore.sock"
sed -i "s|^path = .*|path = $MG_DIR/no-such-store|" "$C2"
# policyd = yes: the milter leaves envelope streams to optgate-policyd.
C3=$MG_DIR/policyd.conf
mg_config "$C3" "inet:10061@127.0.0.1" "policyd = yes"
# -vv on the command line (debug lines for each connection).
C4=$MG_DIR/verbose.conf
mg_config "$C4" "unix:$MG_DIR/verbose.sock"
# All three run side by side: libmilter takes up to 5 s to stop (its
# listener polls with a 5 s timeout), and the exit trap stops them at once.
mg_start "$C2" nostore || exit 1
mg_start "$C3" policyd || exit 1
mg_start "$C4" verbose -vv || exit 1
mg_start "$C" || exit 1

for s in negotiate header_accept header_refuse header_multi \
    transactional_delrcpt envelope_rcpt cap existing_replace existing_keep \
    non_smtpd disconnect many_rcpts long_header header_folded header_repeated \
    utf8_idn no_from mailto_only plain_http feedback_multi dup_rcpt dup_list \
    parallel_cap parallel_cap_eom rcpt_qid; do
	mg_lua "$s.lua"
	[ "$s" = header_accept ] && cp "$MG_DIR/out" "$MG_DIR/accept.out"
	[ "$s" = dup_list ] && cp "$MG_DIR/out" "$MG_DIR/dup.out"
done
# Eight messages in flight at once to one recipient of a 1/1d stream,
# 300 times: never two pass.  (Before the hold came ahead of the look
# at the others', 2 rounds in 300 let two pass, in each of two runs.)
is "messages in flight at once on 8 connections: at most one passes a 1/1d cap" \
    "$(python3 "$TOP/tests/milter/hold_race.py" "$MG_DIR/milter.sock" \
    race@example.com 300 8 2>&1)" none
# RFC 8058 3.1: one HTTPS URI and no other HTTP(S) one, or no
# List-Unsubscribe-Post (receivers then offer no one-click: said at start).
mg_lua no_one_click.lua -D STREAM=mixedhttp
mg_lua no_one_click.lua -D STREAM=twohttps
log=$(mg_log)
like "start: the stream with http: beside https: is named, with why" "$log" \
    "*warning: *.conf:[0-9]*: stream mixedhttp: unsubscribe has an http: target beside the https: one*no List-Unsubscribe-Post*no one-click*"
like "... so is the one with two https: targets" "$log" \
    "*stream twohttps: unsubscribe has more than one https: target*"
like "... and the one with plain http: only" "$log" \
    "*stream plainhttp: unsubscribe has only plain http: targets*"
tok=$(sed -n 's/^DUPTOKEN //p' "$MG_DIR/dup.out")
like "one person named twice: the token names that person" \
    "$("$TOP/$BUILD/test/milter/mg-tokdecode" "$MG_DIR/keys" "$tok" 2>&1)" \
    "ok@example.com *"

# The token in the headers opens to the recipient and the stream.
tok=$(sed -n 's/^TOKEN //p' "$MG_DIR/accept.out")
dec=$("$TOP/$BUILD/test/milter/mg-tokdecode" "$MG_DIR/keys" "$tok" 2>&1)
like "token in List-Unsubscribe decodes to the recipient" "$dec" \
    "ok@example.com *"
fbid=$(sed -n 's/^FBID //p' "$MG_DIR/accept.out")
is "Feedback-ID from the stream's template" "$fbid" "newsletter:nov:example"

# One log line per decision, with the queue id and the reason.
log=$(mg_log)
like "refusal logged with queue id and reason" "$log" \
    "*4QTEST0001: *to=<out@example.com>*stream=newsletter*action=reject*reason=*"
like "RCPT-time refusal logged (envelope stream)" "$log" \
    "*to=<out@example.com>*stream=promo*action=reject*"
like "list stream with 2 recipients refused (550 5.5.3 case) and logged" \
    "$log" "*stream=newsletter, action=reject, reason=list stream with 2 recipients*"
like "a message deferred for the sends in flight is logged with them" "$log" \
    "*4QPAR00002: to=<par@example.com>*stream=promo, action=defer, reason=cap(promo) 1/1d held=1*"
like "... and the message after the accepted one meets the cap itself" "$log" \
    "*4QPAR00003: to=<par@example.com>*stream=promo, action=reject, reason=cap(promo) 1/1d next=*"
# The accept made before the queue file exists waits for its queue id.
qidlog=$(grep 'to=<qid2\{0,1\}@example.com>' "$MG_DIR/milter.log" |
    sed 's/^[^ ]* \([^ ]*\) to=<\([^>]*\)>.*action=\([a-z]*\).*/\1 \2 \3/')
is "a RCPT accept is logged with the queue id that came later, once" \
    "$qidlog" "4QLATE0001: qid@example.com accept
4QLATE0002: qid2@example.com accept
NOQUEUE: qid@example.com accept"
like "... an aborted transaction's says nothing was sent" \
    "$(grep '4QLATE0001: to=<qid@' "$MG_DIR/milter.log")" \
    "*action=accept, reason=* (transaction aborted before end of message: nothing sent)"
# A cap held by a message in flight, met at end of message (sendmail(1)
# mail): the recipient's deferral and the message's tempfail, both said.
like "held cap at end of message: the recipient's line" "$log" \
    "*4QPAR00012: to=<par2@example.com>, from=<promo@example.com>, client=*, stream=promo, action=defer, reason=cap(promo) 1/1d held=1*"
like "held cap at end of message: the message's line" "$log" \
    "*4QPAR00012: from=<promo@example.com>, nrcpt=1, client=*, stream=promo, action=tempfail, reason=<par2@example.com>: cap(promo) 1/1d held=1*"
n=$(grep -c 'to=<user0500@example.org>' "$MG_DIR/milter.log")
is "each of 1,000 recipients logged once" "$n" 1
like "recipient 1,001's 452 is logged as a decision" "$log" \
    "*: to=<one-too-many@example.org>, from=<alerts@example.com>*, action=defer, reason=too-many-recipients(1000)*"

# SIGHUP: a new config is used by new connections; a broken one is
# refused and the old one kept.
MG_URL="https://reloaded.example/u/%t" mg_config "$C" \
    "unix:$MG_DIR/milter.sock"
kill -HUP "$(mg_pid)"
mg_log_wait 'configuration reloaded'
mg_lua reload.lua -D "URL=https://reloaded.example/u/"
echo "[stream broken" >>"$C"
kill -HUP "$(mg_pid)"
mg_log_wait 'reload failed'
ok "broken config on SIGHUP: logged, old one kept" \
    grep -q 'reload failed' "$MG_DIR/milter.log"
mg_lua reload.lua -D "URL=https://reloaded.example/u/"
ok "milter still running after SIGHUPs" kill -0 "$(mg_pid)"
# Settings applied once at the start: a reload that changes them says so.
MG_URL="https://reloaded.example/u/%t" mg_config "$C" \
    "unix:$MG_DIR/milter.sock" "timeout = 120s
user = nobody"
kill -HUP "$(mg_pid)"
ok "SIGHUP with a new [milter] timeout and user: logged as taking effect at restart" \
    mg_log_wait 'reload: \[milter\] user, \[milter\] timeout changed: takes effect at restart'
mg_lua reload.lua -D "URL=https://reloaded.example/u/"

# A reload keeps the -v of the command line.
MG_SOCK=unix:$MG_DIR/verbose.sock
mg_lua header_refuse.lua
kill -HUP "$(mg_pid verbose)"
mg_log_wait 'configuration reloaded' verbose
mg_lua header_refuse.lua
is "-vv still in force after SIGHUP (a debug line per connection)" \
    "$(grep -c 'debug: connect ' "$MG_DIR/verbose.log")" 2

MG_SOCK=unix:$MG_DIR/nostore.sock
mg_lua store_error.lua
like "store error: marketing tempfailed, logged" "$(mg_log nostore)" \
    "*stream=newsletter, action=tempfail*"
like "store error: transactional accepted per on_store_error" \
    "$(mg_log nostore)" "*stream=alerts, action=accept*"

MG_SOCK=inet:10061@127.0.0.1
mg_lua policyd_mode.lua

# Detached (no -f) with a relative -c path: daemon() goes to "/", and
# SIGHUP must still find the file.
REL=rel$$.conf
mg_config "$MG_DIR/$REL" "unix:$MG_DIR/rel.sock"
(cd "$MG_DIR" && "$BIN/optgate-milter" -c "$REL")
i=0
until [ -S "$MG_DIR/rel.sock" ] || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
# (the file name is this run's own: another run may be detached too)
DPID=$(pgrep -f "optgate-milter -c $REL\$")
mg_cleanup_add "kill $DPID"
MG_URL="https://relative.example/u/%t" mg_config "$MG_DIR/$REL" \
    "unix:$MG_DIR/rel.sock"
kill -HUP "$DPID"
MG_SOCK=unix:$MG_DIR/rel.sock
i=0
until miltertest -s "$TOP/tests/milter/reload.lua" -D "TOP=$TOP" \
    -D "SOCK=$MG_SOCK" -D "URL=https://relative.example/u/" \
    >/dev/null 2>&1 || [ $i -ge 30 ]; do
	sleep 0.1
	i=$((i + 1))
done
mg_lua reload.lua -D "URL=https://relative.example/u/"
kill "$DPID"

# Key rotation as the README says: append a key, reload; later remove
# the old one.  kid: the key id a token was signed with (its first byte);
# hup: SIGHUP, and wait until the milter says it reloaded.
kid() {
	printf '%s' "$1" | cut -c1-4 | tr -- '-_' '+/' | base64 -d 2>/dev/null |
	    od -An -tu1 -N1 | tr -d ' '
}
hup() {
	_n=$(grep -c 'configuration reloaded' "$MG_DIR/milter.log")
	kill -HUP "$(mg_pid)"
	_i=0
	while [ "$(grep -c 'configuration reloaded' "$MG_DIR/milter.log")" -le "$_n" ] &&
	    [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}
MG_SOCK=unix:$MG_DIR/milter.sock
mg_config "$C" "unix:$MG_DIR/milter.sock"
hup
mg_lua header_accept.lua
tok1=$(sed -n 's/^TOKEN //p' "$MG_DIR/out")
is "before the rotation: tokens of key 1" "$(kid "$tok1")" 1
"$BIN/optgate" -c "$C" keygen >>"$MG_DIR/keys"
cp -p "$MG_DIR/keys" "$MG_DIR/keys.12"
hup
like "rotation: the reload names the key that signs now" "$(mg_log)" \
    "*keys: key 2 signs (was key 1)*"
mg_lua header_accept.lua
is "... and new mail gets tokens of key 2, without a restart" \
    "$(kid "$(sed -n 's/^TOKEN //p' "$MG_DIR/out")")" 2
# A keys file that does not load at a reload: logged, the keys kept.
sed -n 1p "$MG_DIR/keys.12" >>"$MG_DIR/keys"
_n=$(grep -c 'reload failed' "$MG_DIR/milter.log")
kill -HUP "$(mg_pid)"
i=0
while [ "$(grep -c 'reload failed' "$MG_DIR/milter.log")" -le "$_n" ] &&
    [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
like "a key id twice at a reload: logged with the line, old keys kept" \
    "$(mg_log)" "*keys: $MG_DIR/keys:3: duplicate key id*reload failed: keeping the old configuration*"
mg_lua header_accept.lua
is "... and new mail still gets tokens of key 2" \
    "$(kid "$(sed -n 's/^TOKEN //p' "$MG_DIR/out")")" 2
cp -p "$MG_DIR/keys.12" "$MG_DIR/keys"
# The wrong key retired: the one that signs, not the old one.
sed -i '2d' "$MG_DIR/keys"
hup
like "signing key removed from the file: the reload warns, naming it" \
    "$(mg_log)" "*warning: keys: key 2, which signed until this reload, is not in $MG_DIR/keys: the unsubscribe links and addresses of the mail it signed no longer verify (reason=unknown-key); key 1 signs*"
# Put back, then retire the old key, as the README says.
cp -p "$MG_DIR/keys.12" "$MG_DIR/keys"
hup
sed -i '1d' "$MG_DIR/keys"
hup
like "old key retired: the reload says its links fail" "$(mg_log)" \
    "*keys: key 1 no longer in $MG_DIR/keys: links signed with it fail (reason=unknown-key)*"
mg_lua header_accept.lua
is "... and new mail still gets tokens of key 2" \
    "$(kid "$(sed -n 's/^TOKEN //p' "$MG_DIR/out")")" 2

mg_stop_all_check

done_testing
