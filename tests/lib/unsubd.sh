# Helpers for the optgate-unsubd integration tests (POSIX sh).
#   . "$TOP/tests/lib/unsubd.sh"
#   ud_setup PORT ["extra [unsubd] lines"]   config, store, keys in UD_DIR
#   ud_start / ud_stop                       the daemon (UD_PID, UD_DIR/log)
#   ud_token ADDR STREAM                     a fresh unsubscribe token
#   ud_code METHOD URL [curl args]           HTTP status code only
#   ud_status ADDR STREAM                    optgate status exit code
#   ud_form PAGE                             the preference form's hidden
#                                            fields as a body: csrf=..&ts=..&v=..
#   ud_form_unchanged PAGE                   the whole preference form as a
#                                            browser sends it untouched
#                                            (ticked boxes, selected options)
#   ud_nginx_start HTTPS HTTP [SED]          nginx from conf/nginx-unsubd.conf
#                                            as unsub.example.com on those
#                                            loopback ports (UD_CURL: curl
#                                            that trusts and resolves it);
#                                            SED: one more sed expression
#                                            for the site (a variant)
# Everything lives under /tmp/optgate-unsubd.*/ (nobody must reach it:
# unsubd_ops runs the daemon as nobody) and is removed by ud_cleanup (trap).

UD_PIDS=""
ud_cleanup() {
	for p in $UD_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $UD_PIDS; do
		wait "$p" 2>/dev/null
	done
	[ -n "${UD_DIR:-}" ] && [ -z "${UD_KEEP:-}" ] && rm -rf "$UD_DIR"
	return 0
}

ud_setup() {
	UD_PORT=$1
	UD_DIR=$(mktemp -d /tmp/optgate-unsubd.XXXXXX)
	CONF=$UD_DIR/optgate.conf
	UD_URL=http://127.0.0.1:$UD_PORT
	# Defaults for the [unsubd] keys the caller does not set.
	_extra=${2:-}
	for _kv in "timeout = 3s" "rate_limit = 0" "token_max_age = 30d"; do
		case "$_extra" in
		*"${_kv%% *} ="*) ;;
		*) _extra="$_extra
$_kv" ;;
		esac
	done
	cat >"$CONF" <<EOC
[store]
path = $UD_DIR/store
map_size = 64M
[keys]
file = $UD_DIR/keys
[log]
full_address = no
[unsubd]
listen = 127.0.0.1:$UD_PORT
$_extra

[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = optin
description = Weekly newsletter
brand.name = Loja Exemplo
brand.color = #1b5e20
brand.logo = /static/logo.png
unsubscribe = $UD_URL/u/%t

[stream offers]
match = header:X-Optgate-Stream=offers
class = marketing
consent = optin
partner = acme
description = Acme partner offers
unsubscribe = $UD_URL/u/%t

[stream tips]
match = header:X-Optgate-Stream=tips
class = marketing
consent = optin
description = Tips and tricks
brand.name = Tips <b>"&
unsubscribe = $UD_URL/u/%t

[stream receipts]
match = header:X-Optgate-Stream=receipts
class = transactional
consent = none

[stream promo]
match = sender:promo@loja.example
class = marketing
consent = optin
description = Promotions
unsubscribe = $UD_URL/u/%t
EOC
	"$BIN/optgate" -c "$CONF" init >/dev/null || return 1
}

