#!/bin/sh
# optgate-policyd on its own, spoken to as Postfix's smtpd would: verdicts,
# one recipient per list transaction, counting at END-OF-MESSAGE only, and
# every "bad input and fault" of the issue: each is answered or its
# connection closed with a log line while the daemon keeps serving the
# others with bounded memory.  Also: unix socket owner/group/mode, the
# spawn(8) mode on stdin/stdout, SIGHUP reload (a bad config keeps the old
# one), privilege drop, an unreadable store.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

pd_setup 10041
write_conf() {
	cat >"$PD_CONF" <<EOF
[store]
path = $PD_T/store
$EXTRA_STORE
[keys]
file = $PD_T/keys
[policyd]
listen = inet:127.0.0.1:10041
listen = unix:$PD_T/policy.sock
idle_timeout = ${IDLE:-2s}
max_connections = 1100
$EXTRA_POLICYD
[stream newsletter]
match = sender:news@example.com
consent = confirmed
caps = 2/7d
unsubscribe = https://unsub.example.com/u/%t
[stream offers]
match = sender:offers@example.com
consent = optin
refuse = drop
[stream digest]
match = sender:digest@example.com
consent = optin
refuse = drop
unsubscribe = mailto:unsub+%t@example.com
[stream resets]
match = sender:noreply@example.com
class = transactional
[stream alerts]
match = sender:alerts@example.com
consent = optin
caps = 2/7d
$EXTRA_STREAMS
EOF
}
write_conf
pd_init
og optin ana@example.org --stream newsletter >/dev/null
og optin bob@example.org --stream newsletter >/dev/null
og optout bob@example.org --all >/dev/null
og optin cid@example.org --stream offers --single >/dev/null
ok "daemon starts" pd_start

# --- verdicts ---
is "opted-in recipient: DUNNO" "$(pd_q recipient=ana@example.org)" DUNNO
r=$(pd_q recipient=bob@example.org instance=i2)
like "unsubscribed recipient: 550 with the reason" "$r" \
    "550 5.7.1 <bob@example.org>: unsubscribed from all streams*"
# The README's "Checking it by hand", with nc as it says.
like "README's nc check: the refusal with its reason" \
    "$(printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nsender=news@example.com\nrecipient=bob@example.org\ninstance=1\n\n' |
    nc -q1 127.0.0.1 10041)" \
    "action=550 5.7.1 <bob@example.org>: unsubscribed from all streams*"
like "no consent: 550" "$(pd_q recipient=dan@example.org instance=i3)" \
    "550 5.7.1 <dan@example.org>: no opt-in on record for newsletter"
is "unknown sender: no stream, DUNNO" \
    "$(pd_q sender=someone@else.example recipient=bob@example.org)" DUNNO
is "transactional skips opt-outs" \
    "$(pd_q sender=noreply@example.com recipient=bob@example.org)" DUNNO
like "drop, not a list stream: rejected (DISCARD would lose the others)" \
    "$(pd_q sender=offers@example.com recipient=dan@example.org)" "550 5.7.1 *"
# The rejection keeps the refusal's own status, as refuse = reject (and
# the milter) give it: a bounce handler reads 5.1.1 as "no such user".
og suppress hb@example.org --reason hard-bounce >/dev/null
like "drop made a rejection, hard bounce: 550 5.1.1" \
    "$(pd_q sender=offers@example.com recipient=hb@example.org instance=d1)" \
    "550 5.1.1 <hb@example.org>: address hard-bounced on *"
like "drop made a rejection, invalid address: 550 5.1.3" \
    "$(pd_q sender=offers@example.com recipient=dan@example..org instance=d2)" \
    "550 5.1.3 *invalid recipient address*"
ok "... logged as a reject, saying why" pd_log_wait \
    'to=<hb@example.org>.*stream=offers, action=reject, reason=hard-bounce\(all\).*\(drop needs one recipient per transaction: rejected\)'
like "drop, list stream: DISCARD" \
    "$(pd_q sender=digest@example.com recipient=dan@example.org)" "DISCARD *"
# Postfix sends addresses in its internal form: <"john doe"@example.org>
# as john doe@example.org, and a trailing dot of the domain as given
# (Postfix delivers to bob@example.org).
og optin '"john doe"@example.org' --stream newsletter >/dev/null
is "internal form: unquoted local part is the quoted address" \
    "$(pd_q 'recipient=john doe@example.org' instance=q1)" DUNNO
is "internal form: recipient domain with a trailing dot" \
    "$(pd_q sender=noreply@example.com recipient=ana@example.org.)" DUNNO
