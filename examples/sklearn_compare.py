"""fastnn.sklearn's MLPClassifier/MLPRegressor beside scikit-learn's, with the same settings.

Both estimators get the same parameters (hidden_layer_sizes, solver "adam", learning_rate_init,
batch_size, alpha, random_state) and run exactly ``--epochs`` epochs (tol=0 and a patience
larger than the epochs, so neither stops early); both start from the same Glorot-uniform weights
drawn from the same random_state. Features are standardised on the training split. Each
(data set, seed) is fitted by both libraries, alternating which goes first; the table gives the
mean test score over the seeds (accuracy; R^2 for regression) and the median fit time, with the
ratio scikit-learn time / fastnn time taken from the same runs (median over the seeds). Threads
are ``--threads`` for both (``fastnn.set_num_threads`` sets fastnn's and every BLAS's).

Data sets: digits, breast cancer and diabetes (bundled with scikit-learn) and SST-2 phrases as
mean GloVe vectors (67,349 x 50, from the shared datasets folder; skipped when absent). Covertype
and California housing need a download, so they are not used.

    python examples/sklearn_compare.py [--epochs 30] [--seeds 0 1 2] [--threads 1] [--only digits,sst2]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn import neural_network
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import sklearn as fsk
from fastnn.text import read_tsv

try:  # run as a script (examples/ on sys.path) or imported as examples._common
    from _common import GLOVE_FILE
except ImportError:  # pragma: no cover
    from examples._common import GLOVE_FILE

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def tabular(loader: Callable, classify: bool) -> Callable[[Path], Split]:
    def load(_: Path) -> Split:
        X, y = loader(return_X_y=True)
        return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y if classify else None)
    return load


def sst2_glove(folder: Path) -> Split:
    """SST-2 GLUE phrases (train) and dev sentences as the mean of their words' GloVe vectors."""
    glove_path = folder / GLOVE_FILE
    train_path, dev_path = folder / "sst2" / "glue" / "train.tsv", folder / "sst2" / "glue" / "dev.tsv"
    if not all(p.is_file() for p in (glove_path, train_path, dev_path)):
        raise FileNotFoundError(f"needs {glove_path}, {train_path} and {dev_path}")
    vectors = {}
    with gzip.open(glove_path, "rt", encoding="utf-8") as f:
        for line in f:
            word, *values = line.rstrip().split(" ")
            vectors[word] = np.asarray(values, dtype=np.float32)
    zero = np.zeros(50, dtype=np.float32)

    def encode(path: Path) -> tuple[np.ndarray, np.ndarray]:
        texts = read_tsv(path, header=True, lower=True)
        X = np.stack([np.mean([vectors.get(w, zero) for w in t.tokens] or [zero], axis=0) for t in texts])
        return X, np.array([t.label for t in texts])

    X_train, y_train = encode(train_path)
    X_test, y_test = encode(dev_path)
    return X_train, X_test, y_train, y_test


DATASETS: dict[str, tuple[Callable[[Path], Split], bool]] = {
    "digits": (tabular(load_digits, True), True),
    "breast_cancer": (tabular(load_breast_cancer, True), True),
    "diabetes": (tabular(load_diabetes, False), False),
    "sst2_glove": (sst2_glove, True),
}


def fit_and_score(make: Callable, X_train, y_train, X_test, y_test) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model = make().fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return model.score(X_test, y_test), seconds


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hidden", type=int, nargs="+", default=[100])
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--only", default=",".join(DATASETS))
    parser.add_argument("--data", default=None, help="the shared datasets folder (default: ../shared/datasets)")
    args = parser.parse_args(argv)
    # One thread count for the whole process (fastnn's kernels and every BLAS), set once: an
    # estimator's n_threads would restore the previous count after its fit, under scikit-learn's feet.
    fastnn.set_num_threads(args.threads)
    folder = Path(args.data) if args.data else Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not folder.is_dir():
        folder = Path("/work/shared/datasets")
    rows = [f"fastnn {fastnn.__version__} (backend {fastnn.get_backend().name}) vs scikit-learn "
            f"{__import__('sklearn').__version__}: hidden {tuple(args.hidden)}, adam, lr 1e-3, batch "
            f"{args.batch_size}, alpha 1e-4, {args.epochs} epochs, seeds {args.seeds}, {args.threads} thread(s)",
            "",
            "| data set | n train x features | metric | scikit-learn score | fastnn score | scikit-learn fit (s) "
            "| fastnn fit (s) | speed-up |",
            "|---|---|---|---|---|---|---|---|"]
    for name in args.only.split(","):
        load, classify = DATASETS[name]
        try:
            X_train, X_test, y_train, y_test = load(folder)
        except FileNotFoundError as exc:
            rows.append(f"| {name} | skipped: {exc} | | | | | | |")
            continue
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        if not classify:  # scale the target as well so lr 1e-3 learns within the epochs, for both
            mean, std = y_train.mean(), y_train.std()
            y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
        common = dict(hidden_layer_sizes=tuple(args.hidden), solver="adam", learning_rate_init=1e-3,
                      batch_size=args.batch_size, alpha=1e-4, max_iter=args.epochs, tol=0.0,
                      n_iter_no_change=args.epochs + 1)
        ours_cls, ref_cls = (fsk.MLPClassifier, neural_network.MLPClassifier) if classify else \
            (fsk.MLPRegressor, neural_network.MLPRegressor)
        scores = {"sklearn": [], "fastnn": []}
        times = {"sklearn": [], "fastnn": []}
        with threadpool_limits(args.threads):
            for i, seed in enumerate(args.seeds):
                runs = [("sklearn", functools.partial(ref_cls, random_state=seed, **common)),
                        ("fastnn", functools.partial(ours_cls, random_state=seed, **common))]
                for who, make in runs if i % 2 == 0 else runs[::-1]:
                    score, seconds = fit_and_score(make, X_train, y_train, X_test, y_test)
                    scores[who].append(score)
                    times[who].append(seconds)
        ratio = statistics.median(r / f for r, f in zip(times["sklearn"], times["fastnn"]))

        def spread(values: list[float]) -> str:
            return f"{np.mean(values):.4f} ± {np.std(values):.4f}"

        rows.append(f"| {name} | {X_train.shape[0]} x {X_train.shape[1]} | {'accuracy' if classify else 'R^2'} | "
                    f"{spread(scores['sklearn'])} | {spread(scores['fastnn'])} | "
                    f"{statistics.median(times['sklearn']):.3f} | {statistics.median(times['fastnn']):.3f} | "
                    f"{ratio:.2f}x |")
        print(rows[-1], flush=True)
    table = "\n".join(rows)
    print()
    print(table)
    return table


if __name__ == "__main__":
    main()
