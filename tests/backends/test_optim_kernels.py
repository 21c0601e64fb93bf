"""Optimizer kernels on every backend and dtype: one step against a closed form written from
PyTorch's documented update rules (computed in float64), and 20 steps against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import LARGE, assert_close, compare_update, layouts, seeds, shapes
from hypothesis import example, given

import fastnn
from fastnn.backends.contract import KERNELS
from fastnn.optim.updates import validated_update

SHAPE = (7, 5)
STEPS = 20

# Kernel options per case; the torch.optim constructor arguments follow from them (see torch_optimizer).
SGD_CASES = [
    {"lr": 0.1}, {"lr": 0.1, "weight_decay": 0.05}, {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.4, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
]
ADAGRAD_CASES = [
    {"lr": 0.1}, {"lr": 0.1, "lr_decay": 0.05}, {"lr": 0.05, "initial_accumulator_value": 0.3, "eps": 1e-6},
    {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
]
RMSPROP_CASES = [
    {"lr": 0.01}, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1}, {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True}, {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
]
ADADELTA_CASES = [{}, {"lr": 0.5, "rho": 0.95, "eps": 1e-4, "weight_decay": 0.1}]
ADAM_CASES = [
    {}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}, {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05},
]
ADAMW_CASES = [
    {"lr": 0.01, "weight_decay": 0.01}, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    {"lr": 0.05, "weight_decay": 0.0, "beta1": 0.5},
]
CASES = ([("sgd", c) for c in SGD_CASES] + [("adagrad", c) for c in ADAGRAD_CASES]
         + [("rmsprop", c) for c in RMSPROP_CASES] + [("adadelta", c) for c in ADADELTA_CASES]
         + [("adam", c) for c in ADAM_CASES] + [("adamw", c) for c in ADAMW_CASES])
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in case.items()) or 'defaults'}" for name, case in CASES]

STATE_NAMES = {
    "sgd": ("momentum_buffer",), "adagrad": ("state_sum",), "rmsprop": ("square_avg", "momentum_buffer", "grad_avg"),
    "adadelta": ("square_avg", "acc_delta"), "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamw": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
}
TORCH_STATE_NAMES = {"state_sum": "sum"}
SECOND_MOMENTS = ("state_sum", "square_avg", "acc_delta", "exp_avg_sq", "max_exp_avg_sq")  # positive


def used_state(name: str, case: dict) -> tuple[str, ...]:
    """The state arrays this configuration keeps (PyTorch creates the same ones lazily)."""
    wanted = {
        "momentum_buffer": case.get("momentum", 0) > 0, "grad_avg": case.get("centered", False),
        "max_exp_avg_sq": case.get("amsgrad", False),
    }
    return tuple(s for s in STATE_NAMES[name] if wanted.get(s, True))


def initial_state(name: str, case: dict, dtype, rng) -> dict[str, np.ndarray]:
    """A mid-training state: second moments positive and larger than the first moments squared."""
    state = {}
    for s in used_state(name, case):
        values = rng.standard_normal(SHAPE)
        positive = s in SECOND_MOMENTS
        state[s] = (values * values + 0.5 if positive else 0.1 * values).astype(dtype)
    return state


# ----------------------------------------------------------------- closed forms (float64, PyTorch docs)
def closed_form_step(name: str, case: dict, p, g, state: dict, step: int) -> dict[str, np.ndarray]:
    """One step of PyTorch's documented algorithm for `name`, from a given state, in float64."""
    p, g = p.astype(np.float64), g.astype(np.float64)
    s = {k: v.astype(np.float64) for k, v in state.items()}
    wd = case.get("weight_decay", 0.01 if name == "adamw" else 0.0)
    if name != "adamw":
        g = g + wd * p
    if name == "sgd":
        mu, tau, lr = case.get("momentum", 0.0), case.get("dampening", 0.0), case["lr"]
        if mu:
            s["momentum_buffer"] = g if step == 1 else mu * s["momentum_buffer"] + (1 - tau) * g
            g = g + mu * s["momentum_buffer"] if case.get("nesterov") else s["momentum_buffer"]
        p = p - lr * g
    elif name == "adagrad":
        clr = case["lr"] / (1 + (step - 1) * case.get("lr_decay", 0.0))
        s["state_sum"] = s["state_sum"] + g * g
        p = p - clr * g / (np.sqrt(s["state_sum"]) + case.get("eps", 1e-10))
    elif name == "rmsprop":
        alpha, eps, mu, lr = case.get("alpha", 0.99), case.get("eps", 1e-8), case.get("momentum", 0.0), case["lr"]
        s["square_avg"] = alpha * s["square_avg"] + (1 - alpha) * g * g
        v = s["square_avg"]
        if case.get("centered"):
            s["grad_avg"] = alpha * s["grad_avg"] + (1 - alpha) * g
            v = v - s["grad_avg"] ** 2
        if mu > 0:
            s["momentum_buffer"] = mu * s["momentum_buffer"] + g / (np.sqrt(v) + eps)
            p = p - lr * s["momentum_buffer"]
        else:
            p = p - lr * g / (np.sqrt(v) + eps)
    elif name == "adadelta":
        rho, eps, lr = case.get("rho", 0.9), case.get("eps", 1e-6), case.get("lr", 1.0)
        s["square_avg"] = rho * s["square_avg"] + (1 - rho) * g * g
        delta = np.sqrt(s["acc_delta"] + eps) / np.sqrt(s["square_avg"] + eps) * g
        s["acc_delta"] = rho * s["acc_delta"] + (1 - rho) * delta * delta
        p = p - lr * delta
    else:
        lr, b1, b2, eps = case.get("lr", 1e-3), case.get("beta1", 0.9), case.get("beta2", 0.999), case.get("eps", 1e-8)
        if name == "adamw":
            p = p * (1 - lr * wd)
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        v = s["exp_avg_sq"]
        if case.get("amsgrad"):
            s["max_exp_avg_sq"] = np.maximum(s["max_exp_avg_sq"], s["exp_avg_sq"])
            v = s["max_exp_avg_sq"]
        m_hat, v_hat = s["exp_avg"] / (1 - b1**step), v / (1 - b2**step)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return {"param": p, **s}


