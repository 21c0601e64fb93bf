"""Sentiment from pooled word embeddings: a deep averaging network (Iyyer et al. 2015) on SST-2.

A sentence is the mean of its words' embeddings (``nn.EmbeddingBag``, GloVe 6B 50d initialised,
fine-tuned with a smaller learning rate or frozen), followed by ``--layers`` ReLU layers and a
linear layer to the two classes, trained with cross-entropy and Adam. Word dropout removes each
word of a training sentence with probability ``--word-dropout`` before averaging.

Embedding updates: with ``--sparse`` (the default) the embedding table's gradient is row-sparse
(``EmbeddingBag(sparse=True)``: only the words of the batch) and the table is updated by
``SparseAdam`` (lazy Adam: only those rows and their moments change), the rest by Adam;
``--no-sparse`` computes the dense gradient of the whole table and runs Adam over all of it.
``--compare-sparse`` also trains the other variant on the same batches (alternating which goes
first) and prints the time per step and per epoch and the accuracy of both.

Training data: the GLUE SST-2 phrases (67k labelled phrases of the training sentences) by
default, or only the 6,920 training sentences (``--train sentences``). Model selection (the epoch
with the best dev accuracy) uses the SST-2 dev set only; the test set (1,821 sentences) is scored
once per seed with the selected weights. ``--seeds`` trains one network per seed and also reports
their ensemble (mean of the softmax probabilities).

    python examples/sentiment_dan.py [--data DIR] [--epochs 6] [--seeds 0 1 2] [--no-sparse] [--compare-torch]

``--compare-torch`` trains the same network in PyTorch on the same batches with the same
hyperparameters and prints both times, both accuracies and the ratio.

``--distributed`` trains data-parallel over MPI ranks (``fastnn.distributed``): every rank builds
the same shuffled, word-dropped batches, takes every N-th sentence of each (``--batch-size`` is the
global batch), and ``DistributedDataParallel`` averages the gradients, the sparse embedding rows
included; rank 0 prints. Run it as

    mpiexec -n 2 python -m mpi4py examples/sentiment_dan.py --distributed
The data folder is ``--data``, else ``$FASTNN_DATA``, else ``../shared/datasets`` next to the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import fastnn
from fastnn import distributed, nn, optim
from fastnn.text import LabelledText, Vocab, bag_inputs, drop_words, load_glove, read_label_first, read_tsv

try:  # run as a script (examples/ on sys.path) or imported as examples._common
    from _common import GLOVE_FILE, Stopwatch, find_data, seed_everything
except ImportError:  # pragma: no cover
    from examples._common import GLOVE_FILE, Stopwatch, find_data, seed_everything

SENTENCES = Path("sst2") / "sentence_level"
GLUE_TRAIN = Path("sst2") / "glue" / "train.tsv"


@dataclass(frozen=True)
class Corpus:
    """Encoded SST-2 splits: lists of int64 id arrays and int64 labels per split."""

    vocab: Vocab
    vectors: np.ndarray
    texts: dict[str, list[np.ndarray]]
    labels: dict[str, np.ndarray]


class DAN(nn.Module):
    """mean of word embeddings -> [Dropout -> Linear -> ReLU] x layers -> Dropout -> Linear(classes)."""

    def __init__(self, vectors: np.ndarray, hidden: int, layers: int, dropout: float, freeze: bool,
                 padding_idx: int, classes: int = 2, sparse: bool = False) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag.from_pretrained(vectors, freeze=freeze, mode="mean", padding_idx=padding_idx,
                                                         sparse=sparse)
        blocks: list[nn.Module] = []
        width = vectors.shape[1]
        for _ in range(layers):
            blocks += [nn.Dropout(dropout), nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        blocks += [nn.Dropout(dropout), nn.Linear(width, classes)]
        self.classifier = nn.Sequential(*blocks)

    def forward(self, ids: fastnn.Tensor, offsets: fastnn.Tensor) -> fastnn.Tensor:
        return self.classifier(self.embedding(ids, offsets))


def remove_test_sentences(train: Sequence[LabelledText],
                          test: Sequence[LabelledText], ngram: int = 8) -> tuple[list[LabelledText], int, int]:
    """Drop training texts identical to a test sentence; also count test sentences inside a longer training text.

    Returns ``(kept training texts, number dropped, number of test sentences of >= ngram tokens found
    as a contiguous token span of some training text)``; the last figure should be 0 for disjoint splits.
    """
    test_texts = {" ".join(t.tokens) for t in test}
    kept = [t for t in train if " ".join(t.tokens) not in test_texts]
    by_ngram: dict[tuple[str, ...], list[int]] = {}
    for index, t in enumerate(kept):
        for start in range(len(t.tokens) - ngram + 1):
            by_ngram.setdefault(tuple(t.tokens[start:start + ngram]), []).append(index)
    contained = 0
    for t in test:
        if len(t.tokens) < ngram:
            continue
        needle = f" {' '.join(t.tokens)} "
        candidates = by_ngram.get(tuple(t.tokens[:ngram]), [])
        contained += any(needle in f" {' '.join(kept[i].tokens)} " for i in candidates)
    return kept, len(train) - len(kept), contained


def load_corpus(folder: Path, train_source: str, glove_path: Path) -> Corpus:
    splits = {name: read_label_first(folder / SENTENCES / f"stsa.binary.{name}", lower=True)
              for name in ("train", "dev", "test")}
    if train_source == "phrases":
        splits["train"] = read_tsv(folder / GLUE_TRAIN, header=True, lower=True)
    splits["train"], dropped, contained = remove_test_sentences(splits["train"], splits["test"])
    print(f"train/test overlap check: dropped {dropped} training texts identical to a test sentence; "
          f"{contained} of {len(splits['test'])} test sentences (of >= 8 tokens) occur inside a training text")
    # Words of every split may get GloVe rows (unsupervised, no labels); only training words are tuned.
    vocab = Vocab.build([t.tokens for texts in splits.values() for t in texts])
    glove = load_glove(glove_path, vocab)
    print(f"GloVe coverage of the vocabulary: {glove.coverage}")
    texts = {name: [vocab.encode(t.tokens) for t in data] for name, data in splits.items()}
    labels = {name: np.array([t.label for t in data], dtype=np.int64) for name, data in splits.items()}
    return Corpus(vocab, glove.vectors, texts, labels)


def epoch_batches(corpus: Corpus, batch_size: int, word_dropout: float, rng: np.random.Generator,
                  rank: int = 0, world_size: int = 1) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of shuffled ``(ids, offsets, labels)`` training batches, word dropout applied.

    With ``world_size`` > 1 each batch is built whole (so every rank draws the same random numbers)
    and rank ``rank`` keeps its sentences ``rank, rank + world_size, ...``; a final batch smaller than
    the world is left out, so every rank runs the same number of steps."""
    texts, labels = corpus.texts["train"], corpus.labels["train"]
    order = rng.permutation(len(texts))
    batches = []
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        ids, offsets = bag_inputs([texts[i] for i in index])
        if word_dropout:
            ids, offsets = drop_words(ids, offsets, word_dropout, rng)
        if world_size > 1:
            if len(index) < world_size:
                continue
            bags = np.split(ids, offsets[1:])[rank::world_size]
            ids, offsets = bag_inputs(bags)
            index = index[rank::world_size]
        batches.append((ids, offsets, labels[index]))
    return batches


