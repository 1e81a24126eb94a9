"""The peers' figures beside the recipes: plain PyTorch and scikit-learn MLPs on the same data.

    python benchmarks/peer_baselines.py            # both data sets, about a minute on 2 cores

- PyTorch 784-256-128-10 ReLU, Adam 1e-3, batch 128, no regularisation: 20 epochs on
  Fashion-MNIST (60,000 images), 30 epochs on the first 10,000 MNIST training images;
- scikit-learn ``MLPClassifier`` with its defaults (one hidden layer of 100, adam, L2 1e-4,
  early stopping off, up to 200 epochs) on the same MNIST 10,000.

Test accuracy on the official test sets, each measured once; nothing here is tuned. Results go
to ``results/peer_baselines.json`` beside this script.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

import barenet as bn
from barenet.app import bench
from barenet.files.atomic import atomic_write


def torch_mlp(X, y, Xt, yt, epochs, seed=0):
    """The benchmark's PyTorch system (same network, Adam, shuffling), trained ``epochs`` epochs."""
    system = bench.Torch(batch_size=128, seed=seed)
    for _ in range(epochs):
        system.epoch(X, y)
    return system.accuracy(Xt, yt)


def sklearn_mlp(X, y, Xt, yt, seed=0):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(random_state=seed).fit(X, y)
    return float((model.predict(Xt) == yt).mean())


def main():
    results = {}
    (X, y), (Xt, yt) = bn.datasets.load_fashion_mnist()
    started = time.perf_counter()
    results["fashion-mnist"] = {"pytorch 784-256-128-10 adam 20 epochs": torch_mlp(X, y, Xt, yt, 20)}
    (X, y), (Xt, yt) = bn.datasets.load_mnist()
    X, y = X[:10000], y[:10000]
    results["mnist-10k"] = {"pytorch 784-256-128-10 adam 30 epochs": torch_mlp(X, y, Xt, yt, 30),
                            "scikit-learn MLPClassifier defaults": sklearn_mlp(X, y, Xt, yt)}
    results["seconds"] = time.perf_counter() - started
    out = Path(__file__).with_name("results") / "peer_baselines.json"
    with atomic_write(out, "w") as handle:
        json.dump(results, handle, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
