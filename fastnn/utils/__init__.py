"""fastnn.utils, as torch.utils: ``fastnn.utils.data`` is fastnn.data under PyTorch's name."""

from fastnn.utils import data

__all__ = ["data"]
