"""Starting a callbus service binary for the process-level tests of
tests/common/e2e: free ports, a log file to read, the admin port from the
start-up log, and a clean kill whatever happens."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

BASE_ENV = {
    "CALLBUS_HTTP_BIND": "127.0.0.1",
    "CALLBUS_ADMIN_BIND": "127.0.0.1",
    "CALLBUS_HTTP_PORT": "0",
    "CALLBUS_ADMIN_PORT": "0",
    "CALLBUS_KAFKA_BROKERS": os.environ.get("CALLBUS_KAFKA_BROKERS", "127.0.0.1:1"),
    "CALLBUS_REDIS_URL": os.environ.get("CALLBUS_REDIS_URL", "redis://127.0.0.1:1"),
    "CALLBUS_ZENDESK_URL": "http://127.0.0.1:9",
    "CALLBUS_ZENDESK_EMAIL": "svc@example.com",
    "CALLBUS_ZENDESK_TOKEN": "x",
    "CALLBUS_TOPIC_PREFIX": f"svc{os.getpid()}.",
    "CALLBUS_TOPIC_PARTITIONS": "1",
}


def bins():
    return [b for b in os.environ.get("CALLBUS_SERVICE_BINS", "").split(":") if b]


def name(binary):
    return os.path.basename(binary)


def dead_port():
    """A port nothing listens on (bound, then closed: refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, binary, env=None, preexec_fn=None):
        self.binary = binary
        full = dict(os.environ)
        full.update(BASE_ENV)
        full.update(env or {})
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary], env=full, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=preexec_fn)

    def text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def wait_log(self, pattern, timeout):
        """The first match of `pattern` in the log, or None after timeout
        (or when the process exited)."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.text())
            if m or time.monotonic() > deadline or self.proc.poll() is not None:
                return m or re.search(pattern, self.text())
            time.sleep(0.05)

    def port(self, which="admin", timeout=30):
        what = " admin" if which == "admin" else ""
        m = self.wait_log(rf"{what} listening on [0-9.]+:(\d+)", timeout)
        assert m, f"{name(self.binary)}: no{what} port logged:\n{self.text()[-3000:]}"
        return int(m.group(1))

    def get(self, path, port=None, timeout=5):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port or self.port(), timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def wait_exit(self, timeout):
        """The exit status, or None when still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def log_lines(text):
    for line in text.splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue
