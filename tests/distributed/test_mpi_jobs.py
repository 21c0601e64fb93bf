"""Data-parallel training in real MPI jobs (mpiexec -n 2 and -n 3 started from pytest, with timeouts)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import scenarios  # noqa: E402

import fastnn  # noqa: E402

TOLERANCE = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-11, atol=1e-13)}


def _ok(job) -> None:
    assert job.returncode == 0, f"the MPI job failed ({job.returncode}):\n{job.stdout}\n{job.stderr}"


@pytest.mark.parametrize("ranks", [2, 3])
def test_collectives_and_sampler_defaults(run_worker, tmp_path, ranks):
    _ok(run_worker(ranks, "collectives", tmp_path))  # the worker asserts each collective's result itself
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"collectives-rank{r}.npz" for r in range(ranks)]


@pytest.mark.parametrize("ranks", [2, 3])
def test_ddp_broadcast_buffers_unused_parameters_no_sync_and_buckets(run_worker, tmp_path, ranks):
    _ok(run_worker(ranks, "ddp_features", tmp_path))  # the worker compares against manual reductions
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ddp_features-rank{r}.npz" for r in range(ranks)]


@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_stay_identical_and_equal_one_process_with_the_global_batch(run_worker, tmp_path, ranks):
    """ranks x batch B through DDP == one process x batch ranks*B over the same samples, for SGD and
    Adam (+SparseAdam), a dense and a row-sparse embedding model, float32 and float64."""
    _ok(run_worker(ranks, "equivalence", tmp_path))
    results = [np.load(tmp_path / f"equivalence-rank{r}.npz") for r in range(ranks)]
    for other in results[1:]:
        for key in results[0].files:
            np.testing.assert_array_equal(other[key], results[0][key], err_msg=f"ranks differ in {key}")
    for opt, kind, dtype in scenarios.CASES:
        reference = scenarios.state_arrays(scenarios.train(kind, opt, dtype, ranks, None))
        initial = scenarios.state_arrays(scenarios.model_and_optimizers(kind, opt, dtype)[0])
        for name, expected in reference.items():
            got = results[0][f"{opt}/{kind}/{dtype}/{name}"]
            assert got.dtype == np.dtype(dtype)
            assert not np.array_equal(expected, initial[name]), "the reference did not train"
            np.testing.assert_allclose(got, expected, **TOLERANCE[dtype], err_msg=f"{opt} {kind} {dtype} {name}")


def test_fit_under_mpi_matches_one_process_and_resumes_from_its_checkpoint(run_worker, tmp_path):
    job = run_worker(2, "fit_resume", tmp_path)
    _ok(job)
    ranks = [np.load(tmp_path / f"fit-rank{r}.npz") for r in range(2)]
    for key in ranks[0].files:
        np.testing.assert_array_equal(ranks[1][key], ranks[0][key], err_msg=f"ranks differ in {key}")
        if key.startswith("whole/"):  # 3 epochs, checkpoint, then a new process group of runs resumes
            np.testing.assert_array_equal(ranks[0][key.replace("whole/", "resumed/")], ranks[0][key])
    histories = [json.loads((tmp_path / f"fit-history-rank{r}.json").read_text()) for r in range(2)]
    assert histories[0] == histories[1]  # epoch_time included: rank 0's record is every rank's
    model, history = scenarios.fit_run(scenarios.FIT_EPOCHS, 2 * scenarios.BATCH)  # one process, same batches
    for name, expected in scenarios.state_arrays(model).items():
        np.testing.assert_allclose(ranks[0][f"whole/{name}"], expected, rtol=1e-10, atol=1e-12)
    mpi = histories[0]["whole"]
    assert history.stopped_early and histories[0]["stopped_early"]
    assert len(mpi["loss"]) == history.epochs < scenarios.FIT_EPOCHS  # early stopping agreed, at the same epoch
    assert mpi["lr"] == history["lr"] and min(mpi["lr"]) < mpi["lr"][0]  # ReduceLROnPlateau cut the rate alike
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(mpi[key], history[key], rtol=1e-10, err_msg=key)
    # logs from rank 0 only: each epoch line once
    assert job.stdout.count("epoch 1/") == 1 and f"epoch {history.epochs}/" in job.stdout
    checkpoint = fastnn.load(tmp_path / "whole.fnn")
    assert int(checkpoint["epoch"]) == history.epochs and len(checkpoint["rng_ranks"]) == 2


def test_a_new_job_resumes_an_mpi_checkpoint_exactly_with_each_ranks_dropout_state(run_worker, tmp_path):
    for phase in ("whole", "part", "resume"):
        _ok(run_worker(2, "fit_dropout", tmp_path, phase))
    for rank in range(2):
        whole = np.load(tmp_path / f"dropout-whole-rank{rank}.npz")
        resumed = np.load(tmp_path / f"dropout-resume-rank{rank}.npz")
        part = np.load(tmp_path / f"dropout-part-rank{rank}.npz")
        for key in whole.files:
            np.testing.assert_array_equal(resumed[key], whole[key], err_msg=f"rank {rank} {key}")
            assert not np.array_equal(part[key], whole[key])
    states = fastnn.load(tmp_path / "part.fnn")["rng_ranks"]
    assert states[0] != states[1]  # each rank's own generator was saved


@pytest.mark.parametrize("runner", ["fit's guard", "init_process_group's exception hook"])
def test_a_failing_rank_ends_the_job_in_seconds_with_its_message(run_worker, tmp_path, runner):
    scenario, message = (("failing_rank", "injected failure on rank 1 in batch 3") if runner == "fit's guard"
                         else ("uncaught", "injected failure on rank 1 before the barrier"))
    job = run_worker(2, scenario, tmp_path, mpi4py=False, timeout=60)
    assert job.returncode != 0
    assert message in job.stderr
    assert job.seconds < 20, f"the job took {job.seconds:.1f} s to end"


def test_mismatched_models_are_refused_at_construction(run_worker, tmp_path):
    job = run_worker(2, "mismatch", tmp_path, timeout=60)
    assert job.returncode != 0
    assert "the model on rank 1 differs from rank 0's" in job.stderr
    assert "'0.weight' of shape (5, 3), float32, requires_grad=True on rank 1" in job.stderr
    assert "'0.weight' of shape (4, 3), float32, requires_grad=True on rank 0" in job.stderr


def test_cli_train_runs_data_parallel_through_fit(run_mpi, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    label = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    lines = ["a,b,c,label"] + [f"{p:.4f},{q:.4f},{r:.4f},{s}" for (p, q, r), s in zip(x, label)]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    job = run_mpi(2, sys.executable, "-m", "fastnn", "train", "data.csv", "--target", "label", "--epochs", "3",
                  "--hidden", "8", "--no-progress", "--out", "model.fnn", cwd=tmp_path)
    _ok(job)
    assert job.stdout.count("epoch 1/3") == 1  # fit logs on rank 0 only
    saved = fastnn.load(tmp_path / "model.fnn")
    assert saved["format"] == "fastnn-cli-mlp"
