#!/bin/sh
# README "Putting it behind a hostname" (optgate-unsubd) as a new mail
# admin follows it on the host that serves unsub.example.com: the config
# of step 3, nginx from conf/nginx-unsubd.conf on ports 443 and 80 as
# shipped (only the certificate's paths changed: a self-signed one), the
# daemon on 127.0.0.1:8080, and the commands of steps 5 and 6 taken from
# README.md and run as written (`optgate` without -c reads this test's
# config; TOKEN is the token `optgate token` printed).
#
# "From the host" is what it is on a real server: unsub.example.com
# resolves to the host's own public address, so a request to that name
# comes from that address, not from 127.0.0.1.  The test runs in its own
# network and mount namespace (unshare -n -m): 192.0.2.80 on lo plays the
# public address, /etc/hosts (a bind mount) names it; nothing outside
# changes and no port is shared with other tests.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
if [ "$(id -u)" != 0 ]; then
	echo "ok 1 # SKIP needs root (unshare -n -m, nginx on 443)"
	echo "1..1"
	exit 0
fi
if [ -z "${UR_IN_NS:-}" ]; then
	exec unshare -n -m env UR_IN_NS=1 sh "$0" "$@"
fi

PUB=192.0.2.80
W=$(mktemp -d /tmp/optgate-unsubd-readme.XXXXXX)
chmod 755 "$W"
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# stop: a step everything after needs failed
stop() {
	fail "$1" "$2"
	done_testing
	exit 1
}

printf '%s unsub.example.com\n' $PUB >"$W/hosts"
ip link set lo up && ip addr add $PUB/32 dev lo &&
    mount --bind "$W/hosts" /etc/hosts ||
    stop "namespace: lo up, $PUB on it, /etc/hosts names it"

# block N: the lines of the Nth fenced block of README's section,
# unindented.
block() {
	sed -n '/^### Putting it behind a hostname/,/^### /p' "$TOP/README.md" |
	    awk -v want=$((2 * $1 - 1)) '/^ *```/ { n++; next }
	    n == want { sub(/^   /, ""); print }'
}

# Step 3's config, with this test's store, keys and user (nobody: no
# optgate user on a test host) and a match line for its stream.
CONF=$W/optgate.conf
{
	printf '%s\n' "[store]" "path = $W/store" "[keys]" "file = $W/keys"
	block 2 | sed -e 's/^user = optgate/user = nobody/' \
	    -e 's/^\[stream newsletter\]$/&\nmatch = sender:news@example.com/'
} >"$CONF"
like "step 3's config has [unsubd] listen = 127.0.0.1:8080" "$(cat "$CONF")" \
    "*listen = 127.0.0.1:8080*"
"$BIN/optgate" -c "$CONF" init >/dev/null 2>&1 &&
    chown -R nobody "$W/store" "$W/keys" || stop "optgate init"
# The README's `optgate ...` lines, with this test's config.
mkdir -p "$W/path"
printf '#!/bin/sh\nexec "%s/optgate" -c "%s" "$@"\n' "$BIN" "$CONF" \
    >"$W/path/optgate"
chmod 755 "$W/path/optgate"

# nginx from the shipped file: only the certificate changes.
N=$W/nginx
mkdir -p "$N/tmp" "$N/webroot"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -subj /CN=unsub.example.com \
    -addext subjectAltName=DNS:unsub.example.com -days 2 \
    -keyout "$N/key.pem" -out "$N/cert.pem" >/dev/null 2>&1 ||
    stop "a self-signed certificate"
sed -e "s|/etc/letsencrypt/live/unsub.example.com/fullchain.pem|$N/cert.pem|" \
    -e "s|/etc/letsencrypt/live/unsub.example.com/privkey.pem|$N/key.pem|" \
    -e "s|root /var/www/html;|root $N/webroot;|" \
    "$TOP/conf/nginx-unsubd.conf" >"$N/site.conf"
cat >"$N/nginx.conf" <<EOC
user root;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 64; }
http {
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	include $N/site.conf;
}
EOC
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -t -q -c "$N/nginx.conf" -p "$N" 2>>"$N/error.log" ||
    stop "nginx -t with conf/nginx-unsubd.conf" "$(tail -3 "$N/error.log")"
"$NGINX" -c "$N/nginx.conf" -p "$N" -g 'daemon off;' 2>>"$N/error.log" &
PIDS="$PIDS $!"

