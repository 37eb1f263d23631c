#!/bin/sh
# optgate-unsubd behind a real nginx, configured from conf/nginx-unsubd.conf
# (ports, certificate and upstream changed for loopback): a one-click POST
# over HTTPS to the List-Unsubscribe host, the client's address recorded
# as proof (trusted_proxy), plain HTTP keeps the POST with a 308, limits
# at the edge, no token in nginx's logs.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
trap ud_cleanup EXIT INT TERM

ud_setup 18087 "trusted_proxy = 127.0.0.1" || { fail "setup"; done_testing; exit 1; }
ok "optgate-unsubd starts" ud_start

if [ ! -x "$(command -v nginx || echo /usr/sbin/nginx)" ]; then
	fail "nginx installed (tools/install-deps.sh: nginx-light)"
	done_testing
	exit 1
fi
ok "nginx starts with the example config" ud_nginx_start 18088 18089
N=$UD_NGX
NGX_PID=$UD_NGX_PID
CURL=$UD_CURL
is "healthz through nginx from the host" \
    "$($CURL -o /dev/null -w '%{http_code}' https://unsub.example.com:18088/healthz)" 200
is "healthz hidden from others" "$($CURL -o /dev/null -w '%{http_code}' \
    --interface 127.0.0.5 https://unsub.example.com:18088/healthz)" 403
is "other paths 404" "$($CURL -o /dev/null -w '%{http_code}' \
    https://unsub.example.com:18088/etc/passwd)" 404

A=leitor@example.com.br
ud_optin $A news
TOK=$(ud_token $A news)
U=https://unsub.example.com:18088/u/$TOK
like "GET page through nginx (HTTP/2)" "$($CURL --http2 --interface 127.0.0.5 "$U")" \
    "*l\*\*\*\*\*r@example.com.br*"
# nginx must drop a kept upstream connection before optgate-unsubd
# closes it (its timeout), or a one-click POST can meet a closing one.
ka=$(sed -n 's/^[[:space:]]*keepalive_timeout[[:space:]]*\([0-9]*\)s;.*/\1/p' \
    "$TOP/conf/nginx-unsubd.conf")
ut=$(sed -n 's/^timeout[[:space:]]*=[[:space:]]*\([0-9]*\)s.*/\1/p' "$TOP/conf/unsubd.conf")
ok "upstream keepalive_timeout (${ka:-none}s) below unsubd's timeout (${ut:-?}s)" \
    test "${ka:-999}" -lt "${ut:-0}"
like "HTTPS answers carry HSTS" "$($CURL -D - -o /dev/null "$U")" \
    "*[Ss]trict-[Tt]ransport-[Ss]ecurity: max-age=31536000*"
is "one-click POST over HTTPS through nginx 200" "$($CURL -o /dev/null \
    -w '%{http_code}' --interface 127.0.0.5 -d List-Unsubscribe=One-Click "$U")" 200
is "the next message is refused" "$(ud_status $A news)" 1
like "proof records the client (127.0.0.5), not nginx" \
    "$(mdb_dump -p -s events "$UD_DIR/store/consent")" "*127.0.0.5*"
like "log names the client" "$(cat "$UD_DIR/log")" \
    "*unsubscribe: to=<l\*\*\*\*\*r@example.com.br>*client=\[127.0.0.5\]*"
B=ouvinte@example.com.br
ud_optin $B news
TB=$(ud_token $B news)
H=$($CURL -D - -o /dev/null -d List-Unsubscribe=One-Click \
    "http://unsub.example.com:18089/u/$TB")
like "plain HTTP: 308 (the POST stays a POST)" "$H" "HTTP/1.1 308*"
like "... to the HTTPS URL" "$H" "*Location: https://unsub.example.com/u/$TB*"
is "a redirect alone unsubscribes nobody" "$(ud_status $B news)" 0
# The redirect names our host, not the one the client sent: nginx gives
# a server the requests for names it has no server for when it is the
# only one on the port (or the default).
H=$($CURL -D - -o /dev/null -H 'Host: evil.example' \
    "http://unsub.example.com:18089/u/$TB")
like "a foreign Host: still a 308 to our HTTPS URL" "$H" \
    "*Location: https://unsub.example.com/u/$TB*"
# certbot certonly --webroot: its HTTP-01 file is served on plain HTTP
# (a 308 to the HTTPS site, which answers 404 there, fails the check).
mkdir -p "$N/webroot/.well-known/acme-challenge"
printf 'tok123.thumb\n' >"$N/webroot/.well-known/acme-challenge/tok123"
is "plain HTTP serves the ACME challenge (certbot --webroot)" \
    "$($CURL "http://unsub.example.com:18089/.well-known/acme-challenge/tok123")" \
    tok123.thumb
like "... and still redirects everything else" "$($CURL -D - -o /dev/null \
    "http://unsub.example.com:18089/u/$TB")" "HTTP/1.1 308*"
python3 -c 'print("x=" + "a" * 20000, end="")' >"$N/huge"
is "nginx refuses bodies over 8 KB" "$($CURL -o /dev/null -w '%{http_code}' \
    --data-binary @"$N/huge" "https://unsub.example.com:18088/u/$TB")" 413
is "... and nothing changed" "$(ud_status $B news)" 0
kill $NGX_PID
wait $NGX_PID 2>/dev/null
# access_log off: the requests (and their tokens) leave no access log.
# (nginx's error log still quotes the request line of a failed request.)
ok "no access log" test ! -e "$N/logs/access.log"
ok "optgate-unsubd stops cleanly" ud_stop
done_testing
