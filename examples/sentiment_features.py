"""Sentiment from hand-built features: a lexicon, negation and length, fed to a logistic regression.

The model of the course slides (after Jurafsky & Martin, "Speech and Language Processing", ch. 5):
each sentence becomes a few counts (positive and negative lexicon words, split by whether a
negation word precedes them in the same clause, a "no"/negation flag, 1st/2nd person pronouns,
"!", log length), standardised on the training set, and a logistic regression
``p(positive) = sigmoid(w . x + b)`` is trained with fastnn (``nn.Linear`` + ``BCEWithLogitsLoss``
+ Adam, full batch). Data: SST-2 sentence level (train 6,920 / dev 872 / test 1,821).

    python examples/sentiment_features.py [--data DIR] [--steps 300] [--lr 0.1] [--seed 0]

The data folder is ``--data``, else ``$FASTNN_DATA``, else ``../shared/datasets`` next to the repository.
The lexicon below was written by hand from general knowledge of review language, not fitted to the data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.text import LabelledText, read_label_first

POSITIVE = frozenset("""
good great best better excellent wonderful wonderfully beautiful beautifully funny fun enjoyable entertaining
charming delightful moving touching brilliant fine perfect love loved lovely powerful engaging fresh smart clever
witty compelling remarkable solid strong rich heartfelt hilarious impressive masterpiece memorable pleasure
refreshing satisfying sweet terrific thoughtful thrilling warm worth gorgeous stunning intelligent inventive
original poignant intriguing provocative amazing riveting absorbing affecting appealing exhilarating gripping
haunting honest insightful joy likable likeable nice pleasant superb tender triumph uplifting vivid winning wise
admirable accomplished enjoy enjoyed beauty humor humour charm energy exciting fascinating sharp
""".split())

NEGATIVE = frozenset("""
bad worst worse boring dull stupid awful terrible mess tedious flat lame waste wasted poor poorly predictable
pointless unfunny tired bland mediocre ugly annoying disappointing disappointment dumb fails failed failure
horrible lacks lacking lifeless mindless overlong pretentious ridiculous silly sloppy slow tiresome trite
unpleasant weak cliche cliches clumsy confusing contrived forgettable hollow incoherent inept listless meandering
muddled problem problems shallow sluggish stale tepid uninspired uninteresting unsatisfying vapid bore bored
boredom drag garbage junk nonsense painful plodding routine numbing excruciating grating dreary banal empty
hackneyed formulaic awkward sadly unfortunately nothing mess lousy
""".split())

NEGATIONS = frozenset("not no never n't nothing nobody none neither nor without hardly cannot".split())
CLAUSE_ENDS = frozenset(". , ; : ! ? -- but however yet".split())
PRONOUNS = frozenset("i me my mine we us our you your yours".split())
FEATURE_NAMES = ("positive", "negative", "negated positive", "negated negative", "has negation",
                 "1st/2nd person pronouns", "has !", "log(1 + length)")


def sentence_features(tokens: list[str]) -> list[float]:
    """The hand-built features of one lowercased, tokenised sentence (see FEATURE_NAMES).

    A lexicon word counts as negated when a negation word came before it in the same clause
    (a clause ends at punctuation or a contrastive conjunction), as in Das & Chen (2001).
    """
    positive = negative = negated_positive = negated_negative = 0
    negated = False
    for token in tokens:
        if token in CLAUSE_ENDS:
            negated = False
        elif token in NEGATIONS:
            negated = True
        elif token in POSITIVE:
            negated_positive += negated
            positive += not negated
        elif token in NEGATIVE:
            negated_negative += negated
            negative += not negated
    return [positive, negative, negated_positive, negated_negative, float(any(t in NEGATIONS for t in tokens)),
            sum(t in PRONOUNS for t in tokens), float("!" in tokens), float(np.log1p(len(tokens)))]


def feature_matrix(examples: list[LabelledText]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([sentence_features(e.tokens) for e in examples], dtype=np.float64)
    y = np.array([e.label for e in examples], dtype=np.float32)
    return x, y


def find_data(cli_value: str | None) -> Path:
    repo = Path(__file__).resolve().parents[1]
    folder = Path(cli_value or os.environ.get("FASTNN_DATA") or repo.parent / "shared" / "datasets")
    needed = [folder / "sst2" / "sentence_level" / f"stsa.binary.{split}" for split in ("train", "dev", "test")]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        sys.exit(f"sentiment_features: SST-2 sentence-level files not found: {', '.join(missing)}\n"
                 f"Pass the datasets folder with --data DIR or set FASTNN_DATA (see shared/datasets/README.md).")
    return folder / "sst2" / "sentence_level"


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with fastnn.no_grad():
        logits = model(fastnn.tensor(x)).numpy()[:, 0]
    return float(((logits > 0) == (y > 0.5)).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="datasets folder (default: $FASTNN_DATA or ../shared/datasets)")
    parser.add_argument("--steps", type=int, default=300, help="full-batch Adam steps")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-sklearn", action="store_true",
                        help="also fit scikit-learn's LogisticRegression on the same features")
    args = parser.parse_args(argv)

    folder = find_data(args.data)
    splits = {name: feature_matrix(read_label_first(folder / f"stsa.binary.{name}", lower=True))
              for name in ("train", "dev", "test")}
    mean, std = splits["train"][0].mean(0), splits["train"][0].std(0) + 1e-12
    data = {name: (((x - mean) / std).astype(np.float32), y) for name, (x, y) in splits.items()}
    x_train, y_train = data["train"]

    fastnn.manual_seed(args.seed)
    model = nn.Linear(x_train.shape[1], 1)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    inputs, targets = fastnn.tensor(x_train), fastnn.tensor(y_train[:, None])
    step = fastnn.compile_step(model, loss_fn, optimizer)  # zero_grad, forward, loss, backward, step: one call
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step(inputs, targets)
    seconds = time.perf_counter() - start

    print(f"SST-2 sentence level, {len(FEATURE_NAMES)} hand-built features, logistic regression "
          f"({args.steps} full-batch Adam steps, lr {args.lr}): training {seconds:.2f} s, final loss {loss.item():.4f}")
    for name, (x, y) in data.items():
        print(f"  {name:5s} accuracy {100 * accuracy(model, x, y):5.1f}%  ({len(y)} sentences)")
    weights = model.weight.numpy()[0]
    print("  weights (standardised features): " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(FEATURE_NAMES, weights)))

    if args.compare_sklearn:
        from sklearn.linear_model import LogisticRegression

        reference = LogisticRegression(C=1e6, max_iter=1000).fit(x_train, y_train)
        print("  scikit-learn LogisticRegression (unregularised) on the same features: " + ", ".join(
            f"{name} {100 * reference.score(x, y):.1f}%" for name, (x, y) in data.items()))


if __name__ == "__main__":
    main()
