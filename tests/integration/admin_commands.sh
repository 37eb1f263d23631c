#!/bin/sh
# optgate audit, erase, export --hashed / import-hashed, stats, backup,
# verify, expire and status: what an admin runs to answer a regulator, a
# partner or a cron job.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-cmd.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
mkconf() { # DIR: a config whose store lives in DIR
	cat <<EOF
[store]
path = $1/store
[keys]
file = $1/keys
[feedback]
quarantine = $1/quarantine
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
caps = 2/7d, 1/1d
caps.segment.vip = 4/7d
[stream offers]
match = header:X-Optgate-Stream=offers
class = marketing
consent = none
partner = acme
[stream digest]
match = header:X-Optgate-Stream=digest
class = marketing
consent = none
EOF
}
mkdir -p "$T/a" "$T/b"
mkconf "$T/a" >"$T/a.conf"
mkconf "$T/b" >"$T/b.conf"
A="$BIN/optgate -c $T/a.conf"
B="$BIN/optgate -c $T/b.conf"
OPTGATE_NOW=1780272000 # 2026-06-01T00:00:00Z
export OPTGATE_NOW
$A init >/dev/null 2>&1
$B init >/dev/null 2>&1

cat >"$T/list.csv" <<'EOF'
address,stream,state,time,source,ip,user_agent,segment,reason
ana@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,signup-form,203.0.113.5,Mozilla/5.0 (X11),vip,
bia@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,signup-form,203.0.113.6,,,
cid@example.com,,suppressed,2026-02-01T00:00:00Z,,,,,complaint
dan@example.com,,optout,2026-02-02T00:00:00Z,unsub-page,,,,
EOF
$A import "$T/list.csv" >/dev/null 2>&1

# --- audit -----------------------------------------------------------------
$A optout ana@example.com --stream newsletter --source "reply to campaign" >/dev/null
out=$($A audit ana@example.com)
is "audit: exit 0" "$?" 0
like "audit: opt-in first, with its proof" "$(echo "$out" | sed -n 2,3p)" \
    '*optin*stream newsletter*none -> confirmed via import*source=signup-form ip=203.0.113.5 user_agent=Mozilla/5.0 (X11) segments=vip*'
like "audit: the opt-out after it, with its channel" "$(echo "$out" | sed -n 4,5p)" \
    '*optout*stream newsletter*confirmed -> optout via admin*source=reply to campaign*'
is "audit --json: one object per event" "$($A --json audit ana@example.com | grep -c '^{"address":"ana@example.com","event":')" 2
$A audit nobody@example.com >/dev/null
is "audit of an unknown address: exit 1" "$?" 1
# event numbers past 99,999,999 (a store that imported its lists many
# times): the columns after "#N" stay in place (they moved one to the right)
mkdir -p "$T/c"
mkconf "$T/c" >"$T/c.conf"
C="$BIN/optgate -c $T/c.conf"
$C init >/dev/null 2>&1
{
	mdb_dump -p -s main "$T/c/store/consent" | sed -n '1,/^HEADER=END/p'
	printf ' Mseq\n \\00\\00\\00\\00\\05\\f5\\e0\\ff\nDATA=END\n'
} >"$T/seq.dump"
mdb_load -s main -f "$T/seq.dump" "$T/c/store/consent" 2>/dev/null
$C optout eva@example.com --stream newsletter >/dev/null
$C optin eva@example.com --stream offers --single >/dev/null
$C optin eva@example.com --stream digest --single >/dev/null
out=$($C audit eva@example.com)
like "audit: events 99999999 to 100000001" "$out" "*#99999999 *#100000000 *#100000001 *"
is "audit: the kind column starts at one place on every row" \
    "$(echo "$out" | awk '/^20/ { print index($0, " " $3 " ") }' | sort -u | wc -l)" 1

# --- status: caps per window and the segment override ------------------------
$A optin bia@example.com --stream newsletter >/dev/null 2>&1
js=$($A --json status bia@example.com --stream newsletter)
like "status --json: each cap window with its count" "$js" '*"caps":\[{"cap":"2/7d","sent":0},{"cap":"1/1d","sent":0}\]*'
like "status --json: next send allowed now" "$js" '*"next_allowed":"2026-06-01T00:00:00Z"*'
$A import /dev/stdin >/dev/null 2>&1 <<'EOF'
address,stream,state,time,source,segment
eli@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,vip
EOF
like "status: a segment's caps replace the stream's" \
    "$($A --json status eli@example.com --stream newsletter)" '*"caps":\[{"cap":"4/7d","sent":0}\]*'

