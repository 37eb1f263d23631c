#!/bin/sh
# SPF in optgate-policyd against a real DNS server: dnsmasq on 127.0.0.53
# serving a test zone, the daemon in a mount namespace whose resolv.conf
# points there (tests/lib/dns.sh).  A stream with spf = reject requires
# that the sender domain's SPF record authorizes every [spf] egress
# address: pass, fail, softfail, none, a DNS timeout (tempfail, never a
# pass), hostile records (answered, never a crash or a hang), a helper
# that crashes, defer and warn modes, the cache and its TTL.
TOP=${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/tap.sh"
. "$TOP/tests/lib/policyd.sh"
. "$TOP/tests/lib/dns.sh"

pd_setup 10043
dns_init 127.0.0.53
dns_conf 'local-ttl=1800'
dns_conf 'server=/timeout.test/127.0.0.54'
dns_conf 'server=/slow.test/127.0.0.54'
dns_conf 'server=/ttl0.test/127.0.0.56'
dns_txt pass.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt partial.test 'v=spf1 ip4:203.0.113.5 -all'
dns_txt fail.test 'v=spf1 ip4:198.51.100.1 -all'
dns_txt soft.test 'v=spf1 ip4:198.51.100.1 ~all'
dns_txt neutral.test 'v=spf1 ?all'
dns_txt fresh.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt defer.test 'v=spf1 -all'
dns_txt deferbad.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 foo:bar -all'
dns_txt warn.test 'v=spf1 -all'
# Hostile records: macro expansions libspf2 mishandled in the past
# (CVE-2021-20314, the 2023 integer underflow), loops, too many lookups,
# huge expansions, bad syntax.
L=$(python3 -c "print('%{l}' * 200)")
D=$(python3 -c "print('%{d}.' * 60)")
dns_txt h1.test 'v=spf1 exists:%{d1r-}.x -all'
dns_txt h2.test 'v=spf1 exists:%{l4294967295r}.x -all'
dns_txt h3.test 'v=spf1 exists:%{ir+-.=_/,}.%{l0r}.%{d99999999999r} -all'
dns_txt h4.test "v=spf1 exists:$L -all"
dns_txt h5.test 'v=spf1 include:h6.test -all'
dns_txt h6.test 'v=spf1 include:h5.test -all'
dns_txt h7.test 'v=spf1 redirect=h7.test'
dns_txt h8.test 'v=spf1 a:a1.test a:a2.test a:a3.test a:a4.test a:a5.test a:a6.test a:a7.test a:a8.test a:a9.test a:a10.test a:a11.test -all'
dns_txt h9.test "v=spf1 exists:$D -all"
dns_txt h10.test 'v=spf1 exists:%{p}%{p}%{v}%{h}%{c}%{r}%{t}%{o}%{s}.x -all'
dns_txt h11.test 'v=spf1 exp=%{l1r-}%{d2147483648} -all'
dns_txt h12.test 'v=spf1 ip4:203.0.113.5/0 ip6:::/-1 ip4:1.2.3.4/99 -all'
dns_txt h13.test 'v=spf1 exists:%{d-1r}.x exists:%{d0r}.x -all'
dns_txt h14.test 'v=spf1 exists:%%%%%_%-%{%}.x -all'
dns_txt h15.test 'v=spf1 include:slow.test -all'
dns_txt h16.test 'v=spf1 include:slow.test -all'
# RFC 7208 4.6.4: at most 10 terms that look DNS up (include, a, mx,
# ptr, exists, redirect) in the whole evaluation, those of included and
# redirected records too (the addresses of an mx's hosts are not terms).
for i in $(seq 1 10); do
	dns_conf "host-record=a$i.lim.test,192.0.2.$i,2001:db8:2::$i"
done
dns_conf 'mx-host=mx.lim.test,a1.lim.test,1'
dns_conf 'mx-host=mx.lim.test,a2.lim.test,2'
dns_conf 'mx-host=mx.lim.test,a3.lim.test,3'
dns_txt inc5.lim.test 'v=spf1 a:a1.lim.test a:a2.lim.test a:a3.lim.test a:a4.lim.test a:a5.lim.test -all'
dns_txt inc3.lim.test 'v=spf1 a:a6.lim.test a:a7.lim.test a:a8.lim.test -all'
dns_txt inc1.lim.test 'v=spf1 a:a9.lim.test -all'
dns_txt ten.test 'v=spf1 include:inc5.lim.test include:inc3.lim.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt tenmx.test 'v=spf1 mx:mx.lim.test include:inc5.lim.test include:inc1.lim.test a:a10.lim.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt eleven.test 'v=spf1 include:inc5.lim.test include:inc3.lim.test a:a9.lim.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt redir.test 'v=spf1 include:inc5.lim.test redirect=redir2.lim.test'
dns_txt redir2.lim.test 'v=spf1 include:inc3.lim.test a:a10.lim.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
# RFC 7208 4.6.4: at most 2 "void lookups" (terms whose lookup finds
# nothing: no such name, or no record of the type asked); a third is a
# permerror, even when a later term would match.
dns_txt void3.test 'v=spf1 a:gone1.void.test a:gone2.void.test exists:gone3.void.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt void2.test 'v=spf1 a:gone1.void.test exists:gone2.void.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
for i in 1 2 3; do
	dns_conf "host-record=v4only$i.void.test,192.0.2.$i"
done
dns_txt void6.test 'v=spf1 a:v4only1.void.test a:v4only2.void.test a:v4only3.void.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_conf 'mx-host=mx.void.test,v4only1.void.test,1'
dns_conf 'mx-host=mx.void.test,v4only2.void.test,2'
dns_conf 'mx-host=mx.void.test,v4only3.void.test,3'
dns_txt voidmx.test 'v=spf1 mx:mx.void.test ip4:203.0.113.5 ip6:2001:db8::5 -all'
# A record that names senders by local part (RFC 7208 7.3, %{l}):
# receivers evaluate it with the sender's own local part.
dns_txt lp.test 'v=spf1 exists:%{l}.allow.lp.test -all'
dns_conf 'host-record=news.allow.lp.test,127.0.0.2'
# exp= (RFC 7208 6.2): the explanation is the sender domain's own text.
dns_txt expl.test 'v=spf1 -all exp=why.expl.test'
dns_txt why.expl.test 'SPF pass, record fine: blame optgate'
# Big domains publish many TXT records (site verifications): an RRset
# of over 4 KiB comes over TCP, and its TTL must still be read.
for i in $(seq 10 29); do
	dns_txt big.test "verify-$i=$(printf '%0240d' 0)"
done
dns_txt big.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt other.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
# A record (TTL 1800) that includes one with a shorter TTL (a provider's
# record): the result is as fresh as the shortest-lived record read.
dns_txt incttl0.test 'v=spf1 include:ttl0.test -all'
# A list (exists:) whose IPv6 part is served by a server that does not
# answer: the IPv4 egress address is not listed (fail), the IPv6 one's
# lookup times out.
dns_conf 'server=/ip6.list.sixslow.test/127.0.0.54'
dns_txt sixslow.test 'v=spf1 exists:%{ir}.%{v}.list.sixslow.test -all'
# The other way round: the first egress address's (IPv4) lookup times
# out, the second (IPv6) is not listed (fail).
dns_conf 'server=/in-addr.list.fourslow.test/127.0.0.54'
dns_txt fourslow.test 'v=spf1 exists:%{ir}.%{v}.list.fourslow.test -all'
# Records naming the HELO name (%{h}, RFC 7208 7.3): receivers evaluate
# them with the name we greet with, [spf] helo, by default this
# machine's as Postfix names it ($myhostname, smtp_helo_name's default:
# the host name, with .localdomain appended when it has no dot).
HELO_DEFAULT=$(postconf -dh myhostname)
# A host named mx1 whose /etc/hosts gives it a canonical name with a dot
# (as Debian's installer writes it): Postfix still greets as
# mx1.localdomain, and so must %{h} say.
printf '127.0.0.1 localhost\n127.0.1.1 mx1.example.test mx1\n' >"$PD_T/hosts"
cat >"$PD_T/uts" <<EOF
#!/bin/sh
exec unshare -m -u sh -c 'mount --bind "$PD_T/hosts" /etc/hosts && hostname mx1 && exec "\$0" "\$@"' "\$@"
EOF
chmod 755 "$PD_T/uts"
MX1_HELO=$("$PD_T/uts" postconf -dh myhostname)
dns_conf "host-record=$MX1_HELO._spf.helo.test,127.0.0.2"
dns_txt helo.test 'v=spf1 exists:%{h}._spf.helo.test -all'
dns_conf "host-record=$HELO_DEFAULT._spf.helo.test,127.0.0.2"
dns_txt heloinc.test 'v=spf1 include:%{h}.inc.helo.test -all'
dns_txt out.example.test.inc.helo.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
# verp: the milter rewrites the envelope sender to the verp address, so
# receivers judge the verp domain's record, not the sender's.
dns_txt vsend.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt vbad.test 'v=spf1 ip4:198.51.100.1 -all'
dns_txt vnot.test 'v=spf1 -all'
dns_txt vgood.test 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all'
dns_txt vlp.test 'v=spf1 exists:%{l}.allow.vlp.test -all'
dns_conf 'host-record=bounce+.allow.vlp.test,127.0.0.2'
ok "dnsmasq starts on 127.0.0.53" dns_start
dns_silent 127.0.0.54

matches=""
for d in pass partial fail soft neutral none timeout slow fresh \
    q1.timeout q2.timeout q3.timeout q4.timeout q5.timeout q6.timeout \
    h1 h2 h3 h4 h5 h7 h8 h9 h10 h11 h12 h13 h14 h15 delayed sixslow \
    fourslow; do
	matches="${matches}match = sender:@$d.test
"
done
cat >"$PD_CONF" <<CONF
[store]
path = $PD_T/store
[keys]
file = $PD_T/keys
[policyd]
listen = inet:127.0.0.1:10043
[spf]
egress = 203.0.113.5, 2001:db8::5
timeout = 2s
cache_ttl = 1h
[stream strict]
${matches}consent = none
spf = reject
[stream deferred]
match = sender:@defer.test
match = sender:@deferbad.test
consent = none
spf = defer
[stream warned]
match = sender:@warn.test
consent = none
spf = warn
[stream app]
match = client:192.0.2.7
consent = none
spf = reject
[stream verpbad]
match = sender:@vsend.test
match = client:192.0.2.9
consent = none
spf = reject
verp = bounce+%t@vbad.test
[stream verpgood]
match = sender:@vnot.test
consent = none
spf = reject
verp = bounce+%t@vgood.test
[stream verplp]
match = sender:@vlpsend.test
consent = none
spf = reject
verp = bounce+%t@vlp.test
[stream verpwarn]
match = sender:@vwarn.test
consent = none
spf = warn
verp = bounce+%t@vbad.test
CONF
pd_init
PD_WRAP=$DNS_NS
ok "optgate-policyd starts in the DNS namespace" pd_start -v

q() { pd_q sender="postmaster@$1" recipient=ana@example.org instance="$1"; }
# (the strict stream has all the match lines a stream may have: others
# through the app stream)
qa() { pd_q sender="postmaster@$1" recipient=ana@example.org instance="$1" \
    client_address=192.0.2.7; }
is "pass (every egress address authorized): DUNNO" "$(q pass.test)" DUNNO
is "one egress address not authorized: 550 5.7.23 names it" \
    "$(q partial.test)" "550 5.7.23 SPF record of partial.test does not authorize this server (fail for 2001:db8::5)"
like "fail: 550 5.7.23" "$(q fail.test)" "550 5.7.23 *(fail for 203.0.113.5)"
like "softfail: 550 5.7.23" "$(q soft.test)" "550 5.7.23 *(softfail for *"
like "neutral: 550 5.7.23" "$(q neutral.test)" "550 5.7.23 *(neutral for *"
like "none (no record): 550 5.7.23" "$(q none.test)" "550 5.7.23 *(none for *"
ok "... kept 300s, not cache_ttl: a record published after it counts soon" \
    pd_log_wait 'SPF none.test: none .*cached 300s'
ok "decision logged with the SPF reason" pd_log_wait \
    'to=<ana@example.org>, from=<postmaster@fail.test>.*stream=strict, action=reject, reason=spf\(fail\) fail.test ip=203.0.113.5'
# libspf2's Received-SPF value is longer than a log line keeps: it ends
# at a whole word, not in the middle of the client's address.
like "... whose detail is cut at a word, with ..." \
    "$(grep 'from=<postmaster@fail.test>.*action=reject' "$PD_LOG" | head -1)" \
    "*reason=spf(fail) fail.test ip=203.0.113.5 fail (*) client-ip=203.0.113.5;*..."
t0=$(date +%s)
r=$(q timeout.test)
t1=$(date +%s)
like "DNS timeout: tempfail 451 4.4.3, never a pass" "$r" "451 4.4.3 *"
ok "... within the [spf] timeout (2s; took $((t1 - t0))s)" test $((t1 - t0)) -le 4
ok "... logged" pd_log_wait 'SPF check of timeout.test: no answer within 2s'
# One egress address refused (fail), the other's DNS not answering: the
# refusal is the answer whatever the other gives, at once (the other's
# lookup, made at the same time, is abandoned: waiting for it would
# outlast the [spf] timeout, a 451).
t0=$(date +%s)
r=$(q sixslow.test)
t1=$(date +%s)
is "one address fails, the other's DNS does not answer: 550 names the failing one" \
    "$r" "550 5.7.23 SPF record of sixslow.test does not authorize this server (fail for 203.0.113.5)"
ok "... at once, not after the [spf] timeout (took $((t1 - t0))s)" \
    test $((t1 - t0)) -le 1
# The first address's DNS not answering, the second refused: the
# refusal, which no retry can change, is the answer all the same (a
# hanging lookup for one address does not keep the others unevaluated),
# within the [spf] timeout; a 451 retried it for ever.
t0=$(date +%s)
r=$(q fourslow.test)
t1=$(date +%s)
is "the first address's DNS does not answer, the second fails: 550 names the second" \
    "$r" "550 5.7.23 SPF record of fourslow.test does not authorize this server (fail for 2001:db8::5)"
ok "... within the [spf] timeout (took $((t1 - t0))s)" test $((t1 - t0)) -le 2
is "... answered by the helper, not given up by the daemon" \
    "$(pd_log_count 'SPF check of fourslow.test: no answer')" 0
ok "... logged with the second address" pd_log_wait \
    'from=<postmaster@fourslow.test>.*action=reject, reason=spf\(fail\) fourslow.test ip=2001:db8::5'
# A DNS outage: more slow domains than there are helpers (4), the last
# two half a second after the others.  Those waiting for a free helper
# are answered within the timeout of their arrival too, not after a
# helper's full timeout once one is free (up to twice it: Postfix's
# smtpd_policy_service_timeout is 10s for the default [spf] timeout 5s).
r=$(python3 - "$PD_PORT" <<'EOF2'
import socket, sys, threading, time
out = []
def one(d):
    t = time.time()
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 20)
    s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
               "sender=postmaster@%s\nrecipient=ana@example.org\n\n" % d).encode())
    d = b""
    while not d.endswith(b"\n\n"):
        c = s.recv(4096)
        if not c:
            break
        d += c
    out.append((time.time() - t, d.decode().strip()))
