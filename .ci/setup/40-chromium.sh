#!/bin/sh
# Headless Chromium and chromedriver for the authorization-page browser test
# (crates/jpstart/tests/it/authorize_browser.rs). Sourced by .ci/run as root.
# Idempotent: installs only what is missing. The test finds
# /usr/bin/chromium and chromedriver on PATH, and fails (rather than skips)
# when CI is set and they are missing.
if ! command -v chromedriver >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y chromium chromium-driver
fi
