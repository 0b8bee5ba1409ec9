"""The Dynamics 365 widget's pages on the server side (issue 22 item 2;
docs/pop.md "The Dynamics widget"): GET /apps/dynamics/ is the Channel
Integration Framework panel's page, loading the org's msdyn_ciLibrary.js
as Microsoft documents it, with a CSP that lets only pop-service's and the
org's scripts run, lets the page talk only to pop-service and the OpenID
Connect issuer, and lets only the org frame it; /apps/dynamics/signed-in,
where the sign-in popup lands, runs nothing. A half-made configuration
stops pop-service at start. The browser side: test_dynamics_widget.py."""
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

import pop

ORG = "https://contoso.crm4.dynamics.com"


@pytest.fixture(scope="module")
def idp():
    emu = pop.oidc_emulator()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def widget(topics, logdir, idp):
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, "dynamics-page",
                      pop.oidc_env(idp, CALLBUS_POP_DYNAMICS_ORG_URL=ORG))
    yield s
    s.stop()


def get(svc, path):
    try:
        with urllib.request.urlopen(svc.url + path, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def csp(headers):
    """The CSP's directives: {name: [sources]}."""
    out = {}
    for d in headers["Content-Security-Policy"].split(";"):
        name, *sources = d.split()
        out[name] = sources
    return out


def test_the_widget_page_loads_the_orgs_cif_library(widget, idp):
    status, headers, page = get(widget, "/apps/dynamics/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    # "Pass a Dynamics 365 URL to a widget library" (CIF 1.0 and 2.0).
    assert (f'<script src="{ORG}/webresources/Widget/msdyn_ciLibrary.js" data-crmurl="{ORG}" '
            'data-cifid="CIFMainLibrary"></script>') in page
    for script in ("/agent/oidc.js", "/agent/popstream.js", "/agent/dynamics.js"):
        assert f'<script src="{script}"></script>' in page
        assert get(widget, script)[0] == 200
    p = csp(headers)
    issuer = urllib.parse.urlsplit(idp.issuer)
    assert p["default-src"] == ["'none'"]
    assert p["script-src"] == ["'self'", ORG]                       # no inline script
    assert p["connect-src"] == ["'self'", f"{issuer.scheme}://{issuer.netloc}"]
    assert p["frame-ancestors"] == [ORG]                            # only the org frames it
    assert p["form-action"] == ["'none'"] and p["base-uri"] == ["'none'"]
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    # No secret, no session: the agent signs in with the identity provider.
    assert pop.SECRET not in page and "callbus-session" not in page
    assert "Set-Cookie" not in headers


def test_the_popups_landing_page_runs_nothing(widget):
    status, headers, page = get(widget, "/apps/dynamics/signed-in?code=abc&state=xyz")
    assert status == 200 and "<script" not in page
    p = csp(headers)
    assert p["default-src"] == ["'none'"] and "script-src" not in p
    assert p["frame-ancestors"] == ["'none'"]
    # Its address carries the authorization code: never sent on as a referrer.
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"


def test_other_paths_under_the_widget_are_not_found(widget):
    assert get(widget, "/apps/dynamics/page.html")[0] == 404  # the template itself is not served
    assert get(widget, "/apps/dynamics/nothing")[0] == 404


def test_without_an_org_the_widget_is_off(svc):
    assert get(svc, "/apps/dynamics/")[0] == 404


@pytest.mark.parametrize("env, says", [
    # The widget signs agents in with OpenID Connect only.
    ({"CALLBUS_POP_OIDC_ISSUER": ""}, "CALLBUS_POP_OIDC_ISSUER"),
    # An origin only: the library's URL is built from it, frame-ancestors names it.
    ({"CALLBUS_POP_DYNAMICS_ORG_URL": ORG + "/main.aspx"}, "CALLBUS_POP_DYNAMICS_ORG_URL"),
    ({"CALLBUS_POP_DYNAMICS_ORG_URL": "contoso.crm4.dynamics.com"}, "CALLBUS_POP_DYNAMICS_ORG_URL"),
    ({"CALLBUS_POP_DYNAMICS_ORG_URL": ORG + "\"><script>"}, "CALLBUS_POP_DYNAMICS_ORG_URL"),
])
def test_a_half_configured_widget_stops_pop_service_at_start(topics, logdir, idp, env, says):
    s = pop.PopService(topics, "pop-misconfigured", logdir, "dynamics-misconfigured",
                       dict(pop.oidc_env(idp, CALLBUS_POP_DYNAMICS_ORG_URL=ORG), **env))
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLBUS_")}
    r = subprocess.run([s.bin], env=dict(base, **s.env), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and says in r.stdout + r.stderr, (r.returncode, r.stdout[-2000:])
    assert "dynamics widget" in r.stdout + r.stderr
