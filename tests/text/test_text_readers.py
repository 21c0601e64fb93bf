"""Corpus readers on small files written by the tests: TSV, label-first, rt-polarity (cp1252), CoNLL."""

from __future__ import annotations

import pytest

from fastnn.text import read_conll, read_label_first, read_lines, read_rt_polarity, read_tsv


def test_read_lines_splits_on_newline_only(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes("one \u0085 two\r\nthree\u2028four\n\nfive\n".encode())
    assert read_lines(path) == ["one \u0085 two", "three\u2028four", "", "five"]


def test_tsv_with_header_keeps_quotes_and_nel_inside_rows(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('sentence\tlabel\nit \'s a " charming film . \t1\nodd\u0085line here \t0\n"unclosed\t1\n',
                    encoding="utf-8")
    rows = read_tsv(path)
    assert len(rows) == 3
    assert rows[0].tokens == ["it", "'s", "a", '"', "charming", "film", "."] and rows[0].label == 1
    assert rows[1] == (["odd", "line", "here"], 0)  # NEL kept the row whole; as whitespace it separates tokens
    assert rows[2] == (['"unclosed'], 1)


def test_tsv_without_header_is_detected_and_lowercasing_applies(tmp_path):
    path = tmp_path / "amazon.txt"
    path.write_text("Good case, Excellent value.\t1\nSo Bad\t0\n", encoding="utf-8")
    rows = read_tsv(path, lower=True)
    assert [r.label for r in rows] == [1, 0]
    assert rows[0].tokens == ["good", "case,", "excellent", "value."]


def test_tsv_other_columns_and_errors(tmp_path):
    path = tmp_path / "cols.tsv"
    path.write_text("1\ta b\n0\tc\n", encoding="utf-8")
    assert read_tsv(path, text_column=1, label_column=0) == [(["a", "b"], 1), (["c"], 0)]
    bad = tmp_path / "bad.tsv"
    bad.write_text("a b\t1\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: expected at least 2 tab-separated fields, got 1"):
        read_tsv(bad)
    forced = tmp_path / "forced.tsv"
    forced.write_text("sentence\tlabel\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: label 'label' is not an integer"):
        read_tsv(forced, header=False)


def test_label_first_format(tmp_path):
    path = tmp_path / "stsa.binary.dev"
    path.write_text("1 a stirring , funny film\n0 apparently reassembled .\n", encoding="utf-8")
    rows = read_label_first(path)
    assert rows == [(["a", "stirring", ",", "funny", "film"], 1), (["apparently", "reassembled", "."], 0)]
    bad = tmp_path / "bad"
    bad.write_text("1 fine\npositive not a label\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: label 'positive'"):
        read_label_first(bad)


def test_rt_polarity_is_decoded_as_cp1252_and_keeps_line_count(tmp_path):
    # 0x85 is an ellipsis in cp1252 (NEL in latin-1), 0xe9 is e-acute
    (tmp_path / "rt-polarity.pos").write_bytes(b"simply brilliant \x85 and caf\xe9 \n a joy . \n")
    (tmp_path / "rt-polarity.neg").write_bytes(b"dull .\n")
    rows = read_rt_polarity(tmp_path)
    assert [r.label for r in rows] == [1, 1, 0]
    assert rows[0].tokens == ["simply", "brilliant", "\u2026", "and", "café"]
    assert rows[2].tokens == ["dull", "."]


CONLL = """-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER


-DOCSTART- -X- -X- O

In IN I-PP O
Italy NNP I-NP I-LOC
Spain NNP I-NP B-LOC"""  # no final newline, two blank lines in a row


def test_conll_skips_docstart_and_blank_lines_and_keeps_the_last_sentence(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(CONLL, encoding="ascii")
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"],
                                             ["In", "Italy", "Spain"]]
    assert sentences[0].tags == ["I-ORG", "O", "I-MISC", "O", "O"]
    assert sentences[2].tags == ["O", "I-LOC", "B-LOC"]


def test_conll_converts_iob1_and_reads_other_columns(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(CONLL, encoding="ascii")
    sentences = read_conll(path, convert_iob1=True)
    assert sentences[0].tags == ["B-ORG", "O", "B-MISC", "O", "O"]
    assert sentences[1].tags == ["B-PER", "I-PER"]
    assert sentences[2].tags == ["O", "B-LOC", "B-LOC"]
    pos = read_conll(path, tag_column=1)
    assert pos[1].tags == ["NNP", "NNP"]


def test_conll_tab_separated_bio_and_missing_column(tmp_path):
    path = tmp_path / "wnut.conll"
    path.write_text("@paul\tO\nLondon\tB-location\n\nNew\tB-location\nYork\tI-location\n", encoding="utf-8")
    assert read_conll(path) == [(["@paul", "London"], ["O", "B-location"]), (["New", "York"],
                                                                               ["B-location", "I-location"])]
    bad = tmp_path / "bad.conll"
    bad.write_text("a O\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: 1 columns"):
        read_conll(bad, tag_column=1)


def test_conll_docstart_without_blank_line_still_ends_the_sentence(tmp_path):
    path = tmp_path / "wikigold.conll"
    path.write_text("010 I-MISC\nis O\n-DOCSTART- O\nThe O\n", encoding="utf-8")
    assert read_conll(path) == [(["010", "is"], ["I-MISC", "O"]), (["The"], ["O"])]
