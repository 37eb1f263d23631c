#!/bin/sh
# optgate-milter in a real Postfix on loopback (tests/lib/postfix.sh), with
# smtp-sink as the internet: assertions on what arrived.  Covers RCPT-time
# refusals and 452 for envelope streams, header streams decided at end of
# message, 550 5.5.3, transactional delrcpt, non_smtpd_milters (sendmail
# command), VERP, tokens that decode to the recipient, a 10,000-character
# header, 100 concurrent sessions, kill -9 of the milter under load, the
# privilege drop and TCP_NODELAY.  Ports: Postfix 25200/25201, milter
# inet 10062.
. "$OPTGATE_TOP/tests/lib/tap.sh"
. "$TOP/tests/milter/common.sh"
. "$TOP/tests/lib/postfix.sh"

mg_init
# tests/lib/postfix.sh takes over the EXIT trap at pf_init: stop ours there.
pf_cleanup_add mg_cleanup
mg_wait_free 25200 25201 25202 10062 || exit 1
C=$MG_DIR/optgate.conf
mg_config "$C" "unix:$MG_DIR/milter.sock" "user = postfix"
# A header stream without unsubscribe links: several recipients each.
cat >>"$C" <<EOF
[stream bulk]
match = header:X-Optgate-Stream=bulk
class = marketing
consent = none
refuse = reject
EOF
mg_fill_store "$C"
"$BIN/optgate" -c "$C" optin qid@example.com --stream promo >/dev/null
# A record this optgate cannot read (a newer version byte, as a newer
# optgate would write it): deciding broken@ is a store error.
"$BIN/optgate" -c "$C" optin broken@example.com --stream bulk >/dev/null
k=$(printf 'Abroken@example.com' | od -An -tx1 | tr -d ' \n')
v=$(mdb_dump -s main "$MG_DIR/store/consent" | grep -A1 "^ $k\$" | tail -1)
{
	mdb_dump -s main "$MG_DIR/store/consent" | sed -n '1,/^HEADER=END/p'
	printf ' %s\n 7f%s\nDATA=END\n' "$k" "${v#' 01'}"
} >"$MG_DIR/broken.dump"
mdb_load -s main -f "$MG_DIR/broken.dump" "$MG_DIR/store/consent" 2>/dev/null
chown -R postfix "$MG_DIR/store" "$MG_DIR/keys"
# A second instance on TCP, for the TCP_NODELAY check at the end (started
# now so that both stop together at exit: libmilter takes 5 s to stop).
C2=$MG_DIR/tcp.conf
mg_config "$C2" "inet:10062@127.0.0.1" "user = postfix
[log]
verbose = 2"
mg_start "$C2" tcp || exit 1
mg_start "$C" || exit 1

pf_init 25200 25201 "smtpd_milters=unix:$MG_DIR/milter.sock" \
    "non_smtpd_milters=unix:$MG_DIR/milter.sock" \
    milter_default_action=tempfail milter_protocol=6 || exit 1
# A second smtpd whose milter is the TCP instance.
pf_master "127.0.0.1:25202 inet n - n - - smtpd
  -o smtpd_milters=inet:127.0.0.1:10062"
# An smtpd on a UNIX-domain socket (\$queue_directory/public/usmtp).
pf_master "usmtp unix n - n - - smtpd"
pf_start 25200 25201 || exit 1

uid=$(awk '/^Uid:/ {print $2}' "/proc/$(mg_pid)/status")
is "privileges dropped to [milter] user" "$uid" "$(id -u postfix)"

