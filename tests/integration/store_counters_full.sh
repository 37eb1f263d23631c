#!/bin/sh
# The send counters at their ceiling (counter_map_size), with real
# processes: optgate-policyd counting accepted mail until the counters
# are full says which key to raise, and 'optgate expire' (the hourly cron
# job) frees them, after which counting resumes; a reader of the counters
# killed -9 inside its transaction (its slot pins every page freed since,
# so the map fills) costs no count.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"

pd_setup 10046
cat >"$PD_CONF" <<EOF
[store]
path = $PD_T/store
counter_map_size = 1M
[keys]
file = $PD_T/keys
[policyd]
listen = inet:127.0.0.1:10046
[stream news]
match = sender:news@example.com
consent = optin
caps = 32/7d
EOF
pd_init
awk 'BEGIN { print "address,stream,state,time,source,ip"
	for (i = 1; i <= 14000; i++)
		printf "u%d@example.com,news,optin,2026-01-01T00:00:00Z,signup,192.0.2.1\n", i }' \
    >"$PD_T/list.csv"
og import "$PD_T/list.csv" >/dev/null 2>&1 || fail "import"
ok "policyd starts" pd_start

# Mail to u FROM..TO, one message each, as smtpd asks (RCPT, then
# END-OF-MESSAGE, which counts the send); prints "accepted N".
sends() {
	python3 - 127.0.0.1 10046 "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
f = s.makefile("r")
def ask(state, rcpt, inst):
    s.sendall(("request=smtpd_access_policy\nprotocol_state=%s\n"
               "sender=news@example.com\nrecipient=%s\ninstance=%s\n"
               "recipient_count=1\n\n" % (state, rcpt, inst)).encode())
    lines = []
    while True:
        l = f.readline()
        if not l or l == "\n":
            break
        lines.append(l.strip())
    return lines[0] if lines else "CLOSED"
n = 0
for i in range(int(sys.argv[3]), int(sys.argv[4]) + 1):
    if ask("RCPT", "u%d@example.com" % i, "m%d" % i) == "action=DUNNO":
        ask("END-OF-MESSAGE", "", "m%d" % i)
        n += 1
print("accepted", n)
PY
}
full_lines() { pd_log_count 'counting .* sends'; }
# The writer thread commits the sends after the answers, in batches.  A
# RCPT for the last recipient sent to is answered only once its pending
# send was committed (or failed), every earlier one with it: wait for
# that answer, not a guessed time (no instance: no transaction left open).
drained() { # N: wait until the sends up to uN@ were committed or failed
	_r=$(pd_q sender=news@example.com "recipient=u$1@example.com" instance=)
	[ "$_r" = DUNNO ] ||
	    fail "the writer thread committed the sends up to u$1@ (a RCPT for it answered $_r)"
}

# --- the counters really full ----------------------------------------------
sends 1 14000 >/dev/null
drained 14000
like "counters full: the warning names counter_map_size" \
    "$(grep -m1 'counting .* sends' "$PD_LOG")" \
    "*send counters are full (counter_map_size reached): raise \[store\] counter_map_size*"
n0=$(full_lines)
# A year on, every send is past the longest window: expire drops them all
# (at the ceiling, where a delete has few free pages to copy into).
out=$(OPTGATE_NOW=$(($(date +%s) + 400 * 86400)) og expire 2>&1)
is "expire on full counters exits 0" "$?" 0
like "and drops the counters" "$out" "*, 1[0-9][0-9][0-9][0-9] counter records dropped*"
sends 1 500 >/dev/null
drained 500
is "counting works again after expire" "$(pd_log_count 'counting .* sends')" "$n0"
is "the counters verify" "$(og verify >/dev/null 2>&1; echo $?)" 0

# --- a reader killed in its transaction -------------------------------------
sends 1 3000 >/dev/null
# mdb_dump holds one read transaction while it writes; nobody reads the
# pipe, so it blocks inside it, and is killed there.
mkfifo "$PD_T/fifo"
sleep 30 <"$PD_T/fifo" &
spid=$!
mdb_dump -s main "$PD_T/store/counters" >"$PD_T/fifo" &
dpid=$!
i=0
until mdb_stat -r "$PD_T/store/counters" 2>/dev/null | grep -q ' [0-9][0-9]*$' ||
    [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -9 "$dpid" "$spid"
wait "$dpid" "$spid" 2>/dev/null
for r in 1 2 3; do
	sends 1 3000 >/dev/null
done
drained 3000
is "a killed reader's pinned pages: every send counted" "$(full_lines)" "$n0"
like "its slot cleared at the full map, said" \
    "$(grep 'stale reader' "$PD_LOG")" "*counters: map full: cleared 1 stale reader slots*"

pd_stop
done_testing
