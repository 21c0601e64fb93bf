"""PyTorch habits on tensors: printing (repr with torch's precision rules, Size, dtypes), f-string
formatting, grad_fn, legacy constructors and Variable, device boilerplate, Tensor.type."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for printing and legacy names")

RNG = np.random.default_rng(5)
ARRAYS = [
    np.array(3.14159265), np.array(-2.0), np.array([1.0, 2.0, 3.0]), np.array([0.1, 25.5, -3.25]),
    RNG.standard_normal((3, 4)), RNG.standard_normal((2, 3, 4)) * 1e5, np.array([1e-6, 1.0, 2.0]),
    np.array([1e9, 1.0]), np.array([np.nan, np.inf, -np.inf, 1.5]), np.array([np.nan, 1.0, 2.0]),
    np.array([0.0, 0.0]), RNG.standard_normal(2000), RNG.standard_normal((40, 40)), RNG.standard_normal((12, 9, 5)),
    np.arange(12).reshape(3, 4), np.array([True, False]), np.array([-5, 123456, 7]), np.zeros((0, 3)), np.zeros(0),
    np.zeros((2, 0, 3)), RNG.standard_normal(30) * 100, np.array([[1e-10, 1e10]]), np.array([1.0, 1e-3]),
]


@pytest.mark.parametrize("index", range(len(ARRAYS)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, None])
def test_repr_matches_torch(index, dtype):
    array = ARRAYS[index] if dtype is None or ARRAYS[index].dtype.kind != "f" else ARRAYS[index].astype(dtype)
    assert repr(fastnn.tensor(array)) == repr(torch.tensor(array)).replace("torch.", "fastnn.")
    assert str(fastnn.tensor(array)) == str(torch.tensor(array)).replace("torch.", "fastnn.")


def test_repr_shows_grad_fn_and_requires_grad_as_torch():
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    ours_x, theirs_x = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    pairs = [
        (ours_x, theirs_x),
        (fastnn.nn.functional.linear(ours_x, fastnn.tensor(w), fastnn.tensor(b)),
         torch.nn.functional.linear(theirs_x, torch.tensor(w), torch.tensor(b))),
        ((ours_x * 2).sum(), (theirs_x * 2).sum()),
        (ours_x.exp().mean(1), theirs_x.exp().mean(1)),
        (ours_x.relu(), theirs_x.relu()),
        (ours_x.sigmoid().t(), theirs_x.sigmoid().t()),
        (ours_x - 1, theirs_x - 1),
        (ours_x.double(), theirs_x.double()),
        (fastnn.maximum(ours_x, fastnn.zeros(1)), torch.maximum(theirs_x, torch.zeros(1))),
        (ours_x.masked_fill(fastnn.tensor(x > 0), 0.0), theirs_x.masked_fill(torch.tensor(x > 0), 0.0)),
        (ours_x.transpose(0, 1), theirs_x.transpose(0, 1)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs).replace("torch.", "fastnn."), ours.grad_fn
    with fastnn.no_grad():
        assert "grad_fn" not in repr(ours_x * 2)


def test_grad_fn_next_functions_reach_accumulate_grad_of_the_leaves():
    x = fastnn.ones(2, requires_grad=True)
    y = (x * 3 + fastnn.ones(2)).sum()
    assert y.grad_fn.name() == "SumBackward0"
    (add, _), = y.grad_fn.next_functions
    assert add.name() == "AddBackward0"
    (mul, _), (constant, _) = add.next_functions
    assert mul.name() == "MulBackward0" and constant is None
    (leaf, _), = mul.next_functions
    assert leaf.variable is x and leaf.name() == "torch::autograd::AccumulateGrad"
    assert x.grad_fn is None and fastnn.ones(1).grad_fn is None


def test_format_a_0d_tensor_like_a_number_and_refuse_a_spec_for_others():
    loss = fastnn.tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235" and f"{loss:+.2f}" == "+0.12" and f"{fastnn.tensor(7):>3}" == "  7"
    assert f"{fastnn.ones(2)}" == str(fastnn.ones(2))
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{fastnn.ones(2):.2f}"


def test_size_and_dtype_print_as_torch_and_behave_as_tuple_and_numpy_dtype():
    t = fastnn.zeros(64, 784)
    assert repr(t.shape) == str(t.shape) == "fastnn.Size([64, 784])" and t.size() == (64, 784)
    assert isinstance(t.shape, tuple) and t.shape == torch.zeros(64, 784).shape and t.shape.numel() == 64 * 784
    assert f"{t.shape}" == "(64, 784)"  # inside error messages the shape reads as a tuple
    assert str(t.dtype) == repr(t.dtype) == "fastnn.float32" and str(fastnn.float64) == "fastnn.float64"
    assert t.dtype == np.float32 and t.dtype == fastnn.float and t.dtype != fastnn.float64 and t.dtype != None  # noqa: E711
    assert np.zeros(2, dtype=fastnn.float64).dtype == np.float64 and fastnn.int64.itemsize == 8
    assert fastnn.float32.is_floating_point and not fastnn.long.is_floating_point
    assert {np.dtype(np.float32): "ok"}[t.dtype] == "ok"
    assert str(fastnn.bool) == str(torch.bool).replace("torch", "fastnn")


def test_legacy_constructors_and_variable_as_torch():
    for ours, theirs in [(fastnn.Tensor([1, 2]), torch.Tensor([1, 2])), (fastnn.Tensor(2, 3), torch.Tensor(2, 3)),
                         (fastnn.LongTensor([1, 2]), torch.LongTensor([1, 2])),
                         (fastnn.FloatTensor([[1, 2]]), torch.FloatTensor([[1, 2]])),
                         (fastnn.DoubleTensor([0.5]), torch.DoubleTensor([0.5])),
                         (fastnn.Tensor([True, False]), torch.Tensor([True, False]))]:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch", "fastnn") and ours.shape == theirs.shape
        if ours.numel() and theirs.dtype != torch.float32 or ours.tolist() == theirs.tolist():
            assert ours.tolist() == theirs.tolist() or theirs.shape == (2, 3)
    assert isinstance(fastnn.ones(1), fastnn.FloatTensor) and not isinstance(fastnn.ones(1), fastnn.LongTensor)
    x = fastnn.ones(2)
    v = fastnn.autograd.Variable(x, requires_grad=True)
    assert v is x and x.requires_grad and isinstance(x, fastnn.autograd.Variable)
    assert fastnn.Tensor(np.zeros(2)).dtype == fastnn.float64  # a documented difference: torch casts to float32


def test_tensor_type_as_torch():
    t = fastnn.ones(2)
    assert t.type() == "fastnn.FloatTensor" and t.double().type() == "fastnn.DoubleTensor"
    assert t.type(fastnn.float64).dtype == fastnn.float64 and t.type("torch.LongTensor").dtype == fastnn.int64
    assert fastnn.tensor([1]).type() == torch.tensor([1]).type().replace("torch", "fastnn")


def test_device_boilerplate_runs_and_a_cuda_device_is_a_clear_error():
    device = fastnn.device("cuda" if fastnn.cuda.is_available() else "cpu")
    assert repr(device) == repr(torch.device("cpu")) and str(device) == "cpu" and device.type == "cpu"
    assert fastnn.ones(2).to(device).device == device and fastnn.ones(2).device == "cpu"
    assert fastnn.cuda.device_count() == 0 and not fastnn.accelerator.is_available()
    assert fastnn.accelerator.current_accelerator() is None
    fastnn.set_default_device("cpu")
    assert fastnn.get_default_device() == fastnn.device("cpu")
    model = fastnn.nn.Linear(2, 2).to(device)
    assert model(fastnn.ones(1, 2).to(device)).shape == (1, 2)
    for bad in (lambda: fastnn.device("cuda"), lambda: fastnn.device("cuda:0"), lambda: fastnn.ones(2).cuda(),
                lambda: fastnn.ones(2).to("cuda"), lambda: fastnn.set_default_device("cuda"),
                lambda: fastnn.cuda.current_device()):
        with pytest.raises(RuntimeError, match="fastnn is a CPU engine"):
            bad()


def test_save_and_load_a_nested_checkpoint(tmp_path):
    model = fastnn.nn.Sequential(fastnn.nn.Linear(3, 4), fastnn.nn.ReLU(), fastnn.nn.Linear(4, 2))
    optimizer = fastnn.optim.Adam(model.parameters(), lr=0.01)
    fastnn.nn.functional.cross_entropy(model(fastnn.randn(5, 3)), fastnn.tensor([0, 1, 0, 1, 1])).backward()
    optimizer.step()
    path = tmp_path / "checkpoint.fastnn"
    fastnn.save({"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict(), "loss": 0.25}, path)
    state = fastnn.load(path)
    assert state["epoch"] == 3 and state["loss"] == 0.25
    restored = fastnn.nn.Sequential(fastnn.nn.Linear(3, 4), fastnn.nn.ReLU(), fastnn.nn.Linear(4, 2))
    restored.load_state_dict(state["model"])
    again = fastnn.optim.Adam(restored.parameters(), lr=0.01)
    again.load_state_dict(state["optimizer"])
    x = fastnn.randn(2, 3)
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


FACTORY_CALLS = {
    "tensor": lambda **kw: fastnn.tensor([1.0, 2.0], **kw), "as_tensor": lambda **kw: fastnn.as_tensor([1], **kw),
    "zeros": lambda **kw: fastnn.zeros(2, 3, **kw), "ones": lambda **kw: fastnn.ones(2, **kw),
    "empty": lambda **kw: fastnn.empty(2, **kw), "full": lambda **kw: fastnn.full((2,), 1.5, **kw),
    "zeros_like": lambda **kw: fastnn.zeros_like(fastnn.ones(2), **kw),
    "ones_like": lambda **kw: fastnn.ones_like(fastnn.ones(2), **kw),
    "full_like": lambda **kw: fastnn.full_like(fastnn.ones(2), 3.0, **kw),
    "empty_like": lambda **kw: fastnn.empty_like(fastnn.ones(2), **kw),
    "randn_like": lambda **kw: fastnn.randn_like(fastnn.ones(2), **kw),
    "rand_like": lambda **kw: fastnn.rand_like(fastnn.ones(2), **kw),
    "randint_like": lambda **kw: fastnn.randint_like(fastnn.ones(2), 0, 5, **kw),
    "eye": lambda **kw: fastnn.eye(3, **kw), "linspace": lambda **kw: fastnn.linspace(0, 1, 5, **kw),
    "randint": lambda **kw: fastnn.randint(0, 5, (3,), **kw), "randperm": lambda **kw: fastnn.randperm(4, **kw),
    "randn": lambda **kw: fastnn.randn(2, **kw), "rand": lambda **kw: fastnn.rand(2, **kw),
    "arange": lambda **kw: fastnn.arange(4, **kw),
}


@pytest.mark.parametrize("name", sorted(FACTORY_CALLS))
def test_every_factory_takes_device_as_torch_does_and_refuses_cuda(name):
    import torch

    make = FACTORY_CALLS[name]
    for dev in ("cpu", fastnn.device("cpu"), None, torch.device("cpu")):
        assert make(device=dev).device == "cpu"
    with pytest.raises(RuntimeError, match="CPU engine"):
        make(device="cuda")