msg() { # FILE RCPT STREAM [EXTRA HEADER LINE]
	{
		printf 'From: News <news@example.com>\r\nTo: <%s>\r\n' "$2"
		printf 'Subject: November\r\nMessage-ID: <%s.%s@example.com>\r\n' \
		    "$3" "$$"
		[ -n "$3" ] && printf 'X-Optgate-Stream: %s\r\n' "$3"
		[ -n "${4:-}" ] && printf '%s\r\n' "$4"
		printf '\r\nHello.\r\n'
	} >"$1"
}
tokdec() {
	"$TOP/$BUILD/test/milter/mg-tokdecode" "$MG_DIR/keys" "$1" 2>&1
}
# Everything Postfix accepted was delivered (or bounced, the bounce
# delivered): the sink holds all it will get.  smtp-sink closes a dump
# file before its 250, and Postfix removes a message once it has the 250.
delivered() {
	pf_wait_queue_empty 20 ||
	    fail "Postfix delivered everything within 20 s ($(pf_queue_count) left)"
}
sink_msg_for() { # the dump file that went to RCPT
	for f in $(pf_sink_files); do
		grep -q "^X-Rcpt-Args: <$1>" "$f" && { echo "$f"; return; }
	done
}

# A list stream's second recipient: refused anyway -> the refusal and
# its reason now; one that would pass -> 452 4.5.3 (a new transaction).
out=$(mg_smtp 25200 'MAIL FROM:<promo@example.com>' 'RCPT TO:<ok@example.com>' \
    'RCPT TO:<out@example.com>' 'RCPT TO:<ok2@example.com>')
like "RCPT: a list stream's second recipient refused anyway hears why, not 452" \
    "$out" "*RCPT TO:<out@example.com> -> 550 5.7.1 <out@example.com>: unsub*"
like "RCPT: ... one that would pass gets 452 4.5.3" "$out" \
    "*RCPT TO:<ok2@example.com> -> 452 4.5.3 *"
ok "the 452 is logged as a decision" mg_log_wait \
    'to=<ok2@example.com>.*action=defer, reason=one-recipient-per-transaction(promo)'

# An SMTP session over Postfix's UNIX-domain smtpd: Postfix says port 0,
# as for sendmail(1) mail, but it is SMTP, decided at RCPT (and with
# policyd = yes, decided and counted by optgate-policyd, not twice).
out=$(python3 - "$PF_QUEUE/public/usmtp" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rb")
def reply():
    while True:
        r = f.readline().decode("utf-8", "replace").rstrip()
        if r[3:4] != "-":
            return r
reply()
for c in ("EHLO client.optgate.test", "MAIL FROM:<promo@example.com>",
          "RCPT TO:<out@example.com>", "RCPT TO:<ok@example.com>",
          "RCPT TO:<ok2@example.com>", "QUIT"):
    s.sendall(c.encode() + b"\r\n")
    print(c, "->", reply())
PY
)
like "UNIX-domain smtpd: unsubscribed recipient refused at RCPT" "$out" \
    "*RCPT TO:<out@example.com> -> 550 5.7.1 <out@example.com>: unsub*"
like "UNIX-domain smtpd: a list stream's second recipient gets 452 4.5.3" \
    "$out" "*RCPT TO:<ok2@example.com> -> 452 4.5.3 *"

# --- envelope stream: decided at RCPT --------------------------------
out=$(pf_send promo@example.com "out@example.com ok@example.com ok2@example.com")
like "RCPT: unsubscribed recipient refused with the reason" "$out" \
    "*RCPT <out@example.com> 550 5.7.1*"
like "RCPT: first good recipient accepted" "$out" "*RCPT <ok@example.com> 250*"
like "RCPT: second recipient of a list stream gets 452 4.5.3" "$out" \
    "*RCPT <ok2@example.com> 452 4.5.3*"
like "message accepted" "$out" "*DATA 250*"
pf_sink_wait 1 20
delivered
is "sink: only the accepted recipient arrived" "$(pf_sink_rcpts)" \
    "ok@example.com"
f=$(sink_msg_for ok@example.com)
tok=$(sed -n 's/^X-Optgate-Token: *//p' "$f" | tr -d '\r')
like "token decodes to the recipient" "$(tokdec "$tok")" "ok@example.com *"
like "List-Unsubscribe carries the token" \
    "$(grep -A1 '^List-Unsubscribe:' "$f" | tr -d '\r')" \
    "*<https://unsub.example.com/u/$tok>*"
