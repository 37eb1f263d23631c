#!/bin/sh
# The optgate CLI as a mail admin uses it: the README walk-through, exit
# codes, bad input, acknowledged opt-outs surviving kill -9, damaged
# stores refused without being touched.
. "$OPTGATE_TOP/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
OG="$BIN/optgate -c $T/optgate.conf"

cat >"$T/optgate.conf" <<EOF
[store]
path = $T/store
[keys]
file = $T/keys
[stream newsletter]
match = sender:news@example.com
consent = confirmed
caps = 2/7d, 1/1d
unsubscribe = https://unsub.example.com/u/%t, mailto:unsub+%t@example.com
[stream offers]
match = sender:offers@example.com
partner = acme
consent = optin
[stream resets]
match = sender:noreply@example.com
class = transactional
[feedback]
quarantine = $T/quarantine
EOF

out=$($OG config check)
is "config check ok" "$?" 0
like "config check names the streams" "$out" "*3 streams: newsletter, offers, resets*"
like "config check before init: notes the missing store" "$out" \
    "*note: [[]store] path $T/store: No such file or directory on this host (run optgate init)*"
like "... and the missing keys file" "$out" "*note: [[]keys] file*optgate init makes one*"
out=$(sed 's/^\[stream newsletter\]/[policyd]\nuser = og-no-such-user\n&/' "$T/optgate.conf" >"$T/u.conf" &&
    $BIN/optgate -c "$T/u.conf" config check)
is "config check with a daemon user missing: still exit 0 (may be for another host)" "$?" 0
like "... a unix socket in a missing folder is noted" \
    "$(sed "s#^user = og-no-such-user\$#&\nlisten = unix:$T/nodir/p.sock#" \
        "$T/u.conf" >"$T/u2.conf" &&
    $BIN/optgate -c "$T/u2.conf" config check)" \
    "*note: unix:$T/nodir/p.sock: folder $T/nodir: No such file or directory*"
like "... and says the daemon will not start" "$out" \
    '*note: [[]policyd] user: no user "og-no-such-user" on this host: the daemon will not start*'
# user = root: the privilege drop refuses it (it used to say "could get
# root back after becoming root"), so config check says so first.
sed 's/^user = og-no-such-user$/user = root/' "$T/u.conf" >"$T/r.conf"
like "config check with user = root: warns the daemon will not start" \
    "$($BIN/optgate -c "$T/r.conf" config check)" \
    '*warning: [[]policyd] user: "root" has user id 0 (root): the daemon will not start; name an unprivileged user*'
sed "s#^user = root\$#&\nlisten = inet:127.0.0.1:10979#" "$T/r.conf" >"$T/r2.conf"
like "... and optgate-policyd says why it stops" \
    "$(timeout 10 $BIN/optgate-policyd -c "$T/r2.conf" -f 2>&1)" \
    '*[[]policyd] user: root has user id 0 (root): name an unprivileged user, or leave user out to run as root*'

# socket_owner and socket_group apply to a unix: listen only: with the
# default inet: one, optgate-policyd starts without that user or group
# (config check said it would not).
out=$(printf '[policyd]\nsocket_owner = og-no-such-user\nsocket_group = og-no-such-group\n' |
    cat - "$T/optgate.conf" >"$T/so.conf" && $BIN/optgate -c "$T/so.conf" config check)
is "socket_owner and socket_group missing, inet: listen: no note" \
    "$(echo "$out" | grep -c 'socket_')" 0
out=$(printf '[policyd]\nlisten = unix:%s/p.sock\nsocket_owner = og-no-such-user\n' "$T" |
    cat - "$T/optgate.conf" >"$T/so.conf" && $BIN/optgate -c "$T/so.conf" config check)
like "... with a unix: listen: noted" "$out" \
    '*note: [[]policyd] socket_owner: no user "og-no-such-user" on this host: the daemon will not start*'
# A README snippet pasted below the shipped sections: refused, not merged.
out=$({ cat "$T/optgate.conf"; printf '[stream newsletter]\nmatch = sender:x@example.net\n'; } >"$T/dup.conf" &&
    $BIN/optgate -c "$T/dup.conf" config check 2>&1)
is "config check with a stream section given twice: exit 2" "$?" 2
like "... names both lines" "$out" \
    "*dup.conf:*: [[]stream newsletter]: section given twice (first at line *"
# A config with a NUL byte (a binary file named by mistake, a disk
# error): the error is said, not an exit 2 without a word.
out=$({ cat "$T/optgate.conf"; printf 'x\000y\n'; } >"$T/nul.conf" &&
    $BIN/optgate -c "$T/nul.conf" config check 2>&1)
is "config check of a file with a NUL byte: exit 2" "$?" 2
like "... says why" "$out" "*nul.conf: contains a NUL byte*"
# The README walk-through's config as an admin copies it from the raw
# README (less, the installed share/doc copy): every line indented.  It
# loaded as one [store] path of 12 words, "ok (0 streams)", exit 0, and
# the daemons would have started judging nothing.
sed -n "/^    cat > optgate.conf <<'EOF'/,/^    EOF/p" "$OPTGATE_TOP/README.md" |
    sed '1d;$d' | sed "s#/tmp/og/#$T/ind/#" >"$T/indented.conf"
like "the README walk-through's config block was found, indented" \
    "$(head -2 "$T/indented.conf")" "    [[]store]*    path = $T/ind/store"
out=$($BIN/optgate -c "$T/indented.conf" config check 2>&1)
is "config check of that block pasted with its indentation: exit 2" "$?" 2
like "... names the first misread line and what it would continue" "$out" \
    "*indented.conf:3: indented line \"[[]keys]\" would continue the value of [[]store] path above it: start a section line at the beginning of the line*"
out=$(printf '[unsubd]\nuser = optgate\n   listen = 127.0.0.1:8080\n' |
    cat "$T/optgate.conf" - >"$T/ind2.conf" && $BIN/optgate -c "$T/ind2.conf" config check 2>&1)
is "an indented key line under a key: exit 2" "$?" 2
like "... says so" "$out" \
    "*ind2.conf:*: indented line \"listen = ...\" would continue the value of [[]unsubd] user above it*"
# What optgate-policyd refuses to start with, config check refuses too.
out=$(sed 's/^\[stream offers\]$/&\nspf = reject/' "$T/optgate.conf" >"$T/spf.conf" &&
    $BIN/optgate -c "$T/spf.conf" config check 2>&1)
