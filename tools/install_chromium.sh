#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the HTML report tests (tests/test_report.py).
#
# Why a script: Playwright's own browser download cannot run here (no network beyond package
# registries), but Debian's `chromium` package can be installed with apt and driven by Playwright
# through `executable_path` (docs: shared/research/packages.md §13).
# No-op when `chromium` is already on PATH or when we are not root (the tests then skip with a reason).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "install_chromium: chromium already present at $(command -v chromium)"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install_chromium: not root, cannot apt-get install chromium; report browser tests will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "install_chromium: installed $(command -v chromium)"
