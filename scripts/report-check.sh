#!/usr/bin/env bash
# Renders a run's index.html (or reports/index.html) in headless Chromium,
# saves a PNG screenshot next to it, and fails if the page does not render.
# Usage: scripts/report-check.sh PATH/TO/index.html
set -euo pipefail
page=$(realpath "${1:?usage: report-check.sh PATH/TO/index.html}")
[ -f "$page" ] || { echo "report-check: $page does not exist (run make drill first)" >&2; exit 1; }
browser=$("$(dirname "$0")/ensure-chromium.sh")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --disable-quic --user-data-dir="$profile")
shot="${page%.html}.png"
dom=$(timeout 60 "$browser" "${flags[@]}" --dump-dom "file://$page" 2>/dev/null)
grep -q "<h1>drdrill" <<<"$dom" || { echo "report-check: $page did not render (no heading in the DOM)" >&2; exit 1; }
svgs=$(grep -o "<svg" <<<"$dom" | wc -l)
timeout 60 "$browser" "${flags[@]}" --window-size=1200,2400 --screenshot="$shot" "file://$page" >/dev/null 2>&1
size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || { echo "report-check: screenshot $shot is missing or blank ($size bytes)" >&2; exit 1; }
echo "report-check: $page renders ($svgs plots); screenshot $shot ($((size / 1024)) KB)"
