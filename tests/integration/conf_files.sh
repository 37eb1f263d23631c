#!/bin/sh
# The files in conf/ as an admin uses them: the Postfix snippets appended
# to a stock main.cf / master.cf are read by Postfix's own postconf without
# a warning (an unknown or unused parameter is one), and keep the safe
# settings the README promises; the example configs pass `optgate config
# check`; the systemd units pass systemd-analyze verify against the
# programs `make install` puts where they point.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"

D=$(mktemp -d /tmp/optgate-conf.XXXXXX)
trap 'rm -rf "$D"' EXIT
C="$TOP/conf"

# A config folder: the stock master.cf, an empty main.cf.
fresh() {
	rm -rf "$D/$1"
	mkdir -p "$D/$1"
	cp /usr/share/postfix/master.cf.dist "$D/$1/master.cf"
	: >"$D/$1/main.cf"
}
# postconf's complaints about a config folder (empty when it has none).
complaints() { postconf -c "$D/$1" -n 2>&1 >/dev/null; }

# --- Mode 1 (policyd as a service), the milter and the feedback pipes ---
fresh m1
cat "$C/postfix-policyd-main.cf" "$C/milter-postfix.cf" \
    "$C/main.cf-feedback" >>"$D/m1/main.cf"
grep -v '^#' "$C/master.cf-feedback" >>"$D/m1/master.cf"
is "mode 1, milter and feedback snippets: postconf has no complaint" \
    "$(complaints m1)" ""
is "a down policy service tempfails (451)" \
    "$(postconf -c "$D/m1" -h smtpd_policy_service_default_action |
    cut -c1-3)" 451
is "a down milter tempfails" \
    "$(postconf -c "$D/m1" -h milter_default_action)" tempfail
like "RCPT restrictions ask optgate-policyd before permit_mynetworks" \
    "$(postconf -c "$D/m1" -h smtpd_recipient_restrictions)" \
    "check_policy_service inet:127.0.0.1:10040,*permit_mynetworks*"
like "sends counted at end of data" \
    "$(postconf -c "$D/m1" -h smtpd_end_of_data_restrictions)" \
    "check_policy_service inet:127.0.0.1:10040"
for s in optgate-bounce optgate-fbl optgate-unsub; do
	like "master.cf: $s is a pipe to the optgate CLI" \
	    "$(postconf -c "$D/m1" -M "$s/unix" 2>&1)" \
	    "$s *unix *- *n *n *- *4 *pipe *flags=R user=optgate argv=/usr/local/sbin/optgate *"
done

# --- the milter's main.cf lines, pasted on a host with optgate alone ---
# With milter_default_action = tempfail, a milter Postfix cannot reach
# tempfails every message: the lines an admin pastes (README's block and
# the snippet's active line) name optgate's milter only; OpenDKIM's socket
# is the commented variant (on a fresh Debian, pasting it gave every
# message "451 4.7.1 Service unavailable").
fresh mi
sed -n '/^## Wiring optgate-milter into Postfix/,/^### /p' "$TOP/README.md" |
    awk '/^ *```/ { n++; next } n == 3 { sub(/^   /, ""); print }' \
    >>"$D/mi/main.cf"
is "README milter block: smtpd_milters names optgate's milter only" \
    "$(postconf -c "$D/mi" -h smtpd_milters 2>&1)" "unix:optgate/milter.sock"
is "README milter block: a down milter tempfails" \
    "$(postconf -c "$D/mi" -h milter_default_action 2>&1)" tempfail
is "conf/milter-postfix.cf: smtpd_milters names optgate's milter only" \
    "$(postconf -c "$D/m1" -h smtpd_milters 2>&1)" "unix:optgate/milter.sock"

# --- Mode 2 (spawn): the commented block of the main.cf snippet, with
# the master.cf line; without that line postconf must object. ---
fresh m2
sed -n '/--- Mode 2/,/--- When/p' "$C/postfix-policyd-main.cf" |
    sed -n 's/^#   //p' >>"$D/m2/main.cf"
