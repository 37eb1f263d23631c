#!/bin/sh
# optgate-unsubd over HTTP with a real client (curl): every endpoint and
# every bad input of issue 8, checked against the real store.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
trap ud_cleanup EXIT INT TERM

ud_setup 18080 || { fail "setup"; done_testing; exit 1; }
A=cliente@yahoo.com
ud_optin $A news
ud_optin $A offers
ud_optin $A tips
ok "daemon starts" ud_start

# --- health and routing ---
is "healthz answers 200" "$(ud_code GET "$UD_URL/healthz")" 200
is "healthz body" "$(curl -s "$UD_URL/healthz")" "ok"
is "unknown path 404" "$(ud_code GET "$UD_URL/")" 404
is "PUT is 405" "$(ud_code PUT "$UD_URL/u/abc")" 405

# --- bad tokens: one 400 page that reveals nothing ---
TOK=$(ud_token $A news)
is "no token 400" "$(ud_code GET "$UD_URL/u/")" 400
is "garbage token 400" "$(ud_code GET "$UD_URL/u/garbage")" 400
is "token with bad characters 400" \
    "$(ud_code GET "$UD_URL/u/abc.def%21ghi")" 400
# Flip one bit of one character in the middle of the token.
FLIP=$(printf '%s' "$TOK" | python3 -c '
import sys
t = sys.stdin.read()
a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
i = len(t) // 2
print(t[:i] + a[a.index(t[i]) ^ 1] + t[i+1:])')
is "bit-flipped token 400" "$(ud_code GET "$UD_URL/u/$FLIP")" 400
is "bit-flipped token POST 400" \
    "$(ud_code POST "$UD_URL/u/$FLIP" -d List-Unsubscribe=One-Click)" 400
# A token from another keyring (same address and stream).
mkdir -p "$UD_DIR/other"
sed -e "s|^path = .*|path = $UD_DIR/other/store|" \
    -e "s|^file = .*|file = $UD_DIR/other/keys|" "$CONF" >"$UD_DIR/other.conf"
"$BIN/optgate" -c "$UD_DIR/other.conf" init >/dev/null
WRONG=$("$BIN/optgate" -c "$UD_DIR/other.conf" token $A --stream news |
    sed -n 's/^token: //p')
is "wrong-key token 400" "$(ud_code GET "$UD_URL/u/$WRONG")" 400
OLD=$(OPTGATE_NOW=$(($(date +%s) - 40 * 86400)) ud_token $A news)
is "expired token (token_max_age 30d) 400" "$(ud_code GET "$UD_URL/u/$OLD")" 400
# A token carries only its issue day: one made at 23:59:59 thirty days
# ago is younger than 30 days and must still work (CAN-SPAM: 30 days).
NOW=$(date +%s)
YOUNG=$(OPTGATE_NOW=$((NOW - NOW % 86400 - 30 * 86400 + 86399)) ud_token $A news)
is "token 30 days old to the day, younger to the second: 200" \
    "$(ud_code GET "$UD_URL/u/$YOUNG")" 200
LONG=$(python3 -c 'print("A" * 600)')
is "overlong token 400" "$(ud_code GET "$UD_URL/u/$LONG")" 400
BADPAGE=$(curl -s "$UD_URL/u/$FLIP")
like "400 page says the link does not work" "$BADPAGE" "*link does not work*"
case "$BADPAGE" in
*yahoo*|*cliente*|*c\*\*\*\*\*e*|*"$FLIP"*) fail "400 page reveals nothing" ;;
*) pass "400 page reveals nothing" ;;
esac
is "bad tokens changed nothing" "$(ud_status $A news)" 0
# A double opt-in's confirmation token (a mail anyone can have sent to a
# person) is no unsubscribe link: no page, and its POST opts out nothing,
# so the request stays to be confirmed.
CT=$("$BIN/optgate" -c "$CONF" optin dora@example.com --stream news --double |
    awk '{print $NF}')
is "confirmation token: no page (400)" "$(ud_code GET "$UD_URL/u/$CT")" 400
is "confirmation token: POST 400" \
    "$(ud_code POST "$UD_URL/u/$CT" -d List-Unsubscribe=One-Click)" 400
"$BIN/optgate" -c "$CONF" confirm "$CT" >/dev/null 2>&1
is "... and the request still confirms" "$?" 0

# --- GET: the page, changes nothing ---
PAGE=$(curl -s "$UD_URL/u/$TOK")
like "page shows the masked address" "$PAGE" "*c\*\*\*\*\*e@yahoo.com*"
case "$PAGE" in
*cliente@*) fail "page hides the full address" ;;
*) pass "page hides the full address" ;;
esac
like "page is English by default" "$PAGE" '*<html lang="en">*'
# An address with no record yet (a stream of consent = none mails her):
# its domain as she writes it, not the match key's A-label (xn--...).
like "no record: an IDN domain shown as written" \
    "$(curl -s "$UD_URL/u/$(ud_token "$(printf 'ana@ex\303\244mple.com')" news)")" \
    "$(printf '*These settings are for a\\*\\*\\*\\*\\*a@ex\303\244mple.com.*')"
like "page has the one-click button" "$PAGE" \
    '*id="unsub-one">Unsubscribe from Weekly newsletter*'
like "page lists the partner" "$PAGE" '*name="p" value="acme" checked*'
like "page has the brand" "$PAGE" '*Loja Exemplo*'
# A stream found by its envelope sender, without a sender key: its mail
# is judged by the sender's domain, and so is its row on the page.
P=promocao@example.com.br
ud_optin $P promo
"$BIN/optgate" -c "$CONF" optout $P --sender loja.example >/dev/null
like "page: a stream its sender's opt-out stops shows off" \
    "$(curl -s "$UD_URL/u/$(ud_token $P promo)")" '*name="s" value="promo">*'
like "page has a CSRF field" "$PAGE" '*name="csrf" value="*'
like "page has the stream's logo" "$PAGE" '*<img src="/static/logo.png" alt="">*'
like "page has the stream's colour" "$PAGE" '*header{background:#1b5e20;color:#ffffff;*'
TIPS=$(curl -s "$UD_URL/u/$(ud_token $A tips)")
like "brand name is escaped" "$TIPS" '*Tips &lt;b&gt;&quot;&amp;*'
case "$TIPS" in *"<b>"*)
	fail "brand name is not put raw" ;;
