"""``fastnn demo``: train an MLP on scikit-learn's digits with every available backend and compare them."""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from fastnn.cli.common import CliError, build_mlp, hidden_sizes, positive, split_indices, thread_count


def add_parser(sub) -> None:
    demo = sub.add_parser("demo", help="train an MLP on the digits data with every backend")
    demo.add_argument("--epochs", type=positive(int), default=20)
    demo.add_argument("--hidden", type=hidden_sizes, default=[128, 64])
    demo.add_argument("--lr", type=positive(float), default=1e-3)
    demo.add_argument("--batch-size", type=positive(int), default=32)
    demo.add_argument("--backends", default=None, help="comma-separated backends (default: all available)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-compile", action="store_true",
                      help="skip the compiled-step row (fastnn.compile_step on the default backend)")
    demo.add_argument("--threads", type=thread_count, default=None,
                       help="threads for training: a number or 'auto' (the default: the cores other processes "
                            "leave free)")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Train and test one model per backend from the same seed; print accuracy, loss and speed."""
    import fastnn
    from fastnn import nn, optim
    from fastnn.data import DataLoader, TensorDataset
    from fastnn.train import evaluate, fit

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise CliError("the demo needs scikit-learn: pip install 'fastnn[demo]'") from None
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    train_idx, test_idx = split_indices(len(x), 0.25, args.seed)
    mean, std = x[train_idx].mean(0), x[train_idx].std(0) + 1e-6
    x = ((x - mean) / std).astype(np.float32)
    backends = args.backends.split(",") if args.backends else fastnn.available_backends()
    print(f"fastnn {fastnn.__version__} demo: digits ({len(train_idx)} train / {len(test_idx)} test images, "
          f"8x8 pixels, 10 classes), MLP 64-{'-'.join(map(str, args.hidden))}-10, Adam lr {args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs, {fastnn.get_num_threads()} threads")
    print("(a first run on a machine also compiles the Numba backend's kernels for its row, once: they are "
          "cached on disk)")
    print(f"{'backend':<8} {'test acc':>8} {'final loss':>10} {'ms/epoch':>9} {'speed-up vs numpy':>18}", flush=True)
    base = None
    ordered = sorted(backends, key=lambda name: name != "numpy")  # the baseline first: each row prints when done
    runs = [(name, False) for name in ordered] + ([] if args.no_compile else [(backends[0], True)])
    for name, compiled in runs:
        try:
            fastnn.set_backend(name)
        except (ValueError, RuntimeError) as exc:
            raise CliError(str(exc)) from None
        fastnn.manual_seed(args.seed)
        model = build_mlp(64, args.hidden, 10)
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
        train = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=args.batch_size, shuffle=True,
                           seed=args.seed)
        test = DataLoader(TensorDataset(x[test_idx], y[test_idx]), batch_size=512)
        history = fit(model, nn.CrossEntropyLoss(), optimizer, train, epochs=args.epochs, metrics=None,
                      progress=False, compile=compiled, threads=args.threads)
        acc = evaluate(model, test, metrics=("accuracy",))["accuracy"]
        # the first epoch includes one-off costs (loading kernels); report the steady state
        times = history["epoch_time"][1:] or history["epoch_time"]
        t = statistics.median(times)
        if name == "numpy" and not compiled:
            base = t
        speed = f"{base / t:.2f}x" if base else "n/a"
        label = "compiled" if compiled else name
        print(f"{label:<8} {acc:>8.2%} {history['loss'][-1]:>10.4f} {t * 1e3:>9.1f} {speed:>18}", flush=True)