# --- erase -----------------------------------------------------------------
$A erase bia@example.com --note "request 2026-17" >"$T/out"
is "erase: exit 0" "$?" 0
like "erase: says what it did" "$(cat "$T/out")" '*erased: record removed, 1 event stripped*'
$A status bia@example.com --stream digest >"$T/out"
is "erased address is refused" "$?" 1
like "erased address: the reason says so" "$(cat "$T/out")" '*erased at the person*'
$A explain bia@example.com --stream digest >"$T/explain"
is "explain: status under the name the question has (exit 1: refused)" "$?" 1
is "explain: the same answer as status" "$(cat "$T/explain")" "$(cat "$T/out")"
out=$($A audit bia@example.com)
like "audit after erase: shows the erasure" "$out" '*erase *all*suppressed (erased) via admin*note=request 2026-17*'
case "$out" in *203.0.113.6*|*signup-form*) fail "audit after erase: personal data gone" ;; *) pass "audit after erase: personal data gone" ;; esac
is "audit after erase: times and kinds kept" "$(echo "$out" | grep -c '^2026-01-02T03:04:05Z .* optin ')" 1
$A export | grep -q bia@
is "erased address not exported" "$?" 1
printf 'address,stream,state,time,source\nbia@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,old-list\n' >"$T/again.csv"
$A --json import "$T/again.csv" >"$T/out" 2>&1
like "re-importing an erased address skips it" "$(cat "$T/out")" '*"imported":0*"skipped":1*'
printf 'address,stream,state,reason\nbia@example.com,newsletter,optout,\nbia@example.com,,suppressed,complaint\n' >"$T/again2.csv"
$A --json import "$T/again2.csv" >"$T/out" 2>&1
like "importing an erased address's opt-out and suppression skips them" "$(cat "$T/out")" '*"imported":0*"skipped":2*'
like "the warnings say the address was erased" "$(cat "$T/again2.csv.warnings")" '*2: bia@example.com: not imported: the address was erased*'
# A line dated after the erasure, with proof, is skipped too until she
# is back by an opt-in of her own; the warning said such a line "goes in".
printf 'address,stream,state,time,source\nbia@example.com,newsletter,confirmed,2026-06-01T00:02:00Z,new-form\n' >"$T/again3.csv"
OPTGATE_NOW=$((OPTGATE_NOW + 300)) $A --json import "$T/again3.csv" >"$T/out" 2>&1
like "an opt-in line dated after the erasure, with proof: skipped" "$(cat "$T/out")" '*"imported":0*"skipped":1*'
like "... and the warning says what brings her back" "$(cat "$T/again3.csv.warnings")" \
    '2: bia@example.com: not imported: the address was erased (optgate erase); an import never brings her back: a new opt-in of her own does (optgate optin, *'
$A export | grep -q bia@
is "erased address still not exported after an import" "$?" 1
$A status bia@example.com --stream digest >"$T/out"
like "erased address still refused as erased after an import" "$(cat "$T/out")" '*erased at the person*'
# README: the live file may keep her bytes in freed pages; a backup (a
# compacted copy) holds none, the way to have them gone at once.
$A backup "$T/after-erase" >/dev/null 2>&1
is "a backup after the erasure holds no byte of her address or IP" \
    "$(cat "$T/after-erase/consent/data.mdb" "$T/after-erase/counters/data.mdb" |
        grep -a -c -e 'bia@example.com' -e '203.0.113.6')" 0
$A erase bia@example.com >"$T/out"
like "erase twice: already erased" "$(cat "$T/out")" '*already erased on 2026-06-01*'
$A erase nobody@example.com >"$T/out"
is "erase of an address with no record: exit 0" "$?" 0
like "... it says there was no record, and keeps the erasure" "$(cat "$T/out")" \
    '*nobody@example.com: erased: no record*keyed hash keeps it suppressed*'
$A status nobody@example.com --stream digest >"$T/out"
like "... its mail is refused as erased from then on" "$(cat "$T/out")" '*erased at the person*'

# --- hashed suppression lists between partners --------------------------------
printf '# shared with acme\n%s\n' "$(printf 'k%.0s' 1 2 3 4 5 6 7 8 | od -An -tx1 | tr -d ' \n')0123456789abcdef0123456789abcdef" >"$T/acme.key"
chmod 600 "$T/acme.key"
$A export --hashed "$T/acme.key" >"$T/hashes.csv"
is "export --hashed: header and one hash per suppressed address" "$(wc -l <"$T/hashes.csv")" 4
case "$(cat "$T/hashes.csv")" in *@*) fail "hashed export holds no address" ;; *) pass "hashed export holds no address" ;; esac
$B import-hashed "$T/hashes.csv" --partner acme --key "$T/acme.key" >"$T/out"
is "import-hashed: exit 0" "$?" 0
like "import-hashed: counts" "$(cat "$T/out")" '*3 lines: 3 added, 0 unchanged, 0 rejected*'
$B status cid@example.com --stream offers >"$T/out"
is "the partner's stream refuses a hashed suppression" "$?" 1
like "refusal names the partner list" "$(cat "$T/out")" '*partner acme*suppression list*'
$B status cid@example.com --stream digest >/dev/null
is "other streams are not affected" "$?" 0
$B status Dan@Example.com --stream offers >/dev/null
is "match keys are compared, not spellings" "$?" 1
$B status fay@example.com --stream offers >/dev/null
is "an address not on the list passes" "$?" 0
$B import-hashed "$T/hashes.csv" --partner acme --key "$T/acme.key" >"$T/out"
like "import-hashed again: unchanged" "$(cat "$T/out")" '*0 added, 3 unchanged*'
echo "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" >"$T/other.key"
$B import-hashed "$T/hashes.csv" --partner acme --key "$T/other.key" >/dev/null 2>"$T/err"
is "another key for the same partner: refused" "$?" 1
like "another key: says how to replace" "$(cat "$T/err")" '*--replace*'
printf 'hash\nnot-a-hash\n' | $B import-hashed - --partner acme --key "$T/acme.key" \
    --rejects "$T/h.rej" >/dev/null
like "bad hash line rejected with its number" "$(cat "$T/h.rej")" '2: not a hex HMAC-SHA256*'
# --rejects naming the partner's list itself: refused, the list unread
# and kept (it was emptied, and "0 lines" exit 0)
cp "$T/hashes.csv" "$T/keep.csv"
$B import-hashed "$T/keep.csv" --partner acme --key "$T/acme.key" \
    --rejects "$T/keep.csv" >/dev/null 2>"$T/err"
