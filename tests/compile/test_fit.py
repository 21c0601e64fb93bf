"""fit with the compiled step (compile=True, and by default where supported): the same training as
the eager fit, metrics included."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim
from fastnn.data import DataLoader, TensorDataset
from fastnn.train import fit


@pytest.mark.parametrize("head", ["ce", "nll"])
def test_fit_compiled_equals_fit_eager(head):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    runs = []
    for compile in (False, True):
        fn.manual_seed(0)
        layers = [nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3)]
        if head == "nll":
            layers.append(nn.LogSoftmax(dim=1))
        model = nn.Sequential(*layers)
        opt = optim.Adam(model.parameters(), lr=0.01)
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
        history = fit(model, nn.CrossEntropyLoss() if head == "ce" else nn.NLLLoss(), opt, loader, loader, epochs=3,
                      progress=False, compile=compile)
        runs.append((history, {k: v.numpy().copy() for k, v in model.state_dict().items()}))
    (h1, s1), (h2, s2) = runs
    for key in s1:
        np.testing.assert_allclose(s1[key], s2[key], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    assert h1["accuracy"] == h2["accuracy"]


class PlainSGD:
    """An optimizer of the user's own (not a fastnn Optimizer): fit runs its step eagerly."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr
        self.param_groups = [{"params": self.params, "lr": lr}]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            p.array -= self.lr * p.grad.numpy()

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_fit_compiles_by_default_and_runs_other_steps_eagerly():
    """compile=None (the default): the compiled step where supported (the same numbers as
    compile=False); a model, loss or optimizer it does not cover runs eagerly, without a warning."""
    import warnings

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 3, 40)
    results = {}
    for name, make_opt, compile in (("default", lambda p: optim.SGD(p, lr=0.1), None),
                                    ("eager", lambda p: optim.SGD(p, lr=0.1), False),
                                    ("own optimizer", lambda p: PlainSGD(p, 0.1), None)):
        fn.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        loader = DataLoader(TensorDataset(x, y), batch_size=8)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback warning by default
            fit(model, nn.CrossEntropyLoss(), make_opt(model.parameters()), loader, epochs=2, progress=False,
                compile=compile)
        results[name] = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    for key in results["eager"]:
        np.testing.assert_allclose(results["default"][key], results["eager"][key], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(results["own optimizer"][key], results["eager"][key], rtol=1e-5, atol=1e-7)
