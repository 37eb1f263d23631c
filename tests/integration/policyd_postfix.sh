#!/bin/sh
# optgate-policyd wired into a real Postfix (tests/lib/postfix.sh) as the
# README says: check_policy_service in smtpd_recipient_restrictions and
# smtpd_end_of_data_restrictions.  What a mail admin checks: refusals with
# the reason at RCPT while the other recipients are delivered; one
# recipient per list transaction; caps let exactly N messages through per
# window (clock set with OPTGATE_NOW); an aborted transaction counts
# nothing; an opt-out is enforced on the next message without a restart;
# kill -9 under load tempfails and lets nothing through that should not;
# the same under spawn(8).
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"
. "$TOP/tests/lib/policyd.sh"

POLICY=inet:127.0.0.1:10042
# The error limits conf/postfix-policyd-main.cf sets for list streams
# (their 452s count as client errors).
errlim=$(sed -n 's/^\(smtpd_[a-z]*_error_limit\) = \([0-9]*\)$/\1=\2/p' \
    "$TOP/conf/postfix-policyd-main.cf")
pf_init 25120 25121 $errlim \
    "smtpd_recipient_restrictions=check_policy_service $POLICY, check_recipient_access inline:{gil@example.org=REJECT}, permit_mynetworks, reject" \
    "smtpd_end_of_data_restrictions=check_policy_service $POLICY" \
    "smtpd_policy_service_default_action=451 4.3.5 Policy service unavailable" \
    "smtpd_policy_service_timeout=10s" \
    "smtpd_policy_service_try_limit=2" \
    "smtpd_policy_service_retry_delay=1s"
pd_setup 10042
cat >"$PD_CONF" <<EOF
[store]
path = $PD_T/store
[keys]
file = $PD_T/keys
[policyd]
listen = inet:127.0.0.1:10042
[stream offers]
match = sender:offers@shop.example
consent = optin
[stream newsletter]
match = sender:news@shop.example
consent = optin
unsubscribe = https://unsub.shop.example/u/%t
[stream digest]
match = sender:digest@shop.example
consent = optin
refuse = drop
unsubscribe = mailto:unsub+%t@shop.example
[stream bulk]
match = sender:bulk@shop.example
consent = none
unsubscribe = https://unsub.shop.example/u/%t
[stream capped]
match = sender:daily@shop.example
consent = none
caps = 2/1d
EOF
pd_init
for a in ana bob cid gil; do
	og optin $a@example.org --stream offers --single >/dev/null
	og optin $a@example.org --stream newsletter --single >/dev/null
	og optin $a@example.org --stream digest --single >/dev/null
done
og optout bob@example.org --all >/dev/null
T0=1795000000
PD_ENV="OPTGATE_NOW=$T0"
ok "optgate-policyd starts" pd_start
ok "postfix starts" pf_start 25120 25121

# --- refusal at RCPT with the reason, the others delivered ---
out=$(pf_send offers@shop.example 'ana@example.org bob@example.org cid@example.org')
like "unsubscribed recipient refused at RCPT with the reason" \
    "$(echo "$out" | grep 'RCPT <bob')" \
    "RCPT <bob@example.org> 550 5.7.1 *unsubscribed from all streams on * via admin"
like "the other recipients accepted, message queued" "$out" \
    "*RCPT <ana@example.org> 250*RCPT <cid@example.org> 250*DATA 250*"
pf_wait_queue_empty 10
is "the sink got ana and cid only" "$(pf_sink_rcpts | sort | tr '\n' ' ')" \
    "ana@example.org cid@example.org "
ok "postfix logged the refusal with the reason" pf_log_wait \
    '(NOQUEUE|[0-9A-F]+): reject: RCPT from .*: 550 5.7.1 <bob@example.org>: .*unsubscribed from all streams'
ok "optgate-policyd logged the decision, with Postfix's queue id" pd_log_wait \
    '^optgate-policyd\[[0-9]+\]: [0-9A-F]+: to=<bob@example.org>, from=<offers@shop.example>, client=.*stream=offers, action=reject, reason=unsubscribed\(all\)'
ok "... NOQUEUE for the first recipient (no queue file before it)" pd_log_wait \
    '^optgate-policyd\[[0-9]+\]: NOQUEUE: to=<ana@example.org>, from=<offers@shop.example>, .*action=accept'

