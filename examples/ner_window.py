"""Named entities from a context window (Collobert et al. 2011), with a linear-chain CRF on top.

Each token is classified from the ±2 window around it: for every window position, the lowercased
word's embedding (GloVe 6B 50d initialised, fine-tuned), an embedding of its capitalisation class
and embeddings of its 3-letter prefix and suffix. The concatenation goes through input dropout,
a tanh hidden layer and dropout to one score per BIO tag. Training maximises the sentence-level
likelihood of a linear-chain CRF over those scores (``--objective crf``: learned tag-transition
scores, forward-backward in NumPy, vectorised over the batch), or the per-token cross-entropy
(``--objective token``). Decoding is Viterbi restricted to valid BIO sequences (``I-X`` only after
``B-X``/``I-X``), with the learned transitions for the CRF and none for the per-token model.

Embedding updates: with ``--sparse`` (the default) the four embedding tables get row-sparse
gradients (``Embedding(sparse=True)``: only the rows of the batch's windows) and are updated by
``SparseAdam`` (lazy Adam), the layers and transition scores by Adam; ``--no-sparse`` computes the
dense gradient of every table and runs Adam over all of it. ``--compare-sparse`` trains both
variants in one run, alternating epochs (same sentence order; dropout masks differ), and prints
the time per step and per epoch and the F1 of both.

Model selection: the epoch with the best dev entity F1 (CoNLL ``conlleval`` scoring); the test set
is scored once with those weights.

    python examples/ner_window.py [--data DIR] [--dataset conll2003|wnut17] [--epochs N] [--no-sparse]

The data folder is ``--data``, else ``$FASTNN_DATA``, else ``../shared/datasets`` next to the repository.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.text import (
    NUM_CASINGS,
    TaggedSentence,
    Vocab,
    bio_transitions,
    build_tag_vocab,
    casing_ids,
    context_windows,
    entity_scores,
    load_glove,
    read_conll,
)

try:  # run as a script (examples/ on sys.path) or imported as examples._common
    from _common import GLOVE_FILE, Stopwatch, find_data, seed_everything
except ImportError:  # pragma: no cover
    from examples._common import GLOVE_FILE, Stopwatch, find_data, seed_everything

DATASETS = {  # name -> (train, dev, test) paths, whether the tags are IOB1, default epochs
    "conll2003": ((Path("conll2003") / "eng.train", Path("conll2003") / "eng.testa", Path("conll2003") / "eng.testb"),
                  True, 7),
    "wnut17": ((Path("wnut17") / "wnut17train.conll", Path("wnut17") / "emerging.dev.conll",
                Path("wnut17") / "emerging.test.annotated"), False, 12),
}
SPLITS = ("train", "dev", "test")
START, END = "<s>", "</s>"
INVALID = -1e4  # score added to transitions that BIO forbids (exp underflows to 0 in float64)


@dataclass
class Split:
    """Per-token model inputs of one split, in sentence order, plus the sentence layout."""

    words: np.ndarray  # (N, width) word ids of each token's window
    casings: np.ndarray  # (N, width)
    prefixes: np.ndarray  # (N, width)
    suffixes: np.ndarray  # (N, width)
    tags: np.ndarray  # (N,) tag ids
    starts: np.ndarray  # (S,) first token of each sentence
    lengths: np.ndarray  # (S,)
    gold: list[list[str]]


def affix_vocab(sentences: list[TaggedSentence], affix: slice) -> Vocab:
    return Vocab.build([[t.lower()[affix] for t in s.tokens] for s in sentences], min_freq=2)


def word_vocab(splits: dict[str, list[TaggedSentence]], glove_path: Path) -> tuple[Vocab, np.ndarray]:
    """Training words plus the dev/test words that have a GloVe vector (no labels are used for the latter)."""
    everything = Vocab.build([[t.lower() for t in s.tokens] for part in splits.values() for s in part],
                             specials=[START, END])
    glove = load_glove(glove_path, everything)
    train_words = {t.lower() for s in splits["train"] for t in s.tokens}
    unseen = set(glove.coverage.missing) - train_words
    keep = [i for i, w in enumerate(everything.itos) if w not in unseen]
    vocab = Vocab([everything.itos[i] for i in keep], pad_token=everything.pad_token,
                  unk_token=everything.unk_token, counts=everything.counts)
    print(f"GloVe coverage of the lowercased words of all splits: {glove.coverage}; "
          f"{len(unseen)} words neither in training nor in GloVe map to {vocab.unk_token}")
    return vocab, glove.vectors[keep]


def encode_split(sentences: list[TaggedSentence], vocabs: dict[str, Vocab], tags: Vocab, size: int) -> Split:
    words, prefixes, suffixes = vocabs["word"], vocabs["prefix"], vocabs["suffix"]
    start, end = words.lookup(START), words.lookup(END)
    return Split(
        words=context_windows([words.encode([t.lower() for t in s.tokens]) for s in sentences], size, start, end),
        casings=context_windows([casing_ids(s.tokens) for s in sentences], size, NUM_CASINGS, NUM_CASINGS + 1),
        prefixes=context_windows([prefixes.encode([t.lower()[:3] for t in s.tokens]) for s in sentences], size, 0),
        suffixes=context_windows([suffixes.encode([t.lower()[-3:] for t in s.tokens]) for s in sentences], size, 0),
        tags=np.concatenate([tags.encode(s.tags) for s in sentences]),
        starts=np.cumsum([0] + [len(s.tokens) for s in sentences[:-1]]).astype(np.int64),
        lengths=np.array([len(s.tokens) for s in sentences], dtype=np.int64),
        gold=[list(s.tags) for s in sentences])


class WindowTagger(nn.Module):
    """[word | casing | prefix | suffix embeddings of the window] -> Dropout -> Linear -> tanh -> Dropout -> Linear."""

    def __init__(self, vectors: np.ndarray, n_prefixes: int, n_suffixes: int, n_tags: int, width: int,
                 hidden: int, input_dropout: float, dropout: float, casing_dim: int = 5, affix_dim: int = 20,
                 sparse: bool = False) -> None:
        super().__init__()
        self.words = nn.Embedding.from_pretrained(vectors, freeze=False, sparse=sparse)
        self.casings = nn.Embedding(NUM_CASINGS + 2, casing_dim, sparse=sparse)
        self.prefixes = nn.Embedding(n_prefixes, affix_dim, padding_idx=0, sparse=sparse)
        self.suffixes = nn.Embedding(n_suffixes, affix_dim, padding_idx=0, sparse=sparse)
        self.input_dropout = nn.Dropout(input_dropout)
        self.hidden = nn.Linear(width * (vectors.shape[1] + casing_dim + 2 * affix_dim), hidden)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, n_tags)

    def forward(self, words: fastnn.Tensor, casings: fastnn.Tensor, prefixes: fastnn.Tensor,
                suffixes: fastnn.Tensor) -> fastnn.Tensor:
        n = words.shape[0]
        features = fastnn.cat([table(ids).reshape(n, -1) for table, ids in (
            (self.words, words), (self.casings, casings), (self.prefixes, prefixes), (self.suffixes, suffixes))], 1)
        hidden = self.hidden(self.input_dropout(features)).tanh()
        return self.output(self.dropout(hidden))


def transition_mask(tags: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """0 where BIO allows a move (start -> tag, tag i -> tag j) and INVALID where it does not."""
    allowed_start, allowed = bio_transitions(tuple(tags.itos))
    return np.where(allowed_start, 0.0, INVALID), np.where(allowed, 0.0, INVALID)


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(x - top).sum(axis=axis))


def crf_loss_and_grads(emissions: np.ndarray, lengths: np.ndarray, tags: np.ndarray, transitions: np.ndarray,
                       start: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Mean over sentences of -log p(tags | emissions) for a linear-chain CRF, and its gradients.

    ``emissions`` (B, T, K) padded, ``lengths`` (B,), ``tags`` (B, T) padded; the score of a
    sequence y is ``start[y_0] + sum_t emissions[t, y_t] + sum_t transitions[y_{t-1}, y_t]``
    (the BIO mask is already added into ``transitions``/``start``). Scaled forward-backward in
    probability space: alpha_t = (alpha_{t-1} exp(transitions)) * exp(emissions_t) / c_t, so
    log Z = sum_t log c_t (+ the per-token maxima subtracted from the emissions); token marginals
    are alpha_t * beta_t, pair marginals alpha_{t-1}(i) exp(transitions_ij) exp(emissions_t,j) beta_t(j) / c_t.
    d(-log p)/d emissions = marginals - one-hot(gold); d/d transitions = expected - observed counts.
    Returns (loss, d_emissions, d_transitions, d_start).
    """
    batch, steps, n_tags = emissions.shape
    mask = np.arange(steps)[None, :] < lengths[:, None]  # (B, T)
    top = emissions.max(axis=2)
    potentials = np.exp(emissions - top[:, :, None])  # (B, T, K), largest entry 1 per token
    moves = np.exp(transitions)
    alphas = np.empty((batch, steps, n_tags))
    norms = np.ones((batch, steps))
    alpha = np.exp(start) * potentials[:, 0]
    norms[:, 0] = alpha.sum(1)
    alphas[:, 0] = alpha = alpha / norms[:, :1]
    for t in range(1, steps):
        stepped = (alpha @ moves) * potentials[:, t]
        total = stepped.sum(1)
        valid = mask[:, t]
        norms[valid, t] = total[valid]
        alphas[:, t] = alpha = np.where(valid[:, None], stepped / np.where(valid, total, 1.0)[:, None], alpha)
    log_z = np.log(norms).sum(1) + (top * mask).sum(1)

    betas = np.ones((batch, steps, n_tags))
    for t in range(steps - 2, -1, -1):
        stepped = ((potentials[:, t + 1] * betas[:, t + 1]) @ moves.T) / norms[:, t + 1, None]
        betas[:, t] = np.where(mask[:, t + 1, None], stepped, 1.0)
    marginals = alphas * betas * mask[:, :, None]
    pairs = (alphas[:, :-1, :, None] * moves * (potentials[:, 1:] * betas[:, 1:] / norms[:, 1:, None])[:, :, None, :])
    d_transitions = (pairs * mask[:, 1:, None, None]).sum(axis=(0, 1))

    safe_tags = np.where(mask, tags, 0)
    gold = start[safe_tags[:, 0]] + (np.take_along_axis(emissions, safe_tags[:, :, None], 2)[:, :, 0] * mask).sum(1)
    follows = mask[:, 1:]
    gold += (transitions[safe_tags[:, :-1], safe_tags[:, 1:]] * follows).sum(1)
    np.add.at(d_transitions, (safe_tags[:, :-1][follows], safe_tags[:, 1:][follows]), -1.0)

    d_start = marginals[:, 0].sum(0) - np.bincount(safe_tags[:, 0], minlength=n_tags)
    d_emissions = marginals
    sentence, position = np.nonzero(mask)
    d_emissions[sentence, position, tags[mask]] -= 1.0
    scale = 1.0 / batch
    return float((log_z - gold).mean()), d_emissions * scale, d_transitions * scale, d_start * scale


