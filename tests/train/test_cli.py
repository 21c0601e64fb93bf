"""The fastnn command, end to end in a subprocess."""

import math
import re
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
    (["train", "{csv}", "--target", "species", "--out", "/nonexistent/dir/m.fnn"], "no such directory"),
    (["predict", "missing.fnn", "{csv}"], "missing.fnn: no such file"),
    (["train", "{csv}", "--target", "species", "--lr", "nan"], "must be positive"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_nonzero_with_one_line(iris_csv, args, message):
    result = run(*[a.replace("{csv}", str(iris_csv)) for a in args])
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ numbers, not just strings
EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+) (.*)$")


def epoch_records(stdout: str) -> list[dict[str, float]]:
    records = []
    for line in stdout.splitlines():
        match = EPOCH_LINE.match(line)
        if match:
            records.append({k: float(v) for k, v in (kv.split("=") for kv in match.group(3).split())})
    return records


@pytest.fixture(scope="module")
def trained_iris(iris_csv, tmp_path_factory):
    model = tmp_path_factory.mktemp("trained") / "iris.fnn"
    result = run("train", str(iris_csv), "--target", "species", "--epochs", "40", "--hidden", "16",
                 "--lr", "0.01", "--out", str(model), "--no-progress", "--seed", "3")
    assert result.returncode == 0, result.stderr
    return model, result


def test_train_prints_real_numbers_that_agree_with_each_other(trained_iris):
    _, result = trained_iris
    records = epoch_records(result.stdout)
    assert 1 <= len(records) <= 40
    for record in records:
        assert all(math.isfinite(v) for v in record.values()), record
        assert 0.0 <= record["accuracy"] <= 1.0 and 0.0 <= record["val_accuracy"] <= 1.0
        assert record["loss"] > 0 and record["val_loss"] > 0
    summary = re.search(r"(\d+) train / (\d+) validation rows, best epoch (\d+), val_accuracy ([0-9.]+)",
                        result.stdout)
    n_train, n_val, best, val_accuracy = int(summary[1]), int(summary[2]), int(summary[3]), float(summary[4])
    assert n_train + n_val == 150 and n_val == 30  # --val-split 0.2 of 150 rows
    assert 1 <= best <= len(records)
    # the best epoch is the one with the lowest validation loss, and the summary reports its accuracy
    assert min(range(len(records)), key=lambda i: records[i]["val_loss"]) == best - 1
    assert val_accuracy == pytest.approx(records[best - 1]["val_accuracy"], abs=1e-4)
    assert val_accuracy * n_val == pytest.approx(round(val_accuracy * n_val), abs=0.01)  # k of 30 rows right
    assert val_accuracy > 0.8


def test_predictions_written_are_the_saved_models_predictions(trained_iris, iris_csv, tmp_path):
    import fastnn
    from fastnn import tabular
    from fastnn.cli import build_mlp
    from fastnn.train import predict

    model_path, _ = trained_iris
    out = tmp_path / "pred.csv"
    result = run("predict", str(model_path), str(iris_csv), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote 150 predictions to {out}"
    saved = fastnn.load(model_path)
    model = build_mlp(saved["n_in"], saved["hidden"], saved["n_out"])
    model.load_state_dict(saved["model"])
    header, rows = tabular.read_csv(iris_csv)
    scores = predict(model, tabular.transform_features(iris_csv, header, rows, saved["preprocessor"]))
    classes = saved["preprocessor"]["target_spec"]["classes"]
    expected = [classes[k] for k in scores.argmax(axis=1)]
    lines = out.read_text().splitlines()
    assert lines[0] == "predicted_species"
    assert lines[1:] == expected


def test_regression_predictions_are_the_models_numbers_in_target_units(tmp_path):
    import fastnn
    from fastnn import tabular
    from fastnn.cli import build_mlp
    from fastnn.train import predict

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    y = 100.0 + 20.0 * x[:, 0] - 5.0 * x[:, 1]
    path = tmp_path / "reg.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{r[0]:.6f},{r[1]:.6f},{t:.6f}" for r, t in zip(x, y)) + "\n")
    assert run("train", str(path), "--target", "y", "--task", "regression", "--epochs", "5", "--hidden", "8",
               "--out", str(tmp_path / "r.fnn"), "--no-progress").returncode == 0
    result = run("predict", str(tmp_path / "r.fnn"), str(path))
    assert result.returncode == 0, result.stderr
    printed = np.array([float(v) for v in result.stdout.splitlines()[1:]])
    saved = fastnn.load(tmp_path / "r.fnn")
    model = build_mlp(saved["n_in"], saved["hidden"], saved["n_out"])
    model.load_state_dict(saved["model"])
    header, rows = tabular.read_csv(path)
    raw = predict(model, tabular.transform_features(path, header, rows, saved["preprocessor"]))[:, 0]
    spec = saved["preprocessor"]["target_spec"]
    # standardised on the training rows (80% of them): statistics close to the whole column's
    assert abs(spec["mean"] - y.mean()) < 0.2 * y.std() and abs(spec["std"] / y.std() - 1) < 0.2
    np.testing.assert_allclose(printed, raw * spec["std"] + spec["mean"], rtol=1e-6)


