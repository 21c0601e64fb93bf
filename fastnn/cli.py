"""The ``fastnn`` command: demo, train, predict, info (and bench).

Bad arguments and bad files end with a one-line ``fastnn: error: ...`` on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise _CliError(f"{self.prog}: {message}")


class _CliError(Exception):
    pass


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_mlp(n_in: int, hidden: Sequence[int], n_out: int):
    """Linear-ReLU blocks of the given hidden sizes, then a Linear output layer."""
    from fastnn import nn

    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def _split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 1:
        raise _CliError(f"not enough rows ({n}) for a validation split of {val_fraction}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# ------------------------------------------------------------------- demo
def cmd_demo(args) -> None:
    """Train an MLP on scikit-learn's digits with every available backend and compare them."""
    import fastnn
    from fastnn import nn, optim
    from fastnn.data import DataLoader, TensorDataset
    from fastnn.train import evaluate, fit

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise _CliError("the demo needs scikit-learn: pip install 'fastnn[demo]'") from None
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    train_idx, test_idx = _split_indices(len(x), 0.25, args.seed)
    mean, std = x[train_idx].mean(0), x[train_idx].std(0) + 1e-6
    x = ((x - mean) / std).astype(np.float32)
    backends = args.backends.split(",") if args.backends else fastnn.available_backends()
    print(f"fastnn {fastnn.__version__} demo: digits ({len(train_idx)} train / {len(test_idx)} test images, "
          f"8x8 pixels, 10 classes), MLP 64-{'-'.join(map(str, args.hidden))}-10, Adam lr {args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs, {fastnn.get_num_threads()} threads")
    rows = []
    for name in backends:
        try:
            fastnn.set_backend(name)
        except (ValueError, RuntimeError) as exc:
            raise _CliError(str(exc)) from None
        fastnn.manual_seed(args.seed)
        model = build_mlp(64, args.hidden, 10)
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
        train = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=args.batch_size, shuffle=True,
                           seed=args.seed)
        test = DataLoader(TensorDataset(x[test_idx], y[test_idx]), batch_size=512)
        history = fit(model, nn.CrossEntropyLoss(), optimizer, train, epochs=args.epochs, metrics=None,
                      progress=False)
        acc = evaluate(model, test, metrics=("accuracy",))["accuracy"]
        # the first epoch includes one-off costs (loading kernels); report the steady state
        times = history["epoch_time"][1:] or history["epoch_time"]
        rows.append((name, acc, statistics.median(times), history["loss"][-1]))
    base = next((r[2] for r in rows if r[0] == "numpy"), None)
    print(f"{'backend':<8} {'test acc':>8} {'final loss':>10} {'ms/epoch':>9} {'speed-up vs numpy':>18}")
    for name, acc, t, loss in rows:
        speed = f"{base / t:.2f}x" if base else "n/a"
        print(f"{name:<8} {acc:>8.2%} {loss:>10.4f} {t * 1e3:>9.1f} {speed:>18}")


# ------------------------------------------------------------- train/predict
def cmd_train(args) -> None:
    """Train an MLP classifier or regressor on a CSV file and save it."""
    import fastnn
    from fastnn import nn, optim, tabular
    from fastnn.data import DataLoader, TensorDataset
    from fastnn.train import EarlyStopping, fit

    if args.backend:
        fastnn.set_backend(args.backend)
    fastnn.manual_seed(args.seed)
    header, rows = tabular.read_csv(args.data)
    task = args.task
    train_idx, val_idx = _split_indices(len(rows), args.val_split, args.seed)
    train_rows = [rows[i] for i in train_idx]
    prep = tabular.fit_preprocessor(args.data, header, train_rows, args.target, task)
    x = tabular.transform_features(args.data, header, rows, prep)
    y = tabular.transform_target(args.data, header, rows, prep)
    classification = task == "classification"
    n_out = len(prep["target_spec"]["classes"]) if classification else 1
    model = build_mlp(x.shape[1], args.hidden, n_out)
    loss_fn = nn.CrossEntropyLoss() if classification else nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    train = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=args.batch_size, shuffle=True,
                       seed=args.seed)
    val = DataLoader(TensorDataset(x[val_idx], y[val_idx]), batch_size=1024)
    metrics = ("accuracy",) if classification else ("mae",)
    history = fit(model, loss_fn, optimizer, train, val, epochs=args.epochs, metrics=metrics,
                  early_stopping=EarlyStopping(patience=args.patience), progress=not args.no_progress,
                  verbose=True)
    fastnn.save({"format": "fastnn-cli-mlp", "version": 1, "hidden": list(args.hidden), "n_in": int(x.shape[1]),
                 "n_out": n_out, "preprocessor": prep, "model": model.state_dict()}, args.out)
    best = history.best_epoch or history.epochs
    summary = f"val_accuracy {history['val_accuracy'][best - 1]:.4f}" if classification else \
        f"val_mae {history['val_mae'][best - 1] * prep['target_spec']['std']:.4g} (target units)"
    print(f"saved {args.out}: {len(train_idx)} train / {len(val_idx)} validation rows, best epoch {best}, {summary}")


