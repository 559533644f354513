#!/bin/sh
# schemathesis (PyPI) in its own virtualenv, for .ci/fuzz. Sourced by
# .ci/run as root. Idempotent: reinstalls only when the venv or the pinned
# major version is missing. .ci/fuzz finds /opt/schemathesis/bin/schemathesis
# (or JPSTART_SCHEMATHESIS).
SCHEMATHESIS_VENV=${SCHEMATHESIS_VENV:-/opt/schemathesis}
if ! "$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | grep -q ' 4\.'; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y python3-venv
    fi
    python3 -m venv "$SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install --quiet --upgrade pip
    "$SCHEMATHESIS_VENV/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