is "config check with spf on and no [spf] egress: exit 2" "$?" 2
like "... says what is missing" "$out" \
    "*[[]stream offers] spf = reject needs [[]spf] egress*"
# Caps on a transactional stream are never applied: an existing config
# keeps loading (exit 0), and config check says the lines are ignored.
out=$(sed 's#^class = transactional$#&\ncaps = 1/1d\ncaps.segment.vip = 4/7d#' \
    "$T/optgate.conf" >"$T/tc.conf" && $BIN/optgate -c "$T/tc.conf" config check 2>&1)
is "config check with caps on a transactional stream: exit 0" "$?" 0
like "... warns the caps line is ignored" "$out" \
    "*warning: $T/tc.conf:17: [[]stream resets] caps: class = transactional streams skip caps: the line is ignored*"
like "... and the caps.segment line" "$out" \
    "*warning: $T/tc.conf:18: [[]stream resets] caps.segment.vip: class = transactional streams skip caps*"
is "config check without such lines: no warning" \
    "$($OG config check 2>&1 | grep -c '^warning:')" 0
# A stream below one with a header: line is never judged by
# optgate-policyd at RCPT (DUNNO: the milter's, at end of data); one
# appended below the shipped [stream digest] let mail go out unjudged
# where optgate-policyd runs alone.  It loads, with a warning.
{
	cat "$T/optgate.conf"
	printf '%s\n' "[stream digest]" "match = header:X-Optgate-Stream=digest" \
	    "consent = optin" "[stream promo]" "match = sender:promo@example.net" \
	    "consent = optin"
} >"$T/ho.conf"
out=$($BIN/optgate -c "$T/ho.conf" config check 2>&1)
is "config check with a stream below a header-matched one: exit 0" "$?" 0
like "... warns optgate-policyd does not judge it at RCPT" "$out" \
    "*warning: $T/ho.conf:$(grep -n '^match = sender:promo@' "$T/ho.conf" | cut -d: -f1): [[]stream promo] comes after [[]stream digest], which matches a header: optgate-policyd does not judge it at RCPT*put header-matched streams last*"
is "... the streams above it and the header stream itself: no warning" \
    "$(printf '%s\n' "$out" | grep -c '^warning:')" 1
is "... the header-matched stream last: no warning" \
    "$(sed '/^\[stream promo\]/,$d' "$T/ho.conf" >"$T/hl.conf" &&
        $BIN/optgate -c "$T/hl.conf" config check 2>&1 | grep -c '^warning:')" 0
# A one-click URL under optgate-unsubd's /u/ with a character after the
# token: unsubd would answer every one-click 400.  It loads (it may be
# another web server's URL), with a warning.
out=$(sed 's#^unsubscribe = https://unsub.example.com/u/%t,#unsubscribe = https://unsub.example.com/u/%tx,#' \
    "$T/optgate.conf" >"$T/ux.conf" && $BIN/optgate -c "$T/ux.conf" config check 2>&1)
is "config check with https://.../u/%tx: exit 0" "$?" 0
like "... warns that optgate-unsubd refuses it" "$out" \
    "*warning: $T/ux.conf:9: [[]stream newsletter] unsubscribe: \"https://unsub.example.com/u/%tx\": optgate-unsubd serves /u/TOKEN only*"
is "... another server's https://.../u-%t: no warning" \
    "$(sed 's#/u/%t,#/u-%t,#' "$T/optgate.conf" >"$T/ud.conf" &&
        $BIN/optgate -c "$T/ud.conf" config check 2>&1 | grep -c '^warning:')" 0
# Listen addresses a daemon refuses at start (or binds elsewhere than
# written): config check said ok, then the restart failed.  Refused by
# config check, exit 2, in the daemon's own syntax.
listen_bad() { # "[section]" "key = value" "want (glob)"
	printf '%s\n%s\n' "$1" "$2" | cat - "$T/optgate.conf" >"$T/l.conf"
	out=$($BIN/optgate -c "$T/l.conf" config check 2>&1)
	is "config check with $1 $2: exit 2" "$?" 2
	like "... says what is wrong" "$out" "$3"
}
listen_bad "[policyd]" "listen = 127.0.0.1:10040" \
    '*l.conf:2: [[]policyd] listen: "127.0.0.1:10040": expected unix:PATH or inet:HOST:PORT*'
listen_bad "[policyd]" "listen = inet:10040@127.0.0.1" \
    "*[[]policyd] listen: \"inet:10040@127.0.0.1\": expected inet:HOST:PORT (PORT@HOST is [[]milter] socket's libmilter syntax)*"
listen_bad "[policyd]" "listen = inet:127.0.0.1:70000" \
    '*[[]policyd] listen: "inet:127.0.0.1:70000": *PORT from 1 to 65535*'
listen_bad "[unsubd]" "listen = inet:127.0.0.1:8080" \
    '*[[]unsubd] listen: "inet:127.0.0.1:8080": expected HOST:PORT, [[]ADDR]:PORT or PORT (no inet:*'
listen_bad "[unsubd]" "listen = 127.0.0.1" \
    '*[[]unsubd] listen: "127.0.0.1": expected HOST:PORT*'
listen_bad "[milter]" "socket = 127.0.0.1:10041" \
    '*[[]milter] socket: "127.0.0.1:10041": expected unix:PATH or inet:PORT@HOST*'
listen_bad "[milter]" "socket = inet:127.0.0.1:10041" \
    "*[[]milter] socket: \"inet:127.0.0.1:10041\": expected inet:PORT@HOST (libmilter's order; inet:HOST:PORT is Postfix's)*"
for l in "[policyd]|listen = inet:[::1]:10040" "[policyd]|listen = inet::10040" \
    "[unsubd]|listen = 8080" "[unsubd]|listen = *:8080" \
    "[unsubd]|listen = [::1]:8080" "[milter]|socket = inet:10041" \
    "[milter]|socket = inet6:10041@[::1]" "[milter]|socket = local:$T/m.sock"; do
	printf '%s\n%s\n' "${l%%|*}" "${l#*|}" | cat - "$T/optgate.conf" >"$T/l.conf"
	$BIN/optgate -c "$T/l.conf" config check >/dev/null 2>"$T/err"
	is "config check with ${l%%|*} ${l#*|}: exit 0" "$?" 0
done
# A partner or sender name longer than the store's 64-byte scope names:
# config check said ok, then optgate-policyd and the milter tempfailed
# every recipient of the stream (451 4.3.0, reason=store-error: invalid
# input) and a one-click unsubscribe of the partner got 503.
long=$(printf '%065d' 0 | tr 0 p)
out=$(sed "s/^partner = acme\$/partner = $long/" "$T/optgate.conf" >"$T/p.conf" &&
    $BIN/optgate -c "$T/p.conf" config check 2>&1)
