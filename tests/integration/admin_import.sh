#!/bin/sh
# optgate import: dirty CSV files, as an admin meets them.  Every bad line
# is rejected with its number and reason and changes nothing; good lines
# go in; a rerun changes nothing; an older opt-in never lifts a newer
# opt-out; header problems stop the import before the store is touched.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

T=$(mktemp -d /tmp/og-admin-import.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
cat >"$T/og.conf" <<EOF
[store]
path = $T/store
[keys]
file = $T/keys
[stream newsletter]
match = header:X-Optgate-Stream=newsletter
class = marketing
consent = confirmed
[stream offers]
match = header:X-Optgate-Stream=offers
class = marketing
consent = optin
partner = acme
[stream receipts]
match = header:X-Optgate-Stream=receipts
class = transactional
EOF
OG="$BIN/optgate -c $T/og.conf"
# A fixed clock: 2026-06-01T00:00:00Z.
OPTGATE_NOW=1780272000
export OPTGATE_NOW
$OG init >/dev/null 2>&1

# n_of KEY FILE: a number from the one-line JSON summary.
n_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }
records() { $OG stats --json | sed -n 's/.*"addresses":\([0-9]*\).*/\1/p'; }
events() { $OG stats --json | sed -n 's/.*"type":"store".*"events":\([0-9]*\).*/\1/p'; }

# --- a dirty file: one bad line of every kind -------------------------
printf 'address,stream,state,time,source,ip,user_agent,segment\n' >"$T/dirty.csv"
{
	echo 'ana@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,203.0.113.5,Mozilla/5.0,vip'
	echo 'bad@@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,,,'
	echo 'bob@example.com,newsletter,maybe,2026-01-02T03:04:05Z,form,,,'
	echo 'carl@example.com,newsletter,confirmed,yesterday,form,,,'
	echo 'dora@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form'
	echo 'eve@example.com,newsletter,"confirmed,2026-01-02T03:04:05Z,form,,,'
	echo 'fred@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,fo"rm,,,'
	printf 'jo\343o@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,,,\n'
	echo 'gil@example.com,newsletter,confirmed,2030-01-01T00:00:00Z,form,,,'
	echo 'hal@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,300.1.2.3,,'
	echo 'ida@example.com,nosuchstream,confirmed,2026-01-02T03:04:05Z,form,,,'
	echo 'cliente@yaho.com,newsletter,optin,2026-01-02T03:04:05Z,form,,,'
	echo ''
	echo '"kim@example.com",newsletter,confirmed,2026-01-03T00:00:00Z,"form, page 2",,,'
} >>"$T/dirty.csv"
# a 1 MB line in the middle, then one more good line
awk 'BEGIN { s = "x"; while (length(s) < 1048576) s = s s; print "lee@example.com,newsletter,confirmed,2026-01-02T03:04:05Z," s ",,," }' >>"$T/dirty.csv"
echo 'max@example.com,,optout,2026-01-04T00:00:00Z,,,,' >>"$T/dirty.csv"
# a spreadsheet's empty rows at the end, as exports write them
printf ',,,,,,,\r\n"",,,,,,,\n' >>"$T/dirty.csv"

$OG --json import "$T/dirty.csv" >"$T/out" 2>"$T/err"
is "dirty file: exit 0 (the file was read to its end)" "$?" 0
is "dirty file: 4 imported" "$(n_of imported "$T/out")" 4
is "dirty file: 11 rejected" "$(n_of rejected "$T/out")" 11
is "dirty file: 1 warned (typo)" "$(n_of warned "$T/out")" 1
R="$T/dirty.csv.rejects"
like "invalid address rejected with its line" "$(grep '^3: ' "$R")" '3: invalid address: *'
like "unknown state rejected, naming every state the column takes" \
    "$(grep '^4: ' "$R")" '4: unknown state (expected optin, confirmed, optout, suppressed, pending, or none with a cap)*'
like "bad time rejected" "$(grep '^5: ' "$R")" '5: bad time*'
like "wrong column count rejected" "$(grep '^6: ' "$R")" '6: wrong column count: 5 fields, the header has 8*'
like "bad quoting (stray open quote) rejected" "$(grep '^7: ' "$R")" '7: bad quoting*'
like "bad quoting (quote inside a field) rejected" "$(grep '^8: ' "$R")" '8: bad quoting: a quote inside*'
like "non-UTF-8 rejected" "$(grep '^9: ' "$R")" '9: not valid UTF-8 in column address*'
like "future time rejected" "$(grep '^10: ' "$R")" '10: time is in the future*'
like "bad ip rejected" "$(grep '^11: ' "$R")" '11: bad ip*'
like "unknown stream rejected" "$(grep '^12: ' "$R")" '12: unknown stream*'
like "1 MB line rejected" "$(grep '^16: ' "$R")" '16: line longer than 65536 bytes*'
ok "a spreadsheet's empty rows are skipped like blank lines, not rejected" \
    sh -c "! grep -q '^1[89]: ' '$R'"
ok "reject file stays small (1 MB line cut)" test "$(wc -c <"$R")" -lt 8192
like "reject file keeps the line as it was, to fix and import again" \
    "$(grep '^7: ' "$R")" '*: eve@example.com,newsletter,"confirmed,2026-01-02T03:04:05Z,form,,,'
like "reject file escapes bytes that are not UTF-8" "$(grep '^9: ' "$R")" '*: jo\\xe3o@example.com,*'
like "reject file cuts a long line" "$(grep '^16: ' "$R")" '*: lee@example.com,newsletter,confirmed,*xxx...'

