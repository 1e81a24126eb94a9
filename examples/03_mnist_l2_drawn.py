# %% [markdown]
# # Experiment 3: MNIST with 784-80-80-10, cross-entropy and L2 regularisation; save, reload, and read drawn digits.
#
# The tutorial reported 97% test accuracy. After training, the model is saved to one file and
# read back (the predictions must not change), then shown synthetic canvas drawings
# (bn.datasets.drawn), prepared the MNIST way by bn.images.prepare_digit, as `barenet predict`
# and `barenet serve` do.
#
#     python examples/03_mnist_l2_drawn.py [--quick]
#
# This file is a script and a notebook at once (jupytext's percent format): run it with
# `python examples/03_mnist_l2_drawn.py`, or open it in Jupyter.

# %%
import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

import barenet as bn
from barenet.training.datasets.drawn import make_drawn_digits
from barenet.app.images import prepare_digit

TUTORIAL = 0.97

parser = argparse.ArgumentParser(description='Experiment 3: MNIST with 784-80-80-10, cross-entropy and L2; save, reload, and read drawn digits.')
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BARENET_QUICK")), help="a small, fast run (what CI does)")
parser.add_argument("--epochs", type=int, default=30)
args, _ = parser.parse_known_args()  # a notebook's kernel passes arguments of its own

# %%
(X, y), (X_test, y_test) = bn.datasets.load_mnist()
drawings = 200
if args.quick:
    X, y, args.epochs, drawings = X[:2000], y[:2000], 2, 40

# %%
model = bn.Sequential(bn.Dense(784, 80), bn.ReLU(), bn.Dense(80, 80), bn.ReLU(), bn.Dense(80, 10), seed=0)
model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.SGD(lr=0.05, momentum=0.9, weight_decay=1e-4),  # L2: λ = 1e-4
          epochs=args.epochs, batch_size=64, validation_split=0.1, verbose=1)

# %%
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "mnist_80_80.npz"
    model.save(path)
    reloaded = bn.load(path)
assert np.array_equal(reloaded.predict(X_test), model.predict(X_test))
test_accuracy = reloaded.evaluate(X_test, y_test)["accuracy"]

# %%
images, labels = make_drawn_digits(drawings, seed=7)
prepared = np.stack([prepare_digit(image) for image in images]).reshape(len(images), -1)
drawn_accuracy = float((reloaded.predict(prepared) == labels).mean())
print(f"\ntutorial: {TUTORIAL:.0%} test accuracy")
print(f"barenet:  {test_accuracy:.1%} test accuracy ({len(X):,} training images), reloaded model identical; "
      f"{drawn_accuracy:.0%} of {drawings} drawn digits read correctly")