ts = [threading.Thread(target=one, args=("q%d.timeout.test" % i,)) for i in range(1, 7)]
for i, t in enumerate(ts):
    if i == 4:
        time.sleep(0.5)
    t.start()
for t in ts:
    t.join()
print("slowest=%.1f" % max(o[0] for o in out),
      "tempfails=%d" % sum(o[1].startswith("action=451 4.4.3") for o in out))
EOF2
)
like "six slow domains at once: all tempfailed" "$r" "* tempfails=6"
ok "... each within the [spf] timeout (2s; $r)" \
    test "$(echo "$r" | sed 's/slowest=\([0-9]*\).*/\1/')" -lt 3
# One domain whose DNS does not answer, many senders of it (VERP bounce
# addresses: one check each, as a record may name the local part): they
# wait for one check of the domain, not take every helper, so another
# domain's check is answered at once, not after the timeout.
r=$(python3 - "$PD_PORT" "$DNS_DIR/dnsmasq.log" <<'EOF2'
import socket, subprocess, sys, threading, time
out = {}
sent = []
def one(s_):
    t = time.time()
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 20)
    s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
               "client_address=192.0.2.7\nsender=%s\n"
               "recipient=ana@example.org\n\n" % s_).encode())
    sent.append(s_)
    d = b""
    while not d.endswith(b"\n\n"):
        c = s.recv(4096)
        if not c:
            break
        d += c
    out[s_] = (time.time() - t, d.decode().strip())
