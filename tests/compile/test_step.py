"""The compiled step's behaviour: state shared with eager code, schedulers and group edits,
train/eval, batch sizes, clipping, fallbacks, bad input (all-or-nothing), torch parity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim
from fastnn.optim.lr_scheduler import StepLR

from .helpers import OPTIMIZERS, assert_same, build, data, eager_step, snapshot


def _pair(layers="tanh+dropout", loss="ce", dtype=np.float32, make_opt=lambda p: optim.Adam(p, lr=0.01)):
    """Two identical (model, loss, optimizer) triples: one for the eager path, one compiled."""
    out = []
    for _ in range(2):
        model, loss_fn, target = build(layers, loss, dtype)
        out.append((model, loss_fn, make_opt(model.parameters()), target))
    return out


def _small_sgd(compiled: bool, activation=nn.ReLU):
    """(model 6-5-3, SGD lr 0.1, CrossEntropyLoss, its compiled step or None), fastnn seeded."""
    fn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), activation(), nn.Linear(5, 3))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, loss_fn, (fn.compile_step(model, loss_fn, opt) if compiled else None)


def test_parameters_and_state_are_views_of_flat_buffers_and_state_dict_sees_them():
    (model, loss_fn, opt, target), _ = _pair()
    step = fn.compile_step(model, loss_fn, opt)
    x, y = data(target, np.float32)
    loss = step(x, y)
    assert loss.shape == () and loss.dtype == np.float32
    flat = step._P
    for p in model.parameters():
        assert np.shares_memory(p.numpy(), flat)
        assert np.shares_memory(p.grad.numpy(), step._G)
        for key in ("exp_avg", "exp_avg_sq"):
            assert np.shares_memory(opt.state[p][key], step._state.S[0] if key == "exp_avg" else step._state.S[1])
        assert opt.state[p]["step"] == 1
    saved = model.state_dict()
    before = {k: v.numpy().copy() for k, v in saved.items()}
    step(x, y)
    assert any(not np.array_equal(before[k], v.numpy()) for k, v in saved.items())  # views, not copies


@pytest.mark.parametrize("order", ["ecec", "ccee", "ceec"])
def test_mixing_eager_and_compiled_steps_equals_eager_alone(order):
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair(make_opt=lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    step = fn.compile_step(m2, l2, o2)
    for i, kind in enumerate(order * 3):
        x, y = data(target, np.float32, seed=i)
        fn.manual_seed(i)
        eager_step(m1, l1, o1, x, y)
        fn.manual_seed(i)
        if kind == "c":
            step(x, y)
        else:
            eager_step(m2, l2, o2, x, y)
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32)


def test_checkpoint_after_compiled_steps_resumes_identically(tmp_path):
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair()
    step = fn.compile_step(m1, l1, o1)
    for i in range(5):
        step(*data(target, np.float32, seed=i))
    fn.save({"model": m1.state_dict(), "optim": o1.state_dict()}, tmp_path / "ck.npz")
    state = fn.load(tmp_path / "ck.npz")
    m2.load_state_dict(state["model"])
    o2.load_state_dict(state["optim"])
    resumed = fn.compile_step(m2, l2, o2)
    for i in range(5, 10):
        fn.manual_seed(i)
        step(*data(target, np.float32, seed=i))
        fn.manual_seed(i)
        resumed(*data(target, np.float32, seed=i))
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32, rtol=0)


def test_load_state_dict_into_a_compiled_model_and_optimizer_is_adopted():
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair()
    s1, s2 = fn.compile_step(m1, l1, o1), fn.compile_step(m2, l2, o2)
    for i in range(3):
        s1(*data(target, np.float32, seed=i))
    m2.load_state_dict(m1.state_dict())
    o2.load_state_dict(o1.state_dict())  # new state arrays: the next call copies them into its buffers
    for i in range(3, 6):
        fn.manual_seed(i)
        s1(*data(target, np.float32, seed=i))
        fn.manual_seed(i)
        s2(*data(target, np.float32, seed=i))
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32, rtol=0)
    p = next(iter(m2.parameters()))
    assert np.shares_memory(o2.state[p]["exp_avg"], s2._state.S[0])


def test_scheduler_and_param_group_edits_apply_at_every_call():
    def run(compiled):
        fn.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
        params = list(model.parameters())
        opt = optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], lr=0.1, momentum=0.5)
        sched = StepLR(opt, step_size=2, gamma=0.5)
        loss_fn = nn.CrossEntropyLoss()
        step = fn.compile_step(model, loss_fn, opt) if compiled else None
        for i in range(8):
            x, y = data("labels", np.float32, seed=i)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
            sched.step()
            if i == 4:
                opt.param_groups[1]["momentum"] = 0.0  # changes the state an SGD group keeps
                opt.param_groups[0]["weight_decay"] = 0.1
        return snapshot(model, opt)
    assert_same(run(False), run(True), np.float32)


def test_state_buffers_made_mid_training_reach_the_compiled_call():
    """Momentum switched on after some steps: the optimizer state's buffers are made then, and the
    step's frame (run_step's addresses of its arrays) must point at them, at every batch size used."""
    def run(compiled):
        model, opt, loss_fn, step = _small_sgd(compiled, nn.Tanh)
        for i in range(8):
            x, y = data("labels", np.float32, n=8 if i % 2 else 3, seed=i)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
            if i == 3:
                opt.param_groups[0]["momentum"] = 0.9
        if compiled:
            assert step._state.S[0].size == sum(p.numpy().size for p in model.parameters())
        return snapshot(model, opt)
    assert_same(run(False), run(True), np.float32)


def test_frame_refuses_an_array_of_another_dtype_or_layout():
    from fastnn.compile.frame import F_P, F_SEEDS, Frame
    from fastnn.compile.lowering import Lowered
    model = nn.Linear(3, 2)
    step = fn.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    frame = step._frame(Lowered(step.plan), 4, 1)
    with pytest.raises(TypeError, match="slot P needs a C-contiguous float32"):
        frame.set(F_P, np.zeros(6, np.float64))
    with pytest.raises(TypeError, match="slot seeds"):
        frame.set(F_SEEDS, np.zeros(4, np.uint64)[::2])
    with pytest.raises(ValueError, match="no array for"):
        Frame(np.float32, {"P": np.zeros(3, np.float32)})


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1), lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: optim.Adam(p), lambda p: optim.Adam(p, amsgrad=True), lambda p: optim.AdamW(p),
    lambda p: optim.Adagrad(p), lambda p: optim.RMSprop(p), lambda p: optim.RMSprop(p, momentum=0.5),
    lambda p: optim.RMSprop(p, centered=True, momentum=0.5), lambda p: optim.Adadelta(p)])
def test_update_refuses_state_buffers_shorter_than_the_options_need(make):
    """update_all's own check of the state buffers (the kernels index them unchecked) agrees with the
    buffers FlatState makes (STATE_KEYS): it runs with exactly those, refuses each of them short, and a
    refused update changes nothing."""
    from fastnn.compile import kernels
    from fastnn.compile.planner import OPTIMIZERS as KINDS
    from fastnn.compile.state import KIND_CODES, ROWS, STATE_KEYS
    opt = make(nn.Linear(2, 2).parameters())
    group = opt.param_groups[0]
    kind = KINDS[type(opt)]
    h = np.zeros(kernels.H_COLUMNS)
    row = ROWS[kind](group)
    h[:len(row)], h[kernels.H_KIND] = row, KIND_CODES[kind]
    expected = sum(1 << buf for _, buf in STATE_KEYS[kind](group))
    P, G = np.ones(6, np.float32), np.full(6, 0.5, np.float32)
    full, short = np.zeros(6, np.float32), np.zeros(5, np.float32)
    S = [full if expected & (1 << b) else np.empty(0, np.float32) for b in range(3)]
    bounds, H, steps = np.array([0, 6]), h.reshape(1, -1), np.ones(1, np.int64)
    for b in range(3):
        if expected & (1 << b):
            bad = list(S)
            bad[b] = short
            assert not kernels.update_all(P, G, *bad, H, steps, bounds)
            assert (P == 1).all() and (full == 0).all()
    assert kernels.update_all(P, G, *S, H, steps, bounds)
    assert (P != 1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wider_layers_and_batches_through_the_transposed_forward_product(dtype):
    """Layers whose weights the forward pass transposes (<= WT_MAX elements, products above
    TINY_WORK) and one too large for it, at batch sizes on either side: compiled = eager."""
    def run(compiled):
        fn.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 80), nn.Tanh(), nn.Linear(80, 3)).to(dtype)
        opt = optim.Adam(model.parameters(), lr=0.01)
        loss_fn = nn.CrossEntropyLoss()
        step = fn.compile_step(model, loss_fn, opt) if compiled else None
        rng = np.random.default_rng(0)
        for n in (64, 1, 200, 64):
            x, y = rng.standard_normal((n, 20)).astype(dtype), rng.integers(0, 3, n)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
        return snapshot(model, opt)
    assert_same(run(False), run(True), dtype)


def test_eval_mode_turns_dropout_off_and_batch_size_may_change():
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair()
    step = fn.compile_step(m2, l2, o2)
    for i, n in enumerate([8, 3, 1, 8]):
        for model in (m1, m2):
            model.train(i % 2 == 0)
        x, y = data(target, np.float32, n=n, seed=i)
        fn.manual_seed(i)
        eager_step(m1, l1, o1, x, y)
        fn.manual_seed(i)
        step(x, y)
        assert step.fallback_reason is None
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32)


@pytest.mark.parametrize("clip", [{"max_grad_norm": 0.05}, {"max_grad_norm": 0.05, "norm_type": float("inf")},
                                  {"clip_value": 0.01}])
def test_gradient_clipping_matches_the_eager_loop(clip):
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair(make_opt=lambda p: optim.SGD(p, lr=0.5))
    step = fn.compile_step(m2, l2, o2, **clip)
    params = list(m1.parameters())
    for i in range(6):
        x, y = data(target, np.float32, seed=i)
        fn.manual_seed(i)
        o1.zero_grad()
        l1(m1(fn.from_numpy(x)), fn.from_numpy(y)).backward()
        if "clip_value" in clip:
            fn.nn.utils.clip_grad_value_(params, clip["clip_value"])
        else:
            norm = fn.nn.utils.clip_grad_norm_(params, clip["max_grad_norm"], clip.get("norm_type", 2.0))
        o1.step()
        fn.manual_seed(i)
        step(x, y)
        if "clip_value" not in clip:
            assert step.last_grad_norm == pytest.approx(norm.item(), rel=1e-5)
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32)


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(x) * 2


@pytest.mark.parametrize("case", ["custom_forward", "pos_weight", "frozen"])
def test_fallbacks_give_the_eager_answer_and_name_their_reason(case):
    results = []
    for compiled in (False, True):
        fn.manual_seed(0)
        loss_fn = nn.CrossEntropyLoss()
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
        if case == "custom_forward":
            model = Custom()
        elif case == "pos_weight":
            loss_fn = nn.BCEWithLogitsLoss(pos_weight=fn.tensor(np.array([1.0, 2.0, 0.5], np.float32)))
        elif case == "frozen":
            model[0].weight.requires_grad_(False)
        opt = optim.SGD(model.parameters(), lr=0.1)
        if compiled:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                step = fn.compile_step(model, loss_fn, opt)
            assert step.fallback_reason and step.plan is None
            assert len([w for w in caught if "eager" in str(w.message)]) == 1
            assert {"custom_forward": "Custom", "pos_weight": "pos_weight",
                    "frozen": "requires_grad"}[case] in step.fallback_reason
        for i in range(4):
            x, y = data("binary" if case == "pos_weight" else "labels", np.float32, seed=i)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
        results.append(snapshot(model, opt))
    assert_same(results[0], results[1], np.float32, rtol=0)


def test_class_weights_the_eager_loss_refuses_fall_back_to_its_error():
    """Weights of another dtype or shape: not compiled; the eager loss raises, nothing changes."""
    for weight in (np.array([1.0, 2.0, 0.5]), np.ones(4, np.float32)):
        model = nn.Sequential(nn.Linear(6, 3))
        opt = optim.SGD(model.parameters(), lr=0.1)
        with pytest.warns(UserWarning, match="class weights"):
            step = fn.compile_step(model, nn.CrossEntropyLoss(weight=fn.tensor(weight)), opt)
        before = snapshot(model, opt)
        with pytest.raises((TypeError, ValueError), match="weight"):
            step(*data("labels", np.float32))
        assert_same(before, snapshot(model, opt), np.float32, rtol=0)


def test_class_weights_edited_or_replaced_between_steps_are_used():
    """In-place edits of the weight tensor and a new weight tensor both reach the compiled loss."""
    results = []
    for compiled in (False, True):
        fn.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
        loss_fn = nn.CrossEntropyLoss(weight=fn.tensor(np.array([1.0, 2.0, 0.5], np.float32)))
        opt = optim.SGD(model.parameters(), lr=0.1)
        step = fn.compile_step(model, loss_fn, opt) if compiled else None
        losses = []
        for i in range(6):
            if i == 2:
                loss_fn.weight.array[1] = 4.0
            if i == 4:
                loss_fn.weight = fn.tensor(np.array([0.1, 1.0, 3.0], np.float32))
            x, y = data("labels", np.float32, seed=i)
            losses.append(float((step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)).item()))
        if compiled:
            assert step.plan is not None, step.fallback_reason
        results.append((losses, snapshot(model, opt)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    assert_same(results[0][1], results[1][1], np.float32)


def test_probability_targets_run_eagerly_per_call():
    (m1, l1, o1, _), (m2, l2, o2, _) = _pair(layers="relu")
    step = fn.compile_step(m2, l2, o2)
    x, _ = data("labels", np.float32)
    probs = np.full((8, 3), 1 / 3, np.float32)
    eager_step(m1, l1, o1, x, probs)
    step(x, probs)
    assert step.fallback_reason is None
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32, rtol=0)


def _bad_call_leaves_everything_unchanged(step, model, opt, x, y, error, match):
    before = snapshot(model, opt)
    with pytest.raises(error, match=match):
        step(x, y)
    assert_same(before, snapshot(model, opt), np.float32, rtol=0)


def test_bad_inputs_raise_naming_the_step_and_change_nothing():
    (model, loss_fn, opt, target), _ = _pair(layers="relu")
    step = fn.compile_step(model, loss_fn, opt)
    x, y = data(target, np.float32)
    step(x, y)
    _bad_call_leaves_everything_unchanged(step, model, opt, x[:, :5], y, ValueError, r"compiled step: input must be")
    _bad_call_leaves_everything_unchanged(step, model, opt, x.astype(np.float64), y, TypeError, "dtype")
    _bad_call_leaves_everything_unchanged(step, model, opt, x, y[:5], ValueError, "targets must have shape")
    bad = y.copy()
    bad[3] = 7
    _bad_call_leaves_everything_unchanged(step, model, opt, x, bad, IndexError, "target 7 out of range for 3")
    bad[3] = -2
    _bad_call_leaves_everything_unchanged(step, model, opt, x, bad, IndexError, "target -2")
    nan_x = x.copy()
    nan_x[0, 0] = np.nan
    _bad_call_leaves_everything_unchanged(step, model, opt, nan_x, y, ValueError, "not finite|non-finite")
    _bad_call_leaves_everything_unchanged(step, model, opt, x, y.astype(np.complex64), TypeError, "integers")
    step(x, y)  # and it still works


def test_bad_embedding_index_changes_nothing():
    fn.manual_seed(0)
    model = nn.Sequential(nn.EmbeddingBag(10, 4), nn.Linear(4, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    step = fn.compile_step(model, nn.CrossEntropyLoss(), opt)
    ids = np.array([[1, 2], [3, 4]])
    step(ids, np.array([0, 1]))
    _bad_call_leaves_everything_unchanged(step, model, opt, np.array([[1, 2], [3, 10]]), np.array([0, 1]),
                                          IndexError, "embedding index 10 out of range for 10 rows")


def test_nonfinite_gradient_raises_before_any_update():
    (model, loss_fn, opt, target), _ = _pair(layers="relu", loss="mse")
    step = fn.compile_step(model, loss_fn, opt)
    x, y = data(target, np.float32)
    step(x, y)
    huge = np.full_like(x, 3e38)
    _bad_call_leaves_everything_unchanged(step, model, opt, huge, y, ValueError, "compiled step")


def test_replacing_a_layer_replans():
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair(layers="relu", make_opt=lambda p: optim.SGD(p, lr=0.1))
    step = fn.compile_step(m2, l2, o2)
    x, y = data(target, np.float32)
    step(x, y)
    eager_step(m1, l1, o1, x, y)
    m1[1] = nn.Tanh()
    m2[1] = nn.Tanh()
    for _i in range(3):
        eager_step(m1, l1, o1, x, y)
        step(x, y)
    assert step.fallback_reason is None
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32)


torch = pytest.importorskip("torch", reason="torch is needed for the parity tests")


@pytest.mark.parametrize("which", ["sgd", "adam", "adam_class_weights"])
def test_compiled_trajectory_matches_torch(which):
    fn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    ref = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 3)).double()
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    if which == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
        topt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    else:
        opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
        topt = torch.optim.Adam(ref.parameters(), lr=0.01, amsgrad=True)
    weight = np.array([0.5, 2.0, 1.25]) if which == "adam_class_weights" else None
    step = fn.compile_step(model, nn.CrossEntropyLoss(weight=None if weight is None else fn.tensor(weight),
                                                      label_smoothing=0.05), opt)
    assert step.plan is not None, step.fallback_reason
    tloss = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.from_numpy(weight), label_smoothing=0.05)
    for i in range(25):
        x, y = data("labels", np.float64, seed=i)
        loss = step(x, y)
        topt.zero_grad()
        expected = tloss(ref(torch.from_numpy(x)), torch.from_numpy(y))
        expected.backward()
        topt.step()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    for key, value in ref.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), value.numpy(), rtol=1e-9, atol=1e-12)


def test_shared_layer_falls_back_and_nested_sequential_compiles():
    fn.manual_seed(0)
    shared = nn.Linear(5, 5)
    model = nn.Sequential(nn.Linear(6, 5), shared, nn.ReLU(), shared, nn.Linear(5, 3))
    with pytest.warns(UserWarning, match="shared"):
        step = fn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    assert "shared" in step.fallback_reason
    results = []
    for compiled in (False, True):
        fn.manual_seed(0)
        model = nn.Sequential(nn.Sequential(nn.Linear(6, 5), nn.Tanh()), nn.Linear(5, 3))
        opt = optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()
        step = fn.compile_step(model, loss_fn, opt) if compiled else None
        for i in range(5):
            x, y = data("labels", np.float32, seed=i)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
        if compiled:
            assert step.fallback_reason is None
        results.append(snapshot(model, opt))
    assert_same(results[0], results[1], np.float32)


def test_an_input_that_requires_grad_gets_its_gradient_from_the_eager_path():
    (m1, l1, o1, target), (m2, l2, o2, _) = _pair(layers="relu")
    step = fn.compile_step(m2, l2, o2)
    x, y = data(target, np.float32)
    x1, x2 = fn.tensor(x, requires_grad=True), fn.tensor(x, requires_grad=True)
    o1.zero_grad()
    l1(m1(x1), fn.from_numpy(y)).backward()
    o1.step()
    step(x2, y)
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32, rtol=0)


def test_inputs_of_any_layout_give_the_same_step():
    """Read-only, strided, Fortran-ordered or int32 inputs are copied to the one array type the
    interpreter takes: the same numbers as C-contiguous inputs."""
    x, y = data("labels", np.float32, n=8)
    readonly_x, readonly_y = x.copy(), y.copy()
    readonly_x.flags.writeable = readonly_y.flags.writeable = False
    variants = [(x, y), (readonly_x, readonly_y), (np.asfortranarray(x), y.astype(np.int32)),
                (np.repeat(x, 2, axis=0)[::2], np.repeat(y, 2)[::2]), (fn.from_numpy(x), fn.from_numpy(y))]
    results = []
    for vx, vy in variants:
        (model, loss_fn, opt, _), _ = _pair(layers="relu", loss="ce")
        step = fn.compile_step(model, loss_fn, opt)
        step(x, y)
        losses = [float(step(vx, vy).item()) for _ in range(3)]
        results.append((losses, snapshot(model, opt)))
    for losses, state in results[1:]:
        assert losses == results[0][0]
        assert_same(results[0][1], state, np.float32, rtol=0)


def _frozen_model(case):
    fn.manual_seed(0)
    if case == "embedding_bag":  # frozen pretrained vectors, as the DAN example's --freeze
        model = nn.Sequential(nn.EmbeddingBag(30, 6, mode="mean", padding_idx=0), nn.Linear(6, 5), nn.ReLU(),
                              nn.Linear(5, 3))
        frozen = [model[0].weight]
    else:
        model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 3))
        frozen = {"first_layer": list(model[0].parameters()), "middle_layer": list(model[2].parameters()),
                  "a_bias": [model[2].bias], "last_weight": [model[4].weight]}[case]
    for p in frozen:
        p.requires_grad_(False)
    return model, frozen


@pytest.mark.parametrize("case", ["embedding_bag", "first_layer", "middle_layer", "a_bias", "last_weight"])
def test_frozen_parameters_compile_and_match_eager(case):
    """Parameters with requires_grad=False outside the optimizer: compiled (not a fallback), read by
    the forward pass, no gradient (grad stays None), never changed; the rest as eagerly."""
    results = []
    for compiled in (False, True):
        model, frozen = _frozen_model(case)
        before = [p.numpy().copy() for p in frozen]
        opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
        loss_fn = nn.CrossEntropyLoss()
        step = fn.compile_step(model, loss_fn, opt) if compiled else None
        if compiled:
            assert step.plan is not None, step.fallback_reason
        rng = np.random.default_rng(0)
        for _ in range(10):
            x = rng.integers(0, 30, (8, 4)) if case == "embedding_bag" else rng.standard_normal((8, 6), np.float32)
            y = rng.integers(0, 3, 8)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
        for p, value in zip(frozen, before):
            assert p.grad is None
            np.testing.assert_array_equal(p.numpy(), value)
        results.append(({k: v.numpy().copy() for k, v in model.state_dict().items()},
                        [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]))
    for key in results[0][0]:
        np.testing.assert_allclose(results[1][0][key], results[0][0][key], rtol=2e-4, atol=2e-6, err_msg=key)
    for eager_grad, compiled_grad in zip(results[0][1], results[1][1]):
        assert (eager_grad is None) == (compiled_grad is None)
        if eager_grad is not None:
            np.testing.assert_allclose(compiled_grad, eager_grad, rtol=2e-4, atol=2e-6)


def test_unfreezing_mid_training_replans_and_trains_the_layer():
    results = []
    for compiled in (False, True):
        model, frozen = _frozen_model("first_layer")
        opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        step = fn.compile_step(model, loss_fn, opt) if compiled else None
        for i in range(8):
            if i == 4:  # fine-tune the whole network from here on
                for p in frozen:
                    p.requires_grad_(True)
                opt.add_param_group({"params": frozen, "lr": 0.01})
            x, y = data("labels", np.float32, seed=i)
            step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
        if compiled:
            assert step.plan is not None and step.plan.trained == 6, step.fallback_reason
        results.append(snapshot(model, opt))
    assert_same(results[0], results[1], np.float32)


def test_freezing_a_trained_parameter_mid_training_is_seen_by_the_next_call():
    """requires_grad_(False) on a parameter the optimizer holds, nothing else changed: the next
    compiled call sees it (and runs the eager step, which no longer updates that parameter)."""
    results = []
    for compiled in (False, True):
        model, opt, loss_fn, step = _small_sgd(compiled)
        for i in range(6):
            if i == 3:
                model[0].weight.requires_grad_(False)
            x, y = data("labels", np.float32, seed=i)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the fallback's one warning
                step(x, y) if compiled else eager_step(model, loss_fn, opt, x, y)
        if compiled:
            assert "requires_grad" in step.fallback_reason
        results.append(snapshot(model, opt))
    assert_same(results[0], results[1], np.float32)


@pytest.mark.parametrize("kinds", [("adam_amsgrad", "sgd_nesterov_wd_max"), ("rmsprop", "adagrad", "adamw")])
def test_several_optimizers_compile_as_one_step(kinds):
    """compile_step(model, loss, [opt1, opt2, ...]): each optimizer updates its own parameters with
    its own kind and state, as zero_grad / backward / step of each would eagerly."""
    results = []
    for compiled in (False, True):
        model, loss_fn, target = build("leaky+residual", "ce", np.float32)
        params = list(model.parameters())
        parts = np.array_split(np.arange(len(params)), len(kinds))
        opts = [OPTIMIZERS[kind]([params[i] for i in part]) for kind, part in zip(kinds, parts)]
        step = fn.compile_step(model, loss_fn, opts) if compiled else None
        if compiled:
            assert step.plan is not None, step.fallback_reason
        for i in range(12):
            x, y = data(target, np.float32, seed=i % 4)
            step(x, y) if compiled else eager_step(model, loss_fn, opts, x, y)
        results.append([snapshot(model, opt) for opt in opts])
    for eager, compiled in zip(*results):
        assert_same(eager, compiled, np.float32)


def test_compile_step_refuses_no_optimizer_and_what_is_not_one():
    model = nn.Sequential(nn.Linear(6, 3))
    for bad, error, match in (([], ValueError, "no optimizer"), ((), ValueError, "no optimizer"),
                              ([optim.SGD(model.parameters(), lr=0.1), "sgd"], TypeError, "got str")):
        with pytest.raises(error, match=match):
            fn.compile_step(model, nn.CrossEntropyLoss(), bad)


def test_a_missing_or_stale_interpreter_build_runs_the_eager_paths_with_the_reason(monkeypatch):
    """Without a usable fastnn._cython.step (not built, or built for another table layout) the compiled
    step, fastnn.compile and fused=True run their eager paths, with the ImportError as the reason."""
    from fastnn.compile import kernels

    def unavailable():
        raise ImportError("fastnn: the compiled Cython kernels fastnn._cython.step are missing")

    monkeypatch.setattr(kernels, "interpreter", unavailable)
    (m1, l1, o1, _), (m2, l2, o2, _) = _pair(layers="relu", make_opt=lambda p: optim.SGD(p, lr=0.1))
    with pytest.warns(UserWarning, match="fastnn._cython.step are missing"):
        step = fn.compile_step(m2, l2, o2)
    assert step.plan is None and "fastnn._cython.step are missing" in step.fallback_reason
    x, y = data("labels", np.float32)
    for _ in range(3):
        eager_step(m1, l1, o1, x, y)
        step(x, y)
    assert_same(snapshot(m1, o1), snapshot(m2, o2), np.float32, rtol=0)
    compiled = fn.compile(m1)
    with pytest.warns(UserWarning, match="missing"), fn.no_grad():  # (inference: the compiled forward's case)
        np.testing.assert_array_equal(compiled(fn.from_numpy(x)).numpy(), m1(fn.from_numpy(x)).numpy())
    assert "missing" in compiled.fallback_reason
    fused = optim.SGD(m1.parameters(), lr=0.1, fused=True)
    before = [p.numpy().copy() for p in m1.parameters()]
    eager_step(m1, l1, fused, x, y)
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, m1.parameters()))
