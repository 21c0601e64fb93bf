"""``fastnn train``: train an MLP classifier or regressor on a CSV file and save it."""

from __future__ import annotations

import argparse
import os

from fastnn.backends.contract import BACKEND_NAMES
from fastnn.cli.common import CliError, build_mlp, fraction, hidden_sizes, positive, split_indices, thread_count

MODEL_FORMAT = "fastnn-cli-mlp"


def add_parser(sub) -> None:
    train = sub.add_parser("train", help="train an MLP on a CSV file")
    train.add_argument("data", help="CSV file with a header line")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument("--task", choices=("classification", "regression"), default="classification")
    train.add_argument("--hidden", type=hidden_sizes, default=[128, 64])
    train.add_argument("--epochs", type=positive(int), default=30)
    train.add_argument("--lr", type=positive(float), default=1e-3)
    train.add_argument("--batch-size", type=positive(int), default=64)
    train.add_argument("--val-split", type=fraction, default=0.2)
    train.add_argument("--patience", type=positive(int), default=5)
    train.add_argument("--backend", choices=BACKEND_NAMES, default=None)
    train.add_argument("--no-compile", action="store_true",
                       help="train with the eager step instead of fastnn.compile_step")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="model.fnn")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--threads", type=thread_count, default=None,
                       help="threads for training: a number or 'auto' (the default: the cores other processes "
                            "leave free)")
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Read and check the CSV (every numeric cell finite), fit the preprocessor on the training rows,
    train with early stopping on the validation rows, save model and preprocessor in one file."""
    import fastnn
    from fastnn import nn, optim, tabular
    from fastnn.data import DataLoader, TensorDataset
    from fastnn.train import EarlyStopping, fit

    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise CliError(f"--out {args.out}: no such directory {out_dir!r}")
    if args.backend:
        fastnn.set_backend(args.backend)
    fastnn.manual_seed(args.seed)
    header, rows = tabular.read_csv(args.data)
    tabular.check_finite(args.data, header, rows, skip=() if args.task == "regression" else (args.target,))
    train_idx, val_idx = split_indices(len(rows), args.val_split, args.seed)
    prep = tabular.fit_preprocessor(args.data, header, [rows[i] for i in train_idx], args.target, args.task)
    x = tabular.transform_features(args.data, header, rows, prep)
    y = tabular.transform_target(args.data, header, rows, prep)
    classification = args.task == "classification"
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
                  verbose=True, compile=not args.no_compile, threads=args.threads)
    if fastnn.distributed.is_initialized() and fastnn.distributed.get_rank() != 0:
        return  # under mpiexec, rank 0 alone writes the model and reports
    fastnn.save({"format": MODEL_FORMAT, "version": 1, "hidden": list(args.hidden), "n_in": int(x.shape[1]),
                 "n_out": n_out, "preprocessor": prep, "model": model.state_dict()}, args.out)
    best = history.best_epoch or history.epochs
    summary = f"val_accuracy {history['val_accuracy'][best - 1]:.4f}" if classification else \
        f"val_mae {history['val_mae'][best - 1] * prep['target_spec']['std']:.4g} (target units)"
    print(f"saved {args.out}: {len(train_idx)} train / {len(val_idx)} validation rows, best epoch {best}, {summary}")
