"""Layers, losses and initialisers validate their constructor arguments as PyTorch does, with a
TypeError/ValueError naming the class and the argument; Module.load_state_dict is all-or-nothing."""

from __future__ import annotations

import math
import re
from collections import OrderedDict

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import init


@pytest.mark.parametrize("make, error, text", [
    (lambda: nn.Linear("3", 4), TypeError, "Linear: in_features must be an integer, got str '3'"),
    (lambda: nn.Linear(3.0, 4), TypeError, "Linear: in_features must be an integer"),
    (lambda: nn.Linear(3, -1), ValueError, "Linear: invalid out_features: -1"),
    (lambda: nn.Linear(3, None), TypeError, "Linear: out_features must be an integer"),
    (lambda: nn.Linear(3, 4, bias="no"), TypeError, "Linear: bias must be a bool"),
    (lambda: nn.Linear(3, 4, dtype=np.int64), TypeError, "Linear: dtype must be float32 or float64"),
    (lambda: nn.Linear(3, 4, dtype="float16"), TypeError, "Linear: dtype must be float32 or float64"),
    (lambda: nn.Embedding("10", 3), TypeError, "Embedding: num_embeddings must be an integer"),
    (lambda: nn.Embedding(-1, 3), ValueError, "Embedding: invalid num_embeddings: -1"),
    (lambda: nn.Embedding(10, 2.5), TypeError, "Embedding: embedding_dim must be an integer"),
    (lambda: nn.Embedding(10, 3, padding_idx=10), ValueError, "Embedding: padding_idx 10 must be within"),
    (lambda: nn.Embedding(10, 3, padding_idx=-11), ValueError, "Embedding: padding_idx -11 must be within"),
    (lambda: nn.Embedding(10, 3, padding_idx=10, sparse=True), ValueError, "Embedding: padding_idx 10 must be"),
    (lambda: nn.Embedding(10, 3, padding_idx=2.0), TypeError, "Embedding: padding_idx must be an integer"),
    (lambda: nn.Embedding(10, 3, padding_idx="0"), TypeError, "Embedding: padding_idx must be an integer"),
    (lambda: nn.Embedding(10, 3, padding_idx=True), TypeError, "Embedding: padding_idx must be an integer"),
    (lambda: nn.Embedding(10, 3, padding_idx=2**70), ValueError, "Embedding: invalid padding_idx"),
    (lambda: nn.Embedding(10, 3, sparse=1), TypeError, "Embedding: sparse must be a bool"),
    (lambda: nn.EmbeddingBag(10, 3, padding_idx=12, sparse=True), ValueError, "EmbeddingBag: padding_idx 12"),
    (lambda: nn.EmbeddingBag(10, 3, mode="max"), ValueError, "EmbeddingBag: mode must be one of 'mean', 'sum'"),
    (lambda: nn.EmbeddingBag(10, 3, mode=None), TypeError, "EmbeddingBag: mode must be one of"),
    (lambda: nn.Embedding.from_pretrained(np.zeros((4, 3)), padding_idx=4, sparse=True), ValueError,
     "Embedding: padding_idx 4 must be within"),
    (lambda: nn.Embedding.from_pretrained(np.zeros((4, 3), dtype=np.int64)), TypeError,
     "Embedding.from_pretrained: embeddings must hold floats"),
    (lambda: nn.Dropout("0.5"), TypeError, "Dropout: p must be a real number"),
    (lambda: nn.Dropout(math.nan), ValueError, "Dropout: probability has to be between 0 and 1: nan"),
    (lambda: nn.Dropout(-0.1), ValueError, "Dropout: probability has to be between 0 and 1: -0.1"),
    (lambda: nn.Dropout(None), TypeError, "Dropout: p must be a real number"),
    (lambda: nn.LeakyReLU("0.1"), TypeError, "LeakyReLU: negative_slope must be a real number"),
    (lambda: nn.LeakyReLU(None), TypeError, "LeakyReLU: negative_slope must be a real number"),
    (lambda: nn.LeakyReLU(math.nan), ValueError, "LeakyReLU: invalid negative_slope: nan"),
    (lambda: nn.GELU(approximate=None), TypeError, "GELU: approximate must be one of"),
    (lambda: nn.Softmax(dim="1"), TypeError, "Softmax: dim must be an integer"),
    (lambda: nn.LogSoftmax(dim=1.0), TypeError, "LogSoftmax: dim must be an integer"),
    (lambda: nn.Hardtanh(min_val="a"), TypeError, "Hardtanh: min_val must be a real number"),
    (lambda: nn.Hardtanh(2.0, 1.0), ValueError, "Hardtanh: min_val 2.0 must not exceed max_val 1.0"),
    (lambda: nn.Flatten(start_dim=None), TypeError, "Flatten: start_dim must be an integer"),
    (lambda: nn.MSELoss(reduction=None), TypeError, "MSELoss: reduction must be one of"),
    (lambda: nn.L1Loss(reduction="avg"), ValueError, "L1Loss: reduction must be one of 'mean', 'sum', 'none'"),
    (lambda: nn.CrossEntropyLoss(ignore_index="x"), TypeError, "CrossEntropyLoss: ignore_index must be an integer"),
    (lambda: nn.CrossEntropyLoss(ignore_index=2**70), ValueError, "CrossEntropyLoss: invalid ignore_index"),
    (lambda: nn.CrossEntropyLoss(ignore_index=None), TypeError, "CrossEntropyLoss: ignore_index must be"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=math.nan), ValueError, "CrossEntropyLoss: invalid label_smoothing"),
    (lambda: nn.CrossEntropyLoss(label_smoothing="0.1"), TypeError, "CrossEntropyLoss: label_smoothing must be"),
    (lambda: nn.CrossEntropyLoss(weight=[1.0, 2.0]), TypeError, "CrossEntropyLoss: weight must be a float Tensor"),
    (lambda: nn.NLLLoss(ignore_index=1.5), TypeError, "NLLLoss: ignore_index must be an integer"),
    (lambda: nn.BCELoss(weight="w"), TypeError, "BCELoss: weight must be a float Tensor"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=fastnn.tensor([1, 2])), TypeError,
     "BCEWithLogitsLoss: pos_weight must be a float Tensor"),
    (lambda: init.uniform_(fastnn.zeros(3), 1.0, 0.0), ValueError, "uniform_: expects a <= b"),
    (lambda: init.uniform_(np.zeros(3)), TypeError, "uniform_: expected a fastnn Tensor"),
    (lambda: init.normal_(fastnn.zeros(3), std=-1.0), ValueError, "normal_: invalid std: -1.0"),
    (lambda: init.normal_(fastnn.zeros(3), mean="0"), TypeError, "normal_: mean must be a real number"),
    (lambda: init.constant_(fastnn.zeros(3), "1"), TypeError, "constant_: val must be a number"),
    (lambda: init.xavier_uniform_(fastnn.zeros(3, 3), gain=None), TypeError, "xavier_uniform_: gain must be"),
    (lambda: init.kaiming_uniform_(fastnn.zeros(3, 3), a="x"), TypeError, "kaiming_uniform_: a must be"),
    (lambda: init.zeros_(fastnn.tensor([1, 2])), TypeError, "zeros_: expected a floating-point tensor"),
    (lambda: nn.Sequential(nn.ReLU(), 3), TypeError, "Sequential: argument 1 must be a fastnn.nn.Module, got int"),
    (lambda: nn.Sequential().append("x"), TypeError, "Sequential.append: the module must be a fastnn.nn.Module"),
    (lambda: nn.ModuleList(5), TypeError, "ModuleList: expected an iterable of modules, got int"),
    (lambda: nn.ModuleList([nn.ReLU(), None]), TypeError, "ModuleList: entry 1 must be a fastnn.nn.Module"),
    (lambda: nn.Residual(lambda x: x), TypeError, "Residual: module must be a fastnn.nn.Module, got function"),
    (lambda: nn.Linear(3, 2)([[1.0, 2.0, 3.0]]), TypeError, "Linear(3 -> 2): expected a Tensor input (*, 3), got list"),
    (lambda: nn.Flatten()(np.zeros((2, 2))), TypeError, "Flatten: expected a Tensor input, got ndarray"),
    (lambda: nn.Parameter("w"), TypeError, "Parameter: cannot make a parameter from str"),
])
def test_bad_constructor_arguments_name_the_class_and_argument(make, error, text):
    with pytest.raises(error, match="^" + re.escape(text)):
        make()


