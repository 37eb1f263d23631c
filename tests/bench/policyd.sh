#!/bin/sh
# Policy service benchmark, one run, side by side on this machine:
#   floor     a minimal C server answering DUNNO (tests/bench/pd_floor.c)
#   postfwd   postfwd2 with an equivalent per-recipient rate rule
#   optgate   optgate-policyd (caps 2/7d, 1/1d) on an N-address store
# each driven by the same load generator (tests/bench/pd_load.c: RCPT then
# END-OF-MESSAGE per message, random stored recipients) over 1, 8 and 100
# persistent connections: requests/s, p50 and p99 latency.  Then end to
# end, smtp-source -> Postfix -> smtp-sink, messages/s: Postfix alone,
# with the floor, with postfwd, with optgate-policyd.  Configurations
# alternate (ABC ABC ..., ABCD ABCD ...); medians of ROUNDS runs each,
# after one uncounted run (round) of each.
# Finally the sync calls optgate-policyd makes while counting.
#
# Env: N (store size, default 10000000), BENCH_SECONDS (per load run,
# default 4), BENCH_ROUNDS (default 5), BENCH_MESSAGES (per end-to-end
# run, default 2000), BENCH_PARTS (default "load e2e": the load-generator
# table with the sync count, and the end-to-end table), BENCH_COUNTERS
# (empty, the default, or weekly: a send 3 days ago per address).
# Ports: 10050-10053 (policy), 25150-25151 (SMTP).
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"
BB="$TOP/${BUILD:-build}/bench"
N=${N:-10000000}
SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-5}
PARTS=${BENCH_PARTS:-load e2e}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
MSGS=${BENCH_MESSAGES:-2000}
P_FLOOR=10050
P_POSTFWD=10051
P_OPTGATE=10052
D=$(mktemp -d /tmp/optgate-pdbench.XXXXXX)
chmod 755 "$D"
PIDS=""
bench_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	# postfwd2 daemonizes into its own process group: end all of it.
	if [ -f "$D/postfwd.pid" ]; then
		_g=$(ps -o pgid= -p "$(cat "$D/postfwd.pid")" | tr -d ' ')
		[ -n "$_g" ] && kill -TERM "-$_g" 2>/dev/null
		sleep 0.5
		[ -n "$_g" ] && kill -KILL "-$_g" 2>/dev/null
	fi
	sleep 0.5
	rm -rf "$D"
}
trap bench_cleanup EXIT
pf_cleanup_add bench_cleanup

get() { echo "$1" | sed -n "s/.*$2=\([^ ]*\).*/\1/p"; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.0f%%", 100 * a / b; else print "-"}'; }

wait_port() {
	_i=0
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.5)" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -ge 100 ] && return 1
		sleep 0.1
	done
}

# --- the store: N addresses opted in to stream "news" ---
t0=$(date +%s)
# The lead's bulk loader (tests/bench/og_bench.c, og_store_apply batches);
# pd_load draws recipients from the same address function.
how="og_bench load"
"$BB/og_bench" load "$D/store" "$N" >/dev/null || { echo "store load failed"; exit 1; }
echo "store: $N addresses via $how in $(( $(date +%s) - t0 ))s, $(du -sh "$D/store" | cut -f1) on disk"
# BENCH_COUNTERS=weekly: the counters as a server has them that counts a
# list mailed weekly, one send three days ago per address (og_bench
# counted), so every decision reads a counter and every count rewrites
# one in a tree of N.  The default, new counters, flatters
# optgate-policyd: see README (Benchmark).
if [ "${BENCH_COUNTERS:-empty}" = weekly ]; then
	t0=$(date +%s)
	"$BB/og_bench" counted "$D/store" "$N" 2>/dev/null || { echo "counting failed"; exit 1; }
	echo "counters: one send 3 days ago for each address in $(( $(date +%s) - t0 ))s, $(du -sh "$D/store/counters" | cut -f1) on disk"
else
	echo "counters: empty"
fi

