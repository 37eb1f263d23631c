#!/bin/sh
# The reusable Postfix fixture (tests/lib/postfix.sh) itself: an instance
# starts on loopback, relays to smtp-sink, logs to its own file, and
# leaves nothing behind when stopped.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/postfix.sh"

etc_before=$(ls -la --time-style=+%s /etc/postfix | md5sum)
ok "postfix instance starts" pf_start 25110 25111
conf=$PF_CONF
dir=$PF_DIR
out=$(pf_send sender@app.example 'a@dest.example b@dest.example')
like "both recipients accepted" "$out" "*RCPT <a@dest.example> 250*RCPT <b@dest.example> 250*DATA 250*"
ok "message reaches the sink" pf_sink_wait 1 10
is "sink got both recipients" "$(pf_sink_rcpts | sort | tr '\n' ' ')" \
    "a@dest.example b@dest.example "
ok "queue drains" pf_wait_queue_empty 10
ok "instance log names the delivery" pf_log_wait \
    'to=<b@dest.example>, relay=127.0.0.1\[127.0.0.1\]:25111.*status=sent' 5
printf 'Subject: local\n\nbody\n' | pf_sendmail app@app.example c@dest.example
ok "local submission (sendmail -C) arrives" pf_sink_wait 2 10
is "system /etc/postfix untouched" \
    "$(ls -la --time-style=+%s /etc/postfix | md5sum)" "$etc_before"
pid=$(tr -d ' ' <"$PF_QUEUE/pid/master.pid")
pf_stop
ok "pf_stop stops the master" sh -c "case \$(ps -o stat= -p $pid) in ''|Z*) exit 0;; esac; exit 1"
ok "pf_stop removes the instance folder" test ! -d "$dir"
ok "ports are free again" sh -c '! python3 -c "import socket; socket.create_connection((\"127.0.0.1\", 25110), 0.5)" 2>/dev/null'
done_testing