is "config check with a 65-character partner: exit 2" "$?" 2
like "... says so" "$out" "*p.conf:*: [[]stream offers] partner: longer than 64 characters*"
out=$(sed "s/^partner = acme\$/sender = $long.example/" "$T/optgate.conf" >"$T/p.conf" &&
    $BIN/optgate -c "$T/p.conf" config check 2>&1)
is "config check with a 73-character sender: exit 2" "$?" 2
like "... says so" "$out" "*[[]stream offers] sender: longer than 64 characters*"
out=$(sed "s/^partner = acme\$/partner = $(printf '%064d' 0 | tr 0 p)/" "$T/optgate.conf" >"$T/p.conf" &&
    $BIN/optgate -c "$T/p.conf" config check 2>&1)
is "config check with a 64-character partner: exit 0" "$?" 0
# RFC 8058 3.1: one HTTPS URI and no other HTTP(S) one, or receivers
# offer no one-click.  The daemons still run with it (the links work):
# a warning, exit 0.
case "$($OG config check 2>&1)" in
*warning:*) fail "config check of https: and mailto: targets: no warning" ;;
*) pass "config check of https: and mailto: targets: no warning" ;;
esac
out=$(sed 's#^unsubscribe = https://unsub.example.com/u/%t, #&http://unsub.example.com/u/%t, #' \
    "$T/optgate.conf" >"$T/lu.conf" && $BIN/optgate -c "$T/lu.conf" config check 2>&1)
is "config check with an http: target beside the https: one: exit 0" "$?" 0
like "... warns that one-click is off, and why, at the unsubscribe line" "$out" \
    "*warning: $T/lu.conf:9: [[]stream newsletter] unsubscribe: an http: target beside the https: one (RFC 8058 allows exactly one HTTPS URI and no other HTTP(S) one): optgate-milter adds no List-Unsubscribe-Post, so Gmail and Yahoo offer no one-click unsubscribe*"
out=$(sed 's#^unsubscribe = https://unsub.example.com/u/%t, #&https://unsub.example.net/u/%t, #' \
    "$T/optgate.conf" >"$T/lu.conf" && $BIN/optgate -c "$T/lu.conf" config check 2>&1)
is "config check with two https: targets: exit 0" "$?" 0
like "... warns" "$out" \
    "*warning: $T/lu.conf:9: [[]stream newsletter] unsubscribe: more than one https: target*no one-click*"
out=$(sed 's#^unsubscribe = https://#unsubscribe = http://#' \
    "$T/optgate.conf" >"$T/lu.conf" && $BIN/optgate -c "$T/lu.conf" config check 2>&1)
is "config check with a plain http: target only: exit 0" "$?" 0
like "... warns" "$out" \
    "*warning: $T/lu.conf:9: [[]stream newsletter] unsubscribe: only plain http: targets (RFC 8058 one-click is a POST to an https: URI)*"
$OG status ana@example.com >/dev/null 2>"$T/err"
is "status before init: exit 3" "$?" 3
like "status before init says what to do" "$(cat "$T/err")" "*optgate init*"

out=$($OG init)
is "init" "$?" 0
like "init creates a keys file" "$out" "*keys file*created*"
is "config check after init: no notes" "$($OG config check | grep -c '^note:')" 0
# libmilter read that one as port 127 on every address: the milter ran,
# listening where Postfix never connects, and said "listening on
# inet:127.0.0.1:10041".  It now refuses to start, as config check said.
printf '[milter]\nsocket = inet:127.0.0.1:10041\n' |
    cat - "$T/optgate.conf" >"$T/l.conf"
timeout 5 $BIN/optgate-milter -f -c "$T/l.conf" >/dev/null 2>"$T/err"
is "optgate-milter with socket = inet:127.0.0.1:10041: does not start (exit 1)" "$?" 1
like "... with config check's words" "$(cat "$T/err")" \
    "*[[]milter] socket: \"inet:127.0.0.1:10041\": expected inet:PORT@HOST*"
perm=$(stat -c %a "$T/keys")
is "keys file mode 600" "$perm" 600
$OG init >/dev/null
is "init twice is harmless" "$?" 0

