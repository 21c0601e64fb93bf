"""scikit-learn estimators backed by fastnn (needs scikit-learn: ``pip install 'fastnn[interop]'``).

``MLPClassifier``/``MLPRegressor`` follow scikit-learn's ``sklearn.neural_network`` estimators;
``NeuralNetClassifier``/``NeuralNetRegressor`` wrap any fastnn module with skorch's conventions.
"""

try:
    import sklearn  # noqa: F401  (absolute import: the scikit-learn package, not this module)
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("fastnn.sklearn needs scikit-learn: pip install 'fastnn[interop]' "
                      "(or pip install scikit-learn)") from exc

from fastnn.sklearn.mlp import MLPClassifier, MLPRegressor
from fastnn.sklearn.net import MLPModule, NeuralNet, NeuralNetClassifier, NeuralNetRegressor

__all__ = ["MLPClassifier", "MLPModule", "MLPRegressor", "NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor"]