def asked():  # slow.test's TXT queries so far (dnsmasq's log)
    return open(sys.argv[2]).read().count("query[TXT] slow.test ")
def unread():  # the daemon's connections: how many, how many unread
    o = subprocess.run(["ss", "-Htn", "state", "established",
                        "( sport = :%s )" % sys.argv[1]],
                       capture_output=True, text=True).stdout.split("\n")
    q = [l.split()[0] for l in o if l.strip()]
    return len(q), sum(x != "0" for x in q)
n0 = asked()
ts = [threading.Thread(target=one, args=("b-%d@slow.test" % i,))
      for i in range(1, 7)]
for t in ts:
    t.start()
# The other domain comes once the six wait for slow.test's check: all
# sent and read by the daemon, the query asked; not after a guessed time.
for i in range(200):
    n, left = unread()
    if len(sent) == 6 and n >= 6 and left == 0 and asked() > n0:
        break
    time.sleep(0.05)
else:
    print("# the six senders of slow.test were not all waiting within 10 s",
          file=sys.stderr)
    sys.exit(3)
t = threading.Thread(target=one, args=("x@other.test",))
t.start()
ts.append(t)
for t in ts:
    t.join()
o = out.pop("x@other.test")
print("other=%.1f %s" % o, "slowest=%.1f" % max(v[0] for v in out.values()),
      "tempfails=%d" % sum(v[1].startswith("action=451 4.4.3")
                           for v in out.values()))
