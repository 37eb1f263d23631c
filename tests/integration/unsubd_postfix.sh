#!/bin/sh
# End to end, set up as the README (optgate-unsubd section) says: optgate-unsubd behind
# nginx (conf/nginx-unsubd.conf) as https://unsub.example.com, a real
# Postfix with optgate-milter.  A newsletter is delivered with a
# List-Unsubscribe URL; the URL from the delivered copy is POSTed as Gmail
# does (RFC 8058); the next message to that person is refused.  Prints the
# time from the POST's 200 to the first refusal (target under 1 s).
# Ports: Postfix 25400/25401, nginx 25402/25403, milter 18095,
# optgate-unsubd 18096.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
. "$TOP/tests/lib/postfix.sh"

if [ ! -x "$BIN/optgate-milter" ]; then
	fail "optgate-milter built"
	done_testing
	exit 1
fi
trap ud_cleanup EXIT INT TERM
ud_setup 18096 "trusted_proxy = 127.0.0.1" ||
    { fail "setup"; done_testing; exit 1; }
sed -i "s|^unsubscribe = $UD_URL/u/%t|unsubscribe = https://unsub.example.com:25402/u/%t|" \
    "$CONF"
printf '[milter]\nsocket = inet:18095@127.0.0.1\n' >>"$CONF"
A=assinante@example.com.br
ud_optin $A news
ok "optgate-unsubd starts" ud_start
ok "nginx starts as unsub.example.com" ud_nginx_start 25402 25403
"$BIN/optgate-milter" -f -c "$CONF" >>"$UD_DIR/milter.log" 2>&1 &
UD_PIDS="$UD_PIDS $!"
i=0
while [ $i -lt 100 ] && ! ss -ltn | grep -q '127.0.0.1:18095 '; do
	sleep 0.05
	i=$((i + 1))
done
ok "optgate-milter listens" sh -c "ss -ltn | grep -q '127.0.0.1:18095 '"
# postfix.sh takes the EXIT trap at pf_start, also when it fails: before
# that, or the daemons above outlive a failed start (holding the tests'
# lock, which they inherited).
pf_cleanup_add ud_cleanup
pf_start 25400 25401 smtpd_milters=inet:127.0.0.1:18095 \
    milter_default_action=tempfail milter_protocol=6 || {
	fail "postfix starts"
	done_testing
	exit 1
}

msg() {
	{
		printf 'From: Loja <news@example.com>\r\nTo: <%s>\r\n' $A
		printf 'Subject: Ofertas %s\r\nMessage-ID: <%s.%s@example.com>\r\n' \
		    "$1" "$1" "$$"
		printf 'X-Optgate-Stream: news\r\n\r\nOla.\r\n'
	} >"$UD_DIR/msg$1"
}
msg 1
like "first newsletter accepted" "$(pf_send news@example.com $A "$UD_DIR/msg1")" \
    "*DATA 250*"
pf_sink_wait 1 20
F=$(pf_sink_files | head -1)
URL=$(sed -n '/^List-Unsubscribe:/,/^[^ \t]/p' "$F" | tr -d '\r\n\t ' |
    sed -n 's/.*<\(http[^>]*\)>.*/\1/p')
like "delivered copy has the List-Unsubscribe URL" "$URL" \
    "https://unsub.example.com:25402/u/*"
ok "... and List-Unsubscribe-Post" \
    grep -q '^List-Unsubscribe-Post: List-Unsubscribe=One-Click' "$F"
like "the URL opens the page for the recipient" "$($UD_CURL "$URL")" \
    "*a\*\*\*\*\*e@example.com.br*"