like "... the same person's opt-out applies" \
    "$(pd_q recipient=bob@example.org. instance=q2)" \
    "550 5.7.1 <bob@example.org>: unsubscribed from all streams*"
like "internal form: sender domain with a trailing dot finds the stream" \
    "$(pd_q sender=news@example.com. recipient=bob@example.org instance=q3)" \
    "550 5.7.1 <bob@example.org>: unsubscribed from all streams*"
ok "one log line per decision, Postfix style" pd_log_wait \
    'NOQUEUE: to=<bob@example.org>, from=<news@example.com>, client=localhost\[127.0.0.1\], stream=newsletter, action=reject, reason=unsubscribed\(all\)'

# --- one recipient per list transaction; counting at END-OF-MESSAGE ---
og optin ann@example.org --stream newsletter >/dev/null
out=$(printf '%s\n' \
    'instance=t1 recipient=ana@example.org' \
    'instance=t1 recipient=ann@example.org' \
    'instance=t1 recipient=ana@example.org sender=offers@example.com' |
    pd_client session)
is "list stream: a second recipient that would pass gets 452 4.5.3" "$(echo "$out" | sed -n 2p | cut -c1-9)" \
    "452 4.5.3"
ok "452 logged as defer" pd_log_wait \
    'to=<ann@example.org>.*action=defer, reason=one-recipient-per-transaction\(newsletter\)'
out=$(printf '%s\n' \
    'instance=t9 recipient=ana@example.org' \
    'instance=t9 recipient=bob@example.org' |
    pd_client session)
like "list stream: a second recipient refused anyway hears why, not 452" \
    "$(echo "$out" | sed -n 2p)" \
    "550 5.7.1 <bob@example.org>: unsubscribed from all streams*"
og status ana@example.org --stream newsletter >/dev/null
is "nothing counted before END-OF-MESSAGE" "$?" 0
# Two recipients passed here, one refused by a later restriction: Postfix
# names the one it accepted at END-OF-MESSAGE; only that one counts.
og optin kim@example.org --stream offers --single >/dev/null
og optin lou@example.org --stream offers --single >/dev/null
printf '%s\n' \
    'instance=m1 sender=offers@example.com recipient=kim@example.org' \
    'instance=m1 sender=offers@example.com recipient=lou@example.org' \
    'instance=m1 sender=offers@example.com protocol_state=END-OF-MESSAGE recipient=kim@example.org recipient_count=1 queue_id=Qm1' |
    pd_client session >/dev/null
for _i in $(seq 40); do
	og status kim@example.org --stream offers --json | grep -q '"sends":\["' && break
	sleep 0.05
done
like "END-OF-MESSAGE names the one accepted recipient: it is counted" \
    "$(og status kim@example.org --stream offers --json)" '*"sends":\["2*'
like "... the one a later restriction refused is not" \
    "$(og status lou@example.org --stream offers --json)" '*"sends":\[\]*'
# A transaction that gets as far as DATA (check_policy_service in
# smtpd_data_restrictions) and then ends without END-OF-MESSAGE (a header
# check or a milter rejected it) delivered nothing: nothing is counted.
# The next decision for the recipient commits any send still waiting.
og optin ivy@example.org --stream newsletter >/dev/null
printf '%s\n' 'instance=x1 recipient=ivy@example.org' \
    'instance=x1 protocol_state=DATA recipient= queue_id=Qx1' |
    pd_client session >/dev/null
pd_q recipient=ivy@example.org instance=x2 >/dev/null
is "a transaction rejected after DATA counts nothing" \
    "$(og status ivy@example.org --stream newsletter --json |
        sed -n 's|.*"cap":"2/7d","sent":\([0-9]*\).*|\1|p')" 0
# A refused recipient gets no copy: its transaction's END-OF-MESSAGE
# counts nothing for it.
printf '%s\n' 'instance=r1 sender=alerts@example.com recipient=ray@example.org' \
    'instance=r1 protocol_state=END-OF-MESSAGE recipient= queue_id=Qr1' |
    pd_client session >/dev/null
og optin ray@example.org --stream alerts --single >/dev/null
pd_q sender=alerts@example.com recipient=ray@example.org instance=r2 >/dev/null
is "a refused recipient is not counted" \
    "$(og status ray@example.org --stream alerts --json |
        sed -n 's|.*"cap":"2/7d","sent":\([0-9]*\).*|\1|p')" 0
