"""Grad mode is per thread and per asyncio task (as PyTorch keeps it per thread), and its
context managers and decorators restore the mode they found."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastnn
from fastnn import nn

TIMEOUT = 30


def test_no_grad_in_one_thread_leaves_another_thread_recording():
    inside, checked = threading.Event(), threading.Event()
    seen = {}

    def holder():
        with fastnn.no_grad():
            seen["holder"] = fastnn.is_grad_enabled()
            inside.set()
            checked.wait(TIMEOUT)
            seen["holder_after_other"] = fastnn.is_grad_enabled()

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(TIMEOUT)
    try:
        assert fastnn.is_grad_enabled()
        x = fastnn.tensor([1.0, 2.0], requires_grad=True)
        loss = (x * x).sum()
        assert loss.requires_grad
        loss.backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    finally:
        checked.set()
        thread.join(TIMEOUT)
    assert seen == {"holder": False, "holder_after_other": False}
    assert fastnn.is_grad_enabled()


def test_a_new_thread_starts_with_grad_mode_on_as_in_torch():
    result = []
    with fastnn.no_grad():
        thread = threading.Thread(target=lambda: result.append(fastnn.is_grad_enabled()))
        thread.start()
        thread.join(TIMEOUT)
        assert not fastnn.is_grad_enabled()
    assert result == [True]


def test_a_thread_pool_serves_predictions_under_no_grad_while_another_thread_trains():
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = fastnn.optim.SGD(model.parameters(), lr=0.01)
    x = fastnn.randn(16, 4)
    y = fastnn.tensor(np.arange(16) % 2)
    stop = threading.Event()
    served = []

    @fastnn.no_grad()
    def predict(batch):
        out = model(batch)
        return out.requires_grad, fastnn.is_grad_enabled(), out.shape

    def serve():
        with ThreadPoolExecutor(max_workers=2) as pool:
            while not stop.is_set():
                served.extend(f.result(TIMEOUT) for f in [pool.submit(predict, x[:3]) for _ in range(4)])

    server = threading.Thread(target=serve)
    server.start()
    try:
        steps = 0
        while steps < 60 or len(served) < 8:
            loss = nn.functional.cross_entropy(model(x), y)
            assert loss.requires_grad, "training saw the serving threads' no_grad"
            optimizer.zero_grad()
            loss.backward()
            assert all(p.grad is not None for p in model.parameters())
            with fastnn.no_grad():  # the optimizer's own no_grad must not leak to the servers either
                optimizer.step()
            steps += 1
            assert steps < 100_000
    finally:
        stop.set()
        server.join(TIMEOUT)
    assert served and all(out == (False, False, (3, 2)) for out in served)


def test_one_no_grad_instance_shared_by_threads_restores_each_threads_mode():
    shared = fastnn.no_grad()
    barrier = threading.Barrier(2)
    results = []

    def work(start_enabled):
        fastnn.set_grad_enabled(start_enabled)
        with shared:
            barrier.wait(TIMEOUT)
            inner = fastnn.is_grad_enabled()
            barrier.wait(TIMEOUT)
        results.append((start_enabled, inner, fastnn.is_grad_enabled()))

    threads = [threading.Thread(target=work, args=(mode,)) for mode in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert sorted(results) == [(False, False, False), (True, False, True)]


def test_grad_mode_is_per_asyncio_task():
    async def hold(entered, release):
        with fastnn.no_grad():
            entered.set()
            await release.wait()
            return fastnn.is_grad_enabled()

    async def other(entered, release):
        await entered.wait()
        enabled = fastnn.is_grad_enabled()
        release.set()
        return enabled

    async def main():
        entered, release = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(hold(entered, release), other(entered, release))

    assert asyncio.run(main()) == [False, True]
    assert fastnn.is_grad_enabled()


@pytest.mark.parametrize("make", [lambda: fastnn.no_grad(), lambda: fastnn.inference_mode(),
                                  lambda: fastnn.set_grad_enabled(False)])
def test_grad_off_decorators_and_contexts_restore_the_mode_also_after_an_exception(make):
    x = fastnn.tensor([1.0], requires_grad=True)

    @make()
    def f():
        assert not fastnn.is_grad_enabled()
        return x * 2

    assert fastnn.is_grad_enabled()
    assert not f().requires_grad
    assert fastnn.is_grad_enabled()
    with pytest.raises(KeyError):
        with make():
            raise KeyError("inside")
    assert fastnn.is_grad_enabled()


def test_decorators_without_parentheses_and_nesting():
    @fastnn.no_grad
    def off():
        return fastnn.is_grad_enabled()

    @fastnn.enable_grad
    def on():
        return fastnn.is_grad_enabled()

    @fastnn.inference_mode
    def infer():
        return fastnn.is_grad_enabled()

    assert (off(), infer()) == (False, False)
    with fastnn.no_grad():
        assert on() is True
        assert not fastnn.is_grad_enabled()
        with fastnn.inference_mode(False):
            assert not fastnn.is_grad_enabled()
        with fastnn.enable_grad():
            assert fastnn.is_grad_enabled()
            with fastnn.no_grad():
                assert not fastnn.is_grad_enabled()
            assert fastnn.is_grad_enabled()
        assert not fastnn.is_grad_enabled()
    assert fastnn.is_grad_enabled()


def test_fastnn_predict_in_a_thread_pool_while_the_main_thread_trains():
    """fastnn.train.predict runs under no_grad; the training thread's graph must not notice."""
    from fastnn.train import predict

    fastnn.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1))
    optimizer = fastnn.optim.SGD(model.parameters(), lr=0.05)
    x, y = fastnn.randn(32, 3), fastnn.randn(32, 1)
    rows = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = []
        for _ in range(40):
            futures.extend(pool.submit(predict, model, rows, 16) for _ in range(2))
            loss = nn.functional.mse_loss(model(x), y)
            assert loss.requires_grad
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        outputs = [f.result(TIMEOUT) for f in futures]
    assert all(out.shape == (64, 1) and np.isfinite(out).all() for out in outputs)
    assert fastnn.is_grad_enabled()
