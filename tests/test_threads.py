"""The one BLAS (fastnn.threads.blas), the thread switch and the "auto" policy (fastnn.threads.policy),
and the busy benchmark's competing processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import threads
from fastnn.threads import auto as policy
from fastnn.threads import blas

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)


# ------------------------------------------------------------------ one BLAS
def test_cython_kernels_use_numpys_blas_and_no_other():
    """In a fresh process: after the Cython dense kernels and Tensor @ ran, threadpoolctl sees one
    BLAS library, the one NumPy loaded, and it is the one fastnn bound."""
    result = run_python("""
        import json
        import numpy as np
        import fastnn
        from threadpoolctl import threadpool_info
        from fastnn.threads.blas import library
        fastnn.set_backend("cython")
        x = np.random.default_rng(0).standard_normal((300, 200))
        b = fastnn.get_backend()
        out, saved = b.linear_forward(x, x[:50], None, "relu")
        b.linear_backward(out, x, x[:50], saved, "relu")
        (fastnn.tensor(x) @ fastnn.tensor(x.T)).sum()
        print(json.dumps({"blas": [p["filepath"] for p in threadpool_info() if p["user_api"] == "blas"],
                          "bound": library().path, "source": library().source}))
    """)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["source"] == "numpy"
    assert [os.path.realpath(p) for p in report["blas"]] == [report["bound"]], report


def test_numba_kernels_and_the_compiled_step_load_no_second_blas():
    """In a fresh process: after the Numba backend's kernels and a compiled step ran, one BLAS is loaded
    (NumPy's: Numba's check for np.dot's BLAS did not load SciPy's), and a user's own Numba function
    calling np.dot, compiled after that, still works (it loads SciPy's BLAS then, as Numba does)."""
    result = run_python("""
        import json, sys
        import numpy as np
        import fastnn
        from fastnn import nn, optim
        from threadpoolctl import threadpool_info
        from fastnn.threads.blas import library
        def blas_files():
            return sorted({p["filepath"] for p in threadpool_info() if p["user_api"] == "blas"})
        fastnn.set_backend("numba")
        x = np.random.default_rng(0).standard_normal((30, 20)).astype(np.float32)
        fastnn.get_backend().linear_forward(x, x[:5], None, "relu")
        model = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 3))
        step = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
        step(x, np.arange(30) % 3)
        report = {"compiled": step.plan is not None, "blas": blas_files(), "bound": library().path,
                  "scipy_linalg": "scipy.linalg" in sys.modules}
        from numba import njit
        @njit
        def product(a, b):
            return np.dot(a, b)
        a = np.arange(6.0).reshape(2, 3)
        report["user_dot"] = product(a, a.T).tolist() == (a @ a.T).tolist()
        print(json.dumps(report))
    """)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["compiled"] and report["user_dot"], report
    assert [os.path.realpath(p) for p in report["blas"]] == [report["bound"]], report
    assert not report["scipy_linalg"], report


def test_numpy_library_integer_width_matches_the_build():
    lib = blas.numpy_library()
    assert lib is not None and lib.sgemm and lib.dgemm
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if "USE64BITINT" in str(config.get("openblas configuration", "")):
        assert lib.ilp64
    assert lib.path.endswith(".so") or ".so." in lib.path or lib.path.endswith(".dylib")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", ["scipy", "numpy"])
def test_dense_kernels_match_numpy_when_bound_to_either_blas(which, dtype):
    """Rebinding the Cython dense module (SciPy's LP64 fallback, then NumPy's own) keeps results:
    forward and backward against NumPy on a transposed and a strided input."""
    pytest.importorskip("scipy")
    fastnn.set_backend("cython")
    try:
        forward = fastnn.get_backend().linear_forward
        dense = sys.modules[fastnn.get_backend().unchecked.linear_forward.__module__]
        lib = blas.scipy_library() if which == "scipy" else blas.numpy_library()
        dense.bind_blas(lib.sgemm, lib.dgemm, lib.ilp64)
        rng = np.random.default_rng(3)
        x = rng.standard_normal((45, 33)).astype(dtype).T  # (33, 45), Fortran order
        w = rng.standard_normal((46, 90)).astype(dtype)[::2, ::-2]  # (23, 45), strided and reversed
        bias = rng.standard_normal(23).astype(dtype)
        out, _ = forward(x, w, bias, "identity")
        tol = 1e-4 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, x.astype(np.float64) @ w.T.astype(np.float64) + bias, rtol=tol, atol=tol)
        g = rng.standard_normal(out.shape).astype(dtype)
        dx, dw, db = fastnn.get_backend().linear_backward(g, x, w, out, "identity")
        np.testing.assert_allclose(dx, g.astype(np.float64) @ w, rtol=tol, atol=tol)
        np.testing.assert_allclose(dw, g.T.astype(np.float64) @ x, rtol=tol, atol=tol)
        np.testing.assert_allclose(db, g.sum(0, dtype=np.float64), rtol=tol, atol=tol)
    finally:
        lib = blas.library()
        dense.bind_blas(lib.sgemm, lib.dgemm, lib.ilp64)
        fastnn.set_backend("numpy")


