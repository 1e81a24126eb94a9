"""barenet: multilayer perceptrons and convolutional networks from scratch on NumPy.

    import barenet as bn
    model = bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 10), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-3), epochs=10)

The package is in five layers, each importing only from those before it:

    core/          the network: backends, layers (dense, convolution, pooling, normalisation,
                   preprocessing and augmentation), activations, losses, optimizers,
                   schedules, parameters, the gradient check
    files/         model files from core objects and plain data (writing, reading untrusted
                   files, atomic writes), JSON export
    training/      Sequential and its loop, callbacks, history, data, ensembles, metrics, data
                   sets, data parallelism, bn.save and bn.load
    integrations/  scikit-learn estimators, ONNX export
    app/           runs, recipes, the command line, the benchmark, plots, images, the web app

This module gathers the public names, imported when first used. The namespaces
(``bn.datasets``, ``bn.callbacks``, ``bn.metrics``, ``bn.schedules``, ``bn.images``, ``bn.plots``,
``bn.sklearn``, ``bn.onnx``) are modules too: ``from barenet.datasets import load_mnist``.
"""
import importlib

__version__ = "0.1.0"

# Where each public name lives. They are imported when first used, so that ``import barenet``
# is instant (NumPy is loaded with the first layer, loss or data set you touch) and the command
# line answers Ctrl-C from its first moment.
_PUBLIC = {
    ".core.activations": ["GELU", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh"],
    ".core.backend": ["get_backend", "set_backend", "using_backend", "to_device", "to_numpy"],
    ".core.gradcheck": ["GradientReport", "check_gradients"],
    ".core.layers": ["Dense", "Dropout", "Identity", "Layer"],
    ".core.conv": ["Conv2D"],
    ".core.pooling": ["AvgPool2D", "GlobalAvgPool2D", "MaxPool2D"],
    ".core.normalization": ["BatchNorm1D", "BatchNorm2D"],
    ".core.shaping": ["Flatten", "Reshape"],
    ".core.losses": ["MAE", "MSE", "Poisson", "BinaryCrossEntropy", "CrossEntropy", "Loss"],
    ".core.network": ["Network"],
    ".core.optimizers": ["SGD", "Adam", "AdamW", "Optimizer", "RMSProp"],
    ".training.storage": ["load", "save"],
    ".integrations.onnx": ["to_onnx"],
    ".core.augment": ["RandomAffine", "random_affine"],
    ".core.preprocessing": ["Standardizer"],
    ".training.callbacks": ["Callback"],
    ".training.data": ["minibatches", "one_hot", "train_test_split"],
    ".training.ensemble": ["Ensemble"],
    ".training.history": ["History"],
    ".training.loop": ["NonFiniteError"],
    ".training.model": ["Sequential"],
    ".training.threads": ["set_threads", "get_threads", "threads", "blas_info"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = [
    "Layer", "Dense", "Dropout", "Identity", "RandomAffine", "random_affine", "datasets",
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "BatchNorm1D", "BatchNorm2D", "Flatten", "Reshape",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU",
    "Loss", "MSE", "MAE", "Poisson", "BinaryCrossEntropy", "CrossEntropy",
    "Optimizer", "SGD", "RMSProp", "Adam", "AdamW", "schedules",
    "Network", "Sequential", "Ensemble", "History", "NonFiniteError", "Callback", "load", "save",
    "check_gradients", "GradientReport", "to_onnx",
    "Standardizer", "one_hot", "train_test_split", "minibatches",
    "set_backend", "get_backend", "using_backend", "to_numpy", "to_device", "set_threads", "get_threads", "threads", "blas_info",
    "callbacks", "metrics",
    "images", "plots", "sklearn", "onnx",
]

# The namespaces: each is also a module of its own name (``import barenet.datasets``,
# ``from barenet.datasets import load_mnist``), the same module object as ``bn.datasets``.
NAMESPACES = ("datasets", "callbacks", "metrics", "schedules", "images", "plots", "sklearn", "onnx")


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value  # the next lookup is an ordinary attribute
        return value
    if name in NAMESPACES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'barenet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(NAMESPACES))