cat >"$D/optgate.conf" <<EOF
[store]
path = $D/store
[policyd]
listen = inet:127.0.0.1:$P_OPTGATE
max_connections = 2000
[stream news]
match = sender:news@example.com
consent = confirmed
caps = 2/7d, 1/1d
[stream e2e]
match = sender:bench@example.com
consent = none
EOF
# postfwd: the same per-recipient limit for the same sender (2 per 7 days),
# and a pass-through limit for the end-to-end sender.
cat >"$D/postfwd.cf" <<EOF
id=CAP1; protocol_state==RCPT; sender==news@example.com; action=rate(recipient/2/604800/550 5.7.1 frequency cap reached)
id=E2E1; protocol_state==RCPT; sender==bench@example.com; action=rate(recipient/1000000/604800/550 5.7.1 frequency cap reached)
EOF

"$BB/pd_floor" $P_FLOOR &
PIDS="$PIDS $!"
"$TOP/${BUILD:-build}/bin/optgate-policyd" -f -c "$D/optgate.conf" 2>"$D/policyd.log" &
OG_PID=$!
PIDS="$PIDS $OG_PID"
postfwd2 -f "$D/postfwd.cf" -i 127.0.0.1 -p $P_POSTFWD -u nobody -g nogroup \
    --pidfile "$D/postfwd.pid" --nodns --perfmon >/dev/null 2>&1
for p in $P_FLOOR $P_POSTFWD $P_OPTGATE; do
	wait_port $p || { echo "server on port $p did not start"; exit 1; }
done

if part load; then
	echo
	echo "load generator: pd_load, RCPT + END-OF-MESSAGE per message, ${SECS}s per run, median of $ROUNDS (alternating)"
	printf '%-6s %-9s %10s %9s %9s %9s\n' conns server "req/s" "p50 us" "p99 us" "vs floor"
	# One uncounted run each first: the store's pages are mapped and
	# the connections' first costs paid before anything is measured.
	for s in floor postfwd optgate; do
		eval "port=\$P_$(echo $s | tr a-z A-Z)"
		"$BB/pd_load" "$port" 8 1 "$N" >/dev/null
	done
	for c in 1 8 100; do
		for s in floor postfwd optgate; do eval "r_$s='' a_$s='' b_$s=''"; done
		for r in $(seq 1 "$ROUNDS"); do
			for s in floor postfwd optgate; do
				eval "port=\$P_$(echo $s | tr a-z A-Z)"
				o=$("$BB/pd_load" "$port" "$c" "$SECS" "$N")
				eval "r_$s=\"\$r_$s $(get "$o" rate)\""
				eval "a_$s=\"\$a_$s $(get "$o" p50_us)\""
				eval "b_$s=\"\$b_$s $(get "$o" p99_us)\""
			done
		done
		fl=$(echo $r_floor | median)
		for s in floor postfwd optgate; do
			eval "rr=\$(echo \$r_$s | median); aa=\$(echo \$a_$s | median); bb=\$(echo \$b_$s | median)"
			printf '%-6s %-9s %10s %9s %9s %9s\n' "$c" "$s" "$rr" "$aa" "$bb" "$(pct "$rr" "$fl")"
			eval "M_${s}_$c=$rr P99_${s}_$c=$bb"
		done
	done
	echo
	echo "optgate-policyd / postfwd req/s: 1 conn $(pct "$M_optgate_1" "$M_postfwd_1"), 8 conns $(pct "$M_optgate_8" "$M_postfwd_8"), 100 conns $(pct "$M_optgate_100" "$M_postfwd_100") (target >= 1000%)"
	echo "floor / postfwd req/s (what any server could reach): 1 conn $(pct "$M_floor_1" "$M_postfwd_1"), 8 conns $(pct "$M_floor_8" "$M_postfwd_8"), 100 conns $(pct "$M_floor_100" "$M_postfwd_100")"
	echo "optgate-policyd / floor req/s: 1 conn $(pct "$M_optgate_1" "$M_floor_1"), 8 conns $(pct "$M_optgate_8" "$M_floor_8"), 100 conns $(pct "$M_optgate_100" "$M_floor_100") (target >= 70%)"
	echo "p99 at 8 connections: optgate-policyd ${P99_optgate_8} us, floor ${P99_floor_8} us, postfwd ${P99_postfwd_8} us (target < 500 us)"

	# --- sync calls while counting ---
	if command -v strace >/dev/null 2>&1; then
		strace -f -p "$OG_PID" -e trace=fsync,fdatasync,msync,sync_file_range,epoll_wait \
		    -c -o "$D/strace.out" 2>"$D/strace.err" &
		spid=$!
		# until it says it attached (at most 5 s)
		i=0
		while [ $i -lt 50 ] && ! grep -q attached "$D/strace.err"; do
			sleep 0.1
			i=$((i + 1))
		done
		o=$("$BB/pd_load" "$P_OPTGATE" 8 3 "$N")
		kill -INT $spid 2>/dev/null
		wait $spid 2>/dev/null
		syncs=$(awk '$NF ~ /^(fsync|fdatasync|msync|sync_file_range)$/ {n += $4} END {print n + 0}' "$D/strace.out")
		# The loop's epoll_wait calls show strace attached: without
		# them an empty table would read as no sync call.
		grep -q ' epoll_wait$' "$D/strace.out" 2>/dev/null ||
		    syncs="unknown (strace did not attach)"
		echo "sync calls by optgate-policyd during $(( $(get "$o" requests) / 2 )) messages in 3s: $syncs (counters are synced every [store] counter_sync = 1s, not per message)"
	fi
