"""The fastnn command, end to end in a subprocess."""

import subprocess
import sys

import numpy as np
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastnn", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn provides the iris data")
    iris = datasets.load_iris()
    path = tmp_path_factory.mktemp("cli") / "iris.csv"
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    lines = [",".join(names + ["colour", "species"])]
    for row, target in zip(iris.data, iris.target):
        colour = "red" if row[0] > 5.8 else "blue"  # a text column, one-hot encoded by the CLI
        lines.append(",".join([*(f"{v:.1f}" for v in row), colour, str(iris.target_names[target])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_demo_runs_every_backend_and_reports_speedups():
    result = run("demo", "--epochs", "3")
    assert result.returncode == 0, result.stderr
    for name in ("numpy", "numba", "cython"):
        assert f"\n{name} " in result.stdout
    assert "speed-up vs numpy" in result.stdout


def test_train_then_predict_a_csv(iris_csv, tmp_path):
    model = tmp_path / "iris.fnn"
    result = run("train", str(iris_csv), "--target", "species", "--epochs", "60", "--hidden", "16",
                 "--lr", "0.01", "--out", str(model), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert model.exists()
    out = tmp_path / "pred.csv"
    result = run("predict", str(model), str(iris_csv), "--out", str(out))
    assert result.returncode == 0, result.stderr
    predicted = out.read_text().splitlines()[1:]
    truth = [line.rsplit(",", 1)[1] for line in iris_csv.read_text().splitlines()[1:]]
    assert len(predicted) == len(truth) == 150
    assert np.mean([p == t for p, t in zip(predicted, truth)]) > 0.9


def test_train_regression(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 3.0
    path = tmp_path / "reg.csv"
    path.write_text("a,b,c,y\n" + "\n".join(",".join(f"{v:.5f}" for v in (*r, t)) for r, t in zip(x, y)))
    result = run("train", str(path), "--target", "y", "--task", "regression", "--epochs", "80", "--hidden", "16",
                 "--lr", "0.01", "--out", str(tmp_path / "r.fnn"), "--no-progress")
    assert result.returncode == 0, result.stderr
    pred = run("predict", str(tmp_path / "r.fnn"), str(path))
    values = np.array([float(v) for v in pred.stdout.splitlines()[1:]])
    assert np.abs(values - y).mean() < 0.3 * np.abs(y - y.mean()).mean()


def test_info_lists_backends_and_blas():
    result = run("info")
    assert result.returncode == 0, result.stderr
    assert "backends available" in result.stdout and "blas" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "missing.csv", "--target", "y"], "no such file"),
    (["train", "{csv}", "--target", "nope"], "no column 'nope'"),
    (["train", "{csv}", "--target", "species", "--hidden", "1,x"], "--hidden"),
    (["train", "{csv}", "--target", "species", "--epochs", "-1"], "must be positive"),
    (["train", "{csv}", "--target", "species", "--backend", "gpu"], "invalid choice"),
    (["predict", "{csv}", "{csv}"], "fastnn: error"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_nonzero_with_one_line(iris_csv, args, message):
    result = run(*[a.replace("{csv}", str(iris_csv)) for a in args])
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
