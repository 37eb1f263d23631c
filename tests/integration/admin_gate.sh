#!/bin/sh
# The gate as a mail admin meets it through the CLI on a real store: what
# optin, optout, confirm and import record, and what optgate status and
# optgate-policyd (spawn mode, its own store reads and counts) then
# decide.  Cases found in a review of the decision against README.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-gate.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cat >"$T/og.conf" <<EOF
[store]
path = $T/store
[keys]
file = $T/keys
[stream news]
match = sender:news@example.com
consent = confirmed
caps = 2/7d, 1/1d
caps.segment.fragile = 1/30d
[stream weekly]
match = sender:weekly@example.com
consent = optin
[stream offers]
match = sender:offers@example.com
consent = optin
partner = acme
[stream other]
match = sender:x@other.example
consent = optin
[stream resets]
match = sender:noreply@example.com
class = transactional
EOF
C="$BIN/optgate -c $T/og.conf"
T0=1780272000 # 2026-06-01T00:00:00Z
at() { # SECONDS-AFTER-T0 optgate-args...
	_t=$1
	shift
	OPTGATE_NOW=$((T0 + _t)) $C "$@"
}
verdict() { # AT STREAM ADDR: "accept" or the rule that refused
	at "$1" --json status "$3" --stream "$2" 2>/dev/null |
	    sed -n 's/.*"verdict":"\([a-z]*\)","rule":"\([a-z-]*\)".*/\1 \2/p' |
	    sed 's/^accept .*/accept/; s/^[a-z]* //'
}
token() { # AT ADDR STREAM: ask a double opt-in, print its token
	at "$1" --json optin "$2" --stream "$3" --double |
	    sed -n 's/.*"confirm_token":"\([^"]*\)".*/\1/p'
}
policyd() { # AT SENDER RCPT [eom]: one transaction; the RCPT action
	{
		printf 'request=smtpd_access_policy\nprotocol_state=RCPT\n'
		printf 'protocol_name=ESMTP\nclient_address=127.0.0.1\n'
		printf 'client_name=localhost\nsender=%s\nrecipient=%s\n' "$2" "$3"
		printf 'recipient_count=0\nqueue_id=\ninstance=i%s\nsize=0\n\n' "$1"
		if [ -n "${4:-}" ]; then
			printf 'request=smtpd_access_policy\n'
			printf 'protocol_state=END-OF-MESSAGE\n'
			printf 'protocol_name=ESMTP\nclient_address=127.0.0.1\n'
			printf 'client_name=localhost\nsender=%s\nrecipient=\n' "$2"
			printf 'recipient_count=1\nqueue_id=Q%s\n' "$1"
			printf 'instance=i%s\nsize=100\n\n' "$1"
		fi
	} | OPTGATE_NOW=$((T0 + $1)) "$BIN/optgate-policyd" -s \
	    -c "$T/og.conf" 2>>"$T/policyd.log" | sed -n '1s/^action=//p'
}
at 0 init >/dev/null 2>&1 || { echo "not ok 1 - init"; exit 1; }
D=86400

# --- a double opt-in's old token after a broader opt-out -------------------
# An opt-out of the stream given after the request already made the
# token useless ("not recorded"); one of everything, of the partner or of
# the sender did not: the old confirmation lifted it, and the stream
# mailed a person who had unsubscribed from everything.
tok=$(token 0 w1@example.org news)
at 10 optout w1@example.org --stream news >/dev/null
at 20 confirm "$tok" >/dev/null
is "request, opt-out of the stream, old confirmation: refused" \
    "$(verdict 30 news w1@example.org)" optout

tok=$(token 0 w2@example.org news)
at 10 optout w2@example.org --all >/dev/null
out=$(at 20 confirm "$tok")
rc=$?
is "request, opt-out of everything, old confirmation: exit 1" "$rc" 1
like "... says why" "$out" \
    "w2@example.org: confirm: not recorded (unsubscribed from all on 2026-06-01, after the request*"
is "... and news stays refused" "$(verdict 30 news w2@example.org)" optout
is "... for optgate-policyd too" \
    "$(policyd 30 news@example.com w2@example.org)" \
    "550 5.7.1 <w2@example.org>: unsubscribed from all streams on 2026-06-01 via admin"

# A pause of everything (an import's temporary opt-out) keeps the
# request: confirm said "the person asks again for a new confirmation",
# while the same link confirms once the pause is over.
tok=$(token 0 p5@example.org news)
printf 'address,state,time,expires\np5@example.org,optout,2026-06-01T00:00:10Z,2026-06-05\n' >"$T/p5.csv"
at 10 import "$T/p5.csv" >/dev/null 2>&1
out=$(at 20 confirm "$tok")
like "request, pause of everything, confirmed during it: says it works after" \
    "$out:$?" \
    "p5@example.org: confirm: not recorded (unsubscribed from all on 2026-06-01 until 2026-06-05, after the request: the request holds, and the same confirmation works again from 2026-06-05):1"