like "typo imported as given and listed" "$(cat "$T/dirty.csv.warnings")" '13: cliente@yaho.com: the domain looks like a typo of yahoo.com*'
$OG status cliente@yaho.com --stream newsletter >/dev/null 2>&1
is "typo address is in the store as given (single opt-in: refused by a confirmed stream)" "$?" 1
$OG status kim@example.com --stream newsletter >/dev/null
is "quoted address with a quoted comma field imported" "$?" 0
like "quoted source kept with its comma" "$($OG audit kim@example.com)" '*source=form, page 2*'
$OG status max@example.com --stream newsletter >/dev/null
is "line after the 1 MB line imported (opt-out of all)" "$?" 1
for a in bad@@example.com bob@example.com carl@example.com dora@example.com \
    fred@example.com gil@example.com hal@example.com ida@example.com lee@example.com; do
	$OG audit "$a" >/dev/null 2>&1
	[ $? -eq 0 ] && fail "rejected line changed nothing: $a has history" && continue
done
pass "rejected lines left no trace in the store"
is "store holds exactly the good lines" "$(records)" 4

# --- rerun: idempotent ---------------------------------------------------
ev1=$(events)
$OG --json import "$T/dirty.csv" >"$T/out2" 2>/dev/null
is "rerun: nothing imported" "$(n_of imported "$T/out2")" 0
is "rerun: 4 unchanged" "$(n_of unchanged "$T/out2")" 4
is "rerun: no new events" "$(events)" "$ev1"

# --- newer opt-out wins over an older opt-in -------------------------
cat >"$T/order.csv" <<'EOF'
address,stream,state,time,source
olga@example.com,newsletter,optout,2026-03-01T00:00:00Z,form
olga@example.com,newsletter,confirmed,2026-02-01T00:00:00Z,form
pam@example.com,,optout,2026-03-01T00:00:00Z,unsub
pam@example.com,newsletter,confirmed,2026-02-01T00:00:00Z,form
ron@example.com,,optout,2026-03-01T00:00:00Z,unsub
ron@example.com,newsletter,confirmed,,
EOF
$OG --json import "$T/order.csv" >"$T/out3" 2>/dev/null
$OG status olga@example.com --stream newsletter >/dev/null
is "older opt-in after a newer opt-out (same stream): still refused" "$?" 1
$OG status pam@example.com --stream newsletter >/dev/null
is "older stream opt-in after a newer global opt-out: still refused" "$?" 1
$OG status ron@example.com --stream newsletter >/dev/null
is "opt-in without time or proof never lifts an opt-out" "$?" 1
like "skipped lines listed with their number and reason" "$(cat "$T/order.csv.warnings")" '*3: olga@example.com: not imported*'
cat >"$T/newer.csv" <<'EOF'
address,stream,state,time,source,ip
pam@example.com,newsletter,confirmed,2026-04-01T00:00:00Z,resubscribe-form,198.51.100.7
EOF
$OG import "$T/newer.csv" >/dev/null 2>&1
$OG status pam@example.com --stream newsletter >/dev/null
is "a newer explicit opt-in with proof lifts the opt-out" "$?" 0

# --- a suppression line never weakens a hard bounce ----------------------
printf 'address,state,reason,time\nquin@example.com,suppressed,hard-bounce,2026-03-01T00:00:00Z\n' >"$T/hard.csv"
$OG import "$T/hard.csv" >/dev/null 2>&1
printf 'address,state,reason\nquin@example.com,suppressed,complaint\n' >"$T/weaker.csv"
$OG --json import "$T/weaker.csv" >"$T/out5" 2>/dev/null
is "complaint line over a hard bounce: skipped" "$(n_of skipped "$T/out5")" 1
$OG status quin@example.com --stream receipts >"$T/st5"
is "a hard-bounced address still gets no transactional mail" "$?" 1
like "the refusal still says hard bounce" "$(cat "$T/st5")" '*hard-bounced*'
like "the skipped line says why" "$(cat "$T/weaker.csv.warnings")" '*2: quin@example.com: not imported: a hard-bounce or manual suppression holds*'

# --- the note column: why an address was stopped, for any state ----------
LONG=$(printf '%0500d' 0)
cat >"$T/notes.csv" <<EOF
address,state,reason,note
nq@example.com,suppressed,hard-bounce,bounced at the old ESP
nr@example.com,optout,by letter,"ref 7, filed"
ns@example.com,optout,,
nu@example.com,optout,a reason of twenty,$LONG
EOF
$OG --json import "$T/notes.csv" >"$T/notes.out" 2>/dev/null
is "note column: three lines in" "$(n_of imported "$T/notes.out")" 3
like "... a suppression's note: status says why" \
    "$($OG status nq@example.com --stream receipts)" \
    '*hard-bounced*note=bounced at the old ESP*'
like "... an opt-out's reason (the old way to give a note) and its note" \
    "$($OG audit nr@example.com)" '*note=by letter; ref 7, filed*'
is "... no note, none recorded" "$($OG audit ns@example.com | grep -c note=)" 0
like "... a note over 512 bytes with its reason: rejected, said why" \
    "$(cat "$T/notes.csv.rejects")" '5: note longer than 512 bytes*'

