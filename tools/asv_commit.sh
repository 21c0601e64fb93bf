#!/usr/bin/env bash
# Run the asv suite (or the benchmarks matching REGEX) against one commit, offline, and file the
# results under that commit:  tools/asv_commit.sh COMMIT [REGEX] [extra asv run options...]
#
# The commit is checked out into a git worktree under $ASV_WORK (default /tmp/fastnn-asv), its
# Cython kernels are built there (or copied from an earlier build of the same kernels/, setup.py
# and kernel contract, which is what most commits share), and `asv run --python=same` imports
# fastnn from that worktree with the current interpreter (asv drops PYTHONPATH from the processes
# it starts and sets it from ASV_PYTHONPATH instead): no virtualenv, no network.
# The benchmark files are always the current checkout's (asv_benchmarks/benchmarks). Modules of the
# suite that an older commit cannot import (they name its internals) would stop asv's discovery
# for every benchmark: ASV_MODULES="speedup ..." runs a suite of only those modules (which use the
# public API), through a generated asv config that files results and the dashboard in the usual
# places.
#
# Noise control, on by default (override with ASV_NOISE="..."): 3 processes per benchmark
# (asv interleaves their rounds), 2 rounds, a warm-up of 0.5 s, 5..10 samples of timed
# benchmarks, and, on more than 2 cores, the run kept off core 0 (--cpu-affinity 1-N), where
# most interrupts land; on 2 cores no pinning, which would take away the second thread.
set -euo pipefail
COMMIT=${1:?usage: tools/asv_commit.sh COMMIT [REGEX] [asv run options]}
REGEX=${2:-.}
shift $(( $# >= 2 ? 2 : 1 ))
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=${ASV_WORK:-/tmp/fastnn-asv}
CORES=$(nproc)
DEFAULT_NOISE="-a processes=3 -a rounds=2 -a warmup_time=0.5 -a repeat=(5,10,20.0)"
if [ "$CORES" -gt 2 ]; then DEFAULT_NOISE="$DEFAULT_NOISE --cpu-affinity 1-$((CORES - 1))"; fi
NOISE=${ASV_NOISE-$DEFAULT_NOISE}

HASH=$(git -C "$REPO" rev-parse "$COMMIT^{commit}")
TREE="$WORK/tree-$HASH"
mkdir -p "$WORK"
if [ ! -d "$TREE" ]; then
    git -C "$REPO" worktree add --detach -f "$TREE" "$HASH" >/dev/null
fi
# the worktree is registered in the repository: remove it when this script ends, however it ends
trap 'git -C "$REPO" worktree remove --force "$TREE" >/dev/null 2>&1 || true' EXIT
# the build depends only on these paths: one build per distinct set of them
KEY=$(for p in kernels setup.py fastnn/backends/contract.py; do
          git -C "$REPO" rev-parse --verify -q "$HASH:$p" || echo "no-$p"; done | sha1sum | cut -c1-16)
CACHE="$WORK/so-$KEY"
BUILD_PATHS=(kernels setup.py fastnn/backends/contract.py)
if [ ! -d "$CACHE" ] && compgen -G "$REPO/fastnn/_cython/*.so" >/dev/null \
        && git -C "$REPO" diff --quiet "$HASH" -- "${BUILD_PATHS[@]}"; then
    # this checkout's own build is of the same sources: use it
    mkdir -p "$CACHE.tmp" && cp "$REPO"/fastnn/_cython/*.so "$CACHE.tmp"/ && mv "$CACHE.tmp" "$CACHE"
fi
if [ ! -d "$CACHE" ]; then
    echo "asv_commit: building the Cython kernels of ${HASH:0:10} (kernels/ differ from every earlier build)"
    (cd "$TREE" && python setup.py build_ext --inplace -q >/dev/null)
    mkdir -p "$CACHE.tmp" && cp "$TREE"/fastnn/_cython/*.so "$CACHE.tmp"/ && mv "$CACHE.tmp" "$CACHE"
else
    cp "$CACHE"/*.so "$TREE"/fastnn/_cython/
fi
cd "$REPO/asv_benchmarks"
asv machine --yes >/dev/null
CONFIG=()
if [ -n "${ASV_MODULES:-}" ]; then
    SUITE="$WORK/suite"
    rm -rf "$SUITE" && mkdir -p "$SUITE/benchmarks"
    touch "$SUITE/benchmarks/__init__.py"
    for m in $ASV_MODULES; do cp "benchmarks/$m.py" "$SUITE/benchmarks/"; done
    python - "$SUITE" <<'PY'
import json, os, sys
from asv.util import load_json
conf = load_json("asv.conf.json", js_comments=True)
here = os.getcwd()
for key in ("repo", "env_dir", "results_dir", "html_dir"):
    conf[key] = os.path.abspath(os.path.join(here, conf[key]))
conf["benchmark_dir"] = os.path.join(sys.argv[1], "benchmarks")
with open(os.path.join(sys.argv[1], "asv.conf.json"), "w") as f:
    json.dump(conf, f, indent=1)
PY
    CONFIG=(--config "$SUITE/asv.conf.json")
fi
# shellcheck disable=SC2086
ASV_PYTHONPATH="$TREE" asv run "${CONFIG[@]}" --python=same --set-commit-hash="$HASH" --bench "$REGEX" $NOISE "$@"