# ----------------------------------------------------------------- kernel driver
def kernel_step(backend, name: str, case: dict, param, grad, state: dict, step: int) -> None:
    """Apply one update of `name` through the backend's kernel, the way an optimizer class would."""
    if name == "sgd":
        options = {k: case[k] for k in ("momentum", "dampening", "weight_decay", "nesterov") if k in case}
        backend.sgd_update(param, grad, state.get("momentum_buffer"), lr=case["lr"], first_step=step == 1, **options)
    elif name == "adagrad":
        clr = case["lr"] / (1 + (step - 1) * case.get("lr_decay", 0.0))
        options = {k: case[k] for k in ("weight_decay", "eps") if k in case}
        backend.adagrad_update(param, grad, state["state_sum"], clr=clr, **options)
    elif name == "rmsprop":
        backend.rmsprop_update(param, grad, state["square_avg"], state.get("momentum_buffer"), state.get("grad_avg"),
                               **case)
    elif name == "adadelta":
        backend.adadelta_update(param, grad, state["square_avg"], state["acc_delta"], **case)
    else:
        options = dict(case)
        if name == "adamw":
            options.setdefault("weight_decay", 0.01)  # AdamW's default, unlike Adam's 0
        backend.adam_update(param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                            step=step, decoupled_weight_decay=name == "adamw", **options)


@pytest.mark.parametrize("step", [1, 4])
@pytest.mark.parametrize("name,case", CASES, ids=CASE_IDS)
def test_one_step_matches_the_closed_form(backend, dtype, name, case, step):
    rng = np.random.default_rng(step)
    param, grad = rng.standard_normal(SHAPE).astype(dtype), rng.standard_normal(SHAPE).astype(dtype)
    state = initial_state(name, case, dtype, rng)
    expected = closed_form_step(name, case, param, grad, state, step)
    actual = {"param": param.copy(), **{k: v.copy() for k, v in state.items()}}
    kernel_step(backend, name, case, actual["param"], grad, {k: actual[k] for k in state}, step)
    for key, value in expected.items():
        assert_close(actual[key], value.astype(dtype), dtype, what=f"{backend.name} {name} {key}")


