#!/bin/sh
# An unsubscribe mail is judged as of when it reached our Postfix, not
# when optgate unsub-mail finally got it (real Postfix on loopback, ports
# 25320-25321; [unsubd] token_max_age = 1d; the pipe's clock is set with
# OPTGATE_NOW from $T/now, through a wrapper in the pipe's argv):
#  1. the store unwritable: Postfix defers the mail (exit 75) until the
#     store is back:
#     - ann's, three days later: her token, fresh when she wrote, is
#       honoured (not "expired"), her opt-out dated when her mail came;
#     - bob's, two hours later: he opted in an hour after his mail came,
#       and the opt-out does not undo that newer opt-in;
#  2. the keys file missing: carol's mail is quarantined; retried three
#     days later, it is honoured as of its arrival;
#  3. a Received the sender wrote (an old date, when his token was
#     fresh) moves nothing through Postfix (ours is on top), and in a
#     file (no Received of ours) at most 5 days.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"
if [ "$(id -u)" != 0 ] || ! command -v smtp-sink >/dev/null 2>&1; then
	echo "ok 1 - # SKIP needs root and Postfix"
	echo "1..1"
	exit 0
fi
T=$(mktemp -d /tmp/optgate-fbarr.XXXXXX)
chmod 755 "$T"
pf_cleanup_add "rm -rf '$T'"
O="$BIN/optgate"
cat >"$T/optgate.conf" <<CONF
[store]
path = $T/store
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
[unsubd]
token_max_age = 1d
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
sender = example.com
unsubscribe = mailto:unsub+%t@unsub.optgate.test
CONF
og() { "$O" -c "$T/optgate.conf" "$@"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
mkdir -p "$T/quarantine"
# The pipe's clock: OPTGATE_NOW from $T/now once the test writes it.  Its
# log lines are kept whole in $T/pipe/log (Postfix's status= cuts them).
mkdir -p "$T/pipe"
cat >"$T/clock" <<SH
#!/bin/sh
[ -s "$T/now" ] && OPTGATE_NOW=\$(cat "$T/now") && export OPTGATE_NOW
"$O" "\$@" 2>"$T/pipe/err.\$\$"
rc=\$?
cat "$T/pipe/err.\$\$" >>"$T/pipe/log"
cat "$T/pipe/err.\$\$" >&2
rm -f "$T/pipe/err.\$\$"
exit \$rc
SH
chmod 755 "$T/clock"
give() { chown -R nobody "$T/store" "$T/quarantine" "$T/keys" "$T/pipe"; }
give

pf_init 25320 25321
pf_master "fb-unsub unix - n n - - pipe flags=R user=nobody argv=$T/clock -c $T/optgate.conf unsub-mail --rcpt \${original_recipient} --queue-id \${queue_id}"
pf_conf "transport_maps=inline:{unsub.optgate.test=fb-unsub:}" \
    "relay_domains=unsub.optgate.test" fb-unsub_destination_recipient_limit=1
if ! pf_start 25320 25321; then
	echo "not ok 1 - postfix started"
	exit 1
fi

now=$(date +%s)
later=$((now + 3 * 86400))
day() { date -u -d "@$1" +%Y-%m-%d; }
tok_of() { og token "$1" --stream news | sed -n 's/^token: //p'; }
# unsub_mail FROM TOKEN [EXTRA-HEADER]: the mail, as a person's client writes it
unsub_mail() {
	printf '%sFrom: <%s>\nTo: unsub+%s@unsub.optgate.test\nSubject: unsubscribe\nMessage-Id: <%s@example.org>\n\nplease\n' \
	    "${3:+$3
}" "$1" "$2" "${1%@*}-$$"
}
# sent TO: the pipe's status lines for mail to TO so far
sent() { grep -c "to=<unsub+$1@.*relay=fb-unsub.*status=sent" "$PF_LOG"; }

# deferred TOKEN FILE FROM: the store unwritable, the mail sent and
# deferred by Postfix (exit 75)
deferred() {
	chown -R root "$T/store"
	chmod -R go-w "$T/store"
	pf_send "$3" "unsub+$1@unsub.optgate.test" "$2" >/dev/null 2>&1
	is "$3: the unsubscribe mail accepted by Postfix" "$?" 0
	pf_log_wait "to=<unsub[+]$1@.*status=deferred" 10
	like "$3: store unwritable, Postfix deferred it (exit 75)" "$(pf_log)" \
	    "*to=<unsub+$1@*relay=fb-unsub*status=deferred*"
}
# delivered TOKEN CLOCK: the store back, the pipe's clock at CLOCK, the
# deferred mail delivered
delivered() {
	echo "$2" >"$T/now"
	chmod 644 "$T/now"
	give
	pf_flush
	pf_log_wait "to=<unsub[+]$1@.*status=sent" 20
	is "store back: delivered to the pipe" "$(sent "$1")" 1
}