# A keys file the user cannot read (an admin's own account, a pipe's
# user=): the command must not advise writing a new key over it, which
# would break every link and confirmation already mailed.  Only a missing
# file is to be created, by init (0600, never over an existing file).
if [ "$(id -u)" = 0 ]; then
	K=$T/k
	mkdir "$K" && chmod 755 "$T" "$K"
	sed "s#^path = .*#path = $K/store#; s#^file = .*#file = $K/keys#" \
	    "$T/optgate.conf" >"$K/k.conf"
	chmod 644 "$K/k.conf"
	OK="$BIN/optgate -c $K/k.conf"
	$OK init >/dev/null
	ctok=$($OK optin kim@example.com --stream newsletter --double | awk '{print $NF}')
	runuser -u nobody -- $OK token kim@example.com --stream newsletter \
	    >/dev/null 2>"$T/err"
	is "keys file unreadable to the user: exit 5" "$?" 5
	like "... says why" "$(cat "$T/err")" "*$K/keys: Permission denied*"
	advice=$(sed -n "s#^optgate: create it with: optgate #$BIN/optgate #p" "$T/err")
	is "... and advises no new keys file" "$advice" ""
	[ -n "$advice" ] && sh -c "$advice" >/dev/null 2>&1
	$OK confirm "$ctok" >/dev/null 2>&1
	is "... so the confirmation mailed before still confirms" "$?" 0
	rm "$K/keys"
	$OK token kim@example.com --stream newsletter >/dev/null 2>"$T/err"
	is "keys file missing: exit 5" "$?" 5
	advice=$(sed -n "s#^optgate: create it with: optgate #$BIN/optgate #p" "$T/err")
	like "... advises init" "$advice" "*-c $K/k.conf init*"
	sh -c "$advice" >/dev/null 2>&1
	is "... which makes a keys file of mode 600" "$(stat -c %a "$K/keys" 2>&1)" 600
	$OK token kim@example.com --stream newsletter >/dev/null 2>&1
	is "... that signs" "$?" 0
	# A rotation as the README says, by someone who cannot read the
	# file: 'optgate keygen | sudo tee -a keys'.
	runuser -u nobody -- $OK keygen 2>"$T/err" | tee -a "$K/keys" >/dev/null
	$OK token kim@example.com --stream newsletter >/dev/null 2>"$T/err2"
	is "keygen | tee -a by a user who cannot read the keys: they still load" \
	    "$?" 0
	like "... keygen said why it made no key" "$(cat "$T/err")" \
	    "*$K/keys: Permission denied*--id*"
	$OK keygen >>"$K/keys"
	like "keygen by the owner: the next id, which signs" \
	    "$($OK --json token kim@example.com --stream newsletter | tr -d '\n')" '*"token":"A[g-v]*'
	# --id of a key the file has: appended, the file would not load
	# (every daemon's reload failing, the next start too).
	cp -p "$K/keys" "$T/keys.before"
	$OK keygen --id 2 >>"$K/keys" 2>"$T/err"
	is "keygen --id of a key in the file: refused (exit 2)" "$?" 2
	like "... says which id and why" "$(cat "$T/err")" \
	    "*key id 2 is in $K/keys already*stops the file loading*"
	cmp -s "$T/keys.before" "$K/keys"
	is "... adds nothing to the file" "$?" 0
	$OK token kim@example.com --stream newsletter >/dev/null 2>&1
	is "... which still loads" "$?" 0
	is "keygen --id of a free id: a line with that id" \
	    "$($OK keygen --id 7 | cut -d' ' -f1)" 7
	# A keys file whose last line has no newline (written by a
	# configuration tool, or printf): the rotation as the README says
	# must not run the new key into it.
	cp -p "$K/keys" "$T/keys.nl"
	printf '%s' "$(cat "$K/keys")" >"$K/keys"
	$OK keygen >>"$K/keys"
	like "keygen >> a keys file without a final newline: the file still loads, the new key signs" \
	    "$($OK --json token kim@example.com --stream newsletter 2>&1 | tr -d '\n')" \
	    '*"token":"A[w-z0-9_-]*'
	cp -p "$T/keys.nl" "$K/keys"
	# config check on the keys file the daemons would load: one they
	# cannot load or, after their privilege drop, read again at a reload
	# (the new key of a rotation then never taken) is said.
	printf '[milter]\nuser = nobody\n[unsubd]\nuser = nobody\n' |
	    cat "$K/k.conf" - >"$K/ku.conf"
	out=$($BIN/optgate -c "$K/ku.conf" config check 2>&1)
	like "config check: keys owned by root, daemons run as nobody: warned" \
	    "$out" "*warning: [[]keys] file $K/keys: owned by root, mode 0600: optgate-milter reads it as root at start, but as nobody ([[]milter] user) at a reload, which then fails*chown nobody $K/keys*"
	like "... for optgate-unsubd too" "$out" \
	    "*warning: [[]keys] file*optgate-unsubd reads it as root at start, but as nobody*"
	chown nobody "$K/keys"
	out=$($BIN/optgate -c "$K/ku.conf" config check 2>&1)
	is "... owned by the daemons' user: no warning" \
	    "$(printf '%s\n' "$out" | grep -c '^warning:')" 0
	sed -n 1p "$K/keys" >>"$K/keys"
	like "config check: a key id twice in the keys file: warned, with the line" \
	    "$($OK config check 2>&1)" \
	    "*warning: [[]keys] file $K/keys:3: duplicate key id (optgate-milter and optgate-unsubd would not start with it; their reload keeps the keys they hold)*"
	cp -p "$T/keys.before" "$K/keys"
	chmod 640 "$K/keys"
	like "config check: keys file readable by its group: warned" \
	    "$($OK config check 2>&1)" "*warning: [[]keys] file $K/keys: mode 0640 lets group*"
	chmod 600 "$K/keys" && : >"$K/keys"
	like "config check: keys file without a key: warned" \
	    "$($OK config check 2>&1)" "*warning: [[]keys] file $K/keys: no key in the file*"
	cp -p "$T/keys.before" "$K/keys"
fi

$OG optin ana@example.com --stream newsletter --source signup-form \
    --ip 192.0.2.10 >/dev/null
is "optin" "$?" 0
$OG status ana@example.com --stream newsletter >"$T/out"
is "status after optin: exit 0 (accepted)" "$?" 0
like "status says accept" "$(cat "$T/out")" "*newsletter*accept*"

$OG status ana@example.com --stream offers >/dev/null
is "no consent for offers: exit 1" "$?" 1

$OG optout ana@example.com --stream newsletter >/dev/null
is "optout" "$?" 0
out=$($OG status ana@example.com --stream newsletter)
is "status after optout: exit 1 (refused)" "$?" 1
like "status names the opt-out" "$out" "*unsubscribed from newsletter*via admin*"

out=$($OG status ANA@Example.COM --stream newsletter --json)
like "json status" "$out" '{"address":"ANA@Example.COM","stream":"newsletter","verdict":"reject","rule":"optout"*'

# single opt-in is not enough for a confirmed stream
$OG optin bo@example.com --stream newsletter --single >/dev/null
$OG status bo@example.com --stream newsletter >/dev/null
is "single opt-in refused on a confirmed stream" "$?" 1
$OG status bo@example.com --stream offers >/dev/null
is "single opt-in ok ... but for its own stream only" "$?" 1

# double opt-in: pending until confirmed
out=$($OG optin cy@example.com --stream newsletter --double)
tok=$(echo "$out" | sed -n 's/.* confirm //p')
like "double opt-in prints a confirmation command" "$out" "*pending*optgate * confirm *"
# the printed command must use the same config, or pasted it opens another
like "the confirmation command carries -c FILE" "$out" "*confirm with: optgate -c $T/optgate.conf confirm $tok"
$OG status cy@example.com --stream newsletter >/dev/null
is "pending is not consent" "$?" 1
$OG confirm "garbage$tok" >/dev/null 2>&1
is "bad confirmation token: exit 1" "$?" 1
$OG confirm "$tok" >/dev/null
is "confirm" "$?" 0
$OG status cy@example.com --stream newsletter >/dev/null
is "confirmed is consent" "$?" 0

# an unsubscribe token never confirms
utok=$($OG token dee@example.com --stream newsletter | sed -n 's/^token: //p')
$OG optin dee@example.com --stream newsletter --double >/dev/null
$OG confirm "$utok" >/dev/null 2>&1
is "an unsubscribe token does not confirm" "$?" 1

