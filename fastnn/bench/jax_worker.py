"""The JAX side of ``fastnn bench``: the same workloads as PyTorch's worker, each training step one
``jax.jit`` function (forward, loss, ``jax.grad``, update), run in a process of its own.

Started by :class:`fastnn.bench.timing.LibraryWorker` as ``python -c <this file + the protocol
loop> THREADS`` (the fastnn package is not imported here): ``step B`` / ``epoch N`` build and warm
up (compile) a workload, ``run K`` times K calls.
With THREADS == 1, XLA's CPU thread pool is limited to one thread (``XLA_FLAGS``).
"""

from __future__ import annotations

import os
import sys


def _setup(threads: int):
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1").strip()
    import jax

    jax.config.update("jax_platforms", "cpu")
    return jax


def _workloads(jax):
    import jax.numpy as jnp
    import numpy as np

    def init(sizes: list[int], seed: int) -> list:
        """PyTorch's Linear initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias."""
        rng = np.random.default_rng(seed)
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            params.append((jnp.asarray(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)),
                           jnp.asarray(rng.uniform(-bound, bound, fan_out).astype(np.float32))))
        return params

    def loss_of(params, x, y):
        """Mean softmax cross-entropy of the ReLU MLP's logits."""
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        logp = jax.nn.log_softmax(x @ w + b)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def sgd_step(params, x, y):
        loss, grads = jax.value_and_grad(loss_of)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), loss

    @jax.jit
    def adam_step(params, m, v, t, x, y):
        """torch.optim.Adam's update (lr 1e-3, betas 0.9 / 0.999, eps 1e-8)."""
        loss, grads = jax.value_and_grad(loss_of)(params, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda a, g: 0.9 * a + 0.1 * g, m, grads)
        v = jax.tree_util.tree_map(lambda a, g: 0.999 * a + 0.001 * g * g, v, grads)
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        params = jax.tree_util.tree_map(lambda p, a, b: p - 1e-3 / c1 * a / (jnp.sqrt(b / c2) + 1e-8), params, m, v)
        return params, m, v, t, loss

    def small_step(batch: int):  # workload (b): 20-64-2, SGD
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal((batch, 20), dtype=np.float32))
        y = jnp.asarray(rng.integers(0, 2, batch).astype(np.int32))
        state = [init([20, 64, 2], 0)]

        def step():
            state[0], loss = sgd_step(state[0], x, y)
            loss.block_until_ready()
        return step

    def mlp_epoch(n: int, batch: int = 128):  # workload (a): 784-256-128-10, Adam, fastnn's data
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int32)
        params = init([784, 256, 128, 10], 0)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        state = [params, zeros, zeros, jnp.asarray(0.0, jnp.float32)]
        order_rng = np.random.default_rng(0)

        def epoch():
            order = order_rng.permutation(n)
            for start in range(0, n, batch):
                index = order[start:start + batch]
                out = adam_step(*state, x[index], y[index])
                state[:] = out[:4]
            out[4].block_until_ready()
        return epoch

    return small_step, mlp_epoch


if __name__ == "__main__":  # run by LibraryWorker, which appends the protocol loop (timing._SERVE)
    _jax = _setup(int(sys.argv[1]))
    small_step, mlp_epoch = _workloads(_jax)
    VERSION, THREADS = _jax.__version__, 1 if int(sys.argv[1]) == 1 else os.cpu_count()