# --- list stream: one recipient per transaction ---
pf_sink_clear
out=$(pf_send news@shop.example 'ana@example.org cid@example.org')
like "list stream: the second recipient gets 452 4.5.3" \
    "$(echo "$out" | grep 'RCPT <cid')" "RCPT <cid@example.org> 452 4.5.3 *one recipient per transaction*"
pf_wait_queue_empty 10
is "list stream: only the first recipient was sent" "$(pf_sink_rcpts)" \
    "ana@example.org"

# check_policy_service in smtpd_relay_restrictions as well: Postfix asks
# twice about each recipient; the same recipient asked again is not a
# second one (it got 452 4.5.3 from the second question: nothing sent),
# and its decision is one log line, not two.  Postfix asking twice shows
# in policyd's debug lines for mail of no stream (one per question).
pf_sink_clear
printf '[log]\nverbose = 1\n' >>"$PD_CONF"
pd_hup
pf_conf "smtpd_relay_restrictions=check_policy_service $POLICY, permit_mynetworks, reject"
pf_reload
nostream='to=<ana@example.org>: no stream from the envelope'
for i in $(seq 1 20); do
	n0=$(pd_log_count "$nostream")
	pf_send other@shop.example ana@example.org >/dev/null
	[ "$(pd_log_count "$nostream")" -ge $((n0 + 2)) ] && break
	sleep 0.2 # until a new smtpd (with the reloaded config) answers
done
is "policy in relay and recipient restrictions: Postfix asks twice" \
    "$(($(pd_log_count "$nostream") - n0))" 2
n0=$(pd_log_count 'to=<ana@example.org>, from=<news@shop.example>')
out=$(pf_send news@shop.example ana@example.org)
like "... and a list stream's recipient passes" \
    "$out" "*RCPT <ana@example.org> 250*DATA 250*"
is "... logged once, not once per question" \
    "$(($(pd_log_count 'to=<ana@example.org>, from=<news@shop.example>') - n0))" 1
out=$(pf_send offers@shop.example 'ana@example.org bob@example.org cid@example.org')
q=$(echo "$out" | sed -n 's/^DATA 250 .*queued as \([0-9A-F]*\).*/\1/p')
is "... a message to 3 recipients: one line each, with its queue id ($q)" \
    "$(grep -E ': (NOQUEUE|'"$q"'): to=<(ana|bob|cid)@example.org>, from=<offers@shop.example>' "$PD_LOG" |
        sed 's/^[^ ]* \([^:]*\): to=<\([a-z]*\)@.*action=\([a-z]*\),.*/\1 \2 \3/' | tail -3 | tr '\n' ' ')" \
    "NOQUEUE ana accept $q bob reject $q cid accept "
is "... and nothing more about them" \
    "$(grep -c ": $q: to=" "$PD_LOG")" 2
sed -i '/^\[log\]$/,$d' "$PD_CONF"
pf_conf "smtpd_relay_restrictions=permit_mynetworks, reject"
pf_reload
pf_wait_queue_empty 10

# A list stream's message to 25 recipients: the first is sent, the 24
# others get 452 4.5.3 each, which Postfix counts as client errors; with
# its default limits it slept from the 11th and hung up at the 21st,
# before DATA, so not even the first was sent.
pf_sink_clear
many=$(for i in $(seq 1 25); do printf 'r%d@example.org ' "$i"; done)
t0=$(date +%s)
out=$(pf_send bulk@shop.example "$many")
t1=$(date +%s)
is "list stream, 25 recipients: one 250, 24 times 452 4.5.3" \
    "$(echo "$out" | sed -n 's/^RCPT <[^>]*> \([0-9]*\) .*/\1/p' | sort | uniq -c |
        awk "{printf \"%s=%s \", \$2, \$1}")" "250=1 452=24 "
like "... and the message to the first is accepted" "$out" "*DATA 250*"
ok "... without error sleeps (took $((t1 - t0))s)" test $((t1 - t0)) -le 3
pf_wait_queue_empty 10
is "... the sink got the first recipient's copy" "$(pf_sink_rcpts)" \
    "r1@example.org"

