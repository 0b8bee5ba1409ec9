"""Cross-checks ing_twilio_signature_ok against Twilio's own helper library
(twilio.request_validator.RequestValidator) on random inputs: every
signature Twilio's code computes, ours accepts; a changed one, ours refuses.
ING_TWILIO_SIGCHECK names the helper executable (set by ctest)."""
import os
import random
import string
import subprocess
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

SIGCHECK = os.environ.get("ING_TWILIO_SIGCHECK", "ing_twilio_sigcheck")
ALPHABET = string.ascii_letters + string.digits + " +-_.:/&=%?çğüşöıÇĞÜŞÖİàèéìòùñ€"


def ours(token, url, body, signature):
    out = subprocess.run([SIGCHECK, token, url, body, signature], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip() == "1"


def random_text(rng, lo, hi):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


def random_case(rng):
    token = "".join(rng.choice(string.hexdigits.lower()) for _ in range(32))
    host = rng.choice(["example.com", "ingest.callbus.example:8443", "hooks.example.it"])
    url = "https://%s/twilio/%s?tenant=%d" % (host, rng.choice(["status", "recording"]),
                                              rng.randint(1, 999))
    params = {random_text(rng, 1, 12): random_text(rng, 0, 30) for _ in range(rng.randint(0, 12))}
    params.update({"CallSid": "CA" + "".join(rng.choice("0123456789abcdef") for _ in range(32)),
                   "CallStatus": rng.choice(["ringing", "in-progress", "completed"])})
    return token, url, params


def test_published_example():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    sig = RequestValidator("12345").compute_signature(url, params)
    assert sig == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert ours("12345", url, urlencode(params), sig)


def test_random_inputs_agree_with_twilio_library():
    rng = random.Random(20260312)
    for _ in range(60):
        token, url, params = random_case(rng)
        body = urlencode(params)
        sig = RequestValidator(token).compute_signature(url, params)
        assert RequestValidator(token).validate(url, params, sig)
        assert ours(token, url, body, sig), (token, url, body, sig)
        tampered = dict(params, CallStatus=params["CallStatus"] + "x")
        assert not ours(token, url, urlencode(tampered), sig)


def test_port_forms_agree_with_twilio_library():
    rng = random.Random(7)
    for url in ["https://example.com/twilio", "https://example.com:443/twilio",
                "http://example.com:80/t?x=1", "https://example.com:8443/twilio"]:
        token, _, params = random_case(rng)
        body = urlencode(params)
        for signed in [url, url.replace(":443", "").replace(":80", "")]:
            sig = RequestValidator(token).compute_signature(signed, params)
            assert ours(token, url, body, sig) == RequestValidator(token).validate(url, params, sig)
