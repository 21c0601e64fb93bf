"""Module and Parameter: the building blocks of a network, as in torch.nn.

A Module registers the Parameters, buffers and sub-Modules assigned to its attributes, in
assignment order. Registered values also live in the instance ``__dict__``, so reading
``self.weight`` in a forward pass is a plain attribute lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from fastnn.tensor import Tensor, _infer_array, _is_device, _wrap


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter (requires_grad=True by default).

    Its array is always C-contiguous and writeable: optimizers update ``p.array`` in place.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = np.zeros(0, dtype=np.float32)
        elif isinstance(data, (Tensor, np.ndarray)):
            array = data.array if isinstance(data, Tensor) else data  # shared, as torch.nn.Parameter does
        else:
            try:
                array = _infer_array(data, None)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"Parameter: cannot make a parameter from {type(data).__name__} ({exc})") from None
        if not array.flags.c_contiguous or not array.flags.writeable:
            array = np.array(array, order="C")
        self.array = array
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


_structure_version = 0
"""Bumped whenever any module's registered parameters, buffers or children may change; the
cached parameter lists (see Module._unique_members) are valid while it stays the same."""


def structure_version() -> int:
    """A counter that changes whenever any module's parameters, buffers or children may have changed."""
    return _structure_version


def _structure_changed() -> None:
    global _structure_version
    _structure_version += 1


class _IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _staged_value(key: str, value: Any, target: np.ndarray, problems: list[str]) -> np.ndarray | None:
    """A copy of ``value`` in ``target``'s dtype for load_state_dict, or None after appending why it
    cannot be copied into ``target`` (not a real number array, wrong shape, read-only target)."""
    try:  # a torch tensor that requires grad, or an object that is no array, fails here
        source = np.asarray(value.array if isinstance(value, Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        problems.append(f"{key}: cannot read the value as an array ({exc})")
        return None
    if source.dtype.kind not in "biuf":
        problems.append(f"{key}: cannot copy a value of dtype {source.dtype} into a {target.dtype} tensor")
        return None
    if source.shape != target.shape:
        problems.append(f"size mismatch for {key}: copying a param with shape {source.shape}, "
                        f"the shape in the current model is {target.shape}")
        return None
    if not target.flags.writeable:
        problems.append(f"{key}: the tensor in the current model has read-only storage {target.shape} "
                        f"{target.dtype}; it cannot be loaded into")
        return None
    return np.array(source, dtype=target.dtype, copy=True)


class Module:
    """Base class of every layer: parameters, sub-modules, train/eval mode, state_dict."""

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        _structure_changed()
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, params)
            params[name] = value
        elif isinstance(value, Module):
            modules = self.__dict__.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign a module before Module.__init__() call")
            self._remove_from(name, modules)
            modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(fastnn.nn.Parameter or None expected)")
            params[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            self._buffers[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(fastnn.nn.Module or None expected)")
            self._modules[name] = None
        object.__setattr__(self, name, value)

    def _remove_from(self, name: str, keep: dict) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)

    def __delattr__(self, name: str) -> None:
        _structure_changed()
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        _structure_changed()
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register a non-trainable tensor that is part of the state_dict."""
        _structure_changed()
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._remove_from(name, self._buffers)
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every submodule (children first) and then on this module, as torch's apply."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def register_module(self, name: str, module: Module | None) -> None:
        self.add_module(name, module)

    def add_module(self, name: str, module: Module | None) -> None:
        _structure_changed()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        self._remove_from(name, self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # ---------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} is missing the required forward() method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, each once, depth first."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def _module_list(self) -> list[Module]:
        """named_modules() without the names."""
        seen: set[int] = set()
        order, stack = [], [self]
        while stack:
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            order.append(module)
            stack.extend(m for m in reversed(module._modules.values()) if m is not None)
        return order

    def modules(self) -> Iterator[Module]:
        return iter(self._module_list())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, each shared parameter once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return iter(self._unique_members("_parameters", recurse))

    def _unique_members(self, registry: str, recurse: bool) -> list[Tensor]:
        """The registry's values over this module (and its descendants), each once, in
        named_parameters' order; no names are built, and the list is cached until the structure
        of any module changes (zero_grad runs every step)."""
        key = (registry, recurse)
        cache = self.__dict__.get("_members_cache")
        if cache is not None and cache[0] == _structure_version and key in cache[1]:
            return cache[1][key]
        if cache is None or cache[0] != _structure_version:
            cache = (_structure_version, {})
            object.__setattr__(self, "_members_cache", cache)
        seen: set[int] = set()
        members: list[Tensor] = []
        cache[1][key] = members
        modules = self._module_list() if recurse else [self]
        for module in modules:
            for value in getattr(module, registry).values():
                if value is not None and id(value) not in seen:
                    seen.add(id(value))
                    members.append(value)
        return members

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return iter(self._unique_members("_buffers", recurse))

    # ---------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default) or to zeros in place."""
        for param in self._unique_members("_parameters", True):
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            elif param.grad.is_sparse:
                param.grad.zero_()
            else:
                param.grad.array[...] = 0

    # ---------------------------------------------------------------- dtype
    def to(self, *args: Any, dtype: Any = None) -> Module:
        """Convert every floating parameter, gradient and buffer to `dtype`, in place (objects kept).
        A device argument must be "cpu" (model.to("cpu") is a no-op)."""
        for arg in args:
            if not _is_device(arg):
                dtype = arg
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are supported, got {dtype}")
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.array.dtype.kind == "f" and tensor.array.dtype != dtype:
                tensor.array = np.ascontiguousarray(tensor.array, dtype=dtype)
                if tensor.grad is not None and tensor.grad.is_sparse:
                    tensor.grad = tensor.grad.to(dtype)
                elif tensor.grad is not None:
                    tensor.grad.array = np.ascontiguousarray(tensor.grad.array, dtype=dtype)
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ---------------------------------------------------------------- state
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """name -> tensor for every parameter and buffer; detached, sharing storage (like PyTorch)."""
        state: OrderedDict = OrderedDict()
        for module_name, module in self.named_modules():
            base = prefix + (module_name + "." if module_name else "")
            for registry in (module._parameters, module._buffers):
                for name, value in registry.items():
                    if value is not None:
                        state[base + name] = value if keep_vars else _wrap(value.array)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy values (Tensors or arrays) into the parameters and buffers, in place; all or nothing.

        Every key, value, shape and dtype and every target's writability is checked first, and the
        values are staged as copies in the targets' dtypes (so a value that aliases another target
        is read before anything is written): on any problem (or, when strict, a missing or
        unexpected key) it raises naming them all and changes nothing. Only then are the staged
        copies written, which cannot fail.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems, staged = [], {}
        for key, target in own.items():
            if key in state_dict:
                array = _staged_value(key, state_dict[key], target.array, problems)
                if array is not None:
                    staged[key] = array
        if strict:
            if missing:
                problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))
        for key, array in staged.items():
            own[key].array[...] = array
        return _IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        extra = self.extra_repr()
        body = ([extra] if extra else []) + lines
        if not lines:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(body) + "\n)"


__all__ = ["Module", "Parameter", "structure_version"]
