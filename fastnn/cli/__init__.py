"""The ``fastnn`` command: demo, train, predict, export, info and bench, one module per command.

An error always ends the command with a single ``fastnn: error: ...`` line on stderr (exit status
2 for bad arguments and bad files, 1 for an internal error; ``FASTNN_DEBUG=1`` shows its
traceback instead), never a traceback or a warning before it. Warnings raised by a command that
succeeds are printed after it, one ``fastnn: warning: ...`` line each.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Sequence

from fastnn.cli import bench, demo, export, info, predict, train
from fastnn.cli.common import CliError, Parser, build_mlp

COMMANDS = (demo, train, predict, export, bench, info)

# Errors of the user's making (arguments, files, data, resources): exit status 2.
USAGE_ERRORS = (ValueError, TypeError, IndexError, KeyError, OSError, RuntimeError, ArithmeticError, MemoryError)


def parser() -> Parser:
    """The argument parser of every command."""
    top = Parser(prog="fastnn", description="fastnn: fast neural-network training on the CPU")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return top


def one_line(text: str) -> str:
    """``text`` on one line: its non-empty lines joined by '; ', inner whitespace runs collapsed."""
    return "; ".join(" ".join(line.split()) for line in str(text).splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastnn`` console script and ``python -m fastnn``; returns the exit status."""
    from fastnn.tabular import DataError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            args = parser().parse_args(argv)
            started = time.perf_counter()
            args.run(args)
        except (CliError, DataError) as exc:
            return _fail(f"fastnn: error: {one_line(exc)}", 2)
        except BrokenPipeError:  # the reader of our output went away (fastnn predict ... | head)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except USAGE_ERRORS as exc:
            return _fail(f"fastnn: error: {type(exc).__name__}: {one_line(exc)}", 2)
        except KeyboardInterrupt:
            return _fail("fastnn: interrupted", 130)
        except Exception as exc:
            if os.environ.get("FASTNN_DEBUG"):
                raise
            return _fail(f"fastnn: error: internal error {type(exc).__name__}: {one_line(exc)} "
                         "(FASTNN_DEBUG=1 shows the traceback)", 1)
    seen = set()
    for warning in caught:
        line = f"fastnn: warning: {warning.category.__name__}: {one_line(warning.message)}"
        if line not in seen:
            seen.add(line)
            print(line, file=sys.stderr)
    if args.command != "info" and _main_rank():
        print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


def _main_rank() -> bool:
    """False on every rank but 0 of an MPI job (only rank 0 reports)."""
    from fastnn import distributed

    return not distributed.is_initialized() or distributed.get_rank() == 0


def _fail(line: str, status: int) -> int:
    print(line, file=sys.stderr)
    return status


__all__ = ["COMMANDS", "CliError", "build_mlp", "main", "one_line", "parser"]
