"""fastnn.optim: PyTorch's optimizers (class and functional form) and learning-rate schedulers."""

from fastnn.optim import functional, lr_scheduler
from fastnn.optim.adadelta import Adadelta
from fastnn.optim.adagrad import Adagrad
from fastnn.optim.adam import Adam, AdamW
from fastnn.optim.optimizer import Optimizer
from fastnn.optim.rmsprop import RMSprop
from fastnn.optim.sgd import SGD
from fastnn.optim.sparse_adam import SparseAdam

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SparseAdam", "functional",
           "lr_scheduler"]
