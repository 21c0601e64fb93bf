"""Speed-ups of the compiled backends over the NumPy baseline, read from saved asv results.

For every benchmark parametrised by ``backend``, prints one row per combination of its other
parameters: the NumPy figure and, per compiled backend, baseline / backend (above 1: faster than
NumPy; for peakmem_*, above 1: less memory). Every ratio comes from one asv run of one commit::

    python ratios.py                      # the newest results file
    python ratios.py --commit 012b56e --bench 'dense|optim' --kind time
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
from pathlib import Path

BASELINE = "'numpy'"
HERE = Path(__file__).resolve().parent


def newest_results(results_dir: Path, commit: str | None) -> Path:
    """The most recently written results file (of `commit`, a hash prefix, if given), over all
    machines and environments."""
    files = [p for p in results_dir.glob("*/*.json") if p.name != "machine.json"]
    if commit:
        files = [p for p in files if p.name.startswith(commit[:8])]
    if not files:
        sys.exit(f"ratios: no asv results{' for ' + commit if commit else ''} under {results_dir}")
    return max(files, key=lambda p: p.stat().st_mtime)


def format_value(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value * 1e9:.3g} ns"


def ratio_rows(values: list, params: list[list[str]], names: list[str], unit: str) -> tuple[list[str], list[list[str]]]:
    """Table header and rows: other parameters, baseline value, baseline / backend per backend."""
    b = names.index("backend")
    backends = params[b]
    result = dict(zip(itertools.product(*params), values))
    others = [p for i, p in enumerate(params) if i != b]
    header = [n for i, n in enumerate(names) if i != b] + ["numpy"] + [f"{x.strip(chr(39))} x" for x in backends
                                                                        if x != BASELINE]
    rows = []
    for combo in itertools.product(*others):
        def value(backend, combo=combo):
            key = list(combo)
            key.insert(b, backend)
            v = result.get(tuple(key))
            return v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else None

        base = value(BASELINE)
        if base is None:
            continue
        rows.append([c.strip("'") for c in combo] + [format_value(base, unit)] +
                    [f"{base / v:.2f}" if (v := value(x)) else "n/a" for x in backends if x != BASELINE])
    return header, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--commit", help="hash prefix of the results to read (default: the newest)")
    parser.add_argument("--bench", default="", help="regular expression on benchmark names")
    parser.add_argument("--kind", choices=("time", "peakmem", "track"), help="only this benchmark kind")
    args = parser.parse_args(argv)
    path = newest_results(args.results_dir, args.commit)
    saved = json.loads(path.read_text())
    meta = json.loads((args.results_dir / "benchmarks.json").read_text())
    column = saved["result_columns"].index("result")
    print(f"# {path.parent.name} / {path.name}: baseline / backend (>1 means better than NumPy)\n")
    for name, entry in sorted(saved["results"].items()):
        info = meta.get(name)
        if info is None or "backend" not in info["param_names"] or not re.search(args.bench, name):
            continue
        if args.kind and info["type"] != args.kind:
            continue
        header, rows = ratio_rows(entry[column], info["params"], info["param_names"], info["unit"])
        if not rows:
            continue
        print(f"## {name}\n\n| {' | '.join(header)} |\n|{'---|' * len(header)}")
        for row in rows:
            print(f"| {' | '.join(row)} |")
        print()


if __name__ == "__main__":
    main()
