#!/bin/sh
# Every writer on a full disk (a small tmpfs): the CLI says the disk is
# full and exits 4 with nothing applied (changes, erase, a partner's
# hashed list alike), a pipe processor exits 75
# (Postfix keeps the report), optgate-unsubd answers 503 and does not
# acknowledge the click, optgate-policyd keeps deciding; once space is
# freed each of them works again with no repair, and the store verifies.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"

UDP=18088
PDP=10044
T=$(mktemp -d /tmp/og-disk-full.XXXXXX)
MNT=$T/small
PD_PID=
cleanup() {
	[ -n "$PD_PID" ] && kill "$PD_PID" 2>/dev/null && wait "$PD_PID"
	ud_cleanup
	mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
	fail "cannot mount a tmpfs (run as root)"
	done_testing
	exit 1
fi
CONF=$T/og.conf
UD_DIR=$T
UD_KEEP=1
UD_PORT=$UDP
UD_URL=http://127.0.0.1:$UDP
cat >"$CONF" <<EOF
[store]
path = $MNT/store
counter_map_size = 4M
[keys]
file = $T/keys
[feedback]
quarantine = $T/quarantine
[unsubd]
listen = 127.0.0.1:$UDP
rate_limit = 0
[policyd]
listen = inet:127.0.0.1:$PDP
[stream news]
match = sender:news@example.com
class = marketing
consent = none
sender = example.com
unsubscribe = $UD_URL/u/%t
[stream offers]
match = sender:offers@example.com
class = marketing
consent = none
partner = acme
[stream resets]
match = sender:noreply@example.com
class = transactional
EOF
OG="$BIN/optgate -c $CONF"
$OG init >/dev/null 2>&1 || fail "init"
for a in ann bob cid dan eve; do
	$OG optin $a@example.org --stream news --single >/dev/null 2>&1
done
ok "unsubd starts" ud_start
"$BIN/optgate-policyd" -c "$CONF" -f >"$T/pd.log" 2>&1 &
PD_PID=$!
PQ="python3 $TOP/tests/lib/policyclient.py query inet:127.0.0.1:$PDP"
i=0
until [ "$($PQ sender=news@example.com recipient=ann@example.org)" = DUNNO ] ||
    [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
TOK=$($OG token cid@example.org --stream news | sed -n 's/^token: //p')
$OG suppress fay@example.org --reason manual >/dev/null 2>&1
# a partner's hashed list (HMAC-SHA256 of the match key) with gus on it
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
hashes() { # KEY ADDR: the file a partner sends
	printf 'hash\n'
	python3 -c 'import hashlib, hmac, sys
print(hmac.new(bytes.fromhex(sys.argv[1]), sys.argv[2].encode(),
    hashlib.sha256).hexdigest())' "$1" "$2"
}
echo "$KEY" >"$T/acme.key"
echo "ff$(echo "$KEY" | cut -c3-)" >"$T/other.key"
chmod 600 "$T/acme.key" "$T/other.key"
hashes "$KEY" gus@example.org >"$T/gus.csv"
hashes "$KEY" hal@example.org >"$T/hal.csv"
$OG import-hashed "$T/gus.csv" --partner acme --key "$T/acme.key" \
    >/dev/null 2>&1 || fail "import-hashed"
$OG status gus@example.org --stream offers >/dev/null 2>&1
is "the partner's list refuses gus" "$?" 1

dsn() { # RCPT N
	cat <<MSG
Return-Path: <>
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-$2@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1"

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; $1
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--B1
Content-Type: text/rfc822-headers

From: news@example.com
To: $1
Message-Id: <orig-$2@example.com>

--B1--
MSG
}
oneclick() {
	curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 10 \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    --data 'List-Unsubscribe=One-Click' "$UD_URL/u/$TOK"
}

# --- the disk fills -----------------------------------------------------------
dd if=/dev/zero of="$MNT/fill" bs=64k >/dev/null 2>&1
# LMDB reuses the free pages its file has: opt-outs go in until a commit
# needs a new page.
i=0
rc=0
while [ $i -lt 500 ]; do
	i=$((i + 1))
	$OG optout "fill$i@example.org" >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && break
done
is "full: optout exits 4" "$rc" 4
like "full: optout says the disk is full" "$(cat "$T/err")" \
    "*fill$i@example.org*disk*full*"
$OG status "fill$i@example.org" --stream news >/dev/null 2>&1
is "full: the refused opt-out changed nothing (status accepts)" "$?" 0
like "full: and wrote no event" "$($OG audit "fill$i@example.org" 2>&1)" \
    '*no history*'
# A change to a record already there (no new leaf) may still fit in the
# pages LMDB freed when the insert above did not: whether it does depends
# on the layout (a store with one more meta record let the suppression
# below and a one-click through).  Use those pages up the same way.
j=0
while [ $j -lt $i ]; do
	j=$((j + 1))
	$OG suppress "fill$j@example.org" --reason manual >/dev/null 2>&1 ||
	    break
done
$OG suppress dan@example.org --reason manual >/dev/null 2>"$T/err"
is "full: suppress exits 4" "$?" 4
like "full: suppress says the disk is full" "$(cat "$T/err")" '*disk*full*'
dsn bob@example.org 1 | $OG bounce >/dev/null 2>"$T/err"
is "full: bounce exits 75 (Postfix retries)" "$?" 75
like "full: bounce logs the disk is full" "$(cat "$T/err")" '*disk*full*'
$OG status bob@example.org --stream news >/dev/null 2>&1
is "full: the bounce is not half-applied" "$?" 0
is "full: a one-click is not acknowledged (503)" "$(oneclick)" 503
$OG status cid@example.org --stream news >/dev/null 2>&1
is "full: and not applied" "$?" 0
is "full: policyd still decides (opted in: DUNNO)" \
    "$($PQ sender=news@example.com recipient=eve@example.org instance=f1)" \
    DUNNO
like "full: policyd still refuses the opted-out" \
    "$($PQ sender=news@example.com recipient=fill1@example.org instance=f2)" \
    '5* *'
is "full: policyd transactional" \
    "$($PQ sender=noreply@example.com recipient=bob@example.org instance=f3)" \
    DUNNO
# 15000 sends need new pages for the counters: the disk has no room for
# them, so counting stops, said once.
sends() { # PREFIX N
	awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) {
	    r = "sender=news@example.com recipient=" p i "@example.org instance=" p i
	    print r; print r " protocol_state=END-OF-MESSAGE" } }' |
	    python3 "$TOP/tests/lib/policyclient.py" session \
	    inet:127.0.0.1:$PDP | sort | uniq -c | sort -rn | head -1 |
	    awk '{ print $2 }'
}
is "full: policyd answers while the counters cannot grow" \
    "$(sends c 15000)" DUNNO
