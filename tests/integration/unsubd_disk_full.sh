#!/bin/sh
# optgate-unsubd with its store on a disk that fills up while people click
# one-click unsubscribe links: no opt-out is ever lost.  Each POST either
# answers 200 and the opt-out is in the store, or answers 503 (the mailbox
# provider retries; RFC 8058 senders must take it later) and nothing was
# written; the daemon keeps serving, and once there is room the same
# POSTs answer 200 and are recorded.  Root only (a tmpfs of its own).
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"

ud_setup 18088 || {
	fail "setup"
	done_testing
	exit 1
}
MNT=$UD_DIR/small
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=1m tmpfs "$MNT" 2>/dev/null; then
	fail "cannot mount a tmpfs (run as root)"
	done_testing
	exit 1
fi
cleanup() {
	UD_KEEP=1 ud_cleanup
	umount "$MNT" 2>/dev/null
	rm -rf "$UD_DIR"
}
trap cleanup EXIT
sed -i "s|^path = .*/store$|path = $MNT/store|" "$CONF"
"$BIN/optgate" -c "$CONF" init >/dev/null 2>&1
ok "the store is on the small disk" [ -f "$MNT/store/consent/data.mdb" ]
ok "optgate-unsubd starts" ud_start

# tokens first (the CLI needs no room for them), then the disk is filled
N=60
i=1
while [ $i -le $N ]; do
	ud_optin "p$i@example.org" news
	echo "$(ud_token "p$i@example.org" news)" >>"$UD_DIR/tokens"
	i=$((i + 1))
done
dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
is "the disk is full" "$(df --output=avail "$MNT" | tail -1 | tr -d ' ')" 0

# one one-click POST each, a new person each: the store grows until a
# commit finds no room
ok200=0
ok503=0
lost=""
wrong=""
i=1
while read -r tok; do
	code=$(ud_code POST "$UD_URL/u/$tok" -d List-Unsubscribe=One-Click)
	st=$(ud_status "p$i@example.org" news)
	case "$code:$st" in
	200:1) ok200=$((ok200 + 1)) ;;
	200:*) lost="$lost p$i" ;;
	503:0)
		ok503=$((ok503 + 1))
		echo "$i $tok" >>"$UD_DIR/retry"
		;;
	*) wrong="$wrong p$i:$code:$st" ;;
	esac
	i=$((i + 1))
done <"$UD_DIR/tokens"
is "no 200 without the opt-out in the store" "$lost" ""
is "every answer 200 (recorded) or 503 (nothing written)" "$wrong" ""
ok "the disk ran out: some POSTs answered 503 ($ok200 x 200, $ok503 x 503)" \
    [ "$ok503" -gt 0 ]
like "the log says why, naming the full disk" "$(cat "$UD_DIR/log")" \
    "*disk full*"
ok "the daemon is still running" kill -0 "$UD_PID"
is "and still serves pages" \
    "$(ud_code GET "$UD_URL/u/$(sed -n 1p "$UD_DIR/tokens")")" 200

rm -f "$MNT/fill"
again=0
while read -r i tok; do
	code=$(ud_code POST "$UD_URL/u/$tok" -d List-Unsubscribe=One-Click)
	[ "$code" = 200 ] && [ "$(ud_status "p$i@example.org" news)" = 1 ] &&
	    again=$((again + 1))
done <"$UD_DIR/retry"
is "with room, each one that got 503 is taken when the provider retries" \
    "$again" "$ok503"
"$BIN/optgate" -c "$CONF" verify >/dev/null 2>&1
is "the store verifies" "$?" 0
done_testing