# --- list stream with refuse = drop: after a DISCARD at RCPT, Postfix
# asks no policy about the transaction's further recipients and drops
# their copies; so the drop waits for END-OF-MESSAGE, and the next
# recipient is asked (452 4.5.3) and sent in its own transaction.  One
# session: its first message shows the connection carries END-OF-MESSAGE.
pf_sink_clear
python3 - "$PF_PORT" >"$PD_T/drop.out" 2>&1 <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("drop.test")
for rcpts in (["ana@example.org"], ["dan@example.org", "cid@example.org"]):
    s.mail("digest@shop.example")
    for r in rcpts:
        print("RCPT", r, s.rcpt(r)[0])
    print("DATA", s.data(b"Subject: digest\r\n\r\nx\r\n")[0])
s.quit()
PY
is "drop, list stream: the dropped recipient 250, the next one 452" \
    "$(sed -n 's/^RCPT \([^ ]*\) \([0-9]*\)$/\1=\2/p' "$PD_T/drop.out" | tr '\n' ' ')" \
    "ana@example.org=250 dan@example.org=250 cid@example.org=452 "
ok "... Postfix discarded the message at END-OF-MESSAGE" pf_log_wait \
    'discard: END-OF-MESSAGE from .*<dan@example.org>: no opt-in'
# The drop is decided at RCPT, before Postfix has a queue id; the message
# it discards at END-OF-MESSAGE has one: the line waits for it, so that
# grepping that queue id finds optgate's decision beside Postfix's discard.
dq=$(sed -n 's/.*: \([0-9A-F]*\): discard: END-OF-MESSAGE from .*<dan@example.org>: no opt-in.*/\1/p' "$PF_LOG")
ok "... its decision logged with that message's queue id ($dq)" pd_log_wait \
    "^optgate-policyd\[[0-9]+\]: $dq: to=<dan@example.org>, from=<digest@shop.example>, .*stream=digest, action=discard, reason=no-consent\(digest\)"
is "... once" "$(pd_log_count 'to=<dan@example.org>, from=<digest@shop.example>')" 1
pf_wait_queue_empty 10
is "... the sink got the first message only (cid's copy was not lost)" \
    "$(pf_sink_rcpts | tr '\n' ' ')" "ana@example.org "

# --- a recipient passed here but refused by a later restriction ---
pf_sink_clear
out=$(pf_send offers@shop.example 'cid@example.org gil@example.org')
like "a later restriction refuses gil after policyd passed it" \
    "$(echo "$out" | grep 'RCPT <gil')" "RCPT <gil@example.org> 554 *"
pf_wait_queue_empty 10
is "... cid's copy was sent" "$(pf_sink_rcpts)" "cid@example.org"
ok "... policyd counted cid's send" sh -c \
    "for i in \$(seq 40); do '$BIN/optgate' -c '$PD_CONF' status cid@example.org --stream offers --json | grep -q '\"sends\":\[\"' && exit 0; sleep 0.05; done; exit 1"
like "... but not gil's: Postfix named the one recipient it accepted" \
    "$(og status gil@example.org --stream offers --json)" '*"sends":\[\]*'

# --- caps: exactly N per window, with a clock the test controls ---
pf_sink_clear
PF_SEND_ABORT=1 pf_send daily@shop.example dora@example.org >/dev/null
PF_SEND_ABORT=1 pf_send daily@shop.example dora@example.org >/dev/null
PF_SEND_ABORT=1 pf_send daily@shop.example dora@example.org >/dev/null
n=0
for i in 1 2 3; do
	pf_send daily@shop.example dora@example.org >"$PD_T/send$i" && n=$((n + 1))
done
is "caps 2/1d: exactly 2 of 3 messages accepted (3 aborted before counted nothing)" "$n" 2
like "the third is refused at RCPT naming the cap" "$(grep RCPT "$PD_T/send3")" \
    "RCPT <dora@example.org> 550 5.7.1 *frequency cap 2/1d for capped reached*"
pf_wait_queue_empty 10
is "the sink got 2 messages for dora" "$(pf_sink_rcpts | grep -c dora)" 2
pd_stop
PD_ENV="OPTGATE_NOW=$((T0 + 86400 + 60))"
pd_start
pf_send daily@shop.example dora@example.org >/dev/null
is "a day later the window has moved: accepted again" "$?" 0

