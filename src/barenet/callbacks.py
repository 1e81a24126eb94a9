"""``barenet.callbacks``: what fit tells as it trains: early stopping, checkpoints, logs, progress.

The code lives in ``barenet.training.callbacks``; this name is that module itself, so
``import barenet.callbacks``, ``from barenet.callbacks import ...`` and ``bn.callbacks`` all give it.
"""
import sys

from .training import callbacks

sys.modules[__name__] = callbacks
