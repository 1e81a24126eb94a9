"""The systems ``barenet bench --device gpu`` adds, and why one cannot run here.

barenet on CuPy, PyTorch CUDA eager, and PyTorch's whole step as a CUDA graph.
"""
from __future__ import annotations

import time


from ...core.backend import using_backend
from .peers import SIZES, Barenet, Torch


class BarenetCupy(Barenet):
    """barenet on an NVIDIA GPU (the ``"cupy"`` backend)."""

    name = "barenet-cupy"
    backend = "cupy"

    def epoch(self, X, y):
        """Train one epoch through fit; return fit's time of it, then wait for the GPU."""
        seconds = super().epoch(X, y)
        cuda_synchronize()
        return seconds


class TorchCuda(Torch):
    """PyTorch eager on the GPU, the data set on the device.

    Parameters
    ----------
    batch_size, seed, sizes
        As for ``peers.Barenet``.
    """

    name = "pytorch-cuda"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        super().__init__(batch_size, seed, sizes)
        self.model.cuda()
        self.optimizer = self.torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.data = None

    def _on_device(self, X, y):
        if self.data is None or self.data[0] is not X:
            self.data = (X, self.torch.from_numpy(X).cuda(), self.torch.from_numpy(y).cuda())
        return self.data[1:]

    def epoch(self, X, y):
        """Train one epoch in a new random order on the GPU; return its seconds, the GPU synchronised."""
        torch = self.torch
        Xt, yt = self._on_device(X, y)
        torch.cuda.synchronize()
        started = time.perf_counter()
        order = torch.randperm(len(X), generator=self.generator).cuda()
        self.model.train()
        for start in range(0, len(X), self.batch_size):
            self._step(Xt[order[start:start + self.batch_size]], yt[order[start:start + self.batch_size]])
        torch.cuda.synchronize()
        return time.perf_counter() - started

    def _step(self, xb, yb):
        self.optimizer.zero_grad()
        self.loss(self.model(xb), yb).backward()
        self.optimizer.step()

    def accuracy(self, X, y):
        """Return the fraction of X's rows whose largest output is their class in y."""
        with self.torch.no_grad():
            self.model.eval()
            return float((self.model(self.torch.from_numpy(X).cuda()).argmax(1).cpu().numpy() == y).mean())

    def predictor(self, x):
        """Return a function that computes softmax(model(x)) on the GPU and waits for it (x copied there once)."""
        torch, xt = self.torch, self.torch.from_numpy(x).cuda()
        self.model.eval()

        def predict():
            with torch.no_grad():
                out = torch.softmax(self.model(xt), dim=1)
            torch.cuda.synchronize()
            return out
        return predict


class TorchCudaGraph(TorchCuda):
    """PyTorch's whole training step captured once as a CUDA graph: a reference line, not a peer users run.

    Forward, backward and Adam (``capturable``) are captured after three warm-up steps on a side
    stream, as in PyTorch's documentation ("whole network capture"), and replayed for every full
    batch; the last, smaller batch runs eagerly. The warm-up steps, on zeros, update the weights
    before the first epoch.

    Parameters
    ----------
    batch_size, seed, sizes
        As for ``peers.Barenet``.
    """

    name = "pytorch-cuda-graph"

    def __init__(self, batch_size, seed=0, sizes=SIZES):
        super().__init__(batch_size, seed, sizes)
        torch = self.torch
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, capturable=True)
        self.static_x = torch.zeros(batch_size, sizes[0], device="cuda")
        self.static_y = torch.zeros(batch_size, dtype=torch.int64, device="cuda")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
            for _ in range(3):
                super()._step(self.static_x, self.static_y)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.loss(self.model(self.static_x), self.static_y).backward()
            self.optimizer.step()

    def _step(self, xb, yb):
        if len(xb) != self.batch_size:
            return super()._step(xb, yb)
        self.static_x.copy_(xb)
        self.static_y.copy_(yb)
        self.graph.replay()


def cuda_synchronize():
    """Wait for the current CUDA device to finish its queued work (through CuPy)."""
    import cupy
    cupy.cuda.Device().synchronize()


def gpu_missing(name):
    """Return why a GPU system cannot run here, or None.

    barenet-cupy: the cupy backend's error, if it cannot start; the PyTorch systems: whether
    PyTorch sees a CUDA device.
    """
    if name == "barenet-cupy":
        try:
            with using_backend("cupy"):
                return None
        except (ImportError, RuntimeError) as error:
            return str(error)
    import torch
    return None if torch.cuda.is_available() else "PyTorch sees no CUDA device"
