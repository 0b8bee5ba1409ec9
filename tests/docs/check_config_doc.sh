#!/usr/bin/env bash
# Every setting a service accepts is documented in docs/configuration.md.
# Usage: check_config_doc.sh DOC BINARY...
set -euo pipefail
doc="$1"
shift
missing=0
for bin in "$@"; do
    while read -r name; do
        if ! grep -q "\`${name}\`" "${doc}"; then
            echo "${name} (from $(basename "${bin}")) is not in ${doc}"
            missing=$((missing + 1))
        fi
    done < <("${bin}" --config-markdown | grep -o '^| `CALLBUS_[A-Z0-9_]*`' | tr -d '|` ')
done
echo "docs_config: $((missing == 0 ? 1 : 0)) passed, $((missing == 0 ? 0 : 1)) failed"
exit $((missing > 0))