# Four SMTP sessions at once to one recipient (four smtpd processes, each
# with its own policy connection), every RCPT before any DATA: a recipient
# passed but not yet accepted holds a send, so 2/1d lets exactly two in.
# parallel4 RCPT OUT: the RCPT and DATA replies of the four, in order.
parallel4() {
	python3 - "$PF_PORT" "$1" >"$2" 2>&1 <<'PY'
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
sessions = []
for i in range(4):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("parallel.test")
    s.mail("daily@shop.example")
    code, msg = s.rcpt(rcpt)
    print("RCPT", code, msg.decode())
    sessions.append((s, code))
for s, code in sessions:
    if code == 250:
        print("DATA", s.data(b"Subject: parallel\r\n\r\nhi\r\n")[0])
    s.quit()
PY
}
pf_sink_clear
parallel4 eve@example.org "$PD_T/par.out"
is "four sessions in parallel, cap 2/1d: two RCPTs pass, two are deferred" \
    "$(sed -n 's/^RCPT \([0-9]*\).*/\1/p' "$PD_T/par.out" | tr '\n' ' ')" \
    "250 250 450 450 "
like "... the deferral names the messages in flight" "$(grep -m1 'RCPT 450' "$PD_T/par.out")" \
    "RCPT 450 4.7.1 <eve@example.org>: *2 other messages to this recipient for capped not accepted yet would reach frequency cap 2/1d; try again later"
pf_wait_queue_empty 10
is "... the sink got exactly 2 messages for eve" "$(pf_sink_rcpts | grep -c eve)" 2

# --- opt-out enforced on the next message, no restart ---
pf_send offers@shop.example cid@example.org >/dev/null
is "cid receives offers" "$?" 0
og optout cid@example.org --stream offers >/dev/null
out=$(pf_send offers@shop.example cid@example.org)
like "after optgate optout: refused at RCPT on the next message" \
    "$(echo "$out" | grep RCPT)" "RCPT <cid@example.org> 550 5.7.1 *unsubscribed from offers*"

# --- kill -9 under load ---
pf_sink_clear
python3 - "$PF_PORT" 40 >"$PD_T/load.out" 2>&1 <<'EOF' &
import smtplib, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    rcpts = ["ana@example.org", "bob@example.org"]
    line = []
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.ehlo("load.test")
        s.mail("offers@shop.example")
        good = 0
        for r in rcpts:
            code, _ = s.rcpt(r)
            line.append("%s=%d" % (r.split("@")[0], code))
            good += code == 250
        if good:
            code, _ = s.data(b"Subject: load %d\r\n\r\nx\r\n" % i)
            line.append("data=%d" % code)
        s.quit()
    except Exception as e:
        line.append("error=%s" % e)
    print(" ".join(line), flush=True)
    time.sleep(0.05)
EOF
loadpid=$!
for i in $(seq 1 100); do
	[ "$(wc -l <"$PD_T/load.out")" -ge 8 ] && break
	sleep 0.1
done
pd_kill9
# Down until Postfix has tempfailed a recipient for it (a 4xx in the
# load's output), not for a guessed time: then started again.
for i in $(seq 1 200); do
	grep -q 'ana=4[0-9][0-9]' "$PD_T/load.out" && break
	sleep 0.1
done
grep -q 'ana=4[0-9][0-9]' "$PD_T/load.out" ||
    fail "Postfix tempfailed a recipient within 20 s of policyd's death"
pd_start
wait $loadpid
accepted=$(grep -c 'data=250' "$PD_T/load.out")
ok "while policyd was down Postfix tempfailed (4xx at RCPT)" \
    grep -q 'ana=4[0-9][0-9]' "$PD_T/load.out"
ok "after the restart mail flows again" \
    sh -c "tail -3 '$PD_T/load.out' | grep -q 'ana=250'"
ok "the unsubscribed recipient was never accepted" \
    sh -c "! grep -q 'bob=250' '$PD_T/load.out'"
pf_wait_queue_empty 20
is "every accepted message, and nothing else, reached the sink" \
    "$(pf_sink_count)" "$accepted"
is "no message to the unsubscribed recipient reached the sink" \
    "$(pf_sink_rcpts | grep -c bob)" 0

