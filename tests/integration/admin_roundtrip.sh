#!/bin/sh
# optgate export, then import into a new store: every address gets the
# same verdict on every stream (opt-ins, double opt-ins, opt-outs of each
# scope, suppressions with and without an end, segments with their caps,
# partner and sender scopes), and an opt-in keeps its proof (source, ip,
# user agent).  What an export cannot carry (erasures, partners' hashed
# lists: keyed hashes without an address) is said when exporting.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-rt.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
mkconf() { # DIR
	cat <<EOF
[store]
path = $1/store
[keys]
file = $1/keys
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
consent = confirmed
caps = 2/7d
caps.segment.vip = 5/7d
[stream offers]
match = header:X-Optgate-Stream=offers
consent = optin
partner = acme
[stream promo]
match = sender:promo@shop.example
consent = none
[stream receipts]
match = header:X-Optgate-Stream=receipts
class = transactional
EOF
}
mkdir -p "$T/a" "$T/b"
mkconf "$T/a" >"$T/a.conf"
mkconf "$T/b" >"$T/b.conf"
A="$BIN/optgate -c $T/a.conf"
B="$BIN/optgate -c $T/b.conf"
OPTGATE_NOW=1780272000 # 2026-06-01T00:00:00Z
export OPTGATE_NOW
$A init >/dev/null 2>&1
$B init >/dev/null 2>&1

# --- a store with every kind of entry -------------------------------------
{
	$A optin ana@example.com --stream newsletter --source signup-form \
	    --ip 192.0.2.1 --user-agent 'Mozilla/5.0 (X11), "quoted"' \
	    --segment vip --time 2026-01-01T00:00:00Z
	# two segments as an import's segment column writes them
	$A optin sv@example.com --stream newsletter --source s \
	    --segment 'VIP;br' --time 2026-01-01T00:00:00Z
	$A optin bo@example.com --stream newsletter --double
	$A optin ce@example.com --stream offers --single --source form \
	    --ip 2001:db8::1 --time 2026-01-01T00:00:00Z
	$A suppress cy@example.com --reason hard-bounce
	$A optin di@example.com --stream newsletter --source s \
	    --time 2026-01-01T00:00:00Z
	$A optout di@example.com --stream newsletter
	$A optout ed@example.com
	$A suppress fa@example.com --reason complaint --expires 30d
	$A suppress fb@example.com --reason manual --stream newsletter
	$A optin gu@example.com --stream offers --source f \
	    --time 2026-01-01T00:00:00Z
	$A optout gu@example.com --partner acme
	$A optout ha@example.com --sender promo@shop.example
	$A suppress hb@example.com --reason complaint --sender shop.example
	$A optin ii@example.com --stream offers --source f
	# an admin's note: why the address was stopped
	$A suppress nt@example.com --reason manual \
	    --note 'asked by phone, "ticket 42"'
} >/dev/null
# notes an older file gave in its reason column (a line that is not a
# suppression), and a note on a stream entry that holds the person's cap
cat >"$T/notes.csv" <<'EOF'
address,stream,state,time,reason,cap
no@example.com,,optout,2026-03-01T00:00:00Z,moved abroad,
nc@example.com,newsletter,confirmed,2026-03-01T00:00:00Z,,1/7d
EOF
$A import "$T/notes.csv" >/dev/null 2>&1
$A suppress nc@example.com --reason manual --stream newsletter \
    --note 'asked to stop the newsletter' >/dev/null
