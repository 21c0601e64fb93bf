"""fit(..., compile=True): the same training as the eager fit, metrics included."""

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