def predict_proba(model: DAN, texts: list[np.ndarray]) -> np.ndarray:
    model.eval()
    ids, offsets = bag_inputs(texts)
    with fastnn.no_grad():
        logits = model(fastnn.tensor(ids), fastnn.tensor(offsets)).numpy()
    model.train()
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def update_name(sparse: bool) -> str:
    return "sparse (SparseAdam)" if sparse else "dense (Adam)"


def make_optimizers(classifier: list, embedding: list, args: argparse.Namespace, sparse: bool, adam: type,
                    sparse_adam: type) -> list:
    """Adam for the classifier; for the (fine-tuned) embedding table Adam too, or SparseAdam when sparse.
    ``adam``/``sparse_adam`` are the fastnn or torch classes."""
    embedding_lr = args.lr * args.embedding_lr_scale
    if args.freeze:
        return [adam(classifier, lr=args.lr)]
    if sparse:
        return [adam(classifier, lr=args.lr), sparse_adam(embedding, lr=embedding_lr)]
    return [adam([{"params": classifier}, {"params": embedding, "lr": embedding_lr}], lr=args.lr)]


def padded_bags(ids: np.ndarray, offsets: np.ndarray, pad: int) -> np.ndarray:
    """The bags of ``(ids, offsets)`` as rows of a (bags, longest) array filled up with ``pad``
    (``EmbeddingBag`` skips ``padding_idx``, so both give the same means)."""
    lengths = np.diff(np.append(offsets, ids.size))
    rows = np.full((offsets.size, max(int(lengths.max(initial=0)), 1)), pad, dtype=np.int64)
    columns = np.arange(ids.size) - np.repeat(offsets, lengths)
    rows[np.repeat(np.arange(offsets.size), lengths), columns] = ids
    return rows


