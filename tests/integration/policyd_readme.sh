#!/bin/sh
# README "optgate-policyd: refusals at RCPT time" as a new mail admin
# follows it, on a real Postfix (tests/lib/postfix.sh): the main.cf and
# master.cf blocks of mode 1 (its own service, over TCP and then over the
# unix socket in the queue's private/) and of mode 2 (spawn), taken from
# README.md with only this test's ports, paths and user put in.  Each
# time: an address opted in is delivered and one unsubscribed with
# "optgate optout" is refused at RCPT with the reason; postfix check has
# nothing to say.  A config change reaches the next message: in mode 1
# after SIGHUP, in mode 2 after the README's recipe for it (without it,
# the spawned processes smtpd keeps judged mail by the old file).
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"
. "$TOP/tests/lib/policyd.sh"

PP=10048
pf_init 25340 25341
pd_setup $PP
chown -R nobody "$PD_T"

# section TITLE: README's "### TITLE" section; block TITLE N: the lines
# of its Nth fence (1 = the first block's opening fence), unindented.
section() { sed -n "/^### $1/,/^### /p" "$TOP/README.md"; }
block() {
	section "$1" | awk -v want="$2" '/^ *```/ { n++; next }
	    n == want { sub(/^   /, ""); print }'
}
# What README names on a mail server, as this test has it.
here() {
	sed -e "s#inet:127.0.0.1:10040#inet:127.0.0.1:$PP#g" \
	    -e "s#/var/spool/postfix/#$PF_QUEUE/#g" \
	    -e "s#user = optgate#user = nobody#; s#user=optgate#user=nobody#" \
	    -e "s#/usr/local/sbin/#$BIN/#g" \
	    -e "s#/etc/optgate/optgate.conf#$PD_CONF#g"
}
pf_check() { postfix -c "$PF_CONF" check 2>&1; }
# stop: a step everything after needs failed
stop() {
	fail "$1" "$(pf_log | tail -n 20)"
	done_testing
	exit 1
}

M1="Wiring it into Postfix: mode 1"
M2="Wiring it into Postfix: mode 2"
{
	printf '%s\n' "[store]" "path = $PD_T/store" "[keys]" "file = $PD_T/keys"
	block "$M1" 1 | here
	printf '%s\n' "[stream newsletter]" "match = sender:news@example.com" \
	    "consent = optin" "unsubscribe = https://unsub.example.com/u/%t" \
	    "[stream offers]" "match = sender:offers@example.com" \
	    "consent = none"
} >"$PD_CONF"
like "mode 1: README's [policyd] block is in the config" \
    "$(cat "$PD_CONF")" "*listen = inet:127.0.0.1:$PP*"
pd_init
chown -R nobody "$PD_T/store"
# optin ... optout ...: one person opted in, one unsubscribed, per mode
people() {
	og optin "$1@example.org" --stream newsletter >/dev/null
	og optin "$2@example.org" --stream newsletter >/dev/null
	og optout "$2@example.org" >/dev/null
}
# delivered IN OUT WHAT: a message to both, OUT refused at RCPT with the
# reason, IN accepted and at the sink
delivered() {
	out=$(pf_send news@example.com "$2@example.org $1@example.org")
	like "$3: $2 (unsubscribed) refused at RCPT with the reason" \
	    "$(echo "$out" | grep "RCPT <$2@")" \
	    "RCPT <$2@example.org> 550 5.7.1 *<$2@example.org>: unsubscribed from all streams on * via admin"
	like "$3: $1 (opted in) accepted" "$out" "*RCPT <$1@example.org> 250*DATA 250*"
	pf_wait_queue_empty 10
	is "$3: the sink got $1's message, not $2's" \
	    "$(pf_sink_rcpts | grep -E "^($1|$2)@" | tr '\n' ' ')" "$1@example.org "
}
# rcpt FROM TO: the RCPT answer alone (the transaction aborted)
rcpt() { PF_SEND_ABORT=1 pf_send "$1" "$2" | grep '^RCPT'; }
# rcpt_until FROM TO GLOB: the RCPT answer once it matches GLOB (10 s)
rcpt_until() {
	_i=0
	while :; do
		_r=$(rcpt "$1" "$2")
		case "$_r" in $3) break ;; esac
		[ $_i -ge 40 ] && break
		sleep 0.25
		_i=$((_i + 1))
	done
	echo "$_r"
}

# --- mode 1, TCP: step 2 starts it, step 3's main.cf block wires it ---
pf_start 25340 25341 || stop "postfix started"
pd_start || stop "optgate-policyd started"
block "$M1" 3 | here | pf_conf_lines
like "mode 1: README's main.cf block asks optgate-policyd first" \
    "$(postconf -c "$PF_CONF" -h smtpd_recipient_restrictions)" \
    "check_policy_service inet:127.0.0.1:$PP,*permit_mynetworks*"
