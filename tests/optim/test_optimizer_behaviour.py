"""Closed-form single steps, validation messages, param groups, all-or-nothing steps, state and checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import optim
from fastnn.optim import functional as F
from fastnn.tensor import Tensor, from_numpy


def make_param(values, dtype=np.float64, grad=None) -> Tensor:
    p = Tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    if grad is not None:
        p.grad = from_numpy(np.array(grad, dtype=dtype))
    return p


P0 = np.array([0.5, -1.0, 2.0])
G0 = np.array([0.3, -0.2, 1.5])
G1 = np.array([-0.1, 0.4, 0.5])
for constant in (P0, G0, G1):
    constant.setflags(write=False)  # shared by every test: nothing may write into them


def one_step(cls, grads=(G0,), dtype=np.float64, **options) -> np.ndarray:
    p = make_param(P0, dtype)
    opt = cls([p], **options)
    for g in grads:
        p.grad = from_numpy(np.array(g, dtype=dtype))
        opt.step()
    return p.numpy()


# ------------------------------------------------------------------ closed-form single steps
@pytest.fixture(autouse=True)
def each_backend(backend):
    with fastnn.use_backend(backend.name):
        yield


def test_sgd_step_is_p_minus_lr_g(dtype):
    np.testing.assert_allclose(one_step(optim.SGD, dtype=dtype, lr=0.1), (P0 - 0.1 * G0).astype(dtype), rtol=1e-6)


def test_sgd_momentum_two_steps_closed_form():
    lr, m, d, wd = 0.1, 0.9, 0.2, 0.05
    got = one_step(optim.SGD, grads=(G0, G1), lr=lr, momentum=m, dampening=d, weight_decay=wd)
    g0 = G0 + wd * P0
    p1 = P0 - lr * g0  # the first buffer is the gradient itself, undampened
    buf = m * g0 + (1 - d) * (G1 + wd * p1)
    np.testing.assert_allclose(got, p1 - lr * buf, rtol=1e-12)


def test_sgd_nesterov_two_steps_closed_form():
    lr, m = 0.1, 0.9
    got = one_step(optim.SGD, grads=(G0, G1), lr=lr, momentum=m, nesterov=True)
    p1 = P0 - lr * (G0 + m * G0)
    buf = m * G0 + G1
    np.testing.assert_allclose(got, p1 - lr * (G1 + m * buf), rtol=1e-12)


def test_sgd_maximize_ascends():
    np.testing.assert_allclose(one_step(optim.SGD, lr=0.1, maximize=True), P0 + 0.1 * G0, rtol=1e-12)


def test_adam_first_step_moves_by_lr_times_sign(dtype):
    got = one_step(optim.Adam, dtype=dtype, lr=0.01, eps=1e-8)
    np.testing.assert_allclose(got, (P0 - 0.01 * G0 / (np.abs(G0) + 1e-8)).astype(dtype), rtol=1e-6)


def test_adam_two_steps_closed_form_with_l2_weight_decay():
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.95, 1e-6, 0.1
    got = one_step(optim.Adam, grads=(G0, G1), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    g0 = G0 + wd * P0
    m, v = (1 - b1) * g0, (1 - b2) * g0**2
    p1 = P0 - lr / (1 - b1) * m / (np.sqrt(v) / math.sqrt(1 - b2) + eps)
    g1 = G1 + wd * p1
    m, v = b1 * m + (1 - b1) * g1, b2 * v + (1 - b2) * g1**2
    p2 = p1 - lr / (1 - b1**2) * m / (np.sqrt(v) / math.sqrt(1 - b2**2) + eps)
    np.testing.assert_allclose(got, p2, rtol=1e-12)


def test_adamw_first_step_decays_then_steps():
    lr, wd = 0.01, 0.1
    got = one_step(optim.AdamW, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(got, P0 * (1 - lr * wd) - lr * G0 / (np.abs(G0) + 1e-8), rtol=1e-12)


def test_amsgrad_keeps_the_largest_second_moment():
    p = make_param(P0)
    opt = optim.Adam([p], lr=0.01, amsgrad=True)
    for g in (G0, G1):
        p.grad = from_numpy(g.copy())
        opt.step()
    state = opt.state[p]
    v1 = 0.001 * G0**2
    np.testing.assert_allclose(state["max_exp_avg_sq"], np.maximum(v1, 0.999 * v1 + 0.001 * G1**2), rtol=1e-12)


def test_adagrad_two_steps_closed_form_with_lr_decay():
    lr, decay, init, eps = 0.1, 0.5, 0.2, 1e-10
    got = one_step(optim.Adagrad, grads=(G0, G1), lr=lr, lr_decay=decay, initial_accumulator_value=init, eps=eps)
    s = init + G0**2
    p1 = P0 - lr * G0 / (np.sqrt(s) + eps)
    s = s + G1**2
    np.testing.assert_allclose(got, p1 - lr / (1 + decay) * G1 / (np.sqrt(s) + eps), rtol=1e-12)


def test_rmsprop_first_step_closed_form():
    lr, alpha, eps = 0.01, 0.9, 1e-8
    got = one_step(optim.RMSprop, lr=lr, alpha=alpha, eps=eps)
    np.testing.assert_allclose(got, P0 - lr * G0 / (np.sqrt((1 - alpha) * G0**2) + eps), rtol=1e-12)


def test_rmsprop_centered_momentum_first_step_closed_form():
    lr, alpha, eps, m = 0.01, 0.9, 1e-8, 0.5
    got = one_step(optim.RMSprop, lr=lr, alpha=alpha, eps=eps, momentum=m, centered=True)
    avg = np.sqrt((1 - alpha) * G0**2 - ((1 - alpha) * G0) ** 2) + eps
    np.testing.assert_allclose(got, P0 - lr * (G0 / avg), rtol=1e-12)


def test_adadelta_first_step_closed_form():
    lr, rho, eps = 1.0, 0.9, 1e-6
    got = one_step(optim.Adadelta, lr=lr, rho=rho, eps=eps)
    delta = math.sqrt(eps) / np.sqrt((1 - rho) * G0**2 + eps) * G0
    np.testing.assert_allclose(got, P0 - lr * delta, rtol=1e-12)


# ------------------------------------------------------------------------- state
@pytest.mark.parametrize("cls, options, keys", [
    (optim.SGD, {"momentum": 0.9}, {"momentum_buffer"}),
    (optim.Adagrad, {}, {"step", "sum"}),
    (optim.RMSprop, {}, {"step", "square_avg"}),
    (optim.RMSprop, {"momentum": 0.9, "centered": True}, {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    (optim.Adadelta, {}, {"step", "square_avg", "acc_delta"}),
    (optim.Adam, {}, {"step", "exp_avg", "exp_avg_sq"}),
    (optim.Adam, {"amsgrad": True}, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    (optim.AdamW, {}, {"step", "exp_avg", "exp_avg_sq"}),
])
def test_state_is_created_lazily_with_torch_key_names(cls, options, keys):
    p = make_param(P0)
    opt = cls([p], **options)
    assert p not in opt.state
    p.grad = from_numpy(G0.copy())
    opt.step()
    assert set(opt.state[p]) == keys
    if "step" in keys:
        assert opt.state[p]["step"] == 1


def test_parameters_without_grad_are_skipped():
    a, b = make_param(P0, grad=G0), make_param(P0)
    opt = optim.Adam([a, b], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), P0)
    assert b not in opt.state
    assert not np.array_equal(a.numpy(), P0)


def test_zero_grad_sets_to_none_by_default_or_zeros():
    p = make_param(P0, grad=G0)
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_closure_result_is_returned():
    p = make_param(P0, grad=G0)
    assert optim.SGD([p], lr=0.1).step(lambda: 3.5) == 3.5


# ------------------------------------------------------------------ all or nothing
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adadelta, optim.Adam, optim.AdamW])
def test_non_finite_gradient_in_second_param_changes_nothing(cls, bad):
    first, second = make_param(P0, grad=G0), make_param(P0, grad=[0.1, bad, 0.2])
    opt = cls([first, second], lr=0.1)
    with pytest.raises(ValueError, match=r"param 1 of group 0 \(3,\) has 1 non-finite"):
        opt.step()
    np.testing.assert_array_equal(first.numpy(), P0)
    assert len(opt.state) == 0 or all(not s for s in opt.state.values())


def test_bad_gradient_in_a_later_group_changes_nothing_in_earlier_groups():
    first, second = make_param(P0, grad=G0), make_param(P0, grad=[0.1, np.nan, 0.2])
    opt = optim.Adam([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    with pytest.raises(ValueError, match="param 0 of group 1"):
        opt.step()
    np.testing.assert_array_equal(first.numpy(), P0)


def test_misshaped_gradient_is_named_with_its_shape():
    first = make_param(P0, grad=G0)
    second = make_param(np.zeros((2, 3)))
    second.grad = from_numpy(np.zeros((3, 2)))
    opt = optim.SGD([first, second], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"param 1 of group 0 has shape \(3, 2\), expected .* \(2, 3\)"):
        opt.step()
    np.testing.assert_array_equal(first.numpy(), P0)
    assert first not in opt.state or not opt.state[first]


def test_gradient_of_another_dtype_is_refused():
    p = make_param(P0, np.float32)
    p.grad = from_numpy(G0.copy())
    with pytest.raises(TypeError, match="dtype float64, expected the parameter's dtype float32"):
        optim.SGD([p], lr=0.1).step()


# -------------------------------------------------------------------- validation
@pytest.mark.parametrize("build, message", [
    (lambda ps: optim.SGD(ps, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda ps: optim.SGD(ps, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: optim.SGD(ps, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (lambda ps: optim.SGD(ps, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda ps: optim.Adam(ps, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda ps: optim.Adam(ps, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1.0), "Invalid initial_accumulator_value value: -1.0"),
    (lambda ps: optim.Adagrad(ps, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.5), "Invalid alpha value: -0.5"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: optim.Adadelta(ps, rho=1.5), "Invalid rho value: 1.5"),
    (lambda ps: optim.Adadelta(ps, lr=-1.0), "Invalid learning rate: -1.0"),
])
def test_constructor_validation_messages_match_torch(build, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build([make_param(P0)])


def test_torch_defaults():
    p = make_param(P0)
    assert optim.SGD([p]).defaults["lr"] == 1e-3
    assert optim.Adagrad([p]).defaults["lr"] == 1e-2
    assert optim.RMSprop([p]).defaults["alpha"] == 0.99
    assert optim.Adadelta([p]).defaults["lr"] == 1.0
    assert optim.Adam([p]).defaults["betas"] == (0.9, 0.999)
    assert optim.AdamW([p]).defaults["weight_decay"] == 1e-2


def test_bad_params_arguments():
    p = make_param(P0)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])


# ------------------------------------------------------------------ param groups
def test_param_groups_hold_params_and_options_and_add_param_group_fills_defaults():
    a, b, c = make_param(P0), make_param(P0), make_param(P0)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"][0] is b
    opt.add_param_group({"params": c, "lr": 0.01})
    assert opt.param_groups[2]["params"] == [c] and opt.param_groups[2]["nesterov"] is False


def test_each_group_uses_its_own_learning_rate():
    a, b = make_param(P0, grad=G0), make_param(P0, grad=G0)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.param_groups[0]["lr"] = 0.2  # a scheduler's way of changing it
    opt.step()
    np.testing.assert_allclose(a.numpy(), P0 - 0.2 * G0)
    np.testing.assert_allclose(b.numpy(), P0 - 0.5 * G0)


# ---------------------------------------------------------------- state dicts
@pytest.mark.parametrize("cls, options", [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adagrad, {"lr_decay": 0.1}),
    (optim.RMSprop, {"momentum": 0.5, "centered": True}), (optim.Adadelta, {}), (optim.Adam, {"amsgrad": True}),
    (optim.AdamW, {"lr": 0.01}),
])
def test_state_dict_round_trip_continues_identically(cls, options, dtype):
    rng = np.random.default_rng(3)
    grads = [[rng.normal(size=s).astype(dtype) for s in [(3,), (2, 2)]] for _ in range(6)]

    def fresh():
        return [make_param(P0, dtype), make_param(np.eye(2), dtype)]

    def run(params, opt, steps):
        for gs in steps:
            for p, g in zip(params, gs):
                p.grad = from_numpy(g.copy())
            opt.step()

    straight = fresh()
    opt = cls([{"params": straight[:1]}, {"params": straight[1:], "lr": 0.05}], **options)
    run(straight, opt, grads)

    first = fresh()
    opt1 = cls([{"params": first[:1]}, {"params": first[1:], "lr": 0.05}], **options)
    run(first, opt1, grads[:3])
    saved = opt1.state_dict()
    saved_weights = [p.numpy().copy() for p in first]
    assert sorted(saved["state"]) == [0, 1]
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    run(first, opt1, grads[3:4])  # the live optimizer moves on; the saved dict must not
    resumed = [make_param(w, dtype) for w in saved_weights]
    opt2 = cls([{"params": resumed[:1]}, {"params": resumed[1:]}], lr=123.0)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.05 and opt2.param_groups[0]["params"][0] is resumed[0]
    run(resumed, opt2, grads[3:])
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_checks_before_changing_anything():
    p = make_param(P0, grad=G0)
    opt = optim.Adam([p], lr=0.1)
    opt.step()
    good = opt.state_dict()
    before = opt.state[p]["exp_avg"].copy()

    wrong_shape = {"state": {0: dict(good["state"][0], exp_avg=np.zeros(4))}, "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(4,\), expected .* \(3,\)"):
        opt.load_state_dict(wrong_shape)
    missing = {"state": {0: {"momentum_buffer": np.zeros(3)}}, "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match="lacks"):
        opt.load_state_dict(missing)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": good["param_groups"] * 2})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [dict(good["param_groups"][0], params=[0, 1])]})
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], before)
    assert opt.param_groups[0]["lr"] == 0.1


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    p = make_param(P0, np.float32, grad=G0)
    opt = optim.Adam([p])
    opt.load_state_dict({"state": {0: {"step": 2.0, "exp_avg": np.ones(3), "exp_avg_sq": np.ones(3)}},
                         "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
    assert opt.state[p]["exp_avg"].dtype == np.float32 and opt.state[p]["step"] == 2


def test_torch_state_dict_loads_and_continues_like_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is needed to read its state dict")
    tp = torch.nn.Parameter(torch.tensor(P0.copy()))
    topt = torch.optim.Adam([tp], lr=0.05)
    for g in (G0, G1):
        tp.grad = torch.tensor(g.copy())
        topt.step()
    p = make_param(tp.detach().numpy().copy())
    opt = optim.Adam([p], lr=0.05)
    opt.load_state_dict({"state": {0: {k: (v.numpy() if hasattr(v, "numpy") else v)
                                       for k, v in topt.state_dict()["state"][0].items()}},
                         "param_groups": topt.state_dict()["param_groups"]})
    tp.grad = torch.tensor(G0.copy())
    topt.step()
    p.grad = from_numpy(G0.copy())
    opt.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12)


# ---------------------------------------------------------------- functional form
def test_functional_sgd_creates_the_momentum_buffer_and_matches_the_class():
    param = P0.copy()
    buffers = [None]
    F.sgd([param], [G0.copy()], buffers, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(param, P0 - 0.1 * G0)
    np.testing.assert_allclose(buffers[0], G0)


def test_functional_adam_on_plain_arrays_checks_gradients():
    param, m, v = P0.copy(), np.zeros(3), np.zeros(3)
    F.adam([param], [G0.copy()], [m], [v], [None], [1], lr=0.01)
    np.testing.assert_allclose(param, P0 - 0.01 * G0 / (np.abs(G0) + 1e-8), rtol=1e-12)
    with pytest.raises(ValueError, match="adam: the gradient of param 0 .* non-finite"):
        F.adam([param], [np.array([np.nan, 0.0, 0.0])], [m], [v], [None], [2])


def test_closure_runs_with_grad_enabled_and_its_gradients_are_used():
    p = make_param(P0)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with fastnn.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(float((P0**2).sum()))
    np.testing.assert_allclose(p.numpy(), P0 - 0.1 * 2 * P0)


def test_non_leaf_tensor_is_refused():
    p = make_param(P0)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2], lr=0.1)


def test_state_that_no_longer_fits_its_parameter_is_reported_before_any_update():
    first, second = make_param(P0, grad=G0), make_param(P0, grad=G0)
    opt = optim.Adam([first, second], lr=0.1)
    opt.step()
    after_one_step = first.numpy().copy()
    second.data = second.numpy().astype(np.float32)  # e.g. a model converted after the optimizer was built
    second.grad = from_numpy(np.array(G0, dtype=np.float32))
    with pytest.raises(ValueError, match=r"state 'exp_avg' of param 1 of group 0 is \(3,\) float64 .* float32"):
        opt.step()
    np.testing.assert_array_equal(first.numpy(), after_one_step)
