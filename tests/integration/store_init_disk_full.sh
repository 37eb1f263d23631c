#!/bin/sh
# optgate init on a disk too small for a new store (a tmpfs of 4 KiB,
# 8 KiB, ... up to one where it fits): wherever it stops (LMDB making
# consent's files, the commit of the store's meta records, the counters,
# the keys file) it says the disk is full, never "Input/output error"
# (LMDB's word for a commit's short write, which sends the admin to the
# disk's hardware), exits 4 (store write failed: disk full), and leaves
# nothing that stops the next init: once there is room, init again makes
# a store that verifies, takes an opt-out and has a key for its tokens.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-init-full.XXXXXX)
MNT=$T/small
cleanup() {
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4k tmpfs "$MNT" 2>/dev/null; then
	fail "cannot mount a tmpfs (run as root)"
	done_testing
	exit 1
fi
umount "$MNT"
mkconf() { # KEYS: a config with its store on the small disk
	cat <<EOF
[store]
path = $MNT/store
counter_map_size = 4M
[keys]
file = $1
[feedback]
quarantine = $T/quarantine
[stream news]
match = sender:news@example.com
class = marketing
consent = none
sender = example.com
unsubscribe = https://unsub.example.com/u/%t
EOF
}
mkconf "$T/keys" >"$T/og.conf"
mkconf "$MNT/keys" >"$T/keys-on-disk.conf"

# init on a tmpfs of KiB kilobytes; then room, and init again.  Sets
# FITS=1 when the first init made everything, else checks what was said
# and what the second init makes of what was left.
try() { # KiB CONF
	rm -f "$T/keys"
	FITS=0
	mount -t tmpfs -o size="$1k" tmpfs "$MNT" || return 1
	OG="$BIN/optgate -c $2"
	$OG init >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		FITS=1
		umount "$MNT"
		return 0
	fi
	case $(cat "$T/err") in
	"optgate: $MNT/keys: "*)
		# the store was made; the keys file (not the store) could not
		# be: errno's words are right there
		like "$1 KiB: init made the store" "$(cat "$T/out")" \
		    "store $MNT/store ready*"
		like "$1 KiB: then says the keys file found no room" \
		    "$(cat "$T/err")" "*keys: No space left on device"
		is "$1 KiB: exit 5 (keys file)" "$rc" 5
		;;
	"optgate: fatal: "*)
		# LMDB's first write to a lock.mdb it just sized (a file
		# without blocks, written through its map) found none: the
		# CLI's SIGBUS handler says so
		like "$1 KiB: init says the disk is (likely) full" \
		    "$(cat "$T/err")" "*could not grow (disk full?)*"
		is "$1 KiB: init exits 4 (store write failed)" "$rc" 4
		;;
	*)
		like "$1 KiB: init says the disk is full" "$(cat "$T/err")" \
		    "optgate: $MNT/store*: disk full: no space left on the store's disk*"
		is "$1 KiB: init exits 4 (store write failed)" "$rc" 4
		;;
	esac
	mount -o remount,size=4m "$MNT"
	$OG init >"$T/out" 2>&1
	is "$1 KiB: with room, init again works ($(tr '\n' ' ' <"$T/out"))" \
	    "$?" 0
	$OG verify >/dev/null 2>&1
	is "$1 KiB: the store verifies" "$?" 0
	$OG optout ann@example.org >/dev/null 2>&1
	$OG status ann@example.org --stream news >/dev/null 2>&1
	is "$1 KiB: and takes an opt-out" "$?" 1
	like "$1 KiB: a token can be made (the keys file has its key)" \
	    "$($OG token bob@example.org --stream news 2>&1)" "token: *"
	umount "$MNT"
}

# Every size up to one where init fits, with the keys file elsewhere,
# then on the small disk too (about 110 KiB: the lock files have their
# blocks, 32 KiB each).
for conf in og.conf keys-on-disk.conf; do
	kib=4
	commit=0
	while [ $kib -le 256 ]; do
		try $kib "$T/$conf"
		[ $FITS = 1 ] && break
		# consent made, the commit of its meta records refused
		grep -q "^optgate: $MNT/store: disk full" "$T/err" &&
		    commit=$((commit + 1))
		kib=$((kib + 4))
	done
	ok "$conf: init fits in $kib KiB (every size below was tried)" \
	    [ $kib -le 256 ]
	ok "$conf: at some size it was the commit of the meta records that failed" \
	    [ $commit -gt 0 ]
done
done_testing
