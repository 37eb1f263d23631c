# Helpers for the optgate-unsubd integration tests (POSIX sh).
#   . "$TOP/tests/lib/unsubd.sh"
#   ud_setup PORT ["extra [unsubd] lines"]   config, store, keys in UD_DIR
#   ud_start / ud_stop                       the daemon (UD_PID, UD_DIR/log)
#   ud_token ADDR STREAM                     a fresh unsubscribe token
#   ud_code METHOD URL [curl args]           HTTP status code only
#   ud_status ADDR STREAM                    optgate status exit code
# Everything lives under $BUILD/tmp/ and is removed by ud_cleanup (trap).

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
	mkdir -p "$TOP/$BUILD/tmp"
	UD_DIR=$(mktemp -d "$TOP/$BUILD/tmp/unsubd.XXXXXX")
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
unsubscribe = $UD_URL/u/%t

[stream receipts]
match = header:X-Optgate-Stream=receipts
class = transactional
consent = none
EOC
	"$BIN/optgate" -c "$CONF" init >/dev/null || return 1
}

ud_start() {
	"$BIN/optgate-unsubd" -c "$CONF" -f "$@" >>"$UD_DIR/log" 2>&1 &
	UD_PID=$!
	UD_PIDS="$UD_PIDS $UD_PID"
	# Poll until it answers (at most 10 s: ASan start-up is slower).
	_i=0
	while [ $_i -lt 100 ]; do
		if curl -s -o /dev/null --max-time 1 "$UD_URL/healthz"; then
			return 0
		fi
		kill -0 "$UD_PID" 2>/dev/null || return 1
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

ud_optin() {
	"$BIN/optgate" -c "$CONF" optin "$1" --stream "$2" --single \
	    >/dev/null 2>&1
}
