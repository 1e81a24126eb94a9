"""``barenet.onnx``: models as ONNX graphs, for runtimes outside Python.

The code lives in ``barenet.integrations.onnx``; this name is that module itself, so
``import barenet.onnx``, ``from barenet.onnx import ...`` and ``bn.onnx`` all give it.
"""
import sys

from .integrations import onnx

sys.modules[__name__] = onnx
