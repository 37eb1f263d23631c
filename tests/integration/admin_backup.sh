#!/bin/sh
# optgate backup when it does not finish, as an admin meets it: a backup
# cut short (Ctrl-C, kill -9, a crash) after its consent copy is
# refused by verify (exit 3), which leaves the folder as it found it, so
# it is never taken for "the newest backup that verifies".
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-backup.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
mkconf() { # STORE
	cat <<EOF
[store]
path = $1
counter_map_size = 4M
[keys]
file = $T/keys
[stream news]
match = sender:news@example.com
class = marketing
consent = optin
EOF
}
mkconf "$T/store" >"$T/og.conf"
OG="$BIN/optgate -c $T/og.conf"
$OG init >/dev/null 2>&1 || fail "init"
awk 'BEGIN { print "address,stream,state,time,source"
	for (i = 1; i <= 3000; i++) printf "p%d@example.com,news,optin,2026-01-01T00:00:00Z,x\n", i }' >"$T/list.csv"
$OG import "$T/list.csv" >/dev/null 2>&1
$OG optout ana@example.org --all >/dev/null 2>&1

# --- a backup cut short after its consent copy -----------------------------
# kill -9 at random moments during a backup left, in 3 of 17 runs, the
# consent copy whole and no counters yet (the fsync of the consent copy
# takes the time); verify said "ok ... 0 counters", exit 0, and made an
# empty counters environment in the backup itself.
$OG backup "$T/bk" >/dev/null
is "backup: exit 0" "$?" 0
cp -a "$T/bk" "$T/cut"
rm -rf "$T/cut/counters"
$OG verify "$T/cut" >"$T/out" 2>"$T/err"
is "a backup cut short before its counters: verify refuses it, exit 3" "$?" 3
like "... and says what is missing" "$(cat "$T/err")" \
    "*cut/counters/data.mdb: missing*interrupted backup*"
is "... and makes nothing in it" "$(ls "$T/cut")" consent
rm -rf "$T/cut/counters"
mkdir "$T/cut/counters"
$OG verify "$T/cut" >/dev/null 2>&1
is "... cut short after making its counters folder: refused, exit 3" "$?" 3
is "... and that folder stays empty" "$(ls "$T/cut/counters")" ""
rm -rf "$T/cut/consent/data.mdb" "$T/cut/consent/lock.mdb"
$OG verify "$T/cut" >/dev/null 2>"$T/err"
is "... cut short before its consent copy: refused, exit 3" "$?" 3
like "... not told to run init in a backup" "$(cat "$T/err")" \
    "*cut/consent/data.mdb: missing*interrupted backup*"
is "... and nothing made in it" "$(ls "$T/cut/consent")" ""
$OG verify "$T/bk" >/dev/null 2>&1
is "the whole backup still verifies" "$?" 0

done_testing