ok "List-Unsubscribe-Post present" \
    grep -q '^List-Unsubscribe-Post: List-Unsubscribe=One-Click' "$f"
like "VERP: envelope sender carries the token" \
    "$(grep '^X-Mail-Args:' "$f" | tr -d '\r')" \
    "*bounce+$tok@bounces.example.com*"
pf_sink_clear

# Postfix opens the queue file after the first accepted RCPT, so the
# milter sees no {i} there: the accept is logged once the id is known.
out=$(pf_send promo@example.com qid@example.com)
qid=$(echo "$out" | sed -n 's/^DATA 250 .*queued as \([0-9A-F]*\).*/\1/p')
like "one-recipient list message accepted" "$out" "*DATA 250*"
ok "... its RCPT accept logged with its queue id ($qid)" mg_log_wait \
    "^optgate-milter.*: $qid: to=<qid@example.com>, from=<promo@example.com>.*, stream=promo, action=accept"
is "... once" "$(grep -c 'to=<qid@example.com>' "$MG_DIR/milter.log")" 1
pf_wait_queue_empty 20
pf_sink_clear

# --- envelope sender as the client wrote it ------------------------
# Postfix passes MAIL FROM as given; it sends the mail from the mailbox
# named (a trailing dot, a source route or quotes around a plain local
# part are no part of it), so the sender: line must find the stream.
for from in '<promo@example.com.>' '<"promo"@example.com>' \
    '<@relay.example:promo@example.com>' '< promo@example.com >'; do
	like "MAIL FROM:$from finds the stream of promo@example.com" \
	    "$(mg_smtp 25200 "MAIL FROM:$from" 'RCPT TO:<out@example.com>')" \
	    "*RCPT TO:<out@example.com> -> 550 5.7.1 <out@example.com>: unsub*"
done

# --- envelope recipient as the client wrote it ---------------------
# Postfix delivers <ok@example.com.> and <@relay.example:ok@example.com>
# to ok@example.com: decided as that address, not refused as invalid
# (nor silently dropped from transactional mail), and a suppressed one
# written with a route is removed.
like "RCPT TO:<out@example.com.>: refused as the unsubscribed address" \
    "$(mg_smtp 25200 'MAIL FROM:<promo@example.com>' \
    'RCPT TO:<out@example.com.>')" \
    "*-> 550 5.7.1 <out@example.com>: unsubscribed*"
like "RCPT TO:<@relay.example:ok2@example.com>: accepted, it has consent" \
    "$(mg_smtp 25200 'MAIL FROM:<promo@example.com>' \
    'RCPT TO:<@relay.example:ok2@example.com>')" \
    "*RCPT TO:<@relay.example:ok2@example.com> -> 250 *"
msg "$MG_DIR/ma" ok@example.com alerts
out=$(MG_SMTP_MSG=$MG_DIR/ma mg_smtp 25200 'MAIL FROM:<alerts@example.com>' \
    'RCPT TO:<ok@example.com>' 'RCPT TO:<none@example.com.>' \
    'RCPT TO:<@relay.example:none2@example.com>' \
    'RCPT TO:<@relay.example:bounced@example.com>' DATA)
like "transactional, trailing dot and source route: accepted" "$out" \
    "*DATA -> 250 *"
pf_sink_wait 1 20
delivered
is "transactional: trailing dot and source route recipients delivered" \
    "$(pf_sink_rcpts | sort | tr '\n' ' ')" \
    "none2@example.com none@example.com ok@example.com "
pf_sink_clear

# --- header stream: decided at end of message ------------------------
msg "$MG_DIR/m1" out@example.com newsletter
out=$(pf_send news@example.com out@example.com "$MG_DIR/m1")
like "header stream, unsubscribed: message rejected with the reason" \
    "$out" "*DATA 550 5.7.1*"
msg "$MG_DIR/m2" ok@example.com newsletter
out=$(pf_send news@example.com "ok@example.com ok2@example.com" "$MG_DIR/m2")
like "header list stream, 2 recipients: 550 5.5.3 saying why" "$out" \
    "*DATA 550 5.5.3*one recipient per*"
