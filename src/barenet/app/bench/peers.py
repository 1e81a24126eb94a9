"""The systems ``barenet bench`` trains side by side on the CPU.

barenet (NumPy and numba backends), PyTorch, JAX, Keras and scikit-learn, each building the same
dense ReLU network with Adam (lr 1e-3) and softmax cross-entropy, and training one epoch per
call. Every system has ``epoch(X, y)`` (returns its seconds) and ``accuracy(X, y)``; those that
are timed for inference have ``predictor(x)``, a function of no arguments that predicts x.
"""
from __future__ import annotations

import time

import numpy as np

from ...core.activations import ReLU
from ...core.layers import Dense
from ...core.losses import CrossEntropy
from ...core.optimizers import Adam
from ...training.model import Sequential


SIZES = (784, 256, 128, 10)  # the default network; the width sweep trains 784-w-w-10 too


def widths_network(width: int) -> tuple:
    """Return the width sweep's network: 784-w-w-10."""
    return (784, width, width, 10)


def parameter_count(sizes) -> int:
    """Return the number of weights and biases of the dense network ``sizes``: Σ (a·b + b)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def load_data(limit_train=None):
    """Return (name, X, y, X_test, y_test): Fashion-MNIST, or random data of its shapes if not found.

    X (60,000, 784) float32 in [0, 1], y (60,000,) class ids 0-9, the 10,000 test images alike;
    only the first ``limit_train`` training images when given.
    """
    from ...training.datasets import DatasetNotFoundError, load_fashion_mnist

    try:
        (X, y), (Xt, yt) = load_fashion_mnist(download=False)
        name = "Fashion-MNIST"
    except (DatasetNotFoundError, ValueError):
        rng = np.random.default_rng(0)
        X, y = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
        Xt, yt = rng.random((10000, 784), dtype=np.float32), rng.integers(0, 10, 10000)
        name = "random data shaped like Fashion-MNIST (Fashion-MNIST not found)"
    if limit_train:
        X, y = X[:limit_train], y[:limit_train]
    return name, X, y, Xt, yt


# -- the systems: each builds a model and trains one epoch per call ------------------------------

class Barenet:
    """barenet's ``fit``, one epoch per call, on the NumPy backend (the reference code).

    Parameters
    ----------
    batch_size : int
        The minibatch size.
    seed : int, default 0
        The random seed: of the initial weights and, where the system draws one, the epochs' order.
    sizes : tuple of int, default SIZES
        The layer widths: Dense layers with ReLU between them.
    """

    name = "barenet"
    backend = "numpy"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [Dense(a, b)] + ([ReLU()] if i < len(sizes) - 2 else [])
        self.model = Sequential(*layers, seed=seed, backend=self.backend)  # imports numba now, not in an epoch
        self.loss, self.optimizer, self.batch_size = CrossEntropy(), Adam(1e-3), batch_size

    def epoch(self, X, y):
        """One epoch through fit; the time of its training loop (fit's own clock)."""
        self.model.fit(X, y, loss=self.loss, optimizer=self.optimizer, epochs=1, batch_size=self.batch_size,
                       verbose=0)
        return self.model.history["time"][-1]

    def accuracy(self, X, y):
        """Return the fraction of X's rows predicted as their class in y."""
        return float((self.model.predict(X) == y).mean())

    def predictor(self, x):
        """Return a function that computes the model's class probabilities for x."""
        def predict():
            return self.model.predict_proba(x)
        return predict


class BarenetNumba(Barenet):
    """barenet with the ``"numba"`` backend: the same model, the hot loops compiled."""

    name = "barenet-numba"
    backend = "numba"


class Torch:
    """PyTorch eager: ``nn.Sequential`` of Linear and ReLU, ``optim.Adam``, a hand-written loop.

    Parameters
    ----------
    batch_size, seed, sizes
        As for ``Barenet``.
    """

    name = "pytorch"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        import torch

        torch.manual_seed(seed)
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
        self.torch, self.model = torch, torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = torch.nn.CrossEntropyLoss()
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, X, y):
        """Train one epoch in a new random order; return its seconds."""
        torch = self.torch
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        started = time.perf_counter()
        order = torch.randperm(len(X), generator=self.generator)
        self.model.train()
        for start in range(0, len(X), self.batch_size):
            idx = order[start:start + self.batch_size]
            self.optimizer.zero_grad()
            self.loss(self.model(Xt[idx]), yt[idx]).backward()
            self.optimizer.step()
        return time.perf_counter() - started

    def accuracy(self, X, y):
        """Return the fraction of X's rows whose largest output is their class in y."""
        with self.torch.no_grad():
            self.model.eval()
            return float((self.model(self.torch.from_numpy(X)).argmax(1).numpy() == y).mean())

    def predictor(self, x):
        """Return a function that computes softmax(model(x)) without gradients."""
        torch, xt = self.torch, self.torch.from_numpy(x)
        self.model.eval()

        def predict():
            with torch.no_grad():
                return torch.softmax(self.model(xt), dim=1)
        return predict


