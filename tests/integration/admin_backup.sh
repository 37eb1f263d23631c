#!/bin/sh
# optgate backup when it does not finish, as an admin meets it: a backup
# that fails (its disk full, the store's own disk in the common layout)
# leaves nothing behind to fill that disk, so opt-outs are still taken;
# a backup cut short (Ctrl-C, kill -9, a crash) after its consent copy is
# refused by verify (exit 3), which leaves the folder as it found it, so
# it is never taken for "the newest backup that verifies".
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-backup.XXXXXX)
MNT=$T/disk
cleanup() {
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
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

# --- README's restore onto a new disk --------------------------------------
# The disk is lost with the store: the admin makes [store] path again (as
# root: mkdir), skips the lines that keep the damaged store, and runs the
# rest.  The store folder stayed root's (and so did what root's
# "optgate verify" made in it): after the next power cut that damaged the
# counters, the store's user could not move them aside ("cannot move
# aside: Permission denied"), so no daemon opened the store.
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$T"
	mkdir "$T/new"
	mkconf "$T/new/store" >"$T/new.conf"
	chmod 644 "$T/new.conf"
	N="$BIN/optgate -c $T/new.conf"
	chown -R nobody "$T/bk"
	mkdir "$T/new/store"
	Bk="$T/bk"
	steps=$(sed -n '/^\*\*Restoring\.\*\*/,/^```$/p' "$TOP/README.md" |
	    sed -n '/^```sh$/,/^```$/p' | grep -v '^```' | grep -v '^systemctl' |
	    grep -v '^B=' | grep -v 'broken' | sed 's/ *#.*//' |
	    sed "s#/var/lib/optgate#$T/new/store#g; s#optgate:optgate#nobody:$(id -gn nobody)#; s#^optgate #$N #; s#\$B#$Bk#g")
	(set -e; eval "$steps") >"$T/out" 2>&1
	is "new disk: README's steps run (out: $(tr '\n' ' ' <"$T/out"))" "$?" 0
	is "new disk: every file is the store's user's" \
	    "$(find "$T/new/store" ! -user nobody | wc -l)" 0
	runuser -u nobody -- $N optout cy@example.org --all >/dev/null 2>"$T/err"
	is "new disk: the store's user writes it (err: $(cat "$T/err"))" "$?" 0
	runuser -u nobody -- $N status ana@example.org --stream news >/dev/null 2>&1
	is "new disk: an opt-out from before the backup is there" "$?" 1
	# the next power cut that damages the counters: the store's user
	# moves them aside and makes them again, in the store folder
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(2 * 4096); f.write(bytes(4096))' \
	    "$T/new/store/counters/data.mdb"
	rm -f "$T/new/store/counters/walked"
	runuser -u nobody -- $N optout di@example.org --all >/dev/null 2>"$T/err"
	is "new disk: counters damaged later are rebuilt by the store's user (err: $(tail -1 "$T/err"))" "$?" 0
else
	pass "# SKIP new disk: needs root to run the steps as README gives them"
fi

# --- a backup that fails on a full disk --------------------------------
# The store and its backups on one file system (/var/lib and
# /var/backups): the failed copy filled it and stayed, so every opt-out
# after it (one-click: 503; the CLI: exit 4) failed until someone found
# and removed it.
if [ "$(id -u)" = 0 ] && mkdir -p "$MNT" &&
    mount -t tmpfs -o size=6m tmpfs "$MNT" 2>/dev/null; then
	mkdir "$MNT/backups"
	cp -a "$T/bk" "$MNT/store"
	mkconf "$MNT/store" >"$T/small.conf"
	S="$BIN/optgate -c $T/small.conf"
	$S verify >/dev/null 2>&1
	is "disk full: the store there verifies" "$?" 0
	# leave less room than a copy needs
	free=$(df -k --output=avail "$MNT" | tail -1)
	need=$(du -sk "$T/bk" | cut -f1)
	dd if=/dev/zero of="$MNT/filler" bs=1k \
	    count=$((free - need / 2)) 2>/dev/null
	$S backup "$MNT/backups/b.part" >/dev/null 2>"$T/err"
	is "disk full: backup fails, exit 5" "$?" 5
	like "... says why" "$(cat "$T/err")" "*No space left on device*"
	like "... and that it removed its partial copy" "$(cat "$T/err")" \
	    "*partial copy removed*"
	is "... nothing left in the backups folder" "$(ls "$MNT/backups")" ""
	$S optout bob@example.org --all >/dev/null 2>"$T/err"
	is "... an opt-out after it is taken (err: $(cat "$T/err"))" "$?" 0
	$S status bob@example.org --stream news >/dev/null 2>&1
	is "... and refuses her" "$?" 1
	rm -f "$MNT/filler"
	$S backup "$MNT/backups/b2" >/dev/null 2>&1
	is "disk freed: backup exit 0" "$?" 0
	$S verify "$MNT/backups/b2" >/dev/null 2>&1
	is "... and it verifies" "$?" 0
else
	pass "# SKIP disk full: needs root to mount a tmpfs"
fi
done_testing