EOF2
) || fail "six senders of a slow domain waiting for its check within 10 s"
like "six senders of a slow domain: all tempfailed" "$r" "* tempfails=6"
ok "... within the [spf] timeout ($r)" \
    test "$(echo "$r" | sed 's/.*slowest=\([0-9]*\).*/\1/')" -lt 3
like "... another domain's check meanwhile: answered" "$r" "other=* action=DUNNO *"
ok "... at once, not after the slow one (${r%% *})" \
    test "$(echo "$r" | sed 's/other=\([0-9]*\).*/\1/')" -lt 1
r=$( (printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nsender=postmaster@timeout.test\nrecipient=a@b.example\n\n'
	python3 -c "print('x' * 30000)") | pd_client send)
is "more input while a request waits for SPF: closed" "$r" CLOSED
ok "... logged" pd_log_wait 'more input while a request waits for SPF'
like "defer mode: 450 4.7.23" "$(q defer.test)" "450 4.7.23 *"
is "... a record with a syntax error (listing this server): 450 4.7.24" \
    "$(q deferbad.test)" \
    "450 4.7.24 SPF record of deferbad.test cannot be evaluated (permerror for 203.0.113.5)"
is "warn mode: DUNNO" "$(q warn.test)" DUNNO
ok "warn mode: logged" pd_log_wait 'spf=fail for 203.0.113.5.*\(warn only\)'
is "sender domain with a trailing dot: checked as without" \
    "$(pd_q sender=postmaster@fail.test. client_address=192.0.2.7)" \
    "550 5.7.23 SPF record of fail.test does not authorize this server (fail for 203.0.113.5)"
is "... odd case too" \
    "$(pd_q sender=postmaster@FAIL.Test client_address=192.0.2.7)" \
    "550 5.7.23 SPF record of FAIL.Test does not authorize this server (fail for 203.0.113.5)"
is "null sender: no SPF check" \
    "$(pd_q sender= recipient=ana@example.org)" DUNNO
# Senders whose domain cannot have an SPF record: receivers' check says
# "none" (RFC 7208 4.3); the check was skipped, so they passed.
like "address literal sender: none, refused" \
    "$(pd_q 'sender=postmaster@[203.0.113.5]' client_address=192.0.2.7)" \
    "550 5.7.23 *(none for 203.0.113.5)"
like "single-label sender domain: none, refused" \
    "$(pd_q sender=x@nodomain client_address=192.0.2.7)" \
    "550 5.7.23 *(none for 203.0.113.5)"
is "a local part the address rules refuse: its domain is still checked" \
    "$(pd_q sender="$(printf '%070d' 0)@fail.test" client_address=192.0.2.7)" \
    "550 5.7.23 SPF record of fail.test does not authorize this server (fail for 203.0.113.5)"
is "a sender without a domain (Postfix adds \$myorigin later): not checked" \
    "$(pd_q sender=www-data client_address=192.0.2.7)" DUNNO
# A stream with verp: receivers see the verp address as the envelope
# sender (optgate-milter rewrites it), so its domain is the one checked.
is "verp domain not authorizing this server, sender domain authorizing: 550 names the verp domain" \
    "$(pd_q sender=news@vsend.test recipient=ana@example.org)" \
    "550 5.7.23 SPF record of vbad.test does not authorize this server (fail for 203.0.113.5)"
ok "... logged with the verp domain" pd_log_wait \
    'from=<news@vsend.test>.*stream=verpbad, action=reject, reason=spf\(fail\) vbad.test \(verp domain\) ip=203.0.113.5'
is "verp domain authorizing this server, sender domain not: DUNNO" \
    "$(pd_q sender=news@vnot.test recipient=ana@example.org)" DUNNO
is "... a %{l} record judges the verp local part without the token: DUNNO" \
    "$(pd_q sender=news@vlpsend.test recipient=ana@example.org)" DUNNO
is "... warn mode: DUNNO" \
    "$(pd_q sender=news@vwarn.test recipient=ana@example.org)" DUNNO
ok "... logged naming the verp domain" pd_log_wait \
    'from=<news@vwarn.test> stream=verpwarn: spf=fail for 203.0.113.5.*\(warn only, of the verp domain vbad.test\)'
is "... a sender without a domain: the verp domain is still checked" \
    "$(pd_q sender=www-data recipient=ana@example.org client_address=192.0.2.9)" \
    "550 5.7.23 SPF record of vbad.test does not authorize this server (fail for 203.0.113.5)"

# Hostile records: each answered (refused or tempfailed), quickly.
t0=$(date +%s)
bad=""
for h in h1 h2 h3 h4 h5 h7 h8 h9 h10 h11 h12 h13 h14; do
	r=$(q $h.test)
	case "$r" in
	"550 5.7.23 "* | "550 5.7.24 "* | "451 4.4.3 "*) ;;
	*) bad="$bad $h:$r" ;;
	esac
