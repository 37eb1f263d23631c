#!/bin/sh
# The store keeps the [address] settings its match keys were made with,
# and nothing uses it with others: an admin who adds a domain to
# plus_tags or sets local_part = sensitive on a running system got "no
# record" for people who had unsubscribed, and mail went to them.  The
# CLI refuses (exit 2, naming the settings and the ways out), config
# check says error, a feedback pipe exits 75 (Postfix retries; the report
# is recorded once [address] is put back), optgate-policyd does not start
# and a reload keeps the running config; export still works, and export,
# init, import moves the store to the new settings.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

pd_setup 10047
T=$PD_T
# ADDRESS [STORE]: the config, with these [address] lines
mkconf() {
	cat <<EOF
[store]
path = ${2:-$T/store}
[keys]
file = $T/keys
[address]
$1
[feedback]
quarantine = $T/quarantine
bounce_token = optional
[policyd]
listen = inet:127.0.0.1:10047
[stream news]
match = sender:news@example.com
consent = none
EOF
}
DEFTAGS="gmail.com, googlemail.com, outlook.com, hotmail.com, live.com, msn.com, icloud.com, me.com, mac.com, fastmail.com, proton.me, protonmail.com"
mkconf "" >"$T/a.conf"
# the same keys: the defaults in another order, a duplicate, other case
mkconf "plus_tags = Proton.me, protonmail.com, fastmail.com, mac.com, me.com, icloud.com, msn.com, live.com, hotmail.com, outlook.com, gmail.com, outlook.com" >"$T/same.conf"
mkconf "plus_tags = $DEFTAGS, example.org" >"$T/plus.conf"
mkconf "local_part = sensitive" >"$T/case.conf"
mkconf "plus_tags = $DEFTAGS, example.org" "$T/store2" >"$T/moved.conf"
A="$BIN/optgate -c $T/a.conf"
$A init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
$A optout Ana+x@example.org >/dev/null 2>&1
$A optout Bo@example.org >/dev/null 2>&1

# --- the CLI -----------------------------------------------------------------
$BIN/optgate -c "$T/same.conf" status Ana+x@example.org --stream news >/dev/null 2>&1
is "same keys (order, case, duplicates): the opt-out is found" "$?" 1
$BIN/optgate -c "$T/plus.conf" status Ana+x@example.org --stream news >"$T/out" 2>&1
is "example.org added to plus_tags: status refuses (exit 2), no accept" "$?" 2
like "it names the setting that differs" "$(cat "$T/out")" \
    "*plus_tags: added example.org)*"
like "it says how to put it back" "$(cat "$T/out")" \
    "*Put \[address\] back as it was: gmail_dots = yes; local_part = insensitive; plus_tags = fastmail.com, hotmail.com, icloud.com, live.com, mac.com, me.com, msn.com, outlook.com, proton.me, protonmail.com;*"
like "and how to move the store" "$(cat "$T/out")" \
    "*or move the store to the new settings: optgate export, init, import (hashed lists and erasures cannot move)*"
$BIN/optgate -c "$T/case.conf" optout Cy@example.org >"$T/out" 2>&1
is "local_part = sensitive: optout refuses (exit 2)" "$?" 2
like "it names local_part" "$(cat "$T/out")" \
    "*local_part: store insensitive, config sensitive*"
$A audit cy@example.org >/dev/null 2>&1
is "nothing was written under the other key" "$?" 1

$BIN/optgate -c "$T/plus.conf" config check >"$T/out" 2>&1
is "config check: exit 2" "$?" 2
like "config check: an error naming the setting" "$(cat "$T/out")" \
    "*error: $T/store: the \[address\] settings differ*plus_tags: added example.org*"
$A config check >"$T/out" 2>&1
is "config check with the store's settings: exit 0" "$?" 0
is "config check with the store's settings: no error" \
    "$(grep -c '^error' "$T/out")" 0

# --- the pipes: 75, and the report is not lost --------------------------------
cat >"$T/dsn.eml" <<'MSG'
Return-Path: <>
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-address-1@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1"

--B1
Content-Type: text/plain

<dee@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; dee@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B1
Content-Type: text/rfc822-headers

From: news@example.com
To: dee@example.org
Subject: News
Message-Id: <orig-address-1@example.com>

--B1--
MSG
$BIN/optgate -c "$T/case.conf" bounce <"$T/dsn.eml" >"$T/out" 2>&1
is "bounce pipe with other [address] settings: exit 75 (Postfix retries)" "$?" 75
like "the pipe says why" "$(cat "$T/out")" "*local_part: store insensitive, config sensitive*"
$A bounce <"$T/dsn.eml" >/dev/null 2>&1
is "the retry, [address] put back: exit 0" "$?" 0
like "the retried report is recorded" "$($A status dee@example.org --stream news 2>&1)" \
    "*hard-bounce*"

# --- the way out: export (still allowed), init, import -------------------------
$BIN/optgate -c "$T/plus.conf" export >"$T/export.csv" 2>"$T/out"
is "export with the new settings: exit 0" "$?" 0
like "export writes the records" "$(cat "$T/export.csv")" "*Ana+x@example.org*optout*"
$BIN/optgate -c "$T/moved.conf" init >/dev/null 2>&1
$BIN/optgate -c "$T/moved.conf" import "$T/export.csv" >/dev/null 2>&1
is "import into a store made with the new settings: exit 0" "$?" 0
$BIN/optgate -c "$T/moved.conf" status Ana+y@example.org --stream news >/dev/null 2>&1
is "there the opt-out holds under the new key (another +tag: refused)" "$?" 1
$BIN/optgate -c "$T/moved.conf" config check >"$T/out" 2>&1
is "config check of the moved store: exit 0" "$?" 0

# --- optgate-policyd -----------------------------------------------------------
PD_CONF=$T/case.conf
if pd_start >/dev/null 2>&1; then
	fail "policyd with other [address] settings: does not start"
	pd_stop
else
	pass "policyd with other [address] settings: does not start"
	wait "$PD_PID" 2>/dev/null
	is "policyd: exit 1" "$?" 1
	PD_PID=
fi
like "policyd: the log names the setting and the way out" "$(cat "$PD_LOG")" \
    "*fatal: cannot start: $T/store: the \[address\] settings differ*local_part: store insensitive, config sensitive*optgate export, init, import*"
cp "$T/a.conf" "$T/live.conf"
PD_CONF=$T/live.conf
ok "policyd with the store's settings starts" pd_start
is "it refuses the address that opted out" "$(pd_q recipient=bo@example.org | cut -c1-9)" "550 5.7.1"
cp "$T/case.conf" "$T/live.conf"
pd_hup
ok "reload with other [address] settings: logged" \
    pd_log_wait "reload: .*local_part: store insensitive, config sensitive.*; keeping the running config"
is "the running config is kept: still refused" "$(pd_q recipient=bo@example.org | cut -c1-9)" "550 5.7.1"
pd_stop

done_testing
