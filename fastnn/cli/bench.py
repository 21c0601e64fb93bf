"""``fastnn bench``: compare fastnn's backends with NumPy, PyTorch and scikit-learn on the same work."""

from __future__ import annotations

import argparse

from fastnn.cli.common import CliError


def add_parser(sub) -> None:
    bench = sub.add_parser("bench", help="time fastnn against NumPy, PyTorch and scikit-learn")
    bench.add_argument("--only", default="abcde",
                       help="workloads to run, e.g. 'ab' (default: abcde); f: the compiled step (small steps, "
                            "the 784-256-128-10 epoch, the examples' steps, compile time)")
    bench.add_argument("--quick", action="store_true", help="6,000 samples and fewer repeats")
    bench.add_argument("--json", default=None, help="also write the results to this JSON file")
    bench.add_argument("--busy", action="store_true",
                       help="instead: the busy-machine table (fastnn and PyTorch with 1, 2 and auto threads beside "
                            "0, 1 and 3 spinning processes that the benchmark starts and stops)")
    bench.add_argument("--blas", action="store_true",
                       help="instead: Cython dense kernels against NumPy with one BLAS and with two, interleaved")
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from fastnn import bench

    if args.busy or args.blas:
        from fastnn.bench import busy

        busy.main(["--blas"] if args.blas else [])
        return
    if not args.only or not set(args.only) <= set("abcdef"):
        raise CliError(f"--only takes letters from 'abcdef', got {args.only!r}")
    eager = "".join(c for c in args.only if c in "abcde")
    if eager:
        print(bench.run(eager, quick=args.quick, json_path=args.json), flush=True)
    if "f" in args.only:
        from fastnn.compile import benchmark

        print(benchmark.run("sexc", quick=args.quick), flush=True)
