"""fastnn.nn: layers, losses, containers, functional API and initialisers, as torch.nn."""

from fastnn.nn import functional, init, utils
from fastnn.nn.activation import GELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from fastnn.nn.container import ModuleList, Residual, Sequential
from fastnn.nn.dropout import Dropout
from fastnn.nn.embedding import Embedding, EmbeddingBag
from fastnn.nn.linear import Flatten, Identity, Linear
from fastnn.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from fastnn.nn.module import Module, Parameter

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "EmbeddingBag", "Flatten", "GELU",
    "Hardtanh", "Identity", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleList",
    "NLLLoss", "Parameter",
    "ReLU", "Residual", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional", "init", "utils",
]