# more than one export group (64 records), from an import with proof
awk 'BEGIN { print "address,stream,state,time,source,ip,user_agent,segment,expires"
	for (i = 1; i <= 150; i++) {
		st = i % 3 == 0 ? "optout" : "confirmed"
		printf "m%03d@example.com,offers,%s,2026-02-01T00:00:00Z,list-%d,198.51.100.%d,UA %d,%s,%s\n", \
		    i, st, i, i % 250, i, i % 5 == 0 ? "vip;br" : "", \
		    i % 3 == 0 && i % 2 == 0 ? "2026-09-01T00:00:00Z" : ""
	}
	print "zz@example.com,,optout,2026-01-01T00:00:00Z,,,,,"
}' >"$T/many.csv"
$A import "$T/many.csv" >/dev/null 2>&1
# per-person caps (as the preference page sets them): on an opt-in, and
# alone on a stream whose consent comes from a partner-wide opt-in
cat >"$T/caps.csv" <<'EOF'
address,stream,partner,state,time,source,cap
cp1@example.com,newsletter,,confirmed,2026-03-01T00:00:00Z,page,1/7d
cp2@example.com,,acme,confirmed,2026-03-01T00:00:00Z,page,
cp2@example.com,offers,,none,2026-03-01T00:00:00Z,page,1/1d
EOF
$A --json import "$T/caps.csv" >"$T/caps.out" 2>&1
# a double opt-in with its proof, then a cap the person chose (a cap line
# as the preference page writes one, with its own ip and user agent); a
# suppression with an admin's note, then a cap
tok=$($A optin pf@example.com --stream newsletter --double --source signup \
    --ip 192.0.2.5 | sed -n 's/.* confirm //p')
$A confirm "$tok" --ip 198.51.100.5 --user-agent 'Firefox/120 (confirm)' \
    >/dev/null
$A suppress ps@example.com --reason manual --stream newsletter \
    --note 'asked by phone, ticket 43' >/dev/null
# a double opt-in asked on the form a month before the click: both
# halves are its proof (a regulator asks when and where she asked, and
# when and where she confirmed)
tok=$($A optin dq@example.com --stream newsletter --double --source form-7 \
    --ip 192.0.2.77 --user-agent 'Chrome/119 (form)' \
    --time 2026-05-01T10:00:00Z | sed -n 's/.* confirm //p')
$A confirm "$tok" --ip 198.51.100.77 --user-agent 'Mail/16 (click)' \
    >/dev/null
cat >"$T/pick.csv" <<'EOF'
address,stream,state,time,source,ip,user_agent,cap
pf@example.com,newsletter,none,2026-06-01T00:00:00Z,prefs,203.0.113.9,Safari/17 (prefs),1/7d
ps@example.com,newsletter,none,2026-06-01T00:00:00Z,prefs,203.0.113.9,Safari/17 (prefs),1/7d
pc@example.com,offers,none,2026-06-01T00:00:00Z,prefs,203.0.113.9,Safari/17 (prefs),1/1d
EOF
$A import "$T/pick.csv" >/dev/null 2>&1
# a cap she chose outlives a stop an admin lifts: a complaint over her
# consent (her own stop: the consent does not come back), a manual
# suppression over her cap alone
cat >"$T/lift.csv" <<'EOF'
address,stream,state,time,source,ip,user_agent,cap
ul@example.com,newsletter,confirmed,2026-03-01T00:00:00Z,page,,,1/7d
uk@example.com,newsletter,none,2026-06-01T00:00:00Z,prefs,203.0.113.7,Safari/17 (prefs),1/7d
EOF
$A import "$T/lift.csv" >/dev/null 2>&1
{
	$A suppress ul@example.com --reason complaint --stream newsletter
	$A suppress uk@example.com --reason manual --stream newsletter
	$A unsuppress ul@example.com --stream newsletter
	$A unsuppress uk@example.com --stream newsletter
} >/dev/null
like "a complaint lifted (unsuppress): status still shows the cap she chose" \
    "$($A status ul@example.com --stream newsletter)" \
    '*stream*newsletter*none*chose 1/7d*'
like "... and the gate still adds it to the stream's" \
    "$($A --json status ul@example.com --stream newsletter)" \
    '*{"cap":"1/7d","sent":0,"chosen":true}*'
like "a manual suppression over her cap alone, lifted: the cap stays" \
    "$($A status uk@example.com --stream newsletter)" \
    '*stream*newsletter*none*chose 1/7d*'
$A verify >/dev/null
is "... the store verifies" "$?" 0
like "caps imported: 3 lines in" "$(cat "$T/caps.out")" '*"imported":3,*'
like "... the person's cap is the stream's cap plus hers" \
    "$($A --json status cp1@example.com --stream newsletter)" \
    '*"caps":?{"cap":"2/7d","sent":0},{"cap":"1/7d","sent":0,"chosen":true}?*'