# --- header problems: nothing changes ----------------------------------
ev2=$(events)
printf 'address,stream,state,colour,mood\nzed@example.com,newsletter,confirmed,red,ok\n' >"$T/cols.csv"
$OG import "$T/cols.csv" >/dev/null 2>"$T/err"
is "unknown columns: exit 2" "$?" 2
like "unknown columns named" "$(cat "$T/err")" '*unknown columns "colour", "mood"*'
like "unknown columns: the known ones listed, expires too" "$(cat "$T/err")" '*(known: address, *, expires, cap, note, requested, requested_source, requested_ip, requested_user_agent)*'
: >"$T/empty.csv"
$OG import "$T/empty.csv" >/dev/null 2>"$T/err"
is "empty file: exit 2" "$?" 2
like "empty file: clear error" "$(cat "$T/err")" '*empty file: no header line*'
printf 'stream,state\nnewsletter,optin\n' >"$T/noaddr.csv"
$OG import "$T/noaddr.csv" >/dev/null 2>"$T/err"
is "header without address: exit 2" "$?" 2
# a spreadsheet's trailing empty columns; ';' as Excel writes in many locales
printf 'address,stream,state,,\nzed@example.com,newsletter,confirmed,,\n' >"$T/empties.csv"
$OG import "$T/empties.csv" >/dev/null 2>"$T/err"
is "unnamed columns: exit 2" "$?" 2
like "unnamed columns: says which" "$(cat "$T/err")" '*unknown columns (column 4 has no name), (column 5 has no name)*'
printf 'address;stream;state\nzed@example.com;newsletter;confirmed\n' >"$T/semi.csv"
$OG import "$T/semi.csv" >/dev/null 2>"$T/err"
is "';' separated: exit 2" "$?" 2
like "';' separated: says so" "$(cat "$T/err")" "*semi.csv: the columns are separated by ';', optgate reads commas*"
# ... also when a column name has a comma, or every field is quoted
printf 'E-mail;Nome, Sobrenome;Status\r\nzed@example.com;Silva, Ana;optout\r\n' >"$T/semi2.csv"
$OG import "$T/semi2.csv" >/dev/null 2>"$T/err"
like "';' separated, a comma in a name: says so" "$(cat "$T/err")" "*semi2.csv: the columns are separated by ';'*"
printf '"EMAIL";"STATE"\r\n"zed@example.com";"optout"\r\n' >"$T/semi3.csv"
$OG import "$T/semi3.csv" >/dev/null 2>"$T/err"
is "';' separated, quoted: exit 2" "$?" 2
like "';' separated, quoted: says so, not only bad quoting" "$(cat "$T/err")" "*semi3.csv: the columns are separated by ';'*"
# Excel's "Unicode Text" / "CSV UTF-16": a BOM FF FE and NULs between
printf 'address,stream,state\r\nzed@example.com,newsletter,confirmed\r\n' |
    iconv -f utf-8 -t utf-16 >"$T/utf16.csv"
$OG import "$T/utf16.csv" >/dev/null 2>"$T/err"
is "UTF-16 file: exit 2" "$?" 2
like "UTF-16 file: says what it is and how to convert it" "$(cat "$T/err")" '*utf16.csv:1: header: UTF-16 text*iconv -f utf-16 -t utf-8*'
# UTF-16 without the byte order mark (a converter that drops it): the
# header's NULs made it "unknown columns "a", (column 2 has no name)"
printf 'address,stream,state\nzed@example.com,newsletter,confirmed\n' |
    iconv -f utf-8 -t utf-16le >"$T/utf16le.csv"
$OG import "$T/utf16le.csv" >/dev/null 2>"$T/err"
is "UTF-16 without its BOM: exit 2" "$?" 2
like "... says what it is and how to convert it" "$(cat "$T/err")" \
    '*utf16le.csv:1: a NUL byte in the header: UTF-16 text without its byte order mark*iconv -f utf-16le -t utf-8*'
printf 'address,stream,state\nzed@example.com,newsletter,confirmed\n' |
    iconv -f utf-8 -t utf-16be >"$T/utf16be.csv"
$OG import "$T/utf16be.csv" >/dev/null 2>"$T/err"
like "... big-endian: its own iconv line" "$(cat "$T/err")" '*iconv -f utf-16be -t utf-8*'
# Excel's "CSV (Macintosh)": lines end with CR alone
printf 'address,state\rcr1@example.com,optout\rcr2@example.com,optout\r' >"$T/mac.csv"
$OG import "$T/mac.csv" >/dev/null 2>"$T/err"
is "CR-only line ends: exit 2" "$?" 2
like "CR-only line ends: says what it is and how to convert it" "$(cat "$T/err")" \
    "*mac.csv:1: the lines end with a carriage return alone (a Macintosh CSV)*tr '?r' '?n'*"
is "header problems changed nothing" "$(events)" "$ev2"

# --- exit codes as README lists them ------------------------------------
$OG import "$T/no-such.csv" >/dev/null 2>&1
is "a file that does not exist: exit 5" "$?" 5
sed "s#$T/store#$T/no-store#" "$T/og.conf" >"$T/nostore.conf"
$BIN/optgate -c "$T/nostore.conf" import "$T/hard.csv" >/dev/null 2>&1
is "no store (optgate init not run): exit 3" "$?" 3

# --- stdin, any column order, --rejects --------------------------------
printf 'State,Time,Email,Stream\nconfirmed,2026-01-05T00:00:00Z,uma@example.com,newsletter\noops,,,\n' |
    $OG import - --rejects "$T/stdin.rej" --warnings "$T/stdin.warn" \
    >"$T/out4" 2>&1
like "stdin import summary" "$(cat "$T/out4")" '*2 lines: 1 imported*1 rejected*'
like "--rejects names the reject file" "$(cat "$T/stdin.rej")" '3: *'
# one line, of one field: "1 line", "1 field", as said of any other count
printf 'email,state\nvi@example.com\n' |
    $OG import - --rejects "$T/one.rej" --warnings "$T/one.warn" >"$T/out5" 2>&1
like "import of one line: 1 line" "$(cat "$T/out5")" '*import stdin: 1 line: 0 imported*1 rejected*'
like "a line of one field: 1 field" "$(cat "$T/one.rej")" '2: wrong column count: 1 field, the header has 2*'
$OG status uma@example.com --stream newsletter >/dev/null
is "columns in any order, Email alias" "$?" 0

printf 'address , stream , state\n  vic@example.com ,  newsletter  , confirmed \n' >"$T/spaces.csv"
$OG import "$T/spaces.csv" >/dev/null 2>&1
$OG status vic@example.com --stream newsletter >/dev/null
is "spaces around fields and names are ignored" "$?" 0