# A recipient given twice in one transaction is delivered once (Postfix's
# cleanup drops the copy): it is counted once, so 2/7d still lets one more
# message through.
og optin gus@example.org --stream alerts --single >/dev/null
printf '%s\n' 'instance=g1 sender=alerts@example.com recipient=gus@example.org' \
    'instance=g1 sender=alerts@example.com recipient=gus@example.org' \
    'instance=g1 protocol_state=END-OF-MESSAGE recipient= queue_id=Qg1' |
    pd_client session >/dev/null
is "a repeated recipient is counted once" \
    "$(pd_q sender=alerts@example.com recipient=gus@example.org instance=g2)" DUNNO
# DISCARD drops the whole message: after it, a second recipient of the
# list transaction would lose its copy, so it gets 452 too.
og optin fay@example.org --stream digest >/dev/null
out=$(printf '%s\n' \
    'instance=d1 sender=digest@example.com recipient=dan@example.org' \
    'instance=d1 sender=digest@example.com recipient=fay@example.org' |
    pd_client session)
like "list stream: DISCARD for the first recipient" \
    "$(echo "$out" | sed -n 1p)" "DISCARD *"
is "list stream: a recipient after a DISCARD gets 452 4.5.3" \
    "$(echo "$out" | sed -n 2p | cut -c1-9)" "452 4.5.3"
# Postfix asks no policy after a DISCARD at RCPT (it accepts and drops
# the transaction's further recipients unasked): on a connection that
# carries END-OF-MESSAGE, the DISCARD waits for it, so the next
# recipient is still asked and gets 452 4.5.3.
out=$(printf '%s\n' \
    'instance=d2 sender=digest@example.com recipient=fay@example.org' \
    'instance=d2 sender=digest@example.com protocol_state=END-OF-MESSAGE recipient= queue_id=Qd2' \
    'instance=d3 sender=digest@example.com recipient=dan@example.org' \
    'instance=d3 sender=digest@example.com recipient=fay@example.org' \
    'instance=d3 sender=digest@example.com protocol_state=END-OF-MESSAGE recipient=dan@example.org recipient_count=1 queue_id=Qd3' |
    pd_client session | tr '\n' '|')
like "list stream, END-OF-MESSAGE wired: the drop waits for it, the next recipient gets 452" \
    "$out" "DUNNO|DUNNO|DUNNO|452 4.5.3 *|DISCARD <dan@example.org>: *"
# The same recipient asked twice in one transaction (check_policy_service
# in smtpd_relay_restrictions and smtpd_recipient_restrictions) is not a
# second recipient: the same answer both times.
out=$(printf '%s\n' \
    'instance=w1 recipient=ann@example.org' \
    'instance=w1 recipient=ann@example.org' \
    'instance=w1 protocol_state=END-OF-MESSAGE recipient= queue_id=Qw1' \
    'instance=w2 sender=digest@example.com recipient=dan@example.org' \
    'instance=w2 sender=digest@example.com recipient=dan@example.org' \
    'instance=w2 sender=digest@example.com recipient=fay@example.org' |
    pd_client session | tr '\n' '|')
like "list stream: one recipient asked twice passes twice (a dropped one too)" \
    "$out" "DUNNO|DUNNO|DUNNO|DUNNO|DUNNO|452 4.5.3 *"
# An aborted transaction (no END-OF-MESSAGE) counts nothing: t1 above,
# and t2 here.  Then two finished transactions hit the 2/7d cap.
printf '%s\n' 'instance=t2 recipient=ana@example.org' | pd_client session >/dev/null
for t in t3 t4; do
	printf '%s\n' "instance=$t recipient=ana@example.org" \
	    "instance=$t protocol_state=END-OF-MESSAGE recipient= queue_id=Q$t" |
	    pd_client session >/dev/null
done
like "two accepted messages reach the 2/7d cap" \
    "$(pd_q recipient=ana@example.org instance=t5)" \
    "550 5.7.1 <ana@example.org>: frequency cap 2/7d for newsletter reached*"
og status ana@example.org --stream newsletter >/dev/null
is "optgate status sees the same counters" "$?" 1
# Sends are committed in groups (a few ms later); a recipient's next
# message on the same connection, right after the first, must still see
# every earlier send: the third of three back-to-back messages hits 2/7d.
og optin eva@example.org --stream newsletter >/dev/null
out=$(printf '%s\n' 'instance=b1 recipient=eva@example.org' \
    'instance=b1 protocol_state=END-OF-MESSAGE recipient= queue_id=QB1' \
    'instance=b2 recipient=eva@example.org' \
    'instance=b2 protocol_state=END-OF-MESSAGE recipient= queue_id=QB2' \
    'instance=b3 recipient=eva@example.org' | pd_client session | tr '\n' '|')