def test_bind_blas_refuses_null_pointers():
    fastnn.set_backend("cython")
    try:
        dense = sys.modules[fastnn.get_backend().unchecked.linear_forward.__module__]
        with pytest.raises(ImportError, match="no BLAS gemm"):
            dense.bind_blas(0, 0, True)
        out, _ = fastnn.get_backend().linear_forward(np.eye(3), np.eye(3), None, "identity")
        np.testing.assert_array_equal(out, np.eye(3))  # the previous binding still holds
    finally:
        fastnn.set_backend("numpy")


def test_blas_thread_switch_reaches_the_bound_library():
    lib = blas.library()
    if lib.set_threads is None:
        pytest.skip(f"{lib.path} has no openblas_set_num_threads")
    with threads.use_threads(1):
        assert lib.get_num_threads() == 1
    with threads.use_threads(2):
        assert lib.get_num_threads() == 2


# ------------------------------------------------------------------ the switch
def test_use_threads_restores_auto_and_rejects_bad_values():
    assert "auto" in threads.policy() or "fixed" in threads.policy()
    before = threads.policy().split(":")[0]
    with threads.use_threads(1):
        assert threads.get_num_threads() == 1
        assert threads.policy().startswith("fixed: 1 thread")
    assert threads.policy().split(":")[0] == before
    for bad in (0, -2, 1.0, True, "two", None):
        with pytest.raises(ValueError, match="positive integer or 'auto'"):
            threads.set_num_threads(bad)


def test_environment_variable_sets_the_policy_at_import():
    result = run_python("import fastnn; print(fastnn.threads.policy())")
    assert result.returncode == 0 and result.stdout.startswith("auto"), result.stdout + result.stderr
    env = dict(os.environ, PYTHONPATH=str(ROOT), FASTNN_THREADS="1")
    fixed = subprocess.run([sys.executable, "-c", "import fastnn; print(fastnn.threads.policy())"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert fixed.stdout.startswith("fixed: 1 thread"), fixed.stdout + fixed.stderr


def test_fit_threads_argument_holds_for_the_call_only():
    from fastnn import nn, optim
    from fastnn.data import DataLoader, TensorDataset
    from fastnn.train import fit

    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            seen.append(threads.get_num_threads())
            return self.fc(x)

    rng = np.random.default_rng(0)
    data = TensorDataset(fastnn.tensor(rng.standard_normal((16, 4)).astype(np.float32)),
                         fastnn.tensor(rng.integers(0, 2, 16)))
    model = Probe()
    before = threads.policy().split(":")[0]
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), DataLoader(data, batch_size=4),
               epochs=1, progress=False, threads=2)
    assert seen == [2, 2, 2, 2]
    assert threads.policy().split(":")[0] == before
    with pytest.raises(ValueError, match="set_num_threads"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                   DataLoader(data, batch_size=4), epochs=1, progress=False, threads=0)