is "... refused during the pause" "$(verdict 30 news p5@example.org)" optout
out=$(at $((5 * D)) confirm "$tok")
like "... the same link after it: recorded" "$out:$?" "*confirm: recorded*:0"
is "... and news is sent" "$(verdict $((5 * D)) news p5@example.org)" accept

tok=$(token 0 w3@example.org offers)
at 10 optout w3@example.org --partner acme >/dev/null
at 20 confirm "$tok" >/dev/null
is "request, opt-out of the partner, old confirmation: refused" \
    "$(verdict 30 offers w3@example.org)" optout

tok=$(token 0 w4@example.org weekly)
at 10 optout w4@example.org --sender example.com >/dev/null
at 20 confirm "$tok" >/dev/null
is "request, opt-out of the sender, old confirmation: refused" \
    "$(verdict 30 weekly w4@example.org)" optout

# what must still work
tok=$(token 0 w5@example.org weekly)
at 10 optout w5@example.org --sender other.example >/dev/null
at 20 confirm "$tok" >/dev/null
is "an opt-out of another sender does not withdraw the request" \
    "$(verdict 30 weekly w5@example.org)" accept

at 0 optout w6@example.org --all >/dev/null
tok=$(token 10 w6@example.org news)
at 20 confirm "$tok" >/dev/null
is "opt-out of everything, then a request, confirmed: news passes" \
    "$(verdict 30 news w6@example.org)" accept
is "... and only news" "$(verdict 30 weekly w6@example.org)" optout

at 0 optout w7@example.org --stream news >/dev/null
at 3 optout w7@example.org --all >/dev/null
tok=$(token 5 w7@example.org news)
at 10 confirm "$tok" >/dev/null
is "opt-outs of the stream and of everything, then a request, confirmed" \
    "$(verdict 30 news w7@example.org)" accept

at 0 optout w8@example.org --stream news >/dev/null
tok=$(token 5 w8@example.org news)
at 8 optout w8@example.org --all >/dev/null
at 10 confirm "$tok" >/dev/null
is "opt-out of the stream, request, opt-out of everything, confirmation" \
    "$(verdict 30 news w8@example.org)" optout

tok=$(token 0 w9@example.org news)
at 20 confirm "$tok" >/dev/null
is "a plain double opt-in confirmed" "$(verdict 30 news w9@example.org)" \
    accept
out=$(at 25 confirm "$tok")
is "... confirmed twice: unchanged, exit 0" "$?:$out" \
    "0:w9@example.org: confirm: unchanged (already so)"

# --- a partner the config does not have ----------------------------------
# An opt-out or suppression of a misspelt partner was "recorded" (exit 0)
# and stopped nothing: the partner's stream went on mailing.
at 0 optin p1@example.org --stream offers >/dev/null
out=$(at 10 optout p1@example.org --partner acmee 2>&1)
is "optout --partner with a name no stream has: exit 2" "$?" 2
like "... says why" "$out" "optgate: --partner acmee: no stream has partner = acmee*"
is "... and records nothing" "$(at 20 audit p1@example.org | grep -c optout)" 0
out=$(at 10 suppress p1@example.org --reason manual --partner acmee 2>&1)
is "suppress --partner with a name no stream has: exit 2" "$?" 2
out=$(at 10 optout p1@example.org --partner ACME)
is "the partner in another case is the partner: recorded" "$?:$out" \
    "0:p1@example.org: optout (partner ACME): recorded"
is "... and stops its stream" "$(verdict 20 offers p1@example.org)" optout
is "unsuppress still takes any name (to lift an old entry)" \
    "$(at 30 unsuppress p1@example.org --partner acmee 2>/dev/null)" \
    "p1@example.org: unsuppress: unchanged (already so)"
like "... and notes the opt-out of the partner that still holds" \
    "$(at 30 unsuppress p1@example.org --partner acmee 2>&1)" \
    "p1@example.org: unsuppress: unchanged (already so)
optgate: note: p1@example.org is still opted out of partner ACME (the person's own choice)"

# --- segment tags are matched to caps.segment lines without case ----------
printf 'address,stream,state,time,source,segment\n%s\n' \
    's1@example.org,news,confirmed,2026-05-01T00:00:00Z,crm,Fragile' \
    >"$T/seg.csv"
at 0 import "$T/seg.csv" >/dev/null 2>&1
is "imported as Fragile: the first send passes" \
    "$(policyd 100 news@example.com s1@example.org eom)" DUNNO
like "a second, two days later, meets caps.segment.fragile = 1/30d" \
    "$(policyd $((2 * D)) news@example.com s1@example.org)" \
    "550 5.7.1 <s1@example.org>: frequency cap 1/30d for news reached*"
like "status says the same" \
    "$(at $((2 * D)) --json status s1@example.org --stream news)" \
    '*"cap(news) 1/30d next=*'
# The time the refusal names is when a send goes again: a sender that
# waits as told gets through (the refusal said "after" it).
r=$(policyd $((2 * D)) news@example.com s1@example.org)
nt=${r##*next send allowed from }
case $nt in
2026-*Z) nts=$(date -u -d "$nt" +%s) ;;
*) nts=$T0 ;;
esac
is "the cap refusal names the first instant a send passes" \
    "$(policyd $((nts - T0)) news@example.com s1@example.org)" DUNNO