like "back-to-back messages on one connection: the third hits the cap" \
    "$out" "DUNNO|DUNNO|DUNNO|DUNNO|550 5.7.1 <eva@example.org>: frequency cap 2/7d*"

# Transactions in parallel (several smtpd processes, one connection each):
# a recipient passed at RCPT but not yet accepted holds a send, so two
# messages in flight cannot both pass a cap that lets one through.  One
# the held sends alone would stop is deferred (its hold may still be
# aborted); a finished transaction turns its hold into a count, an
# aborted one (the next transaction on its connection, or the connection
# closed) gives it back.
og optin hal@example.org --stream newsletter >/dev/null
out=$(printf '%s\n' \
    'A instance=h1 recipient=hal@example.org' \
    'B instance=h2 recipient=hal@example.org' \
    'C instance=h3 recipient=hal@example.org' \
    'A instance=h1 protocol_state=END-OF-MESSAGE recipient= queue_id=QH1' \
    'C instance=h3 recipient=hal@example.org' \
    'B instance=h4 recipient=zed@example.org' \
    'C instance=h3 recipient=hal@example.org' \
    'D instance=h5 recipient=hal@example.org' \
    'C close' |
    pd_client parallel)
is "two transactions in flight: both pass a 2/7d cap" \
    "$(echo "$out" | sed -n 1,2p | tr '\n' '|')" "A DUNNO|B DUNNO|"
like "a third, while both are in flight, is deferred" \
    "$(echo "$out" | sed -n 3p)" \
    "C 450 4.7.1 <hal@example.org>: 2 other messages to this recipient for newsletter not accepted yet would reach frequency cap 2/7d; try again later"
ok "... logged as a defer with the held sends" pd_log_wait \
    'to=<hal@example.org>.*action=defer, reason=cap\(newsletter\) 2/7d held=2'
is "one accepted, one still in flight: deferred" \
    "$(echo "$out" | sed -n 5p | cut -c1-11)" "C 450 4.7.1"
is "the one in flight aborted (its connection's next transaction): passes" \
    "$(echo "$out" | sed -n 7p)" "C DUNNO"
is "another in flight meanwhile: deferred" \
    "$(echo "$out" | sed -n 8p | cut -c1-11)" "D 450 4.7.1"
# The daemon sees the close when its loop gets to it: ask until then.
for _i in $(seq 40); do
	r=$(pd_q instance=h6 recipient=hal@example.org)
	[ "$r" = DUNNO ] && break
	sleep 0.05
done
is "its connection closed: the hold is given back" "$r" DUNNO

# --- bad input and faults ---
rss0=$(pd_rss)
pd_client hold "$PD_T/go" >"$PD_T/hold.out" &
holdpid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -s "$PD_T/hold.out" ] && break
	sleep 0.1
done

r=$(printf 'protocol_state=RCPT\nrecipient=a@b\n\n' | pd_client send)
is "request without request=: closed without reply" "$r" CLOSED
ok "... with a log line" pd_log_wait 'bad policy request: no request= attribute'
r=$(printf 'request=smtpd_access_policy\njunk line\n\n' | pd_client send)
is "line without '=': closed" "$r" CLOSED
ok "... logged" pd_log_wait "bad policy request: line without '='"
r=$(python3 -c "import sys; sys.stdout.write('request=smtpd_access_policy\nrecipient=' + 'x' * 102400 + '\n\n')" | pd_client send)
is "100 KB value: closed" "$r" CLOSED
ok "... logged" pd_log_wait 'bad policy request: line too long'
r=$(printf 'request=smtpd_access_policy\nrecipient=a\000b@c\n\n' | pd_client send)
is "NUL byte: closed" "$r" CLOSED
ok "... logged" pd_log_wait 'bad policy request: NUL byte'
r=$(python3 -c "import sys; sys.stdout.write('request=smtpd_access_policy\n' + ''.join('a%d=1\n' % i for i in range(10000)) + '\n')" | pd_client send)
is "10,000 attributes: closed" "$r" CLOSED
ok "... logged" pd_log_wait 'bad policy request: (too many attributes|request too long)'
r=$(pd_client half)
like "half a request then silence: closed after the idle timeout" "$r" "closed [123].*"
ok "... logged" pd_log_wait 'timeout in the middle of a request'
r=$(pd_client drip)
like "a request dripping in byte by byte: closed after the idle timeout" "$r" "closed [234].*"
ok "... logged" pd_log_wait 'timeout in the middle of a request; closing' 1
pd_client hangup
pd_client hangup
like "client closing right after its request: daemon still answers" \
    "$(pd_q recipient=ana2@example.org instance=x9)" \
    "550 5.7.1 <ana2@example.org>: no opt-in*"
