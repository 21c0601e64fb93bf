"""Sequential, ModuleList and Residual."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from fastnn.nn import functional as F
from fastnn.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Tanh, _Elementwise
from fastnn.nn.linear import Linear
from fastnn.nn.module import Module
from fastnn.tensor import Tensor

# Exact classes: a subclass may override forward, and then must run as written.
_FUSABLE = (ReLU, Sigmoid, Tanh, LeakyReLU, GELU)


def _module(owner: str, where: str, module: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: {where} must be a fastnn.nn.Module, got {type(module).__name__}")
    return module


class Sequential(Module):
    """Modules applied in order. A Linear directly followed by ReLU, Sigmoid, Tanh, LeakyReLU or
    GELU runs as one fused linear kernel call (the plan is rebuilt whenever the sequence changes)."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _module("Sequential", f"entry {name!r}", module))
            return
        for index, module in enumerate(modules):
            self.add_module(str(index), _module("Sequential", f"argument {index}", module))

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, "_plan", None)
        super().__setattr__(name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        object.__setattr__(self, "_plan", None)
        super().add_module(name, module)

    def _build_plan(self) -> list[tuple[Module, _Elementwise | None]]:
        """(module, None) runs the module; (linear, activation) runs both as one fused kernel call.
        Plain tuples of modules, so deepcopy and pickling map them to the copies."""
        modules = [m for m in self._modules.values() if m is not None]
        plan, i = [], 0
        while i < len(modules):
            module = modules[i]
            following = modules[i + 1] if i + 1 < len(modules) else None
            if type(module) is Linear and type(following) in _FUSABLE:
                plan.append((module, following))
                i += 2
            else:
                plan.append((module, None))
                i += 1
        return plan

    def forward(self, input: Any) -> Any:
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self._build_plan()
            object.__setattr__(self, "_plan", plan)
        for module, act in plan:
            if act is None:
                input = module(input)
            else:
                input = F.linear_activation(input, module.weight, module.bias, act.kernel_activation,
                                            act.negative_slope, layer=module._name)
        return input

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"Sequential: index {index} is out of range for {len(modules)} modules")
        return modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        keys = list(self._modules)
        if not -len(keys) <= index < len(keys):
            raise IndexError(f"Sequential: index {index} is out of range for {len(keys)} modules")
        setattr(self, keys[index], module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), _module("Sequential.append", "the module", module))
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (indexing, len, iteration, append, extend)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            if isinstance(modules, Module) or not isinstance(modules, Iterable):
                raise TypeError(f"ModuleList: expected an iterable of modules, got {type(modules).__name__}")
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"ModuleList: index {index} is out of range for {len(modules)} modules")
        return modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[index], module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _module("ModuleList", f"entry {len(self)}", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self


class Residual(Module):
    """y = x + module(x): a skip connection around `module` (whose output has x's shape)."""

    def __init__(self, module: Module) -> None:
        super().__init__()
        self.module = _module("Residual", "module", module)

    def forward(self, input: Tensor) -> Tensor:
        out = self.module(input)
        if out.shape != input.shape:
            raise ValueError(f"Residual: the wrapped module maps {input.shape} to {out.shape}; "
                             "a skip connection needs equal shapes")
        return input + out


__all__ = ["ModuleList", "Residual", "Sequential"]
