"""Regression check before a merge: benchmark BASE and HEAD, print what got slower.

    python tools/asv_regressions.py BASE [HEAD] [--factor 1.10] [--bench REGEX] [--no-run]

Runs the benchmarks matching REGEX (default: the speed-up suite, ``speedup``) against both
commits through ``tools/asv_commit.sh`` (offline, a worktree per commit, asv's noise controls),
then reads ``asv compare BASE HEAD --factor F`` and lists every benchmark that got slower by more
than the factor: a time, memory or size that grew (asv's "+"), or a ``track_speedup`` figure
(times faster than NumPy / PyTorch, higher is better) that shrank. Exits 1 when there is any,
so a script or CI step can stop on it. ``--no-run`` only compares results already on file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASV_DIR = REPO / "asv_benchmarks"
HIGHER_IS_BETTER = ("track_speedup",)  # benchmarks whose figure is a speed-up, not a cost


def commit_hash(ref: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", f"{ref}^{{commit}}"], check=True,
                          capture_output=True, text=True).stdout.strip()


def compare_rows(base: str, head: str, factor: float) -> list[tuple[float, str, str, str]]:
    """(after / before, before, after, benchmark) of every row asv compare prints for both commits."""
    out = subprocess.run(["asv", "compare", "--factor", str(factor), base, head], cwd=ASV_DIR, check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[3] in ("Ratio", "") or set(cells[3]) <= {"-"}:
            continue
        try:
            ratio = float(cells[3].lstrip("~"))
        except ValueError:  # "n/a": missing on one side, or failed
            continue
        rows.append((ratio, cells[1], cells[2], cells[4]))
    return rows


def slower(rows: list[tuple[float, str, str, str]], factor: float) -> list[tuple[float, str, str, str]]:
    """The rows that got worse by more than `factor`, worst first (ratio: how many times worse)."""
    worse = []
    for ratio, before, after, name in rows:
        if any(key in name for key in HIGHER_IS_BETTER):
            if ratio > 0 and 1 / ratio > factor:
                worse.append((1 / ratio, before, after, name))
        elif ratio > factor:
            worse.append((ratio, before, after, name))
    return sorted(worse, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--factor", type=float, default=1.10, help="report changes beyond this ratio (1.10: 10%%)")
    parser.add_argument("--bench", default="speedup", help="asv benchmark regex")
    parser.add_argument("--no-run", action="store_true", help="compare results already saved")
    args = parser.parse_args(argv)
    if args.factor <= 1:
        parser.error("--factor must be above 1")
    base, head = commit_hash(args.base), commit_hash(args.head)
    if not args.no_run:
        for commit in (base, head):
            subprocess.run([str(REPO / "tools" / "asv_commit.sh"), commit, args.bench], check=True)
    rows = compare_rows(base, head, args.factor)
    worse = slower(rows, args.factor)
    print(f"{len(rows)} benchmarks compared, {base[:10]} -> {head[:10]}, factor {args.factor}")
    for ratio, before, after, name in worse:
        print(f"SLOWER {ratio:5.2f}x  {before:>14} -> {after:<14} {name}")
    if not worse:
        print("no benchmark got slower by more than the factor")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