done
t1=$(date +%s)
is "hostile records: each refused or tempfailed, never a pass" "$bad" ""
ok "... 13 records in $((t1 - t0))s, no hang" test $((t1 - t0)) -le 20
ok "daemon still alive" kill -0 "$PD_PID"

# The 10-lookup limit over includes and redirects: receivers say
# permerror ("too many DNS lookups") even when a later term matches.
is "10 DNS lookups over two includes: pass" "$(qa ten.test)" DUNNO
is "... 10 with an mx of 3 hosts: pass" "$(qa tenmx.test)" DUNNO
is "11 DNS lookups over two includes: 550 permerror" "$(qa eleven.test)" \
    "550 5.7.24 SPF record of eleven.test cannot be evaluated (permerror for 203.0.113.5)"
ok "... logged as too many lookups" pd_log_wait \
    'from=<postmaster@eleven.test>.*reason=spf\(permerror\) eleven.test ip=203.0.113.5 permerror \(more than 10 DNS lookups'
like "12 over an include and a redirect: 550 permerror" "$(qa redir.test)" \
    "550 5.7.24 *(permerror for 203.0.113.5)"
# The void-lookup limit (libspf2 1.2.10 has none): receivers say
# permerror ("void lookup limit exceeded").
is "3 void lookups (no such names): 550 permerror" "$(qa void3.test)" \
    "550 5.7.24 SPF record of void3.test cannot be evaluated (permerror for 203.0.113.5)"
ok "... logged as too many void lookups" pd_log_wait \
    'from=<postmaster@void3.test>.*reason=spf\(permerror\) void3.test ip=203.0.113.5 permerror \(more than 2 void DNS lookups'
is "2 void lookups: pass" "$(qa void2.test)" DUNNO
is "3 names with no IPv6 address, for the IPv6 egress: 550 permerror" \
    "$(qa void6.test)" \
    "550 5.7.24 SPF record of void6.test cannot be evaluated (permerror for 2001:db8::5)"
is "... an mx whose 3 hosts have no IPv6 address (not terms): pass" \
    "$(qa voidmx.test)" DUNNO

# A helper that dies mid-evaluation (what a crashing record does):
# h15.test includes slow.test, which waits on the silent server while we
# kill the helpers (all of them: which one has the query is not visible).
# (first let the abandoned timeout.test query above time out)
for i in $(seq 1 100); do
	[ "$(pd_log_count 'SPF check of timeout.test: no answer')" -ge 2 ] && break
	sleep 0.05
done
# kill_mid DOMAIN SIGNAL: query DOMAIN (whose record includes slow.test)
# and send SIGNAL to the helpers once slow.test is asked; the answer is
# in $PD_T/DOMAIN.out.
kill_mid() {
	n0=$(grep -c 'query\[TXT\] slow.test' "$DNS_DIR/dnsmasq.log")
	qa "$1" >"$PD_T/$1.out" &
	qpid=$!
	hp=""
	for i in $(seq 1 200); do
		if [ "$(grep -c 'query\[TXT\] slow.test' "$DNS_DIR/dnsmasq.log")" -gt "$n0" ]; then
			hp=$(pgrep -P "$PD_PID" -f -- '--spf-helper')
			[ -n "$hp" ] && break
		fi
		sleep 0.05
	done
	[ -n "$hp" ] && kill -"$2" $hp
	wait $qpid
}
kill_mid h15.test SEGV
is "a helper crash: 550 permerror (no address to name), the daemon goes on" \
    "$(cat "$PD_T/h15.test.out")" "550 5.7.24 SPF record of h15.test cannot be evaluated (permerror)"
ok "... logged with the signal" pd_log_wait \
    'SPF helper for h15.test: SPF evaluation crashed \(signal [0-9]+\)'
ok "... and the decision without an empty ip=" pd_log_wait \
    'action=reject, reason=spf\(permerror\) h15.test SPF evaluation crashed \(signal [0-9]+\)$'
is "... and the next check works" "$(q pass.test)" DUNNO
# A helper killed from outside (kill -9 by an admin, the OOM killer,
# systemd's last SIGKILL): the record is not at fault, so no refusal
# (and none cached for its domain): mail waits.
kill_mid h16.test KILL
like "a helper killed with SIGKILL: 451 4.4.3, not a refusal" \
    "$(cat "$PD_T/h16.test.out")" "451 4.4.3 *"
ok "... logged" pd_log_wait 'SPF helper for h16.test: killed \(signal 9\)'
like "... nothing cached: the next check of the domain runs again" \
    "$(qa h16.test)" "451 4.4.3 *"

# Cache: answers kept for the record's TTL (1800 s here, under cache_ttl:
# the checks that want a cached answer once DNS is gone find it also on a
# machine slow enough to take over 2 minutes to get there).
ok "cached for the record's TTL" pd_log_wait 'SPF pass.test: pass .*cached 1800s'
is "a TXT RRset over 4 KiB (TCP): pass" "$(qa big.test)" DUNNO
ok "... cached for its TTL too, not cache_ttl" \
    pd_log_wait 'SPF big.test: pass .*cached 1800s'
# Local-part macros: judged with the sender's local part, and not cached
# for the domain (news@ passing says nothing about other@).
is "%{l} record: news@ is authorized: DUNNO" \
    "$(pd_q sender=news@lp.test recipient=ana@example.org client_address=192.0.2.7)" DUNNO
is "... other@ of the same domain is not: 550" \
    "$(pd_q sender=other@lp.test recipient=ana@example.org client_address=192.0.2.7)" \
    "550 5.7.23 SPF record of lp.test does not authorize this server (fail for 203.0.113.5)"
is "... and news@ still passes after it" \
    "$(pd_q sender=news@lp.test recipient=ana@example.org client_address=192.0.2.7)" DUNNO
like "exp= record: refused" \
    "$(qa expl.test)" "550 5.7.23 *(fail for 203.0.113.5)"