# ------------------------------------------------------------------ one line, always
def assert_one_error_line(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fastnn: error: ")
    assert "Warning" not in lines[0] and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def write_csv(path, cells):
    path.write_text("a,b,label\n" + "\n".join(",".join(map(str, row)) for row in cells) + "\n")
    return path


def separable_rows(n, rng):
    x = rng.normal(size=(n, 2))
    return [[f"{a:.4f}", f"{b:.4f}", int(a + b > 0)] for a, b in x]


@pytest.mark.parametrize("bad, column, fragment", [("inf", "a", "line 5 column 'a'"),
                                                    ("nan", "b", "line 5 column 'b'"),
                                                    ("-1e999", "a", "line 5 column 'a'")])
def test_train_on_a_non_finite_cell_is_one_line_naming_it(tmp_path, bad, column, fragment):
    rows = separable_rows(40, np.random.default_rng(2))
    rows[3][0 if column == "a" else 1] = bad
    path = write_csv(tmp_path / "bad.csv", rows)
    result = run("train", str(path), "--target", "label", "--epochs", "1", "--out", str(tmp_path / "m.fnn"),
                 "--no-progress")
    assert_one_error_line(result, str(path), fragment, "nan, inf")
    assert not (tmp_path / "m.fnn").exists()


def test_train_on_values_that_overflow_the_statistics_is_one_line(tmp_path):
    rows = separable_rows(40, np.random.default_rng(3))
    for i, row in enumerate(rows):
        row[0] = "1e308" if i % 2 else "-1e308"
    path = write_csv(tmp_path / "huge.csv", rows)
    result = run("train", str(path), "--target", "label", "--epochs", "1", "--out", str(tmp_path / "m.fnn"),
                 "--no-progress")
    assert_one_error_line(result, "column 'a'", "too large to standardise")


def test_predict_on_rows_with_nan_or_inf_is_one_line_naming_rows_and_columns(tmp_path):
    rng = np.random.default_rng(4)
    good = write_csv(tmp_path / "good.csv", separable_rows(60, rng))
    assert run("train", str(good), "--target", "label", "--epochs", "2", "--hidden", "4",
               "--out", str(tmp_path / "m.fnn"), "--no-progress").returncode == 0
    rows = separable_rows(6, rng)
    rows[1][0], rows[4][1], rows[5][0] = "nan", "inf", "1e308"
    bad = write_csv(tmp_path / "bad.csv", rows)
    result = run("predict", str(tmp_path / "m.fnn"), str(bad))
    assert_one_error_line(result, str(bad), "3 value(s)", "line 3 column 'a'", "line 6 column 'b'",
                          "line 7 column 'a'")
    assert result.stdout == ""


def test_predict_with_a_damaged_model_file_is_one_line(tmp_path):
    import fastnn

    fastnn.save({"format": "fastnn-cli-mlp", "version": 1, "hidden": [4], "n_in": 2, "n_out": 2,
                 "preprocessor": {}, "model": {"0.weight": np.zeros((3, 3))}}, tmp_path / "m.fnn")
    data = write_csv(tmp_path / "d.csv", separable_rows(5, np.random.default_rng(5)))
    result = run("predict", str(tmp_path / "m.fnn"), str(data))
    assert_one_error_line(result, "a damaged 'fastnn train' model", "Missing key(s)")


def test_a_failing_command_prints_no_warning_before_its_error(tmp_path, capsys, monkeypatch):
    """In-process: a command that warns and then fails prints only the error line."""
    import warnings

    from fastnn import cli
    from fastnn.cli import info

    def warn_then_fail(args):
        warnings.warn("overflow encountered in reduce", RuntimeWarning, stacklevel=1)
        raise ValueError("something\nspanning\tlines")

    monkeypatch.setattr(info, "run", warn_then_fail)
    assert cli.main(["info"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "fastnn: error: ValueError: something; spanning lines\n"


def test_export_writes_an_onnx_graph_that_predicts_what_fastnn_predict_does(iris_csv, tmp_path):
    onnx = pytest.importorskip("onnx", reason="fastnn export needs the onnx package (fastnn[interop])")
    from onnx.reference import ReferenceEvaluator

    import fastnn
    from fastnn import tabular

    model = tmp_path / "iris.fnn"
    assert run("train", str(iris_csv), "--target", "species", "--epochs", "30", "--hidden", "16",
               "--out", str(model), "--no-progress").returncode == 0
    graph = tmp_path / "iris.onnx"
    result = run("export", str(model), str(graph))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {graph}"
    onnx.checker.check_model(onnx.load(str(graph)), full_check=True)
    preds = tmp_path / "pred.csv"
    assert run("predict", str(model), str(iris_csv), "--out", str(preds)).returncode == 0
    saved = fastnn.load(model)
    header, rows = tabular.read_csv(iris_csv)
    x = tabular.transform_features(iris_csv, header, rows, saved["preprocessor"])
    (logits,) = ReferenceEvaluator(str(graph)).run(None, {"input": x.astype(np.float32)})
    classes = [str(c) for c in saved["preprocessor"]["target_spec"]["classes"]]
    predicted = preds.read_text().splitlines()[1:]
    assert [classes[i] for i in logits.argmax(1)] == predicted
    bad = run("export", str(iris_csv), str(tmp_path / "x.onnx"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_threads_option_and_info_report_the_policy(iris_csv, tmp_path):
    model = tmp_path / "iris.fnn"
    ok = run("train", str(iris_csv), "--target", "species", "--epochs", "3", "--hidden", "8", "--threads", "1",
             "--out", str(model), "--no-progress")
    assert ok.returncode == 0, ok.stderr
    bad = run("train", str(iris_csv), "--target", "species", "--threads", "0")
    assert bad.returncode == 2 and "--threads" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    info = run("info")
    assert info.returncode == 0
    assert re.search(r"thread policy: auto: \d of at most \d threads", info.stdout), info.stdout
    assert "BLAS for the Cython kernels: numpy's BLAS" in info.stdout