fi

part e2e || exit 0

# --- end to end: smtp-source -> Postfix -> smtp-sink ---
kill $OG_PID 2>/dev/null
wait $OG_PID 2>/dev/null
"$TOP/${BUILD:-build}/bin/optgate-policyd" -f -c "$D/optgate.conf" 2>"$D/policyd.log" &
OG_PID=$!
PIDS="$PIDS $OG_PID"
wait_port $P_OPTGATE
pf_start 25150 25151 "default_process_limit=200" \
    "smtpd_policy_service_default_action=451 4.3.5 Policy service unavailable" >/dev/null ||
    { echo "postfix did not start"; exit 1; }
setcfg() {
	case $1 in
	alone) pf_conf "smtpd_recipient_restrictions=permit_mynetworks, reject" \
	    "smtpd_end_of_data_restrictions=" ;;
	floor) pf_conf "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$P_FLOOR, permit_mynetworks, reject" \
	    "smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:$P_FLOOR" ;;
	postfwd) pf_conf "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$P_POSTFWD, permit_mynetworks, reject" \
	    "smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:$P_POSTFWD" ;;
	optgate) pf_conf "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$P_OPTGATE, permit_mynetworks, reject" \
	    "smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:$P_OPTGATE" ;;
	esac
	pf_reload
	sleep 1
}
echo
echo "end to end: smtp-source -s 8 -m $MSGS (unique recipients) -> Postfix -> smtp-sink, median of $ROUNDS (alternating)"
for s in alone floor postfwd optgate; do eval "e_$s=''"; done
# Round 0 is not counted: the first runs on a new queue are faster (no
# writeback of earlier runs yet), and only the first configurations of
# the round would get that.
for r in $(seq 0 "$ROUNDS"); do
	for s in alone floor postfwd optgate; do
		setcfg $s
		pf_sink_clear
		t0=$(date +%s.%N)
		smtp-source -s 8 -m "$MSGS" -f bench@example.com -t r@dest.example -N \
		    -c 127.0.0.1:25150 >/dev/null 2>"$D/src.err"
		t1=$(date +%s.%N)
		rate=$(awk -v a="$t0" -v b="$t1" -v m="$MSGS" 'BEGIN {printf "%.0f", m / (b - a)}')
		[ "$r" -gt 0 ] && eval "e_$s=\"\$e_$s $rate\""
		pf_wait_queue_empty 60 || true
	done
done
ea=$(echo $e_alone | median)
printf '%-22s %12s %12s  %s\n' configuration "messages/s" "vs alone" "runs"
for s in alone floor postfwd optgate; do
	eval "m=\$(echo \$e_$s | median)"
	eval "E_$s=$m"
	eval "runs=\$e_$s"
	printf '%-22s %12s %12s  %s\n' "$s" "$m" "$(pct "$m" "$ea")" "$runs"
done
echo "optgate-policyd / floor end to end: $(pct "$E_optgate" "$E_floor") (target >= 95%)"
grep -q 'refused\|error' "$D/src.err" && { echo "smtp-source errors:"; head -3 "$D/src.err"; }
exit 0