# --- --rejects or --warnings naming the input: refused, input intact -----
printf 'address,state\nyul@example.com,optout\n' >"$T/self.csv"
sum0=$(cksum <"$T/self.csv")
$OG import "$T/self.csv" --rejects "$T/self.csv" >/dev/null 2>"$T/self.err"
is "--rejects FILE naming the input: usage error" "$?" 2
like "... says why" "$(cat "$T/self.err")" "*is the input itself*"
is "... and the input is intact" "$(cksum <"$T/self.csv")" "$sum0"
$OG import - --warnings "$T/self.csv" <"$T/self.csv" >/dev/null 2>&1
is "--warnings naming the file on stdin: refused too" "$?" 2

# --- a reject or warnings file planted as a link: never written through --
# (an admin importing as root from a folder others can write: the link
# would have had root truncate and fill the file it names)
printf 'address,state\nplant@example.com,optout\nnot-an-address,optout\n' >"$T/drop.csv"
printf 'precious\n' >"$T/victim"
ln -s "$T/victim" "$T/drop.csv.rejects"
$OG import "$T/drop.csv" >/dev/null 2>"$T/drop.err"
is "rejects file is a symbolic link: refused" "$?" 5
like "... says why" "$(cat "$T/drop.err")" "*drop.csv.rejects: a symbolic link*"
is "... and the file it names is intact" "$(cat "$T/victim")" precious
rm -f "$T/drop.csv.rejects" "$T/drop.csv.warnings"
ln "$T/victim" "$T/drop.csv.warnings"
$OG import "$T/drop.csv" >/dev/null 2>"$T/drop.err"
is "warnings file with another name (a hard link): refused" "$?" 5
like "... says why" "$(cat "$T/drop.err")" "*drop.csv.warnings: has other links*"
is "... and the file it shares is intact" "$(cat "$T/victim")" precious
rm -f "$T/drop.csv.warnings" "$T/drop.csv.rejects"
$OG import "$T/drop.csv" >/dev/null 2>&1
is "a plain old rejects file is still overwritten" "$?" 0
printf 'old\n' >"$T/drop.csv.rejects"
$OG import "$T/drop.csv" >/dev/null 2>&1
like "... with this import's rejects" "$(cat "$T/drop.csv.rejects")" "3: *"

# --- partner names: the config's spelling, whatever the file's case -----
printf 'address,stream,partner,state,time\nwes@example.com,offers,,optin,2026-01-04T00:00:00Z\nwes@example.com,,ACME,optout,2026-01-05T00:00:00Z\nxia@example.com,,globex,optout,2026-01-05T00:00:00Z\n' >"$T/partner.csv"
$OG import "$T/partner.csv" --warnings "$T/partner.warn" >/dev/null 2>&1
$OG status wes@example.com --stream offers >/dev/null 2>&1
is "opt-out of partner ACME stops the stream of partner acme" "$?" 1
like "a partner no stream has: warned" "$(cat "$T/partner.warn")" \
    "*4: xia@example.com: no stream in the configuration has partner = globex*"

# --- a time a little ahead (a clock's skew) never outranks what comes after
# An opt-in stamped 4 minutes ahead of the import, then an opt-out of
# everything a minute after the import: the opt-out is the newer word.
# (a store of its own: its clock runs ahead of the others')
sed "s#$T/store#$T/store-skew#" "$T/og.conf" >"$T/skew.conf"
SK="$BIN/optgate -c $T/skew.conf"
$SK init >/dev/null 2>&1
printf 'address,stream,state,time,source\nyul@example.com,offers,optin,2026-06-01T00:04:00Z,form\n' >"$T/skew.csv"
$SK import "$T/skew.csv" >"$T/skew.out" 2>&1
like "a time up to 5 minutes ahead: imported" "$(cat "$T/skew.out")" "*1 imported*"
OPTGATE_NOW=1780272060 $SK optout yul@example.com --all >/dev/null
OPTGATE_NOW=1780272600 $SK status yul@example.com --stream offers >/dev/null
is "... an opt-out of everything made after the import stops it" "$?" 1
OPTGATE_NOW=1780272600 $SK optin yul@example.com --stream offers >/dev/null
OPTGATE_NOW=1780272600 $SK status yul@example.com --stream offers >/dev/null
is "... and a newer opt-in lifts that opt-out again" "$?" 0

# --- times with offsets are compared as instants (UTC) ----------------------
# an opt-out at 10:00Z; an opt-in at 08:30-03:00 (11:30Z) is newer and
# lifts it, one at 09:30+01:00 (08:30Z) is older and is skipped
printf 'address,stream,state,time,source\ntz1@example.com,offers,optout,2026-01-05T10:00:00Z,form\ntz2@example.com,offers,optout,2026-01-05T10:00:00Z,form\n' >"$T/tz1.csv"
printf 'address,stream,state,time,source\ntz1@example.com,offers,optin,2026-01-05T08:30:00-03:00,form\ntz2@example.com,offers,optin,2026-01-05T09:30:00+01:00,form\n' >"$T/tz2.csv"
$SK import "$T/tz1.csv" >/dev/null 2>&1
$SK import "$T/tz2.csv" --warnings "$T/tz.warn" >"$T/tz.out" 2>&1
like "offsets: one opt-in newer in UTC imported, one older skipped" "$(cat "$T/tz.out")" "*1 imported*1 skipped*"
$SK status tz1@example.com --stream offers >/dev/null
is "... 08:30-03:00 is after 10:00Z: consent" "$?" 0
$SK status tz2@example.com --stream offers >/dev/null
is "... 09:30+01:00 is before 10:00Z: the opt-out holds" "$?" 1

# --- sender scopes named as the gate names the envelope's domain ----------
printf 'address,sender,state\nyan@example.com,News@Example.COM.,optout\nyin@example.com,not a domain,optout\n' >"$T/sender.csv"
$OG import "$T/sender.csv" --rejects "$T/sender.rej" >"$T/sender.out" 2>&1
like "sender column: one in, one rejected" "$(cat "$T/sender.out")" "*1 imported*1 rejected*"
like "... a sender that is no domain: rejected with why" "$(cat "$T/sender.rej")" "*3: bad sender*"
like "... an address's domain is the scope" "$($OG status yan@example.com)" \
    "*sender   example.com*optout*"

