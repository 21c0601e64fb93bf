"""fastnn.autograd: grad mode, dtypes, the autodiff engine and row-sparse gradients.

``engine.record(out, parents, backward)`` is how every op joins the graph (see engine.py).
"""

from fastnn.autograd.engine import Node, TensorBase, record, unbroadcast, wrap
from fastnn.autograd.mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from fastnn.autograd.sparse import SparseTensor
from fastnn.autograd.variable import Variable

__all__ = ["Node", "SparseTensor", "TensorBase", "enable_grad", "inference_mode", "is_grad_enabled", "no_grad",
           "record", "set_grad_enabled", "unbroadcast", "wrap", "Variable"]
