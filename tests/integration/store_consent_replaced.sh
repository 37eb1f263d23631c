#!/bin/sh
# Consent restored under running daemons: a restore done without
# stopping them (README, Restoring), or policyd under spawn(8), which
# systemctl stop does not reach.  Before, every daemon kept the old,
# unlinked consent file open: an opt-out recorded in the restored store
# (optgate optout, the pipes) was not enforced by the running policyd and
# milter until they restarted, and optgate-unsubd answered a one-click
# POST 200 and wrote it into the old file, lost at its restart.  Now the
# read-only daemons follow within a counters flush (1 s), and unsubd
# checks before each commit: the opt-out lands in the restored store, or
# (a data.mdb put under the old lock.mdb, which cannot be followed) gets
# 503 so the mailbox provider retries; never 200-and-lost.
# policyd and the milter on unix sockets; unsubd on 127.0.0.1:18092.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

UPORT=18092
UURL=http://127.0.0.1:$UPORT
pd_setup 0
PD_TARGET=unix:$PD_T/policy.sock
S=$PD_T/store
cat >"$PD_CONF" <<EOF
[store]
path = $S
[keys]
file = $PD_T/keys
[policyd]
listen = unix:$PD_T/policy.sock
[milter]
socket = unix:$PD_T/milter.sock
[unsubd]
listen = 127.0.0.1:$UPORT
timeout = 3s
rate_limit = 0
[stream news]
match = sender:news@example.com
consent = optin
unsubscribe = $UURL/u/%t
EOF
pd_init
for p in ana bob cy dan eve; do
	og optin $p@example.org --stream news --single >/dev/null
done
ok "policyd starts" pd_start
"$BIN/optgate-milter" -f -c "$PD_CONF" 2>"$PD_T/milter.log" &
MPID=$!
"$BIN/optgate-unsubd" -f -c "$PD_CONF" 2>"$PD_T/unsubd.log" &
UPID=$!
trap 'kill $MPID $UPID 2>/dev/null; pd_cleanup' EXIT
i=0
while { [ ! -S "$PD_T/milter.sock" ] ||
    ! curl -s -o /dev/null --max-time 1 "$UURL/healthz"; } && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ok "unsubd serves" curl -s -o /dev/null --max-time 1 "$UURL/healthz"

# The running policyd's answer for PERSON, polled up to SECS seconds for
# one that starts with WANT.
answer() {
	_i=0
	while :; do
		_a=$(pd_q recipient="$1" sender=news@example.com instance=i$_i$1)
		case "$_a" in "$2"*) break ;; esac
		[ $_i -ge $(($3 * 10)) ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "$_a"
}
# A one-click POST for PERSON to the running unsubd: the HTTP status.
oneclick() {
	_t=$(og token "$1" --stream news | sed -n 's/^token: //p')
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
	    -d List-Unsubscribe=One-Click "$UURL/u/$_t"
}
# What optgate status says of PERSON's news consent.
state() {
	og status "$1" --stream news | sed -n 's/^ *stream  *news  *\([a-z]*\).*/\1/p'
}

is "ana's message passes" "$(answer ana@example.org DUNNO 0)" DUNNO
ok "policyd has consent/data.mdb open" sh -c "ls -l /proc/$PD_PID/fd | grep -q '$S/consent/data.mdb'"
og backup "$PD_T/bk" >/dev/null 2>&1
is "backup while the daemons run: exit 0" "$?" 0

# The README's restore, without stopping the daemons.
mkdir "$PD_T/broken"
mv "$S/consent" "$S/counters" "$PD_T/broken/"
cp -a "$PD_T/bk/consent" "$PD_T/bk/counters" "$S/"
og optout ana@example.org --stream news >/dev/null
is "optgate optout into the restored store: exit 0" "$?" 0
like "the running policyd enforces it within 2 s" \
    "$(answer ana@example.org 550 2)" "550 5.7.1*"
like "and says once that it follows" "$(cat "$PD_LOG")" \
    "*optgate-policyd*: warning: $S/consent was replaced under this process: using the store now there*"
is "one line" "$(pd_log_count 'consent was replaced')" 1
i=0
while ! grep -q 'consent was replaced' "$PD_T/milter.log" && [ $i -lt 40 ]; do
	sleep 0.1
	i=$((i + 1))
done
like "the milter follows too" "$(cat "$PD_T/milter.log")" \
    "*optgate-milter\[$MPID\]: warning: $S/consent was replaced under this process: using the store now there*"
ok "policyd let go of the old consent file" sh -c "! ls -l /proc/$PD_PID/fd | grep -q '$PD_T/broken/consent'"
ok "the milter too" sh -c "! ls -l /proc/$MPID/fd | grep -q '$PD_T/broken/consent'"

# unsubd's minute tick has not come: its committer checks first.
is "one-click for bob after the restore: 200" "$(oneclick bob@example.org)" 200
is "optgate status: bob's opt-out is in the restored store" \
    "$(state bob@example.org)" optout
like "unsubd says it follows" "$(cat "$PD_T/unsubd.log")" \
    "*optgate-unsubd\[$UPID\]: warning: $S/consent was replaced under this process: using the store now there*"
ok "unsubd let go of the old consent file" sh -c "! ls -l /proc/$UPID/fd | grep -q '$PD_T/broken/consent'"
like "policyd enforces bob's one-click" \
    "$(answer bob@example.org 550 2)" "550 5.7.1*"

# Only data.mdb put back, its lock.mdb kept: not followed (one process
# must not open a lock file twice).  unsubd refuses rather than write
# into the file nobody reads; policyd says so once.
og backup "$PD_T/bk2" >/dev/null 2>&1
cp "$PD_T/bk2/consent/data.mdb" "$S/consent/data.new"
mv "$S/consent/data.new" "$S/consent/data.mdb"
is "one-click for cy with data.mdb replaced alone: 503, not 200" \
    "$(oneclick cy@example.org)" 503
like "unsubd says why" "$(cat "$PD_T/unsubd.log")" \
    "*warning: $S/consent/data.mdb was removed or replaced, its lock.mdb kept: this process cannot follow it*restart the daemons*"
ok "policyd says so too" pd_log_wait 'consent/data.mdb was removed or replaced, its lock.mdb kept' 3
is "... once" "$(pd_log_count 'its lock.mdb kept')" 1
is "a retry: 503 again" "$(oneclick cy@example.org)" 503
kill "$UPID"
wait "$UPID"
is "unsubd stops cleanly" "$?" 0
"$BIN/optgate-unsubd" -f -c "$PD_CONF" 2>>"$PD_T/unsubd.log" &
UPID=$!
i=0
while ! curl -s -o /dev/null --max-time 1 "$UURL/healthz" && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "after a restart the provider's retry: 200" "$(oneclick cy@example.org)" 200
is "and cy's opt-out is in the store" "$(state cy@example.org)" optout

ok "policyd stops cleanly" pd_stop
kill "$MPID" "$UPID"
wait "$MPID"
is "the milter stops cleanly" "$?" 0
wait "$UPID"
done_testing