like "... a second before it, the cap still holds" \
    "$(policyd $((nts - T0 - 1)) news@example.com s1@example.org)" \
    "550 5.7.1 <s1@example.org>: frequency cap 1/30d for news reached*"
like "... optgate status names the same instant" \
    "$(at $((nts - T0 - 1)) status s1@example.org --stream news)" \
    "*next send allowed from $nt*"
like "... and at it, 'now'" \
    "$(at $((nts - T0)) status s1@example.org --stream news)" \
    "*next send allowed now*"

# --- back after an erasure, then unsubscribed from that stream -------------
# The opt-in that brought her back was the only sign of it the gate read:
# once her opt-out of news replaced it, every stream answered "erased at
# the person's request", her password resets included.
at 0 optin e1@example.org --stream news >/dev/null
at 10 erase e1@example.org >/dev/null 2>&1
at 20 optin e1@example.org --stream news >/dev/null
at 30 optout e1@example.org --stream news >/dev/null
is "back after an erasure, unsubscribed from news: news is refused" \
    "$(verdict 40 news e1@example.org)" optout
is "... her transactional mail goes" "$(verdict 40 resets e1@example.org)" \
    accept
is "... for optgate-policyd too" \
    "$(policyd 40 noreply@example.com e1@example.org)" DUNNO
at 0 optin e2@example.org --stream news >/dev/null
at 10 erase e2@example.org >/dev/null 2>&1
is "erased and not back: transactional mail is refused" \
    "$(verdict 40 resets e2@example.org)" erased

# --- a cap the person chose, with a window past the counters' 90 days ------
# An ESP's list imported with cap 1/180d ("twice a year at most"): the
# hourly expire dropped her send counter at 90 days (it kept only the
# configured caps' windows), and the gate mailed her again at day 100.
printf 'address,stream,state,time,source,cap\nhy@example.org,weekly,optin,2026-05-01T00:00:00Z,esp,1/180d\n' >"$T/hy.csv"
at 0 import "$T/hy.csv" >/dev/null 2>&1
policyd 0 weekly@example.com hy@example.org eom >/dev/null
is "her own cap of 1/180d, one send: refused at day 100" \
    "$(verdict $((100 * D)) weekly hy@example.org)" cap
at $((100 * D)) expire >/dev/null 2>&1
is "... still after expire ran" \
    "$(verdict $((100 * D)) weekly hy@example.org)" cap
at $((100 * D)) expire --keep 30d >/dev/null 2>&1
like "... and after expire --keep 30d, for optgate-policyd too" \
    "$(policyd $((100 * D)) weekly@example.com hy@example.org)" \
    "550 5.7.1 <hy@example.org>: frequency cap 1/180d for weekly reached*"
is "... mailed again once her window is over" \
    "$(verdict $((181 * D)) weekly hy@example.org)" accept

# --- a temporary stop over one for good --------------------------------------
# The refusal named the temporary one, with its end ("not mailed again"
# for a hard bounce an admin had suppressed for 14 days; with a
# complaint for good under it, "until" a day after which the mail was
# still refused).
at 0 optin tb@example.org --stream weekly >/dev/null
at 10 suppress tb@example.org --reason hard-bounce --expires 14d >/dev/null
like "a hard bounce suppressed for 14 days says until when" \
    "$(policyd 20 weekly@example.com tb@example.org)" \
    "550 5.1.1 <tb@example.org>: address hard-bounced on 2026-06-01; not mailed until 2026-06-15"
at 0 optin tc@example.org --stream weekly >/dev/null
at 0 suppress tc@example.org --reason complaint --sender example.com >/dev/null
at 10 suppress tc@example.org --reason hard-bounce --expires 14d >/dev/null
like "... over a complaint for good: the complaint is the reason" \
    "$(policyd 20 weekly@example.com tc@example.org)" \
    "550 5.7.1 <tc@example.org>: recipient complained about all mail from example.com on 2026-06-01"
like "... in optgate status too" \
    "$(at 20 status tc@example.org --stream weekly)" \
    "*weekly * reject * complained about all mail from example.com on 2026-06-01*"
is "... which still refuses after the hard bounce's end" \
    "$(verdict $((15 * D)) weekly tc@example.org)" complaint
done_testing
