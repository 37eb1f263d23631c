#!/bin/sh
# Milter benchmark: smtp-source -> Postfix -> smtp-sink on loopback,
# messages/s, side by side in one run:
#   postfix      Postfix alone
#   floor        + a minimal libmilter milter adding one header at EOM
#   optgate      + optgate-milter (N-address store, default 10M)
#   dkim         + OpenDKIM signing
#   optgate+dkim + optgate-milter, then OpenDKIM
#   daemons      + optgate-policyd and optgate-milter (when policyd is built)
# Milters over a unix socket and over loopback TCP.  The configurations
# alternate (ABCDE ABCDE ...), ROUNDS rounds (default 5), medians.  Then
# the peak memory of optgate-milter under 100 concurrent sessions.
#
#   N=1000000 ROUNDS=3 MSGS=1000 SESSIONS=10 sh tests/bench/milter.sh
#   BENCH_ONLY="floor-tcp optgate-tcp" ...   only these configurations
#
# One Postfix instance with one smtpd listener per configuration (ports
# 25250-25259), milters on 10070-10079; nothing outside /tmp.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
BIN="$TOP/$BUILD/bin"
N=${N:-10000000}
ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-2000}
SESSIONS=${SESSIONS:-10}
PF_SINK_DUMP=0
. "$TOP/tests/lib/postfix.sh"

D=$(mktemp -d /tmp/og-bench-milter.XXXXXX) || exit 1
chmod 755 "$D"
mkdir -p "$D/sock"
chown postfix "$D/sock"
PIDS=
bench_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP
# postfix.sh takes over the EXIT trap at pf_init; it runs this then.
pf_cleanup_add bench_cleanup

