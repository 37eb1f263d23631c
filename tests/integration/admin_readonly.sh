#!/bin/sh
# The store read by someone who may not change it: a support person whose
# group may read the store's folder and files but write none of them, root
# on a copy made read-only (chmod -R a-w), a read-only bind mount of it.
# status, explain, audit and export answer as they do for root on the
# writable store and change no file; a command that changes the store is
# refused with one line naming the file and what is missing, and changes
# nothing.  Reading without lock.mdb is refused while a process has the
# store open (here: an import waiting for its input).
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

if [ "$(id -u)" != 0 ]; then
	echo "ok 1 # SKIP needs root (setpriv to nobody, chgrp, mount)"
	echo "1..1"
	exit 0
fi
T=$(mktemp -d /tmp/og-readonly.XXXXXX)
MNT=$T/ro
IMP=
cleanup() {
	[ -n "$IMP" ] && kill "$IMP" 2>/dev/null
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	chmod -R u+w "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
chmod 755 "$T"
cd "$T" || exit 1 # import - leaves import.rejects and .warnings here
NG=$(id -gn nobody)
SUPPORT="setpriv --reuid=nobody --regid=$NG --clear-groups"
OPTGATE_NOW=1780272000 # 2026-06-01T00:00:00Z
export OPTGATE_NOW
mkconf() { # STORE: a config for the store at STORE
	cat <<EOF
[store]
path = $1
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
caps = 2/7d
[stream digest]
match = header:X-Optgate-Stream=digest
class = marketing
consent = none
EOF
}
mkconf "$T/store" >"$T/og.conf"
mkconf "$T/copy" >"$T/copy.conf"
mkconf "$MNT" >"$T/ro.conf"
chmod 644 "$T"/*.conf
OG="$BIN/optgate -c $T/og.conf"
$OG init >/dev/null 2>&1
$OG import /dev/stdin >/dev/null 2>&1 <<'EOF'
address,stream,state,time,source,ip,reason
ana@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,signup-form,203.0.113.5,
cid@example.com,,suppressed,2026-02-01T00:00:00Z,,,complaint
dan@example.com,,optout,2026-02-02T00:00:00Z,unsub-page,,
EOF
$OG optout ana@example.com --stream newsletter --source "reply" >/dev/null 2>&1
$OG optin ana@example.com --stream digest >/dev/null 2>&1

# What root sees on the writable store: the answers to compare.
reads() { # PREFIX CONF: each reading command's output and exit code
	for c in "status ana@example.com" "explain cid@example.com --stream digest" \
	    "audit ana@example.com" "export" "--json status dan@example.com"; do
		out=$($1 "$BIN/optgate" -c "$2" $c 2>&1)
		printf '%s\n[exit %s]\n' "$out" "$?"
	done
}
reads "" "$T/og.conf" >"$T/root.out"
like "root's answers to compare are real answers" "$(cat "$T/root.out")" \
    "*ana@example.com*digest*cid@example.com*complaint*dan@example.com*"
is "root: explain of a suppressed address exits 1, the rest 0" \
    "$(grep -c '^\[exit 0\]' "$T/root.out") $(grep -c '^\[exit 1\]' "$T/root.out")" "4 1"

# Every file and folder of the store: contents, modes, times.
snap() { # DIR
	find "$1" -exec stat -c '%n %a %s %y' {} + | sort
	find "$1" -type f -exec md5sum {} + | sort
}

# --- a support group that may read, not write ------------------------------
chgrp -R "$NG" "$T/store"
find "$T/store" -type d -exec chmod 750 {} +
find "$T/store" -type f -exec chmod 640 {} +
snap "$T/store" >"$T/before"
reads "$SUPPORT" "$T/og.conf" >"$T/support.out"
is "support user (read-only files): status, explain, audit, export: root's answers and exit codes" \
    "$(cat "$T/support.out")" "$(cat "$T/root.out")"
is "support user's reads change no file (not even lock.mdb)" \
    "$(snap "$T/store")" "$(cat "$T/before")"
$SUPPORT $OG optout ana@example.com --all >/dev/null 2>"$T/err"
is "support user's optout: exit 3 (store cannot be opened)" "$?" 3
is "... one line" "$(wc -l <"$T/err")" 1
like "... naming the file and the missing permission" "$(cat "$T/err")" \
    "optgate: optout changes the store, and $T/store/consent/data.mdb: not writable by user nobody (Permission denied; the store belongs to user root); nothing was changed*"
$SUPPORT $OG import - >/dev/null 2>"$T/err" <<'EOF'
address,stream,state
new@example.com,digest,optin
EOF
like "support user's import: refused the same way" "$(cat "$T/err")" \
    "optgate: import changes the store, and $T/store/consent/data.mdb: not writable by user nobody*"
$SUPPORT $OG erase dan@example.com >/dev/null 2>"$T/err"
like "support user's erase: refused the same way" "$(cat "$T/err")" \
    "optgate: erase changes the store, and $T/store/consent/data.mdb: not writable by user nobody*"
is "refused commands change no file" "$(snap "$T/store")" "$(cat "$T/before")"

# A process has the store open (an import waiting for its lines): read
# without a reader slot in lock.mdb, its writes could be read as the
# store's, so that read is refused; with write access to lock.mdb alone
# the support user reads beside it.
hold_store() { # an import that has the store open until fd 3 is closed
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	$OG import - <"$T/fifo" >"$T/import.out" 2>&1 &
	IMP=$!
	exec 3>"$T/fifo"
	echo "address,stream,state" >&3
	i=0
	while [ $i -lt 50 ] && ! grep -q " $IMP " /proc/locks; do
		sleep 0.1
		i=$((i + 1))
	done
}
hold_store
$SUPPORT $OG status ana@example.com >/dev/null 2>"$T/err"
is "store in use, no write access to lock.mdb: status refused (exit 3)" "$?" 3
like "... saying which process has it and the ways out" "$(cat "$T/err")" \
    "optgate: $T/store/consent/lock.mdb: not writable by user nobody (Permission denied), and process $IMP (optgate) has the store open: *give user nobody write access to lock.mdb alone*or read a backup"
chmod g+w "$T/store/consent/lock.mdb" "$T/store/counters/lock.mdb"
reads "$SUPPORT" "$T/og.conf" >"$T/support.out"
is "lock.mdb group-writable: support user reads beside the running import, root's answers" \
    "$(cat "$T/support.out")" "$(cat "$T/root.out")"
md5sum "$T/store/consent/data.mdb" "$T/store/counters/data.mdb" >"$T/data.md5"
$SUPPORT $OG optout ana@example.com --all >/dev/null 2>&1
is "... and still may change nothing" "$?" 3
ok "... its data files as they were" md5sum -c --quiet "$T/data.md5"
echo "eve@example.com,digest,optin" >&3
exec 3>&-
wait "$IMP"
IMP=
like "the import ran as usual beside the readers" "$(cat "$T/import.out")" "*1 imported*"

# --- root, a copy made read-only -------------------------------------------
reads "" "$T/og.conf" >"$T/root.out" # with the import's line
cp -a "$T/store" "$T/copy"
chmod -R a-w "$T/copy"
snap "$T/copy" >"$T/before"
reads "" "$T/copy.conf" >"$T/copy.out"
is "root, copy made read-only: root's answers" "$(cat "$T/copy.out")" "$(cat "$T/root.out")"
is "root's reads change no file of the copy (lock.mdb, counters/walked)" \
    "$(snap "$T/copy")" "$(cat "$T/before")"
$BIN/optgate -c "$T/copy.conf" optout ana@example.com --all >/dev/null 2>"$T/err"
is "root's optout on the copy: exit 3" "$?" 3
like "... the file made read-only, and the way to change it" "$(cat "$T/err")" \
    "optgate: optout changes the store, and $T/copy/consent/data.mdb: made read-only for everyone (mode 0440); make it writable first (chmod -R u+w $T/copy) if it is to be changed; nothing was changed*"
is "... and the copy is as it was" "$(snap "$T/copy")" "$(cat "$T/before")"

# --- a read-only bind mount of the store ------------------------------------
mkdir "$MNT"
if mount --bind "$T/store" "$MNT" 2>/dev/null &&
    mount -o remount,ro,bind "$MNT" 2>/dev/null; then
	reads "" "$T/ro.conf" >"$T/ro.out"
	is "root, read-only mount: root's answers" "$(cat "$T/ro.out")" "$(cat "$T/root.out")"
	$BIN/optgate -c "$T/ro.conf" optout ana@example.com --all >/dev/null 2>"$T/err"
	like "read-only mount: optout refused, saying so" "$(cat "$T/err")" \
	    "optgate: optout changes the store, and $MNT/consent/data.mdb: not writable (Read-only file system); nothing was changed*"
	# LMDB alone reads a read-only file system without its lock, even
	# while a writer has the same files open through another mount.
	hold_store
	$BIN/optgate -c "$T/ro.conf" status ana@example.com >/dev/null 2>"$T/err"
	is "read-only mount, store in use: status refused (exit 3)" "$?" 3
	like "... saying why and the ways out" "$(cat "$T/err")" \
	    "optgate: $MNT/consent/lock.mdb: not writable by user root (Read-only file system), and process $IMP (optgate) has the store open: *read it through a mount where lock.mdb can be written, or read a backup"
	exec 3>&-
	wait "$IMP"
	IMP=
	umount "$MNT"
else
	mountpoint -q "$MNT" && umount "$MNT"
	for i in 1 2 3 4; do
		pass "# SKIP read-only mount: cannot bind-mount here"
	done
fi
like "after all that, the store says what it said" \
    "$($OG status ana@example.com)" "*newsletter*optout*"
done_testing
