"""``fastnn export``: write a model saved by ``fastnn train`` as an ONNX graph."""

from __future__ import annotations

import argparse

from fastnn.cli.common import CliError


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="export a model saved by 'fastnn train' to ONNX")
    export.add_argument("model", help="a .fnn file written by 'fastnn train'")
    export.add_argument("out", help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=18)
    export.add_argument("--static-batch", action="store_true", help="fix the batch dimension at 1")
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Rebuild the trained network, check it loads strictly, and write its ONNX graph atomically."""
    try:
        from fastnn.onnx import export_checkpoint
    except ImportError as exc:
        raise CliError(f"{exc} (pip install 'fastnn[interop]')") from None
    export_checkpoint(args.model, args.out, opset=args.opset, dynamic_batch=not args.static_batch)
    print(f"wrote {args.out}")
