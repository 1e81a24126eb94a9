# %% [markdown]
# # Experiment 4: regression on synthetic tabular data with standardised features.
#
# y = f(x) + ε with a known smooth f of eight features (two of them irrelevant) and noise ε of
# variance σ² = 0.25, so no model can get a test MSE below 0.25: the noise floor. The features
# are standardised with statistics from the training set (the Standardizer is the model's first
# layer, so it is saved with it), the learning curves are drawn, and the test MSE is compared with
# the floor.
#
#     python examples/04_regression.py [--quick]
#
# This file is a script and a notebook at once (jupytext's percent format): run it with
# `python examples/04_regression.py`, or open it in Jupyter.

# %%
import argparse
import os
from pathlib import Path

import barenet as bn
from barenet import metrics, plots

parser = argparse.ArgumentParser(description='Experiment 4: regression on synthetic tabular data with standardised features.')
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BARENET_QUICK")), help="a small, fast run (what CI does)")
parser.add_argument("--samples", type=int, default=100_000)
parser.add_argument("--epochs", type=int, default=60)
parser.add_argument("--out", default="examples/output")
args, _ = parser.parse_known_args()  # a notebook's kernel passes arguments of its own
if args.quick:
    args.samples, args.epochs = 4000, 3

# %%
X, y, info = bn.datasets.make_regression(args.samples, noise=0.5, seed=0, return_info=True)
X_train, X_test, y_train, y_test = bn.train_test_split(X, y, test_size=0.2, seed=0)
scaler = bn.Standardizer().fit(X_train)
model = bn.Sequential(scaler, bn.Dense(8, 256, init="xavier"), bn.Tanh(), bn.Dense(256, 256, init="xavier"), bn.Tanh(),
                      bn.Dense(256, 1, init="xavier"), seed=0)
history = model.fit(X_train, y_train, loss=bn.MSE(), optimizer=bn.Adam(bn.schedules.CosineDecay(1e-3, args.epochs)),
                    epochs=args.epochs, batch_size=128, validation_split=0.1, verbose=1)

# %%
Path(args.out).mkdir(parents=True, exist_ok=True)
figure = plots.learning_curves(history, "regression: MSE")
figure.savefig(Path(args.out) / "04_regression.png")
mse = metrics.mean_squared_error(y_test, model.predict(X_test))
print(f"\nnoise floor: test MSE {info['noise_variance']:.4f} (the best any model can do)")
print(f"barenet:     test MSE {mse:.4f} ({mse / info['noise_variance']:.3f} × the floor), "
      f"R² {metrics.r2_score(y_test, model.predict(X_test)):.3f}")

# %%
history  # in a notebook: the history as a table

# %%
figure  # in a notebook: the learning curves, inline