sed -n '/--- When/,$p' "$C/postfix-policyd-main.cf" >>"$D/m2/main.cf"
like "mode 2 block taken from the snippet" "$(postconf -c "$D/m2" -n 2>&1)" \
    "*check_policy_service unix:private/optgate-policy*"
like "without its master.cf line postconf objects (the check can fail)" \
    "$(complaints m2)" "*unused parameter: optgate-policy_time_limit*"
grep -v '^#' "$C/postfix-policyd-master.cf" >>"$D/m2/master.cf"
is "mode 2 with its master.cf line: postconf has no complaint" \
    "$(complaints m2)" ""
like "master.cf: optgate-policy runs optgate-policyd under spawn(8), on stdin" \
    "$(postconf -c "$D/m2" -M optgate-policy/unix 2>&1)" \
    "*spawn user=optgate argv=/usr/local/sbin/optgate-policyd -s -c *"

# --- README's mode 2, as an admin copies it: its master.cf and main.cf
# blocks give spawn a time limit above the policy connections' lifetime
# (smtpd_policy_service_max_ttl), which spawn's default (1000s) is not.
fresh r2
sed -n '/^### Wiring it into Postfix: mode 2/,/^### When/p' "$TOP/README.md" |
    awk '/^```/ { n++; next } n == 1 { print > "'"$D"'/r2/master.add" }
         n == 3 { print > "'"$D"'/r2/main.add" }'
cat "$D/r2/master.add" >>"$D/r2/master.cf" 2>/dev/null
cat "$D/r2/main.add" >>"$D/r2/main.cf" 2>/dev/null
is "README mode 2 blocks: postconf has no complaint" "$(complaints r2)" ""
tl=$(postconf -c "$D/r2" -h optgate-policy_time_limit 2>/dev/null)
ttl=$(postconf -c "$D/r2" -h smtpd_policy_service_max_ttl)
ok "README mode 2: spawn time limit ($tl) above the connections' max_ttl ($ttl)" \
    test "${tl%s}" -gt "${ttl%s}" 2>/dev/null

# --- the example configs ---
for f in optgate.conf unsubd.conf policyd-example.conf; do
	like "conf/$f passes optgate config check" \
	    "$("$BIN/optgate" -c "$C/$f" config check 2>&1)" "*: ok (*"
done
# conf/optgate.conf is "the annotated example with every key" (README):
# each key of og_config.c's table is there, set or as a commented
# example, and with the examples uncommented it still loads.
missing=
for k in $(sed -n '/^static const struct key keys/,/^};/p' "$TOP/lib/og_config.c" |
    tr -d '\n' | grep -o '{"[a-z]*", "[a-z_.]*"' | sed 's/.*", "//; s/"$//'); do
	grep -qE "^;?$k *=" "$C/optgate.conf" || missing="$missing $k"
done
is "conf/optgate.conf names every key" "$missing" ""
sed 's/^;\([a-z_.]* *=\)/\1/' "$C/optgate.conf" >"$D/examples.conf"
like "conf/optgate.conf with its examples uncommented passes config check" \
    "$("$BIN/optgate" -c "$D/examples.conf" config check 2>&1)" "*: ok (*"
# A stream after one with a header: line waits for the headers (README:
# policyd answers DUNNO, the milter no RCPT answer): the example must not
# teach that order, so no envelope match line follows a header: line.
is "conf/optgate.conf: no envelope-matched stream after a header-matched one" \
    "$(awk '/^\[stream /{ if (hdr) late = 1 } /^match *= *header:/{ hdr = 1 }
	late && /^match *= *(sender|sasl|client):/{ print FILENAME ":" FNR ": " $0 }' \
	"$C/optgate.conf")" ""
