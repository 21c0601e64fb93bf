"""The optimizers' layout (issue 9): each class and its functional form in one module, the update
rule written once, in the class docstring; fastnn.optim.functional is a facade over them."""

from __future__ import annotations

import importlib
import inspect

import pytest

from fastnn import optim
from fastnn.optim import functional

PAIRS = [("sgd", "SGD", "sgd"), ("adagrad", "Adagrad", "adagrad"), ("rmsprop", "RMSprop", "rmsprop"),
         ("adadelta", "Adadelta", "adadelta"), ("adam", "Adam", "adam"), ("adam", "AdamW", "adamw"),
         ("sparse_adam", "SparseAdam", "sparse_adam")]


@pytest.mark.parametrize("module_name, cls_name, fn_name", PAIRS)
def test_class_and_functional_form_share_a_module_and_the_rule_is_written_once(module_name, cls_name, fn_name):
    module = importlib.import_module(f"fastnn.optim.{module_name}")
    cls, fn = getattr(optim, cls_name), getattr(functional, fn_name)
    assert cls.__module__ == fn.__module__ == module.__name__
    assert getattr(module, fn_name) is fn
    rule = "p -=" if cls_name != "SparseAdam" else "p[r] -="
    if cls_name != "AdamW":  # AdamW's rule is Adam's, referred to
        assert rule in inspect.getdoc(cls)
    assert rule not in inspect.getdoc(fn) and f":class:`{cls_name}`" in inspect.getdoc(fn)


def test_the_facade_exports_every_functional_form_and_the_gradient_checks():
    from fastnn.optim import optimizer

    assert functional.check_gradients is optimizer.check_gradients
    assert functional.reject_sparse is optimizer.reject_sparse
    assert set(functional.__all__) == {fn for _, _, fn in PAIRS} | {"check_gradients", "reject_sparse"}
