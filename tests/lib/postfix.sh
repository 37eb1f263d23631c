# tests/lib/postfix.sh - a throwaway real Postfix instance on loopback.
#
# POSIX sh; source it after tap.sh:   . "$TOP/tests/lib/postfix.sh"
# Runs as root with the Debian postfix package installed; never touches
# /etc/postfix (read only: postfix-files, dynamicmaps.cf) or the system
# queue.  Everything lives under one temp folder, $PF_DIR:
#
#   $PF_DIR/etc/       config_directory: main.cf, master.cf (ours only)
#   $PF_DIR/queue/     queue_directory (and master.pid)
#   $PF_DIR/data/      data_directory
#   $PF_DIR/maillog    maillog_file (postlogd): the instance's log
#   $PF_DIR/sink/      smtp-sink's dump folder: one file per message
#   $PF_DIR/sink.log   smtp-sink's stdout/stderr
#
# The instance: smtpd on 127.0.0.1:PORT (no chroot, no DNS lookups,
# mynetworks 127.0.0.0/8), every message relayed to smtp-sink on
# 127.0.0.1:SINKPORT ("the internet"), no local domains (mydestination
# empty), bounces also go to the sink.
#
# Functions:
#   pf_init PORT SINKPORT [name=value ...]
#           create $PF_DIR and the config (main.cf overrides applied with
#           postconf -e); does not start anything.  Optional: pf_start
#           calls it when it was not called.
#   pf_conf name=value ...       main.cf changes (before or after start;
#                                call pf_reload when running)
#   pf_conf_lines <LINES         main.cf lines as a reader pastes them
#                                (comments, continuation lines): each
#                                "name = value" replaces main.cf's setting
#                                of that name; the lines are appended
#   pf_master 'LINE'             append a master.cf line, e.g. a pipe
#                                transport:  pf_master 'fb unix - n n - - pipe
#                                  flags=Rq user=nobody argv=/x/optgate bounce'
#   pf_master_param 'SVC/TYPE/NAME=VALUE'   a "-o NAME=VALUE" on a master.cf
#                                service (postconf -Pe), e.g. for the
#                                smtpd service: pf_master_param \
#                                "127.0.0.1:$PF_PORT/inet/smtpd_milters=..."
#   pf_start PORT SINKPORT [name=value ...]
#           pf_init (if needed), start smtp-sink and postfix; returns when
#           smtpd answers on PORT.  Non-zero with the log on stderr if not.
#   pf_reload                    postfix reload (config changes)
#   pf_stop                      stop postfix and smtp-sink, remove
#                                $PF_DIR (kept when PF_KEEP=1).  Safe to call
#                                twice; pf_start installs it in an EXIT trap
#                                (pf_cleanup_add CMD adds your own cleanup).
#   pf_cleanup_add 'CMD'         run CMD in the EXIT trap before pf_stop
#   pf_queue_count               messages in the queue (incoming, active,
#                                deferred, hold, maildrop)
#   pf_wait_queue_empty [SECS]   wait (default 20 s) until the queue is
#                                empty; non-zero on timeout
#   pf_flush                     try deferred mail again now
#   pf_log                       print the instance's maillog
#   pf_log_wait 'REGEX' [SECS]   wait until a maillog line matches (grep -E)
#   pf_sink_count                messages smtp-sink received so far
#   pf_sink_wait N [SECS]        wait until the sink holds >= N messages
#   pf_sink_files                the dump files, one per line, oldest first
#   pf_sink_rcpts                every recipient that arrived, one per line
#                                (from the X-Rcpt-Args lines, <> removed)
#   pf_sink_grep 'REGEX'         grep -E over all dumped messages
#   pf_sink_clear                forget the messages received so far
#   pf_send FROM 'TO [TO...]' [FILE]
#                                one SMTP transaction to the instance with a
#                                small Python SMTP client; prints one line
#                                per command: "MAIL 250 ...", "RCPT <to> 550
#                                5.7.1 ...", "DATA 250 ...".  Exit 0 when the
#                                message was accepted (DATA 250), 1 if no
#                                recipient was accepted, 2 on other errors.
#                                FILE: the message (headers + body); default
#                                a tiny one.  PF_SEND_ABORT=1: RSET after the
#                                RCPTs instead of DATA (an aborted
#                                transaction); PF_SEND_HEADERS: extra header
#                                lines ("\n" separated) for the default body.
#   pf_sendmail FROM TO... <MESSAGE
#                                local submission (sendmail -C: pickup,
#                                non_smtpd_milters); exit status of sendmail
#
# Variables you may set before pf_init/pf_start:
#   PF_SINK_OPTS   extra smtp-sink options (e.g. "-f RCPT" to refuse RCPT)
#   PF_KEEP=1      keep $PF_DIR after the test (for debugging)
#   PF_SINK_DUMP=0 smtp-sink keeps no files (benchmarks: pf_sink_* helpers
#                  then see nothing)
# Variables set for you: PF_DIR PF_CONF PF_PORT PF_SINKPORT PF_QUEUE
#   PF_SINKDIR PF_LOG PF_SINK_PID
#
# For a milter: pf_start ... smtpd_milters=inet:127.0.0.1:P
#   non_smtpd_milters=inet:127.0.0.1:P milter_default_action=tempfail
# For a policy service: smtpd_recipient_restrictions=
#   "check_policy_service inet:127.0.0.1:P, permit_mynetworks, reject"
# For feedback (DSNs to a pipe): pf_master the pipe service, then
#   pf_conf transport_maps=inline:{bounces.example=fb:} (or
#   mydestination/local_transport); see the feedback tests.

