"""fastnn.compile(model): compiled inference forward, eager training forward, the model's state."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim
from fastnn.train import predict


def _model():
    fn.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Dropout(0.3), nn.Residual(nn.Linear(8, 8)), nn.Linear(8, 3))


def test_inference_forward_equals_the_model():
    model = _model()
    compiled = fn.compile(model)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    model.eval()
    with fn.no_grad():
        expected = model(fn.from_numpy(x)).numpy()
        got = compiled(fn.from_numpy(x)).numpy()
    assert compiled.fallback_reason is None
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict(compiled, x), expected, rtol=1e-5, atol=1e-6)
    assert list(compiled.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]


def test_inference_from_several_threads_at_once_gives_each_its_own_output():
    """Each call works in arrays of its own: threads interleaving calls never see another's rows,
    and an output stays as it was after later calls."""
    from concurrent.futures import ThreadPoolExecutor

    model = _model()
    model.eval()
    compiled = fn.compile(model)
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((7, 6)).astype(np.float32) for _ in range(8)]
    with fn.no_grad():
        expected = [model(fn.from_numpy(x)).numpy() for x in batches]

        def run(i):
            outs = [compiled(fn.from_numpy(batches[i])) for _ in range(30)]
            return [o.numpy().copy() for o in outs]

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, range(len(batches))))
        first = compiled(fn.from_numpy(batches[0]))
        kept = first.numpy().copy()
        compiled(fn.from_numpy(batches[1]))
    for want, outs in zip(expected, results):
        for got in outs:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first.numpy(), kept)


def test_dropout_in_train_mode_follows_the_seeded_stream():
    model = _model()
    compiled = fn.compile(model)
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    with fn.no_grad():
        fn.manual_seed(3)
        expected = model(fn.from_numpy(x)).numpy()
        fn.manual_seed(3)
        got = compiled(fn.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_training_through_the_compiled_module_is_the_eager_training():
    results = []
    for wrap in (False, True):
        model = _model()
        net = fn.compile(model) if wrap else model
        opt = optim.SGD(net.parameters(), lr=0.1)
        rng = np.random.default_rng(2)
        for i in range(3):
            x = fn.from_numpy(rng.standard_normal((4, 6)).astype(np.float32))
            fn.manual_seed(i)
            opt.zero_grad()
            nn.CrossEntropyLoss()(net(x), fn.tensor(np.array([0, 1, 2, 1]))).backward()
            opt.step()
        results.append({k: v.numpy().copy() for k, v in model.state_dict().items()})
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key])


def test_unsupported_models_run_eagerly_with_a_reason():
    model = nn.Sequential(nn.Linear(6, 3), nn.Softmax(dim=1))
    compiled = fn.compile(model)
    x = fn.from_numpy(np.ones((2, 6), np.float32))
    with fn.no_grad(), pytest.warns(UserWarning, match="eager forward"):
        out = compiled(x)
    assert "Softmax" in compiled.fallback_reason
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())
    with pytest.raises(TypeError, match="expected a Module"):
        fn.compile(lambda v: v)


def test_the_compiled_step_benchmark_runs_and_reports_every_implementation():
    """`fastnn bench --only f` must not break when the bench package moves (it did once)."""
    from fastnn.compile import benchmark

    rows = dict(benchmark.small_steps(repeats=1, steps=2, torch=False))
    for batch in benchmark.SMALL_BATCHES:
        assert rows[f"fastnn compiled, batch {batch}"] > 0
        assert any(name.startswith("fastnn eager") and name.endswith(f"batch {batch}") for name in rows)


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_library_workers_build_warm_and_time_both_workloads(library):
    """The comparison libraries' workers (own processes) answer the bench's protocol: a step and a
    (small) epoch are built, run once, then timed."""
    pytest.importorskip(library, reason=f"{library} is a benchmark-only extra")
    from fastnn.bench import timing

    worker = timing.torch_worker() if library == "torch" else timing.jax_worker()
    try:
        assert worker.version and int(worker.threads) >= 1
        assert worker.load("step", 4).time(3) > 0
        assert worker.load("epoch", 300).time(1) > 0
    finally:
        worker.close()
    assert worker.process.returncode == 0
