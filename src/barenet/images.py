"""``barenet.images``: pictures of digits prepared the way MNIST's were.

The code lives in ``barenet.app.images``; this name is that module itself, so
``import barenet.images``, ``from barenet.images import ...`` and ``bn.images`` all give it.
"""
import sys

from .app import images

sys.modules[__name__] = images