# --- temporary entries keep their end (expires) ----------------------------
printf 'address,stream,state,reason,time,expires\nzed@example.com,,suppressed,soft-bounce,2026-05-20T00:00:00Z,2026-06-19T00:00:00Z\nzoe@example.com,newsletter,optout,,2026-05-20T00:00:00Z,2026-07-01T00:00:00Z\nzip@example.com,,suppressed,soft-bounce,2026-05-20T00:00:00Z,\nzak@example.com,newsletter,confirmed,,2026-05-20T00:00:00Z,2026-07-01T00:00:00Z\n' >"$T/exp.csv"
$OG import "$T/exp.csv" --rejects "$T/exp.rej" >"$T/exp.out" 2>&1
like "expires: two lines in, two rejected" "$(cat "$T/exp.out")" "*2 imported*2 rejected*"
like "a soft bounce without expires: rejected" "$(cat "$T/exp.rej")" "*4: *needs expires*"
like "expires on an opt-in: rejected" "$(cat "$T/exp.rej")" "*5: *expires is for an optout or suppressed line*"
$OG export >"$T/exp-export.csv"
like "export writes a suppression's end" "$(grep '^zed@' "$T/exp-export.csv")" \
    "zed@example.com,,,,suppressed,*,soft-bounce,import:exp.csv,,2026-06-19T00:00:00Z,,,,,,,,"
like "... and an opt-out's" "$(grep '^zoe@' "$T/exp-export.csv")" \
    "*,optout,*,2026-07-01T00:00:00Z,,,,,,,,"

# --- export round trip ----------------------------------------------------
$OG export >"$T/export.csv"
sed "s#$T/store#$T/store2#" "$T/og.conf" >"$T/og2.conf"
$BIN/optgate -c "$T/og2.conf" init >/dev/null 2>&1
$BIN/optgate -c "$T/og2.conf" import "$T/export.csv" >/dev/null 2>&1
$BIN/optgate -c "$T/og2.conf" export >"$T/export2.csv"
ok "export, import into a new store, export again: the same" cmp -s "$T/export.csv" "$T/export2.csv"
is "export has a header and a line per entry" "$(head -1 "$T/export.csv")" "address,stream,partner,sender,state,time,reason,source,segment,expires,ip,user_agent,cap,note,requested,requested_source,requested_ip,requested_user_agent"

# --- one address twice in a file: which line wins (README) ---------------
cat >"$T/twice.csv" <<'EOF'
address,stream,state,time,source
tw1@example.com,offers,optin,2026-01-01T00:00:00Z,x
tw1@example.com,offers,optout,2026-01-01T00:00:00Z,x
tw2@example.com,offers,optout,2026-01-01T00:00:00Z,x
tw2@example.com,offers,optin,2026-01-01T00:00:00Z,x
tw3@example.com,offers,optin,2026-01-01T00:00:00Z,x
tw3@example.com,offers,confirmed,2026-01-01T00:00:00Z,x
tw4@example.com,,suppressed,2026-01-01T00:00:00Z,x
tw4@example.com,,optout,2026-01-01T00:00:00Z,x
tw5@example.com,offers,optout,2026-01-02T00:00:00Z,x
tw5@example.com,offers,optin,2026-01-03T00:00:00Z,x
tw6@example.com,offers,optin,2026-01-03T00:00:00Z,x
tw6@example.com,offers,optout,2026-01-02T00:00:00Z,x
tw7@example.com,offers,optin,2026-01-03T00:00:00Z,x
tw7@example.com,offers,optin,2026-01-03T00:00:00Z,x
EOF
cat >"$T/twice2.csv" <<'EOF'
address,stream,state,time,source,expires,reason
tx1@example.com,offers,optout,2026-01-01T00:00:00Z,x,2026-09-01T00:00:00Z,
tx1@example.com,offers,optout,2026-01-01T00:00:00Z,x,,
tx2@example.com,offers,optout,2026-01-01T00:00:00Z,x,,
tx2@example.com,offers,optout,2026-01-01T00:00:00Z,x,2026-09-01T00:00:00Z,
tx3@example.com,,suppressed,2026-01-01T00:00:00Z,x,,hard-bounce
tx3@example.com,,suppressed,2026-01-01T00:00:00Z,x,,complaint
tx4@example.com,,suppressed,2026-01-01T00:00:00Z,x,,complaint
tx4@example.com,,suppressed,2026-01-01T00:00:00Z,x,,hard-bounce
EOF
$OG import "$T/twice2.csv" >/dev/null 2>&1
$OG import "$T/twice.csv" >/dev/null 2>&1
$OG export >"$T/twice.out"
st() { grep "^$1@" "$T/twice.out" | cut -d, -f5 | tr '\n' ' '; }
is "equal times: an opt-out after an opt-in wins" "$(st tw1)" "optout "
is "equal times: an opt-out before an opt-in wins" "$(st tw2)" "optout "
is "equal times, two opt-ins: the first wins" "$(st tw3)" "optin "
is "equal times: a suppression wins over an opt-out after it" "$(st tw4)" "suppressed "
is "the newer time wins: a later opt-in with proof" "$(st tw5)" "optin "
$OG export >"$T/twice2.out" 2>/dev/null
st2() { grep "^$1@" "$T/twice2.out" | cut -d, -f5,7,10 | tr '\n' ' '; }
is "equal times: an opt-out for good after a temporary one wins" "$(st2 tx1)" "optout,, "
is "equal times: an opt-out for good before a temporary one wins" "$(st2 tx2)" "optout,, "
is "equal times: a hard bounce before a complaint wins" "$(st2 tx3)" "suppressed,hard-bounce, "
is "equal times: a hard bounce after a complaint wins" "$(st2 tx4)" "suppressed,hard-bounce, "
is "the newer time wins: an older opt-out after it is skipped" "$(st tw6)" "optin "
like "a skipped line says as new or newer, and why" "$(cat "$T/twice.csv.warnings")" \
    "5: tw2@example.com: not imported: the store has an entry for this scope as new or newer (an earlier line of this file counts*7: tw3@example.com: not imported: *13: tw6@example.com: not imported: *"

