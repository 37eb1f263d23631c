"""cdp.py - a minimal Chrome DevTools Protocol client (standard library only).

Chromium is started with --remote-debugging-pipe: it reads NUL-terminated
JSON messages on fd 3 and writes its replies and events on fd 4, so no
port and no websocket are needed.  Commands to a page go through a flat
session (Target.attachToTarget flatten=true).

    b = Browser(user_data_dir)
    page = b.new_page()
    page.navigate("http://127.0.0.1:18080/u/TOKEN")
    page.click("#save")              # a real mouse click at its centre
    page.screenshot("out.png")
    b.close()
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import time

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
    "--no-default-browser-check", "--disable-dev-shm-usage",
    "--remote-debugging-pipe", "--hide-scrollbars",
]


class CDPError(Exception):
    pass


def _high(fd):
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
    os.close(fd)
    return new


class Browser:
    def __init__(self, user_data_dir, binary="chromium", timeout=30.0):
        self.timeout = timeout
        # fds 3 and 4 of the child: its input and output pipes.
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        # Move the child's ends above 3 and 4 so the redirections below
        # never close what they just made.
        to_child_r = _high(to_child_r)
        from_child_w = _high(from_child_w)
        os.set_inheritable(to_child_r, True)
        os.set_inheritable(from_child_w, True)
        args = [binary] + CHROMIUM_FLAGS + [
            "--user-data-dir=" + user_data_dir, "about:blank"]
        # bash (dash takes no fd above 9) puts the pipes on fds 3 and 4,
        # then becomes chromium.
        sh = 'exec "$@" 3<&%d 4>&%d %d<&- %d>&-' % (
            to_child_r, from_child_w, to_child_r, from_child_w)
        self.log = open(os.path.join(user_data_dir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            ["bash", "-c", sh, "bash"] + args,
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            close_fds=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events = []

    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._w, data)
            data = data[n:]

    def _read_one(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timeout waiting for chromium")
            r, _, _ = select.select([self._r], [], [], left)
            if not r:
                continue
            chunk = os.read(self._r, 65536)
            if not chunk:
                raise CDPError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None):
        self._id += 1
        mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_one(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, session=None, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and (
                        session is None or e.get("sessionId") == session):
                    del self.events[i]
                    return e
            self.events.append(self._read_one(deadline))

    def new_page(self):
        t = self.call("Target.createTarget", {"url": "about:blank"})
        s = self.call("Target.attachToTarget",
                      {"targetId": t["targetId"], "flatten": True})
        return Page(self, s["sessionId"])

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._r)
        os.close(self._w)
        self.log.close()


class Page:
    def __init__(self, browser, session):
        self.b = browser
        self.s = session
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Network.enable")

    def call(self, method, params=None):
        return self.b.call(method, params, self.s)

    def set_headers(self, headers):
        self.call("Network.setExtraHTTPHeaders", {"headers": headers})

    def set_viewport(self, width, height, mobile=True, scale=2):
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale,
            "mobile": mobile})

    def _mark(self):
        # A mark on the current document: a new document has none.
        self.eval("window.__cdp_old = 1")

    def _wait_new_document(self):
        # Load events of an earlier document may still be queued, so
        # wait for a document without the mark that finished loading.
        deadline = time.monotonic() + self.b.timeout
        while time.monotonic() < deadline:
            try:
                if self.eval("window.__cdp_old === undefined && "
                             "document.readyState === 'complete'"):
                    return
            except CDPError:
                pass  # the context is being replaced
            time.sleep(0.05)
        raise CDPError("timeout waiting for the new page")

    def navigate(self, url):
        self._mark()
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, r["errorText"]))
        self._wait_new_document()

    def reload(self):
        """Reload; the answer to a form is fetched by sending it again."""
        self._mark()
        self.call("Page.reload")
        self._wait_new_document()

    def eval(self, expr):
        r = self.call("Runtime.evaluate",
                      {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise CDPError("eval %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def center(self, selector):
        box = self.eval(
            "(function(){var e=document.querySelector(%s);"
            "if(!e)return null;e.scrollIntoView({block:'center'});"
            "var r=e.getBoundingClientRect();"
            "return [r.left+r.width/2,r.top+r.height/2];})()"
            % json.dumps(selector))
        if box is None:
            raise CDPError("no element " + selector)
        return box

    def click(self, selector, navigates=False):
        """A real mouse click (press and release) at the element's centre."""
        x, y = self.center(selector)
        if navigates:
            self._mark()
        for t in ("mouseMoved", "mousePressed", "mouseReleased"):
            p = {"type": t, "x": x, "y": y}
            if t != "mouseMoved":
                p.update({"button": "left", "clickCount": 1})
            self.call("Input.dispatchMouseEvent", p)
        if navigates:
            self._wait_new_document()

    def key(self, key, code, keycode):
        for t in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {
                "type": t, "key": key, "code": code,
                "windowsVirtualKeyCode": keycode})

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot",
                      {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
