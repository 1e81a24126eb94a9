"""Data-parallel training on MPI: K processes, one model each, every minibatch split across them.

The design is Horovod's, without Horovod. Every process holds the whole data set and the same
model, and draws the same epoch permutation from the shared seed. For each global minibatch of
B samples, process k takes rows [B·k/K, B·(k+1)/K) of it, and computes the gradient of its own
mean loss. The global mean loss is the row-weighted mean of the processes' means,

    L = (1/B) Σ_k b_k L_k,   so   ∇L = Σ_k (b_k/B) ∇L_k,

which one ``Allreduce`` (a sum) of the scaled gradients gives every process, together with the
batch's loss and correct count, in one buffer. Every process then takes the same optimizer step,
so the parameters stay identical without being sent; a checksum once per epoch proves it, and
stops training loudly if they ever differ.

Random draws per sample (dropout masks, augmentation) are made for the whole global batch by
every process, which keeps its rows (``core.sampling.per_sample``): each sample meets the draw a
single process would have given it, so K processes end where one would, up to the order of
floating-point sums.

The epoch's figures (validation, and the full passes over the training data) are measured by
every process on its share of the rows and summed. Callbacks and progress run on process 0,
which sends the epoch's log and its decision to stop to the others. An exception on one process
ends all of them (``Abort``), with the process's error printed, instead of leaving the others
waiting in the next ``Allreduce``.

    mpiexec -n 4 python train.py        # where train.py calls model.fit(..., parallel="mpi")
"""
from __future__ import annotations

import math
import os
import sys
import traceback
import zlib

import numpy as np

from ..core.backend import on_device
from ..core.sampling import batch_share
from .steps import OneProcess, diagnose

__all__ = ["DataParallel", "data_parallel", "launched_by_mpi", "leads", "end_job"]

# Set by the MPI launchers in every process they start: Open MPI, MPICH/Intel MPI (Hydra), PMIx
# (Slurm's srun --mpi=pmix), MVAPICH.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_by_mpi() -> int:
    """Return the number of processes an MPI launcher started this one among (1 if none).

    Read from the launcher's environment, without importing MPI.
    """
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("data-parallel training needs mpi4py: pip install 'barenet[mpi]'") from None
    return MPI


def data_parallel(parallel):
    """Return the step strategy for fit's ``parallel`` argument.

    Parameters
    ----------
    parallel : None, "mpi", communicator or strategy
        None (one process), "mpi" (all the processes MPI started, ``COMM_WORLD``), an mpi4py
        communicator, or a strategy already made (returned as it is).

    Returns
    -------
    DataParallel or OneProcess
        ``OneProcess`` where there is one process.

    Raises
    ------
    ValueError
        For anything else.
    ImportError
        For "mpi" without mpi4py.
    """
    if parallel is None or parallel is False:
        return OneProcess()
    if isinstance(parallel, (DataParallel, OneProcess)):
        return parallel
    if isinstance(parallel, str):
        if parallel != "mpi":
            raise ValueError(f"parallel must be None, 'mpi' or an mpi4py communicator, got {parallel!r}")
        comm = _mpi().COMM_WORLD
    elif hasattr(parallel, "Allreduce") and hasattr(parallel, "Get_size"):
        comm = parallel
    else:
        raise ValueError(f"parallel must be None, 'mpi' or an mpi4py communicator, got {parallel!r}")
    return DataParallel(comm) if comm.Get_size() > 1 else OneProcess()


def leads(strategy) -> bool:
    """Return whether this process reports (progress, callbacks, files): alone, or process 0 of several."""
    return strategy is None or strategy.leads


def end_job(comm, why: str = "failed", code: int = 1) -> None:
    """Say which process ends the job and why, then MPI_Abort every process (does not return).

    Parameters
    ----------
    comm : mpi4py communicator
        The job's processes.
    why : str, default "failed"
        What happened, for the message.
    code : int, default 1
        The exit code.
    """
    print(f"barenet: process {comm.Get_rank()} of {comm.Get_size()} {why}, ending all of them",
          file=sys.stderr, flush=True)
    comm.Abort(code)


def _abort_on_uncaught_exceptions(comm) -> None:
    """Make an exception that ends this process's script end every process of the job.

    Without this, a process whose script fails outside ``fit`` shuts MPI down cleanly (mpi4py
    finalizes at exit), Open MPI counts it as finished, and the others wait in their next
    Allreduce for ever. (``python -m mpi4py script.py`` does the same for any script.)
    """
    if getattr(sys.excepthook, "barenet_aborts", False):
        return
    previous = sys.excepthook

    def hook(kind, error, trace):
        previous(kind, error, trace)
        if not issubclass(kind, SystemExit):
            end_job(comm)

    hook.barenet_aborts = True
    sys.excepthook = hook