*) pass "brand name is not put raw" ;; esac
# A colour or logo unsubd would not put into a page is a config error
# (unsubd_parse_test covers the daemon's own check).
sed 's|^brand.name = Tips.*|&\nbrand.color = #fff;background:url(//x)\nbrand.logo = javascript:alert(1)|' \
    "$CONF" >"$UD_DIR/brand.conf"
like "unsafe brand colour and logo: the config is refused" \
    "$("$BIN/optgate" -c "$UD_DIR/brand.conf" config check 2>&1; echo "exit $?")" \
    '*brand.color: "#fff;background:url(//x)" is not #rgb*brand.logo: "javascript:alert(1)" is not*exit 2'
like "... and optgate-unsubd does not start with it" \
    "$(timeout 5 "$BIN/optgate-unsubd" -f -c "$UD_DIR/brand.conf" 2>&1; echo "exit $?")" \
    '*brand.color: "#fff;background:url(//x)" is not #rgb*exit [1-9]'

case "$PAGE" in *"<script"*) fail "page needs no JavaScript" ;;
*) pass "page needs no JavaScript" ;; esac
like "pt-BR from Accept-Language" \
    "$(curl -s -H 'Accept-Language: pt-BR,pt;q=0.9,en;q=0.5' "$UD_URL/u/$TOK")" \
    '*<html lang="pt-BR">*Cancelar inscrição em Weekly newsletter*'
like "es from Accept-Language" \
    "$(curl -s -H 'Accept-Language: es-AR,es;q=0.9' "$UD_URL/u/$TOK")" \
    '*<html lang="es">*Darse de baja de Weekly newsletter*'
like "?lang= switcher wins over Accept-Language" \
    "$(curl -s -H 'Accept-Language: pt-BR' "$UD_URL/u/$TOK?lang=es")" \
    '*<html lang="es">*'
HDRS=$(curl -s -D - -o /dev/null "$UD_URL/u/$TOK")
like "no-referrer keeps the token from third parties" "$HDRS" \
    "*Referrer-Policy: no-referrer*"
like "pages are not cached" "$HDRS" "*Cache-Control: no-store*"
case "$HDRS" in *Set-Cookie*) fail "no cookie" ;; *) pass "no cookie" ;; esac
is "HEAD works" "$(ud_code HEAD "$UD_URL/u/$TOK")" 200
# A trailing slash, as people type it and browsers complete it: the same
# page at every one of the page's URLs.
like "GET /u/TOKEN/ shows the page" "$(curl -s "$UD_URL/u/$TOK/")" \
    "*c\*\*\*\*\*e@yahoo.com*"
like "GET /u/TOKEN/prefs shows the page" "$(curl -s "$UD_URL/u/$TOK/prefs")" \
    "*c\*\*\*\*\*e@yahoo.com*"
like "GET /u/TOKEN/prefs/ shows the page" \
    "$(curl -s "$UD_URL/u/$TOK/prefs/")" "*c\*\*\*\*\*e@yahoo.com*"
# ... and a POST there is the preference form, CSRF-checked, never a
# one-click opt-out.
is "POST /u/TOKEN/prefs/ without the form's CSRF field: 403" \
    "$(ud_code POST "$UD_URL/u/$TOK/prefs/" -d List-Unsubscribe=One-Click)" 403
is "two trailing slashes: 404" "$(ud_code GET "$UD_URL/u/$TOK/prefs//")" 404
is "GET changed nothing" "$(ud_status $A news)" 0

# --- POST: one-click (RFC 8058) ---
T0=$(date +%s)
R=$(curl -s -D "$UD_DIR/h1" -o "$UD_DIR/b1" -w '%{http_code}' \
    -H 'User-Agent: GoogleOneClick/1.0' \
    -d List-Unsubscribe=One-Click "$UD_URL/u/$TOK")
is "one-click POST 200" "$R" 200
case "$(cat "$UD_DIR/h1")" in *Location:*|*Set-Cookie:*)
	fail "no redirect, no cookie" ;; *) pass "no redirect, no cookie" ;; esac
is "after one-click: news refused" "$(ud_status $A news)" 1
is "after one-click: offers still accepted (scope stream)" \
    "$(ud_status $A offers)" 0
like "status names one-click" \
    "$("$BIN/optgate" -c "$CONF" status $A --stream news)" "*one-click*"
# The user agent is proof as the client sent it: audit shows a quote and
# an accent as written (they were stored escaped, and audit showed
# \\x22 and \\xc3\\xbc); bytes that are not UTF-8 as ISO-8859-1.
UA=$(printf 'Mozilla/5.0 (compatible; "Unsub" b\303\274ro)')
ud_optin ua@example.com news
curl -s -o /dev/null -A "$UA" -d List-Unsubscribe=One-Click \
    "$UD_URL/u/$(ud_token ua@example.com news)"
like "one-click proof: the user agent as sent (audit)" \
    "$("$BIN/optgate" -c "$CONF" audit ua@example.com)" "*user_agent=$UA proof=*"
ud_optin ua2@example.com news
curl -s -o /dev/null -A "$(printf 'Bot b\374ro')" -d List-Unsubscribe=One-Click \
    "$UD_URL/u/$(ud_token ua2@example.com news)"
like "... one in ISO-8859-1 as its characters" \
    "$("$BIN/optgate" -c "$CONF" audit ua2@example.com)" \
    "$(printf '*user_agent=Bot b\303\274ro proof=*')"
is "repeated POST is harmless (200)" \
    "$(ud_code POST "$UD_URL/u/$TOK" -d List-Unsubscribe=One-Click)" 200
is "still refused after the repeat" "$(ud_status $A news)" 1
# A one-click of a stream since renamed or removed (an authentic token of
# a stream the config no longer has): out of all mail, not lost.
G=gone@example.org
ud_optin $G news
{ cat "$CONF"; printf '[stream oldletter]\nmatch = header:X-Optgate-Stream=oldletter\nclass = marketing\nconsent = optin\nunsubscribe = https://unsub.example.com/u/%%t\n'; } >"$UD_DIR/old.conf"
TG=$("$BIN/optgate" -c "$UD_DIR/old.conf" token $G --stream oldletter | sed -n 's/^token: //p')
is "page of a removed stream's link: 400" "$(ud_code GET "$UD_URL/u/$TG")" 400
# token_max_age holds for them too: an old link (a leaked archive) must
# not take the person out of all mail.
TGOLD=$(OPTGATE_NOW=$(($(date +%s) - 40 * 86400)) "$BIN/optgate" \
    -c "$UD_DIR/old.conf" token $G --stream oldletter | sed -n 's/^token: //p')