long=$(head -c 10000 /dev/zero | tr '\0' 'x')
msg "$MG_DIR/m3" ok@example.com newsletter "X-Long: $long"
out=$(pf_send news@example.com ok@example.com "$MG_DIR/m3")
like "10,000-character header: accepted" "$out" "*DATA 250*"
pf_sink_wait 1 20
delivered
f=$(sink_msg_for ok@example.com)
ok "internal stream header removed before delivery" \
    sh -c "! grep -qi '^X-Optgate-Stream' '$f'"
is "10,000-character header delivered intact" \
    "$(sed -n '/^X-Long:/,/^[^ \t]/p' "$f" | sed '$d' | tr -d '\r\n\t ')" \
    "X-Long:$long"
tok=$(sed -n 's/^X-Optgate-Token: *//p' "$f" | tr -d '\r')
lu=$(sed -n '/^List-Unsubscribe:/,/^[^ \t]/p' "$f" | sed '$d' | tr -d '\r')
is "List-Unsubscribe folded: https first, mailto on its continuation line" \
    "$lu" "List-Unsubscribe: <https://unsub.example.com/u/$tok>,
	<mailto:unsub+$tok@example.com>"
ok "Feedback-ID added" grep -q '^Feedback-ID: newsletter:nov:example' "$f"
pf_sink_clear

# --- SMTPUTF8: a UTF-8 local part and an IDN domain ------------------
out=$(python3 - <<'PY' 2>&1
import smtplib
msg = ("From: <news@example.com>\r\nTo: <jos\u00e9@example.com>\r\n"
       "Subject: utf8\r\nX-Optgate-Stream: newsletter\r\n\r\nhi\r\n")
s = smtplib.SMTP("127.0.0.1", 25200, timeout=30)
s.ehlo("client.optgate.test")
for rcpt in ("jos\u00e9@example.com", "kunde@b\u00fccher.example"):
    try:
        s.sendmail("news@example.com", [rcpt], msg.encode("utf-8"),
                   mail_options=["SMTPUTF8"])
        print("accepted", rcpt)
    except smtplib.SMTPException as e:
        print("refused", rcpt, e)
s.quit()
PY
)
eacute=$(printf '\303\251')
uuml=$(printf '\303\274')
like "SMTPUTF8: UTF-8 local part with consent accepted" "$out" \
    "*accepted jos$eacute@example.com*"
like "SMTPUTF8: IDN domain (U-labels) matches its A-label record" "$out" \
    "*accepted kunde@b${uuml}cher.example*"
# (the log escapes non-ASCII bytes as \xHH)
like "SMTPUTF8: the milter decided the UTF-8 recipient by its record" \
    "$(mg_log)" "*to=<jos?xc3?xa9@example.com>*stream=newsletter, action=accept*"
# (smtp-sink offers no SMTPUTF8, so Postfix bounces these on delivery.)
pf_wait_queue_empty 20
pf_sink_clear

# --- transactional: refused recipient removed, others delivered -----
msg "$MG_DIR/m4" ok@example.com alerts
out=$(pf_send alerts@example.com \
    "ok@example.com bounced@example.com none@example.com" "$MG_DIR/m4")
like "transactional: accepted" "$out" "*DATA 250*"
# Postfix delivers both in one transaction: one file, two X-Rcpt-Args.
pf_sink_wait 1 20
delivered
is "transactional: hard-bounced recipient absent, others delivered" \
    "$(pf_sink_rcpts | sort | tr '\n' ' ')" "none@example.com ok@example.com "
pf_sink_clear

# --- a refused recipient and a store error in one message -----------
msg "$MG_DIR/m9" out@example.com bulk
out=$(pf_send news@example.com "out@example.com broken@example.com" \
    "$MG_DIR/m9")
like "refused + unreadable recipient: 451 4.3.0 for the store error" \
    "$out" "*DATA 451 4.3.0 consent store unavailable*"
