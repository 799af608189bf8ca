#!/usr/bin/env bash
# Installs Debian's chromium for the HTML run report's browser test
# (tests/report/test_report_browser.py) when /usr/bin/chromium is missing.
#
# Idempotent and quick once installed; silent on success, prints the apt log on
# failure. Needs root (CI and the dev machines run as root), else passwordless sudo.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -n "$0" "$@"
    fi
    echo "browser.sh: /usr/bin/chromium is missing and installing it needs root" >&2
    exit 1
fi

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
if ! {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q chromium && test -x /usr/bin/chromium
} >"${log}" 2>&1; then
    echo "browser.sh: installing Debian chromium failed:" >&2
    cat "${log}" >&2
    exit 1
fi
