"""Synthetic data sets whose truth is known: seeded, and small enough to train on in seconds.

X is float32 (n, features); classification labels are int64, regression targets float32.
"""
from __future__ import annotations

import math

import numpy as np

from ...core.checks import positive_int

__all__ = ["make_blobs", "make_clusters", "GaussianClusters", "make_regression", "regression_function",
           "make_moons", "make_spirals", "make_xor"]


def _number(value, name, low=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise ValueError(f"{name} must be a number >= {low}, got {value!r}")
    return float(value)


class GaussianClusters:
    """A mixture of Gaussians in the plane: class k has prior wₖ and density N(means[k], covariances[k]).

    Knowing the densities gives the best possible classifier, the Bayes rule argmaxₖ wₖ pₖ(x), and
    its accuracy.

    Parameters
    ----------
    means : array (classes, 2)
        At least two classes.
    covariances : array (classes, 2, 2)
        Symmetric positive definite.
    weights : array (classes,), optional
        The priors wₖ, summing to 1 (equal by default).
    """

    def __init__(self, means, covariances, weights=None):
        self.means = np.asarray(means, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        k = len(self.means)
        if self.means.ndim != 2 or self.means.shape[1] != 2 or k < 2:
            raise ValueError(f"means must have shape (classes >= 2, 2), got {self.means.shape}")
        if self.covariances.shape != (k, 2, 2):
            raise ValueError(f"covariances must have shape ({k}, 2, 2), got {self.covariances.shape}")
        if not np.allclose(self.covariances, self.covariances.transpose(0, 2, 1)):
            raise ValueError("covariances must be symmetric")
        if np.any(np.linalg.eigvalsh(self.covariances) <= 0):
            raise ValueError("covariances must be positive definite")
        self.weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
        if self.weights.shape != (k,) or np.any(self.weights < 0) or not np.isclose(self.weights.sum(), 1.0):
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1, got {weights!r}")

    def sample(self, n: int, rng: np.random.Generator):
        """Return ``n`` points drawn from the mixture: X float32 (n, 2), y int64, by ``rng``."""
        y = rng.choice(len(self.means), size=n, p=self.weights)
        noise = rng.standard_normal((n, 2))
        X = self.means[y] + np.einsum("nij,nj->ni", np.linalg.cholesky(self.covariances)[y], noise)
        return X.astype(np.float32), y.astype(np.int64)

    def log_joint(self, X) -> np.ndarray:
        """Return log wₖ + log pₖ(x) for every row of X and every class: shape (n, classes)."""
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((len(X), len(self.means)))
        for k, (mean, cov, w) in enumerate(zip(self.means, self.covariances, self.weights)):
            diff = X - mean
            mahalanobis = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
            out[:, k] = math.log(w) - 0.5 * mahalanobis - 0.5 * math.log(np.linalg.det(2 * math.pi * cov))
        return out

    def bayes_predict(self, X) -> np.ndarray:
        """Return the Bayes rule's class for every row of X: argmaxₖ wₖ pₖ(x)."""
        return self.log_joint(X).argmax(axis=1)

    def bayes_accuracy(self, resolution: int = 1200) -> float:
        """Return the Bayes classifier's expected accuracy, ∫ maxₖ wₖ pₖ(x) dx.

        Integrated on a grid of ``resolution`` × ``resolution`` points that covers every cluster to 9
        standard deviations.
        """
        spread = 9 * np.sqrt(np.linalg.eigvalsh(self.covariances).max())
        low, high = self.means.min(axis=0) - spread, self.means.max(axis=0) + spread
        xs = np.linspace(low[0], high[0], resolution)
        ys = np.linspace(low[1], high[1], resolution)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        best = np.exp(self.log_joint(grid).max(axis=1))
        return float(best.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]))


# The three overlapping clusters of the tutorials (Bayes-optimal accuracy 96%), tilted so that
# the boundaries are not axis-aligned.
THREE_CLUSTERS = dict(
    means=[(0.0, 0.0), (3.6, 0.6), (1.2, 3.4)],
    covariances=[[[1.0, 0.3], [0.3, 0.6]], [[0.7, -0.2], [-0.2, 0.9]], [[0.8, 0.0], [0.0, 0.8]]],
)


def make_clusters(n_samples: int = 1500, means=None, covariances=None, weights=None, seed=None,
                  return_model: bool = False):
    """Return Gaussian clusters in 2-D: ``X, y`` (by default the tutorials' three overlapping ones).

    Parameters
    ----------
    n_samples : int, default 1500
        The points.
    means, covariances, weights : optional
        As for ``GaussianClusters``; by default the tutorials' (Bayes-optimal accuracy 96%).
    seed : int, optional
        Seeds the draw.
    return_model : bool, default False
        Also return the ``GaussianClusters`` that generated them, which knows the Bayes-optimal
        accuracy.
    """
    n_samples = positive_int(n_samples, "n_samples")
    model = GaussianClusters(THREE_CLUSTERS["means"] if means is None else means,
                             THREE_CLUSTERS["covariances"] if covariances is None else covariances, weights)
    X, y = model.sample(n_samples, np.random.default_rng(seed))
    return (X, y, model) if return_model else (X, y)


