"""The functional form of every optimizer update, on lists of NumPy arrays (as torch.optim's
``_functional``): a facade over the functions that live beside their classes.

Each function updates ``params`` (and the state arrays passed with them) in place through the
active backend's fused kernel, one parameter at a time; the update rule is the class docstring's
(:class:`~fastnn.optim.SGD` for :func:`sgd`, ...). ``grads[i]`` is the gradient of ``params[i]``;
``maximize`` ascends instead of descending.

With ``validate=True`` (the default) the hyperparameters, every gradient (an array of its
parameter's shape and dtype with only finite values) and every state array are checked before
anything changes, so an update applies to all parameters or to none. The optimizer classes
check all their parameter groups up front and pass ``validate=False``.

State that does not exist yet is created where the torch function creates it: an SGD momentum
buffer that is ``None`` becomes a copy of the (decayed) gradient and is stored back into
``momentum_buffer_list``. ``state_steps`` hold each parameter's step count *after* this step's
increment (so the first step passes 1).
"""

from fastnn.optim.adadelta import adadelta
from fastnn.optim.adagrad import adagrad
from fastnn.optim.adam import adam, adamw
from fastnn.optim.optimizer import check_gradients, reject_sparse
from fastnn.optim.rmsprop import rmsprop
from fastnn.optim.sgd import sgd
from fastnn.optim.sparse_adam import sparse_adam

__all__ = ["adadelta", "adagrad", "adam", "adamw", "check_gradients", "reject_sparse", "rmsprop", "sgd",
           "sparse_adam"]
