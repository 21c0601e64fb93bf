"""fastnn.nn: layers, losses, containers, functional API and initialisers, as torch.nn."""

from fastnn.nn import functional, init, parallel, utils
from fastnn.nn.activation import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
)
from fastnn.nn.container import ModuleList, Residual, Sequential
from fastnn.nn.distance import CosineSimilarity, PairwiseDistance
from fastnn.nn.dropout import Dropout
from fastnn.nn.embedding import Embedding, EmbeddingBag
from fastnn.nn.layer_norm import LayerNorm
from fastnn.nn.linear import Flatten, Identity, Linear
from fastnn.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    MultiLabelSoftMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from fastnn.nn.module import Module, Parameter
from fastnn.nn.normalization import BatchNorm1d

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "EmbeddingBag", "Flatten", "GELU",
    "Hardtanh", "Identity", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleList",
    "NLLLoss", "Parameter",
    "ReLU", "Residual", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional", "init", "parallel", "utils",
]
__all__ += [  # issue 10: normalisation, smooth activations, distances, more losses
    "BatchNorm1d", "CosineSimilarity", "LayerNorm", "ELU", "HuberLoss", "KLDivLoss", "Mish", "MultiLabelSoftMarginLoss",
    "PairwiseDistance", "SiLU", "SmoothL1Loss", "Softplus", "Softsign",
]
