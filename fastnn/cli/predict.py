"""``fastnn predict``: write the predictions of a model saved by ``fastnn train`` for every row of a CSV."""

from __future__ import annotations

import argparse
import csv
import sys

from fastnn.cli.common import CliError, build_mlp
from fastnn.cli.train import MODEL_FORMAT


def add_parser(sub) -> None:
    pred = sub.add_parser("predict", help="predict with a model saved by 'fastnn train'")
    pred.add_argument("model")
    pred.add_argument("data")
    pred.add_argument("--out", default=None, help="CSV file to write (default: standard output)")
    pred.set_defaults(run=run)


def load_model(path: str):
    """The model and preprocessor in a file written by ``fastnn train``."""
    import fastnn

    try:
        saved = fastnn.load(path)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise CliError(f"{path}: not a model written by 'fastnn train'")
    try:
        model = build_mlp(int(saved["n_in"]), [int(h) for h in saved["hidden"]], int(saved["n_out"]))
        model.load_state_dict(saved["model"])
        return model, saved["preprocessor"]
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CliError(f"{path}: a damaged 'fastnn train' model ({type(exc).__name__}: {exc})") from None


def run(args: argparse.Namespace) -> None:
    """Predict every row; rows with a missing or non-finite feature are an error naming them."""
    from fastnn import tabular
    from fastnn.train import predict

    model, prep = load_model(args.model)
    header, rows = tabular.read_csv(args.data)
    x = tabular.transform_features(args.data, header, rows, prep)
    labels = tabular.decode_predictions(predict(model, x), prep)
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow([f"predicted_{prep['target']}"])
        writer.writerows([label] for label in labels)
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote {len(labels)} predictions to {args.out}")