class Jax:
    """JAX at its fastest: the whole step compiled by ``jax.jit`` into one XLA program.

    Forward, loss, gradients and optax's Adam in one program; the data set kept in JAX arrays and
    each minibatch gathered inside it. Weights start He-normal, biases at zero.

    Parameters
    ----------
    batch_size, seed, sizes
        As for ``Barenet``.
    """

    name = "jax"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        import jax
        import jax.numpy as jnp
        import optax

        self.jax, self.jnp, self.batch_size = jax, jnp, batch_size
        keys = jax.random.split(jax.random.PRNGKey(seed), len(sizes) - 1)
        self.params = [(jax.random.normal(k, (a, b), jnp.float32) * np.sqrt(2.0 / a), jnp.zeros(b, jnp.float32))
                       for k, a, b in zip(keys, sizes[:-1], sizes[1:])]
        self.optimizer = optax.adam(1e-3)
        self.state = self.optimizer.init(self.params)
        self.rng = np.random.default_rng(seed)
        self.data = None

        def logits(params, x):
            for i, (W, b) in enumerate(params):
                x = x @ W + b
                if i < len(params) - 1:
                    x = jax.nn.relu(x)
            return x

        def loss(params, x, y):
            return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()

        def step(params, state, X, y, idx):
            value, grads = jax.value_and_grad(loss)(params, X[idx], y[idx])
            updates, state = self.optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state, value

        self.logits, self.step = jax.jit(logits), jax.jit(step)

    def _on_device(self, X, y):
        """Return the data set as JAX arrays, copied once (kept while X is the data set trained on)."""
        if self.data is None or self.data[0] is not X:
            self.data = (X, self.jnp.asarray(X), self.jnp.asarray(y.astype(np.int32)))
        return self.data[1:]

    def epoch(self, X, y):
        """Train one epoch in a new random order; return its seconds, the last step waited for."""
        Xd, yd = self._on_device(X, y)
        started = time.perf_counter()
        order = self.rng.permutation(len(X)).astype(np.int32)
        for start in range(0, len(X), self.batch_size):
            self.params, self.state, value = self.step(self.params, self.state, Xd, yd,
                                                       order[start:start + self.batch_size])
        self.jax.block_until_ready(self.params)
        return time.perf_counter() - started

    def accuracy(self, X, y):
        """Return the fraction of X's rows whose largest logit is their class in y."""
        return float((np.asarray(self.logits(self.params, X)).argmax(1) == y).mean())

    def predictor(self, x):
        """Return a function that computes the jitted softmax(logits(x)) and waits for it."""
        xd = self.jnp.asarray(x)
        predict = self.jax.jit(lambda params, x: self.jax.nn.softmax(self.logits(params, x), axis=1))
        return lambda: predict(self.params, xd).block_until_ready()


class Keras:
    """Keras 3's ``fit``, one epoch per call, on the PyTorch backend.

    ``KERAS_BACKEND=torch`` is set by ``systems.available_systems``, unless the environment chose
    another backend.

    Parameters
    ----------
    batch_size, seed, sizes
        As for ``Barenet``.
    """

    name = "keras"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        import keras

        keras.utils.set_random_seed(seed)
        self.model = keras.Sequential(
            [keras.Input((sizes[0],))]
            + [keras.layers.Dense(width, activation="relu" if i < len(sizes) - 2 else None)
               for i, width in enumerate(sizes[1:])])
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        self.batch_size = batch_size

    def epoch(self, X, y):
        """Train one epoch through ``fit`` (shuffled); return its seconds."""
        started = time.perf_counter()
        self.model.fit(X, y, batch_size=self.batch_size, epochs=1, shuffle=True, verbose=0)
        return time.perf_counter() - started

    def accuracy(self, X, y):
        """Return the fraction of X's rows whose largest output is their class in y."""
        return float((self.model.predict(X, batch_size=1024, verbose=0).argmax(1) == y).mean())


class Sklearn:
    """scikit-learn's ``MLPClassifier`` (Adam, no L2), one ``partial_fit`` per epoch.

    Parameters
    ----------
    batch_size, seed, sizes
        As for ``Barenet``.
    """

    name = "scikit-learn"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(hidden_layer_sizes=sizes[1:-1], solver="adam", learning_rate_init=1e-3,
                                   batch_size=batch_size, alpha=0.0, random_state=seed)
        self.classes = np.arange(sizes[-1])

    def epoch(self, X, y):
        """Train one epoch through ``partial_fit``; return its seconds."""
        started = time.perf_counter()
        self.model.partial_fit(X, y, classes=self.classes)
        return time.perf_counter() - started

    def accuracy(self, X, y):
        """Return the fraction of X's rows predicted as their class in y."""
        return float((self.model.predict(X) == y).mean())