# Every README block that is an optgate config (its first line a
# [section]) loads as an admin would paste it.
awk -v d="$D" '/^ *```/ { fence = !fence; n++; take = 0; first = 1; next }
    fence { sub(/^   /, ""); if (first) take = /^\[/; first = 0
            if (take) print > (d "/readme" n ".conf") }' "$TOP/README.md"
# ... and the indented ones (the walk-through's heredoc, [feedback]).
awk -v d="$D" 'take && (!/^    / || /^    EOF$/ || /^ *$/) { take = 0 }
    !take && /^    \[[a-z]/ { take = 1; n++ }
    take { sub(/^    /, ""); print > (d "/readme-indented" n ".conf") }' \
    "$TOP/README.md"
nblk=0
for f in "$D"/readme*.conf; do
	[ -f "$f" ] || continue
	nblk=$((nblk + 1))
	like "README config block $(basename "$f" .conf) passes config check" \
	    "$("$BIN/optgate" -c "$f" config check 2>&1)" "*: ok (*"
done
ok "README has config blocks ($nblk)" test "$nblk" -ge 5
# The [feedback] block's trusted_reporters, pasted as they are, trust the
# feedback loops they stand for, as those loops' reports name themselves
# (From: feedback@arf.mail.yahoo.com; Validity's loops for Comcast,
# Rackspace ...: @*.senderscore.net).  fbl.yahoo.com and
# jmrp.microsoft.com, which it named, are in no report: every complaint
# was quarantined "reporter not trusted".
mkdir -p "$D/fbt"
{
	printf '[store]\npath = %s/fbt/store\n[keys]\nfile = %s/fbt/keys\n' "$D" "$D"
	sed -n '/^    \[feedback\]$/,/^ *$/{s/^    //;/^quarantine/d;p}' "$TOP/README.md"
	printf 'quarantine = %s/fbt/q\n' "$D"
} >"$D/fbt/optgate.conf"
"$BIN/optgate" -c "$D/fbt/optgate.conf" init >/dev/null 2>&1
for f in flanker-arf-yahoo cfortune-fbl-comcast; do
	is "README's trusted_reporters trust $f" \
	    "$("$BIN/optgate" -c "$D/fbt/optgate.conf" fbl \
	    "$TOP/tests/fixtures/reports/messages/$f.eml" 2>&1 |
	    grep -c 'reporter not trusted')" 0
done
# its plus_tags end with a comment on a continuation line: every domain
# listed drops the +tag, the last one too
for d in gmail.com proton.me protonmail.com; do
	like "conf/optgate.conf: +tags of $d are dropped for matching" \
	    "$("$BIN/optgate" -c "$C/optgate.conf" check-address "ana+news@$d" 2>&1)" \
	    "*match key:  ana@$d*"
done

# --- the milter's unit on a host of any MTA ---
# systemd refuses to start a unit whose ReadWritePaths= names a missing
# folder (226/NAMESPACE) unless the entry starts with "-".  The sockets'
# folders below /var/spool/postfix exist only on a Postfix host that uses
# unix sockets (not with inet: sockets, conf/optgate.conf's default, not
# on a policy host that Postfix reaches over TCP, nor under Sendmail):
# only the store and the RuntimeDirectory may be required.
for u in milter policyd unsubd; do
	req=
	for p in $(sed -n 's/^ReadWritePaths=//p' "$C/optgate-$u.service"); do
		case "$p" in
		-*) ;;
		/var/lib/optgate | /run/optgate) ;;
		*) req="$req $p" ;;
		esac
	done
	is "optgate-$u.service: folders only some hosts have are optional (-)" \
	    "$req" ""
done

