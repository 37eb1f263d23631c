#!/bin/sh
# Store benchmark: bulk load of N addresses, then gate decisions against
# the raw LMDB lookup floor, 1 and 2 threads, measured in this one run.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B="$TOP/${BUILD:-build}/bench/og_bench"
N=${N:-10000000}
SECS=${BENCH_SECONDS:-5}
D=$(mktemp -d /tmp/og-bench.XXXXXX)
trap 'rm -rf "$D"' EXIT

get() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

l=$("$B" load "$D/s" "$N" 2>/dev/null) || { echo "load failed"; exit 1; }
"$B" sends "$D/s" "$N" 2>/dev/null || { echo "sends failed"; exit 1; }
printf '%-44s %14s\n' "store, N=$N" "value"
printf '%-44s %14s\n' "load: addresses/s (og_store_apply, batches)" "$(get "$l" rate)"
printf '%-44s %14s\n' "load: bytes on disk per address (+ event)" "$(get "$l" bytes_per_addr)"
printf '%-44s %14s\n' "load: RssAnon after first batch (KiB)" "$(get "$l" rss_anon_first_kb)"
printf '%-44s %14s\n' "load: RssAnon peak (KiB)" "$(get "$l" rss_anon_max_kb)"
for t in 1 2; do
	# alternate gate and raw, three rounds, medians
	gs="" rs=""
	for r in 1 2 3; do
		g=$("$B" gate "$D/s" "$N" $t "$SECS" 2>/dev/null)
		w=$("$B" raw "$D/s" "$N" $t "$SECS" 2>/dev/null)
		gs="$gs $(get "$g" rate)"
		rs="$rs $(get "$w" rate)"
	done
	gm=$(echo $gs | tr ' ' '\n' | sort -n | sed -n 2p)
	rm=$(echo $rs | tr ' ' '\n' | sort -n | sed -n 2p)
	printf '%-44s %14s\n' "gate decisions/s, $t thread(s) (median of 3)" "$gm"
	printf '%-44s %14s\n' "raw mdb_get/s, $t thread(s) (median of 3)" "$rm"
	printf '%-44s %13s%%\n' "gate / raw, $t thread(s)" \
	    "$(awk -v a="$gm" -v b="$rm" 'BEGIN {printf "%.0f", 100 * a / b}')"
done

# The first open after a reboot: no process has the store open, so the
# counters are walked page by page (docs/store.md) from a cold page cache.
# Beside it, the floor: one sequential read of the counters file.
if [ -w /proc/sys/vm/drop_caches ]; then
	cs="" fs=""
	for r in 1 2 3; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		o=$("$B" open "$D/s" 1 2>/dev/null)
		cs="$cs $(echo "$o" | sed -n 's/.*seconds=\([^ ]*\).*/\1/p')"
		sync
		echo 3 >/proc/sys/vm/drop_caches
		t0=$(date +%s.%N)
		cat "$D/s/counters/data.mdb" >/dev/null
		fs="$fs $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f", b - a}')"
	done
	printf '%-44s %14s\n' "first open, cold cache, counters walked (s)" \
	    "$(echo $cs | tr ' ' '\n' | sort -n | sed -n 2p)"
	printf '%-44s %14s\n' "  read of the counters file, cold (s)" \
	    "$(echo $fs | tr ' ' '\n' | sort -n | sed -n 2p)"
	printf '%-44s %14s\n' "  counters file size (MiB)" \
	    "$(($(stat -c %s "$D/s/counters/data.mdb") / 1048576))"
fi
o=$("$B" open "$D/s" 1 2>/dev/null)
printf '%-44s %14s\n' "open, warm cache, counters walked (s)" \
    "$(echo "$o" | sed -n 's/.*seconds=\([^ ]*\).*/\1/p')"