# an address given with a source route (an import from a list that kept
# the RCPT TO as the client wrote it): the store keeps the mailbox, so
# the export names one the import reads back
printf 'address,stream,state\n"<@relay.example:rt@example.com>",promo,optout\n' \
    >"$T/route.csv"
$A import "$T/route.csv" >/dev/null 2>&1
like "an address imported with a source route is shown without it" \
    "$($A status rt@example.com)" "address rt@example.com (match key*"

# an erasure and a partner's hashed list: keyed hashes, no address
$A optin er@example.com --stream offers --source f >/dev/null
$A erase er@example.com >/dev/null
openssl rand -hex 32 >"$T/acme.key"
chmod 600 "$T/acme.key"
{
	echo hash
	printf 'pl@example.com' |
	    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(cat "$T/acme.key")" |
	    sed 's/.*= *//'
} >"$T/acme.csv"
$A import-hashed "$T/acme.csv" --partner acme --key "$T/acme.key" >/dev/null 2>&1

addrs="ana bo ce cy di ed fa fb gu ha hb ii zz cp1 cp2 rt sv nt no nc pf ps pc ul uk dq"
i=1
while [ $i -le 150 ]; do
	addrs="$addrs $(printf 'm%03d' $i)"
	i=$((i + 1))
done

# --- export, import into a new store -------------------------------------
$A export >"$T/export.csv" 2>"$T/export.err"
is "export: exit 0" "$?" 0
like "export says what it cannot carry: erasures, partners' lists" \
    "$(cat "$T/export.err")" \
    "*not in the export*1 erased address, 1 hash of partners' lists*use optgate backup*"
$A export --state optin >/dev/null 2>"$T/export-optin.err"
is "... not when no suppression was asked for" "$(cat "$T/export-optin.err")" ""
$B --json import "$T/export.csv" >"$T/imp.out" 2>&1
like "import of the export: nothing rejected or skipped" "$(cat "$T/imp.out")" \
    '*"skipped":0,"rejected":0,*'
rows=$(($(wc -l <"$T/export.csv") - 1))
like "... every row imported" "$(cat "$T/imp.out")" "*\"imported\":$rows,*"
$B status rt@example.com --stream promo --from promo@shop.example >/dev/null
is "... the opt-out given with a source route came along: refused" "$?" 1
# an export made before the store dropped the route: read back too
mkdir -p "$T/c"
mkconf "$T/c" >"$T/c.conf"
C="$BIN/optgate -c $T/c.conf"
$C init >/dev/null 2>&1
printf 'address,stream,state\n@relay.example:ro@example.com,promo,optout\n' \
    >"$T/old-export.csv"
like "an old export's @relay.example:ro@example.com line: imported" \
    "$($C --json import "$T/old-export.csv" 2>&1)" '*"imported":1,*'
$C status ro@example.com --stream promo --from promo@shop.example >/dev/null
is "... and ro@example.com's opt-out counts" "$?" 1

# status of every address on every stream, the channel and the event
# behind a refusal aside (an import records its own); promo is judged
# with its envelope sender
norm() { sed 's/,"why":{[^}]*}//g; s/ \(admin\|import\)"/"/g; s/ via \(admin\|import\)//g'; }
diffs=""
for a in $addrs; do
	$A --json status "$a@example.com" --from promo@shop.example | norm >"$T/sa"
	$B --json status "$a@example.com" --from promo@shop.example | norm >"$T/sb"
	cmp -s "$T/sa" "$T/sb" || diffs="$diffs $a"
done
is "every address: the same verdicts on every stream" "$diffs" ""

like "optin --segment 'VIP;br': two segments, vip's caps apply" \
    "$($A --json status sv@example.com --stream newsletter)" \
    '*"caps":?{"cap":"5/7d","sent":0}?*'
$A optin sw@example.com --stream newsletter --segment "a;$(printf '%033d' 0)" \
    >/dev/null 2>"$T/err"
is "optin --segment with one over 32 bytes: exit 2, not recorded without it" \
    "$?" 2

# the opt-in's proof came along
like "opt-in proof kept: source, ip, user agent" \
    "$($B audit ana@example.com)" \
    '*none -> confirmed via import*source=signup-form ip=192.0.2.1 user_agent=Mozilla/5.0 (X11), "quoted" segments=vip*'
