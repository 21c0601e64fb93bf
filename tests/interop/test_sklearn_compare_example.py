"""examples/sklearn_compare.py runs and reports both libraries' scores and times."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn", minversion="1.6", reason="the comparison needs scikit-learn >= 1.6")
pytest.importorskip("threadpoolctl", reason="the comparison limits threads with threadpoolctl")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_comparison_table_on_breast_cancer(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("sklearn_compare", EXAMPLES / "sklearn_compare.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "sklearn_compare", module)
    spec.loader.exec_module(module)
    import fastnn

    threads = fastnn.get_num_threads()
    try:
        table = module.main(["--epochs", "2", "--seeds", "0", "--only", "breast_cancer,diabetes", "--hidden", "8"])
    finally:
        fastnn.set_num_threads(threads)  # the example sets one thread count for its process
    rows = [line for line in table.splitlines() if line.startswith("| breast_cancer") or line.startswith("| diabetes")]
    assert len(rows) == 2
    cells = rows[0].strip("|").split("|")
    assert cells[2].strip() == "accuracy" and cells[-1].strip().endswith("x")
    assert 0.5 < float(cells[3].split("±")[0]) <= 1.0 and 0.5 < float(cells[4].split("±")[0]) <= 1.0