kill -0 "$PD_PID" 2>/dev/null
is "full: policyd still runs (no SIGBUS)" "$?" 0
is "full: a refused count is logged once" \
    "$(grep -c 'counting [0-9]* sends of news' "$T/pd.log")" 1
like "full: and says the disk is full" \
    "$(grep 'counting [0-9]* sends of news' "$T/pd.log")" '*disk full*'
# The consent writes that are not changes say it the same way, not
# "input/output error" (LMDB's word for a commit's short write), which
# sends the admin to the disk's hardware.
FULL="*disk full: no space left on the store's disk*"
# An erase frees the pages of what it removes: erase the fillers until
# those are used up too, as above.
j=0
while [ $j -lt $((i - 1)) ]; do
	j=$((j + 1))
	$OG erase "fill$j@example.org" >/dev/null 2>&1 || break
done
ann=$($OG audit ann@example.org 2>&1)
annx=$($OG explain ann@example.org 2>&1)
$OG erase ann@example.org >/dev/null 2>"$T/err"
is "full: erase exits 4" "$?" 4
like "full: erase says the disk is full" "$(cat "$T/err")" "$FULL"
is "full: the refused erase changed nothing (history)" \
    "$($OG audit ann@example.org 2>&1)" "$ann"
is "full: nor what explain says" "$($OG explain ann@example.org 2>&1)" "$annx"
$OG status ann@example.org --stream news >/dev/null 2>&1
is "full: and ann is still mailed" "$?" 0
$OG unsuppress fay@example.org >/dev/null 2>"$T/err"
is "full: unsuppress exits 4" "$?" 4
like "full: unsuppress says the disk is full" "$(cat "$T/err")" "$FULL"
$OG status fay@example.org --stream news >/dev/null 2>&1
is "full: fay is still suppressed" "$?" 1
$OG import-hashed "$T/hal.csv" --partner acme --key "$T/acme.key" \
    >/dev/null 2>"$T/err"
is "full: import-hashed exits 4" "$?" 4
like "full: import-hashed says the disk is full" "$(cat "$T/err")" "$FULL"
$OG status hal@example.org --stream offers >/dev/null 2>&1
is "full: hal is not on the partner's list" "$?" 0
# --replace drops the old list first (its own write)
$OG import-hashed "$T/hal.csv" --partner acme --key "$T/other.key" \
    --replace >/dev/null 2>"$T/err"
is "full: import-hashed --replace exits 4" "$?" 4
like "full: import-hashed --replace says the disk is full" \
    "$(cat "$T/err")" "$FULL"
$OG status gus@example.org --stream offers >/dev/null 2>&1
is "full: the partner's old list is kept" "$?" 1
$OG verify >/dev/null 2>&1
is "full: the store verifies" "$?" 0

# --- space again: no repair -----------------------------------------------------
rm -f "$MNT/fill"
$OG optout "fill$i@example.org" >/dev/null 2>&1
is "space: the same optout works" "$?" 0
$OG suppress dan@example.org --reason manual >/dev/null 2>&1
is "space: suppress works" "$?" 0
dsn bob@example.org 1 | $OG bounce >/dev/null 2>&1
is "space: the retried bounce exits 0" "$?" 0
$OG status bob@example.org --stream news >/dev/null 2>&1
is "space: the bounce is applied" "$?" 1
is "space: the one-click is acknowledged" "$(oneclick)" 200
$OG status cid@example.org --stream news >/dev/null 2>&1
is "space: and applied" "$?" 1
$OG erase ann@example.org >/dev/null 2>&1
is "space: the same erase works" "$?" 0
$OG status ann@example.org --stream news >/dev/null 2>&1
is "space: ann is erased" "$?" 1
$OG unsuppress fay@example.org >/dev/null 2>&1
is "space: unsuppress works" "$?" 0
$OG status fay@example.org --stream news >/dev/null 2>&1
is "space: fay is mailed again" "$?" 0
$OG import-hashed "$T/hal.csv" --partner acme --key "$T/acme.key" \
    >/dev/null 2>&1
is "space: import-hashed works" "$?" 0
$OG status hal@example.org --stream offers >/dev/null 2>&1
is "space: hal is on the partner's list" "$?" 1
sends d 200 >/dev/null
i=0
while [ $i -lt 30 ] && ! grep -q 'counting sends again' "$T/pd.log"; do
	sleep 0.1
	i=$((i + 1))
done
ok "space: counting resumes by itself" grep -q 'counting sends again' "$T/pd.log"
like "space: policyd refuses the bounced address" \
    "$($PQ sender=news@example.com recipient=bob@example.org instance=s1)" \
    '5* *'
$OG verify >/dev/null 2>&1
is "space: the store verifies" "$?" 0
done_testing