def train_fastnn(corpus: Corpus, args: argparse.Namespace, seed: int,
                 epochs_data: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]],
                 sparse: bool) -> tuple[DAN, float, float]:
    """Train one DAN; returns the weights of the best dev epoch, that dev accuracy and the training seconds."""
    fastnn.manual_seed(seed)
    model = DAN(corpus.vectors, args.hidden, args.layers, args.dropout, args.freeze, corpus.vocab.pad_index,
                sparse=sparse)
    optimizers = make_optimizers(list(model.classifier.parameters()), [model.embedding.weight], args, sparse,
                                 optim.Adam, optim.SparseAdam)
    forward = model
    if args.distributed:
        from fastnn.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model)  # rank 0's weights everywhere; gradients averaged
        fastnn.manual_seed(seed + 1_000_003 * distributed.get_rank())  # each rank its own dropout masks
    loss_fn = nn.CrossEntropyLoss()
    # The whole step (both optimizers: SparseAdam's row updates too) runs compiled, on padded bags;
    # data-parallel training runs eagerly, through DistributedDataParallel's gradient averaging.
    step = None
    if getattr(args, "compile", True) and not args.distributed:
        step = fastnn.compile_step(nn.Sequential(model.embedding, *model.classifier), loss_fn, optimizers)
    watch = Stopwatch()
    best_dev, best_state = -1.0, None
    for batches in epochs_data:
        with watch.running():
            for ids, offsets, labels in batches:
                if step is not None:
                    step(padded_bags(ids, offsets, corpus.vocab.pad_index), labels)
                    continue
                for optimizer in optimizers:
                    optimizer.zero_grad()
                loss = loss_fn(forward(fastnn.tensor(ids), fastnn.tensor(offsets)), fastnn.tensor(labels))
                loss.backward()
                for optimizer in optimizers:
                    optimizer.step()
        dev = float((predict_proba(model, corpus.texts["dev"]).argmax(1) == corpus.labels["dev"]).mean())
        if dev > best_dev:
            best_dev, best_state = dev, {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, best_dev, watch.seconds


def train_torch(corpus: Corpus, args: argparse.Namespace, seed: int,
                epochs_data: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]) -> tuple[float, float, float]:
    """The same DAN, optimiser and batches in PyTorch; returns (best dev accuracy, its test accuracy, seconds)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(args.threads)
    vectors = torch.tensor(corpus.vectors)  # a copy: from_pretrained would fine-tune the shared array in place
    embedding = torch.nn.EmbeddingBag.from_pretrained(vectors, freeze=args.freeze, mode="mean",
                                                      padding_idx=corpus.vocab.pad_index, sparse=args.sparse)
    blocks: list[torch.nn.Module] = []
    width = vectors.shape[1]
    for _ in range(args.layers):
        blocks += [torch.nn.Dropout(args.dropout), torch.nn.Linear(width, args.hidden), torch.nn.ReLU()]
        width = args.hidden
    blocks += [torch.nn.Dropout(args.dropout), torch.nn.Linear(width, 2)]
    classifier = torch.nn.Sequential(*blocks)
    optimizers = make_optimizers(list(classifier.parameters()), [embedding.weight], args, args.sparse,
                                 torch.optim.Adam, torch.optim.SparseAdam)
    loss_fn = torch.nn.CrossEntropyLoss()
    watch = Stopwatch()

    def accuracy(split: str) -> float:
        ids, offsets = bag_inputs(corpus.texts[split])
        classifier.eval()
        with torch.no_grad():
            logits = classifier(embedding(torch.from_numpy(ids), torch.from_numpy(offsets)))
        classifier.train()
        return float((logits.argmax(1).numpy() == corpus.labels[split]).mean())

    best_dev, test_at_best = -1.0, 0.0
    for batches in epochs_data:
        with watch.running():
            for ids, offsets, labels in batches:
                for optimizer in optimizers:
                    optimizer.zero_grad()
                logits = classifier(embedding(torch.from_numpy(ids), torch.from_numpy(offsets)))
                loss = loss_fn(logits, torch.from_numpy(labels))
                loss.backward()
                for optimizer in optimizers:
                    optimizer.step()
        dev = accuracy("dev")
        if dev > best_dev:
            best_dev, test_at_best = dev, accuracy("test")
    return best_dev, test_at_best, watch.seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="datasets folder (default: $FASTNN_DATA or ../shared/datasets)")
    parser.add_argument("--train", choices=("phrases", "sentences"), default="phrases",
                        help="GLUE SST-2 phrases (67k) or the 6,920 sentence-level training sentences")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--layers", type=int, default=2, help="ReLU layers after the average (0: linear model)")
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--word-dropout", type=float, default=0.3)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--embedding-lr-scale", type=float, default=1.0,
                        help="the embeddings' learning rate is lr times this")
    parser.add_argument("--freeze", action="store_true", help="keep the GloVe embeddings fixed")
    parser.add_argument("--sparse", action=argparse.BooleanOptionalAction, default=True,
                        help="row-sparse embedding gradient and SparseAdam for the table (--no-sparse: dense Adam)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                        help="run each training step as fastnn.compile_step (SparseAdam's row updates too; default "
                             "on; --distributed runs eagerly)")
    parser.add_argument("--compare-sparse", action="store_true",
                        help="also train with the other embedding update (sparse/dense) on the same batches")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="one network per seed; with several, their ensemble is reported too")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for fastnn's kernels and BLAS (and PyTorch); one suits these small layers")
    parser.add_argument("--compare-torch", action="store_true",
                        help="train the same DAN in PyTorch on the same batches and report the time ratio")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the MPI ranks of mpiexec (batch-size is the global batch)")
    args = parser.parse_args(argv)
    if args.distributed and (args.compare_torch or args.compare_sparse):
        parser.error("--distributed trains one variant: leave out --compare-torch and --compare-sparse")
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    rank, world_size = 0, 1
    if args.distributed:
        if not distributed.is_initialized():
            distributed.init_process_group()
        rank, world_size = distributed.get_rank(), distributed.get_world_size()
        if rank != 0:  # rank 0 reports; the others train silently
            sys.stdout = open(os.devnull, "w")  # for the rest of the process
    fastnn.set_num_threads(args.threads)
    folder = find_data("sentiment_dan", args.data,
                       [SENTENCES / f"stsa.binary.{s}" for s in ("train", "dev", "test")] + [GLOVE_FILE]
                       + ([GLUE_TRAIN] if args.train == "phrases" else []))
    corpus = load_corpus(folder, args.train, folder / GLOVE_FILE)
    print(f"DAN: {args.layers} x ReLU {args.hidden}, dropout {args.dropout}, word dropout {args.word_dropout}, "
          f"embeddings {'frozen' if args.freeze else f'fine-tuned at lr x {args.embedding_lr_scale}'}, "
          f"Adam lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs on {len(corpus.labels['train'])} "
          f"training {args.train}; {update_name(args.sparse)} embedding update; backend {fastnn.get_backend().name}"
          + (f"; data-parallel over {world_size} MPI ranks" if world_size > 1 else ""))

    test_probabilities, results = [], {}
    seconds, torch_seconds, torch_tests = [], [], []
    other_seconds, other_tests = [], []
    for index, seed in enumerate(args.seeds):
        rng = seed_everything(seed)
        epochs_data = [epoch_batches(corpus, args.batch_size, args.word_dropout, rng, rank, world_size)
                       for _ in range(args.epochs)]
        variants = [args.sparse, not args.sparse] if args.compare_sparse else [args.sparse]
        runs = {}
        for sparse in variants if index % 2 == 0 else variants[::-1]:  # alternate which runs first
            runs[sparse] = train_fastnn(corpus, args, seed, epochs_data, sparse)
        model, dev, train_seconds = runs[args.sparse]
        probabilities = predict_proba(model, corpus.texts["test"])
        test = float((probabilities.argmax(1) == corpus.labels["test"]).mean())
        test_probabilities.append(probabilities)
        seconds.append(train_seconds)
        steps = sum(len(batches) for batches in epochs_data)
        line = (f"seed {seed}: fastnn dev {100 * dev:.1f}%  test {100 * test:.1f}%  training {train_seconds:.1f} s "
                f"({1e3 * train_seconds / steps:.2f} ms per step)")
        if args.compare_sparse:
            other_model, other_dev, other_time = runs[not args.sparse]
            other_test = float((predict_proba(other_model, corpus.texts["test"]).argmax(1)
                                == corpus.labels["test"]).mean())
            other_seconds.append(other_time)
            other_tests.append(other_test)
            line += (f" | {update_name(not args.sparse)} update: dev {100 * other_dev:.1f}%  test "
                     f"{100 * other_test:.1f}%  training {other_time:.1f} s ({1e3 * other_time / steps:.2f} ms "
                     f"per step)")
        if args.compare_torch:
            torch_dev, torch_test, torch_time = train_torch(corpus, args, seed, epochs_data)
            torch_seconds.append(torch_time)
            torch_tests.append(torch_test)
            line += (f" | PyTorch dev {100 * torch_dev:.1f}%  test {100 * torch_test:.1f}%  training "
                     f"{torch_time:.1f} s  (PyTorch / fastnn time {torch_time / train_seconds:.2f}x)")
        print(line, flush=True)
        results[f"test_seed{seed}"] = test

    ensemble = float((np.mean(test_probabilities, axis=0).argmax(1) == corpus.labels["test"]).mean())
    results["test_ensemble"] = ensemble
    results["train_seconds"] = float(np.sum(seconds))
    print(f"SST-2 test accuracy: ensemble of {len(args.seeds)} seeds {100 * ensemble:.1f}%, single seeds mean "
          f"{100 * np.mean([results[f'test_seed{s}'] for s in args.seeds]):.1f}%; "
          f"training time {np.sum(seconds):.1f} s in total (median {np.median(seconds):.1f} s per seed)")
    if args.compare_sparse:
        own_tests = [results[f"test_seed{s}"] for s in args.seeds]
        sparse_seconds, dense_seconds = (seconds, other_seconds) if args.sparse else (other_seconds, seconds)
        sparse_tests, dense_tests = (own_tests, other_tests) if args.sparse else (other_tests, own_tests)
        results["dense_over_sparse_time"] = float(np.median(dense_seconds) / np.median(sparse_seconds))
        print(f"embedding update, median over seeds: sparse {np.median(sparse_seconds) / args.epochs:.2f} s per "
              f"epoch (test {100 * np.mean(sparse_tests):.1f}%), dense {np.median(dense_seconds) / args.epochs:.2f} s "
              f"per epoch (test {100 * np.mean(dense_tests):.1f}%): dense / sparse time = "
              f"{results['dense_over_sparse_time']:.2f}")
    if args.compare_torch:
        ratio = float(np.median(torch_seconds) / np.median(seconds))
        results["torch_ratio"] = ratio
        print(f"PyTorch: test {100 * np.mean(torch_tests):.1f}% (mean of seeds), median "
              f"{np.median(torch_seconds):.1f} s per seed vs fastnn {np.median(seconds):.1f} s: "
              f"PyTorch time / fastnn time = {ratio:.2f}")
    return results


if __name__ == "__main__":
    main()
