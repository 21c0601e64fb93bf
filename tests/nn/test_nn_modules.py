"""fastnn.nn modules: the Module API, containers, layers against PyTorch, state_dict round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from autograd_testing import tolerance

import fastnn
from fastnn import nn

torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")


def _copy_torch_weights(ours: nn.Module, theirs) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _check_against_torch(ours: nn.Module, theirs, x: np.ndarray, dtype) -> None:
    """Load torch's weights, then compare outputs and every parameter's gradient."""
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours.to(dtype)
    _copy_torch_weights(ours, theirs)
    x = x.astype(dtype)
    out, expected = ours(fastnn.tensor(x)), theirs(torch.from_numpy(x))
    tol = tolerance(dtype)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol)
    weights = np.random.default_rng(0).standard_normal(expected.shape).astype(dtype)
    (out * fastnn.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    grads = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), grads[name].grad.numpy(), **tol, err_msg=name)


def _mlp_pair(activation: str):
    ours = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "leaky": nn.LeakyReLU(0.2),
            "gelu": nn.GELU(), "gelu_tanh": nn.GELU("tanh")}[activation]
    theirs = {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(),
              "leaky": torch.nn.LeakyReLU(0.2), "gelu": torch.nn.GELU(), "gelu_tanh": torch.nn.GELU("tanh")}[activation]
    return (nn.Sequential(nn.Linear(5, 7), ours, nn.Linear(7, 3)),
            torch.nn.Sequential(torch.nn.Linear(5, 7), theirs, torch.nn.Linear(7, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky", "gelu", "gelu_tanh"])
def test_sequential_mlp_matches_pytorch(activation, dtype, active_backend):
    ours, theirs = _mlp_pair(activation)
    _check_against_torch(ours, theirs, np.random.default_rng(1).standard_normal((8, 5)), dtype)


def test_sequential_fuses_linear_and_activation_into_one_kernel_call(active_backend, monkeypatch):
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    monkeypatch.setattr(nn.Tanh, "forward", lambda self, x: pytest.fail("Tanh ran as a separate op"))
    original = active_backend.unchecked.linear_forward
    fused = []
    monkeypatch.setattr(active_backend.unchecked, "linear_forward",
                        lambda x, w, b, act, s: fused.append(act) or original(x, w, b, act, s))
    model(fastnn.randn(3, 4))
    assert fused == ["tanh", "identity"]
    model[1] = nn.Sigmoid()
    model(fastnn.randn(3, 4))
    assert fused[2:] == ["sigmoid", "identity"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_match_pytorch(dtype, active_backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4))
    for ours, theirs in [
        (nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Dropout(0.0), nn.Softmax(dim=1)),
         torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.Dropout(0.0),
                             torch.nn.Softmax(dim=1))),
        (nn.Sequential(nn.Linear(4, 4, bias=False), nn.LogSoftmax(dim=-1), nn.Identity()),
         torch.nn.Sequential(torch.nn.Linear(4, 4, bias=False), torch.nn.LogSoftmax(dim=-1), torch.nn.Identity())),
    ]:
        _check_against_torch(ours, theirs, x, dtype)


def test_state_dict_from_a_torch_model_loads_and_outputs_match(active_backend):
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ours = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    ours.load_state_dict(theirs.state_dict())  # torch tensors convert through __array__
    x = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(fastnn.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    back = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    back.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), theirs.state_dict().values()))


# ------------------------------------------------------------------ Module API
class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Tanh()])
        self.scale = nn.Parameter(fastnn.ones(1))
        self.register_buffer("running", fastnn.zeros(2))

    def forward(self, x):
        h = self.hidden(x)
        for block in self.blocks:
            h = block(h)
        return h * self.scale


def test_module_registers_parameters_children_and_buffers_in_order():
    model = TwoLayer()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["scale", "hidden.weight", "hidden.bias", "blocks.0.weight", "blocks.0.bias"]
    assert [n for n, _ in model.named_children()] == ["hidden", "blocks"]
    assert len(list(model.modules())) == 5
    assert list(model.state_dict()) == ["scale", "running", *names[1:]]
    assert [n for n, _ in model.named_buffers()] == ["running"]


def test_named_parameters_follow_torch_order():
    model = TwoLayer()
    expected = [n for n, _ in _torch_two_layer().named_parameters()]
    assert [n for n, _ in model.named_parameters()] == expected
    assert list(model.state_dict()) == list(_torch_two_layer().state_dict())


def _torch_two_layer():
    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(3, 4)
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Tanh()])
            self.scale = torch.nn.Parameter(torch.ones(1))
            self.register_buffer("running", torch.zeros(2))

    return Theirs()


def test_shared_parameters_are_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2


def test_train_eval_and_zero_grad():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert model.training and model[1].training
    model.eval()
    assert not model.training and not model[1].training
    x = fastnn.ones(3, 2)
    assert np.array_equal(model(x).numpy(), model[0](x).numpy())
    model.train()
    model(x).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_double_float_keeps_parameter_objects():
    model = nn.Linear(3, 2)
    weight = model.weight
    model.double()
    assert model.weight is weight and weight.dtype == np.float64
    out = model(fastnn.tensor(np.ones((1, 3))))
    assert out.dtype == np.float64
    assert model.float().weight.dtype == np.float32
    assert nn.Linear(2, 2, dtype=fastnn.float64).weight.dtype == np.float64


def test_state_dict_shares_storage_and_is_detached():
    model = nn.Linear(2, 3)
    state = model.state_dict()
    assert not state["weight"].requires_grad and np.shares_memory(state["weight"].numpy(), model.weight.numpy())


def test_load_state_dict_accepts_arrays_and_tensors_and_copies_in_place():
    model = nn.Linear(2, 3)
    weight = model.weight.numpy()
    model.load_state_dict({"weight": np.ones((3, 2)), "bias": fastnn.zeros(3)})
    assert model.weight.numpy() is weight and np.all(weight == 1) and np.all(model.bias.numpy() == 0)


def test_load_state_dict_is_all_or_nothing_and_names_every_problem():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    bad = {"0.weight": np.ones((3, 2)), "0.bias": np.ones(4), "1.weight": np.ones((1, 3)), "extra": np.ones(1)}
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert '"1.bias"' in message and '"extra"' in message and "0.bias" in message and "(4,)" in message
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict(bad, strict=False)
    result = model.load_state_dict({"0.weight": np.ones((3, 2)), "extra": 1}, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"] and result.unexpected_keys == ["extra"]
    assert np.all(model[0].weight.numpy() == 1)


def test_repr_matches_pytorch():
    ours = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.1),
                         nn.Sequential(nn.Linear(64, 2, bias=False), nn.LeakyReLU(0.2)), nn.Flatten(),
                         nn.Embedding(10, 3, padding_idx=0), nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                 torch.nn.Sequential(torch.nn.Linear(64, 2, bias=False), torch.nn.LeakyReLU(0.2)),
                                 torch.nn.Flatten(), torch.nn.Embedding(10, 3, padding_idx=0), torch.nn.Tanh(),
                                 torch.nn.Sigmoid(), torch.nn.Softmax(dim=1))
    assert repr(ours) == repr(theirs)
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())


def test_sequential_and_module_list_containers():
    model = nn.Sequential(nn.Linear(2, 2))
    model.append(nn.ReLU())
    assert len(model) == 2 and isinstance(model[-1], nn.ReLU) and isinstance(model[0:1], nn.Sequential)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU"]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    with pytest.raises(IndexError, match="out of range"):
        model[5]


def test_assigning_a_plain_tensor_to_a_parameter_name_raises():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = fastnn.ones(2, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


# ------------------------------------------------------------------ layers
def test_linear_default_init_draws_from_pytorchs_interval():
    fastnn.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert p.min() >= -bound and p.max() <= bound and p.max() > 0.95 * bound and p.min() < -0.95 * bound
    assert np.std(layer.weight.numpy()) == pytest.approx(bound / math.sqrt(3), rel=0.02)  # std of U(-b, b)
    assert np.std(torch.nn.Linear(400, 300).weight.detach().numpy()) == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_embedding_padding_row_is_zero_and_never_updated(active_backend):
    emb = nn.Embedding(5, 3, padding_idx=1)
    assert np.all(emb.weight.numpy()[1] == 0)
    emb(fastnn.tensor([[1, 2], [1, 1]])).sum().backward()
    assert np.all(emb.weight.grad.numpy()[1] == 0) and np.all(emb.weight.grad.numpy()[2] == 1)


def test_embedding_from_pretrained_freezes_by_default(active_backend):
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    frozen = nn.Embedding.from_pretrained(fastnn.tensor(table))
    assert not frozen.weight.requires_grad and np.array_equal(frozen(fastnn.tensor([2])).numpy(), table[[2]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_embedding_bag_module_matches_pytorch(mode, active_backend):
    theirs = torch.nn.EmbeddingBag(6, 3, mode=mode, padding_idx=0)
    ours = nn.EmbeddingBag(6, 3, mode=mode, padding_idx=0)
    _copy_torch_weights(ours, theirs)
    ids, offsets = np.array([1, 0, 3, 5, 5, 2]), np.array([0, 2, 2, 5])
    out = ours(fastnn.tensor(ids), fastnn.tensor(offsets))
    expected = theirs(torch.from_numpy(ids), torch.from_numpy(offsets))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6)


def test_dropout_module_is_seeded_and_identity_in_eval(active_backend):
    layer = nn.Dropout(0.5)
    x = fastnn.ones(10, 10)
    fastnn.manual_seed(4)
    a = layer(x).numpy()
    fastnn.manual_seed(4)
    assert np.array_equal(a, layer(x).numpy()) and set(np.unique(a)) == {0.0, 2.0}
    assert layer.eval()(x) is x


def test_residual_adds_its_input():
    inner = nn.Linear(3, 3)
    block = nn.Residual(inner)
    x = fastnn.randn(2, 3)
    np.testing.assert_allclose(block(x).numpy(), x.numpy() + inner(x).numpy(), rtol=1e-6)
    assert [n for n, _ in block.named_parameters()] == ["module.weight", "module.bias"]


@pytest.mark.parametrize(("ours", "theirs"), [
    (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")),
    (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()),
    (nn.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1)),
    (nn.NLLLoss(reduction="none"), torch.nn.NLLLoss(reduction="none")),
    (nn.BCELoss(), torch.nn.BCELoss()),
])
def test_loss_modules_match_pytorch(ours, theirs, active_backend):
    rng = np.random.default_rng(6)
    x = rng.uniform(0.1, 0.9, (4, 3))
    if isinstance(theirs, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)):
        target = rng.integers(0, 3, 4)
    else:
        target = rng.uniform(0, 1, (4, 3))
    np.testing.assert_allclose(ours(fastnn.tensor(x), fastnn.tensor(target)).numpy(),
                               theirs(torch.from_numpy(x), torch.from_numpy(target)).numpy(), rtol=1e-10)


# ------------------------------------------------------------------ init
@pytest.mark.parametrize(("name", "param"), [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                                            ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_pytorch(name, param):
    assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize(("initialise", "expected_std"), [
    (lambda t: nn.init.xavier_uniform_(t, gain=2.0), 2.0 * math.sqrt(2.0 / (200 + 100))),
    (lambda t: nn.init.xavier_normal_(t), math.sqrt(2.0 / (200 + 100))),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2.0) / math.sqrt(100)),
    (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2.0) / math.sqrt(200)),
    (lambda t: nn.init.normal_(t, 1.0, 0.5), 0.5),
    (lambda t: nn.init.uniform_(t, -1.0, 1.0), 1 / math.sqrt(3)),
])
def test_init_functions_draw_with_the_documented_spread(initialise, expected_std):
    weight = fastnn.zeros(200, 100)
    assert initialise(weight) is weight
    assert np.std(weight.numpy()) == pytest.approx(expected_std, rel=0.03)


def test_constant_initialisers():
    t = fastnn.empty(3, 2)
    assert np.all(nn.init.zeros_(t).numpy() == 0) and np.all(nn.init.ones_(t).numpy() == 1)
    assert np.all(nn.init.constant_(t, 0.25).numpy() == 0.25)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(fastnn.zeros(3))


def test_deepcopy_and_pickle_give_independent_working_models():
    import copy
    import pickle

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = fastnn.randn(2, 3)
    expected = model(x).numpy().copy()
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(clone(x).numpy(), expected)
        clone[0].weight.data[...] = 0
        assert not np.array_equal(clone(x).numpy(), expected)
        np.testing.assert_array_equal(model(x).numpy(), expected)


def test_parameter_list_follows_structure_changes_anywhere_in_the_tree():
    inner = nn.Linear(2, 2)
    model = nn.Sequential(nn.Sequential(inner))
    assert len(list(model.parameters())) == 2
    inner.extra = nn.Parameter(fastnn.ones(1))
    assert len(list(model.parameters())) == 3
    inner.bias = None
    del inner.extra
    assert [p.shape for p in model.parameters()] == [(2, 2)]
    model.append(nn.Linear(2, 1))
    assert len(list(model.parameters())) == 3
    model.zero_grad()


def test_apply_ordered_dict_sequential_and_cpu_device():
    from collections import OrderedDict

    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 3)), ("act", nn.ReLU()), ("out", nn.Linear(3, 1))]))
    assert [n for n, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Linear", "Sequential"]
    model.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert all(np.all(m.weight.numpy() == 0) for m in model if isinstance(m, nn.Linear))
    assert model.to("cpu") is model and model.to("cpu", fastnn.float64).out.weight.dtype == np.float64


def test_a_subclassed_activation_is_not_fused_away(active_backend):
    class ShiftedReLU(nn.ReLU):
        def forward(self, x):
            return super().forward(x) + 1.0

    model = nn.Sequential(nn.Linear(3, 2), ShiftedReLU())
    x = fastnn.randn(4, 3)
    np.testing.assert_allclose(model(x).numpy(), np.maximum(model[0](x).numpy(), 0) + 1.0, rtol=1e-6)
