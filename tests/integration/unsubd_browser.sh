#!/bin/sh
# A real browser (headless Chromium, driven through the DevTools
# protocol) clicks through optgate-unsubd's pages; the store shows each
# change.  Screenshots: $BUILD/test-artifacts/unsubd-*.png.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
. "$TOP/tests/lib/unsubd.sh"
trap ud_cleanup EXIT INT TERM

if ! command -v chromium >/dev/null 2>&1; then
	fail "chromium installed (tools/install-deps.sh)"
	done_testing
	exit 1
fi
ud_setup 18083 || { fail "setup"; done_testing; exit 1; }
A=maria.silva@example.com.br
ud_optin $A news
ud_optin $A offers
ud_optin $A tips
# All mail of Z paused for ten days (an import's temporary opt-out).
Z=zoe.pause@example.com
ud_optin $Z news
ud_optin $Z tips
PX=$(date -u -d '+10 days' +%Y-%m-%dT12:00:00Z)
printf 'address,state,expires\n%s,optout,%s\n' $Z "$PX" >"$UD_DIR/pause.csv"
"$BIN/optgate" -c "$CONF" import "$UD_DIR/pause.csv" >/dev/null 2>&1
ok "daemon starts" ud_start
TOK=$(ud_token $A news)
ARTS=$TOP/$BUILD/test-artifacts
mkdir -p "$UD_DIR/profile"
rm -f "$ARTS"/unsubd-*.png
timeout 120 python3 "$TOP/tests/browser/unsubd_browser.py" "$UD_URL" "$TOK" \
    "$ARTS" "$UD_DIR/profile" "$BIN/optgate" "$CONF" $A \
    "$(ud_token $Z news)" $Z \
    >"$UD_DIR/browser.out" 2>"$UD_DIR/browser.err"
rc=$?
is "browser script ran to the end" "$rc" 0
[ $rc -ne 0 ] && sed 's/^/# /' "$UD_DIR/browser.err" | tail -15
v() { sed -n "s/^$1|//p" "$UD_DIR/browser.out"; }

is "Accept-Language pt-BR gives the Portuguese page" "$(v lang_first)" pt-BR
is "address shown masked" "$(v masked)" \
    "Estas configurações são para m*****a@example.com.br."
is "readable on a phone: no sideways scrolling at 390 px" "$(v no_hscroll)" True
is "no JavaScript in the page" "$(v scripts)" 0
is "every control has a label" "$(v unlabelled)" 0
is "keyboard: Tab reaches a link" "$(v tab_focus)" A
is "switcher link to Spanish (clicked)" "$(v lang_es)" es
is "Spanish button text" "$(v button_es)" "Darse de baja de Weekly newsletter"
is "switcher link to English (clicked)" "$(v lang_en)" en
is "GET changed nothing" "$(v status_news_start)" 0
is "clicking the checkbox unticks it" "$(v tips_after_click)" False
is "saved notice after the click on Save" "$(v notice_saved)" \
    "Your choices are saved."
is "page reloads with tips unticked" "$(v tips_checked_after_save)" False
is "page shows the chosen cap" "$(v news_cap_after_save)" 1/7d
is "store: tips now refused" "$(v status_tips_after_untick)" 1
is "store: news still accepted" "$(v status_news_after_save)" 0
# A reload of the saved page sends the form again: what it asks for holds,
# so it is saved, not "changed after this page was opened, nothing saved".
is "reload after Save: still saved" "$(v notice_after_reload)" \
    "Your choices are saved."
is "... tips still unticked" "$(v tips_checked_after_reload)" False
is "... store: tips still refused" "$(v status_tips_after_reload)" 1
is "ticking it again subscribes again" "$(v tips_checked_after_optin)" True
is "store: tips accepted again" "$(v status_tips_after_optin)" 0
like "one-click button answers" "$(v oneclick_text)" \
    "You are unsubscribed from Weekly newsletter.*"
is "store: news refused after the button" "$(v status_news_after_oneclick)" 1
is "unsubscribe from everything (pt-BR)" "$(v notice_all)" \
    "Você não receberá mais nenhum e-mail nosso."
is "store: offers refused after everything" "$(v status_offers_after_all)" 1
like "opt-in proof holds the browser's user agent" \
    "$(mdb_dump -p -s events "$UD_DIR/store/consent")" "*HeadlessChrome*"
is "paused: news shows ticked" "$(v paused_news_checked)" True
is "... described by the day it resumes" "$(v paused_note)" \
    "Paused: it resumes on $(LC_ALL=C date -u -d "$PX" '+%-d %B %Y'). Untick the box to stop it for good."
is "... every control has a label" "$(v paused_unlabelled)" 0
is "... readable on a phone" "$(v paused_no_hscroll)" True
is "... Save pressed untouched: nothing to change" \
    "$(v paused_untouched_notice)" "Nothing to change."
is "... news still paused, not opted out" "$(v paused_status_news_after_save)" 1
is "... and not for good: back after the pause" \
    "$(OPTGATE_NOW=$(($(date -u -d "$PX" +%s) + 86400)) "$BIN/optgate" \
        -c "$CONF" status $Z --stream news >/dev/null 2>&1; echo $?)" 0
is "... Resume now for tips: tips accepted" \
    "$(v paused_status_tips_after_resume)" 0
is "... news still paused" "$(v paused_status_news_after_resume)" 1
for l in pt-BR es en; do
	ok "screenshot $l saved" test -s "$ARTS/unsubd-$l.png"
done
ok "daemon stops cleanly" ud_stop
done_testing