PF_DIR=
_pf_started=0
_pf_cleanup=

pf_cleanup_add() {
	_pf_cleanup="$_pf_cleanup
$1"
}

_pf_exit() {
	_rc=$?
	if [ -n "$_pf_cleanup" ]; then
		eval "$_pf_cleanup" >/dev/null 2>&1
	fi
	pf_stop
	exit $_rc
}

pf_init() {
	[ -n "$PF_DIR" ] && return 0
	PF_PORT=$1
	PF_SINKPORT=$2
	shift 2
	PF_DIR=$(mktemp -d /tmp/optgate-pf.XXXXXX) || return 1
	# postfix (mail_owner) must reach the queue below it.
	chmod 755 "$PF_DIR"
	PF_CONF=$PF_DIR/etc
	PF_QUEUE=$PF_DIR/queue
	PF_SINKDIR=$PF_DIR/sink
	PF_LOG=$PF_DIR/maillog
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF_DIR/data" "$PF_SINKDIR"
	chown postfix "$PF_DIR/data" "$PF_SINKDIR"
	: >"$PF_LOG"
	trap _pf_exit EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	cat >"$PF_CONF/main.cf" <<EOF
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $PF_DIR/data
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.optgate.test
mydomain = optgate.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$PF_SINKPORT
smtp_bind_address = 127.0.0.1
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
# The tests want answers now, not after Postfix's retry back-off.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
# Leave old "delayed mail" warnings and the like out of the tests.
delay_warning_time = 0
master_service_disable =
EOF
	cat >"$PF_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	[ $# -gt 0 ] && pf_conf "$@"
	_pf_age
	return 0
}

# Postfix re-reads a main.cf changed within the last second until it is
# older (a guard against editors); backdating saves two seconds a start.
_pf_age() {
	touch -d '-10 seconds' "$PF_CONF/main.cf" "$PF_CONF/master.cf"
}

pf_conf() {
	postconf -c "$PF_CONF" -e "$@" && _pf_age
}

# Appended as they are, not through postconf -e, so a README block is
# tested as written (its comments and continuation lines included).
pf_conf_lines() {
	cat >"$PF_DIR/main.add" || return 1
	for _k in $(sed -n 's/^\([a-z_-]*\) *=.*/\1/p' "$PF_DIR/main.add"); do
		postconf -c "$PF_CONF" -X "$_k"
	done
	cat "$PF_DIR/main.add" >>"$PF_CONF/main.cf" && _pf_age
}

pf_master() {
	printf '%s\n' "$1" >>"$PF_CONF/master.cf" && _pf_age
}

pf_master_param() {
	postconf -c "$PF_CONF" -Pe "$1" && _pf_age
}

_pf_port_open() {
	# A connect that succeeds: bash-free, using python3 (installed).
	python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

_pf_wait_port() {
	_i=0
	while [ $_i -lt 100 ]; do
		_pf_port_open "$1" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

pf_start() {
	pf_init "$@" || return 1
	if [ -n "${PF_SINK_PID:-}" ]; then
		echo "pf_start: already started (pf_stop first)" >&2
		return 1
	fi
	# Someone else on our ports would silently take our mail.
	for _port in "$PF_PORT" "$PF_SINKPORT"; do
		if _pf_port_open "$_port"; then
			echo "pf_start: 127.0.0.1:$_port is already in use" >&2
			return 1
		fi
	done
	# smtp-sink writes its dump files as the postfix user.
	# (no word splitting of the path: callers may have changed IFS to
	# split PF_SINK_OPTS)
	_pf_dump="$PF_SINKDIR/%Y%m%d%H%M%S."
	[ "${PF_SINK_DUMP:-1}" = 0 ] && _pf_dump=
	smtp-sink -u postfix -4 -h sink.optgate.test -m 400 \
	    ${_pf_dump:+-d} ${_pf_dump:+"$_pf_dump"} $PF_SINK_OPTS \
	    "127.0.0.1:$PF_SINKPORT" 256 >"$PF_DIR/sink.log" 2>&1 &
	PF_SINK_PID=$!
	if ! _pf_wait_port "$PF_SINKPORT"; then
		echo "pf_start: smtp-sink did not listen on $PF_SINKPORT" >&2
		cat "$PF_DIR/sink.log" >&2
		return 1
	fi
	# "postfix start" spends two seconds in its checks; creating the queue
	# folders as post-install would and starting the master directly takes
	# milliseconds.  master -w returns once the listeners are open.
	for _d in active bounce corrupt defer deferred flush hold incoming \
	    private saved trace; do
		mkdir -p "$PF_QUEUE/$_d"
		chown postfix:root "$PF_QUEUE/$_d"
		chmod 700 "$PF_QUEUE/$_d"
	done
	mkdir -p "$PF_QUEUE/maildrop" "$PF_QUEUE/public" "$PF_QUEUE/pid"
	chown postfix:postdrop "$PF_QUEUE/maildrop" "$PF_QUEUE/public"
	chmod 730 "$PF_QUEUE/maildrop"
	chmod 710 "$PF_QUEUE/public"
	if ! MAIL_CONFIG=$PF_CONF "$(postconf -dh daemon_directory)/master" \
	    -w >"$PF_DIR/start.log" 2>&1; then
		echo "pf_start: postfix master (config $PF_CONF) did not start" >&2
		cat "$PF_DIR/start.log" "$PF_LOG" >&2
		return 1
	fi
	_pf_started=1
	if ! _pf_wait_port "$PF_PORT"; then
		echo "pf_start: smtpd did not listen on $PF_PORT" >&2
		cat "$PF_LOG" >&2
		return 1
	fi
	return 0
}

pf_reload() {
	postfix -c "$PF_CONF" reload >/dev/null 2>&1
}

_pf_alive() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	"" | Z*) return 1 ;;
	esac
	return 0
}

