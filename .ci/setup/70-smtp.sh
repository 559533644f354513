#!/bin/sh
# aiosmtpd (PyPI) in its own virtualenv: a real SMTP server for the
# magic-link delivery test (crates/jpstart/tests/it/mail.rs), which starts
# its own on a free loopback port. Sourced by .ci/run as root. Idempotent:
# reinstalls only when the venv or the pinned major version is missing.
# Exports JPSTART_AIOSMTPD_PYTHON, the interpreter that has it; with CI set,
# the test fails rather than skips when it cannot find one.
AIOSMTPD_VENV=${AIOSMTPD_VENV:-/opt/aiosmtpd}
if ! "$AIOSMTPD_VENV/bin/python" -c 'import aiosmtpd, sys; sys.exit(0 if aiosmtpd.__version__.startswith("1.") else 1)' >/dev/null 2>&1; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y python3-venv
    fi
    python3 -m venv "$AIOSMTPD_VENV"
    "$AIOSMTPD_VENV/bin/pip" install --quiet --upgrade pip
    "$AIOSMTPD_VENV/bin/pip" install --quiet 'aiosmtpd>=1.4,<2'
fi
export JPSTART_AIOSMTPD_PYTHON="$AIOSMTPD_VENV/bin/python"