# ------------------------------------------------------------------ the auto policy
@pytest.fixture
def fake_run_queue(monkeypatch):
    """Set what the policy reads as 'other runnable tasks' (None: no /proc)."""
    state = {"others": 0.0}
    monkeypatch.setattr(policy, "other_running_tasks", lambda: state["others"])
    monkeypatch.setattr(policy, "SAMPLE_SECONDS", 0.0)  # sample on every call
    return state


@pytest.mark.parametrize(("others", "expected"), [(0.0, 2), (1.0, 1), (3.0, 1), (None, 2)])
def test_auto_uses_the_cores_others_leave_free(fake_run_queue, others, expected):
    fake_run_queue["others"] = others
    auto = policy.AutoThreads(limit=2, cores=2)
    assert auto.threads() == expected


def test_auto_on_four_cores_and_the_moving_average(fake_run_queue):
    auto = policy.AutoThreads(limit=4, cores=4)
    fake_run_queue["others"] = 1.0
    assert auto.threads() == 3
    fake_run_queue["others"] = 0.0  # one quiet sample does not undo a busy history at once
    assert auto.threads() == 3
    for _ in range(10):
        auto.threads()
    assert auto.threads() == 4


def test_auto_timing_check_vetoes_threads_that_do_not_pay(fake_run_queue):
    """Run queue says 2 cores are free, yet 2-thread steps take 10 ms and 1-thread steps 4 ms
    (a CPU quota, say): after a check the policy keeps one thread."""
    auto = policy.AutoThreads(limit=2, cores=2)
    for _ in range(policy.CHECK_EVERY + policy.CHECK_STEPS + 2):
        n = auto.threads()
        auto.record_step(0.010 if n == 2 else 0.004, n)
    assert auto.threads() == 1
    assert auto.veto_until > auto.steps


def test_auto_timing_check_keeps_threads_that_pay(fake_run_queue):
    auto = policy.AutoThreads(limit=2, cores=2)
    used = []
    for _ in range(3 * policy.CHECK_EVERY):
        n = auto.threads()
        used.append(n)
        auto.record_step(0.004 if n == 2 else 0.006, n)
    assert auto.veto_until == 0
    assert used.count(1) <= 3 * policy.CHECK_STEPS  # only the checks ran on one thread
    assert auto.threads() == 2


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs Linux /proc")
def test_run_queue_readers_see_this_process():
    assert policy.own_running_threads() >= 1  # this thread runs while it reads
    assert policy.machine_running_tasks() >= 1
    assert policy.other_running_tasks() >= 0


# ------------------------------------------------------------------ the busy benchmark
def test_spinners_are_killed_at_the_end_and_on_error():
    from fastnn.bench.busy import Spinners

    with pytest.raises(RuntimeError, match="boom"):
        with Spinners(2) as spinners:
            processes = list(spinners.processes)
            assert all(p.poll() is None for p in processes)
            raise RuntimeError("boom")
    assert all(p.poll() is not None for p in processes)


def test_busy_report_gives_medians_and_ratios_per_load_level():
    from fastnn.bench.busy import report

    times = {(0, "fastnn", "1"): [(0.20, "1"), (0.22, "1"), (0.90, "1")],
             (0, "fastnn", "2"): [(0.14, "2"), (0.15, "2"), (0.13, "2")],
             (0, "fastnn", "auto"): [(0.15, "2"), (0.14, "2"), (0.16, "2")]}
    table = report({"times": times, "loads": {0: ["0.10 0.20 0.30 1/100 42"]}}, [0], with_torch=False)
    row = [line for line in table.splitlines() if line.startswith("| 0 |")][0]
    # medians 0.22, 0.14, 0.15 -> 2/1 = 0.64, auto/1 = 0.68; the loadavg shown without the last pid
    assert "| 0.220 s | 0.140 s | 0.150 s (2) | 0.64 | 0.68 |" in row
    assert "0.10 0.20 0.30 1/100 |" in row


