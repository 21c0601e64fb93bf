"""fastnn's one device: the CPU. A device argument is accepted when it names the CPU."""

from __future__ import annotations

from typing import Any


def is_device(value: Any) -> bool:
    """True for a value naming the CPU ("cpu", "cpu:0", a device object); False for a value that is
    not a device at all (a dtype, say); a RuntimeError for any other device."""
    name = str(value) if type(value).__name__ == "device" else value
    if not isinstance(name, str):
        return False
    if name.split(":")[0] != "cpu":
        raise RuntimeError(f"fastnn runs on the CPU only; device {name!r} is not available")
    return True


__all__ = ["is_device"]