is "import-hashed --rejects the input: exit 2" "$?" 2
like "... says so" "$(cat "$T/err")" "*keep.csv: the rejects file is the input itself*"
is "... the partner's list is kept as it was" "$(cmp "$T/hashes.csv" "$T/keep.csv" && echo same)" same
printf 'hash\r\nffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\r\n' |
    iconv -f utf-8 -t utf-16 >"$T/h16.csv"
$B import-hashed "$T/h16.csv" --partner acme --key "$T/acme.key" >/dev/null 2>"$T/err"
is "import-hashed of a UTF-16 file: exit 2, not 0 with every line rejected" "$?" 2
like "import-hashed of a UTF-16 file: says how to convert it" "$(cat "$T/err")" '*h16.csv: UTF-16 text*iconv -f utf-16 -t utf-8*'
printf 'email\ncid@example.com\n' >"$T/wrong.csv"
$B import-hashed "$T/wrong.csv" --partner acme --key "$T/other.key" --replace >/dev/null 2>"$T/err"
is "--replace with a file of no valid hash: exit 1" "$?" 1
like "--replace with a file of no valid hash: says the list was kept" "$(cat "$T/err")" "*no valid hash; partner acme's list was kept*"
$B status cid@example.com --stream offers >/dev/null
is "--replace with a wrong file keeps the partner's suppressions" "$?" 1
# the partner's name as the partner writes it: the config's partner =
# acme is that partner (as for optout --partner ACME), not a list that
# stops nothing
mkdir -p "$T/c"
mkconf "$T/c" >"$T/c.conf"
C="$BIN/optgate -c $T/c.conf"
$C init >/dev/null 2>&1
$C import-hashed "$T/hashes.csv" --partner ACME --key "$T/acme.key" >"$T/out" 2>"$T/err"
is "import-hashed --partner ACME (config: acme): exit 0" "$?" 0
is "... no warning that no stream has the partner" "$(cat "$T/err")" ""
$C status cid@example.com --stream offers >"$T/out"
is "... the stream of partner acme refuses the hashed suppression" "$?" 1
like "... naming the list" "$(cat "$T/out")" '*partner acme*suppression list*'
$C import-hashed "$T/hashes.csv" --partner Acme --key "$T/acme.key" >"$T/out" 2>&1
like "... the same list as Acme: unchanged, one list" "$(cat "$T/out")" '*0 added, 3 unchanged*'

# --- stats -----------------------------------------------------------------
$A --json stats >"$T/stats"
is "stats --json: exit 0" "$?" 0
like "stats: store line" "$(grep '"type":"store"' "$T/stats")" '*"addresses":4*"erased_hashes":2*'
like "stats: counts by scope and state" "$(grep '"name":"newsletter","state":"confirmed"' "$T/stats")" '*"count":1*'
like "stats: suppressions by reason" "$(grep '"type":"suppressions"' "$T/stats")" '*"complaint":1*'
# two erased addresses (bia, and nobody without a record): said once,
# as the hash count (a key given twice, first as 0, reads as 0 or 2
# depending on the JSON parser)
is "stats: erased addresses counted once, as 2" \
    "$(grep '"type":"suppressions"' "$T/stats" | python3 -c 'import json, sys
pairs = json.loads(sys.stdin.read(), object_pairs_hook=list)
print(",".join(str(v) for k, v in pairs if k == "erased"))')" 2
is "stats: 30 days of events" "$(grep -c '"type":"day"' "$T/stats")" 30
like "stats: rate per stream" "$(grep '"type":"rate","stream":"newsletter"' "$T/stats")" '*"days":7,"sends":0*"level":"no-sends"*'
like "stats: human output" "$($A stats)" '*complaint and hard-bounce rates, last 7 days*'

# --- backup and verify -------------------------------------------------------
$A backup "$T/backup" >/dev/null
is "backup: exit 0" "$?" 0
$A verify "$T/backup" >"$T/out"
is "verify the backup: exit 0" "$?" 0
like "verify: counts" "$(cat "$T/out")" "$T/backup: ok: schema 1, 4 address records*"
# The first process to open a store sizes its reader table (lock.mdb) for
# all that open it after; verify of a restored copy, with no lock.mdb yet,
# must make it for [store] max_readers, as the live store's was.
is "verify PATH sizes the reader table as configured (consent)" \
    "$(stat -c %s "$T/backup/consent/lock.mdb")" "$(stat -c %s "$T/a/store/consent/lock.mdb")"
is "... and the counters'" \
    "$(stat -c %s "$T/backup/counters/lock.mdb")" "$(stat -c %s "$T/a/store/counters/lock.mdb")"
$A backup "$T/backup" >/dev/null 2>"$T/err"
is "backup into an existing folder: refused" "$?" 5
like "backup into an existing folder: says so" "$(cat "$T/err")" "*backup: File exists (the destination must not exist)*"
$A backup "$T/no-such-folder/backup" >/dev/null 2>"$T/err"
is "backup into a folder that does not exist: refused" "$?" 5
like "backup into a folder that does not exist: says the folder must exist" "$(cat "$T/err")" "*no-such-folder/backup: No such file or directory (the folder it goes in must exist*"
$A verify "$T/no-such-backup" >/dev/null 2>"$T/err"
is "verify of a path that does not exist: exit 3" "$?" 3
like "verify of a path that does not exist: no \"run optgate init\" (that makes the live store)" "$(cat "$T/err")" "*verify: $T/no-such-backup: No such file or directory"
# A backup is one once it is on disk (LMDB's copy does not sync): the
# data files and the folders that name them are synced before exit 0.
# (LeakSanitizer's exit check cannot run under strace, the asan build's)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -y -e trace=fsync -o "$T/strace" $A backup "$T/backup2" >/dev/null
is "backup (under strace): exit 0" "$?" 0
for f in consent/data.mdb counters/data.mdb consent counters ""; do
	ok "backup syncs backup2/$f" \
	    grep -q "fsync([0-9]*<$T/backup2/\{0,1\}$f>) = 0" "$T/strace"