"$BIN/optgate-unsubd" -c "$CONF" -f >"$W/unsubd.log" 2>&1 &
PIDS="$PIDS $!"
i=0
while [ $i -lt 100 ] && ! { curl -s -o /dev/null --max-time 1 \
    http://127.0.0.1:8080/healthz &&
    curl -sk -o /dev/null --max-time 1 https://127.0.0.1/ ; }; do
	sleep 0.1
	i=$((i + 1))
done
ok "optgate-unsubd on 127.0.0.1:8080 and nginx on 443 answer" \
    curl -sk -o /dev/null --max-time 1 https://127.0.0.1/

# curl trusts the test certificate as it trusts a real CA's.
export CURL_CA_BUNDLE=$N/cert.pem
PATH=$W/path:$PATH
export PATH

# Step 5: the health check "from the host".
HC=$(block 3 | grep '^curl ')
like "step 5 has a health check with curl" "$HC" "curl *healthz*"
is "step 5's health check, run on the host as written, says ok" \
    "$(sh -c "$HC" 2>&1)" ok
# What the example nginx config is for: /healthz stays local.
is "... the same URL from anywhere else (this host's public address): 403" \
    "$(curl -s -o /dev/null -w '%{http_code}' \
    https://unsub.example.com/healthz)" 403

# Step 6: the click made by hand.
block 4 >"$W/step6"
TOKEN=
n=0
while IFS= read -r line; do
	case $line in
	"optgate token "*)
		TOKEN=$(sh -c "$line" | sed -n 's/^token: //p')
		continue
		;;
	esac
	case $line in
	*TOKEN*)
		[ -n "$TOKEN" ] || stop "step 6 prints a token before its URL"
		line=$(printf '%s' "$line" | sed "s/TOKEN/$TOKEN/g")
		;;
	esac
	n=$((n + 1))
	sh -c "$line" >"$W/step6.$n" 2>&1
done <"$W/step6"
cat "$W"/step6.? >"$W/step6.out"
like "step 6 ran optgate token, then the click on its URL" \
    "$(grep -c '^curl ' "$W/step6") $TOKEN" "1 ?*"
# Its outputs in order: optin, status + 0, curl, status + 1.
is "step 6: status before the click exits 0 (accepted)" \
    "$(tail -n 1 "$W/step6.2")" 0
like "step 6: the POST as Gmail sends it gets 200" \
    "$(head -n 1 "$W/step6.3")" "HTTP/* 200*"
is "step 6: status after the click exits 1 (refused)" \
    "$(tail -n 1 "$W/step6.4")" 1
like "... and names the click as the README says" "$(cat "$W/step6.out")" \
    "*unsubscribed from newsletter on $(date -u +%F) via one-click*"

# Step 6's log line, with the client nginx named (this host's address).
L=$(block 5 | sed "s/client=\[203\.0\.113\.7\]/client=[$PUB]/")
like "step 6's log line is the daemon's (client from nginx's X-Real-IP)" \
    "$(cat "$W/unsubd.log")" "*$(printf '%s' "$L" | sed 's/[*[]/[&]/g')*"

# "What is recorded": the names `optgate status` (and audit) give a
# one-click and a page's change.
VIA=$(sed -n '/^### What is recorded/,/^### /p' "$TOP/README.md" |
    tr '\n' ' ' | sed -n 's/.*A one-click POST records `via \([^`]*\)`; *page *changes `via \([^`]*\)`.*/\1 \2/p')
like "What is recorded names the one-click's and the page's via" "$VIA" "?* ?*"
like "... the one-click's is what status says after step 6's click" \
    "$(optgate status you@example.com --stream newsletter)" \
    "*via ${VIA% *}*"
P=pat@example.com
optgate optin $P --stream newsletter >/dev/null 2>&1
U=https://unsub.example.com/u/$(optgate token $P --stream newsletter |
    sed -n 's/^token: //p')
. "$TOP/tests/lib/unsubd.sh"
like "the page's \"Unsubscribe from everything\" through nginx" \
    "$(curl -s -d "$(ud_form "$(curl -s "$U")")&action=all" "$U/prefs")" \
    "*You are unsubscribed from all our mail.*"
like "... the page's is what status says after it" \
    "$(optgate status $P --stream newsletter)" \
    "*unsubscribed from all streams on * via ${VIA#* }*"
done_testing