class DataParallel:
    """One communicator's share of data-parallel training, as the step strategy of ``fit``'s loop.

    ``training.steps.OneProcess`` is the other; see the module's description.

    Parameters
    ----------
    comm : mpi4py communicator
        The processes that train together.

    Raises
    ------
    ValueError
        On a device backend (one process per GPU is not supported yet).
    """

    stops_mid_epoch = False  # every process must stop at the same batch: a decision waits for the epoch's end

    def __init__(self, comm):
        if on_device():
            raise ValueError("data-parallel training runs on the NumPy and numba backends; "
                             "one process per GPU is not supported yet")
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        self.leads = self.rank == 0
        self.buffer = self.data = None
        _abort_on_uncaught_exceptions(comm)
        self.allreduce_seconds, self.allreduces = 0.0, 0

    # -- the step strategy ----------------------------------------------------------------------

    def begin_epoch(self, model, data, hooks):
        """Keep the epoch's data, (X, y, weight): every process holds all of it."""
        self.data = data

    def order(self, model, n, shuffle):
        """Return the epoch's order: the same permutation on every process (the shared seed)."""
        return model.rng.permutation(n) if shuffle else np.arange(n)  # the same on every process

    def batch(self, model, idx, epoch, batch, progress):
        """Take this process's rows of the global batch ``idx``, one Allreduce, then the shared step.

        The same divergence check and optimizer step as every other process. Returns (loss, correct
        count), both global.
        """
        X, y, weight = self.data
        model.optimizer.progress = progress
        value, correct = self.step(model, X, y, weight, idx)
        grad = model.parameter_vectors()[1]
        grad_sq = float(np.dot(grad, grad))
        if not (math.isfinite(value) and math.isfinite(grad_sq)):  # the same numbers on every process
            diagnose(model, X[idx], y[idx], None if weight is None else weight[idx], epoch, batch, float(value),
                     grad_sq)
        model.optimizer.step(model.parameters)
        return value, correct

    def end_epoch(self, model, epoch):
        """Do nothing: each step settled its divergence check."""
        pass

    def agree(self, model, epoch, logs):
        """Return the leader's log on every process, once the parameters are checked to agree.

        The leader's log, its time included, so that every history is the same.
        """
        self.check_agreement(model, epoch)
        return self.from_leader(logs)

    def end_training(self, model):
        """Give every process the leader's parameters, which its callbacks may have changed (restore_best_weights)."""
        self.share_parameters(model)  # the leader's callbacks may have changed them (restore_best_weights)

    # -- the collective operations -----------------------------------------------------------------

    def rows(self, n: int) -> tuple[int, int]:
        """Return this process's rows [start, stop) of a batch of n (sizes differ by at most one)."""
        return n * self.rank // self.size, n * (self.rank + 1) // self.size

    def step(self, model, X, y, weight, idx):
        """Run forward and backward on this process's rows of the global batch ``idx``, then one Allreduce.

        The Allreduce sums [∇L·b_k/B, L·b_k/B, correct]. Returns (the batch's mean loss, its correct
        count), both global; leaves the global gradient in the model's gradient vector.
        """
        from mpi4py import MPI

        start, stop = self.rows(len(idx))
        rows = idx[start:stop]
        grad = model.parameter_vectors()[1]
        if self.buffer is None or self.buffer.size != grad.size + 2 or self.buffer.dtype != grad.dtype:
            self.buffer = np.empty(grad.size + 2, dtype=grad.dtype)
        buffer = self.buffer
        loss = model.loss
        with batch_share(start, stop, len(idx)):  # per-sample random draws: this process's rows
            outputs = model.forward(X[rows], training=True)
        if len(rows):
            yb = y[rows]
            value = loss.value(outputs, yb, None if weight is None else weight[rows])
            model.backward_params(loss.backward())
            share = len(rows) / len(idx)
            np.multiply(grad, share, out=buffer[:-2])
            buffer[-2] = float(value) * share
            buffer[-1] = float(loss.correct(outputs, yb)) if loss.classifies else 0.0
        else:  # a last batch smaller than the number of processes: nothing to add, but the draws were made
            buffer[:] = 0.0
        started = MPI.Wtime()
        self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        self.allreduce_seconds += MPI.Wtime() - started
        self.allreduces += 1
        grad[...] = buffer[:-2]
        return np.float64(buffer[-2]), buffer[-1]

    def sum(self, *values: float):
        """Return each value summed across the processes (one small Allreduce)."""
        from mpi4py import MPI

        buffer = np.array(values, dtype=np.float64)
        self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        return tuple(float(v) for v in buffer)

    def from_leader(self, value):
        """Return process 0's ``value`` on every process (small Python objects: figures, flags)."""
        return self.comm.bcast(value, root=0)

    def share_parameters(self, model) -> None:
        """Give every process process 0's parameters and buffers.

        After callbacks that may change them, such as EarlyStopping restoring the best weights.
        """
        self.comm.Bcast(model.parameter_vectors()[0], root=0)
        for layer in model.layers:
            for array in getattr(layer, "buffers", {}).values():
                self.comm.Bcast(array, root=0)

    def check_agreement(self, model, epoch) -> None:
        """Fail loudly (RuntimeError) if the processes' parameters differ: one checksum each, gathered."""
        theta = np.ascontiguousarray(model.parameter_vectors()[0])
        sums = self.comm.allgather(zlib.crc32(theta.view(np.uint8)))
        if len(set(sums)) > 1:
            raise RuntimeError(f"data-parallel training: the processes' parameters differ after epoch {epoch} "
                               f"(checksums {sums}); every process must run the same barenet, NumPy and BLAS")

    def abort(self, error: BaseException) -> None:
        """End every process: print this one's error, then MPI_Abort (which does not return)."""
        traceback.print_exception(error, file=sys.stderr)
        end_job(self.comm)
