"""What the CRM emulators (Zendesk, Dynamics) share: fail-next injection
rules and the command-line run loop.

An injection rule is a dict set through an emulator's ``/__emulator/config``
(``{"inject": [...]}``): ``method`` (any when absent), ``path_regex``
(searched in the request path), ``count`` (how many requests it hits,
default 1), then the emulator's own reply fields (``status``, ``body``,
``headers``, ``retry_after``, ``delay_ms``, ``apply``)."""
import re
import signal
import threading


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