like "... also from an imported list" "$($B audit m001@example.com)" \
    '*source=list-1 ip=198.51.100.1 user_agent=UA 1*'
like "... and an IPv6 address" "$($B audit ce@example.com)" \
    '*source=form ip=2001:db8::1*'
like "export has the cap and note columns, then the request's" \
    "$(head -1 "$T/export.csv")" \
    "*,ip,user_agent,cap,note,requested,requested_source,requested_ip,requested_user_agent"
# why an address was stopped came along: status in the new store says it
like "an admin's note kept: status says why" "$($B status nt@example.com)" \
    '*via import: source=admin note=asked by phone, "ticket 42"*'
like "... one an older file gave as the reason of an opt-out" \
    "$($B status no@example.com)" '*note=moved abroad*'
like "... one on a stream suppression where she chose a cap" \
    "$($B status nc@example.com --stream newsletter)" \
    '*note=asked to stop the newsletter*'
like "export --json gives the note" \
    "$($A --json export | grep '"nt@')" \
    '*"note":"asked by phone, ?"ticket 42?""*'
like "export --json gives the proof too" \
    "$($A --json export --state confirmed | grep '"ana@')" \
    '*"source":"signup-form","ip":"192.0.2.1","user_agent":"Mozilla/5.0 (X11), ?"quoted?""*'

# a cap chosen after the consent does not replace its proof: export
# writes the confirmation's ip and user agent, the new store has them
like "export after a cap was chosen: the opt-in's proof, and the cap" \
    "$(grep '^pf@' "$T/export.csv")" \
    "pf@example.com,newsletter,,,confirmed,*,,confirmation,,,198.51.100.5,Firefox/120 (confirm),1/7d,,*"
like "... imported: the new store's history has that proof" \
    "$($B audit pf@example.com)" \
    '*pending -> confirmed via import*source=confirmation ip=198.51.100.5 user_agent=Firefox/120 (confirm)*'
like "... and status shows the consent and her cap" \
    "$($B status pf@example.com --stream newsletter)" \
    '*confirmed  2026-*via import, chose 1/7d*'
like "a suppression, then a cap: status says the admin's why, not the cap's" \
    "$($A status ps@example.com --stream newsletter)" \
    '*via admin: source=admin note=asked by phone, ticket 43*'
like "... export keeps it" "$(grep '^ps@' "$T/export.csv")" \
    '*,suppressed,*,manual,admin,,,,,1/7d,"asked by phone, ticket 43",,,,'
like "... and the new store's status says it" \
    "$($B status ps@example.com --stream newsletter)" \
    '*via import: source=admin note=asked by phone, ticket 43*'
like "a cap alone keeps its own event: export gives where it came from" \
    "$(grep '^pc@' "$T/export.csv")" \
    "pc@example.com,offers,,,none,,,prefs,,,203.0.113.9,Safari/17 (prefs),1/1d,,,,,"
like "... and status in the new store a chosen-cap line" \
    "$($B status pc@example.com)" '*offers*none*chose 1/1d*'

like "a cap kept after unsuppress is exported with the cap's own proof" \
    "$(grep '^uk@' "$T/export.csv")" \
    "uk@example.com,newsletter,,,none,,,prefs,,,203.0.113.7,Safari/17 (prefs),1/7d,,,,,"
like "... and the new store shows it chosen" \
    "$($B status ul@example.com --stream newsletter)" \
    '*stream*newsletter*none*chose 1/7d*'

like "per-person caps came along" \
    "$($B --json status cp2@example.com --stream offers)" \
    '*"caps":?{"cap":"1/1d","sent":0,"chosen":true}?*'

# an import never replaces a cap the person chose; the same cap again
# changes nothing; an erased person gets no record from a cap line
printf 'address,stream,state,time,source,cap\ncp1@example.com,newsletter,confirmed,2026-03-01T00:00:00Z,page,3/7d\ner@example.com,offers,none,,,1/7d\n' >"$T/cap2.csv"
$B optin er@example.com --stream offers --source f >/dev/null
$B erase er@example.com >/dev/null
$B --json import "$T/cap2.csv" >"$T/cap2.out" 2>&1
like "a file's cap over the person's own: not taken" "$(cat "$T/cap2.out")" \
    '*"imported":0,"unchanged":1,"skipped":1,*'
