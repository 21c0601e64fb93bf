"""The autodiff engine: the whole idea on one screen.

An op computes its output array and calls ``record(out, parents, backward)``. When grad mode is
on and a parent requires grad, the output gets a :class:`Node`: ``backward(g)`` maps the output's
gradient to one gradient (array, row-sparse :class:`~fastnn.autograd.sparse.SparseTensor` or None) per
parent, and ``inputs`` leads to each parent's own node, or to the parent itself when it is a leaf
that requires grad. A node never holds its output, so an intermediate array lives only as long
as some backward closure needs it.

``TensorBase.backward`` orders the nodes once without recursion (deep graphs work), pushes the
gradients from the root to the leaves, sums them where a tensor is used twice, accumulates
(``+=``) into each leaf's ``.grad`` and frees the graph unless ``retain_graph=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn.autograd.mode import GRAD_ENABLED
from fastnn.autograd.numerics import quiet


class Node:
    """One recorded op: its backward closure and, per input, the input's node, a leaf or None.

    As ``tensor.grad_fn`` it answers PyTorch's questions: ``name()`` (e.g. "AddmmBackward0") and
    ``next_functions`` (per input: its node, an :class:`AccumulateGrad` for a leaf, or None)."""

    __slots__ = ("backward", "inputs", "retained", "op")

    def __init__(self, backward: Callable, inputs: tuple, op: str) -> None:
        self.backward = backward
        self.inputs = inputs
        self.op = op or "Backward0"
        self.retained: TensorBase | None = None  # the output, when retain_grad() asked for its .grad

    def name(self) -> str:
        return self.op

    @property
    def next_functions(self) -> tuple:
        return tuple((edge if type(edge) is Node or edge is None else AccumulateGrad(edge), 0) for edge in self.inputs)

    def __repr__(self) -> str:
        return f"<{self.op} object at {id(self):#x}>"


class AccumulateGrad:
    """The end of a path in the graph: accumulates into a leaf's ``.grad`` (``variable``)."""

    __slots__ = ("variable",)

    def __init__(self, variable: TensorBase) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class TensorBase:
    """The engine's part of a tensor: its array, ``requires_grad``, ``grad`` and graph node."""

    __slots__ = ("array", "requires_grad", "grad", "_ctx", "__weakref__")

    @property
    def is_sparse(self) -> bool:
        """False: a tensor is dense (row-sparse gradients are SparseTensor)."""
        return False

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not by an op that recorded a graph node)."""
        return self._ctx is None

    def requires_grad_(self, requires_grad: bool = True) -> TensorBase:
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.array.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None) -> None:
        """Accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad``.

        `gradient` defaults to 1 for a one-element tensor; any other shape needs it explicitly."""
        if not self.requires_grad:
            raise RuntimeError("backward: the tensor does not require grad and has no graph "
                               "(were its inputs created with requires_grad=True, outside no_grad?)")
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs: backward() on a "
                                   f"tensor of shape {self.array.shape} needs gradient= of that shape")
            grad = np.ones(self.array.shape, dtype=self.array.dtype)
        else:
            grad = np.asarray(gradient.array if isinstance(gradient, TensorBase) else gradient,
                              dtype=self.array.dtype)
            if grad.shape != self.array.shape:
                raise RuntimeError(f"backward: gradient has shape {grad.shape} but the tensor has shape "
                                   f"{self.array.shape}")
        if self._ctx is None:
            accumulate(self, grad)
        else:
            run_backward(self._ctx, grad, bool(retain_graph))
        for callback in tuple(post_backward_callbacks):
            callback()


# Called, in order, with no arguments after every backward() has filled the leaves' .grad
# (DistributedDataParallel averages the gradients across ranks here).
post_backward_callbacks: list[Callable[[], None]] = []

_tensor_class: type = TensorBase


def register_tensor_class(cls: type) -> None:
    """Make `cls` (fastnn.Tensor, assembled in fastnn/tensor.py) the class of every op's output."""
    global _tensor_class
    _tensor_class = cls


def wrap(array: np.ndarray, requires_grad: bool = False) -> Any:
    """A leaf tensor holding `array` itself (no copy)."""
    t = object.__new__(_tensor_class)
    t.array = array
    t.requires_grad = requires_grad
    t.grad = None
    t._ctx = None
    return t


def record(out: np.ndarray, parents: tuple, backward: Callable, name: str = "") -> Any:
    """The output tensor of an op; records its node when grad mode is on and a parent needs grad.

    `backward(g)` returns one gradient (or None) per parent; `name` names the op in ``grad_fn``."""
    t = object.__new__(_tensor_class)
    t.array = out
    t.grad = None
    if GRAD_ENABLED.get():
        for p in parents:
            if p.requires_grad:
                t.requires_grad = True
                t._ctx = Node(backward, tuple(
                    [q._ctx if q._ctx is not None else (q if q.requires_grad else None) for q in parents]), name)
                return t
    t.requires_grad = False
    t._ctx = None
    return t


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back to `shape` (leading dims, then dims of size 1)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead:
        grad = grad.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _is_sparse(grad: Any) -> bool:
    return type(grad) is not np.ndarray and getattr(grad, "is_sparse", False)


def accumulate(leaf: TensorBase, grad: Any) -> None:
    """leaf.grad += grad (a fresh C-contiguous array of the leaf's dtype the first time).

    A row-sparse grad stays sparse while every contribution is sparse; sparse + dense is dense."""
    current = leaf.grad
    dtype = leaf.array.dtype
    if _is_sparse(grad):
        if current is None:
            leaf.grad = grad if grad.dtype == dtype else grad.to(dtype)
        elif current.is_sparse:
            leaf.grad = current + grad
        else:
            grad.add_to(current.array)
    elif current is None:
        leaf.grad = wrap(np.array(grad, dtype=dtype, order="C"))
    elif current.is_sparse:
        leaf.grad = wrap(current.to_array() + np.asarray(grad, dtype=dtype))
    else:
        current.array += grad


def topological_order(root: Node) -> list[Node]:
    """The graph's nodes, root first, each before the nodes of its inputs (no recursion)."""
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for edge in node.inputs:
            if type(edge) is Node and id(edge) not in visited:
                stack.append((edge, False))
    order.reverse()
    return order


def _freed_graph(_grad: np.ndarray) -> tuple:
    raise RuntimeError("Trying to backward through the graph a second time (its buffers were freed after the "
                       "first backward). Pass retain_graph=True to the first backward() to keep them.")


@quiet
def run_backward(root: Node, grad: np.ndarray, retain_graph: bool) -> None:
    """Push `grad` from `root` to the leaves in topological order."""
    grads: dict[int, Any] = {id(root): grad}
    for node in topological_order(root):
        g = grads.pop(id(node), None)
        backward, inputs = node.backward, node.inputs
        if not retain_graph:
            node.backward, node.inputs = _freed_graph, ()
        if g is None:
            continue
        if node.retained is not None:
            accumulate(node.retained, g)
        for edge, edge_grad in zip(inputs, backward(g)):
            if edge is None or edge_grad is None:
                continue
            if type(edge) is Node:
                if _is_sparse(edge_grad):  # only leaves keep a sparse gradient
                    edge_grad = edge_grad.to_array()
                key = id(edge)
                previous = grads.get(key)
                grads[key] = edge_grad if previous is None else previous + edge_grad
            else:
                accumulate(edge, edge_grad)


__all__ = ["AccumulateGrad", "Node", "TensorBase", "accumulate", "record", "register_tensor_class", "run_backward",
           "topological_order", "unbroadcast", "wrap"]
