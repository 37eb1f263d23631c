#!/bin/sh
# README "What comes back: bounces, complaints, unsubscribe mails" as a new
# mail admin follows it, on a real, running Postfix (tests/lib/postfix.sh,
# ports 25360-25362): the master.cf, transport and main.cf blocks of its
# "Wiring into Postfix" and the recipe after them, its [feedback] block and
# its verp and mailto: lines, taken from README.md with only this test's
# ports, paths and user put in; optgate-milter gives the newsletter its
# VERP sender.  Then, over SMTP to that Postfix: a Gmail-style DSN to the
# VERP address (hard bounce), a Yahoo ARF report to the FBL address, an
# unsubscribe mail to the List-Unsubscribe mailto: address, each in the
# store (optgate audit) with the log line README shows; a forged DSN
# changes nothing and is quarantined; with the store unwritable Postfix
# defers and applies the report once it is back; a report of a reporter
# not yet trusted is applied by quarantine retry once it is.  The README's
# argv check runs, and conf/master.cf-feedback and conf/main.cf-feedback
# say what the README blocks say.  optgate's own syslog lines are read
# from a socket over /dev/log (tests/lib/syslog.sh): the whole test runs
# in a mount namespace of its own.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/syslog.sh"

if [ -z "${FBR_SYSLOG:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v smtp-sink >/dev/null 2>&1 ||
	    [ ! -x "$BIN/optgate-milter" ]; then
		echo "ok 1 - # SKIP needs root, Postfix and optgate-milter"
		echo "1..1"
		exit 0
	fi
	out=$(mktemp /tmp/optgate-fbr-syslog.XXXXXX) || exit 1
	if ! syslog_start "$out"; then
		rm -f "$out"
		echo "ok 1 - # SKIP needs unshare and python3 for a syslog socket"
		echo "1..1"
		exit 0
	fi
	syslog_run env FBR_SYSLOG="$out" sh "$0"
	rc=$?
	syslog_stop
	rm -f "$out"
	exit $rc
fi

. "$TOP/tests/lib/postfix.sh"
MP=25362
T=$(mktemp -d /tmp/optgate-fbr.XXXXXX)
chmod 755 "$T"
O="$BIN/optgate"
og() { "$O" -c "$T/optgate.conf" "$@"; }
# stop: a step everything after needs failed
stop() {
	fail "$1" "$(pf_log | tail -n 20)"
	done_testing
	exit 1
}

# section TITLE: README's "### TITLE" section; cblock TITLE FIRST: its
# indented block whose first line is FIRST, unindented, to its blank line
section() { sed -n "/^### $1\$/,/^### /p" "$TOP/README.md"; }
cblock() {
	section "$1" | awk -v first="    $2" '$0 == first { on = 1 }
	    on && /^ *$/ { exit } on { sub(/^    /, ""); print }'
}
# What README names on a mail server, as this test has it.
here() {
	sed -e "s#/usr/local/sbin/#$BIN/#g" \
	    -e "s#/etc/optgate/optgate.conf#$T/optgate.conf#g" \
	    -e "s#user=optgate#user=nobody#g" \
	    -e "s#/etc/postfix/transport#$PF_CONF/transport#g" \
	    -e "s#/var/lib/optgate#$T/store#g" \
	    -e "s#postmap #postmap -c '$PF_CONF' #g" \
	    -e "s#postfix check#postfix -c '$PF_CONF' check#g" \
	    -e "s#postfix reload#postfix -c '$PF_CONF' reload#g"
}
# logline PATTERN: optgate's last syslog line matching PATTERN (grep -E),
# as README prints them: no priority or date, pid 4242, queue id QID,
# report=<...>, the quarantine's name NAME, the store file FILE
norm() {
	sed -e 's/^<[0-9]*>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* //' \
	    -e 's/^optgate\[[0-9]*\]: /optgate[4242]: /' \
	    -e 's/^\(optgate\[4242\]: \(warning: \|error: \)\{0,1\}\)[0-9A-F]\{6,\}: /\1QID: /' \
	    -e 's/report=<[^>]*>/report=<...>/' \
	    -e 's/quarantined as [0-9._]*\.\(bounce\|fbl\)/quarantined as NAME.\1/' \
	    -e 's/store cannot be opened: [^;]*Permission denied;/store cannot be opened: FILE: Permission denied;/'
}
logline() { grep -E "$1" "$FBR_SYSLOG" | tail -n 1 | norm; }
# readme_line PATTERN: README's example log line matching PATTERN, likewise
readme_line() {
	grep -E "^ *optgate\[4242\]: .*$1" "$TOP/README.md" | head -n 1 |
	    sed 's/^ *//' | norm
}

W="Wiring into Postfix"
# --- optgate as "Installing on a mail server" has it, plus README's lines
verp=$(section "$W" | tr '\n' ' ' | grep -o 'verp = bounce+%t@[a-z.]*' | head -n 1)
mailto=$(section "$W" | tr '\n' ' ' | grep -o 'mailto:unsub+%t@[a-z.]*' | head -n 1)
is "README's verp line" "$verp" "verp = bounce+%t@bounces.example.com"
is "README's mailto: target" "$mailto" "mailto:unsub+%t@unsub.example.com"
{
	printf '%s\n' "[store]" "path = $T/store" "[keys]" "file = $T/keys"
	cblock "$W" "[feedback]" | here
	printf '%s\n' "[milter]" "socket = inet:$MP@127.0.0.1" "user = nobody" \
	    "[stream news]" "match = sender:news@example.com" "consent = optin" \
	    "unsubscribe = https://unsub.example.com/u/%t, $mailto" "$verp"
} >"$T/optgate.conf"
like "README's [feedback] block is in the config" "$(cat "$T/optgate.conf")" \
    "*trusted_reporters = arf.mail.yahoo.com*quarantine = $T/store/quarantine*"
og init >/dev/null 2>&1 || stop "optgate init"
for a in bob ann cara u2; do og optin $a@example.org --stream news >/dev/null; done
chown -R nobody "$T/store" "$T/keys"

"$BIN/optgate-milter" -f -c "$T/optgate.conf" >"$T/milter.log" 2>&1 &
mpid=$!
# libmilter takes seconds to stop on SIGTERM; this is a throwaway instance.
pf_cleanup_add "kill -9 $mpid; wait $mpid; rm -rf '$T'"
pf_init 25360 25361 "smtpd_milters=inet:127.0.0.1:$MP" \
    milter_default_action=tempfail milter_protocol=6
i=0
until ss -ltn 2>/dev/null | grep -q "127.0.0.1:$MP "; do
	i=$((i + 1))
	[ $i -gt 100 ] && stop "optgate-milter started ($(cat "$T/milter.log"))"
	sleep 0.05
done
# A Postfix that runs already, as the admin's does.
pf_start 25360 25361 || stop "postfix started"

# --- README's master.cf, transport and main.cf blocks, then its recipe
cblock "$W" "# master.cf" | grep -v '^#' | here >>"$PF_CONF/master.cf"
cblock "$W" "# /etc/postfix/transport" | grep -v '^#' | here >"$PF_CONF/transport"
cblock "$W" "# main.cf" | grep -v '^#' | here | pf_conf_lines
like "master.cf has README's bounce pipe" \
    "$(postconf -c "$PF_CONF" -M optgate-bounce/unix 2>&1)" \
    "*pipe flags=R user=nobody argv=$BIN/optgate -c $T/optgate.conf bounce --rcpt \${original_recipient} --queue-id \${queue_id}"
like "main.cf routes the three domains through README's transport map" \
    "$(postconf -c "$PF_CONF" -h transport_maps relay_domains 2>&1 | tr '\n' ' ')" \
    "hash:$PF_CONF/transport *bounces.example.com, fbl.example.com, unsub.example.com "
recipe=$(sed -n '/^<!-- recipe feedback-wire -->$/,/^<!-- \/recipe -->$/p' \
    "$TOP/README.md" | grep -v '^<!--' | sed 's/^    //' | here)
like "README has a recipe after wiring" "$recipe" "*reload*"
(eval "$recipe") >"$T/recipe.out" 2>&1
is "the recipe runs ($(tr '\n' ' ' <"$T/recipe.out"))" "$?" 0
is "postfix check has nothing to say" "$(postfix -c "$PF_CONF" check 2>&1)" ""

# The argv check of "Exit codes and nothing lost", as the pipe's user.
argv=$(section "Exit codes and nothing lost" | tr '\n' ' ' |
    grep -o 'optgate -c /etc/optgate/optgate.conf *bounce --dry-run[^`]*' |
    sed 's/  */ /g; s/ < some.eml$//' | here | sed "s#^optgate #$O #")
like "README has the argv check" "$argv" "*bounce --dry-run --rcpt *--queue-id X"

# --- a newsletter goes out with its VERP sender and mailto: address
send() { pf_send "$@" >"$T/send.out" 2>&1 || fail "accepted: $*" "$(cat "$T/send.out")"; }
# sent WHO: the newsletter as the sink got it
sent() { grep -l "^To: $1@example.org" $(pf_sink_files) | tail -n 1; }
for a in bob ann cara u2; do
	printf 'From: News <news@example.com>\nTo: %s@example.org\nSubject: November news\nMessage-ID: <nov-%s@example.com>\n\nHello\n' \
	    $a $a >"$T/nov-$a.eml"
	send news@example.com $a@example.org "$T/nov-$a.eml"
done
pf_sink_wait 4 10
rb=$(sed -n 's/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$(sent bob)")
like "the newsletter left with README's VERP sender" "$rb" "bounce+*@bounces.example.com"
tb=${rb#bounce+}
tb=${tb%@*}

# --- a hard bounce: a DSN as Gmail writes it, to the VERP address
dsn() { # WHO VERP-ADDRESS ID
	cat <<MSG
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: $2
Subject: Delivery Status Notification (Failure)
Message-ID: <$3@mx.google.com>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000abc"; report-type=delivery-status

--000000000000abc
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to $1 because the address couldn't be found, or is unable to receive mail.

--000000000000abc
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Arrival-Date: Mon, 30 Nov 2026 01:21:11 -0800 (PST)

Final-Recipient: rfc822; $1
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com.
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist. https://support.google.com/mail/?p=NoSuchUser a1si1234567ejb.123 - gsmtp

--000000000000abc
Content-Type: text/rfc822-headers

From: News <news@example.com>
To: $1
Subject: November news
Message-ID: <nov@example.com>

--000000000000abc--
MSG
}
dsn bob@example.org "$rb" dsn-bob >"$T/dsn-bob.eml"
argv_out=$(runuser -u nobody -- sh -c "$argv" <"$T/dsn-bob.eml" 2>&1)
is "the argv check reads the DSN as the pipe will" "$?:$argv_out" \
    "0:-: hard bob@example.org 5.1.1 user-unknown"
send "" "$rb" "$T/dsn-bob.eml"
pf_log_wait 'relay=optgate-bounce.*status=' 10
like "the DSN went to README's bounce pipe" "$(pf_log)" "*to=<$rb>, relay=optgate-bounce, *status=sent*"
like "audit: bob suppressed as a hard bounce, via bounce" \
    "$(og audit bob@example.org 2>&1)" "*suppress * all * -> suppressed (hard-bounce) via bounce*"
is "its log line is README's" \
    "$(logline ' bounce: to=<bob@example.org> class=hard')" \
    "$(readme_line 'bounce: to=<bob@example.org> class=hard')"

# --- a forged DSN: no token, and a made-up one
dsn ann@example.org bounces@bounces.example.com dsn-forged-1 >"$T/forged1.eml"
send "" bounces@bounces.example.com "$T/forged1.eml"
fake=bounce+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@bounces.example.com
dsn ann@example.org "$fake" dsn-forged-2 >"$T/forged2.eml"
send "" "$fake" "$T/forged2.eml"
pf_wait_queue_empty 10
is "forged DSNs: delivered to the pipe (exit 0), not bounced" \
    "$(grep -c 'relay=optgate-bounce.*status=sent' "$PF_LOG")" 3
og status ann@example.org --stream news >/dev/null 2>&1
is "forged DSNs: ann is still mailed" "$?" 0
is "the forged DSN's line is README's" \
    "$(logline 'warning: .* bounce: quarantined as .* <ann@example.org>: .*it has none')" \
    "$(readme_line 'quarantined as .*<ann@example.org>')"
like "the made-up token's line: none of its tokens verifies" \
    "$(logline 'warning: .* bounce: quarantined as .* <ann@example.org>: .*verifies')" \
    "*(bounce_token = auto, verp configured; none of its tokens verifies)"

# --- an ARF complaint from Yahoo's loop to the FBL address
arf() { # FROM WHO TOKEN ID
	cat <<MSG
From: Yahoo! Mail AntiSpam Feedback <$1>
To: fbl@fbl.example.com
Subject: FW: November news
Message-ID: <$4@yahoo.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="P1"

--P1
Content-Type: text/plain

This is an email abuse report.

--P1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <bounce+$3@bounces.example.com>
Original-Rcpt-To: <redacted@example.org>
Source-IP: 192.0.2.25

--P1
Content-Type: message/rfc822

From: News <news@example.com>
To: redacted@example.org
Subject: November news
Message-ID: <nov-$2@example.com>
X-Optgate-Token: $3

Hello
--P1--
MSG
}
rc=$(sed -n 's/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$(sent cara)")
tc=${rc#bounce+}
tc=${tc%@*}
arf feedback@arf.mail.yahoo.com cara "$tc" arf-cara >"$T/arf-cara.eml"
send feedback@arf.mail.yahoo.com fbl@fbl.example.com "$T/arf-cara.eml"
pf_log_wait 'relay=optgate-fbl.*status=' 10
like "audit: cara suppressed for the sender as a complaint, via fbl" \
    "$(og audit cara@example.org 2>&1)" "*suppress * sender example.com * -> suppressed (complaint) via fbl*"
is "its log line" "$(logline ' fbl: to=<cara@example.org>')" \
    "optgate[4242]: QID: fbl: to=<cara@example.org> class=complaint action=suppressed scope=sender:example.com by=token reason=complaint report=<...>"

# --- an unsubscribe mail to the newsletter's mailto: address
mt=$(sed -n 's/.*<mailto:\([^>]*\)>.*/\1/p' "$(sent u2)")
like "the newsletter's List-Unsubscribe has README's mailto: address" "$mt" \
    "unsub+*@unsub.example.com"
printf 'From: <u2@example.org>\nTo: %s\nSubject: unsubscribe\nMessage-ID: <bye-u2@example.org>\n\nplease\n' \
    "$mt" >"$T/u2.eml"
send u2@example.org "$mt" "$T/u2.eml"
pf_log_wait 'relay=optgate-unsub.*status=' 10
like "audit: u2 opted out of news, via mail" \
    "$(og audit u2@example.org 2>&1)" "*optout * stream news * -> optout via mail*"
is "its log line is README's" \
    "$(logline ' unsub-mail: to=<u2@example.org>')" \
    "$(readme_line 'unsub-mail: to=<u2@example.org> class=unsubscribe action=unsubscribed')"

# --- the store unwritable: Postfix keeps the report, nothing is lost
chown -R root "$T/store"
chmod -R go-w "$T/store"
dsn ann@example.org "$(sed -n 's/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$(sent ann)")" dsn-ann \
    >"$T/dsn-ann.eml"
send "" "$(sed -n 's/^To: //p' "$T/dsn-ann.eml")" "$T/dsn-ann.eml"
pf_log_wait 'relay=optgate-bounce.*status=deferred' 10
like "store unwritable: Postfix deferred the DSN, with the reason" \
    "$(grep 'relay=optgate-bounce.*status=deferred' "$PF_LOG" | tail -n 1)" \
    "*status=deferred (temporary failure. Command output: *Permission denied*"
is "... it waits in the queue" "$(pf_queue_count)" 1
is "... its log line is README's" \
    "$(logline 'error: .* bounce: store cannot be opened')" \
    "$(readme_line 'bounce: store cannot be opened')"
chown -R nobody "$T/store"
pf_flush
pf_wait_queue_empty 10
like "store back: the kept DSN suppresses ann" \
    "$(og audit ann@example.org 2>&1)" "*-> suppressed (hard-bounce) via bounce*"

# --- a loop not yet trusted: quarantined, then retried once trusted
og optin dora@example.org --stream news >/dev/null
tk=$(og token dora@example.org --stream news | sed -n 's/^token: //p')
arf fbl@fbl.mail.ru dora "$tk" arf-dora >"$T/arf-dora.eml"
send fbl@fbl.mail.ru fbl@fbl.example.com "$T/arf-dora.eml"
pf_wait_queue_empty 10
is "untrusted reporter: its line is README's" \
    "$(logline 'warning: .* fbl: quarantined as' | sed 's/from=[^(]*(/from=... (/')" \
    "$(readme_line 'fbl: quarantined as .*reporter not trusted')"
q=$(runuser -u nobody -- "$O" -c "$T/optgate.conf" quarantine list 2>&1)
like "quarantine list (as the pipe's user) names it, with the name to add" \
    "$q" "*fbl *reporter not trusted: from=fbl@fbl.mail.ru *"
name=$(echo "$q" | awk '$2 == "fbl" { print $1 }' | tail -n 1)
sed -i 's/^trusted_reporters = arf.mail.yahoo.com$/&\ntrusted_reporters = fbl.mail.ru/' "$T/optgate.conf"
like "quarantine retry NAME applies it" \
    "$(runuser -u nobody -- "$O" -c "$T/optgate.conf" quarantine retry "$name" 2>&1)" \
    "*1 retried, 1 processed, 0 still quarantined*"
like "audit: dora suppressed as a complaint" \
    "$(og audit dora@example.org 2>&1)" "*-> suppressed (complaint) via fbl*"
ok "no report bounced" sh -c "! grep -q 'relay=optgate-.*status=bounced' '$PF_LOG'"

# --- conf/ says what README says
C=$T/confcheck
mkdir -p "$C"
: >"$C/main.cf"
here <"$TOP/conf/master.cf-feedback" >"$C/master.cf"
here <"$TOP/conf/main.cf-feedback" | sed "s#hash:/etc/postfix/transport#hash:$PF_CONF/transport#" >>"$C/main.cf"
for s in optgate-bounce optgate-fbl optgate-unsub; do
	is "conf/master.cf-feedback's $s is README's" \
	    "$(postconf -c "$C" -M "$s/unix" 2>&1 | tr -s ' \t' ' ')" \
	    "$(postconf -c "$PF_CONF" -M "$s/unix" 2>&1 | tr -s ' \t' ' ')"
done
for p in transport_maps relay_domains optgate-bounce_destination_recipient_limit \
    optgate-fbl_destination_recipient_limit optgate-unsub_destination_recipient_limit; do
	is "conf/main.cf-feedback's $p is README's" \
	    "$(postconf -c "$C" -h "$p" 2>&1)" "$(postconf -c "$PF_CONF" -h "$p" 2>&1)"
done
done_testing
