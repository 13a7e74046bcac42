#!/usr/bin/env bash
# Installs what the console's browser tests need (crates/console/e2e): Debian's chromium
# package and playwright-core from the npm registry (which downloads no browser of its own).
# Safe to run twice. .ci/run calls it before `cargo test`; without these, the browser test
# in crates/cli/tests/console_browser.rs says it skipped (STEPPE_BROWSER_TESTS=1 makes that a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium
fi
if ! command -v node >/dev/null 2>&1; then
  echo "install-browser-test-deps: Node.js 18 or later is needed (apt-get install nodejs npm)" >&2
  exit 1
fi
cd crates/console/e2e
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
echo "install-browser-test-deps: $(chromium --version 2>/dev/null | head -1), playwright-core $(node -p 'require("playwright-core/package.json").version')"