like "... and said" "$(cat "$T/cap2.csv.warnings")" \
    "2: cp1@example.com: cap not imported: the person chose another cap*3: er@example.com: not imported: the address was erased*"
like "... her cap holds" "$($B --json status cp1@example.com --stream newsletter)" \
    '*{"cap":"1/7d","sent":0,"chosen":true}*'
$B export 2>/dev/null | grep -q '^er@'
is "... the erased person has no record again" "$?" 1
printf 'address,stream,state,cap\ncq@example.com,offers,none,\ncq@example.com,,optout,1/7d\ncq@example.com,offers,optin,1/7z\ncq@example.com,offers,none,50/1d\n' >"$T/cap3.csv"
$B --json import "$T/cap3.csv" >"$T/cap3.out" 2>&1
like "bad cap lines rejected" "$(cat "$T/cap3.out")" '*"rejected":4,*'
like "... each with why (a count over the 32 sends kept is no cap)" \
    "$(cat "$T/cap3.csv.rejects")" \
    "2: state none needs a cap*3: a cap is the person's cap for a stream*4: bad cap*5: bad cap (expected one cap, e.g. 1/7d; count 1 to 32)*"

# a cap alone (no consent of her own for that stream): status shows the
# cap, not a time and channel the entry does not have
printf 'address,stream,state,cap\ncr@example.com,offers,none,1/7d\n' >"$T/cap4.csv"
$B import "$T/cap4.csv" >/dev/null 2>&1
$B status cr@example.com >"$T/cr.out"
like "a cap alone: status shows the entry with the cap chosen" \
    "$(grep ' offers ' "$T/cr.out" | head -1)" "*stream*offers*none*chose 1/7d"
is "... with no time of 1970 nor a channel" \
    "$(grep -c '1970-01-01\|offers .* via ' "$T/cr.out")" 0
$B erase cr@example.com >/dev/null 2>&1

# exporting the new store gives the same file: nothing lost or added
$B export >"$T/export2.csv" 2>/dev/null
ok "export of the new store is the same file" cmp -s "$T/export.csv" "$T/export2.csv"
is "export: a line per entry, every address once or more" \
    "$(cut -d, -f1 "$T/export.csv" | sed 1d | sort -u | wc -l)" 176
# a rerun of the import changes nothing
$B --json import "$T/export.csv" >"$T/imp2.out" 2>&1
like "importing the export again: all unchanged" "$(cat "$T/imp2.out")" \
    "*\"imported\":0,\"unchanged\":$rows,*"

# --- export --stream: the entries that stop (or allow) that stream's mail --
$A export --stream promo >"$T/promo.csv" 2>/dev/null
like "export --stream: a sender opt-out of the stream's sender domain is in" \
    "$(grep '^ha@' "$T/promo.csv")" "ha@example.com,,,shop.example,optout,*"
like "... and a sender suppression" "$(grep '^hb@' "$T/promo.csv")" \
    "hb@example.com,,,shop.example,suppressed,*,complaint,*"
is "... another stream's entry is not" "$(grep -c '^di@' "$T/promo.csv")" 0
$A optout pq@example.com --partner ACME >/dev/null
like "... a partner opt-out given as ACME stops partner acme's stream: in" \
    "$($A export --stream offers 2>/dev/null | grep '^pq@')" "pq@example.com,,ACME,,optout,*"
is "... a stream matched by a header names no sender" \
    "$($A export --stream newsletter 2>/dev/null | grep -c '^h[ab]@')" 0

$B verify >/dev/null
is "the new store verifies" "$?" 0

# --- a double opt-in keeps both halves: the request and the click ---------
like "export: a confirmed double opt-in with its request's time and proof" \
    "$(grep '^dq@' "$T/export.csv")" \
    "dq@example.com,newsletter,,,confirmed,2026-06-01T00:00:00Z,,confirmation,,,198.51.100.77,Mail/16 (click),,,2026-05-01T10:00:00Z,form-7,192.0.2.77,Chrome/119 (form)"
