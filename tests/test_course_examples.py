"""The worked examples of the course slides, computed with fastnn."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import nn

W_HIDDEN = [[0.3, -0.7, 0.5, 0.1], [-0.2, 0.8, -0.4, 0.3], [0.6, -0.5, 0.2, -0.3]]
B_HIDDEN = [0.1, -0.3, 0.2]
X = [0.5, 0.2, 0.1, 0.9]
W_OUT = [[0.2, -0.3, 0.5], [-0.1, 0.4, -0.2], [0.3, -0.6, 0.1], [0.5, 0.2, -0.4]]


@pytest.mark.parametrize("backend_name", ["numpy", "numba", "cython"])
def test_two_layer_network_forward_pass(backend_name):
    """h = sigmoid(W^h x + b), y = softmax(W^o h), no output bias."""
    with fastnn.use_backend(backend_name):
        model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 4, bias=False), nn.Softmax(dim=-1))
        model.load_state_dict({"0.weight": W_HIDDEN, "0.bias": B_HIDDEN, "2.weight": W_OUT})
        x = fastnn.tensor([X])
        h = model[1](model[0](x))
        y = model(x)
    np.testing.assert_allclose(h.numpy()[0], [0.5622, 0.4975, 0.5374], atol=5e-5)
    np.testing.assert_allclose(y.numpy()[0], [0.2863, 0.2352, 0.2104, 0.2680], atol=5e-5)
    assert y.numpy().sum() == pytest.approx(1.0, abs=1e-6)


def test_two_layer_network_by_hand_with_tensor_ops():
    h = (fastnn.tensor(W_HIDDEN) @ fastnn.tensor(X) + fastnn.tensor(B_HIDDEN)).sigmoid()
    y = F.softmax(fastnn.tensor(W_OUT) @ h, dim=0)
    np.testing.assert_allclose(h.numpy(), [0.5622, 0.4975, 0.5374], atol=5e-5)
    np.testing.assert_allclose(y.numpy(), [0.2863, 0.2352, 0.2104, 0.2680], atol=5e-5)


@pytest.mark.parametrize(("a", "b", "c"), [(3.0, 1.0, -2.0), (-1.5, 0.25, 4.0)])
def test_graph_c_times_a_plus_2b(a, b, c):
    """L = c (a + 2b): dL/da = c, dL/db = 2c, dL/dc = a + 2b."""
    ta, tb, tc = (fastnn.tensor(v, requires_grad=True) for v in (a, b, c))
    loss = tc * (ta + 2 * tb)
    loss.backward()
    assert loss.item() == pytest.approx(c * (a + 2 * b))
    assert ta.grad.item() == pytest.approx(c)
    assert tb.grad.item() == pytest.approx(2 * c)
    assert tc.grad.item() == pytest.approx(a + 2 * b)