ok "refused + unreadable recipient: no malformed milter reply" \
    sh -c "! grep -q 'malformed reply' '$PF_LOG'"
# Postfix has no name for 127.0.0.1 here: unknown[127.0.0.1], as it logs.
like "a client without a name is logged unknown[addr]" \
    "$(grep 'to=<broken@example.com>' "$MG_DIR/milter.log")" \
    "*, client=unknown?127.0.0.1?, stream=bulk*"

# --- what the log says of each recipient and of the message ----------
# Grepping a queue id must tell what became of every recipient and of
# the message: no "accept" for a recipient whose message went nowhere,
# and a line of its own for a message refused or tempfailed as a whole.
qlines() { # QID: the milter's lines of that queue id, past "QID: "
	sed -n "s/^optgate-milter[^ ]* $1: //p" "$MG_DIR/milter.log"
}
qid_of() { # RCPT: the queue id of the last line about that recipient
	sed -n "s/^optgate-milter[^ ]* \([0-9A-F]*\): to=<$1>.*/\1/p" \
	    "$MG_DIR/milter.log" | tail -1
}
C_=", client=unknown[127.0.0.1], stream=bulk"
# A passing recipient beside one whose record cannot be read: 451 for both.
msg "$MG_DIR/md1" ok@example.com bulk
out=$(pf_send news@example.com "ok@example.com broken@example.com" \
    "$MG_DIR/md1")
like "passing + unreadable recipient: 451 4.3.0" "$out" "*DATA 451 4.3.0*"
mg_log_wait 'nrcpt=2, .*action=tempfail'
q=$(qid_of broken@example.com)
is "tempfailed message ($q): a line per recipient and one for the message" \
    "$(qlines "$q" | sed 's/, reason=.*//')" \
    "to=<ok@example.com>, from=<news@example.com>$C_, action=tempfail
to=<broken@example.com>, from=<news@example.com>$C_, action=tempfail
from=<news@example.com>, nrcpt=2$C_, action=tempfail"
like "... the message's reason names the recipient and the store error" \
    "$(qlines "$q" | tail -1)" \
    "*action=tempfail, reason=<broken@example.com>: store-error: *"
like "... the passing recipient's says why it was not accepted" \
    "$(qlines "$q" | head -1)" "*reason=* (passed; whole message refused)"
# A refused recipient removed, the other delivered: the removed one was
# never refused to the sender (250 for the message).
msg "$MG_DIR/md2" ok@example.com bulk
out=$(pf_send news@example.com "ok@example.com out@example.com" "$MG_DIR/md2")
q=$(echo "$out" | sed -n 's/^DATA 250 .*queued as \([0-9A-F]*\).*/\1/p')
like "refused + passing recipient: accepted ($q)" "$out" "*DATA 250*"
pf_sink_wait 1 20
delivered
is "... only the passing recipient delivered" "$(pf_sink_rcpts)" \
    "ok@example.com"
mg_log_wait "$q: to=<out@"
is "... a line each: accept, and discard (removed) for the refused one" \
    "$(qlines "$q")" \
    "to=<ok@example.com>, from=<news@example.com>$C_, action=accept, reason=ok
to=<out@example.com>, from=<news@example.com>$C_, action=discard, reason=unsubscribed(all) $(date -u +%F) admin (removed from the message)"
pf_sink_clear
# Every recipient refused: the message is rejected, and says so.
msg "$MG_DIR/md3" out@example.com bulk
out=$(pf_send news@example.com "out@example.com bounced@example.com" \
    "$MG_DIR/md3")
like "every recipient refused: 550" "$out" "*DATA 550 5.7.1*"
mg_log_wait 'nrcpt=2, .*stream=bulk, action=reject'
q=$(qid_of bounced@example.com)
is "rejected message ($q): a line per recipient and one for the message" \
    "$(qlines "$q" | sed 's/, reason=.*//')" \
    "to=<out@example.com>, from=<news@example.com>$C_, action=reject
to=<bounced@example.com>, from=<news@example.com>$C_, action=reject
from=<news@example.com>, nrcpt=2$C_, action=reject"
like "... the message's reason" "$(qlines "$q" | tail -1)" \
    "*action=reject, reason=every recipient refused"
