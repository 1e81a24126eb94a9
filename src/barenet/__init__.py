"""barenet: multilayer perceptrons from scratch on NumPy.

    import barenet as bn
    model = bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 10), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-3), epochs=10)
"""
from . import datasets, schedules
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .augment import RandomAffine, random_affine
from .backend import get_backend, set_backend
from .callbacks import Callback
from .ensemble import Ensemble
from .data import Standardizer, minibatches, one_hot, train_test_split
from .gradcheck import GradientReport, check_gradients
from .layers import Dense, Dropout, Identity, Layer
from .losses import MAE, MSE, BinaryCrossEntropy, CrossEntropy, Loss
from .model import History, NonFiniteError, Sequential
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSProp
from .saving import load

__version__ = "0.1.0"

__all__ = [
    "Layer", "Dense", "Dropout", "Identity", "RandomAffine", "random_affine", "datasets",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU",
    "Loss", "MSE", "MAE", "BinaryCrossEntropy", "CrossEntropy",
    "Optimizer", "SGD", "RMSProp", "Adam", "AdamW", "schedules",
    "Sequential", "Ensemble", "History", "NonFiniteError", "Callback", "load",
    "check_gradients", "GradientReport",
    "Standardizer", "one_hot", "train_test_split", "minibatches",
    "set_backend", "get_backend",
]