is "one-click of a removed stream's expired link: 400" \
    "$(ud_code POST "$UD_URL/u/$TGOLD" -d List-Unsubscribe=One-Click)" 400
is "... changed nothing" "$(ud_status $G news)" 0
is "GET changed nothing" "$(ud_status $G news)" 0
is "one-click of a removed stream's link: 200" \
    "$(ud_code POST "$UD_URL/u/$TG" -d List-Unsubscribe=One-Click)" 200
is "... opted out of all mail" "$(ud_status $G news)" 1
like "... with the token as proof" "$("$BIN/optgate" -c "$CONF" audit $G)" \
    "*not in the configuration*"
B=bob.gomez@example.com
ud_optin $B news
TB=$(ud_token $B news)
head -c 300 /dev/urandom >"$UD_DIR/junk"
is "POST with any body unsubscribes (binary junk)" \
    "$(ud_code POST "$UD_URL/u/$TB" --data-binary @"$UD_DIR/junk")" 200
is "junk-body POST took effect" "$(ud_status $B news)" 1
C=carla@example.org
ud_optin $C news
TC=$(ud_token $C news)
is "POST with an empty body unsubscribes" \
    "$(ud_code POST "$UD_URL/u/$TC" -H 'Content-Length: 0')" 200
is "empty-body POST took effect" "$(ud_status $C news)" 1
D=dario@example.net
ud_optin $D news
TD=$(ud_token $D news)
python3 -c 'print("x=" + "a" * 20000, end="")' >"$UD_DIR/huge"
is "huge body 413" \
    "$(ud_code POST "$UD_URL/u/$TD" --data-binary @"$UD_DIR/huge")" 413
is "huge chunked body 413" \
    "$(ud_code POST "$UD_URL/u/$TD" -H 'Transfer-Encoding: chunked' \
        --data-binary @"$UD_DIR/huge")" 413
is "huge body changed nothing" "$(ud_status $D news)" 0
is "a POST to the token's page path with 8 KB passes" \
    "$(python3 -c 'print("List-Unsubscribe=One-Click&x=" + "a" * 8000, end="")' |
        curl -s -o /dev/null -w '%{http_code}' --data-binary @- "$UD_URL/u/$TD")" 200

# --- an erased person: a click must not bring the address back ---
# (a record of any kind lifts the erasure's keyed hash: transactional
# mail, which ignores opt-outs, would flow again)
G=gone@example.com
ud_optin $G news
TG=$(ud_token $G news)
"$BIN/optgate" -c "$CONF" erase $G >/dev/null
is "erased: receipts refused" "$(ud_status $G receipts)" 1
is "erased: one-click POST 200" \
    "$(ud_code POST "$UD_URL/u/$TG" -d List-Unsubscribe=One-Click)" 200
is "erased: receipts still refused after the one-click" \
    "$(ud_status $G receipts)" 1
