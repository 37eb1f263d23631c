"""unsubd_browser.py - headless Chromium clicks through optgate-unsubd.

    python3 unsubd_browser.py BASE_URL TOKEN ARTIFACTS_DIR PROFILE_DIR \
        OPTGATE CONF ADDRESS [PAUSED_TOKEN PAUSED_ADDRESS]

Drives a real browser through the DevTools protocol (cdp.py): opens the
page on a phone-sized screen in pt-BR (Accept-Language), switches to
Spanish and English with the language links, saves a screenshot of each,
unticks a stream and picks "one a week" for another, saves, reloads the
answer (the form sent again), ticks it again
(opt back in), and finally presses the one-click button - all with real
mouse clicks.  With a paused address (all its mail paused for a while) it
then saves that one's page untouched and presses "resume now" for tips.
After each step it asks the store with `optgate status`.
Prints one "name|value" line per observation for the shell test.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

base, token, arts, profile, optgate, conf, addr = sys.argv[1:8]
paused = sys.argv[8:10]
os.makedirs(arts, exist_ok=True)


def out(name, value):
    print("%s|%s" % (name, value), flush=True)


def status(stream, who=None):
    return subprocess.call([optgate, "-c", conf, "status", who or addr,
                            "--stream", stream],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


b = cdp.Browser(profile)
try:
    p = b.new_page()
    p.set_viewport(390, 844)
    p.set_headers({"Accept-Language": "pt-BR,pt;q=0.9"})
    url = "%s/u/%s" % (base, token)
    p.navigate(url)
    out("lang_first", p.eval("document.documentElement.lang"))
    out("masked", p.eval("document.querySelector('main p').textContent"))
    out("no_hscroll", p.eval(
        "document.documentElement.scrollWidth <= window.innerWidth"))
    out("scripts", p.eval("document.scripts.length"))
    out("unlabelled", p.eval(
        "Array.from(document.querySelectorAll('input:not([type=hidden]),"
        "select')).filter(e => e.labels.length == 0).length"))
    p.screenshot(os.path.join(arts, "unsubd-pt-BR.png"))
    out("status_news_start", status("news"))

    # Keyboard: Tab reaches the language links first.
    p.key("Tab", "Tab", 9)
    out("tab_focus", p.eval("document.activeElement.tagName"))

    p.click('nav a[lang="es"]', navigates=True)
    out("lang_es", p.eval("document.documentElement.lang"))
    out("button_es", p.eval("document.getElementById('unsub-one')"
                            ".textContent"))
    p.screenshot(os.path.join(arts, "unsubd-es.png"))
    p.click('nav a[lang="en"]', navigates=True)
    out("lang_en", p.eval("document.documentElement.lang"))
    p.screenshot(os.path.join(arts, "unsubd-en.png"))

    # Preference center: untick tips, one a week for news, save.
    p.click('input[name="s"][value="tips"]')
    out("tips_after_click", p.eval(
        "document.querySelector('input[name=\"s\"][value=\"tips\"]')"
        ".checked"))
    p.eval("document.querySelector('select[name=\"c.news\"]')"
           ".value = '1/7d'")
    p.click("#save", navigates=True)
    out("notice_saved", p.eval(
        "(document.querySelector('.notice')||{}).textContent"))
    out("tips_checked_after_save", p.eval(
        "document.querySelector('input[name=\"s\"][value=\"tips\"]')"
        ".checked"))
    out("news_cap_after_save", p.eval(
        "document.querySelector('select[name=\"c.news\"]').value"))
    p.screenshot(os.path.join(arts, "unsubd-en-saved.png"))
    out("status_tips_after_untick", status("tips"))
    out("status_news_after_save", status("news"))
    # Reload of the saved page: the browser sends the same form again.
    p.reload()
    out("notice_after_reload", p.eval(
        "(document.querySelector('.notice')||{}).textContent"))
    out("tips_checked_after_reload", p.eval(
        "document.querySelector('input[name=\"s\"][value=\"tips\"]')"
        ".checked"))
    out("status_tips_after_reload", status("tips"))

    # Opt back in (the store takes an opt-in newer than the opt-out).
    time.sleep(1.1)
    p.click('input[name="s"][value="tips"]')
    p.click("#save", navigates=True)
    out("tips_checked_after_optin", p.eval(
        "document.querySelector('input[name=\"s\"][value=\"tips\"]')"
        ".checked"))
    out("status_tips_after_optin", status("tips"))

    # The one button: the same POST a mailbox provider sends.
    p.click("#unsub-one", navigates=True)
    out("oneclick_text", p.eval(
        "document.querySelector('[role=status]').textContent"))
    p.screenshot(os.path.join(arts, "unsubd-en-done.png"))
    out("status_news_after_oneclick", status("news"))

    # Unsubscribe from everything, in Portuguese.
    p.navigate(url + "?lang=pt-BR")
    p.click("#unsub-all", navigates=True)
    out("notice_all", p.eval(
        "(document.querySelector('.notice')||{}).textContent"))
    out("status_offers_after_all", status("offers"))
    p.screenshot(os.path.join(arts, "unsubd-pt-BR-all.png"))

    if paused:
        # A paused person's page: ticked, "paused: it resumes on DATE".
        ptok, paddr = paused
        p.navigate("%s/u/%s?lang=en" % (base, ptok))
        news = "document.querySelector('input[name=\"s\"][value=\"news\"]')"
        out("paused_news_checked", p.eval(news + ".checked"))
        out("paused_note", p.eval(
            "document.getElementById(" + news +
            ".getAttribute('aria-describedby')).textContent"))
        out("paused_unlabelled", p.eval(
            "Array.from(document.querySelectorAll('input:not([type=hidden]),"
            "select')).filter(e => e.labels.length == 0).length"))
        out("paused_no_hscroll", p.eval(
            "document.documentElement.scrollWidth <= window.innerWidth"))
        p.screenshot(os.path.join(arts, "unsubd-en-paused.png"))
        p.click("#save", navigates=True)
        out("paused_untouched_notice", p.eval(
            "(document.querySelector('.notice')||{}).textContent"))
        out("paused_status_news_after_save", status("news", paddr))
        time.sleep(1.1)
        p.click('input[name="r"][value="tips"]')
        p.click("#save", navigates=True)
        out("paused_status_tips_after_resume", status("tips", paddr))
        out("paused_status_news_after_resume", status("news", paddr))
    out("done", "yes")
finally:
    b.close()
