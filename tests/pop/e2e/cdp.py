"""A small Chrome DevTools Protocol client for Debian's headless Chromium
(no browser download: the `chromium` package from deploy/local/deps.sh
--browser), over websocket-client. Enough to load a page, run script in
it, wait for the DOM and take a screenshot."""
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        assert exe, "chromium not installed (deploy/local/deps.sh --browser)"
        self.profile = tempfile.mkdtemp(prefix="callbus-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={self.profile}", "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
            elif not line and self.proc.poll() is not None:
                break
        assert port, "chromium did not start its DevTools endpoint"
        self.port = port
        self._attach(self.pages()[0])

    def pages(self):
        """The browser's page targets (DevTools /json/list)."""
        return self.targets("page")

    def targets(self, kind):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as r:
            return [t for t in json.load(r) if t["type"] == kind]

    def _attach(self, target):
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
        self.ids = itertools.count(1)
        self.events = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def window(self, url_prefix, timeout=20.0, kind="page"):
        """Another window of this browser (a popup the page opened), found
        by its URL: driven like this one; close() only lets go of it.
        kind "iframe": a frame of another site inside a page (Chromium runs
        it in a process, and a DevTools target, of its own)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [t for t in self.targets(kind) if t["url"].startswith(url_prefix)]
            if found:
                break
            assert time.monotonic() < deadline, f"no window at {url_prefix}"
            time.sleep(0.1)
        other = object.__new__(Browser)
        other.port, other.proc, other.profile = self.port, None, None
        other._attach(found[0])
        return other

    def send(self, method, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == i:
                assert "error" not in msg, f"{method}: {msg['error']}"
                return msg.get("result", {})
            self.events.append(msg)  # events (dialogs, console) are kept

    def js(self, expr, gesture=False):
        """Evaluates expr in the page (awaiting a promise); returns its value.
        gesture: as if the user clicked (what window.open wants)."""
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True,
                      userGesture=gesture)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def goto(self, url):
        # Through a blank page: navigating to the URL already shown would
        # let the wait below see the old document.
        self.send("Page.navigate", url="about:blank")
        self.wait("location.href === 'about:blank'")
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && !!document.querySelector('body')")

    # What Chromium answers when the page navigates while it evaluates:
    # a wait spans navigations (a redirect to the provider and back), so it
    # asks again.
    NAVIGATING = ("Inspected target navigated or closed", "Execution context was destroyed",
                  "Cannot find context with specified id")

    def wait(self, expr, timeout=20.0, what=None):
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.js(expr)
            except AssertionError as e:
                if not any(n in str(e) for n in self.NAVIGATING) or time.monotonic() > deadline:
                    raise
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"page: timed out waiting for {what or expr}")
            time.sleep(0.1)

    def dialogs(self):
        return [e for e in self.events if e.get("method") == "Page.javascriptDialogOpening"]

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.ws.close()
        finally:
            if self.proc is None:  # a window of another Browser
                return
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