# Closing in the middle of the replies: a client that sends and never
# reads until the daemon's replies back up, then resets the connection.
r=$(python3 "$TOP/tests/lib/policyclient.py" unread "unix:$PD_T/policy.sock")
like "client closing mid-reply: its replies had backed up" "$r" "stalled after *"
ok "... logged" pd_log_wait 'connection lost before the reply was sent' 5
like "... and the daemon still answers" \
    "$(pd_q recipient=ana2@example.org instance=x9b)" \
    "550 5.7.1 <ana2@example.org>: no opt-in*"
r=$(pd_client pipeline 300)
is "300 requests in one write, answers read afterwards: all answered" \
    "$r" "answered=300"
like "... and the daemon still serves" \
    "$(pd_q recipient=ana2@example.org instance=x10)" "550 5.7.1 <ana2@example.org>: no opt-in*"
r=$(pd_client many 1000)
is "1,000 connections at once: all answered" "$r" "answered=1000 closed=0 other=0"
: >"$PD_T/go"
wait $holdpid
like "a connection kept busy meanwhile was served throughout" \
    "$(tail -1 "$PD_T/hold.out")" "requests=[1-9]* different=0"
rss1=$(pd_rss)
echo "# RssAnon before ${rss0} kB, after bad input and 1000 connections ${rss1} kB"
ok "memory stays bounded (RssAnon < 64 MB)" test "$rss1" -lt 65536

# --- unix socket ---
ok "unix socket answers" test "$(python3 "$TOP/tests/lib/policyclient.py" query "unix:$PD_T/policy.sock" recipient=ana@example.org instance=u1 | cut -c1-3)" = 550
is "unix socket owner, group, mode (defaults postfix:postfix 0660)" \
    "$(stat -c '%U:%G %a' "$PD_T/policy.sock")" "postfix:postfix 660"

# --- reload ---
EXTRA_STREAMS='[stream promo]
match = sender:promo@example.com
consent = none' write_conf
pd_hup
pd_log_wait 'reloaded' 5
like "SIGHUP: a new stream is used without restart" \
    "$(pd_q sender=promo@example.com recipient=bob@example.org)" "550 5.7.1 <bob@example.org>: unsubscribed*"
printf '[policyd]\nbogus_key = 1\n' >>"$PD_CONF"
n0=$(wc -l <"$PD_LOG")
pd_hup
ok "SIGHUP with a bad config: logged" pd_log_wait 'keeping the running config'
# Each error of the file logged once, as optgate-milter and optgate-unsubd
# log them (the first was logged again in the line that ended the reload,
# or the start).  Lines are compared from the file's name on: "error: F:1:
# x", "fatal: F:1: x" and "error: reload: F:1: x; keeping ..." are one.
conf_errs() {
	grep -F -- "$PD_CONF:" | sed -e "s|.*$PD_CONF:|$PD_CONF:|" \
	    -e 's/; keeping the running config$//'
}
errs=$(tail -n +$((n0 + 1)) "$PD_LOG" | conf_errs)
ok "... naming the file's error" test -n "$errs"
is "... each error of the file once" \
    "$(printf '%s\n' "$errs" | wc -l)" "$(printf '%s\n' "$errs" | sort -u | wc -l)"
like "... and the reload's own line says only what became of it" \
    "$(tail -n +$((n0 + 1)) "$PD_LOG" | grep 'keeping the running config')" \
    "*error: reload: keeping the running config"
like "... and the old config keeps serving" \
    "$(pd_q sender=promo@example.com recipient=bob@example.org)" "550 5.7.1 *"
errs=$("$BIN/optgate-policyd" -f -c "$PD_CONF" 2>&1 | conf_errs)
ok "a start with that file: its error logged" test -n "$errs"
is "... once" \
    "$(printf '%s\n' "$errs" | wc -l)" "$(printf '%s\n' "$errs" | sort -u | wc -l)"
# Settings applied once, as root, at the start: a reload says so.
EXTRA_STREAMS='[stream promo]
match = sender:promo@example.com
consent = none' EXTRA_POLICYD='socket_mode = 0666' write_conf
pd_hup
ok "SIGHUP with a new socket_mode: logged as taking effect at restart" \
    pd_log_wait 'reload: \[policyd\] socket_owner, socket_group or socket_mode changed: takes effect at restart'
