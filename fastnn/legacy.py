"""PyTorch's legacy tensor types: ``fastnn.LongTensor([1, 2])``, ``FloatTensor(3, 4)``... Each makes a
Tensor of its dtype (from data, or zeros of the sizes given), and ``isinstance(t, fastnn.FloatTensor)``
is true for a float32 tensor, as in PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.tensor import LEGACY_NAMES, Tensor, legacy_array


class _LegacyType(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, Tensor) and instance.array.dtype == cls.dtype


def _legacy(name: str, dtype: np.dtype) -> type:
    def __new__(cls: type, *data: Any, requires_grad: bool = False) -> Tensor:
        t = Tensor(legacy_array(data, np.dtype(dtype), np.dtype(dtype)))
        return t.requires_grad_(True) if requires_grad else t

    doc = f"fastnn.{name}(data) or fastnn.{name}(*sizes): a {np.dtype(dtype).name} Tensor, as torch.{name}."
    return _LegacyType(name, (), {"__new__": __new__, "dtype": np.dtype(dtype), "__doc__": doc})


FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor, ByteTensor, ShortTensor, CharTensor, HalfTensor = (
    _legacy(name, LEGACY_NAMES[name]) for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
                                                   "BoolTensor", "ByteTensor", "ShortTensor", "CharTensor",
                                                   "HalfTensor"))

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
           "LongTensor", "ShortTensor"]
