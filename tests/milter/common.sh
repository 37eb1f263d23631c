# tests/milter/common.sh - shared setup of optgate-milter's tests (POSIX sh;
# source after tests/lib/tap.sh).
#
#   mg_init                     $MG_DIR temp folder, cleanup trap, keys
#   mg_config FILE SOCK [EXTRA] write a config with the test streams;
#                               EXTRA lines are appended to [milter]
#   mg_fill_store CONF          create the store and the test people
#   mg_start CONF [NAME [OPT]]  start optgate-milter -f [OPT]; waits for
#                               its socket; log in $MG_DIR/NAME.log
#   mg_stop [NAME]              SIGTERM and wait (also done at exit)
#   mg_lua SCRIPT [-D ...]      run tests/milter/SCRIPT with miltertest
#                               against $MG_SOCK: one TAP line
#   mg_log [NAME]               the milter's log
#   mg_log_wait PATTERN [NAME]  wait (at most 5 s) until the log has it
#   mg_smtp PORT CMD...         one SMTP session with 127.0.0.1:PORT, each
#                               CMD sent verbatim ("MAIL FROM:<x.>"); prints
#                               "CMD -> REPLY" per command; CMD DATA sends
#                               $MG_SMTP_MSG (default: a tiny message)
MG_DIR=
MG_PIDS=
_mg_cleanup=

mg_cleanup_add() {
	_mg_cleanup="$_mg_cleanup
$1"
}

# Stop what we started and remove $MG_DIR.  tests/lib/postfix.sh installs
# its own EXIT trap: register this there with pf_cleanup_add mg_cleanup.
mg_cleanup() {
	[ -n "$_mg_cleanup" ] && eval "$_mg_cleanup" >/dev/null 2>&1
	_mg_cleanup=
	for _p in $MG_PIDS; do
		kill "$_p" 2>/dev/null
	done
	for _p in $MG_PIDS; do
		wait "$_p" 2>/dev/null
	done
	MG_PIDS=
	if [ -n "$MG_DIR" ] && [ "${MG_KEEP:-0}" != 1 ]; then
		rm -rf "$MG_DIR"
	fi
	MG_DIR=
}

_mg_exit() {
	_rc=$?
	mg_cleanup
	exit $_rc
}

mg_init() {
	MG_DIR=$(mktemp -d /tmp/optgate-mg.XXXXXX) || exit 1
	chmod 755 "$MG_DIR"
	trap _mg_exit EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	(umask 077 && "$BIN/optgate" keygen >"$MG_DIR/keys") || {
		echo "# optgate keygen failed"
		exit 1
	}
}

# The streams every milter test uses.  The envelope stream comes first:
# streams are tried in config order, so one found from the envelope is
# final at RCPT only when no header rule comes before it.
mg_config() {
	_f=$1
	_sock=$2
	_extra=${3:-}
	cat >"$_f" <<EOF
[store]
path = $MG_DIR/store
[keys]
file = $MG_DIR/keys
[milter]
socket = $_sock
feedback_id_sender = example
$_extra
[stream promo]
match = sender:promo@example.com
class = marketing
consent = optin
caps = 1/1d
refuse = reject
unsubscribe = https://unsub.example.com/u/%t
verp = bounce+%t@bounces.example.com
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
refuse = reject
unsubscribe = ${MG_URL:-https://unsub.example.com/u/%t}, mailto:unsub+%t@example.com
feedback_id = %s:nov
[stream alerts]
match = header:X-Optgate-Stream=alerts
class = transactional
refuse = drop
on_store_error = accept
[stream digest]
match = header:List-Id=Weekly digest <digest.example.com>
class = marketing
consent = optin
existing = keep
unsubscribe = https://unsub.example.com/u/%t
[stream late]
# an envelope rule after header rules: not known until end of header
match = sender:late@example.com
class = marketing
consent = optin
unsubscribe = https://unsub.example.com/u/%t
EOF
}

_mg_og() {
	"$BIN/optgate" -c "$_mg_conf" "$@" >/dev/null 2>&1 ||
	    echo "# optgate $* failed"
}

mg_fill_store() {
	_mg_conf=$1
	_mg_og init
	for _a in ok@example.com ok2@example.com; do
		for _s in newsletter promo digest; do
			_mg_og optin "$_a" --stream "$_s"
		done
	done
	_mg_og optin out@example.com --stream newsletter
	_mg_og optin out@example.com --stream promo
	_mg_og optout out@example.com --all
	_mg_og suppress bounced@example.com --reason hard-bounce
	_mg_og optin capped@example.com --stream promo
	_mg_og optin capped2@example.com --stream promo
	_mg_og optin 'josé@example.com' --stream newsletter
	_mg_og optin 'kunde@bücher.example' --stream newsletter
}

mg_start() {
	_c=$1
	_n=${2:-milter}
	_s=$(sed -n 's/^socket *= *//p' "$_c" | head -1)
	# shellcheck disable=SC2086 # ${3} is one option or none
	"$BIN/optgate-milter" -f ${3:-} -c "$_c" >>"$MG_DIR/$_n.log" 2>&1 &
	_p=$!
	MG_PIDS="$MG_PIDS $_p"
	eval "MG_PID_$_n=$_p"
	MG_SOCK=$_s
	_i=0
	while [ $_i -lt 100 ]; do
		case "$_s" in
		unix:* | local:*) [ -S "${_s#*:}" ] && return 0 ;;
		inet:*)
			_port=${_s#inet:}
			_port=${_port%@*}
			ss -ltn 2>/dev/null | grep -q "127.0.0.1:$_port " &&
			    return 0
			;;
		esac
		kill -0 "$_p" 2>/dev/null || break
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "# optgate-milter did not start:"
	sed 's/^/#   /' "$MG_DIR/$_n.log"
	return 1
}

