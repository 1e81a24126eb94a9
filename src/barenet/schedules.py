"""``barenet.schedules``: learning-rate schedules: the learning rate as a function of training progress.

The code lives in ``barenet.core.schedules``; this name is that module itself, so
``import barenet.schedules``, ``from barenet.schedules import ...`` and ``bn.schedules`` all give it.
"""
import sys

from .core import schedules

sys.modules[__name__] = schedules