done
ok "backup syncs the folder it is in (its name)" \
    grep -q "fsync([0-9]*<$T>) = 0" "$T/strace"
# init: LMDB syncs data.mdb, not the folders naming it; a store whose name
# is not on disk loses every opt-out acknowledged in it to a power cut.
mkdir "$T/in" "$T/inkeys"
mkconf "$T/in" | sed "s|^file = .*|file = $T/inkeys/keys|" >"$T/in.conf"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -y -e trace=fsync,fdatasync -o "$T/strace" \
    "$BIN/optgate" -c "$T/in.conf" init >/dev/null 2>&1
is "init (under strace): exit 0" "$?" 0
for f in store/consent store/counters store ""; do
	ok "init syncs in/$f" \
	    grep -q "fsync([0-9]*<$T/in/\{0,1\}$f>) = 0" "$T/strace"
done
ok "init syncs the keys file's folder" \
    grep -q "fsync([0-9]*<$T/inkeys>) = 0" "$T/strace"
# damage one address record in a copy of the backup: verify must say so
mkdir -p "$T/bad/consent" "$T/bad/counters"
# (hex dump: key and value lines alternate; 41 = 'A', 01 = version 1)
mdb_dump -a "$T/backup/consent" |
    awk '/^database=main/ { m = 1 } m && /^HEADER=END/ { h = 1; print; next }
	h && !done { n++; if (n % 2) isa = /^ 41/
	    else if (isa) { sub(/^ 01/, " 09"); done = 1 } } { print }' >"$T/dump"
mdb_load -f "$T/dump" "$T/bad/consent" 2>/dev/null
cp "$T/backup/counters/data.mdb" "$T/bad/counters/"
$A verify "$T/bad" >"$T/out"
is "verify a damaged copy: exit 1" "$?" 1
like "verify names the damaged record" "$(cat "$T/out")" '*problem: record *does not decode*'
# damaged counters in a copy: verify reports them and leaves the copy as
# it is (a daemon's open would move them aside and rebuild them)
cp -r "$T/backup" "$T/badk"
head -c 9000 /dev/urandom >"$T/badk/counters/data.mdb"
sum0=$(cksum <"$T/badk/counters/data.mdb")
$A verify "$T/badk" >"$T/out" 2>&1
is "verify a copy with damaged counters: exit 3" "$?" 3
like "verify names the counters" "$(cat "$T/out")" "*$T/badk/counters*"
is "... and repairs nothing" "$(cksum <"$T/badk/counters/data.mdb") $(ls -d "$T"/badk/counters.broken-* 2>/dev/null | wc -l)" "$sum0 0"
printf 'garbage' >"$T/junk"
mkdir -p "$T/junkstore/consent"
cp "$T/junk" "$T/junkstore/consent/data.mdb"
$A verify "$T/junkstore" >/dev/null 2>&1
is "verify a store that does not open: exit 3" "$?" 3

# --- a temporary suppression never takes an opt-out with it --------------
$A optin kay@example.com --stream newsletter >/dev/null 2>&1
OPTGATE_NOW=$((OPTGATE_NOW + 1)) $A optout kay@example.com --all >/dev/null 2>&1
OPTGATE_NOW=$((OPTGATE_NOW + 2)) $A suppress kay@example.com --reason manual --expires 30d >"$T/out" 2>&1
is "temporary suppression over an opt-out: refused (exit 1)" "$?" 1
like "... says so" "$(cat "$T/out")" "*not recorded*"
OPTGATE_NOW=$((OPTGATE_NOW + 40 * 86400)) $A status kay@example.com --stream newsletter >/dev/null 2>&1
is "... the opt-out still holds 40 days on" "$?" 1

# --- expire ------------------------------------------------------------------
$A suppress gus@example.com --reason manual --expires 1d --stream newsletter >/dev/null 2>&1
$A suppress hal@example.com --reason manual --expires 30d >/dev/null 2>&1
OPTGATE_NOW=$((OPTGATE_NOW + 2 * 86400)) $A expire >"$T/out"
is "expire: exit 0" "$?" 0
like "expire: one expired suppression dropped" "$(cat "$T/out")" '*expire: 1 expired suppression*'
like "expire: the drop is an event" "$($A audit gus@example.com)" '*unsuppress*stream newsletter*suppressed -> none (manual) via expiry*'
like "expire: the live one stays" "$($A audit hal@example.com)" '*1 event*'
OPTGATE_NOW=$((OPTGATE_NOW + 2 * 86400)) $A expire >"$T/out"
like "expire again: nothing to do" "$(cat "$T/out")" '*expire: 0 expired*'
# A pause (a temporary opt-out) of a stream she opted in to: her opt-in
# is under it.  status says so, the gate passes her again at its end,
# export writes the opt-in before the pause (so an import gives the same
# pause), and expire stores the opt-in back as an event.
printf 'address,state,stream,time,expires\njo@example.com,confirmed,newsletter,2026-05-01,\njo@example.com,optout,newsletter,2026-05-30,2026-06-10\n' >"$T/pause.csv"
$A import "$T/pause.csv" >/dev/null 2>&1
like "pause: status shows the opt-in under it" \
    "$($A status jo@example.com --stream newsletter)" \
    '*optout*expires 2026-06-10T00:00:00Z, then confirmed again (given 2026-05-01T00:00:00Z via import)*unsubscribed from newsletter*'
