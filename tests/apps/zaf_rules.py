"""What Zendesk checks when an app package is uploaded or validated
(POST /api/v2/apps/validate, which `zcli apps:validate` calls): a subset of
the rules of Zendesk's own validator (the zendesk_apps_support gem:
validations/manifest.rb, translations.rb, mime.rb), re-stated here for the
offline stand-in (validate_standin.py), plus the logo sizes Zendesk's
developer docs ask for. With a Zendesk account the test runs zcli against
Zendesk itself instead (test_zendesk_package.py).

check(files) takes {relative path: bytes} (the package's zip) and returns
the list of errors (text), empty when the package is valid."""
import json
import re
import struct
import urllib.parse

LOCALE = re.compile(r"^[a-z]{2,3}(-\w{2,3})?$")
PRODUCTS = {
    "support": {"top_bar", "nav_bar", "ticket_sidebar", "new_ticket_sidebar", "user_sidebar",
                "organization_sidebar", "background", "modal", "ticket_editor", "system_top_bar"},
    "chat": {"chat_sidebar", "background"},
    "sell": {"top_bar", "note_editor", "call_log_editor", "email_editor", "person_card",
             "deal_card", "lead_card", "background", "modal"},
}
PARAMETER_TYPES = {"text", "checkbox", "url", "number", "multiline", "hidden", "oauth", "mtls"}
BOOLEANS = ("requirementsOnly", "marketingOnly", "singleInstall", "signedUrls", "private")
STRINGS = ("defaultLocale", "version", "frameworkVersion", "remoteInstallationURL",
           "termsConditionsURL", "gaID")
BLOCKED_EXTENSIONS = {"rar", "zip", "gzip", "pdf", "doc", "docx", "avi", "bin", "bz", "bz2", "csh",
                      "sh", "jar", "mp3", "mpeg", "odt", "pptx", "ppt", "xls", "xlsx", "7z"}
LOGOS = {"assets/logo.png": (320, 320), "assets/logo-small.png": (128, 128)}


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"duplicate keys {sorted(dup)}")
    return dict(pairs)


def _valid_url(u):
    p = urllib.parse.urlsplit(u) if isinstance(u, str) else None
    return bool(p and p.scheme in ("http", "https") and p.hostname)


def _location_errors(manifest, files):
    errors = []
    loc = manifest.get("location")
    if not isinstance(loc, dict) or not loc:
        return ["missing required key: location"]
    for product, places in loc.items():
        if product not in PRODUCTS:
            errors.append(f"unknown host {product}")
            continue
        for name, opts in (places or {}).items():
            if name not in PRODUCTS[product]:
                errors.append(f"invalid location {name} for {product}")
                continue
            opts = {"url": opts} if isinstance(opts, str) else (opts or {})
            url = opts.get("url")
            if isinstance(url, str) and url:
                if "{{setting." in url:
                    continue  # filled from the installation's settings at run time
                p = urllib.parse.urlsplit(url)
                ok = (p.scheme == "https" or p.hostname == "localhost") if p.scheme else \
                    (p.path.startswith("assets/") and p.path in files)
                if not ok:
                    errors.append(f"invalid location URI {url}")
            elif opts.get("autoLoad", True):
                errors.append(f"blank location URI for {name}")
            if "flexible" in opts and not isinstance(opts["flexible"], bool):
                errors.append(f"{name}.flexible must be a boolean")
    return errors


def _parameter_errors(manifest):
    params = manifest.get("parameters", [])
    if not isinstance(params, list):
        return ["parameters must be an array"]
    errors = []
    names = [p.get("name") for p in params]
    if len(set(names)) != len(names):
        errors.append("duplicate parameters")
    for p in params:
        if p.get("type", "text") not in PARAMETER_TYPES:
            errors.append(f"parameter {p.get('name')}: invalid type {p.get('type')}")
        for flag in ("required", "secure"):
            if flag in p and not isinstance(p[flag], bool):
                errors.append(f"parameters[name={p.get('name')}].{flag} must be a boolean")
        if p.get("name") == "name":
            errors.append("a parameter may not be called name")
    return errors


def _manifest_errors(manifest, files):
    errors = [f"missing required key: {k}" for k in ("author", "defaultLocale") if k not in manifest]
    errors += [f"{k} must be a boolean" for k in BOOLEANS
               if k in manifest and not isinstance(manifest[k], bool)]
    errors += [f"{k} must be a string" for k in STRINGS
               if k in manifest and not isinstance(manifest[k], str)]
    author = manifest.get("author") or {}
    errors += [f"author {k} must be a string" for k in ("name", "email", "url")
               if k in author and not isinstance(author[k], str)]
    if author.get("url") and not _valid_url(author["url"]):
        errors.append("invalid author url")
    locale = manifest.get("defaultLocale")
    if isinstance(locale, str):
        if not LOCALE.match(locale):
            errors.append(f"invalid default locale {locale}")
        elif f"translations/{locale}.json" not in files:
            errors.append(f"missing translation file for the default locale {locale}")
    if not (manifest.get("requirementsOnly") or manifest.get("marketingOnly")):
        errors += _location_errors(manifest, files)
        if "frameworkVersion" not in manifest:
            errors.append("missing required key: frameworkVersion")
    return errors + _parameter_errors(manifest)


def _translation_errors(path, raw, private):
    locale = path[len("translations/"):-len(".json")]
    if not LOCALE.match(locale):
        return [f"{path}: invalid locale"]
    try:
        doc = json.loads(raw)
    except ValueError as err:
        return [f"{path}: not JSON ({err})"]
    if not isinstance(doc, dict):
        return [f"{path}: not a JSON object"]
    app = doc.get("app") if isinstance(doc.get("app"), dict) else {}
    errors = [f"{path}: parameter {k} has no label" for k, v in (app.get("parameters") or {}).items()
              if not isinstance(v, dict) or "label" not in v]
    if path == "translations/en.json":
        keys = {"short_description" if k == "description" else k for k in app}
        need = ["name"] if private else ["name", "short_description", "installation_instructions",
                                         "long_description"]
        errors += [f"{path}: missing app.{k}" for k in need if k not in keys]
    return errors


def _png_size(raw):
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", raw[16:24])


def check(files):
    if "manifest.json" not in files:
        nested = [f for f in files if f.endswith("/manifest.json")]
        return [f"manifest.json is not at the package's root ({nested[0]})" if nested
                else "missing manifest.json"]
    try:
        manifest = json.loads(files["manifest.json"], object_pairs_hook=_no_duplicates)
    except ValueError as err:
        return [f"manifest.json: {err}"]
    if not isinstance(manifest, dict):
        return ["manifest.json is not a JSON object"]
    errors = _manifest_errors(manifest, files)
    for path, raw in files.items():
        if re.match(r"^translations/.*\.json$", path):
            errors += _translation_errors(path, raw, manifest.get("private") is True)
        if path.rsplit(".", 1)[-1].lower() in BLOCKED_EXTENSIONS:
            errors.append(f"unsupported file type: {path}")
    for path, size in LOGOS.items():
        got = _png_size(files.get(path, b""))
        if got != size:
            errors.append(f"{path} must be a {size[0]}x{size[1]} PNG (is {got or 'missing'})")
    return errors
