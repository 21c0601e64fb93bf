"""fastnn.cuda: torch.cuda's answers on a CPU engine. fastnn runs on the CPU only, so there is no
CUDA device: ``is_available()`` is False and ``device_count()`` 0, which is what the usual
``"cuda" if torch.cuda.is_available() else "cpu"`` needs. Seeding is accepted and does nothing
(as torch does without a GPU); anything that needs a GPU raises a RuntimeError saying why.
"""

from __future__ import annotations

from fastnn.autograd.device import CPU_ONLY


def is_available() -> bool:
    """False: fastnn is a CPU engine."""
    return False


def device_count() -> int:
    """0: fastnn is a CPU engine."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Accepted and ignored, as torch.cuda.manual_seed is on a machine without a GPU."""


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored, as torch.cuda.manual_seed_all is on a machine without a GPU."""


def current_device() -> int:
    raise RuntimeError(f"fastnn.cuda.current_device: {CPU_ONLY}")


def synchronize(device: object = None) -> None:
    raise RuntimeError(f"fastnn.cuda.synchronize: {CPU_ONLY}")


__all__ = ["current_device", "device_count", "is_available", "is_initialized", "manual_seed", "manual_seed_all",
           "synchronize"]
