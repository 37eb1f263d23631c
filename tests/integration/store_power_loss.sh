#!/bin/sh
# The counters are written without sync, so a power cut can leave a meta
# page that names a page which never reached the disk: that page reads
# as zeros (a hole, or blocks a writable map had reserved), or lies past
# the file's end.  LMDB opens such a file; the
# first open after the cut (no process has the counters open) must find
# the damage, move the counters aside and rebuild them empty with a
# warning, and verify of a damaged copy must say which page, not abort.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
T=$(mktemp -d /tmp/og-power.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cat >"$T/og.conf" <<EOF
[store]
path = $T/store
[keys]
file = $T/keys
[stream news]
match = sender:news@example.com
consent = none
EOF
OG="$BIN/optgate -c $T/og.conf"
$OG init >/dev/null 2>&1
$OG optout gone@example.org >/dev/null 2>&1
"$TOP/$BUILD/bench/og_bench" sends "$T/store" 200000 >/dev/null 2>&1
like "counted" "$($OG verify 2>&1)" '*, 20001 counters*'
cp -a "$T/store" "$T/copy"
rm -f "$T/copy/consent/lock.mdb" "$T/copy/counters/lock.mdb"

# Zero the first leaf of the counters' tree (the one database in the main
# tree, or the main tree itself).
zero_leaf() { # FILE
	python3 - "$1" <<'EOF'
import struct, sys
f = open(sys.argv[1], "r+b")
def rd(off, n):
    f.seek(off)
    return f.read(n)
ps = struct.unpack_from("<I", rd(40, 4))[0]
m = max((rd(0, 160), rd(ps, 160)), key=lambda b: struct.unpack_from("<Q", b, 144)[0])
pg = struct.unpack_from("<Q", m, 128)[0]
while True:
    p = rd(pg * ps, ps)
    flags, lower = struct.unpack_from("<HH", p, 10)
    off = struct.unpack_from("<H", p, 16)[0]
    lo, hi, nflags, ksize = struct.unpack_from("<HHHH", p, off)
    if flags & 1:  # branch: its first child
        pg = lo | hi << 16 | nflags << 32
    elif nflags & 2:  # a named database: its root
        pg = struct.unpack_from("<Q", p, off + 8 + ksize + 40)[0]
    else:
        break
f.seek(pg * ps)
f.write(bytes(ps))
print(pg)
EOF
}
# Walked once in this boot, the counters are not walked again before
# the next one (only a crash of the machine loses their writes): the
# first open reads every page, a later one a few.
preads() { strace -f -e trace=pread64 -o "$T/st" $OG status x@example.org >/dev/null 2>&1; grep -c pread64 "$T/st"; }
rm -f "$T/store/counters/walked"
n1=$(preads)
n2=$(preads)
ok "first open of this boot walks the counters ($n1 reads), the next does not ($n2)" \
    test "$n1" -gt 100 -a "$n2" -lt 20
# A copy is walked again, also one given the inode number of the file it
# replaced: ext4 hands out a number just freed (rm, then cp -a of a copy
# into the folder whose mark names that number).
i0=$(stat -c %i "$T/store/counters/data.mdb")
cp -a "$T/store/counters/data.mdb" "$T/again.mdb"
rm -f "$T/store/counters/data.mdb"
cp -a "$T/again.mdb" "$T/store/counters/data.mdb"
rm -f "$T/again.mdb"
if [ "$(stat -c %i "$T/store/counters/data.mdb")" = "$i0" ]; then
	n3=$(preads)
	ok "a copy at the inode number of the file it replaced is walked ($n3 reads)" \
	    test "$n3" -gt 100
else
	echo "ok - # SKIP the copy got another inode number here"
fi
pg=$(zero_leaf "$T/store/counters/data.mdb")
ok "zeroed leaf page $pg" test "${pg:-0}" -gt 1
# The cut is a new boot: the mark of this one no longer counts.
rm -f "$T/store/counters/walked"
cp "$T/store/counters/data.mdb" "$T/copy/counters/data.mdb"

$OG verify >"$T/out" 2>"$T/err"
is "after the cut: the first open and verify succeed" "$?" 0
like "the counters were rebuilt empty" "$(cat "$T/out")" '*, 0 counters*'
like "with a warning that names the page" "$(cat "$T/err")" \
    "*counters/data.mdb: damaged: page $pg *rebuilt empty*"
ok "the damaged counters are kept aside" test -d "$(echo "$T"/store/counters.broken-*)"
$OG status gone@example.org --stream news >/dev/null 2>&1
is "consent untouched: the opt-out still refuses" "$?" 1
"$TOP/$BUILD/bench/og_bench" sends "$T/store" 1000 >/dev/null 2>&1
like "counting works again" "$($OG verify 2>&1)" '*, 101 counters*'

# The daemons start together after the cut: one of them checks and
# rebuilds, the others wait and open what it made (none fails to start).
printf '[store]\npath = %s/race\n[keys]\nfile = %s/keys\n' "$T" "$T" >"$T/race.conf"
R="$BIN/optgate -c $T/race.conf"
$R init >/dev/null 2>&1
"$TOP/$BUILD/bench/og_bench" sends "$T/race" 2000000 >/dev/null 2>&1
cp -a "$T/race" "$T/race.good"
rm -f "$T/race.good/consent/lock.mdb" "$T/race.good/counters/lock.mdb"
bad=0
multi=0
for r in 1 2 3 4 5 6 7 8; do
	rm -rf "$T/race"
	cp -a "$T/race.good" "$T/race"
	zero_leaf "$T/race/counters/data.mdb" >/dev/null
	for k in 1 2 3 4; do
		($R status x@example.org >/dev/null 2>&1; echo $? >"$T/rc$k") &
	done
	wait
	for k in 1 2 3 4; do
		[ "$(cat "$T/rc$k")" -le 1 ] || bad=$((bad + 1))
	done
	[ "$(ls -d "$T"/race/counters.broken-* | wc -l)" -eq 1 ] ||
	    multi=$((multi + 1))
done
is "4 first opens at once, 8 times: none fails" "$bad" 0
is "and the counters are moved aside once each time" "$multi" 0

# verify of a copy walks its counters every time, a copy verified clean
# and damaged since included
cp -a "$T/race.good" "$T/copy2"
$OG verify "$T/copy2" >/dev/null 2>&1
is "verify of a clean copy: exit 0" "$?" 0
zero_leaf "$T/copy2/counters/data.mdb" >/dev/null
$OG verify "$T/copy2" >/dev/null 2>&1
is "verify of the same copy damaged since: exit 3" "$?" 3
$OG verify "$T/copy" >"$T/out" 2>"$T/err"
is "verify of a damaged copy: exit 3, not an abort" "$?" 3
like "verify of a damaged copy: names the page" "$(cat "$T/err")" \
    "*copy/counters/data.mdb: damaged: page $pg *"

# Damage found by a running daemon (a bad disk, or a cut the first open
# did not see): the sends on that page read as none, said once; the
# recipients are not tempfailed until someone restores a backup.
printf '[store]\npath = %s/live\n[keys]\nfile = %s/keys\n[policyd]\nlisten = inet:127.0.0.1:10045\n[stream news]\nmatch = sender:news@example.com\nconsent = none\ncaps = 32/1d\n' \
    "$T" "$T" >"$T/live.conf"
"$BIN/optgate" -c "$T/live.conf" init >/dev/null 2>&1
"$BIN/optgate-policyd" -c "$T/live.conf" -f >"$T/pd.log" 2>&1 &
PD=$!
trap 'kill $PD 2>/dev/null; wait $PD; rm -rf "$T"' EXIT INT TERM
PC="python3 $TOP/tests/lib/policyclient.py"
i=0
until [ "$($PC query inet:127.0.0.1:10045 sender=news@example.com recipient=x@example.org)" = DUNNO ] ||
    [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
awk 'BEGIN { for (i = 0; i < 300; i++) {
    r = "sender=news@example.com recipient=a" i "@example.org instance=a" i
    print r; print r " protocol_state=END-OF-MESSAGE" } }' |
    $PC session inet:127.0.0.1:10045 >/dev/null
# The writer thread commits those sends after the answers; a RCPT for
# the last one is answered once it (and every earlier one) is committed:
# damage the counters after that, not after a guessed time.
r=$($PC query inet:127.0.0.1:10045 sender=news@example.com recipient=a299@example.org instance=)
[ "$r" = DUNNO ] ||
    fail "the 300 sends were committed before the damage (a RCPT for the last answered $r)"
zero_leaf "$T/live/counters/data.mdb" >/dev/null
is "damaged under a running policyd: the recipient is not tempfailed" \
    "$($PC query inet:127.0.0.1:10045 sender=news@example.com recipient=a0@example.org instance=z1)" \
    DUNNO
$PC query inet:127.0.0.1:10045 sender=news@example.com recipient=a1@example.org instance=z2 >/dev/null
is "and says so once, with the cure" \
    "$(grep -c 'counters: damaged.*start them again to rebuild' "$T/pd.log")" 1
done_testing
