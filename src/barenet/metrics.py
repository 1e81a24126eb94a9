"""``barenet.metrics``: accuracy, confusion matrices, classification reports, R².

The code lives in ``barenet.training.metrics``; this name is that module itself, so
``import barenet.metrics``, ``from barenet.metrics import ...`` and ``bn.metrics`` all give it.
"""
import sys

from .training import metrics

sys.modules[__name__] = metrics
