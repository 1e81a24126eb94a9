# %% [markdown]
# # Experiment 5: three Gaussian clusters, softmax with L2, and the same model in PyTorch and Keras.
#
# A 2-16-3 network with a softmax output (cross-entropy from logits) and L2 regularisation
# (weight decay) is trained by barenet and, side by side, by PyTorch and by Keras 3 (TensorFlow's
# high-level API, here on its PyTorch backend: no TensorFlow download) from the same initial
# weights, on the same batches, with the same optimizer. The tutorial compared its own network
# with TensorFlow's: 96.4% and 96.3%. Keras's ``weight_decay`` argument is decoupled (it shrinks
# the weights apart from the gradient), so the coupled L2 of the others is written as Keras
# regularisers: L2(λ/2) on every weight and bias adds λθ to the gradient, as weight_decay=λ does. The clusters overlap, so no classifier reaches 100%: the
# Bayes-optimal accuracy, computed from the true densities, is printed too. The scatter plot
# marks correctly and wrongly classified test points.
#
#     python examples/05_clusters_torch.py [--quick]
#
# This file is a script and a notebook at once (jupytext's percent format): run it with
# `python examples/05_clusters_torch.py`, or open it in Jupyter.

# %%
import argparse
import os
from pathlib import Path

import numpy as np

import barenet as bn
from barenet import plots

parser = argparse.ArgumentParser(description='Experiment 5: three Gaussian clusters, softmax with L2, and the same model in PyTorch and Keras.')
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BARENET_QUICK")), help="a small, fast run (what CI does)")
parser.add_argument("--epochs", type=int, default=50)
parser.add_argument("--out", default="examples/output")
args, _ = parser.parse_known_args()  # a notebook's kernel passes arguments of its own
if args.quick:
    args.epochs = 3

# %%
X, y, truth = bn.datasets.make_clusters(6000, seed=0, return_model=True)
X_train, X_test, y_train, y_test = bn.train_test_split(X, y, test_size=0.3, stratify=y, seed=0)
model = bn.Sequential(bn.Dense(2, 16), bn.ReLU(), bn.Dense(16, 3), dtype="float64", seed=0)
initial = [(layer.params["W"].copy(), layer.params["b"].copy()) for layer in model.layers[::2]]
order = [np.random.default_rng(epoch).permutation(len(X_train)) for epoch in range(args.epochs)]


def batches():
    for permutation in order:
        for start in range(0, len(permutation), 32):
            yield permutation[start:start + 32]


loss, optimizer = bn.CrossEntropy(), bn.SGD(lr=0.1, momentum=0.9, weight_decay=1e-3)
for idx in batches():
    model.train_step(X_train[idx], y_train[idx], loss=loss, optimizer=optimizer)
ours = model.evaluate(X_test, y_test)["accuracy"]

# %%
try:
    import torch
except ImportError:
    theirs = None
else:
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).double()
    with torch.no_grad():
        for linear, (W, b) in zip(net[::2], initial):
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b))
    torch_optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    Xt, yt = torch.from_numpy(X_train.astype(np.float64)), torch.from_numpy(y_train)
    for idx in batches():
        torch_optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
        torch_optimizer.step()
    with torch.no_grad():
        torch_predicted = net(torch.from_numpy(X_test.astype(np.float64))).argmax(1).numpy()
    theirs = float((torch_predicted == y_test).mean())

# %%
os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is first imported
try:
    import keras
except ImportError:
    keras_accuracy = None
else:
    l2 = keras.regularizers.L2(1e-3 / 2)  # ½λ Σθ² in the loss: λθ in the gradient
    keras_model = keras.Sequential([
        keras.Input((2,), dtype="float64"),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=l2, bias_regularizer=l2, dtype="float64"),
        keras.layers.Dense(3, kernel_regularizer=l2, bias_regularizer=l2, dtype="float64")])
    for dense, (W, b) in zip(keras_model.layers, initial):
        dense.set_weights([W, b])  # Keras keeps W as (in, out), like barenet
    keras_model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for idx in batches():
        keras_model.train_on_batch(X_train[idx], y_train[idx])
    keras_predicted = keras_model.predict(X_test, verbose=0).argmax(1)
    keras_accuracy = float((keras_predicted == y_test).mean())

# %%
Path(args.out).mkdir(parents=True, exist_ok=True)
figure = plots.decision_boundary(model, X_test, y_test, title="barenet, test points")
figure.savefig(Path(args.out) / "05_clusters.png")
print("\ntutorial: 96.4% (its own network), TensorFlow 96.3%")
print(f"barenet:  {ours:.1%}, PyTorch {'(not installed)' if theirs is None else f'{theirs:.1%}'}, "
      f"Keras {'(not installed)' if keras_accuracy is None else f'{keras_accuracy:.1%}'}, "
      f"Bayes-optimal {truth.bayes_accuracy():.1%} ({len(y_test)} test points)")
predicted = model.predict(X_test)
if theirs is not None:
    print(f"same predictions as PyTorch on {float((predicted == torch_predicted).mean()):.1%} of the test points")
if keras_accuracy is not None:
    print(f"same predictions as Keras on {float((predicted == keras_predicted).mean()):.1%} of the test points")

# %%
figure  # in a notebook: the decision regions and the test points, inline
