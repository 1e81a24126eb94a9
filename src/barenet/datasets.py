"""``barenet.datasets``: MNIST, Fashion-MNIST, the 8×8 digits, synthetic problems and the IDX format.

The code lives in ``barenet.training.datasets``; this name is that module itself, so
``import barenet.datasets``, ``from barenet.datasets import ...`` and ``bn.datasets`` all give it.
"""
import sys

from .training import datasets

sys.modules[__name__] = datasets
