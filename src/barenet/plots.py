"""``barenet.plots``: learning curves, confusion matrices, decision regions and weight pictures.

The code lives in ``barenet.app.plots``; this name is that module itself, so
``import barenet.plots``, ``from barenet.plots import ...`` and ``bn.plots`` all give it.
"""
import sys

from .app import plots

sys.modules[__name__] = plots
