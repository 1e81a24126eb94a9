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

__version__ = "0.1.0"

# Where each public name lives. They are imported when first used, so that ``import barenet``
# is instant (NumPy is loaded with the first layer, loss or data set you touch) and the command
# line answers Ctrl-C from its first moment.
_PUBLIC = {
    ".core": ["schedules"],
    ".core.activations": ["GELU", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh"],
    ".core.backend": ["get_backend", "set_backend", "to_device", "to_numpy"],
    ".core.gradcheck": ["GradientReport", "check_gradients"],
    ".core.layers": ["Dense", "Dropout", "Identity", "Layer"],
    ".core.losses": ["MAE", "MSE", "BinaryCrossEntropy", "CrossEntropy", "Loss"],
    ".core.network": ["Network"],
    ".core.optimizers": ["SGD", "Adam", "AdamW", "Optimizer", "RMSProp"],
    ".files.saving": ["load", "save"],
    ".files.onnx_export": ["to_onnx"],
    ".training": ["callbacks", "datasets", "metrics"],
    ".training.augment": ["RandomAffine", "random_affine"],
    ".training.callbacks": ["Callback"],
    ".training.data": ["Standardizer", "minibatches", "one_hot", "train_test_split"],
    ".training.ensemble": ["Ensemble"],
    ".training.history": ["History"],
    ".training.loop": ["NonFiniteError"],
    ".training.model": ["Sequential"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = [
    "Layer", "Dense", "Dropout", "Identity", "RandomAffine", "random_affine", "datasets",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU",
    "Loss", "MSE", "MAE", "BinaryCrossEntropy", "CrossEntropy",
    "Optimizer", "SGD", "RMSProp", "Adam", "AdamW", "schedules",
    "Network", "Sequential", "Ensemble", "History", "NonFiniteError", "Callback", "load", "save",
    "check_gradients", "GradientReport", "to_onnx",
    "Standardizer", "one_hot", "train_test_split", "minibatches",
    "set_backend", "get_backend", "to_numpy", "to_device", "callbacks", "metrics",
]

# The application modules, by their short names: ``from barenet import plots`` as before.
_APPLICATION = {"runs": "app.runs", "recipes": "app.recipes", "plots": "app.plots", "images": "app.images",
                "bench": "app.bench", "cli": "app.cli", "web": "app.web", "export": "files.export"}


def __getattr__(name):
    if name in _WHERE:
        importlib.import_module(".files.saving", __name__)  # gives Sequential its save and load
        module = importlib.import_module(_WHERE[name], __name__)
        value = getattr(module, name) if hasattr(module, name) else importlib.import_module(f".{name}", module.__name__)
        globals()[name] = value  # the next lookup is an ordinary attribute
        return value
    if name in _APPLICATION:
        return importlib.import_module(f".{_APPLICATION[name]}", __name__)
    raise AttributeError(f"module 'barenet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_APPLICATION))
