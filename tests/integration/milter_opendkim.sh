#!/bin/sh
# optgate-milter then OpenDKIM (signing) in a real Postfix: the delivered
# message carries optgate's headers, its DKIM signature verifies (opendkim
# in test mode, public key from a file: no DNS) and h= covers both
# List-Unsubscribe headers, oversigned.  A tampered List-Unsubscribe
# fails verification.  Ports: Postfix 25210/25211, OpenDKIM 10064.
. "$OPTGATE_TOP/tests/lib/tap.sh"
. "$TOP/tests/milter/common.sh"
. "$TOP/tests/lib/postfix.sh"

mg_init
# tests/lib/postfix.sh takes over the EXIT trap at pf_init: stop ours there.
pf_cleanup_add mg_cleanup
mg_wait_free 25210 25211 10064 || exit 1
C=$MG_DIR/optgate.conf
mg_config "$C" "unix:$MG_DIR/milter.sock" "user = postfix"
mg_fill_store "$C"
chown -R postfix "$MG_DIR/store" "$MG_DIR/keys"
mg_start "$C" || exit 1

# OpenDKIM with the settings conf/opendkim-optgate.conf recommends.
D=$MG_DIR/dkim
mkdir -p "$D"
opendkim-genkey -D "$D" -d example.com -s sel || exit 1
chown -R opendkim "$D" 2>/dev/null
{
	grep -v '^#' "$TOP/conf/opendkim-optgate.conf" | grep -v '^$'
	cat <<EOF
Domain			example.com
Selector		sel
KeyFile			$D/sel.private
Socket			inet:10064@127.0.0.1
InternalHosts		127.0.0.1
RequireSafeKeys		false
PidFile			$D/opendkim.pid
Syslog			no
Background		no
EOF
} >"$D/sign.conf"
opendkim -f -x "$D/sign.conf" >"$D/opendkim.log" 2>&1 &
DKPID=$!
MG_PIDS="$MG_PIDS $DKPID"
i=0
until ss -ltn | grep -q '127.0.0.1:10064 ' || [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

# Verification without DNS: the public key from a file.
printf 'sel._domainkey.example.com %s\n' \
    "$(tr -d '\n\t"' <"$D/sel.txt" | sed 's/.*( *//; s/ *).*//')" \
    >"$D/keys"
printf 'Mode v\nTestPublicKeys %s\nRequireSafeKeys false\nSyslog no\n' \
    "$D/keys" >"$D/verify.conf"

pf_start 25210 25211 \
    "smtpd_milters=unix:$MG_DIR/milter.sock, inet:127.0.0.1:10064" \
    milter_default_action=tempfail milter_protocol=6 || exit 1

printf 'From: News <news@example.com>\r\nTo: <ok@example.com>\r\nSubject: November\r\nX-Optgate-Stream: newsletter\r\n\r\nHello.\r\n' \
    >"$MG_DIR/m"
out=$(pf_send news@example.com ok@example.com "$MG_DIR/m")
like "message accepted through optgate + OpenDKIM" "$out" "*DATA 250*"
pf_sink_wait 1 20
# Everything Postfix accepted was delivered: smtp-sink closes a dump file
# before its 250, and Postfix removes a message once it has the 250.
pf_wait_queue_empty 20 ||
    fail "Postfix delivered everything within 20 s ($(pf_queue_count) left)"
f=$(pf_sink_files | head -1)
# smtp-sink puts its X-Client-Addr etc. lines first: keep the message.
sed -e '/^X-\(Client-Addr\|Client-Proto\|Helo-Args\|Mail-Args\|Rcpt-Args\):/d' \
    "$f" >"$MG_DIR/delivered"
ok "delivered message has List-Unsubscribe" \
    grep -q '^List-Unsubscribe: <https://' "$MG_DIR/delivered"
ok "delivered message is DKIM-signed" \
    grep -q '^DKIM-Signature:' "$MG_DIR/delivered"
h=$(sed -n '/^DKIM-Signature:/,/^[^ \t]/p' "$MG_DIR/delivered" | sed '$d' |
    tr -d ' \t\r\n' | sed 's/.*;h=\([^;]*\);.*/\1/' | tr 'A-Z' 'a-z')
like "h= covers List-Unsubscribe" "$h" "*list-unsubscribe:*"
like "h= covers List-Unsubscribe-Post" "$h" "*list-unsubscribe-post*"
n=$(echo "$h" | tr ':' '\n' | grep -cx 'list-unsubscribe')
is "List-Unsubscribe oversigned (listed twice in h=)" "$n" 2
v=$(opendkim -x "$D/verify.conf" -t "$MG_DIR/delivered" 2>&1)
rc=$?
is "opendkim verifies the delivered message (exit 0)" "$rc" 0
like "opendkim: verification passed" "$v" "*verification*succeeded*"
sed 's|^List-Unsubscribe: <https://[^/]*/|List-Unsubscribe: <https://evil.example/|' \
    "$MG_DIR/delivered" >"$MG_DIR/tampered"
v=$(opendkim -x "$D/verify.conf" -t "$MG_DIR/tampered" 2>&1)
like "a changed List-Unsubscribe fails verification" "$v" "*verification*failed*"

done_testing
