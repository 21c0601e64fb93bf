"""fastnn.ops: each differentiable op defined once, as a function on tensors.

An op checks its arguments (ops/checks.py), computes its output array (by NumPy or a kernel of
the active backend) and records a backward closure with ``fastnn.autograd.engine.record``.
The groups: arithmetic, pointwise, reduce, shape, activations, dropout, linear, embedding,
losses, inplace. ``fastnn.Tensor`` takes its methods from the groups' mixin classes;
``fastnn.nn.functional`` and ``fastnn.functions`` give them PyTorch's function names.
"""
