#!/bin/sh
# optgate-policyd and optgate-milter in one real Postfix ([milter] policyd =
# yes): each recipient is decided once and counted once.  Both streams
# get a cap of 2/1d: if a send were counted twice, the second message
# would already be refused.
#   promo (envelope stream): policyd decides at RCPT and counts at
#     END-OF-MESSAGE; the milter only adds the headers.
#   newsletter (header stream): the milter decides and counts.
# Ports: Postfix 25220/25221, policyd 10065.
. "$OPTGATE_TOP/tests/lib/tap.sh"
. "$TOP/tests/milter/common.sh"

if [ ! -x "$BIN/optgate-policyd" ]; then
	echo "ok 1 # SKIP optgate-policyd is not built in this tree"
	echo "1..1"
	exit 0
fi
. "$TOP/tests/lib/postfix.sh"

mg_init
# tests/lib/postfix.sh takes over the EXIT trap at pf_init: stop ours there.
pf_cleanup_add mg_cleanup
mg_wait_free 25220 25221 10065 || exit 1
C=$MG_DIR/optgate.conf
mg_config "$C" "unix:$MG_DIR/milter.sock" "user = postfix
policyd = yes
[policyd]
listen = inet:127.0.0.1:10065
user = postfix"
sed -i 's|^caps = 1/1d$|caps = 2/1d|' "$C"
sed -i '/^\[stream newsletter\]/a caps = 2/1d' "$C"
mg_fill_store "$C"
chown -R postfix "$MG_DIR/store" "$MG_DIR/keys"
mg_start "$C" || exit 1
"$BIN/optgate-policyd" -f -c "$C" >"$MG_DIR/policyd.log" 2>&1 &
MG_PIDS="$MG_PIDS $!"
i=0
until ss -ltn | grep -q '127.0.0.1:10065 ' || [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

pf_start 25220 25221 "smtpd_milters=unix:$MG_DIR/milter.sock" \
    milter_default_action=tempfail milter_protocol=6 \
    "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:10065, permit_mynetworks, reject" \
    "smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:10065" ||
    exit 1

r=""
for n in 1 2 3; do
	out=$(pf_send promo@example.com capped@example.com)
	case "$out" in *"DATA 250"*) r="$r accept" ;; *) r="$r refuse" ;; esac
done
is "envelope stream, cap 2/1d: counted once per message" "$r" \
    " accept accept refuse"
like "the refusal came from policyd at RCPT" "$out" \
    "*RCPT <capped@example.com> 5*"
n=$(grep -c 'to=<capped@example.com>' "$MG_DIR/policyd.log")
is "policyd logged each RCPT decision once" "$n" 3
n=$(grep -c 'to=<capped@example.com>' "$MG_DIR/milter.log")
is "the milter did not decide policyd's recipients" "$n" 0
pf_sink_wait 2 20
# Everything Postfix accepted was delivered: smtp-sink closes a dump file
# before its 250, and Postfix removes a message once it has the 250.
pf_wait_queue_empty 20 ||
    fail "Postfix delivered everything within 20 s ($(pf_queue_count) left)"
n=$(pf_sink_grep '^List-Unsubscribe-Post:' | wc -l)
is "the milter still added the headers" "$n" 2
pf_sink_clear

printf 'From: <news@example.com>\r\nTo: <ok2@example.com>\r\nSubject: n\r\nX-Optgate-Stream: newsletter\r\n\r\nhi\r\n' \
    >"$MG_DIR/m"
r=""
for n in 1 2 3; do
	out=$(pf_send news@example.com ok2@example.com "$MG_DIR/m")
	case "$out" in *"DATA 250"*) r="$r accept" ;; *) r="$r refuse" ;; esac
done
is "header stream, cap 2/1d: counted once per message" "$r" \
    " accept accept refuse"
n=$(grep -c 'to=<ok2@example.com>.*stream=newsletter' "$MG_DIR/milter.log")
is "the milter decided the header stream's recipient each time" "$n" 3

done_testing
