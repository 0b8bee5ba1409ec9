#!/usr/bin/env bash
# Install the build/test/run dependencies of callbus that are missing.
# Fast no-op when everything is present: apt and pip run only for gaps.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(
    build-essential cmake pkg-config
    librdkafka-dev libcurl4-openssl-dev libjansson-dev libhiredis-dev
    libevent-dev libssl-dev libphonenumber-dev libcjose-dev
    redis-server kcat
    clang clang-format libclang-rt-14-dev wrk
    curl
)
# --browser: the agent page's browser test (tests/pop/e2e) drives Debian's
# headless Chromium over the DevTools protocol; only the tests need it.
WITH_BROWSER=0
[[ "${1:-}" == "--browser" ]] && WITH_BROWSER=1
((WITH_BROWSER)) && APT_PACKAGES+=(chromium)
# --browser also brings the CRM apps' validator (tests/apps: zcli, npm);
# node may come from outside Debian (nvm, tarballs): apt only without it.
((WITH_BROWSER)) && ! command -v npm >/dev/null && APT_PACKAGES+=(nodejs npm)
# java/mvn may come from outside Debian (SDKMAN, tarballs): only ask apt
# for them when they are not on PATH at all.
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    APT_PACKAGES+=(default-jdk-headless maven)
fi

# pip distribution name -> import name (they differ for openapi-core).
declare -A PY_MODULES=(
    [jsonschema]=jsonschema
    [pytest]=pytest
    [requests]=requests
    [openapi-core]=openapi_core
    [rfc3339-validator]=rfc3339_validator
    [pyyaml]=yaml
    # tests/deploy: the Kubernetes JSON schemas it ships validate the
    # rendered manifests offline
    [kubernetes-validate]=kubernetes_validate
    # tests/ingest/unit: our X-Twilio-Signature check against Twilio's own helper
    # library (the reference implementation of the signature)
    [twilio]=twilio
    # tests/emulators/oidc: the OpenID Connect emulator's RSA keys and
    # signatures (PyJWT, which twilio brings, verifies them in its self-test);
    # tests/pop/e2e also plays Zendesk with it, signing the Zendesk app's
    # request (RS256) with a key it makes (issue 22 item 1)
    [pyjwt]=jwt
    [cryptography]=cryptography
)
((WITH_BROWSER)) && PY_MODULES[websocket-client]=websocket

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

missing_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)"
    [[ "${status}" == "install ok installed" ]] || missing_apt+=("${pkg}")
done
if ((${#missing_apt[@]})); then
    log "installing Debian packages: ${missing_apt[*]}"
    # update first: a fresh container's package lists are usually empty.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing_apt[@]}"
fi

# python3 may be pyenv's (not Debian's), so go through its own pip. One
# interpreter run checks all modules; importlib.util.find_spec only locates
# them (no heavy imports), which keeps the no-op path fast.
read -r -a missing_py <<<"$(
    python3 - "${!PY_MODULES[@]}" "${PY_MODULES[@]}" <<'PY'
import importlib.util, sys
args = sys.argv[1:]
half = len(args) // 2
print(" ".join(d for d, m in zip(args[:half], args[half:])
               if importlib.util.find_spec(m) is None))
PY
)"
if ((${#missing_py[@]})); then
    log "installing Python modules: ${missing_py[*]}"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet "${missing_py[@]}"
fi

# tests/deploy: kustomize renders the manifests, kubeconform validates the
# KEDA and Strimzi objects against tests/deploy/schemas. Built from the Go
# module proxy (no prebuilt download) into ${CALLBUS_CACHE_DIR}/tools/bin,
# where tests/deploy/test_deploy.py looks; a stamp per binary holds the
# version it was built from.
GO_TOOLS=(
    sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
    github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
)
tools_bin="${CALLBUS_CACHE_DIR}/tools/bin"
missing_go=()
for mod in "${GO_TOOLS[@]}"; do
    name="${mod%@*}"
    name="${name##*/}"
    [[ "${name}" == v5 ]] && name=kustomize
    [[ -x "${tools_bin}/${name}" && "$(cat "${tools_bin}/${name}.version" 2>/dev/null)" == "${mod}" ]] ||
        missing_go+=("${name}=${mod}")
done
if ((${#missing_go[@]})); then
    go_bin="$(command -v go || true)"
    [[ -z "${go_bin}" && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
    [[ -n "${go_bin}" ]] || die "tests/deploy needs Go >= 1.22 on PATH to build: ${missing_go[*]}"
    mkdir -p "${tools_bin}"
    for entry in "${missing_go[@]}"; do
        name="${entry%%=*}"
        mod="${entry#*=}"
        log "building ${mod} into ${tools_bin} (first run only)"
        # GOTOOLCHAIN=local: never fetch another Go toolchain.
        GOTOOLCHAIN=local GOBIN="${tools_bin}" GOFLAGS=-buildvcs=false "${go_bin}" install "${mod}" ||
            die "go install ${mod} failed"
        printf '%s\n' "${mod}" >"${tools_bin}/${name}.version"
    done
fi

# tests/apps: Zendesk's app validator, zcli, into ${CALLBUS_CACHE_DIR}/tools/zcli
# from the npm registry, exactly as tools/zcli/package-lock.json pins it
# (npm ci, again only when the lock changed). --ignore-scripts: keytar's
# install script would download a prebuilt binary; zcli needs no keychain
# when its credentials come from the environment.
missing_npm=()
zcli_dir="${CALLBUS_CACHE_DIR}/tools/zcli"
if ((WITH_BROWSER)) && ! { [[ -x "${zcli_dir}/node_modules/.bin/zcli" ]] &&
    cmp -s "${zcli_dir}/package-lock.json" "${CALLBUS_REPO_ROOT}/tools/zcli/package-lock.json"; }; then
    missing_npm+=(zcli)
    log "installing zcli into ${zcli_dir} (npm ci)"
    mkdir -p "${zcli_dir}"
    cp "${CALLBUS_REPO_ROOT}/tools/zcli/package.json" "${CALLBUS_REPO_ROOT}/tools/zcli/package-lock.json" "${zcli_dir}/"
    (cd "${zcli_dir}" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) ||
        die "npm ci of zcli failed in ${zcli_dir} (the npm registry is needed once)"
fi

if ((${#missing_apt[@]} + ${#missing_py[@]} + ${#missing_go[@]} + ${#missing_npm[@]} == 0)); then
    log "all dependencies present"
fi
