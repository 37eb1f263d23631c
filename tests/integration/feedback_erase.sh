#!/bin/sh
# optgate erase and the feedback quarantine: the reports kept for a human
# that name the person (her unsubscribe mail with a bad token, a bounce
# or complaint about her, found by the reason file, the recipients and
# tokens the processors read, and the decoded text) go with her record;
# one that names other people too is kept until the admin says; a retry
# of what is left does not bring her back; the log never names her.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
T=$(mktemp -d /tmp/optgate-fe.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
O="$BIN/optgate"
cat >"$T/optgate.conf" <<CONF
[store]
path = $T/store
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
trusted_reporters = fbl.example.net
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
sender = example.com
unsubscribe = https://unsub.example.com/u/%t, mailto:unsub+%t@example.com
verp = bounce+%t@bounces.example.com
CONF
og() { "$O" -c "$T/optgate.conf" "$@"; }
# qname: the quarantine name in a processor's log line
qname() { sed -n 's/.*quarantined as \([^:]*\):.*/\1/p' "$1"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
for a in ana@example.org bob@example.org; do
	og optin "$a" --stream news >/dev/null 2>&1
done
tok=$(og token ana@example.org --stream news | sed -n 's/^token: //p')
[ -n "$tok" ] || { echo "not ok 1 - a token for ana"; exit 1; }

# A DSN without our token (bounce_token = auto with verp: quarantined as
# forged); $@ the recipients.
dsn() {
	printf 'Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\nTo: news@example.com\nSubject: Undelivered Mail Returned to Sender\nMessage-Id: <dsn-%s@mx.example.net>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n\tboundary="B1"\n\n--B1\nContent-Type: text/plain\n\nThe mail system\n\n--B1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n' "$(date +%s%N)"
	for r in "$@"; do
		printf '\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n' "$r"
	done
	printf '\n--B1\nContent-Type: text/rfc822-headers\n\nFrom: news@example.com\nSubject: News\nMessage-Id: <orig-1@example.com>\n\n--B1--\n'
}
# An ARF report from an untrusted reporter; $1 Original-Rcpt-To (may be
# empty), $2 List-Unsubscribe of the original.
arf() {
	printf 'From: abuse@evil.example\nTo: fbl@example.com\nSubject: complaint\nMessage-Id: <arf-%s@evil.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report;\n\tboundary="A1"\n\n--A1\nContent-Type: text/plain\n\nabuse report\n\n--A1\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n%s\n--A1\nContent-Type: message/rfc822\n\nFrom: news@example.com\nTo: redacted@redacted\nSubject: News\nList-Unsubscribe: <%s>\n\nhello\n--A1--\n' \
	    "$(date +%s%N)" "${1:+Original-Rcpt-To: <$1>
}" "$2"
}

# 1: her own unsubscribe mail, its token lowercased on the way
low=$(printf '%s' "$tok" | tr 'A-Z' 'a-z')
printf 'From: Ana <Ana@Example.ORG>\nTo: unsub+%s@example.com\nSubject: unsubscribe\n\nplease\n' "$low" >"$T/1.eml"
og unsub-mail --rcpt "unsub+$low@example.com" <"$T/1.eml" 2>"$T/log"
q1=$(qname "$T/log")
# 2: a bounce about her without our token
dsn ana@example.org >"$T/2.eml"
og bounce <"$T/2.eml" 2>"$T/log"
q2=$(qname "$T/log")
# 3: a complaint that names her only by the token in the original's
# List-Unsubscribe (the reporter redacted the address)
arf "" "https://unsub.example.com/u/$tok" >"$T/3.eml"
og fbl <"$T/3.eml" 2>"$T/log"
q3=$(qname "$T/log")
# 4: a human reply to her VERP address: only the address it came to,
# in the reason file, names her
printf 'From: assistant@other.example\nTo: news@example.com\nSubject: Re: News\n\nWho is this?\n' >"$T/4.eml"
og bounce --rcpt "bounce+$tok@bounces.example.com" <"$T/4.eml" 2>"$T/log"
q4=$(qname "$T/log")
# 5: her address only in an encoded subject and a base64 attachment
b64=$(printf 'Please remove ana@example.org from every list.\n' | base64)
printf 'From: postmaster@other.example\nTo: news@example.com\nSubject: =?UTF-8?Q?Removal_request_for_ANA=40example=2Eorg?=\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="M1"\n\n--M1\nContent-Type: text/plain\n\nSee the attached file.\n--M1\nContent-Type: text/plain; name="req.txt"\nContent-Disposition: attachment; filename="req.txt"\nContent-Transfer-Encoding: base64\n\n%s\n--M1--\n' "$b64" >"$T/5.eml"
og bounce <"$T/5.eml" 2>"$T/log"
q5=$(qname "$T/log")
b64only=$(printf 'From: x@other.example\nTo: news@example.com\nSubject: list\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="M1"\n\n--M1\nContent-Type: text/plain\n\nSee the attached file.\n--M1\nContent-Type: text/plain; name="req.txt"\nContent-Transfer-Encoding: base64\n\n%s\n--M1--\n' "$b64")
printf '%s\n' "$b64only" >"$T/5b.eml"
og bounce <"$T/5b.eml" 2>"$T/log"
q5b=$(qname "$T/log")
# 6, 7: bounces about her and bob (a message to both)
dsn ana@example.org bob@example.org >"$T/6.eml"
og bounce <"$T/6.eml" 2>"$T/log"
q6=$(qname "$T/log")
dsn bob@example.org ana@example.org >"$T/7.eml"
og bounce <"$T/7.eml" 2>"$T/log"
q7=$(qname "$T/log")
# 8: a complaint about bob alone
arf bob@example.org "https://x/u/y" >"$T/8.eml"
og fbl <"$T/8.eml" 2>"$T/log"
q8=$(qname "$T/log")
n=0
for q in "$q1" "$q2" "$q3" "$q4" "$q5" "$q5b" "$q6" "$q7" "$q8"; do
	[ -n "$q" ] && [ -f "$T/quarantine/$q" ] && n=$((n + 1))
done
is "nine reports quarantined" "$n" 9
ok "the base64 one does not hold the address in plain text" \
    sh -c "! grep -qi 'ana@example' '$T/quarantine/$q5b'"

og erase ana@example.org --note "request 2026-31" >"$T/out" 2>"$T/err"
is "erase: exit 0" "$?" 0
like "erase: says what it removed and kept" "$(cat "$T/out")" \
    "*erased: record removed*quarantine: 6 reports that named the address removed, 2 kept*--drop-shared*"
gone=0
for q in "$q1" "$q2" "$q3" "$q4" "$q5" "$q5b"; do
	[ ! -e "$T/quarantine/$q" ] && [ ! -e "$T/quarantine/$q.reason" ] &&
	    gone=$((gone + 1))
done
is "her unsubscribe mail, the bounce, the token-only complaint, the VERP reply, the encoded ones: removed with their reasons" "$gone" 6
ok "the reports that name bob too: kept" test -f "$T/quarantine/$q6" -a -f "$T/quarantine/$q7"
ok "bob's own complaint: untouched" test -f "$T/quarantine/$q8" -a -f "$T/quarantine/$q8.reason"
like "erase: the log names each removed report" "$(cat "$T/err")" \
    "*erase: quarantine: removed $q1: it named the erased address*"
like "erase: the log says why one was kept" "$(cat "$T/err")" \
    "*erase: quarantine: kept $q6: it names the erased address and 1 other person*"
ok "erase: the log never names her" sh -c "! grep -qi 'ana@' '$T/err'"
like "quarantine list: what is left" "$(og quarantine list | tail -1)" "3 quarantined in*"

# A retry of what is left acts on bob, never records her again.
sed 's/^\[feedback\]/&\nbounce_token = optional/' "$T/optgate.conf" >"$T/opt.conf"
"$O" -c "$T/opt.conf" quarantine retry "$q6" >"$T/out" 2>&1
like "retry of the shared report: processed" "$(cat "$T/out")" "*1 retried, 1 processed*"
is "... her part not acted on" \
    "$(grep 'to=<ana@example.org>' "$T/out" | grep -c 'action=ignored\|action=unchanged')" 1
og status bob@example.org --stream news >/dev/null 2>&1
is "... bob suppressed" "$?" 1
og audit ana@example.org >"$T/out" 2>&1
like "... she has no record again" "$(cat "$T/out")" "*erase*"
case "$(cat "$T/out")" in *hard-bounce*) fail "... no bounce recorded for her" ;; *) pass "... no bounce recorded for her" ;; esac

