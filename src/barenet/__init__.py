"""barenet: multilayer perceptrons from scratch on NumPy.

    import barenet as bn
    model = bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 10), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-3), epochs=10)

The package is in four layers, each importing only from those before it:

    core/       the network: backend, layers, activations, losses, optimizers, schedules,
                parameters, the network, the gradient check
    training/   the loop, callbacks, history, data, augmentation, ensembles, metrics, data sets
    files/      model files (save, load, and the checks for untrusted files), JSON export
    app/        runs, recipes, the command line, the benchmark, plots, images, the web app

This module gathers the public names. ``barenet.app.plots``, ``barenet.app.runs`` and the other
application modules are reachable as attributes too (imported when first used).
"""
import importlib

from .core import schedules
from .core.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .core.backend import get_backend, set_backend, to_device, to_numpy
from .core.gradcheck import GradientReport, check_gradients
from .core.layers import Dense, Dropout, Identity, Layer
from .core.losses import MAE, MSE, BinaryCrossEntropy, CrossEntropy, Loss
from .core.network import Network
from .core.optimizers import SGD, Adam, AdamW, Optimizer, RMSProp
from .files.saving import load, save
from .training import callbacks, datasets, metrics
from .training.augment import RandomAffine, random_affine
from .training.callbacks import Callback
from .training.data import Standardizer, minibatches, one_hot, train_test_split
from .training.ensemble import Ensemble
from .training.history import History
from .training.loop import NonFiniteError
from .training.model import Sequential

__version__ = "0.1.0"

__all__ = [
    "Layer", "Dense", "Dropout", "Identity", "RandomAffine", "random_affine", "datasets",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU",
    "Loss", "MSE", "MAE", "BinaryCrossEntropy", "CrossEntropy",
    "Optimizer", "SGD", "RMSProp", "Adam", "AdamW", "schedules",
    "Network", "Sequential", "Ensemble", "History", "NonFiniteError", "Callback", "load", "save",
    "check_gradients", "GradientReport",
    "Standardizer", "one_hot", "train_test_split", "minibatches",
    "set_backend", "get_backend", "to_numpy", "to_device", "callbacks", "metrics",
]

# The application modules, by their short names: ``from barenet import plots`` as before.
_APPLICATION = {"runs": "app.runs", "recipes": "app.recipes", "plots": "app.plots", "images": "app.images",
                "bench": "app.bench", "cli": "app.cli", "web": "app.web", "export": "files.export"}


def __getattr__(name):
    if name in _APPLICATION:
        return importlib.import_module(f".{_APPLICATION[name]}", __name__)
    raise AttributeError(f"module 'barenet' has no attribute {name!r}")
