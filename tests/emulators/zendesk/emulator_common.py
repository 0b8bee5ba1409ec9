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