like "pause: --json export marks the opt-in under it as paused" \
    "$($A --json export 2>/dev/null | grep '"jo@example.com"')" \
    '*"state":"confirmed","time":"2026-05-01T00:00:00Z"*"paused_until":"2026-06-10T00:00:00Z"}
*"state":"optout","time":"2026-05-30T00:00:00Z"*"expires":"2026-06-10T00:00:00Z"}'
like "pause: --json status gives its end and the opt-in under it" \
    "$($A --json status jo@example.com --stream newsletter)" \
    '*"rule":"optout"*"until":"2026-06-10T00:00:00Z","then":{"state":"confirmed","given":"2026-05-01T00:00:00Z"}*'
is "pause: refused during it, accepted after it" \
    "$($A status jo@example.com --stream newsletter >/dev/null 2>&1; echo $?)$(OPTGATE_NOW=1781136000 $A status jo@example.com --stream newsletter >/dev/null 2>&1; echo $?)" 10
like "pause: export writes the opt-in, then the pause" "$($A export)" \
    '*jo@example.com,newsletter,,,confirmed,2026-05-01T00:00:00Z,*
jo@example.com,newsletter,,,optout,2026-05-30T00:00:00Z,*2026-06-10T00:00:00Z,*'
# export --state picks entries as they hold: the opt-in under a running
# pause is not a consent in force (a list of the subscribed handed to an
# ESP would mail her during it), one whose pause is over is (before
# expire ran too), and neither goes to a partner's suppression list.
printf 'address,state,stream,time,expires\njay@example.com,confirmed,newsletter,2026-05-01,\njay@example.com,confirmed,digest,2026-05-01,\njay@example.com,optout,newsletter,2026-05-30,2026-06-10\n' >"$T/pause2.csv"
$A import "$T/pause2.csv" >/dev/null 2>&1
is "pause: export --state optin,confirmed: not during it" \
    "$($A export --state optin,confirmed | grep -c '^jay@example.com,newsletter,')" 0
is "... her other opt-in is" \
    "$($A export --state optin,confirmed | grep -c '^jay@example.com,digest,')" 1
is "... the pause's end passed (expire not run): her opt-in is in" \
    "$(OPTGATE_NOW=1781136000 $A export --state optin,confirmed | grep -cE '^(jo|jay)@example.com,newsletter,,,confirmed,')" 2
is "... and no longer in export --state optout" \
    "$(OPTGATE_NOW=1781136000 $A export --state optout | grep -cE '^(jo|jay)@')" 0
is "... nor in a partner's hashed suppression list" \
    "$(OPTGATE_NOW=1781136000 $A export --hashed "$T/acme.key" | wc -l)" \
    "$(($($A export --hashed "$T/acme.key" | wc -l) - 2))"
# A temporary suppression or opt-out with no opt-in under it (a soft
# bounce's, an imported one), past its end: the gate skips it, and so
# does export before expire ran (hourly, or never: the daemons do not
# need it).  It was in export --state suppressed and in the hashed list
# for partners, who then never mailed her again; a cap she chose on
# that stream stays in, on a line of its own.
mkdir -p "$T/e"
mkconf "$T/e" >"$T/e.conf"
E="$BIN/optgate -c $T/e.conf"
$E init >/dev/null 2>&1
printf 'address,stream,state,time,reason,expires,cap\nsb@example.com,,suppressed,2026-05-20,soft-bounce,2026-05-25,\nto@example.com,,optout,2026-05-20,,2026-05-25,\ncq@example.com,newsletter,optout,2026-05-20,,2026-05-25,1/7d\nst@example.com,,suppressed,2026-05-20,complaint,,\n' >"$T/ended.csv"
$E import "$T/ended.csv" >/dev/null 2>&1
$E status sb@example.com --stream offers >/dev/null 2>&1
is "ended suppression (expire not run): the gate passes her" "$?" 0
is "... export --state suppressed,optout: only the one in force" \
    "$($E export --state suppressed,optout 2>/dev/null | sed 1d | cut -d, -f1)" \
    st@example.com
is "... a partner's hashed list: only the one in force" \
    "$($E export --hashed "$T/acme.key" | sed 1d | wc -l)" 1
is "... export: her cap, not the ended opt-out" \
    "$($E export 2>/dev/null | grep -E '^(sb|to|cq)@' | cut -d, -f1-5,13)" \
    "cq@example.com,newsletter,,,none,1/7d"
# stats counted the ended ones as suppressions and opt-outs in force.
$E --json stats >"$T/estats"
is "... stats: one suppression, the complaint in force" \
    "$(grep '"type":"state","scope":"all"' "$T/estats" | sed -n 's/.*"state":"\([a-z]*\)","count":\([0-9]*\).*/\1 \2/p' | tr '\n' ' ')" \
    "suppressed 1 "
like "... stats by reason: no soft-bounce, no opt-out" "$(grep '"type":"suppressions"' "$T/estats")" \
    '*"complaint":1,"manual":0,"soft-bounce":0,*"optout_via":{},*'
is "... stats: no newsletter opt-out" "$(grep -c '"name":"newsletter"' "$T/estats")" 0
# A temporary suppression over the pause, lifted by an admin: the pause
# is back, and so is the opt-in under it (status said "then confirmed
# again" before the unsuppress).
sed 's/^jo@/mo@/' "$T/pause.csv" >"$T/pause3.csv"
$A import "$T/pause3.csv" >/dev/null 2>&1
$A suppress mo@example.com --stream newsletter --reason manual --expires 20d >/dev/null 2>&1
$A unsuppress mo@example.com --stream newsletter >/dev/null 2>&1
like "pause under a lifted suppression: back, with the opt-in under it" \
    "$($A status mo@example.com --stream newsletter)" \
    '*optout*expires 2026-06-10T00:00:00Z, then confirmed again (given 2026-05-01T00:00:00Z via import)*'