ud_start() {
	"$BIN/optgate-unsubd" -c "$CONF" -f "$@" >>"$UD_DIR/log" 2>&1 &
	UD_PID=$!
	UD_PIDS="$UD_PIDS $UD_PID"
	# Poll until this daemon says it serves (not some other process on
	# the port: then it exits with "cannot listen"), at most 10 s.
	_i=0
	while [ $_i -lt 100 ]; do
		if [ "$(grep -c "optgate-unsubd\[$UD_PID\]: started:" \
		    "$UD_DIR/log")" -gt 0 ] &&
		    curl -s -o /dev/null --max-time 1 "$UD_URL/healthz"; then
			return 0
		fi
		if ! kill -0 "$UD_PID" 2>/dev/null; then
			echo "# optgate-unsubd did not start:"
			tail -3 "$UD_DIR/log" | sed 's/^/#   /'
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

ud_stop() {
	kill "$UD_PID" 2>/dev/null
	wait "$UD_PID"
	_rc=$?
	UD_PIDS=$(echo "$UD_PIDS" | sed "s/ $UD_PID\b//")
	return $_rc
}

ud_token() {
	"$BIN/optgate" -c "$CONF" token "$1" --stream "$2" |
	    sed -n 's/^token: //p'
}

ud_code() {
	_m=$1
	_u=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$_m" \
	    "$@" "$_u"
}

ud_status() {
	"$BIN/optgate" -c "$CONF" status "$1" --stream "$2" >/dev/null 2>&1
	echo $?
}

ud_form() {
	printf '%s' "$1" | python3 -c '
import re, sys, urllib.parse
p = sys.stdin.read()
f = p[p.index("/prefs\">"):]
m = [re.search(r"name=\"%s\" value=\"([^\"]*)\"" % n, f) for n in ("csrf", "ts", "v")]
print(urllib.parse.urlencode([(x.group(0).split("\"")[1], x.group(1)) for x in m if x]))'
}

ud_form_unchanged() {
	printf '%s' "$1" | python3 -c '
import html.parser, sys, urllib.parse
class F(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.on = False; s.out = []; s.sel = None
    def handle_starttag(s, t, a):
        a = dict(a)
        if t == "form": s.on = a.get("action", "").endswith("/prefs")
        if not s.on: return
        if t == "input" and (a.get("type") == "hidden" or
                             (a.get("type") == "checkbox" and "checked" in a)):
            s.out.append((a["name"], a["value"]))
        elif t == "select": s.sel = [a["name"], None, None]
        elif t == "option" and s.sel:
            s.sel[1] = s.sel[1] or a["value"]
            if "selected" in a: s.sel[2] = a["value"]
    def handle_endtag(s, t):
        if t == "form": s.on = False
        if t == "select" and s.sel:
            s.out.append((s.sel[0], s.sel[2] or s.sel[1])); s.sel = None
f = F(); f.feed(sys.stdin.read())
print(urllib.parse.urlencode(f.out + [("action", "save")]))'
}

ud_optin() {
	"$BIN/optgate" -c "$CONF" optin "$1" --stream "$2" --single \
	    >/dev/null 2>&1
}

# nginx configured from the shipped example, as the README says: only the
# ports, the certificate (self-signed here) and the upstream differ.
ud_nginx_start() {
	_https=$1
	_http=$2
	UD_NGX=$UD_DIR/nginx
	mkdir -p "$UD_NGX/tmp"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj /CN=unsub.example.com \
	    -addext subjectAltName=DNS:unsub.example.com -days 2 \
	    -keyout "$UD_NGX/key.pem" -out "$UD_NGX/cert.pem" >/dev/null 2>&1 ||
	    return 1
	sed -e "s/server 127\.0\.0\.1:8080;/server 127.0.0.1:$UD_PORT;/" \
	    -e "s/listen 443 ssl http2;/listen 127.0.0.1:$_https ssl http2;/" \
	    -e '/listen \[::\]:443/d' -e '/listen \[::\]:80;/d' \
	    -e "s/listen 80;/listen 127.0.0.1:$_http;/" \
	    -e "s|ssl_certificate /etc/letsencrypt/live/unsub.example.com/fullchain.pem|ssl_certificate $UD_NGX/cert.pem|" \
	    -e "s|ssl_certificate_key /etc/letsencrypt/live/unsub.example.com/privkey.pem|ssl_certificate_key $UD_NGX/key.pem|" \
	    -e "s|root /var/www/html;|root $UD_NGX/webroot;|" \
	    -e "${3:-}" \
	    "$TOP/conf/nginx-unsubd.conf" >"$UD_NGX/site.conf"
	cat >"$UD_NGX/nginx.conf" <<EOC
user root;
worker_processes 1;
pid $UD_NGX/nginx.pid;
error_log $UD_NGX/error.log info;
events { worker_connections 256; }
http {
	client_body_temp_path $UD_NGX/tmp/body;
	proxy_temp_path $UD_NGX/tmp/proxy;
	fastcgi_temp_path $UD_NGX/tmp/fastcgi;
	uwsgi_temp_path $UD_NGX/tmp/uwsgi;
	scgi_temp_path $UD_NGX/tmp/scgi;
	include $UD_NGX/site.conf;
}
EOC
	UD_NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	"$UD_NGINX" -t -q -c "$UD_NGX/nginx.conf" -p "$UD_NGX" \
	    2>>"$UD_NGX/error.log" || return 1
	"$UD_NGINX" -c "$UD_NGX/nginx.conf" -p "$UD_NGX" -g 'daemon off;' \
	    2>>"$UD_NGX/error.log" &
	UD_NGX_PID=$!
	UD_PIDS="$UD_PIDS $UD_NGX_PID"
	UD_CURL="curl -s --max-time 10 --cacert $UD_NGX/cert.pem --resolve unsub.example.com:$_https:127.0.0.1 --resolve unsub.example.com:$_http:127.0.0.1"
	_i=0
	while [ $_i -lt 100 ]; do
		$UD_CURL -o /dev/null "https://unsub.example.com:$_https/healthz" &&
		    return 0
		kill -0 "$UD_NGX_PID" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