like "... --json too" "$($A --json export --state confirmed | grep '"dq@')" \
    '*"requested":"2026-05-01T10:00:00Z","requested_source":"form-7","requested_ip":"192.0.2.77","requested_user_agent":"Chrome/119 (form)"*'
like "... one asked and confirmed in the same second, with her cap" \
    "$(grep '^pf@' "$T/export.csv")" \
    "*,1/7d,,2026-06-01T00:00:00Z,signup,192.0.2.5,"
is "... an opt-in without a request has none" \
    "$(grep '^ce@' "$T/export.csv" | cut -d, -f15-)" ",,,"
like "imported: the new store's history has the request, then the click" \
    "$($B audit dq@example.com)" \
    "*: 2 events,*2026-05-01T10:00:00Z *none -> pending via import*source=form-7 ip=192.0.2.77 user_agent=Chrome/119 (form)*2026-06-01T00:00:00Z *pending -> confirmed via import*source=confirmation ip=198.51.100.77 user_agent=Mail/16 (click)*"
like "... and status says since when, as the old store's does" \
    "$($B status dq@example.com --stream newsletter)" \
    "address dq@example.com (match key dq@example.com), since 2026-05-01T10:00:00Z*confirmed  2026-06-01T00:00:00Z via import*accept*"
like "... also at the same second: asked, confirmed, then her cap" \
    "$($B audit pf@example.com)" \
    "*: 3 events,*none -> pending via import*source=signup ip=192.0.2.5*pending -> confirmed via import*source=confirmation ip=198.51.100.5*"
like "... and the import run again above wrote no second request" \
    "$($B audit dq@example.com)" "*: 2 events,*"

# an export made before the request's columns: imported as it always was
cut -d, -f1-14 "$T/export.csv" | grep '^address,\|^dq@' >"$T/old-doi.csv"
mkdir -p "$T/d"
mkconf "$T/d" >"$T/d.conf"
D="$BIN/optgate -c $T/d.conf"
$D init >/dev/null 2>&1
like "an export without the request's columns: imported" \
    "$($D --json import "$T/old-doi.csv" 2>&1)" \
    '*"imported":1,"unchanged":0,"skipped":0,"rejected":0,"warned":0,*'
like "... the confirmation alone, as before" "$($D audit dq@example.com)" \
    "*: 1 event,*none -> confirmed via import*source=confirmation ip=198.51.100.77*"

# a request that cannot be one: rejected with its line, nothing written
{
	echo 'address,stream,state,time,source,requested,requested_source,requested_ip,requested_user_agent'
	echo 'ra@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,2026-05-02T00:00:00Z,form,,'
	echo 'rb@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,May 1st,form,,'
	echo 'rc@example.com,newsletter,optin,2026-05-01T00:00:00Z,click,2026-04-01T00:00:00Z,form,,'
	echo 'rd@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,2026-04-01T00:00:00Z,form,192.0.2.300,'
	echo 're@example.com,newsletter,confirmed,,click,2027-01-01T00:00:00Z,form,,'
	echo 'rf@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,,form,192.0.2.1,'
	echo 'rg@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,2026-04-01T00:00:00Z,form,192.0.2.1,Mozilla/5.0 (rg)'
} >"$T/rq-bad.csv"
$D --json import "$T/rq-bad.csv" >"$T/rq-bad.out" 2>&1
like "bad requests rejected, each line alone" "$(cat "$T/rq-bad.out")" \
    '*"imported":1,"unchanged":0,"skipped":0,"rejected":6,*'
like "... each with its line and why" "$(cat "$T/rq-bad.csv.rejects")" \
    "2: requested is after the confirmation (the line's time): ra@*
