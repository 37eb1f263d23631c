#!/bin/sh
# optgate-unsubd behind a real nginx, configured from conf/nginx-unsubd.conf
# (ports, certificate and upstream changed for loopback): a one-click POST
# over HTTPS to the List-Unsubscribe host, the client's address recorded
# as proof (trusted_proxy), plain HTTP keeps the POST with a 308, limits
# at the edge, no token in nginx's logs.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
NGX_PID=
trap 'ud_cleanup' EXIT INT TERM

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
	fail "nginx installed (tools/install-deps.sh: nginx-light)"
	done_testing
	exit 1
fi
ud_setup 18087 "trusted_proxy = 127.0.0.1" || { fail "setup"; done_testing; exit 1; }
ok "optgate-unsubd starts" ud_start

N=$UD_DIR/nginx
mkdir -p "$N/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=unsub.example.com -addext subjectAltName=DNS:unsub.example.com \
    -days 2 -keyout "$N/key.pem" -out "$N/cert.pem" >/dev/null 2>&1
sed -e 's/server 127\.0\.0\.1:8080;/server 127.0.0.1:18087;/' \
    -e 's/listen 443 ssl http2;/listen 127.0.0.1:18088 ssl http2;/' \
    -e '/listen \[::\]:443/d' -e '/listen \[::\]:80;/d' \
    -e 's/listen 80;/listen 127.0.0.1:18089;/' \
    -e "s|ssl_certificate /etc/letsencrypt/live/unsub.example.com/fullchain.pem|ssl_certificate $N/cert.pem|" \
    -e "s|ssl_certificate_key /etc/letsencrypt/live/unsub.example.com/privkey.pem|ssl_certificate_key $N/key.pem|" \
    "$TOP/conf/nginx-unsubd.conf" >"$N/site.conf"
cat >"$N/nginx.conf" <<EOC
user root;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 256; }
http {
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	include $N/site.conf;
}
EOC
ok "nginx accepts the example config" "$NGINX" -t -q -c "$N/nginx.conf" -p "$N"
"$NGINX" -c "$N/nginx.conf" -p "$N" -g 'daemon off;' 2>>"$N/error.log" &
NGX_PID=$!
UD_PIDS="$UD_PIDS $NGX_PID"
CURL="curl -s --max-time 10 --cacert $N/cert.pem --resolve unsub.example.com:18088:127.0.0.1 --resolve unsub.example.com:18089:127.0.0.1"
i=0
while [ $i -lt 100 ] && ! $CURL -o /dev/null https://unsub.example.com:18088/healthz; do
	sleep 0.1
	i=$((i + 1))
done
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
