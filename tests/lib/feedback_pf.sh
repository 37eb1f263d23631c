# tests/lib/feedback_pf.sh - a store and the feedback pipe transports on a
# throwaway Postfix (tests/lib/postfix.sh), wired as the README wires them.
# Used by tests/integration/feedback_postfix.sh and
# tests/bench/feedback_postfix.sh; source it after postfix.sh, with $BIN
# set.
#
#   fbpf_init DIR   DIR/optgate.conf: stream news (consent none, sender
#                   example.com, unsubscribe by URL and by mail to
#                   unsub.optgate.test), fbl.example.net a trusted
#                   reporter, quarantine DIR/quarantine; the store made and
#                   given, with the keys and the quarantine, to nobody (the
#                   pipes' user).  Sets FBPF_CONF; og() runs optgate with it.
#                   Non-zero when optgate init fails.
#   fbpf_pipe NAME [ARGS]   a pipe transport fb-NAME (user nobody) running
#                   optgate -c FBPF_CONF ARGS; ARGS default to
#                   "NAME --rcpt ${original_recipient} --queue-id ${queue_id}"

fbpf_init() {
	FBPF_CONF=$1/optgate.conf
	cat >"$FBPF_CONF" <<CONF
[store]
path = $1/store
[keys]
file = $1/keys
[feedback]
quarantine = $1/quarantine
trusted_reporters = fbl.example.net
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
sender = example.com
unsubscribe = https://unsub.example.com/u/%t, mailto:unsub+%t@unsub.optgate.test
CONF
	og init >/dev/null 2>&1 || return 1
	mkdir -p "$1/quarantine"
	chown -R nobody "$1/store" "$1/quarantine" "$1/keys"
}

og() { "$BIN/optgate" -c "$FBPF_CONF" "$@"; }

fbpf_pipe() {
	_a=${2:-"$1 --rcpt \${original_recipient} --queue-id \${queue_id}"}
	pf_master "fb-$1 unix - n n - - pipe flags=R user=nobody argv=$BIN/optgate -c $FBPF_CONF $_a"
}
