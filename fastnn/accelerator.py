"""fastnn.accelerator: torch.accelerator's answers on a CPU engine (no accelerator is present)."""

from __future__ import annotations

from fastnn.autograd.device import device


def is_available() -> bool:
    """False: fastnn runs on the CPU only."""
    return False


def current_accelerator(check_available: bool = False) -> device | None:
    """None: there is no accelerator (torch returns None too when none is present)."""
    return None


def device_count() -> int:
    """0: there is no accelerator."""
    return 0


__all__ = ["current_accelerator", "device_count", "is_available"]
