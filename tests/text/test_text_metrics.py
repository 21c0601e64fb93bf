"""Entity-level scores: hand-counted cases, and a line-by-line port of conlleval's counting loop."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fastnn.text import entity_scores


def test_one_correct_one_wrong_type_one_missed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "O"]]
    s = entity_scores(gold, pred)
    # gold chunks: PER(0-2) LOC(3) | ORG(0) -> 3; predicted: PER(0-2) ORG(3) -> 2; correct: PER -> 1
    assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (3, 2, 1)
    assert s.precision == pytest.approx(1 / 2) and s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert (s.per_type["PER"].precision, s.per_type["PER"].recall, s.per_type["PER"].f1) == (1.0, 1.0, 1.0)
    assert (s.per_type["LOC"].n_gold, s.per_type["LOC"].n_pred, s.per_type["LOC"].f1) == (1, 0, 0.0)
    assert (s.per_type["ORG"].n_gold, s.per_type["ORG"].n_pred, s.per_type["ORG"].n_correct) == (1, 1, 0)
    assert (s.n_tokens, s.n_tokens_correct) == (6, 4)
    assert s.token_accuracy == pytest.approx(4 / 6)


def test_partial_overlap_is_not_a_match():
    s = entity_scores([["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-PER", "O"]])
    assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (1, 1, 0)
    s = entity_scores([["B-PER", "I-PER"]], [["B-PER", "B-PER"]])  # split into two chunks
    assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (1, 2, 0)


def test_i_after_o_or_another_type_starts_a_chunk_as_in_conlleval():
    s = entity_scores([["O", "B-LOC", "I-LOC"]], [["O", "I-LOC", "I-LOC"]])  # I- after O starts the chunk
    assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (1, 1, 1)
    s = entity_scores([["B-PER", "B-LOC"]], [["B-PER", "I-LOC"]])  # I-LOC after PER starts a LOC chunk
    assert (s.overall.n_pred, s.overall.n_correct) == (2, 2)
    s = entity_scores([["B-LOC", "I-LOC"]], [["O", "I-LOC"]])  # starts one token late
    assert s.overall.n_correct == 0


def test_iob1_gold_is_read_with_the_same_rules():
    # IOB1: I-X starts a chunk after O; B-X separates two adjacent chunks of the same type
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]
    pred = [["B-PER", "I-PER", "B-PER", "O", "B-LOC"]]
    s = entity_scores(gold, pred)
    assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (3, 3, 3)
    assert s.n_tokens_correct == 3  # the tags differ as strings on two tokens


def test_chunks_do_not_continue_across_sentences():
    s = entity_scores([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]])
    assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (2, 2, 2)


def test_no_prediction_or_no_gold_gives_zero_not_nan():
    s = entity_scores([["B-PER", "O"]], [["O", "O"]])
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)
    s = entity_scores([["O"]], [["B-PER"]])
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)
    assert entity_scores([], []).f1 == 0.0


def test_mismatched_lengths_are_errors():
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="sentence 0 has 2 gold tags but 1 predicted"):
        entity_scores([["O", "O"]], [["O"]])


def test_report_prints_percentages():
    report = entity_scores([["B-PER", "O"]], [["B-PER", "O"]]).report()
    assert "FB1: 100.00" in report and "processed 2 tokens with 1 phrases" in report


# --- a port of the counting loop of conlleval (perl, version 2004-01-26), used as the reference ---

def _split(tag):
    if "-" in tag:
        prefix, kind = tag.split("-", 1)
        return prefix, kind
    return tag, ""


def _end_of_chunk(prev_tag, tag, prev_type, kind):
    end = False
    end |= prev_tag == "B" and tag == "B"
    end |= prev_tag == "B" and tag == "O"
    end |= prev_tag == "I" and tag == "B"
    end |= prev_tag == "I" and tag == "O"
    end |= prev_tag == "E" and tag == "E"
    end |= prev_tag == "E" and tag == "I"
    end |= prev_tag == "E" and tag == "O"
    end |= prev_tag == "I" and tag == "O"
    end |= prev_tag != "O" and prev_tag != "." and prev_type != kind
    end |= prev_tag in ("]", "[")
    return end


def _start_of_chunk(prev_tag, tag, prev_type, kind):
    start = False
    start |= prev_tag == "B" and tag == "B"
    start |= prev_tag == "I" and tag == "B"
    start |= prev_tag == "O" and tag == "B"
    start |= prev_tag == "O" and tag == "I"
    start |= prev_tag == "E" and tag == "E"
    start |= prev_tag == "E" and tag == "I"
    start |= prev_tag == "O" and tag == "E"
    start |= prev_tag == "O" and tag == "I"
    start |= tag != "O" and tag != "." and prev_type != kind
    start |= tag in ("[", "]")
    return start


def conlleval_counts(gold, pred):
    """conlleval's loop over the token stream; a blank line (sentence break) counts as O/O."""
    stream = []
    for gold_tags, pred_tags in zip(gold, pred):
        stream.extend((False, g, p) for g, p in zip(gold_tags, pred_tags))
        stream.append((True, "O", "O"))
    correct_chunk, found_correct, found_guessed = Counter(), Counter(), Counter()
    correct_tags = token_counter = 0
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    for is_boundary, correct_full, guessed_full in stream:
        correct, correct_type = _split(correct_full)
        guessed, guessed_type = _split(guessed_full)
        end_correct = _end_of_chunk(last_correct, correct, last_correct_type, correct_type)
        end_guessed = _end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        start_correct = _start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        start_guessed = _start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if in_correct:
            if end_correct and end_guessed and last_guessed_type == last_correct_type:
                in_correct = False
                correct_chunk[last_correct_type] += 1
            elif end_correct != end_guessed or guessed_type != correct_type:
                in_correct = False
        if start_correct and start_guessed and guessed_type == correct_type:
            in_correct = True
        if start_correct:
            found_correct[correct_type] += 1
        if start_guessed:
            found_guessed[guessed_type] += 1
        if not is_boundary:
            correct_tags += correct == guessed and guessed_type == correct_type
            token_counter += 1
        last_guessed, last_correct = guessed, correct
        last_guessed_type, last_correct_type = guessed_type, correct_type
    if in_correct:
        correct_chunk[last_correct_type] += 1
    return correct_chunk, found_correct, found_guessed, correct_tags, token_counter


def test_matches_the_conlleval_loop_on_random_tag_sequences():
    tags = ["O", "O", "O", "B-A", "I-A", "B-B", "I-B", "I-C"]
    rng = np.random.default_rng(2003)
    for _ in range(300):
        n_sentences = int(rng.integers(1, 5))
        lengths = rng.integers(0, 8, size=n_sentences)
        gold = [[tags[i] for i in rng.integers(0, len(tags), size=n)] for n in lengths]
        # predictions: mostly the gold tag, sometimes another, so that some chunks match
        pred = [[g if rng.random() < 0.7 else tags[rng.integers(len(tags))] for g in sentence] for sentence in gold]
        correct_chunk, found_correct, found_guessed, correct_tags, token_counter = conlleval_counts(gold, pred)
        s = entity_scores(gold, pred)
        assert (s.overall.n_gold, s.overall.n_pred, s.overall.n_correct) == (
            sum(found_correct.values()), sum(found_guessed.values()), sum(correct_chunk.values()))
        for kind in set(found_correct) | set(found_guessed):
            counts = s.per_type[kind]
            assert (counts.n_gold, counts.n_pred, counts.n_correct) == (
                found_correct[kind], found_guessed[kind], correct_chunk[kind])
        assert (s.n_tokens_correct, s.n_tokens) == (correct_tags, token_counter)