# The store's sizes are given to it when it opens: likewise.
EXTRA_STREAMS='[stream promo]
match = sender:promo@example.com
consent = none' EXTRA_POLICYD='socket_mode = 0666' EXTRA_STORE='map_size = 8G' write_conf
pd_hup
ok "SIGHUP with a new map_size: logged as taking effect at restart" \
    pd_log_wait 'reload: \[store\] map_size, counter_map_size or max_readers changed: takes effect at restart'
# A config with spf on and no [spf] egress (no address to check the SPF
# records against) is not taken either.
EXTRA_STREAMS='[stream promo]
match = sender:promo@example.com
consent = none
[stream strict]
match = sender:strict@example.com
consent = optin
spf = reject' write_conf
pd_hup
ok "SIGHUP with spf but no [spf] egress: logged" \
    pd_log_wait 'stream strict\] spf = reject needs \[spf\] egress'
is "... the running config kept: no stream strict yet" \
    "$(pd_q sender=strict@example.com recipient=zed@example.org)" DUNNO
# Caps on a transactional stream: ignored (never capped), so said in the
# log; the config is taken, as it always was.
EXTRA_STREAMS='[stream receipts]
match = sender:receipts@example.com
class = transactional
caps = 1/1d' write_conf
pd_hup
ok "SIGHUP with caps on a transactional stream: a warning says they are ignored" \
    pd_log_wait 'warning: .*optgate.conf:[0-9]+: \[stream receipts\] caps: class = transactional streams skip caps: the line is ignored'
like "... and the config is taken" \
    "$(pd_q sender=receipts@example.com recipient=hb@example.org)" \
    "550 5.1.1 <hb@example.org>: address hard-bounced*"
# A stream the envelope names, below one matched by a header: policyd
# leaves it to the milter (DUNNO), so says so in its log at load.
EXTRA_STREAMS='[stream hdr]
match = header:X-Campaign=spring
consent = optin
[stream late]
match = sender:late@example.com
consent = optin' write_conf
pd_hup
ok "SIGHUP with a stream below a header-matched one: a warning names both" \
    pd_log_wait 'warning: .*\.conf:[0-9]+: \[stream late\] comes after \[stream hdr\], which matches a header: optgate-policyd does not judge it at RCPT'
is "... and its mail is left to the milter" \
    "$(pd_q sender=late@example.com recipient=zed@example.org)" DUNNO
# Match lines as an admin types or pastes them: a blank after the colon,
# the sender as Postfix logs it.  They loaded and matched nothing, so
# the stream's mail went out without its opt-outs (DUNNO).
EXTRA_STREAMS='[stream spaced]
match = sender: spaced@example.com
match = sender:<logged@example.com>
match = sasl: spacedapp
consent = none' write_conf
: >"$PD_LOG"
pd_hup
pd_log_wait 'reloaded' 5
like "match = sender: ADDR (a blank after the colon): opt-outs hold" \
    "$(pd_q sender=spaced@example.com recipient=bob@example.org)" \
    "550 5.7.1 <bob@example.org>: unsubscribed*"
like "match = sender:<ADDR> (as Postfix logs it): opt-outs hold" \
    "$(pd_q sender=logged@example.com recipient=bob@example.org)" \
    "550 5.7.1 <bob@example.org>: unsubscribed*"
like "match = sasl: USER: opt-outs hold" \
    "$(pd_q sender=other@else.example sasl_username=spacedapp recipient=bob@example.org)" \
    "550 5.7.1 <bob@example.org>: unsubscribed*"
ok "daemon exits cleanly on SIGTERM" pd_stop

# SIGTERM (systemctl stop, restart) right after messages were accepted:
# their sends still wait for their group commit (2 ms), and are counted
# before the daemon exits; lost, the restarted daemon would let those
# recipients' next messages pass their caps.
EXTRA_STREAMS='[stream burst]
match = sender:burst@example.com
consent = none
caps = 5/7d' write_conf
pd_start
# The SIGTERM leaves as soon as the last answer is in (a shell's kill
# would come after the commit).
python3 - "$PD_PORT" "$PD_PID" <<'PY'
import os, signal, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
def ask(i, state, extra=""):
    s.sendall(("request=smtpd_access_policy\nprotocol_state=%s\n"
               "sender=burst@example.com\nrecipient=t%d@example.org\n"
               "instance=b%d\n%s\n" % (state, i, i, extra)).encode())
    assert f.readline() == b"action=DUNNO\n" and f.readline() == b"\n"
for i in range(1, 9):
    ask(i, "RCPT")
    ask(i, "END-OF-MESSAGE", "recipient_count=1\nqueue_id=QB%d\n" % i)