def test_valid_edge_values_are_accepted():
    assert nn.Embedding(10, 3, padding_idx=-1).padding_idx == 9
    assert nn.Embedding(10, 3, padding_idx=np.int64(2), sparse=True).padding_idx == 2
    assert nn.Dropout(1).p == 1.0 and nn.Dropout(np.float32(0.25)).p == 0.25
    assert nn.CrossEntropyLoss(ignore_index=2**63 - 1).ignore_index == 2**63 - 1
    assert nn.Linear(0, 0).weight.shape == (0, 0)
    assert nn.Linear(2, 3, dtype=fastnn.float64).weight.dtype == np.float64
    assert nn.LeakyReLU(-0.5).negative_slope == -0.5


# ------------------------------------------------------------------ load_state_dict
def three_layers():
    fastnn.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def new_values(model):
    return OrderedDict((k, np.full(v.shape, 7.0, dtype=v.dtype)) for k, v in snapshot(model).items())


def test_a_read_only_target_midway_fails_the_load_and_changes_nothing():
    model = three_layers()
    model[2].weight.array.flags.writeable = False  # e.g. memory-mapped or shared read-only storage
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r"2\.weight: the tensor in the current model has read-only storage"):
        model.load_state_dict(new_values(model))
    for key, value in snapshot(model).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


@pytest.mark.parametrize("bad", [np.array(["a", "b"] * 8).reshape(4, 4), np.full((4, 4), 1 + 2j),
                                 np.empty((4, 4), dtype=object), "text"])
def test_a_value_of_the_wrong_kind_midway_changes_nothing(bad):
    model = three_layers()
    before = snapshot(model)
    values = new_values(model)
    values["2.weight"] = bad
    with pytest.raises(RuntimeError, match=r"2\.weight"):
        model.load_state_dict(values)
    for key, value in snapshot(model).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_values_that_alias_other_targets_load_as_they_were_before_the_load():
    """A state dict whose values are views of the model's own tensors, swapped: the staged copies
    are taken before anything is written, so each target gets the other's old value."""
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    a, b = model[0].weight.numpy().copy(), model[1].weight.numpy().copy()
    swapped = model.state_dict()
    swapped["0.weight"], swapped["1.weight"] = model[1].weight.array, model[0].weight.array
    model.load_state_dict(swapped)
    np.testing.assert_array_equal(model[0].weight.numpy(), b)
    np.testing.assert_array_equal(model[1].weight.numpy(), a)


def test_a_successful_load_still_copies_in_place_and_casts():
    model = three_layers()
    storage = model[0].weight.array
    model.load_state_dict(OrderedDict((k, v.astype(np.float64)) for k, v in new_values(model).items()))
    assert model[0].weight.array is storage
    np.testing.assert_array_equal(storage, np.full((4, 3), 7.0, dtype=np.float32))
