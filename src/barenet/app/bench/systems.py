"""Every system ``barenet bench`` knows, by name, what each needs installed, and which can run here."""
from __future__ import annotations

import os

from .gpu_peers import BarenetCupy, TorchCuda, TorchCudaGraph, gpu_missing
from .peers import Barenet, BarenetNumba, Jax, Keras, Sklearn, Torch

CPU_SYSTEMS = (Barenet, BarenetNumba, Torch, Jax, Keras, Sklearn)
GPU_SYSTEMS = (BarenetCupy, TorchCuda, TorchCudaGraph)
SYSTEMS = {system.name: system for system in CPU_SYSTEMS + GPU_SYSTEMS}
# What each system needs beyond NumPy, as the module that must import.
REQUIRES = {"barenet-numba": "numba", "pytorch": "torch", "jax": "jax", "keras": "keras",
            "scikit-learn": "sklearn", "pytorch-cuda": "torch", "pytorch-cuda-graph": "torch"}


def available_systems(names):
    """Return (the systems among ``names`` that can run here, {system: why not} for the others).

    Sets ``KERAS_BACKEND=torch`` unless the environment chose another, before Keras is imported.
    """
    os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is first imported
    found, missing = [], {}
    for name in names:
        module = REQUIRES.get(name)
        if module:
            try:
                __import__(module)
            except ImportError:
                missing[name] = f"{module} is not installed"
                continue
            except Exception as error:  # a peer that is installed but broken is skipped too
                missing[name] = f"{module} failed to import ({type(error).__name__}: {error})"
                continue
        if SYSTEMS[name] in GPU_SYSTEMS and gpu_missing(name):
            missing[name] = gpu_missing(name)
            continue
        found.append(name)
    return found, missing
