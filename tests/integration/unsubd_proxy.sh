#!/bin/sh
# optgate-unsubd behind a real nginx that sends X-Forwarded-For only (no
# X-Real-IP: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for,
# as many nginx setups have it), itself behind a load balancer that is a
# trusted_proxy too: the client recorded as proof, and logged, is the
# right-most X-Forwarded-For entry that is not a trusted proxy; a direct
# client's X-Forwarded-For is never believed.  Then nginx as shipped
# (X-Real-IP $remote_addr too) behind the same balancer: its X-Real-IP
# is the balancer, a trusted proxy, so the same walk names the client.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
trap ud_cleanup EXIT INT TERM

# 127.0.0.1: nginx; 127.0.0.3: the load balancer in front of it.
ud_setup 18085 "trusted_proxy = 127.0.0.1, 127.0.0.3" ||
    { fail "setup"; done_testing; exit 1; }
ok "optgate-unsubd starts" ud_start
if [ ! -x "$(command -v nginx || echo /usr/sbin/nginx)" ]; then
	fail "nginx installed (tools/install-deps.sh: nginx-light)"
	done_testing
	exit 1
fi
ok "nginx without X-Real-IP starts" \
    ud_nginx_start 18089 18090 '/proxy_set_header X-Real-IP/d'
ok "... and sends X-Forwarded-For only" \
    sh -c "! grep -q 'proxy_set_header X-Real-IP' '$UD_NGX/site.conf' &&
        grep -q 'X-Forwarded-For \$proxy_add_x_forwarded_for' '$UD_NGX/site.conf'"
CURL=$UD_CURL

# One one-click POST for address $1, from $2 (the load balancer or a
# client), with the X-Forwarded-For the load balancer sends ($3, or none);
# prints its status code.
post() {
	ud_optin "$1" news
	_t=$(ud_token "$1" news)
	if [ -n "${3:-}" ]; then
		$CURL -o /dev/null -w '%{http_code}' --interface "$2" \
		    -H "X-Forwarded-For: $3" -d List-Unsubscribe=One-Click \
		    "https://unsub.example.com:18089/u/$_t"
	else
		$CURL -o /dev/null -w '%{http_code}' --interface "$2" \
		    -d List-Unsubscribe=One-Click \
		    "https://unsub.example.com:18089/u/$_t"
	fi
}

# A client straight to nginx: nginx's entry names it.
is "a client through nginx alone: one-click POST 200" \
    "$(post alone@example.com 127.0.0.5)" 200
like "... its address is the proof, not nginx's" \
    "$(mdb_dump -p -s events "$UD_DIR/store/consent")" "*127.0.0.5*"
like "... and is logged" "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" \
    "*client=\[127.0.0.5\]*"

# Through the load balancer: nginx appends the balancer's address to the
# client's; the balancer is trusted, so its entry is passed over.
is "a client through the load balancer and nginx: 200" \
    "$(post lb@example.com 127.0.0.3 198.51.100.50)" 200
like "... the client is logged, not the load balancer" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[198.51.100.50\]*"
like "... and is the proof" \
    "$(mdb_dump -p -s events "$UD_DIR/store/consent")" "*198.51.100.50*"
# A client that forges an entry of its own: the balancer's entry for it
# (right of the forged one) names it.
is "a forged entry left of the balancer's: 200" \
    "$(post forged@example.com 127.0.0.3 '192.0.2.66, 198.51.100.51')" 200
like "... the balancer's client is logged, not the forged entry" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[198.51.100.51\]*"
# An entry that is no address where the client should be: not skipped
# (what is left of it is the client's to write), the peer stays.
is "garbage where the client's entry should be: 200" \
    "$(post junk@example.com 127.0.0.3 '198.51.100.52, junk')" 200
like "... logged as the proxy, not the entry left of it" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[127.0.0.1\]*"

# Straight to the daemon, from a peer that is no trusted proxy: its
# X-Forwarded-For is not believed.
TD=$(ud_token direct@example.com news)
ud_optin direct@example.com news
is "a direct client's one-click POST with X-Forwarded-For: 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
        -H 'X-Forwarded-For: 198.51.100.60' -d List-Unsubscribe=One-Click \
        "$UD_URL/u/$TD")" 200
like "... logged under its own address" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[127.0.0.2\]*"
ok "... and 198.51.100.60 is nowhere in the proof" sh -c \
    "! mdb_dump -p -s events '$UD_DIR/store/consent' | grep -q 198.51.100.60"

# nginx as conf/nginx-unsubd.conf ships it: X-Real-IP $remote_addr and
# X-Forwarded-For $proxy_add_x_forwarded_for.  Behind the balancer its
# X-Real-IP names the balancer: believed, every client behind it was one
# client (the balancer's address as proof, one rate-limit count).
kill "$UD_NGX_PID" 2>/dev/null
wait "$UD_NGX_PID" 2>/dev/null
ok "nginx as shipped (X-Real-IP and X-Forwarded-For) starts" \
    ud_nginx_start 18089 18090
ok "... and sends X-Real-IP \$remote_addr" \
    grep -q 'proxy_set_header X-Real-IP \$remote_addr' "$UD_NGX/site.conf"
CURL=$UD_CURL
is "X-Real-IP is the load balancer: one-click POST 200" \
    "$(post rlb@example.com 127.0.0.3 198.51.100.70)" 200
like "... the client is logged, not the load balancer" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[198.51.100.70\]*"
like "... and is the proof" \
    "$(mdb_dump -p -s events "$UD_DIR/store/consent")" "*198.51.100.70*"
is "X-Real-IP is the load balancer, a forged entry left of its: 200" \
    "$(post rforged@example.com 127.0.0.3 '192.0.2.67, 198.51.100.71')" 200
like "... the balancer's client is logged, not the forged entry" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[198.51.100.71\]*"
is "X-Real-IP is the load balancer, garbage for the client: 200" \
    "$(post rjunk@example.com 127.0.0.3 '198.51.100.72, junk')" 200
like "... logged as the load balancer, not the entry left of it" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[127.0.0.3\]*"
# A client straight to nginx: X-Real-IP names it, its own X-Forwarded-For
# is not walked.
is "X-Real-IP is a client, with an X-Forwarded-For of its own: 200" \
    "$(post rclient@example.com 127.0.0.6 198.51.100.73)" 200
like "... the client nginx saw is logged" \
    "$(grep 'unsubscribe:' "$UD_DIR/log" | tail -1)" "*client=\[127.0.0.6\]*"
ok "... and 198.51.100.73 is nowhere in the proof" sh -c \
    "! mdb_dump -p -s events '$UD_DIR/store/consent' | grep -q 198.51.100.73"
ok "optgate-unsubd stops cleanly" ud_stop
done_testing
