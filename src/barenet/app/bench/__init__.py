"""``barenet bench``: training speed against PyTorch, JAX, Keras and scikit-learn, side by side.

The same network (784-256-128-10 ReLU, Adam 1e-3, cross-entropy) is trained on the same data
(Fashion-MNIST when it is found, else random data of the same shape) by every system, for each
batch size: barenet on its NumPy backend and on its numba backend, PyTorch (eager), JAX (the
whole step under ``jax.jit``, optax's Adam), Keras 3 (``fit``, on the PyTorch backend) and
scikit-learn's ``MLPClassifier``. Peers that are not installed are skipped, with a note. The
epochs of the different systems are interleaved in one process (barenet, torch, jax, ...,
barenet, torch, ...) so that the machine's drift hits all of them alike, and every system gets
the same number of threads. One warm-up epoch each, then ``--epochs`` timed epochs (5 by
default: long enough to see a system slow down as it trains). Reported per system and batch size:

- the median epoch time, the first and the last, and the *growth* over the run (from a robust
  straight line through all the timed epochs), flagged where it exceeds the machine's own drift
  (the growth of the matmul limit, which is timed in every round too) by more than 10%;
- the reference's time divided by the system's (the reference is barenet-numba when it runs,
  else barenet), and the multiple of the *matrix-product limit*:
  the time this machine's NumPy takes for the epoch's matrix products alone (per minibatch X·W
  for each layer, Xᵀ·G for each weight gradient, G·Wᵀ for every layer but the first, float32,
  into preallocated outputs), a floor no MLP implementation can go below here;
- the peak resident memory (RSS) of a fresh process during its first and its second epoch, each
  above its RSS just before (Linux's VmHWM after a reset through /proc/self/clear_refs, freed
  memory handed back first), with the data loaded and the system built, in MiB: the first epoch
  carries one-time costs (compilation, JAX's copy of the data set), the second is every later one;
- the test accuracy after the same number of epochs;
- inference throughput at batch 1 and 1,000 (barenet, PyTorch and JAX);
- the threads, and the BLAS library under NumPy (threadpoolctl);
- the width sweep (``--widths``, by default 256, 1024, 2048 and 4096): 784-w-w-10 trained by every
  system at batch 128 on the first 10,000 training images, each as a multiple of the matmul limit
  of that network and of PyTorch's epoch, and the inference throughput at each width. The default
  network's 235,146 parameters hide costs that grow with the parameter count (the optimizer's
  passes over its vectors); at 2 to 17 million parameters they show.
"""
from __future__ import annotations

from .command import build_parser, main, run
from .measure import (epoch_peak_memory, growth, inference_throughput, matmul_limit, numpy_blas, peak_memory,
                      set_threads)
from .peers import SIZES, parameter_count, widths_network, Barenet, BarenetNumba, Jax, Keras, Sklearn, Torch, load_data
from .systems import CPU_SYSTEMS, GPU_SYSTEMS, SYSTEMS, available_systems
from .report import flagged, format_inference, format_sweep, format_table, plot, plot_sweep

__all__ = ["run", "main", "build_parser", "matmul_limit", "inference_throughput", "epoch_peak_memory", "peak_memory",
           "set_threads", "numpy_blas", "growth", "CPU_SYSTEMS", "GPU_SYSTEMS", "SYSTEMS", "SIZES", "parameter_count", "widths_network", "Barenet",
           "BarenetNumba", "Torch", "Jax", "Keras", "Sklearn", "available_systems", "load_data", "flagged",
           "format_table", "format_inference", "format_sweep", "plot", "plot_sweep"]
