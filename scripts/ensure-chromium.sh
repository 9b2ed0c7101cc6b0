#!/usr/bin/env bash
# Makes sure a headless Chromium is there for report-check. As root on
# Debian it installs the chromium package with apt (about a minute);
# otherwise it stops with one line saying what to install. Prints its path.
set -euo pipefail
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "report-check: installing chromium with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
    browser=$(command -v chromium)
  else
    echo "report-check: chromium not found: install it (Debian: sudo apt-get install -y chromium)" >&2
    exit 1
  fi
fi
echo "$browser"