P=$(curl -s "$UD_URL/u/$TG")
GC=$(printf '%s' "$P" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
GT=$(printf '%s' "$P" | sed -n 's/.*name="ts" value="\([^"]*\)".*/\1/p')
GV=$(printf '%s' "$P" | sed -n 's/.*name="v" value="\([^"]*\)".*/\1/p')
is "erased: unsubscribe from everything 200" "$(ud_code POST \
    "$UD_URL/u/$TG/prefs" -d "csrf=$GC&ts=$GT&v=$GV&action=all")" 200
is "erased: receipts still refused after 'everything'" \
    "$(ud_status $G receipts)" 1
like "erased: no record came back" \
    "$("$BIN/optgate" -c "$CONF" status $G --stream news)" "*no record*"

# --- a one-click during a pause (a temporary opt-out, imported): for good
P=paula@example.org
ud_optin $P news
printf 'address,state,stream,expires\n%s,optout,news,%s\n' $P \
    "$(date -u -d '+10 days' +%Y-%m-%dT%H:%M:%SZ)" >"$UD_DIR/pause.csv"
"$BIN/optgate" -c "$CONF" import "$UD_DIR/pause.csv" >/dev/null 2>&1
TP=$(ud_token $P news)
is "one-click during a pause: 200" \
    "$(ud_code POST "$UD_URL/u/$TP" -d List-Unsubscribe=One-Click)" 200
like "... the click is in the history" \
    "$("$BIN/optgate" -c "$CONF" audit $P)" "*optout*via one-click*"
like "... and still holds after the pause" \
    "$(OPTGATE_NOW=$(($(date +%s) + 11 * 86400)) "$BIN/optgate" \
        -c "$CONF" status $P --stream news)" "*unsubscribed from news*one-click*"
# --- a pause of all mail (an import's temporary opt-out): the page shows
# its streams and partner ticked, "paused: it resumes on DATE"; saved
# untouched it changes nothing (it opted out of them for good); a box
# unticked opts out for good; "resume now" ends the pause, as status says.
PX=$(date -u -d '+10 days' +%Y-%m-%dT12:00:00Z)
PDAY=$(LC_ALL=C date -u -d "$PX" '+%-d %B %Y')
PAFTER=$(($(date -u -d "$PX" +%s) + 86400))
pause_all() { # ADDR: opted in to news, tips, offers; all mail paused
	for s in news tips offers; do ud_optin $1 $s; done
	printf 'address,state,expires\n%s,optout,%s\n' $1 "$PX" \
	    >"$UD_DIR/pause-$1.csv"
	"$BIN/optgate" -c "$CONF" import "$UD_DIR/pause-$1.csv" >/dev/null 2>&1
}
after_pause() { # ADDR STREAM: status exit code once the pause is over
	OPTGATE_NOW=$PAFTER "$BIN/optgate" -c "$CONF" status $1 --stream $2 \
	    >/dev/null 2>&1
	echo $?
}
Q=quentin@example.org
pause_all $Q
TQ=$(ud_token $Q news)
PQ=$(curl -s "$UD_URL/u/$TQ")
like "paused: the page shows news ticked, with the day it resumes" "$PQ" \
    "*name=\"s\" value=\"news\" aria-describedby=\"w0\" checked> <span>Weekly newsletter</span></label>
<p class=\"paused\" id=\"w0\">Paused: it resumes on $PDAY. Untick the box to stop it for good.</p>
<label class=\"cb resume\"><input type=\"checkbox\" id=\"r0\" name=\"r\" value=\"news\"> <span>Resume now</span></label>
<input type=\"hidden\" name=\"ws\" value=\"news\">*"
like "... and the partner's row the same" "$PQ" \
    '*name="p" value="acme" aria-describedby="w3" checked> <span>Offers from acme</span></label><p class="paused" id="w3">Paused: it resumes on '"$PDAY"'.*name="rp" value="acme">*name="wp" value="acme">*'
like "... in pt-BR" "$(curl -s -H 'Accept-Language: pt-BR' "$UD_URL/u/$TQ")" \
    "*Pausado: volta em ${PDAY%% *} de *de ${PDAY##* }. Desmarque a caixa para parar de vez.*Voltar a receber agora*"
like "... in es" "$(curl -s "$UD_URL/u/$TQ?lang=es")" \
    "*En pausa: se reanuda el ${PDAY%% *} de *de ${PDAY##* }. Desmarque la casilla para dejarlo del todo.*Reanudar ahora*"
AQ=$("$BIN/optgate" -c "$CONF" audit $Q)
sleep 1
like "paused: the page saved untouched changes nothing" "$(curl -s \
    -d "$(ud_form_unchanged "$PQ")" "$UD_URL/u/$TQ/prefs")" \
    '*Nothing to change.*'
is "... nothing written" "$("$BIN/optgate" -c "$CONF" audit $Q)" "$AQ"
is "... still paused now (news, tips, offers refused)" \
    "$(ud_status $Q news)$(ud_status $Q tips)$(ud_status $Q offers)" 111
# Opened during the pause only to get tips less often.
sleep 1
R=$(curl -s -d "$(ud_form_unchanged "$PQ" | sed 's/c.tips=0/c.tips=1%2F30d/')" \
    "$UD_URL/u/$TQ/prefs")
like "paused: changing tips's frequency only: saved" "$R" '*Your choices are saved.*'
like "... logged as that change alone" "$(cat "$UD_DIR/log")" \
    "*preferences: to=<q*****n@example.org>, stream=news, via=page, changes=1/30d(stream:tips), client=?127.0.0.1?, kid=1, result=applied*"
is "... after the pause news, tips and offers come back" \
    "$(after_pause $Q news)$(after_pause $Q tips)$(after_pause $Q offers)" 000
like "... tips at the new frequency" "$(OPTGATE_NOW=$PAFTER "$BIN/optgate" \
    -c "$CONF" status $Q --stream tips)" "*cap 1/30d (recipient's choice)*"
# Unticking a paused stream, and a paused partner: for good.
sleep 1
R=$(curl -s -d "$(ud_form_unchanged "$R" | python3 -c '
import sys, urllib.parse as u
q = u.parse_qsl(sys.stdin.read())
print(u.urlencode([x for x in q if x not in (("s", "news"), ("p", "acme"))]))')" \
    "$UD_URL/u/$TQ/prefs")
like "paused: news and the partner unticked: saved" "$R" '*Your choices are saved.*'
like "... news stays refused after the pause" "$(OPTGATE_NOW=$PAFTER \
    "$BIN/optgate" -c "$CONF" status $Q --stream news)" \
    "*unsubscribed from news*preference-page*"
like "... offers too, by the partner's opt-out" "$(OPTGATE_NOW=$PAFTER \
    "$BIN/optgate" -c "$CONF" status $Q --stream offers)" \
    "*unsubscribed from all mail of partner acme*preference-page*"
is "... tips comes back" "$(after_pause $Q tips)" 0
like "... the page shows them (and offers) unticked, tips still paused" "$R" \
    '*name="s" value="news"> <span>*name="s" value="offers"> <span>*name="s" value="tips" aria-describedby="w2" checked>*name="p" value="acme"> <span>*'
# "Resume now": the pause is an opt-out, so the row's own opt-in ends it.
RS=resume@example.org
pause_all $RS
TR=$(ud_token $RS news)
sleep 1
R=$(curl -s -d "$(ud_form_unchanged "$(curl -s "$UD_URL/u/$TR")")&r=tips&rp=acme" \
    "$UD_URL/u/$TR/prefs")
like "paused: resume now tips and the partner: saved" "$R" '*Your choices are saved.*'
is "... tips and offers accepted now, news still paused" \
    "$(ud_status $RS tips)$(ud_status $RS offers)$(ud_status $RS news)" 001
like "... the page shows tips and the partner on, no longer paused" "$R" \
    '*name="s" value="tips" checked> <span>*name="p" value="acme" checked> <span>*'
is "... and news after the pause" "$(after_pause $RS news)" 0
# A pause by a temporary suppression (an admin's): only its end lifts
# it, so the page offers no "resume now", and an opt-in sent anyway
# (a forged "r") is not written.
SP=suppressed.pause@example.org
for s in news tips; do ud_optin $SP $s; done
"$BIN/optgate" -c "$CONF" suppress $SP --reason manual --all --expires 10d >/dev/null
TSP=$(ud_token $SP news)
PSP=$(curl -s "$UD_URL/u/$TSP")
like "suppressed for 10 days: news shows ticked, paused" "$PSP" \
    "*name=\"s\" value=\"news\" aria-describedby=\"w0\" checked> <span>Weekly newsletter</span></label>
<p class=\"paused\" id=\"w0\">Paused: it resumes on $(LC_ALL=C date -u -d '+10 days' '+%-d %B %Y').*"
case "$PSP" in *'name="r"'*) fail "... no resume-now box" ;;
*) pass "... no resume-now box" ;; esac
AS=$("$BIN/optgate" -c "$CONF" audit $SP)
sleep 1
like "... saved untouched, with a forged resume: nothing to change" "$(curl -s \
    -d "$(ud_form_unchanged "$PSP")&r=news" "$UD_URL/u/$TSP/prefs")" \
    '*Nothing to change.*'
is "... nothing written" "$("$BIN/optgate" -c "$CONF" audit $SP)" "$AS"
is "... after it, news and tips come back" "$(OPTGATE_NOW=$(($(date +%s) + 11 * 86400)) \
    "$BIN/optgate" -c "$CONF" status $SP --stream news >/dev/null 2>&1; echo $?)" 0
# A pause of the one stream she opted in to (an import's optout line for
# news with an end): her opt-in is under it and holds again at its end,
# as the page says.
PS=stream.pause@example.org
ud_optin $PS news
printf 'address,state,stream,expires\n%s,optout,news,%s\n' $PS "$PX" \
    >"$UD_DIR/pause-s.csv"