# --- day one: the old system's unsubscribes, then its bounces -------------
# Separate exports, imported one after the other.  A hard bounce (or a
# manual "never mail") older than an opt-out still stops transactional
# mail, as it does when the bounces go in first: the file order must not
# decide.  The opt-out stays underneath and comes back on unsuppress.
cat >"$T/unsubs.csv" <<'EOF'
address,stream,state,time,source
ub1@example.com,,optout,2026-03-01T00:00:00Z,old-esp
ub2@example.com,,optout,2026-03-01T00:00:00Z,old-esp
ub4@example.com,,optout,2026-03-01T00:00:00Z,old-esp
EOF
cat >"$T/spam.csv" <<'EOF'
address,state,time,reason
ub3@example.com,suppressed,2026-03-01T00:00:00Z,complaint
EOF
cat >"$T/bounces.csv" <<'EOF'
address,state,time,reason
ub1@example.com,suppressed,2026-02-01T00:00:00Z,hard-bounce
ub2@example.com,suppressed,2026-02-01T00:00:00Z,manual
ub3@example.com,suppressed,2026-02-01T00:00:00Z,hard-bounce
ub4@example.com,suppressed,2026-02-01T00:00:00Z,complaint
EOF
$OG import "$T/unsubs.csv" >/dev/null 2>&1
$OG import "$T/spam.csv" >/dev/null 2>&1
$OG --json import "$T/bounces.csv" >"$T/bounces.out" 2>&1
$OG status ub1@example.com --stream receipts >"$T/ub1"
is "unsubscribes, then an older hard bounce: no transactional mail" "$?" 1
like "... refused as hard-bounced" "$(cat "$T/ub1")" '*hard-bounced on 2026-02-01*'
$OG status ub2@example.com --stream receipts >/dev/null
is "... an older manual suppression: no transactional mail" "$?" 1
$OG status ub3@example.com --stream receipts >/dev/null
is "... an older hard bounce under a newer complaint: no transactional mail" "$?" 1
like "... 3 in; an older complaint (marketing only, as the opt-out) skipped" \
    "$(cat "$T/bounces.out")" '*"imported":3,"unchanged":0,"skipped":1,*'
$OG --json import "$T/bounces.csv" >"$T/bounces2.out" 2>&1
like "... the bounces again: nothing imported" "$(cat "$T/bounces2.out")" '*"imported":0,*'
$OG --json import "$T/unsubs.csv" >"$T/unsubs2.out" 2>&1
like "... the unsubscribes again: unchanged" "$(cat "$T/unsubs2.out")" '*"imported":0,"unchanged":3,*'
$OG unsuppress ub1@example.com --all >/dev/null
$OG status ub1@example.com --stream newsletter >"$T/ub1"
is "... unsuppressed: the newer opt-out is back" "$?" 1
like "... as an opt-out" "$(cat "$T/ub1")" '*unsubscribed from all streams on 2026-03-01*'

# --- erased, then back by her own opt-in: an old list does not sign her up --
$OG optin era@example.com --stream offers --source form >/dev/null
$OG optout era@example.com --stream newsletter >/dev/null
OPTGATE_NOW=1780272100 $OG erase era@example.com >/dev/null
OPTGATE_NOW=1780272200 $OG optin era@example.com --stream offers --source again >/dev/null
printf 'address,stream,state,time,source\nera@example.com,newsletter,confirmed,2026-01-01T00:00:00Z,old-list\nera@example.com,newsletter,confirmed,,\n' >"$T/era.csv"
OPTGATE_NOW=1780272300 $OG --json import "$T/era.csv" >"$T/era.out" 2>&1
is "erased and back: opt-ins dated before the erasure or without proof skipped" \
    "$(n_of skipped "$T/era.out")" 2
like "... says why" "$(cat "$T/era.csv.warnings")" \
    "2: era@example.com: not imported: the address was erased*3: era@example.com: not imported: the address was erased*"
OPTGATE_NOW=1780272300 $OG status era@example.com --stream newsletter >/dev/null
is "... and she gets no newsletter" "$?" 1
printf 'address,stream,state,time,source\nera@example.com,newsletter,confirmed,2026-06-01T00:04:00Z,resubscribed\n' >"$T/era2.csv"
OPTGATE_NOW=1780272300 $OG --json import "$T/era2.csv" >"$T/era2.out" 2>&1
is "... an opt-in after the erasure, with proof, goes in" "$(n_of imported "$T/era2.out")" 1

# --- audit lists events in the order recorded, each with its own time -------
$OG optout ord@example.com --stream newsletter >/dev/null
printf 'address,stream,state,time,source\nord@example.com,offers,optin,2026-01-01T00:00:00Z,old-form\n' >"$T/ord.csv"
$OG import "$T/ord.csv" >/dev/null 2>&1
out=$($OG audit ord@example.com)
like "audit: says the order is the order recorded" "$(echo "$out" | head -1)" \
    "*: 2 events, in the order recorded"
like "... the opt-out recorded first, then the imported, older-dated opt-in" \
    "$(echo "$out" | sed 1d | tr '\n' ' ')" \
    "2026-06-01T00:00:00Z*optout*2026-01-01T00:00:00Z*optin*source=old-form*"

# --- a NUL byte: rejected, and not blamed on Latin-1 -----------------------
printf 'address,state\nnul@example.com,opt\000out\n' >"$T/nul.csv"
$OG import "$T/nul.csv" >/dev/null 2>&1
like "a NUL byte: the line rejected, saying so" "$(cat "$T/nul.csv.rejects")" \
    '2: a NUL byte in column state (offset 3): not a text file*: nul@example.com,opt?x00out'