# ----------------------------------------------------------------- against torch.optim
def torch_optimizer(torch, name: str, case: dict, params):
    options = dict(case)
    if "beta1" in options or "beta2" in options:
        options["betas"] = (options.pop("beta1", 0.9), options.pop("beta2", 0.999))
    classes = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
               "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    return classes[name](params, foreach=False, **options)


def kernel_trajectory(backend, name, case, param0, grads):
    """Run the kernels for every step, creating state as PyTorch does (zeros, or Adagrad's
    initial_accumulator_value)."""
    param = param0.copy()
    state = {s: np.zeros_like(param) for s in used_state(name, case)}
    if name == "adagrad":
        state["state_sum"][...] = case.get("initial_accumulator_value", 0.0)
    case = {k: v for k, v in case.items() if k != "initial_accumulator_value"}
    for step, grad in enumerate(grads, start=1):
        kernel_step(backend, name, case, param, grad, state, step)
    return param, state


@pytest.mark.parametrize("name,case", CASES, ids=CASE_IDS)
def test_twenty_steps_match_torch_optim(backend, dtype, name, case):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no torch.optim trajectory to compare")
    rng = np.random.default_rng(7)
    param0 = rng.standard_normal(SHAPE).astype(dtype)
    grads = [(rng.standard_normal(SHAPE) * (1 + 0.1 * i)).astype(dtype) for i in range(STEPS)]
    tensor = torch.from_numpy(param0.copy()).requires_grad_(True)
    optimizer = torch_optimizer(torch, name, case, [tensor])
    for grad in grads:
        tensor.grad = torch.from_numpy(grad.copy())
        optimizer.step()
    param, state = kernel_trajectory(backend, name, case, param0, grads)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_close(param, tensor.detach().numpy(), dtype, rtol=rtol, what=f"{backend.name} {name} param")
    torch_state = optimizer.state[tensor]
    for key, value in state.items():
        expected = torch_state[TORCH_STATE_NAMES.get(key, key)].numpy()
        assert_close(value, expected, dtype, rtol=rtol, what=f"{backend.name} {name} {key}")


# ----------------------------------------------------------------- float32 accuracy against PyTorch's own
TRAJECTORY_SHAPE, TRAJECTORY_STEPS = (64, 64), 25


def torch_trajectory(torch, name, case, param0, grads, dtype):
    tensor = torch.from_numpy(param0.astype(dtype)).requires_grad_(True)
    optimizer = torch_optimizer(torch, name, case, [tensor])
    for grad in grads:
        tensor.grad = torch.from_numpy(grad.astype(dtype))
        optimizer.step()
    return tensor.detach().numpy().astype(np.float64)


