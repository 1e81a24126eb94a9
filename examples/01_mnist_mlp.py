# %% [markdown]
# # Experiment 1: the MNIST MLP of the tutorials.
#
# 784-100-200-10 with ReLU, plain SGD (learning rate 0.1), batches of 32, cross-entropy; training and
# validation accuracy per epoch. The tutorial reached 98.1% validation accuracy training on 50,000
# of MNIST's 60,000 training images. This script uses the same 50,000/10,000 split where the full
# training set is on disk; with only the first 10,000 images (this repository's shared subset) it
# trains on 8,000 and validates on 2,000, which lowers the figure.
#
#     python examples/01_mnist_mlp.py            # the full run
#     python examples/01_mnist_mlp.py --quick    # seconds: 2,000 images, 2 epochs
#
# This file is a script and a notebook at once (jupytext's percent format): run it with
# `python examples/01_mnist_mlp.py`, or open it in Jupyter.

# %%
import argparse
import os
from pathlib import Path

import barenet as bn
from barenet import plots

TUTORIAL = 0.981

parser = argparse.ArgumentParser(description='Experiment 1: the MNIST MLP of the tutorials.')
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BARENET_QUICK")), help="a small, fast run (what CI does)")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--out", default="examples/output", help="folder for the plot")
args, _ = parser.parse_known_args()  # a notebook's kernel passes arguments of its own

# %%
(X, y), _ = bn.datasets.load_mnist()
validation = 10_000 if len(X) == 60_000 else len(X) // 5
if args.quick:
    X, y, validation, args.epochs = X[:2000], y[:2000], 400, 2
X_train, y_train, X_val, y_val = X[:-validation], y[:-validation], X[-validation:], y[-validation:]

# %%
model = bn.Sequential(bn.Dense(784, 100), bn.ReLU(), bn.Dense(100, 200), bn.ReLU(), bn.Dense(200, 10), seed=0)
history = model.fit(X_train, y_train, loss=bn.CrossEntropy(), optimizer=bn.SGD(lr=0.1), epochs=args.epochs,
                    batch_size=32, validation_data=(X_val, y_val), verbose=1)

# %%
Path(args.out).mkdir(parents=True, exist_ok=True)
figure = plots.learning_curves(history, "784-100-200-10, SGD 0.1, batch 32")
figure.savefig(Path(args.out) / "01_mnist_mlp.png")
accuracy = history["val_accuracy"][-1]
print(f"\ntutorial: {TUTORIAL:.1%} validation accuracy (50,000 training images)")
print(f"barenet:  {accuracy:.1%} validation accuracy ({len(X_train):,} training images, {args.epochs} epochs)")

# %%
history  # in a notebook: the history as a table

# %%
figure  # in a notebook: the learning curves, inline
