"""Text utilities for NLP on pre-tokenised corpora: vocabularies, GloVe vectors, corpus readers,
chunk tags and their CoNLL scores, EmbeddingBag batching and context windows.
"""

from fastnn.text.batching import bag_inputs, batch_indices, drop_words, iterate_bags
from fastnn.text.glove import GloveCoverage, GloveEmbeddings, load_glove
from fastnn.text.metrics import ChunkCounts, EntityScores, entity_scores
from fastnn.text.readers import (
    LabelledText,
    TaggedSentence,
    read_conll,
    read_label_first,
    read_lines,
    read_rt_polarity,
    read_tsv,
)
from fastnn.text.tags import (
    bio_transitions,
    build_tag_vocab,
    extract_spans,
    iob1_to_bio,
    parse_tag,
    viterbi_bio,
)
from fastnn.text.vocab import Vocab, tokenize
from fastnn.text.windows import NUM_CASINGS, Casing, casing, casing_ids, context_windows

__all__ = [
    "NUM_CASINGS", "Casing", "ChunkCounts", "EntityScores", "GloveCoverage", "GloveEmbeddings", "LabelledText",
    "TaggedSentence", "Vocab", "bag_inputs", "batch_indices", "bio_transitions", "build_tag_vocab", "casing",
    "casing_ids", "context_windows", "drop_words", "entity_scores", "extract_spans", "iob1_to_bio",
    "iterate_bags", "load_glove", "parse_tag", "read_conll", "read_label_first", "read_lines",
    "read_rt_polarity", "read_tsv", "tokenize", "viterbi_bio",
]