# --- two files joined (cat a.csv b.csv): b's BOM starts a line -----------
printf '\357\273\277address,stream,state,time,source\nbom1@example.com,offers,optout,2026-01-01T00:00:00Z,x\n' >"$T/joined.csv"
printf '\357\273\277bom2@example.com,offers,optout,2026-01-01T00:00:00Z,x\n' >>"$T/joined.csv"
$OG --json import "$T/joined.csv" >"$T/joined.out" 2>&1
is "a BOM inside the file: that line rejected" "$(n_of rejected "$T/joined.out")" 1
like "... says why" "$(cat "$T/joined.csv.rejects")" "3: a byte order mark (U+FEFF) inside the line*"
$OG export | grep -q 'bom2@'
is "... and no address with an invisible U+FEFF is stored" "$?" 1

# --- a line in, its cap not: the summary counts it and names the file -----
printf 'address,stream,state,time,source,cap\ncw@example.com,newsletter,confirmed,2026-01-02T00:00:00Z,x,1/7d\n' >"$T/cap1.csv"
$OG import "$T/cap1.csv" >/dev/null 2>&1
printf 'address,stream,state,time,source,cap\ncw@example.com,newsletter,confirmed,2026-01-02T00:00:00Z,x,2/7d\ncw@example.com,offers,optin,2026-01-03T00:00:00Z,x,\n' >"$T/cap2.csv"
$OG import "$T/cap2.csv" >"$T/cap2.out" 2>&1
like "another cap in the file: the line's warning is in the warnings file" \
    "$(cat "$T/cap2.csv.warnings")" "2: cw@example.com: cap not imported*"
like "... and the summary counts it and names the file" "$(cat "$T/cap2.out")" \
    "*1 imported, 1 unchanged, 0 skipped, 0 rejected, 1 warned*warnings and skipped lines: $T/cap2.csv.warnings*"

# --- Excel's "CSV" on Windows (Windows-1252): the hint converts it right ---
# 0x92 is a right single quote and 0xE3 an a with tilde; converted as
# Latin-1, 0x92 became an invisible control character in the proof.
printf 'address,stream,state,time,source\r\n' >"$T/win.csv"
printf 'jo\343o@example.com,newsletter,optout,2026-01-01T00:00:00Z,O\222Brien form\r\n' >>"$T/win.csv"
$OG import "$T/win.csv" >/dev/null 2>&1
cmd=$(sed -n 's/.*convert the file with \(iconv [^)]*\)).*/\1/p' "$T/win.csv.rejects")
like "Windows-1252 file: rejected with how to convert it" "$cmd" "iconv -f *-t utf-8"
$cmd "$T/win.csv" >"$T/win-utf8.csv"
$OG --json import "$T/win-utf8.csv" >"$T/win.out" 2>&1
is "... converted as told: imported" "$(n_of imported "$T/win.out")" 1
like "... the proof reads as written (a quote, no control character)" \
    "$($OG export | grep '^jo')" \
    "jo$(printf '\303\243')o@example.com,newsletter,,,optout,*,O$(printf '\342\200\231')Brien form,*"

# --- invisible characters pasted with an address: rejected, not stored -----
# A spreadsheet filled from a web page: a no-break space before the
# address, a zero-width space or a soft hyphen in it.  Stored, the opt-out
# named a mailbox no mail goes to, and she kept getting the newsletter.
printf 'address,stream,state,time,source\n' >"$T/inv.csv"
printf '\302\240inv1@example.com,newsletter,optout,2026-01-01T00:00:00Z,x\n' >>"$T/inv.csv"
printf 'inv2\342\200\213@example.com,newsletter,optout,2026-01-01T00:00:00Z,x\n' >>"$T/inv.csv"
printf 'in\302\255v3@example.com,newsletter,optout,2026-01-01T00:00:00Z,x\n' >>"$T/inv.csv"
printf 'inv4@example.com,newsletter,optout,2026-01-01T00:00:00Z,x\n' >>"$T/inv.csv"
$OG --json import "$T/inv.csv" >"$T/inv.out" 2>&1
is "invisible characters in the address: those lines rejected" "$(n_of rejected "$T/inv.out")" 3
is "... the clean line imported" "$(n_of imported "$T/inv.out")" 1
like "... each named with its code point" "$(tr '\n' ' ' <"$T/inv.csv.rejects")" \
    "2: invisible character U+00A0 in the address (*remove it): ?*3: invisible character U+200B in the address*4: invisible character U+00AD in the address*"
$OG export | grep -c '^[^,]*inv[0-9]' >"$T/inv.n"
is "... no entry stored for a look-alike address (only inv4's)" "$(cat "$T/inv.n")" 1
$OG status inv4@example.com --stream newsletter >/dev/null
is "... the clean line's opt-out holds" "$?" 1

# --- progress: a bar on a terminal only ----------------------------------
awk 'BEGIN { print "address,stream,state,time"
	for (i = 1; i <= 20000; i++) printf "p%d@example.com,newsletter,confirmed,2026-01-01T00:00:00Z\n", i }' >"$T/p.csv"
script -qec "$OG import $T/p.csv" /dev/null >"$T/tty.out" 2>&1
like "on a terminal: a progress bar with rate and ETA" "$(tr '\r' '\n' <"$T/tty.out")" '*lines/s ETA *'
$OG import "$T/p.csv" >"$T/notty.out" 2>"$T/notty.err"
is "not a terminal: no progress bar" "$(grep -c 'ETA' "$T/notty.err" "$T/notty.out" | awk -F: '{s += $2} END {print s}')" 0