# Wait (up to 120 s) until none of the TCP ports is listening: another
# worktree that merged this branch may be running the same test on the
# same ports.
mg_wait_free() {
	_i=0
	while [ $_i -lt 1200 ]; do
		_busy=
		for _port in "$@"; do
			ss -ltn 2>/dev/null | grep -q "127.0.0.1:$_port " &&
			    _busy=$_port
		done
		[ -z "$_busy" ] && return 0
		[ $_i -eq 0 ] && echo "# port $_busy in use: waiting for it"
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "# port $_busy still in use after 120 s"
	return 1
}

mg_pid() {
	eval "echo \$MG_PID_${1:-milter}"
}

mg_stop() {
	_p=$(mg_pid "${1:-milter}")
	[ -n "$_p" ] || return 0
	kill "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "MG_PID_${1:-milter}="
	return 0
}

# Stop every milter (in parallel: libmilter takes up to 5 s to stop) and
# check that each exited 0 with no sanitizer report in its log (make asan).
mg_stop_all_check() {
	for _p in $MG_PIDS; do
		kill "$_p" 2>/dev/null
	done
	_bad=
	for _p in $MG_PIDS; do
		wait "$_p" 2>/dev/null || _bad="$_bad $_p"
	done
	MG_PIDS=
	if [ -n "$_bad" ]; then
		fail "milters stopped cleanly on SIGTERM" "exit status != 0:$_bad"
	elif grep -l 'Sanitizer\|runtime error' "$MG_DIR"/*.log >/dev/null 2>&1; then
		fail "milters stopped cleanly on SIGTERM" \
		    "$(grep -h -A5 'Sanitizer\|runtime error' "$MG_DIR"/*.log | head -20)"
	else
		pass "milters stopped cleanly on SIGTERM, no sanitizer report"
	fi
}

mg_log() {
	cat "$MG_DIR/${1:-milter}.log"
}

mg_log_wait() {
	_i=0
	until grep -q "$1" "$MG_DIR/${2:-milter}.log"; do
		[ $_i -ge 50 ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
}

mg_smtp() {
	python3 - "$@" <<'PY'
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        r = f.readline().decode("utf-8", "replace").rstrip()
        if r[3:4] != "-":
            return r
def cmd(c):
    s.sendall(c.encode() + b"\r\n")
    return reply()
reply()
cmd("EHLO client.optgate.test")
for c in sys.argv[2:]:
    r = cmd(c)
    if c == "DATA" and r.startswith("354"):
        m = os.environ.get("MG_SMTP_MSG")
        body = open(m, "rb").read() if m else \
            b"From: <news@example.com>\r\nSubject: t\r\n\r\nhi\r\n"
        s.sendall(body + b".\r\n")
        r = reply()
    print(c, "->", r, flush=True)
cmd("QUIT")
PY
}

# Run one miltertest script; ok/not ok with its name.
mg_lua() {
	_script=$1
	shift
	if miltertest -s "$TOP/tests/milter/$_script" -D "TOP=$TOP" \
	    -D "SOCK=$MG_SOCK" "$@" >"$MG_DIR/out" 2>&1; then
		pass "miltertest $_script"
	else
		fail "miltertest $_script" \
		    "$(tr '\n' ' ' <"$MG_DIR/out" | cut -c1-400)"
	fi
}