# 1a. ann's mail waits three days, past her token's lifetime
toka=$(tok_of ann@example.org)
unsub_mail ann@example.org "$toka" >"$T/a.eml"
deferred "$toka" "$T/a.eml" ann@example.org
delivered "$toka" "$later"
OPTGATE_NOW=$later og status ann@example.org --stream news >"$T/st" 2>&1
is "ann: her token was fresh when she wrote: unsubscribed" "$?" 1
like "ann: the opt-out is dated the day her mail came" "$(cat "$T/st")" \
    "*optout*$(day "$now")T*via mail*"
like "ann: the decision says when it arrived" "$(cat "$T/pipe/log")" \
    "*unsub-mail: to=<ann@example.org> class=unsubscribe action=unsubscribed scope=stream:news arrived=$(day "$now")T*"
og quarantine list >"$T/ql" 2>&1
like "ann: nothing quarantined as expired" "$(cat "$T/ql")" "0 quarantined*"

# 1b. bob's mail waits two hours; he subscribes an hour after it came
tokb=$(tok_of bob@example.org)
unsub_mail bob@example.org "$tokb" >"$T/b.eml"
came=$(date +%s)
deferred "$tokb" "$T/b.eml" bob@example.org
OPTGATE_NOW=$((came + 3600)) og optin bob@example.org --stream news >/dev/null 2>&1
is "bob opts in an hour later" "$?" 0
delivered "$tokb" $((came + 7200))
OPTGATE_NOW=$((came + 7200)) og status bob@example.org --stream news >"$T/st" 2>&1
is "bob: his newer opt-in stands: accepted" "$?" 0
like "bob: the decision says why nothing changed" "$(cat "$T/pipe/log")" \
    "*unsub-mail: to=<bob@example.org> class=unsubscribe action=unchanged scope=stream:news arrived=$(day "$came")T* detail=newer-optin*"
pf_wait_queue_empty 10
is "queue empty" "$(pf_queue_count)" 0

# 2. no keys file: quarantined; retried three days later
rm -f "$T/now"
tokc=$(tok_of carol@example.org)
mv "$T/keys" "$T/keys.away"
unsub_mail carol@example.org "$tokc" >"$T/c.eml"
pf_send carol@example.org "unsub+$tokc@unsub.optgate.test" "$T/c.eml" >/dev/null 2>&1
is "carol's unsubscribe mail accepted by Postfix" "$?" 0
pf_log_wait "to=<unsub[+]$tokc@.*status=sent" 20
like "no keys file: quarantined" "$(og quarantine list 2>&1)" "*unsub-mail*no keys file*"
mv "$T/keys.away" "$T/keys"
give
OPTGATE_NOW=$later og quarantine retry >"$T/out" 2>&1
like "retried three days later: processed" "$(cat "$T/out")" "*1 retried, 1 processed, 0 still quarantined*"
like "retried: unsubscribed as of its arrival" "$(cat "$T/out")" \
    "*unsub-mail: to=<carol@example.org> class=unsubscribe action=unsubscribed scope=stream:news arrived=$(day "$now")T*"
OPTGATE_NOW=$later og status carol@example.org --stream news >/dev/null 2>&1
is "carol: unsubscribed" "$?" 1
give

# 3. dan's token was made 10 days ago; his mail says it came then
old=$((now - 10 * 86400))
tokd=$(OPTGATE_NOW=$old tok_of dan@example.org)
forged="Received: by mx.unsub.optgate.test (Postfix) with ESMTP id 4ABC0DE1F; $(date -u -R -d "@$old")"
unsub_mail dan@example.org "$tokd" "$forged" >"$T/d.eml"
pf_send dan@example.org "unsub+$tokd@unsub.optgate.test" "$T/d.eml" >/dev/null 2>&1
is "dan's mail accepted by Postfix" "$?" 0
pf_log_wait "to=<unsub[+]$tokd@.*status=sent" 20
like "dan, through Postfix: our Received counts, his token expired" \
    "$(og quarantine list 2>&1)" "*unsub-mail*expired token*"
og unsub-mail --rcpt "unsub+$tokd@unsub.optgate.test" "$T/d.eml" >"$T/out" 2>&1
like "dan, a file with his Received on top: moved 5 days at most, still expired" \
    "$(cat "$T/out")" "*quarantined*expired token*"
og status dan@example.org --stream news >/dev/null 2>&1
is "dan: not unsubscribed" "$?" 0
done_testing