os.kill(int(sys.argv[2]), signal.SIGTERM)
PY
ok "... the daemon stops" pd_stop
n=0
for i in 1 2 3 4 5 6 7 8; do
	og status t$i@example.org --stream burst --json |
	    grep -q '"caps":\[{"cap":"5/7d","sent":1}' && n=$((n + 1))
done
is "SIGTERM right after 8 accepted messages: all 8 sends counted" "$n" 8

# --- spawn(8) mode: one connection on stdin/stdout ---
write_conf
r=$(python3 - "$BIN/optgate-policyd" "$PD_CONF" <<'EOF'
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-s", "-c", sys.argv[2]], stdin=b, stdout=b,
                     stderr=subprocess.DEVNULL)
b.close()
a.settimeout(10)
out = []
for rcpt in ("ana2@example.org", "bob@example.org"):
    a.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
               "sender=news@example.com\nrecipient=%s\ninstance=s%s\n\n"
               % (rcpt, rcpt[0])).encode())
    d = b""
    while not d.endswith(b"\n\n"):
        c = a.recv(4096)
        if not c:
            break
        d += c
    out.append(d.decode().strip())
a.close()
print(" | ".join(out), "| exit", p.wait(timeout=10))
EOF
)
like "spawn mode (-s): answers on stdin/stdout, exits at EOF" "$r" \
    "action=550 5.7.1 <ana2@example.org>: no opt-in* | action=550 5.7.1 <bob@example.org>: unsubscribed* | exit 0"

# Under spawn(8) the holds are in the store, for the other processes: they
# are given back only once the send is committed.  Given back first, a
# decision in between saw neither and passed the cap.  The fault shim
# pauses A's second commit after its END-OF-MESSAGE (the one after the
# count, or before the fix, the count itself) while B decides.
og optin ivy@example.org --stream newsletter >/dev/null
r=$(python3 - "$BIN/optgate-policyd" "$PD_CONF" "$TOP/$BUILD/tests/og_faultfs.so" \
    "$PD_T/fault" <<'EOF'
import os, socket, subprocess, sys, time
pd, conf, shim, fault = sys.argv[1:5]

def start(env=None):
    a, b = socket.socketpair()
    p = subprocess.Popen([pd, "-s", "-c", conf], stdin=b, stdout=b,
                         stderr=subprocess.DEVNULL, env=env)
    b.close()
    a.settimeout(30)
    return a, p

def ask(s, state, inst, rcpt="ivy@example.org"):
    s.sendall(("request=smtpd_access_policy\nprotocol_state=%s\n"
               "sender=news@example.com\nrecipient=%s\ninstance=%s\n\n"
               % (state, rcpt, inst)).encode())

def answer(s):
    d = b""
    while not d.endswith(b"\n\n"):
        c = s.recv(4096)
        if not c:
            break
        d += c
    return d.decode().strip().replace("action=", "")

s, p = start()  # one send of the cap's two, counted
ask(s, "RCPT", "h0")
answer(s)
ask(s, "END-OF-MESSAGE", "h0")
answer(s)
s.close()
p.wait(timeout=10)
a, pa = start(dict(os.environ, LD_PRELOAD=shim, OG_FAULT=fault,
                   OG_FAULT_FILE="/counters/data.mdb"))
b, pb = start()
ask(b, "RCPT", "b0", "bob@example.org")  # B is up
answer(b)
ask(a, "RCPT", "h1")
first = answer(a)
with open(fault, "w") as f:
    f.write("pause 1\n")
ask(a, "END-OF-MESSAGE", "h1")
for i in range(2000):
    if os.path.exists(fault + ".paused"):
        break
    time.sleep(0.01)
paused = os.path.exists(fault + ".paused")
ask(b, "RCPT", "h2")
# B decides at once; a pass then waits for A's commit to hold its send
b.settimeout(3)
try:
    second = answer(b)
except socket.timeout:
    second = None
os.unlink(fault)
b.settimeout(30)
if second is None:
    second = answer(b)
answer(a)
a.close()
b.close()
pa.wait(timeout=10)
pb.wait(timeout=10)
print("first=%s | paused=%s | second=%s" % (first, paused, second))
EOF
)
like "spawn mode: a send's hold is given back after its count (2/7d: the third is refused)" \
    "$r" "first=DUNNO | paused=True | second=550 5.7.1 *frequency cap 2/7d*"

# --- privilege drop and socket ownership from the config ---
chown -R nobody "$PD_T/store"
EXTRA_POLICYD='user = nobody
socket_owner = nobody
socket_group = nogroup
socket_mode = 0600' write_conf
ok "starts with user = nobody" pd_start
is "runs as nobody after binding" \
    "$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$PD_PID/status)" \
    "$(id -u nobody)"
