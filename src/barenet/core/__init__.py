"""The core: the network and its parts.

Backends, layers, activations, losses, optimizers, schedules, parameters and the gradient check; the
core imports nothing above it.
"""