ok "... logged in libspf2's words" pd_log_wait \
    'from=<postmaster@expl.test>.*reason=spf\(fail\) expl.test ip=203.0.113.5 fail \(.*does not designate 203.0.113.5'
is "... not the domain's" "$(pd_log_count 'blame.optgate')" 0
is "exists:%{h}: judged with this machine's name ($HELO_DEFAULT): DUNNO" \
    "$(qa helo.test)" DUNNO
# A record with TTL 0 may not be cached (RFC 1035 3.2.1); a resolver
# also says 0 in the last second of a cached record's life.  ttl0.test
# is served from $PD_T/ttl0.txt, read at each query.
echo 'v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all' >"$PD_T/ttl0.txt"
python3 - "$PD_T/ttl0.txt" <<'EOF2' &
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    try:
        s.bind(("127.0.0.56", 53))
        break
    except OSError:
        time.sleep(0.1)
while True:
    q, peer = s.recvfrom(4096)
    end = 12
    while q[end]:
        end += 1 + q[end]
    an = struct.unpack(">H", q[end + 1:end + 3])[0] == 16
    r = q[:2] + struct.pack(">HHHHH", 0x8180, 1, an, 0, 0) + q[12:end + 5]
    if an:
        txt = open(sys.argv[1], "rb").read().strip()
        r += struct.pack(">HHHIHB", 0xC00C, 16, 1, 0, len(txt) + 1,
                         len(txt)) + txt
    s.sendto(r, peer)
EOF2
ttl0pid=$!
for i in $(seq 1 50); do
	_dns_bound 127.0.0.56 && break
	sleep 0.1
done
is "a record with TTL 0: pass" "$(qa ttl0.test)" DUNNO
is "a record (TTL 1800) including it: pass" "$(qa incttl0.test)" DUNNO
echo 'v=spf1 -all' >"$PD_T/ttl0.txt"
like "... changed to -all: the next check fails (nothing was cached)" \
    "$(qa ttl0.test)" "550 5.7.23 *(fail for 203.0.113.5)"
like "... and so does the including record's (not cached for its own TTL)" \
    "$(qa incttl0.test)" "550 5.7.23 *(fail for 203.0.113.5)"
kill $ttl0pid
dns_stop
is "with DNS gone, a cached pass still passes" "$(q pass.test)" DUNNO
like "... a cached fail still fails" "$(q fail.test)" "550 5.7.23 *(fail for *"
like "... an uncached domain tempfails" "$(q fresh.test)" "451 4.4.3 *"
ok "daemon exits cleanly" pd_stop

# A helper that cannot start at all (here: the program file was replaced
# under a running daemon, as an upgrade does) is not the record's fault:
# tempfail, never a refusal.
ok "dnsmasq back" dns_start
mkdir -p "$PD_T/bin"
cp "$BIN/optgate-policyd" "$PD_T/bin/"
BIN0=$BIN
BIN=$PD_T/bin
ok "daemon from a copy of the program" pd_start
rm -f "$PD_T/bin/optgate-policyd"
like "helper cannot start: 451 4.4.3, not a refusal" "$(q fail.test)" "451 4.4.3 *"
ok "... logged" pd_log_wait 'SPF helper for fail.test: cannot start'
BIN=$BIN0
ok "daemon exits cleanly" pd_stop

# A helper that talks nonsense (what a libspf2 gone wrong on a hostile
# record may print): a permerror for that domain, as a crash is, not a
# tempfail "killed (signal 9)" retried forever.  Here the program file
# is replaced by one that answers nonsense, and a client sends its next
# request (another domain) before reading the first answer: answering
# the first starts a helper for the second on the spot.
cp "$BIN/optgate-policyd" "$PD_T/bin/"
BIN0=$BIN
BIN=$PD_T/bin
ok "daemon from a copy of the program" pd_start
printf '#!/bin/sh\nwhile read l; do echo nonsense; done\n' >"$PD_T/bin/x"
chmod 755 "$PD_T/bin/x"
mv -f "$PD_T/bin/x" "$PD_T/bin/optgate-policyd"
r=$(python3 - "$PD_PORT" <<'EOF2'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(10)
s.sendall(b"".join((
    "request=smtpd_access_policy\nprotocol_state=RCPT\n"
    "sender=postmaster@%s\nrecipient=ana@example.org\ninstance=n%d\n\n"
    % (d, i)).encode() for i, d in enumerate(("fail.test", "soft.test"))))
data = b""
try:
    while data.count(b"\n\n") < 2:
        c = s.recv(4096)
        if not c:
            break
        data += c
except OSError as e:
    data += str(e).encode()
print(data.decode().replace("\n\n", "|").replace("\n", " "))
EOF2
)
like "helper talking nonsense: permerror, and the next request is answered" \
    "$r" "action=550 5.7.24 *(permerror)|action=550 5.7.24 *(permerror)|"
ok "... logged as such" pd_log_wait \
    'SPF helper for soft.test: SPF evaluation failed: garbled answer'
ok "... and the daemon is alive" kill -0 "$PD_PID"
BIN=$BIN0
ok "daemon exits cleanly" pd_stop

# Idle helpers that died, found dead by a write in the same batch of
# events that reports their end (the daemon stopped meanwhile): the
# stale events must not touch the reset helpers (their fds are closed or
# reused; it used to end in kill(0, SIGKILL) on its own process group).
# Its own session, so that cannot hit the test.
PD_WRAP="setsid $DNS_NS"
ok "daemon in its own session" pd_start
# two checks at once: two helpers
python3 - "$PD_PORT" <<'EOF2'
import socket, sys
ss = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
      for d in (0, 1)]
for s, d in zip(ss, ("fail.test", "partial.test")):
    s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
               "sender=postmaster@%s\nrecipient=ana@example.org\n\n"
               % d).encode())