# A confirmation link from long ago (an old mail, a leaked archive) no
# longer opts anyone in: [keys] confirm_max_age, 30 days by default.
now=$(date +%s)
ftok=$($OG optin fay@example.com --stream newsletter --double | sed -n 's/.* confirm //p')
OPTGATE_NOW=$((now + 31 * 86400)) $OG confirm "$ftok" >"$T/out" 2>"$T/err"
is "confirmation token 31 days old: exit 1" "$?" 1
like "... says it expired, and which setting" "$(cat "$T/err")" \
    "*confirm: fay@example.com: the confirmation token expired (issued *, [[]keys] confirm_max_age = 30d): not recorded*"
OPTGATE_NOW=$((now + 31 * 86400)) $OG status fay@example.com --stream newsletter >"$T/out"
is "... and changes nothing: still not consent" "$?" 1
like "... the request is still pending" "$(cat "$T/out")" "*newsletter*pending*"
is "... and nothing was written" "$($OG audit fay@example.com | grep -c confirm)" 0
OPTGATE_NOW=$((now + 29 * 86400)) $OG confirm "$ftok" >/dev/null
is "the same token at 29 days: confirms" "$?" 0
# The admin's setting: shorter, or 0 (never expires).
sed 's/^file = .*/&\nconfirm_max_age = 2d/' "$T/optgate.conf" >"$T/age.conf"
gtok=$($OG optin gil@example.com --stream newsletter --double | sed -n 's/.* confirm //p')
OPTGATE_NOW=$((now + 3 * 86400)) $BIN/optgate -c "$T/age.conf" confirm "$gtok" 2>"$T/err"
is "confirm_max_age = 2d: a 3-day-old token is refused" "$?" 1
like "... naming the setting" "$(cat "$T/err")" "*confirm_max_age = 2d*"
sed 's/^file = .*/&\nconfirm_max_age = 0/' "$T/optgate.conf" >"$T/age0.conf"
OPTGATE_NOW=$((now + 400 * 86400)) $BIN/optgate -c "$T/age0.conf" confirm "$gtok" >/dev/null
is "confirm_max_age = 0: a token over a year old still confirms" "$?" 0
# A request recorded with an old --time gets a token that is new: the
# link is as old as the mail that carries it.
htok=$($OG optin hal@example.com --stream newsletter --double \
    --time 2024-01-02T03:04:05Z | sed -n 's/.* confirm //p')
$OG confirm "$htok" >/dev/null
is "double opt-in recorded with an old --time: its new token confirms" "$?" 0

# suppressions
$OG optin ed@example.com --stream newsletter >/dev/null
$OG suppress ed@example.com --reason hard-bounce >/dev/null
out=$($OG status ed@example.com --stream resets)
is "hard bounce stops transactional mail" "$?" 1
like "hard bounce reason" "$out" "*hard-bounced*"
# an address as the client wrote it (Postfix logs to=<ed@example.com.>: the
# client's trailing dot, a source route): judged as the daemon judged it
out=$($OG status 'ed@example.com.' --stream newsletter 2>&1)
is "status of the address with a trailing dot, as the daemons read it: refused" "$?" 1
like "... for the hard bounce, not as an invalid address" "$out" "*<ed@example.com>: address hard-bounced*"
out=$($OG audit '<@relay.example:ed@example.com.>' 2>&1)
is "audit of an envelope address with a source route: exit 0" "$?" 0
like "... its history" "$out" "*history of ed@example.com*suppress*hard-bounce*"
# Every command that takes an address reads it so: an address pasted from
# a Postfix log line acts on the person the daemons judged, not refused as
# "domain ends with a dot".
out=$($OG optin 'hu@example.com.' --stream newsletter 2>&1)
is "optin of an address with a trailing dot: exit 0" "$?" 0
like "... recorded for the address without it" "$out" "hu@example.com: optin*recorded*"
out=$($OG optout '<hu@example.com.>' --stream newsletter 2>&1)
is "optout of <ADDR.> as Postfix logs it: exit 0" "$?" 0
like "... recorded" "$out" "hu@example.com: optout (stream newsletter): recorded*"
like "... and the daemons' verdict now refuses that person" \
    "$($OG status hu@example.com --stream newsletter 2>&1)" \
    "*<hu@example.com>: unsubscribed from newsletter*"
$OG suppress '<@relay.example:hu@example.com.>' --reason manual >/dev/null 2>&1
is "suppress of an envelope address with a source route: exit 0" "$?" 0
$OG unsuppress 'hu@example.com.' >/dev/null 2>&1
is "unsuppress of the address with a trailing dot: exit 0" "$?" 0
like "... both on the one record" "$($OG audit hu@example.com)" \
    "*optin*optout*suppress*manual*unsuppress*"
tok=$($OG token '<hu@example.com.>' --stream newsletter 2>&1 | sed -n 's/^token: //p')
like "token of <ADDR.>: it names the person the daemons judged" \
    "$("$TOP/$BUILD/test/milter/mg-tokdecode" "$T/keys" "$tok" 2>&1)" \
    "hu@example.com *"
like "check-address gives the match key the daemons use" \
    "$($OG check-address 'Hu@Example.COM.' 2>&1)" "*match key:  hu@example.com*"
out=$($OG erase '<hu@example.com.>' 2>&1)
is "erase of <ADDR.>: exit 0" "$?" 0
like "... the person meant is erased" "$($OG audit hu@example.com 2>&1)" \
    "*erased at the person's request*"
out=$($OG optout 'hu@example.com..' 2>&1)
is "two trailing dots (the MTA drops one): still refused, exit 1" "$?" 1
like "... with the reason and the address as given" "$out" \
    "*hu@example.com..: invalid address: domain ends with a dot*"
$OG suppress fi@example.com --reason complaint --expires 30d >/dev/null
is "temporary suppression" "$?" 0
# the admin's note is why: status shows it beside the refusal
$OG suppress fo@example.com --reason manual --note 'ticket 4711: legal hold' >/dev/null
like "status shows what the suppression was recorded with" \
    "$($OG status fo@example.com --stream newsletter)" \
    "*suppressed (manual)*recorded 2* (event #*) via admin: source=admin note=ticket 4711: legal hold*"
like "... and so does status --json" \
    "$($OG --json status fo@example.com --stream newsletter)" \
    '*"why":{"event":*,"via":"admin","source":"admin","note":"ticket 4711: legal hold"}*'
# past its end (before optgate expire drops it): the record line says so
out=$(OPTGATE_NOW=$(( $(date +%s) + 31 * 86400 )) $OG status fi@example.com --stream resets)
like "a temporary suppression past its end: status says it ended" "$out" \
    "*all * suppressed complaint 2* via admin, ended (expired) 2*"