# A transactional stream (refuse = drop), every recipient refused:
# discarded, and said so.
msg "$MG_DIR/md4" bounced@example.com alerts
out=$(pf_send alerts@example.com bounced@example.com "$MG_DIR/md4")
like "transactional, every recipient refused: 250 (discarded)" "$out" \
    "*DATA 250*"
q=$(echo "$out" | sed -n 's/^DATA 250 .*queued as \([0-9A-F]*\).*/\1/p')
mg_log_wait "$q: from=<alerts@example.com>, nrcpt=1"
is "discarded message ($q): the recipient's line and the message's" \
    "$(qlines "$q" | sed 's/, reason=\([^ ]*\).*/, reason=\1/')" \
    "to=<bounced@example.com>, from=<alerts@example.com>, client=unknown[127.0.0.1], stream=alerts, action=discard, reason=hard-bounce(all)
from=<alerts@example.com>, nrcpt=1, client=unknown[127.0.0.1], stream=alerts, action=discard, reason=every"
# A list stream found by header with 2 recipients: rejected whole.
msg "$MG_DIR/md5" ok@example.com newsletter
out=$(pf_send news@example.com "ok@example.com ok2@example.com" "$MG_DIR/md5")
like "header list stream, 2 recipients: 550 5.5.3" "$out" "*DATA 550 5.5.3*"
q=$(sed -n 's/.* \([0-9A-F]*\): milter-reject: END-OF-MESSAGE .*5\.5\.3.*/\1/p' \
    "$PF_LOG" | tail -1)
mg_log_wait "$q: from=<news@example.com>"
is "... its queue id ($q) has the message's line with the reason" \
    "$(qlines "$q")" \
    "from=<news@example.com>, nrcpt=2, client=unknown[127.0.0.1], stream=newsletter, action=reject, reason=list stream with 2 recipients"
# A transaction ended after RCPT: the accept says nothing was sent.
out=$(mg_smtp 25200 'MAIL FROM:<promo@example.com>' \
    'RCPT TO:<capped2@example.com>' 'RCPT TO:<out@example.com>' RSET)
like "aborted after RCPT: the second recipient refused" "$out" \
    "*RCPT TO:<out@example.com> -> 550 5.7.1*"
mg_log_wait 'to=<capped2@example.com>, from=<promo@example.com>'
q=$(qid_of capped2@example.com)
is "aborted transaction ($q): the accept says nothing was sent" \
    "$(qlines "$q" | sed 's/, from=.*, action=/ action=/')" \
    "to=<out@example.com> action=reject, reason=unsubscribed(all) $(date -u +%F) admin
to=<capped2@example.com> action=accept, reason=ok (transaction aborted before end of message: nothing sent)"

# --- sendmail(1) / pickup: never a RCPT reject -----------------------
msg "$MG_DIR/m5" ok@example.com alerts
nlog=$(wc -l <"$PF_LOG")
sendmail -C "$PF_CONF" -f alerts@example.com bounced@example.com \
    ok@example.com <"$MG_DIR/m5"
pf_sink_wait 1 20
delivered
is "sendmail(1): refused recipient removed at end of message" \
    "$(pf_sink_rcpts)" "ok@example.com"
ok "sendmail(1): no RCPT-stage milter reject (no config error)" \
    sh -c "! tail -n +$((nlog + 1)) '$PF_LOG' |
    grep -E 'milter-reject: RCPT|configuration error'"
pf_sink_clear
msg "$MG_DIR/m7" out@example.com ""
sendmail -C "$PF_CONF" -f promo@example.com out@example.com <"$MG_DIR/m7"
pf_sink_wait 1 20
delivered
is "sendmail(1), every recipient refused: the sender gets a bounce" \
    "$(pf_sink_rcpts)" "promo@example.com"
ok "sendmail(1): the bounce gives the reason" \
    pf_sink_grep 'unsubscribed'
pf_sink_clear

