#!/bin/sh
# Bad input to the feedback processors: each gets a clear outcome (exit 0,
# recorded or quarantined with a reason), never a crash, never a change
# it cannot justify.  Truncated MIME, missing parts, a multipart bomb
# (deep nesting, thousands of parts), a 50 MB message, base64 garbage,
# wrong charsets.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
T=$(mktemp -d /tmp/optgate-fbbad.XXXXXX)
trap 'rm -rf "$T"' EXIT
O="$BIN/optgate"
cat >"$T/optgate.conf" <<CONF
[store]
path = $T/store
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
CONF
og() { "$O" -c "$T/optgate.conf" "$@"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
og optin big@example.org --stream news >/dev/null 2>&1
og optin cut@example.org --stream news >/dev/null 2>&1
nq() { ls "$T/quarantine" 2>/dev/null | grep -vc '\.reason$'; }

head_dsn() {
	printf 'From: MAILER-DAEMON@mx.example.com\nTo: news@example.com\n'
	printf 'Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
}

# truncated MIME: the status part is cut off mid-field; what is there counts
{ head_dsn; printf -- '--b\nContent-Type: message/delivery-status\n\n'
  printf 'Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; cut@example.org\n'
  printf 'Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 Us'; } >"$T/trunc.eml"
og bounce <"$T/trunc.eml" 2>"$T/log"
is "truncated MIME: exit 0" "$?" 0
like "truncated MIME: the complete fields are used" "$(cat "$T/log")" "*to=<cut@example.org> class=hard*"

# missing parts: a report with no parts at all is kept for a human
{ head_dsn; printf -- '--b--\n'; } >"$T/missing.eml"
q0=$(nq)
og bounce <"$T/missing.eml" 2>"$T/log"
is "missing parts: exit 0" "$?" 0
is "missing parts: quarantined" "$(nq)" "$((q0 + 1))"
like "missing parts: reason logged" "$(cat "$T/log")" "*quarantined*"

# multipart bomb, deep: 20000 nested multiparts
python3 - "$T/deep.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: MAILER-DAEMON@x.example\nSubject: failure notice\n")
    for i in range(20000):
        f.write('Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i))
PY
q0=$(nq)
start=$(date +%s)
og bounce <"$T/deep.eml" 2>"$T/log"
is "deep nesting: exit 0" "$?" 0
is "deep nesting: quarantined" "$(nq)" "$((q0 + 1))"
like "deep nesting: reason" "$(cat "$T/log")" "*too many nested MIME parts*"

# multipart bomb, wide: 20000 sibling parts
python3 - "$T/wide.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('From: MAILER-DAEMON@x.example\nSubject: failure notice\n'
            'Content-Type: multipart/mixed; boundary="q"\n\n')
    for i in range(20000):
        f.write("--q\nContent-Type: application/x-a\n\n%d\n" % i)
    f.write("--q--\n")
PY
og bounce <"$T/wide.eml" 2>"$T/log"
is "thousands of parts: exit 0" "$?" 0
end=$(date +%s)
ok "both bombs handled within 20 s" test $((end - start)) -lt 20