wait_sock() { # unix path or tcp port
	_i=0
	while [ $_i -lt 200 ]; do
		case "$1" in
		/*) [ -S "$1" ] && return 0 ;;
		*) ss -ltn | grep -q "127.0.0.1:$1 " && return 0 ;;
		esac
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "bench: $1 did not come up" >&2
	return 1
}

# --- the store: N addresses through the library's bulk path ----------
t0=$(date +%s)
"$TOP/$BUILD/bench/og_bench" load "$D/store" "$N" >"$D/load.out" 2>&1 || {
	cat "$D/load.out"
	exit 1
}
(umask 077 && "$BIN/optgate" keygen >"$D/keys")
cat >"$D/base.conf" <<EOF
[store]
path = $D/store
[keys]
file = $D/keys
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = confirmed
unsubscribe = https://unsub.example.com/u/%t, mailto:unsub+%t@example.com
EOF
"$BIN/optgate" -c "$D/base.conf" optin bench@example.com --stream news \
    >/dev/null || exit 1
chown -R postfix "$D/store" "$D/keys"
echo "store: $N addresses loaded in $(($(date +%s) - t0)) s"

mkconf() { # NAME SOCKET [EXTRA]
	{
		sed -n '1,4p' "$D/base.conf"
		printf '[milter]\nsocket = %s\nuser = postfix\n%s\n' "$2" "${3:-}"
		printf '[policyd]\nlisten = inet:127.0.0.1:10076\nuser = postfix\n'
		sed -n '5,$p' "$D/base.conf"
	} >"$D/$1.conf"
}

# --- the milters ------------------------------------------------------
FLOOR="$TOP/$BUILD/test/milter/floor-milter"
setpriv --reuid=postfix --regid=postfix --init-groups "$FLOOR" "unix:$D/sock/floor.sock" &
FLPID=$!
PIDS="$PIDS $!"
setpriv --reuid=postfix --regid=postfix --init-groups "$FLOOR" "inet:10070@127.0.0.1" &
PIDS="$PIDS $!"
mkconf og-unix "unix:$D/sock/og.sock"
mkconf og-tcp "inet:10071@127.0.0.1"
"$BIN/optgate-milter" -f -c "$D/og-unix.conf" 2>"$D/og-unix.log" &
OGPID=$!
PIDS="$PIDS $!"
"$BIN/optgate-milter" -f -c "$D/og-tcp.conf" 2>"$D/og-tcp.log" &
OGTPID=$!
PIDS="$PIDS $!"
POLICYD=
if [ -x "$BIN/optgate-policyd" ]; then
	POLICYD=$BIN/optgate-policyd
	mkconf og-pd "unix:$D/sock/og-pd.sock" "policyd = yes"
	"$BIN/optgate-milter" -f -c "$D/og-pd.conf" 2>"$D/og-pd.log" &
	PIDS="$PIDS $!"
	"$POLICYD" -f -c "$D/og-pd.conf" 2>"$D/policyd.log" &
	PIDS="$PIDS $!"
fi
opendkim-genkey -D "$D" -d example.com -s sel || exit 1
chown postfix "$D/sel.private"
for v in unix tcp; do
	if [ $v = unix ]; then s="local:$D/sock/dkim.sock"; else s="inet:10072@127.0.0.1"; fi
	{
		grep -v '^#' "$TOP/conf/opendkim-optgate.conf" | grep -v '^$'
		printf 'Domain example.com\nSelector sel\nKeyFile %s\n' "$D/sel.private"
		printf 'Socket %s\nInternalHosts 127.0.0.1\nRequireSafeKeys false\n' "$s"
		printf 'Syslog no\nBackground no\nUserID postfix\nUMask 007\n'
		printf 'PidFile %s/dkim-%s.pid\n' "$D" "$v"
	} >"$D/dkim-$v.conf"
	opendkim -f -x "$D/dkim-$v.conf" >"$D/dkim-$v.log" 2>&1 &
	PIDS="$PIDS $!"
done
for s in "$D/sock/floor.sock" 10070 "$D/sock/og.sock" 10071 \
    "$D/sock/dkim.sock" 10072; do
	wait_sock "$s" || exit 1
done

# --- Postfix: one smtpd per configuration ------------------------------
pf_init 25240 25241 milter_default_action=tempfail milter_protocol=6 \
    default_process_limit=150 || exit 1
U="unix:$D/sock"
T="inet:127.0.0.1"
CONFIGS="postfix floor-unix floor-tcp optgate-unix optgate-tcp dkim-unix dkim-tcp optgate+dkim-unix optgate+dkim-tcp"
port=25250
for c in $CONFIGS; do
	case $c in
	postfix) m= ;;
	floor-unix) m="$U/floor.sock" ;;
	floor-tcp) m="$T:10070" ;;
	optgate-unix) m="$U/og.sock" ;;
	optgate-tcp) m="$T:10071" ;;
	dkim-unix) m="$U/dkim.sock" ;;
	dkim-tcp) m="$T:10072" ;;
	optgate+dkim-unix) m="$U/og.sock,$U/dkim.sock" ;;
	optgate+dkim-tcp) m="$T:10071,$T:10072" ;;
	esac
	pf_master "127.0.0.1:$port inet n - n - - smtpd
  -o smtpd_milters=$m"
	eval "PORT_$(echo "$c" | tr '+-' '__')=$port"
	port=$((port + 1))
done
if [ -n "$POLICYD" ]; then
	wait_sock "$D/sock/og-pd.sock" && wait_sock 10076 || exit 1
	CONFIGS="$CONFIGS daemons"
	pf_master "127.0.0.1:$port inet n - n - - smtpd
  -o smtpd_milters=$U/og-pd.sock
  -o {smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:10076, permit_mynetworks, reject}
  -o {smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:10076}"
	PORT_daemons=$port
fi
pf_start 25240 25241 || exit 1
# BENCH_ONLY="optgate-unix optgate-tcp": measure only these.
[ -n "${BENCH_ONLY:-}" ] && CONFIGS=$BENCH_ONLY

printf 'From: News <news@example.com>\r\nTo: <bench@example.com>\r\nSubject: bench\r\nX-Optgate-Stream: news\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n%s\r\n' \
    "$(head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 70)" >"$D/msg"

portof() { eval "echo \$PORT_$(echo "$1" | tr '+-' '__')"; }

# Every configuration must really accept (a refusal would look fast).
for c in $CONFIGS; do
	out=$(PF_PORT=$(portof "$c") pf_send news@example.com bench@example.com "$D/msg")
	case "$out" in
	*"DATA 250"*) ;;
	*) echo "bench: $c does not accept mail: $out" >&2; exit 1 ;;
	esac
done
pf_wait_queue_empty 60

cpu() { # PID -> utime+stime in clock ticks
	awk '{print $14 + $15}' "/proc/$1/stat"
}

run() { # CONFIG -> messages/s
	_p=$(portof "$1")
	_c0=$(cpu "$OGPID")
	_c0t=$(cpu "$OGTPID")
	_c0f=$(cpu "$FLPID")
	_t0=$(date +%s.%N)
	smtp-source -d -s "$SESSIONS" -m "$MSGS" -F "$D/msg" \
	    -f news@example.com -t bench@example.com "127.0.0.1:$_p" \
	    2>"$D/err"
	_t1=$(date +%s.%N)
	if [ -s "$D/err" ]; then
		echo "bench: $1: smtp-source: $(head -3 "$D/err")" >&2
	fi
	case "$1" in
	optgate*-unix) echo "$(($(cpu "$OGPID") - _c0))" >>"$D/cpu" ;;
	optgate*-tcp) echo "$(($(cpu "$OGTPID") - _c0t))" >>"$D/cpu" ;;
	floor-unix) echo "$(($(cpu "$FLPID") - _c0f))" >>"$D/cpu-floor" ;;
	esac
	pf_wait_queue_empty 120
	awk -v m="$MSGS" -v a="$_t0" -v b="$_t1" 'BEGIN {printf "%.0f", m / (b - a)}'
}

# BENCH_PERF=1: perf record optgate-milter (unix) during the runs.
if [ "${BENCH_PERF:-0}" = 1 ]; then
	perf record -g -o "$D/perf.data" -p "$OGPID" 2>/dev/null &
	PERFPID=$!
fi
r=1
while [ $r -le "$ROUNDS" ]; do
	for c in $CONFIGS; do
		echo "$c $(run "$c")" >>"$D/results"
	done
	r=$((r + 1))
done

if [ "${BENCH_PERF:-0}" = 1 ]; then
	kill -INT "$PERFPID"
	wait "$PERFPID"
	perf report -i "$D/perf.data" --no-children --stdio -g none --sort dso,sym 2>/dev/null |
	    grep -v '^$' | head -60 >"${BENCH_PERF_OUT:-/tmp/og-milter-perf.txt}"
fi
median() {
	grep "^$1 " "$D/results" | cut -d' ' -f2 | sort -n |
	    awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2];
	        else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
all() { grep "^$1 " "$D/results" | cut -d' ' -f2 | tr '\n' ' '; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.0f%%", 100 * a / b; else print "-"}'; }

base=$(median postfix)
fu=$(median floor-unix)
ft=$(median floor-tcp)
ou=$(median optgate-unix)
echo
echo "smtp-source -d -s $SESSIONS -m $MSGS (3 KB message) -> Postfix -> smtp-sink;"
echo "messages/s, median of $ROUNDS alternating rounds (all runs in brackets)"
printf '%-20s %9s %9s %9s  %s\n' configuration msgs/s "vs alone" \
    "vs floor" "runs (vs floor: the floor milter on its unix socket)"
for c in $CONFIGS; do
	m=$(median "$c")
	fl=$fu
	printf '%-20s %9s %9s %9s  [%s]\n' "$c" "$m" "$(pct "$m" "$base")" \
	    "$(pct "$m" "$fl")" "$(all "$c")"
done
printf '%-44s %s\n' "optgate-milter CPU per message (user+sys):" \
    "$(awk -v m="$MSGS" -v hz="$(getconf CLK_TCK)" '{t += $1; n++}
        END {if (n) printf "%.3f ms", 1000 * t / hz / (n * m)}' "$D/cpu")"
printf '%-44s %s\n' "floor milter CPU per message (user+sys):" \
    "$(awk -v m="$MSGS" -v hz="$(getconf CLK_TCK)" '{t += $1; n++}
        END {if (n) printf "%.3f ms", 1000 * t / hz / (n * m)}' "$D/cpu-floor" 2>/dev/null)"
printf '%-44s %s\n' "optgate-milter TCP / its unix rate:" \
    "$(pct "$(median optgate-tcp)" "$ou")"
printf '%-44s %s\n' "floor milter TCP / its unix rate:" "$(pct "$ft" "$fu")"

# --- memory at 100 concurrent sessions --------------------------------
peak=0
hwm=0
(
	while kill -0 "$OGPID" 2>/dev/null; do
		awk '/^RssAnon:/ {print $2}' "/proc/$OGPID/status"
		sleep 0.05
	done
) >"$D/rss" &
SAMPLER=$!
smtp-source -d -s 100 -m 2000 -F "$D/msg" -f news@example.com \
    -t bench@example.com "127.0.0.1:$PORT_optgate_unix" 2>/dev/null
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$OGPID/status")
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
peak=$(sort -n "$D/rss" | tail -1)
th=$(awk '/^Threads:/ {print $2}' "/proc/$OGPID/status")
echo
printf '%-44s %s KiB\n' "optgate-milter peak RssAnon, 100 sessions:" "$peak"
printf '%-44s %s KiB (includes LMDB map pages)\n' "optgate-milter VmHWM, 100 sessions:" "$hwm"
printf '%-44s %s\n' "optgate-milter threads after the run:" "$th"
pf_wait_queue_empty 60
exit 0
