#!/bin/sh
# The admin commands' lines in the mail log: a colleague's optout,
# suppress, unsuppress, optin, confirm, import, import-hashed, expire,
# keygen or erase is one line in syslog (mail facility) beside the
# daemons' decisions, with who ran it; a refused command, or one that
# changed nothing in bulk, writes none; no syslog fails nothing.
# Received by a real syslog socket of ours (tests/lib/syslog.sh).
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/syslog.sh"

T=$(mktemp -d /tmp/og-admin-log.XXXXXX)
trap 'syslog_stop; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cat >"$T/optgate.conf" <<EOF
[store]
path = $T/store
[keys]
file = $T/keys
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
partner = acme
EOF
O="$BIN/optgate"
og() { "$O" -c "$T/optgate.conf" "$@"; }
lg() { syslog_run "$O" -c "$T/optgate.conf" "$@"; }
og init >/dev/null 2>&1 || { echo "not ok 1 - optgate init"; exit 1; }
if ! syslog_start "$T/syslog"; then
	echo "ok 1 # SKIP needs root, unshare and python3 (a private /dev/log)"
	echo "1..1"
	exit 0
fi
me=$(id -un)
H='<22>*optgate\[[0-9]*\]: ' # mail.info, Postfix-style name[pid]

# --- one line per address changed ---------------------------------------
out=$(lg optin ana@example.org --stream news --single)
is "optin: recorded" "$out" "ana@example.org: optin (single): recorded"
like "optin: its line" "$(syslog_last)" "${H}optin: to=<ana@example.org>, scope=stream:news, state=optin, result=recorded, source=\"admin\", user=$me"

out=$(lg optout ana@example.org --stream news --source "phone call, ticket 4")
is "optout: recorded" "$out" "ana@example.org: optout (stream news): recorded"
like "optout: the line names address, scope, who, and the source quoted" \
    "$(syslog_last)" "${H}optout: to=<ana@example.org>, scope=stream:news, result=recorded, source=\"phone call, ticket 4\", user=$me"
is "optout: one line" "$(syslog_last | wc -l)" 1

lg optin ana@example.org --stream news --single \
    --time 2026-01-01T00:00:00Z >/dev/null
like "an older opt-in: skipped, and logged so" "$(syslog_last)" \
    "${H}optin: to=<ana@example.org>, * result=skipped(optout-holds), *"

OPTGATE_NOW=1780272000 lg suppress ana@example.org --reason manual \
    --expires 2d --note 'asked by "phone"' >/dev/null
like "suppress: reason, expiry, note (quotes escaped)" "$(syslog_last)" \
    "${H}suppress: to=<ana@example.org>, scope=all, reason=manual, expires=2026-06-03T00:00:00Z, result=recorded, source=\"admin\", note=\"asked by \\\\x22phone\\\\x22\", user=$me"

lg unsuppress ana@example.org --all >/dev/null
like "unsuppress: its line" "$(syslog_last)" \
    "${H}unsuppress: to=<ana@example.org>, scope=all, result=recorded, *user=$me"
lg unsuppress ana@example.org --all >/dev/null
like "unsuppress again: unchanged" "$(syslog_last)" \
    "${H}unsuppress: to=<ana@example.org>, scope=all, result=unchanged, *"

out=$(lg --json optout bia@example.org --partner acme)
like "optout --json: recorded" "$out" '*"result":"recorded"*'
like "optout --json: logged too, scope as the gate names it" \
    "$(syslog_last)" "${H}optout: to=<bia@example.org>, scope=partner:acme, result=recorded, *"

# double opt-in, confirmation; a confirmation a later opt-out withdrew
tok=$(lg optin cid@example.org --stream news --double | sed -n 's/.* confirm //p')
like "double opt-in: pending, logged" "$(syslog_last)" \
    "${H}optin: to=<cid@example.org>, scope=stream:news, state=pending, result=recorded, *"
lg confirm "$tok" >/dev/null
like "confirm: its line" "$(syslog_last)" \
    "${H}confirm: to=<cid@example.org>, scope=stream:news, result=recorded, source=\"confirmation\", user=$me"
tok=$(og optin dan@example.org --stream news --double | sed -n 's/.* confirm //p')
og optout dan@example.org --all >/dev/null
lg confirm "$tok" >/dev/null
like "confirm after an opt-out of all: skipped(withdrawn)" "$(syslog_last)" \
    "${H}confirm: to=<dan@example.org>, scope=stream:news, result=skipped(withdrawn), *"