# object bombs: 10 MB (Postfix's default size limit) of address groups in
# a header, or of empty parts, would take GMime gigabytes; refused within
# 300 MB of data (a real DSN of 50 MB fits in that, below)
python3 - "$T/hbomb.eml" "$T/pbomb.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: MAILER-DAEMON@x.example\nSubject: failure notice\nTo: ")
    f.write("g:;" * (10 * 1024 * 1024 // 3))
    f.write("\n\n<cut@example.org>: 550 5.1.1 user unknown\n")
with open(sys.argv[2], "w") as f:
    f.write("From: MAILER-DAEMON@x.example\nSubject: failure notice\n"
            "Content-Type: multipart/mixed; boundary=\"q\"\n\n")
    f.write("--q\n\n" * (10 * 1024 * 1024 // 5))
    f.write("--q--\n")
PY
# AddressSanitizer's shadow memory cannot live under a data limit: the
# asan build runs these without it (the plain build checks the limit).
capped() {
	case "$BUILD" in
	*asan*) "$@" ;;
	*) (ulimit -d 300000; "$@") ;;
	esac
}
for b in hbomb pbomb; do
	q0=$(nq)
	capped og bounce <"$T/$b.eml" 2>"$T/log"
	is "$b: exit 0 within 300 MB" "$?" 0
	is "$b: quarantined" "$(nq)" "$((q0 + 1))"
	like "$b: reason" "$(cat "$T/log")" "*quarantined*too many*"
done

# a 50 MB message: a real DSN with a big returned original
python3 - "$T/big.eml" <<'PY'
import sys, base64, os
with open(sys.argv[1], "w") as f:
    f.write('From: MAILER-DAEMON@mx.example.com\nTo: news@example.com\n'
            'Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n'
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
            '--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n'
            'Final-Recipient: rfc822; big@example.org\nAction: failed\nStatus: 5.1.1\n'
            'Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n'
            '--b\nContent-Type: message/rfc822\n\nFrom: news@example.com\nTo: big@example.org\n'
            'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n')
    chunk = base64.encodebytes(os.urandom(57 * 1000)).decode()
    while f.tell() < 50 * 1024 * 1024:
        f.write(chunk)
    f.write("\n--b--\n")
PY
start=$(date +%s)
capped og bounce <"$T/big.eml" 2>"$T/log"
is "50 MB message: exit 0" "$?" 0
end=$(date +%s)
like "50 MB message: recorded" "$(cat "$T/log")" "*to=<big@example.org> class=hard*action=suppressed*"
ok "50 MB message: within 30 s" test $((end - start)) -lt 30
echo "# 50 MB message: $((end - start)) s"

# base64 garbage in the status part and in the text
{ head_dsn; printf -- '--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n'
  printf '\001\002!!!%%%%====@@@\377\376 not base64 at all\n'
  printf -- '--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n'
  head -c 3000 /dev/urandom | tr -d '\n'; printf '\n--b--\n'; } >"$T/b64.eml"
og bounce <"$T/b64.eml" 2>"$T/log"
is "base64 garbage: exit 0" "$?" 0
like "base64 garbage: quarantined" "$(cat "$T/log")" "*quarantined*"

# wrong charsets: an unknown one, and UTF-8 declared over Latin-1 bytes
printf 'From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\nContent-Type: text/plain; charset=x-unknown-42\nContent-Transfer-Encoding: 8bit\n\n<cut@example.org>:\n\351\350\377 550 5.1.1 user unknown\n' >"$T/cs1.eml"
og bounce --dry-run --json "$T/cs1.eml" >"$T/out" 2>&1
is "unknown charset: exit 0" "$?" 0
like "unknown charset: still read" "$(cat "$T/out")" '*"class":"hard","recipient":"cut@example.org"*'
printf 'From: MAILER-DAEMON@mx.example.com\nSubject: =?utf-8?q?=E9chec?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n<cut@example.org>:\n=E9=E8=FF 552 5.2.2 bo=EEte pleine mailbox full\n' >"$T/cs2.eml"
og bounce --dry-run --json "$T/cs2.eml" >"$T/out" 2>&1
is "mislabelled charset: exit 0" "$?" 0
like "mislabelled charset: still read" "$(cat "$T/out")" '*"class":"soft","recipient":"cut@example.org"*'

# not a message at all
printf '\000\001\002' >"$T/bin.eml"
og bounce <"$T/bin.eml" 2>"$T/log"
is "binary junk: exit 0" "$?" 0
like "binary junk: quarantined" "$(cat "$T/log")" "*quarantined*"
like "quarantine list shows every entry" "$(og quarantine list | tail -1)" "* quarantined in *"
# a one-byte report: "1 byte"; the columns (name, kind, size, reason) line
# up over reports of every kind and size
printf '\001' >"$T/one.eml"
og unsub-mail <"$T/one.eml" 2>/dev/null
og quarantine list >"$T/ql"
is "quarantine list: 1 byte" "$(grep -c '  unsub-mail   *1 byte   unparseable' "$T/ql")" 1
is "... and 3 bytes" "$(grep -c '  bounce   *3 bytes  unparseable' "$T/ql")" 1
is "... each column starts at one place on every line" \
    "$(sed '$d' "$T/ql" | awk '{ print index($0, " " $2 " "), index($0, $5) }' | sort -u | wc -l)" 1

# a plain mail is "not a report", said once (it was "not a report: not a
# report"), in the log line and the entry's .reason file
printf 'From: ann@example.org\nSubject: hello\n\nhello\n' >"$T/plain.eml"
og bounce <"$T/plain.eml" 2>"$T/log"
like "a plain mail: quarantined as not a report" "$(cat "$T/log")" \
    "*bounce: quarantined as [0-9]*.bounce: not a report"
is "... said once in its .reason file" \
    "$(grep -rlx 'reason: not a report' "$T/quarantine" | wc -l)" 1

# [feedback] quarantine not set: the folder is the store's, wherever
# [store] path puts it (it was /var/lib/optgate/quarantine whatever the
# store's path, another disk than the store's, owned by someone else)
cat >"$T/moved.conf" <<CONF
[store]
path = $T/moved/
[keys]
file = $T/keys
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
CONF
om() { "$O" -c "$T/moved.conf" "$@"; }
om init >/dev/null 2>&1
had_var=$([ -e /var/lib/optgate ] && echo yes || echo no)
om bounce <"$T/bin.eml" 2>"$T/log"
is "no quarantine set: exit 0" "$?" 0
like "no quarantine set: the log names the entry" "$(cat "$T/log")" "*quarantined as *"
is "... kept in the store's folder" \
    "$(ls "$T/moved/quarantine" | grep -vc '\.reason$')" 1
like "... where quarantine list finds it" "$(om quarantine list | tail -1)" \
    "1 quarantined in $T/moved/quarantine*"
is "... and nothing was made under /var/lib/optgate" \
    "$([ -e /var/lib/optgate ] && echo yes || echo no)" "$had_var"
done_testing
