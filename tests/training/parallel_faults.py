"""A data-parallel fit that goes wrong on purpose, run under mpiexec by test_parallel.py:

    raise   process 1 raises in its third forward pass (mid-epoch)
    kill    process 1 kills itself with SIGKILL in its third forward pass
    drift   process 0's parameters are nudged after a batch, so the processes disagree
    outside process 1 fails after fit, in the script itself, while process 0 goes on to a second fit
    diverge the learning rate is absurd: every process meets NonFiniteError at the same batch, as
            one process alone would, and the script catches it (prints it, exits 0)

Without the safeguards each would leave the other processes waiting for ever."""
import os
import signal
import sys


import barenet as bn
from barenet.core.layers import Dense


class Nudge(bn.Callback):
    def on_batch_end(self, batch, logs=None):
        if batch == 2:
            self.model.parameter_vectors()[0][0] += 1e-3


class Breaking(Dense):
    """A Dense layer that breaks in its third training forward pass. A subclass, not a patched
    Dense.forward: a fast backend runs Dense's own kernels and never calls Dense.forward, but it
    hands a layer type it does not know to that layer's forward."""

    def __init__(self, n_in, n_out, mode):
        super().__init__(n_in, n_out)
        self.mode, self.calls = mode, 0

    def forward(self, x, training=True):
        if training:
            self.calls += 1
            if self.calls == 3 and self.mode == "raise":
                raise RuntimeError("rank 1 broke on purpose")
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(x, training)


def diverged(X, y, parallel=None):
    model = bn.Sequential(bn.Dense(2, 8), bn.ReLU(), bn.Dense(8, 3), seed=0)
    try:
        model.fit(X, y, loss="cross_entropy", optimizer=bn.SGD(1e30), epochs=3, batch_size=64, verbose=0,
                  parallel=parallel)
    except bn.NonFiniteError as error:
        return str(error)
    return "no divergence"


def main(mode):
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()
    first = Breaking(2, 8, mode) if rank == 1 and mode in ("raise", "kill") else bn.Dense(2, 8)
    X, y = bn.datasets.make_clusters(2000, seed=0)
    if mode == "diverge":
        print(f"process {rank}: {diverged(X, y, 'mpi')}", flush=True)
        return
    model = bn.Sequential(first, bn.ReLU(), bn.Dense(8, 3), seed=0)
    model.fit(X, y, loss="cross_entropy", epochs=2 if mode == "outside" else 200, batch_size=8, verbose=0, parallel="mpi",
              callbacks=[Nudge()] if mode == "drift" else None)
    if mode == "outside":
        if rank == 1:
            raise ValueError("the script failed after fit on process 1")
        model.fit(X, y, epochs=200, batch_size=8, verbose=0, parallel="mpi")
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