pf_stop() {
	[ -z "$PF_DIR" ] && return 0
	if [ "$_pf_started" = 1 ]; then
		# SIGTERM is what "postfix stop" sends, minus its one-second
		# pause.  A dead master may linger as a zombie (not our child),
		# so look at its state rather than kill -0.
		_p=$(tr -d ' ' <"$PF_QUEUE/pid/master.pid" 2>/dev/null)
		[ -n "$_p" ] && kill -TERM "$_p" 2>/dev/null
		_i=0
		while [ -n "$_p" ] && _pf_alive "$_p" && [ $_i -lt 50 ]; do
			sleep 0.05
			_i=$((_i + 1))
		done
		if [ -n "$_p" ] && _pf_alive "$_p"; then
			postfix -c "$PF_CONF" abort >/dev/null 2>&1
			kill -9 "$_p" 2>/dev/null
		fi
		_pf_started=0
	fi
	if [ -n "${PF_SINK_PID:-}" ]; then
		kill "$PF_SINK_PID" 2>/dev/null
		wait "$PF_SINK_PID" 2>/dev/null
		PF_SINK_PID=
	fi
	if [ "${PF_KEEP:-0}" = 1 ]; then
		echo "# postfix instance kept in $PF_DIR" >&2
	else
		rm -rf "$PF_DIR"
	fi
	PF_DIR=
	return 0
}

pf_queue_count() {
	find "$PF_QUEUE/incoming" "$PF_QUEUE/active" "$PF_QUEUE/deferred" \
	    "$PF_QUEUE/hold" "$PF_QUEUE/maildrop" -type f 2>/dev/null | wc -l
}

pf_wait_queue_empty() {
	_t=$(( ${1:-20} * 10 ))
	_i=0
	while [ "$(pf_queue_count)" -ne 0 ]; do
		[ $_i -ge $_t ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 0
}

pf_flush() {
	# postqueue is set-gid; as root with our -c it is allowed.
	postqueue -c "$PF_CONF" -f >/dev/null 2>&1
}

pf_log() {
	cat "$PF_LOG"
}

pf_log_wait() {
	_t=$(( ${2:-10} * 10 ))
	_i=0
	while ! grep -Eq -- "$1" "$PF_LOG" 2>/dev/null; do
		[ $_i -ge $_t ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 0
}

pf_sink_files() {
	# Names start with the time stamp: sorted by name is by arrival (to
	# the second); ls -tr breaks ties.
	ls -1tr "$PF_SINKDIR" 2>/dev/null | sed "s|^|$PF_SINKDIR/|"
}

pf_sink_count() {
	# A dump is complete when smtp-sink wrote its closing empty line.
	_n=0
	for _f in $(ls -1 "$PF_SINKDIR" 2>/dev/null); do
		[ "$(tail -c 2 "$PF_SINKDIR/$_f" | od -An -c | tr -d ' ')" = \
		    '\n\n' ] && _n=$((_n + 1))
	done
	echo $_n
}

pf_sink_wait() {
	_t=$(( ${2:-20} * 10 ))
	_i=0
	while [ "$(pf_sink_count)" -lt "$1" ]; do
		[ $_i -ge $_t ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 0
}

pf_sink_rcpts() {
	for _f in $(pf_sink_files); do
		sed -n 's/^X-Rcpt-Args: *<\([^>]*\)>.*/\1/p' "$_f"
	done
}

pf_sink_grep() {
	for _f in $(pf_sink_files); do
		cat "$_f"
	done | grep -E -- "$1"
}

pf_sink_clear() {
	rm -f "$PF_SINKDIR"/* 2>/dev/null
	return 0
}

pf_send() {
	python3 "$TOP/tests/lib/smtpclient.py" 127.0.0.1 "$PF_PORT" "$@"
}

pf_sendmail() {
	sendmail -C "$PF_CONF" -f "$@"
}