# --- one address whose record is full: that line skipped, the rest in ------
# A record holds 64 entries; an opt-in for a 65th scope does not fit.
# Without a way around it, the whole batch failed ("store write failed
# near line N: input too large", nothing of it imported, again on every
# rerun), the opt-outs of other people in it too.
{
	echo 'address,partner,state,time,source'
	echo 'full-a@example.com,,optout,2026-01-01T00:00:00Z,x'
	i=1
	while [ $i -le 66 ]; do
		echo "full@example.com,p$i,optin,2026-01-02T00:00:00Z,form"
		i=$((i + 1))
	done
	echo 'full-z@example.com,,optout,2026-01-01T00:00:00Z,x'
} >"$T/full.csv"
$OG --json import "$T/full.csv" >"$T/full.out" 2>"$T/full.err"
is "a full record: the import completes" "$?" 0
is "... every line that fits is in" "$(n_of imported "$T/full.out")" 66
is "... the two that do not fit are skipped" "$(n_of skipped "$T/full.out")" 2
like "... each named with its line and why" \
    "$(grep 'record is full' "$T/full.csv.warnings" | tr '\n' ' ')" \
    "67: full@example.com: not imported: the address's record is full (64 entries*68: full@example.com: not imported*"
like "... the opt-out of the address after it is in" \
    "$($OG status full-z@example.com)" "*all*optout*"
$OG --json import "$T/full.csv" >"$T/full2.out" 2>&1
is "... a rerun: the rest unchanged" "$(n_of unchanged "$T/full2.out")" 66
is "... the two skipped again" "$(n_of skipped "$T/full2.out")" 2

# proof text as the form gave it: accents read as written in audit and
# status; a direction override (U+202E) and a no-break space, which would
# change or hide what the admin reads, are shown as their bytes
printf 'address,stream,state,time,source,user_agent\nluz@example.com,newsletter,confirmed,2026-01-05T00:00:00Z,"formul\303\241rio ""s\303\243o jo\303\243o""",Mozilla\342\200\256x\302\240y\n' >"$T/utf8.csv"
$OG import "$T/utf8.csv" >/dev/null 2>&1
like "audit shows UTF-8 proof as written" "$($OG audit luz@example.com)" \
    "$(printf '*source=formul\303\241rio "s\303\243o jo\303\243o" user_agent=*')"
like "... a direction override and a no-break space as bytes" \
    "$($OG audit luz@example.com)" '*user_agent=Mozilla?xe2?x80?xaex?xc2?xa0y*'

# one file for both lists (--rejects out --warnings out): every rejected
# line and every warning is in it, none written over by the other
printf 'address,stream,state,time\none-a@gmial.com,newsletter,optout,2026-01-05T00:00:00Z\nnot-an-address,newsletter,optout,2026-01-05T00:00:00Z\none-b@yaho.com,newsletter,optout,2026-01-05T00:00:00Z\nalso@@bad,newsletter,optout,2026-01-05T00:00:00Z\n' >"$T/one.csv"
$OG import "$T/one.csv" --rejects "$T/one.out" --warnings "$T/one.out" >/dev/null 2>&1
is "one file for rejects and warnings: the import completes" "$?" 0
is "... it has the two rejected lines and the two warnings, in file order" \
    "$(cut -d: -f1 "$T/one.out" | tr '\n' ' ')" "2 3 4 5 "
like "... a rejected line as the rejects file has it" \
    "$(grep '^3: ' "$T/one.out")" "3: invalid address*: not-an-address,newsletter,optout,*"

# --- segments are measured as the store keeps them ----------------------
# Blanks inside a segment are part of it (33 bytes here, one over the
# limit): the line was counted imported and the store dropped the
# segment.  Blanks around one are not ("  gold  " is gold).
printf 'address,stream,state,time,source,segment\n%s\n%s\n' \
    'sega@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,gold customers of the spring 2026' \
    'segb@example.com,newsletter,confirmed,2026-01-02T03:04:05Z,form,  gold  |vip' >"$T/seg.csv"
$OG import "$T/seg.csv" --rejects "$T/seg.rej" >/dev/null 2>&1
is "segment of 33 bytes with blanks inside: import exits 0" "$?" 0
like "... and rejects its line" "$(cat "$T/seg.rej" 2>/dev/null)" \
    '2: bad segment list (at most 8 segments of 1 to 32 bytes*'
like "blanks around a segment are trimmed: gold and vip kept" \
    "$($OG status segb@example.com 2>&1)" "*segments: gold vip*"

# A store that fills up mid-import: the lines said not imported are the
# lines read less those imported, not their changes (a confirmed line
# with its request and cap is three: the count was three times too big).
mkdir "$T/small"
sed "s#^path = .*#path = $T/small/store\nmap_size = 1M#; s#^file = .*#file = $T/small/keys#; s#^consent = confirmed#&\ncaps = 2/7d#" \
    "$T/og.conf" >"$T/small.conf"
SM="$BIN/optgate -c $T/small.conf"
$SM init >/dev/null 2>&1
awk 'BEGIN { print "address,stream,state,time,source,cap,requested,requested_source,requested_ip"
	for (i = 1; i <= 20000; i++) printf "fill%d@example.com,newsletter,confirmed,2026-05-01T00:00:00Z,click,3/7d,2026-04-01T00:00:00Z,form,192.0.2.1\n", i }' >"$T/fill.csv"
$SM import "$T/fill.csv" --batch 100 >"$T/fill.out" 2>"$T/fill.err"
is "a store that fills up: the import exits 4" "$?" 4
read_n=$(sed -n 's/^import [^:]*: \([0-9]*\) lines: \([0-9]*\) imported.*/\1 \2/p' "$T/fill.out")
lost=$(sed -n 's/.*the last \([0-9]*\) lines read were not imported.*/\1/p' "$T/fill.err")
is "... the lines said not imported are those read less those imported ($read_n)" \
    "$lost" "$((${read_n% *} - ${read_n#* }))"

$OG verify >/dev/null
is "store verifies after all of it" "$?" 0
done_testing