@pytest.mark.parametrize("name,case", CASES, ids=CASE_IDS)
def test_float32_trajectory_error_is_within_twice_pytorchs(backend, reference, name, case):
    """25 float32 steps drift from the exact (float64) trajectory at most ~2x as far as PyTorch's own
    float32 run drifts from PyTorch's float64 run (the gradients are the same float32 values in all
    four runs). Catches an operation order that loses precision, e.g. a cancelling centered variance."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no float32 error to compare with")
    rng = np.random.default_rng(11)
    param0 = rng.standard_normal(TRAJECTORY_SHAPE).astype(np.float32).astype(np.float64)
    grads = [(rng.standard_normal(TRAJECTORY_SHAPE) * (1 + 0.1 * i)).astype(np.float32).astype(np.float64)
             for i in range(TRAJECTORY_STEPS)]
    exact, _ = kernel_trajectory(reference, name, case, param0, grads)
    ours, _ = kernel_trajectory(backend, name, case, param0.astype(np.float32), [g.astype(np.float32) for g in grads])
    torch_exact = torch_trajectory(torch, name, case, param0, grads, np.float64)
    torch_ours = torch_trajectory(torch, name, case, param0, grads, np.float32)
    np.testing.assert_allclose(exact, torch_exact, rtol=1e-9, atol=1e-12)  # both references agree
    floor = 4 * np.finfo(np.float32).eps * np.abs(exact).max()  # a few roundings of the result itself
    our_error = np.abs(ours.astype(np.float64) - exact).max()
    torch_error = np.abs(torch_ours - torch_exact).max()
    assert our_error <= 2 * torch_error + floor, \
        f"{backend.name} {name}: float32 error {our_error:.3g}, PyTorch's {torch_error:.3g} (floor {floor:.3g})"


# ----------------------------------------------------------------- every backend against the reference
@pytest.mark.parametrize("options", [
    {"lr": 0.1}, {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9, "first_step": True},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.02},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "first_step": True},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True}, {"lr": 0.05, "momentum": 0.8, "nesterov": True,
                                                       "weight_decay": 0.1, "first_step": True},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_sgd_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"momentum_buffer": "any"} if options.get("momentum") else {}
    compare_update(backend, reference, dtype, "sgd_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("options", [
    {"clr": 0.1}, {"clr": 0.05, "weight_decay": 0.1, "eps": 1e-6}, {"clr": 0.01, "eps": 0.0},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_adagrad_update(backend, reference, dtype, options, shape, seed, layout):
    compare_update(backend, reference, dtype, "adagrad_update", shape, seed, layout, {"state_sum": "positive"},
                   options)


@pytest.mark.parametrize("options", [
    {"lr": 0.01}, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1},
    {"lr": 0.01, "momentum": 0.9}, {"lr": 0.01, "centered": True},
    {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_rmsprop_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"square_avg": "positive"}
    if options.get("momentum"):
        kinds["momentum_buffer"] = "any"
    if options.get("centered"):
        kinds["grad_avg"] = "any"
    compare_update(backend, reference, dtype, "rmsprop_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("options", [
    {}, {"lr": 0.5, "rho": 0.95, "eps": 1e-4, "weight_decay": 0.1},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_adadelta_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"square_avg": "positive", "acc_delta": "positive"}
    compare_update(backend, reference, dtype, "adadelta_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("options", [
    {"step": 1}, {"step": 7, "lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
    {"step": 3, "weight_decay": 0.1}, {"step": 3, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"step": 1, "amsgrad": True}, {"step": 12, "amsgrad": True, "weight_decay": 0.05},
    {"step": 5, "amsgrad": True, "weight_decay": 0.05, "decoupled_weight_decay": True, "lr": 0.1},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_adam_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"exp_avg": "any", "exp_avg_sq": "positive"}
    if options.get("amsgrad"):
        kinds["max_exp_avg_sq"] = "positive"
    compare_update(backend, reference, dtype, "adam_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("kernel,state_kinds,options", [
    ("sgd_update", {"momentum_buffer": "any"}, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd_update", {"momentum_buffer": "any"}, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "first_step": True}),
    ("adagrad_update", {"state_sum": "positive"}, {"clr": 0.05, "weight_decay": 0.1}),
    ("rmsprop_update", {"square_avg": "positive", "momentum_buffer": "any", "grad_avg": "any"},
     {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.05}),
    ("adadelta_update", {"square_avg": "positive", "acc_delta": "positive"}, {"weight_decay": 0.1}),
    ("adam_update", {"exp_avg": "any", "exp_avg_sq": "positive", "max_exp_avg_sq": "positive"},
     {"step": 5, "amsgrad": True, "weight_decay": 0.05}),
    ("adam_update", {"exp_avg": "any", "exp_avg_sq": "positive"},
     {"step": 3, "weight_decay": 0.05, "decoupled_weight_decay": True}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_large_optimizer_updates(backend, reference, dtype, kernel, state_kinds, options):
    compare_update(backend, reference, dtype, kernel, list(LARGE), 1, "transposed", state_kinds, options)


# ------------------------------------------------------ validated_update (the optimizers' kernel call)
VALIDATED_CASES = [  # kernel, state arrays, the options in the contract's order
    ("sgd_update", ("momentum_buffer",), (0.05, 0.9, 0.1, 0.01, False, False)),
    ("sgd_update", (None,), (0.1, 0.0, 0.0, 0.05, False, False)),
    ("adagrad_update", ("state_sum",), (0.05, 0.1, 1e-10)),
    ("rmsprop_update", ("square_avg", "momentum_buffer", "grad_avg"), (0.01, 0.99, 1e-8, 0.05, 0.5, True)),
    ("adadelta_update", ("square_avg", "acc_delta"), (1.0, 0.9, 1e-6, 0.1)),
    ("adam_update", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), (5, 1e-3, 0.9, 0.999, 1e-8, 0.05, True, False)),
    ("adam_update", ("exp_avg", "exp_avg_sq", None), (3, 1e-2, 0.8, 0.99, 1e-6, 0.05, False, True)),
]


@pytest.mark.parametrize("kernel,states,options", VALIDATED_CASES, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("layout", ["contiguous", "strided grad"])
def test_validated_update_equals_the_checked_kernel(backend, dtype, kernel, states, options, layout):
    """The optimizers' entry (options already checked, arrays checked here) computes what the checked
    kernel computes: unchecked on ready arrays, through the checked kernel (which copies a strided
    gradient) otherwise."""
    rng = np.random.default_rng(3)

    def arrays():
        param, grad = rng.standard_normal(SHAPE).astype(dtype), rng.standard_normal((SHAPE[0], 2 * SHAPE[1]))
        made = [None if s is None else (rng.standard_normal(SHAPE) ** 2 + 0.5 if s in SECOND_MOMENTS
                                        else 0.1 * rng.standard_normal(SHAPE)).astype(dtype) for s in states]
        grad = grad.astype(dtype)[:, ::2] if layout == "strided grad" else np.ascontiguousarray(grad[:, :SHAPE[1]],
                                                                                                 dtype)
        return param, grad, made

    param, grad, made = arrays()
    copies = [param.copy(), grad.copy(), [None if a is None else a.copy() for a in made]]
    with fastnn.use_backend(backend.name):
        validated_update(kernel, param, grad, *made, *options)
    names = KERNELS[kernel].args[2 + len(states):]
    getattr(backend, kernel)(copies[0], copies[1], *copies[2], **dict(zip(names, options)))
    np.testing.assert_array_equal(param, copies[0])
    for got, expected in zip(made, copies[2]):
        if got is not None:
            np.testing.assert_array_equal(got, expected)


REFUSED_UPDATES = [  # kernel, state arrays (P: the parameter itself, None), options, the checked kernel's error
    ("sgd_update", ("P",), (0.1, 0.9, 0.0, 0.0, False, False), "param and momentum_buffer share memory"),
    ("sgd_update", (None,), (0.1, 0.9, 0.0, 0.0, False, False), "momentum_buffer is required when momentum"),
    ("rmsprop_update", ("s", None, None), (0.01, 0.99, 1e-8, 0.0, 0.5, False), "momentum_buffer is required"),
    ("rmsprop_update", ("s", None, None), (0.01, 0.99, 1e-8, 0.0, 0.0, True), "grad_avg is required when centered"),
    ("adagrad_update", (None,), (0.1, 0.0, 1e-10), "state_sum is required"),
    ("adadelta_update", ("s", None), (1.0, 0.9, 1e-6, 0.0), "acc_delta is required"),
    ("adam_update", ("s", "s", None), (1, 1e-3, 0.9, 0.999, 1e-8, 0.0, True, False), "max_exp_avg_sq is required"),
    ("adam_update", (None, "s", None), (1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False), "exp_avg is required"),
]


@pytest.mark.parametrize("kernel,states,options,message", REFUSED_UPDATES,
                         ids=[f"{c[0]}-{c[3].split()[0]}" for c in REFUSED_UPDATES])
def test_validated_update_refuses_what_the_checked_kernel_refuses(backend, kernel, states, options, message):
    """A state array that overlaps another argument, or is None where the kernel reads it, is refused
    with the checked kernel's error before anything is written (the unchecked kernel never sees it)."""
    param = np.ones(SHAPE, np.float32)
    made = [param if s == "P" else None if s is None else np.ones(SHAPE, np.float32) for s in states]
    before = [a.copy() for a in [param, *made] if a is not None]
    with fastnn.use_backend(backend.name), pytest.raises(ValueError, match=f"^{kernel}: {message}"):
        validated_update(kernel, param, np.ones(SHAPE, np.float32), *made, *options)
    for a, b in zip([a for a in [param, *made] if a is not None], before):
        np.testing.assert_array_equal(a, b)