"$BIN/optgate" -c "$CONF" import "$UD_DIR/pause-s.csv" >/dev/null 2>&1
TPS=$(ud_token $PS news)
like "a pause of news alone: the page shows it ticked, with the day it resumes" \
    "$(curl -s "$UD_URL/u/$TPS")" \
    "*name=\"s\" value=\"news\" aria-describedby=\"w0\" checked> <span>Weekly newsletter</span></label>
<p class=\"paused\" id=\"w0\">Paused: it resumes on $PDAY. Untick the box to stop it for good.</p>*"
is "... refused now, accepted after it" \
    "$(ud_status $PS news)$(after_pause $PS news)" 10
# A stale page (changed since) with a paused box unticked: for good too.
ST=stale.pause@example.org
pause_all $ST
TST=$(ud_token $ST news)
FS=$(ud_form_unchanged "$(curl -s "$UD_URL/u/$TST")" | python3 -c '
import sys, urllib.parse as u
print(u.urlencode([x for x in u.parse_qsl(sys.stdin.read()) if x != ("s", "news")]))')
sleep 1
ud_code POST "$UD_URL/u/$(ud_token $ST tips)" -d List-Unsubscribe=One-Click >/dev/null
sleep 1
like "stale page, paused news unticked: only that saved" "$(curl -s -d "$FS" \
    "$UD_URL/u/$TST/prefs")" '*Only the boxes you unticked were saved*'
like "... news refused after the pause" "$(OPTGATE_NOW=$PAFTER \
    "$BIN/optgate" -c "$CONF" status $ST --stream news)" \
    "*unsubscribed from news*preference-page*"
is "... offers (left ticked) back after it" "$(after_pause $ST offers)" 0

# --- the preference form (CSRF protected) ---
E=elena@example.com
ud_optin $E news
ud_optin $E offers
ud_optin $E tips
TE=$(ud_token $E news)
P=$(curl -s "$UD_URL/u/$TE")
CSRF=$(printf '%s' "$P" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
TS=$(printf '%s' "$P" | sed -n 's/.*name="ts" value="\([^"]*\)".*/\1/p')
V=$(printf '%s' "$P" | sed -n 's/.*name="v" value="\([^"]*\)".*/\1/p')
is "form without CSRF 403" \
    "$(ud_code POST "$UD_URL/u/$TE/prefs" -d 's=news&action=save')" 403
BADC=$(printf '%s' "$CSRF" | tr 'A-Za-z' 'B-ZAb-za')
is "form with tampered CSRF 403" "$(ud_code POST "$UD_URL/u/$TE/prefs" \
    -d "csrf=$BADC&ts=$TS&s=news&action=save")" 403
is "form with CSRF of another token 403" "$(ud_code POST "$UD_URL/u/$TB/prefs" \
    -d "csrf=$CSRF&ts=$TS&action=all")" 403
is "refused forms changed nothing" \
    "$(ud_status $E offers)$(ud_status $E tips)$(ud_status $E news)" 000
R=$(curl -s -w '\n%{http_code}' -A 'PrefTest/2.0' \
    -d "csrf=$CSRF&ts=$TS&v=$V&lang=en&s=news&c.news=1%2F7d&s=offers&c.offers=0&c.tips=0&p=acme&action=save" \
    "$UD_URL/u/$TE/prefs")
is "saving preferences 200" "$(printf '%s' "$R" | tail -1)" 200
like "saved notice" "$R" "*Your choices are saved.*"
is "unticked tips: refused" "$(ud_status $E tips)" 1
is "kept news: accepted" "$(ud_status $E news)" 0
is "kept offers: accepted" "$(ud_status $E offers)" 0
like "chosen cap shown back from the store" "$(curl -s "$UD_URL/u/$TE")" \
    '*name="c.news"><option value="0">*<option value="1/7d" selected>*'
# A cap the page does not offer (an import's 2/7d) is shown as it is and
# kept by an untouched save; it showed no choice, so the browser sent
# "as often as planned" and the save dropped the person's cap.
C=carla.cap@example.com
printf 'address,state,stream,cap\n%s,optin,news,2/7d\n' $C \
    >"$UD_DIR/cap.csv"
"$BIN/optgate" -c "$CONF" import "$UD_DIR/cap.csv" >/dev/null 2>&1
TC=$(ud_token $C news)
PC=$(curl -s "$UD_URL/u/$TC")
like "imported cap 2/7d: the page shows it chosen" "$PC" \
    '*<option value="own" selected>As now: at most 2/7d</option></select>*'
AC=$("$BIN/optgate" -c "$CONF" audit $C)
sleep 1
like "... the untouched page saves nothing" "$(curl -s \
    -d "$(ud_form_unchanged "$PC")" "$UD_URL/u/$TC/prefs")" \
    '*Nothing to change.*'
is "... nothing written" "$("$BIN/optgate" -c "$CONF" audit $C)" "$AC"
like "... the cap holds" "$("$BIN/optgate" -c "$CONF" status $C --stream news)" \
    "*cap 2/7d (recipient's choice)*"
like "... and one of the page's choices still replaces it" "$(curl -s \
    -d "$(ud_form "$PC")&s=news&c.news=1%2F30d&action=save" \
    "$UD_URL/u/$TC/prefs")" '*<option value="1/30d" selected>*'
# Ticking a partner the person had left, with its stream left unticked:
# the partner's opt-in must not bring that stream back.
H=hugo@example.com
ud_optin $H news
"$BIN/optgate" -c "$CONF" optout $H --partner acme >/dev/null 2>&1
TH=$(ud_token $H news)
PH=$(curl -s "$UD_URL/u/$TH")
HC=$(printf '%s' "$PH" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
HT=$(printf '%s' "$PH" | sed -n 's/.*name="ts" value="\([^"]*\)".*/\1/p')
HV=$(printf '%s' "$PH" | sed -n 's/.*name="v" value="\([^"]*\)".*/\1/p')
sleep 1
is "partner ticked, its stream not: 200" "$(ud_code POST \
    "$UD_URL/u/$TH/prefs" -d "csrf=$HC&ts=$HT&v=$HV&s=news&p=acme&action=save")" 200
is "... the unticked partner stream stays refused" "$(ud_status $H offers)" 1
is "... news still accepted" "$(ud_status $H news)" 0
# A complaint suppresses all mail; only an admin lifts it.  Ticking the
# partner on the page records an opt-in, but its offers stay refused:
# the page must not show them on.
K=karla.fbl@example.com
ud_optin $K offers
"$BIN/optgate" -c "$CONF" suppress $K --reason complaint --all >/dev/null
TK=$(ud_token $K offers)
PK=$(curl -s "$UD_URL/u/$TK")
KC=$(printf '%s' "$PK" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
KT=$(printf '%s' "$PK" | sed -n 's/.*name="ts" value="\([^"]*\)".*/\1/p')
KV=$(printf '%s' "$PK" | sed -n 's/.*name="v" value="\([^"]*\)".*/\1/p')
like "suppressed: the partner shows off" "$PK" '*name="p" value="acme"> <span>*'
sleep 1
RK=$(curl -s -d "csrf=$KC&ts=$KT&v=$KV&p=acme&action=save" "$UD_URL/u/$TK/prefs")
like "suppressed: ticking the partner, the page still shows it off" "$RK" \
    '*name="p" value="acme"> <span>*'
is "... as the gate judges its offers" "$(ud_status $K offers)" 1
# ... and says so rather than "saved".
like "... and says the choice cannot take effect" "$RK" \
    '*class="notice error" role="alert">Some of your choices cannot take effect: mail to this address was stopped*'
sleep 1
like "suppressed: ticking the stream, the same (pt-BR)" "$(curl -s \
    -d "$(ud_form "$RK")&lang=pt-BR&s=offers&p=acme&action=save" \
    "$UD_URL/u/$TK/prefs")" \
    '*Algumas escolhas não podem valer*name="s" value="offers"> <span>*'
is "... still refused" "$(ud_status $K offers)" 1
# The partner's box is the gate's word on the partner's offers: an
# opt-out of the partner named in another case (the admin typed ACME),
# the partner's hashed list, an erasure stop them all; the box showed
# them on.  Saving the page untouched changes nothing.
partner_box() { # ADDR: page of offers, partner box, unchanged save
	_t=$(ud_token $1 offers)
	_p=$(curl -s "$UD_URL/u/$_t")
	case "$_p" in
	*'name="p" value="acme" checked'*) echo "acme ticked" ;;
	*'name="p" value="acme">'*) echo "acme unticked" ;;
	*) echo "no acme box" ;;
	esac
	_a=$("$BIN/optgate" -c "$CONF" audit $1)
	sleep 1
	_r=$(curl -s -d "$(ud_form_unchanged "$_p")" "$UD_URL/u/$_t/prefs")
	[ "$("$BIN/optgate" -c "$CONF" audit $1)" = "$_a" ] ||
	    echo "the untouched page wrote"
}
PA=pablo.case@example.com
ud_optin $PA offers
"$BIN/optgate" -c "$CONF" optout $PA --partner ACME >/dev/null
is "opted out of partner ACME: offers refused" "$(ud_status $PA offers)" 1
is "... the page shows acme unticked" "$(partner_box $PA)" "acme unticked"
PL=paula.list@example.com
ud_optin $PL offers
openssl rand -hex 32 >"$UD_DIR/acme.key"
chmod 600 "$UD_DIR/acme.key"
{
	echo hash
	printf '%s' $PL | openssl dgst -sha256 -mac HMAC \
	    -macopt hexkey:"$(cat "$UD_DIR/acme.key")" | sed 's/.*= //'
} >"$UD_DIR/acme-list.csv"
"$BIN/optgate" -c "$CONF" import-hashed "$UD_DIR/acme-list.csv" \
    --partner acme --key "$UD_DIR/acme.key" >/dev/null
is "on acme's hashed list: offers refused" "$(ud_status $PL offers)" 1
is "... the page shows acme unticked" "$(partner_box $PL)" "acme unticked"
PE=pedro.erased@example.com
ud_optin $PE offers
"$BIN/optgate" -c "$CONF" erase $PE >/dev/null
is "erased: offers refused" "$(ud_status $PE offers)" 1
is "... the page shows acme unticked" "$(partner_box $PE)" "acme unticked"
like "... and the untouched page brought no record back" \
    "$("$BIN/optgate" -c "$CONF" status $PE --stream offers)" "*no record*"
PO=paulo.ok@example.com
ud_optin $PO offers
is "opted in to offers: the page shows acme ticked" "$(partner_box $PO)" \
    "acme ticked"
# Opt back in: recorded with its proof (time, IP, user agent).  The
# store takes an opt-in only when it is newer than the opt-out, to the
# second: let the clock turn.
sleep 1
R=$(curl -s -o /dev/null -w '%{http_code}' -A 'OptBackIn/3.0' \
    -d "$(ud_form "$(curl -s "$UD_URL/u/$TE")")&s=news&s=offers&s=tips&p=acme&c.news=1%2F7d&action=save" \
    "$UD_URL/u/$TE/prefs")
is "opting back in 200" "$R" 200
is "tips accepted again" "$(ud_status $E tips)" 0
DUMP=$(mdb_dump -p -s events "$UD_DIR/store/consent" 2>/dev/null)
like "opt-in proof keeps the user agent" "$DUMP" "*OptBackIn/3.0*"
like "opt-in proof keeps the IP" "$DUMP" "*127.0.0.1*"
R=$(curl -s -w '\n%{http_code}' -d "csrf=$CSRF&ts=$TS&v=$V&action=all" \
    "$UD_URL/u/$TE/prefs")
is "unsubscribe from everything 200" "$(printf '%s' "$R" | tail -1)" 200
is "everything refused" \
    "$(ud_status $E news)$(ud_status $E offers)$(ud_status $E tips)" 111
like "page shows all unticked" "$(curl -s "$UD_URL/u/$TE")" \
    '*value="news"> <span>*'
OLDTS=$(($(date +%s) - 3 * 86400))
is "form older than a day 403" "$(ud_code POST "$UD_URL/u/$TE/prefs" \
    -d "csrf=$CSRF&ts=$OLDTS&v=$V&s=news&action=save")" 403

# --- a page opened, then a change elsewhere, then the old page saved:
# the later change wins (the old boxes were read before it).  As a
# browser sends it: every box as it was shown, its hidden fields.
S=sara.stale@example.com
ud_optin $S news
ud_optin $S tips
TS1=$(ud_token $S news)
PS=$(curl -s "$UD_URL/u/$TS1")
like "stale: the page shows news ticked" "$PS" '*name="s" value="news" checked*'
FS="$(ud_form "$PS")&lang=en&s=news&c.news=0&s=tips&c.tips=0&p=acme&action=save"
sleep 1
is "stale: one-click in another tab 200" \
    "$(ud_code POST "$UD_URL/u/$TS1" -d List-Unsubscribe=One-Click)" 200
AUD=$("$BIN/optgate" -c "$CONF" audit $S)
sleep 1
R=$(curl -s -w '\n%{http_code}' -d "$FS" "$UD_URL/u/$TS1/prefs")
is "stale: the old page saved is 409" "$(printf '%s' "$R" | tail -1)" 409
like "... and says the choices changed and nothing was saved" "$R" \
    '*class="notice error" role="alert">Your choices were changed after this page was opened*Nothing was saved*'
like "... showing news off as it is now" "$R" '*name="s" value="news"> <span>*'
is "... the one-click holds" "$(ud_status $S news)" 1
is "... and nothing was written" "$("$BIN/optgate" -c "$CONF" audit $S)" "$AUD"
like "... logged as stale" "$(cat "$UD_DIR/log")" \
    "*preferences: to=<s*******e@example.com>, stream=news, via=page, changes=none, client=\\[127.0.0.1\\], kid=1, result=stale*"
sleep 1
FR="$(ud_form "$R")&s=news&s=tips&action=save"
like "stale: the page it answered with saves" "$(curl -s -d "$FR" \
    "$UD_URL/u/$TS1/prefs")" '*Your choices are saved.*'
is "... news back by the person's new choice" "$(ud_status $S news)" 0
# The same form sent again (a reload of its answer re-posts it): older
# than the save it made, but all it asks for holds: saved, not a 409
# "changed after this page was opened, nothing saved".
AUD=$("$BIN/optgate" -c "$CONF" audit $S)
R=$(curl -s -w '\n%{http_code}' -d "$FR" "$UD_URL/u/$TS1/prefs")
is "the same form sent again: 200" "$(printf '%s' "$R" | tail -1)" 200
like "... says it is saved" "$R" \
    '*class="notice" role="status">Your choices are saved.*'
is "... nothing written" "$("$BIN/optgate" -c "$CONF" audit $S)" "$AUD"
# Unsubscribed from everything by an admin, a complaint, an erasure
# after the page was shown: the old page brings none of it back.
for how in "optout --all" "suppress --reason complaint --all" "erase"; do
	S=stale.${how%% *}@example.com
	ud_optin $S news
	TS1=$(ud_token $S news)
	FS="$(ud_form "$(curl -s "$UD_URL/u/$TS1")")&s=news&c.news=0&action=save"
	sleep 1
	"$BIN/optgate" -c "$CONF" $how $S >/dev/null
	sleep 1
	is "stale after $how: 409" \
	    "$(ud_code POST "$UD_URL/u/$TS1/prefs" -d "$FS")" 409
	is "... news still refused" "$(ud_status $S news)" 1
done
like "... the erased address has no record again" \
    "$("$BIN/optgate" -c "$CONF" status stale.erase@example.com --stream news)" \
    "*no record*"
# A stale page on which the person unticked a box: that opt-out is taken
# (an opt-out is never lost to an old page), nothing else it says.
S=sam.stale@example.com
ud_optin $S news
ud_optin $S tips
TS1=$(ud_token $S news)
PS=$(curl -s "$UD_URL/u/$TS1")
like "stale, unticked: the page names what it showed ticked" "$PS" \
    '*name="ws" value="tips"*'
FS=$(ud_form_unchanged "$PS" | python3 -c '
import sys, urllib.parse as u
q = [p for p in u.parse_qsl(sys.stdin.read()) if p != ("s", "tips")]
print(u.urlencode(q + [("p", "acme")]))')
sleep 1
is "stale, unticked: one-click of news in another tab 200" \
    "$(ud_code POST "$UD_URL/u/$TS1" -d List-Unsubscribe=One-Click)" 200
sleep 1
R=$(curl -s -w '\n%{http_code}' -d "$FS" "$UD_URL/u/$TS1/prefs")
is "stale, unticked: 200" "$(printf '%s' "$R" | tail -1)" 200
like "... says only the unticked boxes were saved" "$R" \
    '*role="alert">Your choices were changed after this page was opened*Only the boxes you unticked were saved*'
is "... tips opted out, news's one-click holds" \
    "$(ud_status $S tips)$(ud_status $S news)" 11
is "... the partner ticked on the old page not opted in" \
    "$(ud_status $S offers)" 1
like "... logged" "$(cat "$UD_DIR/log")" \
    "*preferences: to=<s*****e@example.com>, stream=news, via=page, changes=optout?stream:tips?, client=?127.0.0.1?, kid=1, result=applied (stale page: its unticked boxes only)*"
# "Unsubscribe from everything" on an old page still does what it says.
S=stale.all@example.com
ud_optin $S news
TS1=$(ud_token $S news)
FS="$(ud_form "$(curl -s "$UD_URL/u/$TS1")")&action=all"
ud_optin $S tips
is "stale page, unsubscribe from everything: 200" \
    "$(ud_code POST "$UD_URL/u/$TS1/prefs" -d "$FS")" 200
is "... everything refused" "$(ud_status $S news)$(ud_status $S tips)" 11
# A form without "v" (a page from before it existed) saves nothing.
S=stale.nov@example.com
ud_optin $S news
TS1=$(ud_token $S news)
FS=$(ud_form "$(curl -s "$UD_URL/u/$TS1")" | sed 's/&v=[0-9]*//')
is "form without v: 409" \
    "$(ud_code POST "$UD_URL/u/$TS1/prefs" -d "$FS&action=save")" 409
is "... news not opted out" "$(ud_status $S news)" 0

# --- a client that hangs up while its opt-out is being written (a
# provider's HTTP client timing out, a closed tab): the opt-out holds,
# and the admin's log still has its line.
W=walter.hangup@example.org
ud_optin $W news
TW=$(ud_token $W news)
python3 - "$UD_PORT" "$TW" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /u/" + sys.argv[2].encode() + b" HTTP/1.1\r\nHost: x\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\n"
          b"Content-Length: 26\r\n\r\nList-Unsubscribe=One-Click")
s.close()
EOP
_i=0
while [ "$(ud_status $W news)" != 1 ] && [ $_i -lt 50 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
is "client hung up: the opt-out holds" "$(ud_status $W news)" 1

# --- a page saved when the person's record cannot be read (here a record
# a newer optgate wrote): 503, and the log names whose choices were lost,
# not only "store read failed".
R2=rita.unread@example.org
ud_optin $R2 news
ud_optin $R2 tips
TR2=$(ud_token $R2 news)
FR2=$(ud_form "$(curl -s "$UD_URL/u/$TR2")")
k=$(printf 'A%s' "$R2" | od -An -tx1 | tr -d ' \n')
v=$(mdb_dump -s main "$UD_DIR/store/consent" | grep -A1 "^ $k\$" | tail -1)
{
	mdb_dump -s main "$UD_DIR/store/consent" | sed -n '1,/^HEADER=END/p'
	printf ' %s\n 7f%s\nDATA=END\n' "$k" "${v#' 01'}"
} >"$UD_DIR/unread.dump"
mdb_load -s main -f "$UD_DIR/unread.dump" "$UD_DIR/store/consent" 2>/dev/null
is "page saved, record unreadable: 503" \
    "$(ud_code POST "$UD_URL/u/$TR2/prefs" -d "$FR2&s=news&action=save")" 503
like "... logged as a decision that failed, naming whose" "$(cat "$UD_DIR/log")" \
    "*optgate: preferences: to=<r\*\*\*\*\*d@example.org>, stream=news, via=page, changes=unknown, client=?127.0.0.1?, kid=1, result=failed*"

# --- logs: one line per action, no token, masked addresses ---
ok "daemon stops cleanly on SIGTERM" ud_stop
LOG=$(cat "$UD_DIR/log")
like "log has the one-click line" "$LOG" \
    "*optgate: unsubscribe: to=<c\*\*\*\*\*e@yahoo.com>, stream=news, via=one-click*result=applied*"
like "log says unchanged for the repeat" "$LOG" "*result=unchanged*"
like "log has the one-click of the client that hung up" "$LOG" \
    "*optgate: unsubscribe: to=<w\*\*\*\*\*p@example.org>, stream=news, via=one-click*result=applied*"
like "log has the preferences line" "$LOG" \
    "*optgate: preferences: to=<e\*\*\*\*\*a@example.com>*optout(stream:tips)*"
like "log has the rejects" "$LOG" "*reason=bad-token*"
like "log names expired tokens" "$LOG" "*reason=expired*"
like "log gives the length of a malformed token" "$LOG" \
    "*path=/u/(600 chars), reason=malformed*"
case "$LOG" in *"$TOK"*|*"$TE"*|*"$FLIP"*|*"$CSRF"*)
	fail "log never holds a token" ;; *) pass "log never holds a token" ;; esac