$OG suppress fi@example.com --reason sideways >/dev/null 2>&1
is "bad reason: exit 2" "$?" 2

# Sender-scope entries: status judges with the envelope sender the
# daemons would see (the stream's sender: line, or --from), as they do.
$OG optin gu@example.com --stream newsletter >/dev/null
$OG suppress gu@example.com --reason complaint --sender example.com >/dev/null
out=$($OG status gu@example.com --stream newsletter)
is "complaint on the sender: status refuses as the daemons do" "$?" 1
like "... and names the sender" "$out" "*complained about all mail from example.com*"
$OG status gu@example.com --stream newsletter --from news@other.example >/dev/null
is "--from another sender domain: accepted" "$?" 0
$OG status gu@example.com --stream newsletter --from '<News@Example.COM.>' >/dev/null
is "--from read as an envelope (case, <>, trailing dot)" "$?" 1
printf '[stream digest]\nmatch = header:List-Id=<digest.example.com>\nconsent = none\n' |
    cat "$T/optgate.conf" - >"$T/hdr.conf"
out=$($BIN/optgate -c "$T/hdr.conf" status gu@example.com --stream digest)
like "a stream of any sender: status says sender scopes were not judged" "$out" \
    "*note: sender-scope entries not judged*--from ADDR*"
$BIN/optgate -c "$T/hdr.conf" status gu@example.com --stream digest \
    --from news@example.com >/dev/null
is "... and judges them with --from" "$?" 1
$OG status gu@example.com --stream newsletter --from 'a@@b' >/dev/null 2>&1
is "bad --from: exit 2" "$?" 2

# A sender scope named as the gate names the envelope's domain: given as
# an address, in capitals, with a trailing dot or in Unicode, it is the
# same scope (and recorded otherwise it would stop nothing).
$OG optin hu@example.com --stream newsletter >/dev/null
out=$($OG optout hu@example.com --sender 'News@Example.COM.')
like "--sender given as an address: the scope is its domain" "$out" \
    "*optout (sender example.com): recorded*"
$OG status hu@example.com --stream newsletter >/dev/null
is "... and it stops the sender's mail" "$?" 1
out=$($OG suppress hu@example.com --reason manual --sender 'Bücher.Example')
like "--sender in Unicode: the A-label scope" "$out" "*sender xn--bcher-kva.example*"
$OG status hu@example.com --stream resets --from 'noreply@bücher.example' >/dev/null
is "... which mail from that domain meets" "$?" 1
$OG optout hu@example.com --sender 'not a domain' >/dev/null 2>&1
is "--sender that names no domain and no stream's sender: exit 2" "$?" 2

# One person however the address is written, from import to opt-out to
# decision: case, gmail dots and googlemail, +tags, Unicode domains.
printf 'address,stream,state,time,source\nAna.Maria+Promo@GoogleMail.com,newsletter,confirmed,2026-01-02T03:04:05Z,form\nJos\303\251@B\303\274cher.Example,newsletter,confirmed,2026-01-02T03:04:05Z,form\n' >"$T/norm.csv"
$OG import "$T/norm.csv" >/dev/null 2>&1
$OG status 'anamaria@gmail.com' --stream newsletter >/dev/null
is "imported with dots, +tag and googlemail: the gmail address is the person" "$?" 0
$OG optout 'ANAMARIA+other@gmail.com' --stream newsletter >/dev/null
$OG status 'Ana.Maria+Promo@GoogleMail.com' --stream newsletter >/dev/null
is "... an opt-out in capitals with another +tag stops the imported form" "$?" 1
$OG status 'josé@xn--bcher-kva.example' --stream newsletter >/dev/null
is "a Unicode domain and its A-label are one address" "$?" 0
$OG optout 'JOSé@XN--BCHER-KVA.EXAMPLE' --stream newsletter >/dev/null
$OG status 'José@Bücher.Example' --stream newsletter >/dev/null
is "... an opt-out in capitals and A-labels stops it" "$?" 1
# (known: only ASCII letters of a local part are folded, see og_addr.c;
# JOSÉ and josé are two match keys)
like "... non-ASCII letters of a local part keep their case" \
    "$($OG status 'JOSÉ@bücher.example' --stream newsletter)" "*match key josÉ@xn--bcher-kva.example): no record*"

# An opt-out is not lost under a suppression an admin later lifts: given
# while it held, or before it replaced the opt-out's entry.
$OG optin iv@example.com --stream newsletter >/dev/null
$OG suppress iv@example.com --reason manual >/dev/null
out=$($OG optout iv@example.com --all)
like "opt-out under a manual suppression: recorded (in the history)" "$out" "*recorded*"
like "... audit shows it" "$($OG audit iv@example.com)" "*optout*all*suppressed -> suppressed*"
$OG unsuppress iv@example.com --all >/dev/null
out=$($OG status iv@example.com --stream newsletter)
is "... and after the admin lifts the suppression it still stops mail" "$?" 1
like "... as the opt-out it is" "$out" "*unsubscribed from all streams*"
$OG optin jo@example.com --stream newsletter >/dev/null
$OG optout jo@example.com --all >/dev/null
$OG suppress jo@example.com --reason complaint >/dev/null
$OG unsuppress jo@example.com --all >/dev/null
$OG status jo@example.com --stream newsletter >/dev/null
is "an opt-out a complaint replaced comes back when the complaint is lifted" "$?" 1

# unsuppress without the suppression's scope (the default is all) changes
# nothing: it says which suppression still holds and the option that
# lifts it, rather than only "unchanged (already so)"
$OG optin lv@example.com --stream offers >/dev/null
$OG suppress lv@example.com --reason manual --partner acme >/dev/null
$OG optout lv@example.com --stream newsletter >/dev/null
out=$($OG unsuppress lv@example.com 2>"$T/err")
is "unsuppress in another scope than the suppression: exit 0 (nothing to lift there)" "$?" 0
like "... says unchanged" "$out" "lv@example.com: unsuppress: unchanged*"
like "... names the suppression that still holds, and how to lift it" \
    "$(cat "$T/err")" \
    "*note: lv@example.com is still suppressed (manual) for partner acme: lift it with optgate unsuppress lv@example.com --partner acme*"
like "... and her opt-out, as hers" "$(cat "$T/err")" \
    "*note: lv@example.com is still opted out of stream newsletter (the person's own choice)*"
