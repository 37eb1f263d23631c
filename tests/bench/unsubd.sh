#!/bin/sh
# Benchmark optgate-unsubd (issue 8): one-click POSTs/s and latency at 50
# concurrent keep-alive clients (every POST is synced before its 200;
# concurrent ones share a commit), the same with 1 client (one fsync per
# POST), the disk's own fsync cost, and GET page renders/s.
#
#   sh tests/bench/unsubd.sh            (UNSUBD_N=20000 POSTs by default)
# Port 18090.  Every run is bounded (UNSUBD_SECONDS, default 30 s each).
set -u
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
BIN=$TOP/$BUILD/bin
N=${UNSUBD_N:-20000}
SECS=${UNSUBD_SECONDS:-30}
PORT=18090
LIB=$TOP/$BUILD/lib/liboptgate.a
[ -x "$BIN/optgate-unsubd" ] && [ -f "$LIB" ] || {
	echo "unsubd bench: build first (make)" >&2
	exit 2
}
mkdir -p "$TOP/$BUILD/tmp"
D=$(mktemp -d "$TOP/$BUILD/tmp/unsubd-bench.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT INT TERM

cc -O2 -std=c11 -I"$TOP/lib" -o "$D/load" "$TOP/tests/bench/unsubd_load.c" \
    "$LIB" $(pkg-config --libs lmdb libcrypto libidn2 inih) -lpthread || exit 2
cat >"$D/optgate.conf" <<EOC
[store]
path = $D/store
[keys]
file = $D/keys
[log]
full_address = no
[unsubd]
listen = 127.0.0.1:$PORT
rate_limit = 0
[stream news]
match = header:X-Optgate-Stream=news
consent = optin
description = Weekly newsletter
EOC
"$BIN/optgate" -c "$D/optgate.conf" init >/dev/null || exit 2
"$D/load" -k "$D/keys" -s news -m "$N" >"$D/paths"
"$D/load" -k "$D/keys" -s news -m 2000 -f "$N" >"$D/paths1"

start() {
	"$BIN/optgate-unsubd" -c "$D/optgate.conf" -f >>"$D/log" 2>&1 &
	PID=$!
	i=0
	while [ $i -lt 100 ] && ! curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
		sleep 0.1
		i=$((i + 1))
	done
}
stop() {
	kill "$PID"
	wait "$PID"
	PID=
}

# The disk's fsync cost: 4 KB writes + fdatasync in the store's folder.
FSYNC=$(python3 - "$D/store" <<'EOP'
import os, sys, time
p = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
t = []
for i in range(200):
    os.pwrite(fd, os.urandom(4096), (i % 16) * 4096)
    t0 = time.perf_counter()
    os.fdatasync(fd)
    t.append(time.perf_counter() - t0)
os.close(fd)
os.unlink(p)
t.sort()
print("mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f" % (
    sum(t) / len(t) * 1e3, t[len(t) // 2] * 1e3, t[int(len(t) * .99)] * 1e3))
EOP
)

start
P1=$("$D/load" -p $PORT -c 1 -n 2000 -t "$SECS" "$D/paths1")
stop
S1=$(sed -n 's/.*commit statistics: //p' "$D/log" | tail -1)
start
P50=$("$D/load" -p $PORT -c 50 -n "$N" -t "$SECS" "$D/paths")
G50=$("$D/load" -p $PORT -c 50 -n "$N" -t "$SECS" -g "$D/paths")
stop
S50=$(sed -n 's/.*commit statistics: //p' "$D/log" | tail -1)
# Check: a sample of the acknowledged opt-outs is in the store.
REF=0
for a in user0@bench.example user$((N / 2))@bench.example user$((N - 1))@bench.example; do
	"$BIN/optgate" -c "$D/optgate.conf" status $a --stream news >/dev/null 2>&1
	[ $? -eq 1 ] && REF=$((REF + 1))
done

echo "optgate-unsubd benchmark ($(nproc) cores, $(uname -r), $(df -T "$D" | awk 'NR==2 {print $2}') on $(df "$D" | awk 'NR==2 {print $1}'))"
echo "  disk fsync (4 KB + fdatasync)       $FSYNC"
echo "  one-click POST, 1 client            $P1"
echo "      commits: $S1"
echo "  one-click POST, 50 clients          $P50"
echo "      commits: $S50"
echo "  GET page render, 50 clients         $G50"
echo "  sampled opt-outs in the store       $REF/3"
R=$(echo "$P50" | sed -n 's/.*rate=\([0-9]*\).*/\1/p')
if [ "${R:-0}" -ge 1000 ]; then
	echo "  target >= 1,000 POSTs/s at 50 clients: met ($R/s)"
else
	echo "  target >= 1,000 POSTs/s at 50 clients: NOT met (${R:-0}/s)"
fi