is "socket owner/group/mode from the config" \
    "$(stat -c '%U:%G %a' "$PD_T/policy.sock")" "nobody:nogroup 600"
like "serves as nobody (counters writable)" \
    "$(pd_q recipient=ana@example.org instance=n1)" "550 5.7.1 *frequency cap*"
pd_stop

# --- store unreadable ---
mv "$PD_T/store" "$PD_T/store.away"
EXTRA_STREAMS='[stream urgent]
match = sender:urgent@example.com
class = transactional
on_store_error = accept' write_conf
: >"$PD_LOG"
ok "starts without a store" pd_start
ok "... and says so" pd_log_wait 'store .*: .*tempfailed until it opens'
is "store unreadable: marketing gets 451 4.3.0" \
    "$(pd_q recipient=ana@example.org | cut -c1-9)" "451 4.3.0"
is "store unreadable: transactional default tempfails" \
    "$(pd_q sender=noreply@example.com recipient=ana@example.org | cut -c1-9)" "451 4.3.0"
is "store unreadable: transactional with on_store_error = accept passes" \
    "$(pd_q sender=urgent@example.com recipient=ana@example.org)" DUNNO
mv "$PD_T/store.away" "$PD_T/store"
ok "store reopened without restart" pd_log_wait 'store .* open$' 8
is "... and decisions are back" "$(pd_q recipient=cid@example.org)" \
    "550 5.7.1 <cid@example.org>: no opt-in on record for newsletter"
ok "daemon exits cleanly" pd_stop

# --- out of file descriptors ---
# A reload to more connections than the open files limit allows raises
# it (as a root start does); a limit lowered under the running daemon
# (or any fd shortage) makes accept(2) fail: a warning a second, not a
# busy loop that floods the log.
write_conf
sed -i 's/^max_connections = .*/max_connections = 50/' "$PD_CONF"
: >"$PD_LOG"
PD_WRAP="prlimit --nofile=120:120" pd_start
PD_WRAP=
sed -i 's/^max_connections = .*/max_connections = 1000/' "$PD_CONF"
pd_hup
pd_log_wait 'reloaded' 5
# (Raised where the daemon may raise its hard limit; else the connections
# it has no files for are refused at once, with a warning.)
r=$(pd_client many 300)
echo "# 300 connections after the reload: $r"
like "reload to max_connections over the open files limit: 300 connections answered or refused, none left waiting" \
    "$r" "answered=* closed=* other=0"
prlimit --pid "$PD_PID" --nofile=40:40
r=$(PC_TIMEOUT=3 pd_client many 100)
echo "# 100 connections with 40 files: $r"
n=$(pd_log_count 'Too many open files')
ok "out of file descriptors: logged, a warning a second ($n lines)" \
    test "$n" -ge 1 -a "$n" -le 15
for _i in $(seq 40); do
	r=$(pd_q recipient=cid@example.org 2>/dev/null)
	case "$r" in 550*) break ;; esac
	sleep 0.1
done
like "... and it answers again once connections are gone" "$r" \
    "550 5.7.1 <cid@example.org>: no opt-in*"
ok "daemon exits cleanly" pd_stop
write_conf

# --- detached (no -f), as README's mode 1 starts it: SIGHUP reloads,
# SIGTERM stops (signals reach the daemon, not only the parent) ---
"$BIN/optgate-policyd" -c "$PD_CONF" 2>>"$PD_LOG"
r=
for _i in $(seq 50); do
	r=$(pd_q recipient=cid@example.org 2>/dev/null) && [ -n "$r" ] && break
	sleep 0.1
done
like "detached: answers" "$r" "550 5.7.1 <cid@example.org>: no opt-in*"
dpid=$(pgrep -f -- "optgate-policyd -c $PD_CONF\$")
sed -i 's/^match = sender:news@example.com$/match = sender:other@example.com/' \
    "$PD_CONF"
kill -HUP "$dpid"
for _i in $(seq 50); do
	r=$(pd_q recipient=cid@example.org)
	[ "$r" = DUNNO ] && break
	sleep 0.1
done
is "detached: SIGHUP reloads (the stream no longer matches news@)" "$r" DUNNO
kill -TERM "$dpid"
for _i in $(seq 50); do
	kill -0 "$dpid" 2>/dev/null || break
	sleep 0.1
done
ok "detached: SIGTERM stops it" sh -c "! kill -0 $dpid 2>/dev/null"
kill -9 "$dpid" 2>/dev/null
done_testing
