"""Sparse input: ``scipy.sparse`` matrices (text features, one-hot columns) as a data set.

Only the first ``Dense`` layer ever sees one: ``Y = X W + b`` and ``dW = Xᵀ dY`` are scipy's
sparse-times-dense products, whose results are dense, so nothing after that layer knows the
input was sparse and the data set is never turned into a dense array.

barenet does not import scipy: a matrix is sparse when ``scipy.sparse``, imported by whoever
made the matrix, says so.
"""
from __future__ import annotations

import sys

__all__ = ["is_sparse", "SparseRows"]


def is_sparse(x) -> bool:
    """Return whether ``x`` is a scipy sparse matrix or array (or rows of one, ``SparseRows``)."""
    if isinstance(x, SparseRows):
        return True
    module = sys.modules.get("scipy.sparse")
    return module is not None and module.issparse(x)


class SparseRows:
    """A sparse matrix as a data set of rows, as the training loop reads arrays.

    ``len(rows)`` (which scipy refuses), ``rows[indices]`` and ``rows[start:stop]`` (a CSR matrix of
    those rows), ``shape`` and ``dtype``. It holds the matrix in CSR form, whose rows are cheap to
    take.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array
        The data, one row per sample.
    """

    def __init__(self, matrix):
        self.matrix = matrix.tocsr()

    def __len__(self):
        return self.matrix.shape[0]

    def __getitem__(self, rows):
        return self.matrix[rows]

    @property
    def shape(self):
        """(samples, features)."""
        return self.matrix.shape

    @property
    def dtype(self):
        """The dtype of the stored values."""
        return self.matrix.dtype

    def __repr__(self):
        return f"SparseRows({self.shape[0]} × {self.shape[1]}, {self.matrix.nnz:,} stored values, {self.dtype})"