$OG unsuppress lv@example.com --partner acme >/dev/null 2>"$T/err"
$OG status lv@example.com --stream offers >/dev/null
is "... lifted as it says: offers mail her again" "$?" 0
is "... and that unsuppress notes nothing of the partner" \
    "$(grep -c 'partner acme' "$T/err")" 0

# A double opt-in asked after an opt-out is no consent until confirmed,
# also for a stream that needs none (anyone can type an address in a form).
HD="$BIN/optgate -c $T/hdr.conf"
now=$(date +%s)
$HD optout kay@example.com --stream digest >/dev/null
out=$(OPTGATE_NOW=$((now + 10)) $HD optin kay@example.com --stream digest --double)
tok=$(echo "$out" | sed -n 's/.* confirm //p')
OPTGATE_NOW=$((now + 20)) $HD status kay@example.com --stream digest >/dev/null
is "double opt-in asked after an opt-out: the opt-out holds" "$?" 1
OPTGATE_NOW=$((now + 30)) $HD confirm "$tok" >/dev/null
is "... the confirmation is taken" "$?" 0
OPTGATE_NOW=$((now + 40)) $HD status kay@example.com --stream digest >/dev/null
is "... and then she gets the stream" "$?" 0

# token and URLs
out=$($OG token ana@example.com --stream newsletter)
like "token prints the https URL" "$out" "*unsubscribe: https://unsub.example.com/u/*"
like "token prints the mailto URL" "$out" "*unsubscribe: mailto:unsub+*@example.com*"
# The address, plain or URL-encoded, is nowhere in the links.  (Not just
# "ana": a random token holds those three letters now and then.)
case "$out" in *ana@example.com* | *ana%40example.com* | *ana%40example%2ecom*)
	fail "token hides the address" "$out" ;;
*) pass "token hides the address" ;; esac

# addresses
out=$($OG check-address 'C.Liente+promo@GoogleMail.com')
like "check-address match key" "$out" "*match key:  cliente@gmail.com*"
out=$($OG check-address 'cliente@yaho.com')
like "check-address typo" "$out" "*typo of yahoo.com*"
$OG check-address 'not an address' >/dev/null
is "invalid address: exit 1" "$?" 1
$OG optin 'bad@@example.com' --stream newsletter >/dev/null 2>&1
is "optin of an invalid address: exit 1" "$?" 1

# usage and config errors
$OG optin ana@example.com >/dev/null 2>&1
is "optin without --stream: exit 2" "$?" 2
$OG optin ana@example.com --stream nosuch >/dev/null 2>&1
is "unknown stream: exit 2" "$?" 2
$OG frobnicate >/dev/null 2>&1
is "unknown command: exit 2" "$?" 2
printf '[store]\npath = %s/store\nmap_size = huge\n[strem x]\n' "$T" \
    >"$T/bad.conf"
out=$($BIN/optgate -c "$T/bad.conf" config check 2>&1)
is "bad config: exit 2" "$?" 2
like "bad value reported with file and line" "$out" "*bad.conf:3: \\[store\\] map_size: expected a size*"
like "unknown section reported too" "$out" "*bad.conf:4: \\[strem x\\]: unknown section*"
# A List-Unsubscribe link on mail that ignores opt-outs: the click would
# be answered "unsubscribed" and the next receipt delivered all the same.
sed 's|^class = transactional$|&\nunsubscribe = https://unsub.example.com/u/%t|' \
    "$T/optgate.conf" >"$T/tx.conf"
out=$($BIN/optgate -c "$T/tx.conf" config check 2>&1)
is "unsubscribe link on a transactional stream: exit 2" "$?" 2
like "... says why and what to do" "$out" \
    "*[[]stream resets] unsubscribe: class = transactional mail ignores opt-outs*class = marketing*"
$BIN/optgate -c "$T/missing.conf" status a@b.example >/dev/null 2>&1
is "missing -c file: exit 2" "$?" 2

# An acknowledged opt-out survives kill -9 right after the ack.
i=0
: >"$T/acked"
while [ $i -lt 40 ]; do
	$OG optout "k$i@example.com" --all >"$T/o$i" 2>&1 &
	pid=$!
	n=0
	while ! grep -q recorded "$T/o$i" 2>/dev/null && [ $n -lt 2000 ]; do
		n=$((n + 1))
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	grep -q recorded "$T/o$i" && echo "k$i@example.com" >>"$T/acked"
	i=$((i + 1))
done
lost=0
while read -r a; do
	$OG status "$a" --stream newsletter >/dev/null 2>&1 || continue
	lost=$((lost + 1))
done <"$T/acked"
acked=$(wc -l <"$T/acked")
[ "$acked" -gt 0 ] && pass "kill -9 loop acknowledged $acked opt-outs" ||
    fail "kill -9 loop acknowledged nothing"
is "no acknowledged opt-out lost after kill -9" "$lost" 0

# --help, as a new admin reads it: `optgate COMMAND --help` gave the
# whole list, whose lines left out options the commands take (explain
# --from, suppress --source and --note, confirm --ip, optin --time,
# import-hashed --rejects, the pipes' --client).
cmds="init keygen optin confirm optout suppress unsuppress status explain
check-address token config import audit export import-hashed erase stats
backup verify expire bounce fbl unsub-mail quarantine"
bad=""
badusage=""
unknown=""
here=$(pwd)
cd "$T" || exit 1 # an argument taken for a folder name lands here
for c in $cmds; do
	h=$($OG "$c" --help </dev/null 2>&1)
	case "$?:$h" in
	"0:usage: optgate [-c FILE] [--json] [-v] $c"*) ;;
	*) bad="$bad $c" ;;
	esac
	# every option its usage error names is in its --help
	u=$($OG "$c" --no-such-option </dev/null 2>&1 | sed -n 's/^usage: optgate //p')
	case "$u" in
	"" | "$c"*) ;;
	*) badusage="$badusage $c($u)" ;;
	esac
	for o in $(echo "$u" | grep -o -- '--[a-z-]*' | grep -vx -- '--json'); do
		case "$h" in *"$o"*) ;; *) bad="$bad $c$o" ;; esac
	done
	# and every option its --help names, the command takes
	for o in $(echo "$h" | sed 1d | grep -o -- '--[a-z-]*'); do
		case "$($OG "$c" "$o" x-arg </dev/null 2>&1)" in
		*"unrecognized option"*) unknown="$unknown $c$o" ;;
		esac
	done
done
is "COMMAND --help: that command's usage, exit 0, every option it takes" \
    "$bad" ""
