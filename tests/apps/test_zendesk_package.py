"""The Zendesk app's package (apps/zendesk, issue 22 item 1) through
Zendesk's own validator: `zcli apps:validate`, which packs the folder as
an upload would and posts it to the account's POST /api/v2/apps/validate.

With a Zendesk account in the environment (ZENDESK_SUBDOMAIN and
ZENDESK_EMAIL + ZENDESK_API_TOKEN, or ZENDESK_OAUTH_TOKEN: zcli's own
variables) the package is validated by Zendesk itself. Without one (this
machine reaches no Zendesk), zcli runs the same way against
validate_standin.py, which applies the rules of zaf_rules.py. Either way
the test says which one answered."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zcli  # noqa: E402
from validate_standin import ValidateStandin  # noqa: E402

APP = os.path.join(zcli.ROOT, "apps", "zendesk")
REAL = bool(os.environ.get("ZENDESK_SUBDOMAIN")) and (
    bool(os.environ.get("ZENDESK_OAUTH_TOKEN"))
    or bool(os.environ.get("ZENDESK_EMAIL") and os.environ.get("ZENDESK_API_TOKEN")))


@pytest.fixture(scope="module")
def exe():
    return zcli.ensure()


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    """The environment zcli runs with: Zendesk's, or the stand-in's."""
    if REAL:
        print("zcli validates against Zendesk:", os.environ["ZENDESK_SUBDOMAIN"])
        yield None, {}
        return
    print("no Zendesk account in the environment: zcli validates against the stand-in")
    s = ValidateStandin(str(tmp_path_factory.mktemp("zendesk-validate")))
    yield s, s.zcli_env()
    s.close()


def run_zcli(exe, validator, app_dir, home):
    """zcli on a copy of the app (it writes its zip into <app>/tmp/)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENDESK_")} if validator[0] \
        else dict(os.environ)
    env.update(validator[1], HOME=home, NO_COLOR="1")
    r = subprocess.run([exe, "apps:validate", app_dir], env=env, capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout + r.stderr


def copy_app(tmp_path):
    dst = str(tmp_path / "zendesk")
    shutil.copytree(APP, dst)
    return dst


def test_zcli_validates_the_package(exe, validator, tmp_path):
    rc, out = run_zcli(exe, validator, copy_app(tmp_path), str(tmp_path))
    assert rc == 0 and "No validation errors" in out, out
    standin = validator[0]
    if standin:
        files, auth = standin.received[-1]
        # What an upload carries: the manifest, its translations and logos;
        # the README stays out (.zcliignore).
        assert {"manifest.json", "translations/en.json", "assets/logo.png",
                "assets/logo-small.png"} <= set(files), sorted(files)
        assert "README.md" not in files
        assert auth.startswith("Basic ")


@pytest.mark.parametrize("breakage, expected", [
    (lambda m: m.pop("frameworkVersion"), "frameworkVersion"),
    (lambda m: m["location"]["support"]["background"].update(url="http://pop.example/apps/zendesk/"),
     "invalid location URI"),
    (lambda m: m["location"]["support"].update(sidebar="x"), "invalid location sidebar"),
    (lambda m: m.update(signedUrls="yes"), "signedUrls must be a boolean"),
])
def test_zcli_refuses_a_broken_package(exe, validator, tmp_path, breakage, expected):
    """The check is no rubber stamp: the same package, broken one way,
    is refused and zcli says why (with the stand-in: its rules' words)."""
    import json
    app = copy_app(tmp_path)
    path = os.path.join(app, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    breakage(manifest)
    with open(path, "w") as f:
        json.dump(manifest, f)
    rc, out = run_zcli(exe, validator, app, str(tmp_path))
    assert rc != 0, out
    if validator[0]:
        assert expected in out, out