def test_busy_bench_worker_runs_an_epoch_in_a_fresh_process():
    """The worker imports fastnn from the checkout (ROOT on its path, not the package directory,
    whose random.py would shadow the standard library's)."""
    from fastnn.bench.busy import ROOT, run_epoch

    assert (ROOT / "fastnn" / "__init__.py").exists()
    seconds, chosen = run_epoch("fastnn", "1", "numpy")
    assert seconds > 0
    assert chosen == "1"


# ------------------------------------------------------------------ per-step thread choice
def _feed(choice, allowed: int, seconds_on, calls: int) -> list[int]:
    """Run `calls` calls through a ThreadChoice with a timing per count; the counts it asked for."""
    asked = []
    for _ in range(calls):
        count = choice.threads(allowed)
        asked.append(count)
        choice.record(count, seconds_on[count])
    return asked


def test_thread_choice_keeps_one_thread_when_it_is_faster_and_times_again_later():
    from fastnn.threads.choice import RECHECK, TRIALS, ThreadChoice

    choice = ThreadChoice()
    asked = _feed(choice, 2, {1: 1e-3, 2: 1.2e-3}, 2 * TRIALS)
    assert sorted(asked) == [1] * TRIALS + [2] * TRIALS  # alternating while timing
    assert _feed(choice, 2, {1: 1e-3, 2: 1.2e-3}, RECHECK) == [1] * RECHECK
    # then it times both again: now two threads are faster, and keeps them
    _feed(choice, 2, {1: 1e-3, 2: 0.5e-3}, 2 * TRIALS)
    assert _feed(choice, 2, {1: 1e-3, 2: 0.5e-3}, 10) == [2] * 10
    assert choice.active


def test_thread_choice_needs_a_clear_gain_and_leaves_short_work_and_one_allowed_thread_alone():
    from fastnn.threads.choice import MIN_SECONDS, TRIALS, ThreadChoice

    close = ThreadChoice()
    _feed(close, 2, {1: 0.99e-3, 2: 1e-3}, 2 * TRIALS)  # 1% faster on one thread: within the margin
    assert _feed(close, 2, {1: 0.99e-3, 2: 1e-3}, 5) == [2] * 5
    short = ThreadChoice()
    _feed(short, 2, {1: MIN_SECONDS / 4, 2: MIN_SECONDS / 2}, 2 * TRIALS)
    assert not short.active
    single = ThreadChoice()
    assert _feed(single, 1, {1: 1e-3}, 20) == [1] * 20 and single.active


def test_compiled_step_times_its_thread_counts_and_restores_the_policys(monkeypatch):
    """Under the auto policy allowing two threads, a compiled step long enough to matter times itself
    on both counts (threads/choice.py), setting the BLAS count around its call only: the library is
    back at the policy's count after every call."""
    from fastnn import nn, optim
    from fastnn.threads.choice import TRIALS

    lib = blas.library()
    if lib.get_num_threads() is None:
        pytest.skip("this BLAS does not report its thread count")
    monkeypatch.setattr(threads, "auto_policy", lambda: True)
    monkeypatch.setattr(threads, "get_num_threads", lambda: 2)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    step = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01))
    x, y = np.ones((256, 64), np.float32), np.zeros(256, np.int64)
    seen = []

    class Recording:  # the library, with its thread settings recorded
        def set_num_threads(self, n: int) -> None:
            seen.append(n)
            lib.set_num_threads(n)
    monkeypatch.setattr(blas, "library", Recording)
    try:
        lib.set_num_threads(2)
        step(x, y)  # the first call goes through the dispatcher: not timed
        for _ in range(2 * TRIALS):
            step(x, y)
            assert lib.get_num_threads() == 2
        choice = next(iter(step._frames.values())).threads
        assert seen.count(1) >= TRIALS - 1 and (choice.calls or not choice.active)
    finally:
        monkeypatch.undo()
        threads.apply()
