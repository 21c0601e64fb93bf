"""Every optimizer and scheduler validates its hyperparameters where they are given (constructor,
param group, loaded state dict, before a step), as PyTorch does: a clear TypeError or ValueError
naming the class and the argument, and nothing changed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import optim
from fastnn.optim import functional as F
from fastnn.optim import lr_scheduler

BAD_NUMBERS = [("x", TypeError), (None, TypeError), (True, TypeError), ([0.1], TypeError),
               (math.nan, ValueError), (math.inf, ValueError)]

# optimizer, its numeric hyperparameters that must be >= 0 (PyTorch's "Invalid ..." checks)
NON_NEGATIVE = {
    optim.SGD: ("lr", "momentum", "weight_decay"),
    optim.Adagrad: ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
    optim.RMSprop: ("lr", "alpha", "eps", "weight_decay", "momentum"),
    optim.Adadelta: ("lr", "rho", "eps", "weight_decay"),
    optim.Adam: ("lr", "eps", "weight_decay"),
    optim.AdamW: ("lr", "eps", "weight_decay"),
    optim.SparseAdam: ("lr", "eps"),
}
FLAGS = {optim.SGD: ("nesterov", "maximize"), optim.Adagrad: ("maximize",), optim.RMSprop: ("centered", "maximize"),
         optim.Adadelta: ("maximize",), optim.Adam: ("amsgrad", "maximize"), optim.AdamW: ("amsgrad", "maximize"),
         optim.SparseAdam: ("maximize",)}
PYTORCH_WORDS = {"lr": "Invalid learning rate", "eps": "Invalid epsilon value", "momentum": "Invalid momentum value",
                 "weight_decay": "Invalid weight_decay value", "rho": "Invalid rho value",
                 "alpha": "Invalid alpha value", "lr_decay": "Invalid lr_decay value",
                 "initial_accumulator_value": "Invalid initial_accumulator_value value"}


def param():
    p = fastnn.zeros(3, requires_grad=True)
    p.grad = fastnn.ones(3)
    return p


CASES = [(cls, name) for cls, names in NON_NEGATIVE.items() for name in names]


@pytest.mark.parametrize("cls, name", CASES, ids=[f"{c.__name__}-{n}" for c, n in CASES])
def test_a_negative_hyperparameter_is_refused_with_pytorchs_words(cls, name):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: {PYTORCH_WORDS[name]}: -0.5 "):
        cls([param()], **{name: -0.5})


@pytest.mark.parametrize("cls, name", CASES, ids=[f"{c.__name__}-{n}" for c, n in CASES])
@pytest.mark.parametrize("value, error", BAD_NUMBERS, ids=["str", "None", "bool", "list", "nan", "inf"])
def test_a_non_number_or_non_finite_hyperparameter_is_refused_naming_class_and_argument(cls, name, value, error):
    with pytest.raises(error, match=rf"^{cls.__name__}: .*{name}"):
        cls([param()], **{name: value})


FLAG_CASES = [(cls, name) for cls, names in FLAGS.items() for name in names]


@pytest.mark.parametrize("cls, name", FLAG_CASES, ids=[f"{c.__name__}-{n}" for c, n in FLAG_CASES])
def test_a_flag_must_be_a_bool(cls, name):
    with pytest.raises(TypeError, match=rf"^{cls.__name__}: {name} must be a bool, got str 'yes'"):
        cls([param()], **{name: "yes"}, **({"momentum": 0.9} if name == "nesterov" else {}))


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW, optim.SparseAdam])
@pytest.mark.parametrize("betas, error, text", [
    ((0.9, 1.0), ValueError, "Invalid beta parameter at index 1: 1.0"),
    ((-0.1, 0.9), ValueError, "Invalid beta parameter at index 0: -0.1"),
    ((math.nan, 0.9), ValueError, "Invalid beta parameter at index 0: nan"),
    ((0.9,), TypeError, "betas must be a pair of numbers"),
    ("ab", TypeError, "betas must be a pair of numbers"),
    (("0.9", 0.99), TypeError, r"betas\[0\] must be a real number"),
])
def test_betas_are_checked(cls, betas, error, text):
    with pytest.raises(error, match=f"^{cls.__name__}: {text}"):
        cls([param()], betas=betas)


def test_sparse_adam_needs_a_positive_learning_rate_as_torch():
    with pytest.raises(ValueError, match="SparseAdam: Invalid learning rate: 0.0"):
        optim.SparseAdam([param()], lr=0.0)


def test_a_bad_option_in_a_param_group_is_refused_naming_the_group():
    with pytest.raises(TypeError, match=r"^SGD param_groups\[1\]: lr must be a real number, got str"):
        optim.SGD([{"params": [param()]}, {"params": [param()], "lr": "0.1"}], lr=0.1)
    opt = optim.Adam([param()])
    with pytest.raises(ValueError, match=r"^Adam param_groups\[1\]: Invalid epsilon value: -1"):
        opt.add_param_group({"params": [param()], "eps": -1})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("cls", [cls for cls in NON_NEGATIVE if cls is not optim.SparseAdam])  # dense grads
def test_a_learning_rate_broken_after_construction_fails_the_step_before_any_update(cls):
    first, second = param(), param()
    opt = cls([{"params": [first]}, {"params": [second]}], lr=0.1)
    opt.param_groups[1]["lr"] = float("nan")
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.step: param_groups\[1\]: Invalid learning rate: nan"):
        opt.step()
    np.testing.assert_array_equal(first.numpy(), np.zeros(3))
    assert opt.state_dict()["state"] == {}


def test_a_loaded_state_dict_with_a_bad_option_changes_nothing():
    opt = optim.SGD([param()], lr=0.1, momentum=0.9)
    opt.step()
    before = opt.state_dict()
    saved = opt.state_dict()
    saved["param_groups"][0]["momentum"] = -1.0
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: param_groups\[0\]: Invalid momentum value: -1.0"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["momentum"] == 0.9
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["momentum_buffer"],
                                  before["state"][0]["momentum_buffer"])


@pytest.mark.parametrize("step", ["3", math.nan, math.inf, -1, 2.5, [1]])
def test_a_loaded_step_count_must_be_a_non_negative_integer(step):
    opt = optim.Adam([param()])
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["step"] = step
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state of parameter 0 has step .*integer >= 0"):
        opt.load_state_dict(saved)


@pytest.mark.parametrize("saved", [{"state": [], "param_groups": []}, {"state": {}, "param_groups": [1]},
                                   {"state": {"a": {}}, "param_groups": [{"params": [0]}]}])
def test_a_malformed_optimizer_state_dict_is_a_value_error(saved):
    with pytest.raises(ValueError, match="Adam.load_state_dict"):
        optim.Adam([param()]).load_state_dict(saved)


# ------------------------------------------------------------------ functional forms
@pytest.mark.parametrize("call, text", [
    (lambda p, g: F.sgd([p], [g], [None], lr=-1.0), "sgd: Invalid learning rate: -1.0"),
    (lambda p, g: F.sgd([p], [g], [None], lr="1"), "sgd: lr must be a real number"),
    (lambda p, g: F.adam([p], [g], [np.zeros(3)], [np.zeros(3)], [None], [1], beta1=1.5),
     "adam: Invalid beta parameter at index 0: 1.5"),
    (lambda p, g: F.adam([p], [g], [np.zeros(3)], [np.zeros(3)], [None], [0]), r"adam: state_steps\[0\]"),
    (lambda p, g: F.adam([p], [g], [np.zeros(3)], [np.zeros(2)], [None], [1]), r"adam: exp_avg_sqs\[0\] is \(2,\)"),
    (lambda p, g: F.adam([p], [g], [np.zeros(3)], [np.zeros(3)], [None], [1], amsgrad=True),
     r"adam: max_exp_avg_sqs\[0\] must be a numpy array, got NoneType"),
    (lambda p, g: F.adagrad([p], [g], [np.zeros(3)], [1], lr=0.1, eps=math.nan), "adagrad: Invalid epsilon value"),
    (lambda p, g: F.adagrad([p], [g], [np.zeros(3)[::1].astype(np.float32)], [1], lr=0.1),
     r"adagrad: state_sums\[0\] is \(3,\) float32"),
    (lambda p, g: F.rmsprop([p], [g], [np.zeros(3)], [None], [None], lr=0.1, centered=True),
     r"rmsprop: grad_avgs\[0\] must be a numpy array"),
    (lambda p, g: F.adadelta([p], [g], [np.zeros(3)], [np.zeros(3)], rho=2.0), "adadelta: Invalid rho value: 2.0"),
    (lambda p, g: F.adamw([p], [g], [np.zeros(3)], [np.zeros(3)], [None], [1], weight_decay=None),
     "adamw: weight_decay must be a real number"),
    (lambda p, g: F.sparse_adam([p], [g], [np.zeros(3)], [np.zeros(3)], [1], lr=0.0),
     "sparse_adam: Invalid learning rate: 0.0"),
])
def test_functional_forms_validate_before_touching_anything(call, text):
    p, g = np.zeros(3), np.ones(3)
    with pytest.raises((TypeError, ValueError), match=text):
        call(p, g)
    np.testing.assert_array_equal(p, np.zeros(3))


# ------------------------------------------------------------------ schedulers
def sgd():
    return optim.SGD([param()], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("make, error, text", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "StepLR: invalid step_size: 0"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), TypeError, "StepLR: step_size must be an integer"),
    (lambda o: lr_scheduler.StepLR(o, step_size="3"), TypeError, "StepLR: step_size must be an integer"),
    (lambda o: lr_scheduler.StepLR(o, 3, gamma="0.1"), TypeError, "StepLR: gamma must be a real number"),
    (lambda o: lr_scheduler.StepLR(o, 3, gamma=-0.1), ValueError, "StepLR: invalid gamma: -0.1"),
    (lambda o: lr_scheduler.StepLR(o, 3, last_epoch=-2), ValueError, "StepLR: invalid last_epoch: -2"),
    (lambda o: lr_scheduler.MultiStepLR(o, [2, "x"]), TypeError, "MultiStepLR: milestones must be an integer"),
    (lambda o: lr_scheduler.MultiStepLR(o, 3), TypeError, "MultiStepLR: milestones must be a list"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=math.nan), ValueError, "ExponentialLR: invalid gamma: nan"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=None), TypeError, "ExponentialLR: gamma must be a real number"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "CosineAnnealingLR: invalid T_max: 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 5, eta_min=-1), ValueError, "CosineAnnealingLR: invalid eta_min"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "LambdaLR: lr_lambda must be a function"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "ReduceLROnPlateau: Factor should be < 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=-0.5), ValueError, "ReduceLROnPlateau: Factor should be"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "ReduceLROnPlateau: invalid patience"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1.5), TypeError, "ReduceLROnPlateau: patience must be"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode=None), TypeError, "ReduceLROnPlateau: mode must be one of"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError, "ReduceLROnPlateau: mode must be one of"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold=math.nan), ValueError, "ReduceLROnPlateau: invalid thr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[-1]), ValueError, "ReduceLROnPlateau: invalid min_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown="1"), TypeError, "ReduceLROnPlateau: cooldown must be"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.0, total_steps=10), ValueError, "OneCycleLR: invalid max_lr"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=True), ValueError, "OneCycleLR: Expected posit"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, div_factor=0), ValueError, "OneCycleLR: invalid div_factor"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, base_momentum="a"), TypeError, "OneCycleLR: base_momentum"),
    (lambda o: lr_scheduler.StepLR("not an optimizer", 3), TypeError, "StepLR: str is not an Optimizer"),
])
def test_scheduler_arguments_are_checked_naming_the_scheduler(make, error, text):
    opt = sgd()
    with pytest.raises(error, match=f"^{text}"):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1  # nothing was written into the optimizer


@pytest.mark.parametrize("metric, ok", [("0.5", False), (None, False), ([0.5], False), (0.5, True),
                                        (np.float32(0.5), True), (fastnn.tensor(0.5), True)])
def test_reduce_lr_on_plateau_step_takes_a_number(metric, ok):
    sched = lr_scheduler.ReduceLROnPlateau(sgd())
    if ok:
        sched.step(metric)
        assert sched.best == 0.5
    else:
        with pytest.raises(TypeError, match="ReduceLROnPlateau.step: metrics must be a number"):
            sched.step(metric)