# --- optgate-unsubd.service's CapabilityBoundingSet= ---
# The daemon reads the keys file as root, before it becomes [unsubd]
# user, and the README's install gives that file to optgate, mode 0600:
# root reads it only with a DAC capability, which the bounding set must
# keep (without one the unit died at every start under systemd: "keys:
# Permission denied").  Run as the unit runs it (setpriv: the same
# bounding set) in a network namespace of its own (its port is no one
# else's): past the keys it listens and becomes the user.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$C/optgate-unsubd.service")
if [ "$(id -u)" = 0 ] && [ -n "$caps" ] && command -v setpriv >/dev/null &&
    unshare -n true 2>/dev/null; then
	bs=-all
	for c in $caps; do
		bs="$bs,+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"
	done
	mkdir -p "$D/ud"
	printf '%s\n' "[store]" "path = $D/ud/store" "[keys]" "file = $D/ud/keys" \
	    "[unsubd]" "listen = 127.0.0.1:8080" "user = nobody" \
	    "[stream news]" "match = sender:news@example.com" \
	    "unsubscribe = https://unsub.example.com/u/%t" >"$D/ud/optgate.conf"
	"$BIN/optgate" -c "$D/ud/optgate.conf" init >/dev/null 2>&1
	chown -R nobody "$D/ud/store" "$D/ud/keys"
	chmod 600 "$D/ud/keys"
	like "optgate-unsubd.service: root in its bounding set reads the keys file (0600, optgate's)" \
	    "$(unshare -n timeout 10 setpriv --bounding-set="$bs" \
	    "$BIN/optgate-unsubd" -f -c "$D/ud/optgate.conf" 2>&1)" \
	    "*running as nobody*"
	# ExecReload= runs under that bounding set too unless it starts with
	# "+" (systemd.service(5)), and by then the daemon is the user's: root
	# without CAP_KILL cannot signal it ("systemctl reload
	# optgate-unsubd": "kill: (PID): Operation not permitted", reload
	# failed, the config not re-read).  Signal a process of nobody as the
	# unit's ExecReload= would be run.
	rl=$(sed -n 's/^ExecReload=//p' "$C/optgate-unsubd.service")
	setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 30 &
	sp=$!
	# signalled once it is nobody's sleep, not root's setpriv still
	i=0
	until [ "$(ps -o user=,comm= -p "$sp" | tr -s ' ')" = "nobody sleep" ] ||
	    [ $i -ge 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ "$(ps -o user=,comm= -p "$sp" | tr -s ' ')" = "nobody sleep" ] ||
	    fail "the stand-in daemon runs as nobody within 5 s"
	case "$rl" in
	+*) pre= ;;
	*) pre="setpriv --bounding-set=$bs" ;;
	esac
	$pre $(echo "${rl#+}" | sed "s/\$MAINPID/$sp/") 2>/dev/null
	is "optgate-unsubd.service: ExecReload= can signal the daemon run as its user" "$?" 0
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
else
	echo "ok - # SKIP not root, or no setpriv/unshare"
	echo "ok - # SKIP not root, or no setpriv/unshare"
fi

# Their stderr lines are the daemons' log: under systemd they reach
# syslog with the unit's SyslogFacility (default daemon), and the README
# promises Postfix's (mail), where mail.log has them next to Postfix's.
# The MTA daemons start before Postfix: on Debian that is
# postfix@-.service, which starts before its wrapper postfix.service.
for u in milter policyd unsubd; do
	is "optgate-$u.service: logs with the mail facility" \
	    "$(sed -n 's/^SyslogFacility=//p' "$C/optgate-$u.service")" mail
done
# The three daemons restart alike: on a failure (exit 1 after a disk
# error, a fatal error, a crash), not after a stop asked with SIGTERM
# (policyd's said Restart=always, for no reason given).
for u in milter policyd unsubd; do
	is "optgate-$u.service: Restart=on-failure" \
	    "$(sed -n 's/^Restart=//p' "$C/optgate-$u.service")" on-failure
done
for u in milter policyd; do
	like "optgate-$u.service: starts before Debian's Postfix (postfix@-)" \
	    " $(sed -n 's/^Before=//p' "$C/optgate-$u.service") " \
	    "* postfix@-.service *"
done

# Under the units (-f) stderr is the journal (JOURNAL_STREAM names its
# device:inode): journald records the name and pid itself and reads a
# "<N>" prefix as the priority.  Lines there carry their priority and no
# second "optgate-policyd[PID]: " (journalctl and mail.log showed it
# twice, and every error as info); elsewhere stderr keeps the prefix.
printf '[bogus]\n' >"$D/bad.conf"
: >"$D/journal"
JOURNAL_STREAM=$(stat -c %d:%i "$D/journal") \
    "$BIN/optgate-policyd" -f -c "$D/bad.conf" 2>>"$D/journal"