is "... accepted at its end" "$(OPTGATE_NOW=1781136000 $A status mo@example.com --stream newsletter >/dev/null 2>&1; echo $?)" 0
# A double opt-in asked, then paused: the person's confirmation during
# the pause is recorded under it (it was refused, "a newer entry exists",
# and at the pause's end she was still unconfirmed).
CT=$($A --json optin pam@example.com --stream newsletter --double | sed 's/.*"confirm_token":"\([^"]*\)".*/\1/')
$A suppress pam@example.com --stream newsletter --reason manual --expires 5d >/dev/null 2>&1
like "pause over a double opt-in asked: confirm during it is recorded" \
    "$(OPTGATE_NOW=$((OPTGATE_NOW + 86400)) $A confirm "$CT"; echo "exit $?")" \
    '*confirm: recorded*exit 0'
like "... under the pause, which holds" \
    "$(OPTGATE_NOW=$((OPTGATE_NOW + 86400)) $A status pam@example.com --stream newsletter)" \
    '*suppressed manual*then confirmed again (given * via confirmation)*reject*'
is "... confirmed at its end" "$(OPTGATE_NOW=$((OPTGATE_NOW + 6 * 86400)) $A status pam@example.com --stream newsletter >/dev/null 2>&1; echo $?)" 0
# Reruns are free: the same file again during the pause (its opt-in
# line was "skipped", with a warning).
like "pause: the same file again during it: unchanged" \
    "$($A import "$T/pause.csv" 2>&1)" '*2 lines: 0 imported, 2 unchanged, 0 skipped*'
OPTGATE_NOW=1781136000 $A expire >"$T/out" 2>&1
like "pause: expire says the pause is over, its opt-in back" "$(cat "$T/out")" \
    '*expire: 0 expired suppressions and opt-outs dropped, 4 pauses over (the opt-in under each holds again; each recorded as an event)*'
like "pause: expire brings the opt-in back, as an event" \
    "$($A audit jo@example.com)" '*unsuppress*stream newsletter*optout -> confirmed via expiry*'
# Reruns are free: the same file again after expire gave the opt-in
# back laid the old pause again ("1 imported", an event each time, and
# expire another).
AJ=$($A audit jo@example.com)
like "pause: the same file again after expire: unchanged" \
    "$(OPTGATE_NOW=1781136000 $A import "$T/pause.csv" 2>&1)" '*2 lines: 0 imported, 2 unchanged, 0 skipped*'
is "... no event written" "$($A audit jo@example.com)" "$AJ"
like "pause: after expire status shows the opt-in" \
    "$(OPTGATE_NOW=1781136000 $A status jo@example.com --stream newsletter)" \
    '*stream   newsletter     confirmed  2026-05-01T00:00:00Z via import*accept*'
like "pause: ... with the opt-in's own proof in an export" \
    "$(OPTGATE_NOW=1781136000 $A export 2>/dev/null | grep '^jo@')" \
    "jo@example.com,newsletter,,,confirmed,2026-05-01T00:00:00Z,,import:pause.csv,*"
# A pause over, settled by another write before expire ran: the opt-in
# came back with no event (audit: the pause, then the next change, and
# status the opt-in in force). And expire over two pauses of one address
# wrote one event and said "1 pause over".
printf 'address,state,stream,time,expires\nty@example.com,confirmed,newsletter,2026-05-01,\nty@example.com,optout,newsletter,2026-06-11,2026-06-20\nuz@example.com,confirmed,newsletter,2026-05-01,\nuz@example.com,confirmed,digest,2026-05-01,\nuz@example.com,optout,newsletter,2026-06-11,2026-06-20\nuz@example.com,optout,digest,2026-06-11,2026-06-20\n' >"$T/pause4.csv"
OPTGATE_NOW=1781136000 $A import "$T/pause4.csv" >/dev/null 2>&1
OPTGATE_NOW=1782000000 $A optin ty@example.com --stream digest --single >/dev/null 2>&1
like "pause over, then another change: the opt-in's return is an event first" \
    "$($A audit ty@example.com)" \
    '*optout*stream newsletter*confirmed -> optout via import, until 2026-06-20*unsuppress*stream newsletter*optout -> confirmed via expiry*source=pause over*optin*stream digest*none -> optin via admin*'
OPTGATE_NOW=1782000000 $A expire >"$T/out" 2>&1
like "expire over two pauses of one address: both counted" "$(cat "$T/out")" \
    '*, 2 pauses over (*'
is "... an event each" \
    "$($A audit uz@example.com | grep -c 'unsuppress.*optout -> confirmed via expiry')" 2
# A hard bounce during a pause (it ends the pause), found wrong and
# lifted by an admin: the opt-in under the pause was lost ("no opt-in
# on record" for good). Lifted during the pause: the pause, with its
# opt-in under it; after it: the opt-in. As for a hard bounce over a
# plain opt-in, lifted: the opt-in (it was dropped too).
printf 'address,state,stream,time,expires\nla@example.com,confirmed,newsletter,2026-05-01,\nla@example.com,optout,newsletter,2026-06-21T01:00:00Z,2026-06-30\nma@example.com,confirmed,newsletter,2026-05-01,\nma@example.com,optout,newsletter,2026-06-21T01:00:00Z,2026-06-30\npl@example.com,confirmed,newsletter,2026-05-01,\n' >"$T/pause5.csv"
OPTGATE_NOW=1782010000 $A import "$T/pause5.csv" >/dev/null 2>&1
for u in la ma pl; do
	OPTGATE_NOW=1782010000 $A suppress $u@example.com --stream newsletter --reason hard-bounce >/dev/null 2>&1
