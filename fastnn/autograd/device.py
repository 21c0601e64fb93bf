"""fastnn's one device: the CPU. ``fastnn.device("cpu")`` exists so that PyTorch's device
boilerplate runs unchanged; naming any other device (CUDA, MPS...) is a clear error."""

from __future__ import annotations

from typing import Any

CPU_ONLY = ("fastnn is a CPU engine: it runs on the CPU only, so there is no CUDA (or other accelerator) "
            "device; use device 'cpu'")


class device:  # noqa: N801 - torch.device
    """A device: always the CPU (``device("cpu")``, ``device("cpu:0")``, ``device("cpu", 0)``).

    It compares equal to another CPU device and to the string "cpu"."""

    __slots__ = ("index",)

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - torch's argument name
        if isinstance(type, device):
            type, index = "cpu", type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type.__class__.__name__}")
        name, _, number = type.partition(":")
        if name != "cpu":
            raise RuntimeError(f"device {type!r}: {CPU_ONLY}")
        if number:
            if not number.isdigit():
                raise RuntimeError(f"device {type!r}: invalid device index {number!r}")
            index = int(number)
        self.index = index

    @property
    def type(self) -> str:
        return "cpu"

    def __repr__(self) -> str:
        return "device(type='cpu')" if self.index is None else f"device(type='cpu', index={self.index})"

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other in ("cpu", str(self))
        return isinstance(other, device) and other.index == self.index

    def __hash__(self) -> int:
        return hash(("cpu", self.index))


CPU = device("cpu")
_default = CPU


def check_device(op: str, value: Any) -> None:
    """A factory's ``device=`` argument: None or the CPU; any other device is the CPU-only error."""
    if value is not None and not is_device(value):
        raise TypeError(f"{op}: device must be a device or a string such as 'cpu', got {value!r}")


def is_device(value: Any) -> bool:
    """True for a value naming the CPU ("cpu", "cpu:0", a device); False for a value that is not a
    device at all (a dtype, say); a RuntimeError naming fastnn as a CPU engine for any other device."""
    if isinstance(value, device):
        return True
    name = str(value) if type(value).__name__ == "device" else value  # torch.device objects too
    if not isinstance(name, str):
        return False
    if name.split(":")[0] != "cpu":
        if name.split(":")[0] in ("cuda", "mps", "xpu", "hip", "meta", "xla", "mtia", "ipu", "hpu", "lazy", "vulkan"):
            raise RuntimeError(f"device {name!r}: {CPU_ONLY}")
        return False
    return True


def set_default_device(value: Any) -> None:
    """Accepts the CPU (fastnn's only device, already the default); any other device is an error."""
    if value is not None and not is_device(value):
        raise RuntimeError(f"set_default_device: {value!r} is not a device; {CPU_ONLY}")


def get_default_device() -> device:
    """device(type='cpu')."""
    return _default


__all__ = ["CPU", "CPU_ONLY", "device", "get_default_device", "is_device", "set_default_device"]
