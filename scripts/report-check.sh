#!/usr/bin/env bash
# Renders a run's index.html (or reports/index.html) in headless Chromium,
# saves a PNG screenshot next to it, and fails if the page does not render,
# if it shows fewer or more plots than it declares
# (<meta name="drdrill-plots">), or if any plot's layout is broken: a text
# (legend entry, title, label, tick) outside its SVG's box, or two texts
# overlapping. The geometry is measured by Chromium itself, on a copy of the
# page with a measuring script appended.
# Usage: scripts/report-check.sh PATH/TO/index.html
set -euo pipefail
page=$(realpath "${1:?usage: report-check.sh PATH/TO/index.html}")
[ -f "$page" ] || { echo "report-check: $page does not exist (run make drill first)" >&2; exit 1; }
browser=$("$(dirname "$0")/ensure-chromium.sh")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --disable-quic --user-data-dir="$work/profile")
shot="${page%.html}.png"
probe="$work/probe.html"
sed 's#</body></html>##' "$page" >"$probe"
cat >>"$probe" <<'JS'
<script>
(function () {
  var out = [], n = 0;
  document.querySelectorAll('svg').forEach(function (svg) {
    n++;
    var name = svg.getAttribute('aria-label') || ('plot ' + n);
    var r = svg.getBoundingClientRect();
    var boxes = [];
    svg.querySelectorAll('text').forEach(function (t) {
      if (t.textContent.trim() === '') return;
      var b = t.getBoundingClientRect();
      boxes.push([t.textContent, b]);
      if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1)
        out.push('outside its plot: "' + t.textContent + '" in "' + name + '"');
    });
    for (var i = 0; i < boxes.length; i++)
      for (var j = i + 1; j < boxes.length; j++) {
        var A = boxes[i][1], B = boxes[j][1];
        var w = Math.min(A.right, B.right) - Math.max(A.left, B.left);
        var h = Math.min(A.bottom, B.bottom) - Math.max(A.top, B.top);
        if (w > 2 && h > 2) out.push('overlapping: "' + boxes[i][0] + '" and "' + boxes[j][0] + '" in "' + name + '"');
      }
  });
  var pre = document.createElement('pre');
  pre.id = 'drdrill-geometry';
  pre.textContent = 'SVGS ' + n + '\n' + out.join('\n');
  document.body.appendChild(pre);
})();
</script></body></html>
JS
dom=$(timeout 60 "$browser" "${flags[@]}" --window-size=1200,2400 --dump-dom "file://$probe" 2>/dev/null)
grep -q "<h1>drdrill" <<<"$dom" || { echo "report-check: $page did not render (no heading in the DOM)" >&2; exit 1; }
geometry=$(sed -n '/<pre id="drdrill-geometry">/,/<\/pre>/p' <<<"$dom" | sed 's#.*<pre id="drdrill-geometry">##; s#</pre>.*##')
svgs=$(sed -n 's/^SVGS \([0-9]*\)$/\1/p' <<<"$geometry")
[ -n "$svgs" ] || { echo "report-check: the measuring script did not run in $page" >&2; exit 1; }
want=$(sed -n 's/.*<meta name="drdrill-plots" content="\([0-9]*\)">.*/\1/p' "$page" | head -1)
if [ -n "$want" ] && [ "$svgs" != "$want" ]; then
  echo "report-check: $page shows $svgs plots, but declares $want" >&2; exit 1
fi
problems=$(grep -v '^SVGS ' <<<"$geometry" | sed 's/&quot;/"/g; s/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g' | grep . || true)
if [ -n "$problems" ]; then
  echo "report-check: $page has $(wc -l <<<"$problems") layout defect(s):" >&2
  head -20 <<<"$problems" | sed 's/^/  /' >&2
  exit 1
fi
timeout 60 "$browser" "${flags[@]}" --window-size=1200,2400 --screenshot="$shot" "file://$page" >/dev/null 2>&1
size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || { echo "report-check: screenshot $shot is missing or blank ($size bytes)" >&2; exit 1; }
echo "report-check: $page renders ($svgs plots${want:+ of $want declared}, no text outside a plot or overlapping); screenshot $shot ($((size / 1024)) KB)"
