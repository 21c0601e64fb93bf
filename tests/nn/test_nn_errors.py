"""Bad input gets an exception naming the op or layer and the shapes, dtypes or values at fault."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import nn


def test_linear_names_itself_and_the_shapes(active_backend):
    layer = nn.Linear(784, 128)
    with pytest.raises(ValueError, match=r"^Linear\(784 -> 128\) expected input \(\*, 784\), got \(32, 783\)$"):
        layer(fastnn.zeros(32, 783))


def test_linear_inside_a_fused_sequential_names_the_layer(active_backend):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"Linear\(4 -> 3\) expected input \(\*, 4\), got \(5, 6\)"):
        model(fastnn.zeros(5, 6))


def test_linear_rejects_a_dtype_mix(active_backend):
    with pytest.raises(TypeError, match=r"Linear\(3 -> 2\): input dtype float64 does not match weight dtype float32"):
        nn.Linear(3, 2)(fastnn.zeros(1, 3, dtype=fastnn.float64))


def test_functional_linear_names_the_weight_shape(active_backend):
    with pytest.raises(ValueError, match=r"linear: weight \(2, 3\) expected input \(\*, 3\), got \(4,\)"):
        F.linear(fastnn.zeros(4), fastnn.zeros(2, 3))


@pytest.mark.parametrize("label", [12, -3])
def test_cross_entropy_out_of_range_label(label, active_backend):
    with pytest.raises(IndexError, match=rf"^cross_entropy: target {label} out of range for 10 classes$"):
        F.cross_entropy(fastnn.zeros(2, 10), fastnn.tensor([1, label]))
    with pytest.raises(IndexError, match=rf"cross_entropy: target {label} out of range for 10 classes"):
        nn.CrossEntropyLoss()(fastnn.zeros(2, 10), fastnn.tensor([label, 1]))


def test_nll_loss_and_weighted_cross_entropy_out_of_range_label(active_backend):
    with pytest.raises(IndexError, match=r"nll_loss: target 3 out of range for 3 classes"):
        F.nll_loss(fastnn.zeros(2, 3), fastnn.tensor([0, 3]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 5 out of range for 3 classes"):
        F.cross_entropy(fastnn.zeros(2, 3), fastnn.tensor([5, 0]), weight=fastnn.ones(3))


def test_embedding_out_of_range_ids(active_backend):
    with pytest.raises(IndexError, match=r"^embedding: indices 10 out of range for 10 rows$"):
        nn.Embedding(10, 4)(fastnn.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"^embedding_bag: indices 7 out of range for 5 rows$"):
        nn.EmbeddingBag(5, 2)(fastnn.tensor([[1, 7]]))


def test_embedding_rejects_float_ids():
    with pytest.raises(TypeError, match="embedding: indices must be an integer tensor, got float32"):
        nn.Embedding(3, 2)(fastnn.zeros(2))


@pytest.mark.parametrize(("loss", "input_shape", "target_shape"), [
    (F.mse_loss, (4, 1), (4,)), (F.binary_cross_entropy, (3,), (3, 1)),
    (F.binary_cross_entropy_with_logits, (2, 2), (4,)),
])
def test_losses_reject_mismatched_shapes(loss, input_shape, target_shape, active_backend):
    with pytest.raises(ValueError, match=rf"{loss.__name__}: target shape \({target_shape[0]}"):
        loss(fastnn.full(input_shape, 0.5), fastnn.full(target_shape, 0.5))


def test_cross_entropy_rejects_a_target_of_the_wrong_shape(active_backend):
    with pytest.raises(ValueError, match=r"cross_entropy: expected target shape \(4,\) for input \(4, 3\), got \(3,\)"):
        F.cross_entropy(fastnn.zeros(4, 3), fastnn.tensor([0, 1, 2]))


def test_losses_reject_dtype_mixes(active_backend):
    with pytest.raises(TypeError, match="mse_loss: input dtype float32 does not match target dtype float64"):
        F.mse_loss(fastnn.zeros(2), fastnn.zeros(2, dtype=fastnn.float64))


def test_bce_rejects_probabilities_outside_the_unit_interval(active_backend):
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([1.5]), fastnn.tensor([1.0]))


def test_bad_reduction_and_options():
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none, got 'avg'"):
        F.mse_loss(fastnn.zeros(2), fastnn.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="Dropout: probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="GELU: approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="embedding_bag: mode"):
        F.embedding_bag(fastnn.tensor([[0]]), fastnn.zeros(2, 2), mode="max")


def test_backward_on_a_non_scalar_loss_names_the_shape():
    loss = F.mse_loss(fastnn.zeros(3, requires_grad=True), fastnn.ones(3), reduction="none")
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3,\)"):
        loss.backward()


def test_matmul_and_reshape_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"):
        fastnn.zeros(2, 3) @ fastnn.zeros(4, 5)
    with pytest.raises(RuntimeError, match=r"reshape: shape \(5,\) is invalid for input of shape \(2, 3\)"):
        fastnn.zeros(2, 3).reshape(5)


def test_residual_requires_a_shape_preserving_module():
    with pytest.raises(ValueError, match=r"Residual: the wrapped module maps \(2, 3\) to \(2, 4\)"):
        nn.Residual(nn.Linear(3, 4))(fastnn.zeros(2, 3))


def test_out_of_range_dims_are_named():
    with pytest.raises(IndexError, match="sum: dim 2 out of range"):
        fastnn.zeros(2, 3).sum(2)
    with pytest.raises(IndexError, match="softmax: dim 3 out of range"):
        F.softmax(fastnn.zeros(2, 3), 3)
    assert np.isfinite(F.softmax(fastnn.zeros(2, 3), -2).numpy()).all()
