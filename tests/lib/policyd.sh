# tests/lib/policyd.sh - run optgate-policyd (from $BIN) for a test.
#
# POSIX sh; source after tap.sh (and after postfix.sh when both are used).
#   pd_setup PORT      temp folder $PD_T, $PD_CONF (write it yourself),
#                      EXIT cleanup (through pf_cleanup_add when the
#                      Postfix fixture is loaded)
#   pd_init            optgate init on $PD_CONF's store
#   pd_start [ARGS]    start optgate-policyd -f -c $PD_CONF ARGS in the
#                      background (env PD_ENV="VAR=x ..." is passed; a
#                      PD_WRAP command, e.g. $DNS_NS, runs it), log to
#                      $PD_LOG; returns once it serves (or 1)
#   pd_stop            SIGTERM and wait (SIGKILL after 5 s)
#   pd_kill9           kill -9, no cleanup
#   pd_hup             SIGHUP (reload)
#   pd_q [name=value ...]     one RCPT request on inet:127.0.0.1:PORT;
#                             prints the action
#   pd_client CMD ARGS...     tests/lib/policyclient.py CMD TARGET ARGS
#   pd_log_wait 'REGEX' [SECS]  wait for a log line (grep -E)
#   pd_log_count 'REGEX'        count matching log lines
#   pd_rss                      the daemon's RssAnon in kB
#   og ARGS...                  the optgate CLI on $PD_CONF
PD_T=
PD_PID=

pd_cleanup() {
	[ -n "$PD_PID" ] && kill -9 "$PD_PID" 2>/dev/null
	[ -n "$PD_PID" ] && wait "$PD_PID" 2>/dev/null
	PD_PID=
	if [ -n "$PD_T" ] && [ "${PD_KEEP:-0}" != 1 ]; then
		rm -rf "$PD_T"
	fi
	PD_T=
}

pd_setup() {
	PD_PORT=$1
	PD_T=$(mktemp -d /tmp/optgate-pd.XXXXXX) || return 1
	chmod 755 "$PD_T"
	PD_CONF=$PD_T/optgate.conf
	PD_LOG=$PD_T/policyd.log
	PD_TARGET=inet:127.0.0.1:$PD_PORT
	: >"$PD_LOG"
	if type pf_cleanup_add >/dev/null 2>&1; then
		pf_cleanup_add pd_cleanup
		trap _pf_exit EXIT
	else
		trap 'pd_cleanup' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		# A write to a session whose client is gone (the daemon did
		# not start) must end in the EXIT trap too, not leave
		# dnsmasq and $PD_T behind.
		trap 'exit 141' PIPE
	fi
}

og() {
	"$BIN/optgate" -c "$PD_CONF" "$@"
}

pd_init() {
	og init >/dev/null
}

pd_start() {
	_n0=$(grep -c 'started' "$PD_LOG")
	${PD_WRAP:-} env ${PD_ENV:-} "$BIN/optgate-policyd" -f -c "$PD_CONF" \
	    "$@" 2>>"$PD_LOG" &
	PD_PID=$!
	_i=0
	while [ "$(grep -c 'started' "$PD_LOG")" -le "$_n0" ]; do
		if ! kill -0 "$PD_PID" 2>/dev/null || [ $_i -ge 100 ]; then
			echo "# optgate-policyd did not start:" >&2
			sed 's/^/#   /' "$PD_LOG" >&2
			return 1
		fi
		sleep 0.05
		_i=$((_i + 1))
	done
	return 0
}

pd_stop() {
	[ -z "$PD_PID" ] && return 0
	kill "$PD_PID" 2>/dev/null
	_i=0
	while kill -0 "$PD_PID" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	kill -9 "$PD_PID" 2>/dev/null
	wait "$PD_PID" 2>/dev/null
	_rc=$?
	PD_PID=
	return $_rc
}

pd_kill9() {
	kill -9 "$PD_PID" 2>/dev/null
	wait "$PD_PID" 2>/dev/null
	PD_PID=
}

pd_hup() {
	kill -HUP "$PD_PID"
}

pd_client() {
	_c=$1
	shift
	python3 "$TOP/tests/lib/policyclient.py" "$_c" "$PD_TARGET" "$@"
}

pd_q() {
	pd_client query "$@"
}

pd_log_wait() {
	_t=$(( ${2:-10} * 20 ))
	_i=0
	while ! grep -Eq -- "$1" "$PD_LOG"; do
		[ $_i -ge $_t ] && return 1
		sleep 0.05
		_i=$((_i + 1))
	done
	return 0
}

pd_log_count() {
	grep -Ec -- "$1" "$PD_LOG"
}

pd_rss() {
	sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PD_PID/status"
}