def make_blobs(n_samples: int = 300, centers=3, n_features: int = 2, cluster_std: float = 1.0,
               center_box=(-10.0, 10.0), seed=None):
    """Return isotropic Gaussian blobs, as scikit-learn's: ``X, y``; classes get equal shares.

    Parameters
    ----------
    n_samples : int, default 300
        The points.
    centers : int or array (classes, features), default 3
        A count (drawn uniformly in ``center_box``) or the centers themselves.
    n_features : int, default 2
        The dimension, for drawn centers.
    cluster_std : float, default 1.0
        Each blob's standard deviation.
    center_box : (float, float), default (-10.0, 10.0)
        Where drawn centers lie.
    seed : int, optional
        Seeds the draw.
    """
    n_samples = positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        n_features = positive_int(n_features, "n_features")
        centers = rng.uniform(center_box[0], center_box[1], size=(positive_int(centers, "centers"), n_features))
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2:
        raise ValueError(f"centers must be a count or an array (classes, features), got shape {centers.shape}")
    std = _number(cluster_std, "cluster_std")
    y = np.arange(n_samples) % len(centers)
    rng.shuffle(y)
    X = centers[y] + std * rng.standard_normal((n_samples, centers.shape[1]))
    return X.astype(np.float32), y.astype(np.int64)


def regression_function(X) -> np.ndarray:
    """Return the noise-free target of ``make_regression`` for every row of X.

    A smooth function of the first six features, f(x) = sin(2x₀) + x₁x₂ + ½x₃² + tanh(2x₄) - ½x₅
    (further features are irrelevant).
    """
    X = np.asarray(X, dtype=np.float64)
    return np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 + np.tanh(2 * X[:, 4]) - 0.5 * X[:, 5]


def make_regression(n_samples: int = 2000, n_features: int = 8, noise: float = 0.5, seed=None,
                    return_info: bool = False):
    """Return a tabular regression problem with a known answer: ``X, y``.

    Features uniform in [-2, 2], target y = f(x) + ε with f = ``regression_function`` and
    ε ~ N(0, noise²). No model can beat a test MSE of noise² (the noise floor).

    Parameters
    ----------
    n_samples : int, default 2000
        The rows.
    n_features : int, default 8
        At least 6 (the target uses six).
    noise : float, default 0.5
        The noise's standard deviation.
    seed : int, optional
        Seeds the draw.
    return_info : bool, default False
        Also return ``{"noise_variance": noise², "function": regression_function}``.
    """
    n_samples = positive_int(n_samples, "n_samples")
    n_features = positive_int(n_features, "n_features")
    if n_features < 6:
        raise ValueError(f"n_features must be at least 6 (the target uses six), got {n_features}")
    sigma = _number(noise, "noise")
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n_samples, n_features))
    y = regression_function(X) + sigma * rng.standard_normal(n_samples)
    X, y = X.astype(np.float32), y.astype(np.float32)
    return (X, y, {"noise_variance": sigma ** 2, "function": regression_function}) if return_info else (X, y)


def make_moons(n_samples: int = 200, noise: float = 0.1, seed=None):
    """Return two interleaving half circles, ``X, y``, for decision-boundary pictures (``noise``: the std)."""
    n_samples = positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    t = rng.uniform(0, math.pi, n_samples)
    X = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    X += _number(noise, "noise") * rng.standard_normal(X.shape)
    return X.astype(np.float32), y.astype(np.int64)


def make_spirals(n_samples: int = 300, classes: int = 3, noise: float = 0.2, turns: float = 1.0, seed=None):
    """Return ``classes`` interleaved spiral arms of ``turns`` turns, ``X, y``: not separable by any linear model."""
    n_samples = positive_int(n_samples, "n_samples")
    classes = positive_int(classes, "classes")
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % classes
    r = rng.uniform(0.05, 1.0, n_samples)
    angle = 2 * math.pi * (turns * r + y / classes) + _number(noise, "noise") * rng.standard_normal(n_samples)
    X = np.c_[r * np.cos(angle), r * np.sin(angle)]
    return X.astype(np.float32), y.astype(np.int64)


def make_xor(n_samples: int = 200, noise: float = 0.15, seed=None):
    """Return points around the four corners (±1, ±1), labelled 1 where the signs differ: ``X, y``.

    The XOR problem, which no single-layer network can learn; ``noise`` is the points' standard
    deviation around their corner.
    """
    n_samples = positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(seed)
    corners = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    which = np.arange(n_samples) % 4
    X = corners[which] + _number(noise, "noise") * rng.standard_normal((n_samples, 2))
    y = np.array([0, 1, 1, 0])[which]
    return X.astype(np.float32), y.astype(np.int64)