done
OPTGATE_NOW=1782020000 $A unsuppress la@example.com --stream newsletter >/dev/null 2>&1
like "hard bounce over a pause, lifted during it: the pause, the opt-in under it" \
    "$(OPTGATE_NOW=1782020000 $A status la@example.com --stream newsletter)" \
    '*optout     2026-06-21T01:00:00Z via import, expires 2026-06-30T00:00:00Z, then confirmed again (given 2026-05-01T00:00:00Z via import)*reject*unsubscribed from newsletter*'
is "... accepted after the pause" \
    "$(OPTGATE_NOW=1782800000 $A status la@example.com --stream newsletter >/dev/null 2>&1; echo $?)" 0
OPTGATE_NOW=1782800000 $A unsuppress ma@example.com --stream newsletter >/dev/null 2>&1
like "hard bounce over a pause, lifted after it: the opt-in" \
    "$(OPTGATE_NOW=1782800000 $A status ma@example.com --stream newsletter)" \
    '*confirmed  2026-05-01T00:00:00Z via import*newsletter       accept*'
OPTGATE_NOW=1782020000 $A unsuppress pl@example.com --stream newsletter >/dev/null 2>&1
like "hard bounce over an opt-in, lifted: the opt-in" \
    "$(OPTGATE_NOW=1782020000 $A status pl@example.com --stream newsletter)" \
    '*confirmed  2026-05-01T00:00:00Z via import*newsletter       accept*'
like "... audit says what came back" "$($A audit pl@example.com)" \
    '*unsuppress*stream newsletter*suppressed -> confirmed via admin*'
# durations an admin mistypes: a bare number was seconds (a 30-second
# suppression; every counter older than 30 s dropped, caps reset)
$A suppress ida@example.com --reason manual --expires 30 >/dev/null 2>"$T/err"
is "suppress --expires 30 (no unit): refused, exit 2" "$?" 2
like "suppress --expires 30: asks for the unit" "$(cat "$T/err")" '*--expires: expected a duration with its unit, such as 30d*got "30"*'
$A audit ida@example.com >/dev/null 2>&1
is "suppress --expires 30: nothing recorded" "$?" 1
$A expire --keep 30 >/dev/null 2>"$T/err"
is "expire --keep 30 (no unit): refused, exit 2" "$?" 2
# --keep may not drop counts the gate still uses: the caps' 7d window and
# the soft-bounce period (default 5 in 14d), whichever is longer
$A expire --keep 1d >/dev/null 2>"$T/err"
is "expire --keep shorter than a window the gate counts in: refused, exit 2" "$?" 2
like "expire --keep too short: names the window" "$(cat "$T/err")" "*--keep 1d is shorter than [[]feedback] soft_bounce's period (14d)*keep at least 14d*"
sed 's/^caps = 2\/7d, 1\/1d/caps = 2\/30d, 1\/1d/' "$T/a.conf" >"$T/a30.conf"
"$BIN/optgate" -c "$T/a30.conf" expire --keep 14d >/dev/null 2>"$T/err"
like "expire --keep shorter than a cap window: names the stream" "$(cat "$T/err")" '*--keep 14d is shorter than the cap window of stream newsletter (30d)*'
$A expire --keep 14d >"$T/out" 2>&1
is "expire --keep as long as the longest window: exit 0" "$?" 0

$A verify >/dev/null
is "store verifies at the end" "$?" 0
$B verify >/dev/null
is "partner store verifies at the end" "$?" 0
# --- restore a backup root took of a store the daemons' user owns --------
# README: "Restore by stopping the daemons and moving the copy into place";
# the pipes and daemons (user=) must then open it, even after root ran the
# first command on it (verify makes LMDB's lock files).
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$T/r"
	chmod 755 "$T" "$T/r"
	mkconf "$T/r" >"$T/r.conf"
	chmod 644 "$T/r.conf"
	R="$BIN/optgate -c $T/r.conf"
	$R init >/dev/null 2>&1
	$R optin rita@example.com --stream digest >/dev/null 2>&1
	chown -R nobody "$T/r/store" "$T/r/keys"
	$R backup "$T/r/copy" >/dev/null
	is "restore: backup by root: exit 0" "$?" 0
	is "restore: the copy belongs to the store's owner" \
	    "$(find "$T/r/copy" ! -user nobody | wc -l)" 0
	is "restore: the copy is not world-readable" \
	    "$(find "$T/r/copy" -type f -perm /o=r | wc -l)" 0
	mv "$T/r/store" "$T/r/store.old"
	mv "$T/r/copy" "$T/r/store"
	$R verify >/dev/null
	is "restore: root verifies the restored store" "$?" 0
	is "restore: the lock files root's verify made belong to the owner" \
	    "$(find "$T/r/store" ! -user nobody | wc -l)" 0
	runuser -u nobody -- $R optout rita@example.com --stream digest >/dev/null 2>"$T/err"
	is "restore: the store's user writes the restored store" "$?" 0
	$R status rita@example.com --stream digest >/dev/null 2>&1
	is "restore: the opt-out is there" "$?" 1

	# README's restore, as written: the store folder also holds the
	# quarantine; only consent and counters are moved, the copy (here
	# made by root's tar, so root's files) is chowned back.
	mkdir -p "$T/r/store/quarantine"
	touch "$T/r/store/quarantine/keep"
	chown -R nobody "$T/r/store/quarantine"
	$R optout before@example.org --all >/dev/null 2>&1
	$R backup "$T/r/bk" >/dev/null
	(cd "$T/r" && tar cf bk.tar bk && rm -rf bk && tar xof bk.tar)
	$R optout after@example.org --all >/dev/null 2>&1
	Bk="$T/r/bk"
	steps=$(sed -n '/^\*\*Restoring\.\*\*/,/^```$/p' "$TOP/README.md" |
	    sed -n '/^```sh$/,/^```$/p' | grep -v '^```' | grep -v '^systemctl' |
	    grep -v '^B=' | sed 's/ *#.*//' |
	    sed "s#/var/lib/optgate#$T/r/store#g; s#optgate:optgate#nobody:$(id -gn nobody)#; s#^optgate #$R #; s#\$B#$Bk#g")
	(set -e; eval "$steps") >"$T/out" 2>&1
	is "restore: README's steps run (out: $(tr '\n' ' ' <"$T/out"))" "$?" 0
	is "restore: the quarantine stays" "$(ls "$T/r/store/quarantine")" keep
	is "restore: every file is the owner's" "$(find "$T/r/store" ! -user nobody | wc -l)" 0
	runuser -u nobody -- $R status before@example.org --stream digest >/dev/null 2>&1
	is "restore: an opt-out before the backup is there" "$?" 1
	runuser -u nobody -- $R status after@example.org --stream digest >/dev/null 2>&1
	is "restore: one after it is gone (to re-apply)" "$?" 0
	runuser -u nobody -- $R optout new@example.org --all >/dev/null 2>&1
	is "restore: the owner writes new opt-outs" "$?" 0
	like "restore: the damaged store kept aside" "$(ls -d "$T"/r/store.broken-*/consent)" "*/consent"