# The click and the next message, timed in one process: the SMTP session
# of the next message is already at RCPT when the POST is made, so the
# time measured is from the 200 to Postfix's answer after DATA (where the
# milter decides a header stream).
R=$(python3 - "$URL" "$UD_NGX/cert.pem" $A <<'EOP'
import http.client, smtplib, socket, ssl, sys, time
url, cafile, rcpt = sys.argv[1:4]
host, rest = url.split("//", 1)[1].split("/", 1)
name, port = host.split(":")
ctx = ssl.create_default_context(cafile=cafile)

class Conn(http.client.HTTPSConnection):
    def connect(self):
        raw = socket.create_connection(("127.0.0.1", int(port)),
                                       source_address=("127.0.0.9", 0))
        self.sock = ctx.wrap_socket(raw, server_hostname=name)

msg = ("From: Loja <news@example.com>\r\nTo: <%s>\r\n"
       "Subject: Ofertas 2\r\nMessage-ID: <n2.%d@example.com>\r\n"
       "X-Optgate-Stream: news\r\n\r\nOla.\r\n" % (rcpt, time.time()))
s = smtplib.SMTP("127.0.0.1", 25400, timeout=20)
s.ehlo("client.example.com")
s.mail("news@example.com")
s.rcpt(rcpt)
c = Conn(name, int(port), timeout=10)
c.request("POST", "/" + rest, body="List-Unsubscribe=One-Click", headers={
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "Mozilla/5.0 (compatible; Google-One-Click-Unsubscribe)"})
code = c.getresponse().status
t200 = time.monotonic()
try:
    code_, text = s.data(msg)  # the final reply is returned, not raised
    reply = "%d %s" % (code_, text.decode(errors="replace"))
except smtplib.SMTPDataError as e:
    reply = "%d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace"))
tref = time.monotonic()
s.quit()
print("post %d" % code)
print("data %s" % reply.split()[0])
print("ms %d" % ((tref - t200) * 1000))
EOP
)
is "POST as Gmail does: 200" "$(echo "$R" | sed -n 's/^post //p')" 200
is "the next newsletter (already at RCPT) is refused" \
    "$(echo "$R" | sed -n 's/^data //p')" 550
MS=$(echo "$R" | sed -n 's/^ms //p')
echo "# time from the POST's 200 to Postfix's refusal: ${MS:-?} ms"
msg 3
like "and every later one" "$(pf_send news@example.com $A "$UD_DIR/msg3")" \
    "*DATA 550 5.7.1*"
# "Fewer mails": one a week, chosen on the page, then two newsletters.
B=leitora@example.com.br
ud_optin $B news
TB=$(ud_token $B news)
P=$($UD_CURL "https://unsub.example.com:25402/u/$TB")
CSRF=$(printf '%s' "$P" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
TS=$(printf '%s' "$P" | sed -n 's/.*name="ts" value="\([^"]*\)".*/\1/p')
is "choosing one a week on the page" "$($UD_CURL -o /dev/null -w '%{http_code}' \
    -d "$(ud_form "$P")&s=news&c.news=1%2F7d&action=save" \
    "https://unsub.example.com:25402/u/$TB/prefs")" 200
mb() {
	{
		printf 'From: Loja <news@example.com>\r\nTo: <%s>\r\n' $B
		printf 'Subject: Semana %s\r\nMessage-ID: <b%s.%s@example.com>\r\n' \
		    "$1" "$1" "$$"
		printf 'X-Optgate-Stream: news\r\n\r\nOla.\r\n'
	} >"$UD_DIR/mb$1"
}
mb 1
like "first newsletter of the week accepted" \
    "$(pf_send news@example.com $B "$UD_DIR/mb1")" "*DATA 250*"
mb 2
like "second one that week refused by the person's own cap" \
    "$(pf_send news@example.com $B "$UD_DIR/mb2")" "*DATA 550*"
like "Postfix logged the refusal" "$(pf_log)" "*milter-reject*"
like "optgate-unsubd logged the click with the client's address" \
    "$(cat "$UD_DIR/log")" "*unsubscribe: to=<a\*\*\*\*\*e@example.com.br>*client=\[127.0.0.9\]*"
done_testing