case "$LOG" in *cliente@yahoo.com*|*elena@example.com*)
	fail "log masks addresses (full_address = no)" ;;
*) pass "log masks addresses (full_address = no)" ;; esac
like "log has commit statistics" "$LOG" "*commit statistics: batches=*"

# --- a pause of the partner that has ended (optgate expire has not run
# yet): the gate mails its offers again, and the page shows it on.
N=nina.pause@example.org
ud_optin $N offers
printf 'address,state,partner,expires\n%s,optout,acme,%s\n' $N \
    "$(date -u -d '+10 days' +%Y-%m-%dT%H:%M:%SZ)" >"$UD_DIR/pause-p.csv"
"$BIN/optgate" -c "$CONF" import "$UD_DIR/pause-p.csv" >/dev/null 2>&1
NL=$(($(date +%s) + 11 * 86400))
is "partner pause ended: offers accepted" "$(OPTGATE_NOW=$NL \
    "$BIN/optgate" -c "$CONF" status $N --stream offers >/dev/null 2>&1
    echo $?)" 0
OPTGATE_NOW=$NL ud_start
like "... and the page shows the partner on" \
    "$(curl -s "$UD_URL/u/$(ud_token $N offers)")" \
    '*name="p" value="acme" checked>*'
ok "daemon stops cleanly" ud_stop