# --- a long DATA: smtpd keeps its policy connection through the session
# (its max_idle only runs between sessions), so the daemon must not
# close a connection whose transaction waits for END-OF-MESSAGE.  Both
# idle timeouts 2s here (equal, as conf/postfix-policyd-main.cf says).
pd_stop
sed -i 's/^listen = inet:127.0.0.1:10042$/&\nidle_timeout = 2s/' "$PD_CONF"
pd_start
pf_conf smtpd_policy_service_max_idle=2s
pf_reload
sleep 1
python3 - "$PF_PORT" >"$PD_T/slow.out" 2>&1 <<'PY'
import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("slow.test")
s.mail("offers@shop.example")
print("RCPT", s.rcpt("ana@example.org")[0])
time.sleep(4)  # a message taking longer than idle_timeout to arrive
t = time.time()
code = s.data(b"Subject: slow\r\n\r\nx\r\n")[0]
print("DATA %d %.1fs" % (code, time.time() - t))
s.quit()
PY
# (Closed, it cost a reconnect after smtpd_policy_service_retry_delay,
# 1s; with smtpd_policy_service_try_limit = 1, a 451 for the message.)
like "DATA after the idle timeout: accepted without a reconnect" \
    "$(cat "$PD_T/slow.out" | tr '\n' ' ')" "RCPT 250 DATA 250 0.*"

# --- conf/postfix-policyd-main.cf's per-service form, pasted: Postfix
# reads "default_action=451 4.3.5 ..." inside { } as three words, and
# every smtpd died at startup ("fatal: malformed option: missing '='
# after attribute name"): no mail at all.  Its default action must be
# the one a down service gives. ---
pd_stop
rule=$(sed -n '/^#   check_policy_service {/,/} *$/p' \
    "$TOP/conf/postfix-policyd-main.cf" | sed 's/^# *//' | tr '\n' ' ' |
    sed "s/127.0.0.1:10040/127.0.0.1:10042/")
like "the snippet has the per-service form" "$rule" "check_policy_service {*}*"
pf_conf "smtpd_recipient_restrictions=$rule, permit_mynetworks, reject" \
    "smtpd_end_of_data_restrictions=$rule"
pf_reload
for i in $(seq 1 20); do
	out=$(pf_send offers@shop.example ana@example.org 2>&1)
	# the old smtpd's global default action, until a new one answers
	# (a dead smtpd leaves the client waiting out its 30 s timeout)
	case "$out" in *"Policy service unavailable"*) ;; *) break ;; esac
	sleep 0.2
done
like "per-service form, policyd down: its default_action (451 4.3.5)" \
    "$(echo "$out" | grep 'RCPT <ana')" \
    "RCPT <ana@example.org> 451 4.3.5 *Consent service unavailable, try again later"
ok "... and smtpd did not die on it" sh -c "! grep -q 'fatal: malformed option' '$PF_LOG'"
pd_start
out=$(pf_send offers@shop.example 'ana@example.org bob@example.org')
like "per-service form, policyd up: refusal with the reason, the other delivered" \
    "$out" "*RCPT <ana@example.org> 250*RCPT <bob@example.org> 550 5.7.1 *unsubscribed from all streams*DATA 250*"

# --- spawn(8) mode ---
pd_stop
chown -R nobody "$PD_T/store"
pf_master "optgate-policy unix - n n - 0 spawn user=nobody argv=$BIN/optgate-policyd -s -c $PD_CONF"
pf_conf "smtpd_recipient_restrictions=check_policy_service unix:private/optgate-policy, permit_mynetworks, reject" \
    "smtpd_end_of_data_restrictions=check_policy_service unix:private/optgate-policy"
pf_reload
pf_log_wait 'reload' 5
out=$(pf_send offers@shop.example 'ana@example.org bob@example.org')
like "spawn(8): refusal with the reason at RCPT" \
    "$(echo "$out" | grep 'RCPT <bob')" "RCPT <bob@example.org> 550 5.7.1 *unsubscribed*"
like "spawn(8): the other recipient accepted" "$out" \
    "*RCPT <ana@example.org> 250*DATA 250*"
# One process per smtpd connection: the holds go through the store, so
# the four processes see each other's.
pf_sink_clear
parallel4 fay@example.org "$PD_T/par2.out"
is "spawn(8): four sessions in parallel, cap 2/1d: two pass, two are deferred" \
    "$(sed -n 's/^RCPT \([0-9]*\).*/\1/p' "$PD_T/par2.out" | tr '\n' ' ')" \
    "250 250 450 450 "
pf_wait_queue_empty 10
is "... the sink got exactly 2 messages for fay" "$(pf_sink_rcpts | grep -c fay)" 2
like "... then the cap itself, no hold left behind" \
    "$(pf_send daily@shop.example fay@example.org | grep 'RCPT <fay')" \
    "RCPT <fay@example.org> 550 5.7.1 *frequency cap 2/1d for capped reached*"
done_testing