# The admin decides to drop the other shared one: a second erase.
og erase ana@example.org --drop-shared >"$T/out" 2>"$T/err"
is "erase --drop-shared: exit 0" "$?" 0
like "erase --drop-shared: already erased, the shared report removed" \
    "$(cat "$T/out")" "*already erased on*quarantine: 1 report that named the address removed, 0 kept*"
ok "... gone" test ! -e "$T/quarantine/$q7" -a ! -e "$T/quarantine/$q7.reason"
ok "... bob's own complaint still there" test -f "$T/quarantine/$q8"
ok "nothing in the quarantine names her" sh -c "! grep -rqi 'ana@example' '$T/quarantine'"

# No record at all: her unsubscribe mail with a bad token is all there
# is of her; erase removes it (exit 0), says there was no record, and
# keeps the erasure (no mail goes to her until a new opt-in).
printf 'From: cara@example.org\nTo: unsub+%s@example.com\nSubject: unsubscribe\n\nplease\n' "$low" >"$T/9.eml"
og unsub-mail --rcpt "unsub+$low@example.com" <"$T/9.eml" 2>"$T/log"
q9=$(qname "$T/log")
ok "cara's unsubscribe mail quarantined" test -f "$T/quarantine/$q9"
og --json erase cara@example.org >"$T/out" 2>"$T/err"
is "erase without a record but a quarantined mail: exit 0" "$?" 0
like "... --json says so" "$(cat "$T/out")" '*"result":"erased","record":false,"events_stripped":0,"quarantine_removed":1,"quarantine_kept":0,"quarantine_complete":true}*'
ok "... removed" test ! -e "$T/quarantine/$q9"
og erase dan@example.org >/dev/null 2>&1
is "erase of an address named nowhere: exit 0 (the erasure is kept)" "$?" 0
og erase dan@example.org >"$T/out" 2>&1
is "... erased again: exit 0" "$?" 0
like "... and it says when it was erased" "$(cat "$T/out")" '*dan@example.org: already erased on*'

# A quarantine the admin cannot read is not "nothing to remove".
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	og optin eve@example.org --stream news >/dev/null 2>&1
	chmod 0755 "$T" && chmod -R a+rwX "$T/store" && chmod 0644 "$T/keys" 2>/dev/null
	chmod 0700 "$T/quarantine"
	runuser -u nobody -- "$O" -c "$T/optgate.conf" erase eve@example.org >"$T/out" 2>"$T/err"
	is "unreadable quarantine: exit 5" "$?" 5
	like "... it says to run erase again" "$(cat "$T/out")" "*erased: record removed*quarantine: not searched*run this erase again*"
else
	echo "ok - # SKIP unreadable quarantine: not root"
	echo "ok - # SKIP unreadable quarantine: not root"
fi
done_testing