# --- SMTP clients that disconnect at every stage -------------------
for stage in connect mail rcpt data headers; do
	python3 - "$stage" <<'PY' 2>/dev/null
import socket, sys
stage = sys.argv[1]
s = socket.create_connection(("127.0.0.1", 25200), timeout=10)
f = s.makefile("rb")
def cmd(line):
    s.sendall(line.encode() + b"\r\n")
    while True:
        r = f.readline()
        if r[3:4] != b"-":
            return r
f.readline()
if stage != "connect":
    cmd("EHLO client.optgate.test")
    cmd("MAIL FROM:<news@example.com>")
if stage in ("rcpt", "data", "headers"):
    cmd("RCPT TO:<ok@example.com>")
if stage in ("data", "headers"):
    cmd("DATA")
if stage == "headers":
    s.sendall(b"From: <news@example.com>\r\nX-Optgate-Stream: newsletter\r\n")
s.close()
PY
done
msg "$MG_DIR/m8" ok@example.com newsletter
out=$(pf_send news@example.com ok@example.com "$MG_DIR/m8")
like "clients that vanished at each stage: the next message passes" "$out" \
    "*DATA 250*"
pf_sink_wait 1 20
delivered
is "clients that vanished: nothing of theirs was delivered" \
    "$(pf_sink_count)" 1
ok "clients that vanished: milter still running" kill -0 "$(mg_pid)"
pf_sink_clear

# --- 100 concurrent sessions ----------------------------------------
msg "$MG_DIR/m6" ok@example.com newsletter
smtp-source -s 100 -m 200 -c -F "$MG_DIR/m6" -f news@example.com \
    -t ok@example.com 127.0.0.1:25200 >/dev/null 2>&1
pf_sink_wait 200 60
delivered
is "100 concurrent sessions: 200 messages delivered" "$(pf_sink_count)" 200
n=$(pf_sink_grep '^List-Unsubscribe-Post:' | wc -l)
is "100 concurrent sessions: each has its unsubscribe headers" "$n" 200
pf_sink_clear

# --- kill -9 under load: tempfail, nothing lost, nothing wrong sent ---
msg "$MG_DIR/mok" ok@example.com newsletter
msg "$MG_DIR/mout" out@example.com newsletter
: >"$MG_DIR/sent"
i=0
while [ $i -lt 14 ]; do
	if [ $i -eq 6 ]; then
		p=$(mg_pid)
		kill -9 "$p"
		wait "$p" 2>/dev/null
		MG_PIDS=$(echo "$MG_PIDS" | tr ' ' '\n' | grep -vx "$p" | tr '\n' ' ')
	fi
	if [ $((i % 2)) -eq 0 ]; then r=ok; else r=out; fi
	pf_send news@example.com "$r@example.com" "$MG_DIR/m$r" |
	    sed -n "s/^DATA \([0-9]*\).*/$r \1/p; s/^MAIL \(4[0-9]*\).*/$r \1/p" \
	    >>"$MG_DIR/sent"
	i=$((i + 1))
done
ok "after kill -9 Postfix tempfails (milter_default_action)" \
    grep -q ' 4[0-9][0-9]$' "$MG_DIR/sent"
ok "nothing to the unsubscribed recipient was accepted" \
    sh -c "! grep -q '^out 250' '$MG_DIR/sent'"
n250=$(grep -c '^ok 250' "$MG_DIR/sent")
pf_sink_wait "$n250" 20
delivered
is "every accepted message arrived, none to the unsubscribed" \
    "$(pf_sink_rcpts | sort | uniq -c | tr -s ' ')" " $n250 ok@example.com"

# --- TCP: TCP_NODELAY on accepted connections ------------------------
pf_sink_clear
out=$(PF_PORT=25202 pf_send promo@example.com ok2@example.com)
like "TCP milter: message accepted" "$out" "*DATA 250*"
like "TCP_NODELAY set on the accepted connection" "$(mg_log tcp)" \
    "*TCP_NODELAY on*"
mg_stop_all_check

done_testing
