#!/usr/bin/env bash
# Screenshot a page of the published asv dashboard in headless Chromium, served over loopback:
#
#   tools/asv_screenshot.sh 'PAGE' OUT.png [WIDTHxHEIGHT]
#
# PAGE is what follows the dashboard's address, e.g. '#speedup.TrainingSpeedup.track_speedup'
# (a benchmark's graph: add '?p-backend=...' to pick parameters) or '' (the benchmark list).
# Chromium gets the flags that keep it off the network (this machine has none) and a fresh
# profile; the JavaScript is given 15 s of virtual time to draw the graphs.
set -euo pipefail
PAGE=${1?usage: tools/asv_screenshot.sh PAGE OUT.png [WIDTHxHEIGHT]}
OUT=$(realpath -m "${2?usage: tools/asv_screenshot.sh PAGE OUT.png [WIDTHxHEIGHT]}")
SIZE=${3:-1400x900}
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
HTML="$REPO/asv_benchmarks/html"
[ -f "$HTML/index.html" ] || { echo "asv_screenshot: no dashboard in $HTML (run asv publish)" >&2; exit 1; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome) \
    || { echo "asv_screenshot: no Chromium (apt-get install chromium)" >&2; exit 1; }
PORT=${ASV_SCREENSHOT_PORT:-8765}
python -m http.server --bind 127.0.0.1 "$PORT" --directory "$HTML" >/dev/null 2>&1 &
SERVER=$!
PROFILE=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$PROFILE"' EXIT
sleep 1
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --hide-scrollbars --window-size="${SIZE/x/,}" \
    --virtual-time-budget=15000 --screenshot="$OUT" "http://127.0.0.1:$PORT/index.html$PAGE" 2>/dev/null
echo "$OUT"
