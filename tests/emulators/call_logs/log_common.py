"""What the call-log emulators share (issue 27): the providers' rate limit
(per second, plus a test's forced throttling) and a JSON reply."""
import json
import threading
import time


class RateLimit:
    """Requests per second past `limit_per_second`, or the next n after
    throttle(n), are refused; `requests` and `refused` count."""

    def __init__(self, limit_per_second):
        self.limit_per_second = limit_per_second
        self._lock = threading.Lock()
        self._sent, self._forced = [], 0
        self.requests = self.refused = 0

    def throttle(self, n):
        with self._lock:
            self._forced = n

    def refuse(self):
        """1 when this request is to be refused (counted either way)."""
        now = time.monotonic()
        with self._lock:
            self.requests += 1
            self._sent = [t for t in self._sent if now - t < 1]
            if self._forced > 0 or len(self._sent) >= self.limit_per_second:
                self._forced = max(0, self._forced - 1)
                self.refused += 1
                return True
            self._sent.append(now)
        return False


def send_json(handler, status, doc, headers=None, content_type="application/json"):
    """Writes `doc` as the reply of a BaseHTTPRequestHandler."""
    raw = json.dumps(doc).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(raw)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(raw)
