"""Every scheduler's learning-rate sequence (and cycled momentum) against PyTorch's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastnn import optim
from fastnn.optim import lr_scheduler
from fastnn.tensor import Tensor

torch = pytest.importorskip("torch", reason="PyTorch is needed to compare learning-rate sequences")

EPOCHS = 40


def scale(epoch: int) -> float:
    return 0.95 ** epoch if epoch < 10 else 0.5 / (1 + epoch)


SCHEDULERS = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 1}),
    ("MultiStepLR", {"milestones": [3, 8, 8, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": scale}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": EPOCHS}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 4, "steps_per_epoch": 10, "anneal_strategy": "linear",
                    "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": EPOCHS, "three_phase": True, "base_momentum": 0.8,
                    "max_momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": EPOCHS, "cycle_momentum": False}),
]


def two_groups(params, lr):
    return [{"params": params[:1]}, {"params": params[1:], "lr": lr / 4}]


def trajectory(framework, name, options, opt_name):
    """(lrs, momenta) after construction and after each of EPOCHS-1 steps, for two param groups."""
    if framework == "torch":
        params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
        opt_module, sched_module = torch.optim, torch.optim.lr_scheduler
    else:
        params = [Tensor(np.zeros(2), requires_grad=True) for _ in range(2)]
        opt_module, sched_module = optim, lr_scheduler
    opt_options = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt = getattr(opt_module, opt_name)(two_groups(params, 0.1), lr=0.1, **opt_options)
    sched = getattr(sched_module, name)(opt, **options)
    lrs, momenta = [], []
    for _ in range(EPOCHS):
        lrs.append(list(sched.get_last_lr()))
        momenta.append([g["momentum"] if "momentum" in g else g["betas"][0] for g in opt.param_groups])
        opt.step()
        if len(lrs) < EPOCHS:
            sched.step()
    return np.array(lrs), np.array(momenta)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name, options", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_sequence_matches_torch(name, options, opt_name):
    expected_lrs, expected_momenta = trajectory("torch", name, options, opt_name)
    lrs, momenta = trajectory("fastnn", name, options, opt_name)
    assert len(set(expected_lrs[:, 0])) > 1, "a flat sequence would prove nothing"
    np.testing.assert_allclose(lrs, expected_lrs, rtol=1e-13, atol=0)
    np.testing.assert_allclose(momenta, expected_momenta, rtol=1e-13, atol=0)


def plateau_run(framework, options, metrics):
    if framework == "torch":
        params, opt_module, sched_module = [torch.nn.Parameter(torch.zeros(2))], torch.optim, torch.optim.lr_scheduler
    else:
        params, opt_module, sched_module = [Tensor(np.zeros(2), requires_grad=True)], optim, lr_scheduler
    opt = opt_module.SGD(params, lr=1.0)
    sched = sched_module.ReduceLROnPlateau(opt, **options)
    out = []
    for metric in metrics:
        sched.step(metric)
        out.append(opt.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("options", [
    {},
    {"patience": 2, "factor": 0.5},
    {"mode": "max", "patience": 1, "factor": 0.5, "threshold": 0.05, "cooldown": 2},
    {"patience": 0, "factor": 0.5, "threshold_mode": "abs", "threshold": 0.1, "min_lr": 0.2},
    {"patience": 1, "factor": 0.7, "eps": 0.2},  # the third reduction (0.147) is below eps
])
def test_reduce_lr_on_plateau_matches_torch(options):
    rng = np.random.default_rng(0)
    metrics = list(np.concatenate([np.linspace(1.0, 0.5, 10), 0.5 + 0.02 * rng.random(30),
                                   np.linspace(0.5, 1.5, 10)]))
    expected = plateau_run("torch", options, metrics)
    assert len(set(expected)) > 1
    assert plateau_run("fastnn", options, metrics) == pytest.approx(expected, rel=1e-15)


def test_base_lrs_and_initial_lr_are_recorded():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.3)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert sched.base_lrs == [0.3] and opt.param_groups[0]["initial_lr"] == 0.3 and sched.last_epoch == 0


def test_scheduler_state_dict_resumes_the_sequence():
    def build():
        p = Tensor(np.zeros(2), requires_grad=True)
        opt = optim.SGD([p], lr=0.2, momentum=0.9)
        return opt, lr_scheduler.CosineAnnealingLR(opt, T_max=9, eta_min=0.001)

    opt, sched = build()
    for _ in range(4):
        sched.step()
    saved, saved_opt = sched.state_dict(), opt.state_dict()
    rest = []
    for _ in range(10):
        sched.step()
        rest.append(sched.get_last_lr()[0])
    opt2, sched2 = build()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    resumed = []
    for _ in range(10):
        sched2.step()
        resumed.append(sched2.get_last_lr()[0])
    assert resumed == rest
    assert "optimizer" not in saved


def test_closed_form_of_cosine_annealing_holds():
    p = Tensor(np.zeros(2), requires_grad=True)
    sched = lr_scheduler.CosineAnnealingLR(optim.SGD([p], lr=0.1), T_max=10, eta_min=0.01)
    for t in range(1, 10):
        sched.step()
        assert sched.get_last_lr()[0] == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi * t / 10)) / 2, rel=1e-12)


def test_scheduler_argument_errors():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        lr_scheduler.LambdaLR(opt, [scale, scale])
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()


def test_schedulers_take_whole_float_periods_as_torch_does():
    """torch's StepLR(opt, 1.0) and CosineAnnealingLR(opt, T_max=10.0) run (the official examples pass floats)."""
    import fastnn
    from fastnn import nn

    for make, torch_make in ((lambda o: lr_scheduler.StepLR(o, 2.0, gamma=0.5),
                              lambda o: torch.optim.lr_scheduler.StepLR(o, 2.0, gamma=0.5)),
                             (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4.0),
                              lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4.0))):
        ours = optim.SGD([nn.Parameter(fastnn.zeros(1))], lr=1.0)
        theirs = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        a, b = make(ours), torch_make(theirs)
        for _ in range(6):
            ours.step(); a.step(); theirs.step(); b.step()  # noqa: E702
            assert abs(ours.param_groups[0]["lr"] - theirs.param_groups[0]["lr"]) < 1e-12
    with pytest.raises(TypeError, match="StepLR: step_size must be an integer"):
        lr_scheduler.StepLR(optim.SGD([nn.Parameter(fastnn.zeros(1))], lr=1.0), 1.5)