fi

# README's hourly backup job, as cron runs it (% unescaped, sh -c, no
# terminal): a verified copy under its name, silence, old ones dropped;
# a second run in the same minute fails aloud and names nothing wrong.
mkdir -p "$T/cron/bin" "$T/cron/bk"
printf '#!/bin/sh\nexec %s "$@"\n' "$A" >"$T/cron/bin/optgate"
# the clock of the job's names, fixed: both runs fall in one minute
printf '#!/bin/sh\necho 20260601T0940Z\n' >"$T/cron/bin/date"
chmod +x "$T/cron/bin/optgate" "$T/cron/bin/date"
job=$(sed -n '/^    # \/etc\/cron.d\/optgate-backup$/,/^$/p' "$TOP/README.md" |
    grep 'optgate backup' | sed 's/^ *[0-9*]* [0-9*]* [0-9*]* [0-9*]* [0-9*]* *root *//' |
    sed 's/\\%/%/g' | sed "s#/var/backups/optgate#$T/cron/bk#g")
mkdir "$T/cron/bk/20200101T0000Z"
touch -d '10 days ago' "$T/cron/bk/20200101T0000Z"
env -i PATH="$T/cron/bin:/usr/bin:/bin" /bin/sh -c "$job" </dev/null >"$T/out" 2>&1
is "backup job: exit 0" "$?" 0
is "backup job: says nothing" "$(cat "$T/out")" ""
n=$(ls "$T/cron/bk")
is "backup job: one copy, named for its time" "$n" 20260601T0940Z
$A verify "$T/cron/bk/$n" >/dev/null 2>&1
is "backup job: the copy verifies" "$?" 0
env -i PATH="$T/cron/bin:/usr/bin:/bin" /bin/sh -c "$job" </dev/null >"$T/out" 2>&1
is "backup job in the same minute: fails" "$?" 1
like "backup job in the same minute: says why" "$(cat "$T/out")" '*mv:*'
is "backup job in the same minute: the copy stays as it was" "$(ls "$T/cron/bk/$n")" "$(printf 'consent\ncounters')"
# --- an address with an invisible character, typed or pasted by an admin ---
# A no-break or zero-width space pasted from a web page with the address:
# recorded, the change named a mailbox no mail goes to, and the person kept
# getting mail.  The commands that record something refuse it, naming the
# code point; nothing is written.
ev0=$($A stats --json | sed -n 's/.*"type":"store".*"events":\([0-9]*\).*/\1/p')
for c in "optout --all" "suppress --reason hard-bounce" "optin --stream digest" \
    "token --stream digest"; do
	set -- $c
	cmd=$1
	shift
	$A "$cmd" "$(printf '\302\240zoe@example.com')" "$@" >"$T/out" 2>"$T/err"
	is "$cmd with a no-break space before the address: exit 2" "$?" 2
	like "$cmd: says which character" "$(cat "$T/err")" '*U+00A0*'
	$A "$cmd" "$(printf 'zoe\342\200\213@example.com')" "$@" >"$T/out" 2>"$T/err"
	is "$cmd with a zero-width space inside the address: exit 2" "$?" 2
	like "$cmd: names the zero-width space" "$(cat "$T/err")" '*U+200B*'
done
is "invisible characters: nothing written" \
    "$($A stats --json | sed -n 's/.*"type":"store".*"events":\([0-9]*\).*/\1/p')" "$ev0"
$A optout zoe@example.com --all >/dev/null 2>&1
is "the same address typed clean is recorded" "$?" 0
# lookups read the address as the daemons read RCPT TO: not refused there
$A status "$(printf 'zoe\342\200\213@example.com')" --stream digest >/dev/null 2>"$T/err"
case "$(cat "$T/err")" in
*U+200B*) fail "status of such an address: not refused for the character" ;;
*) pass "status of such an address: not refused for the character" ;;
esac
done_testing