for s in ss:
    s.recv(4096)
EOF2
mkfifo "$PD_T/sess"
pd_client session <"$PD_T/sess" >"$PD_T/sess.out" &
spid=$!
exec 3>"$PD_T/sess"
echo "sender=postmaster@pass.test instance=s1" >&3
for i in $(seq 1 100); do
	[ -s "$PD_T/sess.out" ] && break
	sleep 0.05
done
hp=$(pgrep -P "$PD_PID" -f -- '--spf-helper' | sort -n)
is "... two helpers" "$(echo "$hp" | wc -l)" 2
# wait_for 'WHAT' CMD...: until CMD succeeds (10 s), else a failure
wait_for() {
	wf_what=$1
	shift
	for wf_i in $(seq 1 200); do
		"$@" && return 0
		sleep 0.05
	done
	fail "$wf_what within 10 s"
}
stopped() { case $(ps -o stat= -p "$1") in T*) ;; *) return 1 ;; esac; }
dead() { case $(ps -o stat= -p "$1") in "" | Z*) ;; *) return 1 ;; esac; }
unread() { # the daemon's end of a connection holds an unread request
	ss -Htn state established "( sport = :$PD_PORT )" |
	    awk '$1 > 0 { n++ } END { exit !n }'
}
# The daemon finds, at once when it goes on, a request and a dead
# helper: each waited for, not a guessed time.
kill -STOP "$PD_PID"
wait_for "the daemon stopped" stopped "$PD_PID"
echo "sender=postmaster@soft.test instance=s2" >&3
wait_for "the request waiting for the stopped daemon" unread
kill -9 $(echo "$hp" | head -1) # the first helper, slot 0
wait_for "the first helper dead" dead "$(echo "$hp" | head -1)"
kill -CONT "$PD_PID"
exec 3>&-
wait $spid
is "idle helpers died: the next check is answered" \
    "$(sed -n 2p "$PD_T/sess.out")" "550 5.7.23 SPF record of soft.test does not authorize this server (softfail for 203.0.113.5)"
ok "... and the daemon is alive" kill -0 "$PD_PID"

# SIGHUP, then wait for the reload's log line.
hup_wait() {
	hw_n=$(pd_log_count 'reloaded ')
	pd_hup
	for hw_i in $(seq 1 100); do
		[ "$(pd_log_count 'reloaded ')" -gt "$hw_n" ] && return 0
		sleep 0.05
	done
	return 1
}

# A reload that turns SPF off applies to a request waiting for SPF.
dns_silent 127.0.0.54
n0=$(grep -c 'query\[TXT\] timeout.test ' "$DNS_DIR/dnsmasq.log")
q timeout.test >"$PD_T/reload.out" &
qpid=$!
# Reload once the request waits for SPF (its DNS query was seen), not
# after a guessed time.
wait_for "the request waiting for SPF" sh -c \
    "[ \$(grep -c 'query\[TXT\] timeout.test ' '$DNS_DIR/dnsmasq.log') -gt $n0 ]"
cp "$PD_CONF" "$PD_T/conf.spf"
sed 's/^spf = reject$/spf = off/' "$PD_T/conf.spf" >"$PD_CONF"
ok "reload: spf = off" hup_wait
wait $qpid
is "... the waiting request is no longer judged by SPF" \
    "$(cat "$PD_T/reload.out")" DUNNO
cp "$PD_T/conf.spf" "$PD_CONF"
ok "reload: spf back on" hup_wait

# A reload that adds an egress address while a check is under way: that
# check's pass (about the old addresses) must not be cached for the new.
dns_stop
dns_conf 'server=/delayed.test/127.0.0.55'
ok "dnsmasq with delayed.test" dns_start
python3 - "$PD_T/asked" <<'EOF2' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):  # seen busy once, for a moment: retry, then say who
    try:
        s.bind(("127.0.0.55", 53))
        break
    except OSError:
        if i == 49:
            os.system("ss -ulpn | grep -F ':53 ' | sed 's/^/# /'")
            raise
        time.sleep(0.1)
txt = b"v=spf1 ip4:203.0.113.5 ip6:2001:db8::5 -all"
first = True  # dnsmasq does not cache TXT: only the first one is slow
while True:
    q, peer = s.recvfrom(4096)
    end = 12
    while q[end]:
        end += 1 + q[end]
    qtype = struct.unpack(">H", q[end + 1:end + 3])[0]
    if first:
        open(sys.argv[1], "w").close()  # the check is under way
        time.sleep(1)
        first = False
    an = qtype == 16
    r = q[:2] + struct.pack(">HHHHH", 0x8180, 1, an, 0, 0) + q[12:end + 5]
    if an:
        r += struct.pack(">HHHIHB", 0xC00C, 16, 1, 120, len(txt) + 1,
                         len(txt)) + txt
    s.sendto(r, peer)
EOF2
slowpid=$!
for i in $(seq 1 50); do
	_dns_bound 127.0.0.55 && break
	sleep 0.1
done
rm -f "$PD_T/asked"
q delayed.test >"$PD_T/egress.out" &
qpid=$!
# Reload only once the check is under way (its DNS query was seen), not
# after a guessed time: on a busy machine the request may come later.
wait_for "the check of delayed.test under way" test -f "$PD_T/asked"
sed 's/^egress = .*/egress = 203.0.113.5, 2001:db8::5, 198.51.100.9/' \
    "$PD_T/conf.spf" >"$PD_CONF"
ok "reload: a third egress address" hup_wait
wait $qpid
is "... the check under way answers (for the old addresses)" \
    "$(cat "$PD_T/egress.out")" DUNNO
is "... and is not cached: the next check is about the new address" \
    "$(q delayed.test)" "550 5.7.23 SPF record of delayed.test does not authorize this server (fail for 198.51.100.9)"
