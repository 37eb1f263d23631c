#!/bin/sh
# Feedback benchmark: optgate bounce --dry-run over the bounce corpus
# (parse + classify, one core), then live processing of hard bounces into
# a store of N addresses: one process for many files (as --maildir runs),
# and one process per message (as Postfix's pipe runs it).
# Target: >= 2000 messages/s on one core.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
O="$TOP/$BUILD/bin/optgate"
B="$TOP/$BUILD/bench/og_bench"
N=${N:-10000000}
M=${FEEDBACK_M:-2000}
P=${FEEDBACK_PIPE_M:-200}
CORPUS="$TOP/../shared/corpus/messages"
D=$(mktemp -d /tmp/og-fbbench.XXXXXX)
trap 'rm -rf "$D"' EXIT
one="taskset -c 0"
command -v taskset >/dev/null 2>&1 || one=""
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Run "$@" with file names from LIST as arguments; print "WALL CPU": the
# messages per wall-clock second and per CPU second of the child (the
# machine may be shared: the CPU figure is the steadier one).
rates() {
	_n=$1
	_list=$2
	shift 2
	python3 - "$_n" "$_list" "$@" <<'PY'
import resource, subprocess, sys, time
n = int(sys.argv[1])
files = open(sys.argv[2]).read().split()
t = time.time()
subprocess.run(sys.argv[3:] + files, stdout=subprocess.DEVNULL,
               stderr=open("/dev/null", "w"))
w = time.time() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
c = r.ru_utime + r.ru_stime
print("%.0f %.0f" % (n / w, n / c if c > 0 else 0))
PY
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%.0f", n * 1000 / (t > 0 ? t : 1)}'; }

printf '%-52s %12s\n' "feedback, N=$N" "value"
if [ -d "$CORPUS" ]; then
	ls "$CORPUS" | sed "s|^|$CORPUS/|" >"$D/list"
	n=$(wc -l <"$D/list")
	# warm the page cache, then 4 passes in one process
	xargs "$O" bounce --dry-run --json <"$D/list" >/dev/null 2>&1
	for i in 1 2 3 4; do cat "$D/list"; done >"$D/list4"
	set -- $(rates $((n * 4)) "$D/list4" $one "$O" bounce --dry-run --json)
	printf '%-52s %12s\n' "dry-run over the corpus ($((n * 4)) msgs): msgs/s" "$1"
	printf '%-52s %12s\n' "dry-run: msgs per CPU second" "$2"
else
	printf '%-52s %12s\n' "dry-run over the corpus" "no corpus"
fi

# A store of N addresses (the library's bulk path), then M bounces.
"$B" load "$D/s" "$N" >/dev/null 2>&1 || { echo "load failed"; exit 1; }
cat >"$D/optgate.conf" <<CONF
[store]
path = $D/s
map_size = 64G
[keys]
file = $D/keys
[feedback]
quarantine = $D/q
[stream news]
match = header:X-Optgate-Stream=news
class = marketing
consent = none
CONF
"$O" keygen >"$D/keys" 2>/dev/null && chmod 600 "$D/keys"
mkdir -p "$D/m" "$D/p"
i=0
while [ $i -lt $M ]; do
	a="bench$i@example.net"
	t=$("$O" -c "$D/optgate.conf" token "$a" --stream news 2>/dev/null |
	    sed -n 's/^token: //p')
	f="$D/m/$i.eml"
	[ $i -lt $P ] && f="$D/p/$i.eml"
	cat >"$f" <<MSG
From: MAILER-DAEMON@mx.example.com
To: bounce+$t@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <bench-$i@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

<$a>: host mx.example.net[192.0.2.1] said: 550 5.1.1 User unknown

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; $a
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <$a>: User unknown

--b
Content-Type: text/rfc822-headers

Return-Path: <bounce+$t@example.com>
From: news@example.com
To: $a

--b--
MSG
	i=$((i + 1))
done
nm=$(ls "$D/m" | wc -l)
ls "$D/m" | sed "s|^|$D/m/|" >"$D/mlist"
set -- $(rates "$nm" "$D/mlist" $one "$O" -c "$D/optgate.conf" bounce)
printf '%-52s %12s\n' "live, one process, $nm files: msgs/s" "$1"
printf '%-52s %12s\n' "live, one process: msgs per CPU second" "$2"
n_sup=0
for f in $(head -20 "$D/mlist"); do
	a=$(sed -n 's/^Final-Recipient: rfc822; //p' "$f")
	"$O" -c "$D/optgate.conf" status "$a" --stream news >/dev/null 2>&1 ||
	    n_sup=$((n_sup + 1))
done
printf '%-52s %12s\n' "live, one process: first 20 refused afterwards" "$n_sup/20"
t0=$(ms)
for f in "$D"/p/*.eml; do
	$one "$O" -c "$D/optgate.conf" bounce <"$f" >/dev/null 2>>"$D/log2"
done
t1=$(ms)
np=$(ls "$D/p" | wc -l)
printf '%-52s %12s\n' "live, one process per message ($np, as pipe): msgs/s" \
    "$(rate "$np" $((t1 - t0)))"
printf '%-52s %12s\n' "live, per message: suppressions recorded" \
    "$(grep -c 'action=suppressed' "$D/log2")/$np"
