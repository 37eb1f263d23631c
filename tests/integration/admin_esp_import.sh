#!/bin/sh
# README "Moving from an ESP": each recipe, as README gives it, run on an
# export shaped as the ESP writes it (its header, quoting, CRLF, a BOM),
# then imported; each person ends as the list said: opted out of the
# right scope, or suppressed with the right reason.  The recipes are read
# from README.md, so the doc and this test cannot drift apart.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"

for t in mlr jq; do
	if ! command -v $t >/dev/null 2>&1; then
		pass "# SKIP $t missing (tools/install-deps.sh installs it)"
		done_testing
		exit 0
	fi
done
T=$(mktemp -d /tmp/og-esp-import.XXXXXX)
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
sender = news.example.com
[stream promo]
match = header:X-Optgate-Stream=promo
class = marketing
consent = none
[stream receipts]
match = header:X-Optgate-Stream=receipts
class = transactional
sender = news.example.com
EOF
OG="$BIN/optgate -c $T/og.conf"
OPTGATE_NOW=1780272000 # 2026-06-01T00:00:00Z
export OPTGATE_NOW
$OG init >/dev/null 2>&1

# recipe NAME: the README's recipe NAME as a shell script: its lines
# between "<!-- recipe NAME -->" and "<!-- /recipe -->", unindented, with
# the download (aws, curl: the test has the file already) left out and
# optgate the one built here.
recipe() {
	sed -n "/^<!-- recipe $1 -->\$/,/^<!-- \\/recipe -->\$/p" "$TOP/README.md" |
	    grep -v '^<!--' | sed 's/^    //' |
	    awk '/^(aws|curl) / { skip = 1 } skip { if (!/\\$/) skip = 0; next } { print }' |
	    sed "s#^optgate #$OG #"
}
# run NAME: the recipe in $T/NAME, where its sample export is
run() {
	steps=$(recipe "$1")
	case "$steps" in
	*"$OG import"*) ;;
	*)
		fail "$1: README recipe found" "no recipe $1 in README.md"
		return
		;;
	esac
	(cd "$T/$1" && set -e && eval "$steps") >"$T/$1.out" 2>&1
	is "$1: README's recipe runs (out: $(tr '\n' ' ' <"$T/$1.out" | cut -c1-600))" "$?" 0
}
# refused ADDR STREAM GLOB: mail of STREAM to ADDR is refused, for GLOB
refused() {
	out=$($OG status "$1" --stream "$2" 2>&1)
	is "$1 ($2): refused" "$?" 1
	like "$1 ($2): $3" "$out" "$3"
}
accepted() {
	out=$($OG status "$1" --stream "$2" 2>&1)
	is "$1 ($2): accepted (out: $out)" "$?" 0
}
rejects() { # NAME: lines in the reject files of its imports
	cat "$T/$1"/*.rejects 2>/dev/null | wc -l
}
crlf() { sed 's/$/\r/'; }

# --- Mailchimp: a zip of three CSVs, with a BOM and CRLF (as re-saved by
# Excel's "CSV UTF-8"), merge fields with commas and quotes ------------
mkdir "$T/mailchimp"
{
	printf '\357\273\277'
	crlf <<'CSV'
"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS
ana@example.com,Ana,"Silva, Jr.",2,"2024-01-05 09:00:00",203.0.113.5,"2024-01-05 09:03:00",203.0.113.5,,,,,,BR,SP,"2024-02-03 10:00:00","Spring sale, ""last call""",abc123,NORMAL,,111,aaa,"note, with comma","News, VIP"
bea@example.com,Bea,,2,,,"2023-11-01 12:00:00",,,,,,,,,"2024-03-01 08:30:00",,,OTHER,"too many mails",112,aab,,
CSV
} >"$T/mailchimp/unsubscribed.csv"
{
	printf '\357\273\277'
	crlf <<'CSV'
"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LEID,EUID,NOTES,TAGS
cid@example.com,Cid,,1,,,"2023-05-05 05:05:05",,,,,,,,,"2024-04-04 04:04:04","April, news",def456,113,aac,,
CSV
} >"$T/mailchimp/cleaned.csv"
{
	printf '\357\273\277'
	crlf <<'CSV'
"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS
dia@example.com,Dia,"O'Neil, ""Dee""",4,"2024-01-10 10:00:00",198.51.100.7,"2024-01-10 10:05:00",198.51.100.8,,,,,,,,"2024-01-10 10:05:00",114,aad,,
eli@example.com,Eli,,3,"2024-01-11 11:00:00",198.51.100.9,,,,,,,,,,"2024-01-11 11:00:00",115,aae,,
fay@example.com,Fay,,3,,,"2024-01-12 12:00:00",,,,,,,,,"2024-01-12 12:00:00",116,aaf,,
kim@example.com,Kim,,2,,,"2024-01-13 13:00:00",,,,,,,,,"2024-01-13 13:00:00",117,aag,,
mia@example.com,Mia,,2,"2024-01-14 14:00:09",198.51.100.10,"2024-01-14 14:00:00",198.51.100.11,,,,,,,,"2024-01-14 14:00:09",118,aah,,
CSV
} >"$T/mailchimp/subscribed.csv"
# kim unsubscribed before, through the old system's optgate import; then
# the account added her to Mailchimp again (no OPTIN_TIME): no sign-up.
printf 'address,state,stream,time\nkim@example.com,optout,newsletter,2023-06-01T00:00:00Z\n' \
    >"$T/kim.csv"
$OG import "$T/kim.csv" >/dev/null 2>&1
run mailchimp
is "mailchimp: nothing rejected" "$(rejects mailchimp)" 0
refused ana@example.com newsletter '*unsubscribed from newsletter on 2024-02-03*'
accepted ana@example.com receipts
like "ana: the campaign title with its comma and quotes kept as proof" \
    "$($OG audit ana@example.com)" '*source=mailchimp: Spring sale, "last call"*'
refused bea@example.com newsletter '*unsubscribed from newsletter on 2024-03-01*'
accepted bea@example.com promo
refused cid@example.com receipts '*hard-bounce*2024-04-04*'
accepted dia@example.com newsletter
# dia: the form (OPTIN_*) then the link (CONFIRM_*): both halves kept,
# each with its own time and IP, as optgate's own double opt-in has them
out=$($OG audit dia@example.com)
like "dia: 2 events, the request then its confirmation (out: $out)" \
    "$out" '*: 2 events,*'
like "dia: the request dated at the form, with the form's IP" \
    "$out" '*2024-01-10T10:00:00Z*none -> pending via import*source=mailchimp ip=198.51.100.7*'
like "dia: the confirmation dated at the click, with the click's IP" \
    "$out" '*2024-01-10T10:05:00Z*pending -> confirmed via import*source=mailchimp ip=198.51.100.8*'
like "dia: export gives both halves back" \
    "$($OG export --stream newsletter)" \
    '*dia@example.com,newsletter,,,confirmed,2024-01-10T10:05:00Z,,mailchimp,,,198.51.100.8,,,,2024-01-10T10:00:00Z,mailchimp,198.51.100.7,*'
# mia: the form dated after the link is no request of it: the line is
# confirmed as before, not rejected for its requested after its time
accepted mia@example.com newsletter
like "mia: a confirmation alone, dated at the click" \
    "$($OG audit mia@example.com)" '*1 event*2024-01-14T14:00:00Z*none -> confirmed*ip=198.51.100.11*'
refused eli@example.com newsletter '*'
like "eli: a single opt-in (no confirmation), dated at the form" \
    "$($OG audit eli@example.com)" '*2024-01-11T11:00:00Z*-> optin*ip=198.51.100.9*'
like "fay: added by the account: a single opt-in dated when added" \
    "$($OG audit fay@example.com)" '*2024-01-12T12:00:00Z*-> optin*'
refused kim@example.com newsletter '*unsubscribed from newsletter on 2023-06-01*'

# --- SendGrid: one CSV per suppression list, created in epoch seconds ---
mkdir "$T/sendgrid"
cat >"$T/sendgrid/bounces.csv" <<'CSV'
email,created,reason,status
gus@example.com,1706954400,"550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces, learn more at https://support.google.com/mail/?p=NoSuchUser",5.1.1
hal@example.com,1706954401,"452 4.2.2 The email account that you tried to reach is over quota.",4.2.2
CSV
cat >"$T/sendgrid/invalid_emails.csv" <<'CSV'
email,created,reason
ian@example.com,1706954402,"Mail domain mentioned in email address is unknown"
CSV
cat >"$T/sendgrid/spam_reports.csv" <<'CSV'
email,created,ip
jo@example.com,1706954403,192.0.2.10
CSV
cat >"$T/sendgrid/global_unsubscribes.csv" <<'CSV'
email,created
kai@example.com,1706954404
CSV
cat >"$T/sendgrid/blocks.csv" <<'CSV'
email,created,reason,status
lee@example.com,1706954405,"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",5.7.1
CSV
run sendgrid
is "sendgrid: nothing rejected" "$(rejects sendgrid)" 0
refused gus@example.com receipts '*hard-bounce*2024-02-03*'
accepted hal@example.com receipts
$OG audit hal@example.com >/dev/null 2>&1
is "sendgrid: a 4.x.x bounce is not imported" "$?" 1
refused ian@example.com receipts '*hard-bounce*'
refused jo@example.com promo '*complaint*'
accepted jo@example.com receipts
refused kai@example.com newsletter '*unsubscribed*'
refused kai@example.com promo '*unsubscribed*'
accepted kai@example.com receipts
$OG audit lee@example.com >/dev/null 2>&1
is "sendgrid: a block is not imported" "$?" 1

# --- Mailgun: RFC 2822 dates, UTC or an offset, a one-digit day --------
mkdir "$T/mailgun"
crlf >"$T/mailgun/bounces.csv" <<'CSV'
address,code,error,created_at
max@example.com,550,"5.1.1 The email account that you tried to reach does not exist, sorry","Fri, 21 Oct 2011 11:02:55 UTC"
ned@example.com,550,"No such user","Mon, 6 Jan 2025 09:03:04 -0300"
CSV
crlf >"$T/mailgun/complaints.csv" <<'CSV'
address,created_at
oto@example.com,"Tue, 14 Nov 2023 22:13:20 GMT"
CSV
crlf >"$T/mailgun/unsubscribes.csv" <<'CSV'
address,tags,created_at
pia@example.com,*,"Wed, 15 Nov 2023 08:00:00 +0100"
quy@example.com,weekly,"Thu, 16 Nov 2023 08:00:00 UTC"
CSV
run mailgun
is "mailgun: nothing rejected" "$(rejects mailgun)" 0
refused max@example.com receipts '*hard-bounce*2011-10-21*'
like "ned: the -0300 date converted to UTC" "$($OG audit ned@example.com)" '*2025-01-06T12:03:04Z*'
refused oto@example.com promo '*complaint*'
refused pia@example.com newsletter '*unsubscribed*news.example.com*'
accepted pia@example.com promo
like "pia: dated in UTC" "$($OG audit pia@example.com)" '*2023-11-15T07:00:00Z*'
refused quy@example.com newsletter '*unsubscribed*news.example.com*'

# --- Amazon SES: the CLI's JSON, epoch or ISO 8601 times ---------------
mkdir "$T/ses" "$T/bin"
# One call of the CLI gives one page and a NextToken (it does not page
# through this list itself): the recipe asks again with it.  Its first
# call (the download) is left out; the next page comes from an aws that
# answers only that question.
cat >"$T/ses/ses-1.json" <<'JSON'
{
    "NextToken": "T2",
    "SuppressedDestinationSummaries": [
        {
            "EmailAddress": "rui@example.com",
            "Reason": "BOUNCE",
            "LastUpdateTime": 1706954400.123
        },
        {
            "EmailAddress": "sam@example.com",
            "Reason": "COMPLAINT",
            "LastUpdateTime": "2024-02-03T10:00:00.780000+00:00"
        }
    ]
}
JSON
cat >"$T/bin/aws" <<'EOF'
#!/bin/sh
[ "$*" = "sesv2 list-suppressed-destinations --next-token T2 --output json" ] || {
	echo "aws: unexpected call: $*" >&2
	exit 1
}
cat <<'JSON'
{
    "SuppressedDestinationSummaries": [
        {
            "EmailAddress": "ted@example.com",
            "Reason": "BOUNCE",
            "LastUpdateTime": 1706954400
        }
    ]
}
JSON
EOF
chmod 755 "$T/bin/aws"
PATH0=$PATH
PATH=$T/bin:$PATH
run ses
PATH=$PATH0
is "ses: nothing rejected" "$(rejects ses)" 0
refused rui@example.com receipts '*hard-bounce*2024-02-03*'
refused sam@example.com newsletter '*complaint*'
accepted sam@example.com receipts
refused ted@example.com receipts '*hard-bounce*2024-02-03*'

# --- Postmark: the suppressions dump --------------------------------------
mkdir "$T/postmark"
cat >"$T/postmark/postmark.json" <<'JSON'
{"Suppressions":[
 {"EmailAddress":"tom@example.com","SuppressionReason":"ManualSuppression","Origin":"Recipient","CreatedAt":"2019-12-17T08:58:33-05:00"},
 {"EmailAddress":"uma@example.com","SuppressionReason":"HardBounce","Origin":"Recipient","CreatedAt":"2019-12-17T08:58:33.123-05:00"},
 {"EmailAddress":"val@example.com","SuppressionReason":"SpamComplaint","Origin":"Recipient","CreatedAt":"2019-12-17T08:58:33-05:00"}
]}
JSON
run postmark
is "postmark: nothing rejected" "$(rejects postmark)" 0
refused tom@example.com newsletter '*unsubscribed from newsletter on 2019-12-17*'
accepted tom@example.com promo
refused uma@example.com receipts '*hard-bounce*'
refused val@example.com promo '*complaint*'

# --- a plain list: CRLF, a blank line, stray spaces ---------------------
mkdir "$T/plain"
printf 'wil@example.com\r\n\r\n  xan@example.com \r\n' >"$T/plain/donotmail.txt"
run plain
is "plain: nothing rejected" "$(rejects plain)" 0
refused wil@example.com promo '*unsubscribed*'
refused xan@example.com newsletter '*unsubscribed*'

# No recipe made an opt-in of a stop: every address a suppression or
# unsubscribe list named is refused marketing mail.
bad=""
for a in ana bea cid gus ian jo kai max ned oto pia quy rui sam tom uma val wil xan; do
	$OG status "$a@example.com" --stream newsletter >/dev/null 2>&1
	[ $? -eq 1 ] || bad="$bad $a"
done
is "no stop list became an opt-in" "$bad" ""
done_testing