3: bad requested (expected RFC 3339*
4: requested is the request of a double opt-in: for a confirmed line only*
5: bad requested_ip*
6: requested is in the future*
7: requested_source, requested_ip and requested_user_agent need requested*"
bad=""
for a in ra rb rc rd re rf; do
	$D status "$a@example.com" | grep -q 'no record' || bad="$bad $a"
done
is "... and a rejected line wrote nothing" "$bad" ""
like "... the good line beside them went in with its request" \
    "$($D audit rg@example.com)" \
    "*: 2 events,*none -> pending via import*source=form ip=192.0.2.1 user_agent=Mozilla/5.0 (rg)*pending -> confirmed via import*"

# the store has changes of its own: newer wins, for the request too
{
	echo 'address,stream,state,time,source,requested,requested_source'
	echo 'rh@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,2026-04-01T00:00:00Z,form'
	echo 'ri@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,2026-04-01T00:00:00Z,form'
} >"$T/rq-newer.csv"
$D optin rh@example.com --stream newsletter --source s \
    --time 2026-04-15T00:00:00Z >/dev/null
$D optout rh@example.com --stream newsletter >/dev/null # (now: June)
$D optin ri@example.com --stream newsletter --single --source s \
    --time 2026-04-15T00:00:00Z >/dev/null
$D --json import "$T/rq-newer.csv" >"$T/rq-newer.out" 2>&1
like "a newer opt-out: skipped; over an opt-in between request and click: in" \
    "$(cat "$T/rq-newer.out")" \
    '*"imported":1,"unchanged":0,"skipped":1,"rejected":0,"warned":1,*'
like "... no request written under the newer opt-out" \
    "$($D audit rh@example.com)" "*: 2 events,*"
like "... a request older than the store's opt-in: said, not written" \
    "$(cat "$T/rq-newer.csv.warnings")" \
    "2: rh@example.com: not imported: the store has an entry*3: ri@example.com: confirmed, but its request (requested) not recorded: the store has a change of this scope newer than the request*"
like "... the confirmation over her single opt-in" "$($D audit ri@example.com)" \
    "*: 2 events,*none -> optin via admin*optin -> confirmed via import*"

# --- backup while writers write; restore as README says --------------------
awk 'BEGIN { print "address,stream,state,time,source"
	for (i = 1; i <= 60000; i++) printf "bk%d@example.com,offers,optin,2026-01-01T00:00:00Z,x\n", i }' >"$T/bk.csv"
$B import "$T/bk.csv" --batch 500 >/dev/null 2>&1 &
imp=$!
(i=0; while [ $i -lt 100 ]; do $B optout "w$i@example.com" >/dev/null 2>&1; i=$((i + 1)); done) &
outs=$!
bad=0
for n in 1 2 3; do
	$B backup "$T/bk$n" >"$T/bk$n.out" 2>&1 || bad=$((bad + 1))
	$B verify "$T/bk$n" >/dev/null 2>&1 || bad=$((bad + 1))
done
wait $imp $outs
is "three backups taken during an import and opt-outs: each verifies" "$bad" 0
# "about N addresses, M events" is what the backup holds, not what the
# store held a moment later: each copy restored, optgate stats on it
diffs=""
for n in 1 2 3; do
	cp -a "$T/bk$n" "$T/rs$n"
	sed "s#^path = .*#path = $T/rs$n#" "$T/b.conf" >"$T/rs$n.conf"
	said=$(sed -n 's/.*(about \([0-9]*\) address[a-z]*, \([0-9]*\) event.*/\1 \2/p' \
	    "$T/bk$n.out")
	holds=$($BIN/optgate -c "$T/rs$n.conf" stats |
	    sed -n 's/^store .*, \([0-9]*\) address[a-z]*, \([0-9]*\) event.*/\1 \2/p')
	[ -n "$said" ] && [ "$said" = "$holds" ] ||
	    diffs="$diffs bk$n: said '$said', holds '$holds';"
done
is "each backup's count of addresses and events is the restored copy's" \
    "$diffs" ""
$B backup "$T/bk-final" >/dev/null 2>&1
mv "$T/b/store" "$T/b/store.old"
mv "$T/bk-final" "$T/b/store"
$B verify >/dev/null 2>&1
is "restored (moved into place as [store] path): verifies" "$?" 0
$B --json status ana@example.com | norm >"$T/ra"
$A --json status ana@example.com | norm >"$T/rb"
ok "... and decides as before" cmp -s "$T/ra" "$T/rb"
$B status w99@example.com --stream promo --from promo@shop.example >/dev/null
is "... with the last opt-out in it" "$?" 1
$B optout new@example.com >/dev/null
is "... and takes new writes" "$?" 0
done_testing
