#!/bin/sh
# Benchmark optgate import (issue 4): a generated N-line CSV with
# realistic dirt (1% invalid addresses, 0.5% typo domains, 5% duplicate
# lines, quoted fields, mixed states), imported end to end into a fresh
# store: lines/s, peak anonymous memory (RssAnon sampled from /proc every
# 0.1 s; the LMDB map is page cache, reported as RssFile), bytes on disk
# per address; then export of the whole store: lines/s.
#
#   sh tests/bench/import.sh          (N=10000000 by default; make bench N=)
# Targets: >= 200,000 lines/s, RssAnon < 100 MB whatever N.
set -u
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
BIN=$TOP/$BUILD/bin
N=${N:-10000000}
[ -x "$BIN/optgate" ] || { echo "import bench: build first (make)" >&2; exit 2; }
D=$(mktemp -d /tmp/og-import-bench.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT INT TERM
cat >"$D/og.conf" <<EOF
[store]
path = $D/store
map_size = 64G
[keys]
file = $D/keys
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
[stream offers]
match = header:X-Optgate-Stream=offers
class = marketing
consent = optin
partner = acme
EOF
OG="$BIN/optgate -c $D/og.conf"
$OG init >/dev/null 2>&1 || { echo "import bench: init failed" >&2; exit 1; }

t0=$(date +%s.%N)
awk -v N="$N" 'BEGIN {
	srand(4242)
	print "address,stream,state,time,source,ip,user_agent,segment"
	split("gmail.com hotmail.com yahoo.com.br uol.com.br bol.com.br outlook.com terra.com.br example.com icloud.com live.com", dom, " ")
	split("gmial.com hotmial.com yaho.com.br uol.com.bt outlok.com", typo, " ")
	split("confirmed confirmed confirmed optin optout suppressed", states, " ")
	split("signup-form checkout contest partner-import", src, " ")
	for (i = 1; i <= N; i++) {
		r = rand()
		id = (r < 0.05 && i > 1) ? int(rand() * (i - 1)) + 1 : i
		d = dom[id % 10 + 1]
		a = "cliente." id "@" d
		if (r >= 0.05 && r < 0.06) {
			k = int(rand() * 4)
			a = k == 0 ? "cliente." id d : k == 1 ? "cliente " id "@" d : \
			    k == 2 ? "cliente." id "@@" d : "cliente." id "@" d "."
		} else if (r >= 0.06 && r < 0.065) {
			a = "cliente." id "@" typo[id % 5 + 1]
		}
		st = states[id % 6 + 1]
		t = 1700000000 + (id * 37) % 60000000
		ts = strftime("%Y-%m-%dT%H:%M:%SZ", t, 1)
		stream = (id % 3 == 0) ? "offers" : "newsletter"
		if (st == "optout" || st == "suppressed") stream = (id % 2) ? "" : stream
		if (id % 4 == 0)
			printf "\"%s\",%s,%s,%s,%s,198.51.%d.%d,\"Mozilla/5.0 (X11; Linux x86_64)\",vip\n", a, stream, st, ts, src[id % 4 + 1], id % 256, id % 200
		else
			printf "%s,%s,%s,%s,%s,,,\n", a, stream, st, ts, src[id % 4 + 1]
	}
}' >"$D/list.csv"
t1=$(date +%s.%N)
size=$(wc -c <"$D/list.csv")

# import, sampling RssAnon of the process
$OG --json import "$D/list.csv" >"$D/imp.json" 2>"$D/imp.err" &
PID=$!
peak_anon=0
peak_file=0
while kill -0 $PID 2>/dev/null; do
	s=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\).*/\1/p; s/^RssFile:[[:space:]]*\([0-9]*\).*/F\1/p' \
	    /proc/$PID/status 2>/dev/null | tr '\n' ' ')
	a=${s%% *}
	f=$(echo "$s" | sed -n 's/.*F\([0-9]*\).*/\1/p')
	[ -n "$a" ] && [ "$a" -gt "$peak_anon" ] 2>/dev/null && peak_anon=$a
	[ -n "$f" ] && [ "$f" -gt "$peak_file" ] 2>/dev/null && peak_file=$f
	sleep 0.1
done
wait $PID
rc=$?
PID=
[ $rc -eq 0 ] || { echo "import bench: import failed ($rc):"; cat "$D/imp.err"; exit 1; }
get() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }
lines=$(get lines "$D/imp.json")
secs=$(get seconds "$D/imp.json")
$OG --json stats >"$D/stats.json" 2>/dev/null
addrs=$(sed -n 's/.*"addresses":\([0-9]*\).*/\1/p' "$D/stats.json" | head -1)
used=$(sed -n 's/.*"map_used":\([0-9]*\).*/\1/p' "$D/stats.json" | head -1)

# export the whole store
e0=$(date +%s.%N)
rows=$($OG export | wc -l)
e1=$(date +%s.%N)
h0=$(date +%s.%N)
echo 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff >"$D/k"
chmod 600 "$D/k"
hrows=$($OG export --hashed "$D/k" | wc -l)
h1=$(date +%s.%N)

printf '%-48s %14s\n' "import, N=$N lines ($((size / 1048576)) MiB)" "value"
printf '%-48s %14s\n' "generate CSV: seconds" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
printf '%-48s %14s\n' "import: lines/s (end to end, durable)" "$(awk -v l="$lines" -v s="$secs" 'BEGIN {printf "%.0f", l / s}')"
printf '%-48s %14s\n' "import: seconds" "$secs"
printf '%-48s %14s\n' "import: imported / unchanged / rejected / warned" \
    "$(get imported "$D/imp.json")/$(get unchanged "$D/imp.json")/$(get rejected "$D/imp.json")/$(get warned "$D/imp.json")"
printf '%-48s %14s\n' "import: peak RssAnon (MiB; target < 100)" "$(awk -v k="$peak_anon" 'BEGIN {printf "%.1f", k / 1024}')"
printf '%-48s %14s\n' "import: peak RssFile (MiB; LMDB map, page cache)" "$(awk -v k="$peak_file" 'BEGIN {printf "%.0f", k / 1024}')"
printf '%-48s %14s\n' "store: addresses" "$addrs"
printf '%-48s %14s\n' "store: bytes in use per address (+ events)" "$(awk -v u="$used" -v a="$addrs" 'BEGIN {printf "%.0f", a ? u / a : 0}')"
printf '%-48s %14s\n' "export: lines/s ($((rows - 1)) rows)" "$(awk -v r="$rows" -v a="$e0" -v b="$e1" 'BEGIN {printf "%.0f", r / (b - a)}')"
printf '%-48s %14s\n' "export --hashed: lines/s ($((hrows - 1)) rows)" "$(awk -v r="$hrows" -v a="$h0" -v b="$h1" 'BEGIN {printf "%.0f", r / (b - a)}')"
