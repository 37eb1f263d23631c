#!/bin/sh
# optgate import under faults: kill -9 in the middle of a 1M-line import
# and the same import again (exact counts, no duplicate events); disk
# full during an import (clear error, the store opens and verifies, and
# the rerun finishes); an import while readers loop over status, a
# backup is taken and expire runs.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-faults.XXXXXX)
MNT="$T/small"
pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkconf() { # STOREPATH
	cat <<EOF
[store]
path = $1
[keys]
file = $T/keys
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
EOF
}
mkconf "$T/store" >"$T/og.conf"
OG="$BIN/optgate -c $T/og.conf"
OPTGATE_NOW=1780272000
export OPTGATE_NOW
$OG init >/dev/null 2>&1

n_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }
store_counts() { # CONF: "addresses events"
	$BIN/optgate -c "$1" --json stats |
	    sed -n 's/.*"type":"store".*"addresses":\([0-9]*\),"events":\([0-9]*\).*/\1 \2/p'
}

# N lines: every 100th address invalid; every 20th line repeats the line
# before it (same content: unchanged, or rejected again when that one
# was invalid).  The generator prints the counts a clean import must give.
gen() { # N FILE: prints "unique duplicates rejected"
	awk -v N="$1" -v out="$2" 'BEGIN {
	print "address,stream,state,time,source,ip" > out
	for (i = 1; i <= N; i++) {
		if (i % 20 == 1 && i > 1) { print prev > out; if (bad) rej++; else dup++; continue }
		bad = (i % 100 == 0)
		t = 1700000000 + i
		prev = sprintf("user%d@%sexample.com,newsletter,%s,%s,signup,192.0.2.%d",
		    i, bad ? "@" : "", i % 7 == 0 ? "optout" : "confirmed",
		    strftime("%Y-%m-%dT%H:%M:%SZ", t, 1), i % 250)
		print prev > out
		if (bad) rej++; else uniq++
	}
	printf "%d %d %d\n", uniq, dup, rej
	}'
}
N=1000000
gen $N "$T/big.csv" >"$T/expect"
read uniq dup rej <"$T/expect"

