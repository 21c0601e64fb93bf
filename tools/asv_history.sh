#!/usr/bin/env bash
# The speed-up dashboard over the project's history: run the benchmarks matching REGEX (default:
# the speed-up-over-NumPy suite, asv_benchmarks/benchmarks/speedup.py) against each of the last N
# commits of main (first-parent history, oldest first), then publish the offline dashboard.
#
#   tools/asv_history.sh [N=10] [REGEX=speedup] [extra asv run options...]
#   python -m http.server --bind 127.0.0.1 8080 --directory asv_benchmarks/html
#
# Each commit runs through tools/asv_commit.sh (a worktree per commit, Cython kernels built once
# per distinct kernels/ tree, asv's noise controls). A commit whose run fails is reported and
# skipped; the others still reach the dashboard. Only the modules in ASV_MODULES (default
# "speedup", whose benchmarks use the public API only) are run, so that old commits can import them. Set ASV_COMMITS to a file of hashes (one a line,
# oldest first) to run those instead of the last N of main.
set -uo pipefail
N=${1:-10}
REGEX=${2:-speedup}
shift $(( $# >= 2 ? 2 : $# ))
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
if [ -n "${ASV_COMMITS:-}" ]; then
    COMMITS=$(cat "$ASV_COMMITS")
else
    COMMITS=$(git -C "$REPO" rev-list --first-parent -n "$N" main | tac)
fi
failed=()
for c in $COMMITS; do
    echo "=== $(git -C "$REPO" log -1 --format='%h %cd %s' --date=short "$c" | cut -c1-100)"
    ASV_MODULES=${ASV_MODULES-speedup} "$HERE/asv_commit.sh" "$c" "$REGEX" "$@" || failed+=("$c")
done
cd "$REPO/asv_benchmarks" && asv publish && python "$REPO/tools/asv_offline_dashboard.py"
[ ${#failed[@]} -eq 0 ] || echo "asv_history: these commits failed and are missing: ${failed[*]}" >&2
echo "dashboard: python -m http.server --bind 127.0.0.1 8080 --directory $REPO/asv_benchmarks/html"