is "stderr as the journal: priority prefix, no name[pid]" \
    "$(head -n1 "$D/journal")" "<3>error: $D/bad.conf:1: [bogus]: unknown section"
like "stderr elsewhere (JOURNAL_STREAM another file's): name[pid] kept" \
    "$(JOURNAL_STREAM=1:2 "$BIN/optgate-policyd" -f -c "$D/bad.conf" 2>&1 | head -n1)" \
    "optgate-policyd?[0-9]*]: error: *"

# What Restart=on-failure relies on: policyd exits 0 when told to stop,
# 1 on a fatal error (the bad config above).
"$BIN/optgate-policyd" -f -c "$D/bad.conf" 2>/dev/null
is "optgate-policyd: a fatal error exits 1 (restarted)" "$?" 1
sed -e "s#@D@#$D#g" >"$D/pd.conf" <<'EOF'
[store]
path = @D@/pd-store
[keys]
file = @D@/pd-keys
[policyd]
listen = unix:@D@/pd.sock
[stream news]
match = sender:news@example.com
consent = optin
EOF
"$BIN/optgate" -c "$D/pd.conf" init >/dev/null 2>&1
"$BIN/optgate-policyd" -f -c "$D/pd.conf" 2>"$D/pd.log" &
pd=$!
i=0
while [ $i -lt 100 ] && ! grep -q ' started ' "$D/pd.log"; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $pd
wait $pd
is "optgate-policyd: SIGTERM exits 0 (a stop, not restarted)" "$?" 0

# --- systemd units against an installed tree ---
if command -v systemd-analyze >/dev/null 2>&1; then
	# -o build: install what this suite built (make asan builds with
	# other flags than a plain make would use to rebuild it).
	make -s -C "$TOP" -o build install BUILD="$BUILD" PREFIX=/usr/local \
	    DESTDIR="$D/root" >/dev/null 2>&1
	ok "make install puts the programs in sbin" \
	    test -x "$D/root/usr/local/sbin/optgate-policyd"
	mkdir -p "$D/units"
	for u in "$C"/*.service; do
		n=$(basename "$u")
		# The unit as installed, its paths under DESTDIR.
		sed "s#/usr/local/#$D/root/usr/local/#g" "$u" >"$D/units/$n"
		is "$n: systemd-analyze verify has no complaint" \
		    "$(systemd-analyze verify "$D/units/$n" 2>&1)" ""
		doc=$(sed -n 's#^Documentation=file:##p' "$D/units/$n")
		ok "$n: its Documentation= file is installed" test -f "$doc"
	done
	# Installed with another PREFIX (PREFIX=/usr, as a package would),
	# the units and the master.cf lines still name the programs it put
	# there: they named /usr/local/sbin, and systemd failed with
	# status=203/EXEC, Postfix's spawn and pipe with "No such file".
	make -s -C "$TOP" -o build install BUILD="$BUILD" PREFIX=/usr \
	    DESTDIR="$D/usr-root" >/dev/null 2>&1
	for f in "$D/usr-root/usr/share/optgate/"*; do
		n=$(basename "$f")
		progs=$(grep -v '^[[:space:]]*#' "$f" |
		    grep -o -E '(Exec[A-Za-z]*=[+!-]*|argv=)/[^ ]*' | sed 's/^[^/]*//')
		[ -n "$progs" ] || continue
		missing=
		for p in $progs; do
			case "$p" in
			/bin/kill) ;;
			*) [ -x "$D/usr-root$p" ] || missing="$missing $p" ;;
			esac
		done
		is "PREFIX=/usr: $n names programs make install put there" \
		    "$missing" ""
	done
	mkdir -p "$D/usr-units"
	for u in "$D/usr-root/usr/share/optgate/"*.service; do
		n=$(basename "$u")
		sed "s#/usr/#$D/usr-root/usr/#g" "$u" >"$D/usr-units/$n"
		is "PREFIX=/usr: $n: systemd-analyze verify has no complaint" \
		    "$(systemd-analyze verify "$D/usr-units/$n" 2>&1)" ""
	done
else
	echo "ok - # SKIP systemd-analyze not installed"
fi

done_testing
