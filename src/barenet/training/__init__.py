"""Training: Sequential and its loop, and what goes with it.

Callbacks, history, data, ensembles, metrics, data sets, data parallelism, ``bn.save`` and ``bn.load``.
"""