kill $slowpid
cp "$PD_T/conf.spf" "$PD_CONF"
PD_WRAP=$DNS_NS
ok "daemon exits cleanly" pd_stop

# Senders of one domain wait for its check (one at a time); when it ends,
# each is answered in turn.  One of them sent its next request ahead (about
# another domain), which is judged while the others still wait: that must
# not hand a waiting sender's check to a helper and answer it twice (the
# daemon freed it under the helper, and crashed when its time was up).
dns_silent 127.0.0.54
ok "daemon restarted" pd_start
r=$(python3 - "$PD_PORT" <<'EOF2'
import socket, subprocess, sys, time
port = int(sys.argv[1])
def req(sender, inst):
    return ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
            "sender=%s\nrecipient=ana@example.org\ninstance=%s\n\n"
            % (sender, inst)).encode()
def settled(n):  # n connections, every request read by the daemon
    for i in range(200):
        o = subprocess.run(["ss", "-Htn", "state", "established",
                            "( sport = :%d )" % port],
                           capture_output=True, text=True).stdout
        q = [l.split()[0] for l in o.split("\n") if l.strip()]
        if len(q) >= n and all(x == "0" for x in q):
            return
        time.sleep(0.05)
    sys.exit("# %d connections not read within 10 s" % n)
def answers(s, n):
    d = b""
    s.settimeout(10)
    try:
        while d.count(b"\n\n") < n:
            c = s.recv(4096)
            if not c:
                break
            d += c
    except OSError:
        pass
    return d.decode().replace("action=", "").strip().replace("\n\n", "|")
a = socket.create_connection(("127.0.0.1", port), 10)
a.sendall(req("a@slow.test", "w1"))
settled(1)
b = socket.create_connection(("127.0.0.1", port), 10)
b.sendall(req("b@slow.test", "w2") + req("postmaster@pass.test", "w3"))
settled(2)
c = socket.create_connection(("127.0.0.1", port), 10)
c.sendall(req("c@slow.test", "w4"))
settled(3)
print("a=%s b=%s c=%s" % (answers(a, 1), answers(b, 2), answers(c, 1)))
EOF2
)
like "three senders of a slow domain, one with its next request sent ahead: all answered" \
    "$r" "a=451 4.4.3 * b=451 4.4.3 *|DUNNO c=451 4.4.3 *"
# the helper that was given the third sender's check times out by now
sleep 3
ok "... and the daemon is alive after their helpers' time" kill -0 "$PD_PID"
is "... and answers" "$(q pass.test)" DUNNO
ok "daemon exits cleanly" pd_stop

# One egress address refused by the record (fail), the other's lookup
# timing out (here the IPv6 one, checked first, with a resolver that
# gives up after 1 s, so the helper itself says temperror for it): the
# refusal is a fact a retry cannot change, so it is the answer, and it
# is cached for the record's TTL, not retried as a 451 again and again.
printf '#!/bin/sh\nRES_OPTIONS="timeout:1 attempts:1" exec "$@"\n' \
    >"$PD_T/resopt"
chmod 755 "$PD_T/resopt"
sed 's/^egress = .*/egress = 2001:db8::5, 203.0.113.5/; s/^timeout = .*/timeout = 5s/' \
    "$PD_T/conf.spf" >"$PD_CONF"
PD_WRAP="$DNS_NS $PD_T/resopt"
ok "daemon with a resolver timeout of 1 s, the IPv6 address first" \
    pd_start -v
is "one address fails, the other's DNS times out: 550, naming the failing one" \
    "$(q sixslow.test)" \
    "550 5.7.23 SPF record of sixslow.test does not authorize this server (fail for 203.0.113.5)"
ok "... the other's lookup was made (and timed out)" \
    grep -q 'query\[A\] 5\.0\..*ip6\.list\.sixslow\.test' "$DNS_DIR/dnsmasq.log"
ok "... the fail is cached for the record's TTL" \
    pd_log_wait 'SPF sixslow.test: fail for 203.0.113.5 .*cached 1800s'
PD_WRAP=$DNS_NS
cp "$PD_T/conf.spf" "$PD_CONF"
ok "daemon exits cleanly" pd_stop

# [spf] helo: the name records' %{h} see, as receivers do when this
# server greets with it (smtp_helo_name).  A reload that changes it
# applies to the next check (the helpers stay; the cache is emptied).
sed 's/^cache_ttl = 1h$/&\nhelo = out.example.test/' "$PD_T/conf.spf" \
    >"$PD_CONF"
ok "daemon with [spf] helo = out.example.test" pd_start
is "include:%{h}.inc.helo.test: out.example.test's record passes: DUNNO" \
    "$(qa heloinc.test)" DUNNO
is "... exists:%{h} for the machine's name no longer matches: 550" \
    "$(qa helo.test)" \
    "550 5.7.23 SPF record of helo.test does not authorize this server (fail for 203.0.113.5)"
cp "$PD_T/conf.spf" "$PD_CONF"
ok "reload without [spf] helo" hup_wait
is "... the machine's name again: DUNNO" "$(qa helo.test)" DUNNO
like "... and include:%{h} finds no record for it: 550 permerror" \
    "$(qa heloinc.test)" "550 5.7.24 *(permerror for 203.0.113.5)"
ok "daemon exits cleanly" pd_stop

# Without [spf] helo on a host named mx1 (canonical name
# mx1.example.test in /etc/hosts): %{h} is the name Postfix greets with.
is "Postfix on mx1 greets as mx1.localdomain" "$MX1_HELO" mx1.localdomain
PD_WRAP="$DNS_NS $PD_T/uts"
ok "daemon on host mx1" pd_start
is "exists:%{h}: judged with Postfix's name for mx1 ($MX1_HELO): DUNNO" \
    "$(qa helo.test)" DUNNO
PD_WRAP=$DNS_NS
ok "daemon exits cleanly" pd_stop
done_testing