def viterbi(emissions: np.ndarray, lengths: np.ndarray, transitions: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Best tag sequence of each padded sentence under the CRF score (B, T, K) -> (B, T) int64."""
    batch, steps, _ = emissions.shape
    mask = np.arange(steps)[None, :] < lengths[:, None]
    backpointers = np.zeros(emissions.shape, dtype=np.int64)
    score = start + emissions[:, 0]
    for t in range(1, steps):
        candidates = score[:, :, None] + transitions
        backpointers[:, t] = candidates.argmax(axis=1)
        stepped = candidates.max(axis=1) + emissions[:, t]
        score = np.where(mask[:, t, None], stepped, score)
    paths = np.zeros((batch, steps), dtype=np.int64)
    current = score.argmax(axis=1)
    rows = np.arange(batch)
    for t in range(steps - 1, 0, -1):
        active = t < lengths
        paths[active, t] = current[active]
        current = np.where(active, backpointers[rows, t, current], current)
    paths[:, 0] = current
    return paths


class Trainer:
    """The tagger, its CRF transition scores, their optimizers (Adam; SparseAdam for sparse tables),
    batching and decoding."""

    def __init__(self, model: WindowTagger, tags: Vocab, args: argparse.Namespace, sparse: bool) -> None:
        self.model, self.tags, self.objective = model, tags, args.objective
        self.start_mask, self.transition_mask = transition_mask(tags)
        n_tags = len(tags)
        self.transitions = fastnn.nn.Parameter(np.zeros((n_tags, n_tags), dtype=np.float32))
        self.start = fastnn.nn.Parameter(np.zeros(n_tags, dtype=np.float32))
        params = list(model.parameters()) + ([self.transitions, self.start] if self.objective == "crf" else [])
        tables = {id(table.weight) for table in (model.words, model.casings, model.prefixes, model.suffixes)}
        lazy = [p for p in params if sparse and id(p) in tables]
        self.optimizers = [optim.Adam([p for p in params if id(p) not in {id(q) for q in lazy}], lr=args.lr)]
        if lazy:
            self.optimizers.append(optim.SparseAdam(lazy, lr=args.lr))
        self.steps = 0

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Transition and start scores for decoding/training, BIO mask included (zero learned part for 'token')."""
        learned = self.objective == "crf"
        transitions = self.transitions.numpy().astype(np.float64) if learned else 0.0
        start = self.start.numpy().astype(np.float64) if learned else 0.0
        return transitions + self.transition_mask, start + self.start_mask

    def emissions(self, split: Split, tokens: np.ndarray) -> fastnn.Tensor:
        return self.model(*(fastnn.tensor(a[tokens]) for a in (split.words, split.casings, split.prefixes,
                                                                split.suffixes)))

    def step(self, split: Split, sentences: np.ndarray) -> float:
        lengths = split.lengths[sentences]
        tokens = np.concatenate([np.arange(s, s + n) for s, n in zip(split.starts[sentences], lengths)])
        self.steps += 1
        for optimizer in self.optimizers:
            optimizer.zero_grad()
        emissions = self.emissions(split, tokens)
        if self.objective == "token":
            loss = nn.functional.cross_entropy(emissions, fastnn.tensor(split.tags[tokens]))
            loss.backward()
            for optimizer in self.optimizers:
                optimizer.step()
            return loss.item()
        batch_of, position = padded_layout(lengths)
        padded = np.zeros((len(lengths), lengths.max(), len(self.tags)))
        padded[batch_of, position] = emissions.numpy()
        gold = np.zeros(padded.shape[:2], dtype=np.int64)
        gold[batch_of, position] = split.tags[tokens]
        transitions, start = self.scores()
        loss, d_emissions, d_transitions, d_start = crf_loss_and_grads(padded, lengths, gold, transitions, start)
        emissions.backward(fastnn.tensor(d_emissions[batch_of, position].astype(np.float32)))
        self.transitions.grad = fastnn.tensor(d_transitions.astype(np.float32))
        self.start.grad = fastnn.tensor(d_start.astype(np.float32))
        for optimizer in self.optimizers:
            optimizer.step()
        return loss

    def predict(self, split: Split, chunk: int = 512) -> list[list[str]]:
        self.model.eval()
        transitions, start = self.scores()
        predicted = []
        with fastnn.no_grad():
            for first in range(0, len(split.lengths), chunk):
                sentences = np.arange(first, min(first + chunk, len(split.lengths)))
                lengths = split.lengths[sentences]
                tokens = np.arange(split.starts[sentences[0]], split.starts[sentences[-1]] + lengths[-1])
                scores = self.emissions(split, tokens).numpy().astype(np.float64)
                if self.objective == "token":  # Viterbi over log-probabilities
                    scores = scores - logsumexp(scores, axis=1)[:, None]
                batch_of, position = padded_layout(lengths)
                padded = np.zeros((len(lengths), lengths.max(), len(self.tags)))
                padded[batch_of, position] = scores
                paths = viterbi(padded, lengths, transitions, start)
                predicted += [self.tags.decode(paths[b, :n]) for b, n in enumerate(lengths)]
        self.model.train()
        return predicted


def update_name(sparse: bool) -> str:
    return "sparse (SparseAdam)" if sparse else "dense (Adam)"


@dataclass
class Run:
    """One training run: its trainer, training clock and best dev epoch (with its weights) so far."""

    name: str
    trainer: Trainer
    watch: Stopwatch = field(default_factory=Stopwatch)
    best: dict = field(default_factory=lambda: {"dev_f1": -1.0})

    def train_epoch(self, data: dict[str, Split], order: np.ndarray, batch_size: int, epoch: int,
                    label: bool) -> None:
        """One epoch over the sentences in ``order``, then the dev F1 (keeping the best epoch's weights)."""
        trainer = self.trainer
        with self.watch.running():
            losses = [trainer.step(data["train"], order[i:i + batch_size]) for i in range(0, len(order), batch_size)]
        dev = entity_scores(data["dev"].gold, trainer.predict(data["dev"]))
        print(f"epoch {epoch}{f' [{self.name}]' if label else ''}: loss {np.mean(losses):.4f}  "
              f"dev F1 {100 * dev.f1:.2f}  (training {self.watch.seconds:.1f} s so far)", flush=True)
        if dev.f1 > self.best["dev_f1"]:
            self.best = {"dev_f1": dev.f1, "epoch": epoch,
                         "state": {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()},
                         "transitions": trainer.transitions.numpy().copy(), "start": trainer.start.numpy().copy()}

    def test(self, split: Split):
        """Entity scores on ``split`` with the weights of the best dev epoch."""
        trainer = self.trainer
        trainer.model.load_state_dict(self.best["state"])
        trainer.transitions.data[...] = self.best["transitions"]
        trainer.start.data[...] = self.best["start"]
        return entity_scores(split.gold, trainer.predict(split))

    def ms_per_step(self) -> float:
        return 1e3 * self.watch.seconds / max(self.trainer.steps, 1)


def padded_layout(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sentence in batch, position in sentence) of each token of consecutive sentences."""
    batch_of = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return batch_of, position


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="datasets folder (default: $FASTNN_DATA or ../shared/datasets)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="conll2003")
    parser.add_argument("--objective", choices=("crf", "token"), default="crf",
                        help="sentence-level CRF likelihood or per-token cross-entropy")
    parser.add_argument("--epochs", type=int, help="default: 7 for conll2003, 12 for wnut17 (3x smaller)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch")
    parser.add_argument("--window", type=int, default=2, help="tokens on each side")
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--input-dropout", type=float, default=0.2)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="threads for fastnn's kernels and BLAS")
    parser.add_argument("--sparse", action=argparse.BooleanOptionalAction, default=True,
                        help="row-sparse embedding gradients and SparseAdam for the tables (--no-sparse: dense Adam)")
    parser.add_argument("--compare-sparse", action="store_true",
                        help="also train with the other embedding update, alternating epochs, and compare")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    fastnn.set_num_threads(args.threads)
    paths, iob1, default_epochs = DATASETS[args.dataset]
    epochs = args.epochs or default_epochs
    folder = find_data("ner_window", args.data, [*paths, GLOVE_FILE])
    sentences = {name: read_conll(folder / path, convert_iob1=iob1) for name, path in zip(SPLITS, paths)}
    tags = build_tag_vocab(s.tags for s in sentences["train"])
    vocab, vectors = word_vocab(sentences, folder / GLOVE_FILE)
    vocabs = {"word": vocab, "prefix": affix_vocab(sentences["train"], slice(None, 3)),
              "suffix": affix_vocab(sentences["train"], slice(-3, None))}
    data = {name: encode_split(s, vocabs, tags, args.window) for name, s in sentences.items()}

    rng = seed_everything(args.seed)
    runs = []
    for sparse in [args.sparse, not args.sparse] if args.compare_sparse else [args.sparse]:
        fastnn.manual_seed(args.seed)  # both variants start from the same weights
        model = WindowTagger(vectors, len(vocabs["prefix"]), len(vocabs["suffix"]), len(tags), 2 * args.window + 1,
                             args.hidden, args.input_dropout, args.dropout, sparse=sparse)
        runs.append(Run(update_name(sparse), Trainer(model, tags, args, sparse)))
    print(f"{args.dataset}: {len(data['train'].tags)} training tokens, {len(tags)} tags, {len(vocab)} words; "
          f"window ±{args.window}, tanh {args.hidden}, input dropout {args.input_dropout}, dropout {args.dropout}, "
          f"Adam lr {args.lr}, {args.batch_size} sentences per batch, objective {args.objective}; "
          f"{runs[0].name} embedding update; backend {fastnn.get_backend().name}")

    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(data["train"].lengths))
        for run in runs if epoch % 2 else runs[::-1]:  # alternate which variant trains first
            run.train_epoch(data, order, args.batch_size, epoch, label=len(runs) > 1)

    results = {}
    for run in runs:
        test = run.test(data["test"])
        print(f"{run.name + ': ' if len(runs) > 1 else ''}best dev epoch {run.best['epoch']}: dev F1 "
              f"{100 * run.best['dev_f1']:.2f}; test F1 {100 * test.f1:.2f} (precision {100 * test.precision:.2f}, "
              f"recall {100 * test.recall:.2f}); training time {run.watch.seconds:.1f} s "
              f"({run.watch.seconds / epochs:.2f} s per epoch, {run.ms_per_step():.2f} ms per step)")
        if not results:
            print(test.report())
            results = {"dev_f1": run.best["dev_f1"], "test_f1": test.f1, "train_seconds": run.watch.seconds}
    if args.compare_sparse:
        sparse_run, dense_run = runs if args.sparse else runs[::-1]
        results["dense_over_sparse_time"] = dense_run.watch.seconds / sparse_run.watch.seconds
        print(f"embedding update: sparse {sparse_run.ms_per_step():.2f} ms per step, dense "
              f"{dense_run.ms_per_step():.2f} ms per step: dense / sparse time = "
              f"{results['dense_over_sparse_time']:.2f}")
    return results

if __name__ == "__main__":
    main()
