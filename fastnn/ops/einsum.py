"""einsum: Einstein summation by NumPy's einsum (BLAS where it can), differentiable.

The gradient of each operand is itself an einsum: the output's gradient and the other operands,
summed into the operand's subscripts (and broadcast over subscripts that appear nowhere else).
Subscripts are letters; an operand may not repeat a subscript (a diagonal) when it requires grad.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, record
from fastnn.autograd.numerics import quiet
from fastnn.ops.arithmetic import binary_operands
from fastnn.ops.checks import as_tensor


def _parse(equation: str, count: int) -> tuple[list[str], str]:
    equation = equation.replace(" ", "")
    if "." in equation:
        raise ValueError(f"einsum: '...' (ellipsis) is not supported, got {equation!r}")
    inputs, arrow, output = equation.partition("->")
    subscripts = inputs.split(",")
    if len(subscripts) != count:
        raise ValueError(f"einsum: the equation {equation!r} names {len(subscripts)} operands, got {count}")
    if not all(s.isalpha() or s == "" for s in subscripts + [output]):
        raise ValueError(f"einsum: subscripts must be letters, got {equation!r}")
    if not arrow:
        counts = Counter("".join(subscripts))
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    return subscripts, output


@quiet
def einsum(equation: str, *operands: Any) -> TensorBase:
    """torch.einsum(equation, *operands) (or a list of operands); e.g. 'ij,jk->ik', 'bij,bjk->bik'."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    tensors = [as_tensor(t, "einsum") for t in operands]
    arrays = [t.array for t in tensors]
    for i in range(1, len(tensors)):
        arrays[0], arrays[i], _ = binary_operands("einsum", tensors[0], tensors[i])
    subscripts, output = _parse(equation, len(tensors))
    for s, a in zip(subscripts, arrays):
        if len(s) != a.ndim:
            raise ValueError(f"einsum: subscripts {s!r} do not fit an operand with {a.ndim} dimensions")
    spec = ",".join(subscripts) + "->" + output
    try:
        out = np.asarray(np.einsum(spec, *arrays, optimize=len(arrays) > 2))
    except ValueError as exc:
        raise ValueError(f"einsum: {exc} (equation {spec!r}, shapes {[a.shape for a in arrays]})") from None
    sizes = {c: n for s, a in zip(subscripts, arrays) for c, n in zip(s, a.shape)}

    def backward(g: np.ndarray) -> tuple:
        grads = []
        for i, (t, s) in enumerate(zip(tensors, subscripts)):
            if not t.requires_grad:
                grads.append(None)
                continue
            if len(set(s)) != len(s):
                raise RuntimeError(f"einsum: no gradient for an operand with a repeated subscript {s!r}")
            others = [output] + [subscripts[j] for j in range(len(arrays)) if j != i]
            known = set("".join(others))
            target = "".join(c for c in s if c in known)
            partial = np.einsum(",".join(others) + "->" + target, g,
                                *[arrays[j] for j in range(len(arrays)) if j != i])
            shape = tuple(sizes[c] if c in known else 1 for c in s)
            grads.append(np.broadcast_to(partial.reshape(shape), arrays[i].shape).astype(arrays[i].dtype))
        return tuple(grads)

    return record(out, tuple(tensors), backward, "EinsumBackward0")


__all__ = ["einsum"]
