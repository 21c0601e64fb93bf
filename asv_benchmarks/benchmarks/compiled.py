"""The compiled training step (fastnn.compile_step) against the eager step on the default backend:
the 20-64-2 MLP with SGD at batch 1 / 32 / 512, and the 784-256-128-10 MLP with Adam at batch 128.
Each setup runs one step first (planning, the first touch of the buffers), which is never timed."""

from __future__ import annotations

import numpy as np

import fastnn
from fastnn import nn, optim

from .common import SEED


def _problem(sizes, batch, make_optimizer):
    fastnn.manual_seed(SEED)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return model, make_optimizer(model.parameters()), nn.CrossEntropyLoss(), x, y


class SmallStep:
    """One training step of the 20-64-2 MLP, SGD lr 0.01."""

    params = ([1, 32, 512], ["compiled", "eager"])
    param_names = ["batch", "path"]
    sizes = (20, 64, 2)

    @staticmethod
    def make_optimizer(params):
        return optim.SGD(params, lr=0.01)

    def setup(self, batch, path):
        model, opt, loss_fn, x, y = _problem(self.sizes, batch, self.make_optimizer)
        if path == "compiled":
            step = fastnn.compile_step(model, loss_fn, opt)
            self.run = lambda: step(x, y)
        else:
            xt, yt = fastnn.from_numpy(x), fastnn.from_numpy(y)

            def run():
                opt.zero_grad()
                loss_fn(model(xt), yt).backward()
                opt.step()
            self.run = run
        self.run()

    def time_step(self, batch, path):
        self.run()


class MnistStep(SmallStep):
    """One training step of the 784-256-128-10 MLP, Adam lr 1e-3, batch 128."""

    params = ([128], ["compiled", "eager"])
    sizes = (784, 256, 128, 10)

    @staticmethod
    def make_optimizer(params):
        return optim.Adam(params, lr=1e-3)