def cmd_predict(args) -> None:
    """Write the predictions of a model saved by ``fastnn train`` for every row of a CSV file."""
    import csv

    import fastnn
    from fastnn import tabular
    from fastnn.train import predict

    try:
        saved = fastnn.load(args.model)
    except FileNotFoundError:
        raise _CliError(f"{args.model}: no such file") from None
    if not isinstance(saved, dict) or saved.get("format") != "fastnn-cli-mlp":
        raise _CliError(f"{args.model}: not a model written by 'fastnn train'")
    prep = saved["preprocessor"]
    header, rows = tabular.read_csv(args.data)
    x = tabular.transform_features(args.data, header, rows, prep)
    model = build_mlp(int(saved["n_in"]), [int(h) for h in saved["hidden"]], int(saved["n_out"]))
    model.load_state_dict(saved["model"])
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


# ------------------------------------------------------------------- info
def cmd_info(args) -> None:
    """Versions, backends, threads and the BLAS libraries in use."""
    import numpy
    import scipy

    import fastnn
    from fastnn.threads import thread_info

    backends = fastnn.available_backends()
    print(f"fastnn {fastnn.__version__}  python {platform.python_version()}  numpy {numpy.__version__}  "
          f"scipy {scipy.__version__}")
    try:
        import numba
    except ImportError:
        print("numba: not installed")
    else:
        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet in this process
            layer = f"{numba.config.THREADING_LAYER} (not started)"
        print(f"numba {numba.__version__} (threading layer: {layer})")
    print(f"backends available: {', '.join(backends)}; active: {fastnn.get_backend().name}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores; "
          f"fastnn threads: {fastnn.get_num_threads()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    for lib in thread_info():
        print(f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version') or ''} "
              f"threads={lib.get('num_threads')} ({os.path.basename(lib.get('filepath', ''))})")


def cmd_bench(args) -> None:
    """Compare fastnn's backends with NumPy, PyTorch and scikit-learn on the same work."""
    from fastnn import bench

    if not set(args.only) <= set("abcde"):
        raise _CliError(f"--only takes letters from 'abcde', got {args.only!r}")
    print(bench.run(args.only, quick=args.quick, json_path=args.json), flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastnn", description="fastnn: fast neural-network training on the CPU")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="train an MLP on the digits data with every backend")
    demo.add_argument("--epochs", type=_positive(int), default=20)
    demo.add_argument("--hidden", type=_hidden, default=[128, 64])
    demo.add_argument("--lr", type=_positive(float), default=1e-3)
    demo.add_argument("--batch-size", type=_positive(int), default=32)
    demo.add_argument("--backends", default=None, help="comma-separated backends (default: all available)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=cmd_demo)

    train = sub.add_parser("train", help="train an MLP on a CSV file")
    train.add_argument("data", help="CSV file with a header line")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument("--task", choices=("classification", "regression"), default="classification")
    train.add_argument("--hidden", type=_hidden, default=[128, 64])
    train.add_argument("--epochs", type=_positive(int), default=30)
    train.add_argument("--lr", type=_positive(float), default=1e-3)
    train.add_argument("--batch-size", type=_positive(int), default=64)
    train.add_argument("--val-split", type=_fraction, default=0.2)
    train.add_argument("--patience", type=_positive(int), default=5)
    train.add_argument("--backend", choices=("cython", "numba", "numpy"), default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="model.fnn")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(run=cmd_train)

    pred = sub.add_parser("predict", help="predict with a model saved by 'fastnn train'")
    pred.add_argument("model")
    pred.add_argument("data")
    pred.add_argument("--out", default=None, help="CSV file to write (default: standard output)")
    pred.set_defaults(run=cmd_predict)

    bench = sub.add_parser("bench", help="time fastnn against NumPy, PyTorch and scikit-learn")
    bench.add_argument("--only", default="abcde", help="workloads to run, e.g. 'ab' (default: abcde)")
    bench.add_argument("--quick", action="store_true", help="6,000 samples and fewer repeats")
    bench.add_argument("--json", default=None, help="also write the results to this JSON file")
    bench.set_defaults(run=cmd_bench)

    info = sub.add_parser("info", help="versions, backends, threads, BLAS")
    info.set_defaults(run=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastnn`` console script and ``python -m fastnn``."""
    from fastnn.tabular import DataError

    try:
        args = _parser().parse_args(argv)
        started = time.perf_counter()
        args.run(args)
        if args.command != "info":
            print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    except (_CliError, DataError) as exc:
        print(f"fastnn: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, IndexError, KeyError, OSError, RuntimeError) as exc:
        print(f"fastnn: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastnn: interrupted", file=sys.stderr)
        return 130
    return 0