pf_reload
is "mode 1: postfix check has nothing to say" "$(pf_check)" ""
people ana bob
delivered ana bob "mode 1 over TCP"
# systemctl reload: SIGHUP, and the next message meets the new file
like "mode 1: offers need no consent yet" \
    "$(rcpt offers@example.com dan@example.org)" "RCPT <dan@example.org> 250*"
sed -i '/^match = sender:offers@example.com/{n;s/consent = none/consent = optin/}' "$PD_CONF"
pd_hup
pd_log_wait 'reloaded' 5
like "mode 1: after SIGHUP the config change holds" \
    "$(rcpt offers@example.com dan@example.org)" \
    "RCPT <dan@example.org> 550 5.7.1 *no opt-in on record for offers"
sed -i '/^match = sender:offers@example.com/{n;s/consent = optin/consent = none/}' "$PD_CONF"

# --- mode 1, the unix socket of the paragraph after step 3 ---
unixlisten=$(section "$M1" | tr '\n' ' ' | grep -o 'listen = unix:[^`]*' | here)
unixcheck=$(section "$M1" | tr '\n' ' ' | grep -o 'check_policy_service unix:[^`]*')
is "mode 1: README names the socket in the queue's private/" \
    "$unixlisten" "listen = unix:$PF_QUEUE/private/optgate-policy"
sed -i "/^listen = inet:/a $unixlisten" "$PD_CONF"
pd_stop
pd_start || stop "optgate-policyd started on the unix socket"
is "mode 1: the socket is postfix:postfix 0660, as README says" \
    "$(stat -c '%U:%G %a' "$PF_QUEUE/private/optgate-policy" 2>&1)" \
    "postfix:postfix 660"
sed -i "s#check_policy_service inet:127.0.0.1:$PP#$unixcheck#" "$PF_CONF/main.cf"
pf_conf biff=no
pf_reload
like "mode 1: both restriction lists name the socket" \
    "$(postconf -c "$PF_CONF" -h smtpd_recipient_restrictions smtpd_end_of_data_restrictions | tr '\n' ' ')" \
    "check_policy_service unix:private/optgate-policy,* check_policy_service unix:private/optgate-policy "
is "mode 1 unix: postfix check has nothing to say" "$(pf_check)" ""
people cid dot
delivered cid dot "mode 1 over the unix socket"

# --- mode 2: README's master.cf and main.cf blocks ---
pd_stop
block "$M2" 1 | here >>"$PF_CONF/master.cf"
block "$M2" 3 | here | pf_conf_lines
like "mode 2: master.cf has README's spawn service" \
    "$(postconf -c "$PF_CONF" -M optgate-policy/unix 2>&1)" \
    "*spawn user=nobody argv=$BIN/optgate-policyd -s -c $PD_CONF"
pf_reload
is "mode 2: postfix check has nothing to say" "$(pf_check)" ""
people eve fay
delivered eve fay "mode 2"

# A config change, then README's recipe for it, as written there.
recipe=$(sed -n '/^<!-- recipe policyd-spawn-reload -->$/,/^<!-- \/recipe -->$/p' \
    "$TOP/README.md" | grep -v '^<!--' | sed 's/^    //' |
    sed -e "s#optgate config check#\"$BIN/optgate\" -c \"$PD_CONF\" config check#g" \
    -e "s#postfix reload#postfix -c \"$PF_CONF\" reload#g")
like "mode 2: README has a recipe for a config change" "$recipe" "*reload*"
like "mode 2: offers need no consent yet" \
    "$(rcpt offers@example.com gus@example.org)" "RCPT <gus@example.org> 250*"
sed -i '/^match = sender:offers@example.com/{n;s/consent = none/consent = optin/}' "$PD_CONF"
(eval "$recipe") >"$PD_T/recipe.out" 2>&1
rc=$?
is "mode 2: the recipe runs ($(tr '\n' ' ' <"$PD_T/recipe.out"))" "$rc" 0
like "mode 2: after the recipe the config change holds" \
    "$(rcpt_until offers@example.com gus@example.org '*550*')" \
    "RCPT <gus@example.org> 550 5.7.1 *no opt-in on record for offers"
# The recipe checks first: a config that does not load is not reloaded
# into Postfix, where every new process would die on it (451 for all).
cp "$PD_CONF" "$PD_T/good.conf"
echo 'bogus = 1' >>"$PD_CONF"
(eval "$recipe") >"$PD_T/recipe.out" 2>&1
rc=$?
is "mode 2: the recipe stops at a config that does not load" "$rc" 2
pf_reload
like "mode 2: reloaded anyway, every recipient gets the default action" \
    "$(rcpt_until news@example.com eve@example.org '*451*')" \
    "RCPT <eve@example.org> 451 4.3.5 *"
cp "$PD_T/good.conf" "$PD_CONF"
done_testing