# --- [unsubd] scope = sender: one-click leaves all mail of the sender ---
S=sam@example.org
sed -e 's/^\[unsubd\]$/&\nscope = sender/' \
    -e 's/^\[stream news\]$/&\nsender = example.com/' \
    -e 's/^\[stream tips\]$/&\nsender = example.com/' \
    "$CONF" >"$UD_DIR/sender.conf"
CONF=$UD_DIR/sender.conf
for s in news tips offers; do ud_optin $S $s; done
ok "daemon starts with scope = sender" ud_start
# The button and its answer name what the click leaves: the sender's
# mail, not only the newsletter.
like "scope = sender: the page's button names the sender" \
    "$(curl -s "$UD_URL/u/$(ud_token $S news)")" \
    '*id="unsub-one">Unsubscribe from example.com</button>*'
R=$(curl -s -w '\n%{http_code}' -d List-Unsubscribe=One-Click \
    "$UD_URL/u/$(ud_token $S news)")
is "scope = sender: one-click POST 200" "$(printf '%s' "$R" | tail -1)" 200
like "... says what it left" "$R" "*You are unsubscribed from example.com.*"
is "scope = sender: news and tips (sender example.com) refused, offers kept" \
    "$(ud_status $S news)$(ud_status $S tips)$(ud_status $S offers)" 110