# --- kill -9 in the middle, then the same import again -----------------------
$OG --json import "$T/big.csv" --batch 20000 >"$T/run1" 2>&1 &
pid=$!
pids="$pids $pid"
# wait (polling, bounded) until part of the file is committed
i=0
while [ $i -lt 600 ]; do
	e=$(mdb_stat -s events "$T/store/consent" 2>/dev/null | sed -n 's/ *Entries: //p')
	[ "${e:-0}" -ge 200000 ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
read before_a before_e <<EOF
$(store_counts "$T/og.conf")
EOF
ok "killed in the middle: part of the file is in ($before_a of $uniq)" \
    test "$before_a" -gt 0 -a "$before_a" -lt "$uniq"
$OG verify >/dev/null
is "after kill -9: the store verifies" "$?" 0
$OG --json import "$T/big.csv" >"$T/run2" 2>/dev/null
is "rerun: exit 0" "$?" 0
is "rerun: imported + already there = every valid address" \
    "$(( $(n_of imported "$T/run2") + before_a ))" "$uniq"
is "rerun: rejected exactly the invalid lines" "$(n_of rejected "$T/run2")" "$rej"
is "rerun: unchanged = duplicates + lines of the first run" \
    "$(n_of unchanged "$T/run2")" "$((dup + before_a))"
read a e <<EOF
$(store_counts "$T/og.conf")
EOF
is "after the rerun: one record per valid address" "$a" "$uniq"
is "after the rerun: one event per address, none twice" "$e" "$uniq"
$OG verify >/dev/null
is "after the rerun: the store verifies" "$?" 0
ok "rejects file lists every invalid line" test "$(wc -l <"$T/big.csv.rejects")" -eq "$rej"

# --- Ctrl-C: the batch read so far goes in, exit 130, rerun finishes ------
mkconf "$T/intr" >"$T/intr.conf"
I="$BIN/optgate -c $T/intr.conf"
$I init >/dev/null 2>&1
gen 300000 "$T/intr.csv" >"$T/expect-intr"
read iuniq idup irej <"$T/expect-intr"
$I --json import "$T/intr.csv" --batch 5000 >"$T/intr.out" 2>"$T/intr.err" &
pid=$!
pids="$pids $pid"
i=0
while [ $i -lt 600 ]; do
	e=$(mdb_stat -s events "$T/intr/consent" 2>/dev/null | sed -n 's/ *Entries: //p')
	[ "${e:-0}" -ge 20000 ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
kill -INT $pid 2>/dev/null
wait $pid
is "interrupted: exit 130" "$?" 130
like "interrupted: says how to finish" "$(cat "$T/intr.err")" '*interrupted after line*run the same import again*'
like "interrupted: the summary says incomplete" "$(cat "$T/intr.out")" '*"complete":false*'
$I --json import "$T/intr.csv" >"$T/intr2.out" 2>/dev/null
read a e <<EOF
$(store_counts "$T/intr.conf")
EOF
is "interrupted, then rerun: every valid address once" "$a $e" "$iuniq $iuniq"

# --- disk full ---------------------------------------------------------------
mkdir -p "$MNT"
if mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
	mkconf "$MNT/store" >"$T/small.conf"
	S="$BIN/optgate -c $T/small.conf"
	$S init >/dev/null 2>&1
	gen 100000 "$T/100k.csv" >"$T/expect100k"
	read u100 d100 r100 <"$T/expect100k"
	$S import "$T/100k.csv" --batch 1000 >"$T/out" 2>"$T/err"
	rc=$?
	ok "disk full: the import stops with a write error (exit $rc)" test "$rc" -eq 4
	like "disk full: a clear message" "$(cat "$T/err")" '*disk full*'
	$S verify >"$T/out" 2>&1
	is "disk full: the store still opens and verifies" "$?" 0
	read fa fe <<EOF
$(store_counts "$T/small.conf")
EOF
	ok "disk full: what was committed is there ($fa addresses)" test "$fa" -gt 0
	mount -o remount,size=256m "$MNT"
	$S --json import "$T/100k.csv" >"$T/out" 2>/dev/null
	is "more space: the same import finishes" "$?" 0
	read fa fe <<EOF
$(store_counts "$T/small.conf")
EOF
	is "more space: every valid address once" "$fa" "$u100"
	is "more space: one event each" "$fe" "$u100"
	umount "$MNT"
else
	fail "disk full: cannot mount a tmpfs (run as root)"
fi

# --- an import while readers loop over status --------------------------------
head -200001 "$T/big.csv" | sed 's/@example/@other.example/' >"$T/c.csv"
$OG --json import "$T/c.csv" --batch 5000 >"$T/run3" 2>&1 &
ipid=$!
pids="$pids $ipid"
bad=0
loops=0
while kill -0 $ipid 2>/dev/null && [ $loops -lt 400 ]; do
	$OG status user1@example.com --stream newsletter >/dev/null 2>&1
	[ $? -eq 0 ] || bad=$((bad + 1))
	$OG status user7@example.com --stream newsletter >/dev/null 2>&1
	[ $? -eq 1 ] || bad=$((bad + 1))
	loops=$((loops + 1))
	if [ $loops -eq 3 ]; then
		$OG backup "$T/live-backup" >/dev/null 2>&1 ||
		    bad=$((bad + 100))
	fi
	if [ $loops -eq 5 ]; then
		$OG expire >/dev/null 2>&1 || bad=$((bad + 1000))
	fi
done
wait $ipid
is "concurrent: the import finishes" "$?" 0
ok "concurrent: status ran meanwhile ($loops rounds)" test "$loops" -gt 0
is "concurrent: every status, backup and expire right during the import" "$bad" 0
$OG verify >/dev/null
is "concurrent: the store verifies" "$?" 0
$OG verify "$T/live-backup" >/dev/null 2>&1
is "concurrent: a backup taken during the import verifies" "$?" 0
done_testing
