"""What the CRM emulators (Zendesk, Dynamics) share: the HTTP server's
life cycle, fail-next injection rules and the command-line run loop.

An injection rule is a dict set through an emulator's ``/__emulator/config``
(``{"inject": [...]}``): ``method`` (any when absent), ``path_regex``
(searched in the request path), ``count`` (how many requests it hits,
default 1), then the emulator's own reply fields (``status``, ``body``,
``headers``, ``retry_after``, ``delay_ms``, ``apply``)."""
import re
import signal
import threading
import time
from http.server import ThreadingHTTPServer


class ServedEmulator:
    """An emulator's HTTP server on its own thread. Subclasses set
    ``self.host``/``self.port``, name their request handler class in
    :meth:`_handler` (it finds the emulator as ``self.server.emulator``) and
    may extend :meth:`_started` / :meth:`_stopping` (job runners, stores)."""

    THREAD_NAME = "emulator-http"

    server = None
    _thread = None

    def start(self):
        self.server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self.server.daemon_threads = True
        self.server.emulator = self
        self.port = self.server.server_address[1]
        self._started()
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        name=self.THREAD_NAME, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self._stopping()
            self.server = None

    def _handler(self):
        raise NotImplementedError

    def _started(self):
        """The port is known, requests are not served yet."""

    def _stopping(self):
        """The server has stopped serving."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"


def take_injection(lock, rules, method, path):
    """The first rule matching this request, with one use taken (the rule is
    dropped once used up); None when none matches. ``rules`` is the
    emulator's list, guarded by ``lock``."""
    with lock:
        for rule in rules:
            if rule.get("method", method).upper() != method:
                continue
            if not re.search(rule.get("path_regex", ""), path):
                continue
            rule["count"] = int(rule.get("count", 1)) - 1
            if rule["count"] <= 0:
                rules.remove(rule)
            return dict(rule)
    return None


def run_with_injection(rule, dispatch, injected_reply):
    """A taken rule (or None) around the real handler: its ``delay_ms``
    first; then its reply instead of the handler's, or, with ``apply``, its
    reply after the handler has changed the state (the answer is lost)."""
    if rule and rule.get("delay_ms"):
        time.sleep(float(rule["delay_ms"]) / 1000.0)
    if rule and not rule.get("apply"):
        return injected_reply(rule)
    reply = dispatch()
    return injected_reply(rule) if rule else reply


def serve_until_signal(emulator, port_file, name):
    """Runs a started emulator until SIGTERM/SIGINT: writes its port to
    ``port_file`` (when given) for whoever started it, then stops it."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if port_file:
        with open(port_file, "w", encoding="ascii") as handle:
            handle.write(f"{emulator.port}\n")
    print(f"{name} listening on {emulator.url}", flush=True)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    return 0


class WebhookSender:
    """Posts a CRM's webhooks from a thread of its own, as the real service
    does after the change it reports (issue 25 item 1): the change is made
    and answered first, the webhook follows. ``target`` is None (no webhook
    configured: nothing is sent) or a dict the emulator set through its
    control API: ``url`` plus the emulator's own credentials (``secret`` for
    Zendesk's signature, ``key`` for Dataverse's ``?code=``). A delivery
    answered other than 2xx, or not answered, is tried again up to three
    times (Zendesk and Dataverse both retry); ``deliveries`` keeps every
    attempt's outcome for tests: {"url", "status", "type"}."""

    ATTEMPTS = 3

    def __init__(self):
        import queue
        self.target = None
        self.deliveries = []
        self._queue = queue.Queue()
        self._thread = None  # started by the first configure(): most emulators post none

    def configure(self, target):
        if target is not None and (not isinstance(target, dict) or
                                   not isinstance(target.get("url"), str)):
            raise ValueError("webhook must be null or an object with a url")
        self.target = dict(target) if target else None
        if self.target and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
            self._thread.start()

    def send(self, kind, body, sign):
        """Queues one post: ``body`` (bytes), ``sign(target, body)`` ->
        (url, headers) made at delivery time, as the service signs then."""
        if self.target is not None:
            self._queue.put((dict(self.target), kind, body, sign))

    def _loop(self):
        import urllib.error
        import urllib.request
        while True:
            target, kind, body, sign = self._queue.get()
            for attempt in range(self.ATTEMPTS):
                url, headers = sign(target, body)
                req = urllib.request.Request(url, data=body, method="POST", headers=dict(
                    headers, **{"Content-Type": "application/json"}))
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        status = resp.status
                except urllib.error.HTTPError as err:
                    status = err.code
                except OSError:
                    status = None
                self.deliveries.append({"url": target["url"], "status": status, "type": kind})
                if status is not None and 200 <= status < 300:
                    break
                if status is not None and 400 <= status < 500 and status != 429:
                    break  # refused for good: a retry sends the same bytes
                time.sleep(0.2 * (attempt + 1))


class WebhookReceiver:
    """For the emulators' own tests: a local endpoint that answers 202 and
    keeps every post as (path, headers, body bytes)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler
        posts = self.posts = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append((self.path, dict(self.headers), body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, want, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.posts) < want and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.posts)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
