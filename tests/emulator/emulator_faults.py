"""Fail-next injection rules shared by the CRM emulators (Zendesk, Dynamics).

A rule is a dict set through an emulator's ``/__emulator/config``
(``{"inject": [...]}``): ``method`` (any when absent), ``path_regex``
(searched in the request path), ``count`` (how many requests it hits,
default 1), then the emulator's own reply fields (``status``, ``body``,
``headers``, ``retry_after``, ``delay_ms``, ``apply``)."""
import re


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