is "... the usage error names the command typed (explain, not status)" \
    "$badusage" ""
cd "$here" || exit 1
is "... and names no option the command does not take" "$unknown" ""
like "--help without a command: the list, with each command's options" \
    "$($OG --help)" "*explain ADDR [[]--stream S] [[]--from ADDR]*"
(cd "$T" && $OG backup --verify >/dev/null 2>&1)
is "backup with an option it does not take: usage error, exit 2" "$?" 2
ok "... and no folder named after the option" test ! -e "$T/--verify"
$OG verify --strict >/dev/null 2>&1
is "verify with an option it does not take: usage error, exit 2" "$?" 2

# Counts read as sentences ("1 address", "0 addresses", "2 events"), and
# a 30-character stream name (the config takes up to 64) widens the
# stream column of every table rather than shifting its own row.
L=weekly-digest-for-the-partners
mkdir -p "$T/w"
cat >"$T/w/optgate.conf" <<EOF
[store]
path = $T/w/store
[keys]
file = $T/w/keys
[stream news]
match = sender:news@example.com
consent = confirmed
[stream $L]
match = sender:digest@example.com
consent = confirmed
partner = acme
[feedback]
quarantine = $T/w/quarantine
EOF
W="$BIN/optgate -c $T/w/optgate.conf"
like "init of a new store: 0 addresses" "$($W init)" "*ready (schema 1, 0 addresses)*"
$W optin ana@example.com --stream "$L" >/dev/null
$W optout ana@example.com --stream news >/dev/null
like "init of a store of one: 1 address" "$($W init)" "*ready (schema 1, 1 address)*"
out=$($W status ana@example.com)
is "status: the verdicts start in one column past the longest stream name" \
    "$(printf '%s\n' "$out" | grep -E "^  (news|$L) " | cut -c1-42)" \
    "$(printf '  %-30s %-8s \n  %-30s %-8s ' news reject "$L" accept)"
is "... and the lines under a verdict start with its text" \
    "$(printf '%s\n' "$out" | grep -c '^ \{42\}recorded .* via admin')" 1
is "... and the record's entries line up past the longest name" \
    "$(printf '%s\n' "$out" | grep '^  stream ' | cut -c1-52)" \
    "$(printf '  %-8s %-30s %-10s\n  %-8s %-30s %-10s' stream "$L" confirmed stream news optout)"
is "status --stream news: the column fits the name shown" \
    "$($W status ana@example.com --stream news | grep '^  news ' | cut -c1-28)" \
    "$(printf '  %-16s %-8s ' news reject)"
is "status --json unchanged" \
    "$($W --json status ana@example.com --stream "$L" | cut -c1-89)" \
    "{\"address\":\"ana@example.com\",\"stream\":\"$L\",\"verdict\":\"accept\""
is "audit: the states start in one column past the longest scope" \
    "$($W audit ana@example.com | grep -- ' -> ' | awk '{ print index($0, " none -> ") }' | sort -u)" 81
like "audit: 2 events" "$($W audit ana@example.com)" "*(match key ana@example.com): 2 events, in*"
like "stats: erased 0 (keyed hashes), partner lists 0 hashes" "$($W stats)" \
    "*, erased 0 (keyed hashes), partner lists 0 hashes*"
printf '# acme\n%064d\n' 7 >"$T/w/acme.key"
chmod 600 "$T/w/acme.key"
$W export --hashed "$T/w/acme.key" >"$T/w/h.csv"
like "import-hashed of one hash: 1 line" \
    "$($W import-hashed "$T/w/h.csv" --partner acme --key "$T/w/acme.key")" \
    "*for partner acme: 1 line: 1 added, 0 unchanged, 0 rejected"
$W erase bo@example.com >/dev/null 2>&1
out=$($W stats)
like "stats: 1 address, 4 events" "$out" "store $T/w/store: schema 1, 1 address, 4 events*"
like "stats: erased 1 (keyed hash), partner lists 1 hash" "$out" \
    "*, erased 1 (keyed hash), partner lists 1 hash (acme 1)*"
is "stats: the scopes' counts start past the longest scope" \
    "$(printf '%s\n' "$out" | grep -E '^  stream (news|weekly)')" \
    "$(printf '  %-37s confirmed 1\n  %-37s optout 1' "stream $L" "stream news")"
is "stats: the rates' numbers stay in their columns" \
    "$(printf '%s\n' "$out" | sed -n '/^  stream  *sends/,$p' | cut -c1-43)" \
    "$(printf '  %-30s %10s\n' stream sends news 0 "$L" 0 "(all streams)" 0)"
like "export -v: 2 rows" "$($W -v export 2>&1 >/dev/null)" "*exported 2 rows in*"
like "export -v --stream news: 1 row" \
    "$($W -v export --stream news 2>&1 >/dev/null)" "*exported 1 row in*"
like "backup of a store of one: about 1 address" "$($W backup "$T/w/bk")" \
    "*(about 1 address, 4 events)*"
like "verify: 1 address record, 1 partner key" "$($W verify "$T/w/bk")" \
    "$T/w/bk: ok: schema 1, 1 address record, 4 events (2 on address chains), 2 keyed hashes, 1 partner key, 0 counters"
$W optin cy@example.com --stream news --single >/dev/null
like "stats: 2 addresses" "$($W stats)" "store $T/w/store: schema 1, 2 addresses, 5 events*"
like "backup of a store of two: about 2 addresses" "$($W backup "$T/w/bk2")" \
    "*(about 2 addresses, 5 events)*"

# Damaged stores are refused and left as they were.
cp -r "$T/store" "$T/good"
head -c 65536 /dev/urandom >"$T/store/consent/data.mdb"
sum1=$(md5sum <"$T/store/consent/data.mdb")
out=$($OG status ana@example.com 2>&1)
is "garbage store: exit 3" "$?" 3
like "garbage store message" "$out" "*not an LMDB file*nothing was changed*"
$OG optout ana@example.com >/dev/null 2>&1
is "garbage store: writes refused too" "$?" 3
is "garbage store untouched" "$(md5sum <"$T/store/consent/data.mdb")" "$sum1"

rm -rf "$T/store" && cp -r "$T/good" "$T/store"
truncate -s 12288 "$T/store/consent/data.mdb"
out=$($OG status ana@example.com 2>&1)
is "truncated store: exit 3" "$?" 3
like "truncated store message" "$out" "*truncated*restore a backup*"
is "truncated store not extended" "$(stat -c %s "$T/store/consent/data.mdb")" 12288

done_testing