ok "daemon with scope = sender stops cleanly" ud_stop

# --- scope = partner and all: the same, in the person's language ---
sed -e 's/^\[unsubd\]$/&\nscope = partner/' "$UD_DIR/optgate.conf" \
    >"$UD_DIR/partner.conf"
CONF=$UD_DIR/partner.conf
U=ursula@example.org
ud_optin $U offers
ok "daemon starts with scope = partner" ud_start
like "scope = partner: the button names the partner's offers (pt-BR)" \
    "$(curl -s -H 'Accept-Language: pt-BR' "$UD_URL/u/$(ud_token $U offers)")" \
    '*id="unsub-one">Cancelar inscrição em Ofertas de acme</button>*'
like "... and its answer" "$(curl -s -H 'Accept-Language: pt-BR' \
    -d List-Unsubscribe=One-Click "$UD_URL/u/$(ud_token $U offers)")" \
    "*Sua inscrição em Ofertas de acme foi cancelada.*"
ok "daemon with scope = partner stops cleanly" ud_stop
sed -e 's/^\[unsubd\]$/&\nscope = all/' "$UD_DIR/optgate.conf" \
    >"$UD_DIR/all.conf"
CONF=$UD_DIR/all.conf
V=vera@example.org
ud_optin $V news
ok "daemon starts with scope = all" ud_start
like "scope = all: the button says everything" \
    "$(curl -s "$UD_URL/u/$(ud_token $V news)")" \
    '*id="unsub-one">Unsubscribe from everything</button>*'
ok "daemon with scope = all stops cleanly" ud_stop
done_testing