# run as root from another login (sudo from alice's ssh session): the
# session's login uid (/proc/self/loginuid, as pam_loginuid sets it)
if sh -c 'echo 65534 >/proc/self/loginuid' 2>/dev/null; then
	syslog_run sh -c 'echo 65534 >/proc/self/loginuid && exec "$@"' sh \
	    "$O" -c "$T/optgate.conf" optout ivy@example.org --all >/dev/null
	like "under sudo: the login that ran it, beside the user" \
	    "$(syslog_last)" "${H}optout: to=<ivy@example.org>, *, user=$me, login=$(id -un 65534)"
else
	echo "ok - # SKIP login uid: cannot set /proc/self/loginuid here"
fi

# --- refused: nothing changed, nothing logged ---------------------------
lg optout nobody --all >/dev/null 2>&1
is "optout of a bad address: exit 1" "$?" 1
is "optout of a bad address: no line" "$(syslog_last)" ""
lg optout ana@example.org --stream nosuch >/dev/null 2>&1
is "optout of an unknown stream: exit 2" "$?" 2
is "optout of an unknown stream: no line" "$(syslog_last)" ""
lg suppress ana@example.org --reason nonsense >/dev/null 2>&1
is "suppress with a bad reason: no line" "$(syslog_last)" ""

# --- bulk: one summary line a run ----------------------------------------
cat >"$T/list.csv" <<'EOF'
address,stream,state
eve@example.org,news,optin
fay@example.org,news,optin
ana@example.org,news,optin
not-an-address,news,optin
EOF
out=$(lg import "$T/list.csv")
like "import: summary" "$out" "*4 lines: 2 imported, 0 unchanged, 1 skipped, 1 rejected*"
like "import: one line with the file and the counts" "$(syslog_last)" \
    "${H}import: file=\"$T/list.csv\", lines=4, imported=2, unchanged=0, skipped=1, rejected=1, warned=0, complete=yes, source=\"import:list.csv\", user=$me"
is "import: one line for the run, none per address" "$(syslog_last | wc -l)" 1
printf 'email;list\nx@example.org;news\n' >"$T/bad.csv"
lg import "$T/bad.csv" >/dev/null 2>&1
is "import of a file it cannot read: exit 2" "$?" 2
is "import of a file it cannot read: no line" "$(syslog_last)" ""

printf '%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/pkey"
chmod 600 "$T/pkey"
printf 'hash\n%064d\n%064d\nnot-a-hash\n' 1 2 >"$T/hashes.csv"
lg import-hashed "$T/hashes.csv" --partner acme --key "$T/pkey" >/dev/null
like "import-hashed: one line with its counts" "$(syslog_last)" \
    "${H}import-hashed: file=\"$T/hashes.csv\", partner=acme, lines=3, added=2, unchanged=0, rejected=1, dropped=0, complete=yes, user=$me"

OPTGATE_NOW=1780272000 og suppress gil@example.org --reason manual \
    --expires 1d >/dev/null
OPTGATE_NOW=1780531200 lg expire >/dev/null
like "expire: one line with what it dropped" "$(syslog_last)" \
    "${H}expire: suppressions_dropped=1, pauses_ended=0, counters_dropped=0, user=$me"
OPTGATE_NOW=1780531200 lg expire >/dev/null
is "expire with nothing to drop (hourly cron): no line" "$(syslog_last)" ""

# --- keygen, erase --------------------------------------------------------
key=$(lg keygen)
like "keygen: its line names the id" "$(syslog_last)" "${H}keygen: id=2, result=printed, user=$me"
case "$(cat "$T/syslog")" in
*"$(echo "$key" | cut -d' ' -f2)"*) fail "keygen: the key is not logged" ;;
*) pass "keygen: the key is not logged" ;;
esac
lg erase eve@example.org >/dev/null 2>&1
like "erase: its line says who, never the address" "$(syslog_last)" \
    "${H}erase: record removed, 1 event stripped, *, user=$me"
case "$(syslog_last)" in
*eve@*) fail "erase: no address in the log" ;;
*) pass "erase: no address in the log" ;;
esac

# --- no syslog: the command still works -----------------------------------
syslog_deaf
out=$(lg optout hal@example.org --all 2>&1)
is "no syslog daemon: optout exits 0" "$?" 0
is "no syslog daemon: the change is made and said" "$out" \
    "hal@example.org: optout (all): recorded"
og status hal@example.org --stream news >/dev/null 2>&1
is "no syslog daemon: the opt-out holds" "$?" 1

done_testing
