"""Entity-level precision, recall and F1 as defined by the CoNLL ``conlleval`` script."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastnn.text.tags import extract_spans


@dataclass(frozen=True)
class ChunkCounts:
    """Counts of gold chunks, predicted chunks and exact matches (same start, end and type)."""

    n_gold: int
    n_pred: int
    n_correct: int

    @property
    def precision(self) -> float:
        """n_correct / n_pred (0 when nothing was predicted)."""
        return self.n_correct / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        """n_correct / n_gold (0 when there is no gold chunk)."""
        return self.n_correct / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        """2 P R / (P + R) (0 when P + R = 0)."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class EntityScores:
    """Overall and per-type chunk scores, plus token accuracy (full tag equality), as conlleval."""

    overall: ChunkCounts
    per_type: dict[str, ChunkCounts] = field(default_factory=dict)
    n_tokens: int = 0
    n_tokens_correct: int = 0

    @property
    def precision(self) -> float:
        return self.overall.precision

    @property
    def recall(self) -> float:
        return self.overall.recall

    @property
    def f1(self) -> float:
        return self.overall.f1

    @property
    def token_accuracy(self) -> float:
        return self.n_tokens_correct / self.n_tokens if self.n_tokens else 0.0

    def report(self) -> str:
        """A conlleval-style summary, in percent."""
        o = self.overall
        lines = [f"processed {self.n_tokens} tokens with {o.n_gold} phrases; found: {o.n_pred} phrases; "
                 f"correct: {o.n_correct}.",
                 f"accuracy: {100 * self.token_accuracy:6.2f}%; precision: {100 * o.precision:6.2f}%; "
                 f"recall: {100 * o.recall:6.2f}%; FB1: {100 * o.f1:6.2f}"]
        for kind, c in sorted(self.per_type.items()):
            lines.append(f"{kind:>17}: precision: {100 * c.precision:6.2f}%; recall: {100 * c.recall:6.2f}%; "
                         f"FB1: {100 * c.f1:6.2f}  {c.n_pred}")
        return "\n".join(lines)


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> EntityScores:
    """Score predicted tag sequences against gold ones, sentence by sentence.

    A predicted chunk counts as correct only when a gold chunk has the same type, start and
    end. Chunks are read with conlleval's rules (an ``I-X`` after ``O`` or another type starts a
    chunk), so IOB1 and BIO sequences are both scored as conlleval scores them.
    """
    if len(gold) != len(pred):
        raise ValueError(f"entity_scores: {len(gold)} gold sentences but {len(pred)} predicted")
    gold_by_type: Counter[str] = Counter()
    pred_by_type: Counter[str] = Counter()
    correct_by_type: Counter[str] = Counter()
    n_tokens = n_tokens_correct = 0
    for index, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"entity_scores: sentence {index} has {len(gold_tags)} gold tags but "
                             f"{len(pred_tags)} predicted")
        gold_spans, pred_spans = extract_spans(gold_tags), extract_spans(pred_tags)
        gold_by_type.update(kind for kind, _, _ in gold_spans)
        pred_by_type.update(kind for kind, _, _ in pred_spans)
        correct_by_type.update(kind for kind, _, _ in set(gold_spans) & set(pred_spans))
        n_tokens += len(gold_tags)
        n_tokens_correct += sum(g == p for g, p in zip(gold_tags, pred_tags))
    per_type = {kind: ChunkCounts(gold_by_type[kind], pred_by_type[kind], correct_by_type[kind])
                for kind in sorted(gold_by_type.keys() | pred_by_type.keys())}
    overall = ChunkCounts(sum(gold_by_type.values()), sum(pred_by_type.values()), sum(correct_by_type.values()))
    return EntityScores(overall, per_type, n_tokens, n_tokens_correct)
